#!/usr/bin/env bash
# node-docs.sh — runs the examples of docs/cli.md, in order, in one shell, in
# an empty folder with `kervan` on PATH and examples/ at hand:
#   ```sh            a block that must succeed (every command: set -e)
#   ```sh exit=N     a block whose last command must exit with N
#   ```text          right after a sh block: lines its output must contain
#                    (MRNs and UTC times compared as placeholders)
# The walkthrough starts its own node (on 127.0.0.1:8080 in the text, a free
# port here) and stops it; the test kills it if a block fails midway.
#
# usage: bash node-docs.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
SRC=$(cd "$2" && pwd)
command -v jq >/dev/null || { echo "jq not found: skipping"; exit 77; }
DOC=$SRC/docs/cli.md
[ -f "$DOC" ] || { echo "FAIL: $DOC missing"; exit 1; }

T=$(mktemp -d /tmp/kv-docs-test.XXXXXX)
cleanup() {
    local p
    p=$(cat "$T/node.pid" 2>/dev/null)
    # the walkthrough's node, if a block failed before stopping it
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p"; fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# a free loopback port for the walkthrough's 127.0.0.1:8080, below the
# kernel's ephemeral range (where outgoing connections would take ports)
read -r EPH_LO _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPH_LO=32768
[ "$EPH_LO" -gt 12000 ] || EPH_LO=32768
PORT=
for _ in $(seq 1 50); do
    p=$((10000 + RANDOM % (EPH_LO - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || fail "no free port found"

mkdir "$T/blocks" "$T/work" "$T/bin"
ln -s "$(cd "$(dirname "$KERVAN")" && pwd)/$(basename "$KERVAN")" "$T/bin/kervan"
ln -s "$SRC/examples" "$T/work/examples"

# blocks/N.sh (+ N.exit, N.text)
awk -v dir="$T/blocks" '
    function open_sh(line) { n++; st = 1; printf "" > (dir "/" n ".sh")
        if (match(line, /exit=[0-9]+/)) print substr(line, RSTART + 5, RLENGTH - 5) > (dir "/" n ".exit") }
    st == 0 && /^```sh( exit=[0-9]+)?$/ { open_sh($0); next }
    st == 0 && /^```/ { st = 4; next }
    st == 4 { if (/^```$/) st = 0; next }
    st == 1 { if (/^```$/) { st = 2; next } print > (dir "/" n ".sh"); next }
    st == 2 { if (/^```text$/) { st = 3; printf "" > (dir "/" n ".text"); next }
              if (/^```sh( exit=[0-9]+)?$/) { open_sh($0); next }
              st = /^```/ ? 4 : 0; next }
    st == 3 { if (/^```$/) { st = 0; next } print > (dir "/" n ".text"); next }
    END { print n > (dir "/count") }' "$DOC"
N=$(cat "$T/blocks/count")
[ "$N" -ge 10 ] || fail "only $N sh blocks found in docs/cli.md"

# the runner: every block sourced in one shell, its output kept
{
    echo 'set -u'
    echo "export PATH=\"$T/bin:\$PATH\""
    echo 'unset KERVAN_NODE KERVAN_TOKEN'
    echo "cd \"$T/work\""
    for i in $(seq 1 "$N"); do
        sed "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/g" "$T/blocks/$i.sh" >"$T/blocks/$i.run"
        echo "echo $i >\"$T/current\""
        if [ -f "$T/blocks/$i.exit" ]; then
            echo "set +e"
            echo "{ . \"$T/blocks/$i.run\"; } >\"$T/blocks/$i.out\" 2>&1"
            echo "rc=\$?"
            echo "[ \$rc = $(cat "$T/blocks/$i.exit") ] || { echo \"block $i: exit \$rc, expected $(cat "$T/blocks/$i.exit")\"; exit 1; }"
        else
            echo "set -e"
            echo "{ . \"$T/blocks/$i.run\"; } >\"$T/blocks/$i.out\" 2>&1"
            echo "set +e"
        fi
        echo "echo \"\${NODE:-}\" >\"$T/node.pid\""
    done
    echo "echo done >\"$T/current\""
} >"$T/runner.sh"

timeout 120 bash "$T/runner.sh" >"$T/runner.out" 2>&1
RC=$?
CUR=$(cat "$T/current" 2>/dev/null)
if [ "$RC" != 0 ] || [ "$CUR" != done ]; then
    echo "FAIL: docs/cli.md block $CUR failed (status $RC): $(cat "$T/runner.out")"
    echo "--- the block:"; cat "$T/blocks/$CUR.sh" 2>/dev/null
    echo "--- its output:"; cat "$T/blocks/$CUR.out" 2>/dev/null
    [ -f "$T/work/node.log" ] && { echo "--- node log:"; tail -n 20 "$T/work/node.log"; }
    exit 1
fi

# no sanitizer report anywhere (an expected exit status 1 could hide one)
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/blocks/*.out "$T/work/node.log" 2>/dev/null; then
    fail "sanitizer report in the walkthrough"
fi

# outputs: every line shown in the docs is in the block's output
norm() {
    sed -E -e 's/[0-9]{2}[A-Z]{2}[0-9A-Z]{12}[A-Z][0-9]/YYCCNNNNNNNNNNNNLD/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/YYYY-MM-DDThh:mm:ssZ/g' \
        -e 's/[[:space:]]+$//' "$1"
}
CHECKED=0
for i in $(seq 1 "$N"); do
    [ -f "$T/blocks/$i.text" ] || continue
    norm "$T/blocks/$i.out" >"$T/got"
    while IFS= read -r line; do
        [ -z "$line" ] && continue
        grep -qxF -- "$line" "$T/got" || fail "docs/cli.md block $i: the docs show
  $line
but the command printed:
$(cat "$T/blocks/$i.out")"
        CHECKED=$((CHECKED + 1))
    done < <(norm "$T/blocks/$i.text")
done
[ -d "$T/work/node" ] || fail "the walkthrough made no node"
echo "node-docs: $N example blocks of docs/cli.md ran; $CHECKED output lines matched"
