/*
 * test_api.c — the node's /v1 API in process (api_test.h): authentication,
 * lodging (success, replay, LRN conflict, every refusal with its exact
 * problems), the movement view, need-to-know for every role, guarantees
 * (register, ledger, funds exhausted with the figures, release), tokens,
 * malformed requests (bad JSON, wrong types, unknown members, 413, 415, bad
 * MRN), the list's filters and role-forced filters, the store's gauges on
 * /metrics, and that every route is in docs/openapi.yaml.
 * Lifecycles, transitions, amendments, overdue and pagination are in
 * test_api_lifecycle.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_test.h"

#include "codec/declaration_json.h"
#include "core/validate.h"

static int group_setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_ERROR);
    /* at most 5 goods items, 1 MiB bodies */
    if (t_start(5, 0, 1024 * 1024) != 0)
        return -1;
    t_guarantee(T_GRN, "100000.00", "EUR");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    t_stop();
    return 0;
}

/* ------------------------------------------------------------------------ */

static void test_health_and_auth(void **state)
{
    (void)state;
    struct reply r;
    t_get("/healthz", NULL, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "country"), "KZ");
    reply_free(&r);

    const char *paths[] = {"/v1/movements", "/v1/movements/25KZ000000000001J4",
                           "/v1/guarantees/" T_GRN};
    for (size_t i = 0; i < 3; i++) {
        t_get(paths[i], NULL, &r);
        EXPECT(&r, 401, "unauthorized");
        assert_string_equal(r.www_auth, "Bearer realm=\"kervan\"");
        reply_free(&r);
        /* well-formed but unknown, and malformed */
        t_get(paths[i], "kv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r);
        EXPECT(&r, 401, "unauthorized");
        assert_non_null(strstr(r.www_auth, "invalid_token"));
        reply_free(&r);
        t_get(paths[i], "not-a-token", &r);
        EXPECT(&r, 401, "unauthorized");
        reply_free(&r);
    }
    t_post("/v1/declarations", NULL, "{}", &r);
    EXPECT(&r, 401, "unauthorized");
    reply_free(&r);
    t_post("/v1/tokens", NULL, "{}", &r);
    EXPECT(&r, 401, "unauthorized");
    reply_free(&r);
}

