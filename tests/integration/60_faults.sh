# SPDX-License-Identifier: Apache-2.0
# 60_faults.sh: faults stackgate must survive, each proven under load through
# real nginx: kill -9 of a worker in the middle of streams (and a crash loop),
# every kind of upstream failure (refused, hanging, slow, garbage, a stream
# cut mid-way) with the time it took and the workers freed afterwards, clients
# that leave mid-stream (no fd, socket or thread leak) or while the upstream is
# silent, PostgreSQL stopped and restarted while clients read and write (and
# its sessions terminated), 200 concurrent registrations and unregistrations
# of overlapping identifiers checked against the table, and SIGHUP and
# SIGTERM under load.  Each fault check names the requests sent, how many
# failed and how many were expected to fail.  Identifiers start with flt-.
#
# Most of it runs on a small pool (3 workers x 4 threads, $FLT_CONF) so that
# 10 streams spread over several workers and a burst of 16 requests is more
# than every thread together; the last section restarts the daemon with the
# test config for the files after this one.  Needs ss (iproute2).

# PostgreSQL's server programs, found the way ./dev finds them.
PGBIN=$("$SG_ROOT/dev" _pgbin)
OA=/v1/openai/v1
FLT=$SG_TEST_DIR/tmp/flt
mkdir -p "$FLT"

up_stat() { curl -s "$SG_UPSTREAM_URL/_stats" | jq -r ".$1"; }
pg_is_up() { (cd /tmp && runuser -u postgres -- "$PGBIN/pg_isready" -h "$SG_RUN/pg-run" -p "$SG_PG_PORT" -q); }
workers_sorted() { sg_worker_pids | sort -n | tr '\n' ' '; }
chat_json() { jq -nc --arg m "$1" --argjson s "${2:-false}" '{model:$m,stream:$s,messages:[{role:"user",content:"fault test"}]}'; }

# flt_stream NAME MODEL: one streamed chat completion (run several with &):
# $FLT/NAME.out (body), .hdr (headers), .meta ("http_code curl_rc").
flt_stream() {
	local name=$1 model=$2 code rc
	code=$(curl -sN --max-time 30 -o "$FLT/$name.out" -D "$FLT/$name.hdr" -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary "$(chat_json "$model" true)" "$SG_URL$OA/chat/completions" 2>/dev/null)
	rc=$?
	echo "${code:-000} $rc" >"$FLT/$name.meta"
}
# flt_stream_ok NAME: the stream answered 200, ended cleanly, and its last event is [DONE].
flt_stream_ok() {
	local code rc
	read -r code rc <"$FLT/$1.meta"
	[[ $code == 200 && $rc == 0 ]] && [[ $(grep -v '^\s*$' "$FLT/$1.out" | tail -1 | tr -d '\r') == "data: [DONE]" ]]
}
flt_rid() { grep -i '^x-request-id:' "$FLT/$1.hdr" 2>/dev/null | head -1 | cut -d' ' -f2 | tr -d '\r'; }
# flt_timed METHOD PATH BODY: req, and $MS the milliseconds it took.
flt_timed() {
	local t0
	t0=$(now_ms)
	req "$@"
	MS=$(($(now_ms) - t0))
}
# flt_burst N NAME MODEL [stream]: N concurrent chat completions; "code curl_rc" lines in $FLT/NAME.burst.
flt_burst() {
	local n=$1 name=$2 model=$3 stream=${4:-false} i body
	body=$(chat_json "$model" "$stream")
	: >"$FLT/$name.burst"
	for i in $(seq "$n"); do
		(
			code=$(curl -sN --max-time 30 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
				--data-binary "$body" "$SG_URL$OA/chat/completions" 2>/dev/null)
			echo "${code:-000} $?" >>"$FLT/$name.burst"
		) &
	done
	wait
}
# A request on a healthy model answers 200 within a second: no thread is left stuck.
flt_prompt() {
	flt_timed POST $OA/chat/completions "$(chat_json flt-llm)"
	if [[ $STATUS == 200 ]] && ((MS < 1000)); then pass "$1 ($MS ms)"; else fail "$1" "status $STATUS after $MS ms"; fi
}
reg() { # ID PROVIDER PROVIDER_MODEL
	req POST /v1/models "$(jq -nc --arg i "$1" --arg p "$2" --arg m "$3" '{model_id:$i,provider_id:$p,provider_model_id:$m}')"
	if [[ $STATUS == 200 ]]; then pass "register $1 ($2/$3)"; else fail "register $1 ($2/$3)" "status $STATUS"; fi
}

psql_q "DELETE FROM models WHERE identifier LIKE 'flt-%'" >/dev/null

