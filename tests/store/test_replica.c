/*
 * test_replica.c — store schema 3: the chain fields of events (seals),
 * replicas of other nodes' movements (create, refresh, prefix conflicts),
 * pending events recorded at a replica and settled when the owner's ordered
 * copy comes back, the peers an owner records, the atomicity of the inbox
 * claim that carries each of them, seal_first on lodge, and the migration
 * of a schema-2 database with data.
 *
 * The node under test is TR; replicas are of KZ movements.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "schema_old.h"
#include "store_test.h"

#define OK(call)                                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("%s: %d %s", #call, rc_, detail);                                             \
    } while (0)

#define EXPECT(code, call)                                                                         \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (code))                                                                         \
            fail_msg("%s: %d, expected %d (%s)", #call, rc_, (code), detail);                      \
    } while (0)

/* A seal whose bytes derive from `tag`: sig from "sig/tag", link from "link/tag". */
static void seal_of(struct kv_event_seal *z, const char *node, const char *tag, bool has_link)
{
    memset(z, 0, sizeof *z);
    snprintf(z->node, sizeof z->node, "%s", node);
    snprintf(z->keyid, sizeof z->keyid, "%s:key", node);
    char seed[96];
    uint8_t h[KV_STORE_HASH_LEN];
    snprintf(seed, sizeof seed, "sig/%s", tag);
    kv_store_hash(seed, strlen(seed), h);
    memcpy(z->sig, h, 32);
    memcpy(z->sig + 32, h, 32);
    if (has_link) {
        z->has_link = true;
        snprintf(seed, sizeof seed, "link/%s", tag);
        kv_store_hash(seed, strlen(seed), z->link);
        snprintf(z->order_keyid, sizeof z->order_keyid, "KZ:owner");
        memcpy(z->order_sig, z->link, 32);
        memcpy(z->order_sig + 32, z->sig, 32);
    }
}

/* A replica of a KZ movement being built; owns everything it points to. */
#define REP_MAX 8
struct rep {
    char mrn[KV_MRN_LEN + 1];
    char decl[256];
    char json[REP_MAX][64];
    struct kv_event_seal seal[REP_MAX];
    struct kv_event_in ev[REP_MAX];
    const char *offices[1];
    struct st_in in;
    struct kv_replica r;
};

/*
 * Fills x with the first n events of KZ movement `serial` (event i sealed
 * with tag "<serial>/<i>" — or "<serial>/<i>x" from event `fork` on, to make
 * a log that differs there; fork 0 = none), brought by KZ's message `seq`.
 */
static void rep_make(struct rep *x, uint64_t serial, size_t n, size_t fork, const char *state,
                     uint32_t seq)
{
    memset(x, 0, sizeof *x);
    if (kv_mrn_make(x->mrn, 2025, "KZ", serial, 0) != 0)
        abort();
    int dn =
        snprintf(x->decl, sizeof x->decl, "{\"lrn\":\"KZL-%u\",\"n\":%zu}", (unsigned)serial, n);
    for (size_t i = 0; i < n && i < REP_MAX; i++) {
        char tag[48];
        snprintf(tag, sizeof tag, "%u/%zu%s", (unsigned)serial, i + 1,
                 fork && i + 1 >= fork ? "x" : "");
        seal_of(&x->seal[i], "KZ", tag, true);
        int jn = snprintf(x->json[i], sizeof x->json[i], "{\"i\":%zu}", i + 1);
        x->ev[i] = (struct kv_event_in){.type = i ? "control" : "lodged",
                                        .time = "2025-03-01T10:00:00Z",
                                        .epoch = 1740823200,
                                        .office = "KZ000100",
                                        .actor_role = "officer",
                                        .actor_id = "KZ000100",
                                        .json = x->json[i],
                                        .json_len = (size_t)jn,
                                        .seal = &x->seal[i]};
    }
    x->offices[0] = "TR000300";
    st_in(&x->in, "rep", "KZ", x->mrn, seq, 0);
    x->in.m.kind = "CD050C";
    x->r.mrn = x->mrn;
    x->r.holder = "KZ-HOLDER";
    x->r.lrn = "SAME-LRN";
    x->r.declaration = x->decl;
    x->r.declaration_len = (size_t)dn;
    kv_store_hash(x->decl, (size_t)dn, x->r.hash);
    kv_store_hash("lodged", 6, x->r.link0);
    x->r.office_departure = "KZ000100";
    x->r.office_destination = "AZ000200";
    x->r.offices = x->offices;
    x->r.n_offices = 1;
    x->r.security = 0;
    x->r.events = x->ev;
    x->r.n_events = n;
    x->r.state = state;
    x->r.created = 1740823200;
    x->r.gross_mass = "100";
    x->r.inbox = &x->in.m;
}

