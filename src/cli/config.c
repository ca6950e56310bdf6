/*
 * config.c — the configuration table and its readers (see config.h).
 *
 * Every setting is one row of `keys`: name (also the flag), kind, default
 * (as text, parsed by the same code as user input, so a bad default fails
 * the first test run), range, where it lives in struct kv_config, and help.
 */
#include "cli/config.h"

#include "core/err.h"
#include "net/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum kind { K_STRING, K_PATH, K_LISTEN, K_COUNTRY, K_UINT, K_SIZE, K_BOOL, K_LEVEL, K_THREADING };

#define FLAG_ONLY 1u /* not accepted in the file (per invocation) */

struct key {
    const char *name;
    enum kind kind;
    const char *def; /* NULL: unset */
    unsigned long long min, max;
    size_t offset, size;
    unsigned flags;
    const char *help;
};

#define KIB      1024ull
#define MIB      (1024ull * 1024ull)
#define F(field) offsetof(struct kv_config, field), sizeof(((struct kv_config *)0)->field)

static const struct key keys[] = {
    {"country", K_COUNTRY, NULL, 0, 0, F(country), 0,
     "this node's country, ISO 3166 alpha-2 (required by serve)"},
    {"data", K_PATH, NULL, 0, 0, F(data), 0,
     "data directory; created 0700 if missing (required by serve)"},
    {"listen", K_LISTEN, "127.0.0.1:8080", 0, 0, F(listen), 0,
     "address and port to listen on (IPv4:PORT or [IPv6]:PORT; port 0 picks one)"},
    {"threading", K_THREADING, "per-connection", 0, 0, F(threading), 0,
     "per-connection (a thread per client connection) or pool (`threads` epoll threads)"},
    {"threads", K_UINT, "2", 1, 256, F(threads), 0,
     "HTTP worker threads with threading = pool (a blocking handler holds one)"},
    {"max-connections", K_UINT, "256", 1, 100000, F(max_connections), 0,
     "open client connections; more are refused"},
    {"max-body", K_SIZE, "4MiB", 1 * KIB, 64 * MIB, F(max_body), 0,
     "largest request body (bytes, or with KiB/MiB); more gets 413"},
    {"max-header", K_SIZE, "32KiB", 4 * KIB, 1 * MIB, F(max_header), 0,
     "memory per connection for the request line and headers; more gets 431"},
    {"max-items", K_UINT, "1999", 1, 1999, F(max_items), 0,
     "goods items accepted per declaration (NCTS allows 1999)"},
    {"timeout", K_UINT, "30", 1, 3600, F(timeout), 0, "idle connection timeout, seconds"},
    {"shutdown-grace", K_UINT, "10", 0, 300, F(shutdown_grace), 0,
     "seconds in-flight requests get to finish at SIGTERM/SIGINT"},
    {"overdue-days", K_UINT, "8", 1, 365, F(overdue_days), 0,
     "transit days after release when the declaration gives no limit date"},
    {"ncts-xsd", K_PATH, NULL, 0, 0, F(ncts_xsd), 0,
     "folder of the NCTS P5 XSDs (ccNNNc.xsd); enables XML lodging (else $KERVAN_NCTS_XSD)"},
    {"trust", K_PATH, NULL, 0, 0, F(trust), 0,
     "trust list file (trust.json: the corridor's nodes, URLs and keys); enables the exchange"},
    {"keys", K_PATH, NULL, 0, 0, F(keys), 0,
     "folder whose keys/ holds this node's key pair (as `kervan keys new --data`); default DATA"},
    {"exchange-retry-max", K_UINT, "60", 1, 3600, F(exchange_retry_max), 0,
     "longest wait, seconds, between two delivery attempts to a node that fails (back-off cap)"},
    {"exchange-timeout", K_UINT, "10", 1, 300, F(exchange_timeout), 0,
     "seconds one delivery request to another node may take, answer included"},
    {"log-level", K_LEVEL, "info", 0, 0, F(log_level), 0, "debug, info, warn or error"},
    {"access-log", K_BOOL, "on", 0, 0, F(access_log), 0, "one log line per request (on/off)"},
    {"port-file", K_PATH, NULL, 0, 0, F(port_file), FLAG_ONLY,
     "once listening, write the bound port to this file (atomically; flag only)"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(NKEYS <= KV_CONFIG_KEYS_MAX, "raise KV_CONFIG_KEYS_MAX");

static const char *const kind_names[] = {"TEXT", "PATH",   "ADDR:PORT", "CC",  "N",
                                         "SIZE", "on|off", "LEVEL",     "MODE"};

static const struct key *find_key(const char *name, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == n && strncmp(keys[i].name, name, n) == 0)
            return &keys[i];
    return NULL;
}

static void *field(struct kv_config *c, const struct key *k)
{
    return (char *)c + k->offset;
}

static const void *cfield(const struct kv_config *c, const struct key *k)
{
    return (const char *)c + k->offset;
}

static int parse_ull(const char *s, unsigned long long *out, const char **rest)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    *out = v;
    *rest = end;
    return 0;
}

