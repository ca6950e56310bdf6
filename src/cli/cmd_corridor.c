/*
 * cmd_corridor.c — `kervan corridor up | down | status`: a local corridor,
 * one node per country on loopback, for trying the exchange and for tests.
 *
 *   kervan corridor up     --countries KZ,AZ,GE,TR --dir DIR [--base-port P]
 *                          [--kervan PATH]
 *   kervan corridor down   --dir DIR
 *   kervan corridor status --dir DIR [--json]
 *
 * `up` gives the i-th country the data folder DIR/CC, a fresh Ed25519 key
 * pair (crypto/crypto.h, as `kervan keys new`), an entry in the shared trust
 * list DIR/trust.json (URL http://127.0.0.1:P+i, as `kervan trust add`) and
 * tokens for an operator, an analyst, a guarantor, a trader and an officer
 * of each of the country's offices in the registry (recorded in the store as
 * `kervan token add` records them). It writes DIR/corridor.json (mode 0600:
 * it holds the tokens), starts `kervan serve` for each country in its own
 * session (output to DIR/CC/node.log, pid in DIR/CC/node.pid), waits until
 * every /healthz answers for its country, and writes the pids into
 * corridor.json. A stopped corridor (corridor.json there, no node running)
 * is started again with its keys, data and tokens; a running one is refused.
 *
 * `down` stops the nodes of corridor.json: SIGTERM, SIGKILL after 10 s. It
 * signals a process only when /proc/PID/cmdline shows a `kervan serve` of
 * that country's data folder, so a pid reused by another program is left
 * alone. `status` reads each node's /healthz and its exchange backlog
 * (kervan_exchange_backlog on /metrics).
 *
 * The only program started is `kervan serve` (the binary running this, or
 * --kervan PATH); keys, trust list and tokens are made here through the
 * same library calls as `kervan keys`, `kervan trust` and `kervan token`.
 */
#include "cli/cli.h"

#include "codec/trust_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/trust.h"
#include "crypto/crypto.h"
#include "net/auth.h"
#include "net/client.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CORRIDOR_NODES_MAX    16         /* countries in one local corridor */
#define CORRIDOR_OFFICERS_MAX 32         /* officer tokens per node (offices of a country) */
#define CORRIDOR_JSON_MAX     (1u << 20) /* bytes of corridor.json */
#define CORRIDOR_START_MS     15000      /* every node healthy within this */
#define CORRIDOR_STOP_MS      10000      /* SIGTERM to SIGKILL */
#define CORRIDOR_DEFAULT_PORT 7100
/* The parties the trader and guarantor tokens act for: the holder and the
 * guarantor of examples/declaration.json. */
#define CORRIDOR_TRADER_PARTY    "180540001239"
#define CORRIDOR_GUARANTOR_PARTY "990340001111"
/* The keys of a local corridor are valid from this instant, not from the
 * moment they are made, so that events dated in the past (a back-dated
 * record, a test's fixed times) still verify against them. */
#define CORRIDOR_KEYS_FROM "2020-01-01T00:00:00Z"

struct officer {
    char office[9];
    char token[KV_TOKEN_LEN + 1];
};

struct node {
    char cc[3];
    unsigned port;
    long pid; /* 0: not started */
    char url[64];
    char data[PATH_MAX];
    char log[PATH_MAX];
    char operator_token[KV_TOKEN_LEN + 1];
    char analyst[KV_TOKEN_LEN + 1];
    char guarantor[KV_TOKEN_LEN + 1];
    char trader[KV_TOKEN_LEN + 1];
    size_t n_officers;
    struct officer officers[CORRIDOR_OFFICERS_MAX];
    bool healthy;
};

struct corridor {
    char dir[PATH_MAX];   /* absolute */
    char file[PATH_MAX];  /* DIR/corridor.json */
    char trust[PATH_MAX]; /* DIR/trust.json */
    unsigned base_port;
    size_t n;
    struct node nodes[CORRIDOR_NODES_MAX];
};

static void help(FILE *out)
{
    fprintf(out,
            "usage: kervan corridor up     --countries CC,CC,... --dir DIR [--base-port P]\n"
            "                              [--kervan PATH]\n"
            "       kervan corridor down   --dir DIR\n"
            "       kervan corridor status --dir DIR [--json]\n\n"
            "A local corridor: one kervan node per country on 127.0.0.1, the i-th country\n"
            "listening on P+i (P is 7100 by default), with fresh keys and a shared trust list.\n\n"
            "  up      makes DIR/CC (data, keys, tokens) for each country, DIR/trust.json and\n"
            "          DIR/corridor.json (0600: URLs, pids and the tokens of an operator, an\n"
            "          analyst, a guarantor, a trader and an officer of each office), starts\n"
            "          the nodes in the background (logs in DIR/CC/node.log) and returns once\n"
            "          every one answers /healthz (15 s at most). A stopped corridor in DIR is\n"
            "          started again with its data and tokens; a running one is refused.\n"
            "  down    stops the nodes of DIR (SIGTERM, then SIGKILL after 10 s)\n"
            "  status  each node's process, /healthz and exchange backlog\n\n"
            "  --countries  e.g. KZ,AZ,GE,TR,UZ,KG (not needed to restart a corridor)\n"
            "  --dir        the corridor's folder (created 0700 when missing)\n"
            "  --base-port  the first country's port (default 7100)\n"
            "  --kervan     the program to run as `kervan serve` (default: this one)\n"
            "  --json       status: one JSON object\n\n"
            "exit status: up: 0 running, 1 a node did not come up (all stopped again),\n"
            "             2 usage error, DIR in use, a port taken, or files not writable;\n"
            "             down: 0 no node left running, 1 a node could not be stopped;\n"
            "             status: 0 every node healthy, 1 not, 2 no corridor in DIR\n");
}

