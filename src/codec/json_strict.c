/*
 * json_strict.c — strict JSON reading: the checker and json-c's tree (see
 * json_strict.h).
 *
 * The checker is an explicit-stack state machine over the bytes: no
 * recursion, so the C stack does not depend on the input. Member names are
 * unescaped into one buffer of len bytes (unescaping never grows a string),
 * so pointers into it stay valid; when an object closes, its names are
 * sorted to find repeats and then dropped. A span request is matched
 * segment by segment as values start, only along the requested path.
 */
#include "codec/json_strict.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/pointer.h"
#include "core/text.h"

struct key {
    const char *name; /* unescaped, in the scanner's key buffer */
    size_t len;
    size_t seq;  /* position among the object's members */
    bool repeat; /* an earlier member has the same name */
};

struct frame {
    bool is_object;
    size_t index;      /* array: current element; object: members seen */
    size_t keys_start; /* first entry of this object in the key list */
    size_t kbuf_start; /* bytes of the key buffer used before this object */
    const char *cur;   /* object: the current member name */
    size_t cur_len;
    bool on_path; /* span: this container lies on the requested path */
    bool is_span; /* span: this container is the requested value */
};

/* One unescaped segment of the span's pointer, in the scanner's `want`. */
struct segment {
    const char *name;
    size_t len;
};

struct scanner {
    const char *buf;
    size_t len;
    size_t pos;
    const struct kv_json_limits *lim;
    struct kv_json_error *err;
    kv_json_dup_fn *dup;
    void *ctx;
    struct frame *stack;
    size_t depth;
    char *kbuf; /* unescaped member names, capacity len + 1 */
    size_t kbuf_used;
    struct key *keys;
    size_t nkeys, capkeys;
    size_t containers, values;
    struct kv_json_span *span; /* NULL: no value to locate */
    char *want;                /* the span pointer's segments, unescaped */
    struct segment *seg;
    size_t nseg;
};

/* Sets e's offset, line and column (in characters) for byte `at` of buf. */
static void locate(const char *buf, size_t len, size_t at, struct kv_json_error *e)
{
    size_t line = 1, col = 1;
    if (at > len)
        at = len;
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    e->offset = at;
    e->line = line;
    e->column = col;
}

static int fail(struct scanner *s, size_t at, int code, const char *fmt, const char *arg)
{
    locate(s->buf, s->len, at, s->err);
    snprintf(s->err->message, sizeof(s->err->message), fmt, arg ? arg : "");
    return code;
}

/* A printable description of the byte at `at` for messages. */
static const char *describe(const struct scanner *s, size_t at, char *tmp, size_t tmpsz)
{
    if (at >= s->len)
        return "end of input";
    unsigned char c = (unsigned char)s->buf[at];
    if (c == '"')
        snprintf(tmp, tmpsz, "'\"'");
    else if (c >= 0x21 && c < 0x7f)
        snprintf(tmp, tmpsz, "\"%c\"", c);
    else
        snprintf(tmp, tmpsz, "byte 0x%02x", c);
    return tmp;
}

