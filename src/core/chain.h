/*
 * chain.h — the tamper-evident history of a movement (DESIGN.md §4), chain
 * v2: every event is signed by the node where it happened (without knowing
 * its place in the log), and the movement's owner — the country in its MRN,
 * characters 3–4 — orders it: links it to the event before and signs that
 * link. Anyone holding the public keys can check a movement's whole history
 * offline (docs/exchange.md, "The event chain").
 *
 *   origin_i    = "kervan-origin-v1\n" MRN "\n" NODE "\n" TIME "\n" EVENT
 *   o_i         = H(origin_i)
 *   sig_i       = Ed25519 by NODE over the 32 bytes of o_i
 *   link_0      = H(the declaration's bytes as first lodged)
 *   record_i    = "kervan-event-v1\n" MRN "\n" SEQ "\n" NODE "\n" TIME "\n" EVENT
 *   link_i      = H(link_{i-1} || record_i)
 *   order_sig_i = Ed25519 by the owner over the 32 bytes of link_i
 *
 * H is BLAKE2b-256 (unkeyed); links and digests are the raw 32 bytes; SEQ
 * is the event's sequence number in decimal without leading zeros (the
 * first event, the lodging, is 1); NODE the country of the node where the
 * event happened; TIME the event's RFC 3339 time exactly as written in the
 * event; EVENT the event's JSON bytes exactly as the node stored them
 * (codec/event_json.h writes them).
 *
 * This module is pure: it lays out the records and walks a chain, while the
 * hash and the signature check come in as an ops table (src/crypto supplies
 * the libsodium one, crypto/chain_crypto.h). No I/O, clock or allocation.
 */
#ifndef KV_CORE_CHAIN_H
#define KV_CORE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ident.h"
#include "core/movement.h"
#include "core/report.h"
#include "core/trust.h"

#define KV_CHAIN_MAGIC        "kervan-event-v1"
#define KV_CHAIN_ORIGIN_MAGIC "kervan-origin-v1"
#define KV_CHAIN_HEADER_MAX   96    /* bytes of a record header, NUL included */
#define KV_CHAIN_EVENTS_MAX   10000 /* events in one chain */
#define KV_CHAIN_LINK_LEN     32
#define KV_CHAIN_SIG_LEN      64

/* One event of the chain as carried in an export. */
struct kv_chain_event {
    uint32_t seq;        /* 1, 2, ... */
    char node[3];        /* country of the node where it happened (signs sig) */
    struct kv_time time; /* the event's time (as in the event's own "time") */
    char keyid[40];      /* fingerprint of NODE's key that made sig */
    const char *event;   /* the event's exact JSON bytes (borrowed) */
    size_t event_len;
    uint8_t link[KV_CHAIN_LINK_LEN];
    uint8_t sig[KV_CHAIN_SIG_LEN];       /* NODE's signature over o_i */
    char order_keyid[40];                /* fingerprint of the owner's key that made order_sig */
    uint8_t order_sig[KV_CHAIN_SIG_LEN]; /* the owner's signature over link_i */
};

/* A piece of a hashed message (the message is the concatenation). */
struct kv_chain_part {
    const void *data;
    size_t len;
};

/*
 * What the walk needs from outside. hash: BLAKE2b-256 of the concatenated
 * parts. verify: true when sig is a valid signature of msg under pk.
 * event_ok (may be NULL): checks an event's bytes against its record (the
 * event decodes, its time is the record's, its office is in the node's
 * country); false with one sentence in why.
 */
struct kv_chain_ops {
    void (*hash)(void *ctx, const struct kv_chain_part *parts, size_t n,
                 uint8_t out[KV_CHAIN_LINK_LEN]);
    bool (*verify)(void *ctx, const uint8_t pk[32], const uint8_t *msg, size_t len,
                   const uint8_t sig[KV_CHAIN_SIG_LEN]);
    bool (*event_ok)(void *ctx, const struct kv_chain_event *e, char *why, size_t why_size);
    void *ctx;
};

/* A movement's chain. Everything is borrowed. */
struct kv_chain {
    char mrn[KV_MRN_LEN + 1];
    const char *declaration; /* the lodged declaration's bytes, or NULL when not carried */
    size_t declaration_len;
    uint8_t link0[KV_CHAIN_LINK_LEN];
    const struct kv_chain_event *events; /* in order */
    size_t n;
};

/*
 * Writes the record header "kervan-event-v1\nMRN\nSEQ\nNODE\nTIME\n" of
 * event e of movement mrn into out (NUL-terminated). Returns its length
 * (without the NUL), or 0 when mrn, node or time do not fit their shapes.
 */
