/*
 * text.h — character-level helpers shared by the codecs and the HTTP layer:
 * decoding one UTF-8 sequence strictly, the value of a hex digit, and a
 * bounded string copy.
 *
 * Pure functions: no allocation, no state, thread-safe.
 */
#ifndef KV_CORE_TEXT_H
#define KV_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the UTF-8 sequence at the start of s (at most n bytes, n >= 1).
 * Returns its length (1 to 4) and stores the code point in *cp (cp may be
 * NULL); returns 0 when the bytes are not well-formed UTF-8 by RFC 3629:
 * a stray continuation byte, an overlong form, a UTF-16 surrogate, a code
 * point above U+10FFFF, or a sequence cut short by n.
 */
size_t kv_text_utf8_next(const char *s, size_t n, uint32_t *cp);

/* The value 0 to 15 of the hex digit c ([0-9a-fA-F]), or -1. */
int kv_text_hex_digit(char c);

/*
 * Copies the NUL-terminated src into dst (dstsz >= 1 bytes), cut to
 * dstsz - 1 bytes when longer (the cut is by bytes, not characters);
 * dst is always NUL-terminated. src must not be NULL.
 */
void kv_text_copy(char *dst, size_t dstsz, const char *src);

#endif
