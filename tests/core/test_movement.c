/*
 * test_movement.c — the movement lifecycle: every state × every event form
 * (allowed, or the exact refusal), complete logs, the content rules, the
 * role policy, times and names.
 *
 * Offices: departure KZ000100 and the GE exit office GE000500 are made up
 * (no published KZ/GE refs, DOMAIN.md §2.7); TR080200 (Sarp), TR343100
 * (Ambarlı) and TR041900 (Kars) are real TR offices from the EU CS/RD2 list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/movement.h"
#include "core/report.h"

#define DEP      "KZ000100"
#define DES      "TR343100"
#define GE_EXIT  "GE000500"
#define TR_ENTRY "TR080200"
#define KARS     "TR041900"
#define HOLDER   "KZ123456789012"

/* 2025-03-01T08:00:00Z */
static const int64_t T0 = 1740816000;

/* ------------------------------------------------------------------------ */
/* Building events and logs                                                 */
/* ------------------------------------------------------------------------ */

static void facts_make(struct kv_movement_facts *f)
{
    kv_facts_init(f);
    memcpy(f->holder, HOLDER, sizeof(HOLDER));
    memcpy(f->departure, DEP, 9);
    memcpy(f->destination, DES, 9);
    assert_int_equal(kv_facts_add_exit(f, GE_EXIT, 8), KV_OK);
    assert_int_equal(kv_facts_add_transit(f, TR_ENTRY, 8), KV_OK);
    assert_int_equal(kv_facts_add_seal(f, "KZ1234567", 9), KV_OK);
    assert_int_equal(kv_facts_add_seal(f, "KZ1234568", 9), KV_OK);
}

static void ev_init(struct kv_event *e, enum kv_event_type t, int minute, const char *office)
{
    memset(e, 0, sizeof(*e));
    e->type = t;
    /* The office's own offset: +05:00 in Kazakhstan, +03:00 in Türkiye. */
    assert_int_equal(kv_time_set(&e->time, T0 + minute * 60, office[0] == 'K' ? 300 : 180), KV_OK);
    memcpy(e->office, office, 8);
    e->office[8] = '\0';
}

static void set_text(char *dst, size_t cap, const char *s)
{
    assert_true(strlen(s) < cap);
    memcpy(dst, s, strlen(s) + 1);
}

static void add_seal(struct kv_seal_list *l, const char *id)
{
    assert_true(l->n < KV_SEALS_MAX);
    set_text(l->id[l->n++], sizeof(l->id[0]), id);
}

/* Event forms: one constructor per probe column. */
enum form {
    F_LODGED,
    F_CONTROL_YES,
    F_CONTROL_NO,
    F_RELEASE,
    F_NO_RELEASE,
    F_AMENDMENT,
    F_CANCEL_HOLDER,
    F_CANCEL_CUSTOMS,
    F_PRESENTED,
    F_CLEARED,
    F_INCIDENT,
    F_ARRIVAL,
    F_UNLOAD_OK,
    F_UNLOAD_BAD,
    F_RESOLVED,
    F_WRITE_OFF,
    F__COUNT
};

static const char *const form_label[F__COUNT] = {
    "\"lodged\"",
    "\"control_decision\"",
    "\"control_decision\"",
    "\"release\"",
    "\"no_release\"",
    "\"amendment\"",
    "\"cancellation\" by the holder",
    "\"cancellation\" by customs",
    "\"presented\"",
    "\"cleared\"",
    "\"incident\"",
    "\"arrival\"",
    "\"unloading_remarks\"",
    "\"unloading_remarks\"",
    "\"discrepancies_resolved\"",
    "\"write_off\"",
};

static void make(struct kv_event *e, enum form f, int minute)
{
    switch (f) {
    case F_LODGED:
        ev_init(e, KV_EVENT_LODGED, minute, DEP);
        break;
    case F_CONTROL_YES:
    case F_CONTROL_NO:
        ev_init(e, KV_EVENT_CONTROL_DECISION, minute, DEP);
        e->u.control_decision.control = f == F_CONTROL_YES;
        break;
    case F_RELEASE:
        ev_init(e, KV_EVENT_RELEASE, minute, DEP);
        memcpy(e->u.release.control_result, "A1", 3);
        add_seal(&e->u.release.seals, "KZ1234568");
        add_seal(&e->u.release.seals, "KZ1234567");
        break;
    case F_NO_RELEASE:
        ev_init(e, KV_EVENT_NO_RELEASE, minute, DEP);
        set_text(e->u.no_release.reason, sizeof(e->u.no_release.reason), "guarantee not valid");
        break;
    case F_AMENDMENT:
        ev_init(e, KV_EVENT_AMENDMENT, minute, DEP);
        break;
    case F_CANCEL_HOLDER:
    case F_CANCEL_CUSTOMS:
        ev_init(e, KV_EVENT_CANCELLATION, minute, DEP);
        e->u.cancellation.by = f == F_CANCEL_HOLDER ? KV_BY_HOLDER : KV_BY_CUSTOMS;
        set_text(e->u.cancellation.reason, sizeof(e->u.cancellation.reason), "goods not sent");
        break;
    case F_PRESENTED:
        ev_init(e, KV_EVENT_PRESENTED, minute, GE_EXIT);
        e->u.crossing.side = KV_SIDE_EXIT;
        break;
    case F_CLEARED: /* at the entry office every released prefix presented at */
        ev_init(e, KV_EVENT_CLEARED, minute, TR_ENTRY);
        e->u.crossing.side = KV_SIDE_ENTRY;
        break;
    case F_INCIDENT:
        ev_init(e, KV_EVENT_INCIDENT, minute, GE_EXIT);
        e->u.incident.code = '5';
        set_text(e->u.incident.text, sizeof(e->u.incident.text), "driver taken ill");
        set_text(e->u.incident.place, sizeof(e->u.incident.place), "Batumi");
        e->u.incident.seals_state = KV_SEALS_INTACT;
        break;
    case F_ARRIVAL:
        ev_init(e, KV_EVENT_ARRIVAL, minute, DES);
        break;
    case F_UNLOAD_OK:
    case F_UNLOAD_BAD:
        ev_init(e, KV_EVENT_UNLOADING_REMARKS, minute, DES);
        e->u.unloading.conform = f == F_UNLOAD_OK;
        e->u.unloading.has_seals_intact = true;
        e->u.unloading.seals_intact = true;
        if (f == F_UNLOAD_BAD)
            set_text(e->u.unloading.discrepancies, sizeof(e->u.unloading.discrepancies),
                     "2 cartons missing");
        break;
    case F_RESOLVED:
        ev_init(e, KV_EVENT_DISCREPANCIES_RESOLVED, minute, DES);
        set_text(e->u.resolved.text, sizeof(e->u.resolved.text), "cartons found in the depot");
        break;
    case F_WRITE_OFF:
        ev_init(e, KV_EVENT_WRITE_OFF, minute, DEP);
        break;
    case F__COUNT:
        fail();
    }
}

#define LOG_MAX 80

struct log {
    size_t n;
    struct kv_event ev[LOG_MAX];
};

static struct log *log_new(void)
{
    struct log *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    return l;
}

static struct kv_event *log_push(struct log *l)
{
    assert_true(l->n < LOG_MAX);
    return &l->ev[l->n++];
}

static void log_form(struct log *l, enum form f, int minute)
{
    make(log_push(l), f, minute);
}

