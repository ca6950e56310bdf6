/*
 * api.h — the node's HTTP API: the one place where routes are registered.
 *
 * kv_api_register() adds every route of the node to a server before it is
 * started. For now that is GET /healthz and GET /metrics; the /v1 routes
 * (declarations, movements, events, guarantees) are added here too, with
 * what they need (the store, the reference data) carried in struct kv_api.
 */
#ifndef KV_NET_API_H
#define KV_NET_API_H

#include "net/http.h"

struct kv_metrics;

/* What the handlers share. Owned by the caller; must outlive the server. */
struct kv_api {
    const char *country;        /* this node's country (ISO 3166 alpha-2) */
    const char *version;        /* reported by /healthz; kv_node_version() */
    struct kv_metrics *metrics; /* rendered by /metrics; may be NULL (→ 404) */
    /* The /v1 handlers add their state here (struct kv_store *store, ...). */
};

/*
 * Registers the node's routes on `h` (not yet started):
 *   GET /healthz  → 200 {"status":"ok","country":"TR","version":"0.1.0"}
 *   GET /metrics  → 200 Prometheus text format (when api->metrics is set)
 * and, when api->metrics is set, the kervan_build_info gauge. Returns 0 or
 * the first error of kv_http_route().
 */
int kv_api_register(struct kv_http *h, struct kv_api *api);

#endif
