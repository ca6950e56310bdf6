/*
 * test_export_json.c — the event chain and its export: known answers
 * (also kept as the golden files of docs/exchange.md, which
 * tests/cli/exchange_interop.sh re-checks with another implementation),
 * the file format in and out, and tampering with any byte of an event, a
 * link, a signature (origin or order), the declaration, the order — each
 * found and located.
 *
 * KV_REGEN=1 in the environment rewrites tests/golden/exchange/ instead of
 * comparing with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "chain_example.h"
#include "codec/envelope.h"

#define GOLDEN      KV_SOURCE_DIR "/tests/golden/exchange/"
#define KAT_LINK0   "1e0bf5d29bcd778736ced72c593ad3f0f5a6552a181faec7b099199466caa10a"
#define KAT_LINK1   "cad0c233becb254e5e5496520ccfe01b7706dd39db7e88fdfc1fb2547c38a823"
#define KAT_ORIGIN1 "ff258b0734a3e8d46debdd9407e27d12cde3ad709cfbca79f421bf69f466caf1"
#define KAT_SIG1                                                                                   \
    "i2w0o_xko42Q03zeXJQDseqg5NMSFc4jFAHmoFIrGtmMeCQ7ChmV4mTYihb7JAoNmz09DkAI-FsuVVoMtW6bDA"
#define KAT_ORDSIG1                                                                                \
    "alFlmzSbCZxC3LZLMdVg3wSURrC1JLSe2iwMz4Ec-_ubX9OOYTVUS5FJ4XlkLLDKznLHoR7K08KSVa_qHwAfAg"
#define KAT_ORIGIN5 "9df56bf7406610e67b85af321bf0383822b9455e6ec66f0c9087025cd5e1a1eb"
#define KAT_SIG5                                                                                   \
    "K17sj5mOo8wJYoH_gr0DjhEYJhjadiGowZCI9GuSuCyRMRqZz3_t5hs-tl5CAuYcNjTdKBZBn4SY7akJaoG7Bg"
#define KAT_LINK10 "33c74faabca8db8ee4371c9722ae2aefea7e192ebefff4c3b1ba7bec3244e68a"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *len = fread(b, 1, (1 << 20) - 1, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

/* Compares `text` with the golden file, or rewrites it under KV_REGEN. */
static void golden(const char *name, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, GOLDEN "%s", name);
    if (getenv("KV_REGEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        fclose(f);
        return;
    }
    size_t glen = 0;
    char *g = slurp(path, &glen);
    if (!g)
        fail_msg("%s is missing (run the test with KV_REGEN=1)", path);
    if (glen != len || memcmp(g, text, len) != 0) {
        print_error("%s differs from what the code makes now\n", path);
        fail();
    }
    free(g);
}

static int verify(const struct kv_export *ex, const struct kv_trust *t, struct kv_chain_result *res,
                  struct kv_report *rep)
{
    kv_report_release(rep);
    kv_report_init(rep);
    return kv_export_verify(ex, t, res, rep);
}

/* The pinned links and signature, computed independently (Python hashlib
 * and the cryptography package, following docs/exchange.md). */
