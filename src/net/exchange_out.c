/*
 * exchange_out.c — the delivery worker (see exchange_out.h).
 *
 * One thread runs a loop around a libcurl multi handle:
 *
 *   fill:    for each receiver with a backlog (kv_store_outbox_backlog) that
 *            is not cooling off and has a free request slot, take its due
 *            stream heads (kv_store_outbox_due) that are not already in
 *            flight and start a POST for each;
 *   perform: let libcurl move the bytes;
 *   reap:    for every request that ended, decide delivered / failed,
 *            update the peer's health and hand the result to the settler;
 *   wait:    curl_multi_poll until a socket is ready, a kick, or the next
 *            due time (at most idle_ms).
 *
 * A second thread, the settler, records the results in the store: it takes
 * every result queued and records them in one transaction
 * (kv_store_outbox_settle); while that commit waits for the disk, new
 * results queue up for the next one, and the worker keeps its requests
 * going. A message is not sent again while its result waits to be recorded;
 * once recorded, the settler kicks the worker, which finds the stream's
 * next message due. (With the worker recording results itself, the drain
 * test ran at about 1,000 messages/s: every commit stopped the pipeline.)
 *
 * Both in-flight sets live only in memory: after a crash the same messages
 * are simply due again. A slot is one reused easy handle; connections are
 * kept alive in the multi handle's cache, so a busy receiver sees a few
 * long-lived connections.
 */
#include "net/exchange_out.h"

#include "core/err.h"
#include "net/log.h"
#include "net/metrics.h"
#include "store/store.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define RESP_MAX  1024 /* bytes of an answer kept (an ack is ~50) */
#define ERROR_MAX 200  /* bytes of an error kept for the log and the store */

/* Why an attempt failed: a bounded set, used as a metrics label. */
enum reason {
    R_CONNECT,   /* no connection */
    R_TIMEOUT,   /* connect or total timeout */
    R_TRANSPORT, /* another transfer error */
    R_HTTP_5XX,  /* 5xx, 429: the peer is unwell */
    R_HTTP_4XX,  /* another 4xx: the peer refuses this message */
    R_BAD_ACK,   /* 2xx without the acknowledgement of this id */
    R_NO_URL,    /* no URL for the receiver */
    R_SIGN,      /* the message could not be signed */
    R_COUNT
};

static const char *const reason_names[R_COUNT] = {"connect",  "timeout", "transport", "http_5xx",
                                                  "http_4xx", "bad_ack", "no_url",    "sign"};

/* Does this failure say the peer (not the message) is in trouble? */
static bool peer_level(enum reason r)
{
    return r == R_CONNECT || r == R_TIMEOUT || r == R_TRANSPORT || r == R_HTTP_5XX || r == R_NO_URL;
}

struct peer {
    char country[3];
    unsigned in_flight;
    unsigned unrecorded; /* results handed to the settler and not purged yet */
    uint32_t failures;   /* consecutive peer-level failure rounds */
    int64_t cool_until;  /* ms; no request before this */
    int64_t cooled_at;   /* ms; when the last cool-off began */
    bool probing;        /* after a cool-off: one request until one succeeds */
    struct kv_counter *delivered, *retried, *failed[R_COUNT];
};

struct transfer {
    CURL *h;
    bool busy;
    struct curl_slist *hdrs;
    struct peer *peer;
    char id[KV_STORE_MSG_ID_LEN + 1];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    uint32_t attempts; /* failed attempts before this one */
    int64_t started;   /* ms (the injected clock) */
    char *envelope;    /* owned */
    size_t envelope_len;
    char resp[RESP_MAX];
    size_t resp_len;
    bool resp_over;
    char curl_err[CURL_ERROR_SIZE];
};

/* A finished attempt, as the worker judged it. */
struct outcome {
    struct transfer *t;
    bool done;
    enum reason why;
    char error[ERROR_MAX];
};

/* A result handed to the settler. */
struct pending {
    char id[KV_STORE_MSG_ID_LEN + 1];
    struct peer *peer;
    bool done;
    bool retry; /* an attempt at a message that had failed before */
    enum reason why;
    int64_t next_attempt_ms;
    char error[ERROR_MAX];
};

#define PENDING_MAX 8192 /* results waiting to be recorded before the worker holds back */

struct kv_exchange_out {
    struct kv_exchange_out_config cfg;
    CURLM *multi;
    pthread_t thread;
    bool started, joined;

