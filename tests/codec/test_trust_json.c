/*
 * test_trust_json.c — the trust list: the file format in and out, every
 * refusal with its rule and pointer, and the questions asked of the model
 * (which key is valid for which country when, during a rotation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "exchange_test.h"

static char *pk_b64(const char *label)
{
    static char out[4][KV_PK_B64_LEN + 1];
    static int next;
    struct kv_keypair kp;
    ex_keypair(label, &kp);
    char *o = out[next++ % 4];
    kv_b64url_encode(kp.pk, 32, o, KV_PK_B64_LEN + 1);
    return o;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust(), *back = malloc(sizeof *back);
    struct kv_report rep;
    char *json = NULL, *json2 = NULL;
    size_t len, len2;
    ex_add_key(t, "KZ", "KZ-2", "2025-05-01T00:00:00+05:00", "2026-05-01T00:00:00Z");
    assert_int_equal(kv_trust_to_json(t, &json, &len), KV_OK);
    assert_int_equal(strlen(json), len);
    kv_report_init(&rep);
    assert_int_equal(kv_trust_from_json(json, len, NULL, back, &rep), KV_OK);
    assert_int_equal(rep.total, 0);
    assert_int_equal(back->n, 4);
    assert_string_equal(back->nodes[0].country, "KZ");
    assert_string_equal(back->nodes[0].url, "http://127.0.0.1:7101");
    assert_int_equal(back->nodes[0].n_keys, 2);
    for (size_t j = 0; j < 2; j++) {
        const struct kv_trust_key *a = &back->nodes[0].keys[j], *b = &t->nodes[0].keys[j];
        assert_memory_equal(a->pk, b->pk, 32);
        assert_string_equal(a->fingerprint, b->fingerprint);
        assert_string_equal(a->from.text, b->from.text);
        assert_int_equal(a->from.epoch, b->from.epoch);
        assert_int_equal(a->has_until, b->has_until);
    }
    assert_true(back->nodes[0].keys[1].has_until);
    assert_string_equal(back->nodes[0].keys[1].from.text, "2025-05-01T00:00:00+05:00");
    assert_false(back->nodes[0].keys[0].has_until);
    assert_int_equal(kv_trust_to_json(back, &json2, &len2), KV_OK);
    assert_string_equal(json, json2);
    /* the written form: one key per line, null for no end */
    assert_non_null(strstr(json, "\"until\": null}"));
    assert_non_null(strstr(json, "\"until\": \"2026-05-01T00:00:00Z\"}"));
    assert_int_equal(json[len - 1], '\n');
    free(json);
    free(json2);
    kv_report_release(&rep);
    free(back);
    free(t);

    /* the minimal hand-written form: no fingerprint, no until */
    char text[512];
    snprintf(text, sizeof text,
             "{\"nodes\":[{\"country\":\"KZ\",\"url\":\"https://kz.example/x\",\"keys\":[{\"key\":"
             "\"%s\",\"from\":\"2025-01-01T00:00:00Z\"}]}]}",
             pk_b64("KZ"));
    t = malloc(sizeof *t);
    kv_report_init(&rep);
    assert_int_equal(kv_trust_from_json(text, strlen(text), NULL, t, &rep), KV_OK);
    assert_int_equal(t->n, 1);
    assert_false(t->nodes[0].keys[0].has_until);
    kv_report_release(&rep);
    /* an empty list is a valid list */
    assert_int_equal(kv_trust_from_json("{\"nodes\":[]}", 12, NULL, t, &rep), KV_OK);
    assert_int_equal(t->n, 0);
    free(t);
}

/* Parses text and expects its first problem to be rule at pointer. */
static void refused(const char *text, int want_rc, const char *rule, const char *pointer)
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_report rep;
    kv_report_init(&rep);
    int rc = kv_trust_from_json(text, strlen(text), NULL, t, &rep);
    if (rc != want_rc || rep.count == 0 || strcmp(rep.items[0].rule, rule) != 0 ||
        strcmp(rep.items[0].pointer, pointer) != 0) {
        print_error("%s\n -> rc %d, %zu problems; first: %s %s %s\n", text, rc, rep.count,
                    rep.count ? rep.items[0].rule : "", rep.count ? rep.items[0].pointer : "",
                    rep.count ? rep.items[0].message : "");
        fail();
    }
    assert_int_equal(t->n, 0); /* nothing half-loaded */
    kv_report_release(&rep);
    free(t);
}

#define NODE(c, url, keys) "{\"country\":\"" c "\",\"url\":\"" url "\",\"keys\":[" keys "]}"
#define FROM               "\"from\":\"2025-01-01T00:00:00Z\""

