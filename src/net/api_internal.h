/*
 * api_internal.h — what the /v1 handlers (api_*.c) share: the caller and
 * its authentication, need-to-know, the prepared declaration, the movement
 * view, and small helpers for errors, times, amounts and request bodies.
 * Not a public interface: only src/net/api*.c include it.
 *
 * Every handler follows the same shape: authenticate (401), check the
 * path parameters (400) and the content type (415), read or decode the
 * input (422), look the thing up and hide what the caller may not see
 * (404, the same answer as for a thing that does not exist), check the
 * role (403), then act. A handler always sets a response and returns 0;
 * the store's own failures become 500 (503 while the node is stopping).
 */
#ifndef KV_NET_API_INTERNAL_H
#define KV_NET_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/declaration.h"
#include "core/ident.h"
#include "core/movement.h"
#include "core/report.h"
#include "net/api.h"
#include "net/auth.h"
#include "net/http.h"
#include "store/store.h"

struct json_object;

/* ---- settings ------------------------------------------------------------ */

int64_t api_now(const struct kv_api *api);
unsigned api_overdue_days(const struct kv_api *api);
unsigned api_max_items(const struct kv_api *api);
unsigned api_event_skew(const struct kv_api *api);

/* ---- the caller (api_common.c) ------------------------------------------ */

/* Who is asking, from the bearer token. */
struct api_caller {
    enum kv_token_role role;
    char subject[KV_STORE_PARTY_MAX]; /* party id (trader, guarantor) or office ref (officer) */
    char label[KV_STORE_LABEL_MAX];
    bool office_is_des; /* officer: the registry gives the office the DES role */
};

/*
 * Authenticates the request from `Authorization: Bearer TOKEN`. Returns true
 * with *who filled; otherwise sets the response (401 with WWW-Authenticate,
 * or 500/503 when the store fails) and returns false. Records the actor in
 * the access log ("officer:TR000100").
 */
bool api_authenticate(struct kv_api *api, struct kv_http_req *req, struct kv_http_resp *resp,
                      struct api_caller *who);

/* The actor recorded with an event: role and id (party id or office ref). */
enum kv_actor_role api_actor_role(const struct api_caller *who);

/* ---- answers ------------------------------------------------------------- */

/* 415 unless the request says Content-Type: application/json. Returns true when it does. */
bool api_require_json(struct kv_http_req *req, struct kv_http_resp *resp);

/* The MRN path parameter, verified; false with 400 bad_mrn set otherwise. */
bool api_mrn_param(struct kv_http_req *req, struct kv_http_resp *resp, char mrn[KV_MRN_LEN + 1]);

/* 404 for a movement: the one answer for "no such movement" and "not yours". */
int api_movement_not_found(struct kv_http_resp *resp, const char *mrn);

/* 403 with one problem (rule, message; pointer ""). */
int api_forbidden(struct kv_http_resp *resp, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The first problem's message, or `fallback` when there is none (a report
 * whose allocation failed). */
const char *api_first_message(const struct kv_report *rep, const char *fallback);

/* 500 (or 503 for KV_ECLOSED) for a store failure, logged with its detail. */
int api_store_failure(struct kv_http_resp *resp, const char *what, int rc, const char *detail);

/* ---- text ---------------------------------------------------------------- */

#define API_TIME_MAX   32 /* "2025-03-01T10:00:00Z" */
#define API_AMOUNT_MAX 32 /* "15000.00" */

/* Minor units as a decimal with two places: 1500000 → "15000.00". */
void api_amount_text(int64_t minor, char buf[API_AMOUNT_MAX]);

/* Epoch seconds as RFC 3339 UTC ("2025-03-01T10:00:00Z"). */
void api_time_text(int64_t epoch, char buf[API_TIME_MAX]);

/* The stored limit (epoch of the day after the last day) as that last day,
 * "YYYY-MM-DD"; 0 gives "". */
void api_limit_text(int64_t limit, char buf[16]);

/* The stored limit for a last day "YYYY-MM-DD": the epoch of the next day at
 * 00:00 UTC (kv_movement_overdue's convention); 0 when the text is not a date. */
int64_t api_limit_from_date(const char *date);

/* The stored limit for a movement released at `epoch` with `days` of transit. */
int64_t api_limit_after(int64_t epoch, unsigned days);

/* True when the movement (state name, stored limit) is overdue at `now`. */
bool api_is_overdue(const char *state, int64_t limit, int64_t now);

/* ---- small JSON bodies (api_common.c) ------------------------------------ */

/* One member of a small request object. */
struct api_member {
    const char *name;
    int type; /* enum json_type expected */
    bool required;
    struct json_object *value; /* set by api_parse_object; borrowed from the root */
};

/*
 * Parses a small JSON object body strictly (kv_json_check: RFC 8259,
 * duplicates, limits) and matches its members against `m`: unknown members,
 * missing required ones and wrong JSON types are problems in rep (R-JSON-*,
 * with pointers). Returns the root (caller puts it) or NULL when the body is
 * not a JSON object (the problem is in rep).
 */
struct json_object *api_parse_object(const char *body, size_t len, struct api_member *m, size_t n,
                                     struct kv_report *rep);

/* ---- movements folded from their logs (api_common.c) ----------------------- */

