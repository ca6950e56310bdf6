/*
 * test_text.c — src/core/text.c: strict UTF-8 decoding (RFC 3629 table 3
 * boundaries and the ill-formed cases) and hex digits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/text.h"

static void utf8_well_formed(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
    } v[] = {
        {"\x00", 1, 0x0},
        {"A", 1, 0x41},
        {"\x7f", 1, 0x7f},
        {"\xc2\x80", 2, 0x80},
        {"\xc5\x9f", 2, 0x15f}, /* ş */
        {"\xdf\xbf", 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 0x800},
        {"\xe2\x82\xb8", 3, 0x20b8}, /* ₸ */
        {"\xed\x9f\xbf", 3, 0xd7ff},
        {"\xee\x80\x80", 3, 0xe000},
        {"\xef\xbf\xbf", 3, 0xffff},
        {"\xf0\x90\x80\x80", 4, 0x10000},
        {"\xf0\x9f\x9a\x9a", 4, 0x1f69a}, /* 🚚 */
        {"\xf4\x8f\xbf\xbf", 4, 0x10ffff},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t cp = 0xffffffff;
        size_t n = v[i].len;
        assert_int_equal(kv_text_utf8_next(v[i].s, n, &cp), v[i].len);
        assert_int_equal(cp, v[i].cp);
        /* More bytes after it change nothing; cp may be NULL. */
        char buf[8] = {0};
        memcpy(buf, v[i].s, n);
        buf[n] = 'x';
        assert_int_equal(kv_text_utf8_next(buf, n + 1, NULL), v[i].len);
    }
}

static void utf8_ill_formed(void **state)
{
    (void)state;
    static const char *const v[] = {
        "\x80",             /* a continuation byte alone */
        "\xbf",             /* likewise */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x9f\xbf",     /* overlong 3-byte */
        "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
        "\xed\xa0\x80",     /* U+D800, a surrogate */
        "\xed\xbf\xbf",     /* U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte past F4 */
        "\xf8\x88\x80\x80", /* 5-byte form */
        "\xff",             /* never in UTF-8 */
        "\xc3\x28",         /* second byte not a continuation */
        "\xe2\x28\xa1",     /* likewise */
        "\xf0\x9f\x9a\x28", /* fourth byte not a continuation */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint32_t cp = 7;
        if (kv_text_utf8_next(v[i], strlen(v[i]), &cp) != 0)
            fail_msg("case %zu accepted", i);
        assert_int_equal(cp, 7); /* untouched */
    }
    /* Cut short by n, even when the bytes go on. */
    assert_int_equal(kv_text_utf8_next("\xe2\x82\xb8", 2, NULL), 0);
    assert_int_equal(kv_text_utf8_next("\xf0\x9f\x9a\x9a", 3, NULL), 0);
    assert_int_equal(kv_text_utf8_next("\xc5\x9f", 1, NULL), 0);
}

static void hex_digits(void **state)
{
    (void)state;
    const char *digits = "0123456789abcdef", *upper = "ABCDEF";
    for (int i = 0; i < 16; i++)
        assert_int_equal(kv_text_hex_digit(digits[i]), i);
    for (int i = 0; i < 6; i++)
        assert_int_equal(kv_text_hex_digit(upper[i]), 10 + i);
    for (int c = -128; c < 128; c++) {
        if (!memchr("0123456789abcdefABCDEF", c, 22) || c == 0)
            assert_int_equal(kv_text_hex_digit((char)c), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_well_formed),
        cmocka_unit_test(utf8_ill_formed),
        cmocka_unit_test(hex_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