static void test_refusals(void **state)
{
    (void)state;
    char k1[200], k2[200], text[2048];
    snprintf(k1, sizeof k1, "{\"key\":\"%s\"," FROM "}", pk_b64("KZ"));
    snprintf(k2, sizeof k2, "{\"key\":\"%s\"," FROM "}", pk_b64("AZ"));

    refused("", KV_EPARSE, "R-TRUST-001", "");
    refused("{\"nodes\":[]", KV_EPARSE, "R-TRUST-001", "");
    refused("{\"nodes\":[],\"nodes\":[]}", KV_EPARSE, "R-TRUST-001", "/nodes");
    refused("[]", KV_EPARSE, "R-TRUST-003", "");
    refused("{}", KV_EPARSE, "R-TRUST-003", "/nodes");
    refused("{\"nodes\":{}}", KV_EPARSE, "R-TRUST-003", "/nodes");
    refused("{\"nodes\":[],\"extra\":1}", KV_EPARSE, "R-TRUST-003", "/extra");
    refused("{\"nodes\":[7]}", KV_EPARSE, "R-TRUST-003", "/nodes/0");

    snprintf(text, sizeof text, "{\"nodes\":[" NODE("kz", "http://a", "%s") "]}", k1);
    refused(text, KV_EPARSE, "R-TRUST-010", "/nodes/0/country");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a", "%s") "," NODE("KZ", "http://b", "%s") "]}", k1,
             k2);
    refused(text, KV_EPARSE, "R-TRUST-011", "/nodes/1/country");
    const char *urls[] = {"ftp://a",       "http://",        "http:///x",     "http://a b",
                          "http://a\\\"b", "127.0.0.1:7101", "http://\\u00e9"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        snprintf(text, sizeof text,
                 "{\"nodes\":[{\"country\":\"KZ\",\"url\":\"%s\",\"keys\":[%s]}]}", urls[i], k1);
        refused(text, KV_EPARSE, "R-TRUST-012", "/nodes/0/url");
    }
    char longurl[300] = "http://";
    memset(longurl + 7, 'a', 200);
    longurl[207] = '\0';
    snprintf(text, sizeof text, "{\"nodes\":[{\"country\":\"KZ\",\"url\":\"%s\",\"keys\":[%s]}]}",
             longurl, k1);
    refused(text, KV_EPARSE, "R-TRUST-012", "/nodes/0/url");

    refused("{\"nodes\":[" NODE("KZ", "http://a", "") "]}", KV_EPARSE, "R-TRUST-025",
            "/nodes/0/keys");
    refused("{\"nodes\":[" NODE("KZ", "http://a", "{\"key\":\"AAAA\"," FROM "}") "]}", KV_EPARSE,
            "R-TRUST-020", "/nodes/0/keys/0/key");
    /* 32 zero bytes: a small-order point, not a key */
    refused("{\"nodes\":[" NODE("KZ", "http://a",
                                "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"," FROM
                                "}") "]}",
            KV_EPARSE, "R-TRUST-020", "/nodes/0/keys/0/key");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a", "{\"key\":\"%s\",\"from\":\"2025-01-01\"}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-021", "/nodes/0/keys/0/from");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a",
                                 "{\"key\":\"%s\"," FROM
                                 ",\"until\":\"2024-12-31T23:00:00Z\"}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-022", "/nodes/0/keys/0/until");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a",
                                 "{\"key\":\"%s\"," FROM
                                 ",\"until\":\"2025-01-01T05:00:00+05:00\"}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-022", "/nodes/0/keys/0/until"); /* the same instant */
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a", "{\"key\":\"%s\"," FROM ",\"until\":7}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-003", "/nodes/0/keys/0/until");
    /* the same key twice: in one node, and in two */
    snprintf(text, sizeof text, "{\"nodes\":[" NODE("KZ", "http://a", "%s,%s") "]}", k1, k1);
    refused(text, KV_EPARSE, "R-TRUST-023", "/nodes/0/keys/1/key");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a", "%s") "," NODE("AZ", "http://b", "%s") "]}", k1,
             k1);
    refused(text, KV_EPARSE, "R-TRUST-023", "/nodes/1/keys/0/key");
    /* a fingerprint that is not the key's */
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE(
                 "KZ", "http://a",
                 "{\"key\":\"%s\",\"fingerprint\":\"0000:0000:0000:0000:0000:0000:0000:0000\"," FROM
                 "}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-024", "/nodes/0/keys/0/fingerprint");
    snprintf(text, sizeof text,
             "{\"nodes\":[" NODE("KZ", "http://a", "{\"key\":\"%s\",\"extra\":1," FROM "}") "]}",
             pk_b64("KZ"));
    refused(text, KV_EPARSE, "R-TRUST-003", "/nodes/0/keys/0/extra");

    /* more keys than a node holds, more nodes than a list holds */
    size_t o = (size_t)snprintf(text, sizeof text,
                                "{\"nodes\":[{\"country\":\"KZ\",\"url\":\"http://a\",\"keys\":[");
    for (int i = 0; i <= KV_TRUST_KEYS_MAX; i++) {
        char label[8];
        snprintf(label, sizeof label, "k%d", i);
        o += (size_t)snprintf(text + o, sizeof text - o, "%s{\"key\":\"%s\"," FROM "}",
                              i ? "," : "", pk_b64(label));
    }
    snprintf(text + o, sizeof text - o, "]}]}");
    refused(text, KV_ELIMIT, "R-TRUST-025", "/nodes/0/keys/8");

    char *many = malloc(80 * 200);
    o = (size_t)snprintf(many, 200, "{\"nodes\":[");
    for (int i = 0; i <= KV_TRUST_NODES_MAX; i++) {
        char label[8];
        snprintf(label, sizeof label, "n%d", i);
        o += (size_t)snprintf(
            many + o, 200,
            "%s{\"country\":\"%c%c\",\"url\":\"http://a\",\"keys\":[{\"key\":\"%s\"," FROM "}]}",
            i ? "," : "", 'A' + i / 26, 'A' + i % 26, pk_b64(label));
    }
    snprintf(many + o, 200, "]}");
    refused(many, KV_ELIMIT, "R-TRUST-013", "/nodes/64");
    free(many);

    /* over the size limit */
    char *big = malloc(KV_TRUST_JSON_MAX + 2);
    memset(big, ' ', KV_TRUST_JSON_MAX + 1);
    big[KV_TRUST_JSON_MAX + 1] = '\0';
    refused(big, KV_ELIMIT, "R-TRUST-002", "");
    free(big);

    /* every problem is listed, not only the first */
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_report rep;
    kv_report_init(&rep);
    const char *multi =
        "{\"nodes\":[{\"country\":\"k\",\"url\":\"x\",\"keys\":[{\"key\":\"A\",\"from\":\"x\"}]}]}";
    assert_int_equal(kv_trust_from_json(multi, strlen(multi), "/trust", t, &rep), KV_EPARSE);
    assert_int_equal(rep.total, 4);
    assert_string_equal(rep.items[0].pointer, "/trust/nodes/0/country");
    kv_report_release(&rep);
    free(t);
}

