/*
 * cmd_mrn.c — `kervan mrn`: verify Movement Reference Numbers, or allocate
 * new ones.
 *
 *   kervan mrn verify [--p5] [--quiet] MRN|- ...
 *   kervan mrn new --country CC --security N [--count K] [--year YYYY]
 *
 * The checks live in src/core/ident.c; this file turns a verdict into a
 * sentence an officer can act on, reads lists from standard input, and
 * brings the clock (default year) and randomness (first serial) that the
 * core may not touch. See docs/identifiers.md.
 */
#include "cli/cli.h"
#include "core/ident.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Longest stdin line we read; longer lines are reported, not truncated. */
#define LINE_MAX_CHARS 100
/* How much of a bad argument we echo back. */
#define ECHO_MAX  40
#define COUNT_MAX 100000
/* New MRNs must match the P5 pattern, whose year is 24–99. */
#define YEAR_MIN 2024
#define YEAR_MAX 2099

static void usage_mrn(FILE *out)
{
    fprintf(out, "usage: kervan mrn verify [--p5] [--quiet] MRN|- ...\n"
                 "       kervan mrn new --country CC --security N [--count K] [--year YYYY]\n"
                 "\n"
                 "Movement Reference Numbers (MRN) identify a transit movement: 18 characters,\n"
                 "YY + country + 12 characters + procedure letter + ISO 6346 check digit.\n"
                 "\n"
                 "  verify   check MRNs: layout, procedure letter (R0410) and check digit\n"
                 "  new      allocate fresh MRNs for a country\n"
                 "\n"
                 "`kervan mrn verify --help` and `kervan mrn new --help` say more;\n"
                 "docs/identifiers.md describes the layout and the algorithm.\n");
}

static void usage_verify(FILE *out)
{
    fprintf(out, "usage: kervan mrn verify [--p5] [--quiet] MRN|- ...\n"
                 "\n"
                 "Checks each MRN and prints one line for it on standard output:\n"
                 "  MRN: valid (P5)        NCTS P5 layout, YY 24-99, 17th character J, K, L or M\n"
                 "  MRN: valid (Phase 4)   the legacy layout, YY 00-24, 13 free characters\n"
                 "  MRN: REASON            why it is refused (length, character, pattern,\n"
                 "                         procedure letter, check digit)\n"
                 "\n"
                 "  -        read MRNs from standard input, one per line (blank lines and\n"
                 "           surrounding spaces are ignored)\n"
                 "  --p5     accept only the P5 layout (what NCTS P5 applications require\n"
                 "           for MRNs received from 1 January 2024)\n"
                 "  --quiet  print only the refused MRNs\n"
                 "\n"
                 "Upper case only. Exit status: 0 all valid, 1 at least one refused,\n"
                 "2 usage error.\n");
}

static void usage_new(FILE *out)
{
    fprintf(out,
            "usage: kervan mrn new --country CC --security N [--count K] [--year YYYY]\n"
            "\n"
            "Prints K new transit MRNs (default 1, at most %d), one per line.\n"
            "\n"
            "  --country CC   ISO 3166-1 alpha-2 code of the allocating country, upper case\n"
            "  --security N   safety and security indicator (CL217), which sets the 17th\n"
            "                 character by rule R0410:\n"
            "                   0  no safety and security data      -> J\n"
            "                   1  entry summary declaration (ENS)   -> L\n"
            "                   2  exit summary declaration (EXS)    -> K\n"
            "                   3  both ENS and EXS                  -> M\n"
            "  --count K      how many MRNs (1-%d)\n"
            "  --year YYYY    year of acceptance, %d-%d (default: the current UTC year)\n"
            "\n"
            "Characters 5-16 are a base-36 serial. This command starts from a random\n"
            "serial and counts upward, so the K MRNs of one run are distinct; a\n"
            "customs node allocates from its own per-year counter instead.\n",
            COUNT_MAX, COUNT_MAX, YEAR_MIN, YEAR_MAX);
}

/* Writes s[0..len) with bytes outside printable ASCII as \xNN, at most max bytes. */
static void put_escaped(FILE *out, const char *s, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02X", c);
    }
    if (n < len)
        fputs("...", out);
}

/* " 'c'" for a printable byte, " (byte 0xNN)" otherwise. */
static void describe_char(char *buf, size_t cap, char c)
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f)
        snprintf(buf, cap, "'%c'", c);
    else
        snprintf(buf, cap, "(byte 0x%02X)", u);
}

