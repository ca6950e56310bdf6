#!/usr/bin/env bash
# corridor-faults.sh — the corridor when nodes and the network fail, with
# four real nodes (`kervan corridor up`: KZ, AZ, GE, TR on loopback):
#
# 1. a transit node (GE) is down during the release: the others get their
#    records at once, KZ's backlog for GE shows in `corridor status`; GE
#    catches up when it is back;
# 2. the owner (KZ) is down while Azerbaijan records presented and cleared:
#    the border keeps working (pending events), KZ orders them when back,
#    and every holder gets them;
# 3. a node killed with -9 while its outbox is full: the receivers are down
#    while KZ releases 12 movements, KZ is killed with SIGKILL, restarted,
#    the receivers come back, and KZ and GE are each killed again in the
#    middle of the drain;
# 4. a peer that answers slowly or with 500s: TR behind a proxy
#    (flaky_peer.py) that fails, delays, or applies a message and loses the
#    answer, in turn.
#
# After each: every node holds the owner's log link for link, nothing
# pending; at the end every message sent was applied exactly once (outbox
# and inbox ids compared store to store), no event is in a log twice, every
# chain verifies against the trust list, and `kervan store check` passes.
#
# usage: bash corridor-faults.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/corridor-lib.bash"
corridor_setup
command -v sqlite3 >/dev/null || { echo "sqlite3 not found: skipping"; exit 77; }

# A node down for a while makes its peers back off (1 s doubling to 60 s,
# docs/exchange-delivery.md): catching up may take that long.
CATCH_UP=90

corridor_up KZ,AZ,GE,TR
guarantee
AZ_IN=$(tok AZ officer AZ100200)
ALL_MRNS=()

# --- 1. a transit node down during the release --------------------------------------
lodge FAULT-TRANSIT-DOWN
F1=$MRN
ALL_MRNS+=("$F1")
node_stop GE
release "$F1"
same_log "$F1" KZ AZ TR
[ "$(backlog KZ GE)" -ge 1 ] || fail "KZ has nothing waiting for GE"
"$KERVAN" corridor status --dir "$CDIR" --json >"$T/status.json"
jq -e '.nodes[] | select(.country == "KZ") | .backlog.GE >= 1 and .healthy' "$T/status.json" >/dev/null \
    || fail "status does not show KZ's backlog for GE: $(cat "$T/status.json")"
jq -e '.nodes[] | select(.country == "GE") | (.running or .healthy) | not' "$T/status.json" >/dev/null \
    || fail "status does not show GE down: $(cat "$T/status.json")"
ok
node_start GE
wait_view GE "$F1" '.replica == true and (.events | length) == 3' $CATCH_UP
same_log "$F1" KZ AZ GE TR
echo "1. transit node down during release: caught up"

# --- 2. the owner down while a border records ------------------------------------
node_stop KZ
ev_ok AZ "$AZ_IN" "$F1" '"type":"presented","office":"AZ100200","side":"entry"'
jq -e '.pending == true' "$LAST_BODY" >/dev/null || fail "not pending: $(cat "$LAST_BODY")"
ev_ok AZ "$AZ_IN" "$F1" '"type":"cleared","office":"AZ100200","side":"entry"'
view AZ "$F1"
cexpect 200 '.pending | length' 2 '[.pending[].type] | join(",")' presented,cleared '.events | length' 3 \
    '.state' released
[ "$(backlog AZ KZ)" = 2 ] || fail "AZ's reports to KZ: $(backlog AZ KZ) waiting, expected 2"
sleep 2 # a few failed attempts
node_start KZ
wait_view KZ "$F1" '(.events | length) == 5 and .events[3].type == "presented" and .events[4].type == "cleared" and .events[4].node == "AZ"' $CATCH_UP
same_log "$F1" KZ AZ GE TR
echo "2. owner down while the border recorded: ordered when back"

# --- 3. kill -9 with a full outbox ---------------------------------------------------
N3=12
node_stop AZ
node_stop GE
node_stop TR
for i in $(seq 1 $N3); do
    lodge "FAULT-KILL-$i"
    ALL_MRNS+=("$MRN")
    release "$MRN"
