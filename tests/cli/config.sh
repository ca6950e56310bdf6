#!/usr/bin/env bash
# config.sh — `kervan config dump`: defaults, a config file and flags, each
# value with its origin (default, FILE:LINE, flag); flags win over the file;
# the dump reads back as a config file; invalid input → key and line, exit 2.
#
# usage: bash config.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
T=$(mktemp -d /tmp/kv-config-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# line KEY : the dump line for KEY (value and origin), whitespace squeezed
line() { grep -E "^(# )?$1 = " "$T/out" | tr -s ' '; }

# --- defaults -----------------------------------------------------------------
"$KERVAN" config dump >"$T/out" 2>"$T/err" || fail "dump of defaults failed: $(cat "$T/err")"
[ "$(line listen)" = "listen = 127.0.0.1:8080 # default" ] || fail "listen: $(line listen)"
[ "$(line threads)" = "threads = 2 # default" ] || fail "threads: $(line threads)"
[ "$(line threading)" = "threading = per-connection # default" ] || fail "threading: $(line threading)"
"$KERVAN" config dump --threading pool >"$T/out" 2>"$T/err" || fail "threading pool: $(cat "$T/err")"
[ "$(line threading)" = "threading = pool # flag" ] || fail "threading pool: $(line threading)"
[ "$(line max-body)" = "max-body = 4MiB # default" ] || fail "max-body: $(line max-body)"
[ "$(line access-log)" = "access-log = on # default" ] || fail "access-log"
grep -qx '# country is not set' "$T/out" || fail "unset country not shown"

# --- file + flags -------------------------------------------------------------
cat >"$T/node.conf" <<'EOF'
# national node, test settings

country = UZ
threads = 8
   max-body =   512KiB
log-level = debug
access-log = off
data = /var/lib/kervan node
EOF
"$KERVAN" config dump --config "$T/node.conf" --threads 4 --max-connections=1000 \
    --port-file /run/kervan.port >"$T/out" 2>"$T/err" || fail "dump failed: $(cat "$T/err")"
[ "$(line country)" = "country = UZ # $T/node.conf:3" ] || fail "country: $(line country)"
[ "$(line threads)" = "threads = 4 # flag" ] || fail "flag must win over file: $(line threads)"
[ "$(line max-connections)" = "max-connections = 1000 # flag" ] || fail "max-connections"
[ "$(line max-body)" = "max-body = 512KiB # $T/node.conf:5" ] || fail "max-body: $(line max-body)"
[ "$(line log-level)" = "log-level = debug # $T/node.conf:6" ] || fail "log-level"
[ "$(line access-log)" = "access-log = off # $T/node.conf:7" ] || fail "access-log"
[ "$(line data)" = "data = /var/lib/kervan node # $T/node.conf:8" ] || fail "data: $(line data)"
[ "$(line listen)" = "listen = 127.0.0.1:8080 # default" ] || fail "listen"
[ "$(line port-file)" = "# port-file = /run/kervan.port # flag (flag only)" ] || fail "port-file: $(line port-file)"

# the dump is itself a valid config file giving the same values
grep -v '^#' "$T/out" | sed 's/ *#.*$//' >"$T/round.conf"
"$KERVAN" config dump --config "$T/round.conf" >"$T/out2" 2>"$T/err" || fail "round trip: $(cat "$T/err")"
diff <(sed 's/ *#.*$//' "$T/out" | grep -v '^$' | grep -v port-file) \
     <(sed 's/ *#.*$//' "$T/out2" | grep -v '^$' | grep -v port-file) >/dev/null \
    || fail "the dump does not read back to the same values"

# sizes: plain bytes, K/M suffixes, limits
"$KERVAN" config dump --max-body 1048576 --max-header 16K >"$T/out" || fail "sizes"
[ "$(line max-body)" = "max-body = 1MiB # flag" ] || fail "1048576 bytes: $(line max-body)"
[ "$(line max-header)" = "max-header = 16KiB # flag" ] || fail "16K: $(line max-header)"
"$KERVAN" config dump --max-body 1500 >"$T/out" || fail "1500 bytes"
[ "$(line max-body)" = "max-body = 1500 # flag" ] || fail "1500: $(line max-body)"

# --- errors ------------------------------------------------------------------------
check_error() { # expected-substring ARGS...
    local want=$1; shift
    "$KERVAN" config "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "config $*: exit code $rc, expected 2"
    grep -qF -- "$want" "$T/err" || fail "config $*: expected '$want', got: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "config $*: printed a dump despite the error"
    return 0
}
printf 'threads = 2\nmax-body = 100\n' >"$T/e1.conf"
check_error "kervan config: $T/e1.conf:2: max-body: '100' is out of range 1024..67108864 bytes" dump --config "$T/e1.conf"
printf 'port-file = /tmp/x\n' >"$T/e2.conf"
check_error "$T/e2.conf:1: port-file: can only be given as a flag (--port-file)" dump --config "$T/e2.conf"
printf 'access-log = maybe\n' >"$T/e3.conf"
check_error "$T/e3.conf:1: access-log: 'maybe' is not on or off" dump --config "$T/e3.conf"
printf 'threading = fibers\n' >"$T/e6.conf"
check_error "$T/e6.conf:1: threading: 'fibers' is not per-connection or pool" dump --config "$T/e6.conf"
printf 'log-level = loud\n' >"$T/e4.conf"
check_error "$T/e4.conf:1: log-level: 'loud' is not one of debug, info, warn, error" dump --config "$T/e4.conf"
printf 'data =\n' >"$T/e5.conf"
check_error "$T/e5.conf:1: data: an empty value is not allowed" dump --config "$T/e5.conf"
head -c 2000 /dev/zero | tr '\0' 'x' | sed 's/^/country = /' >"$T/e6.conf"
check_error "$T/e6.conf:1: line longer than 1024 bytes" dump --config "$T/e6.conf"
check_error "--overdue-days: '0' is out of range 1..365" dump --overdue-days 0
check_error "--max-items: '2000' is out of range 1..1999" dump --max-items=2000
check_error "--timeout needs a value" dump --timeout
check_error "unexpected argument 'extra'" dump extra
check_error "expected 'dump'" show
check_error "$T: Is a directory" dump --config "$T"

"$KERVAN" config --help | grep -q -- '--max-connections N' || fail "help lists the settings"
echo "config: all checks passed"
