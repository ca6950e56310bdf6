#!/bin/sh
# demo.sh — the main job of `make run`: a short, real session with the
# customs core, then a local corridor of six nodes (KZ, AZ, GE, TR, UZ, KG)
# on 127.0.0.1 with a movement taken through it, kept running until Ctrl-C
# and then stopped. Every command shown is run.
#
# Environment: KERVAN_DEMO_DIR (the corridor's folder, default
# build/demo-corridor), KERVAN_DEMO_PORT (the first node's port, default
# 7100; 0 picks a free block), KERVAN_DEMO_NO_WAIT (stop at the end instead
# of waiting for Ctrl-C; tests/cli/demo.sh).
set -u
k=${1:-build/kervan}
top=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; echo "(exit $?)"; }

run "$k" --version
echo
echo "== Movement Reference Numbers (NCTS P5, ISO 6346 check digit, rule R0410)"
run "$k" mrn new --country KZ --security 0 --count 3
run "$k" mrn new --country TR --security 3
run "$k" mrn verify 24GB000246J8NY33L7 23GB000246IF9W5YJ0 24GB012345678901A0 24gb000246j8ny33l7
echo
echo "== Code lists and the corridor's customs offices"
run "$k" codes
run "$k" codes hs 847130 870323 999999
run "$k" offices --country GE
echo
echo "== A transit declaration Almaty (KZ) -> Aktau -> Alat (AZ) -> Red Bridge -> Sarpi (GE) -> Türkiye"
run "$k" validate "$top/examples/declaration.json"
run "$k" validate "$top/examples/declaration-kz.json"
echo
echo "== Broken declarations: every problem at once, with its rule and place"
for c in 064-hs-unknown 060-net-above-gross 036-routing-order 046-grn-check-digit 113-duplicate-member; do
    f="$top/tests/golden/validate/$c.json"
    [ -f "$f" ] && run "$k" validate "$f"
done

echo
echo "== The corridor: one node per country on 127.0.0.1, fresh keys, one trust list"
dir=${KERVAN_DEMO_DIR:-$top/build/demo-corridor}
base=${KERVAN_DEMO_PORT:-7100}
countries=KZ,AZ,GE,TR,UZ,KG
# a corridor left by an earlier run is stopped and made afresh
if [ -f "$dir/corridor.json" ]; then "$k" corridor down --dir "$dir" >/dev/null 2>&1; fi
rm -rf "$dir"
stopped=
stop() {
    [ -n "$stopped" ] && return
    stopped=1
    if [ -f "$dir/corridor.json" ]; then
        say "$k corridor down --dir $dir"
        "$k" corridor down --dir "$dir"
    fi
}
trap stop EXIT
trap 'stop; exit 130' INT TERM
if [ "$base" = 0 ]; then
    # a free block of six ports: `corridor up` refuses a taken port (exit 2), try another
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        base=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 30000))
        "$k" corridor up --countries $countries --dir "$dir" --base-port "$base" >"$dir.up" 2>&1 && break
        grep -q "is in use" "$dir.up" || { cat "$dir.up"; rm -f "$dir.up"; exit 1; }
        rm -rf "$dir"
    done
    say "$k corridor up --countries $countries --dir $dir --base-port $base"
    cat "$dir.up"
    rm -f "$dir.up"
    [ -f "$dir/corridor.json" ] || { echo "no free block of ports found"; exit 1; }
else
    run "$k" corridor up --countries $countries --dir "$dir" --base-port "$base"
    [ -f "$dir/corridor.json" ] || exit 1
fi
C=$dir/corridor.json
url() { jq -r --arg c "$1" '.nodes[] | select(.country == $c) | .url' "$C"; }
tok() {
    if [ "$2" = officer ]; then
        jq -r --arg c "$1" --arg o "$3" '.nodes[] | select(.country == $c) | .tokens.officers[$o]' "$C"
    else
        jq -r --arg c "$1" --arg r "$2" '.nodes[] | select(.country == $c) | .tokens[$r]' "$C"
    fi
}
echo
echo "$C (mode 0600) holds each node's URL, pid and tokens:"
jq -r '.nodes[] | "  \(.country)  \(.url)  pid \(.pid)  tokens: operator, analyst, guarantor, trader, officers of \(.tokens.officers | keys | join(" "))"' "$C"
run curl -s "$(url AZ)/healthz"
echo