static void test_lodge_and_view(void **state)
{
    (void)state;
    struct tdecl o = {.lrn = "VIEW-1", .limit_date = "2025-03-20"};
    char *json = t_decl(&o);
    struct reply r;
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 201, NULL);
    char mrn[KV_MRN_LEN + 1];
    snprintf(mrn, sizeof mrn, "%s", jstr(r.json, "mrn"));
    struct kv_id_result idr;
    assert_true(kv_mrn_verify(mrn, strlen(mrn), KV_MRN_P5_ONLY, &idr));
    assert_memory_equal(mrn, "25KZ", 4); /* the year of the node's clock, this country */
    assert_int_equal(mrn[16], 'J');      /* security 0 → J (R0410) */
    assert_string_equal(jstr(r.json, "lrn"), "VIEW-1");
    assert_string_equal(jstr(r.json, "state"), "accepted");
    assert_string_equal(jstr(r.json, "acceptedAt"), "2025-03-01T10:00:00Z");
    char self[64];
    snprintf(self, sizeof self, "/v1/movements/%s", mrn);
    assert_string_equal(r.location, self);
    assert_string_equal(jstr(r.json, "links/self"), self);
    reply_free(&r);

    /* the same declaration again (whitespace differs): 200, the same movement */
    char *spaced = malloc(strlen(json) + 8);
    snprintf(spaced, strlen(json) + 8, "  %s\n", json);
    t_post("/v1/declarations", T.trader, spaced, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "mrn"), mrn);
    assert_string_equal(r.location, self);
    reply_free(&r);
    free(spaced);

    /* the LRN with another declaration: 409 naming the MRN */
    o.mass = "1300.5";
    char *other = t_decl(&o);
    t_post("/v1/declarations", T.trader, other, &r);
    EXPECT(&r, 409, "lrn_conflict");
    assert_non_null(strstr(jstr(r.json, "error/message"), mrn));
    reply_free(&r);
    free(other);

    /* the view */
    t_get(self, T.trader, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "mrn"), mrn);
    assert_string_equal(jstr(r.json, "state"), "accepted");
    assert_string_equal(jstr(r.json, "holder"), T_HOLDER);
    assert_string_equal(jstr(r.json, "officeOfDeparture"), T_DEP);
    assert_string_equal(jstr(r.json, "officeOfDestination"), T_DES);
    assert_string_equal(jstr(r.json, "limitDate"), "2025-03-20");
    assert_string_equal(jstr(r.json, "grossMass"), "1250.5");
    assert_false(json_object_get_boolean(jget(r.json, "overdue")));
    assert_int_equal(jlen(r.json, "flags"), 0);
    assert_string_equal(jstr(r.json, "declaration/lrn"), "VIEW-1");
    assert_string_equal(jstr(r.json, "declaration/holder/id"), T_HOLDER);
    /* the declaration's decimals as written */
    assert_non_null(strstr(r.body, "\"amount\":150.00"));
    assert_int_equal(jlen(r.json, "events"), 1);
    assert_int_equal(json_object_get_int(jget(r.json, "events/0/seq")), 1);
    assert_string_equal(jstr(r.json, "events/0/type"), "lodged");
    assert_string_equal(jstr(r.json, "events/0/office"), T_DEP);
    assert_string_equal(jstr(r.json, "events/0/actor/role"), "node");
    assert_string_equal(jstr(r.json, "events/0/actor/id"), "KZ");
    assert_string_equal(jstr(r.json, "guarantees/0/grn"), T_GRN);
    assert_string_equal(jstr(r.json, "guarantees/0/amount"), "150.00");
    assert_string_equal(jstr(r.json, "guarantees/0/currency"), "EUR");
    assert_false(json_object_get_boolean(jget(r.json, "guarantees/0/released")));
    const char *allowed[] = {"control_decision", "release", "no_release", "amendment",
                             "cancellation"};
    assert_int_equal(jlen(r.json, "allowedEvents"), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(
            json_object_get_string(jget(r.json, "allowedEvents")
                                       ? json_object_array_get_idx(jget(r.json, "allowedEvents"), i)
                                       : NULL),
            allowed[i]);
    char events[80];
    snprintf(events, sizeof events, "%s/events", self);
    assert_string_equal(jstr(r.json, "links/events"), events);
    reply_free(&r);
    free(json);

    /* security 2 → K */
    struct tdecl k = {.lrn = "VIEW-K", .security = "2", .no_seals = true};
    /* security 2 needs the border mode (R-SEC-002): check the answer says so */
    char *kj = t_decl(&k);
    t_post("/v1/declarations", T.trader, kj, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-SEC-002", NULL);
    reply_free(&r);
    free(kj);
}

static void test_need_to_know(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1], path[64];
    t_lodge(&(struct tdecl){.lrn = "NTK-1"}, mrn);
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    struct reply r, none;

    /* what a caller may not see answers exactly like what does not exist */
    char ghost[KV_MRN_LEN + 1], gpath[64];
    snprintf(ghost, sizeof ghost, "25KZ0000000ZZZZZJ");
    ghost[17] = (char)kv_check_char(ghost, 17);
    ghost[18] = '\0';
    snprintf(gpath, sizeof gpath, "/v1/movements/%s", ghost);
    const char *hidden[] = {T.trader2, T.other, T.border, T.guarantor};
    for (size_t i = 0; i < 4; i++) {
        t_get(path, hidden[i], &r);
        EXPECT(&r, 404, "not_found");
        t_get(gpath, hidden[i], &none);
        EXPECT(&none, 404, "not_found");
        /* the same body but for the MRN itself */
        char *a = strstr(r.body, mrn), *b = strstr(none.body, ghost);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(a - r.body, b - none.body);
        assert_string_equal(a + KV_MRN_LEN, b + KV_MRN_LEN);
        reply_free(&r);
        reply_free(&none);
    }
    /* who may see it */
    const char *seeing[] = {T.trader, T.dep, T.des, T.analyst, T.operator_};
    for (size_t i = 0; i < 5; i++) {
        t_get(path, seeing[i], &r);
        EXPECT(&r, 200, NULL);
        reply_free(&r);
    }
    /* once the border office records an event there, it sees the movement */
    t_event_ok(mrn, T.dep, "release", T_DEP,
               "\"controlResult\":\"A1\",\"seals\":[\"KZS001\",\"KZS002\"]");
    t_event_ok(mrn, T.border, "presented", T_BORDER, "\"side\":\"exit\"");
    t_get(path, T.border, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "events/2/actor/role"), "officer");
    assert_string_equal(jstr(r.json, "events/2/actor/id"), T_BORDER);
    reply_free(&r);
    /* another office still cannot act on it or see it */
    t_event(mrn, T.other, "presented", T_BORDER, "\"side\":\"entry\"", &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    t_event(mrn, T.other, "control_decision", T_OTHER, "\"control\":true", &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    t_event(mrn, T.trader2, "cancellation", T_DEP,
            "\"initiatedBy\":\"holder\",\"reason\":\"not mine\"", &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);

    /* roles that never act: 403, whatever the movement */
    const char *readers[] = {T.analyst, T.operator_, T.guarantor};
    for (size_t i = 0; i < 3; i++) {
        t_event(mrn, readers[i], "incident", T_BORDER,
                "\"code\":\"5\",\"text\":\"x\",\"place\":\"y\",\"sealsState\":\"intact\"", &r);
        EXPECT(&r, 403, "forbidden");
        EXPECT_PROBLEM(&r, "R-ROLE-001", "");
        reply_free(&r);
        t_event(ghost, readers[i], "incident", T_BORDER,
                "\"code\":\"5\",\"text\":\"x\",\"place\":\"y\",\"sealsState\":\"intact\"", &r);
        EXPECT(&r, 403, "forbidden");
        reply_free(&r);
    }
    /* a visible movement, an action the role policy refuses: 403 naming the rule */
    t_event(mrn, T.trader, "incident", T_BORDER,
            "\"code\":\"5\",\"text\":\"x\",\"place\":\"y\",\"sealsState\":\"intact\"", &r);
    EXPECT(&r, 403, "forbidden");
    EXPECT_PROBLEM(&r, "R-ROLE-001", "");
    reply_free(&r);
    t_event(mrn, T.des, "write_off", T_DES, NULL, &r); /* destination is not departure */
    EXPECT(&r, 403, "forbidden");
    reply_free(&r);
    t_event(mrn, T.dep, "presented", T_BORDER, "\"side\":\"entry\"", &r); /* not its office */
    EXPECT(&r, 403, "forbidden");
    reply_free(&r);

    /* guarantors do not list movements */
    t_get("/v1/movements", T.guarantor, &r);
    EXPECT(&r, 403, "forbidden");
    EXPECT_PROBLEM(&r, "R-ROLE-004", "");
    reply_free(&r);
}

/* The API's 422 lists exactly the core's problems for the same bytes. */
static void expect_core_problems(const char *json, const struct reply *r)
{
    struct kv_report rep;
    kv_report_init(&rep);
    kv_validate_json(json, strlen(json), T.ref, &rep);
    json_object *a = jget(r->json, "error/problems");
    assert_non_null(a);
    assert_true(rep.count > 0);
    assert_int_equal(json_object_array_length(a), rep.count);
    for (size_t i = 0; i < rep.count; i++) {
        json_object *p = json_object_array_get_idx(a, i);
        assert_string_equal(jstr(p, "rule"), rep.items[i].rule);
        assert_string_equal(jstr(p, "pointer"), rep.items[i].pointer);
        assert_string_equal(jstr(p, "message"), rep.items[i].message);
    }
    kv_report_release(&rep);
}

static void test_lodge_refusals(void **state)
{
    (void)state;
    struct reply r;
    /* invalid: every problem, exactly the core's */
    char *json = t_decl(&(struct tdecl){.lrn = "BAD 1", .currency = "QQQ"});
    char *hs = strstr(json, "690721");
    memcpy(hs, "690799", 6); /* not an HS 2022 subheading */
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-LRN-001", "/lrn");
    EXPECT_PROBLEM(&r, "R-CUR-001", "/guarantees/0/references/0/currency");
    EXPECT_PROBLEM(&r, "R-HS-001", "/houseConsignments/0/items/0/commodity/hs");
    expect_core_problems(json, &r);
    assert_string_equal(jstr(r.json, "error/message"), "the declaration has 3 problems");
    reply_free(&r);
    free(json);

    /* the office of departure must be of this node's country: R-NODE-001 */
    json = t_decl(&(struct tdecl){.lrn = "TR-DEP", .departure = "TR041900"});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-NODE-001", "/officeOfDeparture");
    assert_int_equal(jlen(r.json, "error/problems"), 1);
    assert_non_null(strstr(jstr(r.json, "error/problems/0/message"), "TR041900 is not in KZ"));
    reply_free(&r);
    free(json);

    /* goods items beyond the node's max-items (5 here): R-NODE-002 */
    json = t_decl(&(struct tdecl){.lrn = "ITEMS-6", .items = 6});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-NODE-002", "/houseConsignments");
    assert_int_equal(jlen(r.json, "error/problems"), 1);
    reply_free(&r);
    free(json);
    json = t_decl(&(struct tdecl){.lrn = "ITEMS-5", .items = 5});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 201, NULL);
    reply_free(&r);
    free(json);

    /* the holder must be the trader's party */
    json = t_decl(&(struct tdecl){.lrn = "NOT-MINE", .holder = T_HOLDER2});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 403, "forbidden");
    EXPECT_PROBLEM(&r, "R-ROLE-002", "");
    reply_free(&r);
    /* only traders lodge */
    const char *others[] = {T.dep, T.analyst, T.operator_, T.guarantor};
    for (size_t i = 0; i < 4; i++) {
        t_post("/v1/declarations", others[i], json, &r);
        EXPECT(&r, 403, "forbidden");
        EXPECT_PROBLEM(&r, "R-ROLE-003", "");
        reply_free(&r);
    }
    /* content type */
    t_call("POST", "/v1/declarations", T.trader, "text/plain", json, strlen(json), &r);
    EXPECT(&r, 415, "unsupported_media_type");
    reply_free(&r);
    t_call("POST", "/v1/declarations", T.trader, NULL, json, strlen(json), &r);
    EXPECT(&r, 415, "unsupported_media_type");
    reply_free(&r);
    t_call("POST", "/v1/declarations", T.trader, "application/json; charset=utf-8", json,
           strlen(json), &r);
    EXPECT(&r, 403, "forbidden"); /* past the content type: the holder check */
    reply_free(&r);
    free(json);

    /* malformed bodies */
    struct {
        const char *body, *rule, *pointer;
    } bad[] = {
        {"{\"lrn\": ", "R-JSON-SYNTAX", NULL},
        {"", "R-JSON-SYNTAX", NULL},
        {"[1,2]", "R-JSON-TYPE", NULL},
        {"{\"lrn\":\"A\",\"lrn\":\"B\"}", "R-JSON-DUP", "/lrn"},
        {"{\"lrn\":42}", "R-JSON-TYPE", "/lrn"},
        {"{\"lrn\":\"A\",\"colour\":\"red\"}", "R-JSON-UNKNOWN", "/colour"},
        {"{\"lrn\":\"A\",\"security\":2}", "R-JSON-TYPE", "/security"},
        {"{\"lrn\":\"A\"}", "R-REQ-001", NULL},
        {"{\"lrn\":NaN}", "R-JSON-SYNTAX", NULL},
        {"{\"lrn\":\"\xff\"}", "R-JSON-SYNTAX", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_post("/v1/declarations", T.trader, bad[i].body, &r);
        EXPECT(&r, 422, "invalid_declaration");
        EXPECT_PROBLEM(&r, bad[i].rule, bad[i].pointer);
        reply_free(&r);
    }
    /* a body over the limit (1 MiB here): 413, and the node keeps serving */
    size_t big = 2 * 1024 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    t_call("POST", "/v1/declarations", T.trader, "json", huge, big, &r);
    EXPECT(&r, 413, NULL);
    reply_free(&r);
    free(huge);
    t_get("/healthz", NULL, &r);
    EXPECT(&r, 200, NULL);
    reply_free(&r);
}

