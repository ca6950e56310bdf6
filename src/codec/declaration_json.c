/*
 * declaration_json.c — kervan's JSON form of a transit declaration, in and
 * out (docs/declaration.md describes every member).
 *
 * Decoding runs in three steps:
 *   1. json_strict checks the text (RFC 8259, UTF-8, no lone surrogates),
 *      reports repeated member names and enforces size, depth and count
 *      limits before any tree is built;
 *   2. json-c builds the tree (kv_json_build: JSON_TOKENER_STRICT,
 *      depth-limited);
 *   3. a walk over the tree fills the model, reporting — and going on past —
 *      unknown members, wrong JSON types, missing required members, arrays
 *      outside their CC015C multiplicity and malformed decimals.
 * Masses and amounts are JSON numbers whose exact source text json-c keeps
 * for non-integers (json_object_get_string); it is parsed by kv_dec_parse,
 * never through a double.
 *
 * Encoding builds a json-c tree in a fixed member order and prints it
 * compactly; decimals are printed as written (kv_dec_format_written).
 */
#include "codec/declaration_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "codec/json_strict.h"
#include "core/err.h"
#include "core/pointer.h"

/* Bounds on the JSON text beyond KV_DECL_JSON_MAX (docs/declaration.md, "Limits"). */
#define JSON_MAX_DEPTH      32
#define JSON_MAX_CONTAINERS 50000u
#define JSON_MAX_VALUES     500000u

struct dec {
    struct kv_declaration *d;
    struct kv_report *rep;
    struct kv_ptr ptr;
    size_t items_total;
    bool items_over;
    bool oom;
};

/* ------------------------------------------------------------------ */
/* Reporting                                                          */
/* ------------------------------------------------------------------ */

static void problem(struct dec *c, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct dec *c, const char *rule, const char *fmt, ...)
{
    char msg[KV_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kv_report_add(c->rep, rule, c->ptr.buf, "%s", msg);
}

/* `"value"` with JSON escapes, at most 60 bytes of the value shown. */
static const char *quoted(char *buf, size_t bufsz, const char *s, size_t len)
{
    if (bufsz < 8)
        return "";
    buf[0] = '"';
    kv_quote(buf + 1, bufsz - 2, s, len, 60);
    size_t n = strlen(buf);
    buf[n] = '"';
    buf[n + 1] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* Members                                                            */
/* ------------------------------------------------------------------ */

enum want { W_STRING, W_BOOL, W_INT, W_DECIMAL, W_OBJECT, W_ARRAY };

static const char *want_name(enum want w)
{
    switch (w) {
    case W_STRING:
        return "a string";
    case W_BOOL:
        return "a boolean (true or false)";
    case W_INT:
        return "an integer";
    case W_DECIMAL:
        return "a number";
    case W_OBJECT:
        return "an object";
    case W_ARRAY:
        return "an array";
    }
    return "a value";
}

static bool type_ok(struct json_object *v, enum want w)
{
    if (!v)
        return false;
    enum json_type t = json_object_get_type(v);
    switch (w) {
    case W_STRING:
        return t == json_type_string;
    case W_BOOL:
        return t == json_type_boolean;
    case W_INT:
        return t == json_type_int;
    case W_DECIMAL:
        return t == json_type_int || t == json_type_double;
    case W_OBJECT:
        return t == json_type_object;
    case W_ARRAY:
        return t == json_type_array;
    }
    return false;
}

/* Reports a value of the wrong JSON type at the current pointer. */
static void wrong_type(struct dec *c, struct json_object *v, enum want w)
{
    if (w == W_INT && v && json_object_get_type(v) == json_type_double)
        problem(c, "R-JSON-TYPE",
                "expected an integer, found a number with a fraction or exponent");
    else
        problem(c, "R-JSON-TYPE", "expected %s, found %s", want_name(w), kv_json_type_name(v));
}

/*
 * The member `key` of `obj` when it is present and of the wanted type;
 * otherwise NULL, after reporting a missing required member or a wrong type.
 */
static struct json_object *get(struct dec *c, struct json_object *obj, const char *key, enum want w,
                               bool required)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) {
        if (required) {
            size_t m = kv_ptr_push(&c->ptr, key);
            problem(c, "R-REQ-001", "required member \"%s\" is missing", key);
            kv_ptr_pop(&c->ptr, m);
        }
        return NULL;
    }
    if (!type_ok(v, w)) {
        size_t m = kv_ptr_push(&c->ptr, key);
        wrong_type(c, v, w);
        kv_ptr_pop(&c->ptr, m);
        return NULL;
    }
    return v;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

/* Reports every member of obj not in `known` (a NULL-terminated list). */
static void check_members(struct dec *c, struct json_object *obj, const char *const *known)
{
    struct json_object_iterator it = json_object_iter_begin(obj);
    struct json_object_iterator end = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *name = json_object_iter_peek_name(&it);
        const char *near = NULL;
        bool found = false;
        for (const char *const *k = known; *k; k++) {
            if (strcmp(*k, name) == 0) {
                found = true;
                break;
            }
            if (!near && ascii_ieq(*k, name))
                near = *k;
        }
        if (found)
            continue;
        char q[96];
        size_t m = kv_ptr_push(&c->ptr, name);
        if (near)
            problem(c, "R-JSON-UNKNOWN", "unknown member %s (did you mean \"%s\"?)",
                    quoted(q, sizeof(q), name, strlen(name)), near);
        else
            problem(c, "R-JSON-UNKNOWN", "unknown member %s",
                    quoted(q, sizeof(q), name, strlen(name)));
        kv_ptr_pop(&c->ptr, m);
    }
}

/* Copies a JSON string value into the arena (pointer at the value). */
static const char *take_string(struct dec *c, struct json_object *v)
{
    const char *s = json_object_get_string(v);
    int n = json_object_get_string_len(v);
    if (!s || n < 0)
        return NULL;
    if (memchr(s, '\0', (size_t)n)) {
        problem(c, "R-TEXT-003", "contains the character U+0000, which is not allowed");
        return NULL;
    }
    const char *p = kv_decl_strdup(c->d, s, (size_t)n);
    if (!p)
        c->oom = true;
    return p;
}

