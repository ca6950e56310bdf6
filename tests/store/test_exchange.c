/*
 * test_exchange.c — the store's outbox and inbox: migration from schema 1,
 * messages carried by append and lodge (committed with the change or not at
 * all), stream order and seq contiguity, due / settle / retry / backlog /
 * prune, the inbox's exactly-once record (duplicates, forgeries, seq
 * conflicts, order), parking and the ready list, an append that applies a
 * received message, the input contracts, and the consistency check finding
 * a damaged outbox or inbox.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "schema_old.h"
#include "store_test.h"

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

#define MRN_A "25AZ0000000000001R" /* shape only: received messages name other nodes' MRNs */
#define MRN_B "25AZ0000000000002R"
#define T0    1767225600000LL /* 2026-01-01T00:00:00Z in ms: the tests' clock */

static void db_exec(const char *dir, const char *sql)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* Lodges a small declaration (no guarantee) and returns its MRN in mrn. */
static void lodge(struct kv_store *s, const char *lrn, char mrn[KV_MRN_LEN + 1])
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_decl d;
    st_decl(&d, "TR-EX", lrn, 0, NULL, 0);
    struct kv_lodge_result r;
    OK(kv_store_lodge(s, &d.in, &r, detail));
    memcpy(mrn, r.mrn, KV_MRN_LEN + 1);
}

static uint64_t backlog_of(struct kv_store *s, const char *receiver)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_outbox_backlog b[KV_STORE_PEERS_MAX];
    size_t n = 0;
    OK(kv_store_outbox_backlog(s, b, KV_STORE_PEERS_MAX, &n, detail));
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].receiver, receiver) == 0)
            return b[i].pending;
    return 0;
}

/* ------------------------------------------------------------------------- */

static void test_migrates_schema_1(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1];
    kv_store_close(f->s);
    f->s = NULL;
    st_rmdir(f->dir);
    st_tmpdir(f->dir);
    /* A database as schema 1 wrote it (frozen DDL), with one movement. */
    sqlite3 *db = st_old_db(f->dir, 1, "TR");
    st_old_movement(db, "TR", 1, "TR-EX", "MIG-1", 1, "accepted", NULL, 0, mrn);
    sqlite3_close(db);
    OK(st_open(f->dir, 0, &f->s, detail));
    OK(kv_store_check(f->s, detail));
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, mrn, &m, detail));
    assert_string_equal(m->summary.lrn, "MIG-1");
    kv_store_record_free(m);
    struct st_msg x;
    st_msg(&x, "mig", "AZ", mrn, 1);
    OK(kv_store_outbox_enqueue(f->s, &x.m, 1, detail));
    assert_int_equal(backlog_of(f->s, "AZ"), 1);
}

/* An append carries its messages: both commit, or (stale event, stale
 * message seq) neither. */
