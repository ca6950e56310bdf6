/*
 * api_tokens.c — POST /v1/tokens: the node operator makes an access token
 * for a trader (party), an officer (office of this country), a guarantor
 * (party), an analyst or another operator. The token is in the answer once;
 * the node keeps only its hash.
 */
#include "net/api_internal.h"

#include "core/err.h"

#include <json-c/json.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

int api_post_token(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    if (!api_authenticate(api, req, resp, &who))
        return 0;
    if (who.role != KV_TOKEN_OPERATOR)
        return api_forbidden(resp, "R-ROLE-006", "only the node operator may make tokens");
    if (!api_require_json(req, resp))
        return 0;
    size_t len;
    const char *body = kv_http_req_body(req, &len);
    struct api_member m[] = {{"role", json_type_string, true, NULL},
                             {"party", json_type_string, false, NULL},
                             {"office", json_type_string, false, NULL},
                             {"label", json_type_string, false, NULL}};
    struct kv_report rep;
    kv_report_init(&rep);
    json_object *root = api_parse_object(body, len, m, 4, &rep);
    const char *role = m[0].value ? json_object_get_string(m[0].value) : NULL;
    const char *party = m[1].value ? json_object_get_string(m[1].value) : NULL;
    const char *office = m[2].value ? json_object_get_string(m[2].value) : NULL;
    const char *label = m[3].value ? json_object_get_string(m[3].value) : NULL;
    if (root && kv_report_ok(&rep)) {
        char err[256], ptr[32];
        const char *field = "";
        if (kv_auth_binding_check(api->ref, api->country, role, party, office, label, err,
                                  sizeof err, &field) != KV_OK) {
            snprintf(ptr, sizeof ptr, "/%s", field);
            kv_report_add(&rep, "R-TOKEN-001", ptr, "%s", err);
        }
    }
    int rc;
    if (!root || !kv_report_ok(&rep)) {
        rc = kv_http_resp_problems(resp, 422, "invalid_request", "the token request is not valid",
                                   &rep);
        goto out;
    }
    char token[KV_TOKEN_LEN + 1];
    uint8_t hash[KV_TOKEN_HASH_LEN];
    char detail[KV_STORE_DETAIL_MAX] = "";
    rc = kv_auth_token_new(token, hash);
    if (rc == KV_OK)
        rc = kv_store_token_add(api->store, hash, role, party ? party : office, label, detail);
    if (rc != KV_OK) {
        sodium_memzero(token, sizeof token);
        rc = api_store_failure(resp, "token add", rc, detail);
        goto out;
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "token", json_object_new_string(token));
    json_object_object_add(o, "role", json_object_new_string(role));
    if (party)
        json_object_object_add(o, "party", json_object_new_string(party));
    if (office)
        json_object_object_add(o, "office", json_object_new_string(office));
    json_object_object_add(o, "label", json_object_new_string(label ? label : ""));
    sodium_memzero(token, sizeof token);
    rc = kv_http_resp_json_obj(resp, 201, o);
out:
    json_object_put(root);
    kv_report_release(&rep);
    return rc;
}
