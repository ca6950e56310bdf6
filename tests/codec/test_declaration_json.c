/*
 * test_declaration_json.c — tests of src/codec/declaration_json.c and the
 * strict checker src/codec/json_strict.c: lossless decode → encode → decode
 * on the example and the valid golden cases, exact decimals, the limits
 * (size, depth, containers, values, 1,999 goods items, array multiplicities)
 * and every JSON error path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "codec/json_strict.h"
#include "core/declaration.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

#define EXAMPLE    KV_SOURCE_DIR "/examples/declaration.json"
#define GOLDEN_DIR KV_SOURCE_DIR "/tests/golden/validate"

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

/* A growing text buffer for generated documents. */
struct text {
    char *s;
    size_t len, cap;
};

static void addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void addf(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (t->s && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap ? t->cap * 2 : 4096;
        while (ncap < t->len + (size_t)n + 1)
            ncap *= 2;
        t->s = realloc(t->s, ncap);
        assert_non_null(t->s);
        t->cap = ncap;
    }
}

/* Decodes, expecting `rc`; returns the declaration (may be NULL) and fills rep. */
static struct kv_declaration *decode(const char *json, size_t len, int rc, struct kv_report *rep)
{
    struct kv_declaration *d = (struct kv_declaration *)0x1;
    kv_report_init(rep);
    int got = kv_decl_from_json(json, len, &d, rep);
    if (got != rc)
        fail_msg("expected rc %d, got %d (%zu problems, first: %s %s %s)", rc, got, rep->count,
                 rep->count ? rep->items[0].pointer : "", rep->count ? rep->items[0].rule : "",
                 rep->count ? rep->items[0].message : "");
    if (rc != KV_OK)
        assert_null(d);
    else
        assert_non_null(d);
    return d;
}

static struct kv_declaration *decode_str(const char *json, int rc, struct kv_report *rep)
{
    return decode(json, strlen(json), rc, rep);
}

/* Asserts the report holds exactly one problem with this rule and pointer. */
static void assert_one(const struct kv_report *rep, const char *rule, const char *pointer)
{
    if (rep->count != 1) {
        for (size_t i = 0; i < rep->count; i++)
            printf("  %s: %s: %s\n", rep->items[i].pointer, rep->items[i].rule,
                   rep->items[i].message);
        fail_msg("expected 1 problem (%s at %s), got %zu", rule, pointer, rep->count);
    }
    assert_string_equal(rep->items[0].rule, rule);
    assert_string_equal(rep->items[0].pointer, pointer);
}

/* Asserts a problem with this rule and pointer is in the report; returns its message. */
static const char *assert_has(const struct kv_report *rep, const char *rule, const char *pointer)
{
    for (size_t i = 0; i < rep->count; i++)
        if (strcmp(rep->items[i].rule, rule) == 0 && strcmp(rep->items[i].pointer, pointer) == 0)
            return rep->items[i].message;
    for (size_t i = 0; i < rep->count; i++)
        printf("  %s: %s: %s\n", rep->items[i].pointer, rep->items[i].rule, rep->items[i].message);
    fail_msg("no %s at %s", rule, pointer);
    return NULL;
}

/*
 * Decode → encode → decode → encode: the two encodings are identical and
 * both decodes leave the same problems (none for a valid declaration).
 */
static void round_trip(const char *name, const char *json, size_t len, struct kv_ref *ref)
{
    struct kv_report r1, r2;
    struct kv_declaration *d1 = decode(json, len, KV_OK, &r1);
    kv_decl_validate(d1, ref, &r1);
    char *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    assert_int_equal(kv_decl_to_json(d1, &e1, &l1), KV_OK);
    assert_int_equal(strlen(e1), l1);
    struct kv_declaration *d2 = decode(e1, l1, KV_OK, &r2);
    kv_decl_validate(d2, ref, &r2);
    assert_int_equal(kv_decl_to_json(d2, &e2, &l2), KV_OK);
    if (l1 != l2 || strcmp(e1, e2) != 0)
        fail_msg("%s: second encoding differs:\n%s\n%s", name, e1, e2);
    assert_int_equal(r1.count, r2.count);
    for (size_t i = 0; i < r1.count; i++) {
        assert_string_equal(r1.items[i].rule, r2.items[i].rule);
        assert_string_equal(r1.items[i].pointer, r2.items[i].pointer);
        assert_string_equal(r1.items[i].message, r2.items[i].message);
    }
    free(e1);
    free(e2);
    kv_decl_free(d1);
    kv_decl_free(d2);
    kv_report_release(&r1);
    kv_report_release(&r2);
}