static const char *get_string(struct dec *c, struct json_object *obj, const char *key,
                              bool required)
{
    struct json_object *v = get(c, obj, key, W_STRING, required);
    if (!v)
        return NULL;
    size_t m = kv_ptr_push(&c->ptr, key);
    const char *s = take_string(c, v);
    kv_ptr_pop(&c->ptr, m);
    return s;
}

static enum kv_yesno get_flag(struct dec *c, struct json_object *obj, const char *key, bool required)
{
    struct json_object *v = get(c, obj, key, W_BOOL, required);
    if (!v)
        return KV_YESNO_ABSENT;
    return json_object_get_boolean(v) ? KV_YESNO_YES : KV_YESNO_NO;
}

/*
 * An integer value (pointer at the value). json-c clamps integers beyond
 * int64/uint64 to the limits; those are reported as out of range.
 */
static bool take_int(struct dec *c, struct json_object *v, struct kv_int *out)
{
    int64_t x = json_object_get_int64(v);
    if (x == INT64_MAX || x == INT64_MIN) {
        problem(c, "R-NUM-001", "integer is out of range");
        return false;
    }
    out->value = x;
    out->set = true;
    return true;
}

static void get_int(struct dec *c, struct json_object *obj, const char *key, bool required,
                    struct kv_int *out)
{
    struct json_object *v = get(c, obj, key, W_INT, required);
    if (!v)
        return;
    size_t m = kv_ptr_push(&c->ptr, key);
    take_int(c, v, out);
    kv_ptr_pop(&c->ptr, m);
}

/* A decimal of format n..total,frac (pointer at the value). */
static struct kv_decimal *take_decimal(struct dec *c, struct json_object *v, int total, int frac,
                                       const char *what)
{
    const char *text = json_object_get_string(v);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    char q[96], why[64];
    if (json_object_get_type(v) == json_type_int &&
        (strcmp(text, "9223372036854775807") == 0 || strcmp(text, "-9223372036854775808") == 0 ||
         strcmp(text, "18446744073709551615") == 0)) {
        problem(c, "R-DEC-001",
                "not a valid %s (n..%d,%d): number out of range, more than %d digits", what, total,
                frac, total);
        return NULL;
    }
    struct kv_decimal val;
    enum kv_dec_verdict vd = kv_dec_parse(text, len, total, frac, &val);
    if (vd != KV_DEC_OK) {
        kv_dec_describe(vd, total, frac, why, sizeof(why));
        problem(c, "R-DEC-001", "%s is not a valid %s (n..%d,%d): %s",
                quoted(q, sizeof(q), text, len), what, total, frac, why);
        return NULL;
    }
    struct kv_decimal *p = kv_decl_alloc(c->d, sizeof(*p));
    if (!p) {
        c->oom = true;
        return NULL;
    }
    *p = val;
    return p;
}

static struct kv_decimal *get_decimal(struct dec *c, struct json_object *obj, const char *key,
                                      bool required, int total, int frac, const char *what)
{
    struct json_object *v = get(c, obj, key, W_DECIMAL, required);
    if (!v)
        return NULL;
    size_t m = kv_ptr_push(&c->ptr, key);
    struct kv_decimal *d = take_decimal(c, v, total, frac, what);
    kv_ptr_pop(&c->ptr, m);
    return d;
}

/*
 * An array member with its CC015C multiplicity min..max. Reports a count
 * outside it (R-CARD-001) and stores in *n how many entries to decode (at
 * most max). Returns NULL when absent or of the wrong type.
 */
static struct json_object *get_array(struct dec *c, struct json_object *obj, const char *key,
                                     bool required, size_t min, size_t max, size_t *n)
{
    *n = 0;
    struct json_object *a = get(c, obj, key, W_ARRAY, required);
    if (!a)
        return NULL;
    size_t len = json_object_array_length(a);
    size_t m = kv_ptr_push(&c->ptr, key);
    if (len < min)
        problem(c, "R-CARD-001", "has %zu entries; at least %zu required", len, min);
    if (len > max)
        problem(c, "R-CARD-001", "has %zu entries; at most %zu allowed", len, max);
    kv_ptr_pop(&c->ptr, m);
    *n = len > max ? max : len;
    return a;
}

/* Allocates n zeroed elements, or NULL (no error) when n is 0. */
static void *alloc_array(struct dec *c, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = kv_decl_calloc(c->d, n, size);
    if (!p)
        c->oom = true;
    return p;
}

/* An array of strings (e.g. countries of routing); entries of another type are reported. */
static const char **get_string_array(struct dec *c, struct json_object *obj, const char *key,
                                     bool required, size_t min, size_t max, size_t *count)
{
    size_t n = 0;
    *count = 0;
    struct json_object *a = get_array(c, obj, key, required, min, max, &n);
    const char **out = alloc_array(c, n, sizeof(*out));
    if (!a || !out)
        return NULL;
    size_t m = kv_ptr_push(&c->ptr, key);
    for (size_t i = 0; i < n; i++) {
        struct json_object *v = json_object_array_get_idx(a, i);
        size_t mi = kv_ptr_push_index(&c->ptr, i);
        if (!type_ok(v, W_STRING))
            wrong_type(c, v, W_STRING);
        else
            out[i] = take_string(c, v);
        kv_ptr_pop(&c->ptr, mi);
    }
    kv_ptr_pop(&c->ptr, m);
    *count = n;
    return out;
}

/* ------------------------------------------------------------------ */
/* Groups                                                             */
/* ------------------------------------------------------------------ */

/*
 * An object member: returns it with the pointer pushed to it (pop to *mark
 * afterwards), or NULL (nothing pushed) when absent or not an object.
 */
static struct json_object *enter(struct dec *c, struct json_object *obj, const char *key,
                                 bool required, size_t *mark)
{
    struct json_object *o = get(c, obj, key, W_OBJECT, required);
    if (o)
        *mark = kv_ptr_push(&c->ptr, key);
    return o;
}

