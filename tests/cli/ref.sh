#!/usr/bin/env bash
# ref.sh — tests of `kervan codes` and `kervan offices`: the list of lists,
# full listings (compared with data/*.tsv), lookups with exit codes and
# messages, the office table and its filters, the JSON form, and usage
# errors. With shared/data present, the HS listing is compared with the
# level-6 rows of harmonized-system.csv.
#
# usage: bash ref.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -euo pipefail

KV=${1:?usage: ref.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SRC=${2:?usage: ref.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SHARED=${3:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# rows FILE — the data rows of a data/ file as code<TAB>label.
rows() {
    grep -v '^#' "$SRC/data/$1" | tail -n +2 | cut -f1,2 | LC_ALL=C sort
}

# --- kervan codes ------------------------------------------------------------
run 0 codes && {
    expect_lines 10
    expect_out_has "hs                   5613  HS 2022 six-digit subheadings (CL152)"
    for l in country currency hs package transport-mode declaration-type security \
        guarantee-type incident; do
        grep -q "^$l " "$TMP/out" || fail "codes: list $l not listed"
    done
}

# Every list's listing equals its data file (embedding and parsing lose nothing).
for pair in country:countries.tsv currency:currencies.tsv hs:hs2022.tsv package:packages.tsv \
    transport-mode:transport-modes.tsv declaration-type:declaration-types.tsv \
    security:security.tsv guarantee-type:guarantee-types.tsv incident:incidents.tsv; do
    list=${pair%%:*}
    file=${pair#*:}
    if run 0 codes "$list"; then
        if ! diff <(rows "$file") <(LC_ALL=C sort "$TMP/out") >"$TMP/diff"; then
            fail "codes $list differs from data/$file: $(head -5 "$TMP/diff")"
        fi
    fi
done
run 0 codes country && {
    expect_lines 249
    [[ $(head -1 "$TMP/out") == $'AD\tAndorra' ]] || fail "codes country: first line $(head -1 "$TMP/out")"
}
run 0 codes hs6 && expect_lines 5613

run 0 codes country KZ TR && expect_out $'KZ\tKazakhstan\nTR\tTürkiye'
run 0 codes currency KZT && expect_out $'KZT\tTenge'
run 0 codes hs 010121 && expect_out $'010121\tHorses; live, pure-bred breeding animals'
run 0 codes transport-mode 3 && expect_out $'3\tRoad transport'
run 0 codes declaration-type T1 TIR && expect_lines 2
run 0 codes guarantee-type B && expect_out_has "TIR"
run 0 codes security 2 && expect_out $'2\tExit summary declaration (EXS) data'
run 0 codes package CT && expect_out $'CT\tCarton'
run 0 codes incident 2 && expect_out_has "Seals are broken"

run 1 codes country kz && {
    expect_out ""
    expect_err_has "kervan codes: country: 'kz' is not in the list (codes are case-sensitive; did you mean 'KZ'?)"
}
run 1 codes country KZ XX TR && {
    expect_out $'KZ\tKazakhstan\nTR\tTürkiye'
    expect_err_has "kervan codes: country: 'XX' is not in the list"
}
run 1 codes hs 0101 01012 999999x && {
    [[ $(wc -l <"$TMP/err") == 3 ]] || fail "codes hs: expected 3 messages, got $(cat "$TMP/err")"
}
run 1 codes currency TRL && expect_err_has "'TRL' is not in the list"
run 1 codes transport-mode 0 && expect_err_has "transport-mode: '0'"

run 2 codes nosuch && expect_err_has "'nosuch' is not a list"
run 2 codes countries KZ && expect_err_has "is not a list"
run 2 codes --bogus && expect_err_has "unknown option '--bogus'"
run 0 codes --help && expect_out_has "usage: kervan codes"
run 0 codes country --help && expect_out_has "usage: kervan codes"

# --- kervan offices ----------------------------------------------------------
refs="KZ050100 KZ050200 KZ050300 KZ190100 KZ470100 KZ470200 KZ610100 AZ100100 AZ100200
AZ200100 AZ200200 GE100100 GE200100 GE200200 GE300100 GE300200 GE400100 GE400200 UZ100100
UZ200100 UZ200200 UZ200300 KG100100 KG200100 KG200200 KG200300 TR080200 TR080300 TR080400
TR041900 TR330100 TR343100 TR343500 TR220200 TR220400 TR221300 TR220500 TR550100 TR610100
TR410300 TR041800"
run 0 offices && {
    expect_lines 42
    head -1 "$TMP/out" | grep -q '^REF  *NAME  *PLACE  *LOCODE  *ROLES  *TRAFFIC  *STATUS$' ||
        fail "offices: header $(head -1 "$TMP/out")"
    for r in $refs; do
        grep -q "^$r " "$TMP/out" || fail "offices: $r missing"
    done
    grep -q '^KZ050100  *Almaty inland customs office  *Almaty  *KZALA  *DEP,DES  *road,rail  *provisional$' \
        "$TMP/out" || fail "offices: KZ050100 row: $(grep KZ050100 "$TMP/out")"
    grep -q '^TR080200  *SARP GÜMRÜK MÜDÜRLÜĞÜ  *Sarp  *-  *DEP,TRA,DES,GUA  *road  *published$' \
        "$TMP/out" || fail "offices: TR080200 row: $(grep TR080200 "$TMP/out")"
    # Aligned: the STATUS column starts at the same character (not byte) on every line.
    if command -v python3 >/dev/null; then
        python3 - "$TMP/out" <<'EOF' || fail "offices: table not aligned"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
starts = {l.rfind(l.split()[-1]) for l in lines}
sys.exit(0 if len(starts) == 1 else 1)
EOF
    fi
}
run 0 offices --country KZ && {
    expect_lines 8
    [[ $(tail -n +2 "$TMP/out" | grep -vc '^KZ') == 0 ]] || fail "offices --country KZ: other countries"
}
run 0 offices --country=TR --role TRA && {
    for r in TR080200 TR080300 TR080400 TR041900 TR330100 TR220200; do
        grep -q "^$r " "$TMP/out" || fail "offices --country TR --role TRA: $r missing"
    done
    grep -q '^TR550100 ' "$TMP/out" && fail "offices --role TRA: TR550100 has no TRA"
}
run 0 offices --traffic sea --role DEP && {
    for r in KZ470100 KZ470200 AZ100200 GE300100 GE300200 TR330100; do
        grep -q "^$r " "$TMP/out" || fail "offices --traffic sea: $r missing"
    done
    grep -q '^KZ190100 ' "$TMP/out" && fail "offices --traffic sea: Dostyk is rail only"
}
run 0 offices --role INC && {
    expect_lines 3
    expect_out_has "TR041900"
    expect_out_has "TR041800"
}
run 0 offices --country CN && {
    expect_out ""
    expect_err_has "no office matches"
}
run 0 offices --country CN --json && expect_out "[]"
run 0 offices --json && {
    if command -v python3 >/dev/null; then
        python3 - "$TMP/out" <<'EOF' || fail "offices --json: unexpected JSON"
import json, sys
v = json.load(open(sys.argv[1], encoding="utf-8"))
assert len(v) == 41, len(v)
o = {x["ref"]: x for x in v}
k = o["KZ050100"]
assert k == {"ref": "KZ050100", "country": "KZ", "name": "Almaty inland customs office",
             "place": "Almaty", "unlocode": "KZALA", "lat": 43.25, "lon": 76.95,
             "roles": ["DEP", "DES"], "traffic": ["road", "rail"], "provisional": True}, k
s = o["TR080200"]
assert s["name"] == "SARP GÜMRÜK MÜDÜRLÜĞÜ" and s["unlocode"] is None and not s["provisional"], s
assert "TRA" in s["roles"], s
assert [x["ref"] for x in v] == sorted(o), "not in reference order"
EOF
    else
        expect_out_has '"ref": "KZ050100"'
    fi
}
run 0 offices --role TXT --traffic rail --json && expect_out_has '"ref": "KZ190100"'

run 2 offices --country XX && expect_err_has "'XX' is not an ISO 3166-1 alpha-2 country code"
run 2 offices --country kz && expect_err_has "'kz' is not an ISO 3166-1"
run 2 offices --role dep && expect_err_has "unknown role 'dep'"
run 2 offices --traffic ship && expect_err_has "unknown traffic 'ship'"
run 2 offices --traffic && expect_err_has "--traffic needs a value"
run 2 offices --country KZ --country TR && expect_err_has "--country given twice"
run 2 offices extra && expect_err_has "unexpected argument 'extra'"
run 0 offices --help && expect_out_has "usage: kervan offices"

# --- cross-check with shared/data -------------------------------------------
HS="$SHARED/codelists/hs2022/harmonized-system.csv"
if [[ -n $SHARED && -f $HS ]]; then
    run 0 codes hs && {
        # section,hscode,...,level: the code is field 2, the level the last field.
        if ! diff <(awk -F, 'NR > 1 && $NF == "6" { print $2 }' "$HS" | LC_ALL=C sort) \
            <(cut -f1 "$TMP/out") >"$TMP/diff"; then
            fail "codes hs differs from the level-6 rows of $HS: $(head -5 "$TMP/diff")"
        fi
    }
    skipped=""
else
    skipped="shared data not found at ${SHARED:-(none)}: skipping the HS cross-check"
fi

if [[ $failures != 0 ]]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
if [[ -n $skipped ]]; then
    echo "$skipped (the other tests passed)"
    exit 77
fi
echo "ok"