static void test_append_carries_messages(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1];
    lodge(f->s, "APP-1", mrn);

    struct st_msg az1, ge1, az2;
    st_msg(&az1, "rel", "AZ", mrn, 1);
    st_msg(&ge1, "rel", "GE", mrn, 1);
    st_msg(&az2, "rel", "AZ", mrn, 2);
    struct kv_outmsg out[3] = {az1.m, ge1.m, az2.m};
    struct kv_append a = st_event("release", "released");
    a.out = out;
    a.n_out = 3;

    /* Stale: the movement is at seq 1, not 2 — no event, no message. */
    assert_int_equal(kv_store_append(f->s, mrn, 2, &a, detail), KV_ESTALE);
    uint32_t last = 99;
    OK(kv_store_outbox_seq(f->s, "AZ", mrn, &last, detail));
    assert_int_equal(last, 0);
    assert_int_equal(backlog_of(f->s, "AZ"), 0);

    /* A message whose seq skips one: the whole append fails. */
    struct st_msg bad;
    st_msg(&bad, "rel", "AZ", mrn, 2);
    a.out = &bad.m;
    a.n_out = 1;
    assert_int_equal(kv_store_append(f->s, mrn, 1, &a, detail), KV_ESTALE);
    assert_non_null(strstr(detail, "is at seq 0"));
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, mrn, &m, detail));
    assert_int_equal(m->summary.seq, 1);
    kv_store_record_free(m);

    /* Right: the event and three messages, two streams. */
    a.out = out;
    a.n_out = 3;
    OK(kv_store_append(f->s, mrn, 1, &a, detail));
    OK(kv_store_get(f->s, mrn, &m, detail));
    assert_int_equal(m->summary.seq, 2);
    kv_store_record_free(m);
    OK(kv_store_outbox_seq(f->s, "AZ", mrn, &last, detail));
    assert_int_equal(last, 2);
    OK(kv_store_outbox_seq(f->s, "GE", mrn, &last, detail));
    assert_int_equal(last, 1);
    assert_int_equal(backlog_of(f->s, "AZ"), 2);
    assert_int_equal(backlog_of(f->s, "GE"), 1);
    struct kv_outbox_item it;
    OK(kv_store_outbox_get(f->s, az2.id, &it, detail));
    assert_int_equal(it.seq, 2);
    assert_int_equal(it.envelope_len, az2.m.envelope_len);
    assert_memory_equal(it.envelope, az2.env, it.envelope_len);
    assert_string_equal(it.signature, "keyid=test, sig=AAAA");
    assert_string_equal(it.kind, "CD050C");
    assert_int_equal(it.delivered_ms, 0);
    kv_store_outbox_item_release(&it);

    /* The same id again (in another append): a conflict, nothing written. */
    struct st_msg again;
    st_msg(&again, "rel", "AZ", mrn, 3);
    memcpy(again.id, az1.id, sizeof again.id);
    struct kv_append w = st_event("write_off", "written_off");
    w.out = &again.m;
    w.n_out = 1;
    assert_int_equal(kv_store_append(f->s, mrn, 2, &w, detail), KV_ECONFLICT);
    OK(kv_store_get(f->s, mrn, &m, detail));
    assert_int_equal(m->summary.seq, 2);
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));
}

/* A lodge's builder gets the new MRN; a failing builder lodges nothing;
 * a replay enqueues nothing. */
struct builder {
    struct st_msg msgs[3];
    int fail;
    int calls;
};

static int build(void *ctx, const char *mrn, struct kv_outmsg *msgs, size_t max, size_t *n)
{
    struct builder *b = ctx;
    b->calls++;
    if (b->fail)
        return b->fail;
    assert_true(max >= 2);
    st_msg(&b->msgs[0], "lodge", "AZ", mrn, 1);
    st_msg(&b->msgs[1], "lodge", "GE", mrn, 1);
    msgs[0] = b->msgs[0].m;
    msgs[1] = b->msgs[1].m;
    *n = 2;
    return 0;
}

static void test_lodge_builds_messages(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct builder b = {.fail = KV_ENOMEM};
    struct st_decl d;
    st_decl(&d, "TR-EX", "LODGE-1", 0, NULL, 0);
    d.in.build_out = build;
    d.in.build_ctx = &b;
    struct kv_lodge_result r;
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_ENOMEM);
    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, 0);

    b.fail = 0;
    OK(kv_store_lodge(f->s, &d.in, &r, detail));
    assert_false(r.replay);
    uint32_t last = 0;
    OK(kv_store_outbox_seq(f->s, "GE", r.mrn, &last, detail));
    assert_int_equal(last, 1);
    struct kv_outbox_item it;
    OK(kv_store_outbox_get(f->s, b.msgs[0].id, &it, detail));
    assert_string_equal(it.mrn, r.mrn);
    assert_non_null(strstr(it.envelope, r.mrn));
    kv_store_outbox_item_release(&it);

    int calls = b.calls;
    OK(kv_store_lodge(f->s, &d.in, &r, detail));
    assert_true(r.replay);
    assert_int_equal(b.calls, calls); /* not even asked */
    assert_int_equal(backlog_of(f->s, "AZ"), 1);
    OK(kv_store_check(f->s, detail));
}

