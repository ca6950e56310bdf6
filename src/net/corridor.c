/*
 * corridor.c — the exchange wired into the node: sealing, the messages a
 * state change causes, applying what other nodes send, and the delivery
 * worker (corridor.h; docs/exchange.md, "The corridor").
 *
 * Bodies (inside the signed envelope; signed and hashed texts travel as JSON
 * strings so their exact bytes survive):
 *   record and forward (owner → holder: CD001C, CD050C, CD003C, CD115C,
 *   CD181C, CC045C, CD010C, entry):
 *     {"declaration":"<current declaration JSON>","limitDate":"YYYY-MM-DD"|"",
 *      "chain":<the movement's export, codec/export_json.h, without trust>}
 *   report (holder → owner: CD118C, exit, CD180C, CD006C, CD018C):
 *     {"node":"AZ","time":"<event time>","keyid":"<fp>","sig":"<b64url>",
 *      "event":"<event JSON>"}
 *   request (CD002C, CD114C): {"office":"GE000001"}
 * Every owner → holder message carries the whole chain, verified by the
 * receiver against its own trust list each time: a replica that missed
 * something is made whole by the next message, and nothing a replica holds
 * rests on the sender's word alone.
 */
#include "net/corridor.h"

#include "codec/declaration_json.h"
#include "codec/envelope.h"
#include "codec/event_json.h"
#include "codec/export_json.h"
#include "codec/json_span.h"
#include "codec/trust_json.h"
#include "core/chain.h"
#include "core/declaration.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/trust.h"
#include "crypto/chain_crypto.h"
#include "crypto/crypto.h"
#include "net/api_internal.h"
#include "net/exchange_in.h"
#include "net/exchange_out.h"
#include "net/log.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRUST_FILE_MAX (1u << 20)
#define HOLDERS_MAX    KV_STORE_OUT_MAX

/* Rule ids of this module's refusals (docs/exchange.md). */
#define R_BODY     "R-XCH-BODY"     /* the body is not the kind's shape (422) */
#define R_CHAIN    "R-XCH-CHAIN"    /* the chain does not verify, or contradicts ours (422/409) */
#define R_ORIGIN   "R-XCH-ORIGIN"   /* a report's event is not the sender's own (403) */
#define R_ENTITLED "R-XCH-ENTITLED" /* the sender does not hold the movement (403) */
#define R_REASON   "R-XCH-REASON"   /* a request's office is not the sender's (403) */
#define R_UNKNOWN  "R-XCH-UNKNOWN"  /* no such movement here (422) */

struct kv_corridor {
    struct kv_store *store;
    const struct kv_ref *ref;
    char country[3];
    struct kv_trust *trust;
    struct kv_keypair key;
    struct kv_metrics *metrics;
    int64_t (*now)(void);
    struct kv_exchange_in *in;
    struct kv_exchange_out *out;
    struct kv_exchange_out_config out_cfg;
};

static int64_t now_s(const struct kv_corridor *c)
{
    return c->now ? c->now() : (int64_t)time(NULL);
}

static void owner_of(const char *mrn, char out[3])
{
    out[0] = mrn[2];
    out[1] = mrn[3];
    out[2] = '\0';
}

bool kv_corridor_owns(const struct kv_corridor *c, const char *mrn)
{
    return c && mrn && strlen(mrn) == KV_MRN_LEN && memcmp(mrn + 2, c->country, 2) == 0;
}

const struct kv_trust *kv_corridor_trust(const struct kv_corridor *c)
{
    return c ? c->trust : NULL;
}

/* ---- sealing ------------------------------------------------------------- */

/* The chain's view of an event: seq, node, time, bytes, and the seal. */
static int chain_event(const char *time_text, const char *json, size_t json_len, uint32_t seq,
                       const struct kv_event_seal *seal, struct kv_chain_event *e)
{
    memset(e, 0, sizeof *e);
    e->seq = seq;
    if (!time_text || kv_time_parse(time_text, strlen(time_text), &e->time, NULL) != KV_OK)
        return KV_EINVAL;
    e->event = json;
    e->event_len = json_len;
    if (seal) {
        memcpy(e->node, seal->node, sizeof e->node);
        snprintf(e->keyid, sizeof e->keyid, "%s", seal->keyid);
        memcpy(e->sig, seal->sig, sizeof e->sig);
        if (seal->has_link) {
            memcpy(e->link, seal->link, sizeof e->link);
            snprintf(e->order_keyid, sizeof e->order_keyid, "%s", seal->order_keyid);
            memcpy(e->order_sig, seal->order_sig, sizeof e->order_sig);
        }
    }
    return KV_OK;
}

int kv_corridor_seal_origin(struct kv_corridor *c, const char *mrn, const struct kv_event_in *ev,
                            struct kv_event_seal *out)
{
    struct kv_chain_event e;
    if (!c || !mrn || !ev || !out || chain_event(ev->time, ev->json, ev->json_len, 0, NULL, &e))
        return KV_EINVAL;
    memcpy(e.node, c->country, sizeof e.node);
    int rc = kv_chain_sign_origin(&c->key, mrn, &e);
    if (rc != KV_OK)
        return rc;
    memset(out, 0, sizeof *out);
    memcpy(out->node, c->country, sizeof out->node);
    snprintf(out->keyid, sizeof out->keyid, "%s", e.keyid);
    memcpy(out->sig, e.sig, sizeof out->sig);
    return KV_OK;
}

int kv_corridor_seal_order(struct kv_corridor *c, const char *mrn, uint32_t seq,
                           const uint8_t prev[KV_STORE_HASH_LEN], const struct kv_event_in *ev,
                           struct kv_event_seal *seal)
{
    struct kv_chain_event e;
    if (!c || !mrn || !prev || !ev || !seal ||
        chain_event(ev->time, ev->json, ev->json_len, seq, seal, &e) != KV_OK)
        return KV_EINVAL;
    int rc = kv_chain_order(&c->key, mrn, prev, &e);
    if (rc != KV_OK)
        return rc;
    memcpy(seal->link, e.link, sizeof seal->link);
    snprintf(seal->order_keyid, sizeof seal->order_keyid, "%s", e.order_keyid);
    memcpy(seal->order_sig, e.order_sig, sizeof seal->order_sig);
    seal->has_link = true;
    return KV_OK;
}

int kv_corridor_seal_first(void *ctx, const char *mrn, const struct kv_event_in *ev,
                           const uint8_t prev[KV_STORE_HASH_LEN], struct kv_event_seal *out)
{
    struct kv_corridor *c = ctx;
    int rc = kv_corridor_seal_origin(c, mrn, ev, out);
    return rc ? rc : kv_corridor_seal_order(c, mrn, 1, prev, ev, out);
}

/* ---- building messages ----------------------------------------------------- */

void kv_corridor_out_init(struct kv_corridor_out *o)
{
    memset(o, 0, sizeof *o);
}

void kv_corridor_out_release(struct kv_corridor_out *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < KV_STORE_OUT_MAX; i++)
        free(o->envelopes[i]);
    memset(o, 0, sizeof *o);
}

