/*
 * json_strict.h — strict, allocation-bounded reading of JSON text, shared by
 * the declaration and the event codecs: a checker run before json-c builds
 * a tree, then the tree itself.
 *
 * json-c's JSON_TOKENER_STRICT mode still accepts things RFC 8259 forbids
 * (single-quoted strings, NaN and Infinity, "1.", raw tabs inside strings,
 * lone UTF-16 surrogates) and silently keeps only the last of two members
 * with the same name. It also spends up to ~1 GB building the tree of a
 * 4 MiB document made of empty objects. kv_json_check walks the text once,
 * without building anything, and:
 *
 *   - accepts exactly RFC 8259 JSON text whose strings are valid UTF-8 and
 *     contain no lone surrogate escapes (RFC 7493 I-JSON §2.1);
 *   - reports every member name that appears twice in one object (names
 *     are compared after unescaping, so "a" and "\u0061" are the same);
 *   - enforces limits on nesting depth, number of containers and number of
 *     values, so json-c's memory stays bounded;
 *   - on request, says where the value at one JSON pointer lies in the text
 *     (the event codec keeps an amendment's declaration as it was written).
 *
 * kv_json_build then has json-c build the tree of text the check accepted.
 *
 * Memory: the check uses O(len) bytes at most, freed before returning.
 */
#ifndef KV_CODEC_JSON_STRICT_H
#define KV_CODEC_JSON_STRICT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/report.h"

struct json_object;

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
    char message[128]; /* e.g. "unexpected \"]\", expected ',' or '}'" */
};

/*
 * Called for every repeat of a member name (a name given three times in one
 * object gives two calls), with the JSON pointer (RFC 6901) of the repeated
 * member and its unescaped name. The calls for one object come when it
 * closes, in document order; so the repeats inside an inner object come
 * before those of the object around it.
 */
typedef void kv_json_dup_fn(void *ctx, const char *pointer, const char *name, size_t name_len);

/*
 * A request to locate one value: set `pointer`, the checker fills the rest.
 * When a member is repeated, the last one is found (json-c keeps the last).
 */
struct kv_json_span {
    const char *pointer; /* RFC 6901, e.g. "/declaration"; "" is the whole value */
    bool found;
    size_t off, end; /* the value's text is buf[off..end) */
};

/*
 * Checks `len` bytes of `buf`. Returns 0 (KV_OK) when the text is strict
 * JSON within the limits — duplicate names are reported through `dup` (may
 * be NULL) but do not make the call fail. Returns KV_EPARSE for a syntax
 * error or KV_ELIMIT for an exceeded limit, with *err filled (err may be
 * NULL); KV_EINVAL for NULL buf or lim or a zero depth limit; KV_ENOMEM
 * when memory ran out. Duplicates in objects that closed before a syntax
 * error have been reported by then.
 */
int kv_json_check(const char *buf, size_t len, const struct kv_json_limits *lim,
                  kv_json_dup_fn *dup, void *ctx, struct kv_json_error *err);

/*
 * kv_json_check that also locates the value at span->pointer: on KV_OK,
 * span->found says whether it is there and off/end where. KV_EINVAL when
 * span or its pointer is NULL or the pointer is not RFC 6901.
 */
int kv_json_check_span(const char *buf, size_t len, const struct kv_json_limits *lim,
                       kv_json_dup_fn *dup, void *ctx, struct kv_json_span *span,
                       struct kv_json_error *err);

/*
 * Builds the json-c tree (JSON_TOKENER_STRICT, UTF-8 validation, depth
 * lim->max_depth) of text that kv_json_check accepted with the same limits.
 * Returns KV_OK with *root set — the caller releases it with
 * json_object_put; NULL when the text is `null` — or, with *root NULL and
 * *err filled: KV_EPARSE when json-c refuses the text all the same,
 * KV_ELIMIT when the text is over json-c's size or depth limit; KV_EINVAL
 * for NULL arguments; KV_ENOMEM.
 */
int kv_json_build(const char *buf, size_t len, const struct kv_json_limits *lim,
                  struct json_object **root, struct kv_json_error *err);

/* "an object", "an array", "a string", "a number", "a boolean" or "null"
 * (for NULL too): the JSON type of a json-c value, for messages. */
const char *kv_json_type_name(const struct json_object *v);

/* Like kv_json_type_name but tells "an integer" from "a decimal number". */
const char *kv_json_type_name_exact(const struct json_object *v);

/* Called by kv_json_unknown_members with the name of a member not allowed. */
typedef void kv_json_member_fn(void *ctx, const char *name);

/* Calls fn(ctx, name) for each member of the object obj, in its order, whose
 * name is not in `allowed` (NULL-terminated); returns how many there were.
 * The caller words and files the problem (each codec has its own rule id
 * and pointer). fn may be NULL to count only. */
size_t kv_json_unknown_members(const struct json_object *obj, const char *const *allowed,
                               kv_json_member_fn *fn, void *ctx);

/* Adds *e to rep as one problem of rule `rule` at the document root:
 * "line L, column C (byte B): message". */
void kv_json_report(struct kv_report *rep, const char *rule, const struct kv_json_error *e);

#endif
