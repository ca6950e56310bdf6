#!/usr/bin/env bash
# validate.sh — tests of `kervan validate` on the declaration example and the
# golden cases: the program prints exactly the .expected lines (the format
# tests/core/test_golden.c reproduces), exits 0 for a valid declaration and 1
# for an invalid one, prefixes lines with the file name when given several
# files, reads standard input for "-", and exits 2 for an unreadable file.
# With python3 available it also checks that the golden inputs are in step
# with the example (tests/golden/make-cases.py --check).
#
# usage: bash validate.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -euo pipefail

KV=${1:?usage: validate.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SRC=${2:?usage: validate.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
GOLDEN="$SRC/tests/golden/validate"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# The example is valid.
if run 0 validate "$SRC/examples/declaration.json"; then
    [[ ! -s $TMP/out ]] || fail "example: unexpected output $(cat "$TMP/out")"
    grep -q 'declaration.json: valid' "$TMP/err" || fail "example: no verdict on stderr"
fi

# Every golden case through the program: same lines, right exit status.
n=0
for json in "$GOLDEN"/*.json; do
    name=$(basename "$json" .json)
    expected="$GOLDEN/$name.expected"
    want=1
    [[ -s $expected ]] || want=0
    if run "$want" validate "$json"; then
        cmp -s "$TMP/out" "$expected" || fail "$name: output differs: $(diff "$expected" "$TMP/out" | head -5)"
    fi
    n=$((n + 1))
done
[[ $n -ge 40 ]] || fail "only $n golden cases"

# Standard input, and two files at once (lines prefixed with the file name).
if run 1 validate - <"$GOLDEN/046-grn-check-digit.json"; then
    cmp -s "$TMP/out" "$GOLDEN/046-grn-check-digit.expected" || fail "stdin: output differs"
fi
if run 1 validate "$SRC/examples/declaration.json" "$GOLDEN/075-seal-count.json"; then
    want="$GOLDEN/075-seal-count.json:$(cat "$GOLDEN/075-seal-count.expected")"
    [[ $(cat "$TMP/out") == "$want" ]] || fail "two files: got $(cat "$TMP/out")"
fi
run 2 validate "$TMP/does-not-exist.json" || true

# The golden inputs are those make-cases.py writes.
if command -v python3 >/dev/null 2>&1; then
    python3 "$SRC/tests/golden/make-cases.py" --check >"$TMP/check" 2>&1 ||
        fail "golden inputs out of step: $(cat "$TMP/check")"
fi

if [[ $failures -gt 0 ]]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "validate: $n golden cases and the example pass through kervan validate"
