# SPDX-License-Identifier: Apache-2.0
# 48_usage.sh: what every inference request did (r->inference) and where it
# is accounted.  The test upstream (tests/upstream/server.js) reports usage
# in the reply body, and in a usage-only chunk when a stream asks for it
# (stream_options.include_usage); its "cut" mode breaks a stream off.
#
# The request's record shows in its access log line ("chat model=… tokens=
# P+C=T [estimated] bytes=SENT/RECEIVED …"), found by its X-Request-Id, and
# becomes its usage_log row (sql/006_usage.sql) within a second or so.
# Then: who may read usage (GET /v1/stackgate/usage), the CLI, 10,000
# requests under load, and PostgreSQL stopped while requests go on.
# Identifiers start with us-.

UP=$SG_UPSTREAM_URL
OA=/v1/openai/v1
LOG=$SG_RUN/logs/stackgate.log

echo "-- setup"
for m in "us-llm test-llm llm" "us-cut cut llm" "us-e400 err-400 llm" "us-embed test-embed embedding" \
	"us-load test-llm llm" "us-pgdown test-llm llm" "us-flush test-llm llm" "us-nomem test-llm llm" \
	"us-sendfail test-llm llm" "us-kept test-llm llm" "us-refused test-llm llm" "us-split test-llm llm"; do
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
# post_times N PATH BODY: POSTs BODY N times, one after the other; prints how many got 200.
post_times() {
	local ok=0 code
	for _ in $(seq "$1"); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
			--data-binary "$3" "$SG_URL$2")
		[[ $code == 200 ]] && ok=$((ok + 1))
	done
	printf '%s' "$ok"
}
# row_of RID: its usage_log row as JSON (waits for the writer's next flush).
row_of() {
	local row=""
	for _ in $(seq 50); do
		row=$(psql_q "SELECT row_to_json(u) FROM usage_log u WHERE request_id = '$1'" 2>/dev/null)
		[[ -n $row ]] && break
		sleep 0.1
	done
	printf '%s' "$row"
}
# expect_row RID JQ WANT NAME
expect_row() {
	local got
	got=$(jq -r "$2" <<<"$(row_of "$1")" 2>/dev/null) || got="<no row>"
	if [[ $got == "$3" ]]; then pass "$4"; else fail "$4" "usage_log row of $1: jq '$2': expected '$3', got '$got'"; fi
}
# count_rows WHERE N: waits until usage_log has N rows WHERE …; prints the count it saw last.
count_rows() {
	local n=0
	for _ in $(seq "${3:-100}"); do
		n=$(psql_q "SELECT count(*) FROM usage_log WHERE $1")
		[[ $n == "$2" ]] && break
		sleep 0.2
	done
	printf '%s' "$n"
}

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
rid=$(header X-Request-Id)
expect_row "$rid" '"\(.prompt_tokens) \(.completion_tokens) \(.total_tokens)"' "$want" "its usage_log row has the same counts"
expect_row "$rid" '[.model, .provider_id, .route, .status, .streamed, .estimated, .principal, .upstream_status,
	.ttft_ms, (.latency_ms > 0), (.upstream_ms > 0), .cost] | @json' \
	'["us-llm","vllm","/v1/openai/v1/chat/completions",200,false,false,null,200,null,true,true,null]' \
	"the row: model, provider, route, status, not streamed, not estimated, anonymous, times, no cost"

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
expect_row "$(sse_rid)" '[.streamed, .estimated, .total_tokens, (.ttft_ms > 0)] | @json' \
	"[true,false,$(cut -d' ' -f3 <<<"$want"),true]" "the stream's row: streamed, the chunk's tokens, a time to first token"
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
expect_row "$(sse_rid)" '[.streamed, .estimated, .total_tokens] | @json' "[true,false,$(cut -d' ' -f3 <<<"$want")]" \
	"and so has its row"

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
expect_row "$(sse_rid)" '[.estimated, .total_tokens, .streamed] | @json' "[true,${t:-0},true]" \
	"the cut stream's row is estimated, with the estimate"

req POST $OA/chat/completions "{\"model\":\"us-e400\",\"messages\":$MSG}"
expect_status 400 "an upstream 400 is relayed"
line=$(access_line "$(header X-Request-Id)")
[[ $line == *" upstream=400 "* && $line == *estimated* ]] && pass "a failed request has a record too" ||
	fail "failed request record" "line: $line"
