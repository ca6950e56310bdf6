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

#include "codec/declaration_json.h"
#include "codec/ncts_cc015c.h"
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

/* ---- POST /v1/declarations with a CC015C ----------------------------------------- */

/* t_decl's declaration as a CC015C from the holder to NTA.KZ; caller frees. */
static char *cc015c_of(const struct tdecl *o, const char *msg_id)
{
    char *json = t_decl(o);
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    assert_int_equal(kv_decl_from_json(json, strlen(json), &d, &rep), KV_OK);
    free(json);
    struct kv_ncts_export_opts eo = {.sender = T_HOLDER,
                                     .recipient = "NTA.KZ",
                                     .prepared = "2025-03-01T09:59:00",
                                     .message_id = msg_id,
                                     .indent = 2};
    char *xml = NULL;
    assert_int_equal(kv_ncts_cc015c_export(d, &eo, &xml, NULL, &rep), KV_OK);
    kv_decl_free(d);
    kv_report_release(&rep);
    return xml;
}

static void post_xml(const char *body, const char *accept, struct reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    char url[256], auth[128];
    snprintf(url, sizeof url, "%s/v1/declarations", T.base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", T.trader);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/xml");
    h = curl_slist_append(h, "Expect:");
    if (accept) {
        char a[128];
        snprintf(a, sizeof a, "Accept: %s", accept);
        h = curl_slist_append(h, a);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r->body)
        r->json = json_tokener_parse(r->body);
}

static void test_lodge_xml(void **state)
{
    (void)state;
    T.api.ncts_xsd = xsd;
    char *xml = cc015c_of(&(struct tdecl){.lrn = "NCTS-XML-1"}, "TRADER-MSG-1");
    struct reply r;
    post_xml(xml, NULL, &r);
    EXPECT(&r, 201, NULL);
    char mrn[KV_MRN_LEN + 1];
    snprintf(mrn, sizeof mrn, "%s", jstr(r.json, "mrn"));
    reply_free(&r);
    /* the same message again: the idempotent replay of the JSON path */
    post_xml(xml, NULL, &r);
    EXPECT(&r, 200, NULL);
    assert_string_equal(jstr(r.json, "mrn"), mrn);
    reply_free(&r);
    free(xml);
    /* the CC015C header travels with the declaration: CC028C correlates to it */
    char *out = get_valid(mrn, "CC028C", "CC028C");
    has(out, "<correlationIdentifier>TRADER-MSG-1</correlationIdentifier>");
    free(out);
    char path[64];
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    t_get(path, T.trader, &r);
    assert_string_equal(jstr(r.json, "declaration/ncts/messageIdentification"), "TRADER-MSG-1");
    reply_free(&r);
}