/* Adds one signed message to `out`: seq is next in its (receiver, MRN)
 * stream, counting messages already in `out`. */
static int add_msg(struct kv_corridor *c, struct kv_corridor_out *out, const char *receiver,
                   enum kv_msg_kind kind, const char *mrn, const char *body, size_t body_len)
{
    if (out->n == KV_STORE_OUT_MAX)
        return KV_ELIMIT;
    char detail[KV_STORE_DETAIL_MAX] = "";
    uint32_t last = 0;
    int rc = kv_store_outbox_seq(c->store, receiver, mrn, &last, detail);
    if (rc != 0) {
        kv_log_warn("outbox seq for %s/%s: %s", receiver, mrn, detail);
        return KV_EIO;
    }
    for (size_t j = 0; j < out->n; j++)
        if (strcmp(out->msgs[j].receiver, receiver) == 0 && out->msgs[j].seq > last)
            last = out->msgs[j].seq;

    size_t i = out->n;
    if (kv_crypto_message_id(out->ids[i]) != KV_OK)
        return KV_EIO;
    memcpy(out->receivers[i], receiver, 3);
    struct kv_envelope env;
    memset(&env, 0, sizeof env);
    env.v = KV_ENVELOPE_VERSION;
    memcpy(env.sender, c->country, 3);
    memcpy(env.receiver, receiver, 3);
    memcpy(env.id, out->ids[i], sizeof env.id);
    env.kind = kind;
    memcpy(env.mrn, mrn, KV_MRN_LEN + 1);
    env.seq = last + 1;
    if (kv_time_set(&env.time, now_s(c), 0) != KV_OK)
        return KV_EINVAL;
    env.body = body;
    env.body_len = body_len;
    struct kv_env_verdict why;
    char *bytes = NULL;
    size_t len = 0;
    if ((rc = kv_envelope_encode(&env, &bytes, &len, &why)) != KV_OK) {
        kv_log_warn("cannot encode a %s for %s about %s: %s", kv_msg_kind_name(kind), receiver, mrn,
                    why.message);
        return rc;
    }
    if ((rc = kv_envelope_sign(&c->key, bytes, len, out->sigs[i], sizeof out->sigs[i])) != KV_OK) {
        free(bytes);
        return rc;
    }
    out->envelopes[i] = bytes;
    out->msgs[i] = (struct kv_outmsg){.id = out->ids[i],
                                      .receiver = out->receivers[i],
                                      .kind = kv_msg_kind_name(kind),
                                      .mrn = mrn,
                                      .seq = env.seq,
                                      .envelope = bytes,
                                      .envelope_len = len,
                                      .signature = out->sigs[i]};
    out->n++;
    return KV_OK;
}

/* A growing text buffer. */
struct buf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* s[0..len) as a JSON string. */
static void put_jstr(struct buf *b, const char *s, size_t len)
{
    json_object *o = json_object_new_string_len(s, (int)len);
    const char *t = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;
    if (!t)
        b->oom = true;
    else
        puts_(b, t);
    json_object_put(o);
}

/* Is this stored event of type `type`? */
static bool is_type(const struct kv_event_record *r, enum kv_event_type type)
{
    return strcmp(r->type, kv_event_type_name(type)) == 0;
}

int kv_corridor_export(const char *country, int64_t now, const struct kv_movement_record *m,
                       const struct kv_event_in *next, const struct kv_trust *trust,
                       bool declaration, char **out, size_t *len, uint32_t *unsealed)
{
    for (size_t i = 0; i < m->n_events; i++)
        if (!m->events[i].sealed || !m->events[i].seal.has_link) {
            if (unsealed)
                *unsealed = m->events[i].seq;
            return KV_ECONFLICT;
        }
    size_t n = m->n_events + (next ? 1 : 0);
    struct kv_chain_event *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev)
        return KV_ENOMEM;
    int rc = KV_OK;
    for (size_t i = 0; i < m->n_events && rc == KV_OK; i++) {
        const struct kv_event_record *r = &m->events[i];
        rc = chain_event(r->time, r->json, r->json_len, r->seq, &r->seal, &ev[i]);
    }
    if (rc == KV_OK && next)
        rc = chain_event(next->time, next->json, next->json_len, m->summary.seq + 1, next->seal,
                         &ev[m->n_events]);
    if (rc == KV_OK) {
        /* Everything is borrowed: ex is not cleared. */
        struct kv_export ex;
        kv_export_init(&ex);
        memcpy(ex.mrn, m->summary.mrn, sizeof ex.mrn);
        memcpy(ex.exported_by, country, 2);
        kv_time_set(&ex.exported_at, now, 0);
        if (declaration && memcmp(m->hash, m->link0, KV_STORE_HASH_LEN) == 0) {
            ex.declaration = m->declaration; /* still the lodged one */
            ex.declaration_len = m->declaration_len;
        }
        memcpy(ex.link0, m->link0, sizeof ex.link0);
        ex.events = ev;
        ex.n = n;
        /* the encoder only reads it; a decoded export owns its own list */
        ex.trust = (struct kv_trust *)trust;
        rc = kv_export_to_json(&ex, out, len);
    }
    free(ev);
    return rc;
}

/*
 * The record/forward body: the current declaration, the limit date and the
 * export of the chain — m's events, then `next` (seq m's + 1) when given.
 */
static int record_body(struct kv_corridor *c, const struct kv_movement_record *m,
                       const struct kv_event_in *next, int64_t limit_date, char **body,
                       size_t *body_len)
{
    uint32_t unsealed = 0;
    char *chain = NULL;
    size_t chain_len = 0;
    /* The body carries the current declaration once; the chain does not
     * repeat it (the receiver checks it against link0 itself). */
    int rc = kv_corridor_export(c->country, now_s(c), m, next, NULL, false, &chain, &chain_len,
                                &unsealed);
    if (rc == KV_ECONFLICT) {
        kv_log_warn("movement %s: event %u is not sealed (written before schema 3): it cannot "
                    "be sent",
                    m->summary.mrn, (unsigned)unsealed);
        return KV_EINVAL;
    }
    if (rc != KV_OK)
        return rc;
    char limit[16];
    api_limit_text(limit_date, limit);
    struct buf b = {0};
    puts_(&b, "{\"declaration\":");
    put_jstr(&b, m->declaration, m->declaration_len);
    puts_(&b, ",\"limitDate\":\"");
    puts_(&b, limit);
    puts_(&b, "\",\"chain\":");
    while (chain_len && (chain[chain_len - 1] == '\n' || chain[chain_len - 1] == ' '))
        chain_len--;
    put(&b, chain, chain_len);
    puts_(&b, "}");
    free(chain);
    if (b.oom) {
        free(b.p);
        return KV_ENOMEM;
    }
    *body = b.p;
    *body_len = b.n;
    return KV_OK;
}

/* Adds country cc (an office's first two letters, or a country code) to the
 * holder set unless it is this node, already in, or unknown to the trust
 * list (logged: the node cannot send there). */
