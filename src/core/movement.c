/*
 * movement.c — the movement lifecycle (see movement.h and docs/movement.md).
 *
 * One function, next_state(), is the transition table; the fold, the check
 * and the allowed-set all go through it, so the table exists once. The
 * content rules (offices, seals, times, border order) live in
 * kv_movement_check; the role policy in kv_event_permitted.
 */
#include "core/movement.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

/* ======================================================================== */
/* Time                                                                     */
/* ======================================================================== */

/*
 * Days from civil, after the well-known era decomposition: shift the year to
 * start in March so that the leap day is the last day of the year, split
 * into 400-year eras (146,097 days each), then count days inside the era.
 */
int64_t kv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                          /* [0, 399] */
    int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;    /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

void kv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (mm <= 2);
    *m = mm;
    *d = dd;
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : dim[m - 1];
}

/* n ASCII digits at s into *out; false if any is not a digit. */
static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int kv_time_parse(const char *s, size_t len, struct kv_time *t, const char **why)
{
    const char *dummy;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    if (!why)
        why = &dummy;
    if (!s || !t) {
        *why = "no text";
        return KV_EINVAL;
    }
    if (len != 20 && len != 25) {
        *why = "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm";
        return KV_EPARSE;
    }
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se)) {
        *why = "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm";
        return KV_EPARSE;
    }
    if (len == 20) {
        if (s[19] != 'Z') {
            *why = "no time zone: end with Z or an offset such as +05:00";
            return KV_EPARSE;
        }
    } else {
        if ((s[19] != '+' && s[19] != '-') || !digits(s + 20, 2, &oh) || s[22] != ':' ||
            !digits(s + 23, 2, &om)) {
            *why = "offset not of the form +hh:mm or -hh:mm";
            return KV_EPARSE;
        }
        sign = s[19] == '+' ? 1 : -1;
    }
    if (mo < 1 || mo > 12) {
        *why = "month out of range";
        return KV_EPARSE;
    }
    if (d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo)) {
        *why = "day out of range for the month";
        return KV_EPARSE;
    }
    if (h > 23) {
        *why = "hour out of range";
        return KV_EPARSE;
    }
    if (mi > 59) {
        *why = "minute out of range";
        return KV_EPARSE;
    }
    if (se == 60) {
        *why = "leap second 60 not accepted";
        return KV_EPARSE;
    }
    if (se > 59) {
        *why = "second out of range";
        return KV_EPARSE;
    }
    if (oh > 23 || om > 59) {
        *why = "offset out of range";
        return KV_EPARSE;
    }
    int offset = sign * (oh * 60 + om);
    int64_t days = kv_days_from_civil(y, (unsigned)mo, (unsigned)d);
    t->epoch = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)offset * 60;
    t->offset_min = offset;
    memcpy(t->text, s, len);
    t->text[len] = '\0';
    return KV_OK;
}

int kv_time_set(struct kv_time *t, int64_t epoch, int offset_min)
{
    if (!t || offset_min < -1439 || offset_min > 1439)
        return KV_EINVAL;
    /* The range keeps every intermediate well inside int64. */
    if (epoch < -62167219200LL - 86400 || epoch > 253402300799LL + 86400)
        return KV_EINVAL;
    int64_t local = epoch + (int64_t)offset_min * 60;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t secs = local - days * 86400;
    int64_t y;
    unsigned m, d;
    kv_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return KV_EINVAL;
    unsigned hh = (unsigned)(secs / 3600), mi = (unsigned)(secs / 60 % 60),
             ss = (unsigned)(secs % 60);
    int n = snprintf(t->text, sizeof(t->text), "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)y, m, d,
                     hh, mi, ss);
    if (n != 19)
        return KV_EINVAL;
    if (offset_min == 0) {
        memcpy(t->text + 19, "Z", 2);
    } else {
        unsigned a = (unsigned)(offset_min < 0 ? -offset_min : offset_min);
        snprintf(t->text + 19, sizeof(t->text) - 19, "%c%02u:%02u", offset_min < 0 ? '-' : '+',
                 a / 60, a % 60);
    }
    t->epoch = epoch;
    t->offset_min = offset_min;
    return KV_OK;
}

/* ======================================================================== */
/* Names                                                                    */
/* ======================================================================== */

