# node-lib.bash — shared helpers for the tests that drive a real `kervan serve`
# (tests/cli/node-*.sh). Sourced, not run: its name does not end in .sh, so
# CMake does not register it as a test.
#
# A test sources it after setting KERVAN (the binary) and SRC (the source
# folder), calls node_setup (a mktemp folder, a trap that kills every process
# started here), makes tokens with `mktoken` (kervan token add on the data
# folder, before the node starts), starts the node with `node_start`, and
# talks to it with `api` (curl) or `cli` (the kervan client commands).
# Everything listens on 127.0.0.1 only.

set -u

node_setup() {
    command -v curl >/dev/null || { echo "curl not found: skipping"; exit 77; }
    command -v jq >/dev/null || { echo "jq not found: skipping"; exit 77; }
    T=$(mktemp -d /tmp/kv-node-test.XXXXXX)
    DATA=$T/data
    NODE_PID=
    PIDS=()
    CHECKS=0
    trap node_cleanup EXIT
    # the node's country and the parties of the test declarations
    COUNTRY=KZ
    HOLDER=180540001239      # the example declaration's holder
    HOLDER2=091240028719     # another trader
    GUARANTOR=990340001111
    DEP=KZ050100             # office of departure (Almaty)
    BORDER=KZ610100          # declared office of exit for transit (Saryagash)
    DES=KZ470100             # office of destination (Aktau)
    ALT_DES=KZ470200         # another office with the DES role (Kuryk): diversion
    OTHER=KZ190100           # an office the test movements never name (Dostyk)
    GRN=25KZ050100ALA0012    # the example declaration's guarantee (78450.00 USD)
}

node_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
    rm -rf "$T"
}

fail() {
    echo "FAIL: $*"
    if [ -n "${LAST_BODY:-}" ] && [ -f "$LAST_BODY" ]; then
        echo "--- last answer ($LAST_CODE):"; head -c 3000 "$LAST_BODY"; echo
    fi
    if [ -f "$T/node.log" ]; then echo "--- node log (tail):"; tail -n 30 "$T/node.log"; fi
    exit 1
}

ok() { CHECKS=$((CHECKS + 1)); }

# mktoken VAR ROLE [--party ID | --office REF] : kervan token add on $DATA; VAR = the token.
mktoken() {
    local var=$1; shift
    local out
    out=$("$KERVAN" token add --data "$DATA" --country "$COUNTRY" --role "$@" --label "test-$var" 2>"$T/token.err") \
        || fail "kervan token add --role $*: $(cat "$T/token.err")"
    local tok
    tok=$(printf '%s\n' "$out" | grep -o 'kv_[A-Za-z0-9_-]\{43\}' | head -1)
    [ -n "$tok" ] || fail "kervan token add printed no token: $out"
    printf -v "$var" '%s' "$tok"
}

# node_start [extra serve flags...] : starts the node on port 0; sets URL.
node_start() {
    rm -f "$T/port"
    "$KERVAN" serve --country "$COUNTRY" --data "$DATA" --listen 127.0.0.1:0 \
        --port-file "$T/port" --threads 8 "$@" 2>>"$T/node.log" &
    NODE_PID=$!
    PIDS+=("$NODE_PID")
    local i
    for i in $(seq 1 400); do
        if [ -s "$T/port" ]; then
            PORT=$(cat "$T/port")
            URL=http://127.0.0.1:$PORT
            return 0
        fi
        kill -0 "$NODE_PID" 2>/dev/null || fail "the node exited at start"
        sleep 0.025
    done
    fail "the node did not write its port file within 10 s"
}

# forget PID : drops a process that has ended (and been waited for) from PIDS,
# so that the cleanup never signals a pid the system may have reused.
forget() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# node_kill9 : SIGKILL the node and reap it.
node_kill9() {
    kill -KILL "$NODE_PID" 2>/dev/null
    wait "$NODE_PID" 2>/dev/null
    forget "$NODE_PID"
    NODE_PID=
}

# node_stop : SIGTERM, waits (10 s) for exit 0.
node_stop() {
    kill -TERM "$NODE_PID" 2>/dev/null
    local i
    for i in $(seq 1 400); do
        if ! kill -0 "$NODE_PID" 2>/dev/null; then
            wait "$NODE_PID"; local rc=$?
            forget "$NODE_PID"
            NODE_PID=
            sanitizer_clean "$T/node.log" "the node"
            [ "$rc" = 0 ] || fail "node exit status $rc after SIGTERM"
            return 0
        fi
        sleep 0.025
    done
    fail "the node did not stop within 10 s of SIGTERM"
}

