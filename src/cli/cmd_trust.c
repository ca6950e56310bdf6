/*
 * cmd_trust.c — `kervan trust ...`: edit and inspect a trust list file
 * (codec/trust_json.h; the format is in docs/exchange.md).
 *
 *   kervan trust add    --file F --country CC [--url URL]
 *                       (--key B64 | --key-file PK | --data DIR) [--from T] [--until T]
 *   kervan trust retire --file F --country CC --key FP|B64 --until T
 *   kervan trust show   --file F [--at T] [--json]
 *   kervan trust check  --file F [--country CC --key FP|B64 [--at T]]
 *
 * `add` creates the file when missing, adds the country (with --url) or a
 * key to a listed country (a rotation's new key); `retire` ends a key's
 * validity (the rotation's second step). The file is rewritten whole,
 * through a temporary file and a rename, and always re-read and checked
 * first: a list with problems is never edited.
 */
#include "cli/cli.h"

#include "codec/trust_json.h"
#include "core/err.h"
#include "core/report.h"
#include "core/trust.h"
#include "crypto/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void help(FILE *out)
{
    fprintf(out,
            "usage: kervan trust add    --file FILE --country CC [--url URL]\n"
            "                           (--key B64 | --key-file PK | --data DIR)\n"
            "                           [--from TIME] [--until TIME]\n"
            "       kervan trust retire --file FILE --country CC --key FP|B64 --until TIME\n"
            "       kervan trust show   --file FILE [--at TIME] [--json]\n"
            "       kervan trust check  --file FILE [--country CC --key FP|B64 [--at TIME]]\n\n"
            "A trust list names the corridor's nodes: each country's base URL and the\n"
            "Ed25519 public keys that sign for it, each valid from a time and, after a\n"
            "rotation, until another (docs/exchange.md).\n\n"
            "  add     add a country (needs --url) or another key of a listed country;\n"
            "          creates FILE when missing. The key is given as base64url (--key),\n"
            "          as a public key file (--key-file DIR/keys/node.pk), or as the data\n"
            "          folder of a node on this machine (--data DIR). --from defaults to now.\n"
            "  retire  end a key's validity at --until (a rotation's last step)\n"
            "  show    list the nodes and keys, with each key's state at --at (default now)\n"
            "  check   check the file; with --country and --key, say whether that key is\n"
            "          valid for that country at --at (default now)\n\n"
            "TIME is RFC 3339: 2025-06-01T00:00:00Z or 2025-06-01T05:00:00+05:00.\n\n"
            "exit status: 0 done / valid, 1 the list or the key is not valid,\n"
            "             2 usage error or the file cannot be read or written\n");
}

static int now_time(struct kv_time *t)
{
    return kv_time_set(t, (int64_t)time(NULL), 0);
}

static int parse_time(const char *cmd, const char *flag, const char *s, struct kv_time *t)
{
    const char *why = NULL;
    if (kv_time_parse(s, strlen(s), t, &why) != KV_OK) {
        fprintf(stderr, "%s: %s: '%s' is not an RFC 3339 time (%s)\n", cmd, flag, s,
                why ? why : "malformed");
        return -1;
    }
    return 0;
}

static void print_problems(const char *file, const struct kv_report *rep)
{
    for (size_t i = 0; i < rep->count; i++)
        fprintf(stderr, "%s: %s %s: %s\n", file, rep->items[i].rule,
                rep->items[i].pointer[0] ? rep->items[i].pointer : "/", rep->items[i].message);
    if (rep->truncated)
        fprintf(stderr, "%s: ... %zu problems in all\n", file, rep->total);
}

/* Loads FILE into *t. missing_ok: a missing file is an empty list.
 * Returns 0, 1 (problems, printed), 2 (cannot read). */
