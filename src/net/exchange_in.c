/*
 * exchange_in.c — the receive pipeline of POST /v1/exchange (see
 * exchange_in.h).
 *
 * The decisions that must not race — "is this id known?", "is this seq
 * next?", "record it" — are made again inside the store's writer when the
 * message is parked or applied (kv_store_inbox_park, the claim in the
 * apply's write), so the reads here are only a fast path: when the store
 * disagrees (another request of the same stream got there first) the
 * handler looks again, a bounded number of times.
 */
#include "net/exchange_in.h"

#include "core/err.h"
#include "core/report.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKS_MAX 4 /* times the handler looks again after the store disagreed */

struct kv_exchange_in {
    struct kv_exchange_in_config cfg;
    char country[3];
    struct kv_exchange_kind kinds[KV_EXCHANGE_KINDS_MAX];
    struct kv_counter *c_result[KV_EXCHANGE_UNAVAILABLE + 1];
    _Atomic uint64_t applied, from_park, duplicates, parked, refused, unavailable;
};

static const char *const result_names[] = {[KV_EXCHANGE_APPLIED] = "applied",
                                           [KV_EXCHANGE_DUPLICATE] = "duplicate",
                                           [KV_EXCHANGE_PARKED] = "parked",
                                           [KV_EXCHANGE_REFUSED] = "refused",
                                           [KV_EXCHANGE_UNAVAILABLE] = "unavailable"};

/* ---------------------------------------------------------------------------
 * Lifecycle
 */

int kv_exchange_in_new(const struct kv_exchange_in_config *cfg, struct kv_exchange_in **out,
                       char *err, size_t errsz)
{
    *out = NULL;
    if (!cfg || !cfg->store || !cfg->verify || !cfg->country || strlen(cfg->country) != 2) {
        snprintf(err, errsz, "the exchange handler needs a store, a verifier and a country");
        return KV_EINVAL;
    }
    if (cfg->n_kinds > KV_EXCHANGE_KINDS_MAX || (cfg->n_kinds && !cfg->kinds)) {
        snprintf(err, errsz, "at most %d kinds", KV_EXCHANGE_KINDS_MAX);
        return KV_EINVAL;
    }
    for (size_t i = 0; i < cfg->n_kinds; i++) {
        if (!cfg->kinds[i].kind || !cfg->kinds[i].apply) {
            snprintf(err, errsz, "kind %zu: a name and an apply callback are needed", i);
            return KV_EINVAL;
        }
    }
    struct kv_exchange_in *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errsz, "out of memory");
        return KV_ENOMEM;
    }
    x->cfg = *cfg;
    memcpy(x->country, cfg->country, 2);
    x->cfg.country = x->country;
    if (cfg->n_kinds)
        memcpy(x->kinds, cfg->kinds, cfg->n_kinds * sizeof *x->kinds);
    x->cfg.kinds = x->kinds;
    if (!x->cfg.max_envelope || x->cfg.max_envelope > KV_STORE_ENVELOPE_MAX)
        x->cfg.max_envelope = KV_STORE_ENVELOPE_MAX;
    if (cfg->metrics) {
        for (int r = KV_EXCHANGE_APPLIED; r <= KV_EXCHANGE_UNAVAILABLE; r++) {
            char l[KV_METRICS_LABELS_MAX];
            if (kv_metrics_labels(l, sizeof l, "result", result_names[r], NULL) == KV_OK)
                x->c_result[r] = kv_metrics_counter(
                    cfg->metrics, "kervan_exchange_received_total",
                    "Messages received from other nodes, by what became of them", l);
        }
    }
    *out = x;
    return KV_OK;
}

void kv_exchange_in_free(struct kv_exchange_in *x)
{
    free(x);
}

void kv_exchange_in_stats(const struct kv_exchange_in *x, struct kv_exchange_in_stats *st)
{
    memset(st, 0, sizeof *st);
    st->applied = atomic_load(&x->applied);
    st->from_park = atomic_load(&x->from_park);
    st->duplicates = atomic_load(&x->duplicates);
    st->parked = atomic_load(&x->parked);
    st->refused = atomic_load(&x->refused);
    st->unavailable = atomic_load(&x->unavailable);
}

int kv_exchange_apply_record(void *ctx, const struct kv_exchange_msg *msg,
                             const struct kv_inbox_in *claim, struct kv_exchange_refusal *why)
{
    (void)msg;
    (void)why;
    char detail[KV_STORE_DETAIL_MAX];
    return kv_store_inbox_apply(ctx, claim, NULL, 0, detail);
}

