/*
 * metrics.c — the metrics registry and its Prometheus text rendering (see
 * metrics.h).
 *
 * Families live in a fixed array, series in a fixed pool; both only grow.
 * A series is found through an open-addressing hash table whose slots are
 * atomic pointers written once (release) and read without a lock (acquire),
 * so the hot path — bump the counter of an existing series — takes no lock.
 */
#include "net/metrics.h"

#include "core/err.h"
#include "core/text.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SLOTS   4096 /* power of two, > 2 × KV_METRICS_SERIES_MAX */
#define NAME_MAX_LEN 96
#define HELP_MAX_LEN 256

const double kv_metrics_latency_buckets[16] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};

struct family {
    char name[NAME_MAX_LEN];
    char help[HELP_MAX_LEN];
    enum kv_metric_type type;
    double bounds[KV_METRICS_BUCKETS_MAX];
    size_t nbounds;
    kv_metrics_cb *cb; /* callback families only */
    void *ctx;
    bool is_cb, removed; /* callback family; callback removed */
    int first, last;     /* series list (indexes into the pool), -1 when empty */
};

/* A series; kv_counter and kv_histogram are this struct under other names. */
struct series {
    struct family *fam;
    char labels[KV_METRICS_LABELS_MAX];
    int next;               /* next series of the family, -1 at the end */
    _Atomic uint64_t value; /* counter value, or histogram observation count */
    _Atomic uint64_t sum;   /* histogram: bits of a double */
    _Atomic uint64_t buckets[KV_METRICS_BUCKETS_MAX + 1]; /* non-cumulative */
};

struct kv_counter {
    struct series s;
};
struct kv_histogram {
    struct series s;
};

struct kv_metrics {
    pthread_mutex_t lock;
    struct family families[KV_METRICS_FAMILIES_MAX];
    size_t nfamilies;
    struct series *pool; /* KV_METRICS_SERIES_MAX entries */
    size_t nseries;
    _Atomic(struct series *) slots[HASH_SLOTS];
};

struct kv_metrics_sink {
    const struct family *fam;
    char *buf;
    size_t len, cap;
    int err;
};

/* ---- registry ---------------------------------------------------------- */

int kv_metrics_new(struct kv_metrics **out)
{
    *out = NULL;
    struct kv_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return KV_ENOMEM;
    m->pool = calloc(KV_METRICS_SERIES_MAX, sizeof(*m->pool));
    if (!m->pool) {
        free(m);
        return KV_ENOMEM;
    }
    pthread_mutex_init(&m->lock, NULL);
    for (size_t i = 0; i < HASH_SLOTS; i++)
        atomic_init(&m->slots[i], NULL);
    *out = m;
    return KV_OK;
}

void kv_metrics_free(struct kv_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->pool);
    free(m);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull; /* separator: "ab","c" != "a","bc" */
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

/* Lock-free probe. Returns the series or NULL, and the first empty slot seen. */
static struct series *probe(struct kv_metrics *m, uint64_t h, const char *name, const char *labels,
                            size_t *empty)
{
    for (size_t i = 0; i < HASH_SLOTS; i++) {
        size_t k = (h + i) & (HASH_SLOTS - 1);
        struct series *s = atomic_load_explicit(&m->slots[k], memory_order_acquire);
        if (!s) {
            *empty = k;
            return NULL;
        }
        if (strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    }
    *empty = HASH_SLOTS;
    return NULL;
}

/* Finds a family by name; caller holds the lock. */
static struct family *family_find(struct kv_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nfamilies; i++)
        if (strcmp(m->families[i].name, name) == 0)
            return &m->families[i];
    return NULL;
}

/* Adds a family; caller holds the lock. NULL when full. */
static struct family *family_add(struct kv_metrics *m, const char *name, const char *help,
                                 enum kv_metric_type type)
{
    if (m->nfamilies == KV_METRICS_FAMILIES_MAX)
        return NULL;
    struct family *f = &m->families[m->nfamilies++];
    memset(f, 0, sizeof(*f));
    kv_text_copy(f->name, sizeof(f->name), name);
    kv_text_copy(f->help, sizeof(f->help), help ? help : "");
    f->type = type;
    f->first = f->last = -1;
    return f;
}

