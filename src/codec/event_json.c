/*
 * event_json.c — strict JSON decoding and canonical encoding of movement
 * events (see event_json.h; the rules R-EVT-* are listed in docs/movement.md).
 *
 * The shared strict checker (json_strict.h) refuses what is not RFC 8259
 * JSON, bounds nesting and size, reports duplicate members — json-c keeps
 * only the last — and finds the exact bytes of an amendment's
 * "declaration", which is stored as received (whitespace removed) for the
 * declaration codec to judge; json-c then builds the tree the decoder
 * walks. Encoding is a hand-written writer, so the member order and
 * escaping are fixed.
 */
#include "codec/event_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_strict.h"
#include "core/err.h"
#include "core/pointer.h"
#include "core/text.h"

/* ======================================================================== */
/* UTF-8 and string formats                                                 */
/* ======================================================================== */

/* Unicode space separators (Zs), line (Zl) and paragraph (Zp) separators:
 * the \p{Z} of the XSD's "NoSpaces" pattern. */
static bool is_space_sep(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

enum text_kind {
    TEXT_PLAIN,   /* an..N: 1..N characters, one line, not blank */
    TEXT_NOSPACES /* an..N without a space at either end (seal identifiers) */
};

/*
 * Checks a string value against an an..N format: valid UTF-8, 1..max
 * characters, no control character (the XSD base type is xs:normalizedString,
 * so no tab or line break), not blank. Returns NULL when fine, otherwise a
 * static phrase saying why.
 */
static const char *text_problem(const char *s, size_t len, size_t max, enum text_kind kind)
{
    size_t chars = 0, i = 0;
    bool blank = true;
    uint32_t first = 0, last = 0;
    if (len == 0)
        return "is empty";
    while (i < len) {
        uint32_t cp;
        size_t k = kv_text_utf8_next(s + i, len - i, &cp);
        if (k == 0)
            return "is not valid UTF-8";
        if (cp < 0x20 || cp == 0x7f)
            return "contains a control character (tab, line break, ...)";
        if (!is_space_sep(cp))
            blank = false;
        if (chars == 0)
            first = cp;
        last = cp;
        chars++;
        i += k;
    }
    if (chars > max)
        return "is too long";
    if (blank)
        return "is blank";
    if (kind == TEXT_NOSPACES && (is_space_sep(first) || is_space_sep(last)))
        return "begins or ends with a space";
    return NULL;
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Customs office reference number: ISO 3166 alpha-2 + 6 [A-Z0-9] (an8). */
static bool office_ok(const char *s, size_t len)
{
    if (len != KV_OFFICE_LEN || !is_upper(s[0]) || !is_upper(s[1]))
        return false;
    for (size_t i = 2; i < len; i++)
        if (!is_upper(s[i]) && !is_digit(s[i]))
            return false;
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool all_zeros(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

/* NCTS GNSS (stypes.xsd): latitude [+-]?([0-8]?[0-9]\.[0-9]{5,7}|90.000000?0?),
 * longitude [+-]?((0?[0-9]?|1[0-7])[0-9]\.[0-9]{5,7}|180.000000?0?). */
static bool gnss_ok(const char *s, size_t n, bool longitude)
{
    size_t i = 0;
    if (n > KV_GNSS_CHARS)
        return false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    const char *ip = s + i, *dot = memchr(ip, '.', n - i);
    if (!dot)
        return false;
    size_t il = (size_t)(dot - ip), fl = n - i - il - 1;
    const char *fp = dot + 1;
    if (fl < 5 || fl > 7 || !all_digits(ip, il) || !all_digits(fp, fl))
        return false;
    if (!longitude) {
        if (il == 2 && memcmp(ip, "90", 2) == 0)
            return all_zeros(fp, fl);
        return il == 1 || (il == 2 && ip[0] <= '8');
    }
    if (il == 3 && memcmp(ip, "180", 3) == 0)
        return all_zeros(fp, fl);
    return il == 1 || il == 2 || (il == 3 && (ip[0] == '0' || (ip[0] == '1' && ip[1] <= '7')));
}

/* ======================================================================== */
/* Decoding                                                                 */
/* ======================================================================== */

struct dec {
    struct kv_report *rep;
    enum kv_event_form form;
    const char *type_name; /* for messages */
    struct kv_ptr ptr;     /* the object being read: "", "/actor", "/transhipment" */
    bool oom;
};

enum need { OPTIONAL, REQUIRED };

/* Fetches member `name` of `obj` if it has JSON type `want`. Reports a
 * missing required member (R-EVT-005) or a wrong type (R-EVT-006). */
static json_object *member(struct dec *d, json_object *obj, const char *name, json_type want,
                           enum need need)
{
    json_object *v = NULL;
    size_t mark = kv_ptr_push(&d->ptr, name);
    if (!json_object_object_get_ex(obj, name, &v)) {
        v = NULL;
        if (need == REQUIRED)
            kv_report_add(d->rep, "R-EVT-005", d->ptr.buf, "missing member \"%s\"%s%s%s", name,
                          d->type_name ? " (required for \"" : "", d->type_name ? d->type_name : "",
                          d->type_name ? "\")" : "");
    } else if (!v || json_object_get_type(v) != want) {
        const char *w = want == json_type_string    ? "a string"
                        : want == json_type_boolean ? "a boolean (true or false)"
                        : want == json_type_array   ? "an array"
                                                    : "an object";
        kv_report_add(d->rep, "R-EVT-006", d->ptr.buf, "\"%s\" must be %s, not %s", name, w,
                      kv_json_type_name(v));
        v = NULL;
    }
    kv_ptr_pop(&d->ptr, mark);
    return v;
}

/* A string member checked as an..max; copied into out (cap bytes). Returns
 * true when present and valid. */
static bool get_text(struct dec *d, json_object *obj, const char *name, size_t max,
                     enum text_kind kind, char *out, size_t cap, enum need need)
{
    json_object *v = member(d, obj, name, json_type_string, need);
    if (!v)
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    const char *why =
        memchr(s, '\0', len) ? "contains a NUL character" : text_problem(s, len, max, kind);
    if (!why && len >= cap) /* cannot happen: cap holds max characters of 4 bytes */
        why = "is too long";
    if (why) {
        size_t mark = kv_ptr_push(&d->ptr, name);
        kv_report_add(d->rep, "R-EVT-013", d->ptr.buf, "\"%s\" %s (an..%zu: 1 to %zu characters%s)",
                      name, why, max, max, kind == TEXT_NOSPACES ? ", no space at either end" : "");
        kv_ptr_pop(&d->ptr, mark);
        return false;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static bool get_bool(struct dec *d, json_object *obj, const char *name, bool *out, enum need need)
{
    json_object *v = member(d, obj, name, json_type_boolean, need);
    if (!v)
        return false;
    *out = json_object_get_boolean(v);
    return true;
}

/* A string member that must be one of `names` (NULL-terminated); *out gets
 * its index. R-EVT-014 otherwise. */
static bool get_enum(struct dec *d, json_object *obj, const char *name, const char *const *names,
                     int *out, enum need need)
{
    json_object *v = member(d, obj, name, json_type_string, need);
    if (!v)
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    char list[160] = "", qb[96];
    size_t o = 0;
    for (int i = 0; names[i]; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            *out = i;
            return true;
        }
        int k = snprintf(list + o, sizeof(list) - o, "%s\"%s\"", i ? ", " : "", names[i]);
        if (k > 0 && (size_t)k < sizeof(list) - o)
            o += (size_t)k;
    }
    size_t mark = kv_ptr_push(&d->ptr, name);
    kv_quote(qb, sizeof(qb), s, len, 40);
    kv_report_add(d->rep, "R-EVT-014", d->ptr.buf, "\"%s\" is \"%s\"; expected one of %s", name, qb,
                  list);
    kv_ptr_pop(&d->ptr, mark);
    return false;
}

static bool get_office(struct dec *d, json_object *obj, const char *name,
                       char out[KV_OFFICE_LEN + 1])
{
    json_object *v = member(d, obj, name, json_type_string, REQUIRED);
    if (!v)
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (!office_ok(s, len)) {
        char qb[64];
        size_t mark = kv_ptr_push(&d->ptr, name);
        kv_quote(qb, sizeof(qb), s, len, 20);
        kv_report_add(d->rep, "R-EVT-012", d->ptr.buf,
                      "\"%s\" is not a customs office reference number (country code and 6 "
                      "letters or digits, e.g. TR080200)",
                      qb);
        kv_ptr_pop(&d->ptr, mark);
        return false;
    }
    memcpy(out, s, KV_OFFICE_LEN);
    out[KV_OFFICE_LEN] = '\0';
    return true;
}

static bool get_time(struct dec *d, json_object *obj, struct kv_time *t)
{
    json_object *v = member(d, obj, "time", json_type_string, REQUIRED);
    if (!v)
        return false;
    const char *s = json_object_get_string(v), *why = NULL;
    size_t len = (size_t)json_object_get_string_len(v);
    if (kv_time_parse(s, len, t, &why) != KV_OK) {
        char qb[64];
        kv_quote(qb, sizeof(qb), s, len, 30);
        kv_report_add(d->rep, "R-EVT-011", "/time",
                      "\"%s\" is not an RFC 3339 time (YYYY-MM-DDThh:mm:ssZ or with an offset "
                      "such as +05:00): %s",
                      qb, why);
        return false;
    }
    return true;
}

/* Checks one entry of a seal list: a string, an..20, not listed before.
 * Reports at the current pointer (the entry's). */
static bool seal_ok(struct dec *d, json_object *e, const struct kv_seal_list *seen)
{
    if (!e || json_object_get_type(e) != json_type_string) {
        kv_report_add(d->rep, "R-EVT-006", d->ptr.buf, "a seal identifier must be a string, not %s",
                      kv_json_type_name(e));
        return false;
    }
    const char *s = json_object_get_string(e);
    size_t len = (size_t)json_object_get_string_len(e);
    const char *why = memchr(s, '\0', len) ? "contains a NUL character"
                                           : text_problem(s, len, KV_SEAL_ID_CHARS, TEXT_NOSPACES);
    if (why) {
        kv_report_add(d->rep, "R-EVT-013", d->ptr.buf,
                      "seal identifier %s (an..20: 1 to 20 characters, no space at either end)",
                      why);
        return false;
    }
    for (size_t j = 0; j < seen->n; j++) {
        if (strlen(seen->id[j]) == len && memcmp(seen->id[j], s, len) == 0) {
            char qb[96];
            kv_quote(qb, sizeof(qb), s, len, 40);
            kv_report_add(d->rep, "R-EVT-015", d->ptr.buf, "seal \"%s\" is listed twice", qb);
            return false;
        }
    }
    return true;
}

/* A list of seal identifiers (an..20 each, at most 99, no duplicates). */
static bool get_seals(struct dec *d, json_object *obj, const char *name, struct kv_seal_list *out,
                      enum need need)
{
    json_object *v = member(d, obj, name, json_type_array, need);
    bool ok = true;
    if (!v)
        return false;
    size_t n = json_object_array_length(v);
    size_t mark = kv_ptr_push(&d->ptr, name);
    if (n > KV_SEALS_MAX) {
        kv_report_add(d->rep, "R-EVT-015", d->ptr.buf, "%zu seals: at most %d", n, KV_SEALS_MAX);
        kv_ptr_pop(&d->ptr, mark);
        return false;
    }
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        size_t emark = kv_ptr_push_index(&d->ptr, i);
        if (seal_ok(d, e, out)) {
            size_t len = (size_t)json_object_get_string_len(e);
            memcpy(out->id[out->n], json_object_get_string(e), len);
            out->id[out->n][len] = '\0';
            out->n++;
        } else {
            ok = false;
        }
        kv_ptr_pop(&d->ptr, emark);
    }
    kv_ptr_pop(&d->ptr, mark);
    return ok;
}

struct unknown_ctx {
    struct dec *d;
    const char *where;
};

static void report_unknown(void *ctx, const char *key)
{
    struct unknown_ctx *u = ctx;
    char qb[96];
    size_t mark = kv_ptr_push(&u->d->ptr, key);
    kv_quote(qb, sizeof(qb), key, strlen(key), 60);
    kv_report_add(u->d->rep, "R-EVT-004", u->d->ptr.buf, "unknown member \"%s\" %s", qb, u->where);
    kv_ptr_pop(&u->d->ptr, mark);
}

/* Reports members of obj that are not in `allowed` (NULL-terminated). */
static void unknown_members(struct dec *d, json_object *obj, const char *const *allowed,
                            const char *where)
{
    struct unknown_ctx u = {d, where};
    kv_json_unknown_members(obj, allowed, report_unknown, &u);
}

/* The members of each type, after the common ones. */
static const char *const common_members[] = {"type", "time", "office", "actor", NULL};
static const char *const *const type_members[KV_EVENT__COUNT] = {
    [KV_EVENT_LODGED] = (const char *const[]){NULL},
    [KV_EVENT_CONTROL_DECISION] = (const char *const[]){"control", "reason", NULL},
    [KV_EVENT_RELEASE] = (const char *const[]){"controlResult", "seals", NULL},
    [KV_EVENT_NO_RELEASE] = (const char *const[]){"reason", NULL},
    [KV_EVENT_AMENDMENT] = (const char *const[]){"declaration", NULL},
    [KV_EVENT_CANCELLATION] = (const char *const[]){"initiatedBy", "reason", NULL},
    [KV_EVENT_PRESENTED] = (const char *const[]){"side", NULL},
    [KV_EVENT_CLEARED] = (const char *const[]){"side", NULL},
    [KV_EVENT_INCIDENT] = (const char *const[]){"code", "text", "place", "latitude", "longitude",
                                                "sealsState", "newSeals", "transhipment", NULL},
    [KV_EVENT_ARRIVAL] = (const char *const[]){"diversion", NULL},
    [KV_EVENT_UNLOADING_REMARKS] =
        (const char *const[]){"conform", "sealsIntact", "discrepancies", NULL},
    [KV_EVENT_DISCREPANCIES_RESOLVED] = (const char *const[]){"text", NULL},
    [KV_EVENT_WRITE_OFF] = (const char *const[]){NULL},
};

static void check_members(struct dec *d, json_object *root, enum kv_event_type type)
{
    const char *allowed[24];
    size_t n = 0;
    char where[64];
    for (int i = 0; common_members[i]; i++)
        allowed[n++] = common_members[i];
    for (int i = 0; type_members[type][i] && n + 1 < sizeof(allowed) / sizeof(allowed[0]); i++)
        allowed[n++] = type_members[type][i];
    allowed[n] = NULL;
    snprintf(where, sizeof(where), "for an event of type \"%s\"", kv_event_type_name(type));
    unknown_members(d, root, allowed, where);
}

/* CL196 codes accepted on a release (CL195 plus A3, see docs/movement.md). */
static const char *const control_results[] = {"A1", "A2", "A3", "A4", NULL};
static const char *const side_names[] = {"exit", "entry", NULL};
static const char *const initiator_names[] = {"holder", "customs", NULL};
static const char *const seals_state_names[] = {"intact", "broken", "replaced", NULL};

static void dec_actor(struct dec *d, json_object *root, struct kv_event *ev)
{
    static const char *const actor_members[] = {"role", "id", NULL};
    static const char *const roles[] = {"trader", "officer", "analyst", "operator", "node", NULL};
    json_object *a = NULL;
    if (!json_object_object_get_ex(root, "actor", &a))
        return;
    if (d->form == KV_EVENT_INPUT) {
        kv_report_add(d->rep, "R-EVT-017", "/actor",
                      "\"actor\" is set by the node from the credentials; do not send it");
        return;
    }
    a = member(d, root, "actor", json_type_object, REQUIRED);
    if (!a)
        return;
    size_t mark = kv_ptr_push(&d->ptr, "actor");
    unknown_members(d, a, actor_members, "in \"actor\"");
    int r;
    if (get_enum(d, a, "role", roles, &r, REQUIRED))
        ev->actor.role = (enum kv_actor_role)(KV_ACTOR_TRADER + r);
    get_text(d, a, "id", KV_ACTOR_ID_CHARS, TEXT_PLAIN, ev->actor.id, sizeof(ev->actor.id),
             REQUIRED);
    kv_ptr_pop(&d->ptr, mark);
}

/* Copies the raw JSON value s[off..end) without the whitespace between tokens. */
static char *minify(const char *s, size_t off, size_t end, size_t *outlen)
{
    char *o = malloc(end - off + 1);
    size_t k = 0;
    bool in_str = false;
    if (!o)
        return NULL;
    for (size_t i = off; i < end; i++) {
        char c = s[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\' && i + 1 < end)
                o[k++] = s[++i];
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
            o[k++] = c;
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            o[k++] = c;
        }
    }
    o[k] = '\0';
    *outlen = k;
    return o;
}

static void dec_incident(struct dec *d, json_object *root, struct kv_event *ev)
{
    static const char *const tranship_members[] = {"meansId", "nationality", NULL};
    json_object *v = member(d, root, "code", json_type_string, REQUIRED);
    if (v) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        /* CL019 IncidentCode, valid from 2022-01-29: 1 to 6. */
        if (len != 1 || s[0] < '1' || s[0] > '6') {
            char qb[64];
            kv_quote(qb, sizeof(qb), s, len, 20);
            kv_report_add(d->rep, "R-EVT-014", "/code",
                          "incident code \"%s\" is not in CL019 (\"1\" to \"6\")", qb);
        } else {
            ev->u.incident.code = s[0];
        }
    }
    get_text(d, root, "text", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.incident.text,
             sizeof(ev->u.incident.text), REQUIRED);
    get_text(d, root, "place", KV_PLACE_CHARS, TEXT_PLAIN, ev->u.incident.place,
             sizeof(ev->u.incident.place), REQUIRED);

    /* GNSS: both or neither. */
    json_object *lat = member(d, root, "latitude", json_type_string, OPTIONAL);
    json_object *lon = member(d, root, "longitude", json_type_string, OPTIONAL);
    bool has_lat = json_object_object_get_ex(root, "latitude", NULL);
    bool has_lon = json_object_object_get_ex(root, "longitude", NULL);
    if (has_lat != has_lon)
        kv_report_add(d->rep, "R-EVT-016", has_lat ? "/longitude" : "/latitude",
                      "\"latitude\" and \"longitude\" go together: give both or neither");
    bool lat_ok =
        lat && gnss_ok(json_object_get_string(lat), (size_t)json_object_get_string_len(lat), false);
    bool lon_ok =
        lon && gnss_ok(json_object_get_string(lon), (size_t)json_object_get_string_len(lon), true);
    if (lat && !lat_ok)
        kv_report_add(d->rep, "R-EVT-018", "/latitude",
                      "latitude is not in the NCTS GNSS form (e.g. \"41.51234\": -90 to 90, "
                      "5 to 7 decimals)");
    if (lon && !lon_ok)
        kv_report_add(d->rep, "R-EVT-018", "/longitude",
                      "longitude is not in the NCTS GNSS form (e.g. \"41.51234\": -180 to 180, "
                      "5 to 7 decimals)");
    if (lat_ok && lon_ok) {
        ev->u.incident.has_gnss = true;
        memcpy(ev->u.incident.latitude, json_object_get_string(lat),
               (size_t)json_object_get_string_len(lat) + 1);
        memcpy(ev->u.incident.longitude, json_object_get_string(lon),
               (size_t)json_object_get_string_len(lon) + 1);
    }

    int st;
    bool has_state = get_enum(d, root, "sealsState", seals_state_names, &st, REQUIRED);
    if (has_state)
        ev->u.incident.seals_state = (enum kv_seals_state)(KV_SEALS_INTACT + st);
    bool has_new = json_object_object_get_ex(root, "newSeals", NULL);
    if (has_state && ev->u.incident.seals_state == KV_SEALS_REPLACED) {
        if (!has_new)
            kv_report_add(d->rep, "R-EVT-016", "/newSeals",
                          "\"newSeals\" is required when \"sealsState\" is \"replaced\"");
        else if (get_seals(d, root, "newSeals", &ev->u.incident.new_seals, REQUIRED) &&
                 ev->u.incident.new_seals.n == 0)
            kv_report_add(d->rep, "R-EVT-016", "/newSeals",
                          "\"newSeals\" must list the new seals when \"sealsState\" is "
                          "\"replaced\"");
    } else if (has_new) {
        kv_report_add(d->rep, "R-EVT-016", "/newSeals",
                      "\"newSeals\" goes only with \"sealsState\": \"replaced\"");
    }
    /* CL019 code 2: seals broken or tampered with. */
    if (ev->u.incident.code == '2' && has_state && ev->u.incident.seals_state == KV_SEALS_INTACT)
        kv_report_add(d->rep, "R-EVT-016", "/sealsState",
                      "incident code 2 (seals broken or tampered with) contradicts "
                      "\"sealsState\": \"intact\"");

    json_object *t = member(d, root, "transhipment", json_type_object, OPTIONAL);
    if (t) {
        size_t mark = kv_ptr_push(&d->ptr, "transhipment");
        unknown_members(d, t, tranship_members, "in \"transhipment\"");
        bool ok = get_text(d, t, "meansId", KV_MEANS_ID_CHARS, TEXT_PLAIN, ev->u.incident.means_id,
                           sizeof(ev->u.incident.means_id), REQUIRED);
        json_object *nat = member(d, t, "nationality", json_type_string, OPTIONAL);
        kv_ptr_pop(&d->ptr, mark);
        if (nat) {
            const char *s = json_object_get_string(nat);
            if (json_object_get_string_len(nat) != 2 || !is_upper(s[0]) || !is_upper(s[1])) {
                kv_report_add(d->rep, "R-EVT-013", "/transhipment/nationality",
                              "nationality must be an ISO 3166-1 alpha-2 code (two capital "
                              "letters)");
                ok = false;
            } else {
                memcpy(ev->u.incident.nationality, s, 3);
            }
        }
        ev->u.incident.has_transhipment = ok;
    } else if (ev->u.incident.code == '3' &&
               !json_object_object_get_ex(root, "transhipment", NULL)) {
        /* CL019 code 3: goods transferred to another means of transport. */
        kv_report_add(d->rep, "R-EVT-016", "/transhipment",
                      "incident code 3 (transhipment) needs \"transhipment\" with the new "
                      "means of transport");
    }
}

static void dec_payload(struct dec *d, json_object *root, struct kv_event *ev,
                        const struct kv_json_span *decl, const char *buf)
{
    int k;
    switch (ev->type) {
    case KV_EVENT_CONTROL_DECISION:
        get_bool(d, root, "control", &ev->u.control_decision.control, REQUIRED);
        get_text(d, root, "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.control_decision.reason,
                 sizeof(ev->u.control_decision.reason), OPTIONAL);
        break;
    case KV_EVENT_RELEASE:
        if (get_enum(d, root, "controlResult", control_results, &k, REQUIRED))
            memcpy(ev->u.release.control_result, control_results[k], 3);
        get_seals(d, root, "seals", &ev->u.release.seals, REQUIRED);
        break;
    case KV_EVENT_NO_RELEASE:
        get_text(d, root, "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.no_release.reason,
                 sizeof(ev->u.no_release.reason), REQUIRED);
        break;
    case KV_EVENT_AMENDMENT:
        if (member(d, root, "declaration", json_type_object, REQUIRED)) {
            if (!decl->found) {
                kv_report_add(d->rep, "R-EVT-001", "/declaration", "declaration not found");
                break;
            }
            ev->u.amendment.declaration =
                minify(buf, decl->off, decl->end, &ev->u.amendment.declaration_len);
            if (!ev->u.amendment.declaration)
                d->oom = true;
        }
        break;
    case KV_EVENT_CANCELLATION:
        if (get_enum(d, root, "initiatedBy", initiator_names, &k, REQUIRED))
            ev->u.cancellation.by = (enum kv_initiator)(KV_BY_HOLDER + k);
        get_text(d, root, "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.cancellation.reason,
                 sizeof(ev->u.cancellation.reason), REQUIRED);
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
        if (get_enum(d, root, "side", side_names, &k, REQUIRED))
            ev->u.crossing.side = (enum kv_side)(KV_SIDE_EXIT + k);
        break;
    case KV_EVENT_INCIDENT:
        dec_incident(d, root, ev);
        break;
    case KV_EVENT_ARRIVAL:
        if (json_object_object_get_ex(root, "diversion", NULL)) {
            if (d->form == KV_EVENT_INPUT)
                kv_report_add(d->rep, "R-EVT-017", "/diversion",
                              "\"diversion\" is worked out by the node from the declared "
                              "destination; do not send it");
            else
                get_bool(d, root, "diversion", &ev->u.arrival.diversion, OPTIONAL);
        }
        break;
    case KV_EVENT_UNLOADING_REMARKS: {
        get_bool(d, root, "conform", &ev->u.unloading.conform, REQUIRED);
        bool conform_given = json_object_object_get_ex(root, "conform", NULL);
        ev->u.unloading.has_seals_intact =
            get_bool(d, root, "sealsIntact", &ev->u.unloading.seals_intact, OPTIONAL);
        bool has_text = get_text(d, root, "discrepancies", KV_TEXT_CHARS, TEXT_PLAIN,
                                 ev->u.unloading.discrepancies,
                                 sizeof(ev->u.unloading.discrepancies), OPTIONAL);
        bool text_given = json_object_object_get_ex(root, "discrepancies", NULL);
        bool bad = (conform_given && !ev->u.unloading.conform) ||
                   (ev->u.unloading.has_seals_intact && !ev->u.unloading.seals_intact);
        if (bad && !has_text && !text_given)
            kv_report_add(d->rep, "R-EVT-016", "/discrepancies",
                          "\"discrepancies\" must say what differs when the goods do not "
                          "conform or the seals are not intact");
        break;
    }
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        get_text(d, root, "text", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.resolved.text,
                 sizeof(ev->u.resolved.text), REQUIRED);
        break;
    case KV_EVENT_LODGED:
    case KV_EVENT_WRITE_OFF:
    case KV_EVENT_UNKNOWN:
    case KV_EVENT__COUNT:
        break;
    }
}

/* A repeated member, from the strict check. Those inside an amendment's
 * declaration are the declaration codec's to judge, not the event's. */
static void on_duplicate(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    static const char inside_declaration[] = "/declaration/";
    struct kv_report *rep = ctx;
    char qb[96];
    if (strncmp(pointer, inside_declaration, sizeof(inside_declaration) - 1) == 0)
        return;
    kv_quote(qb, sizeof(qb), name, name_len, 60);
    kv_report_add(rep, "R-EVT-007", pointer, "duplicate member \"%s\": each member may appear once",
                  qb);
}

int kv_event_decode(const char *buf, size_t len, enum kv_event_form form, struct kv_event *ev,
                    struct kv_report *rep)
{
    json_object *root = NULL;
    struct dec d = {.rep = rep, .form = form};
    size_t before;
    int rc;

    if (!buf || !ev || !rep)
        return KV_EINVAL;
    memset(ev, 0, sizeof(*ev));
    before = rep->total;
    if (len > KV_EVENT_JSON_MAX) {
        kv_report_add(rep, "R-EVT-002", "", "the event is %zu bytes; at most %u", len,
                      KV_EVENT_JSON_MAX);
        return KV_ELIMIT;
    }

    /* Strict JSON within the limits, duplicates, and where the declaration's
     * bytes are; then json-c's tree. */
    struct kv_json_limits lim = {KV_EVENT_JSON_DEPTH, KV_EVENT_JSON_CONTAINERS,
                                 KV_EVENT_JSON_VALUES};
    struct kv_json_span decl = {.pointer = "/declaration"};
    struct kv_json_error jerr;
    rc = kv_json_check_span(buf, len, &lim, on_duplicate, rep, &decl, &jerr);
    if (rc == KV_OK)
        rc = kv_json_build(buf, len, &lim, &root, &jerr);
    if (rc == KV_EPARSE || rc == KV_ELIMIT) {
        kv_json_report(rep, rc == KV_EPARSE ? "R-EVT-001" : "R-EVT-002", &jerr);
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    if (json_object_get_type(root) != json_type_object) {
        kv_report_add(rep, "R-EVT-003", "", "an event is a JSON object, not %s",
                      kv_json_type_name(root));
        rc = KV_EPARSE;
        goto out;
    }

    /* The type decides which members are allowed. */
    kv_ptr_init(&d.ptr);
    json_object *tv = member(&d, root, "type", json_type_string, REQUIRED);
    if (tv) {
        const char *s = json_object_get_string(tv);
        size_t tl = (size_t)json_object_get_string_len(tv);
        if (!kv_event_type_from_name(s, tl, &ev->type)) {
            char qb[96], allowed[300];
            size_t o = 0;
            allowed[0] = '\0';
            for (int t = KV_EVENT_CONTROL_DECISION; t < KV_EVENT__COUNT; t++) {
                int k = snprintf(allowed + o, sizeof(allowed) - o, "%s%s",
                                 t > KV_EVENT_CONTROL_DECISION ? ", " : "",
                                 kv_event_type_name((enum kv_event_type)t));
                if (k > 0 && (size_t)k < sizeof(allowed) - o)
                    o += (size_t)k;
            }
            kv_quote(qb, sizeof(qb), s, tl, 40);
            kv_report_add(rep, "R-EVT-010", "/type", "unknown event type \"%s\"; one of: %s", qb,
                          allowed);
        } else if (ev->type == KV_EVENT_LODGED && form == KV_EVENT_INPUT) {
            kv_report_add(rep, "R-EVT-017", "/type",
                          "\"lodged\" is written by the node when it accepts a declaration");
        }
    }
    d.type_name = kv_event_type_name(ev->type);
    if (ev->type != KV_EVENT_UNKNOWN)
        check_members(&d, root, ev->type);

    get_time(&d, root, &ev->time);
    get_office(&d, root, "office", ev->office);
    dec_actor(&d, root, ev);
    dec_payload(&d, root, ev, &decl, buf);

    if (d.oom || rep->oom)
        rc = KV_ENOMEM;
    else
        rc = rep->total == before ? KV_OK : KV_EPARSE;
out:
    json_object_put(root);
    return rc;
}

int kv_event_from_json(const char *buf, size_t len, struct kv_event *ev, struct kv_report *rep)
{
    return kv_event_decode(buf, len, KV_EVENT_STORED, ev, rep);
}

void kv_event_clear(struct kv_event *ev)
{
    if (!ev)
        return;
    if (ev->type == KV_EVENT_AMENDMENT)
        free(ev->u.amendment.declaration);
    memset(ev, 0, sizeof(*ev));
}

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

struct out {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->n + n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void put_s(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void put_str(struct out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0;; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || c == '"' || c == '\\' || c < 0x20) {
            put(o, s + i - run, run);
            run = 0;
            if (c == '\0')
                break;
            if (c == '"')
                put(o, "\\\"", 2);
            else if (c == '\\')
                put(o, "\\\\", 2);
            else if (c == '\n')
                put(o, "\\n", 2);
            else if (c == '\t')
                put(o, "\\t", 2);
            else if (c == '\r')
                put(o, "\\r", 2);
            else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                put(o, u, 6);
            }
        } else {
            run++;
        }
    }
    put(o, "\"", 1);
}

static void put_key(struct out *o, const char *key)
{
    put(o, ",", 1);
    put_str(o, key);
    put(o, ":", 1);
}

static void put_kstr(struct out *o, const char *key, const char *val)
{
    put_key(o, key);
    put_str(o, val);
}

static void put_kopt(struct out *o, const char *key, const char *val)
{
    if (val[0])
        put_kstr(o, key, val);
}

static void put_kbool(struct out *o, const char *key, bool v)
{
    put_key(o, key);
    put_s(o, v ? "true" : "false");
}

static void put_seals(struct out *o, const char *key, const struct kv_seal_list *l)
{
    put_key(o, key);
    put(o, "[", 1);
    for (size_t i = 0; i < l->n && i < KV_SEALS_MAX; i++) {
        if (i)
            put(o, ",", 1);
        put_str(o, l->id[i]);
    }
    put(o, "]", 1);
}

int kv_event_to_json(const struct kv_event *ev, char **json, size_t *len)
{
    struct out o = {0};
    const char *tn;
    if (!ev || !json)
        return KV_EINVAL;
    *json = NULL;
    tn = kv_event_type_name(ev->type);
    if (!tn)
        return KV_EINVAL;
    if (ev->type == KV_EVENT_AMENDMENT && !ev->u.amendment.declaration)
        return KV_EINVAL;

    put(&o, "{\"type\":", 8);
    put_str(&o, tn);
    put_kstr(&o, "time", ev->time.text);
    put_kstr(&o, "office", ev->office);
    if (ev->actor.role != KV_ACTOR_NONE && kv_actor_role_name(ev->actor.role)) {
        put_key(&o, "actor");
        put(&o, "{\"role\":", 8);
        put_str(&o, kv_actor_role_name(ev->actor.role));
        put_kstr(&o, "id", ev->actor.id);
        put(&o, "}", 1);
    }
    switch (ev->type) {
    case KV_EVENT_CONTROL_DECISION:
        put_kbool(&o, "control", ev->u.control_decision.control);
        put_kopt(&o, "reason", ev->u.control_decision.reason);
        break;
    case KV_EVENT_RELEASE:
        put_kstr(&o, "controlResult", ev->u.release.control_result);
        put_seals(&o, "seals", &ev->u.release.seals);
        break;
    case KV_EVENT_NO_RELEASE:
        put_kstr(&o, "reason", ev->u.no_release.reason);
        break;
    case KV_EVENT_AMENDMENT:
        put_key(&o, "declaration");
        put(&o, ev->u.amendment.declaration, ev->u.amendment.declaration_len);
        break;
    case KV_EVENT_CANCELLATION:
        put_kstr(&o, "initiatedBy",
                 kv_initiator_name(ev->u.cancellation.by) ? kv_initiator_name(ev->u.cancellation.by)
                                                          : "");
        put_kstr(&o, "reason", ev->u.cancellation.reason);
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
        put_kstr(&o, "side",
                 kv_side_name(ev->u.crossing.side) ? kv_side_name(ev->u.crossing.side) : "");
        break;
    case KV_EVENT_INCIDENT: {
        char code[2] = {ev->u.incident.code, '\0'};
        const char *st = kv_seals_state_name(ev->u.incident.seals_state);
        put_kstr(&o, "code", code);
        put_kstr(&o, "text", ev->u.incident.text);
        put_kstr(&o, "place", ev->u.incident.place);
        if (ev->u.incident.has_gnss) {
            put_kstr(&o, "latitude", ev->u.incident.latitude);
            put_kstr(&o, "longitude", ev->u.incident.longitude);
        }
        put_kstr(&o, "sealsState", st ? st : "");
        if (ev->u.incident.seals_state == KV_SEALS_REPLACED)
            put_seals(&o, "newSeals", &ev->u.incident.new_seals);
        if (ev->u.incident.has_transhipment) {
            put_key(&o, "transhipment");
            put(&o, "{\"meansId\":", 11);
            put_str(&o, ev->u.incident.means_id);
            put_kopt(&o, "nationality", ev->u.incident.nationality);
            put(&o, "}", 1);
        }
        break;
    }
    case KV_EVENT_ARRIVAL:
        if (ev->u.arrival.diversion)
            put_kbool(&o, "diversion", true);
        break;
    case KV_EVENT_UNLOADING_REMARKS:
        put_kbool(&o, "conform", ev->u.unloading.conform);
        if (ev->u.unloading.has_seals_intact)
            put_kbool(&o, "sealsIntact", ev->u.unloading.seals_intact);
        put_kopt(&o, "discrepancies", ev->u.unloading.discrepancies);
        break;
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        put_kstr(&o, "text", ev->u.resolved.text);
        break;
    case KV_EVENT_LODGED:
    case KV_EVENT_WRITE_OFF:
    case KV_EVENT_UNKNOWN:
    case KV_EVENT__COUNT:
        break;
    }
    put(&o, "}", 1);
    if (o.oom) {
        free(o.p);
        return KV_ENOMEM;
    }
    *json = o.p;
    if (len)
        *len = o.n;
    return KV_OK;
}