static void log_cross(struct log *l, enum kv_event_type t, int minute, const char *office,
                      enum kv_side side)
{
    struct kv_event *e = log_push(l);
    ev_init(e, t, minute, office);
    e->u.crossing.side = side;
}

/* Checks then applies each event, as a node does; fails the test on a refusal. */
static void run_log(const struct log *l, const struct kv_movement_facts *f, struct kv_movement *mv)
{
    kv_movement_init(mv);
    for (size_t i = 0; i < l->n; i++) {
        struct kv_report r;
        struct kv_event e = l->ev[i];
        kv_report_init(&r);
        int v = kv_movement_check(mv, &e, f, &r);
        if (v != KV_ALLOWED)
            fail_msg("event %zu (%s) refused: %s", i, kv_event_type_name(e.type),
                     r.count ? r.items[0].message : "?");
        kv_report_release(&r);
        kv_movement_apply(mv, &e);
    }
}

/* ------------------------------------------------------------------------ */
/* Every state × every event form                                           */
/* ------------------------------------------------------------------------ */

enum row {
    R_NONE,
    R_ACCEPTED,
    R_UNDER_CONTROL,
    R_NOT_RELEASED,
    R_RELEASED,
    R_ARRIVED,
    R_ARRIVED_UNLOADED,
    R_DISCREPANCIES,
    R_WRITTEN_OFF,
    R_CANCELLED,
    R__COUNT
};

static const char *const row_name[R__COUNT] = {
    "none",    "accepted",         "under_control", "not_released", "released",
    "arrived", "arrived+unloaded", "discrepancies", "written_off",  "cancelled",
};

/* The state each row's prefix must fold to. */
static const enum kv_state row_state[R__COUNT] = {
    KV_STATE_NONE,        KV_STATE_ACCEPTED,  KV_STATE_UNDER_CONTROL, KV_STATE_NOT_RELEASED,
    KV_STATE_RELEASED,    KV_STATE_ARRIVED,   KV_STATE_ARRIVED,       KV_STATE_DISCREPANCIES,
    KV_STATE_WRITTEN_OFF, KV_STATE_CANCELLED,
};

static void row_prefix(struct log *l, enum row r)
{
    l->n = 0;
    if (r == R_NONE)
        return;
    log_form(l, F_LODGED, 0);
    switch (r) {
    case R_UNDER_CONTROL:
        log_form(l, F_CONTROL_YES, 10);
        return;
    case R_NOT_RELEASED:
        log_form(l, F_NO_RELEASE, 10);
        return;
    case R_CANCELLED:
        log_form(l, F_CANCEL_HOLDER, 10);
        return;
    case R_ACCEPTED:
        return;
    default:
        break;
    }
    log_form(l, F_RELEASE, 10);
    log_cross(l, KV_EVENT_PRESENTED, 20, TR_ENTRY, KV_SIDE_ENTRY);
    if (r == R_RELEASED)
        return;
    log_form(l, F_ARRIVAL, 30);
    if (r == R_ARRIVED)
        return;
    log_form(l, r == R_DISCREPANCIES ? F_UNLOAD_BAD : F_UNLOAD_OK, 40);
    if (r == R_WRITTEN_OFF)
        log_form(l, F_WRITE_OFF, 50);
}

/*
 * The transition table, as docs/movement.md shows it: the state after the
 * event, or "-" when it is refused as out of sequence.
 */
#define NO  "-"
#define ACC "accepted"
#define UC  "under_control"
#define NR  "not_released"
#define REL "released"
#define ARR "arrived"
#define DIS "discrepancies"
#define WO  "written_off"
#define CAN "cancelled"
/* clang-format off */
static const char *const expect[R__COUNT][F__COUNT] = {
    /*                     lodged ctl+ ctl- rel  norel amend cnclH cnclC pres clr  inc  arr  unl+ unl- resol wroff */
    [R_NONE]             = {ACC,  NO,  NO,  NO,  NO,   NO,   NO,   NO,   NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
    [R_ACCEPTED]         = {NO,   UC,  ACC, REL, NR,   ACC,  CAN,  CAN,  NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
    [R_UNDER_CONTROL]    = {NO,   NO,  NO,  REL, NR,   NO,   NO,   CAN,  NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
    [R_NOT_RELEASED]     = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   NO,   NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
    [R_RELEASED]         = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   CAN,  REL, REL, REL, ARR, NO,  NO,  NO,   NO},
    [R_ARRIVED]          = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   CAN,  NO,  NO,  NO,  NO,  ARR, DIS, NO,   NO},
    [R_ARRIVED_UNLOADED] = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   CAN,  NO,  NO,  NO,  NO,  NO,  NO,  NO,   WO},
    [R_DISCREPANCIES]    = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   CAN,  NO,  NO,  NO,  NO,  NO,  NO,  ARR,  NO},
    [R_WRITTEN_OFF]      = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   NO,   NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
    [R_CANCELLED]        = {NO,   NO,  NO,  NO,  NO,   NO,   NO,   NO,   NO,  NO,  NO,  NO,  NO,  NO,  NO,   NO},
};
/* clang-format on */

/* The allowed list each refusal must name, per row. */
static const char *const expect_allowed[R__COUNT] = {
    [R_NONE] = "lodged",
    [R_ACCEPTED] = "control_decision, release, no_release, amendment, cancellation",
    [R_UNDER_CONTROL] = "release, no_release, cancellation by customs",
    [R_NOT_RELEASED] = "none (final state)",
    [R_RELEASED] = "cancellation by customs, presented, cleared, incident, arrival",
    [R_ARRIVED] = "cancellation by customs, unloading_remarks",
    [R_ARRIVED_UNLOADED] = "cancellation by customs, write_off",
    [R_DISCREPANCIES] = "cancellation by customs, discrepancies_resolved",
    [R_WRITTEN_OFF] = "none (final state)",
    [R_CANCELLED] = "none (final state)",
};

static const enum kv_event_type form_type[F__COUNT] = {
    KV_EVENT_LODGED,
    KV_EVENT_CONTROL_DECISION,
    KV_EVENT_CONTROL_DECISION,
    KV_EVENT_RELEASE,
    KV_EVENT_NO_RELEASE,
    KV_EVENT_AMENDMENT,
    KV_EVENT_CANCELLATION,
    KV_EVENT_CANCELLATION,
    KV_EVENT_PRESENTED,
    KV_EVENT_CLEARED,
    KV_EVENT_INCIDENT,
    KV_EVENT_ARRIVAL,
    KV_EVENT_UNLOADING_REMARKS,
    KV_EVENT_UNLOADING_REMARKS,
    KV_EVENT_DISCREPANCIES_RESOLVED,
    KV_EVENT_WRITE_OFF,
};

