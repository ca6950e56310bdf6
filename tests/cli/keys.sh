#!/usr/bin/env bash
# keys.sh — `kervan keys new|show`: the key pair in DIR/keys with tight
# modes, the same public key shown again, no silent replacement, and the
# refusals of a secret key file open to others (crypto/crypto.h).
#
# usage: bash keys.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
T=$(mktemp -d /tmp/kv-keys-test.XXXXXX)
trap 'chmod -R u+rwx "$T"; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mode() { stat -c %a "$1"; }

expect_error() {
    local want=$1; shift
    "$KERVAN" keys "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "keys $*: exit $rc, expected 2"
    grep -qF -- "$want" "$T/err" || fail "keys $*: expected '$want', got: $(cat "$T/err")"
    [ -s "$T/out" ] && fail "keys $*: printed something on stdout"
    return 0
}

D=$T/node
expect_error "does not exist (make a key pair with \`kervan keys new\`)" show --data "$D"
"$KERVAN" keys new --data "$D" >"$T/new" 2>"$T/err" || fail "new: $(cat "$T/err")"
grep -Eq '^public key   [A-Za-z0-9_-]{43}$' "$T/new" || fail "new: no public key: $(cat "$T/new")"
grep -Eq '^fingerprint  ([0-9a-f]{4}:){7}[0-9a-f]{4}$' "$T/new" || fail "new: no fingerprint"
grep -q "kervan trust add" "$T/err" || fail "new: no hint about the trust list"
[ "$(mode "$D")" = 700 ] || fail "data folder mode $(mode "$D")"
[ "$(mode "$D/keys")" = 700 ] || fail "keys folder mode $(mode "$D/keys")"
[ "$(mode "$D/keys/node.sk")" = 600 ] || fail "secret key mode $(mode "$D/keys/node.sk")"
[ "$(mode "$D/keys/node.pk")" = 644 ] || fail "public key mode $(mode "$D/keys/node.pk")"
grep -q "$(cat "$D/keys/node.pk")" "$T/new" || fail "node.pk is not the key printed"
# The secret key file is binary: compare its bytes and their usual text
# forms with what was printed (a grep of the raw bytes would treat them as
# a pattern and match at random).
python3 - "$D/keys/node.sk" "$T/new" <<'PY' || fail "the secret was printed"
import base64, sys
secret = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
forms = [secret, secret.hex().encode(), base64.urlsafe_b64encode(secret).rstrip(b"="),
         base64.b64encode(secret).rstrip(b"=")]
sys.exit(1 if any(f and f in out for f in forms) else 0)
PY

"$KERVAN" keys show --data "$D" >"$T/show" || fail "show"
cmp -s "$T/new" "$T/show" || fail "show differs from new"
"$KERVAN" keys show --data="$D" --json >"$T/json" || fail "show --json"
python3 - "$T/json" "$T/show" <<'PY' || fail "show --json is not the same key"
import json, sys
j = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read().split()
assert set(j) == {"key", "fingerprint"}, j
assert j["key"] == text[2] and j["fingerprint"] == text[4], (j, text)
PY

# no replacement without --force; with it, a different key
expect_error "already holds a key pair (give --force to replace it)" new --data "$D"
"$KERVAN" keys show --data "$D" | cmp -s - "$T/show" || fail "the refused new changed the key"
"$KERVAN" keys new --data "$D" --force >"$T/new2" 2>/dev/null || fail "new --force"
cmp -s "$T/new2" "$T/show" && fail "--force kept the old key"

# permissions: group/other bits on the secret, a writable folder, a link
for m in 640 604 660 644; do
    chmod "$m" "$D/keys/node.sk"
    expect_error "must not be open to group or other (chmod 600" show --data "$D"
done
chmod 600 "$D/keys/node.sk"
chmod 775 "$D/keys"
expect_error "must not be writable by group or other (chmod 700" show --data "$D"
chmod 700 "$D/keys"
mv "$D/keys/node.sk" "$T/elsewhere.sk"
ln -s "$T/elsewhere.sk" "$D/keys/node.sk"
expect_error "is a symbolic link" show --data "$D"
rm "$D/keys/node.sk"; mv "$T/elsewhere.sk" "$D/keys/node.sk"
echo "AAAA" >"$D/keys/node.pk"
expect_error "is not a key file" show --data "$D"
"$KERVAN" keys new --data "$D" --force >/dev/null 2>&1 || fail "new --force over a bad node.pk"
"$KERVAN" keys show --data "$D" >/dev/null || fail "show after repair"

expect_error "--data DIR is required" show
expect_error "--force belongs to \`kervan keys new\`" show --data "$D" --force
expect_error "unknown subcommand 'rotate'" rotate --data "$D"
expect_error "unexpected argument '--colour'" show --data "$D" --colour red
"$KERVAN" keys --help | grep -q "usage: kervan keys new" || fail "--help"
echo ok
