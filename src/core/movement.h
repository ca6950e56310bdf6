/*
 * movement.h — the movement lifecycle: states, events, the transition rules
 * and who may do what. The single source of truth for every node.
 *
 * A movement is one transit declaration plus its event log. Its state, as
 * seen by the office of departure, is a pure function of that log
 * (kv_movement_fold): the node never stores a state it did not compute from
 * the log. Names follow NCTS Phase 5 where NCTS has one (DDNTA flows, see
 * docs/movement.md for the mapping of each event to its IE/CD message).
 *
 * The pipeline for one new event (the API's POST .../events):
 *
 *   kv_event_decode(body, ..., KV_EVENT_INPUT, &ev, rep)       422 on problems
 *   ev.actor = who is asking (from the token)
 *   rel = kv_movement_relation(...); kv_event_permitted(&ev, role, rel, rep)
 *                                                               403 when not
 *   fold the stored log into a struct kv_movement (kv_movement_fold_into)
 *   kv_movement_check(&mv, &ev, &facts, rep)                    409 when not
 *   kv_movement_apply(&mv, &ev)  → mv.state, mv.flags to store with the event
 *
 * Everything here is pure: no I/O, no clock, no allocation, no globals.
 * Times come in as RFC 3339 text and parsed epoch seconds; the caller's
 * clock decides "overdue" (kv_movement_overdue). All functions are
 * thread-safe on distinct objects.
 */
#ifndef KV_CORE_MOVEMENT_H
#define KV_CORE_MOVEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/report.h"

/* ------------------------------------------------------------------------ */
/* Limits, from the NCTS P5 data dictionary (formats in DDNTA Appendix Q2)   */
/* ------------------------------------------------------------------------ */

/* Text lengths are in characters (Unicode code points, as the XSD counts);
 * buffers hold UTF-8, so each holds 4 bytes per character plus the NUL. */
#define KV_UTF8_BYTES(chars) ((chars)*4 + 1)

#define KV_OFFICE_LEN     8   /* customs office reference number, an8 */
#define KV_SEALS_MAX      99  /* SEAL 99× per transport equipment */
#define KV_SEAL_ID_CHARS  20  /* seal identifier an..20 */
#define KV_TEXT_CHARS     512 /* free text an..512 (reasons, incident text) */
#define KV_PLACE_CHARS    35  /* place an..35 (incident endorsement place) */
#define KV_PARTY_ID_CHARS 17  /* identification number an..17 (EORI/TIN) */
#define KV_ACTOR_ID_CHARS 35  /* who acted: party id, officer id, node id */
#define KV_MEANS_ID_CHARS 35  /* transport means identification an..35 */
#define KV_GNSS_CHARS     17  /* GNSS latitude/longitude an..17 */
#define KV_ITINERARY_MAX  9   /* offices of transit / exit for transit 9× */
#define KV_CROSSINGS_MAX  64  /* border passages (office × side) kept per movement */
#define KV_TIME_TEXT_MAX  25  /* "YYYY-MM-DDThh:mm:ss+hh:mm" */

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * An instant as the office gave it: the RFC 3339 text kept as written (so
 * the office's UTC offset survives, DESIGN.md §3), the instant in seconds
 * since 1970-01-01T00:00:00Z, and the offset in minutes east of UTC.
 */
struct kv_time {
    char text[KV_TIME_TEXT_MAX + 1];
    int64_t epoch;
    int offset_min;
};

/*
 * Parses `len` bytes of RFC 3339 date-time in the form
 * "YYYY-MM-DDThh:mm:ssZ" or "YYYY-MM-DDThh:mm:ss+hh:mm" / "-hh:mm" (upper
 * case T and Z; no fractional seconds; no leap second 60; the date must
 * exist in the proleptic Gregorian calendar; offset hours 00–23, minutes
 * 00–59 as RFC 3339's grammar allows). Does not use the C library's time
 * zone functions. Returns KV_OK and fills *t, or KV_EPARSE and, when why is
 * not NULL, points *why at a static phrase ("month out of range", ...).
 */
int kv_time_parse(const char *s, size_t len, struct kv_time *t, const char **why);

/*
 * Sets *t to `epoch` shown at `offset_min` minutes east of UTC (−1439..1439):
 * "…Z" when the offset is 0. For times the node itself writes (the lodged
 * event). Returns KV_OK, or KV_EINVAL when the offset or the year (0–9999)
 * is out of range.
 */
int kv_time_set(struct kv_time *t, int64_t epoch, int offset_min);

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; m 1–12,
 * d 1–31, not checked against the month). Negative before 1970. */
