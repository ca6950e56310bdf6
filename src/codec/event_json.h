/*
 * event_json.h — the JSON form of a movement event, in and out
 * (docs/movement.md shows every event type with an example).
 *
 * One object per event, flat: the common members "type", "time", "office"
 * and, in the stored form, "actor"; then the members of the type. Decoding
 * is strict: json-c with JSON_TOKENER_STRICT and UTF-8 validation, a depth
 * limit, no duplicate members, no unknown members, exact JSON types, string
 * lengths and formats from the NCTS data dictionary. Every problem goes to a
 * struct kv_report with a rule id (R-EVT-*) and a JSON pointer, and one call
 * reports all it can see. The text is read by the shared strict checker
 * (codec/json_strict.h) before json-c builds its tree.
 *
 * Two forms: KV_EVENT_INPUT is what a client posts — members the node sets
 * itself ("actor", an arrival's "diversion") and the type "lodged" are
 * refused; KV_EVENT_STORED is what the node writes and reads back, where
 * they are allowed. kv_event_to_json always writes the stored form, in a
 * fixed member order, so decode ∘ encode is the identity on valid events.
 */
#ifndef KV_CODEC_EVENT_JSON_H
#define KV_CODEC_EVENT_JSON_H

#include <stddef.h>

#include "core/movement.h"
#include "core/report.h"

/* Largest event document accepted: an amendment carries a whole declaration
 * (the declaration codec's limit is 4 MiB), plus room for the event itself. */
#define KV_EVENT_JSON_MAX (4u * 1024u * 1024u + 64u * 1024u)

/* Deepest nesting accepted (objects and arrays), declaration included. */
#define KV_EVENT_JSON_DEPTH 24

/* Most objects and arrays, and most values, in one event: the declaration
 * codec's limits (50,000 and 500,000, docs/declaration.md) plus room for the
 * event's own members (at most 4 objects and arrays, about 120 values).
 * Checked before json-c builds a tree, so its memory stays bounded. */
#define KV_EVENT_JSON_CONTAINERS (50000u + 16u)
#define KV_EVENT_JSON_VALUES     (500000u + 256u)

enum kv_event_form {
    KV_EVENT_STORED = 0, /* as stored by the node: actor and derived members allowed */
    KV_EVENT_INPUT = 1   /* as posted by a client: node-set members refused */
};

/*
 * Decodes `len` bytes of JSON into *ev in the given form. *ev is zeroed
 * first (so clear an event that owns memory before reusing it); on return
 * it may own memory (an amendment's declaration text) whatever the result:
 * release it with kv_event_clear. Thread-safe; no recursion over the
 * input, and memory bounded by the limits above.
 *
 * Returns KV_OK when the event is well-formed (no problem was added to
 * rep); KV_EPARSE when the bytes are not one JSON object or the event has
 * problems (all listed in rep); KV_ELIMIT when over KV_EVENT_JSON_MAX bytes,
 * nested deeper than KV_EVENT_JSON_DEPTH or over the container or value
 * limit; KV_ENOMEM; KV_EINVAL for NULL arguments. Whether the event is
 * allowed now is kv_movement_check's question, who may record it
 * kv_event_permitted's.
 */
int kv_event_decode(const char *buf, size_t len, enum kv_event_form form, struct kv_event *ev,
                    struct kv_report *rep);

/* kv_event_decode in the stored form. */
int kv_event_from_json(const char *buf, size_t len, struct kv_event *ev, struct kv_report *rep);

/*
 * Encodes an event as compact JSON in the stored form. Optional members that
 * are empty are left out; "diversion" is written only when true. Returns
 * KV_OK and a NUL-terminated string in *json (caller frees with free()) and
 * its length in *len (may be NULL); KV_EINVAL for an unknown type or an
 * amendment without a declaration; KV_ENOMEM.
 */
int kv_event_to_json(const struct kv_event *ev, char **json, size_t *len);

/* Frees what the event owns (an amendment's declaration) and zeroes it. NULL
 * is a no-op. */
void kv_event_clear(struct kv_event *ev);

#endif
