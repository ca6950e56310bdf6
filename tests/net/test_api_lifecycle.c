/*
 * test_api_lifecycle.c — movements through the /v1 API (api_test.h):
 * complete lifecycles (normal; control, incident, discrepancies; diversion;
 * customs cancellation after release; refused releases), every forbidden
 * transition (one movement driven through each state, every other event
 * tried: 409 naming the state and the allowed events, state unchanged),
 * amendments and their rules, the overdue enquiry on the injected clock,
 * pagination across pages, and concurrent appends to one movement (the
 * KV_ESTALE retry).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "api_test.h"

#define OVERDUE_DAYS 3

static int group_setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_ERROR);
    if (t_start(0, OVERDUE_DAYS, 0) != 0)
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

static const char *SEALS_OK = "\"controlResult\":\"A1\",\"seals\":[\"KZS002\",\"KZS001\"]";

/* Posts an event and checks the 201 answer's state; returns the answer's seq. */
static long step(const char *mrn, const char *token, const char *type, const char *office,
                 const char *rest, const char *want_state)
{
    struct reply r;
    t_event(mrn, token, type, office, rest, &r);
    if (r.status != 201)
        fail_msg("%s on %s: %ld %s", type, mrn, r.status, r.body);
    assert_string_equal(jstr(r.json, "state"), want_state);
    assert_string_equal(jstr(r.json, "event/type"), type);
    long seq = json_object_get_int64(jget(r.json, "seq"));
    assert_int_equal(json_object_get_int64(jget(r.json, "event/seq")), seq);
    assert_non_null(jget(r.json, "allowedEvents"));
    reply_free(&r);
    return seq;
}

static void view(const char *mrn, const char *token, struct reply *r)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    t_get(path, token, r);
    if (r->status != 200)
        fail_msg("GET %s: %ld %s", mrn, r->status, r->body);
}

/* ------------------------------------------------------------------------ */

static void test_normal_lifecycle(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LIFE-1"}, mrn);
    assert_int_equal(step(mrn, T.dep, "control_decision", T_DEP, "\"control\":false", "accepted"),
                     2);
    step(mrn, T.dep, "release", T_DEP, SEALS_OK, "released");
    step(mrn, T.border, "presented", T_BORDER, "\"side\":\"exit\"", "released");
    step(mrn, T.border, "cleared", T_BORDER, "\"side\":\"exit\"", "released");
    step(mrn, T.des, "arrival", T_DES, NULL, "arrived");
    step(mrn, T.des, "unloading_remarks", T_DES, "\"conform\":true,\"sealsIntact\":true",
         "arrived");
    assert_int_equal(step(mrn, T.dep, "write_off", T_DEP, NULL, "written_off"), 8);

    struct reply r;
    view(mrn, T.trader, &r);
    assert_string_equal(jstr(r.json, "state"), "written_off");
    assert_int_equal(jlen(r.json, "events"), 8);
    const char *types[] = {"lodged",  "control_decision", "release",           "presented",
                           "cleared", "arrival",          "unloading_remarks", "write_off"};
    const char *actors[] = {"node:KZ",           "officer:" T_DEP,    "officer:" T_DEP,
                            "officer:" T_BORDER, "officer:" T_BORDER, "officer:" T_DES,
                            "officer:" T_DES,    "officer:" T_DEP};
    for (size_t i = 0; i < 8; i++) {
        char p[64], who[64];
        snprintf(p, sizeof p, "events/%zu/type", i);
        assert_string_equal(jstr(r.json, p), types[i]);
        snprintf(p, sizeof p, "events/%zu/seq", i);
        assert_int_equal(json_object_get_int(jget(r.json, p)), i + 1);
        char rp[64], ip[64];
        snprintf(rp, sizeof rp, "events/%zu/actor/role", i);
        snprintf(ip, sizeof ip, "events/%zu/actor/id", i);
        snprintf(who, sizeof who, "%s:%s", jstr(r.json, rp), jstr(r.json, ip));
        assert_string_equal(who, actors[i]);
    }
    assert_true(jhas(r.json, "flags", "unloaded"));
    assert_true(json_object_get_boolean(jget(r.json, "guarantees/0/released")));
    assert_int_equal(jlen(r.json, "allowedEvents"), 0);
    /* the control decision "no control" at departure is a green lane there */
    assert_int_equal(jlen(r.json, "lanes"), 1);
    assert_string_equal(jstr(r.json, "lanes/0/lane"), "green");
    assert_string_equal(jstr(r.json, "lanes/0/office"), T_DEP);
    assert_string_equal(jstr(r.json, "lanes/0/basis"), "control_decision");
    reply_free(&r);
}

