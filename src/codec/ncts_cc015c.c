/*
 * ncts_cc015c.c — CC015C ↔ struct kv_declaration (see ncts_cc015c.h; the
 * element table is in docs/ncts.md).
 *
 * Import walks the CC015C tree group by group. In each group every child
 * element is either a member kervan models (copied into the model, its JSON
 * pointer tracked so that conversion problems land where the JSON decoder
 * would put them) or is kept verbatim as a fragment {path, xml}. A
 * singleton that appears twice, a value that cannot be converted, or a
 * sequence number that is not its position is kept the same way: nothing is
 * dropped.
 *
 * Export writes the groups in the order of the CC015C XSD (51.8.6). Each
 * slot of a group is written in sequence; after a slot, the fragments kept
 * for that place (same parent location, same element name) are written;
 * when a group closes, any fragment left for it (an element the XSD does not
 * have there) follows, in the order it came in. A fragment whose
 * place never comes up is an error, not a silent loss. Fragments are
 * re-parsed (hardened, kv_ncts_parse) before they are written.
 */
#include "codec/ncts_cc015c.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ncts_schema.h"
#include "core/decimal.h"
#include "core/err.h"
#include "core/pointer.h"

/* Elements of CC015C that may repeat (XSD maxOccurs > 1): they carry "[n]". */
static const char *const repeatable[] = {
    "ActiveBorderTransportMeans",
    "AdditionalInformation",
    "AdditionalReference",
    "AdditionalSupplyChainActor",
    "Authorisation",
    "ConsignmentItem",
    "CountryOfRoutingOfConsignment",
    "CustomsOfficeOfExitForTransitDeclared",
    "CustomsOfficeOfTransitDeclared",
    "DangerousGoods",
    "DepartureTransportMeans",
    "GoodsReference",
    "Guarantee",
    "GuaranteeReference",
    "HouseConsignment",
    "Packaging",
    "PreviousDocument",
    "Seal",
    "SupportingDocument",
    "TransportDocument",
    "TransportEquipment",
};

static int cmp_name(const void *key, const void *elt)
{
    return strcmp((const char *)key, *(const char *const *)elt);
}

bool kv_ncts_cc015c_repeats(const char *name)
{
    return bsearch(name, repeatable, sizeof(repeatable) / sizeof(repeatable[0]),
                   sizeof(repeatable[0]), cmp_name) != NULL;
}

/* ------------------------------------------------------------------ */
/* A bounded growing buffer                                           */
/* ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap, max;
    bool oom, over;
};

static void b_put(struct buf *b, const char *s, size_t n)
{
    if (b->oom || b->over)
        return;
    if (n > b->max || b->len > b->max - n) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void b_str(struct buf *b, const char *s)
{
    b_put(b, s, strlen(s));
}

/* Text content: & < > escaped, CR as a character reference (kept through parsing). */
static void b_text(struct buf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            continue;
        }
        b_put(b, run, (size_t)(s - run));
        b_str(b, rep);
        run = s + 1;
    }
    b_put(b, run, (size_t)(s - run));
}

static void b_attr(struct buf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\t':
            rep = "&#9;";
            break;
        case '\n':
            rep = "&#10;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            continue;
        }
        b_put(b, run, (size_t)(s - run));
        b_str(b, rep);
        run = s + 1;
    }
    b_put(b, run, (size_t)(s - run));
}

static void b_indent(struct buf *b, int indent, int depth)
{
    if (indent <= 0)
        return;
    static const char spaces[] = "                                                                ";
    size_t n = (size_t)indent * (size_t)depth;
    while (n > 0) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        b_put(b, spaces, k);
        n -= k;
    }
}

static void b_nl(struct buf *b, int indent)
{
    if (indent > 0)
        b_put(b, "\n", 1);
}

/* ------------------------------------------------------------------ */
/* Serialising elements                                               */
/* ------------------------------------------------------------------ */

static bool has_element_child(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return true;
    return false;
}

static bool all_space(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static void b_qname(struct buf *b, const xmlNode *n)
{
    if (n->ns && n->ns->prefix) {
        b_str(b, (const char *)n->ns->prefix);
        b_put(b, ":", 1);
    }
    b_str(b, (const char *)n->name);
}

/*
 * Writes element n: compact when indent is 0, else one element per line at
 * `depth`. Element-only content drops whitespace text; mixed content is
 * written as is. Comments and processing instructions are not data.
 */
static void ser_element(struct buf *b, const xmlNode *n, int indent, int depth)
{
    b_indent(b, indent, depth);
    b_put(b, "<", 1);
    b_qname(b, n);
    for (const xmlNs *ns = n->nsDef; ns; ns = ns->next) {
        b_str(b, ns->prefix ? " xmlns:" : " xmlns");
        if (ns->prefix)
            b_str(b, (const char *)ns->prefix);
        b_put(b, "=\"", 2);
        b_attr(b, ns->href ? (const char *)ns->href : "");
        b_put(b, "\"", 1);
    }
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        b_put(b, " ", 1);
        if (a->ns && a->ns->prefix) {
            b_str(b, (const char *)a->ns->prefix);
            b_put(b, ":", 1);
        }
        b_str(b, (const char *)a->name);
        b_put(b, "=\"", 2);
        for (const xmlNode *t = a->children; t; t = t->next)
            if (t->content)
                b_attr(b, (const char *)t->content);
        b_put(b, "\"", 1);
    }
    bool elements = has_element_child(n);
    bool any = false;
    for (const xmlNode *c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE ||
            ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
             !(elements && all_space((const char *)c->content))))
            any = true;
    if (!any) {
        b_put(b, "/>", 2);
        b_nl(b, indent);
        return;
    }
    b_put(b, ">", 1);
    bool mixed = false;
    if (elements)
        for (const xmlNode *c = n->children; c; c = c->next)
            if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
                !all_space((const char *)c->content))
                mixed = true;
    int ci = mixed ? 0 : indent;
    if (elements && !mixed)
        b_nl(b, indent);
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            ser_element(b, c, ci, depth + 1);
        else if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content &&
                 !(elements && !mixed && all_space((const char *)c->content)))
            b_text(b, (const char *)c->content);
    }
    if (elements && !mixed)
        b_indent(b, indent, depth);
    b_put(b, "</", 2);
    b_qname(b, n);
    b_put(b, ">", 1);
    b_nl(b, indent);
}