/* ---------------------------------------------------------------------------
 * Small helpers
 */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* snprintf into a fixed buffer; -1 (message printed) when it does not fit. */
static int path_join(char *out, size_t size, const char *a, const char *b)
{
    int n = snprintf(out, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "kervan corridor: path too long: %s/%s\n", a, b);
        return -1;
    }
    return 0;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Writes len bytes to path through path.tmp, fsync and rename; mode for a new file. */
static int write_file(const char *path, const char *buf, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        goto fail;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            goto fail;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "kervan corridor: cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return -1;
}

/* True when something can bind 127.0.0.1:port now (as the node will, SO_REUSEADDR). */
static bool port_free(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ---------------------------------------------------------------------------
 * Processes: is PID a running `kervan serve` of DATA?
 */

/* True when pid exists and is not a zombie. */
static bool process_alive(long pid)
{
    if (pid <= 0 || kill((pid_t)pid, 0) != 0)
        return false;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* the state follows the (command) */
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* The data folder argument of a serve command line, resolved against the
 * process's working directory, equals `data` (absolute, resolved). */
static bool same_data(long pid, const char *arg, const char *data)
{
    if (strcmp(arg, data) == 0)
        return true;
    char p[PATH_MAX + 64], real[PATH_MAX];
    int n = arg[0] == '/' ? snprintf(p, sizeof p, "%s", arg)
                          : snprintf(p, sizeof p, "/proc/%ld/cwd/%s", pid, arg);
    if (n < 0 || (size_t)n >= sizeof p || !realpath(p, real))
        return false;
    return strcmp(real, data) == 0;
}

/* True when pid runs `... serve ... --data DATA ...` (or --data=DATA). */
static bool is_serve_of(long pid, const char *data)
{
    if (!process_alive(pid))
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    buf = malloc(65536);
    if (buf)
        len = fread(buf, 1, 65535, f);
    fclose(f);
    if (!buf)
        return false;
    buf[len] = '\0';
    /* the arguments, NUL-separated */
    const char *args[64];
    size_t na = 0;
    for (size_t i = 0; i < len && na < 64; i += strlen(buf + i) + 1)
        args[na++] = buf + i;
    bool ok = false;
    if (na >= 2 && strcmp(args[1], "serve") == 0) {
        for (size_t i = 2; i < na && !ok; i++) {
            if (strcmp(args[i], "--data") == 0 && i + 1 < na)
                ok = same_data(pid, args[i + 1], data);
            else if (strncmp(args[i], "--data=", 7) == 0)
                ok = same_data(pid, args[i] + 7, data);
        }
    }
    free(buf);
    return ok;
}

/*
 * The pid of the `kervan serve` holding DATA's lock (DATA/kervan.pid, an
 * flock serve keeps for its life), 0 when none holds it, -1 when it is held
 * but the pid cannot be read.
 */
static long lock_holder(const char *data)
{
    char path[PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/kervan.pid", data) >= (int)sizeof path)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        char *end = NULL;
        errno = 0;
        pid = strtol(buf, &end, 10);
        if (errno || end == buf || pid <= 0)
            pid = -1;
    }
    close(fd);
    return pid;
}

/* The pid of the running node of n (its lock holder, else its recorded pid
 * when that is a serve of its folder), or 0. */
static long node_running(const struct node *n)
{
    long h = lock_holder(n->data);
    if (h != 0)
        return h;
    return is_serve_of(n->pid, n->data) ? n->pid : 0;
}

/* ---------------------------------------------------------------------------
 * corridor.json
 */

static void put_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, json_object_new_string(v));
}

static int corridor_save(const struct corridor *c)
{
    struct json_object *root = json_object_new_object();
    if (!root)
        return -1;
    put_str(root, "dir", c->dir);
    put_str(root, "trust", c->trust);
    json_object_object_add(root, "base_port", json_object_new_int((int)c->base_port));
    struct json_object *parties = json_object_new_object();
    put_str(parties, "trader", CORRIDOR_TRADER_PARTY);
    put_str(parties, "guarantor", CORRIDOR_GUARANTOR_PARTY);
    json_object_object_add(root, "parties", parties);
    struct json_object *nodes = json_object_new_array();
    for (size_t i = 0; i < c->n; i++) {
        const struct node *n = &c->nodes[i];
        struct json_object *o = json_object_new_object(), *t = json_object_new_object(),
                           *off = json_object_new_object();
        put_str(o, "country", n->cc);
        put_str(o, "url", n->url);
        json_object_object_add(o, "port", json_object_new_int((int)n->port));
        json_object_object_add(o, "pid", json_object_new_int64(n->pid));
        put_str(o, "data", n->data);
        put_str(o, "log", n->log);
        put_str(t, "operator", n->operator_token);
        put_str(t, "analyst", n->analyst);
        put_str(t, "guarantor", n->guarantor);
        put_str(t, "trader", n->trader);
        for (size_t k = 0; k < n->n_officers; k++)
            put_str(off, n->officers[k].office, n->officers[k].token);
        json_object_object_add(t, "officers", off);
        json_object_object_add(o, "tokens", t);
        json_object_array_add(nodes, o);
    }
    json_object_object_add(root, "nodes", nodes);
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
        &len);
    int rc = -1;
    char *text = s ? malloc(len + 2) : NULL;
    if (text) {
        memcpy(text, s, len);
        text[len++] = '\n';
        rc = write_file(c->file, text, len, 0600);
        sodium_memzero(text, len);
        free(text);
    }
    json_object_put(root);
    return rc;
}

