/*
 * api_events.c — POST /v1/movements/{mrn}/events: one officer or holder
 * action, through the pipeline of core/movement.h:
 *
 *   trader or officer only (403) → JSON (415)
 *   kv_event_decode (INPUT form) + time not ahead of the node's clock   422
 *   read the movement; need-to-know                                     404
 *   kv_movement_relation + kv_event_permitted                           403
 *   fold the stored log, kv_movement_check                              409
 *   amendment: validate the new declaration, refuse changed keys        422
 *   kv_movement_apply → state and flags; kv_store_append(expected_seq)  201
 *
 * The append is optimistic: when another request appended first the store
 * says KV_ESTALE and the whole thing is redone from the read (at most
 * KV_API_RETRIES times), so the check always runs against the log the
 * event lands on.
 *
 * An officer may record a border passage, an incident or an arrival at its
 * own office on a movement it cannot see yet (an office of transit that was
 * not declared, a diversion to another office of destination): the goods are
 * in front of it with their MRN. Everything else on an unseen movement is a
 * 404.
 */
#include "net/api_internal.h"

#include "codec/declaration_json.h"
#include "codec/event_json.h"
#include "core/err.h"
#include "net/corridor.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int invalid_event(struct kv_http_resp *resp, const struct kv_report *rep)
{
    char msg[96];
    snprintf(msg, sizeof msg, "the event has %zu problem%s", rep->total,
             rep->total == 1 ? "" : "s");
    return kv_http_resp_problems(resp, 422, "invalid_event", msg, rep);
}

/* An officer at its own office, with the goods in front of it. */
static bool officer_on_the_spot(const struct api_caller *who, const struct kv_event *ev)
{
    if (who->role != KV_TOKEN_OFFICER || strcmp(ev->office, who->subject) != 0)
        return false;
    switch (ev->type) {
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
    case KV_EVENT_INCIDENT:
        return true;
    case KV_EVENT_ARRIVAL:
        return who->office_is_des;
    default:
        return false;
    }
}

/* Folds the stored log, then a replica's pending events that still apply,
 * into *mv (api_fold_events). KV_OK, KV_ECORRUPT when an event does not
 * decode, KV_ENOMEM. */
static int fold_log(const struct kv_movement_record *m, struct kv_movement *mv)
{
    size_t n = m->n_events + m->n_pending;
    const char **json = calloc(n ? n : 1, sizeof *json);
    size_t *len = calloc(n ? n : 1, sizeof *len);
    int rc = json && len ? KV_OK : KV_ENOMEM;
    for (size_t i = 0; rc == KV_OK && i < n; i++) {
        const struct kv_event_record *e =
            i < m->n_events ? &m->events[i] : &m->pending[i - m->n_events];
        json[i] = e->json;
        len[i] = e->json_len;
    }
    if (rc == KV_OK)
        rc = api_fold_events(json, len, m->n_events, n, mv);
    free(json);
    free(len);
    return rc == KV_EPARSE ? KV_ECORRUPT : rc;
}

/* An amendment may not change who holds it, its LRN, where it departs, its
 * security (the MRN's letter) or its guarantee uses. */
static void amendment_keys(const struct kv_declaration *old, const struct api_decl *new_p,
                           const struct api_decl *old_uses, struct kv_report *rep)
{
    const struct kv_declaration *d = new_p->d;
    const char *oh = old->holder && old->holder->id ? old->holder->id : "";
    const char *nh = d->holder && d->holder->id ? d->holder->id : "";
    if (strcmp(oh, nh) != 0)
        kv_report_add(rep, "R-AMD-001", "/declaration/holder/id",
                      "an amendment may not change the holder (%s)", oh);
    if (strcmp(old->lrn ? old->lrn : "", d->lrn ? d->lrn : "") != 0)
        kv_report_add(rep, "R-AMD-002", "/declaration/lrn",
                      "an amendment may not change the LRN (%s)", old->lrn ? old->lrn : "");
    if (strcmp(old->office_of_departure ? old->office_of_departure : "",
               d->office_of_departure ? d->office_of_departure : "") != 0)
        kv_report_add(rep, "R-AMD-003", "/declaration/officeOfDeparture",
                      "an amendment may not change the office of departure (%s)",
                      old->office_of_departure ? old->office_of_departure : "");
    if (strcmp(old->security ? old->security : "", d->security ? d->security : "") != 0)
        kv_report_add(rep, "R-AMD-004", "/declaration/security",
                      "an amendment may not change the security indicator (%s): the MRN "
                      "depends on it",
                      old->security ? old->security : "");
    bool same = old_uses->n_uses == new_p->n_uses;
    for (size_t i = 0; same && i < new_p->n_uses; i++)
        same = strcmp(old_uses->uses[i].grn, new_p->uses[i].grn) == 0 &&
               old_uses->uses[i].amount == new_p->uses[i].amount &&
               strcmp(old_uses->uses[i].currency, new_p->uses[i].currency) == 0;
    if (!same)
        kv_report_add(rep, "R-AMD-005", "/declaration/guarantees",
                      "an amendment may not change the guarantees (references, amounts or "
                      "currencies): they were reserved at acceptance");
}

