/*
 * http.c — the route-table HTTP server over libmicrohttpd 0.9.75 (see
 * http.h for the contract).
 *
 * Request life, in MHD's callbacks:
 *   on_uri        request line parsed: allocate the request (arena, raw URI
 *                 copy), count it in flight. Its return value becomes MHD's
 *                 per-request pointer.
 *   on_access #1  headers parsed: parse the target, match a route, check
 *                 Content-Length. Answer nothing yet (keep-alive gotcha),
 *                 except an early 413 for a body we refuse to read.
 *   on_access #k  body chunks: append (bounded) or discard.
 *   on_access end *upload_data_size == 0: run the handler, queue the answer.
 *   on_completed  response sent or connection lost: access log, metrics,
 *                 free the request, count it out of flight.
 *
 * The listening socket is ours (bound here, so bind errors are exact, and
 * port 0 is read back with getsockname); MHD gets it with
 * MHD_OPTION_LISTEN_SOCKET. Graceful stop uses MHD_quiesce_daemon, after
 * which the socket is ours to close again, after MHD_stop_daemon.
 */
#include "net/http.h"

#include "core/err.h"
#include "core/text.h"
#include "net/log.h"
#include "net/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Bytes of an over-limit body we read and drop to keep the connection
 * usable; past this the connection is closed instead. */
#define DISCARD_MAX     (1024u * 1024u)
#define ADDR_MAX        64
#define PATTERN_MAX     256
#define METHOD_MAX      16
#define ARENA_INLINE    2048
#define ARENA_CHUNK_MIN 4096u
#define ARENA_CHUNK_MAX (1024u * 1024u)
#define ALIGN           16u

/* ---- types ---------------------------------------------------------------- */

struct route {
    char method[METHOD_MAX];
    char pattern[PATTERN_MAX];
    char segbuf[PATTERN_MAX]; /* pattern split into NUL-separated segments */
    const char *seg[KV_HTTP_SEGMENTS_MAX];
    bool is_param[KV_HTTP_SEGMENTS_MAX];
    size_t nseg;
    unsigned literals;
    kv_http_handler *fn;
    void *ctx;
    struct kv_histogram *latency;
};

struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

struct arena {
    _Alignas(16) unsigned char inl[ARENA_INLINE];
    size_t inl_used;
    struct chunk *head;
    size_t total, max;
};

struct header {
    char *name, *value; /* arena */
};

struct kv_http_resp {
    struct kv_http_req *req;
    bool set;
    unsigned status;
    const char *content_type; /* static or arena */
    char *body;               /* malloc'd; handed to MHD */
    size_t len;
    struct header headers[KV_HTTP_HEADERS_MAX];
    size_t nheaders;
};

struct qparam {
    char *name, *value;
};

struct kv_http_req {
    struct kv_http *h;
    struct MHD_Connection *conn;
    struct timespec t0;
    bool started, queued, stopping_seen;
    const char *method; /* MHD's, valid for the request's life */
    char *uri;          /* raw request target (arena) */
    char *path;         /* raw path (arena) */
    const struct route *route;
    const char *pnames[KV_HTTP_PARAMS_MAX];
    char *pvalues[KV_HTTP_PARAMS_MAX];
    size_t nparams;
    struct qparam query[KV_HTTP_QUERY_MAX];
    size_t nquery;
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len, body_cap;
    uint64_t discarded;
    /* an answer decided before the handler (400, 404, 405, 413, 503) */
    unsigned fail_status;
    const char *fail_message;
    char allow[64];
    char peer[ADDR_MAX];
    char actor[96];
    size_t sent_bytes;
    struct kv_http_resp resp;
    struct arena arena;
};

