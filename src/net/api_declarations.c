/*
 * api_declarations.c — POST /v1/declarations: lodging a declaration, and
 * the declaration preparation shared with amendments (api_internal.h).
 *
 * A lodge goes: trader only (403) → JSON (415) → decode, validate and the
 * node's rules, every problem at once (422 invalid_declaration) → the holder
 * is the trader's party (403 R-ROLE-002) → kv_store_lodge, which in one
 * transaction replays (200), refuses a reused LRN (409 lrn_conflict), checks
 * the guarantees (422 guarantee_insufficient with the figures), allocates
 * the MRN and writes the `lodged` event (201).
 */
#include "net/api_internal.h"

#include "codec/declaration_json.h"
#include "codec/event_json.h"
#include "core/decimal.h"
#include "core/err.h"
#include "core/validate.h"
#include "core/text.h"
#include "net/corridor.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- preparation ------------------------------------------------------------ */

/* kv_text_copy that takes NULL for "". */
static void copy_text(char *dst, size_t dstsz, const char *src)
{
    kv_text_copy(dst, dstsz, src ? src : "");
}

int api_facts_from_decl(const struct kv_declaration *d, struct kv_movement_facts *f)
{
    kv_facts_init(f);
    if (d->holder && d->holder->id)
        copy_text(f->holder, sizeof f->holder, d->holder->id);
    copy_text(f->departure, sizeof f->departure, d->office_of_departure);
    copy_text(f->destination, sizeof f->destination, d->office_of_destination);
    int rc = KV_OK;
    for (size_t i = 0; i < d->n_transit && rc == KV_OK; i++)
        if (d->transit[i].office)
            rc = kv_facts_add_transit(f, d->transit[i].office, strlen(d->transit[i].office));
    for (size_t i = 0; i < d->n_exit && rc == KV_OK; i++)
        if (d->exit_for_transit[i])
            rc = kv_facts_add_exit(f, d->exit_for_transit[i], strlen(d->exit_for_transit[i]));
    for (size_t e = 0; d->consignment && e < d->consignment->n_equipment && rc == KV_OK; e++) {
        const struct kv_equipment *eq = &d->consignment->equipment[e];
        for (size_t s = 0; s < eq->n_seals && rc == KV_OK; s++)
            if (eq->seals[s])
                rc = kv_facts_add_seal(f, eq->seals[s], strlen(eq->seals[s]));
    }
    /* Authorised consignor (C521) is not part of the declaration model yet:
     * A3 releases are refused (R-MOV-011) until it is. */
    f->simplified = false;
    return rc == KV_OK ? KV_OK : KV_ELIMIT;
}

/* Decimal n..16,2 → minor units; false when it has more than 2 decimals or
 * is beyond the store's limit. */
static bool to_minor(const struct kv_decimal *a, int64_t *out)
{
    if (a->micro % 10000 != 0 || a->ip > KV_STORE_AMOUNT_MAX / 100)
        return false;
    *out = a->ip * 100 + a->micro / 10000;
    return *out <= KV_STORE_AMOUNT_MAX;
}

static int use_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kv_guarantee_use *)a)->grn,
                  ((const struct kv_guarantee_use *)b)->grn);
}

void api_decl_uses(const struct kv_declaration *d, struct api_decl *out, struct kv_report *rep)
{
    out->n_uses = 0;
    for (size_t g = 0; g < d->n_guarantees; g++) {
        const struct kv_guarantee *gu = &d->guarantees[g];
        for (size_t r = 0; r < gu->n_refs; r++) {
            const struct kv_guarantee_ref *ref = &gu->refs[r];
            if (!ref->grn || !ref->amount || !ref->currency)
                continue; /* nothing to reserve (or already a validation problem) */
            char ptr[KV_POINTER_MAX];
            snprintf(ptr, sizeof ptr, "/guarantees/%zu/references/%zu/amount", g, r);
            int64_t minor;
            if (!to_minor(ref->amount, &minor) || minor <= 0) {
                if (ref->amount->micro % 10000 == 0 && !kv_dec_is_zero(ref->amount))
                    kv_report_add(rep, "R-NODE-003", ptr,
                                  "amount to be covered is beyond this node's limit of "
                                  "%" PRId64 " (minor units)",
                                  (int64_t)KV_STORE_AMOUNT_MAX);
                continue; /* other cases are validation problems already */
            }
            size_t i = 0;
            while (i < out->n_uses && strcmp(out->uses[i].grn, ref->grn) != 0)
                i++;
            if (i == out->n_uses) {
                if (out->n_uses == KV_STORE_GUARANTEES_MAX) {
                    snprintf(ptr, sizeof ptr, "/guarantees/%zu/references/%zu/grn", g, r);
                    kv_report_add(rep, "R-NODE-005", ptr,
                                  "more than %d guarantee references with an amount: this node "
                                  "reserves at most %d per declaration",
                                  KV_STORE_GUARANTEES_MAX, KV_STORE_GUARANTEES_MAX);
                    return;
                }
                out->uses[i] = (struct kv_guarantee_use){ref->grn, minor, ref->currency};
                out->n_uses++;
                continue;
            }
            if (strcmp(out->uses[i].currency, ref->currency) != 0) {
                snprintf(ptr, sizeof ptr, "/guarantees/%zu/references/%zu/currency", g, r);
                kv_report_add(rep, "R-NODE-005", ptr,
                              "GRN %s is referenced with two currencies (%s and %s)", ref->grn,
                              out->uses[i].currency, ref->currency);
                continue;
            }
            if (out->uses[i].amount > KV_STORE_AMOUNT_MAX - minor) {
                kv_report_add(rep, "R-NODE-003", ptr,
                              "the amounts to be covered for GRN %s add up beyond this node's "
                              "limit",
                              ref->grn);
                continue;
            }
            out->uses[i].amount += minor;
        }
    }
    qsort(out->uses, out->n_uses, sizeof out->uses[0], use_cmp);
}

