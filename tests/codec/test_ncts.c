/*
 * test_ncts.c — tests of the NCTS XML codecs that need no shared data:
 * hardened parsing (DOCTYPE, entities, depth, size), message types and the
 * Phase 4 refusal, the XSD folder machinery on a small schema written by
 * the test (lazy compilation, CL030 codes, locations with indexes, lines,
 * values, a schema that does not compile, concurrent validation), the
 * CC015C mapping both ways on a hand-made document (exact output, kept
 * elements, overrides), export notes and errors, JSON pointer → XPath, the
 * "ncts" member of the JSON form, and the message rules (MRN, R0410,
 * C0467, recipient, node country, sequence numbers) with their CL180 codes.
 * The conformance suite over the published examples is test_ncts_conformance.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/declaration_json.h"
#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "codec/ncts_schema.h"
#include "core/declaration.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* Replaces the first occurrence of `from` in s (malloc'd) by `to`; fails when absent. */
static char *replace(char *s, const char *from, const char *to)
{
    char *at = strstr(s, from);
    if (!at)
        fail_msg("\"%s\" not found", from);
    size_t a = (size_t)(at - s), fl = strlen(from), tl = strlen(to), n = strlen(s);
    char *r = malloc(n - fl + tl + 1);
    assert_non_null(r);
    memcpy(r, s, a);
    memcpy(r + a, to, tl);
    memcpy(r + a + tl, at + fl, n - a - fl + 1);
    free(s);
    return r;
}

static void dump_errors(const struct kv_ncts_errors *e)
{
    for (size_t i = 0; i < e->count; i++) {
        const struct kv_ncts_error *x = &e->items[i];
        printf("  [%s %s %s %s] line %ld %s %s%s: %s\n", kv_ncts_stage_name(x->stage), x->code,
               x->reason, x->rule, x->line, x->xpath, x->has_value ? "value=" : "",
               x->has_value ? x->value : "", x->message);
    }
}

/* The error with this rule and location; fails when there is none. */
static const struct kv_ncts_error *find_error(const struct kv_ncts_errors *e, const char *rule,
                                              const char *xpath)
{
    for (size_t i = 0; i < e->count; i++)
        if (strcmp(e->items[i].rule, rule) == 0 && strcmp(e->items[i].xpath, xpath) == 0)
            return &e->items[i];
    dump_errors(e);
    fail_msg("no %s at %s", rule, xpath);
    return NULL;
}

/* Runs the stages without a schema folder on an inline document. */
static void check_inline(const char *xml, const struct kv_ncts_check_opts *o,
                         struct kv_ncts_result *r)
{
    kv_ncts_result_init(r);
    char err[256];
    assert_int_equal(kv_ncts_check(NULL, xml, strlen(xml), o, r, err, sizeof(err)), KV_OK);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

static void expect_refused(const char *xml, int rc, const char *rule, const char *code)
{
    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    xmlDocPtr doc = (xmlDocPtr)0x1;
    assert_int_equal(kv_ncts_parse(xml, strlen(xml), &doc, &e), rc);
    assert_null(doc);
    if (e.count != 1) {
        dump_errors(&e);
        fail_msg("expected one error for %.60s", xml);
    }
    assert_string_equal(e.items[0].rule, rule);
    assert_string_equal(e.items[0].code, code);
    assert_int_equal(e.items[0].stage, KV_NCTS_STAGE_XML);
    kv_ncts_errors_release(&e);
}

static void parse_hardening(void **state)
{
    (void)state;
    /* Entity expansion, external entities and external DTDs never start: any DOCTYPE is refused. */
    expect_refused(
        "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;\">"
        "]><r>&c;&c;&c;</r>",
        KV_EPARSE, "R-XML-002", "52");
    expect_refused("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>", KV_EPARSE,
                   "R-XML-002", "52");
    expect_refused("<!DOCTYPE r SYSTEM \"http://127.0.0.1:9/x.dtd\"><r/>", KV_EPARSE, "R-XML-002",
                   "52");
    /* Not well-formed. */
    expect_refused("<r>&undefined;</r>", KV_EPARSE, "R-XML-001", "52");
    expect_refused("hello", KV_EPARSE, "R-XML-001", "52");
    expect_refused("", KV_EPARSE, "R-XML-001", "52");
    expect_refused("<r></s>", KV_EPARSE, "R-XML-001", "52");
    expect_refused("<r>\xff\xfe</r>", KV_EPARSE, "R-XML-001", "53");

    /* Nesting: libxml2's default limit of 256 levels holds. */
    char deep[300 * 7 + 8];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "</a>");
    assert_true(n < sizeof(deep));
    expect_refused(deep, KV_EPARSE, "R-XML-001", "52");
    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    xmlDocPtr doc = NULL;
    n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, "</a>");
    assert_int_equal(kv_ncts_parse(deep, n, &doc, &e), KV_OK);
    xmlFreeDoc(doc);

    /* Size: refused before parsing. */
    size_t big = KV_NCTS_XML_MAX + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    assert_int_equal(kv_ncts_parse(buf, big, &doc, &e), KV_ELIMIT);
    assert_null(doc);
    assert_string_equal(e.items[0].rule, "R-XML-003");
    free(buf);
    kv_ncts_errors_release(&e);

    /* XInclude is not processed: the include stays an element. */
    static const char xi[] = "<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
                             "<xi:include href=\"/etc/passwd\" parse=\"text\"/></r>";
    kv_ncts_errors_init(&e);
    assert_int_equal(kv_ncts_parse(xi, strlen(xi), &doc, &e), KV_OK);
    xmlChar *content = xmlNodeGetContent(xmlDocGetRootElement(doc));
    assert_string_equal((const char *)content, "");
    xmlFree(content);
    xmlFreeDoc(doc);
    assert_true(kv_ncts_errors_ok(&e));
}

