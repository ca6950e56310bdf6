/*
 * fuzz_envelope.c — libFuzzer target for the envelope codec
 * (codec/envelope.h).
 *
 * Each input is tried three ways:
 *   1. decoded as an envelope (structure only);
 *   2. signed by the example key of the sender it names (when that sender
 *      is one of KZ, AZ, GE, TR) and verified by its receiver — so the
 *      fuzzer reaches every check after the signature, acceptance included;
 *   3. split at the first newline into a Kervan-Signature header and the
 *      envelope, and verified as it stands.
 * Never crashes, leaks or reads out of bounds; a rejection always names its
 * rule and says why. An accepted envelope's body lies inside the input and
 * is one JSON object, and re-encoding the decoded fields gives an envelope
 * that decodes to the same fields and body.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/envelope.h"
#include "codec/trust_json.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const countries[] = {"KZ", "AZ", "GE", "TR"};
static struct kv_keypair keys[4];
static struct kv_trust *trust;

static void setup(void)
{
    if (trust)
        return;
    trust = malloc(sizeof *trust);
    if (!trust)
        abort();
    kv_trust_init(trust);
    for (int i = 0; i < 4; i++) {
        char text[64], url[40];
        uint8_t seed[32];
        struct kv_trust_key k;
        struct kv_time from;
        int n = snprintf(text, sizeof text, "kervan example key %s", countries[i]);
        kv_crypto_hash(text, (size_t)n, seed);
        if (kv_crypto_keypair_from_seed(&keys[i], seed) != KV_OK)
            abort();
        snprintf(url, sizeof url, "http://127.0.0.1:%d", 7101 + i);
        kv_time_set(&from, 1735689600, 0); /* 2025-01-01 */
        if (kv_trust_add_node(trust, countries[i], url) != KV_OK ||
            kv_trust_key_make(&k, keys[i].pk, &from, NULL) != KV_OK ||
            kv_trust_add_key(trust, countries[i], &k) != KV_OK)
            abort();
    }
}

static void check_verdict(enum kv_env_reject r, const struct kv_env_verdict *why)
{
    if (r == KV_ENV_OK)
        return;
    if ((unsigned)r >= KV_ENV__COUNT || why->reason != r || !why->rule ||
        strcmp(why->rule, kv_env_reject_rule(r)) != 0 || why->message[0] == '\0')
        abort();
}

static void check_accepted(const char *buf, size_t size, const struct kv_envelope *env)
{
    if (!env->body || env->body < buf || env->body + env->body_len > buf + size ||
        env->body_len < 2 || env->body[0] != '{' || env->body[env->body_len - 1] != '}')
        abort();
    char *out = NULL;
    size_t len = 0;
    struct kv_env_verdict why;
    struct kv_envelope again;
    int rc = kv_envelope_encode(env, &out, &len, &why);
    if (rc == KV_ENOMEM)
        return;
    if (rc != KV_OK)
        abort();
    if (kv_envelope_decode(out, len, &again, &why) != KV_ENV_OK ||
        strcmp(again.sender, env->sender) != 0 || strcmp(again.receiver, env->receiver) != 0 ||
        strcmp(again.id, env->id) != 0 || again.kind != env->kind ||
        strcmp(again.mrn, env->mrn) != 0 || again.seq != env->seq ||
        strcmp(again.time.text, env->time.text) != 0 || again.body_len != env->body_len ||
        memcmp(again.body, env->body, env->body_len) != 0)
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct kv_envelope env;
    struct kv_env_verdict why;
    setup();

    /* 1. structure only */
    enum kv_env_reject r = kv_envelope_decode(buf, size, &env, &why);
    check_verdict(r, &why);
    if (r == KV_ENV_OK)
        check_accepted(buf, size, &env);

    /* 2. signed by the key of the sender it names, verified by its receiver */
    if (r == KV_ENV_OK || r == KV_ENV_REASON) {
        int signer = 0;
        for (int i = 0; i < 4; i++)
            if (r == KV_ENV_OK && strcmp(env.sender, countries[i]) == 0)
                signer = i;
        char hdr[KV_SIG_HEADER_MAX], me[3] = "AZ";
        if (kv_envelope_sign(&keys[signer], buf, size, hdr, sizeof hdr) != KV_OK)
            abort();
        if (r == KV_ENV_OK)
            memcpy(me, env.receiver, 3);
        struct kv_envelope v;
        enum kv_env_reject rv =
            kv_envelope_verify(trust, me, buf, size, hdr, strlen(hdr), &v, &why);
        check_verdict(rv, &why);
        if (rv == KV_ENV_OK)
            check_accepted(buf, size, &v);
    }

    /* 3. a header of the fuzzer's own, then the envelope */
    const char *nl = memchr(buf, '\n', size);
    if (nl) {
        size_t hl = (size_t)(nl - buf);
        struct kv_envelope v;
        enum kv_env_reject rv =
            kv_envelope_verify(trust, "AZ", nl + 1, size - hl - 1, buf, hl, &v, &why);
        check_verdict(rv, &why);
        if (rv == KV_ENV_OK)
            check_accepted(nl + 1, size - hl - 1, &v);
    }
    return 0;
}