static struct kv_movement_record *get(struct kv_store *s, const char *mrn)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_movement_record *m = NULL;
    OK(kv_store_get(s, mrn, &m, detail));
    return m;
}

static uint32_t applied_of(struct kv_store *s, const char *sender, const char *mrn)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    uint32_t a = 0, p = 0;
    OK(kv_store_inbox_last(s, sender, mrn, &a, &p, detail));
    return a;
}

static uint32_t outseq(struct kv_store *s, const char *receiver, const char *mrn)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    uint32_t last = 0;
    OK(kv_store_outbox_seq(s, receiver, mrn, &last, detail));
    return last;
}

/* A pending event of this node (TR) at office TR000300, sealed with `tag`, no link. */
struct pend {
    struct kv_event_seal seal;
    struct kv_event_in ev;
};

static void pend_make(struct pend *p, const char *tag)
{
    seal_of(&p->seal, "TR", tag, false);
    p->ev = (struct kv_event_in){.type = "presented",
                                 .time = "2025-03-03T09:00:00Z",
                                 .epoch = 1740992400,
                                 .office = "TR000300",
                                 .actor_role = "officer",
                                 .actor_id = "TR000300",
                                 .json = "{\"at\":\"TR000300\"}",
                                 .json_len = 17,
                                 .seal = &p->seal};
}

/* ------------------------------------------------------------------------- */

static void test_replica_create(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    /* An own movement with the replica's (holder, LRN): replicas are not
     * subject to the uniqueness of lodged movements. */
    struct st_decl d;
    st_decl(&d, "KZ-HOLDER", "SAME-LRN", 0, NULL, 0);
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));

    struct rep x;
    rep_make(&x, 7, 3, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));
    struct kv_movement_record *m = get(f->s, x.mrn);
    assert_true(m->replica);
    assert_int_equal(m->summary.seq, 3);
    assert_string_equal(m->summary.state, "released");
    assert_string_equal(m->summary.lrn, "SAME-LRN");
    assert_memory_equal(m->link0, x.r.link0, KV_STORE_HASH_LEN);
    assert_memory_equal(m->hash, x.r.hash, KV_STORE_HASH_LEN);
    assert_int_equal(m->n_events, 3);
    assert_int_equal(m->n_offices, 3);
    assert_int_equal(m->n_guarantees, 0);
    assert_int_equal(m->n_pending, 0);
    assert_int_equal(m->n_peers, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_true(m->events[i].sealed);
        assert_true(m->events[i].seal.has_link);
        assert_string_equal(m->events[i].seal.node, "KZ");
        assert_string_equal(m->events[i].seal.keyid, "KZ:key");
        assert_string_equal(m->events[i].seal.order_keyid, "KZ:owner");
        assert_memory_equal(m->events[i].seal.sig, x.seal[i].sig, KV_STORE_SIG_LEN);
        assert_memory_equal(m->events[i].seal.link, x.seal[i].link, KV_STORE_HASH_LEN);
        assert_memory_equal(m->events[i].seal.order_sig, x.seal[i].order_sig, KV_STORE_SIG_LEN);
    }
    kv_store_record_free(m);
    assert_int_equal(applied_of(f->s, "KZ", x.mrn), 1);
    OK(kv_store_check(f->s, detail));

    /* The own movement is untouched and still answers the re-lodge. */
    m = get(f->s, lr.mrn);
    assert_false(m->replica);
    assert_false(m->events[0].sealed);
    assert_memory_equal(m->link0, d.in.hash, KV_STORE_HASH_LEN);
    kv_store_record_free(m);
    struct kv_lodge_result again;
    OK(kv_store_lodge(f->s, &d.in, &again, detail));
    assert_true(again.replay);
    assert_string_equal(again.mrn, lr.mrn);

    /* The same message again: a duplicate changes nothing. */
    EXPECT(KV_EDUPLICATE, kv_store_replica_put(f->s, &x.r, detail));

    /* Contracts. */
    struct rep bad;
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.ev[1].seal = NULL;
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.seal[1].has_link = false;
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.r.inbox = NULL;
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.r.office_departure = "AZ000100"; /* not of the MRN's country */
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.r.mrn = lr.mrn; /* names this node's country */
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    rep_make(&bad, 8, 2, 0, "released", 1);
    bad.r.hash[0] ^= 1;
    EXPECT(KV_EINVAL, kv_store_replica_put(f->s, &bad.r, detail));
    OK(kv_store_check(f->s, detail));
}