static void test_guarantees(void **state)
{
    (void)state;
    struct reply r;
    char grn[18], grn2[18], path[64];
    t_grn("FUNDS0000001", grn);
    t_grn("FUNDS0000002", grn2);
    char body[256];
    snprintf(body, sizeof body,
             "{\"grn\":\"%s\",\"referenceAmount\":\"250.00\",\"currency\":\"EUR\"}", grn);
    t_post("/v1/guarantees", T.guarantor, body, &r);
    EXPECT(&r, 201, NULL);
    snprintf(path, sizeof path, "/v1/guarantees/%s", grn);
    assert_string_equal(r.location, path);
    assert_string_equal(jstr(r.json, "referenceAmount"), "250.00");
    assert_string_equal(jstr(r.json, "remaining"), "250.00");
    assert_string_equal(jstr(r.json, "guarantor"), T_GUARANTOR);
    reply_free(&r);
    t_post("/v1/guarantees", T.guarantor, body, &r); /* the same again */
    EXPECT(&r, 200, NULL);
    reply_free(&r);
    snprintf(body, sizeof body,
             "{\"grn\":\"%s\",\"referenceAmount\":\"300.00\",\"currency\":\"EUR\"}", grn);
    t_post("/v1/guarantees", T.guarantor, body, &r);
    EXPECT(&r, 409, "guarantee_conflict");
    reply_free(&r);
    snprintf(body, sizeof body,
             "{\"grn\":\"%s\",\"referenceAmount\":\"250.00\",\"currency\":\"EUR\"}", grn);
    t_post("/v1/guarantees", T.guarantor2, body, &r); /* another guarantor */
    EXPECT(&r, 409, "guarantee_conflict");
    reply_free(&r);
    /* only guarantors register */
    t_post("/v1/guarantees", T.trader, body, &r);
    EXPECT(&r, 403, "forbidden");
    EXPECT_PROBLEM(&r, "R-ROLE-005", "");
    reply_free(&r);
    /* invalid requests */
    struct {
        const char *body, *rule, *pointer;
    } bad[] = {
        {"{\"grn\":\"25KZ050100ALA0013\",\"referenceAmount\":\"1.00\",\"currency\":\"EUR\"}",
         "R-GUA-003", "/grn"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"1.005\",\"currency\":\"EUR\"}",
         "R-DEC-001", "/referenceAmount"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"0.00\",\"currency\":\"EUR\"}",
         "R-GUA-005", "/referenceAmount"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"-1\",\"currency\":\"EUR\"}",
         "R-DEC-001", "/referenceAmount"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":100,\"currency\":\"EUR\"}",
         "R-JSON-TYPE", "/referenceAmount"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"1.00\",\"currency\":\"XXQ\"}",
         "R-CUR-001", "/currency"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"1.00\"}", "R-REQ-001", "/currency"},
        {"{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"1.00\",\"currency\":\"EUR\","
         "\"note\":\"x\"}",
         "R-JSON-UNKNOWN", "/note"},
        {"{\"grn\":\"x\",\"grn\":\"y\"}", "R-JSON-DUP", "/grn"},
        {"{\"grn\":", "R-JSON-SYNTAX", ""},
        {"[]", "R-JSON-TYPE", ""},
        {"null", "R-JSON-TYPE", ""},
        {"1", "R-JSON-TYPE", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_post("/v1/guarantees", T.guarantor, bad[i].body, &r);
        EXPECT(&r, 422, "invalid_request");
        EXPECT_PROBLEM(&r, bad[i].rule, bad[i].pointer);
        reply_free(&r);
    }

    /* the ledger: its guarantor, analysts, operators; nobody else */
    const char *may[] = {T.guarantor, T.analyst, T.operator_};
    for (size_t i = 0; i < 3; i++) {
        t_get(path, may[i], &r);
        EXPECT(&r, 200, NULL);
        assert_string_equal(jstr(r.json, "grn"), grn);
        reply_free(&r);
    }
    const char *may_not[] = {T.guarantor2, T.trader, T.dep};
    for (size_t i = 0; i < 3; i++) {
        t_get(path, may_not[i], &r);
        EXPECT(&r, 404, "not_found");
        reply_free(&r);
    }
    t_get("/v1/guarantees/25KZ050100ALA0013", T.analyst, &r);
    EXPECT(&r, 400, "bad_grn");
    reply_free(&r);

    /* reservation: 150 of 250 */
    char mrn[KV_MRN_LEN + 1], mrn2[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "FUND-1", .grn = grn}, mrn);
    t_get(path, T.guarantor, &r);
    assert_string_equal(jstr(r.json, "reserved"), "150.00");
    assert_string_equal(jstr(r.json, "remaining"), "100.00");
    assert_int_equal(json_object_get_int(jget(r.json, "activeUses")), 1);
    reply_free(&r);
    /* exhausted: 422 with the figures */
    char *json = t_decl(&(struct tdecl){.lrn = "FUND-2", .grn = grn, .amount = "100.01"});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "guarantee_insufficient");
    EXPECT_PROBLEM(&r, "R-GUA-103", "/guarantees/0/references/0/grn");
    char want[160];
    snprintf(want, sizeof want, "GRN %s: remaining 100.00 EUR, this declaration needs 100.01 EUR",
             grn);
    assert_string_equal(jstr(r.json, "error/problems/0/message"), want);
    assert_string_equal(jstr(r.json, "error/message"), want);
    reply_free(&r);
    free(json);
    /* exactly the remainder fits */
    t_lodge(&(struct tdecl){.lrn = "FUND-3", .grn = grn, .amount = "100.00"}, mrn2);
    /* unknown GRN, other currency */
    json = t_decl(&(struct tdecl){.lrn = "FUND-4", .grn = grn2});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "guarantee_insufficient");
    EXPECT_PROBLEM(&r, "R-GUA-101", "/guarantees/0/references/0/grn");
    reply_free(&r);
    free(json);
    json = t_decl(&(struct tdecl){.lrn = "FUND-5", .grn = T_GRN, .currency = "USD"});
    t_post("/v1/declarations", T.trader, json, &r);
    EXPECT(&r, 422, "guarantee_insufficient");
    EXPECT_PROBLEM(&r, "R-GUA-102", "/guarantees/0/references/0/grn");
    assert_non_null(strstr(jstr(r.json, "error/message"), "is in EUR"));
    reply_free(&r);
    free(json);

    /* a cancellation frees its reservation */
    t_event_ok(mrn, T.trader, "cancellation", T_DEP,
               "\"initiatedBy\":\"holder\",\"reason\":\"order cancelled\"");
    t_get(path, T.guarantor, &r);
    assert_string_equal(jstr(r.json, "reserved"), "100.00");
    assert_string_equal(jstr(r.json, "remaining"), "150.00");
    assert_int_equal(json_object_get_int(jget(r.json, "activeUses")), 1);
    assert_int_equal(json_object_get_int(jget(r.json, "totalUses")), 2);
    reply_free(&r);
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    t_get(path, T.trader, &r);
    assert_true(json_object_get_boolean(jget(r.json, "guarantees/0/released")));
    reply_free(&r);
}