/* The node's own rules, on a decoded declaration. */
static void node_rules(const struct kv_api *api, struct api_decl *out, struct kv_report *rep)
{
    const struct kv_declaration *d = out->d;
    const char *dep = d->office_of_departure;
    if (dep && strlen(dep) == 8 && memcmp(dep, api->country, 2) != 0)
        kv_report_add(rep, "R-NODE-001", "/officeOfDeparture",
                      "office of departure %s is not in %s: this node accepts declarations for "
                      "its own country's offices only",
                      dep, api->country);
    size_t items = kv_decl_item_count(d);
    if (items > api_max_items(api))
        kv_report_add(rep, "R-NODE-002", "/houseConsignments",
                      "%zu goods items: this node accepts at most %u per declaration", items,
                      api_max_items(api));
    struct kv_movement_facts f;
    if (api_facts_from_decl(d, &f) != KV_OK)
        kv_report_add(rep, "R-NODE-004", "/consignment/transportEquipment",
                      "more than %d seals declared: this node's movement rules handle at most "
                      "%d",
                      KV_SEALS_MAX, KV_SEALS_MAX);
    api_decl_uses(d, out, rep);
    if (d->security && d->security[0] >= '0' && d->security[0] <= '3' && !d->security[1])
        out->security = d->security[0] - '0';
    for (size_t i = 0; i < d->n_transit && out->n_offices < KV_STORE_OFFICES_MAX; i++)
        if (d->transit[i].office)
            out->offices[out->n_offices++] = d->transit[i].office;
    for (size_t i = 0; i < d->n_exit && out->n_offices < KV_STORE_OFFICES_MAX; i++)
        if (d->exit_for_transit[i])
            out->offices[out->n_offices++] = d->exit_for_transit[i];
    out->limit_date = api_limit_from_date(d->limit_date);
    if (d->consignment && d->consignment->gross_mass)
        kv_dec_format_written(d->consignment->gross_mass, out->gross_mass, sizeof out->gross_mass);
}

int api_decl_prepare(const struct kv_api *api, const char *body, size_t len, const char *prefix,
                     struct kv_report *rep, struct api_decl *out)
{
    memset(out, 0, sizeof *out);
    struct kv_report r;
    kv_report_init(&r);
    int rc = kv_decl_from_json(body, len, &out->d, &r);
    if (rc == KV_OK) {
        kv_decl_validate(out->d, api->ref, &r);
        node_rules(api, out, &r);
    } else if (rc == KV_ENOMEM) {
        kv_report_release(&r);
        return KV_ENOMEM;
    }
    for (size_t i = 0; i < r.count; i++) {
        char ptr[KV_POINTER_MAX];
        snprintf(ptr, sizeof ptr, "%s%s", prefix, r.items[i].pointer);
        kv_report_add(rep, r.items[i].rule, ptr, "%s", r.items[i].message);
    }
    if (r.truncated) {
        rep->total += r.total - r.count;
        rep->truncated = true;
    }
    bool ok = kv_report_ok(&r) && rc == KV_OK;
    kv_report_release(&r);
    if (!ok)
        return KV_EPARSE;
    if (kv_decl_to_json(out->d, &out->json, &out->json_len) != KV_OK)
        return KV_ENOMEM;
    kv_store_hash(out->json, out->json_len, out->hash);
    return KV_OK;
}

