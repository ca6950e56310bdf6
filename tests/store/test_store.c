/*
 * test_store.c — every store operation against the SQLite backend: open,
 * migrations, lodge (replay, conflict, funds), get, append (stale,
 * amendment, guarantee release), list with pagination and filters, tokens,
 * guarantees, stats, the consistency check and reopening.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/ident.h"
#include "store_test.h"

/* Asserts a store call returned 0, printing its detail otherwise. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

static void reg(struct kv_store *s, const char *grn, int64_t reference, const char *currency)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_guarantee_reg g = {grn, "TR123456789012", reference, currency};
    int rc = kv_store_guarantee_register(s, &g, NULL, detail);
    if (rc)
        fail_msg("register %s: %s", grn, detail);
}

static void lodge_ok(struct kv_store *s, struct st_decl *d, struct kv_lodge_result *r)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    int rc = kv_store_lodge(s, &d->in, r, detail);
    if (rc)
        fail_msg("lodge %s: %d %s", d->lrn, rc, detail);
}

static int db_user_version(const char *dir)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void db_exec(const char *dir, const char *sql)
{
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* ------------------------------------------------------------------------- */

static void test_open_fresh_and_locks(void **state)
{
    (void)state;
    char dir[256], sub[300];
    st_tmpdir(dir);
    snprintf(sub, sizeof sub, "%s/data", dir); /* a missing leaf is created */
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store *s = NULL, *s2 = NULL;
    assert_int_equal(st_open(sub, 0, &s, detail), 0);
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(db_user_version(sub), 3);
    OK(kv_store_check(s, detail));

    /* A second opener of the same folder is refused while the first lives. */
    assert_int_equal(st_open(sub, 0, &s2, detail), KV_EBUSY);
    assert_non_null(strstr(detail, "in use"));
    assert_null(s2);
    kv_store_close(s);

    /* The node's country is recorded: another country is refused. */
    struct kv_store_config cfg = {.path = sub, .country = "KZ"};
    assert_int_equal(kv_store_open(&cfg, &s2, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "belongs to the node of TR"));
    cfg.country = "tr";
    assert_int_equal(kv_store_open(&cfg, &s2, detail), KV_EINVAL);
    cfg.country = "TR";
    cfg.backend = "postgres";
    assert_int_equal(kv_store_open(&cfg, &s2, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "unknown storage backend"));
    cfg.backend = NULL;
    OK(kv_store_open(&cfg, &s2, detail));
    assert_string_equal(kv_store_country(s2), "TR");
    kv_store_close(s2);
    kv_store_close(NULL);
    /* No country: the one recorded in an existing store; none in a folder
     * without a store (and nothing is created there). */
    cfg.country = NULL;
    OK(kv_store_open(&cfg, &s2, detail));
    assert_string_equal(kv_store_country(s2), "TR");
    kv_store_close(s2);
    char empty[320], emptydb[340];
    snprintf(empty, sizeof empty, "%s/none", dir);
    cfg.path = empty;
    assert_int_equal(kv_store_open(&cfg, &s2, detail), KV_ENOTFOUND);
    assert_non_null(strstr(detail, "has no kervan store"));
    snprintf(emptydb, sizeof emptydb, "%s/kervan.db", empty);
    assert_int_not_equal(access(emptydb, F_OK), 0);
    assert_int_not_equal(access(empty, F_OK), 0);

    char db[320];
    snprintf(db, sizeof db, "%s/kervan.db", sub);
    unlink(db);
    st_rmdir(sub);
    st_rmdir(dir);
}