static const char *const state_names[KV_STATE__COUNT] = {
    [KV_STATE_NONE] = "none",
    [KV_STATE_ACCEPTED] = "accepted",
    [KV_STATE_UNDER_CONTROL] = "under_control",
    [KV_STATE_NOT_RELEASED] = "not_released",
    [KV_STATE_RELEASED] = "released",
    [KV_STATE_ARRIVED] = "arrived",
    [KV_STATE_DISCREPANCIES] = "discrepancies",
    [KV_STATE_WRITTEN_OFF] = "written_off",
    [KV_STATE_CANCELLED] = "cancelled",
    [KV_STATE_INVALID] = "invalid",
};

static const char *const event_names[KV_EVENT__COUNT] = {
    [KV_EVENT_UNKNOWN] = NULL,
    [KV_EVENT_LODGED] = "lodged",
    [KV_EVENT_CONTROL_DECISION] = "control_decision",
    [KV_EVENT_RELEASE] = "release",
    [KV_EVENT_NO_RELEASE] = "no_release",
    [KV_EVENT_AMENDMENT] = "amendment",
    [KV_EVENT_CANCELLATION] = "cancellation",
    [KV_EVENT_PRESENTED] = "presented",
    [KV_EVENT_CLEARED] = "cleared",
    [KV_EVENT_INCIDENT] = "incident",
    [KV_EVENT_ARRIVAL] = "arrival",
    [KV_EVENT_UNLOADING_REMARKS] = "unloading_remarks",
    [KV_EVENT_DISCREPANCIES_RESOLVED] = "discrepancies_resolved",
    [KV_EVENT_WRITE_OFF] = "write_off",
};

static const char *const role_names[KV_ACTOR__COUNT] = {
    [KV_ACTOR_NONE] = NULL,           [KV_ACTOR_TRADER] = "trader",
    [KV_ACTOR_OFFICER] = "officer",   [KV_ACTOR_ANALYST] = "analyst",
    [KV_ACTOR_OPERATOR] = "operator", [KV_ACTOR_NODE] = "node",
};

static bool name_eq(const char *name, const char *s, size_t len)
{
    return name && strlen(name) == len && memcmp(name, s, len) == 0;
}

const char *kv_state_name(enum kv_state s)
{
    return (unsigned)s < KV_STATE__COUNT ? state_names[s] : "invalid";
}

bool kv_state_from_name(const char *s, size_t len, enum kv_state *out)
{
    for (int i = KV_STATE_ACCEPTED; i <= KV_STATE_CANCELLED; i++) {
        if (name_eq(state_names[i], s, len)) {
            *out = (enum kv_state)i;
            return true;
        }
    }
    return false;
}

const char *kv_flag_name(unsigned bit)
{
    switch (bit) {
    case KV_FLAG_INCIDENT:
        return "incident";
    case KV_FLAG_DIVERSION:
        return "diversion";
    case KV_FLAG_UNLOADED:
        return "unloaded";
    case KV_FLAG_ENQUIRY:
        return "enquiry";
    }
    return NULL;
}

bool kv_state_final(enum kv_state s)
{
    return s == KV_STATE_NOT_RELEASED || s == KV_STATE_WRITTEN_OFF || s == KV_STATE_CANCELLED;
}

const char *kv_event_type_name(enum kv_event_type t)
{
    return (unsigned)t < KV_EVENT__COUNT ? event_names[t] : NULL;
}

bool kv_event_type_from_name(const char *s, size_t len, enum kv_event_type *out)
{
    for (int i = KV_EVENT_LODGED; i < KV_EVENT__COUNT; i++) {
        if (name_eq(event_names[i], s, len)) {
            *out = (enum kv_event_type)i;
            return true;
        }
    }
    return false;
}

const char *kv_actor_role_name(enum kv_actor_role r)
{
    return (unsigned)r < KV_ACTOR__COUNT ? role_names[r] : NULL;
}

bool kv_actor_role_from_name(const char *s, size_t len, enum kv_actor_role *out)
{
    for (int i = KV_ACTOR_TRADER; i < KV_ACTOR__COUNT; i++) {
        if (name_eq(role_names[i], s, len)) {
            *out = (enum kv_actor_role)i;
            return true;
        }
    }
    return false;
}

const char *kv_side_name(enum kv_side s)
{
    return s == KV_SIDE_EXIT ? "exit" : s == KV_SIDE_ENTRY ? "entry" : NULL;
}

const char *kv_initiator_name(enum kv_initiator i)
{
    return i == KV_BY_HOLDER ? "holder" : i == KV_BY_CUSTOMS ? "customs" : NULL;
}

