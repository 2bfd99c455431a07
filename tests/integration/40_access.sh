# SPDX-License-Identifier: Apache-2.0
# 40_access.sh: identity through nginx auth_request and stackgate's API keys,
# and attribute-based access control end to end: principals and keys made
# with the CLI, each principal's view of the registry over both model lists,
# spoofed identity headers, revoked / expired / bad keys, the C and SQL
# access functions on one table of cases, and the principal_visible_resources
# view against what the API lists.

# The acc-* identifiers of the last native list / OpenAI list, sorted, comma-separated.
native_ids() { jq -r '[.data[].identifier | select(startswith("acc-"))] | sort | join(",")' <<<"$BODY" 2>/dev/null; }
openai_ids() { jq -r '[.data[].id | select(startswith("acc-"))] | sort | join(",")' <<<"$BODY" 2>/dev/null; }
cli_ok() { # NAME CMD…: the CLI command succeeds
	local name=$1 out rc
	shift
	out=$(sg_cli "$@" 2>&1); rc=$?
	if ((rc == 0)); then pass "$name"; else REQ_DESC="stackgate $*"; STATUS=$rc; BODY=$out; fail "$name" "exit $rc"; fi
}
key_ok() { [[ $1 =~ ^sg-[0-9a-f]{12}-[A-Za-z0-9_-]{43}$ ]]; }

psql_q "DELETE FROM principals WHERE name LIKE 'acc-%'" >/dev/null

# ---- the CLI ---------------------------------------------------------------------------
cli_ok "principal add acc-alice --team acc-a" principal add acc-alice --team acc-a
cli_ok "principal add acc-bob --team acc-b" principal add acc-bob --team acc-b
cli_ok "principal add acc-admin --role admin" principal add acc-admin --role admin --team acc-ops

out=$(sg_cli principal add acc-alice 2>&1); rc=$?
expect_eq "$rc" 1 "adding an existing principal exits 1"
[[ $out == *"principal 'acc-alice' already exists"* ]] && pass "…and says it exists" || fail "existing principal message" "$out"
sg_cli principal add >/dev/null 2>&1; expect_eq $? 2 "principal add without a name is a usage error (exit 2)"
sg_cli principal add acc-x --colour red >/dev/null 2>&1; expect_eq $? 2 "an unknown option is a usage error"
out=$(sg_cli key create acc-nobody 2>&1); rc=$?
expect_eq "$rc" 1 "key create for an unknown principal exits 1"
[[ $out == *"principal 'acc-nobody' not found"* ]] && pass "…and names the principal" || fail "unknown principal message" "$out"

line=$(sg_cli principal list 2>/dev/null | grep '^acc-admin	')
expect_eq "$line" "acc-admin	roles=admin teams=acc-ops	enabled" "principal list shows the attributes"
psql_q "SELECT principal_attributes_json('acc-alice')" >"$SG_TEST_DIR/tmp/acc-json"
expect_eq "$(cat "$SG_TEST_DIR/tmp/acc-json")" '{"teams": ["acc-a"]}' "principal_attributes_json"

KA=$(sg_cli key create acc-alice --description "alice's laptop" 2>/dev/null)
KB=$(sg_cli key create acc-bob --expires-in 30 2>/dev/null)
KADM=$(sg_cli key create acc-admin 2>/dev/null)
if key_ok "$KA" && key_ok "$KB" && key_ok "$KADM"; then pass "key create prints one key per line"; else
	fail "key format" "got '$KA' '$KB' '$KADM'"; fi
[[ $KA != "$KB" ]] && pass "keys differ" || fail "keys differ"
n=$(psql_q "SELECT count(*) FROM api_keys WHERE key_id = '${KA:3:12}' AND key_sha256 = sha256(convert_to('$KA', 'UTF8'))")
expect_eq "$n" 1 "api_keys holds the SHA-256 of the key"
n=$(psql_q "SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, '${KA:16}') > 0")
expect_eq "$n" 0 "api_keys never holds the secret"
listing=$(sg_cli key list acc-alice 2>/dev/null)
if [[ $listing == *"${KA:3:12}"*"acc-alice"*"active"*"alice's laptop"* && $listing != *"${KA:16}"* ]]; then
	pass "key list shows the key id, not the secret"
else fail "key list" "$listing"; fi

# ---- the auth endpoint through nginx ---------------------------------------------------
req GET /_stackgate/auth
expect_status 404 "the auth endpoint is internal to nginx"

