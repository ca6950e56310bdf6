/*
 * json_span.c — the exact text of a top-level member (see json_span.h).
 */
#include "codec/json_span.h"

#include <string.h>

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ------------------------------------------------------------------------ */

struct span {
    const char *s;
    size_t n, i;
};

static void sp_ws(struct span *p)
{
    while (p->i < p->n && is_ws(p->s[p->i]))
        p->i++;
}

/* At '"': moves past the closing quote. */
static bool sp_skip_string(struct span *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    for (p->i++; p->i < p->n; p->i++) {
        if (p->s[p->i] == '\\')
            p->i++;
        else if (p->s[p->i] == '"') {
            p->i++;
            return true;
        }
    }
    return false;
}

static int sp_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* At '"': reads a member name, unescaped, into name (up to size-1 bytes; a
 * longer name or a non-ASCII escape gives a name that matches nothing). */
static bool sp_name(struct span *p, char *name, size_t size)
{
    size_t o = 0;
    bool spoilt = false;
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    for (p->i++; p->i < p->n; p->i++) {
        char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            name[spoilt ? 0 : o] = '\0';
            if (spoilt)
                memcpy(name, "\x01", 2);
            return true;
        }
        if (c == '\\') {
            if (++p->i >= p->n)
                return false;
            c = p->s[p->i];
            if (c == 'u') {
                if (p->i + 4 >= p->n)
                    return false;
                int v = 0;
                for (int k = 1; k <= 4; k++) {
                    int h = sp_hex(p->s[p->i + (size_t)k]);
                    if (h < 0)
                        return false;
                    v = v * 16 + h;
                }
                p->i += 4;
                if (v >= 0x80 || v == 0) {
                    spoilt = true;
                    continue;
                }
                c = (char)v;
            } else {
                switch (c) {
                case 'b':
                    c = '\b';
                    break;
                case 'f':
                    c = '\f';
                    break;
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                default:
                    break; /* " \ / */
                }
            }
        }
        if (o + 1 >= size)
            spoilt = true;
        else
            name[o++] = c;
    }
    return false;
}

/* Moves past one value (the text was checked: only bounds matter here). */
static bool sp_skip_value(struct span *p)
{
    if (p->i >= p->n)
        return false;
    char c = p->s[p->i];
    if (c == '"')
        return sp_skip_string(p);
    if (c == '{' || c == '[') {
        size_t depth = 0;
        while (p->i < p->n) {
            c = p->s[p->i];
            if (c == '"') {
                if (!sp_skip_string(p))
                    return false;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (depth == 0)
                    return false;
                if (--depth == 0) {
                    p->i++;
                    return true;
                }
            }
            p->i++;
        }
        return false;
    }
    while (p->i < p->n && !is_ws(p->s[p->i]) && p->s[p->i] != ',' && p->s[p->i] != '}' &&
           p->s[p->i] != ']')
        p->i++;
    return true;
}

/* Finds the top-level member `want` of the object text: its value's bytes. */
bool kv_json_member_span(const char *s, size_t n, const char *want, size_t *off, size_t *len)
{
    struct span p = {s, n, 0};
    char name[32];
    sp_ws(&p);
    if (p.i >= n || s[p.i] != '{')
        return false;
    p.i++;
    for (;;) {
        sp_ws(&p);
        if (p.i >= n || s[p.i] == '}')
            return false;
        if (!sp_name(&p, name, sizeof name))
            return false;
        sp_ws(&p);
        if (p.i >= n || s[p.i] != ':')
            return false;
        p.i++;
        sp_ws(&p);
        size_t start = p.i;
        if (!sp_skip_value(&p))
            return false;
        if (strcmp(name, want) == 0) {
            *off = start;
            *len = p.i - start;
            return true;
        }
        sp_ws(&p);
        if (p.i < n && s[p.i] == ',')
            p.i++;
        else
            return false;
    }
}