echo "-- setup: a small pool (3 workers x 4 threads)"
FLT_CONF=$SG_TEST_DIR/tmp/flt-small.json
# Limits off: these checks fill every thread on purpose (the reserve and the default concurrency cap
# would answer part of each burst 429; they have their own checks in 47_limits.sh).
# One attempt per request (router.max_retries 0): these checks time a single upstream failure;
# retries are 49_routing.sh's.
jq '.server.workers = 3 | .server.threads = 4 | .limits.enabled = false | .router.max_retries = 0' "$SG_CONFIG" >"$FLT_CONF"
if sg_restart_daemon "$FLT_CONF" && [[ $(sg_worker_pids | wc -l) == 3 ]]; then
	pass "restart with 3 workers x 4 threads"
else
	fail "restart with 3 workers x 4 threads" "workers: $(workers_sorted)"
fi
reg flt-llm vllm test-llm
reg flt-stream vllm stream-20-100
reg flt-slow vllm slow-500
reg flt-garbage vllm garbage
reg flt-cut vllm cut
reg flt-hang vllm-short hang
reg flt-dead dead test-llm

# ------------------------------------------------------------------ kill -9 mid-stream
echo "-- kill -9 of a worker in the middle of 10 streams"
started0=$(up_stat streams_started)
for i in $(seq 10); do flt_stream "k$i" flt-stream & done
for _ in $(seq 60); do (($(up_stat streams_started) - started0 >= 10)) && break; sleep 0.05; done
sleep 0.3
# Who holds what: every stream in flight has a connection from its worker to the
# upstream that received data in the last 700 ms (the chunks are 100 ms apart);
# idle kept-alive connections have not.
# streaming_on PID: the number of such connections of worker PID.
streaming_on() {
	ss -tnpiH state established "( dport = :$SG_UPSTREAM_PORT )" 2>/dev/null | awk -v pid="pid=$1," '
		!/^[ \t]/ { mine = index($0, pid) > 0; next }
		mine && match($0, /lastrcv:[0-9]+/) { if (substr($0, RSTART + 8, RLENGTH - 8) + 0 < 700) n++ }
		END { print n + 0 }'
}
declare -A inflight=()
victim="" vcount=0 spread="" total=0
# Wait (up to 1 s; the streams last 2 s) until all 10 streams are seen in flight.
# A stream not seen on any worker may be on the victim: it widens the bound.
for _ in $(seq 10); do
	victim="" vcount=0 spread="" total=0
	for w in $(sg_worker_pids); do
		inflight[$w]=$(streaming_on "$w")
		spread+="$w:${inflight[$w]} "
		total=$((total + inflight[$w]))
		if ((inflight[$w] > vcount)); then victim=$w vcount=${inflight[$w]}; fi
	done
	((total >= 10)) && break
	sleep 0.1
done
if [[ -n $victim ]]; then
	kill -9 "$victim"
	t_kill=$(now_ms)
fi
wait
nfail=0 bad_survivor="" bad_failed=""
for i in $(seq 10); do
	rid=$(flt_rid "k$i")
	# The worker that logged this request's completion (none when its worker was killed).
	logpid=$(grep -F "rid=$rid POST $OA/chat/completions" "$SG_RUN/logs/stackgate.log" 2>/dev/null | sed -n 's/.*\[\([0-9]*\)\] rid=.*/\1/p' | head -1)
	if flt_stream_ok "k$i"; then
		[[ -n $logpid && $logpid != "$victim" ]] || bad_survivor+=" k$i(rid=$rid pid=${logpid:-none})"
	else
		nfail=$((nfail + 1))
		[[ -z $logpid ]] || bad_failed+=" k$i(rid=$rid completed by pid $logpid; $(cat "$FLT/k$i.meta"))"
	fi
done
REQ_DESC="10 x POST $OA/chat/completions (stream-20-100), kill -9 of $victim; in flight per worker: $spread"
STATUS="" BODY=""
upper=$((vcount + (total < 10 ? 10 - total : 0)))
if [[ -n $victim ]] && ((nfail >= 1 && nfail <= upper)); then
	pass "kill -9 mid-stream: 10 sent, $nfail failed, 1..$upper expected to fail (the streams on the killed worker)"
else
	fail "kill -9 mid-stream: 10 sent, $nfail failed, 1..$upper expected to fail (the streams on the killed worker)"
fi
expect_eq "$bad_failed" "" "kill -9 mid-stream: no failed stream was served by a surviving worker"
expect_eq "$bad_survivor" "" "kill -9 mid-stream: every stream not cut ended with [DONE], logged by a surviving worker"
ok=1
for _ in $(seq 50); do
	now=$(workers_sorted)
	[[ $(wc -w <<<"$now") == 3 && " $now " != *" $victim "* ]] && { ok=0; break; }
	sleep 0.1
