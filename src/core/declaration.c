/*
 * declaration.c — the declaration model's memory: one arena per
 * declaration (see declaration.h).
 *
 * The arena is a list of blocks; small requests are carved from the current
 * block, large ones get a block of their own. Nothing is freed until the
 * whole declaration is, which suits a model that is built once and then
 * only read.
 */
#include "core/declaration.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (16u * 1024u)

struct block {
    struct block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

struct kv_arena {
    struct block *head;
    size_t total; /* bytes of all blocks' data */
};

struct kv_declaration *kv_decl_new(void)
{
    struct kv_declaration *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->arena = calloc(1, sizeof(*d->arena));
    if (!d->arena) {
        free(d);
        return NULL;
    }
    return d;
}

void kv_decl_free(struct kv_declaration *d)
{
    if (!d)
        return;
    if (d->arena) {
        struct block *b = d->arena->head;
        while (b) {
            struct block *next = b->next;
            free(b);
            b = next;
        }
        free(d->arena);
    }
    free(d);
}

void *kv_decl_alloc(struct kv_declaration *d, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (!d || !d->arena || n == 0 || n > KV_DECL_ARENA_MAX)
        return NULL;
    size_t need = (n + align - 1) & ~(align - 1);
    struct kv_arena *a = d->arena;
    struct block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > BLOCK_SIZE ? need : BLOCK_SIZE;
        if (a->total + cap > KV_DECL_ARENA_MAX)
            return NULL;
        struct block *nb = malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        a->total += cap;
        if (b && need > BLOCK_SIZE) {
            /* A large block: keep carving small requests from the current one. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

void *kv_decl_calloc(struct kv_declaration *d, size_t count, size_t size)
{
    if (count == 0 || size == 0 || count > KV_DECL_ARENA_MAX / size)
        return NULL;
    return kv_decl_alloc(d, count * size);
}

char *kv_decl_strdup(struct kv_declaration *d, const char *s, size_t len)
{
    if (!s || len >= KV_DECL_ARENA_MAX)
        return NULL;
    char *p = kv_decl_alloc(d, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

size_t kv_decl_arena_size(const struct kv_declaration *d)
{
    return d && d->arena ? d->arena->total : 0;
}

size_t kv_decl_item_count(const struct kv_declaration *d)
{
    size_t n = 0;
    if (!d)
        return 0;
    for (size_t i = 0; i < d->n_houses; i++)
        n += d->houses[i].n_items;
    return n;
}
