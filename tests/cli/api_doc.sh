#!/usr/bin/env bash
# api_doc.sh — every `sh` example of docs/api.md, run in order against a real
# `kervan serve`: each block's `# → STATUS` line is the status its request
# must get, and each answer is checked against docs/openapi.yaml (which is
# itself validated first). Blocks without a status line (the token bootstrap)
# run before the node starts.
#
# usage: bash api_doc.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -u
KERVAN=$1
SRC=$2
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "$tool not found: skipping"; exit 77; }
done
unset KERVAN_NCTS_XSD # the 415 example is a node without an XSD folder
T=$(mktemp -d /tmp/kv-apidoc.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID"
        wait "$PID"
    fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    [ -f "$T/node.log" ] && tail -20 "$T/node.log"
    exit 1
}

python3 "$SRC/tests/cli/openapi_check.py" "$SRC/docs/openapi.yaml"
case $? in
0) ;;
77) echo "(openapi.yaml not validated: no PyYAML)" ;;
*) fail "docs/openapi.yaml is not a valid OpenAPI document" ;;
esac

# What the examples call.
kervan() { "$KERVAN" "$@"; }
curl() { # records method, URL, status and body of the request
    local method=GET url= prev= a
    for a in "$@"; do
        [ "$prev" = -X ] && method=$a
        case "$a" in
        http://*) url=$a ;;
        -d | --data | --data-binary) [ "$method" = GET ] && method=POST ;;
        esac
        prev=$a
    done
    echo "$method ${url#"$NODE"}" >"$T/last.req"
    command curl -o "$T/last.body" -w '%{http_code}' "$@" >"$T/last.status"
    cat "$T/last.body"
}

mkdir -p "$T/blocks"
awk -v dir="$T/blocks" '
    /^```sh$/ { n++; f = sprintf("%s/%03d.sh", dir, n); inb = 1; next }
    /^```/    { inb = 0; next }
    inb       { print > f }' "$SRC/docs/api.md"
BLOCKS=$(ls "$T/blocks" | wc -l)
[ "$BLOCKS" -ge 10 ] || fail "only $BLOCKS sh blocks found in docs/api.md"

DATA=$T/data
NODE=
cd "$SRC" || fail "cannot cd to $SRC"
RAN=0
for b in "$T"/blocks/*.sh; do
    want=$(sed -n 's/^# → \([0-9][0-9][0-9]\).*/\1/p' "$b" | head -1)
    if [ -n "$want" ] && [ -z "$NODE" ]; then
        "$KERVAN" serve --country KZ --data "$DATA" --listen 127.0.0.1:0 \
            --port-file "$T/port" --log-level warn 2>"$T/node.log" &
        PID=$!
        for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
        [ -s "$T/port" ] || fail "the node did not start"
        NODE=http://127.0.0.1:$(cat "$T/port")
    fi
    rm -f "$T/last.status" "$T/last.body"
    # shellcheck disable=SC1090
    . "$b" >"$T/out" 2>"$T/err" || fail "$(basename "$b") failed: $(cat "$T/err")
$(cat "$b")"
    if [ -n "$want" ]; then
        got=$(cat "$T/last.status" 2>/dev/null)
        [ "$got" = "$want" ] || fail "$(basename "$b"): status $got, expected $want:
$(cat "$b")
$(cat "$T/last.body" 2>/dev/null)"
        read -r m p <"$T/last.req"
        cp "$T/last.body" "$T/answer.$RAN"
        echo "$m $p $got $T/answer.$RAN" >>"$T/answers"
    fi
    RAN=$((RAN + 1))
done

# every answer matches docs/openapi.yaml
python3 "$SRC/tests/cli/openapi_check.py" "$SRC/docs/openapi.yaml" --answers "$T/answers" \
    >"$T/check" 2>&1
case $? in
0 | 77) ;;
*) fail "answers that do not match docs/openapi.yaml: $(cat "$T/check")" ;;
esac

# the walk-through ended where the document says
[ -n "$MRN" ] && [ -n "$MRN2" ] || fail "MRN or MRN2 not set by the examples"
state=$(command curl -sS "$NODE/v1/movements/$MRN" -H "Authorization: Bearer $ANALYST" | jq -r .state)
[ "$state" = written_off ] || fail "the walk-through's movement is $state, not written_off"
limit=$(command curl -sS "$NODE/v1/movements/$MRN2" -H "Authorization: Bearer $ANALYST" | jq -r .limitDate)
[ "$limit" = 2030-12-31 ] || fail "the amendment's limit date is $limit"
# a running node's folder: token add refuses and says what to do
"$KERVAN" token add --data "$DATA" --role analyst >"$T/out" 2>"$T/err" && fail "token add on a running node's folder succeeded"
grep -q "is in use by another process" "$T/err" && grep -q "POST /v1/tokens" "$T/err" \
    || fail "token add on a running node: $(cat "$T/err")"
echo "ran $RAN examples of docs/api.md"
exit 0