static int load(const char *file, struct kv_trust *t, int missing_ok)
{
    struct stat st;
    if (missing_ok && stat(file, &st) != 0 && errno == ENOENT) {
        kv_trust_init(t);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    if (kv_cli_read_file(file, KV_TRUST_JSON_MAX, &buf, &len) != 0)
        return 2;
    struct kv_report rep;
    kv_report_init(&rep);
    int e = kv_trust_from_json(buf, len, NULL, t, &rep);
    free(buf);
    if (e == KV_ENOMEM) {
        fprintf(stderr, "%s: out of memory\n", file);
        kv_report_release(&rep);
        return 2;
    }
    if (e != KV_OK)
        print_problems(file, &rep);
    kv_report_release(&rep);
    return e == KV_OK ? 0 : 1;
}

/* Writes *t to FILE through FILE.tmp and a rename. */
static int save(const char *cmd, const char *file, const struct kv_trust *t)
{
    char *json = NULL, tmp[4096];
    size_t len = 0;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", file);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "%s: %s: path too long\n", cmd, file);
        return 2;
    }
    if (kv_trust_to_json(t, &json, &len) != KV_OK) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 2;
    }
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(json, 1, len, f) == len;
    if (f && fflush(f) != 0)
        ok = 0;
    if (f && fsync(fileno(f)) != 0)
        ok = 0;
    if (f && fclose(f) != 0)
        ok = 0;
    free(json);
    if (!ok || rename(tmp, file) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cmd, file, strerror(errno));
        unlink(tmp);
        return 2;
    }
    return 0;
}

/* A public key from --key B64, --key-file FILE or --data DIR. */
static int get_pk(const char *cmd, const char *b64, const char *keyfile, const char *data,
                  uint8_t pk[32])
{
    char path[4096];
    if ((b64 != NULL) + (keyfile != NULL) + (data != NULL) != 1) {
        fprintf(stderr, "%s: give exactly one of --key, --key-file, --data\n", cmd);
        return -1;
    }
    if (b64) {
        if (kv_b64url_decode_exact(b64, strlen(b64), pk, 32) != KV_OK || !kv_crypto_pk_ok(pk)) {
            fprintf(stderr, "%s: --key: not an Ed25519 public key in base64url (43 characters)\n",
                    cmd);
            return -1;
        }
        return 0;
    }
    if (data) {
        int n = snprintf(path, sizeof path, "%s/keys/node.pk", data);
        if (n < 0 || (size_t)n >= sizeof path)
            return -1;
        keyfile = path;
    }
    char *buf = NULL;
    size_t len = 0;
    if (kv_cli_read_file(keyfile, 256, &buf, &len) != 0)
        return -1;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    int e = kv_b64url_decode_exact(buf, len, pk, 32);
    free(buf);
    if (e != KV_OK || !kv_crypto_pk_ok(pk)) {
        fprintf(stderr, "%s: %s: not a public key file (43 base64url characters)\n", cmd, keyfile);
        return -1;
    }
    return 0;
}

/* The fingerprint named by --key: a fingerprint itself, or a base64url key. */
static int key_fingerprint(const char *cmd, const char *key, char fp[KV_FP_LEN + 1])
{
    uint8_t pk[32];
    size_t n = strlen(key);
    if (kv_crypto_fingerprint_ok(key, n)) {
        memcpy(fp, key, KV_FP_LEN + 1);
        return 0;
    }
    if (kv_b64url_decode_exact(key, n, pk, 32) == KV_OK) {
        kv_crypto_fingerprint(pk, fp);
        return 0;
    }
    fprintf(stderr, "%s: --key: '%s' is neither a fingerprint nor a base64url public key\n", cmd,
            key);
    return -1;
}