/* A small valid declaration with `mass` as every mass; `extra` goes into the root object. */
static char *small_doc(const char *mass, const char *extra)
{
    struct text t = {0};
    addf(&t,
         "{\"lrn\":\"NZ250001\",\"declarationType\":\"T1\",\"additionalDeclarationType\":\"A\","
         "\"security\":\"0\",\"reducedDatasetIndicator\":false,\"bindingItinerary\":false,"
         "\"officeOfDeparture\":\"KZ050200\",\"officeOfDestination\":\"KZ050100\","
         "\"holder\":{\"id\":\"180540001239\"},"
         "\"guarantees\":[{\"type\":\"1\",\"references\":[{\"grn\":\"25KZ050100ALA0012\","
         "\"accessCode\":\"4821\"}]}],"
         "\"consignment\":{\"grossMass\":%s},"
         "\"houseConsignments\":[{\"grossMass\":%s,\"items\":[{\"declarationGoodsItemNumber\":1,"
         "\"commodity\":{\"description\":\"Tiles\",\"hs\":\"690721\",\"grossMass\":%s},"
         "\"packages\":[{\"type\":\"PX\",\"number\":2,\"shippingMarks\":\"NZ-1/2\"}]}]}]%s%s}",
         mass, mass, mass, extra ? "," : "", extra ? extra : "");
    return t.s;
}

/* ------------------------------------------------------------------ */
/* Round trips and decimals                                           */
/* ------------------------------------------------------------------ */

static void example_round_trip(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);
    size_t len = 0;
    char *json = read_all(EXAMPLE, &len);
    assert_non_null(json);

    /* The example is valid, with every group decoded. */
    struct kv_report rep;
    kv_report_init(&rep);
    assert_int_equal(kv_validate_json(json, len, ref, &rep), KV_OK);
    assert_true(kv_report_ok(&rep));
    kv_report_release(&rep);

    struct kv_declaration *d = decode(json, len, KV_OK, &rep);
    assert_string_equal(d->lrn, "STL25AK0417");
    assert_int_equal(d->n_transit, 3);
    assert_string_equal(d->transit[2].office, "TR080200");
    assert_int_equal(d->n_exit, 3);
    assert_int_equal(d->n_houses, 2);
    assert_int_equal(kv_decl_item_count(d), 5);
    assert_int_equal(d->consignment->gross_mass->ip, 22930);
    assert_int_equal(d->consignment->gross_mass->micro, 500000);
    assert_int_equal(d->consignment->gross_mass->scale, 3);
    assert_int_equal(d->guarantees[0].refs[0].amount->ip, 78450);
    assert_int_equal(d->guarantees[0].refs[0].amount->scale, 2);
    assert_string_equal(d->houses[0].items[2].commodity->dangerous[0], "3480");
    assert_int_equal(d->consignment->equipment[0].n_goods_refs, 5);
    assert_int_equal(d->consignment->equipment[0].goods_refs[4], 5);
    assert_int_equal(d->consignment->container_indicator, KV_YESNO_YES);
    assert_int_equal(d->reduced_dataset, KV_YESNO_NO);

    /* Decimals are written back as the sender wrote them. */
    char *out = NULL;
    assert_int_equal(kv_decl_to_json(d, &out, NULL), KV_OK);
    assert_non_null(strstr(out, "\"grossMass\":22930.500,"));
    assert_non_null(strstr(out, "\"amount\":78450.00,"));
    assert_non_null(strstr(out, "\"netMass\":1650.250}"));
    /* Member order is fixed: the form's order, starting with the LRN. */
    assert_memory_equal(out, "{\"lrn\":\"STL25AK0417\",\"declarationType\":\"T1\",", 44);
    /* Compact, slashes not escaped. */
    assert_null(strchr(out, '\n'));
    assert_non_null(strstr(out, "\"HX-LT14 1-400\""));
    free(out);
    kv_decl_free(d);
    kv_report_release(&rep);

    round_trip("example", json, len, ref);
    free(json);
    kv_ref_close(ref);
}

/* Every valid golden case (an empty .expected) survives the round trip too. */
static void golden_valid_round_trip(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);
    DIR *dir = opendir(GOLDEN_DIR);
    assert_non_null(dir);
    struct dirent *ent;
    size_t tried = 0;
    while ((ent = readdir(dir)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 10 || strcmp(ent->d_name + n - 9, ".expected") != 0)
            continue;
        char path[1024];
        size_t elen = 0, jlen = 0;
        snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, ent->d_name);
        char *exp = read_all(path, &elen);
        assert_non_null(exp);
        free(exp);
        if (elen != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%.*s.json", GOLDEN_DIR, (int)(n - 9), ent->d_name);
        char *json = read_all(path, &jlen);
        assert_non_null(json);
        round_trip(ent->d_name, json, jlen, ref);
        free(json);
        tried++;
    }
    closedir(dir);
    assert_true(tried >= 5);
    kv_ref_close(ref);
}

