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

# a store written by schema 2 (the frozen DDL of tests/store/schema_old.h) with
# a movement, a guarantee reservation and an outbox message: migrated at open,
# it passes the check
if command -v python3 >/dev/null; then
    rm -rf "$DATA" && mkdir -p "$DATA"
    python3 - "$SRC/tests/store/schema_old.h" >"$T/schema2.sql" <<'PY' || fail "schema 2 DDL"
import re, sys
text = open(sys.argv[1]).read()
body = text[text.index("st_schema_old[] = {"):text.index("};", text.index("st_schema_old[] = {"))]
lits = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
print("".join(l.encode().decode("unicode_escape") for l in lits))
PY
    MRN=25${COUNTRY}00000000000015
    H="x'$(printf '%064d' 0)'"
    sqlite3 "$DATA/kervan.db" <"$T/schema2.sql" || fail "schema 2: create"
    sqlite3 "$DATA/kervan.db" "PRAGMA user_version = 2;
        INSERT INTO meta VALUES ('country', '$COUNTRY');
        INSERT INTO mrn_counter VALUES (2025, 1);
        INSERT INTO guarantee VALUES ('$GRN', 'G', 1000, 'USD', 100, 1);
        INSERT INTO movement (mrn, holder, lrn, declaration, decl_hash, lodged_hash,
            office_departure, office_destination, security, state, flags, seq, created)
            VALUES ('$MRN', 'H', 'L', '{}', $H, $H, '${COUNTRY}000100', 'GE000200', 0, 'accepted', 0, 1, 1);
        INSERT INTO movement_office VALUES ('$MRN', 0, '${COUNTRY}000100'), ('$MRN', 1, 'GE000200');
        INSERT INTO event (mrn, seq, type, time, epoch, actor_role, body)
            VALUES ('$MRN', 1, 'lodged', '2025-01-01T00:00:00Z', 1, 'holder', '{}');
        INSERT INTO reservation VALUES ('$MRN', '$GRN', 100, 'USD', 1, 0);
        INSERT INTO movement_count VALUES ('accepted', 1);
        INSERT INTO outbox (id, receiver, mrn, seq, kind, envelope, created)
            VALUES ('0123456789abcdef0123456789abcdef', 'GE', '$MRN', 1, 'CD001C', x'7b7d', 1);
        INSERT INTO outbox_stream (receiver, mrn, enqueued) VALUES ('GE', '$MRN', 1);
        INSERT INTO outbox_peer VALUES ('GE', 1);" || fail "schema 2: rows"
    check 0 "$DATA: ok"
    [ "$(sqlite3 "$DATA/kervan.db" 'PRAGMA user_version')" = 3 ] || fail "schema 2: not migrated to 3"
    [ "$(sqlite3 "$DATA/kervan.db" 'SELECT replica FROM movement')" = 0 ] || fail "schema 2: replica flag"
    ok
fi
echo "store: $CHECKS checks passed"
