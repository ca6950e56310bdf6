/*
 * test_ref.c — tests of src/core/ref.c: the embedded code lists and office
 * registry (counts, lookups, labels, office fields, every reference fixed in
 * notes/offices.md), the parser's error messages and line numbers on caller
 * texts (kv_ref_open_from), and a cross-check of the lists against the
 * public sources in shared/data (HS 2022, ISO 3166-1, ISO 4217); that last
 * group is skipped (exit 77 after the others pass) when shared/data is absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/ref.h"

static struct kv_ref *ref; /* the embedded data, opened once */

static int open_builtin(void **state)
{
    (void)state;
    char err[256];
    int rc = kv_ref_open_err(&ref, err, sizeof(err));
    if (rc != KV_OK) {
        fprintf(stderr, "kv_ref_open: %s: %s\n", kv_strerror(rc), err);
        return -1;
    }
    return 0;
}

static int close_builtin(void **state)
{
    (void)state;
    kv_ref_close(ref);
    ref = NULL;
    return 0;
}

static bool has(enum kv_list l, const char *code)
{
    return kv_ref_has(ref, l, code, strlen(code));
}

static const char *label(enum kv_list l, const char *code)
{
    return kv_ref_label(ref, l, code, strlen(code));
}

/* ------------------------------------------------------------------------ */
/* The embedded lists                                                       */

static void counts(void **state)
{
    (void)state;
    assert_int_equal(kv_ref_count(ref, KV_LIST_HS6), 5613);
    assert_int_equal(kv_ref_count(ref, KV_LIST_COUNTRY), 249);
    assert_int_equal(kv_ref_count(ref, KV_LIST_CURRENCY), 178);
    assert_int_equal(kv_ref_count(ref, KV_LIST_PACKAGE), 378);
    assert_int_equal(kv_ref_count(ref, KV_LIST_TRANSPORT_MODE), 8);
    assert_int_equal(kv_ref_count(ref, KV_LIST_DECLARATION_TYPE), 6);
    assert_int_equal(kv_ref_count(ref, KV_LIST_SECURITY), 4);
    assert_int_equal(kv_ref_count(ref, KV_LIST_GUARANTEE_TYPE), 11);
    assert_int_equal(kv_ref_count(ref, KV_LIST_INCIDENT), 6);
    assert_int_equal(kv_ref_office_count(ref), 41); /* 15 TR + 26 provisional */
    assert_int_equal(kv_ref_count(ref, KV_LIST__COUNT), 0);
    assert_int_equal(kv_ref_count(NULL, KV_LIST_HS6), 0);
}

static void lookups(void **state)
{
    (void)state;
    const char *present[][2] = {
        {"country", "KZ"}, {"country", "TR"}, {"country", "AZ"}, {"country", "GE"},
        {"country", "UZ"}, {"country", "KG"}, {"country", "CN"}, {"country", "NA"},
        {"currency", "KZT"}, {"currency", "TRY"}, {"currency", "AZN"}, {"currency", "GEL"},
        {"currency", "UZS"}, {"currency", "KGS"}, {"currency", "EUR"}, {"currency", "USD"},
        {"hs", "010121"}, {"hs", "847130"}, {"hs", "870323"}, {"hs", "970690"},
        {"package", "CT"}, {"package", "PX"}, {"package", "BX"}, {"package", "NE"},
        {"package", "VR"}, {"package", "1A"}, {"transport-mode", "1"},
        {"transport-mode", "3"}, {"transport-mode", "9"}, {"declaration-type", "T"},
        {"declaration-type", "T1"}, {"declaration-type", "T2SM"}, {"declaration-type", "TIR"},
        {"security", "0"}, {"security", "3"}, {"guarantee-type", "0"},
        {"guarantee-type", "B"}, {"guarantee-type", "R"}, {"incident", "1"},
        {"incident", "6"},
    };
    const char *absent[][2] = {
        {"country", "XX"}, {"country", "kz"}, {"country", "Kz"}, {"country", "KAZ"},
        {"country", "K"}, {"country", "XK"}, {"currency", "kzt"}, {"currency", "TRL"},
        {"currency", "DEM"}, {"currency", "KZ"}, {"currency", "KZTT"}, {"hs", "0101"},
        {"hs", "01012"}, {"hs", "0101210"}, {"hs", "970600"}, {"hs", "010110"},
        {"package", "ct"}, {"package", "C"}, {"package", "CTN"}, {"package", "Z0"}, {"package", "00"},
        {"transport-mode", "0"}, {"transport-mode", "6"}, {"transport-mode", "10"},
        {"declaration-type", "T-"}, {"declaration-type", "t1"}, {"declaration-type", "T3"},
        {"security", "4"}, {"guarantee-type", "C"}, {"guarantee-type", "b"},
        {"incident", "0"}, {"incident", "7"},
    };
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
        enum kv_list l;
        assert_int_equal(kv_list_by_name(present[i][0], &l), KV_OK);
        if (!has(l, present[i][1]))
            fail_msg("%s %s should be present", present[i][0], present[i][1]);
    }
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        enum kv_list l;
        assert_int_equal(kv_list_by_name(absent[i][0], &l), KV_OK);
        if (has(l, absent[i][1]))
            fail_msg("%s %s should be absent", absent[i][0], absent[i][1]);
    }
    /* Length is honoured: "KZT" with len 2 is "KZ", not a currency. */
    assert_true(kv_ref_has(ref, KV_LIST_COUNTRY, "KZT", 2));
    assert_false(kv_ref_has(ref, KV_LIST_CURRENCY, "KZT", 2));
    assert_false(kv_ref_has(ref, KV_LIST_COUNTRY, "", 0));
    assert_false(kv_ref_has(ref, KV_LIST_COUNTRY, NULL, 2));
    assert_false(kv_ref_has(NULL, KV_LIST_COUNTRY, "KZ", 2));
    assert_false(kv_ref_has(ref, KV_LIST__COUNT, "KZ", 2));
    /* A code with an embedded NUL is not the shorter code. */
    assert_false(kv_ref_has(ref, KV_LIST_COUNTRY, "K\0", 2));
}