/* ---------------------------------------------------------------------------
 * Answers
 */

static void answer(struct kv_exchange_answer *a, enum kv_exchange_result r, unsigned status,
                   const char *rule, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void answer(struct kv_exchange_answer *a, enum kv_exchange_result r, unsigned status,
                   const char *rule, const char *fmt, ...)
{
    a->result = r;
    a->status = status;
    snprintf(a->rule, sizeof a->rule, "%s", rule ? rule : "");
    a->reason[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->reason, sizeof a->reason, fmt, ap);
        va_end(ap);
    }
}

static void refuse_with(struct kv_exchange_answer *a, const struct kv_exchange_refusal *why,
                        unsigned fallback, const char *fallback_rule)
{
    unsigned st = why->status >= 400 && why->status <= 499 ? why->status : fallback;
    answer(a, KV_EXCHANGE_REFUSED, st, why->rule[0] ? why->rule : fallback_rule, "%s",
           why->reason[0] ? why->reason : "refused");
}

/* Logs a refusal or an unavailability, and counts every answer. */
static void account(struct kv_exchange_in *x, const struct kv_exchange_msg *m, const char *peer,
                    const struct kv_exchange_answer *a)
{
    switch (a->result) {
    case KV_EXCHANGE_DUPLICATE:
        atomic_fetch_add(&x->duplicates, 1);
        break;
    case KV_EXCHANGE_PARKED:
        atomic_fetch_add(&x->parked, 1);
        break;
    case KV_EXCHANGE_REFUSED:
        atomic_fetch_add(&x->refused, 1);
        break;
    case KV_EXCHANGE_UNAVAILABLE:
        atomic_fetch_add(&x->unavailable, 1);
        break;
    default:
        break;
    }
    if ((int)a->result >= KV_EXCHANGE_APPLIED && a->result <= KV_EXCHANGE_UNAVAILABLE)
        kv_counter_add(x->c_result[a->result], 1);
    enum kv_log_level lv = a->result == KV_EXCHANGE_REFUSED       ? KV_LOG_WARN
                           : a->result == KV_EXCHANGE_UNAVAILABLE ? KV_LOG_ERROR
                           : a->result == KV_EXCHANGE_APPLIED     ? KV_LOG_DEBUG
                                                                  : KV_LOG_INFO;
    if (!kv_log_enabled(lv))
        return;
    static const char *const msgs[] = {[KV_EXCHANGE_APPLIED] = "exchange message applied",
                                       [KV_EXCHANGE_DUPLICATE] = "exchange message is a duplicate",
                                       [KV_EXCHANGE_PARKED] = "exchange message parked",
                                       [KV_EXCHANGE_REFUSED] = "exchange message refused",
                                       [KV_EXCHANGE_UNAVAILABLE] =
                                           "exchange message not applied now"};
    struct kv_log_line l;
    kv_log_begin(&l, lv, msgs[a->result]);
    kv_log_uint(&l, "status", a->status);
    if (a->rule[0])
        kv_log_str(&l, "rule", a->rule);
    if (a->reason[0])
        kv_log_str(&l, "reason", a->reason);
    if (m && m->id[0]) {
        kv_log_str(&l, "sender", m->sender);
        kv_log_str(&l, "id", m->id);
        kv_log_str(&l, "kind", m->kind);
        kv_log_str(&l, "mrn", m->mrn);
        kv_log_uint(&l, "seq", m->seq);
    }
    if (a->result == KV_EXCHANGE_PARKED)
        kv_log_uint(&l, "waiting_for", a->waiting_for);
    if (a->applied > 1)
        kv_log_uint(&l, "applied", a->applied);
    if (peer)
        kv_log_str(&l, "peer", peer);
    kv_log_end(&l);
}

/* ---------------------------------------------------------------------------
 * The pipeline
 */

static bool shape_ok(const char *v, size_t len, bool (*ok)(char))
{
    if (strlen(v) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!ok(v[i]))
            return false;
    return true;
}

static bool c_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool c_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool c_upper_alnum(char c)
{
    return c_upper(c) || (c >= '0' && c <= '9');
}

static bool c_kind(char c)
{
    return c_upper_alnum(c) || (c >= 'a' && c <= 'z') || c == '_';
}