as "sg-000000000000-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" GET /v1/models
expect_status 401 "an unknown key is 401"
expect_jq .error.type authentication_error "401 has OpenAI's error shape"
expect_jq .error.message "invalid API key" "401 says invalid API key"
unknown_body=$BODY
as "sg-${KA:3:12}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" GET /v1/models
expect_status 401 "a known key id with a wrong secret is 401"
expect_eq "$BODY" "$unknown_body" "…with the same body as an unknown key id"
as "not-a-key" GET /v1/models
expect_status 401 "a malformed key is 401"
expect_jq .error.message "invalid API key" "…invalid API key"
req GET /v1/models "" -H "Authorization: Basic YWxpY2U6c2VjcmV0"
expect_status 401 "Basic credentials are 401"
as "$KA" GET /v1/models
expect_status 200 "alice's key is accepted"
grep -q "GET /v1/models 200 .*principal=acc-alice key=${KA:3:12}" "$SG_RUN/logs/stackgate.log" &&
	pass "the key that authenticated reaches the main request (STACKGATE_KEY_ID; access log key=)" ||
	fail "key id in the main request" "$(grep 'principal=acc-alice' "$SG_RUN/logs/stackgate.log" | tail -2)"
# A path whose decoded blanks would read as the access line's own fields: written encoded.
req GET "/v1/models/acc-x%20200%200.1ms%20principal=acc-forged%09tab"
grep -q 'principal=acc-forged' "$SG_RUN/logs/stackgate.log" &&
	fail "a path's blanks cannot forge the access line's fields" "$(grep 'principal=acc-forged' "$SG_RUN/logs/stackgate.log" | tail -1)" ||
	pass "a path's blanks cannot forge the access line's fields"
grep -q 'GET /v1/models/acc-x%20200%200.1ms%20principal%3Dacc-forged%09tab 404 ' "$SG_RUN/logs/stackgate.log" &&
	pass "…the path is written with its blanks, '=' and tab percent-encoded" ||
	fail "…the path is written with its blanks percent-encoded" "$(grep 'acc-x' "$SG_RUN/logs/stackgate.log" | tail -1)"
n=$(psql_q "SELECT count(*) FROM api_keys WHERE key_id = '${KA:3:12}' AND last_used_at IS NOT NULL")
expect_eq "$n" 1 "a used key records last_used_at"
req GET /v1/health
expect_status 200 "health needs no key"

# ---- each principal registers a model ----------------------------------------------------
reg() { # KEY ID
	as "$1" POST /v1/models "{\"model_id\":\"$2\",\"provider_model_id\":\"test-llm\",\"provider_id\":\"vllm\"}"
}
reg "$KA" acc-alice-m
expect_status 200 "alice registers acc-alice-m"
expect_jq '.access_attributes.teams | join(",")' acc-a "alice's model carries her attributes"
reg "$KB" acc-bob-m
expect_status 200 "bob registers acc-bob-m"
reg "$KADM" acc-admin-m
expect_status 200 "admin registers acc-admin-m"
reg "" acc-anon-m
expect_status 200 "an anonymous caller registers acc-anon-m"
expect_jq .access_attributes null "an anonymous registration has no ACL"

# ---- who sees what ----------------------------------------------------------------------
check_view() { # NAME KEY EXPECTED-IDS
	as "$2" GET /v1/models
	expect_eq "$(native_ids)" "$3" "$1: GET /v1/models"
	as "$2" GET /v1/openai/v1/models
	expect_eq "$(openai_ids)" "$3" "$1: GET /v1/openai/v1/models"
}
check_view alice "$KA" "acc-alice-m,acc-anon-m"
check_view bob "$KB" "acc-anon-m,acc-bob-m"
check_view admin "$KADM" "acc-admin-m,acc-alice-m,acc-anon-m,acc-bob-m"
check_view anonymous "" "acc-anon-m"

as "$KA" GET /v1/models/acc-bob-m
expect_status 404 "alice gets 404 for bob's model"
expect_jq .error.message "Model 'acc-bob-m' not found" "…worded as not found"
denied_type=$(jq -r .error.type <<<"$BODY")
as "$KA" GET /v1/models/acc-nothing-m
expect_status 404 "a model that does not exist is 404 too"
expect_eq "$(jq -r .error.type <<<"$BODY")" "$denied_type" "…with the same error type as a hidden one"
as_cases <<'CASES'
KB GET /v1/models/acc-alice-m 404 bob gets 404 for alice's model
- GET /v1/models/acc-alice-m 404 anonymous gets 404 for alice's model
KA GET /v1/models/acc-alice-m 200 alice reads her own model
KADM GET /v1/models/acc-bob-m 200 admin reads bob's model
KA DELETE /v1/models/acc-bob-m 404 alice cannot delete bob's model
- DELETE /v1/models/acc-alice-m 404 anonymous cannot delete alice's model
KB GET /v1/models/acc-bob-m 200 bob's model is still there
CASES