static void labels(void **state)
{
    (void)state;
    assert_string_equal(label(KV_LIST_COUNTRY, "KZ"), "Kazakhstan");
    assert_string_equal(label(KV_LIST_COUNTRY, "TR"), "Türkiye");
    assert_string_equal(label(KV_LIST_COUNTRY, "GE"), "Georgia");
    assert_string_equal(label(KV_LIST_CURRENCY, "EUR"), "Euro");
    assert_string_equal(label(KV_LIST_CURRENCY, "KZT"), "Tenge");
    assert_string_equal(label(KV_LIST_HS6, "010121"), "Horses; live, pure-bred breeding animals");
    assert_string_equal(label(KV_LIST_PACKAGE, "CT"), "Carton");
    assert_string_equal(label(KV_LIST_PACKAGE, "VR"),
                        "Bulk, solid, granular particles (\xe2\x80\x9cgrains\xe2\x80\x9d)");
    assert_string_equal(label(KV_LIST_TRANSPORT_MODE, "3"), "Road transport");
    assert_string_equal(label(KV_LIST_TRANSPORT_MODE, "2"), "Rail transport");
    assert_string_equal(label(KV_LIST_SECURITY, "0"), "No safety and security data");
    assert_string_equal(label(KV_LIST_GUARANTEE_TYPE, "1"), "Comprehensive guarantee");
    assert_non_null(strstr(label(KV_LIST_INCIDENT, "2"), "Seals are broken"));
    assert_null(label(KV_LIST_COUNTRY, "XX"));
}

static void sorted_listing(void **state)
{
    (void)state;
    for (int l = 0; l < KV_LIST__COUNT; l++) {
        size_t n = kv_ref_count(ref, (enum kv_list)l);
        for (size_t i = 1; i < n; i++)
            assert_true(strcmp(kv_ref_code_at(ref, (enum kv_list)l, i - 1),
                               kv_ref_code_at(ref, (enum kv_list)l, i)) < 0);
        assert_null(kv_ref_code_at(ref, (enum kv_list)l, n));
        assert_null(kv_ref_label_at(ref, (enum kv_list)l, n));
    }
    assert_string_equal(kv_ref_code_at(ref, KV_LIST_COUNTRY, 0), "AD");
    assert_string_equal(kv_ref_label_at(ref, KV_LIST_COUNTRY, 0), "Andorra");
    assert_string_equal(kv_ref_code_at(ref, KV_LIST_HS6, 0), "010121");
    /* The source's level-6 rows end with Comtrade's 999999 "Commodities not
     * specified according to kind", which the list keeps (see hs2022.tsv). */
    assert_string_equal(kv_ref_code_at(ref, KV_LIST_HS6, 5611), "970690");
    assert_string_equal(kv_ref_code_at(ref, KV_LIST_HS6, 5612), "999999");
    size_t n = kv_ref_office_count(ref);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(kv_ref_office_at(ref, i - 1)->ref, kv_ref_office_at(ref, i)->ref) < 0);
    assert_null(kv_ref_office_at(ref, n));
}