const char *kv_seals_state_name(enum kv_seals_state s)
{
    switch (s) {
    case KV_SEALS_INTACT:
        return "intact";
    case KV_SEALS_BROKEN:
        return "broken";
    case KV_SEALS_REPLACED:
        return "replaced";
    case KV_SEALS_NONE:
        break;
    }
    return NULL;
}

/* ======================================================================== */
/* Facts                                                                    */
/* ======================================================================== */

void kv_facts_init(struct kv_movement_facts *f)
{
    memset(f, 0, sizeof(*f));
}

int kv_facts_add_seal(struct kv_movement_facts *f, const char *id, size_t len)
{
    if (!f || !id || len == 0 || len >= sizeof(f->seals.id[0]))
        return KV_EINVAL;
    if (f->seals.n >= KV_SEALS_MAX)
        return KV_ELIMIT;
    memcpy(f->seals.id[f->seals.n], id, len);
    f->seals.id[f->seals.n][len] = '\0';
    f->seals.n++;
    return KV_OK;
}

static int add_office(char (*list)[KV_OFFICE_LEN + 1], size_t *n, const char *ref8, size_t len)
{
    if (!ref8 || len != KV_OFFICE_LEN)
        return KV_EINVAL;
    if (*n >= KV_ITINERARY_MAX)
        return KV_ELIMIT;
    memcpy(list[*n], ref8, KV_OFFICE_LEN);
    list[*n][KV_OFFICE_LEN] = '\0';
    (*n)++;
    return KV_OK;
}

int kv_facts_add_transit(struct kv_movement_facts *f, const char *ref8, size_t len)
{
    return f ? add_office(f->transit, &f->n_transit, ref8, len) : KV_EINVAL;
}

int kv_facts_add_exit(struct kv_movement_facts *f, const char *ref8, size_t len)
{
    return f ? add_office(f->exit, &f->n_exit, ref8, len) : KV_EINVAL;
}

/* ======================================================================== */
/* The transition table                                                     */
/* ======================================================================== */

/* Destination control results are satisfactory: goods conform, seals intact
 * (or no seal state to report). */
static bool unloading_conform(const struct kv_event *ev)
{
    return ev->u.unloading.conform &&
           (!ev->u.unloading.has_seals_intact || ev->u.unloading.seals_intact);
}

/*
 * THE transition table: the state after `ev` in state `s` with `flags`, or
 * KV_STATE_INVALID when the event is out of sequence. docs/movement.md shows
 * the same table; tests/core/test_movement.c checks every cell.
 */
static enum kv_state next_state(enum kv_state s, unsigned flags, const struct kv_event *ev)
{
    const enum kv_state no = KV_STATE_INVALID;
    switch (ev->type) {
    case KV_EVENT_LODGED:
        return s == KV_STATE_NONE ? KV_STATE_ACCEPTED : no;
    case KV_EVENT_CONTROL_DECISION:
        if (s != KV_STATE_ACCEPTED)
            return no;
        return ev->u.control_decision.control ? KV_STATE_UNDER_CONTROL : KV_STATE_ACCEPTED;
    case KV_EVENT_RELEASE:
        return s == KV_STATE_ACCEPTED || s == KV_STATE_UNDER_CONTROL ? KV_STATE_RELEASED : no;
    case KV_EVENT_NO_RELEASE:
        return s == KV_STATE_ACCEPTED || s == KV_STATE_UNDER_CONTROL ? KV_STATE_NOT_RELEASED : no;
    case KV_EVENT_AMENDMENT:
        /* UCC Art. 173(2): not once the office has said it will examine the
         * goods, nor after release. */
        return s == KV_STATE_ACCEPTED ? KV_STATE_ACCEPTED : no;
    case KV_EVENT_CANCELLATION:
        if (ev->u.cancellation.by == KV_BY_HOLDER)
            /* UCC Art. 174(2): not while a control is announced; after
             * release only customs may invalidate (NCTS answers 92). */
            return s == KV_STATE_ACCEPTED ? KV_STATE_CANCELLED : no;
        if (ev->u.cancellation.by == KV_BY_CUSTOMS)
            return s == KV_STATE_ACCEPTED || s == KV_STATE_UNDER_CONTROL ||
                           s == KV_STATE_RELEASED || s == KV_STATE_ARRIVED ||
                           s == KV_STATE_DISCREPANCIES
                       ? KV_STATE_CANCELLED
                       : no;
        return no;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
    case KV_EVENT_INCIDENT:
        return s == KV_STATE_RELEASED ? KV_STATE_RELEASED : no;
    case KV_EVENT_ARRIVAL:
        return s == KV_STATE_RELEASED ? KV_STATE_ARRIVED : no;
    case KV_EVENT_UNLOADING_REMARKS:
        if (s != KV_STATE_ARRIVED || (flags & KV_FLAG_UNLOADED))
            return no;
        return unloading_conform(ev) ? KV_STATE_ARRIVED : KV_STATE_DISCREPANCIES;
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        return s == KV_STATE_DISCREPANCIES ? KV_STATE_ARRIVED : no;
    case KV_EVENT_WRITE_OFF:
        return s == KV_STATE_ARRIVED && (flags & KV_FLAG_UNLOADED) ? KV_STATE_WRITTEN_OFF : no;
    case KV_EVENT_UNKNOWN:
    case KV_EVENT__COUNT:
        break;
    }
    return no;
}

