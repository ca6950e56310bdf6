/*
 * test_crash.c — durability under kill -9.
 *
 * Each round forks a child that opens the store and lodges as fast as it can
 * from four threads (some movements also get a release and a write-off,
 * which frees their guarantee reservation). After each acknowledgement the
 * child writes one line to a pipe: "L mrn lrn" for a lodge, "E mrn" for a
 * release, "W mrn" for a write-off. The parent kills the child with SIGKILL
 * at a random moment (0-500 ms after the fork, so sometimes during open or
 * migration), reopens the database and checks: it opens, passes
 * kv_store_check (integrity_check, foreign keys, ledger and log
 * invariants), holds every acknowledged operation, holds no movement twice,
 * and the MRN counter continues right after the largest serial stored.
 * The rounds share one database, so each child also recovers its
 * predecessor's crash. KV_TEST_SEED=N replays a run's kill moments. The
 * fork / kill / pipe machinery is crash_harness.h (test_outbox_crash.c uses
 * it too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>

#include "crash_harness.h"
#include "store_test.h"

#define ROUNDS        (KV_TEST_ASAN ? 10 : 14)
#define CHILD_THREADS 4
#define MAX_DELAY_MS  500
#define GRN           "25TR000000000CRASH"

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
    int fd;
    int round;
    int thread;
};

static void *child_lodger(void *arg)
{
    struct child_ctx *c = arg;
    char detail[KV_STORE_DETAIL_MAX], line[128];
    for (int i = 0; i < 1000000; i++) {
        struct st_decl d;
        char lrn[24];
        snprintf(lrn, sizeof lrn, "R%dT%dN%d", c->round, c->thread, i);
        st_decl(&d, "TR-CRASH", lrn, 0, GRN, 100 + i % 7);
        struct kv_lodge_result r;
        if (kv_store_lodge(c->s, &d.in, &r, detail) != 0)
            _exit(5);
        snprintf(line, sizeof line, "L %s %s\n", r.mrn, lrn);
        ch_say(c->fd, line);
        if (i % 3 == 0) {
            struct kv_append a = st_event("release", "released");
            if (kv_store_append(c->s, r.mrn, 1, &a, detail) != 0)
                _exit(6);
            snprintf(line, sizeof line, "E %s\n", r.mrn);
            ch_say(c->fd, line);
            if (i % 6 == 0) {
                a = st_event("write_off", "written_off");
                if (kv_store_append(c->s, r.mrn, 2, &a, detail) != 0)
                    _exit(7);
                snprintf(line, sizeof line, "W %s\n", r.mrn);
                ch_say(c->fd, line);
            }
        }
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
    struct kv_guarantee_reg g = {GRN, "TR-GUARANTOR", KV_STORE_AMOUNT_MAX, "EUR"};
    if (kv_store_guarantee_register(s, &g, NULL, detail) != 0)
        _exit(3);
    pthread_t th[CHILD_THREADS];
    struct child_ctx ctx[CHILD_THREADS];
    for (int t = 0; t < CHILD_THREADS; t++) {
        ctx[t] = (struct child_ctx){s, fd, round, t};
        if (pthread_create(&th[t], NULL, child_lodger, &ctx[t]) != 0)
            _exit(3);
    }
    for (int t = 0; t < CHILD_THREADS; t++)
        pthread_join(th[t], NULL);
    kv_store_close(s);
    _exit(0);
}

/* ---------------------------------------------------------------------------
 * The parent
 */

struct ack {
    char kind; /* 'L', 'E' or 'W' from the child; 'P' lodged by the parent */
    char mrn[KV_MRN_LEN + 1];
    char lrn[24];
};

struct acks {
    struct ack *v;
    size_t n, cap;
};

static void acks_add(struct acks *a, const struct ack *x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
        assert_non_null(a->v);
    }
    a->v[a->n++] = *x;
}

