#!/bin/sh
# demo.sh — the main job of `make run` until the node and the corridor land:
# a short, real session with the customs core. Every command shown is run.
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
echo "== The national node: Kazakhstan's kervan serve, with a movement from lodging to write-off"
data=${KERVAN_DEMO_DIR:-$top/build/demo-node}
port=${KERVAN_DEMO_PORT:-7101}
rm -rf "$data"
mkdir -p "$data"
tok() { "$k" token add --data "$data/store" "$@"; }
trader=$(tok --country KZ --role trader --party 180540001239 --label steppe-trans) || exit 1
guarantor=$(tok --role guarantor --party 990340001111 --label halyk-guarantees)
nurzholy=$(tok --role officer --office KZ050200 --label nur-zholy)
almaty=$(tok --role officer --office KZ050100 --label almaty)
analyst=$(tok --role analyst --label ministry)
"$k" serve --country KZ --data "$data/store" --listen "127.0.0.1:$port" \
    --port-file "$data/port" 2>"$data/node.log" &
node=$!
trap 'kill $node 2>/dev/null; wait $node 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do [ -s "$data/port" ] && break; sleep 0.1; done
export KERVAN_NODE="http://127.0.0.1:$(cat "$data/port")"
run curl -s "$KERVAN_NODE/healthz"
echo
run "$k" guarantee add --token "$guarantor" 25KZ050100ALA0012 100000.00 USD
say "$k declare examples/declaration-kz.json"
mrn=$("$k" declare --token "$trader" "$top/examples/declaration-kz.json" | cut -d' ' -f1)
echo "$mrn"
run "$k" event --token "$nurzholy" "$mrn" control_decision control=false reason="low risk, seals intact"
run "$k" event --token "$nurzholy" "$mrn" release control-result=A1 seals=KZ0417731,KZ0417732
run "$k" event --token "$almaty" "$mrn" arrival
run "$k" event --token "$almaty" "$mrn" unloading_remarks conform=true seals-intact=true
run "$k" event --token "$nurzholy" "$mrn" write_off
run "$k" event --token "$nurzholy" "$mrn" release control-result=A1 seals=KZ0417731,KZ0417732
run "$k" show --token "$analyst" "$mrn"
run "$k" guarantee show --token "$guarantor" 25KZ050100ALA0012
echo
echo "The node keeps running at $KERVAN_NODE (data in $data, log in $data/node.log)."
echo "Tokens: trader $trader"
echo "        officer KZ050200 $nurzholy"
echo "        officer KZ050100 $almaty"
echo "        analyst $analyst"
echo "Try: KERVAN_TOKEN=$analyst $k list    — press Ctrl-C to stop the node."
if [ -n "${KERVAN_DEMO_NO_WAIT:-}" ]; then
    exit 0
fi
wait $node