static void test_every_state_every_event(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    size_t allowed_cells = 0, cells = 0;
    facts_make(&f);
    for (int r = 0; r < R__COUNT; r++) {
        struct kv_movement mv;
        row_prefix(l, (enum row)r);
        run_log(l, &f, &mv);
        assert_int_equal(mv.state, row_state[r]);
        assert_int_equal(kv_movement_fold(l->ev, l->n, NULL), row_state[r]);

        char text[200];
        kv_movement_allowed_text(mv.state, mv.flags, text, sizeof(text));
        assert_string_equal(text, expect_allowed[r]);

        unsigned mask = 0;
        for (int c = 0; c < F__COUNT; c++) {
            struct kv_event e;
            struct kv_report rep;
            make(&e, (enum form)c, 100);
            kv_report_init(&rep);
            int v = kv_movement_check(&mv, &e, &f, &rep);
            cells++;
            if (strcmp(expect[r][c], "-") == 0) {
                char want[KV_MESSAGE_MAX];
                snprintf(want, sizeof(want),
                         "event %s is not allowed in state \"%s\" (NCTS 92, message out of "
                         "sequence); allowed: %s",
                         form_label[c], kv_state_name(mv.state), expect_allowed[r]);
                if (v != KV_REFUSED_SEQUENCE)
                    fail_msg("%s × %s: expected a refusal, got %d", row_name[r], form_label[c], v);
                assert_int_equal(rep.count, 1);
                assert_string_equal(rep.items[0].rule, "R-MOV-001");
                assert_string_equal(rep.items[0].pointer, "/type");
                assert_string_equal(rep.items[0].message, want);
                /* The fold agrees: the same event makes the log invalid. */
                struct kv_movement m2 = mv;
                kv_movement_apply(&m2, &e);
                assert_int_equal(m2.state, KV_STATE_INVALID);
                assert_int_equal(m2.invalid_at, l->n);
            } else {
                if (v != KV_ALLOWED)
                    fail_msg("%s × %s: expected %s, refused: %s", row_name[r], form_label[c],
                             expect[r][c], rep.count ? rep.items[0].message : "?");
                assert_int_equal(rep.count, 0);
                struct kv_movement m2 = mv;
                kv_movement_apply(&m2, &e);
                enum kv_state want;
                assert_true(kv_state_from_name(expect[r][c], strlen(expect[r][c]), &want));
                assert_int_equal(m2.state, want);
                mask |= KV_EVENT_BIT(form_type[c]);
                allowed_cells++;
            }
            kv_report_release(&rep);
        }
        assert_int_equal(kv_movement_allowed(mv.state, mv.flags), mask);
    }
    assert_int_equal(cells, 160);
    assert_int_equal(allowed_cells, 23);
    free(l);
}

/* The table alone (no facts): the fold of a prefix plus one refused event. */
static void test_fold_invalid_is_sticky(void **state)
{
    (void)state;
    struct log *l = log_new();
    unsigned flags = 99;
    assert_int_equal(kv_movement_fold(l->ev, 0, &flags), KV_STATE_NONE);
    assert_int_equal(flags, 0);
    log_form(l, F_RELEASE, 0); /* release before lodged */
    log_form(l, F_LODGED, 1);
    struct kv_movement mv;
    kv_movement_fold_into(l->ev, l->n, &mv);
    assert_int_equal(mv.state, KV_STATE_INVALID);
    assert_int_equal(mv.invalid_at, 0);
    assert_int_equal(mv.n_events, 2);
    struct kv_movement_facts f;
    facts_make(&f);
    struct kv_report rep;
    kv_report_init(&rep);
    struct kv_event e;
    make(&e, F_LODGED, 2);
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_REFUSED_SEQUENCE);
    assert_string_equal(rep.items[0].rule, "R-MOV-001");
    kv_report_release(&rep);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Complete logs                                                            */
/* ------------------------------------------------------------------------ */

static void expect_fold(const struct log *l, const struct kv_movement_facts *f, enum kv_state want,
                        unsigned want_flags)
{
    struct kv_movement mv;
    struct kv_report rep;
    unsigned flags;
    run_log(l, f, &mv);
    assert_int_equal(mv.state, want);
    assert_int_equal(mv.flags, want_flags);
    assert_int_equal(kv_movement_fold(l->ev, l->n, &flags), want);
    assert_int_equal(flags, want_flags);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_replay(l->ev, l->n, f, &mv, &rep), KV_ALLOWED);
    assert_int_equal(rep.total, 0);
    assert_int_equal(mv.state, want);
    kv_report_release(&rep);
}

/* Release, the GE exit and TR entry at the border, arrival, remarks, write-off. */
static void normal_log(struct log *l)
{
    l->n = 0;
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    log_cross(l, KV_EVENT_PRESENTED, 2000, GE_EXIT, KV_SIDE_EXIT);
    log_cross(l, KV_EVENT_CLEARED, 2090, GE_EXIT, KV_SIDE_EXIT);
    log_cross(l, KV_EVENT_PRESENTED, 2100, TR_ENTRY, KV_SIDE_ENTRY);
    log_cross(l, KV_EVENT_CLEARED, 2400, TR_ENTRY, KV_SIDE_ENTRY);
    log_form(l, F_ARRIVAL, 3000);
    log_form(l, F_UNLOAD_OK, 3100);
    log_form(l, F_WRITE_OFF, 3200);
}

static void test_log_normal(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    normal_log(l);
    expect_fold(l, &f, KV_STATE_WRITTEN_OFF, KV_FLAG_UNLOADED);

    struct kv_movement mv;
    kv_movement_fold_into(l->ev, l->n, &mv);
    assert_int_equal(mv.n_crossings, 2);
    assert_string_equal(mv.crossings[0].office, GE_EXIT);
    assert_int_equal(mv.crossings[0].side, KV_SIDE_EXIT);
    assert_int_equal(mv.crossings[0].cleared_at - mv.crossings[0].presented_at, 90 * 60);
    assert_int_equal(mv.crossings[1].cleared_at - mv.crossings[1].presented_at, 300 * 60);
    assert_int_equal(mv.released_at, T0 + 30 * 60);
    assert_int_equal(mv.arrived_at, T0 + 3000 * 60);
    assert_string_equal(mv.arrival_office, DES);
    assert_string_equal(mv.since.text, "2025-03-03T18:20:00+05:00"); /* the write-off: 13:20Z */
    /* Prefixes fold to the states on the way. */
    static const enum kv_state way[] = {
        KV_STATE_NONE,     KV_STATE_ACCEPTED,    KV_STATE_RELEASED, KV_STATE_RELEASED,
        KV_STATE_RELEASED, KV_STATE_RELEASED,    KV_STATE_RELEASED, KV_STATE_ARRIVED,
        KV_STATE_ARRIVED,  KV_STATE_WRITTEN_OFF,
    };
    for (size_t n = 0; n <= l->n; n++)
        assert_int_equal(kv_movement_fold(l->ev, n, NULL), way[n]);
    free(l);
}

static void test_log_control_then_release(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_CONTROL_YES, 5);
    assert_int_equal(kv_movement_fold(l->ev, l->n, NULL), KV_STATE_UNDER_CONTROL);
    log_form(l, F_RELEASE, 120);
    expect_fold(l, &f, KV_STATE_RELEASED, 0);

    /* A "no control" decision keeps the movement accepted. */
    l->n = 0;
    log_form(l, F_LODGED, 0);
    log_form(l, F_CONTROL_NO, 5);
    expect_fold(l, &f, KV_STATE_ACCEPTED, 0);
    log_form(l, F_RELEASE, 6);
    expect_fold(l, &f, KV_STATE_RELEASED, 0);
    free(l);
}

static void test_log_no_release(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_CONTROL_YES, 5);
    log_form(l, F_NO_RELEASE, 60);
    expect_fold(l, &f, KV_STATE_NOT_RELEASED, 0);
    assert_true(kv_state_final(KV_STATE_NOT_RELEASED));
    assert_int_equal(kv_movement_allowed(KV_STATE_NOT_RELEASED, 0), 0);
    free(l);
}