static void test_known_answer(void **state)
{
    (void)state;
    struct kv_export ex;
    char hex[65], b64[KV_SIG_B64_LEN + 1], head[KV_CHAIN_HEADER_MAX];
    ex_export(&ex);
    kv_hex_encode(ex.link0, 32, hex);
    assert_string_equal(hex, KAT_LINK0);
    assert_int_equal(kv_chain_header(ex.mrn, &ex.events[0], head), 66);
    assert_string_equal(head,
                        "kervan-event-v1\n25KZ0001000000A1J9\n1\nKZ\n2025-03-01T13:00:00+05:00\n");
    kv_hex_encode(ex.events[0].link, 32, hex);
    assert_string_equal(hex, KAT_LINK1);
    assert_int_equal(kv_chain_origin_header(ex.mrn, &ex.events[0], head), 65);
    assert_string_equal(head,
                        "kervan-origin-v1\n25KZ0001000000A1J9\nKZ\n2025-03-01T13:00:00+05:00\n");
    uint8_t o[32];
    assert_int_equal(kv_chain_origin(kv_crypto_chain_ops(), ex.mrn, &ex.events[0], o), KV_OK);
    kv_hex_encode(o, 32, hex);
    assert_string_equal(hex, KAT_ORIGIN1);
    kv_b64url_encode(ex.events[0].sig, 64, b64, sizeof b64);
    assert_string_equal(b64, KAT_SIG1);
    kv_b64url_encode(ex.events[0].order_sig, 64, b64, sizeof b64);
    assert_string_equal(b64, KAT_ORDSIG1);
    /* an AZ event: AZ signs where it happened, KZ orders it */
    assert_int_equal(kv_chain_origin(kv_crypto_chain_ops(), ex.mrn, &ex.events[4], o), KV_OK);
    kv_hex_encode(o, 32, hex);
    assert_string_equal(hex, KAT_ORIGIN5);
    kv_b64url_encode(ex.events[4].sig, 64, b64, sizeof b64);
    assert_string_equal(b64, KAT_SIG5);
    assert_string_equal(ex.events[4].order_keyid, ex.events[0].keyid);
    assert_string_not_equal(ex.events[4].keyid, ex.events[0].keyid);
    kv_hex_encode(ex.events[EX_N_EVENTS - 1].link, 32, hex);
    assert_string_equal(hex, KAT_LINK10);

    /* the golden files */
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(kv_export_to_json(&ex, &json, &len), KV_OK);
    golden("export.json", json, len);
    free(json);
    assert_int_equal(kv_trust_to_json(ex.trust, &json, &len), KV_OK);
    golden("trust.json", json, len);
    free(json);

    /* the example envelope and its header */
    struct kv_envelope e;
    struct kv_keypair kz;
    char hdr[KV_SIG_HEADER_MAX];
    memset(&e, 0, sizeof e);
    e.v = 1;
    memcpy(e.sender, "KZ", 3);
    memcpy(e.receiver, "AZ", 3);
    memcpy(e.id, "5f0c6a1e9b7d4c2a8e3f1d0b6a9c7e21", 33);
    e.kind = KV_MSG_CD050C;
    memcpy(e.mrn, EX_MRN_KZ, 19);
    e.seq = 1;
    ex_time("2025-03-01T15:10:05+05:00", &e.time);
    e.body = "{\"declaration\":" EX_DECLARATION ",\"itinerary\":[\"AZ000100\",\"GE000500\"]}";
    e.body_len = strlen(e.body);
    assert_int_equal(kv_envelope_encode(&e, &json, &len, NULL), KV_OK);
    golden("envelope.json", json, len);
    ex_keypair("KZ", &kz);
    assert_int_equal(kv_envelope_sign(&kz, json, len, hdr, sizeof hdr), KV_OK);
    char line[KV_SIG_HEADER_MAX + 40];
    int n = snprintf(line, sizeof line, KV_SIG_HEADER ": %s\n", hdr);
    golden("envelope.header", line, (size_t)n);
    free(json);
    kv_export_clear(&ex);
}

static void test_intact(void **state)
{
    (void)state;
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    ex_export(&ex);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    assert_int_equal(rep.total, 0);
    assert_int_equal(res.n_events, EX_N_EVENTS);
    assert_int_equal(res.n_intact, EX_N_EVENTS);
    assert_int_equal(res.first_break, 0);
    assert_true(res.declaration);
    /* the same against an outside list */
    struct kv_trust *t = ex_trust();
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_INTACT);
    /* without the declaration, the chain still verifies from link0 */
    free(ex.declaration);
    ex.declaration = NULL;
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_INTACT);
    assert_false(res.declaration);
    /* no keys at all */
    free(ex.trust);
    ex.trust = NULL;
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_ENOTFOUND);
    free(t);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

