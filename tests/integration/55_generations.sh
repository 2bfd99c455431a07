# SPDX-License-Identifier: Apache-2.0
# 55_generations.sh: both Llama Stack API generations at once (issue #16): models with both
# field sets, the root inference routes, OpenAI's models.retrieve, the moved registry routes
# as aliases (/v1alpha/eval/benchmarks, /v1beta/datasets, /v1alpha/admin/*), RouteInfo.method
# per generation and api_filter, ProviderInfo.health from a cached, bounded probe, DELETE for
# shields, scoring functions and benchmarks under the unregister rules, how streams end per
# client (server.sse_done), CORS (server.cors_origins; preflights skip auth_request), the 401s
# and the 400 for two Authorization headers, and 501 for 0.7's data planes.  Identifiers
# start with g55.

psql_q "DELETE FROM benchmarks WHERE identifier LIKE 'g55-%'" >/dev/null
psql_q "DELETE FROM datasets WHERE identifier LIKE 'g55-%'" >/dev/null
psql_q "DELETE FROM scoring_functions WHERE identifier LIKE 'g55-%'" >/dev/null
psql_q "DELETE FROM shields WHERE identifier LIKE 'g55-%'" >/dev/null
psql_q "DELETE FROM models WHERE identifier LIKE 'g55-%'" >/dev/null
psql_q "DELETE FROM principals WHERE name LIKE 'g55-%'" >/dev/null
KA=$(sg_principal_key g55-alice --team g55-a)
KB=$(sg_principal_key g55-bob --team g55-b)
KADM=$(sg_principal_key g55-admin --role admin)
[[ $KA == sg-* && $KB == sg-* && $KADM == sg-* ]] && pass "keys for g55-alice, g55-bob, g55-admin" || fail "keys" "'$KA' '$KB' '$KADM'"

# ---- models: both field sets -------------------------------------------------------------------
req POST /v1/models '{"model_id":"g55-m","provider_id":"vllm","provider_model_id":"test-llm","metadata":{"k":"v"}}'
expect_status 200 "register g55-m"
req POST /v1/models '{"model_id":"g55-e","provider_id":"vllm","provider_model_id":"test-embed","model_type":"embedding","metadata":{"embedding_dimension":8}}'
expect_status 200 "register the embedding model g55-e"
as "$KA" POST /v1/models '{"model_id":"g55-private","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "alice registers g55-private (her team only)"
created=$(psql_q "SELECT extract(epoch FROM created_at)::bigint FROM models WHERE identifier = 'g55-m'")

req GET /v1/models/g55-m
expect_status 200 "GET /v1/models/g55-m"
expect_jq 'keys_unsorted | join(",")' \
	"identifier,provider_resource_id,provider_id,type,access_attributes,metadata,model_type,id,object,created,owned_by,custom_metadata" \
	"…April's fields, then today's"
expect_jq '[.identifier,.provider_resource_id,.provider_id,.type,.model_type,.metadata.k] | join(" ")' \
	"g55-m test-llm vllm model llm v" "…April's values"
expect_jq '[.id,.object,(.created|tostring),.owned_by] | join(" ")' "g55-m model $created vllm" \
	"…today's: id, object model, created from the registry, owned_by the provider"
expect_jq '.custom_metadata | tojson' '{"model_type":"llm","provider_id":"vllm","provider_resource_id":"test-llm","k":"v"}' \
	"…custom_metadata: model_type, provider_id, provider_resource_id, then the metadata"
single=$BODY

req GET /v1/models
expect_status 200 "GET /v1/models"
expect_jq 'keys_unsorted | join(",")' object,data "…{object, data}"
expect_jq .object list "…object is list"
expect_eq "$(jq -c '.data[] | select(.identifier == "g55-m")' <<<"$BODY")" "$(jq -c 'del(.access_attributes)' <<<"$single")" \
	"…the entry is the single GET's object without access_attributes"
expect_jq '[.data[] | select(.identifier == "g55-private")] | length' 0 "…alice's model is not listed for anonymous"

as "$KA" GET /v1/models/g55-private
expect_jq '.custom_metadata.provider_id' vllm "alice's own model has both field sets too"

