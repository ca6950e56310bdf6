/*
 * pointer.h — building RFC 6901 JSON pointers while walking a document.
 *
 * The decoder and the validator both name every place they report as a
 * JSON pointer ("/houseConsignments/0/items/3/commodity/hs"). A kv_ptr is a
 * bounded buffer used as a stack: push a member name or an array index,
 * report, pop back to the mark push returned. Names are escaped (~ as ~0,
 * / as ~1). Past KV_PTR_MAX bytes segments are dropped and the pointer is
 * marked truncated with "..." (the report truncates at KV_POINTER_MAX anyway).
 *
 * No allocation; not thread-safe per object (one per walk).
 */
#ifndef KV_CORE_POINTER_H
#define KV_CORE_POINTER_H

#include <stddef.h>

#define KV_PTR_MAX 512

struct kv_ptr {
    char buf[KV_PTR_MAX];
    size_t len;
};

/* Empties the pointer (the document root, printed as ""). */
void kv_ptr_init(struct kv_ptr *p);

/* Appends "/name" (escaped; name is NUL-terminated). Returns the mark to pop to. */
size_t kv_ptr_push(struct kv_ptr *p, const char *name);

/* Appends "/index". Returns the mark to pop to. */
size_t kv_ptr_push_index(struct kv_ptr *p, size_t index);

/* Cuts the pointer back to a mark returned by a push. */
void kv_ptr_pop(struct kv_ptr *p, size_t mark);

#endif