/* The header fields verify filled must have the shapes the inbox takes. */
static bool msg_ok(const struct kv_exchange_msg *m)
{
    size_t kl = strnlen(m->kind, sizeof m->kind);
    return shape_ok(m->id, KV_STORE_MSG_ID_LEN, c_hex) && shape_ok(m->sender, 2, c_upper) &&
           shape_ok(m->receiver, 2, c_upper) && kl > 0 && kl < sizeof m->kind &&
           shape_ok(m->kind, kl, c_kind) && shape_ok(m->mrn, KV_MRN_LEN, c_upper_alnum) &&
           m->seq > 0 && m->seq < UINT32_MAX;
}

static void claim_of(const struct kv_exchange_msg *m, struct kv_inbox_in *c)
{
    *c = (struct kv_inbox_in){.id = m->id,
                              .sender = m->sender,
                              .kind = m->kind,
                              .mrn = m->mrn,
                              .seq = m->seq,
                              .envelope = m->envelope,
                              .envelope_len = m->envelope_len,
                              .signature = m->signature};
}

/* Runs the apply callback of m's kind. KV_ENOTFOUND with why set: no handler. */
static int apply_one(struct kv_exchange_in *x, const struct kv_exchange_msg *m,
                     struct kv_exchange_refusal *why)
{
    memset(why, 0, sizeof *why);
    kv_exchange_apply_fn *fn = x->cfg.apply_default;
    void *ctx = x->cfg.default_ctx;
    for (size_t i = 0; i < x->cfg.n_kinds; i++) {
        if (strcmp(x->kinds[i].kind, m->kind) == 0) {
            fn = x->kinds[i].apply;
            ctx = x->kinds[i].ctx;
            break;
        }
    }
    if (!fn) {
        why->status = 422;
        snprintf(why->rule, sizeof why->rule, "%s", KV_EXCHANGE_R_KIND);
        snprintf(why->reason, sizeof why->reason, "this node has no handler for kind %s", m->kind);
        return KV_ENOTFOUND;
    }
    struct kv_inbox_in claim;
    claim_of(m, &claim);
    return fn(ctx, m, &claim, why);
}

/* Applies the parked messages of (sender, mrn) that are next, one after the
 * other. Returns how many were applied. */
static unsigned drain_stream(struct kv_exchange_in *x, const char *sender, const char *mrn)
{
    unsigned n = 0;
    char detail[KV_STORE_DETAIL_MAX];
    for (int guard = 0; guard <= KV_STORE_PARKED_MAX + LOOKS_MAX; guard++) {
        struct kv_inbox_record r;
        int rc = kv_store_inbox_parked_next(x->cfg.store, sender, mrn, &r, detail);
        if (rc) {
            if (rc != KV_ENOTFOUND)
                kv_log_error("exchange: cannot read the parked messages of %s/%s: %s", sender, mrn,
                             detail);
            break;
        }
        struct kv_exchange_msg m = {.seq = r.seq,
                                    .envelope = r.envelope,
                                    .envelope_len = r.envelope_len,
                                    .signature = r.signature};
        memcpy(m.sender, r.sender, sizeof m.sender);
        memcpy(m.receiver, x->country, sizeof m.receiver);
        memcpy(m.id, r.id, sizeof m.id);
        memcpy(m.kind, r.kind, sizeof m.kind);
        memcpy(m.mrn, r.mrn, sizeof m.mrn);
        struct kv_exchange_refusal why;
        rc = apply_one(x, &m, &why);
        kv_store_inbox_record_release(&r);
        if (rc == 0) {
            n++;
            atomic_fetch_add(&x->applied, 1);
            atomic_fetch_add(&x->from_park, 1);
            continue;
        }
        if (rc == KV_EDUPLICATE || rc == KV_EORDER)
            continue; /* another request applied it meanwhile: look again */
        struct kv_log_line l;
        kv_log_begin(&l, KV_LOG_WARN, "exchange: a parked message could not be applied");
        kv_log_str(&l, "sender", sender);
        kv_log_str(&l, "mrn", mrn);
        kv_log_str(&l, "id", m.id);
        kv_log_uint(&l, "seq", m.seq);
        kv_log_str(&l, "error", why.reason[0] ? why.reason : kv_store_strerror(rc));
        kv_log_end(&l);
        break; /* it stays parked; kv_exchange_in_drain tries again later */
    }
    return n;
}

