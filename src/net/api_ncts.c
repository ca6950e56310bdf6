/*
 * api_ncts.c — NCTS messages over the /v1 API (docs/api.md "NCTS"):
 *
 *   GET /v1/movements/{mrn}/ncts/{message}   the office message of a movement
 *                                            (CC028C, CC029C, CC060C, CC182C,
 *                                            CC045C, CC009C), application/xml
 *
 * The movement is read from the store, its declaration and event log
 * decoded, and the message built by codec/ncts_out.c with this node as the
 * sender (NTA.<country>), the holder as the recipient, the node's clock as
 * the preparation time and a message id that names the movement, the
 * message and the event it is built from ("25KZ…A7-029-3"), so that the
 * same message asked twice carries the same id. Need-to-know is that of
 * GET /v1/movements/{mrn}: a movement the caller may not see is 404.
 */
#include "net/api_internal.h"

#include "codec/declaration_json.h"
#include "codec/event_json.h"
#include "codec/ncts_out.h"
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stored movement decoded for ncts_out. */
struct decoded {
    struct kv_declaration *d;
    struct kv_event *log;
    size_t n;
};

static void decoded_release(struct decoded *x)
{
    kv_decl_free(x->d);
    for (size_t i = 0; x->log && i < x->n; i++)
        kv_event_clear(&x->log[i]);
    free(x->log);
    memset(x, 0, sizeof *x);
}

/* Decodes the record's declaration and log. KV_EIO when the stored JSON does
 * not decode (the node wrote it: a damaged store), KV_ENOMEM. */
static int decode_record(const struct kv_movement_record *m, struct decoded *x, char *why,
                         size_t whysz)
{
    memset(x, 0, sizeof *x);
    struct kv_report rep;
    kv_report_init(&rep);
    int rc = kv_decl_from_json(m->declaration, m->declaration_len, &x->d, &rep);
    if (rc != KV_OK) {
        snprintf(why, whysz, "the stored declaration does not decode: %s",
                 api_first_message(&rep, kv_strerror(rc)));
        kv_report_release(&rep);
        return rc == KV_ENOMEM ? rc : KV_EIO;
    }
    if (m->n_events) {
        x->log = calloc(m->n_events, sizeof *x->log);
        if (!x->log) {
            kv_report_release(&rep);
            return KV_ENOMEM;
        }
    }
    for (size_t i = 0; i < m->n_events; i++) {
        rc = kv_event_from_json(m->events[i].json, m->events[i].json_len, &x->log[i], &rep);
        x->n = i + 1;
        if (rc != KV_OK) {
            snprintf(why, whysz, "stored event %u does not decode: %s", m->events[i].seq,
                     api_first_message(&rep, kv_strerror(rc)));
            kv_report_release(&rep);
            return rc == KV_ENOMEM ? rc : KV_EIO;
        }
    }
    kv_report_release(&rep);
    return KV_OK;
}

/* "YYYY-MM-DDThh:mm:ss" of the node's clock (UTC). */
static void prepared_now(const struct kv_api *api, char out[20])
{
    struct kv_time t;
    if (kv_time_set(&t, api_now(api), 0) != KV_OK)
        snprintf(t.text, sizeof t.text, "1970-01-01T00:00:00Z");
    snprintf(out, 20, "%.19s", t.text);
}

static int bad_message(struct kv_http_resp *resp, const char *name)
{
    char q[64];
    kv_quote(q, sizeof q, name ? name : "", name ? strlen(name) : 0, 24);
    return kv_http_resp_error(resp, 400, "bad_message",
                              "\"%s\" is not an NCTS message kervan writes (CC028C, CC029C, "
                              "CC056C, CC060C, CC182C, CC045C, CC009C)",
                              q);
}

int api_get_ncts(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    char mrn[KV_MRN_LEN + 1];
    if (!api_authenticate(api, req, resp, &who) || !api_mrn_param(req, resp, mrn))
        return 0;
    enum kv_ncts_out type;
    const char *name = kv_http_req_param(req, "message");
    if (!kv_ncts_out_from_name(name, &type))
        return bad_message(resp, name);
    size_t event = 0;
    const char *ev = kv_http_req_query(req, "event");
    if (ev) {
        char *end;
        long v = strtol(ev, &end, 10);
        if (!*ev || *end || v < 1 || v > 1000000 || ev[0] == '+' || ev[0] == ' ')
            return kv_http_resp_error(resp, 400, "bad_parameter",
                                      "event: the position (seq) of an event of the log expected");
        event = (size_t)v;
    }

    struct kv_movement_record *m = NULL;
    struct decoded x = {0};
    char *xml = NULL;
    size_t len = 0;
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_get(api->store, mrn, &m, detail);
    if (rc == KV_ENOTFOUND || (rc == KV_OK && !api_may_see_record(&who, m))) {
        rc = api_movement_not_found(resp, mrn);
        goto out;
    }
    if (rc != KV_OK) {
        rc = api_store_failure(resp, "get", rc, detail);
        goto out;
    }
    char why[320] = "";
    rc = decode_record(m, &x, why, sizeof why);
    if (rc != KV_OK) {
        rc = api_store_failure(resp, "decode", rc, why);
        goto out;
    }
    struct kv_ncts_out_movement mv = {.mrn = mrn, .d = x.d, .log = x.log, .n = x.n, .event = event};
    size_t at = kv_ncts_out_source(type, &mv, why, sizeof why);
    if (!at) {
        rc = kv_http_resp_error(resp, 404, "no_such_message", "%s", why);
        goto out;
    }
    char sender[16], prepared[20], id[48];
    snprintf(sender, sizeof sender, "NTA.%s", api->country);
    prepared_now(api, prepared);
    snprintf(id, sizeof id, "%s-%.3s-%zu", mrn, kv_ncts_out_name(type) + 2, at);
    struct kv_ncts_out_header h = {.sender = sender, .prepared = prepared, .message_id = id};
    rc = kv_ncts_out_build(type, &mv, &h, &xml, &len, why, sizeof why);
    if (rc == KV_ENOTFOUND)
        rc = kv_http_resp_error(resp, 404, "no_such_message", "%s", why);
    else if (rc == KV_EINVAL)
        rc = kv_http_resp_error(resp, 409, "not_representable", "%s", why);
    else if (rc != KV_OK)
        rc = kv_http_resp_error(resp, 500, NULL, "cannot build %s: %s", kv_ncts_out_name(type),
                                kv_strerror(rc));
    else
        rc = kv_http_resp_body(resp, 200, "application/xml", xml, len);
out:
    free(xml);
    decoded_release(&x);
    kv_store_record_free(m);
    return rc;
}
