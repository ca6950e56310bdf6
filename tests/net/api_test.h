/*
 * api_test.h — the in-process node the /v1 API tests drive: a store in a
 * temporary folder (mkdtemp under /tmp, removed after), the reference data,
 * the HTTP server on 127.0.0.1 port 0 (a thread per connection, as the node
 * runs), a clock the tests move, tokens for every role, a libcurl client,
 * and a builder for small valid declarations.
 *
 * Header-only (static functions): each tests/net/test_*.c is its own
 * executable. The node is of Kazakhstan (KZ); the offices used are:
 *   KZ050200 departure (DEP, DES)      KZ050100 destination (DEP, DES)
 *   KZ190100 a border crossing not on any test itinerary (DES too)
 *   KZ610100 another office, never involved
 */
#ifndef KV_TESTS_API_TEST_H
#define KV_TESTS_API_TEST_H

#include <curl/curl.h>
#include <dirent.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/scratch.h"
#include "core/err.h"
#include "core/ident.h"
#include "core/movement.h"
#include "core/ref.h"
#include "net/api.h"
#include "net/auth.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"
#include "store/store.h"

#define T_COUNTRY   "KZ"
#define T_DEP       "KZ050200"
#define T_DES       "KZ050100"
#define T_BORDER    "KZ190100"
#define T_OTHER     "KZ610100"
#define T_HOLDER    "180540001239"
#define T_HOLDER2   "990240001111"
#define T_GUARANTOR "KZGUARANTOR01"
#define T_GRN       "25KZ050100ALA0012"
#define T_START     1740823200 /* 2025-03-01T10:00:00Z */

/* ---- the node ---------------------------------------------------------------- */

struct tnode {
    char dir[64];
    struct kv_store *store;
    struct kv_ref *ref;
    struct kv_metrics *metrics;
    struct kv_http *http;
    struct kv_api api;
    char base[64];
    /* tokens */
    char trader[KV_TOKEN_LEN + 1], trader2[KV_TOKEN_LEN + 1];
    char dep[KV_TOKEN_LEN + 1], des[KV_TOKEN_LEN + 1], border[KV_TOKEN_LEN + 1],
        other[KV_TOKEN_LEN + 1];
    char analyst[KV_TOKEN_LEN + 1], operator_[KV_TOKEN_LEN + 1];
    char guarantor[KV_TOKEN_LEN + 1], guarantor2[KV_TOKEN_LEN + 1];
};

static struct tnode T;
static _Atomic int64_t t_now = T_START;

static int64_t t_clock(void)
{
    return atomic_load(&t_now);
}

/* Moves the node's clock forward by `s` seconds and returns the new time. */
static int64_t t_tick(int64_t s)
{
    return atomic_fetch_add(&t_now, s) + s;
}

/* The clock as RFC 3339 UTC. */
static inline void t_time(char buf[32])
{
    struct kv_time t;
    kv_time_set(&t, t_clock(), 0);
    snprintf(buf, 32, "%s", t.text);
}

static inline void t_rmdir(const char *dir)
{
    kv_test_rmdir(dir);
}

/* Records a token for role/subject directly in the store. */
static inline void t_token(const char *role, const char *subject, const char *label,
                           char out[KV_TOKEN_LEN + 1])
{
    uint8_t hash[KV_TOKEN_HASH_LEN];
    char detail[KV_STORE_DETAIL_MAX] = "";
    if (kv_auth_token_new(out, hash) != KV_OK ||
        kv_store_token_add(T.store, hash, role, subject, label, detail) != KV_OK) {
        fprintf(stderr, "token %s: %s\n", role, detail);
        abort();
    }
}

