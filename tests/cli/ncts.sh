#!/usr/bin/env bash
# ncts.sh — tests of `kervan ncts` as a user runs it: the XSD folder comes
# from --xsd or $KERVAN_NCTS_XSD and its absence is said plainly; validate
# prints one line per error (FILE:LINE: XPATH: CODE REASON RULE: MESSAGE
# [value]) and exits 0/1/2; --country adds the node rule; a Phase 4 message
# is refused; export-declaration turns the example into a CC015C that passes
# the XSD, import turns it back into the same declaration (docs/ncts.md's
# examples are these commands); import --node refuses an invalid message and
# reports an unreachable node.
#
# usage: bash ncts.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
set -euo pipefail

KV=${1:?usage: ncts.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SRC=${2:?usage: ncts.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
SHARED=${3:?usage: ncts.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR}
XSD="$SHARED/ncts-p5-xsd"
EX="$SHARED/ncts-p5-examples"
if [[ ! -d $XSD || ! -d $EX || ! -d $SHARED/ncts-p4 ]]; then
    echo "shared data not found at $SHARED: skipping"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
. "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
unset KERVAN_NCTS_XSD

# No XSD folder: said plainly, exit 2; no built-in default.
if run 2 ncts validate "$EX/hmrc-office-responses/CC028C.xml"; then
    grep -q "no NCTS XSD folder: give --xsd DIR or set KERVAN_NCTS_XSD" "$TMP/err" ||
        fail "no-xsd message: $(cat "$TMP/err")"
fi
run 2 ncts validate --xsd "$TMP/nowhere" "$EX/hmrc-office-responses/CC028C.xml" &&
    grep -q "not a readable directory" "$TMP/err" || fail "bad --xsd not reported"

# A valid office message, from the environment variable.
if KERVAN_NCTS_XSD="$XSD" run 0 ncts validate "$EX/hmrc-office-responses/CC028C.xml"; then
    [[ ! -s $TMP/out ]] || fail "valid CC028C printed $(cat "$TMP/out")"
    grep -q "CC028C.xml: valid CC028C" "$TMP/err" || fail "no verdict for CC028C"
fi

# Schema errors: code, location, line, value; every error printed.
if run 1 ncts validate --xsd "$XSD" "$EX/hmrc-validator-testdata/cc029c-valid.xml"; then
    [[ $(wc -l <"$TMP/out") == 3 ]] || fail "cc029c: expected 3 error lines, got $(wc -l <"$TMP/out")"
    grep -qF 'cc029c-valid.xml:112: /CC029C/Consignment/countryOfDispatch: 51 - R-XSD-001: Element '"'"'countryOfDispatch'"'"': [facet '"'"'pattern'"'"'] The value '"'"'st'"'"' is not accepted by the pattern '"'"'[A-Z]{2}'"'"'. [value "st"]' "$TMP/out" ||
        fail "cc029c line: $(head -1 "$TMP/out")"
    grep -q '/CC029C/Consignment/HouseConsignment\[1\]/ConsignmentItem\[1\]/countryOfDispatch' "$TMP/out" ||
        fail "cc029c: no indexed location"
fi

# Business rules after the schema: C0467 on a CC013C.
if run 1 ncts validate --xsd "$XSD" "$EX/hmrc-validator-testdata/cc013c-invalid-no-mrn-lrn.xml"; then
    grep -q '/CC013C/TransitOperation/MRN: 13 C0467 R-LRN-002: an LRN or an MRN must be given' "$TMP/out" ||
        fail "C0467: $(cat "$TMP/out")"
fi

# Several files: exit 1 when one is invalid; a Phase 4 message is refused.
if run 1 ncts validate --xsd "$XSD" "$EX/hmrc-office-responses/CC045C.xml" "$SHARED/ncts-p4/java-client/CC015B.xml"; then
    grep -q 'CC015B.xml:1: /CC015B: 15 - R-XML-005: Phase 4 messages are not accepted' "$TMP/out" ||
        fail "phase 4: $(cat "$TMP/out")"
    grep -q 'CC045C.xml: valid CC045C' "$TMP/err" || fail "CC045C verdict"
fi
run 2 ncts validate --xsd "$XSD" "$TMP/missing.xml" || true
# Over 8 MiB: refused unread, as invalid.
truncate -s 9M "$TMP/huge.xml"
run 1 ncts validate --xsd "$XSD" "$TMP/huge.xml" &&
    grep -q 'R-XML-003: the document is 9437184 bytes; at most 8388608 are accepted' "$TMP/out" ||
    fail "huge file: $(cat "$TMP/out")"
run 2 ncts validate --xsd "$XSD" --country kz "$EX/hmrc-office-responses/CC045C.xml" || true

# The example declaration out as CC015C, header given; it passes the XSD.
if run 0 ncts export-declaration --xsd "$XSD" --sender KZ180540001239 --recipient NTA.KZ \
    --message-id STL-0417 --prepared 2025-04-07T09:30:00 "$SRC/examples/declaration.json"; then
    cp "$TMP/out" "$TMP/decl.xml"
    head -1 "$TMP/decl.xml" | grep -q '^<?xml version="1.0" encoding="UTF-8"?>$' || fail "xml declaration"
    grep -q '<messageIdentification>STL-0417</messageIdentification>' "$TMP/decl.xml" || fail "header"
    # The kervan extensions CC015C cannot carry are named on stderr.
    [[ $(grep -c 'R-EXP-001' "$TMP/err") == 10 ]] || fail "expected 10 R-EXP-001 notes: $(cat "$TMP/err")"
fi
# Without an XSD it still writes, and says it did not check.
run 0 ncts export-declaration "$SRC/examples/declaration.json" &&
    grep -q "not checked against the XSD" "$TMP/err" || fail "unchecked export not said"
grep -q '<messageRecipient>NTA.KZ</messageRecipient>' "$TMP/out" || fail "default recipient"

# It validates, with the node rule for Kazakhstan, and not for Türkiye.
run 0 ncts validate --xsd "$XSD" --country KZ "$TMP/decl.xml" || true
if run 1 ncts validate --xsd "$XSD" --country TR "$TMP/decl.xml"; then
    grep -q '/CC015C/CustomsOfficeOfDeparture/referenceNumber: 14 - R-NODE-001: CustomsOfficeOfDeparture "KZ050100" is not in this node'"'"'s country (TR) \[value "KZ050100"\]' "$TMP/out" ||
        fail "R-NODE-001: $(cat "$TMP/out")"
fi

# And back: the same declaration (the extensions aside), with its NCTS header.
if run 0 ncts import --xsd "$XSD" "$TMP/decl.xml"; then
    cp "$TMP/out" "$TMP/back.json"
    run 0 validate "$TMP/back.json" || fail "imported JSON is not a valid declaration"
    grep -q '"ncts":{"messageSender":"KZ180540001239","messageRecipient":"NTA.KZ"' "$TMP/back.json" ||
        fail "no header in $(head -c 300 "$TMP/back.json")"
    run 0 ncts export-declaration --xsd "$XSD" "$TMP/back.json" &&
        cmp -s "$TMP/out" "$TMP/decl.xml" || fail "CC015C -> JSON -> CC015C differs"
    # An option given overrides the declaration's own header.
    run 0 ncts export-declaration --xsd "$XSD" --message-id STL-0418 "$TMP/back.json" &&
        grep -q '<messageIdentification>STL-0418</messageIdentification>' "$TMP/out" ||
        fail "--message-id not used"
fi

# Import of something that is not a declaration.
run 1 ncts import --xsd "$XSD" "$EX/hmrc-office-responses/CC028C.xml" &&
    grep -q "is a CC028C; only a CC015C is a declaration" "$TMP/err" || fail "CC028C import"
# An invalid message is not lodged; an unreachable node is reported.
f="$EX/hmrc-validator-testdata/cc015c-valid.xml"
run 1 ncts import --xsd "$XSD" --node http://127.0.0.1:9 "$f" &&
    grep -q "not lodged" "$TMP/err" || fail "invalid message lodged?"
run 2 ncts import --xsd "$XSD" --node http://127.0.0.1:9 --token t "$TMP/decl.xml" || true
[[ ! -s $TMP/out ]] || fail "unreachable node printed $(cat "$TMP/out")"

# Usage.
run 0 ncts --help && grep -q 'kervan ncts validate' "$TMP/out" || fail "help"
run 2 ncts frobnicate || true
run 2 ncts import --xsd "$XSD" || true

if [[ $failures -gt 0 ]]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "ncts.sh: all passed"