static void test_replica_refresh(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct rep x;
    rep_make(&x, 9, 2, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));

    /* A longer log with the same first two: appended, the rest replaced. */
    struct rep y;
    rep_make(&y, 9, 4, 0, "arrived", 2);
    y.r.limit_date = 1741000000;
    y.r.flags = 5;
    y.r.gross_mass = "99.5";
    struct st_msg out;
    st_msg(&out, "ack", "KZ", y.mrn, 1);
    y.r.out = &out.m;
    y.r.n_out = 1;
    OK(kv_store_replica_put(f->s, &y.r, detail));
    struct kv_movement_record *m = get(f->s, y.mrn);
    assert_int_equal(m->summary.seq, 4);
    assert_string_equal(m->summary.state, "arrived");
    assert_int_equal(m->summary.flags, 5);
    assert_int_equal(m->summary.limit_date, 1741000000);
    assert_string_equal(m->summary.gross_mass, "99.5");
    assert_string_equal(m->declaration, y.decl);
    assert_memory_equal(m->events[3].seal.link, y.seal[3].link, KV_STORE_HASH_LEN);
    kv_store_record_free(m);
    assert_int_equal(outseq(f->s, "KZ", y.mrn), 1);
    OK(kv_store_check(f->s, detail));

    /* A log that differs at event 3: KV_ECONFLICT, nothing changed — not
     * the movement, not the inbox claim, not the outbox. */
    struct rep z;
    rep_make(&z, 9, 5, 3, "written_off", 3);
    struct st_msg out2;
    st_msg(&out2, "ack", "KZ", z.mrn, 2);
    z.r.out = &out2.m;
    z.r.n_out = 1;
    EXPECT(KV_ECONFLICT, kv_store_replica_put(f->s, &z.r, detail));
    assert_non_null(strstr(detail, "event 3"));
    m = get(f->s, z.mrn);
    assert_int_equal(m->summary.seq, 4);
    assert_string_equal(m->summary.state, "arrived");
    kv_store_record_free(m);
    assert_int_equal(applied_of(f->s, "KZ", z.mrn), 2);
    assert_int_equal(outseq(f->s, "KZ", z.mrn), 1);
    struct kv_inbox_record ir;
    EXPECT(KV_ENOTFOUND, kv_store_inbox_find(f->s, z.in.id, false, &ir, detail));

    /* Fewer events than the replica holds: not a prefix either. */
    rep_make(&z, 9, 3, 0, "released", 3);
    EXPECT(KV_ECONFLICT, kv_store_replica_put(f->s, &z.r, detail));
    /* Another first declaration (link0): another movement. */
    rep_make(&z, 9, 5, 0, "written_off", 3);
    z.r.link0[0] ^= 1;
    EXPECT(KV_ECONFLICT, kv_store_replica_put(f->s, &z.r, detail));
    /* The same log again (n = m) with a new state: accepted. */
    rep_make(&z, 9, 4, 0, "discrepancies", 3);
    OK(kv_store_replica_put(f->s, &z.r, detail));
    m = get(f->s, z.mrn);
    assert_int_equal(m->summary.seq, 4);
    assert_string_equal(m->summary.state, "discrepancies");
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));

    /* Per-state counts follow replicas too. */
    struct kv_store_stats st;
    OK(kv_store_stats(f->s, &st, detail));
    assert_int_equal(st.movements, 1);
}