static void test_log_incident(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    struct kv_event *e = log_push(l);
    ev_init(e, KV_EVENT_INCIDENT, 1500, GE_EXIT);
    e->u.incident.code = '2';
    set_text(e->u.incident.text, sizeof(e->u.incident.text), "seal cut during a road check");
    set_text(e->u.incident.place, sizeof(e->u.incident.place), "Khashuri");
    e->u.incident.has_gnss = true;
    set_text(e->u.incident.latitude, sizeof(e->u.incident.latitude), "41.99381");
    set_text(e->u.incident.longitude, sizeof(e->u.incident.longitude), "43.59881");
    e->u.incident.seals_state = KV_SEALS_REPLACED;
    add_seal(&e->u.incident.new_seals, "GE0001122");
    log_form(l, F_ARRIVAL, 3000);
    log_form(l, F_UNLOAD_OK, 3100);
    expect_fold(l, &f, KV_STATE_ARRIVED, KV_FLAG_INCIDENT | KV_FLAG_UNLOADED);
    struct kv_movement mv;
    kv_movement_fold_into(l->ev, l->n, &mv);
    assert_int_equal(mv.n_incidents, 1);
    assert_true(mv.seals_replaced);
    log_form(l, F_WRITE_OFF, 3200);
    expect_fold(l, &f, KV_STATE_WRITTEN_OFF, KV_FLAG_INCIDENT | KV_FLAG_UNLOADED);

    /* Without declared seals, the replaced seals still make sealsIntact required. */
    struct kv_movement_facts f2 = f;
    f2.seals.n = 0;
    l->n = 4; /* up to the arrival */
    l->ev[1].u.release.seals.n = 0;
    run_log(l, &f2, &mv);
    struct kv_event u;
    make(&u, F_UNLOAD_OK, 3100);
    u.u.unloading.has_seals_intact = false;
    struct kv_report rep;
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &u, &f2, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-012");
    kv_report_release(&rep);
    free(l);
}

static void test_log_discrepancies_resolved(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    log_form(l, F_ARRIVAL, 3000);
    log_form(l, F_UNLOAD_BAD, 3100);
    expect_fold(l, &f, KV_STATE_DISCREPANCIES, 0);
    log_form(l, F_RESOLVED, 4000);
    expect_fold(l, &f, KV_STATE_ARRIVED, KV_FLAG_UNLOADED);
    log_form(l, F_WRITE_OFF, 4100);
    expect_fold(l, &f, KV_STATE_WRITTEN_OFF, KV_FLAG_UNLOADED);

    /* Broken seals with conforming goods are discrepancies too. */
    l->n = 3;
    log_form(l, F_UNLOAD_OK, 3100);
    l->ev[3].u.unloading.seals_intact = false;
    set_text(l->ev[3].u.unloading.discrepancies, sizeof(l->ev[3].u.unloading.discrepancies),
             "seal KZ1234568 broken");
    expect_fold(l, &f, KV_STATE_DISCREPANCIES, 0);
    free(l);
}

static void test_log_cancellation_before_release(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_AMENDMENT, 10);
    log_form(l, F_CANCEL_HOLDER, 20);
    expect_fold(l, &f, KV_STATE_CANCELLED, 0);

    /* Customs may invalidate before release too, even under control. */
    l->n = 0;
    log_form(l, F_LODGED, 0);
    log_form(l, F_CONTROL_YES, 10);
    log_form(l, F_CANCEL_CUSTOMS, 20);
    expect_fold(l, &f, KV_STATE_CANCELLED, 0);
    free(l);
}

static void test_log_invalidation_after_release(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    log_cross(l, KV_EVENT_PRESENTED, 2000, GE_EXIT, KV_SIDE_EXIT);
    log_form(l, F_CANCEL_CUSTOMS, 2100);
    expect_fold(l, &f, KV_STATE_CANCELLED, 0);
    free(l);
}

static void test_holder_cancellation_after_release_refused(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_movement mv;
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    run_log(l, &f, &mv);
    make(&e, F_CANCEL_HOLDER, 60);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_REFUSED_SEQUENCE);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].message,
                        "event \"cancellation\" by the holder is not allowed in state "
                        "\"released\" (NCTS 92, message out of sequence); allowed: cancellation "
                        "by customs, presented, cleared, incident, arrival");
    kv_report_release(&rep);
    /* Under control, the holder must wait for the control (UCC Art. 174(2)). */
    l->n = 1;
    log_form(l, F_CONTROL_YES, 10);
    run_log(l, &f, &mv);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_REFUSED_SEQUENCE);
    kv_report_release(&rep);
    free(l);
}