struct kv_http {
    struct kv_http_config cfg;
    char listen[ADDR_MAX];
    char bound[ADDR_MAX];
    unsigned port;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct route routes[KV_HTTP_ROUTES_MAX];
    size_t nroutes;
    struct MHD_Daemon *daemon;
    int listen_fd;
    bool started, stopped;
    atomic_bool stopping;
    pthread_mutex_t lock; /* in_flight, idle */
    pthread_cond_t idle;
    unsigned in_flight;
    atomic_uint connections;
    struct kv_histogram *latency_unmatched;
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t elapsed_us(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t us = (int64_t)(now.tv_sec - t0->tv_sec) * 1000000 + (now.tv_nsec - t0->tv_nsec) / 1000;
    return us > 0 ? (uint64_t)us : 0;
}

/* Percent-decodes s in place ('+' → ' ' when plus). -1 on a bad escape or NUL. */
static int pct_decode(char *s, bool plus)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = kv_text_hex_digit(p[1]), lo = hi >= 0 ? kv_text_hex_digit(p[2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            char c = (char)(hi * 16 + lo);
            if (c == '\0')
                return -1;
            *w++ = c;
            p += 2;
        } else if (plus && *p == '+') {
            *w++ = ' ';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return 0;
}

/* ---- arena ---------------------------------------------------------------- */

static void arena_free(struct arena *a)
{
    struct chunk *c = a->head;
    while (c) {
        struct chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

static void *arena_alloc(struct arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (ARENA_INLINE - a->inl_used >= n) {
        void *p = a->inl + a->inl_used;
        a->inl_used += n;
        return p;
    }
    if (a->head && a->head->cap - a->head->used >= n) {
        void *p = a->head->data + a->head->used;
        a->head->used += n;
        return p;
    }
    size_t cap = a->head ? a->head->cap * 2 : ARENA_CHUNK_MIN;
    if (cap > ARENA_CHUNK_MAX)
        cap = ARENA_CHUNK_MAX;
    if (cap < n)
        cap = n;
    if (a->total + cap > a->max) {
        if (a->total + n > a->max)
            return NULL;
        cap = n;
    }
    struct chunk *c = malloc(sizeof(*c) + cap);
    if (!c)
        return NULL;
    c->cap = cap;
    c->used = n;
    c->next = a->head;
    a->head = c;
    a->total += cap;
    return c->data;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* ---- config, routes --------------------------------------------------------- */

const char *kv_http_threading_name(enum kv_http_threading t)
{
    switch (t) {
    case KV_HTTP_POOL:
        return "pool";
    case KV_HTTP_PER_CONNECTION:
        return "per-connection";
    }
    return NULL;
}

void kv_http_config_init(struct kv_http_config *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = "127.0.0.1:8080";
    c->threads = 2;
    c->max_connections = 256;
    c->max_body = 4u * 1024u * 1024u;
    c->max_header = 32u * 1024u;
    c->timeout_s = 30;
    c->stop_wait_ms = 10000;
    c->arena_max = 16u * 1024u * 1024u;
    c->access_log = true;
}

/* "1.2.3.4:80" or "[::1]:80" → sockaddr. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[ADDR_MAX];
    const char *colon;
    size_t hn;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return KV_EINVAL;
        hn = (size_t)(end - s - 1);
        colon = end + 1;
        s++;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return KV_EINVAL;
        hn = (size_t)(colon - s);
    }
    if (hn == 0 || hn >= sizeof(host))
        return KV_EINVAL;
    memcpy(host, s, hn);
    host[hn] = '\0';
    const char *ps = colon + 1;
    if (*ps < '0' || *ps > '9')
        return KV_EINVAL;
    char *end;
    errno = 0;
    long port = strtol(ps, &end, 10);
    if (errno || *end || port < 0 || port > 65535)
        return KV_EINVAL;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return KV_OK;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return KV_OK;
    }
    return KV_EINVAL;
}

bool kv_http_listen_ok(const char *listen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return listen && strlen(listen) < ADDR_MAX && parse_listen(listen, &ss, &len) == KV_OK;
}

int kv_http_new(const struct kv_http_config *cfg, struct kv_http **out)
{
    *out = NULL;
    if (!kv_http_threading_name(cfg->threading))
        return KV_EINVAL;
    if (!cfg->listen || !cfg->threads || !cfg->max_connections || !cfg->max_body ||
        !cfg->max_header || !cfg->timeout_s || !cfg->arena_max || strlen(cfg->listen) >= ADDR_MAX)
        return KV_EINVAL;
    struct kv_http *h = calloc(1, sizeof(*h));
    if (!h)
        return KV_ENOMEM;
    h->cfg = *cfg;
    kv_text_copy(h->listen, sizeof(h->listen), cfg->listen);
    h->cfg.listen = h->listen;
    if (parse_listen(h->listen, &h->addr, &h->addrlen) != KV_OK) {
        free(h);
        return KV_EINVAL;
    }
    h->listen_fd = -1;
    atomic_init(&h->stopping, false);
    atomic_init(&h->connections, 0);
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->idle, &ca);
    pthread_condattr_destroy(&ca);
    *out = h;
    return KV_OK;
}

static bool valid_method(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

static bool valid_param_name(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

int kv_http_route(struct kv_http *h, const char *method, const char *pattern, kv_http_handler *fn,
                  void *ctx)
{
    if (h->started || !fn || !valid_method(method) || pattern[0] != '/' ||
        strlen(pattern) >= PATTERN_MAX)
        return KV_EINVAL;
    if (h->nroutes == KV_HTTP_ROUTES_MAX)
        return KV_ELIMIT;
    for (size_t i = 0; i < h->nroutes; i++)
        if (strcmp(h->routes[i].method, method) == 0 && strcmp(h->routes[i].pattern, pattern) == 0)
            return KV_EINVAL;
    struct route *r = &h->routes[h->nroutes];
    memset(r, 0, sizeof(*r));
    kv_text_copy(r->method, sizeof(r->method), method);
    kv_text_copy(r->pattern, sizeof(r->pattern), pattern);
    kv_text_copy(r->segbuf, sizeof(r->segbuf), pattern + 1);
    size_t nparams = 0;
    char *p = r->segbuf;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (r->nseg == KV_HTTP_SEGMENTS_MAX)
            return KV_EINVAL;
        size_t n = strlen(p);
        if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
            if (!valid_param_name(p + 1, n - 2) || nparams == KV_HTTP_PARAMS_MAX)
                return KV_EINVAL;
            p[n - 1] = '\0';
            r->seg[r->nseg] = p + 1;
            r->is_param[r->nseg] = true;
            for (size_t k = 0; k < r->nseg; k++)
                if (r->is_param[k] && strcmp(r->seg[k], p + 1) == 0)
                    return KV_EINVAL; /* the same name twice */
            nparams++;
        } else {
            if (strchr(p, '{') || strchr(p, '}') || strchr(p, '%') || strchr(p, '?'))
                return KV_EINVAL;
            r->seg[r->nseg] = p;
            r->literals++;
        }
        r->nseg++;
        if (!slash)
            break;
        p = slash + 1;
    }
    r->fn = fn;
    r->ctx = ctx;
    h->nroutes++;
    return KV_OK;
}

/* ---- request state ---------------------------------------------------------- */

static struct kv_http_req *req_new(struct kv_http *h, const char *uri)
{
    struct kv_http_req *r = malloc(sizeof(*r));
    if (!r)
        return NULL;
    memset(r, 0, offsetof(struct kv_http_req, arena));
    r->arena.inl_used = 0;
    r->arena.head = NULL;
    r->arena.total = 0;
    r->arena.max = h->cfg.arena_max;
    r->h = h;
    r->resp.req = r;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->uri = arena_strndup(&r->arena, uri, strlen(uri));
    if (!r->uri) {
        arena_free(&r->arena);
        free(r);
        return NULL;
    }
    return r;
}

static void req_free(struct kv_http_req *r)
{
    free(r->body);
    free(r->resp.body);
    arena_free(&r->arena);
    free(r);
}

static void fail(struct kv_http_req *r, unsigned status, const char *message)
{
    if (!r->fail_status) {
        r->fail_status = status;
        r->fail_message = message;
    }
}

/* Splits the raw target into path and decoded query parameters. */
static void parse_target(struct kv_http_req *r)
{
    if (r->uri[0] != '/') {
        fail(r, 400, "the request target must be an absolute path");
        return;
    }
    char *hash = strchr(r->uri, '#'); /* clients should not send a fragment; drop it */
    if (hash)
        *hash = '\0';
    char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    r->path = arena_strndup(&r->arena, r->uri, plen);
    if (!r->path) {
        fail(r, 500, "out of memory");
        return;
    }
    if (!q)
        return;
    char *qs = arena_strndup(&r->arena, q + 1, strlen(q + 1));
    if (!qs) {
        fail(r, 500, "out of memory");
        return;
    }
    for (char *p = qs; p && *p;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (*p) {
            if (r->nquery == KV_HTTP_QUERY_MAX) {
                fail(r, 400, "too many query parameters");
                return;
            }
            char *eq = strchr(p, '=');
            if (eq)
                *eq = '\0';
            char *val = eq ? eq + 1 : p + strlen(p);
            if (pct_decode(p, true) || pct_decode(val, true)) {
                fail(r, 400, "bad percent-encoding in the query string");
                return;
            }
            r->query[r->nquery].name = p;
            r->query[r->nquery].value = val;
            r->nquery++;
        }
        p = amp ? amp + 1 : NULL;
    }
}

/* Matches the path against the routes; sets route/params or a 404/405. */
static void match_route(struct kv_http_req *r)
{
    struct kv_http *h = r->h;
    char *segs[KV_HTTP_SEGMENTS_MAX];
    size_t nseg = 0;
    char *copy = arena_strndup(&r->arena, r->path + 1, strlen(r->path + 1));
    if (!copy) {
        fail(r, 500, "out of memory");
        return;
    }
    for (char *p = copy;;) {
        if (nseg == KV_HTTP_SEGMENTS_MAX) {
            fail(r, 404, "no such resource");
            return;
        }
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (pct_decode(p, false)) {
            fail(r, 400, "bad percent-encoding in the path");
            return;
        }
        segs[nseg++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
    const struct route *best = NULL;
    bool path_known = false;
    size_t alen = 0;
    r->allow[0] = '\0';
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct route *rt = &h->routes[i];
        if (rt->nseg != nseg)
            continue;
        bool ok = true;
        for (size_t k = 0; k < nseg && ok; k++)
            if (!rt->is_param[k] && strcmp(rt->seg[k], segs[k]) != 0)
                ok = false;
            else if (rt->is_param[k] && segs[k][0] == '\0')
                ok = false; /* a parameter is never empty */
        if (!ok)
            continue;
        path_known = true;
        if (strcmp(rt->method, method) == 0) {
            if (!best || rt->literals > best->literals)
                best = rt;
        } else if (!strstr(r->allow, rt->method)) {
            /* Allow lists the methods of every pattern matching the path */
            int n = snprintf(r->allow + alen, sizeof(r->allow) - alen, "%s%s%s", alen ? ", " : "",
                             rt->method, strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
            if (n > 0 && (size_t)n < sizeof(r->allow) - alen)
                alen += (size_t)n;
        }
    }
    if (!best) {
        fail(r, path_known ? 405 : 404,
             path_known ? "method not allowed on this resource" : "no such resource");
        return;
    }
    r->route = best;
    for (size_t k = 0; k < nseg; k++)
        if (best->is_param[k]) {
            r->pnames[r->nparams] = best->seg[k];
            r->pvalues[r->nparams] = segs[k];
            r->nparams++;
        }
}

/* ---- responses ---------------------------------------------------------------- */

static const struct {
    unsigned status;
    const char *code;
} status_codes[] = {
    {400, "bad_request"},
    {401, "unauthorized"},
    {403, "forbidden"},
    {404, "not_found"},
    {405, "method_not_allowed"},
    {406, "not_acceptable"},
    {408, "request_timeout"},
    {409, "conflict"},
    {410, "gone"},
    {411, "length_required"},
    {412, "precondition_failed"},
    {413, "payload_too_large"},
    {414, "uri_too_long"},
    {415, "unsupported_media_type"},
    {422, "unprocessable"},
    {428, "precondition_required"},
    {429, "too_many_requests"},
    {431, "header_too_large"},
    {500, "internal"},
    {501, "not_implemented"},
    {502, "bad_gateway"},
    {503, "unavailable"},
    {504, "gateway_timeout"},
};

const char *kv_http_status_code(unsigned status)
{
    for (size_t i = 0; i < sizeof(status_codes) / sizeof(status_codes[0]); i++)
        if (status_codes[i].status == status)
            return status_codes[i].code;
    return status >= 500 ? "internal" : status >= 400 ? "error" : "ok";
}

static int resp_set(struct kv_http_resp *resp, unsigned status, const char *ctype, char *body,
                    size_t len)
{
    free(resp->body);
    resp->body = body;
    resp->len = len;
    resp->status = status;
    resp->content_type = ctype;
    resp->set = true;
    return KV_OK;
}

int kv_http_resp_body(struct kv_http_resp *resp, unsigned status, const char *content_type,
                      const void *body, size_t len)
{
    if (status < 100 || status > 599 || !content_type || strpbrk(content_type, "\r\n"))
        return KV_EINVAL;
    char *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return KV_ENOMEM;
        memcpy(copy, body, len);
    }
    const char *ct = kv_http_req_strdup(resp->req, content_type);
    if (!ct) {
        free(copy);
        return KV_ENOMEM;
    }
    return resp_set(resp, status, ct, copy, len);
}

int kv_http_resp_json(struct kv_http_resp *resp, unsigned status, const char *json, size_t len)
{
    return kv_http_resp_body(resp, status, "application/json", json, len);
}

int kv_http_resp_json_obj(struct kv_http_resp *resp, unsigned status, struct json_object *obj)
{
    size_t len = 0;
    const char *s = obj ? json_object_to_json_string_length(
                              obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len)
                        : NULL;
    int rc = s ? kv_http_resp_json(resp, status, s, len) : KV_ENOMEM;
    json_object_put(obj);
    return rc;
}

int kv_http_resp_header(struct kv_http_resp *resp, const char *name, const char *value)
{
    if (!name[0] || strpbrk(name, "\r\n: ") || strpbrk(value, "\r\n"))
        return KV_EINVAL;
    if (resp->nheaders == KV_HTTP_HEADERS_MAX)
        return KV_ELIMIT;
    char *n = kv_http_req_strdup(resp->req, name), *v = kv_http_req_strdup(resp->req, value);
    if (!n || !v)
        return KV_ENOMEM;
    resp->headers[resp->nheaders].name = n;
    resp->headers[resp->nheaders].value = v;
    resp->nheaders++;
    return KV_OK;
}

static int error_body(struct kv_http_resp *resp, unsigned status, const char *code,
                      const char *message, const struct kv_report *rep)
{
    if (status < 100 || status > 599)
        return KV_EINVAL;
    json_object *root = json_object_new_object(), *err = json_object_new_object(),
                *probs = json_object_new_array();
    if (!root || !err || !probs) {
        json_object_put(root);
        json_object_put(err);
        json_object_put(probs);
        return KV_ENOMEM;
    }
    json_object_object_add(root, "error", err);
    json_object_object_add(err, "status", json_object_new_int((int)status));
    json_object_object_add(err, "code",
                           json_object_new_string(code ? code : kv_http_status_code(status)));
    json_object_object_add(err, "message", json_object_new_string(message ? message : ""));
    for (size_t i = 0; rep && i < rep->count; i++) {
        json_object *p = json_object_new_object();
        if (!p)
            break;
        json_object_object_add(p, "rule", json_object_new_string(rep->items[i].rule));
        json_object_object_add(p, "pointer", json_object_new_string(rep->items[i].pointer));
        json_object_object_add(p, "message", json_object_new_string(rep->items[i].message));
        json_object_array_add(probs, p);
    }
    json_object_object_add(err, "problems", probs);
    if (rep && rep->truncated)
        json_object_object_add(err, "problems_total", json_object_new_int64((int64_t)rep->total));
    return kv_http_resp_json_obj(resp, status, root);
}

int kv_http_resp_error(struct kv_http_resp *resp, unsigned status, const char *code,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return error_body(resp, status, code, msg, NULL);
}

int kv_http_resp_problems(struct kv_http_resp *resp, unsigned status, const char *code,
                          const char *message, const struct kv_report *rep)
{
    return error_body(resp, status, code, message, rep);
}

/* Hands the response to MHD. Returns MHD's verdict. */
static enum MHD_Result send_response(struct kv_http_req *r)
{
    struct kv_http_resp *resp = &r->resp;
    struct MHD_Response *mr;
    if (resp->len) {
        mr = MHD_create_response_from_buffer_with_free_callback(resp->len, resp->body, free);
        if (mr)
            resp->body = NULL; /* MHD frees it with the response */
    } else {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!mr)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    if (atomic_load(&r->h->stopping))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->conn, resp->status, mr);
    MHD_destroy_response(mr);
    r->queued = ret == MHD_YES;
    r->sent_bytes = resp->len;
    return ret;
}

static enum MHD_Result send_failure(struct kv_http_req *r)
{
    struct kv_http_resp *resp = &r->resp;
    if (error_body(resp, r->fail_status, NULL, r->fail_message, NULL) != KV_OK)
        return MHD_NO;
    if (r->fail_status == 405 && r->allow[0])
        kv_http_resp_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    return send_response(r);
}

/* ---- MHD callbacks ---------------------------------------------------------- */

static void in_flight_add(struct kv_http *h, int d)
{
    pthread_mutex_lock(&h->lock);
    h->in_flight = (unsigned)((int)h->in_flight + d);
    if (h->in_flight == 0)
        pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct kv_http *h = cls;
    struct kv_http_req *r = req_new(h, uri);
    if (r)
        in_flight_add(h, 1);
    return r;
}

/* First call for a request: everything that can be decided from the headers. */
static void begin_request(struct kv_http_req *r)
{
    struct kv_http *h = r->h;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer,
                      sizeof(r->peer));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer,
                      sizeof(r->peer));
    }
    if (atomic_load(&h->stopping)) {
        fail(r, 503, "the node is shutting down");
        return;
    }
    parse_target(r);
    if (!r->fail_status)
        match_route(r);
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > h->cfg.max_body) {
            r->fail_status = 413;
            r->fail_message = "the request body is over the limit";
        }
    }
}

