/*
 * store_test.h — helpers shared by the store tests: a scratch data folder,
 * a small declaration to lodge, MRN serial decoding, and outgoing / received
 * messages for the exchange.
 *
 * Header-only (static functions) because each tests/<area>/test_*.c is its
 * own executable.
 */
#ifndef KV_TESTS_STORE_TEST_H
#define KV_TESTS_STORE_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/scratch.h"
#include "store/store.h"

/* True when built with AddressSanitizer (KV_SANITIZE defines nothing). */
#if defined(__SANITIZE_ADDRESS__)
#define KV_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KV_TEST_ASAN 1
#endif
#endif
#ifndef KV_TEST_ASAN
#define KV_TEST_ASAN 0
#endif

/* Creates a fresh folder under $TMPDIR (or /tmp) into dir (size 256). */
static inline void st_tmpdir(char dir[256])
{
    kv_test_tmpdir(dir, "kv-store");
}

/* Removes a data folder and the files in it (no subfolders expected). */
static inline void st_rmdir(const char *dir)
{
    kv_test_rmdir(dir);
}

static inline int st_open(const char *dir, unsigned max_batch, struct kv_store **s, char *detail)
{
    struct kv_store_config cfg = {
        .backend = "sqlite", .path = dir, .country = "TR", .max_batch = max_batch};
    return kv_store_open(&cfg, s, detail);
}

/* A cmocka fixture: a scratch folder with an open store in it. */
struct st_fx {
    char dir[256];
    struct kv_store *s;
};

/* cmocka setup: a new folder and a store opened in it (st_open, no batch limit). */
static inline int st_fx_setup(void **state)
{
    struct st_fx *f = calloc(1, sizeof *f);
    st_tmpdir(f->dir);
    char detail[KV_STORE_DETAIL_MAX] = "";
    if (st_open(f->dir, 0, &f->s, detail)) {
        fprintf(stderr, "open: %s\n", detail);
        return -1;
    }
    *state = f;
    return 0;
}

/* cmocka teardown for st_fx_setup: closes the store, removes the folder. */
static inline int st_fx_teardown(void **state)
{
    struct st_fx *f = *state;
    kv_store_close(f->s);
    st_rmdir(f->dir);
    free(f);
    return 0;
}

/* A declaration being built for kv_store_lodge; owns its JSON text. */
struct st_decl {
    char json[512];
    char event[160];
    char holder[40];
    char lrn[48];
    struct kv_guarantee_use use;
    const char *transit[2];
    struct kv_lodge in;
};

/*
 * Fills d with a small declaration of holder/lrn; `variant` changes its
 * bytes (and so its hash). grn may be NULL (no guarantee); amount in minor
 * units.
 */
static inline void st_decl(struct st_decl *d, const char *holder, const char *lrn, int variant,
                           const char *grn, int64_t amount)
{
    memset(d, 0, sizeof *d);
    snprintf(d->holder, sizeof d->holder, "%s", holder);
    snprintf(d->lrn, sizeof d->lrn, "%s", lrn);
    int n = snprintf(d->json, sizeof d->json,
                     "{\"lrn\":\"%s\",\"holder\":\"%s\",\"variant\":%d,"
                     "\"departure\":\"TR000100\",\"destination\":\"KZ000200\"}",
                     lrn, holder, variant);
    int m = snprintf(d->event, sizeof d->event,
                     "{\"type\":\"lodged\",\"time\":\"2025-03-01T10:00:00Z\"}");
    d->transit[0] = "GE000300";
    d->transit[1] = "AZ000400";
    d->in.holder = d->holder;
    d->in.lrn = d->lrn;
    d->in.declaration = d->json;
    d->in.declaration_len = (size_t)n;
    kv_store_hash(d->json, (size_t)n, d->in.hash);
    d->in.office_departure = "TR000100";
    d->in.office_destination = "KZ000200";
    d->in.offices = d->transit;
    d->in.n_offices = 2;
    d->in.security = 0;
    d->in.year = 2025;
    if (grn) {
        d->use.grn = grn;
        d->use.amount = amount;
        d->use.currency = "EUR";
        d->in.guarantees = &d->use;
        d->in.n_guarantees = 1;
    }
    d->in.event.type = "lodged";
    d->in.event.time = "2025-03-01T10:00:00Z";
    d->in.event.epoch = 1740823200;
    d->in.event.office = "TR000100";
    d->in.event.actor_role = "trade_operator";
    d->in.event.actor_id = d->holder;
    d->in.event.json = d->event;
    d->in.event.json_len = (size_t)m;
    d->in.state = "accepted";
    d->in.flags = 0;
    d->in.created = 1740823200;
    d->in.limit_date = 0;
    d->in.gross_mass = "1250.5";
}

