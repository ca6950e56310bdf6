/* PLACEHOLDER */
#include "core/declaration.h"
void kv_decl_free(struct kv_declaration *d)
{
    (void)d;
}
