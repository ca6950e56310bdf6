/*
 * test_json_strict.c — the strict JSON reader alone (src/codec/json_strict.c):
 * limits as parameters, repeated members with their pointers and order,
 * locating a value by JSON pointer, json-c's tree of checked text, type
 * names and the report line. The syntax rules themselves are exercised
 * through both codecs (test_declaration_json.c, test_event_json.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "codec/json_strict.h"
#include "core/err.h"
#include "core/report.h"

static const struct kv_json_limits roomy = {32, 1000, 10000};

/* The repeats reported by the checker: "pointer name|pointer name". */
struct dups {
    char text[1024];
    size_t used;
    int calls;
};

static void collect(void *ctx, const char *pointer, const char *name, size_t len)
{
    struct dups *d = ctx;
    int k = snprintf(d->text + d->used, sizeof(d->text) - d->used, "%s%s %.*s", d->calls ? "|" : "",
                     pointer, (int)len, name);
    assert_true(k > 0 && (size_t)k < sizeof(d->text) - d->used);
    d->used += (size_t)k;
    d->calls++;
}

static void dup_count(void *ctx, const char *pointer, const char *name, size_t len)
{
    (void)pointer;
    (void)name;
    (void)len;
    (*(int *)ctx)++;
}

static void limits(void **state)
{
    (void)state;
    struct kv_json_limits lim = {2, 10, 10};
    struct kv_json_error err;
    int dups = 0;
    assert_int_equal(kv_json_check("[[1]]", 5, &lim, dup_count, &dups, &err), KV_OK);
    assert_int_equal(kv_json_check("[[[1]]]", 7, &lim, dup_count, &dups, &err), KV_ELIMIT);
    assert_int_equal(err.offset, 2);
    assert_string_equal(err.message, "nested deeper than 2 levels");
    assert_int_equal(kv_json_check("[1,2,3,4,5,6,7,8,9,10]", 22, &lim, NULL, NULL, &err),
                     KV_ELIMIT);
    assert_string_equal(err.message, "more than 10 values in the document");
    lim.max_values = 100;
    lim.max_containers = 3;
    assert_int_equal(kv_json_check("[[],[],[]]", 10, &lim, NULL, NULL, &err), KV_ELIMIT);
    assert_string_equal(err.message, "more than 3 objects and arrays in the document");
    assert_int_equal(err.offset, 7);
    const char *twice = "{\"a\":1,\"b\":{\"a\":1},\"a\":2,\"a\":3}";
    assert_int_equal(kv_json_check(twice, strlen(twice), &lim, dup_count, &dups, &err), KV_OK);
    assert_int_equal(dups, 2);
    assert_int_equal(kv_json_check(NULL, 0, &lim, NULL, NULL, &err), KV_EINVAL);
    assert_int_equal(kv_json_check("1", 1, NULL, NULL, NULL, &err), KV_EINVAL);
    assert_int_equal(kv_json_check("1", 1, &lim, NULL, NULL, NULL), KV_OK);
    lim.max_depth = 0;
    assert_int_equal(kv_json_check("1", 1, &lim, NULL, NULL, &err), KV_EINVAL);
}