static void add_holder(struct kv_corridor *c, const char *cc, char (*set)[3], size_t *n,
                       const char *mrn)
{
    if (!cc || strlen(cc) < 2 || memcmp(cc, c->country, 2) == 0)
        return;
    for (size_t i = 0; i < *n; i++)
        if (memcmp(set[i], cc, 2) == 0)
            return;
    char k[3] = {cc[0], cc[1], '\0'};
    if (!kv_trust_node(c->trust, k)) {
        kv_log_warn("movement %s: %s is on its itinerary but not in the trust list: not sent", mrn,
                    k);
        return;
    }
    if (*n < HOLDERS_MAX)
        memcpy(set[(*n)++], k, 3);
}

/* The countries that hold (or are to receive) movement m: its itinerary and
 * the countries that asked. The destination's country comes first. */
static size_t holders(struct kv_corridor *c, const struct kv_movement_record *m,
                      const struct kv_declaration *d, char (*set)[3])
{
    size_t n = 0;
    const char *mrn = m->summary.mrn;
    add_holder(c, d->office_of_destination, set, &n, mrn);
    for (size_t i = 0; i < d->n_transit; i++)
        add_holder(c, d->transit[i].office, set, &n, mrn);
    for (size_t i = 0; i < d->n_exit; i++)
        add_holder(c, d->exit_for_transit[i], set, &n, mrn);
    if (d->consignment)
        for (size_t i = 0; i < d->consignment->n_routing; i++)
            add_holder(c, d->consignment->routing[i], set, &n, mrn);
    for (size_t i = 0; i < m->n_peers; i++)
        add_holder(c, m->peers[i].country, set, &n, mrn);
    return n;
}

static bool holds(struct kv_corridor *c, const struct kv_movement_record *m,
                  const struct kv_declaration *d, const char *country)
{
    char set[HOLDERS_MAX][3];
    size_t n = holders(c, m, d, set);
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], country) == 0)
            return true;
    return false;
}

static enum kv_msg_kind forward_kind(enum kv_event_type t)
{
    switch (t) {
    case KV_EVENT_INCIDENT:
        return KV_MSG_CD181C;
    case KV_EVENT_WRITE_OFF:
        return KV_MSG_CC045C;
    case KV_EVENT_CANCELLATION:
        return KV_MSG_CD010C;
    default:
        return KV_MSG_ENTRY;
    }
}

int kv_corridor_owner_out(struct kv_corridor *c, const struct kv_movement_record *m,
                          const struct kv_declaration *d, const struct kv_event *ev,
                          const struct kv_event_in *in, int64_t limit_date,
                          struct kv_corridor_out *out)
{
    bool released = false;
    for (size_t i = 0; i < m->n_events && !released; i++)
        released = is_type(&m->events[i], KV_EVENT_RELEASE);
    if (!released && ev->type != KV_EVENT_RELEASE)
        return KV_OK; /* nobody else holds it yet */

    char set[HOLDERS_MAX][3];
    size_t n = holders(c, m, d, set);
    if (n == 0)
        return KV_OK;
    char *body = NULL;
    size_t body_len = 0;
    int rc = record_body(c, m, in, limit_date, &body, &body_len);
    if (rc != KV_OK)
        return rc;
    char dest[3] = "";
    if (d->office_of_destination && strlen(d->office_of_destination) >= 2)
        memcpy(dest, d->office_of_destination, 2);
    for (size_t i = 0; i < n && rc == KV_OK; i++) {
        enum kv_msg_kind kind = forward_kind(ev->type);
        if (ev->type == KV_EVENT_RELEASE)
            kind = strcmp(set[i], dest) == 0 ? KV_MSG_CD001C : KV_MSG_CD050C;
        rc = add_msg(c, out, set[i], kind, m->summary.mrn, body, body_len);
    }
    free(body);
    return rc;
}

int kv_corridor_report_out(struct kv_corridor *c, const char *mrn, const struct kv_event *ev,
                           const struct kv_event_in *in, struct kv_corridor_out *out)
{
    enum kv_msg_kind kind;
    switch (ev->type) {
    case KV_EVENT_PRESENTED:
        kind = KV_MSG_CD118C;
        break;
    case KV_EVENT_CLEARED:
        kind = ev->u.crossing.side == KV_SIDE_EXIT ? KV_MSG_EXIT : KV_MSG_CD118C;
        break;
    case KV_EVENT_INCIDENT:
        kind = KV_MSG_CD180C;
        break;
    case KV_EVENT_ARRIVAL:
        kind = KV_MSG_CD006C;
        break;
    case KV_EVENT_UNLOADING_REMARKS:
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        kind = KV_MSG_CD018C;
        break;
    default:
        return KV_EINVAL;
    }
    if (!in->seal)
        return KV_EINVAL;
    char sig[96];
    kv_b64url_encode(in->seal->sig, sizeof in->seal->sig, sig, sizeof sig);
    struct buf b = {0};
    puts_(&b, "{\"node\":\"");
    puts_(&b, c->country);
    puts_(&b, "\",\"time\":");
    put_jstr(&b, in->time, strlen(in->time));
    puts_(&b, ",\"keyid\":\"");
    puts_(&b, in->seal->keyid);
    puts_(&b, "\",\"sig\":\"");
    puts_(&b, sig);
    puts_(&b, "\",\"event\":");
    put_jstr(&b, in->json, in->json_len);
    puts_(&b, "}");
    if (b.oom) {
        free(b.p);
        return KV_ENOMEM;
    }
    char owner[3];
    owner_of(mrn, owner);
    int rc = add_msg(c, out, owner, kind, mrn, b.p, b.n);
    free(b.p);
    return rc;
}

int kv_corridor_request(struct kv_corridor *c, const char *mrn, const char *office, bool arrival,
                        char owner[3])
{
    owner_of(mrn, owner);
    if (strcmp(owner, c->country) == 0 || !kv_trust_node(c->trust, owner))
        return KV_ENOTFOUND;
    char detail[KV_STORE_DETAIL_MAX] = "";
    uint32_t last = 0;
    if (kv_store_outbox_seq(c->store, owner, mrn, &last, detail) != 0)
        return KV_EIO;
    if (last > 0)
        return KV_OK; /* asked before */
    char body[64];
    int blen = snprintf(body, sizeof body, "{\"office\":\"%.8s\"}", office);
    struct kv_corridor_out out;
    kv_corridor_out_init(&out);
    int rc =
        add_msg(c, &out, owner, arrival ? KV_MSG_CD002C : KV_MSG_CD114C, mrn, body, (size_t)blen);
    if (rc == KV_OK) {
        rc = kv_store_outbox_enqueue(c->store, out.msgs, out.n, detail);
        if (rc == KV_ESTALE || rc == KV_ECONFLICT)
            rc = KV_OK; /* another request raced this one: it is on its way */
        else if (rc != 0)
            kv_log_warn("cannot ask %s for %s: %s", owner, mrn, detail);
        else
            kv_log_info("asked %s for movement %s met at office %.8s (%s)", owner, mrn, office,
                        arrival ? "CD002C" : "CD114C");
    }
    kv_corridor_out_release(&out);
    if (rc == KV_OK)
        kv_corridor_kick(c);
    return rc == KV_OK ? KV_OK : KV_EIO;
}

