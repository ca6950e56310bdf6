/*
 * test_validate.c — tests of src/core/validate.c for rules awkward to write
 * as golden cases: declarations built in code (no JSON), validation without
 * reference data, pattern corners (dates, GNSS, TIR carnet, e-mail, Unicode
 * spaces), sums that overflow, several repeated seals, report truncation,
 * and that one decoding mistake gives one problem.
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
#include "core/declaration.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

#define EXAMPLE KV_SOURCE_DIR "/examples/declaration.json"

static struct kv_ref *ref;

static int setup(void **state)
{
    (void)state;
    return kv_ref_open(&ref) == KV_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kv_ref_close(ref);
    return 0;
}

static char *example_text(void)
{
    FILE *f = fopen(EXAMPLE, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A copy of src with the first occurrence of `from` replaced by `to` (frees src). */
static char *replace(char *src, const char *from, const char *to)
{
    char *at = strstr(src, from);
    if (!at)
        fail_msg("not in the text: %s", from);
    size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    free(src);
    return out;
}

/* The example with the first occurrence of `from` replaced by `to`. */
static char *example_with(const char *from, const char *to)
{
    return replace(example_text(), from, to);
}

static void validate_text(const char *json, struct kv_report *rep)
{
    kv_report_init(rep);
    assert_int_equal(kv_validate_json(json, strlen(json), ref, rep), KV_OK);
}

static void print_report(const struct kv_report *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        printf("  %s: %s: %s\n", rep->items[i].pointer, rep->items[i].rule, rep->items[i].message);
}

static void expect_one(const char *from, const char *to, const char *rule, const char *pointer)
{
    char *json = example_with(from, to);
    struct kv_report rep;
    validate_text(json, &rep);
    if (rep.count != 1 || strcmp(rep.items[0].rule, rule) != 0 ||
        strcmp(rep.items[0].pointer, pointer) != 0) {
        print_report(&rep);
        fail_msg("%s -> %s: expected one %s at %s", from, to, rule, pointer);
    }
    kv_report_release(&rep);
    free(json);
}

static void expect_none(const char *from, const char *to)
{
    char *json = example_with(from, to);
    struct kv_report rep;
    validate_text(json, &rep);
    if (rep.count != 0) {
        print_report(&rep);
        fail_msg("%s -> %s: expected no problem", from, to);
    }
    kv_report_release(&rep);
    free(json);
}

/* ------------------------------------------------------------------ */

static void example_is_valid(void **state)
{
    (void)state;
    expect_none("\"lrn\"", "\"lrn\"");
}

static void dates(void **state)
{
    (void)state;
    expect_none("2025-04-22", "2024-02-29"); /* leap year */
    expect_none("2025-04-22", "2000-02-29"); /* divisible by 400 */
    expect_one("2025-04-22", "1900-02-29", "R-DATE-001", "/limitDate");
    expect_one("2025-04-22", "2025-13-01", "R-DATE-001", "/limitDate");
    expect_one("2025-04-22", "2025-04-31", "R-DATE-001", "/limitDate");
    expect_one("2025-04-22", "0000-01-01", "R-DATE-001", "/limitDate");
    expect_one("2025-04-22", "2025-4-22", "R-DATE-001", "/limitDate");
    expect_one("2025-04-22", "2025-04-22Z", "R-DATE-001", "/limitDate");
    expect_none("2025-04-10T06:00:00", "2025-04-10T23:59:59");
    expect_one("2025-04-10T06:00:00", "2025-04-10T24:00:00", "R-DATE-001",
               "/officesOfTransit/0/arrival");
    expect_one("2025-04-10T06:00:00", "2025-04-10T06:60:00", "R-DATE-001",
               "/officesOfTransit/0/arrival");
    expect_one("2025-04-10T06:00:00", "2025-04-10T06:00:00Z", "R-DATE-001",
               "/officesOfTransit/0/arrival");
    /* Equal estimated arrivals are in order. */
    expect_none("2025-04-11T14:00:00", "2025-04-10T06:00:00");
}

