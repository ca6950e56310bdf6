/*
 * corridor.h — this node's part in the corridor: the exchange with the
 * other national nodes wired into the running node (docs/exchange.md,
 * "The corridor").
 *
 * It holds the node's key pair and the trust list and
 *   - seals the events the node records (chain v2: each event signed where
 *     it happens; the movement's owner orders it into the log and signs the
 *     link), for the lodge and for POST .../events;
 *   - builds the messages a state change causes, to be committed with it:
 *     at release the anticipated records to every itinerary country
 *     (CD001C to the destination, CD050C to the others), after release
 *     the owner's forward of each new event to every holder (CD181C for an
 *     incident, CC045C write-off, CD010C cancellation, `entry` otherwise),
 *     at a replica the report of a local event to the owner (CD118C,
 *     `exit`, CD180C, CD006C, CD018C), and the AAR/ATR request (CD002C /
 *     CD114C) for a movement an office meets unannounced;
 *   - applies what other nodes send (POST /v1/exchange through
 *     net/exchange_in.h): records and forwards become or refresh the
 *     replica (the whole chain verified against the trust list), reports
 *     are checked, ordered and appended by the owner and forwarded, a
 *     request with its reason makes the requester a holder and gets the
 *     record (CD003C / CD115C);
 *   - runs the delivery worker (net/exchange_out.h) that empties the outbox.
 *
 * Need-to-know: the holders of a movement are the countries of its declared
 * offices of transit, exit and destination and its countries of routing
 * (the itinerary), and the countries that asked with a reason; a report or
 * request from anyone else is refused (403, R-XCH-ENTITLED).
 *
 * Threads: after kv_corridor_start every function may be called from any
 * thread; new / start / stop / free from one controlling thread.
 */
#ifndef KV_NET_CORRIDOR_H
#define KV_NET_CORRIDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ident.h"
#include "core/movement.h"
#include "store/store.h"

struct kv_corridor;
struct kv_declaration;
struct kv_http;
struct kv_metrics;
struct kv_ref;
struct kv_trust;

struct kv_corridor_config {
    struct kv_store *store;   /* required; must outlive the corridor */
    const struct kv_ref *ref; /* required: the office registry */
    const char *country;      /* this node (must be in the trust list) */
    const char *trust_path;   /* the trust list file (trust.json) */
    const char *keys_dir;     /* the folder whose keys/ holds node.sk and node.pk
                                 (crypto/crypto.h kv_crypto_keys_load) */
    struct kv_metrics *metrics;
    int64_t (*now)(void); /* epoch seconds; NULL = time(NULL) */
    /* Delivery (0 = the defaults of net/exchange_out.h). */
    unsigned backoff_base_ms;
    unsigned backoff_cap_ms;
    unsigned timeout_ms;
};

/*
 * Loads the trust list and the key pair, checks that this node is in the
 * list with this key, and prepares the receiving side. Returns 0, or
 * KV_EINVAL / KV_ENOTFOUND / KV_EIO / KV_ENOMEM with one sentence in err.
 */
int kv_corridor_new(const struct kv_corridor_config *cfg, struct kv_corridor **out, char *err,
                    size_t errsz);

/* Registers POST /v1/exchange on a server not yet started. */
int kv_corridor_register(struct kv_corridor *c, struct kv_http *h);

/* Applies parked messages whose turn has come and starts the delivery
 * worker. Returns 0 or KV_EIO / KV_ENOMEM with err. */
int kv_corridor_start(struct kv_corridor *c, char *err, size_t errsz);

/* Tells the delivery worker to look at the outbox now. */
void kv_corridor_kick(struct kv_corridor *c);

/* Stops the delivery worker (requests in flight get their grace). */
void kv_corridor_stop(struct kv_corridor *c);

/* Stops and frees. NULL is a no-op. */
void kv_corridor_free(struct kv_corridor *c);

/* The trust list the node works with (valid for the corridor's life). */
const struct kv_trust *kv_corridor_trust(const struct kv_corridor *c);

/* ---- sealing ------------------------------------------------------------- */

/*
 * Signs event ev of movement mrn as recorded here: out->node = this
 * country, keyid, sig over the origin digest; has_link false. Returns 0 or
 * KV_EINVAL (a field out of shape).
 */