as "$KA" POST /v1/openai/v1/chat/completions '{"model":"acc-bob-m","messages":[{"role":"user","content":"hi"}]}'
expect_status 404 "alice cannot call bob's model"
as "$KB" POST /v1/openai/v1/chat/completions '{"model":"acc-bob-m","messages":[{"role":"user","content":"hi"}]}'
expect_status 200 "bob calls his model"

# ---- spoofing: client headers never carry identity ----------------------------------------
spoof=(-H "X-Stackgate-Principal: acc-admin" -H "Stackgate-Principal: acc-admin" -H "X-Remote-User: acc-admin"
	-H "Remote-User: acc-admin" -H "X-Auth-Request-User: acc-admin" -H "X-Auth-Request-Groups: acc-b,admin"
	-H "X-Stackgate-Attributes: {\"roles\":[\"admin\"]}" -H "X-Stackgate-Groups: acc-b"
	-H 'X-LlamaStack-Provider-Data: {"__auth_attributes":{"roles":["admin"],"teams":["acc-b"]}}')
as "" GET /v1/models "" "${spoof[@]}"
expect_eq "$(native_ids)" "acc-anon-m" "spoofed headers: anonymous still sees public models only"
as "$KA" GET /v1/models "" "${spoof[@]}"
expect_eq "$(native_ids)" "acc-alice-m,acc-anon-m" "spoofed headers: alice still sees only hers"
as "$KA" GET /v1/openai/v1/models "" "${spoof[@]}"
expect_eq "$(openai_ids)" "acc-alice-m,acc-anon-m" "spoofed headers: same on the OpenAI list"
as "$KA" GET /v1/models/acc-bob-m "" "${spoof[@]}"
expect_status 404 "spoofed headers: bob's model stays hidden"
as "" DELETE /v1/models/acc-admin-m "" "${spoof[@]}"
expect_status 404 "spoofed headers: no delete of admin's model"