static void test_migrate_empty_file_and_newer_schema(void **state)
{
    (void)state;
    char dir[256], path[300];
    st_tmpdir(dir);
    snprintf(path, sizeof path, "%s/kervan.db", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store *s = NULL;
    assert_int_equal(st_open(dir, 0, &s, detail), 0);
    kv_store_close(s);
    assert_int_equal(db_user_version(dir), 3);

    /* Every table of schemas 1 and 2 is there. */
    char sql[128];
    const char *tables[] = {"meta",          "mrn_counter", "movement", "movement_office", "event",
                            "guarantee",     "reservation", "token",    "movement_count",  "outbox",
                            "outbox_stream", "outbox_peer", "inbox",    "inbox_stream"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        db_exec(dir, sql);
    }

    db_exec(dir, "PRAGMA user_version = 99");
    assert_int_equal(st_open(dir, 0, &s, detail), KV_EVERSION);
    assert_non_null(strstr(detail, "schema version 99"));
    st_rmdir(dir);
}

static void test_lodge_and_get(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000001", 1000000, "EUR");
    struct st_decl d;
    st_decl(&d, "TR111", "LRN-1", 0, "25TR0000000000001", 250050);
    d.in.security = 2;
    struct kv_lodge_result r;
    lodge_ok(f->s, &d, &r);
    assert_false(r.replay);
    struct kv_id_result idr;
    assert_true(kv_mrn_verify(r.mrn, strlen(r.mrn), KV_MRN_P5_ONLY, &idr));
    assert_memory_equal(r.mrn, "25TR", 4);
    assert_int_equal(r.mrn[16], 'K'); /* security 2 → K (R0410) */
    assert_int_equal(st_serial(r.mrn), 1);

    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, r.mrn, &m, detail));
    assert_string_equal(m->summary.mrn, r.mrn);
    assert_string_equal(m->summary.lrn, "LRN-1");
    assert_string_equal(m->summary.holder, "TR111");
    assert_string_equal(m->summary.state, "accepted");
    assert_string_equal(m->summary.office_departure, "TR000100");
    assert_string_equal(m->summary.office_destination, "KZ000200");
    assert_string_equal(m->summary.gross_mass, "1250.5");
    assert_int_equal(m->summary.created, 1740823200);
    assert_int_equal(m->summary.seq, 1);
    assert_int_equal(m->declaration_len, strlen(d.json));
    assert_string_equal(m->declaration, d.json);
    assert_memory_equal(m->hash, d.in.hash, KV_STORE_HASH_LEN);
    assert_int_equal(m->n_offices, 4);
    assert_string_equal(m->offices[0], "TR000100");
    assert_string_equal(m->offices[1], "GE000300");
    assert_string_equal(m->offices[2], "AZ000400");
    assert_string_equal(m->offices[3], "KZ000200");
    assert_int_equal(m->n_events, 1);
    assert_int_equal(m->events[0].seq, 1);
    assert_string_equal(m->events[0].type, "lodged");
    assert_string_equal(m->events[0].actor_role, "trade_operator");
    assert_string_equal(m->events[0].actor_id, "TR111");
    assert_string_equal(m->events[0].json, d.event);
    assert_int_equal(m->n_guarantees, 1);
    assert_string_equal(m->guarantees[0].grn, "25TR0000000000001");
    assert_int_equal(m->guarantees[0].amount, 250050);
    assert_string_equal(m->guarantees[0].currency, "EUR");
    assert_int_equal(m->guarantees[0].released, 0);
    kv_store_record_free(m);

    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000001", &gi, detail));
    assert_int_equal(gi.reference, 1000000);
    assert_int_equal(gi.reserved, 250050);
    assert_int_equal(gi.remaining, 749950);
    assert_int_equal(gi.active_uses, 1);
    assert_int_equal(gi.total_uses, 1);
    assert_string_equal(gi.currency, "EUR");
    assert_string_equal(gi.guarantor, "TR123456789012");

    /* The counter is per year. */
    struct st_decl d2;
    st_decl(&d2, "TR111", "LRN-2", 0, NULL, 0);
    lodge_ok(f->s, &d2, &r);
    assert_int_equal(st_serial(r.mrn), 2);
    assert_int_equal(r.mrn[16], 'J');
    st_decl(&d2, "TR111", "LRN-3", 0, NULL, 0);
    d2.in.year = 2026;
    lodge_ok(f->s, &d2, &r);
    assert_memory_equal(r.mrn, "26TR", 4);
    assert_int_equal(st_serial(r.mrn), 1);

    assert_int_equal(kv_store_get(f->s, "25TR00000000000999", &m, detail), KV_ENOTFOUND);
    assert_null(m);
    assert_int_equal(kv_store_get(f->s, "25tr", &m, detail), KV_EINVAL);
    OK(kv_store_check(f->s, detail));
}