int kv_corridor_seal_origin(struct kv_corridor *c, const char *mrn, const struct kv_event_in *ev,
                            struct kv_event_seal *out);

/*
 * Orders an origin-sealed event of one of this node's movements as event
 * `seq` after link `prev`: sets link, order_keyid, order_sig, has_link.
 * Returns 0 or KV_EINVAL.
 */
int kv_corridor_seal_order(struct kv_corridor *c, const char *mrn, uint32_t seq,
                           const uint8_t prev[KV_STORE_HASH_LEN], const struct kv_event_in *ev,
                           struct kv_event_seal *seal);

/* kv_lodge.seal_first for this node (ctx = the corridor): both seals. */
kv_event_seal_fn kv_corridor_seal_first;

/*
 * The export (codec/export_json.h) of movement m as node `country` at `now`:
 * its log, then `next` (sealed and ordered, as event seq + 1) when not NULL,
 * and `trust` embedded when not NULL. With `declaration`, the lodged
 * declaration is included while the stored one is still it (its hash is
 * link0). Returns KV_OK with *out
 * (caller frees) and *len; KV_ECONFLICT with *unsealed (may be NULL) = the
 * first event without a seal or link; KV_EINVAL (a stored field out of
 * shape); KV_ENOMEM.
 */
int kv_corridor_export(const char *country, int64_t now, const struct kv_movement_record *m,
                       const struct kv_event_in *next, const struct kv_trust *trust,
                       bool declaration, char **out, size_t *len, uint32_t *unsealed);

/* ---- messages for one store write ---------------------------------------- */

struct kv_corridor_out {
    struct kv_outmsg msgs[KV_STORE_OUT_MAX];
    size_t n;
    /* what the messages point into */
    char ids[KV_STORE_OUT_MAX][KV_STORE_MSG_ID_LEN + 1];
    char receivers[KV_STORE_OUT_MAX][3];
    char sigs[KV_STORE_OUT_MAX][KV_STORE_SIGNATURE_MAX];
    char *envelopes[KV_STORE_OUT_MAX];
};

/* Zeroes *o. */
void kv_corridor_out_init(struct kv_corridor_out *o);

/* Frees the envelopes and zeroes *o. */
void kv_corridor_out_release(struct kv_corridor_out *o);

/*
 * The owner appends `ev` (sealed and ordered, seq m->summary.seq + 1) to
 * its movement m (as read; d its current declaration): the messages it
 * causes. A release sends the anticipated records (the whole chain, the new
 * event included) to every itinerary country; an event after release is
 * forwarded to every holder; before release nothing is sent. `limit_date`
 * is the movement's limit after the event (epoch of the day after, or 0).
 * Returns 0 (out may be empty), KV_ELIMIT (more holders than one write
 * carries), KV_ENOMEM, KV_EIO (the outbox could not be read).
 */
int kv_corridor_owner_out(struct kv_corridor *c, const struct kv_movement_record *m,
                          const struct kv_declaration *d, const struct kv_event *ev,
                          const struct kv_event_in *in, int64_t limit_date,
                          struct kv_corridor_out *out);

/*
 * A replica records local event `ev` (origin-sealed `in`): the report to
 * the owner. Returns 0, KV_EINVAL (an event no replica records), KV_ENOMEM,
 * KV_EIO.
 */
int kv_corridor_report_out(struct kv_corridor *c, const char *mrn, const struct kv_event *ev,
                           const struct kv_event_in *in, struct kv_corridor_out *out);

/*
 * Office `office` of this node met movement `mrn`, which this node does not
 * hold: asks the owner for it (CD002C when `arrival`, else CD114C), unless
 * a request is already on its way. Returns 0 (asked now or before; *owner
 * gets the owner's country), KV_ENOTFOUND (the owner is not in the trust
 * list, or is this node), KV_EIO, KV_ENOMEM.
 */
int kv_corridor_request(struct kv_corridor *c, const char *mrn, const char *office, bool arrival,
                        char owner[3]);

/* True when this node holds `mrn` as the owner. */
bool kv_corridor_owns(const struct kv_corridor *c, const char *mrn);

/* Exchange counters for /metrics are registered by kv_corridor_new. */

#endif
