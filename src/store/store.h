/*
 * store.h — the node's storage: typed domain operations behind one opaque
 * handle, with interchangeable backends.
 *
 * Call sites never see SQL. They lodge a declaration, append an event to a
 * movement's log, read a movement, list movements, register and read
 * guarantees, add and find access tokens, and exchange messages with other
 * nodes through a transactional outbox and an idempotent inbox (messages a
 * state change causes commit in the same transaction as the change; a
 * received message is applied once, in order). A backend (SQLite today,
 * PostgreSQL later) implements the same operations behind an ops table
 * (struct kv_store_backend_ops, at the end of this file), in the manner of
 * OpenSMTPD's queue backends; kv_store_open picks it by name.
 *
 * Durability: a write operation returns 0 only after the transaction that
 * holds it has been committed and synced to disk. Writes are group-committed:
 * one writer thread owns the write connection, takes every operation queued
 * (up to cfg->max_batch), runs each in its own savepoint inside one
 * transaction, commits once and then wakes each caller with its own result.
 * Reads use separate connections and never wait for the writer.
 *
 * Threads: every operation may be called from any number of threads at
 * once, except kv_store_open and kv_store_close.
 *
 * Errors: 0 or a negative code — the KV_E* of core/err.h plus the store's own
 * below. Every operation takes a `detail` buffer of KV_STORE_DETAIL_MAX bytes
 * (may be NULL) that receives one line of English saying what went wrong.
 *
 * Amounts are exact: int64 minor units (2 decimals: 12345 = 123.45) with a
 * three-letter currency code; never floating point.
 */
#ifndef KV_STORE_STORE_H
#define KV_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/ident.h"

/* Store-specific error codes (the lead may fold them into core/err.h). */
enum kv_store_err {
    KV_ECONFLICT = -30,  /* the thing exists with different content (LRN, GRN, token) */
    KV_ESTALE = -31,     /* the movement's log moved on since the caller read it */
    KV_EFUNDS = -32,     /* a guarantee cannot cover the amount (unknown, currency, short) */
    KV_ECORRUPT = -33,   /* an integrity or consistency check failed */
    KV_EVERSION = -34,   /* the database schema is newer than this program */
    KV_EBUSY = -35,      /* the database is in use by another process */
    KV_ECLOSED = -36,    /* the store is closing and takes no more work */
    KV_EDUPLICATE = -37, /* inbox: this message was applied (or parked) before */
    KV_EORDER = -38      /* inbox/outbox: a predecessor in the message's stream is missing */
};

/* Returns a static, never-NULL description of a store or core error code. */
const char *kv_store_strerror(int err);

/* Limits (bytes include the terminating NUL where a size is an array size). */
#define KV_STORE_DETAIL_MAX     256                /* size of every detail buffer */
#define KV_STORE_PARTY_MAX      36                 /* party id (EORI, TIN): up to 35 characters */
#define KV_STORE_LRN_MAX        23                 /* LRN: an..22 */
#define KV_STORE_OFFICE_MAX     9                  /* customs office reference: 8 characters */
#define KV_STORE_GRN_MAX        25                 /* GRN, with an optional voucher: up to 24 */
#define KV_STORE_CURRENCY_MAX   4                  /* ISO 4217 alpha-3 */
#define KV_STORE_STATE_MAX      24                 /* a state name, e.g. "under_control" */
#define KV_STORE_EVENT_TYPE_MAX 32                 /* an event type name */
#define KV_STORE_TIME_MAX       40                 /* RFC 3339 text */
#define KV_STORE_ROLE_MAX       24                 /* an actor or token role */
#define KV_STORE_LABEL_MAX      65                 /* a token label */
#define KV_STORE_MASS_MAX       32                 /* gross mass as decimal text */
#define KV_STORE_CURSOR_MAX     48                 /* a list cursor */
#define KV_STORE_PATH_MAX       4096               /* the data folder */
#define KV_STORE_JSON_MAX       (4u << 20)         /* a declaration or event JSON document */
#define KV_STORE_GUARANTEES_MAX 32                 /* guarantee uses per declaration */
#define KV_STORE_OFFICES_MAX    24                 /* further declared offices per declaration */
#define KV_STORE_LIST_MAX       500                /* movements per list page */
#define KV_STORE_AMOUNT_MAX     1000000000000000LL /* 10^15 minor units */
#define KV_STORE_STATES_MAX     16
#define KV_STORE_HASH_LEN       32 /* BLAKE2b-256 */
/* Exchange between nodes (outbox and inbox). */
#define KV_STORE_MSG_ID_LEN     32         /* message id: 32 lower-case hex characters */
#define KV_STORE_KIND_MAX       16         /* message kind, e.g. "CD050C": [A-Za-z0-9_], 1-15 */
#define KV_STORE_ENVELOPE_MAX   (1u << 20) /* envelope bytes (the signed HTTP body) */
#define KV_STORE_SIGNATURE_MAX  512        /* the Kervan-Signature header value */
#define KV_STORE_ERROR_MAX      256        /* the last delivery error kept per stream */
#define KV_STORE_OUT_MAX        32         /* outgoing messages per lodge / append / inbox apply */
#define KV_STORE_ENQUEUE_MAX    1024       /* messages per kv_store_outbox_enqueue */
#define KV_STORE_SETTLE_MAX     1024       /* results per kv_store_outbox_settle */
#define KV_STORE_DUE_MAX        4096       /* messages per kv_store_outbox_due */
#define KV_STORE_PEERS_MAX      64         /* receivers in a backlog report */
#define KV_STORE_PARKED_MAX     256        /* early messages parked per (sender, MRN) */
#define KV_STORE_PARK_AHEAD_MAX 4096       /* how far past the next expected seq one may park */

/* ---------------------------------------------------------------------------
 * Opening and closing
 */

struct kv_store;

