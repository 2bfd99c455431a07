# SPDX-License-Identifier: Apache-2.0
# 55_metrics.sh: GET /metrics scraped by a real Prometheus (Debian's prometheus, on
# SG_PORT+50, scrape interval 1 s, its data under var/test), checked through its
# query API: request counts by route and status match the requests sent; a worker
# killed with SIGKILL makes no counter go down (no reset seen by Prometheus) and
# counts as a restart; promtool check metrics passes; /metrics is refused to
# addresses nginx does not allow and to any location but the metrics one.

PROM_PORT=$((SG_PORT + 50))
PROM_URL=http://127.0.0.1:$PROM_PORT
PROM_DIR=$SG_TEST_DIR/prometheus
PROM_PID=""

stop_prometheus() {
	if [[ -n $PROM_PID ]]; then
		kill -TERM "$PROM_PID" 2>/dev/null
		wait "$PROM_PID" 2>/dev/null
		PROM_PID=""
	fi
}
trap stop_prometheus EXIT

# prom_value QUERY: the value of an instant query's first sample ("" when none).
prom_value() {
	curl -s --max-time 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}

# prom_wait QUERY WANT: waits (at most 30 s) until QUERY's value is WANT; sets GOT.
prom_wait() {
	for _ in $(seq 150); do
		GOT=$(prom_value "$1")
		[[ $GOT == "$2" ]] && return 0
		sleep 0.2
	done
	return 1
}

# The value of one series in stackgate's own /metrics now (0 when absent).
metric_now() {
	curl -s "$SG_URL/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v == "" ? 0 : v }'
}

echo "-- /metrics directly"
req GET /metrics
expect_status 200 "GET /metrics from loopback answers 200 without a key"
ctype=$(header Content-Type)
expect_eq "$ctype" "text/plain; version=0.0.4; charset=utf-8" "/metrics is the Prometheus text format"
for fam in stackgate_requests_total stackgate_request_duration_seconds stackgate_upstream_duration_seconds \
	stackgate_time_to_first_token_seconds stackgate_tokens_total stackgate_inflight_requests \
	stackgate_streams_open stackgate_threads stackgate_upstream_errors_total stackgate_registry_cache_hits_total \
	stackgate_registry_cache_misses_total stackgate_registry_objects stackgate_db_errors_total \
	stackgate_worker_restarts_total stackgate_build_info stackgate_rate_limited_total \
	stackgate_usage_rows_dropped_total; do
	if grep -q "^# TYPE $fam " <<<"$BODY"; then pass "family $fam exported"; else fail "family $fam exported"; fi
done
version=$(curl -s "$SG_URL/v1/version" | jq -r .version)
if grep -qx "stackgate_build_info{version=\"$version\"} 1" <<<"$BODY"; then
	pass "stackgate_build_info carries the running version"
else
	fail "stackgate_build_info carries the running version" "version $version"
fi

echo "-- /metrics refused elsewhere"
# 127.0.0.2 is loopback to the kernel but not to nginx's allow list (127.0.0.1, ::1).
STATUS=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$SG_URL/metrics")
REQ_DESC="GET /metrics from 127.0.0.2"
expect_status 403 "/metrics from an address nginx does not allow is refused"
# What the public location sends (no STACKGATE_METRICS param), straight to stackgate's socket.
direct=$(env -i REQUEST_METHOD=GET REQUEST_URI=/metrics SCRIPT_NAME=/metrics QUERY_STRING= \
	STACKGATE_PRINCIPAL=alice cgi-fcgi -bind -connect "$SG_RUN/stackgate.sock" 2>/dev/null | tr -d '\r')
REQ_DESC="FastCGI GET /metrics without STACKGATE_METRICS"
STATUS=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' <<<"$direct" | head -1)
BODY=$(sed '1,/^$/d' <<<"$direct")
expect_status 404 "/metrics through any other location (no STACKGATE_METRICS param) looks missing"
expect_jq .error.message "no route for /metrics" "and says so like any unknown path"
if grep -q '^stackgate_' <<<"$direct"; then fail "no metric leaks to the other location"; else pass "no metric leaks to the other location"; fi

