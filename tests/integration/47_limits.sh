# SPDX-License-Identifier: Apache-2.0
# 47_limits.sh: per-principal limits (issue #14, the limits half; src/sg_limits.h):
#   cli         stackgate limit set|clear|list on the limits table, bad values refused
#   rpm         N allowed, then 429 in OpenAI's shape with Retry-After and the
#               x-ratelimit-* headers (streams too); exact on one host; others unaffected
#   change      a changed limit is in force within a second
#   concurrency one tenant at its cap (slow streams from the test upstream) while
#               another tenant's requests and /v1/health succeed, checked while the
#               cap is held; the cap frees when the streams end
#   killed      a killed worker's requests in flight no longer count
#   two hosts   a second stackgate + nginx on the same PostgreSQL (ports from
#               SG_TEST_PORT + 50): counts made on one host limit the other after a
#               sync; a burst on both at once stays within the README's bound;
#               requests in flight on one host count against max_concurrent on the other
#   tokens      tpm admitted while below and charged at the end with the upstream's
#               usage (streams too: their usage chunk); a spent day budget is
#               insufficient_quota
# Every principal starts with t47.

OA=/v1/openai/v1
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"hi"}]%s}' "$1" "${2:+,$2}"; }
# Waits for the limits' sync (every 500 ms) to have run on every worker's host.
sync_wait() { sleep 1; }
# Starts the next check with at least 15 s of the current minute left (rpm windows are calendar minutes).
minute_room() { while (($(date -u +%-S) > 45)); do sleep 1; done; }

# The last answer is a 429 with error code CODE, type TYPE and message MESSAGE (which names the NOUN, "limit" by default).
expect_refused() { # WHAT CODE TYPE MESSAGE [NOUN]
	expect_status 429 "$1"
	expect_jq .error.code "$2" "…code $2"
	expect_jq .error.type "$3" "…type $3"
	expect_jq .error.message "$4" "…naming the ${5:-limit}"
}
# Starts two streams of MODEL as KEY into $SG_TEST_DIR/tmp/NAME-1 and -2, their curl pids in
# $streams, and returns once both have had a chunk (the requests are in flight).
hold_two_streams() { # NAME KEY MODEL
	streams=()
	local i
	for i in 1 2; do
		curl -s -N -o "$SG_TEST_DIR/tmp/$1-$i" --max-time 30 -H "Authorization: Bearer $2" \
			-H 'Content-Type: application/json' --data-binary "$(chat "$3" '"stream":true')" "$SG_URL$OA/chat/completions" &
		streams+=($!)
	done
	for _ in $(seq 50); do
		[[ $(grep -c chunk "$SG_TEST_DIR/tmp/$1-1" 2>/dev/null) -gt 0 && $(grep -c chunk "$SG_TEST_DIR/tmp/$1-2" 2>/dev/null) -gt 0 ]] && break
		sleep 0.1
	done
}

psql_q "DELETE FROM principals WHERE name LIKE 't47-%'; DELETE FROM limits WHERE principal LIKE 't47-%'" >/dev/null
for p in a b c d e f g h i; do sg_cli principal add "t47-$p" >/dev/null 2>&1; done
KA=$(sg_cli key create t47-a 2>/dev/null)
KB=$(sg_cli key create t47-b 2>/dev/null)
KC=$(sg_cli key create t47-c 2>/dev/null)
KD=$(sg_cli key create t47-d 2>/dev/null)
KE=$(sg_cli key create t47-e 2>/dev/null)
KF=$(sg_cli key create t47-f 2>/dev/null)
KG=$(sg_cli key create t47-g 2>/dev/null)
KH=$(sg_cli key create t47-h 2>/dev/null)
KI=$(sg_cli key create t47-i 2>/dev/null)
[[ $KA == sg-* && $KB == sg-* && $KC == sg-* && $KD == sg-* && $KE == sg-* && $KF == sg-* && $KG == sg-* &&
	$KH == sg-* && $KI == sg-* ]] && pass "principals and keys" || fail "principals and keys" "got '$KA' … '$KH'"
req POST /v1/models '{"model_id":"t47-llm","provider_id":"vllm-short","provider_model_id":"test-llm"}'
expect_status 200 "register t47-llm"
req POST /v1/models '{"model_id":"t47-slow","provider_id":"vllm-short","provider_model_id":"stream-30-100"}'
expect_status 200 "register t47-slow (a 3 s stream)"
req POST /v1/models '{"model_id":"t47-long","provider_id":"vllm-short","provider_model_id":"stream-200-100"}'
expect_status 200 "register t47-long (a 20 s stream)"

