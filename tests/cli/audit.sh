#!/usr/bin/env bash
# audit.sh — `kervan audit verify --file`: the documented example export
# (tests/golden/exchange/export.json) verifies, and each kind of tampering
# with a copy is found and located (event, check) with exit status 1.
#
# usage: bash audit.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
SRC=$2
G=$SRC/tests/golden/exchange
T=$(mktemp -d /tmp/kv-audit-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

run() {
    local want=$1; shift
    "$KERVAN" audit "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "audit $*: exit $rc, expected $want: $(cat "$T/out" "$T/err")"
}

run 0 verify --file "$G/export.json"
grep -q "movement 25KZ0001000000A1J9: chain intact: 10 events" "$T/out" || fail "$(cat "$T/out")"
grep -q "the export's own key list" "$T/out" || fail "no note on whose keys"
run 0 verify --file "$G/export.json" --trust "$G/trust.json"
grep -q "keys:        trust list $G/trust.json" "$T/out" || fail "$(cat "$T/out")"
grep -q "declaration: included, matches link0" "$T/out" || fail "$(cat "$T/out")"
run 0 verify --file - --trust "$G/trust.json" <"$G/export.json"

# tamper WHAT PY : a copy of the export changed by the Python statement
# (d is the parsed export; e the events), verified against the example list
tamper() {
    python3 - "$G/export.json" "$T/bad.json" "$2" <<'PY' || fail "tamper script: $1"
import json, sys
d = json.load(open(sys.argv[1]))
e = d["events"]
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, indent=1, ensure_ascii=False))
PY
    run 1 verify --file "$T/bad.json" --trust "$G/trust.json" --json
    cp "$T/out" "$T/json"
    run 1 verify --file "$T/bad.json" --trust "$G/trust.json"
}
# expect FIRST_BREAK "RULE POINTER"... : the JSON answer names exactly these
expect() {
    python3 - "$T/json" "$@" <<'PY' || fail "$(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
got = [p["rule"] + " " + p["pointer"] for p in d["problems"]]
assert d["intact"] is False, d
assert d["first_break"] == int(sys.argv[2]), (d["first_break"], sys.argv[2])
assert got == sys.argv[3:], got
PY
}

# one character of the GE incident's text
tamper event 'e[6]["event"] = e[6]["event"].replace("road check", "road chock")'
expect 7 "R-CHAIN-LINK /events/6/link"
grep -q "chain BROKEN at event 7 (seq 7, GE, 2025-03-03T17:05:00+04:00): 9 of 10 events intact" "$T/out" \
    || fail "text answer: $(cat "$T/out")"
# the event no longer decodes as an event
tamper event-json 'e[3]["event"] = e[3]["event"][:-1]'
expect 4 "R-CHAIN-EVENT /events/3/event" "R-CHAIN-LINK /events/3/link"
# a link
tamper link 'e[2]["link"] = "0" + e[2]["link"][1:] if e[2]["link"][0] != "0" else "1" + e[2]["link"][1:]'
expect 3 "R-CHAIN-LINK /events/2/link" "R-CHAIN-SIG /events/2/sig" "R-CHAIN-LINK /events/3/link"
# a signature
tamper sig 'e[8]["sig"] = ("B" if e[8]["sig"][0] == "A" else "A") + e[8]["sig"][1:]'
expect 9 "R-CHAIN-SIG /events/8/sig"
# one event's signature replaced by another's
tamper sig-swap 'e[1]["sig"] = e[0]["sig"]'
expect 2 "R-CHAIN-SIG /events/1/sig"
# a key id
tamper keyid 'e[5]["keyid"] = e[0]["keyid"]'
expect 6 "R-CHAIN-KEY /events/5/keyid"
# the declaration
tamper declaration 'd["declaration"] = d["declaration"].replace("40 cartons", "4 cartons")'
expect 0 "R-CHAIN-DECL /declaration"
grep -q "declaration: included, does NOT match link0" "$T/out" || fail "$(cat "$T/out")"
# two events swapped, one removed
tamper order 'e[4], e[5] = e[5], e[4]'
expect 5 "R-CHAIN-ORDER /events/4/seq" "R-CHAIN-LINK /events/4/link" "R-CHAIN-ORDER /events/5/seq" \
    "R-CHAIN-LINK /events/5/link" "R-CHAIN-LINK /events/6/link"
tamper removed 'del e[6]'
expect 7 "R-CHAIN-ORDER /events/6/seq" "R-CHAIN-LINK /events/6/link" "R-CHAIN-ORDER /events/7/seq" \
    "R-CHAIN-ORDER /events/8/seq"
# a trust list without TR: TR's two events cannot be checked
python3 - "$G/trust.json" "$T/no-tr.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["nodes"] = [n for n in d["nodes"] if n["country"] != "TR"]
json.dump(d, open(sys.argv[2], "w"))
PY
run 1 verify --file "$G/export.json" --trust "$T/no-tr.json"
grep -q "R-CHAIN-KEY /events/7/keyid: event 8 (seq 8, TR, 2025-03-04T08:30:00+03:00): unknown node TR" "$T/out" \
    || fail "$(cat "$T/out")"

# not an export, no keys, unreadable files, usage
printf '{"format":"other"}' >"$T/x.json"
run 1 verify --file "$T/x.json"
grep -q "R-EXP-004 /format" "$T/err" || fail "$(cat "$T/err")"
grep -q "is not a valid chain export" "$T/err" || fail "$(cat "$T/err")"
python3 -c "
import json; d=json.load(open('$G/export.json')); del d['trust']; json.dump(d, open('$T/nokeys.json','w'))"
run 2 verify --file "$T/nokeys.json"
grep -q "carries no keys; give --trust FILE" "$T/err" || fail "$(cat "$T/err")"
run 0 verify --file "$T/nokeys.json" --trust "$G/trust.json"
run 2 verify --file "$T/missing.json"
run 2 verify --file "$G/export.json" --trust "$G/export.json"
grep -q "is not a valid trust list" "$T/err" || fail "$(cat "$T/err")"
run 2 verify
grep -q -- "--file EXPORT.json is required" "$T/err" || fail "$(cat "$T/err")"
run 2 check --file "$G/export.json"
"$KERVAN" audit --help | grep -q "usage: kervan audit verify" || fail "--help"
echo ok
