#!/bin/sh
# bench.sh — run the benchmarks in bench/ (make bench). BUILD_DIR is the build folder.
# Each comparative benchmark measures its own baseline in the same run and prints the ratio;
# the defaults are short (10-30 s each). Longer runs: EXCHANGE_RATE_ARGS="--duration 60",
# RELEASE_LATENCY_ARGS="--movements 2000" (see each program's header for the options).
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
echo "== bench_validate: examples/declaration.json"
"$build/bench/bench_validate" "$top/examples/declaration.json" 3
shared=${KV_SHARED_DATA:-$top/../shared/data}
if [ -d "$shared/ncts-p5-xsd" ] && [ -d "$shared/ncts-p5-examples" ]; then
    # The two CC015Cs of the issue's reference figures: HMRC's 2 KB validator sample and an
    # 8 KB Postman body (placeholders filled by the benchmark), read in place.
    echo "== bench_ncts: CC015C, 2 KB and 8 KB"
    "$build/bench/bench_ncts" "$shared/ncts-p5-xsd" \
        "$shared/ncts-p5-examples/hmrc-validator-testdata/cc015c-valid.xml" \
        "$shared/ncts-p5-examples/postman-extracted/007_CC015C_17-Simplified-Departure-E1301-Clubbed-GB_17-Simplified-Departure-E1301-Clubbed-GB.xml" \
        -s 3
else
    echo "== bench_ncts: shared data not found at $shared: skipped"
fi
echo "== bench-node: declarations/s over HTTP, durable, against a bare libmicrohttpd 201"
"$top/scripts/bench-node.sh" "$build"
echo "== exchange_rate: messages/s between two nodes, durable and Ed25519-verified, against a bare libmicrohttpd 200"
# shellcheck disable=SC2086
"$build/bench/exchange_rate" ${EXCHANGE_RATE_ARGS:-}
echo "== release_latency: release at KZ to the anticipated record stored at AZ, GE and TR, against the release's own 201"
# shellcheck disable=SC2086
"$build/bench/release_latency" --declaration "$top/examples/declaration.json" ${RELEASE_LATENCY_ARGS:-}
