/*
 * test_crypto.c — the libsodium wrapper: known answers (RFC 8032 Ed25519,
 * BLAKE2b-256, RFC 4648 base64url), strict codecs, and the key files with
 * their permission checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "crypto/crypto.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
    assert_int_equal(kv_hex_decode_exact(h, strlen(h), out, n), KV_OK);
}

/* RFC 8032 §7.1, TEST 1 and TEST 2. */
static void test_ed25519_rfc8032(void **state)
{
    (void)state;
    struct {
        const char *seed, *pk, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
         "cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d"
         "0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t seed[32], pk[32], sig[64], got[64], msg[8];
        size_t ml = strlen(v[i].msg) / 2;
        struct kv_keypair kp;
        unhex(v[i].seed, seed, 32);
        unhex(v[i].pk, pk, 32);
        unhex(v[i].sig, sig, 64);
        if (ml)
            unhex(v[i].msg, msg, ml);
        assert_int_equal(kv_crypto_keypair_from_seed(&kp, seed), KV_OK);
        assert_memory_equal(kp.pk, pk, 32);
        kv_crypto_sign(&kp, msg, ml, got);
        assert_memory_equal(got, sig, 64);
        assert_true(kv_crypto_verify(pk, msg, ml, sig));
        assert_true(kv_crypto_pk_ok(pk));
        /* any flipped bit of the signature or message fails */
        for (size_t b = 0; b < 64 * 8; b += 7) {
            got[b / 8] ^= (uint8_t)(1u << (b % 8));
            assert_false(kv_crypto_verify(pk, msg, ml, got));
            got[b / 8] ^= (uint8_t)(1u << (b % 8));
        }
        if (ml) {
            msg[0] ^= 1;
            assert_false(kv_crypto_verify(pk, msg, ml, sig));
        }
        kv_crypto_keypair_clear(&kp);
        uint8_t zero[sizeof kp] = {0};
        assert_memory_equal(&kp, zero, sizeof kp);
    }
}

static void test_small_order_key_refused(void **state)
{
    (void)state;
    uint8_t pk[32] = {1}; /* the identity point: small order */
    uint8_t sig[64] = {0};
    assert_false(kv_crypto_pk_ok(pk));
    assert_false(kv_crypto_verify(pk, "", 0, sig));
    memset(pk, 0, sizeof pk);
    assert_false(kv_crypto_pk_ok(pk));
}

static void test_blake2b(void **state)
{
    (void)state;
    uint8_t h[32], want[32];
    kv_crypto_hash("", 0, h);
    unhex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", want, 32);
    assert_memory_equal(h, want, 32);
    kv_crypto_hash("abc", 3, h);
    unhex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319", want, 32);
    assert_memory_equal(h, want, 32);
    /* parts hash as their concatenation */
    struct kv_crypto_part parts[] = {{"a", 1}, {"", 0}, {"bc", 2}};
    kv_crypto_hash_parts(parts, 3, h);
    assert_memory_equal(h, want, 32);
}

static void test_fingerprint(void **state)
{
    (void)state;
    uint8_t pk[32], h[32];
    char fp[KV_FP_LEN + 1], hex[65];
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk, 32);
    kv_crypto_fingerprint(pk, fp);
    assert_int_equal(strlen(fp), KV_FP_LEN);
    assert_true(kv_crypto_fingerprint_ok(fp, strlen(fp)));
    /* the first 16 bytes of BLAKE2b-256(pk), in groups of 4 hex digits */
    kv_crypto_hash(pk, 32, h);
    kv_hex_encode(h, 16, hex);
    for (size_t g = 0; g < 8; g++)
        assert_memory_equal(fp + 5 * g, hex + 4 * g, 4);
    /* computed independently (Python hashlib.blake2b(pk, digest_size=32)) */
    assert_string_equal(fp, "7849:ac30:4968:0be1:ef76:2efe:0d36:e017");
    assert_false(kv_crypto_fingerprint_ok("7849:AC30:4968:0be1:ef76:2efe:0d36:e017", KV_FP_LEN));
    assert_false(kv_crypto_fingerprint_ok("7849-ac30:4968:0be1:ef76:2efe:0d36:e017", KV_FP_LEN));
    assert_false(kv_crypto_fingerprint_ok(fp, KV_FP_LEN - 1));
}