    pthread_mutex_t mu; /* guards stopping, kicked */
    bool stopping, kicked;

    struct transfer *slots;   /* max_in_flight */
    struct outcome *outcomes; /* max_in_flight: reap's scratch */
    unsigned busy;
    size_t rr; /* where fill starts in the receiver list (fairness) */
    struct peer peers[KV_STORE_PEERS_MAX];
    size_t n_peers;
    uint64_t rng;

    /*
     * The settler's queue. q[0..recorded) are recorded already but stay
     * until the worker's next fill purges them: that fill reads the due
     * messages after their commit, whereas a fill that read before it could
     * still hold them, and must find them excluded. q[recorded..qn) wait
     * (or are being recorded, in FIFO order).
     */
    pthread_t settler;
    bool settler_started;
    pthread_mutex_t sq_mu;
    pthread_cond_t sq_cv;
    struct pending *q;
    size_t qn, qcap, recorded;
    bool worker_done;

    _Atomic uint64_t attempts, delivered, failed, retried, settle_errors;
    _Atomic unsigned in_flight;
    _Atomic size_t queued; /* qn, for the worker's back-pressure check */
};

/* ---------------------------------------------------------------------------
 * Pure parts
 */

int64_t kv_exchange_backoff_ms(uint32_t attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd)
{
    if (attempt == 0 || base_ms == 0)
        return 0;
    uint64_t d = base_ms;
    for (uint32_t i = 1; i < attempt && d < cap_ms; i++)
        d *= 2; /* d <= 2 * cap < 2^33: no overflow */
    if (d > cap_ms)
        d = cap_ms;
    uint64_t half = d / 2;
    return (int64_t)(half + (uint64_t)rnd % (d - half + 1));
}

/* ---------------------------------------------------------------------------
 * Small helpers
 */

static int64_t wall_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t xorshift(void *ctx)
{
    struct kv_exchange_out *w = ctx;
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng >> 32);
}

static int64_t now_of(struct kv_exchange_out *w)
{
    return w->cfg.clock(w->cfg.clock_ctx);
}

static int64_t backoff(struct kv_exchange_out *w, uint32_t attempt)
{
    return kv_exchange_backoff_ms(attempt, w->cfg.backoff_base_ms, w->cfg.backoff_cap_ms,
                                  w->cfg.random(w->cfg.random_ctx));
}

static bool stopping(struct kv_exchange_out *w, bool *kicked)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stopping;
    if (kicked) {
        *kicked = w->kicked;
        w->kicked = false;
    }
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* The peer of `country`, created on first sight (NULL when the table is full). */
static struct peer *peer_of(struct kv_exchange_out *w, const char *country)
{
    for (size_t i = 0; i < w->n_peers; i++)
        if (strcmp(w->peers[i].country, country) == 0)
            return &w->peers[i];
    if (w->n_peers == KV_STORE_PEERS_MAX)
        return NULL;
    struct peer *p = &w->peers[w->n_peers++];
    memset(p, 0, sizeof *p);
    memcpy(p->country, country, 2);
    p->country[2] = '\0';
    if (w->cfg.metrics) {
        char l[KV_METRICS_LABELS_MAX];
        if (kv_metrics_labels(l, sizeof l, "receiver", p->country, NULL) == KV_OK) {
            p->delivered =
                kv_metrics_counter(w->cfg.metrics, "kervan_exchange_delivered_total",
                                   "Messages delivered to and acknowledged by a node", l);
            p->retried =
                kv_metrics_counter(w->cfg.metrics, "kervan_exchange_retries_total",
                                   "Attempts at a message whose earlier attempt failed", l);
        }
        for (int r = 0; r < R_COUNT; r++)
            if (kv_metrics_labels(l, sizeof l, "receiver", p->country, "reason", reason_names[r],
                                  NULL) == KV_OK)
                p->failed[r] =
                    kv_metrics_counter(w->cfg.metrics, "kervan_exchange_attempts_failed_total",
                                       "Delivery attempts that failed, by receiver and reason", l);
    }
    return p;
}

/* Is the message being sent, or its result waiting to be recorded? */
static bool in_flight(struct kv_exchange_out *w, const char *id)
{
    for (unsigned i = 0; i < w->cfg.max_in_flight; i++)
        if (w->slots[i].busy && strcmp(w->slots[i].id, id) == 0)
            return true;
    bool found = false;
    pthread_mutex_lock(&w->sq_mu);
    for (size_t i = 0; i < w->qn && !found; i++)
        found = strcmp(w->q[i].id, id) == 0;
    pthread_mutex_unlock(&w->sq_mu);
    return found;
}

