/*
 * trust.h — the trust list: which national nodes exist, where they listen
 * and which public keys speak for each, over which period.
 *
 * One entry per node (a country of the corridor): its ISO 3166 alpha-2
 * code, its base URL, and one or more Ed25519 public keys, each valid from
 * an instant and, optionally, until another. Adding a country is adding an
 * entry; rotating a key is adding the new key (valid from T1) and giving the
 * old one an end (until T2 > T1): between T1 and T2 both keys are valid.
 * A key is valid at t when from <= t < until.
 *
 * The file form is codec/trust_json.h; this module is the model and the
 * questions asked of it. It is pure: no I/O, no clock (the instant is an
 * argument), no allocation. The fingerprints are computed by the caller
 * (crypto/crypto.h kv_crypto_fingerprint) when keys are added.
 *
 * A struct kv_trust is about 120 KB: allocate it on the heap.
 */
#ifndef KV_CORE_TRUST_H
#define KV_CORE_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/movement.h"

#define KV_TRUST_NODES_MAX 64  /* nodes in one list */
#define KV_TRUST_KEYS_MAX  8   /* keys per node, past and present */
#define KV_TRUST_URL_MAX   200 /* bytes of a base URL */

struct kv_trust_key {
    uint8_t pk[32];
    char fingerprint[40]; /* kv_crypto_fingerprint(pk) */
    struct kv_time from;  /* valid from this instant (inclusive) */
    bool has_until;
    struct kv_time until; /* valid until this instant (exclusive), when has_until */
};

struct kv_trust_node {
    char country[3]; /* "KZ" */
    char url[KV_TRUST_URL_MAX + 1];
    size_t n_keys;
    struct kv_trust_key keys[KV_TRUST_KEYS_MAX];
};

struct kv_trust {
    size_t n;
    struct kv_trust_node nodes[KV_TRUST_NODES_MAX];
};

/* What kv_trust_check found. */
enum kv_trust_verdict {
    KV_TRUST_OK = 0,
    KV_TRUST_UNKNOWN_NODE, /* no entry for the country */
    KV_TRUST_UNKNOWN_KEY,  /* the country has no key with that fingerprint */
    KV_TRUST_NOT_YET,      /* the key is the country's, valid only later */
    KV_TRUST_EXPIRED       /* the key is the country's, no longer valid then */
};

/* Empties *t. */
void kv_trust_init(struct kv_trust *t);

/* The node of `country` (2 bytes compared), or NULL. */
const struct kv_trust_node *kv_trust_node(const struct kv_trust *t, const char *country);

/* The key of node n with that fingerprint (39 characters), or NULL. */
const struct kv_trust_key *kv_trust_key(const struct kv_trust_node *n, const char *fingerprint);

/* True when from <= at < until (no until: from <= at). */
bool kv_trust_key_valid_at(const struct kv_trust_key *k, int64_t at);

/*
 * Is the key with `fingerprint` valid for `country` at instant `at` (epoch
 * seconds)? Returns the verdict and, when the key is the country's (OK,
 * NOT_YET, EXPIRED), points *key at it (key may be NULL).
 */
enum kv_trust_verdict kv_trust_check(const struct kv_trust *t, const char *country,
                                     const char *fingerprint, int64_t at,
                                     const struct kv_trust_key **key);

/* Which node, if any, holds a key with this fingerprint (NULL if none). */
const struct kv_trust_node *kv_trust_key_owner(const struct kv_trust *t, const char *fingerprint,
                                               const struct kv_trust_key **key);

/* A short phrase for a verdict: "unknown node", "key not yet valid", ... */
const char *kv_trust_verdict_text(enum kv_trust_verdict v);

/*
 * Adds a node (no keys yet). country: two upper-case ASCII letters; url:
 * "http://" or "https://" followed by a host, at most KV_TRUST_URL_MAX bytes
 * of printable ASCII without space, '"' or '\\'. Returns 0; KV_EINVAL (bad country or
 * url, or the country is already listed); KV_ELIMIT (list full).
 */
int kv_trust_add_node(struct kv_trust *t, const char *country, const char *url);

/*
 * Adds a key (copied) to the node of `country`. Returns 0; KV_ENOTFOUND (no
 * such node); KV_EINVAL (a key with the same bytes is already listed for any
 * node, or until <= from); KV_ELIMIT (the node has KV_TRUST_KEYS_MAX keys).
 */
int kv_trust_add_key(struct kv_trust *t, const char *country, const struct kv_trust_key *key);

/* True when s has the shape of a country code (two upper-case ASCII letters). */
bool kv_trust_country_ok(const char *s, size_t len);

/* True when s is an acceptable base URL (see kv_trust_add_node). */
bool kv_trust_url_ok(const char *s, size_t len);

#endif
