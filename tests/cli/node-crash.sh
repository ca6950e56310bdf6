#!/usr/bin/env bash
# node-crash.sh — kill -9 a real `kervan serve` 20 times under concurrent
# load and check that nothing it acknowledged is lost or doubled.
#
# Six clients lodge distinct declarations (retrying a lodge whose answer
# was lost: lodging is idempotent on holder + LRN) and post two events on
# each (control decision, release; not retried: an event whose answer was
# lost is simply not counted). Each client writes down what the node
# acknowledged (201/200): "L LRN MRN" and "E MRN SEQ TYPE". Meanwhile the
# node is killed with SIGKILL at random moments; while it is down,
# `kervan store check` must pass (SQLite integrity, foreign keys, the
# store's invariants); after each restart, every acknowledgement written
# since the previous restart is checked against the node (the movement is
# there with its LRN, the event is at its seq with its type, every log is
# 1..n with no event twice). At the end every acknowledgement is checked
# again and the full list shows each LRN once.
#
# usage: bash node-crash.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
# KV_CRASH_KILLS and KV_CRASH_CLIENTS override the number of kills (20)
# and of clients (6).
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/node-lib.bash"
node_setup
KILLS=${KV_CRASH_KILLS:-20}
CLIENTS=${KV_CRASH_CLIENTS:-6}

mktoken TRADER trader --party "$HOLDER"
mktoken OFF_DEP officer --office "$DEP"
mktoken GUAR guarantor --party "$GUARANTOR"
mktoken ANALYST analyst
node_start --threads 16 --access-log off
FIXED_PORT=$PORT
api POST /v1/guarantees "$GUAR" -d "{\"grn\":\"$GRN\",\"referenceAmount\":\"1000000000.00\",\"currency\":\"USD\"}"
WHAT="guarantee" expect 201

decl "$T/template.json" LRNPLACEHOLDER
TEMPLATE=$(jq -c . "$T/template.json")