static void test_control_incident_discrepancies(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LIFE-2"}, mrn);
    step(mrn, T.dep, "control_decision", T_DEP, "\"control\":true,\"reason\":\"risk profile\"",
         "under_control");
    step(mrn, T.dep, "release", T_DEP, "\"controlResult\":\"A2\",\"seals\":[\"KZS001\",\"KZS002\"]",
         "released");
    step(mrn, T.border, "incident", T_BORDER,
         "\"code\":\"2\",\"text\":\"seal KZS002 found cut\",\"place\":\"Dostyk\","
         "\"latitude\":\"45.25000\",\"longitude\":\"82.47000\","
         "\"sealsState\":\"replaced\",\"newSeals\":[\"KZS900\"]",
         "released");
    step(mrn, T.des, "arrival", T_DES, NULL, "arrived");
    /* under seal: sealsIntact is required (R-MOV-012) */
    struct reply r;
    t_event(mrn, T.des, "unloading_remarks", T_DES, "\"conform\":true", &r);
    EXPECT(&r, 409, "not_allowed");
    EXPECT_PROBLEM(&r, "R-MOV-012", "/sealsIntact");
    reply_free(&r);
    step(mrn, T.des, "unloading_remarks", T_DES,
         "\"conform\":false,\"sealsIntact\":true,\"discrepancies\":\"2 cartons missing\"",
         "discrepancies");
    /* write-off is blocked until resolved */
    t_event(mrn, T.dep, "write_off", T_DEP, NULL, &r);
    EXPECT(&r, 409, "not_allowed");
    reply_free(&r);
    step(mrn, T.des, "discrepancies_resolved", T_DES, "\"text\":\"found at the depot\"", "arrived");
    step(mrn, T.dep, "write_off", T_DEP, NULL, "written_off");
    view(mrn, T.analyst, &r);
    assert_true(jhas(r.json, "flags", "incident"));
    assert_true(jhas(r.json, "flags", "unloaded"));
    assert_string_equal(jstr(r.json, "events/3/newSeals/0"), "KZS900");
    reply_free(&r);
}