static struct transfer *free_slot(struct kv_exchange_out *w)
{
    for (unsigned i = 0; i < w->cfg.max_in_flight; i++)
        if (!w->slots[i].busy)
            return &w->slots[i];
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Metrics gauges
 */

static void gauge_backlog(struct kv_metrics_sink *sink, void *ctx)
{
    struct kv_exchange_out *w = ctx;
    struct kv_outbox_backlog b[KV_STORE_PEERS_MAX];
    size_t n = 0;
    char detail[KV_STORE_DETAIL_MAX];
    if (kv_store_outbox_backlog(w->cfg.store, b, KV_STORE_PEERS_MAX, &n, detail) != KV_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        char l[KV_METRICS_LABELS_MAX];
        if (kv_metrics_labels(l, sizeof l, "receiver", b[i].receiver, NULL) == KV_OK)
            kv_metrics_sink_value(sink, l, (double)b[i].pending);
    }
}

static void gauge_in_flight(struct kv_metrics_sink *sink, void *ctx)
{
    struct kv_exchange_out *w = ctx;
    kv_metrics_sink_value(sink, NULL, (double)atomic_load(&w->in_flight));
}

/* ---------------------------------------------------------------------------
 * Starting a request
 */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct transfer *t = ud;
    size_t n = size * nmemb;
    size_t room = sizeof t->resp - 1 - t->resp_len;
    if (n > room) {
        t->resp_over = true;
        n = room;
    }
    memcpy(t->resp + t->resp_len, data, n);
    t->resp_len += n;
    t->resp[t->resp_len] = '\0';
    return size * nmemb; /* keep reading; only the start is kept */
}

static void transfer_clear(struct kv_exchange_out *w, struct transfer *t)
{
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    free(t->envelope);
    t->envelope = NULL;
    if (t->peer)
        t->peer->in_flight--;
    t->peer = NULL;
    t->busy = false;
    w->busy--;
    atomic_store(&w->in_flight, w->busy);
}

/* Builds the request of item `it` (whose envelope it takes over) on slot t.
 * Returns 0, or a reason with err filled when it cannot be sent. */
static int transfer_start(struct kv_exchange_out *w, struct transfer *t, struct peer *p,
                          struct kv_outbox_item *it, enum reason *why, char *err, size_t errsz)
{
    t->busy = true;
    w->busy++;
    atomic_store(&w->in_flight, w->busy);
    t->started = now_of(w);
    t->peer = p;
    p->in_flight++;
    memcpy(t->id, it->id, sizeof t->id);
    memcpy(t->mrn, it->mrn, sizeof t->mrn);
    t->seq = it->seq;
    t->attempts = it->attempts;
    t->envelope = it->envelope;
    t->envelope_len = it->envelope_len;
    it->envelope = NULL;
    t->resp_len = 0;
    t->resp[0] = '\0';
    t->resp_over = false;
    t->curl_err[0] = '\0';

    char base[KV_EXCHANGE_URL_MAX], url[KV_EXCHANGE_URL_MAX + 32];
    base[0] = '\0';
    int rc = w->cfg.peer_url(w->cfg.peer_ctx, p->country, base, sizeof base);
    size_t bl = strnlen(base, sizeof base);
    if (rc || bl == 0 || bl == sizeof base ||
        (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)) {
        *why = R_NO_URL;
        snprintf(err, errsz, "no URL for receiver %s", p->country);
        return KV_ENOTFOUND;
    }
    while (bl && base[bl - 1] == '/')
        base[--bl] = '\0';
    snprintf(url, sizeof url, "%s%s", base, KV_EXCHANGE_PATH);

