/*
 * cmd_keys.c — `kervan keys new | show`: the node's Ed25519 key pair in its
 * data folder (DIR/keys/node.sk 0600, DIR/keys/node.pk; crypto/crypto.h).
 *
 *   kervan keys new  --data DIR [--force] [--json]
 *   kervan keys show --data DIR [--json]
 *
 * Both print the public key (unpadded base64url, as the trust list writes
 * it) and its fingerprint; the secret never leaves the file. `new` refuses
 * to replace an existing pair without --force: the trust lists of the other
 * nodes name the old key, so replacing it is a rotation (docs/exchange.md).
 */
#include "cli/cli.h"

#include "crypto/crypto.h"

#include <stdio.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out, "usage: kervan keys new  --data DIR [--force] [--json]\n"
                 "       kervan keys show --data DIR [--json]\n\n"
                 "The node's Ed25519 signing key pair, kept in DIR/keys/ (folder 0700, secret\n"
                 "key file node.sk 0600, public key node.pk). `new` makes a pair, `show` loads\n"
                 "it; both print the public key (base64url) and its fingerprint. A secret key\n"
                 "file open to group or other, a link, or another user's, is refused.\n\n"
                 "  --data DIR   the node's data folder (created 0700 by `new` when missing)\n"
                 "  --force      `new`: replace an existing pair (a key rotation: add the new\n"
                 "               key to the trust lists first, see docs/exchange.md)\n"
                 "  --json       print {\"key\": ..., \"fingerprint\": ...}\n\n"
                 "exit status: 0 done, 2 usage error or the key files cannot be used\n");
}

static void print_key(const struct kv_keypair *kp, int json)
{
    char b64[KV_PK_B64_LEN + 1];
    kv_b64url_encode(kp->pk, sizeof kp->pk, b64, sizeof b64);
    if (json)
        printf("{\"key\":\"%s\",\"fingerprint\":\"%s\"}\n", b64, kp->fingerprint);
    else
        printf("public key   %s\nfingerprint  %s\n", b64, kp->fingerprint);
}

int kv_cmd_keys(int argc, char **argv)
{
    if (argc < 2 || kv_cli_wants_help(argc, argv)) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    int is_new = strcmp(argv[1], "new") == 0;
    if (!is_new && strcmp(argv[1], "show") != 0) {
        fprintf(stderr, "kervan keys: unknown subcommand '%s' (new or show)\n", argv[1]);
        return 2;
    }
    const char *data = NULL;
    int force = 0, json = 0;
    struct kv_cli_opt opts[] = {
        {"--data", &data, NULL}, {"--force", NULL, &force}, {"--json", NULL, &json}};
    char cmd[32];
    snprintf(cmd, sizeof cmd, "kervan keys %s", argv[1]);
    if (kv_cli_parse_opts(cmd, argc, argv, 2, opts, sizeof opts / sizeof opts[0]) != 0)
        return 2;
    if (force && !is_new) {
        fprintf(stderr, "%s: --force belongs to `kervan keys new`\n", cmd);
        return 2;
    }
    if (!data) {
        fprintf(stderr, "%s: --data DIR is required\n", cmd);
        return 2;
    }
    struct kv_keypair kp;
    char detail[512];
    int e;
    if (is_new) {
        e = kv_crypto_keypair_new(&kp);
        if (e == 0)
            e = kv_crypto_keys_save(data, &kp, force != 0, detail, sizeof detail);
    } else {
        e = kv_crypto_keys_load(data, &kp, detail, sizeof detail);
    }
    if (e != 0) {
        fprintf(stderr, "%s: %s\n", cmd, detail[0] ? detail : kv_crypto_strerror(e));
        kv_crypto_keypair_clear(&kp);
        return 2;
    }
    print_key(&kp, json);
    if (is_new)
        fprintf(stderr,
                "%s: key pair written to %s/keys/ (add the public key to the trust lists: "
                "kervan trust add)\n",
                cmd, data);
    kv_crypto_keypair_clear(&kp);
    return 0;
}
