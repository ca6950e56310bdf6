/*
 * api.c — route registration and the operational endpoints (see api.h).
 */
#include "net/api.h"

#include "core/err.h"
#include "net/metrics.h"

#include <json-c/json.h>
#include <stdlib.h>

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

int kv_api_register(struct kv_http *h, struct kv_api *api)
{
    int rc = kv_http_route(h, "GET", "/healthz", get_healthz, api);
    if (rc == KV_OK && api->metrics) {
        rc = kv_http_route(h, "GET", "/metrics", get_metrics, api);
        /* already registered by an earlier server on this registry: fine */
        (void)kv_metrics_callback(api->metrics, "kervan_build_info",
                                  "The running kervan version and this node's country",
                                  KV_METRIC_GAUGE, gauge_build_info, api);
    }
    return rc;
}
