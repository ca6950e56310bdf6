/* PLACEHOLDER */
#include "core/ident.h"
int kv_check_char(const char *s, size_t n)
{
    (void)s;
    (void)n;
    return -1;
}
bool kv_mrn_verify(const char *s, size_t len, enum kv_mrn_mode mode, struct kv_id_result *res)
{
    (void)s;
    (void)len;
    (void)mode;
    (void)res;
    return false;
}
char kv_mrn_letter_for_security(int security)
{
    (void)security;
    return 0;
}
int kv_mrn_make(char out[KV_MRN_LEN + 1], int year, const char *country, uint64_t serial,
                int security)
{
    (void)out;
    (void)year;
    (void)country;
    (void)serial;
    (void)security;
    return -2;
}
bool kv_grn_verify(const char *s, size_t len, struct kv_id_result *res)
{
    (void)s;
    (void)len;
    (void)res;
    return false;
}
bool kv_container_verify(const char *s, size_t len, struct kv_id_result *res)
{
    (void)s;
    (void)len;
    (void)res;
    return false;
}
const char *kv_id_verdict_text(enum kv_id_verdict v)
{
    (void)v;
    return "";
}
