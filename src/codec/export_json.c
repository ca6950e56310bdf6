/*
 * export_json.c — the chain export (see export_json.h).
 */
#include "codec/export_json.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/event_json.h"
#include "codec/json_span.h"
#include "codec/json_strict.h"
#include "codec/trust_json.h"
#include "core/err.h"
#include "crypto/chain_crypto.h"
#include "crypto/crypto.h"

#define EXP_MAX_DEPTH      12
#define EXP_MAX_CONTAINERS (2u * KV_CHAIN_EVENTS_MAX + 8192u)
#define EXP_MAX_VALUES     (16u * KV_CHAIN_EVENTS_MAX + 65536u)

void kv_export_init(struct kv_export *ex)
{
    memset(ex, 0, sizeof(*ex));
}

void kv_export_clear(struct kv_export *ex)
{
    if (!ex)
        return;
    free(ex->declaration);
    for (size_t i = 0; i < ex->n; i++)
        free((char *)ex->events[i].event);
    free(ex->events);
    free(ex->trust);
    memset(ex, 0, sizeof(*ex));
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

struct dec {
    struct kv_report *rep;
    bool oom;
};

struct unknown_ctx {
    struct dec *d;
    const char *ptr;
};

static void report_unknown(void *ctx, const char *key)
{
    struct unknown_ctx *u = ctx;
    char q[64];
    kv_quote(q, sizeof q, key, strlen(key), 30);
    kv_report_add(u->d->rep, "R-EXP-003", u->ptr, "unknown member \"%s\"", q);
}

static void unknown_members(struct dec *d, json_object *obj, const char *ptr,
                            const char *const *allowed)
{
    struct unknown_ctx u = {d, ptr};
    kv_json_unknown_members(obj, allowed, report_unknown, &u);
}

/* The string member `name`: its bytes (no NUL inside), or NULL with a
 * problem when required. */
static const char *get_str(struct dec *d, json_object *obj, const char *ptr, const char *name,
                           bool required, size_t *len)
{
    json_object *v = NULL;
    char p[KV_POINTER_MAX];
    snprintf(p, sizeof p, "%.120s/%s", ptr, name);
    if (!json_object_object_get_ex(obj, name, &v)) {
        if (required)
            kv_report_add(d->rep, "R-EXP-003", p, "the member \"%s\" is missing", name);
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        kv_report_add(d->rep, "R-EXP-003", p, "\"%s\" must be a string, not %s", name,
                      kv_json_type_name_exact(v));
        return NULL;
    }
    const char *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    if (memchr(s, '\0', *len)) {
        kv_report_add(d->rep, "R-EXP-003", p, "\"%s\" holds a NUL character", name);
        return NULL;
    }
    return s;
}

static bool get_time(struct dec *d, json_object *obj, const char *ptr, const char *name,
                     bool required, struct kv_time *t)
{
    size_t n = 0;
    const char *s = get_str(d, obj, ptr, name, required, &n);
    const char *why = NULL;
    if (!s)
        return false;
    if (kv_time_parse(s, n, t, &why) != KV_OK) {
        char p[KV_POINTER_MAX], q[64];
        snprintf(p, sizeof p, "%.120s/%s", ptr, name);
        kv_quote(q, sizeof q, s, n, 30);
        kv_report_add(d->rep, "R-EXP-010", p, "\"%s\" is not an RFC 3339 time: %s", q,
                      why ? why : "malformed");
        return false;
    }
    return true;
}

static bool get_hex32(struct dec *d, json_object *obj, const char *ptr, const char *name,
                      uint8_t out[32])
{
    size_t n = 0;
    const char *s = get_str(d, obj, ptr, name, true, &n);
    if (!s)
        return false;
    if (kv_hex_decode_exact(s, n, out, 32) != KV_OK) {
        char p[KV_POINTER_MAX];
        snprintf(p, sizeof p, "%.120s/%s", ptr, name);
        kv_report_add(d->rep, "R-EXP-011", p, "not a hash: 64 lower-case hex digits expected");
        return false;
    }
    return true;
}

/* A key fingerprint member (required), copied to out (KV_FP_LEN + 1). */
static void get_keyid(struct dec *d, json_object *obj, const char *ptr, const char *name, char *out)
{
    size_t n = 0;
    const char *s = get_str(d, obj, ptr, name, true, &n);
    if (!s)
        return;
    if (!kv_crypto_fingerprint_ok(s, n)) {
        char p[KV_POINTER_MAX];
        snprintf(p, sizeof p, "%.120s/%s", ptr, name);
        kv_report_add(d->rep, "R-EXP-014", p, "not a key fingerprint (8 groups of 4 hex digits)");
        return;
    }
    memcpy(out, s, KV_FP_LEN + 1);
}

/* A signature member (required, base64url of 64 bytes). */
static void get_sig(struct dec *d, json_object *obj, const char *ptr, const char *name,
                    uint8_t out[KV_CHAIN_SIG_LEN])
{
    size_t n = 0;
    const char *s = get_str(d, obj, ptr, name, true, &n);
    if (s && kv_b64url_decode_exact(s, n, out, KV_CHAIN_SIG_LEN) != KV_OK) {
        char p[KV_POINTER_MAX];
        snprintf(p, sizeof p, "%.120s/%s", ptr, name);
        kv_report_add(d->rep, "R-EXP-015", p,
                      "not a signature (86 base64url characters, no padding)");
    }
}

static char *dup_bytes(struct dec *d, const char *s, size_t n)
{
    char *b = malloc(n + 1);
    if (!b) {
        d->oom = true;
        return NULL;
    }
    memcpy(b, s, n);
    b[n] = '\0';
    return b;
}

static void on_dup(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    char q[64];
    kv_quote(q, sizeof q, name, name_len, 30);
    kv_report_add(ctx, "R-EXP-001", pointer, "the member \"%s\" appears twice", q);
}

static const char *const root_members[] = {"format",      "v",           "mrn",   "exported_by",
                                           "exported_at", "declaration", "link0", "events",
                                           "trust",       NULL};
static const char *const event_members[] = {"seq", "node",        "time",      "keyid", "sig",
                                            "link", "order_keyid", "order_sig", "event", NULL};

static void dec_event(struct dec *d, json_object *eo, size_t i, struct kv_chain_event *e)
{
    char ptr[48], p[KV_POINTER_MAX];
    size_t n = 0;
    const char *s;

    snprintf(ptr, sizeof ptr, "/events/%zu", i);
    if (!json_object_is_type(eo, json_type_object)) {
        kv_report_add(d->rep, "R-EXP-003", ptr, "an event record is an object, not %s",
                      kv_json_type_name_exact(eo));
        return;
    }
    unknown_members(d, eo, ptr, event_members);
    json_object *v = NULL;
    snprintf(p, sizeof p, "%s/seq", ptr);
    if (!json_object_object_get_ex(eo, "seq", &v)) {
        kv_report_add(d->rep, "R-EXP-003", p, "the member \"seq\" is missing");
    } else {
        int64_t seq = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
        if (seq < 1 || seq > (int64_t)UINT32_MAX)
            kv_report_add(d->rep, "R-EXP-012", p,
                          "\"seq\" must be an integer from 1 to 4294967295");
        else
            e->seq = (uint32_t)seq;
    }
    s = get_str(d, eo, ptr, "node", true, &n);
    if (s) {
        if (!kv_trust_country_ok(s, n)) {
            snprintf(p, sizeof p, "%s/node", ptr);
            kv_report_add(d->rep, "R-EXP-013", p, "not a country code (two upper-case letters)");
        } else {
            memcpy(e->node, s, 3);
        }
    }
    (void)get_time(d, eo, ptr, "time", true, &e->time);
    get_keyid(d, eo, ptr, "keyid", e->keyid);
    get_sig(d, eo, ptr, "sig", e->sig);
    (void)get_hex32(d, eo, ptr, "link", e->link);
    get_keyid(d, eo, ptr, "order_keyid", e->order_keyid);
    get_sig(d, eo, ptr, "order_sig", e->order_sig);
    s = get_str(d, eo, ptr, "event", true, &n);
    if (s) {
        e->event = dup_bytes(d, s, n);
        e->event_len = e->event ? n : 0;
    }
}

int kv_export_from_json(const char *buf, size_t len, struct kv_export *ex, struct kv_report *rep)
{
    struct dec d = {.rep = rep};
    struct json_tokener *tok = NULL;
    json_object *root = NULL;
    int rc = KV_EPARSE;

    if (!buf || !ex || !rep)
        return KV_EINVAL;
    kv_export_clear(ex);
    size_t before = rep->total;
    if (len > KV_EXPORT_JSON_MAX) {
        kv_report_add(rep, "R-EXP-002", "", "the export is %zu bytes; at most %u", len,
                      KV_EXPORT_JSON_MAX);
        return KV_ELIMIT;
    }
    if (len == 0 || memchr(buf, '\0', len)) {
        kv_report_add(rep, "R-EXP-001", "", "not JSON: %s", len ? "a NUL byte" : "empty");
        return KV_EPARSE;
    }
    struct kv_json_limits lim = {EXP_MAX_DEPTH, EXP_MAX_CONTAINERS, EXP_MAX_VALUES};
    struct kv_json_error jerr;
    int c = kv_json_check(buf, len, &lim, on_dup, rep, &jerr);
    if (c == KV_ENOMEM)
        return KV_ENOMEM;
    if (c != KV_OK) {
        kv_report_add(rep, c == KV_ELIMIT ? "R-EXP-002" : "R-EXP-001", "",
                      "%s%s (line %zu, column %zu)",
                      c == KV_ELIMIT ? "" : "not JSON: ", jerr.message, jerr.line, jerr.column);
        return c == KV_ELIMIT ? KV_ELIMIT : KV_EPARSE;
    }
    if (rep->total != before)
        return KV_EPARSE; /* repeated members: json-c would keep only the last */
    tok = json_tokener_new_ex(EXP_MAX_DEPTH + 1);
    if (!tok)
        return KV_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, buf, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success || !root) {
        kv_report_add(rep, "R-EXP-001", "", "not JSON: %s",
                      json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    if (!json_object_is_type(root, json_type_object)) {
        kv_report_add(rep, "R-EXP-003", "", "an export is an object, not %s", kv_json_type_name_exact(root));
        goto out;
    }
    unknown_members(&d, root, "", root_members);

    size_t n = 0;
    const char *s = get_str(&d, root, "", "format", true, &n);
    if (s && (n != strlen(KV_EXPORT_FORMAT) || memcmp(s, KV_EXPORT_FORMAT, n) != 0))
        kv_report_add(rep, "R-EXP-004", "/format", "not a chain export (\"format\" must be \"%s\")",
                      KV_EXPORT_FORMAT);
    /* The version decides every event's shape: on a wrong one, stop here
     * rather than list every member it lacks. */
    json_object *v = NULL;
    int64_t ver = 0;
    if (json_object_object_get_ex(root, "v", &v) && json_object_is_type(v, json_type_int))
        ver = json_object_get_int64(v);
    if (ver == 1) {
        kv_report_add(rep, "R-EXP-004", "/v",
                      "a version 1 export (chain v1: one signature per event, over its link) "
                      "is no longer read: this program reads version %d (chain v2: signed "
                      "where it happened, ordered and signed by the owner); export the "
                      "movement again from its node",
                      KV_EXPORT_VERSION);
        goto out;
    }
    if (ver != KV_EXPORT_VERSION) {
        kv_report_add(rep, "R-EXP-004", "/v", "unsupported export version (this program reads %d)",
                      KV_EXPORT_VERSION);
        goto out;
    }
    s = get_str(&d, root, "", "mrn", true, &n);
    if (s) {
        if (!kv_mrn_verify(s, n, KV_MRN_P5_OR_LEGACY, NULL))
            kv_report_add(rep, "R-EXP-005", "/mrn", "not a valid MRN");
        else
            memcpy(ex->mrn, s, KV_MRN_LEN + 1);
    }
    s = get_str(&d, root, "", "exported_by", false, &n);
    if (s) {
        if (!kv_trust_country_ok(s, n))
            kv_report_add(rep, "R-EXP-013", "/exported_by", "not a country code");
        else
            memcpy(ex->exported_by, s, 3);
    }
    (void)get_time(&d, root, "", "exported_at", false, &ex->exported_at);
    s = get_str(&d, root, "", "declaration", false, &n);
    if (s) {
        ex->declaration = dup_bytes(&d, s, n);
        ex->declaration_len = ex->declaration ? n : 0;
    }
    (void)get_hex32(&d, root, "", "link0", ex->link0);

    json_object *events = NULL;
    if (!json_object_object_get_ex(root, "events", &events) ||
        !json_object_is_type(events, json_type_array)) {
        kv_report_add(rep, "R-EXP-003", "/events", "\"events\" must be an array");
    } else {
        size_t ne = json_object_array_length(events);
        if (ne > KV_CHAIN_EVENTS_MAX) {
            kv_report_add(rep, "R-EXP-002", "/events", "%zu events; at most %d", ne,
                          KV_CHAIN_EVENTS_MAX);
            rc = KV_ELIMIT;
            goto out;
        }
        if (ne) {
            ex->events = calloc(ne, sizeof *ex->events);
            if (!ex->events) {
                d.oom = true;
                goto out;
            }
            ex->n = ne;
            for (size_t i = 0; i < ne && !d.oom; i++)
                dec_event(&d, json_object_array_get_idx(events, i), i, &ex->events[i]);
        }
    }

    /* The embedded trust list, decoded from its own text. */
    size_t toff = 0, tlen = 0;
    if (json_object_object_get_ex(root, "trust", &v) &&
        kv_json_member_span(buf, len, "trust", &toff, &tlen)) {
        ex->trust = malloc(sizeof *ex->trust);
        if (!ex->trust) {
            d.oom = true;
            goto out;
        }
        int trc = kv_trust_from_json(buf + toff, tlen, "/trust", ex->trust, rep);
        if (trc == KV_ENOMEM)
            d.oom = true;
    }
out:
    if (root)
        json_object_put(root);
    json_tokener_free(tok);
    if (d.oom || rep->oom) {
        kv_export_clear(ex);
        return KV_ENOMEM;
    }
    if (rep->total != before) {
        kv_export_clear(ex);
        return rc;
    }
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

struct out {
    char *b;
    size_t len, cap;
    bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *nb = realloc(o->b, cap);
        if (!nb) {
            o->oom = true;
            return;
        }
        o->b = nb;
        o->cap = cap;
    }
    memcpy(o->b + o->len, s, n);
    o->len += n;
    o->b[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A JSON string literal of n bytes (UTF-8 passed through; '"', '\\' and
 * control characters escaped). */
static void put_jstr(struct out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        put(o, esc, k);
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

int kv_export_to_json(const struct kv_export *ex, char **out, size_t *len)
{
    struct out o = {0};
    char tmp[256], hex[KV_HASH_HEX_LEN + 1], b64[KV_SIG_B64_LEN + 1];

    if (!ex || !out || !len ||
        !kv_mrn_verify(ex->mrn, strnlen(ex->mrn, 19), KV_MRN_P5_OR_LEGACY, NULL) ||
        (ex->n && !ex->events))
        return KV_EINVAL;
    for (size_t i = 0; i < ex->n; i++) {
        const struct kv_chain_event *e = &ex->events[i];
        if (!kv_trust_country_ok(e->node, strnlen(e->node, 3)) || !e->time.text[0] ||
            !kv_crypto_fingerprint_ok(e->keyid, strnlen(e->keyid, 40)) ||
            !kv_crypto_fingerprint_ok(e->order_keyid, strnlen(e->order_keyid, 40)) || !e->event)
            return KV_EINVAL;
    }
    snprintf(tmp, sizeof tmp, "{\n  \"format\": \"%s\",\n  \"v\": %d,\n  \"mrn\": \"",
             KV_EXPORT_FORMAT, KV_EXPORT_VERSION);
    puts_(&o, tmp);
    puts_(&o, ex->mrn);
    puts_(&o, "\",\n");
    if (kv_trust_country_ok(ex->exported_by, strnlen(ex->exported_by, 3))) {
        snprintf(tmp, sizeof tmp, "  \"exported_by\": \"%s\",\n", ex->exported_by);
        puts_(&o, tmp);
    }
    if (ex->exported_at.text[0]) {
        snprintf(tmp, sizeof tmp, "  \"exported_at\": \"%.25s\",\n", ex->exported_at.text);
        puts_(&o, tmp);
    }
    if (ex->declaration) {
        puts_(&o, "  \"declaration\": ");
        put_jstr(&o, ex->declaration, ex->declaration_len);
        puts_(&o, ",\n");
    }
    kv_hex_encode(ex->link0, sizeof ex->link0, hex);
    puts_(&o, "  \"link0\": \"");
    puts_(&o, hex);
    puts_(&o, "\",\n  \"events\": [");
    for (size_t i = 0; i < ex->n; i++) {
        const struct kv_chain_event *e = &ex->events[i];
        kv_hex_encode(e->link, sizeof e->link, hex);
        snprintf(tmp, sizeof tmp, "%s\n    {\"seq\": %u, \"node\": \"%.2s\", \"time\": \"%.25s\", ",
                 i ? "," : "", (unsigned)e->seq, e->node, e->time.text);
        puts_(&o, tmp);
        kv_b64url_encode(e->sig, sizeof e->sig, b64, sizeof b64);
        snprintf(tmp, sizeof tmp, "\"keyid\": \"%.39s\", \"sig\": \"%s\", ", e->keyid, b64);
        puts_(&o, tmp);
        snprintf(tmp, sizeof tmp, "\"link\": \"%s\", ", hex);
        puts_(&o, tmp);
        kv_b64url_encode(e->order_sig, sizeof e->order_sig, b64, sizeof b64);
        snprintf(tmp, sizeof tmp, "\"order_keyid\": \"%.39s\", \"order_sig\": \"%s", e->order_keyid,
                 b64);
        puts_(&o, tmp);
        puts_(&o, "\", \"event\": ");
        put_jstr(&o, e->event, e->event_len);
        puts_(&o, "}");
    }
    puts_(&o, ex->n ? "\n  ]" : "]");
    if (ex->trust) {
        char *t = NULL;
        size_t tl = 0;
        int rc = kv_trust_to_json(ex->trust, &t, &tl);
        if (rc != KV_OK) {
            free(o.b);
            return rc;
        }
        puts_(&o, ",\n  \"trust\": ");
        while (tl && t[tl - 1] == '\n')
            tl--;
        put(&o, t, tl);
        free(t);
    }
    puts_(&o, "\n}\n");
    if (o.oom) {
        free(o.b);
        return KV_ENOMEM;
    }
    *out = o.b;
    *len = o.len;
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Verification                                                             */
/* ------------------------------------------------------------------------ */

/* The event's bytes decode as a stored event, with the record's time and an
 * office of the signing node's country. */
static bool event_ok(void *ctx, const struct kv_chain_event *e, char *why, size_t why_size)
{
    struct kv_event ev;
    struct kv_report rep;
    bool ok = false;
    (void)ctx;
    kv_report_init(&rep);
    int rc = kv_event_from_json(e->event, e->event_len, &ev, &rep);
    if (rc != KV_OK) {
        snprintf(why, why_size, "the event's bytes are not a stored event: %s%s%.100s",
                 rep.count ? rep.items[0].pointer : "", rep.count ? ": " : "",
                 rep.count ? rep.items[0].message : kv_strerror(rc));
    } else if (strcmp(ev.time.text, e->time.text) != 0) {
        snprintf(why, why_size, "the event's time %.25s is not the record's %.25s", ev.time.text,
                 e->time.text);
    } else if (memcmp(ev.office, e->node, 2) != 0) {
        snprintf(why, why_size, "the event's office %.8s is not in the signing node's country %.2s",
                 ev.office, e->node);
    } else {
        ok = true;
    }
    kv_event_clear(&ev);
    kv_report_release(&rep);
    return ok;
}

int kv_export_verify(const struct kv_export *ex, const struct kv_trust *trust,
                     struct kv_chain_result *res, struct kv_report *rep)
{
    if (!ex || !rep)
        return KV_EINVAL;
    if (!trust)
        trust = ex->trust;
    if (!trust)
        return KV_ENOTFOUND;
    struct kv_chain_ops ops = *kv_crypto_chain_ops();
    ops.event_ok = event_ok;
    struct kv_chain c;
    memset(&c, 0, sizeof c);
    memcpy(c.mrn, ex->mrn, sizeof c.mrn);
    c.declaration = ex->declaration;
    c.declaration_len = ex->declaration_len;
    memcpy(c.link0, ex->link0, sizeof c.link0);
    c.events = ex->events;
    c.n = ex->n;
    return kv_chain_verify(&c, trust, &ops, res, rep);
}
