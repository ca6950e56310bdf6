/*
 * ncts_schema.c — hardened parsing of NCTS XML, the XSD folder with its
 * lazily compiled message schemas, schema validation into NCTS-style errors
 * (see ncts_schema.h; docs/ncts.md "Error reporting").
 *
 * libxml2 reports errors through callbacks. Parsing installs its callback in
 * the parser context's own SAX handler (and, for the few errors libxml2
 * raises outside a context, as this thread's structured handler for the
 * duration of the call), so concurrent parses never share state. Schema
 * validation uses one xmlSchemaValidCtxt per call over a compiled schema
 * that is read-only once built.
 */
#include "codec/ncts_schema.h"

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlschemas.h>

#include "core/err.h"

/* ------------------------------------------------------------------ */
/* The error list                                                     */
/* ------------------------------------------------------------------ */

void kv_ncts_errors_init(struct kv_ncts_errors *e)
{
    memset(e, 0, sizeof(*e));
}

void kv_ncts_errors_release(struct kv_ncts_errors *e)
{
    free(e->items);
    kv_ncts_errors_init(e);
}

bool kv_ncts_errors_ok(const struct kv_ncts_errors *e)
{
    return e->total == 0 && !e->oom;
}

bool kv_ncts_errors_has_stage(const struct kv_ncts_errors *e, enum kv_ncts_stage stage)
{
    for (size_t i = 0; i < e->count; i++)
        if (e->items[i].stage == stage)
            return true;
    return false;
}

/* Copies src into dst (dstsz > 4), cutting at a UTF-8 boundary with "...". */
static void copy_utf8(char *dst, size_t dstsz, const char *src, size_t max)
{
    size_t n = strlen(src);
    size_t room = dstsz - 1;
    if (max < room)
        room = max;
    if (n <= room) {
        memcpy(dst, src, n + 1);
        return;
    }
    size_t cut = room - 3;
    while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(dst, src, cut);
    memcpy(dst + cut, "...", 4);
}

void kv_ncts_errors_add(struct kv_ncts_errors *e, enum kv_ncts_stage stage, const char *code,
                        const char *reason, const char *rule, const char *xpath, long line,
                        const char *value, const char *fmt, ...)
{
    e->total++;
    if (e->count >= KV_NCTS_ERRORS_MAX) {
        e->truncated = true;
        return;
    }
    if (e->count == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 8;
        if (ncap > KV_NCTS_ERRORS_MAX)
            ncap = KV_NCTS_ERRORS_MAX;
        struct kv_ncts_error *n = realloc(e->items, ncap * sizeof(*n));
        if (!n) {
            e->oom = true;
            return;
        }
        e->items = n;
        e->cap = ncap;
    }
    struct kv_ncts_error *x = &e->items[e->count++];
    memset(x, 0, sizeof(*x));
    x->stage = stage;
    copy_utf8(x->code, sizeof(x->code), code ? code : "", sizeof(x->code));
    copy_utf8(x->reason, sizeof(x->reason), reason ? reason : "", sizeof(x->reason));
    copy_utf8(x->rule, sizeof(x->rule), rule ? rule : "", sizeof(x->rule));
    copy_utf8(x->xpath, sizeof(x->xpath), xpath ? xpath : "", sizeof(x->xpath));
    x->line = line;
    if (value) {
        x->has_value = true;
        copy_utf8(x->value, sizeof(x->value), value, KV_NCTS_VALUE_MAX);
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->message, sizeof(x->message), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(x->message))
        memcpy(x->message + sizeof(x->message) - 4, "...", 4);
}

const char *kv_ncts_stage_name(enum kv_ncts_stage stage)
{
    switch (stage) {
    case KV_NCTS_STAGE_XML:
        return "xml";
    case KV_NCTS_STAGE_SCHEMA:
        return "schema";
    case KV_NCTS_STAGE_MESSAGE:
        return "message";
    case KV_NCTS_STAGE_DECLARATION:
        return "declaration";
    }
    return "?";
}

/* ------------------------------------------------------------------ */
/* The schema folder                                                  */
/* ------------------------------------------------------------------ */

struct msg_schema {
    char type[KV_NCTS_TYPE_MAX + 1]; /* "CC015C" */
    char *path;                      /* DIR/cc015c.xsd */
    xmlSchemaPtr schema;             /* NULL until compiled */
    bool failed;                     /* compiling failed: do not retry */
    char why[256];                   /* libxml2's complaint when failed */
};

