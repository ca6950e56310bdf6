/*
 * corridor_test.h — national nodes in one process, as the corridor tests and
 * benchmarks set them up: each node with its own store, fresh key, HTTP
 * server (the node's API and POST /v1/exchange) and delivery worker, all
 * sharing one trust list on loopback; a small HTTP client; a look into a
 * node's store.
 *
 * Used by tests/net/test_corridor.c and bench/release_latency.c. A failed
 * step calls CT_FAIL(fmt, ...): define it before including this header
 * (the test makes it cmocka's fail_msg); by default it prints and aborts.
 * The caller initialises the log and libcurl (curl_global_init) first.
 *
 * Header-only (static functions): each test or bench is its own program.
 */
#ifndef KV_TESTS_CORRIDOR_TEST_H
#define KV_TESTS_CORRIDOR_TEST_H

#include <curl/curl.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/trust_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/trust.h"
#include "crypto/crypto.h"
#include "net/api.h"
#include "net/auth.h"
#include "net/corridor.h"
#include "net/http.h"
#include "net/metrics.h"
#include "store/store.h"

#ifndef CT_FAIL
#define CT_FAIL(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#endif

/* What the nodes share: the office registry, the scratch folder with the
 * trust list, the clock, the delivery settings. */
struct ct_corridor {
    struct kv_ref *ref;
    char root[128];
    char trust_path[200];
    int64_t (*now)(void); /* epoch seconds for every node; NULL: time(NULL) */
    unsigned backoff_base_ms, backoff_cap_ms, timeout_ms;
};

/* One national node. */
struct ct_node {
    char cc[3];
    char dir[160];
    unsigned port;
    struct kv_store *store;
    struct kv_metrics *metrics;
    struct kv_http *http;
    struct kv_corridor *corridor;
    struct kv_api api;
    bool up;
};