/* Bad declarations round-trip too: what was decoded is what is written. */
static void golden_bad_round_trip(void **state)
{
    (void)state;
    static const char *const cases[] = {"046-grn-check-digit", "072-item-numbering-gap",
                                        "081-dispatch-at-both-levels", "095-description-too-long"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[1024];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s.json", GOLDEN_DIR, cases[i]);
        char *json = read_all(path, &len);
        assert_non_null(json);
        round_trip(cases[i], json, len, NULL);
        free(json);
    }
}

static void exact_decimals(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {
        {"0.1", "0.1"},
        {"1.50", "1.50"},
        {"9999999999999999", "9999999999999999"},   /* 16 digits, integer */
        {"9999999999.999999", "9999999999.999999"}, /* 16 digits, 6 decimals */
        {"0.000001", "0.000001"},
        {"1250", "1250"},
        {"1250.000000", "1250.000000"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *json = small_doc(v[i].in, NULL);
        struct kv_report rep;
        struct kv_declaration *d = decode_str(json, KV_OK, &rep);
        assert_int_equal(rep.count, 0);
        char *out = NULL;
        assert_int_equal(kv_decl_to_json(d, &out, NULL), KV_OK);
        char want[96];
        snprintf(want, sizeof(want), "\"consignment\":{\"grossMass\":%s}", v[i].out);
        if (!strstr(out, want))
            fail_msg("%s: %s not in %s", v[i].in, want, out);
        free(out);
        kv_decl_free(d);
        kv_report_release(&rep);
        free(json);
    }
    /* 0.1 is held exactly: 100000 millionths, not a binary approximation. */
    char *json = small_doc("0.1", NULL);
    struct kv_report rep;
    struct kv_declaration *d = decode_str(json, KV_OK, &rep);
    assert_int_equal(d->consignment->gross_mass->ip, 0);
    assert_int_equal(d->consignment->gross_mass->micro, 100000);
    kv_decl_free(d);
    kv_report_release(&rep);
    free(json);
}

static void decimal_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *why;
    } v[] = {
        {"1.1234567", "more than 6 decimals"},
        {"12345678901234567", "more than 16 digits"},
        {"1234567890123.4567", "more than 16 digits"},
        {"-1", "negative"},
        {"-0.5", "negative"},
        {"1e3", "exponent notation is not allowed"},
        {"1.5E+2", "exponent notation is not allowed"},
        /* json-c clamps integers beyond 64 bits; they are refused as out of range. */
        {"99999999999999999999", "number out of range"},
        {"-99999999999999999999", "number out of range"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *json = small_doc("1", NULL);
        /* Replace only the consignment's mass. */
        char *at = strstr(json, "\"consignment\":{\"grossMass\":1}");
        assert_non_null(at);
        struct text t = {0};
        addf(&t, "%.*s\"consignment\":{\"grossMass\":%s}%s", (int)(at - json), json, v[i].in,
             at + strlen("\"consignment\":{\"grossMass\":1}"));
        struct kv_report rep;
        struct kv_declaration *d = decode_str(t.s, KV_OK, &rep);
        assert_one(&rep, "R-DEC-001", "/consignment/grossMass");
        if (!strstr(rep.items[0].message, v[i].why))
            fail_msg("%s: message \"%s\" lacks \"%s\"", v[i].in, rep.items[0].message, v[i].why);
        assert_null(d->consignment->gross_mass);
        kv_decl_free(d);
        kv_report_release(&rep);
        free(t.s);
        free(json);
    }
}

/* ------------------------------------------------------------------ */
/* Limits                                                             */
/* ------------------------------------------------------------------ */

static void size_limit(void **state)
{
    (void)state;
    size_t n = KV_DECL_JSON_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    struct kv_report rep;
    decode(big, n, KV_ELIMIT, &rep);
    assert_one(&rep, "R-JSON-LIMIT", "");
    assert_string_equal(rep.items[0].message, "document is 4194305 bytes; at most 4194304 allowed");
    kv_report_release(&rep);
    /* At the limit the size itself is fine (the white space is just white space). */
    decode(big, n - 1, KV_EPARSE, &rep); /* ends inside the object: a syntax error */
    assert_one(&rep, "R-JSON-SYNTAX", "");
    kv_report_release(&rep);
    big[n - 2] = '}';
    struct kv_declaration *d = decode(big, n - 1, KV_OK, &rep);
    assert_true(rep.count > 0); /* an empty object misses its required members */
    assert_string_equal(rep.items[0].rule, "R-REQ-001");
    kv_decl_free(d);
    kv_report_release(&rep);
    free(big);
}