/* dst = fn(c, member) for the object member `key`, with the pointer at it. */
#define DEC_OBJECT(c, obj, key, required, fn, dst)                                                 \
    do {                                                                                           \
        size_t m_ = 0;                                                                             \
        struct json_object *o_ = enter((c), (obj), (key), (required), &m_);                        \
        if (o_) {                                                                                  \
            (dst) = fn((c), o_);                                                                   \
            kv_ptr_pop(&(c)->ptr, m_);                                                             \
        }                                                                                          \
    } while (0)

static struct kv_address *dec_address(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"street", "postcode", "city", "country", NULL};
    struct kv_address *a = kv_decl_alloc(c->d, sizeof(*a));
    if (!a) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    a->street = get_string(c, o, "street", true);
    a->postcode = get_string(c, o, "postcode", false);
    a->city = get_string(c, o, "city", true);
    a->country = get_string(c, o, "country", true);
    return a;
}

static struct kv_contact *dec_contact(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"name", "phone", "email", NULL};
    struct kv_contact *k = kv_decl_alloc(c->d, sizeof(*k));
    if (!k) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    k->name = get_string(c, o, "name", true);
    k->phone = get_string(c, o, "phone", true);
    k->email = get_string(c, o, "email", false);
    return k;
}

static struct kv_party *dec_party(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"id", "name", "address", "contact", NULL};
    struct kv_party *p = kv_decl_alloc(c->d, sizeof(*p));
    if (!p) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    p->id = get_string(c, o, "id", false);
    p->name = get_string(c, o, "name", false);
    DEC_OBJECT(c, o, "address", false, dec_address, p->address);
    DEC_OBJECT(c, o, "contact", false, dec_contact, p->contact);
    return p;
}

static struct kv_holder *dec_holder(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"id", "tirHolderId", "name", "address", "contact", NULL};
    struct kv_holder *h = kv_decl_alloc(c->d, sizeof(*h));
    if (!h) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    h->id = get_string(c, o, "id", false);
    h->tir_holder_id = get_string(c, o, "tirHolderId", false);
    h->name = get_string(c, o, "name", false);
    DEC_OBJECT(c, o, "address", false, dec_address, h->address);
    DEC_OBJECT(c, o, "contact", false, dec_contact, h->contact);
    return h;
}

static struct kv_representative *dec_representative(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"id", "status", "contact", NULL};
    struct kv_representative *r = kv_decl_alloc(c->d, sizeof(*r));
    if (!r) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    r->id = get_string(c, o, "id", true);
    r->status = get_string(c, o, "status", true);
    DEC_OBJECT(c, o, "contact", false, dec_contact, r->contact);
    return r;
}

static struct kv_carrier *dec_carrier(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"id", "contact", NULL};
    struct kv_carrier *r = kv_decl_alloc(c->d, sizeof(*r));
    if (!r) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    r->id = get_string(c, o, "id", true);
    DEC_OBJECT(c, o, "contact", false, dec_contact, r->contact);
    return r;
}

/*
 * Decodes an array of objects: for each entry of the array member `key`,
 * with the pointer at the entry, calls fn(c, entry_object, &out[i]).
 */
#define DEC_OBJECT_ARRAY(c, obj, key, required, min, max, type, fn, out, count)                    \
    do {                                                                                           \
        size_t n_ = 0;                                                                             \
        struct json_object *a_ = get_array((c), (obj), (key), (required), (min), (max), &n_);      \
        type *arr_ = alloc_array((c), n_, sizeof(type));                                           \
        (out) = arr_;                                                                              \
        (count) = arr_ ? n_ : 0;                                                                   \
        if (a_ && arr_) {                                                                          \
            size_t m_ = kv_ptr_push(&(c)->ptr, (key));                                             \
            for (size_t i_ = 0; i_ < n_; i_++) {                                                   \
                struct json_object *e_ = json_object_array_get_idx(a_, i_);                        \
                size_t mi_ = kv_ptr_push_index(&(c)->ptr, i_);                                     \
                if (!type_ok(e_, W_OBJECT))                                                        \
                    wrong_type((c), e_, W_OBJECT);                                                 \
                else                                                                               \
                    fn((c), e_, &arr_[i_]);                                                        \
                kv_ptr_pop(&(c)->ptr, mi_);                                                        \
            }                                                                                      \
            kv_ptr_pop(&(c)->ptr, m_);                                                             \
        }                                                                                          \
    } while (0)

static void dec_transit(struct dec *c, struct json_object *o, struct kv_transit_office *t)
{
    static const char *const known[] = {"office", "arrival", NULL};
    check_members(c, o, known);
    t->office = get_string(c, o, "office", true);
    t->arrival = get_string(c, o, "arrival", false);
}

static void dec_guarantee_ref(struct dec *c, struct json_object *o, struct kv_guarantee_ref *r)
{
    static const char *const known[] = {"grn", "accessCode", "amount", "currency", NULL};
    check_members(c, o, known);
    r->grn = get_string(c, o, "grn", false);
    r->access_code = get_string(c, o, "accessCode", false);
    r->amount = get_decimal(c, o, "amount", false, 16, 2, "amount");
    r->currency = get_string(c, o, "currency", false);
}

static void dec_guarantee(struct dec *c, struct json_object *o, struct kv_guarantee *g)
{
    static const char *const known[] = {"type", "otherReference", "references", NULL};
    check_members(c, o, known);
    g->type = get_string(c, o, "type", true);
    g->other_ref = get_string(c, o, "otherReference", false);
    DEC_OBJECT_ARRAY(c, o, "references", false, 0, KV_DECL_MAX_GUARANTEE_REFS,
                     struct kv_guarantee_ref, dec_guarantee_ref, g->refs, g->n_refs);
}