    char sig[KV_STORE_SIGNATURE_MAX + 32];
    const char *s = it->signature;
    char made[KV_STORE_SIGNATURE_MAX];
    if (!s[0]) {
        made[0] = '\0';
        rc = w->cfg.sign
                 ? w->cfg.sign(w->cfg.sign_ctx, t->envelope, t->envelope_len, made, sizeof made)
                 : KV_EINVAL;
        if (rc || !made[0] || strpbrk(made, "\r\n")) {
            *why = R_SIGN;
            snprintf(err, errsz, "cannot sign the message: %s",
                     w->cfg.sign ? kv_strerror(rc ? rc : KV_EINVAL) : "no signer configured");
            return rc ? rc : KV_EINVAL;
        }
        s = made;
    }
    snprintf(sig, sizeof sig, KV_EXCHANGE_SIG_HDR ": %s", s);
    const char *lines[] = {"Content-Type: application/json", "Accept: application/json",
                           "Expect:", sig};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *n = curl_slist_append(t->hdrs, lines[i]);
        if (!n) {
            *why = R_TRANSPORT;
            snprintf(err, errsz, "out of memory");
            return KV_ENOMEM;
        }
        t->hdrs = n;
    }
    CURL *h = t->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->envelope);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->envelope_len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kervan/" KV_VERSION);
    if (curl_multi_add_handle(w->multi, h) != CURLM_OK) {
        *why = R_TRANSPORT;
        snprintf(err, errsz, "cannot start the request");
        return KV_EIO;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Finishing a request
 */

/* Did the answer acknowledge this id? {"ack":"<id>", ...} */
static bool acknowledged(const struct transfer *t)
{
    if (t->resp_over)
        return false;
    json_object *o = json_tokener_parse(t->resp);
    json_object *ack = NULL;
    bool ok = o && json_object_is_type(o, json_type_object) &&
              json_object_object_get_ex(o, "ack", &ack) &&
              json_object_is_type(ack, json_type_string) &&
              strcmp(json_object_get_string(ack), t->id) == 0;
    json_object_put(o);
    return ok;
}

/* Copies the start of the answer into a log-safe one-line excerpt. */
static void excerpt(const struct transfer *t, char *out, size_t outsz)
{
    size_t n = 0;
    for (size_t i = 0; i < t->resp_len && n + 1 < outsz && n < 120; i++) {
        unsigned char c = (unsigned char)t->resp[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    out[n] = '\0';
}

static void judge(struct transfer *t, CURLcode res, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    o->t = t;
    const char *ce = t->curl_err[0] ? t->curl_err : curl_easy_strerror(res);
    if (res != CURLE_OK) {
        o->why = res == CURLE_OPERATION_TIMEDOUT                                     ? R_TIMEOUT
                 : res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ? R_CONNECT
                                                                                     : R_TRANSPORT;
        snprintf(o->error, sizeof o->error, "%.190s", ce);
        return;
    }
    long status = 0;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);
    char ex[128];
    excerpt(t, ex, sizeof ex);
    if (status >= 200 && status < 300) {
        if (acknowledged(t)) {
            o->done = true;
            return;
        }
        o->why = R_BAD_ACK;
        snprintf(o->error, sizeof o->error, "HTTP %ld without the acknowledgement: %s", status, ex);
        return;
    }
    o->why = status >= 500 || status == 429 ? R_HTTP_5XX : R_HTTP_4XX;
    snprintf(o->error, sizeof o->error, "HTTP %ld: %s", status, ex);
}

static void log_failure(const struct transfer *t, const struct peer *p, const struct outcome *o,
                        int64_t delay)
{
    struct kv_log_line l;
    kv_log_begin(&l, KV_LOG_WARN, "exchange delivery failed");
    kv_log_str(&l, "receiver", p->country);
    kv_log_str(&l, "id", t->id);
    kv_log_str(&l, "mrn", t->mrn);
    kv_log_uint(&l, "seq", t->seq);
    kv_log_uint(&l, "attempt", (uint64_t)t->attempts + 1);
    kv_log_str(&l, "reason", reason_names[o->why]);
    kv_log_str(&l, "error", o->error);
    kv_log_int(&l, "retry_in_ms", delay);
    kv_log_end(&l);
}

/*
 * Updates the peer's health after an attempt. Requests that were in flight
 * together fail together: only a failure of a request started after the
 * last cool-off began makes the next cool-off longer.
 */
static void peer_result(struct kv_exchange_out *w, struct peer *p, const struct outcome *o,
                        int64_t now)
{
    if (o->done) {
        if (p->failures) {
            struct kv_log_line l;
            kv_log_begin(&l, KV_LOG_INFO, "exchange peer answers again");
            kv_log_str(&l, "receiver", p->country);
            kv_log_uint(&l, "failures", p->failures);
            kv_log_end(&l);
        }
        p->failures = 0;
        p->cool_until = 0;
        p->probing = false;
        return;
    }
    if (!peer_level(o->why))
        return;
    if (p->failures && o->t->started <= p->cooled_at)
        return; /* the same round as the failure that began this cool-off */
    p->failures++;
    p->cool_until = now + backoff(w, p->failures);
    p->cooled_at = now;
    p->probing = true;
}

/*
 * Hands the outcomes of finished attempts to the settler and frees their
 * slots. The peer's health is updated here at once (the next fill must
 * see a peer that just failed); counting waits until the result is
 * recorded.
 */
static void hand_over(struct kv_exchange_out *w, struct outcome *o, size_t n)
{
    if (n == 0)
        return;
    int64_t now = now_of(w);
    pthread_mutex_lock(&w->sq_mu);
    if (w->qn + n > w->qcap) {
        size_t cap = w->qcap ? w->qcap : 256;
        while (cap < w->qn + n)
            cap *= 2;
        struct pending *q = realloc(w->q, cap * sizeof *q);
        if (q) {
            w->q = q;
            w->qcap = cap;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct transfer *t = o[i].t;
        struct peer *p = t->peer;
        peer_result(w, p, &o[i], now);
        if (w->qn < w->qcap) {
            struct pending *x = &w->q[w->qn++];
            p->unrecorded++;
            memset(x, 0, sizeof *x);
            memcpy(x->id, t->id, sizeof x->id);
            x->peer = p;
            x->done = o[i].done;
            x->retry = t->attempts > 0;
            x->why = o[i].why;
            if (!o[i].done) {
                int64_t delay = backoff(w, t->attempts + 1);
                x->next_attempt_ms = now + delay;
                memcpy(x->error, o[i].error, sizeof x->error);
                log_failure(t, p, &o[i], delay);
            }
        } else {
            /* No memory to queue it: the message simply goes again later. */
            atomic_fetch_add(&w->settle_errors, 1);
        }
        transfer_clear(w, t);
    }
    atomic_store(&w->queued, w->qn);
    pthread_cond_signal(&w->sq_cv);
    pthread_mutex_unlock(&w->sq_mu);
}

/* Records a batch taken from the queue; counts what was recorded. */
static void record(struct kv_exchange_out *w, struct pending *b, size_t n)
{
    struct kv_outbox_settle v[KV_STORE_SETTLE_MAX];
    int res[KV_STORE_SETTLE_MAX];
    for (size_t i = 0; i < n; i++)
        v[i] = (struct kv_outbox_settle){.id = b[i].id,
                                         .done = b[i].done,
                                         .next_attempt_ms = b[i].next_attempt_ms,
                                         .error = b[i].error};
    int64_t now = now_of(w);
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_outbox_settle(w->cfg.store, v, n, now > 0 ? now : 1, res, detail);
    if (rc) {
        atomic_fetch_add(&w->settle_errors, n);
        kv_log_error("exchange: cannot record %zu delivery results: %s (%s)", n,
                     kv_store_strerror(rc), detail);
        return; /* they are still undelivered in the store and go again */
    }
    for (size_t i = 0; i < n; i++) {
        struct peer *p = b[i].peer;
        if (res[i]) {
            atomic_fetch_add(&w->settle_errors, 1);
            kv_log_error("exchange: result of message %s not recorded: %s", b[i].id,
                         kv_store_strerror(res[i]));
            continue;
        }
        atomic_fetch_add(&w->attempts, 1);
        if (b[i].retry) {
            atomic_fetch_add(&w->retried, 1);
            kv_counter_add(p->retried, 1);
        }
        if (b[i].done) {
            atomic_fetch_add(&w->delivered, 1);
            kv_counter_add(p->delivered, 1);
        } else {
            atomic_fetch_add(&w->failed, 1);
            kv_counter_add(p->failed[b[i].why], 1);
        }
    }
}

static void *settler_main(void *arg)
{
    struct kv_exchange_out *w = arg;
    struct pending *batch = calloc(KV_STORE_SETTLE_MAX, sizeof *batch);
    pthread_mutex_lock(&w->sq_mu);
    for (;;) {
        while (w->qn == w->recorded && !w->worker_done)
            pthread_cond_wait(&w->sq_cv, &w->sq_mu);
        if (w->qn == w->recorded)
            break; /* the worker has ended and everything is recorded */
        size_t n = w->qn - w->recorded;
        if (n > KV_STORE_SETTLE_MAX)
            n = KV_STORE_SETTLE_MAX;
        if (batch)
            memcpy(batch, w->q + w->recorded, n * sizeof *batch);
        pthread_mutex_unlock(&w->sq_mu);

        if (batch)
            record(w, batch, n);

        pthread_mutex_lock(&w->sq_mu);
        /* A purge meanwhile removed only the prefix before this batch. */
        w->recorded += n;
        pthread_mutex_unlock(&w->sq_mu);
        /* The streams moved on: let the worker look. */
        kv_exchange_out_kick(w);
        pthread_mutex_lock(&w->sq_mu);
    }
    pthread_mutex_unlock(&w->sq_mu);
    free(batch);
    return NULL;
}

/* Drops the results recorded before this moment (see struct kv_exchange_out). */
static void purge_recorded(struct kv_exchange_out *w)
{
    pthread_mutex_lock(&w->sq_mu);
    if (w->recorded) {
        for (size_t i = 0; i < w->recorded; i++)
            w->q[i].peer->unrecorded--;
        memmove(w->q, w->q + w->recorded, (w->qn - w->recorded) * sizeof *w->q);
        w->qn -= w->recorded;
        w->recorded = 0;
        atomic_store(&w->queued, w->qn);
    }
    pthread_mutex_unlock(&w->sq_mu);
}

/* Collects the requests libcurl has finished and hands them over. Returns how many. */
static size_t reap(struct kv_exchange_out *w)
{
    struct outcome *o = w->outcomes;
    size_t n = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        struct transfer *t = (struct transfer *)(void *)priv;
        CURLcode res = m->data.result;
        curl_multi_remove_handle(w->multi, m->easy_handle);
        if (t && n < w->cfg.max_in_flight)
            judge(t, res, &o[n++]);
    }
    hand_over(w, o, n);
    return n;
}

/* ---------------------------------------------------------------------------
 * Filling the slots
 */

/*
 * Starts requests for due messages while slots are free. Returns the
 * earliest time (ms, the injected clock) something will be due that is not
 * due now, or INT64_MAX.
 */
static int64_t fill(struct kv_exchange_out *w)
{
    purge_recorded(w); /* before reading what is due: see struct kv_exchange_out */
    int64_t now = now_of(w), wake = INT64_MAX;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_outbox_backlog b[KV_STORE_PEERS_MAX];
    size_t nb = 0;
    if (kv_store_outbox_backlog(w->cfg.store, b, KV_STORE_PEERS_MAX, &nb, detail) != KV_OK) {
        kv_log_error("exchange: cannot read the outbox backlog: %s", detail);
        return wake;
    }
    struct outcome failed[64];
    size_t n_failed = 0;
    size_t first = nb ? w->rr++ % nb : 0;
    if (atomic_load(&w->queued) >= PENDING_MAX)
        return wake; /* the settler is behind: hold back */
    for (size_t k = 0; k < nb && w->busy < w->cfg.max_in_flight; k++) {
        struct peer *p = peer_of(w, b[(first + k) % nb].receiver);
        if (!p)
            continue;
        if (p->cool_until > now) {
            if (p->cool_until < wake)
                wake = p->cool_until;
            continue;
        }
        unsigned cap = p->probing ? 1 : w->cfg.per_peer;
        if (p->in_flight >= cap)
            continue;
        unsigned room = cap - p->in_flight;
        if (room > w->cfg.max_in_flight - w->busy)
            room = w->cfg.max_in_flight - w->busy;
        struct kv_outbox_due d;
        int rc =
            kv_store_outbox_due(w->cfg.store, now, p->country, room + p->in_flight, &d, detail);
        if (rc) {
            kv_log_error("exchange: cannot read the due messages for %s: %s", p->country, detail);
            continue;
        }
        if (d.next_at_ms > 0 && d.next_at_ms < wake)
            wake = d.next_at_ms;
        for (size_t j = 0; j < d.n && room > 0; j++) {
            struct kv_outbox_item *it = &d.items[j];
            if (in_flight(w, it->id))
                continue;
            struct transfer *t = free_slot(w);
            if (!t)
                break;
            room--;
            enum reason why = R_TRANSPORT;
            char err[ERROR_MAX] = "";
            if (transfer_start(w, t, p, it, &why, err, sizeof err) != 0) {
                /* Not sent: recorded as a failed attempt with the others. */
                struct outcome *o = &failed[n_failed++];
                memset(o, 0, sizeof *o);
                o->t = t;
                o->why = why;
                snprintf(o->error, sizeof o->error, "%.190s", err);
                if (n_failed == sizeof failed / sizeof failed[0]) {
                    hand_over(w, failed, n_failed);
                    n_failed = 0;
                }
                if (p->probing || peer_level(why))
                    break; /* the peer is cooling now */
            }
        }
        kv_store_outbox_due_free(&d);
    }
    hand_over(w, failed, n_failed);
    return wake;
}

/* ---------------------------------------------------------------------------
 * The thread
 */

static void *worker_main(void *arg)
{
    struct kv_exchange_out *w = arg;
    bool refill = true;
    int64_t wake_at = 0;   /* injected clock */
    int64_t last_fill = 0; /* monotonic */
    int64_t stop_deadline = 0;
    for (;;) {
        bool kicked = false;
        bool stop = stopping(w, &kicked);
        if (stop) {
            if (!stop_deadline)
                stop_deadline = mono_ms() + w->cfg.stop_grace_ms;
            if (w->busy == 0 || mono_ms() >= stop_deadline)
                break;
        } else {
            int64_t now = now_of(w), mono = mono_ms();
            if (kicked || refill || now >= wake_at || mono - last_fill >= w->cfg.idle_ms) {
                wake_at = fill(w);
                last_fill = mono;
                refill = false;
            }
        }
        int running = 0;
        curl_multi_perform(w->multi, &running);
        if (reap(w) > 0) {
            refill = true;
            continue;
        }
        int64_t timeout = w->cfg.idle_ms;
        if (!stop && wake_at != INT64_MAX) {
            int64_t until = wake_at - now_of(w);
            if (until < timeout)
                timeout = until < 0 ? 0 : until;
        }
        if (stop)
            timeout = 50;
        curl_multi_poll(w->multi, NULL, 0, (int)timeout, NULL);
    }
    /* Abandon what is still in flight: it stays undelivered in the outbox. */
    for (unsigned i = 0; i < w->cfg.max_in_flight; i++) {
        struct transfer *t = &w->slots[i];
        if (t->busy) {
            curl_multi_remove_handle(w->multi, t->h);
            transfer_clear(w, t);
        }
    }
    pthread_mutex_lock(&w->sq_mu);
    w->worker_done = true;
    pthread_cond_signal(&w->sq_cv);
    pthread_mutex_unlock(&w->sq_mu);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Lifecycle
 */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_rc = CURLE_FAILED_INIT;

static void curl_start(void)
{
    curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void defaults(struct kv_exchange_out_config *c)
{
    if (!c->backoff_base_ms)
        c->backoff_base_ms = KV_EXCHANGE_BACKOFF_BASE_MS;
    if (!c->backoff_cap_ms)
        c->backoff_cap_ms = KV_EXCHANGE_BACKOFF_CAP_MS;
    if (!c->connect_timeout_ms)
        c->connect_timeout_ms = KV_EXCHANGE_CONNECT_MS;
    if (!c->timeout_ms)
        c->timeout_ms = KV_EXCHANGE_TIMEOUT_MS;
    if (!c->per_peer)
        c->per_peer = KV_EXCHANGE_PER_PEER;
    if (!c->max_in_flight)
        c->max_in_flight = KV_EXCHANGE_IN_FLIGHT;
    if (!c->idle_ms)
        c->idle_ms = KV_EXCHANGE_IDLE_MS;
    if (!c->stop_grace_ms)
        c->stop_grace_ms = KV_EXCHANGE_STOP_GRACE_MS;
}

static void release(struct kv_exchange_out *w)
{
    if (w->slots) {
        for (unsigned i = 0; i < w->cfg.max_in_flight; i++) {
            if (w->slots[i].h)
                curl_easy_cleanup(w->slots[i].h);
            curl_slist_free_all(w->slots[i].hdrs);
            free(w->slots[i].envelope);
        }
    }
    if (w->multi)
        curl_multi_cleanup(w->multi);
    free(w->slots);
    free(w->outcomes);
    free(w->q);
    pthread_cond_destroy(&w->sq_cv);
    pthread_mutex_destroy(&w->sq_mu);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int kv_exchange_out_new(const struct kv_exchange_out_config *cfg, struct kv_exchange_out **out,
                        char *err, size_t errsz)
{
    *out = NULL;
    if (!cfg || !cfg->store || !cfg->peer_url) {
        snprintf(err, errsz, "the delivery worker needs a store and a peer URL lookup");
        return KV_EINVAL;
    }
    struct kv_exchange_out_config c = *cfg;
    defaults(&c);
    if (c.max_in_flight > KV_EXCHANGE_IN_FLIGHT_MAX || c.per_peer > c.max_in_flight ||
        c.backoff_base_ms > c.backoff_cap_ms || c.idle_ms > 3600000 || c.timeout_ms > 3600000 ||
        c.connect_timeout_ms > 3600000 || c.stop_grace_ms > 3600000) {
        snprintf(err, errsz,
                 "delivery settings out of range (in flight <= %d, per peer <= in flight, "
                 "backoff base <= cap, times <= 1 h)",
                 KV_EXCHANGE_IN_FLIGHT_MAX);
        return KV_EINVAL;
    }
    pthread_once(&curl_once, curl_start);
    if (curl_rc != CURLE_OK) {
        snprintf(err, errsz, "cannot initialise libcurl: %s", curl_easy_strerror(curl_rc));
        return KV_EIO;
    }
    struct kv_exchange_out *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errsz, "out of memory");
        return KV_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->sq_mu, NULL);
    pthread_cond_init(&w->sq_cv, NULL);
    w->cfg = c;
    if (!w->cfg.clock)
        w->cfg.clock = wall_ms;
    if (!w->cfg.random) {
        w->cfg.random = xorshift;
        w->cfg.random_ctx = w;
        if (getrandom(&w->rng, sizeof w->rng, 0) != (ssize_t)sizeof w->rng || !w->rng)
            w->rng = (uint64_t)mono_ms() * 0x9E3779B97F4A7C15ull | 1;
    }
    w->slots = calloc(c.max_in_flight, sizeof *w->slots);
    w->outcomes = calloc(c.max_in_flight, sizeof *w->outcomes);
    w->multi = curl_multi_init();
    if (!w->slots || !w->outcomes || !w->multi) {
        release(w);
        snprintf(err, errsz, "out of memory");
        return KV_ENOMEM;
    }
    for (unsigned i = 0; i < c.max_in_flight; i++) {
        if (!(w->slots[i].h = curl_easy_init())) {
            release(w);
            snprintf(err, errsz, "out of memory");
            return KV_ENOMEM;
        }
    }
    /* Connections are reused across requests; keep enough of them open. */
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)c.max_in_flight);
    if (pthread_create(&w->settler, NULL, settler_main, w) != 0) {
        release(w);
        snprintf(err, errsz, "cannot start the settling thread");
        return KV_EIO;
    }
    w->settler_started = true;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_lock(&w->sq_mu);
        w->worker_done = true;
        pthread_cond_signal(&w->sq_cv);
        pthread_mutex_unlock(&w->sq_mu);
        pthread_join(w->settler, NULL);
        release(w);
        snprintf(err, errsz, "cannot start the delivery thread");
        return KV_EIO;
    }
    w->started = true;
    if (c.metrics) {
        (void)kv_metrics_callback(c.metrics, "kervan_exchange_backlog",
                                  "Messages in the outbox not yet acknowledged, by receiver",
                                  KV_METRIC_GAUGE, gauge_backlog, w);
        (void)kv_metrics_callback(c.metrics, "kervan_exchange_in_flight",
                                  "Delivery requests in flight", KV_METRIC_GAUGE, gauge_in_flight,
                                  w);
    }
    *out = w;
    return KV_OK;
}

