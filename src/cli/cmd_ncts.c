/*
 * cmd_ncts.c — `kervan ncts`: real NCTS Phase 5 messages in and out.
 *
 *   kervan ncts validate [--xsd DIR] [--country CC] [--quiet] FILE...
 *   kervan ncts import [--xsd DIR] [--country CC] [--node URL [--token T]] FILE
 *   kervan ncts export-declaration [--xsd DIR] [header options] FILE.json
 *
 * The checks live in src/codec/ncts_check.c and the CC015C mapping in
 * src/codec/ncts_cc015c.c; this file finds the XSD folder (--xsd, else
 * $KERVAN_NCTS_XSD: there is no built-in one), reads files, prints errors
 * one per line, and brings the clock and randomness an exported message
 * header needs. See docs/ncts.md.
 */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "codec/declaration_json.h"
#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "codec/ncts_schema.h"
#include "core/err.h"
#include "core/ref.h"
#include "net/client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kervan ncts validate [--xsd DIR] [--country CC] [--quiet] FILE...\n"
            "       kervan ncts import [--xsd DIR] [--country CC] [--node URL [--token T]] FILE\n"
            "       kervan ncts export-declaration [--xsd DIR] [--sender S] [--recipient R]\n"
            "                                      [--message-id ID] [--prepared TIME] FILE.json\n"
            "       kervan ncts export [--node URL] [--token T] [--event N] --as MESSAGE MRN\n"
            "\n"
            "NCTS Phase 5 XML messages, checked against the official XSD folder (--xsd DIR,\n"
            "else $%s; kervan has no built-in copy of the schemas).\n"
            "\n"
            "  validate            check any P5 message: its XSD, then the business rules\n"
            "                      kervan implements for it (all of docs/declaration.md for\n"
            "                      a CC015C; the MRN, LRN/MRN and recipient rules for all)\n"
            "  import              CC015C to kervan's JSON declaration on standard output,\n"
            "                      or lodged at a node with --node\n"
            "  export-declaration  kervan's JSON declaration to CC015C on standard output\n"
            "  export              a movement's office message (CC028C, CC029C, CC060C,\n"
            "                      CC182C, CC045C, CC009C) from a node: `ncts export --help`\n"
            "\n"
            "Every error is one line:\n"
            "  FILE:LINE: XPATH: CODE REASON RULE: MESSAGE [value \"...\"]\n"
            "CODE is the NCTS error code (CL030 for XML and schema errors, CL180 for\n"
            "business rules), REASON the NCTS rule (\"-\" when kervan's own), RULE kervan's.\n"
            "Phase 4 messages (CC015B, ...) are not accepted. See docs/ncts.md.\n"
            "\n"
            "  --xsd DIR       the NCTS XSD folder (e.g. the P5 set, XSD 51.8.6)\n"
            "  --country CC    also apply this country's node rules (R-NODE-001: the office\n"
            "                  the message goes to is in CC)\n"
            "  -q, --quiet     validate: only the verdict line per file\n"
            "  --node URL      import: lodge the declaration at this node (POST\n"
            "                  /v1/declarations) instead of printing it; only a message\n"
            "                  without errors is lodged\n"
            "  --token T       import: bearer token (else $KERVAN_TOKEN)\n"
            "  --sender S, --recipient R, --message-id ID, --prepared YYYY-MM-DDThh:mm:ss\n"
            "                  export-declaration: the message header (over the declaration's\n"
            "                  own; when neither has one: the holder's id, NTA.<country of the\n"
            "                  office of departure>, a fresh id, the current UTC time)\n"
            "\n"
            "exit status: 0 valid (or done), 1 invalid, 2 usage error or a file, the XSD\n"
            "folder or the node could not be used\n",
            KV_NCTS_XSD_ENV);
}

struct opts {
    const char *xsd;
    const char *country;
    const char *node;
    const char *token;
    const char *sender, *recipient, *message_id, *prepared;
    bool quiet;
    int first_file; /* index of the first FILE in argv */
};