static void skip_ws(struct scanner *s)
{
    while (s->pos < s->len) {
        char c = s->buf[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        s->pos++;
    }
}

/* Reads 4 hex digits at s->pos; returns the code unit or -1. */
static long read_hex4(struct scanner *s)
{
    if (s->len - s->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = kv_text_hex_digit(s->buf[s->pos + (size_t)i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    s->pos += 4;
    return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Scans the string whose opening quote is at s->pos. When `out` is not
 * NULL, appends the unescaped bytes there and stores their count in *outlen.
 */
static int scan_string(struct scanner *s, char *out, size_t *outlen)
{
    size_t start = s->pos;
    size_t o = 0;
    s->pos++; /* opening quote */
    for (;;) {
        if (s->pos >= s->len)
            return fail(s, start, KV_EPARSE, "string is not terminated%s", NULL);
        unsigned char c = (unsigned char)s->buf[s->pos];
        if (c == '"') {
            s->pos++;
            break;
        }
        if (c < 0x20) {
            char tmp[16];
            snprintf(tmp, sizeof(tmp), "U+%04X", (unsigned)c);
            return fail(s, s->pos, KV_EPARSE, "control character %s in a string must be escaped",
                        tmp);
        }
        if (c == '\\') {
            size_t esc = s->pos;
            s->pos++;
            if (s->pos >= s->len)
                return fail(s, start, KV_EPARSE, "string is not terminated%s", NULL);
            char e = s->buf[s->pos++];
            unsigned long cp;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                cp = (unsigned char)e;
                break;
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
            case 'u': {
                long u = read_hex4(s);
                if (u < 0)
                    return fail(s, esc, KV_EPARSE, "\\u must be followed by 4 hex digits%s", NULL);
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return fail(s, esc, KV_EPARSE, "lone UTF-16 surrogate escape%s", NULL);
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long lo = -1;
                    if (s->len - s->pos >= 6 && s->buf[s->pos] == '\\' &&
                        s->buf[s->pos + 1] == 'u') {
                        s->pos += 2;
                        lo = read_hex4(s);
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(s, esc, KV_EPARSE, "lone UTF-16 surrogate escape%s", NULL);
                    cp = 0x10000 + (((unsigned long)u - 0xD800) << 10) +
                         ((unsigned long)lo - 0xDC00);
                } else {
                    cp = (unsigned long)u;
                }
                break;
            }
            default: {
                char tmp[16];
                return fail(s, esc, KV_EPARSE, "invalid escape \\%s in a string",
                            describe(s, s->pos - 1, tmp, sizeof(tmp)));
            }
            }
            if (out)
                o += put_utf8(out + o, cp);
            continue;
        }
        size_t n = kv_text_utf8_next(s->buf + s->pos, s->len - s->pos, NULL);
        if (n == 0)
            return fail(s, s->pos, KV_EPARSE, "invalid UTF-8 in a string%s", NULL);
        if (out) {
            memcpy(out + o, s->buf + s->pos, n);
            o += n;
        }
        s->pos += n;
    }
    if (outlen)
        *outlen = o;
    return KV_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(struct scanner *s)
{
    size_t start = s->pos;
    if (s->buf[s->pos] == '-')
        s->pos++;
    if (s->pos >= s->len || !is_digit(s->buf[s->pos]))
        return fail(s, s->pos, KV_EPARSE, "digit expected in a number%s", NULL);
    if (s->buf[s->pos] == '0') {
        s->pos++;
        if (s->pos < s->len && is_digit(s->buf[s->pos]))
            return fail(s, start, KV_EPARSE, "leading zeros are not allowed in a number%s", NULL);
    } else {
        while (s->pos < s->len && is_digit(s->buf[s->pos]))
            s->pos++;
    }
    if (s->pos < s->len && s->buf[s->pos] == '.') {
        s->pos++;
        if (s->pos >= s->len || !is_digit(s->buf[s->pos]))
            return fail(s, s->pos, KV_EPARSE, "digit expected after the decimal point%s", NULL);
        while (s->pos < s->len && is_digit(s->buf[s->pos]))
            s->pos++;
    }
    if (s->pos < s->len && (s->buf[s->pos] == 'e' || s->buf[s->pos] == 'E')) {
        s->pos++;
        if (s->pos < s->len && (s->buf[s->pos] == '+' || s->buf[s->pos] == '-'))
            s->pos++;
        if (s->pos >= s->len || !is_digit(s->buf[s->pos]))
            return fail(s, s->pos, KV_EPARSE, "digit expected in the exponent%s", NULL);
        while (s->pos < s->len && is_digit(s->buf[s->pos]))
            s->pos++;
    }
    return KV_OK;
}

static int scan_literal(struct scanner *s)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if (s->len - s->pos >= n && memcmp(s->buf + s->pos, lits[i], n) == 0) {
            s->pos += n;
            return KV_OK;
        }
    }
    char tmp[16];
    return fail(s, s->pos, KV_EPARSE, "unexpected %s, expected a value",
                describe(s, s->pos, tmp, sizeof(tmp)));
}

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->name, y->name, x->len);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

static int seq_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

/* The object on top of the stack is closing: report its repeated names. */
static void check_duplicates(struct scanner *s)
{
    struct frame *f = &s->stack[s->depth - 1];
    size_t n = s->nkeys - f->keys_start;
    if (n < 2 || !s->dup)
        return; /* (s->keys is still NULL before the first member name) */
    struct key *k = s->keys + f->keys_start;
    qsort(k, n, sizeof(*k), key_cmp);
    /* Mark the repeats (all but the first of each run), then gather them. */
    for (size_t i = 1; i < n; i++)
        k[i].repeat = k[i].len == k[i - 1].len && memcmp(k[i].name, k[i - 1].name, k[i].len) == 0;
    size_t ndup = 0;
    for (size_t i = 1; i < n; i++) {
        if (k[i].repeat) {
            struct key t = k[i];
            k[i] = k[ndup];
            k[ndup] = t;
            ndup++;
        }
    }
    if (ndup == 0)
        return;
    qsort(k, ndup, sizeof(*k), seq_cmp);
    struct kv_ptr path;
    kv_ptr_init(&path);
    for (size_t d = 0; d + 1 < s->depth; d++) {
        const struct frame *pf = &s->stack[d];
        if (pf->is_object)
            kv_ptr_push_n(&path, pf->cur, pf->cur_len);
        else
            kv_ptr_push_index(&path, pf->index);
    }
    for (size_t i = 0; i < ndup; i++) {
        size_t mark = kv_ptr_push_n(&path, k[i].name, k[i].len);
        s->dup(s->ctx, path.buf, k[i].name, k[i].len);
        kv_ptr_pop(&path, mark);
    }
}

/* The container on top of the stack ends at s->pos: pop it. */
static void close_container(struct scanner *s)
{
    struct frame *f = &s->stack[s->depth - 1];
    s->pos++;
    if (f->is_object) {
        check_duplicates(s);
        s->nkeys = f->keys_start;
        s->kbuf_used = f->kbuf_start;
    }
    if (f->is_span)
        s->span->end = s->pos;
    s->depth--;
}

/*
 * Splits the span's pointer into unescaped segments ("~1" is '/', "~0" is
 * '~'). Returns KV_EINVAL when it is not an RFC 6901 pointer.
 */
static int span_prepare(struct scanner *s)
{
    const char *p = s->span->pointer;
    size_t n = strlen(p), nseg = 0;
    if (n > 0 && p[0] != '/')
        return KV_EINVAL;
    for (size_t i = 0; i < n; i++)
        nseg += p[i] == '/';
    s->want = malloc(n + 1);
    s->seg = calloc(nseg + 1, sizeof(*s->seg));
    if (!s->want || !s->seg)
        return KV_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/') {
            s->seg[s->nseg].name = s->want + o;
            s->seg[s->nseg++].len = 0;
            continue;
        }
        char c = p[i];
        if (c == '~') {
            if (i + 1 >= n || (p[i + 1] != '0' && p[i + 1] != '1'))
                return KV_EINVAL;
            c = p[++i] == '0' ? '~' : '/';
        }
        s->want[o++] = c;
        s->seg[s->nseg - 1].len++;
    }
    return KV_OK;
}