/* The 201 answer; seq 0: a pending event (recorded at a replica, on its way
 * to the owner). */
static int appended(struct kv_http_resp *resp, uint32_t seq, const char *json, size_t len,
                    const struct kv_movement *mv, int64_t limit, int64_t now)
{
    json_object *o = json_object_new_object();
    if (seq)
        json_object_object_add(o, "seq", json_object_new_int64(seq));
    else
        json_object_object_add(o, "pending", json_object_new_boolean(true));
    json_tokener *tok = json_tokener_new_ex(64);
    json_object *ev = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    json_tokener_free(tok);
    if (ev) {
        json_object *withseq = json_object_new_object();
        if (seq)
            json_object_object_add(withseq, "seq", json_object_new_int64(seq));
        json_object_object_foreach(ev, k, v)
        {
            json_object_object_add(withseq, k, json_object_get(v));
        }
        json_object_put(ev);
        ev = withseq;
    }
    const char *state = kv_state_name(mv->state);
    json_object_object_add(o, "event", ev);
    json_object_object_add(o, "state", json_object_new_string(state));
    json_object_object_add(o, "flags",
                           api_flags_json(mv->flags, api_is_overdue(state, limit, now)));
    json_object_object_add(o, "allowedEvents", api_allowed_json(state, mv->flags));
    return kv_http_resp_json_obj(resp, 201, o);
}

/* Everything one attempt holds, released by attempt_release. */
struct attempt {
    struct kv_movement_record *m;
    struct kv_declaration *d;    /* the stored (current) declaration */
    struct api_decl old_uses;    /* its guarantee uses (for an amendment) */
    struct api_decl amended;     /* the new declaration (amendment) */
    char *json;                  /* the event to store */
    struct kv_corridor_out *out; /* the messages it causes (in a corridor) */
};

static void attempt_release(struct attempt *a)
{
    kv_store_record_free(a->m);
    kv_decl_free(a->d);
    api_decl_release(&a->old_uses);
    api_decl_release(&a->amended);
    free(a->json);
    kv_corridor_out_release(a->out);
    free(a->out);
    memset(a, 0, sizeof *a);
}

/* Events an officer records at a replica (the others happen at the owner). */
static bool at_a_border(enum kv_event_type t)
{
    switch (t) {
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
    case KV_EVENT_INCIDENT:
    case KV_EVENT_ARRIVAL:
    case KV_EVENT_UNLOADING_REMARKS:
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        return true;
    default:
        return false;
    }
}

/*
 * In a corridor: seals the event where it happens, and either orders it
 * (this node owns the movement: link and owner's signature, then the
 * messages it causes — records at release, forwards after) or, at a
 * replica, builds its report to the owner. Sets ap->event.seal, ap->out.
 * An event of a log written before schema 3 (no link to follow) stays
 * unsealed and causes no message.
 */