/* Parses options of `cmd`; returns 0, or 2 after printing why. */
static int parse_opts(const char *cmd, int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        const char **dst = NULL;
        bool allowed = true;
        if (strcmp(a, "--xsd") == 0)
            dst = &o->xsd;
        else if (strcmp(a, "--country") == 0) {
            dst = &o->country;
            allowed = strcmp(cmd, "export-declaration") != 0;
        } else if (strcmp(a, "--node") == 0) {
            dst = &o->node;
            allowed = strcmp(cmd, "import") == 0;
        } else if (strcmp(a, "--token") == 0) {
            dst = &o->token;
            allowed = strcmp(cmd, "import") == 0;
        } else if (strcmp(a, "--sender") == 0 || strcmp(a, "--recipient") == 0 ||
                   strcmp(a, "--message-id") == 0 || strcmp(a, "--prepared") == 0) {
            allowed = strcmp(cmd, "export-declaration") == 0;
            dst = a[2] == 's'   ? &o->sender
                  : a[2] == 'r' ? &o->recipient
                  : a[2] == 'm' ? &o->message_id
                                : &o->prepared;
        } else if ((strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) &&
                   strcmp(cmd, "validate") == 0) {
            o->quiet = true;
            continue;
        }
        if (!dst || !allowed) {
            fprintf(stderr, "kervan ncts %s: unknown option %s\n", cmd, a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "kervan ncts %s: %s needs a value\n", cmd, a);
            return 2;
        }
        *dst = argv[++i];
    }
    if (o->country) {
        const char *c = o->country;
        if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
            fprintf(stderr, "kervan ncts %s: --country wants two capital letters, not \"%s\"\n",
                    cmd, c);
            return 2;
        }
    }
    o->first_file = i;
    return 0;
}

/* The XSD folder from --xsd or the environment; NULL (after saying so) when neither. */
static const char *xsd_dir(const char *cmd, const struct opts *o, bool required)
{
    if (o->xsd)
        return o->xsd;
    const char *env = getenv(KV_NCTS_XSD_ENV);
    if (env && env[0])
        return env;
    if (required)
        fprintf(stderr,
                "kervan ncts %s: no NCTS XSD folder: give --xsd DIR or set %s (kervan has no "
                "built-in copy of the NCTS schemas)\n",
                cmd, KV_NCTS_XSD_ENV);
    return NULL;
}

static struct kv_ncts_schemas *open_schemas(const char *cmd, const char *dir)
{
    char err[512];
    struct kv_ncts_schemas *s = NULL;
    int rc = kv_ncts_schemas_open(dir, &s, err, sizeof(err));
    if (rc != KV_OK) {
        fprintf(stderr, "kervan ncts %s: %s\n", cmd, rc == KV_ENOMEM ? "out of memory" : err);
        return NULL;
    }
    return s;
}

/* One error line: FILE:LINE: XPATH: CODE REASON RULE: MESSAGE [value "..."] */
static void print_error(FILE *out, const char *file, const struct kv_ncts_error *e)
{
    char line[24] = "";
    if (e->line > 0)
        snprintf(line, sizeof(line), "%ld:", e->line);
    fprintf(out, "%s:%s %s: %s %s %s: %s", file, line, e->xpath[0] ? e->xpath : "/", e->code,
            e->reason[0] ? e->reason : "-", e->rule, e->message);
    if (e->has_value) {
        char q[200];
        kv_quote(q, sizeof(q), e->value, strlen(e->value), 120);
        fprintf(out, " [value \"%s\"]", q);
    }
    fputc('\n', out);
}

static void print_errors(FILE *out, const char *file, const struct kv_ncts_errors *errs)
{
    for (size_t k = 0; k < errs->count; k++)
        print_error(out, file, &errs->items[k]);
    if (errs->truncated)
        fprintf(out, "%s: (%zu more errors not shown)\n", file, errs->total - errs->count);
}