/* Whether the current member or element of frame f (at stack index d) is
 * the span path's segment d. */
static bool on_span_path(const struct scanner *s, const struct frame *f, size_t d)
{
    if (!f->on_path || d >= s->nseg)
        return false;
    const struct segment *g = &s->seg[d];
    if (f->is_object)
        return f->cur_len == g->len && memcmp(f->cur, g->name, g->len) == 0;
    char idx[24];
    int m = snprintf(idx, sizeof(idx), "%zu", f->index);
    return (size_t)m == g->len && memcmp(idx, g->name, g->len) == 0;
}

enum state { ST_VALUE, ST_OBJ_FIRST, ST_OBJ_KEY, ST_ARR_FIRST, ST_AFTER };

static int run(struct scanner *s)
{
    char tmp[16];
    enum state st = ST_VALUE;
    if (s->len >= 3 && memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0)
        return fail(s, 0, KV_EPARSE, "byte order mark before the JSON text%s", NULL);
    for (;;) {
        skip_ws(s);
        switch (st) {
        case ST_VALUE: {
            if (s->pos >= s->len)
                return fail(s, s->pos, KV_EPARSE,
                            s->len == 0 ? "empty document%s"
                                        : "unexpected end of input, expected a value%s",
                            NULL);
            if (++s->values > s->lim->max_values) {
                char lim[32];
                snprintf(lim, sizeof(lim), "%zu", s->lim->max_values);
                return fail(s, s->pos, KV_ELIMIT, "more than %s values in the document", lim);
            }
            char c = s->buf[s->pos];
            /* Is this value the span, or on the way to it? */
            bool on = s->span &&
                      (s->depth == 0 || on_span_path(s, &s->stack[s->depth - 1], s->depth - 1));
            bool is_span = on && s->depth == s->nseg;
            if (is_span) {
                s->span->found = true;
                s->span->off = s->pos;
            }
            if (c == '{' || c == '[') {
                if (++s->containers > s->lim->max_containers) {
                    char lim[32];
                    snprintf(lim, sizeof(lim), "%zu", s->lim->max_containers);
                    return fail(s, s->pos, KV_ELIMIT,
                                "more than %s objects and arrays in the document", lim);
                }
                if (s->depth >= s->lim->max_depth) {
                    char lim[32];
                    snprintf(lim, sizeof(lim), "%zu", s->lim->max_depth);
                    return fail(s, s->pos, KV_ELIMIT, "nested deeper than %s levels", lim);
                }
                struct frame *f = &s->stack[s->depth++];
                memset(f, 0, sizeof(*f));
                f->is_object = c == '{';
                f->keys_start = s->nkeys;
                f->kbuf_start = s->kbuf_used;
                f->on_path = on && s->depth - 1 < s->nseg;
                f->is_span = is_span;
                s->pos++;
                st = f->is_object ? ST_OBJ_FIRST : ST_ARR_FIRST;
                continue;
            }
            int rc;
            if (c == '"')
                rc = scan_string(s, NULL, NULL);
            else if (c == '-' || is_digit(c))
                rc = scan_number(s);
            else
                rc = scan_literal(s);
            if (rc)
                return rc;
            if (is_span)
                s->span->end = s->pos;
            st = ST_AFTER;
            continue;
        }
        case ST_OBJ_FIRST:
            if (s->pos < s->len && s->buf[s->pos] == '}') {
                close_container(s);
                st = ST_AFTER;
                continue;
            }
            /* fall through */
        case ST_OBJ_KEY: {
            struct frame *f = &s->stack[s->depth - 1];
            if (s->pos >= s->len || s->buf[s->pos] != '"')
                return fail(s, s->pos, KV_EPARSE, "unexpected %s, expected a member name",
                            describe(s, s->pos, tmp, sizeof(tmp)));
            size_t klen = 0, kstart = s->pos;
            char *kp = s->kbuf + s->kbuf_used;
            int rc = scan_string(s, kp, &klen);
            if (rc)
                return rc;
            if (memchr(kp, '\0', klen))
                return fail(s, kstart, KV_EPARSE, "member name contains U+0000%s", NULL);
            s->kbuf_used += klen;
            if (s->nkeys == s->capkeys) {
                size_t ncap = s->capkeys ? s->capkeys * 2 : 64;
                struct key *nk = realloc(s->keys, ncap * sizeof(*nk));
                if (!nk)
                    return KV_ENOMEM;
                s->keys = nk;
                s->capkeys = ncap;
            }
            s->keys[s->nkeys].name = kp;
            s->keys[s->nkeys].len = klen;
            s->keys[s->nkeys].seq = f->index++;
            s->keys[s->nkeys].repeat = false;
            s->nkeys++;
            f->cur = kp;
            f->cur_len = klen;
            skip_ws(s);
            if (s->pos >= s->len || s->buf[s->pos] != ':')
                return fail(s, s->pos, KV_EPARSE, "unexpected %s, expected ':' after a member name",
                            describe(s, s->pos, tmp, sizeof(tmp)));
            s->pos++;
            st = ST_VALUE;
            continue;
        }
        case ST_ARR_FIRST:
            if (s->pos < s->len && s->buf[s->pos] == ']') {
                close_container(s);
                st = ST_AFTER;
                continue;
            }
            st = ST_VALUE;
            continue;
        case ST_AFTER: {
            if (s->depth == 0) {
                if (s->pos < s->len)
                    return fail(s, s->pos, KV_EPARSE, "unexpected %s after the JSON value",
                                describe(s, s->pos, tmp, sizeof(tmp)));
                return KV_OK;
            }
            struct frame *f = &s->stack[s->depth - 1];
            char c = s->pos < s->len ? s->buf[s->pos] : '\0';
            if (s->pos >= s->len)
                return fail(s, s->pos, KV_EPARSE, "unexpected end of input inside %s",
                            f->is_object ? "an object" : "an array");
            if (c == ',') {
                s->pos++;
                if (f->is_object) {
                    st = ST_OBJ_KEY;
                } else {
                    f->index++;
                    st = ST_VALUE;
                }
                continue;
            }
            if (c == (f->is_object ? '}' : ']')) {
                close_container(s);
                continue;
            }
            return fail(s, s->pos, KV_EPARSE,
                        f->is_object ? "unexpected %s, expected ',' or '}'"
                                     : "unexpected %s, expected ',' or ']'",
                        describe(s, s->pos, tmp, sizeof(tmp)));
        }
        }
    }
}

