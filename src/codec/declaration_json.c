/* PLACEHOLDER */
#include "codec/declaration_json.h"
#include "core/err.h"
int kv_decl_from_json(const char *buf, size_t len, struct kv_declaration **out,
                      struct kv_report *rep)
{
    (void)buf;
    (void)len;
    (void)rep;
    *out = NULL;
    return KV_EPARSE;
}
int kv_decl_to_json(const struct kv_declaration *d, char **json, size_t *len)
{
    (void)d;
    (void)json;
    (void)len;
    return KV_EINVAL;
}
