/*
 * auth.c — access tokens: making, hashing, checking bindings (see auth.h).
 */
#include "net/auth.h"

#include "core/err.h"
#include "core/ref.h"
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {
    [KV_TOKEN_TRADER] = "trader",       [KV_TOKEN_OFFICER] = "officer",
    [KV_TOKEN_GUARANTOR] = "guarantor", [KV_TOKEN_ANALYST] = "analyst",
    [KV_TOKEN_OPERATOR] = "operator",
};

const char *kv_token_role_name(enum kv_token_role r)
{
    if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
        return NULL;
    return role_names[r];
}

enum kv_token_role kv_token_role_from_name(const char *name)
{
    if (!name)
        return KV_TOKEN_NONE;
    for (size_t i = 1; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(name, role_names[i]) == 0)
            return (enum kv_token_role)i;
    return KV_TOKEN_NONE;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void sodium_start(void)
{
    sodium_rc = sodium_init();
}

int kv_auth_token_new(char token[KV_TOKEN_LEN + 1], uint8_t hash[KV_TOKEN_HASH_LEN])
{
    pthread_once(&sodium_once, sodium_start);
    if (sodium_rc < 0)
        return KV_EIO;
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    char b64[64];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    size_t n = strlen(b64); /* 43 */
    memcpy(token, KV_TOKEN_PREFIX, 3);
    memcpy(token + 3, b64, n + 1);
    sodium_memzero(b64, sizeof b64);
    kv_auth_token_hash(token, KV_TOKEN_LEN, hash);
    return KV_OK;
}

void kv_auth_token_hash(const char *token, size_t len, uint8_t hash[KV_TOKEN_HASH_LEN])
{
    kv_store_hash(token, len, hash);
}

bool kv_auth_token_shape_ok(const char *s, size_t len)
{
    if (!s || len != KV_TOKEN_LEN || memcmp(s, KV_TOKEN_PREFIX, 3) != 0)
        return false;
    for (size_t i = 3; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* 1..max printable ASCII characters; with `space`, spaces too (and 0 allowed). */
static bool ascii_text(const char *s, size_t max, bool space)
{
    size_t n = strlen(s);
    if ((!space && n == 0) || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x7e || c < 0x20 || (c == 0x20 && !space))
            return false;
    }
    return true;
}

static int refuse(char *err, size_t errsz, const char **field, const char *name, const char *fmt,
                  const char *arg)
{
    snprintf(err, errsz, fmt, arg ? arg : "");
    *field = name;
    return KV_EINVAL;
}

int kv_auth_binding_check(const struct kv_ref *ref, const char *country, const char *role,
                          const char *party, const char *office, const char *label, char *err,
                          size_t errsz, const char **field)
{
    enum kv_token_role r = kv_token_role_from_name(role);
    if (r == KV_TOKEN_NONE)
        return refuse(err, errsz, field, "role",
                      "role must be one of trader, officer, guarantor, analyst, operator%s", NULL);
    if (label && !ascii_text(label, KV_LABEL_MAX, true))
        return refuse(err, errsz, field, "label",
                      "label: at most 64 printable ASCII characters expected%s", NULL);
    switch (r) {
    case KV_TOKEN_TRADER:
    case KV_TOKEN_GUARANTOR:
        if (office)
            return refuse(err, errsz, field, "office", "a %s is bound to a party, not an office",
                          role);
        if (!party)
            return refuse(err, errsz, field, "party", "a %s needs a party id", role);
        if (!ascii_text(party, KV_PARTY_MAX, false))
            return refuse(err, errsz, field, "party",
                          "party id: 1 to 17 printable ASCII characters without spaces "
                          "expected%s",
                          NULL);
        return KV_OK;
    case KV_TOKEN_OFFICER: {
        if (party)
            return refuse(err, errsz, field, "party",
                          "an officer is bound to an office, not a "
                          "party%s",
                          NULL);
        if (!office)
            return refuse(err, errsz, field, "office", "an officer needs an office reference%s",
                          NULL);
        const struct kv_office *o = strlen(office) == 8 ? kv_ref_office(ref, office, 8) : NULL;
        if (!o)
            return refuse(err, errsz, field, "office", "office %s is not in the office registry",
                          office);
        if (strcmp(o->country, country) != 0) {
            snprintf(err, errsz, "office %s is in %s, not in this node's country %s", office,
                     o->country, country);
            *field = "office";
            return KV_EINVAL;
        }
        return KV_OK;
    }
    case KV_TOKEN_ANALYST:
    case KV_TOKEN_OPERATOR:
        if (party || office)
            return refuse(err, errsz, field, party ? "party" : "office",
                          "an %s is bound to neither a party nor an office", role);
        return KV_OK;
    case KV_TOKEN_NONE:
        break;
    }
    return KV_EINVAL;
}