int64_t kv_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The civil date of a day count from 1970-01-01 (inverse of the above). */
void kv_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* ------------------------------------------------------------------------ */
/* States and flags                                                         */
/* ------------------------------------------------------------------------ */

/*
 * The state of a movement as the office of departure sees it. The eight
 * stored states have the lower-case names used by the API and the database
 * (kv_state_name). KV_STATE_NONE is the state of an empty log (only
 * `lodged` may come); KV_STATE_INVALID is what the fold yields for a log
 * containing an event the transition table refuses — a corrupted log is made
 * visible, never silently skipped. Neither of the two is ever stored.
 */
enum kv_state {
    KV_STATE_NONE = 0,
    KV_STATE_ACCEPTED,      /* MRN allocated (CC028C), not yet released */
    KV_STATE_UNDER_CONTROL, /* control decided at departure (CC060C) */
    KV_STATE_NOT_RELEASED,  /* no release for transit (CC051C); final */
    KV_STATE_RELEASED,      /* released for transit (CC029C) */
    KV_STATE_ARRIVED,       /* arrival advice (CD006C) */
    KV_STATE_DISCREPANCIES, /* major discrepancies at destination (CD018C, CC019C) */
    KV_STATE_WRITTEN_OFF,   /* written off (CC045C); final */
    KV_STATE_CANCELLED,     /* invalidated (CC009C); final. NCTS "invalidated" */
    KV_STATE_INVALID,
    KV_STATE__COUNT
};

/*
 * Flags: facts about a movement that are not states. INCIDENT, DIVERSION and
 * UNLOADED come from the log (the fold sets them); ENQUIRY is never the
 * result of an event — the caller computes it from the limit date and its
 * clock (kv_movement_overdue) and ORs it in for display and listing.
 */
enum kv_flag {
    KV_FLAG_INCIDENT = 1u << 0,  /* an incident was recorded (CD180C) */
    KV_FLAG_DIVERSION = 1u << 1, /* arrived at an office other than the declared destination */
    KV_FLAG_UNLOADED = 1u << 2,  /* destination control results in and conform (or resolved) */
    KV_FLAG_ENQUIRY = 1u << 3    /* released and overdue past the limit date */
};
#define KV_FLAG__ALL 0xfu

/* "accepted", ..., "cancelled"; "none" and "invalid" for the two others. */
const char *kv_state_name(enum kv_state s);

/* Parses one of the eight stored state names (exact, lower case). */
bool kv_state_from_name(const char *s, size_t len, enum kv_state *out);

/* "incident", "diversion", "unloaded", "enquiry" for one flag bit; NULL otherwise. */
const char *kv_flag_name(unsigned bit);

/* True for not_released, written_off and cancelled: nothing more may happen. */
bool kv_state_final(enum kv_state s);

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

enum kv_event_type {
    KV_EVENT_UNKNOWN = 0,            /* not an event (a zeroed struct) */
    KV_EVENT_LODGED,                 /* written by the node at acceptance (CC028C) */
    KV_EVENT_CONTROL_DECISION,       /* CC060C */
    KV_EVENT_RELEASE,                /* CC029C */
    KV_EVENT_NO_RELEASE,             /* CC051C */
    KV_EVENT_AMENDMENT,              /* CC013C accepted (CC004C) */
    KV_EVENT_CANCELLATION,           /* CC014C + CC009C / CD010C */
    KV_EVENT_PRESENTED,              /* arrival at a border control point */
    KV_EVENT_CLEARED,                /* border passage done (CD118C, CD168C) */
    KV_EVENT_INCIDENT,               /* CD180C */
    KV_EVENT_ARRIVAL,                /* CC007C / CD006C */
    KV_EVENT_UNLOADING_REMARKS,      /* CC044C / CD018C */
    KV_EVENT_DISCREPANCIES_RESOLVED, /* CD049C */
    KV_EVENT_WRITE_OFF,              /* CC045C */
    KV_EVENT__COUNT
};

/* Bit of an event type in an allowed-set mask. */
#define KV_EVENT_BIT(t) (1u << (unsigned)(t))

/* "lodged", "control_decision", ...; NULL for KV_EVENT_UNKNOWN or out of range. */
const char *kv_event_type_name(enum kv_event_type t);

/* Parses an event type name (exact, lower case). */
bool kv_event_type_from_name(const char *s, size_t len, enum kv_event_type *out);

