/*
 * cmd_ncts_export.c — `kervan ncts export MRN --as CC029C`: an NCTS P5
 * message about a movement, from a node.
 *
 *   kervan ncts export [--node URL] [--token T] [--event N] --as MESSAGE MRN
 *
 * Asks the node (GET /v1/movements/{mrn}/ncts/{message}, net/client.h; the
 * node and token also from $KERVAN_NODE / $KERVAN_TOKEN) and prints the XML
 * it answers. The message is built by the node from its store (docs/ncts.md
 * "Messages out"), so what is printed is what the office sends. The node's
 * error is printed on standard error: exit 1 when it answers 4xx (e.g. the
 * movement is not released yet: 404 no_such_message), 2 for a usage error,
 * an unreachable node or a 5xx.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "codec/ncts_out.h"
#include "core/err.h"
#include "core/ident.h"
#include "net/client.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan ncts export [--node URL] [--token T] [--event N] --as MESSAGE MRN\n"
                 "\n"
                 "Prints the NCTS P5 message the node's office sends about movement MRN:\n"
                 "  CC028C  MRN allocated            CC182C  incident (--event N: the incident\n"
                 "  CC029C  release for transit               at position N of the log)\n"
                 "  CC060C  control decision         CC045C  write-off\n"
                 "  CC009C  invalidation             (CC056C, a rejection, is never stored)\n"
                 "MESSAGE is case-insensitive. Every message is valid against the P5 XSD.\n"
                 "\n"
                 "  --node URL   the node (else $KERVAN_NODE)\n"
                 "  --token T    bearer token (else $KERVAN_TOKEN)\n"
                 "\n"
                 "exit status: 0 printed, 1 the node refused (e.g. not released yet), 2 usage\n"
                 "error or the node could not be used\n");
}

/* The node's error message from its JSON error body, or the body itself. */
static void print_refusal(const struct kv_client_resp *r)
{
    json_object *o = r->body ? json_tokener_parse(r->body) : NULL, *e = NULL, *m = NULL;
    if (o && json_object_object_get_ex(o, "error", &e) &&
        json_object_object_get_ex(e, "message", &m))
        fprintf(stderr, "kervan ncts export: %ld: %s\n", r->status, json_object_get_string(m));
    else
        fprintf(stderr, "kervan ncts export: the node answered %ld%s%s\n", r->status,
                r->body ? ": " : "", r->body ? r->body : "");
    json_object_put(o);
}

int kv_cmd_ncts_export(int argc, char **argv)
{
    const char *node = NULL, *token = NULL, *as = NULL, *event = NULL, *mrn = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = strcmp(a, "--node") == 0    ? &node
                           : strcmp(a, "--token") == 0 ? &token
                           : strcmp(a, "--as") == 0    ? &as
                           : strcmp(a, "--event") == 0 ? &event
                                                       : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kervan ncts export: %s needs a value\n", a);
                return 2;
            }
            *dst = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "kervan ncts export: unknown option %s\n", a);
            return 2;
        } else if (!mrn) {
            mrn = a;
        } else {
            fprintf(stderr, "kervan ncts export: one MRN only (got %s too)\n", a);
            return 2;
        }
    }
    if (!mrn || !as) {
        usage(stderr);
        return 2;
    }
    enum kv_ncts_out type;
    if (!kv_ncts_out_from_name(as, &type)) {
        fprintf(stderr,
                "kervan ncts export: %s is not a message kervan writes (CC028C, CC029C, CC060C, "
                "CC182C, CC045C, CC009C)\n",
                as);
        return 2;
    }
    struct kv_id_result res;
    if (!kv_mrn_verify(mrn, strlen(mrn), KV_MRN_P5_OR_LEGACY, &res)) {
        fprintf(stderr, "kervan ncts export: %s is not an MRN: %s\n", mrn,
                kv_id_verdict_text(res.verdict));
        return 2;
    }
    char path[128];
    if (event) {
        char *end;
        long n = strtol(event, &end, 10);
        if (!*event || *end || n < 1 || n > 1000000) {
            fprintf(stderr,
                    "kervan ncts export: --event takes a position in the log (1, 2, ...)\n");
            return 2;
        }
        snprintf(path, sizeof(path), "/v1/movements/%s/ncts/%s?event=%ld", mrn,
                 kv_ncts_out_name(type), n);
    } else {
        snprintf(path, sizeof(path), "/v1/movements/%s/ncts/%s", mrn, kv_ncts_out_name(type));
    }

    struct kv_client_options copt = {node, token, 0, 0};
    struct kv_client *c = NULL;
    char err[KV_CLIENT_ERR_MAX];
    if (kv_client_new(&copt, &c, err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "kervan ncts export: %s\n", err);
        return 2;
    }
    struct kv_client_resp resp;
    memset(&resp, 0, sizeof(resp));
    int status = 2;
    if (kv_client_get(c, path, &resp) != KV_OK) {
        fprintf(stderr, "kervan ncts export: %s\n", kv_client_error(c));
    } else if (resp.status == 200) {
        fwrite(resp.body, 1, resp.len, stdout);
        if (resp.len && resp.body[resp.len - 1] != '\n')
            fputc('\n', stdout);
        status = fflush(stdout) == 0 ? 0 : 2;
    } else {
        print_refusal(&resp);
        status = resp.status >= 400 && resp.status < 500 ? 1 : 2;
    }
    kv_client_resp_release(&resp);
    kv_client_free(c);
    kv_client_global_cleanup();
    return status;
}
