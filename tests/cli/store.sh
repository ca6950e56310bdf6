#!/usr/bin/env bash
# store.sh — `kervan store check --data DIR`: ok on a sound store (exit 0),
# refused while the node runs and without a database (exit 2), and a broken
# invariant or damaged pages found (exit 1, the problem named).
#
# usage: bash store.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/node-lib.bash"
node_setup
command -v sqlite3 >/dev/null || { echo "sqlite3 not found: skipping"; exit 77; }

# check RC TEXT : runs store check on $DATA, expects the exit status and TEXT in its output
check() {
    "$KERVAN" store check --data "$DATA" >"$T/check.out" 2>&1
    local rc=$?
    [ "$rc" = "$1" ] || fail "store check: exit $rc, expected $1: $(cat "$T/check.out")"
    grep -qF -- "$2" "$T/check.out" || fail "store check: expected '$2', got: $(cat "$T/check.out")"
    ok
}

check 2 "no database at $DATA/kervan.db"
[ -e "$DATA" ] && fail "store check created $DATA"
"$KERVAN" store check >"$T/u.out" 2>&1; [ $? = 2 ] || fail "no --data: not exit 2"
grep -q -- '--data DIR is required' "$T/u.out" || fail "no --data: $(cat "$T/u.out")"
ok
"$KERVAN" store frobnicate --data "$DATA" >/dev/null 2>&1; [ $? = 2 ] || fail "unknown subcommand: not exit 2"
ok

mktoken TRADER trader --party "$HOLDER"
mktoken GUAR guarantor --party "$GUARANTOR"
node_start
api POST /v1/guarantees "$GUAR" -d "{\"grn\":\"$GRN\",\"referenceAmount\":\"1000000.00\",\"currency\":\"USD\"}"
WHAT="guarantee" expect 201
for i in 1 2 3; do
    decl "$T/d$i.json" "KZSTORE0000$i"
    api POST /v1/declarations "$TRADER" "$T/d$i.json"
    WHAT="lodge $i" expect 201
done
check 2 "stop the node first"
node_stop
check 0 "$DATA: ok"

# a broken invariant: the guarantee's reserved amount no longer adds up
cp -a "$DATA" "$T/sound"
sqlite3 "$DATA/kervan.db" "UPDATE guarantee SET reserved = reserved + 1" || fail "sqlite3 update"
check 1 "guarantee ledger inconsistent"
# a gap in an event log
rm -rf "$DATA" && cp -a "$T/sound" "$DATA"
sqlite3 "$DATA/kervan.db" "UPDATE movement SET seq = seq + 1 WHERE rowid = (SELECT min(rowid) FROM movement)" \
    || fail "sqlite3 update"
check 1 "event log not 1..seq"
# damaged pages in the middle of the file
rm -rf "$DATA" && cp -a "$T/sound" "$DATA"
SIZE=$(stat -c %s "$DATA/kervan.db")
[ "$SIZE" -gt 16384 ] || fail "database only $SIZE bytes"
head -c 8192 /dev/urandom | dd of="$DATA/kervan.db" bs=4096 seek=2 conv=notrunc status=none
"$KERVAN" store check --data "$DATA" >"$T/check.out" 2>&1
RC=$?
[ "$RC" = 1 ] || [ "$RC" = 2 ] || fail "damaged pages: exit $RC: $(cat "$T/check.out")"
[ "$RC" = 1 ] && { grep -q 'corrupt' "$T/check.out" || fail "damaged pages: $(cat "$T/check.out")"; }
ok
echo "store: $CHECKS checks passed"