static void depth_limit(void **state)
{
    (void)state;
    /* 32 levels (the root object and 31 arrays) are accepted: json-c agrees. */
    struct text t = {0};
    addf(&t, "{\"x\":");
    for (int i = 0; i < 31; i++)
        addf(&t, "[");
    for (int i = 0; i < 31; i++)
        addf(&t, "]");
    addf(&t, "}");
    struct kv_report rep;
    struct kv_declaration *d = decode_str(t.s, KV_OK, &rep);
    assert_string_equal(assert_has(&rep, "R-JSON-UNKNOWN", "/x"), "unknown member \"x\"");
    kv_decl_free(d);
    kv_report_release(&rep);
    free(t.s);

    /* 33 levels are not. */
    memset(&t, 0, sizeof(t));
    addf(&t, "{\"x\":");
    for (int i = 0; i < 32; i++)
        addf(&t, "[");
    for (int i = 0; i < 32; i++)
        addf(&t, "]");
    addf(&t, "}");
    decode_str(t.s, KV_ELIMIT, &rep);
    assert_one(&rep, "R-JSON-LIMIT", "");
    assert_non_null(strstr(rep.items[0].message, "nested deeper than 32 levels"));
    kv_report_release(&rep);
    free(t.s);

    /* 100,000 levels: refused at once, no recursion anywhere. */
    size_t n = 100000;
    char *deep = malloc(n + 1);
    assert_non_null(deep);
    memset(deep, '[', n);
    deep[n] = '\0';
    decode_str(deep, KV_ELIMIT, &rep);
    assert_one(&rep, "R-JSON-LIMIT", "");
    kv_report_release(&rep);
    free(deep);
}

static void count_limits(void **state)
{
    (void)state;
    /* 50,001 empty objects: refused before json-c builds anything. */
    struct text t = {0};
    addf(&t, "{\"x\":[");
    for (int i = 0; i < 50000; i++)
        addf(&t, "{},");
    addf(&t, "{}]}");
    struct kv_report rep;
    decode_str(t.s, KV_ELIMIT, &rep);
    assert_one(&rep, "R-JSON-LIMIT", "");
    assert_non_null(strstr(rep.items[0].message, "more than 50000 objects and arrays"));
    kv_report_release(&rep);
    free(t.s);

    /* 500,001 values. */
    memset(&t, 0, sizeof(t));
    addf(&t, "{\"x\":[");
    for (int i = 0; i < 499999; i++)
        addf(&t, "0,");
    addf(&t, "0]}");
    decode_str(t.s, KV_ELIMIT, &rep);
    assert_one(&rep, "R-JSON-LIMIT", "");
    assert_non_null(strstr(rep.items[0].message, "more than 500000 values"));
    kv_report_release(&rep);
    free(t.s);
}

/* A declaration with `n` goods items in houses of at most 999. */
static char *many_items(size_t n)
{
    struct text t = {0};
    size_t houses = (n + 998) / 999;
    addf(&t,
         "{\"lrn\":\"BIG1\",\"declarationType\":\"T1\",\"additionalDeclarationType\":\"A\","
         "\"security\":\"0\",\"reducedDatasetIndicator\":false,\"bindingItinerary\":false,"
         "\"officeOfDeparture\":\"KZ050200\",\"officeOfDestination\":\"KZ050100\","
         "\"holder\":{\"id\":\"180540001239\"},"
         "\"guarantees\":[{\"type\":\"1\",\"references\":[{\"grn\":\"25KZ050100ALA0012\","
         "\"accessCode\":\"4821\"}]}],"
         "\"consignment\":{\"grossMass\":%zu},\"houseConsignments\":[",
         n + houses);
    size_t num = 1;
    for (size_t h = 0; h < houses; h++) {
        size_t k = n - (num - 1) < 999 ? n - (num - 1) : 999;
        addf(&t, "%s{\"grossMass\":%zu,\"items\":[", h ? "," : "", k + 1);
        for (size_t i = 0; i < k; i++, num++)
            addf(&t,
                 "%s{\"declarationGoodsItemNumber\":%zu,\"commodity\":{\"description\":"
                 "\"Spare parts\",\"hs\":\"847330\",\"grossMass\":1},\"packages\":[{\"type\":"
                 "\"CT\",\"number\":1,\"shippingMarks\":\"SP\"}]}",
                 i ? "," : "", num);
        addf(&t, "]}");
    }
    addf(&t, "]}");
    return t.s;
}