static void list_names(void **state)
{
    (void)state;
    const char *names[] = {"country",          "currency", "hs",
                           "package",          "transport-mode", "declaration-type",
                           "security",         "guarantee-type", "incident"};
    for (int i = 0; i < KV_LIST__COUNT; i++) {
        enum kv_list l;
        assert_string_equal(kv_list_name((enum kv_list)i), names[i]);
        assert_int_equal(kv_list_by_name(names[i], &l), KV_OK);
        assert_int_equal(l, i);
    }
    enum kv_list l = KV_LIST_COUNTRY;
    assert_int_equal(kv_list_by_name("hs6", &l), KV_OK);
    assert_int_equal(l, KV_LIST_HS6);
    assert_int_equal(kv_list_by_name("countries", &l), KV_ENOTFOUND);
    assert_int_equal(kv_list_by_name("Country", &l), KV_ENOTFOUND);
    assert_string_equal(kv_list_name(KV_LIST__COUNT), "?");
    assert_string_equal(kv_office_role_name(KV_ROLE_TXT), "TXT");
    assert_string_equal(kv_office_traffic_name(KV_TRAFFIC_SEA), "sea");
    assert_null(kv_office_role_name(KV_ROLE_DEP | KV_ROLE_DES));
}

/* ------------------------------------------------------------------------ */
/* The office registry                                                      */

#define DEP KV_ROLE_DEP
#define TRA KV_ROLE_TRA
#define TXT KV_ROLE_TXT
#define DES KV_ROLE_DES
#define ROAD KV_TRAFFIC_ROAD
#define RAIL KV_TRAFFIC_RAIL
#define SEA KV_TRAFFIC_SEA

/* notes/offices.md, the provisional references (binding). */
static const struct {
    const char *ref;
    unsigned roles, traffic;
} provisional[] = {
    {"KZ050100", DEP | DES, ROAD | RAIL},
    {"KZ050200", DEP | DES | TRA | TXT, ROAD},
    {"KZ050300", DEP | DES | TRA | TXT, RAIL},
    {"KZ190100", DEP | DES | TRA | TXT, RAIL},
    {"KZ470100", DEP | DES | TRA | TXT, SEA | RAIL | ROAD},
    {"KZ470200", DEP | DES | TRA | TXT, SEA | RAIL | ROAD},
    {"KZ610100", DEP | DES | TRA | TXT, RAIL | ROAD},
    {"AZ100100", DEP | DES, ROAD | RAIL},
    {"AZ100200", DEP | DES | TRA | TXT, SEA | RAIL | ROAD},
    {"AZ200100", TRA | TXT, ROAD},
    {"AZ200200", TRA | TXT, RAIL},
    {"GE100100", DEP | DES, ROAD | RAIL},
    {"GE200100", TRA | TXT, ROAD},
    {"GE200200", TRA | TXT, RAIL},
    {"GE300100", DEP | DES | TRA | TXT, SEA | RAIL | ROAD},
    {"GE300200", DEP | DES | TRA | TXT, SEA | RAIL | ROAD},
    {"GE400100", TRA | TXT, ROAD},
    {"GE400200", DEP | DES | TRA | TXT, RAIL},
    {"UZ100100", DEP | DES, ROAD | RAIL},
    {"UZ200100", TRA | TXT, ROAD},
    {"UZ200200", TRA | TXT, ROAD},
    {"UZ200300", TRA | TXT, RAIL},
    {"KG100100", DEP | DES, ROAD | RAIL},
    {"KG200100", TRA | TXT, ROAD},
    {"KG200200", DEP | DES | TRA | TXT, ROAD},
    {"KG200300", DEP | DES | TRA | TXT, ROAD},
};

/* notes/offices.md, Türkiye: the references, and the roles/traffic each must
 * have at least (published COL data plus the corridor TRA additions). */
static const struct {
    const char *ref;
    unsigned roles, traffic;
} turkish[] = {
    {"TR080200", DEP | DES | TRA, ROAD}, {"TR080300", DEP | DES | TRA, ROAD},
    {"TR080400", DEP | DES | TRA, ROAD}, {"TR041900", DEP | DES | TRA | KV_ROLE_INC, ROAD | RAIL},
    {"TR330100", DEP | DES | TRA, ROAD | SEA}, {"TR343100", DEP | DES | TRA, ROAD | SEA},
    {"TR343500", DEP | DES, RAIL},           {"TR220200", DEP | DES | TRA, ROAD},
    {"TR220400", DEP | DES | TRA, ROAD | RAIL}, {"TR221300", DEP | DES | TRA, ROAD},
    {"TR220500", DEP | DES | TRA, ROAD},     {"TR550100", DEP | DES, ROAD | SEA},
    {"TR610100", DEP | DES, ROAD | SEA},     {"TR410300", DEP | DES | TRA, ROAD | SEA},
    {"TR041800", DEP | DES | KV_ROLE_INC, ROAD},
};

