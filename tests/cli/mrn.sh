#!/usr/bin/env bash
# mrn.sh — tests of `kervan mrn verify` and `kervan mrn new`: exit codes and
# the exact output lines for valid and refused MRNs (each reason), --p5,
# standard input, allocation of 1000 MRNs, and bad arguments.
#
# usage: bash mrn.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
# Vectors: DOMAIN.md §2.9 (real MRNs, worked example, HMRC negative examples).
set -euo pipefail

KV=${1:?usage: mrn.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SHARED=${3:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# verify_line RC MRN EXPECTED_LINE [OPTIONS...] — one MRN, one line out.
verify_line() {
    local rc=$1 mrn=$2 line=$3
    shift 3
    run "$rc" mrn verify "$@" -- "$mrn" && expect_out "$line"
    return 0
}

# --- valid MRNs -------------------------------------------------------------
verify_line 0 24GB000246J8NY33L7 "24GB000246J8NY33L7: valid (P5)"
verify_line 0 24XI000081LAQJBTJ2 "24XI000081LAQJBTJ2: valid (P5)"
verify_line 0 23GB000246IF9W5YJ0 "23GB000246IF9W5YJ0: valid (Phase 4)" # 10 -> 0
verify_line 0 19IT02110010007BA9 "19IT02110010007BA9: valid (Phase 4)"
run 0 mrn verify 24GB000246J8NY33L7 23GB000246IF9W5YJ0 24XI000081LAQJBTJ2 &&
    [[ $(wc -l <"$TMP/out") == 3 ]] || fail "three valid MRNs should print three lines"
run 0 mrn verify --quiet 24GB000246J8NY33L7 23GB000246IF9W5YJ0 && expect_out ""
run 0 mrn verify 24GB000246J8NY33L7 -q && expect_out "" # options anywhere before --

# --- each reason --------------------------------------------------------------
verify_line 1 24GB012345678901A0 "24GB012345678901A0: check digit: expected 5, found 0"
verify_line 1 27WF9X1FQ9RCKN0TM3 "27WF9X1FQ9RCKN0TM3: check digit: expected 9, found 3"
verify_line 1 24gb000246J8NY33L7 \
    "24gb000246J8NY33L7: character 3 'g' is not [A-Z0-9] (MRNs are upper case)"
verify_line 1 "24GB-00246J8NY33L7" "24GB-00246J8NY33L7: character 5 '-' is not [A-Z0-9]"
verify_line 1 $'24GB\t00246J8NY33L7' \
    '24GB\x0900246J8NY33L7: character 5 (byte 0x09) is not [A-Z0-9]'
verify_line 1 25GB012345678901A5 \
    "25GB012345678901A5: 17th character 'A' is not a transit procedure letter (J, K, L, M; rule R0410); A, B and E mark export MRNs (rule R0416)"
verify_line 1 24GB11111EXPORTMRN \
    "24GB11111EXPORTMRN: pattern: character 18 'N' is not a digit (it is the check digit)"
verify_line 1 X4GB000246J8NY33L7 \
    "X4GB000246J8NY33L7: pattern: character 1 'X' is not a digit (characters 1-2 are the year, YY)"
verify_line 1 2411000246J8NY33L7 \
    "2411000246J8NY33L7: pattern: character 3 '1' is not a letter (characters 3-4 are the ISO 3166-1 alpha-2 country code)"
verify_line 1 24GB000246J8NY33L \
    "24GB000246J8NY33L: length: 17 characters, an MRN has 18 (YY, country, 12 characters, procedure letter, check digit)"
verify_line 1 24GB000246J8NY33L70 \
    "24GB000246J8NY33L70: length: 19 characters, an MRN has 18 (YY, country, 12 characters, procedure letter, check digit)"
verify_line 1 25GB012345678901Z1 \
    "25GB012345678901Z1: 17th character 'Z' is not a transit procedure letter (J, K, L, M; rule R0410)"
# A mix: every MRN gets its line, exit 1 because one is refused.
run 1 mrn verify 24GB000246J8NY33L7 24GB012345678901A0 23GB000246IF9W5YJ0 &&
    [[ $(wc -l <"$TMP/out") == 3 ]] || fail "mixed list should print three lines"
run 1 mrn verify --quiet 24GB000246J8NY33L7 24GB012345678901A0 &&
    expect_out "24GB012345678901A0: check digit: expected 5, found 0"

# --- --p5 --------------------------------------------------------------------------
verify_line 0 24GB000246J8NY33L7 "24GB000246J8NY33L7: valid (P5)" --p5
verify_line 1 23GB000246IF9W5YJ0 \
    "23GB000246IF9W5YJ0: pattern: year 23 is before 2024, so this is a Phase 4 MRN; --p5 accepts only the NCTS P5 layout (YY 24-99, J-M at character 17)" \
    --p5
# 24...A5 has a right check digit: Phase 4 by default, refused under --p5.
verify_line 0 24GB012345678901A5 "24GB012345678901A5: valid (Phase 4)"
verify_line 1 24GB012345678901A5 \
    "24GB012345678901A5: 17th character 'A' is not a transit procedure letter (J, K, L, M; rule R0410); A, B and E mark export MRNs (rule R0416)" \
    --p5

# --- standard input ------------------------------------------------------------
printf '24GB000246J8NY33L7\r\n\n   23GB000246IF9W5YJ0  \n24XI000081LAQJBTJ2' >"$TMP/list"
rc=0
"$KV" mrn verify - <"$TMP/list" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc == 0 ]] || fail "stdin list of valid MRNs exited $rc: $(cat "$TMP/err")"
expect_out $'24GB000246J8NY33L7: valid (P5)\n23GB000246IF9W5YJ0: valid (Phase 4)\n24XI000081LAQJBTJ2: valid (P5)'
printf '24GB000246J8NY33L7\n24gb000246J8NY33L7\n%0150d\n27WF9X1FQ9RCKN0TM3\n' 0 >"$TMP/list"
rc=0
"$KV" mrn verify --quiet - <"$TMP/list" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc == 1 ]] || fail "stdin list with refused MRNs exited $rc, expected 1"
expect_out "24gb000246J8NY33L7: character 3 'g' is not [A-Z0-9] (MRNs are upper case)
-: line 3: longer than 100 characters, not an MRN
27WF9X1FQ9RCKN0TM3: check digit: expected 9, found 3"
# stdin and arguments together, --p5 applies to both.
rc=0
echo 23GB000246IF9W5YJ0 | "$KV" mrn verify --p5 --quiet 24GB000246J8NY33L7 - >"$TMP/out" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "--p5 with a Phase 4 MRN on stdin exited $rc, expected 1"
grep -q '^23GB000246IF9W5YJ0: pattern: year 23' "$TMP/out" || fail "--p5 on stdin: $(cat "$TMP/out")"