static void gnss(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{\"latitude\":\"43.23890\",\"longitude\":\"76.88970\"}",
        "{\"latitude\":\"-89.1234567\",\"longitude\":\"+179.99999\"}",
        "{\"latitude\":\"90.000000\",\"longitude\":\"-180.00000\"}",
        "{\"latitude\":\"0.00000\",\"longitude\":\"099.00000\"}"};
    static const char *const bad[] = {"{\"latitude\":\"90.00001\",\"longitude\":\"76.88970\"}",
                                      "{\"latitude\":\"43.2389\",\"longitude\":\"76.88970\"}",
                                      "{\"latitude\":\"43.23890000\",\"longitude\":\"76.88970\"}",
                                      "{\"latitude\":\"143.23890\",\"longitude\":\"76.88970\"}",
                                      "{\"latitude\":\"43,23890\",\"longitude\":\"76.88970\"}"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char to[160];
        snprintf(to, sizeof(to), "\"unLocode\": \"KZALA\", \"gnss\": %s", good[i]);
        expect_none("\"unLocode\": \"KZALA\"\n", to);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char to[160];
        snprintf(to, sizeof(to), "\"unLocode\": \"KZALA\", \"gnss\": %s", bad[i]);
        expect_one("\"unLocode\": \"KZALA\"\n", to, "R-LOC-004",
                   "/consignment/locationOfGoods/gnss/latitude");
    }
    expect_one("\"unLocode\": \"KZALA\"\n",
               "\"unLocode\": \"KZALA\", \"gnss\": {\"latitude\":\"43.23890\","
               "\"longitude\":\"180.0000001\"}",
               "R-LOC-004", "/consignment/locationOfGoods/gnss/longitude");
}

static void tir_carnet(void **state)
{
    (void)state;
    /* The TIR carnet number pattern of the XSD (TIRcarnetNumber), checked on a TIR declaration. */
    static const char *const good[] = {"1",          "9999999",     "10",
                                       "24999999",   "25000000",    "XG70123456",
                                       "AX25000000", "XA100123456", "XX99999999"};
    static const char *const bad[] = {"0",          "25000001",   "99999999",     "XG24123456",
                                      "GG70123456", "XG7012345",  "XG0123456789", "xg70123456",
                                      "XG70 23456", "XA010123456"};
    const char *tir = "\"declarationType\": \"T1\"";
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + sizeof(bad) / sizeof(bad[0]); i++) {
        bool ok = i < sizeof(good) / sizeof(good[0]);
        const char *carnet = ok ? good[i] : bad[i - sizeof(good) / sizeof(good[0])];
        char to[256];
        snprintf(to, sizeof(to), "\"declarationType\": \"TIR\", \"tirCarnetNumber\": \"%s\"",
                 carnet);
        char *json = example_with(tir, to);
        struct kv_report rep;
        validate_text(json, &rep);
        bool seen = false;
        for (size_t k = 0; k < rep.count; k++)
            seen = seen || strcmp(rep.items[k].rule, "R-DECL-004") == 0;
        if (seen == ok) {
            print_report(&rep);
            fail_msg("carnet %s: expected %s", carnet, ok ? "valid" : "R-DECL-004");
        }
        kv_report_release(&rep);
        free(json);
    }
}

static void emails_and_spaces(void **state)
{
    (void)state;
    expect_none("customs@steppetrans.kz", "a@b.c");
    expect_none("customs@steppetrans.kz", "first.last+tag@mail.example.com");
    expect_one("customs@steppetrans.kz", "@steppetrans.kz", "R-EMAIL-001", "/holder/contact/email");
    expect_one("customs@steppetrans.kz", "customs@kz", "R-EMAIL-001", "/holder/contact/email");
    expect_one("customs@steppetrans.kz", "customs@.kz", "R-EMAIL-001", "/holder/contact/email");
    expect_one("customs@steppetrans.kz", "customs@steppetrans.", "R-EMAIL-001",
               "/holder/contact/email");
    /* Unicode spaces count as spaces (XSD \P{Z}): no-break space and ideographic space. */
    expect_one("STL25AK0417",
               "STL25\xc2\xa0"
               "AK0417",
               "R-LRN-001", "/lrn");
    expect_one("Steppe Trans Logistics LLP", "Steppe Trans Logistics LLP\xe3\x80\x80", "R-TEXT-002",
               "/holder/name");
    expect_one("Steppe Trans Logistics LLP", "\xc2\xa0Steppe Trans Logistics LLP", "R-TEXT-002",
               "/holder/name");
    /* Lengths count characters, not bytes: 70 Cyrillic letters (140 bytes) fit an..70. */
    char name[200];
    size_t o = 0;
    for (int i = 0; i < 70; i++) {
        name[o++] = '\xd0';
        name[o++] = '\x96';
    }
    name[o] = '\0';
    expect_none("Steppe Trans Logistics LLP", name);
    /* Phone numbers may be formatted with spaces but not start with one... they are an..35. */
    expect_one("+7 727 355 0412", "+7 727 355 0412 ext 12 office 412 (a)", "R-TEXT-001",
               "/holder/contact/phone");
}

