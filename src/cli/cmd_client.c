/*
 * cmd_client.c — the client commands that read and lodge: `kervan declare`,
 * `kervan show`, `kervan list` and `kervan guarantee`.
 *
 * Each is a thin layer over one or two calls of the node's /v1 API
 * (docs/api.md) through src/net/client.h: it builds the request, prints
 * the answer readably (or raw with --json) and explains a refusal in one
 * line (remote.h). `kervan event` lives in cmd_event.c.
 */
#include "cli/cli.h"
#include "cli/remote.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define DECL_FILE_MAX (64u << 20) /* the node's max-body cap; it answers 413 past its own */
#define PATH_BUF      2048

/* ---------------------------------------------------------------------------
 * Small printing helpers
 */

/* The text of member key: a string as is, a number or boolean as JSON, else dflt. */
static const char *val_text(json_object *o, const char *key, const char *dflt)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !v)
        return dflt;
    if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
        return dflt;
    return json_object_get_string(v);
}

static bool val_bool(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) &&
           json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* Prints the strings of array member key joined by ", ", or dflt when empty. */
static void print_list(json_object *o, const char *key, const char *dflt)
{
    json_object *a;
    size_t n = 0;
    if (o && json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array))
        n = json_object_array_length(a);
    if (n == 0) {
        fputs(dflt, stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        if (i)
            fputs(", ", stdout);
        kv_remote_print_clean(stdout, s ? s : "?");
    }
}

/* "label    value\n" with the value cleaned. */
static void field(const char *label, const char *value)
{
    printf("%-12s ", label);
    kv_remote_print_clean(stdout, value ? value : "-");
    fputc('\n', stdout);
}