static void duplicate_pointers(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } v[] = {
        /* names compared after unescaping; the pointer escapes ~ and / */
        {"{\"a\":1,\"\\u0061\":2}", "/a a"},
        {"{\"x\":{\"a/b\":1,\"a~b\":2,\"a\\/b\":3,\"a~b\":4}}", "/x/a~1b a/b|/x/a~0b a~b"},
        /* inside arrays the index is a segment */
        {"[0,{\"k\":[{\"n\":1,\"n\":2}]}]", "/1/k/0/n n"},
        /* an inner object's repeats come when it closes, before the outer ones */
        {"{\"t\":1,\"t\":2,\"o\":{\"i\":1,\"i\":2}}", "/o/i i|/t t"},
        /* three times: two calls, in document order */
        {"{\"b\":1,\"a\":1,\"b\":2,\"a\":2,\"b\":3}", "/b b|/a a|/b b"},
        /* the same name in sibling objects is no repeat */
        {"[{\"a\":1},{\"a\":1}]", ""},
        {"{\"\":1,\"\":2}", "/ "},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct dups d = {.used = 0};
        struct kv_json_error err;
        assert_int_equal(kv_json_check(v[i].json, strlen(v[i].json), &roomy, collect, &d, &err),
                         KV_OK);
        if (strcmp(d.text, v[i].want) != 0)
            fail_msg("%s:\n got  %s\n want %s", v[i].json, d.text, v[i].want);
    }
    /* A repeat seen before a syntax error is reported all the same. */
    struct dups d = {.used = 0};
    const char *broken = "{\"o\":{\"i\":1,\"i\":2},}";
    assert_int_equal(kv_json_check(broken, strlen(broken), &roomy, collect, &d, NULL), KV_EPARSE);
    assert_string_equal(d.text, "/o/i i");
}

/* Checks `json` with a span request for `pointer`; returns the value's text
 * (or "-" when not found) in out. */
static int span_of(const char *json, const char *pointer, char *out, size_t outsz)
{
    struct kv_json_span span = {.pointer = pointer};
    int rc = kv_json_check_span(json, strlen(json), &roomy, NULL, NULL, &span, NULL);
    if (rc == KV_OK && span.found) {
        assert_true(span.off < span.end && span.end <= strlen(json));
        snprintf(out, outsz, "%.*s", (int)(span.end - span.off), json + span.off);
    } else {
        snprintf(out, outsz, "-");
        assert_false(span.found);
    }
    return rc;
}

