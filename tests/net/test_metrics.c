/*
 * test_metrics.c — the metrics registry (src/net/metrics.c): counters,
 * histograms, callback gauges, label escaping, the exact Prometheus text,
 * bounds, type conflicts, and exact totals under concurrent updates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "net/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct kv_metrics *m)
{
    char *text;
    size_t len;
    assert_int_equal(kv_metrics_render(m, &text, &len), KV_OK);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counters_exact_text(void **state)
{
    (void)state;
    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    char *t = render(m);
    assert_string_equal(t, ""); /* empty registry */
    free(t);

    struct kv_counter *a = kv_metrics_counter(m, "kv_req_total", "Requests.\nSecond \\ line",
                                              "route=\"/a\",status=\"200\"");
    struct kv_counter *b = kv_metrics_counter(m, "kv_req_total", "ignored", "route=\"/b\"");
    struct kv_counter *plain = kv_metrics_counter(m, "kv_plain_total", "No labels", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(kv_metrics_counter(m, "kv_req_total", NULL, "route=\"/a\",status=\"200\""),
                     a); /* the same series */
    kv_counter_add(a, 2);
    kv_counter_add(a, 1);
    kv_counter_add(plain, 7);
    kv_counter_add(NULL, 5); /* no-op */
    assert_int_equal(kv_counter_get(a), 3);
    assert_int_equal(kv_counter_get(b), 0);
    t = render(m);
    assert_string_equal(t, "# HELP kv_req_total Requests.\\nSecond \\\\ line\n"
                           "# TYPE kv_req_total counter\n"
                           "kv_req_total{route=\"/a\",status=\"200\"} 3\n"
                           "kv_req_total{route=\"/b\"} 0\n"
                           "# HELP kv_plain_total No labels\n"
                           "# TYPE kv_plain_total counter\n"
                           "kv_plain_total 7\n");
    free(t);
    kv_metrics_free(m);
    kv_metrics_free(NULL);
}