static void dec_equipment(struct dec *c, struct json_object *o, struct kv_equipment *e)
{
    static const char *const known[] = {"containerId", "numberOfSeals", "seals", "goodsReferences",
                                        NULL};
    check_members(c, o, known);
    e->container_id = get_string(c, o, "containerId", false);
    get_int(c, o, "numberOfSeals", true, &e->number_of_seals);
    e->seals = get_string_array(c, o, "seals", false, 0, KV_DECL_MAX_SEALS, &e->n_seals);
    size_t n = 0;
    struct json_object *a =
        get_array(c, o, "goodsReferences", false, 0, KV_DECL_MAX_GOODS_REFS, &n);
    int64_t *refs = alloc_array(c, n, sizeof(*refs));
    if (a && refs) {
        size_t m = kv_ptr_push(&c->ptr, "goodsReferences");
        for (size_t i = 0; i < n; i++) {
            struct json_object *v = json_object_array_get_idx(a, i);
            size_t mi = kv_ptr_push_index(&c->ptr, i);
            struct kv_int x = {0, false};
            if (!type_ok(v, W_INT))
                wrong_type(c, v, W_INT);
            else
                take_int(c, v, &x);
            refs[i] = x.set ? x.value : 0; /* 0 names no item; the validator reports it */
            kv_ptr_pop(&c->ptr, mi);
        }
        kv_ptr_pop(&c->ptr, m);
        e->goods_refs = refs;
        e->n_goods_refs = n;
    }
}

static struct kv_gnss *dec_gnss(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"latitude", "longitude", NULL};
    struct kv_gnss *g = kv_decl_alloc(c->d, sizeof(*g));
    if (!g) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    g->latitude = get_string(c, o, "latitude", true);
    g->longitude = get_string(c, o, "longitude", true);
    return g;
}

static struct kv_location *dec_location(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {
        "type",    "qualifier", "authorisationNumber", "unLocode", "customsOffice", "gnss",
        "address", NULL};
    struct kv_location *l = kv_decl_alloc(c->d, sizeof(*l));
    if (!l) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    l->type = get_string(c, o, "type", true);
    l->qualifier = get_string(c, o, "qualifier", true);
    l->authorisation = get_string(c, o, "authorisationNumber", false);
    l->unlocode = get_string(c, o, "unLocode", false);
    l->office = get_string(c, o, "customsOffice", false);
    DEC_OBJECT(c, o, "gnss", false, dec_gnss, l->gnss);
    DEC_OBJECT(c, o, "address", false, dec_address, l->address);
    return l;
}

static void dec_means(struct dec *c, struct json_object *o, struct kv_transport_means *t)
{
    static const char *const known[] = {"typeOfIdentification", "identificationNumber",
                                        "nationality", NULL};
    check_members(c, o, known);
    t->type_of_id = get_string(c, o, "typeOfIdentification", false);
    t->id = get_string(c, o, "identificationNumber", false);
    t->nationality = get_string(c, o, "nationality", false);
}

static void dec_border_means(struct dec *c, struct json_object *o, struct kv_border_means *b)
{
    static const char *const known[] = {"customsOffice",        "typeOfIdentification",
                                        "identificationNumber", "nationality",
                                        "conveyanceReference",  NULL};
    check_members(c, o, known);
    b->office = get_string(c, o, "customsOffice", false);
    b->type_of_id = get_string(c, o, "typeOfIdentification", false);
    b->id = get_string(c, o, "identificationNumber", false);
    b->nationality = get_string(c, o, "nationality", false);
    b->conveyance_ref = get_string(c, o, "conveyanceReference", false);
}

static struct kv_place *dec_place(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"unLocode", "country", "location", NULL};
    struct kv_place *p = kv_decl_alloc(c->d, sizeof(*p));
    if (!p) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    p->unlocode = get_string(c, o, "unLocode", false);
    p->country = get_string(c, o, "country", false);
    p->location = get_string(c, o, "location", false);
    return p;
}

static struct kv_consignment *dec_consignment(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"countryOfDispatch",
                                        "countryOfDestination",
                                        "containerIndicator",
                                        "inlandMode",
                                        "borderMode",
                                        "grossMass",
                                        "ucr",
                                        "carrier",
                                        "consignor",
                                        "consignee",
                                        "transportEquipment",
                                        "locationOfGoods",
                                        "departureTransportMeans",
                                        "countriesOfRouting",
                                        "activeBorderTransportMeans",
                                        "placeOfLoading",
                                        "placeOfUnloading",
                                        NULL};
    struct kv_consignment *k = kv_decl_alloc(c->d, sizeof(*k));
    if (!k) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    k->country_of_dispatch = get_string(c, o, "countryOfDispatch", false);
    k->country_of_destination = get_string(c, o, "countryOfDestination", false);
    k->container_indicator = get_flag(c, o, "containerIndicator", false);
    k->inland_mode = get_string(c, o, "inlandMode", false);
    k->border_mode = get_string(c, o, "borderMode", false);
    k->gross_mass = get_decimal(c, o, "grossMass", true, 16, 6, "mass");
    k->ucr = get_string(c, o, "ucr", false);
    DEC_OBJECT(c, o, "carrier", false, dec_carrier, k->carrier);
    DEC_OBJECT(c, o, "consignor", false, dec_party, k->consignor);
    DEC_OBJECT(c, o, "consignee", false, dec_party, k->consignee);
    DEC_OBJECT_ARRAY(c, o, "transportEquipment", false, 0, KV_DECL_MAX_EQUIPMENT,
                     struct kv_equipment, dec_equipment, k->equipment, k->n_equipment);
    DEC_OBJECT(c, o, "locationOfGoods", false, dec_location, k->location);
    DEC_OBJECT_ARRAY(c, o, "departureTransportMeans", false, 0, KV_DECL_MAX_DEPARTURE_MEANS,
                     struct kv_transport_means, dec_means, k->departure_means,
                     k->n_departure_means);
    k->routing =
        get_string_array(c, o, "countriesOfRouting", false, 0, KV_DECL_MAX_ROUTING, &k->n_routing);
    DEC_OBJECT_ARRAY(c, o, "activeBorderTransportMeans", false, 0, KV_DECL_MAX_BORDER_MEANS,
                     struct kv_border_means, dec_border_means, k->border_means, k->n_border_means);
    DEC_OBJECT(c, o, "placeOfLoading", false, dec_place, k->loading);
    DEC_OBJECT(c, o, "placeOfUnloading", false, dec_place, k->unloading);
    return k;
}