static void test_tokens(void **state)
{
    (void)state;
    struct reply r;
    t_post("/v1/tokens", T.operator_,
           "{\"role\":\"officer\",\"office\":\"KZ470100\","
           "\"label\":\"Aktau port, shift B\"}",
           &r);
    EXPECT(&r, 201, NULL);
    const char *tok = jstr(r.json, "token");
    assert_non_null(tok);
    assert_true(kv_auth_token_shape_ok(tok, strlen(tok)));
    assert_string_equal(jstr(r.json, "role"), "officer");
    assert_string_equal(jstr(r.json, "office"), "KZ470100");
    assert_string_equal(jstr(r.json, "label"), "Aktau port, shift B");
    char token[KV_TOKEN_LEN + 1];
    snprintf(token, sizeof token, "%s", tok);
    reply_free(&r);
    /* it works, as an officer of that office */
    t_get("/v1/movements?limit=1", token, &r);
    EXPECT(&r, 200, NULL);
    reply_free(&r);
    t_post("/v1/guarantees", token, "{}", &r);
    EXPECT(&r, 403, "forbidden");
    reply_free(&r);

    t_post("/v1/tokens", T.operator_, "{\"role\":\"trader\",\"party\":\"KZ123\"}", &r);
    EXPECT(&r, 201, NULL);
    assert_string_equal(jstr(r.json, "party"), "KZ123");
    reply_free(&r);
    t_post("/v1/tokens", T.operator_, "{\"role\":\"analyst\"}", &r);
    EXPECT(&r, 201, NULL);
    reply_free(&r);

    /* only the operator */
    const char *others[] = {T.trader, T.dep, T.analyst, T.guarantor};
    for (size_t i = 0; i < 4; i++) {
        t_post("/v1/tokens", others[i], "{\"role\":\"analyst\"}", &r);
        EXPECT(&r, 403, "forbidden");
        EXPECT_PROBLEM(&r, "R-ROLE-006", "");
        reply_free(&r);
    }
    /* bindings checked */
    struct {
        const char *body, *rule, *pointer, *message;
    } bad[] = {
        {"{\"role\":\"officer\",\"office\":\"TR343100\"}", "R-TOKEN-001", "/office",
         "office TR343100 is in TR, not in this node's country KZ"},
        {"{\"role\":\"officer\",\"office\":\"KZ999999\"}", "R-TOKEN-001", "/office",
         "office KZ999999 is not in the office registry"},
        {"{\"role\":\"officer\"}", "R-TOKEN-001", "/office", NULL},
        {"{\"role\":\"officer\",\"party\":\"X\",\"office\":\"KZ470100\"}", "R-TOKEN-001", "/party",
         NULL},
        {"{\"role\":\"trader\"}", "R-TOKEN-001", "/party", "a trader needs a party id"},
        {"{\"role\":\"trader\",\"party\":\"has space\"}", "R-TOKEN-001", "/party", NULL},
        {"{\"role\":\"trader\",\"party\":\"123456789012345678\"}", "R-TOKEN-001", "/party", NULL},
        {"{\"role\":\"analyst\",\"party\":\"X\"}", "R-TOKEN-001", "/party", NULL},
        {"{\"role\":\"king\"}", "R-TOKEN-001", "/role", NULL},
        {"{\"role\":\"analyst\",\"label\":\"tab\\there\"}", "R-TOKEN-001", "/label", NULL},
        {"{\"party\":\"X\"}", "R-REQ-001", "/role", NULL},
        {"{\"role\":\"analyst\",\"expires\":\"never\"}", "R-JSON-UNKNOWN", "/expires", NULL},
        {"{\"role\":7}", "R-JSON-TYPE", "/role", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_post("/v1/tokens", T.operator_, bad[i].body, &r);
        EXPECT(&r, 422, "invalid_request");
        EXPECT_PROBLEM(&r, bad[i].rule, bad[i].pointer);
        if (bad[i].message)
            assert_string_equal(jstr(r.json, "error/problems/0/message"), bad[i].message);
        reply_free(&r);
    }
    t_call("POST", "/v1/tokens", T.operator_, "text/plain", "{}", 2, &r);
    EXPECT(&r, 415, "unsupported_media_type");
    reply_free(&r);
}

static void test_malformed_events(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1], path[80], when[32], body[512];
    t_lodge(&(struct tdecl){.lrn = "EVT-BAD"}, mrn);
    snprintf(path, sizeof path, "/v1/movements/%s/events", mrn);
    t_time(when);
    struct reply r;
    struct {
        const char *body, *rule, *pointer;
    } bad[] = {
        {"{\"type\":", "R-EVT-001", NULL},
        {"[]", "R-EVT-003", NULL},
        {"{\"type\":\"teleport\",\"time\":\"%s\",\"office\":\"KZ050200\"}", "R-EVT-010", "/type"},
        {"{\"type\":\"lodged\",\"time\":\"%s\",\"office\":\"KZ050200\"}", "R-EVT-017", "/type"},
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"KZ050200\","
         "\"control\":\"yes\"}",
         "R-EVT-006", "/control"},
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"KZ050200\","
         "\"control\":true,\"urgent\":true}",
         "R-EVT-004", "/urgent"},
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"KZ050200\","
         "\"control\":true,\"actor\":{\"role\":\"node\",\"id\":\"KZ\"}}",
         "R-EVT-017", "/actor"},
        {"{\"type\":\"control_decision\",\"time\":\"2025-02-30T10:00:00Z\",\"office\":"
         "\"KZ050200\",\"control\":true}",
         "R-EVT-011", "/time"},
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"kz050200\","
         "\"control\":true}",
         "R-EVT-012", "/office"},
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"KZ050200\"}", "R-EVT-005",
         "/control"},
        /* ahead of the node's clock by more than 5 minutes */
        {"{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":"
         "\"KZ050200\",\"control\":true}",
         "R-NODE-010", "/time"},
    };
    struct kv_time ahead;
    kv_time_set(&ahead, t_clock() + 301, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, bad[i].body,
                 strcmp(bad[i].rule, "R-NODE-010") == 0 ? ahead.text : when);
        t_post(path, T.dep, body, &r);
        EXPECT(&r, 422, "invalid_event");
        EXPECT_PROBLEM(&r, bad[i].rule, bad[i].pointer);
        reply_free(&r);
    }
    /* 5 minutes ahead is within the skew */
    kv_time_set(&ahead, t_clock() + 300, 0);
    snprintf(body, sizeof body,
             "{\"type\":\"control_decision\",\"time\":\"%s\",\"office\":\"KZ050200\","
             "\"control\":false}",
             ahead.text);
    t_post(path, T.dep, body, &r);
    EXPECT(&r, 201, NULL);
    reply_free(&r);
    t_tick(300);

    t_call("POST", path, T.dep, "application/xml", "<event/>", 8, &r);
    EXPECT(&r, 415, "unsupported_media_type");
    reply_free(&r);
    /* bad MRNs: 400 naming the reason, on every movement route */
    const char *mrns[] = {"25KZ0000000000011J0", "25KZ00000000000%23J0", "25kz000000000001J4",
                          "25KZ000000000001J5", "X"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/v1/movements/%s", mrns[i]);
        t_get(path, T.analyst, &r);
        EXPECT(&r, 400, "bad_mrn");
        reply_free(&r);
        snprintf(path, sizeof path, "/v1/movements/%s/events", mrns[i]);
        t_post(path, T.dep, "{}", &r);
        EXPECT(&r, 400, "bad_mrn");
        reply_free(&r);
    }
    t_get("/v1/movements/25KZ000000000001J5", T.analyst, &r);
    assert_non_null(strstr(jstr(r.json, "error/message"), "check digit"));
    reply_free(&r);
    /* a huge event: 413 */
    size_t big = 2 * 1024 * 1024;
    char *huge = malloc(big);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    snprintf(path, sizeof path, "/v1/movements/%s/events", mrn);
    t_call("POST", path, T.dep, "json", huge, big, &r);
    EXPECT(&r, 413, NULL);
    reply_free(&r);
    free(huge);
    /* wrong methods and unknown paths */
    t_call("DELETE", path, T.dep, NULL, NULL, 0, &r);
    EXPECT(&r, 405, NULL);
    reply_free(&r);
    t_get("/v1/movement", T.dep, &r);
    EXPECT(&r, 404, NULL);
    reply_free(&r);
}

