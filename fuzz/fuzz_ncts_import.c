/*
 * fuzz_ncts_import.c — libFuzzer target for the NCTS XML side: hardened
 * parsing, the message rules and the CC015C import on arbitrary bytes
 * (kv_ncts_check without a schema, so that the rules and the mapping see
 * trees NCTS would refuse), the XSD stage when $KERVAN_NCTS_XSD names the
 * folder (scripts/fuzz.sh sets it when the shared data is there), and the
 * CC015C export.
 *
 * Besides the sanitizers' checks it asserts: a declaration imported from any
 * tree exports (when it has a header) to well-formed XML that imports to
 * the same declaration — every kept element still there, only elements the
 * XSD does not have in their place moved to the end of their parent — and
 * exporting that gives the very same bytes (the output is canonical). Seeds:
 * fuzz/corpus/ncts_import (hand-made) plus, in scripts/fuzz.sh, the shared P5 examples read in
 * place; dictionary: fuzz/ncts_import.dict. Build with -DKV_FUZZ=ON (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "codec/ncts_schema.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kv_ref *ref;
static struct kv_ncts_schemas *schemas; /* NULL when no XSD folder is given */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (kv_ref_open(&ref) != KV_OK)
        abort();
    const char *dir = getenv(KV_NCTS_XSD_ENV);
    char err[512];
    if (dir && *dir && kv_ncts_schemas_open(dir, &schemas, err, sizeof(err)) != KV_OK)
        abort();
    return 0;
}

static char *json_of(const struct kv_declaration *d)
{
    char *j = NULL;
    if (kv_decl_to_json(d, &j, NULL) != KV_OK)
        abort();
    return j;
}

static int cmp_fragment(const void *a, const void *b)
{
    const struct kv_ncts_fragment *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : strcmp(x->xml, y->xml);
}

/*
 * The declaration's JSON with its kept elements sorted: export puts an
 * element the XSD does not have in a place at the end of its parent (the
 * canonical order), which may change where it sits among the kept ones.
 */
static char *canonical_json(struct kv_declaration *d)
{
    struct kv_ncts_info *n = d->ncts;
    if (n && n->n_unmodelled)
        qsort(n->unmodelled, n->n_unmodelled, sizeof(*n->unmodelled), cmp_fragment);
    return json_of(d);
}

/* Import → export → import gives the same declaration. */
static void round_trip(const char *buf, size_t len)
{
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    xmlDocPtr doc = NULL;
    if (kv_ncts_parse(buf, len, &doc, &errs) != KV_OK) {
        kv_ncts_errors_release(&errs);
        return;
    }
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    int rc = kv_ncts_cc015c_import(doc, &d, &rep);
    xmlFreeDoc(doc);
    if (rc == KV_OK) {
        char *xml = NULL;
        size_t xlen = 0;
        struct kv_report notes;
        kv_report_init(&notes);
        if (kv_ncts_cc015c_export(d, NULL, &xml, &xlen, &notes) == KV_OK) {
            xmlDocPtr back = NULL;
            if (kv_ncts_parse(xml, xlen, &back, &errs) != KV_OK)
                abort(); /* our own output is well-formed */
            struct kv_declaration *d2 = NULL;
            struct kv_report r2;
            kv_report_init(&r2);
            if (kv_ncts_cc015c_import(back, &d2, &r2) != KV_OK)
                abort();
            char *j2 = json_of(d2);
            /* Once in canonical order, the round trip is exact ... */
            char *xml2 = NULL;
            size_t xlen2 = 0;
            if (kv_ncts_cc015c_export(d2, NULL, &xml2, &xlen2, &notes) != KV_OK)
                abort();
            if (xlen2 != xlen || memcmp(xml, xml2, xlen) != 0)
                abort(); /* export(import(export(x))) == export(x) */
            free(xml2);
            /* ... and the first one loses and moves nothing but unknown elements' order. */
            char *c1 = canonical_json(d), *c2 = canonical_json(d2);
            if (strcmp(c1, c2) != 0)
                abort();
            free(c1);
            free(c2);
            free(j2);
            kv_decl_free(d2);
            kv_report_release(&r2);
            xmlFreeDoc(back);
            free(xml);
        } else if (xml) {
            abort(); /* a failed export returns nothing */
        }
        kv_report_release(&notes);
    } else if (d) {
        abort();
    }
    kv_decl_free(d);
    kv_report_release(&rep);
    kv_ncts_errors_release(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct kv_ncts_check_opts o = {"GB", ref};
    char err[512];
    struct kv_ncts_result r;
    kv_ncts_result_init(&r);
    if (kv_ncts_check(NULL, buf, size, &o, &r, err, sizeof(err)) == KV_EINVAL)
        abort();
    kv_ncts_result_release(&r);
    if (schemas) {
        kv_ncts_result_init(&r);
        int rc = kv_ncts_check(schemas, buf, size, &o, &r, err, sizeof(err));
        if (rc != KV_OK && rc != KV_ENOMEM)
            abort(); /* the XSD folder compiles */
        kv_ncts_result_release(&r);
    }
    round_trip(buf, size);
    return 0;
}
