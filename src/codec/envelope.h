/*
 * envelope.h — the signed envelope exchanged between national nodes
 * (POST /v1/exchange; the format is in docs/exchange.md).
 *
 * On the wire the HTTP body is the envelope's JSON bytes
 *
 *   {"v":1,"sender":"KZ","receiver":"AZ","id":"<32 hex>","kind":"CD050C",
 *    "mrn":"<MRN>","seq":N,"time":"<RFC 3339>","body":{...}}
 *
 * and the signature travels in the header
 *
 *   Kervan-Signature: keyid=<fingerprint>, sig=<base64url Ed25519 signature>
 *
 * over the exact body bytes: a receiver verifies the bytes it received and
 * never a re-serialisation. The body member is the kind's payload; its exact
 * text is handed to the receiver as a slice of the received bytes.
 *
 * The sending side:   kv_envelope_encode → bytes; kv_envelope_sign → header.
 * The receiving side: kv_envelope_verify(trust, me, bytes, header) → the
 *                     decoded envelope, or a rejection with its rule id.
 * What the receiver must still do itself: refuse a replayed id (its inbox),
 * and check that the sender is entitled to the movement beyond the
 * direction rule (the declaration's itinerary).
 *
 * Thread-safe; no globals. Hostile input never crashes, leaks or reads out
 * of bounds (fuzz/fuzz_envelope.c).
 */
#ifndef KV_CODEC_ENVELOPE_H
#define KV_CODEC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ident.h"
#include "core/movement.h"
#include "core/report.h"
#include "core/trust.h"
#include "crypto/crypto.h"

#define KV_ENVELOPE_MAX     (1024u * 1024u) /* bytes of one envelope, body included */
#define KV_ENVELOPE_VERSION 1
#define KV_SIG_HEADER       "Kervan-Signature"
#define KV_SIG_HEADER_MAX   192 /* bytes of the header value, NUL included */

/* Message kinds, with their NCTS counterparts (docs/exchange.md, "Kinds"). */
enum kv_msg_kind {
    KV_MSG_UNKNOWN = 0,
    KV_MSG_CD001C, /* anticipated arrival record: owner -> destination */
    KV_MSG_CD050C, /* anticipated transit record: owner -> each transit/border country */
    KV_MSG_CD118C, /* presented / cleared at a border: border -> owner */
    KV_MSG_EXIT,   /* "exit": explicit exit from the border country: border -> owner */
    KV_MSG_CD180C, /* incident notification: country of the incident -> owner */
    KV_MSG_CD181C, /* incident forwarded: owner -> later countries */
    KV_MSG_CD006C, /* arrival advice: destination -> owner */
    KV_MSG_CD018C, /* destination control results: destination -> owner */
    KV_MSG_CC045C, /* write-off notice (CC045C-like): owner -> itinerary */
    KV_MSG_CD010C, /* cancellation notice: owner -> itinerary */
    KV_MSG_CD002C, /* AAR request (movement met unannounced): country -> owner */
    KV_MSG_CD003C, /* AAR response: owner -> requesting country */
    KV_MSG_CD114C, /* ATR request (movement met unannounced): country -> owner */
    KV_MSG_CD115C, /* ATR response: owner -> requesting country */
    KV_MSG_ENTRY,  /* "entry": a new event of the owner's log, forwarded to every holder */
    KV_MSG_ACK,    /* "ack": acknowledgement of a message id, either way */
    KV_MSG__COUNT
};

/* Which way a kind travels relative to the movement's owner, the country of
 * departure written in the MRN (characters 3–4). */
enum kv_msg_direction {
    KV_MSG_FROM_OWNER = 1, /* sender must be the MRN's country */
    KV_MSG_TO_OWNER = 2,   /* receiver must be the MRN's country */
    KV_MSG_EITHER = 3      /* sender or receiver is the MRN's country */
};

/* "CD001C", ..., "exit", "ack"; NULL for UNKNOWN or out of range. */
const char *kv_msg_kind_name(enum kv_msg_kind k);

/* Parses a kind name (exact). Returns false when unknown. */
bool kv_msg_kind_from_name(const char *s, size_t len, enum kv_msg_kind *out);

/* The direction of a kind (KV_MSG_EITHER for out-of-range values). */
enum kv_msg_direction kv_msg_kind_direction(enum kv_msg_kind k);

/*
 * One envelope. After kv_envelope_decode/verify, `body` points INTO the
 * buffer that was decoded (the exact text of the "body" member, an object)
 * and is valid as long as that buffer is. For kv_envelope_encode the caller
 * sets it to the body's JSON text.
 */
struct kv_envelope {
    int v;                     /* KV_ENVELOPE_VERSION */
    char sender[3];            /* country of the sending node */
    char receiver[3];          /* country of the receiving node */
    char id[KV_MSGID_LEN + 1]; /* 32 lower-case hex digits */
    enum kv_msg_kind kind;
    char mrn[KV_MRN_LEN + 1]; /* the movement */
    uint32_t seq;             /* 1.. per (mrn, sender): the sender's order */
    struct kv_time time;      /* when the sender made the message */
    const char *body;         /* JSON object text (borrowed) */
    size_t body_len;
};