static int cmd_add(const char *cmd, const char *file, const char *country, const char *url,
                   const char *key, const char *keyfile, const char *data, const char *from,
                   const char *until)
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_trust_key k;
    struct kv_time tf, tu;
    uint8_t pk[32];
    int rc = 2;

    if (!t)
        return 2;
    if (!country || !kv_trust_country_ok(country, strlen(country))) {
        fprintf(stderr, "%s: --country CC (two upper-case letters) is required\n", cmd);
        goto out;
    }
    if (get_pk(cmd, key, keyfile, data, pk) != 0)
        goto out;
    if (from ? parse_time(cmd, "--from", from, &tf) != 0 : now_time(&tf) != KV_OK)
        goto out;
    if (until && parse_time(cmd, "--until", until, &tu) != 0)
        goto out;
    if (kv_trust_key_make(&k, pk, &tf, until ? &tu : NULL) != KV_OK) {
        fprintf(stderr, "%s: --until must be later than --from\n", cmd);
        goto out;
    }
    rc = load(file, t, 1);
    if (rc != 0)
        goto out;
    rc = 2;
    const struct kv_trust_node *n = kv_trust_node(t, country);
    if (!n) {
        if (!url) {
            fprintf(stderr, "%s: %s is not in %s yet: give its --url\n", cmd, country, file);
            goto out;
        }
        int e = kv_trust_add_node(t, country, url);
        if (e != KV_OK) {
            fprintf(stderr, "%s: %s\n", cmd,
                    e == KV_ELIMIT ? "the list is full"
                                   : "--url: not a base URL (http:// or https:// and a host)");
            goto out;
        }
    } else if (url && strcmp(url, n->url) != 0) {
        fprintf(stderr, "%s: %s is listed with the URL %s; leave out --url to add a key\n", cmd,
                country, n->url);
        goto out;
    }
    const struct kv_trust_node *owner = kv_trust_key_owner(t, k.fingerprint, NULL);
    if (owner) {
        fprintf(stderr, "%s: the key %s is already listed, for %s\n", cmd, k.fingerprint,
                owner->country);
        goto out;
    }
    int e = kv_trust_add_key(t, country, &k);
    if (e != KV_OK) {
        fprintf(stderr, "%s: %s already has %d keys; drop old ones from the file first\n", cmd,
                country, KV_TRUST_KEYS_MAX);
        goto out;
    }
    rc = save(cmd, file, t);
    if (rc == 0)
        fprintf(stderr, "%s: %s key %s valid from %s%s%s added to %s\n", cmd, country,
                k.fingerprint, k.from.text, until ? " until " : "", until ? k.until.text : "",
                file);
out:
    free(t);
    return rc;
}

static int cmd_retire(const char *cmd, const char *file, const char *country, const char *key,
                      const char *until)
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_time tu;
    char fp[KV_FP_LEN + 1];
    int rc = 2;
    if (!t)
        return 2;
    if (!country || !key || !until) {
        fprintf(stderr, "%s: --country, --key and --until are required\n", cmd);
        goto out;
    }
    if (key_fingerprint(cmd, key, fp) != 0 || parse_time(cmd, "--until", until, &tu) != 0)
        goto out;
    rc = load(file, t, 0);
    if (rc != 0)
        goto out;
    rc = 2;
    struct kv_trust_node *n = (struct kv_trust_node *)kv_trust_node(t, country);
    struct kv_trust_key *k = n ? (struct kv_trust_key *)kv_trust_key(n, fp) : NULL;
    if (!k) {
        fprintf(stderr, "%s: %s has no key %s in %s\n", cmd, country, fp, file);
        goto out;
    }
    if (tu.epoch <= k->from.epoch) {
        fprintf(stderr, "%s: --until %s is not later than the key's start %s\n", cmd, tu.text,
                k->from.text);
        goto out;
    }
    k->has_until = true;
    k->until = tu;
    rc = save(cmd, file, t);
    if (rc == 0)
        fprintf(stderr, "%s: %s key %s valid until %s in %s\n", cmd, country, fp, tu.text, file);
out:
    free(t);
    return rc;
}

static const char *state_at(const struct kv_trust_key *k, int64_t at)
{
    if (at < k->from.epoch)
        return "not yet valid";
    if (k->has_until && at >= k->until.epoch)
        return "expired";
    return "valid";
}

static int cmd_show(const char *cmd, const char *file, const char *at, int json)
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_time ta;
    int rc = 2;
    if (!t)
        return 2;
    if (at ? parse_time(cmd, "--at", at, &ta) != 0 : now_time(&ta) != KV_OK)
        goto out;
    rc = load(file, t, 0);
    if (rc != 0)
        goto out;
    if (json) {
        printf("{\"at\":\"%s\",\"nodes\":[", ta.text);
        for (size_t i = 0; i < t->n; i++) {
            const struct kv_trust_node *n = &t->nodes[i];
            printf("%s{\"country\":\"%s\",\"url\":\"%s\",\"keys\":[", i ? "," : "", n->country,
                   n->url);
            for (size_t j = 0; j < n->n_keys; j++) {
                const struct kv_trust_key *k = &n->keys[j];
                char b64[KV_PK_B64_LEN + 1];
                kv_b64url_encode(k->pk, 32, b64, sizeof b64);
                printf("%s{\"key\":\"%s\",\"fingerprint\":\"%s\",\"from\":\"%s\",\"until\":",
                       j ? "," : "", b64, k->fingerprint, k->from.text);
                if (k->has_until)
                    printf("\"%s\"", k->until.text);
                else
                    printf("null");
                printf(",\"state\":\"%s\"}", state_at(k, ta.epoch));
            }
            printf("]}");
        }
        printf("]}\n");
    } else {
        printf("%s: %zu node%s (key states at %s)\n", file, t->n, t->n == 1 ? "" : "s", ta.text);
        for (size_t i = 0; i < t->n; i++) {
            const struct kv_trust_node *n = &t->nodes[i];
            printf("%s  %s\n", n->country, n->url);
            for (size_t j = 0; j < n->n_keys; j++) {
                const struct kv_trust_key *k = &n->keys[j];
                printf("    %s  from %s  until %-25s  %s\n", k->fingerprint, k->from.text,
                       k->has_until ? k->until.text : "-", state_at(k, ta.epoch));
            }
        }
    }
    rc = 0;