/* The sentence for a refused MRN (1-based positions for people). */
static void explain(char *buf, size_t cap, const char *s, size_t len, const struct kv_id_result *r)
{
    char ch[16] = "";
    if (r->position >= 0 && (size_t)r->position < len)
        describe_char(ch, sizeof(ch), s[r->position]);
    int pos = r->position + 1;

    switch (r->verdict) {
    case KV_ID_OK:
        snprintf(buf, cap, "valid");
        return;
    case KV_ID_LENGTH:
        snprintf(buf, cap,
                 "length: %zu characters, an MRN has %d (YY, country, 12 characters, "
                 "procedure letter, check digit)",
                 len, KV_MRN_LEN);
        return;
    case KV_ID_CHARSET:
        snprintf(buf, cap, "character %d %s is not [A-Z0-9]%s", pos, ch,
                 s[r->position] >= 'a' && s[r->position] <= 'z' ? " (MRNs are upper case)" : "");
        return;
    case KV_ID_PATTERN:
        if (r->position <= 1 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9')
            snprintf(buf, cap,
                     "pattern: year %c%c is before 2024, so this is a Phase 4 MRN; --p5 "
                     "accepts only the NCTS P5 layout (YY 24-99, J-M at character 17)",
                     s[0], s[1]);
        else if (r->position <= 1)
            snprintf(buf, cap,
                     "pattern: character %d %s is not a digit (characters 1-2 are the year, "
                     "YY)",
                     pos, ch);
        else if (r->position <= 3)
            snprintf(buf, cap,
                     "pattern: character %d %s is not a letter (characters 3-4 are the "
                     "ISO 3166-1 alpha-2 country code)",
                     pos, ch);
        else
            snprintf(buf, cap, "pattern: character %d %s is not a digit (it is the check digit)",
                     pos, ch);
        return;
    case KV_ID_PROCEDURE: {
        char c = s[r->position];
        /* R0416: export MRNs carry A, B or E here; say so, it is a common mix-up. */
        bool export = c == 'A' || c == 'B' || c == 'E';
        snprintf(buf, cap,
                 "17th character %s is not a transit procedure letter (J, K, L, M; rule "
                 "R0410)%s",
                 ch, export ? "; A, B and E mark export MRNs (rule R0416)" : "");
        return;
    }
    case KV_ID_CHECK:
        /* The layout check has made s[17] a digit. */
        snprintf(buf, cap, "check digit: expected %c, found %c", r->expected, s[r->position]);
        return;
    }
    snprintf(buf, cap, "refused");
}

/* Verifies one MRN and prints its line. Returns true when valid. */
static bool verify_one(const char *s, size_t len, enum kv_mrn_mode mode, bool quiet)
{
    struct kv_id_result r;
    bool ok = kv_mrn_verify(s, len, mode, &r);
    if (ok && quiet)
        return true;
    put_escaped(stdout, s, len, r.verdict == KV_ID_LENGTH ? ECHO_MAX : len);
    if (ok) {
        printf(": valid (%s)\n", r.legacy ? "Phase 4" : "P5");
    } else {
        char why[256];
        explain(why, sizeof(why), s, len, &r);
        printf(": %s\n", why);
    }
    return ok;
}

/*
 * Verifies the MRNs on standard input, one per line. Returns the number of
 * refused lines, or -1 when reading fails.
 */
static long verify_stdin(enum kv_mrn_mode mode, bool quiet)
{
    char line[LINE_MAX_CHARS + 2]; /* + newline + NUL */
    long bad = 0, lineno = 0;
    while (fgets(line, sizeof(line), stdin)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
            /* Too long: skip the rest of the line and report it. */
            int c;
            while ((c = getchar()) != EOF && c != '\n')
                ;
            printf("-: line %ld: longer than %d characters, not an MRN\n", lineno, LINE_MAX_CHARS);
            bad++;
            continue;
        }
        size_t b = 0;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            len--;
        while (b < len && (line[b] == ' ' || line[b] == '\t'))
            b++;
        if (b == len)
            continue;
        if (!verify_one(line + b, len - b, mode, quiet))
            bad++;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "kervan mrn verify: reading standard input: %s\n", strerror(errno));
        return -1;
    }
    return bad;
}

static int cmd_verify(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage_verify(stdout);
        return 0;
    }
    enum kv_mrn_mode mode = KV_MRN_P5_OR_LEGACY;
    bool quiet = false, dashdash = false;
    int nmrn = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || a[0] != '-' || strcmp(a, "-") == 0) {
            nmrn++;
        } else if (strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (strcmp(a, "--p5") == 0) {
            mode = KV_MRN_P5_ONLY;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = true;
        } else {
            fprintf(stderr,
                    "kervan mrn verify: unknown option '%s'; see `kervan mrn verify --help`\n", a);
            return 2;
        }
    }
    if (nmrn == 0) {
        fprintf(stderr, "kervan mrn verify: no MRN given (use - to read standard input); "
                        "see `kervan mrn verify --help`\n");
        return 2;
    }

    long bad = 0;
    dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && strcmp(a, "-") == 0) {
            long n = verify_stdin(mode, quiet);
            if (n < 0)
                return 2;
            bad += n;
        } else if (dashdash || a[0] != '-') {
            if (!verify_one(a, strlen(a), mode, quiet))
                bad++;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kervan mrn verify: writing standard output: %s\n", strerror(errno));
        return 2;
    }
    return bad ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* mrn new                                                                  */
/* ------------------------------------------------------------------------ */