# --- the shared list of real MRNs -------------------------------------------------
if [[ -n $SHARED && -f $SHARED/mrn/mrns.csv ]]; then
    # Rows with check_ok=yes all verify (they all fit a layout).
    awk -F, 'NR > 1 && $6 == "yes" { print $1 }' "$SHARED/mrn/mrns.csv" >"$TMP/real"
    n=$(wc -l <"$TMP/real")
    [[ $n -ge 60 ]] || fail "expected at least 60 valid MRNs in mrns.csv, found $n"
    run 0 mrn verify --quiet - <"$TMP/real" && expect_out ""
else
    echo "shared data not found at ${SHARED:-<none>}: skipping the mrns.csv part"
fi

# --- mrn new -----------------------------------------------------------------------
year=$(date -u +%y)
letters=(J L K M) # R0410: security 0 J, 1 L, 2 K, 3 M
for sec in 0 1 2 3; do
    letter=${letters[$sec]}
    run 0 mrn new --country KZ --security "$sec" --count 1000 || continue
    cp "$TMP/out" "$TMP/new$sec"
    n=$(wc -l <"$TMP/new$sec")
    [[ $n == 1000 ]] || fail "new --count 1000 printed $n lines"
    d=$(sort -u "$TMP/new$sec" | wc -l)
    [[ $d == 1000 ]] || fail "new --count 1000 gave only $d distinct MRNs"
    bad=$(grep -cvE "^${year}KZ[A-Z0-9]{12}${letter}[0-9]\$" "$TMP/new$sec" || true)
    [[ $bad == 0 ]] || fail "security $sec: $bad MRNs not of the form ${year}KZ............${letter}D"
    rc=0
    "$KV" mrn verify --p5 --quiet - <"$TMP/new$sec" >"$TMP/out" 2>&1 || rc=$?
    [[ $rc == 0 ]] || fail "security $sec: new MRNs do not verify: $(head -3 "$TMP/out")"
