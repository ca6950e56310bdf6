/*
 * crypto.c — the libsodium wrapper (see crypto.h): key pairs and their
 * files, Ed25519 signatures, BLAKE2b-256, fingerprints, random ids, and the
 * base64url / hex codecs.
 *
 * Key files are opened with O_NOFOLLOW and checked with fstat on the open
 * descriptor, so what is checked is what is read. Secrets pass through
 * stack buffers that are wiped with sodium_memzero before returning.
 */
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_run(void)
{
    init_rc = sodium_init() < 0 ? KV_EIO : KV_OK;
}

int kv_crypto_init(void)
{
    pthread_once(&init_once, init_run);
    return init_rc;
}

const char *kv_crypto_strerror(int err)
{
    switch (err) {
    case KV_EKEYPERM:
        return "key file permissions or ownership refused";
    case KV_EEXIST:
        return "a key pair already exists";
    case KV_EBADKEY:
        return "malformed or mismatched key file";
    }
    return kv_strerror(err);
}

/* ------------------------------------------------------------------------ */
/* Codecs                                                                   */
/* ------------------------------------------------------------------------ */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kv_b64url_encode(const uint8_t *bin, size_t n, char *out, size_t outsz)
{
    size_t need = (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
    if (!out || outsz == 0)
        return 0;
    if (need + 1 > outsz || (!bin && n)) {
        out[0] = '\0';
        return 0;
    }
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)bin[i] << 16 | (uint32_t)bin[i + 1] << 8 | bin[i + 2];
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
        out[o++] = b64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)bin[i] << 16;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)bin[i] << 16 | (uint32_t)bin[i + 1] << 8;
        out[o++] = b64url_alphabet[v >> 18 & 63];
        out[o++] = b64url_alphabet[v >> 12 & 63];
        out[o++] = b64url_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int kv_b64url_decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
    size_t expect = (want / 3) * 4 + (want % 3 ? want % 3 + 1 : 0);
    if (!s || !out || len != expect)
        return KV_EPARSE;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return KV_EPARSE;
        acc = (acc << 6 | (uint32_t)v) & 0xffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= want)
                return KV_EPARSE;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The leftover bits of the last character must be zero: one text per value. */
    if (o != want || (acc & ((1u << bits) - 1u)) != 0)
        return KV_EPARSE;
    return KV_OK;
}

