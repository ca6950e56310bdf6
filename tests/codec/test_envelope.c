/*
 * test_envelope.c — the signed envelope: a known answer, every rejection
 * reason with its rule id, key rotation, tampering with any byte, the
 * header's shape, and the body handed over as the exact bytes sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "codec/envelope.h"
#include "exchange_test.h"

#define KAT_HEADER                                                                                 \
    "keyid=e100:d465:f12c:52d9:b512:1a7b:6071:6cdd, "                                              \
    "sig=KuLrTSgcUxXwXPPY4xAdGsFuwd9CVSTizdqFafeN1AE-ps21m-LrBLARxOj2c6gC31_r1InDziQwmtb5mwyIBg"
#define BODY                                                                                       \
    "{\"declaration\": {\"lrn\": \"KZ-2025-0001\"}, \"itinerary\": [\"AZ\", \"GE\", \"TR\"]}"

static void base_env(struct kv_envelope *e, const char *sender, const char *receiver,
                     enum kv_msg_kind kind, const char *mrn, const char *body)
{
    memset(e, 0, sizeof(*e));
    e->v = 1;
    memcpy(e->sender, sender, 3);
    memcpy(e->receiver, receiver, 3);
    memcpy(e->id, "0123456789abcdef0123456789abcdef", 33);
    e->kind = kind;
    memcpy(e->mrn, mrn, KV_MRN_LEN + 1);
    e->seq = 1;
    ex_time("2025-03-01T08:00:00+05:00", &e->time);
    e->body = body;
    e->body_len = strlen(body);
}

/* Encodes and signs with the key `label`: bytes in *out, header in hdr. */
static void make(const struct kv_envelope *e, const char *label, char **out, size_t *len,
                 char hdr[KV_SIG_HEADER_MAX])
{
    struct kv_keypair kp;
    struct kv_env_verdict why;
    ex_keypair(label, &kp);
    assert_int_equal(kv_envelope_encode(e, out, len, &why), KV_OK);
    assert_int_equal(kv_envelope_sign(&kp, *out, *len, hdr, KV_SIG_HEADER_MAX), KV_OK);
}

static enum kv_env_reject check(const struct kv_trust *t, const char *me, const char *bytes,
                                size_t len, const char *hdr, struct kv_env_verdict *why)
{
    struct kv_envelope env;
    enum kv_env_reject r =
        kv_envelope_verify(t, me, bytes, len, hdr, hdr ? strlen(hdr) : 0, &env, why);
    if (r == KV_ENV_OK) {
        assert_non_null(env.body);
        assert_true(env.body >= bytes && env.body + env.body_len <= bytes + len);
    } else {
        assert_string_equal(why->rule, kv_env_reject_rule(r));
        assert_true(why->message[0] != '\0');
        assert_null(env.body);
    }
    return r;
}

/* The known answer: these bytes and this header (docs/exchange.md shows
 * them; tests/cli/exchange_interop.sh checks them with another library). */
