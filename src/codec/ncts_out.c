/*
 * ncts_out.c — the office messages about a movement (see ncts_out.h;
 * docs/ncts.md "Messages out" has the table of which event and which
 * declaration data feed which element).
 *
 * Every message is built as a libxml2 tree and serialised once, so text is
 * always escaped by the same code. CC029C reuses the CC015C writer: the
 * declaration is written as a CC015C (modelled members and the elements
 * kept verbatim, in the XSD's order), parsed back with the hardened parser,
 * and given CC029C's shape — header, MRN, the acceptance and release dates,
 * CONTROL RESULT, the elements CC029C does not have removed, the ones it
 * requires and CC015C does not checked or completed. The two schemas share
 * every data group below the root, in the same order (51.8.6), and
 * CC029C's text types are the looser "01" variants of CC015C's, so what the
 * CC015C writer writes for a schema-valid declaration fits CC029C.
 */
#include "codec/ncts_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlmemory.h>
#include <libxml/xmlsave.h>

#include "codec/ncts_cc015c.h"
#include "codec/ncts_check.h"
#include "core/err.h"

static const char *const names[KV_NCTS_OUT__COUNT] = {"CC028C", "CC029C", "CC056C", "CC060C",
                                                      "CC182C", "CC045C", "CC009C"};

const char *kv_ncts_out_name(enum kv_ncts_out t)
{
    return (unsigned)t < KV_NCTS_OUT__COUNT ? names[t] : NULL;
}

bool kv_ncts_out_from_name(const char *s, enum kv_ncts_out *t)
{
    if (!s)
        return false;
    for (size_t i = 0; i < KV_NCTS_OUT__COUNT; i++)
        if (strcasecmp(s, names[i]) == 0) {
            if (t)
                *t = (enum kv_ncts_out)i;
            return true;
        }
    return false;
}

/* ------------------------------------------------------------------ */
/* The tree                                                           */
/* ------------------------------------------------------------------ */

struct bld {
    xmlDocPtr doc;
    bool oom;
};

