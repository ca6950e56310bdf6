/*
 * client.c — libcurl client for the CLI (see client.h).
 */
#include "net/client.h"

#include "core/err.h"
#include "core/text.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX   2048
#define TOKEN_MAX 512

struct kv_client {
    CURL *curl;
    char node[URL_MAX];
    char token[TOKEN_MAX];
    long connect_timeout_ms, timeout_ms;
    char err[KV_CLIENT_ERR_MAX];
    char curl_err[CURL_ERROR_SIZE];
};

struct sink {
    struct kv_client_resp *resp;
    size_t cap;
    bool over;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void kv_client_global_cleanup(void)
{
    if (curl_init_rc == CURLE_OK)
        curl_global_cleanup();
    curl_init_rc = CURLE_FAILED_INIT;
}

int kv_client_new(const struct kv_client_options *opt, struct kv_client **out, char *err,
                  size_t errsz)
{
    *out = NULL;
    const char *node = opt && opt->node ? opt->node : getenv("KERVAN_NODE");
    const char *token = opt && opt->token ? opt->token : getenv("KERVAN_TOKEN");
    if (!node || !*node) {
        snprintf(err, errsz, "no node given: use --node URL or set KERVAN_NODE");
        return KV_EINVAL;
    }
    if (strncmp(node, "http://", 7) != 0 && strncmp(node, "https://", 8) != 0) {
        snprintf(err, errsz, "node URL '%s' must start with http:// or https://", node);
        return KV_EINVAL;
    }
    if (strlen(node) >= URL_MAX || (token && strlen(token) >= TOKEN_MAX)) {
        snprintf(err, errsz, "node URL or token too long");
        return KV_EINVAL;
    }
    if (token && strpbrk(token, "\r\n")) {
        snprintf(err, errsz, "the token contains a line break");
        return KV_EINVAL;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errsz, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
        return KV_EIO;
    }
    struct kv_client *c = calloc(1, sizeof(*c));
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        snprintf(err, errsz, "out of memory");
        return KV_ENOMEM;
    }
    kv_text_copy(c->node, sizeof(c->node), node);
    size_t n = strlen(c->node);
    while (n > 0 && c->node[n - 1] == '/')
        c->node[--n] = '\0'; /* paths bring their own '/' */
    if (token)
        kv_text_copy(c->token, sizeof(c->token), token);
    c->connect_timeout_ms = opt && opt->connect_timeout_ms ? opt->connect_timeout_ms : 5000;
    c->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : 60000;
    *out = c;
    return KV_OK;
}

void kv_client_free(struct kv_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    explicit_bzero(c->token, sizeof(c->token));
    free(c);
}

const char *kv_client_error(const struct kv_client *c)
{
    return c->err;
}

const char *kv_client_node(const struct kv_client *c)
{
    return c->node;
}

void kv_client_resp_release(struct kv_client_resp *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    struct kv_client_resp *r = s->resp;
    if (r->len + n > KV_CLIENT_BODY_MAX) {
        s->over = true;
        return 0; /* aborts the transfer */
    }
    if (r->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb)
            return 0;
        r->body = nb;
        s->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Keeps the Location header (for 201 Created). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t n = size * nmemb;
    if (n > 9 && strncasecmp(data, "Location:", 9) == 0) {
        const char *v = data + 9;
        size_t vn = n - 9;
        while (vn && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        if (vn >= sizeof(s->resp->location))
            vn = sizeof(s->resp->location) - 1;
        memcpy(s->resp->location, v, vn);
        s->resp->location[vn] = '\0';
    }
    return n;
}

static void describe_failure(struct kv_client *c, CURLcode rc)
{
    long os_errno = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(c->err, sizeof(c->err), "cannot reach node at %s: %s", c->node,
                 os_errno ? strerror((int)os_errno)
                          : (c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc)));
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(c->err, sizeof(c->err), "node at %s did not answer in time: %s", c->node,
                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
        break;
    default:
        snprintf(c->err, sizeof(c->err), "request to node at %s failed: %s", c->node,
                 c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
    }
}

int kv_client_request(struct kv_client *c, const char *method, const char *path, const char *body,
                      size_t len, struct kv_client_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    c->err[0] = '\0';
    c->curl_err[0] = '\0';
    if (!method || !path || path[0] != '/' || strpbrk(path, " \r\n")) {
        snprintf(c->err, sizeof(c->err), "bad request path '%s'", path ? path : "");
        return KV_EINVAL;
    }
    char url[URL_MAX + 1024];
    if ((size_t)snprintf(url, sizeof(url), "%s%s", c->node, path) >= sizeof(url)) {
        snprintf(c->err, sizeof(c->err), "request URL too long");
        return KV_EINVAL;
    }
    char auth[TOKEN_MAX + 32];
    struct curl_slist *hdrs = NULL, *t;
    t = curl_slist_append(hdrs, "Accept: application/json");
    if (t)
        hdrs = t;
    if (body) {
        t = curl_slist_append(hdrs, "Content-Type: application/json");
        if (t)
            hdrs = t;
    }
    if (c->token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        t = curl_slist_append(hdrs, auth);
        explicit_bzero(auth, sizeof(auth));
        if (t)
            hdrs = t;
    }
    struct sink s = {.resp = resp};
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache: the handle is reused */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "kervan/" KV_VERSION);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body || strcmp(method, "POST") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
        }
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        if (s.over)
            snprintf(c->err, sizeof(c->err), "answer from node at %s is over %u bytes", c->node,
                     KV_CLIENT_BODY_MAX);
        else
            describe_failure(c, rc);
        kv_client_resp_release(resp);
        return s.over ? KV_ELIMIT : KV_EIO;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        kv_text_copy(resp->content_type, sizeof(resp->content_type), ct);
    if (!resp->body) {
        resp->body = calloc(1, 1);
        if (!resp->body) {
            snprintf(c->err, sizeof(c->err), "out of memory");
            return KV_ENOMEM;
        }
    }
    return KV_OK;
}

int kv_client_get(struct kv_client *c, const char *path, struct kv_client_resp *resp)
{
    return kv_client_request(c, "GET", path, NULL, 0, resp);
}

int kv_client_post_json(struct kv_client *c, const char *path, const char *body, size_t len,
                        struct kv_client_resp *resp)
{
    return kv_client_request(c, "POST", path, body, len, resp);
}
