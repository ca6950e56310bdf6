/*
 * cmd_token.c — `kervan token add`: make an access token in a node's data
 * folder while the node is stopped.
 *
 *   kervan token add --data DIR --role ROLE [--party ID | --office REF]
 *                    [--label TEXT] [--country CC]
 *
 * The token is printed once on standard output and stored only as its hash
 * (net/auth.h). The binding is checked as POST /v1/tokens checks it: a
 * trader or guarantor needs a party id, an officer an office of this node's
 * country from the registry, an analyst or operator neither. The country is
 * the one recorded in the store; --country is needed only to create the
 * store in a new data folder (the first operator token, before the node's
 * first start). A running node holds the store: then the answer is to stop
 * it, or to make the token through the node with POST /v1/tokens.
 */
#include "cli/cli.h"

#include "core/err.h"
#include "core/ref.h"
#include "net/auth.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *out)
{
    fprintf(out, "usage: kervan token add --data DIR --role ROLE [--party ID | --office REF]\n"
                 "                        [--label TEXT] [--country CC]\n\n"
                 "Makes an access token for the node whose data folder is DIR, records its\n"
                 "hash there and prints the token once on standard output. The node must be\n"
                 "stopped (while it runs, use POST /v1/tokens with an operator token).\n\n"
                 "  --role ROLE     trader, officer, guarantor, analyst or operator\n"
                 "  --party ID      the party a trader or guarantor acts for (an..17)\n"
                 "  --office REF    the office an officer works at (this node's country)\n"
                 "  --label TEXT    a note kept with the token (at most 64 characters)\n"
                 "  --country CC    create the store in a new DIR for this country\n\n"
                 "exit status: 0 token made, 2 usage error or the store cannot be used\n");
}

int kv_cmd_token(int argc, char **argv)
{
    if (kv_cli_wants_help(argc, argv) || argc < 2) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "add") != 0) {
        fprintf(stderr, "kervan token: unknown subcommand '%s' (only `add`)\n", argv[1]);
        return 2;
    }
    const char *data = NULL, *role = NULL, *party = NULL, *office = NULL, *label = NULL,
               *country = NULL;
    struct {
        const char *flag;
        const char **dst;
    } opts[] = {{"--data", &data},     {"--role", &role},   {"--party", &party},
                {"--office", &office}, {"--label", &label}, {"--country", &country}};
    for (int i = 2; i < argc; i++) {
        size_t k = 0;
        const char *value = NULL;
        for (; k < sizeof opts / sizeof opts[0]; k++) {
            size_t fl = strlen(opts[k].flag);
            if (strcmp(argv[i], opts[k].flag) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "kervan token add: %s needs a value\n", opts[k].flag);
                    return 2;
                }
                value = argv[++i];
                break;
            }
            if (strncmp(argv[i], opts[k].flag, fl) == 0 && argv[i][fl] == '=') {
                value = argv[i] + fl + 1;
                break;
            }
        }
        if (k == sizeof opts / sizeof opts[0]) {
            fprintf(stderr, "kervan token add: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        *opts[k].dst = value;
    }
    if (!data || !role) {
        fprintf(stderr, "kervan token add: --data and --role are required (see --help)\n");
        return 2;
    }
    if (country && !(strlen(country) == 2 && country[0] >= 'A' && country[0] <= 'Z' &&
                     country[1] >= 'A' && country[1] <= 'Z')) {
        fprintf(stderr,
                "kervan token add: --country: '%s' is not a two-letter upper-case "
                "country code\n",
                country);
        return 2;
    }

    int rc = 2;
    struct kv_store *store = NULL;
    struct kv_ref *ref = NULL;
    char detail[KV_STORE_DETAIL_MAX] = "";
    struct kv_store_config sc = {.backend = "sqlite", .path = data, .country = country};
    int e = kv_store_open(&sc, &store, detail);
    if (e == KV_EBUSY) {
        fprintf(stderr,
                "kervan token add: the data folder %s is in use by another process — is "
                "`kervan serve` running on it?\n"
                "Stop the node first, or make the token through the running node:\n"
                "  POST /v1/tokens with an operator token (docs/api.md)\n",
                data);
        goto out;
    }
    if (e == KV_ENOTFOUND) {
        fprintf(stderr,
                "kervan token add: %s has no node store yet; give --country CC to create it "
                "(for the first operator token)\n",
                data);
        goto out;
    }
    if (e != KV_OK) {
        fprintf(stderr, "kervan token add: cannot open the store in %s: %s\n", data, detail);
        goto out;
    }
    e = kv_ref_open(&ref);
    if (e != KV_OK) {
        fprintf(stderr, "kervan token add: cannot load the reference data: %s\n", kv_strerror(e));
        goto out;
    }
    char err[256];
    const char *field = "";
    if (kv_auth_binding_check(ref, kv_store_country(store), role, party, office, label, err,
                              sizeof err, &field) != KV_OK) {
        fprintf(stderr, "kervan token add: %s\n", err);
        goto out;
    }
    char token[KV_TOKEN_LEN + 1];
    uint8_t hash[KV_TOKEN_HASH_LEN];
    e = kv_auth_token_new(token, hash);
    if (e == KV_OK)
        e = kv_store_token_add(store, hash, role, party ? party : office, label, detail);
    if (e != KV_OK) {
        fprintf(stderr, "kervan token add: cannot record the token: %s\n",
                detail[0] ? detail : kv_strerror(e));
        goto out;
    }
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof token);
    fprintf(stderr,
            "kervan token add: %s token%s%s recorded for the node of %s in %s; it is "
            "shown only this once\n",
            role, party || office ? " for " : "",
            party    ? party
            : office ? office
                     : "",
            kv_store_country(store), data);
    rc = 0;
out:
    kv_store_close(store);
    kv_ref_close(ref);
    return rc;
}
