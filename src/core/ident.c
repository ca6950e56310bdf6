/*
 * ident.c — customs identifiers: the ISO 6346 check character, MRN (NCTS P5
 * and Phase 4 layouts), GRN and ISO 6346 container numbers.
 *
 * Every verifier walks the same ladder and stops at the first rung that
 * fails, so the caller gets the most specific reason: length, then the
 * character set ([A-Z0-9] only), then the layout (digits and letters in
 * their places), then the MRN procedure letter (R0410), then the check
 * digit. Facts and sources: docs/identifiers.md, shared DOMAIN.md §2.8–2.9.
 *
 * Pure: no allocation, no I/O, no global state.
 */
#include "core/ident.h"

#include "core/err.h"

/* Longest prefix kv_check_sum accepts: 38 * (2^32 - 1) fits in int64_t. */
#define CHECK_SUM_MAX_LEN 32

/* GRN without and with the voucher suffix (a letter and 6 digits). */
#define GRN_LEN         17
#define GRN_VOUCHER_LEN 24
#define CONTAINER_LEN   11

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/*
 * The ISO 6346 value of a character: digits 0–9, letters from A=10 upward,
 * skipping the multiples of 11 (11, 22, 33) so that no letter's value is
 * congruent to 0 mod 11 — A=10, B=12 … K=21, L=23 … U=32, V=34 … Z=38.
 * -1 for anything else (lower case included).
 */
static int char_value(char c)
{
    static const signed char letters[26] = {
        10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, /* A–M */
        25, 26, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38, /* N–Z */
    };
    if (is_digit(c))
        return c - '0';
    if (!is_upper(c))
        return -1;
    return letters[c - 'A'];
}

int64_t kv_check_sum(const char *s, size_t n)
{
    if (!s || n > CHECK_SUM_MAX_LEN)
        return -1;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = char_value(s[i]);
        if (v < 0)
            return -1;
        sum += (int64_t)v << i;
    }
    return sum;
}

int kv_check_char(const char *s, size_t n)
{
    if (!s)
        return -1;
    /* Reduce as we go: 2^i mod 11 keeps the arithmetic small for any n. */
    unsigned sum = 0, weight = 1;
    for (size_t i = 0; i < n; i++) {
        int v = char_value(s[i]);
        if (v < 0)
            return -1;
        sum = (sum + (unsigned)v * weight) % 11;
        weight = weight * 2 % 11;
    }
    return '0' + (int)(sum % 10); /* a remainder of 10 is written 0 */
}

const char *kv_id_verdict_text(enum kv_id_verdict v)
{
    switch (v) {
    case KV_ID_OK:
        return "valid";
    case KV_ID_LENGTH:
        return "length";
    case KV_ID_CHARSET:
        return "character set";
    case KV_ID_PATTERN:
        return "pattern";
    case KV_ID_PROCEDURE:
        return "procedure letter";
    case KV_ID_CHECK:
        return "check digit";
    }
    return "unknown verdict";
}

/* Fills *res (when not NULL) and returns whether the verdict is KV_ID_OK. */
static bool verdict(struct kv_id_result *res, enum kv_id_verdict v, int position, char expected,
                    bool legacy)
{
    if (res) {
        res->verdict = v;
        res->position = position;
        res->expected = expected;
        res->legacy = legacy;
    }
    return v == KV_ID_OK;
}

/* Position of the first byte outside [A-Z0-9] in s[0..len), or -1. */
static int first_bad_char(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (char_value(s[i]) < 0)
            return (int)i;
    return -1;
}

/* Verifies the check digit at s[n] over s[0..n); s is known to be [A-Z0-9]. */
static bool check_digit(const char *s, size_t n, bool legacy, struct kv_id_result *res)
{
    char want = (char)kv_check_char(s, n);
    if (s[n] != want)
        return verdict(res, KV_ID_CHECK, (int)n, want, legacy);
    return verdict(res, KV_ID_OK, -1, 0, legacy);
}

/* ------------------------------------------------------------------------ */
/* MRN                                                                      */
/* ------------------------------------------------------------------------ */

static bool is_procedure_letter(char c)
{
    return c >= 'J' && c <= 'M';
}

/*
 * The layouts (XSD MRNType):
 *   P5      ([2][4-9]|[3-9][0-9]) [A-Z]{2} [A-Z0-9]{12} [J-M] [0-9]
 *   Phase 4 ([0-1][0-9]|[2][0-4]) [A-Z]{2} [A-Z0-9]{13}      [0-9]
 * They overlap for year 24 with a J–M letter; that MRN is reported as P5.
 * Once the shared parts (digits, letters, check digit place) are right, the
 * only ways to miss both are a year of 25 or later without a procedure
 * letter (KV_ID_PROCEDURE: the year says P5) or, in P5-only mode, a year
 * before 24 (KV_ID_PATTERN at the year) or a missing letter.
 */