echo "-- promtool"
# An inference request first, so upstream, token and TTFT series exist when usage is recorded.
req POST /v1/models '{"model_id":"metrics-llm","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "register metrics-llm"
req POST /v1/openai/v1/chat/completions '{"model":"metrics-llm","messages":[{"role":"user","content":"hi"}]}'
expect_status 200 "a chat completion through stackgate"
timing=$(header Server-Timing)
if [[ $timing =~ ^gateway\;dur=[0-9]+\.[0-9]{3},\ upstream\;dur=[0-9]+\.[0-9]{3}$ ]]; then
	pass "a proxied answer carries Server-Timing: gateway;dur=…, upstream;dur=…"
else
	fail "a proxied answer carries Server-Timing: gateway;dur=…, upstream;dur=…" "got '$timing'"
fi
req GET /v1/models
if [[ -z $(header Server-Timing) ]]; then pass "an answer without an upstream call has no Server-Timing"; else fail "an answer without an upstream call has no Server-Timing"; fi
echo "-- limits"
sg_cli principal add t55-p >/dev/null 2>&1
K55=$(sg_cli key create t55-p 2>/dev/null)
sg_cli limit set t55-p --rpm 1 >/dev/null 2>&1
sleep 1 # the limits sync brings the rule to every worker within a second
while (($(date -u +%-S) > 50)); do sleep 1; done # the three requests in one rpm window
rl0=$(metric_now 'stackgate_rate_limited_total{reason="rpm"}')
n429=0
for _ in 1 2 3; do
	as "$K55" POST /v1/openai/v1/chat/completions '{"model":"metrics-llm","messages":[{"role":"user","content":"limited"}]}'
	[[ $STATUS == 429 ]] && n429=$((n429 + 1))
done
expect_eq "$n429" 2 "rpm 1: two of three requests are refused with 429"
expect_eq "$(metric_now 'stackgate_rate_limited_total{reason="rpm"}')" $((rl0 + n429)) \
	"stackgate_rate_limited_total{reason=\"rpm\"} counts them"
sg_cli limit clear t55-p >/dev/null 2>&1

echo "-- a stream"
# 30 events 100 ms apart (vllm-short: a provider that does not check the model): open for about 3 s,
# while the gauges are read.
req POST /v1/models '{"model_id":"metrics-stream","provider_id":"vllm-short","provider_model_id":"stream-30-100"}'
expect_status 200 "register metrics-stream"
curl -sN -D "$SG_TEST_DIR/tmp/stream.hdrs" -o "$SG_TEST_DIR/tmp/stream.body" --max-time 30 \
	-H 'Content-Type: application/json' "$SG_URL/v1/openai/v1/chat/completions" \
	--data-binary '{"model":"metrics-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}' &
sse_pid=$!
open=0
for _ in $(seq 100); do
	open=$(metric_now stackgate_streams_open)
	[[ $open == 1 ]] && break
	sleep 0.02
done
expect_eq "$open" 1 "stackgate_streams_open counts the stream while it is open"
expect_eq "$(metric_now 'stackgate_inflight_requests{route="/v1/openai/v1/chat/completions"}')" 1 \
	"stackgate_inflight_requests counts it on its route"
wait "$sse_pid"
expect_eq "$(metric_now stackgate_streams_open)" 0 "stackgate_streams_open is 0 once it ended"
expect_eq "$(metric_now 'stackgate_inflight_requests{route="/v1/openai/v1/chat/completions"}')" 0 \
	"and nothing is in flight on its route"
