#!/usr/bin/env bash
# audit.sh — `kervan audit`: offline, `verify --file` on the documented
# example export (tests/golden/exchange/export.json) verifies, and each kind
# of tampering with a copy is found and located (event, check) with exit
# status 1; a version 1 file is refused as such. Online, against
# `kervan serve` processes started here (node-lib.bash): a node alone has
# no sealed events (verify 2, export 1 on its 409); then a two-node corridor
# (KZ the owner, AZ a replica): `verify MRN --node` at either intact with the
# same last link, `export -o FILE` then `verify --file`, a pending event at
# AZ (KZ down) left out of AZ's export until KZ orders it, and tampering or
# a missing key in the auditor's list found at the AZ event.
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

# Tampered copies of the export, all made by one Python run (starting
# Python is slow on a busy machine): each variant is the example with one
# change, written to $T/NAME.json.
python3 - "$G/export.json" "$T" <<'PY' || fail "making the tampered copies"
import json, sys
variants = {
    # one character of the GE incident's text
    "event": 'e[6]["event"] = e[6]["event"].replace("road check", "road chock")',
    # the event no longer decodes as an event
    "event-json": 'e[3]["event"] = e[3]["event"][:-1]',
    "link": 'e[2]["link"] = ("1" if e[2]["link"][0] == "0" else "0") + e[2]["link"][1:]',
    "sig": 'e[8]["sig"] = ("B" if e[8]["sig"][0] == "A" else "A") + e[8]["sig"][1:]',
    # one event's signature replaced by another's
    "sig-swap": 'e[1]["sig"] = e[0]["sig"]',
    "keyid": 'e[5]["keyid"] = e[0]["keyid"]',
    "order-sig": 'e[7]["order_sig"] = e[6]["order_sig"]',
    # the AZ event ordered under AZ's key id (not the owner's)
    "order-keyid": 'e[4]["order_keyid"] = e[4]["keyid"]',
    "declaration": 'd["declaration"] = d["declaration"].replace("40 cartons", "4 cartons")',
    "order": 'e[4], e[5] = e[5], e[4]',
    "removed": 'del e[6]',
    "nokeys": 'del d["trust"]',
}
for name, change in variants.items():
    d = json.load(open(sys.argv[1]))
    e = d["events"]
    exec(change)
    with open("%s/%s.json" % (sys.argv[2], name), "w") as f:
        json.dump(d, f, indent=1, ensure_ascii=False)
d = json.load(open(sys.argv[1]))
d["trust"]["nodes"] = [n for n in d["trust"]["nodes"] if n["country"] != "TR"]
json.dump(d["trust"], open(sys.argv[2] + "/no-tr.json", "w"))
PY

# check NAME FIRST_BREAK "RULE POINTER"... : audit verify of $T/NAME.json
# against the example list breaks first at event FIRST_BREAK (0: none) with
# exactly these problems, in order
check() {
    local name=$1 first=$2; shift 2
    run 1 verify --file "$T/$name.json" --trust "$G/trust.json"
    if [ "$first" = 0 ]; then
        grep -q "chain BROKEN: " "$T/out" || fail "$name: $(cat "$T/out")"
    else
        grep -q "chain BROKEN at event $first " "$T/out" || fail "$name: $(cat "$T/out")"
    fi
    local got want
    got=$(grep -oE '^  R-[A-Z]+-[A-Z]+ /[^:]*' "$T/out" | sed 's/^  //' | tr '\n' '|')
    want=$(printf '%s|' "$@")
    [ "$got" = "$want" ] || fail "$name: expected $want, got $got: $(cat "$T/out")"
}

check event 7 "R-CHAIN-LINK /events/6/link" "R-CHAIN-SIG /events/6/sig"
grep -q "chain BROKEN at event 7 (seq 7, GE, 2025-03-03T17:05:00+04:00): 9 of 10 events intact" "$T/out" \
    || fail "text answer: $(cat "$T/out")"
