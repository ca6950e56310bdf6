/*
 * json_span.h — the exact text of a top-level member of a JSON object.
 *
 * Signed data must be verified over the bytes that were signed, so the
 * codecs that carry signed or hashed JSON inside JSON (the envelope's body,
 * an export's embedded trust list) need the member's text as it was
 * written, not what json-c would print. This scanner finds it.
 *
 * Run kv_json_check (json_strict.h) on the text first: the scanner assumes
 * well-formed JSON and only guarantees that it never reads out of bounds.
 * Member names are compared after unescaping ("b\u006fdy" is "body").
 */
#ifndef KV_CODEC_JSON_SPAN_H
#define KV_CODEC_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Finds the member `name` (ASCII, at most 31 bytes) of the object that is
 * the whole text s[0..n). Returns true and sets *off and *len to its value's
 * bytes (a string value includes its quotes), or false when the text is not
 * an object or has no such member. With repeated names, the first is found
 * (kv_json_check reports repeats; refuse them before calling).
 */
bool kv_json_member_span(const char *s, size_t n, const char *name, size_t *off, size_t *len);

#endif