void api_decl_release(struct api_decl *p)
{
    kv_decl_free(p->d);
    free(p->json);
    memset(p, 0, sizeof *p);
}

/* ---- POST /v1/declarations ---------------------------------------------------- */

/* The pointer to the first guarantee reference naming `grn`. */
static void grn_pointer(const struct kv_declaration *d, const char *grn, char *buf, size_t bufsz)
{
    snprintf(buf, bufsz, "/guarantees");
    for (size_t g = 0; g < d->n_guarantees; g++)
        for (size_t r = 0; r < d->guarantees[g].n_refs; r++)
            if (d->guarantees[g].refs[r].grn && strcmp(d->guarantees[g].refs[r].grn, grn) == 0) {
                snprintf(buf, bufsz, "/guarantees/%zu/references/%zu/grn", g, r);
                return;
            }
}

/* 422 guarantee_insufficient; a CC056C when `xml_holder` is set (the caller accepts XML). */
static int funds_refused(struct kv_api *api, struct kv_http_resp *resp,
                         const struct kv_declaration *d, const struct kv_funds_problem *fp,
                         const char *xml_holder)
{
    struct kv_report rep;
    kv_report_init(&rep);
    char ptr[KV_POINTER_MAX], need[API_AMOUNT_MAX], left[API_AMOUNT_MAX];
    grn_pointer(d, fp->grn, ptr, sizeof ptr);
    api_amount_text(fp->requested, need);
    api_amount_text(fp->remaining, left);
    const char *cur = "";
    for (size_t g = 0; g < d->n_guarantees && !cur[0]; g++)
        for (size_t r = 0; r < d->guarantees[g].n_refs; r++)
            if (d->guarantees[g].refs[r].grn && d->guarantees[g].refs[r].currency &&
                strcmp(d->guarantees[g].refs[r].grn, fp->grn) == 0)
                cur = d->guarantees[g].refs[r].currency;
    switch (fp->why) {
    case KV_FUNDS_UNKNOWN:
        kv_report_add(&rep, "R-GUA-101", ptr, "GRN %s is not registered at this node", fp->grn);
        break;
    case KV_FUNDS_CURRENCY:
        kv_report_add(&rep, "R-GUA-102", ptr,
                      "GRN %s is in %s: this declaration needs %s %s from it", fp->grn,
                      fp->currency, need, cur);
        break;
    case KV_FUNDS_SHORT:
    case KV_FUNDS_NONE:
        kv_report_add(&rep, "R-GUA-103", ptr,
                      "GRN %s: remaining %s %s, this declaration needs %s %s", fp->grn, left,
                      fp->currency, need, fp->currency);
        break;
    }
    if (xml_holder && api_ncts_reject(api, resp, d, xml_holder, &rep) == KV_OK) {
        kv_report_release(&rep);
        return KV_OK;
    }
    int rc = kv_http_resp_problems(
        resp, 422, "guarantee_insufficient",
        api_first_message(&rep, "the guarantee cannot cover this declaration"), &rep);
    kv_report_release(&rep);
    return rc;
}

static int lodged_answer(struct kv_http_resp *resp, unsigned status, const char *mrn,
                         const char *lrn, const char *state, int64_t accepted)
{
    char when[API_TIME_MAX], self[64], events[80];
    api_time_text(accepted, when);
    snprintf(self, sizeof self, "/v1/movements/%s", mrn);
    snprintf(events, sizeof events, "/v1/movements/%s/events", mrn);
    json_object *o = json_object_new_object(), *links = json_object_new_object();
    json_object_object_add(o, "mrn", json_object_new_string(mrn));
    json_object_object_add(o, "lrn", json_object_new_string(lrn));
    json_object_object_add(o, "state", json_object_new_string(state));
    json_object_object_add(o, "acceptedAt", json_object_new_string(when));
    json_object_object_add(links, "self", json_object_new_string(self));
    json_object_object_add(links, "events", json_object_new_string(events));
    json_object_object_add(o, "links", links);
    int rc = kv_http_resp_json_obj(resp, status, o);
    if (rc == KV_OK)
        rc = kv_http_resp_header(resp, "Location", self);
    return rc;
}

/* The node's `lodged` event for a declaration accepted now. */
static int lodged_event(const struct kv_api *api, const char *departure, int64_t now, char **json,
                        size_t *len, struct kv_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = KV_EVENT_LODGED;
    if (kv_time_set(&ev->time, now, 0) != KV_OK)
        return KV_EINVAL;
    copy_text(ev->office, sizeof ev->office, departure);
    ev->actor.role = KV_ACTOR_NODE;
    copy_text(ev->actor.id, sizeof ev->actor.id, api->country);
    return kv_event_to_json(ev, json, len);
}

