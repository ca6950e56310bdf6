/*
 * test_api_export.c — GET /v1/movements/{mrn}/export (api_export.c) on the
 * in-process node of api_test.h, twice:
 *   - alone (no corridor): who may export (need-to-know as GET
 *     /v1/movements/{mrn}: 404 otherwise), the answers for a bad MRN and no
 *     token, and 409 "unsealed" naming the event (a lone node does not seal);
 *   - in a corridor (its own key and a trust list): a movement's whole life
 *     exported, decoded and verified intact against the embedded list and
 *     an outside one (and refused under another key), signed where it
 *     happened and ordered by the owner; the export byte for byte what the
 *     encoder writes; the lodged declaration carried until an amendment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api_test.h"
#include "codec/export_json.h"
#include "codec/trust_json.h"
#include "crypto/crypto.h"
#include "net/corridor.h"

static int group_setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_ERROR);
    if (t_start(0, 0, 0) != 0)
        return -1;
    t_guarantee(T_GRN, "1000000.00", "EUR");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    t_stop();
    return 0;
}

static void get_export(const char *mrn, const char *token, struct reply *r)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s/export", mrn);
    t_get(path, token, r);
}

/* A node without a corridor does not seal: nothing to export. */
static void test_alone_unsealed(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    struct reply r;
    t_lodge(&(struct tdecl){.lrn = "EXP-ALONE-1"}, mrn);
    get_export(mrn, T.analyst, &r);
    EXPECT(&r, 409, "unsealed");
    assert_non_null(strstr(jstr(r.json, "error/message"), "event 1 is not sealed"));
    assert_non_null(strstr(jstr(r.json, "error/message"), mrn));
    reply_free(&r);
}

/* The same need-to-know as GET /v1/movements/{mrn}; the usual refusals. */
static void test_who_may_export(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    struct reply r;
    t_lodge(&(struct tdecl){.lrn = "EXP-WHO-1"}, mrn);
    /* those who see it get past need-to-know (to the 409 of a lone node) */
    const char *see[] = {T.trader, T.dep, T.des, T.analyst, T.operator_};
    for (size_t i = 0; i < sizeof see / sizeof see[0]; i++) {
        get_export(mrn, see[i], &r);
        EXPECT(&r, 409, "unsealed");
        reply_free(&r);
    }
    /* the others: the answer for a movement that does not exist */
    const char *hidden[] = {T.trader2, T.other, T.border, T.guarantor};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        get_export(mrn, hidden[i], &r);
        EXPECT(&r, 404, "not_found");
        reply_free(&r);
    }
    get_export("25KZ0001000000A1J9", T.analyst, &r); /* well-formed, unknown */
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    get_export("25KZ0001000000A1J8", T.analyst, &r); /* wrong check digit */
    EXPECT(&r, 400, "bad_mrn");
    reply_free(&r);
    get_export(mrn, NULL, &r);
    EXPECT(&r, 401, "unauthorized");
    reply_free(&r);
    /* other methods are not routes */
    char path[96];
    snprintf(path, sizeof path, "/v1/movements/%s/export", mrn);
    t_post(path, T.analyst, "{}", &r);
    assert_true(r.status == 405 || r.status == 404);
    reply_free(&r);
}

/* ---- in a corridor ------------------------------------------------------------ */

static struct kv_corridor *corridor;
static struct kv_keypair node_key;
static char keys_dir[64], trust_file[128];

static void rm_keys(void)
{
    char p[160];
    snprintf(p, sizeof p, "%s/keys/node.sk", keys_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/keys/node.pk", keys_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/keys", keys_dir);
    rmdir(p);
    unlink(trust_file);
    rmdir(keys_dir);
}

/* A trust list with KZ's key `pk` (valid from 2025-01-01); heap, free(). */
static struct kv_trust *trust_with(const uint8_t pk[32])
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_trust_key k;
    struct kv_time from;
    kv_trust_init(t);
    kv_time_set(&from, 1735689600, 0);
    if (kv_trust_key_make(&k, pk, &from, NULL) != KV_OK ||
        kv_trust_add_node(t, "KZ", "http://127.0.0.1:7101") != KV_OK ||
        kv_trust_add_key(t, "KZ", &k) != KV_OK)
        abort();
    return t;
}