static struct kv_commodity *dec_commodity(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"description", "hs",      "dangerousGoods",
                                        "grossMass",   "netMass", NULL};
    struct kv_commodity *k = kv_decl_alloc(c->d, sizeof(*k));
    if (!k) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    k->description = get_string(c, o, "description", true);
    k->hs = get_string(c, o, "hs", false);
    k->dangerous =
        get_string_array(c, o, "dangerousGoods", false, 0, KV_DECL_MAX_DANGEROUS, &k->n_dangerous);
    k->gross_mass = get_decimal(c, o, "grossMass", true, 16, 6, "mass");
    k->net_mass = get_decimal(c, o, "netMass", false, 16, 6, "mass");
    return k;
}

static void dec_packaging(struct dec *c, struct json_object *o, struct kv_packaging *p)
{
    static const char *const known[] = {"type", "number", "shippingMarks", NULL};
    check_members(c, o, known);
    p->type = get_string(c, o, "type", true);
    get_int(c, o, "number", false, &p->number);
    p->marks = get_string(c, o, "shippingMarks", false);
}

static struct kv_money *dec_money(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"amount", "currency", NULL};
    struct kv_money *v = kv_decl_alloc(c->d, sizeof(*v));
    if (!v) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    v->amount = get_decimal(c, o, "amount", true, 16, 2, "amount");
    v->currency = get_string(c, o, "currency", true);
    return v;
}

static void dec_item(struct dec *c, struct json_object *o, struct kv_item *it)
{
    static const char *const known[] = {
        "declarationGoodsItemNumber", "commodity", "packages", "value", "countryOfOrigin", NULL};
    check_members(c, o, known);
    get_int(c, o, "declarationGoodsItemNumber", true, &it->number);
    DEC_OBJECT(c, o, "commodity", true, dec_commodity, it->commodity);
    DEC_OBJECT_ARRAY(c, o, "packages", true, 1, KV_DECL_MAX_PACKAGINGS, struct kv_packaging,
                     dec_packaging, it->packages, it->n_packages);
    DEC_OBJECT(c, o, "value", false, dec_money, it->value);
    it->origin = get_string(c, o, "countryOfOrigin", false);
}

static void dec_house(struct dec *c, struct json_object *o, struct kv_house *h)
{
    static const char *const known[] = {"countryOfDispatch",
                                        "countryOfDestination",
                                        "grossMass",
                                        "ucr",
                                        "consignor",
                                        "consignee",
                                        "items",
                                        NULL};
    check_members(c, o, known);
    h->country_of_dispatch = get_string(c, o, "countryOfDispatch", false);
    h->country_of_destination = get_string(c, o, "countryOfDestination", false);
    h->gross_mass = get_decimal(c, o, "grossMass", true, 16, 6, "mass");
    h->ucr = get_string(c, o, "ucr", false);
    DEC_OBJECT(c, o, "consignor", false, dec_party, h->consignor);
    DEC_OBJECT(c, o, "consignee", false, dec_party, h->consignee);

    /* Items: at most 999 per house and 1,999 in the whole declaration. */
    size_t n = 0;
    struct json_object *a = get_array(c, o, "items", true, 1, KV_DECL_MAX_HOUSE_ITEMS, &n);
    if (!a || n == 0)
        return;
    size_t room = KV_DECL_MAX_ITEMS - c->items_total;
    size_t take = n < room ? n : room;
    size_t m = kv_ptr_push(&c->ptr, "items");
    if (take < n && !c->items_over) {
        size_t mi = kv_ptr_push_index(&c->ptr, take);
        problem(c, "R-CARD-002",
                "this is goods item %d of the declaration; at most %d are allowed "
                "(declaration goods item number 1..%d)",
                KV_DECL_MAX_ITEMS + 1, KV_DECL_MAX_ITEMS, KV_DECL_MAX_ITEMS);
        kv_ptr_pop(&c->ptr, mi);
        c->items_over = true;
    }
    struct kv_item *items = alloc_array(c, take, sizeof(*items));
    if (items) {
        for (size_t i = 0; i < take; i++) {
            struct json_object *e = json_object_array_get_idx(a, i);
            size_t mi = kv_ptr_push_index(&c->ptr, i);
            if (!type_ok(e, W_OBJECT))
                wrong_type(c, e, W_OBJECT);
            else
                dec_item(c, e, &items[i]);
            kv_ptr_pop(&c->ptr, mi);
        }
        h->items = items;
        h->n_items = take;
        c->items_total += take;
    }
    kv_ptr_pop(&c->ptr, m);
}

static void dec_fragment(struct dec *c, struct json_object *o, struct kv_ncts_fragment *f)
{
    static const char *const known[] = {"path", "xml", NULL};
    check_members(c, o, known);
    f->path = get_string(c, o, "path", true);
    f->xml = get_string(c, o, "xml", true);
}

static struct kv_ncts_info *dec_ncts(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"messageSender",
                                        "messageRecipient",
                                        "preparationDateAndTime",
                                        "messageIdentification",
                                        "correlationIdentifier",
                                        "phaseId",
                                        "unmodelled",
                                        NULL};
    struct kv_ncts_info *n = kv_decl_alloc(c->d, sizeof(*n));
    if (!n) {
        c->oom = true;
        return NULL;
    }
    check_members(c, o, known);
    n->sender = get_string(c, o, "messageSender", false);
    n->recipient = get_string(c, o, "messageRecipient", false);
    n->prepared = get_string(c, o, "preparationDateAndTime", false);
    n->message_id = get_string(c, o, "messageIdentification", false);
    n->correlation_id = get_string(c, o, "correlationIdentifier", false);
    n->phase_id = get_string(c, o, "phaseId", false);
    DEC_OBJECT_ARRAY(c, o, "unmodelled", false, 0, KV_DECL_MAX_UNMODELLED, struct kv_ncts_fragment,
                     dec_fragment, n->unmodelled, n->n_unmodelled);
    return n;
}