struct kv_store_config {
    const char *backend; /* "sqlite" (NULL means "sqlite") */
    const char *path;    /* the data folder; created (0700) when missing. The
                            SQLite database is PATH/kervan.db */
    const char *country; /* this node's ISO 3166 alpha-2 code, upper case; it
                            is recorded at creation and must match afterwards.
                            NULL: open an existing store with the country
                            recorded in it (KV_ENOTFOUND if there is none) */
    unsigned max_batch;  /* write operations per commit; 0 = 256. 1 = one
                            transaction per operation (for measurement) */
    unsigned readers;    /* read connections in the pool; 0 = 4 */
};

/*
 * Opens (creating or migrating if needed) the store described by cfg and
 * starts its writer thread. On success *out is the handle, to be closed with
 * kv_store_close. Errors: KV_EINVAL (bad config, unknown backend, country
 * differs from the one recorded), KV_ENOTFOUND (no country given and no
 * store in the folder), KV_EBUSY (another process has the database
 * open), KV_EVERSION (schema newer than this program), KV_EIO, KV_ENOMEM;
 * detail says which.
 */
int kv_store_open(const struct kv_store_config *cfg, struct kv_store **out, char *detail);

/* The node's country the store belongs to (two letters; valid until close). */
const char *kv_store_country(const struct kv_store *s);

/*
 * Stops taking work, lets the writer finish what is queued, stops it and
 * closes every connection. NULL is a no-op. No other call on the store may
 * be running or start during or after kv_store_close.
 */
void kv_store_close(struct kv_store *s);

/*
 * BLAKE2b-256 of len bytes (libsodium crypto_generichash, no key): the hash
 * of a declaration as kv_store_lodge expects it. Thread-safe.
 */
void kv_store_hash(const void *buf, size_t len, uint8_t out[KV_STORE_HASH_LEN]);

/* ---------------------------------------------------------------------------
 * Movements
 */

/*
 * The chain fields of one event (docs/exchange.md, "The event chain"): who
 * recorded it and signed it where it happened (node, keyid, sig over the
 * event's origin digest), and its place in the movement's log as the
 * owner ordered it (link = H(previous link || record), order_keyid and
 * order_sig: the owner's signature over link). An event recorded at a
 * replica and not yet ordered by the owner (a pending event) has no link:
 * has_link false, and link / order_* are ignored.
 */
#define KV_STORE_KEYID_MAX 40 /* key fingerprint "xxxx:...:xxxx" (39) + NUL */
#define KV_STORE_SIG_LEN   64 /* Ed25519 signature */
struct kv_event_seal {
    char node[3];                         /* country where it happened */
    char keyid[KV_STORE_KEYID_MAX];       /* that node's key fingerprint */
    uint8_t sig[KV_STORE_SIG_LEN];        /* that node's signature over the origin digest */
    bool has_link;                        /* ordered by the owner (false: pending) */
    uint8_t link[KV_STORE_HASH_LEN];      /* link_i */
    char order_keyid[KV_STORE_KEYID_MAX]; /* the owner's key fingerprint */
    uint8_t order_sig[KV_STORE_SIG_LEN];  /* the owner's signature over link_i */
};

/* One event as written to a movement's log. Every string is copied. */
struct kv_event_in {
    const char *type;       /* event type name, [a-z_]+ (e.g. "lodged", "release") */
    const char *time;       /* RFC 3339 text as given */
    int64_t epoch;          /* the same time in epoch seconds */
    const char *office;     /* office where it happened (8 characters) or NULL */
    const char *actor_role; /* who did it: role ... */
    const char *actor_id;   /* ... and party id or office ref (may be NULL) */
    const char *json;       /* the event as JSON text (kv_event_to_json) */
    size_t json_len;
    /* Its chain fields (copied), or NULL for an unsealed event (tests and
     * stores written before schema 3; the node always seals). Appended to
     * a movement's log, a seal must have has_link; see kv_store_pending_add
     * for events without one. */
    const struct kv_event_seal *seal;
};

/*
 * Seals the first event of a lodge once its MRN is known (the record the
 * link covers names it). Runs on the store's writer thread inside the
 * lodge's transaction: quick, must not call the store. prev is link_0 =
 * the lodge's hash. Fills *out (with has_link). Returns 0 or a negative
 * KV_E* that fails the lodge.
 */
typedef int kv_event_seal_fn(void *ctx, const char *mrn, const struct kv_event_in *ev,
                             const uint8_t prev[KV_STORE_HASH_LEN], struct kv_event_seal *out);

/* One guarantee use of a declaration: reserve `amount` of `grn`. */
struct kv_guarantee_use {
    const char *grn;
    int64_t amount;       /* minor units, > 0 */
    const char *currency; /* must be the guarantee's currency */
};

/*
 * One message for another node, put in the outbox in the same transaction as
 * the operation that carries it. Messages travel in streams, one per
 * (receiver, MRN): seq numbers a stream's messages 1, 2, 3 ... without gaps,
 * and a message's seq must be the stream's last enqueued seq + 1
 * (kv_store_outbox_seq), else the whole operation fails with KV_ESTALE and
 * nothing is written. The outbox delivers each stream in seq order. Every
 * string and the envelope are copied.
 */
struct kv_outmsg {
    const char *id;       /* KV_STORE_MSG_ID_LEN lower-case hex characters, unique */
    const char *receiver; /* the receiving node's country (not this node's) */
    const char *kind;     /* e.g. "CD050C" */
    const char *mrn;      /* the movement it is about (18 characters [A-Z0-9]) */
    uint32_t seq;         /* its place in the (receiver, mrn) stream, from 1 */
    const void *envelope; /* the exact bytes to POST (1 to KV_STORE_ENVELOPE_MAX) */
    size_t envelope_len;
    const char *signature; /* Kervan-Signature header value, or NULL / "" to have
                              the delivery worker sign at each send */
};

/*
 * Builds the outgoing messages of a lodge once its MRN is known (the
 * envelopes name it). Runs on the store's writer thread inside the lodge's
 * transaction: it must be quick and must not call the store. Fills msgs[0..n)
 * (at most `max`); the pointers must stay valid until kv_store_lodge returns.
 * Returns 0, or a negative KV_E* that fails the lodge (nothing is written).
 */