done
waiting=$(db KZ "SELECT count(*) FROM outbox WHERE delivered = 0")
[ "$waiting" -ge $((3 * N3)) ] || fail "KZ's outbox holds $waiting messages, expected at least $((3 * N3))"
ok
node_kill9 KZ
[ "$(db KZ "SELECT count(*) FROM outbox WHERE delivered = 0")" = "$waiting" ] || fail "kill -9 lost outbox messages"
node_start KZ
node_start AZ
node_start GE
node_start TR
# in the middle of the drain: KZ and GE killed again
for i in $(seq 1 100); do
    [ "$(db KZ "SELECT count(*) FROM outbox WHERE delivered = 0")" -lt "$waiting" ] && break
    sleep 0.1
done
node_kill9 KZ
node_kill9 GE
left=$(db KZ "SELECT count(*) FROM outbox WHERE delivered = 0")
echo "3. KZ killed with $waiting messages queued, then again with $left left"
node_start GE
node_start KZ
wait_quiet $CATCH_UP
for m in "${ALL_MRNS[@]:1}"; do same_log "$m" KZ AZ GE TR; done
echo "3. after two kill -9: all $N3 movements at every itinerary node"

# --- 4. a peer that answers slowly or with 500s ---------------------------------------
"$KERVAN" corridor down --dir "$CDIR" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
PROXY_PORT=$(free_base 1)
python3 "$SRC/tests/cli/flaky_peer.py" "$PROXY_PORT" "$(url TR)" "$T/proxy.json" &
EXTRA_PIDS+=($!)
for i in $(seq 50); do [ -s "$T/proxy.json" ] && break; sleep 0.1; done
[ -s "$T/proxy.json" ] || fail "the proxy did not start"
# every node reaches TR through the proxy
jq --arg u "http://127.0.0.1:$PROXY_PORT" '(.nodes[] | select(.country == "TR") | .url) = $u' \
    "$CDIR/trust.json" >"$T/trust.json" && cat "$T/trust.json" >"$CDIR/trust.json"
"$KERVAN" corridor up --dir "$CDIR" >"$T/up.out" 2>&1 || fail "up again: $(cat "$T/up.out")"
ok
N4=5
for i in $(seq 1 $N4); do
    lodge "FAULT-FLAKY-$i"
    ALL_MRNS+=("$MRN")
    release "$MRN"
done
wait_quiet $CATCH_UP
for m in "${ALL_MRNS[@]: -$N4}"; do same_log "$m" KZ AZ GE TR; done
jq -e '.["500"] >= 1 and .slow >= 1 and .lost >= 1 and .ok >= 1' "$T/proxy.json" >/dev/null \
    || fail "the proxy did not fail every way: $(cat "$T/proxy.json")"
curl -s "$(url TR)/metrics" | grep -q '^kervan_exchange_received_total{result="duplicate"} [1-9]' \
    || fail "TR saw no duplicate after lost answers: $(curl -s "$(url TR)/metrics" | grep received_total)"
ok
echo "4. flaky peer: $(cat "$T/proxy.json")"

# --- at the end ---------------------------------------------------------------------
SENT_TOTAL=0
exchange_balanced
no_event_twice KZ AZ GE TR
for m in "${ALL_MRNS[@]}"; do
    "$KERVAN" audit verify "$m" --node "$(url KZ)" --token "$(tok KZ analyst)" \
        --trust "$CDIR/trust.json" >"$T/audit.out" 2>&1 || fail "audit verify $m at KZ: $(cat "$T/audit.out")"
done
"$KERVAN" audit verify "$F1" --node "$(url GE)" --token "$(tok GE analyst)" \
    --trust "$CDIR/trust.json" >"$T/audit.out" 2>&1 || fail "audit verify $F1 at GE: $(cat "$T/audit.out")"
ok
"$KERVAN" corridor down --dir "$CDIR" >"$T/down.out" 2>&1 || fail "down: $(cat "$T/down.out")"
for cc in KZ AZ GE TR; do
    "$KERVAN" store check --data "$CDIR/$cc" >"$T/check.out" 2>&1 || fail "store check $cc: $(cat "$T/check.out")"
    sanitizer_clean "$CDIR/$cc/node.log" "the $cc node"
done
ok
echo "corridor-faults: ok ($CHECKS checks, $SENT_TOTAL messages, each applied once)"