out:
    free(t);
    return rc;
}

static int cmd_check(const char *cmd, const char *file, const char *country, const char *key,
                     const char *at)
{
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_time ta;
    char fp[KV_FP_LEN + 1];
    int rc = 2;
    if (!t)
        return 2;
    if ((country != NULL) != (key != NULL)) {
        fprintf(stderr, "%s: --country and --key go together\n", cmd);
        goto out;
    }
    if (key && key_fingerprint(cmd, key, fp) != 0)
        goto out;
    if (at ? parse_time(cmd, "--at", at, &ta) != 0 : now_time(&ta) != KV_OK)
        goto out;
    rc = load(file, t, 0);
    if (rc == 1)
        fprintf(stderr, "%s: %s is not a valid trust list\n", cmd, file);
    if (rc != 0)
        goto out;
    if (!country) {
        size_t keys = 0;
        for (size_t i = 0; i < t->n; i++)
            keys += t->nodes[i].n_keys;
        printf("%s: valid trust list: %zu node%s, %zu key%s\n", file, t->n, t->n == 1 ? "" : "s",
               keys, keys == 1 ? "" : "s");
        rc = 0;
        goto out;
    }
    const struct kv_trust_key *k = NULL;
    enum kv_trust_verdict v = kv_trust_check(t, country, fp, ta.epoch, &k);
    if (v == KV_TRUST_OK)
        printf("%s key %s: valid at %s\n", country, fp, ta.text);
    else if (v == KV_TRUST_NOT_YET)
        printf("%s key %s: not valid at %s: valid from %s\n", country, fp, ta.text, k->from.text);
    else if (v == KV_TRUST_EXPIRED)
        printf("%s key %s: not valid at %s: valid until %s\n", country, fp, ta.text, k->until.text);
    else
        printf("%s key %s: %s\n", country, fp, kv_trust_verdict_text(v));
    rc = v == KV_TRUST_OK ? 0 : 1;
out:
    free(t);
    return rc;
}

int kv_cmd_trust(int argc, char **argv)
{
    if (argc < 2 || kv_cli_wants_help(argc, argv)) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *file = NULL, *country = NULL, *url = NULL, *key = NULL, *keyfile = NULL,
               *data = NULL, *from = NULL, *until = NULL, *at = NULL;
    int json = 0;
    struct kv_cli_opt opts[] = {
        {"--file", &file, NULL}, {"--country", &country, NULL},  {"--url", &url, NULL},
        {"--key", &key, NULL},   {"--key-file", &keyfile, NULL}, {"--data", &data, NULL},
        {"--from", &from, NULL}, {"--until", &until, NULL},      {"--at", &at, NULL},
        {"--json", NULL, &json},
    };
    static const char *const subs[] = {"add", "retire", "show", "check"};
    /* which options each subcommand takes (bits over opts[]) */
    static const unsigned allowed[] = {0x0ff, 0x08b, 0x301, 0x10b};
    char cmd[32];
    int s = kv_cli_parse_sub("kervan trust", argc, argv, subs, 4, allowed, opts,
                             sizeof opts / sizeof opts[0], cmd, sizeof cmd);
    if (s < 0)
        return 2;
    if (!file) {
        fprintf(stderr, "%s: --file FILE is required\n", cmd);
        return 2;
    }
    switch (s) {
    case 0:
        return cmd_add(cmd, file, country, url, key, keyfile, data, from, until);
    case 1:
        return cmd_retire(cmd, file, country, key, until);
    case 2:
        return cmd_show(cmd, file, at, json);
    default:
        return cmd_check(cmd, file, country, key, at);
    }
}
