/*
 * test_concurrency.c — the store under concurrent callers: 8 threads × 500
 * lodges give 4,000 distinct MRNs with contiguous serials while a reader
 * lists and reads; a guarantee with room for exactly N lodges, raced by 2N,
 * is never over-reserved; and a measurement (printed, not asserted) of
 * lodges/s with group commit against one transaction per lodge, in the
 * same run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "store_test.h"

#define THREADS     8
#define MAX_THREADS 128

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

struct worker {
    struct kv_store *s;
    int id;
    int count;
    const char *grn; /* NULL: no guarantee */
    int64_t amount;
    char (*mrns)[KV_MRN_LEN + 1]; /* count entries; "" where the lodge failed */
    int ok, funds, other;
    char last_error[KV_STORE_DETAIL_MAX + 32];
    bool append; /* append an event to every 10th movement */
};

static void *lodger(void *arg)
{
    struct worker *w = arg;
    char detail[KV_STORE_DETAIL_MAX];
    for (int i = 0; i < w->count; i++) {
        struct st_decl d;
        char lrn[24];
        snprintf(lrn, sizeof lrn, "T%d-%d", w->id, i);
        st_decl(&d, "TR-CONC", lrn, 0, w->grn, w->amount);
        struct kv_lodge_result r;
        int rc = kv_store_lodge(w->s, &d.in, &r, detail);
        w->mrns[i][0] = '\0';
        if (rc == 0 && !r.replay) {
            w->ok++;
            memcpy(w->mrns[i], r.mrn, sizeof r.mrn);
        } else if (rc == KV_EFUNDS && r.funds.why == KV_FUNDS_SHORT &&
                   r.funds.remaining < r.funds.requested) {
            w->funds++;
        } else {
            w->other++;
            snprintf(w->last_error, sizeof w->last_error, "%d %s", rc, detail);
        }
        if (rc == 0 && w->append && i % 10 == 0) {
            struct kv_append a = st_event("control_decision", "under_control");
            rc = kv_store_append(w->s, r.mrn, 1, &a, detail);
            if (rc) {
                w->other++;
                snprintf(w->last_error, sizeof w->last_error, "append %d %s", rc, detail);
            }
        }
    }
    return NULL;
}

struct reader {
    struct kv_store *s;
    atomic_bool stop;
    int reads, errors;
};

