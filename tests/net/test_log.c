/*
 * test_log.c — logfmt lines (src/net/log.c): quoting and escaping, the line
 * shape, levels, cut values and over-long lines, and that lines written by
 * several threads at once never interleave.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "net/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/kv-test-log-XXXXXX";
static int fd = -1;

static int setup(void **state)
{
    (void)state;
    memcpy(path + sizeof(path) - 7, "XXXXXX", 6);
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    kv_log_init(fd, KV_LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_INFO);
    close(fd);
    unlink(path);
    return 0;
}

/* Everything written so far; caller frees. */
static char *slurp(size_t *len)
{
    off_t end = lseek(fd, 0, SEEK_END);
    char *b = malloc((size_t)end + 1);
    ssize_t n = pread(fd, b, (size_t)end, 0);
    assert_int_equal(n, end);
    b[n] = '\0';
    if (len)
        *len = (size_t)n;
    return b;
}

static void quote_is(const char *in, size_t len, const char *want)
{
    char out[4096];
    size_t n = kv_log_quote(out, sizeof(out), in, len);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_quote(void **state)
{
    (void)state;
    quote_is("plain", 5, "plain");
    quote_is("/v1/movements/24TR000001A1B2C3D4", 32, "/v1/movements/24TR000001A1B2C3D4");
    quote_is("", 0, "\"\"");
    quote_is("two words", 9, "\"two words\"");
    quote_is("a=b", 3, "\"a=b\"");
    quote_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    quote_is("back\\slash", 10, "\"back\\\\slash\"");
    quote_is("line\nbreak\ttab\rcr", 17, "\"line\\nbreak\\ttab\\rcr\"");
    quote_is("nul\0bel\a", 8, "\"nul\\u0000bel\\u0007\"");
    quote_is("t\xc3\xbcrk", 5, "\"t\xc3\xbcrk\""); /* UTF-8 passes through, quoted */

    char longv[KV_LOG_VALUE_MAX + 100];
    memset(longv, 'a', sizeof(longv));
    char out[2048];
    size_t n = kv_log_quote(out, sizeof(out), longv, sizeof(longv));
    assert_int_equal(n, KV_LOG_VALUE_MAX + 5); /* quotes and "..." */
    assert_int_equal(out[0], '"');
    assert_string_equal(out + n - 4, "...\"");

    char small[8];
    n = kv_log_quote(small, sizeof(small), "abcdefghijk", 11); /* dst too small: cut, NUL */
    assert_int_equal(n, 7);
    assert_string_equal(small, "abcdefg");
}

static void test_line_shape(void **state)
{
    (void)state;
    struct kv_log_line l;
    kv_log_begin(&l, KV_LOG_INFO, "listening");
    kv_log_str(&l, "addr", "127.0.0.1:8080");
    kv_log_uint(&l, "port", 8080);
    kv_log_int(&l, "delta", -3);
    kv_log_str(&l, "note", "two words");
    kv_log_str(&l, "none", NULL);
    kv_log_end(&l);
    char *b = slurp(NULL);
    /* ts=2025-01-02T03:04:05.678901Z */
    assert_int_equal(strncmp(b, "ts=", 3), 0);
    assert_int_equal(strlen(b), 30 + strlen(" level=info msg=\"listening\" addr=127.0.0.1:8080 "
                                            "port=8080 delta=-3 note=\"two words\" none=\"\"\n"));
    assert_int_equal(b[7], '-');
    assert_int_equal(b[13], 'T');
    assert_int_equal(b[22], '.');
    assert_int_equal(b[29], 'Z');
    assert_string_equal(b + 30, " level=info msg=\"listening\" addr=127.0.0.1:8080 port=8080 "
                                "delta=-3 note=\"two words\" none=\"\"\n");
    free(b);
}

static void test_levels_and_printf(void **state)
{
    (void)state;
    kv_log_set_level(KV_LOG_WARN);
    assert_false(kv_log_enabled(KV_LOG_INFO));
    assert_true(kv_log_enabled(KV_LOG_ERROR));
    kv_log_debug("hidden %d", 1);
    kv_log_info("hidden %d", 2);
    kv_log_warn("disk %s at %d%%", "nearly full", 93);
    kv_log_error("cannot open \"%s\"\n", "x.db"); /* a trailing newline is dropped */
    struct kv_log_line l;
    kv_log_begin(&l, KV_LOG_INFO, "hidden");
    kv_log_str(&l, "k", "v");
    kv_log_end(&l);
    kv_log_set_level(KV_LOG_DEBUG);
    char *b = slurp(NULL);
    assert_null(strstr(b, "hidden"));
    assert_non_null(strstr(b, " level=warn msg=\"disk nearly full at 93%\"\n"));
    assert_non_null(strstr(b, " level=error msg=\"cannot open \\\"x.db\\\"\"\n"));
    free(b);

    enum kv_log_level lv;
    assert_int_equal(kv_log_level_parse("warn", &lv), KV_OK);
    assert_int_equal(lv, KV_LOG_WARN);
    assert_int_equal(kv_log_level_parse("debug", &lv), KV_OK);
    assert_int_equal(lv, KV_LOG_DEBUG);
    assert_int_equal(kv_log_level_parse("WARN", &lv), KV_EINVAL);
    assert_int_equal(kv_log_level_parse("verbose", &lv), KV_EINVAL);
    assert_string_equal(kv_log_level_name(KV_LOG_ERROR), "error");
}

static void test_long_line(void **state)
{
    (void)state;
    char v[400];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    struct kv_log_line l;
    kv_log_begin(&l, KV_LOG_INFO, "many fields");
    for (int i = 0; i < 20; i++)
        kv_log_str(&l, "field", v); /* 20 × ~406 bytes > KV_LOG_LINE_MAX */
    kv_log_end(&l);
    size_t len;
    char *b = slurp(&len);
    assert_true(len <= KV_LOG_LINE_MAX);
    assert_int_equal(b[len - 1], '\n');
    assert_non_null(strstr(b, " truncated=true\n"));
    assert_null(memchr(b, '\n', len - 1)); /* one line */
    free(b);
}

static void *writer(void *arg)
{
    long id = (long)arg;
    char v[300];
    memset(v, 'a' + (int)id, sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    for (int i = 0; i < 500; i++) {
        struct kv_log_line l;
        kv_log_begin(&l, KV_LOG_INFO, "concurrent");
        kv_log_int(&l, "thread", id);
        kv_log_str(&l, "v", v);
        kv_log_end(&l);
    }
    return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
    (void)state;
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    size_t len;
    char *b = slurp(&len);
    int lines = 0;
    for (char *line = b; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        char *th = strstr(line, " thread=");
        assert_non_null(th);
        char c = (char)('a' + (th[8] - '0'));
        char *v = strstr(line, " v=");
        assert_non_null(v);
        for (char *p = v + 3; *p; p++)
            assert_int_equal(*p, c); /* no byte of another thread's line */
        assert_int_equal(strlen(v + 3), 299);
        lines++;
        line = nl + 1;
    }
    assert_int_equal(lines, 2000);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels_and_printf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