/* Checks one file; returns 0 valid, 1 invalid, 2 unreadable or failure. */
static int check_file(const char *cmd, struct kv_ncts_schemas *s,
                      const struct kv_ncts_check_opts *co, const char *path,
                      struct kv_ncts_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > KV_NCTS_XML_MAX) {
        /* Too large to read: the same verdict as kv_ncts_parse gives. */
        kv_ncts_errors_add(&r->errors, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-003", NULL, 0, NULL,
                           "the document is %llu bytes; at most %u are accepted",
                           (unsigned long long)st.st_size, KV_NCTS_XML_MAX);
        return 1;
    }
    if (kv_cli_read_file(path, KV_NCTS_XML_MAX + 1, &buf, &len) != 0)
        return 2;
    char err[512] = "";
    int rc = kv_ncts_check(s, buf, len, co, r, err, sizeof(err));
    free(buf);
    if (rc != KV_OK) {
        fprintf(stderr, "kervan ncts %s: %s: %s\n", cmd, path,
                rc == KV_ENOMEM ? "out of memory" : err);
        return 2;
    }
    return kv_ncts_result_ok(r) ? 0 : 1;
}

static int cmd_validate(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts("validate", argc, argv, &o);
    if (rc)
        return rc;
    if (o.first_file >= argc) {
        usage(stderr);
        return 2;
    }
    const char *dir = xsd_dir("validate", &o, true);
    if (!dir)
        return 2;
    struct kv_ncts_schemas *s = open_schemas("validate", dir);
    if (!s)
        return 2;
    struct kv_ref *ref = NULL;
    if (kv_ref_open(&ref) != KV_OK) {
        fprintf(stderr, "kervan ncts validate: cannot load reference data\n");
        kv_ncts_schemas_close(s);
        return 2;
    }
    struct kv_ncts_check_opts co = {o.country, ref};
    int worst = 0;
    for (int i = o.first_file; i < argc; i++) {
        struct kv_ncts_result r;
        kv_ncts_result_init(&r);
        int v = check_file("validate", s, &co, argv[i], &r);
        if (v != 2) {
            if (!o.quiet)
                print_errors(stdout, argv[i], &r.errors);
            if (v == 0)
                fprintf(stderr, "%s: valid %s\n", argv[i], r.type);
            else
                fprintf(stderr, "%s: invalid%s%s (%zu error%s)\n", argv[i], r.type[0] ? " " : "",
                        r.type, r.errors.total, r.errors.total == 1 ? "" : "s");
        }
        if (v > worst)
            worst = v;
        kv_ncts_result_release(&r);
    }
    kv_ref_close(ref);
    kv_ncts_schemas_close(s);
    return worst;
}

static int lodge(const struct opts *o, const char *json, size_t len)
{
    struct kv_client_options copt = {o->node, o->token, 0, 0};
    struct kv_client *c = NULL;
    char err[KV_CLIENT_ERR_MAX];
    if (kv_client_new(&copt, &c, err, sizeof(err)) != KV_OK) {
        fprintf(stderr, "kervan ncts import: %s\n", err);
        return 2;
    }
    struct kv_client_resp resp;
    memset(&resp, 0, sizeof(resp));
    int rc = kv_client_post_json(c, "/v1/declarations", json, len, &resp);
    int status = 2;
    if (rc != KV_OK) {
        fprintf(stderr, "kervan ncts import: %s\n", kv_client_error(c));
    } else {
        if (resp.body)
            fwrite(resp.body, 1, resp.len, stdout);
        if (resp.len && resp.body[resp.len - 1] != '\n')
            fputc('\n', stdout);
        fprintf(stderr, "kervan ncts import: the node answered %ld\n", resp.status);
        status = resp.status >= 200 && resp.status < 300 ? 0 : resp.status < 500 ? 1 : 2;
    }
    kv_client_resp_release(&resp);
    kv_client_free(c);
    kv_client_global_cleanup();
    return status;
}