/* An append of one simple event of `type` taking the movement to `state`. */
static inline struct kv_append st_event(const char *type, const char *state)
{
    struct kv_append a;
    memset(&a, 0, sizeof a);
    a.event.type = type;
    a.event.time = "2025-03-02T08:00:00Z";
    a.event.epoch = 1740902400;
    a.event.office = "TR000100";
    a.event.actor_role = "officer";
    a.event.actor_id = "TR000100";
    a.event.json = "{\"note\":\"test\"}";
    a.event.json_len = strlen(a.event.json);
    a.state = state;
    return a;
}

/* The serial encoded in an MRN (12 base-36 characters after YYCC), or -1. */
static inline int64_t st_serial(const char *mrn)
{
    int64_t v = 0;
    for (int i = 4; i < 16; i++) {
        char c = mrn[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 36 + d;
    }
    return v;
}

/* A message id (32 lower-case hex) derived from `seed` text: BLAKE2b, first 16 bytes. */
static inline void st_msg_id(char out[KV_STORE_MSG_ID_LEN + 1], const char *seed)
{
    uint8_t h[KV_STORE_HASH_LEN];
    kv_store_hash(seed, strlen(seed), h);
    for (int i = 0; i < KV_STORE_MSG_ID_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* An outgoing message being built; owns its strings. */
struct st_msg {
    char id[KV_STORE_MSG_ID_LEN + 1];
    char receiver[3];
    char mrn[KV_MRN_LEN + 1];
    char env[256];
    struct kv_outmsg m;
};

/*
 * Fills x with message `seq` of the (receiver, mrn) stream, kind CD050C; its
 * id derives from (tag, receiver, mrn, seq) and its envelope names them all.
 */
static inline void st_msg(struct st_msg *x, const char *tag, const char *receiver, const char *mrn,
                          uint32_t seq)
{
    memset(x, 0, sizeof *x);
    char seed[128];
    snprintf(seed, sizeof seed, "%s/%s/%s/%u", tag, receiver, mrn, (unsigned)seq);
    st_msg_id(x->id, seed);
    snprintf(x->receiver, sizeof x->receiver, "%s", receiver);
    snprintf(x->mrn, sizeof x->mrn, "%s", mrn);
    int n = snprintf(x->env, sizeof x->env,
                     "{\"v\":1,\"sender\":\"TR\",\"receiver\":\"%s\",\"id\":\"%s\","
                     "\"kind\":\"CD050C\",\"mrn\":\"%s\",\"seq\":%u,\"body\":{}}",
                     receiver, x->id, mrn, (unsigned)seq);
    x->m = (struct kv_outmsg){.id = x->id,
                              .receiver = x->receiver,
                              .kind = "CD050C",
                              .mrn = x->mrn,
                              .seq = seq,
                              .envelope = x->env,
                              .envelope_len = (size_t)n,
                              .signature = "keyid=test, sig=AAAA"};
}

/* A received message being built; owns its strings. */
struct st_in {
    char id[KV_STORE_MSG_ID_LEN + 1];
    char sender[3];
    char mrn[KV_MRN_LEN + 1];
    char env[256];
    struct kv_inbox_in m;
};

/* Fills x with message `seq` of the (sender, mrn) stream; `variant` changes its bytes only. */
static inline void st_in(struct st_in *x, const char *tag, const char *sender, const char *mrn,
                         uint32_t seq, int variant)
{
    memset(x, 0, sizeof *x);
    char seed[128];
    snprintf(seed, sizeof seed, "%s/%s/%s/%u", tag, sender, mrn, (unsigned)seq);
    st_msg_id(x->id, seed);
    snprintf(x->sender, sizeof x->sender, "%s", sender);
    snprintf(x->mrn, sizeof x->mrn, "%s", mrn);
    int n = snprintf(x->env, sizeof x->env,
                     "{\"v\":1,\"sender\":\"%s\",\"receiver\":\"TR\",\"id\":\"%s\","
                     "\"kind\":\"CD118C\",\"mrn\":\"%s\",\"seq\":%u,\"body\":{\"n\":%d}}",
                     sender, x->id, mrn, (unsigned)seq, variant);
    x->m = (struct kv_inbox_in){.id = x->id,
                                .sender = x->sender,
                                .kind = "CD118C",
                                .mrn = x->mrn,
                                .seq = seq,
                                .envelope = x->env,
                                .envelope_len = (size_t)n,
                                .signature = "keyid=peer, sig=BBBB"};
}

#endif