static void test_arrival_diversion(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_movement mv;
    struct kv_report rep;
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    struct kv_event *a = log_push(l);
    ev_init(a, KV_EVENT_ARRIVAL, 3000, KARS);
    a->u.arrival.diversion = false; /* the check works it out */
    run_log(l, &f, &mv);            /* run_log checks a copy: derive on the stored one too */
    kv_report_init(&rep);
    struct kv_movement before;
    kv_movement_fold_into(l->ev, 2, &before);
    assert_int_equal(kv_movement_check(&before, a, &f, &rep), KV_ALLOWED);
    assert_true(a->u.arrival.diversion);
    kv_report_release(&rep);
    unsigned flags;
    assert_int_equal(kv_movement_fold(l->ev, l->n, &flags), KV_STATE_ARRIVED);
    assert_int_equal(flags, KV_FLAG_DIVERSION);

    /* Remarks then come from the office where the goods are, not the declared one. */
    kv_movement_fold_into(l->ev, l->n, &mv);
    struct kv_event u;
    make(&u, F_UNLOAD_OK, 3100);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &u, &f, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-009");
    assert_string_equal(rep.items[0].message,
                        "office TR343100 is not the office where the goods arrived (TR041900)");
    kv_report_release(&rep);
    memcpy(u.office, KARS, 9);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &u, &f, &rep), KV_ALLOWED);
    kv_report_release(&rep);

    /* At the declared destination there is no diversion. */
    ev_init(a, KV_EVENT_ARRIVAL, 3000, DES);
    a->u.arrival.diversion = true;
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&before, a, &f, &rep), KV_ALLOWED);
    assert_false(a->u.arrival.diversion);
    kv_report_release(&rep);

    /* Replay refuses a stored diversion flag that disagrees. */
    a->u.arrival.diversion = true;
    kv_report_init(&rep);
    assert_int_equal(kv_movement_replay(l->ev, l->n, &f, &mv, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-013");
    assert_string_equal(rep.items[0].pointer, "/events/2/diversion");
    kv_report_release(&rep);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Border passages                                                          */
/* ------------------------------------------------------------------------ */

static int check_one(const struct log *l, const struct kv_movement_facts *f, struct kv_event *e,
                     struct kv_report *rep)
{
    struct kv_movement mv;
    kv_movement_fold_into(l->ev, l->n, &mv);
    assert_int_equal(mv.state == KV_STATE_INVALID, 0);
    return kv_movement_check(&mv, e, f, rep);
}

static void test_presented_cleared_order(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);

    /* Cleared with nothing presented. */
    ev_init(&e, KV_EVENT_CLEARED, 100, GE_EXIT);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-MOV-005");
    assert_string_equal(rep.items[0].message,
                        "cleared at GE000500 (exit side) before being presented there");
    kv_report_release(&rep);

    /* Presented on the exit side does not let the entry side clear. */
    log_cross(l, KV_EVENT_PRESENTED, 100, GE_EXIT, KV_SIDE_EXIT);
    e.u.crossing.side = KV_SIDE_ENTRY;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-005");
    kv_report_release(&rep);

    /* Nor another office. */
    ev_init(&e, KV_EVENT_CLEARED, 150, TR_ENTRY);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-005");
    kv_report_release(&rep);

    /* Cleared before the time it was presented. */
    ev_init(&e, KV_EVENT_CLEARED, 99, GE_EXIT);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-MOV-007");
    assert_string_equal(rep.items[0].pointer, "/time");
    assert_string_equal(rep.items[0].message,
                        "cleared at 2025-03-01T12:39:00+03:00 before being presented at GE000500 "
                        "(exit side, presented 2025-03-01T09:40:00Z)");
    kv_report_release(&rep);

    /* Presented twice. */
    ev_init(&e, KV_EVENT_PRESENTED, 120, GE_EXIT);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-006");
    kv_report_release(&rep);

    /* In order: fine; then cleared twice is refused. The same office may
     * also be presented on its other side. */
    log_cross(l, KV_EVENT_CLEARED, 140, GE_EXIT, KV_SIDE_EXIT);
    log_cross(l, KV_EVENT_PRESENTED, 141, GE_EXIT, KV_SIDE_ENTRY);
    log_cross(l, KV_EVENT_CLEARED, 141, GE_EXIT, KV_SIDE_ENTRY); /* same minute: fine */
    struct kv_movement mv;
    run_log(l, &f, &mv);
    assert_int_equal(mv.n_crossings, 2);
    ev_init(&e, KV_EVENT_CLEARED, 150, GE_EXIT);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-006");
    kv_report_release(&rep);
    free(l);
}

static void test_crossings_limit(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_movement mv;
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    log_form(l, F_RELEASE, 30);
    kv_movement_fold_into(l->ev, l->n, &mv);
    for (int i = 0; i < KV_CROSSINGS_MAX; i++) {
        char office[9];
        snprintf(office, sizeof(office), "GE%06d", i);
        ev_init(&e, KV_EVENT_PRESENTED, 100 + i, office);
        e.u.crossing.side = KV_SIDE_EXIT;
        kv_report_init(&rep);
        assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_ALLOWED);
        kv_report_release(&rep);
        kv_movement_apply(&mv, &e);
    }
    ev_init(&e, KV_EVENT_PRESENTED, 500, "GE999999");
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-010");
    kv_report_release(&rep);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Release: seals and control result                                        */
/* ------------------------------------------------------------------------ */

static void test_release_seals(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    assert_int_equal(kv_facts_add_seal(&f, "KZ1234569", 9), KV_OK);
    log_form(l, F_LODGED, 0);

    /* Declared KZ1234567, KZ1234568, KZ1234569; found 567, 569 and X-77. */
    make(&e, F_RELEASE, 30);
    e.u.release.seals.n = 0;
    add_seal(&e.u.release.seals, "KZ1234567");
    add_seal(&e.u.release.seals, "KZ1234569");
    add_seal(&e.u.release.seals, "X-77");
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 3);
    assert_string_equal(rep.items[0].rule, "R-MOV-004");
    assert_string_equal(rep.items[0].pointer, "/seals");
    assert_string_equal(rep.items[0].message,
                        "seals found differ from the declaration: 1 declared seal(s) missing, 1 "
                        "not declared; the release is refused");
    assert_string_equal(rep.items[1].pointer, "/seals");
    assert_string_equal(rep.items[1].message, "declared seal \"KZ1234568\" was not found");
    assert_string_equal(rep.items[2].pointer, "/seals/2");
    assert_string_equal(rep.items[2].message, "seal \"X-77\" was not declared");
    kv_report_release(&rep);

    /* Same set, any order: released. */
    e.u.release.seals.n = 0;
    add_seal(&e.u.release.seals, "KZ1234569");
    add_seal(&e.u.release.seals, "KZ1234568");
    add_seal(&e.u.release.seals, "KZ1234567");
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_ALLOWED);
    kv_report_release(&rep);

    /* Case matters: a seal number is what is printed on it. */
    memcpy(e.u.release.seals.id[0], "kz1234569", 10);
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 3);
    kv_report_release(&rep);

    /* No seals declared, none found: fine; one found: refused. */
    f.seals.n = 0;
    e.u.release.seals.n = 0;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_ALLOWED);
    kv_report_release(&rep);
    add_seal(&e.u.release.seals, "S1");
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[1].message, "seal \"S1\" was not declared");
    kv_report_release(&rep);
    free(l);
}

static void test_release_control_result_a3(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    log_form(l, F_LODGED, 0);
    make(&e, F_RELEASE, 30);
    memcpy(e.u.release.control_result, "A3", 3);
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-011");
    assert_string_equal(rep.items[0].pointer, "/controlResult");
    kv_report_release(&rep);
    f.simplified = true;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_ALLOWED);
    kv_report_release(&rep);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Offices and times                                                        */
/* ------------------------------------------------------------------------ */

static void test_departure_office_and_time(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);

    /* Lodged elsewhere than the declared office of departure. */
    make(&e, F_LODGED, 0);
    memcpy(e.office, DES, 9);
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-003");
    kv_report_release(&rep);

    log_form(l, F_LODGED, 60);
    static const enum form dep_forms[] = {F_CONTROL_YES, F_RELEASE,       F_NO_RELEASE,
                                          F_AMENDMENT,   F_CANCEL_HOLDER, F_CANCEL_CUSTOMS};
    for (size_t i = 0; i < sizeof(dep_forms) / sizeof(dep_forms[0]); i++) {
        make(&e, dep_forms[i], 70);
        memcpy(e.office, TR_ENTRY, 9);
        kv_report_init(&rep);
        assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
        assert_int_equal(rep.count, 1);
        assert_string_equal(rep.items[0].rule, "R-MOV-003");
        assert_string_equal(rep.items[0].pointer, "/office");
        kv_report_release(&rep);
    }

    /* Before the movement was accepted. */
    make(&e, F_RELEASE, 59);
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].rule, "R-MOV-008");
    assert_string_equal(rep.items[0].message,
                        "time 2025-03-01T13:59:00+05:00 is earlier than 2025-03-01T14:00:00+05:00, "
                        "when the movement became \"accepted\"");
    kv_report_release(&rep);
    /* Both rules at once: every problem is listed. */
    memcpy(e.office, TR_ENTRY, 9);
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_int_equal(rep.count, 2);
    kv_report_release(&rep);

    /* Border events cannot predate the release, whatever the offsets say. */
    log_form(l, F_RELEASE, 120);
    ev_init(&e, KV_EVENT_PRESENTED, 119, GE_EXIT);
    e.u.crossing.side = KV_SIDE_EXIT;
    kv_report_init(&rep);
    assert_int_equal(check_one(l, &f, &e, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].rule, "R-MOV-008");
    kv_report_release(&rep);
    free(l);
}

