/*
 * corridor.h — this node's part in the corridor: the exchange with the
 * other national nodes wired into the running node (docs/exchange.md).
 *
 * It holds the node's key pair and the trust list, seals the events the
 * node records (chain v2: signed where they happen, ordered and signed by
 * the movement's owner), builds the messages a state change causes
 * (anticipated records at release, border events to the owner, the owner's
 * forwards to every holder, AAR/ATR requests and answers), applies the
 * messages other nodes send (POST /v1/exchange) and runs the delivery
 * worker that empties the outbox.
 */
#ifndef KV_NET_CORRIDOR_H
#define KV_NET_CORRIDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kv_corridor;
struct kv_trust;

/* The trust list the node works with (valid for the corridor's life). */
const struct kv_trust *kv_corridor_trust(const struct kv_corridor *c);

#endif
