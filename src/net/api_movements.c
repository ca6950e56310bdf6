/*
 * api_movements.c — reading movements: GET /v1/movements/{mrn} (the whole
 * movement: declaration, event log with actors, guarantee uses, allowed
 * events, flags with the overdue enquiry computed on the node's clock) and
 * GET /v1/movements (paginated list with filters; a trader's list is
 * always its own movements, an officer's those touching its office).
 * Need-to-know (api_may_see) lives here too.
 */
#include "net/api_internal.h"

#include "codec/declaration_json.h"
#include "core/err.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- need-to-know ------------------------------------------------------------ */

static bool office_in_facts(const struct kv_movement_facts *f, const char *office)
{
    if (strcmp(f->departure, office) == 0 || strcmp(f->destination, office) == 0)
        return true;
    for (size_t i = 0; i < f->n_transit; i++)
        if (strcmp(f->transit[i], office) == 0)
            return true;
    for (size_t i = 0; i < f->n_exit; i++)
        if (strcmp(f->exit[i], office) == 0)
            return true;
    return false;
}

bool api_may_see(const struct api_caller *who, const struct kv_movement_record *m,
                 const struct kv_movement_facts *f)
{
    switch (who->role) {
    case KV_TOKEN_ANALYST:
    case KV_TOKEN_OPERATOR:
        return true;
    case KV_TOKEN_TRADER:
        return strcmp(m->summary.holder, who->subject) == 0;
    case KV_TOKEN_OFFICER:
        if (strcmp(m->summary.office_departure, who->subject) == 0 ||
            strcmp(m->summary.office_destination, who->subject) == 0)
            return true;
        for (size_t i = 0; i < m->n_offices; i++)
            if (strcmp(m->offices[i], who->subject) == 0)
                return true;
        for (size_t i = 0; i < m->n_events; i++)
            if (strcmp(m->events[i].office, who->subject) == 0)
                return true;
        for (size_t i = 0; i < m->n_pending; i++)
            if (strcmp(m->pending[i].office, who->subject) == 0)
                return true;
        return f && office_in_facts(f, who->subject);
    case KV_TOKEN_GUARANTOR:
    case KV_TOKEN_NONE:
        break;
    }
    return false;
}

/* Need-to-know with the current declaration's offices, decoded only when the
 * stored offices and events do not settle it (an amendment may have changed
 * the itinerary). */
bool api_may_see_record(const struct api_caller *who, const struct kv_movement_record *m)
{
    if (api_may_see(who, m, NULL))
        return true;
    if (who->role != KV_TOKEN_OFFICER)
        return false;
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    bool seen = false;
    if (kv_decl_from_json(m->declaration, m->declaration_len, &d, &rep) == KV_OK) {
        struct kv_movement_facts *f = malloc(sizeof *f);
        if (f) {
            api_facts_from_decl(d, f);
            seen = api_may_see(who, m, f);
            free(f);
        }
    }
    kv_decl_free(d);
    kv_report_release(&rep);
    return seen;
}

/* ---- pieces of the answers ---------------------------------------------------- */

json_object *api_flags_json(unsigned flags, bool overdue)
{
    json_object *a = json_object_new_array();
    for (unsigned bit = 1; bit <= KV_FLAG__ALL; bit <<= 1) {
        const char *name = kv_flag_name(bit);
        if (name && ((flags & bit) || (bit == KV_FLAG_ENQUIRY && overdue)))
            json_object_array_add(a, json_object_new_string(name));
    }
    return a;
}

json_object *api_allowed_json(const char *state, unsigned flags)
{
    json_object *a = json_object_new_array();
    enum kv_state s;
    if (!kv_state_from_name(state, strlen(state), &s))
        return a;
    unsigned mask = kv_movement_allowed(s, flags & ~(unsigned)KV_FLAG_ENQUIRY);
    for (int t = KV_EVENT_LODGED; t < KV_EVENT__COUNT; t++)
        if (mask & KV_EVENT_BIT(t))
            json_object_array_add(a, json_object_new_string(kv_event_type_name(t)));
    return a;
}

static json_object *str_or_null(const char *s)
{
    return s && s[0] ? json_object_new_string(s) : NULL;
}

