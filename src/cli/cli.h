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
kv_cmd_fn kv_cmd_store;    /* cmd_store.c:    store check */
kv_cmd_fn kv_cmd_declare;  /* cmd_client.c:   lodge a declaration at a node */
kv_cmd_fn kv_cmd_show;     /* cmd_client.c:   show a movement */
kv_cmd_fn kv_cmd_list;     /* cmd_client.c:   list movements */
kv_cmd_fn kv_cmd_guarantee; /* cmd_client.c:  register or show a guarantee */
kv_cmd_fn kv_cmd_event;    /* cmd_event.c:    record an event of a movement */
kv_cmd_fn kv_cmd_keys;     /* cmd_keys.c:     keys new | show */
kv_cmd_fn kv_cmd_trust;    /* cmd_trust.c:    trust add | retire | show | check */
kv_cmd_fn kv_cmd_audit;    /* cmd_audit.c:    audit verify --file */
kv_cmd_fn kv_cmd_corridor; /* cmd_corridor.c: corridor up | down | status (local nodes) */
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

/*
 * One option of a subcommand: "--flag VALUE" / "--flag=VALUE" when `value`
 * is set (the last one given wins), a bare "--flag" when `on` is set.
 */
struct kv_cli_opt {
    const char *flag;
    const char **value;
    int *on;
};

/*
 * Parses argv[first..argc) against opts (n entries); `cmd` names the
 * command in messages ("kervan keys new"). Returns 0, or 2 after printing
 * why to stderr (unknown argument, missing value) — the exit status.
 */
int kv_cli_parse_opts(const char *cmd, int argc, char **argv, int first,
                      const struct kv_cli_opt *opts, size_t n);

/*
 * For commands with subcommands ("kervan trust add ..."): finds argv[1]
 * (argc >= 2) among subs (n_subs names), writes "TOOL SUB" into cmd (size
 * cmdsz) for the caller's messages, parses argv[2..argc) against opts (n_opts
 * entries) and refuses an option the subcommand does not take — bit i of
 * allowed[s] says that subcommand s takes opts[i]. Returns the subcommand's
 * index, or -1 after printing why to stderr (unknown subcommand, bad or
 * misplaced option): the caller exits 2.
 */
int kv_cli_parse_sub(const char *tool, int argc, char **argv, const char *const *subs,
                     size_t n_subs, const unsigned *allowed, const struct kv_cli_opt *opts,
                     size_t n_opts, char *cmd, size_t cmdsz);

#endif