/* Starts the node with the given settings (0 = defaults). */
static inline int t_start(unsigned max_items, unsigned overdue_days, size_t max_body)
{
    snprintf(T.dir, sizeof T.dir, "/tmp/kv-api-XXXXXX");
    if (!mkdtemp(T.dir))
        return -1;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store_config sc = {.path = T.dir, .country = T_COUNTRY};
    if (kv_store_open(&sc, &T.store, detail) != KV_OK) {
        fprintf(stderr, "store: %s\n", detail);
        return -1;
    }
    if (kv_ref_open(&T.ref) != KV_OK || kv_metrics_new(&T.metrics) != KV_OK)
        return -1;
    struct kv_http_config hc;
    kv_http_config_init(&hc);
    hc.listen = "127.0.0.1:0";
    hc.threading = KV_HTTP_PER_CONNECTION;
    hc.metrics = T.metrics;
    hc.access_log = false;
    if (max_body)
        hc.max_body = max_body;
    T.api = (struct kv_api){.country = T_COUNTRY,
                            .version = "0.1.0-test",
                            .metrics = T.metrics,
                            .store = T.store,
                            .ref = T.ref,
                            .now = t_clock,
                            .overdue_days = overdue_days,
                            .max_items = max_items};
    char err[256];
    if (kv_http_new(&hc, &T.http) != KV_OK || kv_api_register(T.http, &T.api) != KV_OK ||
        kv_http_start(T.http, err, sizeof err) != KV_OK)
        return -1;
    snprintf(T.base, sizeof T.base, "http://%s", kv_http_address(T.http));
    t_token("trader", T_HOLDER, "holder", T.trader);
    t_token("trader", T_HOLDER2, "another trader", T.trader2);
    t_token("officer", T_DEP, NULL, T.dep);
    t_token("officer", T_DES, NULL, T.des);
    t_token("officer", T_BORDER, NULL, T.border);
    t_token("officer", T_OTHER, NULL, T.other);
    t_token("analyst", NULL, "risk desk", T.analyst);
    t_token("operator", NULL, "root", T.operator_);
    t_token("guarantor", T_GUARANTOR, NULL, T.guarantor);
    t_token("guarantor", "KZGUARANTOR02", NULL, T.guarantor2);
    return 0;
}

static inline void t_stop(void)
{
    kv_http_free(T.http); /* stops first */
    kv_api_unregister(&T.api);
    kv_store_close(T.store);
    kv_ref_close(T.ref);
    kv_metrics_free(T.metrics);
    t_rmdir(T.dir);
    memset(&T, 0, sizeof T);
}

/* ---- the client ------------------------------------------------------------- */

struct reply {
    long status;
    char *body;
    size_t len;
    char location[128];
    char www_auth[128];
    json_object *json; /* parsed body, or NULL */
};

static inline size_t t_on_write(char *d, size_t s, size_t n, void *ud)
{
    struct reply *r = ud;
    char *nb = realloc(r->body, r->len + s * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, d, s * n);
    r->body = nb;
    r->len += s * n;
    r->body[r->len] = '\0';
    return s * n;
}

static inline void t_header_value(const char *d, size_t k, const char *name, char *dst,
                                  size_t dstsz)
{
    size_t nl = strlen(name);
    if (k > nl && strncasecmp(d, name, nl) == 0) {
        const char *v = d + nl;
        size_t vl = k - nl;
        while (vl && (*v == ' '))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        if (vl >= dstsz)
            vl = dstsz - 1;
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
}

static inline size_t t_on_header(char *d, size_t s, size_t n, void *ud)
{
    struct reply *r = ud;
    t_header_value(d, s * n, "Location:", r->location, sizeof r->location);
    t_header_value(d, s * n, "WWW-Authenticate:", r->www_auth, sizeof r->www_auth);
    return s * n;
}

static inline void reply_free(struct reply *r)
{
    free(r->body);
    json_object_put(r->json);
    memset(r, 0, sizeof *r);
}

/*
 * One request. token may be NULL (no Authorization), ctype NULL (no
 * Content-Type; "json" is short for application/json), body NULL (none).
 */
static inline void t_call(const char *method, const char *path, const char *token,
                          const char *ctype, const char *body, size_t len, struct reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "%s%s", T.base, path);
    struct curl_slist *h = NULL;
    char auth[128], ct[128];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 strcmp(ctype, "json") == 0 ? "application/json" : ctype);
        h = curl_slist_append(h, ct);
    } else if (body) {
        h = curl_slist_append(h, "Content-Type:"); /* curl would add a form type */
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, t_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(cc));
        abort();
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body)
        r->json = json_tokener_parse(r->body);
}

static inline void t_get(const char *path, const char *token, struct reply *r)
{
    t_call("GET", path, token, NULL, NULL, 0, r);
}

static inline void t_post(const char *path, const char *token, const char *body, struct reply *r)
{
    t_call("POST", path, token, "json", body, strlen(body), r);
}

/* ---- reading answers ---------------------------------------------------------- */

/* The member at a slash path ("error/code", "items/0/mrn"), or NULL. */
static inline json_object *jget(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *seg = strtok_r(buf, "/", &save); seg && o; seg = strtok_r(NULL, "/", &save)) {
        if (json_object_is_type(o, json_type_array)) {
            char *end;
            long i = strtol(seg, &end, 10);
            o = *end || i < 0 || (size_t)i >= json_object_array_length(o)
                    ? NULL
                    : json_object_array_get_idx(o, (size_t)i);
        } else if (!json_object_object_get_ex(o, seg, &o)) {
            o = NULL;
        }
    }
    return o;
}