/* The members a summary and the full view share. */
static void summary_members(json_object *o, const struct kv_movement_summary *s, int64_t now)
{
    bool overdue = api_is_overdue(s->state, s->limit_date, now);
    char when[API_TIME_MAX], limit[16];
    api_time_text(s->created, when);
    api_limit_text(s->limit_date, limit);
    json_object_object_add(o, "mrn", json_object_new_string(s->mrn));
    json_object_object_add(o, "lrn", json_object_new_string(s->lrn));
    json_object_object_add(o, "holder", json_object_new_string(s->holder));
    json_object_object_add(o, "state", json_object_new_string(s->state));
    json_object_object_add(o, "flags", api_flags_json(s->flags, overdue));
    json_object_object_add(o, "overdue", json_object_new_boolean(overdue));
    json_object_object_add(o, "officeOfDeparture", json_object_new_string(s->office_departure));
    json_object_object_add(o, "officeOfDestination", json_object_new_string(s->office_destination));
    json_object_object_add(o, "acceptedAt", json_object_new_string(when));
    json_object_object_add(o, "limitDate", str_or_null(limit));
    json_object_object_add(o, "grossMass", str_or_null(s->gross_mass));
}

static json_object *links_json(const char *mrn)
{
    char self[64], events[80];
    snprintf(self, sizeof self, "/v1/movements/%s", mrn);
    snprintf(events, sizeof events, "/v1/movements/%s/events", mrn);
    json_object *l = json_object_new_object();
    json_object_object_add(l, "self", json_object_new_string(self));
    json_object_object_add(l, "events", json_object_new_string(events));
    return l;
}

