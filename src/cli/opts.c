/*
 * opts.c — the option parser shared by subcommands, and the subcommand
 * picker of the commands that have them (see cli.h).
 */
#include "cli/cli.h"

#include <string.h>

int kv_cli_parse_opts(const char *cmd, int argc, char **argv, int first,
                      const struct kv_cli_opt *opts, size_t n)
{
    for (int i = first; i < argc; i++) {
        size_t k = 0;
        for (; k < n; k++) {
            size_t fl = strlen(opts[k].flag);
            if (strcmp(argv[i], opts[k].flag) == 0) {
                if (opts[k].on) {
                    *opts[k].on = 1;
                } else {
                    if (i + 1 >= argc) {
                        fprintf(stderr, "%s: %s needs a value\n", cmd, opts[k].flag);
                        return 2;
                    }
                    *opts[k].value = argv[++i];
                }
                break;
            }
            if (opts[k].value && strncmp(argv[i], opts[k].flag, fl) == 0 && argv[i][fl] == '=') {
                *opts[k].value = argv[i] + fl + 1;
                break;
            }
        }
        if (k == n) {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", cmd, argv[i]);
            return 2;
        }
    }
    return 0;
}

int kv_cli_parse_sub(const char *tool, int argc, char **argv, const char *const *subs,
                     size_t n_subs, const unsigned *allowed, const struct kv_cli_opt *opts,
                     size_t n_opts, char *cmd, size_t cmdsz)
{
    size_t s = 0;
    for (; s < n_subs && strcmp(argv[1], subs[s]) != 0; s++)
        ;
    if (s == n_subs) {
        fprintf(stderr, "%s: unknown subcommand '%s' (", tool, argv[1]);
        for (size_t i = 0; i < n_subs; i++)
            fprintf(stderr, "%s%s", i ? ", " : "", subs[i]);
        fputs(")\n", stderr);
        return -1;
    }
    snprintf(cmd, cmdsz, "%s %s", tool, subs[s]);
    if (kv_cli_parse_opts(cmd, argc, argv, 2, opts, n_opts) != 0)
        return -1;
    for (size_t i = 0; i < n_opts; i++) {
        int given = opts[i].value ? *opts[i].value != NULL : *opts[i].on != 0;
        if (given && !(allowed[s] & (1u << i))) {
            fprintf(stderr, "%s: %s does not apply here (see --help)\n", cmd, opts[i].flag);
            return -1;
        }
    }
    return (int)s;
}