expect_row "$(header X-Request-Id)" '[.status, .upstream_status, .estimated] | @json' '[400,400,true]' \
	"and a row with both statuses"

echo "-- cost from the model's prices"
req POST /v1/models '{"model_id":"us-priced","provider_id":"vllm","provider_model_id":"test-llm","metadata":{"input_cost_per_mtok":2.5,"output_cost_per_mtok":"10"}}'
expect_status 200 "register a model with prices"
req POST $OA/chat/completions "{\"model\":\"us-priced\",\"messages\":$MSG}"
p=$(jq -r .usage.prompt_tokens <<<"$BODY")
c=$(jq -r .usage.completion_tokens <<<"$BODY")
want_cost=$(jq -n "($p * 2.5 + $c * 10) / 1000000 | . * 1e9 | round")
expect_row "$(header X-Request-Id)" '.cost * 1e9 | round' "$want_cost" "cost = prompt × input price + completion × output price, per million"

echo "-- who reads usage: GET /v1/stackgate/usage"
KA=$(sg_principal_key us-alice --team us-a)
KB=$(sg_principal_key us-bob --team us-b)
KADM=$(sg_principal_key us-admin --role admin)
for i in 1 2; do as "$KA" POST $OA/chat/completions "{\"model\":\"us-llm\",\"messages\":$MSG}"; done
expect_status 200 "alice's chat"
alice_tokens=$(jq -r .usage.total_tokens <<<"$BODY")
as "$KB" POST $OA/completions '{"model":"us-llm","prompt":"bob was here"}'
expect_status 200 "bob's completion"
bob_tokens=$(jq -r .usage.total_tokens <<<"$BODY")
alice_key=$(psql_q "SELECT key_id FROM api_keys WHERE principal = 'us-alice'" 2>/dev/null | head -1)
n=$(count_rows "principal IN ('us-alice','us-bob')" 3)
expect_eq "$n" 3 "three rows for alice and bob"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE principal = 'us-alice' AND key_id IS NOT NULL AND key_id = '$alice_key'")" 2 \
	"alice's rows name the key she used"

as "$KA" GET /v1/stackgate/usage
expect_status 200 "alice reads usage"
expect_jq '[.data[].principal] | unique | @json' '["us-alice"]' "alice sees her own rows only"
expect_jq '[.data[] | select(.model == "us-llm")][0] | [.requests, .total_tokens] | @json' "[2,$((alice_tokens * 2))]" \
	"her usage_daily row: 2 requests and their tokens"
as "$KA" GET "/v1/stackgate/usage?principal=us-bob"
expect_status 200 "alice asks for bob's usage"
expect_jq 'if .object == "list" then .data | length else "not a list" end' 0 "and sees nothing, as if bob had none"
as "$KB" GET "/v1/stackgate/usage?model=us-llm"
expect_jq '[.data[] | [.principal, .model, .requests, .total_tokens]] | @json' "[[\"us-bob\",\"us-llm\",1,$bob_tokens]]" \
	"bob sees his one request"
as "" GET /v1/stackgate/usage
expect_status 200 "an anonymous caller reads usage"
expect_jq 'if .object == "list" then .data | length else "not a list" end' 0 "and sees no one's"
as "$KADM" GET "/v1/stackgate/usage?since=2000-01-01"
expect_jq '[.data[].principal | select(. == "us-alice" or . == "us-bob")] | unique | @json' '["us-alice","us-bob"]' \
	"an admin sees everyone's"
as "$KADM" GET "/v1/stackgate/usage?principal=us-bob&model=us-llm"
expect_jq '[.data[].principal] | unique | @json' '["us-bob"]' "an admin filters by principal"
tomorrow=$(date -u -d tomorrow +%F)
as "$KADM" GET "/v1/stackgate/usage?since=$tomorrow"
expect_jq 'if .object == "list" then .data | length else "not a list" end' 0 "since filters by day"
for bad in "since=yesterday" "since=2026-02-30" "since=2026-1-01" "principal=" "model="; do
	as "$KADM" GET "/v1/stackgate/usage?$bad"
	expect_status 400 "?$bad is 400"
	expect_jq .error.param "${bad%%=*}" "?$bad names the parameter"