static int sealed(struct kv_api *api, struct attempt *a, const char *mrn, const struct kv_event *ev,
                  struct kv_append *ap, struct kv_event_seal *seal, bool replica, int64_t limit)
{
    const struct kv_movement_record *m = a->m;
    int rc = kv_corridor_seal_origin(api->corridor, mrn, &ap->event, seal);
    if (rc != KV_OK)
        return rc;
    ap->event.seal = seal;
    if (replica)
        return kv_corridor_report_out(api->corridor, mrn, ev, &ap->event, a->out);
    const struct kv_event_record *last = m->n_events ? &m->events[m->n_events - 1] : NULL;
    if (!last || !last->sealed || !last->seal.has_link) {
        ap->event.seal = NULL;
        return KV_OK;
    }
    rc = kv_corridor_seal_order(api->corridor, mrn, m->summary.seq + 1, last->seal.link, &ap->event,
                                seal);
    if (rc != KV_OK)
        return rc;
    rc = kv_corridor_owner_out(api->corridor, m, a->d, ev, &ap->event, limit, a->out);
    ap->out = a->out->msgs;
    ap->n_out = a->out->n;
    return rc;
}

/* Result of one attempt: answered (a response is set), or stale (retry). */
enum outcome { ANSWERED, STALE };

static enum outcome attempt(struct kv_api *api, struct kv_http_resp *resp, const char *mrn,
                            const struct api_caller *who, struct kv_event *ev,
                            struct kv_movement_facts *facts, struct attempt *a)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_report rep;
    kv_report_init(&rep);
    enum outcome out = ANSWERED;
    int rc = kv_store_get(api->store, mrn, &a->m, detail);
    if (rc == KV_ENOTFOUND) {
        char owner[3];
        if (api->corridor && !kv_corridor_owns(api->corridor, mrn) &&
            officer_on_the_spot(who, ev) &&
            kv_corridor_request(api->corridor, mrn, who->subject, ev->type == KV_EVENT_ARRIVAL,
                                owner) == KV_OK) {
            /* Met unannounced (AAR/ATR): the owner has been asked. */
            kv_http_resp_error(resp, 404, "requested",
                               "movement %s is not held here: its owner %s has been asked for it "
                               "(office %s met it); try again in a moment",
                               mrn, owner, who->subject);
            kv_http_resp_header(resp, "Retry-After", "1");
            goto done;
        }
        api_movement_not_found(resp, mrn);
        goto done;
    }
    if (rc != KV_OK) {
        api_store_failure(resp, "get", rc, detail);
        goto done;
    }
    rc = kv_decl_from_json(a->m->declaration, a->m->declaration_len, &a->d, &rep);
    if (rc != KV_OK || api_facts_from_decl(a->d, facts) != KV_OK) {
        kv_report_release(&rep);
        api_store_failure(resp, "the stored declaration", KV_ECORRUPT, mrn);
        goto done;
    }
    kv_report_release(&rep);
    if (!api_may_see(who, a->m, facts) && !officer_on_the_spot(who, ev)) {
        api_movement_not_found(resp, mrn);
        goto done;
    }

    bool replica = a->m->replica;
    if (replica && !(who->role == KV_TOKEN_OFFICER && at_a_border(ev->type))) {
        char owner[3] = {mrn[2], mrn[3], '\0'};
        kv_http_resp_error(resp, 409, "owner_only",
                           "movement %s belongs to %s: event \"%s\" is recorded at %s's node; "
                           "here only officers record border, incident, arrival and unloading "
                           "events",
                           mrn, owner, kv_event_type_name(ev->type), owner);
        goto done;
    }
    if (replica && !api->corridor) {
        api_store_failure(resp, "replica without a corridor", KV_EINVAL, mrn);
        goto done;
    }

    enum kv_actor_role role = api_actor_role(who);
    unsigned rel = kv_movement_relation(role, who->role == KV_TOKEN_TRADER ? who->subject : NULL,
                                        who->role == KV_TOKEN_OFFICER ? who->subject : NULL,
                                        who->office_is_des, ev, facts);
    if (!kv_event_permitted(ev, role, rel, &rep)) {
        kv_http_resp_problems(resp, 403, "forbidden",
                              api_first_message(&rep, "this role may not record this event"), &rep);
        goto done;
    }

    struct kv_movement mv;
    if (fold_log(a->m, &mv) != KV_OK || mv.state == KV_STATE_INVALID) {
        api_store_failure(resp, "fold", KV_ECORRUPT, mrn);
        goto done;
    }
    rc = kv_movement_check(&mv, ev, facts, &rep);
    if (rc == KV_REFUSED_SEQUENCE || rc == KV_REFUSED_RULE) {
        char msg[KV_MESSAGE_MAX + 96];
        if (rc == KV_REFUSED_SEQUENCE)
            snprintf(msg, sizeof msg, "%s", api_first_message(&rep, "out of sequence"));
        else
            snprintf(msg, sizeof msg, "event \"%s\" refused in state \"%s\": %s",
                     kv_event_type_name(ev->type), kv_state_name(mv.state),
                     api_first_message(&rep, "a movement rule refuses it"));
        kv_http_resp_problems(resp, 409, "not_allowed", msg, &rep);
        goto done;
    }
    if (rc != KV_ALLOWED) {
        api_store_failure(resp, "check", KV_ECORRUPT, mrn);
        goto done;
    }

    struct kv_append ap;
    memset(&ap, 0, sizeof ap);
    if (ev->type == KV_EVENT_AMENDMENT) {
        rc = api_decl_prepare(api, ev->u.amendment.declaration, ev->u.amendment.declaration_len,
                              "/declaration", &rep, &a->amended);
        if (rc == KV_EPARSE) {
            char msg[96];
            snprintf(msg, sizeof msg, "the amended declaration has %zu problem%s", rep.total,
                     rep.total == 1 ? "" : "s");
            kv_http_resp_problems(resp, 422, "invalid_declaration", msg, &rep);
            goto done;
        }
        if (rc != KV_OK) {
            kv_http_resp_error(resp, 500, "internal", "%s", kv_strerror(rc));
            goto done;
        }
        struct kv_report scratch_rep;
        kv_report_init(&scratch_rep);
        api_decl_uses(a->d, &a->old_uses, &scratch_rep);
        kv_report_release(&scratch_rep);
        amendment_keys(a->d, &a->amended, &a->old_uses, &rep);
        if (!kv_report_ok(&rep)) {
            kv_http_resp_problems(resp, 422, "invalid_amendment",
                                  api_first_message(&rep, "the amendment is refused"), &rep);
            goto done;
        }
        ap.declaration = a->amended.json;
        ap.declaration_len = a->amended.json_len;
        ap.hash = a->amended.hash;
        ap.set_limit_date = true;
        ap.limit_date = a->amended.limit_date;
        ap.gross_mass = a->amended.gross_mass;
    }
    int64_t limit = a->m->summary.limit_date;
    if (ev->type == KV_EVENT_RELEASE && !a->d->limit_date) {
        /* NCTS: the office of departure sets the time limit at release. */
        ap.set_limit_date = true;
        ap.limit_date = api_limit_after(ev->time.epoch, api_overdue_days(api));
    }
    if (ap.set_limit_date)
        limit = ap.limit_date;

    kv_movement_apply(&mv, ev);
    size_t json_len = 0;
    if ((rc = kv_event_to_json(ev, &a->json, &json_len)) != KV_OK) {
        kv_http_resp_error(resp, 500, "internal", "cannot encode the event: %s", kv_strerror(rc));
        goto done;
    }
    ap.event = (struct kv_event_in){.type = kv_event_type_name(ev->type),
                                    .time = ev->time.text,
                                    .epoch = ev->time.epoch,
                                    .office = ev->office,
                                    .actor_role = kv_actor_role_name(ev->actor.role),
                                    .actor_id = ev->actor.id,
                                    .json = a->json,
                                    .json_len = json_len};
    ap.state = kv_state_name(mv.state);
    ap.flags = mv.flags;
    struct kv_event_seal seal;
    if (api->corridor) {
        if (!(a->out = malloc(sizeof *a->out))) {
            kv_http_resp_error(resp, 500, "internal", "out of memory");
            goto done;
        }
        kv_corridor_out_init(a->out);
        rc = sealed(api, a, mrn, ev, &ap, &seal, replica, limit);
        if (rc == KV_ELIMIT) {
            kv_http_resp_error(resp, 413, "payload_too_large",
                               "the messages this event causes would exceed the exchange's "
                               "envelope limit (%u bytes) or the %u messages one change may "
                               "carry: the movement (its declaration and history) is too large "
                               "to send along the corridor",
                               KV_STORE_ENVELOPE_MAX, KV_STORE_OUT_MAX);
            goto done;
        }
        if (rc != KV_OK) {
            api_store_failure(resp, "seal", rc, "cannot seal the event or build its messages");
            goto done;
        }
    }
    if (replica)
        rc = kv_store_pending_add(api->store, mrn, a->m->summary.seq, (uint32_t)a->m->n_pending,
                                  &ap.event, ap.state, ap.flags, a->out->msgs, a->out->n, detail);
    else
        rc = kv_store_append(api->store, mrn, a->m->summary.seq, &ap, detail);
    if (rc == KV_OK && a->out && a->out->n)
        kv_corridor_kick(api->corridor);
    if (rc == KV_ESTALE) {
        out = STALE;
    } else if (rc == KV_ENOTFOUND) {
        api_movement_not_found(resp, mrn);
    } else if (rc == KV_EINVAL && json_len > KV_STORE_JSON_MAX) {
        kv_http_resp_error(resp, 413, "payload_too_large",
                           "the event is too large to store (%zu bytes; at most %u)", json_len,
                           KV_STORE_JSON_MAX);
    } else if (rc != KV_OK) {
        api_store_failure(resp, "append", rc, detail);
    } else {
        appended(resp, replica ? 0 : a->m->summary.seq + 1, a->json, json_len, &mv, limit,
                 api_now(api));
    }