typedef int kv_outmsg_build_fn(void *ctx, const char *mrn, struct kv_outmsg *msgs, size_t max,
                               size_t *n);

/*
 * A received message, as the inbox records it. The store keeps the envelope
 * and its signature (the sender's signed evidence) and BLAKE2b-256 of the
 * envelope, which tells a replay (same id, same bytes) from a forgery (same
 * id, other bytes). Messages of one (sender, MRN) stream are applied in seq
 * order, each once. Every string and the envelope are copied.
 */
struct kv_inbox_in {
    const char *id;     /* KV_STORE_MSG_ID_LEN lower-case hex characters */
    const char *sender; /* the sending node's country */
    const char *kind;
    const char *mrn;
    uint32_t seq; /* from 1 */
    const void *envelope;
    size_t envelope_len;
    const char *signature; /* the header value as received (may be NULL) */
};

/* What kv_store_lodge takes. Every string is copied. */
struct kv_lodge {
    const char *holder;      /* holder of the transit procedure (party id) */
    const char *lrn;         /* the holder's local reference number */
    const char *declaration; /* declaration JSON, canonical bytes */
    size_t declaration_len;
    uint8_t hash[KV_STORE_HASH_LEN]; /* kv_store_hash(declaration); checked */
    const char *office_departure;    /* must be of this node's country */
    const char *office_destination;
    const char *const *offices; /* further declared offices (transit, exit) */
    size_t n_offices;
    int security; /* security indicator 0–3: chooses the MRN's procedure letter */
    int year;     /* full year for the MRN, 2000–2099 */
    const struct kv_guarantee_use *guarantees;
    size_t n_guarantees;
    struct kv_event_in event; /* the first event: type "lodged" */
    const char *state;        /* the movement's initial state ("accepted") */
    unsigned flags;           /* its initial flags */
    int64_t created;          /* acceptance time, epoch seconds; 0 = now */
    int64_t limit_date;       /* time limit for arrival, epoch seconds, or 0 */
    const char *gross_mass;   /* decimal text for summaries, or NULL */
    /* Optional outgoing messages, enqueued in the lodge's transaction: a
     * fixed list (out, n_out), and/or those build_out makes once the MRN is
     * allocated. At most KV_STORE_OUT_MAX in all. A replay enqueues nothing. */
    const struct kv_outmsg *out;
    size_t n_out;
    kv_outmsg_build_fn *build_out;
    void *build_ctx;
    /* Optional: seals the first event (event.seal is then ignored). */
    kv_event_seal_fn *seal_first;
    void *seal_ctx;
};

/* Why a guarantee could not cover a declaration (with KV_EFUNDS). */
enum kv_funds_why {
    KV_FUNDS_NONE = 0,
    KV_FUNDS_UNKNOWN,  /* the GRN is not registered */
    KV_FUNDS_CURRENCY, /* the use's currency is not the guarantee's */
    KV_FUNDS_SHORT     /* remaining < requested */
};

struct kv_funds_problem {
    enum kv_funds_why why;
    char grn[KV_STORE_GRN_MAX];
    char currency[KV_STORE_CURRENCY_MAX]; /* the guarantee's currency */
    int64_t remaining;                    /* reference − reserved, minor units */
    int64_t requested;                    /* the declaration's total for this GRN */
};

struct kv_lodge_result {
    char mrn[KV_MRN_LEN + 1];      /* the movement (also set with KV_ECONFLICT) */
    bool replay;                   /* the same declaration was lodged before */
    struct kv_funds_problem funds; /* filled with KV_EFUNDS */
};

/*
 * Lodges a declaration in one transaction. If (holder, LRN) exists: with
 * the same hash as first lodged, returns 0 with the existing MRN and
 * out->replay = true (nothing written); with another hash, KV_ECONFLICT
 * (out->mrn names the movement that holds the LRN). Otherwise every
 * guarantee use is checked (uses of one GRN are summed): registered, same
 * currency, remaining ≥ requested — else KV_EFUNDS with out->funds and a
 * detail giving the GRN and both figures. Then allocates the next MRN serial
 * of in->year, builds the MRN with kv_mrn_make (this node's country,
 * in->security), and inserts the movement, its first event (seq 1) and the
 * reservations, and enqueues its outgoing messages (in->out, then those of
 * in->build_out). Returns 0 only once that is committed and synced.
 * Errors: KV_EINVAL (an input out of its contract, hash mismatch, a built
 * message out of contract), KV_ECONFLICT (LRN, or a message id already in
 * the outbox), KV_ESTALE (a message's seq is not next in its stream),
 * KV_EFUNDS, KV_EIO, KV_ECLOSED, or build_out's own error.
 */
int kv_store_lodge(struct kv_store *s, const struct kv_lodge *in, struct kv_lodge_result *out,
                   char *detail);

/* What kv_store_append takes. Every string is copied. */
struct kv_append {
    struct kv_event_in event;
    const char *state; /* the movement's state after this event (the caller's fold) */
    unsigned flags;    /* its flags after this event */
    /* Amendment only (else NULL): the new declaration and its hash. An
     * amendment may not change guarantee uses; the caller refuses one that
     * does (the reservations stay those of the lodged declaration). */
    const char *declaration;
    size_t declaration_len;
    const uint8_t *hash; /* KV_STORE_HASH_LEN bytes, kv_store_hash(declaration) */
    /* When set_limit_date: the movement's new time limit for arrival (epoch
     * seconds, 0 = none), e.g. fixed at release when the declaration gave no
     * limit date, or changed by an amendment. Otherwise it stays as it is. */
    bool set_limit_date;
    int64_t limit_date;
    /* Amendment only: the new gross mass for summaries (decimal text, "" for
     * none); NULL leaves it as it is. */
    const char *gross_mass;
    /* Optional outgoing messages (at most KV_STORE_OUT_MAX), enqueued in the
     * same transaction as the event. */
    const struct kv_outmsg *out;
    size_t n_out;
    /* Optional: this event applies a received message. The inbox records it
     * in the same transaction, so the event and "message applied" commit
     * together or not at all; see kv_store_inbox_apply for the checks (done
     * before anything else: a duplicate appends nothing). */
    const struct kv_inbox_in *inbox;
};

