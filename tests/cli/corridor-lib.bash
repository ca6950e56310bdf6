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

# ok : one more check passed (KV_TRACE=1 prints each with the time and the line)
ok() {
    CHECKS=$((CHECKS + 1))
    [ -z "${KV_TRACE:-}" ] || echo "[$SECONDS s] check $CHECKS: ${FUNCNAME[1]:-} line ${BASH_LINENO[1]:-}" >&2
}

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
    local countries=$1 n rc
    [ $# -ge 2 ] && CDIR=$2
    n=$(tr ',' '\n' <<<"$countries" | wc -l)
    for _ in 1 2 3 4 5; do
        BASE=$(free_base "$n") || fail "no free block of $n ports"
        "$KERVAN" corridor up --countries "$countries" --dir "$CDIR" --base-port "$BASE" \
            >"$T/up.out" 2>"$T/up.err"
        rc=$?
        [ $rc = 0 ] && { corridor_cache; ok; return 0; }
        # a port taken between the probe and `up`: try another block
        if [ $rc = 2 ] && grep -q "is in use" "$T/up.err" && [ ! -f "$CDIR/corridor.json" ]; then
            continue
        fi
        fail "corridor up $countries: exit $rc: $(cat "$T/up.out" "$T/up.err")"
    done
    fail "corridor up: no free ports after 5 tries"
}

