/*
 * test_exchange_in.c — the receive pipeline of POST /v1/exchange
 * (src/net/exchange_in.c):
 *   - every answer over HTTP: 200 ack, 200 duplicate, 202 parked, 401/403/
 *     400 from the verifier, 413, 415, 403 misaddressed, 409 forged id and
 *     taken seq, 429 too far ahead — each refusal logged with its rule and
 *     leaving the inbox as it was;
 *   - exactly once, in order, under replays and reordering: three senders'
 *     streams delivered three times each, shuffled, by four threads at
 *     once; each message becomes exactly one event of the receiver's
 *     movement (applied with the inbox claim in the same transaction), in
 *     seq order per sender;
 *   - an apply callback's refusal (4xx) and failure (503) change nothing;
 *     a kind without a handler is refused;
 *   - the gap callback, and a parked message left behind by a transient
 *     failure applied later by kv_exchange_in_drain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>

#include "../store/store_test.h"
#include "exchange_test.h"

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

#define MRN_AZ "26AZ0000000000001X"

/* ---- HTTP ------------------------------------------------------------------- */

struct reply {
    long status;
    char body[4096];
    size_t len;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *ud)
{
    struct reply *r = ud;
    size_t n = sz * nm;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, d, n < room ? n : room);
    r->len += n < room ? n : room;
    r->body[r->len] = '\0';
    return n;
}

static struct reply post(unsigned port, const char *body, size_t len, const char *sig,
                         const char *ctype)
{
    struct reply r = {0};
    CURL *h = curl_easy_init();
    char url[64], sh[256], ch[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/exchange", port);
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    snprintf(ch, sizeof ch, "Content-Type: %s", ctype);
    hd = curl_slist_append(hd, ch);
    if (sig) {
        snprintf(sh, sizeof sh, "Kervan-Signature: %s", sig);
        hd = curl_slist_append(hd, sh);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return r;
}

static struct reply post_env(unsigned port, const struct xt_env *e)
{
    return post(port, e->bytes, e->len, e->sig, "application/json");
}

/* The reply is an error with one problem of rule `rule`. */
static void expect_refusal(const struct reply *r, long status, const char *rule)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body);
    json_object *o = json_tokener_parse(r->body);
    assert_non_null(o);
    json_object *err = NULL, *probs = NULL, *st = NULL;
    assert_true(json_object_object_get_ex(o, "error", &err));
    assert_true(json_object_object_get_ex(err, "status", &st));
    assert_int_equal(json_object_get_int(st), status);
    assert_true(json_object_object_get_ex(err, "problems", &probs));
    assert_int_equal(json_object_array_length(probs), 1);
    json_object *rl = NULL;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(probs, 0), "rule", &rl));
    assert_string_equal(json_object_get_string(rl), rule);
    json_object_put(o);
}

static void expect_ack(const struct reply *r, long status, const char *id, bool duplicate,
                       int waiting_for)
{
    if (r->status != status)
        fail_msg("expected %ld, got %ld: %s", status, r->status, r->body);
    json_object *o = json_tokener_parse(r->body);
    assert_non_null(o);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, "ack", &v));
    assert_string_equal(json_object_get_string(v), id);
    assert_int_equal(json_object_object_get_ex(o, "duplicate", &v), duplicate);
    if (waiting_for) {
        assert_true(json_object_object_get_ex(o, "parked", &v));
        assert_true(json_object_object_get_ex(o, "waiting_for", &v));
        assert_int_equal(json_object_get_int(v), waiting_for);
    } else {
        assert_false(json_object_object_get_ex(o, "parked", &v));
    }
    json_object_put(o);
}

