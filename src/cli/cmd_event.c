/*
 * cmd_event.c — `kervan event MRN TYPE [key=value ...]`: record one event of
 * a movement at the node (POST /v1/movements/MRN/events).
 *
 * The command builds the event's JSON (docs/movement.md) from its
 * arguments: the type, `--office`, `--time` (default: now, UTC) and one
 * `key=value` per member, typed by a table of the members of each event
 * type (booleans, comma-separated lists, nested `transhipment.x` members, a
 * JSON file for an amendment's declaration). Keys may be written as in the
 * JSON (controlResult) or in kebab case (control-result). `key:=JSON` sends
 * any member as raw JSON. `--file EVENT.json` starts from a whole event.
 *
 * When --office is not given, the office is taken from the movement: the
 * office of departure for the departure's events, the office where the
 * goods arrived (else the declared destination) for the destination's.
 * Border events (presented, cleared, incident) need --office.
 *
 * The node validates everything again; this table only types the values
 * and catches misspelt keys before a round trip.
 */
#include "cli/cli.h"
#include "cli/remote.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_FILE_MAX (8u << 20)
#define PATH_BUF       2048
#define KEY_MAX        64

enum kind { K_STR, K_BOOL, K_LIST, K_JSON };

/* Where the office of an event is when --office is not given. */
enum office_from { OF_NONE, OF_DEPARTURE, OF_DESTINATION };

struct member {
    const char *name; /* JSON name; "a.b" for a member of object a */
    enum kind kind;
};

struct event_type {
    const char *type;
    enum office_from office;
    struct member members[10];
};

static const struct event_type types[] = {
    {"control_decision", OF_DEPARTURE, {{"control", K_BOOL}, {"reason", K_STR}}},
    {"release", OF_DEPARTURE, {{"controlResult", K_STR}, {"seals", K_LIST}}},
    {"no_release", OF_DEPARTURE, {{"reason", K_STR}}},
    {"amendment", OF_DEPARTURE, {{"declaration", K_JSON}}},
    {"cancellation", OF_DEPARTURE, {{"initiatedBy", K_STR}, {"reason", K_STR}}},
    {"presented", OF_NONE, {{"side", K_STR}}},
    {"cleared", OF_NONE, {{"side", K_STR}}},
    {"incident",
     OF_NONE,
     {{"code", K_STR},
      {"text", K_STR},
      {"place", K_STR},
      {"latitude", K_STR},
      {"longitude", K_STR},
      {"sealsState", K_STR},
      {"newSeals", K_LIST},
      {"transhipment.meansId", K_STR},
      {"transhipment.nationality", K_STR}}},
    {"arrival", OF_DESTINATION, {{NULL, K_STR}}},
    {"unloading_remarks",
     OF_DESTINATION,
     {{"conform", K_BOOL}, {"sealsIntact", K_BOOL}, {"discrepancies", K_STR}}},
    {"discrepancies_resolved", OF_DESTINATION, {{"text", K_STR}}},
    {"write_off", OF_DEPARTURE, {{NULL, K_STR}}},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: kervan event [--office REF] [--time T] [--file EVENT.json] [--json]\n"
                 "                    [connection] MRN TYPE [key=value ...]\n\n"
                 "Records one event of movement MRN at the node (POST /v1/movements/MRN/events)\n"
                 "and prints the movement's new state and the events allowed next. The event is\n"
                 "built from the arguments (docs/movement.md); the node checks it against the\n"
                 "movement's state and the caller's role.\n\n"
                 "  --office REF       where it happened; default: the office of departure for\n"
                 "                     the departure's events, the arrival (else destination)\n"
                 "                     office for the destination's; border events need it\n"
                 "  --time T           RFC 3339 (2025-03-01T15:10:00+05:00); default: now, UTC\n"
                 "  --file EVENT.json  start from this event (TYPE may then be left out);\n"
                 "                     the other arguments override its members\n"
                 "  --json             print the node's answer as JSON\n\n"
                 "key=value sets a member (keys as in the JSON, or kebab-case: control-result);\n"
                 "lists are comma-separated (seals=KZ1,KZ2; seals= for none), booleans\n"
                 "true/false/yes/no; key:=JSON sends raw JSON; declaration=@FILE reads a file.\n\n"
                 "types and their members:\n");
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        fprintf(out, "  %-23s", types[t].type);
        int col = 25;
        if (!types[t].members[0].name)
            fputs("(no members)", out);
        for (size_t m = 0; types[t].members[m].name; m++) {
            static const char *const kinds[] = {"text", "true|false", "A,B,...", "@FILE|JSON"};
            const char *name = types[t].members[m].name, *kind = kinds[types[t].members[m].kind];
            int w = (int)(strlen(name) + 1 + strlen(kind));
            if (m && col + 1 + w > 79) {
                fprintf(out, "\n%25s", "");
                col = 25;
            } else if (m) {
                fputc(' ', out);
                col++;
            }
            fprintf(out, "%s=%s", name, kind);
            col += w;
        }
        fputc('\n', out);
    }
    fprintf(out,
            "\nexamples:\n"
            "  kervan event 25KZ00000000000HK0 release --office KZ050100 control-result=A1 \\\n"
            "      seals=KZ0417731,KZ0417732\n"
            "  kervan event 25KZ00000000000HK0 presented --office KZ610100 side=exit\n"
            "  kervan event 25KZ00000000000HK0 unloading_remarks conform=false \\\n"
            "      seals-intact=true discrepancies='2 cartons missing'\n\n"
            "%s\n"
            "exit status: 0 recorded, 1 refused (invalid event 422, forbidden 403, not\n"
            "allowed in this state 409, not found 404), 2 failure\n",
            kv_remote_opts_help);
}