/* Due returns stream heads only; settle advances streams; retries wait. */
static void test_due_settle_retry(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1], mrn2[KV_MRN_LEN + 1];
    lodge(f->s, "DUE-1", mrn);
    lodge(f->s, "DUE-2", mrn2);
    struct st_msg m[5];
    st_msg(&m[0], "d", "AZ", mrn, 1);
    st_msg(&m[1], "d", "AZ", mrn, 2);
    st_msg(&m[2], "d", "AZ", mrn, 3);
    st_msg(&m[3], "d", "AZ", mrn2, 1);
    st_msg(&m[4], "d", "GE", mrn, 1);
    struct kv_outmsg v[5] = {m[0].m, m[1].m, m[2].m, m[3].m, m[4].m};
    OK(kv_store_outbox_enqueue(f->s, v, 5, detail));

    struct kv_outbox_due d;
    OK(kv_store_outbox_due(f->s, T0, NULL, 100, &d, detail));
    assert_int_equal(d.n, 3); /* heads of AZ/mrn, AZ/mrn2, GE/mrn */
    assert_int_equal(d.next_at_ms, 0);
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(d.items[i].seq, 1);
    kv_store_outbox_due_free(&d);
    OK(kv_store_outbox_due(f->s, T0, "AZ", 100, &d, detail));
    assert_int_equal(d.n, 2);
    kv_store_outbox_due_free(&d);

    /* A non-head cannot be settled; an unknown id is reported. */
    char unknown[KV_STORE_MSG_ID_LEN + 1];
    st_msg_id(unknown, "nobody");
    struct kv_outbox_settle sv[3] = {{.id = m[1].id, .done = true},
                                     {.id = unknown, .done = true},
                                     {.id = m[0].id, .done = true}};
    int res[3] = {9, 9, 9};
    OK(kv_store_outbox_settle(f->s, sv, 3, T0 + 5, res, detail));
    assert_int_equal(res[0], KV_EORDER);
    assert_int_equal(res[1], KV_ENOTFOUND);
    assert_int_equal(res[2], 0);
    assert_int_equal(kv_store_outbox_done(f->s, unknown, T0, detail), KV_ENOTFOUND);

    /* m[0] is delivered: m[1] heads AZ/mrn now; done again is harmless. */
    OK(kv_store_outbox_done(f->s, m[0].id, T0 + 6, detail));
    struct kv_outbox_item it;
    OK(kv_store_outbox_get(f->s, m[0].id, &it, detail));
    assert_int_equal(it.delivered_ms, T0 + 5);
    assert_int_equal(it.attempts, 1);
    kv_store_outbox_item_release(&it);
    OK(kv_store_outbox_due(f->s, T0, "AZ", 100, &d, detail));
    assert_int_equal(d.n, 2);
    assert_true(strcmp(d.items[0].id, m[1].id) == 0 || strcmp(d.items[1].id, m[1].id) == 0);
    kv_store_outbox_due_free(&d);
    assert_int_equal(backlog_of(f->s, "AZ"), 3);

    /* A failed attempt at m[1]: its stream waits until T0 + 2000, the rest goes on. */
    OK(kv_store_outbox_retry(f->s, m[1].id, T0 + 2000, "HTTP 500", detail));
    OK(kv_store_outbox_due(f->s, T0 + 1000, "AZ", 100, &d, detail));
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].id, m[3].id);
    assert_int_equal(d.next_at_ms, T0 + 2000);
    kv_store_outbox_due_free(&d);
    OK(kv_store_outbox_get(f->s, m[1].id, &it, detail));
    assert_int_equal(it.attempts, 1);
    assert_int_equal(it.next_attempt_ms, T0 + 2000);
    assert_string_equal(it.last_error, "HTTP 500");
    kv_store_outbox_item_release(&it);
    OK(kv_store_outbox_retry(f->s, m[1].id, T0 + 4000, "timeout", detail));
    OK(kv_store_outbox_due(f->s, T0 + 4000, "AZ", 100, &d, detail));
    assert_int_equal(d.n, 2);
    for (size_t i = 0; i < d.n; i++)
        if (strcmp(d.items[i].id, m[1].id) == 0) {
            assert_int_equal(d.items[i].attempts, 2);
            assert_string_equal(d.items[i].last_error, "timeout");
        }
    kv_store_outbox_due_free(&d);
    /* Delivered at last: the attempts it took are kept, the stream is reset. */
    OK(kv_store_outbox_done(f->s, m[1].id, T0 + 4100, detail));
    OK(kv_store_outbox_get(f->s, m[1].id, &it, detail));
    assert_int_equal(it.attempts, 3);
    kv_store_outbox_item_release(&it);
    OK(kv_store_outbox_get(f->s, m[2].id, &it, detail));
    assert_int_equal(it.attempts, 0);
    assert_int_equal(it.next_attempt_ms, 0);
    kv_store_outbox_item_release(&it);
    OK(kv_store_check(f->s, detail));

    /* Drain everything; prune the delivered. */
    for (;;) {
        OK(kv_store_outbox_due(f->s, T0 + 5000, NULL, 100, &d, detail));
        if (d.n == 0) {
            kv_store_outbox_due_free(&d);
            break;
        }
        for (size_t i = 0; i < d.n; i++)
            OK(kv_store_outbox_done(f->s, d.items[i].id, T0 + 5000, detail));
        kv_store_outbox_due_free(&d);
    }
    assert_int_equal(backlog_of(f->s, "AZ"), 0);
    assert_int_equal(backlog_of(f->s, "GE"), 0);
    OK(kv_store_check(f->s, detail));
    uint64_t removed = 0;
    OK(kv_store_outbox_prune(f->s, T0 + 5000, 1000, &removed, detail));
    assert_int_equal(removed, 2); /* delivered before T0 + 5000: m[0], m[1] */
    OK(kv_store_outbox_prune(f->s, T0 + 5001, 1000, &removed, detail));
    assert_int_equal(removed, 3);
    assert_int_equal(kv_store_outbox_get(f->s, m[4].id, &it, detail), KV_ENOTFOUND);
    OK(kv_store_check(f->s, detail));
    /* The streams remember where they were: the next message is seq 4. */
    uint32_t last = 0;
    OK(kv_store_outbox_seq(f->s, "AZ", mrn, &last, detail));
    assert_int_equal(last, 3);
}

