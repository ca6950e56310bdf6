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
 *
 *   POST /v1/declarations with Content-Type: application/xml
 *
 * takes a CC015C: the NCTS stages of codec/ncts_check.h against the node's
 * XSD folder (setting ncts-xsd; without one, 415) with this node's country,
 * then the import mapping, then the same path as a JSON declaration
 * (api_lodge). Errors are 422 with NCTS-style problems (the XPath as the
 * pointer, and an "ncts" member with the CL030/CL180 code, NCTS rule, line
 * and original value) — or, when the client accepts application/xml, a
 * CC056C rejecting the message.
 */
#include "net/api_internal.h"

#include "codec/declaration_json.h"
#include "codec/event_json.h"
#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "codec/ncts_out.h"
#include "core/err.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- POST /v1/declarations, XML -------------------------------------------------- */

static bool media_is(const char *v, const char *type)
{
    size_t n = strlen(type);
    while (*v == ' ')
        v++;
    if (strncasecmp(v, type, n) != 0)
        return false;
    v += n;
    while (*v == ' ')
        v++;
    return *v == '\0' || *v == ';';
}

bool api_is_xml(struct kv_http_req *req)
{
    const char *ct = kv_http_req_header(req, "Content-Type");
    return ct && (media_is(ct, "application/xml") || media_is(ct, "text/xml"));
}

bool api_accepts_xml(struct kv_http_req *req)
{
    const char *a = kv_http_req_header(req, "Accept");
    return a && (strcasestr(a, "application/xml") || strcasestr(a, "text/xml"));
}

/* 422 with a CC056C for `errs`. KV_ENOTFOUND (nothing set) without an office. */
static int reject_with(struct kv_api *api, struct kv_http_resp *resp, const char *lrn,
                       const char *office, const struct kv_declaration *d, const char *holder,
                       const struct kv_ncts_errors *errs)
{
    if (!office || strlen(office) != KV_OFFICE_LEN)
        return KV_ENOTFOUND;
    char sender[16], now[20], id[40];
    snprintf(sender, sizeof sender, "NTA.%s", api->country);
    prepared_now(api, now);
    snprintf(id, sizeof id, "REJ-%.22s-%lld", lrn ? lrn : "", (long long)(api_now(api) % 100000));
    struct kv_ncts_out_header h = {.sender = sender, .prepared = now, .message_id = id};
    struct kv_ncts_rejection r = {.lrn = lrn && lrn[0] ? lrn : NULL,
                                  .office = office,
                                  .d = d,
                                  .holder_id = holder,
                                  .rejected = "015",
                                  .rejected_at = now,
                                  .errors = errs};
    char *xml = NULL, why[256];
    size_t len = 0;
    int rc = kv_ncts_out_cc056c(&r, &h, &xml, &len, why, sizeof why);
    if (rc == KV_EINVAL)
        return KV_ENOTFOUND;
    if (rc != KV_OK)
        return rc;
    rc = kv_http_resp_body(resp, 422, "application/xml", xml, len);
    free(xml);
    return rc;
}

int api_ncts_reject(struct kv_api *api, struct kv_http_resp *resp, const struct kv_declaration *d,
                    const char *holder, const struct kv_report *rep)
{
    if (!d || !d->office_of_departure)
        return KV_ENOTFOUND;
    /* the declaration as CC015C, for the original values at each location */
    xmlDocPtr doc = NULL;
    char *text = NULL;
    size_t n = 0;
    struct kv_report notes;
    kv_report_init(&notes);
    struct kv_ncts_export_opts eo = {
        .sender = "-", .recipient = "-", .prepared = "2000-01-01T00:00:00", .message_id = "-"};
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    if (kv_ncts_cc015c_export(d, &eo, &text, &n, &notes) == KV_OK)
        (void)kv_ncts_parse(text, n, &doc, &errs);
    free(text);
    kv_report_release(&notes);
    kv_ncts_errors_release(&errs);
    kv_ncts_errors_init(&errs);
    kv_ncts_out_errors_from_report(rep, "CC015C", doc, KV_NCTS_STAGE_DECLARATION, &errs);
    int rc = errs.oom ? KV_ENOMEM
                      : reject_with(api, resp, d->lrn, d->office_of_departure, d, holder, &errs);
    kv_ncts_errors_release(&errs);
    xmlFreeDoc(doc);
    return rc;
}