static void test_replay_and_conflict(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000002", 100000, "EUR");
    struct st_decl d;
    st_decl(&d, "TR222", "LRN-A", 0, "25TR0000000000002", 40000);
    struct kv_lodge_result r1, r2;
    lodge_ok(f->s, &d, &r1);
    lodge_ok(f->s, &d, &r2);
    assert_true(r2.replay);
    assert_string_equal(r2.mrn, r1.mrn);

    /* A replay reserves nothing more. */
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000002", &gi, detail));
    assert_int_equal(gi.reserved, 40000);

    /* Same LRN, other bytes: conflict naming the movement. */
    struct st_decl d2;
    st_decl(&d2, "TR222", "LRN-A", 1, "25TR0000000000002", 40000);
    assert_int_equal(kv_store_lodge(f->s, &d2.in, &r2, detail), KV_ECONFLICT);
    assert_string_equal(r2.mrn, r1.mrn);
    assert_non_null(strstr(detail, "LRN-A"));

    /* Another holder may use the same LRN. */
    st_decl(&d2, "TR333", "LRN-A", 0, NULL, 0);
    lodge_ok(f->s, &d2, &r2);
    assert_false(r2.replay);
    assert_string_not_equal(r2.mrn, r1.mrn);

    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, 2);
    assert_string_equal(st.states[0].state, "accepted");
    assert_int_equal(st.states[0].count, 2);
    assert_true(st.commits >= 3);
    assert_int_equal(st.queue_depth, 0);
}

static void test_funds(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000003", 10000, "EUR"); /* 100.00 EUR */
    reg(f->s, "25TR0000000000004", 50000, "USD");
    struct st_decl d;
    struct kv_lodge_result r;

    st_decl(&d, "TR444", "F-1", 0, "25TR000000000009X", 100);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EFUNDS);
    assert_int_equal(r.funds.why, KV_FUNDS_UNKNOWN);
    assert_string_equal(r.funds.grn, "25TR000000000009X");
    assert_string_equal(r.mrn, "");

    st_decl(&d, "TR444", "F-2", 0, "25TR0000000000004", 100);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EFUNDS);
    assert_int_equal(r.funds.why, KV_FUNDS_CURRENCY);
    assert_string_equal(r.funds.currency, "USD");

    st_decl(&d, "TR444", "F-3", 0, "25TR0000000000003", 15000);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EFUNDS);
    assert_int_equal(r.funds.why, KV_FUNDS_SHORT);
    assert_int_equal(r.funds.remaining, 10000);
    assert_int_equal(r.funds.requested, 15000);
    assert_non_null(strstr(detail, "25TR0000000000003"));
    assert_non_null(strstr(detail, "remaining 100.00 EUR, requested 150.00 EUR"));

    /* Two uses of one GRN are summed: 60 + 60 > 100. */
    struct kv_guarantee_use uses[2] = {{"25TR0000000000003", 6000, "EUR"},
                                       {"25TR0000000000003", 6000, "EUR"}};
    st_decl(&d, "TR444", "F-4", 0, NULL, 0);
    d.in.guarantees = uses;
    d.in.n_guarantees = 2;
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EFUNDS);
    assert_int_equal(r.funds.requested, 12000);

    /* Exactly the remaining amount is fine; then nothing is left. */
    uses[1].amount = 4000;
    lodge_ok(f->s, &d, &r);
    assert_int_equal(st_serial(r.mrn), 1); /* failed lodges used no serial */
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000003", &gi, detail));
    assert_int_equal(gi.remaining, 0);
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, r.mrn, &m, detail));
    assert_int_equal(m->n_guarantees, 1);
    assert_int_equal(m->guarantees[0].amount, 10000);
    kv_store_record_free(m);

    st_decl(&d, "TR444", "F-5", 0, "25TR0000000000003", 1);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EFUNDS);
    assert_non_null(strstr(detail, "remaining 0.00 EUR, requested 0.01 EUR"));

    /* Failed lodges left nothing behind. */
    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, 1);
    OK(kv_store_check(f->s, detail));
}