/* The inbox records each message once, in order, and tells a replay from a forgery. */
static void test_inbox_once_in_order(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_in m1, m2, m3, m3b, forged, other2;
    st_in(&m1, "in", "AZ", MRN_A, 1, 0);
    st_in(&m2, "in", "AZ", MRN_A, 2, 0);
    st_in(&m3, "in", "AZ", MRN_A, 3, 0);
    st_in(&m3b, "in-b", "AZ", MRN_A, 3, 0);  /* another id, the same seq */
    st_in(&forged, "in", "AZ", MRN_A, 1, 7); /* m1's id, other bytes */
    st_in(&other2, "in-o", "AZ", MRN_A, 2, 0);

    /* Early: seq 2 before 1. */
    assert_int_equal(kv_store_inbox_apply(f->s, &m2.m, NULL, 0, detail), KV_EORDER);
    assert_non_null(strstr(detail, "waiting for seq 1"));
    OK(kv_store_inbox_apply(f->s, &m1.m, NULL, 0, detail));
    assert_int_equal(kv_store_inbox_apply(f->s, &m1.m, NULL, 0, detail), KV_EDUPLICATE);
    assert_int_equal(kv_store_inbox_apply(f->s, &forged.m, NULL, 0, detail), KV_ECONFLICT);
    /* The same id from another sender is a forgery too. */
    struct st_in alien = m1;
    alien.m.sender = "GE";
    assert_int_equal(kv_store_inbox_apply(f->s, &alien.m, NULL, 0, detail), KV_ECONFLICT);

    /* A reply is enqueued with the record (one transaction). */
    struct st_msg reply;
    st_msg(&reply, "reply", "AZ", MRN_A, 1);
    OK(kv_store_inbox_apply(f->s, &m2.m, &reply.m, 1, detail));
    uint32_t applied = 0, parked = 0;
    OK(kv_store_inbox_last(f->s, "AZ", MRN_A, &applied, &parked, detail));
    assert_int_equal(applied, 2);
    assert_int_equal(parked, 0);
    assert_int_equal(backlog_of(f->s, "AZ"), 1);
    /* Seq 2 again under another id: a conflict. */
    assert_int_equal(kv_store_inbox_apply(f->s, &other2.m, NULL, 0, detail), KV_ECONFLICT);
    /* A reply whose seq is wrong undoes the record. */
    struct st_msg bad_reply;
    st_msg(&bad_reply, "reply", "AZ", MRN_A, 5);
    assert_int_equal(kv_store_inbox_apply(f->s, &m3.m, &bad_reply.m, 1, detail), KV_ESTALE);
    OK(kv_store_inbox_last(f->s, "AZ", MRN_A, &applied, &parked, detail));
    assert_int_equal(applied, 2);
    OK(kv_store_inbox_apply(f->s, &m3.m, NULL, 0, detail));
    assert_int_equal(kv_store_inbox_apply(f->s, &m3b.m, NULL, 0, detail), KV_ECONFLICT);

    struct kv_inbox_record rec;
    OK(kv_store_inbox_find(f->s, m2.id, true, &rec, detail));
    assert_int_equal(rec.state, KV_INBOX_APPLIED);
    assert_int_equal(rec.seq, 2);
    assert_string_equal(rec.sender, "AZ");
    assert_string_equal(rec.kind, "CD118C");
    assert_string_equal(rec.signature, "keyid=peer, sig=BBBB");
    assert_int_equal(rec.envelope_len, m2.m.envelope_len);
    assert_memory_equal(rec.envelope, m2.env, rec.envelope_len);
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(m2.env, m2.m.envelope_len, h);
    assert_memory_equal(rec.hash, h, sizeof h);
    kv_store_inbox_record_release(&rec);
    OK(kv_store_inbox_find(f->s, m1.id, false, &rec, detail));
    assert_null(rec.envelope);
    kv_store_inbox_record_release(&rec);
    assert_int_equal(kv_store_inbox_find(f->s, other2.id, false, &rec, detail), KV_ENOTFOUND);
    OK(kv_store_check(f->s, detail));
}

