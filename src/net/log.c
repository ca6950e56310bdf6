/*
 * log.c — logfmt lines, one write(2) each (see log.h).
 */
#include "net/log.h"

#include "core/err.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_fd = 2;
static atomic_int log_level = KV_LOG_INFO;

/* Room kept at the end of a line for " truncated=true\n". */
#define TAIL_RESERVE 17
/* Worst case of one quoted value: every byte as \u00XX, quotes, "...". */
#define QUOTED_MAX (KV_LOG_VALUE_MAX * 6 + 8)

static void add_field(struct kv_log_line *l, const char *key, const char *value, size_t len,
                      bool force);

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kv_log_init(int fd, enum kv_log_level level)
{
    atomic_store(&log_fd, fd);
    atomic_store(&log_level, (int)level);
}

void kv_log_set_level(enum kv_log_level level)
{
    atomic_store(&log_level, (int)level);
}

bool kv_log_enabled(enum kv_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

int kv_log_level_parse(const char *s, enum kv_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum kv_log_level)i;
            return KV_OK;
        }
    return KV_EINVAL;
}

const char *kv_log_level_name(enum kv_log_level level)
{
    if ((int)level < 0 || (int)level > 3)
        return "unknown";
    return level_names[level];
}

static bool safe_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

static size_t quote(char *dst, size_t dstsz, const char *value, size_t len, bool force)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[QUOTED_MAX];
    size_t n = 0;
    bool cut = len > KV_LOG_VALUE_MAX;
    size_t take = cut ? KV_LOG_VALUE_MAX : len;
    bool bare = take > 0 && !cut && !force;

    for (size_t i = 0; bare && i < take; i++)
        if (!safe_char((unsigned char)value[i]))
            bare = false;
    if (bare) {
        memcpy(tmp, value, take);
        n = take;
    } else {
        tmp[n++] = '"';
        for (size_t i = 0; i < take; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c == '"' || c == '\\') {
                tmp[n++] = '\\';
                tmp[n++] = (char)c;
            } else if (c == '\n') {
                tmp[n++] = '\\';
                tmp[n++] = 'n';
            } else if (c == '\t') {
                tmp[n++] = '\\';
                tmp[n++] = 't';
            } else if (c == '\r') {
                tmp[n++] = '\\';
                tmp[n++] = 'r';
            } else if (c < 0x20 || c == 0x7f) {
                memcpy(tmp + n, "\\u00", 4);
                tmp[n + 4] = hex[c >> 4];
                tmp[n + 5] = hex[c & 15];
                n += 6;
            } else {
                tmp[n++] = (char)c; /* UTF-8 bytes pass through */
            }
        }
        if (cut) {
            memcpy(tmp + n, "...", 3);
            n += 3;
        }
        tmp[n++] = '"';
    }
    if (dstsz == 0)
        return 0;
    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, tmp, n);
    dst[n] = '\0';
    return n;
}

size_t kv_log_quote(char *dst, size_t dstsz, const char *value, size_t len)
{
    return quote(dst, dstsz, value, len, false);
}

/* Appends raw bytes if they fit below the reserve; else marks the line full. */
static void put(struct kv_log_line *l, const char *s, size_t n)
{
    if (l->full || l->len + n + TAIL_RESERVE > sizeof(l->buf)) {
        l->full = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

void kv_log_begin(struct kv_log_line *l, enum kv_log_level level, const char *msg)
{
    l->len = 0;
    l->full = false;
    l->on = kv_log_enabled(level);
    if (!l->on)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(l->buf, sizeof(l->buf), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ level=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000, kv_log_level_name(level));
    l->len = n > 0 ? (size_t)n : 0;
    add_field(l, "msg", msg, msg ? strlen(msg) : 0, true); /* msg is always quoted */
}

static void add_field(struct kv_log_line *l, const char *key, const char *value, size_t len,
                      bool force)
{
    if (!l->on || l->full)
        return;
    char q[QUOTED_MAX];
    size_t qn = quote(q, sizeof(q), value ? value : "", value ? len : 0, force);
    size_t kn = strlen(key);
    if (l->len + 1 + kn + 1 + qn + TAIL_RESERVE > sizeof(l->buf)) {
        l->full = true;
        return;
    }
    put(l, " ", 1);
    put(l, key, kn);
    put(l, "=", 1);
    put(l, q, qn);
}

void kv_log_strn(struct kv_log_line *l, const char *key, const char *value, size_t len)
{
    add_field(l, key, value, len, false);
}

void kv_log_str(struct kv_log_line *l, const char *key, const char *value)
{
    kv_log_strn(l, key, value, value ? strlen(value) : 0);
}

void kv_log_int(struct kv_log_line *l, const char *key, int64_t value)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, value);
    kv_log_strn(l, key, b, (size_t)n);
}

void kv_log_uint(struct kv_log_line *l, const char *key, uint64_t value)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRIu64, value);
    kv_log_strn(l, key, b, (size_t)n);
}

void kv_log_end(struct kv_log_line *l)
{
    if (!l->on)
        return;
    if (l->full) {
        memcpy(l->buf + l->len, " truncated=true", 15);
        l->len += 15;
    }
    l->buf[l->len++] = '\n';
    int fd = atomic_load(&log_fd);
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(fd, l->buf + off, l->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing log; drop the line */
        off += (size_t)w;
    }
    l->on = false;
}

static void vlog(enum kv_log_level level, const char *fmt, va_list ap)
{
    if (!kv_log_enabled(level))
        return;
    char msg[KV_LOG_VALUE_MAX * 2]; /* longer than a value, so a cut shows "..." */
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--; /* libraries (MHD) end their messages with a newline */
    msg[len] = '\0';
    struct kv_log_line l;
    kv_log_begin(&l, level, msg);
    kv_log_end(&l);
}

#define DEFINE_LOG_FN(name, level)                                                                 \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(level, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
    }

DEFINE_LOG_FN(kv_log_debug, KV_LOG_DEBUG)
DEFINE_LOG_FN(kv_log_info, KV_LOG_INFO)
DEFINE_LOG_FN(kv_log_warn, KV_LOG_WARN)
DEFINE_LOG_FN(kv_log_error, KV_LOG_ERROR)