/* True when an over-limit body should be refused before it is read: the
 * client waits for 100 Continue, or the excess is too large to drain. */
static bool refuse_early(struct kv_http_req *r)
{
    if (r->fail_status != 413)
        return false;
    const char *expect =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return true;
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > r->h->cfg.max_body + DISCARD_MAX;
}

static enum MHD_Result take_body(struct kv_http_req *r, const char *data, size_t n)
{
    struct kv_http *h = r->h;
    if (!r->fail_status && r->body_len + n > h->cfg.max_body) {
        /* chunked body (no Content-Length) that grew past the limit */
        fail(r, 413, "the request body is over the limit");
        free(r->body);
        r->body = NULL;
        r->discarded = r->body_len;
        r->body_len = r->body_cap = 0;
    }
    if (r->fail_status) {
        r->discarded += n;
        return r->discarded > h->cfg.max_body + DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        if (cap > h->cfg.max_body + 1)
            cap = h->cfg.max_body + 1;
        char *nb = realloc(r->body, cap);
        if (!nb) {
            fail(r, 500, "out of memory");
            r->discarded += n;
            return MHD_YES;
        }
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return MHD_YES;
}

static enum MHD_Result run_handler(struct kv_http_req *r)
{
    const struct route *rt = r->route;
    int rc = rt->fn(r, &r->resp, rt->ctx);
    if (!r->resp.set) {
        kv_log_error("handler for %s %s set no response (%s)", rt->method, rt->pattern,
                     rc < 0 ? kv_strerror(rc) : "returned 0");
        if (error_body(&r->resp, 500, NULL, "internal error", NULL) != KV_OK)
            return MHD_NO;
    } else if (rc < 0) {
        kv_log_warn("handler for %s %s returned %s", rt->method, rt->pattern, kv_strerror(rc));
    }
    return send_response(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    struct kv_http_req *r = *con_cls;
    if (!r)
        return MHD_NO; /* on_uri could not allocate: drop the connection */
    if (!r->started) {
        /* Keep-alive gotcha: answer nothing on this first call, except a body
         * we refuse to read (MHD then closes the connection, as it must). */
        r->started = true;
        r->conn = conn;
        r->method = method;
        begin_request(r);
        if (refuse_early(r))
            return send_failure(r);
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return take_body(r, upload, n);
    }
    if (r->queued)
        return MHD_YES;
    if (r->fail_status)
        return send_failure(r);
    return run_handler(r);
}

static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; m && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return NULL;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    default:
        return "other";
    }
}

