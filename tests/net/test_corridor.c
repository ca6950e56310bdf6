/*
 * test_corridor.c — four national nodes (KZ, AZ, GE, TR) in one process,
 * each with its own store, key, HTTP server and delivery worker, sharing a
 * trust list on loopback: a movement declared once in Kazakhstan crosses
 * the corridor to Türkiye and is written off, with every node holding
 * exactly what it should; a border records while the owner is down; a
 * country off the itinerary meets the movement and asks for it (AAR); and
 * forged, replayed, tampered and misaddressed messages are refused without
 * changing anything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/envelope.h"
#include "codec/export_json.h"
#include "core/chain.h"
#include "crypto/chain_crypto.h"
#include "codec/trust_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/trust.h"
#include "crypto/crypto.h"
#include "net/api.h"
#include "net/auth.h"
#include "net/corridor.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"
#include "store/store.h"

/* The nodes, the client and the store look-ups (shared with
 * bench/release_latency.c); a failed step fails the test. */
#define CT_FAIL(...) fail_msg(__VA_ARGS__)
#include "corridor_test.h"

#define N_NODES 5
static const char *const countries[N_NODES] = {"KZ", "AZ", "GE", "TR", "UZ"};
enum { KZ, AZ, GE, TR, UZ };

static struct ct_corridor C;
static struct ct_node N[N_NODES];
static char tok_trader[KV_TOKEN_LEN + 1], tok_guarantor[KV_TOKEN_LEN + 1];
static char tok_dep[KV_TOKEN_LEN + 1];    /* KZ050100 Almaty, office of departure */
static char tok_az_in[KV_TOKEN_LEN + 1];  /* AZ100200 Alat */
static char tok_az_out[KV_TOKEN_LEN + 1]; /* AZ200100 Red Bridge */
static char tok_ge_in[KV_TOKEN_LEN + 1];  /* GE200100 */
static char tok_ge_out[KV_TOKEN_LEN + 1]; /* GE400100 Sarpi */
static char tok_tr_in[KV_TOKEN_LEN + 1];  /* TR080200 Sarp */
static char tok_tr_des[KV_TOKEN_LEN + 1]; /* TR343100 Ambarli, destination */
static char tok_ge_des[KV_TOKEN_LEN + 1]; /* GE100100 Tbilisi */
static char tok_analyst[N_NODES][KV_TOKEN_LEN + 1];
static _Atomic int64_t clock_now = 1744264800; /* 2025-04-10T06:00:00Z */

static int64_t t_clock(void)
{
    return atomic_load(&clock_now);
}

static void node_up(struct ct_node *n)
{
    ct_node_up(&C, n);
}

static void node_down(struct ct_node *n)
{
    ct_node_down(n);
}

static int setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    C = (struct ct_corridor){
        .now = t_clock, .backoff_base_ms = 50, .backoff_cap_ms = 200, .timeout_ms = 3000};
    ct_start(&C, N, countries, N_NODES);
    for (int i = 0; i < N_NODES; i++)
        ct_token(&N[i], "analyst", NULL, tok_analyst[i]);
    ct_token(&N[KZ], "trader", "180540001239", tok_trader);
    ct_token(&N[KZ], "guarantor", "KZGUARANTOR01", tok_guarantor);
    ct_token(&N[KZ], "officer", "KZ050100", tok_dep);
    ct_token(&N[AZ], "officer", "AZ100200", tok_az_in);
    ct_token(&N[AZ], "officer", "AZ200100", tok_az_out);
    ct_token(&N[GE], "officer", "GE200100", tok_ge_in);
    ct_token(&N[GE], "officer", "GE400100", tok_ge_out);
    ct_token(&N[GE], "officer", "GE100100", tok_ge_des);
    ct_token(&N[TR], "officer", "TR080200", tok_tr_in);
    ct_token(&N[TR], "officer", "TR343100", tok_tr_des);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ct_stop(&C, N, N_NODES);
    curl_global_cleanup();
    return 0;
}

/* ---- the client and the stores (tests/net/corridor_test.h) ------------------- */

