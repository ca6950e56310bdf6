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

#include "core/err.h"
#include "net/corridor.h"

#include <stdlib.h>

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
    rc = kv_corridor_export(api->country, api_now(api), m, NULL,
                            api->corridor ? kv_corridor_trust(api->corridor) : NULL, true, &text,
                            &len, &unsealed);
    if (rc == KV_ECONFLICT)
        rc = kv_http_resp_error(resp, 409, "unsealed",
                                "movement %s: event %u is not sealed (not signed where it "
                                "happened and ordered by the owner), so its chain cannot be "
                                "exported",
                                mrn, (unsigned)unsealed);
    else if (rc == KV_EINVAL)
        rc = api_store_failure(resp, "export", rc, "a stored seal, time or MRN is out of shape");
    else if (rc != KV_OK)
        rc = kv_http_resp_error(resp, 500, NULL, "cannot make the export: %s", kv_strerror(rc));
    else
        rc = kv_http_resp_body(resp, 200, "application/json", text, len);
out:
    free(text);
    kv_store_record_free(m);
    return rc;
}
