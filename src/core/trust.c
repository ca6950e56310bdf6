/*
 * trust.c — the trust list model and its questions (see trust.h).
 */
#include "core/trust.h"

#include <string.h>

#include "core/err.h"

void kv_trust_init(struct kv_trust *t)
{
    memset(t, 0, sizeof(*t));
}

bool kv_trust_country_ok(const char *s, size_t len)
{
    return s && len == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

bool kv_trust_url_ok(const char *s, size_t len)
{
    size_t p;
    if (!s || len > KV_TRUST_URL_MAX)
        return false;
    if (len > 7 && memcmp(s, "http://", 7) == 0)
        p = 7;
    else if (len > 8 && memcmp(s, "https://", 8) == 0)
        p = 8;
    else
        return false;
    if (s[p] == '/' || s[p] == ':' || s[p] == '?' || s[p] == '#')
        return false; /* no host */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return true;
}

const struct kv_trust_node *kv_trust_node(const struct kv_trust *t, const char *country)
{
    if (!t || !country)
        return NULL;
    for (size_t i = 0; i < t->n && i < KV_TRUST_NODES_MAX; i++)
        if (t->nodes[i].country[0] == country[0] && t->nodes[i].country[1] == country[1] &&
            country[0] != '\0')
            return &t->nodes[i];
    return NULL;
}

const struct kv_trust_key *kv_trust_key(const struct kv_trust_node *n, const char *fingerprint)
{
    if (!n || !fingerprint)
        return NULL;
    for (size_t i = 0; i < n->n_keys && i < KV_TRUST_KEYS_MAX; i++)
        if (strcmp(n->keys[i].fingerprint, fingerprint) == 0)
            return &n->keys[i];
    return NULL;
}

bool kv_trust_key_valid_at(const struct kv_trust_key *k, int64_t at)
{
    return k && at >= k->from.epoch && (!k->has_until || at < k->until.epoch);
}

enum kv_trust_verdict kv_trust_check(const struct kv_trust *t, const char *country,
                                     const char *fingerprint, int64_t at,
                                     const struct kv_trust_key **key)
{
    if (key)
        *key = NULL;
    const struct kv_trust_node *n = kv_trust_node(t, country);
    if (!n)
        return KV_TRUST_UNKNOWN_NODE;
    const struct kv_trust_key *k = kv_trust_key(n, fingerprint);
    if (!k)
        return KV_TRUST_UNKNOWN_KEY;
    if (key)
        *key = k;
    if (at < k->from.epoch)
        return KV_TRUST_NOT_YET;
    if (k->has_until && at >= k->until.epoch)
        return KV_TRUST_EXPIRED;
    return KV_TRUST_OK;
}

const struct kv_trust_node *kv_trust_key_owner(const struct kv_trust *t, const char *fingerprint,
                                               const struct kv_trust_key **key)
{
    if (key)
        *key = NULL;
    if (!t)
        return NULL;
    for (size_t i = 0; i < t->n && i < KV_TRUST_NODES_MAX; i++) {
        const struct kv_trust_key *k = kv_trust_key(&t->nodes[i], fingerprint);
        if (k) {
            if (key)
                *key = k;
            return &t->nodes[i];
        }
    }
    return NULL;
}

const char *kv_trust_verdict_text(enum kv_trust_verdict v)
{
    switch (v) {
    case KV_TRUST_OK:
        return "valid";
    case KV_TRUST_UNKNOWN_NODE:
        return "unknown node";
    case KV_TRUST_UNKNOWN_KEY:
        return "not a key of that node";
    case KV_TRUST_NOT_YET:
        return "key not yet valid";
    case KV_TRUST_EXPIRED:
        return "key no longer valid";
    }
    return "unknown verdict";
}

int kv_trust_add_node(struct kv_trust *t, const char *country, const char *url)
{
    if (!t || !country || !url || !kv_trust_country_ok(country, strlen(country)) ||
        !kv_trust_url_ok(url, strlen(url)) || kv_trust_node(t, country))
        return KV_EINVAL;
    if (t->n >= KV_TRUST_NODES_MAX)
        return KV_ELIMIT;
    struct kv_trust_node *n = &t->nodes[t->n];
    memset(n, 0, sizeof(*n));
    memcpy(n->country, country, 2);
    memcpy(n->url, url, strlen(url) + 1);
    t->n++;
    return KV_OK;
}

int kv_trust_add_key(struct kv_trust *t, const char *country, const struct kv_trust_key *key)
{
    if (!t || !country || !key)
        return KV_EINVAL;
    struct kv_trust_node *n = (struct kv_trust_node *)kv_trust_node(t, country);
    if (!n)
        return KV_ENOTFOUND;
    if (key->has_until && key->until.epoch <= key->from.epoch)
        return KV_EINVAL;
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->nodes[i].n_keys; j++)
            if (memcmp(t->nodes[i].keys[j].pk, key->pk, sizeof key->pk) == 0)
                return KV_EINVAL;
    if (n->n_keys >= KV_TRUST_KEYS_MAX)
        return KV_ELIMIT;
    n->keys[n->n_keys++] = *key;
    return KV_OK;
}