static void registry_countries(void **state)
{
    (void)state;
    /* DE has no offices in the corridor registry: any well-formed DE reference is accepted. */
    expect_none("\"customsOffice\": \"KZ470100\"", "\"customsOffice\": \"DE004058\"");
    /* Lower case is not a reference. */
    expect_one("\"customsOffice\": \"KZ470100\"", "\"customsOffice\": \"kz470100\"", "R-OFF-001",
               "/consignment/activeBorderTransportMeans/0/customsOffice");
    /* A border office needs no particular role, but must exist in a registry country. */
    expect_none("\"customsOffice\": \"KZ470100\"", "\"customsOffice\": \"GE400100\"");
    expect_one("\"customsOffice\": \"KZ470100\"", "\"customsOffice\": \"KZ470900\"", "R-OFF-003",
               "/consignment/activeBorderTransportMeans/0/customsOffice");
    /* HS 999999 is in the source list (a Comtrade code) but is not a WCO subheading. */
    expect_one("\"hs\": \"520100\"", "\"hs\": \"999999\"", "R-HS-001",
               "/houseConsignments/1/items/1/commodity/hs");
    /* Codes are exact: no case folding. */
    expect_one("\"currency\": \"USD\"", "\"currency\": \"usd\"", "R-CUR-001",
               "/guarantees/0/references/0/currency");
    expect_one("\"countryOfOrigin\": \"CN\"", "\"countryOfOrigin\": \"cn\"", "R-CTRY-001",
               "/houseConsignments/0/items/0/countryOfOrigin");
    /* Unpacked goods need a number of packages but no shipping marks. */
    expect_none("{\"type\": \"BL\", \"number\": 20, \"shippingMarks\": \"TKS COTTON 2024 1-20\"}",
                "{\"type\": \"NE\", \"number\": 20}");
    expect_one("{\"type\": \"BL\", \"number\": 20, \"shippingMarks\": \"TKS COTTON 2024 1-20\"}",
               "{\"type\": \"NE\"}", "R-PKG-002", "/houseConsignments/1/items/1/packages/0/number");
    /* Bulk goods need neither. */
    expect_none("{\"type\": \"BL\", \"number\": 20, \"shippingMarks\": \"TKS COTTON 2024 1-20\"}",
                "{\"type\": \"VR\"}");
    /* The qualifier of identification of the location of goods (CL326). */
    expect_one("\"qualifier\": \"U\"", "\"qualifier\": \"Q\"", "R-LOC-002",
               "/consignment/locationOfGoods/qualifier");
    /* Item number 0 is out of range; it holds its place, so item 2 is still in order. */
    expect_one("\"declarationGoodsItemNumber\": 1,", "\"declarationGoodsItemNumber\": 0,",
               "R-ITEM-001", "/houseConsignments/0/items/0/declarationGoodsItemNumber");
}

