#!/usr/bin/env bash
# corridor.sh — `kervan corridor up | down | status`: a local corridor of
# three nodes on a free block of loopback ports: the ports, corridor.json's
# shape and mode, the trust list, the tokens (each works at its own node and
# only there), status, a second `up` refused while it runs, a port taken by
# another program, `down` stopping every node, a restart keeping data and
# tokens, a recorded pid that is not a node left alone, a node that fails at
# start, and the usage errors.
#
# usage: bash corridor.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/corridor-lib.bash"
corridor_setup

# run WANT_RC ARGS... : kervan corridor ARGS; output in $T/out, $T/err
run() {
    local want=$1; shift
    "$KERVAN" corridor "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    sanitizer_clean "$T/err" "kervan corridor ${1:-}"
    [ "$rc" = "$want" ] || fail "corridor $*: exit $rc, expected $want: $(cat "$T/out" "$T/err")"
    ok
}
err_has() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1': $(cat "$T/err")"; ok; }
out_has() { grep -qF -- "$1" "$T/out" || fail "output lacks '$1': $(cat "$T/out")"; ok; }

# --- usage errors: nothing is made --------------------------------------------
run 2
run 0 --help
out_has "kervan corridor up"
run 2 sideways --dir "$CDIR"
err_has "unknown subcommand"
run 2 up --countries KZ,AZ
err_has "--dir DIR is required"
run 2 up --countries KZ,AZ --dir "$CDIR" --json
err_has "--json does not apply here"
run 2 down --dir "$CDIR" --countries KZ
run 2 up --countries KZ,Az --dir "$CDIR"
err_has "'Az' is not a country code"
run 2 up --countries KZ,AZ,KZ --dir "$CDIR"
err_has "KZ is listed twice"
run 2 up --countries KZ,AZ --dir "$CDIR" --base-port 70000
err_has "is not a port"
run 2 up --countries KZ,AZ --dir "$CDIR" --base-port 65535
err_has "leaves no port"
[ ! -e "$CDIR" ] || fail "a refused up left $CDIR behind"
run 2 up --dir "$CDIR"
err_has "--countries is required"
run 2 status --dir "$T/nothing-here"
run 2 down --dir "$T"
err_has "no corridor in"

# --- up ---------------------------------------------------------------------
corridor_up KZ,AZ,GE
grep -q "corridor of 3 nodes running in $CDIR" "$T/up.out" || fail "up said: $(cat "$T/up.out")"
F=$CDIR/corridor.json
[ "$(stat -c %a "$F")" = 600 ] || fail "corridor.json mode $(stat -c %a "$F"), expected 600"
[ "$(stat -c %a "$CDIR")" = 700 ] || fail "the corridor folder mode $(stat -c %a "$CDIR")"
i=0
for cc in KZ AZ GE; do
    port=$((BASE + i))
    jq -e --arg c "$cc" --argjson i $i --argjson p $port --arg d "$CDIR" '
        .nodes[$i] as $n
        | $n.country == $c and $n.url == "http://127.0.0.1:\($p)" and $n.port == $p
        and $n.data == "\($d)/\($c)" and $n.log == "\($d)/\($c)/node.log" and ($n.pid > 0)
        and ([$n.tokens.operator, $n.tokens.analyst, $n.tokens.guarantor, $n.tokens.trader]
             | all(test("^kv_[A-Za-z0-9_-]{43}$")))
        and ($n.tokens.officers | to_entries | all(.value | test("^kv_[A-Za-z0-9_-]{43}$")))' \
        "$F" >/dev/null || fail "corridor.json node $i ($cc): $(jq -c ".nodes[$i]" "$F")"
    # an officer token for each office of the country, no more
    want=$("$KERVAN" offices --country "$cc" --json | jq -c '[.[].ref] | sort')
    got=$(jq -c --argjson i $i '.nodes[$i].tokens.officers | keys | sort' "$F")
    [ "$want" = "$got" ] || fail "$cc officers: $got, expected $want"
    # the node answers on its port, for its country, in its own session
    h=$(curl -sS --max-time 5 "http://127.0.0.1:$port/healthz") || fail "$cc healthz on $port"
    [ "$(jq -r .country <<<"$h")" = "$cc" ] || fail "port $port answers $h"
    pid=$(cpid "$cc")
    alive "$pid" || fail "$cc pid $pid not running"
    [ "$(cat "$CDIR/$cc/node.pid")" = "$pid" ] || fail "$cc node.pid"
    [ "$(cat "$CDIR/$cc/kervan.pid")" = "$pid" ] || fail "$cc: serve's own pid file differs"
    [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "$cc node is not a session leader"
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "serve --country $cc --data $CDIR/$cc --listen 127.0.0.1:$port --trust $CDIR/trust.json" \
        || fail "$cc command line: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
    # the key in the trust list is the node's own
    key=$("$KERVAN" keys show --data "$CDIR/$cc" --json | jq -r .key)
    jq -e --arg c "$cc" --arg k "$key" --arg u "http://127.0.0.1:$port" \
        '.nodes[] | select(.country == $c) | .url == $u and (.keys | length == 1 and .[0].key == $k)' \
        "$CDIR/trust.json" >/dev/null || fail "$cc in trust.json"
    i=$((i + 1))
    ok
done
"$KERVAN" trust check --file "$CDIR/trust.json" >"$T/out" 2>&1 || fail "trust check: $(cat "$T/out")"
out_has "valid trust list: 3 nodes, 3 keys"
# keys are valid for events dated in the past
"$KERVAN" trust check --file "$CDIR/trust.json" --country AZ --key "$("$KERVAN" keys show --data "$CDIR/AZ" --json | jq -r .key)" --at 2024-01-01T00:00:00Z >/dev/null \
    || fail "AZ key not valid at 2024-01-01"

# --- the tokens -------------------------------------------------------------
for cc in KZ AZ GE; do
    for role in operator analyst guarantor trader; do
        WHAT="$cc $role" capi "$cc" GET /v1/movements "$(tok "$cc" "$role")"
        case $role in
        guarantor) [ "$LAST_CODE" = 403 ] || [ "$LAST_CODE" = 200 ] || fail "$cc $role: $LAST_CODE" ;;
        *) cexpect 200 ;;
        esac
    done
