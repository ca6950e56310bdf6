/*
 * ncts_check.c — the NCTS validation stages for any P5 message (see
 * ncts_check.h; docs/ncts.md).
 */
#include "codec/ncts_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ncts_cc015c.h"
#include "core/err.h"
#include "core/ident.h"
#include "core/report.h"
#include "core/validate.h"

/* ------------------------------------------------------------------ */
/* kervan rule → CL180                                                */
/* ------------------------------------------------------------------ */

struct rule_info {
    const char *rule;
    enum kv_ncts_rule_kind kind;
    const char *reason;
};

/* Sorted by rule id. Sources: docs/declaration.md "Rules" and docs/ncts.md. */
static const struct rule_info rules[] = {
    {"R-CARD-001", KV_NCTS_RULE, ""},
    {"R-CARD-002", KV_NCTS_RULE, ""},
    {"R-CONT-001", KV_NCTS_RULE, "R0028"},
    {"R-CONT-002", KV_NCTS_CONDITION, "C0055"},
    {"R-CTRY-001", KV_NCTS_CODELIST, ""},
    {"R-CTRY-002", KV_NCTS_CONDITION, ""},
    {"R-CTRY-003", KV_NCTS_CONDITION, ""},
    {"R-CUR-001", KV_NCTS_CODELIST, "CL048"},
    {"R-DATE-001", KV_NCTS_RULE, ""},
    {"R-DATE-002", KV_NCTS_RULE, ""},
    {"R-DEC-001", KV_NCTS_RULE, ""},
    {"R-DECL-001", KV_NCTS_CODELIST, "CL231"},
    {"R-DECL-002", KV_NCTS_CODELIST, "CL042"},
    {"R-DECL-003", KV_NCTS_CONDITION, "C0411"},
    {"R-DECL-004", KV_NCTS_RULE, "R0990"},
    {"R-DECL-005", KV_NCTS_CONDITION, "C0904"},
    {"R-DECL-006", KV_NCTS_CONDITION, "C0030"},
    {"R-DG-001", KV_NCTS_CODELIST, "CL101"},
    {"R-EMAIL-001", KV_NCTS_RULE, ""},
    {"R-GUA-001", KV_NCTS_CODELIST, "CL251"},
    {"R-GUA-002", KV_NCTS_CONDITION, "C0086"},
    {"R-GUA-003", KV_NCTS_RULE, ""},
    {"R-GUA-004", KV_NCTS_RULE, ""},
    {"R-GUA-005", KV_NCTS_RULE, ""},
    {"R-GUA-006", KV_NCTS_CONDITION, ""},
    {"R-GUA-007", KV_NCTS_CONDITION, "C0130"},
    {"R-GUA-008", KV_NCTS_RULE, "R0900"},
    {"R-GUA-009", KV_NCTS_CONDITION, "C0085"},
    {"R-HS-001", KV_NCTS_CODELIST, "CL152"},
    {"R-HS-002", KV_NCTS_CONDITION, "C0153"},
    {"R-ID-001", KV_NCTS_RULE, ""},
    {"R-ITEM-001", KV_NCTS_RULE, "R0007"},
    {"R-ITIN-001", KV_NCTS_CONDITION, "C0586"},
    {"R-ITIN-002", KV_NCTS_RULE, ""},
    {"R-ITIN-003", KV_NCTS_RULE, ""},
    {"R-ITIN-004", KV_NCTS_RULE, ""},
    {"R-ITIN-005", KV_NCTS_RULE, ""},
    {"R-ITIN-006", KV_NCTS_RULE, ""},
    {"R-LOC-001", KV_NCTS_CODELIST, "CL347"},
    {"R-LOC-002", KV_NCTS_CODELIST, "CL326"},
    {"R-LOC-003", KV_NCTS_CODELIST, "CL244"},
    {"R-LOC-004", KV_NCTS_RULE, ""},
    {"R-LRN-001", KV_NCTS_RULE, ""},
    {"R-LRN-002", KV_NCTS_CONDITION, "C0467"},
    {"R-MASS-001", KV_NCTS_RULE, ""},
    {"R-MASS-002", KV_NCTS_RULE, "R0983"},
    {"R-MASS-003", KV_NCTS_RULE, "R0994"},
    {"R-MASS-004", KV_NCTS_RULE, ""},
    {"R-MEANS-001", KV_NCTS_RULE, ""},
    {"R-MODE-001", KV_NCTS_CODELIST, "CL218"},
    {"R-MRN-001", KV_NCTS_MRN, ""},
    {"R-MRN-002", KV_NCTS_RULE, "R0410"},
    {"R-MSG-001", KV_NCTS_RULE, ""},
    {"R-MSG-002", KV_NCTS_RULE, ""},
    {"R-MSG-003", KV_NCTS_RULE, ""},
    {"R-NODE-001", KV_NCTS_RULE, ""},
    {"R-NUM-001", KV_NCTS_RULE, ""},
    {"R-OFF-001", KV_NCTS_RULE, ""},
    {"R-OFF-002", KV_NCTS_CODELIST, ""},
    {"R-OFF-003", KV_NCTS_CODELIST, ""},
    {"R-OFF-004", KV_NCTS_CODELIST, ""},
    {"R-OFF-005", KV_NCTS_RULE, "R0003"},
    {"R-OFF-006", KV_NCTS_RULE, "R0103"},
    {"R-PARTY-001", KV_NCTS_CONDITION, "C0250"},
    {"R-PARTY-002", KV_NCTS_CONDITION, "C0001"},
    {"R-PKG-001", KV_NCTS_CODELIST, "CL017"},
    {"R-PKG-002", KV_NCTS_CONDITION, "C0060"},
    {"R-REP-001", KV_NCTS_CODELIST, "CL094"},
    {"R-REQ-001", KV_NCTS_CONDITION, ""},
    {"R-SEAL-001", KV_NCTS_RULE, "R0106"},
    {"R-SEAL-002", KV_NCTS_RULE, "R0448"},
    {"R-SEAL-003", KV_NCTS_RULE, "R0107"},
    {"R-SEC-001", KV_NCTS_CODELIST, "CL217"},
    {"R-SEC-002", KV_NCTS_CONDITION, "C0029"},
    {"R-SEC-003", KV_NCTS_CONDITION, "C0587"},
    {"R-SEC-004", KV_NCTS_CONDITION, "C0191"},
    {"R-SEQ-001", KV_NCTS_RULE, "R0987"},
    {"R-SEQ-002", KV_NCTS_RULE, "R0988"},
    {"R-TE-001", KV_NCTS_RULE, ""},
    {"R-TEXT-001", KV_NCTS_RULE, ""},
    {"R-TEXT-002", KV_NCTS_RULE, ""},
    {"R-TEXT-003", KV_NCTS_RULE, ""},
    {"R-UNMOD-001", KV_NCTS_RULE, ""},
    {"R-UNMOD-002", KV_NCTS_RULE, ""},
    {"R-VAL-001", KV_NCTS_RULE, ""},
};