static inline void ct_rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        unlink(dir);
        return;
    }
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%.255s/%.255s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            ct_rm_rf(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* A new bearer token of `role` (and `subject`, may be NULL) at node n. */
static inline void ct_token(struct ct_node *n, const char *role, const char *subject,
                            char out[KV_TOKEN_LEN + 1])
{
    uint8_t hash[KV_TOKEN_HASH_LEN];
    char detail[KV_STORE_DETAIL_MAX] = "";
    if (kv_auth_token_new(out, hash) != KV_OK)
        CT_FAIL("token: cannot make one");
    if (kv_store_token_add(n->store, hash, role, subject, NULL, detail) != KV_OK)
        CT_FAIL("token: %s", detail);
}

/* A free loopback port (bound and released). */
static inline unsigned ct_free_port(void)
{
    struct kv_http_config hc;
    kv_http_config_init(&hc);
    hc.listen = "127.0.0.1:0";
    hc.access_log = false;
    struct kv_http *h = NULL;
    char err[128];
    if (kv_http_new(&hc, &h) != KV_OK || kv_http_start(h, err, sizeof err) != KV_OK)
        CT_FAIL("no free port");
    unsigned p = kv_http_port(h);
    kv_http_stop(h);
    kv_http_free(h);
    return p;
}

/* Opens n's store, joins the corridor, listens on n->port, starts the worker. */
static inline void ct_node_up(const struct ct_corridor *c, struct ct_node *n)
{
    char detail[KV_STORE_DETAIL_MAX] = "", err[512] = "", listen[64];
    struct kv_store_config sc = {.path = n->dir, .country = n->cc};
    if (kv_store_open(&sc, &n->store, detail) != KV_OK)
        CT_FAIL("store %s: %s", n->cc, detail);
    if (kv_metrics_new(&n->metrics) != KV_OK)
        CT_FAIL("metrics %s", n->cc);
    struct kv_corridor_config cc = {.store = n->store,
                                    .ref = c->ref,
                                    .country = n->cc,
                                    .trust_path = c->trust_path,
                                    .keys_dir = n->dir,
                                    .metrics = n->metrics,
                                    .now = c->now,
                                    .backoff_base_ms = c->backoff_base_ms,
                                    .backoff_cap_ms = c->backoff_cap_ms,
                                    .timeout_ms = c->timeout_ms};
    if (kv_corridor_new(&cc, &n->corridor, err, sizeof err) != KV_OK)
        CT_FAIL("corridor %s: %s", n->cc, err);
    n->api = (struct kv_api){.country = n->cc,
                             .version = "test",
                             .metrics = n->metrics,
                             .store = n->store,
                             .ref = c->ref,
                             .now = c->now,
                             .corridor = n->corridor};
    struct kv_http_config hc;
    kv_http_config_init(&hc);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", n->port);
    hc.listen = listen;
    hc.access_log = false;
    hc.metrics = n->metrics;
    if (kv_http_new(&hc, &n->http) != KV_OK || kv_api_register(n->http, &n->api) != KV_OK ||
        kv_corridor_register(n->corridor, n->http) != KV_OK)
        CT_FAIL("http %s", n->cc);
    int tries = 0;
    while (kv_http_start(n->http, err, sizeof err) != KV_OK) {
        if (++tries > 50)
            CT_FAIL("node %s cannot listen on %u: %s", n->cc, n->port, err);
        usleep(100 * 1000);
    }
    if (kv_corridor_start(n->corridor, err, sizeof err) != KV_OK)
        CT_FAIL("worker %s: %s", n->cc, err);
    n->up = true;
}

/* Stops n (server, worker) and closes its store; its folder stays. */
static inline void ct_node_down(struct ct_node *n)
{
    if (!n->up)
        return;
    kv_http_stop(n->http);
    kv_corridor_stop(n->corridor);
    kv_http_free(n->http);
    kv_corridor_free(n->corridor);
    kv_api_unregister(&n->api);
    kv_store_close(n->store);
    kv_metrics_free(n->metrics);
    n->http = NULL;
    n->corridor = NULL;
    n->store = NULL;
    n->metrics = NULL;
    n->up = false;
}

/*
 * Makes a scratch folder (under /tmp), a fresh key pair per country (valid
 * from 2025-01-01) saved in its node's folder, the trust list naming every
 * node at a free loopback port, and starts the nodes, in order. c->now and
 * the delivery settings are the caller's; ref is opened here.
 */
static inline void ct_start(struct ct_corridor *c, struct ct_node *nodes,
                            const char *const *countries, size_t n_nodes)
{
    if (kv_crypto_init() != KV_OK || kv_ref_open(&c->ref) != KV_OK)
        CT_FAIL("cannot start libsodium or the office registry");
    snprintf(c->root, sizeof c->root, "/tmp/kv-corridor-XXXXXX");
    if (!mkdtemp(c->root))
        CT_FAIL("mkdtemp %s", c->root);
    snprintf(c->trust_path, sizeof c->trust_path, "%s/trust.json", c->root);
    struct kv_trust *t = malloc(sizeof *t);
    if (!t)
        CT_FAIL("out of memory");
    kv_trust_init(t);
    struct kv_time from;
    kv_time_set(&from, 1735689600, 0); /* 2025-01-01 */
    for (size_t i = 0; i < n_nodes; i++) {
        struct ct_node *n = &nodes[i];
        memcpy(n->cc, countries[i], 3);
        snprintf(n->dir, sizeof n->dir, "%.120s/%.2s", c->root, countries[i]);
        n->port = ct_free_port();
        struct kv_keypair kp;
        char detail[256] = "", url[64];
        if (kv_crypto_keypair_new(&kp) != KV_OK)
            CT_FAIL("keys: cannot make a key pair");
        if (kv_crypto_keys_save(n->dir, &kp, false, detail, sizeof detail) != 0)
            CT_FAIL("keys: %s", detail);
        snprintf(url, sizeof url, "http://127.0.0.1:%u", n->port);
        struct kv_trust_key k;
        if (kv_trust_key_make(&k, kp.pk, &from, NULL) != KV_OK ||
            kv_trust_add_node(t, n->cc, url) != KV_OK || kv_trust_add_key(t, n->cc, &k) != KV_OK)
            CT_FAIL("trust list: cannot add %s", n->cc);
        kv_crypto_keypair_clear(&kp);
    }
    char *json = NULL;
    size_t len = 0;
    if (kv_trust_to_json(t, &json, &len) != KV_OK)
        CT_FAIL("trust list: cannot write it");
    FILE *f = fopen(c->trust_path, "w");
    if (!f || fwrite(json, 1, len, f) != len)
        CT_FAIL("cannot write %s", c->trust_path);
    fclose(f);
    free(json);
    free(t);
    for (size_t i = 0; i < n_nodes; i++)
        ct_node_up(c, &nodes[i]);
}

/* Stops every node, closes the registry, removes the scratch folder. */
static inline void ct_stop(struct ct_corridor *c, struct ct_node *nodes, size_t n_nodes)
{
    for (size_t i = 0; i < n_nodes; i++)
        ct_node_down(&nodes[i]);
    kv_ref_close(c->ref);
    c->ref = NULL;
    ct_rm_rf(c->root);
}

/* ---- a small client ---------------------------------------------------------- */

struct ct_reply {
    long status;
    char *body;
    size_t len;
    json_object *json;
};

static inline size_t ct_on_write(char *d, size_t s, size_t n, void *ud)
{
    struct ct_reply *r = ud;
    char *p = realloc(r->body, r->len + s * n + 1);
    if (!p)
        return 0;
    memcpy(p + r->len, d, s * n);
    r->body = p;
    r->len += s * n;
    r->body[r->len] = '\0';
    return s * n;
}

static inline void ct_reply_free(struct ct_reply *r)
{
    free(r->body);
    json_object_put(r->json);
    memset(r, 0, sizeof *r);
}

/* One request to node n (a new connection each time): method, path, bearer
 * token (may be NULL), JSON body (may be NULL), one extra header line (may
 * be NULL). Fills *r (free with ct_reply_free); r->json when the body parses. */
static inline void ct_call(const struct ct_node *n, const char *method, const char *path,
                           const char *tok, const char *body, const char *extra_header,
                           struct ct_reply *r)
{
    memset(r, 0, sizeof *r);
    char url[2048], auth[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", n->port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (tok) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        h = curl_slist_append(h, auth);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    if (extra_header)
        h = curl_slist_append(h, extra_header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ct_on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        CT_FAIL("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body)
        r->json = json_tokener_parse(r->body);
}

/* The string member `name` of o, or NULL. */
static inline const char *ct_jstr(json_object *o, const char *name)
{
    json_object *v;
    return o && json_object_object_get_ex(o, name, &v) ? json_object_get_string(v) : NULL;
}

/* ---- what a node holds ---------------------------------------------------------- */

/* The movement as node n holds it (NULL when it does not; free with
 * kv_store_record_free). */
static inline struct kv_movement_record *ct_held(const struct ct_node *n, const char *mrn)
{
    struct kv_movement_record *m = NULL;
    char detail[KV_STORE_DETAIL_MAX];
    int rc = kv_store_get(n->store, mrn, &m, detail);
    if (rc == KV_ENOTFOUND)
        return NULL;
    if (rc != KV_OK)
        CT_FAIL("get %s at %s: %s", mrn, n->cc, detail);
    return m;
}

/* True when every running node's outbox is empty (all delivered). */
static inline bool ct_quiet(const struct ct_node *nodes, size_t n_nodes)
{
    for (size_t k = 0; k < n_nodes; k++) {
        if (!nodes[k].up)
            continue;
        struct kv_outbox_backlog b[KV_STORE_PEERS_MAX];
        size_t nb = 0;
        char detail[KV_STORE_DETAIL_MAX];
        if (kv_store_outbox_backlog(nodes[k].store, b, KV_STORE_PEERS_MAX, &nb, detail) != 0)
            CT_FAIL("backlog %s: %s", nodes[k].cc, detail);
        if (nb != 0)
            return false;
    }
    return true;
}

#endif
