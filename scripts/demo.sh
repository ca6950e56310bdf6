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
echo
echo "== Broken declarations: every problem at once, with its rule and place"
for c in 064-hs-unknown 060-net-above-gross 036-routing-order 046-grn-check-digit 113-duplicate-member; do
    f="$top/tests/golden/validate/$c.json"
    [ -f "$f" ] && run "$k" validate "$f"
done
echo
echo "kervan: the national node and the corridor arrive with the next issues; see README.md."
