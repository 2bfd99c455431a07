# SPDX-License-Identifier: Apache-2.0
# 50_openai.sh: the OpenAI-compatible routes (/v1/openai/v1/…) through nginx to
# the test upstream (tests/upstream/server.js): model listing with the access
# check, request rewrite (only "model" changes), response rewrite, streaming
# end to end, and every upstream failure mapped to its status.
#
# The upstream's behaviour is chosen by the provider's model name (what reaches
# it), so each mode is a model registered here with that provider_model_id.
# Providers (tests/integration/stackgate.test.json): vllm (key
# upstream-secret-token), ollama, vllm-short (read timeout 2 s), dead (port 9).

UP=$SG_UPSTREAM_URL
OA=/v1/openai/v1
PROVIDER_KEY=upstream-secret-token

# register_model ID PROVIDER PROVIDER_MODEL [llm|embedding] [extra curl args…]
register_model() {
	local id=$1 p=$2 pm=$3 type=${4:-llm} body
	shift 4 2>/dev/null || shift $#
	if [[ $type == embedding ]]; then
		body=$(jq -nc --arg id "$id" --arg p "$p" --arg pm "$pm" \
			'{model_id:$id,provider_id:$p,provider_model_id:$pm,model_type:"embedding",metadata:{embedding_dimension:8}}')
	else
		body=$(jq -nc --arg id "$id" --arg p "$p" --arg pm "$pm" '{model_id:$id,provider_id:$p,provider_model_id:$pm}')
	fi
	req POST /v1/models "$body" "$@"
	if [[ $STATUS == 200 ]]; then pass "register $id ($p/$pm)"; else fail "register $id ($p/$pm)" "status $STATUS"; fi
}

# What the upstream last received for its model name: {"method","path","headers","body","raw"}.
upstream_last() { curl -s "$UP/_last?model=$1"; }
upstream_stat() { curl -s "$UP/_stats" | jq -r ".$1"; }

sse_last_line() { tail -1 "$SSE_FILE" | cut -d' ' -f2-; }

echo "-- setup"
register_model oa-llm vllm test-llm
register_model oa/ns/llm-slash vllm test-llm
register_model oa-llm2 ollama test-llm-2
register_model oa-embed vllm test-embed embedding
register_model oa-e400 vllm err-400
register_model oa-e401 vllm err-401
register_model oa-e404 vllm err-404
register_model oa-e429 vllm err-429
register_model oa-e500 vllm err-500
register_model oa-garbage vllm garbage
register_model oa-cut vllm cut
register_model oa-nodone vllm nodone
register_model oa-json-stream vllm json-stream
register_model oa-stream vllm stream-5-300
register_model oa-stream-long vllm stream-20-100
register_model oa-hang vllm-short hang
register_model oa-stall vllm-short stall-2
register_model oa-slow vllm-short slow-1000
register_model oa-dead dead test-llm

# The served-model check at registration (provider_check_model_served, called by resources).
req POST /v1/models '{"model_id":"oa-not-served","provider_id":"vllm","provider_model_id":"no-such-model"}'
expect_status 400 "registering a model the upstream does not serve is 400"
expect_jq '.error.message | test("model .no-such-model. is not served by provider .vllm.; it serves: test-llm, test-llm-2")' \
	true "the message lists what the upstream serves"

echo "-- models"
req GET $OA/models
expect_status 200 "GET /v1/openai/v1/models"
expect_jq .object list "the list has object: list"
expect_jq '[.data[] | select(.id == "oa-llm")][0] | [.object, .owned_by] | join(" ")' "model vllm" \
	"an entry is {id, object: model, owned_by: provider}"
expect_jq '[.data[] | select(.id == "oa-llm")][0].created | type == "number" and . > 1600000000' true \
	"created is the registration time (epoch seconds)"
expect_jq '[.data[] | select(.id == "oa/ns/llm-slash")] | length' 1 "ids with slashes are listed"
expect_jq '[.data[] | select(.id == "oa-embed")] | length' 1 "embedding models are listed"