char *kv_ncts_element_text(const xmlNode *element)
{
    if (!element || element->type != XML_ELEMENT_NODE)
        return NULL;
    struct buf b = {NULL, 0, 0, KV_DECL_UNMODELLED_XML_MAX, false, false};
    ser_element(&b, element, 0, 0);
    if (b.oom || b.over || !b.p) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------ */
/* Import                                                             */
/* ------------------------------------------------------------------ */

#define XP_MAX (KV_DECL_UNMODELLED_PATH_MAX + 64)

struct imp {
    struct kv_declaration *d;
    struct kv_report *rep;
    struct kv_ptr ptr;
    char xp[XP_MAX]; /* the XPath of the current group */
    size_t xlen;
    struct kv_ncts_fragment *frags; /* malloc'd while importing, copied into the arena */
    size_t nfrags, capfrags;
    size_t items_total;
    bool items_over;
    int err; /* KV_ENOMEM or KV_ELIMIT once something could not be stored */
};

static bool is(const xmlNode *n, const char *name)
{
    return n->ns == NULL && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *first_elem(xmlNode *n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

#define EACH_CHILD(g, n) for (xmlNode *n = first_elem((g)->children); n; n = first_elem(n->next))

static size_t count_named(const xmlNode *g, const char *name)
{
    size_t k = 0;
    for (const xmlNode *c = g->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && is(c, name))
            k++;
    return k;
}

/* 1-based position of n among its same-named element siblings. */
static size_t sibling_pos(const xmlNode *n)
{
    size_t k = 1;
    for (const xmlNode *x = n->prev; x; x = x->prev)
        if (x->type == XML_ELEMENT_NODE && x->ns == n->ns &&
            strcmp((const char *)x->name, (const char *)n->name) == 0)
            k++;
    return k;
}

static void arena_failed(struct imp *c, size_t want)
{
    if (c->err)
        return;
    c->err = kv_decl_arena_size(c->d) + want + 64 > KV_DECL_ARENA_MAX ? KV_ELIMIT : KV_ENOMEM;
}

static void *ialloc(struct imp *c, size_t n)
{
    void *p = kv_decl_alloc(c->d, n);
    if (!p)
        arena_failed(c, n);
    return p;
}

static void *icalloc(struct imp *c, size_t count, size_t size)
{
    if (count == 0)
        return NULL;
    void *p = kv_decl_calloc(c->d, count, size);
    if (!p)
        arena_failed(c, count * size);
    return p;
}

static const char *istrdup(struct imp *c, const char *s, size_t len)
{
    char *p = kv_decl_strdup(c->d, s, len);
    if (!p)
        arena_failed(c, len + 1);
    return p;
}

/* Appends "/name" or "/name[k]" for element n to the XPath; returns the mark. */
static size_t xpush(struct imp *c, const xmlNode *n)
{
    size_t mark = c->xlen;
    char seg[160];
    int k;
    if (kv_ncts_cc015c_repeats((const char *)n->name))
        k = snprintf(seg, sizeof(seg), "/%s[%zu]", (const char *)n->name, sibling_pos(n));
    else
        k = snprintf(seg, sizeof(seg), "/%s", (const char *)n->name);
    if (k > 0 && (size_t)k < sizeof(seg) && c->xlen + (size_t)k < sizeof(c->xp)) {
        memcpy(c->xp + c->xlen, seg, (size_t)k + 1);
        c->xlen += (size_t)k;
    }
    return mark;
}

static void xpop(struct imp *c, size_t mark)
{
    c->xlen = mark;
    c->xp[mark] = '\0';
}

/* Keeps element n verbatim as an unmodelled fragment at its place. */
static void keep(struct imp *c, const xmlNode *n)
{
    if (c->err)
        return;
    if (c->nfrags >= KV_DECL_MAX_UNMODELLED) {
        c->err = KV_ELIMIT;
        return;
    }
    size_t m = xpush(c, n);
    char *xml = kv_ncts_element_text(n);
    if (!xml) {
        /* Larger than a fragment may be, or out of memory. */
        c->err = KV_ELIMIT;
        xpop(c, m);
        return;
    }
    if (c->nfrags == c->capfrags) {
        size_t ncap = c->capfrags ? c->capfrags * 2 : 32;
        struct kv_ncts_fragment *f = realloc(c->frags, ncap * sizeof(*f));
        if (!f) {
            free(xml);
            c->err = KV_ENOMEM;
            xpop(c, m);
            return;
        }
        c->frags = f;
        c->capfrags = ncap;
    }
    const char *path = istrdup(c, c->xp, c->xlen);
    const char *text = istrdup(c, xml, strlen(xml));
    free(xml);
    xpop(c, m);
    if (!path || !text)
        return;
    c->frags[c->nfrags].path = path;
    c->frags[c->nfrags].xml = text;
    c->nfrags++;
}

/* The text of a leaf element: in `small` when short (no allocation), else from libxml2. */
struct leaf {
    char *s;
    bool heap;
    char small[256];
};

/* Fills *t; false (after keeping n) when n has element children, or when out of memory. */
static bool leaf_text(struct imp *c, xmlNode *n, struct leaf *t)
{
    if (has_element_child(n)) {
        keep(c, n);
        return false;
    }
    t->heap = false;
    t->s = t->small;
    const xmlNode *x = n->children;
    if (!x) {
        t->small[0] = '\0';
        return true;
    }
    if (!x->next && x->type == XML_TEXT_NODE && x->content) {
        size_t len = strlen((const char *)x->content);
        if (len < sizeof(t->small)) {
            memcpy(t->small, x->content, len + 1);
            return true;
        }
    }
    xmlChar *v = xmlNodeGetContent(n);
    if (!v) {
        c->err = c->err ? c->err : KV_ENOMEM;
        return false;
    }
    t->s = (char *)v;
    t->heap = true;
    return true;
}

static void leaf_free(struct leaf *t)
{
    if (t->heap)
        xmlFree(t->s);
    t->heap = false;
}

/* Trims XML whitespace (xs:token collapse at the edges) in place; returns the start. */
static char *trim(char *s, size_t *len)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
        n--;
    }
    *len = n;
    return s;
}

static void problem(struct imp *c, const char *key, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct imp *c, const char *key, const char *rule, const char *fmt, ...)
{
    char msg[KV_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t m = c->ptr.len;
    if (key)
        m = kv_ptr_push(&c->ptr, key);
    kv_report_add(c->rep, rule, c->ptr.buf, "%s", msg);
    kv_ptr_pop(&c->ptr, m);
}

/* A free-text member, verbatim. A second occurrence is kept verbatim. */
static void f_text(struct imp *c, xmlNode *n, const char **dst)
{
    if (*dst) {
        keep(c, n);
        return;
    }
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    *dst = istrdup(c, t.s, strlen(t.s));
    leaf_free(&t);
}

/* A code or other token-typed member: leading and trailing whitespace dropped. */
static void f_code(struct imp *c, xmlNode *n, const char **dst)
{
    if (*dst) {
        keep(c, n);
        return;
    }
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    size_t len;
    char *s = trim(t.s, &len);
    *dst = istrdup(c, s, len);
    leaf_free(&t);
}

/* A Flag (CL027): "0" or "1"; anything else is kept verbatim. */
static void f_flag(struct imp *c, xmlNode *n, enum kv_yesno *dst)
{
    if (*dst != KV_YESNO_ABSENT) {
        keep(c, n);
        return;
    }
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    size_t len;
    char *s = trim(t.s, &len);
    if (strcmp(s, "1") == 0)
        *dst = KV_YESNO_YES;
    else if (strcmp(s, "0") == 0)
        *dst = KV_YESNO_NO;
    else
        keep(c, n);
    leaf_free(&t);
}

/* Digits only (after trimming) into *v, at most 18 of them. */
static bool parse_count(const char *s, size_t len, int64_t *v)
{
    if (len == 0 || len > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

/* An integer member; one that is not a number is reported (R-NUM-001) and kept verbatim. */
static void f_int(struct imp *c, xmlNode *n, const char *key, struct kv_int *dst)
{
    if (dst->set) {
        keep(c, n);
        return;
    }
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    size_t len;
    char *s = trim(t.s, &len);
    int64_t v;
    if (parse_count(s, len, &v)) {
        dst->value = v;
        dst->set = true;
    } else {
        char q[96];
        kv_quote(q, sizeof(q), s, len, 60);
        problem(c, key, "R-NUM-001", "\"%s\" is not a whole number in range", q);
        keep(c, n);
    }
    leaf_free(&t);
}

/*
 * A decimal member of format n..16,frac. XSD counts digits by value, kervan
 * as written; trailing fraction zeros beyond what kervan allows are
 * dropped (the value is the same: "1000.000000" as an amount is 1000.00).
 * A text that still does not fit is reported (R-DEC-001) and kept verbatim.
 */
static void f_dec(struct imp *c, xmlNode *n, const char *key, int frac, struct kv_decimal **dst)
{
    if (*dst) {
        keep(c, n);
        return;
    }
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    size_t len;
    char *s = trim(t.s, &len);
    char *dot = memchr(s, '.', len);
    if (dot) {
        size_t digits = 0;
        for (size_t i = 0; i < len; i++)
            if (s[i] >= '0' && s[i] <= '9')
                digits++;
        while (len > 0 && s[len - 1] == '0' &&
               ((size_t)(s + len - dot - 1) > (size_t)frac || digits > 16)) {
            len--;
            digits--;
        }
        if (len > 0 && s[len - 1] == '.')
            len--;
        s[len] = '\0';
    }
    struct kv_decimal val;
    enum kv_dec_verdict vd = kv_dec_parse(s, len, 16, frac, &val);
    if (vd == KV_DEC_OK) {
        struct kv_decimal *p = ialloc(c, sizeof(*p));
        if (p) {
            *p = val;
            *dst = p;
        }
    } else {
        char why[64], q[96];
        kv_dec_describe(vd, 16, frac, why, sizeof(why));
        kv_quote(q, sizeof(q), s, len, 60);
        problem(c, key, "R-DEC-001", "\"%s\" is not a valid %s (n..16,%d): %s", q,
                frac == 2 ? "amount" : "mass", frac, why);
        keep(c, n);
    }
    leaf_free(&t);
}

/*
 * A number kervan derives from the position (sequenceNumber, goodsItemNumber):
 * nothing to store when it equals `pos`; otherwise kept verbatim, so that
 * export writes it back (the rules report it).
 */
/* True when element n holds exactly the number `pos` as kervan would write it. */
static bool derived_matches(const xmlNode *n, size_t pos)
{
    if (has_element_child((xmlNode *)n))
        return false;
    xmlChar *t = xmlNodeGetContent(n);
    if (!t)
        return false;
    size_t len;
    char *s = trim((char *)t, &len);
    int64_t v;
    bool eq = parse_count(s, len, &v) && v == (int64_t)pos && s[0] != '0';
    xmlFree(t);
    return eq;
}

static void f_derived(struct imp *c, xmlNode *n, size_t pos, bool *seen)
{
    if (*seen) {
        /*
         * The element repeats. The first one was not stored when it equalled
         * `pos` (export derives it); once a second one is kept, export writes
         * the kept ones instead of the derived value, so the first must be
         * kept too or it would be lost (found by fuzz_ncts_import).
         */
        const xmlNode *first = NULL;
        size_t before = 0;
        for (const xmlNode *p = n->prev; p; p = p->prev)
            if (p->type == XML_ELEMENT_NODE && xmlStrEqual(p->name, n->name)) {
                first = p;
                before++;
            }
        if (before == 1 && derived_matches(first, pos))
            keep(c, first);
        keep(c, n);
        return;
    }
    *seen = true;
    struct leaf t;
    if (!leaf_text(c, n, &t))
        return;
    size_t len;
    char *s = trim(t.s, &len);
    int64_t v;
    if (!parse_count(s, len, &v) || v != (int64_t)pos || s[0] == '0')
        keep(c, n);
    leaf_free(&t);
}

/* Runs fn(c, n, dst) for a group element with the XPath and JSON pointer at it. */
#define GROUP(c, n, key, fn, dst)                                                                  \
    do {                                                                                           \
        if (dst) {                                                                                 \
            keep((c), (n));                                                                        \
            break;                                                                                 \
        }                                                                                          \
        size_t xm_ = xpush((c), (n));                                                              \
        size_t pm_ = kv_ptr_push(&(c)->ptr, (key));                                                \
        (dst) = fn((c), (n));                                                                      \
        kv_ptr_pop(&(c)->ptr, pm_);                                                                \
        xpop((c), xm_);                                                                            \
    } while (0)

static struct kv_address *imp_address(struct imp *c, xmlNode *g)
{
    struct kv_address *a = ialloc(c, sizeof(*a));
    if (!a)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "streetAndNumber"))
            f_text(c, n, &a->street);
        else if (is(n, "postcode"))
            f_text(c, n, &a->postcode);
        else if (is(n, "city"))
            f_text(c, n, &a->city);
        else if (is(n, "country"))
            f_code(c, n, &a->country);
        else
            keep(c, n);
    }
    return a;
}

static struct kv_contact *imp_contact(struct imp *c, xmlNode *g)
{
    struct kv_contact *k = ialloc(c, sizeof(*k));
    if (!k)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "name"))
            f_text(c, n, &k->name);
        else if (is(n, "phoneNumber"))
            f_text(c, n, &k->phone);
        else if (is(n, "eMailAddress"))
            f_text(c, n, &k->email);
        else
            keep(c, n);
    }
    return k;
}

/* Consignor and Consignee (Consignment and HouseConsignment level). */
static struct kv_party *imp_party(struct imp *c, xmlNode *g)
{
    struct kv_party *p = ialloc(c, sizeof(*p));
    if (!p)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "identificationNumber"))
            f_code(c, n, &p->id);
        else if (is(n, "name"))
            f_text(c, n, &p->name);
        else if (is(n, "Address"))
            GROUP(c, n, "address", imp_address, p->address);
        else if (is(n, "ContactPerson"))
            GROUP(c, n, "contact", imp_contact, p->contact);
        else
            keep(c, n);
    }
    return p;
}

static struct kv_holder *imp_holder(struct imp *c, xmlNode *g)
{
    struct kv_holder *h = ialloc(c, sizeof(*h));
    if (!h)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "identificationNumber"))
            f_code(c, n, &h->id);
        else if (is(n, "TIRHolderIdentificationNumber"))
            f_code(c, n, &h->tir_holder_id);
        else if (is(n, "name"))
            f_text(c, n, &h->name);
        else if (is(n, "Address"))
            GROUP(c, n, "address", imp_address, h->address);
        else if (is(n, "ContactPerson"))
            GROUP(c, n, "contact", imp_contact, h->contact);
        else
            keep(c, n);
    }
    return h;
}

static struct kv_representative *imp_representative(struct imp *c, xmlNode *g)
{
    struct kv_representative *r = ialloc(c, sizeof(*r));
    if (!r)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "identificationNumber"))
            f_code(c, n, &r->id);
        else if (is(n, "status"))
            f_code(c, n, &r->status);
        else if (is(n, "ContactPerson"))
            GROUP(c, n, "contact", imp_contact, r->contact);
        else
            keep(c, n);
    }
    return r;
}

static struct kv_carrier *imp_carrier(struct imp *c, xmlNode *g)
{
    struct kv_carrier *r = ialloc(c, sizeof(*r));
    if (!r)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "identificationNumber"))
            f_code(c, n, &r->id);
        else if (is(n, "ContactPerson"))
            GROUP(c, n, "contact", imp_contact, r->contact);
        else
            keep(c, n);
    }
    return r;
}

/*
 * The repeated groups: a counter per group kind, an array sized by counting
 * the parent's children of that name first. `slot(c, g, name, n, key,
 * &count, max)` returns the index for child n (with the XPath and pointer
 * pushed: pop with leave) or -1 (kept verbatim) when the array is full.
 */
struct slot {
    size_t xm, pm;
};

static void enter_entry(struct imp *c, xmlNode *n, const char *key, size_t i, struct slot *s)
{
    s->xm = xpush(c, n);
    s->pm = kv_ptr_push(&c->ptr, key);
    kv_ptr_push_index(&c->ptr, i);
}

static void leave_entry(struct imp *c, const struct slot *s)
{
    kv_ptr_pop(&c->ptr, s->pm);
    xpop(c, s->xm);
}

static void imp_transit(struct imp *c, xmlNode *g, struct kv_transit_office *t, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "referenceNumber"))
            f_code(c, n, &t->office);
        else if (is(n, "arrivalDateAndTimeEstimated"))
            f_code(c, n, &t->arrival);
        else
            keep(c, n);
    }
}

/* A group holding one value next to its sequence number (exit offices, seals, routing, ...). */
static void imp_single(struct imp *c, xmlNode *g, const char *leaf, const char **dst, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, leaf))
            f_code(c, n, dst);
        else
            keep(c, n);
    }
}

static void imp_guarantee_ref(struct imp *c, xmlNode *g, struct kv_guarantee_ref *r, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "GRN"))
            f_code(c, n, &r->grn);
        else if (is(n, "accessCode"))
            f_code(c, n, &r->access_code);
        else if (is(n, "amountToBeCovered"))
            f_dec(c, n, "amount", 2, &r->amount);
        else if (is(n, "currency"))
            f_code(c, n, &r->currency);
        else
            keep(c, n);
    }
}