check event-json 4 "R-CHAIN-EVENT /events/3/event" "R-CHAIN-LINK /events/3/link" "R-CHAIN-SIG /events/3/sig"
check link 3 "R-CHAIN-LINK /events/2/link" "R-CHAIN-ORDSIG /events/2/order_sig" "R-CHAIN-LINK /events/3/link"
check sig 9 "R-CHAIN-SIG /events/8/sig"
check sig-swap 2 "R-CHAIN-SIG /events/1/sig"
check keyid 6 "R-CHAIN-KEY /events/5/keyid"
check order-sig 8 "R-CHAIN-ORDSIG /events/7/order_sig"
check order-keyid 5 "R-CHAIN-ORDKEY /events/4/order_keyid"
grep -q "unknown key .*: not a key of KZ" "$T/out" || fail "$(cat "$T/out")"
check declaration 0 "R-CHAIN-DECL /declaration"
grep -q "declaration: included, does NOT match link0" "$T/out" || fail "$(cat "$T/out")"
check order 5 "R-CHAIN-ORDER /events/4/seq" "R-CHAIN-LINK /events/4/link" "R-CHAIN-ORDER /events/5/seq" \
    "R-CHAIN-LINK /events/5/link" "R-CHAIN-LINK /events/6/link"
check removed 7 "R-CHAIN-ORDER /events/6/seq" "R-CHAIN-LINK /events/6/link" "R-CHAIN-ORDER /events/7/seq" \
    "R-CHAIN-ORDER /events/8/seq"
# the same answer as one JSON object
run 1 verify --file "$T/link.json" --trust "$G/trust.json" --json
python3 - "$T/out" <<'PY' || fail "--json: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["mrn"] == "25KZ0001000000A1J9" and d["intact"] is False, d
assert (d["events"], d["intact_events"], d["first_break"]) == (10, 8, 3), d
assert d["declaration"] == "matches" and d["keys"].startswith("trust list "), d
assert [p["rule"] + " " + p["pointer"] for p in d["problems"]] == [
    "R-CHAIN-LINK /events/2/link", "R-CHAIN-ORDSIG /events/2/order_sig",
    "R-CHAIN-LINK /events/3/link"], d
assert "event 3 (seq 3, KZ" in d["problems"][0]["message"], d
PY
# a trust list without TR: TR's two events cannot be checked
run 1 verify --file "$G/export.json" --trust "$T/no-tr.json"
grep -q "R-CHAIN-KEY /events/7/keyid: event 8 (seq 8, TR, 2025-03-04T08:30:00+03:00): unknown node TR" "$T/out" \
    || fail "$(cat "$T/out")"

# not an export, no keys, unreadable files, usage
printf '{"format":"other"}' >"$T/x.json"
run 1 verify --file "$T/x.json"
grep -q "R-EXP-004 /format" "$T/err" || fail "$(cat "$T/err")"
grep -q "is not a valid chain export" "$T/err" || fail "$(cat "$T/err")"
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
"$KERVAN" audit --help | grep -q "kervan audit export MRN --node URL" || fail "--help"
# a version 1 export (chain v1) is refused, saying so
sed 's/"v": 2,/"v": 1,/' "$G/export.json" >"$T/v1.json"
run 1 verify --file "$T/v1.json" --trust "$G/trust.json"
grep -q "R-EXP-004 /v: a version 1 export" "$T/err" || fail "$(cat "$T/err")"
[ "$(grep -c R-EXP "$T/err")" = 1 ] || fail "v1: more than one problem: $(cat "$T/err")"
# usage of the online forms, before any node
run 2 verify 25KZ0001000000A1J9 --file "$G/export.json"
grep -q "not both" "$T/err" || fail "$(cat "$T/err")"
run 2 verify 25KZ0001000000A1J8 --node http://127.0.0.1:9
grep -q "is not an MRN" "$T/err" || fail "$(cat "$T/err")"
run 2 export --node http://127.0.0.1:9
grep -q "which movement" "$T/err" || fail "$(cat "$T/err")"
run 2 export 25KZ0001000000A1J9 --node http://127.0.0.1:9 --json
run 2 verify --file "$G/export.json" -o "$T/x"
run 2 verify 25KZ0001000000A1J9 25KZ0001000000A1J9
# a node that cannot be reached
run 2 verify 25KZ0001000000A1J9 --node http://127.0.0.1:9 --token kv_x
run 2 export 25KZ0001000000A1J9 --node http://127.0.0.1:9 --token kv_x

