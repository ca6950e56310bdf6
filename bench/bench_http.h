/*
 * bench_http.h — what the HTTP benchmarks share: the bare libmicrohttpd
 * server that is their ceiling, and the closed-loop POST driver that loads
 * it and the node alike.
 *
 *   kvb_bare_*   MHD alone: epoll, an internal thread pool, the two-call
 *                pattern (keep-alive), one shared static response; reads
 *                (and drops) a request's body, then answers GET with 200
 *                and POST with the status it was given. No work: what a
 *                request costs in HTTP and nothing else.
 *   kvb_post_*   keeps C connections busy (libcurl multi, one easy handle
 *                per connection, each re-sent as soon as its answer is in)
 *                with POSTs whose bodies a callback hands over, for a
 *                warm-up and then a measured window; counts answers,
 *                2xx ones, new TCP connections, and each request's latency
 *                from hand-over to libcurl to the last byte of the answer.
 *
 * Used by bench/http_hello.c, bench/loadgen.c and bench/exchange_rate.c.
 * Header-only (static functions): each bench program is its own. For
 * loopback benchmarking only: no certificate checks, no redirects; an
 * allocation failure ends the program (exit 2).
 */
#ifndef KV_BENCH_HTTP_H
#define KV_BENCH_HTTP_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KVB_CONNS_MAX 1024

static inline void kvb_die(const char *msg)
{
    fprintf(stderr, "bench: %s\n", msg);
    exit(2);
}

static inline double kvb_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the bare server ---------------------------------------------------------- */

struct kvb_bare {
    struct MHD_Daemon *d;
    struct MHD_Response *r;
    unsigned post_status;
    unsigned port;
};

static inline enum MHD_Result kvb_bare_access(void *cls, struct MHD_Connection *conn,
                                              const char *url, const char *method,
                                              const char *version, const char *upload,
                                              size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload;
    struct kvb_bare *b = cls;
    static int marker;
    if (*con_cls == NULL) { /* first call: answer on the next one (keep-alive) */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* read (and drop) the body; answer after the last chunk */
        *upload_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, strcmp(method, "POST") == 0 ? b->post_status : 200, b->r);
}

/*
 * Starts the bare server on 127.0.0.1, port 0 (b->port gets the one
 * chosen) with `threads` epoll threads (1: a single polling thread),
 * answering every request with `body` (application/json; kept, not copied:
 * it must outlive the server) — POST with post_status, GET with 200.
 * Returns 0 or -1.
 */
static inline int kvb_bare_start(struct kvb_bare *b, unsigned threads, unsigned post_status,
                                 const char *body)
{
    memset(b, 0, sizeof *b);
    b->post_status = post_status;
    b->r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!b->r)
        return -1;
    MHD_add_response_header(b->r, "Content-Type", "application/json");
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    b->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        kvb_bare_access, b, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 256u,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
    if (!b->d) {
        MHD_destroy_response(b->r);
        b->r = NULL;
        return -1;
    }
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(b->d, MHD_DAEMON_INFO_BIND_PORT);
    b->port = i ? i->port : 0;
    return 0;
}

/* Stops the server and frees its response. Safe on a zeroed struct. */
static inline void kvb_bare_stop(struct kvb_bare *b)
{
    if (b->d)
        MHD_stop_daemon(b->d);
    if (b->r)
        MHD_destroy_response(b->r);
    b->d = NULL;
    b->r = NULL;
}

/* ---- the closed-loop POST driver ----------------------------------------------- */

/*
 * Hands over the next request's body for connection `conn` (0..C-1): *body
 * and *len, and *header, one extra header line for this request ("Name:
 * value") or NULL. The bytes must stay valid until that request's answer
 * is in (the driver does not copy them).
 */
typedef void kvb_body_fn(void *ctx, unsigned conn, const char **body, size_t *len,
                         const char **header);

struct kvb_post_config {
    const char *url;
    const char *token;    /* bearer token for every request, or NULL */
    unsigned connections; /* 1..KVB_CONNS_MAX */
    double warmup;        /* seconds run before measuring */
    double duration;      /* measured seconds */
    kvb_body_fn *next_body;
    void *ctx;
};

struct kvb_post_result {
    uint64_t answered; /* requests started in the measured window, answered */
    uint64_t ok;       /* of which 200 or 201 */
    uint64_t failed;
    uint64_t connects; /* new TCP connections made by those requests */
    double secs;       /* the measured window */
    uint32_t *lat;     /* microseconds, sorted after the run (caller frees) */
    size_t nlat, caplat;
    long first_bad_status;
    char first_bad_body[600];
};

struct kvb_conn {
    CURL *h;
    struct curl_slist *hdrs; /* the shared headers plus this request's own */
    char resp[512];          /* start of the answer's body (for errors) */
    size_t resp_len;
    struct timespec t0;
};