static void dec_root(struct dec *c, struct json_object *o)
{
    static const char *const known[] = {"lrn",
                                        "declarationType",
                                        "additionalDeclarationType",
                                        "tirCarnetNumber",
                                        "security",
                                        "reducedDatasetIndicator",
                                        "bindingItinerary",
                                        "limitDate",
                                        "officeOfDeparture",
                                        "officeOfDestination",
                                        "officesOfTransit",
                                        "officesOfExitForTransit",
                                        "holder",
                                        "representative",
                                        "guarantees",
                                        "consignment",
                                        "houseConsignments",
                                        "ncts",
                                        NULL};
    struct kv_declaration *d = c->d;
    check_members(c, o, known);
    d->lrn = get_string(c, o, "lrn", true);
    d->declaration_type = get_string(c, o, "declarationType", true);
    d->additional_declaration_type = get_string(c, o, "additionalDeclarationType", true);
    d->tir_carnet_number = get_string(c, o, "tirCarnetNumber", false);
    d->security = get_string(c, o, "security", true);
    d->reduced_dataset = get_flag(c, o, "reducedDatasetIndicator", true);
    d->binding_itinerary = get_flag(c, o, "bindingItinerary", true);
    d->limit_date = get_string(c, o, "limitDate", false);
    d->office_of_departure = get_string(c, o, "officeOfDeparture", true);
    d->office_of_destination = get_string(c, o, "officeOfDestination", true);
    DEC_OBJECT_ARRAY(c, o, "officesOfTransit", false, 0, KV_DECL_MAX_TRANSIT,
                     struct kv_transit_office, dec_transit, d->transit, d->n_transit);
    d->exit_for_transit =
        get_string_array(c, o, "officesOfExitForTransit", false, 0, KV_DECL_MAX_EXIT, &d->n_exit);
    DEC_OBJECT(c, o, "holder", true, dec_holder, d->holder);
    DEC_OBJECT(c, o, "representative", false, dec_representative, d->representative);
    DEC_OBJECT_ARRAY(c, o, "guarantees", true, 1, KV_DECL_MAX_GUARANTEES, struct kv_guarantee,
                     dec_guarantee, d->guarantees, d->n_guarantees);
    DEC_OBJECT(c, o, "consignment", true, dec_consignment, d->consignment);
    DEC_OBJECT_ARRAY(c, o, "houseConsignments", true, 1, KV_DECL_MAX_HOUSES, struct kv_house,
                     dec_house, d->houses, d->n_houses);
    DEC_OBJECT(c, o, "ncts", false, dec_ncts, d->ncts);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

static void on_duplicate(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    struct kv_report *rep = ctx;
    char q[96];
    quoted(q, sizeof(q), name, name_len);
    kv_report_add(rep, "R-JSON-DUP", pointer, "member %s appears more than once in the same object",
                  q);
}

int kv_decl_from_json(const char *buf, size_t len, struct kv_declaration **out,
                      struct kv_report *rep)
{
    if (!out || !rep)
        return KV_EINVAL;
    *out = NULL;
    if (!buf)
        return KV_EINVAL;
    if (len > KV_DECL_JSON_MAX) {
        kv_report_add(rep, "R-JSON-LIMIT", "", "document is %zu bytes; at most %u allowed", len,
                      KV_DECL_JSON_MAX);
        return KV_ELIMIT;
    }

    struct kv_json_limits lim = {JSON_MAX_DEPTH, JSON_MAX_CONTAINERS, JSON_MAX_VALUES};
    struct kv_json_error jerr;
    struct json_object *root = NULL;
    int rc = kv_json_check(buf, len, &lim, on_duplicate, rep, &jerr);
    if (rc == KV_OK)
        rc = kv_json_build(buf, len, &lim, &root, &jerr);
    if (rc == KV_EPARSE || rc == KV_ELIMIT) {
        kv_json_report(rep, rc == KV_EPARSE ? "R-JSON-SYNTAX" : "R-JSON-LIMIT", &jerr);
        return rc;
    }
    if (rc != KV_OK)
        return rc;
    if (!json_object_is_type(root, json_type_object)) {
        kv_report_add(rep, "R-JSON-TYPE", "", "the document must be a JSON object, found %s",
                      kv_json_type_name(root));
        json_object_put(root);
        return KV_EPARSE;
    }

    struct dec c;
    memset(&c, 0, sizeof(c));
    c.rep = rep;
    kv_ptr_init(&c.ptr);
    c.d = kv_decl_new();
    if (!c.d) {
        json_object_put(root);
        return KV_ENOMEM;
    }
    dec_root(&c, root);
    json_object_put(root);
    if (c.oom) {
        kv_decl_free(c.d);
        return KV_ENOMEM;
    }
    *out = c.d;
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

struct enc {
    bool oom;
};

static struct json_object *obj_new(struct enc *e)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        e->oom = true;
    return o;
}

static struct json_object *arr_new(struct enc *e)
{
    struct json_object *a = json_object_new_array();
    if (!a)
        e->oom = true;
    return a;
}

/* Adds v under key (takes v); drops NULL values. */
static void put(struct enc *e, struct json_object *o, const char *key, struct json_object *v)
{
    if (!o || !v) {
        json_object_put(v);
        return;
    }
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        e->oom = true;
    }
}

static void append(struct enc *e, struct json_object *a, struct json_object *v)
{
    if (!a || !v) {
        if (!v)
            e->oom = true;
        json_object_put(v);
        return;
    }
    if (json_object_array_add(a, v) != 0) {
        json_object_put(v);
        e->oom = true;
    }
}

static void put_str(struct enc *e, struct json_object *o, const char *key, const char *s)
{
    if (!s)
        return;
    struct json_object *v = json_object_new_string(s);
    if (!v)
        e->oom = true;
    put(e, o, key, v);
}

static void put_flag(struct enc *e, struct json_object *o, const char *key, enum kv_yesno f)
{
    if (f == KV_YESNO_ABSENT)
        return;
    struct json_object *v = json_object_new_boolean(f == KV_YESNO_YES);
    if (!v)
        e->oom = true;
    put(e, o, key, v);
}

static void put_int(struct enc *e, struct json_object *o, const char *key, const struct kv_int *x)
{
    if (!x->set)
        return;
    struct json_object *v = json_object_new_int64(x->value);
    if (!v)
        e->oom = true;
    put(e, o, key, v);
}