/* Writes at most `width` characters of s (cleaned), padded to width. */
static void cell(const char *s, int width)
{
    char buf[256];
    size_t n = strlen(s ? s : "");
    if (n > sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    memcpy(buf, s ? s : "", n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    printf("%-*s ", width, buf);
}

/* Joins the strings of array member key with "," into buf. */
static void join(json_object *o, const char *key, char *buf, size_t bufsz)
{
    buf[0] = '\0';
    json_object *a;
    if (!o || !json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
        return;
    size_t used = 0;
    for (size_t i = 0; i < json_object_array_length(a); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        int n = snprintf(buf + used, bufsz - used, "%s%s", i ? "," : "", s ? s : "?");
        if (n < 0 || (size_t)n >= bufsz - used)
            break;
        used += (size_t)n;
    }
}

/* Parses the body of a success answer; on failure prints why and returns NULL. */
static json_object *answer_json(const char *prog, const struct kv_client_resp *r)
{
    json_object *o = kv_remote_json(r);
    if (!o)
        fprintf(stderr, "%s: the node's answer (%ld) is not a JSON object\n", prog, r->status);
    return o;
}

/* Common argument loop result: positional arguments collected in pos[]. */
struct args {
    struct kv_remote_opts conn;
    const char *pos[8];
    int npos;
    bool json;
};

/*
 * Parses the connection options, --json (when allow_json) and positional
 * arguments; any other option is handed to `extra` (may be NULL), which
 * returns 1 consumed, 0 unknown, -1 error. Returns 0 or 2.
 */
static int parse_args(const char *prog, int argc, char **argv, bool allow_json, struct args *a,
                      int (*extra)(const char *, int, char **, int *, void *), void *ud)
{
    memset(a, 0, sizeof(*a));
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || s[0] != '-' || s[1] == '\0') {
            if (a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
                fprintf(stderr, "%s: too many arguments\n", prog);
                return 2;
            }
            a->pos[a->npos++] = s;
            continue;
        }
        if (allow_json && strcmp(s, "--json") == 0) {
            a->json = true;
            continue;
        }
        int r = kv_remote_opt(prog, argc, argv, &i, &a->conn);
        if (r == 0 && extra)
            r = extra(prog, argc, argv, &i, ud);
        if (r < 0)
            return 2;
        if (r == 0) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, s);
            return 2;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * kervan declare FILE
 */

static void declare_usage(FILE *out)
{
    fprintf(out,
            "usage: kervan declare [--json] [connection] FILE\n\n"
            "Lodges the declaration in FILE (kervan JSON, docs/declaration.md; - for standard\n"
            "input) at the node: POST /v1/declarations, as a trader. Prints the MRN the node\n"
            "allocated and the movement's state. Lodging the same declaration again is\n"
            "harmless: the node answers with the same MRN, marked \"(already lodged: same\n"
            "declaration)\". A declaration the node refuses gets every problem printed as\n"
            "`pointer: rule: message`, like `kervan validate`.\n\n"
            "  --json             print the node's answer as JSON\n\n"
            "%s\n"
            "exit status: 0 lodged, 1 refused by the node (invalid, LRN conflict, guarantee\n"
            "short, forbidden), 2 usage error, node unreachable or failing, no valid token\n",
            kv_remote_opts_help);
}

int kv_cmd_declare(int argc, char **argv)
{
    const char *prog = "kervan declare";
    if (kv_cli_wants_help(argc, argv)) {
        declare_usage(stdout);
        return 0;
    }
    struct args a;
    if (parse_args(prog, argc, argv, true, &a, NULL, NULL) != 0)
        return 2;
    if (a.npos != 1) {
        declare_usage(stderr);
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    if (kv_cli_read_file(a.pos[0], DECL_FILE_MAX, &buf, &len) != 0)
        return 2;
    struct kv_client *c = NULL;
    int xs = kv_remote_connect(prog, &a.conn, &c);
    struct kv_client_resp r = {0};
    if (xs == 0)
        xs = kv_remote_call(prog, c, "POST", "/v1/declarations", buf, len, &r);
    free(buf);
    if (xs != 0)
        goto out;
    if (r.status != 200 && r.status != 201) {
        xs = kv_remote_fail(prog, &r, NULL);
        if (r.status == 422)
            fprintf(stderr, "%s: rejected by the node\n", a.pos[0]);
        goto out;
    }
    json_object *o = answer_json(prog, &r);
    if (!o) {
        xs = 2;
        goto out;
    }
    if (a.json) {
        kv_remote_print_json(o);
    } else {
        kv_remote_print_clean(stdout, kv_remote_str(o, "mrn", "?"));
        fputc(' ', stdout);
        kv_remote_print_clean(stdout, kv_remote_str(o, "state", "?"));
        if (r.status == 200)
            fputs(" (already lodged: same declaration)", stdout);
        fputc('\n', stdout);
    }
    json_object_put(o);
out:
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}

/* ---------------------------------------------------------------------------
 * kervan show MRN
 */

static void show_usage(FILE *out)
{
    fprintf(out,
            "usage: kervan show [--json] [connection] MRN\n\n"
            "Shows a movement: its state and flags, whether it is overdue, its offices, its\n"
            "guarantee use, the events allowed next and its event log (time, office, type,\n"
            "who, details). GET /v1/movements/MRN.\n\n"
            "  --json             print the node's answer as JSON (with the declaration)\n\n"
            "%s\n"
            "exit status: 0 shown, 1 refused (bad MRN, not found or not visible), 2 failure\n",
            kv_remote_opts_help);
}

/* "k=v k2=v2" for the event members that are not in every event. */
static void event_details(json_object *ev, char *buf, size_t bufsz)
{
    static const char *const common[] = {"seq",   "type", "time",   "office",
                                         "actor", "node", "pending"};
    size_t used = 0;
    buf[0] = '\0';
    json_object_object_foreach(ev, key, val)
    {
        bool skip = false;
        for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
            skip |= strcmp(key, common[i]) == 0;
        if (skip)
            continue;
        const char *text;
        char tmp[512];
        if (json_object_is_type(val, json_type_array)) {
            tmp[0] = '\0';
            size_t tu = 0;
            for (size_t i = 0; i < json_object_array_length(val); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(val, i));
                int n = snprintf(tmp + tu, sizeof(tmp) - tu, "%s%s", i ? "," : "", s ? s : "");
                if (n < 0 || (size_t)n >= sizeof(tmp) - tu)
                    break;
                tu += (size_t)n;
            }
            text = tmp;
        } else if (strcmp(key, "declaration") == 0) {
            text = "(new declaration)";
        } else {
            text = json_object_is_type(val, json_type_object)
                       ? json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
                       : json_object_get_string(val);
        }
        bool quote = text && strchr(text, ' ') && !json_object_is_type(val, json_type_object);
        int n = snprintf(buf + used, bufsz - used, "%s%s=%s%s%s", used ? " " : "", key,
                         quote ? "\"" : "", text ? text : "", quote ? "\"" : "");
        if (n < 0 || (size_t)n >= bufsz - used) {
            /* cut, marked */
            if (bufsz > 4)
                memcpy(buf + bufsz - 4, "...", 4);
            return;
        }
        used += (size_t)n;
    }
}

static void print_events(json_object *m, const char *name, const char *title);

static void print_movement(json_object *m)
{
    field("movement", kv_remote_str(m, "mrn", "?"));
    field("LRN", kv_remote_str(m, "lrn", "-"));
    field("state", kv_remote_str(m, "state", "?"));
    printf("%-12s ", "flags");
    print_list(m, "flags", "-");
    fputc('\n', stdout);
    if (val_bool(m, "overdue")) {
        printf("%-12s yes: released and not arrived by the limit date; flagged for enquiry\n",
               "overdue");
    } else {
        field("overdue", "no");
    }
    if (val_bool(m, "replica")) {
        printf("%-12s ", "owner");
        kv_remote_print_clean(stdout, kv_remote_str(m, "owner", "?"));
        fputs(" (this node holds a copy; the owner orders its events)\n", stdout);
    }
    field("holder", kv_remote_str(m, "holder", "-"));
    field("departure", kv_remote_str(m, "officeOfDeparture", "-"));
    field("destination", kv_remote_str(m, "officeOfDestination", "-"));
    field("accepted", kv_remote_str(m, "acceptedAt", "-"));
    field("limit date", kv_remote_str(m, "limitDate", "-"));

    json_object *gs;
    size_t ng = 0;
    if (json_object_object_get_ex(m, "guarantees", &gs) && json_object_is_type(gs, json_type_array))
        ng = json_object_array_length(gs);
    if (ng == 0)
        field("guarantee", "-");
    for (size_t i = 0; i < ng; i++) {
        json_object *g = json_object_array_get_idx(gs, i);
        printf("%-12s ", i == 0 ? "guarantee" : "");
        kv_remote_print_clean(stdout, kv_remote_str(g, "grn", "?"));
        fputs("  ", stdout);
        kv_remote_print_clean(stdout, val_text(g, "amount", "?"));
        fputc(' ', stdout);
        kv_remote_print_clean(stdout, kv_remote_str(g, "currency", "?"));
        fputs(val_bool(g, "released") ? "  released\n" : "  reserved\n", stdout);
    }
    printf("%-12s ", "allowed next");
    print_list(m, "allowedEvents", "(nothing: final state)");
    fputc('\n', stdout);

    print_events(m, "events", "events");
    print_events(m, "pending", "pending: recorded here, on their way to the owner");
}

/* The events of list `name` of a movement view as a table (nothing for an
 * empty "pending"). */
static void print_events(json_object *m, const char *name, const char *title)
{
    json_object *evs;
    size_t ne = 0;
    if (json_object_object_get_ex(m, name, &evs) && json_object_is_type(evs, json_type_array))
        ne = json_object_array_length(evs);
    if (ne == 0 && strcmp(name, "events") != 0)
        return;
    printf("\n%s (%zu)\n", title, ne);
    printf("%-4s %-25s %-8s %-22s %-24s %s\n", "SEQ", "TIME", "OFFICE", "TYPE", "ACTOR", "DETAILS");
    for (size_t i = 0; i < ne; i++) {
        json_object *ev = json_object_array_get_idx(evs, i), *actor = NULL;
        json_object_object_get_ex(ev, "actor", &actor);
        char who[80];
        snprintf(who, sizeof(who), "%s %s", kv_remote_str(actor, "role", "?"),
                 kv_remote_str(actor, "id", ""));
        char details[200];
        event_details(ev, details, sizeof(details));
        cell(val_text(ev, "seq", "-"), 4);
        cell(kv_remote_str(ev, "time", "?"), 25);
        cell(kv_remote_str(ev, "office", "-"), 8);
        cell(kv_remote_str(ev, "type", "?"), 22);
        if (details[0]) {
            cell(who, 24);
            kv_remote_print_clean(stdout, details);
        } else {
            kv_remote_print_clean(stdout, who);
        }
        fputc('\n', stdout);
    }
}

int kv_cmd_show(int argc, char **argv)
{
    const char *prog = "kervan show";
    if (kv_cli_wants_help(argc, argv)) {
        show_usage(stdout);
        return 0;
    }
    struct args a;
    if (parse_args(prog, argc, argv, true, &a, NULL, NULL) != 0)
        return 2;
    if (a.npos != 1) {
        show_usage(stderr);
        return 2;
    }
    char path[PATH_BUF] = "/v1/movements/";
    if (kv_remote_escape(path, sizeof(path), a.pos[0]) != 0) {
        fprintf(stderr, "%s: MRN too long\n", prog);
        return 2;
    }
    struct kv_client *c = NULL;
    struct kv_client_resp r = {0};
    int xs = kv_remote_connect(prog, &a.conn, &c);
    if (xs == 0)
        xs = kv_remote_call(prog, c, "GET", path, NULL, 0, &r);
    if (xs != 0)
        goto out;
    if (r.status != 200) {
        xs = kv_remote_fail(prog, &r, a.pos[0]);
        goto out;
    }
    json_object *o = answer_json(prog, &r);
    if (!o) {
        xs = 2;
        goto out;
    }
    if (a.json)
        kv_remote_print_json(o);
    else
        print_movement(o);
    json_object_put(o);
out:
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}

/* ---------------------------------------------------------------------------
 * kervan list
 */

static void list_usage(FILE *out)
{
    fprintf(out,
            "usage: kervan list [--state S] [--office REF] [--holder ID] [--since TIME]\n"
            "                   [--overdue] [--limit N] [--cursor C] [--all] [--json] "
            "[connection]\n\n"
            "Lists movements, oldest first: GET /v1/movements. A trader sees its own\n"
            "movements, an officer those that touch its office, analysts and operators all.\n\n"
            "  --state S          only in state S (accepted, under_control, released, ...)\n"
            "  --office REF       only movements that name this office\n"
            "  --holder ID        only this holder's movements\n"
            "  --since TIME       accepted at or after TIME (RFC 3339, e.g. 2025-04-01T00:00:00Z)\n"
            "  --overdue          only overdue movements (released, past the limit date)\n"
            "  --limit N          movements per page, 1-500 (the node's default: 100)\n"
            "  --cursor C         start at the page the node called C\n"
            "  --all              follow the pages to the end\n"
            "  --json             print JSON: the node's page, or with --all\n"
            "                     {\"items\":[every movement],\"next\":null}\n\n"
            "%s\n"
            "exit status: 0 listed, 1 refused (a bad filter), 2 failure\n",
            kv_remote_opts_help);
}

struct list_opts {
    const char *state, *office, *holder, *since, *limit, *cursor;
    bool overdue, all;
};

static int list_extra(const char *prog, int argc, char **argv, int *i, void *ud)
{
    struct list_opts *l = ud;
    if (strcmp(argv[*i], "--overdue") == 0) {
        l->overdue = true;
        return 1;
    }
    if (strcmp(argv[*i], "--all") == 0) {
        l->all = true;
        return 1;
    }
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--state", offsetof(struct list_opts, state)},
        {"--office", offsetof(struct list_opts, office)},
        {"--holder", offsetof(struct list_opts, holder)},
        {"--since", offsetof(struct list_opts, since)},
        {"--limit", offsetof(struct list_opts, limit)},
        {"--cursor", offsetof(struct list_opts, cursor)},
    };
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        const char **slot = (const char **)((char *)l + opts[k].off);
        int r = kv_remote_opt_value(prog, argc, argv, i, opts[k].name, slot);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Appends "&name=value" (escaped) to the query in q. */
static int query_add(char *q, size_t qsz, const char *name, const char *value)
{
    if (!value)
        return 0;
    size_t n = strlen(q);
    int w = snprintf(q + n, qsz - n, "%s%s=", n ? "&" : "", name);
    if (w < 0 || (size_t)w >= qsz - n)
        return -1;
    return kv_remote_escape(q, qsz, value);
}

static void print_summary_header(void)
{
    printf("%-18s %-13s %-18s %-8s %-8s %-25s %s\n", "MRN", "STATE", "FLAGS", "DEPART", "DEST",
           "ACCEPTED", "LRN");
}

static void print_summary(json_object *m)
{
    char flags[128];
    join(m, "flags", flags, sizeof(flags));
    cell(kv_remote_str(m, "mrn", "?"), 18);
    cell(kv_remote_str(m, "state", "?"), 13);
    cell(flags[0] ? flags : "-", 18);
    cell(kv_remote_str(m, "officeOfDeparture", "-"), 8);
    cell(kv_remote_str(m, "officeOfDestination", "-"), 8);
    cell(kv_remote_str(m, "acceptedAt", "-"), 25);
    kv_remote_print_clean(stdout, kv_remote_str(m, "lrn", "-"));
    fputc('\n', stdout);
}

int kv_cmd_list(int argc, char **argv)
{
    const char *prog = "kervan list";
    if (kv_cli_wants_help(argc, argv)) {
        list_usage(stdout);
        return 0;
    }
    struct list_opts l = {0};
    struct args a;
    if (parse_args(prog, argc, argv, true, &a, list_extra, &l) != 0)
        return 2;
    if (a.npos != 0) {
        fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, a.pos[0]);
        return 2;
    }
    char base[PATH_BUF] = "";
    if (query_add(base, sizeof(base), "state", l.state) != 0 ||
        query_add(base, sizeof(base), "office", l.office) != 0 ||
        query_add(base, sizeof(base), "holder", l.holder) != 0 ||
        query_add(base, sizeof(base), "since", l.since) != 0 ||
        query_add(base, sizeof(base), "overdue", l.overdue ? "true" : NULL) != 0 ||
        query_add(base, sizeof(base), "limit", l.limit) != 0) {
        fprintf(stderr, "%s: filters too long\n", prog);
        return 2;
    }

    struct kv_client *c = NULL;
    struct kv_client_resp r = {0};
    json_object *all = NULL; /* --all --json: every item */
    char cursor[512] = "";
    size_t total = 0;
    int xs = kv_remote_connect(prog, &a.conn, &c);
    if (xs != 0)
        goto out;
    if (l.cursor && (size_t)snprintf(cursor, sizeof(cursor), "%s", l.cursor) >= sizeof(cursor)) {
        fprintf(stderr, "%s: cursor too long\n", prog);
        xs = 2;
        goto out;
    }
    if (a.json && l.all && !(all = json_object_new_array())) {
        fprintf(stderr, "%s: out of memory\n", prog);
        xs = 2;
        goto out;
    }
    if (!a.json)
        print_summary_header();
    for (unsigned page = 0;; page++) {
        char path[PATH_BUF * 2], q[PATH_BUF + 600];
        memcpy(q, base, strlen(base) + 1);
        if (cursor[0] && query_add(q, sizeof(q), "cursor", cursor) != 0) {
            fprintf(stderr, "%s: cursor too long\n", prog);
            xs = 2;
            goto out;
        }
        snprintf(path, sizeof(path), "/v1/movements%s%s", q[0] ? "?" : "", q);
        kv_client_resp_release(&r);
        xs = kv_remote_call(prog, c, "GET", path, NULL, 0, &r);
        if (xs != 0)
            goto out;
        if (r.status != 200) {
            xs = kv_remote_fail(prog, &r, NULL);
            goto out;
        }
        json_object *o = answer_json(prog, &r), *items = NULL;
        if (!o || !json_object_object_get_ex(o, "items", &items) ||
            !json_object_is_type(items, json_type_array)) {
            if (o)
                fprintf(stderr, "%s: the node's answer has no \"items\" list\n", prog);
            json_object_put(o);
            xs = 2;
            goto out;
        }
        const char *next = kv_remote_str(o, "next", NULL);
        size_t n = json_object_array_length(items);
        total += n;
        if (a.json && !l.all) {
            kv_remote_print_json(o);
        } else if (a.json) {
            for (size_t i = 0; i < n; i++)
                json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
        } else {
            for (size_t i = 0; i < n; i++)
                print_summary(json_object_array_get_idx(items, i));
        }
        bool more = next && *next;
        if (more && (size_t)snprintf(cursor, sizeof(cursor), "%s", next) >= sizeof(cursor)) {
            fprintf(stderr, "%s: the node's cursor is too long\n", prog);
            json_object_put(o);
            xs = 2;
            goto out;
        }
        json_object_put(o);
        if (!more)
            break;
        if (!l.all) {
            if (!a.json)
                fprintf(stderr, "(more: --all, or --cursor %s)\n", cursor);
            break;
        }
        if (page > 1000000) { /* a node that never ends its pages */
            fprintf(stderr, "%s: stopped after %u pages\n", prog, page);
            xs = 2;
            goto out;
        }
    }
    if (all) {
        json_object *root = json_object_new_object();
        if (!root) {
            xs = 2;
            goto out;
        }
        json_object_object_add(root, "items", all);
        json_object_object_add(root, "next", NULL);
        all = NULL;
        kv_remote_print_json(root);
        json_object_put(root);
    } else if (!a.json) {
        fprintf(stderr, "%zu movement%s\n", total, total == 1 ? "" : "s");
    }
out:
    json_object_put(all);
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}

/* ---------------------------------------------------------------------------
 * kervan guarantee add GRN AMOUNT CURRENCY | show GRN
 */

static void guarantee_usage(FILE *out)
{
    fprintf(out,
            "usage: kervan guarantee add [--json] [connection] GRN AMOUNT CURRENCY\n"
            "       kervan guarantee show [--json] [connection] GRN\n\n"
            "add   registers a guarantee as its guarantor: POST /v1/guarantees with the\n"
            "      reference amount (exact decimal, e.g. 50000.00) in CURRENCY (ISO 4217).\n"
            "      The same figures again are harmless (\"already registered\").\n"
            "show  the guarantee's ledger: reference, reserved, remaining, uses.\n\n"
            "%s\n"
            "exit status: 0 done, 1 refused (invalid, other figures, not found), 2 failure\n",
            kv_remote_opts_help);
}

static void print_guarantee(json_object *g)
{
    char buf[128];
    const char *cur = kv_remote_str(g, "currency", "");
    field("GRN", kv_remote_str(g, "grn", "?"));
    field("guarantor", kv_remote_str(g, "guarantor", "-"));
    snprintf(buf, sizeof(buf), "%s %s", val_text(g, "referenceAmount", "?"), cur);
    field("reference", buf);
    snprintf(buf, sizeof(buf), "%s %s", val_text(g, "reserved", "?"), cur);
    field("reserved", buf);
    snprintf(buf, sizeof(buf), "%s %s", val_text(g, "remaining", "?"), cur);
    field("remaining", buf);
    snprintf(buf, sizeof(buf), "%s active, %s in all", val_text(g, "activeUses", "?"),
             val_text(g, "totalUses", "?"));
    field("uses", buf);
    field("registered", kv_remote_str(g, "createdAt", "-"));
}

int kv_cmd_guarantee(int argc, char **argv)
{
    const char *prog = "kervan guarantee";
    if (kv_cli_wants_help(argc, argv)) {
        guarantee_usage(stdout);
        return 0;
    }
    struct args a;
    if (parse_args(prog, argc, argv, true, &a, NULL, NULL) != 0)
        return 2;
    bool add = a.npos >= 1 && strcmp(a.pos[0], "add") == 0;
    bool show = a.npos >= 1 && strcmp(a.pos[0], "show") == 0;
    if (!(add && a.npos == 4) && !(show && a.npos == 2)) {
        guarantee_usage(stderr);
        return 2;
    }
    struct kv_client *c = NULL;
    struct kv_client_resp r = {0};
    json_object *req = NULL, *o = NULL;
    int xs = kv_remote_connect(prog, &a.conn, &c);
    if (xs != 0)
        goto out;
    if (add) {
        req = json_object_new_object();
        if (!req) {
            xs = 2;
            goto out;
        }
        json_object_object_add(req, "grn", json_object_new_string(a.pos[1]));
        json_object_object_add(req, "referenceAmount", json_object_new_string(a.pos[2]));
        json_object_object_add(req, "currency", json_object_new_string(a.pos[3]));
        size_t len;
        const char *body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
        xs = kv_remote_call(prog, c, "POST", "/v1/guarantees", body, len, &r);
    } else {
        char path[PATH_BUF] = "/v1/guarantees/";
        if (kv_remote_escape(path, sizeof(path), a.pos[1]) != 0) {
            fprintf(stderr, "%s: GRN too long\n", prog);
            xs = 2;
            goto out;
        }
        xs = kv_remote_call(prog, c, "GET", path, NULL, 0, &r);
    }
    if (xs != 0)
        goto out;
    if (r.status != 200 && !(add && r.status == 201)) {
        xs = kv_remote_fail(prog, &r, show ? a.pos[1] : NULL);
        goto out;
    }
    if (!(o = answer_json(prog, &r))) {
        xs = 2;
        goto out;
    }
    if (a.json) {
        kv_remote_print_json(o);
    } else if (add) {
        kv_remote_print_clean(stdout, kv_remote_str(o, "grn", a.pos[1]));
        fputs(" registered: ", stdout);
        kv_remote_print_clean(stdout, val_text(o, "referenceAmount", a.pos[2]));
        fputc(' ', stdout);
        kv_remote_print_clean(stdout, kv_remote_str(o, "currency", a.pos[3]));
        if (r.status == 200)
            fputs(" (already registered: same figures)", stdout);
        fputc('\n', stdout);
    } else {
        print_guarantee(o);
    }
out:
    json_object_put(o);
    json_object_put(req);
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}