static void test_known_answer(void **state)
{
    (void)state;
    struct kv_envelope e;
    char *out = NULL, hdr[KV_SIG_HEADER_MAX];
    size_t len = 0;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, BODY);
    make(&e, "KZ", &out, &len, hdr);
    assert_string_equal(out,
                        "{\"v\":1,\"sender\":\"KZ\",\"receiver\":\"AZ\",\"id\":"
                        "\"0123456789abcdef0123456789abcdef\",\"kind\":\"CD050C\",\"mrn\":"
                        "\"25KZ0001000000A1J9\",\"seq\":1,\"time\":\"2025-03-01T08:00:00+05:00\","
                        "\"body\":" BODY "}");
    assert_int_equal(len, strlen(out));
    assert_string_equal(hdr, KAT_HEADER);
    free(out);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_envelope e, d;
    struct kv_env_verdict why;
    char *out = NULL, hdr[KV_SIG_HEADER_MAX];
    size_t len = 0;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, BODY);
    e.seq = 4294967295u;
    make(&e, "KZ", &out, &len, hdr);
    assert_int_equal(kv_envelope_verify(t, "AZ", out, len, hdr, strlen(hdr), &d, &why), KV_ENV_OK);
    assert_string_equal(why.rule, "");
    assert_string_equal(d.sender, "KZ");
    assert_string_equal(d.receiver, "AZ");
    assert_string_equal(d.id, e.id);
    assert_int_equal(d.kind, KV_MSG_CD050C);
    assert_string_equal(d.mrn, EX_MRN_KZ);
    assert_int_equal(d.seq, 4294967295u);
    assert_string_equal(d.time.text, "2025-03-01T08:00:00+05:00");
    assert_int_equal(d.body_len, strlen(BODY));
    assert_memory_equal(d.body, BODY, d.body_len);

    /* the callback forms are the same functions */
    struct kv_keypair kp;
    char hdr2[KV_SIG_HEADER_MAX];
    ex_keypair("KZ", &kp);
    assert_int_equal(kv_envelope_sign_cb(&kp, out, len, hdr2, sizeof hdr2), KV_OK);
    assert_string_equal(hdr, hdr2);
    struct kv_envelope_verifier v = {t, "AZ"};
    assert_int_equal(kv_envelope_verify_cb(&v, out, len, hdr, strlen(hdr), &d, &why), KV_ENV_OK);
    assert_int_equal(kv_envelope_sign(&kp, out, len, hdr2, 100), KV_EINVAL); /* too small */
    free(out);
    free(t);
}

/* Every kind, its name and its direction round-trip. */
static void test_kinds(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    for (int k = 1; k < KV_MSG__COUNT; k++) {
        enum kv_msg_kind back;
        const char *name = kv_msg_kind_name((enum kv_msg_kind)k);
        assert_non_null(name);
        assert_true(kv_msg_kind_from_name(name, strlen(name), &back));
        assert_int_equal(back, k);
        /* a message that goes the kind's way is accepted */
        enum kv_msg_direction dir = kv_msg_kind_direction((enum kv_msg_kind)k);
        const char *from = dir == KV_MSG_TO_OWNER ? "GE" : "KZ";
        const char *to = dir == KV_MSG_TO_OWNER ? "KZ" : "GE";
        struct kv_envelope e;
        struct kv_env_verdict why;
        char *out = NULL, hdr[KV_SIG_HEADER_MAX];
        size_t len;
        base_env(&e, from, to, (enum kv_msg_kind)k, EX_MRN_KZ,
                 "{\"office\":\"GE000100\",\"reason\":\"presented\"}");
        make(&e, from, &out, &len, hdr);
        assert_int_equal(check(t, to, out, len, hdr, &why), KV_ENV_OK);
        free(out);
    }
    assert_null(kv_msg_kind_name(KV_MSG_UNKNOWN));
    assert_null(kv_msg_kind_name(KV_MSG__COUNT));
    assert_false(kv_msg_kind_from_name("cd050c", 6, NULL));
    assert_false(kv_msg_kind_from_name("CD050C ", 7, NULL));
    free(t);
}

/* Replaces the first `from` in s by `to` (a fresh copy). */
static char *subst(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) - strlen(from) + strlen(to);
    char *r = malloc(n + 1);
    size_t pre = (size_t)(at - s);
    memcpy(r, s, pre);
    memcpy(r + pre, to, strlen(to));
    memcpy(r + pre + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    return r;
}

/* Sign `bytes` as given (no encoder) with the key of label and check. */
static enum kv_env_reject check_raw(const struct kv_trust *t, const char *me, const char *bytes,
                                    const char *label, struct kv_env_verdict *why)
{
    struct kv_keypair kp;
    char hdr[KV_SIG_HEADER_MAX];
    ex_keypair(label, &kp);
    assert_int_equal(kv_envelope_sign(&kp, bytes, strlen(bytes), hdr, sizeof hdr), KV_OK);
    return check(t, me, bytes, strlen(bytes), hdr, why);
}

