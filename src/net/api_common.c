/*
 * api_common.c — what every /v1 handler uses: settings with their
 * defaults, bearer authentication, the shared answers (401, 403, 404, 415,
 * 400 bad_mrn, store failures), times, amounts and limit dates as text, and
 * a strict reader for small JSON request objects (see api_internal.h).
 */
#include "net/api_internal.h"

#include "codec/json_strict.h"
#include "codec/event_json.h"
#include "core/err.h"
#include "core/pointer.h"
#include "core/ref.h"
#include "net/log.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- settings ------------------------------------------------------------ */

int64_t api_now(const struct kv_api *api)
{
    return api->now ? api->now() : (int64_t)time(NULL);
}

unsigned api_overdue_days(const struct kv_api *api)
{
    return api->overdue_days ? api->overdue_days : KV_API_OVERDUE_DAYS;
}

unsigned api_max_items(const struct kv_api *api)
{
    return api->max_items ? api->max_items : KV_API_MAX_ITEMS;
}

unsigned api_event_skew(const struct kv_api *api)
{
    return api->event_skew_s ? api->event_skew_s : KV_API_EVENT_SKEW;
}

/* ---- answers ------------------------------------------------------------- */

int api_forbidden(struct kv_http_resp *resp, const char *rule, const char *fmt, ...)
{
    struct kv_report rep;
    kv_report_init(&rep);
    char msg[KV_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kv_report_add(&rep, rule, "", "%s", msg);
    int rc = kv_http_resp_problems(resp, 403, "forbidden", msg, &rep);
    kv_report_release(&rep);
    return rc;
}

const char *api_first_message(const struct kv_report *rep, const char *fallback)
{
    return rep->count > 0 ? rep->items[0].message : fallback;
}

int api_store_failure(struct kv_http_resp *resp, const char *what, int rc, const char *detail)
{
    if (rc == KV_ECLOSED)
        return kv_http_resp_error(resp, 503, "unavailable", "the node is stopping; try again");
    if (rc == KV_ENOMEM)
        return kv_http_resp_error(resp, 500, "internal", "out of memory");
    kv_log_error("store: %s: %s: %s", what, kv_store_strerror(rc), detail ? detail : "");
    return kv_http_resp_error(resp, 500, "internal", "the node's store failed: %s",
                              kv_store_strerror(rc));
}

bool api_require_json(struct kv_http_req *req, struct kv_http_resp *resp)
{
    if (kv_http_req_is_json(req))
        return true;
    const char *ct = kv_http_req_header(req, "Content-Type");
    kv_http_resp_error(resp, 415, "unsupported_media_type",
                       "the body must be JSON with Content-Type: application/json (got %s)",
                       ct ? ct : "no Content-Type");
    return false;
}

bool api_mrn_param(struct kv_http_req *req, struct kv_http_resp *resp, char mrn[KV_MRN_LEN + 1])
{
    const char *s = kv_http_req_param(req, "mrn");
    size_t n = s ? strlen(s) : 0;
    struct kv_id_result res;
    if (s && kv_mrn_verify(s, n, KV_MRN_P5_OR_LEGACY, &res)) {
        memcpy(mrn, s, KV_MRN_LEN + 1);
        return true;
    }
    char quoted[64];
    kv_quote(quoted, sizeof quoted, s ? s : "", n, 24);
    if (s && res.verdict == KV_ID_CHECK)
        kv_http_resp_error(resp, 400, "bad_mrn",
                           "\"%s\" is not an MRN: check digit (position %d should be '%c')", quoted,
                           res.position + 1, res.expected);
    else if (s && res.position >= 0)
        kv_http_resp_error(resp, 400, "bad_mrn", "\"%s\" is not an MRN: %s (position %d)", quoted,
                           kv_id_verdict_text(res.verdict), res.position + 1);
    else
        kv_http_resp_error(resp, 400, "bad_mrn", "\"%s\" is not an MRN: %s", quoted,
                           s ? kv_id_verdict_text(res.verdict) : "missing");
    return false;
}

int api_movement_not_found(struct kv_http_resp *resp, const char *mrn)
{
    return kv_http_resp_error(resp, 404, "not_found", "no movement %s", mrn);
}

/* ---- the caller ---------------------------------------------------------- */

static void unauthorized(struct kv_http_resp *resp, const char *challenge, const char *msg)
{
    kv_http_resp_error(resp, 401, "unauthorized", "%s", msg);
    kv_http_resp_header(resp, "WWW-Authenticate", challenge);
}

bool api_authenticate(struct kv_api *api, struct kv_http_req *req, struct kv_http_resp *resp,
                      struct api_caller *who)
{
    memset(who, 0, sizeof *who);
    const char *token = kv_http_req_bearer(req);
    if (!token) {
        unauthorized(resp, "Bearer realm=\"kervan\"",
                     "a bearer token is required (Authorization: Bearer kv_...)");
        return false;
    }
    size_t n = strlen(token);
    if (!kv_auth_token_shape_ok(token, n)) {
        unauthorized(resp, "Bearer realm=\"kervan\", error=\"invalid_token\"",
                     "the bearer token is not valid");
        return false;
    }
    uint8_t hash[KV_TOKEN_HASH_LEN];
    kv_auth_token_hash(token, n, hash);
    struct kv_token t;
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_token_find(api->store, hash, &t, detail);
    if (rc == KV_ENOTFOUND) {
        unauthorized(resp, "Bearer realm=\"kervan\", error=\"invalid_token\"",
                     "the bearer token is not valid");
        return false;
    }
    if (rc != KV_OK) {
        api_store_failure(resp, "token lookup", rc, detail);
        return false;
    }
    who->role = kv_token_role_from_name(t.role);
    if (who->role == KV_TOKEN_NONE) {
        kv_log_error("token with unknown role '%s' refused", t.role);
        unauthorized(resp, "Bearer realm=\"kervan\", error=\"invalid_token\"",
                     "the bearer token is not valid");
        return false;
    }
    memcpy(who->subject, t.subject, sizeof who->subject);
    memcpy(who->label, t.label, sizeof who->label);
    if (who->role == KV_TOKEN_OFFICER) {
        const struct kv_office *o = kv_ref_office(api->ref, who->subject, strlen(who->subject));
        who->office_is_des = o && (o->roles & KV_ROLE_DES);
    }
    char actor[KV_STORE_ROLE_MAX + KV_STORE_LABEL_MAX + 2];
    snprintf(actor, sizeof actor, "%s:%s", t.role, who->subject[0] ? who->subject : who->label);
    kv_http_req_set_actor(req, actor);
    return true;
}

enum kv_actor_role api_actor_role(const struct api_caller *who)
{
    switch (who->role) {
    case KV_TOKEN_TRADER:
        return KV_ACTOR_TRADER;
    case KV_TOKEN_OFFICER:
        return KV_ACTOR_OFFICER;
    case KV_TOKEN_ANALYST:
        return KV_ACTOR_ANALYST;
    case KV_TOKEN_OPERATOR:
        return KV_ACTOR_OPERATOR;
    case KV_TOKEN_GUARANTOR:
    case KV_TOKEN_NONE:
        break;
    }
    return KV_ACTOR_NONE;
}

/* ---- text ---------------------------------------------------------------- */

void api_amount_text(int64_t minor, char buf[API_AMOUNT_MAX])
{
    int64_t a = minor < 0 ? -minor : minor;
    snprintf(buf, API_AMOUNT_MAX, "%s%" PRId64 ".%02" PRId64, minor < 0 ? "-" : "", a / 100,
             a % 100);
}

void api_time_text(int64_t epoch, char buf[API_TIME_MAX])
{
    struct kv_time t;
    if (kv_time_set(&t, epoch, 0) == KV_OK)
        snprintf(buf, API_TIME_MAX, "%s", t.text);
    else
        snprintf(buf, API_TIME_MAX, "1970-01-01T00:00:00Z");
}

void api_limit_text(int64_t limit, char buf[16])
{
    buf[0] = '\0';
    if (limit <= 0)
        return;
    int64_t y;
    unsigned m, d;
    kv_civil_from_days((limit - 1) / 86400, &y, &m, &d);
    snprintf(buf, 16, "%04" PRId64 "-%02u-%02u", y, m, d);
}

int64_t api_limit_from_date(const char *date)
{
    if (!date || strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return 0;
    int v[3] = {0, 0, 0};
    const int pos[3][2] = {{0, 4}, {5, 2}, {8, 2}};
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < pos[f][1]; i++) {
            char c = date[pos[f][0] + i];
            if (c < '0' || c > '9')
                return 0;
            v[f] = v[f] * 10 + (c - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[0] < 1970)
        return 0;
    return (kv_days_from_civil(v[0], (unsigned)v[1], (unsigned)v[2]) + 1) * 86400;
}

int64_t api_limit_after(int64_t epoch, unsigned days)
{
    int64_t day = epoch >= 0 ? epoch / 86400 : 0;
    return (day + (int64_t)days + 1) * 86400;
}

bool api_is_overdue(const char *state, int64_t limit, int64_t now)
{
    return strcmp(state, "released") == 0 && kv_movement_overdue(KV_STATE_RELEASED, limit, now);
}

/* ---- small JSON bodies ----------------------------------------------------- */

static void on_dup(void *ctx, const char *pointer, const char *name, size_t name_len)
{
    char q[64];
    kv_quote(q, sizeof q, name, name_len, 40);
    kv_report_add(ctx, "R-JSON-DUP", pointer, "member \"%s\" appears more than once", q);
}

static const char *type_word(int t)
{
    switch (t) {
    case json_type_string:
        return "a string";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
        return "an integer";
    case json_type_double:
        return "a number";
    case json_type_object:
        return "an object";
    case json_type_array:
        return "an array";
    default:
        return "null";
    }
}

struct json_object *api_parse_object(const char *body, size_t len, struct api_member *m, size_t n,
                                     struct kv_report *rep)
{
    for (size_t i = 0; i < n; i++)
        m[i].value = NULL;
    const struct kv_json_limits lim = {.max_depth = 8, .max_containers = 64, .max_values = 256};
    struct kv_json_error jerr;
    json_object *root = NULL;
    int rc = kv_json_check(body, len, &lim, on_dup, rep, &jerr);
    if (rc == KV_OK)
        rc = kv_json_build(body, len, &lim, &root, &jerr);
    if (rc == KV_EPARSE || rc == KV_ELIMIT) {
        kv_json_report(rep, rc == KV_EPARSE ? "R-JSON-SYNTAX" : "R-JSON-LIMIT", &jerr);
        return NULL;
    }
    if (rc != KV_OK) {
        kv_report_add(rep, "R-JSON-SYNTAX", "", "cannot read the body: %s", kv_strerror(rc));
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        kv_report_add(rep, "R-JSON-TYPE", "", "the body must be a JSON object");
        json_object_put(root);
        return NULL;
    }
    struct kv_ptr ptr;
    kv_ptr_init(&ptr);
    json_object_object_foreach(root, key, val)
    {
        size_t mark = kv_ptr_push(&ptr, key);
        size_t i = 0;
        while (i < n && strcmp(m[i].name, key) != 0)
            i++;
        if (i == n) {
            char q[64];
            kv_quote(q, sizeof q, key, strlen(key), 40);
            kv_report_add(rep, "R-JSON-UNKNOWN", ptr.buf, "unknown member \"%s\"", q);
        } else if (!json_object_is_type(val, (enum json_type)m[i].type)) {
            kv_report_add(rep, "R-JSON-TYPE", ptr.buf, "%s expected, got %s", type_word(m[i].type),
                          type_word(json_object_get_type(val)));
        } else {
            m[i].value = val;
        }
        kv_ptr_pop(&ptr, mark);
    }
    for (size_t i = 0; i < n; i++) {
        if (m[i].required && !json_object_object_get_ex(root, m[i].name, NULL)) {
            size_t mark = kv_ptr_push(&ptr, m[i].name);
            kv_report_add(rep, "R-REQ-001", ptr.buf, "\"%s\" is required", m[i].name);
            kv_ptr_pop(&ptr, mark);
        }
    }
    return root;
}

/* Folds the n_log events of a log, then n - n_log pending events, into *mv.
 * A pending event that no longer applies (the owner's log moved past it) is
 * skipped. KV_OK, KV_EPARSE or KV_ENOMEM. */
int api_fold_events(const char *const *json, const size_t *len, size_t n_log, size_t n,
                    struct kv_movement *mv)
{
    struct kv_event *ev = malloc(sizeof *ev);
    struct kv_movement *next = malloc(sizeof *next);
    if (!ev || !next) {
        free(ev);
        free(next);
        return KV_ENOMEM;
    }
    int rc = KV_OK;
    kv_movement_init(mv);
    for (size_t i = 0; i < n && rc == KV_OK; i++) {
        struct kv_report rep;
        kv_report_init(&rep);
        rc = kv_event_from_json(json[i], len[i], ev, &rep) == KV_OK ? KV_OK : KV_EPARSE;
        kv_report_release(&rep);
        if (rc == KV_OK && i < n_log) {
            kv_movement_apply(mv, ev);
        } else if (rc == KV_OK) {
            *next = *mv;
            kv_movement_apply(next, ev);
            if (next->state != KV_STATE_INVALID)
                *mv = *next;
        }
        kv_event_clear(ev);
    }
    free(ev);
    free(next);
    return rc;
}
