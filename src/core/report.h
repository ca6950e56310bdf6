/*
 * report.h — a list of problems found in one input, each with a rule id, a
 * JSON pointer (RFC 6901) to the place, and a message.
 *
 * Validation never stops at the first problem: callers add every problem
 * they find, then print them all. Rule ids are stable strings such as
 * "R-HS-001" and are documented in docs/declaration.md. Messages quote the
 * offending value where that helps.
 *
 * A report caps the number of problems it keeps (KV_REPORT_MAX); past the cap
 * it counts but does not store, and `truncated` says so. This bounds memory on
 * hostile input (e.g. 1,999 items each with ten errors).
 */
#ifndef KV_CORE_REPORT_H
#define KV_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#define KV_REPORT_MAX 1000
#define KV_POINTER_MAX 160
#define KV_MESSAGE_MAX 240

struct kv_problem {
    char rule[16];                 /* e.g. "R-HS-001" */
    char pointer[KV_POINTER_MAX];  /* e.g. "/houseConsignments/0/items/3/commodity/hs" */
    char message[KV_MESSAGE_MAX];  /* human text, quotes the value */
};

struct kv_report {
    struct kv_problem *items; /* owned; grown by kv_report_add */
    size_t count;             /* problems stored */
    size_t cap;
    size_t total;             /* problems seen, stored or not */
    bool truncated;           /* total > count */
    bool oom;                 /* an allocation failed; some problems were lost */
};

/* Initialises an empty report (no allocation). */
void kv_report_init(struct kv_report *r);

/* Frees the problems and resets to empty. Safe on an initialised report. */
void kv_report_release(struct kv_report *r);

/*
 * Adds a problem. `pointer` is copied (truncated with "..." if too long);
 * the message is printf-formatted and truncated at KV_MESSAGE_MAX. Never
 * fails visibly: on allocation failure sets r->oom.
 */
void kv_report_add(struct kv_report *r, const char *rule, const char *pointer, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* True when no problem has been added. */
bool kv_report_ok(const struct kv_report *r);

/*
 * Appends `value` to `dst` as a JSON string literal content, escaping quotes,
 * backslashes and control characters, and truncating at `max` bytes of
 * input with "..." appended. Used to quote user values in messages.
 * dst must hold at least dstsz bytes; the result is always NUL-terminated.
 */
void kv_quote(char *dst, size_t dstsz, const char *value, size_t len, size_t max);

#endif