static void account(struct kv_http_req *r, enum MHD_RequestTerminationCode toe)
{
    struct kv_http *h = r->h;
    uint64_t us = elapsed_us(&r->t0);
    const char *route = r->route ? r->route->pattern : "unmatched";
    unsigned status = r->queued ? r->resp.status : 0;
    const char *aborted = termination_name(toe);
    if (h->cfg.metrics && r->started) {
        char labels[KV_METRICS_LABELS_MAX], st[8];
        snprintf(st, sizeof(st), "%u", status);
        if (kv_metrics_labels(labels, sizeof(labels), "method", method_label(r->method), "route",
                              route, "status", st, NULL) == KV_OK)
            kv_counter_add(kv_metrics_counter(h->cfg.metrics, "kervan_http_requests_total",
                                              "HTTP requests answered, by method, route pattern "
                                              "and status (0: no answer was sent)",
                                              labels),
                           1);
        kv_histogram_observe(r->route ? r->route->latency : h->latency_unmatched, (double)us / 1e6);
    }
    if (h->cfg.access_log && kv_log_enabled(KV_LOG_INFO)) {
        struct kv_log_line l;
        kv_log_begin(&l, KV_LOG_INFO, "request");
        kv_log_str(&l, "method", r->method ? r->method : "-");
        kv_log_str(&l, "path", r->path ? r->path : r->uri);
        kv_log_str(&l, "route", route);
        kv_log_uint(&l, "status", status);
        kv_log_uint(&l, "bytes", r->queued ? r->sent_bytes : 0);
        kv_log_uint(&l, "us", us);
        if (r->peer[0])
            kv_log_str(&l, "peer", r->peer);
        if (r->actor[0])
            kv_log_str(&l, "actor", r->actor);
        if (aborted)
            kv_log_str(&l, "aborted", aborted);
        kv_log_end(&l);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct kv_http *h = cls;
    struct kv_http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    account(r, toe);
    req_free(r);
    in_flight_add(h, -1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)conn;
    (void)socket_ctx;
    struct kv_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&h->connections, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&h->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    kv_log_warn("libmicrohttpd: %s", msg);
}

/* ---- metrics gauges ------------------------------------------------------------- */

static void gauge_in_flight(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_http *h = ctx;
    pthread_mutex_lock(&h->lock);
    unsigned n = h->in_flight;
    pthread_mutex_unlock(&h->lock);
    kv_metrics_sink_value(s, NULL, n);
}

static void gauge_connections(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_http *h = ctx;
    kv_metrics_sink_value(s, NULL, atomic_load(&h->connections));
}

/* ---- start / stop --------------------------------------------------------------- */

static int listen_socket(struct kv_http *h, char *err, size_t errsz)
{
    int fam = h->addr.ss_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", h->listen, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fam == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&h->addr, h->addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", h->listen, strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
            h->port = ntohs(v4->sin_port);
            snprintf(h->bound, sizeof(h->bound), "%s:%u", host, h->port);
        } else {
            const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
            h->port = ntohs(v6->sin6_port);
            snprintf(h->bound, sizeof(h->bound), "[%s]:%u", host, h->port);
        }
    }
    return fd;
}

