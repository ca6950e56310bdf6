/*
 * chain.c — the event chain's layout and its walk (see chain.h).
 */
#include "core/chain.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* The shapes a record header needs: mrn 1..18 characters, node a country,
 * time a non-empty text. 0 when one does not fit, else the time's length. */
static size_t header_shapes(const char *mrn, const struct kv_chain_event *e, size_t *ml)
{
    *ml = strnlen(mrn, KV_MRN_LEN + 1);
    size_t tl = strnlen(e->time.text, sizeof e->time.text);
    if (*ml == 0 || *ml > KV_MRN_LEN || !kv_trust_country_ok(e->node, strnlen(e->node, 3)) ||
        tl == 0 || tl >= sizeof e->time.text)
        return 0;
    return tl;
}

size_t kv_chain_header(const char *mrn, const struct kv_chain_event *e,
                       char out[KV_CHAIN_HEADER_MAX])
{
    size_t ml = 0, tl;
    if (!mrn || !e || !out)
        return 0;
    if ((tl = header_shapes(mrn, e, &ml)) == 0) {
        out[0] = '\0';
        return 0;
    }
    int n = snprintf(out, KV_CHAIN_HEADER_MAX, "%s\n%.*s\n%u\n%.2s\n%.*s\n", KV_CHAIN_MAGIC,
                     (int)ml, mrn, (unsigned)e->seq, e->node, (int)tl, e->time.text);
    if (n < 0 || n >= KV_CHAIN_HEADER_MAX) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t kv_chain_origin_header(const char *mrn, const struct kv_chain_event *e,
                              char out[KV_CHAIN_HEADER_MAX])
{
    size_t ml = 0, tl;
    if (!mrn || !e || !out)
        return 0;
    if ((tl = header_shapes(mrn, e, &ml)) == 0) {
        out[0] = '\0';
        return 0;
    }
    int n = snprintf(out, KV_CHAIN_HEADER_MAX, "%s\n%.*s\n%.2s\n%.*s\n", KV_CHAIN_ORIGIN_MAGIC,
                     (int)ml, mrn, e->node, (int)tl, e->time.text);
    if (n < 0 || n >= KV_CHAIN_HEADER_MAX) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

int kv_chain_origin(const struct kv_chain_ops *ops, const char *mrn, const struct kv_chain_event *e,
                    uint8_t out[KV_CHAIN_LINK_LEN])
{
    char head[KV_CHAIN_HEADER_MAX];
    if (!ops || !ops->hash || !out || !e || (!e->event && e->event_len))
        return KV_EINVAL;
    size_t hl = kv_chain_origin_header(mrn, e, head);
    if (hl == 0)
        return KV_EINVAL;
    struct kv_chain_part parts[2] = {{head, hl}, {e->event, e->event_len}};
    ops->hash(ops->ctx, parts, 2, out);
    return KV_OK;
}

bool kv_chain_owner(const char *mrn, char out[3])
{
    out[0] = '\0';
    if (!mrn || strnlen(mrn, 4) < 4 || !kv_trust_country_ok(mrn + 2, 2))
        return false;
    out[0] = mrn[2];
    out[1] = mrn[3];
    out[2] = '\0';
    return true;
}

int kv_chain_link0(const struct kv_chain_ops *ops, const char *declaration, size_t len,
                   uint8_t out[KV_CHAIN_LINK_LEN])
{
    if (!ops || !ops->hash || !out || (!declaration && len))
        return KV_EINVAL;
    struct kv_chain_part p = {declaration, len};
    ops->hash(ops->ctx, &p, 1, out);
    return KV_OK;
}

int kv_chain_link(const struct kv_chain_ops *ops, const char *mrn,
                  const uint8_t prev[KV_CHAIN_LINK_LEN], const struct kv_chain_event *e,
                  uint8_t out[KV_CHAIN_LINK_LEN])
{
    char head[KV_CHAIN_HEADER_MAX];
    if (!ops || !ops->hash || !prev || !out || !e || (!e->event && e->event_len))
        return KV_EINVAL;
    size_t hl = kv_chain_header(mrn, e, head);
    if (hl == 0)
        return KV_EINVAL;
    struct kv_chain_part parts[3] = {
        {prev, KV_CHAIN_LINK_LEN}, {head, hl}, {e->event, e->event_len}};
    ops->hash(ops->ctx, parts, 3, out);
    return KV_OK;
}

/* "event 4 (seq 4, AZ, 2025-03-02T10:00:00+04:00)" */
static void where(char *dst, size_t size, size_t i, const struct kv_chain_event *e)
{
    snprintf(dst, size, "event %zu (seq %u, %.2s, %.25s)", i + 1, (unsigned)e->seq,
             e->node[0] ? e->node : "??", e->time.text[0] ? e->time.text : "no time");
}

static void ptr(char *dst, size_t size, size_t i, const char *member)
{
    snprintf(dst, size, "/events/%zu/%s", i, member);
}

/* Looks up `country`'s key `keyid` valid at `at` (with `later_ok`, also a
 * key that came into force after `at`); on failure adds a problem under
 * rule at /events/i/member. Returns the key to check the signature with
 * (also when it was not valid then), or NULL. */
static const struct kv_trust_key *key_for(const struct kv_trust *trust, const char *country,
                                          const char *keyid, int64_t at, bool later_ok,
                                          const char *who, const char *rule, const char *member,
                                          size_t i, const char *where_, struct kv_report *rep)
{
    const struct kv_trust_key *key = NULL;
    char p[48];
    enum kv_trust_verdict tv = kv_trust_check(trust, country, keyid, at, &key);
    if (tv == KV_TRUST_OK || (later_ok && tv == KV_TRUST_NOT_YET))
        return key;
    ptr(p, sizeof p, i, member);
    if (tv == KV_TRUST_UNKNOWN_NODE)
        kv_report_add(rep, rule, p, "%s: unknown %s %.2s (not in the trust list)", where_, who,
                      country);
    else if (tv == KV_TRUST_UNKNOWN_KEY)
        kv_report_add(rep, rule, p, "%s: unknown key %.39s: not a key of %.2s", where_, keyid,
                      country);
    else
        kv_report_add(rep, rule, p, "%s: %.2s's key %.39s is valid %s %s, not at the event's time",
                      where_, country, keyid, tv == KV_TRUST_NOT_YET ? "from" : "until",
                      tv == KV_TRUST_NOT_YET ? key->from.text : key->until.text);
    return key;
}

int kv_chain_verify(const struct kv_chain *c, const struct kv_trust *trust,
                    const struct kv_chain_ops *ops, struct kv_chain_result *res,
                    struct kv_report *rep)
{
    struct kv_chain_result r = {0};
    char at[80], p[48], owner[3];

    if (!c || !trust || !ops || !ops->hash || !ops->verify || !rep || (!c->events && c->n))
        return KV_EINVAL;
    if (c->n > KV_CHAIN_EVENTS_MAX)
        return KV_ELIMIT;
    r.n_events = c->n;
    if (!kv_chain_owner(c->mrn, owner))
        memcpy(owner, "??", 3);

    if (c->declaration) {
        uint8_t h[KV_CHAIN_LINK_LEN];
        kv_chain_link0(ops, c->declaration, c->declaration_len, h);
        if (memcmp(h, c->link0, sizeof h) != 0) {
            r.declaration_bad = true;
            kv_report_add(rep, "R-CHAIN-DECL", "/declaration",
                          "the declaration's hash is not link0: the declaration or link0 was "
                          "changed");
        } else {
            r.declaration = true;
        }
    }
    if (c->n == 0)
        kv_report_add(rep, "R-CHAIN-ORDER", "/events",
                      "no events: a movement's chain starts with its lodging (seq 1)");

    for (size_t i = 0; i < c->n; i++) {
        const struct kv_chain_event *e = &c->events[i];
        const uint8_t *prev = i == 0 ? c->link0 : c->events[i - 1].link;
        size_t before = rep->total;
        where(at, sizeof at, i, e);

        if (e->seq != i + 1) {
            ptr(p, sizeof p, i, "seq");
            kv_report_add(rep, "R-CHAIN-ORDER", p,
                          "%s: out of order: position %zu holds seq %u (an event is missing, "
                          "repeated or moved)",
                          at, i + 1, (unsigned)e->seq);
        }
        if (ops->event_ok) {
            char why[160] = "";
            if (!ops->event_ok(ops->ctx, e, why, sizeof why)) {
                ptr(p, sizeof p, i, "event");
                kv_report_add(rep, "R-CHAIN-EVENT", p, "%s: %s", at, why[0] ? why : "bad event");
            }
        }
        uint8_t link[KV_CHAIN_LINK_LEN];
        if (kv_chain_link(ops, c->mrn, prev, e, link) != KV_OK ||
            memcmp(link, e->link, sizeof link) != 0) {
            ptr(p, sizeof p, i, "link");
            kv_report_add(rep, "R-CHAIN-LINK", p,
                          "%s: the link is not the hash of the previous link and this event: "
                          "the event, its record or one of the two links was changed",
                          at);
        }
        /* signed where it happened: NODE's key over the origin digest */
        const struct kv_trust_key *key = key_for(trust, e->node, e->keyid, e->time.epoch, false,
                                                 "node", "R-CHAIN-KEY", "keyid", i, at, rep);
        uint8_t o[KV_CHAIN_LINK_LEN];
        if (key && (kv_chain_origin(ops, c->mrn, e, o) != KV_OK ||
                    !ops->verify(ops->ctx, key->pk, o, sizeof o, e->sig))) {
            ptr(p, sizeof p, i, "sig");
            kv_report_add(rep, "R-CHAIN-SIG", p,
                          "%s: the signature over the event's origin record does not verify "
                          "under %.2s's key %.39s: the event, its node or time, or the "
                          "signature was changed",
                          at, e->node, e->keyid);
        }
        /* ordered by the owner: the owner's key over the stated link */
        /* The owner orders an event after it happened, perhaps with a key
         * that came into force since (a rotation while a border's event
         * waited for the owner): a key not yet valid at the event's time is
         * accepted; one that had expired by then is not. */
        key = key_for(trust, owner, e->order_keyid, e->time.epoch, true, "owner", "R-CHAIN-ORDKEY",
                      "order_keyid", i, at, rep);
        if (key && !ops->verify(ops->ctx, key->pk, e->link, sizeof e->link, e->order_sig)) {
            ptr(p, sizeof p, i, "order_sig");
            kv_report_add(rep, "R-CHAIN-ORDSIG", p,
                          "%s: the owner's signature over the link does not verify under "
                          "%.2s's key %.39s: the link or the signature was changed",
                          at, owner, e->order_keyid);
        }
        if (rep->total == before)
            r.n_intact++;
        else if (r.first_break == 0)
            r.first_break = i + 1;
    }
    if (res)
        *res = r;
    if (rep->oom)
        return KV_ENOMEM;
    return r.n_intact == c->n && c->n > 0 && !r.declaration_bad ? KV_CHAIN_INTACT : KV_CHAIN_BROKEN;
}