static void item_limit(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);

    /* 1,999 goods items: the most a declaration may carry, valid. */
    char *json = many_items(1999);
    struct kv_report rep;
    kv_report_init(&rep);
    assert_int_equal(kv_validate_json(json, strlen(json), ref, &rep), KV_OK);
    if (!kv_report_ok(&rep))
        fail_msg("1999 items: %s %s %s", rep.items[0].pointer, rep.items[0].rule,
                 rep.items[0].message);
    kv_report_release(&rep);
    free(json);

    /* 2,000: one problem at the 2,000th item (house 2, item 1); the rest is decoded and valid. */
    json = many_items(2000);
    struct kv_declaration *d = decode_str(json, KV_OK, &rep);
    assert_int_equal(kv_decl_item_count(d), 1999);
    kv_decl_validate(d, ref, &rep);
    assert_one(&rep, "R-CARD-002", "/houseConsignments/2/items/1");
    assert_string_equal(rep.items[0].message,
                        "this is goods item 2000 of the declaration; at most 1999 are allowed "
                        "(declaration goods item number 1..1999)");
    kv_decl_free(d);
    kv_report_release(&rep);
    free(json);

    /* 1,000 items in one house: the house multiplicity (999) is reported, 999 decoded. */
    struct text t = {0};
    char *one = many_items(1);
    char *items = strstr(one, "\"items\":[") + strlen("\"items\":[");
    addf(&t, "%.*s", (int)(items - one), one);
    for (int i = 1; i <= 1000; i++)
        addf(&t,
             "%s{\"declarationGoodsItemNumber\":%d,\"commodity\":{\"description\":\"P\",\"hs\":"
             "\"847330\",\"grossMass\":0},\"packages\":[{\"type\":\"CT\",\"number\":1,"
             "\"shippingMarks\":\"SP\"}]}",
             i > 1 ? "," : "", i);
    addf(&t, "]}]}");
    d = decode_str(t.s, KV_OK, &rep);
    assert_one(&rep, "R-CARD-001", "/houseConsignments/0/items");
    assert_string_equal(rep.items[0].message, "has 1000 entries; at most 999 allowed");
    assert_int_equal(d->houses[0].n_items, 999);
    kv_decl_free(d);
    kv_report_release(&rep);
    free(t.s);
    free(one);
    kv_ref_close(ref);
}

static void multiplicity_limits(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *pointer, *message;
    } v[] = {
        {"\"officesOfTransit\":[{\"office\":\"A\"},{\"office\":\"A\"},{\"office\":\"A\"},"
         "{\"office\":\"A\"},{\"office\":\"A\"},{\"office\":\"A\"},{\"office\":\"A\"},"
         "{\"office\":\"A\"},{\"office\":\"A\"},{\"office\":\"A\"}]",
         "/officesOfTransit", "has 10 entries; at most 9 allowed"},
        {"\"officesOfExitForTransit\":[\"A\",\"A\",\"A\",\"A\",\"A\",\"A\",\"A\",\"A\",\"A\","
         "\"A\"]",
         "/officesOfExitForTransit", "has 10 entries; at most 9 allowed"},
        {"\"guarantees\":[]", "/guarantees", "has 0 entries; at least 1 required"},
        {"\"houseConsignments\":[]", "/houseConsignments", "has 0 entries; at least 1 required"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        /* The extra member replaces the one the small document has (json-c keeps the last). */
        char *json = small_doc("1", v[i].extra);
        struct kv_report rep;
        struct kv_declaration *d = decode_str(json, KV_OK, &rep);
        const char *msg = assert_has(&rep, "R-CARD-001", v[i].pointer);
        assert_string_equal(msg, v[i].message);
        kv_decl_free(d);
        kv_report_release(&rep);
        free(json);
    }
}

/* ------------------------------------------------------------------ */
/* JSON errors                                                        */
/* ------------------------------------------------------------------ */