# ---- the root inference routes ------------------------------------------------------------------
req POST /v1/chat/completions '{"model":"g55-m","messages":[{"role":"user","content":"hi there"}]}'
expect_status 200 "POST /v1/chat/completions"
expect_jq '[.model, .choices[0].message.content] | join(" | ")' "g55-m | echo: hi there" "…proxied, named as the client named it"
req POST /v1/completions '{"model":"g55-m","prompt":"say"}'
expect_status 200 "POST /v1/completions"
expect_jq '.choices[0].text' "echo: say" "…proxied"
req POST /v1/embeddings '{"model":"g55-e","input":["a","b"]}'
expect_status 200 "POST /v1/embeddings"
expect_jq '[.model, (.data | length)] | join(" ")' "g55-e 2" "…one vector per input"
req POST /v1/chat/completions '{"model":"g55-private","messages":[{"role":"user","content":"x"}]}'
expect_status 404 "…another tenant's model is 404 at the root route too"

# ---- OpenAI's models.retrieve ----------------------------------------------------------------------
req GET /v1/openai/v1/models/g55-m
expect_status 200 "GET /v1/openai/v1/models/g55-m"
expect_jq 'tojson' "{\"id\":\"g55-m\",\"object\":\"model\",\"created\":$created,\"owned_by\":\"vllm\"}" "…in OpenAI's shape"
req GET /v1/openai/v1/models/g55-nothing
expect_status 404 "a missing model is 404"
expect_jq '[.error.type, .error.param, .error.message] | join(" | ")' "not_found_error | model | The model 'g55-nothing' does not exist" \
	"…in OpenAI's error shape"
missing_msg=$(jq -r .error.message <<<"$BODY")
req GET /v1/openai/v1/models/g55-private
expect_status 404 "another tenant's model is 404"
expect_jq .error.message "The model 'g55-private' does not exist" "…with the message a missing one gets"
as "$KA" GET /v1/openai/v1/models/g55-private
expect_status 200 "…its owner retrieves it"
[[ -n $missing_msg ]] || fail "missing message"

# ---- moved registry routes as aliases ---------------------------------------------------------------
req POST /v1beta/datasets '{"dataset_id":"g55-ds","purpose":"eval/messages-answer","source":{"type":"uri","uri":"huggingface://datasets/llamastack/simpleqa"}}'
expect_status 200 "POST /v1beta/datasets"
req GET /v1/datasets/g55-ds
expect_status 200 "…the same dataset under /v1/datasets"
req GET /v1beta/datasets
expect_jq '[.data[] | select(.identifier == "g55-ds")] | length' 1 "GET /v1beta/datasets lists it"
req GET /v1beta/datasets/g55-ds
expect_jq .identifier g55-ds "GET /v1beta/datasets/{id}"
req POST /v1/scoring-functions '{"scoring_fn_id":"g55-sf","description":"d","return_type":{"type":"number"}}'
expect_status 200 "register the scoring function g55-sf"
req POST /v1alpha/eval/benchmarks '{"benchmark_id":"g55-b","dataset_id":"g55-ds","scoring_functions":["g55-sf"]}'
expect_status 200 "POST /v1alpha/eval/benchmarks"
req GET /v1/eval/benchmarks/g55-b
expect_status 200 "…the same benchmark under /v1/eval/benchmarks"
req GET /v1alpha/eval/benchmarks
expect_jq '[.data[] | select(.identifier == "g55-b")] | length' 1 "GET /v1alpha/eval/benchmarks lists it"
req GET /v1alpha/eval/benchmarks/g55-b
expect_jq .dataset_id g55-ds "GET /v1alpha/eval/benchmarks/{id}"
req POST /v1alpha/eval/benchmarks/g55-b/jobs '{}'
expect_status 501 "the eval data plane under /v1alpha is 501 like under /v1"

