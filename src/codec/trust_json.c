/*
 * trust_json.c — the trust list file (see trust_json.h).
 */
#include "codec/trust_json.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_strict.h"
#include "core/err.h"
#include "crypto/crypto.h"

#define TRUST_MAX_DEPTH      8
#define TRUST_MAX_CONTAINERS 4096u
#define TRUST_MAX_VALUES     32768u

struct dec {
    struct kv_report *rep;
    const char *prefix;
    bool limit; /* a model limit was hit */
};

/* dst = a + b, cut to fit (pointers here are short: "/nodes/63/keys/7/until"). */
static void join(char *dst, size_t size, const char *a, const char *b)
{
    size_t la = strnlen(a, size - 1), lb = strnlen(b, size - 1 - la);
    memmove(dst, a, la);
    memcpy(dst + la, b, lb);
    dst[la + lb] = '\0';
}

static void problem(struct dec *d, const char *rule, const char *ptr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct dec *d, const char *rule, const char *ptr, const char *fmt, ...)
{
    char full[KV_POINTER_MAX], msg[KV_MESSAGE_MAX];
    va_list ap;
    join(full, sizeof full, d->prefix, ptr);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kv_report_add(d->rep, rule, full, "%s", msg);
}

/* Problems for members of obj not in `allowed`. */
struct unknown_ctx {
    struct dec *d;
    const char *ptr;
};

static void report_unknown(void *ctx, const char *key)
{
    struct unknown_ctx *u = ctx;
    char q[64], p[KV_POINTER_MAX];
    kv_quote(q, sizeof q, key, strlen(key), 30);
    join(p, sizeof p, u->ptr, "/");
    join(p, sizeof p, p, q);
    problem(u->d, "R-TRUST-003", p, "unknown member \"%s\"", q);
}

static void unknown_members(struct dec *d, json_object *obj, const char *ptr,
                            const char *const *allowed)
{
    struct unknown_ctx u = {d, ptr};
    kv_json_unknown_members(obj, allowed, report_unknown, &u);
}

/* The member `name` of obj when it has type `type`; a problem otherwise
 * (missing when `required`). */
static json_object *member(struct dec *d, json_object *obj, const char *ptr, const char *name,
                           json_type type, bool required)
{
    json_object *v = NULL;
    char p[KV_POINTER_MAX];
    join(p, sizeof p, ptr, "/");
    join(p, sizeof p, p, name);
    if (!json_object_object_get_ex(obj, name, &v)) {
        if (required)
            problem(d, "R-TRUST-003", p, "the member \"%s\" is missing", name);
        return NULL;
    }
    if (!json_object_is_type(v, type)) {
        problem(d, "R-TRUST-003", p, "\"%s\" must be %s, not %s", name,
                type == json_type_string  ? "a string"
                : type == json_type_array ? "an array"
                                          : "an object",
                kv_json_type_name(v));
        return NULL;
    }
    return v;
}

static bool get_time(struct dec *d, json_object *v, const char *ptr, struct kv_time *t)
{
    const char *why = NULL;
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (kv_time_parse(s, n, t, &why) != KV_OK) {
        char q[64];
        kv_quote(q, sizeof q, s, n, 30);
        problem(d, "R-TRUST-021", ptr, "\"%s\" is not an RFC 3339 time: %s", q,
                why ? why : "malformed");
        return false;
    }
    return true;
}

static void on_dup(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    char q[64];
    kv_quote(q, sizeof q, name, name_len, 30);
    problem(ctx, "R-TRUST-001", pointer, "the member \"%s\" appears twice", q);
}

static const char *const root_members[] = {"nodes", NULL};
static const char *const node_members[] = {"country", "url", "keys", NULL};
static const char *const key_members[] = {"key", "fingerprint", "from", "until", NULL};