static const struct event_type *find_type(const char *name)
{
    char norm[KEY_MAX];
    size_t n = strlen(name);
    if (n >= sizeof(norm))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
        if (strcmp(types[t].type, norm) == 0)
            return &types[t];
    return NULL;
}

/* kebab-case or snake_case → camelCase, per dotted segment. Returns -1 if too long. */
static int camel(const char *in, size_t len, char *out, size_t outsz)
{
    size_t o = 0;
    bool up = false;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '-' || ch == '_') {
            up = o > 0 && out[o - 1] != '.';
            continue;
        }
        if (o + 1 >= outsz)
            return -1;
        out[o++] = up && ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
        up = false;
    }
    out[o] = '\0';
    return 0;
}

static const struct member *find_member(const struct event_type *t, const char *name)
{
    for (size_t m = 0; t && t->members[m].name; m++)
        if (strcmp(t->members[m].name, name) == 0)
            return &t->members[m];
    return NULL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1", "y"};
    static const char *const no[] = {"false", "no", "0", "n"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Parses JSON text of any type; NULL when it is not exactly one JSON value. */
static json_object *parse_json(const char *s, size_t len, bool *ok)
{
    *ok = false;
    if (len > (size_t)INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_object *o = json_tokener_parse_ex(tok, s, (int)len);
    *ok = json_tokener_get_error(tok) == json_tokener_success &&
          (size_t)json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!*ok) {
        json_object_put(o);
        return NULL;
    }
    return o; /* may be NULL for the JSON literal null */
}

/* A comma-separated list → array of strings (blanks around items removed). */
static json_object *make_list(const char *s)
{
    json_object *a = json_object_new_array();
    if (!a || !*s)
        return a;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        const char *b = s;
        while (n && (*b == ' ' || *b == '\t'))
            b++, n--;
        while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
            n--;
        json_object_array_add(a, json_object_new_string_len(b, (int)n));
        if (!end)
            break;
        s = end + 1;
    }
    return a;
}

/* Sets ev[path] = v, creating the parent object of "a.b". Takes v. */
static int set_path(json_object *ev, const char *path, json_object *v)
{
    const char *dot = strchr(path, '.');
    if (!dot) {
        json_object_object_add(ev, path, v);
        return 0;
    }
    char parent[KEY_MAX];
    size_t n = (size_t)(dot - path);
    if (n == 0 || n >= sizeof(parent) || strchr(dot + 1, '.') || !dot[1]) {
        json_object_put(v);
        return -1;
    }
    memcpy(parent, path, n);
    parent[n] = '\0';
    json_object *p;
    if (!json_object_object_get_ex(ev, parent, &p) || !json_object_is_type(p, json_type_object)) {
        p = json_object_new_object();
        json_object_object_add(ev, parent, p);
    }
    json_object_object_add(p, dot + 1, v);
    return 0;
}

/* Applies one key=value / key:=json argument to ev. Returns 0 or 2 (printed). */
static int apply_arg(const char *prog, const struct event_type *t, json_object *ev, const char *arg)
{
    const char *eq = strchr(arg, '=');
    bool raw = eq > arg && eq[-1] == ':';
    size_t klen = (size_t)(eq - arg) - (raw ? 1 : 0);
    char key[KEY_MAX];
    if (klen == 0 || camel(arg, klen, key, sizeof(key)) != 0 || !key[0]) {
        fprintf(stderr, "%s: bad key in '%s'\n", prog, arg);
        return 2;
    }
    const char *val = eq + 1;
    json_object *v = NULL;
    if (raw) {
        bool ok;
        v = parse_json(val, strlen(val), &ok);
        if (!ok) {
            fprintf(stderr, "%s: %s: not JSON: %s\n", prog, key, val);
            return 2;
        }
    } else {
        const struct member *m = find_member(t, key);
        if (!m) {
            fprintf(stderr, "%s: %s has no member '%s' (", prog, t ? t->type : "this event", key);
            for (size_t i = 0; t && t->members[i].name; i++)
                fprintf(stderr, "%s%s", i ? ", " : "", t->members[i].name);
            if (!t || !t->members[0].name)
                fputs("it has none", stderr);
            fprintf(stderr, "); use %s:=JSON to send it anyway\n", key);
            return 2;
        }
        switch (m->kind) {
        case K_STR:
            v = json_object_new_string(val);
            break;
        case K_BOOL: {
            bool b;
            if (parse_bool(val, &b) != 0) {
                fprintf(stderr, "%s: %s: '%s' is not true or false\n", prog, key, val);
                return 2;
            }
            v = json_object_new_boolean(b);
            break;
        }
        case K_LIST:
            v = make_list(val);
            break;
        case K_JSON: {
            char *buf = NULL;
            size_t len = strlen(val);
            bool ok;
            if (val[0] == '@') {
                if (kv_cli_read_file(val + 1, EVENT_FILE_MAX, &buf, &len) != 0)
                    return 2;
                v = parse_json(buf, len, &ok);
            } else {
                v = parse_json(val, len, &ok);
            }
            free(buf);
            if (!ok) {
                fprintf(stderr, "%s: %s: not JSON (give @FILE or the JSON text)\n", prog, key);
                return 2;
            }
            break;
        }
        }
    }
    if (set_path(ev, key, v) != 0) {
        fprintf(stderr, "%s: bad key '%s'\n", prog, key);
        return 2;
    }
    return 0;
}

/*
 * The default office of an event of type t: read the movement and take its
 * office of departure, or where it arrived (else its destination).
 * Returns 0 with office filled, or an exit status (printed).
 */
static int default_office(const char *prog, struct kv_client *c, const char *mrn_path,
                          const struct event_type *t, char *office, size_t officesz)
{
    struct kv_client_resp r = {0};
    int xs = kv_remote_call(prog, c, "GET", mrn_path, NULL, 0, &r);
    if (xs != 0)
        return xs;
    if (r.status != 200) {
        fprintf(stderr, "%s: cannot read the movement to find the office (give --office):\n", prog);
        xs = kv_remote_fail(prog, &r, NULL);
        kv_client_resp_release(&r);
        return xs;
    }
    json_object *m = kv_remote_json(&r), *evs;
    const char *o = NULL;
    if (t->office == OF_DEPARTURE) {
        o = kv_remote_str(m, "officeOfDeparture", NULL);
    } else {
        o = kv_remote_str(m, "officeOfDestination", NULL);
        if (m && json_object_object_get_ex(m, "events", &evs) &&
            json_object_is_type(evs, json_type_array)) {
            for (size_t i = 0; i < json_object_array_length(evs); i++) {
                json_object *ev = json_object_array_get_idx(evs, i);
                if (strcmp(kv_remote_str(ev, "type", ""), "arrival") == 0)
                    o = kv_remote_str(ev, "office", o);
            }
        }
    }
    if (o && strlen(o) < officesz) {
        memcpy(office, o, strlen(o) + 1);
    } else {
        fprintf(stderr, "%s: the movement does not say which office; give --office\n", prog);
        xs = 2;
    }
    json_object_put(m);
    kv_client_resp_release(&r);
    return xs;
}

static void print_result(json_object *o, const char *mrn, const char *type)
{
    kv_remote_print_clean(stdout, mrn);
    fputs(": ", stdout);
    kv_remote_print_clean(stdout, type);
    json_object *seq;
    if (json_object_object_get_ex(o, "seq", &seq))
        printf(" recorded as event %s", json_object_get_string(seq));
    else if (json_object_object_get_ex(o, "pending", &seq) && json_object_get_boolean(seq))
        fputs(" recorded here, pending: sent to the movement's owner, which orders it", stdout);
    else
        fputs(" recorded", stdout);
    fputs("; state ", stdout);
    kv_remote_print_clean(stdout, kv_remote_str(o, "state", "?"));
    json_object *a;
    if (json_object_object_get_ex(o, "flags", &a) && json_object_is_type(a, json_type_array) &&
        json_object_array_length(a) > 0) {
        fputs(" (", stdout);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
            if (i)
                fputs(", ", stdout);
            const char *s = json_object_get_string(json_object_array_get_idx(a, i));
            kv_remote_print_clean(stdout, s ? s : "?");
        }
        fputc(')', stdout);
    }
    fputs("\nallowed next: ", stdout);
    size_t n = 0;
    if (json_object_object_get_ex(o, "allowedEvents", &a) &&
        json_object_is_type(a, json_type_array))
        n = json_object_array_length(a);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", stdout);
        const char *s = json_object_get_string(json_object_array_get_idx(a, i));
        kv_remote_print_clean(stdout, s ? s : "?");
    }
    fputs(n ? "\n" : "nothing (final state)\n", stdout);
}