/*
 * Parses `value` for key k into c. On error writes "KEY: reason" (without
 * location) into err and returns KV_EINVAL.
 */
static int set_value(struct kv_config *c, const struct key *k, const char *value, char *err,
                     size_t errsz)
{
    size_t n = strlen(value);
    switch (k->kind) {
    case K_STRING:
    case K_PATH:
        if (n == 0 || n >= k->size) {
            snprintf(err, errsz, "%s: %s", k->name,
                     n ? "the path is too long" : "an empty value is not allowed");
            return KV_EINVAL;
        }
        memcpy(field(c, k), value, n + 1);
        return KV_OK;
    case K_LISTEN:
        if (n >= k->size || !kv_http_listen_ok(value)) {
            snprintf(err, errsz,
                     "%s: '%.80s' is not a numeric address and port (e.g. 127.0.0.1:8080, "
                     "[::1]:8080)",
                     k->name, value);
            return KV_EINVAL;
        }
        memcpy(field(c, k), value, n + 1);
        return KV_OK;
    case K_COUNTRY:
        if (n != 2 || value[0] < 'A' || value[0] > 'Z' || value[1] < 'A' || value[1] > 'Z') {
            snprintf(err, errsz, "%s: '%.80s' is not a two-letter upper-case country code", k->name,
                     value);
            return KV_EINVAL;
        }
        memcpy(field(c, k), value, 3);
        return KV_OK;
    case K_UINT:
    case K_SIZE: {
        unsigned long long v, mult = 1;
        const char *rest;
        if (parse_ull(value, &v, &rest)) {
            snprintf(err, errsz, "%s: '%.80s' is not a %s", k->name, value,
                     k->kind == K_SIZE ? "size (e.g. 1048576, 512KiB, 4MiB)" : "whole number");
            return KV_EINVAL;
        }
        if (k->kind == K_SIZE && *rest) {
            if (strcmp(rest, "KiB") == 0 || strcmp(rest, "K") == 0 || strcmp(rest, "k") == 0)
                mult = KIB;
            else if (strcmp(rest, "MiB") == 0 || strcmp(rest, "M") == 0 || strcmp(rest, "m") == 0)
                mult = MIB;
            else
                rest = "?";
        }
        if (*rest && mult == 1) {
            snprintf(err, errsz, "%s: '%.80s' is not a %s", k->name, value,
                     k->kind == K_SIZE ? "size (e.g. 1048576, 512KiB, 4MiB)" : "whole number");
            return KV_EINVAL;
        }
        if (v > k->max / mult || v * mult < k->min || v * mult > k->max) {
            if (k->kind == K_SIZE)
                snprintf(err, errsz, "%s: '%.80s' is out of range %llu..%llu bytes", k->name, value,
                         k->min, k->max);
            else
                snprintf(err, errsz, "%s: '%.80s' is out of range %llu..%llu", k->name, value,
                         k->min, k->max);
            return KV_EINVAL;
        }
        if (k->kind == K_SIZE)
            *(size_t *)field(c, k) = (size_t)(v * mult);
        else
            *(unsigned *)field(c, k) = (unsigned)v;
        return KV_OK;
    }
    case K_BOOL: {
        static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false",
                                                                                    "no", "0"};
        for (size_t i = 0; i < 4; i++) {
            if (strcmp(value, yes[i]) == 0) {
                *(bool *)field(c, k) = true;
                return KV_OK;
            }
            if (strcmp(value, no[i]) == 0) {
                *(bool *)field(c, k) = false;
                return KV_OK;
            }
        }
        snprintf(err, errsz, "%s: '%.80s' is not on or off", k->name, value);
        return KV_EINVAL;
    }
    case K_LEVEL: {
        enum kv_log_level lv;
        if (kv_log_level_parse(value, &lv) != KV_OK) {
            snprintf(err, errsz, "%s: '%.80s' is not one of debug, info, warn, error", k->name,
                     value);
            return KV_EINVAL;
        }
        *(enum kv_log_level *)field(c, k) = lv;
        return KV_OK;
    }
    case K_THREADING: {
        static const enum kv_http_threading modes[] = {KV_HTTP_PER_CONNECTION, KV_HTTP_POOL};
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
            if (strcmp(value, kv_http_threading_name(modes[i])) == 0) {
                *(enum kv_http_threading *)field(c, k) = modes[i];
                return KV_OK;
            }
        }
        snprintf(err, errsz, "%s: '%.80s' is not per-connection or pool", k->name, value);
        return KV_EINVAL;
    }
    }
    return KV_EINVAL;
}

