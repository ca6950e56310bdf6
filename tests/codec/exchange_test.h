/*
 * exchange_test.h — fixed keys and trust lists for the exchange tests.
 *
 * Example key "LABEL" has the seed BLAKE2b-256("kervan example key LABEL"),
 * so anyone can rebuild the documented examples (docs/exchange.md).
 * The example trust list has KZ, AZ, GE and TR at http://127.0.0.1:7101..4,
 * each with the key of its own name valid from 2025-01-01T00:00:00Z.
 */
#ifndef KV_TESTS_EXCHANGE_TEST_H
#define KV_TESTS_EXCHANGE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/trust_json.h"
#include "core/err.h"
#include "core/trust.h"
#include "crypto/crypto.h"

#define EX_MRN_KZ "25KZ0001000000A1J9" /* a movement of KZ (valid check digit) */
#define EX_MRN_AZ "25AZ0002000000B1J4" /* a movement of AZ */

static inline void ex_keypair(const char *label, struct kv_keypair *kp)
{
    char text[64];
    uint8_t seed[32];
    int n = snprintf(text, sizeof text, "kervan example key %s", label);
    kv_crypto_hash(text, (size_t)n, seed);
    if (kv_crypto_keypair_from_seed(kp, seed) != KV_OK)
        abort();
}

static inline void ex_time(const char *text, struct kv_time *t)
{
    if (kv_time_parse(text, strlen(text), t, NULL) != KV_OK)
        abort();
}

/* Adds the key of `label` to `country`, valid from..until (until may be NULL). */
static inline void ex_add_key(struct kv_trust *t, const char *country, const char *label,
                              const char *from, const char *until)
{
    struct kv_keypair kp;
    struct kv_trust_key k;
    struct kv_time f, u;
    ex_keypair(label, &kp);
    ex_time(from, &f);
    if (until)
        ex_time(until, &u);
    if (kv_trust_key_make(&k, kp.pk, &f, until ? &u : NULL) != KV_OK ||
        kv_trust_add_key(t, country, &k) != KV_OK)
        abort();
}

/* A heap trust list: KZ, AZ, GE, TR with their own keys. Free with free(). */
static inline struct kv_trust *ex_trust(void)
{
    static const char *const c[] = {"KZ", "AZ", "GE", "TR"};
    struct kv_trust *t = malloc(sizeof *t);
    if (!t)
        abort();
    kv_trust_init(t);
    for (size_t i = 0; i < 4; i++) {
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%zu", 7101 + i);
        if (kv_trust_add_node(t, c[i], url) != KV_OK)
            abort();
        ex_add_key(t, c[i], c[i], "2025-01-01T00:00:00Z", NULL);
    }
    return t;
}

#endif
