/*
 * declaration_json.h — kervan's JSON form of a transit declaration, in and
 * out (docs/declaration.md describes the form).
 */
#ifndef KV_CODEC_DECLARATION_JSON_H
#define KV_CODEC_DECLARATION_JSON_H

#include <stddef.h>

#include "core/declaration.h"
#include "core/report.h"

/* Largest JSON document accepted, in bytes. */
#define KV_DECL_JSON_MAX (4u * 1024u * 1024u)

/*
 * Decodes `len` bytes of JSON into a new declaration. Problems with the
 * shape of the document (syntax, wrong types, unknown or missing members,
 * limits) are added to `rep` with their rule ids and pointers; decoding goes
 * on past them where it can, so one call reports all it can see.
 *
 * Returns KV_OK with *out set (caller frees with kv_decl_free) when the
 * document could be decoded — possibly with problems in `rep`; KV_EPARSE
 * (and *out NULL) when it is not JSON or not an object; KV_ELIMIT when over
 * KV_DECL_JSON_MAX or nested too deep; KV_ENOMEM.
 */
int kv_decl_from_json(const char *buf, size_t len, struct kv_declaration **out,
                      struct kv_report *rep);

/*
 * Encodes a declaration as compact JSON in the same form. Returns KV_OK and
 * a NUL-terminated string in *json (caller frees with free()), or KV_ENOMEM.
 */
int kv_decl_to_json(const struct kv_declaration *d, char **json, size_t *len);

#endif
