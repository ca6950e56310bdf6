/*
 * test_outbox_crash.c — the transactional outbox under kill -9: a state
 * change and the messages it causes are stored both or neither, and
 * delivery results survive as acknowledged.
 *
 * Each round forks a child (crash_harness.h) that lodges movements from
 * three threads and gives each a release carrying two messages (to AZ and
 * GE, seq 1 of their streams) and then a write-off carrying one more (to AZ,
 * seq 2), reporting "R mrn" and "W mrn" once acknowledged. A fourth thread
 * plays the delivery worker: it takes due messages and settles them —
 * every third as a failed attempt, the rest as delivered — reporting
 * "D id" for each delivery acknowledged. The parent kills the child at a
 * random moment (0-400 ms), reopens the store and checks with SQL beside
 * the store's own check:
 *   - every movement at seq 1 has no message, at seq 2 exactly its two
 *     release messages, at seq 3 those and the write-off's; no message
 *     exists for a movement that does not have the event that causes it;
 *   - every acknowledged release / write-off is there with its messages;
 *   - every acknowledged delivery is recorded as delivered;
 *   - kv_store_check passes (streams contiguous, backlog counts right).
 * KV_TEST_SEED=N replays the kill moments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>

#include "crash_harness.h"
#include "store_test.h"

#define ROUNDS       (KV_TEST_ASAN ? 8 : 12)
#define LODGERS      3
#define MAX_DELAY_MS 400

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

/* ---------------------------------------------------------------------------
 * The child
 */

struct child_ctx {
    struct kv_store *s;
    int fd, round, thread;
};

static void *child_lodger(void *arg)
{
    struct child_ctx *c = arg;
    char detail[KV_STORE_DETAIL_MAX], line[CH_LINE_MAX];
    for (int i = 0; i < 1000000; i++) {
        struct st_decl d;
        char lrn[24];
        snprintf(lrn, sizeof lrn, "O%dT%dN%d", c->round, c->thread, i);
        st_decl(&d, "TR-OUTBOX", lrn, 0, NULL, 0);
        struct kv_lodge_result r;
        if (kv_store_lodge(c->s, &d.in, &r, detail) != 0)
            _exit(5);
        struct st_msg az, ge, az2;
        st_msg(&az, "release", "AZ", r.mrn, 1);
        st_msg(&ge, "release", "GE", r.mrn, 1);
        struct kv_outmsg out[2] = {az.m, ge.m};
        struct kv_append a = st_event("release", "released");
        a.out = out;
        a.n_out = 2;
        if (kv_store_append(c->s, r.mrn, 1, &a, detail) != 0)
            _exit(6);
        snprintf(line, sizeof line, "R %s\n", r.mrn);
        ch_say(c->fd, line);
        if (i % 2 == 0) {
            st_msg(&az2, "write_off", "AZ", r.mrn, 2);
            a = st_event("write_off", "written_off");
            a.out = &az2.m;
            a.n_out = 1;
            if (kv_store_append(c->s, r.mrn, 2, &a, detail) != 0)
                _exit(7);
            snprintf(line, sizeof line, "W %s\n", r.mrn);
            ch_say(c->fd, line);
        }
    }
    return NULL;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *child_deliverer(void *arg)
{
    struct child_ctx *c = arg;
    char detail[KV_STORE_DETAIL_MAX], line[CH_LINE_MAX];
    unsigned turn = 0;
    for (;;) {
        struct kv_outbox_due d;
        if (kv_store_outbox_due(c->s, wall_ms(), NULL, 64, &d, detail) != 0)
            _exit(8);
        if (d.n == 0) {
            kv_store_outbox_due_free(&d);
            usleep(1000);
            continue;
        }
        struct kv_outbox_settle v[64];
        int res[64];
        for (size_t i = 0; i < d.n; i++) {
            bool ok = turn++ % 3 != 0;
            v[i] = (struct kv_outbox_settle){.id = d.items[i].id,
                                             .done = ok,
                                             .next_attempt_ms = wall_ms() + 2,
                                             .error = "HTTP 503"};
        }
        if (kv_store_outbox_settle(c->s, v, d.n, wall_ms(), res, detail) != 0)
            _exit(9);
        for (size_t i = 0; i < d.n; i++) {
            if (v[i].done && res[i] == 0) {
                snprintf(line, sizeof line, "D %s\n", d.items[i].id);
                ch_say(c->fd, line);
            }
        }
        kv_store_outbox_due_free(&d);
    }
    return NULL;
}

static void child_main(const char *dir, int round, int fd)
{
    char detail[KV_STORE_DETAIL_MAX];
    struct kv_store *s = NULL;
    if (st_open(dir, 0, &s, detail) != 0) {
        fprintf(stderr, "child: open: %s\n", detail);
        _exit(3);
    }
    pthread_t th[LODGERS + 1];
    struct child_ctx ctx[LODGERS + 1];
    for (int t = 0; t <= LODGERS; t++) {
        ctx[t] = (struct child_ctx){s, fd, round, t};
        if (pthread_create(&th[t], NULL, t < LODGERS ? child_lodger : child_deliverer, &ctx[t]))
            _exit(3);
    }
    for (int t = 0; t <= LODGERS; t++)
        pthread_join(th[t], NULL);
    _exit(0);
}

/* ---------------------------------------------------------------------------
 * The parent
 */

struct acks {
    char (*v)[1 + KV_STORE_MSG_ID_LEN + 1]; /* kind letter, then MRN or message id */
    size_t n, cap;
};

static void on_line(const char *line, void *ctx)
{
    struct acks *a = ctx;
    assert_true(line[0] == 'R' || line[0] == 'W' || line[0] == 'D');
    size_t want = line[0] == 'D' ? KV_STORE_MSG_ID_LEN : KV_MRN_LEN;
    assert_int_equal(strlen(line), 2 + want);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        assert_non_null(a->v);
    }
    a->v[a->n][0] = line[0];
    memcpy(a->v[a->n] + 1, line + 2, want + 1);
    a->n++;
}