# ---- the SQL view and the SQL twin of acl_check ---------------------------------------------
for who in alice bob admin; do
	case $who in alice) k=$KA ;; bob) k=$KB ;; admin) k=$KADM ;; esac
	as "$k" GET /v1/models
	api=$(native_ids)
	view=$(psql_q "SELECT string_agg(identifier, ',' ORDER BY identifier) FROM principal_visible_resources
		WHERE principal = 'acc-$who' AND type = 'model' AND identifier LIKE 'acc-%'")
	expect_eq "$view" "$api" "principal_visible_resources agrees with the API for $who"
done

unit_case acl sql_agreement "acl_check (C) and sg_acl_check (SQL) agree on every case"

# ---- attribute changes take effect (the change notifies every process) ------------------------
cli_ok "principal set acc-bob --team acc-b --team acc-a" principal set acc-bob --team acc-b --team acc-a
seen=""
for _ in $(seq 40); do
	as "$KB" GET /v1/models
	seen=$(native_ids)
	[[ $seen == "acc-alice-m,acc-anon-m,acc-bob-m" ]] && break
	sleep 0.25
done
expect_eq "$seen" "acc-alice-m,acc-anon-m,acc-bob-m" "bob sees team acc-a's model once he is in acc-a"
cli_ok "principal set acc-bob --team acc-b" principal set acc-bob --team acc-b

# ---- revoked, expired and disabled keys ------------------------------------------------------
KR=$(sg_cli key create acc-bob 2>/dev/null)
as "$KR" GET /v1/models
expect_status 200 "a fresh key works"
cli_ok "key revoke" key revoke "${KR:3:12}"
sleep 2.3 # revocation window: nginx's auth cache (1 s in tests) + auth.key_cache_ttl (1 s)
as "$KR" GET /v1/models
expect_status 401 "a revoked key is 401 once the key cache has expired"
expect_jq .error.message "API key revoked" "…API key revoked"
line=$(sg_cli key list acc-bob 2>/dev/null | grep "^${KR:3:12}	")
[[ $line == *"	revoked	"* ]] && pass "key list marks it revoked" || fail "key list revoked" "$line"

KE=$(sg_cli key create acc-bob --expires-at 2000-01-01T00:00:00Z 2>/dev/null)
as "$KE" GET /v1/models
expect_status 401 "an expired key is 401"
expect_jq .error.message "API key expired" "…API key expired"
soon=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
KS=$(sg_cli key create acc-bob --expires-at "$soon" 2>/dev/null)
as "$KS" GET /v1/models
expect_status 200 "a key that expires in 2 s works now"
sleep 2.5
as "$KS" GET /v1/models
expect_status 401 "…and is 401 after it expired"
expect_jq .error.message "API key expired" "…API key expired"

cli_ok "principal disable acc-bob" principal disable acc-bob
sleep 2.3
as "$KB" GET /v1/models
expect_status 401 "a disabled principal's key is 401"
cli_ok "principal enable acc-bob" principal enable acc-bob
sleep 2.3
as "$KB" GET /v1/models
expect_status 200 "…and works again once enabled"

# ---- auth.required ---------------------------------------------------------------------------
required=$SG_TEST_DIR/tmp/access-required.json
jq '.auth.required = true' "$SG_CONFIG" >"$required"
if sg_restart_daemon "$required"; then
	req GET /v1/models
	expect_status 401 "auth.required: an anonymous request is 401"
	expect_jq .error.type authentication_error "…with OpenAI's error shape"
	req GET /v1/models "" "${spoof[@]}"
	expect_status 401 "auth.required: spoofed headers do not authenticate"
	as "$KA" GET /v1/models
	expect_status 200 "auth.required: alice's key works"
	req GET /v1/health
	expect_status 200 "auth.required: health stays public"
else
	fail "restart with auth.required" "the daemon did not come back"
fi
sg_restart_daemon || fail "restart with the test config" "the daemon did not come back"

# ---- admin manages everything; removing a principal removes its keys ------------------------
for m in acc-alice-m acc-bob-m acc-admin-m acc-anon-m; do
	as "$KADM" DELETE "/v1/models/$m"
	expect_status 200 "admin deletes $m"
done
cli_ok "principal remove acc-alice" principal remove acc-alice
n=$(psql_q "SELECT count(*) FROM api_keys WHERE principal = 'acc-alice'")
expect_eq "$n" 0 "removing a principal removes its keys"
sleep 2.3
as "$KA" GET /v1/models
expect_status 401 "a removed principal's key is 401"
sg_cli principal remove acc-alice >/dev/null 2>&1; expect_eq $? 1 "removing a missing principal exits 1"
psql_q "DELETE FROM principals WHERE name LIKE 'acc-%'" >/dev/null

# ---- a change that lands while a cache is being filled is not covered by the older answer ------------
# A test knob pauses each fill 2 s between its database read and its cache store; the change is made
# inside that pause.  One worker, so that the next request meets the same caches; key_cache_ttl 30 s.
echo "-- a change made while a cache is being filled"
FILL_CONF=$SG_TEST_DIR/tmp/acc-fill.json
jq '.server.workers = 1 | .auth.key_cache_ttl = 30' "$SG_CONFIG" >"$FILL_CONF"
sg_cli principal add acc-fill --role admin >/dev/null 2>&1
KFILL=$(sg_cli key create acc-fill 2>/dev/null)
KREV=$(sg_cli key create acc-fill 2>/dev/null)
export STACKGATE_TEST_CACHE_FILL_DELAY_MS=2000
sg_restart_daemon "$FILL_CONF" || fail "restart with one worker and the fill knob"
unset STACKGATE_TEST_CACHE_FILL_DELAY_MS
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$SG_URL$2"; }
# The key's lookup pauses 2 s, then the attributes' read does: the role goes 2.5 s in.
t0=$(now_ms)
status_of "$KFILL" /v1/stackgate/principals >"$SG_TEST_DIR/tmp/acc-fill-a" &
sleep 2.5
sg_cli principal set acc-fill --team acc-t >/dev/null 2>&1
wait
((($(now_ms) - t0) >= 3500)) && pass "the fill knob pauses the key's lookup and the attributes' read (a ./dev build)" ||
	fail "the fill knob is on" "the first request took $(($(now_ms) - t0)) ms (is this a ./dev build?)"
expect_eq "$(cat "$SG_TEST_DIR/tmp/acc-fill-a")" 200 "the request whose attributes were read before the change is an admin's"
expect_eq "$(status_of "$KFILL" /v1/stackgate/principals)" 403 \
	"the next one sees the change: no longer admin (the older read was not cached)"
# The key is revoked while its lookup pauses.
status_of "$KREV" /v1/models >"$SG_TEST_DIR/tmp/acc-fill-b" &
sleep 0.5
sg_cli key revoke "${KREV:3:12}" >/dev/null 2>&1
wait
expect_eq "$(cat "$SG_TEST_DIR/tmp/acc-fill-b")" 200 "the request whose key was looked up before the revocation passes"
expect_eq "$(status_of "$KREV" /v1/models)" 401 "the next one with that key is 401 (the older lookup was not cached)"
sg_restart_daemon || fail "restart with the test config" "the daemon did not come back"
psql_q "DELETE FROM principals WHERE name = 'acc-fill'" >/dev/null