/* ---- receiving ------------------------------------------------------------- */

static void refuse(struct kv_exchange_refusal *why, unsigned status, const char *rule,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void refuse(struct kv_exchange_refusal *why, unsigned status, const char *rule,
                   const char *fmt, ...)
{
    why->status = status;
    snprintf(why->rule, sizeof why->rule, "%s", rule);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->reason, sizeof why->reason, fmt, ap);
    va_end(ap);
}

static int verify(void *ctx, const char *body, size_t len, const char *signature,
                  struct kv_exchange_msg *msg, struct kv_exchange_refusal *why)
{
    struct kv_corridor *c = ctx;
    struct kv_envelope env;
    struct kv_env_verdict v;
    memset(&v, 0, sizeof v);
    enum kv_env_reject r = kv_envelope_verify(c->trust, c->country, body, len, signature,
                                              signature ? strlen(signature) : 0, &env, &v);
    if (r != KV_ENV_OK) {
        refuse(why, (unsigned)kv_env_reject_status(r), kv_env_reject_rule(r), "%s%s%s", v.message,
               v.pointer[0] ? " at " : "", v.pointer);
        return r == KV_ENV_NOMEM ? KV_ENOMEM : KV_EPARSE;
    }
    memcpy(msg->sender, env.sender, 3);
    memcpy(msg->receiver, env.receiver, 3);
    memcpy(msg->id, env.id, sizeof msg->id);
    snprintf(msg->kind, sizeof msg->kind, "%s", kv_msg_kind_name(env.kind));
    memcpy(msg->mrn, env.mrn, sizeof msg->mrn);
    msg->seq = env.seq;
    return 0;
}

/* The body of a verified message (points into msg->envelope). */
static bool body_of(const struct kv_exchange_msg *msg, const char **body, size_t *len)
{
    struct kv_envelope env;
    if (kv_envelope_decode(msg->envelope, msg->envelope_len, &env, NULL) != KV_ENV_OK)
        return false;
    *body = env.body;
    *len = env.body_len;
    return true;
}