/* Runs a query that must return no row; fails with its first row otherwise. */
static void expect_none(sqlite3 *db, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        fail_msg("%s: %s", what, (const char *)sqlite3_column_text(st, 0));
    assert_int_equal(r, SQLITE_DONE);
    sqlite3_finalize(st);
}

static int64_t count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* Both or neither: each movement's messages are exactly those its events cause. */
static void check_both_or_neither(const char *dir, int64_t *messages, int64_t *delivered)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    /* The messages a movement at seq n must have: 0, 2 (release), 3 (+ write-off). */
    expect_none(db,
                "SELECT m.mrn || ' seq ' || m.seq || ' messages ' || "
                "(SELECT count(*) FROM outbox o WHERE o.mrn = m.mrn) FROM movement m "
                "WHERE (SELECT count(*) FROM outbox o WHERE o.mrn = m.mrn) != "
                "CASE m.seq WHEN 1 THEN 0 WHEN 2 THEN 2 ELSE 3 END",
                "a movement's messages do not match its events");
    expect_none(db,
                "SELECT m.mrn FROM movement m WHERE m.seq >= 2 AND (NOT EXISTS (SELECT 1 FROM "
                "outbox o WHERE o.mrn = m.mrn AND o.receiver = 'AZ' AND o.seq = 1) OR NOT "
                "EXISTS (SELECT 1 FROM outbox o WHERE o.mrn = m.mrn AND o.receiver = 'GE' AND "
                "o.seq = 1)) OR m.seq = 3 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.mrn = "
                "m.mrn AND o.receiver = 'AZ' AND o.seq = 2)",
                "a release or write-off without its messages");
    expect_none(db,
                "SELECT o.id FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM movement m "
                "WHERE m.mrn = o.mrn AND m.seq >= o.seq + 1)",
                "a message without the event that causes it");
    *messages = count_of(db, "SELECT count(*) FROM outbox");
    *delivered = count_of(db, "SELECT count(*) FROM outbox WHERE delivered > 0");
    sqlite3_close(db);
}

static void check_acks(struct kv_store *s, const struct acks *a, size_t from)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (size_t i = from; i < a->n; i++) {
        const char *x = a->v[i] + 1;
        if (a->v[i][0] == 'D') {
            struct kv_outbox_item it;
            OK(kv_store_outbox_get(s, x, &it, detail));
            if (it.delivered_ms <= 0)
                fail_msg("acknowledged delivery of %s lost", x);
            kv_store_outbox_item_release(&it);
            continue;
        }
        struct kv_movement_record *m = NULL;
        OK(kv_store_get(s, x, &m, detail));
        assert_true(m->summary.seq >= (a->v[i][0] == 'R' ? 2u : 3u));
        kv_store_record_free(m);
        uint32_t last = 0;
        OK(kv_store_outbox_seq(s, "GE", x, &last, detail));
        assert_int_equal(last, 1);
        OK(kv_store_outbox_seq(s, "AZ", x, &last, detail));
        if (a->v[i][0] == 'W')
            assert_int_equal(last, 2); /* release's and write-off's */
        else
            assert_true(last >= 1); /* the write-off may have followed */
    }
}

static void test_kill_9_outbox_both_or_neither(void **state)
{
    (void)state;
    ch_seed();
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    st_tmpdir(dir);
    struct acks all = {0};
    size_t rounds_with_deliveries = 0;
    for (int round = 1; round <= ROUNDS; round++) {
        int delay = (int)(ch_rng() % (MAX_DELAY_MS + 1));
        size_t before = all.n;
        ch_run_child(dir, round, delay, child_main, on_line, &all);

        struct kv_store *s = NULL;
        OK(st_open(dir, 0, &s, detail));
        OK(kv_store_check(s, detail));
        check_acks(s, &all, before);
        kv_store_close(s);
        int64_t messages = 0, delivered = 0;
        check_both_or_neither(dir, &messages, &delivered);
        size_t d = 0;
        for (size_t i = before; i < all.n; i++)
            d += all.v[i][0] == 'D';
        rounds_with_deliveries += d > 0;
        printf("# round %2d: killed after %3d ms, %5zu acknowledgements (%zu deliveries); "
               "%lld messages stored, %lld delivered\n",
               round, delay, all.n - before, d, (long long)messages, (long long)delivered);
        fflush(stdout);
    }
    assert_true(rounds_with_deliveries >= 1);
    struct kv_store *s = NULL;
    OK(st_open(dir, 0, &s, detail));
    OK(kv_store_check(s, detail));
    check_acks(s, &all, 0);
    kv_store_close(s);
    free(all.v);
    st_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_outbox_both_or_neither),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