struct kv_ncts_schemas {
    char *dir;
    struct msg_schema *msgs; /* sorted by type */
    size_t n_msgs;
    char **repeats; /* sorted element names with maxOccurs > 1 */
    size_t n_repeats;
    pthread_mutex_t lock; /* guards msgs[].schema/failed/why while compiling */
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}

/* "cc015c.xsd" → "CC015C"; false for other names. */
static bool message_file(const char *name, char type[KV_NCTS_TYPE_MAX + 1])
{
    size_t n = strlen(name);
    if (n != 10 || strcmp(name + 6, ".xsd") != 0)
        return false;
    if (!((name[0] == 'c' || name[0] == 'C') &&
          (name[1] == 'c' || name[1] == 'd' || name[1] == 'C' || name[1] == 'D')))
        return false;
    for (int i = 2; i < 5; i++)
        if (name[i] < '0' || name[i] > '9')
            return false;
    char l = name[5];
    if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')))
        return false;
    for (int i = 0; i < 6; i++) {
        char c = name[i];
        type[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    type[6] = '\0';
    return true;
}

static int cmp_msg(const void *a, const void *b)
{
    return strcmp(((const struct msg_schema *)a)->type, ((const struct msg_schema *)b)->type);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static bool is_xs(const xmlNode *n, const char *local)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, "http://www.w3.org/2001/XMLSchema") == 0 &&
           strcmp((const char *)n->name, local) == 0;
}

/* Adds the names of xs:element declarations with maxOccurs other than 1. */
static int collect_repeats(struct kv_ncts_schemas *s, const xmlNode *n, size_t *cap, int depth)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (is_xs(n, "element")) {
            xmlChar *name = xmlGetProp(n, (const xmlChar *)"name");
            xmlChar *max = xmlGetProp(n, (const xmlChar *)"maxOccurs");
            bool rep = name && max && strcmp((const char *)max, "1") != 0 &&
                       strcmp((const char *)max, "0") != 0;
            int rc = KV_OK;
            if (rep) {
                if (s->n_repeats == *cap) {
                    size_t ncap = *cap ? *cap * 2 : 64;
                    char **r = realloc(s->repeats, ncap * sizeof(*r));
                    if (!r)
                        rc = KV_ENOMEM;
                    else {
                        s->repeats = r;
                        *cap = ncap;
                    }
                }
                if (rc == KV_OK) {
                    char *copy = strdup((const char *)name);
                    if (!copy)
                        rc = KV_ENOMEM;
                    else
                        s->repeats[s->n_repeats++] = copy;
                }
            }
            xmlFree(name);
            xmlFree(max);
            if (rc != KV_OK)
                return rc;
        }
        if (depth < 64) {
            int rc = collect_repeats(s, n->children, cap, depth + 1);
            if (rc != KV_OK)
                return rc;
        }
    }
    return KV_OK;
}

/* A structured-error sink that drops everything (reading our own XSD files). */
static void ignore_error(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

static int read_repeats(struct kv_ncts_schemas *s, const char *path, size_t *cap, char *err,
                        size_t errsz)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return KV_ENOMEM;
    ctxt->sax->serror = ignore_error;
    xmlDocPtr doc = xmlCtxtReadFile(ctxt, path, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING);
    xmlFreeParserCtxt(ctxt);
    if (!doc) {
        set_err(err, errsz, "%s: not a readable XML file", path);
        return KV_EIO;
    }
    int rc = collect_repeats(s, xmlDocGetRootElement(doc), cap, 0);
    xmlFreeDoc(doc);
    return rc;
}

