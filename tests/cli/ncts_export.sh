#!/usr/bin/env bash
# ncts_export.sh — NCTS messages out of a real `kervan serve` (with its XSD
# folder set): a CC015C lodged as XML (POST /v1/declarations,
# application/xml), `kervan ncts export MRN --as ...` before and after the
# release, incident and write-off, every message printed validated with
# `kervan ncts validate`; the refusals (not released yet, hidden movement,
# unknown message, bad MRN, no node) and their exit statuses; a node without
# an XSD folder answers XML lodging with 415.
#
# usage: bash ncts_export.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
SRC=$2
XSD=$3/ncts-p5-xsd
command -v curl >/dev/null || { echo "curl not found: skipping"; exit 77; }
command -v jq >/dev/null || { echo "jq not found: skipping"; exit 77; }
[ -f "$XSD/cc029c.xsd" ] || { echo "shared data not found at $XSD: skipping"; exit 77; }
unset KERVAN_NCTS_XSD KERVAN_NODE KERVAN_TOKEN

T=$(mktemp -d /tmp/kv-ncts-export.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }

# start NAME ARGS... : a node in the background; sets NODE
start() {
    local name=$1; shift
    rm -f "$T/$name.port"
    "$KERVAN" serve --listen 127.0.0.1:0 --port-file "$T/$name.port" --log-level warn "$@" \
        2>"$T/$name.log" &
    PIDS+=("$!")
    for _ in $(seq 1 200); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
    [ -s "$T/$name.port" ] || fail "node $name did not start"
    NODE=http://127.0.0.1:$(cat "$T/$name.port")
}

D=$T/kz
tok() { "$KERVAN" token add --data "$D" "$@" 2>>"$T/tokens.err" || fail "token add $*"; }
OPERATOR=$(tok --country KZ --role operator)
TRADER=$(tok --role trader --party 180540001239)
GUARANTOR=$(tok --role guarantor --party KZBANK01)
OFFICER=$(tok --role officer --office KZ050200)
DEST=$(tok --role officer --office KZ050100)
OTHER=$(tok --role officer --office KZ610100)
[ -n "$OPERATOR" ] || fail "no operator token"

start kz --country KZ --data "$D" --ncts-xsd "$XSD"

code=$(curl -sS -o "$T/g.json" -w '%{http_code}' -X POST "$NODE/v1/guarantees" \
    -H "Authorization: Bearer $GUARANTOR" -H 'Content-Type: application/json' \
    -d '{"grn":"25KZ050100ALA0012","referenceAmount":"20000.00","currency":"USD"}')
[ "$code" = 201 ] || fail "guarantee: $code $(cat "$T/g.json")"

# the walk-through's declaration as the CC015C a carrier's software would send
"$KERVAN" ncts export-declaration --xsd "$XSD" --sender 180540001239 --recipient NTA.KZ \
    --message-id CARRIER-0001 --prepared 2025-03-01T09:59:00 \
    "$SRC/examples/declaration-kz.json" >"$T/decl.xml" 2>"$T/exp.err" \
    || fail "export-declaration: $(cat "$T/exp.err")"
code=$(curl -sS -o "$T/lodged.json" -w '%{http_code}' -X POST "$NODE/v1/declarations" \
    -H "Authorization: Bearer $TRADER" -H 'Content-Type: application/xml' \
    --data-binary @"$T/decl.xml")
[ "$code" = 201 ] || fail "XML lodge: $code $(cat "$T/lodged.json")"
MRN=$(jq -r .mrn "$T/lodged.json")

export_ok() { # MESSAGE TOKEN [--event N]: prints to $T/MESSAGE.xml and validates it
    local msg=$1 token=$2; shift 2
    "$KERVAN" ncts export "$MRN" --as "$msg" --node "$NODE" --token "$token" "$@" \
        >"$T/$msg.xml" 2>"$T/$msg.err" || fail "ncts export --as $msg: $(cat "$T/$msg.err")"
    local up
    up=$(echo "$msg" | tr a-z A-Z)
    grep -q "<ncts:$up " "$T/$msg.xml" || fail "$msg: not a $up: $(head -3 "$T/$msg.xml")"
    "$KERVAN" ncts validate --xsd "$XSD" "$T/$msg.xml" >"$T/v.out" 2>&1 \
        || fail "$msg does not validate: $(cat "$T/v.out")"
}

export_ok CC028C "$TRADER"
grep -q "<correlationIdentifier>CARRIER-0001</correlationIdentifier>" "$T/CC028C.xml" \
    || fail "CC028C does not correlate to the CC015C: $(cat "$T/CC028C.xml")"
grep -q "<MRN>$MRN</MRN>" "$T/CC028C.xml" || fail "CC028C without the MRN"

# not released yet: the node's reason, exit 1
"$KERVAN" ncts export "$MRN" --as CC029C --node "$NODE" --token "$OFFICER" >"$T/out" 2>"$T/err"
[ $? = 1 ] || fail "CC029C before release: exit status not 1"
grep -q "404: no CC029C: the movement has not been released for transit" "$T/err" \
    || fail "CC029C before release: $(cat "$T/err")"
[ -s "$T/out" ] && fail "CC029C before release printed something"

