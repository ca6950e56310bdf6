/*
 * metrics.h — counters, histograms and callback gauges, rendered in the
 * Prometheus text exposition format (version 0.0.4) for GET /metrics.
 *
 * A registry holds metric families (a name, a help text, a type) and, per
 * family, series told apart by their labels. Series are created on first use
 * and live as long as the registry; the registry is bounded
 * (KV_METRICS_FAMILIES_MAX families, KV_METRICS_SERIES_MAX series) so that a
 * label with unbounded values (a raw path, say) cannot eat memory — past the
 * bound kv_metrics_counter() returns NULL and every kv_counter_* /
 * kv_histogram_* function accepts NULL as a no-op. Use route *patterns*, not
 * paths, as label values.
 *
 * Threads: every function is thread-safe. Looking up an existing series is
 * lock-free (an append-only hash table of atomics), updating a counter or a
 * histogram is a handful of relaxed atomic adds; creating a series and
 * rendering take the registry's mutex. Gauge callbacks run inside
 * kv_metrics_render() under that mutex: they must not register metrics.
 *
 * Labels are passed pre-rendered (`route="/healthz",status="200"`); build them
 * with kv_metrics_labels(), which escapes the values.
 */
#ifndef KV_NET_METRICS_H
#define KV_NET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define KV_METRICS_FAMILIES_MAX 128
#define KV_METRICS_SERIES_MAX   2048
#define KV_METRICS_BUCKETS_MAX  32
#define KV_METRICS_LABELS_MAX   256 /* bytes of one rendered label set */
#define KV_METRICS_RENDER_MAX   (8u * 1024u * 1024u)

enum kv_metric_type { KV_METRIC_COUNTER, KV_METRIC_GAUGE, KV_METRIC_HISTOGRAM };

struct kv_metrics;
struct kv_counter;
struct kv_histogram;
struct kv_metrics_sink;

/* Latency buckets in seconds, 100 µs to 10 s (16 bounds), for request timing. */
extern const double kv_metrics_latency_buckets[16];

/* Creates an empty registry. Returns 0 or KV_ENOMEM. Free with kv_metrics_free. */
int kv_metrics_new(struct kv_metrics **out);

/* Frees the registry and all its series. NULL is a no-op. No other thread may use it. */
void kv_metrics_free(struct kv_metrics *m);

/*
 * Returns the counter series `name{labels}`, creating the family (with
 * `help`) and the series on first use. `labels` may be "" or NULL. Returns
 * NULL when `name` is not a valid metric name, is already registered with
 * another type, or a bound is reached. The pointer stays valid until
 * kv_metrics_free.
 */
struct kv_counter *kv_metrics_counter(struct kv_metrics *m, const char *name, const char *help,
                                      const char *labels);

/* Adds n to a counter. NULL is a no-op. */
void kv_counter_add(struct kv_counter *c, uint64_t n);

/* The counter's current value (0 for NULL). */
uint64_t kv_counter_get(const struct kv_counter *c);

/*
 * Like kv_metrics_counter for a histogram. `bounds` (strictly increasing, at
 * most KV_METRICS_BUCKETS_MAX, +Inf implied) are fixed by the family's first
 * registration; later calls' bounds are ignored.
 */
struct kv_histogram *kv_metrics_histogram(struct kv_metrics *m, const char *name, const char *help,
                                          const char *labels, const double *bounds, size_t nbounds);

/* Records one observation. NULL is a no-op. */
void kv_histogram_observe(struct kv_histogram *h, double value);

/* Number of observations so far (0 for NULL). */
uint64_t kv_histogram_count(const struct kv_histogram *h);

/*
 * A callback family: at each render `cb` is called and reports its current
 * samples with kv_metrics_sink_value() (any number, each with its labels).
 * `type` is KV_METRIC_GAUGE or KV_METRIC_COUNTER (for totals kept elsewhere,
 * e.g. the store's commit count). Returns 0, KV_EINVAL (bad name, type, or
 * name taken), KV_ELIMIT or KV_ENOMEM. `ctx` must outlive the registry's use.
 */
typedef void kv_metrics_cb(struct kv_metrics_sink *sink, void *ctx);
int kv_metrics_callback(struct kv_metrics *m, const char *name, const char *help,
                        enum kv_metric_type type, kv_metrics_cb *cb, void *ctx);

/*
 * Stops calling the callback of family `name` (its owner is going away); the
 * family disappears from the output until a callback is registered again
 * under that name. Unknown names are ignored.
 */
void kv_metrics_callback_remove(struct kv_metrics *m, const char *name);

/* Reports one sample from inside a callback. `labels` may be "" or NULL. */
void kv_metrics_sink_value(struct kv_metrics_sink *sink, const char *labels, double value);

/*
 * Renders every family in registration order: `# HELP`, `# TYPE`, then the
 * samples (histograms as _bucket{le=...} cumulative, _sum, _count). Returns 0
 * with a NUL-terminated text in *out (caller frees with free()) and its length,
 * KV_ELIMIT past KV_METRICS_RENDER_MAX, or KV_ENOMEM.
 */
int kv_metrics_render(struct kv_metrics *m, char **out, size_t *len);

/*
 * Renders a label set from NULL-terminated key, value pairs:
 * kv_metrics_labels(buf, sizeof buf, "route", "/healthz", "status", "200",
 * NULL) gives `route="/healthz",status="200"`. Values are escaped (\\, \",
 * \n). Returns 0, or KV_ELIMIT when it does not fit (buf then holds "").
 */
int kv_metrics_labels(char *dst, size_t dstsz, ...);

#endif