/* A string member of a parsed body: its bytes, or NULL. */
static const char *str_member(json_object *root, const char *name, size_t *len)
{
    json_object *v;
    if (!json_object_object_get_ex(root, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string(v);
}

static json_object *parse(const char *s, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* Further declared offices of d (transit, then exit), as the store keeps them. */
static size_t decl_offices(const struct kv_declaration *d, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_transit && n < max; i++)
        out[n++] = d->transit[i].office;
    for (size_t i = 0; i < d->n_exit && n < max; i++)
        out[n++] = d->exit_for_transit[i];
    return n;
}

/* Everything apply_record holds. */
struct rec {
    json_object *root;
    struct kv_export ex;
    struct kv_declaration *d;
    struct kv_movement_record *old;
    struct kv_event_in *events;
    struct kv_event_seal *seals;
    char (*types)[KV_STORE_EVENT_TYPE_MAX];
    char (*offices)[KV_OFFICE_LEN + 1];
    char (*roles)[KV_STORE_ROLE_MAX];
    char (*actors)[KV_UTF8_BYTES(KV_ACTOR_ID_CHARS)];
    const char **fold_json;
    size_t *fold_len;
};

static void rec_release(struct rec *r)
{
    json_object_put(r->root);
    kv_export_clear(&r->ex);
    kv_decl_free(r->d);
    kv_store_record_free(r->old);
    free(r->events);
    free(r->seals);
    free(r->types);
    free(r->offices);
    free(r->roles);
    free(r->actors);
    free(r->fold_json);
    free(r->fold_len);
}

/* Does a pending event of ours appear among the record's events? */
static bool ordered(const struct kv_event_record *p, const struct kv_export *ex, const char *me)
{
    for (size_t i = 0; i < ex->n; i++)
        if (memcmp(ex->events[i].node, me, 2) == 0 &&
            memcmp(ex->events[i].sig, p->seal.sig, sizeof p->seal.sig) == 0)
            return true;
    return false;
}

/* Owner → holder: a record or a forward. The replica is created or refreshed. */
static int apply_record(void *ctx, const struct kv_exchange_msg *msg,
                        const struct kv_inbox_in *claim, struct kv_exchange_refusal *why)
{
    struct kv_corridor *c = ctx;
    struct rec r;
    memset(&r, 0, sizeof r);
    kv_export_init(&r.ex);
    struct kv_report rep;
    kv_report_init(&rep);
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = KV_EPARSE;
    const char *body;
    size_t blen, off, clen, dlen = 0, llen = 0;
    if (!body_of(msg, &body, &blen) || !(r.root = parse(body, blen))) {
        refuse(why, 422, R_BODY, "the body cannot be read");
        goto out;
    }
    const char *decl = str_member(r.root, "declaration", &dlen);
    const char *limit = str_member(r.root, "limitDate", &llen);
    if (!decl || !limit || !kv_json_member_span(body, blen, "chain", &off, &clen)) {
        refuse(why, 422, R_BODY,
               "a %s body has \"declaration\" and \"limitDate\" (strings) and \"chain\" (an "
               "export)",
               msg->kind);
        goto out;
    }
    int xrc = kv_export_from_json(body + off, clen, &r.ex, &rep);
    if (xrc == KV_ENOMEM) {
        rc = KV_ENOMEM;
        goto out;
    }
    if (xrc != KV_OK || strcmp(r.ex.mrn, msg->mrn) != 0 || r.ex.n == 0) {
        refuse(why, 422, R_BODY, "/body/chain: %s",
               xrc != KV_OK ? api_first_message(&rep, "not an export")
                            : "the chain is not the envelope's movement's, or is empty");
        goto out;
    }
    kv_report_release(&rep);
    kv_report_init(&rep);
    struct kv_chain_result res;
    xrc = kv_export_verify(&r.ex, c->trust, &res, &rep);
    if (xrc == KV_ENOMEM) {
        rc = KV_ENOMEM;
        goto out;
    }
    if (xrc != KV_CHAIN_INTACT) {
        refuse(why, 422, R_CHAIN, "the chain does not verify: %s",
               api_first_message(&rep, "broken"));
        goto out;
    }
    kv_report_release(&rep);
    kv_report_init(&rep);
    if (kv_decl_from_json(decl, dlen, &r.d, &rep) != KV_OK || !r.d->holder || !r.d->holder->id ||
        !r.d->lrn || !r.d->office_of_departure || !r.d->office_of_destination) {
        refuse(why, 422, R_BODY, "/body/declaration: %s",
               api_first_message(&rep, "not a declaration with holder, LRN and offices"));
        goto out;
    }

    rc = kv_store_get(c->store, msg->mrn, &r.old, detail);
    if (rc == KV_ENOTFOUND) {
        r.old = NULL;
    } else if (rc != KV_OK) {
        refuse(why, 503, "", "%s", detail);
        rc = KV_EIO;
        goto out;
    } else if (!r.old->replica) {
        refuse(why, 409, R_CHAIN, "movement %s is this node's own", msg->mrn);
        rc = KV_EPARSE;
        goto out;
    }

    size_t n = r.ex.n, np = r.old ? r.old->n_pending : 0;
    r.events = calloc(n, sizeof *r.events);
    r.seals = calloc(n, sizeof *r.seals);
    r.types = calloc(n, sizeof *r.types);
    r.offices = calloc(n, sizeof *r.offices);
    r.roles = calloc(n, sizeof *r.roles);
    r.actors = calloc(n, sizeof *r.actors);
    r.fold_json = calloc(n + np, sizeof *r.fold_json);
    r.fold_len = calloc(n + np, sizeof *r.fold_len);
    struct kv_event *ev = malloc(sizeof *ev);
    if (!r.events || !r.seals || !r.types || !r.offices || !r.roles || !r.actors || !r.fold_json ||
        !r.fold_len || !ev) {
        free(ev);
        rc = KV_ENOMEM;
        goto out;
    }
    size_t nf = 0;
    bool amended = false;
    for (size_t i = 0; i < n; i++) {
        const struct kv_chain_event *e = &r.ex.events[i];
        kv_report_release(&rep);
        kv_report_init(&rep);
        if (kv_event_from_json(e->event, e->event_len, ev, &rep) != KV_OK) {
            kv_event_clear(ev);
            free(ev);
            refuse(why, 422, R_CHAIN, "/body/chain/events/%zu: the event cannot be read", i);
            rc = KV_EPARSE;
            goto out;
        }
        amended |= ev->type == KV_EVENT_AMENDMENT;
        snprintf(r.types[i], sizeof r.types[i], "%s", kv_event_type_name(ev->type));
        snprintf(r.offices[i], sizeof r.offices[i], "%s", ev->office);
        snprintf(r.roles[i], sizeof r.roles[i], "%s",
                 ev->actor.role ? kv_actor_role_name(ev->actor.role) : "node");
        snprintf(r.actors[i], sizeof r.actors[i], "%s", ev->actor.id);
        kv_event_clear(ev);
        struct kv_event_seal *s = &r.seals[i];
        memcpy(s->node, e->node, 3);
        snprintf(s->keyid, sizeof s->keyid, "%s", e->keyid);
        memcpy(s->sig, e->sig, sizeof s->sig);
        s->has_link = true;
        memcpy(s->link, e->link, sizeof s->link);
        snprintf(s->order_keyid, sizeof s->order_keyid, "%s", e->order_keyid);
        memcpy(s->order_sig, e->order_sig, sizeof s->order_sig);
        r.events[i] = (struct kv_event_in){.type = r.types[i],
                                           .time = e->time.text,
                                           .epoch = e->time.epoch,
                                           .office = r.offices[i][0] ? r.offices[i] : NULL,
                                           .actor_role = r.roles[i],
                                           .actor_id = r.actors[i],
                                           .json = e->event,
                                           .json_len = e->event_len,
                                           .seal = s};
        r.fold_json[nf] = e->event;
        r.fold_len[nf++] = e->event_len;
    }
    free(ev);
    /* The declaration is bound to the chain: while no amendment was
     * ordered, it is the lodged one, whose hash is link0. */
    uint8_t dh[KV_STORE_HASH_LEN];
    kv_store_hash(decl, dlen, dh);
    if (!amended && memcmp(dh, r.ex.link0, sizeof dh) != 0) {
        refuse(why, 422, R_CHAIN,
               "/body/declaration: not the lodged declaration (its hash is not the chain's "
               "link0), and no amendment was ordered");
        rc = KV_EPARSE;
        goto out;
    }
    for (size_t i = 0; i < np; i++) {
        if (ordered(&r.old->pending[i], &r.ex, c->country))
            continue;
        r.fold_json[nf] = r.old->pending[i].json;
        r.fold_len[nf++] = r.old->pending[i].json_len;
    }
    struct kv_movement mv;
    if ((rc = api_fold_events(r.fold_json, r.fold_len, n, nf, &mv)) != KV_OK ||
        mv.state == KV_STATE_INVALID) {
        refuse(why, 422, R_CHAIN, "the owner's log does not fold into a movement%s",
               rc == KV_OK ? " (an event out of sequence)" : "");
        rc = rc == KV_ENOMEM ? KV_ENOMEM : KV_EPARSE;
        goto out;
    }

    const char *offices[KV_STORE_OFFICES_MAX];
    size_t n_off = decl_offices(r.d, offices, KV_STORE_OFFICES_MAX);
    char mass[KV_STORE_MASS_MAX] = "";
    if (r.d->consignment && r.d->consignment->gross_mass)
        kv_dec_format_written(r.d->consignment->gross_mass, mass, sizeof mass);
    struct kv_replica rp = {
        .mrn = msg->mrn,
        .holder = r.d->holder->id,
        .lrn = r.d->lrn,
        .declaration = decl,
        .declaration_len = dlen,
        .office_departure = r.d->office_of_departure,
        .office_destination = r.d->office_of_destination,
        .offices = offices,
        .n_offices = n_off,
        .security = r.d->security && r.d->security[0] >= '0' && r.d->security[0] <= '3'
                        ? r.d->security[0] - '0'
                        : 0,
        .events = r.events,
        .n_events = n,
        .state = kv_state_name(mv.state),
        .flags = mv.flags,
        .created = r.ex.events[0].time.epoch,
        .limit_date = llen ? api_limit_from_date(limit) : 0,
        .gross_mass = mass[0] ? mass : NULL,
        .inbox = claim,
    };
    kv_store_hash(decl, dlen, rp.hash);
    memcpy(rp.link0, r.ex.link0, sizeof rp.link0);
    rc = kv_store_replica_put(c->store, &rp, detail);
    if (rc == KV_ECONFLICT) {
        /* The inbox's conflicts were looked at before the apply; this one
         * is the log: the owner's chain contradicts what we hold. */
        refuse(why, 409, R_CHAIN, "%s", detail);
        kv_log_warn("refused %s %s from %s for %s: %s", msg->kind, msg->id, msg->sender, msg->mrn,
                    detail);
        rc = KV_EPARSE;
    } else if (rc == KV_EINVAL) {
        refuse(why, 422, R_BODY, "%s", detail);
        rc = KV_EPARSE;
    } else if (rc == 0) {
        kv_log_info("%s %s from %s: movement %s held here, %zu events, state %s", msg->kind,
                    msg->id, msg->sender, msg->mrn, n, kv_state_name(mv.state));
    } else if (rc != KV_EDUPLICATE && rc != KV_EORDER) {
        refuse(why, 503, "", "%s", detail);
    }
out:
    kv_report_release(&rep);
    rec_release(&r);
    return rc;
}

/* Records a message as applied with no effect (a report the owner's rules
 * refuse, a request for a movement it does not have): the sender's stream
 * goes on, and the refusal is in the log. */
static int record_only(struct kv_corridor *c, const struct kv_exchange_msg *msg,
                       const struct kv_inbox_in *claim, const char *what)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    kv_log_warn("%s %s from %s for %s recorded without effect: %s", msg->kind, msg->id, msg->sender,
                msg->mrn, what);
    int rc = kv_store_inbox_apply(c->store, claim, NULL, 0, detail);
    if (rc != 0 && rc != KV_EDUPLICATE && rc != KV_EORDER && rc != KV_ECONFLICT)
        kv_log_warn("inbox %s: %s", msg->id, detail);
    return rc;
}

/* Reads the owner's movement and its declaration; refuses when absent. */
static int own_movement(struct kv_corridor *c, const struct kv_exchange_msg *msg,
                        struct kv_movement_record **m, struct kv_declaration **d,
                        struct kv_exchange_refusal *why)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_get(c->store, msg->mrn, m, detail);
    if (rc == KV_ENOTFOUND) {
        *m = NULL;
        return KV_ENOTFOUND;
    }
    if (rc != KV_OK) {
        refuse(why, 503, "", "%s", detail);
        return KV_EIO;
    }
    struct kv_report rep;
    kv_report_init(&rep);
    rc = kv_decl_from_json((*m)->declaration, (*m)->declaration_len, d, &rep);
    kv_report_release(&rep);
    if (rc != KV_OK) {
        refuse(why, 503, "", "the stored declaration of %s cannot be read", msg->mrn);
        return KV_EIO;
    }
    return KV_OK;
}

