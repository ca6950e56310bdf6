/*
 * trust_json.h — the trust list file (trust.json), in and out.
 *
 *   {"nodes":[{"country":"KZ","url":"http://127.0.0.1:7101",
 *              "keys":[{"key":"<base64url>","fingerprint":"xxxx:...",
 *                       "from":"2025-01-01T00:00:00Z","until":null}]}]}
 *
 * "key" is the 32-byte Ed25519 public key in unpadded base64url;
 * "fingerprint" is optional on input and, when present, must be the key's
 * (crypto.h) — it is there for people comparing keys by eye; "until" may be
 * absent or null (no end). Decoding is strict: the strict checker
 * (json_strict.h) then json-c; no unknown or repeated members; every
 * problem goes to a struct kv_report with a rule id (R-TRUST-*) and a JSON
 * pointer. docs/exchange.md lists the rules.
 *
 * Thread-safe. Calls crypto.h for fingerprints and key checks.
 */
#ifndef KV_CODEC_TRUST_JSON_H
#define KV_CODEC_TRUST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/report.h"
#include "core/trust.h"

#define KV_TRUST_JSON_MAX (1024u * 1024u) /* bytes of a trust list file */

/*
 * Decodes `len` bytes into *t (emptied first). `prefix` (may be NULL or "")
 * is put in front of every JSON pointer in the report, for a list embedded
 * in another document (an export's "/trust"). Returns KV_OK when the list
 * is valid (no problem added); KV_EPARSE (problems in rep); KV_ELIMIT (over
 * KV_TRUST_JSON_MAX, or more nodes or keys than the model holds; in rep);
 * KV_ENOMEM; KV_EINVAL for NULL arguments.
 */
int kv_trust_from_json(const char *buf, size_t len, const char *prefix, struct kv_trust *t,
                       struct kv_report *rep);

/*
 * Writes the list as indented JSON text (one key per line), "fingerprint"
 * included and "until" null when there is none, with a final newline.
 * Returns KV_OK and *out (caller frees with free()) and *len; KV_ENOMEM.
 */
int kv_trust_to_json(const struct kv_trust *t, char **out, size_t *len);

/*
 * Fills a key entry: copies pk, computes the fingerprint, sets from and
 * (when until is not NULL) until. Returns KV_OK, or KV_EINVAL when pk is
 * not a valid Ed25519 public key or until <= from.
 */
int kv_trust_key_make(struct kv_trust_key *k, const uint8_t pk[32], const struct kv_time *from,
                      const struct kv_time *until);

#endif
