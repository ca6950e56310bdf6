/*
 * exchange_test.h — what the exchange tests share: scratch stores of any
 * country, a stand-in envelope codec (the real one, with Ed25519, is Part
 * K1's; here the "signature" is a keyed BLAKE2b MAC, enough to exercise
 * every verify outcome), a receiving node (store + exchange_in behind the
 * HTTP server on 127.0.0.1 with injectable faults: 500s, a slow answer, a
 * stop and a restart on the same port) and a sending node (store + the
 * delivery worker pointed at it).
 *
 * The real envelope (codec/envelope.h, Ed25519 against a trust list) is
 * here too, as the verify and sign callbacks xt_verify_envelope and
 * xt_sign_envelope, for the benchmarks that measure the real thing
 * (bench/exchange_rate.c).
 *
 * Header-only (static functions): each tests/net/test_*.c is its own
 * executable.
 */
#ifndef KV_TESTS_EXCHANGE_TEST_H
#define KV_TESTS_EXCHANGE_TEST_H

#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/scratch.h"
#include "codec/envelope.h"
#include "core/err.h"
#include "net/exchange_in.h"
#include "net/exchange_out.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"
#include "store/store.h"

#define XT_KEY "kervan exchange test key"

/* ---- scratch stores --------------------------------------------------------- */

static inline void xt_tmpdir(char dir[256])
{
    kv_test_tmpdir(dir, "kv-exch");
}

static inline void xt_rmdir(const char *dir)
{
    kv_test_rmdir(dir);
}

static inline struct kv_store *xt_store(const char *dir, const char *country)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store_config cfg = {.path = dir, .country = country};
    struct kv_store *s = NULL;
    if (kv_store_open(&cfg, &s, detail) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, detail);
        abort();
    }
    return s;
}

static inline int64_t xt_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void xt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the stand-in envelope ---------------------------------------------------- */

static inline void xt_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* The header value for `env`: keyid=test, sig=hex(BLAKE2b(key || env)). */
static inline void xt_sign_bytes(const void *env, size_t len, char *hdr, size_t hdrsz)
{
    size_t kl = strlen(XT_KEY);
    char *buf = malloc(kl + len);
    memcpy(buf, XT_KEY, kl);
    memcpy(buf + kl, env, len);
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(buf, kl + len, h);
    free(buf);
    char hex[2 * KV_STORE_HASH_LEN + 1];
    xt_hex(h, sizeof h, hex);
    snprintf(hdr, hdrsz, "keyid=test, sig=%s", hex);
}

static inline int xt_sign(void *ctx, const void *env, size_t len, char *hdr, size_t hdrsz)
{
    (void)ctx;
    xt_sign_bytes(env, len, hdr, hdrsz);
    return 0;
}