done:
    kv_report_release(&rep);
    return out;
}

int api_post_event(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    char mrn[KV_MRN_LEN + 1];
    if (!api_authenticate(api, req, resp, &who) || !api_mrn_param(req, resp, mrn))
        return 0;
    if (who.role != KV_TOKEN_TRADER && who.role != KV_TOKEN_OFFICER)
        return api_forbidden(resp, "R-ROLE-001",
                             "role \"%s\" never acts on a movement: only the holder (trader) and "
                             "customs officers record events",
                             kv_token_role_name(who.role));
    if (!api_require_json(req, resp))
        return 0;
    size_t len;
    const char *body = kv_http_req_body(req, &len);

    int rc = KV_OK;
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_event *ev = calloc(1, sizeof *ev);
    struct kv_movement_facts *facts = malloc(sizeof *facts);
    struct attempt a;
    memset(&a, 0, sizeof a);
    if (!ev || !facts) {
        rc = KV_ENOMEM;
        goto out;
    }
    rc = kv_event_decode(body, len, KV_EVENT_INPUT, &ev[0], &rep);
    if (rc == KV_ENOMEM)
        goto out;
    int64_t now = api_now(api);
    if (rc == KV_OK && ev[0].time.epoch > now + (int64_t)api_event_skew(api)) {
        char clock[API_TIME_MAX];
        api_time_text(now, clock);
        kv_report_add(&rep, "R-NODE-010", "/time",
                      "event time %s is ahead of the node's clock (%s) by more than %u s",
                      ev[0].time.text, clock, api_event_skew(api));
    }
    if (rc != KV_OK || !kv_report_ok(&rep)) {
        if (rep.count == 0)
            kv_report_add(&rep, "R-EVT-001", "", "the event cannot be read: %s", kv_strerror(rc));
        rc = invalid_event(resp, &rep);
        goto out;
    }
    ev[0].actor.role = api_actor_role(&who);
    snprintf(ev[0].actor.id, sizeof ev[0].actor.id, "%s", who.subject);

    for (unsigned i = 0; i < KV_API_RETRIES; i++) {
        enum outcome o = attempt(api, resp, mrn, &who, ev, facts, &a);
        attempt_release(&a);
        if (o == ANSWERED)
            goto out;
        /* KV_ESTALE: the log moved on; the derived members of the event
         * (an arrival's diversion) are recomputed by the next check. */
    }
    rc = kv_http_resp_error(resp, 503, "unavailable", "movement %s is changing too fast; try again",
                            mrn);
    kv_http_resp_header(resp, "Retry-After", "1");
out:
    if (ev)
        kv_event_clear(ev);
    free(ev);
    free(facts);
    kv_report_release(&rep);
    return rc;
}