done
((ok == 0)) && pass "the killed worker is respawned (3 workers again)" || fail "respawn after kill -9" "workers: $now"
# A worker that dies young, again and again, is respawned with a backoff, not in a spin.
young_kills=0
young_logged0=$(grep -c "keeps dying young: respawning in" "$SG_RUN/logs/stackgate.log")
for _ in 1 2 3; do
	before=$(workers_sorted)
	w=$(sg_worker_pids | sort -n | tail -1)
	kill -9 "$w" && young_kills=$((young_kills + 1))
	for _ in $(seq 40); do
		now=$(workers_sorted)
		[[ $(wc -w <<<"$now") == 3 && " $now " != *" $w "* ]] && break
		sleep 0.05
	done
done
(($(grep -c "keeps dying young: respawning in" "$SG_RUN/logs/stackgate.log") > young_logged0)) &&
	pass "a worker killed $young_kills times right after its start is respawned with a backoff (logged)" ||
	fail "crash-loop backoff" "no 'keeps dying young' line in the log"
[[ $(sg_worker_pids | wc -l) == 3 ]] && sg_wait_ready && pass "…and the pool is whole again (3 workers)" ||
	fail "the pool is whole again after the crash loop" "workers: $(workers_sorted)"
flt_stream k-after flt-stream
flt_stream_ok k-after && pass "a new stream after the respawn ends with [DONE]" ||
	fail "a new stream after the respawn ends with [DONE]" "$(cat "$FLT/k-after.meta")"

# ------------------------------------------------------------------ upstream faults
echo "-- upstream faults: status, time, and the pool freed (bursts of 16 > 12 threads)"
flt_timed POST $OA/chat/completions "$(chat_json flt-dead)"
if [[ $STATUS == 502 ]] && ((MS < 2500)); then pass "refused upstream: 502 in $MS ms (connect_timeout 2 s)"; else
	fail "refused upstream: 502 within the connect timeout" "status $STATUS after $MS ms"; fi
expect_jq .error.message "upstream dead is unreachable" "the 502 names the unreachable provider"
flt_timed POST $OA/chat/completions "$(chat_json flt-hang)"
if [[ $STATUS == 504 ]] && ((MS >= 1900 && MS < 4500)); then pass "hanging upstream: 504 in $MS ms (read timeout 2 s + margin)"; else
	fail "hanging upstream: 504 after the 2 s read timeout" "status $STATUS after $MS ms"; fi
flt_timed POST $OA/chat/completions "$(chat_json flt-slow)"
if [[ $STATUS == 200 ]] && ((MS >= 450 && MS < 2000)); then pass "slow upstream (500 ms): 200 in $MS ms"; else
	fail "slow upstream (500 ms): 200" "status $STATUS after $MS ms"; fi
flt_timed POST $OA/chat/completions "$(chat_json flt-garbage)"
if [[ $STATUS == 502 ]] && ((MS < 1000)); then pass "garbage from the upstream: 502 in $MS ms"; else
	fail "garbage from the upstream: 502" "status $STATUS after $MS ms"; fi
t0=$(now_ms)
flt_stream cut1 flt-cut
MS=$(($(now_ms) - t0))
read -r code rc <"$FLT/cut1.meta"
nerr=$(grep -c '^data: {"error"' "$FLT/cut1.out")
ndone=$(grep -c '^data: \[DONE\]' "$FLT/cut1.out")
lastev=$(grep -v '^\s*$' "$FLT/cut1.out" | tail -1)
if [[ $code == 200 && $rc == 0 && $nerr == 1 && $ndone == 0 && $lastev == 'data: {"error"'* ]] && ((MS < 2000)); then
	pass "a stream cut by the upstream: 200, one error event last, no [DONE], clean end, in $MS ms"
else
	STATUS=$code BODY=$(head -c 600 "$FLT/cut1.out")
	fail "a stream cut by the upstream ends with one error event" "http $code curl rc $rc, $nerr error events, $ndone [DONE], $MS ms"
fi
flt_prompt "after the single faults a request answers promptly"

# burst NAME MODEL EXPECTED STREAM MAX_MS: 16 at once; every one EXPECTED.
burst_check() {
	local name=$1 model=$2 want=$3 stream=$4 max=$5 t0 ms nbad
	t0=$(now_ms)
	flt_burst 16 "$name" "$model" "$stream"
	ms=$(($(now_ms) - t0))
	nbad=$(awk -v w="$want" '$1 != w || $2 != 0' "$FLT/$name.burst" | wc -l)
	REQ_DESC="16 x POST $OA/chat/completions model $model stream $stream" STATUS="" BODY=$(sort "$FLT/$name.burst" | uniq -c | tr '\n' ' ')
	if ((nbad == 0 && ms < max)) && [[ $(wc -l <"$FLT/$name.burst") == 16 ]]; then
		pass "$name: 16 sent, 16 answered $want as expected, 0 otherwise, in $ms ms"
	else
		fail "$name: 16 sent, $nbad not answered $want (0 expected), in $ms ms (limit $max)"
	fi
}
burst_check "refused upstream burst" flt-dead 502 false 3000
burst_check "hanging upstream burst" flt-hang 504 false 9000
flt_prompt "after 16 hanging requests (more than the 12 threads) a request answers promptly"
burst_check "slow upstream burst" flt-slow 200 false 3000
burst_check "garbage upstream burst" flt-garbage 502 false 3000
# A cut stream is a 200 whose last event is the error event: counted by curl's clean exit.
burst_check "cut stream burst" flt-cut 200 true 4000
flt_prompt "after every burst a request answers promptly (the workers are freed)"