static void test_append(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000005", 100000, "EUR");
    struct st_decl d;
    st_decl(&d, "TR555", "A-1", 0, "25TR0000000000005", 30000);
    struct kv_lodge_result r;
    lodge_ok(f->s, &d, &r);

    struct kv_append a = st_event("control_decision", "under_control");
    a.flags = 0;
    OK(kv_store_append(f->s, r.mrn, 1, &a, detail));
    /* The same expected seq again: the log moved on. */
    assert_int_equal(kv_store_append(f->s, r.mrn, 1, &a, detail), KV_ESTALE);
    assert_non_null(strstr(detail, "is at seq 2, not 1"));
    assert_int_equal(kv_store_append(f->s, "25TR000000000000J0", 1, &a, detail), KV_ENOTFOUND);
    assert_int_equal(kv_store_append(f->s, r.mrn, 0, &a, detail), KV_EINVAL);
    a.state = "flying";
    assert_int_equal(kv_store_append(f->s, r.mrn, 2, &a, detail), KV_EINVAL);

    /* An amendment replaces the declaration; the first hash still replays. */
    char amended[128];
    int n = snprintf(amended, sizeof amended, "{\"lrn\":\"A-1\",\"amended\":true}");
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(amended, (size_t)n, h);
    a = st_event("amendment", "under_control");
    a.declaration = amended;
    a.declaration_len = (size_t)n;
    a.hash = h;
    uint8_t bad[KV_STORE_HASH_LEN] = {0};
    a.hash = bad;
    assert_int_equal(kv_store_append(f->s, r.mrn, 2, &a, detail), KV_EINVAL);
    a.hash = h;
    a.gross_mass = "1300.25";
    OK(kv_store_append(f->s, r.mrn, 2, &a, detail));
    struct kv_lodge_result r2;
    lodge_ok(f->s, &d, &r2);
    assert_true(r2.replay);
    assert_string_equal(r2.mrn, r.mrn);

    a = st_event("release", "released");
    a.flags = 1;
    a.set_limit_date = true; /* fixed at release: no limit date was declared */
    a.limit_date = 1741651200;
    OK(kv_store_append(f->s, r.mrn, 3, &a, detail));
    struct kv_list_query q = {.overdue = true, .now = 1741651201};
    struct kv_list_page pg;
    OK(kv_store_list(f->s, &q, &pg, detail));
    assert_int_equal(pg.n, 1);
    assert_string_equal(pg.items[0].mrn, r.mrn);
    assert_int_equal(pg.items[0].limit_date, 1741651200);
    kv_store_list_free(&pg);
    q.now = 1741651200; /* not past it yet */
    OK(kv_store_list(f->s, &q, &pg, detail));
    assert_int_equal(pg.n, 0);
    kv_store_list_free(&pg);
    a.set_limit_date = true;
    a.limit_date = -1;
    assert_int_equal(kv_store_append(f->s, r.mrn, 4, &a, detail), KV_EINVAL);
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000005", &gi, detail));
    assert_int_equal(gi.reserved, 30000);

    a = st_event("write_off", "written_off");
    OK(kv_store_append(f->s, r.mrn, 4, &a, detail));
    OK(kv_store_guarantee_get(f->s, "25TR0000000000005", &gi, detail));
    assert_int_equal(gi.reserved, 0);
    assert_int_equal(gi.remaining, 100000);
    assert_int_equal(gi.active_uses, 0);
    assert_int_equal(gi.total_uses, 1);

    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, r.mrn, &m, detail));
    assert_string_equal(m->summary.state, "written_off");
    assert_int_equal(m->summary.flags, 0);
    assert_int_equal(m->summary.seq, 5);
    assert_string_equal(m->declaration, amended);
    assert_string_equal(m->summary.gross_mass, "1300.25");
    assert_memory_equal(m->hash, h, KV_STORE_HASH_LEN);
    assert_int_equal(m->n_events, 5);
    const char *types[] = {"lodged", "control_decision", "amendment", "release", "write_off"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(m->events[i].seq, i + 1);
        assert_string_equal(m->events[i].type, types[i]);
    }
    assert_string_equal(m->events[1].actor_role, "officer");
    assert_string_equal(m->events[1].office, "TR000100");
    assert_true(m->guarantees[0].released > 0);
    kv_store_record_free(m);

    /* Cancellation releases too. */
    st_decl(&d, "TR555", "A-2", 0, "25TR0000000000005", 70000);
    lodge_ok(f->s, &d, &r);
    OK(kv_store_guarantee_get(f->s, "25TR0000000000005", &gi, detail));
    assert_int_equal(gi.remaining, 30000);
    a = st_event("cancellation", "cancelled");
    OK(kv_store_append(f->s, r.mrn, 1, &a, detail));
    OK(kv_store_guarantee_get(f->s, "25TR0000000000005", &gi, detail));
    assert_int_equal(gi.remaining, 100000);

    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    for (size_t i = 0; i < st.n_states; i++) {
        uint64_t want = strcmp(st.states[i].state, "written_off") == 0 ||
                                strcmp(st.states[i].state, "cancelled") == 0
                            ? 1
                            : 0;
        assert_int_equal(st.states[i].count, want);
    }
    OK(kv_store_check(f->s, detail));
}