/* Copies the string member k of o into out (size bytes); -1 when absent or too long. */
static int get_str(struct json_object *o, const char *k, char *out, size_t size)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return -1;
    size_t len = (size_t)json_object_get_string_len(v);
    if (len >= size)
        return -1;
    memcpy(out, json_object_get_string(v), len + 1);
    return 0;
}

static int get_int(struct json_object *o, const char *k, long lo, long hi, long *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return -1;
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi)
        return -1;
    *out = (long)x;
    return 0;
}

static int load_node(struct json_object *o, struct node *n)
{
    long port = 0, pid = 0;
    struct json_object *t = NULL, *off = NULL;
    if (!json_object_is_type(o, json_type_object) || get_str(o, "country", n->cc, sizeof n->cc) ||
        !kv_trust_country_ok(n->cc, strlen(n->cc)) || get_str(o, "url", n->url, sizeof n->url) ||
        get_int(o, "port", 1, 65535, &port) || get_int(o, "pid", 0, INT32_MAX, &pid) ||
        get_str(o, "data", n->data, sizeof n->data) || get_str(o, "log", n->log, sizeof n->log) ||
        !json_object_object_get_ex(o, "tokens", &t) ||
        get_str(t, "operator", n->operator_token, sizeof n->operator_token) ||
        get_str(t, "analyst", n->analyst, sizeof n->analyst) ||
        get_str(t, "guarantor", n->guarantor, sizeof n->guarantor) ||
        get_str(t, "trader", n->trader, sizeof n->trader) ||
        !json_object_object_get_ex(t, "officers", &off) ||
        !json_object_is_type(off, json_type_object))
        return -1;
    n->port = (unsigned)port;
    n->pid = pid;
    json_object_object_foreach(off, office, tok)
    {
        if (n->n_officers == CORRIDOR_OFFICERS_MAX || strlen(office) != 8 ||
            !json_object_is_type(tok, json_type_string) ||
            (size_t)json_object_get_string_len(tok) > KV_TOKEN_LEN)
            return -1;
        struct officer *of = &n->officers[n->n_officers++];
        memcpy(of->office, office, 9);
        memcpy(of->token, json_object_get_string(tok), (size_t)json_object_get_string_len(tok) + 1);
    }
    return 0;
}

/*
 * Reads DIR/corridor.json into c (c->dir, c->file set by the caller).
 * Returns 0; 1 when there is none; 2 when it cannot be read or used
 * (message printed).
 */
static int corridor_load(struct corridor *c)
{
    if (!file_exists(c->file))
        return 1;
    char *buf = NULL;
    size_t len = 0;
    if (kv_cli_read_file(c->file, CORRIDOR_JSON_MAX, &buf, &len) != 0)
        return 2;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root = tok ? json_tokener_parse_ex(tok, buf, (int)len) : NULL;
    int rc = 2;
    struct json_object *nodes = NULL;
    long port = 0;
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        get_str(root, "trust", c->trust, sizeof c->trust) ||
        get_int(root, "base_port", 1, 65535, &port) ||
        !json_object_object_get_ex(root, "nodes", &nodes) ||
        !json_object_is_type(nodes, json_type_array) || json_object_array_length(nodes) == 0 ||
        json_object_array_length(nodes) > CORRIDOR_NODES_MAX) {
        fprintf(stderr, "kervan corridor: %s is not a corridor file kervan wrote\n", c->file);
        goto out;
    }
    c->base_port = (unsigned)port;
    c->n = json_object_array_length(nodes);
    for (size_t i = 0; i < c->n; i++) {
        if (load_node(json_object_array_get_idx(nodes, i), &c->nodes[i]) != 0) {
            fprintf(stderr, "kervan corridor: %s: node %zu is not what kervan wrote\n", c->file, i);
            goto out;
        }
    }
    rc = 0;
out:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

