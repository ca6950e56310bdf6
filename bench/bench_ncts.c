/*
 * bench_ncts.c — CC015C documents per second through kervan's NCTS stages,
 * beside libxml2 alone on the same bytes in the same run.
 *
 * Usage: bench_ncts XSD_DIR FILE... [-s SECONDS]
 * For each file (HMRC {{placeholders}} are filled as the conformance suite
 * fills them), for about SECONDS each (default 3), measures:
 *   1. libxml2: xmlReadMemory (XML_PARSE_NONET) + xmlSchemaValidateDoc
 *      against the message's XSD compiled once, a fresh validation context
 *      per document — the floor of any XSD-checking importer;
 *   2. kervan: kv_ncts_check — hardened parse, XSD, message rules, the
 *      CC015C mapping into the model, every declaration rule, sequence
 *      numbers — what `kervan ncts validate` and an importing node do;
 *   3. export: the imported declaration written back as CC015C.
 * The three are measured in alternating slices of 0.2 s until each has had
 * its SECONDS, so that a load that comes and goes on the (shared, 2-core)
 * machine falls on all of them alike. Prints documents/s and MB/s and the
 * ratio kervan/libxml2: compare the ratio, not the absolute figures, between
 * runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "codec/ncts_schema.h"
#include "core/err.h"
#include "core/ref.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = KV_NCTS_XML_MAX;
    char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return NULL;
    }
    *len = fread(b, 1, cap, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

/* The placeholder values of tests/codec/test_ncts_conformance.c. */
static const char *placeholder(const char *name, size_t len)
{
    static const struct {
        const char *name, *value;
    } v[] = {
        {"preparationDateAndTime", "2024-11-20T10:00:00"},
        {"arrivalTime", "2024-11-21T10:00:00"},
        {"limitDate", "2024-11-30"},
        {"LRN", "LRNTEST0001"},
        {"messageIdentification", "MSGID0001"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        if (strlen(v[i].name) == len && memcmp(v[i].name, name, len) == 0)
            return v[i].value;
    return "X";
}

static char *fill(const char *in, size_t *len)
{
    size_t cap = strlen(in) * 2 + 64, n = 0;
    char *out = malloc(cap);
    if (!out)
        exit(2);
    for (const char *p = in; *p;) {
        const char *end = p[0] == '{' && p[1] == '{' ? strstr(p + 2, "}}") : NULL;
        if (end) {
            const char *v = placeholder(p + 2, (size_t)(end - p - 2));
            size_t vl = strlen(v);
            memcpy(out + n, v, vl);
            n += vl;
            p = end + 2;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static void quiet(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

struct result {
    unsigned long docs;
    double secs;
};

/* Each run_* adds about `budget` seconds of work to *r. */
static void run_libxml2(xmlSchemaPtr schema, const char *buf, size_t len, double budget,
                        struct result *r)
{
    double t0 = now(), t = 0;
    do {
        for (int k = 0; k < 64; k++) {
            xmlDocPtr doc = xmlReadMemory(buf, (int)len, NULL, NULL, XML_PARSE_NONET);
            if (!doc) {
                fprintf(stderr, "libxml2: parse failed\n");
                exit(2);
            }
            xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);
            xmlSchemaSetValidStructuredErrors(v, quiet, NULL);
            if (xmlSchemaValidateDoc(v, doc) != 0) {
                fprintf(stderr, "libxml2: the document does not pass its XSD\n");
                exit(2);
            }
            xmlSchemaFreeValidCtxt(v);
            xmlFreeDoc(doc);
        }
        r->docs += 64;
        t = now() - t0;
    } while (t < budget);
    r->secs += t;
}

static void run_kervan(struct kv_ncts_schemas *s, const struct kv_ref *ref, const char *buf,
                       size_t len, double budget, size_t *errors, struct result *r)
{
    struct kv_ncts_check_opts o = {NULL, ref};
    char err[512];
    double t0 = now(), t = 0;
    do {
        for (int k = 0; k < 64; k++) {
            struct kv_ncts_result res;
            kv_ncts_result_init(&res);
            if (kv_ncts_check(s, buf, len, &o, &res, err, sizeof(err)) != KV_OK ||
                kv_ncts_errors_has_stage(&res.errors, KV_NCTS_STAGE_SCHEMA) || !res.decl) {
                fprintf(stderr, "kervan: the document does not pass the schema\n");
                exit(2);
            }
            *errors = res.errors.total;
            kv_ncts_result_release(&res);
        }
        r->docs += 64;
        t = now() - t0;
    } while (t < budget);
    r->secs += t;
}

static void run_export(const struct kv_declaration *d, double budget, struct result *r)
{
    double t0 = now(), t = 0;
    do {
        for (int k = 0; k < 64; k++) {
            char *xml = NULL;
            if (kv_ncts_cc015c_export(d, NULL, &xml, NULL, NULL) != KV_OK) {
                fprintf(stderr, "export failed\n");
                exit(2);
            }
            free(xml);
        }
        r->docs += 64;
        t = now() - t0;
    } while (t < budget);
    r->secs += t;
}

static double rate(struct result r)
{
    return (double)r.docs / r.secs;
}

int main(int argc, char **argv)
{
    double budget = 3;
    const char *dir = NULL;
    const char *files[64];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
            budget = atof(argv[++i]);
        else if (!dir)
            dir = argv[i];
        else if (nfiles < 64)
            files[nfiles++] = argv[i];
    }
    if (!dir || nfiles == 0 || budget <= 0) {
        fprintf(stderr, "usage: bench_ncts XSD_DIR FILE... [-s SECONDS]\n");
        return 2;
    }
    char err[512];
    struct kv_ncts_schemas *s = NULL;
    struct kv_ref *ref = NULL;
    if (kv_ncts_schemas_open(dir, &s, err, sizeof(err)) != KV_OK ||
        kv_ncts_schemas_compile(s, "CC015C", err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "bench_ncts: %s\n", err);
        return 2;
    }
    if (kv_ref_open(&ref) != KV_OK)
        return 2;
    char xsd[1024];
    snprintf(xsd, sizeof(xsd), "%s/cc015c.xsd", dir);
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
    xmlSchemaPtr schema = pc ? xmlSchemaParse(pc) : NULL;
    xmlSchemaFreeParserCtxt(pc);
    if (!schema) {
        fprintf(stderr, "bench_ncts: %s does not compile\n", xsd);
        return 2;
    }
    printf("%-34s %7s %22s %22s %7s %12s\n", "file", "bytes", "libxml2 parse+XSD",
           "kervan all stages", "ratio", "export");
    for (int i = 0; i < nfiles; i++) {
        size_t raw_len = 0, len = 0;
        char *raw = slurp(files[i], &raw_len);
        if (!raw) {
            fprintf(stderr, "bench_ncts: cannot read %s\n", files[i]);
            return 2;
        }
        char *buf = fill(raw, &len);
        free(raw);
        size_t errors = 0;
        struct kv_ncts_result res;
        kv_ncts_result_init(&res);
        struct kv_ncts_check_opts o = {NULL, ref};
        kv_ncts_check(s, buf, len, &o, &res, err, sizeof(err));
        struct result base = {0, 0}, kv = {0, 0}, ex = {0, 0};
        for (double spent = 0; spent < budget; spent += 0.2) {
            run_libxml2(schema, buf, len, 0.2, &base);
            run_kervan(s, ref, buf, len, 0.2, &errors, &kv);
            run_export(res.decl, 0.2, &ex);
        }
        kv_ncts_result_release(&res);
        const char *name = strrchr(files[i], '/');
        name = name ? name + 1 : files[i];
        printf(
            "%-34.34s %7zu %9.0f docs/s %5.1f MB/s %9.0f docs/s %5.1f MB/s %6.2fx %7.0f docs/s\n",
            name, len, rate(base), rate(base) * (double)len / 1e6, rate(kv),
            rate(kv) * (double)len / 1e6, rate(kv) / rate(base), rate(ex));
        printf("%-34s (rules found %zu problem%s in it; it passes the XSD)\n", "", errors,
               errors == 1 ? "" : "s");
        free(buf);
    }
    xmlSchemaFree(schema);
    kv_ncts_schemas_close(s);
    kv_ref_close(ref);
    return 0;
}
