/*
 * chain_crypto.h — the crypto calls of the event chain (core/chain.h):
 * the libsodium ops table for the walk, and sealing a new event (its link
 * and signature) on the node where it happens.
 */
#ifndef KV_CRYPTO_CHAIN_CRYPTO_H
#define KV_CRYPTO_CHAIN_CRYPTO_H

#include "core/chain.h"
#include "crypto/crypto.h"

/*
 * The ops table over libsodium: hash = BLAKE2b-256, verify = Ed25519;
 * event_ok is NULL (fill it in a copy to check event bytes). Static, never
 * NULL, thread-safe.
 */
const struct kv_chain_ops *kv_crypto_chain_ops(void);

/*
 * Seals event e of movement mrn recorded by this node: sets e->keyid to the
 * key's fingerprint, e->link = H(prev || record) and e->sig = the signature
 * of the link. e's seq, node, time and event bytes must be set; `prev` is
 * the link of the event before (link_0 for seq 1). Returns KV_OK, or
 * KV_EINVAL (a NULL argument or a record field out of shape).
 */
int kv_chain_seal(const struct kv_keypair *kp, const char *mrn, const uint8_t prev[32],
                  struct kv_chain_event *e);

#endif
