/*
 * cmd_audit.c — check a movement's signed, hash-linked event history
 * (codec/export_json.h, core/chain.h; docs/exchange.md, "The event chain"):
 *
 *   kervan audit verify --file EXPORT.json [--trust FILE] [--json]
 *   kervan audit verify MRN --node URL --token T [--trust FILE] [--json]
 *   kervan audit export MRN --node URL --token T [-o FILE]
 *
 * `verify` checks an export offline (--file) or fetches it from a node
 * first (GET /v1/movements/{mrn}/export, the same checks afterwards).
 * Every event's link is recomputed and both signatures checked — the one
 * made where the event happened and the owner's over its place in the log
 * — against the keys of --trust (the auditor's own list), or, without it,
 * the keys the export carries (then the check shows the history is
 * consistent, not who made it). The answer names the first broken event
 * and every failed check with its rule id. `export` saves what the node
 * serves, byte for byte, for a later offline check.
 */
#include "cli/cli.h"
#include "cli/remote.h"

#include "codec/export_json.h"
#include "codec/trust_json.h"
#include "core/chain.h"
#include "core/err.h"
#include "core/ident.h"
#include "core/report.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: kervan audit verify --file EXPORT.json [--trust FILE] [--json]\n"
            "       kervan audit verify MRN --node URL --token T [--trust FILE] [--json]\n"
            "       kervan audit export MRN --node URL --token T [-o FILE]\n\n"
            "verify checks a movement's event chain: each event is signed by the node\n"
            "where it happened (Ed25519), hash-linked to the one before (BLAKE2b-256) and\n"
            "that link signed by the movement's owner, the country in its MRN. Says\n"
            "whether the whole chain holds and, if not, exactly where it breaks: the\n"
            "event and the check (link, signature, key, order signature, order key,\n"
            "order, event, declaration). docs/exchange.md describes the format.\n"
            "export saves the chain a node serves (GET /v1/movements/{mrn}/export) for\n"
            "a later `verify --file`.\n\n"
            "  --file EXPORT.json  verify this export (\"-\" for standard input)\n"
            "  MRN                 verify (or export) the chain of MRN as --node serves it\n"
            "  --trust FILE        check the signatures against this trust list; without\n"
            "                      it the export's own key list is used, which proves the\n"
            "                      chain is consistent but not who signed it\n"
            "  --json              verify: one JSON object on standard output\n"
            "  -o FILE             export: write to FILE (default standard output)\n"
            "%s\n"
            "exit status: verify: 0 the chain is intact, 1 it is broken or the export is\n"
            "             invalid, 2 usage error, a file cannot be read or the node gives\n"
            "             no export (unreachable, refused, 5xx)\n"
            "             export: 0 written, 1 the node refused (404: no such movement or\n"
            "             not yours to see; 409: an event is not sealed), 2 usage error,\n"
            "             the node could not be used or FILE cannot be written\n",
            kv_remote_opts_help);
}

static void jstr(const char *s)
{
    char q[KV_MESSAGE_MAX * 2];
    kv_quote(q, sizeof q, s, strlen(s), sizeof q);
    printf("\"%s\"", q);
}

