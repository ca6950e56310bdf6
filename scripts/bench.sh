#!/bin/sh
# bench.sh — run the benchmarks in bench/ (make bench). BUILD_DIR is the build folder.
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
echo "== bench_validate: examples/declaration.json"
"$build/bench/bench_validate" "$top/examples/declaration.json" 3
echo "== bench-node: declarations/s over HTTP, durable, against a bare libmicrohttpd 201"
"$top/scripts/bench-node.sh" "$build"
