/* PLACEHOLDER */
#include "core/validate.h"
#include "codec/declaration_json.h"
void kv_decl_validate(const struct kv_declaration *d, const struct kv_ref *ref,
                      struct kv_report *rep)
{
    (void)d;
    (void)ref;
    (void)rep;
}
int kv_validate_json(const char *buf, size_t len, const struct kv_ref *ref,
                     struct kv_report *rep)
{
    struct kv_declaration *d = NULL;
    int rc = kv_decl_from_json(buf, len, &d, rep);
    if (rc == 0)
        kv_decl_validate(d, ref, rep);
    kv_decl_free(d);
    return rc;
}