static void offices_fixed_references(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(provisional) / sizeof(provisional[0]); i++) {
        const struct kv_office *o = kv_ref_office(ref, provisional[i].ref, 8);
        if (!o)
            fail_msg("office %s missing", provisional[i].ref);
        assert_string_equal(o->ref, provisional[i].ref);
        assert_memory_equal(o->country, provisional[i].ref, 2);
        assert_true(o->provisional);
        if (o->roles != provisional[i].roles || o->traffic != provisional[i].traffic)
            fail_msg("office %s: roles %#x traffic %#x, expected %#x %#x", o->ref, o->roles,
                     o->traffic, provisional[i].roles, provisional[i].traffic);
        assert_true(o->name[0] && o->place[0]);
        assert_true(o->lat_e6 > 35000000 && o->lat_e6 < 56000000);
        assert_true(o->lon_e6 > 40000000 && o->lon_e6 < 88000000);
    }
    for (size_t i = 0; i < sizeof(turkish) / sizeof(turkish[0]); i++) {
        const struct kv_office *o = kv_ref_office(ref, turkish[i].ref, 8);
        if (!o)
            fail_msg("office %s missing", turkish[i].ref);
        assert_false(o->provisional);
        assert_string_equal(o->country, "TR");
        if ((o->roles & turkish[i].roles) != turkish[i].roles ||
            (o->traffic & turkish[i].traffic) != turkish[i].traffic)
            fail_msg("office %s: roles %#x traffic %#x, expected at least %#x %#x", o->ref,
                     o->roles, o->traffic, turkish[i].roles, turkish[i].traffic);
        assert_true(o->lat_e6 > 36000000 && o->lat_e6 < 42200000);
        assert_true(o->lon_e6 > 26000000 && o->lon_e6 < 45000000);
    }
    /* Every office is in one of the two tables. */
    assert_int_equal(kv_ref_office_count(ref), sizeof(provisional) / sizeof(provisional[0]) +
                                                   sizeof(turkish) / sizeof(turkish[0]));
}

static void office_fields(void **state)
{
    (void)state;
    const struct kv_office *o = kv_ref_office(ref, "TR080200", 8);
    assert_non_null(o);
    assert_string_equal(o->name, "SARP GÜMRÜK MÜDÜRLÜĞÜ");
    assert_string_equal(o->place, "Sarp");
    assert_string_equal(o->unlocode, ""); /* no LOCODE of its own */
    assert_int_equal(o->lat_e6, 41400000);  /* Hopa, the nearest listed place */
    assert_int_equal(o->lon_e6, 41416667);
    assert_int_equal(o->roles, DEP | TRA | DES | KV_ROLE_GUA);
    assert_int_equal(o->traffic, ROAD);

    o = kv_ref_office(ref, "KZ050100", 8);
    assert_non_null(o);
    assert_string_equal(o->unlocode, "KZALA");
    assert_int_equal(o->lat_e6, 43250000);
    assert_int_equal(o->lon_e6, 76950000);
    assert_string_equal(o->place, "Almaty");

    o = kv_ref_office(ref, "TR330100", 8);
    assert_string_equal(o->unlocode, "TRMER");
    assert_string_equal(o->name, "MERSİN GÜMRÜK MÜDÜRLÜĞÜ");

    assert_null(kv_ref_office(ref, "TR080200", 7));
    assert_null(kv_ref_office(ref, "TR0802000", 9));
    assert_null(kv_ref_office(ref, "tr080200", 8));
    assert_null(kv_ref_office(ref, "TR999999", 8));
    assert_null(kv_ref_office(ref, NULL, 8));
    assert_null(kv_ref_office(NULL, "TR080200", 8));
}

/* ------------------------------------------------------------------------ */
/* Parsing caller texts                                                     */

static const char countries_ok[] = "# test\n"
                                   "code\tlabel\n"
                                   "KZ\tKazakhstan\n"
                                   "TR\tTürkiye\n";

static const char offices_hdr[] =
    "# offices\n"
    "ref\tcountry\tname\tplace\tunlocode\tlat\tlon\troles\ttraffic\tstatus\tsource\n";

/* Parses `text` as `list` (or as the registry when list is KV_LIST__COUNT,
 * with countries_ok as the country list) and returns the error message, or
 * "" on success. */
static const char *parse(enum kv_list list, const char *text)
{
    static char err[256];
    const char *texts[KV_LIST__COUNT] = {0};
    const char *offices = NULL;
    if (list == KV_LIST__COUNT) {
        texts[KV_LIST_COUNTRY] = countries_ok;
        offices = text;
    } else {
        texts[list] = text;
    }
    struct kv_ref *r = (struct kv_ref *)1;
    memset(err, 'x', sizeof(err) - 1);
    err[sizeof(err) - 1] = '\0';
    int rc = kv_ref_open_from(&r, texts, offices, err, sizeof(err));
    if (rc == KV_OK) {
        assert_non_null(r);
        assert_string_equal(err, "");
        kv_ref_close(r);
    } else {
        assert_int_equal(rc, KV_EPARSE);
        assert_null(r);
    }
    return err;
}

/* One office row with fields replaced: ROW(lat, lon, roles, traffic, status). */
static const char *office_text(const char *rows)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf), "%s%s", offices_hdr, rows);
    return buf;
}