echo "-- cli"
out=$(sg_cli limit set t47-a --rpm 5 2>&1)
expect_eq "$?:$out" "0:" "limit set t47-a --rpm 5"
sg_cli limit set t47-a --model t47-llm --tpm 1000000 --tokens-per-day 5000000 >/dev/null 2>&1
sg_cli limit set t47-a --model t47-llm --tokens-per-day none >/dev/null 2>&1
expect_eq "$(psql_q "SELECT rpm IS NULL, tpm, tokens_per_day IS NULL FROM limits WHERE principal = 't47-a' AND model = 't47-llm'")" \
	"t|1000000|t" "set changes only the kinds given; none lifts one"
list=$(sg_cli limit list 2>&1)
[[ $list == *$'t47-a\t*\t*\t-\t5\t-\t-\t-'* && $list == *$'t47-a\tt47-llm\t*\t-\t-\t1000000\t-\t-'* ]] &&
	pass "limit list shows both rows" || fail "limit list shows both rows" "$list"
out=$(sg_cli limit set t47-a --rpm -3 2>&1)
rc=$?
[[ $rc == 2 && $out == *"--rpm must be a non-negative integer or none, got '-3'"* ]] && pass "a bad value is refused" ||
	fail "a bad value is refused" "rc $rc: $out"
out=$(sg_cli limit set t47-a 2>&1)
[[ $? == 2 && $out == *"nothing to set"* ]] && pass "set without a limit is refused" || fail "set without a limit" "$out"
sg_cli limit clear t47-a --model t47-llm >/dev/null 2>&1
expect_eq "$(psql_q "SELECT count(*) FROM limits WHERE principal = 't47-a'")" 1 "limit clear removes the model's row"
out=$(sg_cli limit clear t47-a --model t47-llm 2>&1)
[[ $? == 1 && $out == *"no limit is set for principal 't47-a' on model 't47-llm'"* ]] && pass "clearing nothing says so" ||
	fail "clearing nothing says so" "$out"

echo "-- rpm: exact on one host"
sync_wait
minute_room
ok=0 remaining=""
for i in 1 2 3 4 5; do
	as "$KA" POST $OA/chat/completions "$(chat t47-llm)"
	[[ $STATUS == 200 ]] && ok=$((ok + 1))
	remaining+="$(header x-ratelimit-remaining-requests) "
done
expect_eq "$ok" 5 "5 requests of an rpm of 5 are admitted"
expect_eq "$remaining" "4 3 2 1 0 " "x-ratelimit-remaining-requests counts down"
expect_eq "$(header x-ratelimit-limit-requests)" 5 "x-ratelimit-limit-requests"
[[ $(header x-ratelimit-reset-requests) =~ ^[0-9]+s$ ]] && pass "x-ratelimit-reset-requests" ||
	fail "x-ratelimit-reset-requests" "$(header x-ratelimit-reset-requests)"
as "$KA" POST $OA/chat/completions "$(chat t47-llm)"
expect_refused "the 6th is 429" rate_limit_exceeded requests \
	"rate limit of 5 requests per minute reached for principal 't47-a'"
ra=$(header Retry-After)
[[ $ra =~ ^[0-9]+$ ]] && ((ra >= 1 && ra <= 60)) && pass "…Retry-After until the minute ends" || fail "Retry-After" "'$ra'"
expect_eq "$(header x-ratelimit-remaining-requests)" 0 "…and the x-ratelimit headers"
as "$KA" POST $OA/chat/completions "$(chat t47-llm '"stream":true')"
expect_status 429 "a stream over the limit is 429 too"
as "$KB" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "another principal is not limited"

echo "-- change: in force within a second"
sg_cli limit set t47-a --rpm 7 >/dev/null 2>&1
sync_wait
as "$KA" POST $OA/chat/completions "$(chat t47-llm '"stream":true')" -N
expect_status 200 "after raising the rpm to 7 the next request is admitted"
expect_eq "$(header x-ratelimit-limit-requests)" 7 "…a stream carries the x-ratelimit headers"
expect_body_contains "data: [DONE]" "…and streams to the end"
sg_cli limit clear t47-a >/dev/null 2>&1
sync_wait
ok=0
for i in 1 2 3; do as "$KA" POST $OA/chat/completions "$(chat t47-llm)"; [[ $STATUS == 200 ]] && ok=$((ok + 1)); done
expect_eq "$ok" 3 "a cleared limit no longer applies"
expect_eq "$(header x-ratelimit-limit-requests)" "" "…nor its headers"