static void dec_key(struct dec *d, json_object *kobj, const char *ptr, struct kv_trust *t,
                    struct kv_trust_node *node)
{
    char p[KV_POINTER_MAX], q[64];
    struct kv_trust_key k;
    bool ok = true;

    memset(&k, 0, sizeof k);
    if (!json_object_is_type(kobj, json_type_object)) {
        problem(d, "R-TRUST-003", ptr, "a key entry must be an object, not %s", kv_json_type_name(kobj));
        return;
    }
    unknown_members(d, kobj, ptr, key_members);
    json_object *v = member(d, kobj, ptr, "key", json_type_string, true);
    if (v) {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        join(p, sizeof p, ptr, "/key");
        if (kv_b64url_decode_exact(s, n, k.pk, sizeof k.pk) != KV_OK) {
            kv_quote(q, sizeof q, s, n, 50);
            problem(d, "R-TRUST-020", p,
                    "\"%s\" is not a public key (43 base64url characters, no padding)", q);
            ok = false;
        } else if (!kv_crypto_pk_ok(k.pk)) {
            problem(d, "R-TRUST-020", p, "not a valid Ed25519 public key");
            ok = false;
        } else {
            kv_crypto_fingerprint(k.pk, k.fingerprint);
        }
    } else {
        ok = false;
    }
    v = member(d, kobj, ptr, "fingerprint", json_type_string, false);
    if (v && ok) {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n != KV_FP_LEN || memcmp(s, k.fingerprint, KV_FP_LEN) != 0) {
            join(p, sizeof p, ptr, "/fingerprint");
            kv_quote(q, sizeof q, s, n, 45);
            problem(d, "R-TRUST-024", p, "\"%s\" is not the key's fingerprint (%s)", q,
                    k.fingerprint);
            ok = false;
        }
    }
    v = member(d, kobj, ptr, "from", json_type_string, true);
    join(p, sizeof p, ptr, "/from");
    if (!v || !get_time(d, v, p, &k.from))
        ok = false;
    json_object *u = NULL;
    if (json_object_object_get_ex(kobj, "until", &u) && !json_object_is_type(u, json_type_null)) {
        join(p, sizeof p, ptr, "/until");
        if (!json_object_is_type(u, json_type_string)) {
            problem(d, "R-TRUST-003", p, "\"until\" must be a string or null, not %s",
                    kv_json_type_name(u));
            ok = false;
        } else if (!get_time(d, u, p, &k.until)) {
            ok = false;
        } else {
            k.has_until = true;
            if (v && k.until.epoch <= k.from.epoch) {
                problem(d, "R-TRUST-022", p, "the key's validity ends (%s) before it begins (%s)",
                        k.until.text, k.from.text);
                ok = false;
            }
        }
    }
    if (!ok)
        return;
    const struct kv_trust_node *owner = kv_trust_key_owner(t, k.fingerprint, NULL);
    for (size_t j = 0; !owner && j < node->n_keys; j++)
        if (strcmp(node->keys[j].fingerprint, k.fingerprint) == 0)
            owner = node;
    if (owner) {
        join(p, sizeof p, ptr, "/key");
        problem(d, "R-TRUST-023", p, "the key %s is listed twice (already a key of %s)",
                k.fingerprint, owner->country);
        return;
    }
    if (node->n_keys >= KV_TRUST_KEYS_MAX) {
        problem(d, "R-TRUST-025", ptr, "more than %d keys for %s", KV_TRUST_KEYS_MAX,
                node->country);
        d->limit = true;
        return;
    }
    node->keys[node->n_keys++] = k;
}

