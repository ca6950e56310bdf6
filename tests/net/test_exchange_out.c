/*
 * test_exchange_out.c — the delivery worker (src/net/exchange_out.c)
 * against a receiving node in the same process (the real exchange_in and
 * store behind the HTTP server on loopback, with injected faults):
 *   - the backoff function: bounds, growth, cap, jitter spread, overflow;
 *   - the backoff schedule on an injected clock: each failed attempt's next
 *     attempt is exactly now + backoff(n), nothing is sent before it, the
 *     delay stops growing at the cap, the message goes once the peer heals;
 *   - a peer answering 500 three times, then 200: every message delivered,
 *     applied once, in order;
 *   - a slow peer: attempts time out, the peer applies late, the retry is
 *     a duplicate; nothing is applied twice;
 *   - a peer down, then up on the same port: only probes hit it while it is
 *     down; afterwards sent = applied, each stream complete, no duplicates;
 *   - messages stored unsigned are signed at send; a receiver without a URL
 *     is retried, not lost; the metrics show delivered, retries, failures
 *     by reason and the backlog;
 *   - stop with a request in flight: returns after the grace, the message
 *     stays undelivered and goes after a restart, applied once;
 *   - a backlog drain after the receiver was down (2,000 messages here;
 *     KV_DRAIN_MESSAGES=N for more), measured and printed, counts asserted.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>

#include "exchange_test.h"

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

/* Waits until cond holds (polled every 5 ms) or fails after ms. */
#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        int64_t end_ = xt_mono_ms() + (ms);                                                        \
        while (!(cond)) {                                                                          \
            if (xt_mono_ms() > end_)                                                               \
                fail_msg("timed out waiting for %s", #cond);                                       \
            xt_sleep_ms(5);                                                                        \
        }                                                                                          \
    } while (0)

static struct kv_exchange_out_stats stats(struct xt_tx *tx)
{
    struct kv_exchange_out_stats st;
    kv_exchange_out_stats(tx->w, &st);
    return st;
}

static struct kv_exchange_in_stats rx_stats(struct xt_rx *rx)
{
    struct kv_exchange_in_stats st;
    kv_exchange_in_stats(rx->x, &st);
    return st;
}

/* Each of `streams` streams from TR holds exactly `per` applied messages at rx. */
static void expect_streams_complete(struct xt_rx *rx, unsigned streams, unsigned per)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (unsigned st = 0; st < streams; st++) {
        char mrn[KV_MRN_LEN + 1];
        snprintf(mrn, sizeof mrn, "26TR%013uX", st);
        uint32_t applied = 0, parked = 9;
        OK(kv_store_inbox_last(rx->store, "TR", mrn, &applied, &parked, detail));
        assert_int_equal(applied, per);
        assert_int_equal(parked, 0);
    }
    OK(kv_store_check(rx->store, detail));
}

/* ---- the backoff function ---------------------------------------------------- */

