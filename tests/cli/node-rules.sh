#!/usr/bin/env bash
# node-rules.sh — what a real `kervan serve` refuses, through its API:
#  1. every forbidden transition: in each of the 9 states a movement can be
#     in, every event form the transition table refuses, posted by an actor
#     the role policy allows → 409 not_allowed, rule R-MOV-001, the message
#     naming the state; the movement is unchanged afterwards;
#  2. every role boundary: each of the 15 event forms, on a movement where
#     the table allows it, posted by each of the 8 actors the policy refuses
#     → 403 (may see the movement) or 404 (may not: the same answer as for a
#     movement that does not exist); reads, lists, lodging, guarantees and
#     tokens by every role.
#
# usage: bash node-rules.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/node-lib.bash"
node_setup

mktoken TRADER trader --party "$HOLDER"
mktoken TRADER2 trader --party "$HOLDER2"
mktoken GUAR guarantor --party "$GUARANTOR"
mktoken GUAR2 guarantor --party 990340002222
mktoken OFF_DEP officer --office "$DEP"
mktoken OFF_BORDER officer --office "$BORDER"
mktoken OFF_DES officer --office "$DES"
mktoken OFF_OTHER officer --office "$OTHER"
mktoken ANALYST analyst
mktoken OPERATOR operator
node_start

api POST /v1/guarantees "$GUAR" -d "{\"grn\":\"$GRN\",\"referenceAmount\":\"100000000.00\",\"currency\":\"USD\"}"
expect 201

N=0
# fixture VAR : lodges a fresh declaration; VAR = MRN, VAR_FILE = its file.
fixture() {
    N=$((N + 1))
    local lrn
    lrn=$(printf 'KZRULES%05d' "$N")
    decl "$T/$1.json" "$lrn"
    api POST /v1/declarations "$TRADER" "$T/$1.json"
    WHAT="lodge $1" expect 201 .state accepted
    printf -v "$1" '%s' "$(jq -r .mrn "$LAST_BODY")"
    printf -v "$1_FILE" '%s' "$T/$1.json"
}

# body FORM DECL-FILE : the event JSON of one event form (on stdout).
body() {
    local now
    now=$(now_utc)
    case $1 in
    control_true) jq -nc --arg t "$now" --arg o "$DEP" '{type:"control_decision",time:$t,office:$o,control:true}' ;;
    control_false) jq -nc --arg t "$now" --arg o "$DEP" '{type:"control_decision",time:$t,office:$o,control:false}' ;;
    release) jq -nc --arg t "$now" --arg o "$DEP" '{type:"release",time:$t,office:$o,controlResult:"A1",seals:["KZ0417731","KZ0417732"]}' ;;
    no_release) jq -nc --arg t "$now" --arg o "$DEP" '{type:"no_release",time:$t,office:$o,reason:"refused"}' ;;
    amendment) jq -c --arg t "$now" --arg o "$DEP" '{type:"amendment",time:$t,office:$o,declaration:.}' "$2" ;;
    cancel_holder) jq -nc --arg t "$now" --arg o "$DEP" '{type:"cancellation",time:$t,office:$o,initiatedBy:"holder",reason:"r"}' ;;
    cancel_customs) jq -nc --arg t "$now" --arg o "$DEP" '{type:"cancellation",time:$t,office:$o,initiatedBy:"customs",reason:"r"}' ;;
    presented) jq -nc --arg t "$now" --arg o "$BORDER" '{type:"presented",time:$t,office:$o,side:"exit"}' ;;
    cleared) jq -nc --arg t "$now" --arg o "$BORDER" '{type:"cleared",time:$t,office:$o,side:"exit"}' ;;
    incident) jq -nc --arg t "$now" --arg o "$BORDER" '{type:"incident",time:$t,office:$o,code:"5",text:"t",place:"p",sealsState:"intact"}' ;;
    arrival) jq -nc --arg t "$now" --arg o "$DES" '{type:"arrival",time:$t,office:$o}' ;;
    unloading_conform) jq -nc --arg t "$now" --arg o "$DES" '{type:"unloading_remarks",time:$t,office:$o,conform:true,sealsIntact:true}' ;;
    unloading_notconform) jq -nc --arg t "$now" --arg o "$DES" '{type:"unloading_remarks",time:$t,office:$o,conform:false,sealsIntact:true,discrepancies:"d"}' ;;
    resolved) jq -nc --arg t "$now" --arg o "$DES" '{type:"discrepancies_resolved",time:$t,office:$o,text:"found"}' ;;
    write_off) jq -nc --arg t "$now" --arg o "$DEP" '{type:"write_off",time:$t,office:$o}' ;;
    esac
}
FORMS="control_true control_false release no_release amendment cancel_holder cancel_customs
       presented cleared incident arrival unloading_conform unloading_notconform resolved write_off"

