/*
 * json_strict.h — a strict, allocation-bounded JSON checker run before
 * json-c builds a tree.
 *
 * json-c's JSON_TOKENER_STRICT mode still accepts things RFC 8259 forbids
 * (single-quoted strings, NaN and Infinity, "1.", raw tabs inside strings,
 * lone UTF-16 surrogates) and silently keeps only the last of two members
 * with the same name. It also spends up to ~1 GB building the tree of a
 * 4 MiB document made of empty objects. This checker walks the text once,
 * without building anything, and:
 *
 *   - accepts exactly RFC 8259 JSON text whose strings are valid UTF-8 and
 *     contain no lone surrogate escapes (RFC 7493 I-JSON §2.1);
 *   - reports every member name that appears twice in one object (names
 *     are compared after unescaping, so "a" and "\u0061" are the same);
 *   - enforces limits on nesting depth, number of containers and number of
 *     values, so json-c's memory stays bounded.
 *
 * Memory: O(len) bytes at most, freed before returning.
 */
#ifndef KV_CODEC_JSON_STRICT_H
#define KV_CODEC_JSON_STRICT_H

#include <stddef.h>

struct kv_json_limits {
    size_t max_depth;      /* nesting of objects/arrays, e.g. 32 */
    size_t max_containers; /* objects + arrays in the whole document */
    size_t max_values;     /* all values (containers and scalars) */
};

/* Where and why the text was refused. */
struct kv_json_error {
    size_t offset;     /* byte offset of the offending byte (0-based) */
    size_t line;       /* 1-based */
    size_t column;     /* 1-based, counted in characters */
    char message[128]; /* e.g. "expected ',' or '}' after a member" */
};

/*
 * Called once per repeated member name, in document order, with the JSON
 * pointer (RFC 6901) of the repeated member and its unescaped name.
 */
typedef void kv_json_dup_fn(void *ctx, const char *pointer, const char *name, size_t name_len);

/*
 * Checks `len` bytes of `buf`. Returns 0 (KV_OK) when the text is strict
 * JSON within the limits — duplicate names are reported through `dup` (may
 * be NULL) but do not make the call fail. Returns KV_EPARSE for a syntax
 * error or KV_ELIMIT for an exceeded limit, with *err filled; KV_ENOMEM
 * when memory ran out.
 */
int kv_json_check(const char *buf, size_t len, const struct kv_json_limits *lim,
                  kv_json_dup_fn *dup, void *ctx, struct kv_json_error *err);

#endif