static void syntax_errors(void **state)
{
    (void)state;
    /* Each of these is accepted by json-c's strict mode, or nearly; kervan refuses them. */
    static const struct {
        const char *json, *message;
    } v[] = {
        {"{'lrn':'x'}", "line 1, column 2 (byte 1): unexpected \"'\", expected a member name"},
        {"{\"lrn\":NaN}", "line 1, column 8 (byte 7): unexpected \"N\", expected a value"},
        {"{\"lrn\":Infinity}", "line 1, column 8 (byte 7): unexpected \"I\", expected a value"},
        {"{\"lrn\":-Infinity}", "line 1, column 9 (byte 8): digit expected in a number"},
        {"{\"lrn\":1.}", "line 1, column 10 (byte 9): digit expected after the decimal point"},
        {"{\"lrn\":.5}", "line 1, column 8 (byte 7): unexpected \".\", expected a value"},
        {"{\"lrn\":1e}", "line 1, column 10 (byte 9): digit expected in the exponent"},
        {"{\"lrn\":\"a\tb\"}",
         "line 1, column 10 (byte 9): control character U+0009 in a string must be escaped"},
        {"{\"lrn\":\"\\ud800\"}", "line 1, column 9 (byte 8): lone UTF-16 surrogate escape"},
        {"{\"lrn\":\"\\udc00\"}", "line 1, column 9 (byte 8): lone UTF-16 surrogate escape"},
        {"{\"lrn\":\"\\ud800\\u0041\"}", "line 1, column 9 (byte 8): lone UTF-16 surrogate escape"},
        {"{\"lrn\":\"\\x41\"}", "line 1, column 9 (byte 8): invalid escape \\\"x\" in a string"},
        {"{\"lrn\":\"\\u00G1\"}",
         "line 1, column 9 (byte 8): \\u must be followed by 4 hex digits"},
        {"{\"lrn\":\"\xc0\x80\"}", "line 1, column 9 (byte 8): invalid UTF-8 in a string"},
        {"{\"lrn\":\"\xed\xa0\x80\"}", "line 1, column 9 (byte 8): invalid UTF-8 in a string"},
        {"{\"lrn\":\"\xf4\x90\x80\x80\"}", "line 1, column 9 (byte 8): invalid UTF-8 in a string"},
        {"{\"lrn\":\"\xe2\x82\"}", "line 1, column 9 (byte 8): invalid UTF-8 in a string"},
        {"{\"lrn\":\"abc", "line 1, column 8 (byte 7): string is not terminated"},
        {"{\"lrn\":tru}", "line 1, column 8 (byte 7): unexpected \"t\", expected a value"},
        {"{\"lrn\" \"x\"}",
         "line 1, column 8 (byte 7): unexpected '\"', expected ':' after a member name"},
        {"{\"lrn\":\"x\"]", "line 1, column 11 (byte 10): unexpected \"]\", expected ',' or '}'"},
        {"[1 2]", "line 1, column 4 (byte 3): unexpected \"2\", expected ',' or ']'"},
        {"{\"a\":1", "line 1, column 7 (byte 6): unexpected end of input inside an object"},
        {"[1,", "line 1, column 4 (byte 3): unexpected end of input, expected a value"},
        {"{} {}", "line 1, column 4 (byte 3): unexpected \"{\" after the JSON value"},
        {"{\"a\\u0000\":1}", "line 1, column 2 (byte 1): member name contains U+0000"},
        {"\n\n  {\"é\":é}", "line 3, column 8 (byte 10): unexpected byte 0xc3, expected a value"},
        {"   ", "line 1, column 4 (byte 3): unexpected end of input, expected a value"},
        {"", "line 1, column 1 (byte 0): empty document"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct kv_report rep;
        decode_str(v[i].json, KV_EPARSE, &rep);
        assert_one(&rep, "R-JSON-SYNTAX", "");
        if (strcmp(rep.items[0].message, v[i].message) != 0)
            fail_msg("%s:\n got  %s\n want %s", v[i].json, rep.items[0].message, v[i].message);
        kv_report_release(&rep);
    }
    /* An embedded NUL byte outside a string is a syntax error, not the end of input. */
    struct kv_report rep;
    decode("{}\0{}", 5, KV_EPARSE, &rep);
    assert_one(&rep, "R-JSON-SYNTAX", "");
    assert_string_equal(rep.items[0].message,
                        "line 1, column 3 (byte 2): unexpected byte 0x00 after the JSON value");
    kv_report_release(&rep);
}

static void valid_json_accepted(void **state)
{
    (void)state;
    /* RFC 8259 corners that must pass the strict check (and then fail only on content). */
    static const char *const v[] = {
        " \t\r\n{\"x\":[-0, 0.5e-3, 1E+2, true, false, null, \"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]}\n",
        "{\"x\":\"\\ud83d\\ude00 \xf0\x9f\x98\x80 \xc3\xa9 \xe2\x82\xac\"}",
        "{\"x\":{},\"y\":[]}",
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct kv_report rep;
        struct kv_declaration *d = decode_str(v[i], KV_OK, &rep);
        for (size_t k = 0; k < rep.count; k++)
            assert_true(strcmp(rep.items[k].rule, "R-JSON-UNKNOWN") == 0 ||
                        strcmp(rep.items[k].rule, "R-REQ-001") == 0);
        kv_decl_free(d);
        kv_report_release(&rep);
    }
}

static void not_an_object(void **state)
{
    (void)state;
    static const struct {
        const char *json, *what;
    } v[] = {{"[]", "an array"},
             {"\"x\"", "a string"},
             {"1", "a number"},
             {"true", "a boolean"},
             {"null", "null"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct kv_report rep;
        decode_str(v[i].json, KV_EPARSE, &rep);
        assert_one(&rep, "R-JSON-TYPE", "");
        char want[96];
        snprintf(want, sizeof(want), "the document must be a JSON object, found %s", v[i].what);
        assert_string_equal(rep.items[0].message, want);
        kv_report_release(&rep);
    }
}

static void duplicates(void **state)
{
    (void)state;
    /* Names are compared after unescaping; every repeat is reported, in document order. */
    const char *json = "{\"lrn\":\"a\",\"l\\u0072n\":\"b\",\"x\":{\"a/b\":1,\"a~b\":2,\"a\\/b\":3},"
                       "\"lrn\":\"c\"}";
    struct kv_report rep;
    struct kv_declaration *d = decode_str(json, KV_OK, &rep);
    assert_string_equal(rep.items[0].rule, "R-JSON-DUP");
    assert_string_equal(rep.items[0].pointer, "/x/a~1b");
    assert_string_equal(rep.items[1].rule, "R-JSON-DUP");
    assert_string_equal(rep.items[1].pointer, "/lrn");
    assert_string_equal(rep.items[2].rule, "R-JSON-DUP");
    assert_string_equal(rep.items[2].pointer, "/lrn");
    assert_string_equal(rep.items[0].message,
                        "member \"a/b\" appears more than once in the same object");
    /* json-c kept the last value. */
    assert_string_equal(d->lrn, "c");
    kv_decl_free(d);
    kv_report_release(&rep);
}

static void types_and_members(void **state)
{
    (void)state;
    const char *json =
        "{\"lrn\":7,\"declarationType\":\"T1\",\"additionalDeclarationType\":\"A\","
        "\"security\":\"0\",\"reducedDatasetIndicator\":\"no\",\"bindingItinerary\":false,"
        "\"officeOfDeparture\":\"KZ050200\",\"officeOfDestination\":[\"KZ050100\"],"
        "\"Holder\":{},\"guarantees\":[7,{\"type\":\"1\",\"referencess\":[]}],"
        "\"consignment\":{\"grossMass\":true,\"countriesOfRouting\":[\"KZ\",1,null]},"
        "\"houseConsignments\":[{\"grossMass\":1,\"items\":[{\"declarationGoodsItemNumber\":1e0,"
        "\"commodity\":\"tiles\",\"packages\":{}}]}]}";
    struct kv_report rep;
    struct kv_declaration *d = decode_str(json, KV_OK, &rep);
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/lrn"),
                        "expected a string, found a number");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/reducedDatasetIndicator"),
                        "expected a boolean (true or false), found a string");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/officeOfDestination"),
                        "expected a string, found an array");
    assert_string_equal(assert_has(&rep, "R-JSON-UNKNOWN", "/Holder"),
                        "unknown member \"Holder\" (did you mean \"holder\"?)");
    assert_string_equal(assert_has(&rep, "R-REQ-001", "/holder"),
                        "required member \"holder\" is missing");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/guarantees/0"),
                        "expected an object, found a number");
    assert_string_equal(assert_has(&rep, "R-JSON-UNKNOWN", "/guarantees/1/referencess"),
                        "unknown member \"referencess\"");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/consignment/grossMass"),
                        "expected a number, found a boolean");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/consignment/countriesOfRouting/1"),
                        "expected a string, found a number");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/consignment/countriesOfRouting/2"),
                        "expected a string, found null");
    assert_string_equal(
        assert_has(&rep, "R-JSON-TYPE", "/houseConsignments/0/items/0/declarationGoodsItemNumber"),
        "expected an integer, found a number with a fraction or exponent");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/houseConsignments/0/items/0/commodity"),
                        "expected an object, found a string");
    assert_string_equal(assert_has(&rep, "R-JSON-TYPE", "/houseConsignments/0/items/0/packages"),
                        "expected an array, found an object");
    /* Wrongly typed members are absent in the model; the rest is there. */
    assert_null(d->lrn);
    assert_string_equal(d->declaration_type, "T1");
    assert_int_equal(d->reduced_dataset, KV_YESNO_ABSENT);
    assert_int_equal(d->n_guarantees, 2);
    assert_null(d->guarantees[0].type);
    assert_int_equal(d->consignment->n_routing, 3);
    assert_string_equal(d->consignment->routing[0], "KZ");
    assert_null(d->consignment->routing[1]);
    assert_false(d->houses[0].items[0].number.set);
    /* Nothing else: the missing members below a wrongly typed one are not guessed at. */
    assert_int_equal(rep.count, 13);
    kv_decl_free(d);
    kv_report_release(&rep);
}

