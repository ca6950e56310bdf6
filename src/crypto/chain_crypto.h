/*
 * chain_crypto.h — the crypto calls of the event chain (core/chain.h):
 * the libsodium ops table for the walk, signing a new event where it
 * happens (kv_chain_sign_origin) and ordering it into the movement's log at
 * the owner (kv_chain_order). Pure apart from libsodium: no I/O, no clock.
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
 * Signs event e of movement mrn where it happened: sets e->keyid to kp's
 * fingerprint and e->sig to kp's signature over the origin digest
 * o = H("kervan-origin-v1\n" MRN "\n" NODE "\n" TIME "\n" EVENT). e's
 * node, time and event bytes must be set (seq is not covered: the event
 * does not know its place yet). kp must be the key of e->node. Returns
 * KV_OK, or KV_EINVAL (a NULL argument or a record field out of shape).
 * Thread-safe.
 */
int kv_chain_sign_origin(const struct kv_keypair *kp, const char *mrn, struct kv_chain_event *e);

/*
 * Orders event e into movement mrn's log at the owner: sets e->link =
 * H(prev || record of e), e->order_keyid to owner's fingerprint and
 * e->order_sig to owner's signature over the link. e's seq, node, time and
 * event bytes must be set; prev is the link of the event before (link_0 =
 * H(lodged declaration) for seq 1); owner must be the key of the MRN's
 * country (characters 3–4). Does not check e->sig (the caller checks an
 * event from another node before ordering it). Returns KV_OK, or KV_EINVAL
 * (a NULL argument or a record field out of shape). Thread-safe.
 */
int kv_chain_order(const struct kv_keypair *owner, const char *mrn, const uint8_t prev[32],
                   struct kv_chain_event *e);

#endif