static void test_lodge_xml_rejected(void **state)
{
    (void)state;
    T.api.ncts_xsd = xsd;
    /* a rule: a goods item gross mass over the house's (kervan's rules, CL180) and an
     * office of departure of another country (R-NODE-001) */
    char *xml = cc015c_of(&(struct tdecl){.lrn = "NCTS-XML-2", .departure = "TR000100"}, "M2");
    struct reply r;
    post_xml(xml, NULL, &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-NODE-001", "/CC015C/CustomsOfficeOfDeparture/referenceNumber");
    json_object *np = NULL;
    for (size_t i = 0; i < jlen(r.json, "error/problems"); i++) {
        char k[64];
        snprintf(k, sizeof k, "error/problems/%zu", i);
        const char *rule = jstr(jget(r.json, k), "rule");
        if (rule && strcmp(rule, "R-NODE-001") == 0)
            np = jget(r.json, k);
    }
    assert_non_null(np);
    assert_string_equal(jstr(np, "ncts/stage"), "message");
    assert_string_equal(jstr(np, "ncts/value"), "TR000100");
    assert_string_equal(jstr(np, "ncts/code"), "14");
    /* and the recipient NTA.KZ is not the country of that office (R-MSG-003) */
    EXPECT_PROBLEM(&r, "R-MSG-003", NULL);
    reply_free(&r);
    /* the same, answered as NCTS does: a CC056C */
    post_xml(xml, "application/xml", &r);
    EXPECT(&r, 422, NULL);
    valid_as(r.body, r.len, "CC056C");
    has(r.body, "<LRN>NCTS-XML-2</LRN>");
    has(r.body, "<businessRejectionType>015</businessRejectionType>");
    has(r.body, "<errorPointer>/CC015C/CustomsOfficeOfDeparture/referenceNumber</errorPointer>");
    has(r.body, "<originalAttributeValue>TR000100</originalAttributeValue>");
    has(r.body, "<correlationIdentifier>M2</correlationIdentifier>");
    reply_free(&r);
    free(xml);

    /* the schema stage: an element where none may be */
    xml = cc015c_of(&(struct tdecl){.lrn = "NCTS-XML-3"}, "M3");
    char *bad = malloc(strlen(xml) + 64);
    char *at = strstr(xml, "<TransitOperation>");
    assert_non_null(at);
    snprintf(bad, strlen(xml) + 64, "%.*s<bogus>1</bogus>%s", (int)(at - xml), xml, at);
    post_xml(bad, NULL, &r);
    EXPECT(&r, 422, "invalid_declaration");
    assert_string_equal(jstr(r.json, "error/problems/0/ncts/stage"), "schema");
    assert_string_equal(jstr(r.json, "error/problems/0/rule"), "R-XSD-001");
    reply_free(&r);
    post_xml(bad, "text/xml, application/json;q=0.5", &r);
    EXPECT(&r, 422, NULL);
    valid_as(r.body, r.len, "CC056C");
    has(r.body, "<LRN>NCTS-XML-3</LRN>");
    has(r.body, "<errorReason>XSD1</errorReason>");
    reply_free(&r);
    free(bad);

    /* not XML at all: no office to name, so the JSON answer even for an XML client */
    post_xml("<ncts:CC015C xmlns:ncts=\"http://ncts.dgtaxud.ec\"><unclosed>", "application/xml",
             &r);
    EXPECT(&r, 422, "invalid_declaration");
    EXPECT_PROBLEM(&r, "R-XML-001", NULL);
    reply_free(&r);
    /* a valid NCTS message that is not a declaration */
    char *other = strdup(xml);
    char *p;
    while ((p = strstr(other, "CC015C")) != NULL)
        p[4] = '4'; /* CC015C → CC014C: the schema refuses it long before */
    post_xml(other, NULL, &r);
    EXPECT(&r, 422, "invalid_declaration");
    reply_free(&r);
    free(other);
    free(xml);

    /* a JSON lodge whose client accepts XML is rejected with a CC056C too */
    char *json = t_decl(&(struct tdecl){.lrn = "NCTS-JSON-4", .departure = "TR000100"});
    struct reply j;
    memset(&j, 0, sizeof j);
    {
        CURL *c = curl_easy_init();
        char url[256], auth[128];
        snprintf(url, sizeof url, "%s/v1/declarations", T.base);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", T.trader);
        struct curl_slist *h = curl_slist_append(NULL, auth);
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Accept: application/xml");
        h = curl_slist_append(h, "Expect:");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &j);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &j.status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
    }
    assert_int_equal(j.status, 422);
    valid_as(j.body, j.len, "CC056C");
    has(j.body, "<errorReason>NODE1</errorReason>");
    has(j.body, "<originalAttributeValue>TR000100</originalAttributeValue>");
    reply_free(&j);
    free(json);
}

static void test_lodge_xml_without_xsd(void **state)
{
    (void)state;
    T.api.ncts_xsd = NULL;
    char *xml = cc015c_of(&(struct tdecl){.lrn = "NCTS-XML-5"}, "M5");
    struct reply r;
    post_xml(xml, NULL, &r);
    EXPECT(&r, 415, "unsupported_media_type");
    assert_non_null(strstr(jstr(r.json, "error/message"), "no NCTS XSD folder"));
    reply_free(&r);
    free(xml);
    T.api.ncts_xsd = xsd;
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
        cmocka_unit_test(test_lodge_xml),
        cmocka_unit_test(test_lodge_xml_rejected),
        cmocka_unit_test(test_lodge_xml_without_xsd),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    kv_ncts_schemas_close(xsd);
    return rc;
}