/* Sets c->dir (absolute; created 0700 when `create`), c->file, and c->trust. */
static int corridor_dir(struct corridor *c, const char *dir, bool create)
{
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "kervan corridor: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (!realpath(dir, c->dir)) {
        fprintf(stderr, "kervan corridor: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if (path_join(c->file, sizeof c->file, c->dir, "corridor.json") != 0 ||
        path_join(c->trust, sizeof c->trust, c->dir, "trust.json") != 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * up: the files of a new corridor
 */

/* Parses "KZ,AZ,GE" into c->nodes[].cc; checks each against the country list. */
static int parse_countries(struct corridor *c, const char *list, const struct kv_ref *ref)
{
    const char *p = list;
    c->n = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len != 2 || !kv_trust_country_ok(p, 2) || !kv_ref_has(ref, KV_LIST_COUNTRY, p, 2)) {
            fprintf(stderr,
                    "kervan corridor up: --countries: '%.*s' is not a country code (two "
                    "upper-case letters, ISO 3166)\n",
                    (int)len, p);
            return -1;
        }
        for (size_t i = 0; i < c->n; i++) {
            if (memcmp(c->nodes[i].cc, p, 2) == 0) {
                fprintf(stderr, "kervan corridor up: --countries: %.2s is listed twice\n", p);
                return -1;
            }
        }
        if (c->n == CORRIDOR_NODES_MAX) {
            fprintf(stderr, "kervan corridor up: --countries: at most %d countries\n",
                    CORRIDOR_NODES_MAX);
            return -1;
        }
        memcpy(c->nodes[c->n++].cc, p, 3);
        c->nodes[c->n - 1].cc[2] = '\0';
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* Makes one token in store s, bound as given; writes it to out. */
static int make_token(struct kv_store *s, const struct kv_ref *ref, const char *cc,
                      const char *role, const char *party, const char *office, char *out)
{
    char err[256], detail[KV_STORE_DETAIL_MAX] = "", label[KV_LABEL_MAX + 1];
    const char *field = "";
    snprintf(label, sizeof label, "corridor-%s%s%s", role, office ? "-" : "", office ? office : "");
    if (kv_auth_binding_check(ref, cc, role, party, office, label, err, sizeof err, &field) !=
        KV_OK) {
        fprintf(stderr, "kervan corridor up: %s token: %s\n", role, err);
        return -1;
    }
    uint8_t hash[KV_TOKEN_HASH_LEN];
    int e = kv_auth_token_new(out, hash);
    if (e == KV_OK)
        e = kv_store_token_add(s, hash, role, party ? party : office, label, detail);
    if (e != KV_OK) {
        fprintf(stderr, "kervan corridor up: cannot record a %s token for %s: %s\n", role, cc,
                detail[0] ? detail : kv_strerror(e));
        return -1;
    }
    return 0;
}

/* The data folder, key pair and tokens of node n; its entry in trust t. */
static int make_node(struct node *n, const struct kv_ref *ref, struct kv_trust *t,
                     const struct kv_time *from)
{
    char detail[512] = "";
    struct kv_keypair kp;
    int rc = -1;
    struct kv_store *s = NULL;
    if (mkdir(n->data, 0700) != 0) {
        fprintf(stderr, "kervan corridor up: cannot create %s: %s\n", n->data, strerror(errno));
        return -1;
    }
    int e = kv_crypto_keypair_new(&kp);
    if (e == KV_OK)
        e = kv_crypto_keys_save(n->data, &kp, false, detail, sizeof detail);
    if (e != KV_OK) {
        fprintf(stderr, "kervan corridor up: %s keys: %s\n", n->cc,
                detail[0] ? detail : kv_crypto_strerror(e));
        goto out;
    }
    struct kv_trust_key k;
    if (kv_trust_key_make(&k, kp.pk, from, NULL) != KV_OK ||
        kv_trust_add_node(t, n->cc, n->url) != KV_OK || kv_trust_add_key(t, n->cc, &k) != KV_OK) {
        fprintf(stderr, "kervan corridor up: cannot add %s to the trust list\n", n->cc);
        goto out;
    }
    struct kv_store_config sc = {.backend = "sqlite", .path = n->data, .country = n->cc};
    char sdetail[KV_STORE_DETAIL_MAX] = "";
    e = kv_store_open(&sc, &s, sdetail);
    if (e != KV_OK) {
        fprintf(stderr, "kervan corridor up: cannot create the store in %s: %s\n", n->data,
                sdetail[0] ? sdetail : kv_strerror(e));
        goto out;
    }
    if (make_token(s, ref, n->cc, "operator", NULL, NULL, n->operator_token) != 0 ||
        make_token(s, ref, n->cc, "analyst", NULL, NULL, n->analyst) != 0 ||
        make_token(s, ref, n->cc, "guarantor", CORRIDOR_GUARANTOR_PARTY, NULL, n->guarantor) != 0 ||
        make_token(s, ref, n->cc, "trader", CORRIDOR_TRADER_PARTY, NULL, n->trader) != 0)
        goto out;
    for (size_t i = 0; i < kv_ref_office_count(ref); i++) {
        const struct kv_office *o = kv_ref_office_at(ref, i);
        if (memcmp(o->country, n->cc, 2) != 0)
            continue;
        if (n->n_officers == CORRIDOR_OFFICERS_MAX) {
            fprintf(stderr,
                    "kervan corridor up: %s has more than %d offices; officers of the "
                    "rest get no token\n",
                    n->cc, CORRIDOR_OFFICERS_MAX);
            break;
        }
        struct officer *of = &n->officers[n->n_officers];
        memcpy(of->office, o->ref, 9);
        if (make_token(s, ref, n->cc, "officer", NULL, o->ref, of->token) != 0)
            goto out;
        n->n_officers++;
    }
    rc = 0;
out:
    kv_store_close(s);
    kv_crypto_keypair_clear(&kp);
    return rc;
}

/* A new corridor: every node's folder, DIR/trust.json; c->nodes[].cc set. */
static int corridor_create(struct corridor *c, const struct kv_ref *ref)
{
    int rc = -1;
    struct kv_trust *t = malloc(sizeof *t);
    char *json = NULL;
    size_t len = 0;
    struct kv_time from;
    const char *why = NULL;
    if (!t)
        return -1;
    kv_trust_init(t);
    if (kv_time_parse(CORRIDOR_KEYS_FROM, strlen(CORRIDOR_KEYS_FROM), &from, &why) != KV_OK)
        goto out;
    for (size_t i = 0; i < c->n; i++)
        if (make_node(&c->nodes[i], ref, t, &from) != 0)
            goto out;
    if (kv_trust_to_json(t, &json, &len) != KV_OK) {
        fprintf(stderr, "kervan corridor up: out of memory\n");
        goto out;
    }
    if (write_file(c->trust, json, len, 0644) != 0)
        goto out;
    rc = 0;
out:
    free(json);
    free(t);
    return rc;
}

/* ---------------------------------------------------------------------------
 * up: starting and watching the nodes
 */

/* Starts `kervan serve` for n, detached in its own session. */
static int start_node(const char *kervan, const struct corridor *c, struct node *n)
{
    char listen[32], pidfile[PATH_MAX + 16];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", n->port);
    char *argv[] = {(char *)"kervan",
                    (char *)"serve",
                    (char *)"--country",
                    n->cc,
                    (char *)"--data",
                    n->data,
                    (char *)"--listen",
                    listen,
                    (char *)"--trust",
                    (char *)c->trust,
                    NULL};
    int logfd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (logfd < 0) {
        fprintf(stderr, "kervan corridor up: cannot open %s: %s\n", n->log, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "kervan corridor up: fork: %s\n", strerror(errno));
        close(logfd);
        return -1;
    }
    if (pid == 0) {
        /* the child: its own session (no terminal signals), output to the log */
        setsid();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execv(kervan, argv);
        dprintf(2, "kervan corridor: cannot run %s: %s\n", kervan, strerror(errno));
        _exit(127);
    }
    close(logfd);
    n->pid = pid;
    if (snprintf(pidfile, sizeof pidfile, "%s/node.pid", n->data) < (int)sizeof pidfile) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%ld\n", n->pid);
        (void)write_file(pidfile, buf, (size_t)len, 0644);
    }
    return 0;
}

/* True when n answers GET /healthz with 200 and its own country. */
static bool healthy(const struct node *n, long timeout_ms)
{
    struct kv_client_options o = {
        .node = n->url, .token = "", .connect_timeout_ms = timeout_ms, .timeout_ms = timeout_ms};
    struct kv_client *cl = NULL;
    struct kv_client_resp r = {0};
    char err[256];
    bool ok = false;
    if (kv_client_new(&o, &cl, err, sizeof err) != KV_OK)
        return false;
    if (kv_client_get(cl, "/healthz", &r) == KV_OK && r.status == 200) {
        struct json_object *j = json_tokener_parse(r.body);
        struct json_object *v = NULL;
        ok = j && json_object_object_get_ex(j, "country", &v) &&
             json_object_is_type(v, json_type_string) &&
             strcmp(json_object_get_string(v), n->cc) == 0;
        json_object_put(j);
    }
    kv_client_resp_release(&r);
    kv_client_free(cl);
    return ok;
}

/* Prints the last `lines` lines of a node's log to stderr. */
static void log_tail(const struct node *n, int lines)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(n->log, "rb");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        long from = size > 8192 ? size - 8192 : 0;
        if (size >= 0 && fseek(f, from, SEEK_SET) == 0 && (buf = malloc(8193))) {
            len = fread(buf, 1, 8192, f);
            buf[len] = '\0';
        }
    }
    fclose(f);
    if (!buf)
        return;
    size_t start = len;
    for (int seen = 0; start > 0; start--)
        if (buf[start - 1] == '\n' && start != len && ++seen == lines)
            break;
    fprintf(stderr, "--- %s (last lines):\n%s%s", n->log, buf + start,
            len && buf[len - 1] != '\n' ? "\n" : "");
    free(buf);
}