static void call(int node, const char *method, const char *path, const char *tok, const char *body,
                 const char *extra_header, struct ct_reply *r)
{
    ct_call(&N[node], method, path, tok, body, extra_header, r);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* Moves the clock a minute on and returns it as RFC 3339 UTC. */
static void tick(char out[32])
{
    struct kv_time t;
    kv_time_set(&t, atomic_fetch_add(&clock_now, 60) + 60, 0);
    snprintf(out, 32, "%s", t.text);
}

static void event(int node, const char *tok, const char *mrn, const char *type, const char *office,
                  const char *rest, struct ct_reply *r)
{
    char when[32], path[96], body[1024];
    tick(when);
    snprintf(path, sizeof path, "/v1/movements/%s/events", mrn);
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"time\":\"%s\",\"office\":\"%s\"%s%s}", type,
             when, office, rest ? "," : "", rest ? rest : "");
    call(node, "POST", path, tok, body, NULL, r);
}

static void event_ok(int node, const char *tok, const char *mrn, const char *type,
                     const char *office, const char *rest, long want)
{
    struct ct_reply r;
    event(node, tok, mrn, type, office, rest, &r);
    if (r.status != want)
        fail_msg("%s at %s on %s: %ld %s", type, office, N[node].cc, r.status, r.body);
    ct_reply_free(&r);
}

/* The movement as node `node` holds it (NULL when it does not). */
static struct kv_movement_record *held(int node, const char *mrn)
{
    return ct_held(&N[node], mrn);
}

/* Waits (up to 15 s) until `node` holds mrn with at least n_events events
 * and no pending event; returns the record. */
static struct kv_movement_record *wait_held(int node, const char *mrn, size_t n_events)
{
    for (int i = 0; i < 1500; i++) {
        struct kv_movement_record *m = held(node, mrn);
        if (m && m->n_events >= n_events && m->n_pending == 0)
            return m;
        kv_store_record_free(m);
        usleep(10 * 1000);
    }
    struct kv_movement_record *m = held(node, mrn);
    fail_msg("%s does not hold %s with %zu events (it has %zu, %zu pending)", N[node].cc, mrn,
             n_events, m ? m->n_events : 0, m ? m->n_pending : 0);
    return NULL;
}

/* Every node in `who` holds exactly KZ's log: same events, same links. */
static void same_chain(const char *mrn, const int *who, size_t n_who)
{
    struct kv_movement_record *owner = held(KZ, mrn);
    assert_non_null(owner);
    assert_false(owner->replica);
    for (size_t w = 0; w < n_who; w++) {
        struct kv_movement_record *m = wait_held(who[w], mrn, owner->n_events);
        assert_true(m->replica);
        assert_int_equal(m->n_events, owner->n_events);
        assert_string_equal(m->summary.state, owner->summary.state);
        assert_memory_equal(m->link0, owner->link0, KV_STORE_HASH_LEN);
        for (size_t i = 0; i < m->n_events; i++) {
            assert_true(m->events[i].sealed && m->events[i].seal.has_link);
            assert_memory_equal(m->events[i].seal.link, owner->events[i].seal.link,
                                KV_STORE_HASH_LEN);
            assert_int_equal(m->events[i].json_len, owner->events[i].json_len);
            assert_memory_equal(m->events[i].json, owner->events[i].json, m->events[i].json_len);
        }
        kv_store_record_free(m);
    }
    kv_store_record_free(owner);
}

/* Waits until every node's outbox is empty (all delivered). */
static void wait_quiet(void)
{
    for (int i = 0; i < 1500; i++) {
        if (ct_quiet(N, N_NODES))
            return;
        usleep(10 * 1000);
    }
    fail_msg("the outboxes do not empty");
}