# api METHOD PATH TOKEN [BODY-FILE | -d TEXT] [curl args...]
# Sets LAST_CODE (the status) and LAST_BODY (a file with the answer). A body
# goes with Content-Type: application/json, or $CT when set ("" sends none).
N_API=0
api() {
    local method=$1 path=$2 token=$3; shift 3
    N_API=$((N_API + 1))
    LAST_BODY=$T/answer.$N_API
    local args=(-sS --max-time 20 -o "$LAST_BODY" -w '%{http_code}' -X "$method")
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    local ct="Content-Type: ${CT-application/json}"
    if [ $# -gt 0 ] && [ "$1" != "-d" ] && [ "${1:0:1}" != "-" ]; then
        args+=(-H "$ct" --data-binary "@$1"); shift
    elif [ $# -gt 0 ] && [ "$1" = "-d" ]; then
        args+=(-H "$ct" --data-binary "$2"); shift 2
    fi
    LAST_CODE=$(curl "${args[@]}" "$@" "$URL$path") || LAST_CODE=000
}

# expect CODE [JQ-FILTER EXPECTED]... : asserts the last answer's status and
# members (one jq run for all the filters; a string prints as is, anything
# else as JSON).
expect() {
    local code=$1; shift
    [ "$LAST_CODE" = "$code" ] || fail "expected status $code, got $LAST_CODE (${WHAT:-})"
    [ $# -ge 2 ] || { ok; return 0; }
    local prog="" filters=() wants=()
    while [ $# -ge 2 ]; do
        filters+=("$1"); wants+=("$2")
        prog+="${prog:+, }(($1) | if type == \"string\" then . else tojson end)"
        shift 2
    done
    local got=()
    mapfile -d '' -t got < <(jq -j "$prog | . + \"\\u0000\"" <"$LAST_BODY" 2>/dev/null)
    [ ${#got[@]} = ${#filters[@]} ] || fail "answer is not JSON, or a filter failed (${WHAT:-})"
    local i
    for i in "${!filters[@]}"; do
        [ "${got[$i]}" = "${wants[$i]}" ] || fail "${filters[$i]}: expected '${wants[$i]}', got '${got[$i]}' (${WHAT:-})"
    done
    ok
}

# expect_error STATUS CODE : the standard error body with this status and code.
expect_error() {
    expect "$1" '.error.status' "$1" '.error.code' "$2" \
        '.error.message | type == "string" and length > 0' true
}

# expect_problem RULE [POINTER] : the last error lists a problem with this rule (and pointer).
expect_problem() {
    local n
    if [ $# -ge 2 ]; then
        n=$(jq --arg r "$1" --arg p "$2" '[.error.problems[]? | select(.rule == $r and .pointer == $p)] | length' <"$LAST_BODY")
    else
        n=$(jq --arg r "$1" '[.error.problems[]? | select(.rule == $r)] | length' <"$LAST_BODY")
    fi
    [ "${n:-0}" -ge 1 ] || fail "no problem $* in: $(jq -c .error.problems <"$LAST_BODY") (${WHAT:-})"
    ok
}

# cli CMD ARGS... : runs a kervan client command against the node; sets
# CLI_RC, CLI_OUT, CLI_ERR (files).
N_CLI=0
cli() {
    N_CLI=$((N_CLI + 1))
    CLI_OUT=$T/cli.$N_CLI.out
    CLI_ERR=$T/cli.$N_CLI.err
    KERVAN_NODE=$URL "$KERVAN" "$@" >"$CLI_OUT" 2>"$CLI_ERR"
    CLI_RC=$?
    sanitizer_clean "$CLI_ERR" "kervan $1"
}

# sanitizer_clean FILE WHAT : fails when an ASan/UBSan/LSan report is in FILE
# (under -DKV_SANITIZE=ON an expected exit status 1 could hide one).
sanitizer_clean() {
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
        fail "$2: sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$1")"
    fi
}

# cli_expect RC : asserts the exit status of the last cli call.
cli_expect() {
    [ "$CLI_RC" = "$1" ] || fail "kervan ${WHAT:-}: exit $CLI_RC, expected $1; out: $(head -c 2000 "$CLI_OUT"); err: $(head -c 2000 "$CLI_ERR")"
    ok
}

# out_has TEXT / err_has TEXT : the last cli output / error contains TEXT (fixed string).
out_has() { grep -qF -- "$1" "$CLI_OUT" || fail "output lacks '$1': $(head -c 3000 "$CLI_OUT")"; ok; }
err_has() { grep -qF -- "$1" "$CLI_ERR" || fail "stderr lacks '$1': $(head -c 3000 "$CLI_ERR")"; ok; }

# decl FILE LRN [jq-program] : writes a test declaration: the example, with
# LRN, routed KZ050100 → (exit KZ610100) → KZ470100, limit date in the
# future, then the extra jq program applied.
decl() {
    local file=$1 lrn=$2 extra=${3:-.}
    jq --arg lrn "$lrn" '
        .lrn = $lrn
        | .officeOfDestination = "KZ470100"
        | .officesOfTransit = []
        | .officesOfExitForTransit = ["KZ610100"]
        | .consignment.countryOfDestination = "KZ"
        | .consignment.countriesOfRouting = ["KZ"]
        | .limitDate = "2099-12-31"' "$SRC/examples/declaration.json" | jq "$extra" >"$file" \
        || fail "cannot build declaration $lrn"
}

# now_utc : the time now, RFC 3339 UTC.
now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }
