/*
 * cmd_serve.c — `kervan serve`: run this country's node.
 *
 * Loads the configuration (config.h), creates and locks the data directory,
 * opens the store in it (store/store.h) and the reference data (core/ref.h),
 * starts the HTTP server with the node's routes (net/api.h) and the store's
 * gauges on /metrics, logs the bound address, optionally writes the bound
 * port to --port-file, then waits for SIGTERM or SIGINT and shuts down
 * cleanly, in order: the HTTP server stops (no new connections, in-flight
 * requests finish, up to shutdown-grace seconds), then the store (its writer
 * commits what is queued), then the rest; exit 0.
 *
 * Signals are blocked in every thread (the mask is set before the server's
 * threads start, and they inherit it) and taken synchronously with
 * sigwait() in the main thread, so no code runs in a signal handler.
 */
#include "cli/cli.h"
#include "cli/config.h"

#include "codec/ncts_schema.h"
#include "core/err.h"
#include "core/ref.h"
#include "net/api.h"
#include "net/corridor.h"
#include "net/http.h"
#include "net/log.h"
#include "net/metrics.h"
#include "net/version.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan serve --country CC --data DIR [--listen ADDR:PORT] [--config FILE]"
                 " [settings...]\n\n"
                 "Runs this country's kervan node: the HTTP API on ADDR:PORT (127.0.0.1:8080 by\n"
                 "default), data kept in DIR. Stops cleanly on SIGTERM or SIGINT. Logs go to\n"
                 "standard error, one logfmt line each. See docs/operations.md.\n\n"
                 "settings (each also a `key = value` line of the config file):\n");
    kv_config_usage(out);
}

