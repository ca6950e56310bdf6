/*
 * report.c — accumulating validation problems (see report.h).
 */
#include "core/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kv_report_init(struct kv_report *r)
{
    memset(r, 0, sizeof(*r));
}

void kv_report_release(struct kv_report *r)
{
    free(r->items);
    kv_report_init(r);
}

bool kv_report_ok(const struct kv_report *r)
{
    return r->total == 0 && !r->oom;
}

static void copy_trunc(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);
    if (n < dstsz) {
        memcpy(dst, src, n + 1);
        return;
    }
    memcpy(dst, src, dstsz - 4);
    memcpy(dst + dstsz - 4, "...", 4);
}

void kv_report_add(struct kv_report *r, const char *rule, const char *pointer, const char *fmt,
                   ...)
{
    r->total++;
    if (r->count >= KV_REPORT_MAX) {
        r->truncated = true;
        return;
    }
    if (r->count == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        if (ncap > KV_REPORT_MAX)
            ncap = KV_REPORT_MAX;
        struct kv_problem *n = realloc(r->items, ncap * sizeof(*n));
        if (!n) {
            r->oom = true;
            return;
        }
        r->items = n;
        r->cap = ncap;
    }
    struct kv_problem *p = &r->items[r->count++];
    copy_trunc(p->rule, sizeof(p->rule), rule);
    copy_trunc(p->pointer, sizeof(p->pointer), pointer ? pointer : "");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(p->message))
        memcpy(p->message + sizeof(p->message) - 4, "...", 4);
}

void kv_quote(char *dst, size_t dstsz, const char *value, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    bool cut = false;
    if (dstsz == 0)
        return;
    if (len > max) {
        len = max;
        cut = true;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        char esc[7];
        size_t k = 0;
        if (c == '"' || c == '\\') {
            esc[k++] = '\\';
            esc[k++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'u';
            esc[k++] = '0';
            esc[k++] = '0';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        } else {
            esc[k++] = (char)c;
        }
        if (o + k + 4 >= dstsz) {
            cut = true;
            break;
        }
        memcpy(dst + o, esc, k);
        o += k;
    }
    if (cut && o + 4 <= dstsz) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o < dstsz ? o : dstsz - 1] = '\0';
}
