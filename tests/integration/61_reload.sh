# SPDX-License-Identifier: Apache-2.0
# 61_reload.sh: many reloads under back-to-back requests through nginx, none of
# which may fail.  nginx keeps its FastCGI connections (fastcgi_keep_conn, the
# upstream's keepalive): a worker that closed a kept connection right after a
# request could close it just as nginx hands it to the next request, which then
# fails with "upstream prematurely closed connection" and, a POST, is not retried
# (502).  So 20 SIGHUPs 250 ms apart while wrk sends chat completions on 12
# connections and GETs on 2, back to back; every answer must be 200 (before the
# fix 2 to 14 chats a run were 502).  Then the old workers must be gone within
# the bound the nginx upstream's keepalive_time and keepalive_timeout give
# (README "Reload and shutdown"), also under a slow client whose kept connection
# is never idle long enough for keepalive_timeout.  Identifiers start with rl-.

RL=$SG_TEST_DIR/tmp/rl
mkdir -p "$RL"
rm -f "$RL"/load.*
OA=/v1/openai/v1

echo "-- setup: 3 workers x 8 threads, limits off"
# Limits off: 10 clients back to back are not what 47_limits.sh checks; a 429 here would hide a 502.
RL_CONF=$SG_TEST_DIR/tmp/rl.json
jq '.server.workers = 3 | .server.threads = 8 | .limits.enabled = false' "$SG_CONFIG" >"$RL_CONF"
if sg_restart_daemon "$RL_CONF" && [[ $(sg_worker_pids | wc -l) == 3 ]]; then
	pass "restart with 3 workers x 8 threads"
else
	fail "restart with 3 workers x 8 threads" "workers: $(sg_worker_pids | tr '\n' ' ')"
fi
psql_q "DELETE FROM models WHERE identifier LIKE 'rl-%'" >/dev/null
req POST /v1/models '{"model_id":"rl-llm","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "register rl-llm"

# wrk (as bench/ drives it) keeps its client connections, so nginx hands kept FastCGI connections
# from request to request many times a second.  rl_wrk NAME SCRIPT|"" CONNS PATH: 6 s of it in
# $RL/NAME.wrk; rl_count NAME: "requests non-2xx socket-errors" from that summary.
rl_wrk() {
	local script=()
	[[ -n $2 ]] && script=(-s "$SG_ROOT/bench/post.lua")
	BENCH_BODY=$RL/chat.json wrk -t1 -c"$3" -d6s --timeout 10s "${script[@]}" "$SG_URL$4" >"$RL/$1.wrk" 2>&1
}
rl_count() {
	awk '/requests in/ {n = $1} /Non-2xx/ {bad = $NF} /Socket errors/ {gsub(",", ""); e = $4 + $6 + $8 + $10}
		END {print n + 0, bad + 0, e + 0}' "$RL/$1.wrk"
}
only_three() { [[ $(sg_worker_pids | wc -l) == 3 ]]; }
reloads() { grep -c 'reloaded .*: generation' "$SG_RUN/logs/stackgate.log"; }
reloaded() { (($(reloads) >= $1)); }
jq -nc '{model:"rl-llm",messages:[{role:"user",content:"reload test"}]}' >"$RL/chat.json"

echo "-- 20 SIGHUPs 250 ms apart under back-to-back chat completions and GETs"
master=$(sg_master_pid)
r0=$(reloads)
rl_wrk chat post 12 "$OA/chat/completions" &
rl_wrk get "" 2 /v1/version &
sleep 0.5
for _ in $(seq 20); do
	kill -HUP "$master"
	sleep 0.25
done
wait
read -r nchat badchat errchat < <(rl_count chat)
read -r nget badget errget < <(rl_count get)
nbad=$((badchat + errchat + badget + errget))
REQ_DESC="wrk: 12 connections of chat completions, 2 of GET /v1/version, 20 SIGHUPs" STATUS=""
BODY="chat: $nchat sent, $badchat non-2xx, $errchat socket errors; GET: $nget sent, $badget non-2xx, $errget socket errors"
if ((nbad == 0 && nchat > 0 && nget > 0)); then
	pass "20 SIGHUPs under 14 clients: $((nchat + nget)) sent ($nchat chat), 0 failed, 0 expected to fail"
else
	fail "20 SIGHUPs under 14 clients: $((nchat + nget)) sent ($nchat chat), $nbad failed, 0 expected to fail" \
		"$(grep -c 'prematurely closed' "$SG_RUN/logs/nginx-error.log" 2>/dev/null) 'prematurely closed' lines in nginx-error.log"