/* Both entry points: span may be NULL here. */
static int check(const char *buf, size_t len, const struct kv_json_limits *lim, kv_json_dup_fn *dup,
                 void *ctx, struct kv_json_span *span, struct kv_json_error *err)
{
    struct kv_json_error dummy;
    struct scanner s;
    memset(&s, 0, sizeof(s));
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    if (span) {
        span->found = false;
        span->off = span->end = 0;
    }
    if (!buf || !lim || lim->max_depth == 0 || (span && !span->pointer))
        return KV_EINVAL;
    s.buf = buf;
    s.len = len;
    s.lim = lim;
    s.err = err;
    s.dup = dup;
    s.ctx = ctx;
    s.span = span;
    int rc = span ? span_prepare(&s) : KV_OK;
    if (rc == KV_OK) {
        s.stack = calloc(lim->max_depth, sizeof(*s.stack));
        s.kbuf = malloc(len + 1);
        rc = s.stack && s.kbuf ? run(&s) : KV_ENOMEM;
    }
    if (rc == KV_ENOMEM)
        snprintf(err->message, sizeof(err->message), "out of memory");
    if (rc != KV_OK && span)
        span->found = false;
    free(s.stack);
    free(s.kbuf);
    free(s.keys);
    free(s.want);
    free(s.seg);
    return rc;
}

