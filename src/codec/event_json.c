/*
 * event_json.c — strict JSON decoding and canonical encoding of movement
 * events (see event_json.h; the rules R-EVT-* are listed in docs/movement.md).
 *
 * json-c parses (strict mode, UTF-8 validation, depth limit). json-c keeps
 * only the last of duplicate members and re-serialises numbers, so a small
 * scanner also walks the raw bytes once the parse succeeded: it reports
 * duplicate members and finds the exact bytes of an amendment's
 * "declaration", which is stored as received (whitespace removed) for the
 * declaration codec to judge. Encoding is a hand-written writer, so the
 * member order and escaping are fixed.
 */
#include "codec/event_json.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

/* ======================================================================== */
/* JSON pointers (RFC 6901)                                                 */
/* ======================================================================== */

#define PTR_MAX KV_POINTER_MAX

/* parent + "/" + key with ~ and / escaped; cut (the report truncates anyway). */
static void ptr_key(char *dst, const char *parent, const char *key, size_t klen)
{
    size_t o = strlen(parent);
    if (o >= PTR_MAX)
        o = PTR_MAX - 1;
    memmove(dst, parent, o);
    if (o + 1 < PTR_MAX)
        dst[o++] = '/';
    for (size_t i = 0; i < klen && o + 2 < PTR_MAX; i++) {
        if (key[i] == '~') {
            dst[o++] = '~';
            dst[o++] = '0';
        } else if (key[i] == '/') {
            dst[o++] = '~';
            dst[o++] = '1';
        } else {
            dst[o++] = key[i];
        }
    }
    dst[o] = '\0';
}

static void ptr_index(char *dst, const char *parent, size_t i)
{
    char num[24];
    snprintf(num, sizeof(num), "%zu", i);
    ptr_key(dst, parent, num, strlen(num));
}

/* ======================================================================== */
/* UTF-8 and string formats                                                 */
/* ======================================================================== */

/* Decodes one UTF-8 sequence at s[i..n); returns its length or 0 if invalid
 * (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t i, size_t n, uint32_t *cp)
{
    unsigned char c = s[i];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

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
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = 0, i = 0;
    bool blank = true;
    uint32_t first = 0, last = 0;
    if (len == 0)
        return "is empty";
    while (i < len) {
        uint32_t cp;
        size_t k = utf8_next(u, i, len, &cp);
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
/* The raw scanner: duplicate members and the declaration's bytes            */
/* ======================================================================== */

/* Members tracked per object for duplicates (our objects have at most 12):
 * each by the length and FNV-1a hash of its decoded name, so an escaped
 * "\u0074ype" is the same member as "type". Two different names with the
 * same hash would only add a duplicate report to an event that is refused
 * anyway: every valid member name is short and known. */
#define SCAN_KEYS_MAX 32

struct scan {
    const char *s;
    size_t n, i;
    struct kv_report *rep;
    bool root_seen;
    size_t decl_off, decl_end; /* the top-level "declaration" value */
    bool decl_found;
    const char *why; /* when the walk fails: what is not standard JSON */
    size_t at;       /* and where (byte offset) */
    bool too_deep;   /* more than KV_EVENT_JSON_DEPTH objects/arrays nested */
};

static bool sc_fail(struct scan *sc, const char *why)
{
    if (!sc->why) {
        sc->why = why;
        sc->at = sc->i;
    }
    return false;
}

static void sc_ws(struct scan *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' || sc->s[sc->i] == '\n' ||
                             sc->s[sc->i] == '\r'))
        sc->i++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decoded string: up to cap-1 bytes kept in out (NUL-terminated), and the
 * length and FNV-1a hash of all of it. */
struct decoded {
    char *out;
    size_t cap, kept, len;
    uint64_t hash;
};

static void dec_byte(struct decoded *d, unsigned char b)
{
    d->hash = (d->hash ^ b) * 1099511628211ULL;
    d->len++;
    if (d->out && d->kept + 1 < d->cap)
        d->out[d->kept++] = (char)b;
}