bool kv_mrn_verify(const char *s, size_t len, enum kv_mrn_mode mode, struct kv_id_result *res)
{
    if (!s || len != KV_MRN_LEN)
        return verdict(res, KV_ID_LENGTH, s && len > KV_MRN_LEN ? KV_MRN_LEN : -1, 0, false);
    int bad = first_bad_char(s, len);
    if (bad >= 0)
        return verdict(res, KV_ID_CHARSET, bad, 0, false);
    for (int i = 0; i < 2; i++)
        if (!is_digit(s[i]))
            return verdict(res, KV_ID_PATTERN, i, 0, false);
    for (int i = 2; i < 4; i++)
        if (!is_upper(s[i]))
            return verdict(res, KV_ID_PATTERN, i, 0, false);
    if (!is_digit(s[17]))
        return verdict(res, KV_ID_PATTERN, 17, 0, false);

    int yy = (s[0] - '0') * 10 + (s[1] - '0');
    bool p5 = yy >= 24 && is_procedure_letter(s[16]);
    bool legacy = !p5 && yy <= 24 && mode == KV_MRN_P5_OR_LEGACY;
    if (!p5 && !legacy) {
        if (yy < 24) /* only reachable in P5-only mode */
            return verdict(res, KV_ID_PATTERN, 0, 0, false);
        return verdict(res, KV_ID_PROCEDURE, 16, 0, false);
    }
    return check_digit(s, 17, legacy, res);
}

char kv_mrn_letter_for_security(int security)
{
    static const char letters[] = {'J', 'L', 'K', 'M'}; /* R0410, CL217 0..3 */
    if (security < 0 || security > 3)
        return 0;
    return letters[security];
}

int kv_mrn_make(char out[KV_MRN_LEN + 1], int year, const char *country, uint64_t serial,
                int security)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char letter = kv_mrn_letter_for_security(security);
    if (!out || !country || year < 2000 || year > 2099 || serial > KV_MRN_SERIAL_MAX || !letter)
        return KV_EINVAL;
    if (!is_upper(country[0]) || !is_upper(country[1]) || country[2] != '\0')
        return KV_EINVAL;

    out[0] = (char)('0' + year % 100 / 10);
    out[1] = (char)('0' + year % 10);
    out[2] = country[0];
    out[3] = country[1];
    for (int i = 15; i >= 4; i--) {
        out[i] = digits[serial % 36];
        serial /= 36;
    }
    out[16] = letter;
    out[17] = (char)kv_check_char(out, 17);
    out[18] = '\0';
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* GRN and container numbers                                                */
/* ------------------------------------------------------------------------ */

/* GRNType: [0-9]{2}[A-Z]{2}[A-Z0-9]{12}[0-9]([A-Z][0-9]{6})? */
bool kv_grn_verify(const char *s, size_t len, struct kv_id_result *res)
{
    if (!s || (len != GRN_LEN && len != GRN_VOUCHER_LEN))
        return verdict(res, KV_ID_LENGTH, s && len > GRN_VOUCHER_LEN ? GRN_VOUCHER_LEN : -1, 0,
                       false);
    int bad = first_bad_char(s, len);
    if (bad >= 0)
        return verdict(res, KV_ID_CHARSET, bad, 0, false);
    for (size_t i = 0; i < len; i++) {
        bool ok = true;
        if (i < 2 || i == 16 || i > 17)
            ok = is_digit(s[i]);
        else if (i < 4 || i == 17)
            ok = is_upper(s[i]);
        if (!ok)
            return verdict(res, KV_ID_PATTERN, (int)i, 0, false);
    }
    return check_digit(s, 16, false, res);
}

/* ISO 6346: owner code [A-Z]{3}, category [UJZ], serial [0-9]{6}, check digit. */
bool kv_container_verify(const char *s, size_t len, struct kv_id_result *res)
{
    if (!s || len != CONTAINER_LEN)
        return verdict(res, KV_ID_LENGTH, s && len > CONTAINER_LEN ? CONTAINER_LEN : -1, 0, false);
    int bad = first_bad_char(s, len);
    if (bad >= 0)
        return verdict(res, KV_ID_CHARSET, bad, 0, false);
    for (size_t i = 0; i < len; i++) {
        bool ok;
        if (i < 3)
            ok = is_upper(s[i]);
        else if (i == 3)
            ok = s[i] == 'U' || s[i] == 'J' || s[i] == 'Z';
        else
            ok = is_digit(s[i]);
        if (!ok)
            return verdict(res, KV_ID_PATTERN, (int)i, 0, false);
    }
    return check_digit(s, 10, false, res);
}