static void expect_unknown(struct kv_store *s, const char *id)
{
    char detail[KV_STORE_DETAIL_MAX];
    struct kv_inbox_record r;
    assert_int_equal(kv_store_inbox_find(s, id, false, &r, detail), KV_ENOTFOUND);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_answers_over_http(void **state)
{
    (void)state;
    char logpath[] = "/tmp/kv-exch-log-XXXXXX";
    int lfd = mkstemp(logpath);
    assert_true(lfd >= 0);
    kv_log_init(lfd, KV_LOG_INFO);

    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct xt_env m1, m2, m3;
    xt_env(&m1, "h", "TR", "AZ", MRN_AZ, 1, 10);
    xt_env(&m2, "h", "TR", "AZ", MRN_AZ, 2, 10);
    xt_env(&m3, "h", "TR", "AZ", MRN_AZ, 3, 10);

    struct reply r = post_env(rx.port, &m1);
    expect_ack(&r, 200, m1.id, false, 0);
    r = post_env(rx.port, &m1);
    expect_ack(&r, 200, m1.id, true, 0);
    r = post_env(rx.port, &m3);
    expect_ack(&r, 202, m3.id, false, 2);
    r = post_env(rx.port, &m3);
    expect_ack(&r, 202, m3.id, true, 2);
    r = post_env(rx.port, &m2); /* applies 2, then the parked 3 */
    expect_ack(&r, 200, m2.id, false, 0);
    uint32_t applied = 0, parked = 9;
    OK(kv_store_inbox_last(rx.store, "TR", MRN_AZ, &applied, &parked, detail));
    assert_int_equal(applied, 3);
    assert_int_equal(parked, 0);

    /* Refusals: each changes nothing. */
    struct xt_env m4;
    xt_env(&m4, "h", "TR", "AZ", MRN_AZ, 4, 10);
    r = post(rx.port, m4.bytes, m4.len, "keyid=test, sig=00", "application/json");
    expect_refusal(&r, 401, "R-TEST-SIG");
    r = post(rx.port, m4.bytes, m4.len, NULL, "application/json");
    expect_refusal(&r, 401, "R-TEST-SIG");
    r = post(rx.port, m4.bytes, m4.len, m4.sig, "text/plain");
    expect_refusal(&r, 415, KV_EXCHANGE_R_SHAPE);
    expect_unknown(rx.store, m4.id);

    struct xt_env big;
    xt_env(&big, "h", "TR", "AZ", MRN_AZ, 4, KV_STORE_ENVELOPE_MAX);
    r = post_env(rx.port, &big);
    expect_refusal(&r, 413, KV_EXCHANGE_R_SIZE);
    expect_unknown(rx.store, big.id);

    struct xt_env misaddressed;
    xt_env(&misaddressed, "h", "TR", "GE", MRN_AZ, 4, 10);
    r = post_env(rx.port, &misaddressed);
    expect_refusal(&r, 403, KV_EXCHANGE_R_RECEIVER);
    expect_unknown(rx.store, misaddressed.id);

    struct xt_env from_self;
    xt_env(&from_self, "h", "AZ", "AZ", MRN_AZ, 1, 10);
    r = post_env(rx.port, &from_self);
    expect_refusal(&r, 403, KV_EXCHANGE_R_RECEIVER);

    struct xt_env unknown_sender;
    xt_env(&unknown_sender, "h", "XX", "AZ", MRN_AZ, 1, 10);
    r = post_env(rx.port, &unknown_sender);
    expect_refusal(&r, 403, "R-TEST-SENDER");

    /* m1's id on other bytes (validly signed): a forgery or a sender's bug. */
    struct xt_env forged;
    xt_env(&forged, "h", "TR", "AZ", MRN_AZ, 1, 11);
    memcpy(forged.id, m1.id, sizeof forged.id);
    forged.len = (size_t)snprintf(forged.bytes, 512,
                                  "{\"v\":1,\"sender\":\"TR\",\"receiver\":\"AZ\",\"id\":\"%s\","
                                  "\"kind\":\"CD050C\",\"mrn\":\"%s\",\"seq\":1,\"body\":{}}",
                                  m1.id, MRN_AZ);
    xt_sign_bytes(forged.bytes, forged.len, forged.sig, sizeof forged.sig);
    r = post_env(rx.port, &forged);
    expect_refusal(&r, 409, KV_EXCHANGE_R_ID);

    /* seq 2 again under another id. */
    struct xt_env other2;
    xt_env(&other2, "other", "TR", "AZ", MRN_AZ, 2, 10);
    r = post_env(rx.port, &other2);
    expect_refusal(&r, 409, KV_EXCHANGE_R_SEQ);
    expect_unknown(rx.store, other2.id);

    struct xt_env far;
    xt_env(&far, "h", "TR", "AZ", MRN_AZ, 5 + KV_STORE_PARK_AHEAD_MAX, 10);
    r = post_env(rx.port, &far);
    expect_refusal(&r, 429, KV_EXCHANGE_R_PARK);
    expect_unknown(rx.store, far.id);

    const char *malformed = "{\"v\":1,\"sender\":\"TR\"";
    char msig[160];
    xt_sign_bytes(malformed, strlen(malformed), msig, sizeof msig);
    r = post(rx.port, malformed, strlen(malformed), msig, "application/json");
    expect_refusal(&r, 400, "R-TEST-SHAPE");

    OK(kv_store_inbox_last(rx.store, "TR", MRN_AZ, &applied, &parked, detail));
    assert_int_equal(applied, 3);
    assert_int_equal(parked, 0);
    OK(kv_store_check(rx.store, detail));
    struct kv_exchange_in_stats st;
    kv_exchange_in_stats(rx.x, &st);
    assert_int_equal(st.applied, 3);
    assert_int_equal(st.from_park, 1);
    assert_int_equal(st.duplicates, 2);
    assert_int_equal(st.parked, 1);
    assert_int_equal(st.refused, 11);

    /* Every refusal was logged with its reason. */
    kv_log_init(2, KV_LOG_INFO);
    const char *log = slurp(logpath);
    const char *rules[] = {"R-TEST-SIG",           KV_EXCHANGE_R_SHAPE, KV_EXCHANGE_R_SIZE,
                           KV_EXCHANGE_R_RECEIVER, "R-TEST-SENDER",     KV_EXCHANGE_R_ID,
                           KV_EXCHANGE_R_SEQ,      KV_EXCHANGE_R_PARK};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "rule=%s", rules[i]);
        if (!strstr(log, want))
            fail_msg("no log line with %s in:\n%s", want, log);
    }
    assert_non_null(strstr(log, "msg=\"exchange message refused\""));
    assert_non_null(strstr(log, "reason=\"bad signature\""));
    assert_non_null(strstr(log, "msg=\"exchange message parked\""));
    assert_non_null(strstr(log, "waiting_for=2"));
    unlink(logpath);
    close(lfd);

    struct xt_env *all[] = {&m1,     &m2,           &m3,        &m4,
                            &big,    &misaddressed, &from_self, &unknown_sender,
                            &forged, &other2,       &far};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        xt_env_free(all[i]);
    xt_rx_stop(&rx);
}