/* Early messages park, wait, and are applied when their turn comes. */
static void test_inbox_parking(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_in m[6];
    for (uint32_t i = 1; i <= 5; i++)
        st_in(&m[i], "park", "GE", MRN_B, i, 0);
    uint32_t waiting = 0;
    /* 1 is next: not early. */
    assert_int_equal(kv_store_inbox_park(f->s, &m[1].m, &waiting, detail), KV_ESTALE);
    assert_int_equal(waiting, 1);
    OK(kv_store_inbox_park(f->s, &m[4].m, &waiting, detail));
    OK(kv_store_inbox_park(f->s, &m[2].m, &waiting, detail));
    assert_int_equal(waiting, 1);
    assert_int_equal(kv_store_inbox_park(f->s, &m[2].m, &waiting, detail), KV_EDUPLICATE);
    struct st_in m2b;
    st_in(&m2b, "park-b", "GE", MRN_B, 2, 0);
    assert_int_equal(kv_store_inbox_park(f->s, &m2b.m, &waiting, detail), KV_ECONFLICT);
    uint32_t applied = 0, parked = 0;
    OK(kv_store_inbox_last(f->s, "GE", MRN_B, &applied, &parked, detail));
    assert_int_equal(applied, 0);
    assert_int_equal(parked, 2);
    struct kv_inbox_stream ready[4];
    size_t n = 9;
    OK(kv_store_inbox_ready(f->s, ready, 4, &n, detail));
    assert_int_equal(n, 0); /* 1 is missing */
    struct kv_inbox_record rec;
    assert_int_equal(kv_store_inbox_parked_next(f->s, "GE", MRN_B, &rec, detail), KV_ENOTFOUND);

    OK(kv_store_inbox_apply(f->s, &m[1].m, NULL, 0, detail));
    OK(kv_store_inbox_ready(f->s, ready, 4, &n, detail));
    assert_int_equal(n, 1);
    assert_string_equal(ready[0].sender, "GE");
    assert_string_equal(ready[0].mrn, MRN_B);
    OK(kv_store_inbox_parked_next(f->s, "GE", MRN_B, &rec, detail));
    assert_string_equal(rec.id, m[2].id);
    assert_int_equal(rec.state, KV_INBOX_PARKED);
    assert_memory_equal(rec.envelope, m[2].env, m[2].m.envelope_len);
    /* Applying the parked copy (rebuilt from the record) marks it applied. */
    struct kv_inbox_in again = {.id = rec.id,
                                .sender = rec.sender,
                                .kind = rec.kind,
                                .mrn = rec.mrn,
                                .seq = rec.seq,
                                .envelope = rec.envelope,
                                .envelope_len = rec.envelope_len,
                                .signature = rec.signature};
    OK(kv_store_inbox_apply(f->s, &again, NULL, 0, detail));
    kv_store_inbox_record_release(&rec);
    OK(kv_store_inbox_last(f->s, "GE", MRN_B, &applied, &parked, detail));
    assert_int_equal(applied, 2);
    assert_int_equal(parked, 1);
    /* A parked message arriving again after it was applied: a duplicate. */
    assert_int_equal(kv_store_inbox_park(f->s, &m[2].m, &waiting, detail), KV_EDUPLICATE);
    assert_int_equal(kv_store_inbox_apply(f->s, &m[4].m, NULL, 0, detail), KV_EORDER);
    OK(kv_store_inbox_apply(f->s, &m[3].m, NULL, 0, detail));
    OK(kv_store_inbox_apply(f->s, &m[4].m, NULL, 0, detail));
    OK(kv_store_inbox_last(f->s, "GE", MRN_B, &applied, &parked, detail));
    assert_int_equal(applied, 4);
    assert_int_equal(parked, 0);
    OK(kv_store_check(f->s, detail));

    /* Limits: too far ahead, too many parked. */
    struct st_in far;
    st_in(&far, "far", "GE", MRN_B, 5 + KV_STORE_PARK_AHEAD_MAX, 0);
    assert_int_equal(kv_store_inbox_park(f->s, &far.m, &waiting, detail), KV_ELIMIT);
    for (uint32_t i = 0; i < KV_STORE_PARKED_MAX; i++) {
        struct st_in p;
        st_in(&p, "many", "GE", MRN_B, 6 + i, 0);
        OK(kv_store_inbox_park(f->s, &p.m, &waiting, detail));
    }
    struct st_in one_more;
    st_in(&one_more, "many", "GE", MRN_B, 6 + KV_STORE_PARKED_MAX, 0);
    assert_int_equal(kv_store_inbox_park(f->s, &one_more.m, &waiting, detail), KV_ELIMIT);
    assert_int_equal(waiting, 5);
    OK(kv_store_check(f->s, detail));
}