/* Parses one line from the child into an acknowledgement. */
static void on_line(const char *line, void *ctx)
{
    struct acks *out = ctx;
    size_t n = strlen(line);
    struct ack a = {0};
    a.kind = line[0];
    assert_true(a.kind == 'L' || a.kind == 'E' || a.kind == 'W');
    assert_true(n >= 2 + KV_MRN_LEN);
    memcpy(a.mrn, line + 2, KV_MRN_LEN);
    if (a.kind == 'L') {
        size_t m = strlen(line + 3 + KV_MRN_LEN);
        assert_true(m > 0 && m < sizeof a.lrn);
        memcpy(a.lrn, line + 3 + KV_MRN_LEN, m + 1);
    }
    acks_add(out, &a);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Lists every movement; checks no MRN and no (holder, LRN) appears twice and
 * the count matches the per-state counts. Returns the largest 2025 serial.
 */
static int64_t check_all_once(struct kv_store *s, uint64_t *count)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store_stats st;
    OK(kv_store_stats(s, &st, detail));
    size_t n = 0, cap = st.movements + 1;
    char **mrns = calloc(cap, sizeof *mrns), **lrns = calloc(cap, sizeof *lrns);
    assert_non_null(mrns);
    assert_non_null(lrns);
    int64_t max_serial = 0;
    char cursor[KV_STORE_CURSOR_MAX] = "";
    do {
        struct kv_list_query q = {.limit = 500, .cursor = cursor[0] ? cursor : NULL};
        struct kv_list_page p;
        OK(kv_store_list(s, &q, &p, detail));
        for (size_t i = 0; i < p.n; i++) {
            assert_true(n < cap);
            mrns[n] = strdup(p.items[i].mrn);
            lrns[n] = malloc(80);
            snprintf(lrns[n], 80, "%s/%s", p.items[i].holder, p.items[i].lrn);
            n++;
            if (memcmp(p.items[i].mrn, "25", 2) == 0 && st_serial(p.items[i].mrn) > max_serial)
                max_serial = st_serial(p.items[i].mrn);
        }
        memcpy(cursor, p.next_cursor, sizeof cursor);
        kv_store_list_free(&p);
    } while (cursor[0]);
    assert_int_equal(n, st.movements);
    qsort(mrns, n, sizeof *mrns, cmp_str);
    qsort(lrns, n, sizeof *lrns, cmp_str);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(mrns[i], mrns[i - 1]) == 0)
            fail_msg("MRN %s stored twice", mrns[i]);
        if (strcmp(lrns[i], lrns[i - 1]) == 0)
            fail_msg("LRN %s stored twice", lrns[i]);
    }
    for (size_t i = 0; i < n; i++) {
        free(mrns[i]);
        free(lrns[i]);
    }
    free(mrns);
    free(lrns);
    *count = n;
    return max_serial;
}

/* Every acknowledged operation in `a` from index `from` is in the store. */
static void check_acks(struct kv_store *s, const struct acks *a, size_t from)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (size_t i = from; i < a->n; i++) {
        const struct ack *x = &a->v[i];
        struct kv_movement_record *m = NULL;
        int rc = kv_store_get(s, x->mrn, &m, detail);
        if (rc)
            fail_msg("acknowledged %c %s lost: %d %s", x->kind, x->mrn, rc, detail);
        switch (x->kind) {
        case 'L':
            assert_string_equal(m->summary.lrn, x->lrn);
            assert_true(m->n_events >= 1);
            assert_int_equal(m->n_guarantees, 1);
            break;
        case 'P': /* lodged by the parent, without a guarantee */
            assert_string_equal(m->summary.lrn, x->lrn);
            assert_int_equal(m->n_events, 1);
            break;
        case 'E':
            assert_true(m->summary.seq >= 2);
            assert_string_equal(m->events[1].type, "release");
            break;
        case 'W':
            assert_int_equal(m->summary.seq, 3);
            assert_string_equal(m->summary.state, "written_off");
            assert_true(m->guarantees[0].released > 0);
            break;
        }
        assert_int_equal(m->n_events, m->summary.seq);
        kv_store_record_free(m);
    }
}

static void test_kill_9_loses_nothing_acknowledged(void **state)
{
    (void)state;
    ch_seed();

    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    st_tmpdir(dir);
    struct acks all = {0};
    size_t rounds_with_acks = 0;
    for (int round = 1; round <= ROUNDS; round++) {
        int delay = (int)(ch_rng() % (MAX_DELAY_MS + 1));
        size_t before = all.n;
        ch_run_child(dir, round, delay, child_main, on_line, &all);

        struct kv_store *s = NULL;
        OK(st_open(dir, 0, &s, detail));
        OK(kv_store_check(s, detail));
        check_acks(s, &all, before);
        uint64_t count = 0;
        int64_t max_serial = check_all_once(s, &count);

        /* The counter continues right after the largest serial stored. */
        struct st_decl d;
        char lrn[24];
        snprintf(lrn, sizeof lrn, "P%d", round);
        st_decl(&d, "TR-PARENT", lrn, 0, NULL, 0);
        struct kv_lodge_result r;
        OK(kv_store_lodge(s, &d.in, &r, detail));
        assert_int_equal(st_serial(r.mrn), max_serial + 1);
        struct ack a = {.kind = 'P'};
        memcpy(a.mrn, r.mrn, sizeof a.mrn);
        snprintf(a.lrn, sizeof a.lrn, "%s", lrn);
        acks_add(&all, &a);
        kv_store_close(s);

        size_t got = all.n - before - 1;
        rounds_with_acks += got > 0;
        printf("# round %2d: killed after %3d ms, %5zu acknowledgements, %6llu movements stored\n",
               round, delay, got, (unsigned long long)count);
        fflush(stdout);
    }
    assert_true(rounds_with_acks >= 1);

    /* At the end, everything acknowledged in every round is still there. */
    struct kv_store *s = NULL;
    OK(st_open(dir, 0, &s, detail));
    OK(kv_store_check(s, detail));
    check_acks(s, &all, 0);
    uint64_t count = 0;
    check_all_once(s, &count);
    kv_store_close(s);
    free(all.v);
    st_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_loses_nothing_acknowledged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
