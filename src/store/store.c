/*
 * store.c — the storage front: checks every input against its contract,
 * dispatches reads to the backend, and runs the group-commit writer.
 *
 * The writer is backend-independent. Callers of a write operation put a
 * small request on a FIFO queue and sleep on their own condition variable.
 * One writer thread takes everything queued (up to max_batch requests), opens
 * one transaction, runs each request inside its own savepoint (so a request
 * that fails — a conflict, exhausted funds — is undone alone), commits once,
 * and only then wakes each caller with its own result. While the writer
 * waits for its commit to reach the disk, new requests pile up and form the
 * next batch, so throughput is not bounded by the fsync rate and a lone
 * request is never delayed on purpose.
 *
 * The exchange operations (outbox, inbox) go through the same writer: a
 * message enqueued with an append is in the append's savepoint, so the
 * event and its messages commit together.
 */
#include "store/store.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BATCH   256
#define DEFAULT_READERS 4
#define MAX_BATCH       4096
#define MAX_READERS     64

const char *const kv_store_states[] = {"accepted",    "under_control", "not_released",
                                       "released",    "arrived",       "discrepancies",
                                       "written_off", "cancelled",     NULL};

/* One write request, living on its caller's stack until `done`. */
enum wop_kind {
    WOP_LODGE,
    WOP_APPEND,
    WOP_GUARANTEE,
    WOP_TOKEN,
    WOP_OUTBOX_ENQUEUE,
    WOP_OUTBOX_SETTLE,
    WOP_OUTBOX_PRUNE,
    WOP_INBOX_APPLY,
    WOP_INBOX_PARK,
    WOP_REPLICA_PUT,
    WOP_PENDING_ADD,
    WOP_PEER_ADD
};

struct wop {
    enum wop_kind kind;
    union {
        struct {
            const struct kv_lodge *in;
            struct kv_lodge_result *out;
        } lodge;
        struct {
            const char *mrn;
            uint32_t expected_seq;
            const struct kv_append *ev;
        } append;
        struct {
            const struct kv_guarantee_reg *g;
            bool *created;
        } guarantee;
        struct {
            const uint8_t *hash;
            const char *role, *subject, *label;
        } token;
        struct {
            const struct kv_outmsg *msgs;
            size_t n;
        } enqueue;
        struct {
            const struct kv_outbox_settle *v;
            size_t n;
            int *results;
        } settle;
        struct {
            int64_t before_ms;
            unsigned limit;
            uint64_t *removed;
        } prune;
        struct {
            const struct kv_inbox_in *in;
            const uint8_t *hash;
            const struct kv_outmsg *out;
            size_t n_out;
            uint32_t *waiting_for; /* park only */
        } inbox;
        struct {
            const struct kv_replica *r;
        } replica;
        struct {
            const char *mrn;
            uint32_t expected_seq, expected_pending;
            const struct kv_event_in *ev;
            const char *state;
            unsigned flags;
            const struct kv_outmsg *out;
            size_t n_out;
        } pending;
        struct {
            const char *mrn, *country, *office, *kind;
            const struct kv_inbox_in *claim;
            const struct kv_outmsg *out;
            size_t n_out;
        } peer;
    } u;
    int64_t now;    /* epoch seconds */
    int64_t now_ms; /* epoch milliseconds (exchange operations) */
    int rc;
    bool done;
    char detail[KV_STORE_DETAIL_MAX];
    pthread_cond_t cv;
    struct wop *next;
};

struct kv_store {
    const struct kv_store_backend_ops *ops;
    void *be;
    unsigned max_batch;
    struct wop **batch; /* the writer's scratch array, max_batch entries */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t wake;
    struct wop *head, *tail;
    unsigned depth;
    bool stopping;
    pthread_t writer;
    bool writer_started;
    uint64_t commits, failed_commits, ops_done;
    unsigned max_seen;
};

static const struct {
    const char *name;
    const struct kv_store_backend_ops *ops;
} backends[] = {
    {"sqlite", &kv_store_sqlite_ops},
};

/* ---------------------------------------------------------------------------
 * Small helpers
 */

void kv_store_detail(char *detail, const char *fmt, ...)
{
    if (!detail)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, KV_STORE_DETAIL_MAX, fmt, ap);
    va_end(ap);
}