/* Steps 3 and 4 for a verified message: the inbox, order, park or apply. */
static void receive(struct kv_exchange_in *x, struct kv_exchange_msg *m,
                    struct kv_exchange_answer *a)
{
    struct kv_store *s = x->cfg.store;
    char detail[KV_STORE_DETAIL_MAX] = "";
    uint8_t hash[KV_STORE_HASH_LEN];
    kv_store_hash(m->envelope, m->envelope_len, hash);
    for (int look = 0; look < LOOKS_MAX; look++) {
        struct kv_inbox_record r;
        int rc = kv_store_inbox_find(s, m->id, false, &r, detail);
        if (rc == 0) {
            bool same = strcmp(r.sender, m->sender) == 0 && memcmp(r.hash, hash, sizeof hash) == 0;
            enum kv_inbox_state state = r.state;
            kv_store_inbox_record_release(&r);
            if (!same) {
                answer(a, KV_EXCHANGE_REFUSED, 409, KV_EXCHANGE_R_ID,
                       "message id %s is known with other bytes or from another sender", m->id);
                return;
            }
            if (state == KV_INBOX_APPLIED) {
                answer(a, KV_EXCHANGE_DUPLICATE, 200, NULL, "applied before");
                return;
            }
            uint32_t applied = 0;
            kv_store_inbox_last(s, m->sender, m->mrn, &applied, NULL, detail);
            a->waiting_for = applied + 1;
            answer(a, KV_EXCHANGE_DUPLICATE, 202, NULL, "parked before");
            return;
        }
        if (rc != KV_ENOTFOUND)
            goto unavailable;
        uint32_t applied = 0;
        if ((rc = kv_store_inbox_last(s, m->sender, m->mrn, &applied, NULL, detail)) != 0)
            goto unavailable;
        if (m->seq <= applied) {
            /* Another thread may have applied this very message between the
             * two reads above (the inbox row and the stream's last seq are
             * committed together): look it up once more before refusing. */
            if (look == 0)
                continue;
            answer(a, KV_EXCHANGE_REFUSED, 409, KV_EXCHANGE_R_SEQ,
                   "seq %u of %s/%s was applied with another message id", (unsigned)m->seq,
                   m->sender, m->mrn);
            return;
        }
        struct kv_inbox_in claim;
        claim_of(m, &claim);
        if (m->seq > applied + 1) {
            uint32_t waiting = 0;
            rc = kv_store_inbox_park(s, &claim, &waiting, detail);
            if (rc == 0) {
                a->waiting_for = waiting;
                answer(a, KV_EXCHANGE_PARKED, 202, NULL, "waiting for seq %u", (unsigned)waiting);
                if (x->cfg.on_gap)
                    x->cfg.on_gap(x->cfg.gap_ctx, m->sender, m->mrn, waiting);
                return;
            }
            if (rc == KV_EDUPLICATE || rc == KV_ESTALE)
                continue; /* it arrived, or its predecessor did, meanwhile */
            if (rc == KV_ECONFLICT) {
                answer(a, KV_EXCHANGE_REFUSED, 409, KV_EXCHANGE_R_SEQ, "%s", detail);
                return;
            }
            if (rc == KV_ELIMIT) {
                answer(a, KV_EXCHANGE_REFUSED, 429, KV_EXCHANGE_R_PARK, "%s", detail);
                return;
            }
            goto unavailable;
        }
        struct kv_exchange_refusal why;
        rc = apply_one(x, m, &why);
        if (rc == 0) {
            atomic_fetch_add(&x->applied, 1);
            a->applied = 1 + drain_stream(x, m->sender, m->mrn);
            answer(a, KV_EXCHANGE_APPLIED, 200, NULL, NULL);
            return;
        }
        if (rc == KV_EDUPLICATE || rc == KV_EORDER)
            continue;
        if (rc == KV_ECONFLICT) {
            answer(a, KV_EXCHANGE_REFUSED, 409, KV_EXCHANGE_R_SEQ,
                   "seq %u of %s/%s is held by another message id", (unsigned)m->seq, m->sender,
                   m->mrn);
            return;
        }
        if (why.status >= 400 && why.status <= 499) {
            refuse_with(a, &why, 422, KV_EXCHANGE_R_KIND);
            return;
        }
        snprintf(detail, sizeof detail, "%s", why.reason[0] ? why.reason : kv_store_strerror(rc));
        goto unavailable;
    }
    snprintf(detail, sizeof detail, "the inbox kept changing under this request");
unavailable:
    answer(a, KV_EXCHANGE_UNAVAILABLE, 503, NULL, "not applied now: %s", detail);
}

