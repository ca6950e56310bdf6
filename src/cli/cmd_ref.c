/*
 * cmd_ref.c — `kervan codes` and `kervan offices`: the reference data.
 *
 *   kervan codes                   the lists, with their sizes
 *   kervan codes LIST              every code of a list: CODE<TAB>LABEL
 *   kervan codes LIST CODE...      look codes up (exit 1 if any is absent)
 *   kervan offices [--country CC] [--role ROLE] [--traffic T] [--json]
 *
 * The data and the lookups live in src/core/ref.c (embedded data/ files);
 * this file only formats. See docs/data.md for the lists and their sources.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/ref.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* How much of a bad argument we echo back. */
#define ECHO_MAX 40

/* What each list is, for `kervan codes` (same order as enum kv_list). */
static const char *const list_about[KV_LIST__COUNT] = {
    [KV_LIST_COUNTRY] = "ISO 3166-1 alpha-2 country codes (CL008, CL248, CL165)",
    [KV_LIST_CURRENCY] = "ISO 4217 current currency codes (CL048)",
    [KV_LIST_HS6] = "HS 2022 six-digit subheadings (CL152)",
    [KV_LIST_PACKAGE] = "UN/ECE Rec. 21 kinds of packages (CL017)",
    [KV_LIST_TRANSPORT_MODE] = "modes of transport (CL218)",
    [KV_LIST_DECLARATION_TYPE] = "transit declaration types (CL231)",
    [KV_LIST_SECURITY] = "safety and security data indicator (CL217)",
    [KV_LIST_GUARANTEE_TYPE] = "guarantee types (CL251)",
    [KV_LIST_INCIDENT] = "incident codes (CL019)",
};

static int open_ref(const char *cmd, struct kv_ref **ref)
{
    char err[256];
    int rc = kv_ref_open_err(ref, err, sizeof(err));
    if (rc != KV_OK) {
        fprintf(stderr, "kervan %s: cannot load the reference data: %s%s%s\n", cmd,
                kv_strerror(rc), err[0] ? ": " : "", err);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* kervan codes                                                             */

static void usage_codes(FILE *out)
{
    fprintf(out, "usage: kervan codes [LIST [CODE...]]\n"
                 "\n"
                 "Looks codes up in the code lists built into kervan.\n"
                 "\n"
                 "  kervan codes                 name each list, its size and what it holds\n"
                 "  kervan codes LIST            print every code of LIST as CODE<TAB>LABEL,\n"
                 "                               in byte order\n"
                 "  kervan codes LIST CODE...    print CODE<TAB>LABEL for each CODE found and a\n"
                 "                               message on standard error for each absent one\n"
                 "\n"
                 "LIST is one of: country, currency, hs, package, transport-mode,\n"
                 "declaration-type, security, guarantee-type, incident.\n"
                 "Codes are matched exactly (case-sensitive: KZ, not kz).\n"
                 "\n"
                 "Exit status: 0 all codes present, 1 at least one absent, 2 usage error.\n"
                 "docs/data.md gives the source and licence of each list.\n");
}

static void list_lists(const struct kv_ref *ref)
{
    printf("%-18s %6s  %s\n", "LIST", "CODES", "CONTENT");
    for (int i = 0; i < KV_LIST__COUNT; i++)
        printf("%-18s %6zu  %s\n", kv_list_name((enum kv_list)i),
               kv_ref_count(ref, (enum kv_list)i), list_about[i]);
}

/* Upper-cases up to cap-1 bytes of s into buf; true if it changed anything. */
static bool upper_copy(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        return false;
    bool changed = false;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
            changed = true;
        }
        buf[i] = c;
    }
    return changed;
}

int kv_cmd_codes(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage_codes(stdout);
        return 0;
    }
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0)
        first++;
    if (first < argc && argv[first][0] == '-' && argv[first][1] != '\0') {
        fprintf(stderr, "kervan codes: unknown option '%.*s'; see `kervan codes --help`\n",
                ECHO_MAX, argv[first]);
        return 2;
    }
    enum kv_list list = KV_LIST_COUNTRY;
    if (first < argc && kv_list_by_name(argv[first], &list) != KV_OK) {
        fprintf(stderr,
                "kervan codes: '%.*s' is not a list; lists: country, currency, hs, package,\n"
                "transport-mode, declaration-type, security, guarantee-type, incident\n",
                ECHO_MAX, argv[first]);
        return 2;
    }
    struct kv_ref *ref = NULL;
    if (open_ref("codes", &ref) != 0)
        return 2;
    int status = 0;
    if (first >= argc) {
        list_lists(ref);
    } else if (first + 1 >= argc) {
        size_t n = kv_ref_count(ref, list);
        for (size_t i = 0; i < n; i++)
            printf("%s\t%s\n", kv_ref_code_at(ref, list, i), kv_ref_label_at(ref, list, i));
    } else {
        const char *name = kv_list_name(list);
        for (int i = first + 1; i < argc; i++) {
            const char *code = argv[i];
            const char *label = kv_ref_label(ref, list, code, strlen(code));
            if (label) {
                printf("%s\t%s\n", code, label);
                continue;
            }
            status = 1;
            char up[16];
            if (upper_copy(code, up, sizeof(up)) && kv_ref_has(ref, list, up, strlen(up)))
                fprintf(stderr,
                        "kervan codes: %s: '%.*s' is not in the list (codes are case-sensitive; "
                        "did you mean '%s'?)\n",
                        name, ECHO_MAX, code, up);
            else
                fprintf(stderr, "kervan codes: %s: '%.*s' is not in the list\n", name, ECHO_MAX,
                        code);
        }
    }
    kv_ref_close(ref);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kervan codes: cannot write the output\n");
        return 2;
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* kervan offices                                                           */

