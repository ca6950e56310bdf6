/*
 * test_api_ncts.c — NCTS messages over the /v1 API (api_test.h's in-process
 * node): GET /v1/movements/{mrn}/ncts/{message} on movements driven through
 * their lifecycles by the API (so the logs are the store's), every message
 * validated against the P5 XSD of the shared data; need-to-know, unknown
 * names, messages that do not apply yet.
 *
 * Needs the shared XSD folder (KV_SHARED_DATA/ncts-p5-xsd): skipped (77)
 * without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_test.h"

#include "codec/ncts_out.h"
#include "codec/ncts_schema.h"

#define XSD_DIR KV_SHARED_DATA "/ncts-p5-xsd"

static struct kv_ncts_schemas *xsd;

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

/* Fails unless `xml` is a valid `type` under the P5 XSD; prints every error. */
static void valid_as(const char *xml, size_t len, const char *type)
{
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    xmlDocPtr doc = NULL;
    assert_int_equal(kv_ncts_parse(xml, len, &doc, &errs), KV_OK);
    char got[KV_NCTS_TYPE_MAX + 1];
    assert_int_equal(kv_ncts_message_type(doc, got, &errs), KV_OK);
    assert_string_equal(got, type);
    char err[256] = "";
    assert_int_equal(kv_ncts_schema_validate(xsd, doc, type, &errs, err, sizeof err), KV_OK);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s: %s: %s\n", type, errs.items[i].xpath, errs.items[i].message);
    if (!kv_ncts_errors_ok(&errs))
        fail_msg("%s does not validate:\n%s", type, xml);
    xmlFreeDoc(doc);
    kv_ncts_errors_release(&errs);
}

/* GET the message as `token`; returns the status (body in r). */
static long get_msg(const char *mrn, const char *msg, const char *token, struct reply *r)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/movements/%s/ncts/%s", mrn, msg);
    t_get(path, token, r);
    return r->status;
}

/* GET and validate; returns the body (caller frees). */
static char *get_valid(const char *mrn, const char *msg, const char *type)
{
    struct reply r;
    if (get_msg(mrn, msg, T.analyst, &r) != 200)
        fail_msg("GET %s of %s: %ld %s", msg, mrn, r.status, r.body ? r.body : "");
    valid_as(r.body, r.len, type);
    char *body = r.body;
    r.body = NULL;
    reply_free(&r);
    return body;
}

static void expect_absent(const char *mrn, const char *msg, const char *words)
{
    struct reply r;
    get_msg(mrn, msg, T.analyst, &r);
    EXPECT(&r, 404, "no_such_message");
    if (words && !strstr(jstr(r.json, "error/message"), words))
        fail_msg("%s: %s", msg, r.body);
    reply_free(&r);
}

static const char *SEALS_OK = "\"controlResult\":\"A1\",\"seals\":[\"KZS002\",\"KZS001\"]";

static void has(const char *xml, const char *needle)
{
    if (!strstr(xml, needle))
        fail_msg("no %s in\n%s", needle, xml);
}

/* ------------------------------------------------------------------------ */