/* Lodges examples/declaration.json (or a variant with lrn and destination) at KZ. */
static void lodge(const char *lrn, const char *destination, bool drop_itinerary,
                  char mrn[KV_MRN_LEN + 1])
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/declaration.json", KV_SOURCE_DIR);
    char *text = read_text(path);
    assert_non_null(text);
    json_object *d = json_tokener_parse(text);
    free(text);
    assert_non_null(d);
    json_object_object_add(d, "lrn", json_object_new_string(lrn));
    json_object_object_del(d, "limitDate");
    if (destination) {
        json_object_object_add(d, "officeOfDestination", json_object_new_string(destination));
        json_object *c = NULL;
        json_object_object_get_ex(d, "consignment", &c);
        char cc[3] = {destination[0], destination[1], '\0'};
        json_object_object_add(c, "countryOfDestination", json_object_new_string(cc));
    }
    if (drop_itinerary) {
        /* KZ → AZ only: Almaty to Baku by the Caspian. */
        json_object_object_del(d, "officesOfTransit");
        json_object *transit = json_object_new_array();
        json_object *t = json_object_new_object();
        json_object_object_add(t, "office", json_object_new_string("AZ100200"));
        json_object_array_add(transit, t);
        json_object_object_add(d, "officesOfTransit", transit);
        json_object *exits = json_object_new_array();
        json_object_array_add(exits, json_object_new_string("KZ470100"));
        json_object_object_add(d, "officesOfExitForTransit", exits);
        json_object *c = NULL;
        json_object_object_get_ex(d, "consignment", &c);
        json_object *routing = json_object_new_array();
        json_object_array_add(routing, json_object_new_string("KZ"));
        json_object_array_add(routing, json_object_new_string("AZ"));
        json_object_object_add(c, "countriesOfRouting", routing);
        json_object *pu = json_object_new_object();
        json_object_object_add(pu, "unLocode", json_object_new_string("AZBAK"));
        json_object_object_add(pu, "country", json_object_new_string("AZ"));
        json_object_object_add(pu, "location", json_object_new_string("Baku"));
        json_object_object_add(c, "placeOfUnloading", pu);
    }
    const char *body = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
    struct ct_reply r;
    call(KZ, "POST", "/v1/declarations", tok_trader, body, NULL, &r);
    json_object_put(d);
    if (r.status != 201)
        fail_msg("lodge %s: %ld %s", lrn, r.status, r.body);
    snprintf(mrn, KV_MRN_LEN + 1, "%s", ct_jstr(r.json, "mrn"));
    ct_reply_free(&r);
}

static void release(const char *mrn)
{
    event_ok(KZ, tok_dep, mrn, "control_decision", "KZ050100", "\"control\":false", 201);
    event_ok(KZ, tok_dep, mrn, "release", "KZ050100",
             "\"controlResult\":\"A1\",\"seals\":[\"KZ0417731\",\"KZ0417732\"]", 201);
}

static bool guarantee_done;

static void guarantee(void)
{
    if (guarantee_done)
        return;
    struct ct_reply r;
    call(KZ, "POST", "/v1/guarantees", tok_guarantor,
         "{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"10000000.00\",\"currency\":"
         "\"USD\"}",
         NULL, &r);
    if (r.status != 201 && r.status != 200)
        fail_msg("guarantee: %ld %s", r.status, r.body);
    ct_reply_free(&r);
    guarantee_done = true;
}

/* ---- the tests ----------------------------------------------------------------- */

/* Declared once in Almaty, across the Caspian, Azerbaijan and Georgia to
 * Istanbul, and written off — every node holding the same signed log. */