static void test_list_pagination_and_filters(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    char mrns[25][KV_MRN_LEN + 1];
    for (int i = 0; i < 25; i++) {
        struct st_decl d;
        char lrn[16];
        snprintf(lrn, sizeof lrn, "L-%02d", i);
        st_decl(&d, i % 2 ? "TR-ODD" : "TR-EVEN", lrn, 0, NULL, 0);
        d.in.created = 1000 + i / 3; /* ties: the MRN breaks them */
        if (i == 7)
            d.transit[1] = "UZ000900";
        if (i >= 20)
            d.in.limit_date = 5000 + i;
        struct kv_lodge_result r;
        lodge_ok(f->s, &d, &r);
        memcpy(mrns[i], r.mrn, sizeof r.mrn);
    }
    /* Pages of 10: 10, 10, 5 in (created, mrn) order, each exactly once. */
    struct kv_list_query q = {.limit = 10};
    struct kv_list_page p;
    size_t seen = 0;
    char cursor[KV_STORE_CURSOR_MAX] = "";
    size_t sizes[3] = {10, 10, 5};
    for (int page = 0; page < 3; page++) {
        q.cursor = page ? cursor : NULL;
        OK(kv_store_list(f->s, &q, &p, detail));
        assert_int_equal(p.n, sizes[page]);
        for (size_t i = 0; i < p.n; i++) {
            assert_string_equal(p.items[i].mrn, mrns[seen]); /* serial order = created order */
            seen++;
        }
        assert_int_equal(p.next_cursor[0] == '\0', page == 2);
        memcpy(cursor, p.next_cursor, sizeof cursor);
        kv_store_list_free(&p);
    }
    assert_int_equal(seen, 25);

    q = (struct kv_list_query){.holder = "TR-ODD", .limit = 500};
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 12);
    for (size_t i = 0; i < p.n; i++)
        assert_string_equal(p.items[i].holder, "TR-ODD");
    assert_string_equal(p.next_cursor, "");
    kv_store_list_free(&p);

    q = (struct kv_list_query){.office = "UZ000900"};
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].mrn, mrns[7]);
    kv_store_list_free(&p);
    q.office = "KZ000200"; /* the destination counts as a declared office */
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 25);
    kv_store_list_free(&p);

    q = (struct kv_list_query){.since = 1007};
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 4); /* i = 21..24 */
    kv_store_list_free(&p);

    /* Overdue: released with a limit date before now. */
    for (int i = 19; i < 23; i++) {
        struct kv_append a = st_event("release", "released");
        OK(kv_store_append(f->s, mrns[i], 1, &a, detail));
    }
    q = (struct kv_list_query){.overdue = true, .now = 5022};
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 2); /* 20 and 21; 19 has no limit date, 22 is not due */
    assert_string_equal(p.items[0].mrn, mrns[20]);
    assert_string_equal(p.items[1].mrn, mrns[21]);
    kv_store_list_free(&p);
    q = (struct kv_list_query){.state = "released", .holder = "TR-EVEN", .limit = 1};
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].mrn, mrns[20]);
    assert_string_not_equal(p.next_cursor, "");
    memcpy(cursor, p.next_cursor, sizeof cursor);
    kv_store_list_free(&p);
    q.cursor = cursor;
    OK(kv_store_list(f->s, &q, &p, detail));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].mrn, mrns[22]);
    assert_string_equal(p.next_cursor, "");
    kv_store_list_free(&p);

    q = (struct kv_list_query){.limit = 501};
    assert_int_equal(kv_store_list(f->s, &q, &p, detail), KV_EINVAL);
    const char *bad[] = {"",
                         "x",
                         "12",
                         "12.",
                         ".25TR0000000000001J0",
                         "1a.25TR0000000000001J0",
                         "12.25tr0000000000001J0",
                         "12.25TR0000000000001J01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = (struct kv_list_query){.cursor = bad[i]};
        assert_int_equal(kv_store_list(f->s, &q, &p, detail), KV_EINVAL);
    }
    q = (struct kv_list_query){.state = "lost"};
    assert_int_equal(kv_store_list(f->s, &q, &p, detail), KV_EINVAL);
}

