/*
 * api.c — route registration, the operational endpoints and the store's
 * gauges on /metrics (see api.h). The /v1 handlers are in api_*.c.
 */
#include "net/api.h"

#include "core/err.h"
#include "net/api_internal.h"
#include "net/metrics.h"
#include "store/store.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static int get_healthz(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)req;
    const struct kv_api *api = ctx;
    json_object *o = json_object_new_object();
    if (!o)
        return KV_ENOMEM;
    json_object_object_add(o, "status", json_object_new_string("ok"));
    json_object_object_add(o, "country", json_object_new_string(api->country ? api->country : ""));
    json_object_object_add(o, "version", json_object_new_string(api->version ? api->version : ""));
    return kv_http_resp_json_obj(resp, 200, o);
}

static int get_metrics(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)req;
    const struct kv_api *api = ctx;
    char *text;
    size_t len;
    int rc = kv_metrics_render(api->metrics, &text, &len);
    if (rc != KV_OK)
        return kv_http_resp_error(resp, 500, NULL, "cannot render the metrics: %s",
                                  kv_strerror(rc));
    rc = kv_http_resp_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return rc;
}

static void gauge_build_info(struct kv_metrics_sink *s, void *ctx)
{
    const struct kv_api *api = ctx;
    char labels[KV_METRICS_LABELS_MAX];
    if (kv_metrics_labels(labels, sizeof(labels), "version", api->version ? api->version : "",
                          "country", api->country ? api->country : "", NULL) == KV_OK)
        kv_metrics_sink_value(s, labels, 1);
}

/* ---- the store's gauges ------------------------------------------------------ */

static bool store_stats(struct kv_api *api, struct kv_store_stats *st)
{
    char detail[KV_STORE_DETAIL_MAX];
    return kv_store_stats(api->store, st, detail) == KV_OK;
}

static void gauge_movements(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_store_stats st;
    if (!store_stats(ctx, &st))
        return;
    for (size_t i = 0; i < st.n_states; i++) {
        char labels[KV_METRICS_LABELS_MAX];
        if (kv_metrics_labels(labels, sizeof labels, "state", st.states[i].state, NULL) == KV_OK)
            kv_metrics_sink_value(s, labels, (double)st.states[i].count);
    }
}

static void gauge_queue(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_store_stats st;
    if (store_stats(ctx, &st))
        kv_metrics_sink_value(s, NULL, st.queue_depth);
}

static void counter_commits(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_store_stats st;
    if (store_stats(ctx, &st))
        kv_metrics_sink_value(s, NULL, (double)st.commits);
}

static void counter_ops(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_store_stats st;
    if (store_stats(ctx, &st))
        kv_metrics_sink_value(s, NULL, (double)st.ops);
}

static void gauge_batch(struct kv_metrics_sink *s, void *ctx)
{
    struct kv_store_stats st;
    if (store_stats(ctx, &st)) {
        kv_metrics_sink_value(s, "stat=\"avg\"", st.avg_batch);
        kv_metrics_sink_value(s, "stat=\"max\"", st.max_batch);
    }
}

static const struct {
    const char *name, *help;
    enum kv_metric_type type;
    kv_metrics_cb *cb;
} store_metrics[] = {
    {"kervan_movements", "Movements by state", KV_METRIC_GAUGE, gauge_movements},
    {"kervan_store_queue_depth", "Write operations waiting for the store's writer", KV_METRIC_GAUGE,
     gauge_queue},
    {"kervan_store_commits_total", "Transactions committed by the store's writer",
     KV_METRIC_COUNTER, counter_commits},
    {"kervan_store_writes_total", "Write operations run in committed batches", KV_METRIC_COUNTER,
     counter_ops},
    {"kervan_store_batch_size", "Write operations per commit: average and largest so far",
     KV_METRIC_GAUGE, gauge_batch},
};

/* ---- registration ------------------------------------------------------------ */

static const struct {
    const char *method, *pattern;
    kv_http_handler *fn;
} v1_routes[] = {
    {"POST", "/v1/declarations", api_post_declaration},
    {"GET", "/v1/movements", api_list_movements},
    {"GET", "/v1/movements/{mrn}", api_get_movement},
    {"POST", "/v1/movements/{mrn}/events", api_post_event},
    {"GET", "/v1/movements/{mrn}/ncts/{message}", api_get_ncts},
    {"GET", "/v1/movements/{mrn}/export", api_get_export},
    {"POST", "/v1/guarantees", api_post_guarantee},
    {"GET", "/v1/guarantees/{grn}", api_get_guarantee},
    {"POST", "/v1/tokens", api_post_token},
};

const char *const kv_api_routes[] = {
    "POST /v1/declarations",   "GET /v1/movements",
    "GET /v1/movements/{mrn}", "POST /v1/movements/{mrn}/events",
    "GET /v1/movements/{mrn}/ncts/{message}", "GET /v1/movements/{mrn}/export",
    "POST /v1/guarantees",     "GET /v1/guarantees/{grn}",
    "POST /v1/tokens",         NULL,
};

int kv_api_register(struct kv_http *h, struct kv_api *api)
{
    if (api->store && (!api->ref || !api->country || strlen(api->country) != 2))
        return KV_EINVAL;
    int rc = kv_http_route(h, "GET", "/healthz", get_healthz, api);
    if (rc == KV_OK && api->metrics) {
        rc = kv_http_route(h, "GET", "/metrics", get_metrics, api);
        /* already registered by an earlier server on this registry: fine */
        (void)kv_metrics_callback(api->metrics, "kervan_build_info",
                                  "The running kervan version and this node's country",
                                  KV_METRIC_GAUGE, gauge_build_info, api);
    }
    if (!api->store)
        return rc;
    for (size_t i = 0; rc == KV_OK && i < sizeof v1_routes / sizeof v1_routes[0]; i++)
        rc = kv_http_route(h, v1_routes[i].method, v1_routes[i].pattern, v1_routes[i].fn, api);
    if (rc == KV_OK && api->metrics)
        for (size_t i = 0; i < sizeof store_metrics / sizeof store_metrics[0]; i++)
            (void)kv_metrics_callback(api->metrics, store_metrics[i].name, store_metrics[i].help,
                                      store_metrics[i].type, store_metrics[i].cb, api);
    return rc;
}

void kv_api_unregister(struct kv_api *api)
{
    if (!api || !api->metrics)
        return;
    kv_metrics_callback_remove(api->metrics, "kervan_build_info");
    if (api->store)
        for (size_t i = 0; i < sizeof store_metrics / sizeof store_metrics[0]; i++)
            kv_metrics_callback_remove(api->metrics, store_metrics[i].name);
}