/* Who acts. Token roles of the node; the holder acts as a trader. */
enum kv_actor_role {
    KV_ACTOR_NONE = 0,
    KV_ACTOR_TRADER,   /* trade operator, bound to a party id */
    KV_ACTOR_OFFICER,  /* customs officer, bound to an office */
    KV_ACTOR_ANALYST,  /* reads figures; never acts on a movement */
    KV_ACTOR_OPERATOR, /* runs the node; never acts on a movement */
    KV_ACTOR_NODE,     /* the node itself (the lodged event) */
    KV_ACTOR__COUNT
};

/* "trader", "officer", "analyst", "operator", "node"; NULL for NONE. */
const char *kv_actor_role_name(enum kv_actor_role r);
bool kv_actor_role_from_name(const char *s, size_t len, enum kv_actor_role *out);

struct kv_actor {
    enum kv_actor_role role;                   /* KV_ACTOR_NONE: not recorded */
    char id[KV_UTF8_BYTES(KV_ACTOR_ID_CHARS)]; /* party id, officer id or node id */
};

/* Side of a border crossing point. */
enum kv_side { KV_SIDE_NONE = 0, KV_SIDE_EXIT, KV_SIDE_ENTRY };
const char *kv_side_name(enum kv_side s); /* "exit", "entry" */

/* Who asked for a cancellation (CC009C "Initiated by customs" flag). */
enum kv_initiator { KV_BY_NONE = 0, KV_BY_HOLDER, KV_BY_CUSTOMS };
const char *kv_initiator_name(enum kv_initiator i); /* "holder", "customs" */

/* State of the seals reported with an incident. */
enum kv_seals_state { KV_SEALS_NONE = 0, KV_SEALS_INTACT, KV_SEALS_BROKEN, KV_SEALS_REPLACED };
const char *kv_seals_state_name(enum kv_seals_state s); /* "intact", "broken", "replaced" */

/* A bounded list of seal identifiers (an..20 each, at most 99). */
struct kv_seal_list {
    size_t n;
    char id[KV_SEALS_MAX][KV_UTF8_BYTES(KV_SEAL_ID_CHARS)];
};

/*
 * One event of a movement's log. `office` is the office where the event
 * happened (the departure office for departure events). The payload member
 * of `u` that is meaningful is the one named after `type` (presented and
 * cleared share `crossing`; lodged and write_off have none).
 *
 * Ownership: amendment.declaration is heap memory owned by the event when
 * set by the codec; free it with kv_event_clear (codec/event_json.h). Every
 * other member is inline, so events may be copied with memcpy as long as
 * only one copy is cleared.
 */
struct kv_event {
    enum kv_event_type type;
    struct kv_time time;
    char office[KV_OFFICE_LEN + 1];
    struct kv_actor actor;
    union {
        struct {
            bool control;                              /* true: the goods will be controlled */
            char reason[KV_UTF8_BYTES(KV_TEXT_CHARS)]; /* optional ("" when absent) */
        } control_decision;
        struct {
            char control_result[3];    /* CL196: A1, A2, A3, A4 */
            struct kv_seal_list seals; /* seals found on the goods */
        } release;
        struct {
            char reason[KV_UTF8_BYTES(KV_TEXT_CHARS)]; /* no release motivation text */
        } no_release;
        struct {
            char *declaration; /* the new declaration, JSON text as received */
            size_t declaration_len;
        } amendment;
        struct {
            enum kv_initiator by;
            char reason[KV_UTF8_BYTES(KV_TEXT_CHARS)]; /* justification */
        } cancellation;
        struct {
            enum kv_side side;
        } crossing;
        struct {
            char code;                                 /* CL019: '1'..'6' */
            char text[KV_UTF8_BYTES(KV_TEXT_CHARS)];   /* what happened */
            char place[KV_UTF8_BYTES(KV_PLACE_CHARS)]; /* where */
            bool has_gnss;
            char latitude[KV_GNSS_CHARS + 1]; /* NCTS GNSS text, e.g. "41.51234" */
            char longitude[KV_GNSS_CHARS + 1];
            enum kv_seals_state seals_state;
            struct kv_seal_list new_seals; /* when seals_state is REPLACED */
            bool has_transhipment;
            char means_id[KV_UTF8_BYTES(KV_MEANS_ID_CHARS)]; /* new transport means */
            char nationality[3];                             /* optional, a2 */
        } incident;
        struct {
            bool diversion; /* derived by kv_movement_check; never posted */
        } arrival;
        struct {
            bool conform;
            bool has_seals_intact;
            bool seals_intact;
            char discrepancies[KV_UTF8_BYTES(KV_TEXT_CHARS)];
        } unloading;
        struct {
            char text[KV_UTF8_BYTES(KV_TEXT_CHARS)];
        } resolved;
    } u;
};