void kv_exchange_out_kick(struct kv_exchange_out *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    bool wake = !w->stopping;
    w->kicked = true;
    pthread_mutex_unlock(&w->mu);
    if (wake)
        curl_multi_wakeup(w->multi);
}

void kv_exchange_out_stop(struct kv_exchange_out *w)
{
    if (!w || !w->started || w->joined)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    pthread_join(w->settler, NULL); /* it records what the worker handed over, then ends */
    w->joined = true;
}

void kv_exchange_out_free(struct kv_exchange_out *w)
{
    if (!w)
        return;
    kv_exchange_out_stop(w);
    if (w->cfg.metrics) {
        kv_metrics_callback_remove(w->cfg.metrics, "kervan_exchange_backlog");
        kv_metrics_callback_remove(w->cfg.metrics, "kervan_exchange_in_flight");
    }
    release(w);
}

void kv_exchange_out_stats(const struct kv_exchange_out *w, struct kv_exchange_out_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!w)
        return;
    st->attempts = atomic_load(&w->attempts);
    st->delivered = atomic_load(&w->delivered);
    st->failed = atomic_load(&w->failed);
    st->retried = atomic_load(&w->retried);
    st->settle_errors = atomic_load(&w->settle_errors);
    st->in_flight = atomic_load(&w->in_flight);
}
