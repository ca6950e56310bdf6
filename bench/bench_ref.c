/*
 * bench_ref.c — how long kv_ref_open() takes on the embedded data, and how
 * long a lookup takes.
 *
 * Usage: build/bench/bench_ref [RUNS]   (default 21 opens, at most 1000)
 * Prints the first (cold) open, the median and the best of RUNS opens, and
 * the mean time of one kv_ref_has() over the HS list. Short on purpose: the
 * build machine is shared.
 */
#include "core/err.h"
#include "core/ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long runs = 21;
    if (argc > 1) {
        char *end;
        runs = strtol(argv[1], &end, 10);
        if (*end != '\0' || runs < 1 || runs > 1000) {
            fprintf(stderr, "usage: bench_ref [RUNS 1-1000]\n");
            return 2;
        }
    }
    double *t = malloc((size_t)runs * sizeof(*t));
    if (!t)
        return 2;
    struct kv_ref *ref = NULL;
    for (long i = 0; i < runs; i++) {
        double a = now_ms();
        int rc = kv_ref_open(&ref);
        double b = now_ms();
        if (rc != KV_OK) {
            fprintf(stderr, "kv_ref_open: %s\n", kv_strerror(rc));
            return 1;
        }
        t[i] = b - a;
        if (i + 1 < runs)
            kv_ref_close(ref);
    }
    double cold = t[0];
    qsort(t, (size_t)runs, sizeof(*t), cmp_double);
    printf("kv_ref_open: first %.3f ms, median %.3f ms, best %.3f ms (%ld runs)\n", cold,
           t[runs / 2], t[0], runs);

    /* Lookups: every HS code, present and (last digit changed) mostly absent. */
    size_t n = kv_ref_count(ref, KV_LIST_HS6), hits = 0, total = 0;
    char buf[7];
    double a = now_ms();
    for (int rep = 0; rep < 20; rep++)
        for (size_t i = 0; i < n; i++) {
            memcpy(buf, kv_ref_code_at(ref, KV_LIST_HS6, i), 7);
            hits += kv_ref_has(ref, KV_LIST_HS6, buf, 6);
            buf[5] = (char)('0' + (buf[5] - '0' + 3) % 10);
            hits += kv_ref_has(ref, KV_LIST_HS6, buf, 6);
            total += 2;
        }
    double b = now_ms();
    printf("kv_ref_has (hs, %zu entries): %.1f ns per lookup (%zu lookups, %zu found)\n", n,
           (b - a) * 1e6 / (double)total, total, hits);
    kv_ref_close(ref);
    free(t);
    return 0;
}
