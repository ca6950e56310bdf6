/*
 * loadgen.c — a closed-loop HTTP load generator for lodging declarations.
 *
 *   build/bench/loadgen [options] NAME=URL [NAME=URL ...]
 *
 * For each target in turn (same load, same run), keeps C connections busy
 * with keep-alive (libcurl multi, one easy handle per connection, each
 * re-sent as soon as its answer is in) POSTing distinct declarations: the
 * template's "lrn" value is replaced by a fresh LRN for every request, so
 * a node lodges each as a new movement. Measures each request's latency
 * from hand-over to libcurl to the last byte of the answer.
 *
 * Prints per target: requests answered in the measured window, those with
 * status 201/200 ("ok"), per second, p50/p90/p99/max latency, new TCP
 * connections (to show keep-alive held), then the ratio of the first
 * target's rate to each other's.
 *
 * options:
 *   --template FILE   declaration JSON with an "lrn" member (required)
 *   --token T         bearer token sent to every target (optional)
 *   --connections N   concurrent connections (default 32)
 *   --duration S      measured seconds per target (default 5)
 *   --warmup S        seconds run before measuring (default 1)
 *   --lrn-prefix P    LRN prefix, 1-8 [A-Z0-9] (default: from the clock)
 *
 * Only for loopback benchmarking: it does not check certificates or
 * follow redirects. The driver is bench_http.h's kvb_post_run.
 */
#include "bench_http.h"

#define TARGETS_MAX 8
#define LRN_LEN     22
#define BODY_MAX    (8u << 20)

struct target {
    const char *name, *url;
    struct kvb_post_result res;
};

static char *tmpl;
static size_t tmpl_len, lrn_at, lrn_old_len; /* where the LRN value is in tmpl */
static char lrn_prefix[9];
static uint64_t lrn_serial;
static char *bodies[KVB_CONNS_MAX]; /* the request in flight on each connection */

static void die(const char *msg)
{
    fprintf(stderr, "loadgen: %s\n", msg);
    exit(2);
}

/* Finds "lrn": "..." in the template; records where its value is. */
static void find_lrn(void)
{
    const char *p = strstr(tmpl, "\"lrn\"");
    if (!p)
        die("the template has no \"lrn\" member");
    p += 5;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != ':')
        die("the template's \"lrn\" is not followed by ':'");
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != '"')
        die("the template's \"lrn\" is not a string");
    const char *e = strchr(p, '"');
    if (!e)
        die("unterminated \"lrn\" in the template");
    lrn_at = (size_t)(p - tmpl);
    lrn_old_len = (size_t)(e - p);
}

