/*
 * http_hello.c — the hello-world ceiling of the node's HTTP layer, to be
 * compared in one run with a bare libmicrohttpd handler under the same load
 * generator (the wrapper's overhead, not the machine's, is the question).
 *
 *   build/bench/http_hello bare|wrapper|wrapper-log [THREADS]
 *
 * Listens on 127.0.0.1 port 0, prints the port on stdout, serves
 * GET / → 200 {"hello":"world"} and POST (any path in bare mode,
 * /v1/declarations in the wrapper modes) → 201 {"hello":"world"} once the
 * whole body has been read, until SIGTERM/SIGINT. The POST answer is the
 * node benchmark's baseline (scripts/bench-node.sh): the same request
 * costs HTTP and nothing else.
 *   bare         MHD alone: epoll, internal thread pool, the two-call
 *                pattern (keep-alive), a shared static response
 *                (bench_http.h's kvb_bare_start).
 *   wrapper      src/net/http.c with metrics on and the access log off.
 *   wrapper-log  the same with the access log on (to stderr: send it to
 *                /dev/null to measure the formatting, not a terminal).
 * Drive it with e.g. `wrk -t2 -c64 -d5s --latency http://127.0.0.1:PORT/`.
 */
#include "core/err.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"

#include "bench_http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hello[] = "{\"hello\":\"world\"}";

static int wrapped_hello(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    return kv_http_resp_json(resp, 200, hello, sizeof(hello) - 1);
}

static int wrapped_created(struct kv_http_req *req, struct kv_http_resp *resp, void *ctx)
{
    (void)req;
    (void)ctx;
    return kv_http_resp_json(resp, 201, hello, sizeof(hello) - 1);
}

static void wait_signal(void)
{
    sigset_t s;
    int sig;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigwait(&s, &sig);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_hello bare|wrapper|wrapper-log [THREADS]\n");
        return 2;
    }
    unsigned threads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
    if (threads == 0)
        threads = 2;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);

    if (strcmp(argv[1], "bare") == 0) {
        struct kvb_bare b;
        if (kvb_bare_start(&b, threads, 201, hello) != 0)
            return 1;
        printf("%u\n", b.port);
        fflush(stdout);
        wait_signal();
        kvb_bare_stop(&b);
        return 0;
    }

    bool log = strcmp(argv[1], "wrapper-log") == 0;
    if (!log && strcmp(argv[1], "wrapper") != 0)
        return 2;
    kv_log_init(2, KV_LOG_INFO);
    struct kv_metrics *m;
    struct kv_http *h;
    struct kv_http_config cfg;
    char err[256];
    if (kv_metrics_new(&m) != KV_OK)
        return 1;
    kv_http_config_init(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = threads;
    cfg.access_log = log;
    cfg.metrics = m;
    if (kv_http_new(&cfg, &h) != KV_OK || kv_http_route(h, "GET", "/", wrapped_hello, NULL) ||
        kv_http_route(h, "POST", "/v1/declarations", wrapped_created, NULL) ||
        kv_http_start(h, err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "http_hello: %s\n", err);
        return 1;
    }
    printf("%u\n", kv_http_port(h));
    fflush(stdout);
    wait_signal();
    kv_http_free(h);
    kv_metrics_free(m);
    return 0;
}