req GET /v1alpha/admin/health
expect_jq .status OK "GET /v1alpha/admin/health"
req GET /v1alpha/admin/version
expect_status 200 "GET /v1alpha/admin/version"
req GET /v1/version
v1=$BODY
req GET /v1alpha/admin/version
expect_eq "$BODY" "$v1" "…the same as /v1/version"
req GET /v1alpha/admin/providers
expect_jq '[.data[].provider_id] | index("llama-guard") != null' true "GET /v1alpha/admin/providers"
req GET /v1alpha/admin/providers/faiss
expect_jq '[.api, .provider_type] | join(" ")' "vector_io inline::faiss" "GET /v1alpha/admin/providers/{id}"
req GET /v1alpha/admin/providers/g55-none
expect_status 404 "…404 for an unknown provider"

req GET /v1/inspect/routes
expect_jq '[.data[].method] | unique | join(",")' "delete,get,post,put" "/v1/inspect/routes: methods lowercase, as in April 2025"
expect_jq '[.data[] | select(.route == "/v1/chat/completions")] | map(.method) | sort | join(",")' "get,post" \
	"…lists the root inference routes"
all_n=$(jq '.data | length' <<<"$BODY")
req GET /v1alpha/admin/inspect/routes
expect_jq '[.data[].method] | unique | join(",")' "DELETE,GET,POST,PUT" "/v1alpha/admin/inspect/routes: methods uppercase, as today"
expect_jq '.data | length' "$all_n" "…the same routes"
req GET "/v1alpha/admin/inspect/routes?api_filter=v1alpha"
expect_jq '[.data[].route | startswith("/v1alpha/")] | all' true "api_filter=v1alpha keeps /v1alpha routes only"
expect_jq '[.data[] | select(.route == "/v1alpha/eval/benchmarks" and .method == "GET")] | length' 1 "…including the benchmarks alias"
req GET "/v1alpha/admin/inspect/routes?api_filter=v1beta"
expect_jq '[.data[].route | startswith("/v1beta/")] | all' true "api_filter=v1beta keeps /v1beta routes only"
req GET "/v1alpha/admin/inspect/routes?api_filter=v1"
expect_jq '[.data[] | select(.route | startswith("/v1/openai/v1/"))] | length' 0 "api_filter=v1 leaves out deprecated routes"
expect_jq '[.data[] | select(.route == "/v1/models" and .method == "GET")] | length' 1 "…keeps GET /v1/models"
req GET "/v1alpha/admin/inspect/routes?api_filter=deprecated"
expect_jq '[.data[] | select(.route == "/v1/models") | .method] | join(",")' POST "api_filter=deprecated: POST /v1/models"
expect_jq '[.data[] | select(.route == "/v1/openai/v1/chat/completions")] | length' 1 "…and /v1/openai/v1/chat/completions"
req GET "/v1alpha/admin/inspect/routes?api_filter=v2"
expect_status 400 "an unknown api_filter is 400"
expect_jq .error.param api_filter "…naming api_filter"

# ---- ProviderInfo.health -------------------------------------------------------------------------
req GET /v1/providers/vllm
expect_jq .health.status OK "health of a reachable inference provider is OK"
req GET /v1/providers/dead
expect_jq .health.status Error "health of an unreachable one is Error"
expect_jq '.health.message | test("dead")' true "…with a message naming it"
req GET /v1/providers/llama-guard
expect_jq .health.status "Not Implemented" "a provider stackgate cannot probe is Not Implemented"
req GET /v1/providers
expect_jq '[.data[] | has("health")] | all' true "every ProviderInfo in the list has health"
# Cached: however often it is asked, a provider is probed at most once per 30 s on the host.
stats() { curl -s "$SG_UPSTREAM_URL/_stats" | jq .requests; } # each call counts itself too
before=$(stats)
for _ in 1 2 3 4 5 6 7 8; do req GET /v1/providers/vllm; done
after=$(stats)
(( after - before - 1 == 0 )) && pass "8 more health reads within 30 s did not probe the upstream again" ||
	fail "health is cached" "the upstream saw $((after - before - 1)) requests for 8 reads"