static void usage_offices(FILE *out)
{
    fprintf(out,
            "usage: kervan offices [--country CC] [--role ROLE] [--traffic TYPE] [--json]\n"
            "\n"
            "Lists the customs offices of the corridor (the registry in data/offices.tsv),\n"
            "in reference order, as a table or as JSON.\n"
            "\n"
            "  --country CC     only offices of this country (ISO 3166-1 alpha-2, e.g. KZ)\n"
            "  --role ROLE      only offices with this role: DEP departure, TRA transit,\n"
            "                   TXT exit for transit, DES destination, INC incident,\n"
            "                   GUA guarantee\n"
            "  --traffic TYPE   only offices handling road, rail, sea or air traffic\n"
            "  --json           print a JSON array of objects instead of the table\n"
            "\n"
            "Filters combine (all must hold). STATUS is 'published' for references from\n"
            "the EU CS/RD2 list (Turkiye) and 'provisional' for references kervan defines\n"
            "for countries that publish none yet (KZ, AZ, GE, UZ, KG); see docs/data.md.\n"
            "\n"
            "Exit status: 0 success (also when nothing matches), 2 usage error.\n");
}

/* Display width of a UTF-8 string: one column per code point. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void put_padded(const char *s, size_t w)
{
    fputs(s, stdout);
    for (size_t n = width(s); n < w; n++)
        putchar(' ');
}

/* Writes the set bits of `bits` as names joined by ',' into buf. */
static void flag_text(unsigned bits, const char *(*name)(unsigned), char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned b = 1; b != 0 && b <= bits; b <<= 1) {
        if (!(bits & b) || !name(b))
            continue;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? "," : "", name(b));
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* Roles in the registry's customary order (DEP,TRA,TXT,DES,INC,GUA = bit order). */
static void roles_text(unsigned roles, char *buf, size_t cap)
{
    flag_text(roles, kv_office_role_name, buf, cap);
}

static void traffic_text(unsigned traffic, char *buf, size_t cap)
{
    flag_text(traffic, kv_office_traffic_name, buf, cap);
}

/* Micro-degrees as decimal degrees with 6 decimals. */
static void print_e6(int32_t v)
{
    int64_t a = v < 0 ? -(int64_t)v : v;
    printf("%s%lld.%06lld", v < 0 ? "-" : "", (long long)(a / 1000000), (long long)(a % 1000000));
}

static void json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_flags(unsigned bits, const char *(*name)(unsigned))
{
    putchar('[');
    bool first = true;
    for (unsigned b = 1; b != 0 && b <= bits; b <<= 1) {
        if (!(bits & b) || !name(b))
            continue;
        printf("%s", first ? "" : ", ");
        json_string(name(b));
        first = false;
    }
    putchar(']');
}

static void print_json(const struct kv_office *const *v, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        const struct kv_office *o = v[i];
        printf("%s\n  {\"ref\": ", i ? "," : "");
        json_string(o->ref);
        printf(", \"country\": ");
        json_string(o->country);
        printf(", \"name\": ");
        json_string(o->name);
        printf(", \"place\": ");
        json_string(o->place);
        printf(", \"unlocode\": ");
        if (o->unlocode[0])
            json_string(o->unlocode);
        else
            printf("null");
        printf(", \"lat\": ");
        print_e6(o->lat_e6);
        printf(", \"lon\": ");
        print_e6(o->lon_e6);
        printf(", \"roles\": ");
        json_flags(o->roles, kv_office_role_name);
        printf(", \"traffic\": ");
        json_flags(o->traffic, kv_office_traffic_name);
        printf(", \"provisional\": %s}", o->provisional ? "true" : "false");
    }
    printf("%s]\n", n ? "\n" : "");
}