static void test_backoff_function(void **state)
{
    (void)state;
    assert_int_equal(kv_exchange_backoff_ms(0, 1000, 60000, 123), 0);
    assert_int_equal(kv_exchange_backoff_ms(3, 0, 60000, 123), 0);
    /* rnd = 0 gives the lower bound d/2, a large rnd can reach d. */
    const int64_t nominal[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (uint32_t a = 1; a <= 9; a++) {
        int64_t d = nominal[a - 1];
        assert_int_equal(kv_exchange_backoff_ms(a, 1000, 60000, 0), d / 2);
        assert_int_equal(kv_exchange_backoff_ms(a, 1000, 60000, (uint32_t)(d - d / 2)), d);
        int64_t lo = INT64_MAX, hi = 0;
        uint32_t x = 2463534242u;
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            int64_t v = kv_exchange_backoff_ms(a, 1000, 60000, x);
            assert_true(v >= d / 2 && v <= d);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        /* the jitter really spreads over the interval */
        assert_true(lo < d / 2 + d / 10);
        assert_true(hi > d - d / 10);
    }
    /* No overflow, whatever the attempt count or settings. */
    assert_int_equal(kv_exchange_backoff_ms(UINT32_MAX, 1000, 60000, 0), 30000);
    assert_int_equal(kv_exchange_backoff_ms(40, 4000000000u, 4000000000u, 0), 2000000000);
    assert_int_equal(kv_exchange_backoff_ms(5, 5000, 3000, 0), 1500); /* base over cap: cap */
}

/* ---- the schedule on an injected clock ------------------------------------------ */

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

static uint32_t fixed_random(void *ctx)
{
    (void)ctx;
    return 777;
}

static void test_backoff_schedule_injected_clock(void **state)
{
    (void)state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    atomic_store(&rx.fail_next, 1000000); /* always 500 until told otherwise */
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    const int64_t t0 = 1767225600000LL;
    atomic_store(&fake_now, t0);
    struct xt_env e;
    xt_env(&e, "sched", "TR", "AZ", "26TR0000000000000X", 1, 10);
    struct kv_outmsg m = xt_out(&e, true);
    OK(kv_store_outbox_enqueue(tx.store, &m, 1, detail));
    xt_tx_run(&tx, (struct kv_exchange_out_config){.clock = fake_clock,
                                                   .random = fixed_random,
                                                   .backoff_base_ms = 1000,
                                                   .backoff_cap_ms = 8000,
                                                   .idle_ms = 50});
    int64_t now = t0;
    for (uint32_t attempt = 1; attempt <= 6; attempt++) {
        WAIT_FOR(stats(&tx).failed == attempt, 5000);
        struct kv_outbox_item it;
        OK(kv_store_outbox_get(tx.store, e.id, &it, detail));
        int64_t want = now + kv_exchange_backoff_ms(attempt, 1000, 8000, 777);
        assert_int_equal(it.attempts, attempt);
        assert_int_equal(it.next_attempt_ms, want);
        assert_non_null(strstr(it.last_error, "HTTP 500"));
        kv_store_outbox_item_release(&it);
        printf("# attempt %u failed at +%lld ms; next at +%lld ms\n", attempt,
               (long long)(now - t0), (long long)(want - t0));
        /* One millisecond early: nothing is sent, however often we kick. */
        atomic_store(&fake_now, want - 1);
        for (int k = 0; k < 5; k++) {
            kv_exchange_out_kick(tx.w);
            xt_sleep_ms(20);
        }
        assert_int_equal(stats(&tx).attempts, attempt);
        assert_int_equal(atomic_load(&rx.requests), attempt);
        now = want;
        atomic_store(&fake_now, now);
        if (attempt == 6)
            atomic_store(&rx.fail_next, 0); /* healed */
        kv_exchange_out_kick(tx.w);
    }
    /* The delay grew 1 s, 2 s, 4 s, then stayed at the 8 s cap. */
    assert_int_equal(kv_exchange_backoff_ms(4, 1000, 8000, 777),
                     kv_exchange_backoff_ms(6, 1000, 8000, 777));
    WAIT_FOR(stats(&tx).delivered == 1, 5000);
    struct kv_outbox_item it;
    OK(kv_store_outbox_get(tx.store, e.id, &it, detail));
    assert_int_equal(it.delivered_ms, now);
    assert_int_equal(it.attempts, 7); /* six failed, one good */
    kv_store_outbox_item_release(&it);
    struct kv_exchange_out_stats st = stats(&tx);
    assert_int_equal(st.retried, 6);
    assert_int_equal(rx_stats(&rx).applied, 1);
    xt_env_free(&e);
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

/* ---- faults ------------------------------------------------------------------- */

static void test_500_then_200(void **state)
{
    (void)state;
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    atomic_store(&rx.fail_next, 3);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    xt_enqueue(&tx, "fivehundred", "TR", "AZ", 40, 4, 200, true);
    xt_tx_run(&tx, (struct kv_exchange_out_config){.backoff_base_ms = 20, .backoff_cap_ms = 100});
    assert_true(xt_wait_drained(&tx, 20000));
    WAIT_FOR(stats(&tx).delivered == 40, 5000); /* counted once recorded */
    struct kv_exchange_out_stats st = stats(&tx);
    assert_int_equal(atomic_load(&rx.injected_500), 3);
    assert_int_equal(st.failed, 3);
    assert_int_equal(st.delivered, 40);
    assert_int_equal(st.attempts, 43);
    assert_true(st.retried >= 1);
    struct kv_exchange_in_stats rs = rx_stats(&rx);
    assert_int_equal(rs.applied, 40);
    assert_int_equal(rs.duplicates, 0);
    expect_streams_complete(&rx, 4, 10);
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

static void test_slow_peer_times_out_then_delivers_once(void **state)
{
    (void)state;
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    atomic_store(&rx.delay_ms, 600);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    xt_enqueue(&tx, "slow", "TR", "AZ", 6, 3, 50, true);
    xt_tx_run(&tx, (struct kv_exchange_out_config){
                       .backoff_base_ms = 50, .backoff_cap_ms = 200, .timeout_ms = 200});
    WAIT_FOR(stats(&tx).failed >= 2, 10000);
    assert_int_equal(stats(&tx).delivered, 0);
    /* The slow peer applied what it was sent, after the sender gave up. */
    WAIT_FOR(rx_stats(&rx).applied >= 1, 5000);
    atomic_store(&rx.delay_ms, 0);
    assert_true(xt_wait_drained(&tx, 20000));
    WAIT_FOR(stats(&tx).delivered == 6, 5000);
    struct kv_exchange_out_stats st = stats(&tx);
    struct kv_exchange_in_stats rs = rx_stats(&rx);
    printf("# slow peer: %llu attempts, %llu timed out; receiver applied %llu, %llu duplicates\n",
           (unsigned long long)st.attempts, (unsigned long long)st.failed,
           (unsigned long long)rs.applied, (unsigned long long)rs.duplicates);
    assert_int_equal(st.delivered, 6);
    assert_int_equal(rs.applied, 6); /* each once */
    assert_true(rs.duplicates >= 1); /* the retries of what was applied late */
    expect_streams_complete(&rx, 3, 2);
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

static void test_peer_down_then_up(void **state)
{
    (void)state;
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    xt_rx_down(&rx); /* the port is known; nobody listens */
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    xt_enqueue(&tx, "down", "TR", "AZ", 300, 30, 300, true);
    xt_tx_run(&tx, (struct kv_exchange_out_config){
                       .backoff_base_ms = 20, .backoff_cap_ms = 200, .per_peer = 4});
    xt_sleep_ms(800);
    struct kv_exchange_out_stats st = stats(&tx);
    printf("# while down (800 ms): %llu attempts, all failed\n", (unsigned long long)st.failed);
    assert_int_equal(st.delivered, 0);
    assert_true(st.failed >= 4 + 2); /* the first round, then probes */
    /* Cooled off as a whole: a first round of 4, then one probe per cool-off
     * (20 ms doubling to 200 ms: about 6 in 800 ms) — not 30 streams each
     * on its own schedule. */
    assert_true(st.failed <= 4 + 12);
    assert_int_equal(xt_backlog(tx.store), 300);

    xt_rx_listen(&rx); /* back, on the same port */
    assert_true(xt_wait_drained(&tx, 30000));
    WAIT_FOR(stats(&tx).delivered == 300, 5000);
    st = stats(&tx);
    struct kv_exchange_in_stats rs = rx_stats(&rx);
    assert_int_equal(st.delivered, 300);
    assert_int_equal(rs.applied, 300); /* sent = applied */
    assert_int_equal(rs.duplicates, 0);
    assert_int_equal(rs.parked, 0); /* the sender kept each stream in order */
    expect_streams_complete(&rx, 30, 10);
    char detail[KV_STORE_DETAIL_MAX] = "";
    OK(kv_store_check(tx.store, detail));
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

/* ---- signing, unknown receivers, metrics ------------------------------------------ */

static _Atomic int signed_count;

static int counting_sign(void *ctx, const void *env, size_t len, char *hdr, size_t n)
{
    atomic_fetch_add(&signed_count, 1);
    return xt_sign(ctx, env, len, hdr, n);
}

static void test_signing_unknown_receiver_and_metrics(void **state)
{
    (void)state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    struct kv_metrics *metrics = NULL;
    OK(kv_metrics_new(&metrics));
    xt_enqueue(&tx, "unsigned", "TR", "AZ", 10, 2, 20, false); /* signed at send */
    struct xt_env ge;
    xt_env(&ge, "nowhere", "TR", "GE", "26TR0000000000077X", 1, 20);
    struct kv_outmsg m = xt_out(&ge, true);
    OK(kv_store_outbox_enqueue(tx.store, &m, 1, detail));
    atomic_store(&rx.fail_next, 1);
    xt_tx_run(&tx, (struct kv_exchange_out_config){.sign = counting_sign,
                                                   .backoff_base_ms = 20,
                                                   .backoff_cap_ms = 60,
                                                   .metrics = metrics});
    WAIT_FOR(xt_backlog(tx.store) == 1, 20000);
    WAIT_FOR(stats(&tx).failed >= 3, 5000);
    assert_int_equal(rx_stats(&rx).applied, 10);
    assert_true(atomic_load(&signed_count) >= 10);
    /* GE has no URL: its message is retried, not lost. */
    struct kv_outbox_item it;
    OK(kv_store_outbox_get(tx.store, ge.id, &it, detail));
    assert_int_equal(it.delivered_ms, 0);
    assert_true(it.attempts >= 1);
    assert_non_null(strstr(it.last_error, "no URL for receiver GE"));
    kv_store_outbox_item_release(&it);

    const char *want[] = {
        "kervan_exchange_delivered_total{receiver=\"AZ\"} 10\n",
        "kervan_exchange_attempts_failed_total{receiver=\"AZ\",reason=\"http_5xx\"} 1\n",
        "kervan_exchange_retries_total{receiver=\"AZ\"} 1\n",
        "kervan_exchange_attempts_failed_total{receiver=\"GE\",reason=\"no_url\"} ",
        "kervan_exchange_backlog{receiver=\"GE\"} 1\n",
        "# TYPE kervan_exchange_in_flight gauge\n",
    };
    /* The counters move on the worker's thread just after the store records
     * a result: give them a moment on a loaded machine. */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t end = xt_mono_ms() + 5000;
        for (;;) {
            char *text = NULL;
            size_t len = 0;
            OK(kv_metrics_render(metrics, &text, &len));
            bool found = strstr(text, want[i]) != NULL;
            if (!found && xt_mono_ms() > end)
                fail_msg("metrics lack %s in:\n%s", want[i], text);
            free(text);
            if (found)
                break;
            xt_sleep_ms(5);
        }
    }
    xt_env_free(&ge);
    /* Settings out of range are refused. */
    struct kv_exchange_out *w = NULL;
    char err[256];
    struct kv_exchange_out_config bad = {.store = tx.store};
    assert_int_equal(kv_exchange_out_new(&bad, &w, err, sizeof err), KV_EINVAL);
    bad.peer_url = xt_url;
    bad.max_in_flight = 4;
    bad.per_peer = 8;
    assert_int_equal(kv_exchange_out_new(&bad, &w, err, sizeof err), KV_EINVAL);
    bad.per_peer = 2;
    bad.max_in_flight = KV_EXCHANGE_IN_FLIGHT_MAX + 1;
    assert_int_equal(kv_exchange_out_new(&bad, &w, err, sizeof err), KV_EINVAL);
    assert_null(w);
    xt_tx_close(&tx); /* unregisters the gauges */
    char *text = NULL;
    size_t len = 0;
    OK(kv_metrics_render(metrics, &text, &len));
    assert_null(strstr(text, "kervan_exchange_backlog"));
    free(text);
    kv_metrics_free(metrics);
    xt_rx_stop(&rx);
}

/* ---- stopping with a request in flight ------------------------------------------ */

static void test_stop_with_request_in_flight(void **state)
{
    (void)state;
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    atomic_store(&rx.delay_ms, 1500);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    xt_enqueue(&tx, "stop", "TR", "AZ", 1, 1, 10, true);
    struct kv_exchange_out_config cfg = {.stop_grace_ms = 200, .timeout_ms = 5000};
    xt_tx_run(&tx, cfg);
    WAIT_FOR(atomic_load(&rx.requests) == 1, 5000);
    int64_t t = xt_mono_ms();
    kv_exchange_out_stop(tx.w);
    int64_t took = xt_mono_ms() - t;
    printf("# stop with a request in flight took %lld ms (grace 200)\n", (long long)took);
    assert_true(took < 1000);
    assert_int_equal(stats(&tx).delivered, 0);
    assert_int_equal(xt_backlog(tx.store), 1); /* still owed */
    kv_exchange_out_free(tx.w);
    /* The slow handler applies it anyway; a new worker sends it again: a duplicate. */
    WAIT_FOR(rx_stats(&rx).applied == 1, 5000);
    atomic_store(&rx.delay_ms, 0);
    xt_tx_run(&tx, cfg);
    assert_true(xt_wait_drained(&tx, 10000));
    assert_int_equal(rx_stats(&rx).applied, 1);
    assert_int_equal(rx_stats(&rx).duplicates, 1);
    kv_exchange_out_stop(tx.w);
    kv_exchange_out_stop(tx.w); /* twice is fine */
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

/* ---- a measured drain ----------------------------------------------------------- */

static void test_backlog_drain_measured(void **state)
{
    (void)state;
    const char *env = getenv("KV_DRAIN_MESSAGES");
    unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 2000;
    if (n < 100)
        n = 100;
    unsigned streams = n / 10;
    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    xt_rx_down(&rx);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    int64_t t = xt_mono_ms();
    xt_enqueue(&tx, "drain", "TR", "AZ", n, streams, 1000, true);
    int64_t enq = xt_mono_ms() - t;
    xt_tx_run(&tx, (struct kv_exchange_out_config){
                       .backoff_base_ms = 50, .backoff_cap_ms = 100, .per_peer = 16});
    xt_sleep_ms(200); /* a few probes fail */
    xt_rx_listen(&rx);
    t = xt_mono_ms();
    kv_exchange_out_kick(tx.w);
    assert_true(xt_wait_drained(&tx, 240000));
    int64_t took = xt_mono_ms() - t;
    if (took < 1)
        took = 1;
    printf("# drain: %u messages (1 KiB bodies, %u streams) queued in %lld ms while the "
           "receiver was down; drained in %lld ms after it came back: %.0f messages/s\n",
           n, streams, (long long)enq, (long long)took, (double)n * 1000.0 / (double)took);
    WAIT_FOR(stats(&tx).delivered == n, 5000);
    assert_int_equal(rx_stats(&rx).applied, n);
    assert_int_equal(rx_stats(&rx).duplicates, 0);
    expect_streams_complete(&rx, streams, 10);
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kv_log_init(2, getenv("KV_TEST_LOG") ? KV_LOG_INFO : KV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_function),
        cmocka_unit_test(test_backoff_schedule_injected_clock),
        cmocka_unit_test(test_500_then_200),
        cmocka_unit_test(test_slow_peer_times_out_then_delivers_once),
        cmocka_unit_test(test_peer_down_then_up),
        cmocka_unit_test(test_signing_unknown_receiver_and_metrics),
        cmocka_unit_test(test_stop_with_request_in_flight),
        cmocka_unit_test(test_backlog_drain_measured),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
