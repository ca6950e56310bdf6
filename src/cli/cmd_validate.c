/*
 * cmd_validate.c — `kervan validate FILE...`: check transit declarations.
 *
 * Each file (or "-" for standard input) is decoded and validated with the
 * core; every problem is printed as `path: rule: message`, prefixed with the
 * file name when more than one file is given. Exit 0 when all files are
 * valid, 1 when any is invalid, 2 when a file cannot be read.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/validate.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: kervan validate [--quiet] FILE...\n\n"
            "Validates transit declarations in kervan's JSON form (docs/declaration.md)\n"
            "against the NCTS P5 data rules and the corridor's code lists. Prints every\n"
            "problem as `pointer: rule: message`. FILE may be - for standard input.\n\n"
            "  -q, --quiet   print only the verdict line per file\n\n"
            "exit status: 0 all valid, 1 some invalid, 2 a file could not be read\n");
}

int kv_cmd_validate(int argc, char **argv)
{
    int quiet = 0, nfiles = 0, worst = 0;
    struct kv_ref *ref = NULL;

    if (kv_cli_wants_help(argc, argv)) {
        help(stdout);
        return 0;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else {
            fprintf(stderr, "kervan validate: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    nfiles = argc - i;
    if (nfiles == 0) {
        help(stderr);
        return 2;
    }
    int rc = kv_ref_open(&ref);
    if (rc != KV_OK) {
        fprintf(stderr, "kervan validate: cannot load reference data: %s\n", kv_strerror(rc));
        return 2;
    }
    for (; i < argc; i++) {
        const char *path = argv[i];
        char *buf = NULL;
        size_t len = 0;
        if (kv_cli_read_file(path, KV_DECL_JSON_MAX, &buf, &len) != 0) {
            worst = 2;
            continue;
        }
        struct kv_report rep;
        kv_report_init(&rep);
        rc = kv_validate_json(buf, len, ref, &rep);
        free(buf);
        const char *prefix = nfiles > 1 ? path : NULL;
        if (!quiet) {
            for (size_t k = 0; k < rep.count; k++) {
                const struct kv_problem *p = &rep.items[k];
                printf("%s%s%s: %s: %s\n", prefix ? prefix : "", prefix ? ":" : "",
                       p->pointer[0] ? p->pointer : "/", p->rule, p->message);
            }
            if (rep.truncated)
                printf("%s%s(%zu more problems not shown)\n", prefix ? prefix : "",
                       prefix ? ": " : "", rep.total - rep.count);
        }
        if (rep.oom || rc == KV_ENOMEM) {
            fprintf(stderr, "%s: out of memory while validating\n", path);
            worst = 2;
        } else if (rc != KV_OK || !kv_report_ok(&rep)) {
            fprintf(stderr, "%s: invalid (%zu problem%s)\n", path, rep.total,
                    rep.total == 1 ? "" : "s");
            if (worst < 1)
                worst = 1;
        } else {
            fprintf(stderr, "%s: valid\n", path);
        }
        kv_report_release(&rep);
    }
    kv_ref_close(ref);
    return worst;
}