int kv_json_check(const char *buf, size_t len, const struct kv_json_limits *lim,
                  kv_json_dup_fn *dup, void *ctx, struct kv_json_error *err)
{
    return check(buf, len, lim, dup, ctx, NULL, err);
}

int kv_json_check_span(const char *buf, size_t len, const struct kv_json_limits *lim,
                       kv_json_dup_fn *dup, void *ctx, struct kv_json_span *span,
                       struct kv_json_error *err)
{
    if (!span) {
        if (err)
            memset(err, 0, sizeof(*err));
        return KV_EINVAL;
    }
    return check(buf, len, lim, dup, ctx, span, err);
}

/* ------------------------------------------------------------------ */
/* The tree                                                           */
/* ------------------------------------------------------------------ */

int kv_json_build(const char *buf, size_t len, const struct kv_json_limits *lim,
                  struct json_object **root, struct kv_json_error *err)
{
    struct kv_json_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    if (!root)
        return KV_EINVAL;
    *root = NULL;
    if (!buf || !lim || lim->max_depth == 0)
        return KV_EINVAL;
    if (len > INT_MAX || lim->max_depth >= INT_MAX) {
        snprintf(err->message, sizeof(err->message), "too large for the JSON parser");
        return KV_ELIMIT;
    }
    /* json-c counts the innermost scalar as a level too: one more slot. */
    struct json_tokener *tok = json_tokener_new_ex((int)lim->max_depth + 1);
    if (!tok)
        return KV_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *v = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jt = json_tokener_get_error(tok);
    if (!v && jt == json_tokener_continue) {
        /* A bare number at the very end: json-c waits for a terminator; give it one. */
        v = json_tokener_parse_ex(tok, "", 1);
        jt = json_tokener_get_error(tok);
    }
    int rc = KV_OK;
    if (jt != json_tokener_success) {
        /* The strict check accepted the text, so this is json-c refusing it. */
        rc =
            jt == json_tokener_error_depth || jt == json_tokener_error_size ? KV_ELIMIT : KV_EPARSE;
        locate(buf, len, json_tokener_get_parse_end(tok), err);
        snprintf(err->message, sizeof(err->message), "%s", json_tokener_error_desc(jt));
        json_object_put(v);
        v = NULL;
    }
    json_tokener_free(tok);
    *root = v;
    return rc;
}

const char *kv_json_type_name(const struct json_object *v)
{
    switch (json_object_get_type(v)) {
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
    return "a value";
}

const char *kv_json_type_name_exact(const struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_double:
        return "a decimal number";
    case json_type_int:
        return "an integer";
    default:
        return kv_json_type_name(v);
    }
}

void kv_json_report(struct kv_report *rep, const char *rule, const struct kv_json_error *e)
{
    kv_report_add(rep, rule, "", "line %zu, column %zu (byte %zu): %s", e->line, e->column,
                  e->offset, e->message);
}

size_t kv_json_unknown_members(const struct json_object *obj, const char *const *allowed,
                               kv_json_member_fn *fn, void *ctx)
{
    size_t n = 0;
    json_object_object_foreach((struct json_object *)obj, key, val)
    {
        (void)val;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            n++;
            if (fn)
                fn(ctx, key);
        }
    }
    return n;
}