static void parse_ok(void **state)
{
    (void)state;
    const char *texts[KV_LIST__COUNT] = {0};
    /* Unsorted input is sorted. */
    texts[KV_LIST_COUNTRY] = "code\tlabel\textra\nTR\tTürkiye\tx\nAZ\tAzerbaijan\ty\nKZ\tKazakhstan\tz";
    texts[KV_LIST_HS6] = "code\tlabel\n010121\tHorses\n";
    const char *offices =
        "ref\tcountry\tname\tplace\tunlocode\tlat\tlon\troles\ttraffic\tstatus\tsource\n"
        "KZ050200\tKZ\tNur Zholy\tKhorgos\tKZHOR\t44.22364\t80.384232\tDEP,TRA\troad\tprovisional\ts\n"
        "AZ100100\tAZ\tBaku\tBaku\t\t-40.5\t-0.000001\tGUA\tair,sea\tpublished\ts\n";
    struct kv_ref *r = NULL;
    char err[128] = "unchanged";
    assert_int_equal(kv_ref_open_from(&r, texts, offices, err, sizeof(err)), KV_OK);
    assert_string_equal(err, "");
    assert_int_equal(kv_ref_count(r, KV_LIST_COUNTRY), 3);
    assert_string_equal(kv_ref_code_at(r, KV_LIST_COUNTRY, 0), "AZ");
    assert_string_equal(kv_ref_code_at(r, KV_LIST_COUNTRY, 2), "TR");
    assert_string_equal(kv_ref_label(r, KV_LIST_COUNTRY, "KZ", 2), "Kazakhstan");
    assert_int_equal(kv_ref_count(r, KV_LIST_CURRENCY), 0);
    assert_false(kv_ref_has(r, KV_LIST_CURRENCY, "EUR", 3));
    assert_int_equal(kv_ref_office_count(r), 2);
    const struct kv_office *o = kv_ref_office_at(r, 0);
    assert_string_equal(o->ref, "AZ100100");
    assert_int_equal(o->lat_e6, -40500000);
    assert_int_equal(o->lon_e6, -1);
    assert_int_equal(o->roles, KV_ROLE_GUA);
    assert_int_equal(o->traffic, KV_TRAFFIC_AIR | KV_TRAFFIC_SEA);
    assert_false(o->provisional);
    o = kv_ref_office(r, "KZ050200", 8);
    assert_int_equal(o->lat_e6, 44223640);
    assert_int_equal(o->lon_e6, 80384232);
    assert_true(o->provisional);
    assert_string_equal(o->unlocode, "KZHOR");
    kv_ref_close(r);

    /* All NULL: an empty handle. */
    assert_int_equal(kv_ref_open_from(&r, NULL, NULL, NULL, 0), KV_OK);
    assert_int_equal(kv_ref_count(r, KV_LIST_COUNTRY), 0);
    assert_int_equal(kv_ref_office_count(r), 0);
    kv_ref_close(r);
    kv_ref_close(NULL);
    assert_int_equal(kv_ref_open_from(NULL, NULL, NULL, NULL, 0), KV_EINVAL);
}

static void parse_errors_lists(void **state)
{
    (void)state;
    assert_string_equal(parse(KV_LIST_COUNTRY, countries_ok), "");
    /* A tab inside a label makes an extra field. */
    assert_string_equal(parse(KV_LIST_COUNTRY, "# c\ncode\tlabel\nKZ\tKazakh\tstan\n"),
                        "country:3: expected 2 tab-separated fields, found 3");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nKZ\tKazakhstan\nTR\n"),
                        "country:3: expected 2 tab-separated fields, found 1");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\tx\nKZ\tKazakhstan\n"),
                        "country:2: expected 3 tab-separated fields, found 2");
    assert_string_equal(parse(KV_LIST_CURRENCY, "# only comments\n# here\n"),
                        "currency:2: no header line");
    assert_string_equal(parse(KV_LIST_CURRENCY, ""), "currency:1: no header line");
    assert_string_equal(parse(KV_LIST_CURRENCY, "label\tcode\nEUR\tEuro\n"),
                        "currency:1: header must start with the columns 'code' and 'label'");
    assert_string_equal(parse(KV_LIST_CURRENCY, "code\t\nEUR\tEuro\n"),
                        "currency:1: empty column name in header");
    /* Duplicates: the later line is named, sorted or not. */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nKZ\tA\nTR\tB\nKZ\tC\n"),
                        "country:4: duplicate code 'KZ' (first on line 2)");
    assert_string_equal(parse(KV_LIST_COUNTRY, "# c\ncode\tlabel\nKZ\tA\nKZ\tC\n"),
                        "country:4: duplicate code 'KZ' (first on line 3)");
    /* Code shapes. */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nkz\tA\n"),
                        "country:2: code 'kz' is not 2 capital letters");
    assert_string_equal(parse(KV_LIST_HS6, "code\tlabel\n01012\tA\n"),
                        "hs:2: code '01012' is not 6 digits");
    assert_string_equal(parse(KV_LIST_HS6, "code\tlabel\n01012X\tA\n"),
                        "hs:2: code '01012X' is not 6 digits");
    assert_string_equal(parse(KV_LIST_DECLARATION_TYPE, "code\tlabel\nT2SMXX\tA\n"),
                        "declaration-type:2: code 'T2SMXX' is not 1 to 5 capitals and digits");
    assert_string_equal(parse(KV_LIST_PACKAGE, "code\tlabel\n\tA\n"),
                        "package:2: code '' is not 2 capitals and digits");
    assert_string_equal(parse(KV_LIST_INCIDENT, "code\tlabel\n1\t\n"),
                        "incident:2: empty label for code '1'");
    /* Line-level defects. */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nKZ\tA\n\nTR\tB\n"),
                        "country:3: empty line");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\r\nKZ\tA\r\n"),
                        "country:1: carriage return (lines must end with LF only)");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nKZ\tA\x01\n"),
                        "country:2: control character");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nTR\tT\xfcrkiye\n"),
                        "country:2: invalid UTF-8");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nTR\tT\xc3\n"),
                        "country:2: invalid UTF-8");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nTR\t\xc0\xaf\n"),
                        "country:2: invalid UTF-8"); /* overlong */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nTR\t\xed\xa0\x80\n"),
                        "country:2: invalid UTF-8"); /* surrogate */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nTR\t\xf0\x9f\x9a\x9a\n"), "");
    /* A comment between rows counts as a line. */
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\nKZ\tA\n# note\nkz\tB\n"),
                        "country:4: code 'kz' is not 2 capital letters");
    assert_string_equal(parse(KV_LIST_COUNTRY, "code\tlabel\tb\tc\td\te\tf\tg\th\ti\tj\tk\tl\tm"
                                               "\tn\to\tp\n"),
                        "country:1: more than 16 fields");
}