static void arguments(void **state)
{
    (void)state;
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    assert_int_equal(kv_decl_from_json(NULL, 0, &d, &rep), KV_EINVAL);
    assert_int_equal(kv_decl_from_json("{}", 2, NULL, &rep), KV_EINVAL);
    assert_int_equal(kv_decl_from_json("{}", 2, &d, NULL), KV_EINVAL);
    char *out = (char *)0x1;
    assert_int_equal(kv_decl_to_json(NULL, &out, NULL), KV_EINVAL);
    assert_int_equal(rep.count, 0);
    /* The buffer need not be NUL-terminated: only len bytes are read. */
    char *json = small_doc("1", NULL);
    size_t n = strlen(json);
    char *copy = malloc(n);
    memcpy(copy, json, n);
    d = decode(copy, n, KV_OK, &rep);
    assert_int_equal(rep.count, 0);
    kv_decl_free(d);
    kv_report_release(&rep);
    free(copy);
    free(json);
}

/* A declaration built in code encodes in the form's order, skipping absent members. */
static void encode_built(void **state)
{
    (void)state;
    struct kv_declaration *d = kv_decl_new();
    assert_non_null(d);
    d->lrn = kv_decl_strdup(d, "L1", 2);
    d->security = kv_decl_strdup(d, "0", 1);
    d->binding_itinerary = KV_YESNO_YES;
    d->consignment = kv_decl_alloc(d, sizeof(*d->consignment));
    d->consignment->gross_mass = kv_decl_alloc(d, sizeof(struct kv_decimal));
    *d->consignment->gross_mass = (struct kv_decimal){12, 340000, 0};
    const char **routing = kv_decl_calloc(d, 2, sizeof(*routing));
    routing[0] = "KZ";
    routing[1] = "A\"Z/\n";
    d->consignment->routing = routing;
    d->consignment->n_routing = 2;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(kv_decl_to_json(d, &out, &len), KV_OK);
    assert_string_equal(out, "{\"lrn\":\"L1\",\"security\":\"0\",\"bindingItinerary\":true,"
                             "\"consignment\":{\"grossMass\":12.34,"
                             "\"countriesOfRouting\":[\"KZ\",\"A\\\"Z/\\n\"]}}");
    assert_int_equal(len, strlen(out));
    free(out);
    kv_decl_free(d);
    kv_decl_free(NULL);
}

