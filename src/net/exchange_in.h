/*
 * exchange_in.h — the receiving side of the exchange: what POST
 * /v1/exchange does with a message from another node.
 *
 * For each request body (one envelope, its exact bytes) and its
 * Kervan-Signature header:
 *   1. size: over the limit → 413, before anything is parsed;
 *   2. verify (a callback: the envelope codec and the trust list decode the
 *      bytes, check the signature, the sender, the key) → 4xx as it says;
 *      then the receiver must be this node → 403;
 *   3. the inbox: an id applied before → 200 again (a duplicate; nothing
 *      changes); an id known with other bytes or from another sender, or a
 *      seq already taken by another id → 409;
 *   4. order per (sender, MRN): seq beyond the next expected → the message
 *      is parked in the inbox → 202 (and a gap callback may fetch what is
 *      missing); the next expected → applied by the callback of its kind,
 *      which records it in the inbox in the same transaction as its effect
 *      → 200, after which parked successors that are now next are applied
 *      too.
 * A refusal changes nothing and is logged with its rule and reason. A store
 * failure answers 503 (the sender tries again). So each message id is
 * applied exactly once, in seq order, however often and in whatever order
 * it arrives.
 *
 * Answers: 200 {"ack":"<id>"} (with "duplicate":true for a replay), 202
 * {"ack":"<id>","parked":true,"waiting_for":N}, errors in the server's
 * JSON error shape with one problem naming the rule.
 *
 * Threads: kv_exchange_in_handle and kv_exchange_in_drain may run on many
 * threads at once (the store serialises what must be); the callbacks must
 * be thread-safe.
 */
#ifndef KV_NET_EXCHANGE_IN_H
#define KV_NET_EXCHANGE_IN_H

#include <stddef.h>
#include <stdint.h>

#include "core/ident.h"
#include "store/store.h"

struct kv_http;
struct kv_http_req;
struct kv_http_resp;
struct kv_metrics;
struct kv_exchange_in;

/* Rule ids of the refusals this module makes itself (a verify or apply
 * callback brings its own). */
#define KV_EXCHANGE_R_SIZE     "R-EXCH-001" /* envelope over the size limit (413) */
#define KV_EXCHANGE_R_SHAPE    "R-EXCH-002" /* header fields malformed (400, 415) */
#define KV_EXCHANGE_R_RECEIVER "R-EXCH-005" /* receiver is not this node, or sender is (403) */
#define KV_EXCHANGE_R_ID       "R-EXCH-006" /* id known with other bytes or sender (409) */
#define KV_EXCHANGE_R_SEQ      "R-EXCH-007" /* seq taken by another id (409) */
#define KV_EXCHANGE_R_PARK     "R-EXCH-008" /* too many parked / too far ahead (429) */
#define KV_EXCHANGE_R_KIND     "R-EXCH-009" /* no handler for this kind (422) */
#define KV_EXCHANGE_RULE_MAX   32
#define KV_EXCHANGE_REASON_MAX 256

/* A decoded, verified message: the envelope's header fields. */
struct kv_exchange_msg {
    char sender[3];
    char receiver[3];
    char id[KV_STORE_MSG_ID_LEN + 1];
    char kind[KV_STORE_KIND_MAX];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    const char *envelope; /* the exact bytes received (borrowed for the call) */
    size_t envelope_len;
    const char *signature; /* the header value (borrowed; may be NULL) */
};

/* Why a message is refused: an HTTP status 400-499, a rule id, a reason. */
struct kv_exchange_refusal {
    unsigned status;
    char rule[KV_EXCHANGE_RULE_MAX];
    char reason[KV_EXCHANGE_REASON_MAX];
};

/*
 * Decodes and verifies one envelope (its exact bytes and the signature
 * header, NULL when absent). Returns 0 with msg's sender, receiver, id,
 * kind, mrn and seq filled, or a negative KV_E* with *why filled (status
 * 400-499, rule, reason).
 */
typedef int kv_exchange_verify_fn(void *ctx, const char *body, size_t len, const char *signature,
                                  struct kv_exchange_msg *msg, struct kv_exchange_refusal *why);

/*
 * Applies one message. It must record `claim` in the inbox in the same
 * store write as the message's effect (kv_append.inbox, or
 * kv_store_inbox_apply with the messages it causes), so both commit or
 * neither. Returns 0 when applied; the store's KV_EDUPLICATE, KV_EORDER or
 * KV_ECONFLICT as it said (the caller looks again); another negative with
 * why->status 400-499 to refuse the message (nothing may have changed); any
 * other negative when the node cannot apply it now (503: the sender tries
 * again).
 */
typedef int kv_exchange_apply_fn(void *ctx, const struct kv_exchange_msg *msg,
                                 const struct kv_inbox_in *claim, struct kv_exchange_refusal *why);