# ------------------------------------------------------------------ the client leaves mid-stream
echo "-- clients leaving mid-stream: no fd or thread leak"
# disconnects N: N clients (10 at a time, under the 12 threads) give up after 1 s of a 2 s stream.
disconnects() {
	local n=$1 i
	for ((i = 0; i < n; i += 10)); do
		for _ in $(seq 10); do
			curl -sN --max-time 1 -o /dev/null -H 'Content-Type: application/json' \
				--data-binary "$(chat_json flt-stream true)" "$SG_URL$OA/chat/completions" 2>/dev/null &
		done
		wait
	done
}
# usage: "<fds> <tcp sockets> <fds that are not sockets> <threads>", summed over the workers.
usage() {
	local fds=0 tcp=0 other=0 thr=0 w
	for w in $(sg_worker_pids); do
		fds=$((fds + $(ls "/proc/$w/fd" 2>/dev/null | wc -l)))
		other=$((other + $(find "/proc/$w/fd" -mindepth 1 -printf '%l\n' 2>/dev/null | grep -vc '^socket:')))
		tcp=$((tcp + $(ss -tanpH 2>/dev/null | grep -c "pid=$w,")))
		thr=$((thr + $(awk '/^Threads:/ {print $2}' "/proc/$w/status" 2>/dev/null || echo 0)))
	done
	echo "$fds $tcp $other $thr"
}
# wait_aborted TARGET: until the upstream counted TARGET aborted streams (at most 5 s).
wait_aborted() {
	for _ in $(seq 100); do (($(up_stat streams_aborted) >= $1)) && return 0; sleep 0.05; done
	return 1
}
ab0=$(up_stat streams_aborted)
disconnects 20 # warm-up: every thread has served a stream
wait_aborted $((ab0 + 20))
sleep 0.3
w_before=$(workers_sorted)
read -r fd_before tcp_before other_before thr_before < <(usage)
ab1=$(up_stat streams_aborted)
disconnects 20
wait_aborted $((ab1 + 20))
sleep 0.3
ab2=$(up_stat streams_aborted)
read -r fd_after tcp_after other_after thr_after < <(usage)
expect_eq "$((ab2 - ab1))" 20 "20 clients left mid-stream: the upstream saw all 20 streams aborted"
expect_eq "$(workers_sorted)" "$w_before" "the same workers served both rounds (no crash)"
REQ_DESC="20 x curl --max-time 1 on a 2 s stream" STATUS="" BODY="fds/tcp/other/threads before: $fd_before $tcp_before $other_before $thr_before after: $fd_after $tcp_after $other_after $thr_after"
if ((tcp_after <= tcp_before)); then pass "no socket leak to the upstream: $tcp_before TCP sockets before 20 disconnects, $tcp_after after"; else
	fail "no socket leak to the upstream over 20 disconnects" "$tcp_before TCP sockets before, $tcp_after after"; fi
if ((other_after <= other_before)); then pass "no other fd leak: $other_before non-socket fds before, $other_after after"; else
	fail "no non-socket fd leak over 20 disconnects" "$other_before before, $other_after after"; fi
# nginx keeps up to 8 idle FastCGI connections (upstream keepalive 8): their number may differ.
if ((fd_after <= fd_before + 8)); then pass "no fd leak: $fd_before fds before, $fd_after after (nginx keeps up to 8 idle)"; else
	fail "no fd leak over 20 disconnects" "$fd_before fds before, $fd_after after (more than nginx's 8 kept connections)"; fi
if ((thr_after <= thr_before)); then pass "no thread leak: $thr_before threads before, $thr_after after"; else
	fail "no thread leak over 20 disconnects" "$thr_before threads before, $thr_after after"; fi
flt_prompt "after 40 disconnects a request answers promptly"