static void test_guarantees_and_tokens(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    bool created = false;
    struct kv_guarantee_reg g = {"25TR0000000000006", "TR999", 500000, "EUR"};
    OK(kv_store_guarantee_register(f->s, &g, &created, detail));
    assert_true(created);
    OK(kv_store_guarantee_register(f->s, &g, &created, detail));
    assert_false(created);
    g.reference = 500001;
    assert_int_equal(kv_store_guarantee_register(f->s, &g, &created, detail), KV_ECONFLICT);
    g.reference = 500000;
    g.currency = "USD";
    assert_int_equal(kv_store_guarantee_register(f->s, &g, &created, detail), KV_ECONFLICT);
    g.currency = "eur";
    assert_int_equal(kv_store_guarantee_register(f->s, &g, &created, detail), KV_EINVAL);
    g.currency = "EUR";
    g.reference = -1;
    assert_int_equal(kv_store_guarantee_register(f->s, &g, &created, detail), KV_EINVAL);
    struct kv_guarantee_info gi;
    assert_int_equal(kv_store_guarantee_get(f->s, "25TR0000000000007", &gi, detail), KV_ENOTFOUND);

    uint8_t h1[KV_STORE_HASH_LEN], h2[KV_STORE_HASH_LEN];
    kv_store_hash("token-one", 9, h1);
    kv_store_hash("token-two", 9, h2);
    OK(kv_store_token_add(f->s, h1, "officer", "TR000100", "desk 4", detail));
    OK(kv_store_token_add(f->s, h2, "node_operator", NULL, NULL, detail));
    assert_int_equal(kv_store_token_add(f->s, h1, "analyst", NULL, NULL, detail), KV_ECONFLICT);
    assert_int_equal(kv_store_token_add(f->s, h2, "Officer", NULL, NULL, detail), KV_EINVAL);
    struct kv_token t;
    OK(kv_store_token_find(f->s, h1, &t, detail));
    assert_string_equal(t.role, "officer");
    assert_string_equal(t.subject, "TR000100");
    assert_string_equal(t.label, "desk 4");
    assert_true(t.created > 0);
    OK(kv_store_token_find(f->s, h2, &t, detail));
    assert_string_equal(t.role, "node_operator");
    assert_string_equal(t.subject, "");
    uint8_t h3[KV_STORE_HASH_LEN];
    kv_store_hash("token-three", 11, h3);
    assert_int_equal(kv_store_token_find(f->s, h3, &t, detail), KV_ENOTFOUND);

    /* BLAKE2b-256 of "abc" (RFC 7693 is BLAKE2b-512; this is the 32-byte variant). */
    static const uint8_t abc[32] = {0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72,
                                    0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
                                    0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42,
                                    0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19};
    uint8_t h[32];
    kv_store_hash("abc", 3, h);
    assert_memory_equal(h, abc, 32);
}

