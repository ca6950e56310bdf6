/*
 * test_api_export.c — GET /v1/movements/{mrn}/export (api_export.c) on the
 * in-process node of api_test.h: who may export (need-to-know as GET
 * /v1/movements/{mrn}: 404 otherwise), the answers for a bad MRN, no token,
 * and a node that runs alone (its events are not sealed: 409 "unsealed",
 * naming the event).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_test.h"

static int group_setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_ERROR);
    if (t_start(0, 0, 0) != 0)
        return -1;
    t_guarantee(T_GRN, "1000000.00", "EUR");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    t_stop();
    return 0;
}

static void get_export(const char *mrn, const char *token, struct reply *r)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s/export", mrn);
    t_get(path, token, r);
}

/* A node without a corridor does not seal: nothing to export. */
static void test_alone_unsealed(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    struct reply r;
    t_lodge(&(struct tdecl){.lrn = "EXP-ALONE-1"}, mrn);
    get_export(mrn, T.analyst, &r);
    EXPECT(&r, 409, "unsealed");
    assert_non_null(strstr(jstr(r.json, "error/message"), "event 1 is not sealed"));
    assert_non_null(strstr(jstr(r.json, "error/message"), mrn));
    reply_free(&r);
}

/* The same need-to-know as GET /v1/movements/{mrn}; the usual refusals. */
static void test_who_may_export(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    struct reply r;
    t_lodge(&(struct tdecl){.lrn = "EXP-WHO-1"}, mrn);
    /* those who see it get past need-to-know (to the 409 of a lone node) */
    const char *see[] = {T.trader, T.dep, T.des, T.analyst, T.operator_};
    for (size_t i = 0; i < sizeof see / sizeof see[0]; i++) {
        get_export(mrn, see[i], &r);
        EXPECT(&r, 409, "unsealed");
        reply_free(&r);
    }
    /* the others: the answer for a movement that does not exist */
    const char *hidden[] = {T.trader2, T.other, T.border, T.guarantor};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        get_export(mrn, hidden[i], &r);
        EXPECT(&r, 404, "not_found");
        reply_free(&r);
    }
    get_export("25KZ0001000000A1J9", T.analyst, &r); /* well-formed, unknown */
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    get_export("25KZ0001000000A1J8", T.analyst, &r); /* wrong check digit */
    EXPECT(&r, 400, "bad_mrn");
    reply_free(&r);
    get_export(mrn, NULL, &r);
    EXPECT(&r, 401, "unauthorized");
    reply_free(&r);
    /* other methods are not routes */
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s/export", mrn);
    t_post(path, T.analyst, "{}", &r);
    assert_true(r.status == 405 || r.status == 404);
    reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alone_unsealed),
        cmocka_unit_test(test_who_may_export),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