/* Stops the nodes this process started (its children): SIGTERM, then SIGKILL. */
static void stop_children(struct corridor *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->nodes[i].pid > 0)
            kill((pid_t)c->nodes[i].pid, SIGTERM);
    int64_t deadline = now_ms() + CORRIDOR_STOP_MS;
    for (;;) {
        bool left = false;
        for (size_t i = 0; i < c->n; i++) {
            struct node *n = &c->nodes[i];
            if (n->pid <= 0)
                continue;
            if (waitpid((pid_t)n->pid, NULL, WNOHANG) == (pid_t)n->pid || errno == ECHILD)
                n->pid = 0;
            else
                left = true;
        }
        if (!left)
            return;
        if (now_ms() >= deadline)
            break;
        sleep_ms(50);
    }
    for (size_t i = 0; i < c->n; i++) {
        if (c->nodes[i].pid > 0) {
            kill((pid_t)c->nodes[i].pid, SIGKILL);
            waitpid((pid_t)c->nodes[i].pid, NULL, 0);
            c->nodes[i].pid = 0;
        }
    }
}

/* Waits until every node is healthy. Returns 0, or -1 after saying which are not. */
static int wait_healthy(struct corridor *c)
{
    int64_t deadline = now_ms() + CORRIDOR_START_MS;
    for (;;) {
        size_t up = 0;
        for (size_t i = 0; i < c->n; i++) {
            struct node *n = &c->nodes[i];
            if (!n->healthy) {
                int st = 0;
                if (waitpid((pid_t)n->pid, &st, WNOHANG) == (pid_t)n->pid) {
                    fprintf(stderr, "kervan corridor up: the %s node exited at start (%s %d)\n",
                            n->cc, WIFEXITED(st) ? "status" : "signal",
                            WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                    n->pid = 0;
                    log_tail(n, 20);
                    return -1;
                }
                n->healthy = healthy(n, 500);
            }
            up += n->healthy;
        }
        if (up == c->n)
            return 0;
        if (now_ms() >= deadline)
            break;
        sleep_ms(50);
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!c->nodes[i].healthy) {
            fprintf(stderr,
                    "kervan corridor up: the %s node did not answer %s/healthz within %d s\n",
                    c->nodes[i].cc, c->nodes[i].url, CORRIDOR_START_MS / 1000);
            log_tail(&c->nodes[i], 20);
        }
    }
    return -1;
}