static void test_pending_add(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct rep x;
    rep_make(&x, 11, 2, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));

    struct pend p1, p2;
    pend_make(&p1, "p1");
    pend_make(&p2, "p2");
    struct st_msg out;
    st_msg(&out, "cd118", "KZ", x.mrn, 1);
    OK(kv_store_pending_add(f->s, x.mrn, 2, 0, &p1.ev, "under_control", 2, &out.m, 1, detail));
    struct kv_movement_record *m = get(f->s, x.mrn);
    assert_int_equal(m->summary.seq, 2);
    assert_string_equal(m->summary.state, "under_control");
    assert_int_equal(m->summary.flags, 2);
    assert_int_equal(m->n_pending, 1);
    assert_int_equal(m->pending[0].seq, 1);
    assert_true(m->pending[0].sealed);
    assert_false(m->pending[0].seal.has_link);
    assert_string_equal(m->pending[0].seal.node, "TR");
    assert_string_equal(m->pending[0].type, "presented");
    assert_string_equal(m->pending[0].office, "TR000300");
    assert_string_equal(m->pending[0].json, "{\"at\":\"TR000300\"}");
    assert_memory_equal(m->pending[0].seal.sig, p1.seal.sig, KV_STORE_SIG_LEN);
    kv_store_record_free(m);
    assert_int_equal(outseq(f->s, "KZ", x.mrn), 1);

    /* Stale: the caller read 0 pending, or an older log. Nothing written. */
    st_msg(&out, "cd118", "KZ", x.mrn, 2);
    EXPECT(KV_ESTALE,
           kv_store_pending_add(f->s, x.mrn, 2, 0, &p2.ev, "released", 0, &out.m, 1, detail));
    EXPECT(KV_ESTALE,
           kv_store_pending_add(f->s, x.mrn, 1, 1, &p2.ev, "released", 0, &out.m, 1, detail));
    assert_int_equal(outseq(f->s, "KZ", x.mrn), 1);
    OK(kv_store_pending_add(f->s, x.mrn, 2, 1, &p2.ev, "under_control", 2, &out.m, 1, detail));
    m = get(f->s, x.mrn);
    assert_int_equal(m->n_pending, 2);
    assert_int_equal(m->pending[1].seq, 2);
    assert_memory_equal(m->pending[1].seal.sig, p2.seal.sig, KV_STORE_SIG_LEN);
    kv_store_record_free(m);

    /* Contracts. */
    struct pend bad;
    pend_make(&bad, "bad");
    bad.seal.has_link = true; /* ordered events are appended */
    snprintf(bad.seal.order_keyid, sizeof bad.seal.order_keyid, "KZ:owner");
    EXPECT(KV_EINVAL,
           kv_store_pending_add(f->s, x.mrn, 2, 2, &bad.ev, "released", 0, NULL, 0, detail));
    pend_make(&bad, "bad");
    memcpy(bad.seal.node, "GE", 3); /* not this node's */
    EXPECT(KV_EINVAL,
           kv_store_pending_add(f->s, x.mrn, 2, 2, &bad.ev, "released", 0, NULL, 0, detail));
    pend_make(&bad, "bad");
    bad.ev.seal = NULL;
    EXPECT(KV_EINVAL,
           kv_store_pending_add(f->s, x.mrn, 2, 2, &bad.ev, "released", 0, NULL, 0, detail));
    pend_make(&bad, "bad");
    char other[KV_MRN_LEN + 1];
    kv_mrn_make(other, 2025, "KZ", 999, 0);
    EXPECT(KV_ENOTFOUND,
           kv_store_pending_add(f->s, other, 2, 0, &bad.ev, "released", 0, NULL, 0, detail));
    struct st_decl d;
    st_decl(&d, "TR-H", "OWN-1", 0, NULL, 0);
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));
    EXPECT(KV_EINVAL,
           kv_store_pending_add(f->s, lr.mrn, 1, 0, &bad.ev, "accepted", 0, NULL, 0, detail));
    OK(kv_store_check(f->s, detail));
}