/* Holder → owner: an event recorded at the sender's office. */
static int apply_report_once(void *ctx, const struct kv_exchange_msg *msg,
                             const struct kv_inbox_in *claim, struct kv_exchange_refusal *why)
{
    struct kv_corridor *c = ctx;
    json_object *root = NULL;
    struct kv_movement_record *m = NULL;
    struct kv_declaration *d = NULL;
    struct kv_event *ev = calloc(2, sizeof *ev);
    struct kv_movement_facts *facts = malloc(sizeof *facts);
    const char **fj = NULL;
    size_t *fl = NULL;
    struct kv_corridor_out out;
    kv_corridor_out_init(&out);
    struct kv_report rep;
    kv_report_init(&rep);
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = KV_EPARSE;
    const char *body;
    size_t blen;
    if (!ev || !facts) {
        rc = KV_ENOMEM;
        goto out;
    }
    if (!body_of(msg, &body, &blen) || !(root = parse(body, blen))) {
        refuse(why, 422, R_BODY, "the body cannot be read");
        goto out;
    }
    size_t nl = 0, tl = 0, kl = 0, sl = 0, el = 0;
    const char *node = str_member(root, "node", &nl), *tm = str_member(root, "time", &tl),
               *keyid = str_member(root, "keyid", &kl), *sig = str_member(root, "sig", &sl),
               *evj = str_member(root, "event", &el);
    struct kv_event_seal seal;
    memset(&seal, 0, sizeof seal);
    if (!node || !tm || !keyid || !sig || !evj || nl != 2 || kl >= sizeof seal.keyid ||
        kv_b64url_decode_exact(sig, sl, seal.sig, sizeof seal.sig) != KV_OK) {
        refuse(why, 422, R_BODY,
               "a %s body has \"node\", \"time\", \"keyid\", \"sig\" (base64url) and \"event\"",
               msg->kind);
        goto out;
    }
    if (strcmp(node, msg->sender) != 0) {
        refuse(why, 403, R_ORIGIN, "the event is %s's; the sender is %s", node, msg->sender);
        goto out;
    }
    memcpy(seal.node, node, 3);
    memcpy(seal.keyid, keyid, kl + 1);

    /* The signature where it happened. */
    struct kv_chain_event ce;
    if (chain_event(tm, evj, el, 0, &seal, &ce) != KV_OK) {
        refuse(why, 422, R_BODY, "/body/time: not an RFC 3339 time");
        goto out;
    }
    const struct kv_trust_key *key = NULL;
    enum kv_trust_verdict tv = kv_trust_check(c->trust, node, keyid, ce.time.epoch, &key);
    uint8_t digest[KV_CHAIN_LINK_LEN];
    if (tv != KV_TRUST_OK || !key ||
        kv_chain_origin(kv_crypto_chain_ops(), msg->mrn, &ce, digest) != KV_OK ||
        !kv_crypto_verify(key->pk, digest, sizeof digest, seal.sig)) {
        refuse(why, 403, R_ORIGIN, "the event's signature does not verify under %s's key %s%s%s",
               node, keyid, tv != KV_TRUST_OK ? ": " : "",
               tv != KV_TRUST_OK ? kv_trust_verdict_text(tv) : "");
        goto out;
    }
    if (kv_event_from_json(evj, el, &ev[0], &rep) != KV_OK) {
        refuse(why, 422, R_BODY, "/body/event: %s", api_first_message(&rep, "not an event"));
        goto out;
    }
    if (strcmp(ev[0].time.text, ce.time.text) != 0 || memcmp(ev[0].office, node, 2) != 0 ||
        ev[0].actor.role != KV_ACTOR_OFFICER) {
        refuse(why, 403, R_ORIGIN,
               "the event must be recorded by an officer at an office of %s, at the time the "
               "report states",
               node);
        goto out;
    }

    rc = own_movement(c, msg, &m, &d, why);
    if (rc == KV_ENOTFOUND) {
        rc = record_only(c, msg, claim, "no such movement here");
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    if (!holds(c, m, d, msg->sender)) {
        refuse(why, 403, R_ENTITLED,
               "%s is not on movement %s's itinerary and has not asked for it with a reason",
               msg->sender, msg->mrn);
        rc = KV_EPARSE;
        goto out;
    }
    for (size_t i = 0; i < m->n_events; i++)
        if (m->events[i].sealed && memcmp(m->events[i].seal.node, node, 2) == 0 &&
            memcmp(m->events[i].seal.sig, seal.sig, sizeof seal.sig) == 0) {
            rc = record_only(c, msg, claim, "the event is in the log already");
            goto out;
        }
    if (api_facts_from_decl(d, facts) != KV_OK) {
        refuse(why, 503, "", "the stored declaration of %s has too many offices", msg->mrn);
        rc = KV_EIO;
        goto out;
    }
    fj = calloc(m->n_events ? m->n_events : 1, sizeof *fj);
    fl = calloc(m->n_events ? m->n_events : 1, sizeof *fl);
    if (!fj || !fl) {
        rc = KV_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m->n_events; i++) {
        fj[i] = m->events[i].json;
        fl[i] = m->events[i].json_len;
    }
    struct kv_movement mv;
    if ((rc = api_fold_events(fj, fl, m->n_events, m->n_events, &mv)) != KV_OK ||
        mv.state == KV_STATE_INVALID) {
        refuse(why, 503, "", "the log of %s does not fold", msg->mrn);
        rc = KV_EIO;
        goto out;
    }
    const struct kv_office *o = kv_ref_office(c->ref, ev[0].office, strlen(ev[0].office));
    bool des = o && (o->roles & KV_ROLE_DES);
    unsigned rel = kv_movement_relation(KV_ACTOR_OFFICER, NULL, ev[0].office, des, &ev[0], facts);
    kv_report_release(&rep);
    kv_report_init(&rep);
    if (!kv_event_permitted(&ev[0], KV_ACTOR_OFFICER, rel, &rep)) {
        rc = record_only(c, msg, claim, api_first_message(&rep, "not permitted"));
        goto out;
    }
    /* The check may complete derived members (an arrival's diversion): run
     * it on a copy, and compare. A report is never an amendment, so the
     * copy owns no heap member. */
    memcpy(&ev[1], &ev[0], sizeof ev[1]);
    int verdict = kv_movement_check(&mv, &ev[1], facts, &rep);
    if (verdict != KV_ALLOWED) {
        rc = record_only(c, msg, claim, api_first_message(&rep, "the movement's rules refuse it"));
        goto out;
    }
    if (ev[0].type == KV_EVENT_ARRIVAL && ev[1].u.arrival.diversion != ev[0].u.arrival.diversion) {
        rc = record_only(c, msg, claim, "the arrival's diversion flag disagrees with the facts");
        goto out;
    }
    kv_movement_apply(&mv, &ev[0]);

    struct kv_event_in in = {.type = kv_event_type_name(ev[0].type),
                             .time = ev[0].time.text,
                             .epoch = ev[0].time.epoch,
                             .office = ev[0].office,
                             .actor_role = kv_actor_role_name(ev[0].actor.role),
                             .actor_id = ev[0].actor.id,
                             .json = evj,
                             .json_len = el,
                             .seal = &seal};
    const struct kv_event_record *last = m->n_events ? &m->events[m->n_events - 1] : NULL;
    if (!last || !last->sealed || !last->seal.has_link) {
        rc = record_only(c, msg, claim, "the movement's log is not sealed");
        goto out;
    }
    if ((rc = kv_corridor_seal_order(c, msg->mrn, m->summary.seq + 1, last->seal.link, &in,
                                     &seal)) != KV_OK) {
        refuse(why, 503, "", "cannot seal the event");
        rc = KV_EIO;
        goto out;
    }
    if ((rc = kv_corridor_owner_out(c, m, d, &ev[0], &in, m->summary.limit_date, &out)) != KV_OK) {
        refuse(why, 503, "", "cannot build the forwards: %s", kv_strerror(rc));
        rc = KV_EIO;
        goto out;
    }
    struct kv_append ap;
    memset(&ap, 0, sizeof ap);
    ap.event = in;
    ap.state = kv_state_name(mv.state);
    ap.flags = mv.flags;
    ap.out = out.msgs;
    ap.n_out = out.n;
    ap.inbox = claim;
    rc = kv_store_append(c->store, msg->mrn, m->summary.seq, &ap, detail);
    if (rc == 0) {
        kv_log_info("%s %s from %s: %s at %s ordered as event %u of %s, forwarded to %zu",
                    msg->kind, msg->id, msg->sender, in.type, in.office,
                    (unsigned)m->summary.seq + 1, msg->mrn, out.n);
        kv_corridor_kick(c);
    } else if (rc != KV_EDUPLICATE && rc != KV_EORDER && rc != KV_ECONFLICT) {
        refuse(why, 503, "", "%s", detail);
    }
out:
    if (ev)
        kv_event_clear(&ev[0]);
    free(ev);
    free(facts);
    free(fj);
    free(fl);
    json_object_put(root);
    kv_store_record_free(m);
    kv_decl_free(d);
    kv_corridor_out_release(&out);
    kv_report_release(&rep);
    return rc;
}

/* Reports from several borders may reach the owner at once: the one whose
 * append finds the log moved on (KV_ESTALE) is read, checked and ordered
 * again, here, rather than sent back to its sender with a 503. */
static int apply_report(void *ctx, const struct kv_exchange_msg *msg,
                        const struct kv_inbox_in *claim, struct kv_exchange_refusal *why)
{
    int rc = KV_ESTALE;
    for (unsigned i = 0; i < KV_API_RETRIES && rc == KV_ESTALE; i++) {
        memset(why, 0, sizeof *why);
        rc = apply_report_once(ctx, msg, claim, why);
    }
    return rc;
}

/* CD002C / CD114C: a country met the movement unannounced. */
static int apply_request(void *ctx, const struct kv_exchange_msg *msg,
                         const struct kv_inbox_in *claim, struct kv_exchange_refusal *why)
{
    struct kv_corridor *c = ctx;
    json_object *root = NULL;
    struct kv_movement_record *m = NULL;
    struct kv_declaration *d = NULL;
    struct kv_corridor_out out;
    kv_corridor_out_init(&out);
    char detail[KV_STORE_DETAIL_MAX] = "";
    char *body2 = NULL;
    int rc = KV_EPARSE;
    const char *body;
    size_t blen, ol = 0;
    if (!body_of(msg, &body, &blen) || !(root = parse(body, blen))) {
        refuse(why, 422, R_BODY, "the body cannot be read");
        goto out;
    }
    const char *office = str_member(root, "office", &ol);
    const struct kv_office *o = office ? kv_ref_office(c->ref, office, ol) : NULL;
    if (!o || memcmp(o->country, msg->sender, 2) != 0) {
        refuse(why, 403, R_REASON,
               "the reason must be an office of %s in the office registry; \"%.8s\" is not",
               msg->sender, office ? office : "");
        goto out;
    }
    rc = own_movement(c, msg, &m, &d, why);
    if (rc == KV_ENOTFOUND) {
        rc = record_only(c, msg, claim, "no such movement here");
        goto out;
    }
    if (rc != KV_OK)
        goto out;
    size_t body2_len = 0;
    if ((rc = record_body(c, m, NULL, m->summary.limit_date, &body2, &body2_len)) != KV_OK) {
        rc = record_only(c, msg, claim, "the movement's log is not sealed");
        goto out;
    }
    bool aar = strcmp(msg->kind, "CD002C") == 0;
    if ((rc = add_msg(c, &out, msg->sender, aar ? KV_MSG_CD003C : KV_MSG_CD115C, msg->mrn, body2,
                      body2_len)) != KV_OK) {
        refuse(why, 503, "", "cannot build the answer");
        rc = KV_EIO;
        goto out;
    }
    rc = kv_store_peer_add(c->store, msg->mrn, msg->sender, o->ref, msg->kind, claim, out.msgs,
                           out.n, detail);
    if (rc == 0) {
        kv_log_info("%s %s: %s met movement %s at %s; answered with %s", msg->kind, msg->id,
                    msg->sender, msg->mrn, o->ref, aar ? "CD003C" : "CD115C");
        kv_corridor_kick(c);
    } else if (rc != KV_EDUPLICATE && rc != KV_EORDER && rc != KV_ECONFLICT) {
        refuse(why, 503, "", "%s", detail);
    }
out:
    free(body2);
    json_object_put(root);
    kv_store_record_free(m);
    kv_decl_free(d);
    kv_corridor_out_release(&out);
    return rc;
}

static void on_gap(void *ctx, const char *sender, const char *mrn, uint32_t waiting_for)
{
    (void)ctx;
    kv_log_info("a message from %s about %s arrived early: waiting for seq %u (the sender "
                "delivers each stream in order and sends it again until acknowledged)",
                sender, mrn, (unsigned)waiting_for);
}

/* ---- delivery -------------------------------------------------------------- */

static int peer_url(void *ctx, const char *receiver, char *url, size_t urlsz)
{
    struct kv_corridor *c = ctx;
    const struct kv_trust_node *n = kv_trust_node(c->trust, receiver);
    if (!n)
        return KV_ENOTFOUND;
    int w = snprintf(url, urlsz, "%s", n->url);
    while (w > 0 && url[w - 1] == '/')
        url[--w] = '\0';
    return w > 0 && (size_t)w < urlsz ? 0 : KV_ELIMIT;
}

static int sign_cb(void *ctx, const void *envelope, size_t len, char *header, size_t headersz)
{
    struct kv_corridor *c = ctx;
    return kv_envelope_sign(&c->key, envelope, len, header, headersz);
}

/* ---- life ------------------------------------------------------------------ */

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "trust list %s: %s", path, strerror(errno));
        return errno == ENOENT ? KV_ENOTFOUND : KV_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)TRUST_FILE_MAX) {
        snprintf(err, errsz, "trust list %s: not a regular file of at most %u bytes", path,
                 TRUST_FILE_MAX);
        close(fd);
        return KV_EINVAL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return KV_ENOMEM;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return KV_OK;
}

