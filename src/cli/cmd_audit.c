/*
 * cmd_audit.c — `kervan audit verify --file EXPORT.json [--trust FILE]`:
 * check a movement's signed, hash-linked event history offline
 * (codec/export_json.h, core/chain.h; docs/exchange.md, "The event chain").
 *
 * Every event's link is recomputed and every signature checked against the
 * keys of --trust (the auditor's own list), or, without it, the keys the
 * export carries (then the check shows the history is consistent, not who
 * made it). The answer names the first broken event and every failed check
 * with its rule id: link, signature, key, order, event, declaration.
 * (`kervan audit verify MRN --node URL`, against a running node, comes with
 * the exchange wiring.)
 */
#include "cli/cli.h"

#include "codec/export_json.h"
#include "codec/trust_json.h"
#include "core/chain.h"
#include "core/err.h"
#include "core/report.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out, "usage: kervan audit verify --file EXPORT.json [--trust FILE] [--json]\n\n"
                 "Checks a movement's exported event chain offline: each event is hash-linked\n"
                 "to the one before (BLAKE2b-256) and signed by the node where it happened\n"
                 "(Ed25519). Says whether the whole chain holds and, if not, exactly where it\n"
                 "breaks: the event and the check (link, signature, key, order, event,\n"
                 "declaration). docs/exchange.md describes the format.\n\n"
                 "  --file EXPORT.json  the export (\"-\" for standard input)\n"
                 "  --trust FILE        check the signatures against this trust list; without\n"
                 "                      it the export's own key list is used, which proves the\n"
                 "                      chain is consistent but not who signed it\n"
                 "  --json              one JSON object on standard output\n\n"
                 "exit status: 0 the chain is intact, 1 it is broken or the export is invalid,\n"
                 "             2 usage error or a file cannot be read\n");
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

int kv_cmd_audit(int argc, char **argv)
{
    if (argc < 2 || kv_cli_wants_help(argc, argv)) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "verify") != 0) {
        fprintf(stderr, "kervan audit: unknown subcommand '%s' (only `verify`)\n", argv[1]);
        return 2;
    }
    const char *file = NULL, *trust_file = NULL;
    int json = 0;
    struct kv_cli_opt opts[] = {
        {"--file", &file, NULL}, {"--trust", &trust_file, NULL}, {"--json", NULL, &json}};
    const char *cmd = "kervan audit verify";
    if (kv_cli_parse_opts(cmd, argc, argv, 2, opts, 3) != 0)
        return 2;
    if (!file) {
        fprintf(stderr,
                "%s: --file EXPORT.json is required (verifying against a node comes "
                "with the exchange)\n",
                cmd);
        return 2;
    }

    int rc = 2;
    char *buf = NULL;
    size_t len = 0;
    struct kv_trust *trust = NULL;
    struct kv_export ex;
    struct kv_report rep;
    kv_export_init(&ex);
    kv_report_init(&rep);

    if (trust_file) {
        trust = malloc(sizeof *trust);
        if (!trust || kv_cli_read_file(trust_file, KV_TRUST_JSON_MAX, &buf, &len) != 0)
            goto out;
        int e = kv_trust_from_json(buf, len, NULL, trust, &rep);
        free(buf);
        buf = NULL;
        if (e != KV_OK) {
            for (size_t i = 0; i < rep.count; i++)
                fprintf(stderr, "%s: %s %s: %s\n", trust_file, rep.items[i].rule,
                        rep.items[i].pointer, rep.items[i].message);
            fprintf(stderr, "%s: %s is not a valid trust list\n", cmd, trust_file);
            goto out;
        }
    }
    if (kv_cli_read_file(file, KV_EXPORT_JSON_MAX, &buf, &len) != 0)
        goto out;
    int e = kv_export_from_json(buf, len, &ex, &rep);
    if (e == KV_ENOMEM) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        goto out;
    }
    if (e != KV_OK) {
        for (size_t i = 0; i < rep.count; i++)
            fprintf(stderr, "%s: %s %s: %s\n", file, rep.items[i].rule,
                    rep.items[i].pointer[0] ? rep.items[i].pointer : "/", rep.items[i].message);
        fprintf(stderr, "%s: %s is not a valid chain export\n", cmd, file);
        rc = 1;
        goto out;
    }
    char keys[300];
    if (trust)
        snprintf(keys, sizeof keys, "trust list %.200s", trust_file);
    else
        snprintf(keys, sizeof keys, "the export's own key list (give --trust to check who signed)");
    struct kv_chain_result res;
    memset(&res, 0, sizeof res);
    int verdict = kv_export_verify(&ex, trust, &res, &rep);
    if (verdict == KV_ENOTFOUND) {
        fprintf(stderr, "%s: %s carries no keys; give --trust FILE\n", cmd, file);
        goto out;
    }
    if (verdict != KV_CHAIN_INTACT && verdict != KV_CHAIN_BROKEN) {
        fprintf(stderr, "%s: %s\n", cmd, kv_strerror(verdict));
        goto out;
    }
    if (json)
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