int api_post_declaration(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_api *api = ctx;
    struct api_caller who;
    if (!api_authenticate(api, req, resp, &who))
        return 0;
    if (who.role != KV_TOKEN_TRADER)
        return api_forbidden(resp, "R-ROLE-003", "only a trader may lodge a declaration");
    if (api_is_xml(req))
        return api_post_declaration_xml(api, req, resp, &who);
    if (!api_require_json(req, resp))
        return 0;
    size_t len;
    const char *body = kv_http_req_body(req, &len);
    return api_lodge(api, resp, &who, body, len, api_accepts_xml(req));
}

int api_lodge(struct kv_api *api, struct kv_http_resp *resp, const struct api_caller *who_,
              const char *body, size_t len, bool xml_answer)
{
    const struct api_caller who = *who_;
    struct kv_report rep;
    kv_report_init(&rep);
    struct api_decl p;
    char *event_json = NULL;
    int rc = api_decl_prepare(api, body, len, "", &rep, &p);
    if (rc == KV_EPARSE) {
        if (xml_answer && api_ncts_reject(api, resp, p.d, who.subject, &rep) == KV_OK) {
            rc = KV_OK;
            goto out;
        }
        char msg[96];
        snprintf(msg, sizeof msg, "the declaration has %zu problem%s", rep.total,
                 rep.total == 1 ? "" : "s");
        rc = kv_http_resp_problems(resp, 422, "invalid_declaration", msg, &rep);
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    const char *holder = p.d->holder ? p.d->holder->id : NULL;
    if (!holder || strcmp(holder, who.subject) != 0) {
        rc = api_forbidden(resp, "R-ROLE-002",
                           "the holder of the transit procedure (%s) is not this trader's party "
                           "(%s)",
                           holder ? holder : "no identification number", who.subject);
        goto out;
    }

    int64_t now = api_now(api);
    struct kv_event ev;
    size_t event_len = 0;
    if ((rc = lodged_event(api, p.d->office_of_departure, now, &event_json, &event_len, &ev)) !=
        KV_OK)
        goto out;
    int64_t y;
    unsigned mo, dd;
    kv_civil_from_days(now / 86400, &y, &mo, &dd);
    struct kv_lodge in = {
        .holder = holder,
        .lrn = p.d->lrn,
        .declaration = p.json,
        .declaration_len = p.json_len,
        .office_departure = p.d->office_of_departure,
        .office_destination = p.d->office_of_destination,
        .offices = p.offices,
        .n_offices = p.n_offices,
        .security = p.security,
        .year = (int)y,
        .guarantees = p.uses,
        .n_guarantees = p.n_uses,
        .event = {.type = "lodged",
                  .time = ev.time.text,
                  .epoch = ev.time.epoch,
                  .office = ev.office,
                  .actor_role = "node",
                  .actor_id = api->country,
                  .json = event_json,
                  .json_len = event_len},
        .state = "accepted",
        .flags = 0,
        .created = now,
        .limit_date = p.limit_date,
        .gross_mass = p.gross_mass[0] ? p.gross_mass : NULL,
        /* In a corridor the lodged event is sealed and ordered like any other. */
        .seal_first = api->corridor ? kv_corridor_seal_first : NULL,
        .seal_ctx = api->corridor,
    };
    memcpy(in.hash, p.hash, sizeof in.hash);
    struct kv_lodge_result out;
    memset(&out, 0, sizeof out);
    char detail[KV_STORE_DETAIL_MAX] = "";
    rc = kv_store_lodge(api->store, &in, &out, detail);
    if (rc == KV_ECONFLICT) {
        rc = kv_http_resp_error(resp, 409, "lrn_conflict",
                                "LRN %s is already used by movement %s with another declaration",
                                p.d->lrn, out.mrn);
    } else if (rc == KV_EFUNDS) {
        rc = funds_refused(api, resp, p.d, &out.funds, xml_answer ? who.subject : NULL);
    } else if (rc != KV_OK) {
        rc = api_store_failure(resp, "lodge", rc, detail);
    } else if (!out.replay) {
        rc = lodged_answer(resp, 201, out.mrn, p.d->lrn, "accepted", now);
    } else {
        /* The same declaration again: the movement as it is now. */
        struct kv_movement_record *m = NULL;
        rc = kv_store_get(api->store, out.mrn, &m, detail);
        if (rc == KV_OK)
            rc = lodged_answer(resp, 200, out.mrn, m->summary.lrn, m->summary.state,
                               m->summary.created);
        else
            rc = api_store_failure(resp, "get after replay", rc, detail);
        kv_store_record_free(m);
    }
out:
    free(event_json);
    api_decl_release(&p);
    kv_report_release(&rep);
    return rc;
}
