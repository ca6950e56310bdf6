/*
 * version.c — the node's build identity, reported by /healthz and --version.
 */
#include "net/version.h"

const char *kv_node_version(void)
{
    return KV_VERSION;
}
