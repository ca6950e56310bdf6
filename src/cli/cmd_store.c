/*
 * cmd_store.c — `kervan store check --data DIR`: check a node's database.
 *
 * Opens the store in DIR (the node must be stopped: the store takes the
 * data directory's lock) and runs kv_store_check: SQLite's integrity check,
 * the foreign keys, and the store's own invariants (every movement's log
 * is 1..seq without gaps, guarantee ledgers add up, per-state counts
 * match, no LRN used twice). For operators after a crash or a restore, and
 * for the crash test.
 */
#include "cli/cli.h"

#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan store check --data DIR\n\n"
                 "Checks the node database in DIR (DIR/kervan.db): SQLite's integrity check,\n"
                 "foreign keys, and the store's invariants (event logs without gaps, guarantee\n"
                 "ledgers, per-state counts, LRNs). The node must not be running on DIR.\n"
                 "Prints \"DIR: ok\" or the first problem found.\n\n"
                 "exit status: 0 the database is sound, 1 a problem was found, 2 the check\n"
                 "could not run (no database, in use, unreadable)\n");
}

/* SQLite's integrity report has a line per problem: one line here. */
static void one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static int check(const char *dir)
{
    char db[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(db, sizeof(db), "%s/kervan.db", dir) >= sizeof(db)) {
        fprintf(stderr, "kervan store check: path too long\n");
        return 2;
    }
    if (stat(db, &st) != 0) {
        fprintf(stderr, "kervan store check: no database at %s: %s\n", db, strerror(errno));
        return 2;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "kervan store check: %s is not a file\n", db);
        return 2;
    }
    struct kv_store_config cfg = {.backend = "sqlite", .path = dir, .country = NULL, .readers = 1};
    struct kv_store *s = NULL;
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_open(&cfg, &s, detail);
    if (rc == KV_EBUSY) {
        fprintf(stderr, "kervan store check: %s (stop the node first)\n", detail);
        return 2;
    }
    if (rc == KV_ECORRUPT) {
        one_line(detail);
        printf("%s: corrupt: %s\n", dir, detail);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "kervan store check: cannot open %s: %s\n", dir,
                detail[0] ? detail : kv_store_strerror(rc));
        return 2;
    }
    detail[0] = '\0';
    rc = kv_store_check(s, detail);
    kv_store_close(s);
    if (rc == 0) {
        printf("%s: ok\n", dir);
        return 0;
    }
    if (rc == KV_ECORRUPT) {
        one_line(detail);
        printf("%s: corrupt: %s\n", dir, detail);
        return 1;
    }
    fprintf(stderr, "kervan store check: %s: %s\n", dir,
            detail[0] ? detail : kv_store_strerror(rc));
    return 2;
}

int kv_cmd_store(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        usage(stderr);
        return 2;
    }
    const char *dir = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            dir = argv[i] + 7;
        } else {
            fprintf(stderr, "kervan store check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !*dir) {
        fprintf(stderr, "kervan store check: --data DIR is required\n");
        return 2;
    }
    return check(dir);
}