static void test_accepted_and_released(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-1"}, mrn);

    char *xml = get_valid(mrn, "CC028C", "CC028C");
    has(xml, "<messageSender>NTA.KZ</messageSender>");
    has(xml, "<messageRecipient>" T_HOLDER "</messageRecipient>");
    has(xml, "<messageType>CC028C</messageType>");
    has(xml, "<LRN>NCTS-OUT-1</LRN>");
    char want[64];
    snprintf(want, sizeof want, "<MRN>%s</MRN>", mrn);
    has(xml, want);
    has(xml, "<declarationAcceptanceDate>2025-03-01</declarationAcceptanceDate>");
    has(xml, "<referenceNumber>" T_DEP "</referenceNumber>");
    snprintf(want, sizeof want, "<messageIdentification>%s-028-1<", mrn);
    has(xml, want);
    free(xml);
    /* case-insensitive name, same document but for the preparation time */
    xml = get_valid(mrn, "cc028c", "CC028C");
    free(xml);

    /* not yet */
    expect_absent(mrn, "CC029C", "not been released");
    expect_absent(mrn, "CC045C", "written off");
    expect_absent(mrn, "CC009C", "invalidated");
    expect_absent(mrn, "CC182C", "no incident");
    expect_absent(mrn, "CC060C", "control");
    expect_absent(mrn, "CC056C", "rejection");

    /* a control decision not to control: still no CC060C */
    t_event_ok(mrn, T.dep, "control_decision", T_DEP, "\"control\":false");
    expect_absent(mrn, "CC060C", "control");

    t_event_ok(mrn, T.dep, "release", T_DEP, SEALS_OK);
    xml = get_valid(mrn, "CC029C", "CC029C");
    has(xml, "<declarationAcceptanceDate>2025-03-01</declarationAcceptanceDate>");
    has(xml, "<releaseDate>2025-03-01</releaseDate>");
    has(xml, "<code>A1</code>");
    has(xml, "<controlledBy>" T_DEP "</controlledBy>");
    has(xml, "<identifier>KZS001</identifier>");
    has(xml, "<identifier>KZS002</identifier>");
    has(xml, "<GRN>" T_GRN "</GRN>");
    has(xml, "<harmonizedSystemSubHeadingCode>690721</harmonizedSystemSubHeadingCode>");
    snprintf(want, sizeof want, "<messageIdentification>%s-029-3<", mrn);
    has(xml, want);
    free(xml);
    /* CC028C is still there after release */
    free(get_valid(mrn, "CC028C", "CC028C"));
}

static void test_control_incident_write_off(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-2", .security1 = true, .items = 3}, mrn);
    t_event_ok(mrn, T.dep, "control_decision", T_DEP,
               "\"control\":true,\"reason\":\"risk profile\"");
    char *xml = get_valid(mrn, "CC060C", "CC060C");
    has(xml, "<notificationType>0</notificationType>");
    has(xml, "<controlNotificationDateAndTime>2025-03-01T");
    free(xml);
    t_event_ok(mrn, T.dep, "release", T_DEP,
               "\"controlResult\":\"A2\",\"seals\":[\"KZS001\",\"KZS002\"]");
    xml = get_valid(mrn, "CC029C", "CC029C");
    has(xml, "<code>A2</code>");
    has(xml, "<CountryOfRoutingOfConsignment>");
    free(xml);
}

static void test_incidents(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-3"}, mrn);
    t_event_ok(mrn, T.dep, "release", T_DEP, SEALS_OK);
    t_event_ok(mrn, T.border, "incident", T_BORDER,
               "\"code\":\"2\",\"text\":\"seal KZS002 found cut\",\"place\":\"Dostyk\","
               "\"latitude\":\"45.25000\",\"longitude\":\"82.47000\","
               "\"sealsState\":\"replaced\",\"newSeals\":[\"KZS900\",\"KZS901\"]");
    char *xml = get_valid(mrn, "CC182C", "CC182C");
    has(xml, "<code>2</code>");
    has(xml, "<text>seal KZS002 found cut</text>");
    has(xml, "<qualifierOfIdentification>W</qualifierOfIdentification>");
    has(xml, "<latitude>45.25000</latitude>");
    has(xml, "<numberOfSeals>2</numberOfSeals>");
    has(xml, "<identifier>KZS901</identifier>");
    has(xml, "<CustomsOfficeOfIncidentRegistration>");
    has(xml, "<place>Dostyk</place>");
    free(xml);
    t_event_ok(mrn, T.border, "incident", T_BORDER,
               "\"code\":\"3\",\"text\":\"truck broke down, goods moved\",\"place\":\"Khorgos\","
               "\"sealsState\":\"intact\","
               "\"transhipment\":{\"meansId\":\"KZ-777-ABC\",\"nationality\":\"KZ\"}");
    xml = get_valid(mrn, "CC182C", "CC182C"); /* the latest */
    has(xml, "<code>3</code>");
    has(xml, "<qualifierOfIdentification>Z</qualifierOfIdentification>");
    has(xml, "<identificationNumber>KZ-777-ABC</identificationNumber>");
    has(xml, "<containerIndicator>0</containerIndicator>");
    free(xml);
    /* the first, by its position in the log */
    xml = get_valid(mrn, "CC182C?event=3", "CC182C");
    has(xml, "<code>2</code>");
    free(xml);
    expect_absent(mrn, "CC182C?event=2", "not an incident");
    struct reply r;
    get_msg(mrn, "CC182C?event=zero", T.analyst, &r);
    EXPECT(&r, 400, "bad_parameter");
    reply_free(&r);
}