static void test_check_arguments(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct kv_movement mv;
    struct kv_report rep;
    struct kv_event e;
    facts_make(&f);
    kv_movement_init(&mv);
    make(&e, F_LODGED, 0);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_check(NULL, &e, &f, &rep), KV_EINVAL);
    assert_int_equal(kv_movement_check(&mv, NULL, &f, &rep), KV_EINVAL);
    assert_int_equal(kv_movement_check(&mv, &e, NULL, &rep), KV_EINVAL);
    assert_int_equal(kv_movement_check(&mv, &e, &f, NULL), KV_EINVAL);
    e.type = KV_EVENT_UNKNOWN;
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_EINVAL);
    mv.state = (enum kv_state)42;
    make(&e, F_LODGED, 0);
    assert_int_equal(kv_movement_check(&mv, &e, &f, &rep), KV_EINVAL);
    assert_int_equal(rep.total, 0);
    kv_report_release(&rep);
}

static void test_replay(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    struct log *l = log_new();
    struct kv_movement mv;
    struct kv_report rep;
    facts_make(&f);
    normal_log(l);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_replay(l->ev, l->n, &f, &mv, &rep), KV_ALLOWED);
    assert_int_equal(mv.state, KV_STATE_WRITTEN_OFF);
    kv_report_release(&rep);

    /* A second release in the stored log. */
    make(&l->ev[2], F_RELEASE, 40);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_replay(l->ev, l->n, &f, &mv, &rep), KV_REFUSED_SEQUENCE);
    assert_int_equal(rep.count, 1);
    assert_string_equal(rep.items[0].pointer, "/events/2/type");
    assert_int_equal(mv.state, KV_STATE_RELEASED);
    assert_int_equal(mv.n_events, 2);
    kv_report_release(&rep);

    /* A seal swapped in the stored release. */
    normal_log(l);
    memcpy(l->ev[1].u.release.seals.id[0], "KZ0000000", 10);
    kv_report_init(&rep);
    assert_int_equal(kv_movement_replay(l->ev, l->n, &f, &mv, &rep), KV_REFUSED_RULE);
    assert_string_equal(rep.items[0].pointer, "/events/1/seals");
    assert_string_equal(rep.items[2].pointer, "/events/1/seals/0");
    kv_report_release(&rep);
    assert_int_equal(kv_movement_replay(NULL, 1, &f, &mv, &rep), KV_EINVAL);
    free(l);
}