void kv_hex_encode(const uint8_t *bin, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int kv_hex_decode_exact(const char *s, size_t len, uint8_t *out, size_t want)
{
    if (!s || !out || len != 2 * want)
        return KV_EPARSE;
    for (size_t i = 0; i < want; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return KV_EPARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Hashes, signatures, fingerprints, randomness                             */
/* ------------------------------------------------------------------------ */

void kv_crypto_hash(const void *buf, size_t len, uint8_t out[KV_HASH_LEN])
{
    struct kv_crypto_part p = {buf, len};
    kv_crypto_hash_parts(&p, 1, out);
}

void kv_crypto_hash_parts(const struct kv_crypto_part *parts, size_t n, uint8_t out[KV_HASH_LEN])
{
    crypto_generichash_state st;
    (void)kv_crypto_init();
    crypto_generichash_init(&st, NULL, 0, KV_HASH_LEN);
    for (size_t i = 0; i < n; i++)
        if (parts[i].len)
            crypto_generichash_update(&st, parts[i].data, parts[i].len);
    crypto_generichash_final(&st, out, KV_HASH_LEN);
}

void kv_crypto_fingerprint(const uint8_t pk[KV_PK_LEN], char out[KV_FP_LEN + 1])
{
    uint8_t h[KV_HASH_LEN];
    char hex[2 * 16 + 1];
    kv_crypto_hash(pk, KV_PK_LEN, h);
    kv_hex_encode(h, 16, hex);
    size_t o = 0;
    for (size_t g = 0; g < 8; g++) {
        if (g)
            out[o++] = ':';
        memcpy(out + o, hex + 4 * g, 4);
        o += 4;
    }
    out[o] = '\0';
}

bool kv_crypto_fingerprint_ok(const char *s, size_t len)
{
    if (!s || len != KV_FP_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (i % 5 == 4) {
            if (s[i] != ':')
                return false;
        } else if (hex_value(s[i]) < 0) {
            return false;
        }
    }
    return true;
}

void kv_crypto_sign(const struct kv_keypair *kp, const void *msg, size_t len,
                    uint8_t sig[KV_SIG_LEN])
{
    (void)kv_crypto_init();
    crypto_sign_detached(sig, NULL, msg, len, kp->sk);
}

bool kv_crypto_verify(const uint8_t pk[KV_PK_LEN], const void *msg, size_t len,
                      const uint8_t sig[KV_SIG_LEN])
{
    if (kv_crypto_init() != KV_OK || !pk || !sig || (!msg && len))
        return false;
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

bool kv_crypto_pk_ok(const uint8_t pk[KV_PK_LEN])
{
    return pk && kv_crypto_init() == KV_OK && crypto_core_ed25519_is_valid_point(pk) == 1;
}

int kv_crypto_random(void *buf, size_t n)
{
    if (kv_crypto_init() != KV_OK)
        return KV_EIO;
    randombytes_buf(buf, n);
    return KV_OK;
}

int kv_crypto_message_id(char out[KV_MSGID_LEN + 1])
{
    uint8_t raw[KV_MSGID_LEN / 2];
    int rc = kv_crypto_random(raw, sizeof raw);
    if (rc != KV_OK)
        return rc;
    kv_hex_encode(raw, sizeof raw, out);
    return KV_OK;
}

/* ------------------------------------------------------------------------ */
/* Key pairs                                                                */
/* ------------------------------------------------------------------------ */

int kv_crypto_keypair_from_seed(struct kv_keypair *kp, const uint8_t seed[KV_SEED_LEN])
{
    if (kv_crypto_init() != KV_OK)
        return KV_EIO;
    if (crypto_sign_seed_keypair(kp->pk, kp->sk, seed) != 0)
        return KV_EIO;
    kv_crypto_fingerprint(kp->pk, kp->fingerprint);
    return KV_OK;
}

int kv_crypto_keypair_new(struct kv_keypair *kp)
{
    uint8_t seed[KV_SEED_LEN];
    int rc = kv_crypto_random(seed, sizeof seed);
    if (rc == KV_OK)
        rc = kv_crypto_keypair_from_seed(kp, seed);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

void kv_crypto_keypair_clear(struct kv_keypair *kp)
{
    if (kp)
        sodium_memzero(kp, sizeof(*kp));
}

#define KEYS_DIR  "keys"
#define SK_FILE   "node.sk"
#define PK_FILE   "node.pk"
#define PATH_SIZE 4096

static void say(char *detail, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *detail, size_t size, const char *fmt, ...)
{
    if (!detail || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, size, fmt, ap);
    va_end(ap);
}

static int path_join(char *out, const char *dir, const char *a, const char *b)
{
    int n = b ? snprintf(out, PATH_SIZE, "%s/%s/%s", dir, a, b)
              : snprintf(out, PATH_SIZE, "%s/%s", dir, a);
    return n > 0 && n < PATH_SIZE ? KV_OK : KV_EINVAL;
}

/* Writes `len` bytes to `path` through "path.tmp": create (mode), write,
 * fsync, rename. */
static int write_file(const char *path, const char *buf, size_t len, mode_t mode, char *detail,
                      size_t dsz)
{
    char tmp[PATH_SIZE + 8];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return KV_EINVAL;
    (void)unlink(tmp); /* left by a crash: ours to replace */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        say(detail, dsz, "cannot create %s: %s", tmp, strerror(errno));
        return KV_EIO;
    }
    int rc = KV_EIO;
    if (fchmod(fd, mode) != 0) {
        say(detail, dsz, "cannot set the mode of %s: %s", tmp, strerror(errno));
        goto fail;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            say(detail, dsz, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        say(detail, dsz, "cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        say(detail, dsz, "cannot close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        say(detail, dsz, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    return KV_OK;
fail:
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
    return rc;
}

/* Makes `path` a directory of ours with mode 0700 (creating it if missing). */
static int own_dir(const char *path, char *detail, size_t dsz)
{
    struct stat st;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        say(detail, dsz, "cannot create the folder %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    if (lstat(path, &st) != 0) {
        say(detail, dsz, "cannot inspect %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        say(detail, dsz, "%s is not a folder (a symbolic link or a file)", path);
        return KV_EKEYPERM;
    }
    if (st.st_uid != geteuid()) {
        say(detail, dsz, "%s belongs to another user (uid %ld)", path, (long)st.st_uid);
        return KV_EKEYPERM;
    }
    if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0) {
        say(detail, dsz, "cannot set the mode of %s to 0700: %s", path, strerror(errno));
        return KV_EIO;
    }
    return KV_OK;
}

int kv_crypto_keys_save(const char *dir, const struct kv_keypair *kp, bool force, char *detail,
                        size_t dsz)
{
    char kdir[PATH_SIZE], skp[PATH_SIZE], pkp[PATH_SIZE];
    char text[KV_PK_B64_LEN + 2];
    int rc;

    say(detail, dsz, "%s", "");
    if (!dir || !kp)
        return KV_EINVAL;
    if (path_join(kdir, dir, KEYS_DIR, NULL) != KV_OK ||
        path_join(skp, dir, KEYS_DIR, SK_FILE) != KV_OK ||
        path_join(pkp, dir, KEYS_DIR, PK_FILE) != KV_OK) {
        say(detail, dsz, "the path %s is too long", dir);
        return KV_EINVAL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        say(detail, dsz, "cannot create the data folder %s: %s", dir, strerror(errno));
        return KV_EIO;
    }
    rc = own_dir(kdir, detail, dsz);
    if (rc != KV_OK)
        return rc;
    struct stat st;
    if (lstat(skp, &st) == 0 && !force) {
        say(detail, dsz, "%s already holds a key pair (give --force to replace it)", kdir);
        return KV_EEXIST;
    }

    /* The secret file keeps the seed; libsodium's sk is seed || pk. */
    size_t n = kv_b64url_encode(kp->sk, KV_SEED_LEN, text, sizeof text);
    text[n++] = '\n';
    rc = write_file(skp, text, n, 0600, detail, dsz);
    sodium_memzero(text, sizeof text);
    if (rc != KV_OK)
        return rc;
    n = kv_b64url_encode(kp->pk, KV_PK_LEN, text, sizeof text);
    text[n++] = '\n';
    rc = write_file(pkp, text, n, 0644, detail, dsz);
    if (rc != KV_OK)
        return rc;
    int dfd = open(kdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the renames */
        close(dfd);
    }
    return KV_OK;
}

/* Reads a small key file: 43 base64url characters and an optional "\n".
 * `secret`: refuse group/other permissions. */
static int read_key_file(const char *path, bool secret, uint8_t out[32], char *detail, size_t dsz)
{
    char buf[96];
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            say(detail, dsz, "%s does not exist (make a key pair with `kervan keys new`)", path);
            return KV_ENOTFOUND;
        }
        if (errno == ELOOP) {
            say(detail, dsz, "%s is a symbolic link; a key file must be a plain file", path);
            return KV_EKEYPERM;
        }
        say(detail, dsz, "cannot open %s: %s", path, strerror(errno));
        return KV_EIO;
    }
    int rc = KV_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        say(detail, dsz, "cannot inspect %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        say(detail, dsz, "%s is not a regular file", path);
        rc = KV_EKEYPERM;
        goto out;
    }
    if (secret && st.st_uid != geteuid()) {
        say(detail, dsz, "%s belongs to another user (uid %ld)", path, (long)st.st_uid);
        rc = KV_EKEYPERM;
        goto out;
    }
    if (secret && (st.st_mode & 077) != 0) {
        say(detail, dsz,
            "%s has mode %04o: a secret key file must not be open to group or other "
            "(chmod 600 %s)",
            path, (unsigned)(st.st_mode & 07777), path);
        rc = KV_EKEYPERM;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            say(detail, dsz, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf)
            break;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (kv_b64url_decode_exact(buf, n, out, 32) != KV_OK) {
        say(detail, dsz, "%s is not a key file (43 base64url characters expected)", path);
        rc = KV_EBADKEY;
        goto out;
    }
    rc = KV_OK;
out:
    sodium_memzero(buf, sizeof buf);
    close(fd);
    return rc;
}

int kv_crypto_keys_load(const char *dir, struct kv_keypair *kp, char *detail, size_t dsz)
{
    char kdir[PATH_SIZE], skp[PATH_SIZE], pkp[PATH_SIZE];
    uint8_t seed[KV_SEED_LEN], pk[KV_PK_LEN];
    int rc;

    say(detail, dsz, "%s", "");
    if (!dir || !kp)
        return KV_EINVAL;
    memset(kp, 0, sizeof(*kp));
    if (path_join(kdir, dir, KEYS_DIR, NULL) != KV_OK ||
        path_join(skp, dir, KEYS_DIR, SK_FILE) != KV_OK ||
        path_join(pkp, dir, KEYS_DIR, PK_FILE) != KV_OK) {
        say(detail, dsz, "the path %s is too long", dir);
        return KV_EINVAL;
    }
    struct stat st;
    if (lstat(kdir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            say(detail, dsz, "%s is not a folder (a symbolic link or a file)", kdir);
            return KV_EKEYPERM;
        }
        if ((st.st_mode & 022) != 0) {
            say(detail, dsz,
                "%s has mode %04o: the keys folder must not be writable by group or other "
                "(chmod 700 %s)",
                kdir, (unsigned)(st.st_mode & 07777), kdir);
            return KV_EKEYPERM;
        }
    }
    rc = read_key_file(skp, true, seed, detail, dsz);
    if (rc != KV_OK)
        goto out;
    rc = kv_crypto_keypair_from_seed(kp, seed);
    if (rc != KV_OK)
        goto out;
    rc = read_key_file(pkp, false, pk, detail, dsz);
    if (rc == KV_ENOTFOUND) {
        rc = KV_OK; /* the public key follows from the seed */
        say(detail, dsz, "%s", "");
    } else if (rc == KV_OK && sodium_memcmp(pk, kp->pk, KV_PK_LEN) != 0) {
        say(detail, dsz,
            "%s does not hold the public key of %s (make a new pair with "
            "`kervan keys new --force`)",
            pkp, skp);
        rc = KV_EBADKEY;
    }
out:
    sodium_memzero(seed, sizeof seed);
    if (rc != KV_OK)
        kv_crypto_keypair_clear(kp);
    return rc;
}