done

echo "-- the CLI"
out=$(sg_cli usage --principal us-alice --json)
expect_eq "$(jq -c '[.[] | [.principal, .model, .requests, .total_tokens]]' <<<"$out")" "[[\"us-alice\",\"us-llm\",2,$((alice_tokens * 2))]]" \
	"usage --principal --json: an array of usage_daily rows"
expect_eq "$(jq -r '.[0] | keys | join(",")' <<<"$out")" \
	"completion_tokens,cost,day,model,principal,prompt_tokens,requests,total_tokens" "with every column of usage_daily"
out=$(sg_cli usage --model us-priced)
expect_eq "$(head -1 <<<"$out")" "$(printf 'day\tprincipal\tmodel\trequests\tprompt_tokens\tcompletion_tokens\ttotal_tokens\tcost')" \
	"usage prints a header"
expect_eq "$(tail -n +2 <<<"$out" | cut -f2,3,4,8)" \
	"$(awk -v c="$(psql_q "SELECT cost FROM usage_log WHERE model = 'us-priced'")" 'BEGIN { printf "-\tus-priced\t1\t%.6f", c }')" \
	"and one line per day, principal and model, with the cost"
sg_cli usage --since 31-12-2026 >/dev/null 2>"$SG_TEST_DIR/tmp/usage-cli.err"
rc=$?
expect_eq "$rc $(grep -c 'since must be a date' "$SG_TEST_DIR/tmp/usage-cli.err")" "2 1" "a bad --since is a usage error naming it"

# The test config's usage.queue_size is 2,000: each worker's queue goes round several times here.
echo "-- 10,000 requests under load: 10,000 rows with the upstream's counts"
LOAD_BODY=$SG_TEST_DIR/tmp/usage-load.json
printf '%s' "{\"model\":\"us-load\",\"messages\":$MSG}" >"$LOAD_BODY"
req POST $OA/chat/completions "$(cat "$LOAD_BODY")"
load_total=$(jq -r .usage.total_tokens <<<"$BODY")
[[ -n $(row_of "$(header X-Request-Id)") ]] || fail "the probe's row arrives"
psql_q "DELETE FROM usage_log WHERE model = 'us-load'" >/dev/null
CURLCFG=$SG_TEST_DIR/tmp/usage-load.curl
# One curl, 16 transfers at a time (under the default concurrency cap and the reserved threads of limits); "next" separates them (one after the last would be an empty transfer).
for i in $(seq 10000); do
	((i > 1)) && echo next
	printf 'url = "%s%s/chat/completions"\ndata-binary = "@%s"\nheader = "Content-Type: application/json"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
		"$SG_URL" "$OA" "$LOAD_BODY"