static struct series *series_get(struct kv_metrics *m, const char *name, const char *help,
                                 const char *labels, enum kv_metric_type type, const double *bounds,
                                 size_t nbounds)
{
    if (!m || !name)
        return NULL;
    if (!labels)
        labels = "";
    if (strlen(labels) >= KV_METRICS_LABELS_MAX)
        return NULL;
    uint64_t h = hash2(name, labels);
    size_t empty;
    struct series *s = probe(m, h, name, labels, &empty);
    if (s)
        return s->fam->type == type ? s : NULL;
    if (!valid_name(name))
        return NULL;

    pthread_mutex_lock(&m->lock);
    s = probe(m, h, name, labels, &empty); /* someone may have won the race */
    if (s) {
        pthread_mutex_unlock(&m->lock);
        return s->fam->type == type ? s : NULL;
    }
    struct family *f = family_find(m, name);
    if (f && (f->type != type || f->is_cb)) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    if (empty == HASH_SLOTS || m->nseries == KV_METRICS_SERIES_MAX) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    if (!f) {
        f = family_add(m, name, help, type);
        if (!f) {
            pthread_mutex_unlock(&m->lock);
            return NULL;
        }
        if (type == KV_METRIC_HISTOGRAM) {
            size_t n = nbounds > KV_METRICS_BUCKETS_MAX ? KV_METRICS_BUCKETS_MAX : nbounds;
            for (size_t i = 0; i < n; i++)
                f->bounds[i] = bounds[i];
            f->nbounds = n;
        }
    }
    int idx = (int)m->nseries++;
    s = &m->pool[idx];
    s->fam = f;
    kv_text_copy(s->labels, sizeof(s->labels), labels);
    s->next = -1;
    atomic_init(&s->value, 0);
    atomic_init(&s->sum, 0);
    for (size_t i = 0; i <= KV_METRICS_BUCKETS_MAX; i++)
        atomic_init(&s->buckets[i], 0);
    if (f->last >= 0)
        m->pool[f->last].next = idx;
    else
        f->first = idx;
    f->last = idx;
    atomic_store_explicit(&m->slots[empty], s, memory_order_release);
    pthread_mutex_unlock(&m->lock);
    return s;
}

struct kv_counter *kv_metrics_counter(struct kv_metrics *m, const char *name, const char *help,
                                      const char *labels)
{
    return (struct kv_counter *)series_get(m, name, help, labels, KV_METRIC_COUNTER, NULL, 0);
}

void kv_counter_add(struct kv_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->s.value, n, memory_order_relaxed);
}

uint64_t kv_counter_get(const struct kv_counter *c)
{
    return c ? atomic_load_explicit(&((struct kv_counter *)c)->s.value, memory_order_relaxed) : 0;
}

struct kv_histogram *kv_metrics_histogram(struct kv_metrics *m, const char *name, const char *help,
                                          const char *labels, const double *bounds, size_t nbounds)
{
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return NULL;
    return (struct kv_histogram *)series_get(m, name, help, labels, KV_METRIC_HISTOGRAM, bounds,
                                             nbounds);
}