# actor FORM : the token the role policy allows for the form (printed).
actor() {
    case $1 in
    amendment | cancel_holder) echo "$TRADER" ;;
    presented | cleared | incident) echo "$OFF_BORDER" ;;
    arrival | unloading_* | resolved) echo "$OFF_DES" ;;
    *) echo "$OFF_DEP" ;;
    esac
}

# step MRN FORM [DECL-FILE] : posts an allowed event; expects 201.
step() {
    body "$2" "${3:-}" >"$T/ev.json"
    api POST "/v1/movements/$1/events" "$(actor "$2")" "$T/ev.json"
    WHAT="step $2 on $1" expect 201
}

# --- the nine states ------------------------------------------------------------------
fixture S_ACCEPTED
fixture S_CONTROL;      step "$S_CONTROL" control_true
fixture S_NOTREL;       step "$S_NOTREL" no_release
fixture S_RELEASED;     step "$S_RELEASED" release
fixture S_ARRIVED;      step "$S_ARRIVED" release; step "$S_ARRIVED" arrival
fixture S_UNLOADED;     step "$S_UNLOADED" release; step "$S_UNLOADED" arrival; step "$S_UNLOADED" unloading_conform
fixture S_DISCREP;      step "$S_DISCREP" release; step "$S_DISCREP" arrival; step "$S_DISCREP" unloading_notconform
fixture S_WRITTEN;      step "$S_WRITTEN" release; step "$S_WRITTEN" arrival; step "$S_WRITTEN" unloading_conform; step "$S_WRITTEN" write_off
fixture S_CANCELLED;    step "$S_CANCELLED" cancel_holder

# state name as the API gives it, and the forms the table allows there
declare -A STATE_NAME=(
    [S_ACCEPTED]=accepted [S_CONTROL]=under_control [S_NOTREL]=not_released
    [S_RELEASED]=released [S_ARRIVED]=arrived [S_UNLOADED]=arrived [S_DISCREP]=discrepancies
    [S_WRITTEN]=written_off [S_CANCELLED]=cancelled)
declare -A ALLOWED=(
    [S_ACCEPTED]="control_true control_false release no_release amendment cancel_holder cancel_customs"
    [S_CONTROL]="release no_release cancel_customs"
    [S_NOTREL]=""
    [S_RELEASED]="cancel_customs presented cleared incident arrival"
    [S_ARRIVED]="cancel_customs unloading_conform unloading_notconform"
    [S_UNLOADED]="cancel_customs write_off"
    [S_DISCREP]="cancel_customs resolved"
    [S_WRITTEN]=""
    [S_CANCELLED]="")

# --- 1. every forbidden transition → 409 ------------------------------------------------------
N409=0
for S in S_ACCEPTED S_CONTROL S_NOTREL S_RELEASED S_ARRIVED S_UNLOADED S_DISCREP S_WRITTEN S_CANCELLED; do
    MRN=${!S}
    FILE_VAR=${S}_FILE
    api GET "/v1/movements/$MRN" "$ANALYST"
    WHAT="read $S" expect 200 .state "${STATE_NAME[$S]}"
    SEQ_BEFORE=$(jq '.events | length' "$LAST_BODY")
    # one jq run per answer: status, code, rule, the state named, each allowed event listed
    CHECKS409=('.error.status' 409 '.error.code' not_allowed
        '[.error.problems[] | select(.rule == "R-MOV-001" and .pointer == "/type")] | length > 0' true
        ".error.message | contains(\"in state \\\"${STATE_NAME[$S]}\\\"\")" true)
    for A in ${ALLOWED[$S]}; do
        case $A in control_*) A=control_decision ;; cancel_*) A=cancellation ;;
            unloading_*) A=unloading_remarks ;; resolved) A=discrepancies_resolved ;; esac
        CHECKS409+=(".error.message | split(\"allowed: \")[1] | contains(\"$A\")" true)
    done
    for F in $FORMS; do
        case " ${ALLOWED[$S]} " in *" $F "*) continue ;; esac
        body "$F" "${!FILE_VAR}" >"$T/ev.json"
        api POST "/v1/movements/$MRN/events" "$(actor "$F")" "$T/ev.json"
        WHAT="$F in ${STATE_NAME[$S]} ($S)" expect 409 "${CHECKS409[@]}"
        N409=$((N409 + 1))
    done
    api GET "/v1/movements/$MRN" "$ANALYST"
    WHAT="after refusals $S" expect 200 .state "${STATE_NAME[$S]}" '.events | length' "$SEQ_BEFORE"