/* ---- exactly once under replays and reordering ---------------------------------- */

/* The receiver's movement; each message it accepts becomes one event of it. */
struct movement {
    struct kv_store *s;
    char mrn[KV_MRN_LEN + 1];
    _Atomic int fail_seq;   /* fail (503) the first apply of this seq, once */
    _Atomic int refuse_seq; /* refuse (422) every apply of this seq */
};

static int apply_event(void *ctx, const struct kv_exchange_msg *m, const struct kv_inbox_in *claim,
                       struct kv_exchange_refusal *why)
{
    struct movement *mv = ctx;
    if (strcmp(m->mrn, mv->mrn) != 0) {
        xt_refuse(why, 403, "R-TEST-ENTITLED", "not a movement of this node");
        return KV_EINVAL;
    }
    if ((int)m->seq == atomic_load(&mv->refuse_seq)) {
        xt_refuse(why, 422, "R-TEST-STATE", "the movement's state does not allow it");
        return KV_EINVAL;
    }
    int f = (int)m->seq;
    if (atomic_compare_exchange_strong(&mv->fail_seq, &f, -1))
        return KV_EIO;
    char detail[KV_STORE_DETAIL_MAX], json[200];
    snprintf(json, sizeof json, "{\"from\":\"%s\",\"seq\":%u,\"id\":\"%s\"}", m->sender,
             (unsigned)m->seq, m->id);
    for (int tries = 0; tries < 200; tries++) {
        struct kv_movement_record *r = NULL;
        int rc = kv_store_get(mv->s, mv->mrn, &r, detail);
        if (rc)
            return rc;
        uint32_t seq = r->summary.seq;
        kv_store_record_free(r);
        struct kv_append a = {.event = {.type = "message",
                                        .time = "2026-01-01T00:00:00Z",
                                        .epoch = 1767225600,
                                        .actor_role = "peer_node",
                                        .actor_id = m->sender,
                                        .json = json,
                                        .json_len = strlen(json)},
                              .state = "accepted",
                              .inbox = claim};
        rc = kv_store_append(mv->s, mv->mrn, seq, &a, detail);
        if (rc != KV_ESTALE)
            return rc;
    }
    return KV_EIO;
}

