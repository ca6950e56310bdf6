/*
 * test_decimal.c — tests of src/core/decimal.c: parsing with the NCTS
 * formats n..16,6 (masses) and n..16,2 (amounts), the reasons for refusal,
 * comparison, checked addition and exact formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/decimal.h"
#include "core/err.h"

static struct kv_decimal parse_ok(const char *s, int total, int frac)
{
    struct kv_decimal d = {-1, -1, 99};
    enum kv_dec_verdict v = kv_dec_parse(s, strlen(s), total, frac, &d);
    if (v != KV_DEC_OK)
        fail_msg("%s: expected valid n..%d,%d, got verdict %d", s, total, frac, (int)v);
    return d;
}

static void assert_verdict(const char *s, int total, int frac, enum kv_dec_verdict want)
{
    struct kv_decimal d = {7, 7, 7};
    enum kv_dec_verdict v = kv_dec_parse(s, strlen(s), total, frac, &d);
    if (v != want)
        fail_msg("%s: expected verdict %d, got %d", s, (int)want, (int)v);
    /* A refused text leaves the output alone. */
    assert_int_equal(d.ip, 7);
    assert_int_equal(d.micro, 7);
}

static void assert_format(const char *in, const char *shortest, const char *written)
{
    struct kv_decimal d = parse_ok(in, 16, 6);
    char b[KV_DEC_TEXT_MAX];
    assert_int_equal(kv_dec_format(&d, b, sizeof(b)), strlen(shortest));
    assert_string_equal(b, shortest);
    assert_int_equal(kv_dec_format_written(&d, b, sizeof(b)), strlen(written));
    assert_string_equal(b, written);
}

static void parse_values(void **state)
{
    (void)state;
    struct kv_decimal d = parse_ok("0.1", 16, 6);
    assert_int_equal(d.ip, 0);
    assert_int_equal(d.micro, 100000);
    assert_int_equal(d.scale, 1);

    d = parse_ok("22930.500", 16, 6);
    assert_int_equal(d.ip, 22930);
    assert_int_equal(d.micro, 500000);
    assert_int_equal(d.scale, 3);

    d = parse_ok("0.000001", 16, 6);
    assert_int_equal(d.ip, 0);
    assert_int_equal(d.micro, 1);

    /* 16 digits: the largest n..16,6 values, in both shapes. */
    d = parse_ok("9999999999999999", 16, 6);
    assert_int_equal(d.ip, 9999999999999999LL);
    assert_int_equal(d.micro, 0);
    d = parse_ok("9999999999.999999", 16, 6);
    assert_int_equal(d.ip, 9999999999LL);
    assert_int_equal(d.micro, 999999);

    /* Leading zeros of the integer part are not digits that count. */
    d = parse_ok("0001234567890123456", 16, 6);
    assert_int_equal(d.ip, 1234567890123456LL);

    d = parse_ok("78450.00", 16, 2);
    assert_int_equal(d.ip, 78450);
    assert_int_equal(d.micro, 0);
    assert_int_equal(d.scale, 2);

    d = parse_ok("0", 16, 6);
    assert_true(kv_dec_is_zero(&d));
    d = parse_ok("0.000", 16, 6);
    assert_true(kv_dec_is_zero(&d));
    assert_int_equal(d.scale, 3);

    /* 18 digits is the widest format accepted. */
    d = parse_ok("999999999999999999", 18, 0);
    assert_int_equal(d.ip, 999999999999999999LL);
}