static void test_append_orders_pending(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct rep x;
    rep_make(&x, 12, 2, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));
    struct pend pa, pb;
    pend_make(&pa, "A");
    pend_make(&pb, "B");
    OK(kv_store_pending_add(f->s, x.mrn, 2, 0, &pa.ev, "under_control", 0, NULL, 0, detail));
    OK(kv_store_pending_add(f->s, x.mrn, 2, 1, &pb.ev, "under_control", 0, NULL, 0, detail));

    /* The owner ordered B first: its entry comes back as event 3. */
    struct kv_event_seal ordered = pb.seal;
    ordered.has_link = true;
    kv_store_hash("link/B", 6, ordered.link);
    snprintf(ordered.order_keyid, sizeof ordered.order_keyid, "KZ:owner");
    struct kv_append a = st_event("presented", "under_control");
    a.event.office = "TR000300";
    a.event.seal = &ordered;
    struct st_in in;
    st_in(&in, "entry", "KZ", x.mrn, 2, 0);
    a.inbox = &in.m;
    OK(kv_store_append(f->s, x.mrn, 2, &a, detail));
    struct kv_movement_record *m = get(f->s, x.mrn);
    assert_int_equal(m->summary.seq, 3);
    assert_int_equal(m->n_pending, 1);
    assert_memory_equal(m->pending[0].seal.sig, pa.seal.sig, KV_STORE_SIG_LEN);
    assert_int_equal(m->pending[0].seq, 1);
    assert_true(m->events[2].sealed);
    assert_true(m->events[2].seal.has_link);
    assert_memory_equal(m->events[2].seal.sig, pb.seal.sig, KV_STORE_SIG_LEN);
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));

    /* The same claim again: nothing appended. */
    EXPECT(KV_EDUPLICATE, kv_store_append(f->s, x.mrn, 3, &a, detail));

    /* An event of another node carrying A's signature bytes removes nothing. */
    struct kv_event_seal foreign;
    seal_of(&foreign, "GE", "A", true);
    struct kv_append g = st_event("control", "under_control");
    g.event.seal = &foreign;
    OK(kv_store_append(f->s, x.mrn, 3, &g, detail));
    m = get(f->s, x.mrn);
    assert_int_equal(m->n_pending, 1);
    kv_store_record_free(m);

    /* A refresh carrying A ordered (event 5) settles it too. */
    struct rep y;
    rep_make(&y, 12, 5, 0, "under_control", 3);
    y.seal[2] = ordered;
    y.seal[3] = foreign;
    y.seal[4] = pa.seal;
    y.seal[4].has_link = true;
    kv_store_hash("link/A", 6, y.seal[4].link);
    snprintf(y.seal[4].order_keyid, sizeof y.seal[4].order_keyid, "KZ:owner");
    OK(kv_store_replica_put(f->s, &y.r, detail));
    m = get(f->s, x.mrn);
    assert_int_equal(m->summary.seq, 5);
    assert_int_equal(m->n_pending, 0);
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));

    /* Appended events need a link. */
    struct pend c;
    pend_make(&c, "C");
    struct kv_append u = st_event("control", "under_control");
    u.event.seal = &c.seal;
    EXPECT(KV_EINVAL, kv_store_append(f->s, x.mrn, 5, &u, detail));
    /* A replica's events come sealed. */
    u.event.seal = NULL;
    EXPECT(KV_EINVAL, kv_store_append(f->s, x.mrn, 5, &u, detail));
    OK(kv_store_check(f->s, detail));
}

static void test_peer_add(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_decl d;
    st_decl(&d, "TR-H", "PEER-1", 0, NULL, 0);
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));

    struct st_in claim;
    st_in(&claim, "aar", "UZ", lr.mrn, 1, 0);
    claim.m.kind = "CD114C";
    struct st_msg ans;
    st_msg(&ans, "cd115", "UZ", lr.mrn, 1);
    OK(kv_store_peer_add(f->s, lr.mrn, "UZ", "UZ000500", "CD114C", &claim.m, &ans.m, 1, detail));
    struct kv_movement_record *m = get(f->s, lr.mrn);
    assert_int_equal(m->n_peers, 1);
    assert_string_equal(m->peers[0].country, "UZ");
    assert_string_equal(m->peers[0].office, "UZ000500");
    assert_string_equal(m->peers[0].kind, "CD114C");
    assert_true(m->peers[0].since > 0);
    kv_store_record_free(m);
    assert_int_equal(outseq(f->s, "UZ", lr.mrn), 1);

    /* The same claim again: nothing changes (no second answer). */
    st_msg(&ans, "cd115", "UZ", lr.mrn, 2);
    EXPECT(KV_EDUPLICATE, kv_store_peer_add(f->s, lr.mrn, "UZ", "UZ000500", "CD114C", &claim.m,
                                            &ans.m, 1, detail));
    assert_int_equal(outseq(f->s, "UZ", lr.mrn), 1);

    /* A second request from UZ (another office, CD002C): the first record stays. */
    struct st_in claim2;
    st_in(&claim2, "aar", "UZ", lr.mrn, 2, 0);
    OK(kv_store_peer_add(f->s, lr.mrn, "UZ", "UZ000600", "CD002C", &claim2.m, &ans.m, 1, detail));
    m = get(f->s, lr.mrn);
    assert_int_equal(m->n_peers, 1);
    assert_string_equal(m->peers[0].office, "UZ000500");
    assert_string_equal(m->peers[0].kind, "CD114C");
    kv_store_record_free(m);
    assert_int_equal(outseq(f->s, "UZ", lr.mrn), 2);
    /* Without a claim; a second country. */
    OK(kv_store_peer_add(f->s, lr.mrn, "KG", "KG000100", "CD002C", NULL, NULL, 0, detail));
    m = get(f->s, lr.mrn);
    assert_int_equal(m->n_peers, 2);
    kv_store_record_free(m);

    /* Unknown movement: the claim is not recorded either. */
    char other[KV_MRN_LEN + 1];
    kv_mrn_make(other, 2025, "TR", 4242, 0);
    struct st_in claim3;
    st_in(&claim3, "aar", "UZ", other, 1, 0);
    EXPECT(KV_ENOTFOUND,
           kv_store_peer_add(f->s, other, "UZ", "UZ000500", "CD114C", &claim3.m, NULL, 0, detail));
    struct kv_inbox_record ir;
    EXPECT(KV_ENOTFOUND, kv_store_inbox_find(f->s, claim3.m.id, false, &ir, detail));

    /* Contracts: this node, an office of another country, a replica. */
    EXPECT(KV_EINVAL,
           kv_store_peer_add(f->s, lr.mrn, "TR", "TR000500", "CD114C", NULL, NULL, 0, detail));
    EXPECT(KV_EINVAL,
           kv_store_peer_add(f->s, lr.mrn, "UZ", "KG000100", "CD114C", NULL, NULL, 0, detail));
    struct rep x;
    rep_make(&x, 13, 1, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));
    EXPECT(KV_EINVAL,
           kv_store_peer_add(f->s, x.mrn, "UZ", "UZ000500", "CD114C", NULL, NULL, 0, detail));
    OK(kv_store_check(f->s, detail));
}