/*
 * Appends one event to the movement's log with seq = expected_seq + 1 and
 * stores the new state and flags (and the limit date when ev->set_limit_date),
 * in one transaction. When the new state is
 * "written_off" or "cancelled", the movement's guarantee reservations are
 * released. With an amendment, replaces the stored declaration and hash
 * (an idempotent re-lodge still compares with the first hash). With
 * ev->out, the messages are enqueued in the same transaction; with
 * ev->inbox, the received message is recorded as applied in it.
 * Errors: KV_ENOTFOUND (no such MRN), KV_ESTALE (the log's last seq is not
 * expected_seq, or an outgoing message's seq is not next in its stream:
 * re-read, re-check, retry), KV_EDUPLICATE / KV_EORDER / KV_ECONFLICT (from
 * the inbox check, see kv_store_inbox_apply), KV_EINVAL, KV_EIO, KV_ECLOSED.
 */
int kv_store_append(struct kv_store *s, const char *mrn, uint32_t expected_seq,
                    const struct kv_append *ev, char *detail);
/*
 * (Schema 3 additions to kv_store_append.) On a replica (a movement whose
 * MRN names another country), an appended event whose seal's node is this
 * node's country and whose seal.sig equals a pending event's removes that
 * pending event in the same transaction (the owner has ordered it). An
 * event with a seal must have seal->has_link (KV_EINVAL), and an event
 * appended to a replica must have a seal (KV_EINVAL).
 */

/*
 * Creates or refreshes the copy of another node's movement (a replica), in
 * one transaction with the inbox record of the message that brought it and
 * the messages it causes. A new replica is inserted with its whole log
 * (events 1..n, each sealed with a link). An existing replica is refreshed:
 * its events 1..m must be the message's first m (same links; else
 * KV_ECONFLICT and nothing changes — also when the message has fewer than m
 * events, or another link0), events m+1..n are appended (removing
 * pending events they order, as kv_store_append), and its declaration,
 * state, flags, limit date and gross mass are replaced. A replica takes no
 * guarantee reservation and is not subject to the (holder, LRN) uniqueness
 * of lodged movements; it counts in kv_store_stats and appears in
 * kv_store_list like an own movement. The inbox record is checked first: a
 * duplicate changes nothing. Errors: KV_EINVAL (out of contract, the MRN names
 * this node's country, or a movement of this node exists with it),
 * KV_ECONFLICT, the inbox's errors (see kv_store_inbox_apply), KV_ESTALE (an
 * outgoing seq), KV_EIO, KV_ECLOSED.
 */
#define KV_STORE_REPLICA_EVENTS_MAX 4096 /* events in one kv_replica */
struct kv_replica {
    const char *mrn;
    const char *holder;
    const char *lrn;
    const char *declaration; /* the current declaration, canonical bytes */
    size_t declaration_len;
    uint8_t hash[KV_STORE_HASH_LEN];  /* kv_store_hash(declaration); checked */
    uint8_t link0[KV_STORE_HASH_LEN]; /* the hash of the declaration as first lodged */
    const char *office_departure;     /* of the MRN's country */
    const char *office_destination;
    const char *const *offices; /* further declared offices */
    size_t n_offices;
    int security;
    const struct kv_event_in *events; /* the log 1..n_events in order, each sealed */
    size_t n_events;
    const char *state; /* after the last event (the caller's fold) */
    unsigned flags;
    int64_t created;                 /* acceptance time at the owner, epoch seconds */
    int64_t limit_date;              /* epoch seconds or 0 */
    const char *gross_mass;          /* or NULL */
    const struct kv_inbox_in *inbox; /* the message that brought it; required */
    const struct kv_outmsg *out;     /* optional messages (at most KV_STORE_OUT_MAX) */
    size_t n_out;
};
int kv_store_replica_put(struct kv_store *s, const struct kv_replica *r, char *detail);

/*
 * Records an event that happened at this node on a replica, before the
 * owner has ordered it (a pending event: ev->seal set, has_link false),
 * with the messages that carry it to the owner, in one transaction. The
 * movement's log must still end at expected_seq and it must still have
 * expected_pending pending events (else KV_ESTALE: re-read, re-check,
 * retry); the movement's state and flags are set to `state` / `flags` (the
 * fold of its log and pending events). The seal's node must be this node's
 * country (the event happened here). Errors: KV_ENOTFOUND, KV_EINVAL (not
 * a replica or an MRN of this node, no seal, a seal with a link or of
 * another node), KV_ESTALE, KV_EIO, KV_ECLOSED.
 */
int kv_store_pending_add(struct kv_store *s, const char *mrn, uint32_t expected_seq,
                         uint32_t expected_pending, const struct kv_event_in *ev, const char *state,
                         unsigned flags, const struct kv_outmsg *out, size_t n_out, char *detail);

/*
 * The owner records that `country` holds a copy of its movement `mrn`
 * because office `office` met it (an AAR/ATR request of kind `kind`), in
 * one transaction with the request's inbox record and the answer (out).
 * Adding a country already recorded keeps the first record (the claim and
 * the answer are still recorded). `claim` may be NULL; `office` must be of
 * `country` (its first two letters). Errors:
 * KV_ENOTFOUND (no such movement), KV_EINVAL (a replica, or this node's
 * own country), the inbox's errors, KV_ESTALE (an outgoing seq), KV_EIO,
 * KV_ECLOSED.
 */
int kv_store_peer_add(struct kv_store *s, const char *mrn, const char *country, const char *office,
                      const char *kind, const struct kv_inbox_in *claim,
                      const struct kv_outmsg *out, size_t n_out, char *detail);