static inline size_t kvb_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct kvb_conn *c = ud;
    size_t n = size * nmemb, room = sizeof(c->resp) - 1 - c->resp_len;
    size_t k = n < room ? n : room;
    memcpy(c->resp + c->resp_len, data, k);
    c->resp_len += k;
    c->resp[c->resp_len] = '\0';
    return n;
}

static inline struct curl_slist *kvb_headers(const char *token, const char *extra)
{
    struct curl_slist *h = NULL;
    char auth[600];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (extra)
        h = curl_slist_append(h, extra);
    if (!h)
        kvb_die("out of memory");
    return h;
}

static inline void kvb_post_start(CURLM *m, const struct kvb_post_config *cfg, unsigned i,
                                  struct kvb_conn *c)
{
    const char *body = NULL, *extra = NULL;
    size_t len = 0;
    cfg->next_body(cfg->ctx, i, &body, &len, &extra);
    if (extra || !c->hdrs) {
        curl_slist_free_all(c->hdrs);
        c->hdrs = kvb_headers(cfg->token, extra);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    }
    c->resp_len = 0;
    c->resp[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    curl_multi_add_handle(m, c->h);
}

static inline int kvb_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile (0..1) of the latencies, in milliseconds (0 without any). */
static inline double kvb_pct(const struct kvb_post_result *r, double p)
{
    if (r->nlat == 0)
        return 0;
    size_t i = (size_t)(p * (double)(r->nlat - 1) + 0.5);
    return r->lat[i] / 1000.0;
}

/*
 * Runs the closed loop against cfg->url and fills *r (zero it first; free
 * r->lat after). curl_global_init must have been called. Requests started
 * before the window or after it are not counted; after the window the
 * requests in flight are waited for.
 */
static inline void kvb_post_run(const struct kvb_post_config *cfg, struct kvb_post_result *r)
{
    unsigned nconn = cfg->connections;
    if (nconn == 0 || nconn > KVB_CONNS_MAX)
        kvb_die("connections: 1-1024");
    CURLM *m = curl_multi_init();
    struct kvb_conn *cs = calloc(nconn, sizeof(*cs));
    if (!m || !cs)
        kvb_die("out of memory");
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nconn);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nconn);
    for (unsigned i = 0; i < nconn; i++) {
        struct kvb_conn *c = &cs[i];
        c->h = curl_easy_init();
        if (!c->h)
            kvb_die("out of memory");
        curl_easy_setopt(c->h, CURLOPT_URL, cfg->url);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, kvb_on_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, (char *)c);
        kvb_post_start(m, cfg, i, c);
    }
    double t_begin = kvb_now_s(), t_measure = t_begin + cfg->warmup,
           t_end = t_measure + cfg->duration;
    bool stopping = false;
    unsigned running = nconn;
    while (running > 0) {
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        if (!stopping && kvb_now_s() >= t_end)
            stopping = true;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            struct kvb_conn *c = (struct kvb_conn *)priv;
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long status = 0, nc = 0;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &nc);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, c->h);
            double started = (double)c->t0.tv_sec + (double)c->t0.tv_nsec / 1e9;
            if (started >= t_measure && started < t_end) {
                uint64_t us = (uint64_t)((t1.tv_sec - c->t0.tv_sec) * 1000000LL +
                                         (t1.tv_nsec - c->t0.tv_nsec) / 1000);
                r->answered++;
                r->connects += (uint64_t)nc;
                if (rc == CURLE_OK && (status == 201 || status == 200)) {
                    r->ok++;
                } else {
                    r->failed++;
                    if (!r->first_bad_status && !r->first_bad_body[0]) {
                        r->first_bad_status = status;
                        snprintf(r->first_bad_body, sizeof(r->first_bad_body), "%s",
                                 rc == CURLE_OK ? c->resp : curl_easy_strerror(rc));
                    }
                }
                if (r->nlat == r->caplat) {
                    r->caplat = r->caplat ? r->caplat * 2 : 65536;
                    r->lat = realloc(r->lat, r->caplat * sizeof(*r->lat));
                    if (!r->lat)
                        kvb_die("out of memory");
                }
                r->lat[r->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            }
            if (stopping)
                running--;
            else
                kvb_post_start(m, cfg, (unsigned)(c - cs), c);
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    r->secs = cfg->duration;
    for (unsigned i = 0; i < nconn; i++) {
        curl_easy_cleanup(cs[i].h);
        curl_slist_free_all(cs[i].hdrs);
    }
    curl_multi_cleanup(m);
    free(cs);
    qsort(r->lat, r->nlat, sizeof(*r->lat), kvb_cmp_u32);
}

#endif
