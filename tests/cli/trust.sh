#!/usr/bin/env bash
# trust.sh — `kervan trust add|retire|show|check`: building a trust list
# from the nodes' key files, a key rotation (two valid keys, then the old
# one retired), validity at an instant, and the refusals.
#
# usage: bash trust.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
SRC=$2
T=$(mktemp -d /tmp/kv-trust-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# run WANT_RC ARGS... : output in $T/out, $T/err
run() {
    local want=$1; shift
    "$KERVAN" trust "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "trust $*: exit $rc, expected $want: $(cat "$T/out" "$T/err")"
}
expect_error() {
    local want=$1; shift
    run 2 "$@"
    grep -qF -- "$want" "$T/err" || fail "trust $*: expected '$want', got: $(cat "$T/err")"
}

F=$T/trust.json
for c in KZ AZ GE; do
    "$KERVAN" keys new --data "$T/$c" >/dev/null 2>&1 || fail "keys new $c"
done
run 0 add --file "$F" --country KZ --url http://127.0.0.1:7101 --data "$T/KZ" --from 2025-01-01T00:00:00Z
grep -q "KZ key .* valid from 2025-01-01T00:00:00Z added to" "$T/err" || fail "add: $(cat "$T/err")"
run 0 add --file "$F" --country AZ --url http://127.0.0.1:7102 --key-file "$T/AZ/keys/node.pk" --from 2025-01-01T00:00:00Z
run 0 add --file "$F" --country GE --url https://ge.example:8443/kervan --key "$(cat "$T/GE/keys/node.pk")" --from 2025-01-01T00:00:00Z
# without --from a key is valid from now
run 0 add --file "$T/now.json" --country UZ --url http://127.0.0.1:7105 --data "$T/GE"
run 0 check --file "$T/now.json" --country UZ --key "$(cat "$T/GE/keys/node.pk")"
run 0 check --file "$F"
grep -q "valid trust list: 3 nodes, 3 keys" "$T/out" || fail "check: $(cat "$T/out")"
# the file is what the codec writes: re-adding nothing leaves it as is
python3 -c "import json,sys; d=json.load(open('$F')); assert [n['country'] for n in d['nodes']]==['KZ','AZ','GE']" \
    || fail "the file is not the list"

KZ1=$("$KERVAN" keys show --data "$T/KZ" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['fingerprint'])")
run 0 check --file "$F" --country KZ --key "$KZ1" --at 2025-02-01T00:00:00Z
grep -q "KZ key $KZ1: valid at 2025-02-01T00:00:00Z" "$T/out" || fail "check key: $(cat "$T/out")"
run 1 check --file "$F" --country KZ --key "$KZ1" --at 2024-12-31T23:59:59Z
grep -q "not valid at 2024-12-31T23:59:59Z: valid from 2025-01-01T00:00:00Z" "$T/out" || fail "$(cat "$T/out")"
run 1 check --file "$F" --country AZ --key "$KZ1"
grep -q "not a key of that node" "$T/out" || fail "$(cat "$T/out")"
run 1 check --file "$F" --country TR --key "$KZ1"
grep -q "unknown node" "$T/out" || fail "$(cat "$T/out")"
# a key named by its base64url form works as well as by its fingerprint
run 0 check --file "$F" --country KZ --key "$(cat "$T/KZ/keys/node.pk")" --at 2025-02-01T00:00:00Z

# rotation: KZ's new key valid from May, the old one retired at June
cp -r "$T/KZ" "$T/KZ-old"
"$KERVAN" keys new --data "$T/KZ" --force >/dev/null 2>&1 || fail "keys new --force"
KZ2=$("$KERVAN" keys show --data "$T/KZ" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['fingerprint'])")
run 0 add --file "$F" --country KZ --data "$T/KZ" --from 2025-05-01T00:00:00+05:00
run 0 retire --file "$F" --country KZ --key "$KZ1" --until 2025-06-01T00:00:00Z
grep -q "KZ key $KZ1 valid until 2025-06-01T00:00:00Z" "$T/err" || fail "retire: $(cat "$T/err")"
run 0 check --file "$F" --country KZ --key "$KZ1" --at 2025-05-15T00:00:00Z
run 0 check --file "$F" --country KZ --key "$KZ2" --at 2025-05-15T00:00:00Z
run 1 check --file "$F" --country KZ --key "$KZ1" --at 2025-06-01T00:00:00Z
grep -q "valid until 2025-06-01T00:00:00Z" "$T/out" || fail "$(cat "$T/out")"
run 0 check --file "$F" --country KZ --key "$KZ2" --at 2025-06-01T00:00:00Z
run 1 check --file "$F" --country KZ --key "$KZ2" --at 2025-04-30T18:59:59Z

run 0 show --file "$F" --at 2025-05-15T00:00:00Z
grep -q "^KZ  http://127.0.0.1:7101$" "$T/out" || fail "show: $(cat "$T/out")"
[ "$(grep -c "  valid$" "$T/out")" = 4 ] || fail "show: 4 valid keys expected: $(cat "$T/out")"
run 0 show --file "$F" --at 2025-07-01T00:00:00Z
grep -q "$KZ1 .*expired$" "$T/out" || fail "show: old key not expired: $(cat "$T/out")"
run 0 show --file "$F" --json --at 2025-07-01T00:00:00Z
python3 - "$T/out" "$KZ1" <<'PY' || fail "show --json"
import json, sys
d = json.load(open(sys.argv[1]))
kz = d["nodes"][0]
assert kz["country"] == "KZ" and len(kz["keys"]) == 2, kz
old = [k for k in kz["keys"] if k["fingerprint"] == sys.argv[2]][0]
assert old["until"] == "2025-06-01T00:00:00Z" and old["state"] == "expired", old
assert d["nodes"][2]["url"] == "https://ge.example:8443/kervan"
PY

# refusals: nothing is written
cp "$F" "$T/before.json"
expect_error "is not in" add --file "$F" --country TR --data "$T/GE"
expect_error "already listed, for GE" add --file "$F" --country TR --url http://x --data "$T/GE"
expect_error "is listed with the URL http://127.0.0.1:7102" add --file "$F" --country AZ --url http://other --data "$T/KZ-old"
expect_error "already listed, for KZ" add --file "$F" --country KZ --data "$T/KZ-old"
expect_error "give exactly one of --key, --key-file, --data" add --file "$F" --country UZ --url http://x
expect_error "give exactly one of --key, --key-file, --data" add --file "$F" --country UZ --url http://x --key AAAA --data "$T/KZ"
expect_error "not an Ed25519 public key" add --file "$F" --country UZ --url http://x --key AAAA
expect_error "not an Ed25519 public key" add --file "$F" --country UZ --url http://x --key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_error "not a base URL" add --file "$F" --country UZ --url ftp://x --key-file "$T/KZ-old/keys/node.pk"
expect_error "--country CC (two upper-case letters) is required" add --file "$F" --country uz --url http://x --data "$T/KZ-old"
expect_error "--until must be later than --from" add --file "$F" --country UZ --url http://x --data "$T/KZ-old" --from 2025-02-01T00:00:00Z --until 2025-01-01T00:00:00Z
expect_error "is not an RFC 3339 time" add --file "$F" --country UZ --url http://x --data "$T/KZ-old" --from 2025-02-01
expect_error "is not later than the key's start" retire --file "$F" --country KZ --key "$KZ2" --until 2025-01-01T00:00:00Z
expect_error "has no key" retire --file "$F" --country AZ --key "$KZ2" --until 2026-01-01T00:00:00Z
expect_error "--country, --key and --until are required" retire --file "$F" --country AZ
expect_error "--url does not apply here" retire --file "$F" --url http://x
expect_error "--from does not apply here" show --file "$F" --from 2025-01-01T00:00:00Z
expect_error "--country and --key go together" check --file "$F" --country KZ
expect_error "--file FILE is required" show
expect_error "unknown subcommand 'remove'" remove --file "$F"
cmp -s "$F" "$T/before.json" || fail "a refused command changed the file"
[ -e "$F.tmp" ] && fail "a temporary file was left behind"

# a file with problems is listed and never edited
printf '{"nodes":[{"country":"kz","url":"x","keys":[]}],"extra":1}' >"$T/bad.json"
cp "$T/bad.json" "$T/bad.orig"
run 1 check --file "$T/bad.json"
grep -q "R-TRUST-003 /extra: unknown member" "$T/err" || fail "$(cat "$T/err")"
grep -q "R-TRUST-010 /nodes/0/country" "$T/err" || fail "$(cat "$T/err")"
grep -q "R-TRUST-012 /nodes/0/url" "$T/err" || fail "$(cat "$T/err")"
grep -q "R-TRUST-025 /nodes/0/keys" "$T/err" || fail "$(cat "$T/err")"
run 1 add --file "$T/bad.json" --country UZ --url http://x --data "$T/KZ-old"
cmp -s "$T/bad.json" "$T/bad.orig" || fail "a bad file was edited"
run 2 show --file "$T/missing.json"
grep -q "No such file" "$T/err" || fail "$(cat "$T/err")"

# the documented example list checks
run 0 check --file "$SRC/tests/golden/exchange/trust.json"
"$KERVAN" trust --help | grep -q "usage: kervan trust add" || fail "--help"
echo ok
