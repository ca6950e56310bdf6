/*
 * ncts_cc015c.h — the NCTS P5 declaration message CC015C and kervan's
 * declaration model, both ways (docs/ncts.md has the element-by-element
 * table).
 *
 * Import maps every CC015C element kervan models into struct
 * kv_declaration and keeps every other element verbatim in
 * d->ncts->unmodelled (with the message header in d->ncts), so that export
 * writes the same data back: CC015C → kervan → CC015C gives an equivalent
 * document in the XSD's element order. Sequence numbers and goods item
 * numbers are positions in kervan's model; one that differs from its
 * position is kept verbatim too (and R0987/R0988 report it, see
 * ncts_check.h).
 *
 * Both directions are pure functions of their inputs (no I/O, no clock);
 * thread-safe on distinct inputs.
 */
#ifndef KV_CODEC_NCTS_CC015C_H
#define KV_CODEC_NCTS_CC015C_H

#include <stdbool.h>
#include <stddef.h>

#include <libxml/tree.h>

#include "core/declaration.h"
#include "core/report.h"

/*
 * Maps a parsed CC015C (normally one that passed the schema) into a new
 * declaration. What cannot be converted is added to `rep` at the model's
 * JSON pointer, as kv_decl_from_json would report it (R-DEC-001 a mass or
 * amount beyond the model's digits, R-NUM-001, R-REQ-001 the goods item
 * gross mass kervan requires, R-CARD-002 over 1,999 goods items); such
 * elements are also kept verbatim. Run kv_decl_validate on the same report
 * afterwards. Any tree is accepted (elements where the schema puts none are
 * kept verbatim).
 *
 * Returns KV_OK and *out (free with kv_decl_free); KV_EINVAL when the root
 * is not CC015C; KV_ENOMEM; KV_ELIMIT when the declaration's arena limit is
 * reached.
 */
int kv_ncts_cc015c_import(const xmlDoc *doc, struct kv_declaration **out, struct kv_report *rep);

/* Header values export uses when the declaration carries none (d->ncts). */
struct kv_ncts_export_opts {
    const char *sender;     /* messageSender */
    const char *recipient;  /* messageRecipient */
    const char *prepared;   /* preparationDateAndTime */
    const char *message_id; /* messageIdentification */
    const char *phase_id;   /* PhaseID when the declaration has no d->ncts; NULL → "NCTS5.1" */
    int indent;             /* spaces per level; 0 writes one line */
};

/*
 * Writes a declaration as a CC015C document (UTF-8, with an XML
 * declaration): the modelled members in the XSD's order, the unmodelled
 * elements in their places. Notes go to `notes` with JSON pointers: data
 * CC015C has no element for (R-EXP-001: the kervan extensions value and
 * countryOfOrigin, a consignee's contact person) is left out and named
 * there. Errors, also in `notes`: R-EXP-002 a text XML cannot carry
 * (control characters), R-UNMOD-001..003 an unmodelled element that is not
 * one well-formed element named as its path says, or whose place does not
 * exist in the declaration.
 *
 * Returns KV_OK and *xml (NUL-terminated; caller frees with free()) and
 * *len; KV_EINVAL on the errors above (nothing written) or a missing
 * header value; KV_ENOMEM; KV_ELIMIT when the document would exceed
 * 2 × KV_NCTS_XML_MAX.
 */
int kv_ncts_cc015c_export(const struct kv_declaration *d, const struct kv_ncts_export_opts *o,
                          char **xml, size_t *len, struct kv_report *notes);

/*
 * The CC015C location of a model JSON pointer, e.g.
 * "/houseConsignments/0/items/3/commodity/hs" →
 * "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[4]/Commodity/
 * CommodityCode/harmonizedSystemSubHeadingCode". Writes into buf (cut with
 * "..." when too small). Returns true when every segment of the pointer has
 * a CC015C place; false when the pointer leaves CC015C (a kervan
 * extension) or is malformed, buf then holding the location of the last
 * segment that has one ("/CC015C" at worst).
 */
bool kv_ncts_cc015c_xpath(const char *pointer, char *buf, size_t bufsz);

/* True when CC015C element `name` may repeat (XSD maxOccurs > 1), i.e. carries "[n]". */
bool kv_ncts_cc015c_repeats(const char *name);

/*
 * Serialises one element compactly (no indentation, whitespace-only text
 * between elements dropped, comments and processing instructions dropped),
 * as kept in kv_ncts_fragment.xml. Returns a malloc'd string or NULL when
 * out of memory or over KV_DECL_UNMODELLED_XML_MAX bytes.
 */
char *kv_ncts_element_text(const xmlNode *element);

#endif