timing=$(grep -i '^Server-Timing:' "$SG_TEST_DIR/tmp/stream.hdrs" | cut -d: -f2- | sed 's/^ //; s/\r$//')
if grep -q '^data: \[DONE\]' "$SG_TEST_DIR/tmp/stream.body"; then pass "the stream ended with [DONE]"; else fail "the stream ended with [DONE]"; fi
up_ms=$(sed -n 's/.*upstream;dur=\([0-9]*\)\..*/\1/p' <<<"$timing")
if [[ -n $up_ms ]] && ((up_ms < 2000)); then
	pass "a stream's headers carry Server-Timing, written at the headers (upstream ${up_ms} ms, not the 3 s stream)"
else
	fail "a stream's headers carry Server-Timing, written at the headers" "got '$timing'"
fi
expect_eq "$(metric_now 'stackgate_time_to_first_token_seconds_count{provider="vllm-short",model="metrics-stream"}')" 1 \
	"the stream's time to first token is in its {provider,model} histogram"

curl -s "$SG_URL/metrics" >"$SG_TEST_DIR/tmp/metrics.txt"
if lint=$(promtool check metrics <"$SG_TEST_DIR/tmp/metrics.txt" 2>&1); then
	pass "promtool check metrics passes"
else
	fail "promtool check metrics passes" "$lint"
fi

echo "-- Prometheus"
mkdir -p "$PROM_DIR/data"
cat >"$PROM_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: stackgate
    metrics_path: /metrics
    static_configs:
      - targets: ['127.0.0.1:$SG_PORT']
EOF
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$SG_RUN/logs/prometheus.log" 2>&1 &
PROM_PID=$!
if prom_wait 'up{job="stackgate"}' 1; then
	pass "Prometheus scrapes the test stack"
else
	fail "Prometheus scrapes the test stack" "up is '$GOT'; $(tail -5 "$SG_RUN/logs/prometheus.log")"
fi

V='sum(stackgate_requests_total{route="/v1/version",method="GET",status="200"})'
N='sum(stackgate_requests_total{route="/v1/models/{model_id:path}",method="GET",status="404"})'
base_v=$(metric_now 'stackgate_requests_total{route="/v1/version",method="GET",status="200"}')
base_n=$(metric_now 'stackgate_requests_total{route="/v1/models/{model_id:path}",method="GET",status="404"}')
for _ in $(seq 40); do curl -s -o /dev/null "$SG_URL/v1/version"; done
for i in $(seq 7); do curl -s -o /dev/null "$SG_URL/v1/models/metrics-missing-$i"; done
if prom_wait "$V" $((base_v + 40)); then
	pass "Prometheus counts the 40 GET /v1/version as 200 on route /v1/version"
else
	fail "Prometheus counts the 40 GET /v1/version as 200 on route /v1/version" "want $((base_v + 40)), got '$GOT'"
fi
if prom_wait "$N" $((base_n + 7)); then
	pass "Prometheus counts the 7 unknown models as 404 on route /v1/models/{model_id:path}, not by path"
else
	fail "Prometheus counts the 7 unknown models as 404 on route /v1/models/{model_id:path}, not by path" \
		"want $((base_n + 7)), got '$GOT'"
fi
if [[ -z $(prom_value 'count(stackgate_requests_total{route=~".*metrics-missing.*"})') ]]; then
	pass "no route label carries a request path"
else
	fail "no route label carries a request path"
fi

echo "-- a killed worker"
# The worker that served the most of those requests (the access log names its pid), so its
# counts are a real part of the total.
victim=$(grep -F 'GET /v1/version 200' "$SG_RUN/logs/stackgate.log" | sed -n 's/.* \[\([0-9]*\)\].*/\1/p' |
	sort | uniq -c | sort -rn | awk '{print $2}' | while read -r p; do
		if grep -qx "$p" <<<"$(sg_worker_pids)"; then echo "$p"; break; fi
	done)
served=$(grep -F "[$victim] " "$SG_RUN/logs/stackgate.log" | grep -cF "GET /v1/version 200")
restarts0=$(metric_now stackgate_worker_restarts_total)
before=$(metric_now 'stackgate_requests_total{route="/v1/version",method="GET",status="200"}')
if [[ -n $victim ]] && ((served > 0)); then
	pass "a live worker ($victim) served some of the requests"