/* seal_first: records what it was called with and seals like the node. */
struct sealer {
    int calls;
    int fail;     /* return this */
    bool no_link; /* make a seal without a link */
    char mrn[KV_MRN_LEN + 1];
    uint8_t prev[KV_STORE_HASH_LEN];
    char type[KV_STORE_EVENT_TYPE_MAX];
};

static int seal_first(void *ctx, const char *mrn, const struct kv_event_in *ev,
                      const uint8_t prev[KV_STORE_HASH_LEN], struct kv_event_seal *out)
{
    struct sealer *z = ctx;
    z->calls++;
    snprintf(z->mrn, sizeof z->mrn, "%s", mrn);
    memcpy(z->prev, prev, KV_STORE_HASH_LEN);
    snprintf(z->type, sizeof z->type, "%s", ev->type);
    if (z->fail)
        return z->fail;
    seal_of(out, "TR", mrn, !z->no_link);
    return 0;
}

static void test_seal_first_on_lodge(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct sealer z = {0};
    struct st_decl d;
    st_decl(&d, "TR-H", "SEAL-1", 0, NULL, 0);
    d.in.seal_first = seal_first;
    d.in.seal_ctx = &z;
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));
    assert_int_equal(z.calls, 1);
    assert_string_equal(z.mrn, lr.mrn);
    assert_memory_equal(z.prev, d.in.hash, KV_STORE_HASH_LEN);
    assert_string_equal(z.type, "lodged");
    struct kv_movement_record *m = get(f->s, lr.mrn);
    assert_false(m->replica);
    assert_true(m->events[0].sealed);
    assert_true(m->events[0].seal.has_link);
    assert_string_equal(m->events[0].seal.node, "TR");
    struct kv_event_seal want;
    seal_of(&want, "TR", lr.mrn, true);
    assert_memory_equal(m->events[0].seal.link, want.link, KV_STORE_HASH_LEN);
    assert_memory_equal(m->events[0].seal.order_sig, want.order_sig, KV_STORE_SIG_LEN);
    assert_memory_equal(m->link0, d.in.hash, KV_STORE_HASH_LEN);
    kv_store_record_free(m);

    /* A replay seals nothing. */
    struct kv_lodge_result again;
    OK(kv_store_lodge(f->s, &d.in, &again, detail));
    assert_true(again.replay);
    assert_int_equal(z.calls, 1);

    /* The sealer's error fails the lodge: nothing stored, the LRN stays free. */
    struct st_decl e;
    st_decl(&e, "TR-H", "SEAL-2", 0, NULL, 0);
    e.in.seal_first = seal_first;
    e.in.seal_ctx = &z;
    z.fail = KV_EIO;
    EXPECT(KV_EIO, kv_store_lodge(f->s, &e.in, &lr, detail));
    assert_string_equal(lr.mrn, "");
    z.fail = 0;
    z.no_link = true;
    EXPECT(KV_EINVAL, kv_store_lodge(f->s, &e.in, &lr, detail));
    z.no_link = false;
    OK(kv_store_lodge(f->s, &e.in, &lr, detail));
    assert_false(lr.replay);
    /* An appended event keeps its seal. */
    struct kv_event_seal s2;
    seal_of(&s2, "TR", "second", true);
    struct kv_append a = st_event("release", "released");
    a.event.seal = &s2;
    OK(kv_store_append(f->s, lr.mrn, 1, &a, detail));
    m = get(f->s, lr.mrn);
    assert_int_equal(m->n_events, 2);
    assert_true(m->events[1].sealed);
    assert_memory_equal(m->events[1].seal.link, s2.link, KV_STORE_HASH_LEN);
    kv_store_record_free(m);
    OK(kv_store_check(f->s, detail));
}

