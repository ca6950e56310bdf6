/*
 * fuzz_chain_export.c — libFuzzer target for the files an auditor is
 * handed: a chain export (codec/export_json.h) and a trust list
 * (codec/trust_json.h).
 *
 * The input is decoded as both. A decoded export is verified (with its own
 * keys when it carries some) and must give a verdict; re-encoding it and
 * decoding again must give the same text (decode ∘ encode is stable). A
 * decoded trust list must re-encode and decode to the same text too. Never
 * crashes, leaks or reads out of bounds; every refusal lists a problem.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/export_json.h"
#include "codec/trust_json.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void export_case(const char *buf, size_t size)
{
    struct kv_export ex, again;
    struct kv_report rep;
    kv_export_init(&ex);
    kv_export_init(&again);
    kv_report_init(&rep);
    int rc = kv_export_from_json(buf, size, &ex, &rep);
    if (rc != KV_OK) {
        if (rc != KV_ENOMEM && rep.total == 0)
            abort();
        goto out;
    }
    struct kv_chain_result res;
    int v = kv_export_verify(&ex, NULL, &res, &rep);
    if (v != KV_CHAIN_INTACT && v != KV_CHAIN_BROKEN && v != KV_ENOTFOUND && v != KV_ENOMEM)
        abort();
    if (v == KV_CHAIN_BROKEN && rep.total == 0)
        abort();
    char *out = NULL, *out2 = NULL;
    size_t len = 0, len2 = 0;
    if (kv_export_to_json(&ex, &out, &len) != KV_OK)
        abort();
    kv_report_release(&rep);
    kv_report_init(&rep);
    if (kv_export_from_json(out, len, &again, &rep) != KV_OK)
        abort();
    if (kv_export_to_json(&again, &out2, &len2) != KV_OK || len != len2 ||
        memcmp(out, out2, len) != 0)
        abort();
    free(out);
    free(out2);
out:
    kv_export_clear(&ex);
    kv_export_clear(&again);
    kv_report_release(&rep);
}

static void trust_case(const char *buf, size_t size)
{
    struct kv_trust *t = malloc(sizeof *t), *t2 = malloc(sizeof *t2);
    struct kv_report rep;
    if (!t || !t2)
        abort();
    kv_report_init(&rep);
    int rc = kv_trust_from_json(buf, size, NULL, t, &rep);
    if (rc == KV_OK) {
        char *out = NULL, *out2 = NULL;
        size_t len = 0, len2 = 0;
        if (kv_trust_to_json(t, &out, &len) != KV_OK ||
            kv_trust_from_json(out, len, NULL, t2, &rep) != KV_OK ||
            kv_trust_to_json(t2, &out2, &len2) != KV_OK || len != len2 ||
            memcmp(out, out2, len) != 0)
            abort();
        free(out);
        free(out2);
    } else if (rc != KV_ENOMEM && rep.total == 0) {
        abort();
    }
    kv_report_release(&rep);
    free(t);
    free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    export_case((const char *)data, size);
    trust_case((const char *)data, size);
    return 0;
}