static int corridor_setup(void **state)
{
    (void)state;
    kv_log_init(2, KV_LOG_ERROR);
    if (kv_crypto_init() != KV_OK || t_start(0, 0, 0) != 0)
        return -1;
    snprintf(keys_dir, sizeof keys_dir, "/tmp/kv-export-XXXXXX");
    if (!mkdtemp(keys_dir))
        return -1;
    snprintf(trust_file, sizeof trust_file, "%s/trust.json", keys_dir);
    char detail[256] = "", err[256] = "";
    if (kv_crypto_keypair_new(&node_key) != KV_OK ||
        kv_crypto_keys_save(keys_dir, &node_key, false, detail, sizeof detail) != 0)
        return -1;
    struct kv_trust *t = trust_with(node_key.pk);
    char *json = NULL;
    size_t len = 0;
    FILE *f = fopen(trust_file, "w");
    if (!f || kv_trust_to_json(t, &json, &len) != KV_OK || fwrite(json, 1, len, f) != len)
        return -1;
    fclose(f);
    free(json);
    free(t);
    struct kv_corridor_config cc = {.store = T.store,
                                    .ref = T.ref,
                                    .country = T_COUNTRY,
                                    .trust_path = trust_file,
                                    .keys_dir = keys_dir,
                                    .now = t_clock};
    if (kv_corridor_new(&cc, &corridor, err, sizeof err) != KV_OK) {
        fprintf(stderr, "corridor: %s\n", err);
        return -1;
    }
    T.api.corridor = corridor; /* read by the handlers at each request */
    t_guarantee(T_GRN, "1000000.00", "EUR");
    return 0;
}

static int corridor_teardown(void **state)
{
    (void)state;
    kv_http_stop(T.http);
    kv_corridor_free(corridor);
    corridor = NULL;
    t_stop();
    rm_keys();
    kv_crypto_keypair_clear(&node_key);
    return 0;
}

/* Fetches and decodes the export of mrn as `token`; the body is exactly
 * what the encoder writes for what it decodes to. */
static void fetch(const char *mrn, const char *token, struct kv_export *ex)
{
    struct reply r;
    struct kv_report rep;
    kv_report_init(&rep);
    get_export(mrn, token, &r);
    EXPECT(&r, 200, NULL);
    kv_export_init(ex);
    if (kv_export_from_json(r.body, r.len, ex, &rep) != KV_OK)
        fail_msg("the export does not decode: %s %s: %s", rep.count ? rep.items[0].rule : "",
                 rep.count ? rep.items[0].pointer : "", rep.count ? rep.items[0].message : "");
    char *again = NULL;
    size_t len = 0;
    assert_int_equal(kv_export_to_json(ex, &again, &len), KV_OK);
    assert_int_equal(len, r.len);
    assert_memory_equal(again, r.body, len);
    free(again);
    kv_report_release(&rep);
    reply_free(&r);
}

static int verify(const struct kv_export *ex, const struct kv_trust *t, struct kv_chain_result *res,
                  struct kv_report *rep)
{
    kv_report_release(rep);
    kv_report_init(rep);
    return kv_export_verify(ex, t, res, rep);
}

static const char *SEALS_OK = "\"controlResult\":\"A1\",\"seals\":[\"KZS002\",\"KZS001\"]";

/* A movement from lodging to write-off: every event exported, signed here
 * and ordered by this node (the owner); intact against the embedded list
 * and an outside copy of it, broken under another KZ key. */