echo "-- chat completions: the body reaches the upstream intact but for model"
chat_body=$(cat <<'EOF'
{"model":"oa-llm","temperature":0.7,"top_p":1e-1,"messages":[{"role":"system","content":"be terse"},{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}}]},{"role":"tool","tool_call_id":"call_9","content":"42"},{"role":"user","content":"hello   world \u00fc"}],"tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}},"guided_choice":["a","b"],"prompt_logprobs":1,"logprobs":true,"top_logprobs":2,"x_custom":{"nested":[1,2.50,{"model":"inner"}]}}
EOF
)
req POST $OA/chat/completions "$chat_body" -H 'X-Client-Secret: do-not-forward'
expect_status 200 "chat completion with tools, json_schema, image parts, tool_calls, extras"
expect_jq .model oa-llm "the reply names the model the client asked for"
expect_jq .choices[0].message.content "echo: hello   world ü" "the reply is the upstream's"
expect_jq '.usage.total_tokens | type' number "usage passes through"
ctype=$(header Content-Type)
expect_eq "$ctype" application/json "non-streamed replies are application/json"
expect_eq "$(header Content-Length)" "$(wc -c <"$SG_TEST_DIR/tmp/body.$$")" \
	"a non-streamed reply carries its Content-Length (written in one go, not as a stream)"