/* The flags after `ev` was accepted by the table. */
static unsigned next_flags(unsigned flags, const struct kv_event *ev)
{
    switch (ev->type) {
    case KV_EVENT_INCIDENT:
        return flags | KV_FLAG_INCIDENT;
    case KV_EVENT_ARRIVAL:
        return ev->u.arrival.diversion ? flags | KV_FLAG_DIVERSION : flags;
    case KV_EVENT_UNLOADING_REMARKS:
        return unloading_conform(ev) ? flags | KV_FLAG_UNLOADED : flags;
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        return flags | KV_FLAG_UNLOADED;
    default:
        return flags;
    }
}

/* Is a form of `type` allowed? For a cancellation, `holder` and `customs`
 * say which of the two initiators is. */
static bool type_allowed(enum kv_state s, unsigned flags, enum kv_event_type type, bool *holder,
                         bool *customs)
{
    struct kv_event ev;
    bool any = false;
    /* A blank event of the type; only the members next_state reads vary. */
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    switch (type) {
    case KV_EVENT_CONTROL_DECISION:
        for (int c = 0; c < 2; c++) {
            ev.u.control_decision.control = c;
            any |= next_state(s, flags, &ev) != KV_STATE_INVALID;
        }
        return any;
    case KV_EVENT_CANCELLATION:
        ev.u.cancellation.by = KV_BY_HOLDER;
        *holder = next_state(s, flags, &ev) != KV_STATE_INVALID;
        ev.u.cancellation.by = KV_BY_CUSTOMS;
        *customs = next_state(s, flags, &ev) != KV_STATE_INVALID;
        return *holder || *customs;
    case KV_EVENT_UNLOADING_REMARKS:
        for (int c = 0; c < 2; c++) {
            ev.u.unloading.conform = c;
            any |= next_state(s, flags, &ev) != KV_STATE_INVALID;
        }
        return any;
    default:
        return next_state(s, flags, &ev) != KV_STATE_INVALID;
    }
}

unsigned kv_movement_allowed(enum kv_state s, unsigned flags)
{
    unsigned mask = 0;
    for (int t = KV_EVENT_LODGED; t < KV_EVENT__COUNT; t++) {
        bool h = false, c = false;
        if (type_allowed(s, flags, (enum kv_event_type)t, &h, &c))
            mask |= KV_EVENT_BIT(t);
    }
    return mask;
}

/* Appends a NUL-terminated string to buf at *o, truncating safely. */
static void append(char *buf, size_t size, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (*o >= size)
        return;
    if (n > size - 1 - *o)
        n = size - 1 - *o;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
}

void kv_movement_allowed_text(enum kv_state s, unsigned flags, char *buf, size_t size)
{
    size_t o = 0;
    bool first = true;
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    for (int t = KV_EVENT_LODGED; t < KV_EVENT__COUNT; t++) {
        bool h = false, c = false;
        if (!type_allowed(s, flags, (enum kv_event_type)t, &h, &c))
            continue;
        if (!first)
            append(buf, size, &o, ", ");
        first = false;
        append(buf, size, &o, event_names[t]);
        if (t == KV_EVENT_CANCELLATION && !h)
            append(buf, size, &o, " by customs");
    }
    if (first)
        append(buf, size, &o, "none (final state)");
}

/* ======================================================================== */
/* The fold                                                                 */
/* ======================================================================== */

void kv_movement_init(struct kv_movement *mv)
{
    memset(mv, 0, sizeof(*mv));
    mv->state = KV_STATE_NONE;
}

