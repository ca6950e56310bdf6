#!/usr/bin/env bash
# node-flows.sh — complete movements through a real `kervan serve` on
# 127.0.0.1, driven with the kervan client commands (declare, event, show,
# list, guarantee) and checked through the API with curl + jq:
#   normal (lodge → no control → release → presented/cleared at the border →
#   arrival → unloading remarks → write-off), control at departure (and
#   no release), incident (seals replaced; transhipment), discrepancies then
#   resolved, amendment, cancellation by the holder before release,
#   invalidation by customs after release, rejection (422, as `kervan
#   validate` prints it; office of another country), guarantee exhausted and
#   freed again, overdue, idempotent replay and LRN conflict, listing with
#   filters and pages, and the CLI's error lines (unreachable node, 401, 404,
#   409).
#
# usage: bash node-flows.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/node-lib.bash"
node_setup

mktoken TRADER trader --party "$HOLDER"
mktoken TRADER2 trader --party "$HOLDER2"
mktoken GUAR guarantor --party "$GUARANTOR"
mktoken OFF_DEP officer --office "$DEP"
mktoken OFF_BORDER officer --office "$BORDER"
mktoken OFF_DES officer --office "$DES"
mktoken OFF_ALT officer --office "$ALT_DES"
mktoken OFF_OTHER officer --office "$OTHER"
mktoken ANALYST analyst
node_start

SEALS=KZ0417731,KZ0417732 # the example declaration's seals

# as TOKEN cli ARGS... : a client command with that token
as() { local tok=$1; shift; KERVAN_TOKEN=$tok cli "$@"; }

# lodge VAR FILE : kervan declare as the trader; VAR = the MRN.
lodge() {
    local var=$1 file=$2
    WHAT="declare $file"
    as "$TRADER" declare "$file"
    cli_expect 0
    grep -q '^[0-9][0-9]KZ[0-9A-Z]\{12\}[A-Z][0-9] accepted$' "$CLI_OUT" \
        || fail "declare printed: $(cat "$CLI_OUT")"
    printf -v "$var" '%s' "$(cut -d' ' -f1 "$CLI_OUT")"
}

# ev TOKEN MRN TYPE ARGS... : kervan event, expected to succeed; STATE = new state.
ev() {
    local tok=$1 mrn=$2 type=$3; shift 3
    WHAT="event $mrn $type $*"
    as "$tok" event "$mrn" "$type" "$@"
    cli_expect 0
    grep -q "^$mrn: $type recorded as event [0-9]*; state " "$CLI_OUT" \
        || fail "event output: $(cat "$CLI_OUT")"
    STATE=$(sed -n '1s/.*; state \([a-z_]*\).*/\1/p' "$CLI_OUT")
}

