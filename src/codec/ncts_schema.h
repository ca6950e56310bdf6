/*
 * ncts_schema.h — NCTS XML messages: hardened parsing, the official XSD
 * folder, schema validation, and the NCTS-style error list every NCTS check
 * reports into (docs/ncts.md).
 *
 * The XSD folder is a setting (`--xsd DIR`, else $KERVAN_NCTS_XSD, else the
 * node's configuration); kervan has no built-in default and embeds no
 * schema. kv_ncts_schemas_open() takes the folder once: it finds the message
 * schemas (ccNNNx.xsd, one per message type) and reads which element names
 * repeat, so that error locations can carry indexes. Each message schema is
 * compiled the first time a document of that type is validated (a CC015C
 * schema takes about 80 ms) and kept; the handle may then be shared by any
 * number of threads, each validation using its own libxml2 validation
 * context.
 *
 * Hostile input: kv_ncts_parse() refuses documents over KV_NCTS_XML_MAX,
 * any DOCTYPE (so no entity can be declared, expanded or fetched), never
 * touches the network (XML_PARSE_NONET) and keeps libxml2's default limits
 * (256 levels of nesting, 10 MB text nodes). Instance documents never load
 * schemas (xsi:schemaLocation is ignored).
 *
 * Errors are reported NCTS-style (struct kv_ncts_error): the code from
 * CL030 (XML and schema errors) or CL180 (functional errors), an XPath-like
 * location ("/CC015C/Consignment/HouseConsignment[1]/grossMass"), the input
 * line, the original value, NCTS's rule id where there is one and kervan's
 * rule id.
 */
#ifndef KV_CODEC_NCTS_SCHEMA_H
#define KV_CODEC_NCTS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/report.h"

/* Largest XML message accepted, in bytes. */
#define KV_NCTS_XML_MAX (8u * 1024u * 1024u)
/* The environment variable naming the XSD folder. */
#define KV_NCTS_XSD_ENV "KERVAN_NCTS_XSD"
/* The namespace of every NCTS P5/P6 message root. */
#define KV_NCTS_NS "http://ncts.dgtaxud.ec"
/* Longest location kept (CC056C errorPointer is an..512). */
#define KV_NCTS_XPATH_MAX 512
/* Longest original value kept (CC056C originalAttributeValue is an..512). */
#define KV_NCTS_VALUE_MAX 512
/* Errors kept per document; more are counted. */
#define KV_NCTS_ERRORS_MAX 1000
/* Longest message type name ("CC015C"), NUL excluded. */
#define KV_NCTS_TYPE_MAX 7

/* Where in the two NCTS stages (XSD first, then rules) an error was found. */
enum kv_ncts_stage {
    KV_NCTS_STAGE_XML = 1,    /* not well-formed, refused construct, size, unknown root */
    KV_NCTS_STAGE_SCHEMA,     /* the message's XSD */
    KV_NCTS_STAGE_MESSAGE,    /* rules on the message as such: header, MRN, LRN/MRN, node */
    KV_NCTS_STAGE_DECLARATION /* CC015C content: kervan's declaration rules */
};

struct kv_ncts_error {
    enum kv_ncts_stage stage;
    char code[4];   /* CL030 (stages XML, SCHEMA) or CL180 (MESSAGE, DECLARATION), "12" */
    char reason[8]; /* NCTS rule/condition id (CC056C errorReason, an..7), "" if none */
    char rule[16];  /* kervan's rule id, e.g. "R-XSD-001", "R-HS-001" */
    char xpath[KV_NCTS_XPATH_MAX]; /* "" when unknown */
    long line;                     /* 1-based line of the input, 0 when unknown */
    bool has_value;
    char value[KV_NCTS_VALUE_MAX + 4]; /* the original value, when has_value */
    char message[KV_MESSAGE_MAX];
};

struct kv_ncts_errors {
    struct kv_ncts_error *items; /* owned */
    size_t count, cap;
    size_t total;   /* errors seen, stored or not */
    bool truncated; /* total > count */
    bool oom;       /* an allocation failed; some errors were lost */
};

/* An empty list (no allocation). */
void kv_ncts_errors_init(struct kv_ncts_errors *e);

/* Frees the list and empties it. */
void kv_ncts_errors_release(struct kv_ncts_errors *e);

/* True when nothing was added (and nothing was lost). */
bool kv_ncts_errors_ok(const struct kv_ncts_errors *e);

/* True when an error of `stage` was added. */
bool kv_ncts_errors_has_stage(const struct kv_ncts_errors *e, enum kv_ncts_stage stage);

/*
 * Adds an error. Strings are copied and truncated to their fields (value
 * at a UTF-8 boundary, with "..."); xpath, reason and value may be NULL.
 * Never fails visibly: on allocation failure sets e->oom.
 */