static void message_types(void **state)
{
    (void)state;
    static const struct {
        const char *xml, *rule, *type;
    } cases[] = {
        {"<ncts:CC015C xmlns:ncts=\"http://ncts.dgtaxud.ec\"/>", NULL, "CC015C"},
        {"<CC015C xmlns=\"http://ncts.dgtaxud.ec\"/>", NULL, "CC015C"},
        {"<CC015B><SynIdeMES1>UNOC</SynIdeMES1></CC015B>", "R-XML-005", ""},
        {"<CC007A/>", "R-XML-005", ""},
        {"<CC015C/>", "R-XML-004", ""},
        {"<ncts:CC015C xmlns:ncts=\"http://example.com\"/>", "R-XML-004", ""},
        {"<ncts:Declaration xmlns:ncts=\"http://ncts.dgtaxud.ec\"/>", "R-XML-004", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv_ncts_errors e;
        kv_ncts_errors_init(&e);
        xmlDocPtr doc = NULL;
        assert_int_equal(kv_ncts_parse(cases[i].xml, strlen(cases[i].xml), &doc, &e), KV_OK);
        char type[KV_NCTS_TYPE_MAX + 1];
        int rc = kv_ncts_message_type(doc, type, &e);
        assert_string_equal(type, cases[i].type);
        if (cases[i].rule) {
            assert_int_equal(rc, KV_EPARSE);
            assert_int_equal(e.count, 1);
            assert_string_equal(e.items[0].rule, cases[i].rule);
        } else {
            assert_int_equal(rc, KV_OK);
            assert_int_equal(e.count, 0);
        }
        if (strcmp(cases[i].xml, "<CC007A/>") == 0)
            assert_non_null(strstr(e.items[0].message, "Phase 4 messages are not accepted"));
        xmlFreeDoc(doc);
        kv_ncts_errors_release(&e);
    }
}

/* ------------------------------------------------------------------ */
/* A schema folder written by the test                                */
/* ------------------------------------------------------------------ */

static const char xsd_901[] =
    "<?xml version=\"1.0\"?>\n"
    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns=\"http://ncts.dgtaxud.ec\"\n"
    "    targetNamespace=\"http://ncts.dgtaxud.ec\" elementFormDefault=\"unqualified\">\n"
    "  <xs:include schemaLocation=\"types901.xsd\"/>\n"
    "  <xs:element name=\"CC901C\">\n"
    "    <xs:complexType>\n"
    "      <xs:sequence>\n"
    "        <xs:element name=\"messageSender\" type=\"SenderType\"/>\n"
    "        <xs:element name=\"Item\" maxOccurs=\"9\">\n"
    "          <xs:complexType><xs:sequence>\n"
    "            <xs:element name=\"code\" type=\"CodeType\"/>\n"
    "            <xs:element name=\"count\" minOccurs=\"0\" type=\"CountType\"/>\n"
    "          </xs:sequence></xs:complexType>\n"
    "        </xs:element>\n"
    "      </xs:sequence>\n"
    "      <xs:attribute name=\"PhaseID\" type=\"xs:string\"/>\n"
    "    </xs:complexType>\n"
    "  </xs:element>\n"
    "</xs:schema>\n";

static const char xsd_types[] =
    "<?xml version=\"1.0\"?>\n"
    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns=\"http://ncts.dgtaxud.ec\"\n"
    "    targetNamespace=\"http://ncts.dgtaxud.ec\" elementFormDefault=\"unqualified\">\n"
    "  <xs:simpleType name=\"SenderType\"><xs:restriction base=\"xs:string\">\n"
    "    <xs:pattern value=\".{1,3}\"/></xs:restriction></xs:simpleType>\n"
    "  <xs:simpleType name=\"CodeType\"><xs:restriction base=\"xs:token\">\n"
    "    <xs:enumeration value=\"A\"/><xs:enumeration value=\"B\"/></xs:restriction>\n"
    "  </xs:simpleType>\n"
    "  <xs:simpleType name=\"CountType\"><xs:restriction base=\"xs:integer\">\n"
    "    <xs:maxInclusive value=\"10\"/></xs:restriction></xs:simpleType>\n"
    "</xs:schema>\n";

/* A message schema that does not compile: its type is never defined. */
static const char xsd_902[] =
    "<?xml version=\"1.0\"?>\n"
    "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns=\"http://ncts.dgtaxud.ec\"\n"
    "    targetNamespace=\"http://ncts.dgtaxud.ec\">\n"
    "  <xs:element name=\"CC902C\" type=\"NoSuchType\"/>\n"
    "</xs:schema>\n";

static const char doc_901_valid[] = "<ncts:CC901C xmlns:ncts=\"http://ncts.dgtaxud.ec\">"
                                    "<messageSender>ab</messageSender>"
                                    "<Item><code>A</code></Item><Item><code> B </code>"
                                    "<count>10</count></Item></ncts:CC901C>";

static const char doc_901_invalid[] = "<ncts:CC901C xmlns:ncts=\"http://ncts.dgtaxud.ec\">\n"
                                      "<messageSender>toolong</messageSender>\n"
                                      "<Item><code>A</code></Item>\n"
                                      "<Item><code>C</code>\n"
                                      "<count>11</count></Item>\n"
                                      "<Item></Item>\n"
                                      "<Other/>\n"
                                      "</ncts:CC901C>";

static void make_folder(char *dir)
{
    assert_non_null(mkdtemp(dir));
    write_file(dir, "cc901c.xsd", xsd_901);
    write_file(dir, "types901.xsd", xsd_types);
    write_file(dir, "cc902c.xsd", xsd_902);
}

static void remove_folder(const char *dir)
{
    const char *names[] = {"cc901c.xsd", "types901.xsd", "cc902c.xsd"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static int validate_text(struct kv_ncts_schemas *s, const char *xml, struct kv_ncts_errors *e,
                         char *err, size_t errsz)
{
    xmlDocPtr doc = NULL;
    int rc = kv_ncts_parse(xml, strlen(xml), &doc, e);
    if (rc != KV_OK)
        return rc;
    char type[KV_NCTS_TYPE_MAX + 1];
    rc = kv_ncts_message_type(doc, type, e);
    if (rc == KV_OK)
        rc = kv_ncts_schema_validate(s, doc, type, e, err, errsz);
    xmlFreeDoc(doc);
    return rc;
}

static void schema_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/kv-ncts-test-XXXXXX";
    make_folder(dir);
    char err[512];
    struct kv_ncts_schemas *s = NULL;
    assert_int_equal(kv_ncts_schemas_open(dir, &s, err, sizeof(err)), KV_OK);
    assert_string_equal(kv_ncts_schemas_dir(s), dir);
    assert_int_equal(kv_ncts_schemas_count(s), 2);
    assert_string_equal(kv_ncts_schemas_type_at(s, 0), "CC901C");
    assert_string_equal(kv_ncts_schemas_type_at(s, 1), "CC902C");
    assert_null(kv_ncts_schemas_type_at(s, 2));
    assert_true(kv_ncts_schemas_has(s, "CC902C"));
    assert_false(kv_ncts_schemas_has(s, "CC015C"));
    assert_true(kv_ncts_schemas_repeats(s, "Item"));
    assert_false(kv_ncts_schemas_repeats(s, "messageSender"));

    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    assert_int_equal(validate_text(s, doc_901_valid, &e, err, sizeof(err)), KV_OK);
    if (!kv_ncts_errors_ok(&e))
        dump_errors(&e);
    assert_true(kv_ncts_errors_ok(&e));

    assert_int_equal(validate_text(s, doc_901_invalid, &e, err, sizeof(err)), KV_OK);
    const struct kv_ncts_error *x = find_error(&e, "R-XSD-001", "/CC901C/messageSender");
    assert_string_equal(x->code, "51"); /* pattern */
    assert_int_equal(x->line, 2);
    assert_true(x->has_value);
    assert_string_equal(x->value, "toolong");
    assert_int_equal(x->stage, KV_NCTS_STAGE_SCHEMA);
    x = find_error(&e, "R-XSD-001", "/CC901C/Item[2]/code");
    assert_string_equal(x->code, "12"); /* enumeration */
    assert_string_equal(x->value, "C");
    assert_int_equal(x->line, 4);
    x = find_error(&e, "R-XSD-001", "/CC901C/Item[2]/count");
    assert_string_equal(x->code, "55"); /* maxInclusive */
    assert_int_equal(x->line, 5);
    x = find_error(&e, "R-XSD-001", "/CC901C/Item[3]");
    assert_string_equal(x->code, "13"); /* missing child */
    x = find_error(&e, "R-XSD-001", "/CC901C/Other");
    assert_string_equal(x->code, "15"); /* not expected here */
    assert_int_equal(x->line, 7);
    kv_ncts_errors_release(&e);

    /* A schema that does not compile: an environment error, said once and remembered. */
    assert_int_equal(kv_ncts_schemas_compile(s, "CC902C", err, sizeof(err)), KV_EIO);
    assert_non_null(strstr(err, "cc902c.xsd"));
    kv_ncts_errors_init(&e);
    static const char doc902[] = "<ncts:CC902C xmlns:ncts=\"http://ncts.dgtaxud.ec\"/>";
    assert_int_equal(validate_text(s, doc902, &e, err, sizeof(err)), KV_EIO);
    assert_int_equal(e.count, 0);
    assert_int_equal(kv_ncts_schemas_compile_all(s, err, sizeof(err)), KV_EIO);
    /* A message with no schema in the folder. */
    static const char doc903[] = "<ncts:CC903C xmlns:ncts=\"http://ncts.dgtaxud.ec\"/>";
    assert_int_equal(validate_text(s, doc903, &e, err, sizeof(err)), KV_ENOTFOUND);
    find_error(&e, "R-XML-004", "/CC903C");
    assert_int_equal(kv_ncts_schemas_compile(s, "CC903C", err, sizeof(err)), KV_ENOTFOUND);
    kv_ncts_errors_release(&e);
    kv_ncts_schemas_close(s);
    kv_ncts_schemas_close(NULL);

    /* Folders that cannot be used. */
    assert_int_equal(kv_ncts_schemas_open("/nonexistent/kervan", &s, err, sizeof(err)), KV_EIO);
    assert_null(s);
    assert_non_null(strstr(err, "not a readable directory"));
    assert_int_equal(kv_ncts_schemas_open("", &s, err, sizeof(err)), KV_EIO);
    char empty[] = "/tmp/kv-ncts-empty-XXXXXX";
    assert_non_null(mkdtemp(empty));
    assert_int_equal(kv_ncts_schemas_open(empty, &s, err, sizeof(err)), KV_EIO);
    assert_non_null(strstr(err, "no message schema"));
    rmdir(empty);
    remove_folder(dir);
}

struct worker {
    struct kv_ncts_schemas *s;
    int runs;
    int failures;
};

static void *validate_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->runs; i++) {
        struct kv_ncts_errors e;
        kv_ncts_errors_init(&e);
        char err[256];
        const char *xml = i % 2 ? doc_901_invalid : doc_901_valid;
        int rc = validate_text(w->s, xml, &e, err, sizeof(err));
        size_t want = i % 2 ? 5 : 0;
        if (rc != KV_OK || e.total != want)
            w->failures++;
        kv_ncts_errors_release(&e);
    }
    return NULL;
}

