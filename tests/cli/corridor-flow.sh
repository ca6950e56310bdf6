#!/usr/bin/env bash
# corridor-flow.sh — a movement across a corridor of five real nodes
# (`kervan corridor up`: KZ, AZ, GE, TR, UZ as separate processes on
# loopback): declared once in Almaty, released, every border on its way
# recording its events at its own node, an incident in Azerbaijan seen in
# Georgia and Türkiye before the arrival, arrival and unloading in Istanbul,
# write-off in Kazakhstan. After each step every node holds exactly what it
# should: the itinerary countries the owner's log, link for link; Uzbekistan
# nothing. Then a diversion: a movement declared to Baku arrives in Tbilisi,
# Georgia asks Kazakhstan with its reason (AAR) and records the arrival.
# Then forged, replayed, tampered and misaddressed messages are refused and
# change nothing. At the end: every message sent was applied once, store to
# store; no event is in any log twice; each node's exported chain verifies
# against the trust list; `kervan store check` passes on every node.
#
# usage: bash corridor-flow.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/corridor-lib.bash"
corridor_setup
command -v sqlite3 >/dev/null || { echo "sqlite3 not found: skipping"; exit 77; }

corridor_up KZ,AZ,GE,TR,UZ
DEP=$(tok KZ officer KZ050100)         # Almaty, office of departure
KZ_EXIT=$(tok KZ officer KZ470100)     # Aktau, exit for transit
AZ_IN=$(tok AZ officer AZ100200)       # Alat
AZ_OUT=$(tok AZ officer AZ200100)      # Red Bridge
GE_IN=$(tok GE officer GE200100)
GE_OUT=$(tok GE officer GE400100)      # Sarpi
GE_TBS=$(tok GE officer GE100100)      # Tbilisi
TR_IN=$(tok TR officer TR080200)       # Sarp
TR_DES=$(tok TR officer TR343100)      # Ambarli, destination

guarantee

# --- KZ → AZ → GE → TR, from declaration to write-off ------------------------------
lodge CORRIDOR-FLOW-1
M1=$MRN
# before release nobody else holds it
for cc in AZ GE TR UZ; do not_held "$cc" "$M1"; done
release "$M1"
view KZ "$M1"
cexpect 200 '.owner' KZ '.replica' false '.state' released '.events | length' 3
# the anticipated records reach every itinerary country; not Uzbekistan
same_log "$M1" KZ AZ GE TR
not_held UZ "$M1"
for cc in AZ GE TR; do
    view "$cc" "$M1"
    cexpect 200 '.state' released '.events[2].type' release '.events[0].node' KZ
done

# Kazakhstan's own exit at Aktau: ordered at once, forwarded to every holder
ev_ok KZ "$KZ_EXIT" "$M1" '"type":"presented","office":"KZ470100","side":"exit"'
ev_ok KZ "$KZ_EXIT" "$M1" '"type":"cleared","office":"KZ470100","side":"exit"'
same_log "$M1" KZ AZ GE TR

# Azerbaijan: entry at Alat — recorded at AZ as pending, ordered by KZ
ev_ok AZ "$AZ_IN" "$M1" '"type":"presented","office":"AZ100200","side":"entry"'
jq -e '.pending == true' "$LAST_BODY" >/dev/null || fail "a border event at a replica is not pending: $(cat "$LAST_BODY")"
ev_ok AZ "$AZ_IN" "$M1" '"type":"cleared","office":"AZ100200","side":"entry"'
wait_view KZ "$M1" '(.events | length) == 7 and .events[6].type == "cleared" and .events[6].node == "AZ"'
# an incident at Red Bridge reaches Georgia and Türkiye before the arrival
ev_ok AZ "$AZ_OUT" "$M1" '"type":"incident","office":"AZ200100","code":"6","text":"Seal KZ0417732 found damaged at Red Bridge; goods checked, complete","place":"Qirmizi Korpu","sealsState":"replaced","newSeals":["AZ0099120"]'
for cc in GE TR; do
    wait_view "$cc" "$M1" '[.events[].type] | index("incident") != null and index("arrival") == null'
    jq -e '.flags | index("incident") != null' "$LAST_BODY" >/dev/null \
        || fail "$cc: the incident flag is not set: $(jq -c .flags "$LAST_BODY")"
done
ev_ok AZ "$AZ_OUT" "$M1" '"type":"presented","office":"AZ200100","side":"exit"'
ev_ok AZ "$AZ_OUT" "$M1" '"type":"cleared","office":"AZ200100","side":"exit"'
same_log "$M1" KZ AZ GE TR

