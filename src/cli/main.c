/*
 * main.c — the kervan program: one binary, subcommands in a table.
 *
 * `kervan CMD ARGS...` runs CMD; `kervan --help` lists the commands;
 * `kervan --version` prints the version. Each subcommand is a function in
 * its own cmd_*.c file (see cli.h).
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
    const char *name;
    kv_cmd_fn *fn;
    const char *summary;
};

static const struct command commands[] = {
    {"mrn", kv_cmd_mrn, "verify or allocate Movement Reference Numbers"},
    {"validate", kv_cmd_validate, "validate transit declarations (kervan JSON)"},
    {"ncts", kv_cmd_ncts, "NCTS Phase 5 XML: validate, import CC015C, export CC015C"},
    {"codes", kv_cmd_codes, "look up the code lists (countries, HS 2022, ...)"},
    {"offices", kv_cmd_offices, "list the corridor's customs offices"},
    {"serve", kv_cmd_serve, "run this country's node (HTTP API)"},
    {"config", kv_cmd_config, "show the node's effective configuration"},
    {"token", kv_cmd_token, "make an access token in a stopped node's data folder"},
    {"store", kv_cmd_store, "check a node's database (store check --data DIR)"},
    {"declare", kv_cmd_declare, "lodge a declaration at a node"},
    {"show", kv_cmd_show, "show a movement: state, offices, guarantee, event log"},
    {"list", kv_cmd_list, "list movements (by state, office, holder, overdue...)"},
    {"event", kv_cmd_event, "record an event of a movement (release, arrival, ...)"},
    {"guarantee", kv_cmd_guarantee, "register or show a guarantee"},
    {"keys", kv_cmd_keys, "make or show the node's signing key pair"},
    {"trust", kv_cmd_trust, "edit or inspect a trust list (nodes, URLs, public keys)"},
    {"audit", kv_cmd_audit, "verify a movement's signed event chain offline"},
    {"corridor", kv_cmd_corridor, "start, stop or check a local corridor (one node per country)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan [--version] [--help] COMMAND [ARGS...]\n\n"
                 "kervan carries the Simplified Customs Corridor: transit declarations,\n"
                 "movements and their exchange between national customs nodes.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`kervan COMMAND --help` describes a command.\n");
}

int kv_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int kv_cli_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b)
        goto oom;
    for (;;) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap) {
            if (ferror(f)) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                goto fail;
            }
            break;
        }
        if (cap > max) {
            fprintf(stderr, "%s: larger than the limit of %zu bytes\n", path, max);
            goto fail;
        }
        size_t ncap = cap * 2;
        char *nb = realloc(b, ncap + 1);
        if (!nb)
            goto oom;
        b = nb;
        cap = ncap;
    }
    if (n > max) {
        fprintf(stderr, "%s: larger than the limit of %zu bytes\n", path, max);
        goto fail;
    }
    b[n] = '\0';
    if (f != stdin)
        fclose(f);
    *buf = b;
    *len = n;
    return 0;
oom:
    fprintf(stderr, "%s: out of memory\n", path);
fail:
    free(b);
    if (f != stdin)
        fclose(f);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("kervan %s\n", KV_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kervan: '%s' is not a command; see `kervan --help`\n", argv[1]);
    return 2;
}