int kv_ncts_schemas_open(const char *dir, struct kv_ncts_schemas **out, char *err, size_t errsz)
{
    if (!out || !dir)
        return KV_EINVAL;
    *out = NULL;
    if (dir[0] == '\0') {
        set_err(err, errsz, "the NCTS XSD folder is an empty path");
        return KV_EIO;
    }
    xmlInitParser();
    /* No network for anything libxml2 ever resolves in this process. */
    xmlSetExternalEntityLoader(xmlNoNetExternalEntityLoader);

    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        set_err(err, errsz, "NCTS XSD folder %s: not a readable directory", dir);
        return KV_EIO;
    }
    struct kv_ncts_schemas *s = calloc(1, sizeof(*s));
    if (!s)
        return KV_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    int rc = KV_OK;
    size_t cap = 0, rcap = 0;
    DIR *d = NULL;
    s->dir = strdup(dir);
    if (!s->dir) {
        rc = KV_ENOMEM;
        goto out;
    }
    d = opendir(dir);
    if (!d) {
        set_err(err, errsz, "NCTS XSD folder %s: cannot be listed", dir);
        rc = KV_EIO;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".xsd") != 0)
            continue;
        char *path = path_join(dir, de->d_name);
        if (!path) {
            rc = KV_ENOMEM;
            goto out;
        }
        rc = read_repeats(s, path, &rcap, err, errsz);
        char type[KV_NCTS_TYPE_MAX + 1];
        if (rc == KV_OK && message_file(de->d_name, type)) {
            if (s->n_msgs == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct msg_schema *m = realloc(s->msgs, ncap * sizeof(*m));
                if (!m) {
                    free(path);
                    rc = KV_ENOMEM;
                    goto out;
                }
                s->msgs = m;
                cap = ncap;
            }
            struct msg_schema *m = &s->msgs[s->n_msgs++];
            memset(m, 0, sizeof(*m));
            memcpy(m->type, type, sizeof(type));
            m->path = path;
            path = NULL;
        }
        free(path);
        if (rc != KV_OK)
            goto out;
    }
    if (s->n_msgs == 0) {
        set_err(err, errsz, "NCTS XSD folder %s holds no message schema (ccNNNc.xsd)", dir);
        rc = KV_EIO;
        goto out;
    }
    qsort(s->msgs, s->n_msgs, sizeof(*s->msgs), cmp_msg);
    qsort(s->repeats, s->n_repeats, sizeof(*s->repeats), cmp_str);
    /* Drop duplicate names. */
    size_t w = 0;
    for (size_t i = 0; i < s->n_repeats; i++) {
        if (w > 0 && strcmp(s->repeats[w - 1], s->repeats[i]) == 0) {
            free(s->repeats[i]);
            continue;
        }
        s->repeats[w++] = s->repeats[i];
    }
    s->n_repeats = w;
out:
    if (d)
        closedir(d);
    if (rc != KV_OK) {
        kv_ncts_schemas_close(s);
        return rc;
    }
    *out = s;
    return KV_OK;
}