static void test_malformed(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_env_verdict why;
    struct kv_envelope e;
    char *good = NULL, hdr[KV_SIG_HEADER_MAX];
    size_t len;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    make(&e, "KZ", &good, &len, hdr);

    struct {
        const char *from, *to, *pointer, *words;
    } cases[] = {
        {"{\"v\":1,", "[", "", "not JSON"},
        {"{\"v\":1,", "{\"v\":2,", "/v", "version"},
        {"{\"v\":1,", "{\"v\":1.0,", "/v", "version"},
        {"{\"v\":1,", "{\"v\":\"1\",", "/v", "version"},
        {"{\"v\":1,", "{", "/v", "missing"},
        {"{\"v\":1,", "{\"v\":1,\"v\":1,", "/v", "twice"},
        {"{\"v\":1,", "{\"v\":1,\"extra\":0,", "", "unknown member"},
        {"\"KZ\",\"receiver\"", "\"kz\",\"receiver\"", "/sender", "country"},
        {"\"KZ\",\"receiver\"", "\"KZZ\",\"receiver\"", "/sender", "country"},
        {"\"KZ\",\"receiver\"", "7,\"receiver\"", "/sender", "string"},
        {"\"AZ\",\"id\"", "\"KZ\",\"id\"", "/receiver", "itself"},
        {"\"AZ\",\"id\"", "null,\"id\"", "/receiver", "string"},
        {"0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef", "/id",
         "message id"},
        {"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcde", "/id",
         "message id"},
        {"\"25KZ0001000000A1J9\"", "\"25KZ0001000000A1J8\"", "/mrn", "MRN"},
        {"\"25KZ0001000000A1J9\"", "\"\"", "/mrn", "MRN"},
        {"\"seq\":1,", "\"seq\":0,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":-1,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":4294967296,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":99999999999999999999999,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":1.5,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":1e0,", "/seq", "integer"},
        {"\"seq\":1,", "\"seq\":\"1\",", "/seq", "integer"},
        {"2025-03-01T08:00:00+05:00", "2025-02-30T08:00:00+05:00", "/time", "RFC 3339"},
        {"2025-03-01T08:00:00+05:00", "2025-03-01 08:00:00", "/time", "RFC 3339"},
        {"\"body\":{}", "\"body\":[]", "/body", "object"},
        {"\"body\":{}", "\"body\":\"{}\"", "/body", "object"},
        {"\"body\":{}", "\"body\":{\"a\":1,\"a\":2}", "/body/a", "twice"},
        {"\"body\":{}}", "\"body\":{}} x", "", "not JSON"},
        {"\"body\":{}}", "\"body\":{}", "", "not JSON"},
        {"\"body\":{}", "\"body\":{\"s\":\"\\ud800\"}", "", "not JSON"},
        {"\"body\":{}", "\"body\":{\"s\":\"\xc3\"}", "", "not JSON"},
        {"\"body\":{}", "\"body\":{\"n\":NaN}", "", "not JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *bad = subst(good, cases[i].from, cases[i].to);
        enum kv_env_reject r = check_raw(t, "AZ", bad, "KZ", &why);
        if (r != KV_ENV_MALFORMED || strcmp(why.pointer, cases[i].pointer) != 0 ||
            !strstr(why.message, cases[i].words)) {
            print_error("case %zu: %s -> %d %s [%s]: %s\n", i, bad, r, why.rule, why.pointer,
                        why.message);
            fail();
        }
        assert_string_equal(why.rule, "R-ENV-FORMAT");
        assert_int_equal(kv_env_reject_status(r), 400);
        free(bad);
    }

    /* empty, a NUL byte, not an object, white space only */
    assert_int_equal(check(t, "AZ", "", 0, hdr, &why), KV_ENV_MALFORMED);
    assert_int_equal(check(t, "AZ", "{\"v\":1}\0", 8, hdr, &why), KV_ENV_MALFORMED);
    assert_non_null(strstr(why.message, "NUL"));
    assert_int_equal(check_raw(t, "AZ", "  ", "KZ", &why), KV_ENV_MALFORMED);
    assert_int_equal(check_raw(t, "AZ", "42", "KZ", &why), KV_ENV_MALFORMED);
    assert_int_equal(check_raw(t, "AZ", "\"x\"", "KZ", &why), KV_ENV_MALFORMED);

    /* deeper than the limit */
    char deep[400];
    size_t o = (size_t)snprintf(deep, sizeof deep, "%.*s\"x\":", (int)(strlen(good) - 2), good);
    for (int i = 0; i < 45; i++)
        deep[o++] = '[';
    for (int i = 0; i < 45; i++)
        deep[o++] = ']';
    memcpy(deep + o, "}}", 3);
    assert_int_equal(check_raw(t, "AZ", deep, "KZ", &why), KV_ENV_OVERSIZED);
    assert_non_null(strstr(why.message, "deep"));
    free(good);
    free(t);
}

static void test_header(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_env_verdict why;
    struct kv_envelope e;
    char *out = NULL, hdr[KV_SIG_HEADER_MAX], h2[300];
    size_t len;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, BODY);
    make(&e, "KZ", &out, &len, hdr);

    assert_int_equal(check(t, "AZ", out, len, NULL, &why), KV_ENV_MALFORMED);
    assert_string_equal(why.pointer, "header");
    /* surrounding white space is trimmed (HTTP does it too) */
    snprintf(h2, sizeof h2, " \t%s \t", hdr);
    assert_int_equal(check(t, "AZ", out, len, h2, &why), KV_ENV_OK);

    const char *sig = strstr(hdr, "sig=") + 4;
    /* other order, separators, case, quoting, padding, lengths, extras */
    const char *fmts[] = {
        "",
        "keyid=%1$s",
        "sig=%2$s, keyid=%1$s",
        "keyid=%1$s,sig=%2$s",
        "keyid=%1$s;  sig=%2$s",
        "KeyId=%1$s, sig=%2$s",
        "keyid=%1$s, sig=%2$s=",
        "keyid=%1$s, sig=%2$s==",
        "keyid=\"%1$s\", sig=%2$s",
        "keyid=%1$s, sig=%2$.85s",
        "keyid=%1$.38s, sig=%2$s",
        "keyid=%1$s, sig=%2$s, x=1",
    };
    char fp[KV_FP_LEN + 1];
    memcpy(fp, hdr + 6, KV_FP_LEN);
    fp[KV_FP_LEN] = '\0';
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        snprintf(h2, sizeof h2, fmts[i], fp, sig);
        if (check(t, "AZ", out, len, h2, &why) != KV_ENV_MALFORMED)
            fail_msg("header accepted: %s", h2);
        assert_string_equal(why.pointer, "header");
    }
    /* the signature in the standard base64 alphabet, or with stray low bits */
    snprintf(h2, sizeof h2, "%s", hdr);
    char *s = strstr(h2, "sig=") + 4;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '-')
            s[i] = '+';
        else if (s[i] == '_')
            s[i] = '/';
    }
    if (strcmp(h2, hdr) != 0)
        assert_int_equal(check(t, "AZ", out, len, h2, &why), KV_ENV_MALFORMED);

    /* header parser alone */
    char keyid[KV_FP_LEN + 1];
    uint8_t sigb[KV_SIG_LEN];
    assert_int_equal(kv_envelope_header_parse(hdr, strlen(hdr), keyid, sigb), KV_OK);
    assert_string_equal(keyid, fp);
    assert_int_equal(kv_envelope_header_parse(hdr, strlen(hdr) - 1, keyid, sigb), KV_EPARSE);
    free(out);
    free(t);
}