/* The problems must be exactly `want` ("RULE pointer" strings, in order). */
static void expect(const struct kv_report *rep, const char *const *want, size_t n, const char *what)
{
    bool ok = rep->count == n;
    for (size_t i = 0; ok && i < n; i++) {
        char got[200];
        snprintf(got, sizeof got, "%s %s", rep->items[i].rule, rep->items[i].pointer);
        ok = strcmp(got, want[i]) == 0;
    }
    if (!ok) {
        print_error("%s: expected %zu problems, got %zu:\n", what, n, rep->count);
        for (size_t i = 0; i < rep->count; i++)
            print_error("  %s %s: %s\n", rep->items[i].rule, rep->items[i].pointer,
                        rep->items[i].message);
        fail();
    }
}

/* Any changed byte of any event is found, at that event and only there. */
static void test_tamper_events(void **state)
{
    (void)state;
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    ex_export(&ex);
    for (size_t i = 0; i < ex.n; i++) {
        char *text = (char *)ex.events[i].event;
        char link[80], sig[80];
        snprintf(link, sizeof link, "R-CHAIN-LINK /events/%zu/link", i);
        snprintf(sig, sizeof sig, "R-CHAIN-SIG /events/%zu/sig", i);
        for (size_t b = 0; b < ex.events[i].event_len; b++) {
            char keep = text[b];
            text[b] = keep == 'x' ? 'y' : 'x';
            assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
            assert_int_equal(res.first_break, i + 1);
            assert_int_equal(res.n_intact, ex.n - 1);
            /* the link and the origin signature always; the event check too
             * when the bytes no longer make a stored event of that node at
             * that time; never the owner's signature (over the stated link) */
            bool found = false, found_sig = false;
            for (size_t p = 0; p < rep.count; p++) {
                char got[240];
                snprintf(got, sizeof got, "%s %s", rep.items[p].rule, rep.items[p].pointer);
                found |= strcmp(got, link) == 0;
                found_sig |= strcmp(got, sig) == 0;
                assert_true(strcmp(rep.items[p].rule, "R-CHAIN-LINK") == 0 ||
                            strcmp(rep.items[p].rule, "R-CHAIN-SIG") == 0 ||
                            strcmp(rep.items[p].rule, "R-CHAIN-EVENT") == 0);
            }
            if (!found || !found_sig)
                fail_msg("event %zu byte %zu: the %s problem is missing", i, b,
                         found ? "signature" : "link");
            text[b] = keep;
        }
    }
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

static void test_tamper_links_sigs(void **state)
{
    (void)state;
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    ex_export(&ex);

    /* a link: that event's link and the owner's signature over it, and the
     * next event's link */
    for (size_t i = 0; i < ex.n; i++) {
        for (size_t b = 0; b < 32; b += 5) {
            ex.events[i].link[b] ^= 0x10;
            assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
            char w0[80], w1[80], w2[80];
            snprintf(w0, sizeof w0, "R-CHAIN-LINK /events/%zu/link", i);
            snprintf(w1, sizeof w1, "R-CHAIN-ORDSIG /events/%zu/order_sig", i);
            snprintf(w2, sizeof w2, "R-CHAIN-LINK /events/%zu/link", i + 1);
            const char *want[] = {w0, w1, w2};
            expect(&rep, want, i + 1 < ex.n ? 3 : 2, "changed link");
            assert_int_equal(res.first_break, i + 1);
            ex.events[i].link[b] ^= 0x10;
        }
    }
    /* a signature: that signature only */
    for (size_t i = 0; i < ex.n; i++) {
        for (size_t b = 0; b < 64; b += 7) {
            ex.events[i].sig[b] ^= 0x01;
            assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
            char w[80];
            snprintf(w, sizeof w, "R-CHAIN-SIG /events/%zu/sig", i);
            const char *want[] = {w};
            expect(&rep, want, 1, "changed signature");
            ex.events[i].sig[b] ^= 0x01;
        }
    }
    /* the owner's signature: that signature only */
    for (size_t i = 0; i < ex.n; i++) {
        for (size_t b = 0; b < 64; b += 7) {
            ex.events[i].order_sig[b] ^= 0x01;
            assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
            char w[80];
            snprintf(w, sizeof w, "R-CHAIN-ORDSIG /events/%zu/order_sig", i);
            const char *want[] = {w};
            expect(&rep, want, 1, "changed order signature");
            assert_int_equal(res.first_break, i + 1);
            ex.events[i].order_sig[b] ^= 0x01;
        }
    }
    /* one event's signatures swapped with each other's: both fail */
    uint8_t keep_sig[64];
    memcpy(keep_sig, ex.events[3].sig, 64);
    memcpy(ex.events[3].sig, ex.events[3].order_sig, 64);
    memcpy(ex.events[3].order_sig, keep_sig, 64);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_sw[] = {"R-CHAIN-SIG /events/3/sig", "R-CHAIN-ORDSIG /events/3/order_sig"};
    expect(&rep, w_sw, 2, "signatures swapped");
    memcpy(ex.events[3].order_sig, ex.events[3].sig, 64);
    memcpy(ex.events[3].sig, keep_sig, 64);
    /* link0: the declaration no longer matches, and event 1's link */
    ex.link0[3] ^= 1;
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_l0[] = {"R-CHAIN-DECL /declaration", "R-CHAIN-LINK /events/0/link"};
    expect(&rep, w_l0, 2, "changed link0");
    ex.link0[3] ^= 1;
    /* the declaration: only the declaration */
    for (size_t b = 0; b < ex.declaration_len; b++) {
        ex.declaration[b] ^= 0x20;
        assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
        const char *w[] = {"R-CHAIN-DECL /declaration"};
        expect(&rep, w, 1, "changed declaration");
        assert_true(res.declaration_bad);
        assert_int_equal(res.first_break, 0);
        ex.declaration[b] ^= 0x20;
    }
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

static void test_tamper_records(void **state)
{
    (void)state;
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    ex_export(&ex);

    /* two events swapped */
    struct kv_chain_event tmp = ex.events[4];
    ex.events[4] = ex.events[5];
    ex.events[5] = tmp;
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_swap[] = {"R-CHAIN-ORDER /events/4/seq", "R-CHAIN-LINK /events/4/link",
                            "R-CHAIN-ORDER /events/5/seq", "R-CHAIN-LINK /events/5/link",
                            "R-CHAIN-LINK /events/6/link"};
    expect(&rep, w_swap, 5, "swapped events");
    assert_int_equal(res.first_break, 5);
    tmp = ex.events[4];
    ex.events[4] = ex.events[5];
    ex.events[5] = tmp;

    /* an event removed from the middle (the incident) */
    struct kv_chain_event gone = ex.events[6];
    memmove(&ex.events[6], &ex.events[7], (ex.n - 7) * sizeof ex.events[0]);
    ex.n--;
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    assert_int_equal(res.first_break, 7);
    assert_string_equal(rep.items[0].rule, "R-CHAIN-ORDER");
    assert_string_equal(rep.items[0].pointer, "/events/6/seq");
    assert_non_null(strstr(rep.items[0].message, "position 7 holds seq 8"));
    assert_string_equal(rep.items[1].rule, "R-CHAIN-LINK");
    ex.n++;
    memmove(&ex.events[7], &ex.events[6], (ex.n - 7) * sizeof ex.events[0]);
    ex.events[6] = gone;

    /* the record's seq, node, time changed: covered by the link */
    ex.events[2].seq = 9;
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_seq[] = {"R-CHAIN-ORDER /events/2/seq", "R-CHAIN-LINK /events/2/link"};
    expect(&rep, w_seq, 2, "changed seq");
    ex.events[2].seq = 3;

    memcpy(ex.events[4].node, "GE", 3); /* AZ's event claimed for GE */
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_node[] = {"R-CHAIN-EVENT /events/4/event", "R-CHAIN-LINK /events/4/link",
                            "R-CHAIN-KEY /events/4/keyid"};
    expect(&rep, w_node, 3, "changed node");
    assert_non_null(strstr(rep.items[2].message, "not a key of GE"));
    memcpy(ex.events[4].node, "AZ", 3);

    struct kv_time keep = ex.events[7].time;
    ex_time("2025-03-04T08:31:00+03:00", &ex.events[7].time);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_time[] = {"R-CHAIN-EVENT /events/7/event", "R-CHAIN-LINK /events/7/link",
                            "R-CHAIN-SIG /events/7/sig"};
    expect(&rep, w_time, 3, "changed time");
    ex.events[7].time = keep;

    /* a key id nobody knows, or another node's */
    char keyid[40];
    memcpy(keyid, ex.events[1].keyid, sizeof keyid);
    memcpy(ex.events[1].keyid, "0000:0000:0000:0000:0000:0000:0000:0000", 40);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_key[] = {"R-CHAIN-KEY /events/1/keyid"};
    expect(&rep, w_key, 1, "unknown key");
    memcpy(ex.events[1].keyid, ex.events[4].keyid, sizeof keyid);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    expect(&rep, w_key, 1, "another node's key");
    memcpy(ex.events[1].keyid, keyid, sizeof keyid);

    /* an unknown node: not in the auditor's list */
    struct kv_trust *t = ex_trust();
    memcpy(t->nodes[3].country, "UZ", 3); /* TR is not known, UZ is */
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_tr[] = {"R-CHAIN-KEY /events/7/keyid", "R-CHAIN-KEY /events/8/keyid"};
    expect(&rep, w_tr, 2, "unknown node");
    assert_non_null(strstr(rep.items[0].message, "unknown node TR"));
    free(t);

    /* a key whose validity ended before events it signed: KZ's key orders
     * every event, so the TR events after that instant are caught at the
     * order key, the KZ write-off at both */
    t = ex_trust();
    ex_time("2025-03-04T00:00:00Z", &t->nodes[0].keys[0].until);
    t->nodes[0].keys[0].has_until = true;
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_exp[] = {"R-CHAIN-ORDKEY /events/7/order_keyid",
                           "R-CHAIN-ORDKEY /events/8/order_keyid", "R-CHAIN-KEY /events/9/keyid",
                           "R-CHAIN-ORDKEY /events/9/order_keyid"};
    expect(&rep, w_exp, 4, "expired key");
    assert_non_null(strstr(rep.items[0].message, "valid until 2025-03-04T00:00:00Z"));
    assert_int_equal(res.first_break, 8);
    free(t);

    /* the owner unknown to the auditor: every order key */
    t = ex_trust();
    memcpy(t->nodes[0].country, "UZ", 3);
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_BROKEN);
    assert_int_equal(rep.total, 15); /* ten order keys, five KZ origin keys */
    assert_string_equal(rep.items[1].rule, "R-CHAIN-ORDKEY");
    assert_string_equal(rep.items[1].pointer, "/events/0/order_keyid");
    assert_non_null(strstr(rep.items[1].message, "unknown owner KZ"));
    free(t);

    /* a border node orders its own event (chain v1's habit): its key is
     * not the owner's */
    struct kv_keypair az;
    ex_keypair("AZ", &az);
    assert_int_equal(kv_chain_order(&az, ex.mrn, ex.events[3].link, &ex.events[4]), KV_OK);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    const char *w_self[] = {"R-CHAIN-ORDKEY /events/4/order_keyid"};
    expect(&rep, w_self, 1, "ordered by a border node");
    assert_non_null(strstr(rep.items[0].message, "not a key of KZ"));
    struct kv_keypair kz;
    ex_keypair("KZ", &kz);
    assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[3].link, &ex.events[4]), KV_OK);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);

    /* someone re-signs the whole chain with their own key and embeds a
     * trust list naming it KZ's: consistent in itself, refused by the
     * auditor's list */
    struct kv_keypair forger;
    ex_keypair("forger", &forger);
    for (size_t i = 0; i < ex.n; i++) {
        if (strcmp(ex.events[i].node, "KZ") == 0)
            assert_int_equal(kv_chain_sign_origin(&forger, ex.mrn, &ex.events[i]), KV_OK);
        assert_int_equal(
            kv_chain_order(&forger, ex.mrn, i ? ex.events[i - 1].link : ex.link0, &ex.events[i]),
            KV_OK);
    }
    kv_trust_init(ex.trust);
    assert_int_equal(kv_trust_add_node(ex.trust, "KZ", "http://evil"), KV_OK);
    ex_add_key(ex.trust, "KZ", "forger", "2025-01-01T00:00:00Z", NULL);
    for (int i = 1; i < 4; i++) {
        static const char *const c[] = {"", "AZ", "GE", "TR"};
        assert_int_equal(kv_trust_add_node(ex.trust, c[i], "http://x"), KV_OK);
        ex_add_key(ex.trust, c[i], c[i], "2025-01-01T00:00:00Z", NULL);
    }
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    t = ex_trust();
    assert_int_equal(verify(&ex, t, &res, &rep), KV_CHAIN_BROKEN);
    /* the AZ, GE and TR events keep their own signatures, but the owner's
     * order over every event is the forger's */
    assert_int_equal(res.n_intact, 0);
    assert_int_equal(res.first_break, 1);
    assert_int_equal(rep.total, 15); /* ten order keys, five KZ origin keys */
    free(t);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