struct storm {
    struct kv_exchange_in *x;
    struct xt_env **order;
    size_t n;
    _Atomic size_t next;
    _Atomic int bad;
};

static void *storm_thread(void *arg)
{
    struct storm *s = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->n)
            return NULL;
        struct kv_exchange_answer a;
        struct xt_env *e = s->order[i];
        kv_exchange_in_handle(s->x, e->bytes, e->len, e->sig, "test", &a);
        if (a.status != 200 && a.status != 202)
            atomic_store(&s->bad, (int)a.status);
    }
}

static void open_receiver(char dir[256], struct kv_store **s, struct movement *mv)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    xt_tmpdir(dir);
    *s = xt_store(dir, "TR");
    struct st_decl d;
    st_decl(&d, "TR-RX", "RX-1", 0, NULL, 0);
    struct kv_lodge_result r;
    OK(kv_store_lodge(*s, &d.in, &r, detail));
    memset(mv, 0, sizeof *mv);
    mv->s = *s;
    memcpy(mv->mrn, r.mrn, sizeof mv->mrn);
    atomic_store(&mv->fail_seq, -1);
    atomic_store(&mv->refuse_seq, -1);
}

static void test_exactly_once_under_replay_and_reordering(void **state)
{
    (void)state;
    enum { SENDERS = 3, PER = 30, COPIES = 3, THREADS = 4 };
    const char *senders[SENDERS] = {"AZ", "GE", "KZ"};
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store *s = NULL;
    struct movement mv;
    open_receiver(dir, &s, &mv);
    struct kv_exchange_kind kind = {"CD050C", apply_event, &mv};
    struct kv_exchange_in_config c = {
        .store = s, .country = "TR", .verify = xt_verify, .kinds = &kind, .n_kinds = 1};
    struct kv_exchange_in *x = NULL;
    char err[256];
    OK(kv_exchange_in_new(&c, &x, err, sizeof err));

    static struct xt_env env[SENDERS * PER];
    static struct xt_env *order[SENDERS * PER * COPIES];
    size_t n = 0;
    for (int si = 0; si < SENDERS; si++)
        for (uint32_t q = 1; q <= PER; q++)
            xt_env(&env[si * PER + (int)q - 1], "storm", senders[si], "TR", mv.mrn, q, 40);
    for (int k = 0; k < COPIES; k++)
        for (size_t i = 0; i < SENDERS * PER; i++)
            order[n++] = &env[i];
    uint64_t seed = (uint64_t)time(NULL);
    printf("# shuffle seed %llu\n", (unsigned long long)seed);
    srand((unsigned)seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)rand() % (i + 1);
        struct xt_env *t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct storm st = {.x = x, .order = order, .n = n};
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, storm_thread, &st), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(atomic_load(&st.bad), 0);
    unsigned drained = 0;
    OK(kv_exchange_in_drain(x, &drained));
    assert_int_equal(drained, 0); /* nothing was left behind */

    /* Every message is exactly one event, in seq order per sender. */
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(s, mv.mrn, &m, detail));
    assert_int_equal(m->n_events, 1 + SENDERS * PER);
    uint32_t next[SENDERS] = {1, 1, 1};
    for (size_t i = 1; i < m->n_events; i++) {
        json_object *o = json_tokener_parse(m->events[i].json);
        json_object *f = NULL, *q = NULL;
        assert_true(json_object_object_get_ex(o, "from", &f));
        assert_true(json_object_object_get_ex(o, "seq", &q));
        int si = 0;
        while (si < SENDERS && strcmp(senders[si], json_object_get_string(f)) != 0)
            si++;
        assert_true(si < SENDERS);
        assert_int_equal(json_object_get_int(q), next[si]);
        next[si]++;
        json_object_put(o);
    }
    kv_store_record_free(m);
    for (int si = 0; si < SENDERS; si++) {
        uint32_t applied = 0, parked = 9;
        OK(kv_store_inbox_last(s, senders[si], mv.mrn, &applied, &parked, detail));
        assert_int_equal(applied, PER);
        assert_int_equal(parked, 0);
    }
    struct kv_exchange_in_stats stt;
    kv_exchange_in_stats(x, &stt);
    printf("# %zu deliveries: %llu applied (%llu from the park), %llu duplicates, %llu parked\n", n,
           (unsigned long long)stt.applied, (unsigned long long)stt.from_park,
           (unsigned long long)stt.duplicates, (unsigned long long)stt.parked);
    assert_int_equal(stt.applied, SENDERS * PER);
    assert_int_equal(stt.refused + stt.unavailable, 0);
    /* Each delivery was applied, a duplicate, or parked (a parked one is
     * applied later, counted in from_park). */
    assert_int_equal(stt.applied - stt.from_park + stt.duplicates + stt.parked, n);
    OK(kv_store_check(s, detail));

    for (size_t i = 0; i < SENDERS * PER; i++)
        xt_env_free(&env[i]);
    kv_exchange_in_free(x);
    kv_store_close(s);
    xt_rmdir(dir);
}