/* A movement as listed. */
struct kv_movement_summary {
    char mrn[KV_MRN_LEN + 1];
    char lrn[KV_STORE_LRN_MAX];
    char holder[KV_STORE_PARTY_MAX];
    char state[KV_STORE_STATE_MAX];
    unsigned flags;
    char office_departure[KV_STORE_OFFICE_MAX];
    char office_destination[KV_STORE_OFFICE_MAX];
    int64_t created;    /* epoch seconds */
    int64_t limit_date; /* epoch seconds or 0 */
    char gross_mass[KV_STORE_MASS_MAX];
    uint32_t seq; /* seq of the last event */
};

/* One event of a movement's log. */
struct kv_event_record {
    uint32_t seq; /* 1 = the "lodged" event */
    char type[KV_STORE_EVENT_TYPE_MAX];
    char time[KV_STORE_TIME_MAX];
    int64_t epoch;
    char office[KV_STORE_OFFICE_MAX];
    char actor_role[KV_STORE_ROLE_MAX];
    char actor_id[KV_STORE_PARTY_MAX];
    char *json; /* NUL-terminated */
    size_t json_len;
    bool sealed;               /* seal holds the chain fields (false: unsealed event) */
    struct kv_event_seal seal; /* pending events: has_link false */
};

/* A country that holds a copy of one of this node's movements without being on
 * its itinerary: one of its offices met the vehicle and asked (AAR/ATR). */
struct kv_movement_peer {
    char country[3];
    char office[KV_STORE_OFFICE_MAX]; /* the office that met it (the reason) */
    char kind[KV_STORE_KIND_MAX];     /* the request's kind, "CD002C" or "CD114C" */
    int64_t since;                    /* epoch seconds */
};

/* One guarantee use of a movement. */
struct kv_guarantee_use_record {
    char grn[KV_STORE_GRN_MAX];
    int64_t amount;
    char currency[KV_STORE_CURRENCY_MAX];
    int64_t released; /* epoch seconds when released, 0 while reserved */
};

struct kv_movement_record {
    struct kv_movement_summary summary;
    char *declaration; /* NUL-terminated JSON (the current, amended one) */
    size_t declaration_len;
    uint8_t hash[KV_STORE_HASH_LEN];
    char (*offices)[KV_STORE_OFFICE_MAX]; /* every declared office */
    size_t n_offices;
    struct kv_event_record *events; /* in seq order */
    size_t n_events;
    struct kv_guarantee_use_record *guarantees;
    size_t n_guarantees;
    /* The exchange (schema 3). */
    bool replica;                     /* a copy of another node's movement */
    uint8_t link0[KV_STORE_HASH_LEN]; /* the hash of the declaration as first lodged */
    struct kv_event_record *pending;  /* replica: events recorded here, not yet
                                         ordered by the owner, in the order recorded
                                         (seq = 1, 2, ... among them) */
    size_t n_pending;
    struct kv_movement_peer *peers; /* owner: countries off the itinerary that
                                       asked for it (kv_store_peer_add) */
    size_t n_peers;
};

/*
 * Reads a movement and its whole log from one consistent snapshot. On
 * success *out is allocated; free it with kv_store_record_free.
 * Errors: KV_ENOTFOUND, KV_EINVAL (not an MRN-shaped string), KV_EIO, KV_ENOMEM.
 */
int kv_store_get(struct kv_store *s, const char *mrn, struct kv_movement_record **out,
                 char *detail);

/* Frees a record from kv_store_get. NULL is a no-op. */
void kv_store_record_free(struct kv_movement_record *r);

/* Filters for kv_store_list; NULL / 0 / false = not filtered. */
struct kv_list_query {
    const char *state;  /* exactly this state */
    const char *office; /* the office of departure or any declared office */
    const char *holder; /* this holder's movements */
    int64_t since;      /* created at or after (epoch seconds) */
    bool overdue;       /* released and limit_date < now */
    int64_t now;        /* the clock for `overdue` (epoch seconds) */
    unsigned limit;     /* 1–500; 0 = 100 */
    const char *cursor; /* from a previous page's next_cursor, or NULL */
};

struct kv_list_page {
    struct kv_movement_summary *items; /* ordered by (created, mrn) ascending */
    size_t n;
    char next_cursor[KV_STORE_CURSOR_MAX]; /* "" when this is the last page */
};

/*
 * Lists movements matching q, oldest first, with keyset pagination on
 * (created, mrn): pass next_cursor back to get the following page. The
 * cursor is opaque text made of [0-9A-Z.] (safe in a URL).
 * On success fills *out; free with kv_store_list_free.
 * Errors: KV_EINVAL (limit > 500, bad cursor or filter), KV_EIO, KV_ENOMEM.
 */
int kv_store_list(struct kv_store *s, const struct kv_list_query *q, struct kv_list_page *out,
                  char *detail);

/* Frees a page's items and empties it. */
void kv_store_list_free(struct kv_list_page *p);

/* ---------------------------------------------------------------------------
 * Guarantees
 */

struct kv_guarantee_reg {
    const char *grn;
    const char *guarantor; /* party id of the guarantor */
    int64_t reference;     /* reference amount, minor units, 0–KV_STORE_AMOUNT_MAX */
    const char *currency;
};

/*
 * Registers a guarantee. Idempotent: the same GRN with the same guarantor,
 * reference amount and currency returns 0 with *created = false (created may
 * be NULL). Errors: KV_ECONFLICT (the GRN exists with other figures),
 * KV_EINVAL, KV_EIO, KV_ECLOSED.
 */
int kv_store_guarantee_register(struct kv_store *s, const struct kv_guarantee_reg *g, bool *created,
                                char *detail);

struct kv_guarantee_info {
    char grn[KV_STORE_GRN_MAX];
    char guarantor[KV_STORE_PARTY_MAX];
    int64_t reference;
    int64_t reserved;  /* sum of the active reservations */
    int64_t remaining; /* reference − reserved */
    char currency[KV_STORE_CURRENCY_MAX];
    uint64_t active_uses; /* movements holding a reservation now */
    uint64_t total_uses;  /* movements that ever used it */
    int64_t created;      /* registration time, epoch seconds */
};

