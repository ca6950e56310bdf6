/*
 * http.h — the node's HTTP/1.1 server: a route table over libmicrohttpd.
 *
 * A server (struct kv_http) listens on one configured address (127.0.0.1 by
 * default; port 0 picks a free port), runs libmicrohttpd's epoll loop on a
 * small thread pool, and hands every request that matches a route
 * (method + pattern such as "/v1/movements/{mrn}/events") to its handler.
 * The server itself answers what no handler should have to: 400 for a
 * malformed target, 404 for an unknown path, 405 (with Allow) for a known
 * path with another method, 413 for a body over the limit, 503 while
 * stopping, 500 when a handler sets no response. Every such answer — and
 * kv_http_resp_error() — uses one JSON error body:
 *
 *   {"error":{"status":409,"code":"conflict","message":"...",
 *             "problems":[{"rule":"...","pointer":"...","message":"..."}]}}
 *
 * Limits (struct kv_http_config): body bytes, per-connection header memory,
 * connections, idle timeout, per-request arena. A request over a limit gets
 * its 4xx and the server keeps serving.
 *
 * Keep-alive: libmicrohttpd 0.9.75 closes the connection when a response is
 * queued on the first call of its access handler, which costs ~5× in
 * throughput (see docs/dependencies-node.md). This module always answers on
 * the final call, after the whole body has arrived; handlers never see MHD.
 *
 * Threads: handlers run on the pool threads, or on each connection's own
 * thread (cfg.threading), several at once; a handler must only touch shared
 * state that is itself thread-safe. The route table is fixed once
 * kv_http_start() has been called. A handler may block (e.g. on a durable
 * commit); in pool mode it then holds one pool thread, so size `threads` for
 * it, or use KV_HTTP_PER_CONNECTION.
 *
 * Lifecycle: kv_http_new → kv_http_route ... → kv_http_start → (serve) →
 * kv_http_stop → kv_http_free.
 */
#ifndef KV_NET_HTTP_H
#define KV_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/report.h"

struct json_object;
struct kv_metrics;

struct kv_http;
struct kv_http_req;
struct kv_http_resp;

#define KV_HTTP_PARAMS_MAX   8  /* {name} segments per pattern */
#define KV_HTTP_SEGMENTS_MAX 32 /* path segments per request */
#define KV_HTTP_QUERY_MAX    64 /* query parameters per request */
#define KV_HTTP_HEADERS_MAX  16 /* extra response headers */
#define KV_HTTP_ROUTES_MAX   128

/*
 * A handler: reads the request, sets a response with one of the
 * kv_http_resp_* functions, returns 0. A negative KV_E* return with no
 * response set gives a 500 (logged); if a response is set it is sent as is.
 * `ctx` is the pointer given to kv_http_route().
 */
typedef int kv_http_handler(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx);

/*
 * How connections get threads. KV_HTTP_POOL: libmicrohttpd's epoll loop on
 * `threads` pool threads, each serving many connections — fastest for short
 * handlers, but a handler that blocks (a durable commit) stalls every
 * connection of its thread, and no more than `threads` requests can wait on
 * the store at once (which caps the group-commit batch). KV_HTTP_PER_CONNECTION:
 * one listening thread (poll) and one thread per connection for its whole
 * life (`threads` is ignored) — a blocked handler stalls only its own
 * client, and concurrent writers all reach the store's batch.
 */
enum kv_http_threading { KV_HTTP_POOL = 0, KV_HTTP_PER_CONNECTION };

/* "pool", "per-connection"; NULL for anything else. */
const char *kv_http_threading_name(enum kv_http_threading t);

struct kv_http_config {
    const char *listen; /* "IPv4:port" or "[IPv6]:port", numeric; copied */
    enum kv_http_threading threading;
    unsigned threads;           /* pool threads (1 = a single polling thread); pool mode only */
    unsigned max_connections;   /* open connections; more are refused at accept */
    size_t max_body;            /* request body bytes; more → 413 */
    size_t max_header;          /* per-connection memory for request line + headers */
    unsigned timeout_s;         /* idle connection timeout */
    unsigned stop_wait_ms;      /* how long kv_http_stop waits for in-flight requests */
    size_t arena_max;           /* bytes a handler may take from the request arena */
    bool access_log;            /* one info line per request (log.h) */
    struct kv_metrics *metrics; /* request counters and latency; NULL = none */
};

/* Fills `c` with the defaults (127.0.0.1:8080, a pool of 2 threads, 256 connections,
 * 4 MiB body, 32 KiB header memory, 30 s timeout, 10 s stop wait, 16 MiB arena,
 * access log on, no metrics). */
void kv_http_config_init(struct kv_http_config *c);

/* True when `listen` is an address kv_http_new accepts ("IPv4:port", "[IPv6]:port"). */
bool kv_http_listen_ok(const char *listen);

/*
 * Creates a stopped server. Returns 0 with *out set, KV_EINVAL for a bad
 * listen address or a zero limit, KV_ENOMEM. The config is copied; the
 * metrics registry (if any) must outlive the server.
 */
int kv_http_new(const struct kv_http_config *cfg, struct kv_http **out);