done
# the operator can make tokens; an officer's token is bound to its office
WHAT="operator makes a token" capi AZ POST /v1/tokens "$(tok AZ operator)" -d '{"role":"analyst","label":"t"}'
cexpect 201 '.role' analyst
WHAT="analyst cannot" capi AZ POST /v1/tokens "$(tok AZ analyst)" -d '{"role":"analyst","label":"t"}'
cexpect 403
# a token is its node's: KZ's analyst token is unknown to AZ
WHAT="KZ token at AZ" capi AZ GET /v1/movements "$(tok KZ analyst)"
cexpect 401
# guarantor, trader and officer together: a movement lodged and released at KZ
G=$(tok KZ guarantor)
"$KERVAN" guarantee add --node "$(url KZ)" --token "$G" 25KZ050100ALA0012 100000.00 USD >"$T/out" 2>&1 \
    || fail "guarantee add: $(cat "$T/out")"
MRN=$("$KERVAN" declare --node "$(url KZ)" --token "$(tok KZ trader)" "$SRC/examples/declaration-kz.json" 2>"$T/err" | cut -d' ' -f1)
[[ $MRN =~ ^[0-9]{2}KZ[0-9A-Z]{14}$ ]] || fail "declare at KZ: '$MRN' $(cat "$T/err")"
OFF=$(tok KZ officer KZ050200)
"$KERVAN" event --node "$(url KZ)" --token "$OFF" "$MRN" control_decision control=false \
    reason="low risk" >"$T/out" 2>&1 || fail "control decision by officer KZ050200: $(cat "$T/out")"
"$KERVAN" event --node "$(url KZ)" --token "$OFF" "$MRN" release \
    control-result=A1 seals=KZ0417731,KZ0417732 >"$T/out" 2>&1 || fail "release by officer KZ050200: $(cat "$T/out")"
WHAT="an officer of another office" capi KZ POST "/v1/movements/$MRN/events" "$(tok KZ officer KZ610100)" \
    -d '{"type":"write_off","office":"KZ050200"}'
[ "$LAST_CODE" = 403 ] || [ "$LAST_CODE" = 422 ] || fail "officer of KZ610100 wrote off at KZ050200: $LAST_CODE"
ok

# --- status -----------------------------------------------------------------
run 0 status --dir "$CDIR"
for cc in KZ AZ GE; do out_has "  $cc  $(url "$cc")  pid $(cpid "$cc")"; done
run 0 status --dir "$CDIR" --json
jq -e '(.nodes | length) == 3 and all(.nodes[]; .running and .healthy and .pid > 0)' "$T/out" >/dev/null \
    || fail "status --json: $(cat "$T/out")"