fi
REQ_DESC=""
# The old generations leave once nginx has closed their kept connections.  The master logs
# "reloaded" once it has forked a generation: only then are 3 workers the new ones.
# SIGHUPs that come while the master is reloading coalesce (slow builds reload slower): wait until
# the count stands still for a second.  At least 10 reloads, or this load proves little.
n=-1
for _ in $(seq 10); do
	(($(reloads) == n)) && break
	n=$(reloads)
	sleep 1
done
n=$((n - r0))
((n >= 10)) && pass "the master reloaded $n times for the 20 SIGHUPs (at least 10)" ||
	fail "the master reloaded $n times for the 20 SIGHUPs (at least 10)"
t0=$(now_ms)
if poll 10 only_three; then
	pass "after the load the old workers are gone within $(($(now_ms) - t0)) ms (bound: 10 s)"
else
	fail "after the load the old workers are gone within 10 s" "workers: $(sg_worker_pids | wc -l)"
fi

echo "-- a reload under a slow client: its kept connection is never idle for keepalive_timeout"
# One GET every 300 ms: nginx hands it the same kept connection each time (never idle 4 s, far
# from keepalive_requests), so only keepalive_time (2 s) ends it.  The old workers must be gone
# within that plus the idle ones' keepalive_timeout, while the client goes on.
rl_slow() {
	local end=$(($(now_ms) + 8000)) s
	while (($(now_ms) < end)); do
		s=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$SG_URL/v1/version")
		echo "GET ${s:-000}" >>"$RL/slow"
		sleep 0.3
	done
}
rm -f "$RL/slow"
rl_slow &
sleep 1
r0=$(reloads)
kill -HUP "$master"
t_hup=$(now_ms)
if poll 5 reloaded $((r0 + 1)) && poll 6 only_three; then
	pass "under a slow client the old workers are gone $(($(now_ms) - t_hup)) ms after the SIGHUP (bound: 6 s)"
else
	fail "under a slow client the old workers are gone within 6 s of the SIGHUP" "workers: $(sg_worker_pids | wc -l)"
fi
wait
nslow=$(wc -l <"$RL/slow")
nbad=$(awk '$NF != 200' "$RL/slow" | wc -l)
if ((nbad == 0 && nslow > 0)); then pass "the slow client: $nslow sent, 0 failed"; else
	fail "the slow client: $nslow sent, $nbad failed"; fi

req GET /v1/health
expect_status 200 "health is 200 after the reloads"

echo "-- a stopping worker takes no new connection when nginx closes its kept one"
# A worker waits for the next request on a kept connection in libfcgi's read; when nginx closes
# the connection, libfcgi looks for a new one on the listening socket, which a stopping worker
# must not take (it could be cut at shutdown_timeout).  fcgi_kept.js stands in for nginx; the
# master is held (SIGSTOP) so that no successor takes the new connection either.
ST_CONF=$SG_TEST_DIR/tmp/rl-stop.json
jq '.server.workers = 1 | .server.threads = 5' "$SG_CONFIG" >"$ST_CONF"
sg_restart_daemon "$ST_CONF" && pass "restart with 1 worker x 5 threads" || fail "restart (1 worker)" "not answering"
master=$(sg_master_pid)
worker=$(sg_worker_pids)
coproc KEPT { node "$SG_ROOT/tests/integration/fcgi_kept.js" "$SG_RUN/stackgate.sock" 2>&1; }
line=""
read -r -t 5 line <&"${KEPT[0]}"
expect_eq "$line" "kept 200" "a FastCGI connection kept as nginx keeps it is answered"
kill -STOP "$master"
kill -TERM "$worker"
sleep 0.5 # the worker's other threads leave; the one on the kept connection waits for it
echo go >&"${KEPT[1]}"
line=""
read -r -t 5 line <&"${KEPT[0]}"
worker_left=no
# (Gone, or a zombie: the held master has not reaped it.)
for _ in $(seq 30); do [[ $(ps -o stat= -p "$worker") =~ ^(Z|$) ]] && { worker_left=yes; break; }; sleep 0.1; done
kill -CONT "$master"
expect_eq "$line" "new none" "the stopping worker, its kept connection closed, takes no new connection"
expect_eq "$worker_left" yes "and leaves"
wait "${KEPT_PID:-}" 2>/dev/null