static void test_flow_to_write_off(void **state)
{
    (void)state;
    guarantee();
    char mrn[KV_MRN_LEN + 1];
    lodge("CORRIDOR-FLOW-1", NULL, false, mrn);
    /* before release nobody else holds it */
    release(mrn);
    const int itinerary[] = {AZ, GE, TR};
    same_chain(mrn, itinerary, 3);
    assert_null(held(UZ, mrn)); /* not on the itinerary: never told */

    /* Azerbaijan: entry at Alat, exit at Red Bridge. */
    event_ok(AZ, tok_az_in, mrn, "presented", "AZ100200", "\"side\":\"entry\"", 201);
    event_ok(AZ, tok_az_in, mrn, "cleared", "AZ100200", "\"side\":\"entry\"", 201);
    event_ok(AZ, tok_az_out, mrn, "presented", "AZ200100", "\"side\":\"exit\"", 201);
    event_ok(AZ, tok_az_out, mrn, "cleared", "AZ200100", "\"side\":\"exit\"", 201);
    struct kv_movement_record *m = wait_held(KZ, mrn, 7);
    assert_int_equal(m->n_events, 7);
    assert_string_equal(m->events[6].type, "cleared");
    assert_string_equal(m->events[6].seal.node, "AZ");
    kv_store_record_free(m);
    same_chain(mrn, itinerary, 3);

    /* Georgia, then Türkiye; an incident in Georgia reaches Türkiye first. */
    event_ok(GE, tok_ge_in, mrn, "presented", "GE200100", "\"side\":\"entry\"", 201);
    event_ok(GE, tok_ge_in, mrn, "cleared", "GE200100", "\"side\":\"entry\"", 201);
    kv_store_record_free(wait_held(KZ, mrn, 9));
    event_ok(GE, tok_ge_out, mrn, "incident", "GE400100",
             "\"code\":\"6\",\"text\":\"Seal KZ0417732 found damaged at Sarpi; goods checked, "
             "complete\",\"place\":\"Sarpi\",\"sealsState\":\"replaced\",\"newSeals\":"
             "[\"GE0099120\"]",
             201);
    struct kv_movement_record *tr = wait_held(TR, mrn, 10);
    assert_string_equal(tr->events[9].type, "incident");
    assert_true(tr->summary.flags & KV_FLAG_INCIDENT);
    kv_store_record_free(tr);
    event_ok(GE, tok_ge_out, mrn, "presented", "GE400100", "\"side\":\"exit\"", 201);
    event_ok(GE, tok_ge_out, mrn, "cleared", "GE400100", "\"side\":\"exit\"", 201);
    /* the vehicle crosses into Türkiye once Georgia's exit is in the log
     * (test_late_report has the other case) */
    kv_store_record_free(wait_held(KZ, mrn, 12));
    event_ok(TR, tok_tr_in, mrn, "presented", "TR080200", "\"side\":\"entry\"", 201);
    event_ok(TR, tok_tr_in, mrn, "cleared", "TR080200", "\"side\":\"entry\"", 201);
    event_ok(TR, tok_tr_des, mrn, "arrival", "TR343100", NULL, 201);
    kv_store_record_free(wait_held(KZ, mrn, 15));
    event_ok(TR, tok_tr_des, mrn, "unloading_remarks", "TR343100",
             "\"conform\":true,\"sealsIntact\":true", 201);
    kv_store_record_free(wait_held(KZ, mrn, 16));
    event_ok(KZ, tok_dep, mrn, "write_off", "KZ050100", NULL, 201);
    wait_quiet();
    same_chain(mrn, itinerary, 3);
    m = held(TR, mrn);
    assert_string_equal(m->summary.state, "written_off");
    assert_int_equal(m->n_events, 17);
    kv_store_record_free(m);

    /* The view at a replica names the owner; the export verifies offline. */
    struct ct_reply r;
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    call(GE, "GET", path, tok_analyst[GE], NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(ct_jstr(r.json, "owner"), "KZ");
    ct_reply_free(&r);

    /* Every message sent was applied once: nothing parked, nothing left. */
    for (int k = 0; k < N_NODES; k++) {
        char detail[KV_STORE_DETAIL_MAX] = "";
        if (kv_store_check(N[k].store, detail) != 0)
            fail_msg("store check %s: %s", N[k].cc, detail);
    }
}

/* The owner is down while Azerbaijan records its border events: the border
 * keeps working; when the owner is back it gets them, in order, once. */
static void test_owner_down(void **state)
{
    (void)state;
    guarantee();
    char mrn[KV_MRN_LEN + 1];
    lodge("CORRIDOR-DOWN-1", NULL, false, mrn);
    release(mrn);
    const int itinerary[] = {AZ, GE, TR};
    same_chain(mrn, itinerary, 3);
    node_down(&N[KZ]);
    event_ok(AZ, tok_az_in, mrn, "presented", "AZ100200", "\"side\":\"entry\"", 201);
    event_ok(AZ, tok_az_in, mrn, "cleared", "AZ100200", "\"side\":\"entry\"", 201);
    struct kv_movement_record *m = held(AZ, mrn);
    assert_int_equal(m->n_pending, 2);
    assert_string_equal(m->pending[0].type, "presented");
    assert_string_equal(m->pending[1].type, "cleared");
    kv_store_record_free(m);
    /* the view shows them as pending */
    struct ct_reply r;
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s", mrn);
    call(AZ, "GET", path, tok_analyst[AZ], NULL, NULL, &r);
    json_object *p = NULL;
    assert_true(json_object_object_get_ex(r.json, "pending", &p));
    assert_int_equal(json_object_array_length(p), 2);
    ct_reply_free(&r);
    usleep(300 * 1000); /* a few failed attempts */
    node_up(&N[KZ]);
    m = wait_held(KZ, mrn, 5);
    assert_int_equal(m->n_events, 5);
    assert_string_equal(m->events[3].type, "presented");
    assert_string_equal(m->events[4].type, "cleared");
    kv_store_record_free(m);
    wait_quiet();
    same_chain(mrn, itinerary, 3);
}

/* Georgia cannot deliver for a while; meanwhile the vehicle arrives in
 * Türkiye and Kazakhstan orders the arrival. Georgia's exit events reach
 * Kazakhstan after it: the movement's rules refuse a border passage after
 * arrival, so they are recorded without effect. Nothing blocks: Georgia
 * takes the owner's log (its two events stay pending there, outside the
 * fold), every outbox drains, and every holder has the owner's log. */
static void test_late_report(void **state)
{
    (void)state;
    guarantee();
    char mrn[KV_MRN_LEN + 1], err[256];
    lodge("CORRIDOR-LATE-1", NULL, false, mrn);
    release(mrn);
    const int itinerary[] = {AZ, GE, TR};
    same_chain(mrn, itinerary, 3);
    kv_corridor_stop(N[GE].corridor);
    event_ok(GE, tok_ge_out, mrn, "presented", "GE400100", "\"side\":\"exit\"", 201);
    event_ok(GE, tok_ge_out, mrn, "cleared", "GE400100", "\"side\":\"exit\"", 201);
    event_ok(TR, tok_tr_des, mrn, "arrival", "TR343100", NULL, 201);
    kv_store_record_free(wait_held(KZ, mrn, 4));
    struct kv_movement_record *m = NULL;
    for (int i = 0; i < 1500; i++) {
        kv_store_record_free(m);
        m = held(GE, mrn);
        if (m->n_events == 4)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(m->n_events, 4);
    assert_int_equal(m->n_pending, 2);
    assert_string_equal(m->summary.state, "arrived");
    kv_store_record_free(m);
    if (kv_corridor_start(N[GE].corridor, err, sizeof err) != KV_OK)
        fail_msg("restart GE's worker: %s", err);
    wait_quiet();
    m = held(KZ, mrn);
    assert_int_equal(m->n_events, 4);
    assert_string_equal(m->events[3].type, "arrival");
    kv_store_record_free(m);
    const int others[] = {AZ, TR};
    same_chain(mrn, others, 2);
    m = held(GE, mrn);
    assert_int_equal(m->n_events, 4);
    assert_int_equal(m->n_pending, 2);
    kv_store_record_free(m);
    for (int k = 0; k < N_NODES; k++) {
        char detail[KV_STORE_DETAIL_MAX] = "";
        if (kv_store_check(N[k].store, detail) != 0)
            fail_msg("store check %s: %s", N[k].cc, detail);
    }
}

/* A movement declared to Baku turns up in Tbilisi: Georgia is not on its
 * itinerary, asks Kazakhstan with its reason, and records the arrival;
 * Kazakhstan sees a diversion. */
static void test_diversion_aar(void **state)
{
    (void)state;
    guarantee();
    char mrn[KV_MRN_LEN + 1];
    lodge("CORRIDOR-DIV-1", "AZ100100", true, mrn);
    release(mrn);
    const int az[] = {AZ};
    same_chain(mrn, az, 1);
    assert_null(held(GE, mrn));
    struct ct_reply r;
    event(GE, tok_ge_des, mrn, "arrival", "GE100100", NULL, &r);
    assert_int_equal(r.status, 404);
    json_object *err = NULL;
    assert_true(json_object_object_get_ex(r.json, "error", &err));
    assert_string_equal(ct_jstr(err, "code"), "requested");
    ct_reply_free(&r);
    struct kv_movement_record *m = wait_held(GE, mrn, 3);
    assert_true(m->replica);
    kv_store_record_free(m);
    event_ok(GE, tok_ge_des, mrn, "arrival", "GE100100", NULL, 201);
    m = wait_held(KZ, mrn, 4);
    assert_string_equal(m->events[3].type, "arrival");
    assert_true(m->summary.flags & KV_FLAG_DIVERSION);
    assert_int_equal(m->n_peers, 1);
    assert_string_equal(m->peers[0].country, "GE");
    assert_string_equal(m->peers[0].office, "GE100100");
    kv_store_record_free(m);
    wait_quiet();
    const int both[] = {AZ, GE};
    same_chain(mrn, both, 2);
    assert_null(held(TR, mrn));
}

/* An envelope from UZ to KZ about mrn, signed with `key`. */
static char *uz_envelope(const char *mrn, enum kv_msg_kind kind, uint32_t seq, const char *body,
                         const struct kv_keypair *key, char hdr[KV_SIG_HEADER_MAX + 32])
{
    struct kv_envelope env;
    memset(&env, 0, sizeof env);
    env.v = KV_ENVELOPE_VERSION;
    memcpy(env.sender, "UZ", 3);
    memcpy(env.receiver, "KZ", 3);
    assert_int_equal(kv_crypto_message_id(env.id), KV_OK);
    env.kind = kind;
    memcpy(env.mrn, mrn, sizeof env.mrn);
    env.seq = seq;
    kv_time_set(&env.time, t_clock(), 0);
    env.body = body;
    env.body_len = strlen(body);
    char *bytes = NULL, sig[KV_SIG_HEADER_MAX];
    size_t len = 0;
    assert_int_equal(kv_envelope_encode(&env, &bytes, &len, NULL), KV_OK);
    assert_int_equal(kv_envelope_sign(key, bytes, len, sig, sizeof sig), KV_OK);
    snprintf(hdr, KV_SIG_HEADER_MAX + 32, "Kervan-Signature: %s", sig);
    return bytes;
}

static bool has_rule(const struct ct_reply *r, const char *rule)
{
    return r->body && strstr(r->body, rule) != NULL;
}

/* Forged, replayed, tampered and misaddressed messages are refused and
 * change nothing; a country off the itinerary is told nothing until it
 * asks with a reason. */
static void test_refusals(void **state)
{
    (void)state;
    guarantee();
    char mrn[KV_MRN_LEN + 1];
    lodge("CORRIDOR-BAD-1", NULL, false, mrn);
    release(mrn);
    const int itinerary[] = {AZ, GE, TR};
    same_chain(mrn, itinerary, 3);
    wait_quiet();
    struct kv_movement_record *before = held(KZ, mrn);
    size_t n_before = before->n_events;
    kv_store_record_free(before);

    struct kv_keypair uz_key, rogue;
    char detail[256], uz_dir[200];
    snprintf(uz_dir, sizeof uz_dir, "%s/UZ", C.root);
    assert_int_equal(kv_crypto_keys_load(uz_dir, &uz_key, detail, sizeof detail), 0);
    assert_int_equal(kv_crypto_keypair_new(&rogue), KV_OK);

    /* A border event genuinely recorded and signed by UZ. */
    char when[32], event_json[256], sig64[96], body[1024], hdr[KV_SIG_HEADER_MAX + 32];
    tick(when);
    snprintf(event_json, sizeof event_json,
             "{\"type\":\"presented\",\"time\":\"%s\",\"office\":\"UZ200100\",\"actor\":"
             "{\"role\":\"officer\",\"id\":\"UZ200100\"},\"side\":\"entry\"}",
             when);
    struct kv_chain_event ce;
    memset(&ce, 0, sizeof ce);
    memcpy(ce.node, "UZ", 3);
    assert_int_equal(kv_time_parse(when, strlen(when), &ce.time, NULL), KV_OK);
    ce.event = event_json;
    ce.event_len = strlen(event_json);
    assert_int_equal(kv_chain_sign_origin(&uz_key, mrn, &ce), KV_OK);
    kv_b64url_encode(ce.sig, sizeof ce.sig, sig64, sizeof sig64);
    json_object *ev_str = json_object_new_string(event_json);
    snprintf(body, sizeof body,
             "{\"node\":\"UZ\",\"time\":\"%s\",\"keyid\":\"%s\",\"sig\":\"%s\",\"event\":%s}", when,
             uz_key.fingerprint, sig64,
             json_object_to_json_string_ext(ev_str, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev_str);
    struct ct_reply r;

    /* not entitled: UZ is not on the itinerary and has not asked */
    char *bytes = uz_envelope(mrn, KV_MSG_CD118C, 1, body, &uz_key, hdr);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 403);
    assert_true(has_rule(&r, "R-XCH-ENTITLED"));
    ct_reply_free(&r);

    /* tampered: one byte changed after signing */
    char *bad = strdup(bytes);
    char *at = strstr(bad, "UZ200100");
    assert_non_null(at);
    at[7] = '2';
    call(KZ, "POST", "/v1/exchange", NULL, bad, hdr, &r);
    assert_int_equal(r.status, 403);
    assert_true(has_rule(&r, "R-ENV-SIG"));
    ct_reply_free(&r);
    free(bad);

    /* misaddressed: for KZ, posted to AZ */
    call(AZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 421);
    ct_reply_free(&r);
    free(bytes);

    /* forged: the same message signed with a key that is not UZ's */
    bytes = uz_envelope(mrn, KV_MSG_CD118C, 1, body, &rogue, hdr);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 403);
    assert_true(has_rule(&r, "R-ENV-KEY"));
    ct_reply_free(&r);
    free(bytes);

    /* a query must give its reason: an office of the asking country */
    bytes = uz_envelope(mrn, KV_MSG_CD114C, 1, "{\"office\":\"GE200100\"}", &uz_key, hdr);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 400);
    assert_true(has_rule(&r, "R-ENV-REASON"));
    ct_reply_free(&r);
    free(bytes);

    /* nothing changed at KZ */
    struct kv_movement_record *after = held(KZ, mrn);
    assert_int_equal(after->n_events, n_before);
    assert_int_equal(after->n_peers, 0);
    kv_store_record_free(after);
    assert_null(held(UZ, mrn));

    /* a genuine request with its reason is answered; its replay changes nothing */
    bytes = uz_envelope(mrn, KV_MSG_CD114C, 1, "{\"office\":\"UZ200100\"}", &uz_key, hdr);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 200);
    ct_reply_free(&r);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"duplicate\":true"));
    ct_reply_free(&r);
    free(bytes);
    after = held(KZ, mrn);
    assert_int_equal(after->n_peers, 1);
    assert_string_equal(after->peers[0].country, "UZ");
    kv_store_record_free(after);
    struct kv_movement_record *uz = wait_held(UZ, mrn, n_before);
    assert_true(uz->replica);
    kv_store_record_free(uz);

    /* UZ's report, now from a holder (the next in UZ's stream, after the
     * request), is ordered into the log */
    bytes = uz_envelope(mrn, KV_MSG_CD118C, 2, body, &uz_key, hdr);
    call(KZ, "POST", "/v1/exchange", NULL, bytes, hdr, &r);
    assert_int_equal(r.status, 200);
    ct_reply_free(&r);
    free(bytes);
    after = held(KZ, mrn);
    assert_int_equal(after->n_events, n_before + 1);
    assert_string_equal(after->events[n_before].seal.node, "UZ");
    kv_store_record_free(after);
    kv_crypto_keypair_clear(&uz_key);
    kv_crypto_keypair_clear(&rogue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_to_write_off), cmocka_unit_test(test_owner_down),
        cmocka_unit_test(test_late_report),       cmocka_unit_test(test_diversion_aar),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
