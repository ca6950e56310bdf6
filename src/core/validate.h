/*
 * validate.h — the business rules of a transit declaration.
 *
 * Checks a decoded declaration against the rules kervan implements (field
 * lengths and patterns from the NCTS P5 data dictionary, code lists, masses,
 * seals, itinerary, guarantees, goods item numbering, limits) and adds every
 * problem found to a report. Pure: no I/O, no clock.
 */
#ifndef KV_CORE_VALIDATE_H
#define KV_CORE_VALIDATE_H

#include "core/declaration.h"
#include "core/ref.h"
#include "core/report.h"

/*
 * Adds every rule violation in `d` to `rep` (rule ids and sources:
 * docs/declaration.md). Presence of required members is the decoder's check
 * (R-REQ-001); here an absent member only skips the rules about it. `ref`
 * may be NULL: code-list and office-registry checks are then skipped. On
 * allocation failure sets rep->oom. Reads `d` only; thread-safe for
 * distinct reports.
 */
void kv_decl_validate(const struct kv_declaration *d, const struct kv_ref *ref,
                      struct kv_report *rep);

/*
 * Decodes and validates in one step (what `kervan validate` and the node
 * do). Returns the kv_decl_from_json result; all problems are in `rep`, so
 * the declaration is acceptable exactly when this returns KV_OK and
 * kv_report_ok(rep).
 */
int kv_validate_json(const char *buf, size_t len, const struct kv_ref *ref, struct kv_report *rep);

#endif