/* Four threads share one handle from the start: the first compile races, validation is shared. */
static void concurrent_validation(void **state)
{
    (void)state;
    char dir[] = "/tmp/kv-ncts-test-XXXXXX";
    make_folder(dir);
    char err[512];
    struct kv_ncts_schemas *s = NULL;
    assert_int_equal(kv_ncts_schemas_open(dir, &s, err, sizeof(err)), KV_OK);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){s, 100, 0};
        assert_int_equal(pthread_create(&t[i], NULL, validate_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    kv_ncts_schemas_close(s);
    remove_folder(dir);
}

/* ------------------------------------------------------------------ */
/* CC015C both ways                                                    */
/* ------------------------------------------------------------------ */

/* A hand-made CC015C (schema-valid, P5 XSD 51.8.6): modelled members, kept elements at
 * several levels, text that needs escaping, a goods item number that is not its position. */
static const char mini[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- a hand-made CC015C: modelled and unmodelled elements -->\n"
    "<ncts:CC015C xmlns:ncts=\"http://ncts.dgtaxud.ec\" PhaseID=\"NCTS5.1\">\n"
    "  <messageSender>KZ180540001239</messageSender>\n"
    "  <messageRecipient>NTA.KZ</messageRecipient>\n"
    "  <preparationDateAndTime>2025-04-07T09:30:00</preparationDateAndTime>\n"
    "  <messageIdentification>STL-0417</messageIdentification>\n"
    "  <messageType>CC015C</messageType>\n"
    "  <correlationIdentifier>CORR-1</correlationIdentifier>\n"
    "  <TransitOperation>\n"
    "    <LRN>STL25AK0417</LRN>\n"
    "    <declarationType>T1</declarationType>\n"
    "    <additionalDeclarationType>A</additionalDeclarationType>\n"
    "    "
    "<presentationOfTheGoodsDateAndTime>2025-04-07T08:00:00</presentationOfTheGoodsDateAndTime>\n"
    "    <security>0</security>\n"
    "    <reducedDatasetIndicator>0</reducedDatasetIndicator>\n"
    "    <specificCircumstanceIndicator>A20</specificCircumstanceIndicator>\n"
    "    <bindingItinerary>0</bindingItinerary>\n"
    "    <limitDate>2025-04-22</limitDate>\n"
    "  </TransitOperation>\n"
    "  <Authorisation>\n"
    "    <sequenceNumber>1</sequenceNumber>\n"
    "    <type>C521</type>\n"
    "    <referenceNumber>KZ-ACP-1</referenceNumber>\n"
    "  </Authorisation>\n"
    "  <Authorisation>\n"
    "    <sequenceNumber>2</sequenceNumber>\n"
    "    <type>C523</type>\n"
    "    <referenceNumber>KZ-SSE-2</referenceNumber>\n"
    "  </Authorisation>\n"
    "  <CustomsOfficeOfDeparture>\n"
    "    <referenceNumber>KZ050100</referenceNumber>\n"
    "  </CustomsOfficeOfDeparture>\n"
    "  <CustomsOfficeOfDestinationDeclared>\n"
    "    <referenceNumber>KZ470100</referenceNumber>\n"
    "  </CustomsOfficeOfDestinationDeclared>\n"
    "  <HolderOfTheTransitProcedure>\n"
    "    <identificationNumber>KZ180540001239</identificationNumber>\n"
    "    <name>Steppe &amp; Sons</name>\n"
    "    <Address>\n"
    "      <streetAndNumber>Dostyk 188</streetAndNumber>\n"
    "      <city>Almaty</city>\n"
    "      <country>KZ</country>\n"
    "    </Address>\n"
    "  </HolderOfTheTransitProcedure>\n"
    "  <Guarantee>\n"
    "    <sequenceNumber>1</sequenceNumber>\n"
    "    <guaranteeType>1</guaranteeType>\n"
    "    <GuaranteeReference>\n"
    "      <sequenceNumber>1</sequenceNumber>\n"
    "      <GRN>25KZ050100ALA0012</GRN>\n"
    "      <accessCode>4821</accessCode>\n"
    "      <amountToBeCovered>1000.000000</amountToBeCovered>\n"
    "      <currency>USD</currency>\n"
    "    </GuaranteeReference>\n"
    "  </Guarantee>\n"
    "  <Consignment>\n"
    "    <grossMass>1000.500000</grossMass>\n"
    "    <Consignee>\n"
    "      <name>Anatolia Import</name>\n"
    "      <Address>\n"
    "        <streetAndNumber>Liman 1</streetAndNumber>\n"
    "        <city>Aktau</city>\n"
    "        <country>KZ</country>\n"
    "      </Address>\n"
    "    </Consignee>\n"
    "    <PreviousDocument>\n"
    "      <sequenceNumber>1</sequenceNumber>\n"
    "      <type>N821</type>\n"
    "      <referenceNumber>EXP-2025-1</referenceNumber>\n"
    "    </PreviousDocument>\n"
    "    <HouseConsignment>\n"
    "      <sequenceNumber>1</sequenceNumber>\n"
    "      <grossMass>1000.5</grossMass>\n"
    "      <ConsignmentItem>\n"
    "        <goodsItemNumber>1</goodsItemNumber>\n"
    "        <declarationGoodsItemNumber>1</declarationGoodsItemNumber>\n"
    "        <declarationType>T1</declarationType>\n"
    "        <Commodity>\n"
    "          <descriptionOfGoods>Cotton &lt;raw&gt;</descriptionOfGoods>\n"
    "          <cusCode>0000001-1</cusCode>\n"
    "          <CommodityCode>\n"
    "            <harmonizedSystemSubHeadingCode>520100</harmonizedSystemSubHeadingCode>\n"
    "            <combinedNomenclatureCode>00</combinedNomenclatureCode>\n"
    "          </CommodityCode>\n"
    "          <GoodsMeasure>\n"
    "            <grossMass>600</grossMass>\n"
    "            <netMass>590.25</netMass>\n"
    "            <supplementaryUnits>12</supplementaryUnits>\n"
    "          </GoodsMeasure>\n"
    "        </Commodity>\n"
    "        <Packaging>\n"
    "          <sequenceNumber>1</sequenceNumber>\n"
    "          <typeOfPackages>BL</typeOfPackages>\n"
    "          <numberOfPackages>12</numberOfPackages>\n"
    "          <shippingMarks>STL 1-12</shippingMarks>\n"
    "        </Packaging>\n"
    "      </ConsignmentItem>\n"
    "      <ConsignmentItem>\n"
    "        <goodsItemNumber>7</goodsItemNumber>\n"
    "        <declarationGoodsItemNumber>2</declarationGoodsItemNumber>\n"
    "        <Commodity>\n"
    "          <descriptionOfGoods>Wool</descriptionOfGoods>\n"
    "          <CommodityCode>\n"
    "            <harmonizedSystemSubHeadingCode>510111</harmonizedSystemSubHeadingCode>\n"
    "          </CommodityCode>\n"
    "          <GoodsMeasure>\n"
    "            <grossMass>400</grossMass>\n"
    "          </GoodsMeasure>\n"
    "        </Commodity>\n"
    "        <Packaging>\n"
    "          <sequenceNumber>1</sequenceNumber>\n"
    "          <typeOfPackages>BL</typeOfPackages>\n"
    "          <numberOfPackages>8</numberOfPackages>\n"
    "          <shippingMarks>STL 13-20</shippingMarks>\n"
    "        </Packaging>\n"
    "        <AdditionalInformation>\n"
    "          <sequenceNumber>1</sequenceNumber>\n"
    "          <code>30600</code>\n"
    "          <text>line one\n"
    "line two</text>\n"
    "        </AdditionalInformation>\n"
    "      </ConsignmentItem>\n"
    "    </HouseConsignment>\n"
    "  </Consignment>\n"
    "</ncts:CC015C>\n";

/* What export writes for `mini`: the same, without the comment, the amount as n..16,2. */
static char *mini_exported(void)
{
    char *s = strdup(mini);
    assert_non_null(s);
    s = replace(s, "<!-- a hand-made CC015C: modelled and unmodelled elements -->\n", "");
    s = replace(s, "<amountToBeCovered>1000.000000<", "<amountToBeCovered>1000.00<");
    return s;
}

static char *export_text(const struct kv_declaration *d, const struct kv_ncts_export_opts *o,
                         struct kv_report *notes)
{
    char *xml = NULL;
    size_t len = 0;
    int rc = kv_ncts_cc015c_export(d, o, &xml, &len, notes);
    if (rc != KV_OK) {
        for (size_t i = 0; i < notes->count; i++)
            printf("  %s: %s: %s\n", notes->items[i].pointer, notes->items[i].rule,
                   notes->items[i].message);
        fail_msg("export failed: %d", rc);
    }
    assert_int_equal(strlen(xml), len);
    return xml;
}

static struct kv_declaration *import_text(const char *xml, struct kv_report *rep)
{
    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    xmlDocPtr doc = NULL;
    assert_int_equal(kv_ncts_parse(xml, strlen(xml), &doc, &e), KV_OK);
    kv_ncts_errors_release(&e);
    struct kv_declaration *d = NULL;
    kv_report_init(rep);
    assert_int_equal(kv_ncts_cc015c_import(doc, &d, rep), KV_OK);
    xmlFreeDoc(doc);
    assert_non_null(d);
    return d;
}

static const char *dec_text(const struct kv_decimal *d, char *buf, size_t sz)
{
    assert_non_null(d);
    assert_true(kv_dec_format_written(d, buf, sz) > 0);
    return buf;
}

static void cc015c_both_ways(void **state)
{
    (void)state;
    struct kv_report rep;
    struct kv_declaration *d = import_text(mini, &rep);
    assert_true(kv_report_ok(&rep));
    char t[KV_DEC_TEXT_MAX];
    assert_string_equal(d->lrn, "STL25AK0417");
    assert_string_equal(d->office_of_departure, "KZ050100");
    assert_int_equal(d->reduced_dataset, KV_YESNO_NO);
    assert_string_equal(d->holder->name, "Steppe & Sons");
    assert_string_equal(d->holder->address->city, "Almaty");
    assert_int_equal(d->n_guarantees, 1);
    assert_string_equal(dec_text(d->guarantees[0].refs[0].amount, t, sizeof(t)), "1000.00");
    assert_string_equal(dec_text(d->consignment->gross_mass, t, sizeof(t)), "1000.500000");
    assert_string_equal(d->consignment->consignee->name, "Anatolia Import");
    assert_int_equal(d->n_houses, 1);
    assert_string_equal(dec_text(d->houses[0].gross_mass, t, sizeof(t)), "1000.5");
    assert_int_equal(d->houses[0].n_items, 2);
    const struct kv_item *it = &d->houses[0].items[0];
    assert_int_equal(it->number.value, 1);
    assert_string_equal(it->commodity->description, "Cotton <raw>");
    assert_string_equal(it->commodity->hs, "520100");
    assert_string_equal(dec_text(it->commodity->net_mass, t, sizeof(t)), "590.25");
    assert_int_equal(it->packages[0].number.value, 12);
    assert_int_equal(d->houses[0].items[1].number.value, 2);

    const struct kv_ncts_info *n = d->ncts;
    assert_non_null(n);
    assert_string_equal(n->sender, "KZ180540001239");
    assert_string_equal(n->recipient, "NTA.KZ");
    assert_string_equal(n->prepared, "2025-04-07T09:30:00");
    assert_string_equal(n->message_id, "STL-0417");
    assert_string_equal(n->correlation_id, "CORR-1");
    assert_string_equal(n->phase_id, "NCTS5.1");
    static const char *const paths[] = {
        "/CC015C/TransitOperation/presentationOfTheGoodsDateAndTime",
        "/CC015C/TransitOperation/specificCircumstanceIndicator",
        "/CC015C/Authorisation[1]",
        "/CC015C/Authorisation[2]",
        "/CC015C/Consignment/PreviousDocument[1]",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/declarationType",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/Commodity/cusCode",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/Commodity/CommodityCode/"
        "combinedNomenclatureCode",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/Commodity/GoodsMeasure/"
        "supplementaryUnits",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/goodsItemNumber",
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/AdditionalInformation[1]",
    };
    assert_int_equal(n->n_unmodelled, sizeof(paths) / sizeof(paths[0]));
    for (size_t i = 0; i < n->n_unmodelled; i++)
        assert_string_equal(n->unmodelled[i].path, paths[i]);
    assert_string_equal(n->unmodelled[2].xml, "<Authorisation><sequenceNumber>1</sequenceNumber>"
                                              "<type>C521</type><referenceNumber>KZ-ACP-1"
                                              "</referenceNumber></Authorisation>");
    assert_string_equal(n->unmodelled[9].xml, "<goodsItemNumber>7</goodsItemNumber>");
    assert_string_equal(n->unmodelled[10].xml,
                        "<AdditionalInformation><sequenceNumber>1</sequenceNumber><code>30600"
                        "</code><text>line one\nline two</text></AdditionalInformation>");

    /* Export writes the same document back, element for element. */
    char *want = mini_exported();
    struct kv_report notes;
    kv_report_init(&notes);
    char *xml = export_text(d, NULL, &notes);
    assert_int_equal(notes.count, 0);
    assert_string_equal(xml, want);

    /* Through kervan's JSON form and back: the same JSON, the same CC015C. */
    char *j1 = NULL, *j2 = NULL;
    size_t l1 = 0, l2 = 0;
    assert_int_equal(kv_decl_to_json(d, &j1, &l1), KV_OK);
    struct kv_declaration *d2 = NULL;
    struct kv_report r2;
    kv_report_init(&r2);
    assert_int_equal(kv_decl_from_json(j1, l1, &d2, &r2), KV_OK);
    kv_decl_validate(d2, NULL, &r2);
    assert_true(kv_report_ok(&r2));
    assert_int_equal(kv_decl_to_json(d2, &j2, &l2), KV_OK);
    assert_string_equal(j1, j2);
    char *xml2 = export_text(d2, NULL, &notes);
    assert_string_equal(xml2, want);

    /* One line when asked. */
    struct kv_ncts_export_opts flat = {NULL, NULL, NULL, NULL, NULL, 0};
    char *xml3 = export_text(d, &flat, &notes);
    assert_null(strchr(xml3, '\t'));
    assert_non_null(strstr(xml3, "<Authorisation><sequenceNumber>1</sequenceNumber>"));

    free(xml3);
    free(xml2);
    free(j1);
    free(j2);
    free(xml);
    free(want);
    kv_decl_free(d2);
    kv_decl_free(d);
    kv_report_release(&r2);
    kv_report_release(&rep);
    kv_report_release(&notes);
}

/* What import cannot model is kept, and reported where a rule applies. */
static void cc015c_oddities(void **state)
{
    (void)state;
    char *x = strdup(mini);
    assert_non_null(x);
    x = replace(x, "<messageType>CC015C</messageType>", "<messageType>CC013C</messageType>");
    x = replace(x, "<LRN>STL25AK0417</LRN>", "<LRN>STL25AK0417</LRN><LRN>SECOND</LRN>");
    x = replace(x, "</ncts:CC015C>",
                "<Foo a=\"1&amp;2\">x</Foo><Zed>1</Zed><Alpha/></ncts:CC015C>");
    x = replace(x, " PhaseID=\"NCTS5.1\"", "");
    x = replace(x, "<sequenceNumber>1</sequenceNumber>\n    <guaranteeType>",
                "<sequenceNumber>3</sequenceNumber>\n    <guaranteeType>");
    x = replace(x, "<amountToBeCovered>1000.000000<", "<amountToBeCovered>12.345<");
    x = replace(x, "<numberOfPackages>12</numberOfPackages>",
                "<numberOfPackages>12x</numberOfPackages>");
    x = replace(x,
                "<GoodsMeasure>\n            <grossMass>400</grossMass>\n          "
                "</GoodsMeasure>",
                "<GoodsMeasure/>");
    struct kv_report rep;
    struct kv_declaration *d = import_text(x, &rep);
    assert_int_equal(rep.count, 3);
    assert_string_equal(rep.items[0].rule, "R-DEC-001");
    assert_string_equal(rep.items[0].pointer, "/guarantees/0/references/0/amount");
    assert_string_equal(rep.items[1].rule, "R-NUM-001");
    assert_string_equal(rep.items[1].pointer, "/houseConsignments/0/items/0/packages/0/number");
    assert_string_equal(rep.items[2].rule, "R-REQ-001");
    assert_string_equal(rep.items[2].pointer, "/houseConsignments/0/items/1/commodity/grossMass");
    assert_null(d->guarantees[0].refs[0].amount);
    assert_false(d->houses[0].items[0].packages[0].number.set);

    struct kv_report notes;
    kv_report_init(&notes);
    char *xml = export_text(d, NULL, &notes);
    static const char *const kept[] = {
        "<messageType>CC013C</messageType>",
        "<LRN>STL25AK0417</LRN>\n    <LRN>SECOND</LRN>",
        /* Elements the XSD does not have: at the end of their parent, in their order. */
        "<Foo a=\"1&amp;2\">x</Foo>\n  <Zed>1</Zed>\n  <Alpha/>\n</ncts:CC015C>",
        /* No PhaseID came in, none goes out. */
        "<ncts:CC015C xmlns:ncts=\"http://ncts.dgtaxud.ec\">\n",
        "<Guarantee>\n    <sequenceNumber>3</sequenceNumber>",
        "<accessCode>4821</accessCode>\n      <amountToBeCovered>12.345</amountToBeCovered>",
        "<numberOfPackages>12x</numberOfPackages>",
        "<GoodsMeasure/>",
    };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (!strstr(xml, kept[i]))
            fail_msg("export lost %s:\n%s", kept[i], xml);

    /* The rules see them (no schema here: the document is not schema-valid). */
    struct kv_ncts_result r;
    check_inline(x, NULL, &r);
    find_error(&r.errors, "R-MSG-001", "/CC015C/messageType");
    const struct kv_ncts_error *e =
        find_error(&r.errors, "R-SEQ-001", "/CC015C/Guarantee[1]/sequenceNumber");
    assert_string_equal(e->reason, "R0987");
    assert_string_equal(e->value, "3");
    kv_ncts_result_release(&r);

    free(xml);
    free(x);
    kv_decl_free(d);
    kv_report_release(&rep);
    kv_report_release(&notes);
}

/* ------------------------------------------------------------------ */
/* Export: notes and errors                                           */
/* ------------------------------------------------------------------ */

static struct kv_declaration *example(void)
{
    size_t len = 0;
    char *json = read_all(KV_SOURCE_DIR "/examples/declaration.json", &len);
    assert_non_null(json);
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    assert_int_equal(kv_decl_from_json(json, len, &d, &rep), KV_OK);
    assert_true(kv_report_ok(&rep));
    free(json);
    return d;
}

static const char *has_note(const struct kv_report *r, const char *rule, const char *pointer)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->items[i].rule, rule) == 0 && strcmp(r->items[i].pointer, pointer) == 0)
            return r->items[i].message;
    for (size_t i = 0; i < r->count; i++)
        printf("  %s: %s: %s\n", r->items[i].pointer, r->items[i].rule, r->items[i].message);
    fail_msg("no %s at %s", rule, pointer);
    return NULL;
}

