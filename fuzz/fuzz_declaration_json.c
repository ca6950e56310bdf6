/*
 * fuzz_declaration_json.c — libFuzzer target for the declaration codec and
 * the validator: kv_decl_from_json, kv_decl_validate and kv_decl_to_json
 * on arbitrary bytes.
 *
 * Besides the sanitizers' checks it asserts one property: what was decoded
 * encodes to JSON that decodes and encodes to the very same text (the
 * round trip is lossless). Seed corpus: the .json files of tests/golden/validate;
 * dictionary: fuzz/declaration_json.dict. Build with -DKV_FUZZ=ON (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kv_ref *ref;
    if (!ref && kv_ref_open(&ref) != KV_OK)
        abort();

    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    int rc = kv_decl_from_json((const char *)data, size, &d, &rep);
    if (rc == KV_OK) {
        kv_decl_validate(d, ref, &rep);
        char *j1 = NULL;
        size_t n1 = 0;
        if (kv_decl_to_json(d, &j1, &n1) == KV_OK) {
            struct kv_report r2;
            kv_report_init(&r2);
            struct kv_declaration *d2 = NULL;
            if (kv_decl_from_json(j1, n1, &d2, &r2) != KV_OK)
                abort(); /* our own output must decode */
            char *j2 = NULL;
            size_t n2 = 0;
            if (kv_decl_to_json(d2, &j2, &n2) == KV_OK && (n1 != n2 || memcmp(j1, j2, n1) != 0))
                abort(); /* the round trip must be lossless */
            free(j2);
            kv_decl_free(d2);
            kv_report_release(&r2);
            free(j1);
        }
    } else if (d) {
        abort(); /* a failed decode returns no declaration */
    }
    kv_decl_free(d);
    kv_report_release(&rep);
    return 0;
}