int kv_http_start(struct kv_http *h, char *err, size_t errsz)
{
    if (h->started) {
        snprintf(err, errsz, "the server was already started");
        return KV_EINVAL;
    }
    if (h->cfg.metrics) {
        for (size_t i = 0; i < h->nroutes; i++) {
            char labels[KV_METRICS_LABELS_MAX];
            if (kv_metrics_labels(labels, sizeof(labels), "route", h->routes[i].pattern, NULL) ==
                KV_OK)
                h->routes[i].latency = kv_metrics_histogram(
                    h->cfg.metrics, "kervan_http_request_duration_seconds",
                    "Time from request line to response sent, by route pattern", labels,
                    kv_metrics_latency_buckets, 16);
        }
        h->latency_unmatched =
            kv_metrics_histogram(h->cfg.metrics, "kervan_http_request_duration_seconds",
                                 "Time from request line to response sent, by route pattern",
                                 "route=\"unmatched\"", kv_metrics_latency_buckets, 16);
        kv_metrics_callback(h->cfg.metrics, "kervan_http_requests_in_flight",
                            "Requests received and not yet answered", KV_METRIC_GAUGE,
                            gauge_in_flight, h);
        kv_metrics_callback(h->cfg.metrics, "kervan_http_connections", "Open client connections",
                            KV_METRIC_GAUGE, gauge_connections, h);
    }
    int fd = listen_socket(h, err, errsz);
    if (fd < 0)
        return KV_EIO;
    /* ITC: needed by MHD_quiesce_daemon. poll() in both modes: thread per
     * connection cannot use epoll (each connection thread polls its own
     * socket), and in pool mode MHD 0.9.75's MHD_quiesce_daemon can abort the
     * process ("Failed to remove listen FD from epoll set", seen under ASan
     * when a worker had taken the listen socket out of its epoll set itself);
     * poll() rather than select() so that descriptors past FD_SETSIZE work. */
    bool per_conn = h->cfg.threading == KV_HTTP_PER_CONNECTION;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC |
                     MHD_USE_POLL | (per_conn ? MHD_USE_THREAD_PER_CONNECTION : 0);
    if (h->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first, or MHD warns that early messages may miss it.
     * A pool of 1 makes MHD log "thread pool is not used": pass the option
     * only for 2+ in pool mode, by ending the list early otherwise. */
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->cfg.max_header, MHD_OPTION_CONNECTION_TIMEOUT,
        h->cfg.timeout_s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
        !per_conn && h->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
        h->cfg.threads, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errsz, "cannot start the HTTP server on %s (see the log above)", h->bound);
        if (fcntl(fd, F_GETFD) != -1)
            close(fd); /* MHD may or may not have closed it on failure */
        return KV_EIO;
    }
    h->listen_fd = fd;
    h->started = true;
    return KV_OK;
}