static int cmp_rule(const void *key, const void *elt)
{
    return strcmp((const char *)key, ((const struct rule_info *)elt)->rule);
}

const char *kv_ncts_rule_reason(const char *rule, enum kv_ncts_rule_kind *kind)
{
    const struct rule_info *r =
        rule ? bsearch(rule, rules, sizeof(rules) / sizeof(rules[0]), sizeof(rules[0]), cmp_rule)
             : NULL;
    if (kind)
        *kind = r ? r->kind : KV_NCTS_RULE;
    return r ? r->reason : "";
}

bool kv_ncts_rule_known(const char *rule)
{
    return rule && bsearch(rule, rules, sizeof(rules) / sizeof(rules[0]), sizeof(rules[0]),
                           cmp_rule) != NULL;
}

const char *kv_ncts_functional_code(enum kv_ncts_rule_kind kind, bool present)
{
    switch (kind) {
    case KV_NCTS_CODELIST:
        return "12";
    case KV_NCTS_CONDITION:
        return present ? "15" : "13";
    case KV_NCTS_MRN:
        return "93";
    case KV_NCTS_RULE:
        break;
    }
    return "14";
}

/* ------------------------------------------------------------------ */
/* Locations                                                          */
/* ------------------------------------------------------------------ */

static const xmlNode *child_named(const xmlNode *g, const char *name, size_t len, size_t pos)
{
    size_t k = 0;
    for (const xmlNode *c = g ? g->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strlen((const char *)c->name) == len &&
            memcmp(c->name, name, len) == 0 && ++k == pos)
            return c;
    return NULL;
}

