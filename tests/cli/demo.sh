#!/bin/bash
# demo.sh — `make run`'s demonstration (scripts/demo.sh) runs to the end:
# the core commands, then a local corridor of six nodes on a free block of
# ports with a movement from Kazakhstan to Türkiye, lodging to write-off,
# every node on the way recording its events and the chain verified at the
# destination's node, then the corridor is stopped. Args: KERVAN_BINARY SOURCE_DIR SHARED_DIR.
set -euo pipefail
k=$1
src=$2
command -v curl >/dev/null || { echo "curl not installed: skipping"; exit 77; }
command -v jq >/dev/null || { echo "jq not installed: skipping"; exit 77; }
dir=$(mktemp -d)
# should the demo fail midway, its corridor is stopped here
trap '"$k" corridor down --dir "$dir/node" >/dev/null 2>&1; rm -rf "$dir"' EXIT
out="$dir/out.txt"
KERVAN_DEMO_DIR="$dir/node" KERVAN_DEMO_PORT=0 KERVAN_DEMO_NO_WAIT=1 \
    sh "$src/scripts/demo.sh" "$k" >"$out" 2>&1 || { cat "$out"; echo "demo failed"; exit 1; }
fail=0
for want in "24GB000246J8NY33L7: valid (P5)" "R-HS-001" "examples/declaration.json: valid" \
    "release recorded as event 3; state released" "state written_off" \
    'event "release" is not allowed in state "written_off"' "uses         0 active, 1 in all" \
    "corridor of 6 nodes running in $dir/node" '"country":"AZ"' "KZ: stopped" "KG: stopped" \
    "AZ holds" "GE holds" "TR holds" "presented recorded here, pending" \
    "write_off recorded as event 18; state written_off" "chain intact: 18 events" \
    "unloading_remarks      officer TR343100"; do
    grep -qF -- "$want" "$out" || { echo "demo output lacks: $want"; fail=1; }
done
if pgrep -f "serve --country .. --data $dir/node/" >/dev/null; then
    echo "the demo left a node running"; fail=1
fi
[ $fail = 0 ] || { cat "$out"; exit 1; }
echo "demo: ok"