static void test_migrates_schema_2(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    kv_store_close(f->s);
    f->s = NULL;
    st_rmdir(f->dir);
    st_tmpdir(f->dir);

    /* A schema-2 database as that code wrote it, with data in every part. */
    sqlite3 *db = st_old_db(f->dir, 2, "TR");
    st_old_exec(db, "INSERT INTO guarantee (grn, guarantor, reference, currency, reserved, "
                    "created) VALUES ('25TR0000000000001', 'TR-G', 100000, 'EUR', 0, 1)");
    char m1[KV_MRN_LEN + 1], m2[KV_MRN_LEN + 1];
    st_old_movement(db, "TR", 1, "TR-H", "OLD-1", 3, "released", "25TR0000000000001", 5000, m1);
    st_old_movement(db, "TR", 2, "TR-H", "OLD-2", 1, "accepted", NULL, 0, m2);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox (id, receiver, mrn, seq, kind, envelope, signature, created) "
             "VALUES ('0123456789abcdef0123456789abcdef', 'GE', '%s', 1, 'CD050C', x'7b7d', '', "
             "1);"
             "INSERT INTO outbox_stream (receiver, mrn, enqueued) VALUES ('GE', '%s', 1);"
             "INSERT INTO outbox_peer (receiver, pending) VALUES ('GE', 1);"
             "INSERT INTO inbox (id, sender, mrn, seq, kind, hash, envelope, received, applied) "
             "VALUES ('fedcba9876543210fedcba9876543210', 'GE', '%s', 1, 'CD118C', "
             "zeroblob(32), x'7b7d', 1, 1);"
             "INSERT INTO inbox_stream (sender, mrn, applied, parked) VALUES ('GE', '%s', 1, 0);",
             m1, m1, m1, m1);
    st_old_exec(db, sql);
    sqlite3_close(db);

    OK(st_open(f->dir, 0, &f->s, detail));
    OK(kv_store_check(f->s, detail));
    struct kv_movement_record *m = get(f->s, m1);
    assert_false(m->replica);
    assert_int_equal(m->n_events, 3);
    for (size_t i = 0; i < 3; i++)
        assert_false(m->events[i].sealed);
    assert_memory_equal(m->link0, m->hash, KV_STORE_HASH_LEN);
    assert_int_equal(m->n_guarantees, 1);
    assert_int_equal(m->n_pending, 0);
    assert_int_equal(m->n_peers, 0);
    assert_int_equal(m->n_offices, 3);
    kv_store_record_free(m);
    struct kv_guarantee_info gi;
    OK(kv_store_guarantee_get(f->s, "25TR0000000000001", &gi, detail));
    assert_int_equal(gi.reserved, 5000);
    assert_int_equal(outseq(f->s, "GE", m1), 1);
    assert_int_equal(applied_of(f->s, "GE", m1), 1);

    /* The old movements keep working: a sealed event after unsealed ones,
     * peers, an LRN replay, the next MRN serial. */
    struct kv_event_seal z;
    seal_of(&z, "TR", "after", true);
    struct kv_append a = st_event("control", "released");
    a.event.seal = &z;
    OK(kv_store_append(f->s, m1, 3, &a, detail));
    OK(kv_store_peer_add(f->s, m1, "UZ", "UZ000500", "CD114C", NULL, NULL, 0, detail));
    struct st_decl d;
    st_decl(&d, "TR-H", "NEW-3", 0, NULL, 0);
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));
    assert_false(lr.replay);
    assert_int_equal(st_serial(lr.mrn), 3);
    OK(kv_store_check(f->s, detail));
    kv_store_close(f->s);
    f->s = NULL;

    /* The rebuilt table keeps (holder, LRN) unique among own movements. */
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "INSERT INTO movement (mrn, holder, lrn, declaration, decl_hash, lodged_hash, "
             "office_departure, office_destination, security, state, seq, created) SELECT "
             "'25TR00000000000099', holder, lrn, declaration, decl_hash, lodged_hash, "
             "office_departure, office_destination, 0, state, seq, created FROM movement "
             "WHERE mrn = '%s'",
             m2);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_CONSTRAINT_UNIQUE & 0xff);
    int v = -1;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(v, 3);
    OK(st_open(f->dir, 0, &f->s, detail));
}