/* The program to start as `kervan serve`: --kervan, else this very binary. */
static int self_path(const char *given, char *out, size_t size)
{
    if (given) {
        if (access(given, X_OK) != 0) {
            fprintf(stderr, "kervan corridor up: --kervan %s: %s\n", given, strerror(errno));
            return -1;
        }
        if (!realpath(given, out)) {
            fprintf(stderr, "kervan corridor up: --kervan %s: %s\n", given, strerror(errno));
            return -1;
        }
        return 0;
    }
    ssize_t n = readlink("/proc/self/exe", out, size - 1);
    if (n <= 0 || (size_t)n >= size - 1) {
        fprintf(stderr, "kervan corridor up: cannot find this program (give --kervan PATH)\n");
        return -1;
    }
    out[n] = '\0';
    return 0;
}

static int cmd_up(const char *dir, const char *countries, const char *base_port,
                  const char *kervan_arg)
{
    int rc = 2;
    struct corridor *c = calloc(1, sizeof *c), *want = NULL;
    struct kv_ref *ref = NULL;
    char kervan[PATH_MAX];
    unsigned base = CORRIDOR_DEFAULT_PORT;
    if (!c) {
        fprintf(stderr, "kervan corridor up: out of memory\n");
        return 2;
    }
    if (base_port) {
        char *end = NULL;
        errno = 0;
        long p = strtol(base_port, &end, 10);
        if (errno || end == base_port || *end || p < 1 || p > 65535) {
            fprintf(stderr, "kervan corridor up: --base-port: '%s' is not a port (1..65535)\n",
                    base_port);
            goto out;
        }
        base = (unsigned)p;
    }
    if (kv_ref_open(&ref) != KV_OK) {
        fprintf(stderr, "kervan corridor up: cannot load the reference data\n");
        goto out;
    }
    /* the countries asked for, checked before anything is made */
    if (countries &&
        ((want = calloc(1, sizeof *want)) == NULL || parse_countries(want, countries, ref) != 0))
        goto out;
    if (want && base + want->n - 1 > 65535) {
        fprintf(stderr, "kervan corridor up: --base-port %u leaves no port for the country %zu\n",
                base, want->n);
        goto out;
    }
    if (self_path(kervan_arg, kervan, sizeof kervan) != 0 || corridor_dir(c, dir, true) != 0)
        goto out;

    int have = corridor_load(c);
    if (have == 2)
        goto out;
    bool fresh = have == 1;
    if (fresh) {
        if (!want) {
            fprintf(stderr, "kervan corridor up: --countries is required (no corridor in %s yet)\n",
                    c->dir);
            goto out;
        }
        c->n = want->n;
        for (size_t i = 0; i < c->n; i++)
            memcpy(c->nodes[i].cc, want->nodes[i].cc, 3);
        c->base_port = base;
        if (file_exists(c->trust)) {
            fprintf(stderr,
                    "kervan corridor up: %s exists but %s does not: not a corridor this "
                    "command made; remove it or use another --dir\n",
                    c->trust, c->file);
            goto out;
        }
        for (size_t i = 0; i < c->n; i++) {
            struct node *n = &c->nodes[i];
            n->port = base + (unsigned)i;
            snprintf(n->url, sizeof n->url, "http://127.0.0.1:%u", n->port);
            if (path_join(n->data, sizeof n->data, c->dir, n->cc) != 0 ||
                path_join(n->log, sizeof n->log, n->data, "node.log") != 0)
                goto out;
            if (file_exists(n->data)) {
                fprintf(stderr,
                        "kervan corridor up: %s exists but %s does not: not a corridor this "
                        "command made; remove it or use another --dir\n",
                        n->data, c->file);
                goto out;
            }
        }
    } else {
        /* a corridor made before: start it again, as it was */
        if (want) {
            bool same = want->n == c->n;
            for (size_t i = 0; same && i < c->n; i++)
                same = strcmp(want->nodes[i].cc, c->nodes[i].cc) == 0;
            if (!same) {
                fprintf(stderr,
                        "kervan corridor up: %s holds a corridor of other countries; use "
                        "another --dir\n",
                        c->dir);
                goto out;
            }
        }
        if (base_port && base != c->base_port) {
            fprintf(stderr,
                    "kervan corridor up: the corridor in %s listens from port %u (its trust "
                    "list says so); use another --dir for port %u\n",
                    c->dir, c->base_port, base);
            goto out;
        }
        bool running = false;
        for (size_t i = 0; i < c->n; i++) {
            long pid = node_running(&c->nodes[i]);
            if (pid != 0) {
                fprintf(stderr, "kervan corridor up: the %s node of %s is running (pid %ld)\n",
                        c->nodes[i].cc, c->dir, pid);
                running = true;
            }
            c->nodes[i].pid = 0;
        }
        if (running) {
            fprintf(stderr,
                    "kervan corridor up: a corridor is running in %s; stop it first: kervan "
                    "corridor down --dir %s\n",
                    c->dir, c->dir);
            goto out;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!port_free(c->nodes[i].port)) {
            fprintf(stderr,
                    "kervan corridor up: port %u (for %s) on 127.0.0.1 is in use; choose "
                    "another --base-port\n",
                    c->nodes[i].port, c->nodes[i].cc);
            goto out;
        }
    }
    if (fresh && (corridor_create(c, ref) != 0 || corridor_save(c) != 0))
        goto out;

    for (size_t i = 0; i < c->n; i++) {
        if (start_node(kervan, c, &c->nodes[i]) != 0) {
            stop_children(c);
            goto out;
        }
    }
    if (wait_healthy(c) != 0) {
        stop_children(c);
        (void)corridor_save(c); /* pids 0: stopped */
        fprintf(stderr, "kervan corridor up: stopped the nodes again; %s stays for a retry\n",
                c->dir);
        rc = 1;
        goto out;
    }
    if (corridor_save(c) != 0) {
        stop_children(c);
        goto out;
    }
    printf("corridor of %zu node%s running in %s\n", c->n, c->n == 1 ? "" : "s", c->dir);
    for (size_t i = 0; i < c->n; i++)
        printf("  %s  %s  pid %ld  log %s\n", c->nodes[i].cc, c->nodes[i].url, c->nodes[i].pid,
               c->nodes[i].log);
    printf("trust list %s\ntokens     %s\nstop with  kervan corridor down --dir %s\n", c->trust,
           c->file, c->dir);
    rc = 0;
out:
    kv_ref_close(ref);
    sodium_memzero(c, sizeof *c);
    free(c);
    free(want);
    kv_client_global_cleanup();
    return rc;
}

