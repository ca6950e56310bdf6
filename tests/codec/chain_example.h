/*
 * chain_example.h — the example movement of docs/exchange.md: a KZ
 * declaration travelling KZ → AZ → GE → TR, ten events signed by the nodes
 * where they happened and ordered by the owner KZ (chain v2), exported with
 * the example trust list.
 */
#ifndef KV_TESTS_CHAIN_EXAMPLE_H
#define KV_TESTS_CHAIN_EXAMPLE_H

#include "codec/export_json.h"
#include "crypto/chain_crypto.h"
#include "exchange_test.h"

#define EX_DECLARATION                                                                             \
    "{\"lrn\":\"KZALM2025000123\",\"declarationType\":\"T1\",\"departure\":\"KZ000100\","          \
    "\"destination\":\"TR343100\",\"transit\":[\"AZ000100\",\"GE000500\"],"                        \
    "\"goods\":\"Motor vehicle parts, 40 cartons, 19250.5 kg\"}"

static const struct {
    const char *node, *event;
} ex_events[] = {
    {"KZ", "{\"type\":\"lodged\",\"time\":\"2025-03-01T13:00:00+05:00\",\"office\":\"KZ000100\","
           "\"actor\":{\"role\":\"node\",\"id\":\"KZ\"}}"},
    {"KZ", "{\"type\":\"release\",\"time\":\"2025-03-01T15:10:00+05:00\",\"office\":\"KZ000100\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"KZ000100/aidos\"},\"controlResult\":\"A1\","
           "\"seals\":[\"KZ1234567\",\"KZ1234568\"]}"},
    {"KZ", "{\"type\":\"presented\",\"time\":\"2025-03-02T09:40:00+05:00\",\"office\":\"KZ000500\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"KZ000500/marat\"},\"side\":\"exit\"}"},
    {"KZ", "{\"type\":\"cleared\",\"time\":\"2025-03-02T10:05:00+05:00\",\"office\":\"KZ000500\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"KZ000500/marat\"},\"side\":\"exit\"}"},
    {"AZ", "{\"type\":\"presented\",\"time\":\"2025-03-02T18:20:00+04:00\",\"office\":\"AZ000100\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"AZ000100/leyla\"},\"side\":\"entry\"}"},
    {"AZ", "{\"type\":\"cleared\",\"time\":\"2025-03-02T18:55:00+04:00\",\"office\":\"AZ000100\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"AZ000100/leyla\"},\"side\":\"entry\"}"},
    {"GE", "{\"type\":\"incident\",\"time\":\"2025-03-03T17:05:00+04:00\",\"office\":\"GE000500\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"GE000500/nino\"},\"code\":\"2\","
           "\"text\":\"seal KZ1234568 found cut during a road check\",\"place\":\"Khashuri\","
           "\"sealsState\":\"replaced\",\"newSeals\":[\"GE0001122\"]}"},
    {"TR", "{\"type\":\"arrival\",\"time\":\"2025-03-04T08:30:00+03:00\",\"office\":\"TR343100\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"TR343100/aydin\"}}"},
    {"TR", "{\"type\":\"unloading_remarks\",\"time\":\"2025-03-04T10:00:00+03:00\","
           "\"office\":\"TR343100\",\"actor\":{\"role\":\"officer\",\"id\":\"TR343100/aydin\"},"
           "\"conform\":true,\"sealsIntact\":true}"},
    {"KZ", "{\"type\":\"write_off\",\"time\":\"2025-03-04T14:00:00+05:00\",\"office\":\"KZ000100\","
           "\"actor\":{\"role\":\"officer\",\"id\":\"KZ000100/aidos\"}}"},
};
#define EX_N_EVENTS (sizeof ex_events / sizeof ex_events[0])

/* The time member of an event text. */
static inline void ex_event_time(const char *event, struct kv_time *t)
{
    const char *p = strstr(event, "\"time\":\"");
    if (!p)
        abort();
    p += 8;
    if (kv_time_parse(p, 25, t, NULL) != KV_OK && kv_time_parse(p, 20, t, NULL) != KV_OK)
        abort();
}

/* Builds the example export (signed, with the example trust list). Release
 * with kv_export_clear. */
static inline void ex_export(struct kv_export *ex)
{
    const struct kv_chain_ops *ops = kv_crypto_chain_ops();
    kv_export_init(ex);
    memcpy(ex->mrn, EX_MRN_KZ, KV_MRN_LEN + 1);
    memcpy(ex->exported_by, "KZ", 3);
    ex_time("2025-03-05T12:00:00+05:00", &ex->exported_at);
    ex->declaration_len = strlen(EX_DECLARATION);
    ex->declaration = malloc(ex->declaration_len + 1);
    memcpy(ex->declaration, EX_DECLARATION, ex->declaration_len + 1);
    if (kv_chain_link0(ops, ex->declaration, ex->declaration_len, ex->link0) != KV_OK)
        abort();
    ex->n = EX_N_EVENTS;
    ex->events = calloc(EX_N_EVENTS, sizeof *ex->events);
    for (size_t i = 0; i < EX_N_EVENTS; i++) {
        struct kv_chain_event *e = &ex->events[i];
        struct kv_keypair kp;
        size_t n = strlen(ex_events[i].event);
        char *text = malloc(n + 1);
        memcpy(text, ex_events[i].event, n + 1);
        e->seq = (uint32_t)(i + 1);
        memcpy(e->node, ex_events[i].node, 3);
        ex_event_time(text, &e->time);
        e->event = text;
        e->event_len = n;
        ex_keypair(e->node, &kp);
        if (kv_chain_sign_origin(&kp, ex->mrn, e) != KV_OK)
            abort();
        ex_keypair("KZ", &kp);
        if (kv_chain_order(&kp, ex->mrn, i ? ex->events[i - 1].link : ex->link0, e) != KV_OK)
            abort();
    }
    ex->trust = ex_trust();
}

#endif