/* ------------------------------------------------------------------------ */
/* Facts from the declaration                                               */
/* ------------------------------------------------------------------------ */

/*
 * What the rules need from the (current) declaration, filled by the caller
 * so that this module does not depend on the declaration model. Strings are
 * NUL-terminated; office refs are 8 characters. Use the kv_facts_* helpers
 * to fill the bounded arrays.
 */
struct kv_movement_facts {
    char holder[KV_UTF8_BYTES(KV_PARTY_ID_CHARS)]; /* holder's identification number */
    char departure[KV_OFFICE_LEN + 1];
    char destination[KV_OFFICE_LEN + 1]; /* declared office of destination */
    size_t n_transit;
    char transit[KV_ITINERARY_MAX][KV_OFFICE_LEN + 1];
    size_t n_exit;
    char exit[KV_ITINERARY_MAX][KV_OFFICE_LEN + 1];
    struct kv_seal_list seals; /* every declared seal id */
    bool simplified;           /* authorised consignor (authorisation C521): A3 allowed (R0910) */
};

/* Zeroes *f. */
void kv_facts_init(struct kv_movement_facts *f);

/* Append one declared seal / office of transit / office of exit for transit.
 * Return KV_OK, KV_ELIMIT when the list is full, KV_EINVAL when the id is
 * empty or too long (seal: 80 bytes; office: exactly 8 bytes). */
int kv_facts_add_seal(struct kv_movement_facts *f, const char *id, size_t len);
int kv_facts_add_transit(struct kv_movement_facts *f, const char *ref8, size_t len);
int kv_facts_add_exit(struct kv_movement_facts *f, const char *ref8, size_t len);

/* ------------------------------------------------------------------------ */
/* The movement folded from its log                                         */
/* ------------------------------------------------------------------------ */

/* One border passage: an office on one side, presented then cleared. */
struct kv_crossing {
    char office[KV_OFFICE_LEN + 1];
    enum kv_side side;
    bool presented, cleared;
    int64_t presented_at, cleared_at; /* epoch seconds */
};

/*
 * What the log says about a movement: its state and flags plus the history
 * the rules look at. Built only by kv_movement_init/apply (or the fold).
 */
struct kv_movement {
    enum kv_state state;
    unsigned flags;       /* KV_FLAG_* (never ENQUIRY) */
    size_t n_events;      /* events applied */
    size_t invalid_at;    /* index of the first refused event when state is INVALID */
    struct kv_time since; /* time of the event that entered the current state */
    int64_t lodged_at, released_at, arrived_at; /* 0 until the event happens */
    char arrival_office[KV_OFFICE_LEN + 1];
    size_t n_incidents;
    bool seals_replaced; /* an incident replaced the seals */
    size_t n_crossings;
    struct kv_crossing crossings[KV_CROSSINGS_MAX];
};

/* Sets *mv to the movement of an empty log (state NONE). */
void kv_movement_init(struct kv_movement *mv);

/*
 * Applies one event to *mv following the transition table only (no facts,
 * no content rules: that is kv_movement_check's job, done before the event
 * was stored). An event the table refuses in the current state turns the
 * state into KV_STATE_INVALID, which is sticky, and records its index in
 * invalid_at. Never fails.
 */
void kv_movement_apply(struct kv_movement *mv, const struct kv_event *ev);

/*
 * The state after the `n` events of `log`, in order: the pure function of
 * the log. Stores the flags in *flags when not NULL. An empty log is
 * KV_STATE_NONE.
 */
enum kv_state kv_movement_fold(const struct kv_event *log, size_t n, unsigned *flags);

/* Like kv_movement_fold but fills the whole *mv. */
void kv_movement_fold_into(const struct kv_event *log, size_t n, struct kv_movement *mv);

/* ------------------------------------------------------------------------ */
/* The transition check                                                     */
/* ------------------------------------------------------------------------ */

/* Refusals of kv_movement_check (positive, unlike the KV_E* codes). */
enum kv_verdict {
    KV_ALLOWED = 0,
    KV_REFUSED_SEQUENCE = 1, /* the state does not allow this event now (NCTS error 92): 409 */
    KV_REFUSED_RULE = 2      /* allowed now, but its content breaks a rule (seals, office,
                              * time, border order): 409 as well, with the problems */
};