static bool office_eq(const char *a, const char *b)
{
    return strncmp(a, b, KV_OFFICE_LEN + 1) == 0;
}

static struct kv_crossing *find_crossing(const struct kv_movement *mv, const char *office,
                                         enum kv_side side)
{
    for (size_t i = 0; i < mv->n_crossings; i++) {
        const struct kv_crossing *c = &mv->crossings[i];
        if (c->side == side && office_eq(c->office, office))
            return (struct kv_crossing *)c;
    }
    return NULL;
}

void kv_movement_apply(struct kv_movement *mv, const struct kv_event *ev)
{
    size_t index = mv->n_events++;
    if (mv->state == KV_STATE_INVALID)
        return;
    enum kv_state next = next_state(mv->state, mv->flags, ev);
    if (next == KV_STATE_INVALID) {
        mv->state = KV_STATE_INVALID;
        mv->invalid_at = index;
        return;
    }
    mv->flags = next_flags(mv->flags, ev);
    switch (ev->type) {
    case KV_EVENT_LODGED:
        mv->lodged_at = ev->time.epoch;
        break;
    case KV_EVENT_RELEASE:
        mv->released_at = ev->time.epoch;
        break;
    case KV_EVENT_ARRIVAL:
        mv->arrived_at = ev->time.epoch;
        memcpy(mv->arrival_office, ev->office, sizeof(mv->arrival_office));
        mv->arrival_office[KV_OFFICE_LEN] = '\0';
        break;
    case KV_EVENT_INCIDENT:
        mv->n_incidents++;
        if (ev->u.incident.seals_state == KV_SEALS_REPLACED)
            mv->seals_replaced = true;
        break;
    case KV_EVENT_PRESENTED: {
        struct kv_crossing *c = find_crossing(mv, ev->office, ev->u.crossing.side);
        if (!c && mv->n_crossings < KV_CROSSINGS_MAX) {
            c = &mv->crossings[mv->n_crossings++];
            memset(c, 0, sizeof(*c));
            memcpy(c->office, ev->office, KV_OFFICE_LEN);
            c->side = ev->u.crossing.side;
        }
        if (c && !c->presented) {
            c->presented = true;
            c->presented_at = ev->time.epoch;
        }
        break;
    }
    case KV_EVENT_CLEARED: {
        struct kv_crossing *c = find_crossing(mv, ev->office, ev->u.crossing.side);
        if (!c && mv->n_crossings < KV_CROSSINGS_MAX) {
            /* Only a log that skipped the check gets here; keep what it says. */
            c = &mv->crossings[mv->n_crossings++];
            memset(c, 0, sizeof(*c));
            memcpy(c->office, ev->office, KV_OFFICE_LEN);
            c->side = ev->u.crossing.side;
        }
        if (c && !c->cleared) {
            c->cleared = true;
            c->cleared_at = ev->time.epoch;
        }
        break;
    }
    default:
        break;
    }
    if (next != mv->state || ev->type == KV_EVENT_LODGED)
        mv->since = ev->time;
    mv->state = next;
}

void kv_movement_fold_into(const struct kv_event *log, size_t n, struct kv_movement *mv)
{
    kv_movement_init(mv);
    for (size_t i = 0; i < n; i++)
        kv_movement_apply(mv, &log[i]);
}

enum kv_state kv_movement_fold(const struct kv_event *log, size_t n, unsigned *flags)
{
    struct kv_movement mv;
    kv_movement_fold_into(log, n, &mv);
    if (flags)
        *flags = mv.flags;
    return mv.state;
}

bool kv_movement_overdue(enum kv_state s, int64_t limit, int64_t now)
{
    return s == KV_STATE_RELEASED && limit != 0 && now >= limit;
}

/* ======================================================================== */
/* The check                                                                */
/* ======================================================================== */

/* A quoted, escaped copy of a value for messages. */
static const char *q(char *buf, size_t size, const char *s)
{
    kv_quote(buf, size, s, strlen(s), 80);
    return buf;
}

/* The UTC text of an epoch, for messages. */
static const char *utc(char buf[KV_TIME_TEXT_MAX + 1], int64_t epoch)
{
    struct kv_time t;
    if (kv_time_set(&t, epoch, 0) != KV_OK) {
        snprintf(buf, KV_TIME_TEXT_MAX + 1, "%" PRId64, epoch);
        return buf;
    }
    memcpy(buf, t.text, sizeof(t.text));
    return buf;
}

