/*
 * crypto.h — the narrow wrapper over libsodium: the only code of kervan that
 * calls libsodium for signatures, hashes and key files.
 *
 * What it offers: Ed25519 key pairs (made, derived from a seed, saved to and
 * loaded from a node's data folder with tight permissions), detached
 * signatures and their verification, BLAKE2b-256 (one buffer or a list of
 * parts), key fingerprints, random message ids, and the base64url and hex
 * codecs used on the wire (docs/exchange.md).
 *
 * Key files (docs/exchange.md, "Keys"):
 *   DIR/keys/          folder, mode 0700
 *   DIR/keys/node.sk   the 32-byte Ed25519 seed, base64url + "\n", mode 0600
 *   DIR/keys/node.pk   the 32-byte public key, base64url + "\n", mode 0644
 * A secret key file readable or writable by group or other, not a regular
 * file, reached through a symbolic link, or owned by another user is
 * refused (KV_EKEYPERM). The public key file must match the secret one.
 *
 * Fingerprint: the first 16 bytes of BLAKE2b-256 (unkeyed, 32-byte output)
 * of the 32 raw public key bytes, as 32 lower-case hex digits in 8 groups of
 * 4 joined by ':' (39 characters), e.g. "5c1f:09d2:...".
 *
 * All functions are thread-safe once kv_crypto_init has returned 0 (every
 * function that needs libsodium calls it itself; calling it first at start-up
 * only moves the cost).
 */
#ifndef KV_CRYPTO_CRYPTO_H
#define KV_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Crypto-specific error codes (beside core/err.h's; kv_crypto_strerror). */
enum kv_crypto_err {
    KV_EKEYPERM = -50, /* a key file or folder is open to group/other, a link, or not ours */
    KV_EEXIST = -51,   /* a key pair is already there (and no --force) */
    KV_EBADKEY = -52   /* a key file is malformed, or the public key does not match */
};

#define KV_PK_LEN       32 /* Ed25519 public key */
#define KV_SEED_LEN     32 /* Ed25519 seed: the secret the key files keep */
#define KV_SK_LEN       64 /* libsodium's secret key: seed || public key */
#define KV_SIG_LEN      64 /* Ed25519 signature */
#define KV_HASH_LEN     32 /* BLAKE2b-256 */
#define KV_FP_LEN       39 /* fingerprint text: "xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:xxxx" */
#define KV_PK_B64_LEN   43 /* base64url (no padding) of 32 bytes */
#define KV_SIG_B64_LEN  86 /* base64url (no padding) of 64 bytes */
#define KV_HASH_HEX_LEN 64
#define KV_MSGID_LEN    32 /* message id: 32 lower-case hex digits (128 random bits) */

/* A node's key pair. Holds a secret: clear it with kv_crypto_keypair_clear. */
struct kv_keypair {
    uint8_t pk[KV_PK_LEN];
    uint8_t sk[KV_SK_LEN];
    char fingerprint[KV_FP_LEN + 1];
};

/* One piece of a message hashed as the concatenation of its parts. */
struct kv_crypto_part {
    const void *data;
    size_t len;
};

/* Initialises libsodium once. Returns 0, or KV_EIO when it cannot start. */
int kv_crypto_init(void);

/* A static, never-NULL description of a crypto or core error code. */
const char *kv_crypto_strerror(int err);

/* Makes a fresh key pair from the system's random source. Returns 0 or KV_EIO. */
int kv_crypto_keypair_new(struct kv_keypair *kp);

/* Derives the key pair of a 32-byte seed (deterministic; for tests and the
 * key files). Returns 0 or KV_EIO. */
int kv_crypto_keypair_from_seed(struct kv_keypair *kp, const uint8_t seed[KV_SEED_LEN]);

/* Wipes a key pair's memory. NULL is a no-op. */
void kv_crypto_keypair_clear(struct kv_keypair *kp);