static void spans(void **state)
{
    (void)state;
    static const struct {
        const char *json, *pointer, *want;
    } v[] = {
        {" {\"a\" : [1, 2] } ", "", "{\"a\" : [1, 2] }"},
        {"{\"declaration\" : { \"x\" : [ 1 ] } , \"y\":2}", "/declaration", "{ \"x\" : [ 1 ] }"},
        {"{\"d\":{\"e\":[10,\"s\",{\"f\":null}]}}", "/d/e/1", "\"s\""},
        {"{\"d\":{\"e\":[10,\"s\",{\"f\":null}]}}", "/d/e/2/f", "null"},
        {"{\"d\":{\"e\":[10,\"s\",{\"f\":null}]}}", "/d/e", "[10,\"s\",{\"f\":null}]"},
        {"{\"n\":-1.5e+3}", "/n", "-1.5e+3"},
        {"{\"a/b\":{\"m~n\":true}}", "/a~1b/m~0n", "true"},
        /* the name is matched unescaped */
        {"{\"\\u0064\":[]}", "/d", "[]"},
        {"{\"\":{}}", "/", "{}"},
        /* the last of repeated members, as json-c keeps */
        {"{\"d\":1,\"d\":{\"x\":2}}", "/d", "{\"x\":2}"},
        {"{\"d\":{\"x\":2},\"d\":1}", "/d", "1"},
        /* not there */
        {"{\"d\":1}", "/e", "-"},
        {"{\"d\":1}", "/d/0", "-"},
        {"[1,2]", "/2", "-"},
        {"[1,2]", "/01", "-"},
        {"[1,2]", "/-", "-"},
        {"{\"a\":{\"b\":1}}", "/b", "-"},
        {"{\"x\":{\"d\":1}}", "/d", "-"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char got[128];
        assert_int_equal(span_of(v[i].json, v[i].pointer, got, sizeof(got)), KV_OK);
        if (strcmp(got, v[i].want) != 0)
            fail_msg("%s at \"%s\":\n got  %s\n want %s", v[i].json, v[i].pointer, got, v[i].want);
    }
    /* Not RFC 6901 pointers. */
    char got[16];
    assert_int_equal(span_of("{}", "d", got, sizeof(got)), KV_EINVAL);
    assert_int_equal(span_of("{}", "/~2", got, sizeof(got)), KV_EINVAL);
    assert_int_equal(span_of("{}", "/a~", got, sizeof(got)), KV_EINVAL);
    struct kv_json_span none = {.pointer = NULL};
    assert_int_equal(kv_json_check_span("{}", 2, &roomy, NULL, NULL, &none, NULL), KV_EINVAL);
    assert_int_equal(kv_json_check_span("{}", 2, &roomy, NULL, NULL, NULL, NULL), KV_EINVAL);
    /* Nothing is found in text that is refused. */
    assert_int_equal(span_of("{\"d\":1,}", "/d", got, sizeof(got)), KV_EPARSE);
    assert_int_equal(span_of("{\"d\":[[[1]]]}", "/d", got, sizeof(got)), KV_OK);
    struct kv_json_limits shallow = {2, 10, 10};
    struct kv_json_span span = {.pointer = "/d"};
    assert_int_equal(kv_json_check_span("{\"d\":[[1]]}", 11, &shallow, NULL, NULL, &span, NULL),
                     KV_ELIMIT);
    assert_false(span.found);
}

static void trees(void **state)
{
    (void)state;
    static const struct {
        const char *json, *type;
    } v[] = {
        {"{\"a\":[1,{}]}", "an object"},
        {"[]", "an array"},
        {"\"x\"", "a string"},
        {"42", "a number"},
        {" -0.5 ", "a number"},
        {"true", "a boolean"},
        {"null", "null"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct json_object *root = NULL;
        struct kv_json_error err;
        size_t len = strlen(v[i].json);
        assert_int_equal(kv_json_check(v[i].json, len, &roomy, NULL, NULL, &err), KV_OK);
        assert_int_equal(kv_json_build(v[i].json, len, &roomy, &root, &err), KV_OK);
        assert_string_equal(kv_json_type_name(root), v[i].type);
        if (strcmp(v[i].type, "null") == 0)
            assert_null(root);
        json_object_put(root);
    }
    /* The depth limit is the checker's: at the limit, json-c builds the tree too. */
    struct kv_json_limits lim = {3, 10, 10};
    struct json_object *root = NULL;
    assert_int_equal(kv_json_check("[[[1]]]", 7, &lim, NULL, NULL, NULL), KV_OK);
    assert_int_equal(kv_json_build("[[[1]]]", 7, &lim, &root, NULL), KV_OK);
    assert_int_equal(json_object_array_length(json_object_array_get_idx(root, 0)), 1);
    json_object_put(root);
    /* Text the check did not see: json-c's refusal is reported with its place. */
    struct kv_json_error err;
    assert_int_equal(kv_json_build("\n[1,]", 5, &roomy, &root, &err), KV_EPARSE);
    assert_null(root);
    assert_int_equal(err.line, 2);
    assert_true(strlen(err.message) > 0);
    assert_int_equal(kv_json_build("[1]", 3, &roomy, NULL, &err), KV_EINVAL);
    assert_int_equal(kv_json_build(NULL, 0, &roomy, &root, &err), KV_EINVAL);
    assert_int_equal(kv_json_build("1", 1, NULL, &root, &err), KV_EINVAL);
    assert_string_equal(kv_json_type_name(NULL), "null");
}

static void report_line(void **state)
{
    (void)state;
    struct kv_json_error err;
    struct kv_report rep;
    const char *json = "{\"a\":\n  [1,\n  \xc3\xa9]}";
    assert_int_equal(kv_json_check(json, strlen(json), &roomy, NULL, NULL, &err), KV_EPARSE);
    kv_report_init(&rep);
    kv_json_report(&rep, "R-X-001", &err);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-X-001");
    assert_string_equal(rep.items[0].pointer, "");
    assert_string_equal(rep.items[0].message,
                        "line 3, column 3 (byte 14): unexpected byte 0xc3, expected a value");
    kv_report_release(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits), cmocka_unit_test(duplicate_pointers), cmocka_unit_test(spans),
        cmocka_unit_test(trees),  cmocka_unit_test(report_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