static void arena(void **state)
{
    (void)state;
    struct kv_declaration *d = kv_decl_new();
    assert_non_null(d);
    assert_null(kv_decl_alloc(d, 0));
    assert_null(kv_decl_alloc(NULL, 8));
    assert_null(kv_decl_calloc(d, 0, 8));
    assert_null(kv_decl_calloc(d, SIZE_MAX / 2, 4)); /* overflow */
    assert_null(kv_decl_alloc(d, KV_DECL_ARENA_MAX + 1));
    unsigned char *p = kv_decl_alloc(d, 100);
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    /* A large block does not strand the current one. */
    char *big = kv_decl_alloc(d, 100000);
    assert_non_null(big);
    char *s = kv_decl_strdup(d, "abc", 2);
    assert_string_equal(s, "ab");
    assert_true(kv_decl_arena_size(d) >= 100000);
    /* The arena refuses to grow past its cap. */
    size_t total = kv_decl_arena_size(d);
    while (kv_decl_alloc(d, 8u * 1024u * 1024u))
        total = kv_decl_arena_size(d);
    assert_true(total <= KV_DECL_ARENA_MAX);
    kv_decl_free(d);
}

/* The checker alone: limits are parameters, duplicates go to the callback. */
static void dup_count(void *ctx, const char *pointer, const char *name, size_t len)
{
    (void)pointer;
    (void)name;
    (void)len;
    (*(int *)ctx)++;
}

static void strict_checker(void **state)
{
    (void)state;
    struct kv_json_limits lim = {2, 10, 10};
    struct kv_json_error err;
    int dups = 0;
    assert_int_equal(kv_json_check("[[1]]", 5, &lim, dup_count, &dups, &err), KV_OK);
    assert_int_equal(kv_json_check("[[[1]]]", 7, &lim, dup_count, &dups, &err), KV_ELIMIT);
    assert_int_equal(err.offset, 2);
    assert_int_equal(kv_json_check("[1,2,3,4,5,6,7,8,9,10]", 22, &lim, NULL, NULL, &err),
                     KV_ELIMIT);
    assert_string_equal(err.message, "more than 10 values in the document");
    const char *twice = "{\"a\":1,\"b\":{\"a\":1},\"a\":2,\"a\":3}";
    assert_int_equal(kv_json_check(twice, strlen(twice), &lim, dup_count, &dups, &err), KV_OK);
    assert_int_equal(dups, 2);
    assert_int_equal(kv_json_check(NULL, 0, &lim, NULL, NULL, &err), KV_EINVAL);
    assert_int_equal(kv_json_check("1", 1, NULL, NULL, NULL, &err), KV_EINVAL);
    assert_int_equal(kv_json_check("1", 1, &lim, NULL, NULL, NULL), KV_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_round_trip),
        cmocka_unit_test(golden_valid_round_trip),
        cmocka_unit_test(golden_bad_round_trip),
        cmocka_unit_test(exact_decimals),
        cmocka_unit_test(decimal_errors),
        cmocka_unit_test(size_limit),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(count_limits),
        cmocka_unit_test(item_limit),
        cmocka_unit_test(multiplicity_limits),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(valid_json_accepted),
        cmocka_unit_test(not_an_object),
        cmocka_unit_test(duplicates),
        cmocka_unit_test(types_and_members),
        cmocka_unit_test(arguments),
        cmocka_unit_test(encode_built),
        cmocka_unit_test(arena),
        cmocka_unit_test(strict_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