# --- a second up is refused while the corridor runs; the nodes stay ------------
PIDS_BEFORE=$(jq -c '[.nodes[].pid]' "$F")
run 2 up --countries KZ,AZ,GE --dir "$CDIR" --base-port "$BASE"
err_has "a corridor is running in $CDIR"
run 2 up --dir "$CDIR"
[ "$(jq -c '[.nodes[].pid]' "$F")" = "$PIDS_BEFORE" ] || fail "a refused up changed corridor.json"
for cc in KZ AZ GE; do alive "$(cpid "$cc")" || fail "a refused up stopped $cc"; done
# another corridor on the same ports: refused before anything is made
run 2 up --countries TR,UZ --dir "$T/other" --base-port "$((BASE + 1))"
err_has "port $((BASE + 1)) (for TR) on 127.0.0.1 is in use"
[ ! -e "$T/other/corridor.json" ] && [ ! -e "$T/other/TR" ] || fail "a refused up made files"
# the same folder for other countries or another port: refused
run 2 up --countries KZ,AZ --dir "$CDIR"
err_has "holds a corridor of other countries"

# --- down -------------------------------------------------------------------
PIDS=$(jq -r '.nodes[].pid' "$F")
run 0 down --dir "$CDIR"
for cc in KZ AZ GE; do out_has "$cc: stopped (pid"; done
for p in $PIDS; do ! alive "$p" || fail "pid $p still running after down"; done
for cc in KZ AZ GE; do
    [ ! -e "$CDIR/$cc/node.pid" ] || fail "$cc/node.pid left after down"
    sanitizer_clean "$CDIR/$cc/node.log" "the $cc node"
    grep -q 'msg="stopped"' "$CDIR/$cc/node.log" || fail "$cc did not stop cleanly"
done
! curl -s --max-time 2 "http://127.0.0.1:$BASE/healthz" >/dev/null || fail "KZ still answers after down"
jq -e 'all(.nodes[]; .pid == 0)' "$F" >/dev/null || fail "corridor.json keeps pids after down"
[ "$(stat -c %a "$F")" = 600 ] || fail "corridor.json mode after down"
run 1 status --dir "$CDIR" --json
jq -e 'all(.nodes[]; (.running | not) and (.healthy | not))' "$T/out" >/dev/null || fail "status after down: $(cat "$T/out")"
run 0 down --dir "$CDIR"
for cc in KZ AZ GE; do out_has "$cc: not running"; done

# --- up again: same data, same tokens -----------------------------------------
TOKENS_BEFORE=$(jq -c '[.nodes[].tokens]' "$F")
run 2 up --dir "$CDIR" --base-port "$((BASE + 5))"
err_has "listens from port $BASE"
run 0 up --dir "$CDIR"
[ "$(jq -c '[.nodes[].tokens]' "$F")" = "$TOKENS_BEFORE" ] || fail "a restart changed the tokens"
WHAT="the movement after a restart" capi KZ GET "/v1/movements/$MRN" "$(tok KZ analyst)"
cexpect 200 '.mrn' "$MRN" '.state' released

# --- a node killed -9: status says so, down stops the rest ------------------------
kill -KILL "$(cpid AZ)"
for _ in $(seq 100); do alive "$(cpid AZ)" || break; sleep 0.05; done
run 1 status --dir "$CDIR" --json
jq -e '[.nodes[] | .healthy] == [true, false, true]' "$T/out" >/dev/null || fail "status with AZ killed: $(cat "$T/out")"

# --- a recorded pid that is not a node of this folder is left alone ------------------
sleep 60 &
SLEEPER=$!
EXTRA_PIDS+=("$SLEEPER")
jq --argjson p "$SLEEPER" '.nodes[1].pid = $p' "$F" >"$T/c.json" && cat "$T/c.json" >"$F"
run 0 down --dir "$CDIR"
out_has "AZ: not running"
out_has "KZ: stopped"
alive "$SLEEPER" || fail "down signalled a process that is not a node"

# --- a node that fails at start: all stopped again, status 1, the folder kept ---------
B2=$(free_base 2)
run 1 up --countries UZ,KG --dir "$T/bad" --base-port "$B2" --kervan /bin/false
grep -qE "the (UZ|KG) node exited at start" "$T/err" || fail "failed up: $(cat "$T/err")"
err_has "stays for a retry"
jq -e 'all(.nodes[]; .pid == 0)' "$T/bad/corridor.json" >/dev/null || fail "failed up: pids recorded"
[ -z "$(lsof -t -i "TCP@127.0.0.1:$B2" 2>/dev/null)" ] || fail "a node of the failed up listens"

echo "corridor: ok ($CHECKS checks)"