static void test_base64url(void **state)
{
    (void)state;
    /* RFC 4648 §10, without padding, in the URL alphabet */
    struct {
        const char *bin, *txt;
    } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[16];
        uint8_t back[8];
        size_t n = strlen(v[i].bin);
        assert_int_equal(kv_b64url_encode((const uint8_t *)v[i].bin, n, out, sizeof out),
                         strlen(v[i].txt));
        assert_string_equal(out, v[i].txt);
        assert_int_equal(kv_b64url_decode_exact(v[i].txt, strlen(v[i].txt), back, n), KV_OK);
        assert_memory_equal(back, v[i].bin, n);
    }
    uint8_t b[2] = {0xfb, 0xff};
    char out[8];
    kv_b64url_encode(b, 2, out, sizeof out);
    assert_string_equal(out, "-_8"); /* URL alphabet, not "+/" */
    uint8_t x[4];
    assert_int_equal(kv_b64url_decode_exact("Zh", 2, x, 1), KV_EPARSE);   /* stray low bits */
    assert_int_equal(kv_b64url_decode_exact("Zg==", 4, x, 1), KV_EPARSE); /* padding */
    assert_int_equal(kv_b64url_decode_exact("+/8", 3, x, 2), KV_EPARSE);  /* standard alphabet */
    assert_int_equal(kv_b64url_decode_exact("Zm8", 3, x, 1), KV_EPARSE);  /* wrong length */
    assert_int_equal(kv_b64url_decode_exact("Zm 8", 4, x, 2), KV_EPARSE);
    assert_int_equal(kv_b64url_encode(b, 2, out, 3), 0); /* too small */
}

static void test_hex(void **state)
{
    (void)state;
    uint8_t b[3] = {0x00, 0xab, 0xff}, back[3];
    char out[7];
    kv_hex_encode(b, 3, out);
    assert_string_equal(out, "00abff");
    assert_int_equal(kv_hex_decode_exact("00abff", 6, back, 3), KV_OK);
    assert_memory_equal(back, b, 3);
    assert_int_equal(kv_hex_decode_exact("00ABff", 6, back, 3), KV_EPARSE);
    assert_int_equal(kv_hex_decode_exact("00abf", 5, back, 3), KV_EPARSE);
    assert_int_equal(kv_hex_decode_exact("00abfg", 6, back, 3), KV_EPARSE);
}

static void test_message_id(void **state)
{
    (void)state;
    char a[KV_MSGID_LEN + 1], b[KV_MSGID_LEN + 1];
    assert_int_equal(kv_crypto_message_id(a), KV_OK);
    assert_int_equal(kv_crypto_message_id(b), KV_OK);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
    for (size_t i = 0; i < 32; i++)
        assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

/* ------------------------------------------------------------------------ */
/* Key files                                                                */
/* ------------------------------------------------------------------------ */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kv-crypto-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx %s; rm -rf %s", tmpdir, tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", tmpdir, rel);
}

static mode_t mode_of(const char *rel)
{
    char p[512];
    struct stat st;
    path(p, sizeof p, rel);
    assert_int_equal(lstat(p, &st), 0);
    return st.st_mode & 07777;
}

static void test_keys_save_load(void **state)
{
    (void)state;
    struct kv_keypair kp, back;
    char detail[256], data[300];
    path(data, sizeof data, "node");
    assert_int_equal(kv_crypto_keypair_new(&kp), KV_OK);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_ENOTFOUND);
    assert_non_null(strstr(detail, "kervan keys new"));
    assert_int_equal(kv_crypto_keys_save(data, &kp, false, detail, sizeof detail), KV_OK);
    assert_int_equal(mode_of("node"), 0700);
    assert_int_equal(mode_of("node/keys"), 0700);
    assert_int_equal(mode_of("node/keys/node.sk"), 0600);
    assert_int_equal(mode_of("node/keys/node.pk"), 0644);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_OK);
    assert_memory_equal(&kp, &back, sizeof kp);

    /* the secret file holds the 32-byte seed in base64url and a newline */
    char p[512], text[64];
    path(p, sizeof p, "node/keys/node.sk");
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_int_equal(n, 44);
    assert_int_equal(text[43], '\n');
    uint8_t seed[32];
    assert_int_equal(kv_b64url_decode_exact(text, 43, seed, 32), KV_OK);
    assert_memory_equal(seed, kp.sk, 32);

    /* no overwrite without force; with force a new pair replaces it */
    struct kv_keypair kp2;
    assert_int_equal(kv_crypto_keypair_new(&kp2), KV_OK);
    assert_int_equal(kv_crypto_keys_save(data, &kp2, false, detail, sizeof detail), KV_EEXIST);
    assert_non_null(strstr(detail, "--force"));
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK);
    assert_memory_equal(back.pk, kp.pk, 32);
    assert_int_equal(kv_crypto_keys_save(data, &kp2, true, detail, sizeof detail), KV_OK);
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK);
    assert_memory_equal(back.pk, kp2.pk, 32);
    assert_string_equal(back.fingerprint, kp2.fingerprint);
}