# url CC / tok CC ROLE [OFFICE] / cpid CC : from corridor.json (URLs and
# tokens are kept once read: a corridor keeps them across restarts)
declare -A KV_CACHE=()
url() {
    [ -n "${KV_CACHE[url $1]:-}" ] ||
        KV_CACHE[url $1]=$(jq -r --arg c "$1" '.nodes[] | select(.country == $c) | .url' "$CDIR/corridor.json")
    echo "${KV_CACHE[url $1]}"
}
# corridor_cache : reads every URL and token of corridor.json at once (tok
# and url are mostly called in $(...), where they could not fill the cache)
corridor_cache() {
    local k v
    while IFS=$'\t' read -r k v; do
        KV_CACHE[$k]=$v
    done < <(jq -r '.nodes[] | .country as $c
        | ["url \($c)", .url], (.tokens | to_entries[] | select(.key != "officers") | ["tok \($c) \(.key) ", .value]),
          (.tokens.officers | to_entries[] | ["tok \($c) officer \(.key)", .value]) | @tsv' "$CDIR/corridor.json")
}
cpid() { jq -r --arg c "$1" '.nodes[] | select(.country == $c) | .pid' "$CDIR/corridor.json"; }
tok() {
    local key="tok $1 $2 ${3:-}"
    if [ -z "${KV_CACHE[$key]:-}" ]; then
        if [ "$2" = officer ]; then
            KV_CACHE[$key]=$(jq -r --arg c "$1" --arg o "$3" '.nodes[] | select(.country == $c) | .tokens.officers[$o]' "$CDIR/corridor.json")
        else
            KV_CACHE[$key]=$(jq -r --arg c "$1" --arg r "$2" '.nodes[] | select(.country == $c) | .tokens[$r]' "$CDIR/corridor.json")
        fi
    fi
    echo "${KV_CACHE[$key]}"
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

# --- movements across the corridor -------------------------------------------

now_utc() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# ev CC TOKEN MRN 'MEMBERS' : posts an event at node CC, time now; MEMBERS is
# the rest of the JSON object ('"type":"arrival","office":"TR343100"').
ev() {
    capi "$1" POST "/v1/movements/$3/events" "$2" -d "{\"time\":\"$(now_utc)\",$4}"
}
# ev_ok CC TOKEN MRN 'MEMBERS' : the same, and it must be answered 201
ev_ok() {
    ev "$@"
    [ "$LAST_CODE" = 201 ] || fail "event {$4} at $1: status $LAST_CODE"
    ok
}

# view CC MRN : GET the movement at CC as its analyst (LAST_CODE, LAST_BODY)
view() { capi "$1" GET "/v1/movements/$2" "$(tok "$1" analyst)"; }

# wait_view CC MRN JQ-CONDITION [SECONDS] : polls the view at CC until the
# condition holds on it (default 20 s); fails with the last view otherwise.
wait_view() {
    local cc=$1 mrn=$2 cond=$3 secs=${4:-20}
    local end=$((SECONDS + secs))
    while :; do
        view "$cc" "$mrn"
        if [ "$LAST_CODE" = 200 ] && jq -e "$cond" "$LAST_BODY" >/dev/null 2>&1; then
            ok
            return 0
        fi
        [ $SECONDS -lt $end ] || break
        sleep 0.1
    done
    fail "$cc: $mrn never satisfied $cond (last: $LAST_CODE $(jq -c '{state, owner, replica, events: [.events[]? | [.seq, .type, .office, .node]], pending: [.pending[]? | [.type, .office]]}' "$LAST_BODY" 2>/dev/null))"
}

# log_of CC MRN : the movement's ordered log at CC, one line per event
# (seq type office node time), for comparing replicas with the owner
# (LOG_OF = the log; LAST_BODY = the whole view). Not in $(...): the
# answer's file must stay known to the caller.
log_of() {
    view "$1" "$2"
    if [ "$LAST_CODE" = 200 ]; then
        LOG_OF=$(jq -r '.events[] | "\(.seq) \(.type) \(.office) \(.node // "-") \(.time)"' "$LAST_BODY")
    else
        LOG_OF="status $LAST_CODE"
    fi
}

# same_log MRN OWNER CC... : each CC holds the owner's log, event for event
# (seq, type, office, node, time), as a replica of OWNER, with nothing
# pending (waits up to 20 s for each).
same_log() {
    local mrn=$1 owner=$2 cc want got end
    shift 2
    log_of "$owner" "$mrn"
    [ "$LAST_CODE" = 200 ] || fail "owner $owner: $mrn: $LOG_OF"
    want=$LOG_OF
    for cc in "$@"; do
        end=$((SECONDS + 20))
        while :; do
            log_of "$cc" "$mrn"
            got=$LOG_OF
            if [ "$got" = "$want" ] &&
                jq -e ".replica == true and .owner == \"$owner\" and (.pending | length) == 0" "$LAST_BODY" >/dev/null; then
                break
            fi
            [ $SECONDS -lt $end ] || fail "$cc's log of $mrn is not $owner's:
$(diff <(echo "$want") <(echo "$got"))
$(jq -c '{replica, owner, pending: [.pending[]? | [.type, .office]]}' "$LAST_BODY" 2>/dev/null)"
            sleep 0.1
        done
        ok
    done
}

# not_held CC MRN : CC does not hold the movement (404)
not_held() {
    view "$1" "$2"
    [ "$LAST_CODE" = 404 ] || fail "$1 holds $2 (status $LAST_CODE), it should not"
    ok
}

# db CC SQL : runs a read-only query on CC's store (sqlite3, WAL: the node may run)
db() { sqlite3 -readonly -batch -noheader "file:$CDIR/$1/kervan.db?mode=ro" "$2"; }

# wait_quiet [SECONDS] : until every running node's outbox is empty
wait_quiet() {
    local secs=${1:-30} cc left
    local end=$((SECONDS + secs))
    while [ $SECONDS -le $end ]; do
        left=0
        for cc in $(jq -r '.nodes[].country' "$CDIR/corridor.json"); do
            left=$((left + $(db "$cc" "SELECT count(*) FROM outbox WHERE delivered = 0")))
        done
        [ "$left" = 0 ] && { ok; return 0; }
        sleep 0.1
    done
    fail "the outboxes do not empty ($left messages left)"
}

# exchange_balanced : every message each node sent was applied exactly once
# by its receiver, nothing is left undelivered or parked, and every
# message a node applied was sent (ids compared store to store).
exchange_balanced() {
    local s r sent applied
    local all
    all=$(jq -r '.nodes[].country' "$CDIR/corridor.json")
    for s in $all; do
        [ "$(db "$s" "SELECT count(*) FROM outbox WHERE delivered = 0")" = 0 ] || fail "$s has undelivered messages"
        [ "$(db "$s" "SELECT count(*) FROM inbox WHERE applied = 0")" = 0 ] || fail "$s has parked messages"
        for r in $all; do
            [ "$s" = "$r" ] && continue
            sent=$(db "$s" "SELECT id FROM outbox WHERE receiver = '$r' ORDER BY id")
            applied=$(db "$r" "SELECT id FROM inbox WHERE sender = '$s' ORDER BY id")
            [ "$sent" = "$applied" ] || fail "$s → $r: sent $(wc -w <<<"$sent"), applied $(wc -w <<<"$applied"):
$(diff <(echo "$sent") <(echo "$applied") | head)"
            SENT_TOTAL=$((${SENT_TOTAL:-0} + $(wc -w <<<"$sent")))
        done
    done
    ok
}

# no_event_twice CC... : no node's log holds one signed event (same origin
# signature) twice, nor an event that is also still pending there
no_event_twice() {
    local cc d
    for cc in "$@"; do
        d=$(db "$cc" "SELECT mrn, hex(sig), count(*) FROM event WHERE sig IS NOT NULL
                      GROUP BY mrn, sig HAVING count(*) > 1") || fail "$cc: cannot read the store"
        [ -z "$d" ] || fail "$cc holds an event twice: $d"
        d=$(db "$cc" "SELECT p.mrn, p.type FROM pending_event p JOIN event e
                      ON e.mrn = p.mrn AND e.sig = p.sig") || fail "$cc: cannot read the store"
        [ -z "$d" ] || fail "$cc still has as pending an event its log holds: $d"
    done
    ok
}

# --- stopping and starting one node -----------------------------------------------

# node_pid CC : the pid of CC's running node (the holder of its folder's lock), or ""
node_pid() {
    local p
    p=$(cat "$CDIR/$1/kervan.pid" 2>/dev/null) || return 0
    [ -n "$p" ] && alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "--data $CDIR/$1 " && echo "$p"
}

# node_stop CC : SIGTERM, and waits (15 s) for the node to end
node_stop() {
    local p i
    p=$(node_pid "$1")
    [ -n "$p" ] || fail "node_stop $1: not running"
    kill -TERM "$p"
    for i in $(seq 1 150); do alive "$p" || { ok; return 0; }; sleep 0.1; done
    fail "the $1 node did not stop within 15 s"
}

# node_kill9 CC : SIGKILL, and waits until it is gone
node_kill9() {
    local p i
    p=$(node_pid "$1")
    [ -n "$p" ] || fail "node_kill9 $1: not running"
    kill -KILL "$p"
    for i in $(seq 1 100); do alive "$p" || { ok; return 0; }; sleep 0.05; done
    fail "the $1 node survived SIGKILL"
}

# node_start CC : starts CC's node again as `corridor up` did (same flags,
# same log), and waits until it answers /healthz
# (in its own session, not a child of the test: the cleanup finds it by its
# folder's lock, as `corridor down` does)
node_start() {
    local cc=$1 port i
    port=$(jq -r --arg c "$cc" '.nodes[] | select(.country == $c) | .port' "$CDIR/corridor.json")
    setsid -f "$KERVAN" serve --country "$cc" --data "$CDIR/$cc" --listen "127.0.0.1:$port" \
        --trust "$CDIR/trust.json" </dev/null >>"$CDIR/$cc/node.log" 2>&1
    for i in $(seq 1 150); do
        curl -s --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q "\"country\":\"$cc\"" && { ok; return 0; }
        sleep 0.1
    done
    fail "the $cc node did not answer within 15 s of its start"
}

# backlog CC RECEIVER : messages in CC's outbox not yet delivered to RECEIVER
backlog() { db "$1" "SELECT count(*) FROM outbox WHERE receiver = '$2' AND delivered = 0"; }

# --- movements at KZ -----------------------------------------------------------------

# guarantee : registers the example declaration's guarantee at KZ (10,000,000 USD)
guarantee() {
    WHAT="guarantee" capi KZ POST /v1/guarantees "$(tok KZ guarantor)" \
        -d '{"grn":"25KZ050100ALA0012","referenceAmount":"10000000.00","currency":"USD"}'
    cexpect 201
}

# lodge LRN [JQ] : lodges examples/declaration.json (Almaty → Alat → Red
# Bridge → Sarpi → Istanbul) at KZ with this LRN and no limit date (the node
# sets one at release), the jq program applied; sets MRN.
lodge() {
    jq --arg lrn "$1" ".lrn = \$lrn | del(.limitDate) | ${2:-.}" "$SRC/examples/declaration.json" \
        >"$T/decl.json" || fail "cannot build declaration $1"
    WHAT="lodge $1" capi KZ POST /v1/declarations "$(tok KZ trader)" "$T/decl.json"
    cexpect 201
    MRN=$(jq -r .mrn "$LAST_BODY")
}

# release MRN : control decision and release at Almaty (KZ050100)
release() {
    local dep
    dep=$(tok KZ officer KZ050100)
    ev_ok KZ "$dep" "$1" '"type":"control_decision","office":"KZ050100","control":false,"reason":"low risk"'
    ev_ok KZ "$dep" "$1" '"type":"release","office":"KZ050100","controlResult":"A1","seals":["KZ0417731","KZ0417732"]'
}
