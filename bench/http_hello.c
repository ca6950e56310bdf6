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
 *                pattern (keep-alive), a shared static response.
 *   wrapper      src/net/http.c with metrics on and the access log off.
 *   wrapper-log  the same with the access log on (to stderr: send it to
 *                /dev/null to measure the formatting, not a terminal).
 * Drive it with e.g. `wrk -t2 -c64 -d5s --latency http://127.0.0.1:PORT/`.
 */
#include "core/err.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hello[] = "{\"hello\":\"world\"}";

static enum MHD_Result bare_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload,
                                   size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload;
    static int marker;
    if (*con_cls == NULL) { /* first call: answer on the next one (keep-alive) */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_size) { /* read (and drop) the body; answer after the last chunk */
        *upload_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, strcmp(method, "POST") == 0 ? 201 : 200, cls);
}

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
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(hello) - 1, (void *)hello,
                                                                 MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "application/json");
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        struct MHD_Daemon *d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
            bare_access, r, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 256u,
            threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, MHD_OPTION_END);
        if (!d)
            return 1;
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        printf("%u\n", (unsigned)i->port);
        fflush(stdout);
        wait_signal();
        MHD_stop_daemon(d);
        MHD_destroy_response(r);
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