const char *kv_store_strerror(int err)
{
    switch (err) {
    case KV_ECONFLICT:
        return "conflicts with what is stored";
    case KV_ESTALE:
        return "stale: the movement has changed";
    case KV_EFUNDS:
        return "guarantee cannot cover the amount";
    case KV_ECORRUPT:
        return "database check failed";
    case KV_EVERSION:
        return "database schema is newer than this program";
    case KV_EBUSY:
        return "database in use by another process";
    case KV_ECLOSED:
        return "store is closing";
    case KV_EDUPLICATE:
        return "message already applied";
    case KV_EORDER:
        return "message out of order: a predecessor is missing";
    default:
        return kv_strerror(err);
    }
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void sodium_start(void)
{
    sodium_rc = sodium_init() < 0 ? -1 : 0;
}

void kv_store_hash(const void *buf, size_t len, uint8_t out[KV_STORE_HASH_LEN])
{
    pthread_once(&sodium_once, sodium_start);
    crypto_generichash(out, KV_STORE_HASH_LEN, buf, len, NULL, 0);
}

static int64_t now_epoch(void)
{
    return (int64_t)time(NULL);
}

static int64_t now_epoch_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------
 * Input contracts. Each returns true when v is acceptable; `max` is the size
 * of the array the value must fit in (so at most max - 1 characters).
 */

enum charset {
    CS_HEX_LOWER,
    CS_KIND,
    CS_UPPER_ALNUM,
    CS_UPPER,
    CS_LOWER_WORD,
    CS_PRINT,
    CS_PRINT_SPACE,
    CS_DECIMAL,
    CS_PATH /* no control characters; UTF-8 allowed */
};

static bool char_ok(unsigned char c, enum charset cs)
{
    switch (cs) {
    case CS_HEX_LOWER:
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    case CS_KIND:
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    case CS_UPPER_ALNUM:
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    case CS_UPPER:
        return c >= 'A' && c <= 'Z';
    case CS_LOWER_WORD:
        return (c >= 'a' && c <= 'z') || c == '_';
    case CS_PRINT:
        return c > 0x20 && c < 0x7f;
    case CS_PRINT_SPACE:
        return c >= 0x20 && c < 0x7f;
    case CS_DECIMAL:
        return (c >= '0' && c <= '9') || c == '.';
    case CS_PATH:
        return c >= 0x20 && c != 0x7f;
    }
    return false;
}

static bool text_ok(const char *v, size_t min, size_t max, enum charset cs)
{
    if (!v)
        return false;
    size_t n = strnlen(v, max);
    if (n < min || n >= max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!char_ok((unsigned char)v[i], cs))
            return false;
    return true;
}

/* Exactly `len` characters. */
static bool fixed_ok(const char *v, size_t len, enum charset cs)
{
    return text_ok(v, len, len + 1, cs);
}

static bool state_ok(const char *v)
{
    if (!v)
        return false;
    for (size_t i = 0; kv_store_states[i]; i++)
        if (strcmp(v, kv_store_states[i]) == 0)
            return true;
    return false;
}

static bool json_ok(const char *v, size_t len)
{
    return v && len > 0 && len <= KV_STORE_JSON_MAX && !memchr(v, '\0', len);
}

int kv_store_check_seal(const struct kv_event_seal *seal, bool need_link, const char *what,
                        char *detail)
{
    if (!seal) {
        kv_store_detail(detail, "%s: no seal", what);
        return KV_EINVAL;
    }
    if (!fixed_ok(seal->node, 2, CS_UPPER)) {
        kv_store_detail(detail, "%s: seal node of two upper-case letters expected", what);
        return KV_EINVAL;
    }
    if (!text_ok(seal->keyid, 1, KV_STORE_KEYID_MAX, CS_PRINT)) {
        kv_store_detail(detail, "%s: seal keyid of 1-%d printable characters expected", what,
                        KV_STORE_KEYID_MAX - 1);
        return KV_EINVAL;
    }
    if (need_link && !seal->has_link) {
        kv_store_detail(detail, "%s: seal without a link (not ordered by the owner)", what);
        return KV_EINVAL;
    }
    if (seal->has_link && !text_ok(seal->order_keyid, 1, KV_STORE_KEYID_MAX, CS_PRINT)) {
        kv_store_detail(detail, "%s: seal order_keyid of 1-%d printable characters expected", what,
                        KV_STORE_KEYID_MAX - 1);
        return KV_EINVAL;
    }
    return 0;
}

static int check_event(const struct kv_event_in *e, char *detail)
{
    if (!text_ok(e->type, 1, KV_STORE_EVENT_TYPE_MAX, CS_LOWER_WORD))
        goto bad_type;
    if (!text_ok(e->time, 1, KV_STORE_TIME_MAX, CS_PRINT)) {
        kv_store_detail(detail, "event time: RFC 3339 text of 1-%d characters expected",
                        KV_STORE_TIME_MAX - 1);
        return KV_EINVAL;
    }
    if (e->office && !fixed_ok(e->office, 8, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "event office: 8 characters [A-Z0-9] expected");
        return KV_EINVAL;
    }
    if (!text_ok(e->actor_role, 1, KV_STORE_ROLE_MAX, CS_LOWER_WORD)) {
        kv_store_detail(detail, "event actor role: [a-z_] text of 1-%d characters expected",
                        KV_STORE_ROLE_MAX - 1);
        return KV_EINVAL;
    }
    if (e->actor_id && !text_ok(e->actor_id, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "event actor id: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (!json_ok(e->json, e->json_len)) {
        kv_store_detail(detail, "event JSON: 1 to %u bytes without NUL expected",
                        KV_STORE_JSON_MAX);
        return KV_EINVAL;
    }
    return 0;
bad_type:
    kv_store_detail(detail, "event type: [a-z_] text of 1-%d characters expected",
                    KV_STORE_EVENT_TYPE_MAX - 1);
    return KV_EINVAL;
}

static int check_hash(const char *json, size_t len, const uint8_t *hash, char *detail)
{
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(json, len, h);
    if (memcmp(h, hash, sizeof h) != 0) {
        kv_store_detail(detail, "declaration hash does not match its bytes (BLAKE2b-256)");
        return KV_EINVAL;
    }
    return 0;
}

static int check_lodge(const struct kv_lodge *in, char *detail)
{
    if (!text_ok(in->holder, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "holder: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (!text_ok(in->lrn, 1, KV_STORE_LRN_MAX, CS_PRINT)) {
        kv_store_detail(detail, "LRN: printable text of 1-%d characters expected",
                        KV_STORE_LRN_MAX - 1);
        return KV_EINVAL;
    }
    if (!json_ok(in->declaration, in->declaration_len)) {
        kv_store_detail(detail, "declaration: 1 to %u bytes of JSON without NUL expected",
                        KV_STORE_JSON_MAX);
        return KV_EINVAL;
    }
    if (!fixed_ok(in->office_departure, 8, CS_UPPER_ALNUM) ||
        !fixed_ok(in->office_destination, 8, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "office of departure/destination: 8 characters [A-Z0-9] expected");
        return KV_EINVAL;
    }
    if (in->n_offices > KV_STORE_OFFICES_MAX || (in->n_offices && !in->offices)) {
        kv_store_detail(detail, "offices: at most %d expected", KV_STORE_OFFICES_MAX);
        return KV_EINVAL;
    }
    for (size_t i = 0; i < in->n_offices; i++) {
        if (!fixed_ok(in->offices[i], 8, CS_UPPER_ALNUM)) {
            kv_store_detail(detail, "offices[%zu]: 8 characters [A-Z0-9] expected", i);
            return KV_EINVAL;
        }
    }
    if (in->security < 0 || in->security > 3) {
        kv_store_detail(detail, "security indicator: 0-3 expected, got %d", in->security);
        return KV_EINVAL;
    }
    if (in->year < 2000 || in->year > 2099) {
        kv_store_detail(detail, "year: 2000-2099 expected, got %d", in->year);
        return KV_EINVAL;
    }
    if (in->n_guarantees > KV_STORE_GUARANTEES_MAX || (in->n_guarantees && !in->guarantees)) {
        kv_store_detail(detail, "guarantee uses: at most %d expected", KV_STORE_GUARANTEES_MAX);
        return KV_EINVAL;
    }
    for (size_t i = 0; i < in->n_guarantees; i++) {
        const struct kv_guarantee_use *u = &in->guarantees[i];
        if (!text_ok(u->grn, 1, KV_STORE_GRN_MAX, CS_UPPER_ALNUM)) {
            kv_store_detail(detail, "guarantee use %zu: GRN of 1-%d characters [A-Z0-9] expected",
                            i, KV_STORE_GRN_MAX - 1);
            return KV_EINVAL;
        }
        if (u->amount <= 0 || u->amount > KV_STORE_AMOUNT_MAX) {
            kv_store_detail(detail, "guarantee use %zu: amount 1-%lld minor units expected", i,
                            (long long)KV_STORE_AMOUNT_MAX);
            return KV_EINVAL;
        }
        if (!fixed_ok(u->currency, 3, CS_UPPER)) {
            kv_store_detail(detail, "guarantee use %zu: currency of 3 letters expected", i);
            return KV_EINVAL;
        }
    }
    int rc = check_event(&in->event, detail);
    if (rc)
        return rc;
    if (!in->seal_first && in->event.seal &&
        (rc = kv_store_check_seal(in->event.seal, true, "event", detail)) != 0)
        return rc;
    if (!state_ok(in->state)) {
        kv_store_detail(detail, "state: not a movement state");
        return KV_EINVAL;
    }
    if (in->created < 0 || in->limit_date < 0) {
        kv_store_detail(detail, "created/limit date: epoch seconds >= 0 expected");
        return KV_EINVAL;
    }
    if (in->gross_mass && !text_ok(in->gross_mass, 0, KV_STORE_MASS_MAX, CS_DECIMAL)) {
        kv_store_detail(detail, "gross mass: decimal text of at most %d characters expected",
                        KV_STORE_MASS_MAX - 1);
        return KV_EINVAL;
    }
    return check_hash(in->declaration, in->declaration_len, in->hash, detail);
}

static int check_mrn(const char *mrn, char *detail)
{
    if (!fixed_ok(mrn, KV_MRN_LEN, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "MRN: %d characters [A-Z0-9] expected", KV_MRN_LEN);
        return KV_EINVAL;
    }
    return 0;
}

static int check_append(const char *mrn, const struct kv_append *ev, char *detail)
{
    int rc = check_mrn(mrn, detail);
    if (rc)
        return rc;
    rc = check_event(&ev->event, detail);
    if (rc)
        return rc;
    if (ev->event.seal && (rc = kv_store_check_seal(ev->event.seal, true, "event", detail)) != 0)
        return rc;
    if (!state_ok(ev->state)) {
        kv_store_detail(detail, "state: not a movement state");
        return KV_EINVAL;
    }
    if (ev->gross_mass && !text_ok(ev->gross_mass, 0, KV_STORE_MASS_MAX, CS_DECIMAL)) {
        kv_store_detail(detail, "gross mass: decimal text of at most %d characters expected",
                        KV_STORE_MASS_MAX - 1);
        return KV_EINVAL;
    }
    if (ev->set_limit_date && ev->limit_date < 0) {
        kv_store_detail(detail, "limit date: epoch seconds >= 0 expected");
        return KV_EINVAL;
    }
    if (ev->declaration || ev->hash) {
        if (!ev->declaration || !ev->hash || !json_ok(ev->declaration, ev->declaration_len)) {
            kv_store_detail(detail, "amendment: declaration JSON and its hash expected");
            return KV_EINVAL;
        }
        return check_hash(ev->declaration, ev->declaration_len, ev->hash, detail);
    }
    return 0;
}

static int check_guarantee(const struct kv_guarantee_reg *g, char *detail)
{
    if (!text_ok(g->grn, 1, KV_STORE_GRN_MAX, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "GRN: 1-%d characters [A-Z0-9] expected", KV_STORE_GRN_MAX - 1);
        return KV_EINVAL;
    }
    if (!text_ok(g->guarantor, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "guarantor: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (g->reference < 0 || g->reference > KV_STORE_AMOUNT_MAX) {
        kv_store_detail(detail, "reference amount: 0-%lld minor units expected",
                        (long long)KV_STORE_AMOUNT_MAX);
        return KV_EINVAL;
    }
    if (!fixed_ok(g->currency, 3, CS_UPPER)) {
        kv_store_detail(detail, "currency: 3 upper-case letters expected");
        return KV_EINVAL;
    }
    return 0;
}

/* Checks the parts of a message both directions share. `who` is "receiver"
 * or "sender"; `what` names the message in the detail ("message 3"). */
static int check_msg_common(const char *id, const char *node, const char *who, const char *kind,
                            const char *mrn, uint32_t seq, const void *env, size_t env_len,
                            const char *sig, const char *what, char *detail)
{
    if (!fixed_ok(id, KV_STORE_MSG_ID_LEN, CS_HEX_LOWER)) {
        kv_store_detail(detail, "%s: id of %d lower-case hex characters expected", what,
                        KV_STORE_MSG_ID_LEN);
        return KV_EINVAL;
    }
    if (!fixed_ok(node, 2, CS_UPPER)) {
        kv_store_detail(detail, "%s: %s of two upper-case letters expected", what, who);
        return KV_EINVAL;
    }
    if (!text_ok(kind, 1, KV_STORE_KIND_MAX, CS_KIND)) {
        kv_store_detail(detail, "%s: kind of 1-%d characters [A-Za-z0-9_] expected", what,
                        KV_STORE_KIND_MAX - 1);
        return KV_EINVAL;
    }
    if (!fixed_ok(mrn, KV_MRN_LEN, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "%s: MRN of %d characters [A-Z0-9] expected", what, KV_MRN_LEN);
        return KV_EINVAL;
    }
    if (seq == 0 || seq == UINT32_MAX) {
        kv_store_detail(detail, "%s: seq 1 or more expected", what);
        return KV_EINVAL;
    }
    if (!env || env_len == 0 || env_len > KV_STORE_ENVELOPE_MAX) {
        kv_store_detail(detail, "%s: envelope of 1 to %u bytes expected", what,
                        KV_STORE_ENVELOPE_MAX);
        return KV_EINVAL;
    }
    if (sig && sig[0] && !text_ok(sig, 1, KV_STORE_SIGNATURE_MAX, CS_PRINT_SPACE)) {
        kv_store_detail(detail, "%s: signature of at most %d printable characters expected", what,
                        KV_STORE_SIGNATURE_MAX - 1);
        return KV_EINVAL;
    }
    return 0;
}

int kv_store_check_outmsgs(const struct kv_outmsg *m, size_t n, const char *country, char *detail)
{
    if (n && !m) {
        kv_store_detail(detail, "outgoing messages: none given");
        return KV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char what[40];
        snprintf(what, sizeof what, "outgoing message %zu", i);
        int rc = check_msg_common(m[i].id, m[i].receiver, "receiver", m[i].kind, m[i].mrn, m[i].seq,
                                  m[i].envelope, m[i].envelope_len, m[i].signature, what, detail);
        if (rc)
            return rc;
        if (country && strcmp(m[i].receiver, country) == 0) {
            kv_store_detail(detail, "%s: the receiver is this node (%s)", what, country);
            return KV_EINVAL;
        }
    }
    return 0;
}

static int check_out_list(const struct kv_outmsg *m, size_t n, size_t max, const char *country,
                          char *detail)
{
    if (n > max) {
        kv_store_detail(detail, "outgoing messages: at most %zu expected, got %zu", max, n);
        return KV_EINVAL;
    }
    return kv_store_check_outmsgs(m, n, country, detail);
}

static int check_inbox_in(const struct kv_inbox_in *in, const char *country, char *detail)
{
    if (!in) {
        kv_store_detail(detail, "no received message");
        return KV_EINVAL;
    }
    int rc =
        check_msg_common(in->id, in->sender, "sender", in->kind, in->mrn, in->seq, in->envelope,
                         in->envelope_len, in->signature, "received message", detail);
    if (rc)
        return rc;
    if (strcmp(in->sender, country) == 0) {
        kv_store_detail(detail, "received message: the sender is this node (%s)", country);
        return KV_EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * The group-commit writer
 */

static int run_op(struct kv_store *s, struct wop *op)
{
    const struct kv_store_backend_ops *o = s->ops;
    switch (op->kind) {
    case WOP_LODGE:
        return o->w_lodge(s->be, op->u.lodge.in, op->now, op->u.lodge.out, op->detail);
    case WOP_APPEND:
        return o->w_append(s->be, op->u.append.mrn, op->u.append.expected_seq, op->u.append.ev,
                           op->now, op->detail);
    case WOP_GUARANTEE:
        return o->w_guarantee_register(s->be, op->u.guarantee.g, op->now, op->u.guarantee.created,
                                       op->detail);
    case WOP_TOKEN:
        return o->w_token_add(s->be, op->u.token.hash, op->u.token.role, op->u.token.subject,
                              op->u.token.label, op->now, op->detail);
    case WOP_OUTBOX_ENQUEUE:
        return o->w_outbox_enqueue(s->be, op->u.enqueue.msgs, op->u.enqueue.n, op->now_ms,
                                   op->detail);
    case WOP_OUTBOX_SETTLE:
        return o->w_outbox_settle(s->be, op->u.settle.v, op->u.settle.n, op->now_ms,
                                  op->u.settle.results, op->detail);
    case WOP_OUTBOX_PRUNE:
        return o->w_outbox_prune(s->be, op->u.prune.before_ms, op->u.prune.limit,
                                 op->u.prune.removed, op->detail);
    case WOP_INBOX_APPLY:
        return o->w_inbox_apply(s->be, op->u.inbox.in, op->u.inbox.hash, op->u.inbox.out,
                                op->u.inbox.n_out, op->now_ms, op->detail);
    case WOP_INBOX_PARK:
        return o->w_inbox_park(s->be, op->u.inbox.in, op->u.inbox.hash, op->now_ms,
                               op->u.inbox.waiting_for, op->detail);
    case WOP_REPLICA_PUT:
        return o->w_replica_put(s->be, op->u.replica.r, op->now, op->detail);
    case WOP_PENDING_ADD:
        return o->w_pending_add(s->be, op->u.pending.mrn, op->u.pending.expected_seq,
                                op->u.pending.expected_pending, op->u.pending.ev,
                                op->u.pending.state, op->u.pending.flags, op->u.pending.out,
                                op->u.pending.n_out, op->now, op->detail);
    case WOP_PEER_ADD:
        return o->w_peer_add(s->be, op->u.peer.mrn, op->u.peer.country, op->u.peer.office,
                             op->u.peer.kind, op->u.peer.claim, op->u.peer.out, op->u.peer.n_out,
                             op->now, op->detail);
    }
    return KV_EINVAL;
}

/* Marks every op of the batch failed: nothing of it was committed. */
static void fail_batch(struct wop **batch, size_t n, int rc, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        batch[i]->rc = rc;
        kv_store_detail(batch[i]->detail, "not stored: %s", why);
    }
}

/*
 * Runs one batch in one transaction. Returns true when it was committed (the
 * ops' own rc then stands), false when the batch failed as a whole (every op
 * then has an error).
 */
static bool run_batch(struct kv_store *s, struct wop **batch, size_t n)
{
    const struct kv_store_backend_ops *o = s->ops;
    char why[KV_STORE_DETAIL_MAX] = "";
    int rc = o->w_begin(s->be, why);
    if (rc) {
        fail_batch(batch, n, rc, why);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct wop *op = batch[i];
        rc = o->w_savepoint(s->be, why);
        if (rc)
            goto lost;
        op->rc = run_op(s, op);
        if (!o->w_in_txn(s->be)) {
            snprintf(why, sizeof why, "transaction aborted: %.200s", op->detail);
            rc = op->rc ? op->rc : KV_EIO;
            goto lost;
        }
        rc = o->w_release(s->be, op->rc != 0, why);
        if (rc)
            goto lost;
    }
    rc = o->w_commit(s->be, why);
    if (rc)
        goto lost;
    return true;
lost:
    o->w_rollback(s->be);
    fail_batch(batch, n, rc == KV_ENOMEM ? KV_ENOMEM : KV_EIO, why);
    return false;
}

static void *writer_main(void *arg)
{
    struct kv_store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->wake, &s->mu);
        if (!s->head)
            break; /* stopping, and the queue is drained */
        size_t n = 0;
        while (s->head && n < s->max_batch) {
            s->batch[n++] = s->head;
            s->head = s->head->next;
        }
        if (!s->head)
            s->tail = NULL;
        s->depth -= (unsigned)n;
        pthread_mutex_unlock(&s->mu);

        bool committed = run_batch(s, s->batch, n);

        pthread_mutex_lock(&s->mu);
        if (committed) {
            s->commits++;
            s->ops_done += n;
            if (n > s->max_seen)
                s->max_seen = (unsigned)n;
        } else {
            s->failed_commits++;
        }
        /* After `done` is set the caller may return and its op vanish:
         * nothing below touches an op once it is released. */
        for (size_t i = 0; i < n; i++) {
            s->batch[i]->done = true;
            pthread_cond_signal(&s->batch[i]->cv);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Queues op, waits until the writer has run it, returns its result. */
static int submit(struct kv_store *s, struct wop *op, char *detail)
{
    op->rc = 0;
    op->done = false;
    op->detail[0] = '\0';
    op->next = NULL;
    if (pthread_cond_init(&op->cv, NULL) != 0) {
        kv_store_detail(detail, "cannot create a condition variable");
        return KV_ENOMEM;
    }
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&op->cv);
        kv_store_detail(detail, "the store is closing");
        return KV_ECLOSED;
    }
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    s->depth++;
    pthread_cond_signal(&s->wake);
    while (!op->done)
        pthread_cond_wait(&op->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&op->cv);
    if (op->rc && detail)
        memcpy(detail, op->detail, KV_STORE_DETAIL_MAX);
    return op->rc;
}

/* ---------------------------------------------------------------------------
 * Opening and closing
 */

int kv_store_open(const struct kv_store_config *cfg, struct kv_store **out, char *detail)
{
    if (!cfg || !out) {
        kv_store_detail(detail, "no configuration");
        return KV_EINVAL;
    }
    *out = NULL;
    const char *name = cfg->backend ? cfg->backend : "sqlite";
    const struct kv_store_backend_ops *ops = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(name, backends[i].name) == 0)
            ops = backends[i].ops;
    if (!ops) {
        kv_store_detail(detail, "unknown storage backend \"%.32s\"", name);
        return KV_EINVAL;
    }
    if (!text_ok(cfg->path, 1, KV_STORE_PATH_MAX - 16, CS_PATH)) {
        kv_store_detail(detail, "data folder: a path of 1-%d characters expected",
                        KV_STORE_PATH_MAX - 17);
        return KV_EINVAL;
    }
    if (cfg->country && !fixed_ok(cfg->country, 2, CS_UPPER)) {
        kv_store_detail(detail, "country: two upper-case letters expected");
        return KV_EINVAL;
    }
    if (cfg->max_batch > MAX_BATCH || cfg->readers > MAX_READERS) {
        kv_store_detail(detail, "max_batch <= %d and readers <= %d expected", MAX_BATCH,
                        MAX_READERS);
        return KV_EINVAL;
    }
    pthread_once(&sodium_once, sodium_start);
    if (sodium_rc != 0) {
        kv_store_detail(detail, "libsodium failed to initialise");
        return KV_EIO;
    }

    struct kv_store_config c = *cfg;
    c.backend = name;
    c.max_batch = cfg->max_batch ? cfg->max_batch : DEFAULT_BATCH;
    c.readers = cfg->readers ? cfg->readers : DEFAULT_READERS;

    struct kv_store *s = calloc(1, sizeof *s);
    if (!s) {
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    s->ops = ops;
    s->max_batch = c.max_batch;
    s->batch = calloc(s->max_batch, sizeof *s->batch);
    if (!s->batch) {
        free(s);
        kv_store_detail(detail, "out of memory");
        return KV_ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);

    int rc = ops->open(&c, &s->be, detail);
    if (rc)
        goto fail;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        kv_store_detail(detail, "cannot start the writer thread");
        rc = KV_ENOMEM;
        goto fail;
    }
    s->writer_started = true;
    *out = s;
    return 0;
fail:
    if (s->be)
        ops->close(s->be);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s->batch);
    free(s);
    return rc;
}

const char *kv_store_country(const struct kv_store *s)
{
    return s->ops->country(s->be);
}

void kv_store_close(struct kv_store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    if (s->writer_started)
        pthread_join(s->writer, NULL);
    s->ops->close(s->be);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s->batch);
    free(s);
}

/* ---------------------------------------------------------------------------
 * Write operations
 */

int kv_store_lodge(struct kv_store *s, const struct kv_lodge *in, struct kv_lodge_result *out,
                   char *detail)
{
    if (!s || !in || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    int rc = check_lodge(in, detail);
    if (rc)
        return rc;
    rc = check_out_list(in->out, in->n_out, KV_STORE_OUT_MAX, kv_store_country(s), detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_LODGE};
    op.u.lodge.in = in;
    op.u.lodge.out = out;
    op.now = in->created ? in->created : now_epoch();
    rc = submit(s, &op, detail);
    if (rc) {
        /* Only a conflict names a stored movement; anything else stored nothing. */
        if (rc != KV_ECONFLICT)
            out->mrn[0] = '\0';
        out->replay = false;
        if (rc != KV_EFUNDS)
            memset(&out->funds, 0, sizeof out->funds);
    }
    return rc;
}

int kv_store_append(struct kv_store *s, const char *mrn, uint32_t expected_seq,
                    const struct kv_append *ev, char *detail)
{
    if (!s || !ev) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    int rc = check_append(mrn, ev, detail);
    if (rc)
        return rc;
    if (expected_seq == 0 || expected_seq == UINT32_MAX) {
        kv_store_detail(detail, "expected seq: 1 or more expected (1 = the lodged event)");
        return KV_EINVAL;
    }
    rc = check_out_list(ev->out, ev->n_out, KV_STORE_OUT_MAX, kv_store_country(s), detail);
    if (rc)
        return rc;
    if (ev->inbox && (rc = check_inbox_in(ev->inbox, kv_store_country(s), detail)) != 0)
        return rc;
    struct wop op = {.kind = WOP_APPEND};
    op.u.append.mrn = mrn;
    op.u.append.expected_seq = expected_seq;
    op.u.append.ev = ev;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

int kv_store_guarantee_register(struct kv_store *s, const struct kv_guarantee_reg *g, bool *created,
                                char *detail)
{
    if (!s || !g) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    int rc = check_guarantee(g, detail);
    if (rc)
        return rc;
    bool scratch = false;
    struct wop op = {.kind = WOP_GUARANTEE};
    op.u.guarantee.g = g;
    op.u.guarantee.created = created ? created : &scratch;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

int kv_store_token_add(struct kv_store *s, const uint8_t hash[KV_STORE_HASH_LEN], const char *role,
                       const char *subject, const char *label, char *detail)
{
    if (!s || !hash) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    if (!text_ok(role, 1, KV_STORE_ROLE_MAX, CS_LOWER_WORD)) {
        kv_store_detail(detail, "role: [a-z_] text of 1-%d characters expected",
                        KV_STORE_ROLE_MAX - 1);
        return KV_EINVAL;
    }
    if (subject && !text_ok(subject, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "subject: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (label && !text_ok(label, 0, KV_STORE_LABEL_MAX, CS_PRINT_SPACE)) {
        kv_store_detail(detail, "label: printable text of at most %d characters expected",
                        KV_STORE_LABEL_MAX - 1);
        return KV_EINVAL;
    }
    struct wop op = {.kind = WOP_TOKEN};
    op.u.token.hash = hash;
    op.u.token.role = role;
    op.u.token.subject = subject;
    op.u.token.label = label;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

/* ---------------------------------------------------------------------------
 * Replicas, pending events, peers (schema 3)
 */

/* The country an MRN names (characters 3-4) is `country`. */
static bool mrn_of(const char *mrn, const char *country)
{
    return mrn[2] == country[0] && mrn[3] == country[1];
}

static int check_replica(const struct kv_replica *r, const char *country, char *detail)
{
    int rc = check_mrn(r->mrn, detail);
    if (rc)
        return rc;
    if (mrn_of(r->mrn, country)) {
        kv_store_detail(detail, "MRN %s names this node's country (%s): not a replica", r->mrn,
                        country);
        return KV_EINVAL;
    }
    if (!text_ok(r->holder, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "holder: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (!text_ok(r->lrn, 1, KV_STORE_LRN_MAX, CS_PRINT)) {
        kv_store_detail(detail, "LRN: printable text of 1-%d characters expected",
                        KV_STORE_LRN_MAX - 1);
        return KV_EINVAL;
    }
    if (!json_ok(r->declaration, r->declaration_len)) {
        kv_store_detail(detail, "declaration: 1 to %u bytes of JSON without NUL expected",
                        KV_STORE_JSON_MAX);
        return KV_EINVAL;
    }
    rc = check_hash(r->declaration, r->declaration_len, r->hash, detail);
    if (rc)
        return rc;
    if (!fixed_ok(r->office_departure, 8, CS_UPPER_ALNUM) ||
        !fixed_ok(r->office_destination, 8, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "office of departure/destination: 8 characters [A-Z0-9] expected");
        return KV_EINVAL;
    }
    if (!mrn_of(r->mrn, r->office_departure)) {
        kv_store_detail(detail, "office of departure %s is not of the MRN's country (%.2s)",
                        r->office_departure, r->mrn + 2);
        return KV_EINVAL;
    }
    if (r->n_offices > KV_STORE_OFFICES_MAX || (r->n_offices && !r->offices)) {
        kv_store_detail(detail, "offices: at most %d expected", KV_STORE_OFFICES_MAX);
        return KV_EINVAL;
    }
    for (size_t i = 0; i < r->n_offices; i++) {
        if (!fixed_ok(r->offices[i], 8, CS_UPPER_ALNUM)) {
            kv_store_detail(detail, "offices[%zu]: 8 characters [A-Z0-9] expected", i);
            return KV_EINVAL;
        }
    }
    if (r->security < 0 || r->security > 3) {
        kv_store_detail(detail, "security indicator: 0-3 expected, got %d", r->security);
        return KV_EINVAL;
    }
    if (r->n_events == 0 || r->n_events > KV_STORE_REPLICA_EVENTS_MAX || !r->events) {
        kv_store_detail(detail, "events: 1-%d expected", KV_STORE_REPLICA_EVENTS_MAX);
        return KV_EINVAL;
    }
    for (size_t i = 0; i < r->n_events; i++) {
        char what[32];
        snprintf(what, sizeof what, "event %zu", i + 1);
        rc = check_event(&r->events[i], detail);
        if (rc) {
            if (detail) {
                char inner[KV_STORE_DETAIL_MAX];
                memcpy(inner, detail, sizeof inner);
                kv_store_detail(detail, "%s: %.200s", what, inner);
            }
            return rc;
        }
        rc = kv_store_check_seal(r->events[i].seal, true, what, detail);
        if (rc)
            return rc;
    }
    if (!state_ok(r->state)) {
        kv_store_detail(detail, "state: not a movement state");
        return KV_EINVAL;
    }
    if (r->created < 0 || r->limit_date < 0) {
        kv_store_detail(detail, "created/limit date: epoch seconds >= 0 expected");
        return KV_EINVAL;
    }
    if (r->gross_mass && !text_ok(r->gross_mass, 0, KV_STORE_MASS_MAX, CS_DECIMAL)) {
        kv_store_detail(detail, "gross mass: decimal text of at most %d characters expected",
                        KV_STORE_MASS_MAX - 1);
        return KV_EINVAL;
    }
    if (!r->inbox) {
        kv_store_detail(detail, "the received message that brought the replica is required");
        return KV_EINVAL;
    }
    rc = check_inbox_in(r->inbox, country, detail);
    if (rc)
        return rc;
    return check_out_list(r->out, r->n_out, KV_STORE_OUT_MAX, country, detail);
}

int kv_store_replica_put(struct kv_store *s, const struct kv_replica *r, char *detail)
{
    if (!s || !r) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    int rc = check_replica(r, kv_store_country(s), detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_REPLICA_PUT};
    op.u.replica.r = r;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

int kv_store_pending_add(struct kv_store *s, const char *mrn, uint32_t expected_seq,
                         uint32_t expected_pending, const struct kv_event_in *ev, const char *state,
                         unsigned flags, const struct kv_outmsg *out, size_t n_out, char *detail)
{
    if (!s || !ev) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    const char *country = kv_store_country(s);
    int rc = check_mrn(mrn, detail);
    if (rc)
        return rc;
    if (mrn_of(mrn, country)) {
        kv_store_detail(detail, "MRN %s is this node's own: append, not pending", mrn);
        return KV_EINVAL;
    }
    if (expected_seq == 0 || expected_seq == UINT32_MAX) {
        kv_store_detail(detail, "expected seq: 1 or more expected (1 = the lodged event)");
        return KV_EINVAL;
    }
    rc = check_event(ev, detail);
    if (rc)
        return rc;
    rc = kv_store_check_seal(ev->seal, false, "pending event", detail);
    if (rc)
        return rc;
    if (ev->seal->has_link) {
        kv_store_detail(detail, "pending event: its seal has a link (ordered events are appended)");
        return KV_EINVAL;
    }
    if (strcmp(ev->seal->node, country) != 0) {
        kv_store_detail(detail, "pending event: sealed by %s, not this node (%s)", ev->seal->node,
                        country);
        return KV_EINVAL;
    }
    if (!state_ok(state)) {
        kv_store_detail(detail, "state: not a movement state");
        return KV_EINVAL;
    }
    rc = check_out_list(out, n_out, KV_STORE_OUT_MAX, country, detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_PENDING_ADD};
    op.u.pending.mrn = mrn;
    op.u.pending.expected_seq = expected_seq;
    op.u.pending.expected_pending = expected_pending;
    op.u.pending.ev = ev;
    op.u.pending.state = state;
    op.u.pending.flags = flags;
    op.u.pending.out = out;
    op.u.pending.n_out = n_out;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

int kv_store_peer_add(struct kv_store *s, const char *mrn, const char *country, const char *office,
                      const char *kind, const struct kv_inbox_in *claim,
                      const struct kv_outmsg *out, size_t n_out, char *detail)
{
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    const char *self = kv_store_country(s);
    int rc = check_mrn(mrn, detail);
    if (rc)
        return rc;
    if (!fixed_ok(country, 2, CS_UPPER)) {
        kv_store_detail(detail, "country: two upper-case letters expected");
        return KV_EINVAL;
    }
    if (strcmp(country, self) == 0) {
        kv_store_detail(detail, "country %s is this node's own", country);
        return KV_EINVAL;
    }
    if (!fixed_ok(office, 8, CS_UPPER_ALNUM) || office[0] != country[0] ||
        office[1] != country[1]) {
        kv_store_detail(detail, "office: 8 characters [A-Z0-9] of %s expected", country);
        return KV_EINVAL;
    }
    if (!text_ok(kind, 1, KV_STORE_KIND_MAX, CS_KIND)) {
        kv_store_detail(detail, "kind: 1-%d characters [A-Za-z0-9_] expected",
                        KV_STORE_KIND_MAX - 1);
        return KV_EINVAL;
    }
    if (claim && (rc = check_inbox_in(claim, self, detail)) != 0)
        return rc;
    rc = check_out_list(out, n_out, KV_STORE_OUT_MAX, self, detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_PEER_ADD};
    op.u.peer.mrn = mrn;
    op.u.peer.country = country;
    op.u.peer.office = office;
    op.u.peer.kind = kind;
    op.u.peer.claim = claim;
    op.u.peer.out = out;
    op.u.peer.n_out = n_out;
    op.now = now_epoch();
    return submit(s, &op, detail);
}

/* ---------------------------------------------------------------------------
 * Exchange: outbox and inbox
 */

int kv_store_outbox_enqueue(struct kv_store *s, const struct kv_outmsg *msgs, size_t n,
                            char *detail)
{
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    if (n == 0) {
        kv_store_detail(detail, "outgoing messages: at least one expected");
        return KV_EINVAL;
    }
    int rc = check_out_list(msgs, n, KV_STORE_ENQUEUE_MAX, kv_store_country(s), detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_OUTBOX_ENQUEUE};
    op.u.enqueue.msgs = msgs;
    op.u.enqueue.n = n;
    op.now = now_epoch();
    op.now_ms = now_epoch_ms();
    return submit(s, &op, detail);
}

static int check_stream(const char *node, const char *who, const char *mrn, char *detail)
{
    if (!fixed_ok(node, 2, CS_UPPER)) {
        kv_store_detail(detail, "%s: two upper-case letters expected", who);
        return KV_EINVAL;
    }
    return check_mrn(mrn, detail);
}

int kv_store_outbox_seq(struct kv_store *s, const char *receiver, const char *mrn, uint32_t *last,
                        char *detail)
{
    if (!s || !last) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    *last = 0;
    int rc = check_stream(receiver, "receiver", mrn, detail);
    if (rc)
        return rc;
    return s->ops->outbox_seq(s->be, receiver, mrn, last, detail);
}

int kv_store_outbox_due(struct kv_store *s, int64_t now_ms, const char *receiver, unsigned limit,
                        struct kv_outbox_due *out, char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (limit == 0 || limit > KV_STORE_DUE_MAX) {
        kv_store_detail(detail, "limit: 1-%d expected", KV_STORE_DUE_MAX);
        return KV_EINVAL;
    }
    if (receiver && !fixed_ok(receiver, 2, CS_UPPER)) {
        kv_store_detail(detail, "receiver: two upper-case letters expected");
        return KV_EINVAL;
    }
    return s->ops->outbox_due(s->be, now_ms, receiver, limit, out, detail);
}

void kv_store_outbox_item_release(struct kv_outbox_item *it)
{
    if (!it)
        return;
    free(it->envelope);
    it->envelope = NULL;
    it->envelope_len = 0;
}

void kv_store_outbox_due_free(struct kv_outbox_due *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        kv_store_outbox_item_release(&d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

int kv_store_outbox_settle(struct kv_store *s, const struct kv_outbox_settle *v, size_t n,
                           int64_t now_ms, int *results, char *detail)
{
    if (!s || (n && !v)) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    if (n == 0 || n > KV_STORE_SETTLE_MAX) {
        kv_store_detail(detail, "results: 1-%d expected", KV_STORE_SETTLE_MAX);
        return KV_EINVAL;
    }
    if (now_ms <= 0) {
        kv_store_detail(detail, "now: epoch milliseconds > 0 expected");
        return KV_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fixed_ok(v[i].id, KV_STORE_MSG_ID_LEN, CS_HEX_LOWER)) {
            kv_store_detail(detail, "result %zu: id of %d lower-case hex characters expected", i,
                            KV_STORE_MSG_ID_LEN);
            return KV_EINVAL;
        }
        if (!v[i].done && v[i].next_attempt_ms < 0) {
            kv_store_detail(detail, "result %zu: next attempt >= 0 expected", i);
            return KV_EINVAL;
        }
    }
    struct wop op = {.kind = WOP_OUTBOX_SETTLE};
    op.u.settle.v = v;
    op.u.settle.n = n;
    op.u.settle.results = results;
    op.now = now_epoch();
    op.now_ms = now_ms;
    return submit(s, &op, detail);
}

int kv_store_outbox_done(struct kv_store *s, const char *id, int64_t now_ms, char *detail)
{
    struct kv_outbox_settle v = {.id = id, .done = true};
    int r = 0;
    int rc = kv_store_outbox_settle(s, &v, 1, now_ms, &r, detail);
    if (!rc && r)
        kv_store_detail(detail, "message %.32s: %s", id, kv_store_strerror(r));
    return rc ? rc : r;
}

int kv_store_outbox_retry(struct kv_store *s, const char *id, int64_t next_attempt_ms,
                          const char *error, char *detail)
{
    struct kv_outbox_settle v = {.id = id, .next_attempt_ms = next_attempt_ms, .error = error};
    int r = 0;
    int rc = kv_store_outbox_settle(s, &v, 1, now_epoch_ms(), &r, detail);
    if (!rc && r)
        kv_store_detail(detail, "message %.32s: %s", id, kv_store_strerror(r));
    return rc ? rc : r;
}

int kv_store_outbox_get(struct kv_store *s, const char *id, struct kv_outbox_item *out,
                        char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (!fixed_ok(id, KV_STORE_MSG_ID_LEN, CS_HEX_LOWER)) {
        kv_store_detail(detail, "id: %d lower-case hex characters expected", KV_STORE_MSG_ID_LEN);
        return KV_EINVAL;
    }
    return s->ops->outbox_get(s->be, id, out, detail);
}

int kv_store_outbox_backlog(struct kv_store *s, struct kv_outbox_backlog *out, size_t max,
                            size_t *n, char *detail)
{
    if (!s || !n || (max && !out)) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    *n = 0;
    return s->ops->outbox_backlog(s->be, out, max, n, detail);
}

int kv_store_outbox_prune(struct kv_store *s, int64_t before_ms, unsigned limit, uint64_t *removed,
                          char *detail)
{
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    if (limit == 0 || limit > 100000) {
        kv_store_detail(detail, "limit: 1-100000 expected");
        return KV_EINVAL;
    }
    uint64_t scratch = 0;
    struct wop op = {.kind = WOP_OUTBOX_PRUNE};
    op.u.prune.before_ms = before_ms;
    op.u.prune.limit = limit;
    op.u.prune.removed = removed ? removed : &scratch;
    *op.u.prune.removed = 0;
    op.now = now_epoch();
    op.now_ms = now_epoch_ms();
    return submit(s, &op, detail);
}

/* The checks an incoming message passes before the writer sees it: a store,
 * a well-formed message for this country; then the envelope's hash in hash. */
static int inbox_check(struct kv_store *s, const struct kv_inbox_in *in,
                       uint8_t hash[KV_STORE_HASH_LEN], char *detail)
{
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    int rc = check_inbox_in(in, kv_store_country(s), detail);
    if (rc)
        return rc;
    kv_store_hash(in->envelope, in->envelope_len, hash);
    return 0;
}

int kv_store_inbox_apply(struct kv_store *s, const struct kv_inbox_in *in,
                         const struct kv_outmsg *out, size_t n_out, char *detail)
{
    uint8_t hash[KV_STORE_HASH_LEN];
    int rc = inbox_check(s, in, hash, detail);
    if (rc)
        return rc;
    rc = check_out_list(out, n_out, KV_STORE_OUT_MAX, kv_store_country(s), detail);
    if (rc)
        return rc;
    struct wop op = {.kind = WOP_INBOX_APPLY};
    op.u.inbox.in = in;
    op.u.inbox.hash = hash;
    op.u.inbox.out = out;
    op.u.inbox.n_out = n_out;
    op.now = now_epoch();
    op.now_ms = now_epoch_ms();
    return submit(s, &op, detail);
}

int kv_store_inbox_park(struct kv_store *s, const struct kv_inbox_in *in, uint32_t *waiting_for,
                        char *detail)
{
    uint8_t hash[KV_STORE_HASH_LEN];
    int rc = inbox_check(s, in, hash, detail);
    if (rc)
        return rc;
    uint32_t scratch = 0;
    struct wop op = {.kind = WOP_INBOX_PARK};
    op.u.inbox.in = in;
    op.u.inbox.hash = hash;
    op.u.inbox.waiting_for = waiting_for ? waiting_for : &scratch;
    op.now = now_epoch();
    op.now_ms = now_epoch_ms();
    return submit(s, &op, detail);
}

int kv_store_inbox_find(struct kv_store *s, const char *id, bool with_envelope,
                        struct kv_inbox_record *out, char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (!fixed_ok(id, KV_STORE_MSG_ID_LEN, CS_HEX_LOWER)) {
        kv_store_detail(detail, "id: %d lower-case hex characters expected", KV_STORE_MSG_ID_LEN);
        return KV_EINVAL;
    }
    return s->ops->inbox_find(s->be, id, with_envelope, out, detail);
}

void kv_store_inbox_record_release(struct kv_inbox_record *r)
{
    if (!r)
        return;
    free(r->envelope);
    r->envelope = NULL;
    r->envelope_len = 0;
}

int kv_store_inbox_last(struct kv_store *s, const char *sender, const char *mrn, uint32_t *applied,
                        uint32_t *parked, char *detail)
{
    uint32_t a = 0, p = 0;
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    int rc = check_stream(sender, "sender", mrn, detail);
    if (!rc)
        rc = s->ops->inbox_last(s->be, sender, mrn, &a, &p, detail);
    if (applied)
        *applied = a;
    if (parked)
        *parked = p;
    return rc;
}

int kv_store_inbox_parked_next(struct kv_store *s, const char *sender, const char *mrn,
                               struct kv_inbox_record *out, char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    int rc = check_stream(sender, "sender", mrn, detail);
    if (rc)
        return rc;
    return s->ops->inbox_parked_next(s->be, sender, mrn, out, detail);
}

int kv_store_inbox_ready(struct kv_store *s, struct kv_inbox_stream *out, size_t max, size_t *n,
                         char *detail)
{
    if (!s || !n || (max && !out)) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    *n = 0;
    return s->ops->inbox_ready(s->be, out, max, n, detail);
}

/* ---------------------------------------------------------------------------
 * Read operations
 */

int kv_store_get(struct kv_store *s, const char *mrn, struct kv_movement_record **out, char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    *out = NULL;
    int rc = check_mrn(mrn, detail);
    if (rc)
        return rc;
    return s->ops->get(s->be, mrn, out, detail);
}

void kv_store_record_free(struct kv_movement_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_events; i++)
        free(r->events[i].json);
    free(r->events);
    for (size_t i = 0; i < r->n_pending; i++)
        free(r->pending[i].json);
    free(r->pending);
    free(r->peers);
    free(r->guarantees);
    free(r->offices);
    free(r->declaration);
    free(r);
}

int kv_store_list(struct kv_store *s, const struct kv_list_query *q, struct kv_list_page *out,
                  char *detail)
{
    if (!s || !q || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (q->limit > KV_STORE_LIST_MAX) {
        kv_store_detail(detail, "limit: 1-%d expected", KV_STORE_LIST_MAX);
        return KV_EINVAL;
    }
    if (q->state && !state_ok(q->state)) {
        kv_store_detail(detail, "state: not a movement state");
        return KV_EINVAL;
    }
    if (q->office && !fixed_ok(q->office, 8, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "office: 8 characters [A-Z0-9] expected");
        return KV_EINVAL;
    }
    if (q->holder && !text_ok(q->holder, 1, KV_STORE_PARTY_MAX, CS_PRINT)) {
        kv_store_detail(detail, "holder: printable text of 1-%d characters expected",
                        KV_STORE_PARTY_MAX - 1);
        return KV_EINVAL;
    }
    if (q->since < 0) {
        kv_store_detail(detail, "since: epoch seconds >= 0 expected");
        return KV_EINVAL;
    }
    if (q->cursor && !text_ok(q->cursor, 1, KV_STORE_CURSOR_MAX, CS_PRINT)) {
        kv_store_detail(detail, "cursor: not one this node gave out");
        return KV_EINVAL;
    }
    struct kv_list_query qq = *q;
    if (!qq.limit)
        qq.limit = 100;
    return s->ops->list(s->be, &qq, out, detail);
}

void kv_store_list_free(struct kv_list_page *p)
{
    if (!p)
        return;
    free(p->items);
    p->items = NULL;
    p->n = 0;
    p->next_cursor[0] = '\0';
}

int kv_store_guarantee_get(struct kv_store *s, const char *grn, struct kv_guarantee_info *out,
                           char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    if (!text_ok(grn, 1, KV_STORE_GRN_MAX, CS_UPPER_ALNUM)) {
        kv_store_detail(detail, "GRN: 1-%d characters [A-Z0-9] expected", KV_STORE_GRN_MAX - 1);
        return KV_EINVAL;
    }
    return s->ops->guarantee_get(s->be, grn, out, detail);
}

int kv_store_token_find(struct kv_store *s, const uint8_t hash[KV_STORE_HASH_LEN],
                        struct kv_token *out, char *detail)
{
    if (!s || !hash || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    return s->ops->token_find(s->be, hash, out, detail);
}

int kv_store_stats(struct kv_store *s, struct kv_store_stats *out, char *detail)
{
    if (!s || !out) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    memset(out, 0, sizeof *out);
    int rc = s->ops->counts(s->be, out, detail);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->mu);
    out->queue_depth = s->depth;
    out->commits = s->commits;
    out->failed_commits = s->failed_commits;
    out->ops = s->ops_done;
    out->max_batch = s->max_seen;
    pthread_mutex_unlock(&s->mu);
    out->avg_batch = out->commits ? (double)out->ops / (double)out->commits : 0.0;
    return 0;
}

int kv_store_check(struct kv_store *s, char *detail)
{
    if (!s) {
        kv_store_detail(detail, "missing argument");
        return KV_EINVAL;
    }
    return s->ops->check(s->be, detail);
}