# ---- online: against a node ---------------------------------------------------
OFFLINE_T=$T
. "$SRC/tests/cli/node-lib.bash"
node_setup
trap 'node_cleanup; rm -rf "$OFFLINE_T"' EXIT

mktoken TRADER trader --party "$HOLDER"
mktoken TRADER2 trader --party "$HOLDER2"
mktoken GUAR guarantor --party "$GUARANTOR"
mktoken ANALYST analyst
node_start # alone: no --trust, so its events are not sealed

WHAT="guarantee"
KERVAN_TOKEN=$GUAR cli guarantee add "$GRN" 1000000.00 USD
cli_expect 0
decl "$T/d1.json" AUDIT-ALONE-1
KERVAN_TOKEN=$TRADER cli declare "$T/d1.json"
cli_expect 0
MRN1=$(cut -d' ' -f1 "$CLI_OUT")

# no seals, no chain: verify says the node gives no export (2), export
# relays the refusal (1)
WHAT="audit verify (alone)"
cli audit verify "$MRN1" --token "$ANALYST"
cli_expect 2
err_has "kervan audit verify: conflict (409)"
err_has "event 1 is not sealed"
WHAT="audit export (alone)"
cli audit export "$MRN1" --token "$ANALYST" -o "$T/e1.json"
cli_expect 1
[ -e "$T/e1.json" ] && fail "a refused export wrote a file"
# need-to-know: another trader, and no token at all
WHAT="audit export (another trader)"
cli audit export "$MRN1" --token "$TRADER2"
cli_expect 1
err_has "not found (404)"
WHAT="audit verify (no token)"
cli audit verify "$MRN1"
cli_expect 2
node_stop

# ---- a corridor of two nodes: KZ (the owner) and AZ -----------------------------
command -v python3 >/dev/null || { echo "python3 not found: corridor part skipped"; exit 0; }
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
KZ_DATA=$DATA
AZ_DATA=$T/az
KZ_PORT=$(free_port)
AZ_PORT=$(free_port)
KZ_URL=http://127.0.0.1:$KZ_PORT
AZ_URL=http://127.0.0.1:$AZ_PORT
TRUST=$T/trust.json
for cc in KZ AZ; do
    d=$KZ_DATA; u=$KZ_URL
    [ "$cc" = AZ ] && { d=$AZ_DATA; u=$AZ_URL; }
    "$KERVAN" keys new --data "$d" >/dev/null 2>"$T/keys.err" || fail "keys new $cc: $(cat "$T/keys.err")"
    "$KERVAN" trust add --file "$TRUST" --country "$cc" --url "$u" --data "$d" \
        --from 2020-01-01T00:00:00Z >/dev/null 2>"$T/trust.err" || fail "trust add $cc: $(cat "$T/trust.err")"
done
COUNTRY=AZ DATA=$AZ_DATA mktoken AZ_ANALYST analyst
COUNTRY=AZ DATA=$AZ_DATA mktoken AZ_OFF officer --office AZ100200
mktoken KZ_OFF officer --office "$DEP"