/*
 * Adds a route. `method` is an upper-case token ("GET", "POST", ...; GET
 * routes also answer HEAD); `pattern` starts with '/' and its segments are
 * literals or {name} ([a-z_][a-z0-9_]*). When several patterns match a path
 * the one with the most literal segments wins. Returns 0, KV_EINVAL (bad
 * method or pattern, duplicate, or the server is already started) or
 * KV_ELIMIT (KV_HTTP_ROUTES_MAX).
 */
int kv_http_route(struct kv_http *h, const char *method, const char *pattern, kv_http_handler *fn,
                  void *ctx);

/*
 * Binds the address and starts serving. Returns 0, or KV_EIO with a message
 * in err ("cannot listen on 127.0.0.1:8080: Address already in use").
 */
int kv_http_start(struct kv_http *h, char *err, size_t errsz);

/* After start: the bound address ("127.0.0.1:41873") and port. */
const char *kv_http_address(const struct kv_http *h);
unsigned kv_http_port(const struct kv_http *h);

/*
 * Graceful stop: stops accepting connections, answers any new request on an
 * open connection with 503 and `Connection: close`, waits up to stop_wait_ms
 * for the requests in flight to be answered, then shuts the server down
 * (closing idle keep-alive connections). Returns the number of requests cut
 * off by the deadline (0 when all finished). Safe to call twice; from any
 * thread but a handler.
 */
unsigned kv_http_stop(struct kv_http *h);

/* Stops (if running) and frees. NULL is a no-op. */
void kv_http_free(struct kv_http *h);

/* ---- the request (valid only inside the handler) ------------------------ */

const char *kv_http_req_method(const struct kv_http_req *r); /* "GET" (HEAD stays "HEAD") */
const char *kv_http_req_path(const struct kv_http_req *r);   /* raw, as sent, no query */
const char *kv_http_req_route(const struct kv_http_req *r);  /* the matched pattern */
const char *kv_http_req_peer(const struct kv_http_req *r);   /* client IP text */

/* A {name} segment of the pattern, percent-decoded; NULL if no such name. */
const char *kv_http_req_param(const struct kv_http_req *r, const char *name);

/* The first query parameter `name` ('+' and %XX decoded), or NULL. */
const char *kv_http_req_query(const struct kv_http_req *r, const char *name);

/* All query parameters in order: count, and the i-th name and value. */
size_t kv_http_req_query_count(const struct kv_http_req *r);
void kv_http_req_query_at(const struct kv_http_req *r, size_t i, const char **name,
                          const char **value);

/* A request header (case-insensitive name), or NULL. */
const char *kv_http_req_header(const struct kv_http_req *r, const char *name);

/* The token of `Authorization: Bearer TOKEN` (scheme case-insensitive), or NULL. */
const char *kv_http_req_bearer(const struct kv_http_req *r);

/* True when Content-Type is application/json (parameters such as charset allowed). */
bool kv_http_req_is_json(const struct kv_http_req *r);

/* The body (NUL-terminated for convenience; may contain NULs) and its length. */
const char *kv_http_req_body(const struct kv_http_req *r, size_t *len);

/*
 * Request arena: memory freed when the request completes. Aligned for any
 * type. NULL when the arena limit (arena_max) would be passed or on OOM.
 */
void *kv_http_req_alloc(struct kv_http_req *r, size_t n);
char *kv_http_req_strdup(struct kv_http_req *r, const char *s);
char *kv_http_req_printf(struct kv_http_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Names who acted (e.g. "officer:TR000001") in the access log; copied. */
void kv_http_req_set_actor(struct kv_http_req *r, const char *actor);

/* ---- the response ----------------------------------------------------------
 * Each setter replaces any body set before; headers accumulate. All return
 * 0, KV_EINVAL (status outside 100..599, bad header) or KV_ENOMEM. */

/* A JSON body (copied) with Content-Type application/json. */
int kv_http_resp_json(struct kv_http_resp *resp, unsigned status, const char *json, size_t len);

/* Serialises `obj` (compact) as the JSON body. Takes ownership: obj is put,
 * whatever the result. */
int kv_http_resp_json_obj(struct kv_http_resp *resp, unsigned status, struct json_object *obj);

/* Any body (copied) with the given content type. */
int kv_http_resp_body(struct kv_http_resp *resp, unsigned status, const char *content_type,
                      const void *body, size_t len);

/* An extra header (copied), e.g. Location. No CR/LF allowed. */
int kv_http_resp_header(struct kv_http_resp *resp, const char *name, const char *value);

/*
 * The standard error body. `code` is a short snake_case word; NULL picks the
 * one for the status ("not_found", "conflict", ...). The message is
 * printf-formatted. "problems" is [].
 */
int kv_http_resp_error(struct kv_http_resp *resp, unsigned status, const char *code,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The standard error body with every problem of `rep` in "problems". */
int kv_http_resp_problems(struct kv_http_resp *resp, unsigned status, const char *code,
                          const char *message, const struct kv_report *rep);

/* The default error code word for a status ("conflict" for 409); static. */
const char *kv_http_status_code(unsigned status);

#endif
