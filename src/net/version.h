/*
 * version.h — the node's build identity.
 */
#ifndef KV_NET_VERSION_H
#define KV_NET_VERSION_H

/* The kervan version string, e.g. "0.1.0". Static storage. */
const char *kv_node_version(void);

#endif