/* One decoding mistake gives one problem: no "required" echo from the rules. */
static void no_cascades(void **state)
{
    (void)state;
    expect_one("\"amount\": 78450.00", "\"amount\": \"78450.00\"", "R-JSON-TYPE",
               "/guarantees/0/references/0/amount");
    expect_one("\"grn\": \"25KZ050100ALA0012\"", "\"grn\": 25", "R-JSON-TYPE",
               "/guarantees/0/references/0/grn");
    expect_one("\"borderMode\": \"3\"", "\"borderMode\": 3", "R-JSON-TYPE",
               "/consignment/borderMode");
    expect_one("\"countriesOfRouting\": [\"KZ\", \"AZ\", \"GE\", \"TR\"]",
               "\"countriesOfRouting\": \"KZ AZ GE TR\"", "R-JSON-TYPE",
               "/consignment/countriesOfRouting");
    expect_one("\"hs\": \"847130\"", "\"hs\": 847130", "R-JSON-TYPE",
               "/houseConsignments/0/items/0/commodity/hs");
    expect_one("\"number\": 400,", "\"number\": \"400\",", "R-JSON-TYPE",
               "/houseConsignments/0/items/0/packages/0/number");
    expect_one("\"id\": \"180540001239\"", "\"id\": 180540001239", "R-JSON-TYPE", "/holder/id");
    /* Security 3 needs a place of unloading (C0191); a wrongly typed one is not "missing". */
    char *sec3 = example_with("\"security\": \"2\"", "\"security\": \"3\"");
    sec3 = replace(sec3,
                   "\"placeOfUnloading\": {\"unLocode\": \"TRIST\", \"country\": \"TR\", "
                   "\"location\": \"Istanbul\"}",
                   "\"placeOfUnloading\": []");
    struct kv_report rep;
    validate_text(sec3, &rep);
    if (rep.count != 1)
        print_report(&rep);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-JSON-TYPE");
    assert_string_equal(rep.items[0].pointer, "/consignment/placeOfUnloading");
    kv_report_release(&rep);
    free(sec3);
}

/* Declarations built in code, without JSON, and without reference data. */
static void built_in_code(void **state)
{
    (void)state;
    struct kv_report rep;
    kv_report_init(&rep);
    kv_decl_validate(NULL, ref, &rep);
    assert_int_equal(rep.count, 0);

    struct kv_declaration *d = kv_decl_new();
    assert_non_null(d);
    /* An empty model: nothing to check (presence is the decoder's job), no crash. */
    kv_decl_validate(d, ref, &rep);
    kv_decl_validate(d, NULL, &rep);
    assert_int_equal(rep.count, 0);

    /* Without reference data only list membership is skipped. */
    d->lrn = "A B";
    d->declaration_type = "XYZ";
    d->security = "9";
    d->office_of_departure = "XX12345";
    d->limit_date = "2025-02-30";
    kv_decl_validate(d, NULL, &rep);
    assert_int_equal(rep.count, 3);
    assert_string_equal(rep.items[0].rule, "R-LRN-001");
    assert_string_equal(rep.items[1].rule, "R-DATE-001");
    assert_string_equal(rep.items[2].rule, "R-OFF-001");
    kv_report_release(&rep);

    /* With it, the codes are checked too. */
    kv_decl_validate(d, ref, &rep);
    assert_int_equal(rep.count, 5);
    assert_string_equal(rep.items[1].rule, "R-DECL-001");
    assert_string_equal(rep.items[2].rule, "R-SEC-001");
    kv_report_release(&rep);
    kv_decl_free(d);
}

/* Sums of masses that do not fit are reported, not wrapped. */
static void mass_overflow(void **state)
{
    (void)state;
    struct kv_declaration *d = kv_decl_new();
    assert_non_null(d);
    static struct kv_decimal max = {9999999999999999LL, 0, 0};
    size_t nh = 1000;
    d->houses = kv_decl_calloc(d, nh, sizeof(*d->houses));
    d->n_houses = nh;
    d->consignment = kv_decl_alloc(d, sizeof(*d->consignment));
    d->consignment->gross_mass = &max;
    for (size_t h = 0; h < nh; h++) {
        d->houses[h].gross_mass = &max;
        d->houses[h].items = kv_decl_calloc(d, 1, sizeof(struct kv_item));
        d->houses[h].n_items = 1;
        d->houses[h].items[0].number = (struct kv_int){(int64_t)h + 1, true};
        d->houses[h].items[0].commodity = kv_decl_alloc(d, sizeof(struct kv_commodity));
        d->houses[h].items[0].commodity->gross_mass = &max;
    }
    struct kv_report rep;
    kv_report_init(&rep);
    kv_decl_validate(d, ref, &rep);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-MASS-003");
    assert_string_equal(rep.items[0].pointer, "/consignment/grossMass");
    assert_string_equal(rep.items[0].message,
                        "the sum of the house consignments' gross masses is too large to compute");
    kv_report_release(&rep);

    /* Within one house. */
    d->n_houses = 1;
    d->houses[0].items = kv_decl_calloc(d, 999, sizeof(struct kv_item));
    d->houses[0].n_items = 999;
    for (size_t i = 0; i < 999; i++) {
        d->houses[0].items[i].number = (struct kv_int){(int64_t)i + 1, true};
        d->houses[0].items[i].commodity = kv_decl_alloc(d, sizeof(struct kv_commodity));
        d->houses[0].items[i].commodity->gross_mass = &max;
    }
    kv_decl_validate(d, ref, &rep);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-MASS-002");
    assert_string_equal(rep.items[0].pointer, "/houseConsignments/0/grossMass");
    kv_report_release(&rep);
    kv_decl_free(d);
}

