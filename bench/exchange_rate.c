/*
 * exchange_rate.c — messages per second between two nodes with durable
 * delivery (issue 4, bench (a)), beside the raw loopback HTTP POST rate of
 * a bare libmicrohttpd server measured in the same run with the same
 * concurrency and the same bodies. The ratio is the figure; the rates
 * depend on the machine.
 *
 *   build/bench/exchange_rate [--duration S] [--warmup S] [--baseline S]
 *       [--per-peer P] [--streams N] [--size BYTES] [--batch B]
 *       [--producers T] [--window W]
 *
 * baseline  the closed-loop driver of bench_http.h keeps P keep-alive
 *           connections busy POSTing signed envelopes (with their
 *           Kervan-Signature headers) to kvb_bare answering 200: what the
 *           requests cost in HTTP alone (1 s warm-up, then --baseline s).
 *           Run before and after the pipeline; the ratio uses the mean (on
 *           a shared machine the load moves between phases).
 * pipeline  the real thing, both nodes in this process, each with its own
 *           SQLite store (WAL, synchronous=FULL, group commit) under
 *           $TMPDIR: T producer threads at KZ (concurrent state changes)
 *           build CD050C envelopes, sign each with KZ's Ed25519 key
 *           (codec/envelope.h) and commit them to the outbox, B per
 *           transaction, keeping at most W undelivered; the delivery worker
 *           (net/exchange_out.h, P requests in flight) POSTs them to
 *           /v1/exchange at AZ, the node's HTTP server (a thread per
 *           connection, its default) where net/exchange_in.h verifies each
 *           signature against the trust list and records the message in the
 *           inbox (one durable write) before the ack; the worker then
 *           records the delivery (another). Messages spread over N
 *           movements (the worker keeps one message of a movement in
 *           flight: order). The rate is the messages the worker recorded as
 *           delivered in the measured window (--duration s after --warmup
 *           s), producing and delivering at once; the smallest backlog seen
 *           in the window says whether the worker ever ran dry.
 * Then the producers stop, the backlog drains, and the counts are checked:
 * every message enqueued was delivered and applied exactly once, in each
 * movement's order, no duplicates, nothing refused, both stores check.
 *
 * Defaults: baseline 4 s, pipeline 10 s after 2 s, baseline 4 s again
 * (about 25 s in all); 16 requests in flight (the worker's default per
 * peer); 1,000 movements; 1 KiB bodies; 4 producers committing 3 messages
 * each (what a release to three itinerary countries commits with its
 * event); at most 2,000 queued. Exit 0 when the counts hold.
 */
#include <getopt.h>
#include <stdbool.h>
#include <sys/resource.h>

#include "../tests/net/exchange_test.h"
#include "bench_http.h"
#include "codec/trust_json.h"
#include "crypto/crypto.h"

#define RING          1024 /* distinct envelopes the baseline cycles through */
#define PRODUCERS_MAX 64

static unsigned opt_uint(const char *v, const char *name, unsigned max)
{
    char *end = NULL;
    unsigned long x = strtoul(v, &end, 10);
    if (!end || *end || x == 0 || x > max) {
        fprintf(stderr, "exchange_rate: --%s: a number from 1 to %u expected\n", name, max);
        exit(2);
    }
    return (unsigned)x;
}