static void save_fresh(const char *rel)
{
    struct kv_keypair kp;
    char data[300];
    path(data, sizeof data, rel);
    assert_int_equal(kv_crypto_keypair_new(&kp), KV_OK);
    assert_int_equal(kv_crypto_keys_save(data, &kp, true, NULL, 0), KV_OK);
}

static void test_keys_permissions(void **state)
{
    (void)state;
    struct kv_keypair back;
    char detail[256], data[300], p[512], q[512];
    path(data, sizeof data, "perm");
    save_fresh("perm");
    path(p, sizeof p, "perm/keys/node.sk");

    /* readable by group, by other, writable by group: refused */
    mode_t bad[] = {0640, 0604, 0620, 0660, 0644, 0700};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(chmod(p, bad[i]), 0);
        detail[0] = '\0';
        assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail),
                         bad[i] & 077 ? KV_EKEYPERM : KV_OK);
        if (bad[i] & 077)
            assert_non_null(strstr(detail, "chmod 600"));
    }
    assert_int_equal(chmod(p, 0400), 0); /* read-only for the owner is fine */
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK);
    assert_int_equal(chmod(p, 0600), 0);

    /* a keys folder writable by group or other: refused */
    path(q, sizeof q, "perm/keys");
    assert_int_equal(chmod(q, 0770), 0);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EKEYPERM);
    assert_non_null(strstr(detail, "chmod 700"));
    assert_int_equal(chmod(q, 0755), 0); /* readable is not the secret's problem */
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK);
    /* saving puts the folder back to 0700 */
    save_fresh("perm");
    assert_int_equal(mode_of("perm/keys"), 0700);

    /* a symbolic link instead of the secret file: refused */
    char real[512];
    path(real, sizeof real, "perm/keys/real.sk");
    assert_int_equal(rename(p, real), 0);
    assert_int_equal(symlink(real, p), 0);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EKEYPERM);
    assert_non_null(strstr(detail, "symbolic link"));
    assert_int_equal(unlink(p), 0);

    /* a folder instead of the file */
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EKEYPERM);
    assert_int_equal(rmdir(p), 0);

    /* a keys "folder" that is a link to elsewhere: refused on load and save */
    char other[300], lnk[512];
    path(other, sizeof other, "elsewhere");
    assert_int_equal(mkdir(other, 0700), 0);
    path(lnk, sizeof lnk, "linked");
    assert_int_equal(mkdir(lnk, 0700), 0);
    path(lnk, sizeof lnk, "linked/keys");
    assert_int_equal(symlink(other, lnk), 0);
    path(data, sizeof data, "linked");
    struct kv_keypair kp;
    assert_int_equal(kv_crypto_keypair_new(&kp), KV_OK);
    assert_int_equal(kv_crypto_keys_save(data, &kp, true, detail, sizeof detail), KV_EKEYPERM);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EKEYPERM);
}

static void write_text(const char *rel, const char *text, mode_t mode)
{
    char p[512];
    path(p, sizeof p, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void test_keys_malformed(void **state)
{
    (void)state;
    struct kv_keypair back, other;
    char detail[256], data[300], pk[64];
    path(data, sizeof data, "bad");
    save_fresh("bad");

    /* a public key file that is not the secret's */
    assert_int_equal(kv_crypto_keypair_new(&other), KV_OK);
    size_t pl = kv_b64url_encode(other.pk, 32, pk, sizeof pk);
    memcpy(pk + pl, "\n", 2);
    write_text("bad/keys/node.pk", pk, 0644);
    assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EBADKEY);
    assert_non_null(strstr(detail, "does not hold the public key"));
    /* no public key file: derived from the seed */
    char p[512];
    path(p, sizeof p, "bad/keys/node.pk");
    assert_int_equal(unlink(p), 0);
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK);

    const char *texts[] = {"",
                           "\n",
                           "not base64\n",
                           "AAAA\n",
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n\n"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        write_text("bad/keys/node.sk", texts[i], 0600);
        assert_int_equal(kv_crypto_keys_load(data, &back, detail, sizeof detail), KV_EBADKEY);
    }
    write_text("bad/keys/node.sk", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0600);
    assert_int_equal(kv_crypto_keys_load(data, &back, NULL, 0), KV_OK); /* newline optional */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_small_order_key_refused),
        cmocka_unit_test(test_blake2b),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_message_id),
        cmocka_unit_test_setup_teardown(test_keys_save_load, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_permissions, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_keys_malformed, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