/* ---------------------------------------------------------------------------
 * down
 */

/*
 * The corridor already described in dir, for `kervan corridor SUB`: NULL
 * (exit 2) when memory runs out, or after a message when there is none or it
 * cannot be read. The caller wipes it (sodium_memzero) and frees it.
 */
static struct corridor *corridor_existing(const char *dir, const char *sub)
{
    struct corridor *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int have = corridor_dir(c, dir, false) != 0 ? 2 : corridor_load(c);
    if (have == 1)
        fprintf(stderr, "kervan corridor %s: no corridor in %s (no corridor.json)\n", sub, c->dir);
    if (have != 0) {
        sodium_memzero(c, sizeof *c);
        free(c);
        return NULL;
    }
    return c;
}

static int cmd_down(const char *dir)
{
    int rc = 2;
    long pids[CORRIDOR_NODES_MAX] = {0};
    struct corridor *c = corridor_existing(dir, "down");
    if (!c)
        return 2;
    int64_t t0 = now_ms();
    for (size_t i = 0; i < c->n; i++) {
        struct node *n = &c->nodes[i];
        long pid = node_running(n);
        if (pid == 0) {
            printf("%s: not running\n", n->cc);
            continue;
        }
        if (pid < 0 || !is_serve_of(pid, n->data)) {
            printf("%s: pid %ld holds %s but is not a kervan serve of it: left alone\n", n->cc, pid,
                   n->data);
            continue;
        }
        if (kill((pid_t)pid, SIGTERM) != 0) {
            printf("%s: pid %ld: cannot signal: %s\n", n->cc, pid, strerror(errno));
            continue;
        }
        pids[i] = pid;
    }
    int64_t deadline = t0 + CORRIDOR_STOP_MS;
    bool killed = false;
    for (;;) {
        bool left = false;
        for (size_t i = 0; i < c->n; i++) {
            if (pids[i] <= 0)
                continue;
            if (!process_alive(pids[i])) {
                printf("%s: stopped (pid %ld, %.1f s after SIGTERM)\n", c->nodes[i].cc, pids[i],
                       (double)(now_ms() - t0) / 1000.0);
                pids[i] = 0;
            } else {
                left = true;
            }
        }
        if (!left)
            break;
        if (now_ms() >= deadline) {
            if (killed)
                break;
            for (size_t i = 0; i < c->n; i++) {
                if (pids[i] > 0 && is_serve_of(pids[i], c->nodes[i].data)) {
                    printf("%s: pid %ld still running %d s after SIGTERM: SIGKILL\n",
                           c->nodes[i].cc, pids[i], CORRIDOR_STOP_MS / 1000);
                    kill((pid_t)pids[i], SIGKILL);
                }
            }
            killed = true;
            deadline = now_ms() + 2000;
        }
        sleep_ms(50);
    }
    rc = 0;
    for (size_t i = 0; i < c->n; i++) {
        char pidfile[PATH_MAX + 16];
        if (pids[i] > 0) {
            printf("%s: pid %ld could not be stopped\n", c->nodes[i].cc, pids[i]);
            rc = 1;
            continue;
        }
        c->nodes[i].pid = 0;
        if (snprintf(pidfile, sizeof pidfile, "%s/node.pid", c->nodes[i].data) <
            (int)sizeof pidfile)
            unlink(pidfile);
    }
    if (corridor_save(c) != 0 && rc == 0)
        rc = 1;
    sodium_memzero(c, sizeof *c);
    free(c);
    return rc;
}

/* ---------------------------------------------------------------------------
 * status
 */