/* The event as named in a refusal: "release", "cancellation" by the holder. */
static void event_label(const struct kv_event *ev, char *buf, size_t size)
{
    const char *name = kv_event_type_name(ev->type);
    if (ev->type == KV_EVENT_CANCELLATION && ev->u.cancellation.by != KV_BY_NONE)
        snprintf(buf, size, "\"cancellation\" by %s",
                 ev->u.cancellation.by == KV_BY_HOLDER ? "the holder" : "customs");
    else
        snprintf(buf, size, "\"%s\"", name ? name : "?");
}

static bool is_departure_event(enum kv_event_type t)
{
    switch (t) {
    case KV_EVENT_LODGED:
    case KV_EVENT_CONTROL_DECISION:
    case KV_EVENT_RELEASE:
    case KV_EVENT_NO_RELEASE:
    case KV_EVENT_AMENDMENT:
    case KV_EVENT_CANCELLATION:
    case KV_EVENT_WRITE_OFF:
        return true;
    default:
        return false;
    }
}

static bool seal_in(const struct kv_seal_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->id[i], id) == 0)
            return true;
    return false;
}

/* R-MOV-004: the seals found at release must be exactly the declared ones. */
static void check_seals(const struct kv_event *ev, const struct kv_movement_facts *facts,
                        struct kv_report *rep)
{
    const struct kv_seal_list *found = &ev->u.release.seals, *declared = &facts->seals;
    size_t missing = 0, extra = 0;
    char qb[128];
    for (size_t i = 0; i < declared->n; i++)
        missing += !seal_in(found, declared->id[i]);
    for (size_t i = 0; i < found->n; i++)
        extra += !seal_in(declared, found->id[i]);
    if (missing == 0 && extra == 0)
        return;
    kv_report_add(rep, "R-MOV-004", "/seals",
                  "seals found differ from the declaration: %zu declared seal(s) missing, "
                  "%zu not declared; the release is refused",
                  missing, extra);
    for (size_t i = 0; i < declared->n; i++)
        if (!seal_in(found, declared->id[i]))
            kv_report_add(rep, "R-MOV-004", "/seals", "declared seal \"%s\" was not found",
                          q(qb, sizeof(qb), declared->id[i]));
    for (size_t i = 0; i < found->n; i++) {
        if (!seal_in(declared, found->id[i])) {
            char ptr[32];
            snprintf(ptr, sizeof(ptr), "/seals/%zu", i);
            kv_report_add(rep, "R-MOV-004", ptr, "seal \"%s\" was not declared",
                          q(qb, sizeof(qb), found->id[i]));
        }
    }
}

/* R-MOV-005..007, 010: presented, then cleared, once per office and side. */
static void check_crossing(const struct kv_movement *mv, const struct kv_event *ev,
                           struct kv_report *rep)
{
    const struct kv_crossing *c = find_crossing(mv, ev->office, ev->u.crossing.side);
    const char *side = kv_side_name(ev->u.crossing.side);
    char tb[KV_TIME_TEXT_MAX + 1];
    if (ev->type == KV_EVENT_PRESENTED) {
        if (c && c->presented)
            kv_report_add(rep, "R-MOV-006", "/office", "already presented at %s (%s side) at %s",
                          ev->office, side, utc(tb, c->presented_at));
        else if (!c && mv->n_crossings >= KV_CROSSINGS_MAX)
            kv_report_add(rep, "R-MOV-010", "/office",
                          "too many border passages: at most %d office/side pairs per movement",
                          KV_CROSSINGS_MAX);
        return;
    }
    if (!c || !c->presented) {
        kv_report_add(rep, "R-MOV-005", "/type",
                      "cleared at %s (%s side) before being presented there", ev->office, side);
        return;
    }
    if (c->cleared) {
        kv_report_add(rep, "R-MOV-006", "/office", "already cleared at %s (%s side) at %s",
                      ev->office, side, utc(tb, c->cleared_at));
        return;
    }
    if (ev->time.epoch < c->presented_at)
        kv_report_add(rep, "R-MOV-007", "/time",
                      "cleared at %s before being presented at %s (%s side, presented %s)",
                      ev->time.text, ev->office, side, utc(tb, c->presented_at));
}

