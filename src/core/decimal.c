/*
 * decimal.c — exact non-negative decimals (see decimal.h).
 *
 * The value is ip + micro / 10^6. Parsing walks the text once and never
 * touches floating point; the digit limits keep ip below 10^18, so the
 * integer part always fits in int64 and only sums can overflow (checked).
 */
#include "core/decimal.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const int32_t pow10_6[KV_DEC_FRAC_MAX + 1] = {1000000, 100000, 10000, 1000, 100, 10, 1};

enum kv_dec_verdict kv_dec_parse(const char *s, size_t len, int total, int frac,
                                 struct kv_decimal *out)
{
    if (!s || total < 1 || total > KV_DEC_DIGITS_MAX || frac < 0 || frac > KV_DEC_FRAC_MAX ||
        frac > total)
        return KV_DEC_NOT_NUMBER;

    size_t i = 0;
    bool negative = false, exponent = false;
    if (len > 0 && s[0] == '-') {
        negative = true;
        i = 1;
    }
    size_t int_start = i;
    while (i < len && is_digit(s[i]))
        i++;
    size_t int_end = i;
    if (int_end == int_start)
        return KV_DEC_NOT_NUMBER;
    size_t frac_start = i, frac_end = i;
    if (i < len && s[i] == '.') {
        frac_start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        frac_end = i;
        if (frac_end == frac_start)
            return KV_DEC_NOT_NUMBER;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_start = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == exp_start)
            return KV_DEC_NOT_NUMBER;
        exponent = true;
    }
    if (i != len)
        return KV_DEC_NOT_NUMBER;
    if (negative)
        return KV_DEC_NEGATIVE;
    if (exponent)
        return KV_DEC_EXPONENT;

    size_t nfrac = frac_end - frac_start;
    if (nfrac > (size_t)frac)
        return KV_DEC_DECIMALS;
    size_t k = int_start;
    while (k < int_end && s[k] == '0')
        k++;
    size_t nint = int_end - k; /* significant integer digits */
    if (nint + nfrac > (size_t)total)
        return KV_DEC_DIGITS;

    if (out) {
        int64_t ip = 0;
        for (; k < int_end; k++)
            ip = ip * 10 + (s[k] - '0'); /* < 10^18: no overflow */
        int32_t micro = 0;
        for (size_t j = frac_start; j < frac_end; j++)
            micro = micro * 10 + (s[j] - '0');
        micro *= pow10_6[nfrac];
        out->ip = ip;
        out->micro = micro;
        out->scale = (uint8_t)nfrac;
    }
    return KV_DEC_OK;
}

void kv_dec_describe(enum kv_dec_verdict v, int total, int frac, char *buf, size_t bufsz)
{
    if (!buf || bufsz == 0)
        return;
    switch (v) {
    case KV_DEC_OK:
        snprintf(buf, bufsz, "valid");
        break;
    case KV_DEC_NEGATIVE:
        snprintf(buf, bufsz, "negative");
        break;
    case KV_DEC_EXPONENT:
        snprintf(buf, bufsz, "exponent notation is not allowed");
        break;
    case KV_DEC_DECIMALS:
        snprintf(buf, bufsz, "more than %d decimal%s", frac, frac == 1 ? "" : "s");
        break;
    case KV_DEC_DIGITS:
        snprintf(buf, bufsz, "more than %d digits", total);
        break;
    case KV_DEC_NOT_NUMBER:
    default:
        snprintf(buf, bufsz, "not a number");
        break;
    }
}

int kv_dec_cmp(const struct kv_decimal *a, const struct kv_decimal *b)
{
    if (a->ip != b->ip)
        return a->ip < b->ip ? -1 : 1;
    if (a->micro != b->micro)
        return a->micro < b->micro ? -1 : 1;
    return 0;
}

bool kv_dec_is_zero(const struct kv_decimal *d)
{
    return d->ip == 0 && d->micro == 0;
}

int kv_dec_add(const struct kv_decimal *a, const struct kv_decimal *b, struct kv_decimal *out)
{
    int32_t micro = a->micro + b->micro; /* both < 10^6: no overflow */
    int64_t carry = 0;
    if (micro >= 1000000) {
        micro -= 1000000;
        carry = 1;
    }
    if (a->ip < 0 || b->ip < 0 || a->ip > INT64_MAX - b->ip || a->ip + b->ip > INT64_MAX - carry)
        return KV_ELIMIT;
    uint8_t scale = a->scale > b->scale ? a->scale : b->scale;
    out->ip = a->ip + b->ip + carry;
    out->micro = micro;
    out->scale = scale;
    return KV_OK;
}

/* Formats with at least `min_scale` fraction digits (trailing zeros trimmed beyond it). */
static size_t format_scale(const struct kv_decimal *d, int min_scale, char *buf, size_t bufsz)
{
    if (!buf || d->ip < 0 || d->micro < 0 || d->micro > 999999)
        return 0;
    char frac[KV_DEC_FRAC_MAX + 1];
    int32_t m = d->micro;
    for (int i = KV_DEC_FRAC_MAX - 1; i >= 0; i--) {
        frac[i] = (char)('0' + m % 10);
        m /= 10;
    }
    int nfrac = KV_DEC_FRAC_MAX;
    while (nfrac > 0 && frac[nfrac - 1] == '0')
        nfrac--;
    if (nfrac < min_scale)
        nfrac = min_scale > KV_DEC_FRAC_MAX ? KV_DEC_FRAC_MAX : min_scale;
    frac[nfrac] = '\0';
    int n = nfrac ? snprintf(buf, bufsz, "%lld.%s", (long long)d->ip, frac)
                  : snprintf(buf, bufsz, "%lld", (long long)d->ip);
    if (n < 0 || (size_t)n >= bufsz) {
        if (bufsz)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t kv_dec_format(const struct kv_decimal *d, char *buf, size_t bufsz)
{
    return format_scale(d, 0, buf, bufsz);
}

size_t kv_dec_format_written(const struct kv_decimal *d, char *buf, size_t bufsz)
{
    return format_scale(d, d->scale, buf, bufsz);
}
