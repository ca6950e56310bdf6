#!/usr/bin/env bash
# bench-node.sh — declarations lodged per second over HTTP, in one run:
#   node   `kervan serve` (SQLite, WAL, synchronous=FULL, group commit): each
#          201 means the declaration was validated, the guarantee reserved,
#          the MRN allocated and all of it synced to disk;
#   hello  bench/http_hello bare: libmicrohttpd alone, reading the same body
#          and answering 201 with no work (the HTTP ceiling of this machine).
# The same load generator (bench/loadgen: keep-alive connections, a distinct
# LRN per request) drives both, one after the other; it prints both rates,
# their ratio and the p50/p99 latencies.
#
# usage: scripts/bench-node.sh [BUILD_DIR]
# settings (environment): CONNS (64), SECS (5 measured, after 1 s warm-up),
# THREADING (the node's: per-connection, its default, or pool), THREADS (pool
# threads with THREADING=pool, 64: a handler waits for the group commit),
# HELLO_THREADS (2), DATA_PARENT (where the node's data folder goes; default
# /tmp — use a folder on the disk you want to measure).
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
kervan=$build/kervan
CONNS=${CONNS:-64}
SECS=${SECS:-5}
THREADING=${THREADING:-per-connection}
THREADS=${THREADS:-64}
HELLO_THREADS=${HELLO_THREADS:-2}
for f in "$kervan" "$build/bench/loadgen" "$build/bench/http_hello"; do
    [ -x "$f" ] || { echo "bench-node: $f not built (cmake --build $build)"; exit 2; }
done

T=$(mktemp -d "${DATA_PARENT:-/tmp}/kv-bench-node.XXXXXX")
NODE=
HELLO=
cleanup() {
    [ -n "$NODE" ] && kill -TERM "$NODE" 2>/dev/null && wait "$NODE" 2>/dev/null
    [ -n "$HELLO" ] && kill -TERM "$HELLO" 2>/dev/null && wait "$HELLO" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

holder=$(sed -n 's/.*"holder": *{ *"id": *"\([^"]*\)".*/\1/p' "$top/examples/declaration.json")
[ -n "$holder" ] || holder=180540001239
token() { "$kervan" token add --data "$T/data" --country KZ "$@" 2>/dev/null | grep -o 'kv_[A-Za-z0-9_-]\{43\}' | head -1; }
TRADER=$(token --role trader --party "$holder" --label bench)
GUAR=$(token --role guarantor --party 990340001111 --label bench)

"$kervan" serve --country KZ --data "$T/data" --listen 127.0.0.1:0 --port-file "$T/port" \
    --threading "$THREADING" --threads "$THREADS" --access-log off --max-connections 1024 \
    2>"$T/node.log" &
NODE=$!
"$build/bench/http_hello" bare "$HELLO_THREADS" >"$T/hello.port" &
HELLO=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && [ -s "$T/hello.port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { echo "bench-node: the node did not start:"; cat "$T/node.log"; exit 1; }
[ -s "$T/hello.port" ] || { echo "bench-node: http_hello did not start"; exit 1; }
NODE_URL=http://127.0.0.1:$(cat "$T/port")
HELLO_URL=http://127.0.0.1:$(cat "$T/hello.port")

# the example declaration's guarantee, large enough for every lodge of the run
code=$(curl -s -o "$T/g.json" -w '%{http_code}' -H "Authorization: Bearer $GUAR" \
    -H 'Content-Type: application/json' \
    --data-binary '{"grn":"25KZ050100ALA0012","referenceAmount":"1000000000000.00","currency":"USD"}' \
    "$NODE_URL/v1/guarantees")
[ "$code" = 201 ] || { echo "bench-node: guarantee: $code $(cat "$T/g.json")"; exit 1; }

echo "== bench-node: POST /v1/declarations, examples/declaration.json with a fresh LRN each"
echo "node: kervan serve --threading $THREADING (durable group commit, data in $T); hello: http_hello bare, $HELLO_THREADS epoll threads"
"$build/bench/loadgen" --template "$top/examples/declaration.json" --token "$TRADER" \
    --connections "$CONNS" --duration "$SECS" --warmup 1 \
    node="$NODE_URL/v1/declarations" hello="$HELLO_URL/v1/declarations"
stored=$(sqlite3 "$T/data/kervan.db" 'SELECT count(*) FROM movement' 2>/dev/null || echo "?")
echo "movements stored by the node: $stored"
curl -s "$NODE_URL/metrics" | grep -E '^kervan_store_(commits_total|writes_total|batch_size)' || true
