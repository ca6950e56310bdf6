/*
 * export_json.h — a movement's signed history as one file (EXPORT.json),
 * for checking offline with `kervan audit verify --file` (the format is in
 * docs/exchange.md, "The export"). Version 2 carries chain v2 (core/chain.h):
 * each event signed where it happened and ordered by the owner.
 *
 *   {"format":"kervan-chain-export","v":2,"mrn":"25KZ...",
 *    "exported_by":"KZ","exported_at":"2025-03-05T12:00:00Z",
 *    "declaration":"<the lodged declaration's JSON text, as a string>",
 *    "link0":"<64 hex>",
 *    "events":[{"seq":1,"node":"KZ","time":"...","keyid":"xxxx:...",
 *               "sig":"<base64url>","link":"<64 hex>",
 *               "order_keyid":"xxxx:...","order_sig":"<base64url>",
 *               "event":"<the event's JSON text, as a string>"}, ...],
 *    "trust":{"nodes":[...]}}
 *
 * Signed and hashed texts travel as JSON strings so that their exact bytes
 * survive any reader: the string's value is the byte sequence. "declaration"
 * (left out when the exporter may not show it), "trust" (the keys the
 * exporter knows; an auditor should prefer their own list), "exported_by"
 * and "exported_at" are optional.
 *
 * Thread-safe.
 */
#ifndef KV_CODEC_EXPORT_JSON_H
#define KV_CODEC_EXPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chain.h"
#include "core/report.h"
#include "core/trust.h"

#define KV_EXPORT_FORMAT   "kervan-chain-export"
#define KV_EXPORT_VERSION  2
#define KV_EXPORT_JSON_MAX (64u * 1024u * 1024u) /* bytes of an export file */

/* A decoded export. Owns its memory: release with kv_export_clear. */
struct kv_export {
    char mrn[KV_MRN_LEN + 1];
    char exported_by[3];        /* "" when absent */
    struct kv_time exported_at; /* text "" when absent */
    char *declaration;          /* NULL when absent */
    size_t declaration_len;
    uint8_t link0[KV_CHAIN_LINK_LEN];
    struct kv_chain_event *events; /* event texts owned */
    size_t n;
    struct kv_trust *trust; /* the embedded keys, NULL when absent */
};

/* Zeroes *ex (no allocation). */
void kv_export_init(struct kv_export *ex);

/* Frees what *ex owns and zeroes it. NULL is a no-op. */
void kv_export_clear(struct kv_export *ex);

/*
 * Decodes an export (strict: json_strict.h, then json-c; no unknown or
 * repeated members; every field's shape checked; rule ids R-EXP-* and the
 * embedded trust list's R-TRUST-* under "/trust"; a version other than
 * KV_EXPORT_VERSION — a version 1 file named as such — is one R-EXP-004
 * problem at "/v" and nothing else is read). Its signatures and links
 * are not checked here (kv_export_verify). *ex is cleared first. Returns
 * KV_OK; KV_EPARSE (problems in rep); KV_ELIMIT (too large, too many
 * events); KV_ENOMEM; KV_EINVAL.
 */
int kv_export_from_json(const char *buf, size_t len, struct kv_export *ex, struct kv_report *rep);

/*
 * Writes an export as JSON text (one event per line, a final newline).
 * Every field must be in shape (the decoder's rules); ex->trust, when not
 * NULL, is embedded. Returns KV_OK and *out (caller frees with free()) and
 * *len; KV_EINVAL; KV_ENOMEM.
 */
int kv_export_to_json(const struct kv_export *ex, char **out, size_t *len);

/*
 * Checks the export's whole chain (core/chain.h kv_chain_verify with
 * libsodium and, for each event, the event codec: the event's bytes must be
 * a stored event whose time is the record's and whose office is in the
 * signing node's country). Keys come from `trust`, or from the export's
 * own list when trust is NULL. Returns KV_CHAIN_INTACT or KV_CHAIN_BROKEN
 * with the problems in rep and the summary in *res (may be NULL);
 * KV_ENOTFOUND when there are no keys at all; KV_EINVAL; KV_ENOMEM.
 */
int kv_export_verify(const struct kv_export *ex, const struct kv_trust *trust,
                     struct kv_chain_result *res, struct kv_report *rep);

#endif