void kv_ncts_schemas_close(struct kv_ncts_schemas *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_msgs; i++) {
        if (s->msgs[i].schema)
            xmlSchemaFree(s->msgs[i].schema);
        free(s->msgs[i].path);
    }
    for (size_t i = 0; i < s->n_repeats; i++)
        free(s->repeats[i]);
    free(s->repeats);
    free(s->msgs);
    free(s->dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *kv_ncts_schemas_dir(const struct kv_ncts_schemas *s)
{
    return s ? s->dir : NULL;
}

size_t kv_ncts_schemas_count(const struct kv_ncts_schemas *s)
{
    return s ? s->n_msgs : 0;
}

const char *kv_ncts_schemas_type_at(const struct kv_ncts_schemas *s, size_t i)
{
    return s && i < s->n_msgs ? s->msgs[i].type : NULL;
}

static struct msg_schema *find_msg(const struct kv_ncts_schemas *s, const char *type)
{
    if (!s || !type || strlen(type) > KV_NCTS_TYPE_MAX)
        return NULL;
    struct msg_schema key;
    memset(&key, 0, sizeof(key));
    memcpy(key.type, type, strlen(type) + 1);
    return bsearch(&key, s->msgs, s->n_msgs, sizeof(*s->msgs), cmp_msg);
}

bool kv_ncts_schemas_has(const struct kv_ncts_schemas *s, const char *type)
{
    return find_msg(s, type) != NULL;
}

bool kv_ncts_schemas_repeats(const struct kv_ncts_schemas *s, const char *name)
{
    if (!s || !name)
        return false;
    return bsearch(&name, s->repeats, s->n_repeats, sizeof(*s->repeats), cmp_str) != NULL;
}

/* Keeps the first error libxml2 raises while compiling a schema. */
struct first_error {
    char text[256];
    bool set;
};

static void keep_first(void *ctx, xmlErrorPtr e)
{
    struct first_error *f = ctx;
    if (f->set || !e || e->level < XML_ERR_ERROR)
        return;
    f->set = true;
    snprintf(f->text, sizeof(f->text), "%s line %d: %s", e->file ? e->file : "?", e->line,
             e->message ? e->message : "error");
    size_t n = strlen(f->text);
    while (n > 0 && (f->text[n - 1] == '\n' || f->text[n - 1] == ' '))
        f->text[--n] = '\0';
}

/* Compiles m's schema (called with s->lock held). */
static int compile_locked(struct msg_schema *m, char *err, size_t errsz)
{
    if (m->schema)
        return KV_OK;
    if (m->failed) {
        set_err(err, errsz, "%s does not compile: %s", m->path, m->why);
        return KV_EIO;
    }
    struct first_error first;
    memset(&first, 0, sizeof(first));
    /* Errors of the included files' parsers go to this thread's handler. */
    xmlStructuredErrorFunc old = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(&first, keep_first);
    xmlSchemaParserCtxtPtr p = xmlSchemaNewParserCtxt(m->path);
    xmlSchemaPtr schema = NULL;
    if (p) {
        xmlSchemaSetParserStructuredErrors(p, keep_first, &first);
        schema = xmlSchemaParse(p);
        xmlSchemaFreeParserCtxt(p);
    }
    xmlSetStructuredErrorFunc(old_ctx, old);
    if (!p)
        return KV_ENOMEM;
    if (!schema) {
        m->failed = true;
        snprintf(m->why, sizeof(m->why), "%s", first.set ? first.text : "unknown error");
        set_err(err, errsz, "%s does not compile: %s", m->path, m->why);
        return KV_EIO;
    }
    m->schema = schema;
    return KV_OK;
}

int kv_ncts_schemas_compile(struct kv_ncts_schemas *s, const char *type, char *err, size_t errsz)
{
    struct msg_schema *m = find_msg(s, type);
    if (!m) {
        set_err(err, errsz, "no schema for %s in %s", type ? type : "?", s ? s->dir : "?");
        return KV_ENOTFOUND;
    }
    pthread_mutex_lock(&s->lock);
    int rc = compile_locked(m, err, errsz);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int kv_ncts_schemas_compile_all(struct kv_ncts_schemas *s, char *err, size_t errsz)
{
    if (!s)
        return KV_EINVAL;
    for (size_t i = 0; i < s->n_msgs; i++) {
        int rc = kv_ncts_schemas_compile(s, s->msgs[i].type, err, errsz);
        if (rc != KV_OK)
            return rc;
    }
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Locations and values                                               */
/* ------------------------------------------------------------------ */

static bool may_repeat(const struct kv_ncts_schemas *s, bool (*repeats)(const char *),
                       const xmlNode *n)
{
    if (repeats)
        return repeats((const char *)n->name);
    if (s)
        return kv_ncts_schemas_repeats(s, (const char *)n->name);
    for (const xmlNode *x = n->parent ? n->parent->children : NULL; x; x = x->next)
        if (x != n && x->type == XML_ELEMENT_NODE &&
            strcmp((const char *)x->name, (const char *)n->name) == 0)
            return true;
    return false;
}

static size_t position(const xmlNode *n)
{
    size_t k = 1;
    for (const xmlNode *x = n->prev; x; x = x->prev)
        if (x->type == XML_ELEMENT_NODE &&
            strcmp((const char *)x->name, (const char *)n->name) == 0)
            k++;
    return k;
}

static void xpath_of(const struct kv_ncts_schemas *s, bool (*repeats)(const char *),
                     const xmlNode *node, char *buf, size_t bufsz)
{
    if (!buf || bufsz == 0)
        return;
    buf[0] = '\0';
    if (!node)
        return;
    const char *attr = NULL;
    if (node->type == XML_ATTRIBUTE_NODE) {
        attr = (const char *)node->name;
        node = node->parent;
    } else if (node->type != XML_ELEMENT_NODE) {
        node = node->parent;
    }
    /* Collect the element chain, root first (bounded: libxml2 nests at most 256 deep). */
    const xmlNode *chain[300];
    size_t depth = 0;
    for (const xmlNode *n = node; n && n->type == XML_ELEMENT_NODE && depth < 300; n = n->parent)
        chain[depth++] = n;
    char tmp[KV_NCTS_XPATH_MAX * 2];
    size_t len = 0;
    bool cut = false;
    for (size_t i = depth; i-- > 0 && !cut;) {
        const xmlNode *n = chain[i];
        char seg[160];
        if (i + 1 < depth && may_repeat(s, repeats, n))
            snprintf(seg, sizeof(seg), "/%s[%zu]", (const char *)n->name, position(n));
        else
            snprintf(seg, sizeof(seg), "/%s", (const char *)n->name);
        size_t sl = strlen(seg);
        if (len + sl >= sizeof(tmp))
            cut = true;
        else {
            memcpy(tmp + len, seg, sl);
            len += sl;
        }
    }
    if (attr && !cut) {
        int n = snprintf(tmp + len, sizeof(tmp) - len, "/@%s", attr);
        if (n > 0 && (size_t)n < sizeof(tmp) - len)
            len += (size_t)n;
    }
    tmp[len] = '\0';
    size_t max = bufsz - 1 < KV_NCTS_XPATH_MAX - 1 ? bufsz - 1 : KV_NCTS_XPATH_MAX - 1;
    if (len <= max && !cut) {
        memcpy(buf, tmp, len + 1);
    } else if (max >= 3) {
        memcpy(buf, tmp, max - 3);
        memcpy(buf + max - 3, "...", 4);
    }
}

void kv_ncts_xpath(const struct kv_ncts_schemas *s, const xmlNode *node, char *buf, size_t bufsz)
{
    xpath_of(s, NULL, node, buf, bufsz);
}

void kv_ncts_xpath_with(bool (*repeats)(const char *name), const xmlNode *node, char *buf,
                        size_t bufsz)
{
    xpath_of(NULL, repeats, node, buf, bufsz);
}

bool kv_ncts_node_value(const xmlNode *node, char *buf, size_t bufsz)
{
    if (!buf || bufsz < 8)
        return false;
    buf[0] = '\0';
    if (!node)
        return false;
    if (node->type == XML_ELEMENT_NODE) {
        for (const xmlNode *c = node->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE)
                return false;
    } else if (node->type != XML_ATTRIBUTE_NODE) {
        return false;
    }
    xmlChar *v = xmlNodeGetContent(node);
    if (!v)
        return false;
    copy_utf8(buf, bufsz, (const char *)v, KV_NCTS_VALUE_MAX);
    xmlFree(v);
    return true;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

struct parse_state {
    struct kv_ncts_errors *errs;
    bool doctype;
    bool any_error;
};

static void message_text(char *dst, size_t dstsz, const char *msg)
{
    snprintf(dst, dstsz, "%s", msg ? msg : "error");
    size_t n = strlen(dst);
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void on_parse_error(void *ctx, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ctx;
    struct parse_state *st = ctxt ? ctxt->_private : NULL;
    if (!st || !e || e->level < XML_ERR_ERROR)
        return;
    if (st->doctype)
        return; /* the stop we caused: already reported */
    st->any_error = true;
    char msg[KV_MESSAGE_MAX];
    message_text(msg, sizeof(msg), e->message);
    /* CL030: 53 invalid characters for encoding problems, else 52 invalid XML format. */
    const char *code = "52";
    if (e->code == XML_ERR_INVALID_CHAR || e->code == XML_ERR_INVALID_ENCODING ||
        e->code == XML_ERR_UNKNOWN_ENCODING || e->code == XML_ERR_UNSUPPORTED_ENCODING)
        code = "53";
    kv_ncts_errors_add(st->errs, KV_NCTS_STAGE_XML, code, NULL, "R-XML-001", NULL, e->line, NULL,
                       "not well-formed XML (column %d): %s", e->int2, msg);
}

/*
 * Called at the start of a DOCTYPE, before any of its internal subset is
 * read: NCTS messages have none, and refusing it here means no entity is
 * ever declared.
 */
static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    xmlParserCtxtPtr ctxt = ctx;
    struct parse_state *st = ctxt->_private;
    if (!st->doctype) {
        st->doctype = true;
        kv_ncts_errors_add(st->errs, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-002", NULL,
                           xmlSAX2GetLineNumber(ctxt), NULL,
                           "a DOCTYPE declaration is not allowed in an NCTS message");
    }
    xmlStopParser(ctxt);
}

int kv_ncts_parse(const char *buf, size_t len, xmlDocPtr *doc, struct kv_ncts_errors *errs)
{
    if (!doc || !errs)
        return KV_EINVAL;
    *doc = NULL;
    if (!buf)
        return KV_EINVAL;
    if (len > KV_NCTS_XML_MAX) {
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-003", NULL, 0, NULL,
                           "the document is %zu bytes; at most %u are accepted", len,
                           KV_NCTS_XML_MAX);
        return KV_ELIMIT;
    }
    if (len == 0) {
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-001", NULL, 0, NULL,
                           "not well-formed XML: the document is empty");
        return KV_EPARSE;
    }
    xmlInitParser();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return KV_ENOMEM;
    struct parse_state st = {errs, false, false};
    ctxt->_private = &st;
    ctxt->sax->serror = on_parse_error;
    ctxt->sax->internalSubset = on_doctype;

    /* Errors raised outside the context (I/O, encoding set-up) come here too. */
    xmlStructuredErrorFunc old = xmlStructuredError;
    void *old_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(ctxt, on_parse_error);
    size_t before = errs->total;
    xmlDocPtr d = xmlCtxtReadMemory(ctxt, buf, (int)len, "message.xml", NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES |
                                        XML_PARSE_NOWARNING);
    bool well_formed = ctxt->wellFormed != 0;
    xmlSetStructuredErrorFunc(old_ctx, old);
    xmlFreeParserCtxt(ctxt);

    if (st.doctype || !well_formed || !d) {
        if (d)
            xmlFreeDoc(d);
        if (errs->total == before)
            kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-001", NULL, 0, NULL,
                               "not well-formed XML");
        return errs->oom && errs->total == before ? KV_ENOMEM : KV_EPARSE;
    }
    if (!xmlDocGetRootElement(d)) {
        xmlFreeDoc(d);
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "52", NULL, "R-XML-001", NULL, 0, NULL,
                           "not well-formed XML: no root element");
        return KV_EPARSE;
    }
    *doc = d;
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Message type                                                       */
/* ------------------------------------------------------------------ */

/* Two letters, three digits, one letter. */
static bool message_name(const char *n)
{
    if (strlen(n) != 6)
        return false;
    for (int i = 0; i < 2; i++)
        if (n[i] < 'A' || n[i] > 'Z')
            return false;
    for (int i = 2; i < 5; i++)
        if (n[i] < '0' || n[i] > '9')
            return false;
    return n[5] >= 'A' && n[5] <= 'Z';
}

int kv_ncts_message_type(xmlDocPtr doc, char type[KV_NCTS_TYPE_MAX + 1],
                         struct kv_ncts_errors *errs)
{
    type[0] = '\0';
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root)
        return KV_EINVAL;
    const char *name = (const char *)root->name;
    const char *ns = root->ns && root->ns->href ? (const char *)root->ns->href : NULL;
    char where[KV_NCTS_XPATH_MAX];
    snprintf(where, sizeof(where), "/%s", name);
    long line = xmlGetLineNo(root);
    if (!ns && message_name(name) && name[5] != 'C' && name[5] != 'D') {
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "15", NULL, "R-XML-005", where, line, NULL,
                           "Phase 4 messages are not accepted: %s is an NCTS Phase 4 message; "
                           "kervan reads NCTS Phase 5 messages (send a CC%.3sC)",
                           name, name + 2);
        return KV_EPARSE;
    }
    if (!ns || strcmp(ns, KV_NCTS_NS) != 0) {
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "15", NULL, "R-XML-004", where, line, NULL,
                           "the root element %s is not in the NCTS namespace %s", name, KV_NCTS_NS);
        return KV_EPARSE;
    }
    if (!message_name(name)) {
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "15", NULL, "R-XML-004", where, line, NULL,
                           "the root element %s does not name an NCTS message", name);
        return KV_EPARSE;
    }
    memcpy(type, name, 7);
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Schema validation                                                  */
/* ------------------------------------------------------------------ */