static void test_model(void **state)
{
    (void)state;
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_keypair kz, kz2, az;
    const struct kv_trust_key *k;
    kv_trust_init(t);
    ex_keypair("KZ", &kz);
    ex_keypair("KZ-2", &kz2);
    ex_keypair("AZ", &az);
    assert_int_equal(kv_trust_add_node(t, "KZ", "http://127.0.0.1:7101"), KV_OK);
    assert_int_equal(kv_trust_add_node(t, "KZ", "http://127.0.0.1:7102"), KV_EINVAL);
    assert_int_equal(kv_trust_add_node(t, "Kz", "http://127.0.0.1:7102"), KV_EINVAL);
    assert_int_equal(kv_trust_add_node(t, "AZ", "127.0.0.1:7102"), KV_EINVAL);
    assert_int_equal(kv_trust_add_node(t, "AZ", "http://127.0.0.1:7102"), KV_OK);
    ex_add_key(t, "KZ", "KZ", "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z");
    ex_add_key(t, "KZ", "KZ-2", "2025-05-01T00:00:00Z", NULL);
    ex_add_key(t, "AZ", "AZ", "2025-01-01T00:00:00Z", NULL);
    struct kv_trust_key dup = t->nodes[0].keys[0];
    assert_int_equal(kv_trust_add_key(t, "AZ", &dup), KV_EINVAL); /* a key has one owner */
    assert_int_equal(kv_trust_add_key(t, "GE", &dup), KV_ENOTFOUND);

    struct kv_time at;
    ex_time("2025-05-15T00:00:00Z", &at);
    assert_int_equal(kv_trust_check(t, "KZ", kz.fingerprint, at.epoch, &k), KV_TRUST_OK);
    assert_memory_equal(k->pk, kz.pk, 32);
    assert_int_equal(kv_trust_check(t, "KZ", kz2.fingerprint, at.epoch, &k), KV_TRUST_OK);
    assert_int_equal(kv_trust_check(t, "KZ", az.fingerprint, at.epoch, &k), KV_TRUST_UNKNOWN_KEY);
    assert_null(k);
    assert_int_equal(kv_trust_check(t, "GE", az.fingerprint, at.epoch, &k), KV_TRUST_UNKNOWN_NODE);
    ex_time("2025-06-01T00:00:00Z", &at);
    assert_int_equal(kv_trust_check(t, "KZ", kz.fingerprint, at.epoch, &k), KV_TRUST_EXPIRED);
    assert_non_null(k);
    assert_int_equal(kv_trust_check(t, "KZ", kz.fingerprint, at.epoch - 1, NULL), KV_TRUST_OK);
    ex_time("2025-04-30T23:59:59Z", &at);
    assert_int_equal(kv_trust_check(t, "KZ", kz2.fingerprint, at.epoch, NULL), KV_TRUST_NOT_YET);
    assert_int_equal(kv_trust_check(t, "KZ", kz2.fingerprint, at.epoch + 1, NULL), KV_TRUST_OK);
    const struct kv_trust_node *n = kv_trust_key_owner(t, az.fingerprint, &k);
    assert_non_null(n);
    assert_string_equal(n->country, "AZ");
    assert_null(kv_trust_key_owner(t, "0000:0000:0000:0000:0000:0000:0000:0000", NULL));
    assert_string_equal(kv_trust_verdict_text(KV_TRUST_EXPIRED), "key no longer valid");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