/* Sums the kervan_exchange_backlog series of a /metrics text into *total and
 * a JSON object {receiver: n}. Returns false when the metric is absent. */
static bool parse_backlog(const char *text, struct json_object *per, double *total)
{
    static const char name[] = "kervan_exchange_backlog";
    bool found = false;
    *total = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, "# TYPE kervan_exchange_backlog ", 31) == 0)
            found = true;
        if (strncmp(p, name, sizeof name - 1) != 0 || p[sizeof name - 1] != '{')
            continue;
        found = true;
        const char *r = strstr(p, "receiver=\"");
        const char *eol = strchr(p, '\n');
        const char *sp = strchr(p, '}');
        if (!r || !sp || (eol && (r > eol || sp > eol)))
            continue;
        r += 10;
        const char *q = strchr(r, '"');
        if (!q || q > sp || q - r > 8)
            continue;
        char recv[9];
        memcpy(recv, r, (size_t)(q - r));
        recv[q - r] = '\0';
        char *end = NULL;
        double v = strtod(sp + 1, &end);
        if (end == sp + 1)
            continue;
        *total += v;
        json_object_object_add(per, recv, json_object_new_int64((int64_t)v));
    }
    return found;
}

static int cmd_status(const char *dir, int json)
{
    int rc = 2;
    struct json_object *out = NULL, *arr = NULL;
    struct corridor *c = corridor_existing(dir, "status");
    if (!c)
        return 2;
    out = json_object_new_object();
    arr = json_object_new_array();
    put_str(out, "dir", c->dir);
    json_object_object_add(out, "nodes", arr);
    rc = 0;
    if (!json)
        printf("corridor in %s\n", c->dir);
    for (size_t i = 0; i < c->n; i++) {
        struct node *n = &c->nodes[i];
        long pid = node_running(n);
        bool ok = healthy(n, 2000);
        struct json_object *per = json_object_new_object();
        double total = 0;
        bool exch = false;
        if (ok) {
            struct kv_client_options o = {.node = n->url, .token = "", .timeout_ms = 5000};
            struct kv_client *cl = NULL;
            struct kv_client_resp r = {0};
            char err[256];
            if (kv_client_new(&o, &cl, err, sizeof err) == KV_OK &&
                kv_client_get(cl, "/metrics", &r) == KV_OK && r.status == 200)
                exch = parse_backlog(r.body, per, &total);
            kv_client_resp_release(&r);
            kv_client_free(cl);
        }
        if (!ok)
            rc = 1;
        struct json_object *o = json_object_new_object();
        put_str(o, "country", n->cc);
        put_str(o, "url", n->url);
        json_object_object_add(o, "pid", json_object_new_int64(pid > 0 ? pid : 0));
        json_object_object_add(o, "running", json_object_new_boolean(pid != 0));
        json_object_object_add(o, "healthy", json_object_new_boolean(ok));
        if (exch) {
            json_object_object_add(o, "backlog", per);
            json_object_object_add(o, "backlog_total", json_object_new_int64((int64_t)total));
        } else {
            json_object_put(per);
            json_object_object_add(o, "backlog", NULL);
            json_object_object_add(o, "backlog_total", NULL);
        }
        if (!json) {
            char proc[32];
            if (pid > 0)
                snprintf(proc, sizeof proc, "pid %ld", pid);
            else
                snprintf(proc, sizeof proc, "%s", pid < 0 ? "running" : "stopped");
            printf("  %s  %s  %-12s %s", n->cc, n->url, proc, ok ? "healthy" : "not answering");
            if (exch) {
                printf("  backlog %lld", (long long)total);
                struct json_object *b = NULL;
                json_object_object_get_ex(o, "backlog", &b);
                bool first = true;
                json_object_object_foreach(b, recv, v)
                {
                    printf("%s%s %lld", first ? " (" : ", ", recv,
                           (long long)json_object_get_int64(v));
                    first = false;
                }
                if (!first)
                    printf(")");
            } else if (ok) {
                printf("  backlog -");
            }
            printf("\n");
        }
        json_object_array_add(arr, o);
    }
    if (json)
        printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
    sodium_memzero(c, sizeof *c);
    free(c);
    kv_client_global_cleanup();
    return rc;
}

int kv_cmd_corridor(int argc, char **argv)
{
    if (argc < 2 || kv_cli_wants_help(argc, argv)) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *dir = NULL, *countries = NULL, *base_port = NULL, *kervan = NULL;
    int json = 0;
    struct kv_cli_opt opts[] = {{"--dir", &dir, NULL},
                                {"--countries", &countries, NULL},
                                {"--base-port", &base_port, NULL},
                                {"--kervan", &kervan, NULL},
                                {"--json", NULL, &json}};
    static const char *const subs[] = {"up", "down", "status"};
    /* which options each subcommand takes (bits over opts[]) */
    static const unsigned allowed[] = {0x0f, 0x01, 0x11};
    char cmd[32];
    int s = kv_cli_parse_sub("kervan corridor", argc, argv, subs, 3, allowed, opts,
                             sizeof opts / sizeof opts[0], cmd, sizeof cmd);
    if (s < 0)
        return 2;
    if (!dir) {
        fprintf(stderr, "%s: --dir DIR is required\n", cmd);
        return 2;
    }
    switch (s) {
    case 0:
        return cmd_up(dir, countries, base_port, kervan);
    case 1:
        return cmd_down(dir);
    default:
        return cmd_status(dir, json);
    }
}