void kv_config_defaults(struct kv_config *c)
{
    memset(c, 0, sizeof(*c));
    char err[256];
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].def && set_value(c, &keys[i], keys[i].def, err, sizeof(err)) != KV_OK)
            abort(); /* a bad default in the table: a programming error, caught by any test */
}

static bool is_set(const struct kv_config *c, const struct key *k)
{
    if (k->kind == K_STRING || k->kind == K_PATH || k->kind == K_COUNTRY || k->kind == K_LISTEN)
        return ((const char *)cfield(c, k))[0] != '\0';
    return true;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int load_file(struct kv_config *c, const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return KV_EINVAL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    size_t total = 0;
    int rc = KV_OK;
    char why[512];
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        lineno++;
        total += n;
        if (total > KV_CONFIG_FILE_MAX) {
            snprintf(err, errsz, "%s: larger than %u bytes", path, KV_CONFIG_FILE_MAX);
            rc = KV_EINVAL;
            break;
        }
        if (n > KV_CONFIG_LINE_MAX) {
            snprintf(err, errsz, "%s:%u: line longer than %d bytes", path, lineno,
                     KV_CONFIG_LINE_MAX);
            rc = KV_EINVAL;
            break;
        }
        if (strlen(line) != n) {
            snprintf(err, errsz, "%s:%u: NUL byte in the line", path, lineno);
            rc = KV_EINVAL;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errsz, "%s:%u: expected 'key = value', got '%.80s'", path, lineno, s);
            rc = KV_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        const struct key *k = find_key(name, strlen(name));
        if (!k) {
            snprintf(err, errsz, "%s:%u: unknown key '%.80s' (see `kervan config --help`)", path,
                     lineno, name);
            rc = KV_EINVAL;
            break;
        }
        size_t idx = (size_t)(k - keys);
        if (k->flags & FLAG_ONLY) {
            snprintf(err, errsz, "%s:%u: %s: can only be given as a flag (--%s)", path, lineno,
                     k->name, k->name);
            rc = KV_EINVAL;
            break;
        }
        if (c->origin[idx] == KV_ORIGIN_FILE) {
            snprintf(err, errsz, "%s:%u: %s: already set on line %u", path, lineno, k->name,
                     c->line[idx]);
            rc = KV_EINVAL;
            break;
        }
        if (set_value(c, k, value, why, sizeof(why)) != KV_OK) {
            snprintf(err, errsz, "%s:%u: %s", path, lineno, why);
            rc = KV_EINVAL;
            break;
        }
        c->origin[idx] = KV_ORIGIN_FILE;
        c->line[idx] = lineno;
    }
    if (rc == KV_OK && ferror(f)) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        rc = KV_EINVAL;
    }
    free(line);
    fclose(f);
    return rc;
}

/* Splits argv[i] into flag name and value; advances *i past a separate value. */
static int next_flag(int argc, char **argv, int *i, const char **name, size_t *nlen,
                     const char **value, char *err, size_t errsz)
{
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
        snprintf(err, errsz, "unexpected argument '%.80s' (settings are --key VALUE)", a);
        return KV_EINVAL;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    *name = a;
    *nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (eq) {
        *value = eq + 1;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        snprintf(err, errsz, "--%.*s needs a value", (int)*nlen, a);
        return KV_EINVAL;
    }
    return KV_OK;
}

