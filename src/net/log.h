/*
 * log.h — the node's one-line structured logs (logfmt).
 *
 * Every line is `ts=<RFC 3339 UTC, µs> level=<level> msg="<text>" key=value
 * ...`, written with one write(2) so that lines from different threads never
 * interleave. Values are quoted when they contain blanks, '=', '"' or control
 * characters, with '"', '\' and control characters escaped; over-long values
 * are cut with "..." so that a line never exceeds KV_LOG_LINE_MAX bytes.
 *
 * The logger is process-global (like OpenSMTPD's log.c): the daemon sets the
 * level and the output descriptor once at start-up with kv_log_init() and
 * every module logs through it. All functions are thread-safe.
 *
 * Two ways to log:
 *   kv_log_info("listening on %s", addr);            -- msg only, printf-style
 *   struct kv_log_line l;                             -- msg plus fields
 *   kv_log_begin(&l, KV_LOG_INFO, "request");
 *   kv_log_str(&l, "path", path); kv_log_uint(&l, "status", 200);
 *   kv_log_end(&l);
 */
#ifndef KV_NET_LOG_H
#define KV_NET_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_LOG_LINE_MAX  4096 /* bytes per line, newline included */
#define KV_LOG_VALUE_MAX 512  /* bytes of one value before it is cut */

enum kv_log_level { KV_LOG_DEBUG = 0, KV_LOG_INFO = 1, KV_LOG_WARN = 2, KV_LOG_ERROR = 3 };

/*
 * Sets the output descriptor (default 2, standard error) and the lowest level
 * written (default KV_LOG_INFO). Call before starting threads; later calls
 * are allowed (both values are atomics) but lines in flight may use either.
 */
void kv_log_init(int fd, enum kv_log_level level);

/* Changes the level only. */
void kv_log_set_level(enum kv_log_level level);

/* True when lines at `level` are written (cheap; use to skip costly fields). */
bool kv_log_enabled(enum kv_log_level level);

/*
 * Parses "debug", "info", "warn" or "error". Returns 0 and sets *out, or
 * KV_EINVAL for anything else.
 */
int kv_log_level_parse(const char *s, enum kv_log_level *out);

/* The lower-case name of a level ("info"); static storage. */
const char *kv_log_level_name(enum kv_log_level level);

/* Message-only lines: the formatted text becomes msg="...". */
void kv_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kv_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A line with fields, built on the caller's stack. kv_log_begin() writes the
 * timestamp, level and msg; kv_log_str/int/uint add key=value (keys are
 * written as given: use [a-z_] names); kv_log_end() writes the line. When the
 * level is disabled every call is a no-op. A line that would overflow keeps
 * the fields that fit and ends with `truncated=true`.
 */
struct kv_log_line {
    char buf[KV_LOG_LINE_MAX];
    size_t len;
    bool on;
    bool full;
};

void kv_log_begin(struct kv_log_line *l, enum kv_log_level level, const char *msg);
void kv_log_str(struct kv_log_line *l, const char *key, const char *value);
void kv_log_strn(struct kv_log_line *l, const char *key, const char *value, size_t len);
void kv_log_int(struct kv_log_line *l, const char *key, int64_t value);
void kv_log_uint(struct kv_log_line *l, const char *key, uint64_t value);
void kv_log_end(struct kv_log_line *l);

/*
 * Appends `value` (`len` bytes) to dst as one logfmt value: bare when it is
 * non-empty and made of safe characters, else double-quoted and escaped; cut
 * at KV_LOG_VALUE_MAX input bytes with "..." appended. Returns the number of
 * bytes written (dst is always NUL-terminated when dstsz > 0). Exposed for
 * tests.
 */
size_t kv_log_quote(char *dst, size_t dstsz, const char *value, size_t len);

#endif
