/*
 * release_latency.c — how long after a release at the owner every border on
 * the itinerary holds the movement (issue 4, bench (b)), beside the
 * latency of one durable local append at the owner measured in the same
 * run: the release's own 201. The ratio is the figure; the times depend on
 * the machine.
 *
 *   build/bench/release_latency [--movements N] [--warmup K]
 *                               [--declaration FILE]
 *
 * Four national nodes in this process, as tests/net/test_corridor.c sets
 * them up (tests/net/corridor_test.h): KZ, AZ, GE, TR, each with its own
 * SQLite store (WAL, synchronous=FULL, group commit) under /tmp, fresh
 * Ed25519 keys, a shared trust list, the node's API and POST /v1/exchange
 * on loopback and its delivery worker (default settings). For each of K + N
 * movements in turn: lodge the example declaration at KZ (a fresh LRN; the
 * itinerary KZ → AZ → GE → TR), record the control decision, then
 *   t0  POST /v1/movements/{mrn}/events release at KZ
 *   t1  its 201: the release and its three anticipated records (CD050C to
 *       AZ and GE, CD001C to TR, each with the whole signed chain) are
 *       durable in KZ's store and outbox;
 *   t2  the last of AZ, GE, TR to hold the movement: its store is polled
 *       (kv_store_get, about every millisecond) until the replica is there
 *       with the release — the receiver verified the whole chain against
 *       the trust list and stored it.
 * The first K (default 5) warm up and are not counted. Prints p50 / p90 /
 * p99 / max of t1 - t0 (the baseline), t2 - t0 (release to stored at every
 * itinerary node) and t2 - t1, each node's own t - t0 at p50, and the
 * ratios. Then checks that every outbox emptied and every store checks.
 *
 * Defaults: 200 movements, examples/declaration.json from the current
 * folder (run it from the source tree). About 10-20 s.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <time.h>

#include "../tests/net/corridor_test.h"
#include "net/log.h"

enum { KZ, AZ, GE, TR, N_NODES };
static const char *const countries[N_NODES] = {"KZ", "AZ", "GE", "TR"};

static struct ct_corridor C;
static struct ct_node N[N_NODES];
static _Atomic int64_t clock_now = 1744264800; /* 2025-04-10T06:00:00Z, as the test */
static char tok_trader[KV_TOKEN_LEN + 1], tok_guarantor[KV_TOKEN_LEN + 1];
static char tok_dep[KV_TOKEN_LEN + 1]; /* KZ050100 Almaty, office of departure */

static int64_t b_clock(void)
{
    return atomic_load(&clock_now);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *msg)
{
    fprintf(stderr, "release_latency: %s\n", msg);
    exit(2);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!b) {
        fclose(f);
        return NULL;
    }
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = '\0';
    fclose(f);
    return b;
}

/* POSTs event `type` at KZ's office of departure (the clock a minute on);
 * returns the status. */
static long event(const char *mrn, const char *type, const char *rest)
{
    char path[96], body[512];
    struct kv_time t;
    kv_time_set(&t, atomic_fetch_add(&clock_now, 60) + 60, 0);
    snprintf(path, sizeof path, "/v1/movements/%s/events", mrn);
    snprintf(body, sizeof body, "{\"type\":\"%s\",\"time\":\"%s\",\"office\":\"KZ050100\"%s%s}",
             type, t.text, rest ? "," : "", rest ? rest : "");
    struct ct_reply r;
    ct_call(&N[KZ], "POST", path, tok_dep, body, NULL, &r);
    long status = r.status;
    if (status != 201)
        fprintf(stderr, "release_latency: %s: %ld %s\n", type, r.status, r.body);
    ct_reply_free(&r);
    return status;
}