int kv_config_load(struct kv_config *c, int argc, char **argv, char *err, size_t errsz)
{
    kv_config_defaults(c);
    /* pass 1: the shape of the flags, and --config */
    for (int i = 1; i < argc; i++) {
        const char *name = NULL, *value = NULL;
        size_t nlen = 0;
        if (next_flag(argc, argv, &i, &name, &nlen, &value, err, errsz) != KV_OK)
            return KV_EINVAL;
        if (nlen == 6 && strncmp(name, "config", 6) == 0) {
            size_t vn = strlen(value);
            if (vn == 0 || vn >= sizeof(c->config_file)) {
                snprintf(err, errsz, "--config: %s", vn ? "the path is too long" : "empty path");
                return KV_EINVAL;
            }
            memcpy(c->config_file, value, vn + 1);
        } else if (!find_key(name, nlen)) {
            snprintf(err, errsz, "unknown option '--%.*s' (see --help)",
                     (int)(nlen > 80 ? 80 : nlen), name);
            return KV_EINVAL;
        }
    }
    if (c->config_file[0] && load_file(c, c->config_file, err, errsz) != KV_OK)
        return KV_EINVAL;
    /* pass 2: flags win over the file */
    for (int i = 1; i < argc; i++) {
        const char *name = NULL, *value = NULL;
        size_t nlen = 0;
        if (next_flag(argc, argv, &i, &name, &nlen, &value, err, errsz) != KV_OK)
            return KV_EINVAL; /* not reached: pass 1 checked the same flags */
        const struct key *k = find_key(name, nlen);
        if (!k)
            continue; /* --config */
        char why[512];
        if (set_value(c, k, value, why, sizeof(why)) != KV_OK) {
            snprintf(err, errsz, "--%s", why); /* "--threads: '0' is out of range 1..256" */
            return KV_EINVAL;
        }
        c->origin[k - keys] = KV_ORIGIN_FLAG;
        c->line[k - keys] = 0;
    }
    return KV_OK;
}

int kv_config_require(const struct kv_config *c, const char *const *names, char *err, size_t errsz)
{
    for (; *names; names++) {
        const struct key *k = find_key(*names, strlen(*names));
        if (k && !is_set(c, k)) {
            snprintf(err, errsz, "%s is required: give --%s or set it in the config file", k->name,
                     k->name);
            return KV_EINVAL;
        }
    }
    return KV_OK;
}

/* The value as it would be written in a config file. */
static void format_value(const struct kv_config *c, const struct key *k, char *buf, size_t bufsz)
{
    switch (k->kind) {
    case K_STRING:
    case K_PATH:
    case K_LISTEN:
    case K_COUNTRY:
        snprintf(buf, bufsz, "%s", (const char *)cfield(c, k));
        break;
    case K_UINT:
        snprintf(buf, bufsz, "%u", *(const unsigned *)cfield(c, k));
        break;
    case K_SIZE: {
        size_t v = *(const size_t *)cfield(c, k);
        if (v && v % MIB == 0)
            snprintf(buf, bufsz, "%zuMiB", v / (size_t)MIB);
        else if (v && v % KIB == 0)
            snprintf(buf, bufsz, "%zuKiB", v / (size_t)KIB);
        else
            snprintf(buf, bufsz, "%zu", v);
        break;
    }
    case K_BOOL:
        snprintf(buf, bufsz, "%s", *(const bool *)cfield(c, k) ? "on" : "off");
        break;
    case K_LEVEL:
        snprintf(buf, bufsz, "%s", kv_log_level_name(*(const enum kv_log_level *)cfield(c, k)));
        break;
    case K_THREADING:
        snprintf(buf, bufsz, "%s",
                 kv_http_threading_name(*(const enum kv_http_threading *)cfield(c, k)));
        break;
    }
}

void kv_config_dump(const struct kv_config *c, FILE *out)
{
    fprintf(out, "# kervan configuration in effect (origin: default, FILE:LINE or flag)\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        char value[PATH_MAX + 16], line[PATH_MAX * 2 + 64], origin[PATH_MAX + 32];
        if (c->origin[i] == KV_ORIGIN_FILE)
            snprintf(origin, sizeof(origin), "%s:%u", c->config_file, c->line[i]);
        else
            snprintf(origin, sizeof(origin), "%s",
                     c->origin[i] == KV_ORIGIN_FLAG ? "flag" : "default");
        if (!is_set(c, k)) {
            fprintf(out, "# %s is not set\n", k->name);
            continue;
        }
        format_value(c, k, value, sizeof(value));
        snprintf(line, sizeof(line), "%s%s = %s", k->flags & FLAG_ONLY ? "# " : "", k->name, value);
        fprintf(out, "%-40s # %s%s\n", line, origin, k->flags & FLAG_ONLY ? " (flag only)" : "");
    }
}

void kv_config_usage(FILE *out)
{
    fprintf(out,
            "  --config FILE                     read settings from FILE (key = value lines)\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", k->name, kind_names[k->kind]);
        fprintf(out, "  %-33s %s", flag, k->help);
        if (k->def)
            fprintf(out, " [%s]", k->def);
        fprintf(out, "\n");
    }
}