static void parse_reasons(void **state)
{
    (void)state;
    assert_verdict("1.1234567", 16, 6, KV_DEC_DECIMALS);
    assert_verdict("12.345", 16, 2, KV_DEC_DECIMALS);
    assert_verdict("12345678901234567", 16, 6, KV_DEC_DIGITS);
    assert_verdict("1234567890123.4567", 16, 6, KV_DEC_DIGITS); /* 13 + 4 = 17 */
    assert_verdict("999999999999999.99", 16, 2, KV_DEC_DIGITS); /* 15 + 2 = 17 */
    assert_verdict("-1", 16, 6, KV_DEC_NEGATIVE);
    assert_verdict("-0.5", 16, 6, KV_DEC_NEGATIVE);
    assert_verdict("-0", 16, 6, KV_DEC_NEGATIVE);
    assert_verdict("1e3", 16, 6, KV_DEC_EXPONENT);
    assert_verdict("1.5E-2", 16, 6, KV_DEC_EXPONENT);
    assert_verdict("", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("abc", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("NaN", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("Infinity", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("1.", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict(".5", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("+1", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("1 ", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict(" 1", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("1,5", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("1e", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("-", 16, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("-x", 16, 6, KV_DEC_NOT_NUMBER);
    /* Formats outside the supported range are refused, not guessed. */
    assert_verdict("1", 19, 6, KV_DEC_NOT_NUMBER);
    assert_verdict("1", 16, 7, KV_DEC_NOT_NUMBER);
    assert_verdict("1", 0, 0, KV_DEC_NOT_NUMBER);
    /* The length is respected: "12" of "123" parses as 12. */
    struct kv_decimal d;
    assert_int_equal(kv_dec_parse("123", 2, 16, 6, &d), KV_DEC_OK);
    assert_int_equal(d.ip, 12);
    /* NULL output only checks. */
    assert_int_equal(kv_dec_parse("1.5", 3, 16, 6, NULL), KV_DEC_OK);
    assert_int_equal(kv_dec_parse(NULL, 0, 16, 6, NULL), KV_DEC_NOT_NUMBER);
}

static void describe(void **state)
{
    (void)state;
    char b[64];
    kv_dec_describe(KV_DEC_DECIMALS, 16, 6, b, sizeof(b));
    assert_string_equal(b, "more than 6 decimals");
    kv_dec_describe(KV_DEC_DECIMALS, 16, 1, b, sizeof(b));
    assert_string_equal(b, "more than 1 decimal");
    kv_dec_describe(KV_DEC_DIGITS, 16, 6, b, sizeof(b));
    assert_string_equal(b, "more than 16 digits");
    kv_dec_describe(KV_DEC_NEGATIVE, 16, 6, b, sizeof(b));
    assert_string_equal(b, "negative");
    kv_dec_describe(KV_DEC_NOT_NUMBER, 16, 6, b, sizeof(b));
    assert_string_equal(b, "not a number");
    kv_dec_describe(KV_DEC_EXPONENT, 16, 6, b, sizeof(b));
    assert_string_equal(b, "exponent notation is not allowed");
    /* Truncates, always terminated. */
    char small[5];
    kv_dec_describe(KV_DEC_DIGITS, 16, 6, small, sizeof(small));
    assert_string_equal(small, "more");
}

static void compare(void **state)
{
    (void)state;
    struct kv_decimal a = parse_ok("1.5", 16, 6), b = parse_ok("1.50", 16, 6);
    assert_int_equal(kv_dec_cmp(&a, &b), 0); /* the scale is not part of the value */
    struct kv_decimal c = parse_ok("1.499999", 16, 6);
    assert_int_equal(kv_dec_cmp(&c, &a), -1);
    assert_int_equal(kv_dec_cmp(&a, &c), 1);
    struct kv_decimal e = parse_ok("2", 16, 6);
    assert_int_equal(kv_dec_cmp(&e, &c), 1);
    assert_int_equal(kv_dec_cmp(&c, &e), -1);
}

static void add(void **state)
{
    (void)state;
    /* 0.1 + 0.2 is exactly 0.3 (not 0.30000000000000004). */
    struct kv_decimal a = parse_ok("0.1", 16, 6), b = parse_ok("0.2", 16, 6), s;
    assert_int_equal(kv_dec_add(&a, &b, &s), KV_OK);
    struct kv_decimal want = parse_ok("0.3", 16, 6);
    assert_int_equal(kv_dec_cmp(&s, &want), 0);

    /* Carry from the fraction; the larger scale is kept. */
    a = parse_ok("0.999999", 16, 6);
    b = parse_ok("1.5", 16, 6);
    assert_int_equal(kv_dec_add(&a, &b, &s), KV_OK);
    assert_int_equal(s.ip, 2);
    assert_int_equal(s.micro, 499999);
    assert_int_equal(s.scale, 6);

    /* The example's masses: 6380.500 + 16550.000 = 22930.5. */
    a = parse_ok("6380.500", 16, 6);
    b = parse_ok("16550.000", 16, 6);
    assert_int_equal(kv_dec_add(&a, &b, &a), KV_OK); /* out aliases a */
    char t[KV_DEC_TEXT_MAX];
    kv_dec_format_written(&a, t, sizeof(t));
    assert_string_equal(t, "22930.500");

    /* Overflow is an error and leaves the output alone. */
    struct kv_decimal big = {INT64_MAX, 0, 0}, one = parse_ok("1", 16, 6), out = {5, 5, 5};
    assert_int_equal(kv_dec_add(&big, &one, &out), KV_ELIMIT);
    assert_int_equal(out.ip, 5);
    struct kv_decimal nearly = {INT64_MAX, 999999, 6}, tiny = parse_ok("0.000001", 16, 6);
    assert_int_equal(kv_dec_add(&nearly, &tiny, &out), KV_ELIMIT);
    struct kv_decimal edge = {INT64_MAX - 1, 999999, 6};
    assert_int_equal(kv_dec_add(&edge, &tiny, &out), KV_OK);
    assert_int_equal(out.ip, INT64_MAX);
    assert_int_equal(out.micro, 0);

    /* 1,999 items at the largest mass fit; 922 of 10^16 do not. */
    struct kv_decimal m = parse_ok("9999999999999999", 16, 6), sum = {0, 0, 0};
    int rc = KV_OK;
    size_t n = 0;
    for (; n < 2000 && rc == KV_OK; n++)
        rc = kv_dec_add(&sum, &m, &sum);
    assert_int_equal(rc, KV_ELIMIT);
    assert_int_equal(n, 923); /* 922 additions succeed: 922 * (10^16 - 1) < 2^63 */
}

static void format(void **state)
{
    (void)state;
    assert_format("0.1", "0.1", "0.1");
    assert_format("1.50", "1.5", "1.50");
    assert_format("1000", "1000", "1000");
    assert_format("1000.000", "1000", "1000.000");
    assert_format("0.000001", "0.000001", "0.000001");
    assert_format("0.0", "0", "0.0");
    assert_format("9999999999999999", "9999999999999999", "9999999999999999");
    assert_format("1234567890.123456", "1234567890.123456", "1234567890.123456");
    assert_format("007.250", "7.25", "7.250");

    /* A value built in code with a scale too small still prints exactly. */
    struct kv_decimal d = {3, 140000, 0};
    char b[KV_DEC_TEXT_MAX];
    kv_dec_format_written(&d, b, sizeof(b));
    assert_string_equal(b, "3.14");

    /* Too small a buffer or an out-of-range value gives 0 and an empty string. */
    char small[4];
    struct kv_decimal e = parse_ok("12345", 16, 6);
    assert_int_equal(kv_dec_format(&e, small, sizeof(small)), 0);
    assert_string_equal(small, "");
    struct kv_decimal bad = {-1, 0, 0};
    assert_int_equal(kv_dec_format(&bad, b, sizeof(b)), 0);
    struct kv_decimal bad2 = {1, 1000000, 0};
    assert_int_equal(kv_dec_format(&bad2, b, sizeof(b)), 0);
    /* The largest value fits KV_DEC_TEXT_MAX. */
    struct kv_decimal max = {INT64_MAX, 999999, 6};
    assert_true(kv_dec_format(&max, b, sizeof(b)) > 0);
    assert_string_equal(b, "9223372036854775807.999999");
}

/* Every text that parses formats back to a text that parses to the same value. */
static void round_trip(void **state)
{
    (void)state;
    static const char *const texts[] = {"0",    "0.5",   "12.000001",     "22930.500",
                                        "1",    "10.10", "999999.999999", "1234567890123456",
                                        "0.010"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct kv_decimal a = parse_ok(texts[i], 16, 6), b;
        char t[KV_DEC_TEXT_MAX];
        kv_dec_format_written(&a, t, sizeof(t));
        assert_string_equal(t, texts[i]);
        kv_dec_format(&a, t, sizeof(t));
        b = parse_ok(t, 16, 6);
        assert_int_equal(kv_dec_cmp(&a, &b), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_values), cmocka_unit_test(parse_reasons), cmocka_unit_test(describe),
        cmocka_unit_test(compare),      cmocka_unit_test(add),           cmocka_unit_test(format),
        cmocka_unit_test(round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
