/*
 * exchange_out.h — the delivery worker: takes messages from the store's
 * outbox and POSTs them to the receiving nodes until each is acknowledged.
 *
 * One worker per node (a sending thread and a recording thread). It asks
 * the store which messages are
 * due (the head of each (receiver, MRN) stream whose next attempt has come),
 * sends each as the body of `POST {receiver URL}/v1/exchange` with its
 * `Kervan-Signature` header, and records the result in the store: a 2xx
 * answer whose body acknowledges the message id marks it delivered (and the
 * next message of its stream becomes due); anything else is a failed
 * attempt, tried again after an exponential backoff with jitter (base
 * doubling per failed attempt, capped). So:
 *   - nothing is lost: a message stays in the outbox until acknowledged,
 *     across crashes and restarts (the receiver's inbox drops the duplicates
 *     this causes);
 *   - order: a stream's message is never sent before its predecessor is
 *     acknowledged;
 *   - a peer that fails at the transport level (no connection, timeout,
 *     5xx, 429) is cooled off as a whole with the same backoff and probed
 *     with one request when the time comes, instead of every stream hitting
 *     it on its own schedule.
 * Requests run concurrently on libcurl's multi interface (up to `per_peer`
 * per receiver, `max_in_flight` in all) over kept-alive connections, each
 * bounded by a connect timeout and a total timeout.
 *
 * What this module does not know, it is given: the receiver's base URL
 * (a callback over the trust list), the signature of a message stored
 * without one (a callback over the node key), the clock and the random
 * numbers for jitter (callbacks, so tests can drive them).
 *
 * Threads: kv_exchange_out_kick and kv_exchange_out_stats may be called from
 * any thread; new / stop / free from one controlling thread. The callbacks
 * run on the worker's thread.
 */
#ifndef KV_NET_EXCHANGE_OUT_H
#define KV_NET_EXCHANGE_OUT_H

#include <stddef.h>
#include <stdint.h>

struct kv_store;
struct kv_metrics;
struct kv_exchange_out;

#define KV_EXCHANGE_PATH    "/v1/exchange"
#define KV_EXCHANGE_SIG_HDR "Kervan-Signature"
#define KV_EXCHANGE_URL_MAX 512

/* Writes the base URL of `receiver`'s node (e.g. "http://127.0.0.1:7102",
 * no trailing path) into url. Returns 0, or a negative KV_E* (unknown
 * receiver: the attempt fails and is retried later). */
typedef int kv_exchange_url_fn(void *ctx, const char *receiver, char *url, size_t urlsz);

/* Writes the Kervan-Signature header value for the exact envelope bytes.
 * Returns 0 or a negative KV_E*. */
typedef int kv_exchange_sign_fn(void *ctx, const void *envelope, size_t len, char *header,
                                size_t headersz);

/* The time now, epoch milliseconds. */
typedef int64_t kv_exchange_clock_fn(void *ctx);

/* A uniformly random 32-bit number (for jitter). */
typedef uint32_t kv_exchange_random_fn(void *ctx);

/* Defaults for the settings of struct kv_exchange_out_config left at 0. */
#define KV_EXCHANGE_BACKOFF_BASE_MS 1000
#define KV_EXCHANGE_BACKOFF_CAP_MS  60000
#define KV_EXCHANGE_CONNECT_MS      2000
#define KV_EXCHANGE_TIMEOUT_MS      10000
#define KV_EXCHANGE_PER_PEER        16
#define KV_EXCHANGE_IN_FLIGHT       64
#define KV_EXCHANGE_IDLE_MS         1000
#define KV_EXCHANGE_STOP_GRACE_MS   2000
#define KV_EXCHANGE_IN_FLIGHT_MAX   1024

struct kv_exchange_out_config {
    struct kv_store *store;       /* required; must outlive the worker */
    kv_exchange_url_fn *peer_url; /* required */
    void *peer_ctx;
    kv_exchange_sign_fn *sign; /* for messages stored without a signature; NULL: such a
                                  message fails each attempt (logged) */
    void *sign_ctx;
    kv_exchange_clock_fn *clock; /* NULL: the system clock (CLOCK_REALTIME) */
    void *clock_ctx;
    kv_exchange_random_fn *random; /* NULL: a generator seeded from getrandom(2) */
    void *random_ctx;
    unsigned backoff_base_ms;    /* delay after the first failed attempt (mean 3/4 of it) */
    unsigned backoff_cap_ms;     /* the delay never exceeds this */
    unsigned connect_timeout_ms; /* TCP connect */
    unsigned timeout_ms;         /* the whole request, answer included */
    unsigned per_peer;           /* requests in flight per receiver */
    unsigned max_in_flight;      /* requests in flight in all, up to KV_EXCHANGE_IN_FLIGHT_MAX */
    unsigned idle_ms;            /* look at the outbox at least this often when nothing happens */
    unsigned stop_grace_ms;      /* how long kv_exchange_out_stop waits for requests in flight */
    struct kv_metrics *metrics;  /* delivery counters and the backlog gauge; NULL: none */
};

/*
 * Checks cfg, starts the worker thread and returns it in *out. Returns 0,
 * KV_EINVAL (no store or peer_url, a setting out of range; err says which),
 * KV_ENOMEM, KV_EIO (libcurl or the thread could not start).
 * With cfg->metrics it registers kervan_exchange_backlog (gauge, per
 * receiver) and kervan_exchange_in_flight, and creates per receiver
 * kervan_exchange_delivered_total, kervan_exchange_retries_total and
 * kervan_exchange_attempts_failed_total{reason} as receivers appear.
 */
int kv_exchange_out_new(const struct kv_exchange_out_config *cfg, struct kv_exchange_out **out,
                        char *err, size_t errsz);

/* Tells the worker to look at the outbox now (call after enqueueing). Any thread. */
void kv_exchange_out_kick(struct kv_exchange_out *w);

/*
 * Stops the worker: no new request starts; requests in flight get up to
 * stop_grace_ms to finish and be recorded, the rest are abandoned (their
 * messages stay undelivered and go again after the next start — the
 * receiver drops what it already has). Returns when the thread has ended.
 * Safe to call twice.
 */
void kv_exchange_out_stop(struct kv_exchange_out *w);

/* Stops (if running), unregisters the metrics and frees. NULL is a no-op. */
void kv_exchange_out_free(struct kv_exchange_out *w);

/* What the worker has done since it started. */
struct kv_exchange_out_stats {
    uint64_t attempts;      /* requests sent (or that could not be) */
    uint64_t delivered;     /* messages acknowledged and recorded */
    uint64_t failed;        /* attempts that failed */
    uint64_t retried;       /* attempts at a message that had failed before */
    uint64_t settle_errors; /* results the store could not record */
    unsigned in_flight;
};

void kv_exchange_out_stats(const struct kv_exchange_out *w, struct kv_exchange_out_stats *st);

/*
 * The delay before the next attempt after `attempt` failed attempts (1 =
 * the first failed): d = min(cap, base * 2^(attempt - 1)), and the result
 * is d/2 + rnd mod (d - d/2 + 1), so uniformly in [d/2, d] ("equal
 * jitter": never sooner than half the nominal delay, never later than
 * it). 0 for attempt 0. Pure; never overflows.
 */
int64_t kv_exchange_backoff_ms(uint32_t attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd);

#endif