echo
echo "== One declaration, four countries: Almaty (KZ) -> Alat, Red Bridge (AZ) -> Sarpi (GE) -> Istanbul (TR)"
KZ=$(url KZ)
trader=$(tok KZ trader)
guarantor=$(tok KZ guarantor)
analyst=$(tok KZ analyst)
# wait_for CC MRN JQ-CONDITION : until the movement's view at CC satisfies it (30 s)
wait_for() {
    i=0
    while [ $i -lt 300 ]; do
        curl -s -H "Authorization: Bearer $(tok "$1" analyst)" "$(url "$1")/v1/movements/$2" \
            | jq -e "$3" >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "(still waiting at $1 for: $3)"
    return 1
}
# at CC OFFICE MRN TYPE [key=value...] : an officer of OFFICE records an event at CC's node
at() {
    cc=$1 office=$2 m=$3
    shift 3
    say "$k event --node $(url "$cc") --office $office $m $*"
    "$k" event --node "$(url "$cc")" --token "$(tok "$cc" officer "$office")" --office "$office" "$m" "$@"
    echo "(exit $?)"
}
jq '.lrn = "DEMO-CORRIDOR-1" | del(.limitDate)' "$top/examples/declaration.json" >"$dir/declaration.json"
run "$k" guarantee add --node "$KZ" --token "$guarantor" 25KZ050100ALA0012 100000.00 USD
say "$k declare --node $KZ examples/declaration.json   (LRN DEMO-CORRIDOR-1)"
mrn=$("$k" declare --node "$KZ" --token "$trader" "$dir/declaration.json" | cut -d' ' -f1)
echo "$mrn"
at KZ KZ050100 "$mrn" control_decision control=false reason="low risk, seals intact"
at KZ KZ050100 "$mrn" release control-result=A1 seals=KZ0417731,KZ0417732
echo
echo "-- the release sends the signed chain to every country on the itinerary (CD050C, CD001C):"
for cc in AZ GE TR; do
    wait_for "$cc" "$mrn" '.replica == true' && echo "   $cc holds $mrn (owner KZ)"
done
echo
echo "-- each border records at its own node; Kazakhstan, the owner, orders every event:"
at KZ KZ470100 "$mrn" presented side=exit
at KZ KZ470100 "$mrn" cleared side=exit
at AZ AZ100200 "$mrn" presented side=entry
at AZ AZ100200 "$mrn" cleared side=entry
at AZ AZ200100 "$mrn" presented side=exit
at AZ AZ200100 "$mrn" cleared side=exit
wait_for KZ "$mrn" '(.events | length) == 9'
at GE GE200100 "$mrn" presented side=entry
at GE GE200100 "$mrn" cleared side=entry
at GE GE400100 "$mrn" presented side=exit
at GE GE400100 "$mrn" cleared side=exit
wait_for KZ "$mrn" '(.events | length) == 13'
at TR TR080200 "$mrn" presented side=entry
at TR TR080200 "$mrn" cleared side=entry
at TR TR343100 "$mrn" arrival
wait_for KZ "$mrn" '.state == "arrived"'
at TR TR343100 "$mrn" unloading_remarks conform=true seals-intact=true
wait_for KZ "$mrn" '(.flags | index("unloaded")) != null'
at KZ KZ050100 "$mrn" write_off
at KZ KZ050100 "$mrn" release control-result=A1 seals=KZ0417731,KZ0417732
wait_for TR "$mrn" '.state == "written_off"'
echo
echo "-- Türkiye's copy: the same log, each event signed by the node where it happened"
run "$k" show --node "$(url TR)" --token "$(tok TR analyst)" "$mrn"
run "$k" audit verify "$mrn" --node "$(url TR)" --token "$(tok TR analyst)" --trust "$dir/trust.json"
run "$k" guarantee show --node "$KZ" --token "$guarantor" 25KZ050100ALA0012

echo
run "$k" corridor status --dir "$dir"
echo
echo "The corridor keeps running (data and logs in $dir). Try:"
echo "  curl -s -H \"Authorization: Bearer $(tok AZ analyst)\" $(url AZ)/v1/movements"
echo "  curl -s -H \"Authorization: Bearer $analyst\" $KZ/v1/movements/$mrn/export"
echo "  KERVAN_NODE=$KZ KERVAN_TOKEN=$analyst $k list"
echo "  $k corridor status --dir $dir"
echo "Every node's tokens: jq .nodes $C"
echo "Press Ctrl-C to stop the corridor."
if [ -n "${KERVAN_DEMO_NO_WAIT:-}" ]; then
    exit 0
fi
while :; do sleep 1; done
