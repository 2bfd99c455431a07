# SPDX-License-Identifier: Apache-2.0
# 56_perf_keys.sh: stackgate's own API keys checked inside the main request (issue #18).
# nginx sends a "Bearer sg-…" request to location /_stackgate/keyed with the trusted param
# STACKGATE_VERIFY_KEY and no auth subrequest; the worker checks the key against api_keys.
# So: no auth subrequest (the nginx auth cache stays empty), a forged, unknown, malformed,
# revoked, expired or disabled principal's key is 401 on every kind of route, the key's
# principal is the only identity (client headers cannot smuggle one), a revocation takes
# effect at once (the LISTEN cache), and other credentials still go through auth_request.

psql_q "DELETE FROM principals WHERE name LIKE 'pk-%'" >/dev/null
K_USER=$(sg_principal_key pk-user --team pk-t)
K_ADMIN=$(sg_principal_key pk-admin --role admin)
K_GONE=$(sg_cli key create pk-user 2>/dev/null)
K_OLD=$(sg_cli key create pk-user --expires-at 2000-01-01T00:00:00Z 2>/dev/null)
sg_cli principal add pk-off >/dev/null 2>&1
K_OFF=$(sg_cli key create pk-off 2>/dev/null)
sg_cli principal disable pk-off >/dev/null 2>&1
sg_cli key revoke "${K_GONE:3:12}" >/dev/null 2>&1
K_FORGED="sg-${K_USER:3:12}-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
K_UNKNOWN="sg-000000000001-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
K_MALFORMED="sg-not-a-key"
AUTH_CACHE=/dev/shm/stackgate-auth-$SG_PORT
sse_last_line() { tail -1 "$SSE_FILE" | cut -d' ' -f2-; }
cache_files() { find "$AUTH_CACHE" -type f 2>/dev/null | wc -l; }

echo "-- no auth subrequest for stackgate's keys"
before=$(cache_files)
as "$K_USER" GET /v1/models
expect_status 200 "a stackgate key is accepted"
as "$K_USER" GET /v1/models
expect_eq "$(cache_files)" "$before" "…and nginx made no auth subrequest for it (its auth cache gained no entry)"
grep -q "GET /v1/models 200 .*principal=pk-user key=${K_USER:3:12}" "$SG_RUN/logs/stackgate.log" &&
	pass "the key's principal and id are the request's (access log)" ||
	fail "principal from the key" "$(grep 'GET /v1/models' "$SG_RUN/logs/stackgate.log" | tail -2)"

req GET /_stackgate/keyed
expect_status 404 "the keyed location is internal to nginx"
as "$K_USER" GET /_stackgate/keyed
expect_status 404 "…also with a key"
as "$K_FORGED" GET /v1/health
expect_status 200 "health stays outside authentication, whatever key comes with it"

echo "-- a stream with a stackgate key is relayed as it comes"
as "$K_USER" POST /v1/models '{"model_id":"pk-stream","provider_id":"vllm","provider_model_id":"stream-5-300"}'
expect_status 200 "register a streaming model with the key"
sse /v1/openai/v1/chat/completions '{"model":"pk-stream","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	-H "Authorization: Bearer $K_USER"
expect_eq "$SSE_STATUS" 200 "the stream starts with 200"
expect_eq "$(sse_json | wc -l)" 7 "all 7 chunks arrived"
expect_eq "$(sse_last_line)" "data: [DONE]" "…and it ends with data: [DONE]"
first=$(head -1 "$SSE_FILE" | cut -d' ' -f1)
lastt=$(tail -1 "$SSE_FILE" | cut -d' ' -f1)
((lastt - first >= 900)) && pass "events arrive as they are made through the keyed location ($((lastt - first)) ms apart)" ||
	fail "keyed stream buffered" "first to last $((lastt - first)) ms"
as "$K_USER" DELETE /v1/models/pk-stream

echo "-- other credentials still go through auth_request"
req GET /v1/models "" -H "Authorization: Bearer not-a-stackgate-key"
expect_status 401 "a bearer token that is not a stackgate key is 401"
expect_jq .error.code invalid_api_key "…answered by nginx after the auth subrequest"
req GET /v1/models "" -H "Authorization: Basic YWxpY2U6c2VjcmV0"
expect_status 401 "Basic credentials are 401"