/* Creates the data directory (0700) if missing and checks it is one. */
static int prepare_data_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        kv_log_error("cannot create the data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        kv_log_error("data directory %s is not a directory", dir);
        return -1;
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        kv_log_error("data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (st.st_mode & 077)
        kv_log_warn("data directory %s is accessible to other users (mode %03o)", dir,
                    (unsigned)(st.st_mode & 0777));
    return 0;
}

/*
 * One node per data directory: an exclusive flock on DIR/kervan.pid, held
 * for the process's life (released by the kernel even after kill -9), with
 * the pid in it for the message a second node gets. (The store keeps its own
 * lock, DIR/kervan.lock, against any other process — `kervan token add`.)
 * Returns the fd or -1.
 */
static int lock_data_dir(const char *dir)
{
    char path[PATH_MAX + 16];
    if ((size_t)snprintf(path, sizeof(path), "%s/kervan.pid", dir) >= sizeof(path)) {
        kv_log_error("data directory path too long");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        kv_log_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        kv_log_error("data directory %s is in use by another kervan serve (pid %s)", dir,
                     pid[0] ? pid : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        kv_log_warn("cannot write the pid to %s: %s", path, strerror(errno));
    return fd;
}

/* Writes "PORT\n" to path through a temporary file and rename(2). */
static int write_port_file(const char *path, unsigned port)
{
    char tmp[PATH_MAX + 32];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        kv_log_error("port file path too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        kv_log_error("cannot write the port file %s: %s", tmp, strerror(errno));
        return -1;
    }
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%u\n", port);
    if (write(fd, buf, (size_t)n) != n || close(fd) != 0 || rename(tmp, path) != 0) {
        kv_log_error("cannot write the port file %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static const char *signal_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

int kv_cmd_serve(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct kv_config cfg;
    char err[PATH_MAX + 256];
    static const char *const required[] = {"country", "data", NULL};
    if (kv_config_load(&cfg, argc, argv, err, sizeof(err)) != KV_OK ||
        kv_config_require(&cfg, required, err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "kervan serve: %s\n", err);
        return 2;
    }
    kv_log_init(2, cfg.log_level);

    int rc = 2, lock_fd = -1;
    bool port_file_written = false;
    struct kv_metrics *metrics = NULL;
    struct kv_http *http = NULL;
    struct kv_store *store = NULL;
    struct kv_ref *ref = NULL;
    struct kv_ncts_schemas *xsd = NULL;
    struct kv_corridor *corridor = NULL;
    struct kv_api api = {.country = cfg.country,
                         .version = kv_node_version(),
                         .overdue_days = cfg.overdue_days,
                         .max_items = cfg.max_items};

    /* Block the signals we wait for before any thread starts: MHD's threads
     * inherit the mask, so only sigwait() below ever sees them. Their
     * disposition is reset first: a shell starts background jobs with
     * SIGINT ignored, and Linux drops an ignored signal even when blocked. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (prepare_data_dir(cfg.data) != 0 || (lock_fd = lock_data_dir(cfg.data)) < 0)
        goto out;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store_config sc = {.backend = "sqlite", .path = cfg.data, .country = cfg.country};
    int e = kv_store_open(&sc, &store, detail);
    if (e != KV_OK) {
        kv_log_error("cannot open the store in %s: %s", cfg.data, detail);
        goto out;
    }
    e = kv_ref_open_err(&ref, err, sizeof(err));
    if (e != KV_OK) {
        kv_log_error("cannot load the reference data: %s", e == KV_EPARSE ? err : kv_strerror(e));
        goto out;
    }
    api.store = store;
    api.ref = ref;

    /* The NCTS XSD folder: the setting, else the environment; none disables XML lodging. */
    const char *xsd_dir = cfg.ncts_xsd[0] ? cfg.ncts_xsd : getenv(KV_NCTS_XSD_ENV);
    if (xsd_dir && xsd_dir[0]) {
        if (kv_ncts_schemas_open(xsd_dir, &xsd, err, sizeof(err)) != KV_OK ||
            kv_ncts_schemas_compile(xsd, "CC015C", err, sizeof(err)) != KV_OK) {
            kv_log_error("cannot use the NCTS XSD folder %s: %s", xsd_dir,
                         err[0] ? err : "no CC015C schema");
            goto out;
        }
        api.ncts_xsd = xsd;
    }

    if (kv_metrics_new(&metrics) != KV_OK) {
        kv_log_error("out of memory");
        goto out;
    }
    api.metrics = metrics;
    /* The corridor: with a trust list the node exchanges with the others. */
    if (cfg.trust[0]) {
        struct kv_corridor_config cc = {.store = store,
                                        .ref = ref,
                                        .country = cfg.country,
                                        .trust_path = cfg.trust,
                                        .keys_dir = cfg.keys[0] ? cfg.keys : cfg.data,
                                        .backoff_cap_ms = cfg.exchange_retry_max * 1000u,
                                        .timeout_ms = cfg.exchange_timeout * 1000u,
                                        .metrics = metrics};
        if (kv_corridor_new(&cc, &corridor, err, sizeof(err)) != KV_OK) {
            kv_log_error("cannot join the corridor: %s", err);
            goto out;
        }
        api.corridor = corridor;
    }

    struct kv_http_config hc;
    kv_http_config_init(&hc);
    hc.listen = cfg.listen;
    hc.threading = cfg.threading;
    hc.threads = cfg.threads;
    hc.max_connections = cfg.max_connections;
    hc.max_body = cfg.max_body;
    hc.max_header = cfg.max_header;
    hc.timeout_s = cfg.timeout;
    hc.stop_wait_ms = cfg.shutdown_grace * 1000u;
    hc.access_log = cfg.access_log;
    hc.metrics = metrics;
    e = kv_http_new(&hc, &http);
    if (e == KV_OK)
        e = kv_api_register(http, &api);
    if (e == KV_OK && corridor)
        e = kv_corridor_register(corridor, http);
    if (e != KV_OK) {
        kv_log_error("cannot set up the HTTP server: %s", kv_strerror(e));
        goto out;
    }
    if (kv_http_start(http, err, sizeof(err)) != KV_OK) {
        kv_log_error("%s", err);
        goto out;
    }
    if (corridor && kv_corridor_start(corridor, err, sizeof(err)) != KV_OK) {
        kv_log_error("cannot start the delivery worker: %s", err);
        goto out;
    }

    struct kv_log_line l;
    kv_log_begin(&l, KV_LOG_INFO, "listening");
    kv_log_str(&l, "addr", kv_http_address(http));
    kv_log_uint(&l, "port", kv_http_port(http));
    kv_log_str(&l, "country", cfg.country);
    kv_log_str(&l, "version", kv_node_version());
    kv_log_str(&l, "data", cfg.data);
    kv_log_str(&l, "ncts_xsd", xsd ? kv_ncts_schemas_dir(xsd) : "none");
    kv_log_str(&l, "corridor", corridor ? cfg.trust : "none");
    kv_log_str(&l, "threading", kv_http_threading_name(cfg.threading));
    if (cfg.threading == KV_HTTP_POOL)
        kv_log_uint(&l, "threads", cfg.threads);
    kv_log_int(&l, "pid", (int64_t)getpid());
    kv_log_end(&l);

    if (cfg.port_file[0]) {
        if (write_port_file(cfg.port_file, kv_http_port(http)) != 0)
            goto out;
        port_file_written = true;
    }

    int sig = 0;
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    kv_log_begin(&l, KV_LOG_INFO, "stopping");
    kv_log_str(&l, "signal", signal_name(sig));
    kv_log_uint(&l, "grace_s", cfg.shutdown_grace);
    kv_log_end(&l);
    unsigned cut = kv_http_stop(http);
    if (cut)
        kv_log_warn("%u request(s) still in flight after %u s were cut off", cut,
                    cfg.shutdown_grace);
    kv_corridor_stop(corridor); /* deliveries in flight get their grace; the rest wait */
    kv_log_info("stopped");
    rc = 0;
out:
    kv_http_free(http);      /* stops first if still running (error paths) */
    kv_corridor_free(corridor);
    kv_api_unregister(&api); /* the store's gauges go before the store */
    kv_store_close(store);   /* the writer commits what is queued, then stops */
    kv_ref_close(ref);
    kv_ncts_schemas_close(xsd);
    kv_metrics_free(metrics);
    if (port_file_written)
        unlink(cfg.port_file);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}