echo "-- 65 reloads while every old generation is still draining"
# Old generations that have not left yet are tracked by the master, which signals them to stop
# and waits for them.  With 4 workers and each generation held (SIGSTOP) before the next SIGHUP,
# 65 reloads leave 260 old workers at once: more than the 256 the master once had room for,
# whose surplus it neither told to stop nor waited for (they went on serving with the old
# configuration for good).  Once let go, every old worker must leave.
DR_CONF=$SG_TEST_DIR/tmp/rl-drain.json
jq '.server.workers = 4 | .server.threads = 1 | .limits.enabled = false | .usage.enabled = false' "$SG_CONFIG" >"$DR_CONF"
dr_from=$(($(wc -l <"$SG_RUN/logs/stackgate.log") + 1))
sg_restart_daemon "$DR_CONF" && pass "restart with 4 workers x 1 thread" || fail "restart (4 workers)" "not answering"
master=$(sg_master_pid)
held=()
# The pids of generation N that the restarted master started.
gen_pids() { tail -n +"$dr_from" "$SG_RUN/logs/stackgate.log" | sed -n "s/.*started (pid \([0-9]*\), generation $1)\$/\1/p"; }
gen_started() { (($(gen_pids "$1" | wc -l) >= 4)); }
gen=0
reloads_done=0
for _ in $(seq 65); do
	mapfile -t cur < <(gen_pids "$gen")
	kill -STOP "${cur[@]}" 2>/dev/null
	held+=("${cur[@]}")
	kill -HUP "$master"
	gen=$((gen + 1))
	poll 10 gen_started "$gen" || break
	reloads_done=$((reloads_done + 1))
done
expect_eq "$reloads_done" 65 "65 reloads, each generation started"
expect_eq "$(sg_worker_pids | wc -l)" "$((4 * 66))" "the 65 held generations and the new one are running"
kill -CONT "${held[@]}" 2>/dev/null
only_four() { [[ $(sg_worker_pids | wc -l) == 4 ]]; }
if poll 20 only_four; then
	pass "every old worker left once let go (4 workers remain)"
else
	fail "every old worker left once let go" "$(sg_worker_pids | wc -l) workers remain: $(sg_worker_pids | tr '\n' ' ')"
fi
req GET /v1/health
expect_status 200 "health is 200 after the 65 reloads"

echo "-- a worker whose every thread fails is restarted with a growing delay"
# A test knob fails each thread's setup as if the worker were out of descriptors.  The worker must
# exit unclean, so that the master backs off (100, 200, 400 ms ...), not restart it ten times a second.
TF_CONF=$SG_TEST_DIR/tmp/rl-threads-fail.json
jq '.server.workers = 1 | .server.threads = 2' "$SG_CONFIG" >"$TF_CONF"
"$SG_ROOT/dev" _daemon_stop "$SG_RUN"
tf_from=$(($(wc -l <"$SG_RUN/logs/stackgate.log") + 1))
STACKGATE_TEST_THREAD_SETUP_FAILS=1 "$SG_ROOT/dev" _daemon_start "$TF_CONF" "$SG_RUN"
sleep 4
starts=$(tail -n +"$tf_from" "$SG_RUN/logs/stackgate.log" | grep -c 'worker 0 started')
grep -q 'worker thread setup failed: Too many open files' <(tail -n +"$tf_from" "$SG_RUN/logs/stackgate.log") &&
	pass "the knob fails the threads' setup (a ./dev build)" || fail "the thread-setup knob is on" "no setup failure logged"
((starts >= 3 && starts <= 8)) && pass "the worker was started $starts times in 4 s (backing off)" ||
	fail "the worker was started $starts times in 4 s (backing off: 3 to 8)"
grep -q 'keeps dying young: respawning in' <(tail -n +"$tf_from" "$SG_RUN/logs/stackgate.log") &&
	pass "…and the master says it backs off" || fail "…and the master says it backs off"
if sg_restart_daemon "$ST_CONF"; then pass "restart without the knob"; else fail "restart without the knob"; fi

echo "-- the workers leave when their master is killed"
# SIGKILL (or the OOM killer) gives the master no chance to stop them; the kernel's parent-death
# signal does (a graceful stop: gone within keepalive_time + keepalive_timeout).
master=$(sg_master_pid)
mapfile -t orphans < <(sg_worker_pids)
kill -KILL "$master"
orphans_gone() {
	local w
	for w in "${orphans[@]}"; do [[ $(ps -o stat= -p "$w") =~ ^(Z|$) ]] || return 1; done
}
if poll 10 orphans_gone; then pass "the ${#orphans[@]} workers left within 10 s of their master's SIGKILL"; else
	fail "the workers left within 10 s of their master's SIGKILL" "still running: $(ps -o pid=,stat= -p "${orphans[*]}" | tr '\n' ' ')"; fi

req DELETE /v1/models/rl-llm
if sg_restart_daemon; then pass "restart with the test config"; else fail "restart with the test config" "not answering"; fi