# Clients that give up while the upstream is silent: a non-streamed request to a
# hanging upstream, and a stream whose upstream stalls after one chunk, on a
# provider with the default 600 s read timeout.  nginx sees the client go (499)
# and closes the FastCGI connection; the thread must be freed then, not when the
# read timeout fires ten minutes later.  16 such clients are more than the 12
# threads, so if none is freed no other request is answered.
# gave_up NAME MODEL STREAM: 16 clients give up after 1 s; then a healthy request must be answered.
gave_up() {
	local name=$1 model=$2 stream=$3 i ms
	for i in $(seq 16); do
		curl -sN --max-time 1 -o /dev/null -H 'Content-Type: application/json' \
			--data-binary "$(chat_json "$model" "$stream")" "$SG_URL$OA/chat/completions" 2>/dev/null &
	done
	wait
	t0=$(now_ms)
	STATUS=$(curl -s -o /dev/null --max-time 4 -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "$(chat_json flt-llm)" "$SG_URL$OA/chat/completions" 2>/dev/null)
	ms=$(($(now_ms) - t0))
	REQ_DESC="16 x POST $OA/chat/completions ($model, stream $stream, curl --max-time 1), then one on flt-llm" BODY=""
	if [[ $STATUS == 200 ]] && ((ms < 2000)); then
		pass "$name: 16 clients gave up, then a request on a healthy model: 1 sent, 0 failed, 0 expected to fail ($ms ms)"
	else
		fail "$name: 16 clients gave up, then a request on a healthy model: 1 sent, 1 failed, 0 expected to fail" \
			"status $STATUS after $ms ms: the threads stay with the silent upstream after the client left"
		# Free the pool for the sections below: the stuck threads would hold it for 600 s.
		local w
		for w in $(sg_worker_pids); do kill -9 "$w"; done
		for _ in $(seq 50); do [[ $(sg_worker_pids | wc -l) == 3 ]] && sg_wait_ready && break; sleep 0.1; done
	fi
}
reg flt-hang-long vllm hang
reg flt-stall-long vllm stall-1
gave_up "hanging upstream (non-streamed), clients leave" flt-hang-long false
gave_up "stalled stream, clients leave" flt-stall-long true

# ------------------------------------------------------------------ PostgreSQL down under load
echo "-- PostgreSQL stopped and restarted under load"
# Reads and writes from background clients for the whole outage; acknowledged writes are kept.
rm -f "$FLT/pg.stop"
(
	n=0
	while [[ ! -e $FLT/pg.stop ]]; do
		n=$((n + 1))
		code=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "{\"model_id\":\"flt-pg-$n\",\"provider_id\":\"vllm-short\"}" "$SG_URL/v1/models")
		echo "flt-pg-$n $code" >>"$FLT/pg.writes"
		sleep 0.02
	done
) &
wpid=$!
(
	while [[ ! -e $FLT/pg.stop ]]; do
		for p in /v1/models/flt-llm /v1/models $OA/models; do
			echo "GET $p $(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$SG_URL$p")" >>"$FLT/pg.reads"
		done
		echo "chat $(curl -s -o /dev/null --max-time 10 -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "$(chat_json flt-llm)" "$SG_URL$OA/chat/completions")" >>"$FLT/pg.reads"
	done
) &
rpid=$!
sleep 0.5
if pg_ctl_run -D "$SG_RUN/pg/data" -m fast -w stop >/dev/null 2>&1; then
	pass "stop PostgreSQL (fast) under load"
	t_down=$(now_ms)
	req GET /v1/models/flt-llm
	expect_status 200 "PostgreSQL down: GET /v1/models/{id} is 200 from the cache"
	req GET /v1/models
	[[ $STATUS == 200 && $(jq '[.data[] | select(.identifier == "flt-llm")] | length' <<<"$BODY" 2>/dev/null) == 1 ]] &&
		pass "PostgreSQL down: GET /v1/models is 200 and lists flt-llm" || fail "PostgreSQL down: GET /v1/models is 200"
	req GET $OA/models
	[[ $STATUS == 200 && $(jq '[.data[] | select(.id == "flt-llm")] | length' <<<"$BODY" 2>/dev/null) == 1 ]] &&
		pass "PostgreSQL down: GET $OA/models is 200 and lists flt-llm" || fail "PostgreSQL down: GET $OA/models is 200"
	req POST $OA/chat/completions "$(chat_json flt-llm)"
	expect_status 200 "PostgreSQL down: a chat completion on a registered model is 200"
	flt_timed POST /v1/models '{"model_id":"flt-pg-down","provider_id":"vllm-short"}'
	expect_status 503 "PostgreSQL down: a registration is 503 ($MS ms)"
	expect_jq .error.message "the registry database is unavailable" "the 503 says the registry database is unavailable"
	sleep 1
	pg_up && pass "start PostgreSQL again" || fail "start PostgreSQL again" "see postgresql.log"
	outage=$(($(now_ms) - t_down))
	poll 15 req_is 200 POST /v1/models '{"model_id":"flt-pg-back","provider_id":"vllm-short"}' &&
		pass "registrations recover by themselves once PostgreSQL is back" || fail "registrations recover by themselves"
	sleep 0.5
else
	fail "stop PostgreSQL (fast) under load" "pg_ctl stop failed"
	outage=0