/* kvb_body_fn: the template with a fresh LRN, in connection conn's buffer. */
static void next_body(void *ctx, unsigned conn, const char **body, size_t *len, const char **header)
{
    (void)ctx;
    char lrn[LRN_LEN + 1];
    int n = snprintf(lrn, sizeof(lrn), "%s%012llu", lrn_prefix, (unsigned long long)lrn_serial++);
    if (n <= 0 || n > LRN_LEN)
        die("LRN too long");
    if (!bodies[conn] && !(bodies[conn] = malloc(tmpl_len + LRN_LEN + 1)))
        die("out of memory");
    char *b = bodies[conn];
    memcpy(b, tmpl, lrn_at);
    memcpy(b + lrn_at, lrn, (size_t)n);
    memcpy(b + lrn_at + (size_t)n, tmpl + lrn_at + lrn_old_len, tmpl_len - lrn_at - lrn_old_len);
    *body = b;
    *len = tmpl_len - lrn_old_len + (size_t)n;
    *header = NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --template FILE [--token T] [--connections N] [--duration S]\n"
                    "               [--warmup S] [--lrn-prefix P] NAME=URL [NAME=URL ...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *tmpl_path = NULL, *token = NULL;
    unsigned nconn = 32;
    double duration = 5, warmup = 1;
    struct target targets[TARGETS_MAX];
    size_t nt = 0;
    memset(targets, 0, sizeof(targets));
    snprintf(lrn_prefix, sizeof(lrn_prefix), "B%07lX", (unsigned long)(time(NULL) & 0xfffffff));

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--template") == 0 && v) {
            tmpl_path = v, i++;
        } else if (strcmp(a, "--token") == 0 && v) {
            token = v, i++;
        } else if (strcmp(a, "--connections") == 0 && v) {
            char *e;
            unsigned long n = strtoul(v, &e, 10);
            if (*e || n == 0 || n > KVB_CONNS_MAX)
                die("--connections: 1-1024");
            nconn = (unsigned)n, i++;
        } else if (strcmp(a, "--duration") == 0 && v) {
            char *e;
            duration = strtod(v, &e);
            if (*e || duration <= 0 || duration > 3600)
                die("--duration: seconds, > 0");
            i++;
        } else if (strcmp(a, "--warmup") == 0 && v) {
            char *e;
            warmup = strtod(v, &e);
            if (*e || warmup < 0 || warmup > 600)
                die("--warmup: seconds, >= 0");
            i++;
        } else if (strcmp(a, "--lrn-prefix") == 0 && v) {
            size_t n = strlen(v);
            if (n < 1 || n > 8 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
                die("--lrn-prefix: 1-8 characters [A-Z0-9]");
            memcpy(lrn_prefix, v, n + 1);
            i++;
        } else if (a[0] != '-' && strchr(a, '=') && nt < TARGETS_MAX) {
            char *eq = strchr(argv[i], '=');
            *eq = '\0';
            targets[nt].name = argv[i];
            targets[nt].url = eq + 1;
            nt++;
        } else {
            usage();
        }
    }
    if (!tmpl_path || nt == 0)
        usage();

    FILE *f = fopen(tmpl_path, "rb");
    if (!f)
        die("cannot open the template");
    tmpl = malloc(BODY_MAX + 1);
    if (!tmpl)
        die("out of memory");
    tmpl_len = fread(tmpl, 1, BODY_MAX, f);
    fclose(f);
    tmpl[tmpl_len] = '\0';
    find_lrn();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("cannot initialise libcurl");

    printf("loadgen: %u connections, %.1f s warm-up + %.1f s measured per target, "
           "%zu-byte declarations, LRN prefix %s\n",
           nconn, warmup, duration, tmpl_len, lrn_prefix);
    for (size_t i = 0; i < nt; i++) {
        struct kvb_post_config pc = {.url = targets[i].url,
                                     .token = token,
                                     .connections = nconn,
                                     .warmup = warmup,
                                     .duration = duration,
                                     .next_body = next_body};
        struct kvb_post_result *t = &targets[i].res;
        kvb_post_run(&pc, t);
        printf("%-8s %8.0f req/s  ok %llu of %llu  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  "
               "max %.2f ms  new connections %llu  (%s)\n",
               targets[i].name, (double)t->ok / t->secs, (unsigned long long)t->ok,
               (unsigned long long)t->answered, kvb_pct(t, 0.50), kvb_pct(t, 0.90),
               kvb_pct(t, 0.99), kvb_pct(t, 1.0), (unsigned long long)t->connects, targets[i].url);
        if (t->failed)
            printf("%-8s %llu failed; first: status %ld: %s\n", targets[i].name,
                   (unsigned long long)t->failed, t->first_bad_status, t->first_bad_body);
        fflush(stdout);
    }
    for (size_t i = 1; i < nt; i++) {
        double a = (double)targets[0].res.ok / targets[0].res.secs;
        double b = (double)targets[i].res.ok / targets[i].res.secs;
        printf("ratio %s/%s: %.3f (%s is %.1fx slower)\n", targets[0].name, targets[i].name,
               b > 0 ? a / b : 0.0, targets[0].name, a > 0 ? b / a : 0.0);
    }
    int rc = 0;
    for (size_t i = 0; i < nt; i++) {
        if (targets[i].res.ok == 0)
            rc = 1;
        free(targets[i].res.lat);
    }
    for (size_t i = 0; i < KVB_CONNS_MAX; i++)
        free(bodies[i]);
    free(tmpl);
    curl_global_cleanup();
    return rc;
}