static void test_diversion_and_customs_cancellation(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LIFE-3"}, mrn);
    step(mrn, T.dep, "release", T_DEP, SEALS_OK, "released");
    /* an office of destination that is not the declared one: a diversion,
     * recorded by an officer who could not see the movement before */
    struct reply r;
    t_event(mrn, T.border, "arrival", T_BORDER, NULL, &r);
    EXPECT(&r, 201, NULL);
    assert_true(jhas(r.json, "flags", "diversion"));
    assert_true(json_object_get_boolean(jget(r.json, "event/diversion")));
    reply_free(&r);
    view(mrn, T.border, &r); /* now it sees it */
    assert_string_equal(jstr(r.json, "state"), "arrived");
    reply_free(&r);
    /* remarks only from the office where the goods arrived (R-MOV-009) */
    t_event(mrn, T.des, "unloading_remarks", T_DES, "\"conform\":true,\"sealsIntact\":true", &r);
    EXPECT(&r, 409, "not_allowed");
    EXPECT_PROBLEM(&r, "R-MOV-009", "/office");
    reply_free(&r);

    /* after release only customs cancels */
    char m2[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LIFE-4"}, m2);
    step(m2, T.dep, "release", T_DEP, SEALS_OK, "released");
    t_event(m2, T.trader, "cancellation", T_DEP,
            "\"initiatedBy\":\"holder\",\"reason\":\"changed my mind\"", &r);
    EXPECT(&r, 409, "not_allowed");
    assert_non_null(strstr(jstr(r.json, "error/message"), "state \"released\""));
    reply_free(&r);
    step(m2, T.dep, "cancellation", T_DEP,
         "\"initiatedBy\":\"customs\",\"reason\":\"goods never left the yard\"", "cancelled");
    view(m2, T.trader, &r);
    assert_true(json_object_get_boolean(jget(r.json, "guarantees/0/released")));
    reply_free(&r);
}

static void test_release_refusals(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LIFE-5"}, mrn);
    struct reply r;
    /* seals differ: each missing and each undeclared named */
    t_event(mrn, T.dep, "release", T_DEP, "\"controlResult\":\"A1\",\"seals\":[\"KZS001\",\"XX9\"]",
            &r);
    EXPECT(&r, 409, "not_allowed");
    EXPECT_PROBLEM(&r, "R-MOV-004", "/seals");
    assert_non_null(strstr(r.body, "KZS002"));
    assert_non_null(strstr(r.body, "XX9"));
    assert_non_null(strstr(jstr(r.json, "error/message"), "state \"accepted\""));
    reply_free(&r);
    /* A3 needs an authorised consignor (R0910) */
    t_event(mrn, T.dep, "release", T_DEP,
            "\"controlResult\":\"A3\",\"seals\":[\"KZS001\",\"KZS002\"]", &r);
    EXPECT(&r, 409, "not_allowed");
    EXPECT_PROBLEM(&r, "R-MOV-011", "/controlResult");
    reply_free(&r);
    /* the release at another office than the departure: refused */
    t_event(mrn, T.border, "release", T_BORDER, SEALS_OK, &r);
    EXPECT(&r, 404,
           "not_found"); /* the border office cannot see it, and release is not on the spot */
    reply_free(&r);
    assert_string_equal(t_state(mrn), "accepted");
    step(mrn, T.dep, "no_release", T_DEP, "\"reason\":\"12 cartons instead of 40\"",
         "not_released");
    struct reply v;
    view(mrn, T.trader, &v);
    assert_true(json_object_get_boolean(jget(v.json, "guarantees/0/released")) == false);
    reply_free(&v);
}

/* ---- every forbidden transition ------------------------------------------- */

struct form {
    enum kv_event_type type;
    const char *name;
    bool holder; /* cancellation by the holder */
};

static const struct form forms[] = {
    {KV_EVENT_CONTROL_DECISION, "control_decision", false},
    {KV_EVENT_RELEASE, "release", false},
    {KV_EVENT_NO_RELEASE, "no_release", false},
    {KV_EVENT_AMENDMENT, "amendment", true},
    {KV_EVENT_CANCELLATION, "cancellation", true},
    {KV_EVENT_CANCELLATION, "cancellation", false},
    {KV_EVENT_PRESENTED, "presented", false},
    {KV_EVENT_CLEARED, "cleared", false},
    {KV_EVENT_INCIDENT, "incident", false},
    {KV_EVENT_ARRIVAL, "arrival", false},
    {KV_EVENT_UNLOADING_REMARKS, "unloading_remarks", false},
    {KV_EVENT_DISCREPANCIES_RESOLVED, "discrepancies_resolved", false},
    {KV_EVENT_WRITE_OFF, "write_off", false},
};

/* Posts the form as the actor who may record it. */
static void post_form(const char *mrn, const char *lrn, const struct form *f, struct reply *r)
{
    static char rest[8192];
    const char *token = T.dep, *office = T_DEP, *body = NULL;
    switch (f->type) {
    case KV_EVENT_CONTROL_DECISION:
        body = "\"control\":true";
        break;
    case KV_EVENT_RELEASE:
        body = SEALS_OK;
        break;
    case KV_EVENT_NO_RELEASE:
        body = "\"reason\":\"no\"";
        break;
    case KV_EVENT_AMENDMENT: {
        char *d = t_decl(&(struct tdecl){.lrn = lrn});
        snprintf(rest, sizeof rest, "\"declaration\":%s", d);
        free(d);
        token = T.trader;
        body = rest;
        break;
    }
    case KV_EVENT_CANCELLATION:
        token = f->holder ? T.trader : T.dep;
        body = f->holder ? "\"initiatedBy\":\"holder\",\"reason\":\"r\""
                         : "\"initiatedBy\":\"customs\",\"reason\":\"r\"";
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
        token = T.border;
        office = T_BORDER;
        body = "\"side\":\"exit\"";
        break;
    case KV_EVENT_INCIDENT:
        token = T.border;
        office = T_BORDER;
        body = "\"code\":\"5\",\"text\":\"t\",\"place\":\"p\",\"sealsState\":\"intact\"";
        break;
    case KV_EVENT_ARRIVAL:
        token = T.des;
        office = T_DES;
        break;
    case KV_EVENT_UNLOADING_REMARKS:
        token = T.des;
        office = T_DES;
        body = "\"conform\":true,\"sealsIntact\":true";
        break;
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        token = T.des;
        office = T_DES;
        body = "\"text\":\"resolved\"";
        break;
    default:
        break;
    }
    t_event(mrn, token, f->name, office, body, r);
}

/* In the movement's current state, every form the table refuses answers 409
 * naming the state and the allowed events, and changes nothing. */
static void try_all_forbidden(const char *mrn, const char *lrn, enum kv_state s, unsigned flags)
{
    unsigned mask = kv_movement_allowed(s, flags);
    char allowed[256], want_state[64], want_allowed[300];
    kv_movement_allowed_text(s, flags, allowed, sizeof allowed);
    snprintf(want_state, sizeof want_state, "in state \"%s\"", kv_state_name(s));
    snprintf(want_allowed, sizeof want_allowed, "allowed: %s", allowed);
    bool customs_only = strstr(allowed, "cancellation by customs") != NULL;
    struct reply before, r, after;
    view(mrn, T.analyst, &before);
    size_t tried = 0;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        const struct form *f = &forms[i];
        bool ok = (mask & KV_EVENT_BIT(f->type)) != 0;
        if (f->type == KV_EVENT_CANCELLATION && f->holder && customs_only)
            ok = false;
        if (ok)
            continue;
        post_form(mrn, lrn, f, &r);
        if (r.status != 409)
            fail_msg("%s%s in %s: %ld, expected 409: %s", f->name,
                     f->type == KV_EVENT_CANCELLATION ? (f->holder ? " (holder)" : " (customs)")
                                                      : "",
                     kv_state_name(s), r.status, r.body);
        EXPECT(&r, 409, "not_allowed");
        EXPECT_PROBLEM(&r, "R-MOV-001", "/type");
        const char *msg = jstr(r.json, "error/message");
        if (!strstr(msg, want_state) || !strstr(msg, want_allowed))
            fail_msg("%s in %s: message \"%s\" lacks \"%s\" or \"%s\"", f->name, kv_state_name(s),
                     msg, want_state, want_allowed);
        reply_free(&r);
        tried++;
    }
    assert_true(tried > 0);
    view(mrn, T.analyst, &after);
    assert_string_equal(jstr(after.json, "state"), kv_state_name(s));
    assert_int_equal(jlen(after.json, "events"), jlen(before.json, "events"));
    /* and the view's allowedEvents is the table's set */
    size_t n = 0;
    for (int t = KV_EVENT_LODGED; t < KV_EVENT__COUNT; t++)
        if (mask & KV_EVENT_BIT(t)) {
            assert_true(jhas(after.json, "allowedEvents", kv_event_type_name(t)));
            n++;
        }
    assert_int_equal(jlen(after.json, "allowedEvents"), n);
    reply_free(&before);
    reply_free(&after);
}

