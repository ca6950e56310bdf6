/* PLACEHOLDER */
#include "core/ref.h"
#include "core/err.h"
int kv_ref_open(struct kv_ref **out)
{
    *out = NULL;
    return KV_ENOTFOUND;
}
int kv_ref_open_from(struct kv_ref **out, const char *const texts[KV_LIST__COUNT],
                     const char *offices, char *errbuf, size_t errsz)
{
    (void)texts;
    (void)offices;
    (void)errbuf;
    (void)errsz;
    *out = NULL;
    return KV_ENOTFOUND;
}
void kv_ref_close(struct kv_ref *ref)
{
    (void)ref;
}
bool kv_ref_has(const struct kv_ref *ref, enum kv_list list, const char *code, size_t len)
{
    (void)ref;
    (void)list;
    (void)code;
    (void)len;
    return false;
}
const char *kv_ref_label(const struct kv_ref *ref, enum kv_list list, const char *code,
                         size_t len)
{
    (void)ref;
    (void)list;
    (void)code;
    (void)len;
    return NULL;
}
size_t kv_ref_count(const struct kv_ref *ref, enum kv_list list)
{
    (void)ref;
    (void)list;
    return 0;
}
const char *kv_ref_code_at(const struct kv_ref *ref, enum kv_list list, size_t i)
{
    (void)ref;
    (void)list;
    (void)i;
    return NULL;
}
const struct kv_office *kv_ref_office(const struct kv_ref *ref, const char *ref8, size_t len)
{
    (void)ref;
    (void)ref8;
    (void)len;
    return NULL;
}
size_t kv_ref_office_count(const struct kv_ref *ref)
{
    (void)ref;
    return 0;
}
const struct kv_office *kv_ref_office_at(const struct kv_ref *ref, size_t i)
{
    (void)ref;
    (void)i;
    return NULL;
}
const char *kv_list_name(enum kv_list list)
{
    (void)list;
    return "";
}
