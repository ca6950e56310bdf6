/*
 * remote.h — what the client subcommands (declare, show, list, event,
 * guarantee) share: the node connection options, reading the node's
 * answers, and turning an error answer into one line a user can act on.
 *
 * A client command talks to a node through src/net/client.h. It takes
 * `--node URL` and `--token T` (or `--token-file F`), falling back to the
 * environment variables KERVAN_NODE and KERVAN_TOKEN. Exit statuses are
 * those of every kervan command (cli.h), made precise for a remote call:
 *   0  the node did what was asked;
 *   1  the node refused it (400, 403, 404, 409, 413, 415, 422: the request
 *      was checked and is wrong, or not allowed);
 *   2  usage error, the node could not be reached, 401 (no or unknown
 *      token), a 5xx or an answer that makes no sense.
 *
 * Text from the node is printed with control characters replaced, so an
 * answer cannot drive the terminal.
 */
#ifndef KV_CLI_REMOTE_H
#define KV_CLI_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "net/client.h"

/* Connection options gathered from the command line. */
struct kv_remote_opts {
    const char *node;       /* --node, NULL → $KERVAN_NODE */
    const char *token;      /* --token, NULL → $KERVAN_TOKEN */
    const char *token_file; /* --token-file: first line of the file is the token */
};

/* The help text for the connection options (ends with a newline). */
extern const char kv_remote_opts_help[];

/*
 * Matches a string option at argv[*i]: "--name VALUE" or "--name=VALUE".
 * Returns 1 and sets *val (advancing *i past a separate value), 0 when
 * argv[*i] is not this option, -1 (message printed, prefixed with prog)
 * when the value is missing.
 */
int kv_remote_opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
                        const char **val);

/*
 * Consumes a connection option (--node, --token, --token-file) at argv[*i]
 * into o. Returns 1 if consumed, 0 if argv[*i] is not one, -1 on error.
 */
int kv_remote_opt(const char *prog, int argc, char **argv, int *i, struct kv_remote_opts *o);

/*
 * Creates the client for o. Returns 0, or 2 (the exit status) with a
 * message "PROG: ..." printed. Free with kv_client_free and, at the end,
 * kv_client_global_cleanup.
 */
int kv_remote_connect(const char *prog, const struct kv_remote_opts *o, struct kv_client **out);

/*
 * Sends one request; on a transport failure prints "PROG: cannot reach
 * node at URL: reason" and returns 2. Returns 0 with resp filled otherwise
 * (any status).
 */
int kv_remote_call(const char *prog, struct kv_client *c, const char *method, const char *path,
                   const char *body, size_t len, struct kv_client_resp *resp);

/*
 * Parses the answer's body as a JSON object. Returns it (caller puts it
 * with json_object_put) or NULL when the body is not a JSON object.
 */
json_object *kv_remote_json(const struct kv_client_resp *resp);

/*
 * Explains an error answer: one line on stderr, "PROG: WHAT (STATUS):
 * MESSAGE" (WHAT says what the status means, e.g. "conflict" for 409), then
 * each problem of the error body on stdout as `pointer: rule: message` (as
 * `kervan validate` prints them) — except a lone problem that only repeats
 * the message outside a 422, whose rule then goes on the one line:
 * "PROG: conflict (409): R-MOV-001: MESSAGE". `subject` (may be NULL) names what was
 * asked for, e.g. the MRN, for the 404 line. Returns the exit status for
 * this answer (1 or 2, see above).
 */
int kv_remote_fail(const char *prog, const struct kv_client_resp *resp, const char *subject);

/* Prints s to f with control characters (and DEL) replaced by '?'. */
void kv_remote_print_clean(FILE *f, const char *s);

/* The string member `key` of o, or `dflt` when missing or not a string. */
const char *kv_remote_str(json_object *o, const char *key, const char *dflt);

/*
 * Appends s to dst (size dstsz, NUL-terminated) percent-encoded for a URL
 * path segment or query value (RFC 3986 unreserved characters stay).
 * Returns 0, or -1 when dst is too small (dst is then left truncated).
 */
int kv_remote_escape(char *dst, size_t dstsz, const char *s);

/* Prints a JSON value as indented JSON text followed by a newline. */
void kv_remote_print_json(json_object *o);

#endif