static void dec_node(struct dec *d, json_object *nobj, const char *ptr, struct kv_trust *t)
{
    char p[KV_POINTER_MAX], q[64];
    struct kv_trust_node *node;

    if (!json_object_is_type(nobj, json_type_object)) {
        problem(d, "R-TRUST-003", ptr, "a node entry must be an object, not %s", kv_json_type_name(nobj));
        return;
    }
    unknown_members(d, nobj, ptr, node_members);
    bool ok = true;
    char country[3] = "";
    json_object *v = member(d, nobj, ptr, "country", json_type_string, true);
    if (v) {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        join(p, sizeof p, ptr, "/country");
        if (!kv_trust_country_ok(s, n)) {
            kv_quote(q, sizeof q, s, n, 20);
            problem(d, "R-TRUST-010", p, "\"%s\" is not a country code (two upper-case letters)",
                    q);
            ok = false;
        } else if (kv_trust_node(t, s)) {
            problem(d, "R-TRUST-011", p, "%s is listed twice", s);
            ok = false;
        } else {
            memcpy(country, s, 3);
        }
    } else {
        ok = false;
    }
    const char *url = NULL;
    v = member(d, nobj, ptr, "url", json_type_string, true);
    if (v) {
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (!kv_trust_url_ok(s, n) || strlen(s) != n) {
            join(p, sizeof p, ptr, "/url");
            kv_quote(q, sizeof q, s, n, 50);
            problem(d, "R-TRUST-012", p,
                    "\"%s\" is not a base URL (http:// or https://, a host, printable ASCII, at "
                    "most %d bytes)",
                    q, KV_TRUST_URL_MAX);
            ok = false;
        } else {
            url = s;
        }
    } else {
        ok = false;
    }
    json_object *keys = member(d, nobj, ptr, "keys", json_type_array, true);
    if (ok && t->n >= KV_TRUST_NODES_MAX) {
        problem(d, "R-TRUST-013", ptr, "more than %d nodes", KV_TRUST_NODES_MAX);
        d->limit = true;
        ok = false;
    }
    if (ok) {
        (void)kv_trust_add_node(t, country, url);
        node = &t->nodes[t->n - 1];
    } else {
        node = NULL;
    }
    if (!keys)
        return;
    size_t nk = json_object_array_length(keys);
    if (nk == 0) {
        join(p, sizeof p, ptr, "/keys");
        problem(d, "R-TRUST-025", p, "a node needs at least one key");
    }
    /* Keys of a rejected node are still checked, into a local list. */
    struct kv_trust_node local;
    if (!node) {
        memset(&local, 0, sizeof local);
        node = &local;
    }
    for (size_t i = 0; i < nk; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "/keys/%zu", i);
        join(p, sizeof p, ptr, idx);
        dec_key(d, json_object_array_get_idx(keys, i), p, t, node);
    }
}

int kv_trust_from_json(const char *buf, size_t len, const char *prefix, struct kv_trust *t,
                       struct kv_report *rep)
{
    struct dec d = {.rep = rep, .prefix = prefix ? prefix : ""};
    struct json_tokener *tok = NULL;
    json_object *root = NULL;
    int rc = KV_EPARSE;