void kv_histogram_observe(struct kv_histogram *h, double value)
{
    if (!h)
        return;
    struct series *s = &h->s;
    size_t i = 0;
    while (i < s->fam->nbounds && value > s->fam->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->value, 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&s->sum, memory_order_relaxed), nw;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d += value;
        memcpy(&nw, &d, sizeof(nw));
    } while (!atomic_compare_exchange_weak_explicit(&s->sum, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
}

uint64_t kv_histogram_count(const struct kv_histogram *h)
{
    return h ? atomic_load_explicit(&((struct kv_histogram *)h)->s.value, memory_order_relaxed) : 0;
}

int kv_metrics_callback(struct kv_metrics *m, const char *name, const char *help,
                        enum kv_metric_type type, kv_metrics_cb *cb, void *ctx)
{
    if (!m || !name || !cb || !valid_name(name) || type == KV_METRIC_HISTOGRAM)
        return KV_EINVAL;
    pthread_mutex_lock(&m->lock);
    int rc = KV_OK;
    struct family *old = family_find(m, name);
    if (old && old->is_cb && old->removed && old->type == type) {
        old->cb = cb;
        old->ctx = ctx;
        old->removed = false;
    } else if (old) {
        rc = KV_EINVAL;
    } else {
        struct family *f = family_add(m, name, help, type);
        if (!f) {
            rc = KV_ELIMIT;
        } else {
            f->cb = cb;
            f->ctx = ctx;
            f->is_cb = true;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void kv_metrics_callback_remove(struct kv_metrics *m, const char *name)
{
    if (!m || !name)
        return;
    pthread_mutex_lock(&m->lock);
    struct family *f = family_find(m, name);
    if (f && f->is_cb) {
        f->removed = true;
        f->cb = NULL;
        f->ctx = NULL;
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- rendering --------------------------------------------------------- */

static void out_raw(struct kv_metrics_sink *o, const char *s, size_t n)
{
    if (o->err)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t ncap = o->cap ? o->cap : 4096;
        while (ncap < o->len + n + 1)
            ncap *= 2;
        if (ncap > KV_METRICS_RENDER_MAX) {
            o->err = KV_ELIMIT;
            return;
        }
        char *nb = realloc(o->buf, ncap);
        if (!nb) {
            o->err = KV_ENOMEM;
            return;
        }
        o->buf = nb;
        o->cap = ncap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(struct kv_metrics_sink *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

static void out_fmt(struct kv_metrics_sink *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void out_fmt(struct kv_metrics_sink *o, const char *fmt, ...)
{
    char b[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    if (n > 0)
        out_raw(o, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* A float as Prometheus reads it: integers without a fraction, +Inf, NaN. */
static void fmt_double(char *b, size_t bsz, double v)
{
    if (isnan(v))
        snprintf(b, bsz, "NaN");
    else if (isinf(v))
        snprintf(b, bsz, v > 0 ? "+Inf" : "-Inf");
    else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
        snprintf(b, bsz, "%lld", (long long)v);
    else
        snprintf(b, bsz, "%.15g", v);
}

/* name{labels[,extra]} */
static void out_name_labels(struct kv_metrics_sink *o, const char *name, const char *suffix,
                            const char *labels, const char *extra)
{
    out_str(o, name);
    out_str(o, suffix);
    bool l = labels && *labels, e = extra && *extra;
    if (!l && !e)
        return;
    out_str(o, "{");
    if (l)
        out_str(o, labels);
    if (l && e)
        out_str(o, ",");
    if (e)
        out_str(o, extra);
    out_str(o, "}");
}

void kv_metrics_sink_value(struct kv_metrics_sink *sink, const char *labels, double value)
{
    char v[40];
    fmt_double(v, sizeof(v), value);
    out_name_labels(sink, sink->fam->name, "", labels, NULL);
    out_str(sink, " ");
    out_str(sink, v);
    out_str(sink, "\n");
}

static void out_help(struct kv_metrics_sink *o, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            out_str(o, "\\\\");
        else if (*p == '\n')
            out_str(o, "\\n");
        else
            out_raw(o, p, 1);
    }
}

static void render_series(struct kv_metrics_sink *o, const struct family *f, struct series *s)
{
    if (f->type != KV_METRIC_HISTOGRAM) {
        out_name_labels(o, f->name, "", s->labels, NULL);
        out_fmt(o, " %llu\n",
                (unsigned long long)atomic_load_explicit(&s->value, memory_order_relaxed));
        return;
    }
    /* Buckets are read one by one while writers go on; make the cumulative
     * counts monotonic and let _count be the +Inf bucket, as the format asks. */
    uint64_t cum = 0;
    char le[48], v[40];
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (i < f->nbounds) {
            fmt_double(v, sizeof(v), f->bounds[i]);
            snprintf(le, sizeof(le), "le=\"%s\"", v);
        } else {
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        }
        out_name_labels(o, f->name, "_bucket", s->labels, le);
        out_fmt(o, " %llu\n", (unsigned long long)cum);
    }
    uint64_t bits = atomic_load_explicit(&s->sum, memory_order_relaxed);
    double sum;
    memcpy(&sum, &bits, sizeof(sum));
    fmt_double(v, sizeof(v), sum);
    out_name_labels(o, f->name, "_sum", s->labels, NULL);
    out_fmt(o, " %s\n", v);
    out_name_labels(o, f->name, "_count", s->labels, NULL);
    out_fmt(o, " %llu\n", (unsigned long long)cum);
}

int kv_metrics_render(struct kv_metrics *m, char **out, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct kv_metrics_sink o = {0};
    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfamilies && !o.err; i++) {
        const struct family *f = &m->families[i];
        if (f->removed)
            continue;
        out_fmt(&o, "# HELP %s ", f->name);
        out_help(&o, f->help);
        out_fmt(&o, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        if (f->is_cb) {
            o.fam = f;
            f->cb(&o, f->ctx);
            continue;
        }
        for (int k = f->first; k >= 0; k = m->pool[k].next)
            render_series(&o, f, &m->pool[k]);
    }
    pthread_mutex_unlock(&m->lock);
    if (!o.err && !o.buf)
        out_raw(&o, "", 0);
    if (o.err) {
        free(o.buf);
        return o.err;
    }
    *out = o.buf;
    *len = o.len;
    return KV_OK;
}

int kv_metrics_labels(char *dst, size_t dstsz, ...)
{
    va_list ap;
    size_t n = 0;
    int rc = KV_OK;
    va_start(ap, dstsz);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!v)
            v = "";
        size_t kn = strlen(k);
        if (n + (n ? 1 : 0) + kn + 2 >= dstsz) {
            rc = KV_ELIMIT;
            break;
        }
        if (n)
            dst[n++] = ',';
        memcpy(dst + n, k, kn);
        n += kn;
        dst[n++] = '=';
        dst[n++] = '"';
        for (; *v && rc == KV_OK; v++) {
            const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
            size_t en = esc ? 2 : 1;
            if (n + en + 2 >= dstsz) {
                rc = KV_ELIMIT;
                break;
            }
            if (esc) {
                memcpy(dst + n, esc, 2);
            } else {
                dst[n] = *v;
            }
            n += en;
        }
        if (rc != KV_OK)
            break;
        dst[n++] = '"';
    }
    va_end(ap);
    if (rc != KV_OK) {
        if (dstsz)
            dst[0] = '\0';
        return rc;
    }
    if (dstsz)
        dst[n] = '\0';
    return KV_OK;
}
