/*
 * test_ncts_out.c — codec/ncts_out without shared data: message names, which
 * message applies to which log (KV_ENOTFOUND and what `why` says), the
 * header, what CC029C needs and CC015C does not (KV_EINVAL), escaping, the
 * CC056C functional errors (codes, pointers, reasons, values) and
 * kv_ncts_out_errors_from_report. Schema validity of every message is
 * tested on real data in test_ncts_conformance.c and tests/net/test_api_ncts.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "codec/ncts_cc015c.h"
#include "codec/ncts_out.h"
#include "codec/ncts_schema.h"
#include "core/err.h"

static const char *DECL =
    "{\"lrn\":\"OUT-1\",\"declarationType\":\"T1\",\"additionalDeclarationType\":\"A\","
    "\"security\":\"0\",\"reducedDatasetIndicator\":false,\"bindingItinerary\":false,"
    "\"officeOfDeparture\":\"KZ050200\",\"officeOfDestination\":\"KZ050100\","
    "\"holder\":{\"id\":\"180540001239\",\"name\":\"Tiles & <Co>\"},"
    "\"guarantees\":[{\"type\":\"1\",\"references\":[{\"grn\":\"25KZ050100ALA0012\","
    "\"accessCode\":\"4821\",\"amount\":150.00,\"currency\":\"EUR\"}]}],"
    "\"consignment\":{\"grossMass\":1250.5,\"transportEquipment\":[{\"numberOfSeals\":1,"
    "\"seals\":[\"KZS001\"],\"goodsReferences\":[1]}]},"
    "\"houseConsignments\":[{\"grossMass\":1250.5,\"items\":[{\"declarationGoodsItemNumber\":1,"
    "\"commodity\":{\"description\":\"Ceramic floor tiles\",\"hs\":\"690721\",\"grossMass\":"
    "1250.5},\"packages\":[{\"type\":\"PX\",\"number\":2}]}]}]}";

static const char *MRN = "25KZ000000000001J4";

static struct kv_declaration *decl(const char *json)
{
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    if (kv_decl_from_json(json, strlen(json), &d, &rep) != KV_OK)
        fail_msg("declaration: %s %s", rep.count ? rep.items[0].pointer : "",
                 rep.count ? rep.items[0].message : "");
    kv_report_release(&rep);
    return d;
}

static void event(struct kv_event *ev, enum kv_event_type type, const char *when)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    assert_int_equal(kv_time_parse(when, strlen(when), &ev->time, NULL), KV_OK);
    snprintf(ev->office, sizeof(ev->office), "KZ050200");
    ev->actor.role = KV_ACTOR_OFFICER;
    snprintf(ev->actor.id, sizeof(ev->actor.id), "KZ050200");
}

static const struct kv_ncts_out_header H = {
    .sender = "NTA.KZ", .prepared = "2025-03-01T10:00:00", .message_id = "M1"};

static void names(void **state)
{
    (void)state;
    enum kv_ncts_out t;
    assert_true(kv_ncts_out_from_name("cc029C", &t));
    assert_int_equal(t, KV_NCTS_OUT_CC029C);
    assert_string_equal(kv_ncts_out_name(KV_NCTS_OUT_CC009C), "CC009C");
    assert_false(kv_ncts_out_from_name("CC015C", &t));
    assert_false(kv_ncts_out_from_name("CC029", &t));
    assert_false(kv_ncts_out_from_name("", &t));
    assert_false(kv_ncts_out_from_name(NULL, &t));
    assert_null(kv_ncts_out_name(KV_NCTS_OUT__COUNT));
    for (int i = 0; i < KV_NCTS_OUT__COUNT; i++) {
        assert_true(kv_ncts_out_from_name(kv_ncts_out_name((enum kv_ncts_out)i), &t));
        assert_int_equal(t, i);
    }
}

static int build(enum kv_ncts_out t, const struct kv_declaration *d, const struct kv_event *log,
                 size_t n, char **xml, char *why)
{
    struct kv_ncts_out_movement m = {.mrn = MRN, .d = d, .log = log, .n = n};
    return kv_ncts_out_build(t, &m, &H, xml, NULL, why, 256);
}

static void what_applies_when(void **state)
{
    (void)state;
    struct kv_declaration *d = decl(DECL);
    struct kv_event log[4];
    event(&log[0], KV_EVENT_LODGED, "2025-03-01T10:00:00+05:00");
    char *xml = NULL, why[256];
    /* only CC028C applies to a log that is just lodged */
    assert_int_equal(build(KV_NCTS_OUT_CC028C, d, log, 1, &xml, why), KV_OK);
    assert_non_null(strstr(xml, "<declarationAcceptanceDate>2025-03-01</"));
    free(xml);
    struct {
        enum kv_ncts_out t;
        const char *words;
    } absent[] = {
        {KV_NCTS_OUT_CC029C, "not been released"}, {KV_NCTS_OUT_CC056C, "rejection"},
        {KV_NCTS_OUT_CC060C, "no control"},        {KV_NCTS_OUT_CC182C, "no incident"},
        {KV_NCTS_OUT_CC045C, "written off"},       {KV_NCTS_OUT_CC009C, "invalidated"},
    };
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        xml = NULL;
        assert_int_equal(build(absent[i].t, d, log, 1, &xml, why), KV_ENOTFOUND);
        assert_null(xml);
        if (!strstr(why, absent[i].words))
            fail_msg("%s: %s", kv_ncts_out_name(absent[i].t), why);
    }
    /* an empty log, or one that does not start with lodged */
    assert_int_equal(build(KV_NCTS_OUT_CC028C, d, NULL, 0, &xml, why), KV_ENOTFOUND);
    assert_non_null(strstr(why, "lodged"));
    event(&log[1], KV_EVENT_RELEASE, "2025-03-01T12:00:00+05:00");
    memcpy(log[1].u.release.control_result, "A1", 3);
    assert_int_equal(build(KV_NCTS_OUT_CC029C, d, log + 1, 1, &xml, why), KV_ENOTFOUND);
    /* released: CC029C, with the dates as the offices gave them */
    assert_int_equal(build(KV_NCTS_OUT_CC029C, d, log, 2, &xml, why), KV_OK);
    assert_non_null(strstr(xml, "<ncts:CC029C xmlns:ncts=\"http://ncts.dgtaxud.ec\" "
                                "PhaseID=\"NCTS5.1\">"));
    assert_non_null(strstr(xml, "<releaseDate>2025-03-01</releaseDate>"));
    assert_non_null(strstr(xml, "<MRN>25KZ000000000001J4</MRN>"));
    /* MRN right after LRN; the dates before security; ControlResult before Guarantee */
    assert_true(strstr(xml, "<LRN>") < strstr(xml, "<MRN>"));
    assert_true(strstr(xml, "<releaseDate>") < strstr(xml, "<security>"));
    assert_true(strstr(xml, "<ControlResult>") < strstr(xml, "<Guarantee>"));
    assert_true(strstr(xml, "<Representative>") == NULL);
    /* CC029C requires containerIndicator: written 0 when the declaration has none */
    assert_non_null(strstr(xml, "<containerIndicator>0</containerIndicator>"));
    /* escaped text */
    assert_non_null(strstr(xml, "<name>Tiles &amp; &lt;Co&gt;</name>"));
    free(xml);
    /* a decision not to control is no CC060C; one to control is */
    event(&log[1], KV_EVENT_CONTROL_DECISION, "2025-03-01T10:30:00+05:00");
    assert_int_equal(build(KV_NCTS_OUT_CC060C, d, log, 2, &xml, why), KV_ENOTFOUND);
    log[1].u.control_decision.control = true;
    assert_int_equal(build(KV_NCTS_OUT_CC060C, d, log, 2, &xml, why), KV_OK);
    assert_non_null(strstr(xml, "<controlNotificationDateAndTime>2025-03-01T10:30:00<"));
    free(xml);
    /* CC182C: by position, and a position that is not an incident */
    event(&log[2], KV_EVENT_INCIDENT, "2025-03-02T09:00:00+05:00");
    log[2].u.incident.code = '1';
    snprintf(log[2].u.incident.text, sizeof(log[2].u.incident.text), "detour");
    struct kv_ncts_out_movement m = {.mrn = MRN, .d = d, .log = log, .n = 3, .event = 2};
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC182C, &m, &H, &xml, NULL, why, sizeof(why)),
                     KV_ENOTFOUND);
    assert_non_null(strstr(why, "event 2 of the log is not an incident"));
    m.event = 3;
    assert_int_equal(kv_ncts_out_source(KV_NCTS_OUT_CC182C, &m, NULL, 0), 3);
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC182C, &m, &H, &xml, NULL, why, sizeof(why)),
                     KV_OK);
    /* no place: no Endorsement; no GNSS: qualifier Z */
    assert_null(strstr(xml, "<Endorsement>"));
    assert_non_null(strstr(xml, "<qualifierOfIdentification>Z<"));
    /* no correlation for CC182C */
    assert_null(strstr(xml, "<correlationIdentifier>"));
    free(xml);
    kv_decl_free(d);
}

