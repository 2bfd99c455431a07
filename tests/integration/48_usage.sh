# SPDX-License-Identifier: Apache-2.0
# 48_usage.sh: what every inference request did (r->inference) and where it
# is accounted.  The test upstream (tests/upstream/server.js) reports usage
# in the reply body, and in a usage-only chunk when a stream asks for it
# (stream_options.include_usage); its "cut" mode breaks a stream off.
#
# The request's record shows in its access log line ("chat model=… tokens=
# P+C=T [estimated] bytes=SENT/RECEIVED …"), found by its X-Request-Id.

UP=$SG_UPSTREAM_URL
OA=/v1/openai/v1
LOG=$SG_RUN/logs/stackgate.log

echo "-- setup"
for m in "us-llm test-llm llm" "us-cut cut llm" "us-e400 err-400 llm" "us-embed test-embed embedding"; do
	read -r id pm type <<<"$m"
	body=$(jq -nc --arg id "$id" --arg pm "$pm" --arg t "$type" \
		'{model_id:$id,provider_id:"vllm",provider_model_id:$pm,model_type:$t}
		 + (if $t == "embedding" then {metadata:{embedding_dimension:8}} else {} end)')
	req POST /v1/models "$body"
	expect_status 200 "register $id"
done

# access_line RID: the access log line of that request (it is written just
# after the answer, so wait for it a little).
access_line() {
	local line=""
	for _ in $(seq 50); do
		line=$(grep -F "$1" "$LOG" | grep -E ' (chat|completions|embeddings) model=' | tail -1)
		[[ -n $line ]] && break
		sleep 0.1
	done
	printf '%s' "$line"
}
# tokens LINE: "P C T" from tokens=P+C=T
tokens_of() { sed -n 's/.* tokens=\([0-9]*\)+\([0-9]*\)=\([0-9]*\).*/\1 \2 \3/p' <<<"$1"; }
bytes_of() { sed -n 's/.* bytes=\([0-9]*\)\/\([0-9]*\).*/\1 \2/p' <<<"$1"; }
sse_rid() { grep -i '^x-request-id:' "$SSE_HDRS" | head -1 | cut -d: -f2- | tr -d ' \r'; }

MSG='[{"role":"user","content":"count these five words please"}]'

echo "-- non-streamed: the reply's usage"
req POST $OA/chat/completions "{\"model\":\"us-llm\",\"messages\":$MSG}"
expect_status 200 "chat answers"
want=$(jq -r '.usage | "\(.prompt_tokens) \(.completion_tokens) \(.total_tokens)"' <<<"$BODY")
line=$(access_line "$(header X-Request-Id)")
expect_eq "$(tokens_of "$line")" "$want" "the record has the upstream's token counts"
[[ $line == *" chat model=us-llm provider=vllm upstream=200 "* && $line != *estimated* ]] &&
	pass "the record names kind, model, provider and upstream status; not estimated" ||
	fail "record fields" "line: $line"
read -r sent got <<<"$(bytes_of "$line")"
[[ ${sent:-0} -gt 0 && ${got:-0} -gt 0 ]] && pass "bytes both ways are counted" || fail "bytes" "line: $line"

req POST $OA/embeddings '{"model":"us-embed","input":["a","b","c"]}'
expect_status 200 "embeddings answer"
line=$(access_line "$(header X-Request-Id)")
expect_eq "$(tokens_of "$line")" "3 0 3" "embeddings: the upstream's usage (one token per input here)"

echo "-- streams: stackgate asks for usage and keeps the chunk to itself"
sse $OA/chat/completions "{\"model\":\"us-llm\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":$MSG}"
expect_eq "$SSE_STATUS" 200 "a stream with the client's include_usage"
usage=$(sse_json | jq -c 'select(.usage != null) | .usage')
expect_eq "$(wc -l <<<"$usage")" 1 "the client that asked gets the usage chunk"
expect_eq "$(sse_json | jq -r 'select(.usage != null) | .model')" us-llm "that chunk names the client's model"
want=$(jq -r '"\(.prompt_tokens) \(.completion_tokens) \(.total_tokens)"' <<<"$usage")
line=$(access_line "$(sse_rid)")
expect_eq "$(tokens_of "$line")" "$want" "the stream's record has the usage chunk's counts"
[[ $line == *" stream "* && $line != *estimated* && $line =~ ttft=[0-9]+ms ]] &&
	pass "the record says streamed, not estimated, with a time to first event" || fail "stream record" "line: $line"

sse $OA/chat/completions "{\"model\":\"us-llm\",\"stream\":true,\"messages\":$MSG}"
expect_eq "$SSE_STATUS" 200 "a stream without include_usage"
expect_eq "$(curl -s "$UP/_last?model=test-llm" | jq -c '.body.stream_options')" '{"include_usage":true}' \
	"the upstream was asked for usage"
expect_eq "$(sse_json | jq -c 'select(.usage != null or .choices == [])' | wc -l)" 0 \
	"the client that did not ask gets no usage chunk"
expect_eq "$(tail -1 "$SSE_FILE" | cut -d' ' -f2-)" "data: [DONE]" "the stream still ends with [DONE]"
expect_eq "$(sse_json | jq -r '.choices[0].delta.content // empty' | tr -d '\n')" "echo: count these five words please" \
	"every content chunk still arrives"
line=$(access_line "$(sse_rid)")
expect_eq "$(tokens_of "$line")" "$want" "its record has the upstream's counts all the same"

sse $OA/completions '{"model":"us-llm","stream":true,"prompt":"one two","stream_options":{"include_usage":false}}'
expect_eq "$(curl -s "$UP/_last?model=test-llm" | jq -c '.body.stream_options')" '{"include_usage":true}' \
	"include_usage false is turned on upstream"
expect_eq "$(sse_json | jq -c 'select(.usage != null)' | wc -l)" 0 "and that client gets no usage chunk"
line=$(access_line "$(sse_rid)")
[[ $line == *" completions model=us-llm "* && $line != *estimated* ]] && pass "completions streams are counted" ||
	fail "completions stream record" "line: $line"

echo "-- no usage: the estimate"
sse $OA/chat/completions "{\"model\":\"us-cut\",\"stream\":true,\"messages\":$MSG}"
line=$(access_line "$(sse_rid)")
read -r p c t <<<"$(tokens_of "$line")"
read -r sent got <<<"$(bytes_of "$line")"
[[ $line == *estimated* ]] && pass "a cut stream's record is estimated" || fail "cut stream estimated" "line: $line"
[[ -n $sent && ${got:-0} -gt 0 && $p == $((sent / 4)) && $c == $((got / 4)) && $t == $((p + c)) ]] &&
	pass "the estimate is request and reply bytes / 4" || fail "estimate from bytes" "line: $line"

req POST $OA/chat/completions "{\"model\":\"us-e400\",\"messages\":$MSG}"
expect_status 400 "an upstream 400 is relayed"
line=$(access_line "$(header X-Request-Id)")
[[ $line == *" upstream=400 "* && $line == *estimated* ]] && pass "a failed request has a record too" ||
	fail "failed request record" "line: $line"
