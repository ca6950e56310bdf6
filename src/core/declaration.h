/* PLACEHOLDER: the declaration model (replaced by the declaration work). */
#ifndef KV_CORE_DECLARATION_H
#define KV_CORE_DECLARATION_H
struct kv_declaration;
void kv_decl_free(struct kv_declaration *d);
#endif