/* Parses stored JSON text (written by the node itself). */
static json_object *parse_stored(const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* One event of the log: {"seq": n, "node": where it happened, then the
 * stored event's members}; a pending event has "pending": true, no seq. */
static json_object *event_json(const struct kv_event_record *e, bool pending)
{
    json_object *o = json_object_new_object();
    if (pending)
        json_object_object_add(o, "pending", json_object_new_boolean(true));
    else
        json_object_object_add(o, "seq", json_object_new_int64(e->seq));
    if (e->sealed)
        json_object_object_add(o, "node", json_object_new_string(e->seal.node));
    json_object *stored = parse_stored(e->json, e->json_len);
    if (stored && json_object_is_type(stored, json_type_object)) {
        json_object_object_foreach(stored, k, v)
        {
            json_object_object_add(o, k, json_object_get(v));
        }
    } else {
        json_object *actor = json_object_new_object();
        json_object_object_add(o, "type", json_object_new_string(e->type));
        json_object_object_add(o, "time", json_object_new_string(e->time));
        json_object_object_add(o, "office", json_object_new_string(e->office));
        json_object_object_add(actor, "role", json_object_new_string(e->actor_role));
        json_object_object_add(actor, "id", json_object_new_string(e->actor_id));
        json_object_object_add(o, "actor", actor);
    }
    json_object_put(stored);
    return o;
}

/*
 * The lanes decided so far, from the log: each control decision is a lane at
 * its office — "red" when the goods are to be controlled, "green" when not —
 * with its time and reason. (DESIGN.md §5: each node decides its own lane;
 * today the only decision point is the office of departure's control
 * decision; risk-engine lanes at the other offices will add entries here.)
 */
static json_object *lanes_json(json_object *events)
{
    json_object *lanes = json_object_new_array();
    size_t n = json_object_array_length(events);
    for (size_t i = 0; i < n; i++) {
        json_object *ev = json_object_array_get_idx(events, i), *v = NULL;
        if (!json_object_object_get_ex(ev, "type", &v) ||
            strcmp(json_object_get_string(v), "control_decision") != 0)
            continue;
        json_object *lane = json_object_new_object();
        json_object *control = NULL;
        bool red = json_object_object_get_ex(ev, "control", &control) &&
                   json_object_get_boolean(control);
        static const char *const copied[] = {"office", "time", "reason"};
        static const char *const as[] = {"office", "decidedAt", "reason"};
        json_object_object_add(lane, "lane", json_object_new_string(red ? "red" : "green"));
        for (size_t k = 0; k < sizeof(copied) / sizeof(copied[0]); k++)
            if (json_object_object_get_ex(ev, copied[k], &v))
                json_object_object_add(lane, as[k], json_object_get(v));
        json_object_object_add(lane, "basis", json_object_new_string("control_decision"));
        json_object_array_add(lanes, lane);
    }
    return lanes;
}

static json_object *movement_view(const struct kv_movement_record *m, int64_t now)
{
    json_object *o = json_object_new_object();
    summary_members(o, &m->summary, now);
    json_object *decl = parse_stored(m->declaration, m->declaration_len);
    json_object_object_add(o, "declaration", decl ? decl : json_object_new_object());
    json_object *events = json_object_new_array();
    for (size_t i = 0; i < m->n_events; i++)
        json_object_array_add(events, event_json(&m->events[i], false));
    json_object_object_add(o, "events", events);
    char owner[3] = {m->summary.mrn[2], m->summary.mrn[3], '\0'};
    json_object_object_add(o, "owner", json_object_new_string(owner));
    json_object_object_add(o, "replica", json_object_new_boolean(m->replica));
    json_object *pending = json_object_new_array();
    for (size_t i = 0; i < m->n_pending; i++)
        json_object_array_add(pending, event_json(&m->pending[i], true));
    json_object_object_add(o, "pending", pending);
    json_object_object_add(o, "lanes", lanes_json(events));
    json_object *gs = json_object_new_array();
    for (size_t i = 0; i < m->n_guarantees; i++) {
        const struct kv_guarantee_use_record *u = &m->guarantees[i];
        char amount[API_AMOUNT_MAX];
        api_amount_text(u->amount, amount);
        json_object *g = json_object_new_object();
        json_object_object_add(g, "grn", json_object_new_string(u->grn));
        json_object_object_add(g, "amount", json_object_new_string(amount));
        json_object_object_add(g, "currency", json_object_new_string(u->currency));
        json_object_object_add(g, "released", json_object_new_boolean(u->released != 0));
        json_object_array_add(gs, g);
    }
    json_object_object_add(o, "guarantees", gs);
    json_object_object_add(o, "allowedEvents",
                           api_allowed_json(m->summary.state, m->summary.flags));
    json_object_object_add(o, "links", links_json(m->summary.mrn));
    return o;
}

/* ---- GET /v1/movements/{mrn} ----------------------------------------------------- */

int api_get_movement(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    char mrn[KV_MRN_LEN + 1];
    if (!api_authenticate(api, req, resp, &who) || !api_mrn_param(req, resp, mrn))
        return 0;
    struct kv_movement_record *m = NULL;
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_get(api->store, mrn, &m, detail);
    if (rc == KV_ENOTFOUND || (rc == KV_OK && !api_may_see_record(&who, m)))
        rc = api_movement_not_found(resp, mrn);
    else if (rc != KV_OK)
        rc = api_store_failure(resp, "get", rc, detail);
    else
        rc = kv_http_resp_json_obj(resp, 200, movement_view(m, api_now(api)));
    kv_store_record_free(m);
    return rc;
}

/* ---- GET /v1/movements ------------------------------------------------------------ */

static int bad_parameter(struct kv_http_resp *resp, const char *name, const char *why)
{
    struct kv_report rep;
    kv_report_init(&rep);
    kv_report_add(&rep, "R-QUERY-001", "", "%s: %s", name, why);
    int rc = kv_http_resp_problems(resp, 400, "bad_parameter",
                                   api_first_message(&rep, "bad parameter"), &rep);
    kv_report_release(&rep);
    return rc;
}

static bool office_shape(const char *s)
{
    if (strlen(s) != 8)
        return false;
    for (size_t i = 0; i < 8; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')) ||
            (i < 2 && !(s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return true;
}

static bool party_shape(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= KV_STORE_PARTY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

static bool cursor_shape(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= KV_STORE_CURSOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    return true;
}

int api_list_movements(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    if (!api_authenticate(api, req, resp, &who))
        return 0;
    if (who.role == KV_TOKEN_GUARANTOR || who.role == KV_TOKEN_NONE)
        return api_forbidden(resp, "R-ROLE-004", "a guarantor may not list movements");

    static const char *const known[] = {"state",   "office", "holder", "since",
                                        "overdue", "limit",  "cursor"};
    for (size_t i = 0; i < kv_http_req_query_count(req); i++) {
        const char *name, *value;
        kv_http_req_query_at(req, i, &name, &value);
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k], name) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            char q[64];
            kv_quote(q, sizeof q, name, strlen(name), 40);
            char why[128];
            snprintf(why, sizeof why,
                     "unknown parameter (known: state, office, holder, since, "
                     "overdue, limit, cursor)");
            return bad_parameter(resp, q, why);
        }
    }
    struct kv_list_query q = {0};
    const char *v;
    if ((v = kv_http_req_query(req, "state"))) {
        bool ok = false;
        for (size_t i = 0; kv_store_states[i]; i++)
            ok = ok || strcmp(v, kv_store_states[i]) == 0;
        if (!ok)
            return bad_parameter(resp, "state",
                                 "not a movement state (accepted, under_control, not_released, "
                                 "released, arrived, discrepancies, written_off, cancelled)");
        q.state = v;
    }
    if ((v = kv_http_req_query(req, "office"))) {
        if (!office_shape(v))
            return bad_parameter(resp, "office", "a customs office reference (CC + 6) expected");
        q.office = v;
    }
    if ((v = kv_http_req_query(req, "holder"))) {
        if (!party_shape(v))
            return bad_parameter(resp, "holder", "a party identification number expected");
        q.holder = v;
    }
    if ((v = kv_http_req_query(req, "since"))) {
        struct kv_time t;
        const char *why = NULL;
        if (kv_time_parse(v, strlen(v), &t, &why) != KV_OK || t.epoch < 0)
            return bad_parameter(resp, "since",
                                 "an RFC 3339 time such as 2025-03-01T00:00:00Z expected");
        q.since = t.epoch;
    }
    if ((v = kv_http_req_query(req, "overdue"))) {
        if (strcmp(v, "true") == 0)
            q.overdue = true;
        else if (strcmp(v, "false") != 0)
            return bad_parameter(resp, "overdue", "true or false expected");
    }
    q.limit = 100;
    if ((v = kv_http_req_query(req, "limit"))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (!*v || *end || n < 1 || n > KV_STORE_LIST_MAX || v[0] == '+' || v[0] == ' ')
            return bad_parameter(resp, "limit", "a whole number from 1 to 500 expected");
        q.limit = (unsigned)n;
    }
    if ((v = kv_http_req_query(req, "cursor"))) {
        if (!cursor_shape(v))
            return bad_parameter(resp, "cursor", "not a cursor given by this node");
        q.cursor = v;
    }
    int64_t now = api_now(api);
    q.now = now + 1; /* the store lists limit < now; overdue is limit <= now */

    /* Need-to-know: a trader sees its own movements, an officer its office's. */
    bool empty = false;
    if (who.role == KV_TOKEN_TRADER) {
        empty = q.holder && strcmp(q.holder, who.subject) != 0;
        q.holder = who.subject;
    } else if (who.role == KV_TOKEN_OFFICER) {
        empty = q.office && strcmp(q.office, who.subject) != 0;
        q.office = who.subject;
    }

    struct kv_list_page page = {0};
    char detail[KV_STORE_DETAIL_MAX] = "";
    if (!empty) {
        int rc = kv_store_list(api->store, &q, &page, detail);
        if (rc == KV_EINVAL)
            return bad_parameter(resp, "cursor", "not a cursor given by this node");
        if (rc != KV_OK)
            return api_store_failure(resp, "list", rc, detail);
    }
    json_object *o = json_object_new_object(), *items = json_object_new_array();
    for (size_t i = 0; i < page.n; i++) {
        json_object *it = json_object_new_object();
        summary_members(it, &page.items[i], now);
        json_object_array_add(items, it);
    }
    json_object_object_add(o, "items", items);
    json_object_object_add(o, "next", str_or_null(page.next_cursor));
    kv_store_list_free(&page);
    return kv_http_resp_json_obj(resp, 200, o);
}