static void header_and_arguments(void **state)
{
    (void)state;
    struct kv_declaration *d = decl(DECL);
    struct kv_event log[1];
    event(&log[0], KV_EVENT_LODGED, "2025-03-01T10:00:00Z");
    struct kv_ncts_out_movement m = {.mrn = MRN, .d = d, .log = log, .n = 1};
    char *xml = NULL, why[256];
    struct kv_ncts_out_header h = H;
    h.message_id = NULL;
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC028C, &m, &h, &xml, NULL, why, sizeof(why)),
                     KV_EINVAL);
    assert_null(xml);
    assert_non_null(strstr(why, "header"));
    m.mrn = NULL;
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC028C, &m, &H, &xml, NULL, why, sizeof(why)),
                     KV_EINVAL);
    m.mrn = MRN;
    /* recipient: given, else the holder; correlation: given, else the CC015C's id */
    h = H;
    h.recipient = "GB000000000000";
    h.correlation_id = "CORR-7";
    h.compact = true;
    size_t len = 0;
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC028C, &m, &h, &xml, &len, why, sizeof(why)),
                     KV_OK);
    assert_int_equal(len, strlen(xml));
    assert_non_null(strstr(xml, "<messageRecipient>GB000000000000</messageRecipient>"
                                "<preparationDateAndTime>2025-03-01T10:00:00</"
                                "preparationDateAndTime><messageIdentification>M1</"
                                "messageIdentification><messageType>CC028C</messageType>"
                                "<correlationIdentifier>CORR-7</correlationIdentifier>"));
    free(xml);
    assert_int_equal(kv_ncts_out_build(KV_NCTS_OUT_CC028C, &m, &H, &xml, &len, why, sizeof(why)),
                     KV_OK);
    assert_non_null(strstr(xml, "<messageRecipient>180540001239</messageRecipient>"));
    assert_null(strstr(xml, "<correlationIdentifier>"));
    free(xml);
    kv_decl_free(d);
}