static void test_every_forbidden_transition(void **state)
{
    (void)state;
    char a[KV_MRN_LEN + 1], b[KV_MRN_LEN + 1], c[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "TABLE-A"}, a);
    try_all_forbidden(a, "TABLE-A", KV_STATE_ACCEPTED, 0);
    step(a, T.dep, "control_decision", T_DEP, "\"control\":true", "under_control");
    try_all_forbidden(a, "TABLE-A", KV_STATE_UNDER_CONTROL, 0);
    step(a, T.dep, "no_release", T_DEP, "\"reason\":\"no\"", "not_released");
    try_all_forbidden(a, "TABLE-A", KV_STATE_NOT_RELEASED, 0);

    t_lodge(&(struct tdecl){.lrn = "TABLE-B"}, b);
    step(b, T.dep, "release", T_DEP, SEALS_OK, "released");
    try_all_forbidden(b, "TABLE-B", KV_STATE_RELEASED, 0);
    step(b, T.des, "arrival", T_DES, NULL, "arrived");
    try_all_forbidden(b, "TABLE-B", KV_STATE_ARRIVED, 0);
    step(b, T.des, "unloading_remarks", T_DES,
         "\"conform\":false,\"sealsIntact\":true,\"discrepancies\":\"d\"", "discrepancies");
    try_all_forbidden(b, "TABLE-B", KV_STATE_DISCREPANCIES, 0);
    step(b, T.des, "discrepancies_resolved", T_DES, "\"text\":\"ok\"", "arrived");
    try_all_forbidden(b, "TABLE-B", KV_STATE_ARRIVED, KV_FLAG_UNLOADED);
    step(b, T.dep, "write_off", T_DEP, NULL, "written_off");
    try_all_forbidden(b, "TABLE-B", KV_STATE_WRITTEN_OFF, KV_FLAG_UNLOADED);

    t_lodge(&(struct tdecl){.lrn = "TABLE-C"}, c);
    step(c, T.trader, "cancellation", T_DEP, "\"initiatedBy\":\"holder\",\"reason\":\"r\"",
         "cancelled");
    try_all_forbidden(c, "TABLE-C", KV_STATE_CANCELLED, 0);
}