/*
 * Says whether `next` may be appended to the movement *mv now, given the
 * declaration's facts. Adds every problem to `rep` (rule ids R-MOV-*,
 * pointers into the event, e.g. "/seals/2"); a sequence refusal names the
 * state and lists the allowed events, e.g.
 *   event "release" is not allowed in state "released" (NCTS 92, message
 *   out of sequence); allowed: cancellation by customs, presented, cleared,
 *   incident, arrival
 *
 * Derived members of `next` are completed here and only here: for an
 * arrival, u.arrival.diversion is set when the office is not the declared
 * destination. Nothing else is written.
 *
 * Returns KV_ALLOWED, KV_REFUSED_SEQUENCE, KV_REFUSED_RULE, or KV_EINVAL
 * (negative) for a NULL argument or a state that no log produces.
 */
int kv_movement_check(const struct kv_movement *mv, struct kv_event *next,
                      const struct kv_movement_facts *facts, struct kv_report *rep);

/*
 * The event types allowed in (state, flags), as a mask of KV_EVENT_BIT(type).
 * A type is in the set when at least one form of it is allowed (a
 * cancellation after release is allowed only when initiated by customs: see
 * kv_movement_allowed_text). For the 409 message and the API's links.
 */
unsigned kv_movement_allowed(enum kv_state s, unsigned flags);

/*
 * Writes the allowed events as text, in event-type order ("cancellation by
 * customs, presented, cleared, incident, arrival", or "none (final state)")
 * into buf (always NUL-terminated; 200 bytes is always enough).
 */
void kv_movement_allowed_text(enum kv_state s, unsigned flags, char *buf, size_t size);

/*
 * Checks a whole stored log against the rules, event by event (check then
 * apply), with the current facts (amendments are allowed only before
 * release, and every rule that reads the facts applies from release on, so
 * the current declaration is the right one). Fills *mv with the movement up
 * to the first refused event. Problems carry pointers "/events/<i>/...".
 * Also refuses a stored arrival whose diversion flag disagrees with the
 * facts. Returns KV_ALLOWED or the verdict of the first refused event.
 */
int kv_movement_replay(const struct kv_event *log, size_t n, const struct kv_movement_facts *facts,
                       struct kv_movement *mv, struct kv_report *rep);

/*
 * True when the movement is overdue and should be flagged for enquiry: it
 * is released (not arrived) and `now` is at or past `limit` (both epoch
 * seconds; limit 0 means no limit date). For a limit date D, pass the epoch
 * of D+1 at 00:00 UTC so that the whole day D counts.
 */
bool kv_movement_overdue(enum kv_state s, int64_t limit, int64_t now);

/* ------------------------------------------------------------------------ */
/* Who may do what                                                          */
/* ------------------------------------------------------------------------ */

/* How the actor stands to this movement and this event (bit set). */
enum kv_relation {
    KV_REL_HOLDER = 1u << 0,      /* the trader is this movement's holder */
    KV_REL_DEPARTURE = 1u << 1,   /* the officer's office is the office of departure */
    KV_REL_DESTINATION = 1u << 2, /* the officer's office is the declared destination or
                                   * an office of destination (DES role): may receive a
                                   * diverted movement */
    KV_REL_EVENT_OFFICE = 1u << 3 /* the officer's office is the event's office */
};

/*
 * Computes the relation bits: `party` is the trader's party id (NULL for
 * others), `office` the officer's office ref (NULL for others),
 * `office_is_des` whether the registry gives that office the DES role.
 */
unsigned kv_movement_relation(enum kv_actor_role role, const char *party, const char *office,
                              bool office_is_des, const struct kv_event *ev,
                              const struct kv_movement_facts *facts);

/*
 * The role policy: may an actor with `role` and relation bits `rel` record
 * `ev`? (holder: amendment and its own cancellation; officer at departure:
 * control_decision, release, no_release, customs cancellation, write_off;
 * any officer at its own office: presented, cleared, incident; officer at a
 * destination office: arrival, unloading_remarks, discrepancies_resolved;
 * the node: lodged.) When refused, adds an R-ROLE-001 problem to rep (may be
 * NULL) saying who may. Whether the state allows the event is a separate
 * question (kv_movement_check).
 */
bool kv_event_permitted(const struct kv_event *ev, enum kv_actor_role role, unsigned rel,
                        struct kv_report *rep);

#endif