/* Reads a guarantee's ledger. Errors: KV_ENOTFOUND, KV_EINVAL, KV_EIO. */
int kv_store_guarantee_get(struct kv_store *s, const char *grn, struct kv_guarantee_info *out,
                           char *detail);

/* ---------------------------------------------------------------------------
 * Access tokens (the store only ever sees their hash)
 */

struct kv_token {
    char role[KV_STORE_ROLE_MAX];
    char subject[KV_STORE_PARTY_MAX]; /* party id or office ref, "" if none */
    char label[KV_STORE_LABEL_MAX];
    int64_t created;
};

/*
 * Records a token by its hash with a role, the party id or office ref it is
 * bound to (may be NULL) and a label (may be NULL).
 * Errors: KV_ECONFLICT (hash already recorded), KV_EINVAL, KV_EIO, KV_ECLOSED.
 */
int kv_store_token_add(struct kv_store *s, const uint8_t hash[KV_STORE_HASH_LEN], const char *role,
                       const char *subject, const char *label, char *detail);

/* Finds a token by its hash. Errors: KV_ENOTFOUND, KV_EIO. */
int kv_store_token_find(struct kv_store *s, const uint8_t hash[KV_STORE_HASH_LEN],
                        struct kv_token *out, char *detail);

/* ---------------------------------------------------------------------------
 * Exchange: the outbox (messages to other nodes) and the inbox (messages
 * from them). Times here are epoch milliseconds. See docs/storage.md and
 * docs/exchange-delivery.md.
 */

/*
 * Enqueues messages that no state change carries (up to
 * KV_STORE_ENQUEUE_MAX, in one transaction: all or none). Errors as the
 * outbox part of kv_store_append: KV_EINVAL, KV_ESTALE (a seq is not next in
 * its stream), KV_ECONFLICT (an id already in the outbox), KV_EIO, KV_ECLOSED.
 */
int kv_store_outbox_enqueue(struct kv_store *s, const struct kv_outmsg *msgs, size_t n,
                            char *detail);

/* The last seq enqueued in the (receiver, mrn) stream into *last (0 when the
 * stream is empty): the next message gets *last + 1. Errors: KV_EINVAL, KV_EIO. */
int kv_store_outbox_seq(struct kv_store *s, const char *receiver, const char *mrn, uint32_t *last,
                        char *detail);

/* An outbox message as read back. */
struct kv_outbox_item {
    char id[KV_STORE_MSG_ID_LEN + 1];
    char receiver[3];
    char kind[KV_STORE_KIND_MAX];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    char *envelope; /* malloc'd, NUL-terminated for convenience */
    size_t envelope_len;
    char signature[KV_STORE_SIGNATURE_MAX]; /* "" when the worker signs */
    int64_t created_ms;
    int64_t delivered_ms; /* 0 while pending */
    uint32_t attempts;    /* failed attempts at it so far (while it heads its stream);
                             once delivered, the attempts it took */
    int64_t next_attempt_ms;
    char last_error[KV_STORE_ERROR_MAX];
};

/* Messages due for delivery (kv_store_outbox_due). */
struct kv_outbox_due {
    struct kv_outbox_item *items;
    size_t n;
    int64_t next_at_ms; /* earliest next attempt after now of a stream not
                           returned as due, or 0 when none waits */
};

/*
 * Fills *out with at most `limit` (1-KV_STORE_DUE_MAX) messages to deliver
 * now: each is the head (lowest undelivered seq) of its (receiver, MRN)
 * stream and its stream's next attempt is at or before now_ms — so a
 * message is never due while its predecessor is undelivered. Earliest next
 * attempt first. `receiver` NULL = every receiver. Free with
 * kv_store_outbox_due_free. Errors: KV_EINVAL, KV_EIO, KV_ENOMEM.
 */
int kv_store_outbox_due(struct kv_store *s, int64_t now_ms, const char *receiver, unsigned limit,
                        struct kv_outbox_due *out, char *detail);
void kv_store_outbox_due_free(struct kv_outbox_due *d);

/* One delivery result for kv_store_outbox_settle. */
struct kv_outbox_settle {
    const char *id;
    bool done;               /* acknowledged by the receiver */
    int64_t next_attempt_ms; /* not done: when to try again */
    const char *error;       /* not done: what went wrong (cut to KV_STORE_ERROR_MAX - 1) */
};

/*
 * Records delivery results in one transaction. done: the message is
 * delivered (at now_ms) and the next of its stream becomes due at once;
 * else the stream's failed attempts grow by one and its next attempt is
 * next_attempt_ms. Each result is independent; results[i] (may be NULL)
 * receives 0, or KV_ENOTFOUND (no such message), KV_EORDER (not the head of
 * its stream). A message already delivered is left as it is (0). Returns 0,
 * or KV_EINVAL (bad input; nothing recorded), KV_EIO, KV_ECLOSED.
 */
int kv_store_outbox_settle(struct kv_store *s, const struct kv_outbox_settle *v, size_t n,
                           int64_t now_ms, int *results, char *detail);

/* Shorthands for one result: delivered / to be tried again. */
int kv_store_outbox_done(struct kv_store *s, const char *id, int64_t now_ms, char *detail);
int kv_store_outbox_retry(struct kv_store *s, const char *id, int64_t next_attempt_ms,
                          const char *error, char *detail);

/* Reads one outbox message (with its envelope); free the envelope with
 * kv_store_outbox_item_release. Errors: KV_ENOTFOUND, KV_EINVAL, KV_EIO. */
int kv_store_outbox_get(struct kv_store *s, const char *id, struct kv_outbox_item *out,
                        char *detail);
void kv_store_outbox_item_release(struct kv_outbox_item *it);

/* Undelivered messages of one receiver. */
struct kv_outbox_backlog {
    char receiver[3];
    uint64_t pending;
};

/* The receivers with undelivered messages (at most `max`) into out[0..*n). Errors: KV_EIO. */
int kv_store_outbox_backlog(struct kv_store *s, struct kv_outbox_backlog *out, size_t max,
                            size_t *n, char *detail);