# ---- DELETE for shields, scoring functions, benchmarks ------------------------------------------------
as "$KA" POST /v1/shields '{"shield_id":"g55-s"}'
expect_status 200 "alice registers the shield g55-s"
as "$KB" DELETE /v1/shields/g55-s
expect_status 404 "bob, who cannot see it, gets 404 unregistering it"
expect_jq .error.message "Shield 'g55-s' not found" "…the message a missing shield gets"
req DELETE /v1/shields/g55-s
expect_status 404 "…so does an anonymous caller"
as "$KA" DELETE /v1/shields/g55-s
expect_status 200 "alice unregisters her shield"
expect_eq "$BODY" null "…the body is null"
as "$KA" GET /v1/shields/g55-s
expect_status 404 "…it is gone"
req POST /v1/shields '{"shield_id":"g55-s2"}'
as "$KB" DELETE /v1/shields/g55-s2
expect_status 403 "a principal may not unregister an ownerless shield"
as "$KADM" DELETE /v1/shields/g55-s2
expect_status 200 "an admin may"

req DELETE /v1/scoring-functions/g55-sf
expect_status 409 "a scoring function a benchmark names is in use"
expect_body_contains "in use by benchmark 'g55-b'" "…the 409 names the benchmark"
req DELETE /v1alpha/eval/benchmarks/g55-b
expect_status 200 "DELETE /v1alpha/eval/benchmarks/{id}"
req GET /v1/eval/benchmarks/g55-b
expect_status 404 "…gone under /v1 too"
req DELETE /v1/scoring-functions/g55-sf
expect_status 200 "then the scoring function unregisters"
req POST /v1/eval/benchmarks '{"benchmark_id":"g55-b2","dataset_id":"g55-ds","scoring_functions":["basic::equality"]}'
req DELETE /v1/eval/benchmarks/g55-b2
expect_status 200 "DELETE /v1/eval/benchmarks/{id}"
req DELETE /v1/scoring-functions/basic::equality
expect_status 403 "a built-in scoring function (the config's) is not an anonymous caller's to unregister"
req DELETE /v1beta/datasets/g55-ds
expect_status 200 "DELETE /v1beta/datasets/{id}"

# ---- how streams end ------------------------------------------------------------------------------
stream() { # MODEL USER-AGENT: the raw SSE body in $BODY
	req POST /v1/chat/completions "{\"model\":\"$1\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"a b\"}]}" \
		-H "User-Agent: $2"
}
req POST /v1/models '{"model_id":"g55-nodone","provider_id":"vllm","provider_model_id":"nodone"}'
stream g55-m "LlamaStackClient/JS 0.2.7"
expect_status 200 "a stream to llama-stack-client 0.2.7"
[[ $BODY == *'"echo:'* || $BODY == *'echo'* ]] && pass "…carries the chunks" || fail "…carries the chunks"
[[ $BODY != *'[DONE]'* ]] && pass "…ends without [DONE] (sse_done auto; the upstream's is dropped)" || fail "…ends without [DONE]" "${BODY: -60}"
stream g55-m "LlamaStackClient/Python 0.2.12"
[[ $BODY != *'[DONE]'* ]] && pass "a stream to the Python client 0.2.x ends without [DONE]" || fail "Python 0.2.x without [DONE]"
stream g55-m "LlamaStackClient/JS 0.7.3"
[[ $BODY == *$'\n\ndata: [DONE]' ]] && pass "a stream to llama-stack-client 0.7.3 ends with [DONE]" || fail "0.7.3 gets [DONE]" "${BODY: -60}"
stream g55-nodone "OpenAI/JS 7.59.0"
[[ $BODY == *$'\n\ndata: [DONE]' ]] && pass "an OpenAI client gets [DONE], added when the upstream sent none" || fail "OpenAI gets [DONE]" "${BODY: -60}"
stream g55-nodone "LlamaStackClient/JS 0.2.7"
[[ $BODY != *'[DONE]'* ]] && pass "…and llama-stack-client 0.2.7 does not" || fail "0.2.7 without added [DONE]"

# ---- the small defects ------------------------------------------------------------------------------
req GET /v1/models "" -H "Authorization: Bearer sg-g55invalidkey"
expect_status 401 "an invalid key is 401"
expect_eq "$(grep -ci '^WWW-Authenticate:' "$HDRS")" 1 "…with WWW-Authenticate once"
req GET /v1/models "" -H "Authorization: Bearer a" -H "Authorization: Bearer b"
expect_status 400 "two Authorization headers are 400"
[[ -n $(header X-Request-Id) ]] && pass "…with X-Request-Id" || fail "…with X-Request-Id"
expect_jq .error.type invalid_request_error "…and a JSON error body"
expect_jq '.error.message | test("sent twice")' true "…that says what is wrong"