done >"$CURLCFG"
codes=$(curl -s -Z --parallel-max 16 -K "$CURLCFG" 2>/dev/null | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')
expect_eq "$codes" "200:10000 " "10,000 chat completions under load, all 200"
n=$(count_rows "model = 'us-load'" 10000 150)
expect_eq "$n" 10000 "exactly 10,000 usage_log rows"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-load' AND total_tokens = $load_total AND NOT estimated")" 10000 \
	"every one with the upstream's token count ($load_total), none estimated"
expect_eq "$(psql_q "SELECT count(DISTINCT request_id) FROM usage_log WHERE model = 'us-load'")" 10000 "one row per request id"
# usage_daily reads usage_daily_totals, which triggers on usage_log keep (sql/010): the probe's row was
# deleted above, 10,000 were copied in by the writers of both workers.
expect_eq "$(psql_q "SELECT requests || ' ' || total_tokens FROM usage_daily WHERE model = 'us-load'")" \
	"10000 $((load_total * 10000))" "usage_daily: 10,000 requests and their tokens (the deleted probe's taken away)"

echo "-- PostgreSQL stopped: requests go on, rows wait in the queue"
if pg_down; then
	pass "stop PostgreSQL"
	expect_eq "$(post_times 200 $OA/chat/completions "{\"model\":\"us-pgdown\",\"messages\":$MSG}")" 200 \
		"200 chat completions while PostgreSQL is down: all 200"
	sleep 2
	pg_up && pass "start PostgreSQL again" || fail "start PostgreSQL again" "see postgresql.log"
	n=$(count_rows "model = 'us-pgdown'" 200 150)
	expect_eq "$n" 200 "all 200 rows arrive once PostgreSQL is back"
	grep -q "usage: cannot reach PostgreSQL" "$LOG" && pass "the writer logged the outage" ||
		fail "the writer logged the outage"
	grep -qE "usage: .*dropped" "$LOG" && fail "no row was dropped" "the log says rows were dropped" ||
		pass "no row was dropped"
else
	fail "stop PostgreSQL" "pg_ctl stop failed"
fi

echo "-- a graceful stop writes what is queued"
SLOW_CONF=$SG_TEST_DIR/tmp/usage-slow-flush.json
jq '.usage = {flush_interval_ms: 60000}' "$SG_CONFIG" >"$SLOW_CONF"
sg_restart_daemon "$SLOW_CONF" && pass "restart with a flush interval of a minute" || fail "restart (slow flush)"
expect_eq "$(post_times 20 $OA/completions '{"model":"us-flush","prompt":"flush me"}')" 20 "20 completions, all 200"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-flush'")" 0 \
	"their rows wait in the queue (the next flush is a minute away)"
sg_restart_daemon && pass "stop gracefully and start with the test config" || fail "restart (test config)"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-flush'")" 20 \
	"the stop wrote all 20 before the workers exited"

# A test knob of ./dev builds: every second of each writer's first 4 pieces fails halfway through its
# build, as when memory runs out, or fails to go out with the connection still up (libpq could not
# take it), after the piece before it went into the open COPY.  The requests come in three bursts, so
# that pieces follow one another in one COPY.  Every row must come in once.
piece_fails() { # KNOB VERB MODEL WHAT: VERB is what the log says of the piece ("build", "send")
	local knob=$1 verb=$2 model=$3 log_mark ok given_up
	echo "-- a piece that cannot be $4: its COPY is given up, the rows wait"
	log_mark=$(wc -l <"$LOG")
	export "$knob=2"
	sg_restart_daemon && pass "restart with the writers' pieces failing to $verb" || fail "restart ($knob)"
	unset "$knob"
	grep -qF "test knob: every second of the usage writer's first 4 pieces fails to $verb" "$LOG" &&
		pass "the knob is on (test knob)" ||
		fail "the test knob is on" "no 'test knob:' line in the log (is this a ./dev build?)"
	ok=0
	for burst in 1 2 3; do
		ok=$((ok + $(post_times 10 $OA/completions "{\"model\":\"$model\",\"prompt\":\"$verb me\"}")))
		((burst < 3)) && sleep 1.5
	done
	expect_eq "$ok" 30 "30 completions in three bursts, all 200"
	expect_eq "$(count_rows "model = '$model'" 30 100)" 30 "all 30 rows arrive after the failed pieces"
	expect_eq "$(psql_q "SELECT count(DISTINCT request_id) FROM usage_log WHERE model = '$model'")" 30 \
		"each once (a given-up COPY writes none of its rows)"
	# "could not VERB the COPY data of P rows (…): the COPY is given up, its C rows wait": C > P when
	# rows went before the piece.
	given_up=$(tail -n +$((log_mark + 1)) "$LOG" |
		sed -n "s/.*usage: could not $verb the COPY data of \([0-9]*\) rows (.*): the COPY is given up, its \([0-9]*\) rows wait.*/\1 \2/p")
	(($(wc -l <<<"$given_up") >= 1)) && [[ -n $given_up ]] && pass "the writers logged the pieces they could not $verb" ||
		fail "a log line of the piece they could not $verb" "none"
	awk '$2 > $1 { found = 1 } END { exit !found }' <<<"$given_up" &&
		pass "one of them was given up after rows of its COPY had been sent" ||
		fail "a COPY given up after a piece of it was sent" "lines: $given_up"
	expect_eq "$(tail -n +$((log_mark + 1)) "$LOG" | grep -c 'usage: .*dropped')" 0 "and no line says rows were dropped"
	sg_restart_daemon && pass "restart with the test config" || fail "restart (test config, after $knob)"
}
piece_fails STACKGATE_TEST_USAGE_PIECE_FAILS build us-nomem "built (out of memory)"
piece_fails STACKGATE_TEST_USAGE_PIECE_SEND_FAILS send us-sendfail "sent (libpq could not take it)"

echo "-- a row PostgreSQL refuses costs only itself"
# A CHECK that refuses us-refused's rows (SQLSTATE 23514, as a day without its partition is: the
# writer makes the partitions, copies again, then tries the rows again in halves).  The minute's flush
# keeps all 15 in one COPY until the graceful stop.
psql_q "ALTER TABLE usage_log ADD CONSTRAINT us_refuse CHECK (model <> 'us-refused')" >/dev/null
log_mark=$(wc -l <"$LOG")
sg_restart_daemon "$SLOW_CONF" && pass "restart with a flush interval of a minute" || fail "restart (slow flush)"
for i in $(seq 5); do
	post_times 2 $OA/completions '{"model":"us-kept","prompt":"keep me"}' >/dev/null
	post_times 1 $OA/completions '{"model":"us-refused","prompt":"refuse me"}' >/dev/null
done
sg_restart_daemon && pass "stop gracefully and start with the test config" || fail "restart (test config)"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-kept'")" 10 \
	"the 10 rows PostgreSQL takes are written beside the 5 it refuses"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-refused'")" 0 "the refused ones are not"
# Each worker's writer logs its own: "refused R of N rows"; summed, 5 of 15.
# refused_lines MARK: "R N C" for each writer's line since MARK: R of N rows refused, in C COPYs.
refused_lines() {
	tail -n +$(($1 + 1)) "$LOG" |
		sed -n 's/.*usage: PostgreSQL refused \([0-9]*\) of \([0-9]*\) rows (SQLSTATE 23514; \([0-9]*\) COPYs to find them): they are dropped.*/\1 \2 \3/p'
}
refusals=$(refused_lines "$log_mark" | awk '{ r += $1; n += $2 } END { print r + 0, n + 0 }')
expect_eq "$refusals" "5 15" "the writers logged 5 of the 15 rows as refused and dropped"

# One bad row among 60: the refused COPY is split in halves, not retried row by row.
log_mark=$(wc -l <"$LOG")
sg_restart_daemon "$SLOW_CONF" && pass "restart with a flush interval of a minute" || fail "restart (slow flush)"
post_times 30 $OA/completions '{"model":"us-kept","prompt":"keep me"}' >/dev/null
post_times 1 $OA/completions '{"model":"us-refused","prompt":"refuse me"}' >/dev/null
post_times 29 $OA/completions '{"model":"us-kept","prompt":"keep me"}' >/dev/null
# The writers make the partitions from the day they start on (usage_maintain): at this restart or
# just after it, should midnight (UTC) come between.
start_day=$(date -u +%F)
sg_restart_daemon && pass "stop gracefully and start with the test config" || fail "restart (test config)"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-kept'")" 69 "the 59 good rows are written"
read -r r n c <<<"$(refused_lines "$log_mark")"
expect_eq "$r" 1 "one row refused and dropped"
((n >= 8 && c < n)) && pass "found in $c COPYs among its writer's $n rows (halves, not one by one)" ||
	fail "found in few COPYs" "$c COPYs for $n rows"
psql_q "ALTER TABLE usage_log DROP CONSTRAINT us_refuse" >/dev/null

# A COPY refused whole whose halves PostgreSQL takes (a statement trigger that refuses more than 8
# us-split rows at once, SQLSTATE 23505): every row is written, none is said to be dropped.
psql_q "CREATE FUNCTION us_split_refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
		IF (SELECT count(*) FROM new_rows WHERE model = 'us-split') > 8 THEN
			RAISE EXCEPTION 'too many us-split rows at once' USING ERRCODE = '23505';
		END IF;
		RETURN NULL;
	END \$\$;
	CREATE TRIGGER us_split_refuse AFTER INSERT ON usage_log REFERENCING NEW TABLE AS new_rows
		FOR EACH STATEMENT EXECUTE FUNCTION us_split_refuse()" >/dev/null
log_mark=$(wc -l <"$LOG")
sg_restart_daemon "$SLOW_CONF" && pass "restart with a flush interval of a minute" || fail "restart (slow flush)"
post_times 40 $OA/completions '{"model":"us-split","prompt":"split me"}' >/dev/null
sg_restart_daemon && pass "stop gracefully and start with the test config" || fail "restart (test config)"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-split'")" 40 \
	"all 40 rows are written, in COPYs of 8 rows or fewer"
took=$(tail -n +$((log_mark + 1)) "$LOG" | grep -c 'usage: PostgreSQL refused a COPY of [0-9]* rows (SQLSTATE 23505), then took all of them')
((took >= 1)) && pass "the writers logged the refusal as taken in smaller COPYs (lines: $took)" ||
	fail "a log line of the COPY taken in smaller ones" "none"
expect_eq "$(tail -n +$((log_mark + 1)) "$LOG" | grep -c 'COPYs to find them): they are dropped')" 0 \
	"and no line says rows were dropped"
psql_q "DROP TRIGGER us_split_refuse ON usage_log; DROP FUNCTION us_split_refuse()" >/dev/null

echo "-- partitions: by day, ahead of time, dropped past the retention"
# Days as PostgreSQL sees them, so that midnight (UTC) during the test changes nothing: the load's
# day (its first row's), and 7 days past the writers' start, which may be the day before it.
today=$(psql_q "SELECT to_char(min(ts) AT TIME ZONE 'UTC', 'YYYYMMDD') FROM usage_log WHERE model = 'us-load'")
ahead=$(date -u -d "$start_day +7 days" +%Y%m%d)
expect_eq "$(psql_q "SELECT count(*) FROM pg_class WHERE relname IN ('usage_log_p$today', 'usage_log_p$ahead')")" 2 \
	"the load's day has its partition, and the day 7 days past the writers' start has one"
psql_q "CREATE TABLE usage_log_p20200101 PARTITION OF usage_log FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-01-02 00:00+00');
	INSERT INTO usage_log (ts, request_id, model, route, status, streamed, prompt_tokens, completion_tokens, total_tokens,
		estimated, latency_ms) VALUES ('2020-01-01 12:00+00', 'us-old', 'us-llm', '/x', 200, false, 1, 1, 2, false, 1)" >/dev/null
expect_eq "$(psql_q "SELECT count(*) FROM usage_daily WHERE day = '2020-01-01'")" 1 "an old day's row shows in usage_daily"
expect_eq "$(psql_q "SELECT usage_maintain(90, 7)")" 1 "usage_maintain drops the one partition past 90 days"
expect_eq "$(psql_q "SELECT count(*) FROM pg_class WHERE relname = 'usage_log_p20200101'")" 0 "its table is gone (no DELETE)"
expect_eq "$(psql_q "SELECT count(*) FROM usage_daily WHERE day = '2020-01-01'")" 0 "and its day's totals with it"
expect_eq "$(psql_q "SELECT count(*) FROM usage_log WHERE model = 'us-load'")" 10000 "today's rows stay"
expect_eq "$(psql_q "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes
	WHERE tablename = 'usage_log_p$today'")" \
	"CREATE INDEX usage_log_p${today}_ts_idx ON public.usage_log_p$today USING brin (ts)" \
	"a day's partition has the one index, a BRIN on ts: every index is paid per request (sql/010)"

echo "-- usage_daily_totals: exact for any change of usage_log"
# What usage_daily shows against the same sums taken from usage_log itself, for every day, principal and model.
totals_match() {
	local diff
	diff=$(psql_q "SELECT count(*) FROM (
		(SELECT day, principal, model, requests, prompt_tokens, completion_tokens, total_tokens, cost FROM usage_daily
		 EXCEPT SELECT (ts AT TIME ZONE 'UTC')::date, principal, model, count(*), sum(prompt_tokens),
			sum(completion_tokens), sum(total_tokens), sum(cost) FROM usage_log GROUP BY 1, 2, 3)
		UNION ALL
		(SELECT (ts AT TIME ZONE 'UTC')::date, principal, model, count(*), sum(prompt_tokens),
			sum(completion_tokens), sum(total_tokens), sum(cost) FROM usage_log GROUP BY 1, 2, 3
		 EXCEPT SELECT day, principal, model, requests, prompt_tokens, completion_tokens, total_tokens, cost
		 FROM usage_daily)) AS d")
	expect_eq "$diff" 0 "$1"
}
totals_match "usage_daily equals usage_log's sums after the load, the deletes and the dropped partition"
# Three rows of the load's first day (the load may cross midnight), a day back.
psql_q "UPDATE usage_log SET principal = 'us-moved', ts = ts - interval '1 day', cost = 2.5
	WHERE request_id IN (SELECT request_id FROM usage_log WHERE model = 'us-load'
		AND ts < date_trunc('day', (SELECT min(ts) FROM usage_log WHERE model = 'us-load') AT TIME ZONE 'UTC')
			AT TIME ZONE 'UTC' + interval '1 day' LIMIT 3)" >/dev/null
expect_eq "$(psql_q "SELECT day || ' ' || requests || ' ' || cost FROM usage_daily WHERE principal = 'us-moved'")" \
	"$(date -u -d "$today -1 day" +%F) 3 7.5" "an UPDATE moves rows to another day and principal, with a cost"
psql_q "INSERT INTO usage_log (ts, request_id, principal, model, route, status, streamed, prompt_tokens,
	completion_tokens, total_tokens, estimated, latency_ms) VALUES (now(), 'us-anon-1', NULL, 'us-anon', '/x', 200,
	false, 1, 2, 3, false, 1), (now(), 'us-anon-2', NULL, 'us-anon', '/x', 200, false, 1, 2, 3, false, 1)" >/dev/null