done
[ "$N409" = 113 ] || fail "$N409 forbidden transitions tried, expected 113"

# --- 2. every role boundary on events ---------------------------------------------------------
# where each form is allowed by the table
declare -A WHERE=(
    [control_true]=S_ACCEPTED [control_false]=S_ACCEPTED [release]=S_ACCEPTED
    [no_release]=S_ACCEPTED [amendment]=S_ACCEPTED [cancel_holder]=S_ACCEPTED
    [cancel_customs]=S_ACCEPTED [presented]=S_RELEASED [cleared]=S_RELEASED
    [incident]=S_RELEASED [arrival]=S_RELEASED [unloading_conform]=S_ARRIVED
    [unloading_notconform]=S_ARRIVED [resolved]=S_DISCREP [write_off]=S_UNLOADED)
ACTORS="TRADER TRADER2 GUAR OFF_DEP OFF_BORDER OFF_DES OFF_OTHER ANALYST OPERATOR"

# the 404 of a movement that does not exist, MRN-neutral
api GET /v1/movements/25KZ00000000LFLRK4 "$TRADER"
WHAT="absent movement" expect_error 404 not_found
sed 's/25KZ00000000LFLRK4/MRN/g' "$LAST_BODY" >"$T/absent.json"
api POST /v1/movements/25KZ00000000LFLRK4/events "$OFF_DEP" -d "$(body write_off)"
WHAT="event on absent movement" expect_error 404 not_found
sed 's/25KZ00000000LFLRK4/MRN/g' "$LAST_BODY" >"$T/absent-ev.json"

N403=0 N404=0
for F in $FORMS; do
    S=${WHERE[$F]}
    MRN=${!S}
    FILE_VAR=${S}_FILE
    body "$F" "${!FILE_VAR}" >"$T/ev.json"
    OK_TOKEN=$(actor "$F")
    for A in $ACTORS; do
        TOKEN=${!A}
        [ "$TOKEN" = "$OK_TOKEN" ] && continue
        api POST "/v1/movements/$MRN/events" "$TOKEN" "$T/ev.json"
        WHAT="$F by $A"
        case $A in
        TRADER2 | OFF_OTHER)
            expect_error 404 not_found
            sed "s/$MRN/MRN/g" "$LAST_BODY" | cmp -s - "$T/absent-ev.json" \
                || fail "404 differs from an absent movement's: $(cat "$LAST_BODY") vs $(cat "$T/absent-ev.json")"
            N404=$((N404 + 1)) ;;
        *)
            expect 403 .error.code forbidden '[.error.problems[].rule] | index("R-ROLE-001") != null' true
            N403=$((N403 + 1)) ;;
        esac
    done
done
[ $((N403 + N404)) = 120 ] || fail "$((N403 + N404)) role refusals tried, expected 120"

# a role that never acts is refused before the movement is read: the same
# 403 whether or not the movement exists (nothing leaks)
for A in GUAR ANALYST OPERATOR; do
    api POST "/v1/movements/$S_ACCEPTED/events" "${!A}" -d "$(body write_off)"
    sed "s/$S_ACCEPTED/MRN/g" "$LAST_BODY" >"$T/seen.json"
    api POST /v1/movements/25KZ00000000LFLRK4/events "${!A}" -d "$(body write_off)"
    WHAT="event by $A on an absent movement" expect_error 403 forbidden
    sed 's/25KZ00000000LFLRK4/MRN/g' "$LAST_BODY" | cmp -s - "$T/seen.json" \
        || fail "$A: the 403 differs for an absent movement"
done

# an officer acts only for its own office: a border event at another office
api POST "/v1/movements/$S_RELEASED/events" "$OFF_DES" -d "$(body presented)"
WHAT="presented at $BORDER by the officer of $DES" expect_error 403 forbidden
# ... and at its own office it is fine (any office records border events)
jq -c --arg o "$DES" '.office = $o' <<<"$(body presented)" >"$T/ev.json"
api POST "/v1/movements/$S_RELEASED/events" "$OFF_DES" "$T/ev.json"
WHAT="presented at $DES by its officer" expect 201 '.event.actor.id' "$DES"

