/*
 * api_guarantees.c — POST /v1/guarantees (a guarantor registers a GRN with
 * its reference amount and currency: 201 new, 200 the same again, 409 other
 * figures, 422 invalid) and GET /v1/guarantees/{grn} (the ledger: reference,
 * reserved, remaining, uses; for its guarantor, analysts and operators —
 * anyone else gets the 404 of a GRN that does not exist).
 */
#include "net/api_internal.h"

#include "core/decimal.h"
#include "core/err.h"
#include "core/ref.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static int guarantee_answer(struct kv_http_resp *resp, unsigned status,
                            const struct kv_guarantee_info *g)
{
    char ref[API_AMOUNT_MAX], res[API_AMOUNT_MAX], rem[API_AMOUNT_MAX], when[API_TIME_MAX];
    api_amount_text(g->reference, ref);
    api_amount_text(g->reserved, res);
    api_amount_text(g->remaining, rem);
    api_time_text(g->created, when);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "grn", json_object_new_string(g->grn));
    json_object_object_add(o, "guarantor", json_object_new_string(g->guarantor));
    json_object_object_add(o, "referenceAmount", json_object_new_string(ref));
    json_object_object_add(o, "reserved", json_object_new_string(res));
    json_object_object_add(o, "remaining", json_object_new_string(rem));
    json_object_object_add(o, "currency", json_object_new_string(g->currency));
    json_object_object_add(o, "activeUses", json_object_new_int64((int64_t)g->active_uses));
    json_object_object_add(o, "totalUses", json_object_new_int64((int64_t)g->total_uses));
    json_object_object_add(o, "createdAt", json_object_new_string(when));
    char self[64];
    snprintf(self, sizeof self, "/v1/guarantees/%s", g->grn);
    int rc = kv_http_resp_json_obj(resp, status, o);
    if (rc == KV_OK && status == 201)
        rc = kv_http_resp_header(resp, "Location", self);
    return rc;
}

static bool grn_ok(const char *s, struct kv_id_result *res)
{
    return kv_grn_verify(s, strlen(s), res) && strlen(s) < KV_STORE_GRN_MAX;
}

int api_post_guarantee(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    if (!api_authenticate(api, req, resp, &who))
        return 0;
    if (who.role != KV_TOKEN_GUARANTOR)
        return api_forbidden(resp, "R-ROLE-005", "only a guarantor may register a guarantee");
    if (!api_require_json(req, resp))
        return 0;
    size_t len;
    const char *body = kv_http_req_body(req, &len);
    struct api_member m[] = {{"grn", json_type_string, true, NULL},
                             {"referenceAmount", json_type_string, true, NULL},
                             {"currency", json_type_string, true, NULL}};
    struct kv_report rep;
    kv_report_init(&rep);
    json_object *root = api_parse_object(body, len, m, 3, &rep);
    const char *grn = m[0].value ? json_object_get_string(m[0].value) : NULL;
    const char *amount = m[1].value ? json_object_get_string(m[1].value) : NULL;
    const char *cur = m[2].value ? json_object_get_string(m[2].value) : NULL;
    struct kv_id_result idr;
    if (grn && !grn_ok(grn, &idr))
        kv_report_add(&rep, "R-GUA-003", "/grn", "\"%.40s\" is not a GRN: %s", grn,
                      kv_id_verdict_text(idr.verdict));
    int64_t minor = 0;
    if (amount) {
        struct kv_decimal d;
        enum kv_dec_verdict v = kv_dec_parse(amount, strlen(amount), 16, 2, &d);
        if (v != KV_DEC_OK) {
            char why[96];
            kv_dec_describe(v, 16, 2, why, sizeof why);
            kv_report_add(&rep, "R-DEC-001", "/referenceAmount",
                          "\"%.40s\" is not an amount of format n..16,2: %s", amount, why);
        } else if (kv_dec_is_zero(&d)) {
            kv_report_add(&rep, "R-GUA-005", "/referenceAmount",
                          "the reference amount must be more than zero");
        } else if (d.ip > KV_STORE_AMOUNT_MAX / 100 - 1) {
            kv_report_add(&rep, "R-NODE-003", "/referenceAmount",
                          "the reference amount is beyond this node's limit");
        } else {
            minor = d.ip * 100 + d.micro / 10000;
        }
    }
    if (cur && !(strlen(cur) == 3 && kv_ref_has(api->ref, KV_LIST_CURRENCY, cur, 3)))
        kv_report_add(&rep, "R-CUR-001", "/currency", "\"%.40s\" is not an ISO 4217 currency code",
                      cur);
    int rc;
    if (!root || !kv_report_ok(&rep)) {
        rc =
            kv_http_resp_problems(resp, 422, "invalid_request", "the guarantee is not valid", &rep);
        goto out;
    }
    struct kv_guarantee_reg g = {grn, who.subject, minor, cur};
    bool created = false;
    char detail[KV_STORE_DETAIL_MAX] = "";
    rc = kv_store_guarantee_register(api->store, &g, &created, detail);
    if (rc == KV_ECONFLICT) {
        rc = kv_http_resp_error(resp, 409, "guarantee_conflict",
                                "GRN %s is already registered with other figures", grn);
        goto out;
    }
    if (rc != KV_OK) {
        rc = api_store_failure(resp, "guarantee register", rc, detail);
        goto out;
    }
    struct kv_guarantee_info info;
    rc = kv_store_guarantee_get(api->store, grn, &info, detail);
    rc = rc == KV_OK ? guarantee_answer(resp, created ? 201 : 200, &info)
                     : api_store_failure(resp, "guarantee get", rc, detail);
out:
    json_object_put(root);
    kv_report_release(&rep);
    return rc;
}

int api_get_guarantee(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    if (!api_authenticate(api, req, resp, &who))
        return 0;
    const char *grn = kv_http_req_param(req, "grn");
    struct kv_id_result idr;
    if (!grn || !grn_ok(grn, &idr)) {
        char q[64];
        kv_quote(q, sizeof q, grn ? grn : "", grn ? strlen(grn) : 0, 30);
        return kv_http_resp_error(resp, 400, "bad_grn", "\"%s\" is not a GRN: %s", q,
                                  grn ? kv_id_verdict_text(idr.verdict) : "missing");
    }
    struct kv_guarantee_info info;
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_guarantee_get(api->store, grn, &info, detail);
    bool may =
        who.role == KV_TOKEN_ANALYST || who.role == KV_TOKEN_OPERATOR ||
        (who.role == KV_TOKEN_GUARANTOR && rc == KV_OK && strcmp(info.guarantor, who.subject) == 0);
    if (rc == KV_ENOTFOUND || (rc == KV_OK && !may))
        return kv_http_resp_error(resp, 404, "not_found", "no guarantee %s", grn);
    if (rc != KV_OK)
        return api_store_failure(resp, "guarantee get", rc, detail);
    return guarantee_answer(resp, 200, &info);
}
