/*
 * err.h — the one error convention of kervan.
 *
 * Every fallible function returns 0 (KV_OK) on success or a negative KV_E*
 * code. kv_strerror() turns a code into a short English phrase. Detail about
 * *what* was wrong with an input travels separately, in a struct kv_report
 * (see report.h), so that every problem can be listed at once.
 */
#ifndef KV_CORE_ERR_H
#define KV_CORE_ERR_H

enum kv_err {
    KV_OK = 0,
    KV_ENOMEM = -1,   /* allocation failed */
    KV_EINVAL = -2,   /* an argument broke the function's contract */
    KV_EPARSE = -3,   /* input is not well-formed (JSON, CSV, ...) */
    KV_ELIMIT = -4,   /* input exceeds a documented limit */
    KV_EIO = -5,      /* reading or writing failed (never raised by src/core) */
    KV_ENOTFOUND = -6 /* the thing asked for does not exist */
};

/* Returns a static, never-NULL description of an error code. */
const char *kv_strerror(int err);

#endif