static void cc029c_needs(void **state)
{
    (void)state;
    /* a guarantee reference without an amount (CC015C allows it, CC029C does not) */
    char *json = strdup(DECL);
    char *p = strstr(json, ",\"amount\":150.00,\"currency\":\"EUR\"");
    assert_non_null(p);
    memmove(p, p + strlen(",\"amount\":150.00,\"currency\":\"EUR\""),
            strlen(p + strlen(",\"amount\":150.00,\"currency\":\"EUR\"")) + 1);
    struct kv_declaration *d = decl(json);
    free(json);
    struct kv_event log[2];
    event(&log[0], KV_EVENT_LODGED, "2025-03-01T10:00:00Z");
    event(&log[1], KV_EVENT_RELEASE, "2025-03-01T11:00:00Z");
    memcpy(log[1].u.release.control_result, "A1", 3);
    char *xml = NULL, why[256];
    assert_int_equal(build(KV_NCTS_OUT_CC029C, d, log, 2, &xml, why), KV_EINVAL);
    assert_null(xml);
    assert_non_null(strstr(why, "/guarantees/0/references/0"));
    /* the other messages do not need it */
    assert_int_equal(build(KV_NCTS_OUT_CC028C, d, log, 2, &xml, why), KV_OK);
    free(xml);
    kv_decl_free(d);
}