# ---- 0.7's data planes: 501 naming the route ------------------------------------------------------------
for r in "POST /v1/responses" "GET /v1/responses/r1/input_items" "GET /v1/files/f1/content" \
	"DELETE /v1/conversations/c1/items/i1" "POST /v1/vector_stores/vs1/search" "POST /v1/batches" \
	"PUT /v1/prompts/p1/set-default-version" "GET /v1/chat/completions" "POST /v1/moderations" \
	"POST /v1alpha/inference/rerank"; do
	req "${r%% *}" "${r#* }" '{}'
	expect_status 501 "$r is 501"
	expect_body_contains "$r is not implemented" "…the message names the route"
done
req POST /v1/responses '{}'
expect_body_contains "the responses API of Llama Stack 0.7" "…and the API"

# ---- CORS, auth.required, sse_done never ----------------------------------------------------------------
hang_port=$((SG_PORT + 50))
node -e "require('net').createServer(() => {}).listen($hang_port, '127.0.0.1')" &
hang_pid=$!
conf=$SG_TEST_DIR/tmp/g55.json
jq --arg hang "http://127.0.0.1:$hang_port/v1" '.auth.required = true
	| .server.cors_origins = ["https://app.g55.example", "http://localhost:3055"]
	| .server.sse_done = "never"
	| .providers.inference += [{"provider_id":"g55-hang","provider_type":"remote::vllm",
		"config":{"url":$hang,"check_model_on_register":false}},
		{"provider_id":"g55-count","provider_type":"remote::vllm",
		"config":{"url":$up,"check_model_on_register":false}}]' --arg up "$SG_UPSTREAM_URL/v1" "$SG_CONFIG" >"$conf"