void kv_ncts_errors_add(struct kv_ncts_errors *e, enum kv_ncts_stage stage, const char *code,
                        const char *reason, const char *rule, const char *xpath, long line,
                        const char *value, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* "xml", "schema", "message", "declaration". */
const char *kv_ncts_stage_name(enum kv_ncts_stage stage);

struct kv_ncts_schemas;

/*
 * Opens the XSD folder `dir`: lists its message schemas (file names of the
 * form ccNNNx.xsd or cdNNNx.xsd; the message type is the upper-case stem)
 * and reads the names of elements declared with maxOccurs > 1 in any of its
 * .xsd files. Nothing is compiled yet. Returns KV_OK and *out (free with
 * kv_ncts_schemas_close), KV_EIO with a sentence in err when the folder
 * cannot be read or holds no message schema, KV_ENOMEM. Call from one
 * thread before sharing the handle (it also initialises libxml2 and
 * installs libxml2's no-network entity loader for the process).
 */
int kv_ncts_schemas_open(const char *dir, struct kv_ncts_schemas **out, char *err, size_t errsz);

/* Frees the handle and every compiled schema; NULL is a no-op. */
void kv_ncts_schemas_close(struct kv_ncts_schemas *s);

/* The folder given to open. */
const char *kv_ncts_schemas_dir(const struct kv_ncts_schemas *s);

/* Number of message schemas and the i-th message type ("CC004C", ...), sorted. */
size_t kv_ncts_schemas_count(const struct kv_ncts_schemas *s);
const char *kv_ncts_schemas_type_at(const struct kv_ncts_schemas *s, size_t i);

/* True when the folder has a schema for message type `type` ("CC015C"). */
bool kv_ncts_schemas_has(const struct kv_ncts_schemas *s, const char *type);

/*
 * Compiles the schema of `type` now if not done yet (thread-safe). Returns
 * KV_OK, KV_ENOTFOUND when the folder has no schema for it, KV_EIO with
 * libxml2's first complaint in err when it does not compile, KV_ENOMEM.
 */
int kv_ncts_schemas_compile(struct kv_ncts_schemas *s, const char *type, char *err, size_t errsz);

/* Compiles every message schema of the folder (tests; a node at start-up). */
int kv_ncts_schemas_compile_all(struct kv_ncts_schemas *s, char *err, size_t errsz);

/* True when element name `name` may repeat (maxOccurs > 1 somewhere in the folder). */
bool kv_ncts_schemas_repeats(const struct kv_ncts_schemas *s, const char *name);

/*
 * Parses `len` bytes as one XML document with the hardening above. Returns
 * KV_OK and *doc (free with xmlFreeDoc); otherwise adds stage-XML errors to
 * `errs` (R-XML-001 not well-formed, R-XML-002 DOCTYPE, R-XML-003 too large)
 * and returns KV_EPARSE or KV_ELIMIT; KV_ENOMEM. Thread-safe.
 */
int kv_ncts_parse(const char *buf, size_t len, xmlDocPtr *doc, struct kv_ncts_errors *errs);

/*
 * Names the message of a parsed document: its root must be an element in
 * KV_NCTS_NS whose name is two letters, three digits and a letter. Writes
 * the name into type and returns KV_OK. Otherwise adds one stage-XML error
 * and returns KV_EPARSE: R-XML-005 for a Phase 4 message (root CCnnnA/B in
 * no namespace: "Phase 4 messages are not accepted"), R-XML-004 for
 * anything else.
 */
int kv_ncts_message_type(xmlDocPtr doc, char type[KV_NCTS_TYPE_MAX + 1],
                         struct kv_ncts_errors *errs);

/*
 * Validates `doc` against the schema of message `type`, compiling it first
 * if needed, and adds every schema error (R-XSD-001, with its CL030 code,
 * location, line and value) to `errs`. Returns KV_OK when validation ran
 * (the document is valid exactly when no error was added), KV_ENOTFOUND
 * (no schema for the type; also reported as R-XML-004), KV_EIO (the schema
 * does not compile; err says why), KV_ENOMEM. Thread-safe.
 */
int kv_ncts_schema_validate(struct kv_ncts_schemas *s, xmlDocPtr doc, const char *type,
                            struct kv_ncts_errors *errs, char *err, size_t errsz);

/*
 * Writes the XPath-like location of a node into buf: element local names
 * from the root, with "[n]" (1-based among same-named siblings) after every
 * element that may repeat (per `s`; without `s`, after elements that have a
 * same-named sibling), "/@name" for an attribute; a text node is located at
 * its element. Truncated with "..." past bufsz. s may be NULL.
 */
void kv_ncts_xpath(const struct kv_ncts_schemas *s, const xmlNode *node, char *buf, size_t bufsz);

/* Like kv_ncts_xpath, with "[n]" after the elements for which repeats(name) is true. */
void kv_ncts_xpath_with(bool (*repeats)(const char *name), const xmlNode *node, char *buf,
                        size_t bufsz);

/*
 * The text of an element that has no element children (its original
 * value), or of an attribute, copied into buf (UTF-8 safe truncation at
 * KV_NCTS_VALUE_MAX bytes with "..."). Returns false (buf "") for other
 * nodes.
 */
bool kv_ncts_node_value(const xmlNode *node, char *buf, size_t bufsz);

#endif