/*
 * Folds the n_log events of a log (JSON texts as stored), then n - n_log
 * pending events of a replica, into *mv. A pending event that no longer
 * applies (the owner's log moved past it: it refused it, or ordered another
 * border's later event first) stays listed as pending but is not folded.
 * Returns KV_OK, KV_EPARSE (an event does not decode) or KV_ENOMEM.
 */
int api_fold_events(const char *const *json, const size_t *len, size_t n_log, size_t n,
                    struct kv_movement *mv);

/* ---- declarations (api_declarations.c) ------------------------------------ */

/* A declaration decoded, validated and turned into what the store takes. */
struct api_decl {
    struct kv_declaration *d;
    char *json; /* canonical bytes (kv_decl_to_json), malloc'd */
    size_t json_len;
    uint8_t hash[KV_STORE_HASH_LEN];
    int security;
    struct kv_guarantee_use uses[KV_STORE_GUARANTEES_MAX]; /* summed per GRN, sorted by GRN */
    size_t n_uses;
    const char *offices[KV_STORE_OFFICES_MAX]; /* transit, then exit for transit */
    size_t n_offices;
    int64_t limit_date; /* stored limit for the declared limitDate, or 0 */
    char gross_mass[KV_STORE_MASS_MAX];
};

/*
 * Decodes and validates a declaration and applies the node's own rules
 * (R-NODE-001 office of departure in this country, R-NODE-002 goods items,
 * R-NODE-003 amounts, R-NODE-004 seals, R-NODE-005 guarantee references).
 * Every problem goes to rep, with pointers prefixed by `prefix` ("" for a
 * lodge, "/declaration" for an amendment). Returns KV_OK when *out is
 * usable (rep empty), KV_EPARSE when rep has problems, KV_ENOMEM. Release
 * *out with api_decl_release in every case.
 */
int api_decl_prepare(const struct kv_api *api, const char *body, size_t len, const char *prefix,
                     struct kv_report *rep, struct api_decl *out);
void api_decl_release(struct api_decl *p);

/*
 * The lodging pipeline after the content type: prepare (422
 * invalid_declaration), the holder is the trader (403), lodge (200/201, 409
 * lrn_conflict, 422 guarantee_insufficient). With xml_answer, the 422s are
 * CC056C documents when one can be built (api_ncts_reject). Always sets a
 * response; returns 0 or KV_ENOMEM.
 */
int api_lodge(struct kv_api *api, struct kv_http_resp *resp, const struct api_caller *who,
              const char *body, size_t len, bool xml_answer);

/* Fills out->uses / out->n_uses from d's guarantee references with an
 * amount (summed per GRN, sorted by GRN); problems (R-NODE-003, -005) to rep. */
void api_decl_uses(const struct kv_declaration *d, struct api_decl *out, struct kv_report *rep);

/* What the movement rules need from a declaration. Returns KV_OK or
 * KV_ELIMIT (more offices or seals than the facts hold). */
int api_facts_from_decl(const struct kv_declaration *d, struct kv_movement_facts *f);

/* ---- NCTS (api_ncts.c) -------------------------------------------------- */

/* Content-Type is application/xml or text/xml. */
bool api_is_xml(struct kv_http_req *req);

/* Accept names application/xml (or text/xml). */
bool api_accepts_xml(struct kv_http_req *req);

/* POST /v1/declarations with an XML body: a CC015C through the XSD folder,
 * the NCTS rules and the import mapping, then api_lodge. */
int api_post_declaration_xml(struct kv_api *api, struct kv_http_req *req,
                             struct kv_http_resp *resp, const struct api_caller *who);

/*
 * Answers 422 with a CC056C (application/xml) rejecting a lodged CC015C
 * for the problems of `rep` (pointers into the declaration model). Returns
 * KV_OK when the answer is set; KV_ENOTFOUND (nothing set) when no CC056C
 * can be built — no declaration, or no office of departure.
 */
int api_ncts_reject(struct kv_api *api, struct kv_http_resp *resp,
                    const struct kv_declaration *d, const char *holder,
                    const struct kv_report *rep);

/* ---- movements (api_movements.c) ---------------------------------------- */

/*
 * Need-to-know: may `who` see this movement? Traders: their own (holder);
 * officers: its office is the office of departure or destination, a
 * declared office of transit or exit (the record's offices and the current
 * declaration's facts) or the office of one of its events; analysts and
 * operators: all; guarantors: none.
 */
bool api_may_see(const struct api_caller *who, const struct kv_movement_record *m,
                 const struct kv_movement_facts *f);

/* api_may_see with the current declaration's offices, decoded from the record
 * only when the stored offices and events do not settle it. */
bool api_may_see_record(const struct api_caller *who, const struct kv_movement_record *m);

/* The names of the flags set in `flags` (plus "enquiry" when overdue). */
struct json_object *api_flags_json(unsigned flags, bool overdue);

/* The allowed event types of (state name, flags), by name. */
struct json_object *api_allowed_json(const char *state, unsigned flags);

/* Handlers. */
kv_http_handler api_post_declaration;
kv_http_handler api_get_movement;
kv_http_handler api_list_movements;
kv_http_handler api_post_event;
kv_http_handler api_post_guarantee;
kv_http_handler api_get_guarantee;
kv_http_handler api_post_token;
kv_http_handler api_get_ncts;
kv_http_handler api_get_export; /* api_export.c */

#endif
