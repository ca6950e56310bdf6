/*
 * cli.h — the kervan program's subcommands.
 *
 * main.c holds the dispatch table; each subcommand lives in its own file
 * (cmd_NAME.c) and has the signature of kv_cmd_fn. A subcommand gets argv
 * with argv[0] set to its own name, prints its own --help, and returns the
 * process exit status: 0 success, 1 "the input was checked and is invalid",
 * 2 usage error or failure to run.
 */
#ifndef KV_CLI_H
#define KV_CLI_H

#include <stdio.h>

typedef int kv_cmd_fn(int argc, char **argv);

kv_cmd_fn kv_cmd_mrn;      /* cmd_mrn.c:      mrn verify | new */
kv_cmd_fn kv_cmd_validate; /* cmd_validate.c: validate declarations */
kv_cmd_fn kv_cmd_codes;    /* cmd_ref.c:      code lists */
kv_cmd_fn kv_cmd_offices;  /* cmd_ref.c:      the office registry */
kv_cmd_fn kv_cmd_serve;    /* cmd_serve.c:    run this country's node */
kv_cmd_fn kv_cmd_config;   /* cmd_config.c:   config dump */
kv_cmd_fn kv_cmd_token;    /* cmd_token.c:    token add */
kv_cmd_fn kv_cmd_ncts;     /* cmd_ncts.c:     NCTS P5 XML: validate, import, export */
kv_cmd_fn kv_cmd_ncts_export; /* cmd_ncts_export.c: ncts export MRN --as MESSAGE (from a node) */

/* True when argv[1..] contains -h or --help (before a "--"). */
int kv_cli_wants_help(int argc, char **argv);

/*
 * Reads a whole file (or standard input for "-") into a NUL-terminated
 * buffer of at most `max` bytes. Returns 0 and sets buf and len (caller frees
 * *buf), or -1 with a message "PATH: reason" printed to stderr.
 */
int kv_cli_read_file(const char *path, size_t max, char **buf, size_t *len);

#endif