# state_is MRN STATE [FLAGS-AS-JSON] : checks the movement through the API (as the analyst).
state_is() {
    WHAT="state of $1"
    api GET "/v1/movements/$1" "$ANALYST"
    expect 200 .state "$2"
    [ $# -ge 3 ] && { expect 200 '.flags | sort | tostring' "$3"; }
    return 0
}

# --- the guarantee --------------------------------------------------------------
WHAT="guarantee add"
as "$GUAR" guarantee add "$GRN" 1000000.00 USD
cli_expect 0
out_has "$GRN registered: 1000000.00 USD"
as "$GUAR" guarantee add "$GRN" 1000000.00 USD
cli_expect 0
out_has "(already registered: same figures)"
as "$GUAR" guarantee add "$GRN" 2000000.00 USD
cli_expect 1
err_has "kervan guarantee: conflict (409)"

# --- 1. the normal movement -----------------------------------------------------
decl "$T/n1.json" KZNORMAL0001
lodge M1 "$T/n1.json"
WHAT="replay"
as "$TRADER" declare "$T/n1.json"
cli_expect 0
out_has "$M1 accepted (already lodged: same declaration)"
api GET "/v1/movements/$M1" "$TRADER"
expect 200 .mrn "$M1" .lrn KZNORMAL0001 .state accepted .holder "$HOLDER" \
    .officeOfDeparture "$DEP" .officeOfDestination "$DES" '.events | length' 1 \
    '.events[0].type' lodged '.events[0].actor.role' node '.guarantees[0].grn' "$GRN" \
    '.guarantees[0].amount' 78450.00 '.guarantees[0].released' false .overdue false

ev "$OFF_DEP" "$M1" control_decision control=false reason="low risk"
[ "$STATE" = accepted ] || fail "no-control decision left $STATE"
ev "$OFF_DEP" "$M1" release control-result=A1 seals=$SEALS
[ "$STATE" = released ] || fail "release gave $STATE"
out_has "allowed next:"
ev "$OFF_BORDER" "$M1" presented --office "$BORDER" side=exit
ev "$OFF_BORDER" "$M1" cleared --office "$BORDER" side=exit
ev "$OFF_DES" "$M1" arrival
[ "$STATE" = arrived ] || fail "arrival gave $STATE"
ev "$OFF_DES" "$M1" unloading_remarks conform=true seals-intact=true
out_has "state arrived (unloaded)"
ev "$OFF_DEP" "$M1" write_off
[ "$STATE" = written_off ] || fail "write-off gave $STATE"
out_has "allowed next: nothing (final state)"

api GET "/v1/movements/$M1" "$ANALYST"
expect 200 .state written_off '[.events[].type] | join(",")' \
    lodged,control_decision,release,presented,cleared,arrival,unloading_remarks,write_off \
    '[.events[].seq] | join(",")' 1,2,3,4,5,6,7,8 \
    '[.events[].actor.id] | join(",")' "$COUNTRY,$DEP,$DEP,$BORDER,$BORDER,$DES,$DES,$DEP" \
    '.events[2].controlResult' A1 '.events[2].seals | join(",")' "$SEALS" \
    '.guarantees[0].released' true '.allowedEvents | length' 0

WHAT="show $M1"
as "$TRADER" show "$M1"
cli_expect 0
out_has "movement     $M1"
out_has "state        written_off"
out_has "guarantee    $GRN  78450.00 USD  released"
out_has "events (8)"
grep -q "^3  *[0-9T:Z+-]*  *$DEP release  *officer $DEP  *controlResult=A1 seals=$SEALS$" "$CLI_OUT" \
    || fail "show: no release row: $(cat "$CLI_OUT")"
grep -q "^4  *[0-9T:Z+-]*  *$BORDER presented  *officer $BORDER  *side=exit$" "$CLI_OUT" \
    || fail "show: no presented row: $(cat "$CLI_OUT")"
as "$TRADER" show --json "$M1"
cli_expect 0
[ "$(jq -r .declaration.lrn "$CLI_OUT")" = KZNORMAL0001 ] || fail "show --json: no declaration"
ok

WHAT="guarantee show"
as "$GUAR" guarantee show "$GRN"
cli_expect 0
out_has "reference    1000000.00 USD"
out_has "reserved     0.00 USD"
out_has "uses         0 active, 1 in all"

# --- 2. control at departure, then release; control then no release ------------
decl "$T/c1.json" KZCONTROL001
lodge M2 "$T/c1.json"
ev "$OFF_DEP" "$M2" control_decision control=true reason="risk profile: value-to-mass outlier"
[ "$STATE" = under_control ] || fail "control gave $STATE"
ev "$OFF_DEP" "$M2" release control-result=A2 seals=KZ0417732,KZ0417731 # any order
[ "$STATE" = released ] || fail "release after control gave $STATE"
state_is "$M2" released '[]'

# an event from a file (the type in it), and a member given as raw JSON
printf '{"type":"presented","office":"%s","side":"exit","time":"%s"}\n' "$BORDER" "$(now_utc)" >"$T/ev-file.json"
WHAT="event --file"
as "$OFF_BORDER" event "$M2" --file "$T/ev-file.json"
cli_expect 0
out_has "$M2: presented recorded as event 4; state released"
as "$OFF_BORDER" event --json "$M2" cleared --office "$BORDER" 'side:="exit"'
cli_expect 0
[ "$(jq -r '.event.side + " " + .event.type + " " + (.seq | tostring)' "$CLI_OUT")" = "exit cleared 5" ] \
    || fail "event --json: $(cat "$CLI_OUT")"
ok

decl "$T/c2.json" KZCONTROL002
lodge M3 "$T/c2.json"
ev "$OFF_DEP" "$M3" control_decision control=true
ev "$OFF_DEP" "$M3" no_release reason="12 cartons found instead of the 40 declared"
[ "$STATE" = not_released ] || fail "no_release gave $STATE"
out_has "allowed next: nothing (final state)"

# release with the wrong seals: refused (409), every missing and extra seal named
WHAT="release with other seals"
as "$OFF_DEP" event "$M2" release control-result=A1 seals=KZ0417731,XX1 # M2 is released: 409 anyway
cli_expect 1
decl "$T/c3.json" KZCONTROL003
lodge M4 "$T/c3.json"
as "$OFF_DEP" event "$M4" release control-result=A1 seals=KZ0417731,XX1
cli_expect 1
err_has "kervan event: conflict (409)"
grep -q '^/seals.*: R-MOV-004: ' "$CLI_OUT" || fail "no R-MOV-004 line: $(cat "$CLI_OUT")"
grep -q 'KZ0417732' "$CLI_OUT" || fail "the missing seal is not named"
grep -q 'XX1' "$CLI_OUT" || fail "the undeclared seal is not named"
ok

# --- 3. incident (seals replaced), transhipment ----------------------------------
decl "$T/i1.json" KZINCIDENT01
lodge M5 "$T/i1.json"
ev "$OFF_DEP" "$M5" release control-result=A1 seals=$SEALS
ev "$OFF_BORDER" "$M5" incident --office "$BORDER" code=2 text="seal KZ0417732 found cut" \
    place=Saryagash latitude=41.45000 longitude=69.16667 seals-state=replaced newSeals=KZ0999001
out_has "state released (incident)"
ev "$OFF_BORDER" "$M5" incident --office "$BORDER" code=3 text="axle broken; goods moved" \
    place=Saryagash seals-state=replaced new-seals=KZ0999002 transhipment.means-id=KZ-777-ABC \
    transhipment.nationality=KZ
api GET "/v1/movements/$M5" "$ANALYST"
expect 200 '.flags | index("incident") != null' true '.events[2].newSeals[0]' KZ0999001 \
    '.events[2].latitude' 41.45000 '.events[3].transhipment.meansId' KZ-777-ABC
ev "$OFF_DES" "$M5" arrival
ev "$OFF_DES" "$M5" unloading_remarks conform=true seals-intact=true
ev "$OFF_DEP" "$M5" write_off
state_is "$M5" written_off '["incident","unloaded"]'

# --- 4. discrepancies, then resolved ----------------------------------------------
decl "$T/d1.json" KZDISCREP001
lodge M6 "$T/d1.json"
ev "$OFF_DEP" "$M6" release control-result=A1 seals=$SEALS
ev "$OFF_DES" "$M6" arrival
ev "$OFF_DES" "$M6" unloading_remarks conform=false seals-intact=true \
    discrepancies="2 cartons of item 3 missing"
[ "$STATE" = discrepancies ] || fail "non-conform remarks gave $STATE"
WHAT="write-off with discrepancies"
as "$OFF_DEP" event "$M6" write_off
cli_expect 1
err_has "kervan event: conflict (409)"
err_has "discrepancies"
ev "$OFF_DES" "$M6" discrepancies_resolved text="the 2 cartons were found at the depot"
out_has "state arrived (unloaded)"
ev "$OFF_DEP" "$M6" write_off
state_is "$M6" written_off

# --- 4b. an undeclared border office, and a diversion ------------------------------
# offices the movement does not name cannot see it, but may record what is in
# front of them: a border passage at their own office, an arrival at an
# office of destination (a diversion); from then on they see it
decl "$T/v1.json" KZDIVERT0001
lodge MV "$T/v1.json"
WHAT="an unseen movement"
as "$OFF_OTHER" show "$MV"
cli_expect 1
err_has "not found (404)"
ev "$OFF_DEP" "$MV" release control-result=A1 seals=$SEALS
ev "$OFF_OTHER" "$MV" presented --office "$OTHER" side=exit
as "$OFF_OTHER" show "$MV"
cli_expect 0
ev "$OFF_ALT" "$MV" arrival --office "$ALT_DES"
out_has "state arrived (diversion)"
ev "$OFF_ALT" "$MV" unloading_remarks conform=true seals-intact=true # defaults to where it arrived
api GET "/v1/movements/$MV" "$ANALYST"
expect 200 '.events[3].office' "$ALT_DES" '.events[3].diversion' true \
    '.events[4].office' "$ALT_DES" '.flags | sort | tostring' '["diversion","unloaded"]'
WHAT="remarks from the declared destination after a diversion"
decl "$T/v2.json" KZDIVERT0002
lodge MV2 "$T/v2.json"
ev "$OFF_DEP" "$MV2" release control-result=A1 seals=$SEALS
ev "$OFF_ALT" "$MV2" arrival --office "$ALT_DES"
as "$OFF_DES" event "$MV2" unloading_remarks --office "$DES" conform=true seals-intact=true
cli_expect 1
cat "$CLI_OUT" "$CLI_ERR" | grep -q 'R-MOV-009' || fail "no R-MOV-009: $(cat "$CLI_OUT") $(cat "$CLI_ERR")"
ok

# --- 5. amendment, then cancellation by the holder before release ------------------
decl "$T/a1.json" KZCANCEL0001
lodge M7 "$T/a1.json"
decl "$T/a1b.json" KZCANCEL0001 '.consignment.grossMass = 23500.5'
ev "$TRADER" "$M7" amendment declaration=@"$T/a1b.json"
[ "$STATE" = accepted ] || fail "amendment gave $STATE"
api GET "/v1/movements/$M7" "$TRADER"
expect 200 '.declaration.consignment.grossMass' 23500.5 '.events[1].actor.role' trader
ev "$TRADER" "$M7" cancellation initiated-by=holder reason="order cancelled by the consignee"
[ "$STATE" = cancelled ] || fail "holder cancellation gave $STATE"
api GET "/v1/movements/$M7" "$TRADER"
expect 200 '.guarantees[0].released' true '.events[2].initiatedBy' holder \
    '.events[2].actor.id' "$HOLDER"

# --- 6. invalidation by customs after release ---------------------------------------
decl "$T/x1.json" KZINVALID001
lodge M8 "$T/x1.json"
ev "$OFF_DEP" "$M8" release control-result=A1 seals=$SEALS
WHAT="holder cancellation after release"
as "$TRADER" event "$M8" cancellation initiated-by=holder reason="too late"
cli_expect 1
err_has "conflict (409)"
ev "$OFF_DEP" "$M8" cancellation initiated-by=customs reason="declaration lodged in error"
[ "$STATE" = cancelled ] || fail "customs invalidation gave $STATE"
state_is "$M8" cancelled

# --- 7. rejection: every problem, as `kervan validate` prints it --------------------
decl "$T/bad.json" KZBAD0000001 '.officeOfDeparture = "KZ99999" | .consignment.grossMass = -1'
"$KERVAN" validate "$T/bad.json" >"$T/validate.out" 2>/dev/null
WHAT="declare an invalid declaration"
as "$TRADER" declare "$T/bad.json"
cli_expect 1
err_has "kervan declare: rejected (422)"
err_has "$T/bad.json: rejected by the node"
[ -s "$T/validate.out" ] || fail "kervan validate printed no problem"
diff "$T/validate.out" "$CLI_OUT" >"$T/diff" || fail "declare and validate disagree: $(cat "$T/diff")"
ok
api POST /v1/declarations "$TRADER" "$T/bad.json"
expect_error 422 invalid_declaration
expect_problem R-OFF-001 /officeOfDeparture
# a well-formed declaration whose office of departure is of another country
jq '.lrn = "KZOTHERCTRY1" | .officeOfDeparture = "TR343100" | .officeOfDestination = "KZ470100"
    | .officesOfTransit = [] | .officesOfExitForTransit = [] | .consignment.countryOfDispatch = "TR"
    | .consignment.countryOfDestination = "KZ" | .consignment.countriesOfRouting = ["TR","GE","AZ","KZ"]' \
    "$SRC/examples/declaration.json" >"$T/tr.json"
as "$TRADER" declare "$T/tr.json"
cli_expect 1
grep -q '^/officeOfDeparture: R-NODE-001: ' "$CLI_OUT" || fail "no R-NODE-001: $(cat "$CLI_OUT")"
ok

# --- 8. guarantee exhausted, and freed again ------------------------------------------
GRN2=25KZ050100ALA0021
as "$GUAR" guarantee add "$GRN2" 100000.00 USD
cli_expect 0
decl "$T/g1.json" KZGUARANT001 ".guarantees[0].references[0].grn = \"$GRN2\""
decl "$T/g2.json" KZGUARANT002 ".guarantees[0].references[0].grn = \"$GRN2\""
decl "$T/g3.json" KZGUARANT003 ".guarantees[0].references[0].grn = \"$GRN2\""
lodge G1 "$T/g1.json"
WHAT="declare over the guarantee"
as "$TRADER" declare "$T/g2.json"
cli_expect 1
err_has "rejected (422)"
grep -q "R-GUA-103: .*$GRN2.*remaining 21550.00 USD.*78450.00 USD" "$CLI_OUT" \
    || fail "no figures in the refusal: $(cat "$CLI_OUT")"
ok
api POST /v1/declarations "$TRADER" "$T/g2.json"
expect_error 422 guarantee_insufficient
expect_problem R-GUA-103
decl "$T/g4.json" KZGUARANT004 '.guarantees[0].references[0].grn = "25KZ050100ALA0030"'
api POST /v1/declarations "$TRADER" "$T/g4.json"
expect_error 422 guarantee_insufficient
expect_problem R-GUA-101
decl "$T/g5.json" KZGUARANT005 ".guarantees[0].references[0].grn = \"$GRN2\" | .guarantees[0].references[0].currency = \"EUR\""
api POST /v1/declarations "$TRADER" "$T/g5.json"
expect_error 422 guarantee_insufficient
expect_problem R-GUA-102
as "$GUAR" guarantee show "$GRN2"
cli_expect 0
out_has "reserved     78450.00 USD"
out_has "remaining    21550.00 USD"
ev "$TRADER" "$G1" cancellation initiated-by=holder reason="freeing the guarantee"
lodge G3 "$T/g3.json" # now it fits

# --- 9. overdue -----------------------------------------------------------------------
decl "$T/o1.json" KZOVERDUE001 '.limitDate = "2025-04-22"'
lodge MO "$T/o1.json"
api GET "/v1/movements/$MO" "$ANALYST"
expect 200 .overdue false # not released yet
ev "$OFF_DEP" "$MO" release control-result=A1 seals=$SEALS
api GET "/v1/movements/$MO" "$ANALYST"
expect 200 .overdue true '.flags | index("enquiry") != null' true .limitDate 2025-04-22
WHAT="show overdue"
as "$OFF_DEP" show "$MO"
cli_expect 0
out_has "overdue      yes"
out_has "enquiry"
WHAT="list --overdue"
as "$ANALYST" list --overdue
cli_expect 0
grep -q "^$MO " "$CLI_OUT" || fail "the overdue movement is not listed: $(cat "$CLI_OUT")"
grep -q "^$M2 " "$CLI_OUT" && fail "a movement within its limit date is listed as overdue"
[ "$(grep -c '^[0-9][0-9]KZ' "$CLI_OUT")" = 1 ] || fail "list --overdue: $(cat "$CLI_OUT")"
ok

# --- 10. idempotent replay and LRN conflict ---------------------------------------------
api POST /v1/declarations "$TRADER" "$T/n1.json"
expect 200 .mrn "$M1"
decl "$T/n1b.json" KZNORMAL0001 '.consignment.grossMass = 23000.5'
WHAT="LRN reused"
as "$TRADER" declare "$T/n1b.json"
cli_expect 1
err_has "kervan declare: conflict (409)"
err_has "$M1"
api POST /v1/declarations "$TRADER" "$T/n1b.json"
expect_error 409 lrn_conflict

# --- 11. listing ---------------------------------------------------------------------------
api GET '/v1/movements?limit=500' "$ANALYST"
expect 200 .next null
TOTAL=$(jq '.items | length' "$LAST_BODY")
[ "$TOTAL" -ge 13 ] || fail "only $TOTAL movements listed"
WHAT="list --all --limit 2"
as "$ANALYST" list --all --limit 2 --json
cli_expect 0
[ "$(jq '.items | length' "$CLI_OUT")" = "$TOTAL" ] || fail "--all gave $(jq '.items | length' "$CLI_OUT") of $TOTAL"
[ "$(jq '[.items[].mrn] | unique | length' "$CLI_OUT")" = "$TOTAL" ] || fail "--all repeated a movement"
ok
as "$ANALYST" list --limit 2
cli_expect 0
err_has "(more: --all, or --cursor "
[ "$(grep -c '^[0-9][0-9]KZ' "$CLI_OUT")" = 2 ] || fail "list --limit 2: $(cat "$CLI_OUT")"
ok
as "$ANALYST" list --state written_off
cli_expect 0
[ "$(grep -c ' written_off ' "$CLI_OUT")" = 3 ] || fail "list --state written_off: $(cat "$CLI_OUT")"
grep -q "^$M1 " "$CLI_OUT" || fail "M1 not in written_off"
ok
as "$ANALYST" list --state cancelled --holder "$HOLDER" --json
cli_expect 0
[ "$(jq '.items | length' "$CLI_OUT")" = 3 ] || fail "cancelled: $(jq -c '[.items[].mrn]' "$CLI_OUT")"
ok
as "$ANALYST" list --since 2999-01-01T00:00:00Z
cli_expect 0
err_has "0 movements"
as "$ANALYST" list --since yesterday
cli_expect 1
err_has "bad request (400)"
as "$TRADER2" list --json # another trader sees none of them
cli_expect 0
[ "$(jq '.items | length' "$CLI_OUT")" = 0 ] || fail "trader 2 sees $(jq -c '[.items[].mrn]' "$CLI_OUT")"
ok
as "$OFF_BORDER" list --json # the border office: movements that declare it
cli_expect 0
[ "$(jq '.items | length' "$CLI_OUT")" = "$TOTAL" ] || fail "border officer sees $(jq '.items | length' "$CLI_OUT") of $TOTAL"
ok

# --- 12. the client's error lines ------------------------------------------------------------
WHAT="unknown MRN"
as "$TRADER" show 25KZ00000000LFLRK4
cli_expect 1
err_has "kervan show: not found (404)"
err_has "25KZ00000000LFLRK4 does not exist, or this token may not see it"
WHAT="another trader's movement"
as "$TRADER2" show "$M1"
cli_expect 1
err_has "kervan show: not found (404)"
WHAT="bad MRN"
as "$TRADER" show 25KZ00000000LFLRK5
cli_expect 1
err_has "kervan show: bad request (400)"
WHAT="no token"
KERVAN_TOKEN= cli show "$M1"
cli_expect 2
err_has "kervan show: not authenticated: give a valid token"
WHAT="forbidden"
as "$ANALYST" event "$M2" presented --office "$BORDER" side=exit
cli_expect 1
err_has "kervan event: forbidden: this token's role may not do this (403)"
WHAT="unreachable"
KERVAN_NODE=http://127.0.0.1:1 KERVAN_TOKEN=$TRADER "$KERVAN" show "$M1" >"$T/u.out" 2>"$T/u.err"
[ $? = 2 ] || fail "unreachable node: exit status not 2"
grep -q '^kervan show: cannot reach node at http://127.0.0.1:1: Connection refused$' "$T/u.err" \
    || fail "unreachable node: $(cat "$T/u.err")"
ok
WHAT="--token-file"
printf '%s\n' "$TRADER" >"$T/token"
KERVAN_NODE=$URL "$KERVAN" show --token-file "$T/token" "$M1" >"$T/tf.out" 2>&1 \
    || fail "--token-file: $(cat "$T/tf.out")"
ok
WHAT="unknown event member"
as "$OFF_DEP" event "$M4" release control-reslt=A1
cli_expect 2
err_has "release has no member 'controlReslt' (controlResult, seals)"

node_stop
WHAT="store check"
"$KERVAN" store check --data "$DATA" >"$T/check.out" 2>&1 || fail "store check: $(cat "$T/check.out")"
grep -qx "$DATA: ok" "$T/check.out" || fail "store check printed: $(cat "$T/check.out")"
ok
echo "node-flows: $CHECKS checks passed"