static void test_rejections(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_env_verdict why;
    struct kv_envelope e;
    char *out = NULL, hdr[KV_SIG_HEADER_MAX];
    size_t len;

    /* oversized: refused before anything is parsed */
    char *big = malloc(KV_ENVELOPE_MAX + 1);
    memset(big, ' ', KV_ENVELOPE_MAX + 1);
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, BODY);
    make(&e, "KZ", &out, &len, hdr);
    assert_int_equal(check(t, "AZ", big, KV_ENVELOPE_MAX + 1, hdr, &why), KV_ENV_OVERSIZED);
    assert_string_equal(why.rule, "R-ENV-SIZE");
    assert_int_equal(kv_env_reject_status(KV_ENV_OVERSIZED), 413);
    assert_int_equal(kv_envelope_decode(big, KV_ENVELOPE_MAX + 1, &e, &why), KV_ENV_OVERSIZED);
    /* exactly at the limit: not oversized (padding of white space is allowed) */
    memcpy(big, out, len);
    assert_int_equal(kv_envelope_decode(big, KV_ENVELOPE_MAX, &e, &why), KV_ENV_OK);
    free(big);
    /* the encoder refuses to build one over the limit */
    char *hugebody = malloc(KV_ENVELOPE_MAX);
    memset(hugebody, ' ', KV_ENVELOPE_MAX);
    hugebody[0] = '{';
    hugebody[1] = '}';
    hugebody[KV_ENVELOPE_MAX - 1] = 'x';
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    e.body = hugebody;
    e.body_len = KV_ENVELOPE_MAX;
    char *o2 = NULL;
    size_t l2;
    assert_int_equal(kv_envelope_encode(&e, &o2, &l2, &why), KV_EINVAL); /* not one object */
    free(hugebody);
    free(out);

    /* unknown kind */
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    make(&e, "KZ", &out, &len, hdr);
    char *k = subst(out, "CD050C", "CD999C");
    assert_int_equal(check_raw(t, "AZ", k, "KZ", &why), KV_ENV_KIND);
    assert_string_equal(why.rule, "R-ENV-KIND");
    assert_string_equal(why.pointer, "/kind");
    free(k);
    k = subst(out, "CD050C", "cd050c");
    assert_int_equal(check_raw(t, "AZ", k, "KZ", &why), KV_ENV_KIND);
    free(k);

    /* addressed to another node */
    assert_int_equal(check(t, "GE", out, len, hdr, &why), KV_ENV_RECEIVER);
    assert_string_equal(why.rule, "R-ENV-RECEIVER");
    assert_non_null(strstr(why.message, "addressed to AZ; this node is GE"));
    assert_int_equal(kv_env_reject_status(KV_ENV_RECEIVER), 421);
    free(out);

    /* a sender not in the trust list (with its own, unknown key) */
    base_env(&e, "UZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    make(&e, "UZ", &out, &len, hdr);
    assert_int_equal(check(t, "AZ", out, len, hdr, &why), KV_ENV_SENDER);
    assert_string_equal(why.rule, "R-ENV-SENDER");
    assert_int_equal(kv_env_reject_status(KV_ENV_SENDER), 403);
    free(out);

    /* signed by AZ's key but claiming to be KZ */
    base_env(&e, "KZ", "GE", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    make(&e, "AZ", &out, &len, hdr);
    assert_int_equal(check(t, "GE", out, len, hdr, &why), KV_ENV_KEY);
    assert_string_equal(why.rule, "R-ENV-KEY");
    assert_non_null(strstr(why.message, "is a key of AZ, not of the sender KZ"));
    free(out);
    /* signed by a key nobody knows */
    make(&e, "stranger", &out, &len, hdr);
    assert_int_equal(check(t, "GE", out, len, hdr, &why), KV_ENV_KEY);
    assert_non_null(strstr(why.message, "is not a key of the sender KZ"));
    /* a KZ key id with a signature made by another key */
    struct kv_keypair kz, other;
    ex_keypair("KZ", &kz);
    ex_keypair("stranger", &other);
    memcpy(other.fingerprint, kz.fingerprint, sizeof kz.fingerprint);
    assert_int_equal(kv_envelope_sign(&other, out, len, hdr, sizeof hdr), KV_OK);
    assert_int_equal(check(t, "GE", out, len, hdr, &why), KV_ENV_SIGNATURE);
    assert_string_equal(why.rule, "R-ENV-SIG");
    assert_string_equal(why.pointer, "header");
    free(out);

    /* direction: a CD050C must come from the MRN's country */
    base_env(&e, "AZ", "GE", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    make(&e, "AZ", &out, &len, hdr);
    assert_int_equal(check(t, "GE", out, len, hdr, &why), KV_ENV_ENTITLED);
    assert_string_equal(why.rule, "R-ENV-ENTITLED");
    assert_non_null(strstr(why.message, "a CD050C goes from the movement's owner KZ"));
    free(out);
    /* a CD118C must go to the owner */
    base_env(&e, "GE", "AZ", KV_MSG_CD118C, EX_MRN_KZ, "{}");
    make(&e, "GE", &out, &len, hdr);
    assert_int_equal(check(t, "AZ", out, len, hdr, &why), KV_ENV_ENTITLED);
    free(out);
    /* an ack between two countries neither of which owns the movement */
    base_env(&e, "GE", "AZ", KV_MSG_ACK, EX_MRN_KZ, "{}");
    make(&e, "GE", &out, &len, hdr);
    assert_int_equal(check(t, "AZ", out, len, hdr, &why), KV_ENV_ENTITLED);
    free(out);
    base_env(&e, "GE", "KZ", KV_MSG_ACK, EX_MRN_KZ, "{}");
    make(&e, "GE", &out, &len, hdr);
    assert_int_equal(check(t, "KZ", out, len, hdr, &why), KV_ENV_OK);
    free(out);

    /* a query must show its reason: an office of the asking country */
    const char *bodies[] = {"{}", "{\"office\":7}", "{\"office\":\"AZ000100\"}",
                            "{\"office\":\"GE0001\"}", "{\"office\":\"GE00010x\"}"};
    for (int kind = KV_MSG_CD002C; kind <= KV_MSG_CD114C; kind += KV_MSG_CD114C - KV_MSG_CD002C) {
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
            base_env(&e, "GE", "KZ", (enum kv_msg_kind)kind, EX_MRN_KZ, bodies[i]);
            make(&e, "GE", &out, &len, hdr);
            assert_int_equal(check(t, "KZ", out, len, hdr, &why), KV_ENV_REASON);
            assert_string_equal(why.rule, "R-ENV-REASON");
            assert_string_equal(why.pointer, "/body/office");
            free(out);
        }
        base_env(&e, "GE", "KZ", (enum kv_msg_kind)kind, EX_MRN_KZ, "{\"office\":\"GE000100\"}");
        make(&e, "GE", &out, &len, hdr);
        assert_int_equal(check(t, "KZ", out, len, hdr, &why), KV_ENV_OK);
        free(out);
    }
    free(t);
}

/* Two keys during a rotation; the old one refused after its end, the new
 * one before its start. */
static void test_rotation(void **state)
{
    (void)state;
    struct kv_trust *t = malloc(sizeof *t);
    kv_trust_init(t);
    assert_int_equal(kv_trust_add_node(t, "KZ", "http://127.0.0.1:7101"), KV_OK);
    assert_int_equal(kv_trust_add_node(t, "AZ", "http://127.0.0.1:7102"), KV_OK);
    ex_add_key(t, "KZ", "KZ", "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z");
    ex_add_key(t, "KZ", "KZ-2", "2025-05-01T00:00:00Z", NULL);
    ex_add_key(t, "AZ", "AZ", "2025-01-01T00:00:00Z", NULL);

    struct {
        const char *label, *time;
        enum kv_env_reject want;
    } cases[] = {
        {"KZ", "2024-12-31T23:59:59Z", KV_ENV_KEY_TIME}, /* before the first key */
        {"KZ", "2025-01-01T00:00:00Z", KV_ENV_OK},       /* from is inclusive */
        {"KZ", "2025-04-30T23:59:59Z", KV_ENV_OK},
        {"KZ-2", "2025-04-30T23:59:59Z", KV_ENV_KEY_TIME}, /* new key not yet valid */
        {"KZ", "2025-05-15T12:00:00Z", KV_ENV_OK},         /* both valid */
        {"KZ-2", "2025-05-15T12:00:00Z", KV_ENV_OK},
        {"KZ", "2025-06-01T04:59:59+05:00", KV_ENV_OK},  /* 23:59:59Z: still valid */
        {"KZ", "2025-06-01T00:00:00Z", KV_ENV_KEY_TIME}, /* until is exclusive */
        {"KZ", "2025-06-01T05:00:00+05:00", KV_ENV_KEY_TIME},
        {"KZ-2", "2025-06-01T00:00:00Z", KV_ENV_OK},
        {"KZ", "2026-01-01T00:00:00Z", KV_ENV_KEY_TIME}, /* old key after until: refused */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct kv_envelope e;
        struct kv_env_verdict why;
        char *out = NULL, hdr[KV_SIG_HEADER_MAX];
        size_t len;
        base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
        ex_time(cases[i].time, &e.time);
        make(&e, cases[i].label, &out, &len, hdr);
        enum kv_env_reject r = check(t, "AZ", out, len, hdr, &why);
        if (r != cases[i].want)
            fail_msg("case %zu (%s at %s): %d %s", i, cases[i].label, cases[i].time, r,
                     why.message);
        if (r == KV_ENV_KEY_TIME) {
            assert_string_equal(why.rule, "R-ENV-KEYTIME");
            assert_string_equal(why.pointer, "/time");
        }
        free(out);
    }
    free(t);
}

/* Changing any bit of any byte of a signed envelope is never accepted. */
static void test_tamper_every_byte(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_envelope e;
    struct kv_env_verdict why;
    char *out = NULL, hdr[KV_SIG_HEADER_MAX];
    size_t len;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, BODY);
    make(&e, "KZ", &out, &len, hdr);
    size_t sig_refusals = 0;
    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            out[i] ^= (char)(1u << bit);
            enum kv_env_reject r = check(t, "AZ", out, len, hdr, &why);
            if (r == KV_ENV_OK)
                fail_msg("byte %zu bit %u changed and still accepted", i, bit);
            sig_refusals += r == KV_ENV_SIGNATURE;
            out[i] ^= (char)(1u << bit);
        }
    }
    assert_true(sig_refusals > len); /* most changes reach the signature check */
    /* and every bit of the signature */
    size_t hl = strlen(hdr);
    for (size_t i = hl - KV_SIG_B64_LEN; i < hl; i++) {
        char keep = hdr[i];
        hdr[i] = keep == 'A' ? 'B' : 'A';
        enum kv_env_reject r = check(t, "AZ", out, len, hdr, &why);
        assert_true(r == KV_ENV_SIGNATURE || r == KV_ENV_MALFORMED);
        hdr[i] = keep;
    }
    assert_int_equal(check(t, "AZ", out, len, hdr, &why), KV_ENV_OK);
    free(out);
    free(t);
}

