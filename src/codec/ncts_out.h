/*
 * ncts_out.h — the NCTS P5 messages an office of departure sends about a
 * movement, built from what kervan stores: the current declaration and the
 * event log (docs/ncts.md "Messages out").
 *
 *   CC028C  MRN allocated          the lodged event (acceptance date)
 *   CC029C  release for transit    the declaration in full (written by the
 *                                  CC015C writer, then given CC029C's
 *                                  shape), MRN, acceptance and release
 *                                  dates, the release's control result
 *                                  (CL196) and the declared seals
 *   CC056C  rejection              a list of functional errors (CL180), for a
 *                                  rejected lodge (LRN) or a refused event (MRN)
 *   CC060C  control decision       a control_decision event with control true
 *   CC182C  incident               an incident event (CL019 code, text,
 *                                  place, GNSS, seals, transhipment)
 *   CC045C  write-off              the write_off event (writeOffDate)
 *   CC009C  invalidation           the cancellation event
 *
 * Every document is UTF-8 with an XML declaration, root `ncts:CCnnnC` in
 * the NCTS namespace with PhaseID "NCTS5.1", and follows the P5 XSD
 * (51.8.6): the tests validate each one with ncts_schema. Dates are the
 * events' own local dates and times as the office gave them (the XSD
 * types carry no zone).
 *
 * Pure functions of their inputs (no I/O, no clock); thread-safe on
 * distinct outputs.
 */
#ifndef KV_CODEC_NCTS_OUT_H
#define KV_CODEC_NCTS_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "codec/ncts_schema.h"
#include "core/declaration.h"
#include "core/movement.h"
#include "core/report.h"

/* The messages kervan writes. */
enum kv_ncts_out {
    KV_NCTS_OUT_CC028C = 0,
    KV_NCTS_OUT_CC029C,
    KV_NCTS_OUT_CC056C,
    KV_NCTS_OUT_CC060C,
    KV_NCTS_OUT_CC182C,
    KV_NCTS_OUT_CC045C,
    KV_NCTS_OUT_CC009C,
    KV_NCTS_OUT__COUNT
};

/* "CC028C", ...; NULL out of range. */
const char *kv_ncts_out_name(enum kv_ncts_out t);

/* Parses a message name, case-insensitively ("cc029c" → CC029C). */
bool kv_ncts_out_from_name(const char *s, enum kv_ncts_out *t);

/* The message header. */
struct kv_ncts_out_header {
    const char *sender;         /* messageSender, the node: "NTA.KZ" (required) */
    const char *recipient;      /* messageRecipient; NULL: the holder's identification number */
    const char *prepared;       /* preparationDateAndTime "YYYY-MM-DDThh:mm:ss" (required) */
    const char *message_id;     /* messageIdentification an..35 (required) */
    const char *correlation_id; /* correlationIdentifier; NULL: the messageIdentification of
                                   the CC015C the declaration came in, if any (not CC182C) */
    bool compact;               /* one line instead of two-space indentation */
};

/* A stored movement, decoded. */
struct kv_ncts_out_movement {
    const char *mrn;                /* required */
    const struct kv_declaration *d; /* the current declaration; required */
    const struct kv_event *log;     /* the event log in order; log[0] is "lodged" */
    size_t n;                       /* events in log */
    size_t event;                   /* CC182C: 1-based position of the incident in the log;
                                       0 = the latest */
};

/*
 * The 1-based position in m->log of the event message `t` is built from
 * (CC028C: the lodged event; CC029C: the release; ...), or 0 when the
 * message does not apply to this log, `why` then saying what is missing.
 */
size_t kv_ncts_out_source(enum kv_ncts_out t, const struct kv_ncts_out_movement *m, char *why,
                          size_t whysz);

/*
 * Builds message `t` for the movement. Returns KV_OK and *xml
 * (NUL-terminated; caller frees with free()) and *len (may be NULL).
 * KV_ENOTFOUND when the message does not apply to this log (yet): CC029C
 * before release, CC060C without a control decision to control, CC182C
 * without an incident (or `event` not one), CC045C before write-off, CC009C
 * without a cancellation, CC056C always (a rejection is the answer to the
 * rejected request: kv_ncts_out_cc056c) — `why` names what is missing.
 * KV_EINVAL when an argument is missing or the declaration lacks data the
 * message requires (CC029C: a guarantee reference without an amount, a
 * transport means without its identification; `why` says which), or the
 * CC015C writer refuses the declaration. KV_ENOMEM; KV_ELIMIT.
 */
int kv_ncts_out_build(enum kv_ncts_out t, const struct kv_ncts_out_movement *m,
                      const struct kv_ncts_out_header *h, char **xml, size_t *len, char *why,
                      size_t whysz);

/* What a CC056C rejects. */
struct kv_ncts_rejection {
    const char *lrn;                /* the rejected declaration's LRN, or NULL */
    const char *mrn;                /* the movement, or NULL (a lodge has none yet) */
    const char *office;             /* CustomsOfficeOfDeparture (required, 8 characters) */
    const struct kv_declaration *d; /* holder and representative; may be NULL */
    const char *holder_id;          /* the holder when d has none; may be NULL */
    const char *rejected;    /* businessRejectionType: the rejected message's number, "015" */
    const char *rejected_at; /* rejectionDateAndTime "YYYY-MM-DDThh:mm:ss" */
    const char *reason;      /* rejectionReason an..512, or NULL */
    const struct kv_ncts_errors *errors; /* the functional errors (at most 9,999 written) */
};

/*
 * Builds a CC056C: rejectionCode 12 (message with functional errors), one
 * FunctionalError per error — errorPointer its XPath ("/CC015C" when it has
 * none), errorCode its CL180 code (a CL030 schema error is written as 12,
 * 13, 15 where the meanings agree, else 14), errorReason the NCTS rule or
 * else kervan's rule id (both an..7 at most: kervan ids are cut), the
 * original value when known. Returns as kv_ncts_out_build; KV_EINVAL
 * without office, rejected or rejected_at.
 */
int kv_ncts_out_cc056c(const struct kv_ncts_rejection *r, const struct kv_ncts_out_header *h,
                       char **xml, size_t *len, char *why, size_t whysz);

/*
 * Turns kervan problems into NCTS-style errors: the rule's CL180 code and
 * NCTS reason (kv_ncts_rule_reason), the location from the JSON pointer —
 * into CC015C (kv_ncts_cc015c_xpath) when `root` is "CC015C", else
 * "/<root>" followed by the pointer — and, when `doc` is given, whether the
 * element is there and its original value. `stage` is recorded with each.
 * Adds to `out`; never fails visibly (out->oom).
 */
void kv_ncts_out_errors_from_report(const struct kv_report *rep, const char *root,
                                    const xmlDoc *doc, enum kv_ncts_stage stage,
                                    struct kv_ncts_errors *out);

#endif