/* ---- amendments ---------------------------------------------------------------- */

static void amend(const char *mrn, const char *token, const char *decl, struct reply *r)
{
    size_t n = strlen(decl) + 32;
    char *rest = malloc(n);
    snprintf(rest, n, "\"declaration\":%s", decl);
    t_event(mrn, token, "amendment", T_DEP, rest, r);
    free(rest);
}

static void test_amendments(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    struct tdecl o = {.lrn = "AMEND-1", .limit_date = "2025-06-30"};
    t_lodge(&o, mrn);
    struct reply r;

    /* a valid amendment: new mass, new limit date */
    char *d =
        t_decl(&(struct tdecl){.lrn = "AMEND-1", .mass = "1300.25", .limit_date = "2025-07-15"});
    amend(mrn, T.trader, d, &r);
    EXPECT(&r, 201, NULL);
    assert_string_equal(jstr(r.json, "state"), "accepted");
    assert_string_equal(jstr(r.json, "event/actor/role"), "trader");
    assert_string_equal(jstr(r.json, "event/actor/id"), T_HOLDER);
    reply_free(&r);
    free(d);
    view(mrn, T.trader, &r);
    assert_string_equal(jstr(r.json, "limitDate"), "2025-07-15");
    assert_string_equal(jstr(r.json, "grossMass"), "1300.25");
    assert_string_equal(jstr(r.json, "declaration/limitDate"), "2025-07-15");
    assert_non_null(strstr(r.body, "\"grossMass\":1300.25"));
    assert_string_equal(jstr(r.json, "events/1/type"), "amendment");
    assert_string_equal(jstr(r.json, "events/1/declaration/lrn"), "AMEND-1");
    reply_free(&r);
    /* the first declaration again is still a replay of this movement */
    char *first = t_decl(&o);
    t_post("/v1/declarations", T.trader, first, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "mrn"), mrn);
    reply_free(&r);
    free(first);

    /* what an amendment may not change */
    struct {
        struct tdecl o;
        const char *rule, *pointer;
    } bad[] = {
        {{.lrn = "AMEND-2"}, "R-AMD-002", "/declaration/lrn"},
        {{.lrn = "AMEND-1", .holder = T_HOLDER2}, "R-AMD-001", "/declaration/holder/id"},
        {{.lrn = "AMEND-1", .departure = "KZ470100"},
         "R-AMD-003",
         "/declaration/officeOfDeparture"},
        {{.lrn = "AMEND-1", .amount = "151.00"}, "R-AMD-005", "/declaration/guarantees"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = t_decl(&bad[i].o);
        amend(mrn, T.trader, d, &r);
        EXPECT(&r, 422, "invalid_amendment");
        EXPECT_PROBLEM(&r, bad[i].rule, bad[i].pointer);
        assert_int_equal(jlen(r.json, "error/problems"), 1);
        reply_free(&r);
        free(d);
    }
    /* security: the MRN's letter depends on it */
    d = t_decl(&(struct tdecl){.lrn = "AMEND-1", .limit_date = "2025-07-15", .security1 = true});
    amend(mrn, T.trader, d, &r);
    EXPECT(&r, 422, "invalid_amendment");
    EXPECT_PROBLEM(&r, "R-AMD-004", "/declaration/security");
    reply_free(&r);
    free(d);

    /* an invalid declaration: every problem, under /declaration */
    d = t_decl(&(struct tdecl){.lrn = "AMEND-1", .currency = "QQQ"});
    amend(mrn, T.trader, d, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-CUR-001", "/declaration/guarantees/0/references/0/currency");
    reply_free(&r);
    free(d);
    /* only the holder amends */
    d = t_decl(&(struct tdecl){.lrn = "AMEND-1"});
    amend(mrn, T.dep, d, &r);
    EXPECT(&r, 403, "forbidden");
    reply_free(&r);
    amend(mrn, T.trader2, d, &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    /* not after the control decision */
    step(mrn, T.dep, "control_decision", T_DEP, "\"control\":true", "under_control");
    amend(mrn, T.trader, d, &r);
    EXPECT(&r, 409, "not_allowed");
    reply_free(&r);
    free(d);
}

/* ---- overdue --------------------------------------------------------------------- */

static int64_t epoch_of(const char *rfc3339)
{
    struct kv_time t;
    assert_int_equal(kv_time_parse(rfc3339, strlen(rfc3339), &t, NULL), KV_OK);
    return t.epoch;
}

static bool in_overdue_list(const char *since, const char *mrn)
{
    char q[128];
    snprintf(q, sizeof q, "/v1/movements?overdue=true&since=%s", since);
    struct reply r;
    t_get(q, T.analyst, &r);
    EXPECT(&r, 200, NULL);
    bool found = false;
    for (size_t i = 0; i < jlen(r.json, "items"); i++) {
        char p[48];
        snprintf(p, sizeof p, "items/%zu/mrn", i);
        if (strcmp(jstr(r.json, p), mrn) == 0) {
            snprintf(p, sizeof p, "items/%zu/overdue", i);
            assert_true(json_object_get_boolean(jget(r.json, p)));
            found = true;
        }
    }
    reply_free(&r);
    return found;
}

static bool overdue_now(const char *mrn)
{
    struct reply r;
    view(mrn, T.analyst, &r);
    bool o = json_object_get_boolean(jget(r.json, "overdue"));
    assert_true(o == jhas(r.json, "flags", "enquiry"));
    reply_free(&r);
    return o;
}

static void test_overdue(void **state)
{
    (void)state;
    atomic_store(&t_now, epoch_of("2025-04-01T08:00:00Z"));
    char since[32];
    t_time(since);
    char m1[KV_MRN_LEN + 1], m2[KV_MRN_LEN + 1], m3[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "LATE-1", .limit_date = "2025-04-10"}, m1);
    t_lodge(&(struct tdecl){.lrn = "LATE-2"}, m2); /* no limit date: release + 3 days */
    t_lodge(&(struct tdecl){.lrn = "LATE-3", .limit_date = "2025-04-02"}, m3);
    step(m1, T.dep, "release", T_DEP, SEALS_OK, "released");
    step(m2, T.dep, "release", T_DEP, SEALS_OK, "released"); /* 2025-04-01 */
    step(m3, T.dep, "release", T_DEP, SEALS_OK, "released");
    step(m3, T.des, "arrival", T_DES, NULL, "arrived");
    struct reply r;
    view(m2, T.analyst, &r);
    assert_string_equal(jstr(r.json, "limitDate"), "2025-04-04"); /* set at release */
    reply_free(&r);

    assert_false(overdue_now(m1));
    assert_false(overdue_now(m2));
    assert_false(in_overdue_list(since, m2));

    atomic_store(&t_now, epoch_of("2025-04-04T23:59:59Z"));
    assert_false(overdue_now(m2));
    assert_false(in_overdue_list(since, m2));
    atomic_store(&t_now, epoch_of("2025-04-05T00:00:00Z"));
    assert_true(overdue_now(m2));
    assert_true(in_overdue_list(since, m2));
    assert_false(in_overdue_list(since, m1));

    atomic_store(&t_now, epoch_of("2025-04-10T23:59:59Z"));
    assert_false(overdue_now(m1));
    atomic_store(&t_now, epoch_of("2025-04-11T00:00:00Z"));
    assert_true(overdue_now(m1));
    assert_true(in_overdue_list(since, m1));
    /* arrived: never overdue, even past its limit */
    assert_false(overdue_now(m3));
    assert_false(in_overdue_list(since, m3));
    /* the arrival ends the enquiry */
    step(m1, T.des, "arrival", T_DES, NULL, "arrived");
    assert_false(overdue_now(m1));
    assert_false(in_overdue_list(since, m1));
    /* an event answer carries the flag too */
    t_event(m2, T.border, "presented", T_BORDER, "\"side\":\"exit\"", &r);
    EXPECT(&r, 201, NULL);
    assert_true(jhas(r.json, "flags", "enquiry"));
    reply_free(&r);
}

/* ---- pagination -------------------------------------------------------------------- */

static void test_pagination(void **state)
{
    (void)state;
    t_tick(86400);
    char since[32];
    t_time(since);
    enum { N = 7 };
    char mrns[N][KV_MRN_LEN + 1];
    for (int i = 0; i < N; i++) {
        char lrn[16];
        snprintf(lrn, sizeof lrn, "PAGE-%d", i);
        t_lodge(&(struct tdecl){.lrn = lrn, .holder = T_HOLDER2}, mrns[i]);
        t_tick(1);
    }
    const char *tokens[] = {T.analyst, T.trader2};
    for (size_t k = 0; k < 2; k++) {
        char cursor[64] = "";
        size_t got = 0, pages = 0;
        for (;;) {
            char q[160];
            snprintf(q, sizeof q, "/v1/movements?limit=3&since=%s%s%s", since,
                     cursor[0] ? "&cursor=" : "", cursor);
            struct reply r;
            t_get(q, tokens[k], &r);
            EXPECT(&r, 200, NULL);
            size_t n = jlen(r.json, "items");
            pages++;
            for (size_t i = 0; i < n; i++) {
                char p[32];
                snprintf(p, sizeof p, "items/%zu/mrn", i);
                assert_true(got < N);
                assert_string_equal(jstr(r.json, p), mrns[got]);
                got++;
            }
            const char *next = jstr(r.json, "next");
            if (!next) {
                assert_null(jget(r.json, "next"));
                reply_free(&r);
                break;
            }
            assert_int_equal(n, 3);
            snprintf(cursor, sizeof cursor, "%s", next);
            reply_free(&r);
        }
        assert_int_equal(got, N);
        assert_int_equal(pages, 3);
    }
    /* the holder's own list through another trader: nothing */
    char q[128];
    snprintf(q, sizeof q, "/v1/movements?since=%s", since);
    struct reply r;
    t_get(q, T.trader, &r);
    assert_int_equal(jlen(r.json, "items"), 0);
    reply_free(&r);
}

/* ---- concurrent appends ----------------------------------------------------------------- */

struct racer {
    const char *mrn, *token, *office, *time;
    long status;
    char body[512];
};

static void *race(void *arg)
{
    struct racer *x = arg;
    char path[80], body[256];
    snprintf(path, sizeof path, "/v1/movements/%s/events", x->mrn);
    snprintf(body, sizeof body,
             "{\"type\":\"presented\",\"time\":\"%s\",\"office\":\"%s\",\"side\":\"entry\"}",
             x->time, x->office);
    struct reply r;
    t_post(path, x->token, body, &r);
    x->status = r.status;
    snprintf(x->body, sizeof x->body, "%s", r.body ? r.body : "");
    reply_free(&r);
    return NULL;
}

static void test_concurrent_events(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "RACE-1"}, mrn);
    step(mrn, T.dep, "release", T_DEP, SEALS_OK, "released");
    static const char *offices[] = {"KZ050300", "KZ470100", "KZ470200", T_BORDER, T_OTHER};
    enum { N = 5 };
    static char tokens[N][KV_TOKEN_LEN + 1];
    for (int i = 0; i < N - 2; i++)
        t_token("officer", offices[i], NULL, tokens[i]);
    snprintf(tokens[3], sizeof tokens[3], "%s", T.border);
    snprintf(tokens[4], sizeof tokens[4], "%s", T.other);
    char when[32];
    t_tick(60);
    t_time(when);
    struct racer x[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        x[i] = (struct racer){.mrn = mrn, .token = tokens[i], .office = offices[i], .time = when};
        pthread_create(&th[i], NULL, race, &x[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        if (x[i].status != 201)
            fail_msg("racer %d: %ld %s", i, x[i].status, x[i].body);
    struct reply r;
    view(mrn, T.analyst, &r);
    assert_int_equal(jlen(r.json, "events"), 2 + N);
    for (int i = 0; i < 2 + N; i++) {
        char p[32];
        snprintf(p, sizeof p, "events/%d/seq", i);
        assert_int_equal(json_object_get_int(jget(r.json, p)), i + 1);
    }
    reply_free(&r);
    char detail[KV_STORE_DETAIL_MAX];
    assert_int_equal(kv_store_check(T.store, detail), KV_OK);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_lifecycle),
        cmocka_unit_test(test_control_incident_discrepancies),
        cmocka_unit_test(test_diversion_and_customs_cancellation),
        cmocka_unit_test(test_release_refusals),
        cmocka_unit_test(test_every_forbidden_transition),
        cmocka_unit_test(test_amendments),
        cmocka_unit_test(test_overdue),
        cmocka_unit_test(test_pagination),
        cmocka_unit_test(test_concurrent_events),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