int kv_movement_check(const struct kv_movement *mv, struct kv_event *next,
                      const struct kv_movement_facts *facts, struct kv_report *rep)
{
    char label[64], allowed[200];
    if (!mv || !next || !facts || !rep)
        return KV_EINVAL;
    if ((unsigned)mv->state >= KV_STATE__COUNT)
        return KV_EINVAL;
    if (mv->state == KV_STATE_INVALID) {
        kv_report_add(rep, "R-MOV-001", "/type",
                      "the movement's log is invalid (event %zu is out of sequence); no event "
                      "can be added",
                      mv->invalid_at);
        return KV_REFUSED_SEQUENCE;
    }
    if (next->type <= KV_EVENT_UNKNOWN || next->type >= KV_EVENT__COUNT)
        return KV_EINVAL;

    /* 1. Sequence: the transition table. */
    if (next_state(mv->state, mv->flags, next) == KV_STATE_INVALID) {
        event_label(next, label, sizeof(label));
        kv_movement_allowed_text(mv->state, mv->flags, allowed, sizeof(allowed));
        kv_report_add(rep, "R-MOV-001", "/type",
                      "event %s is not allowed in state \"%s\" (NCTS 92, message out of "
                      "sequence); allowed: %s",
                      label, kv_state_name(mv->state), allowed);
        return KV_REFUSED_SEQUENCE;
    }

    /* 2. Content rules. */
    size_t before = rep->total;
    if (mv->state != KV_STATE_NONE && next->time.epoch < mv->since.epoch)
        kv_report_add(rep, "R-MOV-008", "/time",
                      "time %s is earlier than %s, when the movement became \"%s\"",
                      next->time.text, mv->since.text, kv_state_name(mv->state));
    if (is_departure_event(next->type) && !office_eq(next->office, facts->departure))
        kv_report_add(rep, "R-MOV-003", "/office",
                      "office %s is not the office of departure %s: \"%s\" is recorded there",
                      next->office, facts->departure, kv_event_type_name(next->type));
    switch (next->type) {
    case KV_EVENT_RELEASE:
        check_seals(next, facts, rep);
        if (strcmp(next->u.release.control_result, "A3") == 0 && !facts->simplified)
            kv_report_add(rep, "R-MOV-011", "/controlResult",
                          "control result A3 (simplified procedure) needs an authorised "
                          "consignor (authorisation C521, NCTS rule R0910)");
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
        check_crossing(mv, next, rep);
        break;
    case KV_EVENT_ARRIVAL:
        next->u.arrival.diversion = !office_eq(next->office, facts->destination);
        break;
    case KV_EVENT_UNLOADING_REMARKS:
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        if (next->type == KV_EVENT_UNLOADING_REMARKS && !next->u.unloading.has_seals_intact &&
            (facts->seals.n > 0 || mv->seals_replaced))
            kv_report_add(rep, "R-MOV-012", "/sealsIntact",
                          "sealsIntact is required: the movement travels under seal");
        if (!office_eq(next->office, mv->arrival_office))
            kv_report_add(rep, "R-MOV-009", "/office",
                          "office %s is not the office where the goods arrived (%s)", next->office,
                          mv->arrival_office);
        break;
    default:
        break;
    }
    return rep->total == before ? KV_ALLOWED : KV_REFUSED_RULE;
}

/* Copies the problems of `from` into `to`, prefixing pointers with /events/i. */
static void copy_prefixed(struct kv_report *to, const struct kv_report *from, size_t i)
{
    for (size_t k = 0; k < from->count; k++) {
        char ptr[KV_POINTER_MAX + 32]; /* kv_report_add cuts it to KV_POINTER_MAX */
        snprintf(ptr, sizeof(ptr), "/events/%zu%s", i, from->items[k].pointer);
        kv_report_add(to, from->items[k].rule, ptr, "%s", from->items[k].message);
    }
    if (from->total > from->count || from->oom)
        kv_report_add(to, "R-MOV-000", "", "%zu further problem(s) not kept",
                      from->total - from->count);
}