static void test_input_contracts(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_decl d;
    struct kv_lodge_result r;
    st_decl(&d, "TR666", "C-1", 0, NULL, 0);
    d.in.hash[0] ^= 1;
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "hash"));

    st_decl(&d, "TR666", "C-1-LRN-LONGER-THAN-22-CHARACTERS", 0, NULL, 0);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    assert_non_null(strstr(detail, "LRN"));

    st_decl(&d, "TR666", "C-2", 0, NULL, 0);
    d.in.state = "nowhere";
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    st_decl(&d, "TR666", "C-3", 0, NULL, 0);
    d.in.security = 4;
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    st_decl(&d, "TR666", "C-4", 0, NULL, 0);
    d.in.office_departure = "TR0001";
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    st_decl(&d, "TR666", "C-5", 0, "25TR0000000000001", 0);
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    st_decl(&d, "TR666", "C-6", 0, NULL, 0);
    d.in.event.type = "Lodged";
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);
    st_decl(&d, "TR666", "C-7", 0, NULL, 0);
    d.in.year = 1999;
    assert_int_equal(kv_store_lodge(f->s, &d.in, &r, detail), KV_EINVAL);

    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, 0);
    assert_string_equal(kv_store_strerror(KV_EFUNDS), "guarantee cannot cover the amount");
    assert_string_equal(kv_store_strerror(KV_ENOTFOUND), "not found");
}

static void test_reopen_keeps_everything(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000008", 100000, "EUR");
    struct st_decl d;
    struct kv_lodge_result r1, r2;
    st_decl(&d, "TR777", "R-1", 0, "25TR0000000000008", 12345);
    lodge_ok(f->s, &d, &r1);
    struct kv_append a = st_event("release", "released");
    OK(kv_store_append(f->s, r1.mrn, 1, &a, detail));
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash("tok", 3, h);
    OK(kv_store_token_add(f->s, h, "analyst", NULL, "x", detail));

    kv_store_close(f->s);
    f->s = NULL;
    assert_int_equal(st_open(f->dir, 0, &f->s, detail), 0);
    OK(kv_store_check(f->s, detail));

    struct kv_movement_record *m = NULL;
    OK(kv_store_get(f->s, r1.mrn, &m, detail));
    assert_string_equal(m->summary.state, "released");
    assert_int_equal(m->n_events, 2);
    assert_string_equal(m->declaration, d.json);
    kv_store_record_free(m);
    lodge_ok(f->s, &d, &r2);
    assert_true(r2.replay);
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000008", &gi, detail));
    assert_int_equal(gi.reserved, 12345);
    struct kv_token t;
    OK(kv_store_token_find(f->s, h, &t, detail));
    st_decl(&d, "TR777", "R-2", 0, NULL, 0);
    lodge_ok(f->s, &d, &r2);
    assert_int_equal(st_serial(r2.mrn), st_serial(r1.mrn) + 1);
}

static void test_check_finds_damage(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR0000000000009", 100000, "EUR");
    struct st_decl d;
    struct kv_lodge_result r;
    st_decl(&d, "TR888", "K-1", 0, "25TR0000000000009", 500);
    lodge_ok(f->s, &d, &r);
    kv_store_close(f->s);
    f->s = NULL;

    db_exec(f->dir, "UPDATE guarantee SET reserved = reserved + 1");
    assert_int_equal(st_open(f->dir, 0, &f->s, detail), 0);
    assert_int_equal(kv_store_check(f->s, detail), KV_ECORRUPT);
    assert_non_null(strstr(detail, "guarantee ledger"));
    kv_store_close(f->s);
    f->s = NULL;

    db_exec(f->dir, "UPDATE guarantee SET reserved = reserved - 1; "
                    "UPDATE movement_count SET n = n + 1");
    assert_int_equal(st_open(f->dir, 0, &f->s, detail), 0);
    assert_int_equal(kv_store_check(f->s, detail), KV_ECORRUPT);
    assert_non_null(strstr(detail, "per-state counts"));
    kv_store_close(f->s);
    f->s = NULL;

    db_exec(f->dir, "UPDATE movement_count SET n = n - 1; DELETE FROM event WHERE seq = 1");
    assert_int_equal(st_open(f->dir, 0, &f->s, detail), 0);
    assert_int_equal(kv_store_check(f->s, detail), KV_ECORRUPT);
    assert_non_null(strstr(detail, "event log"));
}