struct valid_state {
    const struct kv_ncts_schemas *s;
    struct kv_ncts_errors *errs;
};

/* The CL030 (XmlErrorCodes) code for a libxml2 schema validity error. */
static const char *cl030(const xmlError *e)
{
    switch (e->code) {
    case XML_SCHEMAV_CVC_ENUMERATION_VALID:
        return "12";
    case XML_SCHEMAV_ELEMENT_CONTENT:
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_4:
        /* "Missing child element(s)" vs "This element is not expected" */
        if (e->message && strstr(e->message, "Missing child"))
            return "13";
        return "15";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_4:
        return "13";
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_1:
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_2_3:
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_1:
    case XML_SCHEMAV_CVC_COMPLEX_TYPE_3_2_2:
    case XML_SCHEMAV_CVC_ELT_1:
        return "15";
    case XML_SCHEMAV_CVC_MAXLENGTH_VALID:
    case XML_SCHEMAV_CVC_LENGTH_VALID:
        return "39";
    case XML_SCHEMAV_CVC_MINLENGTH_VALID:
        return "40";
    case XML_SCHEMAV_CVC_PATTERN_VALID:
        return "51";
    case XML_SCHEMAV_CVC_MININCLUSIVE_VALID:
        return "54";
    case XML_SCHEMAV_CVC_MAXINCLUSIVE_VALID:
        return "55";
    case XML_SCHEMAV_CVC_MINEXCLUSIVE_VALID:
        return "56";
    case XML_SCHEMAV_CVC_MAXEXCLUSIVE_VALID:
        return "57";
    case XML_SCHEMAV_CVC_TOTALDIGITS_VALID:
    case XML_SCHEMAV_CVC_FRACTIONDIGITS_VALID:
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_1:
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_2:
    case XML_SCHEMAV_CVC_DATATYPE_VALID_1_2_3:
    case XML_SCHEMAV_CVC_FACET_VALID:
        return "50";
    default:
        return "18";
    }
}