expect_eq "$(psql_q "SELECT count(*) || ' ' || sum(requests) FROM usage_daily WHERE model = 'us-anon'")" "1 2" \
	"anonymous requests (no principal) share one total"
psql_q "DELETE FROM usage_log WHERE request_id = 'us-anon-1'" >/dev/null
totals_match "usage_daily equals usage_log's sums after an UPDATE, an INSERT and a DELETE by hand"
psql_q "DELETE FROM usage_log WHERE model = 'us-anon'" >/dev/null
expect_eq "$(psql_q "SELECT count(*) FROM usage_daily_totals WHERE model = 'us-anon'")" 0 \
	"a total whose rows are all deleted is gone"
psql_q "UPDATE usage_daily_totals SET requests = requests + 5 WHERE model = 'us-load'" >/dev/null
psql_q "SELECT usage_totals_rebuild()" >/dev/null
totals_match "usage_totals_rebuild() recomputes totals that went wrong"

echo "-- an upstream that refuses stream_options: config.stream_usage false"
req POST /v1/models '{"model_id":"us-nosu-on","provider_id":"vllm","provider_model_id":"no-stream-options"}'
expect_status 200 "register a model whose upstream refuses stream_options"
sse $OA/chat/completions "{\"model\":\"us-nosu-on\",\"stream\":true,\"messages\":$MSG}"
expect_eq "$SSE_STATUS" 400 "asking it for usage fails the stream (why the switch exists)"
NOSU_CONF=$SG_TEST_DIR/tmp/usage-nosu.json
jq --arg u "$SG_UPSTREAM_URL/v1" '.providers.inference += [{provider_id: "vllm-nosu", provider_type: "remote::vllm",
	config: {url: $u, stream_usage: false, check_model_on_register: false}}]' "$SG_CONFIG" >"$NOSU_CONF"
sg_restart_daemon "$NOSU_CONF" && pass "restart with a provider that has stream_usage false" || fail "restart (nosu)"
req POST /v1/models '{"model_id":"us-nosu","provider_id":"vllm-nosu","provider_model_id":"no-stream-options"}'
expect_status 200 "register a model on it"
sse $OA/chat/completions "{\"model\":\"us-nosu\",\"stream\":true,\"messages\":$MSG}"
expect_eq "$SSE_STATUS" 200 "its streams work"
expect_eq "$(curl -s "$UP/_last?model=no-stream-options" | jq -c '.body | has("stream_options")')" false \
	"the upstream was not sent stream_options"
expect_row "$(sse_rid)" '[.estimated, .total_tokens > 0] | @json' '[true,true]' "the row is estimated"
sg_restart_daemon && pass "restart with the test config" || fail "restart (test config, after nosu)"
req DELETE /v1/models/us-nosu