static void dec_cp(struct decoded *d, uint32_t cp)
{
    if (cp < 0x80) {
        dec_byte(d, (unsigned char)cp);
    } else if (cp < 0x800) {
        dec_byte(d, (unsigned char)(0xc0 | cp >> 6));
        dec_byte(d, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        dec_byte(d, (unsigned char)(0xe0 | cp >> 12));
        dec_byte(d, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        dec_byte(d, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        dec_byte(d, (unsigned char)(0xf0 | cp >> 18));
        dec_byte(d, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        dec_byte(d, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        dec_byte(d, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

/* Consumes a string at sc->i, decoding its escapes into *d (d->out may be NULL). */
static bool sc_string(struct scan *sc, struct decoded *d)
{
    d->kept = d->len = 0;
    d->hash = 1469598103934665603ULL;
    if (sc->i >= sc->n || sc->s[sc->i] != '"')
        return sc_fail(sc, "a string in double quotes expected");
    sc->i++;
    while (sc->i < sc->n) {
        char c = sc->s[sc->i++];
        if (c == '"') {
            if (d->out && d->cap)
                d->out[d->kept] = '\0';
            return true;
        }
        if ((unsigned char)c < 0x20) {
            sc->i--;
            return sc_fail(sc, "control character inside a string (escape it)");
        }
        if (c != '\\') {
            dec_byte(d, (unsigned char)c);
            continue;
        }
        if (sc->i >= sc->n)
            return sc_fail(sc, "unfinished escape");
        char e = sc->s[sc->i++];
        uint32_t cp;
        switch (e) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            cp = (uint32_t)(unsigned char)e;
            break;
        case 'u': {
            if (sc->i + 4 > sc->n)
                return sc_fail(sc, "unfinished \\u escape");
            int h[4];
            for (int k = 0; k < 4; k++)
                if ((h[k] = hexval(sc->s[sc->i + k])) < 0)
                    return sc_fail(sc, "bad \\u escape");
            cp = (uint32_t)(h[0] << 12 | h[1] << 8 | h[2] << 4 | h[3]);
            sc->i += 4;
            /* A high surrogate followed by a low one is one code point. */
            if (cp >= 0xd800 && cp <= 0xdbff && sc->i + 6 <= sc->n && sc->s[sc->i] == '\\' &&
                sc->s[sc->i + 1] == 'u') {
                int l[4], okl = 1;
                for (int k = 0; k < 4; k++)
                    okl &= (l[k] = hexval(sc->s[sc->i + 2 + k])) >= 0;
                uint32_t lo = okl ? (uint32_t)(l[0] << 12 | l[1] << 8 | l[2] << 4 | l[3]) : 0;
                if (okl && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    sc->i += 6;
                }
            }
            /* What is left a surrogate is a lone one: not a character. */
            if (cp >= 0xd800 && cp <= 0xdfff) {
                sc->i -= 6;
                return sc_fail(sc, "lone UTF-16 surrogate in a \\u escape");
            }
            break;
        }
        default:
            sc->i--;
            return sc_fail(sc, "unknown escape");
        }
        dec_cp(d, cp);
    }
    return sc_fail(sc, "unterminated string");
}

/* A number by RFC 8259's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool sc_number(struct scan *sc)
{
    const char *s = sc->s;
    size_t i = sc->i, n = sc->n, d;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return sc_fail(sc, "not a JSON value (NaN, Infinity, a bare word?)");
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && is_digit(s[i]);)
            i++;
        if (i == d)
            return sc_fail(sc, "digits expected after the decimal point");
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && is_digit(s[i]);)
            i++;
        if (i == d)
            return sc_fail(sc, "digits expected in the exponent");
    }
    sc->i = i;
    return true;
}

static bool sc_value(struct scan *sc, const char *ptr, unsigned depth, bool check);

struct seen_key {
    size_t len;
    uint64_t hash;
};

/* Walks an object; with `keys`, reports duplicate members. */
static bool sc_object_walk(struct scan *sc, const char *ptr, unsigned depth, bool check,
                           struct seen_key *keys)
{
    size_t nkeys = 0;
    bool root = depth == 0;
    sc->i++; /* { */
    sc_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        sc->i++;
        return true;
    }
    for (;;) {
        char name[PTR_MAX], child[PTR_MAX];
        struct decoded k = {.out = name, .cap = sizeof(name)};
        sc_ws(sc);
        if (!sc_string(sc, &k))
            return false;
        ptr_key(child, ptr, name, k.kept);
        if (check && keys) {
            bool dup = false;
            for (size_t j = 0; j < nkeys && !dup; j++)
                dup = keys[j].len == k.len && keys[j].hash == k.hash;
            if (dup) {
                char qb[96];
                kv_quote(qb, sizeof(qb), name, k.kept, 60);
                kv_report_add(sc->rep, "R-EVT-007", child,
                              "duplicate member \"%s\": each member may appear once", qb);
            } else if (nkeys < SCAN_KEYS_MAX) {
                keys[nkeys].len = k.len;
                keys[nkeys].hash = k.hash;
                nkeys++;
            }
        }
        sc_ws(sc);
        if (sc->i >= sc->n || sc->s[sc->i] != ':')
            return sc_fail(sc, "':' expected after a member name");
        sc->i++;
        sc_ws(sc);
        bool is_decl = root && k.len == 11 && memcmp(name, "declaration", 11) == 0;
        size_t voff = sc->i;
        /* The declaration is the declaration codec's to judge: walk it, but
         * do not report inside it. */
        if (!sc_value(sc, child, depth + 1, check && !is_decl))
            return false;
        if (is_decl) {
            sc->decl_found = true;
            sc->decl_off = voff;
            sc->decl_end = sc->i;
        }
        sc_ws(sc);
        if (sc->i >= sc->n)
            return sc_fail(sc, "unfinished object");
        if (sc->s[sc->i] == ',') {
            sc->i++;
            continue;
        }
        if (sc->s[sc->i] == '}') {
            sc->i++;
            return true;
        }
        return sc_fail(sc, "',' or '}' expected");
    }
}

static bool sc_object(struct scan *sc, const char *ptr, unsigned depth, bool check)
{
    if (!check) /* inside the declaration: only find its end */
        return sc_object_walk(sc, ptr, depth, false, NULL);
    struct seen_key keys[SCAN_KEYS_MAX];
    return sc_object_walk(sc, ptr, depth, true, keys);
}

static bool sc_value(struct scan *sc, const char *ptr, unsigned depth, bool check)
{
    sc_ws(sc);
    if (sc->i >= sc->n)
        return sc_fail(sc, "value expected");
    char c = sc->s[sc->i];
    /* `depth` containers enclose this value; it may be one more. */
    if ((c == '{' || c == '[') && depth >= KV_EVENT_JSON_DEPTH) {
        sc->too_deep = true;
        return sc_fail(sc, "nested too deep");
    }
    if (c == '{')
        return sc_object(sc, ptr, depth, check);
    if (c == '[') {
        size_t idx = 0;
        sc->i++;
        sc_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == ']') {
            sc->i++;
            return true;
        }
        for (;;) {
            char child[PTR_MAX];
            ptr_index(child, ptr, idx++);
            if (!sc_value(sc, child, depth + 1, check))
                return false;
            sc_ws(sc);
            if (sc->i >= sc->n)
                return sc_fail(sc, "unfinished array");
            if (sc->s[sc->i] == ',') {
                sc->i++;
                continue;
            }
            if (sc->s[sc->i] == ']') {
                sc->i++;
                return true;
            }
            return sc_fail(sc, "',' or ']' expected");
        }
    }
    if (c == '"') {
        struct decoded d = {0};
        return sc_string(sc, &d);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t wl = strlen(words[w]);
        if (sc->n - sc->i >= wl && memcmp(sc->s + sc->i, words[w], wl) == 0) {
            sc->i += wl;
            return true;
        }
    }
    return sc_number(sc);
}

/* ======================================================================== */
/* Decoding                                                                 */
/* ======================================================================== */

struct dec {
    struct kv_report *rep;
    enum kv_event_form form;
    const char *type_name; /* for messages */
    bool oom;
};

enum need { OPTIONAL, REQUIRED };

static const char *json_type_word(json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
    case json_type_int:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "something else";
}

/* Fetches member `name` of `obj` if it has JSON type `want`. Reports a
 * missing required member (R-EVT-005) or a wrong type (R-EVT-006). */
static json_object *member(struct dec *d, json_object *obj, const char *ptr, const char *name,
                           json_type want, enum need need)
{
    json_object *v = NULL;
    char p[PTR_MAX];
    ptr_key(p, ptr, name, strlen(name));
    if (!json_object_object_get_ex(obj, name, &v)) {
        if (need == REQUIRED)
            kv_report_add(d->rep, "R-EVT-005", p, "missing member \"%s\"%s%s%s", name,
                          d->type_name ? " (required for \"" : "", d->type_name ? d->type_name : "",
                          d->type_name ? "\")" : "");
        return NULL;
    }
    if (!v || json_object_get_type(v) != want) {
        const char *w = want == json_type_string    ? "a string"
                        : want == json_type_boolean ? "a boolean (true or false)"
                        : want == json_type_array   ? "an array"
                                                    : "an object";
        kv_report_add(d->rep, "R-EVT-006", p, "\"%s\" must be %s, not %s", name, w,
                      v ? json_type_word(v) : "null");
        return NULL;
    }
    return v;
}

/* A string member checked as an..max; copied into out (cap bytes). Returns
 * true when present and valid. */
static bool get_text(struct dec *d, json_object *obj, const char *ptr, const char *name, size_t max,
                     enum text_kind kind, char *out, size_t cap, enum need need)
{
    json_object *v = member(d, obj, ptr, name, json_type_string, need);
    if (!v)
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    const char *why =
        memchr(s, '\0', len) ? "contains a NUL character" : text_problem(s, len, max, kind);
    if (why) {
        char p[PTR_MAX];
        ptr_key(p, ptr, name, strlen(name));
        kv_report_add(d->rep, "R-EVT-013", p, "\"%s\" %s (an..%zu: 1 to %zu characters%s)", name,
                      why, max, max, kind == TEXT_NOSPACES ? ", no space at either end" : "");
        return false;
    }
    if (len >= cap) { /* cannot happen: cap holds max characters of 4 bytes */
        kv_report_add(d->rep, "R-EVT-013", ptr, "\"%s\" is too long", name);
        return false;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static bool get_bool(struct dec *d, json_object *obj, const char *ptr, const char *name, bool *out,
                     enum need need)
{
    json_object *v = member(d, obj, ptr, name, json_type_boolean, need);
    if (!v)
        return false;
    *out = json_object_get_boolean(v);
    return true;
}

/* A string member that must be one of `names` (NULL-terminated); *out gets
 * its index. R-EVT-014 otherwise. */
static bool get_enum(struct dec *d, json_object *obj, const char *ptr, const char *name,
                     const char *const *names, int *out, enum need need)
{
    json_object *v = member(d, obj, ptr, name, json_type_string, need);
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
    char p[PTR_MAX];
    ptr_key(p, ptr, name, strlen(name));
    kv_quote(qb, sizeof(qb), s, len, 40);
    kv_report_add(d->rep, "R-EVT-014", p, "\"%s\" is \"%s\"; expected one of %s", name, qb, list);
    return false;
}

static bool get_office(struct dec *d, json_object *obj, const char *ptr, const char *name,
                       char out[KV_OFFICE_LEN + 1])
{
    json_object *v = member(d, obj, ptr, name, json_type_string, REQUIRED);
    if (!v)
        return false;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (!office_ok(s, len)) {
        char p[PTR_MAX], qb[64];
        ptr_key(p, ptr, name, strlen(name));
        kv_quote(qb, sizeof(qb), s, len, 20);
        kv_report_add(d->rep, "R-EVT-012", p,
                      "\"%s\" is not a customs office reference number (country code and 6 "
                      "letters or digits, e.g. TR080200)",
                      qb);
        return false;
    }
    memcpy(out, s, KV_OFFICE_LEN);
    out[KV_OFFICE_LEN] = '\0';
    return true;
}

static bool get_time(struct dec *d, json_object *obj, const char *ptr, struct kv_time *t)
{
    json_object *v = member(d, obj, ptr, "time", json_type_string, REQUIRED);
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

/* A list of seal identifiers (an..20 each, at most 99, no duplicates). */
static bool get_seals(struct dec *d, json_object *obj, const char *ptr, const char *name,
                      struct kv_seal_list *out, enum need need)
{
    json_object *v = member(d, obj, ptr, name, json_type_array, need);
    char p[PTR_MAX];
    bool ok = true;
    if (!v)
        return false;
    ptr_key(p, ptr, name, strlen(name));
    size_t n = json_object_array_length(v);
    if (n > KV_SEALS_MAX) {
        kv_report_add(d->rep, "R-EVT-015", p, "%zu seals: at most %d", n, KV_SEALS_MAX);
        return false;
    }
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        char ep[PTR_MAX];
        ptr_index(ep, p, i);
        if (!e || json_object_get_type(e) != json_type_string) {
            kv_report_add(d->rep, "R-EVT-006", ep, "a seal identifier must be a string, not %s",
                          e ? json_type_word(e) : "null");
            ok = false;
            continue;
        }
        const char *s = json_object_get_string(e);
        size_t len = (size_t)json_object_get_string_len(e);
        const char *why = memchr(s, '\0', len)
                              ? "contains a NUL character"
                              : text_problem(s, len, KV_SEAL_ID_CHARS, TEXT_NOSPACES);
        if (why) {
            kv_report_add(d->rep, "R-EVT-013", ep,
                          "seal identifier %s (an..20: 1 to 20 characters, no space at either "
                          "end)",
                          why);
            ok = false;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = strlen(out->id[j]) == len && memcmp(out->id[j], s, len) == 0;
        if (dup) {
            char qb[96];
            kv_quote(qb, sizeof(qb), s, len, 40);
            kv_report_add(d->rep, "R-EVT-015", ep, "seal \"%s\" is listed twice", qb);
            ok = false;
            continue;
        }
        memcpy(out->id[out->n], s, len);
        out->id[out->n][len] = '\0';
        out->n++;
    }
    return ok;
}

/* Reports members of obj that are not in `allowed` (NULL-terminated). */
static void unknown_members(struct dec *d, json_object *obj, const char *ptr,
                            const char *const *allowed, const char *where)
{
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        bool known = false;
        for (int i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known) {
            char p[PTR_MAX], qb[96];
            ptr_key(p, ptr, key, strlen(key));
            kv_quote(qb, sizeof(qb), key, strlen(key), 60);
            kv_report_add(d->rep, "R-EVT-004", p, "unknown member \"%s\" %s", qb, where);
        }
    }
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
    unknown_members(d, root, "", allowed, where);
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
    a = member(d, root, "", "actor", json_type_object, REQUIRED);
    if (!a)
        return;
    unknown_members(d, a, "/actor", actor_members, "in \"actor\"");
    int r;
    if (get_enum(d, a, "/actor", "role", roles, &r, REQUIRED))
        ev->actor.role = (enum kv_actor_role)(KV_ACTOR_TRADER + r);
    get_text(d, a, "/actor", "id", KV_ACTOR_ID_CHARS, TEXT_PLAIN, ev->actor.id,
             sizeof(ev->actor.id), REQUIRED);
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
    json_object *v = member(d, root, "", "code", json_type_string, REQUIRED);
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
    get_text(d, root, "", "text", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.incident.text,
             sizeof(ev->u.incident.text), REQUIRED);
    get_text(d, root, "", "place", KV_PLACE_CHARS, TEXT_PLAIN, ev->u.incident.place,
             sizeof(ev->u.incident.place), REQUIRED);

    /* GNSS: both or neither. */
    json_object *lat = member(d, root, "", "latitude", json_type_string, OPTIONAL);
    json_object *lon = member(d, root, "", "longitude", json_type_string, OPTIONAL);
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
    bool has_state = get_enum(d, root, "", "sealsState", seals_state_names, &st, REQUIRED);
    if (has_state)
        ev->u.incident.seals_state = (enum kv_seals_state)(KV_SEALS_INTACT + st);
    bool has_new = json_object_object_get_ex(root, "newSeals", NULL);
    if (has_state && ev->u.incident.seals_state == KV_SEALS_REPLACED) {
        if (!has_new)
            kv_report_add(d->rep, "R-EVT-016", "/newSeals",
                          "\"newSeals\" is required when \"sealsState\" is \"replaced\"");
        else if (get_seals(d, root, "", "newSeals", &ev->u.incident.new_seals, REQUIRED) &&
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

    json_object *t = member(d, root, "", "transhipment", json_type_object, OPTIONAL);
    if (t) {
        unknown_members(d, t, "/transhipment", tranship_members, "in \"transhipment\"");
        bool ok = get_text(d, t, "/transhipment", "meansId", KV_MEANS_ID_CHARS, TEXT_PLAIN,
                           ev->u.incident.means_id, sizeof(ev->u.incident.means_id), REQUIRED);
        json_object *nat = member(d, t, "/transhipment", "nationality", json_type_string, OPTIONAL);
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
                        const struct scan *sc, const char *buf)
{
    int k;
    switch (ev->type) {
    case KV_EVENT_CONTROL_DECISION:
        get_bool(d, root, "", "control", &ev->u.control_decision.control, REQUIRED);
        get_text(d, root, "", "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.control_decision.reason,
                 sizeof(ev->u.control_decision.reason), OPTIONAL);
        break;
    case KV_EVENT_RELEASE:
        if (get_enum(d, root, "", "controlResult", control_results, &k, REQUIRED))
            memcpy(ev->u.release.control_result, control_results[k], 3);
        get_seals(d, root, "", "seals", &ev->u.release.seals, REQUIRED);
        break;
    case KV_EVENT_NO_RELEASE:
        get_text(d, root, "", "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.no_release.reason,
                 sizeof(ev->u.no_release.reason), REQUIRED);
        break;
    case KV_EVENT_AMENDMENT:
        if (member(d, root, "", "declaration", json_type_object, REQUIRED)) {
            if (!sc->decl_found) {
                kv_report_add(d->rep, "R-EVT-001", "/declaration", "declaration not found");
                break;
            }
            ev->u.amendment.declaration =
                minify(buf, sc->decl_off, sc->decl_end, &ev->u.amendment.declaration_len);
            if (!ev->u.amendment.declaration)
                d->oom = true;
        }
        break;
    case KV_EVENT_CANCELLATION:
        if (get_enum(d, root, "", "initiatedBy", initiator_names, &k, REQUIRED))
            ev->u.cancellation.by = (enum kv_initiator)(KV_BY_HOLDER + k);
        get_text(d, root, "", "reason", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.cancellation.reason,
                 sizeof(ev->u.cancellation.reason), REQUIRED);
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
        if (get_enum(d, root, "", "side", side_names, &k, REQUIRED))
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
                get_bool(d, root, "", "diversion", &ev->u.arrival.diversion, OPTIONAL);
        }
        break;
    case KV_EVENT_UNLOADING_REMARKS: {
        get_bool(d, root, "", "conform", &ev->u.unloading.conform, REQUIRED);
        bool conform_given = json_object_object_get_ex(root, "conform", NULL);
        ev->u.unloading.has_seals_intact =
            get_bool(d, root, "", "sealsIntact", &ev->u.unloading.seals_intact, OPTIONAL);
        bool has_text = get_text(d, root, "", "discrepancies", KV_TEXT_CHARS, TEXT_PLAIN,
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
        get_text(d, root, "", "text", KV_TEXT_CHARS, TEXT_PLAIN, ev->u.resolved.text,
                 sizeof(ev->u.resolved.text), REQUIRED);
        break;
    case KV_EVENT_LODGED:
    case KV_EVENT_WRITE_OFF:
    case KV_EVENT_UNKNOWN:
    case KV_EVENT__COUNT:
        break;
    }
}

int kv_event_decode(const char *buf, size_t len, enum kv_event_form form, struct kv_event *ev,
                    struct kv_report *rep)
{
    struct json_tokener *tok = NULL;
    json_object *root = NULL;
    struct dec d = {.rep = rep, .form = form};
    size_t before;
    int rc = KV_EPARSE;

    if (!buf || !ev || !rep)
        return KV_EINVAL;
    memset(ev, 0, sizeof(*ev));
    before = rep->total;
    if (len > KV_EVENT_JSON_MAX) {
        kv_report_add(rep, "R-EVT-002", "", "the event is %zu bytes; at most %u", len,
                      KV_EVENT_JSON_MAX);
        return KV_ELIMIT;
    }
    if (len == 0) {
        kv_report_add(rep, "R-EVT-001", "", "empty input: an event is a JSON object");
        return KV_EPARSE;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        kv_report_add(rep, "R-EVT-001", "", "NUL byte at offset %zu", (size_t)(nul - buf));
        return KV_EPARSE;
    }

    /* json-c counts the innermost scalar as a level too: one more slot, and
     * the scanner below enforces the limit on objects and arrays exactly. */
    tok = json_tokener_new_ex(KV_EVENT_JSON_DEPTH + 1);
    if (!tok)
        return KV_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_error_depth) {
        kv_report_add(rep, "R-EVT-002", "", "nested deeper than %d levels", KV_EVENT_JSON_DEPTH);
        rc = KV_ELIMIT;
        goto out;
    }
    if (jerr == json_tokener_error_size) {
        kv_report_add(rep, "R-EVT-002", "", "the event is too large for the parser");
        rc = KV_ELIMIT;
        goto out;
    }
    if (jerr == json_tokener_continue || (jerr == json_tokener_success && !root)) {
        size_t i = 0;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
            i++;
        if (i < len && buf[i] != '{')
            kv_report_add(rep, "R-EVT-003", "", "an event is a JSON object");
        else
            kv_report_add(rep, "R-EVT-001", "",
                          "not JSON: the input ends before the object is complete");
        goto out;
    }
    if (jerr != json_tokener_success) {
        kv_report_add(rep, "R-EVT-001", "", "not JSON: %s at byte %zu",
                      json_tokener_error_desc(jerr), end);
        goto out;
    }
    for (size_t i = end; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
            kv_report_add(rep, "R-EVT-001", "", "not JSON: text after the value at byte %zu", i);
            goto out;
        }
    }
    if (json_object_get_type(root) != json_type_object) {
        kv_report_add(rep, "R-EVT-003", "", "an event is a JSON object, not %s",
                      json_type_word(root));
        goto out;
    }

    /* Duplicates, and where the declaration's bytes are. */
    struct scan sc = {.s = buf, .n = len, .rep = rep};
    if (!sc_value(&sc, "", 0, true)) {
        if (sc.too_deep) {
            kv_report_add(rep, "R-EVT-002", "", "nested deeper than %d levels",
                          KV_EVENT_JSON_DEPTH);
            rc = KV_ELIMIT;
        } else {
            kv_report_add(rep, "R-EVT-001", "", "not JSON: %s at byte %zu",
                          sc.why ? sc.why : "malformed", sc.at);
        }
        goto out;
    }

    /* The type decides which members are allowed. */
    json_object *tv = member(&d, root, "", "type", json_type_string, REQUIRED);
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

    get_time(&d, root, "", &ev->time);
    get_office(&d, root, "", "office", ev->office);
    dec_actor(&d, root, ev);
    dec_payload(&d, root, ev, &sc, buf);

    if (d.oom || rep->oom)
        rc = KV_ENOMEM;
    else
        rc = rep->total == before ? KV_OK : KV_EPARSE;
out:
    if (root)
        json_object_put(root);
    json_tokener_free(tok);
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
