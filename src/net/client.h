/*
 * client.h — the CLI's HTTP client for a kervan node (libcurl).
 *
 * One client holds one reused curl easy handle, so consecutive requests to
 * the same node share one keep-alive connection. It knows the node's base
 * URL and the bearer token (from --node / --token, else the environment
 * variables KERVAN_NODE / KERVAN_TOKEN) and turns transport failures into
 * sentences a user can act on ("cannot reach node at http://...: Connection
 * refused").
 *
 * Threads: a client is used by one thread at a time. The first
 * kv_client_new() initialises libcurl once for the process (pthread_once);
 * kv_client_global_cleanup() undoes it at exit, when no client is left.
 */
#ifndef KV_NET_CLIENT_H
#define KV_NET_CLIENT_H

#include <stddef.h>

struct kv_client;

#define KV_CLIENT_ERR_MAX  3072
#define KV_CLIENT_BODY_MAX (64u * 1024u * 1024u) /* largest response body kept */

struct kv_client_options {
    const char *node;        /* base URL, e.g. "http://127.0.0.1:8080"; NULL → $KERVAN_NODE */
    const char *token;       /* bearer token; NULL → $KERVAN_TOKEN; may stay unset */
    long connect_timeout_ms; /* 0 → 5000 */
    long timeout_ms;         /* whole request; 0 → 60000 */
};

/* One answer from the node. */
struct kv_client_resp {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated; owned (kv_client_resp_release) */
    size_t len;
    char content_type[128];
    char location[512]; /* the Location header, "" if none */
};

/*
 * Creates a client. Returns 0, or KV_EINVAL with a message in err (no node
 * URL given, or not http:// / https://), or KV_ENOMEM. The strings are
 * copied. Free with kv_client_free.
 */
int kv_client_new(const struct kv_client_options *opt, struct kv_client **out, char *err,
                  size_t errsz);

void kv_client_free(struct kv_client *c);

/*
 * Sends METHOD base+path (path starts with '/', e.g. "/v1/movements?state=released")
 * with an optional JSON body (NULL/0 for none), with `Accept: application/json`
 * and the bearer token. Returns 0 when an HTTP answer came back — whatever
 * its status — with `resp` filled (release it); KV_EIO when the node could not be
 * reached or the exchange failed (message in kv_client_error()), KV_ELIMIT
 * when the answer is over KV_CLIENT_BODY_MAX, KV_EINVAL, KV_ENOMEM.
 */
int kv_client_request(struct kv_client *c, const char *method, const char *path, const char *body,
                      size_t len, struct kv_client_resp *resp);

/* Shorthands for kv_client_request. */
int kv_client_get(struct kv_client *c, const char *path, struct kv_client_resp *resp);
int kv_client_post_json(struct kv_client *c, const char *path, const char *body, size_t len,
                        struct kv_client_resp *resp);

/* The message of the last failure ("" after a success). */
const char *kv_client_error(const struct kv_client *c);

/* The base URL in use. */
const char *kv_client_node(const struct kv_client *c);

/* Frees the response's body and zeroes it. */
void kv_client_resp_release(struct kv_client_resp *resp);

/* Releases libcurl's global state (call once at exit, after the last kv_client_free). */
void kv_client_global_cleanup(void);

#endif