static int cmd_import(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts("import", argc, argv, &o);
    if (rc)
        return rc;
    if (argc - o.first_file != 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[o.first_file];
    const char *dir = xsd_dir("import", &o, true);
    if (!dir)
        return 2;
    struct kv_ncts_schemas *s = open_schemas("import", dir);
    if (!s)
        return 2;
    struct kv_ref *ref = NULL;
    if (kv_ref_open(&ref) != KV_OK) {
        fprintf(stderr, "kervan ncts import: cannot load reference data\n");
        kv_ncts_schemas_close(s);
        return 2;
    }
    struct kv_ncts_check_opts co = {o.country, ref};
    struct kv_ncts_result r;
    kv_ncts_result_init(&r);
    int v = check_file("import", s, &co, path, &r);
    int status = v;
    if (v == 2)
        goto out;
    print_errors(stderr, path, &r.errors);
    if (strcmp(r.type, "CC015C") != 0 || !r.decl) {
        if (r.type[0] && strcmp(r.type, "CC015C") != 0)
            fprintf(stderr, "kervan ncts import: %s is a %s; only a CC015C is a declaration\n",
                    path, r.type);
        else
            fprintf(stderr, "kervan ncts import: %s: not imported\n", path);
        status = status ? status : 1;
        goto out;
    }
    char *json = NULL;
    size_t len = 0;
    if (kv_decl_to_json(r.decl, &json, &len) != KV_OK) {
        fprintf(stderr, "kervan ncts import: out of memory\n");
        status = 2;
        goto out;
    }
    if (o.node) {
        if (v != 0) {
            fprintf(stderr, "kervan ncts import: %s has %zu error%s; not lodged\n", path,
                    r.errors.total, r.errors.total == 1 ? "" : "s");
            status = 1;
        } else {
            status = lodge(&o, json, len);
        }
    } else {
        fwrite(json, 1, len, stdout);
        fputc('\n', stdout);
        if (v != 0)
            fprintf(stderr,
                    "kervan ncts import: %s converted, but the declaration breaks %zu rule%s\n",
                    path, r.errors.total, r.errors.total == 1 ? "" : "s");
    }
    free(json);
out:
    kv_ncts_result_release(&r);
    kv_ref_close(ref);
    kv_ncts_schemas_close(s);
    return status;
}

/* A fresh message id: "KV" + UTC yymmddhhmmss + 8 hex digits (an..35). */
static void fresh_id(char out[64], const struct tm *t)
{
    unsigned char r[4] = {0, 0, 0, 0};
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        memset(r, 0, sizeof(r));
    snprintf(out, 64, "KV%02d%02d%02d%02d%02d%02d%02X%02X%02X%02X", t->tm_year % 100, t->tm_mon + 1,
             t->tm_mday, t->tm_hour, t->tm_min, t->tm_sec, r[0], r[1], r[2], r[3]);
}

static int cmd_export(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts("export-declaration", argc, argv, &o);
    if (rc)
        return rc;
    if (argc - o.first_file != 1) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[o.first_file];
    char *buf = NULL;
    size_t len = 0;
    if (kv_cli_read_file(path, KV_DECL_JSON_MAX, &buf, &len) != 0)
        return 2;
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    rc = kv_decl_from_json(buf, len, &d, &rep);
    free(buf);
    int status = 0;
    char *xml = NULL;
    size_t xlen = 0;
    struct kv_ncts_schemas *s = NULL;
    if (rc != KV_OK || !kv_report_ok(&rep)) {
        for (size_t k = 0; k < rep.count; k++)
            fprintf(stderr, "%s:%s: %s: %s\n", path,
                    rep.items[k].pointer[0] ? rep.items[k].pointer : "/", rep.items[k].rule,
                    rep.items[k].message);
        fprintf(stderr, "kervan ncts export-declaration: %s is not a declaration kervan can read\n",
                path);
        status = rc == KV_ENOMEM ? 2 : 1;
        goto out;
    }

    /* Options given override the declaration's NCTS header; defaults fill what it lacks. */
    if (d->ncts) {
        if (o.sender)
            d->ncts->sender = o.sender;
        if (o.recipient)
            d->ncts->recipient = o.recipient;
        if (o.message_id)
            d->ncts->message_id = o.message_id;
        if (o.prepared)
            d->ncts->prepared = o.prepared;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char prepared[32], id[64], recipient[16];
    strftime(prepared, sizeof(prepared), "%Y-%m-%dT%H:%M:%S", &tm);
    fresh_id(id, &tm);
    snprintf(recipient, sizeof(recipient), "NTA.%.2s",
             d->office_of_departure ? d->office_of_departure : "");
    struct kv_ncts_export_opts eo = {o.sender                     ? o.sender
                                     : d->holder && d->holder->id ? d->holder->id
                                                                  : "kervan",
                                     o.recipient ? o.recipient : recipient,
                                     o.prepared ? o.prepared : prepared,
                                     o.message_id ? o.message_id : id,
                                     NULL,
                                     2};
    kv_report_release(&rep);
    rc = kv_ncts_cc015c_export(d, &eo, &xml, &xlen, &rep);
    for (size_t k = 0; k < rep.count; k++)
        fprintf(stderr, "%s:%s: %s: %s\n", path,
                rep.items[k].pointer[0] ? rep.items[k].pointer : "/", rep.items[k].rule,
                rep.items[k].message);
    if (rc != KV_OK) {
        fprintf(stderr, "kervan ncts export-declaration: %s: %s\n", path,
                rc == KV_EINVAL ? "cannot be written as CC015C" : kv_strerror(rc));
        status = rc == KV_EINVAL ? 1 : 2;
        goto out;
    }
    const char *dir = xsd_dir("export-declaration", &o, false);
    if (dir) {
        s = open_schemas("export-declaration", dir);
        if (!s) {
            status = 2;
            goto out;
        }
        struct kv_ncts_errors errs;
        kv_ncts_errors_init(&errs);
        xmlDocPtr doc = NULL;
        char err[512] = "";
        rc = kv_ncts_parse(xml, xlen, &doc, &errs);
        if (rc == KV_OK)
            rc = kv_ncts_schema_validate(s, doc, "CC015C", &errs, err, sizeof(err));
        xmlFreeDoc(doc);
        if (rc == KV_OK && !kv_ncts_errors_ok(&errs)) {
            print_errors(stderr, "(exported CC015C)", &errs);
            fprintf(stderr,
                    "kervan ncts export-declaration: %s: the CC015C does not pass the XSD; not "
                    "written\n",
                    path);
            status = 1;
        } else if (rc != KV_OK) {
            fprintf(stderr, "kervan ncts export-declaration: %s\n", err[0] ? err : kv_strerror(rc));
            status = 2;
        }
        kv_ncts_errors_release(&errs);
        if (status)
            goto out;
    } else {
        fprintf(stderr,
                "kervan ncts export-declaration: not checked against the XSD (no --xsd "
                "and no %s)\n",
                KV_NCTS_XSD_ENV);
    }
    fwrite(xml, 1, xlen, stdout);
out:
    free(xml);
    kv_ncts_schemas_close(s);
    kv_report_release(&rep);
    kv_decl_free(d);
    return status;
}

int kv_cmd_ncts(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "export") == 0)
        return kv_cmd_ncts_export(argc - 1, argv + 1);
    if (kv_cli_wants_help(argc - 1, argv + 1)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(sub, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(sub, "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(sub, "export-declaration") == 0)
        return cmd_export(argc - 1, argv + 1);
    fprintf(stderr, "kervan ncts: '%s' is not a subcommand; see `kervan ncts --help`\n", sub);
    return 2;
}