# Georgia, then Türkiye
ev_ok GE "$GE_IN" "$M1" '"type":"presented","office":"GE200100","side":"entry"'
ev_ok GE "$GE_IN" "$M1" '"type":"cleared","office":"GE200100","side":"entry"'
ev_ok GE "$GE_OUT" "$M1" '"type":"presented","office":"GE400100","side":"exit"'
ev_ok GE "$GE_OUT" "$M1" '"type":"cleared","office":"GE400100","side":"exit"'
ev_ok TR "$TR_IN" "$M1" '"type":"presented","office":"TR080200","side":"entry"'
ev_ok TR "$TR_IN" "$M1" '"type":"cleared","office":"TR080200","side":"entry"'
ev_ok TR "$TR_DES" "$M1" '"type":"arrival","office":"TR343100"'
wait_view KZ "$M1" '.state == "arrived" and (.events | length) == 17'
ev_ok TR "$TR_DES" "$M1" '"type":"unloading_remarks","office":"TR343100","conform":true,"sealsIntact":true'
wait_view KZ "$M1" '(.events | length) == 18'
ev_ok KZ "$DEP" "$M1" '"type":"write_off","office":"KZ050100"'
wait_quiet
same_log "$M1" KZ AZ GE TR
for cc in KZ AZ GE TR; do
    view "$cc" "$M1"
    cexpect 200 '.state' written_off '.events | length' 19 '.events[-1].type' write_off
done
not_held UZ "$M1"
# the order at every node is the owner's; each event signed where it happened
view TR "$M1"
[ "$(jq -r '[.events[] | .node] | join(",")' "$LAST_BODY")" = "KZ,KZ,KZ,KZ,KZ,AZ,AZ,AZ,AZ,AZ,GE,GE,GE,GE,TR,TR,TR,TR,KZ" ] \
    || fail "where the events happened: $(jq -c '[.events[] | [.type, .node]]' "$LAST_BODY")"
ok

# --- a diversion: declared to Baku, arrives in Tbilisi ---------------------------------
lodge CORRIDOR-DIV-1 '.officeOfDestination = "AZ100100" | .consignment.countryOfDestination = "AZ"
    | .officesOfTransit = [{"office":"AZ100200"}] | .officesOfExitForTransit = ["KZ470100"]
    | .consignment.countriesOfRouting = ["KZ","AZ"]
    | .consignment.placeOfUnloading = {"unLocode":"AZBAK","country":"AZ","location":"Baku"}'
M2=$MRN
release "$M2"
same_log "$M2" KZ AZ
not_held GE "$M2"
# Georgia meets it unannounced: the node asks KZ (AAR) and says so
ev GE "$GE_TBS" "$M2" '"type":"arrival","office":"GE100100"'
[ "$LAST_CODE" = 404 ] || fail "arrival of an unknown movement: $LAST_CODE $(cat "$LAST_BODY")"
jq -e '.error.code == "requested"' "$LAST_BODY" >/dev/null || fail "not 'requested': $(cat "$LAST_BODY")"
grep -qi '^Retry-After: 1' "$LAST_HEADERS" || fail "no Retry-After: $(cat "$LAST_HEADERS")"
ok
wait_view GE "$M2" '.replica == true and (.events | length) >= 3'
ev_ok GE "$GE_TBS" "$M2" '"type":"arrival","office":"GE100100"'
wait_view KZ "$M2" '(.events | length) == 4 and .events[3].type == "arrival" and .events[3].node == "GE" and (.flags | index("diversion") != null)'
wait_quiet
same_log "$M2" KZ AZ GE
not_held TR "$M2"
not_held UZ "$M2"

# --- every message sent was applied once; no event twice; chains verify ---------------
SENT_TOTAL=0
exchange_balanced
[ "$SENT_TOTAL" -ge 30 ] || fail "only $SENT_TOTAL messages were exchanged"
no_event_twice KZ AZ GE TR
[ "$(db KZ "SELECT count(*) FROM event WHERE sig IS NOT NULL AND mrn IN ('$M1', '$M2')")" = 23 ] \
    || fail "KZ's logs do not hold the 23 signed events"
for cc in KZ AZ GE TR; do
    for m in "$M1" $([ "$cc" = TR ] || echo "$M2"); do
        "$KERVAN" audit verify "$m" --node "$(url "$cc")" --token "$(tok "$cc" analyst)" \
            --trust "$CDIR/trust.json" >"$T/audit.out" 2>&1 || fail "audit verify $m at $cc: $(cat "$T/audit.out")"
        ok
    done
done
echo "flow: $SENT_TOTAL messages, every one applied once"

