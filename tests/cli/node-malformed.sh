#!/usr/bin/env bash
# node-malformed.sh — malformed and hostile requests to a real `kervan
# serve`, each checked on its status and its error body (the standard
# {"error":{"status","code","message","problems"}}), and the node still
# serving after every one: bad JSON, empty and huge bodies, deep nesting,
# invalid UTF-8, wrong types, unknown and duplicate members, bad MRNs, GRNs,
# amounts and query parameters, wrong content types, missing and bad tokens,
# unknown routes and methods, oversized headers.
#
# usage: bash node-malformed.sh KERVAN_BINARY SOURCE_DIR SHARED_DATA_DIR
KERVAN=$1
SRC=$2
. "$SRC/tests/cli/node-lib.bash"
node_setup

mktoken TRADER trader --party "$HOLDER"
mktoken OFF_DEP officer --office "$DEP"
mktoken GUAR guarantor --party "$GUARANTOR"
mktoken OPERATOR operator
node_start --max-body 1MiB

NCASES=0
# case_ NAME STATUS CODE [RULE [POINTER]] : checks the last answer, then that
# the node still answers /healthz.
case_() {
    WHAT=$1
    expect_error "$2" "$3"
    [ $# -ge 4 ] && { if [ $# -ge 5 ]; then expect_problem "$4" "$5"; else expect_problem "$4"; fi; }
    local h
    h=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$URL/healthz")
    [ "$h" = 200 ] || fail "node not serving after '$1' (healthz $h)"
    NCASES=$((NCASES + 1))
}

api POST /v1/guarantees "$GUAR" -d "{\"grn\":\"$GRN\",\"referenceAmount\":\"1000000.00\",\"currency\":\"USD\"}"
WHAT="guarantee" expect 201
decl "$T/ok.json" KZMALFORM001
api POST /v1/declarations "$TRADER" "$T/ok.json"
WHAT="a good lodge" expect 201
MRN=$(jq -r .mrn "$LAST_BODY")
EV=/v1/movements/$MRN/events
NOW=$(now_utc)

# --- declarations -------------------------------------------------------------------
api POST /v1/declarations "$TRADER" -d '{"lrn": "X",'
case_ "truncated JSON" 422 invalid_declaration R-JSON-SYNTAX
api POST /v1/declarations "$TRADER" -d 'not json at all'
case_ "not JSON" 422 invalid_declaration R-JSON-SYNTAX
api POST /v1/declarations "$TRADER" -d ''
case_ "empty body" 422 invalid_declaration R-JSON-SYNTAX
api POST /v1/declarations "$TRADER" -d '[1,2,3]'
case_ "an array" 422 invalid_declaration R-JSON-TYPE
api POST /v1/declarations "$TRADER" -d 'null'
case_ "null" 422 invalid_declaration R-JSON-TYPE
jq '.lrn = 12345' "$T/ok.json" >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "LRN a number" 422 invalid_declaration R-JSON-TYPE /lrn
jq '.consignment.grossMass = "heavy"' "$T/ok.json" >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "gross mass a string" 422 invalid_declaration R-JSON-TYPE /consignment/grossMass
jq '.colour = "red"' "$T/ok.json" >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "unknown member" 422 invalid_declaration R-JSON-UNKNOWN /colour
jq '.holder = "180540001239"' "$T/ok.json" >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "holder not an object" 422 invalid_declaration R-JSON-TYPE /holder
jq -c . "$T/ok.json" | sed 's/^{/{"lrn":"DUP1",/' >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "duplicate member" 422 invalid_declaration R-JSON-DUP /lrn
printf '{"lrn":"\xff\xfe"}' >"$T/b.json"; api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "invalid UTF-8" 422 invalid_declaration R-JSON-SYNTAX
{ printf '%.0s[' $(seq 1 5000); printf '%.0s]' $(seq 1 5000); } >"$T/b.json"
api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "nesting 5000 deep" 422 invalid_declaration R-JSON-LIMIT
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/big.json"
api POST /v1/declarations "$TRADER" "$T/big.json"
case_ "2 MiB body (limit 1 MiB)" 413 payload_too_large
jq -c '.houseConsignments[0].items = [range(0; 2000) as $i | .houseConsignments[0].items[0]]' \
    "$T/ok.json" >"$T/b.json"
api POST /v1/declarations "$TRADER" "$T/b.json"
case_ "2000 goods items" 422 invalid_declaration R-CARD-001 /houseConsignments/0/items
CT=text/plain api POST /v1/declarations "$TRADER" "$T/ok.json"
case_ "text/plain" 415 unsupported_media_type
CT=application/xml api POST /v1/declarations "$TRADER" "$T/ok.json"
case_ "application/xml" 415 unsupported_media_type
CT= api POST /v1/declarations "$TRADER" "$T/ok.json"
case_ "no content type" 415 unsupported_media_type

# --- authentication --------------------------------------------------------------------
api POST /v1/declarations "" "$T/ok.json"
case_ "no token" 401 unauthorized
grep -qi '^www-authenticate: Bearer' < <(curl -s -D - -o /dev/null "$URL/v1/movements") \
    || fail "401 without WWW-Authenticate: Bearer"
api GET /v1/movements "kv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
case_ "unknown token" 401 unauthorized
api GET /v1/movements "" -H "Authorization: Bearer"
case_ "empty bearer" 401 unauthorized
api GET /v1/movements "" -H "Authorization: Basic dXNlcjpwYXNz"
case_ "basic auth" 401 unauthorized
api GET /v1/movements "" -H "Authorization: Bearer ${TRADER}x"
case_ "token with an extra character" 401 unauthorized

# --- MRNs in the path ------------------------------------------------------------------------
api GET /v1/movements/NOTANMRN "$TRADER"
case_ "MRN too short" 400 bad_mrn
api GET "/v1/movements/${MRN:0:17}X" "$TRADER"
case_ "MRN with a wrong check digit" 400 bad_mrn
api GET "/v1/movements/$(echo "$MRN" | tr 'A-Z' 'a-z')" "$TRADER"
case_ "MRN in lower case" 400 bad_mrn
api GET "/v1/movements/${MRN}0" "$TRADER"
case_ "MRN too long" 400 bad_mrn
api GET "/v1/movements/%00$MRN" "$TRADER"
case_ "NUL in the path" 400 bad_request
api POST "/v1/movements/NOTANMRN/events" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event on a bad MRN" 400 bad_mrn
api POST /v1/movements/25KZ00000000LFLRK4/events "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event on an unknown MRN" 404 not_found

# --- events ------------------------------------------------------------------------------------
api POST "$EV" "$OFF_DEP" -d '{"type":'
case_ "event: truncated JSON" 422 invalid_event R-EVT-001
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"teleport\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event: unknown type" 422 invalid_event R-EVT-010 /type
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\",\"colour\":\"red\"}"
case_ "event: unknown member" 422 invalid_event R-EVT-004 /colour
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"control_decision\",\"time\":\"$NOW\",\"office\":\"$DEP\",\"control\":\"yes\"}"
case_ "event: control a string" 422 invalid_event R-EVT-006 /control
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"release\",\"time\":\"$NOW\",\"office\":\"$DEP\",\"controlResult\":\"A1\",\"seals\":\"KZ0417731\"}"
case_ "event: seals not an array" 422 invalid_event R-EVT-006 /seals
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"control_decision\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event: missing member" 422 invalid_event R-EVT-005 /control
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\",\"actor\":{\"role\":\"officer\",\"id\":\"X\"}}"
case_ "event: actor given" 422 invalid_event R-EVT-017 /actor
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"lodged\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event: lodged posted" 422 invalid_event R-EVT-017
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"yesterday\",\"office\":\"$DEP\"}"
case_ "event: bad time" 422 invalid_event R-EVT-011 /time
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"2025-02-30T10:00:00Z\",\"office\":\"$DEP\"}"
case_ "event: 30 February" 422 invalid_event R-EVT-011 /time
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"kz050100\"}"
case_ "event: bad office" 422 invalid_event R-EVT-012 /office
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event: duplicate member" 422 invalid_event R-EVT-007
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"incident\",\"time\":\"$NOW\",\"office\":\"$BORDER\",\"code\":\"5\",\"text\":\"t\",\"place\":\"p\",\"sealsState\":\"intact\",\"latitude\":NaN,\"longitude\":\"1.00000\"}"
case_ "event: NaN" 422 invalid_event R-EVT-001
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"release\",\"time\":\"$NOW\",\"office\":\"$DEP\",\"controlResult\":\"Z9\",\"seals\":[]}"
case_ "event: control result not in CL196" 422 invalid_event R-EVT-014 /controlResult
api POST "$EV" "$OFF_DEP" -d '[]'
case_ "event: an array" 422 invalid_event R-EVT-003
CT=text/plain api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"$NOW\",\"office\":\"$DEP\"}"
case_ "event: text/plain" 415 unsupported_media_type
api POST "$EV" "$OFF_DEP" -d "{\"type\":\"write_off\",\"time\":\"2999-01-01T00:00:00Z\",\"office\":\"$DEP\"}"
case_ "event: in the future" 422 invalid_event R-NODE-010 /time

# --- list parameters ----------------------------------------------------------------------------
for q in limit=0 limit=501 limit=abc limit=-1 since=yesterday since=2025-13-01T00:00:00Z \
    state=flying overdue=maybe cursor=%21%21%21 office=KZ05 holder=%20; do
    api GET "/v1/movements?$q" "$TRADER"
    case_ "list ?$q" 400 bad_parameter
    grep -qF "${q%%=*}" "$LAST_BODY" || fail "400 for ?$q does not name the parameter: $(cat "$LAST_BODY")"
done

api GET "/v1/movements?office=KZ%00" "$TRADER"
case_ "list: NUL in the query" 400 bad_request

# --- guarantees ------------------------------------------------------------------------------------
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0013","referenceAmount":"100.00","currency":"USD"}'
case_ "guarantee: bad GRN check digit" 422 invalid_request R-GUA-003 /grn
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0021","referenceAmount":"12.345","currency":"USD"}'
case_ "guarantee: three decimals" 422 invalid_request R-DEC-001 /referenceAmount
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0021","referenceAmount":"-5.00","currency":"USD"}'
case_ "guarantee: negative" 422 invalid_request R-DEC-001 /referenceAmount
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0021","referenceAmount":100,"currency":"USD"}'
case_ "guarantee: amount a number" 422 invalid_request R-JSON-TYPE /referenceAmount
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0021","referenceAmount":"100.00","currency":"usd"}'
case_ "guarantee: currency in lower case" 422 invalid_request R-CUR-001 /currency
api POST /v1/guarantees "$GUAR" -d '{"grn":"25KZ050100ALA0021","referenceAmount":"100.00","currency":"USD","colour":"red"}'
case_ "guarantee: unknown member" 422 invalid_request R-JSON-UNKNOWN /colour
api GET /v1/guarantees/NOTAGRN "$GUAR"
case_ "guarantee: bad GRN in the path" 400 bad_grn

# --- tokens -----------------------------------------------------------------------------------------
api POST /v1/tokens "$OPERATOR" -d '{"role":"emperor","label":"x"}'
case_ "token: unknown role" 422 invalid_request R-TOKEN-001 /role
api POST /v1/tokens "$OPERATOR" -d '{"role":"officer","office":"XX000000","label":"x"}'
case_ "token: office not in the registry" 422 invalid_request R-TOKEN-001 /office

# --- routes, methods, headers ----------------------------------------------------------------------
api DELETE "/v1/movements/$MRN" "$TRADER"
case_ "DELETE a movement" 405 method_not_allowed
api GET /v1/movementz "$TRADER"
case_ "unknown path" 404 not_found
api PUT /v1/declarations "$TRADER" "$T/ok.json"
case_ "PUT declarations" 405 method_not_allowed
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$URL/healthz")
[ "$CODE" = 431 ] || fail "40 kB header: $CODE"
NCASES=$((NCASES + 1))

# the good declaration is still there, once
api GET "/v1/movements?limit=500" "$TRADER"
WHAT="after all that" expect 200 '.items | length' 1 '.items[0].mrn' "$MRN"
[ "$NCASES" -ge 30 ] || fail "only $NCASES malformed requests"
node_stop
echo "node-malformed: $NCASES malformed requests, $CHECKS checks passed"