/*
 * Writes kp to DIR/keys/node.sk and DIR/keys/node.pk, creating DIR (0700)
 * and DIR/keys (0700) when missing; an existing keys folder is set to 0700.
 * Each file is written to a temporary name, synced, then renamed. Without
 * `force`, an existing node.sk makes it fail with KV_EEXIST.
 * Returns 0; KV_EEXIST; KV_EKEYPERM (the keys folder is a link or not
 * ours); KV_EIO. `detail` (may be NULL) gets one sentence naming the path.
 */
int kv_crypto_keys_save(const char *dir, const struct kv_keypair *kp, bool force, char *detail,
                        size_t detail_size);

/*
 * Loads the key pair of data folder DIR (see the top of this file for the
 * refusals). Returns 0; KV_ENOTFOUND (no node.sk); KV_EKEYPERM; KV_EBADKEY
 * (malformed file, or node.pk present and different); KV_EIO. `detail`
 * (may be NULL) gets one sentence naming the path and what to do.
 */
int kv_crypto_keys_load(const char *dir, struct kv_keypair *kp, char *detail, size_t detail_size);

/* Signs `len` bytes with the secret key: a detached 64-byte signature. */
void kv_crypto_sign(const struct kv_keypair *kp, const void *msg, size_t len,
                    uint8_t sig[KV_SIG_LEN]);

/* True when `sig` is a valid Ed25519 signature of the bytes under `pk`.
 * Never true for a small-order or non-canonical public key. */
bool kv_crypto_verify(const uint8_t pk[KV_PK_LEN], const void *msg, size_t len,
                      const uint8_t sig[KV_SIG_LEN]) __attribute__((warn_unused_result));

/* True when the 32 bytes are an Ed25519 public key libsodium accepts: a
 * point on the curve, in the main subgroup, not of small order. */
bool kv_crypto_pk_ok(const uint8_t pk[KV_PK_LEN]);

/* BLAKE2b-256 (unkeyed) of one buffer. */
void kv_crypto_hash(const void *buf, size_t len, uint8_t out[KV_HASH_LEN]);

/* BLAKE2b-256 (unkeyed) of the concatenation of n parts. */
void kv_crypto_hash_parts(const struct kv_crypto_part *parts, size_t n, uint8_t out[KV_HASH_LEN]);

/* The fingerprint of a public key (see the top of this file), NUL-terminated. */
void kv_crypto_fingerprint(const uint8_t pk[KV_PK_LEN], char out[KV_FP_LEN + 1]);

/* True when s (len bytes) has the shape of a fingerprint. */
bool kv_crypto_fingerprint_ok(const char *s, size_t len);

/* Fills `n` bytes from the system's random source. Returns 0 or KV_EIO. */
int kv_crypto_random(void *buf, size_t n);

/* A fresh message id: 32 lower-case hex digits, NUL-terminated. 0 or KV_EIO. */
int kv_crypto_message_id(char out[KV_MSGID_LEN + 1]);

/*
 * Unpadded base64url (RFC 4648 §5) of n bytes into out (size outsz, which
 * must hold 4*ceil(n/3) + 1 bytes). Returns the text length, or 0 when out
 * is too small (out then holds "").
 */
size_t kv_b64url_encode(const uint8_t *bin, size_t n, char *out, size_t outsz);

/*
 * Decodes unpadded base64url text of exactly `len` bytes into exactly
 * `want` bytes: no padding, no white space, no other alphabet, and the
 * unused low bits of the last character must be zero (one text per value).
 * Returns 0 or KV_EPARSE.
 */
int kv_b64url_decode_exact(const char *s, size_t len, uint8_t *out, size_t want);

/* Lower-case hex of n bytes into out (2n + 1 bytes), NUL-terminated. */
void kv_hex_encode(const uint8_t *bin, size_t n, char *out);

/* Decodes exactly 2*want lower-case hex digits. Returns 0 or KV_EPARSE. */
int kv_hex_decode_exact(const char *s, size_t len, uint8_t *out, size_t want);

#endif