/* Deletes up to `limit` messages delivered before before_ms; *removed (may
 * be NULL) gets the count. Errors: KV_EINVAL, KV_EIO, KV_ECLOSED. */
int kv_store_outbox_prune(struct kv_store *s, int64_t before_ms, unsigned limit, uint64_t *removed,
                          char *detail);

/*
 * Records a received message as applied, with optional outgoing messages it
 * causes (at most KV_STORE_OUT_MAX), in one transaction. For a message whose
 * effect is another store write, put `in` in that write instead
 * (kv_append.inbox), so effect and record commit together.
 * Errors: KV_EDUPLICATE (this id was applied before: nothing changes),
 * KV_EORDER (seq is not the stream's next: its predecessor is missing — park
 * it; detail says which seq is awaited), KV_ECONFLICT (the id is known with
 * other bytes or another sender, or its seq was applied with another id),
 * KV_ESTALE (an outgoing seq), KV_EINVAL, KV_EIO, KV_ECLOSED.
 */
int kv_store_inbox_apply(struct kv_store *s, const struct kv_inbox_in *in,
                         const struct kv_outmsg *out, size_t n_out, char *detail);

/*
 * Parks a message that arrived before its predecessor (seq > next expected),
 * to be applied later (kv_store_inbox_parked_next). *waiting_for (may be
 * NULL) gets the seq the stream waits for. Errors: KV_EDUPLICATE (this id is
 * parked or applied already), KV_ESTALE (not early: seq is the next
 * expected, apply it), KV_ECONFLICT (as for apply; or another id is parked
 * with this seq), KV_ELIMIT (KV_STORE_PARKED_MAX parked in this stream, or
 * seq more than KV_STORE_PARK_AHEAD_MAX ahead), KV_EINVAL, KV_EIO, KV_ECLOSED.
 */
int kv_store_inbox_park(struct kv_store *s, const struct kv_inbox_in *in, uint32_t *waiting_for,
                        char *detail);

enum kv_inbox_state { KV_INBOX_PARKED = 1, KV_INBOX_APPLIED = 2 };

/* An inbox message as read back. */
struct kv_inbox_record {
    char id[KV_STORE_MSG_ID_LEN + 1];
    char sender[3];
    char kind[KV_STORE_KIND_MAX];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    enum kv_inbox_state state;
    uint8_t hash[KV_STORE_HASH_LEN]; /* BLAKE2b-256 of the envelope */
    int64_t received_ms;
    int64_t applied_ms; /* 0 while parked */
    char *envelope;     /* malloc'd (NUL-terminated) or NULL when not asked for */
    size_t envelope_len;
    char signature[KV_STORE_SIGNATURE_MAX];
};

/* Reads what the inbox knows of message `id` (the envelope too when
 * with_envelope). Release with kv_store_inbox_record_release.
 * Errors: KV_ENOTFOUND, KV_EINVAL, KV_EIO, KV_ENOMEM. */
int kv_store_inbox_find(struct kv_store *s, const char *id, bool with_envelope,
                        struct kv_inbox_record *out, char *detail);
void kv_store_inbox_record_release(struct kv_inbox_record *r);

/* The (sender, mrn) stream: last seq applied (0: none) and messages parked.
 * Errors: KV_EINVAL, KV_EIO. */
int kv_store_inbox_last(struct kv_store *s, const char *sender, const char *mrn, uint32_t *applied,
                        uint32_t *parked, char *detail);

/* The parked message that is next to apply in (sender, mrn) — seq = last
 * applied + 1 — with its envelope. Errors: KV_ENOTFOUND (none is), KV_EINVAL,
 * KV_EIO, KV_ENOMEM. */
int kv_store_inbox_parked_next(struct kv_store *s, const char *sender, const char *mrn,
                               struct kv_inbox_record *out, char *detail);

/* A (sender, MRN) stream. */
struct kv_inbox_stream {
    char sender[3];
    char mrn[KV_MRN_LEN + 1];
};

/* The streams whose next message is parked and can be applied now (at most
 * max) into out[0..*n). Errors: KV_EIO. */
int kv_store_inbox_ready(struct kv_store *s, struct kv_inbox_stream *out, size_t max, size_t *n,
                         char *detail);

/* ---------------------------------------------------------------------------
 * Operations
 */

struct kv_store_state_count {
    char state[KV_STORE_STATE_MAX];
    uint64_t count;
};

struct kv_store_stats {
    struct kv_store_state_count states[KV_STORE_STATES_MAX]; /* every known state */
    size_t n_states;
    uint64_t movements;      /* all movements */
    unsigned queue_depth;    /* write operations waiting for the writer now */
    uint64_t commits;        /* transactions committed by the writer */
    uint64_t failed_commits; /* transactions that failed as a whole */
    uint64_t ops;            /* write operations run (in committed batches) */
    double avg_batch;        /* ops / commits */
    unsigned max_batch;      /* the largest batch so far */
};

/* Fills *out for /metrics. Errors: KV_EIO. */
int kv_store_stats(struct kv_store *s, struct kv_store_stats *out, char *detail);

/*
 * Checks the database: PRAGMA integrity_check, foreign keys, and the
 * store's own invariants (each movement's log is 1..seq without gaps, each
 * guarantee's reserved amount equals its active reservations and never
 * exceeds its reference, the per-state counts match; each outbox stream's
 * undelivered messages are exactly seq delivered+1..enqueued and the
 * per-receiver backlog matches; each inbox stream's applied messages are
 * exactly 1..applied and its parked ones lie beyond). Returns 0, or
 * KV_ECORRUPT with the first problem in detail, or KV_EIO.
 */
int kv_store_check(struct kv_store *s, char *detail);

/* The names of the movement states the store accepts (NULL-terminated). */
extern const char *const kv_store_states[];