/* The body handed over is the exact text sent, wherever it sits. */
static void test_body_bytes(void **state)
{
    (void)state;
    struct kv_trust *t = ex_trust();
    struct kv_env_verdict why;
    struct kv_envelope d;
    struct kv_keypair kp;
    char hdr[KV_SIG_HEADER_MAX];
    ex_keypair("KZ", &kp);
    const char *body = "{ \"body\" : {\"v\":2}, \"x\" : [1, 2.50, \"}\\\"{\"], \"y\":\"\\u00e9\" }";
    char text[1024];
    /* body first, escaped member name, white space everywhere */
    snprintf(text, sizeof text,
             " {\n \"b\\u006fdy\" :\t%s ,\"v\":1,\"sender\":\"KZ\",\"receiver\":\"AZ\",\"id\":"
             "\"0123456789abcdef0123456789abcdef\",\"kind\":\"CD050C\",\"mrn\":\"%s\",\"seq\":7,"
             "\"time\":\"2025-03-01T08:00:00Z\" } \n",
             body, EX_MRN_KZ);
    assert_int_equal(kv_envelope_sign(&kp, text, strlen(text), hdr, sizeof hdr), KV_OK);
    assert_int_equal(kv_envelope_verify(t, "AZ", text, strlen(text), hdr, strlen(hdr), &d, &why),
                     KV_ENV_OK);
    assert_int_equal(d.body_len, strlen(body));
    assert_memory_equal(d.body, body, d.body_len);
    assert_int_equal(d.seq, 7);

    /* the encoder copies the body verbatim, trimming outer white space */
    struct kv_envelope e;
    char *out = NULL;
    size_t len;
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "\n  {\"a\": [ 1 ,2 ]}\t ");
    assert_int_equal(kv_envelope_encode(&e, &out, &len, &why), KV_OK);
    assert_non_null(strstr(out, ",\"body\":{\"a\": [ 1 ,2 ]}}"));
    assert_int_equal(kv_envelope_decode(out, len, &d, &why), KV_ENV_OK);
    assert_int_equal(d.body_len, strlen("{\"a\": [ 1 ,2 ]}"));
    free(out);
    /* ... and refuses what it would not accept */
    const char *bad[] = {"", "[]", "{\"a\":1,\"a\":1}", "{", "{} {}", "{\"a\":01}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, bad[i]);
        assert_int_not_equal(kv_envelope_encode(&e, &out, &len, &why), KV_OK);
        assert_null(out);
    }
    base_env(&e, "KZ", "KZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    assert_int_equal(kv_envelope_encode(&e, &out, &len, &why), KV_EINVAL);
    base_env(&e, "KZ", "AZ", KV_MSG_UNKNOWN, EX_MRN_KZ, "{}");
    assert_int_equal(kv_envelope_encode(&e, &out, &len, &why), KV_EINVAL);
    base_env(&e, "KZ", "AZ", KV_MSG_CD050C, EX_MRN_KZ, "{}");
    e.seq = 0;
    assert_int_equal(kv_envelope_encode(&e, &out, &len, &why), KV_EINVAL);
    free(t);
}