echo "-- bad keys are 401 on every kind of route"
mbody='{"model_id":"pk-m","provider_id":"vllm","provider_model_id":"test-llm"}'
cbody='{"model":"pk-m","messages":[{"role":"user","content":"hi"}]}'
routes=(
	"GET /v1/models -"
	"POST /v1/models $mbody"
	"GET /v1/models/pk-m -"
	"DELETE /v1/models/pk-m -"
	"GET /v1/openai/v1/models -"
	"POST /v1/openai/v1/chat/completions $cbody"
	"POST /v1/chat/completions $cbody"
	"POST /v1/openai/v1/embeddings {\"model\":\"pk-m\",\"input\":\"x\"}"
	"POST /v1/inference/chat-completion {\"model_id\":\"pk-m\",\"messages\":[]}"
	"GET /v1/tool-runtime/list-tools -"
	"GET /v1/stackgate/usage -"
	"GET /v1/inspect/routes -"
	"GET /v1alpha/admin/health -"
	"GET /v1/no-such-route -"
	"PUT /v1/models -"
	"OPTIONS /v1/models -"
)
for k in K_FORGED K_UNKNOWN K_MALFORMED K_GONE K_OLD K_OFF; do
	bad=""
	for rt in "${routes[@]}"; do
		read -r method path body <<<"$rt"
		[[ $body == - ]] && body=""
		as "${!k}" "$method" "$path" "$body"
		[[ $STATUS == 401 && $(jq -r .error.type <<<"$BODY" 2>/dev/null) == authentication_error &&
			-n $(header WWW-Authenticate) ]] || bad+=" $method $path:$STATUS"
	done
	expect_eq "${bad:-none}" none "$k is 401 (authentication_error, WWW-Authenticate) on ${#routes[@]} kinds of route"
done
as "$K_FORGED" GET /v1/models
expect_jq .error.message "invalid API key" "a forged key: invalid API key"
expect_jq .error.code invalid_api_key "…with the code nginx's answer after an auth subrequest has"
as "$K_GONE" GET /v1/models
expect_jq .error.message "API key revoked" "a revoked key: API key revoked"
as "$K_OLD" GET /v1/models
expect_jq .error.message "API key expired" "an expired key: API key expired"
as "$K_OFF" GET /v1/models
expect_jq .error.message "the API key's principal is disabled" "a disabled principal's key says so"
# A scheme written otherwise is still a stackgate key (nginx's map is case-insensitive).
req GET /v1/models "" -H "Authorization: bearer $K_FORGED"
expect_status 401 "a forged key after 'bearer' is 401 too"

echo "-- client headers cannot smuggle an identity"
smuggle=(-H "Stackgate-Verify-Key: 0" -H "X-Stackgate-Principal: pk-admin" -H "Stackgate-Principal: pk-admin"
	-H "X-Stackgate-Key-Id: ${K_ADMIN:3:12}" -H "Stackgate-Key-Id: ${K_ADMIN:3:12}" -H "X-Stackgate-Verify-Key: 1")
as "$K_FORGED" GET /v1/models "" "${smuggle[@]}"
expect_status 401 "a forged key with headers claiming another identity or no verification is 401"
as "$K_USER" GET /v1alpha/admin/inspect/routes "" "${smuggle[@]}"
grep "GET /v1alpha/admin/inspect/routes " "$SG_RUN/logs/stackgate.log" | tail -1 |
	grep -q "principal=pk-user key=${K_USER:3:12}" &&
	pass "a user's key with headers naming the admin is the user" ||
	fail "smuggled identity" "$(grep 'GET /v1alpha/admin/inspect/routes' "$SG_RUN/logs/stackgate.log" | tail -1)"
as "$K_ADMIN" POST /v1/models '{"model_id":"pk-hidden","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":{"roles":["admin"]}}'
expect_status 200 "the admin registers a model only admins see"
as "$K_ADMIN" GET /v1/models/pk-hidden
admin_status=$STATUS
as "$K_USER" GET /v1/models/pk-hidden "" "${smuggle[@]}"
[[ $admin_status == 200 && $STATUS == 404 ]] && pass "…which the user's key with those headers does not see (404)" ||
	fail "hidden model with smuggled headers" "admin $admin_status, user with headers $STATUS"
req GET /v1/models/pk-hidden "" "${smuggle[@]}"
expect_status 404 "…nor does an anonymous request with those headers"
as "$K_ADMIN" DELETE /v1/models/pk-hidden
req GET /v1alpha/admin/inspect/routes "" "${smuggle[@]}" -H "Authorization: Basic YWxpY2U6c2VjcmV0"
expect_status 401 "headers beside other credentials do not skip auth_request"

echo "-- a revocation takes effect at once"
K_NOW=$(sg_cli key create pk-user 2>/dev/null)
as "$K_NOW" GET /v1/models
expect_status 200 "a new key works at once"
sg_cli key revoke "${K_NOW:3:12}" >/dev/null 2>&1
# The revocation notifies every process (LISTEN); no nginx cache stands in between any more.
t0=$(now_ms)
poll 3 req_is 401 GET /v1/models "" -H "Authorization: Bearer $K_NOW" &&
	pass "the revoked key is 401 within $(($(now_ms) - t0)) ms (auth.key_cache_ttl is 1 s; nginx's cache no longer adds)" ||
	fail "revocation" "still $STATUS after 3 s"

psql_q "DELETE FROM principals WHERE name LIKE 'pk-%'" >/dev/null