int kv_movement_replay(const struct kv_event *log, size_t n, const struct kv_movement_facts *facts,
                       struct kv_movement *mv, struct kv_report *rep)
{
    if (!mv || !facts || !rep || (n > 0 && !log))
        return KV_EINVAL;
    kv_movement_init(mv);
    for (size_t i = 0; i < n; i++) {
        struct kv_event ev;
        struct kv_report r;
        memcpy(&ev, &log[i], sizeof(ev)); /* shallow: the check writes only arrival.diversion */
        kv_report_init(&r);
        int v = kv_movement_check(mv, &ev, facts, &r);
        if (v == KV_ALLOWED && ev.type == KV_EVENT_ARRIVAL &&
            ev.u.arrival.diversion != log[i].u.arrival.diversion) {
            kv_report_add(&r, "R-MOV-013", "/diversion",
                          "stored diversion flag (%s) disagrees with the declared destination %s",
                          log[i].u.arrival.diversion ? "true" : "false", facts->destination);
            v = KV_REFUSED_RULE;
        }
        copy_prefixed(rep, &r, i);
        kv_report_release(&r);
        if (v != KV_ALLOWED)
            return v;
        kv_movement_apply(mv, &log[i]);
    }
    return KV_ALLOWED;
}

/* ======================================================================== */
/* Who may do what                                                          */
/* ======================================================================== */

unsigned kv_movement_relation(enum kv_actor_role role, const char *party, const char *office,
                              bool office_is_des, const struct kv_event *ev,
                              const struct kv_movement_facts *facts)
{
    unsigned rel = 0;
    if (role == KV_ACTOR_TRADER && party && party[0] && facts && strcmp(party, facts->holder) == 0)
        rel |= KV_REL_HOLDER;
    if (role == KV_ACTOR_OFFICER && office && strlen(office) == KV_OFFICE_LEN) {
        if (facts && office_eq(office, facts->departure))
            rel |= KV_REL_DEPARTURE;
        if (office_is_des || (facts && office_eq(office, facts->destination)))
            rel |= KV_REL_DESTINATION;
        if (ev && office_eq(office, ev->office))
            rel |= KV_REL_EVENT_OFFICE;
    }
    return rel;
}

bool kv_event_permitted(const struct kv_event *ev, enum kv_actor_role role, unsigned rel,
                        struct kv_report *rep)
{
    const unsigned dep = KV_REL_DEPARTURE | KV_REL_EVENT_OFFICE;
    const unsigned des = KV_REL_DESTINATION | KV_REL_EVENT_OFFICE;
    const char *who = NULL; /* who may, when refused */
    bool ok = false;
    if (!ev)
        return false;
    switch (ev->type) {
    case KV_EVENT_LODGED:
        ok = role == KV_ACTOR_NODE;
        who = "only the node records \"lodged\", when it accepts the declaration";
        break;
    case KV_EVENT_CONTROL_DECISION:
    case KV_EVENT_RELEASE:
    case KV_EVENT_NO_RELEASE:
    case KV_EVENT_WRITE_OFF:
        ok = role == KV_ACTOR_OFFICER && (rel & dep) == dep;
        who = "only an officer of the office of departure, recording at that office, may";
        break;
    case KV_EVENT_AMENDMENT:
        ok = role == KV_ACTOR_TRADER && (rel & KV_REL_HOLDER);
        who = "only the holder of the transit procedure may";
        break;
    case KV_EVENT_CANCELLATION:
        if (ev->u.cancellation.by == KV_BY_HOLDER) {
            ok = role == KV_ACTOR_TRADER && (rel & KV_REL_HOLDER);
            who = "a cancellation initiated by the holder may come only from the holder";
        } else {
            ok = role == KV_ACTOR_OFFICER && (rel & dep) == dep;
            who = "a cancellation initiated by customs may come only from an officer of the "
                  "office of departure";
        }
        break;
    case KV_EVENT_PRESENTED:
    case KV_EVENT_CLEARED:
    case KV_EVENT_INCIDENT:
        ok = role == KV_ACTOR_OFFICER && (rel & KV_REL_EVENT_OFFICE);
        who = "only an officer of the office named in the event may";
        break;
    case KV_EVENT_ARRIVAL:
    case KV_EVENT_UNLOADING_REMARKS:
    case KV_EVENT_DISCREPANCIES_RESOLVED:
        ok = role == KV_ACTOR_OFFICER && (rel & des) == des;
        who = "only an officer of an office of destination, recording at that office, may";
        break;
    case KV_EVENT_UNKNOWN:
    case KV_EVENT__COUNT:
        who = "nobody may record an unknown event";
        break;
    }
    if (!ok && rep) {
        const char *rn = kv_actor_role_name(role), *tn = kv_event_type_name(ev->type);
        kv_report_add(rep, "R-ROLE-001", "", "%s%s%s may not record \"%s\": %s",
                      rn ? "role \"" : "an unauthenticated caller", rn ? rn : "", rn ? "\"" : "",
                      tn ? tn : "?", who);
    }
    return ok;
}