static void test_histogram(void **state)
{
    (void)state;
    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    const double bounds[] = {0.01, 0.1, 1};
    struct kv_histogram *h =
        kv_metrics_histogram(m, "kv_latency_seconds", "Latency", "route=\"/x\"", bounds, 3);
    assert_non_null(h);
    kv_histogram_observe(h, 0.005);
    kv_histogram_observe(h, 0.01); /* le is inclusive */
    kv_histogram_observe(h, 0.5);
    kv_histogram_observe(h, 3);
    kv_histogram_observe(NULL, 1);
    assert_int_equal(kv_histogram_count(h), 4);
    char *t = render(m);
    assert_string_equal(t, "# HELP kv_latency_seconds Latency\n"
                           "# TYPE kv_latency_seconds histogram\n"
                           "kv_latency_seconds_bucket{route=\"/x\",le=\"0.01\"} 2\n"
                           "kv_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"
                           "kv_latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
                           "kv_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                           "kv_latency_seconds_sum{route=\"/x\"} 3.515\n"
                           "kv_latency_seconds_count{route=\"/x\"} 4\n");
    free(t);
    const double bad[] = {1, 1};
    assert_null(kv_metrics_histogram(m, "kv_other", "x", NULL, bad, 2)); /* not increasing */
    struct kv_histogram *nolabel =
        kv_metrics_histogram(m, "kv_nolabel_seconds", "x", NULL, kv_metrics_latency_buckets, 16);
    kv_histogram_observe(nolabel, 0.0002);
    t = render(m);
    assert_non_null(strstr(t, "kv_nolabel_seconds_bucket{le=\"0.0001\"} 0\n"
                              "kv_nolabel_seconds_bucket{le=\"0.00025\"} 1\n"));
    assert_non_null(strstr(t, "kv_nolabel_seconds_count 1\n"));
    free(t);
    kv_metrics_free(m);
}

struct states {
    int calls;
};

static void movements_by_state(struct kv_metrics_sink *s, void *ctx)
{
    struct states *st = ctx;
    st->calls++;
    kv_metrics_sink_value(s, "state=\"released\"", 12);
    kv_metrics_sink_value(s, "state=\"arrived\"", 3);
}

static void queue_depth(struct kv_metrics_sink *s, void *ctx)
{
    (void)ctx;
    kv_metrics_sink_value(s, NULL, 0.25);
}

static void test_callbacks(void **state)
{
    (void)state;
    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    struct states st = {0};
    assert_int_equal(kv_metrics_callback(m, "kv_movements", "Movements by state", KV_METRIC_GAUGE,
                                         movements_by_state, &st),
                     KV_OK);
    assert_int_equal(
        kv_metrics_callback(m, "kv_queue_depth", "Queue", KV_METRIC_GAUGE, queue_depth, NULL),
        KV_OK);
    assert_int_equal(
        kv_metrics_callback(m, "kv_movements", "again", KV_METRIC_GAUGE, queue_depth, NULL),
        KV_EINVAL); /* name taken */
    assert_int_equal(kv_metrics_callback(m, "kv_h", "h", KV_METRIC_HISTOGRAM, queue_depth, NULL),
                     KV_EINVAL);
    assert_null(kv_metrics_counter(m, "kv_movements", "x", NULL)); /* a callback family */
    char *t = render(m);
    assert_string_equal(t, "# HELP kv_movements Movements by state\n"
                           "# TYPE kv_movements gauge\n"
                           "kv_movements{state=\"released\"} 12\n"
                           "kv_movements{state=\"arrived\"} 3\n"
                           "# HELP kv_queue_depth Queue\n"
                           "# TYPE kv_queue_depth gauge\n"
                           "kv_queue_depth 0.25\n");
    free(t);
    assert_int_equal(st.calls, 1);

    kv_metrics_callback_remove(m, "kv_movements");
    kv_metrics_callback_remove(m, "kv_unknown");
    t = render(m);
    assert_null(strstr(t, "kv_movements"));
    free(t);
    assert_int_equal(st.calls, 1);
    assert_int_equal(
        kv_metrics_callback(m, "kv_movements", "back", KV_METRIC_GAUGE, movements_by_state, &st),
        KV_OK); /* a removed callback can be registered again */
    t = render(m);
    assert_non_null(strstr(t, "kv_movements{state=\"arrived\"} 3\n"));
    free(t);
    kv_metrics_free(m);
}

static void test_labels_and_errors(void **state)
{
    (void)state;
    char buf[KV_METRICS_LABELS_MAX];
    assert_int_equal(
        kv_metrics_labels(buf, sizeof(buf), "route", "/v1/movements/{mrn}", "status", "409", NULL),
        KV_OK);
    assert_string_equal(buf, "route=\"/v1/movements/{mrn}\",status=\"409\"");
    assert_int_equal(kv_metrics_labels(buf, sizeof(buf), "v", "a\"b\\c\nd", NULL), KV_OK);
    assert_string_equal(buf, "v=\"a\\\"b\\\\c\\nd\"");
    assert_int_equal(kv_metrics_labels(buf, sizeof(buf), NULL), KV_OK);
    assert_string_equal(buf, "");
    char small[12];
    assert_int_equal(kv_metrics_labels(small, sizeof(small), "route", "/long/path", NULL),
                     KV_ELIMIT);
    assert_string_equal(small, "");

    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    assert_null(kv_metrics_counter(m, "", "x", NULL));
    assert_null(kv_metrics_counter(m, "9lives", "x", NULL));
    assert_null(kv_metrics_counter(m, "has-dash", "x", NULL));
    assert_null(kv_metrics_counter(m, "has space", "x", NULL));
    assert_non_null(kv_metrics_counter(m, "ok:name_1", "x", NULL));
    const double b[] = {1};
    assert_non_null(kv_metrics_histogram(m, "kv_h", "h", NULL, b, 1));
    assert_null(kv_metrics_counter(m, "kv_h", "h", NULL)); /* histogram family */
    assert_null(kv_metrics_counter(m, "kv_h", "h", "a=\"1\""));
    kv_metrics_free(m);
}

static void test_series_bound(void **state)
{
    (void)state;
    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    char labels[64];
    int made = 0;
    for (int i = 0; i < KV_METRICS_SERIES_MAX + 10; i++) {
        snprintf(labels, sizeof(labels), "path=\"/p/%d\"", i);
        if (kv_metrics_counter(m, "kv_paths_total", "x", labels))
            made++;
    }
    assert_int_equal(made, KV_METRICS_SERIES_MAX);
    /* existing series are still found */
    assert_non_null(kv_metrics_counter(m, "kv_paths_total", "x", "path=\"/p/7\""));
    kv_metrics_free(m);
}

struct job {
    struct kv_metrics *m;
    int id;
};

static void *bump(void *arg)
{
    struct job *j = arg;
    char labels[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(labels, sizeof(labels), "k=\"%d\"", i % 8);
        kv_counter_add(kv_metrics_counter(j->m, "kv_c_total", "c", labels), 1);
        kv_histogram_observe(
            kv_metrics_histogram(j->m, "kv_h_seconds", "h", NULL, kv_metrics_latency_buckets, 16),
            0.125); /* exact in binary: the sum is exact */
        if (i % 5000 == 0) {
            char *t;
            size_t len;
            assert_int_equal(kv_metrics_render(j->m, &t, &len), KV_OK);
            free(t);
        }
    }
    return NULL;
}

static void test_concurrent_updates(void **state)
{
    (void)state;
    struct kv_metrics *m;
    assert_int_equal(kv_metrics_new(&m), KV_OK);
    pthread_t t[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){m, i};
        pthread_create(&t[i], NULL, bump, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    uint64_t total = 0;
    for (int k = 0; k < 8; k++) {
        char labels[32];
        snprintf(labels, sizeof(labels), "k=\"%d\"", k);
        total += kv_counter_get(kv_metrics_counter(m, "kv_c_total", "c", labels));
    }
    assert_int_equal(total, 80000);
    char *txt = render(m);
    assert_non_null(strstr(txt, "kv_h_seconds_count 80000\n"));
    assert_non_null(strstr(txt, "kv_h_seconds_sum 10000\n"));
    free(txt);
    kv_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_exact_text), cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_callbacks),           cmocka_unit_test(test_labels_and_errors),
        cmocka_unit_test(test_series_bound),        cmocka_unit_test(test_concurrent_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
