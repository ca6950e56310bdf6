/*
 * json_strict.c — the strict JSON checker (see json_strict.h).
 *
 * An explicit-stack state machine over the bytes: no recursion, so the
 * C stack does not depend on the input. Member names are unescaped into one
 * buffer of len bytes (unescaping never grows a string), so pointers into it
 * stay valid; when an object closes, its names are sorted to find repeats
 * and then dropped.
 */
#include "codec/json_strict.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

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
};

static int fail(struct scanner *s, size_t at, int code, const char *fmt, const char *arg)
{
    struct kv_json_error *e = s->err;
    size_t line = 1, col = 1;
    if (at > s->len)
        at = s->len;
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)s->buf[i];
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
    snprintf(e->message, sizeof(e->message), fmt, arg ? arg : "");
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

/* Reads 4 hex digits at s->pos; returns the code unit or -1. */
static long read_hex4(struct scanner *s)
{
    if (s->len - s->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->buf[s->pos + (size_t)i]);
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
 * Length of the valid UTF-8 sequence starting at p (at most n bytes), or 0
 * when it is not valid (overlong, surrogate, above U+10FFFF, truncated).
 */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
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
        size_t n = utf8_len((const unsigned char *)s->buf + s->pos, s->len - s->pos);
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

/* Appends the RFC 6901 form of one segment to p (bounded, always NUL-terminated). */
static void ptr_append(char *p, size_t psz, size_t *used, const char *seg, size_t n)
{
    if (*used + 2 >= psz)
        return;
    p[(*used)++] = '/';
    for (size_t i = 0; i < n && *used + 3 < psz; i++) {
        if (seg[i] == '~') {
            p[(*used)++] = '~';
            p[(*used)++] = '0';
        } else if (seg[i] == '/') {
            p[(*used)++] = '~';
            p[(*used)++] = '1';
        } else {
            p[(*used)++] = seg[i];
        }
    }
    p[*used] = '\0';
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
    struct key *k = s->keys + f->keys_start;
    size_t n = s->nkeys - f->keys_start;
    if (n < 2 || !s->dup)
        return;
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
    char path[512];
    size_t used = 0;
    path[0] = '\0';
    for (size_t d = 0; d + 1 < s->depth; d++) {
        const struct frame *pf = &s->stack[d];
        if (pf->is_object) {
            ptr_append(path, sizeof(path), &used, pf->cur, pf->cur_len);
        } else {
            char idx[24];
            int m = snprintf(idx, sizeof(idx), "%zu", pf->index);
            ptr_append(path, sizeof(path), &used, idx, (size_t)m);
        }
    }
    for (size_t i = 0; i < ndup; i++) {
        char full[600];
        size_t fu = used;
        memcpy(full, path, used + 1);
        ptr_append(full, sizeof(full), &fu, k[i].name, k[i].len);
        s->dup(s->ctx, full, k[i].name, k[i].len);
    }
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
            st = ST_AFTER;
            continue;
        }
        case ST_OBJ_FIRST:
            if (s->pos < s->len && s->buf[s->pos] == '}') {
                s->pos++;
                s->depth--;
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
                s->pos++;
                s->depth--;
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
            if (f->is_object && c == '}') {
                s->pos++;
                check_duplicates(s);
                s->nkeys = f->keys_start;
                s->kbuf_used = f->kbuf_start;
                s->depth--;
                continue;
            }
            if (!f->is_object && c == ']') {
                s->pos++;
                s->depth--;
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

int kv_json_check(const char *buf, size_t len, const struct kv_json_limits *lim,
                  kv_json_dup_fn *dup, void *ctx, struct kv_json_error *err)
{
    struct kv_json_error dummy;
    struct scanner s;
    memset(&s, 0, sizeof(s));
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof(*err));
    if (!buf || !lim || lim->max_depth == 0)
        return KV_EINVAL;
    s.buf = buf;
    s.len = len;
    s.lim = lim;
    s.err = err;
    s.dup = dup;
    s.ctx = ctx;
    s.stack = calloc(lim->max_depth, sizeof(*s.stack));
    s.kbuf = malloc(len + 1);
    int rc = KV_ENOMEM;
    if (s.stack && s.kbuf)
        rc = run(&s);
    if (rc == KV_ENOMEM)
        snprintf(err->message, sizeof(err->message), "out of memory");
    free(s.stack);
    free(s.kbuf);
    free(s.keys);
    return rc;
}
