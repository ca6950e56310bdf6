/*
 * fuzz_declaration.c — libFuzzer target for the declaration decoder and the
 * validator (src/codec/declaration_json.c, src/core/validate.c).
 *
 * Every input is decoded and validated; the report must be well-formed
 * (every problem has a rule id and a pointer that starts with '/' or is
 * empty). When the input decodes, the declaration is encoded, decoded again
 * and encoded again: the two encodings must be byte-identical (the JSON form
 * is lossless), so a disagreement between decoder and encoder aborts.
 * Built with clang -fsanitize=fuzzer,address,undefined (make fuzz).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kv_ref *ref;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (kv_ref_open(&ref) != KV_OK) {
        fprintf(stderr, "fuzz_declaration: cannot load reference data\n");
        abort();
    }
    return 0;
}

static void check_report(const struct kv_report *rep)
{
    for (size_t i = 0; i < rep->count; i++) {
        const struct kv_problem *p = &rep->items[i];
        if (p->rule[0] == '\0' || (p->pointer[0] != '\0' && p->pointer[0] != '/') ||
            p->message[0] == '\0') {
            fprintf(stderr, "malformed problem: rule '%s' pointer '%s' message '%s'\n", p->rule,
                    p->pointer, p->message);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kv_report rep;
    struct kv_declaration *d = NULL, *d2 = NULL;
    char *j1 = NULL, *j2 = NULL;
    size_t n1 = 0, n2 = 0;

    kv_report_init(&rep);
    (void)kv_validate_json((const char *)data, size, ref, &rep);
    check_report(&rep);
    kv_report_release(&rep);

    kv_report_init(&rep);
    if (kv_decl_from_json((const char *)data, size, &d, &rep) != KV_OK)
        goto out;
    if (kv_decl_to_json(d, &j1, &n1) != KV_OK)
        goto out;
    kv_report_release(&rep);
    kv_report_init(&rep);
    if (kv_decl_from_json(j1, n1, &d2, &rep) != KV_OK) {
        fprintf(stderr, "re-decoding our own encoding failed:\n%s\n", j1);
        abort();
    }
    if (kv_decl_to_json(d2, &j2, &n2) != KV_OK)
        goto out;
    if (n1 != n2 || memcmp(j1, j2, n1) != 0) {
        fprintf(stderr, "encoding is not stable:\n%s\n%s\n", j1, j2);
        abort();
    }
out:
    kv_report_release(&rep);
    free(j1);
    free(j2);
    kv_decl_free(d);
    kv_decl_free(d2);
    return 0;
}
