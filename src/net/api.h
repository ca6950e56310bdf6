/*
 * api.h — the node's HTTP API: the one place where routes are registered.
 *
 * kv_api_register() adds every route of the node to a server before it is
 * started: the operational endpoints (GET /healthz, GET /metrics) and, when
 * a store is given, the /v1 API of docs/api.md and docs/openapi.yaml —
 * declarations, movements and their events, guarantees, tokens — with bearer
 * authentication, the five roles and need-to-know. The handlers live in
 * api_*.c (one file per resource, sharing api_internal.h); what they need
 * (the store, the reference data, the clock, settings) is in struct kv_api.
 */
#ifndef KV_NET_API_H
#define KV_NET_API_H

#include "net/http.h"

#include <stdint.h>

struct kv_corridor;
struct kv_metrics;
struct kv_ncts_schemas;
struct kv_ref;
struct kv_store;

/* Defaults for the settings of struct kv_api left at 0. */
#define KV_API_OVERDUE_DAYS 8 /* transit days after release without a limit date */
#define KV_API_MAX_ITEMS    1999
#define KV_API_EVENT_SKEW   300 /* seconds an event time may be ahead of the node's clock */
#define KV_API_RETRIES      8   /* attempts at an append that meets KV_ESTALE */

/* What the handlers share. Owned by the caller; must outlive the server. */
struct kv_api {
    const char *country;        /* this node's country (ISO 3166 alpha-2) */
    const char *version;        /* reported by /healthz; kv_node_version() */
    struct kv_metrics *metrics; /* rendered by /metrics; may be NULL (→ 404) */
    /* The /v1 API, registered only when `store` is set. */
    struct kv_store *store;   /* the node's store; thread-safe */
    const struct kv_ref *ref; /* code lists and office registry (required with store) */
    int64_t (*now)(void);     /* the clock, epoch seconds; NULL = time(NULL). Tests move it */
    unsigned overdue_days;    /* 0 = KV_API_OVERDUE_DAYS */
    unsigned max_items;       /* goods items per declaration; 0 = KV_API_MAX_ITEMS */
    unsigned event_skew_s;    /* 0 = KV_API_EVENT_SKEW */
    /* The NCTS P5 XSD folder (setting ncts-xsd), compiled schemas shared by
     * every thread; NULL: POST /v1/declarations refuses XML with 415. */
    struct kv_ncts_schemas *ncts_xsd;
    /* The corridor (net/corridor.h): the exchange with other nodes — the
     * trust list, this node's key, the messages events cause. NULL: the
     * node works alone (no messages, no /v1/exchange, events unsealed). */
    struct kv_corridor *corridor;
};

/*
 * Registers the node's routes on `h` (not yet started):
 *   GET /healthz  → 200 {"status":"ok","country":"TR","version":"0.1.0"}
 *   GET /metrics  → 200 Prometheus text format (when api->metrics is set)
 * and, when api->store is set, the /v1 routes:
 *   POST /v1/declarations               GET /v1/movements
 *   GET  /v1/movements/{mrn}            POST /v1/movements/{mrn}/events
 *   GET  /v1/movements/{mrn}/ncts/{message}
 *   GET  /v1/movements/{mrn}/export
 *   POST /v1/guarantees                 GET /v1/guarantees/{grn}
 *   POST /v1/tokens
 * With api->metrics set it also registers the kervan_build_info gauge and,
 * with a store, the store's gauges (movements by state, writer queue depth,
 * commits, average batch). Returns 0, KV_EINVAL (store without ref or
 * country), or the first error of kv_http_route().
 */
int kv_api_register(struct kv_http *h, struct kv_api *api);

/*
 * Removes the gauges kv_api_register put on api->metrics (call before the
 * store they read is closed). NULL or no metrics: a no-op.
 */
void kv_api_unregister(struct kv_api *api);

/* The route patterns of the /v1 API, "METHOD /path" each, NULL-terminated
 * (for documentation checks: every one must be in docs/openapi.yaml). */
extern const char *const kv_api_routes[];

#endif