/* A decimal printed from its exact text: json-c writes the string given, not the double. */
static struct json_object *decimal_value(struct enc *e, const struct kv_decimal *d)
{
    char text[KV_DEC_TEXT_MAX];
    if (kv_dec_format_written(d, text, sizeof(text)) == 0)
        return NULL;
    struct json_object *v = json_object_new_double_s(0.0, text);
    if (!v)
        e->oom = true;
    return v;
}

static void put_dec(struct enc *e, struct json_object *o, const char *key,
                    const struct kv_decimal *d)
{
    if (!d)
        return;
    put(e, o, key, decimal_value(e, d));
}

static void put_str_array(struct enc *e, struct json_object *o, const char *key,
                          const char *const *s, size_t n)
{
    if (!s || n == 0)
        return;
    struct json_object *a = arr_new(e);
    for (size_t i = 0; i < n; i++) {
        /* A NULL entry (wrong type in the input) is written as "" to keep positions. */
        struct json_object *v = json_object_new_string(s[i] ? s[i] : "");
        append(e, a, v);
    }
    put(e, o, key, a);
}

static struct json_object *enc_address(struct enc *e, const struct kv_address *a)
{
    if (!a)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "street", a->street);
    put_str(e, o, "postcode", a->postcode);
    put_str(e, o, "city", a->city);
    put_str(e, o, "country", a->country);
    return o;
}

static struct json_object *enc_contact(struct enc *e, const struct kv_contact *k)
{
    if (!k)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "name", k->name);
    put_str(e, o, "phone", k->phone);
    put_str(e, o, "email", k->email);
    return o;
}

static struct json_object *enc_party(struct enc *e, const struct kv_party *p)
{
    if (!p)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "id", p->id);
    put_str(e, o, "name", p->name);
    put(e, o, "address", enc_address(e, p->address));
    put(e, o, "contact", enc_contact(e, p->contact));
    return o;
}

static struct json_object *enc_place(struct enc *e, const struct kv_place *p)
{
    if (!p)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "unLocode", p->unlocode);
    put_str(e, o, "country", p->country);
    put_str(e, o, "location", p->location);
    return o;
}

static struct json_object *enc_consignment(struct enc *e, const struct kv_consignment *k)
{
    if (!k)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "countryOfDispatch", k->country_of_dispatch);
    put_str(e, o, "countryOfDestination", k->country_of_destination);
    put_flag(e, o, "containerIndicator", k->container_indicator);
    put_str(e, o, "inlandMode", k->inland_mode);
    put_str(e, o, "borderMode", k->border_mode);
    put_dec(e, o, "grossMass", k->gross_mass);
    put_str(e, o, "ucr", k->ucr);
    if (k->carrier) {
        struct json_object *c = obj_new(e);
        put_str(e, c, "id", k->carrier->id);
        put(e, c, "contact", enc_contact(e, k->carrier->contact));
        put(e, o, "carrier", c);
    }
    put(e, o, "consignor", enc_party(e, k->consignor));
    put(e, o, "consignee", enc_party(e, k->consignee));
    if (k->n_equipment) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < k->n_equipment; i++) {
            const struct kv_equipment *t = &k->equipment[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "containerId", t->container_id);
            put_int(e, x, "numberOfSeals", &t->number_of_seals);
            put_str_array(e, x, "seals", t->seals, t->n_seals);
            if (t->n_goods_refs) {
                struct json_object *g = arr_new(e);
                for (size_t j = 0; j < t->n_goods_refs; j++)
                    append(e, g, json_object_new_int64(t->goods_refs[j]));
                put(e, x, "goodsReferences", g);
            }
            append(e, a, x);
        }
        put(e, o, "transportEquipment", a);
    }
    if (k->location) {
        const struct kv_location *l = k->location;
        struct json_object *x = obj_new(e);
        put_str(e, x, "type", l->type);
        put_str(e, x, "qualifier", l->qualifier);
        put_str(e, x, "authorisationNumber", l->authorisation);
        put_str(e, x, "unLocode", l->unlocode);
        put_str(e, x, "customsOffice", l->office);
        if (l->gnss) {
            struct json_object *g = obj_new(e);
            put_str(e, g, "latitude", l->gnss->latitude);
            put_str(e, g, "longitude", l->gnss->longitude);
            put(e, x, "gnss", g);
        }
        put(e, x, "address", enc_address(e, l->address));
        put(e, o, "locationOfGoods", x);
    }
    if (k->n_departure_means) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < k->n_departure_means; i++) {
            const struct kv_transport_means *t = &k->departure_means[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "typeOfIdentification", t->type_of_id);
            put_str(e, x, "identificationNumber", t->id);
            put_str(e, x, "nationality", t->nationality);
            append(e, a, x);
        }
        put(e, o, "departureTransportMeans", a);
    }
    put_str_array(e, o, "countriesOfRouting", k->routing, k->n_routing);
    if (k->n_border_means) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < k->n_border_means; i++) {
            const struct kv_border_means *b = &k->border_means[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "customsOffice", b->office);
            put_str(e, x, "typeOfIdentification", b->type_of_id);
            put_str(e, x, "identificationNumber", b->id);
            put_str(e, x, "nationality", b->nationality);
            put_str(e, x, "conveyanceReference", b->conveyance_ref);
            append(e, a, x);
        }
        put(e, o, "activeBorderTransportMeans", a);
    }
    put(e, o, "placeOfLoading", enc_place(e, k->loading));
    put(e, o, "placeOfUnloading", enc_place(e, k->unloading));
    return o;
}