KZ_PID=
AZ_PID=
# serve CC : starts that node in the corridor and waits for /healthz
serve() {
    local cc=$1 d=$KZ_DATA p=$KZ_PORT
    [ "$cc" = AZ ] && { d=$AZ_DATA; p=$AZ_PORT; }
    "$KERVAN" serve --country "$cc" --data "$d" --listen "127.0.0.1:$p" --trust "$TRUST" \
        --threads 4 2>>"$T/node-$cc.log" &
    local pid=$!
    PIDS+=("$pid")
    printf -v "${cc}_PID" '%s' "$pid"
    local i
    for i in $(seq 1 400); do
        curl -sf "http://127.0.0.1:$p/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || fail "node $cc exited at start: $(tail -5 "$T/node-$cc.log")"
        sleep 0.025
    done
    fail "node $cc did not answer /healthz within 10 s"
}
# halt CC : SIGTERM and wait
halt() {
    local v="${1}_PID"
    kill -TERM "${!v}" 2>/dev/null
    wait "${!v}" 2>/dev/null
    forget "${!v}"
    sanitizer_clean "$T/node-$1.log" "node $1"
}
# at CC : the next api / cli calls go to that node
at() { if [ "$1" = AZ ]; then URL=$AZ_URL; else URL=$KZ_URL; fi; }
# wait_events CC MRN N [PENDING] : waits until CC's view has N events (and PENDING pending)
wait_events() {
    local tok=$ANALYST i
    [ "$1" = AZ ] && tok=$AZ_ANALYST
    at "$1"
    for i in $(seq 1 400); do
        api GET "/v1/movements/$2" "$tok"
        if [ "$LAST_CODE" = 200 ] &&
            [ "$(jq -r "(.events | length | tostring) + \"/\" + (.pending | length | tostring)" <"$LAST_BODY")" = "$3/${4:-0}" ]; then
            return 0
        fi
        sleep 0.05
    done
    fail "$1 does not hold $2 with $3 events and ${4:-0} pending: $(head -c 600 "$LAST_BODY")"
}
# last_link CC MRN : verifies at CC (--json, against the trust list); LL = the last link
last_link() {
    local tok=$ANALYST
    [ "$1" = AZ ] && tok=$AZ_ANALYST
    at "$1"
    WHAT="audit verify $2 at $1"
    cli audit verify "$2" --token "$tok" --trust "$TRUST" --json
    cli_expect 0
    LL=$(jq -r .last_link "$CLI_OUT")
}

serve KZ
serve AZ

# a movement recorded while KZ was alone has no seals: still no export
at KZ
WHAT="audit verify (recorded alone)"
cli audit verify "$MRN1" --token "$ANALYST"
cli_expect 2
err_has "event 1 is not sealed"

# Almaty → Baku: the declaration's itinerary is KZ and AZ only
decl "$T/d2.json" AUDIT-CORRIDOR-1 '
    .officeOfDestination = "AZ100100"
    | .officesOfTransit = [{"office": "AZ100200"}]
    | .officesOfExitForTransit = ["KZ470100"]
    | .consignment.countryOfDestination = "AZ"
    | .consignment.countriesOfRouting = ["KZ", "AZ"]
    | .consignment.placeOfUnloading = {"unLocode": "AZBAK", "country": "AZ", "location": "Baku"}'
KERVAN_TOKEN=$TRADER cli declare "$T/d2.json"
WHAT="declare in the corridor"
cli_expect 0
MRN2=$(cut -d' ' -f1 "$CLI_OUT")
WHAT="release"
api POST "/v1/movements/$MRN2/events" "$KZ_OFF" -d '{"type":"control_decision","time":"'"$(now_utc)"'","office":"'"$DEP"'","control":false}'
expect 201
api POST "/v1/movements/$MRN2/events" "$KZ_OFF" -d '{"type":"release","time":"'"$(now_utc)"'","office":"'"$DEP"'","controlResult":"A1","seals":["KZ0417731","KZ0417732"]}'
expect 201
wait_events AZ "$MRN2" 3
expect 200 .replica true .owner KZ

# the owner and the replica serve the same chain
last_link KZ "$MRN2"
out_has '"intact":true,"events":3'
L_KZ=$LL
last_link AZ "$MRN2"
L_AZ=$LL
[ "$L_KZ" = "$L_AZ" ] || fail "last links differ: KZ $L_KZ, AZ $L_AZ"
# the text answer, with the node's embedded list
at AZ
WHAT="audit verify at AZ (text)"
cli audit verify "$MRN2" --token "$AZ_ANALYST"
cli_expect 0
out_has "movement $MRN2: chain intact: 3 events, each linked and signed"
out_has "keys:        the export's own key list"
out_has "declaration: included, matches link0"
# export, then verify the file offline
WHAT="audit export at AZ"
cli audit export "$MRN2" --token "$AZ_ANALYST" -o "$T/x2.json"
cli_expect 0
err_has "bytes written to $T/x2.json"
[ "$(jq -r '.exported_by + " " + (.v | tostring) + " " + (.trust.nodes | length | tostring)' "$T/x2.json")" = "AZ 2 2" ] \
    || fail "export: $(head -c 400 "$T/x2.json")"