/* 422 invalid_declaration with the NCTS-style errors as problems. */
static int xml_problems(struct kv_http_resp *resp, const struct kv_ncts_result *res)
{
    const struct kv_ncts_errors *e = &res->errors;
    json_object *o = json_object_new_object(), *err = json_object_new_object(),
                *probs = json_object_new_array();
    char msg[160];
    snprintf(msg, sizeof msg, "the %s has %zu error%s (first at stage %s)",
             res->type[0] ? res->type : "message", e->total, e->total == 1 ? "" : "s",
             e->count ? kv_ncts_stage_name(e->items[0].stage) : "?");
    for (size_t i = 0; i < e->count; i++) {
        const struct kv_ncts_error *x = &e->items[i];
        json_object *p = json_object_new_object(), *n = json_object_new_object();
        json_object_object_add(p, "rule", json_object_new_string(x->rule));
        json_object_object_add(p, "pointer", json_object_new_string(x->xpath));
        json_object_object_add(p, "message", json_object_new_string(x->message));
        json_object_object_add(n, "stage", json_object_new_string(kv_ncts_stage_name(x->stage)));
        json_object_object_add(n, "code", json_object_new_string(x->code));
        if (x->reason[0])
            json_object_object_add(n, "reason", json_object_new_string(x->reason));
        if (x->line > 0)
            json_object_object_add(n, "line", json_object_new_int64(x->line));
        if (x->has_value)
            json_object_object_add(n, "value", json_object_new_string(x->value));
        json_object_object_add(p, "ncts", n);
        json_object_array_add(probs, p);
    }
    json_object_object_add(err, "status", json_object_new_int(422));
    json_object_object_add(err, "code", json_object_new_string("invalid_declaration"));
    json_object_object_add(err, "message", json_object_new_string(msg));
    json_object_object_add(err, "problems", probs);
    if (e->total > e->count)
        json_object_object_add(err, "problems_total", json_object_new_int64((int64_t)e->total));
    json_object_object_add(o, "error", err);
    return kv_http_resp_json_obj(resp, 422, o);
}

/* The text at `xpath` of the message, or "" (for a CC056C of a message that failed the schema). */
static void doc_value(const char *body, size_t len, const char *xpath, char *out, size_t outsz)
{
    out[0] = '\0';
    struct kv_ncts_errors pe;
    kv_ncts_errors_init(&pe);
    xmlDocPtr doc = NULL;
    if (kv_ncts_parse(body, len, &doc, &pe) == KV_OK) {
        const xmlNode *n = kv_ncts_find(doc, xpath);
        if (!n || !kv_ncts_node_value(n, out, outsz))
            out[0] = '\0';
    }
    xmlFreeDoc(doc);
    kv_ncts_errors_release(&pe);
}

int api_post_declaration_xml(struct kv_api *api, struct kv_http_req *req, struct kv_http_resp *resp,
                             const struct api_caller *who)
{
    if (!api->ncts_xsd)
        return kv_http_resp_error(resp, 415, "unsupported_media_type",
                                  "this node has no NCTS XSD folder (setting ncts-xsd, or "
                                  "KERVAN_NCTS_XSD), so it cannot check an XML declaration: "
                                  "lodge it as JSON (Content-Type: application/json)");
    size_t len;
    const char *body = kv_http_req_body(req, &len);
    struct kv_ncts_result res;
    kv_ncts_result_init(&res);
    struct kv_ncts_check_opts co = {.country = api->country, .ref = api->ref};
    char err[256] = "";
    char *json = NULL;
    int rc =
        kv_ncts_check(api->ncts_xsd, body ? body : "", body ? len : 0, &co, &res, err, sizeof err);
    if (rc == KV_ENOMEM)
        goto out;
    if (rc != KV_OK) {
        rc = kv_http_resp_error(resp, 500, NULL, "the NCTS schemas cannot be used: %s", err);
        goto out;
    }
    if (kv_ncts_result_ok(&res) && strcmp(res.type, "CC015C") != 0)
        kv_ncts_errors_add(&res.errors, KV_NCTS_STAGE_XML, "15", NULL, "R-XML-004", "", 0, res.type,
                           "POST /v1/declarations takes a CC015C, not a %s", res.type);
    if (!kv_ncts_result_ok(&res)) {
        if (api_accepts_xml(req)) {
            char office[KV_NCTS_VALUE_MAX + 4], lrn[KV_NCTS_VALUE_MAX + 4];
            const struct kv_declaration *d = res.decl;
            if (d && d->office_of_departure)
                snprintf(office, sizeof office, "%s", d->office_of_departure);
            else
                doc_value(body, len, "/CC015C/CustomsOfficeOfDeparture/referenceNumber", office,
                          sizeof office);
            if (d && d->lrn)
                snprintf(lrn, sizeof lrn, "%s", d->lrn);
            else
                doc_value(body, len, "/CC015C/TransitOperation/LRN", lrn, sizeof lrn);
            rc = reject_with(api, resp, lrn, office, d, who->subject, &res.errors);
            if (rc != KV_ENOTFOUND)
                goto out;
        }
        rc = xml_problems(resp, &res);
        goto out;
    }
    size_t n = 0;
    rc = kv_decl_to_json(res.decl, &json, &n);
    if (rc != KV_OK)
        goto out;
    rc = api_lodge(api, resp, who, json, n, api_accepts_xml(req));
out:
    free(json);
    kv_ncts_result_release(&res);
    return rc;
}
