/*
 * api_export.c — GET /v1/movements/{mrn}/export: a movement's signed,
 * hash-linked history as one EXPORT.json (codec/export_json.h; the format
 * is docs/exchange.md, "The export"), for `kervan audit verify MRN --node`
 * and `kervan audit export`.
 *
 * The export is made from the stored record: link0, and each event of the
 * log with its seal (where it happened and the owner's order). The
 * declaration is included while the stored one is still the lodged one
 * (its hash is link0); after an amendment it is left out and the chain
 * still verifies from link0. The trust list the node works with is
 * embedded when the node runs in a corridor. Pending events (recorded at a
 * replica, not yet ordered by the owner) have no place in the chain and are
 * not exported. An unsealed event (a store written before schema 3, or a
 * node without a corridor) cannot be exported: 409 "unsealed", naming it.
 * Who may export: whoever may see the movement (GET /v1/movements/{mrn}).
 */
#include "net/api_internal.h"

#include "codec/export_json.h"
#include "core/chain.h"
#include "core/err.h"
#include "net/corridor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chain's view of a stored event (borrows the event's bytes). */
static bool chain_event(const struct kv_event_record *r, struct kv_chain_event *e)
{
    memset(e, 0, sizeof *e);
    e->seq = r->seq;
    if (kv_time_parse(r->time, strnlen(r->time, sizeof r->time), &e->time, NULL) != KV_OK)
        return false;
    memcpy(e->node, r->seal.node, sizeof e->node);
    memcpy(e->keyid, r->seal.keyid, sizeof e->keyid);
    e->keyid[sizeof e->keyid - 1] = '\0';
    memcpy(e->sig, r->seal.sig, sizeof e->sig);
    memcpy(e->link, r->seal.link, sizeof e->link);
    memcpy(e->order_keyid, r->seal.order_keyid, sizeof e->order_keyid);
    e->order_keyid[sizeof e->order_keyid - 1] = '\0';
    memcpy(e->order_sig, r->seal.order_sig, sizeof e->order_sig);
    e->event = r->json;
    e->event_len = r->json_len;
    return true;
}

/*
 * Writes the export of m into *out / *len (caller frees). Returns KV_OK;
 * KV_ECONFLICT with *unsealed = the first event without a seal or link;
 * KV_EINVAL (a stored field out of shape: why says which); KV_ENOMEM.
 */
static int make_export(const struct kv_api *api, const struct kv_movement_record *m,
                       uint32_t *unsealed, char **out, size_t *len, char *why, size_t why_size)
{
    for (size_t i = 0; i < m->n_events; i++) {
        if (!m->events[i].sealed || !m->events[i].seal.has_link) {
            *unsealed = m->events[i].seq;
            return KV_ECONFLICT;
        }
    }
    struct kv_chain_event *ev = calloc(m->n_events ? m->n_events : 1, sizeof *ev);
    if (!ev)
        return KV_ENOMEM;
    int rc = KV_OK;
    for (size_t i = 0; i < m->n_events; i++) {
        if (!chain_event(&m->events[i], &ev[i])) {
            snprintf(why, why_size, "event %u: stored time \"%.40s\" is not RFC 3339",
                     (unsigned)m->events[i].seq, m->events[i].time);
            rc = KV_EINVAL;
            goto out;
        }
    }
    /* Everything is borrowed from m and the corridor: ex is not cleared. */
    struct kv_export ex;
    kv_export_init(&ex);
    memcpy(ex.mrn, m->summary.mrn, sizeof ex.mrn);
    memcpy(ex.exported_by, api->country, 2);
    kv_time_set(&ex.exported_at, api_now(api), 0);
    if (memcmp(m->hash, m->link0, KV_STORE_HASH_LEN) == 0) {
        ex.declaration = m->declaration; /* still the lodged one */
        ex.declaration_len = m->declaration_len;
    }
    memcpy(ex.link0, m->link0, sizeof ex.link0);
    ex.events = ev;
    ex.n = m->n_events;
    /* The encoder only reads the trust list; the member is not const
     * because a decoded export owns its own. */
    ex.trust = api->corridor
                   ? (struct kv_trust *)kv_corridor_trust(api->corridor)
                   : NULL;
    rc = kv_export_to_json(&ex, out, len);
    if (rc == KV_EINVAL)
        snprintf(why, why_size, "a stored seal or MRN is out of shape");
out:
    free(ev);
    return rc;
}

int api_get_export(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    char mrn[KV_MRN_LEN + 1];
    if (!api_authenticate(api, req, resp, &who) || !api_mrn_param(req, resp, mrn))
        return 0;
    struct kv_movement_record *m = NULL;
    char detail[KV_STORE_DETAIL_MAX] = "";
    char *text = NULL;
    size_t len = 0;
    int rc = kv_store_get(api->store, mrn, &m, detail);
    if (rc == KV_ENOTFOUND || (rc == KV_OK && !api_may_see_record(&who, m))) {
        rc = api_movement_not_found(resp, mrn);
        goto out;
    }
    if (rc != KV_OK) {
        rc = api_store_failure(resp, "get", rc, detail);
        goto out;
    }
    uint32_t unsealed = 0;
    char why[160] = "";
    rc = make_export(api, m, &unsealed, &text, &len, why, sizeof why);
    if (rc == KV_ECONFLICT)
        rc = kv_http_resp_error(resp, 409, "unsealed",
                                "movement %s: event %u is not sealed (not signed where it "
                                "happened and ordered by the owner), so its chain cannot be "
                                "exported",
                                mrn, (unsigned)unsealed);
    else if (rc == KV_EINVAL)
        rc = api_store_failure(resp, "export", rc, why);
    else if (rc != KV_OK)
        rc = kv_http_resp_error(resp, 500, NULL, "cannot make the export: %s", kv_strerror(rc));
    else
        rc = kv_http_resp_body(resp, 200, "application/json", text, len);
out:
    free(text);
    kv_store_record_free(m);
    return rc;
}