# --- refusals: forged, replayed, tampered, misaddressed --------------------------------
python3 -c "import cryptography" 2>/dev/null || { echo "python3 cryptography missing: refusals skipped"; SKIP_REFUSALS=1; }
if [ -z "${SKIP_REFUSALS:-}" ]; then
    log_of KZ "$M1"
    before=$LOG_OF
    # a genuine message as AZ sent it to KZ, from AZ's outbox
    id=$(db AZ "SELECT id FROM outbox WHERE receiver = 'KZ' AND mrn = '$M1' ORDER BY seq LIMIT 1")
    db AZ "SELECT writefile('$T/env.json', envelope) FROM outbox WHERE id = '$id'" >/dev/null
    sig=$(db AZ "SELECT signature FROM outbox WHERE id = '$id'")
    [ -n "$sig" ] || sig=$(db KZ "SELECT signature FROM inbox WHERE id = '$id'")
    [ -s "$T/env.json" ] && [ -n "$sig" ] || fail "no envelope of AZ's to replay"
    post() { # post CC ENVELOPE-FILE SIGNATURE-VALUE
        N_API=$((N_API + 1)); LAST_BODY=$T/answer.$N_API
        LAST_CODE=$(curl -sS --max-time 10 -o "$LAST_BODY" -w '%{http_code}' -X POST \
            -H 'Content-Type: application/json' -H "Kervan-Signature: $3" \
            --data-binary "@$2" "$(url "$1")/v1/exchange") || LAST_CODE=000
    }
    # replayed: acknowledged as a duplicate, applied no second time
    post KZ "$T/env.json" "$sig"
    cexpect 200 '.ack' "$id" '.duplicate' true
    # tampered: one byte of the body changed
    python3 - "$T/env.json" "$T/tampered.json" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b'AZ100200')
assert i >= 0
b[i + 7] = ord('9') if b[i + 7] != ord('9') else ord('8')
open(sys.argv[2], "wb").write(bytes(b))
PY
    post KZ "$T/tampered.json" "$sig"
    cexpect 403
    grep -q R-ENV-SIG "$LAST_BODY" || fail "tampered: $(cat "$LAST_BODY")"
    # misaddressed: AZ's message to KZ posted to GE
    post GE "$T/env.json" "$sig"
    cexpect 421
    grep -q R-ENV-RECEIVER "$LAST_BODY" || fail "misaddressed: $(cat "$LAST_BODY")"
    # forged: a new message claiming to be AZ's, signed with a key that is not AZ's
    python3 - "$T/env.json" "$T/forged.json" "$T/forged.sig" <<'PY'
import base64, hashlib, json, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
env = json.loads(open(sys.argv[1], "rb").read())
env["id"] = os.urandom(16).hex()
env["seq"] = env["seq"] + 1000
data = json.dumps(env, separators=(",", ":")).encode()
k = Ed25519PrivateKey.generate()
pk = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
h = hashlib.blake2b(pk, digest_size=32).digest()[:16].hex()
fp = ":".join(h[i:i + 4] for i in range(0, 32, 4))
sig = base64.urlsafe_b64encode(k.sign(data)).rstrip(b"=").decode()
open(sys.argv[2], "wb").write(data)
open(sys.argv[3], "w").write("keyid=%s, sig=%s" % (fp, sig))
PY
    post KZ "$T/forged.json" "$(cat "$T/forged.sig")"
    cexpect 403
    grep -q R-ENV-KEY "$LAST_BODY" || fail "forged: $(cat "$LAST_BODY")"
    # the same forged bytes with AZ's real key id but a signature of another key
    post KZ "$T/forged.json" "${sig%%,*}, sig=$(sed 's/.*sig=//' "$T/forged.sig")"
    cexpect 403
    grep -q R-ENV-SIG "$LAST_BODY" || fail "forged with AZ's key id: $(cat "$LAST_BODY")"
    # an unknown sender
    sed 's/"sender":"AZ"/"sender":"KG"/' "$T/env.json" >"$T/unknown.json"
    post KZ "$T/unknown.json" "$sig"
    cexpect 403
    grep -q R-ENV-SENDER "$LAST_BODY" || fail "unknown sender: $(cat "$LAST_BODY")"
    # nothing changed at KZ
    log_of KZ "$M1"
    [ "$LOG_OF" = "$before" ] || fail "a refused message changed KZ's log"
    [ "$(db KZ "SELECT count(*) FROM inbox WHERE id = '$id'")" = 1 ] || fail "the replay was recorded twice"
    ok
    # the node logged each refusal with its rule
    for rule in R-ENV-SIG R-ENV-KEY R-ENV-SENDER; do
        grep -q "exchange message refused.*$rule" "$CDIR/KZ/node.log" || fail "KZ did not log $rule"
    done
    grep -q "exchange message refused.*R-ENV-RECEIVER" "$CDIR/GE/node.log" || fail "GE did not log R-ENV-RECEIVER"
    ok
fi

# --- stopped: every store is sound ---------------------------------------------------
"$KERVAN" corridor down --dir "$CDIR" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
for cc in KZ AZ GE TR UZ; do
    "$KERVAN" store check --data "$CDIR/$cc" >"$T/check.out" 2>&1 || fail "store check $cc: $(cat "$T/check.out")"
    sanitizer_clean "$CDIR/$cc/node.log" "the $cc node"
done
ok
echo "corridor-flow: ok ($CHECKS checks)"