static void print_table(const struct kv_office *const *v, size_t n)
{
    const char *head[] = {"REF", "NAME", "PLACE", "LOCODE", "ROLES", "TRAFFIC", "STATUS"};
    size_t w[6];
    char buf[64];
    for (int c = 0; c < 6; c++)
        w[c] = width(head[c]);
    for (size_t i = 0; i < n; i++) {
        const struct kv_office *o = v[i];
        size_t cw[6] = {width(o->ref), width(o->name), width(o->place), width(o->unlocode), 0, 0};
        roles_text(o->roles, buf, sizeof(buf));
        cw[4] = width(buf);
        traffic_text(o->traffic, buf, sizeof(buf));
        cw[5] = width(buf);
        for (int c = 0; c < 6; c++)
            if (cw[c] > w[c])
                w[c] = cw[c];
    }
    for (int c = 0; c < 6; c++) {
        put_padded(head[c], w[c]);
        fputs("  ", stdout);
    }
    puts(head[6]);
    for (size_t i = 0; i < n; i++) {
        const struct kv_office *o = v[i];
        put_padded(o->ref, w[0]);
        fputs("  ", stdout);
        put_padded(o->name, w[1]);
        fputs("  ", stdout);
        put_padded(o->place, w[2]);
        fputs("  ", stdout);
        put_padded(o->unlocode[0] ? o->unlocode : "-", w[3]);
        fputs("  ", stdout);
        roles_text(o->roles, buf, sizeof(buf));
        put_padded(buf, w[4]);
        fputs("  ", stdout);
        traffic_text(o->traffic, buf, sizeof(buf));
        put_padded(buf, w[5]);
        fputs("  ", stdout);
        puts(o->provisional ? "provisional" : "published");
    }
}

/* Parses "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL if argv[*i] is not --opt. */
static const char *option_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
    size_t n = strlen(opt);
    const char *a = argv[*i];
    if (strncmp(a, opt, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static unsigned bit_by_name(const char *s, const char *(*name)(unsigned))
{
    for (unsigned b = 1; b != 0 && b <= 0x80u; b <<= 1)
        if (name(b) && strcmp(name(b), s) == 0)
            return b;
    return 0;
}

int kv_cmd_offices(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage_offices(stdout);
        return 0;
    }
    const char *country = NULL, *role = NULL, *traffic = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        const char **slot = NULL;
        const char *opt = NULL;
        if ((v = option_value(argc, argv, &i, "--country", &missing)) || missing)
            slot = &country, opt = "--country";
        else if ((v = option_value(argc, argv, &i, "--role", &missing)) || missing)
            slot = &role, opt = "--role";
        else if ((v = option_value(argc, argv, &i, "--traffic", &missing)) || missing)
            slot = &traffic, opt = "--traffic";
        else if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        } else {
            fprintf(stderr, "kervan offices: unexpected argument '%.*s'; see "
                            "`kervan offices --help`\n",
                    ECHO_MAX, argv[i]);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "kervan offices: %s needs a value\n", opt);
            return 2;
        }
        if (*slot) {
            fprintf(stderr, "kervan offices: %s given twice\n", opt);
            return 2;
        }
        *slot = v;
    }
    unsigned role_bit = 0, traffic_bit = 0;
    if (role && !(role_bit = bit_by_name(role, kv_office_role_name))) {
        fprintf(stderr, "kervan offices: unknown role '%.*s'; roles: DEP TRA TXT DES INC GUA\n",
                ECHO_MAX, role);
        return 2;
    }
    if (traffic && !(traffic_bit = bit_by_name(traffic, kv_office_traffic_name))) {
        fprintf(stderr, "kervan offices: unknown traffic '%.*s'; traffic: road rail sea air\n",
                ECHO_MAX, traffic);
        return 2;
    }
    struct kv_ref *ref = NULL;
    if (open_ref("offices", &ref) != 0)
        return 2;
    if (country && !kv_ref_has(ref, KV_LIST_COUNTRY, country, strlen(country))) {
        fprintf(stderr,
                "kervan offices: '%.*s' is not an ISO 3166-1 alpha-2 country code (upper case, "
                "e.g. KZ)\n",
                ECHO_MAX, country);
        kv_ref_close(ref);
        return 2;
    }
    size_t n = kv_ref_office_count(ref), m = 0;
    const struct kv_office **v = malloc((n ? n : 1) * sizeof(*v));
    if (!v) {
        fprintf(stderr, "kervan offices: out of memory\n");
        kv_ref_close(ref);
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        const struct kv_office *o = kv_ref_office_at(ref, i);
        if (country && strcmp(o->country, country) != 0)
            continue;
        if (role_bit && !(o->roles & role_bit))
            continue;
        if (traffic_bit && !(o->traffic & traffic_bit))
            continue;
        v[m++] = o;
    }
    if (json)
        print_json(v, m);
    else if (m > 0)
        print_table(v, m);
    else
        fprintf(stderr, "kervan offices: no office matches\n");
    free(v);
    kv_ref_close(ref);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kervan offices: cannot write the output\n");
        return 2;
    }
    return 0;
}