static void test_list_filters(void **state)
{
    (void)state;
    char m1[KV_MRN_LEN + 1], m2[KV_MRN_LEN + 1], m3[KV_MRN_LEN + 1];
    t_tick(3600);
    char since[32];
    t_time(since);
    t_lodge(&(struct tdecl){.lrn = "LIST-1"}, m1);
    t_lodge(&(struct tdecl){.lrn = "LIST-2", .holder = T_HOLDER2}, m2);
    t_lodge(&(struct tdecl){.lrn = "LIST-3", .destination = T_BORDER}, m3);
    t_event_ok(m3, T.dep, "control_decision", T_DEP, "\"control\":true");
    struct reply r;
    char q[256];

    /* an analyst sees all three since `since` */
    snprintf(q, sizeof q, "/v1/movements?since=%s", since);
    t_get(q, T.analyst, &r);
    EXPECT(&r, 200, NULL);
    assert_int_equal(jlen(r.json, "items"), 3);
    assert_string_equal(jstr(r.json, "items/0/mrn"), m1);
    assert_string_equal(jstr(r.json, "items/1/mrn"), m2);
    assert_string_equal(jstr(r.json, "items/2/mrn"), m3);
    assert_string_equal(jstr(r.json, "items/2/state"), "under_control");
    assert_string_equal(jstr(r.json, "items/0/lrn"), "LIST-1");
    assert_string_equal(jstr(r.json, "items/0/grossMass"), "1250.5");
    assert_null(jget(r.json, "next"));
    reply_free(&r);
    /* state and office filters */
    snprintf(q, sizeof q, "/v1/movements?since=%s&state=under_control", since);
    t_get(q, T.analyst, &r);
    assert_int_equal(jlen(r.json, "items"), 1);
    reply_free(&r);
    snprintf(q, sizeof q, "/v1/movements?since=%s&office=" T_BORDER, since);
    t_get(q, T.operator_, &r);
    assert_int_equal(jlen(r.json, "items"), 1);
    assert_string_equal(jstr(r.json, "items/0/mrn"), m3);
    reply_free(&r);
    snprintf(q, sizeof q, "/v1/movements?since=%s&holder=" T_HOLDER2, since);
    t_get(q, T.analyst, &r);
    assert_int_equal(jlen(r.json, "items"), 1);
    reply_free(&r);

    /* a trader's list is its own; another holder's filter gives nothing */
    snprintf(q, sizeof q, "/v1/movements?since=%s", since);
    t_get(q, T.trader2, &r);
    assert_int_equal(jlen(r.json, "items"), 1);
    assert_string_equal(jstr(r.json, "items/0/mrn"), m2);
    reply_free(&r);
    snprintf(q, sizeof q, "/v1/movements?since=%s&holder=" T_HOLDER, since);
    t_get(q, T.trader2, &r);
    EXPECT(&r, 200, NULL);
    assert_int_equal(jlen(r.json, "items"), 0);
    reply_free(&r);
    /* an officer's is its office's */
    snprintf(q, sizeof q, "/v1/movements?since=%s", since);
    t_get(q, T.border, &r);
    assert_int_equal(jlen(r.json, "items"), 1);
    assert_string_equal(jstr(r.json, "items/0/mrn"), m3);
    reply_free(&r);
    t_get(q, T.other, &r);
    assert_int_equal(jlen(r.json, "items"), 0);
    reply_free(&r);
    snprintf(q, sizeof q, "/v1/movements?since=%s&office=" T_DEP, since);
    t_get(q, T.border, &r);
    assert_int_equal(jlen(r.json, "items"), 0);
    reply_free(&r);

    /* bad parameters: 400 naming the parameter */
    const char *bad[] = {"state=flying", "office=KZ05",  "since=yesterday", "limit=0",
                         "limit=501",    "limit=ten",    "overdue=maybe",   "cursor=abc",
                         "colour=red",   "holder=a%20b", "cursor=ZZZZ.ZZZZ"};
    const char *named[] = {"state",   "office", "since",  "limit",  "limit", "limit",
                           "overdue", "cursor", "colour", "holder", "cursor"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(q, sizeof q, "/v1/movements?%s", bad[i]);
        t_get(q, T.analyst, &r);
        EXPECT(&r, 400, "bad_parameter");
        assert_non_null(strstr(jstr(r.json, "error/message"), named[i]));
        reply_free(&r);
    }
}

