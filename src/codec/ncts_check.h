/*
 * ncts_check.h — validating an NCTS P5 message the way NCTS does: the XML
 * schema first, then the business rules (docs/ncts.md "Validation").
 *
 *   stage xml          well-formed, no DOCTYPE, size, an NCTS P5 root
 *                      (Phase 4 messages are refused: R-XML-005)
 *   stage schema       the message's XSD from the XSD folder (R-XSD-001)
 *   stage message      rules on any message: messageType names the root
 *                      (R-MSG-001), the recipient of a trader's message is
 *                      NTA.<country of the office it goes to> (R-MSG-002,
 *                      R-MSG-003), TransitOperation/MRN is a valid MRN
 *                      (R-MRN-001, kv_mrn_verify) whose procedure letter
 *                      matches the security indicator (R-MRN-002, R0410),
 *                      exactly one of LRN and MRN in a trader's CC013C or
 *                      CC014C (R-LRN-002, C0467); with a node country, the office
 *                      the message goes to is in that country (R-NODE-001)
 *   stage declaration  CC015C only: the content mapped into kervan's model
 *                      and checked by kv_decl_validate (the rules of
 *                      docs/declaration.md), plus sequence numbers (R-SEQ-001,
 *                      R0987) and goods item numbers (R-SEQ-002, R0988)
 *
 * Rules run only on a schema-valid message, as in NCTS. Every error comes
 * with its CL030 or CL180 code, an XPath-like location, the line, the
 * original value, the NCTS rule id where there is one, and kervan's rule id.
 */
#ifndef KV_CODEC_NCTS_CHECK_H
#define KV_CODEC_NCTS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/ncts_schema.h"
#include "core/declaration.h"
#include "core/ref.h"

struct kv_ncts_check_opts {
    const char *country;      /* the node's country ("KZ"), or NULL */
    const struct kv_ref *ref; /* code lists and offices for the declaration rules; NULL skips
                                 those checks (as kv_decl_validate does) */
};

struct kv_ncts_result {
    char type[KV_NCTS_TYPE_MAX + 1]; /* "CC015C"; "" when the root names no message */
    struct kv_ncts_errors errors;
    struct kv_declaration *decl; /* CC015C: the declaration, when the schema stage passed
                                    (also when rules failed); owned by the result */
};

void kv_ncts_result_init(struct kv_ncts_result *r);

/* Frees the errors and the declaration; leaves r initialised. */
void kv_ncts_result_release(struct kv_ncts_result *r);

/* True when the message passed every stage. */
bool kv_ncts_result_ok(const struct kv_ncts_result *r);

/*
 * Validates one message of `len` bytes. `s` is the XSD folder; NULL skips
 * the schema stage (tests and fuzzing only: without it the rules see
 * documents NCTS would have refused). Thread-safe for distinct results.
 *
 * Returns KV_OK when checking ran (the result says valid or not); KV_EIO
 * when the message's schema does not compile (err says why); KV_ENOMEM.
 */
int kv_ncts_check(struct kv_ncts_schemas *s, const char *buf, size_t len,
                  const struct kv_ncts_check_opts *o, struct kv_ncts_result *r, char *err,
                  size_t errsz);

/* What kind of functional error a kervan rule raises (CL180). */
enum kv_ncts_rule_kind {
    KV_NCTS_RULE,      /* 14 rule violation */
    KV_NCTS_CODELIST,  /* 12 codelist violation */
    KV_NCTS_CONDITION, /* 13 condition violation (missing) or 15 (not allowed) */
    KV_NCTS_MRN        /* 93 invalid MRN */
};

/*
 * The kind of a kervan rule id and the NCTS rule, condition or code list it
 * implements ("C0411", "R0106", "CL231"; "" when kervan's own). Unknown ids
 * are KV_NCTS_RULE with "". Never NULL.
 */
const char *kv_ncts_rule_reason(const char *rule, enum kv_ncts_rule_kind *kind);

/* True when `rule` is one of kervan's rule ids this table knows. */
bool kv_ncts_rule_known(const char *rule);

/* The CL180 code of a kind: a condition is "13" when the element is absent, else "15". */
const char *kv_ncts_functional_code(enum kv_ncts_rule_kind kind, bool present);

/*
 * The node at an XPath-like location as written by kv_ncts_xpath /
 * kv_ncts_cc015c_xpath ("/CC015C/Guarantee[2]/GRN", "/CC015C/@PhaseID";
 * an element without "[n]" is the first of its name), or NULL.
 */
const xmlNode *kv_ncts_find(const xmlDoc *doc, const char *xpath);

#endif
