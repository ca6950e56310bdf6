#!/bin/sh
# bench.sh — run the benchmarks in bench/ (make bench). BUILD_DIR is the build folder.
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
echo "== bench_validate: examples/declaration.json"
"$build/bench/bench_validate" "$top/examples/declaration.json" 3
