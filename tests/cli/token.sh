#!/usr/bin/env bash
# token.sh — `kervan token add`: the token printed once on stdout (kv_ + 43
# base64url), bindings checked like POST /v1/tokens, the first token creates
# the store only with --country, usage errors exit 2. (A running node's
# folder is refused: tests/cli/api_doc.sh.)
#
# usage: bash token.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
T=$(mktemp -d /tmp/kv-token-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect_error WANT ARGS... : exit 2, WANT on stderr, nothing on stdout
expect_error() {
    local want=$1; shift
    "$KERVAN" token "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "token $*: exit $rc, expected 2"
    grep -qF -- "$want" "$T/err" || fail "token $*: expected '$want', got: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "token $*: printed something on stdout"
    return 0
}

D=$T/data
expect_error "has no node store yet; give --country CC" add --data "$D" --role operator
[ -e "$D/kervan.db" ] && fail "a store was created without --country"
"$KERVAN" token add --data "$D" --country KZ --role operator --label root >"$T/out" 2>"$T/err" \
    || fail "bootstrap: $(cat "$T/err")"
grep -Eqx 'kv_[A-Za-z0-9_-]{43}' "$T/out" || fail "not a token: $(cat "$T/out")"
grep -q "shown only this once" "$T/err" || fail "no note on stderr"
[ -e "$D/kervan.db" ] || fail "no store created"
T1=$(cat "$T/out")
# the country now comes from the store; each token is new
"$KERVAN" token add --data "$D" --role trader --party 180540001239 >"$T/out" 2>"$T/err" \
    || fail "trader: $(cat "$T/err")"
[ "$(cat "$T/out")" != "$T1" ] || fail "the same token twice"
"$KERVAN" token add --data="$D" --role=officer --office=KZ050100 --label="Almaty desk" >"$T/out" 2>&1 \
    || fail "officer with --key=value: $(cat "$T/out")"
expect_error "belongs to the node of KZ, not TR" add --data "$D" --country TR --role analyst

expect_error "office TR343100 is in TR, not in this node's country KZ" add --data "$D" --role officer --office TR343100
expect_error "office KZ999999 is not in the office registry" add --data "$D" --role officer --office KZ999999
expect_error "an officer needs an office reference" add --data "$D" --role officer
expect_error "a trader needs a party id" add --data "$D" --role trader
expect_error "a trader is bound to a party, not an office" add --data "$D" --role trader --office KZ050100
expect_error "party id: 1 to 17 printable ASCII" add --data "$D" --role guarantor --party "two words"
expect_error "an analyst is bound to neither" add --data "$D" --role analyst --party X
expect_error "role must be one of trader, officer, guarantor, analyst, operator" add --data "$D" --role admin
expect_error "label: at most 64 printable ASCII" add --data "$D" --role analyst --label "$(printf 'x%.0s' $(seq 1 65))"
expect_error "--data and --role are required" add --role analyst
expect_error "--label needs a value" add --data "$D" --role analyst --label
expect_error "unexpected argument '--colour'" add --data "$D" --role analyst --colour red
expect_error "unknown subcommand 'remove'" remove
expect_error "usage: kervan token add" 
"$KERVAN" token --help | grep -q "usage: kervan token add" || fail "--help"
echo ok