static void imp_guarantee(struct imp *c, xmlNode *g, struct kv_guarantee *gu, size_t pos)
{
    bool seq = false;
    size_t nref = count_named(g, "GuaranteeReference");
    if (nref > KV_DECL_MAX_GUARANTEE_REFS)
        nref = KV_DECL_MAX_GUARANTEE_REFS;
    gu->refs = icalloc(c, nref, sizeof(*gu->refs));
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "guaranteeType"))
            f_code(c, n, &gu->type);
        else if (is(n, "otherGuaranteeReference"))
            f_code(c, n, &gu->other_ref);
        else if (is(n, "GuaranteeReference") && gu->refs && gu->n_refs < nref) {
            struct slot s;
            size_t i = gu->n_refs++;
            enter_entry(c, n, "references", i, &s);
            imp_guarantee_ref(c, n, &gu->refs[i], i + 1);
            leave_entry(c, &s);
        } else
            keep(c, n);
    }
}

static void imp_equipment(struct imp *c, xmlNode *g, struct kv_equipment *e, size_t pos)
{
    bool seq = false;
    size_t ns = count_named(g, "Seal"), ng = count_named(g, "GoodsReference");
    if (ns > KV_DECL_MAX_SEALS)
        ns = KV_DECL_MAX_SEALS;
    if (ng > KV_DECL_MAX_GOODS_REFS)
        ng = KV_DECL_MAX_GOODS_REFS;
    e->seals = icalloc(c, ns, sizeof(*e->seals));
    e->goods_refs = icalloc(c, ng, sizeof(*e->goods_refs));
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "containerIdentificationNumber"))
            f_code(c, n, &e->container_id);
        else if (is(n, "numberOfSeals"))
            f_int(c, n, "numberOfSeals", &e->number_of_seals);
        else if (is(n, "Seal") && e->seals && e->n_seals < ns) {
            struct slot s;
            size_t i = e->n_seals++;
            enter_entry(c, n, "seals", i, &s);
            imp_single(c, n, "identifier", &e->seals[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "GoodsReference") && e->goods_refs && e->n_goods_refs < ng) {
            struct slot s;
            size_t i = e->n_goods_refs++;
            enter_entry(c, n, "goodsReferences", i, &s);
            bool gseq = false;
            struct kv_int num = {0, false};
            EACH_CHILD(n, x)
            {
                if (is(x, "sequenceNumber"))
                    f_derived(c, x, i + 1, &gseq);
                else if (is(x, "declarationGoodsItemNumber")) {
                    /* Pointer already at the entry: report there. */
                    if (num.set) {
                        keep(c, x);
                        continue;
                    }
                    f_int(c, x, NULL, &num);
                } else
                    keep(c, x);
            }
            e->goods_refs[i] = num.set ? num.value : 0;
            leave_entry(c, &s);
        } else
            keep(c, n);
    }
}

static struct kv_gnss *imp_gnss(struct imp *c, xmlNode *g)
{
    struct kv_gnss *k = ialloc(c, sizeof(*k));
    if (!k)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "latitude"))
            f_code(c, n, &k->latitude);
        else if (is(n, "longitude"))
            f_code(c, n, &k->longitude);
        else
            keep(c, n);
    }
    return k;
}

static struct kv_location *imp_location(struct imp *c, xmlNode *g)
{
    struct kv_location *l = ialloc(c, sizeof(*l));
    if (!l)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "typeOfLocation"))
            f_code(c, n, &l->type);
        else if (is(n, "qualifierOfIdentification"))
            f_code(c, n, &l->qualifier);
        else if (is(n, "authorisationNumber"))
            f_text(c, n, &l->authorisation);
        else if (is(n, "UNLocode"))
            f_code(c, n, &l->unlocode);
        else if (is(n, "CustomsOffice") && !l->office && has_element_child(n)) {
            size_t xm = xpush(c, n);
            EACH_CHILD(n, x)
            {
                if (is(x, "referenceNumber"))
                    f_code(c, x, &l->office);
                else
                    keep(c, x);
            }
            xpop(c, xm);
        } else if (is(n, "GNSS"))
            GROUP(c, n, "gnss", imp_gnss, l->gnss);
        else if (is(n, "Address"))
            GROUP(c, n, "address", imp_address, l->address);
        else
            keep(c, n);
    }
    return l;
}

static void imp_means(struct imp *c, xmlNode *g, struct kv_transport_means *t, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "typeOfIdentification"))
            f_code(c, n, &t->type_of_id);
        else if (is(n, "identificationNumber"))
            f_text(c, n, &t->id);
        else if (is(n, "nationality"))
            f_code(c, n, &t->nationality);
        else
            keep(c, n);
    }
}

static void imp_border(struct imp *c, xmlNode *g, struct kv_border_means *b, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "customsOfficeAtBorderReferenceNumber"))
            f_code(c, n, &b->office);
        else if (is(n, "typeOfIdentification"))
            f_code(c, n, &b->type_of_id);
        else if (is(n, "identificationNumber"))
            f_text(c, n, &b->id);
        else if (is(n, "nationality"))
            f_code(c, n, &b->nationality);
        else if (is(n, "conveyanceReferenceNumber"))
            f_text(c, n, &b->conveyance_ref);
        else
            keep(c, n);
    }
}

static struct kv_place *imp_place(struct imp *c, xmlNode *g)
{
    struct kv_place *p = ialloc(c, sizeof(*p));
    if (!p)
        return NULL;
    EACH_CHILD(g, n)
    {
        if (is(n, "UNLocode"))
            f_code(c, n, &p->unlocode);
        else if (is(n, "country"))
            f_code(c, n, &p->country);
        else if (is(n, "location"))
            f_text(c, n, &p->location);
        else
            keep(c, n);
    }
    return p;
}

static struct kv_commodity *imp_commodity(struct imp *c, xmlNode *g)
{
    struct kv_commodity *k = ialloc(c, sizeof(*k));
    if (!k)
        return NULL;
    size_t nd = count_named(g, "DangerousGoods");
    if (nd > KV_DECL_MAX_DANGEROUS)
        nd = KV_DECL_MAX_DANGEROUS;
    k->dangerous = icalloc(c, nd, sizeof(*k->dangerous));
    bool code_seen = false, measure_seen = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "descriptionOfGoods"))
            f_text(c, n, &k->description);
        else if (is(n, "CommodityCode") && !code_seen && has_element_child(n)) {
            code_seen = true;
            size_t xm = xpush(c, n);
            EACH_CHILD(n, x)
            {
                if (is(x, "harmonizedSystemSubHeadingCode"))
                    f_code(c, x, &k->hs);
                else
                    keep(c, x);
            }
            xpop(c, xm);
        } else if (is(n, "DangerousGoods") && k->dangerous && k->n_dangerous < nd) {
            struct slot s;
            size_t i = k->n_dangerous++;
            enter_entry(c, n, "dangerousGoods", i, &s);
            imp_single(c, n, "UNNumber", &k->dangerous[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "GoodsMeasure") && !measure_seen && has_element_child(n)) {
            /* (An empty GoodsMeasure, valid in the XSD, is kept verbatim.) */
            measure_seen = true;
            size_t xm = xpush(c, n);
            EACH_CHILD(n, x)
            {
                if (is(x, "grossMass"))
                    f_dec(c, x, "grossMass", 6, &k->gross_mass);
                else if (is(x, "netMass"))
                    f_dec(c, x, "netMass", 6, &k->net_mass);
                else
                    keep(c, x);
            }
            xpop(c, xm);
        } else
            keep(c, n);
    }
    return k;
}

static void imp_packaging(struct imp *c, xmlNode *g, struct kv_packaging *p, size_t pos)
{
    bool seq = false;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "typeOfPackages"))
            f_code(c, n, &p->type);
        else if (is(n, "numberOfPackages"))
            f_int(c, n, "number", &p->number);
        else if (is(n, "shippingMarks"))
            f_text(c, n, &p->marks);
        else
            keep(c, n);
    }
}

