/*
 * auth.h — the node's access tokens: making them, hashing them, and checking
 * what a token is bound to. Shared by the API (POST /v1/tokens, bearer
 * authentication) and `kervan token add`.
 *
 * A token is "kv_" followed by 43 characters of unpadded base64url: 32 random
 * bytes from libsodium's randombytes_buf (the kernel's getrandom). The node
 * stores only its BLAKE2b-256 hash (kv_store_hash); a token is high-entropy,
 * so a fast hash is right and no password hashing is needed. A token is shown
 * once, when it is made.
 *
 * Roles (the store's `role` text) and what each is bound to:
 *   trader     a party id (the holder's identification number, an..17)
 *   officer    an office reference in the registry, of this node's country
 *   guarantor  a party id (the guarantor's)
 *   analyst    nothing
 *   operator   nothing (the node operator)
 *
 * Thread-safe.
 */
#ifndef KV_NET_AUTH_H
#define KV_NET_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_ref;

#define KV_TOKEN_PREFIX   "kv_"
#define KV_TOKEN_LEN      46 /* "kv_" + 43 base64url characters */
#define KV_TOKEN_HASH_LEN 32
#define KV_PARTY_MAX      17 /* characters of a party id (an..17) */
#define KV_LABEL_MAX      64 /* characters of a token label */

enum kv_token_role {
    KV_TOKEN_NONE = 0,
    KV_TOKEN_TRADER,
    KV_TOKEN_OFFICER,
    KV_TOKEN_GUARANTOR,
    KV_TOKEN_ANALYST,
    KV_TOKEN_OPERATOR
};

/* "trader", "officer", "guarantor", "analyst", "operator"; NULL otherwise. */
const char *kv_token_role_name(enum kv_token_role r);

/* The role called `name` (exact, lower case), or KV_TOKEN_NONE. */
enum kv_token_role kv_token_role_from_name(const char *name);

/*
 * Makes a new token: writes it (NUL-terminated) to `token` and its hash to
 * `hash`. Returns 0, or KV_EIO when libsodium cannot be initialised.
 */
int kv_auth_token_new(char token[KV_TOKEN_LEN + 1], uint8_t hash[KV_TOKEN_HASH_LEN]);

/* The hash under which a token is stored (BLAKE2b-256 of its text). */
void kv_auth_token_hash(const char *token, size_t len, uint8_t hash[KV_TOKEN_HASH_LEN]);

/* True when `s` has the shape of a token ("kv_" + 43 base64url characters). */
bool kv_auth_token_shape_ok(const char *s, size_t len);

/*
 * Checks a token's binding before it is recorded: `role` must be a role
 * name; a trader or guarantor needs `party` (1–17 printable ASCII characters,
 * no space) and no office; an officer needs `office`, an office of the
 * registry `ref` whose country is `country`, and no party; an analyst or
 * operator neither. `label` (may be NULL) is at most 64 printable ASCII
 * characters. Returns 0, or KV_EINVAL with one sentence in err and the name
 * of the offending field ("role", "party", "office", "label") in *field.
 */
int kv_auth_binding_check(const struct kv_ref *ref, const char *country, const char *role,
                          const char *party, const char *office, const char *label, char *err,
                          size_t errsz, const char **field);

#endif