static void test_metrics(void **state)
{
    (void)state;
    struct reply r;
    t_get("/metrics", NULL, &r);
    EXPECT(&r, 200, NULL);
    assert_non_null(strstr(r.body, "# TYPE kervan_movements gauge\n"));
    assert_non_null(strstr(r.body, "kervan_movements{state=\"accepted\"} "));
    assert_non_null(strstr(r.body, "kervan_movements{state=\"cancelled\"} 1\n"));
    assert_non_null(strstr(r.body, "kervan_store_queue_depth "));
    assert_non_null(strstr(r.body, "# TYPE kervan_store_commits_total counter\n"));
    assert_non_null(strstr(r.body, "kervan_store_batch_size{stat=\"avg\"} "));
    assert_non_null(strstr(r.body, "kervan_http_requests_total{method=\"POST\",route=\"/v1/"
                                   "declarations\",status=\"201\"} "));
    reply_free(&r);
}

/* Every route of the API is a path of docs/openapi.yaml with its method. */
static void test_openapi_has_every_route(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/docs/openapi.yaml", KV_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[256 * 1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "openapi: 3.0.3\n"));
    const char *routes[16];
    size_t nr = 0;
    for (size_t i = 0; kv_api_routes[i]; i++)
        routes[nr++] = kv_api_routes[i];
    assert_int_equal(nr, 9);
    routes[nr++] = "GET /healthz";
    routes[nr++] = "GET /metrics";
    routes[nr++] = "POST /v1/exchange"; /* the corridor's (net/corridor.h) */
    for (size_t i = 0; i < nr; i++) {
        char method[8], p[128], line[160], mline[32];
        assert_int_equal(sscanf(routes[i], "%7s %127s", method, p), 2);
        snprintf(line, sizeof line, "\n  %s:\n", p);
        const char *at = strstr(text, line);
        if (!at)
            fail_msg("docs/openapi.yaml has no path %s", p);
        /* the method key within this path's block (before the next path) */
        for (char *c = method; *c; c++)
            *c = (char)(*c - 'A' + 'a');
        snprintf(mline, sizeof mline, "\n    %s:\n", method);
        const char *next = strstr(at + strlen(line), "\n  /");
        const char *m = strstr(at, mline);
        if (!m || (next && m > next))
            fail_msg("docs/openapi.yaml: %s has no %s", p, method);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_auth),  cmocka_unit_test(test_lodge_and_view),
        cmocka_unit_test(test_need_to_know),     cmocka_unit_test(test_lodge_refusals),
        cmocka_unit_test(test_guarantees),       cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_malformed_events), cmocka_unit_test(test_list_filters),
        cmocka_unit_test(test_metrics),          cmocka_unit_test(test_openapi_has_every_route),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