fi
touch "$FLT/pg.stop"
wait "$wpid" "$rpid"
pg_is_up || pg_up || fail "PostgreSQL is up after the outage section"
nw=$(wc -l <"$FLT/pg.writes")
n200=$(awk '$2 == 200' "$FLT/pg.writes" | wc -l)
n503=$(awk '$2 == 503' "$FLT/pg.writes" | wc -l)
nother=$(awk '$2 != 200 && $2 != 503' "$FLT/pg.writes" | wc -l)
REQ_DESC="background registrations during a ${outage} ms outage" STATUS="" BODY=$(awk '{print $2}' "$FLT/pg.writes" | uniq -c | tr '\n' ' ')
if ((n503 >= 1 && nother == 0)); then
	pass "writes under the outage: $nw sent, $n503 failed (503), >=1 expected to fail, none other than 200/503"
else
	fail "writes under the outage: $nw sent, $n503 failed (503), $nother neither 200 nor 503 (expected: >=1 503, 0 other)"
fi
missing=""
while read -r id code; do
	[[ $code == 200 ]] || continue
	[[ $(psql_q "SELECT count(*) FROM models WHERE identifier = '$id'") == 1 ]] || missing+=" $id"
done <"$FLT/pg.writes"
expect_eq "$missing" "" "no acknowledged registration is lost: all $n200 200-acknowledged ids are in the models table"
nr=$(wc -l <"$FLT/pg.reads")
nrbad=$(awk '$NF != 200' "$FLT/pg.reads" | wc -l)
REQ_DESC="background reads during the outage" STATUS="" BODY=$(awk '$NF != 200' "$FLT/pg.reads" | sort | uniq -c | tr '\n' ' ')
if ((nrbad == 0 && nr > 0)); then pass "reads under the outage: $nr sent, 0 failed, 0 expected to fail"; else
	fail "reads under the outage: $nr sent, $nrbad failed, 0 expected to fail"; fi
req GET /v1/health
expect_status 200 "health is 200 again after the outage"
# PostgreSQL ends every stackgate session (a failover, a pooler restart): the next
# write must not be the one that pays for it.
req POST /v1/models '{"model_id":"flt-pg-cut0","provider_id":"vllm-short"}'
ncut=$(psql_q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'stackgate'
	AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
codes=""
for i in 1 2 3 4 5 6; do
	codes+="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"model_id\":\"flt-pg-cut$i\",\"provider_id\":\"vllm-short\"}" "$SG_URL/v1/models") "
done
REQ_DESC="6 x POST /v1/models after pg_terminate_backend of $ncut sessions" STATUS="" BODY=""
expect_eq "$codes" "200 200 200 200 200 200 " "sessions terminated by the server: 6 writes sent, 0 failed, 0 expected to fail"

# ------------------------------------------------------------------ concurrent registrations and unregistrations
echo "-- 200 concurrent registrations and unregistrations of 20 identifiers, twice"
# cc_op LOG ID OP [TAG]: one POST or DELETE; appends "id op code start_ns end_ns tag" to LOG.
cc_op() {
	local log=$1 id=$2 op=$3 tag=${4:-} s code
	s=$(date +%s%N)
	if [[ $op == POST ]]; then
		code=$(curl -s -o /dev/null --max-time 30 -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "{\"model_id\":\"$id\",\"provider_id\":\"vllm-short\"}" "$SG_URL/v1/models")
	else
		code=$(curl -s -o /dev/null --max-time 30 -w '%{http_code}' -X DELETE "$SG_URL/v1/models/$id")
	fi
	echo "$id $op ${code:-000} $s $(date +%s%N) $tag" >>"$log"
}
# cc_op_of C K: client C's operation at its step K (a mix of both kinds on every id).
cc_op_of() { if ((($1 + $2 / 7) % 2 == 0)); then echo POST; else echo DELETE; fi; }

# Round 1, free-running: 10 clients each walk the 20 ids (client c from id c)
# as fast as they can, so operations on one id race.  What the acknowledged
# operations prove, per id (initially absent):
#   present  some 200-register started after every 200-unregister had ended;
#   absent   no 200-register at all, or some 200-unregister started after every 200-register ended;
#   open     the last operations overlapped: either final state is allowed.
# A 404-unregister is wrong when a 200-register ended before it began and no
# 200-unregister overlaps the time from that register's start to the 404's end.
psql_q "DELETE FROM models WHERE identifier LIKE 'flt-cc-%'" >/dev/null
: >"$FLT/cc.log"
for c in $(seq 0 9); do
	(for k in $(seq 0 19); do cc_op "$FLT/cc.log" "flt-cc-$(((c + k) % 20))" "$(cc_op_of "$c" "$k")"; done) &
