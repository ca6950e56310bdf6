/*
 * exchange_drain.c — backlog drain rate (issue 4, bench (c)): a receiving
 * node is down while N messages queue in the sender's outbox; it comes back
 * and the delivery worker drains the backlog. Prints the drain rate and
 * checks the counts (sent = applied, no duplicates, every stream complete).
 *
 * Both nodes run in this process over loopback HTTP, each with its own
 * store (SQLite, WAL, synchronous=FULL, group commit) in a scratch folder
 * under $TMPDIR: the receiver is the real exchange_in pipeline behind the
 * node's HTTP server (a thread per connection), each message recorded once
 * in its inbox (one durable write per message); the sender is the real
 * worker. Envelopes are pre-signed (a keyed-hash stand-in for Ed25519, so
 * the figure is the exchange's, not the signature's).
 *
 *   build/bench/exchange_drain [--messages N] [--streams S] [--size BYTES]
 *                              [--per-peer P] [--in-flight F]
 * Defaults: 100,000 messages in 10,000 streams (10 per movement), 1 KiB
 * bodies, 64 requests in flight to the receiver.
 */
#include <getopt.h>
#include <stdbool.h>

#include "../tests/net/exchange_test.h"

static unsigned opt_uint(const char *v, const char *name)
{
    char *end = NULL;
    unsigned long x = strtoul(v, &end, 10);
    if (!end || *end || x == 0 || x > 10000000) {
        fprintf(stderr, "exchange_drain: --%s: a number from 1 to 10000000 expected\n", name);
        exit(2);
    }
    return (unsigned)x;
}

int main(int argc, char **argv)
{
    unsigned n = 100000, streams = 10000, size = 1024, per_peer = 64, in_flight = 64;
    static const struct option opts[] = {
        {"messages", required_argument, NULL, 'n'},  {"streams", required_argument, NULL, 's'},
        {"size", required_argument, NULL, 'b'},      {"per-peer", required_argument, NULL, 'p'},
        {"in-flight", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = opt_uint(optarg, "messages");
            break;
        case 's':
            streams = opt_uint(optarg, "streams");
            break;
        case 'b':
            size = opt_uint(optarg, "size");
            break;
        case 'p':
            per_peer = opt_uint(optarg, "per-peer");
            break;
        case 'f':
            in_flight = opt_uint(optarg, "in-flight");
            break;
        default:
            fprintf(stderr, "usage: exchange_drain [--messages N] [--streams S] [--size BYTES] "
                            "[--per-peer P] [--in-flight F]\n");
            return 2;
        }
    }
    if (streams > n || n % streams) {
        fprintf(stderr, "exchange_drain: --messages must be a multiple of --streams\n");
        return 2;
    }
    if (per_peer > in_flight)
        in_flight = per_peer;
    kv_log_init(2, KV_LOG_ERROR);

    struct xt_rx rx;
    xt_rx_start(&rx, "AZ", true);
    xt_rx_down(&rx);
    struct xt_tx tx;
    xt_tx_open(&tx, "TR", &rx);
    int64_t t0 = xt_mono_ms();
    xt_enqueue(&tx, "bench", "TR", "AZ", n, streams, size, true);
    int64_t t1 = xt_mono_ms();
    printf("queued %u messages (%u streams of %u, %u-byte bodies) in %.1f s while the receiver "
           "was down\n",
           n, streams, n / streams, size, (double)(t1 - t0) / 1000.0);
    fflush(stdout);
    xt_tx_run(&tx, (struct kv_exchange_out_config){.backoff_base_ms = 100,
                                                   .backoff_cap_ms = 200,
                                                   .per_peer = per_peer,
                                                   .max_in_flight = in_flight});
    xt_sleep_ms(300); /* a few probes fail while it is down */
    struct kv_exchange_out_stats before;
    kv_exchange_out_stats(tx.w, &before);
    xt_rx_listen(&rx);
    int64_t t2 = xt_mono_ms();
    kv_exchange_out_kick(tx.w);
    uint64_t last = n;
    int64_t tick = t2;
    while (xt_backlog(tx.store) > 0) {
        xt_sleep_ms(20);
        int64_t now = xt_mono_ms();
        if (now - tick >= 5000) {
            uint64_t b = xt_backlog(tx.store);
            printf("  %5.1f s: %llu left (%.0f/s over the last 5 s)\n", (double)(now - t2) / 1e3,
                   (unsigned long long)b, (double)(last - b) * 1000.0 / (double)(now - tick));
            fflush(stdout);
            last = b;
            tick = now;
        }
    }
    int64_t t3 = xt_mono_ms();
    struct kv_exchange_out_stats st;
    for (int i = 0; i < 500; i++) { /* the last results are counted once recorded */
        kv_exchange_out_stats(tx.w, &st);
        if (st.delivered == n)
            break;
        xt_sleep_ms(10);
    }
    struct kv_exchange_in_stats rs;
    kv_exchange_in_stats(rx.x, &rs);
    double secs = (double)(t3 - t2) / 1000.0;
    printf("drained %u messages in %.2f s after the receiver came back: %.0f messages/s\n", n, secs,
           (double)n / secs);
    printf("sender: %llu attempts (%llu failed while the receiver was down), %llu delivered; "
           "receiver: %llu applied, %llu duplicates, %llu parked\n",
           (unsigned long long)st.attempts, (unsigned long long)before.failed,
           (unsigned long long)st.delivered, (unsigned long long)rs.applied,
           (unsigned long long)rs.duplicates, (unsigned long long)rs.parked);
    bool ok = st.delivered == n && rs.applied == n && rs.duplicates == 0;
    char detail[KV_STORE_DETAIL_MAX] = "";
    for (unsigned s = 0; ok && s < streams; s++) {
        char mrn[KV_MRN_LEN + 1];
        snprintf(mrn, sizeof mrn, "26TR%013uX", s);
        uint32_t applied = 0, parked = 0;
        ok = kv_store_inbox_last(rx.store, "TR", mrn, &applied, &parked, detail) == 0 &&
             applied == n / streams && parked == 0;
    }
    ok = ok && kv_store_check(rx.store, detail) == 0 && kv_store_check(tx.store, detail) == 0;
    printf("counts: %s\n",
           ok ? "sent = applied, no duplicates, every stream complete" : "MISMATCH");
    xt_tx_close(&tx);
    xt_rx_stop(&rx);
    return ok ? 0 : 1;
}