/* Lodges the declaration with a fresh LRN at KZ; mrn gets its MRN. */
static void lodge(json_object *d, const char *lrn, char mrn[KV_MRN_LEN + 1])
{
    json_object_object_add(d, "lrn", json_object_new_string(lrn));
    const char *body = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
    struct ct_reply r;
    ct_call(&N[KZ], "POST", "/v1/declarations", tok_trader, body, NULL, &r);
    if (r.status != 201 || !ct_jstr(r.json, "mrn")) {
        fprintf(stderr, "release_latency: lodge %s: %ld %s\n", lrn, r.status, r.body);
        exit(1);
    }
    snprintf(mrn, KV_MRN_LEN + 1, "%s", ct_jstr(r.json, "mrn"));
    ct_reply_free(&r);
}

/* True when node n holds mrn's replica with at least `events` events. */
static bool stored(const struct ct_node *n, const char *mrn, size_t events)
{
    struct kv_movement_record *m = ct_held(n, mrn);
    bool ok = m && m->replica && m->n_events >= events;
    kv_store_record_free(m);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of n sorted values. */
static double q(const double *v, size_t n, double p)
{
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

static void row(const char *name, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    printf("%-44s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", name, q(v, n, 0.5),
           q(v, n, 0.9), q(v, n, 0.99), v[n - 1]);
}

static unsigned opt_uint(const char *v, const char *name, unsigned min)
{
    char *end = NULL;
    unsigned long x = strtoul(v, &end, 10);
    if (!end || *end || x < min || x > 100000) {
        fprintf(stderr, "release_latency: --%s: a number from %u to 100000 expected\n", name, min);
        exit(2);
    }
    return (unsigned)x;
}

int main(int argc, char **argv)
{
    unsigned n = 200, warm = 5;
    const char *decl_path = "examples/declaration.json";
    static const struct option lopts[] = {{"movements", required_argument, NULL, 'n'},
                                          {"warmup", required_argument, NULL, 'w'},
                                          {"declaration", required_argument, NULL, 'd'},
                                          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = opt_uint(optarg, "movements", 1);
            break;
        case 'w':
            warm = opt_uint(optarg, "warmup", 0);
            break;
        case 'd':
            decl_path = optarg;
            break;
        default:
            fprintf(stderr, "usage: release_latency [--movements N] [--warmup K] "
                            "[--declaration FILE]\n");
            return 2;
        }
    }
    char *text = read_text(decl_path);
    json_object *decl = text ? json_tokener_parse(text) : NULL;
    free(text);
    if (!decl) {
        fprintf(stderr,
                "release_latency: cannot read %s (run from the source tree, or give "
                "--declaration FILE)\n",
                decl_path);
        return 2;
    }
    json_object_object_del(decl, "limitDate"); /* as the test: the clock decides */

    kv_log_init(2, KV_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    C.now = b_clock;
    ct_start(&C, N, countries, N_NODES);
    ct_token(&N[KZ], "trader", "180540001239", tok_trader);
    ct_token(&N[KZ], "guarantor", "KZGUARANTOR01", tok_guarantor);
    ct_token(&N[KZ], "officer", "KZ050100", tok_dep);
    struct ct_reply r;
    ct_call(&N[KZ], "POST", "/v1/guarantees", tok_guarantor,
            "{\"grn\":\"25KZ050100ALA0012\",\"referenceAmount\":\"1000000000000.00\","
            "\"currency\":\"USD\"}",
            NULL, &r);
    if (r.status != 201 && r.status != 200) {
        fprintf(stderr, "release_latency: guarantee: %ld %s\n", r.status, r.body);
        return 1;
    }
    ct_reply_free(&r);
    printf("release_latency: 4 nodes (KZ owner; AZ, GE, TR on the itinerary) in one process, "
           "%u movements after %u unmeasured, one at a time\n",
           n, warm);
    fflush(stdout);

    double *local = calloc(n, sizeof *local), *all = calloc(n, sizeof *all);
    double *after = calloc(n, sizeof *after), *each[N_NODES];
    for (int k = AZ; k < N_NODES; k++)
        each[k] = calloc(n, sizeof(double));
    if (!local || !all || !after || !each[AZ] || !each[GE] || !each[TR])
        die("out of memory");
    char prefix[16];
    snprintf(prefix, sizeof prefix, "RL%06lX", (unsigned long)(time(NULL) & 0xffffff));
    int rc = 0;
    double t_begin = now_ms();
    for (unsigned i = 0; i < warm + n; i++) {
        char lrn[32], mrn[KV_MRN_LEN + 1];
        snprintf(lrn, sizeof lrn, "%s-%05u", prefix, i);
        lodge(decl, lrn, mrn);
        if (event(mrn, "control_decision", "\"control\":false") != 201)
            return 1;
        size_t events = 3; /* lodged, control decision, release */
        double t0 = now_ms();
        if (event(mrn, "release",
                  "\"controlResult\":\"A1\",\"seals\":[\"KZ0417731\",\"KZ0417732\"]") != 201)
            return 1;
        double t1 = now_ms(), t[N_NODES] = {0};
        int left = N_NODES - 1;
        while (left > 0) {
            for (int k = AZ; k < N_NODES; k++) {
                if (t[k] == 0 && stored(&N[k], mrn, events)) {
                    t[k] = now_ms();
                    left--;
                }
            }
            if (left > 0 && now_ms() - t0 > 30000) {
                fprintf(stderr, "release_latency: %s not at every itinerary node after 30 s\n",
                        mrn);
                return 1;
            }
            if (left > 0)
                usleep(1000);
        }
        if (i < warm)
            continue;
        unsigned j = i - warm;
        double last = 0;
        for (int k = AZ; k < N_NODES; k++) {
            each[k][j] = t[k] - t0;
            if (t[k] > last)
                last = t[k];
        }
        local[j] = t1 - t0;
        all[j] = last - t0;
        after[j] = last - t1;
    }
    double secs = (now_ms() - t_begin) / 1e3;

    /* every message delivered; every store consistent */
    for (int i = 0; i < 3000 && !ct_quiet(N, N_NODES); i++)
        usleep(10 * 1000);
    bool quiet = ct_quiet(N, N_NODES);
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (int k = 0; k < N_NODES; k++) {
        if (kv_store_check(N[k].store, detail) != 0) {
            printf("store check %s: %s\n", N[k].cc, detail);
            rc = 1;
        }
    }
    if (!quiet) {
        printf("the outboxes did not empty\n");
        rc = 1;
    }

    for (int k = AZ; k < N_NODES; k++) {
        qsort(each[k], n, sizeof(double), cmp_double);
    }
    printf("each node, release sent to stored (p50): AZ %.2f ms, GE %.2f ms, TR %.2f ms\n",
           q(each[AZ], n, 0.5), q(each[GE], n, 0.5), q(each[TR], n, 0.5));
    double l50, l99, a50, a99;
    row("baseline: release 201 at KZ (local append)", local, n);
    l50 = q(local, n, 0.5), l99 = q(local, n, 0.99);
    row("release sent to stored at AZ, GE and TR", all, n);
    a50 = q(all, n, 0.5), a99 = q(all, n, 0.99);
    row("201 received to stored at AZ, GE and TR", after, n);
    printf("ratio release-to-every-border / local append: p50 %.1f, p99 %.1f\n",
           l50 > 0 ? a50 / l50 : 0.0, l99 > 0 ? a99 / l99 : 0.0);
    printf("%u movements in %.1f s (%s)\n", warm + n, secs,
           rc == 0 ? "every outbox empty, every store checks" : "CHECKS FAILED");
    free(local);
    free(all);
    free(after);
    for (int k = AZ; k < N_NODES; k++)
        free(each[k]);
    json_object_put(decl);
    ct_stop(&C, N, N_NODES);
    curl_global_cleanup();
    return rc;
}