"$KERVAN" audit verify --file "$T/x2.json" --trust "$TRUST" >"$T/v.out" 2>&1 || fail "verify --file: $(cat "$T/v.out")"
ok

# the owner is down; AZ's officer records the entry: pending at AZ, not in
# its export (not ordered yet)
halt KZ
at AZ
WHAT="presented at AZ (owner down)"
api POST "/v1/movements/$MRN2/events" "$AZ_OFF" -d '{"type":"presented","time":"'"$(now_utc)"'","office":"AZ100200","side":"entry"}'
expect 201 .pending true
wait_events AZ "$MRN2" 3 1
WHAT="audit export at AZ (one pending)"
cli audit export "$MRN2" --token "$AZ_ANALYST" -o "$T/x3.json"
cli_expect 0
[ "$(jq '.events | length' "$T/x3.json")" = 3 ] || fail "a pending event was exported"
cmp -s <(jq -c .events "$T/x2.json") <(jq -c .events "$T/x3.json") || fail "the ordered events changed"
ok

# the owner is back: it orders the event and forwards it; both agree again
serve KZ
wait_events KZ "$MRN2" 4
wait_events AZ "$MRN2" 4 0
last_link KZ "$MRN2"
out_has '"intact":true,"events":4'
L_KZ=$LL
last_link AZ "$MRN2"
L_AZ=$LL
[ "$L_KZ" = "$L_AZ" ] || fail "last links differ after the owner ordered: KZ $L_KZ, AZ $L_AZ"
at KZ
WHAT="audit export at KZ"
cli audit export "$MRN2" --token "$ANALYST" -o "$T/x4.json"
cli_expect 0
[ "$(jq -r '.events[3].node + " " + (.events[3].keyid != .events[3].order_keyid | tostring)' "$T/x4.json")" = "AZ true" ] \
    || fail "event 4: $(jq -c '.events[3]' "$T/x4.json")"

# tampering with AZ's event, and an auditor who does not know AZ
python3 - "$T/x4.json" "$T" "$TRUST" <<'PY' || fail "making the tampered copies"
import json, sys
d = json.load(open(sys.argv[1]))
d["events"][3]["event"] = d["events"][3]["event"].replace('"entry"', '"exit"')
json.dump(d, open(sys.argv[2] + "/x4-bad.json", "w"))
t = json.load(open(sys.argv[3]))
t["nodes"] = [n for n in t["nodes"] if n["country"] != "AZ"]
json.dump(t, open(sys.argv[2] + "/trust-kz.json", "w"))
PY
"$KERVAN" audit verify --file "$T/x4-bad.json" --trust "$TRUST" >"$T/v.out" 2>&1
[ $? = 1 ] || fail "a changed AZ event verified: $(cat "$T/v.out")"
grep -q "chain BROKEN at event 4 (seq 4, AZ" "$T/v.out" || fail "$(cat "$T/v.out")"
[ "$(grep -oE '^  R-[A-Z]+-[A-Z]+ /[^:]*' "$T/v.out" | tr '\n' '|')" = "  R-CHAIN-LINK /events/3/link|  R-CHAIN-SIG /events/3/sig|" ] \
    || fail "tampered AZ event: $(cat "$T/v.out")"
ok
at KZ
WHAT="audit verify at KZ without AZ's key"
cli audit verify "$MRN2" --token "$ANALYST" --trust "$T/trust-kz.json"
cli_expect 1
out_has "R-CHAIN-KEY /events/3/keyid: event 4 (seq 4, AZ"
out_has "unknown node AZ"
halt KZ
halt AZ

echo "ok ($CHECKS online checks)"