static void imp_item(struct imp *c, xmlNode *g, struct kv_item *it, size_t pos)
{
    bool seq = false;
    size_t np = count_named(g, "Packaging");
    if (np > KV_DECL_MAX_PACKAGINGS)
        np = KV_DECL_MAX_PACKAGINGS;
    it->packages = icalloc(c, np, sizeof(*it->packages));
    EACH_CHILD(g, n)
    {
        if (is(n, "goodsItemNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "declarationGoodsItemNumber"))
            f_int(c, n, "declarationGoodsItemNumber", &it->number);
        else if (is(n, "Commodity"))
            GROUP(c, n, "commodity", imp_commodity, it->commodity);
        else if (is(n, "Packaging") && it->packages && it->n_packages < np) {
            struct slot s;
            size_t i = it->n_packages++;
            enter_entry(c, n, "packages", i, &s);
            imp_packaging(c, n, &it->packages[i], i + 1);
            leave_entry(c, &s);
        } else
            keep(c, n);
    }
    /* kervan requires the item gross mass (docs/declaration.md), CC015C does not. */
    if (it->commodity && !it->commodity->gross_mass) {
        size_t m = kv_ptr_push(&c->ptr, "commodity");
        problem(c, "grossMass", "R-REQ-001", "required member \"grossMass\" is missing");
        kv_ptr_pop(&c->ptr, m);
    }
}

static void imp_house(struct imp *c, xmlNode *g, struct kv_house *h, size_t pos)
{
    bool seq = false;
    size_t ni = count_named(g, "ConsignmentItem");
    if (ni > KV_DECL_MAX_HOUSE_ITEMS)
        ni = KV_DECL_MAX_HOUSE_ITEMS;
    size_t room = KV_DECL_MAX_ITEMS - c->items_total;
    size_t take = ni < room ? ni : room;
    h->items = icalloc(c, take, sizeof(*h->items));
    c->items_total += take;
    EACH_CHILD(g, n)
    {
        if (is(n, "sequenceNumber"))
            f_derived(c, n, pos, &seq);
        else if (is(n, "countryOfDispatch"))
            f_code(c, n, &h->country_of_dispatch);
        else if (is(n, "countryOfDestination"))
            f_code(c, n, &h->country_of_destination);
        else if (is(n, "grossMass"))
            f_dec(c, n, "grossMass", 6, &h->gross_mass);
        else if (is(n, "referenceNumberUCR"))
            f_text(c, n, &h->ucr);
        else if (is(n, "Consignor"))
            GROUP(c, n, "consignor", imp_party, h->consignor);
        else if (is(n, "Consignee"))
            GROUP(c, n, "consignee", imp_party, h->consignee);
        else if (is(n, "ConsignmentItem") && h->items && h->n_items < take) {
            struct slot s;
            size_t i = h->n_items++;
            enter_entry(c, n, "items", i, &s);
            imp_item(c, n, &h->items[i], i + 1);
            leave_entry(c, &s);
        } else {
            if (is(n, "ConsignmentItem") && !c->items_over && ni > take) {
                size_t m = kv_ptr_push(&c->ptr, "items");
                kv_ptr_push_index(&c->ptr, take);
                problem(c, NULL, "R-CARD-002",
                        "this is goods item %d of the declaration; at most %d are allowed "
                        "(declaration goods item number 1..%d)",
                        KV_DECL_MAX_ITEMS + 1, KV_DECL_MAX_ITEMS, KV_DECL_MAX_ITEMS);
                kv_ptr_pop(&c->ptr, m);
                c->items_over = true;
            }
            keep(c, n);
        }
    }
}

static struct kv_consignment *imp_consignment(struct imp *c, xmlNode *g)
{
    struct kv_declaration *d = c->d;
    struct kv_consignment *k = ialloc(c, sizeof(*k));
    if (!k)
        return NULL;
    size_t ne = count_named(g, "TransportEquipment");
    size_t nm = count_named(g, "DepartureTransportMeans");
    size_t nr = count_named(g, "CountryOfRoutingOfConsignment");
    size_t nb = count_named(g, "ActiveBorderTransportMeans");
    size_t nh = count_named(g, "HouseConsignment");
    if (ne > KV_DECL_MAX_EQUIPMENT)
        ne = KV_DECL_MAX_EQUIPMENT;
    if (nm > KV_DECL_MAX_DEPARTURE_MEANS)
        nm = KV_DECL_MAX_DEPARTURE_MEANS;
    if (nr > KV_DECL_MAX_ROUTING)
        nr = KV_DECL_MAX_ROUTING;
    if (nb > KV_DECL_MAX_BORDER_MEANS)
        nb = KV_DECL_MAX_BORDER_MEANS;
    if (nh > KV_DECL_MAX_HOUSES)
        nh = KV_DECL_MAX_HOUSES;
    k->equipment = icalloc(c, ne, sizeof(*k->equipment));
    k->departure_means = icalloc(c, nm, sizeof(*k->departure_means));
    k->routing = icalloc(c, nr, sizeof(*k->routing));
    k->border_means = icalloc(c, nb, sizeof(*k->border_means));
    if (!d->houses && nh) {
        d->houses = icalloc(c, nh, sizeof(*d->houses));
        d->n_houses = 0;
    } else {
        nh = 0; /* a second Consignment: its houses are kept verbatim with it */
    }
    EACH_CHILD(g, n)
    {
        struct slot s;
        if (is(n, "countryOfDispatch"))
            f_code(c, n, &k->country_of_dispatch);
        else if (is(n, "countryOfDestination"))
            f_code(c, n, &k->country_of_destination);
        else if (is(n, "containerIndicator"))
            f_flag(c, n, &k->container_indicator);
        else if (is(n, "inlandModeOfTransport"))
            f_code(c, n, &k->inland_mode);
        else if (is(n, "modeOfTransportAtTheBorder"))
            f_code(c, n, &k->border_mode);
        else if (is(n, "grossMass"))
            f_dec(c, n, "grossMass", 6, &k->gross_mass);
        else if (is(n, "referenceNumberUCR"))
            f_text(c, n, &k->ucr);
        else if (is(n, "Carrier"))
            GROUP(c, n, "carrier", imp_carrier, k->carrier);
        else if (is(n, "Consignor"))
            GROUP(c, n, "consignor", imp_party, k->consignor);
        else if (is(n, "Consignee"))
            GROUP(c, n, "consignee", imp_party, k->consignee);
        else if (is(n, "TransportEquipment") && k->equipment && k->n_equipment < ne) {
            size_t i = k->n_equipment++;
            enter_entry(c, n, "transportEquipment", i, &s);
            imp_equipment(c, n, &k->equipment[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "LocationOfGoods"))
            GROUP(c, n, "locationOfGoods", imp_location, k->location);
        else if (is(n, "DepartureTransportMeans") && k->departure_means &&
                 k->n_departure_means < nm) {
            size_t i = k->n_departure_means++;
            enter_entry(c, n, "departureTransportMeans", i, &s);
            imp_means(c, n, &k->departure_means[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "CountryOfRoutingOfConsignment") && k->routing && k->n_routing < nr) {
            size_t i = k->n_routing++;
            enter_entry(c, n, "countriesOfRouting", i, &s);
            imp_single(c, n, "country", &k->routing[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "ActiveBorderTransportMeans") && k->border_means &&
                   k->n_border_means < nb) {
            size_t i = k->n_border_means++;
            enter_entry(c, n, "activeBorderTransportMeans", i, &s);
            imp_border(c, n, &k->border_means[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "PlaceOfLoading"))
            GROUP(c, n, "placeOfLoading", imp_place, k->loading);
        else if (is(n, "PlaceOfUnloading"))
            GROUP(c, n, "placeOfUnloading", imp_place, k->unloading);
        else if (is(n, "HouseConsignment") && d->houses && d->n_houses < nh) {
            /* Houses sit at the root of kervan's form: "/houseConsignments/i". */
            size_t i = d->n_houses++;
            size_t xm = xpush(c, n);
            struct kv_ptr saved = c->ptr;
            kv_ptr_init(&c->ptr);
            kv_ptr_push(&c->ptr, "houseConsignments");
            kv_ptr_push_index(&c->ptr, i);
            imp_house(c, n, &d->houses[i], i + 1);
            c->ptr = saved;
            xpop(c, xm);
        } else
            keep(c, n);
    }
    return k;
}

static void imp_transit_operation(struct imp *c, xmlNode *g)
{
    struct kv_declaration *d = c->d;
    EACH_CHILD(g, n)
    {
        if (is(n, "LRN"))
            f_text(c, n, &d->lrn);
        else if (is(n, "declarationType"))
            f_code(c, n, &d->declaration_type);
        else if (is(n, "additionalDeclarationType"))
            f_code(c, n, &d->additional_declaration_type);
        else if (is(n, "TIRCarnetNumber"))
            f_code(c, n, &d->tir_carnet_number);
        else if (is(n, "security"))
            f_code(c, n, &d->security);
        else if (is(n, "reducedDatasetIndicator"))
            f_flag(c, n, &d->reduced_dataset);
        else if (is(n, "bindingItinerary"))
            f_flag(c, n, &d->binding_itinerary);
        else if (is(n, "limitDate"))
            f_code(c, n, &d->limit_date);
        else
            keep(c, n);
    }
}

/* A group with just a referenceNumber (offices of departure and destination). */
static void imp_office(struct imp *c, xmlNode *g, const char **dst)
{
    if (!has_element_child(g)) {
        keep(c, g); /* an empty group has no reference to take: kept as it is */
        return;
    }
    size_t xm = xpush(c, g);
    EACH_CHILD(g, n)
    {
        if (is(n, "referenceNumber"))
            f_code(c, n, dst);
        else
            keep(c, n);
    }
    xpop(c, xm);
}

static void imp_root(struct imp *c, xmlNode *root)
{
    struct kv_declaration *d = c->d;
    struct kv_ncts_info *ni = d->ncts;
    xmlChar *phase = xmlGetNoNsProp(root, (const xmlChar *)"PhaseID");
    if (phase) {
        size_t len;
        char *s = trim((char *)phase, &len);
        ni->phase_id = istrdup(c, s, len);
        xmlFree(phase);
    }
    size_t nt = count_named(root, "CustomsOfficeOfTransitDeclared");
    size_t nx = count_named(root, "CustomsOfficeOfExitForTransitDeclared");
    size_t ng = count_named(root, "Guarantee");
    if (nt > KV_DECL_MAX_TRANSIT)
        nt = KV_DECL_MAX_TRANSIT;
    if (nx > KV_DECL_MAX_EXIT)
        nx = KV_DECL_MAX_EXIT;
    if (ng > KV_DECL_MAX_GUARANTEES)
        ng = KV_DECL_MAX_GUARANTEES;
    d->transit = icalloc(c, nt, sizeof(*d->transit));
    d->exit_for_transit = icalloc(c, nx, sizeof(*d->exit_for_transit));
    d->guarantees = icalloc(c, ng, sizeof(*d->guarantees));
    bool type_seen = false, op_seen = false, dep_seen = false, des_seen = false;
    EACH_CHILD(root, n)
    {
        struct slot s;
        if (is(n, "messageSender"))
            f_text(c, n, &ni->sender);
        else if (is(n, "messageRecipient"))
            f_text(c, n, &ni->recipient);
        else if (is(n, "preparationDateAndTime"))
            f_code(c, n, &ni->prepared);
        else if (is(n, "messageIdentification"))
            f_text(c, n, &ni->message_id);
        else if (is(n, "correlationIdentifier"))
            f_text(c, n, &ni->correlation_id);
        else if (is(n, "messageType") && !type_seen) {
            type_seen = true;
            struct leaf t;
            if (leaf_text(c, n, &t)) {
                size_t len;
                if (strcmp(trim(t.s, &len), "CC015C") != 0)
                    keep(c, n);
                leaf_free(&t);
            }
        } else if (is(n, "TransitOperation") && !op_seen) {
            op_seen = true;
            size_t xm = xpush(c, n);
            imp_transit_operation(c, n);
            xpop(c, xm);
        } else if (is(n, "CustomsOfficeOfDeparture") && !dep_seen) {
            dep_seen = true;
            size_t pm = kv_ptr_push(&c->ptr, "officeOfDeparture");
            imp_office(c, n, &d->office_of_departure);
            kv_ptr_pop(&c->ptr, pm);
        } else if (is(n, "CustomsOfficeOfDestinationDeclared") && !des_seen) {
            des_seen = true;
            size_t pm = kv_ptr_push(&c->ptr, "officeOfDestination");
            imp_office(c, n, &d->office_of_destination);
            kv_ptr_pop(&c->ptr, pm);
        } else if (is(n, "CustomsOfficeOfTransitDeclared") && d->transit && d->n_transit < nt) {
            size_t i = d->n_transit++;
            enter_entry(c, n, "officesOfTransit", i, &s);
            imp_transit(c, n, &d->transit[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "CustomsOfficeOfExitForTransitDeclared") && d->exit_for_transit &&
                   d->n_exit < nx) {
            size_t i = d->n_exit++;
            enter_entry(c, n, "officesOfExitForTransit", i, &s);
            imp_single(c, n, "referenceNumber", &d->exit_for_transit[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "HolderOfTheTransitProcedure"))
            GROUP(c, n, "holder", imp_holder, d->holder);
        else if (is(n, "Representative"))
            GROUP(c, n, "representative", imp_representative, d->representative);
        else if (is(n, "Guarantee") && d->guarantees && d->n_guarantees < ng) {
            size_t i = d->n_guarantees++;
            enter_entry(c, n, "guarantees", i, &s);
            imp_guarantee(c, n, &d->guarantees[i], i + 1);
            leave_entry(c, &s);
        } else if (is(n, "Consignment"))
            GROUP(c, n, "consignment", imp_consignment, d->consignment);
        else
            keep(c, n);
    }
}

int kv_ncts_cc015c_import(const xmlDoc *doc, struct kv_declaration **out, struct kv_report *rep)
{
    if (!out || !rep)
        return KV_EINVAL;
    *out = NULL;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *)root->name, "CC015C") != 0)
        return KV_EINVAL;
    struct imp c;
    memset(&c, 0, sizeof(c));
    c.rep = rep;
    kv_ptr_init(&c.ptr);
    c.d = kv_decl_new();
    if (!c.d)
        return KV_ENOMEM;
    c.d->ncts = ialloc(&c, sizeof(*c.d->ncts));
    memcpy(c.xp, "/CC015C", 8);
    c.xlen = 7;
    if (c.d->ncts)
        imp_root(&c, root);
    if (!c.err && c.nfrags) {
        c.d->ncts->unmodelled = icalloc(&c, c.nfrags, sizeof(*c.d->ncts->unmodelled));
        if (c.d->ncts->unmodelled) {
            memcpy(c.d->ncts->unmodelled, c.frags, c.nfrags * sizeof(*c.frags));
            c.d->ncts->n_unmodelled = c.nfrags;
        }
    }
    free(c.frags);
    if (c.err) {
        kv_decl_free(c.d);
        return c.err;
    }
    *out = c.d;
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Export                                                             */
/* ------------------------------------------------------------------ */

/* A fragment's place: its parent location, its name and its position there. */
struct fidx {
    const char *path;
    size_t parent_len; /* path[0..parent_len) is the parent's location */
    const char *name;  /* within path */
    size_t name_len;
    unsigned long pos; /* [n], 0 when none */
    size_t i;          /* index in d->ncts->unmodelled */
};

struct wr {
    struct buf b;
    int indent;
    int depth;
    char xp[XP_MAX];
    size_t xlen;
    struct kv_ptr ptr;
    struct fidx *fx;
    size_t nfx;
    bool *used;
    const struct kv_ncts_info *ncts;
    struct kv_report *notes;
    int err;
};

static int cmp_fidx(const void *a, const void *b)
{
    const struct fidx *x = a, *y = b;
    size_t n = x->parent_len < y->parent_len ? x->parent_len : y->parent_len;
    int c = memcmp(x->path, y->path, n);
    if (c)
        return c;
    if (x->parent_len != y->parent_len)
        return x->parent_len < y->parent_len ? -1 : 1;
    n = x->name_len < y->name_len ? x->name_len : y->name_len;
    c = memcmp(x->name, y->name, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Splits a fragment path into its place; false when it has none. */
static bool fragment_place(const char *path, struct fidx *f)
{
    if (!path || strncmp(path, "/CC015C/", 8) != 0)
        return false;
    const char *last = strrchr(path, '/');
    const char *name = last + 1;
    size_t nl = strcspn(name, "[");
    if (nl == 0)
        return false;
    unsigned long pos = 0;
    if (name[nl] == '[') {
        const char *p = name + nl + 1;
        char *end = NULL;
        pos = strtoul(p, &end, 10);
        if (end == p || *end != ']' || end[1] != '\0' || pos == 0)
            return false;
    }
    f->path = path;
    f->parent_len = (size_t)(last - path);
    f->name = name;
    f->name_len = nl;
    f->pos = pos;
    return true;
}

static void note(struct wr *w, const char *key, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(struct wr *w, const char *key, const char *rule, const char *fmt, ...)
{
    if (!w->notes)
        return;
    char msg[KV_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t m = w->ptr.len;
    if (key)
        m = kv_ptr_push(&w->ptr, key);
    kv_report_add(w->notes, rule, w->ptr.buf, "%s", msg);
    kv_ptr_pop(&w->ptr, m);
}

/* First index entry for (current location, name); nfx when none. */
static size_t lower_bound(const struct wr *w, const char *name, size_t name_len)
{
    struct fidx key = {w->xp, w->xlen, name, name_len, 0, 0};
    size_t lo = 0, hi = w->nfx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_fidx(&w->fx[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool same_parent(const struct wr *w, const struct fidx *f)
{
    return f->parent_len == w->xlen && memcmp(f->path, w->xp, w->xlen) == 0;
}

static bool same_place(const struct wr *w, const struct fidx *f, const char *name, size_t nl)
{
    return same_parent(w, f) && f->name_len == nl && memcmp(f->name, name, nl) == 0;
}

/* Writes one kept element after checking it is one element named as its place says. */
static void write_fragment(struct wr *w, const struct fidx *f)
{
    const struct kv_ncts_fragment *fr = &w->ncts->unmodelled[f->i];
    w->used[f->i] = true;
    struct kv_ptr saved = w->ptr; /* notes name the kept element, from the root */
    kv_ptr_init(&w->ptr);
    kv_ptr_push(&w->ptr, "ncts");
    kv_ptr_push(&w->ptr, "unmodelled");
    kv_ptr_push_index(&w->ptr, f->i);
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    xmlDocPtr doc = NULL;
    size_t xl = fr->xml ? strlen(fr->xml) : 0;
    int rc = fr->xml && xl <= KV_DECL_UNMODELLED_XML_MAX ? kv_ncts_parse(fr->xml, xl, &doc, &errs)
                                                         : KV_EPARSE;
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (rc == KV_ENOMEM) {
        w->err = KV_ENOMEM;
    } else if (rc != KV_OK || !root) {
        note(w, "xml", "R-UNMOD-002", "not one well-formed XML element%s%s", errs.count ? ": " : "",
             errs.count ? errs.items[0].message : "");
        w->err = w->err ? w->err : KV_EINVAL;
    } else if (root->ns || strlen((const char *)root->name) != f->name_len ||
               memcmp(root->name, f->name, f->name_len) != 0) {
        note(w, "xml", "R-UNMOD-002", "is the element <%s>, but its path names <%.*s>",
             (const char *)root->name, (int)f->name_len, f->name);
        w->err = w->err ? w->err : KV_EINVAL;
    } else {
        ser_element(&w->b, root, w->indent, w->depth);
    }
    if (doc)
        xmlFreeDoc(doc);
    kv_ncts_errors_release(&errs);
    w->ptr = saved;
}

/* Writes the fragments kept for (current location, name). */
static void w_keep(struct wr *w, const char *name)
{
    size_t nl = strlen(name);
    for (size_t k = lower_bound(w, name, nl); k < w->nfx && same_place(w, &w->fx[k], name, nl); k++)
        if (!w->used[w->fx[k].i])
            write_fragment(w, &w->fx[k]);
}

static bool has_kept(const struct wr *w, const char *name)
{
    size_t nl = strlen(name);
    size_t k = lower_bound(w, name, nl);
    return k < w->nfx && same_place(w, &w->fx[k], name, nl);
}

/* True when some fragment was kept inside the child group `name` (a direct child of it). */
static bool has_kept_under(struct wr *w, const char *name)
{
    size_t mark = w->xlen;
    int n = snprintf(w->xp + w->xlen, sizeof(w->xp) - w->xlen, "/%s", name);
    if (n <= 0 || (size_t)n >= sizeof(w->xp) - w->xlen) {
        w->xp[mark] = '\0';
        return false;
    }
    w->xlen += (size_t)n;
    size_t k = lower_bound(w, "", 0);
    bool found = k < w->nfx && same_parent(w, &w->fx[k]);
    w->xlen = mark;
    w->xp[mark] = '\0';
    return found;
}

/* XML 1.0 characters only: no C0 controls except tab, LF, CR; no U+FFFE/U+FFFF. */
static bool xml_chars_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; u[i]; i++) {
        if (u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' && u[i] != '\r')
            return false;
        if (u[i] == 0xEF && u[i + 1] == 0xBF && (u[i + 2] == 0xBE || u[i + 2] == 0xBF))
            return false;
    }
    return true;
}

static void w_raw_leaf(struct wr *w, const char *name, const char *value)
{
    b_indent(&w->b, w->indent, w->depth);
    b_put(&w->b, "<", 1);
    b_str(&w->b, name);
    b_put(&w->b, ">", 1);
    b_text(&w->b, value);
    b_put(&w->b, "</", 2);
    b_str(&w->b, name);
    b_put(&w->b, ">", 1);
    b_nl(&w->b, w->indent);
}

/* A modelled leaf (key: its JSON member, for notes), then whatever was kept there. */
static void w_leaf(struct wr *w, const char *name, const char *key, const char *value)
{
    if (value) {
        if (!xml_chars_ok(value)) {
            note(w, key, "R-EXP-002",
                 "contains a character XML 1.0 cannot carry (a control character)");
            w->err = w->err ? w->err : KV_EINVAL;
        } else {
            w_raw_leaf(w, name, value);
        }
    }
    w_keep(w, name);
}

/* A number kervan derives (sequence number, ...): the kept original wins. */
static void w_derived(struct wr *w, const char *name, unsigned long long value)
{
    if (has_kept(w, name)) {
        w_keep(w, name);
        return;
    }
    char t[32];
    snprintf(t, sizeof(t), "%llu", value);
    w_raw_leaf(w, name, t);
}

static void w_flag(struct wr *w, const char *name, enum kv_yesno f)
{
    if (f != KV_YESNO_ABSENT)
        w_raw_leaf(w, name, f == KV_YESNO_YES ? "1" : "0");
    w_keep(w, name);
}

static void w_int(struct wr *w, const char *name, const struct kv_int *x)
{
    if (x->set) {
        char t[32];
        snprintf(t, sizeof(t), "%lld", (long long)x->value);
        w_raw_leaf(w, name, t);
    }
    w_keep(w, name);
}

static void w_dec(struct wr *w, const char *name, const struct kv_decimal *d)
{
    if (d) {
        char t[KV_DEC_TEXT_MAX];
        if (kv_dec_format_written(d, t, sizeof(t)) > 0)
            w_raw_leaf(w, name, t);
    }
    w_keep(w, name);
}

/* Opens element `name` (position pos, 0 for none) as a child of the current one. */
static size_t w_open(struct wr *w, const char *name, size_t pos)
{
    size_t mark = w->xlen;
    char seg[160];
    int k = pos ? snprintf(seg, sizeof(seg), "/%s[%zu]", name, pos)
                : snprintf(seg, sizeof(seg), "/%s", name);
    if (k > 0 && (size_t)k < sizeof(seg) && w->xlen + (size_t)k < sizeof(w->xp)) {
        memcpy(w->xp + w->xlen, seg, (size_t)k + 1);
        w->xlen += (size_t)k;
    }
    b_indent(&w->b, w->indent, w->depth);
    b_put(&w->b, "<", 1);
    b_str(&w->b, name);
    b_put(&w->b, ">", 1);
    b_nl(&w->b, w->indent);
    w->depth++;
    return mark;
}

/* Writes every fragment left for the current element, then closes it. */
static int cmp_fidx_ptr_order(const void *a, const void *b)
{
    const struct fidx *x = *(const struct fidx *const *)a, *y = *(const struct fidx *const *)b;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/*
 * Writes the fragments kept for the current element that no slot took (names
 * the XSD does not have there), in the order they came in.
 */
static void w_leftovers(struct wr *w)
{
    size_t first = lower_bound(w, "", 0), n = 0;
    for (size_t k = first; k < w->nfx && same_parent(w, &w->fx[k]); k++)
        if (!w->used[w->fx[k].i])
            n++;
    if (n == 0)
        return;
    const struct fidx **left = malloc(n * sizeof(*left));
    if (!left) {
        w->err = KV_ENOMEM;
        return;
    }
    n = 0;
    for (size_t k = first; k < w->nfx && same_parent(w, &w->fx[k]); k++)
        if (!w->used[w->fx[k].i])
            left[n++] = &w->fx[k];
    qsort(left, n, sizeof(*left), cmp_fidx_ptr_order);
    for (size_t k = 0; k < n; k++)
        write_fragment(w, left[k]);
    free(left);
}

static void w_close(struct wr *w, const char *name, size_t mark)
{
    w_leftovers(w);
    w->depth--;
    b_indent(&w->b, w->indent, w->depth);
    b_put(&w->b, "</", 2);
    b_str(&w->b, name);
    b_put(&w->b, ">", 1);
    b_nl(&w->b, w->indent);
    w->xlen = mark;
    w->xp[mark] = '\0';
}

/* A group of one referenceNumber (offices). */
static void w_office(struct wr *w, const char *name, const char *key, const char *ref, size_t pos)
{
    if (!ref && !has_kept(w, name))
        return;
    if (ref) {
        size_t m = w_open(w, name, pos);
        w_leaf(w, "referenceNumber", key, ref);
        w_close(w, name, m);
    }
    w_keep(w, name);
}

static void w_address(struct wr *w, const char *key, const struct kv_address *a)
{
    if (a) {
        size_t pm = kv_ptr_push(&w->ptr, key);
        size_t m = w_open(w, "Address", 0);
        w_leaf(w, "streetAndNumber", "street", a->street);
        w_leaf(w, "postcode", "postcode", a->postcode);
        w_leaf(w, "city", "city", a->city);
        w_leaf(w, "country", "country", a->country);
        w_close(w, "Address", m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, "Address");
}

static void w_contact(struct wr *w, const char *key, const struct kv_contact *k, bool allowed)
{
    if (k && !allowed) {
        note(w, key, "R-EXP-001", "CC015C has no contact person here; left out");
    } else if (k) {
        size_t pm = kv_ptr_push(&w->ptr, key);
        size_t m = w_open(w, "ContactPerson", 0);
        w_leaf(w, "name", "name", k->name);
        w_leaf(w, "phoneNumber", "phone", k->phone);
        w_leaf(w, "eMailAddress", "email", k->email);
        w_close(w, "ContactPerson", m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, "ContactPerson");
}

/* Consignor (with a contact person) or Consignee (without one in CC015C). */
static void w_party(struct wr *w, const char *name, const char *key, const struct kv_party *p,
                    bool contact_allowed)
{
    if (p) {
        size_t pm = kv_ptr_push(&w->ptr, key);
        size_t m = w_open(w, name, 0);
        w_leaf(w, "identificationNumber", "id", p->id);
        w_leaf(w, "name", "name", p->name);
        w_address(w, "address", p->address);
        w_contact(w, "contact", p->contact, contact_allowed);
        w_close(w, name, m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, name);
}

static void w_transit_operation(struct wr *w, const struct kv_declaration *d)
{
    size_t m = w_open(w, "TransitOperation", 0);
    w_leaf(w, "LRN", "lrn", d->lrn);
    w_leaf(w, "declarationType", "declarationType", d->declaration_type);
    w_leaf(w, "additionalDeclarationType", "additionalDeclarationType",
           d->additional_declaration_type);
    w_leaf(w, "TIRCarnetNumber", "tirCarnetNumber", d->tir_carnet_number);
    w_keep(w, "presentationOfTheGoodsDateAndTime");
    w_leaf(w, "security", "security", d->security);
    w_flag(w, "reducedDatasetIndicator", d->reduced_dataset);
    w_keep(w, "specificCircumstanceIndicator");
    w_keep(w, "communicationLanguageAtDeparture");
    w_flag(w, "bindingItinerary", d->binding_itinerary);
    w_leaf(w, "limitDate", "limitDate", d->limit_date);
    w_close(w, "TransitOperation", m);
}

static void w_guarantees(struct wr *w, const struct kv_declaration *d)
{
    size_t pm = kv_ptr_push(&w->ptr, "guarantees");
    for (size_t i = 0; i < d->n_guarantees; i++) {
        const struct kv_guarantee *g = &d->guarantees[i];
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t m = w_open(w, "Guarantee", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "guaranteeType", "type", g->type);
        w_leaf(w, "otherGuaranteeReference", "otherReference", g->other_ref);
        size_t pr = kv_ptr_push(&w->ptr, "references");
        for (size_t j = 0; j < g->n_refs; j++) {
            const struct kv_guarantee_ref *r = &g->refs[j];
            size_t pj = kv_ptr_push_index(&w->ptr, j);
            size_t mr = w_open(w, "GuaranteeReference", j + 1);
            w_derived(w, "sequenceNumber", j + 1);
            w_leaf(w, "GRN", "grn", r->grn);
            w_leaf(w, "accessCode", "accessCode", r->access_code);
            w_dec(w, "amountToBeCovered", r->amount);
            w_leaf(w, "currency", "currency", r->currency);
            w_close(w, "GuaranteeReference", mr);
            kv_ptr_pop(&w->ptr, pj);
        }
        kv_ptr_pop(&w->ptr, pr);
        w_keep(w, "GuaranteeReference");
        w_close(w, "Guarantee", m);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pm);
    w_keep(w, "Guarantee");
}

/* A repeated group with a sequence number and one value (seals, routing, UN numbers, ...). */
static void w_single(struct wr *w, const char *group, const char *leaf, const char *key,
                     const char *const *values, size_t n)
{
    size_t pm = kv_ptr_push(&w->ptr, key);
    for (size_t i = 0; i < n; i++) {
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t m = w_open(w, group, i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, leaf, NULL, values[i]);
        w_close(w, group, m);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pm);
    w_keep(w, group);
}

static void w_equipment(struct wr *w, const struct kv_consignment *k)
{
    size_t pm = kv_ptr_push(&w->ptr, "transportEquipment");
    for (size_t i = 0; i < k->n_equipment; i++) {
        const struct kv_equipment *e = &k->equipment[i];
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t m = w_open(w, "TransportEquipment", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "containerIdentificationNumber", "containerId", e->container_id);
        w_int(w, "numberOfSeals", &e->number_of_seals);
        w_single(w, "Seal", "identifier", "seals", e->seals, e->n_seals);
        size_t pg = kv_ptr_push(&w->ptr, "goodsReferences");
        for (size_t j = 0; j < e->n_goods_refs; j++) {
            size_t mg = w_open(w, "GoodsReference", j + 1);
            w_derived(w, "sequenceNumber", j + 1);
            struct kv_int x = {e->goods_refs[j], true};
            w_int(w, "declarationGoodsItemNumber", &x);
            w_close(w, "GoodsReference", mg);
        }
        kv_ptr_pop(&w->ptr, pg);
        w_keep(w, "GoodsReference");
        w_close(w, "TransportEquipment", m);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pm);
    w_keep(w, "TransportEquipment");
}

static void w_location(struct wr *w, const struct kv_location *l)
{
    if (l) {
        size_t pm = kv_ptr_push(&w->ptr, "locationOfGoods");
        size_t m = w_open(w, "LocationOfGoods", 0);
        w_leaf(w, "typeOfLocation", "type", l->type);
        w_leaf(w, "qualifierOfIdentification", "qualifier", l->qualifier);
        w_leaf(w, "authorisationNumber", "authorisationNumber", l->authorisation);
        w_keep(w, "additionalIdentifier");
        w_leaf(w, "UNLocode", "unLocode", l->unlocode);
        w_office(w, "CustomsOffice", "customsOffice", l->office, 0);
        if (l->gnss) {
            size_t pg = kv_ptr_push(&w->ptr, "gnss");
            size_t mg = w_open(w, "GNSS", 0);
            w_leaf(w, "latitude", "latitude", l->gnss->latitude);
            w_leaf(w, "longitude", "longitude", l->gnss->longitude);
            w_close(w, "GNSS", mg);
            kv_ptr_pop(&w->ptr, pg);
        }
        w_keep(w, "GNSS");
        w_keep(w, "EconomicOperator");
        w_address(w, "address", l->address);
        w_keep(w, "PostcodeAddress");
        w_keep(w, "ContactPerson");
        w_close(w, "LocationOfGoods", m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, "LocationOfGoods");
}

static void w_place(struct wr *w, const char *name, const char *key, const struct kv_place *p)
{
    if (p) {
        size_t pm = kv_ptr_push(&w->ptr, key);
        size_t m = w_open(w, name, 0);
        w_leaf(w, "UNLocode", "unLocode", p->unlocode);
        w_leaf(w, "country", "country", p->country);
        w_leaf(w, "location", "location", p->location);
        w_close(w, name, m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, name);
}

/* The document groups every level of CC015C may carry and kervan keeps verbatim. */
static void w_documents(struct wr *w)
{
    w_keep(w, "PreviousDocument");
    w_keep(w, "SupportingDocument");
    w_keep(w, "TransportDocument");
    w_keep(w, "AdditionalReference");
    w_keep(w, "AdditionalInformation");
    w_keep(w, "TransportCharges");
}

static void w_commodity(struct wr *w, const struct kv_commodity *k)
{
    if (k) {
        size_t pm = kv_ptr_push(&w->ptr, "commodity");
        size_t m = w_open(w, "Commodity", 0);
        w_leaf(w, "descriptionOfGoods", "description", k->description);
        w_keep(w, "cusCode");
        if (k->hs || has_kept_under(w, "CommodityCode")) {
            size_t mc = w_open(w, "CommodityCode", 0);
            w_leaf(w, "harmonizedSystemSubHeadingCode", "hs", k->hs);
            w_keep(w, "combinedNomenclatureCode");
            w_close(w, "CommodityCode", mc);
        }
        w_keep(w, "CommodityCode");
        w_single(w, "DangerousGoods", "UNNumber", "dangerousGoods", k->dangerous, k->n_dangerous);
        if (k->gross_mass || k->net_mass || has_kept_under(w, "GoodsMeasure")) {
            size_t mg = w_open(w, "GoodsMeasure", 0);
            w_dec(w, "grossMass", k->gross_mass);
            w_dec(w, "netMass", k->net_mass);
            w_keep(w, "supplementaryUnits");
            w_close(w, "GoodsMeasure", mg);
        }
        w_keep(w, "GoodsMeasure");
        w_close(w, "Commodity", m);
        kv_ptr_pop(&w->ptr, pm);
    }
    w_keep(w, "Commodity");
}

static void w_item(struct wr *w, const struct kv_item *it, size_t i)
{
    size_t m = w_open(w, "ConsignmentItem", i + 1);
    w_derived(w, "goodsItemNumber", i + 1);
    w_int(w, "declarationGoodsItemNumber", &it->number);
    w_keep(w, "declarationType");
    w_keep(w, "countryOfDispatch");
    w_keep(w, "countryOfDestination");
    w_keep(w, "referenceNumberUCR");
    w_keep(w, "Consignee");
    w_keep(w, "AdditionalSupplyChainActor");
    w_commodity(w, it->commodity);
    size_t pp = kv_ptr_push(&w->ptr, "packages");
    for (size_t j = 0; j < it->n_packages; j++) {
        const struct kv_packaging *p = &it->packages[j];
        size_t pj = kv_ptr_push_index(&w->ptr, j);
        size_t mp = w_open(w, "Packaging", j + 1);
        w_derived(w, "sequenceNumber", j + 1);
        w_leaf(w, "typeOfPackages", "type", p->type);
        w_int(w, "numberOfPackages", &p->number);
        w_leaf(w, "shippingMarks", "shippingMarks", p->marks);
        w_close(w, "Packaging", mp);
        kv_ptr_pop(&w->ptr, pj);
    }
    kv_ptr_pop(&w->ptr, pp);
    w_keep(w, "Packaging");
    w_documents(w);
    if (it->value)
        note(w, "value", "R-EXP-001",
             "the goods value is a kervan extension CC015C does not carry; "
             "left out");
    if (it->origin)
        note(w, "countryOfOrigin", "R-EXP-001",
             "the country of origin is a kervan extension CC015C does not carry; left out");
    w_close(w, "ConsignmentItem", m);
}

static void w_houses(struct wr *w, const struct kv_declaration *d)
{
    struct kv_ptr saved = w->ptr;
    kv_ptr_init(&w->ptr);
    kv_ptr_push(&w->ptr, "houseConsignments");
    for (size_t i = 0; i < d->n_houses; i++) {
        const struct kv_house *h = &d->houses[i];
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t m = w_open(w, "HouseConsignment", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "countryOfDispatch", "countryOfDispatch", h->country_of_dispatch);
        w_leaf(w, "countryOfDestination", "countryOfDestination", h->country_of_destination);
        w_dec(w, "grossMass", h->gross_mass);
        w_leaf(w, "referenceNumberUCR", "ucr", h->ucr);
        w_party(w, "Consignor", "consignor", h->consignor, true);
        w_party(w, "Consignee", "consignee", h->consignee, false);
        w_keep(w, "AdditionalSupplyChainActor");
        w_keep(w, "DepartureTransportMeans");
        w_documents(w);
        size_t pt = kv_ptr_push(&w->ptr, "items");
        for (size_t j = 0; j < h->n_items; j++) {
            size_t pj = kv_ptr_push_index(&w->ptr, j);
            w_item(w, &h->items[j], j);
            kv_ptr_pop(&w->ptr, pj);
        }
        kv_ptr_pop(&w->ptr, pt);
        w_keep(w, "ConsignmentItem");
        w_close(w, "HouseConsignment", m);
        kv_ptr_pop(&w->ptr, pi);
    }
    w_keep(w, "HouseConsignment");
    w->ptr = saved;
}

static void w_consignment(struct wr *w, const struct kv_declaration *d)
{
    const struct kv_consignment *k = d->consignment;
    if (!k) {
        w_keep(w, "Consignment");
        return;
    }
    size_t pm = kv_ptr_push(&w->ptr, "consignment");
    size_t m = w_open(w, "Consignment", 0);
    w_leaf(w, "countryOfDispatch", "countryOfDispatch", k->country_of_dispatch);
    w_leaf(w, "countryOfDestination", "countryOfDestination", k->country_of_destination);
    w_flag(w, "containerIndicator", k->container_indicator);
    w_leaf(w, "inlandModeOfTransport", "inlandMode", k->inland_mode);
    w_leaf(w, "modeOfTransportAtTheBorder", "borderMode", k->border_mode);
    w_dec(w, "grossMass", k->gross_mass);
    w_leaf(w, "referenceNumberUCR", "ucr", k->ucr);
    if (k->carrier) {
        size_t pc = kv_ptr_push(&w->ptr, "carrier");
        size_t mc = w_open(w, "Carrier", 0);
        w_leaf(w, "identificationNumber", "id", k->carrier->id);
        w_contact(w, "contact", k->carrier->contact, true);
        w_close(w, "Carrier", mc);
        kv_ptr_pop(&w->ptr, pc);
    }
    w_keep(w, "Carrier");
    w_party(w, "Consignor", "consignor", k->consignor, true);
    w_party(w, "Consignee", "consignee", k->consignee, false);
    w_keep(w, "AdditionalSupplyChainActor");
    w_equipment(w, k);
    w_location(w, k->location);
    size_t pd = kv_ptr_push(&w->ptr, "departureTransportMeans");
    for (size_t i = 0; i < k->n_departure_means; i++) {
        const struct kv_transport_means *t = &k->departure_means[i];
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t mt = w_open(w, "DepartureTransportMeans", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "typeOfIdentification", "typeOfIdentification", t->type_of_id);
        w_leaf(w, "identificationNumber", "identificationNumber", t->id);
        w_leaf(w, "nationality", "nationality", t->nationality);
        w_close(w, "DepartureTransportMeans", mt);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pd);
    w_keep(w, "DepartureTransportMeans");
    w_single(w, "CountryOfRoutingOfConsignment", "country", "countriesOfRouting", k->routing,
             k->n_routing);
    size_t pb = kv_ptr_push(&w->ptr, "activeBorderTransportMeans");
    for (size_t i = 0; i < k->n_border_means; i++) {
        const struct kv_border_means *b = &k->border_means[i];
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t mb = w_open(w, "ActiveBorderTransportMeans", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "customsOfficeAtBorderReferenceNumber", "customsOffice", b->office);
        w_leaf(w, "typeOfIdentification", "typeOfIdentification", b->type_of_id);
        w_leaf(w, "identificationNumber", "identificationNumber", b->id);
        w_leaf(w, "nationality", "nationality", b->nationality);
        w_leaf(w, "conveyanceReferenceNumber", "conveyanceReference", b->conveyance_ref);
        w_close(w, "ActiveBorderTransportMeans", mb);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pb);
    w_keep(w, "ActiveBorderTransportMeans");
    w_place(w, "PlaceOfLoading", "placeOfLoading", k->loading);
    w_place(w, "PlaceOfUnloading", "placeOfUnloading", k->unloading);
    w_documents(w);
    w_houses(w, d);
    w_close(w, "Consignment", m);
    kv_ptr_pop(&w->ptr, pm);
    w_keep(w, "Consignment");
}

/* The header value missing for export, or NULL when all four are there. */
static const char *missing_header(const struct kv_declaration *d,
                                  const struct kv_ncts_export_opts *o)
{
    const struct kv_ncts_info *n = d->ncts;
    if (!(n && n->sender) && !(o && o->sender))
        return "messageSender";
    if (!(n && n->recipient) && !(o && o->recipient))
        return "messageRecipient";
    if (!(n && n->prepared) && !(o && o->prepared))
        return "preparationDateAndTime";
    if (!(n && n->message_id) && !(o && o->message_id))
        return "messageIdentification";
    return NULL;
}

static void w_root(struct wr *w, const struct kv_declaration *d,
                   const struct kv_ncts_export_opts *o)
{
    const struct kv_ncts_info *n = d->ncts;
    const char *sender = n && n->sender ? n->sender : o ? o->sender : NULL;
    const char *recipient = n && n->recipient ? n->recipient : o ? o->recipient : NULL;
    const char *prepared = n && n->prepared ? n->prepared : o ? o->prepared : NULL;
    const char *message_id = n && n->message_id ? n->message_id : o ? o->message_id : NULL;
    /* A declaration that came as CC015C keeps its PhaseID, or its lack of one. */
    const char *phase = n ? n->phase_id : o && o->phase_id ? o->phase_id : "NCTS5.1";
    b_str(&w->b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    b_nl(&w->b, w->indent > 0 ? w->indent : 1);
    b_str(&w->b, "<ncts:CC015C xmlns:ncts=\"" KV_NCTS_NS "\"");
    if (phase) {
        b_str(&w->b, " PhaseID=\"");
        b_attr(&w->b, phase);
        b_str(&w->b, "\"");
    }
    b_str(&w->b, ">");
    b_nl(&w->b, w->indent);
    w->depth = 1;
    size_t pn = kv_ptr_push(&w->ptr, "ncts");
    w_leaf(w, "messageSender", "messageSender", sender);
    w_leaf(w, "messageRecipient", "messageRecipient", recipient);
    w_leaf(w, "preparationDateAndTime", "preparationDateAndTime", prepared);
    w_leaf(w, "messageIdentification", "messageIdentification", message_id);
    if (has_kept(w, "messageType"))
        w_keep(w, "messageType");
    else
        w_raw_leaf(w, "messageType", "CC015C");
    w_leaf(w, "correlationIdentifier", "correlationIdentifier", n ? n->correlation_id : NULL);
    kv_ptr_pop(&w->ptr, pn);
    w_transit_operation(w, d);
    w_keep(w, "Authorisation");
    w_office(w, "CustomsOfficeOfDeparture", "officeOfDeparture", d->office_of_departure, 0);
    w_office(w, "CustomsOfficeOfDestinationDeclared", "officeOfDestination",
             d->office_of_destination, 0);
    size_t pt = kv_ptr_push(&w->ptr, "officesOfTransit");
    for (size_t i = 0; i < d->n_transit; i++) {
        size_t pi = kv_ptr_push_index(&w->ptr, i);
        size_t m = w_open(w, "CustomsOfficeOfTransitDeclared", i + 1);
        w_derived(w, "sequenceNumber", i + 1);
        w_leaf(w, "referenceNumber", "office", d->transit[i].office);
        w_leaf(w, "arrivalDateAndTimeEstimated", "arrival", d->transit[i].arrival);
        w_close(w, "CustomsOfficeOfTransitDeclared", m);
        kv_ptr_pop(&w->ptr, pi);
    }
    kv_ptr_pop(&w->ptr, pt);
    w_keep(w, "CustomsOfficeOfTransitDeclared");
    w_single(w, "CustomsOfficeOfExitForTransitDeclared", "referenceNumber",
             "officesOfExitForTransit", d->exit_for_transit, d->n_exit);
    if (d->holder) {
        const struct kv_holder *h = d->holder;
        size_t ph = kv_ptr_push(&w->ptr, "holder");
        size_t m = w_open(w, "HolderOfTheTransitProcedure", 0);
        w_leaf(w, "identificationNumber", "id", h->id);
        w_leaf(w, "TIRHolderIdentificationNumber", "tirHolderId", h->tir_holder_id);
        w_leaf(w, "name", "name", h->name);
        w_address(w, "address", h->address);
        w_contact(w, "contact", h->contact, true);
        w_close(w, "HolderOfTheTransitProcedure", m);
        kv_ptr_pop(&w->ptr, ph);
    }
    w_keep(w, "HolderOfTheTransitProcedure");
    if (d->representative) {
        const struct kv_representative *r = d->representative;
        size_t pr = kv_ptr_push(&w->ptr, "representative");
        size_t m = w_open(w, "Representative", 0);
        w_leaf(w, "identificationNumber", "id", r->id);
        w_leaf(w, "status", "status", r->status);
        w_contact(w, "contact", r->contact, true);
        w_close(w, "Representative", m);
        kv_ptr_pop(&w->ptr, pr);
    }
    w_keep(w, "Representative");
    w_guarantees(w, d);
    w_consignment(w, d);
    /* Whatever is left for the root, then close it. */
    w_leftovers(w);
    b_str(&w->b, "</ncts:CC015C>");
    b_nl(&w->b, 1);
}

int kv_ncts_cc015c_export(const struct kv_declaration *d, const struct kv_ncts_export_opts *o,
                          char **xml, size_t *len, struct kv_report *notes)
{
    if (!d || !xml)
        return KV_EINVAL;
    *xml = NULL;
    if (len)
        *len = 0;
    struct wr w;
    memset(&w, 0, sizeof(w));
    w.b.max = 2u * KV_NCTS_XML_MAX;
    w.indent = o ? o->indent : 2;
    if (w.indent < 0 || w.indent > 8)
        w.indent = 2;
    w.notes = notes;
    w.ncts = d->ncts;
    kv_ptr_init(&w.ptr);
    memcpy(w.xp, "/CC015C", 8);
    w.xlen = 7;
    size_t nf = d->ncts ? d->ncts->n_unmodelled : 0;
    int rc = KV_OK;
    if (nf) {
        w.fx = calloc(nf, sizeof(*w.fx));
        w.used = calloc(nf, sizeof(*w.used));
        if (!w.fx || !w.used) {
            rc = KV_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < nf; i++) {
            struct fidx f;
            if (fragment_place(d->ncts->unmodelled[i].path, &f)) {
                f.i = i;
                w.fx[w.nfx++] = f;
            }
        }
        qsort(w.fx, w.nfx, sizeof(*w.fx), cmp_fidx);
    }
    const char *missing = missing_header(d, o);
    if (missing) {
        note(&w, NULL, "R-EXP-003",
             "the message header needs %s: the declaration carries none (\"ncts\") and none "
             "was given",
             missing);
        rc = KV_EINVAL;
        goto out;
    }
    w_root(&w, d, o);
    /* A kept element whose place never came up would be lost: refuse. */
    for (size_t i = 0; i < nf && w.err != KV_ENOMEM; i++) {
        if (w.used[i])
            continue;
        const char *p = d->ncts->unmodelled[i].path;
        size_t pm = kv_ptr_push(&w.ptr, "ncts");
        kv_ptr_push(&w.ptr, "unmodelled");
        kv_ptr_push_index(&w.ptr, i);
        char q[128];
        kv_quote(q, sizeof(q), p ? p : "", p ? strlen(p) : 0, 100);
        note(&w, "path", "R-UNMOD-003",
             "\"%s\" has no place in this declaration (malformed, or its parent is not there)", q);
        kv_ptr_pop(&w.ptr, pm);
        w.err = w.err ? w.err : KV_EINVAL;
    }
    if (w.b.oom)
        rc = KV_ENOMEM;
    else if (w.b.over)
        rc = KV_ELIMIT;
    else if (w.err)
        rc = w.err;
out:
    free(w.fx);
    free(w.used);
    if (rc != KV_OK) {
        free(w.b.p);
        return rc;
    }
    *xml = w.b.p;
    if (len)
        *len = w.b.len;
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* JSON pointer → CC015C location                                     */
/* ------------------------------------------------------------------ */

enum xm_kind { XM_LEAF, XM_GROUP, XM_ARRAY, XM_STRINGS };

struct xmap {
    const char *json;
    const char *xml; /* below the parent element; "" = the parent itself */
    enum xm_kind kind;
    const char *leaf; /* XM_STRINGS: the element holding each value */
    const struct xmap *sub;
};

#define LEAF(j, x)                                                                                 \
    {                                                                                              \
        j, x, XM_LEAF, NULL, NULL                                                                  \
    }
#define GRP(j, x, s)                                                                               \
    {                                                                                              \
        j, x, XM_GROUP, NULL, s                                                                    \
    }
#define ARR(j, x, s)                                                                               \
    {                                                                                              \
        j, x, XM_ARRAY, NULL, s                                                                    \
    }
#define STRS(j, x, l)                                                                              \
    {                                                                                              \
        j, x, XM_STRINGS, l, NULL                                                                  \
    }
#define XM_END                                                                                     \
    {                                                                                              \
        NULL, NULL, XM_LEAF, NULL, NULL                                                            \
    }

static const struct xmap m_address[] = {LEAF("street", "streetAndNumber"),
                                        LEAF("postcode", "postcode"), LEAF("city", "city"),
                                        LEAF("country", "country"), XM_END};
static const struct xmap m_contact[] = {LEAF("name", "name"), LEAF("phone", "phoneNumber"),
                                        LEAF("email", "eMailAddress"), XM_END};
static const struct xmap m_party[] = {LEAF("id", "identificationNumber"), LEAF("name", "name"),
                                      GRP("address", "Address", m_address),
                                      GRP("contact", "ContactPerson", m_contact), XM_END};
static const struct xmap m_holder[] = {LEAF("id", "identificationNumber"),
                                       LEAF("tirHolderId", "TIRHolderIdentificationNumber"),
                                       LEAF("name", "name"),
                                       GRP("address", "Address", m_address),
                                       GRP("contact", "ContactPerson", m_contact),
                                       XM_END};
static const struct xmap m_repr[] = {LEAF("id", "identificationNumber"), LEAF("status", "status"),
                                     GRP("contact", "ContactPerson", m_contact), XM_END};
static const struct xmap m_transit[] = {LEAF("office", "referenceNumber"),
                                        LEAF("arrival", "arrivalDateAndTimeEstimated"), XM_END};
static const struct xmap m_gref[] = {LEAF("grn", "GRN"), LEAF("accessCode", "accessCode"),
                                     LEAF("amount", "amountToBeCovered"),
                                     LEAF("currency", "currency"), XM_END};
static const struct xmap m_guarantee[] = {LEAF("type", "guaranteeType"),
                                          LEAF("otherReference", "otherGuaranteeReference"),
                                          ARR("references", "GuaranteeReference", m_gref), XM_END};
static const struct xmap m_carrier[] = {LEAF("id", "identificationNumber"),
                                        GRP("contact", "ContactPerson", m_contact), XM_END};
static const struct xmap m_equipment[] = {
    LEAF("containerId", "containerIdentificationNumber"), LEAF("numberOfSeals", "numberOfSeals"),
    STRS("seals", "Seal", "identifier"),
    STRS("goodsReferences", "GoodsReference", "declarationGoodsItemNumber"), XM_END};
static const struct xmap m_gnss[] = {LEAF("latitude", "latitude"), LEAF("longitude", "longitude"),
                                     XM_END};
static const struct xmap m_location[] = {LEAF("type", "typeOfLocation"),
                                         LEAF("qualifier", "qualifierOfIdentification"),
                                         LEAF("authorisationNumber", "authorisationNumber"),
                                         LEAF("unLocode", "UNLocode"),
                                         LEAF("customsOffice", "CustomsOffice/referenceNumber"),
                                         GRP("gnss", "GNSS", m_gnss),
                                         GRP("address", "Address", m_address),
                                         XM_END};
static const struct xmap m_means[] = {LEAF("typeOfIdentification", "typeOfIdentification"),
                                      LEAF("identificationNumber", "identificationNumber"),
                                      LEAF("nationality", "nationality"), XM_END};
static const struct xmap m_border[] = {
    LEAF("customsOffice", "customsOfficeAtBorderReferenceNumber"),
    LEAF("typeOfIdentification", "typeOfIdentification"),
    LEAF("identificationNumber", "identificationNumber"),
    LEAF("nationality", "nationality"),
    LEAF("conveyanceReference", "conveyanceReferenceNumber"),
    XM_END};
static const struct xmap m_place[] = {LEAF("unLocode", "UNLocode"), LEAF("country", "country"),
                                      LEAF("location", "location"), XM_END};
static const struct xmap m_consignment[] = {
    LEAF("countryOfDispatch", "countryOfDispatch"),
    LEAF("countryOfDestination", "countryOfDestination"),
    LEAF("containerIndicator", "containerIndicator"),
    LEAF("inlandMode", "inlandModeOfTransport"),
    LEAF("borderMode", "modeOfTransportAtTheBorder"),
    LEAF("grossMass", "grossMass"),
    LEAF("ucr", "referenceNumberUCR"),
    GRP("carrier", "Carrier", m_carrier),
    GRP("consignor", "Consignor", m_party),
    GRP("consignee", "Consignee", m_party),
    ARR("transportEquipment", "TransportEquipment", m_equipment),
    GRP("locationOfGoods", "LocationOfGoods", m_location),
    ARR("departureTransportMeans", "DepartureTransportMeans", m_means),
    STRS("countriesOfRouting", "CountryOfRoutingOfConsignment", "country"),
    ARR("activeBorderTransportMeans", "ActiveBorderTransportMeans", m_border),
    GRP("placeOfLoading", "PlaceOfLoading", m_place),
    GRP("placeOfUnloading", "PlaceOfUnloading", m_place),
    XM_END};
static const struct xmap m_commodity[] = {
    LEAF("description", "descriptionOfGoods"),
    LEAF("hs", "CommodityCode/harmonizedSystemSubHeadingCode"),
    STRS("dangerousGoods", "DangerousGoods", "UNNumber"),
    LEAF("grossMass", "GoodsMeasure/grossMass"),
    LEAF("netMass", "GoodsMeasure/netMass"),
    XM_END};
static const struct xmap m_package[] = {LEAF("type", "typeOfPackages"),
                                        LEAF("number", "numberOfPackages"),
                                        LEAF("shippingMarks", "shippingMarks"), XM_END};
static const struct xmap m_item[] = {
    LEAF("declarationGoodsItemNumber", "declarationGoodsItemNumber"),
    GRP("commodity", "Commodity", m_commodity), ARR("packages", "Packaging", m_package), XM_END};
static const struct xmap m_house[] = {LEAF("countryOfDispatch", "countryOfDispatch"),
                                      LEAF("countryOfDestination", "countryOfDestination"),
                                      LEAF("grossMass", "grossMass"),
                                      LEAF("ucr", "referenceNumberUCR"),
                                      GRP("consignor", "Consignor", m_party),
                                      GRP("consignee", "Consignee", m_party),
                                      ARR("items", "ConsignmentItem", m_item),
                                      XM_END};
static const struct xmap m_ncts[] = {LEAF("messageSender", "messageSender"),
                                     LEAF("messageRecipient", "messageRecipient"),
                                     LEAF("preparationDateAndTime", "preparationDateAndTime"),
                                     LEAF("messageIdentification", "messageIdentification"),
                                     LEAF("correlationIdentifier", "correlationIdentifier"),
                                     LEAF("phaseId", "@PhaseID"),
                                     XM_END};
static const struct xmap m_root[] = {
    LEAF("lrn", "TransitOperation/LRN"),
    LEAF("declarationType", "TransitOperation/declarationType"),
    LEAF("additionalDeclarationType", "TransitOperation/additionalDeclarationType"),
    LEAF("tirCarnetNumber", "TransitOperation/TIRCarnetNumber"),
    LEAF("security", "TransitOperation/security"),
    LEAF("reducedDatasetIndicator", "TransitOperation/reducedDatasetIndicator"),
    LEAF("bindingItinerary", "TransitOperation/bindingItinerary"),
    LEAF("limitDate", "TransitOperation/limitDate"),
    LEAF("officeOfDeparture", "CustomsOfficeOfDeparture/referenceNumber"),
    LEAF("officeOfDestination", "CustomsOfficeOfDestinationDeclared/referenceNumber"),
    ARR("officesOfTransit", "CustomsOfficeOfTransitDeclared", m_transit),
    STRS("officesOfExitForTransit", "CustomsOfficeOfExitForTransitDeclared", "referenceNumber"),
    GRP("holder", "HolderOfTheTransitProcedure", m_holder),
    GRP("representative", "Representative", m_repr),
    ARR("guarantees", "Guarantee", m_guarantee),
    GRP("consignment", "Consignment", m_consignment),
    ARR("houseConsignments", "Consignment/HouseConsignment", m_house),
    GRP("ncts", "", m_ncts),
    XM_END};

struct xbuf {
    char *p;
    size_t len, sz;
    bool cut;
};

static void xb_put(struct xbuf *x, const char *s)
{
    size_t n = strlen(s);
    if (x->cut)
        return;
    if (x->len + n + 1 > x->sz) {
        x->cut = true;
        return;
    }
    memcpy(x->p + x->len, s, n + 1);
    x->len += n;
}

/* The next pointer segment (unescaped ~0 ~1) into seg; returns the rest or NULL at the end. */
static const char *next_segment(const char *p, char *seg, size_t segsz)
{
    if (*p != '/')
        return NULL;
    p++;
    size_t k = 0;
    while (*p && *p != '/') {
        char ch = *p++;
        if (ch == '~' && (*p == '0' || *p == '1'))
            ch = *p++ == '0' ? '~' : '/';
        if (k + 1 < segsz)
            seg[k++] = ch;
    }
    seg[k] = '\0';
    return p;
}

static bool index_segment(const char *s, unsigned long *v)
{
    if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 9)
        return false;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    *v = strtoul(s, NULL, 10);
    return true;
}

bool kv_ncts_cc015c_xpath(const char *pointer, char *buf, size_t bufsz)
{
    if (!buf || bufsz < 16)
        return false;
    char tmp[XP_MAX * 2];
    struct xbuf x = {tmp, 0, sizeof(tmp), false};
    tmp[0] = '\0';
    xb_put(&x, "/CC015C");
    bool whole = pointer != NULL;
    const struct xmap *map = m_root;
    const char *p = pointer ? pointer : "";
    char seg[128];
    while (*p) {
        p = next_segment(p, seg, sizeof(seg));
        if (!p || !map) {
            whole = false;
            break;
        }
        const struct xmap *m = map;
        while (m->json && strcmp(m->json, seg) != 0)
            m++;
        if (!m->json) {
            whole = false;
            break;
        }
        if (m->xml[0]) {
            xb_put(&x, "/");
            xb_put(&x, m->xml);
        }
        map = m->kind == XM_GROUP ? m->sub : NULL;
        if (m->kind == XM_ARRAY || m->kind == XM_STRINGS) {
            if (!*p)
                break;
            const char *rest = next_segment(p, seg, sizeof(seg));
            unsigned long i;
            if (!rest || !index_segment(seg, &i)) {
                whole = false;
                break;
            }
            p = rest;
            char idx[24];
            snprintf(idx, sizeof(idx), "[%lu]", i + 1);
            xb_put(&x, idx);
            if (m->kind == XM_STRINGS) {
                xb_put(&x, "/");
                xb_put(&x, m->leaf);
            } else {
                map = m->sub;
            }
        }
    }
    size_t max = bufsz - 1;
    if (x.len <= max && !x.cut) {
        memcpy(buf, tmp, x.len + 1);
    } else {
        size_t k = max > 3 ? max - 3 : 0;
        memcpy(buf, tmp, k);
        memcpy(buf + k, "...", 4);
    }
    return whole;
}