done
wait
ncc=$(wc -l <"$FLT/cc.log")
nbad=$(awk '$3 != 200 && $3 != 404 && $3 != 409' "$FLT/cc.log" | wc -l)
REQ_DESC="200 concurrent POST/DELETE /v1/models" STATUS="" BODY=$(awk '{print $2, $3}' "$FLT/cc.log" | sort | uniq -c | tr '\n' ' ')
if ((ncc == 200 && nbad == 0)); then pass "racing writes: 200 sent, 0 failed (all 200/404/409), 0 expected to fail"; else
	fail "racing writes: $ncc answered of 200, $nbad not 200/404/409 (0 expected)"; fi
verdicts=$(awk '
	{ id = $1; s = $4; e = $5; ids[id] = 1 }
	$2 == "POST" && $3 == 200 { nr[id]++; rs[id, nr[id]] = s; re[id, nr[id]] = e; if (e > maxre[id]) maxre[id] = e }
	$2 == "DELETE" && $3 == 200 { nd[id]++; ds[id, nd[id]] = s; de[id, nd[id]] = e; if (e > maxde[id]) maxde[id] = e }
	$2 == "DELETE" && $3 == 404 { nn[id]++; ns[id, nn[id]] = s; ne[id, nn[id]] = e }
	END {
		for (id in ids) {
			v = "open"
			for (i = 1; i <= nr[id]; i++) if (nd[id] == 0 || rs[id, i] > maxde[id]) v = "present"
			if (nr[id] == 0) v = "absent"
			for (i = 1; i <= nd[id]; i++) if (ds[id, i] > maxre[id]) v = "absent"
			bad404 = 0
			for (j = 1; j <= nn[id]; j++)
				for (i = 1; i <= nr[id]; i++) {
					if (re[id, i] >= ns[id, j]) continue
					clear = 1
					for (k = 1; k <= nd[id]; k++) if (!(de[id, k] < rs[id, i] || ds[id, k] > ne[id, j])) clear = 0
					if (clear) bad404++
				}
			print id, v, bad404
		}
	}' "$FLT/cc.log" | sort)
stored=" $(psql_q "SELECT identifier FROM models WHERE identifier LIKE 'flt-cc-%'" | tr '\n' ' ') "
ndet=0 wrong="" bad404=""
while read -r id v b; do
	((b == 0)) || bad404+=" $id($b)"
	[[ $v == open ]] && continue
	ndet=$((ndet + 1))
	if [[ $v == present && $stored != *" $id "* ]]; then wrong+=" $id(acknowledged present, missing)"; fi
	if [[ $v == absent && $stored == *" $id "* ]]; then wrong+=" $id(acknowledged absent, stored)"; fi
done <<<"$verdicts"
REQ_DESC="per-id verdicts: $(tr '\n' ';' <<<"$verdicts")" STATUS="" BODY="stored:$stored"
expect_eq "$wrong" "" "racing writes: the table agrees with the $ndet ids whose final state the acknowledgements decide"
expect_eq "$bad404" "" "racing writes: no unregistration answered 404 while its model was provably registered"

# Round 2, in lockstep: at step k (k = 0..19) the 10 clients write at once, client
# c on id (c + k) mod 20, so the 10 concurrent writes of a step hit 10 different
# ids and each id's writes are ordered by step.  Every answer and the final
# table must then be exactly what running the writes one by one gives.
psql_q "DELETE FROM models WHERE identifier LIKE 'flt-cc-%'" >/dev/null
: >"$FLT/cc2.log"
for k in $(seq 0 19); do
	for c in $(seq 0 9); do cc_op "$FLT/cc2.log" "flt-cc-$(((c + k) % 20))" "$(cc_op_of "$c" "$k")" "$k" & done
	wait
done
expected=$(sort -k6,6n -s "$FLT/cc2.log" | awk '
	{ want = "200"; if ($2 == "DELETE") { want = present[$1] ? "200" : "404"; present[$1] = 0 } else present[$1] = 1
	  if ($3 != want) print "step " $6 " " $2 " " $1 ": " $3 " (one by one: " want ")" }
	END { for (id in present) if (present[id]) print "final " id }' | sort)
got_final=$(psql_q "SELECT 'final ' || identifier FROM models WHERE identifier LIKE 'flt-cc-%'" | sort)
nwrong=$(grep -c '^step ' <<<"$expected")
REQ_DESC="200 lockstep POST/DELETE /v1/models" STATUS="" BODY=$(grep '^step ' <<<"$expected" | head -5 | tr '\n' ';')
if [[ $(wc -l <"$FLT/cc2.log") == 200 ]] && ((nwrong == 0)); then
	pass "lockstep writes: 200 sent, 0 answered other than one-by-one execution gives, 0 expected"
else
	fail "lockstep writes: $(wc -l <"$FLT/cc2.log") sent, $nwrong answered other than one-by-one execution gives, 0 expected"
fi
REQ_DESC="" BODY=""
expect_eq "$got_final" "$(grep '^final ' <<<"$expected")" "lockstep writes: the models table holds exactly the ids registered last"
stored=" $(psql_q "SELECT identifier FROM models WHERE identifier LIKE 'flt-cc-%'" | tr '\n' ' ') "
# Every worker's cache converges on the table.
stale=""
for _ in $(seq 20); do
	stale=""
	for i in $(seq 0 19); do
		id=flt-cc-$i
		if [[ $stored == *" $id "* ]]; then want=200; else want=404; fi
		for _ in 1 2 3; do
			got=$(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/models/$id")
			[[ $got == "$want" ]] || { stale+=" $id:$got(want $want)"; break; }
		done
	done
	[[ -z $stale ]] && break
	sleep 0.1
done
expect_eq "$stale" "" "every worker serves what the table holds for all 20 ids (within 2 s)"

# ------------------------------------------------------------------ SIGHUP and SIGTERM under load
echo "-- SIGHUP twice and SIGTERM under load"
# 5 clients of short requests for 3 s, 3 clients of back-to-back 2 s streams.
short_load() {
	local end=$((SECONDS + 3)) s
	while ((SECONDS < end)); do
		for p in /v1/version /v1/models/flt-llm; do
			s=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$SG_URL$p")
			echo "GET $p ${s:-000}" >>"$FLT/hup.$1"
		done
		s=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' -H 'Content-Type: application/json' \
			--data-binary "$(chat_json flt-llm)" "$SG_URL$OA/chat/completions")
		echo "chat ${s:-000}" >>"$FLT/hup.$1"
	done
}
stream_load() {
	local j
	for j in 1 2; do
		flt_stream "hup-$1-$j" flt-stream
		if flt_stream_ok "hup-$1-$j"; then echo "stream 200" >>"$FLT/hup.s$1"; else
			echo "stream failed $(cat "$FLT/hup-$1-$j.meta")" >>"$FLT/hup.s$1"; fi
	done
}
rm -f "$FLT"/hup.*
old_workers=$(workers_sorted)
for i in 1 2 3 4 5; do short_load "$i" & done
for i in 1 2 3; do stream_load "$i" & done
sleep 0.5
kill -HUP "$(sg_master_pid)"
sleep 1
kill -HUP "$(sg_master_pid)"
wait
nsent=$(cat "$FLT"/hup.* | wc -l)
nbad=$(cat "$FLT"/hup.* | awk '$NF != 200' | wc -l)
nstreams=$(cat "$FLT"/hup.s* | wc -l)
REQ_DESC="5 short-request clients + 3 stream clients, SIGHUP twice" STATUS="" BODY=$(cat "$FLT"/hup.* | awk '$NF != 200' | head -5 | tr '\n' ';')
if ((nbad == 0 && nstreams == 6)); then
	pass "SIGHUP twice under 8 clients: $nsent sent ($nstreams streams), 0 failed, 0 expected to fail"
else
	fail "SIGHUP twice under 8 clients: $nsent sent ($nstreams streams), $nbad failed, 0 expected to fail"
fi
# The old workers leave once nginx has closed their kept connections: within keepalive_time (2 s)
# plus keepalive_timeout (4 s) of the last SIGHUP (README "Reload and shutdown").
replaced() {
	new_workers=$(workers_sorted)
	[[ $(wc -w <<<"$new_workers") == 3 && $new_workers != "$old_workers" ]]
}
poll 7 replaced && pass "SIGHUP replaced the 3 workers" ||
	fail "SIGHUP replaced the 3 workers" "$old_workers -> $new_workers"

master=$(sg_master_pid)
started0=$(up_stat streams_started)
for i in 1 2 3 4; do flt_stream "term$i" flt-stream & done
for _ in $(seq 60); do (($(up_stat streams_started) - started0 >= 4)) && break; sleep 0.05; done
kill -TERM "$master"
t_term=$(now_ms)
exited=1
for _ in $(seq 300); do kill -0 "$master" 2>/dev/null || { exited=0; break; }; sleep 0.1; done
t_exit=$(($(now_ms) - t_term))
wait
nok=0
for i in 1 2 3 4; do flt_stream_ok "term$i" && nok=$((nok + 1)); done
REQ_DESC="4 streams (2 s each), SIGTERM to the master" STATUS="" BODY=$(cat "$FLT"/term*.meta | tr '\n' ' ')
if ((nok == 4)); then pass "SIGTERM under 4 streams: 4 sent, 0 failed, 0 expected to fail (each 200 with [DONE])"; else
	fail "SIGTERM under 4 streams: 4 sent, $((4 - nok)) failed, 0 expected to fail"; fi
((exited == 0)) && pass "the master exits after SIGTERM ($t_exit ms)" || fail "the master exits after SIGTERM" "still running after 30 s"
if sg_restart_daemon; then pass "restart with the test config"; else fail "restart with the test config" "not answering"; fi
req GET /v1/health
expect_status 200 "health is 200 after the restart"