/* Several repeated seals across equipment: each repeat once, in document order. */
static void seals_across_equipment(void **state)
{
    (void)state;
    char *json = example_with(
        "\"transportEquipment\": [",
        "\"transportEquipment\": [{\"containerId\": \"TGHU1234567\", \"numberOfSeals\": 3, "
        "\"seals\": [\"S1\", \"KZ0417732\", \"S1\"]}, {\"containerId\": \"CSQU3054383\", "
        "\"numberOfSeals\": 2, \"seals\": [\"S9\", \"S1\"]},");
    struct kv_report rep;
    validate_text(json, &rep);
    static const char *const want[][2] = {
        {"/consignment/transportEquipment/0/seals/2", "/consignment/transportEquipment/0/seals/0"},
        {"/consignment/transportEquipment/1/seals/1", "/consignment/transportEquipment/0/seals/0"},
        {"/consignment/transportEquipment/2/seals/1", "/consignment/transportEquipment/0/seals/1"},
    };
    assert_int_equal(rep.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(rep.items[i].rule, "R-SEAL-003");
        assert_string_equal(rep.items[i].pointer, want[i][0]);
        assert_non_null(strstr(rep.items[i].message, want[i][1]));
    }
    kv_report_release(&rep);
    free(json);
}

/* A hostile declaration with thousands of problems: capped, counted, no crash. */
static void report_cap(void **state)
{
    (void)state;
    struct kv_declaration *d = kv_decl_new();
    assert_non_null(d);
    d->consignment = kv_decl_alloc(d, sizeof(*d->consignment));
    size_t n = 3000;
    const char **routing = kv_decl_calloc(d, n, sizeof(*routing));
    for (size_t i = 0; i < n; i++)
        routing[i] = "Q";
    d->consignment->routing = routing;
    d->consignment->n_routing = n;
    struct kv_report rep;
    kv_report_init(&rep);
    kv_decl_validate(d, ref, &rep);
    assert_int_equal(rep.count, KV_REPORT_MAX);
    assert_true(rep.truncated);
    assert_int_equal(rep.total, n);
    kv_report_release(&rep);
    kv_decl_free(d);
}

/* A missing item number (already reported) does not make every goods reference wrong. */
static void missing_item_number(void **state)
{
    (void)state;
    char *json = example_with("\"declarationGoodsItemNumber\": 1,", "");
    struct kv_report rep;
    validate_text(json, &rep);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-REQ-001");
    assert_string_equal(rep.items[0].pointer,
                        "/houseConsignments/0/items/0/declarationGoodsItemNumber");
    kv_report_release(&rep);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_is_valid),
        cmocka_unit_test(dates),
        cmocka_unit_test(gnss),
        cmocka_unit_test(tir_carnet),
        cmocka_unit_test(emails_and_spaces),
        cmocka_unit_test(registry_countries),
        cmocka_unit_test(no_cascades),
        cmocka_unit_test(built_in_code),
        cmocka_unit_test(mass_overflow),
        cmocka_unit_test(seals_across_equipment),
        cmocka_unit_test(report_cap),
        cmocka_unit_test(missing_item_number),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