now() { date -u +%FT%TZ; }
event() { # TOKEN JSON-MEMBERS
    code=$(curl -sS -o "$T/ev.json" -w '%{http_code}' -X POST "$NODE/v1/movements/$MRN/events" \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2")
    [ "$code" = 201 ] || fail "event $2: $code $(cat "$T/ev.json")"
}
event "$OFFICER" '{"type":"control_decision","time":"'"$(now)"'","office":"KZ050200","control":true,"reason":"random check"}'
export_ok cc060c "$OFFICER"
event "$OFFICER" '{"type":"release","time":"'"$(now)"'","office":"KZ050200","controlResult":"A2","seals":["KZ0417731","KZ0417732"]}'
export_ok CC029C "$OFFICER"
grep -q "<code>A2</code>" "$T/CC029C.xml" || fail "CC029C without the control result"
grep -q "<identifier>KZ0417732</identifier>" "$T/CC029C.xml" || fail "CC029C without the seals"
event "$DEST" '{"type":"incident","time":"'"$(now)"'","office":"KZ050100","code":"2","text":"seal KZ0417732 found cut","place":"Kapshagay","sealsState":"replaced","newSeals":["KZ0999001"]}'
export_ok CC182C "$OFFICER" --event 4
grep -q "<identifier>KZ0999001</identifier>" "$T/CC182C.xml" || fail "CC182C without the new seal"
event "$DEST" '{"type":"arrival","time":"'"$(now)"'","office":"KZ050100"}'
event "$DEST" '{"type":"unloading_remarks","time":"'"$(now)"'","office":"KZ050100","conform":true,"sealsIntact":true}'
event "$OFFICER" '{"type":"write_off","time":"'"$(now)"'","office":"KZ050200"}'
export_ok CC045C "$OFFICER"

# refusals
"$KERVAN" ncts export "$MRN" --as CC009C --node "$NODE" --token "$OFFICER" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "not been invalidated" "$T/err" || fail "CC009C: $(cat "$T/err")"
"$KERVAN" ncts export "$MRN" --as CC029C --node "$NODE" --token "$OTHER" >/dev/null 2>"$T/err"
[ $? = 1 ] && grep -q "404: no movement $MRN" "$T/err" || fail "hidden: $(cat "$T/err")"
"$KERVAN" ncts export "$MRN" --as CC015C --node "$NODE" --token "$OFFICER" >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "CC015C is not a message kervan writes" "$T/err" || fail "CC015C: $(cat "$T/err")"
"$KERVAN" ncts export 25KZ0000000000000 --as CC029C --node "$NODE" >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "is not an MRN" "$T/err" || fail "bad MRN: $(cat "$T/err")"
"$KERVAN" ncts export "$MRN" --as CC029C >/dev/null 2>"$T/err"
[ $? = 2 ] || fail "no node: exit status not 2: $(cat "$T/err")"
"$KERVAN" ncts export "$MRN" --as CC029C --node http://127.0.0.1:9 --token x >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "cannot reach" "$T/err" || fail "unreachable node: $(cat "$T/err")"
KERVAN_NODE=$NODE KERVAN_TOKEN=$OFFICER "$KERVAN" ncts export "$MRN" --as cc029c >"$T/env.xml" \
    2>"$T/err" || fail "with the environment: $(cat "$T/err")"
cmp -s <(grep -v preparationDateAndTime "$T/env.xml") <(grep -v preparationDateAndTime "$T/CC029C.xml") \
    || fail "the same CC029C twice differs beyond its preparation time"

# an XML lodge the node refuses, answered with a CC056C
sed 's/KZ050200/TR000100/' "$T/decl.xml" >"$T/bad.xml"
code=$(curl -sS -o "$T/rej.xml" -w '%{http_code}' -X POST "$NODE/v1/declarations" \
    -H "Authorization: Bearer $TRADER" -H 'Content-Type: application/xml' \
    -H 'Accept: application/xml' --data-binary @"$T/bad.xml")
[ "$code" = 422 ] || fail "refused XML lodge: $code $(cat "$T/rej.xml")"
"$KERVAN" ncts validate --xsd "$XSD" "$T/rej.xml" >"$T/v.out" 2>&1 \
    || fail "the CC056C does not validate: $(cat "$T/v.out")"
grep -q "<errorPointer>/CC015C/CustomsOfficeOfDeparture/referenceNumber</errorPointer>" "$T/rej.xml" \
    || fail "CC056C: $(cat "$T/rej.xml")"

# a node without an XSD folder
P_TRADER=$("$KERVAN" token add --data "$T/plain2" --country KZ --role trader --party 180540001239 2>/dev/null)
start plain2 --country KZ --data "$T/plain2"
code=$(curl -sS -o "$T/415.json" -w '%{http_code}' -X POST "$NODE/v1/declarations" \
    -H "Authorization: Bearer $P_TRADER" -H 'Content-Type: application/xml' \
    --data-binary @"$T/decl.xml")
[ "$code" = 415 ] && jq -e '.error.message | contains("no NCTS XSD folder")' "$T/415.json" >/dev/null \
    || fail "no XSD folder: $code $(cat "$T/415.json")"
# a folder that cannot be used stops the node at start
"$KERVAN" serve --country KZ --data "$T/bad" --listen 127.0.0.1:0 --ncts-xsd "$T/nowhere" \
    2>"$T/badxsd.log" && fail "a node started with an unusable XSD folder"
grep -q "cannot use the NCTS XSD folder $T/nowhere" "$T/badxsd.log" \
    || fail "unusable XSD folder: $(cat "$T/badxsd.log")"
echo "ok: CC028C CC060C CC029C CC182C CC045C exported and valid; CC056C for a refused XML lodge"
exit 0