/* ---- refusals by the apply callback, missing handlers, the park ---------------- */

struct gap {
    _Atomic int calls;
    char sender[3], mrn[KV_MRN_LEN + 1];
    uint32_t waiting;
};

static void on_gap(void *ctx, const char *sender, const char *mrn, uint32_t waiting_for)
{
    struct gap *g = ctx;
    atomic_fetch_add(&g->calls, 1);
    snprintf(g->sender, sizeof g->sender, "%s", sender);
    snprintf(g->mrn, sizeof g->mrn, "%s", mrn);
    g->waiting = waiting_for;
}

static void handle(struct kv_exchange_in *x, const struct xt_env *e, struct kv_exchange_answer *a)
{
    assert_int_equal(kv_exchange_in_handle(x, e->bytes, e->len, e->sig, NULL, a), 0);
}

static void test_refusals_change_nothing_and_the_park(void **state)
{
    (void)state;
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store *s = NULL;
    struct movement mv;
    open_receiver(dir, &s, &mv);
    struct gap g = {0};
    struct kv_exchange_kind kind = {"CD050C", apply_event, &mv};
    struct kv_exchange_in_config c = {.store = s,
                                      .country = "TR",
                                      .verify = xt_verify,
                                      .kinds = &kind,
                                      .n_kinds = 1,
                                      .on_gap = on_gap,
                                      .gap_ctx = &g};
    struct kv_exchange_in *x = NULL;
    char err[256];
    OK(kv_exchange_in_new(&c, &x, err, sizeof err));
    struct xt_env e[5];
    for (uint32_t q = 1; q <= 4; q++)
        xt_env(&e[q], "ref", "GE", "TR", mv.mrn, q, 10);
    struct kv_exchange_answer a;

    /* The callback refuses seq 1: 422 with its rule, nothing recorded. */
    atomic_store(&mv.refuse_seq, 1);
    handle(x, &e[1], &a);
    assert_int_equal(a.status, 422);
    assert_int_equal(a.result, KV_EXCHANGE_REFUSED);
    assert_string_equal(a.rule, "R-TEST-STATE");
    expect_unknown(s, e[1].id);
    /* It cannot apply seq 1 now (I/O): 503, nothing recorded. */
    atomic_store(&mv.refuse_seq, -1);
    atomic_store(&mv.fail_seq, 1);
    handle(x, &e[1], &a);
    assert_int_equal(a.status, 503);
    assert_int_equal(a.result, KV_EXCHANGE_UNAVAILABLE);
    expect_unknown(s, e[1].id);
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(s, mv.mrn, &m, detail));
    assert_int_equal(m->n_events, 1);
    kv_store_record_free(m);
    /* A movement this node does not have: the callback's 403. */
    struct xt_env stranger;
    xt_env(&stranger, "ref", "GE", "TR", "26GE0000000000009X", 1, 10);
    handle(x, &stranger, &a);
    assert_int_equal(a.status, 403);
    assert_string_equal(a.rule, "R-TEST-ENTITLED");
    expect_unknown(s, stranger.id);

    /* Seq 3 arrives early: parked, the gap callback hears the stream waits for 1. */
    handle(x, &e[3], &a);
    assert_int_equal(a.status, 202);
    assert_int_equal(a.waiting_for, 1);
    assert_int_equal(atomic_load(&g.calls), 1);
    assert_string_equal(g.sender, "GE");
    assert_string_equal(g.mrn, mv.mrn);
    assert_int_equal(g.waiting, 1);
    handle(x, &e[2], &a);
    assert_int_equal(a.status, 202);
    /* 1 applies, then 2 from the park; 3 fails transiently and stays parked. */
    atomic_store(&mv.fail_seq, 3);
    handle(x, &e[1], &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(a.applied, 2);
    uint32_t applied = 0, parked = 0;
    OK(kv_store_inbox_last(s, "GE", mv.mrn, &applied, &parked, detail));
    assert_int_equal(applied, 2);
    assert_int_equal(parked, 1);
    /* The drain applies it. */
    unsigned drained = 0;
    OK(kv_exchange_in_drain(x, &drained));
    assert_int_equal(drained, 1);
    OK(kv_store_inbox_last(s, "GE", mv.mrn, &applied, &parked, detail));
    assert_int_equal(applied, 3);
    assert_int_equal(parked, 0);
    handle(x, &e[4], &a);
    assert_int_equal(a.status, 200);
    OK(kv_store_get(s, mv.mrn, &m, detail));
    assert_int_equal(m->n_events, 5);
    kv_store_record_free(m);
    OK(kv_store_check(s, detail));
    kv_exchange_in_free(x);

    /* No handler for the kind (and no default): 422, nothing recorded. */
    struct kv_exchange_in_config c2 = {.store = s, .country = "TR", .verify = xt_verify};
    OK(kv_exchange_in_new(&c2, &x, err, sizeof err));
    struct xt_env other;
    xt_env(&other, "kind", "KZ", "TR", mv.mrn, 1, 10);
    handle(x, &other, &a);
    assert_int_equal(a.status, 422);
    assert_string_equal(a.rule, KV_EXCHANGE_R_KIND);
    expect_unknown(s, other.id);
    kv_exchange_in_free(x);

    /* Configuration errors. */
    struct kv_exchange_in_config bad = {.store = s, .country = "TRK", .verify = xt_verify};
    assert_int_equal(kv_exchange_in_new(&bad, &x, err, sizeof err), KV_EINVAL);
    bad.country = "TR";
    bad.verify = NULL;
    assert_int_equal(kv_exchange_in_new(&bad, &x, err, sizeof err), KV_EINVAL);

    for (uint32_t q = 1; q <= 4; q++)
        xt_env_free(&e[q]);
    xt_env_free(&stranger);
    xt_env_free(&other);
    kv_store_close(s);
    xt_rmdir(dir);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_over_http),
        cmocka_unit_test(test_exactly_once_under_replay_and_reordering),
        cmocka_unit_test(test_refusals_change_nothing_and_the_park),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
