/*
 * opts.c — the option parser shared by subcommands (see cli.h).
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