echo "-- tokens: admitted while below, charged at the end"
# The test upstream's usage for chat(t47-llm): 32 prompt tokens (the messages' JSON) + 2 = 34.
sg_cli limit set t47-f --tpm 100 >/dev/null 2>&1
sg_cli limit set t47-g --tokens-per-day 50 >/dev/null 2>&1
sync_wait
minute_room
remaining=""
for i in 1 2; do
	as "$KF" POST $OA/chat/completions "$(chat t47-llm)"
	expect_status 200 "tpm 100: request $i is admitted"
	remaining+="$(header x-ratelimit-remaining-tokens) "
done
expect_jq .usage.total_tokens 34 "…the upstream reported 34 tokens"
as "$KF" POST $OA/chat/completions "$(chat t47-llm '"stream":true')" -N
expect_status 200 "tpm 100: a stream at 68 charged is admitted"
remaining+="$(header x-ratelimit-remaining-tokens)"
expect_eq "$remaining" "100 66 32" "x-ratelimit-remaining-tokens counts what was charged"
expect_eq "$(header x-ratelimit-limit-tokens)" 100 "x-ratelimit-limit-tokens"
as "$KF" POST $OA/chat/completions "$(chat t47-llm)"
expect_refused "…the stream's usage was charged too: 102 of 100, the next is 429" rate_limit_exceeded tokens \
	"rate limit of 100 tokens per minute reached for principal 't47-f'"
expect_eq "$(header x-ratelimit-remaining-tokens)" 0 "…x-ratelimit-remaining-tokens 0"
as "$KG" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "a day budget of 50: the first request (34) is admitted"
as "$KG" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "…the second (34 charged, below 50) too"
as "$KG" POST $OA/chat/completions "$(chat t47-llm)"
expect_refused "…the third is 429" insufficient_quota insufficient_quota \
	"budget of 50 tokens per day (UTC) spent for principal 't47-g'" budget
ra=$(header Retry-After)
((ra >= 1 && ra <= 86400)) && pass "…Retry-After until the UTC day ends" || fail "Retry-After of a day budget" "'$ra'"

echo "-- concurrency: one tenant at its cap, the others unaffected"
sg_cli limit set t47-c --max-concurrent 2 >/dev/null 2>&1
sync_wait
hold_two_streams t47-c "$KC" t47-slow
as "$KC" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 429 "a third request of t47-c while 2 are in flight is 429"
expect_jq .error.message "limit of 2 concurrent requests reached for principal 't47-c'" "…naming the limit"
expect_eq "$(header Retry-After)" 1 "…Retry-After: 1"
as "$KB" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "t47-b is served while t47-c is at its cap"
req GET /v1/health
expect_status 200 "/v1/health is served while t47-c is at its cap"
held=0
for p in "${streams[@]}"; do kill -0 "$p" 2>/dev/null && held=$((held + 1)); done
expect_eq "$held" 2 "…checked while both streams were still in flight"
for p in "${streams[@]}"; do wait "$p"; done
c1=$(grep -c '"content":" \?chunk[0-9]' "$SG_TEST_DIR/tmp/t47-c-1")
expect_eq "$c1" 30 "the capped tenant's streams complete"
as "$KC" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "t47-c is admitted again once its streams ended"

echo "-- killed: a killed worker's requests in flight no longer count"
sg_cli limit set t47-d --max-concurrent 1 >/dev/null 2>&1
sync_wait
curl -s -N -o "$SG_TEST_DIR/tmp/t47-d" --max-time 30 -H "Authorization: Bearer $KD" -H 'Content-Type: application/json' \
	--data-binary "$(chat t47-long '"stream":true')" "$SG_URL$OA/chat/completions" &
dpid=$!
for _ in $(seq 50); do grep -q chunk "$SG_TEST_DIR/tmp/t47-d" 2>/dev/null && break; sleep 0.1; done
as "$KD" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 429 "t47-d at its cap of 1 while its long stream runs"
old_workers=$(sg_worker_pids | sort | tr '\n' ' ')
for w in $old_workers; do kill -KILL "$w"; done
wait "$dpid" 2>/dev/null
for _ in $(seq 100); do
	new=$(sg_worker_pids | sort | tr '\n' ' ')
	[[ -n $new && $new != "$old_workers" && $(wc -w <<<"$new") -ge 2 ]] && sg_wait_ready && break
	sleep 0.1
done
as "$KD" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 200 "after its worker was killed, t47-d is admitted again"

echo "-- two hosts on one PostgreSQL"
RUN2=$SG_TEST_DIR/run2
PORT2=$((SG_PORT + 50))
URL2=http://127.0.0.1:$PORT2
stop_host2() { sg_host_stop "$RUN2"; }
trap stop_host2 EXIT
if sg_host_start "$RUN2" "$PORT2" "$SG_CONFIG"; then
	pass "a second host on the same PostgreSQL"