# client K : lodges and acts until $T/stop exists; acknowledgements go to $T/acks.K.
client() {
    trap - EXIT
    local k=$1 n=0 code body lrn mrn tries t
    local out=$T/c$k.out acks=$T/acks.$k
    : >"$acks"
    local hdr=(-H "Content-Type: application/json")
    while [ ! -e "$T/stop" ]; do
        n=$((n + 1))
        lrn=$(printf 'CR%dN%06d' "$k" "$n")
        body=${TEMPLATE/LRNPLACEHOLDER/$lrn}
        mrn=
        for tries in $(seq 1 200); do
            code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 "${hdr[@]}" \
                -H "Authorization: Bearer $TRADER" --data-binary "$body" "$URL/v1/declarations")
            case $code in
            200 | 201)
                [[ $(<"$out") =~ \"mrn\":\"([0-9A-Z]{18})\" ]] || { echo "client $k: no MRN in $(<"$out")" >>"$T/client-errors"; return; }
                mrn=${BASH_REMATCH[1]}
                echo "L $lrn $mrn" >>"$acks"
                # a retry answered 200: the first attempt was stored, its answer lost
                [ "$code" = 200 ] && echo "R $lrn $mrn" >>"$acks"
                break ;;
            000 | 503) sleep 0.05 ;; # down or stopping: the same LRN again
            *) echo "client $k: lodge $lrn: $code $(<"$out")" >>"$T/client-errors"; return ;;
            esac
            [ -e "$T/stop" ] && return
        done
        [ -n "$mrn" ] || continue
        for t in control_decision release; do
            local now ev
            now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
            if [ $t = control_decision ]; then
                ev="{\"type\":\"control_decision\",\"time\":\"$now\",\"office\":\"$DEP\",\"control\":false}"
            else
                ev="{\"type\":\"release\",\"time\":\"$now\",\"office\":\"$DEP\",\"controlResult\":\"A1\",\"seals\":[\"KZ0417731\",\"KZ0417732\"]}"
            fi
            code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 "${hdr[@]}" \
                -H "Authorization: Bearer $OFF_DEP" --data-binary "$ev" "$URL/v1/movements/$mrn/events")
            if [ "$code" = 201 ]; then
                [[ $(<"$out") =~ \"seq\":([0-9]+) ]] || { echo "client $k: no seq in $(<"$out")" >>"$T/client-errors"; return; }
                echo "E $mrn ${BASH_REMATCH[1]} $t" >>"$acks"
            elif [ "$code" = 000 ] || [ "$code" = 503 ]; then
                break # unknown whether it was recorded: leave this movement
            else
                echo "client $k: $t on $mrn: $code $(<"$out")" >>"$T/client-errors"
                return
            fi
        done
    done
}

VERIFIED=0 # lines of $T/acks.all already checked
# verify MODE : checks acknowledgements against the running node ("new": those
# since the last call; "all": every one).
verify() {
    cat "$T"/acks.[0-9]* >"$T/acks.all"
    local from=1
    [ "$1" = new ] && from=$((VERIFIED + 1))
    tail -n +"$from" "$T/acks.all" >"$T/acks.check"
    VERIFIED=$(wc -l <"$T/acks.all")
    [ -s "$T/acks.check" ] || return 0
    awk '$1 == "L" { print $3 } $1 == "E" { print $2 }' "$T/acks.check" | sort -u >"$T/mrns"
    rm -rf "$T/got" && mkdir "$T/got"
    { while read -r m; do
        echo "url = \"$URL/v1/movements/$m\""
        echo "output = \"$T/got/$m.json\""
      done <"$T/mrns"; } >"$T/curl.cfg"
    curl -s --max-time 60 -H "Authorization: Bearer $ANALYST" -K "$T/curl.cfg" \
        || fail "fetching $(wc -l <"$T/mrns") movements failed"
    # one line per movement: MRN LRN seq:type,... and whether its log is sound
    jq -r '"\(.mrn) \(.lrn) \([.events[] | "\(.seq):\(.type)"] | join(",")) \(
            ([.events[].seq] == [range(1; (.events | length) + 1)])
            and ([.events[].type] | length == (unique | length)))"' "$T"/got/*.json >"$T/got.txt" \
        || fail "an acknowledged movement could not be read: $(grep -l error "$T"/got/*.json | head -3 | xargs cat)"
    awk -v F="$T/got.txt" '
        BEGIN { while ((getline l < F) > 0) { split(l, a, " "); lrn[a[1]] = a[2]; evs[a[1]] = "," a[3] ","; sound[a[1]] = a[4] } }
        $1 == "L" { if (!($3 in lrn)) { print "lost movement " $3 " (" $2 ")"; bad = 1 }
                    else if (lrn[$3] != $2) { print $3 " has LRN " lrn[$3] ", acknowledged as " $2; bad = 1 } }
        $1 == "E" { if (index(evs[$2], "," $3 ":" $4 ",") == 0) { print "lost event " $4 " at seq " $3 " of " $2 " (log " evs[$2] ")"; bad = 1 } }
        END { for (m in sound) if (sound[m] != "true") { print m ": log not 1..n or an event twice: " evs[m]; bad = 1 }
              exit bad }' "$T/acks.check" >"$T/verify.out" || fail "after restart $KILL: $(head -5 "$T/verify.out")"
    ok
}

CLIENT_PIDS=()
for k in $(seq 1 $CLIENTS); do
    client "$k" &
    PIDS+=($!)
    CLIENT_PIDS+=($!)
done

START=$(date +%s)
for KILL in $(seq 1 "$KILLS"); do
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 800) / 1000 }')"
    node_kill9
    sleep 0.2 # let the clients write down what they got before the kill
    "$KERVAN" store check --data "$DATA" >"$T/check.out" 2>&1 \
        || fail "store check after kill $KILL: $(cat "$T/check.out")"
    sanitizer_clean "$T/node.log" "the node before kill $KILL"
    ok
    node_start --listen "127.0.0.1:$FIXED_PORT" --threads 16 --access-log off
    [ -s "$T/client-errors" ] && fail "client error: $(head -3 "$T/client-errors")"
    verify new # the clients keep lodging meanwhile
done
touch "$T/stop"
for p in "${CLIENT_PIDS[@]}"; do wait "$p"; forget "$p"; done
[ -s "$T/client-errors" ] && fail "client error: $(head -3 "$T/client-errors")"
verify all

# every LRN once, every acknowledged LRN there
WHAT="list all"
KERVAN_TOKEN=$ANALYST cli list --all --limit 500 --json
cli_expect 0
jq -r '.items[].lrn' "$CLI_OUT" | sort >"$T/lrns"
[ "$(uniq -d "$T/lrns" | wc -l)" = 0 ] || fail "an LRN lodged twice: $(uniq -d "$T/lrns" | head -3)"
awk '$1 == "L" { print $2 }' "$T/acks.all" | sort -u | comm -23 - "$T/lrns" >"$T/missing"
[ -s "$T/missing" ] && fail "acknowledged LRNs missing from the list: $(head -3 "$T/missing")"
LODGED=$(wc -l <"$T/lrns")
ACKED_L=$(grep -c '^L ' "$T/acks.all")
ACKED_E=$(grep -c '^E ' "$T/acks.all")
REPLAYED=$(grep -c '^R ' "$T/acks.all")
node_stop
"$KERVAN" store check --data "$DATA" >"$T/check.out" 2>&1 || fail "final store check: $(cat "$T/check.out")"
ok
echo "node-crash: $KILLS kills in $(($(date +%s) - START)) s; $ACKED_L lodges ($REPLAYED of them answered only on a retry) and $ACKED_E events acknowledged, $LODGED movements stored, none lost or doubled; $CHECKS checks passed"
