#!/bin/sh
# bench.sh — run the benchmarks in bench/ (make bench). BUILD_DIR is the build folder.
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
