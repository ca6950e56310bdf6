/*
 * envelope.c — the signed envelope between nodes (see envelope.h and
 * docs/exchange.md).
 *
 * Decoding runs the strict checker (json_strict.h) over the bytes first —
 * duplicates, depth and size limits, UTF-8 — then lets json-c build the
 * tree of the nine members. The exact text of "body" is found by a small
 * scanner over the already-checked bytes, so the receiver gets the body the
 * sender signed, never a re-serialisation.
 */
#include "codec/envelope.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_span.h"
#include "codec/json_strict.h"
#include "core/err.h"

/* Bounds on the envelope's JSON beyond its size (a body may carry a whole
 * declaration: the declaration codec's own bounds, plus two levels). */
#define ENV_MAX_DEPTH      40
#define ENV_MAX_CONTAINERS 50000u
#define ENV_MAX_VALUES     500000u

/* ------------------------------------------------------------------------ */
/* Kinds and reasons                                                        */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    enum kv_msg_direction dir;
} kinds[KV_MSG__COUNT] = {
    [KV_MSG_CD001C] = {"CD001C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD050C] = {"CD050C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD118C] = {"CD118C", KV_MSG_TO_OWNER},
    [KV_MSG_EXIT] = {"exit", KV_MSG_TO_OWNER},
    [KV_MSG_CD180C] = {"CD180C", KV_MSG_TO_OWNER},
    [KV_MSG_CD181C] = {"CD181C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD006C] = {"CD006C", KV_MSG_TO_OWNER},
    [KV_MSG_CD018C] = {"CD018C", KV_MSG_TO_OWNER},
    [KV_MSG_CC045C] = {"CC045C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD010C] = {"CD010C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD002C] = {"CD002C", KV_MSG_TO_OWNER},
    [KV_MSG_CD003C] = {"CD003C", KV_MSG_FROM_OWNER},
    [KV_MSG_CD114C] = {"CD114C", KV_MSG_TO_OWNER},
    [KV_MSG_CD115C] = {"CD115C", KV_MSG_FROM_OWNER},
    [KV_MSG_ENTRY] = {"entry", KV_MSG_FROM_OWNER},
    [KV_MSG_ACK] = {"ack", KV_MSG_EITHER},
};

const char *kv_msg_kind_name(enum kv_msg_kind k)
{
    if ((unsigned)k >= KV_MSG__COUNT)
        return NULL;
    return kinds[k].name;
}

bool kv_msg_kind_from_name(const char *s, size_t len, enum kv_msg_kind *out)
{
    if (!s)
        return false;
    for (int k = 1; k < KV_MSG__COUNT; k++) {
        if (strlen(kinds[k].name) == len && memcmp(kinds[k].name, s, len) == 0) {
            if (out)
                *out = (enum kv_msg_kind)k;
            return true;
        }
    }
    return false;
}

enum kv_msg_direction kv_msg_kind_direction(enum kv_msg_kind k)
{
    if ((unsigned)k >= KV_MSG__COUNT || k == KV_MSG_UNKNOWN)
        return KV_MSG_EITHER;
    return kinds[k].dir;
}

static const struct {
    const char *rule;
    int status;
} reasons[KV_ENV__COUNT] = {
    [KV_ENV_OK] = {"", 200},
    [KV_ENV_OVERSIZED] = {"R-ENV-SIZE", 413},
    [KV_ENV_MALFORMED] = {"R-ENV-FORMAT", 400},
    [KV_ENV_KIND] = {"R-ENV-KIND", 400},
    [KV_ENV_REASON] = {"R-ENV-REASON", 400},
    [KV_ENV_RECEIVER] = {"R-ENV-RECEIVER", 421},
    [KV_ENV_SENDER] = {"R-ENV-SENDER", 403},
    [KV_ENV_KEY] = {"R-ENV-KEY", 403},
    [KV_ENV_SIGNATURE] = {"R-ENV-SIG", 403},
    [KV_ENV_KEY_TIME] = {"R-ENV-KEYTIME", 403},
    [KV_ENV_ENTITLED] = {"R-ENV-ENTITLED", 403},
    [KV_ENV_NOMEM] = {"R-ENV-NOMEM", 503},
};

const char *kv_env_reject_rule(enum kv_env_reject r)
{
    if ((unsigned)r >= KV_ENV__COUNT)
        return "R-ENV-?";
    return reasons[r].rule;
}

int kv_env_reject_status(enum kv_env_reject r)
{
    if ((unsigned)r >= KV_ENV__COUNT)
        return 500;
    return reasons[r].status;
}

static enum kv_env_reject reject(struct kv_env_verdict *why, enum kv_env_reject r,
                                 const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum kv_env_reject reject(struct kv_env_verdict *why, enum kv_env_reject r,
                                 const char *pointer, const char *fmt, ...)
{
    if (!why)
        return r;
    why->reason = r;
    why->rule = kv_env_reject_rule(r);
    snprintf(why->pointer, sizeof why->pointer, "%s", pointer ? pointer : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    return r;
}

static void accept_verdict(struct kv_env_verdict *why)
{
    if (why) {
        why->reason = KV_ENV_OK;
        why->rule = "";
        why->pointer[0] = '\0';
        why->message[0] = '\0';
    }
}

/* ------------------------------------------------------------------------ */
/* Field shapes                                                             */
/* ------------------------------------------------------------------------ */

static bool msgid_ok(const char *s, size_t len)
{
    if (!s || len != KV_MSGID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool office_ok(const char *s, size_t len)
{
    if (!s || len != 8)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return kv_trust_country_ok(s, 2);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

static const char *const member_names[] = {"v",   "sender", "receiver", "id",   "kind",
                                           "mrn", "seq",    "time",     "body", NULL};

struct dup_ctx {
    bool seen;
    char pointer[KV_POINTER_MAX];
};

static void on_dup(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    struct dup_ctx *d = ctx;
    (void)name;
    (void)name_len;
    if (!d->seen) {
        d->seen = true;
        snprintf(d->pointer, sizeof d->pointer, "%s", pointer);
    }
}

/* The string member `name` of root: its bytes, or a rejection. */
static enum kv_env_reject get_string(json_object *root, const char *name, const char **s,
                                     size_t *len, struct kv_env_verdict *why)
{
    json_object *v = NULL;
    char ptr[16];
    snprintf(ptr, sizeof ptr, "/%s", name);
    if (!json_object_object_get_ex(root, name, &v))
        return reject(why, KV_ENV_MALFORMED, ptr, "the member \"%s\" is missing", name);
    if (!json_object_is_type(v, json_type_string))
        return reject(why, KV_ENV_MALFORMED, ptr, "\"%s\" must be a string, not %s", name,
                      kv_json_type_name_exact(v));
    *s = json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    return KV_ENV_OK;
}

/* kv_json_member_fn keeping the first name it is given in *(const char **)ctx. */
static void first_name(void *ctx, const char *name)
{
    const char **first = ctx;
    if (!*first)
        *first = name;
}

static enum kv_env_reject decode_members(json_object *root, struct kv_envelope *env,
                                         struct kv_env_verdict *why)
{
    enum kv_env_reject r;
    const char *s;
    size_t len;
    char q[96];

    /* Exactly the nine members. */
    const char *unknown = NULL;
    if (kv_json_unknown_members(root, member_names, first_name, &unknown) > 0) {
        kv_quote(q, sizeof q, unknown, strlen(unknown), 40);
        return reject(why, KV_ENV_MALFORMED, "",
                      "unknown member \"%s\" (an envelope has "
                      "v, sender, receiver, id, kind, mrn, seq, time, body)",
                      q);
    }

    json_object *v = NULL;
    if (!json_object_object_get_ex(root, "v", &v))
        return reject(why, KV_ENV_MALFORMED, "/v", "the member \"v\" is missing");
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != KV_ENVELOPE_VERSION)
        return reject(why, KV_ENV_MALFORMED, "/v",
                      "unsupported envelope version (this node "
                      "speaks version %d)",
                      KV_ENVELOPE_VERSION);
    env->v = KV_ENVELOPE_VERSION;

    if ((r = get_string(root, "sender", &s, &len, why)) != KV_ENV_OK)
        return r;
    if (!kv_trust_country_ok(s, len)) {
        kv_quote(q, sizeof q, s, len, 20);
        return reject(why, KV_ENV_MALFORMED, "/sender",
                      "\"%s\" is not a country code (two upper-case letters)", q);
    }
    memcpy(env->sender, s, 3);

    if ((r = get_string(root, "receiver", &s, &len, why)) != KV_ENV_OK)
        return r;
    if (!kv_trust_country_ok(s, len)) {
        kv_quote(q, sizeof q, s, len, 20);
        return reject(why, KV_ENV_MALFORMED, "/receiver",
                      "\"%s\" is not a country code (two upper-case letters)", q);
    }
    memcpy(env->receiver, s, 3);
    if (strcmp(env->sender, env->receiver) == 0)
        return reject(why, KV_ENV_MALFORMED, "/receiver",
                      "sender and receiver are both %s: a node does not write to itself",
                      env->sender);

    if ((r = get_string(root, "id", &s, &len, why)) != KV_ENV_OK)
        return r;
    if (!msgid_ok(s, len)) {
        kv_quote(q, sizeof q, s, len, 40);
        return reject(why, KV_ENV_MALFORMED, "/id",
                      "\"%s\" is not a message id (32 lower-case hex digits)", q);
    }
    memcpy(env->id, s, KV_MSGID_LEN + 1);

    if ((r = get_string(root, "kind", &s, &len, why)) != KV_ENV_OK)
        return r;
    if (!kv_msg_kind_from_name(s, len, &env->kind)) {
        kv_quote(q, sizeof q, s, len, 20);
        return reject(why, KV_ENV_KIND, "/kind",
                      "unknown kind \"%s\"; one of: CD001C, CD050C, CD118C, exit, CD180C, "
                      "CD181C, CD006C, CD018C, CC045C, CD010C, CD002C, CD003C, CD114C, "
                      "CD115C, entry, ack",
                      q);
    }

    if ((r = get_string(root, "mrn", &s, &len, why)) != KV_ENV_OK)
        return r;
    struct kv_id_result idr;
    if (!kv_mrn_verify(s, len, KV_MRN_P5_OR_LEGACY, &idr)) {
        kv_quote(q, sizeof q, s, len, 24);
        return reject(why, KV_ENV_MALFORMED, "/mrn", "\"%s\" is not a valid MRN", q);
    }
    memcpy(env->mrn, s, KV_MRN_LEN);
    env->mrn[KV_MRN_LEN] = '\0';

    if (!json_object_object_get_ex(root, "seq", &v))
        return reject(why, KV_ENV_MALFORMED, "/seq", "the member \"seq\" is missing");
    int64_t seq = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
    if (seq < 1 || seq > (int64_t)UINT32_MAX)
        return reject(why, KV_ENV_MALFORMED, "/seq",
                      "\"seq\" must be an integer from 1 to 4294967295");
    env->seq = (uint32_t)seq;

    if ((r = get_string(root, "time", &s, &len, why)) != KV_ENV_OK)
        return r;
    const char *tw = NULL;
    if (kv_time_parse(s, len, &env->time, &tw) != KV_OK) {
        kv_quote(q, sizeof q, s, len, 30);
        return reject(why, KV_ENV_MALFORMED, "/time", "\"%s\" is not an RFC 3339 time: %s", q,
                      tw ? tw : "malformed");
    }

    if (!json_object_object_get_ex(root, "body", &v))
        return reject(why, KV_ENV_MALFORMED, "/body", "the member \"body\" is missing");
    if (!json_object_is_type(v, json_type_object))
        return reject(why, KV_ENV_MALFORMED, "/body", "\"body\" must be an object, not %s",
                      kv_json_type_name_exact(v));

    /* A query for a movement met unannounced must say which office met it. */
    if (env->kind == KV_MSG_CD002C || env->kind == KV_MSG_CD114C) {
        json_object *o = NULL;
        if (!json_object_object_get_ex(v, "office", &o) ||
            !json_object_is_type(o, json_type_string))
            return reject(why, KV_ENV_REASON, "/body/office",
                          "a %s must give the reason: \"office\", the office of %s that met "
                          "the movement",
                          kinds[env->kind].name, env->sender);
        s = json_object_get_string(o);
        len = (size_t)json_object_get_string_len(o);
        if (!office_ok(s, len) || memcmp(s, env->sender, 2) != 0) {
            kv_quote(q, sizeof q, s, len, 20);
            return reject(why, KV_ENV_REASON, "/body/office",
                          "\"%s\" is not an office reference of the sender %s", q, env->sender);
        }
    }
    return KV_ENV_OK;
}

enum kv_env_reject kv_envelope_decode(const char *bytes, size_t len, struct kv_envelope *env,
                                      struct kv_env_verdict *why)
{
    struct json_tokener *tok = NULL;
    json_object *root = NULL;
    enum kv_env_reject r;

    accept_verdict(why);
    if (!env)
        return reject(why, KV_ENV_MALFORMED, "", "no envelope to fill");
    memset(env, 0, sizeof(*env));
    if (!bytes && len)
        return reject(why, KV_ENV_MALFORMED, "", "no bytes");
    if (len > KV_ENVELOPE_MAX)
        return reject(why, KV_ENV_OVERSIZED, "", "the envelope is %zu bytes; at most %u", len,
                      KV_ENVELOPE_MAX);
    if (len == 0)
        return reject(why, KV_ENV_MALFORMED, "", "empty: an envelope is a JSON object");
    const char *nul = memchr(bytes, '\0', len);
    if (nul)
        return reject(why, KV_ENV_MALFORMED, "", "NUL byte at offset %zu", (size_t)(nul - bytes));

    struct kv_json_limits lim = {ENV_MAX_DEPTH, ENV_MAX_CONTAINERS, ENV_MAX_VALUES};
    struct kv_json_error jerr;
    struct dup_ctx dups = {0};
    int rc = kv_json_check(bytes, len, &lim, on_dup, &dups, &jerr);
    if (rc == KV_ENOMEM)
        return reject(why, KV_ENV_NOMEM, "", "out of memory");
    if (rc == KV_ELIMIT)
        return reject(why, KV_ENV_OVERSIZED, "", "%s (line %zu, column %zu)", jerr.message,
                      jerr.line, jerr.column);
    if (rc != KV_OK)
        return reject(why, KV_ENV_MALFORMED, "", "not JSON: %s (line %zu, column %zu)",
                      jerr.message, jerr.line, jerr.column);
    if (dups.seen)
        return reject(why, KV_ENV_MALFORMED, dups.pointer, "a member appears twice");

    size_t i = 0;
    while (i < len && is_ws(bytes[i]))
        i++;
    if (i >= len || bytes[i] != '{')
        return reject(why, KV_ENV_MALFORMED, "", "an envelope is a JSON object");

    tok = json_tokener_new_ex(ENV_MAX_DEPTH + 1);
    if (!tok)
        return reject(why, KV_ENV_NOMEM, "", "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, bytes, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    if (je != json_tokener_success || !root || !json_object_is_type(root, json_type_object)) {
        /* The strict checker accepted it; json-c refusing means memory or a
         * json-c limit. */
        r = reject(why, KV_ENV_MALFORMED, "", "not JSON: %s", json_tokener_error_desc(je));
        goto out;
    }

    r = decode_members(root, env, why);
    if (r != KV_ENV_OK)
        goto out;

    size_t off = 0, blen = 0;
    if (!kv_json_member_span(bytes, len, "body", &off, &blen) || blen < 2 || bytes[off] != '{') {
        r = reject(why, KV_ENV_MALFORMED, "/body", "cannot locate the body's text");
        goto out;
    }
    env->body = bytes + off;
    env->body_len = blen;
    r = KV_ENV_OK;
out:
    if (root)
        json_object_put(root);
    json_tokener_free(tok);
    if (r != KV_ENV_OK) {
        memset(env, 0, sizeof(*env));
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* The header                                                               */
/* ------------------------------------------------------------------------ */

int kv_envelope_header_parse(const char *h, size_t len, char keyid[KV_FP_LEN + 1],
                             uint8_t sig[KV_SIG_LEN])
{
    if (!h || !keyid || !sig)
        return KV_EPARSE;
    while (len && (h[0] == ' ' || h[0] == '\t')) {
        h++;
        len--;
    }
    while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    static const char p1[] = "keyid=", p2[] = ", sig=";
    size_t n1 = sizeof p1 - 1, n2 = sizeof p2 - 1;
    if (len != n1 + KV_FP_LEN + n2 + KV_SIG_B64_LEN || memcmp(h, p1, n1) != 0 ||
        memcmp(h + n1 + KV_FP_LEN, p2, n2) != 0)
        return KV_EPARSE;
    if (!kv_crypto_fingerprint_ok(h + n1, KV_FP_LEN))
        return KV_EPARSE;
    if (kv_b64url_decode_exact(h + n1 + KV_FP_LEN + n2, KV_SIG_B64_LEN, sig, KV_SIG_LEN) != KV_OK)
        return KV_EPARSE;
    memcpy(keyid, h + n1, KV_FP_LEN);
    keyid[KV_FP_LEN] = '\0';
    return KV_OK;
}

int kv_envelope_sign(const struct kv_keypair *kp, const char *bytes, size_t len, char *header,
                     size_t header_size)
{
    uint8_t sig[KV_SIG_LEN];
    char b64[KV_SIG_B64_LEN + 1];
    if (!kp || (!bytes && len) || !header || header_size < 6 + KV_FP_LEN + 6 + KV_SIG_B64_LEN + 1)
        return KV_EINVAL;
    kv_crypto_sign(kp, bytes, len, sig);
    kv_b64url_encode(sig, sizeof sig, b64, sizeof b64);
    snprintf(header, header_size, "keyid=%s, sig=%s", kp->fingerprint, b64);
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Verification                                                             */
/* ------------------------------------------------------------------------ */

enum kv_env_reject kv_envelope_verify(const struct kv_trust *trust, const char *me,
                                      const char *bytes, size_t len, const char *header,
                                      size_t header_len, struct kv_envelope *env,
                                      struct kv_env_verdict *why)
{
    char keyid[KV_FP_LEN + 1];
    uint8_t sig[KV_SIG_LEN];
    enum kv_env_reject r;

    accept_verdict(why);
    if (!env)
        return reject(why, KV_ENV_MALFORMED, "", "no envelope to fill");
    memset(env, 0, sizeof(*env));
    if (!trust || !me)
        return reject(why, KV_ENV_MALFORMED, "", "no trust list or no own country");
    if (len > KV_ENVELOPE_MAX)
        return reject(why, KV_ENV_OVERSIZED, "", "the envelope is %zu bytes; at most %u", len,
                      KV_ENVELOPE_MAX);
    if (!header)
        return reject(why, KV_ENV_MALFORMED, "header", "no %s header", KV_SIG_HEADER);
    if (kv_envelope_header_parse(header, header_len, keyid, sig) != KV_OK)
        return reject(why, KV_ENV_MALFORMED, "header",
                      "the %s header is not \"keyid=<fingerprint>, sig=<base64url>\"",
                      KV_SIG_HEADER);

    r = kv_envelope_decode(bytes, len, env, why);
    if (r != KV_ENV_OK)
        return r;

    if (strcmp(env->receiver, me) != 0) {
        r = reject(why, KV_ENV_RECEIVER, "/receiver", "addressed to %s; this node is %s",
                   env->receiver, me);
        goto fail;
    }
    const struct kv_trust_node *node = kv_trust_node(trust, env->sender);
    if (!node) {
        r = reject(why, KV_ENV_SENDER, "/sender", "the sender %s is not in the trust list",
                   env->sender);
        goto fail;
    }
    const struct kv_trust_key *key = kv_trust_key(node, keyid);
    if (!key) {
        const struct kv_trust_node *other = kv_trust_key_owner(trust, keyid, NULL);
        if (other)
            r = reject(why, KV_ENV_KEY, "header",
                       "the key %s is a key of %s, not of the "
                       "sender %s",
                       keyid, other->country, env->sender);
        else
            r = reject(why, KV_ENV_KEY, "header", "the key %s is not a key of the sender %s", keyid,
                       env->sender);
        goto fail;
    }
    if (!kv_crypto_verify(key->pk, bytes, len, sig)) {
        r = reject(why, KV_ENV_SIGNATURE, "header",
                   "the signature does not verify under %s's key %s", env->sender, keyid);
        goto fail;
    }
    if (!kv_trust_key_valid_at(key, env->time.epoch)) {
        bool early = env->time.epoch < key->from.epoch;
        r = reject(why, KV_ENV_KEY_TIME, "/time",
                   "%s's key %s is valid %s %s; the envelope's "
                   "time is %s",
                   env->sender, keyid, early ? "from" : "until",
                   early ? key->from.text : key->until.text, env->time.text);
        goto fail;
    }
    enum kv_msg_direction dir = kv_msg_kind_direction(env->kind);
    const char *owner = env->mrn + 2; /* MRN: YY + country of departure + ... */
    bool from_owner = memcmp(env->sender, owner, 2) == 0;
    bool to_owner = memcmp(env->receiver, owner, 2) == 0;
    if ((dir == KV_MSG_FROM_OWNER && !from_owner) || (dir == KV_MSG_TO_OWNER && !to_owner) ||
        (dir == KV_MSG_EITHER && !from_owner && !to_owner)) {
        r = reject(why, KV_ENV_ENTITLED, "/kind",
                   "a %s goes %s the movement's owner %.2s; here %s writes to %s",
                   kinds[env->kind].name,
                   dir == KV_MSG_FROM_OWNER ? "from"
                   : dir == KV_MSG_TO_OWNER ? "to"
                                            : "from or to",
                   owner, env->sender, env->receiver);
        goto fail;
    }
    return KV_ENV_OK;
fail:
    memset(env, 0, sizeof(*env));
    return r;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

int kv_envelope_encode(const struct kv_envelope *env, char **out, size_t *len,
                       struct kv_env_verdict *why)
{
    accept_verdict(why);
    if (!env || !out || !len) {
        reject(why, KV_ENV_MALFORMED, "", "NULL argument");
        return KV_EINVAL;
    }
    *out = NULL;
    *len = 0;
    const char *kind = kv_msg_kind_name(env->kind);
    if (env->v != KV_ENVELOPE_VERSION ||
        !kv_trust_country_ok(env->sender, strnlen(env->sender, 3)) ||
        !kv_trust_country_ok(env->receiver, strnlen(env->receiver, 3)) ||
        strcmp(env->sender, env->receiver) == 0 || !msgid_ok(env->id, strnlen(env->id, 33)) ||
        !kind ||
        !kv_mrn_verify(env->mrn, strnlen(env->mrn, KV_MRN_LEN + 1), KV_MRN_P5_OR_LEGACY, NULL) ||
        env->seq == 0 || !env->body) {
        reject(why, KV_ENV_MALFORMED, "",
               "a field is missing or malformed (version, sender, "
               "receiver, id, kind, mrn, seq or body)");
        return KV_EINVAL;
    }
    struct kv_time t;
    size_t tl = strnlen(env->time.text, sizeof env->time.text);
    if (kv_time_parse(env->time.text, tl, &t, NULL) != KV_OK) {
        reject(why, KV_ENV_MALFORMED, "/time", "the time is not RFC 3339");
        return KV_EINVAL;
    }
    const char *b = env->body;
    size_t bl = env->body_len;
    while (bl && is_ws(*b)) {
        b++;
        bl--;
    }
    while (bl && is_ws(b[bl - 1]))
        bl--;
    if (bl > KV_ENVELOPE_MAX) {
        reject(why, KV_ENV_OVERSIZED, "/body", "the body is %zu bytes", bl);
        return KV_ELIMIT;
    }
    struct kv_json_limits lim = {ENV_MAX_DEPTH - 1, ENV_MAX_CONTAINERS, ENV_MAX_VALUES};
    struct kv_json_error jerr;
    struct dup_ctx dups = {0};
    int rc = bl && b[0] == '{' ? kv_json_check(b, bl, &lim, on_dup, &dups, &jerr) : KV_EPARSE;
    if (rc == KV_ENOMEM)
        return KV_ENOMEM;
    if (rc != KV_OK || dups.seen || memchr(b, '\0', bl)) {
        reject(why, KV_ENV_MALFORMED, "/body", "the body is not one strict JSON object");
        return rc == KV_ELIMIT ? KV_ELIMIT : KV_EINVAL;
    }
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "{\"v\":%d,\"sender\":\"%s\",\"receiver\":\"%s\",\"id\":\"%s\",\"kind\":"
                      "\"%s\",\"mrn\":\"%s\",\"seq\":%u,\"time\":\"%.*s\",\"body\":",
                      KV_ENVELOPE_VERSION, env->sender, env->receiver, env->id, kind, env->mrn,
                      (unsigned)env->seq, (int)tl, env->time.text);
    if (hn < 0 || (size_t)hn >= sizeof head)
        return KV_EINVAL;
    size_t total = (size_t)hn + bl + 1;
    if (total > KV_ENVELOPE_MAX) {
        reject(why, KV_ENV_OVERSIZED, "", "the envelope would be %zu bytes; at most %u", total,
               KV_ENVELOPE_MAX);
        return KV_ELIMIT;
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return KV_ENOMEM;
    memcpy(buf, head, (size_t)hn);
    memcpy(buf + hn, b, bl);
    buf[total - 1] = '}';
    buf[total] = '\0';
    *out = buf;
    *len = total;
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Callback forms                                                           */
/* ------------------------------------------------------------------------ */

int kv_envelope_sign_cb(void *ctx, const char *bytes, size_t len, char *header, size_t header_size)
{
    return kv_envelope_sign((const struct kv_keypair *)ctx, bytes, len, header, header_size);
}

enum kv_env_reject kv_envelope_verify_cb(void *ctx, const char *bytes, size_t len,
                                         const char *header, size_t header_len,
                                         struct kv_envelope *env, struct kv_env_verdict *why)
{
    const struct kv_envelope_verifier *v = ctx;
    if (!v)
        return reject(why, KV_ENV_MALFORMED, "", "no verifier");
    return kv_envelope_verify(v->trust, v->me, bytes, len, header, header_len, env, why);
}