    if (!buf || !t || !rep)
        return KV_EINVAL;
    kv_trust_init(t);
    size_t before = rep->total;
    if (len > KV_TRUST_JSON_MAX) {
        problem(&d, "R-TRUST-002", "", "the trust list is %zu bytes; at most %u", len,
                KV_TRUST_JSON_MAX);
        return KV_ELIMIT;
    }
    if (len == 0 || memchr(buf, '\0', len)) {
        problem(&d, "R-TRUST-001", "", "not JSON: %s", len ? "a NUL byte" : "empty");
        return KV_EPARSE;
    }
    struct kv_json_limits lim = {TRUST_MAX_DEPTH, TRUST_MAX_CONTAINERS, TRUST_MAX_VALUES};
    struct kv_json_error jerr;
    size_t dups = rep->total;
    int c = kv_json_check(buf, len, &lim, on_dup, &d, &jerr);
    if (c == KV_ENOMEM)
        return KV_ENOMEM;
    if (c != KV_OK) {
        problem(&d, c == KV_ELIMIT ? "R-TRUST-002" : "R-TRUST-001", "",
                "%s%s (line %zu, column %zu)", c == KV_ELIMIT ? "" : "not JSON: ", jerr.message,
                jerr.line, jerr.column);
        return c == KV_ELIMIT ? KV_ELIMIT : KV_EPARSE;
    }
    if (rep->total != dups)
        return KV_EPARSE; /* json-c would keep only the last of the repeats */
    tok = json_tokener_new_ex(TRUST_MAX_DEPTH + 1);
    if (!tok)
        return KV_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, buf, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success || !root) {
        problem(&d, "R-TRUST-001", "", "not JSON: %s",
                json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        problem(&d, "R-TRUST-003", "", "a trust list is an object, not %s", kv_json_type_name(root));
        goto out;
    }
    unknown_members(&d, root, "", root_members);
    json_object *nodes = member(&d, root, "", "nodes", json_type_array, true);
    if (nodes) {
        size_t n = json_object_array_length(nodes);
        char p[KV_POINTER_MAX];
        for (size_t i = 0; i < n; i++) {
            snprintf(p, sizeof p, "/nodes/%zu", i);
            dec_node(&d, json_object_array_get_idx(nodes, i), p, t);
        }
    }
out:
    if (root)
        json_object_put(root);
    json_tokener_free(tok);
    if (rep->oom)
        return KV_ENOMEM;
    if (rep->total != before) {
        kv_trust_init(t);
        return d.limit ? KV_ELIMIT : rc;
    }
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

int kv_trust_key_make(struct kv_trust_key *k, const uint8_t pk[32], const struct kv_time *from,
                      const struct kv_time *until)
{
    if (!k || !pk || !from || !kv_crypto_pk_ok(pk) || (until && until->epoch <= from->epoch))
        return KV_EINVAL;
    memset(k, 0, sizeof(*k));
    memcpy(k->pk, pk, sizeof k->pk);
    kv_crypto_fingerprint(pk, k->fingerprint);
    k->from = *from;
    if (until) {
        k->has_until = true;
        k->until = *until;
    }
    return KV_OK;
}

int kv_trust_to_json(const struct kv_trust *t, char **out, size_t *len)
{
    /* Bounded: every field has a maximum size. */
    size_t cap = 64 + t->n * (KV_TRUST_URL_MAX + 128 + KV_TRUST_KEYS_MAX * 256);
    char *b = malloc(cap);
    size_t o = 0;
    if (!b)
        return KV_ENOMEM;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(b + o, cap - o, __VA_ARGS__);                                            \
        if (k_ < 0 || (size_t)k_ >= cap - o)                                                       \
            goto overflow;                                                                         \
        o += (size_t)k_;                                                                           \
    } while (0)
    PUT("{\n  \"nodes\": [");
    for (size_t i = 0; i < t->n; i++) {
        const struct kv_trust_node *n = &t->nodes[i];
        PUT("%s\n    {\n      \"country\": \"%s\",\n      \"url\": \"%s\",\n      \"keys\": [",
            i ? "," : "", n->country, n->url);
        for (size_t j = 0; j < n->n_keys; j++) {
            const struct kv_trust_key *k = &n->keys[j];
            char b64[KV_PK_B64_LEN + 1];
            kv_b64url_encode(k->pk, sizeof k->pk, b64, sizeof b64);
            PUT("%s\n        {\"key\": \"%s\", \"fingerprint\": \"%s\", \"from\": \"%s\", "
                "\"until\": ",
                j ? "," : "", b64, k->fingerprint, k->from.text);
            if (k->has_until)
                PUT("\"%s\"}", k->until.text);
            else
                PUT("null}");
        }
        PUT("%s]\n    }", n->n_keys ? "\n      " : "");
    }
    PUT("%s]\n}\n", t->n ? "\n  " : "");
#undef PUT
    *out = b;
    *len = o;
    return KV_OK;
overflow:
    free(b);
    return KV_EINVAL;
}