static void print_json(const struct kv_export *ex, int verdict, const struct kv_chain_result *res,
                       const struct kv_report *rep, const char *keys)
{
    printf("{\"mrn\":\"%s\",\"intact\":%s,\"events\":%zu,\"intact_events\":%zu,"
           "\"first_break\":%zu,\"declaration\":\"%s\",\"keys\":",
           ex->mrn, verdict == KV_CHAIN_INTACT ? "true" : "false", res->n_events, res->n_intact,
           res->first_break,
           res->declaration       ? "matches"
           : res->declaration_bad ? "differs"
                                  : "absent");
    jstr(keys);
    if (ex->n) {
        char hex[KV_HASH_HEX_LEN + 1];
        kv_hex_encode(ex->events[ex->n - 1].link, 32, hex);
        printf(",\"last_link\":\"%s\"", hex);
    }
    printf(",\"problems\":[");
    for (size_t i = 0; i < rep->count; i++) {
        printf("%s{\"rule\":\"%s\",\"pointer\":", i ? "," : "", rep->items[i].rule);
        jstr(rep->items[i].pointer);
        printf(",\"message\":");
        jstr(rep->items[i].message);
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const struct kv_export *ex, int verdict, const struct kv_chain_result *res,
                       const struct kv_report *rep, const char *keys)
{
    if (verdict == KV_CHAIN_INTACT) {
        printf("movement %s: chain intact: %zu event%s, each linked and signed\n", ex->mrn,
               res->n_events, res->n_events == 1 ? "" : "s");
    } else if (res->first_break) {
        const struct kv_chain_event *e = &ex->events[res->first_break - 1];
        printf("movement %s: chain BROKEN at event %zu (seq %u, %s, %s): %zu of %zu events "
               "intact\n",
               ex->mrn, res->first_break, (unsigned)e->seq, e->node, e->time.text, res->n_intact,
               res->n_events);
    } else {
        printf("movement %s: chain BROKEN: %zu of %zu events intact\n", ex->mrn, res->n_intact,
               res->n_events);
    }
    printf("  keys:        %s\n", keys);
    printf("  declaration: %s\n", res->declaration       ? "included, matches link0"
                                  : res->declaration_bad ? "included, does NOT match link0"
                                                         : "not included");
    if (ex->n) {
        char hex[KV_HASH_HEX_LEN + 1];
        kv_hex_encode(ex->events[ex->n - 1].link, 32, hex);
        printf("  last link:   %s (compare with the owner node's to detect a cut-off tail)\n", hex);
    }
    for (size_t i = 0; i < rep->count; i++)
        printf("  %s %s: %s\n", rep->items[i].rule, rep->items[i].pointer, rep->items[i].message);
    if (rep->truncated)
        printf("  ... %zu problems in all\n", rep->total);
}

/* What `kervan audit` was asked. */
struct audit_args {
    const char *sub;  /* "verify" or "export" */
    const char *mrn;  /* positional MRN, or NULL */
    const char *file; /* --file */
    const char *trust_file;
    const char *out; /* -o */
    int json;
    bool remote; /* a connection option was given */
    struct kv_remote_opts conn;
};

/* Returns 0, or 2 (usage error, printed). */
static int parse_args(const char *cmd, int argc, char **argv, struct audit_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int r = kv_remote_opt(cmd, argc, argv, &i, &a->conn);
        if (r < 0)
            return 2;
        if (r > 0) {
            a->remote = true;
            continue;
        }
        if ((r = kv_remote_opt_value(cmd, argc, argv, &i, "--file", &v)) != 0) {
            if (r < 0)
                return 2;
            a->file = v;
        } else if ((r = kv_remote_opt_value(cmd, argc, argv, &i, "--trust", &v)) != 0) {
            if (r < 0)
                return 2;
            a->trust_file = v;
        } else if ((r = kv_remote_opt_value(cmd, argc, argv, &i, "-o", &v)) != 0 ||
                   (r = kv_remote_opt_value(cmd, argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0)
                return 2;
            a->out = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "%s: unknown option %s\n", cmd, argv[i]);
            return 2;
        } else if (!a->mrn) {
            a->mrn = argv[i];
        } else {
            fprintf(stderr, "%s: one MRN only (got %s too)\n", cmd, argv[i]);
            return 2;
        }
    }
    return 0;
}

/*
 * Fetches the export of a->mrn from the node into *buf / *len (caller
 * frees). Returns 0, or the exit status after a message: `refused` for an
 * answer of the node other than 200 that kv_remote_fail rates 1 (the
 * caller's choice: 1 for export, 2 for verify), 2 otherwise.
 */
static int fetch_export(const char *cmd, const struct audit_args *a, int refused, char **buf,
                        size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/movements/%s/export", a->mrn);
    struct kv_client *c = NULL;
    struct kv_client_resp r = {0};
    int xs = kv_remote_connect(cmd, &a->conn, &c);
    if (xs == 0)
        xs = kv_remote_call(cmd, c, "GET", path, NULL, 0, &r);
    if (xs == 0 && r.status != 200) {
        xs = kv_remote_fail(cmd, &r, a->mrn);
        if (xs == 1)
            xs = refused;
    }
    if (xs == 0) {
        *buf = r.body; /* taken over */
        *len = r.len;
        r.body = NULL;
    }
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}

/* The MRN argument: an MRN (check digit included). Returns 0 or 2. */
static int check_mrn(const char *cmd, const char *mrn)
{
    struct kv_id_result res;
    if (!kv_mrn_verify(mrn, strlen(mrn), KV_MRN_P5_OR_LEGACY, &res)) {
        fprintf(stderr, "%s: %s is not an MRN: %s\n", cmd, mrn, kv_id_verdict_text(res.verdict));
        return 2;
    }
    return 0;
}

static int audit_export(const struct audit_args *a)
{
    const char *cmd = "kervan audit export";
    if (a->file || a->trust_file || a->json) {
        fprintf(stderr, "%s: --file, --trust and --json belong to `kervan audit verify`\n", cmd);
        return 2;
    }
    if (!a->mrn) {
        fprintf(stderr, "%s: which movement? give its MRN (and --node, --token)\n", cmd);
        return 2;
    }
    if (check_mrn(cmd, a->mrn) != 0)
        return 2;
    char *buf = NULL;
    size_t len = 0;
    int xs = fetch_export(cmd, a, 1, &buf, &len);
    if (xs != 0)
        return xs;
    FILE *f = a->out && strcmp(a->out, "-") != 0 ? fopen(a->out, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", cmd, a->out, strerror(errno));
        free(buf);
        return 2;
    }
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "%s: %s: cannot write: %s\n", cmd, f == stdout ? "standard output" : a->out,
                strerror(errno));
    else if (f != stdout)
        fprintf(stderr, "%s: movement %s: %zu bytes written to %s\n", cmd, a->mrn, len, a->out);
    free(buf);
    return ok ? 0 : 2;
}