static inline const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static inline size_t jlen(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

/* True when the array at path holds the string s. */
static inline bool jhas(json_object *o, const char *path, const char *s)
{
    json_object *a = jget(o, path);
    for (size_t i = 0; a && i < json_object_array_length(a); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
            return true;
    return false;
}

/* True when error.problems has one with this rule (and pointer, when not NULL). */
static inline bool has_problem(const struct reply *r, const char *rule, const char *pointer)
{
    json_object *a = jget(r->json, "error/problems");
    for (size_t i = 0; a && i < json_object_array_length(a); i++) {
        json_object *p = json_object_array_get_idx(a, i);
        if (strcmp(jstr(p, "rule") ? jstr(p, "rule") : "", rule) == 0 &&
            (!pointer || strcmp(jstr(p, "pointer") ? jstr(p, "pointer") : "", pointer) == 0))
            return true;
    }
    return false;
}

/* Fails unless the answer has this status (and error code, when given). */
static inline void t_expect(const struct reply *r, long status, const char *code, const char *file,
                            int line)
{
    if (r->status != status)
        fail_msg("%s:%d: status %ld, expected %ld: %s", file, line, r->status, status,
                 r->body ? r->body : "");
    const char *got = jstr(r->json, "error/code");
    if (code && (!got || strcmp(got, code) != 0))
        fail_msg("%s:%d: error code %s, expected %s: %s", file, line, got ? got : "none", code,
                 r->body ? r->body : "");
}
#define EXPECT(r, st, code) t_expect((r), (st), (code), __FILE__, __LINE__)

#define EXPECT_PROBLEM(r, rule, pointer)                                                           \
    do {                                                                                           \
        if (!has_problem((r), (rule), (pointer)))                                                  \
            fail_msg("%s:%d: no problem %s at %s in %s", __FILE__, __LINE__, (rule),               \
                     (pointer) ? (pointer) : "*", (r)->body ? (r)->body : "");                     \
    } while (0)

/* ---- declarations --------------------------------------------------------------- */

struct tdecl {
    const char *lrn;
    const char *holder;      /* NULL: T_HOLDER */
    const char *departure;   /* NULL: T_DEP */
    const char *destination; /* NULL: T_DES */
    const char *security;    /* NULL: "0" */
    const char *limit_date;  /* NULL: none */
    const char *grn;         /* NULL: T_GRN */
    const char *amount;      /* NULL: "150.00" */
    const char *currency;    /* NULL: "EUR" */
    const char *mass;        /* NULL: "1250.5" */
    unsigned items;          /* 0: 1 */
    bool no_seals;
    bool security1; /* security "1" with what it needs (border mode, routing, unloading) */
};

/* A valid domestic declaration (KZ050200 → KZ050100, two seals) as JSON;
 * caller frees. */
static inline char *t_decl(const struct tdecl *o)
{
    unsigned items = o->items ? o->items : 1;
    size_t cap = 4096 + (size_t)items * 256;
    char *itembuf = malloc(cap), *out = malloc(cap + 4096);
    size_t n = 0;
    itembuf[0] = '\0';
    for (unsigned i = 1; i <= items; i++)
        n += (size_t)snprintf(itembuf + n, cap - n,
                              "%s{\"declarationGoodsItemNumber\":%u,\"commodity\":{\"description\":"
                              "\"Ceramic floor tiles\",\"hs\":\"690721\",\"grossMass\":%s},"
                              "\"packages\":[{\"type\":\"PX\",\"number\":2,\"shippingMarks\":"
                              "\"NZ-%u\"}]}",
                              i > 1 ? "," : "", i, i == 1 ? (o->mass ? o->mass : "1250.5") : "0.5",
                              i);
    char limit[64] = "";
    if (o->limit_date)
        snprintf(limit, sizeof limit, "\"limitDate\":\"%s\",", o->limit_date);
    /* the house and consignment masses must add up: item 1 carries the mass,
     * others 0.5 each */
    char mass[64];
    if (items == 1)
        snprintf(mass, sizeof mass, "%s", o->mass ? o->mass : "1250.5");
    else
        snprintf(mass, sizeof mass, "%u.%u", 1250 + items / 2, items % 2 ? 5 : 0);
    snprintf(out, cap + 4096,
             "{\"lrn\":\"%s\",\"declarationType\":\"T1\",\"additionalDeclarationType\":\"A\","
             "\"security\":\"%s\",\"reducedDatasetIndicator\":false,\"bindingItinerary\":false,"
             "%s\"officeOfDeparture\":\"%s\",\"officeOfDestination\":\"%s\","
             "\"holder\":{\"id\":\"%s\"},"
             "\"guarantees\":[{\"type\":\"1\",\"references\":[{\"grn\":\"%s\",\"accessCode\":"
             "\"4821\",\"amount\":%s,\"currency\":\"%s\"}]}],"
             "\"consignment\":{\"containerIndicator\":false,%s\"grossMass\":%s%s},"
             "\"houseConsignments\":[{\"grossMass\":%s,\"items\":[%s]}]}",
             o->lrn,
             o->security1  ? "1"
             : o->security ? o->security
                           : "0",
             limit, o->departure ? o->departure : T_DEP, o->destination ? o->destination : T_DES,
             o->holder ? o->holder : T_HOLDER, o->grn ? o->grn : T_GRN,
             o->amount ? o->amount : "150.00", o->currency ? o->currency : "EUR",
             o->security1 ? "\"borderMode\":\"3\",\"countriesOfRouting\":[\"KZ\"],"
                            "\"placeOfUnloading\":{\"unLocode\":\"KZALA\",\"country\":\"KZ\","
                            "\"location\":\"Almaty\"},"
                          : "",
             mass,
             o->no_seals ? ""
                         : ",\"transportEquipment\":[{\"numberOfSeals\":2,\"seals\":[\"KZS001\","
                           "\"KZS002\"],\"goodsReferences\":[1]}]",
             mass, itembuf);
    free(itembuf);
    return out;
}

/* Registers a guarantee (any status but 201/200 fails). */
static inline void t_guarantee(const char *grn, const char *amount, const char *currency)
{
    char body[256];
    snprintf(body, sizeof body, "{\"grn\":\"%s\",\"referenceAmount\":\"%s\",\"currency\":\"%s\"}",
             grn, amount, currency);
    struct reply r;
    t_post("/v1/guarantees", T.guarantor, body, &r);
    if (r.status != 201 && r.status != 200)
        fail_msg("guarantee %s: %ld %s", grn, r.status, r.body);
    reply_free(&r);
}

/* A GRN with a correct check character: 25KZ + 12 characters + check. */
static inline void t_grn(const char *twelve, char out[18])
{
    snprintf(out, 18, "25KZ%.12s", twelve);
    out[16] = (char)kv_check_char(out, 16);
    out[17] = '\0';
}

/* Lodges a declaration as the holder; fills mrn; fails unless 201. */
static inline void t_lodge(const struct tdecl *o, char mrn[KV_MRN_LEN + 1])
{
    char *json = t_decl(o);
    struct reply r;
    t_post("/v1/declarations",
           o->holder && strcmp(o->holder, T_HOLDER2) == 0 ? T.trader2 : T.trader, json, &r);
    free(json);
    if (r.status != 201)
        fail_msg("lodge %s: %ld %s", o->lrn, r.status, r.body);
    snprintf(mrn, KV_MRN_LEN + 1, "%s", jstr(r.json, "mrn"));
    reply_free(&r);
}

/* Posts an event (JSON members after type/time/office) as `token`, at the
 * clock's time after moving it a minute on. */
static inline void t_event(const char *mrn, const char *token, const char *type, const char *office,
                           const char *rest, struct reply *r)
{
    char when[32], path[128];
    t_tick(60);
    t_time(when);
    snprintf(path, sizeof path, "/v1/movements/%s/events", mrn);
    size_t n = 256 + strlen(type) + strlen(office) + (rest ? strlen(rest) : 0);
    char *body = malloc(n);
    snprintf(body, n, "{\"type\":\"%s\",\"time\":\"%s\",\"office\":\"%s\"%s%s}", type, when, office,
             rest && rest[0] ? "," : "", rest ? rest : "");
    t_post(path, token, body, r);
    free(body);
}

/* Same, failing unless 201; returns nothing. */
static inline void t_event_ok(const char *mrn, const char *token, const char *type,
                              const char *office, const char *rest)
{
    struct reply r;
    t_event(mrn, token, type, office, rest, &r);
    if (r.status != 201)
        fail_msg("%s on %s: %ld %s", type, mrn, r.status, r.body);
    reply_free(&r);
}

static inline const char *t_state(const char *mrn)
{
    static char state[32];
    char path[64];
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    struct reply r;
    t_get(path, T.analyst, &r);
    snprintf(state, sizeof state, "%s", jstr(r.json, "state") ? jstr(r.json, "state") : "?");
    reply_free(&r);
    return state;
}

#endif