const char *kv_http_address(const struct kv_http *h)
{
    return h->bound;
}

unsigned kv_http_port(const struct kv_http *h)
{
    return h->port;
}

unsigned kv_http_stop(struct kv_http *h)
{
    if (!h || !h->started || h->stopped)
        return 0;
    atomic_store(&h->stopping, true);
    MHD_socket lfd = MHD_quiesce_daemon(h->daemon);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += h->cfg.stop_wait_ms / 1000;
    deadline.tv_nsec += (long)(h->cfg.stop_wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->lock);
    while (h->in_flight > 0)
        if (pthread_cond_timedwait(&h->idle, &h->lock, &deadline) == ETIMEDOUT)
            break;
    unsigned cut = h->in_flight;
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd); /* after quiesce the socket is ours again */
    h->listen_fd = -1;
    h->stopped = true;
    if (h->cfg.metrics) {
        kv_metrics_callback_remove(h->cfg.metrics, "kervan_http_requests_in_flight");
        kv_metrics_callback_remove(h->cfg.metrics, "kervan_http_connections");
    }
    return cut;
}

void kv_http_free(struct kv_http *h)
{
    if (!h)
        return;
    kv_http_stop(h);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* ---- request accessors --------------------------------------------------------- */

const char *kv_http_req_method(const struct kv_http_req *r)
{
    return r->method;
}

const char *kv_http_req_path(const struct kv_http_req *r)
{
    return r->path;
}

const char *kv_http_req_route(const struct kv_http_req *r)
{
    return r->route ? r->route->pattern : NULL;
}

const char *kv_http_req_peer(const struct kv_http_req *r)
{
    return r->peer;
}

const char *kv_http_req_param(const struct kv_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->pnames[i], name) == 0)
            return r->pvalues[i];
    return NULL;
}