size_t kv_chain_header(const char *mrn, const struct kv_chain_event *e,
                       char out[KV_CHAIN_HEADER_MAX]);

/*
 * Writes the origin header "kervan-origin-v1\nMRN\nNODE\nTIME\n" of event
 * e of movement mrn into out (NUL-terminated; e->seq is not part of it).
 * Returns its length (without the NUL), or 0 when mrn, node or time do not
 * fit their shapes.
 */
size_t kv_chain_origin_header(const char *mrn, const struct kv_chain_event *e,
                              char out[KV_CHAIN_HEADER_MAX]);

/*
 * The origin digest o = H(origin record of e) that NODE signs (e->sig).
 * Returns KV_OK, or KV_EINVAL when the header cannot be written (see
 * kv_chain_origin_header) or an argument is NULL.
 */
int kv_chain_origin(const struct kv_chain_ops *ops, const char *mrn, const struct kv_chain_event *e,
                    uint8_t out[KV_CHAIN_LINK_LEN]);

/*
 * The owner of a movement: the country in its MRN (characters 3–4), copied
 * to out ("KZ"). Returns false (out "") when mrn is not at least 4
 * characters with two upper-case letters there.
 */
bool kv_chain_owner(const char *mrn, char out[3]);

/*
 * link_0 of a declaration: H(declaration bytes). Returns KV_OK or
 * KV_EINVAL (NULL argument).
 */
int kv_chain_link0(const struct kv_chain_ops *ops, const char *declaration, size_t len,
                   uint8_t out[KV_CHAIN_LINK_LEN]);

/*
 * link_i = H(prev || record of e). Returns KV_OK, or KV_EINVAL when the
 * header cannot be written (see kv_chain_header) or an argument is NULL.
 */
int kv_chain_link(const struct kv_chain_ops *ops, const char *mrn,
                  const uint8_t prev[KV_CHAIN_LINK_LEN], const struct kv_chain_event *e,
                  uint8_t out[KV_CHAIN_LINK_LEN]);

/* The outcome of kv_chain_verify. */
struct kv_chain_result {
    size_t n_events;      /* events in the chain */
    size_t n_intact;      /* events with no problem */
    size_t first_break;   /* 1-based position of the first event with a problem; 0 if none */
    bool declaration;     /* the declaration was carried and matched link_0 */
    bool declaration_bad; /* the declaration was carried and did not match */
};

enum kv_chain_verdict { KV_CHAIN_INTACT = 0, KV_CHAIN_BROKEN = 1 };

/*
 * Checks the whole chain against the keys of `trust` and adds one problem
 * per failed check to rep, with a rule id and a JSON pointer into the
 * export ("/events/3/link"):
 *   R-CHAIN-DECL    /declaration   H(declaration) is not link_0
 *   R-CHAIN-ORDER   /events/i/seq  seq is not i+1 (missing, repeated or moved)
 *   R-CHAIN-EVENT   /events/i/event  event_ok refused the event's bytes
 *   R-CHAIN-LINK    /events/i/link  link_i is not H(link_{i-1} || record_i)
 *   R-CHAIN-KEY     /events/i/keyid  NODE or its key is unknown, or the key
 *                                    was not valid at the event's time
 *   R-CHAIN-SIG     /events/i/sig   NODE's signature over o_i does not verify
 *   R-CHAIN-ORDKEY  /events/i/order_keyid  the owner (MRN characters 3–4)
 *                                    or its key is unknown, or the key had
 *                                    expired by the event's time (a key that
 *                                    came into force later is accepted: the
 *                                    owner orders an event after it happened)
 *   R-CHAIN-ORDSIG  /events/i/order_sig  the owner's signature over link_i
 *                                    does not verify
 * Each link is recomputed from the previous *stated* link, so a change is
 * reported at the event where it was made rather than at every later one.
 * A signature is checked only when its key was found (a key outside its
 * validity is still used, so both problems show). Also fills *res (may be
 * NULL). Returns KV_CHAIN_INTACT when no check failed and the chain has at
 * least one event, KV_CHAIN_BROKEN otherwise, or KV_EINVAL / KV_ELIMIT (more
 * than KV_CHAIN_EVENTS_MAX events) / KV_ENOMEM (rep->oom).
 */
int kv_chain_verify(const struct kv_chain *c, const struct kv_trust *trust,
                    const struct kv_chain_ops *ops, struct kv_chain_result *res,
                    struct kv_report *rep);

#endif
