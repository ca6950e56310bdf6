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
 * follow redirects.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGETS_MAX 8
#define CONNS_MAX   1024
#define LRN_LEN     22
#define BODY_MAX    (8u << 20)

struct target {
    const char *name, *url;
    /* results */
    uint64_t answered, ok, failed, connects;
    double secs;
    uint32_t *lat; /* microseconds, measured window only */
    size_t nlat, caplat;
    long first_bad_status;
    char first_bad_body[600];
};

struct conn {
    CURL *h;
    char *body; /* the template with this request's LRN */
    size_t body_len;
    char resp[512]; /* start of the answer's body (for errors) */
    size_t resp_len;
    struct timespec t0;
};

static char *tmpl;
static size_t tmpl_len, lrn_at, lrn_old_len; /* where the LRN value is in tmpl */
static char lrn_prefix[9];
static uint64_t lrn_serial;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

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

/* Builds the next request body in c->body: the template with a fresh LRN. */
static void next_body(struct conn *c)
{
    char lrn[LRN_LEN + 1];
    int n = snprintf(lrn, sizeof(lrn), "%s%012llu", lrn_prefix, (unsigned long long)lrn_serial++);
    if (n <= 0 || n > LRN_LEN)
        die("LRN too long");
    size_t len = tmpl_len - lrn_old_len + (size_t)n;
    memcpy(c->body, tmpl, lrn_at);
    memcpy(c->body + lrn_at, lrn, (size_t)n);
    memcpy(c->body + lrn_at + (size_t)n, tmpl + lrn_at + lrn_old_len,
           tmpl_len - lrn_at - lrn_old_len);
    c->body_len = len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct conn *c = ud;
    size_t n = size * nmemb, room = sizeof(c->resp) - 1 - c->resp_len;
    size_t k = n < room ? n : room;
    memcpy(c->resp + c->resp_len, data, k);
    c->resp_len += k;
    c->resp[c->resp_len] = '\0';
    return n;
}

static void start(CURLM *m, struct conn *c)
{
    next_body(c);
    c->resp_len = 0;
    c->resp[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    curl_multi_add_handle(m, c->h);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const struct target *t, double p)
{
    if (t->nlat == 0)
        return 0;
    size_t i = (size_t)(p * (double)(t->nlat - 1) + 0.5);
    return t->lat[i] / 1000.0;
}

static void run(struct target *t, const char *token, unsigned nconn, double warmup, double duration)
{
    CURLM *m = curl_multi_init();
    struct conn *cs = calloc(nconn, sizeof(*cs));
    struct curl_slist *hdrs = NULL;
    char auth[600];
    if (!m || !cs)
        die("out of memory");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nconn);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nconn);
    for (unsigned i = 0; i < nconn; i++) {
        struct conn *c = &cs[i];
        c->h = curl_easy_init();
        c->body = malloc(tmpl_len + LRN_LEN + 1);
        if (!c->h || !c->body)
            die("out of memory");
        curl_easy_setopt(c->h, CURLOPT_URL, t->url);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
        start(m, c);
    }
    double t_begin = now_s(), t_measure = t_begin + warmup, t_end = t_measure + duration;
    bool measuring = false, stopping = false;
    unsigned running = nconn;
    uint64_t connects_before = 0;
    while (running > 0) {
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int left;
        double now = now_s();
        if (!measuring && now >= t_measure)
            measuring = true;
        if (!stopping && now >= t_end)
            stopping = true;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            struct conn *c = (struct conn *)priv;
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long status = 0, nc = 0;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_getinfo(c->h, CURLINFO_NUM_CONNECTS, &nc);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, c->h);
            double started = (double)c->t0.tv_sec + (double)c->t0.tv_nsec / 1e9;
            if (started >= t_measure && started < t_end) {
                uint64_t us = (uint64_t)((t1.tv_sec - c->t0.tv_sec) * 1000000LL +
                                         (t1.tv_nsec - c->t0.tv_nsec) / 1000);
                t->answered++;
                t->connects += (uint64_t)nc;
                if (rc == CURLE_OK && (status == 201 || status == 200)) {
                    t->ok++;
                } else {
                    t->failed++;
                    if (!t->first_bad_status && !t->first_bad_body[0]) {
                        t->first_bad_status = status;
                        snprintf(t->first_bad_body, sizeof(t->first_bad_body), "%s",
                                 rc == CURLE_OK ? c->resp : curl_easy_strerror(rc));
                    }
                }
                if (t->nlat == t->caplat) {
                    t->caplat = t->caplat ? t->caplat * 2 : 65536;
                    t->lat = realloc(t->lat, t->caplat * sizeof(*t->lat));
                    if (!t->lat)
                        die("out of memory");
                }
                t->lat[t->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            } else {
                connects_before += (uint64_t)nc;
            }
            if (stopping)
                running--;
            else
                start(m, c);
        }
        if (running > 0)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    t->secs = duration;
    for (unsigned i = 0; i < nconn; i++) {
        curl_easy_cleanup(cs[i].h);
        free(cs[i].body);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(cs);
    qsort(t->lat, t->nlat, sizeof(*t->lat), cmp_u32);
    (void)connects_before;
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
            if (*e || n == 0 || n > CONNS_MAX)
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
        run(&targets[i], token, nconn, warmup, duration);
        struct target *t = &targets[i];
        printf("%-8s %8.0f req/s  ok %llu of %llu  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  "
               "max %.2f ms  new connections %llu  (%s)\n",
               t->name, (double)t->ok / t->secs, (unsigned long long)t->ok,
               (unsigned long long)t->answered, pct(t, 0.50), pct(t, 0.90), pct(t, 0.99),
               pct(t, 1.0), (unsigned long long)t->connects, t->url);
        if (t->failed)
            printf("%-8s %llu failed; first: status %ld: %s\n", t->name,
                   (unsigned long long)t->failed, t->first_bad_status, t->first_bad_body);
        fflush(stdout);
    }
    for (size_t i = 1; i < nt; i++) {
        double a = (double)targets[0].ok / targets[0].secs;
        double b = (double)targets[i].ok / targets[i].secs;
        printf("ratio %s/%s: %.3f (%s is %.1fx slower)\n", targets[0].name, targets[i].name,
               b > 0 ? a / b : 0.0, targets[0].name, a > 0 ? b / a : 0.0);
    }
    int rc = 0;
    for (size_t i = 0; i < nt; i++) {
        if (targets[i].ok == 0)
            rc = 1;
        free(targets[i].lat);
    }
    free(tmpl);
    curl_global_cleanup();
    return rc;
}
