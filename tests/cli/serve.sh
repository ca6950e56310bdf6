#!/usr/bin/env bash
# serve.sh — `kervan serve` as a real process on 127.0.0.1, port 0:
# start with --port-file, GET /healthz and /metrics with curl, SIGTERM and
# SIGINT → exit 0 within a few seconds with nothing left running; the data
# directory is created 0700 and locked; bad settings (file or flag) and a
# taken port → a clear message and exit 2.
#
# usage: bash serve.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
command -v curl >/dev/null || { echo "curl not found: skipping"; exit 77; }

T=$(mktemp -d /tmp/kv-serve-test.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; exit 1; }

# start NAME ARGS... : runs kervan serve in the background; sets PID.
start() {
    local name=$1; shift
    "$KERVAN" serve "$@" 2>"$T/$name.log" &
    PID=$!
    PIDS+=("$PID")
}

# wait_port FILE : waits up to 10 s for the port file; sets PORT.
wait_port() {
    for _ in $(seq 1 200); do
        if [ -s "$1" ]; then PORT=$(cat "$1"); return 0; fi
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# wait_exit PID : waits up to 10 s for the process to end; sets RC.
wait_exit() {
    for _ in $(seq 1 200); do
        if ! kill -0 "$1" 2>/dev/null; then wait "$1"; RC=$?; return 0; fi
        sleep 0.05
    done
    return 1
}

# --- a node: start, healthz, metrics, SIGTERM -------------------------------
start node1 --country TR --data "$T/data" --listen 127.0.0.1:0 --port-file "$T/port"
wait_port "$T/port" || fail "no port file within 10 s"
[ "$PORT" -gt 0 ] || fail "bad port '$PORT'"
[ "$(stat -c %a "$T/data")" = 700 ] || fail "data directory mode is $(stat -c %a "$T/data"), not 700"
grep -q "level=info msg=\"listening\" addr=127.0.0.1:$PORT port=$PORT country=TR" "$T/node1.log" \
    || fail "no 'listening' log line with the bound port"

H=$(curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz") || fail "GET /healthz failed"
echo "$H" | grep -q '^{"status":"ok","country":"TR","version":"[0-9][^"]*"}$' \
    || fail "unexpected /healthz: $H"
CODE=$(curl -sS --max-time 5 -o "$T/notfound.json" -w '%{http_code}' "http://127.0.0.1:$PORT/v1/nope")
[ "$CODE" = 404 ] || fail "unknown path gave $CODE"
grep -q '"code":"not_found"' "$T/notfound.json" || fail "404 body: $(cat "$T/notfound.json")"

M=$(curl -sS --max-time 5 -D "$T/metrics.hdr" "http://127.0.0.1:$PORT/metrics") || fail "GET /metrics failed"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/metrics.hdr" || fail "metrics content type"
echo "$M" | grep -q '^# TYPE kervan_http_requests_total counter$' || fail "no request counter in /metrics"
echo "$M" | grep -q '^kervan_http_requests_total{method="GET",route="/healthz",status="200"} 1$' \
    || fail "healthz not counted in /metrics: $M"
echo "$M" | grep -q '^kervan_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 1$' \
    || fail "no latency histogram in /metrics"
echo "$M" | grep -q '^kervan_build_info{version="[^"]*",country="TR"} 1$' || fail "no build info"

# a second node on the same data directory is refused
start node2 --country TR --data "$T/data" --listen 127.0.0.1:0
P2=$PID
wait_exit "$P2" || fail "second node on the same data directory did not exit"
[ "$RC" = 2 ] || fail "second node exit code $RC, expected 2"
grep -q "data directory $T/data is in use by another kervan serve (pid [0-9]*)" "$T/node2.log" \
    || fail "no 'in use' message"

# the port is taken
start node3 --country TR --data "$T/data3" --listen "127.0.0.1:$PORT"
wait_exit "$PID" || fail "node on a taken port did not exit"
[ "$RC" = 2 ] || fail "taken port: exit code $RC, expected 2"
grep -q "cannot listen on 127.0.0.1:$PORT: Address already in use" "$T/node3.log" \
    || fail "no clear message for a taken port"

P1=$(head -1 "$T/data/kervan.pid")
kill -TERM "$P1"
wait_exit "$P1" || fail "node did not exit within 10 s of SIGTERM"
[ "$RC" = 0 ] || fail "exit code $RC after SIGTERM, expected 0"
grep -q 'msg="stopping" signal=SIGTERM' "$T/node1.log" || fail "no 'stopping' line"
grep -q 'msg="stopped"' "$T/node1.log" || fail "no 'stopped' line"
[ ! -e "$T/port" ] || fail "port file left behind"
curl -s --max-time 2 "http://127.0.0.1:$PORT/healthz" >/dev/null && fail "still answering after exit"

# --- SIGINT, a config file, the same directory again (lock released) ---------
cat >"$T/node.conf" <<EOF
# a node's settings
country = TR
data = $T/data
listen = 127.0.0.1:0
threads = 3
log-level = warn
EOF
start node4 --config "$T/node.conf" --port-file "$T/port4"
wait_port "$T/port4" || fail "config-file node: no port file"
curl -sS --max-time 5 "http://127.0.0.1:$PORT/healthz" | grep -q '"country":"TR"' \
    || fail "config file country not used"
grep -q 'msg="listening"' "$T/node4.log" && fail "log-level = warn still logged info lines"
kill -INT "$PID"
wait_exit "$PID" || fail "node did not exit within 10 s of SIGINT"
[ "$RC" = 0 ] || fail "exit code $RC after SIGINT, expected 0"

# the store in a data directory belongs to one country
start node5 --country KZ --data "$T/data" --listen 127.0.0.1:0
wait_exit "$PID" || fail "node of another country did not exit"
[ "$RC" = 2 ] || fail "another country's data: exit code $RC, expected 2"
grep -q "belongs to the node of TR, not KZ" "$T/node5.log" || fail "no clear message for another country's data"

# --- configuration errors: key and line named, exit 2 ------------------------
check_error() { # expected-substring ARGS...
    local want=$1; shift
    "$KERVAN" serve "$@" >"$T/err.out" 2>"$T/err.log"
    local rc=$?
    [ "$rc" = 2 ] || fail "serve $*: exit code $rc, expected 2"
    grep -qF -- "$want" "$T/err.log" || fail "serve $*: expected '$want', got: $(cat "$T/err.log")"
}
printf 'country = TR\ndata = %s/d\n\nthreads = 0\n' "$T" >"$T/bad1.conf"
check_error "kervan serve: $T/bad1.conf:4: threads: '0' is out of range 1..256" --config "$T/bad1.conf"
printf '# comment\nthread = 4\n' >"$T/bad2.conf"
check_error "$T/bad2.conf:2: unknown key 'thread'" --config "$T/bad2.conf"
printf 'country = TR\nlisten 127.0.0.1:1\n' >"$T/bad3.conf"
check_error "$T/bad3.conf:2: expected 'key = value'" --config "$T/bad3.conf"
printf 'max-body = 2GiB\n' >"$T/bad4.conf"
check_error "$T/bad4.conf:1: max-body: '2GiB' is not a size" --config "$T/bad4.conf"
printf 'country = TR\ncountry = KZ\n' >"$T/bad5.conf"
check_error "$T/bad5.conf:2: country: already set on line 1" --config "$T/bad5.conf"
check_error "$T/missing.conf: No such file or directory" --config "$T/missing.conf"
check_error "--threads: 'many' is not a whole number" --country TR --data "$T/d" --threads many
check_error "--listen: 'localhost:80' is not a numeric address and port" --country TR --data "$T/d" --listen localhost:80
check_error "--country: 'tr' is not a two-letter upper-case country code" --country tr --data "$T/d"
check_error "unknown option '--colour'" --colour red
check_error "country is required: give --country or set it in the config file" --data "$T/d"
check_error "data is required" --country TR

# nothing left running
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && fail "process $p still running"; done
echo "serve: all checks passed"