/*
 * Walks an XPath-like location; returns the deepest node reached and sets
 * *whole when every step was found.
 */
static const xmlNode *walk(const xmlDoc *doc, const char *xpath, bool *whole)
{
    *whole = false;
    const xmlNode *root = doc ? xmlDocGetRootElement((xmlDoc *)doc) : NULL;
    if (!root || !xpath || xpath[0] != '/')
        return NULL;
    const char *p = xpath + 1;
    size_t nl = strcspn(p, "/[");
    if (nl != strlen((const char *)root->name) || memcmp(p, root->name, nl) != 0)
        return NULL;
    p += nl;
    const xmlNode *cur = root;
    while (*p == '/') {
        p++;
        if (*p == '@') {
            const char *an = p + 1;
            if (strchr(an, '/'))
                return cur;
            for (const xmlAttr *a = cur->properties; a; a = a->next)
                if (strcmp((const char *)a->name, an) == 0) {
                    *whole = true;
                    return (const xmlNode *)a;
                }
            return cur;
        }
        nl = strcspn(p, "/[");
        size_t pos = 1;
        const char *q = p + nl;
        if (*q == '[') {
            char *end = NULL;
            unsigned long v = strtoul(q + 1, &end, 10);
            if (!end || *end != ']' || v == 0)
                return cur;
            pos = v;
            q = end + 1;
        }
        const xmlNode *next = child_named(cur, p, nl, pos);
        if (!next)
            return cur;
        cur = next;
        p = q;
    }
    *whole = *p == '\0';
    return cur;
}

const xmlNode *kv_ncts_find(const xmlDoc *doc, const char *xpath)
{
    bool whole;
    const xmlNode *n = walk(doc, xpath, &whole);
    return whole ? n : NULL;
}

static long node_line(const xmlNode *n)
{
    if (n && n->type == XML_ATTRIBUTE_NODE)
        n = n->parent;
    long l = n ? xmlGetLineNo(n) : 0;
    return l > 0 ? l : 0;
}

/* ------------------------------------------------------------------ */
/* Message rules                                                      */
/* ------------------------------------------------------------------ */

static const xmlNode *child(const xmlNode *g, const char *name)
{
    return child_named(g, name, strlen(name), 1);
}

/* The trimmed text of a leaf element into buf ("" when absent). */
static const char *leaf(const xmlNode *n, char *buf, size_t bufsz)
{
    buf[0] = '\0';
    if (!n)
        return buf;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return buf;
    const char *s = (const char *)t;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    snprintf(buf, bufsz, "%s", s);
    size_t k = strlen(buf);
    while (k > 0 &&
           (buf[k - 1] == ' ' || buf[k - 1] == '\t' || buf[k - 1] == '\n' || buf[k - 1] == '\r'))
        buf[--k] = '\0';
    xmlFree(t);
    return buf;
}

static void add(struct kv_ncts_result *r, enum kv_ncts_stage stage, const char *rule,
                const xmlDoc *doc, const char *xpath, const char *message)
{
    enum kv_ncts_rule_kind kind;
    const char *reason = kv_ncts_rule_reason(rule, &kind);
    bool whole;
    const xmlNode *n = walk(doc, xpath, &whole);
    char value[KV_NCTS_VALUE_MAX + 4];
    bool has_value = whole && kv_ncts_node_value(n, value, sizeof(value));
    kv_ncts_errors_add(&r->errors, stage, kv_ncts_functional_code(kind, whole), reason, rule, xpath,
                       node_line(n), has_value ? value : NULL, "%s", message);
}

