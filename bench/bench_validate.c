/*
 * bench_validate.c — declarations validated per second, with a baseline.
 *
 * Usage: bench_validate [FILE] [SECONDS]
 * Loads a declaration (default examples/declaration.json), then, for about
 * SECONDS each (default 3), measures in the same run:
 *   1. baseline: json-c parsing the same bytes and freeing the tree — the
 *      floor any JSON validator built on json-c pays;
 *   2. kervan: kv_validate_json (decode into the model + every rule).
 * Prints documents/s and MB/s for both and their ratio. The machine is
 * noisy: compare the ratio, not the absolute figures, between runs.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/ref.h"
#include "core/report.h"
#include "core/validate.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20;
    char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return NULL;
    }
    *len = fread(b, 1, cap, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

struct result {
    unsigned long docs;
    double secs;
};

static struct result run_baseline(const char *buf, size_t len, double budget)
{
    struct result r = {0, 0};
    double t0 = now();
    do {
        for (int k = 0; k < 256; k++) {
            struct json_tokener *tok = json_tokener_new_ex(32);
            json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
            if (!o) {
                fprintf(stderr, "baseline: parse failed\n");
                exit(2);
            }
            json_object_put(o);
            json_tokener_free(tok);
        }
        r.docs += 256;
        r.secs = now() - t0;
    } while (r.secs < budget);
    return r;
}

static struct result run_validate(const char *buf, size_t len, const struct kv_ref *ref,
                                  double budget)
{
    struct result r = {0, 0};
    double t0 = now();
    do {
        for (int k = 0; k < 256; k++) {
            struct kv_report rep;
            kv_report_init(&rep);
            int rc = kv_validate_json(buf, len, ref, &rep);
            if (rc != KV_OK || !kv_report_ok(&rep)) {
                fprintf(stderr, "bench: the input declaration is not valid (%s, %zu problems)\n",
                        kv_strerror(rc), rep.total);
                exit(2);
            }
            kv_report_release(&rep);
        }
        r.docs += 256;
        r.secs = now() - t0;
    } while (r.secs < budget);
    return r;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/declaration.json";
    double budget = argc > 2 ? strtod(argv[2], NULL) : 3.0;
    size_t len = 0;
    char *buf = slurp(path, &len);
    if (!buf) {
        fprintf(stderr, "bench_validate: cannot read %s\n", path);
        return 2;
    }
    struct kv_ref *ref = NULL;
    double t0 = now();
    if (kv_ref_open(&ref) != KV_OK) {
        fprintf(stderr, "bench_validate: cannot load reference data\n");
        return 2;
    }
    double tref = now() - t0;

    struct result base = run_baseline(buf, len, budget);
    struct result val = run_validate(buf, len, ref, budget);
    double base_rate = (double)base.docs / base.secs;
    double val_rate = (double)val.docs / val.secs;
    printf("input: %s (%zu bytes)\n", path, len);
    printf("reference data loaded in %.2f ms\n", tref * 1e3);
    printf("baseline json-c parse:  %10.0f docs/s  %7.1f MB/s\n", base_rate,
           base_rate * (double)len / 1e6);
    printf("kervan validate:        %10.0f docs/s  %7.1f MB/s\n", val_rate,
           val_rate * (double)len / 1e6);
    printf("ratio validate/baseline: %.2f\n", val_rate / base_rate);
    kv_ref_close(ref);
    free(buf);
    return 0;
}
