/*
 * test_pointer.c — src/core/pointer.c: building RFC 6901 pointers as a
 * stack (escaping, indexes, marks) and the bound with its "..." marker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/pointer.h"

static void push_and_pop(void **state)
{
    (void)state;
    struct kv_ptr p;
    kv_ptr_init(&p);
    assert_string_equal(p.buf, "");
    size_t a = kv_ptr_push(&p, "houseConsignments");
    size_t b = kv_ptr_push_index(&p, 0);
    size_t c = kv_ptr_push(&p, "a/b~c");
    assert_string_equal(p.buf, "/houseConsignments/0/a~1b~0c");
    assert_int_equal(p.len, strlen(p.buf));
    kv_ptr_pop(&p, c);
    assert_string_equal(p.buf, "/houseConsignments/0");
    /* A name of a given length: the bytes after it are not read. */
    size_t d = kv_ptr_push_n(&p, "items/rest", 5);
    assert_string_equal(p.buf, "/houseConsignments/0/items");
    kv_ptr_pop(&p, d);
    kv_ptr_push_n(&p, "", 0);
    assert_string_equal(p.buf, "/houseConsignments/0/");
    kv_ptr_pop(&p, b);
    assert_string_equal(p.buf, "/houseConsignments");
    kv_ptr_pop(&p, a);
    assert_string_equal(p.buf, "");
    kv_ptr_pop(&p, 5); /* past the end: nothing to cut */
    assert_string_equal(p.buf, "");
}

static void bounded(void **state)
{
    (void)state;
    struct kv_ptr p;
    char name[300];
    memset(name, 'n', sizeof(name));
    kv_ptr_init(&p);
    size_t a = kv_ptr_push_n(&p, name, sizeof(name));
    assert_int_equal(p.len, 1 + sizeof(name));
    /* One more does not fit: the pointer says it lost a segment. */
    size_t b = kv_ptr_push_n(&p, name, sizeof(name));
    assert_true(p.len < KV_PTR_MAX);
    assert_int_equal(strlen(p.buf), p.len);
    assert_string_equal(p.buf + p.len - 3, "...");
    /* Popping to its mark restores what was there. */
    kv_ptr_pop(&p, b);
    assert_int_equal(p.len, 1 + sizeof(name));
    assert_int_equal(p.buf[p.len - 1], 'n');
    kv_ptr_pop(&p, a);
    assert_string_equal(p.buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_and_pop),
        cmocka_unit_test(bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
