#!/bin/sh
# fuzz.sh — run every libFuzzer target for a bounded time (make fuzz).
#
# Usage: fuzz.sh FUZZ_BIN_DIR SECONDS
# For each target fuzz_NAME: first replays fuzz/regressions/fuzz_NAME/* (every
# crash ever found, kept as a regression case), then fuzzes for SECONDS from
# the seed corpus fuzz/corpus/NAME plus the project's example inputs (for
# ncts_import: the shared NCTS P5 examples, read in place, and the XSD folder
# in $KERVAN_NCTS_XSD, when $KV_SHARED_DATA or ../shared/data has them). Any
# crash, leak, timeout or sanitizer report fails the run; the input that
# caused it is left in FUZZ_BIN_DIR/artifacts/ to be added to regressions/.
set -eu
bindir=$1
secs=$2
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${KV_SHARED_DATA:-$top/../shared/data}
mkdir -p "$bindir/artifacts"
status=0
for fz in "$bindir"/fuzz_*; do
    [ -x "$fz" ] || continue
    name=$(basename "$fz")
    # only targets that still have a source (a build folder may hold stale ones)
    [ -f "$top/fuzz/$name.c" ] || continue
    short=${name#fuzz_}
    work="$bindir/corpus-$short"
    mkdir -p "$work"
    seeds="$top/fuzz/corpus/$short"
    extra=""
    case "$short" in
    declaration_json) extra="$top/examples $top/tests/golden/validate" ;;
    ncts_import)
        # Never copied into fuzz/corpus: libFuzzer reads these folders and writes only to $work.
        if [ -d "$shared/ncts-p5-examples" ] && [ -d "$shared/ncts-p5-xsd" ]; then
            extra="$shared/ncts-p5-examples"
            export KERVAN_NCTS_XSD="$shared/ncts-p5-xsd"
        else
            echo "fuzz: $name: shared data not found at $shared: hand-made seeds only, no XSD stage"
        fi
        ;;
    esac
    dict=""
    [ -f "$top/fuzz/$short.dict" ] && dict="-dict=$top/fuzz/$short.dict"
    regs="$top/fuzz/regressions/$name"
    if [ -d "$regs" ] && [ -n "$(ls -A "$regs" 2>/dev/null)" ]; then
        echo "fuzz: $name: replaying $(ls "$regs" | wc -l) regression inputs"
        # shellcheck disable=SC2046
        "$fz" $dict -runs=0 $(find "$regs" -type f) >"$bindir/$name.regress.log" 2>&1 || {
            echo "fuzz: $name: a regression input fails again:"; tail -40 "$bindir/$name.regress.log"; status=1; continue; }
    fi
    echo "fuzz: $name: fuzzing for ${secs}s"
    # shellcheck disable=SC2086
    if ! "$fz" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$bindir/artifacts/$name-" \
        "$work" "$seeds" $extra >"$bindir/$name.log" 2>&1; then
        echo "fuzz: $name: FAILED"; tail -60 "$bindir/$name.log"; status=1; continue
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$bindir/$name.log" | sed "s/^/fuzz: $name: /"
done
exit $status