static struct json_object *enc_item(struct enc *e, const struct kv_item *it)
{
    struct json_object *o = obj_new(e);
    put_int(e, o, "declarationGoodsItemNumber", &it->number);
    if (it->commodity) {
        const struct kv_commodity *k = it->commodity;
        struct json_object *x = obj_new(e);
        put_str(e, x, "description", k->description);
        put_str(e, x, "hs", k->hs);
        put_str_array(e, x, "dangerousGoods", k->dangerous, k->n_dangerous);
        put_dec(e, x, "grossMass", k->gross_mass);
        put_dec(e, x, "netMass", k->net_mass);
        put(e, o, "commodity", x);
    }
    if (it->n_packages) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < it->n_packages; i++) {
            const struct kv_packaging *p = &it->packages[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "type", p->type);
            put_int(e, x, "number", &p->number);
            put_str(e, x, "shippingMarks", p->marks);
            append(e, a, x);
        }
        put(e, o, "packages", a);
    }
    if (it->value) {
        struct json_object *x = obj_new(e);
        put_dec(e, x, "amount", it->value->amount);
        put_str(e, x, "currency", it->value->currency);
        put(e, o, "value", x);
    }
    put_str(e, o, "countryOfOrigin", it->origin);
    return o;
}

static struct json_object *enc_ncts(struct enc *e, const struct kv_ncts_info *n)
{
    if (!n)
        return NULL;
    struct json_object *o = obj_new(e);
    put_str(e, o, "messageSender", n->sender);
    put_str(e, o, "messageRecipient", n->recipient);
    put_str(e, o, "preparationDateAndTime", n->prepared);
    put_str(e, o, "messageIdentification", n->message_id);
    put_str(e, o, "correlationIdentifier", n->correlation_id);
    put_str(e, o, "phaseId", n->phase_id);
    if (n->n_unmodelled) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < n->n_unmodelled; i++) {
            struct json_object *x = obj_new(e);
            put_str(e, x, "path", n->unmodelled[i].path);
            put_str(e, x, "xml", n->unmodelled[i].xml);
            append(e, a, x);
        }
        put(e, o, "unmodelled", a);
    }
    return o;
}

static struct json_object *enc_root(struct enc *e, const struct kv_declaration *d)
{
    struct json_object *o = obj_new(e);
    put_str(e, o, "lrn", d->lrn);
    put_str(e, o, "declarationType", d->declaration_type);
    put_str(e, o, "additionalDeclarationType", d->additional_declaration_type);
    put_str(e, o, "tirCarnetNumber", d->tir_carnet_number);
    put_str(e, o, "security", d->security);
    put_flag(e, o, "reducedDatasetIndicator", d->reduced_dataset);
    put_flag(e, o, "bindingItinerary", d->binding_itinerary);
    put_str(e, o, "limitDate", d->limit_date);
    put_str(e, o, "officeOfDeparture", d->office_of_departure);
    put_str(e, o, "officeOfDestination", d->office_of_destination);
    if (d->n_transit) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < d->n_transit; i++) {
            struct json_object *x = obj_new(e);
            put_str(e, x, "office", d->transit[i].office);
            put_str(e, x, "arrival", d->transit[i].arrival);
            append(e, a, x);
        }
        put(e, o, "officesOfTransit", a);
    }
    put_str_array(e, o, "officesOfExitForTransit", d->exit_for_transit, d->n_exit);
    if (d->holder) {
        const struct kv_holder *h = d->holder;
        struct json_object *x = obj_new(e);
        put_str(e, x, "id", h->id);
        put_str(e, x, "tirHolderId", h->tir_holder_id);
        put_str(e, x, "name", h->name);
        put(e, x, "address", enc_address(e, h->address));
        put(e, x, "contact", enc_contact(e, h->contact));
        put(e, o, "holder", x);
    }
    if (d->representative) {
        const struct kv_representative *r = d->representative;
        struct json_object *x = obj_new(e);
        put_str(e, x, "id", r->id);
        put_str(e, x, "status", r->status);
        put(e, x, "contact", enc_contact(e, r->contact));
        put(e, o, "representative", x);
    }
    if (d->n_guarantees) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < d->n_guarantees; i++) {
            const struct kv_guarantee *g = &d->guarantees[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "type", g->type);
            put_str(e, x, "otherReference", g->other_ref);
            if (g->n_refs) {
                struct json_object *ra = arr_new(e);
                for (size_t j = 0; j < g->n_refs; j++) {
                    const struct kv_guarantee_ref *r = &g->refs[j];
                    struct json_object *y = obj_new(e);
                    put_str(e, y, "grn", r->grn);
                    put_str(e, y, "accessCode", r->access_code);
                    put_dec(e, y, "amount", r->amount);
                    put_str(e, y, "currency", r->currency);
                    append(e, ra, y);
                }
                put(e, x, "references", ra);
            }
            append(e, a, x);
        }
        put(e, o, "guarantees", a);
    }
    put(e, o, "consignment", enc_consignment(e, d->consignment));
    if (d->n_houses) {
        struct json_object *a = arr_new(e);
        for (size_t i = 0; i < d->n_houses; i++) {
            const struct kv_house *h = &d->houses[i];
            struct json_object *x = obj_new(e);
            put_str(e, x, "countryOfDispatch", h->country_of_dispatch);
            put_str(e, x, "countryOfDestination", h->country_of_destination);
            put_dec(e, x, "grossMass", h->gross_mass);
            put_str(e, x, "ucr", h->ucr);
            put(e, x, "consignor", enc_party(e, h->consignor));
            put(e, x, "consignee", enc_party(e, h->consignee));
            if (h->n_items) {
                struct json_object *ia = arr_new(e);
                for (size_t j = 0; j < h->n_items; j++)
                    append(e, ia, enc_item(e, &h->items[j]));
                put(e, x, "items", ia);
            }
            append(e, a, x);
        }
        put(e, o, "houseConsignments", a);
    }
    put(e, o, "ncts", enc_ncts(e, d->ncts));
    return o;
}

int kv_decl_to_json(const struct kv_declaration *d, char **json, size_t *len)
{
    if (!d || !json)
        return KV_EINVAL;
    *json = NULL;
    if (len)
        *len = 0;
    struct enc e = {false};
    struct json_object *root = enc_root(&e, d);
    if (!root || e.oom) {
        json_object_put(root);
        return KV_ENOMEM;
    }
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (!s) {
        json_object_put(root);
        return KV_ENOMEM;
    }
    char *copy = malloc(n + 1);
    if (!copy) {
        json_object_put(root);
        return KV_ENOMEM;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    json_object_put(root);
    *json = copy;
    if (len)
        *len = n;
    return KV_OK;
}