static void parse_errors_offices(void **state)
{
    (void)state;
#define ROW(ref, cc, loc, lat, lon, roles, traffic, status)                                       \
    ref "\t" cc "\tName\tPlace\t" loc "\t" lat "\t" lon "\t" roles "\t" traffic "\t" status      \
        "\tsrc\n"
    const char *good = ROW("KZ050100", "KZ", "KZALA", "43.25", "76.95", "DEP,DES", "road,rail",
                           "provisional");
    assert_string_equal(parse(KV_LIST__COUNT, office_text(good)), "");
    assert_string_equal(parse(KV_LIST__COUNT, "ref\tcountry\n"),
                        "offices:1: header must be: ref country name place unlocode lat lon "
                        "roles traffic status source");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "DEP,XYZ", "road", "published"))),
        "offices:3: unknown role 'XYZ'");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "dep", "road", "published"))),
        "offices:3: unknown role 'dep'");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "DEP,DEP", "road", "published"))),
        "offices:3: role 'DEP' listed twice");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "", "road", "published"))),
        "offices:3: empty role");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "DEP,", "road", "published"))),
        "offices:3: unknown role ''");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "DEP", "ship", "published"))),
        "offices:3: unknown traffic 'ship'");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "90.000001", "76.95", "DEP", "road", "published"))),
        "offices:3: latitude '90.000001' is not decimal degrees in [-90, 90]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.1234567", "76.95", "DEP", "road", "published"))),
        "offices:3: latitude '43.1234567' is not decimal degrees in [-90, 90]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "", "76.95", "DEP", "road", "published"))),
        "offices:3: latitude '' is not decimal degrees in [-90, 90]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.", "76.95", "DEP", "road", "published"))),
        "offices:3: latitude '43.' is not decimal degrees in [-90, 90]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43,25", "76.95", "DEP", "road", "published"))),
        "offices:3: latitude '43,25' is not decimal degrees in [-90, 90]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "180.5", "DEP", "road", "published"))),
        "offices:3: longitude '180.5' is not decimal degrees in [-180, 180]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "1e2", "DEP", "road", "published"))),
        "offices:3: longitude '1e2' is not decimal degrees in [-180, 180]");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "-90", "-180", "DEP", "road", "published"))),
        "");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "43.25", "76.95", "DEP", "road", "draft"))),
        "offices:3: status 'draft' is neither 'published' nor 'provisional'");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ05010", "KZ", "", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: reference 'KZ05010' is not 2 capital letters and 6 digits");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ05010A", "KZ", "", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: reference 'KZ05010A' is not 2 capital letters and 6 digits");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "TR", "", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: country 'TR' does not match reference 'KZ050100'");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("UZ050100", "UZ", "", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: country 'UZ' is not in the country list");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "KZAL", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: UN/LOCODE 'KZAL' is not CC + 3 letters or digits 2-9");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "KZA1A", "43.25", "76.95", "DEP", "road", "published"))),
        "offices:3: UN/LOCODE 'KZA1A' is not CC + 3 letters or digits 2-9");
    /* Duplicates, in order and out of order. */
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "1", "2", "DEP", "road", "published")
                              ROW("TR050100", "TR", "", "1", "2", "DEP", "road", "published")
                                  ROW("KZ050100", "KZ", "", "1", "2", "DES", "rail", "published"))),
        "offices:5: duplicate reference 'KZ050100' (first on line 3)");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "1", "2", "DEP", "road", "published")
                              ROW("KZ050100", "KZ", "", "1", "2", "DES", "rail", "published"))),
        "offices:4: duplicate reference 'KZ050100' (first on line 3)");
    assert_string_equal(
        parse(KV_LIST__COUNT, office_text("KZ050100\tKZ\tName\tPlace\t\t1\t2\tDEP\troad\n")),
        "offices:3: expected 11 tab-separated fields, found 9");
    assert_string_equal(
        parse(KV_LIST__COUNT,
              office_text(ROW("KZ050100", "KZ", "", "1", "2", "DEP", "road", "published\tx"))),
        "offices:3: expected 11 tab-separated fields, found 12");