/* Sets one kept element on d (replacing any). */
static void set_fragment(struct kv_declaration *d, const char *path, const char *xml)
{
    d->ncts = kv_decl_alloc(d, sizeof(*d->ncts));
    assert_non_null(d->ncts);
    d->ncts->unmodelled = kv_decl_calloc(d, 1, sizeof(*d->ncts->unmodelled));
    assert_non_null(d->ncts->unmodelled);
    d->ncts->unmodelled[0].path = path;
    d->ncts->unmodelled[0].xml = xml;
    d->ncts->n_unmodelled = 1;
}

static int export_rc(const struct kv_declaration *d, const struct kv_ncts_export_opts *o,
                     struct kv_report *notes)
{
    char *xml = (char *)0x1;
    kv_report_release(notes);
    int rc = kv_ncts_cc015c_export(d, o, &xml, NULL, notes);
    if (rc != KV_OK)
        assert_null(xml);
    free(rc == KV_OK ? xml : NULL);
    return rc;
}

static void export_notes_and_errors(void **state)
{
    (void)state;
    static const struct kv_ncts_export_opts hdr = {
        "KZ180540001239", "NTA.KZ", "2025-04-07T09:30:00", "M-1", NULL, 2};
    struct kv_report notes;
    kv_report_init(&notes);

    /* kervan's example: no NCTS header of its own. */
    struct kv_declaration *d = example();
    assert_int_equal(export_rc(d, NULL, &notes), KV_EINVAL);
    has_note(&notes, "R-EXP-003", "");
    char *xml = NULL;
    kv_report_release(&notes);
    assert_int_equal(kv_ncts_cc015c_export(d, &hdr, &xml, NULL, &notes), KV_OK);
    assert_non_null(strstr(xml, "<messageRecipient>NTA.KZ</messageRecipient>"));
    assert_non_null(strstr(xml, " PhaseID=\"NCTS5.1\">"));
    assert_null(strstr(xml, "countryOfOrigin"));
    /* The kervan extensions are named, not silently left out. */
    assert_int_equal(notes.count, 10);
    has_note(&notes, "R-EXP-001", "/houseConsignments/0/items/0/value");
    has_note(&notes, "R-EXP-001", "/houseConsignments/1/items/1/countryOfOrigin");
    free(xml);

    /* A consignee's contact person has no element in CC015C. */
    d->consignment->consignee->contact = kv_decl_alloc(d, sizeof(struct kv_contact));
    d->consignment->consignee->contact->name = "X";
    d->consignment->consignee->contact->phone = "1";
    assert_int_equal(export_rc(d, &hdr, &notes), KV_OK);
    has_note(&notes, "R-EXP-001", "/consignment/consignee/contact");
    d->consignment->consignee->contact = NULL;

    /* Text XML 1.0 cannot carry. */
    const char *lrn = d->lrn;
    d->lrn = "STL\x01"
             "25";
    assert_int_equal(export_rc(d, &hdr, &notes), KV_EINVAL);
    has_note(&notes, "R-EXP-002", "/lrn");
    d->lrn = lrn;

    /* Kept elements must be one well-formed element, named as their path says, with a place. */
    static const struct {
        const char *path, *xml, *rule, *pointer;
    } bad[] = {
        {"/CC015C/Consignment/PreviousDocument[1]", "<PreviousDocument><a></PreviousDocument>",
         "R-UNMOD-002", "/ncts/unmodelled/0/xml"},
        {"/CC015C/Consignment/PreviousDocument[1]", "<Other/>", "R-UNMOD-002",
         "/ncts/unmodelled/0/xml"},
        {"/CC015C/Consignment/PreviousDocument[1]",
         "<!DOCTYPE PreviousDocument [<!ENTITY x \"y\">]><PreviousDocument>&x;</PreviousDocument>",
         "R-UNMOD-002", "/ncts/unmodelled/0/xml"},
        {"/CC015C/Consignment/PreviousDocument[1]", "<PreviousDocument/><PreviousDocument/>",
         "R-UNMOD-002", "/ncts/unmodelled/0/xml"},
        {"/CC015C/Consignment/HouseConsignment[9]/PreviousDocument[1]", "<PreviousDocument/>",
         "R-UNMOD-003", "/ncts/unmodelled/0/path"},
        {"not a path", "<PreviousDocument/>", "R-UNMOD-003", "/ncts/unmodelled/0/path"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_fragment(d, bad[i].path, bad[i].xml);
        if (export_rc(d, &hdr, &notes) != KV_EINVAL)
            fail_msg("case %zu exported", i);
        has_note(&notes, bad[i].rule, bad[i].pointer);
    }
    /* A good one lands in its place, after the modelled members and in XSD order. */
    set_fragment(d,
                 "/CC015C/Consignment/HouseConsignment[2]/ConsignmentItem[1]/PreviousDocument[1]",
                 "<PreviousDocument><sequenceNumber>1</sequenceNumber><type>N380</type>"
                 "<referenceNumber>INV-7</referenceNumber></PreviousDocument>");
    kv_report_release(&notes);
    assert_int_equal(kv_ncts_cc015c_export(d, &hdr, &xml, NULL, &notes), KV_OK);
    const char *at = strstr(xml, "<referenceNumber>INV-7</referenceNumber>");
    assert_non_null(at);
    const char *house2 = strstr(xml, "<HouseConsignment>\n      <sequenceNumber>2<");
    assert_non_null(house2);
    assert_true(at > house2);
    const char *packaging = strstr(house2, "</Packaging>");
    assert_true(packaging && packaging < at);
    free(xml);

    kv_decl_free(d);
    kv_report_release(&notes);
}

/* ------------------------------------------------------------------ */
/* Locations                                                          */
/* ------------------------------------------------------------------ */

static void pointer_to_xpath(void **state)
{
    (void)state;
    static const struct {
        const char *pointer, *xpath;
        bool whole;
    } cases[] = {
        {"", "/CC015C", true},
        {"/lrn", "/CC015C/TransitOperation/LRN", true},
        {"/officeOfDeparture", "/CC015C/CustomsOfficeOfDeparture/referenceNumber", true},
        {"/officesOfTransit/1/arrival",
         "/CC015C/CustomsOfficeOfTransitDeclared[2]/arrivalDateAndTimeEstimated", true},
        {"/officesOfExitForTransit/0",
         "/CC015C/CustomsOfficeOfExitForTransitDeclared[1]/referenceNumber", true},
        {"/holder/contact/phone", "/CC015C/HolderOfTheTransitProcedure/ContactPerson/phoneNumber",
         true},
        {"/guarantees/0/references/1/amount",
         "/CC015C/Guarantee[1]/GuaranteeReference[2]/amountToBeCovered", true},
        {"/consignment/transportEquipment/0/seals/2",
         "/CC015C/Consignment/TransportEquipment[1]/Seal[3]/identifier", true},
        {"/consignment/transportEquipment/1/goodsReferences/0",
         "/CC015C/Consignment/TransportEquipment[2]/GoodsReference[1]/declarationGoodsItemNumber",
         true},
        {"/consignment/countriesOfRouting", "/CC015C/Consignment/CountryOfRoutingOfConsignment",
         true},
        {"/consignment/locationOfGoods/customsOffice",
         "/CC015C/Consignment/LocationOfGoods/CustomsOffice/referenceNumber", true},
        {"/houseConsignments/0/items/3/commodity/hs",
         "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[4]/Commodity/CommodityCode/"
         "harmonizedSystemSubHeadingCode",
         true},
        {"/houseConsignments/1/items/0/packages/0/number",
         "/CC015C/Consignment/HouseConsignment[2]/ConsignmentItem[1]/Packaging[1]/numberOfPackages",
         true},
        {"/houseConsignments/0/items/0/commodity/dangerousGoods/1",
         "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/Commodity/DangerousGoods[2]/"
         "UNNumber",
         true},
        {"/ncts/messageRecipient", "/CC015C/messageRecipient", true},
        {"/ncts/phaseId", "/CC015C/@PhaseID", true},
        /* Kervan extensions and nonsense: the deepest CC015C place, and false. */
        {"/houseConsignments/0/items/0/value/amount",
         "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]", false},
        {"/guarantees/x", "/CC015C/Guarantee", false},
        {"/nosuch", "/CC015C", false},
        {"lrn", "/CC015C", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[KV_NCTS_XPATH_MAX];
        bool whole = kv_ncts_cc015c_xpath(cases[i].pointer, buf, sizeof(buf));
        if (strcmp(buf, cases[i].xpath) != 0 || whole != cases[i].whole)
            fail_msg("%s: got %s (%d), want %s (%d)", cases[i].pointer, buf, whole, cases[i].xpath,
                     cases[i].whole);
    }
    char small[20];
    kv_ncts_cc015c_xpath("/consignment/grossMass", small, sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_string_equal(small + sizeof(small) - 4, "...");

    /* kv_ncts_find walks the same locations in a document. */
    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    xmlDocPtr doc = NULL;
    assert_int_equal(kv_ncts_parse(mini, strlen(mini), &doc, &e), KV_OK);
    const xmlNode *n = kv_ncts_find(doc, "/CC015C/Authorisation[2]/type");
    assert_non_null(n);
    xmlChar *v = xmlNodeGetContent(n);
    assert_string_equal((const char *)v, "C523");
    xmlFree(v);
    assert_non_null(kv_ncts_find(doc, "/CC015C/@PhaseID"));
    assert_non_null(
        kv_ncts_find(doc, "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]"));
    assert_null(kv_ncts_find(doc, "/CC015C/Authorisation[3]"));
    assert_null(kv_ncts_find(doc, "/CC013C"));
    assert_null(kv_ncts_find(doc, "/CC015C/@Nope"));
    const xmlNode *item = kv_ncts_find(
        doc, "/CC015C/Consignment/HouseConsignment/ConsignmentItem[2]/goodsItemNumber");
    assert_non_null(item);
    char where[KV_NCTS_XPATH_MAX];
    kv_ncts_xpath_with(kv_ncts_cc015c_repeats, item, where, sizeof(where));
    assert_string_equal(
        where, "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/goodsItemNumber");
    kv_ncts_xpath(NULL, item, where, sizeof(where));
    assert_string_equal(where,
                        "/CC015C/Consignment/HouseConsignment/ConsignmentItem[2]/goodsItemNumber");
    char value[KV_NCTS_VALUE_MAX + 4];
    assert_true(kv_ncts_node_value(item, value, sizeof(value)));
    assert_string_equal(value, "7");
    assert_false(kv_ncts_node_value(item->parent, value, sizeof(value)));
    xmlFreeDoc(doc);
    kv_ncts_errors_release(&e);
}

/* ------------------------------------------------------------------ */
/* The "ncts" member of the JSON form                                 */
/* ------------------------------------------------------------------ */

/* The example with `ncts` (a JSON object text) added as the last member. */
static char *example_with(const char *ncts)
{
    size_t len = 0;
    char *json = read_all(KV_SOURCE_DIR "/examples/declaration.json", &len);
    assert_non_null(json);
    char *end = strrchr(json, '}');
    assert_non_null(end);
    *end = '\0';
    size_t n = strlen(json) + strlen(ncts) + 16;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s,\"ncts\":%s}", json, ncts);
    free(json);
    return out;
}

static void json_ncts_member(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);
    char *json = example_with(
        "{\"messageSender\":\"KZ1\",\"messageRecipient\":\"NTA.KZ\","
        "\"preparationDateAndTime\":\"2025-04-07T09:30:00\",\"messageIdentification\":\"M-1\","
        "\"correlationIdentifier\":\"C-1\",\"phaseId\":\"NCTS5.1\",\"unmodelled\":["
        "{\"path\":\"/CC015C/Authorisation[1]\",\"xml\":\"<Authorisation><type>C521</type>"
        "</Authorisation>\"},"
        "{\"path\":\"/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[1]/Commodity/"
        "cusCode\","
        "\"xml\":\"<cusCode>0000001-1</cusCode>\"}]}");
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    assert_int_equal(kv_decl_from_json(json, strlen(json), &d, &rep), KV_OK);
    kv_decl_validate(d, ref, &rep);
    if (!kv_report_ok(&rep))
        fail_msg("%s: %s: %s", rep.items[0].pointer, rep.items[0].rule, rep.items[0].message);
    assert_string_equal(d->ncts->correlation_id, "C-1");
    assert_int_equal(d->ncts->n_unmodelled, 2);
    char *enc = NULL;
    assert_int_equal(kv_decl_to_json(d, &enc, NULL), KV_OK);
    assert_non_null(strstr(enc, ",\"ncts\":{\"messageSender\":\"KZ1\""));
    struct kv_declaration *d2 = NULL;
    struct kv_report r2;
    kv_report_init(&r2);
    assert_int_equal(kv_decl_from_json(enc, strlen(enc), &d2, &r2), KV_OK);
    assert_true(kv_report_ok(&r2));
    char *enc2 = NULL;
    assert_int_equal(kv_decl_to_json(d2, &enc2, NULL), KV_OK);
    assert_string_equal(enc, enc2);
    /* And out as CC015C: the kept elements in their places. */
    char *xml = NULL;
    assert_int_equal(kv_ncts_cc015c_export(d2, NULL, &xml, NULL, &r2), KV_OK);
    assert_non_null(strstr(xml, "</TransitOperation>\n  <Authorisation>\n    <type>C521</type>"));
    assert_non_null(strstr(xml, "</descriptionOfGoods>\n          <cusCode>0000001-1</cusCode>"));
    free(xml);
    free(enc);
    free(enc2);
    free(json);
    kv_decl_free(d);
    kv_decl_free(d2);
    kv_report_release(&rep);
    kv_report_release(&r2);

    /* The decoder's strictness holds inside "ncts", and the validator checks its form. */
    static const struct {
        const char *ncts, *rule, *pointer;
    } bad[] = {
        {"{\"messageSender\":\"a\",\"extra\":1}", "R-JSON-UNKNOWN", "/ncts/extra"},
        {"{\"messageSender\":1}", "R-JSON-TYPE", "/ncts/messageSender"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C/A\"}]}", "R-REQ-001", "/ncts/unmodelled/0/xml"},
        {"{\"unmodelled\":{}}", "R-JSON-TYPE", "/ncts/unmodelled"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C\",\"xml\":\"<A/>\"}]}", "R-UNMOD-001",
         "/ncts/unmodelled/0/path"},
        {"{\"unmodelled\":[{\"path\":\"/CC013C/A\",\"xml\":\"<A/>\"}]}", "R-UNMOD-001",
         "/ncts/unmodelled/0/path"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C/A[0]\",\"xml\":\"<A/>\"}]}", "R-UNMOD-001",
         "/ncts/unmodelled/0/path"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C/A//B\",\"xml\":\"<B/>\"}]}", "R-UNMOD-001",
         "/ncts/unmodelled/0/path"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C/A[1]\",\"xml\":\"<B/>\"}]}", "R-UNMOD-002",
         "/ncts/unmodelled/0/xml"},
        {"{\"unmodelled\":[{\"path\":\"/CC015C/A\",\"xml\":\"<AB/>\"}]}", "R-UNMOD-002",
         "/ncts/unmodelled/0/xml"},
        {"{\"preparationDateAndTime\":\"2025-13-01T00:00:00\"}", "R-DATE-001",
         "/ncts/preparationDateAndTime"},
        {"{\"messageSender\":\"123456789012345678901234567890123456\"}", "R-TEXT-001",
         "/ncts/messageSender"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *j = example_with(bad[i].ncts);
        kv_report_init(&rep);
        d = NULL;
        assert_int_equal(kv_decl_from_json(j, strlen(j), &d, &rep), KV_OK);
        kv_decl_validate(d, ref, &rep);
        if (rep.count != 1 || strcmp(rep.items[0].rule, bad[i].rule) != 0 ||
            strcmp(rep.items[0].pointer, bad[i].pointer) != 0)
            fail_msg("%s: got %zu problems, first %s %s", bad[i].ncts, rep.count,
                     rep.count ? rep.items[0].rule : "", rep.count ? rep.items[0].pointer : "");
        kv_decl_free(d);
        kv_report_release(&rep);
        free(j);
    }
    kv_ref_close(ref);
}

/* ------------------------------------------------------------------ */
/* Rules                                                              */
/* ------------------------------------------------------------------ */

#define NS "xmlns:ncts=\"http://ncts.dgtaxud.ec\""

static void message_rules(void **state)
{
    (void)state;
    struct kv_ncts_result r;

    /* MRN check character (kv_mrn_verify): CL180 93, the value quoted. */
    check_inline("<ncts:CC007C " NS "><messageSender>a</messageSender>"
                 "<messageRecipient>NTA.GB</messageRecipient><messageType>CC007C</messageType>"
                 "<TransitOperation><MRN>27WF9X1FQ9RCKN0TM3</MRN></TransitOperation>"
                 "<CustomsOfficeOfDestinationActual><referenceNumber>GB000060</referenceNumber>"
                 "</CustomsOfficeOfDestinationActual></ncts:CC007C>",
                 NULL, &r);
    assert_int_equal(r.errors.count, 1);
    const struct kv_ncts_error *e =
        find_error(&r.errors, "R-MRN-001", "/CC007C/TransitOperation/MRN");
    assert_string_equal(e->code, "93");
    assert_string_equal(e->value, "27WF9X1FQ9RCKN0TM3");
    assert_int_equal(e->stage, KV_NCTS_STAGE_MESSAGE);
    assert_int_equal(e->line, 1);
    kv_ncts_result_release(&r);

    /* R0410: a P5 MRN's procedure letter follows the security indicator. */
    static const char cc013[] =
        "<ncts:CC013C " NS "><messageSender>a</messageSender>"
        "<messageRecipient>NTA.GB</messageRecipient><messageType>CC013C</messageType>"
        "<TransitOperation>%s<security>%s</security></TransitOperation>"
        "<CustomsOfficeOfDeparture><referenceNumber>GB000246</referenceNumber>"
        "</CustomsOfficeOfDeparture></ncts:CC013C>";
    char buf[1024];
    snprintf(buf, sizeof(buf), cc013, "<MRN>24GB0002463CTPQVJ0</MRN>", "1");
    check_inline(buf, NULL, &r);
    assert_int_equal(r.errors.count, 1);
    e = find_error(&r.errors, "R-MRN-002", "/CC013C/TransitOperation/MRN");
    assert_string_equal(e->code, "14");
    assert_string_equal(e->reason, "R0410");
    kv_ncts_result_release(&r);
    snprintf(buf, sizeof(buf), cc013, "<MRN>24GB0002463CTPQVJ0</MRN>", "0");
    check_inline(buf, NULL, &r);
    assert_true(kv_ncts_result_ok(&r));
    kv_ncts_result_release(&r);

    /* C0467: the LRN or the MRN, not both (15: not allowed), not neither (13: missing). */
    snprintf(buf, sizeof(buf), cc013, "", "0");
    check_inline(buf, NULL, &r);
    e = find_error(&r.errors, "R-LRN-002", "/CC013C/TransitOperation/MRN");
    assert_string_equal(e->code, "13");
    assert_string_equal(e->reason, "C0467");
    kv_ncts_result_release(&r);
    snprintf(buf, sizeof(buf), cc013, "<LRN>L1</LRN><MRN>24GB0002463CTPQVJ0</MRN>", "0");
    check_inline(buf, NULL, &r);
    e = find_error(&r.errors, "R-LRN-002", "/CC013C/TransitOperation/LRN");
    assert_string_equal(e->code, "15");
    assert_string_equal(e->value, "L1");
    kv_ncts_result_release(&r);
    /* An office's message may carry both. */
    check_inline("<ncts:CC009C " NS "><messageSender>NTA.GB</messageSender>"
                 "<messageRecipient>GB1</messageRecipient><messageType>CC009C</messageType>"
                 "<TransitOperation><LRN>L1</LRN><MRN>24GB0002463CTPQVJ0</MRN>"
                 "</TransitOperation></ncts:CC009C>",
                 NULL, &r);
    assert_true(kv_ncts_result_ok(&r));
    kv_ncts_result_release(&r);

    /* The recipient of a trader's message; the node's country; the message type. */
    char *x = strdup(mini);
    x = replace(x, "<messageRecipient>NTA.KZ<", "<messageRecipient>token<");
    check_inline(x, NULL, &r);
    find_error(&r.errors, "R-MSG-002", "/CC015C/messageRecipient");
    kv_ncts_result_release(&r);
    x = replace(x, "<messageRecipient>token<", "<messageRecipient>NTA.TR<");
    x = replace(x, "<messageType>CC015C<", "<messageType>CC014C<");
    struct kv_ncts_check_opts node = {"TR", NULL};
    check_inline(x, &node, &r);
    find_error(&r.errors, "R-MSG-003", "/CC015C/messageRecipient");
    find_error(&r.errors, "R-MSG-001", "/CC015C/messageType");
    e = find_error(&r.errors, "R-NODE-001", "/CC015C/CustomsOfficeOfDeparture/referenceNumber");
    assert_string_equal(e->value, "KZ050100");
    assert_string_equal(e->code, "14");
    assert_int_equal(e->line, 32);
    kv_ncts_result_release(&r);
    free(x);
    struct kv_ncts_check_opts kz = {"KZ", NULL};
    check_inline(mini, &kz, &r);
    /* Only the goods item number that is not its position (R0988). */
    assert_int_equal(r.errors.count, 1);
    e = find_error(&r.errors, "R-SEQ-002",
                   "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/goodsItemNumber");
    assert_string_equal(e->reason, "R0988");
    assert_string_equal(e->value, "7");
    assert_int_equal(e->line, 100);
    assert_int_equal(e->stage, KV_NCTS_STAGE_DECLARATION);
    assert_non_null(r.decl);
    assert_string_equal(r.type, "CC015C");
    kv_ncts_result_release(&r);
}

/* kervan's declaration rules, NCTS-style: CL180 code by kind, location, value, NCTS id. */
static void declaration_rules(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);
    struct kv_ncts_check_opts o = {NULL, ref};
    char *x = strdup(mini);
    x = replace(x, "<goodsItemNumber>7<", "<goodsItemNumber>2<");
    x = replace(x, "<declarationType>T1</declarationType>\n    <additional",
                "<declarationType>T9</declarationType>\n    <additional");
    x = replace(x, "<additionalDeclarationType>A</additionalDeclarationType>",
                "<additionalDeclarationType>A</additionalDeclarationType>"
                "<TIRCarnetNumber>XG70123456</TIRCarnetNumber>");
    x = replace(x,
                "<CommodityCode>\n            <harmonizedSystemSubHeadingCode>510111"
                "</harmonizedSystemSubHeadingCode>\n          </CommodityCode>",
                "");
    struct kv_ncts_result r;
    check_inline(x, &o, &r);
    const struct kv_ncts_error *e =
        find_error(&r.errors, "R-DECL-001", "/CC015C/TransitOperation/declarationType");
    assert_string_equal(e->code, "12"); /* code list */
    assert_string_equal(e->reason, "CL231");
    assert_string_equal(e->value, "T9");
    e = find_error(&r.errors, "R-DECL-003", "/CC015C/TransitOperation/TIRCarnetNumber");
    assert_string_equal(e->code, "15"); /* present, not allowed */
    assert_string_equal(e->reason, "C0411");
    e = find_error(&r.errors, "R-HS-002",
                   "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/Commodity/"
                   "CommodityCode/harmonizedSystemSubHeadingCode");
    assert_string_equal(e->code, "13"); /* missing */
    assert_false(e->has_value);
    assert_true(e->line > 0); /* the line of the nearest element that is there */
    for (size_t i = 0; i < r.errors.count; i++)
        assert_int_equal(r.errors.items[i].stage, KV_NCTS_STAGE_DECLARATION);
    kv_ncts_result_release(&r);
    free(x);
    kv_ref_close(ref);
}

/* Every rule docs/declaration.md names has its CL180 kind (the JSON-only ones aside). */
static void rule_table(void **state)
{
    (void)state;
    size_t len = 0;
    char *doc = read_all(KV_SOURCE_DIR "/docs/declaration.md", &len);
    assert_non_null(doc);
    regex_t re;
    assert_int_equal(regcomp(&re, "R-[A-Z]+-[0-9]{3}", REG_EXTENDED), 0);
    size_t seen = 0;
    for (const char *p = doc;;) {
        regmatch_t m;
        if (regexec(&re, p, 1, &m, 0) != 0)
            break;
        char id[32];
        snprintf(id, sizeof(id), "%.*s", (int)(m.rm_eo - m.rm_so), p + m.rm_so);
        p += m.rm_eo;
        if (strncmp(id, "R-JSON-", 7) == 0)
            continue;
        if (!kv_ncts_rule_known(id))
            fail_msg("docs/declaration.md names %s, which has no CL180 kind", id);
        seen++;
    }
    regfree(&re);
    free(doc);
    assert_true(seen > 70);
    enum kv_ncts_rule_kind k;
    assert_string_equal(kv_ncts_rule_reason("R-SEAL-001", &k), "R0106");
    assert_int_equal(k, KV_NCTS_RULE);
    assert_string_equal(kv_ncts_rule_reason("R-PKG-001", &k), "CL017");
    assert_int_equal(k, KV_NCTS_CODELIST);
    assert_string_equal(kv_ncts_rule_reason("R-NOPE-001", &k), "");
    assert_false(kv_ncts_rule_known("R-NOPE-001"));
    assert_string_equal(kv_ncts_functional_code(KV_NCTS_CONDITION, true), "15");
    assert_string_equal(kv_ncts_functional_code(KV_NCTS_CONDITION, false), "13");
    assert_string_equal(kv_ncts_functional_code(KV_NCTS_MRN, true), "93");
}

static void error_list(void **state)
{
    (void)state;
    struct kv_ncts_errors e;
    kv_ncts_errors_init(&e);
    assert_true(kv_ncts_errors_ok(&e));
    /* A long value is cut at a UTF-8 boundary with "...". */
    char v[KV_NCTS_VALUE_MAX + 100];
    size_t n = 0;
    while (n + 2 < sizeof(v) - 1) {
        v[n++] = '\xc3';
        v[n++] = '\xa9';
    }
    v[n] = '\0';
    kv_ncts_errors_add(&e, KV_NCTS_STAGE_SCHEMA, "51", "R0001x", "R-XSD-001", "/a", 3, v, "%s",
                       "m");
    const struct kv_ncts_error *x = &e.items[0];
    assert_true(strlen(x->value) <= KV_NCTS_VALUE_MAX);
    assert_string_equal(x->value + strlen(x->value) - 3, "...");
    assert_true(((unsigned char)x->value[strlen(x->value) - 4] & 0xC0) != 0xC0);
    assert_string_equal(x->reason, "R0001x");
    assert_true(kv_ncts_errors_has_stage(&e, KV_NCTS_STAGE_SCHEMA));
    assert_false(kv_ncts_errors_has_stage(&e, KV_NCTS_STAGE_XML));
    for (int i = 0; i < KV_NCTS_ERRORS_MAX + 5; i++)
        kv_ncts_errors_add(&e, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-001", NULL, 0, NULL, "x");
    assert_int_equal(e.count, KV_NCTS_ERRORS_MAX);
    assert_int_equal(e.total, KV_NCTS_ERRORS_MAX + 6);
    assert_true(e.truncated);
    assert_false(kv_ncts_errors_ok(&e));
    kv_ncts_errors_release(&e);
    assert_string_equal(kv_ncts_stage_name(KV_NCTS_STAGE_DECLARATION), "declaration");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_hardening),
        cmocka_unit_test(message_types),
        cmocka_unit_test(schema_folder),
        cmocka_unit_test(concurrent_validation),
        cmocka_unit_test(cc015c_both_ways),
        cmocka_unit_test(cc015c_oddities),
        cmocka_unit_test(export_notes_and_errors),
        cmocka_unit_test(pointer_to_xpath),
        cmocka_unit_test(json_ncts_member),
        cmocka_unit_test(message_rules),
        cmocka_unit_test(declaration_rules),
        cmocka_unit_test(rule_table),
        cmocka_unit_test(error_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
