/*
 * pointer.c — bounded RFC 6901 JSON pointer building (see pointer.h).
 */
#include "core/pointer.h"

#include <stdio.h>
#include <string.h>

void kv_ptr_init(struct kv_ptr *p)
{
    p->len = 0;
    p->buf[0] = '\0';
}

/* Marks a pointer that lost segments: it ends with "..." and stays so. */
static void truncated(struct kv_ptr *p)
{
    size_t at = p->len <= KV_PTR_MAX - 4 ? p->len : KV_PTR_MAX - 4;
    memcpy(p->buf + at, "...", 4);
    p->len = at + 3;
}

size_t kv_ptr_push(struct kv_ptr *p, const char *name)
{
    size_t mark = p->len;
    size_t n = 1;
    for (const char *c = name; *c; c++)
        n += (*c == '~' || *c == '/') ? 2 : 1;
    if (p->len + n + 1 > KV_PTR_MAX - 4) {
        truncated(p);
        return mark;
    }
    char *o = p->buf + p->len;
    *o++ = '/';
    for (const char *c = name; *c; c++) {
        if (*c == '~') {
            *o++ = '~';
            *o++ = '0';
        } else if (*c == '/') {
            *o++ = '~';
            *o++ = '1';
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    p->len = (size_t)(o - p->buf);
    return mark;
}

size_t kv_ptr_push_index(struct kv_ptr *p, size_t index)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%zu", index);
    return kv_ptr_push(p, tmp);
}

void kv_ptr_pop(struct kv_ptr *p, size_t mark)
{
    if (mark < p->len) {
        p->len = mark;
        p->buf[mark] = '\0';
    }
}