else
	fail "a live worker served some of the requests" "victim '$victim', workers $(sg_worker_pids | tr '\n' ' ')"
fi
kill -9 "$victim" 2>/dev/null
for _ in $(seq 100); do
	[[ $(sg_worker_pids | wc -l) -ge 2 ]] && ! grep -qx "$victim" <<<"$(sg_worker_pids)" && break
	sleep 0.1
done
after=$(metric_now 'stackgate_requests_total{route="/v1/version",method="GET",status="200"}')
expect_eq "$after" "$before" "the host's count is the same after the worker that served part of it was killed"
expect_eq "$(metric_now stackgate_worker_restarts_total)" $((restarts0 + 1)) \
	"stackgate_worker_restarts_total counts the replaced worker"
for _ in $(seq 5); do curl -s -o /dev/null "$SG_URL/v1/version"; done
if prom_wait "$V" $((before + 5)); then
	pass "Prometheus sees the count go on from where it was (+5)"
else
	fail "Prometheus sees the count go on from where it was (+5)" "want $((before + 5)), got '$GOT'"
fi
resets=$(prom_value 'sum(resets(stackgate_requests_total[10m]))')
expect_eq "$resets" 0 "no stackgate_requests_total series went down in Prometheus's samples"
# The in-flight gauge of the dead worker is dropped, not leaked: nothing is in flight now but this scrape.
inflight=$(curl -s "$SG_URL/metrics" | awk '$1 ~ /^stackgate_inflight_requests\{/ && $1 !~ /metrics/ { s += $2 } END { print s + 0 }')
expect_eq "$inflight" 0 "no request in flight is left counted after the kill"

stop_prometheus
trap - EXIT

echo "-- metrics off, JSON logs"
jq '.metrics.enabled = false | .server.log_format = "json"' "$SG_CONFIG" >"$SG_TEST_DIR/tmp/metrics-off.json"
if sg_restart_daemon "$SG_TEST_DIR/tmp/metrics-off.json"; then pass "stackgate restarts with metrics off and JSON logs"; else fail "stackgate restarts with metrics off and JSON logs"; fi
req GET /metrics
expect_status 404 "with metrics.enabled false /metrics is 404"
expect_jq .error.message "metrics are disabled (metrics.enabled is false)" "and says why"
mark=$(wc -l <"$SG_RUN/logs/stackgate.log")
req POST /v1/openai/v1/chat/completions '{"model":"metrics-llm","messages":[{"role":"user","content":"json log"}]}' \
	-H 'X-Request-Id: ignored-by-stackgate'
expect_status 200 "a chat completion with JSON logs"
rid=$(header X-Request-Id)
line=$(tail -n +"$((mark + 1))" "$SG_RUN/logs/stackgate.log" | grep -F "\"request_id\":\"$rid\"" | grep -F '"event":"request"' | tail -1)
BODY=$line
REQ_DESC="the access log line of request $rid"
expect_jq '[.route, .status, .model, .provider, .kind, (.prompt_tokens > 0), (.duration_ms >= .upstream_ms)] | map(tostring) | join(" ")' \
	"/v1/openai/v1/chat/completions 200 metrics-llm vllm chat true true" \
	"the request's JSON log line has its route, status, model, provider, tokens and durations"
others=$(tail -n +"$((mark + 1))" "$SG_RUN/logs/stackgate.log" | grep -v '^{' | grep -c . || true)
expect_eq "$others" 0 "every log line since the restart is a JSON object"
if tail -n +"$((mark + 1))" "$SG_RUN/logs/stackgate.log" | jq -e . >/dev/null 2>&1; then
	pass "every JSON log line parses"
else
	fail "every JSON log line parses"
fi
sg_restart_daemon >/dev/null || fail "stackgate restarts with the test config"
