/*
 * decimal.h — exact non-negative decimal numbers for masses and amounts.
 *
 * NCTS P5 declares masses as n..16,6 (at most 16 digits, of which at most
 * 6 after the decimal point) and amounts as n..16,2. Binary floating point
 * cannot hold 0.1 exactly, so kervan never converts these values to double:
 * a value is kept as its integer part plus a fraction in millionths, and the
 * number of fraction digits the sender wrote is remembered so that "1.50"
 * can be printed back as "1.50".
 *
 * Digits are counted as written: leading zeros of the integer part do not
 * count, every written fraction digit does (so "1.50" has 3 digits and 2
 * decimals). That is slightly stricter than XSD's value-based totalDigits,
 * and never ambiguous.
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef KV_CORE_DECIMAL_H
#define KV_CORE_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most fraction digits a kv_decimal holds (NCTS masses: n..16,6). */
#define KV_DEC_FRAC_MAX 6
/* Most total digits kv_dec_parse accepts (keeps the integer part in int64). */
#define KV_DEC_DIGITS_MAX 18
/* A buffer this large holds any formatted kv_decimal, NUL included. */
#define KV_DEC_TEXT_MAX 32

struct kv_decimal {
    int64_t ip;    /* integer part, >= 0 */
    int32_t micro; /* fraction in millionths, 0..999999 */
    uint8_t scale; /* fraction digits as written, 0..KV_DEC_FRAC_MAX */
};

/* Why a text is not an acceptable decimal; KV_DEC_OK when it is. */
enum kv_dec_verdict {
    KV_DEC_OK = 0,
    KV_DEC_NOT_NUMBER, /* not digits with an optional point and digits */
    KV_DEC_NEGATIVE,   /* a well-formed number with a minus sign */
    KV_DEC_EXPONENT,   /* exponent notation such as 1e3 */
    KV_DEC_DECIMALS,   /* more fraction digits than allowed */
    KV_DEC_DIGITS      /* more digits in total than allowed */
};

/*
 * Parses `len` bytes of `s` as a decimal of format n..total,frac: digits,
 * optionally a point followed by at least one digit. No sign, no exponent,
 * no spaces. `total` must be 1..KV_DEC_DIGITS_MAX and `frac` 0..min(total,
 * KV_DEC_FRAC_MAX); otherwise KV_DEC_NOT_NUMBER is returned. On KV_DEC_OK
 * stores the value in *out (which may be NULL to only check).
 */
enum kv_dec_verdict kv_dec_parse(const char *s, size_t len, int total, int frac,
                                 struct kv_decimal *out);

/*
 * Writes a short English reason for a verdict, naming the limits, e.g.
 * "more than 6 decimals" or "more than 16 digits", into buf (always
 * NUL-terminated when bufsz > 0).
 */
void kv_dec_describe(enum kv_dec_verdict v, int total, int frac, char *buf, size_t bufsz);

/* -1, 0 or 1 as a is less than, equal to or greater than b (scale ignored). */
int kv_dec_cmp(const struct kv_decimal *a, const struct kv_decimal *b);

/* True when the value is zero. */
bool kv_dec_is_zero(const struct kv_decimal *d);

/*
 * *out = a + b, with the larger of the two scales. Returns 0, or KV_ELIMIT
 * (and leaves *out unchanged) when the integer part would exceed INT64_MAX.
 * out may alias a or b.
 */
int kv_dec_add(const struct kv_decimal *a, const struct kv_decimal *b, struct kv_decimal *out);

/*
 * Formats the shortest exact text ("1.5", "1000", "0.000001") into buf.
 * Returns the length written (without NUL), or 0 when bufsz is too small
 * (KV_DEC_TEXT_MAX always suffices) or d is out of range.
 */
size_t kv_dec_format(const struct kv_decimal *d, char *buf, size_t bufsz);

/*
 * Like kv_dec_format but keeps the written number of fraction digits
 * (d->scale), so a value parsed from "1.50" prints as "1.50". Prints more
 * digits than d->scale only if the value needs them.
 */
size_t kv_dec_format_written(const struct kv_decimal *d, char *buf, size_t bufsz);

#endif