/* An append that applies a received message: both or neither. */
static void test_append_applies_received(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1];
    lodge(f->s, "RECV-1", mrn);
    struct st_in m1, m2;
    st_in(&m1, "ev", "GE", mrn, 1, 0);
    st_in(&m2, "ev", "GE", mrn, 2, 0);
    struct kv_append a = st_event("release", "released");

    a.inbox = &m2.m; /* early: nothing appended */
    assert_int_equal(kv_store_append(f->s, mrn, 1, &a, detail), KV_EORDER);
    a.inbox = &m1.m; /* stale movement: the inbox record is undone too */
    assert_int_equal(kv_store_append(f->s, mrn, 5, &a, detail), KV_ESTALE);
    uint32_t applied = 9, parked = 9;
    OK(kv_store_inbox_last(f->s, "GE", mrn, &applied, &parked, detail));
    assert_int_equal(applied, 0);
    OK(kv_store_append(f->s, mrn, 1, &a, detail));
    OK(kv_store_inbox_last(f->s, "GE", mrn, &applied, &parked, detail));
    assert_int_equal(applied, 1);
    /* A replay appends nothing, even with the right expected seq. */
    struct kv_append b = st_event("exit", "released");
    b.inbox = &m1.m;
    assert_int_equal(kv_store_append(f->s, mrn, 2, &b, detail), KV_EDUPLICATE);
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, mrn, &m, detail));
    assert_int_equal(m->summary.seq, 2);
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));
}