/* ---------------------------------------------------------------------------
 * Backend interface — for backend implementers only; call sites use the
 * functions above.
 *
 * A backend keeps its own state behind `void *be`. The w_* entries run only
 * on the writer thread (one at a time, on the writer's connection), always
 * between w_begin and w_commit/w_rollback, each operation wrapped in
 * w_savepoint / w_release. They fill detail on error and must leave the
 * open transaction usable after a logical error (KV_ECONFLICT, KV_EFUNDS,
 * KV_ESTALE, KV_ENOTFOUND); w_in_txn reports whether the transaction is
 * still open after an operation (a backend may lose it on I/O errors, in
 * which case the writer fails the whole batch). The read entries may run on
 * any thread concurrently with each other and with the writer. Inputs have
 * been checked against their contracts by store.c before they arrive.
 */
struct kv_store_backend_ops {
    const char *name;
    int (*open)(const struct kv_store_config *cfg, void **be, char *detail);
    void (*close)(void *be);
    const char *(*country)(void *be); /* the country recorded (or given at open) */

    int (*w_begin)(void *be, char *detail);
    int (*w_commit)(void *be, char *detail);
    void (*w_rollback)(void *be);
    bool (*w_in_txn)(void *be);
    int (*w_savepoint)(void *be, char *detail);
    int (*w_release)(void *be, bool undo, char *detail);
    int (*w_lodge)(void *be, const struct kv_lodge *in, int64_t now, struct kv_lodge_result *out,
                   char *detail);
    int (*w_append)(void *be, const char *mrn, uint32_t expected_seq, const struct kv_append *ev,
                    int64_t now, char *detail);
    int (*w_guarantee_register)(void *be, const struct kv_guarantee_reg *g, int64_t now,
                                bool *created, char *detail);
    int (*w_token_add)(void *be, const uint8_t *hash, const char *role, const char *subject,
                       const char *label, int64_t now, char *detail);
    /* The exchange. `hash` is BLAKE2b-256 of in->envelope (computed by
     * store.c); now_ms is the store's clock, except in settle (the caller's). */
    int (*w_outbox_enqueue)(void *be, const struct kv_outmsg *msgs, size_t n, int64_t now_ms,
                            char *detail);
    int (*w_outbox_settle)(void *be, const struct kv_outbox_settle *v, size_t n, int64_t now_ms,
                           int *results, char *detail);
    int (*w_outbox_prune)(void *be, int64_t before_ms, unsigned limit, uint64_t *removed,
                          char *detail);
    int (*w_inbox_apply)(void *be, const struct kv_inbox_in *in, const uint8_t *hash,
                         const struct kv_outmsg *out, size_t n_out, int64_t now_ms, char *detail);
    int (*w_inbox_park)(void *be, const struct kv_inbox_in *in, const uint8_t *hash, int64_t now_ms,
                        uint32_t *waiting_for, char *detail);
    /* Schema 3: replicas, pending events, peers (see kv_store_replica_put,
     * kv_store_pending_add, kv_store_peer_add). now is epoch seconds; the
     * received message's hash is computed by the backend, as for w_append. */
    int (*w_replica_put)(void *be, const struct kv_replica *r, int64_t now, char *detail);
    int (*w_pending_add)(void *be, const char *mrn, uint32_t expected_seq,
                         uint32_t expected_pending, const struct kv_event_in *ev, const char *state,
                         unsigned flags, const struct kv_outmsg *out, size_t n_out, int64_t now,
                         char *detail);
    int (*w_peer_add)(void *be, const char *mrn, const char *country, const char *office,
                      const char *kind, const struct kv_inbox_in *claim,
                      const struct kv_outmsg *out, size_t n_out, int64_t now, char *detail);

    int (*get)(void *be, const char *mrn, struct kv_movement_record **out, char *detail);
    int (*list)(void *be, const struct kv_list_query *q, struct kv_list_page *out, char *detail);
    int (*guarantee_get)(void *be, const char *grn, struct kv_guarantee_info *out, char *detail);
    int (*token_find)(void *be, const uint8_t *hash, struct kv_token *out, char *detail);
    int (*counts)(void *be, struct kv_store_stats *out, char *detail);
    int (*check)(void *be, char *detail);
    int (*outbox_seq)(void *be, const char *receiver, const char *mrn, uint32_t *last,
                      char *detail);
    int (*outbox_due)(void *be, int64_t now_ms, const char *receiver, unsigned limit,
                      struct kv_outbox_due *out, char *detail);
    int (*outbox_get)(void *be, const char *id, struct kv_outbox_item *out, char *detail);
    int (*outbox_backlog)(void *be, struct kv_outbox_backlog *out, size_t max, size_t *n,
                          char *detail);
    int (*inbox_find)(void *be, const char *id, bool with_envelope, struct kv_inbox_record *out,
                      char *detail);
    int (*inbox_last)(void *be, const char *sender, const char *mrn, uint32_t *applied,
                      uint32_t *parked, char *detail);
    int (*inbox_parked_next)(void *be, const char *sender, const char *mrn,
                             struct kv_inbox_record *out, char *detail);
    int (*inbox_ready)(void *be, struct kv_inbox_stream *out, size_t max, size_t *n, char *detail);
};

/* The SQLite backend (sqlite.c). */
extern const struct kv_store_backend_ops kv_store_sqlite_ops;

/*
 * For backends: checks messages a build_out callback made (the same contract
 * store.c checks for fixed ones): 0 or KV_EINVAL with detail. `country` is
 * this node's (a message to itself is refused).
 */
int kv_store_check_outmsgs(const struct kv_outmsg *m, size_t n, const char *country, char *detail);

/*
 * For backends: checks a seal (the same contract store.c checks for fixed
 * ones, e.g. what kv_lodge.seal_first made): node two upper-case letters,
 * keyid printable; with `need_link`, has_link set and order_keyid
 * printable. 0 or KV_EINVAL with detail naming `what`.
 */
int kv_store_check_seal(const struct kv_event_seal *seal, bool need_link, const char *what,
                        char *detail);

/* For backends: printf into a detail buffer (NULL is ignored). */
void kv_store_detail(char *detail, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