static void test_corridor_life(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "EXP-LIFE-1"}, mrn);
    t_event_ok(mrn, T.dep, "control_decision", T_DEP, "\"control\":false");
    t_event_ok(mrn, T.dep, "release", T_DEP, SEALS_OK);
    t_event_ok(mrn, T.border, "presented", T_BORDER, "\"side\":\"exit\"");
    t_event_ok(mrn, T.des, "arrival", T_DES, NULL);
    t_event_ok(mrn, T.des, "unloading_remarks", T_DES, "\"conform\":true,\"sealsIntact\":true");
    t_event_ok(mrn, T.dep, "write_off", T_DEP, NULL);

    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    fetch(mrn, T.analyst, &ex);
    assert_string_equal(ex.mrn, mrn);
    assert_string_equal(ex.exported_by, "KZ");
    char now[32];
    t_time(now);
    assert_string_equal(ex.exported_at.text, now);
    assert_int_equal(ex.n, 7);
    static const char *const types[] = {"lodged",  "control_decision",  "release",  "presented",
                                        "arrival", "unloading_remarks", "write_off"};
    for (size_t i = 0; i < ex.n; i++) {
        char want[40];
        snprintf(want, sizeof want, "{\"type\":\"%s\"", types[i]);
        assert_int_equal(ex.events[i].seq, i + 1);
        assert_memory_equal(ex.events[i].event, want, strlen(want));
        assert_string_equal(ex.events[i].node, "KZ");
        assert_string_equal(ex.events[i].keyid, node_key.fingerprint);
        assert_string_equal(ex.events[i].order_keyid, node_key.fingerprint);
    }
    /* the lodged declaration, and the node's trust list */
    assert_non_null(ex.declaration);
    uint8_t h[32];
    kv_store_hash(ex.declaration, ex.declaration_len, h);
    assert_memory_equal(h, ex.link0, 32);
    assert_non_null(ex.trust);
    assert_int_equal(ex.trust->n, 1);

    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    assert_true(res.declaration);
    assert_int_equal(res.n_intact, 7);
    struct kv_trust *mine = trust_with(node_key.pk);
    assert_int_equal(verify(&ex, mine, &res, &rep), KV_CHAIN_INTACT);
    free(mine);
    /* an auditor whose list has another key for KZ: every event refused,
     * at both signatures */
    struct kv_keypair other;
    assert_int_equal(kv_crypto_keypair_new(&other), KV_OK);
    struct kv_trust *theirs = trust_with(other.pk);
    assert_int_equal(verify(&ex, theirs, &res, &rep), KV_CHAIN_BROKEN);
    assert_int_equal(res.n_intact, 0);
    assert_int_equal(rep.total, 14);
    assert_string_equal(rep.items[0].rule, "R-CHAIN-KEY");
    assert_string_equal(rep.items[1].rule, "R-CHAIN-ORDKEY");
    free(theirs);
    kv_crypto_keypair_clear(&other);
    kv_export_clear(&ex);

    /* need-to-know holds in a corridor too */
    struct reply r;
    get_export(mrn, T.trader2, &r);
    EXPECT(&r, 404, "not_found");
    reply_free(&r);
    kv_report_release(&rep);
}

/* After an amendment the stored declaration is no longer the lodged one:
 * the export leaves it out and still verifies from link0. */
static void test_corridor_amended(void **state)
{
    (void)state;
    char mrn[KV_MRN_LEN + 1];
    t_lodge(&(struct tdecl){.lrn = "EXP-AMEND-1"}, mrn);
    struct kv_export ex;
    struct kv_chain_result res;
    struct kv_report rep;
    kv_report_init(&rep);
    fetch(mrn, T.trader, &ex);
    assert_non_null(ex.declaration);
    uint8_t link0[32];
    memcpy(link0, ex.link0, 32);
    kv_export_clear(&ex);

    char *d = t_decl(&(struct tdecl){.lrn = "EXP-AMEND-1", .mass = "1300.25"});
    size_t n = strlen(d) + 32;
    char *rest = malloc(n);
    snprintf(rest, n, "\"declaration\":%s", d);
    t_event_ok(mrn, T.trader, "amendment", T_DEP, rest);
    free(rest);
    free(d);

    fetch(mrn, T.trader, &ex);
    assert_null(ex.declaration);
    assert_memory_equal(ex.link0, link0, 32);
    assert_int_equal(ex.n, 2);
    assert_int_equal(verify(&ex, NULL, &res, &rep), KV_CHAIN_INTACT);
    assert_false(res.declaration);
    kv_export_clear(&ex);
    kv_report_release(&rep);
}

int main(void)
{
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_alone_unsealed),
        cmocka_unit_test(test_who_may_export),
    };
    const struct CMUnitTest in_corridor[] = {
        cmocka_unit_test(test_corridor_life),
        cmocka_unit_test(test_corridor_amended),
    };
    int failed = cmocka_run_group_tests_name("alone", alone, group_setup, group_teardown);
    failed += cmocka_run_group_tests_name("in a corridor", in_corridor, corridor_setup,
                                          corridor_teardown);
    return failed;
}
