/*
 * config.h — the node's configuration: one table drives the file, the
 * flags, validation, the help text and `kervan config dump`.
 *
 * Sources, lowest precedence first: the built-in default, the config file
 * (--config FILE: `key = value` lines, blank lines and lines starting with
 * '#' ignored), then flags (--key VALUE or --key=VALUE; every key is also a
 * flag of the same name). Each value is checked for its type and range as
 * it is read; an error names the key and where it came from
 * ("kervan.conf:7: threads: '0' is out of range 1..256"). The origin of
 * every value is kept, so `kervan config dump` can say where each came from.
 *
 * Adding a setting: a field in struct kv_config and a row in the table in
 * config.c (docs/operations.md lists them; keep it in step).
 */
#ifndef KV_CLI_CONFIG_H
#define KV_CLI_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "net/http.h"
#include "net/log.h"

#define KV_CONFIG_FILE_MAX (64u * 1024u) /* bytes of a config file */
#define KV_CONFIG_LINE_MAX 1024          /* bytes of one line */
#define KV_CONFIG_KEYS_MAX 32

enum kv_config_origin { KV_ORIGIN_DEFAULT = 0, KV_ORIGIN_FILE, KV_ORIGIN_FLAG };

struct kv_config {
    /* the node */
    char country[3];       /* ISO 3166 alpha-2, required by serve */
    char data[PATH_MAX];   /* data directory, required by serve */
    unsigned overdue_days; /* transit days after release when no limit date is declared */
    unsigned max_items;    /* goods items per declaration */
    char ncts_xsd[PATH_MAX]; /* NCTS P5 XSD folder, "" = none (then $KERVAN_NCTS_XSD) */
    /* the exchange */
    char trust[PATH_MAX]; /* trust list file, "" = this node works alone */
    char keys[PATH_MAX];  /* folder whose keys/ holds the key pair, "" = DATA */
    unsigned exchange_retry_max; /* back-off cap, seconds */
    unsigned exchange_timeout;   /* one delivery request, seconds */
    /* HTTP */
    char listen[64];
    enum kv_http_threading threading;
    unsigned threads;
    unsigned max_connections;
    size_t max_body;
    size_t max_header;
    unsigned timeout;        /* idle connection timeout, seconds */
    unsigned shutdown_grace; /* seconds in-flight requests get at shutdown */
    /* logs */
    enum kv_log_level log_level;
    bool access_log;
    /* flags only */
    char port_file[PATH_MAX]; /* write the bound port here once listening */
    char config_file[PATH_MAX];

    /* where each table key's value came from (index = table row) */
    enum kv_config_origin origin[KV_CONFIG_KEYS_MAX];
    unsigned line[KV_CONFIG_KEYS_MAX]; /* file line, for KV_ORIGIN_FILE */
};

/* Sets every key to its default (origin "default"). */
void kv_config_defaults(struct kv_config *c);

/*
 * Defaults, then the file named by --config (if any), then the flags in
 * argv[1..argc-1]. Returns 0, or KV_EINVAL with one message in err naming
 * the key and the file and line, or the flag (the caller prints it and
 * exits 2). Positional arguments are errors.
 */
int kv_config_load(struct kv_config *c, int argc, char **argv, char *err, size_t errsz);

/*
 * Checks that the keys named in `keys` (NULL-terminated, e.g. {"country",
 * "data", NULL}) have a value. Returns 0 or KV_EINVAL with err set
 * ("country is required: give --country or set it in the config file").
 */
int kv_config_require(const struct kv_config *c, const char *const *keys, char *err, size_t errsz);

/*
 * Prints the effective configuration as a config file, every line followed
 * by its origin: `threads = 4  # flag`, `country = TR  # node.conf:3`,
 * `listen = 127.0.0.1:8080  # default`. Unset keys and flag-only keys are
 * printed as comments.
 */
void kv_config_dump(const struct kv_config *c, FILE *out);

/* Prints one line per flag: name, value kind, default, help. */
void kv_config_usage(FILE *out);

#endif