int kv_exchange_in_handle(struct kv_exchange_in *x, const char *body, size_t len,
                          const char *signature, const char *peer, struct kv_exchange_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    struct kv_exchange_msg m;
    memset(&m, 0, sizeof m);
    if (len > x->cfg.max_envelope) {
        answer(ans, KV_EXCHANGE_REFUSED, 413, KV_EXCHANGE_R_SIZE,
               "the envelope is %zu bytes; at most %zu", len, x->cfg.max_envelope);
        goto done;
    }
    if (!body || len == 0) {
        answer(ans, KV_EXCHANGE_REFUSED, 400, KV_EXCHANGE_R_SHAPE, "no envelope");
        goto done;
    }
    struct kv_exchange_refusal why;
    memset(&why, 0, sizeof why);
    if (x->cfg.verify(x->cfg.verify_ctx, body, len, signature, &m, &why) != 0) {
        memset(&m, 0, sizeof m); /* nothing of an unverified message is logged as fact */
        refuse_with(ans, &why, 400, KV_EXCHANGE_R_SHAPE);
        goto done;
    }
    m.envelope = body;
    m.envelope_len = len;
    m.signature = signature;
    if (!msg_ok(&m)) {
        answer(ans, KV_EXCHANGE_REFUSED, 400, KV_EXCHANGE_R_SHAPE,
               "the envelope's id, sender, receiver, kind, MRN or seq is malformed");
        memset(&m, 0, sizeof m);
        goto done;
    }
    memcpy(ans->id, m.id, sizeof ans->id);
    if (strcmp(m.receiver, x->country) != 0) {
        answer(ans, KV_EXCHANGE_REFUSED, 403, KV_EXCHANGE_R_RECEIVER,
               "the message is for %s; this node is %s", m.receiver, x->country);
        goto done;
    }
    if (strcmp(m.sender, x->country) == 0) {
        answer(ans, KV_EXCHANGE_REFUSED, 403, KV_EXCHANGE_R_RECEIVER,
               "the sender is this node (%s)", x->country);
        goto done;
    }
    receive(x, &m, ans);
done:
    account(x, m.id[0] ? &m : NULL, peer, ans);
    return KV_OK;
}

int kv_exchange_in_drain(struct kv_exchange_in *x, unsigned *applied)
{
    unsigned total = 0;
    int rc = 0;
    for (int round = 0; round < 1000; round++) {
        struct kv_inbox_stream st[64];
        size_t n = 0;
        char detail[KV_STORE_DETAIL_MAX];
        rc = kv_store_inbox_ready(x->cfg.store, st, 64, &n, detail);
        if (rc) {
            kv_log_error("exchange: cannot list the parked messages: %s", detail);
            break;
        }
        unsigned got = 0;
        for (size_t i = 0; i < n; i++)
            got += drain_stream(x, st[i].sender, st[i].mrn);
        total += got;
        if (n == 0 || got == 0)
            break;
    }
    if (applied)
        *applied = total;
    return rc;
}

/* ---------------------------------------------------------------------------
 * HTTP
 */

int kv_exchange_in_http(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    struct kv_exchange_in *x = ctx;
    struct kv_exchange_answer a;
    if (!kv_http_req_is_json(req)) {
        memset(&a, 0, sizeof a);
        answer(&a, KV_EXCHANGE_REFUSED, 415, KV_EXCHANGE_R_SHAPE,
               "the envelope must be sent as application/json");
        account(x, NULL, kv_http_req_peer(req), &a);
    } else {
        size_t len = 0;
        const char *body = kv_http_req_body(req, &len);
        kv_exchange_in_handle(x, body, len, kv_http_req_header(req, "Kervan-Signature"),
                              kv_http_req_peer(req), &a);
    }
    if (a.status == 200 || a.status == 202) {
        json_object *o = json_object_new_object();
        if (!o)
            return KV_ENOMEM;
        json_object_object_add(o, "ack", json_object_new_string(a.id));
        if (a.result == KV_EXCHANGE_DUPLICATE)
            json_object_object_add(o, "duplicate", json_object_new_boolean(1));
        if (a.status == 202) {
            json_object_object_add(o, "parked", json_object_new_boolean(1));
            json_object_object_add(o, "waiting_for", json_object_new_int64(a.waiting_for));
        }
        return kv_http_resp_json_obj(resp, a.status, o);
    }
    if (a.status == 503)
        kv_http_resp_header(resp, "Retry-After", "1");
    struct kv_report rep;
    kv_report_init(&rep);
    kv_report_add(&rep, a.rule[0] ? a.rule : "R-EXCH-000", "", "%s", a.reason);
    int rc = kv_http_resp_problems(resp, a.status, NULL, a.reason, &rep);
    kv_report_release(&rep);
    return rc;
}

int kv_exchange_in_register(struct kv_http *h, struct kv_exchange_in *x)
{
    return kv_http_route(h, "POST", "/v1/exchange", kv_exchange_in_http, x);
}