/* An envelope made by another implementation, laid out differently
 * (tests/cli/exchange_interop.py writes it): accepted, body exact. */
static void test_other_implementation(void **state)
{
    (void)state;
    const char *dir = KV_SOURCE_DIR "/tests/golden/exchange/";
    char path[512], *bytes = NULL, hdr[256];
    snprintf(path, sizeof path, "%senvelope-other.json", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    bytes = malloc(4096);
    size_t len = fread(bytes, 1, 4095, f);
    fclose(f);
    snprintf(path, sizeof path, "%senvelope-other.header", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    size_t hl = fread(hdr, 1, sizeof hdr - 1, f);
    fclose(f);
    while (hl && hdr[hl - 1] == '\n')
        hl--;
    hdr[hl] = '\0';

    struct kv_trust *t = ex_trust();
    struct kv_envelope d;
    struct kv_env_verdict why;
    assert_int_equal(kv_envelope_verify(t, "KZ", bytes, len, hdr, hl, &d, &why), KV_ENV_OK);
    assert_int_equal(d.kind, KV_MSG_CD114C);
    assert_int_equal(d.seq, 3);
    assert_string_equal(d.sender, "GE");
    const char *body = "{\"office\": \"GE000500\",  \"note\": \"Tbilisi \\u2192 Kars\", "
                       "\"nested\": {\"body\": [1, 2.50, \"}\"]}}";
    assert_int_equal(d.body_len, strlen(body));
    assert_memory_equal(d.body, body, d.body_len);
    bytes[len - 3] = ' '; /* white space for white space: still the same JSON */
    assert_int_equal(kv_envelope_verify(t, "KZ", bytes, len, hdr, hl, &d, &why), KV_ENV_SIGNATURE);
    free(bytes);
    free(t);
}

static void test_statuses(void **state)
{
    (void)state;
    assert_int_equal(kv_env_reject_status(KV_ENV_OK), 200);
    for (int r = 1; r < KV_ENV__COUNT; r++) {
        int s = kv_env_reject_status((enum kv_env_reject)r);
        assert_true(s >= 400 && s < 600);
        assert_true(strncmp(kv_env_reject_rule((enum kv_env_reject)r), "R-ENV-", 6) == 0);
    }
    assert_int_equal(kv_env_reject_status(KV_ENV__COUNT), 500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_kinds),        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_header),       cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_rotation),     cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_body_bytes),   cmocka_unit_test(test_other_implementation),
        cmocka_unit_test(test_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