/* Told when a message is parked: the (sender, mrn) stream waits for seq
 * `waiting_for` (e.g. to fetch what is missing). */
typedef void kv_exchange_gap_fn(void *ctx, const char *sender, const char *mrn,
                                uint32_t waiting_for);

/* The apply callback of one kind. */
struct kv_exchange_kind {
    const char *kind;
    kv_exchange_apply_fn *apply;
    void *ctx;
};

struct kv_exchange_in_config {
    struct kv_store *store;        /* required; must outlive the handler */
    const char *country;           /* this node (copied) */
    kv_exchange_verify_fn *verify; /* required */
    void *verify_ctx;
    const struct kv_exchange_kind *kinds; /* copied */
    size_t n_kinds;
    kv_exchange_apply_fn *apply_default; /* kinds without their own; NULL: 422 */
    void *default_ctx;
    kv_exchange_gap_fn *on_gap; /* may be NULL */
    void *gap_ctx;
    size_t max_envelope;        /* bytes; 0 = KV_STORE_ENVELOPE_MAX (1 MiB) */
    struct kv_metrics *metrics; /* kervan_exchange_received_total{result}; NULL: none */
};

#define KV_EXCHANGE_KINDS_MAX 32

/* Creates the handler. Returns 0, KV_EINVAL (missing store, verify or
 * country, too many kinds; err says which) or KV_ENOMEM. */
int kv_exchange_in_new(const struct kv_exchange_in_config *cfg, struct kv_exchange_in **out,
                       char *err, size_t errsz);

/* Frees the handler. NULL is a no-op. No call may be running. */
void kv_exchange_in_free(struct kv_exchange_in *x);

enum kv_exchange_result {
    KV_EXCHANGE_APPLIED = 1, /* 200 */
    KV_EXCHANGE_DUPLICATE,   /* 200 (applied before) or 202 (parked before) */
    KV_EXCHANGE_PARKED,      /* 202 */
    KV_EXCHANGE_REFUSED,     /* 4xx, nothing changed */
    KV_EXCHANGE_UNAVAILABLE  /* 503, nothing changed; try again */
};

/* What kv_exchange_in_handle decided. */
struct kv_exchange_answer {
    enum kv_exchange_result result;
    unsigned status; /* the HTTP status to answer */
    char id[KV_STORE_MSG_ID_LEN + 1];
    uint32_t waiting_for; /* parked: the seq the stream waits for */
    unsigned applied;     /* messages applied by this call: it and parked successors */
    char rule[KV_EXCHANGE_RULE_MAX];
    char reason[KV_EXCHANGE_REASON_MAX];
};

/*
 * Handles one received envelope (HTTP-free): body and its length, the
 * Kervan-Signature header value (NULL if absent), the peer's address for
 * the log (may be NULL). Fills *ans. Returns 0 (whatever the answer).
 */
int kv_exchange_in_handle(struct kv_exchange_in *x, const char *body, size_t len,
                          const char *signature, const char *peer, struct kv_exchange_answer *ans);

/*
 * Registers POST /v1/exchange on a server not yet started, answering with
 * kv_exchange_in_handle's decision (a 503 carries Retry-After: 1). Returns
 * 0 or kv_http_route's error.
 */
int kv_exchange_in_register(struct kv_http *h, struct kv_exchange_in *x);

/* The handler kv_exchange_in_register installs (ctx = the struct
 * kv_exchange_in), for a caller that wraps it: 415 unless the body is
 * application/json, then kv_exchange_in_handle with the Kervan-Signature
 * header and the answer as described above. */
int kv_exchange_in_http(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx);

/*
 * Applies parked messages whose turn has come (e.g. after a crash between
 * applying a message and its parked successor, or after a transient failure
 * left one parked). Call at start and from time to time. *applied (may be
 * NULL) gets the count. Returns 0 or a store error.
 */
int kv_exchange_in_drain(struct kv_exchange_in *x, unsigned *applied);

/* An apply callback for kinds whose only effect is being recorded: calls
 * kv_store_inbox_apply(ctx = the store, claim). */
int kv_exchange_apply_record(void *ctx, const struct kv_exchange_msg *msg,
                             const struct kv_inbox_in *claim, struct kv_exchange_refusal *why);

/* Counts since the handler was created. */
struct kv_exchange_in_stats {
    uint64_t applied;     /* messages applied (directly or from the park) */
    uint64_t from_park;   /* of which taken from the park */
    uint64_t duplicates;  /* answered as duplicates */
    uint64_t parked;      /* messages parked */
    uint64_t refused;     /* 4xx answers */
    uint64_t unavailable; /* 503 answers */
};

void kv_exchange_in_stats(const struct kv_exchange_in *x, struct kv_exchange_in_stats *st);

#endif