/* Runs sql on the closed store's database, reopens, expects check to name `what`. */
static void damage(struct st_fx *f, const char *sql, const char *what)
{
    char detail[KV_STORE_DETAIL_MAX] = "";
    kv_store_close(f->s);
    f->s = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    st_old_exec(db, sql);
    sqlite3_close(db);
    OK(st_open(f->dir, 0, &f->s, detail));
    int rc = kv_store_check(f->s, detail);
    if (rc != KV_ECORRUPT)
        fail_msg("check: %d (%s), expected KV_ECORRUPT naming \"%s\"", rc, detail, what);
    if (!strstr(detail, what))
        fail_msg("check said \"%s\", expected \"%s\"", detail, what);
}

static void test_check_finds_schema3_damage(void **state)
{
    struct st_fx *f = *state;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct st_decl d;
    st_decl(&d, "TR-H", "DMG-1", 0, NULL, 0);
    struct kv_lodge_result lr;
    OK(kv_store_lodge(f->s, &d.in, &lr, detail));
    struct rep x;
    rep_make(&x, 21, 2, 0, "released", 1);
    OK(kv_store_replica_put(f->s, &x.r, detail));
    struct pend p;
    pend_make(&p, "P");
    OK(kv_store_pending_add(f->s, x.mrn, 2, 0, &p.ev, "released", 0, NULL, 0, detail));
    OK(kv_store_peer_add(f->s, lr.mrn, "UZ", "UZ000500", "CD114C", NULL, NULL, 0, detail));
    OK(kv_store_check(f->s, detail));

    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE event SET link = NULL WHERE mrn = '%s' AND seq = 2", x.mrn);
    damage(f, sql, "event partly sealed");
    snprintf(sql, sizeof sql,
             "UPDATE event SET link = x'%064d', order_sig = zeroblob(64) WHERE mrn = '%s' "
             "AND seq = 2; UPDATE event SET node = '', keyid = '', sig = NULL, link = NULL, "
             "order_keyid = '', order_sig = NULL WHERE mrn = '%s' AND seq = 1",
             0, x.mrn, x.mrn);
    damage(f, sql, "unsealed event in a replica");
    snprintf(sql, sizeof sql,
             "UPDATE event SET node = 'KZ', keyid = 'k', sig = zeroblob(64), link = "
             "zeroblob(32), order_keyid = 'k', order_sig = zeroblob(64) WHERE mrn = '%s' "
             "AND seq = 1; UPDATE pending_event SET mrn = '%s'",
             x.mrn, lr.mrn);
    damage(f, sql, "pending event on a movement that is not a replica");
    snprintf(sql, sizeof sql,
             "UPDATE pending_event SET mrn = '%s'; UPDATE movement_peer SET mrn = '%s'", x.mrn,
             x.mrn);
    damage(f, sql, "peer recorded on a movement that is not this node's");
    snprintf(sql, sizeof sql,
             "UPDATE movement_peer SET mrn = '%s'; UPDATE movement SET replica = 1 WHERE mrn = "
             "'%s'",
             lr.mrn, lr.mrn);
    damage(f, sql, "movement held as the wrong kind");
    snprintf(sql, sizeof sql, "UPDATE movement SET replica = 0 WHERE mrn = '%s'", lr.mrn);
    kv_store_close(f->s);
    f->s = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/kervan.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    st_old_exec(db, sql);
    sqlite3_close(db);
    OK(st_open(f->dir, 0, &f->s, detail));
    OK(kv_store_check(f->s, detail));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replica_create, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_replica_refresh, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_pending_add, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_append_orders_pending, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_peer_add, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_seal_first_on_lodge, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_migrates_schema_2, st_fx_setup, st_fx_teardown),
        cmocka_unit_test_setup_teardown(test_check_finds_schema3_damage, st_fx_setup,
                                        st_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