/* A message id from seed text. */
static inline void xt_id(char out[KV_STORE_MSG_ID_LEN + 1], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void xt_id(char out[KV_STORE_MSG_ID_LEN + 1], const char *fmt, ...)
{
    char seed[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(seed, sizeof seed, fmt, ap);
    va_end(ap);
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(seed, strlen(seed), h);
    xt_hex(h, KV_STORE_MSG_ID_LEN / 2, out);
}

/* One envelope; `pad` bytes of filler in the body make it bigger. */
struct xt_env {
    char id[KV_STORE_MSG_ID_LEN + 1];
    char sender[3], receiver[3];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    char *bytes; /* malloc'd */
    size_t len;
    char sig[160];
};

static inline void xt_env(struct xt_env *e, const char *tag, const char *sender,
                          const char *receiver, const char *mrn, uint32_t seq, size_t pad)
{
    memset(e, 0, sizeof *e);
    xt_id(e->id, "%s/%s/%s/%s/%u", tag, sender, receiver, mrn, (unsigned)seq);
    memcpy(e->sender, sender, 2);
    memcpy(e->receiver, receiver, 2);
    memcpy(e->mrn, mrn, KV_MRN_LEN);
    e->seq = seq;
    size_t cap = 512 + pad;
    e->bytes = malloc(cap);
    int n = snprintf(e->bytes, cap,
                     "{\"v\":1,\"sender\":\"%s\",\"receiver\":\"%s\",\"id\":\"%s\","
                     "\"kind\":\"CD050C\",\"mrn\":\"%s\",\"seq\":%u,"
                     "\"time\":\"2026-01-01T00:00:00Z\",\"body\":{\"pad\":\"",
                     sender, receiver, e->id, mrn, (unsigned)seq);
    for (size_t i = 0; i < pad; i++)
        e->bytes[n++] = (char)('a' + i % 26);
    n += snprintf(e->bytes + n, cap - (size_t)n, "\"}}");
    e->len = (size_t)n;
    xt_sign_bytes(e->bytes, e->len, e->sig, sizeof e->sig);
}

static inline void xt_env_free(struct xt_env *e)
{
    free(e->bytes);
    e->bytes = NULL;
}

static inline struct kv_outmsg xt_out(const struct xt_env *e, bool presigned)
{
    return (struct kv_outmsg){.id = e->id,
                              .receiver = e->receiver,
                              .kind = "CD050C",
                              .mrn = e->mrn,
                              .seq = e->seq,
                              .envelope = e->bytes,
                              .envelope_len = e->len,
                              .signature = presigned ? e->sig : NULL};
}

static inline void xt_refuse(struct kv_exchange_refusal *why, unsigned status, const char *rule,
                             const char *reason)
{
    why->status = status;
    snprintf(why->rule, sizeof why->rule, "%s", rule);
    snprintf(why->reason, sizeof why->reason, "%s", reason);
}

static inline bool xt_str(json_object *o, const char *k, char *out, size_t n)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if (strlen(s) >= n)
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

/* The stand-in verifier: signature over the exact bytes, known senders, strict fields. */
static inline int xt_verify(void *ctx, const char *body, size_t len, const char *sig,
                            struct kv_exchange_msg *m, struct kv_exchange_refusal *why)
{
    (void)ctx;
    if (!sig) {
        xt_refuse(why, 401, "R-TEST-SIG", "no Kervan-Signature header");
        return KV_EINVAL;
    }
    char want[160];
    xt_sign_bytes(body, len, want, sizeof want);
    if (strcmp(want, sig) != 0) {
        xt_refuse(why, 401, "R-TEST-SIG", "bad signature");
        return KV_EINVAL;
    }
    json_object *o = json_tokener_parse(body);
    json_object *seq = NULL;
    bool ok = o && json_object_is_type(o, json_type_object) &&
              xt_str(o, "sender", m->sender, sizeof m->sender) &&
              xt_str(o, "receiver", m->receiver, sizeof m->receiver) &&
              xt_str(o, "id", m->id, sizeof m->id) && xt_str(o, "kind", m->kind, sizeof m->kind) &&
              xt_str(o, "mrn", m->mrn, sizeof m->mrn) &&
              json_object_object_get_ex(o, "seq", &seq) && json_object_is_type(seq, json_type_int);
    if (ok)
        m->seq = (uint32_t)json_object_get_int64(seq);
    json_object_put(o);
    if (!ok) {
        xt_refuse(why, 400, "R-TEST-SHAPE", "malformed envelope");
        return KV_EPARSE;
    }
    if (strcmp(m->sender, "XX") == 0) {
        xt_refuse(why, 403, "R-TEST-SENDER", "unknown sender XX");
        return KV_EINVAL;
    }
    return 0;
}

/* ---- the real envelope ------------------------------------------------------------ */

/* kv_exchange_verify_fn over the envelope codec: Ed25519 against a trust list
 * (ctx = const struct kv_envelope_verifier *), the refusal's status and rule
 * as the codec gives them. */
static inline int xt_verify_envelope(void *ctx, const char *body, size_t len, const char *sig,
                                     struct kv_exchange_msg *m, struct kv_exchange_refusal *why)
{
    const struct kv_envelope_verifier *v = ctx;
    struct kv_envelope env;
    struct kv_env_verdict vd;
    memset(&vd, 0, sizeof vd);
    enum kv_env_reject r =
        kv_envelope_verify(v->trust, v->me, body, len, sig, sig ? strlen(sig) : 0, &env, &vd);
    if (r != KV_ENV_OK) {
        xt_refuse(why, (unsigned)kv_env_reject_status(r), kv_env_reject_rule(r), vd.message);
        return r == KV_ENV_NOMEM ? KV_ENOMEM : KV_EPARSE;
    }
    memcpy(m->sender, env.sender, 3);
    memcpy(m->receiver, env.receiver, 3);
    memcpy(m->id, env.id, sizeof m->id);
    snprintf(m->kind, sizeof m->kind, "%s", kv_msg_kind_name(env.kind));
    memcpy(m->mrn, env.mrn, sizeof m->mrn);
    m->seq = env.seq;
    return 0;
}

/* kv_exchange_sign_fn over the envelope codec (ctx = const struct kv_keypair *). */
static inline int xt_sign_envelope(void *ctx, const void *env, size_t len, char *hdr, size_t hdrsz)
{
    return kv_envelope_sign(ctx, env, len, hdr, hdrsz);
}

/* ---- the receiving node ------------------------------------------------------- */

struct xt_rx {
    char dir[256];
    char country[3];
    struct kv_store *store;
    struct kv_exchange_in *x;
    struct kv_http *http;
    unsigned port;
    /* faults */
    _Atomic int fail_next; /* answer this many requests with 500 */
    _Atomic int delay_ms;  /* then sleep this long before handling */
    _Atomic uint64_t requests, injected_500;
};

static inline int xt_rx_handler(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct xt_rx *rx = ctx;
    atomic_fetch_add(&rx->requests, 1);
    int left = atomic_load(&rx->fail_next);
    while (left > 0 && !atomic_compare_exchange_weak(&rx->fail_next, &left, left - 1))
        ;
    if (left > 0) {
        atomic_fetch_add(&rx->injected_500, 1);
        return kv_http_resp_error(resp, 500, NULL, "injected failure");
    }
    int d = atomic_load(&rx->delay_ms);
    if (d > 0)
        xt_sleep_ms(d);
    return kv_exchange_in_http(req, resp, rx->x);
}

/* Starts (or restarts, on the same port when rx->port is set) the HTTP server. */
static inline void xt_rx_listen(struct xt_rx *rx)
{
    struct kv_http_config hc;
    kv_http_config_init(&hc);
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", rx->port);
    hc.listen = listen;
    hc.threading = KV_HTTP_PER_CONNECTION;
    hc.access_log = false;
    hc.stop_wait_ms = 3000;
    if (kv_http_new(&hc, &rx->http) != 0 ||
        kv_http_route(rx->http, "POST", "/v1/exchange", xt_rx_handler, rx) != 0)
        abort();
    char err[256];
    for (int i = 0; i < 50; i++) {
        if (kv_http_start(rx->http, err, sizeof err) == 0) {
            rx->port = kv_http_port(rx->http);
            return;
        }
        xt_sleep_ms(100); /* the port may linger a moment after a stop */
    }
    fprintf(stderr, "listen: %s\n", err);
    abort();
}

static inline void xt_rx_down(struct xt_rx *rx)
{
    kv_http_stop(rx->http);
    kv_http_free(rx->http);
    rx->http = NULL;
}

/* A receiving node of `country` whose messages are verified by `verify`
 * (ctx `verify_ctx`) and only recorded in the inbox; listening at once or
 * not (xt_rx_listen later). */
static inline void xt_rx_start_verify(struct xt_rx *rx, const char *country, bool listen,
                                      kv_exchange_verify_fn *verify, void *verify_ctx)
{
    memset(rx, 0, sizeof *rx);
    xt_tmpdir(rx->dir);
    memcpy(rx->country, country, 2);
    rx->store = xt_store(rx->dir, country);
    struct kv_exchange_in_config c = {.store = rx->store,
                                      .country = country,
                                      .verify = verify,
                                      .verify_ctx = verify_ctx,
                                      .apply_default = kv_exchange_apply_record,
                                      .default_ctx = rx->store};
    char err[256];
    if (kv_exchange_in_new(&c, &rx->x, err, sizeof err) != 0)
        abort();
    if (listen)
        xt_rx_listen(rx);
}

/* The same with the stand-in verifier. */
static inline void xt_rx_start(struct xt_rx *rx, const char *country, bool listen)
{
    xt_rx_start_verify(rx, country, listen, xt_verify, NULL);
}

static inline void xt_rx_stop(struct xt_rx *rx)
{
    if (rx->http)
        xt_rx_down(rx);
    kv_exchange_in_free(rx->x);
    kv_store_close(rx->store);
    xt_rmdir(rx->dir);
}

/* ---- the sending node ---------------------------------------------------------- */

struct xt_tx {
    char dir[256];
    struct kv_store *store;
    struct kv_exchange_out *w;
    struct xt_rx *peer; /* where every receiver is */
};

static inline int xt_url(void *ctx, const char *receiver, char *url, size_t n)
{
    struct xt_tx *tx = ctx;
    if (strcmp(receiver, tx->peer->country) != 0)
        return KV_ENOTFOUND;
    snprintf(url, n, "http://127.0.0.1:%u", tx->peer->port);
    return 0;
}

static inline void xt_tx_open(struct xt_tx *tx, const char *country, struct xt_rx *peer)
{
    memset(tx, 0, sizeof *tx);
    xt_tmpdir(tx->dir);
    tx->store = xt_store(tx->dir, country);
    tx->peer = peer;
}

/* Starts the worker with cfg (store, peer_url, sign filled in here). */
static inline void xt_tx_run(struct xt_tx *tx, struct kv_exchange_out_config cfg)
{
    cfg.store = tx->store;
    cfg.peer_url = xt_url;
    cfg.peer_ctx = tx;
    if (!cfg.sign)
        cfg.sign = xt_sign;
    char err[256];
    if (kv_exchange_out_new(&cfg, &tx->w, err, sizeof err) != 0) {
        fprintf(stderr, "worker: %s\n", err);
        abort();
    }
}

static inline void xt_tx_close(struct xt_tx *tx)
{
    kv_exchange_out_free(tx->w);
    tx->w = NULL;
    kv_store_close(tx->store);
    xt_rmdir(tx->dir);
}

static inline uint64_t xt_backlog(struct kv_store *s)
{
    struct kv_outbox_backlog b[KV_STORE_PEERS_MAX];
    size_t n = 0;
    char detail[KV_STORE_DETAIL_MAX];
    if (kv_store_outbox_backlog(s, b, KV_STORE_PEERS_MAX, &n, detail) != 0)
        abort();
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += b[i].pending;
    return t;
}

/* Waits (polling every 5 ms) until the sender's backlog is empty; false after timeout_ms. */
static inline bool xt_wait_drained(struct xt_tx *tx, int timeout_ms)
{
    int64_t end = xt_mono_ms() + timeout_ms;
    while (xt_backlog(tx->store) > 0) {
        if (xt_mono_ms() > end)
            return false;
        xt_sleep_ms(5);
    }
    return true;
}

/*
 * Enqueues n messages from tx (country `from`) to `to`: `streams` MRNs, n /
 * streams messages each, envelopes padded by `pad` bytes, presigned or not.
 * The MRNs are shaped like the sender's (no movement is needed for a
 * standalone enqueue).
 */
static inline void xt_enqueue(struct xt_tx *tx, const char *tag, const char *from, const char *to,
                              unsigned n, unsigned streams, size_t pad, bool presigned)
{
    char detail[KV_STORE_DETAIL_MAX];
    unsigned per = n / streams;
    struct xt_env *e = calloc(KV_STORE_ENQUEUE_MAX, sizeof *e);
    struct kv_outmsg *m = calloc(KV_STORE_ENQUEUE_MAX, sizeof *m);
    size_t k = 0;
    for (unsigned seq = 1; seq <= per; seq++) {
        for (unsigned st = 0; st < streams; st++) {
            char mrn[KV_MRN_LEN + 1];
            snprintf(mrn, sizeof mrn, "26%s%013uX", from, st);
            mrn[KV_MRN_LEN] = '\0';
            xt_env(&e[k], tag, from, to, mrn, seq, pad);
            m[k] = xt_out(&e[k], presigned);
            if (++k == KV_STORE_ENQUEUE_MAX || (seq == per && st == streams - 1)) {
                if (kv_store_outbox_enqueue(tx->store, m, k, detail) != 0) {
                    fprintf(stderr, "enqueue: %s\n", detail);
                    abort();
                }
                for (size_t i = 0; i < k; i++)
                    xt_env_free(&e[i]);
                k = 0;
            }
        }
    }
    free(e);
    free(m);
}

#endif