static void test_overdue(void **state)
{
    (void)state;
    /* Limit date 2025-03-10: overdue from 2025-03-11T00:00:00Z. */
    int64_t limit = kv_days_from_civil(2025, 3, 11) * 86400;
    assert_false(kv_movement_overdue(KV_STATE_RELEASED, limit, limit - 1));
    assert_true(kv_movement_overdue(KV_STATE_RELEASED, limit, limit));
    assert_false(kv_movement_overdue(KV_STATE_ARRIVED, limit, limit + 86400));
    assert_false(kv_movement_overdue(KV_STATE_ACCEPTED, limit, limit + 86400));
    assert_false(kv_movement_overdue(KV_STATE_RELEASED, 0, limit));
    /* The fold never sets ENQUIRY. */
    struct kv_movement_facts f;
    struct log *l = log_new();
    facts_make(&f);
    normal_log(l);
    for (size_t n = 0; n <= l->n; n++) {
        unsigned flags;
        kv_movement_fold(l->ev, n, &flags);
        assert_int_equal(flags & KV_FLAG_ENQUIRY, 0);
    }
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Roles                                                                    */
/* ------------------------------------------------------------------------ */

struct role_case {
    enum form form;
    enum kv_actor_role role;
    const char *party;  /* trader's party */
    const char *office; /* officer's office */
    bool office_is_des;
    bool permitted;
};

static void test_role_policy(void **state)
{
    (void)state;
    static const struct role_case cases[] = {
        {F_LODGED, KV_ACTOR_NODE, NULL, NULL, false, true},
        {F_LODGED, KV_ACTOR_OFFICER, NULL, DEP, false, false},
        {F_LODGED, KV_ACTOR_TRADER, HOLDER, NULL, false, false},
        /* departure decisions */
        {F_CONTROL_YES, KV_ACTOR_OFFICER, NULL, DEP, false, true},
        {F_CONTROL_YES, KV_ACTOR_OFFICER, NULL, TR_ENTRY, false, false},
        {F_RELEASE, KV_ACTOR_OFFICER, NULL, DEP, false, true},
        {F_RELEASE, KV_ACTOR_TRADER, HOLDER, NULL, false, false},
        {F_RELEASE, KV_ACTOR_OFFICER, NULL, DES, true, false},
        {F_NO_RELEASE, KV_ACTOR_OFFICER, NULL, DEP, false, true},
        {F_WRITE_OFF, KV_ACTOR_OFFICER, NULL, DEP, false, true},
        {F_WRITE_OFF, KV_ACTOR_OFFICER, NULL, DES, true, false},
        {F_WRITE_OFF, KV_ACTOR_OPERATOR, NULL, NULL, false, false},
        /* the holder */
        {F_AMENDMENT, KV_ACTOR_TRADER, HOLDER, NULL, false, true},
        {F_AMENDMENT, KV_ACTOR_TRADER, "TR1234567890", NULL, false, false},
        {F_AMENDMENT, KV_ACTOR_OFFICER, NULL, DEP, false, false},
        {F_CANCEL_HOLDER, KV_ACTOR_TRADER, HOLDER, NULL, false, true},
        {F_CANCEL_HOLDER, KV_ACTOR_TRADER, "", NULL, false, false},
        {F_CANCEL_HOLDER, KV_ACTOR_OFFICER, NULL, DEP, false, false},
        {F_CANCEL_CUSTOMS, KV_ACTOR_OFFICER, NULL, DEP, false, true},
        {F_CANCEL_CUSTOMS, KV_ACTOR_TRADER, HOLDER, NULL, false, false},
        {F_CANCEL_CUSTOMS, KV_ACTOR_OFFICER, NULL, GE_EXIT, false, false},
        /* any office, for itself */
        {F_PRESENTED, KV_ACTOR_OFFICER, NULL, GE_EXIT, false, true},
        {F_PRESENTED, KV_ACTOR_OFFICER, NULL, TR_ENTRY, false, false},
        {F_PRESENTED, KV_ACTOR_ANALYST, NULL, NULL, false, false},
        {F_CLEARED, KV_ACTOR_OFFICER, NULL, TR_ENTRY, false, true},
        {F_INCIDENT, KV_ACTOR_OFFICER, NULL, GE_EXIT, false, true},
        {F_INCIDENT, KV_ACTOR_TRADER, HOLDER, NULL, false, false},
        /* destination */
        {F_ARRIVAL, KV_ACTOR_OFFICER, NULL, DES, false, true},
        {F_ARRIVAL, KV_ACTOR_OFFICER, NULL, DES, true, true},
        {F_ARRIVAL, KV_ACTOR_OFFICER, NULL, DEP, false, false},
        {F_UNLOAD_OK, KV_ACTOR_OFFICER, NULL, DES, false, true},
        {F_UNLOAD_BAD, KV_ACTOR_TRADER, HOLDER, NULL, false, false},
        {F_RESOLVED, KV_ACTOR_OFFICER, NULL, DES, false, true},
        {F_RESOLVED, KV_ACTOR_OFFICER, NULL, DEP, false, false},
    };
    struct kv_movement_facts f;
    facts_make(&f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct role_case *c = &cases[i];
        struct kv_event e;
        struct kv_report rep;
        make(&e, c->form, 0);
        unsigned rel = kv_movement_relation(c->role, c->party, c->office, c->office_is_des, &e, &f);
        kv_report_init(&rep);
        bool ok = kv_event_permitted(&e, c->role, rel, &rep);
        if (ok != c->permitted)
            fail_msg("case %zu: %s by %s: expected %s", i, form_label[c->form],
                     kv_actor_role_name(c->role) ? kv_actor_role_name(c->role) : "-",
                     c->permitted ? "permitted" : "refused");
        assert_int_equal(rep.count, ok ? 0 : 1);
        if (!ok)
            assert_string_equal(rep.items[0].rule, "R-ROLE-001");
        kv_report_release(&rep);
    }

    /* A diverted arrival: Kars (DES role) may receive it; a non-DES office not. */
    struct kv_event e;
    struct kv_report rep;
    ev_init(&e, KV_EVENT_ARRIVAL, 0, KARS);
    unsigned rel = kv_movement_relation(KV_ACTOR_OFFICER, NULL, KARS, true, &e, &f);
    assert_int_equal(rel, KV_REL_DESTINATION | KV_REL_EVENT_OFFICE);
    assert_true(kv_event_permitted(&e, KV_ACTOR_OFFICER, rel, NULL));
    rel = kv_movement_relation(KV_ACTOR_OFFICER, NULL, KARS, false, &e, &f);
    kv_report_init(&rep);
    assert_false(kv_event_permitted(&e, KV_ACTOR_OFFICER, rel, &rep));
    assert_string_equal(rep.items[0].message,
                        "role \"officer\" may not record \"arrival\": only an officer of an office "
                        "of destination, recording at that office, may");
    kv_report_release(&rep);
    /* An officer of the office of departure records for its own office only. */
    make(&e, F_RELEASE, 0);
    rel = kv_movement_relation(KV_ACTOR_OFFICER, NULL, DEP, false, &e, &f);
    assert_int_equal(rel, KV_REL_DEPARTURE | KV_REL_EVENT_OFFICE);
    kv_report_init(&rep);
    assert_false(kv_event_permitted(&e, KV_ACTOR_NONE, 0, &rep));
    assert_string_equal(rep.items[0].message,
                        "an unauthenticated caller may not record \"release\": only an officer of "
                        "the office of departure, recording at that office, may");
    kv_report_release(&rep);
    assert_false(kv_event_permitted(NULL, KV_ACTOR_NODE, 0, NULL));
}

/* ------------------------------------------------------------------------ */
/* Time                                                                     */
/* ------------------------------------------------------------------------ */

static void test_days_from_civil(void **state)
{
    (void)state;
    assert_int_equal(kv_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(kv_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(kv_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(kv_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(kv_days_from_civil(2025, 3, 1), T0 / 86400);
    assert_int_equal(kv_days_from_civil(0, 1, 1), -719528);
    assert_int_equal(kv_days_from_civil(9999, 12, 31), 2932896);
    /* Round trip over 10,000 years, and agreement with the C library's
     * timegm (the test may use it; the core does not). */
    for (int64_t z = -719528; z <= 2932896; z += 13) {
        int64_t y;
        unsigned m, d;
        kv_civil_from_days(z, &y, &m, &d);
        assert_int_equal(kv_days_from_civil(y, m, d), z);
        if (z % 1001 == 0 && y >= 1902 && y <= 2200) {
            struct tm tm = {0};
            tm.tm_year = (int)y - 1900;
            tm.tm_mon = (int)m - 1;
            tm.tm_mday = (int)d;
            assert_int_equal((int64_t)timegm(&tm), z * 86400);
        }
    }
}

struct time_case {
    const char *text;
    int ok;
    int64_t epoch;
    int offset;
    const char *why;
};

static void test_time_parse(void **state)
{
    (void)state;
    static const struct time_case cases[] = {
        {"2025-03-01T08:00:00Z", 1, 1740816000, 0, NULL},
        {"2025-03-01T13:00:00+05:00", 1, 1740816000, 300, NULL},
        {"2025-03-01T11:00:00+03:00", 1, 1740816000, 180, NULL},
        {"2025-03-01T04:30:00-03:30", 1, 1740816000, -210, NULL},
        {"2025-03-01T08:00:00-00:00", 1, 1740816000, 0, NULL},
        {"2024-02-29T23:59:59Z", 1, 1709251199, 0, NULL},
        {"1970-01-01T00:00:00Z", 1, 0, 0, NULL},
        {"1969-12-31T23:59:59Z", 1, -1, 0, NULL},
        {"2000-01-01T00:00:00+23:59", 1, 946684800 - 86340, 1439, NULL},
        {"2025-02-29T08:00:00Z", 0, 0, 0, "day out of range for the month"},
        {"2100-02-29T08:00:00Z", 0, 0, 0, "day out of range for the month"},
        {"2025-04-31T08:00:00Z", 0, 0, 0, "day out of range for the month"},
        {"2025-13-01T08:00:00Z", 0, 0, 0, "month out of range"},
        {"2025-00-01T08:00:00Z", 0, 0, 0, "month out of range"},
        {"2025-03-00T08:00:00Z", 0, 0, 0, "day out of range for the month"},
        {"2025-03-01T24:00:00Z", 0, 0, 0, "hour out of range"},
        {"2025-03-01T08:60:00Z", 0, 0, 0, "minute out of range"},
        {"2016-12-31T23:59:60Z", 0, 0, 0, "leap second 60 not accepted"},
        {"2025-03-01T08:00:61Z", 0, 0, 0, "second out of range"},
        {"2025-03-01T08:00:00+24:00", 0, 0, 0, "offset out of range"},
        {"2025-03-01T08:00:00+05:60", 0, 0, 0, "offset out of range"},
        {"2025-03-01T08:00:00", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"2025-03-01T08:00:00z", 0, 0, 0, "no time zone: end with Z or an offset such as +05:00"},
        {"2025-03-01t08:00:00Z", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"2025-03-01 08:00:00Z", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"2025-03-01T08:00:00.5Z", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"2025-03-01T08:00:00+0500", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"2025-03-01T08:00:00+05-00", 0, 0, 0, "offset not of the form +hh:mm or -hh:mm"},
        {"2025-3-01T08:00:00Z+00:00", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"+025-03-01T08:00:00Z", 0, 0, 0,
         "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
        {"", 0, 0, 0, "not of the form YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DDThh:mm:ss+hh:mm"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kv_time t;
        const char *why = NULL;
        int rc = kv_time_parse(cases[i].text, strlen(cases[i].text), &t, &why);
        if ((rc == KV_OK) != cases[i].ok)
            fail_msg("%s: rc %d (%s)", cases[i].text, rc, why ? why : "");
        if (cases[i].ok) {
            assert_int_equal(t.epoch, cases[i].epoch);
            assert_int_equal(t.offset_min, cases[i].offset);
            assert_string_equal(t.text, cases[i].text); /* kept as written */
        } else {
            assert_int_equal(rc, KV_EPARSE);
            assert_string_equal(why, cases[i].why);
        }
    }
    /* Length is the caller's: no reading past len, no NUL needed. */
    struct kv_time t;
    assert_int_equal(kv_time_parse("2025-03-01T08:00:00Zjunk", 20, &t, NULL), KV_OK);
    assert_int_equal(kv_time_parse(NULL, 20, &t, NULL), KV_EINVAL);
}

static void test_time_set(void **state)
{
    (void)state;
    struct kv_time t;
    assert_int_equal(kv_time_set(&t, T0, 0), KV_OK);
    assert_string_equal(t.text, "2025-03-01T08:00:00Z");
    assert_int_equal(kv_time_set(&t, T0, 300), KV_OK);
    assert_string_equal(t.text, "2025-03-01T13:00:00+05:00");
    assert_int_equal(kv_time_set(&t, T0, -210), KV_OK);
    assert_string_equal(t.text, "2025-03-01T04:30:00-03:30");
    assert_int_equal(kv_time_set(&t, -1, 0), KV_OK);
    assert_string_equal(t.text, "1969-12-31T23:59:59Z");
    assert_int_equal(kv_time_set(&t, T0, 1440), KV_EINVAL);
    assert_int_equal(kv_time_set(&t, 253402300800LL, 0), KV_EINVAL); /* year 10000 */
    assert_int_equal(kv_time_set(&t, INT64_MAX, 0), KV_EINVAL);
    assert_int_equal(kv_time_set(&t, INT64_MIN, 0), KV_EINVAL);
    /* set ∘ parse is the identity, at every offset in quarter hours. */
    for (int off = -1425; off <= 1425; off += 15) {
        struct kv_time p;
        int64_t e = T0 + off * 7919;
        assert_int_equal(kv_time_set(&t, e, off), KV_OK);
        assert_int_equal(kv_time_parse(t.text, strlen(t.text), &p, NULL), KV_OK);
        assert_int_equal(p.epoch, e);
        assert_int_equal(p.offset_min, off);
    }
}

/* ------------------------------------------------------------------------ */
/* Names and facts                                                          */
/* ------------------------------------------------------------------------ */

static void test_names(void **state)
{
    (void)state;
    static const char *const stored[] = {"accepted", "under_control", "not_released", "released",
                                         "arrived",  "discrepancies", "written_off",  "cancelled"};
    for (size_t i = 0; i < 8; i++) {
        enum kv_state s;
        assert_true(kv_state_from_name(stored[i], strlen(stored[i]), &s));
        assert_string_equal(kv_state_name(s), stored[i]);
    }
    enum kv_state s;
    assert_false(kv_state_from_name("none", 4, &s));
    assert_false(kv_state_from_name("invalid", 7, &s));
    assert_false(kv_state_from_name("Released", 8, &s));
    assert_false(kv_state_from_name("release", 7, &s));
    assert_string_equal(kv_state_name(KV_STATE_NONE), "none");
    assert_string_equal(kv_state_name((enum kv_state)77), "invalid");

    static const char *const events[] = {
        "lodged",    "control_decision", "release",           "no_release",
        "amendment", "cancellation",     "presented",         "cleared",
        "incident",  "arrival",          "unloading_remarks", "discrepancies_resolved",
        "write_off"};
    for (size_t i = 0; i < 13; i++) {
        enum kv_event_type t;
        assert_true(kv_event_type_from_name(events[i], strlen(events[i]), &t));
        assert_int_equal(t, (enum kv_event_type)(KV_EVENT_LODGED + (int)i));
        assert_string_equal(kv_event_type_name(t), events[i]);
    }
    enum kv_event_type t;
    assert_false(kv_event_type_from_name("accepted", 8, &t));
    assert_false(kv_event_type_from_name("release ", 8, &t));
    assert_null(kv_event_type_name(KV_EVENT_UNKNOWN));
    assert_null(kv_event_type_name(KV_EVENT__COUNT));

    static const char *const flags[] = {"incident", "diversion", "unloaded", "enquiry"};
    for (unsigned b = 0; b < 4; b++)
        assert_string_equal(kv_flag_name(1u << b), flags[b]);
    assert_null(kv_flag_name(3));
    assert_int_equal(KV_FLAG__ALL, 0xf);

    static const char *const roles[] = {"trader", "officer", "analyst", "operator", "node"};
    for (size_t i = 0; i < 5; i++) {
        enum kv_actor_role r;
        assert_true(kv_actor_role_from_name(roles[i], strlen(roles[i]), &r));
        assert_string_equal(kv_actor_role_name(r), roles[i]);
    }
    assert_null(kv_actor_role_name(KV_ACTOR_NONE));
    assert_string_equal(kv_side_name(KV_SIDE_EXIT), "exit");
    assert_string_equal(kv_side_name(KV_SIDE_ENTRY), "entry");
    assert_null(kv_side_name(KV_SIDE_NONE));
    assert_string_equal(kv_initiator_name(KV_BY_CUSTOMS), "customs");
    assert_string_equal(kv_seals_state_name(KV_SEALS_REPLACED), "replaced");
    assert_null(kv_seals_state_name(KV_SEALS_NONE));
    for (int i = 0; i < KV_STATE__COUNT; i++)
        assert_int_equal(kv_state_final((enum kv_state)i), i == KV_STATE_NOT_RELEASED ||
                                                               i == KV_STATE_WRITTEN_OFF ||
                                                               i == KV_STATE_CANCELLED);
}

static void test_facts(void **state)
{
    (void)state;
    struct kv_movement_facts f;
    kv_facts_init(&f);
    for (int i = 0; i < KV_SEALS_MAX; i++) {
        char id[16];
        int n = snprintf(id, sizeof(id), "S%d", i);
        assert_int_equal(kv_facts_add_seal(&f, id, (size_t)n), KV_OK);
    }
    assert_int_equal(kv_facts_add_seal(&f, "S99", 3), KV_ELIMIT);
    assert_int_equal(kv_facts_add_seal(&f, "", 0), KV_EINVAL);
    char big[100];
    memset(big, 'x', sizeof(big));
    assert_int_equal(kv_facts_add_seal(&f, big, 81), KV_EINVAL);
    for (int i = 0; i < KV_ITINERARY_MAX; i++)
        assert_int_equal(kv_facts_add_transit(&f, "TR220200", 8), KV_OK);
    assert_int_equal(kv_facts_add_transit(&f, "TR220200", 8), KV_ELIMIT);
    assert_int_equal(kv_facts_add_exit(&f, "TR22020", 7), KV_EINVAL);
    assert_int_equal(kv_facts_add_exit(NULL, "TR220200", 8), KV_EINVAL);
    assert_string_equal(f.transit[8], "TR220200");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_every_event),
        cmocka_unit_test(test_fold_invalid_is_sticky),
        cmocka_unit_test(test_log_normal),
        cmocka_unit_test(test_log_control_then_release),
        cmocka_unit_test(test_log_no_release),
        cmocka_unit_test(test_log_incident),
        cmocka_unit_test(test_log_discrepancies_resolved),
        cmocka_unit_test(test_log_cancellation_before_release),
        cmocka_unit_test(test_log_invalidation_after_release),
        cmocka_unit_test(test_holder_cancellation_after_release_refused),
        cmocka_unit_test(test_arrival_diversion),
        cmocka_unit_test(test_presented_cleared_order),
        cmocka_unit_test(test_crossings_limit),
        cmocka_unit_test(test_release_seals),
        cmocka_unit_test(test_release_control_result_a3),
        cmocka_unit_test(test_departure_office_and_time),
        cmocka_unit_test(test_check_arguments),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_overdue),
        cmocka_unit_test(test_role_policy),
        cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_set),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
