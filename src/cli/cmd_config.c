/*
 * cmd_config.c — `kervan config dump`: the configuration `kervan serve`
 * would run with, given the same --config FILE and flags, with where each
 * value came from. It validates everything serve validates, so it doubles
 * as a check of a config file (exit 2 with the key and line on error).
 */
#include "cli/cli.h"
#include "cli/config.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan config dump [--config FILE] [settings...]\n\n"
                 "Prints the effective configuration as a config file, each value followed by\n"
                 "its origin (default, FILE:LINE or flag). Exit 0, or 2 with the offending key\n"
                 "and line when the file or a flag is invalid.\n\n"
                 "settings:\n");
    kv_config_usage(out);
}

int kv_cmd_config(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "dump") != 0) {
        fprintf(stderr, "kervan config: expected 'dump'\n");
        usage(stderr);
        return 2;
    }
    struct kv_config cfg;
    char err[PATH_MAX + 256];
    if (kv_config_load(&cfg, argc - 1, argv + 1, err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "kervan config: %s\n", err);
        return 2;
    }
    kv_config_dump(&cfg, stdout);
    return 0;
}