/*
 * Disk full: a file-size limit (RLIMIT_FSIZE) makes the WAL unwritable part
 * way. Lodges then fail with KV_EIO and nothing is acknowledged that is not
 * stored; once the limit is lifted the same store carries on.
 */
static void test_disk_full(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    reg(f->s, "25TR00000000000FULL", 1000000000, "EUR");
    enum { MAX = 3000 };
    char(*acked)[KV_MRN_LEN + 1] = calloc(MAX + 1, sizeof *acked);
    char(*lrns)[16] = calloc(MAX + 1, sizeof *lrns);
    int n_acked = 0, first_fail = -1, fail_rc = 0;

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20; /* 1 MiB: the WAL outgrows it within a few hundred lodges */
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int i = 0; i < MAX; i++) {
        struct st_decl d;
        char lrn[16];
        snprintf(lrn, sizeof lrn, "DF-%d", i);
        st_decl(&d, "TR-FULL", lrn, 0, "25TR00000000000FULL", 100);
        struct kv_lodge_result r;
        int rc = kv_store_lodge(f->s, &d.in, &r, detail);
        if (rc == 0) {
            memcpy(acked[n_acked], r.mrn, sizeof r.mrn);
            memcpy(lrns[n_acked], lrn, sizeof lrn);
            n_acked++;
        } else if (first_fail < 0) {
            first_fail = i;
            fail_rc = rc;
            assert_string_equal(r.mrn, "");
            if (i > 50)
                break;
        }
        if (first_fail >= 0 && i - first_fail >= 20)
            break; /* it keeps failing while the disk is full */
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_true(first_fail > 0);
    printf("# file-size limit hit at lodge %d: %s\n", first_fail, detail);
    fflush(stdout);
    assert_int_equal(fail_rc, KV_EIO);
    assert_non_null(strstr(detail, "not stored"));

    /* The store carries on once there is room again. */
    struct st_decl d;
    st_decl(&d, "TR-FULL", "DF-AFTER", 0, "25TR00000000000FULL", 100);
    struct kv_lodge_result r;
    OK(kv_store_lodge(f->s, &d.in, &r, detail));
    memcpy(acked[n_acked], r.mrn, sizeof r.mrn);
    memcpy(lrns[n_acked], "DF-AFTER", 9);
    n_acked++;
    OK(kv_store_check(f->s, detail));

    kv_store_close(f->s);
    f->s = NULL;
    OK(st_open(f->dir, 0, &f->s, detail));
    OK(kv_store_check(f->s, detail));
    for (int i = 0; i < n_acked; i++) {
        struct kv_movement_record *m = NULL;
        OK(kv_store_get(f->s, acked[i], &m, detail));
        assert_string_equal(m->summary.lrn, lrns[i]);
        kv_store_record_free(m);
    }
    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, n_acked);
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR00000000000FULL", &gi, detail));
    assert_int_equal(gi.reserved, 100 * n_acked);
    free(acked);
    free(lrns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_fresh_and_locks),
        cmocka_unit_test(test_migrate_empty_file_and_newer_schema),
        cmocka_unit_test_setup_teardown(test_lodge_and_get, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_and_conflict, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_funds, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_append, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_list_pagination_and_filters, st_fx_setup,
                                        st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_guarantees_and_tokens, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_input_contracts, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_damage, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, st_fx_setup, st_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