static int audit_verify(const struct audit_args *a)
{
    const char *cmd = "kervan audit verify";
    if (a->out) {
        fprintf(stderr, "%s: -o belongs to `kervan audit export`\n", cmd);
        return 2;
    }
    if (a->file && (a->mrn || a->remote)) {
        fprintf(stderr,
                "%s: give --file EXPORT.json, or an MRN with --node and --token, not "
                "both\n",
                cmd);
        return 2;
    }
    if (!a->file && !a->mrn) {
        fprintf(stderr, "%s: --file EXPORT.json is required, or an MRN to fetch from --node\n",
                cmd);
        return 2;
    }
    if (a->mrn && check_mrn(cmd, a->mrn) != 0)
        return 2;

    int rc = 2;
    char *buf = NULL;
    size_t len = 0;
    struct kv_trust *trust = NULL;
    struct kv_export ex;
    struct kv_report rep;
    kv_export_init(&ex);
    kv_report_init(&rep);
    char source[300];
    if (a->file)
        snprintf(source, sizeof source, "%.280s", a->file);
    else
        snprintf(source, sizeof source, "the export of %s", a->mrn);

    if (a->trust_file) {
        trust = malloc(sizeof *trust);
        if (!trust || kv_cli_read_file(a->trust_file, KV_TRUST_JSON_MAX, &buf, &len) != 0)
            goto out;
        int e = kv_trust_from_json(buf, len, NULL, trust, &rep);
        free(buf);
        buf = NULL;
        if (e != KV_OK) {
            for (size_t i = 0; i < rep.count; i++)
                fprintf(stderr, "%s: %s %s: %s\n", a->trust_file, rep.items[i].rule,
                        rep.items[i].pointer, rep.items[i].message);
            fprintf(stderr, "%s: %s is not a valid trust list\n", cmd, a->trust_file);
            goto out;
        }
    }
    if (a->file) {
        if (kv_cli_read_file(a->file, KV_EXPORT_JSON_MAX, &buf, &len) != 0)
            goto out;
    } else if ((rc = fetch_export(cmd, a, 2, &buf, &len)) != 0) {
        goto out;
    }
    rc = 2;
    int e = kv_export_from_json(buf, len, &ex, &rep);
    if (e == KV_ENOMEM) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        goto out;
    }
    if (e != KV_OK) {
        for (size_t i = 0; i < rep.count; i++)
            fprintf(stderr, "%s: %s %s: %s\n", source, rep.items[i].rule,
                    rep.items[i].pointer[0] ? rep.items[i].pointer : "/", rep.items[i].message);
        fprintf(stderr, "%s: %s is not a valid chain export\n", cmd, source);
        rc = 1;
        goto out;
    }
    if (a->mrn && strcmp(ex.mrn, a->mrn) != 0) {
        fprintf(stderr, "%s: asked for the chain of %s, the node answered the chain of %s\n", cmd,
                a->mrn, ex.mrn);
        rc = 1;
        goto out;
    }
    char keys[300];
    if (trust)
        snprintf(keys, sizeof keys, "trust list %.200s", a->trust_file);
    else
        snprintf(keys, sizeof keys, "the export's own key list (give --trust to check who signed)");
    struct kv_chain_result res;
    memset(&res, 0, sizeof res);
    int verdict = kv_export_verify(&ex, trust, &res, &rep);
    if (verdict == KV_ENOTFOUND) {
        fprintf(stderr, "%s: %s carries no keys; give --trust FILE\n", cmd, source);
        goto out;
    }
    if (verdict != KV_CHAIN_INTACT && verdict != KV_CHAIN_BROKEN) {
        fprintf(stderr, "%s: %s\n", cmd, kv_strerror(verdict));
        goto out;
    }
    if (a->json)
        print_json(&ex, verdict, &res, &rep, keys);
    else
        print_text(&ex, verdict, &res, &rep, keys);
    rc = verdict == KV_CHAIN_INTACT ? 0 : 1;
out:
    free(buf);
    free(trust);
    kv_export_clear(&ex);
    kv_report_release(&rep);
    return rc;
}

int kv_cmd_audit(int argc, char **argv)
{
    if (argc < 2 || kv_cli_wants_help(argc, argv)) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    struct audit_args a;
    memset(&a, 0, sizeof a);
    a.sub = argv[1];
    if (strcmp(a.sub, "verify") != 0 && strcmp(a.sub, "export") != 0) {
        fprintf(stderr, "kervan audit: unknown subcommand '%s' (`verify` or `export`)\n", a.sub);
        return 2;
    }
    const char *cmd = a.sub[0] == 'v' ? "kervan audit verify" : "kervan audit export";
    if (parse_args(cmd, argc, argv, &a) != 0)
        return 2;
    return a.sub[0] == 'v' ? audit_verify(&a) : audit_export(&a);
}