static double opt_secs(const char *v, const char *name)
{
    char *end = NULL;
    double x = strtod(v, &end);
    if (!end || *end || x <= 0 || x > 3600) {
        fprintf(stderr, "exchange_rate: --%s: seconds, more than 0\n", name);
        exit(2);
    }
    return x;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/* ---- envelopes ------------------------------------------------------------------ */

struct signed_env {
    char id[KV_MSGID_LEN + 1];
    char mrn[KV_MRN_LEN + 1];
    uint32_t seq;
    char *bytes;
    size_t len;
    char sig[KV_SIG_HEADER_MAX];
    char header[KV_SIG_HEADER_MAX + 32]; /* "Kervan-Signature: ..." for the baseline */
};

static char *body_text; /* {"pad":"abc..."}: --size bytes of padding */
static size_t body_len;

static void make_body(unsigned size)
{
    body_text = malloc(size + 16);
    if (!body_text)
        kvb_die("out of memory");
    int n = snprintf(body_text, 16, "{\"pad\":\"");
    for (unsigned i = 0; i < size; i++)
        body_text[n++] = (char)('a' + i % 26);
    memcpy(body_text + n, "\"}", 3);
    body_len = (size_t)n + 2;
}

/* The MRN of movement s (0-based) of KZ. */
static void stream_mrn(unsigned s, char mrn[KV_MRN_LEN + 1])
{
    if (kv_mrn_make(mrn, 2025, "KZ", (uint64_t)s + 1, 0) != 0)
        kvb_die("kv_mrn_make");
}

/* Encodes and signs one KZ → AZ CD050C, as the corridor's sender does. */
static void make_env(const struct kv_keypair *kp, const char *mrn, uint32_t seq,
                     struct signed_env *e)
{
    struct kv_envelope env;
    struct kv_env_verdict why;
    memset(&env, 0, sizeof env);
    env.v = KV_ENVELOPE_VERSION;
    memcpy(env.sender, "KZ", 3);
    memcpy(env.receiver, "AZ", 3);
    if (kv_crypto_message_id(e->id) != KV_OK)
        kvb_die("message id");
    memcpy(env.id, e->id, sizeof env.id);
    env.kind = KV_MSG_CD050C;
    memcpy(env.mrn, mrn, KV_MRN_LEN + 1);
    memcpy(e->mrn, mrn, KV_MRN_LEN + 1);
    env.seq = e->seq = seq;
    if (kv_time_set(&env.time, (int64_t)time(NULL), 0) != KV_OK)
        kvb_die("time");
    env.body = body_text;
    env.body_len = body_len;
    if (kv_envelope_encode(&env, &e->bytes, &e->len, &why) != KV_OK) {
        fprintf(stderr, "exchange_rate: encode: %s\n", why.message);
        exit(2);
    }
    if (kv_envelope_sign(kp, e->bytes, e->len, e->sig, sizeof e->sig) != KV_OK)
        kvb_die("sign");
    snprintf(e->header, sizeof e->header, "%s: %s", KV_SIG_HEADER, e->sig);
}

/* ---- the baseline ----------------------------------------------------------------- */

struct ring {
    struct signed_env e[RING];
    unsigned next;
};

static void ring_body(void *ctx, unsigned conn, const char **body, size_t *len, const char **header)
{
    (void)conn;
    struct ring *r = ctx;
    struct signed_env *e = &r->e[r->next++ % RING];
    *body = e->bytes;
    *len = e->len;
    *header = e->header;
}

struct phase {
    double rate, p50, p99, cpu_us; /* per second; ms; CPU µs per message */
    uint64_t n;
    double secs;
};

static bool baseline(const struct kv_keypair *kz, unsigned conns, double secs, struct phase *out)
{
    static struct ring r;
    for (unsigned i = 0; i < RING; i++) {
        char mrn[KV_MRN_LEN + 1];
        stream_mrn(i, mrn);
        make_env(kz, mrn, 1, &r.e[i]);
    }
    struct kvb_bare b;
    if (kvb_bare_start(&b, 2, 200, "{\"ack\":\"bench\"}") != 0)
        kvb_die("cannot start the bare server");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", b.port, KV_EXCHANGE_PATH);
    struct kvb_post_config pc = {.url = url,
                                 .connections = conns,
                                 .warmup = 1,
                                 .duration = secs,
                                 .next_body = ring_body,
                                 .ctx = &r};
    struct kvb_post_result res;
    memset(&res, 0, sizeof res);
    double c0 = cpu_s();
    kvb_post_run(&pc, &res);
    double c1 = cpu_s();
    kvb_bare_stop(&b);
    *out = (struct phase){.rate = (double)res.ok / res.secs,
                          .p50 = kvb_pct(&res, 0.5),
                          .p99 = kvb_pct(&res, 0.99),
                          .n = res.ok,
                          .secs = res.secs,
                          /* the warm-up and the tail ran too: per answered request */
                          .cpu_us = (c1 - c0) * 1e6 / (double)(res.nlat ? res.nlat : 1)};
    bool ok = res.failed == 0 && res.ok > 0;
    if (!ok)
        printf("baseline: %llu failed; first: status %ld: %s\n", (unsigned long long)res.failed,
               res.first_bad_status, res.first_bad_body);
    free(res.lat);
    for (unsigned i = 0; i < RING; i++)
        free(r.e[i].bytes);
    return ok;
}

/* ---- the pipeline ----------------------------------------------------------------- */

/* What the producers share; producer i owns movements i, i + P, i + 2P ... */
struct production {
    struct xt_tx *tx;
    const struct kv_keypair *kp;
    unsigned streams, batch, window, producers;
    uint32_t *last; /* per movement: the last seq enqueued */
    _Atomic bool stop;
    _Atomic uint64_t enqueued; /* in all */
    _Atomic int error;
    char detail[KV_STORE_DETAIL_MAX];
};

struct producer {
    struct production *pr;
    unsigned index;
};

static void *produce(void *arg)
{
    struct producer *me = arg;
    struct production *p = me->pr;
    struct signed_env *e = calloc(p->batch, sizeof *e);
    struct kv_outmsg *m = calloc(p->batch, sizeof *m);
    unsigned *at = calloc(p->batch, sizeof *at); /* the movement of each message */
    if (!e || !m || !at)
        kvb_die("out of memory");
    unsigned s = me->index; /* this producer's next movement */
    while (!atomic_load(&p->stop) && !atomic_load(&p->error)) {
        struct kv_exchange_out_stats st;
        kv_exchange_out_stats(p->tx->w, &st);
        if (atomic_load(&p->enqueued) - st.delivered + p->batch > p->window) {
            xt_sleep_ms(1);
            continue;
        }
        for (unsigned i = 0; i < p->batch; i++) {
            char mrn[KV_MRN_LEN + 1];
            stream_mrn(s, mrn);
            at[i] = s;
            make_env(p->kp, mrn, ++p->last[s], &e[i]);
            m[i] = (struct kv_outmsg){.id = e[i].id,
                                      .receiver = "AZ",
                                      .kind = "CD050C",
                                      .mrn = e[i].mrn,
                                      .seq = e[i].seq,
                                      .envelope = e[i].bytes,
                                      .envelope_len = e[i].len,
                                      .signature = e[i].sig};
            s += p->producers;
            if (s >= p->streams)
                s = me->index;
        }
        char detail[KV_STORE_DETAIL_MAX] = "";
        int rc = kv_store_outbox_enqueue(p->tx->store, m, p->batch, detail);
        if (rc == 0) {
            atomic_fetch_add(&p->enqueued, p->batch);
            kv_exchange_out_kick(p->tx->w);
        } else {
            for (unsigned i = p->batch; i-- > 0;) /* not enqueued after all */
                p->last[at[i]]--;
            if (atomic_exchange(&p->error, rc) == 0)
                snprintf(p->detail, sizeof p->detail, "%s", detail);
        }
        for (unsigned i = 0; i < p->batch; i++)
            free(e[i].bytes);
    }
    free(e);
    free(m);
    free(at);
    return NULL;
}

struct opts {
    double duration, warmup, baseline;
    unsigned per_peer, streams, size, batch, window, producers;
};

static bool pipeline(const struct opts *o, const struct kv_keypair *kz, const struct kv_trust *t,
                     struct phase *out)
{
    struct kv_envelope_verifier v = {.trust = t, .me = "AZ"};
    struct xt_rx rx;
    xt_rx_start_verify(&rx, "AZ", true, xt_verify_envelope, &v);
    struct xt_tx tx;
    xt_tx_open(&tx, "KZ", &rx);
    xt_tx_run(&tx, (struct kv_exchange_out_config){.sign = xt_sign_envelope,
                                                   .sign_ctx = (void *)kz,
                                                   .per_peer = o->per_peer,
                                                   .max_in_flight = o->per_peer});
    struct production p = {.tx = &tx,
                           .kp = kz,
                           .streams = o->streams,
                           .batch = o->batch,
                           .window = o->window,
                           .producers = o->producers,
                           .last = calloc(o->streams, sizeof(uint32_t))};
    struct producer who[PRODUCERS_MAX];
    pthread_t th[PRODUCERS_MAX];
    if (!p.last)
        kvb_die("out of memory");
    for (unsigned i = 0; i < o->producers; i++) {
        who[i] = (struct producer){.pr = &p, .index = i};
        if (pthread_create(&th[i], NULL, produce, &who[i]) != 0)
            kvb_die("thread");
    }

    struct kv_exchange_out_stats s0, s1;
    xt_sleep_ms((int)(o->warmup * 1000));
    double t0 = kvb_now_s(), c0 = cpu_s();
    kv_exchange_out_stats(tx.w, &s0);
    uint64_t low = UINT64_MAX; /* the smallest backlog seen: did the worker ever run dry? */
    while (kvb_now_s() - t0 < o->duration) {
        xt_sleep_ms(100);
        uint64_t b = xt_backlog(tx.store);
        if (b < low)
            low = b;
    }
    kv_exchange_out_stats(tx.w, &s1);
    double t1 = kvb_now_s(), c1 = cpu_s();
    atomic_store(&p.stop, true);
    for (unsigned i = 0; i < o->producers; i++)
        pthread_join(th[i], NULL);

    uint64_t n = atomic_load(&p.enqueued);
    bool drained = xt_wait_drained(&tx, 60000);
    struct kv_exchange_out_stats st;
    for (int i = 0; i < 500; i++) { /* the last results are counted once recorded */
        kv_exchange_out_stats(tx.w, &st);
        if (st.delivered >= n)
            break;
        xt_sleep_ms(10);
    }
    struct kv_exchange_in_stats rs;
    kv_exchange_in_stats(rx.x, &rs);
    uint64_t d = s1.delivered - s0.delivered;
    *out = (struct phase){.rate = (double)d / (t1 - t0),
                          .n = d,
                          .secs = t1 - t0,
                          .cpu_us = (c1 - c0) * 1e6 / (double)(d ? d : 1)};
    printf("pipeline: %llu messages enqueued by %u producers in %llu transactions; smallest "
           "backlog while measuring %llu%s\n",
           (unsigned long long)n, o->producers, (unsigned long long)(n / o->batch),
           (unsigned long long)low,
           low == 0 ? " (the worker ran dry: the producer limited the rate)" : "");
    printf("sender: %llu attempts, %llu failed, %llu delivered; receiver: %llu applied, "
           "%llu duplicates, %llu parked, %llu refused, %llu unavailable\n",
           (unsigned long long)st.attempts, (unsigned long long)st.failed,
           (unsigned long long)st.delivered, (unsigned long long)rs.applied,
           (unsigned long long)rs.duplicates, (unsigned long long)rs.parked,
           (unsigned long long)rs.refused, (unsigned long long)rs.unavailable);
    bool ok = atomic_load(&p.error) == 0 && drained && n > 0 && st.delivered == n &&
              rs.applied == n && rs.duplicates == 0 && rs.refused == 0;
    if (atomic_load(&p.error) != 0)
        printf("producer: %s\n", p.detail);
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (unsigned s = 0; ok && s < o->streams; s++) {
        char mrn[KV_MRN_LEN + 1];
        stream_mrn(s, mrn);
        uint32_t applied = 0, parked = 0;
        ok = kv_store_inbox_last(rx.store, "KZ", mrn, &applied, &parked, detail) == 0 &&
             applied == p.last[s] && parked == 0;
    }
    ok = ok && kv_store_check(rx.store, detail) == 0 && kv_store_check(tx.store, detail) == 0;
    printf("counts: %s\n",
           ok ? "sent = applied, no duplicates, every movement complete in order" : "MISMATCH");
    free(p.last);
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
    return ok;
}

int main(int argc, char **argv)
{
    struct opts o = {.duration = 10,
                     .warmup = 2,
                     .baseline = 4,
                     .per_peer = KV_EXCHANGE_PER_PEER,
                     .streams = 1000,
                     .size = 1024,
                     .batch = 3,
                     .window = 2000,
                     .producers = 4};
    static const struct option lopts[] = {
        {"duration", required_argument, NULL, 'd'},  {"warmup", required_argument, NULL, 'w'},
        {"baseline", required_argument, NULL, 'B'},  {"per-peer", required_argument, NULL, 'p'},
        {"streams", required_argument, NULL, 's'},   {"size", required_argument, NULL, 'b'},
        {"batch", required_argument, NULL, 'n'},     {"window", required_argument, NULL, 'W'},
        {"producers", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.duration = opt_secs(optarg, "duration");
            break;
        case 'w':
            o.warmup = opt_secs(optarg, "warmup");
            break;
        case 'B':
            o.baseline = opt_secs(optarg, "baseline");
            break;
        case 'p':
            o.per_peer = opt_uint(optarg, "per-peer", KV_EXCHANGE_IN_FLIGHT_MAX);
            break;
        case 's':
            o.streams = opt_uint(optarg, "streams", 1000000);
            break;
        case 'b':
            o.size = opt_uint(optarg, "size", 512 * 1024);
            break;
        case 'n':
            o.batch = opt_uint(optarg, "batch", KV_STORE_ENQUEUE_MAX);
            break;
        case 'W':
            o.window = opt_uint(optarg, "window", 10000000);
            break;
        case 'P':
            o.producers = opt_uint(optarg, "producers", PRODUCERS_MAX);
            break;
        default:
            fprintf(stderr, "usage: exchange_rate [--duration S] [--warmup S] [--baseline S] "
                            "[--per-peer P] [--streams N] [--size BYTES] [--batch B] "
                            "[--window W] [--producers T]\n");
            return 2;
        }
    }
    if (o.producers > o.streams)
        o.producers = o.streams;
    if (o.window < o.batch * o.producers)
        o.window = o.batch * o.producers;
    kv_log_init(2, KV_LOG_ERROR);
    if (kv_crypto_init() != KV_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        kvb_die("cannot initialise libsodium or libcurl");
    make_body(o.size);

    /* Two nodes with fresh keys and the trust list that names them. */
    struct kv_keypair kz, az;
    struct kv_trust *t = malloc(sizeof *t);
    struct kv_time from;
    if (!t || kv_crypto_keypair_new(&kz) != KV_OK || kv_crypto_keypair_new(&az) != KV_OK)
        kvb_die("keys");
    kv_trust_init(t);
    kv_time_set(&from, 1735689600, 0); /* 2025-01-01 */
    const struct kv_keypair *keys[2] = {&kz, &az};
    const char *cc[2] = {"KZ", "AZ"};
    for (int i = 0; i < 2; i++) {
        struct kv_trust_key k;
        if (kv_trust_add_node(t, cc[i], "http://127.0.0.1") != KV_OK ||
            kv_trust_key_make(&k, keys[i]->pk, &from, NULL) != KV_OK ||
            kv_trust_add_key(t, cc[i], &k) != KV_OK)
            kvb_die("trust list");
    }

    struct signed_env probe;
    make_env(&kz, "25KZ0001000000A1J9", 1, &probe);
    printf("exchange_rate: KZ -> AZ, %zu-byte CD050C envelopes (%u-byte padding), Ed25519; "
           "%u requests in flight; %u movements, %u producers committing %u messages per outbox "
           "transaction\n",
           probe.len, o.size, o.per_peer, o.streams, o.producers, o.batch);
    free(probe.bytes);
    fflush(stdout);

    /* The baseline before and after the pipeline: on a shared machine the
     * load moves, and the mean of the two brackets the pipeline's window. */
    struct phase base[2], pipe;
    memset(base, 0, sizeof base);
    memset(&pipe, 0, sizeof pipe);
    bool ok = true;
    for (int round = 0; round < 3; round++) {
        if (round == 1) {
            ok = pipeline(&o, &kz, t, &pipe) && ok;
            printf("pipeline  %8.0f msg/s   %llu delivered in %.1f s  %.0f us CPU/msg  "
                   "(outbox -> worker -> POST /v1/exchange -> verify -> inbox, both durable)\n",
                   pipe.rate, (unsigned long long)pipe.n, pipe.secs, pipe.cpu_us);
        } else {
            struct phase *b = &base[round / 2];
            ok = baseline(&kz, o.per_peer, o.baseline, b) && ok;
            printf("baseline  %8.0f req/s   p50 %.2f ms  p99 %.2f ms  %.0f us CPU/req  "
                   "(bare libmicrohttpd answering 200, %u keep-alive connections, %.0f s, %s)\n",
                   b->rate, b->p50, b->p99, b->cpu_us, o.per_peer, b->secs,
                   round ? "after" : "before");
        }
        fflush(stdout);
    }
    double raw = (base[0].rate + base[1].rate) / 2;
    printf("ratio baseline/pipeline: %.1f (durable, verified delivery at %.1f%% of the raw POST "
           "rate; baseline = mean of before and after, %.0f req/s)\n",
           pipe.rate > 0 ? raw / pipe.rate : 0.0, raw > 0 ? 100.0 * pipe.rate / raw : 0.0, raw);
    kv_crypto_keypair_clear(&kz);
    kv_crypto_keypair_clear(&az);
    free(t);
    free(body_text);
    curl_global_cleanup();
    return ok ? 0 : 1;
}