int kv_cmd_event(int argc, char **argv)
{
    const char *prog = "kervan event";
    if (kv_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct kv_remote_opts conn = {0};
    const char *office = NULL, *when = NULL, *file = NULL, *pos[64];
    int npos = 0;
    bool json = false, only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (only_pos || s[0] != '-' || s[1] == '\0') {
            if (npos >= (int)(sizeof(pos) / sizeof(pos[0]))) {
                fprintf(stderr, "%s: too many arguments\n", prog);
                return 2;
            }
            pos[npos++] = s;
            continue;
        }
        if (strcmp(s, "--json") == 0) {
            json = true;
            continue;
        }
        int r = kv_remote_opt(prog, argc, argv, &i, &conn);
        if (r == 0)
            r = kv_remote_opt_value(prog, argc, argv, &i, "--office", &office);
        if (r == 0)
            r = kv_remote_opt_value(prog, argc, argv, &i, "--time", &when);
        if (r == 0)
            r = kv_remote_opt_value(prog, argc, argv, &i, "--file", &file);
        if (r < 0)
            return 2;
        if (r == 0) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", prog, s);
            return 2;
        }
    }
    if (npos < 1 || (npos < 2 && !file)) {
        usage(stderr);
        return 2;
    }
    const char *mrn = pos[0];
    int first_kv = 1;
    const char *type_name = NULL;
    if (npos >= 2 && !strchr(pos[1], '=')) {
        type_name = pos[1];
        first_kv = 2;
    }

    int xs = 2;
    json_object *ev = NULL;
    struct kv_client *c = NULL;
    struct kv_client_resp r = {0};
    char *fbuf = NULL;

    if (file) {
        size_t flen;
        bool ok;
        if (kv_cli_read_file(file, EVENT_FILE_MAX, &fbuf, &flen) != 0)
            goto out;
        ev = parse_json(fbuf, flen, &ok);
        if (!ok || !json_object_is_type(ev, json_type_object)) {
            fprintf(stderr, "%s: %s: not a JSON object\n", prog, file);
            goto out;
        }
    } else if (!(ev = json_object_new_object())) {
        goto out;
    }
    if (type_name) {
        const struct event_type *t = find_type(type_name);
        json_object_object_add(ev, "type", json_object_new_string(t ? t->type : type_name));
        if (!t) {
            fprintf(stderr, "%s: unknown event type '%s'; one of:", prog, type_name);
            for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
                fprintf(stderr, " %s", types[k].type);
            fputc('\n', stderr);
            goto out;
        }
    }
    const struct event_type *t = find_type(kv_remote_str(ev, "type", ""));
    if (!t) {
        fprintf(stderr, "%s: %s gives no known event type\n", prog, file ? file : "the event");
        goto out;
    }
    for (int k = first_kv; k < npos; k++) {
        if (!strchr(pos[k], '=')) {
            fprintf(stderr, "%s: '%s' is not key=value\n", prog, pos[k]);
            goto out;
        }
        if (apply_arg(prog, t, ev, pos[k]) != 0)
            goto out;
    }
    if (strcmp(t->type, "release") == 0 && !json_object_object_get_ex(ev, "seals", NULL))
        json_object_object_add(ev, "seals", json_object_new_array()); /* none declared */
    if (when) {
        json_object_object_add(ev, "time", json_object_new_string(when));
    } else if (!json_object_object_get_ex(ev, "time", NULL)) {
        char now[32];
        time_t tt = time(NULL);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_object_add(ev, "time", json_object_new_string(now));
    }

    char mpath[PATH_BUF] = "/v1/movements/";
    if (kv_remote_escape(mpath, sizeof(mpath), mrn) != 0) {
        fprintf(stderr, "%s: MRN too long\n", prog);
        goto out;
    }
    if ((xs = kv_remote_connect(prog, &conn, &c)) != 0)
        goto out;
    if (office) {
        json_object_object_add(ev, "office", json_object_new_string(office));
    } else if (!json_object_object_get_ex(ev, "office", NULL)) {
        if (t->office == OF_NONE) {
            fprintf(stderr, "%s: %s needs --office REF (the office recording it)\n", prog, t->type);
            xs = 2;
            goto out;
        }
        char o[16];
        if ((xs = default_office(prog, c, mpath, t, o, sizeof(o))) != 0)
            goto out;
        json_object_object_add(ev, "office", json_object_new_string(o));
    }

    char epath[PATH_BUF + 16];
    snprintf(epath, sizeof(epath), "%s/events", mpath);
    size_t blen;
    const char *body = json_object_to_json_string_length(
        ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
    if ((xs = kv_remote_call(prog, c, "POST", epath, body, blen, &r)) != 0)
        goto out;
    if (r.status != 201 && r.status != 200) {
        xs = kv_remote_fail(prog, &r, mrn);
        goto out;
    }
    json_object *o = kv_remote_json(&r);
    if (!o) {
        fprintf(stderr, "%s: the node's answer (%ld) is not a JSON object\n", prog, r.status);
        xs = 2;
        goto out;
    }
    if (json)
        kv_remote_print_json(o);
    else
        print_result(o, mrn, t->type);
    json_object_put(o);
    xs = 0;
out:
    free(fbuf);
    json_object_put(ev);
    kv_client_resp_release(&r);
    kv_client_free(c);
    kv_client_global_cleanup();
    return xs;
}