static void *reading(void *arg)
{
    struct reader *rd = arg;
    char detail[KV_STORE_DETAIL_MAX];
    while (!atomic_load(&rd->stop)) {
        struct kv_list_query q = {.holder = "TR-CONC", .limit = 50};
        struct kv_list_page p;
        if (kv_store_list(rd->s, &q, &p, detail) != 0) {
            rd->errors++;
            continue;
        }
        for (size_t i = 0; i < p.n; i += 10) {
            struct kv_movement_record *m = NULL;
            if (kv_store_get(rd->s, p.items[i].mrn, &m, detail) != 0 ||
                m->n_events != m->summary.seq)
                rd->errors++;
            kv_store_record_free(m);
            rd->reads++;
        }
        kv_store_list_free(&p);
        struct kv_store_stats st;
        if (kv_store_stats(rd->s, &st, detail) != 0)
            rd->errors++;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs n workers of `per` lodges each; returns the elapsed seconds. */
static double run_n_workers(int n, struct worker *w, struct kv_store *s, int per, const char *grn,
                            int64_t amount, bool append, char (*mrns)[KV_MRN_LEN + 1])
{
    pthread_t th[MAX_THREADS];
    double t0 = now_s();
    for (int t = 0; t < n; t++) {
        w[t] = (struct worker){.s = s,
                               .id = t,
                               .count = per,
                               .grn = grn,
                               .amount = amount,
                               .mrns = mrns + (size_t)t * (size_t)per,
                               .append = append};
        assert_int_equal(pthread_create(&th[t], NULL, lodger, &w[t]), 0);
    }
    for (int t = 0; t < n; t++)
        pthread_join(th[t], NULL);
    return now_s() - t0;
}

static double run_workers(struct worker *w, struct kv_store *s, int per, const char *grn,
                          int64_t amount, bool append, char (*mrns)[KV_MRN_LEN + 1])
{
    return run_n_workers(THREADS, w, s, per, grn, amount, append, mrns);
}

static int cmp_mrn(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_many_threads_distinct_mrns(void **state)
{
    (void)state;
    enum { PER = 500, TOTAL = THREADS * PER };
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    st_tmpdir(dir);
    struct kv_store *s = NULL;
    OK(st_open(dir, 0, &s, detail));
    char(*mrns)[KV_MRN_LEN + 1] = calloc(TOTAL, sizeof *mrns);
    struct worker w[THREADS];

    struct reader rd = {.s = s};
    pthread_t rth;
    assert_int_equal(pthread_create(&rth, NULL, reading, &rd), 0);
    double secs = run_workers(w, s, PER, NULL, 0, true, mrns);
    atomic_store(&rd.stop, true);
    pthread_join(rth, NULL);

    for (int t = 0; t < THREADS; t++) {
        if (w[t].other)
            fail_msg("thread %d: %d errors, last: %s", t, w[t].other, w[t].last_error);
        assert_int_equal(w[t].ok, PER);
    }
    assert_int_equal(rd.errors, 0);
    qsort(mrns, TOTAL, sizeof *mrns, cmp_mrn);
    for (int i = 0; i < TOTAL; i++) {
        /* Sorted MRNs of one year/country/letter are sorted serials: 1..4000. */
        assert_int_equal(st_serial(mrns[i]), i + 1);
        if (i)
            assert_string_not_equal(mrns[i], mrns[i - 1]);
    }
    struct kv_store_stats st;
    OK(kv_store_stats(s, &st, detail));
    assert_int_equal(st.movements, TOTAL);
    assert_int_equal(st.queue_depth, 0);
    OK(kv_store_check(s, detail));
    printf("# %d lodges (+%d appends) from %d threads in %.2f s: %.0f lodges/s, "
           "%llu commits, average batch %.1f, largest %u; reader did %d gets\n",
           TOTAL, TOTAL / 10, THREADS, secs, TOTAL / secs, (unsigned long long)st.commits,
           st.avg_batch, st.max_batch, rd.reads);
    fflush(stdout);
    free(mrns);
    kv_store_close(s);
    st_rmdir(dir);
}

static void test_guarantee_never_over_reserved(void **state)
{
    (void)state;
    enum { N = 200, PER = 2 * N / THREADS };
    const int64_t amount = 12345; /* 123.45 EUR */
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    st_tmpdir(dir);
    struct kv_store *s = NULL;
    OK(st_open(dir, 0, &s, detail));
    struct kv_guarantee_reg g = {"25TR0000000000RACE", "TR-GUARANTOR", N * amount, "EUR"};
    OK(kv_store_guarantee_register(s, &g, NULL, detail));

    char(*mrns)[KV_MRN_LEN + 1] = calloc(2 * N, sizeof *mrns);
    struct worker w[THREADS];
    run_workers(w, s, PER, g.grn, amount, false, mrns);
    int ok = 0, funds = 0;
    for (int t = 0; t < THREADS; t++) {
        if (w[t].other)
            fail_msg("thread %d: %d errors, last: %s", t, w[t].other, w[t].last_error);
        ok += w[t].ok;
        funds += w[t].funds;
    }
    assert_int_equal(ok, N);
    assert_int_equal(funds, N);
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(s, g.grn, &gi, detail));
    assert_int_equal(gi.reserved, N * amount);
    assert_int_equal(gi.remaining, 0);
    assert_int_equal(gi.active_uses, N);

    /* Cancel three movements: exactly three more lodges fit. */
    int cancelled = 0;
    for (int i = 0; i < 2 * N && cancelled < 3; i++) {
        if (!mrns[i][0])
            continue;
        struct kv_append a = st_event("cancellation", "cancelled");
        OK(kv_store_append(s, mrns[i], 1, &a, detail));
        cancelled++;
    }
    OK(kv_store_guarantee_get(s, g.grn, &gi, detail));
    assert_int_equal(gi.remaining, 3 * amount);
    for (int i = 0; i < 4; i++) {
        struct st_decl d;
        char lrn[24];
        snprintf(lrn, sizeof lrn, "AFTER-%d", i);
        st_decl(&d, "TR-CONC", lrn, 0, g.grn, amount);
        struct kv_lodge_result r;
        int rc = kv_store_lodge(s, &d.in, &r, detail);
        assert_int_equal(rc, i < 3 ? 0 : KV_EFUNDS);
    }
    OK(kv_store_guarantee_get(s, g.grn, &gi, detail));
    assert_int_equal(gi.remaining, 0);
    OK(kv_store_check(s, detail));
    free(mrns);
    kv_store_close(s);
    st_rmdir(dir);
}

/* Lodges n × per declarations into a fresh store; returns lodges/s. */
static double measure(unsigned max_batch, int n, int per, struct kv_store_stats *st)
{
    char dir[256], detail[KV_STORE_DETAIL_MAX] = "";
    st_tmpdir(dir);
    struct kv_store *s = NULL;
    OK(st_open(dir, max_batch, &s, detail));
    char(*mrns)[KV_MRN_LEN + 1] = calloc((size_t)n * (size_t)per, sizeof *mrns);
    struct worker w[MAX_THREADS];
    double secs = run_n_workers(n, w, s, per, NULL, 0, false, mrns);
    for (int t = 0; t < n; t++)
        assert_int_equal(w[t].ok, per);
    OK(kv_store_stats(s, st, detail));
    free(mrns);
    kv_store_close(s);
    st_rmdir(dir);
    return n * per / secs;
}

/*
 * Group commit against one transaction per lodge, same workload, same run.
 * With n callers in flight a batch holds at most n lodges (about n/2 in
 * steady state: one half commits while the other half queues), so the gain
 * grows with the number of concurrent callers; hence two sizes.
 */
static void test_measure_group_commit(void **state)
{
    (void)state;
    const int lodges = KV_TEST_ASAN ? 1200 : 2000;
    const int clients[] = {8, 32, 128};
    printf("# lodges/s, durable (WAL, synchronous=FULL), %d lodges per row%s:\n", lodges,
           KV_TEST_ASAN ? ", AddressSanitizer build" : "");
    printf("#   callers  group commit (avg batch)  one txn per lodge  ratio\n");
    for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
        int n = clients[i];
        struct kv_store_stats g, one;
        double rate_group = measure(0, n, lodges / n, &g);
        double rate_one = measure(1, n, lodges / n, &one);
        printf("#   %7d  %12.0f /s (%5.1f)  %14.0f /s  %4.1fx\n", n, rate_group, g.avg_batch,
               rate_one, rate_group / rate_one);
        fflush(stdout);
        assert_int_equal(one.max_batch, 1);
        assert_true(g.max_batch <= (unsigned)n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_threads_distinct_mrns),
        cmocka_unit_test(test_guarantee_never_over_reserved),
        cmocka_unit_test(test_measure_group_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