/* The file format: out and back in, byte for byte, and its refusals. */
static void test_file(void **state)
{
    (void)state;
    struct kv_export ex, back;
    struct kv_report rep;
    char *json = NULL, *json2 = NULL;
    size_t len, len2;
    kv_report_init(&rep);
    ex_export(&ex);
    assert_int_equal(kv_export_to_json(&ex, &json, &len), KV_OK);
    kv_export_init(&back);
    assert_int_equal(kv_export_from_json(json, len, &back, &rep), KV_OK);
    assert_int_equal(back.n, ex.n);
    assert_int_equal(back.declaration_len, ex.declaration_len);
    assert_memory_equal(back.declaration, ex.declaration, ex.declaration_len);
    for (size_t i = 0; i < ex.n; i++) {
        assert_int_equal(back.events[i].event_len, ex.events[i].event_len);
        assert_memory_equal(back.events[i].event, ex.events[i].event, ex.events[i].event_len);
        assert_memory_equal(back.events[i].link, ex.events[i].link, 32);
        assert_memory_equal(back.events[i].sig, ex.events[i].sig, 64);
        assert_string_equal(back.events[i].keyid, ex.events[i].keyid);
    }
    assert_int_equal(kv_export_to_json(&back, &json2, &len2), KV_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(json, json2, len);
    free(json2);
    struct kv_chain_result res;
    assert_int_equal(kv_export_verify(&back, NULL, &res, &rep), KV_CHAIN_INTACT);
    kv_export_clear(&back);

    /* refusals, each with its rule and pointer */
    struct {
        const char *from, *to, *rule, *pointer;
    } cases[] = {
        {"\"format\": \"kervan-chain-export\"", "\"format\": \"other\"", "R-EXP-004", "/format"},
        {"\"v\": 2", "\"v\": 3", "R-EXP-004", "/v"},
        {"\"v\": 2", "\"v\": 1", "R-EXP-004", "/v"},
        {"\"v\": 2", "\"v\": \"2\"", "R-EXP-004", "/v"},
        {"\"mrn\": \"25KZ0001000000A1J9\"", "\"mrn\": \"25KZ0001000000A1J8\"", "R-EXP-005", "/mrn"},
        {"\"exported_by\": \"KZ\"", "\"exported_by\": \"kz\"", "R-EXP-013", "/exported_by"},
        {"\"exported_at\": \"2025-03-05T12:00:00+05:00\"", "\"exported_at\": \"yesterday\"",
         "R-EXP-010", "/exported_at"},
        {"\"link0\": \"", "\"link0\": \"A", "R-EXP-011", "/link0"},
        {"\"seq\": 1,", "\"seq\": 0,", "R-EXP-012", "/events/0/seq"},
        {"\"seq\": 1,", "\"seq\": \"1\",", "R-EXP-012", "/events/0/seq"},
        {"\"node\": \"KZ\"", "\"node\": \"KAZ\"", "R-EXP-013", "/events/0/node"},
        {"\"time\": \"2025-03-01T13:00:00+05:00\"", "\"time\": \"2025-03-01T13:00\"", "R-EXP-010",
         "/events/0/time"},
        {"\"keyid\": \"", "\"keyid\": \"x", "R-EXP-014", "/events/0/keyid"},
        {"\"link\": \"", "\"link\": \"0", "R-EXP-011", "/events/0/link"},
        {"\"sig\": \"", "\"sig\": \"=", "R-EXP-015", "/events/0/sig"},
        {"\"order_keyid\": \"", "\"order_keyid\": \"x", "R-EXP-014", "/events/0/order_keyid"},
        {"\"order_sig\": \"", "\"order_sig\": \"=", "R-EXP-015", "/events/0/order_sig"},
        {"\"order_sig\": \"", "\"order_sig\": 7, \"x\": \"", "R-EXP-003", "/events/0"},
        {"\"event\": \"", "\"event\": 7, \"x\": \"", "R-EXP-003", "/events/0"},
        {"\"event\": \"{", "\"event\": \"\\u0000{", "R-EXP-003", "/events/0/event"},
        {"{\"seq\": 1,", "{\"seq\": 1, \"seq\": 1,", "R-EXP-001", "/events/0/seq"},
        {"\"v\": 2,", "\"v\": 2, \"w\": 1,", "R-EXP-003", ""},
        {"\"events\": [", "\"events\": {\"a\":[", "R-EXP-001", ""},
        {"\"country\": \"GE\"", "\"country\": \"G\"", "R-TRUST-010", "/trust/nodes/2/country"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strstr(json, cases[i].from);
        assert_non_null(at);
        size_t pre = (size_t)(at - json), fl = strlen(cases[i].from), tl = strlen(cases[i].to);
        char *bad = malloc(len - fl + tl + 1);
        memcpy(bad, json, pre);
        memcpy(bad + pre, cases[i].to, tl);
        memcpy(bad + pre + tl, at + fl, len - pre - fl + 1);
        kv_report_release(&rep);
        kv_report_init(&rep);
        int rc = kv_export_from_json(bad, strlen(bad), &back, &rep);
        if (rc == KV_OK || rep.count == 0 || strcmp(rep.items[0].rule, cases[i].rule) != 0 ||
            strcmp(rep.items[0].pointer, cases[i].pointer) != 0) {
            print_error("case %zu: rc %d; %s %s: %s\n", i, rc, rep.count ? rep.items[0].rule : "-",
                        rep.count ? rep.items[0].pointer : "-",
                        rep.count ? rep.items[0].message : "-");
            fail();
        }
        assert_null(back.events);
        assert_null(back.declaration);
        free(bad);
    }

    /* a version 1 file: one clear problem, nothing else read */
    char *v1 = strdup(json);
    memcpy(strstr(v1, "\"v\": 2") + 5, "1", 1);
    kv_report_release(&rep);
    kv_report_init(&rep);
    assert_int_equal(kv_export_from_json(v1, strlen(v1), &back, &rep), KV_EPARSE);
    assert_int_equal(rep.total, 1);
    assert_string_equal(rep.items[0].rule, "R-EXP-004");
    assert_non_null(strstr(rep.items[0].message, "version 1 export"));
    free(v1);
    free(json);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

/* Signing where it happened and ordering at the owner are separate steps:
 * the origin signature does not depend on the event's place. */
static void test_origin_and_order(void **state)
{
    (void)state;
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    struct kv_keypair az, kz;
    char owner[3];
    kv_report_init(&rep);
    ex_export(&ex);
    ex_keypair("AZ", &az);
    ex_keypair("KZ", &kz);

    assert_true(kv_chain_owner(ex.mrn, owner));
    assert_string_equal(owner, "KZ");
    assert_true(kv_chain_owner(EX_MRN_AZ, owner));
    assert_string_equal(owner, "AZ");
    assert_false(kv_chain_owner("25k", owner));
    assert_string_equal(owner, "");
    assert_false(kv_chain_owner("25kz0001", owner));
    assert_false(kv_chain_owner(NULL, owner));

    /* signing the origin leaves the order alone, and the reverse */
    struct kv_chain_event e = ex.events[4];
    uint8_t link[32], osig[64], sig[64];
    memcpy(link, e.link, 32);
    memcpy(osig, e.order_sig, 64);
    memcpy(sig, e.sig, 64);
    memset(e.link, 0, 32);
    memset(e.order_sig, 0, 64);
    memset(e.order_keyid, 0, sizeof e.order_keyid);
    assert_int_equal(kv_chain_sign_origin(&az, ex.mrn, &e), KV_OK);
    assert_memory_equal(e.sig, sig, 64); /* Ed25519 is deterministic */
    assert_int_equal(e.link[0] | e.order_sig[0] | e.order_keyid[0], 0);
    e.seq = 77; /* the origin does not cover the seq */
    assert_int_equal(kv_chain_sign_origin(&az, ex.mrn, &e), KV_OK);
    assert_memory_equal(e.sig, sig, 64);
    e.seq = 5;
    assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[3].link, &e), KV_OK);
    assert_memory_equal(e.link, link, 32);
    assert_memory_equal(e.order_sig, osig, 64);
    assert_memory_equal(e.sig, sig, 64);
    assert_string_equal(e.keyid, az.fingerprint);
    assert_string_equal(e.order_keyid, kz.fingerprint);

    /* the owner can move an event and re-order what follows: every check
     * holds (the order is the owner's word; compare copies to catch it) */
    struct kv_chain_event tmp = ex.events[4];
    ex.events[4] = ex.events[5];
    ex.events[5] = tmp;
    for (size_t i = 4; i < ex.n; i++) {
        ex.events[i].seq = (uint32_t)(i + 1);
        assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[i - 1].link, &ex.events[i]), KV_OK);
    }
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    /* ... but it cannot change what the AZ officer recorded */
    char *text = (char *)ex.events[5].event;
    char *side = strstr(text, "\"entry\"");
    assert_non_null(side);
    memcpy(side, "\"exit\" ", 7);
    assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[4].link, &ex.events[5]), KV_OK);
    for (size_t i = 6; i < ex.n; i++)
        assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[i - 1].link, &ex.events[i]), KV_OK);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_BROKEN);
    assert_int_equal(res.first_break, 6);
    bool found = false;
    for (size_t i = 0; i < rep.count; i++)
        found |= strcmp(rep.items[i].rule, "R-CHAIN-SIG") == 0 &&
                 strcmp(rep.items[i].pointer, "/events/5/sig") == 0;
    assert_true(found);

    /* bad arguments */
    assert_int_equal(kv_chain_sign_origin(NULL, ex.mrn, &e), KV_EINVAL);
    assert_int_equal(kv_chain_order(&kz, ex.mrn, NULL, &e), KV_EINVAL);
    memcpy(e.node, "A", 2);
    assert_int_equal(kv_chain_sign_origin(&az, ex.mrn, &e), KV_EINVAL);
    assert_int_equal(kv_chain_order(&kz, ex.mrn, ex.events[3].link, &e), KV_EINVAL);
    kv_report_release(&rep);
    kv_export_clear(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),     cmocka_unit_test(test_intact),
        cmocka_unit_test(test_tamper_events),    cmocka_unit_test(test_tamper_links_sigs),
        cmocka_unit_test(test_tamper_records),   cmocka_unit_test(test_file),
        cmocka_unit_test(test_origin_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