/* Parses a whole decimal integer in [lo, hi]. Returns 0, or -1. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || *s == '\0' || *s == ' ' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/*
 * Matches "--name VALUE" or "--name=VALUE" at argv[*i]; sets *val and
 * advances *i past the value. Returns 1 matched, 0 not this option, -1
 * value missing.
 */
static int take_option(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *i += 1;
    *val = argv[*i];
    return 1;
}

/* A uniform random serial in 0..KV_MRN_SERIAL_MAX from getrandom(2). */
static int random_serial(uint64_t *out)
{
    const uint64_t range = KV_MRN_SERIAL_MAX + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range; /* reject the biased tail */
    for (;;) {
        uint64_t r;
        ssize_t got = getrandom(&r, sizeof(r), 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got != (ssize_t)sizeof(r))
            return -1;
        if (r < limit) {
            *out = r % range;
            return 0;
        }
    }
}

static int current_utc_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm))
        return -1;
    return tm.tm_year + 1900;
}

static int cmd_new(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv)) {
        usage_new(stdout);
        return 0;
    }
    const char *country = NULL, *security_s = NULL, *count_s = NULL, *year_s = NULL;
    for (int i = 1; i < argc; i++) {
        static const char *const names[] = {"--country", "--security", "--count", "--year"};
        const char **slots[] = {&country, &security_s, &count_s, &year_s};
        int matched = 0;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !matched; k++) {
            matched = take_option(argc, argv, &i, names[k], slots[k]);
            if (matched < 0) {
                fprintf(stderr, "kervan mrn new: %s needs a value; see `kervan mrn new --help`\n",
                        names[k]);
                return 2;
            }
        }
        if (!matched) {
            fprintf(stderr, "kervan mrn new: unknown argument '%s'; see `kervan mrn new --help`\n",
                    argv[i]);
            return 2;
        }
    }
    if (!country || !security_s) {
        fprintf(stderr, "kervan mrn new: --country and --security are required; "
                        "see `kervan mrn new --help`\n");
        return 2;
    }
    if (strlen(country) != 2 || country[0] < 'A' || country[0] > 'Z' || country[1] < 'A' ||
        country[1] > 'Z') {
        fprintf(stderr,
                "kervan mrn new: --country '%s': not two upper-case letters "
                "(ISO 3166-1 alpha-2, MRN characters 3-4)\n",
                country);
        return 2;
    }
    long security, count = 1, year;
    if (parse_int(security_s, 0, 3, &security) != 0) {
        fprintf(stderr,
                "kervan mrn new: --security '%s': not a security indicator (CL217): 0 none, "
                "1 ENS, 2 EXS, 3 ENS and EXS, giving J, L, K, M by rule R0410\n",
                security_s);
        return 2;
    }
    if (count_s && parse_int(count_s, 1, COUNT_MAX, &count) != 0) {
        fprintf(stderr, "kervan mrn new: --count '%s': must be a whole number from 1 to %d\n",
                count_s, COUNT_MAX);
        return 2;
    }
    if (year_s) {
        if (parse_int(year_s, YEAR_MIN, YEAR_MAX, &year) != 0) {
            fprintf(stderr,
                    "kervan mrn new: --year '%s': must be %d-%d (the NCTS P5 MRN pattern "
                    "allows YY 24-99)\n",
                    year_s, YEAR_MIN, YEAR_MAX);
            return 2;
        }
    } else {
        year = current_utc_year();
        if (year < YEAR_MIN || year > YEAR_MAX) {
            fprintf(stderr, "kervan mrn new: the clock says %ld, outside %d-%d; give --year\n",
                    year, YEAR_MIN, YEAR_MAX);
            return 2;
        }
    }

    uint64_t start;
    if (random_serial(&start) != 0) {
        fprintf(stderr, "kervan mrn new: getrandom: %s\n", strerror(errno));
        return 2;
    }
    for (long i = 0; i < count; i++) {
        /* Count upward from start, wrapping within 0..KV_MRN_SERIAL_MAX. */
        uint64_t serial = start + (uint64_t)i;
        if (serial > KV_MRN_SERIAL_MAX)
            serial -= KV_MRN_SERIAL_MAX + 1;
        char mrn[KV_MRN_LEN + 1];
        if (kv_mrn_make(mrn, (int)year, country, serial, (int)security) != 0) {
            fprintf(stderr, "kervan mrn new: internal error making MRN %" PRIu64 "\n", serial);
            return 2;
        }
        fputs(mrn, stdout);
        fputc('\n', stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kervan mrn new: writing standard output: %s\n", strerror(errno));
        return 2;
    }
    return 0;
}

int kv_cmd_mrn(int argc, char **argv)
{
    if (argc < 2) {
        usage_mrn(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        usage_mrn(stdout);
        return 0;
    }
    if (strcmp(sub, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(sub, "new") == 0)
        return cmd_new(argc - 1, argv + 1);
    fprintf(stderr, "kervan mrn: '%s' is not a subcommand (verify, new); see `kervan mrn --help`\n",
            sub);
    return 2;
}