#undef ROW
}

/* Errors in the registry must not leak; a long message is truncated safely. */
static void parse_error_truncation(void **state)
{
    (void)state;
    const char *texts[KV_LIST__COUNT] = {[KV_LIST_COUNTRY] = "code\tlabel\nkz\tA\n"};
    struct kv_ref *r = NULL;
    char small[12];
    assert_int_equal(kv_ref_open_from(&r, texts, NULL, small, sizeof(small)), KV_EPARSE);
    assert_string_equal(small, "country:2: ");
    assert_int_equal(kv_ref_open_from(&r, texts, NULL, NULL, 0), KV_EPARSE);
    assert_null(r);
}

/* ------------------------------------------------------------------------ */
/* Cross-check against shared/data                                          */

#define HS_CSV KV_SHARED_DATA "/codelists/hs2022/harmonized-system.csv"
#define ISO4217_CSV KV_SHARED_DATA "/codelists/iso4217/codes-all.csv"

/* The last comma-separated field of a line (no quoting in the final columns). */
static const char *last_field(const char *line)
{
    const char *c = strrchr(line, ',');
    return c ? c + 1 : line;
}

static void shared_hs_level6(void **state)
{
    (void)state;
    FILE *f = fopen(HS_CSV, "r");
    assert_non_null(f);
    char line[2048];
    size_t n6 = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            assert_string_equal(line, "section,hscode,description,parent,level");
            continue;
        }
        /* section,hscode,... : the code is the second field */
        const char *c1 = strchr(line, ',');
        assert_non_null(c1);
        const char *c2 = strchr(c1 + 1, ',');
        assert_non_null(c2);
        size_t len = (size_t)(c2 - c1 - 1);
        bool level6 = strcmp(last_field(line), "6") == 0;
        bool in = kv_ref_has(ref, KV_LIST_HS6, c1 + 1, len);
        if (level6 != in)
            fail_msg("harmonized-system.csv:%zu: %.*s level %s but %s in the list", lineno,
                     (int)len, c1 + 1, last_field(line), in ? "is" : "not");
        n6 += level6;
    }
    fclose(f);
    assert_int_equal(n6, 5613);
}

/* Splits a simple CSV line (quotes allowed, no embedded newlines). */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        char *out = p;
        fields[n++] = p;
        bool quoted = *p == '"';
        if (quoted)
            p++;
        for (;;) {
            if (quoted && *p == '"' && p[1] == '"') {
                *out++ = '"';
                p += 2;
            } else if (quoted && *p == '"') {
                quoted = false;
                p++;
            } else if (*p == '\0' || (!quoted && *p == ',')) {
                break;
            } else {
                *out++ = *p++;
            }
        }
        bool more = *p == ',';
        *out = '\0';
        if (!more)
            break;
        p++;
    }
    return n;
}

static void shared_iso4217(void **state)
{
    (void)state;
    FILE *f = fopen(ISO4217_CSV, "r");
    assert_non_null(f);
    char line[1024];
    char current[400][4];
    size_t ncur = 0, nwithdrawn_only = 0;
    char withdrawn[600][4];
    size_t nw = 0;
    fgets(line, sizeof(line), f); /* header */
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fl[8];
        size_t n = csv_split(line, fl, 8);
        assert_true(n >= 6);
        if (strlen(fl[2]) != 3)
            continue;
        if (fl[5][0] == '\0') {
            if (!kv_ref_has(ref, KV_LIST_CURRENCY, fl[2], 3))
                fail_msg("current ISO 4217 code %s (%s) missing", fl[2], fl[1]);
            assert_true(ncur < 400);
            memcpy(current[ncur++], fl[2], 4);
        } else {
            assert_true(nw < 600);
            memcpy(withdrawn[nw++], fl[2], 4);
        }
    }
    fclose(f);
    /* A code that is only withdrawn (no current row) must be absent. */
    for (size_t i = 0; i < nw; i++) {
        bool cur = false;
        for (size_t j = 0; j < ncur && !cur; j++)
            cur = strcmp(withdrawn[i], current[j]) == 0;
        if (!cur) {
            nwithdrawn_only++;
            if (kv_ref_has(ref, KV_LIST_CURRENCY, withdrawn[i], 3))
                fail_msg("withdrawn ISO 4217 code %s is listed", withdrawn[i]);
        }
    }
    assert_true(nwithdrawn_only > 50);
}

