/*
 * fuzz_event_json.c — libFuzzer target for the movement event codec.
 *
 * Decodes the input in both forms; never crashes, leaks or reads out of
 * bounds. When an event decodes, its encoding must decode again to the
 * same encoding (decode ∘ encode is the identity on valid events), and the
 * movement check must give a verdict without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/event_json.h"
#include "core/err.h"
#include "core/movement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(struct kv_event *ev)
{
    struct kv_movement_facts facts;
    struct kv_movement mv;
    struct kv_event lodged;
    struct kv_report rep;

    kv_facts_init(&facts);
    memcpy(facts.departure, "KZ000100", 9);
    memcpy(facts.destination, "TR343100", 9);
    kv_facts_add_seal(&facts, "KZ1234567", 9);
    memset(&lodged, 0, sizeof(lodged));
    lodged.type = KV_EVENT_LODGED;
    kv_time_set(&lodged.time, 1740816000, 300);
    memcpy(lodged.office, "KZ000100", 9);
    kv_movement_fold_into(&lodged, 1, &mv);
    kv_report_init(&rep);
    int v = kv_movement_check(&mv, ev, &facts, &rep);
    if (v != KV_ALLOWED && v != KV_REFUSED_SEQUENCE && v != KV_REFUSED_RULE)
        abort();
    kv_movement_apply(&mv, ev);
    kv_report_release(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    for (int form = KV_EVENT_STORED; form <= KV_EVENT_INPUT; form++) {
        struct kv_event ev, ev2;
        struct kv_report rep;
        char *out = NULL, *out2 = NULL;
        size_t len = 0;
        kv_report_init(&rep);
        int rc = kv_event_decode(buf, size, (enum kv_event_form)form, &ev, &rep);
        if (rc == KV_OK) {
            if (rep.total != 0)
                abort();
            if (kv_event_to_json(&ev, &out, &len) != KV_OK)
                abort();
            if (kv_event_from_json(out, len, &ev2, &rep) != KV_OK)
                abort();
            if (kv_event_to_json(&ev2, &out2, NULL) != KV_OK || strcmp(out, out2) != 0)
                abort();
            check_event(&ev);
            kv_event_clear(&ev2);
        } else if (rep.total == 0 && rc != KV_ENOMEM) {
            abort(); /* every refusal says why */
        }
        free(out);
        free(out2);
        kv_event_clear(&ev);
        kv_report_release(&rep);
    }
    return 0;
}
