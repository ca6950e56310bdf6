# corridor-lib.bash — shared helpers for the tests that run a local corridor
# with `kervan corridor up` (tests/cli/corridor*.sh). Sourced, not run: its
# name does not end in .sh, so CMake does not register it as a test.
#
# A test sets KERVAN (the binary) and SRC (the source folder), sources this
# file and calls corridor_setup (a mktemp folder and an EXIT trap that stops
# every node and process started here), then corridor_up COUNTRIES: it picks
# a free block of ports on 127.0.0.1 (tests run in parallel: a base port is
# drawn at random and probed, and `up` is tried again on another block when
# it finds a port taken) and sets CDIR, BASE and the per-country helpers:
#   url CC            the node's base URL
#   tok CC ROLE       a token from corridor.json (operator, analyst, guarantor,
#                     trader), or tok CC officer OFFICE
#   capi CC METHOD PATH TOKEN [BODY-FILE | -d TEXT]   curl → LAST_CODE, LAST_BODY
#   cexpect CODE [JQ-FILTER EXPECTED]...               asserts on the last answer
# Everything listens on 127.0.0.1 only.

set -u

corridor_setup() {
    command -v curl >/dev/null || { echo "curl not found: skipping"; exit 77; }
    command -v jq >/dev/null || { echo "jq not found: skipping"; exit 77; }
    command -v python3 >/dev/null || { echo "python3 not found: skipping"; exit 77; }
    T=$(mktemp -d /tmp/kv-corridor-test.XXXXXX)
    CDIR=$T/corridor
    EXTRA_PIDS=()
    CHECKS=0
    trap corridor_cleanup EXIT
}

# Stops what the test started: the corridor (down, then SIGKILL to any serve
# of one of its folders still holding its lock), and the extra processes.
corridor_cleanup() {
    local p f pid cmd
    for p in "${EXTRA_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ -f "$CDIR/corridor.json" ]; then
        "$KERVAN" corridor down --dir "$CDIR" >/dev/null 2>&1
    fi
    for f in "$CDIR"/*/kervan.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null)
        [ -n "$pid" ] || continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")
        if [[ $cmd == *" serve "* && $cmd == *"$CDIR/"* ]]; then
            kill -KILL "$pid" 2>/dev/null
        fi
    done
    rm -rf "$T"
}

fail() {
    echo "FAIL: $*"
    if [ -n "${LAST_BODY:-}" ] && [ -f "$LAST_BODY" ]; then
        echo "--- last answer ($LAST_CODE):"; head -c 3000 "$LAST_BODY"; echo
    fi
    local l
    for l in "$CDIR"/*/node.log; do
        [ -f "$l" ] || continue
        echo "--- $l (tail):"; tail -n 15 "$l"
    done
    exit 1
}

ok() { CHECKS=$((CHECKS + 1)); }

# free_base N : prints a port P such that P..P+N-1 can be bound on 127.0.0.1 now.
free_base() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
PY
}

# corridor_up COUNTRIES [DIR] : `kervan corridor up` on a free block of ports;
# sets BASE and CDIR (when DIR is given). Output in $T/up.out, $T/up.err.
corridor_up() {
    local countries=$1 n try rc
    [ $# -ge 2 ] && CDIR=$2
    n=$(tr ',' '\n' <<<"$countries" | wc -l)
    for try in 1 2 3 4 5; do
        BASE=$(free_base "$n") || fail "no free block of $n ports"
        "$KERVAN" corridor up --countries "$countries" --dir "$CDIR" --base-port "$BASE" \
            >"$T/up.out" 2>"$T/up.err"
        rc=$?
        [ $rc = 0 ] && { ok; return 0; }
        # a port taken between the probe and `up`: try another block
        if [ $rc = 2 ] && grep -q "is in use" "$T/up.err" && [ ! -f "$CDIR/corridor.json" ]; then
            continue
        fi
        fail "corridor up $countries: exit $rc: $(cat "$T/up.out" "$T/up.err")"
    done
    fail "corridor up: no free ports after 5 tries"
}

# url CC / tok CC ROLE [OFFICE] / cpid CC : from corridor.json
url() { jq -r --arg c "$1" '.nodes[] | select(.country == $c) | .url' "$CDIR/corridor.json"; }
cpid() { jq -r --arg c "$1" '.nodes[] | select(.country == $c) | .pid' "$CDIR/corridor.json"; }
tok() {
    if [ "$2" = officer ]; then
        jq -r --arg c "$1" --arg o "$3" '.nodes[] | select(.country == $c) | .tokens.officers[$o]' "$CDIR/corridor.json"
    else
        jq -r --arg c "$1" --arg r "$2" '.nodes[] | select(.country == $c) | .tokens[$r]' "$CDIR/corridor.json"
    fi
}

# capi CC METHOD PATH TOKEN [BODY-FILE | -d TEXT] [curl args...]
N_API=0
capi() {
    local cc=$1 method=$2 path=$3 token=$4; shift 4
    local base
    base=$(url "$cc")
    N_API=$((N_API + 1))
    LAST_BODY=$T/answer.$N_API
    LAST_HEADERS=$T/headers.$N_API
    local args=(-sS --max-time 20 -o "$LAST_BODY" -D "$LAST_HEADERS" -w '%{http_code}' -X "$method")
    [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
    if [ $# -gt 0 ] && [ "$1" != "-d" ] && [ "${1:0:1}" != "-" ]; then
        args+=(-H "Content-Type: application/json" --data-binary "@$1"); shift
    elif [ $# -gt 0 ] && [ "$1" = "-d" ]; then
        args+=(-H "Content-Type: application/json" --data-binary "$2"); shift 2
    fi
    LAST_CODE=$(curl "${args[@]}" "$@" "$base$path") || LAST_CODE=000
}

# cexpect CODE [JQ-FILTER EXPECTED]... (as node-lib.bash's expect)
cexpect() {
    local code=$1; shift
    [ "$LAST_CODE" = "$code" ] || fail "expected status $code, got $LAST_CODE (${WHAT:-})"
    local got
    while [ $# -ge 2 ]; do
        got=$(jq -c "$1" <"$LAST_BODY" 2>/dev/null | sed 's/^"\(.*\)"$/\1/')
        [ "$got" = "$2" ] || fail "$1: expected '$2', got '$got' (${WHAT:-})"
        shift 2
    done
    ok
}

# sanitizer_clean FILE WHAT : fails when an ASan/UBSan/LSan report is in FILE.
sanitizer_clean() {
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
        fail "$2: sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$1")"
    fi
}

# alive PID : the process exists and is not a zombie
alive() {
    [ -n "$1" ] && [ "$1" != 0 ] && kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