/* Spot checks of ISO 3166-1 and ISO 4217 (codes and names as in the
 * sources' current editions). */
static void shared_iso_spot_checks(void **state)
{
    (void)state;
    static const char *const countries[][2] = {
        {"AF", "Afghanistan"}, {"AM", "Armenia"}, {"AQ", "Antarctica"},
        {"AX", "Åland Islands"}, {"AZ", "Azerbaijan"}, {"BG", "Bulgaria"},
        {"BQ", "Bonaire, Sint Eustatius and Saba"}, {"CN", "China"}, {"CZ", "Czechia"},
        {"DE", "Germany"}, {"GE", "Georgia"}, {"GR", "Greece"}, {"IR", "Iran (Islamic Republic of)"},
        {"KG", "Kyrgyzstan"}, {"KZ", "Kazakhstan"}, {"MK", "North Macedonia"},
        {"NA", "Namibia"}, {"RU", "Russian Federation"}, {"SZ", "Eswatini"},
        {"TM", "Turkmenistan"}, {"TR", "Türkiye"}, {"UA", "Ukraine"}, {"UZ", "Uzbekistan"},
        {"ZW", "Zimbabwe"},
    };
    static const char *const not_countries[] = {"XK", "XI", "EU", "UK", "SU", "YU", "CS", "AN"};
    static const char *const currencies[][2] = {
        {"AZN", "Azerbaijan Manat"}, {"CHF", "Swiss Franc"}, {"CNY", "Yuan Renminbi"},
        {"EUR", "Euro"}, {"GBP", "Pound Sterling"}, {"GEL", "Lari"}, {"KGS", "Som"},
        {"KZT", "Tenge"}, {"RUB", "Russian Ruble"}, {"TMT", "Turkmenistan New Manat"},
        {"TRY", "Turkish Lira"}, {"USD", "US Dollar"}, {"UZS", "Uzbekistan Sum"},
        {"XAU", "Gold"},
    };
    static const char *const not_currencies[] = {"TRL", "AZM", "DEM", "FRF", "ITL", "RUR",
                                                 "TMM", "SUR", "XEU", "HRK"};
    for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++) {
        const char *l = label(KV_LIST_COUNTRY, countries[i][0]);
        if (!l || strcmp(l, countries[i][1]) != 0)
            fail_msg("country %s: got '%s', expected '%s'", countries[i][0], l ? l : "(absent)",
                     countries[i][1]);
    }
    for (size_t i = 0; i < sizeof(not_countries) / sizeof(not_countries[0]); i++)
        if (has(KV_LIST_COUNTRY, not_countries[i]))
            fail_msg("%s is not an ISO 3166-1 code", not_countries[i]);
    for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++) {
        const char *l = label(KV_LIST_CURRENCY, currencies[i][0]);
        if (!l || strcmp(l, currencies[i][1]) != 0)
            fail_msg("currency %s: got '%s', expected '%s'", currencies[i][0],
                     l ? l : "(absent)", currencies[i][1]);
    }
    for (size_t i = 0; i < sizeof(not_currencies) / sizeof(not_currencies[0]); i++)
        if (has(KV_LIST_CURRENCY, not_currencies[i]))
            fail_msg("%s is not a current ISO 4217 code", not_currencies[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts),
        cmocka_unit_test(lookups),
        cmocka_unit_test(labels),
        cmocka_unit_test(sorted_listing),
        cmocka_unit_test(list_names),
        cmocka_unit_test(offices_fixed_references),
        cmocka_unit_test(office_fields),
        cmocka_unit_test(parse_ok),
        cmocka_unit_test(parse_errors_lists),
        cmocka_unit_test(parse_errors_offices),
        cmocka_unit_test(parse_error_truncation),
        cmocka_unit_test(shared_iso_spot_checks),
    };
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(shared_hs_level6),
        cmocka_unit_test(shared_iso4217),
    };
    int failed = cmocka_run_group_tests_name("ref", tests, open_builtin, close_builtin);
    FILE *f = fopen(HS_CSV, "r");
    if (!f) {
        printf("shared data not found at %s: skipping (the other tests ran%s)\n", KV_SHARED_DATA,
               failed ? " and failed" : "");
        return failed ? 1 : 77;
    }
    fclose(f);
    failed |= cmocka_run_group_tests_name("ref_shared", shared, open_builtin, close_builtin);
    return failed ? 1 : 0;
}