/* The office a trader's message goes to (its country must match the recipient's). */
struct addressed {
    const char *type;
    const char *office;
};

static const struct addressed addressed[] = {
    {"CC007C", "CustomsOfficeOfDestinationActual"}, {"CC013C", "CustomsOfficeOfDeparture"},
    {"CC014C", "CustomsOfficeOfDeparture"},         {"CC015C", "CustomsOfficeOfDeparture"},
    {"CC044C", "CustomsOfficeOfDestinationActual"}, {"CC141C", "CustomsOfficeOfDestinationActual"},
    {"CC170C", "CustomsOfficeOfDeparture"},
};

static const char *addressed_office(const char *type)
{
    for (size_t i = 0; i < sizeof(addressed) / sizeof(addressed[0]); i++)
        if (strcmp(addressed[i].type, type) == 0)
            return addressed[i].office;
    return NULL;
}

/*
 * Trader messages whose TransitOperation has an optional LRN and an
 * optional MRN: C0467 asks for the MRN once allocated, else the LRN. Office
 * messages (CC009C, CC060C, ...) legitimately carry both.
 */
static bool lrn_or_mrn(const char *type)
{
    return strcmp(type, "CC013C") == 0 || strcmp(type, "CC014C") == 0;
}

static bool upper2(const char *s)
{
    return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

static void message_rules(struct kv_ncts_result *r, const xmlDoc *doc,
                          const struct kv_ncts_check_opts *o)
{
    const xmlNode *root = xmlDocGetRootElement((xmlDoc *)doc);
    const char *type = r->type;
    char where[256], msg[KV_MESSAGE_MAX], v[256], q[128];

    /* messageType names the message itself. */
    const xmlNode *mt = child(root, "messageType");
    if (mt && strcmp(leaf(mt, v, sizeof(v)), type) != 0) {
        snprintf(where, sizeof(where), "/%s/messageType", type);
        kv_quote(q, sizeof(q), v, strlen(v), 40);
        snprintf(msg, sizeof(msg), "messageType \"%s\" does not name this message (%s)", q, type);
        add(r, KV_NCTS_STAGE_MESSAGE, "R-MSG-001", doc, where, msg);
    }

    const xmlNode *op = child(root, "TransitOperation");
    const xmlNode *mrn = child(op, "MRN");
    const xmlNode *lrn = child(op, "LRN");

    /* The MRN: shape, check character, and the procedure letter (R0410). */
    if (mrn) {
        snprintf(where, sizeof(where), "/%s/TransitOperation/MRN", type);
        leaf(mrn, v, sizeof(v));
        struct kv_id_result res;
        if (!kv_mrn_verify(v, strlen(v), KV_MRN_P5_OR_LEGACY, &res)) {
            kv_quote(q, sizeof(q), v, strlen(v), 40);
            if (res.verdict == KV_ID_CHECK)
                snprintf(msg, sizeof(msg), "MRN \"%s\": wrong check character (expected '%c')", q,
                         res.expected);
            else
                snprintf(msg, sizeof(msg), "\"%s\" is not an MRN: %s", q,
                         kv_id_verdict_text(res.verdict));
            add(r, KV_NCTS_STAGE_MESSAGE, "R-MRN-001", doc, where, msg);
        } else if (!res.legacy) {
            char sec[16];
            leaf(child(op, "security"), sec, sizeof(sec));
            char want = strlen(sec) == 1 ? kv_mrn_letter_for_security(sec[0] - '0') : 0;
            if (want && v[16] != want) {
                snprintf(msg, sizeof(msg),
                         "MRN %.18s: the 17th character is '%c'; security %s requires '%c' (R0410)",
                         v, v[16], sec, want);
                add(r, KV_NCTS_STAGE_MESSAGE, "R-MRN-002", doc, where, msg);
            }
        }
    }

    /* C0467: an LRN before the MRN is allocated, the MRN after; never both, never neither. */
    if (lrn_or_mrn(type) && ((lrn != NULL) == (mrn != NULL))) {
        snprintf(where, sizeof(where), "/%s/TransitOperation/%s", type, lrn ? "LRN" : "MRN");
        snprintf(msg, sizeof(msg), "%s",
                 lrn ? "an LRN and an MRN are both given; give the MRN once allocated, else the "
                       "LRN (C0467)"
                     : "an LRN or an MRN must be given, neither was found (C0467)");
        add(r, KV_NCTS_STAGE_MESSAGE, "R-LRN-002", doc, where, msg);
    }

    /* A trader's message goes to the NTA of the office's country (and, on a node, its own). */
    const char *oname = addressed_office(type);
    if (!oname)
        return;
    char office[64];
    char opath[256];
    snprintf(opath, sizeof(opath), "/%s/%s/referenceNumber", type, oname);
    leaf(child(child(root, oname), "referenceNumber"), office, sizeof(office));
    char rcpt[64];
    leaf(child(root, "messageRecipient"), rcpt, sizeof(rcpt));
    snprintf(where, sizeof(where), "/%s/messageRecipient", type);
    bool nta = strlen(rcpt) == 6 && strncmp(rcpt, "NTA.", 4) == 0 && upper2(rcpt + 4);
    if (!nta) {
        kv_quote(q, sizeof(q), rcpt, strlen(rcpt), 40);
        snprintf(msg, sizeof(msg),
                 "messageRecipient \"%s\" is not a customs administration (\"NTA.\" and a "
                 "country code)",
                 q);
        add(r, KV_NCTS_STAGE_MESSAGE, "R-MSG-002", doc, where, msg);
    } else if (strlen(office) >= 2 && upper2(office) && memcmp(office, rcpt + 4, 2) != 0) {
        snprintf(msg, sizeof(msg), "messageRecipient %s is not the administration of %s %s", rcpt,
                 oname, office);
        add(r, KV_NCTS_STAGE_MESSAGE, "R-MSG-003", doc, where, msg);
    }
    if (o && o->country && (strlen(office) < 2 || strncmp(office, o->country, 2) != 0)) {
        kv_quote(q, sizeof(q), office, strlen(office), 40);
        snprintf(msg, sizeof(msg), "%s \"%s\" is not in this node's country (%s)", oname, q,
                 o->country);
        add(r, KV_NCTS_STAGE_MESSAGE, "R-NODE-001", doc, opath, msg);
    }
}

/* ------------------------------------------------------------------ */
/* Declaration rules (CC015C)                                         */
/* ------------------------------------------------------------------ */

static size_t same_name_pos(const xmlNode *n)
{
    size_t k = 1;
    for (const xmlNode *x = n->prev; x; x = x->prev)
        if (x->type == XML_ELEMENT_NODE &&
            strcmp((const char *)x->name, (const char *)n->name) == 0)
            k++;
    return k;
}

/*
 * R0987 / R0988: every sequenceNumber (every goodsItemNumber) equals the
 * position of its group among the same groups of its parent. Walks the
 * whole document, kept elements included.
 */
static void numbering(struct kv_ncts_result *r, const struct kv_ncts_schemas *s, const xmlDoc *doc,
                      const xmlNode *g, int depth)
{
    if (depth > 64)
        return;
    for (const xmlNode *n = g->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        bool seq = strcmp((const char *)n->name, "sequenceNumber") == 0;
        bool goods = strcmp((const char *)n->name, "goodsItemNumber") == 0 &&
                     strcmp((const char *)g->name, "ConsignmentItem") == 0;
        if ((seq || goods) && g->parent && g->parent->type == XML_ELEMENT_NODE) {
            char v[64], where[KV_NCTS_XPATH_MAX], msg[KV_MESSAGE_MAX];
            leaf(n, v, sizeof(v));
            size_t pos = same_name_pos(g);
            char want[24];
            snprintf(want, sizeof(want), "%zu", pos);
            if (strcmp(v, want) != 0) {
                if (s)
                    kv_ncts_xpath(s, n, where, sizeof(where));
                else
                    kv_ncts_xpath_with(kv_ncts_cc015c_repeats, n, where, sizeof(where));
                char q[96];
                kv_quote(q, sizeof(q), v, strlen(v), 40);
                snprintf(msg, sizeof(msg), "%s \"%s\": the %s numbered %zu here must say %zu (%s)",
                         (const char *)n->name, q, (const char *)g->name, pos, pos,
                         seq ? "R0987" : "R0988");
                add(r, KV_NCTS_STAGE_DECLARATION, seq ? "R-SEQ-001" : "R-SEQ-002", doc, where, msg);
            }
        }
        numbering(r, s, doc, n, depth + 1);
    }
}

static int declaration_rules(struct kv_ncts_result *r, const struct kv_ncts_schemas *s,
                             const xmlDoc *doc, const struct kv_ncts_check_opts *o)
{
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_declaration *d = NULL;
    int rc = kv_ncts_cc015c_import(doc, &d, &rep);
    if (rc == KV_ENOMEM) {
        kv_report_release(&rep);
        return rc;
    }
    if (rc == KV_ELIMIT) {
        kv_ncts_errors_add(&r->errors, KV_NCTS_STAGE_DECLARATION, "14", NULL, "R-CARD-001",
                           "/CC015C", 0, NULL,
                           "the declaration is too large for kervan's model (64 MiB, %d kept "
                           "elements)",
                           KV_DECL_MAX_UNMODELLED);
        kv_report_release(&rep);
        return KV_OK;
    }
    if (rc == KV_OK) {
        kv_decl_validate(d, o ? o->ref : NULL, &rep);
        r->decl = d;
    }
    for (size_t i = 0; i < rep.count; i++) {
        const struct kv_problem *p = &rep.items[i];
        char where[KV_NCTS_XPATH_MAX];
        kv_ncts_cc015c_xpath(p->pointer, where, sizeof(where));
        add(r, KV_NCTS_STAGE_DECLARATION, p->rule, doc, where, p->message);
    }
    if (rep.truncated)
        r->errors.total += rep.total - rep.count;
    if (rep.oom)
        r->errors.oom = true;
    kv_report_release(&rep);
    numbering(r, s, doc, xmlDocGetRootElement((xmlDoc *)doc), 0);
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

void kv_ncts_result_init(struct kv_ncts_result *r)
{
    memset(r, 0, sizeof(*r));
    kv_ncts_errors_init(&r->errors);
}

void kv_ncts_result_release(struct kv_ncts_result *r)
{
    kv_ncts_errors_release(&r->errors);
    kv_decl_free(r->decl);
    kv_ncts_result_init(r);
}

bool kv_ncts_result_ok(const struct kv_ncts_result *r)
{
    return kv_ncts_errors_ok(&r->errors);
}

int kv_ncts_check(struct kv_ncts_schemas *s, const char *buf, size_t len,
                  const struct kv_ncts_check_opts *o, struct kv_ncts_result *r, char *err,
                  size_t errsz)
{
    if (!r || !buf)
        return KV_EINVAL;
    xmlDocPtr doc = NULL;
    int rc = kv_ncts_parse(buf, len, &doc, &r->errors);
    if (rc == KV_ENOMEM)
        return rc;
    if (rc != KV_OK)
        return KV_OK;
    if (kv_ncts_message_type(doc, r->type, &r->errors) != KV_OK)
        goto out;
    if (s) {
        rc = kv_ncts_schema_validate(s, doc, r->type, &r->errors, err, errsz);
        if (rc == KV_ENOTFOUND) {
            rc = KV_OK;
            goto out;
        }
        if (rc != KV_OK)
            goto out;
        if (!kv_ncts_errors_ok(&r->errors))
            goto out; /* rules only on a schema-valid message */
    }
    message_rules(r, doc, o);
    if (strcmp(r->type, "CC015C") == 0)
        rc = declaration_rules(r, s, doc, o);
out:
    xmlFreeDoc(doc);
    if (rc == KV_OK && r->errors.oom)
        rc = KV_ENOMEM;
    return rc;
}