static void test_exchange_input_contracts(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1];
    lodge(f->s, "CON-1", mrn);
    struct st_msg x;
    st_msg(&x, "c", "AZ", mrn, 1);
    struct kv_outmsg m = x.m;
    m.id = "ABCDEF0123456789abcdef0123456789"; /* upper case */
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "lower-case hex"));
    m = x.m;
    m.receiver = "TR"; /* this node */
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "this node"));
    m = x.m;
    m.kind = "CD 050";
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    m = x.m;
    m.mrn = "short";
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    m = x.m;
    m.seq = 0;
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    m = x.m;
    m.envelope_len = KV_STORE_ENVELOPE_MAX + 1;
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    m = x.m;
    m.signature = "sig\nwith a line break";
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 1, detail), KV_EINVAL);
    m = x.m;
    m.signature = NULL; /* signed at delivery */
    OK(kv_store_outbox_enqueue(f->s, &m, 1, detail));
    assert_int_equal(kv_store_outbox_enqueue(f->s, &m, 0, detail), KV_EINVAL);

    struct kv_outmsg many[KV_STORE_OUT_MAX + 1];
    for (size_t i = 0; i < KV_STORE_OUT_MAX + 1; i++)
        many[i] = x.m;
    struct kv_append a = st_event("release", "released");
    a.out = many;
    a.n_out = KV_STORE_OUT_MAX + 1;
    assert_int_equal(kv_store_append(f->s, mrn, 1, &a, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "at most"));

    struct st_in in;
    st_in(&in, "c", "TR", MRN_A, 1, 0); /* from this node */
    assert_int_equal(kv_store_inbox_apply(f->s, &in.m, NULL, 0, detail), KV_EINVAL);
    st_in(&in, "c", "AZ", MRN_A, 1, 0);
    in.m.envelope_len = 0;
    assert_int_equal(kv_store_inbox_park(f->s, &in.m, NULL, detail), KV_EINVAL);

    struct kv_outbox_due d;
    assert_int_equal(kv_store_outbox_due(f->s, T0, NULL, 0, &d, detail), KV_EINVAL);
    assert_int_equal(kv_store_outbox_due(f->s, T0, "az", 10, &d, detail), KV_EINVAL);
    struct kv_outbox_settle sv = {.id = x.id, .done = true};
    assert_int_equal(kv_store_outbox_settle(f->s, &sv, 1, 0, NULL, detail), KV_EINVAL);
    uint32_t last;
    assert_int_equal(kv_store_outbox_seq(f->s, "AZ", "nope", &last, detail), KV_EINVAL);
    OK(kv_store_check(f->s, detail));
}

static void test_check_finds_exchange_damage(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "", mrn[KV_MRN_LEN + 1];
    lodge(f->s, "DMG-1", mrn);
    struct st_msg a, b;
    st_msg(&a, "dmg", "AZ", mrn, 1);
    st_msg(&b, "dmg", "AZ", mrn, 2);
    struct kv_outmsg v[2] = {a.m, b.m};
    OK(kv_store_outbox_enqueue(f->s, v, 2, detail));
    struct st_in in;
    st_in(&in, "dmg", "GE", MRN_A, 1, 0);
    OK(kv_store_inbox_apply(f->s, &in.m, NULL, 0, detail));
    OK(kv_store_check(f->s, detail));
    kv_store_close(f->s);
    f->s = NULL;

    static const struct {
        const char *damage, *undo, *what;
    } cases[] = {
        {"DELETE FROM outbox WHERE seq = 2", NULL, "outbox stream inconsistent"},
        {"UPDATE outbox_peer SET pending = 7", "UPDATE outbox_peer SET pending = 2",
         "outbox backlog count wrong"},
        {"UPDATE outbox SET delivered = 5 WHERE seq = 1", "UPDATE outbox SET delivered = 0",
         "outbox stream inconsistent"},
        {"UPDATE inbox_stream SET applied = 2", "UPDATE inbox_stream SET applied = 1",
         "inbox stream inconsistent"},
        {"UPDATE inbox SET applied = 0", "UPDATE inbox SET applied = 1",
         "inbox stream inconsistent"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        db_exec(f->dir, cases[i].damage);
        OK(st_open(f->dir, 0, &f->s, detail));
        assert_int_equal(kv_store_check(f->s, detail), KV_ECORRUPT);
        if (!strstr(detail, cases[i].what))
            fail_msg("%s: expected \"%s\", got \"%s\"", cases[i].damage, cases[i].what, detail);
        kv_store_close(f->s);
        f->s = NULL;
        if (cases[i].undo)
            db_exec(f->dir, cases[i].undo);
        else
            /* put the missing row back as it was */
            db_exec(f->dir, "INSERT INTO outbox (id, receiver, mrn, seq, kind, envelope, "
                            "created) SELECT 'ffffffffffffffffffffffffffffffff', receiver, mrn, "
                            "2, kind, envelope, created FROM outbox WHERE seq = 1");
    }
    OK(st_open(f->dir, 0, &f->s, detail));
    OK(kv_store_check(f->s, detail));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrates_schema_1, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_carries_messages, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_lodge_builds_messages, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_due_settle_retry, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_once_in_order, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_parking, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_applies_received, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_exchange_input_contracts, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_exchange_damage, st_fx_setup,
                                        st_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