static void cc056c(void **state)
{
    (void)state;
    struct kv_declaration *d = decl(DECL);
    /* errors from a report on the declaration, located in its CC015C */
    char *cc015c = NULL;
    size_t n = 0;
    struct kv_ncts_export_opts eo = {
        .sender = "X", .recipient = "Y", .prepared = "2025-03-01T10:00:00", .message_id = "Z"};
    struct kv_report notes;
    kv_report_init(&notes);
    assert_int_equal(kv_ncts_cc015c_export(d, &eo, &cc015c, &n, &notes), KV_OK);
    kv_report_release(&notes);
    struct kv_ncts_errors pe;
    kv_ncts_errors_init(&pe);
    xmlDocPtr doc = NULL;
    assert_int_equal(kv_ncts_parse(cc015c, n, &doc, &pe), KV_OK);
    free(cc015c);
    struct kv_report rep;
    kv_report_init(&rep);
    kv_report_add(&rep, "R-NODE-001", "/officeOfDeparture", "not in this node's country");
    kv_report_add(&rep, "R-HS-001", "/houseConsignments/0/items/0/commodity/hs", "bad HS");
    kv_report_add(&rep, "R-DECL-003", "/tirCarnetNumber", "TIR carnet missing");
    kv_report_add(&rep, "R-MOV-004", "/seals/1", "seal not declared");
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    kv_ncts_out_errors_from_report(&rep, "CC015C", doc, KV_NCTS_STAGE_DECLARATION, &errs);
    assert_int_equal(errs.count, 4);
    assert_string_equal(errs.items[0].xpath, "/CC015C/CustomsOfficeOfDeparture/referenceNumber");
    assert_true(errs.items[0].has_value);
    assert_string_equal(errs.items[0].value, "KZ050200");
    assert_string_equal(errs.items[1].xpath, "/CC015C/Consignment/HouseConsignment[1]/"
                                             "ConsignmentItem[1]/Commodity/CommodityCode/"
                                             "harmonizedSystemSubHeadingCode");
    assert_string_equal(errs.items[1].value, "690721");
    struct kv_report ev;
    kv_report_init(&ev);
    kv_report_add(&ev, "R-MOV-004", "/seals/1", "seal not declared");
    kv_ncts_out_errors_from_report(&ev, "CC014C", NULL, KV_NCTS_STAGE_MESSAGE, &errs);
    assert_string_equal(errs.items[4].xpath, "/CC014C/seals/1");
    assert_false(errs.items[4].has_value);
    /* a schema error with a CL030 code */
    kv_ncts_errors_add(&errs, KV_NCTS_STAGE_SCHEMA, "51", NULL, "R-XSD-001",
                       "/CC015C/Consignment/countryOfDispatch", 7, "st", "pattern");
    kv_ncts_errors_add(&errs, KV_NCTS_STAGE_SCHEMA, "13", NULL, "R-XSD-001", "", 0, NULL,
                       "missing");

    struct kv_ncts_rejection r = {.lrn = "OUT-1",
                                  .office = "KZ050200",
                                  .d = d,
                                  .rejected = "015",
                                  .rejected_at = "2025-03-01T10:00:01",
                                  .reason = "the declaration has 7 problems",
                                  .errors = &errs};
    char *xml = NULL, why[256];
    assert_int_equal(kv_ncts_out_cc056c(&r, &H, &xml, NULL, why, sizeof(why)), KV_OK);
    assert_non_null(strstr(xml, "<businessRejectionType>015</businessRejectionType>"));
    assert_non_null(strstr(xml, "<rejectionCode>12</rejectionCode>"));
    assert_null(strstr(xml, "<MRN>"));
    /* the NCTS reason when the rule implements one, else kervan's id, short */
    assert_non_null(strstr(xml, "<errorReason>NODE1</errorReason>"));
    assert_non_null(strstr(xml, "<errorReason>MOV4</errorReason>"));
    assert_non_null(strstr(xml, "<errorReason>XSD1</errorReason>"));
    /* a CL030 pattern error (51) is a rule violation (14); missing stays 13 */
    assert_non_null(strstr(xml, "<errorPointer>/CC015C/Consignment/countryOfDispatch</"
                                "errorPointer>\n    <errorCode>14</errorCode>"));
    assert_non_null(strstr(xml, "<errorPointer>/CC015C</errorPointer>\n    <errorCode>13<"));
    assert_non_null(strstr(xml, "<originalAttributeValue>KZ050200</originalAttributeValue>"));
    free(xml);
    /* without an office: no CC056C */
    r.office = NULL;
    assert_int_equal(kv_ncts_out_cc056c(&r, &H, &xml, NULL, why, sizeof(why)), KV_EINVAL);
    /* without a declaration: the holder given */
    r.office = "KZ050200";
    r.d = NULL;
    r.holder_id = "180540001239";
    r.lrn = NULL;
    r.mrn = MRN;
    assert_int_equal(kv_ncts_out_cc056c(&r, &H, &xml, NULL, why, sizeof(why)), KV_OK);
    assert_non_null(strstr(xml, "<HolderOfTheTransitProcedure>\n    <identificationNumber>"
                                "180540001239<"));
    assert_non_null(strstr(xml, "<MRN>25KZ000000000001J4</MRN>"));
    free(xml);
    kv_ncts_errors_release(&errs);
    kv_ncts_errors_release(&pe);
    kv_report_release(&rep);
    kv_report_release(&ev);
    xmlFreeDoc(doc);
    kv_decl_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(what_applies_when),
        cmocka_unit_test(header_and_arguments),
        cmocka_unit_test(cc029c_needs),
        cmocka_unit_test(cc056c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