rid=$(header X-Request-Id)
last=$(upstream_last test-llm)
expect_eq "$(jq -r .path <<<"$last")" /v1/chat/completions "the upstream got POST /v1/chat/completions"
expected_raw=${chat_body/\"model\":\"oa-llm\"/\"model\":\"test-llm\"}
expect_eq "$(jq -r .raw <<<"$last")" "$expected_raw" "the upstream got the body byte for byte, model replaced"
expect_eq "$(jq -r '.body.x_custom.nested[2].model' <<<"$last")" inner "a nested \"model\" key is left alone"
expect_eq "$(jq -r '.headers.authorization' <<<"$last")" "Bearer $PROVIDER_KEY" \
	"the upstream got the provider's key"
expect_eq "$(jq -r '.headers["x-client-secret"] // "absent"' <<<"$last")" absent \
	"client headers are not forwarded"
expect_eq "$(jq -r '.headers["x-request-id"]' <<<"$last")" "$rid" "the upstream gets the request id"

req POST $OA/chat/completions '{"model":"oa/ns/llm-slash","messages":[{"role":"user","content":"slash"}]}'
expect_status 200 "a model id with slashes works"
expect_jq .model oa/ns/llm-slash "and the reply names it"

echo "-- ollama"
req POST $OA/chat/completions '{"model":"oa-llm2","messages":[{"role":"user","content":"hi ollama"}],"guided_choice":["x"],"prompt_logprobs":0}'
expect_status 200 "chat via the ollama provider"
expect_jq .model oa-llm2 "ollama reply names the client's model"
last=$(upstream_last test-llm-2)
expect_eq "$(jq -r .path <<<"$last")" /v1/chat/completions "ollama's base is url + /v1"
expect_eq "$(jq -c '[.body.guided_choice, .body.prompt_logprobs]' <<<"$last")" '[["x"],0]' \
	"nothing is dropped for ollama"
expect_eq "$(jq -r '.headers.authorization // "none"' <<<"$last")" none "a provider without a key sends none"

echo "-- completions and embeddings"
req POST $OA/completions '{"model":"oa-llm","prompt":"Roses are red","max_tokens":5,"prompt_logprobs":1,"suffix":"!"}'
expect_status 200 "completion"
expect_jq .model oa-llm "completion reply names the client's model"
expect_jq .choices[0].text "echo: Roses are red" "completion text from the upstream"
expect_jq '.choices[0].prompt_logprobs | length > 0' true "prompt_logprobs reached the upstream and came back"
last=$(upstream_last test-llm)
expect_eq "$(jq -c '[.path, .body.model, .body.suffix]' <<<"$last")" '["/v1/completions","test-llm","!"]' \
	"the upstream got /v1/completions with its own model name and every parameter"

req POST $OA/embeddings '{"model":"oa-embed","input":["a","b"],"encoding_format":"float"}'
expect_status 200 "embeddings"
expect_jq .model oa-embed "embeddings reply names the client's model"
expect_jq '.data | length' 2 "one vector per input"
expect_jq '.data[0].embedding | length' 8 "vectors as the upstream made them"
expect_eq "$(upstream_last test-embed | jq -r .body.model)" test-embed "the upstream got its own name"

echo "-- client errors"
req POST $OA/chat/completions '{"model":"nope","messages":[]}'
expect_status 404 "an unknown model is 404"
expect_jq .error.message "model 'nope' not found" "404 says which model"
expect_jq .error.type not_found_error "404 in OpenAI's shape"
req POST $OA/chat/completions '{"messages":[{"role":"user","content":"x"}]}'
expect_status 400 "model missing is 400"
expect_jq .error.param model "400 names the field"
req POST $OA/chat/completions '{"model":7,"messages":[]}'
expect_status 400 "model not a string is 400"
req POST $OA/chat/completions '{"model":"oa-llm","stream":"yes","messages":[]}'
expect_status 400 "stream not a boolean is 400"
expect_jq .error.param stream "and names stream"
req POST $OA/chat/completions '{"model":"oa-embed","messages":[{"role":"user","content":"x"}]}'
expect_status 400 "an embedding model in chat is 400"
expect_jq .error.message "model 'oa-embed' is an embedding model and does not support chat completions" \
	"the message says why"
req POST $OA/completions '{"model":"oa-embed","prompt":"x"}'
expect_status 400 "an embedding model in completions is 400"
req POST $OA/embeddings '{"model":"oa-llm","input":"x"}'
expect_status 400 "an llm in embeddings is 400"
expect_jq .error.message "model 'oa-llm' is not an embedding model" "the message says why"
req POST $OA/chat/completions '{"model": "oa-llm", '
expect_status 400 "malformed JSON is 400"

echo "-- upstream failures"
req POST $OA/chat/completions '{"model":"oa-e400","messages":[{"role":"user","content":"x"}]}'
expect_status 400 "upstream 400 is 400"
expect_jq .error.message "upstream says no (err-400)" "with the upstream's message"
req POST $OA/completions '{"model":"oa-e404","prompt":"x"}'
expect_status 404 "upstream 404 is 404"
req POST $OA/completions '{"model":"oa-e429","prompt":"x"}'
expect_status 429 "upstream 429 is 429"
req POST $OA/completions '{"model":"oa-e500","prompt":"x"}'
expect_status 502 "upstream 500 is 502"
expect_jq '.error.message | test("HTTP 500")' true "502 names the upstream status"
req POST $OA/completions '{"model":"oa-e401","prompt":"x"}'
expect_status 502 "upstream 401 (the provider's key) is 502, not the client's 401"
req POST $OA/completions '{"model":"oa-garbage","prompt":"x"}'
expect_status 502 "an upstream 200 that is not JSON is 502"
expect_jq .error.message "upstream vllm returned a reply that is not a JSON object" "502 says why"
req POST $OA/completions '{"model":"oa-cut","prompt":"x"}'
expect_status 502 "an upstream that drops the connection mid-reply is 502"
req POST $OA/chat/completions '{"model":"oa-dead","messages":[{"role":"user","content":"x"}]}'
expect_status 502 "an unreachable upstream is 502"
expect_jq .error.message "upstream dead is unreachable" "502 names the provider"
t0=$(date +%s%3N)
req POST $OA/completions '{"model":"oa-hang","prompt":"x"}'
t1=$(date +%s%3N)
expect_status 504 "an upstream that never answers is 504 after the read timeout"
expect_jq .error.type timeout_error "504 in OpenAI's shape"
# No byte at all is retried (router.h): 3 attempts of 2 s each, with short backoffs between.
expect_eq "$(header X-Stackgate-Attempts)" 3 "the silent upstream was tried 3 times (router.max_retries 2)"
((t1 - t0 >= 3 * 1900 && t1 - t0 < 12000)) && pass "504 came after three 2 s read timeouts ($((t1 - t0)) ms)" ||
	fail "504 timing" "took $((t1 - t0)) ms"
req POST $OA/completions '{"model":"oa-slow","prompt":"x"}'
expect_status 200 "an upstream 1 s slow stays under the 2 s read timeout"

echo "-- streaming"
sse $OA/chat/completions '{"model":"oa-stream","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$SSE_STATUS" 200 "a stream starts with 200"
expect_eq "$(grep -i '^content-type:' "$SSE_HDRS" | tr -d '\r' | cut -d' ' -f2)" text/event-stream \
	"as text/event-stream"
n=$(sse_json | wc -l)
expect_eq "$n" 7 "all 7 chunks arrived (role, 5 content, finish)"
expect_eq "$(sse_json | jq -r .model | sort -u)" oa-stream "every chunk names the client's model"
expect_eq "$(sse_json | jq -r '.choices[0].delta.content // empty' | tr -d '\n')" "chunk0 chunk1 chunk2 chunk3 chunk4" \
	"the content is the upstream's"
expect_eq "$(sse_last_line)" "data: [DONE]" "the stream ends with data: [DONE]"
first=$(head -1 "$SSE_FILE" | cut -d' ' -f1)
lastt=$(tail -1 "$SSE_FILE" | cut -d' ' -f1)
((lastt - first >= 900)) && pass "events arrive as they are made: first $((lastt - first)) ms before the last" ||
	fail "incremental streaming" "first and last event $((lastt - first)) ms apart (upstream spaces them 300 ms)"

sse $OA/completions '{"model":"oa-llm","stream":true,"prompt":"a b c","stream_options":{"include_usage":true}}'
expect_eq "$SSE_STATUS" 200 "a completion stream"
expect_eq "$(sse_json | jq -r '.choices[0].text // empty' | tr -d '\n')" "echo: a b c" "completion chunks carry the text"
expect_eq "$(sse_json | jq -r .model | sort -u)" oa-llm "completion chunks name the client's model"
expect_eq "$(sse_json | jq -r 'select(.usage != null) | .usage.total_tokens | type')" number \
	"stream_options reached the upstream (usage chunk)"

sse $OA/chat/completions '{"model":"oa-nodone","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$(sse_last_line)" "data: [DONE]" "[DONE] is added when the upstream ends without it"
expect_eq "$(grep -c 'data: \[DONE\]' "$SSE_FILE")" 1 "and only once"

sse $OA/chat/completions '{"model":"oa-garbage","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$(cut -d' ' -f2- "$SSE_FILE" | tr '\n' '|')" \
	'data: this is not json|data: {"truncated":|: a comment|data: [DONE]|' \
	"data that is not JSON and comments pass through unchanged"

sse $OA/chat/completions '{"model":"oa-json-stream","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$SSE_STATUS" 200 "an upstream that answers a stream request with JSON"
expect_eq "$(cut -d' ' -f2- "$SSE_FILE" | jq -r .model)" oa-json-stream "is relayed as JSON with the model rewritten"

echo "-- streaming: failures before the first byte have real statuses"
sse $OA/chat/completions '{"model":"oa-e400","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$SSE_STATUS" 400 "upstream 400 on a stream request is 400"
expect_body_contains "upstream says no (err-400)" "with the upstream's message"
sse $OA/chat/completions '{"model":"oa-dead","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$SSE_STATUS" 502 "unreachable on a stream request is 502"
sse $OA/chat/completions '{"model":"oa-hang","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$SSE_STATUS" 504 "no answer on a stream request is 504"
sse $OA/chat/completions '{"model":"nope","stream":true,"messages":[]}'
expect_eq "$SSE_STATUS" 404 "an unknown model on a stream request is 404, not 200 + error event"

echo "-- streaming: failures after the start end with one error event"
sse $OA/chat/completions '{"model":"oa-cut","stream":true,"messages":[{"role":"user","content":"a b c d"}]}'
expect_eq "$SSE_STATUS" 200 "a stream cut by the upstream started with 200"
expect_eq "$(sse_json | head -1 | jq -r .model)" oa-cut "the events before the cut were relayed"
expect_eq "$(sse_last_line | sed 's/^data: //' | jq -r .error.code)" bad_gateway \
	"the last event is an error event (bad_gateway)"
expect_eq "$(grep -c 'data: \[DONE\]' "$SSE_FILE")" 0 "no [DONE] after an error event"
sse $OA/chat/completions '{"model":"oa-stall","stream":true,"messages":[{"role":"user","content":"x"}]}'
expect_eq "$(sse_json | head -1 | jq -r .model)" oa-stall "a stream that stalls relayed its first events"
expect_eq "$(sse_last_line | sed 's/^data: //' | jq -r '.error.type + " " + .error.code')" \
	"timeout_error gateway_timeout" "then ends with a timeout error event"

echo "-- the client goes away mid-stream"
aborted_before=$(upstream_stat streams_aborted)
curl -sN --max-time 1 -H 'Content-Type: application/json' \
	--data-binary '{"model":"oa-stream-long","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$SG_URL$OA/chat/completions" >/dev/null 2>&1
aborted_after=$aborted_before
for _ in $(seq 30); do
	aborted_after=$(upstream_stat streams_aborted)
	((aborted_after > aborted_before)) && break
	sleep 0.1
done
((aborted_after > aborted_before)) &&
	pass "the upstream sees its connection closed when the client leaves" ||
	fail "client disconnect reaches the upstream" "streams_aborted stayed at $aborted_before"
grep -q "client went away" "$SG_RUN/logs/stackgate.log" && pass "the gateway logs the stopped stream" ||
	fail "stopped stream logged" "no 'client went away' line"

echo "-- access: a model the caller may not see is exactly like a missing one"
if sg_cli principal add oa-alice --role oa-team-a >/dev/null 2>&1 &&
	alice_key=$(sg_cli key create oa-alice 2>/dev/null) && [[ -n $alice_key ]]; then
	pass "principal oa-alice with a key"
	register_model oa-private vllm test-llm-2 llm -H "Authorization: Bearer $alice_key"
	req GET $OA/models
	expect_jq '[.data[] | select(.id == "oa-private")] | length' 0 "anonymous does not list oa-private"
	req POST $OA/chat/completions '{"model":"oa-private","messages":[{"role":"user","content":"x"}]}'
	expect_status 404 "anonymous calling oa-private gets 404"
	expect_jq .error.message "model 'oa-private' not found" "with the not-found message"
	req GET $OA/models "" -H "Authorization: Bearer $alice_key"
	expect_jq '[.data[] | select(.id == "oa-private")] | length' 1 "alice lists oa-private"
	req POST $OA/chat/completions '{"model":"oa-private","messages":[{"role":"user","content":"from alice"}]}' \
		-H "Authorization: Bearer $alice_key"
	expect_status 200 "alice calls oa-private"
	expect_jq .model oa-private "and gets her model's name back"
	auth_seen=$(upstream_last test-llm-2 | jq -r .headers.authorization)
	expect_eq "$auth_seen" "Bearer $PROVIDER_KEY" "the upstream sees the provider's key, not alice's"
else
	fail "principal oa-alice with a key" "stackgate principal add / key create failed"
fi

echo "-- secrets"
if grep -q "$PROVIDER_KEY" "$SG_RUN"/logs/stackgate.log; then
	fail "the provider key never appears in the log"
else
	pass "the provider key never appears in the log"
fi
req GET /v1/providers
if [[ $BODY == *"$PROVIDER_KEY"* ]]; then fail "no response carries the provider key"; else pass "no response carries the provider key"; fi