static void test_written_off(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-4"}, mrn);
    t_event_ok(mrn, T.dep, "release", T_DEP, SEALS_OK);
    t_event_ok(mrn, T.des, "arrival", T_DES, NULL);
    t_event_ok(mrn, T.des, "unloading_remarks", T_DES, "\"conform\":true,\"sealsIntact\":true");
    t_event_ok(mrn, T.dep, "write_off", T_DEP, NULL);
    char *xml = get_valid(mrn, "CC045C", "CC045C");
    has(xml, "<writeOffDate>2025-03-01</writeOffDate>");
    free(xml);
    free(get_valid(mrn, "CC029C", "CC029C"));
    expect_absent(mrn, "CC009C", "invalidated");
}

static void test_invalidated(void **state)
{
    (void)state;
    char a[KV_MRN_LEN + 1], b[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-5"}, a);
    t_event_ok(a, T.trader, "cancellation", T_DEP,
               "\"initiatedBy\":\"holder\",\"reason\":\"wrong truck\"");
    char *xml = get_valid(a, "CC009C", "CC009C");
    has(xml, "<initiatedByCustoms>0</initiatedByCustoms>");
    has(xml, "<requestDateAndTime>");
    has(xml, "<justification>wrong truck</justification>");
    has(xml, "<decision>1</decision>");
    free(xml);
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-6"}, b);
    t_event_ok(b, T.dep, "release", T_DEP, SEALS_OK);
    t_event_ok(b, T.dep, "cancellation", T_DEP,
               "\"initiatedBy\":\"customs\",\"reason\":\"goods never left the yard\"");
    xml = get_valid(b, "CC009C", "CC009C");
    has(xml, "<initiatedByCustoms>1</initiatedByCustoms>");
    assert_null(strstr(xml, "<requestDateAndTime>"));
    free(xml);
}

static void test_access_and_names(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "NCTS-OUT-7"}, mrn);
    struct reply r;
    /* the holder sees its own; another trader, an unrelated office and a
     * guarantor get the 404 of a movement that does not exist */
    assert_int_equal(get_msg(mrn, "CC028C", T.trader, &r), 200);
    reply_free(&r);
    assert_int_equal(get_msg(mrn, "CC028C", T.dep, &r), 200);
    reply_free(&r);
    const char *hidden[] = {T.trader2, T.other, T.guarantor};
    for (size_t i = 0; i < 3; i++) {
        get_msg(mrn, "CC028C", hidden[i], &r);
        EXPECT(&r, 404, "not_found");
        reply_free(&r);
    }
    get_msg(mrn, "CC028C", NULL, &r);
    EXPECT(&r, 401, NULL);
    reply_free(&r);
    get_msg(mrn, "CC015C", T.analyst, &r);
    EXPECT(&r, 400, "bad_message");
    reply_free(&r);
    get_msg(mrn, "CC029", T.analyst, &r);
    EXPECT(&r, 400, "bad_message");
    reply_free(&r);
    get_msg("25KZ0000000000000", "CC028C", T.analyst, &r);
    EXPECT(&r, 400, "bad_mrn");
    reply_free(&r);
    /* a well-formed MRN nobody lodged */
    char ghost[KV_MRN_LEN + 1];
    kv_mrn_make(ghost, 2025, "KZ", 999999, 0);
    get_msg(ghost, "CC028C", T.analyst, &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
}

int main(void)
{
    char err[256];
    if (kv_ncts_schemas_open(XSD_DIR, &xsd, err, sizeof err) != KV_OK) {
        printf("shared data not found at %s: skipping\n", XSD_DIR);
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_and_released),
        cmocka_unit_test(test_control_incident_write_off),
        cmocka_unit_test(test_incidents),
        cmocka_unit_test(test_written_off),
        cmocka_unit_test(test_invalidated),
        cmocka_unit_test(test_access_and_names),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    kv_ncts_schemas_close(xsd);
    return rc;
}