done
# Consecutive lines have consecutive base-36 serials (characters 5-16).
if [[ -f $TMP/new0 ]]; then
    first=$(head -1 "$TMP/new0" | cut -c5-16)
    second=$(sed -n 2p "$TMP/new0" | cut -c5-16)
    # bash reads base 36 (36^12 < 2^63, so this fits).
    (((36#$first + 1) % 36 ** 12 == 36#$second)) ||
        fail "serials $first, $second are not consecutive"
fi
# Two runs start from different random serials.
run 0 mrn new --country TR --security 0 && a=$(cat "$TMP/out")
run 0 mrn new --country TR --security 0 && b=$(cat "$TMP/out")
[[ $a != "$b" ]] || fail "two runs gave the same MRN $a"
run 0 mrn new --country=UZ --security=2 --year=2031 && {
    out=$(cat "$TMP/out")
    [[ $out =~ ^31UZ[A-Z0-9]{12}K[0-9]$ ]] || fail "--year 2031 gave '$out'"
}
run 0 mrn new --country AZ --security 3 --year 2099 --count 2 &&
    [[ $(grep -c '^99AZ.\{12\}M' "$TMP/out") == 2 ]] || fail "--year 2099 --count 2"

# --- bad arguments -----------------------------------------------------------------
run 2 mrn && expect_out ""
run 2 mrn frob && expect_err_has "'frob' is not a subcommand"
run 2 mrn verify && expect_err_has "no MRN given"
run 2 mrn verify --p6 24GB000246J8NY33L7 && expect_err_has "unknown option '--p6'" && expect_out ""
run 2 mrn new --security 0 && expect_err_has "--country and --security are required"
run 2 mrn new --country KZ && expect_err_has "--country and --security are required"
run 2 mrn new --country kz --security 0 && expect_err_has "--country 'kz': not two upper-case letters"
run 2 mrn new --country XX --security 0 && expect_err_has "--country 'XX': not an ISO 3166-1 alpha-2 country code"
run 2 mrn new --country KAZ --security 0 && expect_err_has "--country 'KAZ'"
run 2 mrn new --country KZ --security 4 && expect_err_has "--security '4'" &&
    expect_err_has "R0410"
run 2 mrn new --country KZ --security -1 && expect_err_has "--security '-1'"
run 2 mrn new --country KZ --security 1x && expect_err_has "--security '1x'"
run 2 mrn new --country KZ --security 0 --count 0 && expect_err_has "--count '0'"
run 2 mrn new --country KZ --security 0 --count 100001 && expect_err_has "--count '100001'"
run 2 mrn new --country KZ --security 0 --year 2023 && expect_err_has "--year '2023'"
run 2 mrn new --country KZ --security 0 --year 2100 && expect_err_has "--year '2100'"
run 2 mrn new --country KZ --security && expect_err_has "--security needs a value"
run 2 mrn new --country KZ --security 0 extra && expect_err_has "unknown argument 'extra'"
run 0 mrn new --country KZ --security 0 --count 100000 &&
    [[ $(sort -u "$TMP/out" | wc -l) == 100000 ]] || fail "--count 100000 not 100000 distinct"

# --- help -------------------------------------------------------------------------
run 0 mrn --help && grep -q '^usage: kervan mrn verify' "$TMP/out" || fail "mrn --help"
run 0 mrn verify --help && grep -q -- '--p5' "$TMP/out" || fail "mrn verify --help"
run 0 mrn new --help && grep -q 'ENS' "$TMP/out" && grep -q 'R0410' "$TMP/out" ||
    fail "mrn new --help"
[[ ! -s $TMP/err ]] || fail "help wrote to stderr"

if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "mrn.sh: all checks passed"