else
	fail "a second host on the same PostgreSQL" "$(tail -20 "$RUN2/logs/start.log" "$RUN2/logs/stackgate.log" 2>/dev/null)"
fi
on2() { SG_URL=$URL2 as "$@"; }

sg_cli limit set t47-e --rpm 10 >/dev/null 2>&1
sync_wait
minute_room
ok1=0
for i in $(seq 12); do as "$KE" POST $OA/chat/completions "$(chat t47-llm)"; [[ $STATUS == 200 ]] && ok1=$((ok1 + 1)); done
expect_eq "$ok1" 10 "host 1 admits 10 of an rpm of 10"
sync_wait
on2 "$KE" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 429 "host 2 sees host 1's 10 after a sync: 429"
expect_jq .error.message "rate limit of 10 requests per minute reached for principal 't47-e'" "…naming the limit"
expect_eq "$(psql_q "SELECT requests FROM limit_counters WHERE principal = 't47-e' AND period = 'minute' ORDER BY win DESC LIMIT 1")" \
	10 "limit_counters holds the minute's 10 requests"

# A burst on both hosts at once, within a sync period: the README's bound is
# limit + (hosts - 1) x what one host admits in a sync period, and never more
# than hosts x limit (a host alone never passes the limit); and at least the limit,
# since a host refuses only when what it counts (all of it admitted somewhere) reaches
# it.  A principal of its own, with nothing counted in this minute before the burst.
sg_cli limit set t47-h --rpm 20 >/dev/null 2>&1
sync_wait
minute_room
burst() { # URL FILE: 30 requests, one status per line
	for i in $(seq 30); do
		curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $KH" -H 'Content-Type: application/json' \
			--data-binary "$(chat t47-llm)" "$1$OA/chat/completions"
	done >"$2"
}
burst "$SG_URL" "$SG_TEST_DIR/tmp/t47-burst1" &
b1=$!
burst "$URL2" "$SG_TEST_DIR/tmp/t47-burst2" &
b2=$!
wait "$b1" "$b2"
n1=$(grep -c '^200$' "$SG_TEST_DIR/tmp/t47-burst1")
n2=$(grep -c '^200$' "$SG_TEST_DIR/tmp/t47-burst2")
other=$(grep -vc '^\(200\|429\)$' "$SG_TEST_DIR/tmp/t47-burst1" "$SG_TEST_DIR/tmp/t47-burst2" | awk -F: '{s += $2} END {print s}')
echo "        burst: host 1 admitted $n1, host 2 admitted $n2 of an rpm of 20"
((n1 <= 20 && n2 <= 20)) && pass "neither host alone passes the limit ($n1, $n2)" || fail "each host within the limit" "$n1 $n2"
((n1 + n2 >= 20 && n1 + n2 <= 40)) && pass "both together admit between the limit and hosts x limit ($((n1 + n2)))" ||
	fail "both within hosts x limit" "$((n1 + n2))"
expect_eq "$other" 0 "every answer of the burst is 200 or 429"

# max_concurrent across hosts: two streams held on host 1 fill t47-i's cap of 2 on host 2 after a sync.
sg_cli limit set t47-i --max-concurrent 2 >/dev/null 2>&1
sync_wait
hold_two_streams t47-i "$KI" t47-long
sync_wait
on2 "$KI" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 429 "host 2 refuses t47-i while its 2 streams run on host 1"
expect_jq .error.message "limit of 2 concurrent requests reached for principal 't47-i'" "…naming the limit"
expect_eq "$(psql_q "SELECT sum(inflight) FROM limit_inflight WHERE principal = 't47-i'")" 2 "limit_inflight holds host 1's 2"
for p in "${streams[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
# The streams stop when stackgate sees their clients gone (within a second), then a sync.
ok=0
for _ in $(seq 40); do
	on2 "$KI" POST $OA/chat/completions "$(chat t47-llm)"
	[[ $STATUS == 200 ]] && { ok=1; break; }
	sleep 0.1
done
expect_eq "$ok" 1 "once they ended, host 2 admits t47-i again (within 4 s)"
sync_wait
on2 "$KH" POST $OA/chat/completions "$(chat t47-llm)"
expect_status 429 "after a sync, host 2 refuses what both admitted together"
stop_host2
trap - EXIT
sg_cli limit clear t47-a >/dev/null 2>&1
for p in c d e f g h i; do sg_cli limit clear "t47-$p" >/dev/null 2>&1; done
