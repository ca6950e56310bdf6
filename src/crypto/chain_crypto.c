/*
 * chain_crypto.c — libsodium under the event chain (see chain_crypto.h).
 */
#include "crypto/chain_crypto.h"

#include <string.h>

#include "core/err.h"

static void ops_hash(void *ctx, const struct kv_chain_part *parts, size_t n, uint8_t out[32])
{
    struct kv_crypto_part cp[4];
    (void)ctx;
    if (n > 4) { /* core/chain.c hashes at most three parts */
        memset(out, 0, 32);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        cp[i].data = parts[i].data;
        cp[i].len = parts[i].len;
    }
    kv_crypto_hash_parts(cp, n, out);
}

static bool ops_verify(void *ctx, const uint8_t pk[32], const uint8_t *msg, size_t len,
                       const uint8_t sig[64])
{
    (void)ctx;
    return kv_crypto_verify(pk, msg, len, sig);
}

static const struct kv_chain_ops sodium_ops = {ops_hash, ops_verify, NULL, NULL};

const struct kv_chain_ops *kv_crypto_chain_ops(void)
{
    return &sodium_ops;
}

int kv_chain_sign_origin(const struct kv_keypair *kp, const char *mrn, struct kv_chain_event *e)
{
    uint8_t o[KV_CHAIN_LINK_LEN];
    if (!kp || !mrn || !e)
        return KV_EINVAL;
    int rc = kv_chain_origin(&sodium_ops, mrn, e, o);
    if (rc != KV_OK)
        return rc;
    memcpy(e->keyid, kp->fingerprint, sizeof kp->fingerprint);
    kv_crypto_sign(kp, o, sizeof o, e->sig);
    return KV_OK;
}

int kv_chain_order(const struct kv_keypair *owner, const char *mrn, const uint8_t prev[32],
                   struct kv_chain_event *e)
{
    if (!owner || !mrn || !prev || !e)
        return KV_EINVAL;
    int rc = kv_chain_link(&sodium_ops, mrn, prev, e, e->link);
    if (rc != KV_OK)
        return rc;
    memcpy(e->order_keyid, owner->fingerprint, sizeof owner->fingerprint);
    kv_crypto_sign(owner, e->link, sizeof e->link, e->order_sig);
    return KV_OK;
}