static void on_valid_error(void *ctx, xmlErrorPtr e)
{
    struct valid_state *st = ctx;
    if (!e || e->level < XML_ERR_ERROR)
        return;
    const xmlNode *node = e->node;
    char xpath[KV_NCTS_XPATH_MAX];
    char value[KV_NCTS_VALUE_MAX + 4];
    xpath[0] = '\0';
    bool has_value = false;
    if (node) {
        kv_ncts_xpath(st->s, node, xpath, sizeof(xpath));
        has_value = kv_ncts_node_value(node, value, sizeof(value));
    }
    char msg[KV_MESSAGE_MAX];
    message_text(msg, sizeof(msg), e->message);
    long line = e->line;
    if (line <= 0 && node)
        line = xmlGetLineNo(node);
    kv_ncts_errors_add(st->errs, KV_NCTS_STAGE_SCHEMA, cl030(e), NULL, "R-XSD-001", xpath,
                       line > 0 ? line : 0, has_value ? value : NULL, "%s", msg);
}

int kv_ncts_schema_validate(struct kv_ncts_schemas *s, xmlDocPtr doc, const char *type,
                            struct kv_ncts_errors *errs, char *err, size_t errsz)
{
    if (!s || !doc || !type || !errs)
        return KV_EINVAL;
    struct msg_schema *m = find_msg(s, type);
    if (!m) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        char where[KV_NCTS_XPATH_MAX];
        snprintf(where, sizeof(where), "/%s", type);
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_XML, "15", NULL, "R-XML-004", where,
                           root ? xmlGetLineNo(root) : 0, NULL, "%s has no published schema in %s",
                           type, s->dir);
        set_err(err, errsz, "no schema for %s in %s", type, s->dir);
        return KV_ENOTFOUND;
    }
    pthread_mutex_lock(&s->lock);
    int rc = compile_locked(m, err, errsz);
    xmlSchemaPtr schema = m->schema;
    pthread_mutex_unlock(&s->lock);
    if (rc != KV_OK)
        return rc;

    xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(schema);
    if (!v)
        return KV_ENOMEM;
    struct valid_state st = {s, errs};
    xmlSchemaSetValidStructuredErrors(v, on_valid_error, &st);
    size_t before = errs->total;
    int r = xmlSchemaValidateDoc(v, doc);
    xmlSchemaFreeValidCtxt(v);
    if (r != 0 && errs->total == before) {
        if (r < 0) {
            set_err(err, errsz, "libxml2 could not validate the document (internal error)");
            return KV_ENOMEM;
        }
        kv_ncts_errors_add(errs, KV_NCTS_STAGE_SCHEMA, "18", NULL, "R-XSD-001", NULL, 0, NULL,
                           "the document does not conform to %s", m->path);
    }
    return KV_OK;
}