if sg_restart_daemon "$conf"; then
	ORIGIN=(-H "Origin: https://app.g55.example")
	req OPTIONS /v1/models "" "${ORIGIN[@]}" -H "Access-Control-Request-Method: POST" \
		-H "Access-Control-Request-Headers: authorization, content-type, x-stainless-os"
	expect_status 204 "a preflight from an allowed origin is 204 without credentials (auth.required)"
	expect_eq "$(header Access-Control-Allow-Origin)" "https://app.g55.example" "…Access-Control-Allow-Origin: the origin"
	expect_eq "$(header Access-Control-Allow-Methods)" "GET, HEAD, POST" "…the methods the path accepts"
	expect_eq "$(header Access-Control-Allow-Headers)" "authorization, content-type, x-stainless-os" "…the headers asked for"
	expect_eq "$(header Vary)" Origin "…Vary: Origin"
	req OPTIONS /v1/models "" "${ORIGIN[@]}" -H "Access-Control-Request-Method: GET" -H "Authorization: Bearer sg-g55invalidkey"
	expect_status 204 "a preflight skips auth_request (even an invalid key does not make it 401)"
	req OPTIONS /v1/models "" -H "Origin: https://evil.g55.example" -H "Access-Control-Request-Method: POST"
	expect_status 204 "a preflight from another origin is answered…"
	expect_eq "$(grep -ci '^Access-Control-' "$HDRS")" 0 "…with no CORS header at all"
	as "$KA" GET /v1/models "" "${ORIGIN[@]}"
	expect_status 200 "an allowed origin's request with a key"
	expect_eq "$(header Access-Control-Allow-Origin)" "https://app.g55.example" "…carries Access-Control-Allow-Origin"
	as "$KA" POST /v1/chat/completions '{"model":"g55-m","stream":true,"messages":[{"role":"user","content":"c"}]}' "${ORIGIN[@]}"
	expect_eq "$(header Access-Control-Allow-Origin)" "https://app.g55.example" "…so does a stream"
	[[ $BODY != *'[DONE]'* ]] && pass "sse_done never: no [DONE] for an OpenAI-style client" || fail "sse_done never" "${BODY: -60}"
	as "$KA" GET /v1/models "" -H "Origin: https://evil.g55.example"
	expect_eq "$(grep -ci '^Access-Control-' "$HDRS")" 0 "another origin's request gets no CORS header"
	req GET /v1/models "" "${ORIGIN[@]}" -H "Authorization: Bearer sg-g55invalidkey"
	expect_status 401 "an allowed origin's request with an invalid key is 401 (nginx's)"
	expect_eq "$(header Access-Control-Allow-Origin)" "https://app.g55.example" "…which the browser may read (Access-Control-Allow-Origin)"
	req GET /v1/models "" -H "Origin: https://evil.g55.example" -H "Authorization: Bearer sg-g55invalidkey"
	expect_eq "$(grep -ci '^Access-Control-' "$HDRS")" 0 "…another origin's 401 has none"
	req GET /v1/models "" "${ORIGIN[@]}"
	expect_status 401 "an allowed origin's request without a key is 401 (stackgate's, auth.required)"
	expect_eq "$(header Access-Control-Allow-Origin)" "https://app.g55.example" "…also readable by the browser"

	req GET /v1/g55-nowhere
	expect_status 401 "auth.required: an unknown path without a key is 401, not 404"
	expect_eq "$(grep -ci '^WWW-Authenticate:' "$HDRS")" 1 "…with WWW-Authenticate once"
	req DELETE /v1/health/g55
	expect_status 401 "…so is any path, whatever the method"
	req PUT /v1/models
	expect_status 401 "…and a wrong method on a known path"
	as "$KA" GET /v1/g55-nowhere
	expect_status 404 "with a key, an unknown path is 404"
	req GET /v1/health
	expect_status 200 "health stays public"
	req GET /v1alpha/admin/health
	expect_status 200 "…at /v1alpha/admin/health too"

	# A provider no worker has probed yet: one read probes it; the result is the host's, so the
	# workers that replace killed ones answer from it without probing again.
	before=$(stats)
	as "$KA" GET /v1/providers/g55-count
	expect_jq .health.status OK "g55-count is healthy"
	old_workers=$(sg_worker_pids | sort | paste -sd,)
	kill -9 $(sg_worker_pids) 2>/dev/null
	for _ in $(seq 100); do
		new_workers=$(sg_worker_pids | sort | paste -sd,)
		[[ -n $new_workers && $new_workers != "$old_workers" && $(tr ',' '\n' <<<"$new_workers" | grep -cxFf <(tr ',' '\n' <<<"$old_workers")) == 0 ]] &&
			[[ $(tr ',' '\n' <<<"$new_workers" | wc -l) -ge ${SG_WORKERS:-2} ]] && break
		sleep 0.1
	done
	sg_wait_ready
	for _ in 1 2 3 4 5 6; do as "$KA" GET /v1/providers/g55-count; done
	expect_jq .health.status OK "…still healthy after every worker was replaced ($old_workers → $new_workers)"
	after=$(stats)
	(( after - before - 1 == 1 )) && pass "…without a second probe: the result is the host's, not a worker's" ||
		fail "health is probed once per host" "the upstream saw $((after - before - 1)) probes"

	as "$KA" GET /v1/providers/g55-hang
	expect_jq .health.status Error "a provider that never answers is Error"
	expect_jq '.health.message | test("timed out")' true "…after the probe's bound, saying it timed out"
else
	fail "restart with cors_origins, auth.required and sse_done never" "the daemon did not come back"
fi
kill "$hang_pid" 2>/dev/null
wait "$hang_pid" 2>/dev/null

jq '.server.sse_done = "always"' "$SG_CONFIG" >"$conf"
if sg_restart_daemon "$conf"; then
	stream g55-m "LlamaStackClient/JS 0.2.7"
	[[ $BODY == *$'\n\ndata: [DONE]' ]] && pass "sse_done always: [DONE] even for llama-stack-client 0.2.7" || fail "sse_done always"
else
	fail "restart with sse_done always" "the daemon did not come back"
fi
sg_restart_daemon || fail "restart with the test config" "the daemon did not come back"

for m in g55-m g55-e g55-nodone; do req DELETE "/v1/models/$m"; done
as "$KA" DELETE /v1/models/g55-private
