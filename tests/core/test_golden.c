/*
 * test_golden.c — the golden validation cases in tests/golden/validate/.
 *
 * Each case is a pair NNN-name.json (input) and NNN-name.expected (the
 * exact lines `pointer: rule: message` that `kervan validate` prints for
 * it, in the validator's order; empty for a valid declaration). The inputs
 * are written by tests/golden/make-cases.py; the .expected files are
 * written and reviewed by hand. Every case runs through kv_validate_json
 * with the embedded reference data, its problems are formatted exactly as
 * the CLI does, and any difference is printed as a line diff. The test
 * fails if the folder holds fewer than 40 cases with problems.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/declaration_json.h"
#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

#define GOLDEN_DIR    KV_SOURCE_DIR "/tests/golden/validate"
#define MIN_BAD_CASES 40

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* Splits text into lines (modifies it); returns the count, lines in *out (caller frees). */
static size_t split_lines(char *text, char ***out)
{
    size_t n = 0, cap = 16;
    char **lines = malloc(cap * sizeof(*lines));
    char *p = text;
    while (lines && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (n == cap) {
            char **nlines = realloc(lines, cap * 2 * sizeof(*lines));
            if (!nlines)
                break;
            lines = nlines;
            cap *= 2;
        }
        lines[n++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    *out = lines;
    return n;
}

/* The CLI's output for one report (see src/cli/cmd_validate.c). */
static char *format_report(const struct kv_report *rep)
{
    size_t cap = 256 + rep->count * (KV_POINTER_MAX + KV_MESSAGE_MAX + 24);
    char *out = malloc(cap);
    size_t o = 0;
    assert_non_null(out);
    out[0] = '\0';
    for (size_t k = 0; k < rep->count; k++) {
        const struct kv_problem *p = &rep->items[k];
        o += (size_t)snprintf(out + o, cap - o, "%s: %s: %s\n", p->pointer[0] ? p->pointer : "/",
                              p->rule, p->message);
    }
    if (rep->truncated)
        snprintf(out + o, cap - o, "(%zu more problems not shown)\n", rep->total - rep->count);
    return out;
}

/* Prints a line diff (longest common subsequence) of expected vs actual. */
static void print_diff(const char *name, char **e, size_t ne, char **a, size_t na)
{
    size_t *t = calloc((ne + 1) * (na + 1), sizeof(*t));
    printf("--- %s.expected\n+++ %s (actual)\n", name, name);
    if (!t)
        return;
#define T(i, j) t[(i) * (na + 1) + (j)]
    for (size_t i = ne; i-- > 0;)
        for (size_t j = na; j-- > 0;)
            T(i, j) = strcmp(e[i], a[j]) == 0
                          ? T(i + 1, j + 1) + 1
                          : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
    size_t i = 0, j = 0;
    while (i < ne || j < na) {
        if (i < ne && j < na && strcmp(e[i], a[j]) == 0) {
            printf("  %s\n", e[i]);
            i++;
            j++;
        } else if (j < na && (i == ne || T(i, j + 1) >= T(i + 1, j))) {
            printf("+ %s\n", a[j++]);
        } else {
            printf("- %s\n", e[i++]);
        }
    }
#undef T
    free(t);
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static void golden_cases(void **state)
{
    (void)state;
    struct kv_ref *ref = NULL;
    assert_int_equal(kv_ref_open(&ref), KV_OK);

    DIR *dir = opendir(GOLDEN_DIR);
    if (!dir)
        fail_msg("cannot open %s", GOLDEN_DIR);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len < 6 || strcmp(ent->d_name + len - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            assert_non_null(names);
        }
        names[n] = strndup(ent->d_name, len - 5);
        assert_non_null(names[n]);
        n++;
    }
    closedir(dir);
    qsort(names, n, sizeof(*names), name_cmp);

    size_t failed = 0, bad_cases = 0, valid_cases = 0;
    for (size_t c = 0; c < n; c++) {
        char path[1024];
        size_t in_len = 0, exp_len = 0;
        snprintf(path, sizeof(path), "%s/%s.json", GOLDEN_DIR, names[c]);
        char *input = read_all(path, &in_len);
        snprintf(path, sizeof(path), "%s/%s.expected", GOLDEN_DIR, names[c]);
        char *expected = read_all(path, &exp_len);
        if (!input || !expected) {
            printf("%s: missing %s\n", names[c], input ? ".expected" : ".json");
            failed++;
            free(input);
            free(expected);
            continue;
        }
        struct kv_report rep;
        kv_report_init(&rep);
        int rc = kv_validate_json(input, in_len, ref, &rep);
        char *actual = format_report(&rep);
        bool ok = strcmp(actual, expected) == 0;
        /* A case is valid exactly when nothing is expected; the verdict must agree. */
        bool valid = rc == KV_OK && kv_report_ok(&rep);
        if (ok && valid != (exp_len == 0)) {
            printf("%s: verdict mismatch (rc %d)\n", names[c], rc);
            ok = false;
        }
        if (!ok) {
            char **el = NULL, **al = NULL;
            char *ecopy = strdup(expected), *acopy = strdup(actual);
            size_t ne = split_lines(ecopy, &el), na = split_lines(acopy, &al);
            print_diff(names[c], el, ne, al, na);
            free(el);
            free(al);
            free(ecopy);
            free(acopy);
            failed++;
        }
        if (exp_len == 0)
            valid_cases++;
        else
            bad_cases++;
        free(actual);
        kv_report_release(&rep);
        free(input);
        free(expected);
    }
    for (size_t c = 0; c < n; c++)
        free(names[c]);
    free(names);
    kv_ref_close(ref);

    printf("golden: %zu cases (%zu valid, %zu with problems), %zu failed\n", n, valid_cases,
           bad_cases, failed);
    fflush(stdout);
    if (bad_cases < MIN_BAD_CASES)
        fail_msg("only %zu cases with problems in %s; at least %d required", bad_cases, GOLDEN_DIR,
                 MIN_BAD_CASES);
    if (failed)
        fail_msg("%zu golden case(s) differ", failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(golden_cases)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