/* Why an envelope was refused. KV_ENV_OK is acceptance. */
enum kv_env_reject {
    KV_ENV_OK = 0,
    KV_ENV_OVERSIZED, /* R-ENV-SIZE: over KV_ENVELOPE_MAX bytes (413) */
    KV_ENV_MALFORMED, /* R-ENV-FORMAT: not the envelope format, or a bad header (400) */
    KV_ENV_KIND,      /* R-ENV-KIND: unknown kind (400) */
    KV_ENV_REASON,    /* R-ENV-REASON: a CD002C/CD114C without the office that met it (400) */
    KV_ENV_RECEIVER,  /* R-ENV-RECEIVER: addressed to another node (421) */
    KV_ENV_SENDER,    /* R-ENV-SENDER: the sender is not in the trust list (403) */
    KV_ENV_KEY,       /* R-ENV-KEY: the key id is not one of the sender's keys (403) */
    KV_ENV_SIGNATURE, /* R-ENV-SIG: the signature does not verify (403) */
    KV_ENV_KEY_TIME,  /* R-ENV-KEYTIME: the key was not valid at the envelope's time (403) */
    KV_ENV_ENTITLED,  /* R-ENV-ENTITLED: the kind's direction does not fit the MRN (403) */
    KV_ENV_NOMEM,     /* out of memory while decoding (503); nothing about the input */
    KV_ENV__COUNT
};

/* The rejection in full: which rule, where (a JSON pointer into the
 * envelope, or "header" for the signature header), and one sentence. */
struct kv_env_verdict {
    enum kv_env_reject reason;
    const char *rule; /* "R-ENV-SIG", ...; "" when accepted */
    char pointer[KV_POINTER_MAX];
    char message[KV_MESSAGE_MAX];
};

/* The rule id of a reason ("R-ENV-SIG", ...; "" for OK). */
const char *kv_env_reject_rule(enum kv_env_reject r);

/* The HTTP status an exchange endpoint answers for a reason (200 for OK). */
int kv_env_reject_status(enum kv_env_reject r);

/*
 * Writes the envelope's JSON bytes: the members in the order shown at the
 * top, no white space, `body` copied verbatim. Checks every field as the
 * decoder does (the body must be one strict JSON object). Returns KV_OK and
 * *out (caller frees with free(); NUL-terminated) and *len; KV_EINVAL with
 * the first problem in why->message (why may be NULL); KV_ELIMIT when the
 * result would exceed KV_ENVELOPE_MAX; KV_ENOMEM.
 */
int kv_envelope_encode(const struct kv_envelope *env, char **out, size_t *len,
                       struct kv_env_verdict *why);

/*
 * Signs `len` envelope bytes with the node's key: writes the header value
 * "keyid=<fingerprint>, sig=<base64url>" (NUL-terminated) to `header`.
 * Returns KV_OK, or KV_EINVAL (NULL argument, header_size too small).
 */
int kv_envelope_sign(const struct kv_keypair *kp, const char *bytes, size_t len, char *header,
                     size_t header_size);

/*
 * Decodes the envelope's structure only — no signature, no trust list:
 * size, strict JSON (json_strict.h first, then json-c), exactly the nine
 * members with their types and formats, a known kind, a body object, the
 * reason of a query. Returns KV_ENV_OK and fills *env (body points into
 * bytes), or the reason with *why filled (why may be NULL).
 */
enum kv_env_reject kv_envelope_decode(const char *bytes, size_t len, struct kv_envelope *env,
                                      struct kv_env_verdict *why)
    __attribute__((warn_unused_result));

/*
 * Everything a receiving node checks before it looks at its inbox, in this
 * order: size, the header's shape, the envelope's structure (as
 * kv_envelope_decode), receiver == `me`, the sender in `trust`, the key id
 * one of the sender's keys, the signature over the exact bytes, the key
 * valid at the envelope's time, the kind's direction against the MRN.
 * `header` is the Kervan-Signature value (header_len bytes, no NUL needed;
 * NULL when absent). Returns KV_ENV_OK and fills *env (body points into
 * bytes), or the first failing reason with *why filled (why may be NULL).
 * Nothing is kept; the caller logs *why and answers
 * kv_env_reject_status(reason).
 */
enum kv_env_reject kv_envelope_verify(const struct kv_trust *trust, const char *me,
                                      const char *bytes, size_t len, const char *header,
                                      size_t header_len, struct kv_envelope *env,
                                      struct kv_env_verdict *why)
    __attribute__((warn_unused_result));

/*
 * Splits a Kervan-Signature header value "keyid=<fp>, sig=<b64url>"
 * (optional spaces or tabs around it). Returns 0 and fills keyid
 * (NUL-terminated) and sig, or KV_EPARSE.
 */
int kv_envelope_header_parse(const char *header, size_t len, char keyid[KV_FP_LEN + 1],
                             uint8_t sig[KV_SIG_LEN]);

/*
 * Callback forms, for code that takes a signer or verifier as a function
 * pointer and a context (the outbox/inbox of src/net). `ctx` is a
 * `const struct kv_keypair *` for the signer and a
 * `const struct kv_envelope_verifier *` for the verifier.
 */
struct kv_envelope_verifier {
    const struct kv_trust *trust;
    char me[3];
};
int kv_envelope_sign_cb(void *ctx, const char *bytes, size_t len, char *header, size_t header_size);
enum kv_env_reject kv_envelope_verify_cb(void *ctx, const char *bytes, size_t len,
                                         const char *header, size_t header_len,
                                         struct kv_envelope *env, struct kv_env_verdict *why)
    __attribute__((warn_unused_result));

#endif