# --- 3. reads by role ---------------------------------------------------------------------------
for A in TRADER OFF_DEP OFF_BORDER OFF_DES ANALYST OPERATOR; do
    api GET "/v1/movements/$S_RELEASED" "${!A}"
    WHAT="read by $A" expect 200 .mrn "$S_RELEASED"
done
for A in TRADER2 OFF_OTHER GUAR; do
    api GET "/v1/movements/$S_RELEASED" "${!A}"
    WHAT="read by $A" expect_error 404 not_found
    sed "s/$S_RELEASED/MRN/g" "$LAST_BODY" | cmp -s - "$T/absent.json" \
        || fail "404 for $A differs from an absent movement's"
done
NALL=$N
for A in TRADER ANALYST OPERATOR OFF_DEP OFF_DES; do
    api GET '/v1/movements?limit=500' "${!A}"
    WHAT="list by $A" expect 200 '.items | length' "$NALL"
done
for A in TRADER2 OFF_OTHER; do
    api GET '/v1/movements?limit=500' "${!A}"
    WHAT="list by $A" expect 200 '.items | length' 0
done
api GET "/v1/movements?holder=$HOLDER" "$TRADER2" # a conflicting filter: empty, not an error
WHAT="trader 2 filtering on trader 1" expect 200 '.items | length' 0
api GET '/v1/movements' "$GUAR"
WHAT="list by a guarantor" expect_error 403 forbidden

# --- 4. lodging by role ---------------------------------------------------------------------------
decl "$T/r1.json" KZROLES00001
for A in OFF_DEP ANALYST OPERATOR GUAR; do
    api POST /v1/declarations "${!A}" "$T/r1.json"
    WHAT="lodge by $A" expect_error 403 forbidden
done
api POST /v1/declarations "$TRADER2" "$T/r1.json" # holder is not trader 2's party
WHAT="lodge for another holder" expect_error 403 forbidden
expect_problem R-ROLE-002

# --- 5. guarantees by role --------------------------------------------------------------------------
G='{"grn":"25KZ050100ALA0040","referenceAmount":"5000.00","currency":"EUR"}'
for A in TRADER OFF_DEP ANALYST OPERATOR; do
    api POST /v1/guarantees "${!A}" -d "$G"
    WHAT="guarantee by $A" expect_error 403 forbidden
done
api POST /v1/guarantees "$GUAR2" -d "$G"
WHAT="guarantee by guarantor 2" expect 201
for A in GUAR2 ANALYST OPERATOR; do
    api GET /v1/guarantees/25KZ050100ALA0040 "${!A}"
    WHAT="guarantee read by $A" expect 200 .grn 25KZ050100ALA0040 .referenceAmount 5000.00 .currency EUR
done
for A in GUAR TRADER OFF_DEP; do
    api GET /v1/guarantees/25KZ050100ALA0040 "${!A}"
    WHAT="guarantee read by $A" expect_error 404 not_found
done
api POST /v1/guarantees "$GUAR" -d "$G" # another guarantor's GRN
WHAT="guarantee of guarantor 2 re-registered by guarantor 1" expect_error 409 guarantee_conflict

# --- 6. tokens by role ---------------------------------------------------------------------------------
for A in TRADER OFF_DEP ANALYST GUAR; do
    api POST /v1/tokens "${!A}" -d '{"role":"analyst","label":"x"}'
    WHAT="token by $A" expect_error 403 forbidden
done
api POST /v1/tokens "$OPERATOR" -d "{\"role\":\"officer\",\"office\":\"$OTHER\",\"label\":\"api-made\"}"
WHAT="token by the operator" expect 201 .role officer
NEW=$(jq -r .token "$LAST_BODY")
[[ $NEW =~ ^kv_[A-Za-z0-9_-]{43}$ ]] || fail "token shape: $NEW"
api GET '/v1/movements' "$NEW"
WHAT="the new token works" expect 200 '.items | length' 0
api POST /v1/tokens "$OPERATOR" -d '{"role":"officer","office":"TR343100","label":"foreign"}'
WHAT="officer token for another country's office" expect 422

node_stop
"$KERVAN" store check --data "$DATA" >/dev/null || fail "store check"
echo "node-rules: $CHECKS checks passed ($N409 forbidden transitions, $N403 × 403, $N404 × 404)"