const char *kv_http_req_query(const struct kv_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

size_t kv_http_req_query_count(const struct kv_http_req *r)
{
    return r->nquery;
}

void kv_http_req_query_at(const struct kv_http_req *r, size_t i, const char **name,
                          const char **value)
{
    *name = i < r->nquery ? r->query[i].name : NULL;
    *value = i < r->nquery ? r->query[i].value : NULL;
}

const char *kv_http_req_header(const struct kv_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *kv_http_req_bearer(const struct kv_http_req *r)
{
    const char *a = kv_http_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return *a ? a : NULL;
}

bool kv_http_req_is_json(const struct kv_http_req *r)
{
    const char *ct = kv_http_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    ct += 16;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

const char *kv_http_req_body(const struct kv_http_req *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body ? r->body : "";
}

void *kv_http_req_alloc(struct kv_http_req *r, size_t n)
{
    return arena_alloc(&r->arena, n);
}

char *kv_http_req_strdup(struct kv_http_req *r, const char *s)
{
    return arena_strndup(&r->arena, s, strlen(s));
}

char *kv_http_req_printf(struct kv_http_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(&r->arena, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void kv_http_req_set_actor(struct kv_http_req *r, const char *actor)
{
    kv_text_copy(r->actor, sizeof(r->actor), actor ? actor : "");
}