static const struct kv_exchange_kind kinds_table[] = {
    {"CD001C", apply_record, NULL},  {"CD050C", apply_record, NULL},
    {"CD003C", apply_record, NULL},  {"CD115C", apply_record, NULL},
    {"CD181C", apply_record, NULL},  {"CC045C", apply_record, NULL},
    {"CD010C", apply_record, NULL},  {"entry", apply_record, NULL},
    {"CD118C", apply_report, NULL},  {"exit", apply_report, NULL},
    {"CD180C", apply_report, NULL},  {"CD006C", apply_report, NULL},
    {"CD018C", apply_report, NULL},  {"CD002C", apply_request, NULL},
    {"CD114C", apply_request, NULL},
};
#define N_KINDS (sizeof kinds_table / sizeof kinds_table[0])

int kv_corridor_new(const struct kv_corridor_config *cfg, struct kv_corridor **out, char *err,
                    size_t errsz)
{
    *out = NULL;
    if (!cfg || !cfg->store || !cfg->ref || !cfg->country || strlen(cfg->country) != 2 ||
        !cfg->trust_path || !cfg->keys_dir) {
        snprintf(err, errsz,
                 "the corridor needs a store, the office registry, a country, a "
                 "trust list and a key folder");
        return KV_EINVAL;
    }
    struct kv_corridor *c = calloc(1, sizeof *c);
    if (!c || !(c->trust = malloc(sizeof *c->trust))) {
        free(c);
        return KV_ENOMEM;
    }
    c->store = cfg->store;
    c->ref = cfg->ref;
    memcpy(c->country, cfg->country, 3);
    c->metrics = cfg->metrics;
    c->now = cfg->now;
    kv_trust_init(c->trust);

    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(cfg->trust_path, &buf, &len, err, errsz);
    if (rc != KV_OK)
        goto fail;
    struct kv_report rep;
    kv_report_init(&rep);
    rc = kv_trust_from_json(buf, len, "", c->trust, &rep);
    free(buf);
    if (rc != KV_OK) {
        snprintf(err, errsz, "trust list %s: %s", cfg->trust_path,
                 api_first_message(&rep, kv_strerror(rc)));
        kv_report_release(&rep);
        rc = KV_EINVAL;
        goto fail;
    }
    kv_report_release(&rep);
    char detail[256] = "";
    if ((rc = kv_crypto_keys_load(cfg->keys_dir, &c->key, detail, sizeof detail)) != KV_OK) {
        snprintf(err, errsz, "node key in %s: %s", cfg->keys_dir, detail);
        goto fail;
    }
    const struct kv_trust_node *me = kv_trust_node(c->trust, c->country);
    const struct kv_trust_key *k = me ? kv_trust_key(me, c->key.fingerprint) : NULL;
    if (!k) {
        snprintf(err, errsz,
                 "this node's key %s is not one of %s's keys in the trust list %s (add it: "
                 "`kervan trust add`)",
                 c->key.fingerprint, c->country, cfg->trust_path);
        rc = KV_EINVAL;
        goto fail;
    }
    if (!kv_trust_key_valid_at(k, now_s(c)))
        kv_log_warn("this node's key %s is not valid now according to the trust list",
                    c->key.fingerprint);

    struct kv_exchange_kind kinds[N_KINDS];
    for (size_t i = 0; i < N_KINDS; i++) {
        kinds[i] = kinds_table[i];
        kinds[i].ctx = c;
    }
    struct kv_exchange_in_config in = {.store = c->store,
                                       .country = c->country,
                                       .verify = verify,
                                       .verify_ctx = c,
                                       .kinds = kinds,
                                       .n_kinds = N_KINDS,
                                       .on_gap = on_gap,
                                       .gap_ctx = c,
                                       .metrics = c->metrics};
    if ((rc = kv_exchange_in_new(&in, &c->in, err, errsz)) != KV_OK)
        goto fail;
    c->out_cfg = (struct kv_exchange_out_config){.store = c->store,
                                                 .peer_url = peer_url,
                                                 .peer_ctx = c,
                                                 .sign = sign_cb,
                                                 .sign_ctx = c,
                                                 .backoff_base_ms = cfg->backoff_base_ms,
                                                 .backoff_cap_ms = cfg->backoff_cap_ms,
                                                 .timeout_ms = cfg->timeout_ms,
                                                 .metrics = c->metrics};
    *out = c;
    return KV_OK;
fail:
    kv_corridor_free(c);
    return rc;
}

int kv_corridor_register(struct kv_corridor *c, struct kv_http *h)
{
    return kv_exchange_in_register(h, c->in);
}

int kv_corridor_start(struct kv_corridor *c, char *err, size_t errsz)
{
    kv_exchange_out_free(c->out); /* started before and stopped: start afresh */
    c->out = NULL;
    unsigned applied = 0;
    if (kv_exchange_in_drain(c->in, &applied) == 0 && applied)
        kv_log_info("applied %u parked messages whose turn had come", applied);
    return kv_exchange_out_new(&c->out_cfg, &c->out, err, errsz);
}

void kv_corridor_kick(struct kv_corridor *c)
{
    if (c && c->out)
        kv_exchange_out_kick(c->out);
}

void kv_corridor_stop(struct kv_corridor *c)
{
    if (c && c->out)
        kv_exchange_out_stop(c->out);
}

void kv_corridor_free(struct kv_corridor *c)
{
    if (!c)
        return;
    kv_exchange_out_free(c->out);
    kv_exchange_in_free(c->in);
    kv_crypto_keypair_clear(&c->key);
    free(c->trust);
    free(c);
}
