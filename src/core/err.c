/*
 * err.c — text for the error codes of err.h.
 */
#include "core/err.h"

const char *kv_strerror(int err)
{
    switch (err) {
    case KV_OK:
        return "success";
    case KV_ENOMEM:
        return "out of memory";
    case KV_EINVAL:
        return "invalid argument";
    case KV_EPARSE:
        return "malformed input";
    case KV_ELIMIT:
        return "input exceeds a limit";
    case KV_EIO:
        return "input/output error";
    case KV_ENOTFOUND:
        return "not found";
    }
    return "unknown error";
}