static void say(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whysz, const char *fmt, ...)
{
    if (!why || !whysz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

static bool is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first element child named `name`, or NULL. */
static xmlNodePtr kid(xmlNodePtr p, const char *name)
{
    for (xmlNodePtr c = p ? p->children : NULL; c; c = c->next)
        if (is(c, name))
            return c;
    return NULL;
}

/* The first element child named one of `list` (NULL-terminated), or NULL. */
static xmlNodePtr kid_of(xmlNodePtr p, const char *const *list)
{
    for (xmlNodePtr c = p ? p->children : NULL; c; c = c->next)
        for (size_t i = 0; list[i]; i++)
            if (is(c, list[i]))
                return c;
    return NULL;
}

static xmlNodePtr first_element(xmlNodePtr p)
{
    for (xmlNodePtr c = p ? p->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

/* Unlinks and frees every child element named `name` of p. */
static void drop(xmlNodePtr p, const char *name)
{
    xmlNodePtr c = p ? p->children : NULL;
    while (c) {
        xmlNodePtr next = c->next;
        if (is(c, name)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
        c = next;
    }
}

/* Drops every element named `name` anywhere under p. */
static void drop_all(xmlNodePtr p, const char *name)
{
    xmlNodePtr c = p ? p->children : NULL;
    while (c) {
        xmlNodePtr next = c->next;
        if (is(c, name)) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        } else if (c->type == XML_ELEMENT_NODE) {
            drop_all(c, name);
        }
        c = next;
    }
}

enum where { W_CHILD, W_BEFORE, W_AFTER };

/*
 * A new element `name` with text `text` (none when NULL): the last child of
 * `at` (W_CHILD), or its previous (W_BEFORE) or next (W_AFTER) sibling.
 * Returns it, or NULL (b->oom) — also NULL without doing anything when
 * `at` is NULL.
 */
static xmlNodePtr put_at(struct bld *b, xmlNodePtr at, enum where w, const char *name,
                         const char *text)
{
    if (!at || b->oom)
        return NULL;
    xmlNodePtr n = xmlNewDocNode(b->doc, NULL, BAD_CAST name, NULL);
    if (!n)
        goto oom;
    if (text) {
        xmlNodePtr t = xmlNewDocText(b->doc, BAD_CAST text);
        if (!t) {
            xmlFreeNode(n);
            goto oom;
        }
        if (!xmlAddChild(n, t)) {
            xmlFreeNode(t);
            xmlFreeNode(n);
            goto oom;
        }
    }
    xmlNodePtr r = w == W_CHILD    ? xmlAddChild(at, n)
                   : w == W_BEFORE ? xmlAddPrevSibling(at, n)
                                   : xmlAddNextSibling(at, n);
    if (!r) {
        xmlFreeNode(n);
        goto oom;
    }
    return n;
oom:
    b->oom = true;
    return NULL;
}

/* A child element (or, with text NULL, a group to fill). */
static xmlNodePtr put(struct bld *b, xmlNodePtr parent, const char *name, const char *text)
{
    return put_at(b, parent, W_CHILD, name, text);
}

/* A leaf only when there is a value. */
static void put_opt(struct bld *b, xmlNodePtr parent, const char *name, const char *text)
{
    if (text && text[0])
        put(b, parent, name, text);
}

/* "YYYY-MM-DD" and "YYYY-MM-DDThh:mm:ss" of an event's time as the office gave it. */
static void date_of(const struct kv_time *t, char out[11])
{
    snprintf(out, 11, "%.10s", t->text);
}

static void datetime_of(const struct kv_time *t, char out[20])
{
    snprintf(out, 20, "%.19s", t->text);
}

/* ------------------------------------------------------------------ */
/* Shared groups                                                      */
/* ------------------------------------------------------------------ */

/* The header group (MESSAGE in htypes.xsd). */
static void header(struct bld *b, xmlNodePtr root, const char *type,
                   const struct kv_ncts_out_header *h, const char *recipient,
                   const char *correlation)
{
    xmlNodePtr before = first_element(root);
    const char *leaves[][2] = {{"messageSender", h->sender},
                               {"messageRecipient", recipient},
                               {"preparationDateAndTime", h->prepared},
                               {"messageIdentification", h->message_id},
                               {"messageType", type},
                               {"correlationIdentifier", correlation}};
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        if (!leaves[i][1] || !leaves[i][1][0])
            continue;
        if (before)
            put_at(b, before, W_BEFORE, leaves[i][0], leaves[i][1]);
        else
            put(b, root, leaves[i][0], leaves[i][1]);
    }
}

static xmlNodePtr new_root(struct bld *b, const char *type)
{
    b->doc = xmlNewDoc(BAD_CAST "1.0");
    if (!b->doc)
        goto oom;
    xmlNodePtr root = xmlNewDocNode(b->doc, NULL, BAD_CAST type, NULL);
    if (!root)
        goto oom;
    xmlDocSetRootElement(b->doc, root);
    xmlNsPtr ns = xmlNewNs(root, BAD_CAST KV_NCTS_NS, BAD_CAST "ncts");
    if (!ns || !xmlNewProp(root, BAD_CAST "PhaseID", BAD_CAST "NCTS5.1"))
        goto oom;
    xmlSetNs(root, ns);
    return root;
oom:
    b->oom = true;
    return NULL;
}

static void office(struct bld *b, xmlNodePtr root, const char *group, const char *ref)
{
    xmlNodePtr g = put(b, root, group, NULL);
    put(b, g, "referenceNumber", ref);
}

static void address(struct bld *b, xmlNodePtr parent, const struct kv_address *a)
{
    if (!a)
        return;
    xmlNodePtr g = put(b, parent, "Address", NULL);
    put_opt(b, g, "streetAndNumber", a->street);
    put_opt(b, g, "postcode", a->postcode);
    put_opt(b, g, "city", a->city);
    put_opt(b, g, "country", a->country);
}

static void contact(struct bld *b, xmlNodePtr parent, const struct kv_contact *k)
{
    if (!k)
        return;
    xmlNodePtr g = put(b, parent, "ContactPerson", NULL);
    put_opt(b, g, "name", k->name);
    put_opt(b, g, "phoneNumber", k->phone);
    put_opt(b, g, "eMailAddress", k->email);
}

/* HolderOfTheTransitProcedure (types 08, 13, 20: with a contact person in 13). */
static void holder(struct bld *b, xmlNodePtr root, const struct kv_declaration *d,
                   const char *fallback_id, bool with_contact)
{
    xmlNodePtr g = put(b, root, "HolderOfTheTransitProcedure", NULL);
    const struct kv_holder *h = d ? d->holder : NULL;
    if (!h) {
        put_opt(b, g, "identificationNumber", fallback_id);
        return;
    }
    put_opt(b, g, "identificationNumber", h->id);
    put_opt(b, g, "TIRHolderIdentificationNumber", h->tir_holder_id);
    put_opt(b, g, "name", h->name);
    address(b, g, h->address);
    if (with_contact)
        contact(b, g, h->contact);
}

static void representative(struct bld *b, xmlNodePtr root, const struct kv_declaration *d,
                           bool with_contact)
{
    const struct kv_representative *r = d ? d->representative : NULL;
    if (!r || !r->id || !r->status)
        return;
    xmlNodePtr g = put(b, root, "Representative", NULL);
    put(b, g, "identificationNumber", r->id);
    put(b, g, "status", r->status);
    if (with_contact)
        contact(b, g, r->contact);
}

/* The recipient: the one given, else the holder (identification number, TIR id). */
static const char *recipient_of(const struct kv_ncts_out_header *h, const struct kv_declaration *d,
                                const char *fallback)
{
    if (h->recipient && h->recipient[0])
        return h->recipient;
    if (d && d->holder && d->holder->id)
        return d->holder->id;
    if (d && d->holder && d->holder->tir_holder_id)
        return d->holder->tir_holder_id;
    if (d && d->representative && d->representative->id)
        return d->representative->id;
    return fallback;
}

static const char *correlation_of(const struct kv_ncts_out_header *h,
                                  const struct kv_declaration *d)
{
    if (h->correlation_id)
        return h->correlation_id[0] ? h->correlation_id : NULL;
    return d && d->ncts ? d->ncts->message_id : NULL;
}

/* Serialises b->doc into a malloc'd string. */
static int serialise(struct bld *b, bool compact, char **xml, size_t *len)
{
    xmlChar *mem = NULL;
    int size = 0;
    xmlDocDumpFormatMemoryEnc(b->doc, &mem, &size, "UTF-8", compact ? 0 : 1);
    if (!mem || size <= 0) {
        xmlFree(mem);
        return KV_ENOMEM;
    }
    char *out = malloc((size_t)size + 1);
    if (!out) {
        xmlFree(mem);
        return KV_ENOMEM;
    }
    memcpy(out, mem, (size_t)size);
    out[size] = '\0';
    xmlFree(mem);
    *xml = out;
    if (len)
        *len = (size_t)size;
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* The log                                                            */
/* ------------------------------------------------------------------ */

/* The last event of `type` in the log (or the `pos`-th, 1-based, when pos > 0). */
static const struct kv_event *find_event(const struct kv_ncts_out_movement *m,
                                         enum kv_event_type type, size_t pos)
{
    if (pos > 0)
        return pos <= m->n && m->log[pos - 1].type == type ? &m->log[pos - 1] : NULL;
    for (size_t i = m->n; i > 0; i--)
        if (m->log[i - 1].type == type)
            return &m->log[i - 1];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* CC028C, CC045C, CC009C, CC060C                                     */
/* ------------------------------------------------------------------ */

static void transit_operation(struct bld *b, xmlNodePtr root, const char *lrn, const char *mrn,
                              xmlNodePtr *out)
{
    xmlNodePtr g = put(b, root, "TransitOperation", NULL);
    put_opt(b, g, "LRN", lrn);
    put_opt(b, g, "MRN", mrn);
    *out = g;
}

static void cc028c(struct bld *b, xmlNodePtr root, const struct kv_ncts_out_movement *m,
                   const struct kv_event *lodged)
{
    char date[11];
    date_of(&lodged->time, date);
    xmlNodePtr to;
    transit_operation(b, root, m->d->lrn, m->mrn, &to);
    put(b, to, "declarationAcceptanceDate", date);
    office(b, root, "CustomsOfficeOfDeparture", m->d->office_of_departure);
    holder(b, root, m->d, NULL, false);
}

static void cc045c(struct bld *b, xmlNodePtr root, const struct kv_ncts_out_movement *m,
                   const struct kv_event *w)
{
    char date[11];
    date_of(&w->time, date);
    xmlNodePtr to;
    transit_operation(b, root, NULL, m->mrn, &to);
    put(b, to, "writeOffDate", date);
    office(b, root, "CustomsOfficeOfDeparture", m->d->office_of_departure);
    holder(b, root, m->d, NULL, false);
}

static void cc009c(struct bld *b, xmlNodePtr root, const struct kv_ncts_out_movement *m,
                   const struct kv_event *c)
{
    char when[20];
    datetime_of(&c->time, when);
    xmlNodePtr to;
    transit_operation(b, root, m->d->lrn, m->mrn, &to);
    xmlNodePtr g = put(b, root, "Invalidation", NULL);
    bool customs = c->u.cancellation.by == KV_BY_CUSTOMS;
    if (!customs)
        put(b, g, "requestDateAndTime", when);
    put(b, g, "decisionDateAndTime", when);
    put(b, g, "decision", "1");
    put(b, g, "initiatedByCustoms", customs ? "1" : "0");
    put_opt(b, g, "justification", c->u.cancellation.reason);
    office(b, root, "CustomsOfficeOfDeparture", m->d->office_of_departure);
    holder(b, root, m->d, NULL, true);
}

static void cc060c(struct bld *b, xmlNodePtr root, const struct kv_ncts_out_movement *m,
                   const struct kv_event *c)
{
    char when[20];
    datetime_of(&c->time, when);
    xmlNodePtr to;
    transit_operation(b, root, m->d->lrn, m->mrn, &to);
    put(b, to, "controlNotificationDateAndTime", when);
    put(b, to, "notificationType", "0"); /* CL716: intention to control */
    office(b, root, "CustomsOfficeOfDeparture", m->d->office_of_departure);
    holder(b, root, m->d, NULL, true);
    representative(b, root, m->d, true);
}

/* ------------------------------------------------------------------ */
/* CC182C                                                             */
/* ------------------------------------------------------------------ */

static void cc182c(struct bld *b, xmlNodePtr root, const struct kv_ncts_out_movement *m,
                   const struct kv_event *e)
{
    char when[20], date[11], country[3];
    datetime_of(&e->time, when);
    date_of(&e->time, date);
    snprintf(country, sizeof(country), "%.2s", e->office);
    xmlNodePtr to;
    transit_operation(b, root, NULL, m->mrn, &to);
    put(b, to, "incidentNotificationDateAndTime", when);
    office(b, root, "CustomsOfficeOfDeparture", m->d->office_of_departure);
    office(b, root, "CustomsOfficeOfIncidentRegistration", e->office);
    xmlNodePtr k = put(b, root, "Consignment", NULL);
    xmlNodePtr in = put(b, k, "Incident", NULL);
    put(b, in, "sequenceNumber", "1");
    char code[2] = {e->u.incident.code, '\0'};
    put(b, in, "code", code);
    put(b, in, "text", e->u.incident.text);
    if (e->u.incident.place[0]) {
        xmlNodePtr en = put(b, in, "Endorsement", NULL);
        put(b, en, "date", date);
        put(b, en, "authority", e->office);
        put(b, en, "place", e->u.incident.place);
        put(b, en, "country", country);
    }
    xmlNodePtr loc = put(b, in, "Location", NULL);
    /* CL326: W GNSS coordinates, Z free text (the place, in the endorsement) */
    put(b, loc, "qualifierOfIdentification", e->u.incident.has_gnss ? "W" : "Z");
    put(b, loc, "country", country);
    if (e->u.incident.has_gnss) {
        xmlNodePtr g = put(b, loc, "GNSS", NULL);
        put(b, g, "latitude", e->u.incident.latitude);
        put(b, g, "longitude", e->u.incident.longitude);
    }
    if (e->u.incident.seals_state == KV_SEALS_REPLACED && e->u.incident.new_seals.n > 0) {
        const struct kv_seal_list *s = &e->u.incident.new_seals;
        xmlNodePtr te = put(b, in, "TransportEquipment", NULL);
        put(b, te, "sequenceNumber", "1");
        char n[24];
        snprintf(n, sizeof(n), "%zu", s->n);
        put(b, te, "numberOfSeals", n);
        for (size_t i = 0; i < s->n; i++) {
            xmlNodePtr seal = put(b, te, "Seal", NULL);
            snprintf(n, sizeof(n), "%zu", i + 1);
            put(b, seal, "sequenceNumber", n);
            put(b, seal, "identifier", s->id[i]);
        }
    }
    if (e->u.incident.has_transhipment) {
        const struct kv_consignment *c = m->d->consignment;
        const struct kv_transport_means *dm =
            c && c->n_departure_means ? &c->departure_means[0] : NULL;
        xmlNodePtr t = put(b, in, "Transhipment", NULL);
        put(b, t, "containerIndicator", c && c->container_indicator == KV_YESNO_YES ? "1" : "0");
        xmlNodePtr tm = put(b, t, "TransportMeans", NULL);
        /* kervan's incident names the new means and its nationality; the kind of
         * identification is the declared one, else CL750 30 (road vehicle) */
        put(b, tm, "typeOfIdentification", dm && dm->type_of_id ? dm->type_of_id : "30");
        put(b, tm, "identificationNumber", e->u.incident.means_id);
        put(b, tm, "nationality",
            e->u.incident.nationality[0] ? e->u.incident.nationality
            : dm && dm->nationality      ? dm->nationality
                                         : country);
    }
}

/* ------------------------------------------------------------------ */
/* CC029C                                                             */
/* ------------------------------------------------------------------ */

/* What CC029C requires and CC015C (so kervan's model) leaves optional. */
static bool cc029c_complete(const struct kv_declaration *d, char *why, size_t whysz)
{
    for (size_t i = 0; i < d->n_guarantees; i++)
        for (size_t j = 0; j < d->guarantees[i].n_refs; j++) {
            const struct kv_guarantee_ref *r = &d->guarantees[i].refs[j];
            if (!r->amount || !r->currency) {
                say(why, whysz,
                    "CC029C needs the amount to be covered and its currency of every guarantee "
                    "reference: /guarantees/%zu/references/%zu has none",
                    i, j);
                return false;
            }
        }
    const struct kv_consignment *c = d->consignment;
    for (size_t i = 0; c && i < c->n_departure_means; i++) {
        const struct kv_transport_means *t = &c->departure_means[i];
        if (!t->type_of_id || !t->id || !t->nationality) {
            say(why, whysz,
                "CC029C needs typeOfIdentification, identificationNumber and nationality of "
                "every departure transport means: /consignment/departureTransportMeans/%zu "
                "lacks one",
                i);
            return false;
        }
    }
    for (size_t i = 0; c && i < c->n_border_means; i++) {
        const struct kv_border_means *t = &c->border_means[i];
        if (!t->office || !t->type_of_id || !t->id || !t->nationality) {
            say(why, whysz,
                "CC029C needs customsOffice, typeOfIdentification, identificationNumber and "
                "nationality of every active border transport means: "
                "/consignment/activeBorderTransportMeans/%zu lacks one",
                i);
            return false;
        }
    }
    return true;
}

static int cc029c(struct bld *b, const struct kv_ncts_out_movement *m,
                  const struct kv_ncts_out_header *h, const struct kv_event *lodged,
                  const struct kv_event *rel, char *why, size_t whysz)
{
    if (!cc029c_complete(m->d, why, whysz))
        return KV_EINVAL;
    /* 1. the declaration as CC015C, by the CC015C writer */
    struct kv_report notes;
    kv_report_init(&notes);
    struct kv_ncts_export_opts eo = {.sender = h->sender,
                                     .recipient = "-",
                                     .prepared = h->prepared,
                                     .message_id = h->message_id,
                                     .indent = 0};
    char *text = NULL;
    size_t text_len = 0;
    int rc = kv_ncts_cc015c_export(m->d, &eo, &text, &text_len, &notes);
    if (rc != KV_OK) {
        if (rc == KV_EINVAL)
            say(why, whysz, "the declaration cannot be written as NCTS data: %s (%s)",
                notes.count ? notes.items[0].message : "invalid",
                notes.count ? notes.items[0].pointer : "");
        kv_report_release(&notes);
        return rc;
    }
    kv_report_release(&notes);
    /* 2. parsed back */
    struct kv_ncts_errors errs;
    kv_ncts_errors_init(&errs);
    rc = kv_ncts_parse(text, text_len, &b->doc, &errs);
    free(text);
    if (rc != KV_OK) {
        if (rc != KV_ENOMEM)
            say(why, whysz, "the CC015C writer's output does not parse: %s",
                errs.count ? errs.items[0].message : "?");
        kv_ncts_errors_release(&errs);
        return rc == KV_ENOMEM ? rc : KV_EINVAL;
    }
    kv_ncts_errors_release(&errs);
    /* 3. CC029C's shape */
    xmlNodePtr root = xmlDocGetRootElement(b->doc);
    xmlNodeSetName(root, BAD_CAST "CC029C");
    if (!xmlSetProp(root, BAD_CAST "PhaseID", BAD_CAST "NCTS5.1"))
        b->oom = true;
    static const char *const head[] = {
        "messageSender",         "messageRecipient", "preparationDateAndTime",
        "messageIdentification", "messageType",      "correlationIdentifier"};
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        drop(root, head[i]);
    header(b, root, "CC029C", h, recipient_of(h, m->d, m->d->lrn), correlation_of(h, m->d));

    char accepted[11], released[11];
    date_of(&lodged->time, accepted);
    date_of(&rel->time, released);
    xmlNodePtr to = kid(root, "TransitOperation");
    drop(to, "presentationOfTheGoodsDateAndTime");
    drop(to, "limitDate");
    drop(to, "MRN");
    xmlNodePtr lrn = kid(to, "LRN");
    if (lrn)
        put_at(b, lrn, W_AFTER, "MRN", m->mrn);
    else if (first_element(to))
        put_at(b, first_element(to), W_BEFORE, "MRN", m->mrn);
    else
        put(b, to, "MRN", m->mrn);
    static const char *const after_dates[] = {"security",
                                              "reducedDatasetIndicator",
                                              "specificCircumstanceIndicator",
                                              "communicationLanguageAtDeparture",
                                              "bindingItinerary",
                                              NULL};
    xmlNodePtr at = kid_of(to, after_dates);
    put_at(b, at ? at : to, at ? W_BEFORE : W_CHILD, "declarationAcceptanceDate", accepted);
    at = kid_of(to, after_dates);
    put_at(b, at ? at : to, at ? W_BEFORE : W_CHILD, "releaseDate", released);

    /* CONTROL RESULT, before the guarantees */
    static const char *const after_control[] = {"Guarantee", "Consignment", NULL};
    at = kid_of(root, after_control);
    xmlNodePtr cr = put_at(b, at ? at : root, at ? W_BEFORE : W_CHILD, "ControlResult", NULL);
    put(b, cr, "code", rel->u.release.control_result);
    put(b, cr, "date", released);
    put(b, cr, "controlledBy", rel->actor.id[0] ? rel->actor.id : rel->office);

    /* CC029C's Consignment requires containerIndicator (CC015C: optional) */
    xmlNodePtr k = kid(root, "Consignment");
    if (k && !kid(k, "containerIndicator")) {
        bool container = false;
        const struct kv_consignment *c = m->d->consignment;
        for (size_t i = 0; c && i < c->n_equipment; i++)
            container = container || c->equipment[i].container_id;
        static const char *const before_ci[] = {"countryOfDestination", "countryOfDispatch", NULL};
        xmlNodePtr prev = kid(k, "countryOfDestination");
        if (!prev)
            prev = kid_of(k, before_ci);
        if (prev)
            put_at(b, prev, W_AFTER, "containerIndicator", container ? "1" : "0");
        else if (first_element(k))
            put_at(b, first_element(k), W_BEFORE, "containerIndicator", container ? "1" : "0");
        else
            put(b, k, "containerIndicator", container ? "1" : "0");
    }
    /* not in CC029C */
    drop_all(k, "supplementaryUnits");
    return KV_OK;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

size_t kv_ncts_out_source(enum kv_ncts_out t, const struct kv_ncts_out_movement *m, char *why,
                          size_t whysz)
{
    if (!m || (m->n && !m->log))
        return 0;
    if (!m->n || m->log[0].type != KV_EVENT_LODGED) {
        say(why, whysz, "the movement's log does not start with its lodged event");
        return 0;
    }
    const struct kv_event *e = NULL;
    switch (t) {
    case KV_NCTS_OUT_CC028C:
        e = &m->log[0];
        break;
    case KV_NCTS_OUT_CC029C:
        e = find_event(m, KV_EVENT_RELEASE, 0);
        if (!e)
            say(why, whysz, "no CC029C: the movement has not been released for transit");
        break;
    case KV_NCTS_OUT_CC056C:
        say(why, whysz,
            "no CC056C: a rejection is the answer to the rejected request itself, and "
            "kervan stores no rejected message");
        break;
    case KV_NCTS_OUT_CC060C:
        e = find_event(m, KV_EVENT_CONTROL_DECISION, 0);
        if (e && !e->u.control_decision.control)
            e = NULL;
        if (!e)
            say(why, whysz, "no CC060C: no control of the goods was decided at departure");
        break;
    case KV_NCTS_OUT_CC182C:
        e = find_event(m, KV_EVENT_INCIDENT, m->event);
        if (!e && m->event)
            say(why, whysz, "no CC182C: event %zu of the log is not an incident", m->event);
        else if (!e)
            say(why, whysz, "no CC182C: no incident has been recorded");
        break;
    case KV_NCTS_OUT_CC045C:
        e = find_event(m, KV_EVENT_WRITE_OFF, 0);
        if (!e)
            say(why, whysz, "no CC045C: the movement has not been written off");
        break;
    case KV_NCTS_OUT_CC009C:
        e = find_event(m, KV_EVENT_CANCELLATION, 0);
        if (!e)
            say(why, whysz, "no CC009C: the declaration has not been invalidated");
        break;
    case KV_NCTS_OUT__COUNT:
        break;
    }
    return e ? (size_t)(e - m->log) + 1 : 0;
}

static bool header_ok(const struct kv_ncts_out_header *h, char *why, size_t whysz)
{
    if (!h || !h->sender || !h->sender[0] || !h->prepared || !h->prepared[0] || !h->message_id ||
        !h->message_id[0]) {
        say(why, whysz, "the message header needs a sender, a preparation time and an id");
        return false;
    }
    return true;
}

int kv_ncts_out_build(enum kv_ncts_out t, const struct kv_ncts_out_movement *m,
                      const struct kv_ncts_out_header *h, char **xml, size_t *len, char *why,
                      size_t whysz)
{
    if (why && whysz)
        why[0] = '\0';
    if (!xml || !m || !m->d || !m->mrn || (m->n && !m->log) || (unsigned)t >= KV_NCTS_OUT__COUNT) {
        say(why, whysz, "missing argument");
        return KV_EINVAL;
    }
    *xml = NULL;
    if (len)
        *len = 0;
    if (!header_ok(h, why, whysz))
        return KV_EINVAL;
    size_t at = kv_ncts_out_source(t, m, why, whysz);
    if (!at)
        return KV_ENOTFOUND;
    const struct kv_event *lodged = &m->log[0];
    const struct kv_event *e = &m->log[at - 1];

    struct bld b = {0};
    int rc = KV_OK;
    const char *type = names[t];
    if (t == KV_NCTS_OUT_CC029C) {
        rc = cc029c(&b, m, h, lodged, e, why, whysz);
    } else {
        xmlNodePtr root = new_root(&b, type);
        header(&b, root, type, h, recipient_of(h, m->d, m->d->lrn),
               t == KV_NCTS_OUT_CC182C
                   ? (h->correlation_id && h->correlation_id[0] ? h->correlation_id : NULL)
                   : correlation_of(h, m->d));
        if (root) {
            switch (t) {
            case KV_NCTS_OUT_CC028C:
                cc028c(&b, root, m, e);
                break;
            case KV_NCTS_OUT_CC060C:
                cc060c(&b, root, m, e);
                break;
            case KV_NCTS_OUT_CC182C:
                cc182c(&b, root, m, e);
                break;
            case KV_NCTS_OUT_CC045C:
                cc045c(&b, root, m, e);
                break;
            case KV_NCTS_OUT_CC009C:
                cc009c(&b, root, m, e);
                break;
            default:
                break;
            }
        }
    }
    if (rc == KV_OK && b.oom)
        rc = KV_ENOMEM;
    if (rc == KV_OK)
        rc = serialise(&b, h->compact, xml, len);
    xmlFreeDoc(b.doc);
    return rc;
}

/* ------------------------------------------------------------------ */
/* CC056C                                                             */
/* ------------------------------------------------------------------ */

/* kervan's rule id in CC056C's an..7 errorReason: "R-MOV-004" → "MOV4". */
static void short_rule(const char *rule, char out[8])
{
    char stem[8] = "", num[8] = "";
    size_t ns = 0, nn = 0;
    const char *p = rule && strncmp(rule, "R-", 2) == 0 ? rule + 2 : rule ? rule : "";
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (nn + 1 < sizeof(num) && !(nn == 0 && *p == '0' && p[1] >= '0' && p[1] <= '9'))
                num[nn++] = *p;
        } else if (*p != '-' && ns + 1 < sizeof(stem)) {
            stem[ns++] = *p;
        }
    }
    /* nn <= 6 and ns <= 7: the stem is cut so that stem + number fit in 7 */
    size_t keep = ns < 7 - nn ? ns : 7 - nn;
    memcpy(out, stem, keep);
    memcpy(out + keep, num, nn);
    out[keep + nn] = '\0';
    if (!out[0])
        memcpy(out, "KV", 3);
}

/* CL030 (schema) code as a CL180 functional error code. */
static const char *functional_code(const struct kv_ncts_error *e)
{
    if (e->stage == KV_NCTS_STAGE_MESSAGE || e->stage == KV_NCTS_STAGE_DECLARATION)
        return e->code[0] ? e->code : "14";
    if (strcmp(e->code, "12") == 0 || strcmp(e->code, "13") == 0 || strcmp(e->code, "15") == 0)
        return e->code;
    return "14";
}

/* Copies at most `chars` UTF-8 characters of s into out (outsz > 4 * chars). */
static void cut_chars(const char *s, size_t chars, char *out, size_t outsz)
{
    size_t i = 0, n = 0;
    while (s[i] && n < chars) {
        size_t k = 1;
        while (s[i + k] && ((unsigned char)s[i + k] & 0xC0) == 0x80)
            k++;
        if (i + k >= outsz)
            break;
        i += k;
        n++;
    }
    memcpy(out, s, i);
    out[i] = '\0';
}

int kv_ncts_out_cc056c(const struct kv_ncts_rejection *r, const struct kv_ncts_out_header *h,
                       char **xml, size_t *len, char *why, size_t whysz)
{
    if (why && whysz)
        why[0] = '\0';
    if (!xml || !r || !r->office || strlen(r->office) != KV_OFFICE_LEN || !r->rejected ||
        !r->rejected_at) {
        say(why, whysz, "a CC056C needs the office of departure, the rejected message and a time");
        return KV_EINVAL;
    }
    *xml = NULL;
    if (len)
        *len = 0;
    if (!header_ok(h, why, whysz))
        return KV_EINVAL;
    struct bld b = {0};
    xmlNodePtr root = new_root(&b, "CC056C");
    const char *holder_id = r->holder_id;
    header(&b, root, "CC056C", h,
           recipient_of(h, r->d,
                        holder_id ? holder_id
                        : r->lrn  ? r->lrn
                                  : "unknown"),
           correlation_of(h, r->d));
    xmlNodePtr to;
    transit_operation(&b, root, r->lrn, r->mrn, &to);
    put(&b, to, "businessRejectionType", r->rejected);
    put(&b, to, "rejectionDateAndTime", r->rejected_at);
    put(&b, to, "rejectionCode", "12"); /* CL226: message with functional errors */
    if (r->reason && r->reason[0]) {
        char reason[KV_UTF8_BYTES(512)];
        cut_chars(r->reason, 512, reason, sizeof(reason));
        put(&b, to, "rejectionReason", reason);
    }
    office(&b, root, "CustomsOfficeOfDeparture", r->office);
    holder(&b, root, r->d, holder_id, false);
    representative(&b, root, r->d, false);
    size_t n = r->errors ? r->errors->count : 0;
    for (size_t i = 0; i < n && i < 9999; i++) {
        const struct kv_ncts_error *e = &r->errors->items[i];
        xmlNodePtr fe = put(&b, root, "FunctionalError", NULL);
        char xp[KV_UTF8_BYTES(512)];
        cut_chars(e->xpath[0] ? e->xpath : "/CC015C", 512, xp, sizeof(xp));
        put(&b, fe, "errorPointer", xp);
        put(&b, fe, "errorCode", functional_code(e));
        char reason[8];
        if (e->reason[0])
            snprintf(reason, sizeof(reason), "%.7s", e->reason);
        else
            short_rule(e->rule, reason);
        put(&b, fe, "errorReason", reason);
        if (e->has_value && e->value[0]) {
            char v[KV_UTF8_BYTES(512)];
            cut_chars(e->value, 512, v, sizeof(v));
            put(&b, fe, "originalAttributeValue", v);
        }
    }
    int rc = b.oom ? KV_ENOMEM : serialise(&b, h->compact, xml, len);
    xmlFreeDoc(b.doc);
    return rc;
}

void kv_ncts_out_errors_from_report(const struct kv_report *rep, const char *root,
                                    const xmlDoc *doc, enum kv_ncts_stage stage,
                                    struct kv_ncts_errors *out)
{
    if (!rep || !out)
        return;
    bool cc015c = root && strcmp(root, "CC015C") == 0;
    for (size_t i = 0; i < rep->count; i++) {
        const struct kv_problem *p = &rep->items[i];
        char where[KV_NCTS_XPATH_MAX];
        if (cc015c)
            kv_ncts_cc015c_xpath(p->pointer, where, sizeof(where));
        else
            snprintf(where, sizeof(where), "/%s%s", root ? root : "", p->pointer);
        enum kv_ncts_rule_kind kind;
        const char *reason = kv_ncts_rule_reason(p->rule, &kind);
        const xmlNode *n = doc ? kv_ncts_find(doc, where) : NULL;
        char value[KV_NCTS_VALUE_MAX + 4];
        bool has_value = n && kv_ncts_node_value(n, value, sizeof(value));
        kv_ncts_errors_add(out, stage, kv_ncts_functional_code(kind, n != NULL), reason, p->rule,
                           where, n ? (long)xmlGetLineNo(n) : 0, has_value ? value : NULL, "%s",
                           p->message);
    }
    if (rep->truncated)
        out->total += rep->total - rep->count;
    if (rep->oom)
        out->oom = true;
}
