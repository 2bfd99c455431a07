#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh: load benchmarks, each beside its baseline in the same run, on
# the same nginx, interleaved, medians of ROUNDS runs.  Prints a table and the
# ratios; never a pass/fail test.  Called by ./dev bench [NAME...].
#
#   trivial   GET /v1/version through stackgate   vs nginx `return 200` (static)
#   models    GET /v1/openai/v1/models and /v1/models/{id} (authenticated) vs static
#   stream-latency  the delay stackgate adds to the first event and between events
#             of a stream, vs nginx proxy_pass (buffering off) to the same upstream
#   streams   1,000 concurrent streaming chat completions (the upstream streams
#             for 10 s): all complete, peak memory (stackgate, its nginx, both), and a short
#             request's latency during the load (4 workers x 288 threads: 256
#             streams each plus the reserve; the bench principal's own limit)
#   scale     the registry at 100,000 models: lookups at 10 vs 100,000 models, registration
#             rate, and the full list's time and worker memory (bench/scale.sh; its own two
#             stacks under var/scale, ports 18700-18713; about 2 minutes; not in the default set)
#   chat      POST chat/completions through stackgate (authenticated) vs nginx
#             proxy_pass to the same zero-delay upstream; throughput and the
#             latency stackgate adds at p50/p99 under a moderate load
#             (and chat-limits and chat-metrics, below)
#   chat-limits  the same chat/completions with limits and usage on (limit rules
#             for the bench principal and model that never bite; one usage_log
#             row per request) vs both off (limits.enabled and usage.enabled
#             false), the daemon restarted between interleaved rounds; goal:
#             on/off >= 0.9 (CHAT_LIMITS_A, CHAT_LIMITS_B: jq filters for side A's and
#             side B's configuration, to compare two variants, say both with usage on)
#   chat-metrics  the same with metrics.enabled true vs false, likewise
#   cpu       CPU per request of each process group (stackgate's workers, the front nginx,
#             PostgreSQL, the upstream nginx, the Portkey gateway) from /proc/PID/stat
#             utime+stime over one run at -c16 divided by its requests, for stackgate
#             (non-streamed chat, authenticated, limits, usage and metrics on), nginx
#             proxy_pass and the Portkey gateway; then the syscalls per request of the
#             workers (strace -f -c over all their threads during a fixed run)
#   portkey   stackgate vs the Portkey gateway 1.15.2 (npm @portkey-ai/gateway, installed into
#             var/portkey on first use) proxying the same chat to the same upstream, interleaved
#   ab        before/after: BASE_ROOT's build and nginx template (another tree, say main's) vs
#             this tree's, interleaved rounds, chat at -c16 (CPU per group) and -c1, proxy_pass
#             beside each, the syscalls of each once; not in the default set
#   cold      the tail of a fresh start: 3 times a new key and a restarted stackgate and nginx
#             (empty caches), then 30 s at -c16 at once; p99 and maximum of each run
#             (COLD_DURATION); not in the default set
#
# Environment: ROUNDS (3), DURATION (5 s), CONNS (32), BENCH_PORT (18500); BENCH_PERF_DIR: a
# directory for a `perf record -a -g` of every run that counts CPU per request (1.data, 2.data, …
# in the order they ran: with pair_configs' ABBA order, A B B A A B …); BENCH_NGINX_WORKERS: the
# front nginx's worker_processes for the benchmarks that keep one stack (1; ab and cold render
# their own nginx with 1, as the proxy_pass baseline has).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/stack.sh"
RUN=$ROOT/var/bench/run
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
PORT=${BENCH_PORT:-18500}
bench_ports "$PORT"
SG_URL=http://127.0.0.1:$PORT
STREAMS=${STREAMS:-1000}
BENCHES=("$@")
if [[ -n ${BENCH_PERF_DIR:-} ]]; then
	command -v perf >/dev/null || { echo "bench: BENCH_PERF_DIR needs perf (Debian's linux-perf)" >&2; exit 1; }
	mkdir -p "$BENCH_PERF_DIR"
fi
((${#BENCHES[@]})) || BENCHES=(trivial models chat cpu portkey stream-latency streams)

UPSTREAM_PID="" PORTKEY_PID=""
cleanup() {
	"$ROOT/dev" _stack_down "$RUN" >/dev/null 2>&1 || true
	bench_baseline_down "$RUN"
	[[ -n $UPSTREAM_PID ]] && kill "$UPSTREAM_PID" 2>/dev/null
	[[ -n $PORTKEY_PID ]] && kill "$PORTKEY_PID" 2>/dev/null
	return 0
}
trap cleanup EXIT

bench_prepare "$ROOT/var/bench" "$RUN"
# 36 threads per worker: all of CONNS (32) may land on one worker, plus server.reserved_threads (4, which inference
# never takes), so that no benchmark request meets the reserve's 429.
bench_config "$RUN" 2 36
# The streaming benchmarks' provider: the node upstream (PORT+4), which lists no models.
jq --arg url "http://127.0.0.1:$STREAM_PORT/v1" '.providers.inference += [{provider_id: "streamer",
	provider_type: "remote::vllm", config: {url: $url, check_model_on_register: false}}] |
	.models += [{model_id: "bench-stream-lat", provider_id: "streamer", provider_model_id: "stream-20-50"},
	            {model_id: "bench-stream", provider_id: "streamer", provider_model_id: "stream-10-1000"}]' \
	"$RUN/stackgate.json" >"$RUN/stackgate.json.new" && mv "$RUN/stackgate.json.new" "$RUN/stackgate.json"
# The upstream and the proxy_pass baselines run in an nginx of their own, so that each process
# group's CPU can be counted apart (cpu, below).
bench_baseline_up "$RUN" || { echo "bench: the baseline nginx did not start" >&2; exit 1; }
BENCH_EXTRA_SERVERS="" NGINX_WORKERS=${BENCH_NGINX_WORKERS:-1} bench_up "$RUN" "$PORT" bench
export BENCH_KEY=$KEY

# wrk_run URL [script] [conns] [threads] → "rps p50_ms p99_ms requests max_ms"
wrk_run() {
	local url=$1 script=${2:-$ROOT/bench/get.lua} conns=${3:-$CONNS} threads=${4:-2} out
	out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$script" "$url" 2>&1)
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "bench: non-2xx answers from $url:" >&2
		grep -E 'Non-2xx|Socket errors' <<<"$out" >&2
	fi
	awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		/requests in/ { total = $1 }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		/^ +Latency / && max == "" { max = ms($4) }
		END { printf "%d %.3f %.3f %d %.3f\n", rps, p50, p99, total, max }' <<<"$out"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# pair NAME URL_A SCRIPT_A URL_B SCRIPT_B [conns] [threads]: interleaved rounds (ABBA order), medians.
pair() {
	local name=$1 ua=$2 sa=$3 ub=$4 sb=$5 conns=${6:-$CONNS} threads=${7:-2} i ra rb
	local fa fb
	fa=$RUN/$(tr -c 'a-zA-Z0-9' '_' <<<"$name").a
	fb=${fa%.a}.b
	: >"$fa"; : >"$fb"
	# A then B in even rounds, B then A in odd ones (ABBA): neither side always runs first.
	for ((i = 0; i < ROUNDS; i++)); do
		((i % 2 == 0)) || { rb=$(wrk_run "$ub" "$sb" "$conns" "$threads"); echo "$rb" >>"$fb"; }
		ra=$(wrk_run "$ua" "$sa" "$conns" "$threads"); echo "$ra" >>"$fa"
		SG_REQUESTS=$((SG_REQUESTS + $(cut -d' ' -f4 <<<"$ra")))
		((i % 2 == 1)) || { rb=$(wrk_run "$ub" "$sb" "$conns" "$threads"); echo "$rb" >>"$fb"; }
	done
	local a_rps a_p50 a_p99 b_rps b_p50 b_p99
	a_rps=$(cut -d' ' -f1 "$fa" | median); a_p50=$(cut -d' ' -f2 "$fa" | median)
	a_p99=$(cut -d' ' -f3 "$fa" | median)
	b_rps=$(cut -d' ' -f1 "$fb" | median); b_p50=$(cut -d' ' -f2 "$fb" | median)
	b_p99=$(cut -d' ' -f3 "$fb" | median)
	printf '%-34s %9s rps  p50 %7s ms  p99 %7s ms\n' "$name: stackgate" "$a_rps" "$a_p50" "$a_p99"
	printf '%-34s %9s rps  p50 %7s ms  p99 %7s ms\n' "$name: baseline" "$b_rps" "$b_p50" "$b_p99"
	awk -v a="$a_rps" -v b="$b_rps" -v a50="$a_p50" -v b50="$b_p50" -v a99="$a_p99" -v b99="$b_p99" -v n="$name" \
		'BEGIN { printf "%-34s ratio %.3f   added p50 %+.3f ms  p99 %+.3f ms\n\n", n ":", (b > 0 ? a / b : 0), a50 - b50, a99 - b99 }'
}

# pair_configs NAME URL SCRIPT CONF_A CONF_B [conns] [threads]: the same load on stackgate run with
# CONF_A and with CONF_B (restarted between runs, a 1 s warm-up after each start), interleaved
# rounds in ABBA order, medians, with the CPU µs per request of each process group (cpu_measure); the ratio is
# A/B.  Leaves stackgate running the bench config.
pair_configs() {
	local name=$1 url=$2 script=$3 ca=$4 cb=$5 conns=${6:-$CONNS} threads=${7:-2} i fa fb c f conf
	fa=$RUN/$(tr -c 'a-zA-Z0-9' '_' <<<"$name").a
	fb=${fa%.a}.b
	: >"$fa"; : >"$fb"
	for ((i = 0; i < ROUNDS; i++)); do
		# ABBA: A first in even rounds, B first in odd ones, so that neither side always runs first.
		for c in $( ((i % 2 == 0)) && echo a b || echo b a); do
			if [[ $c == a ]]; then conf=$ca f=$fa; else conf=$cb f=$fb; fi
			SG_BIN=$SG_BIN STACKGATE_DATABASE_URL=$STACKGATE_DATABASE_URL "$ROOT/dev" _daemon_start "$conf" "$RUN" >/dev/null
			for _ in $(seq 100); do [[ $(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/health") == 200 ]] && break; sleep 0.1; done
			wrk -t"$threads" -c"$conns" -d1s -s "$script" "$url" >/dev/null 2>&1
			cpu_measure "$url" "$script" "$conns" "$threads" >>"$f"
		done
	done
	SG_BIN=$SG_BIN STACKGATE_DATABASE_URL=$STACKGATE_DATABASE_URL "$ROOT/dev" _daemon_start "$RUN/stackgate.json" "$RUN" >/dev/null
	local a_rps a_p50 a_p99 b_rps b_p50 b_p99
	a_rps=$(cut -d' ' -f1 "$fa" | median); a_p50=$(cut -d' ' -f2 "$fa" | median)
	a_p99=$(cut -d' ' -f3 "$fa" | median)
	b_rps=$(cut -d' ' -f1 "$fb" | median); b_p50=$(cut -d' ' -f2 "$fb" | median)
	b_p99=$(cut -d' ' -f3 "$fb" | median)
	printf '%-34s %9s rps  p50 %7s ms  p99 %7s ms   (runs: %s)\n' "$name: A" "$a_rps" "$a_p50" "$a_p99" \
		"$(cut -d' ' -f1 "$fa" | tr '\n' ' ')"
	printf '%-34s %9s rps  p50 %7s ms  p99 %7s ms   (runs: %s)\n' "$name: B" "$b_rps" "$b_p50" "$b_p99" \
		"$(cut -d' ' -f1 "$fb" | tr '\n' ' ')"
	printf '%-34s A/B by round: %s\n' "$name:" "$(paste -d' ' <(cut -d' ' -f1 "$fa") <(cut -d' ' -f1 "$fb") |
		awk '{ printf "%.3f ", ($2 > 0 ? $1 / $2 : 0) }')"
	printf '%-34s CPU us/request (medians):%s\n' "$name: A" "$(cpu_groups_of "$fa")"
	printf '%-34s CPU us/request (medians):%s\n' "$name: B" "$(cpu_groups_of "$fb")"
	awk -v a="$a_rps" -v b="$b_rps" -v a50="$a_p50" -v b50="$b_p50" -v a99="$a_p99" -v b99="$b_p99" -v n="$name" \
		'BEGIN { printf "%-34s ratio A/B %.3f   p50 %+.3f ms  p99 %+.3f ms\n\n", n ":", (b > 0 ? a / b : 0), a50 - b50, a99 - b99 }'
}

# What the metrics cost: the chat benchmark on the same stackgate with metrics.enabled true (A) and
# false (B).
metrics_on_off() {
	printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
	export BENCH_BODY=$RUN/chat.json
	jq '.metrics.enabled = false' "$RUN/stackgate.json" >"$RUN/stackgate-nometrics.json"
	echo "metrics on (A) vs off (B); uptime before: $(uptime)"
	pair_configs "chat/completions, metrics on vs off" "$SG_URL/v1/openai/v1/chat/completions" \
		"$ROOT/bench/post.lua" "$RUN/stackgate.json" "$RUN/stackgate-nometrics.json"
	echo "uptime after: $(uptime)"
	echo
}

# The OpenAI-compatible node test upstream, for the streaming benchmarks.
start_stream_upstream() {
	[[ -n $UPSTREAM_PID ]] && return 0
	SG_UPSTREAM_PORT=$STREAM_PORT node "$ROOT/tests/upstream/server.js" >"$RUN/logs/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$STREAM_PORT/v1/models" && break; sleep 0.1; done
}

# The limit rules of the measured chat: checked on every request, never biting.
set_chat_limits() {
	"$SG_BIN" limit set bench --max-concurrent 100000 --rpm 1000000000 --tpm 1000000000000 \
		--tokens-per-day 1000000000000 >/dev/null
	"$SG_BIN" limit set bench --model bench-llm --rpm 1000000000 --tpm 1000000000000 >/dev/null
}
clear_chat_limits() {
	"$SG_BIN" limit clear bench --model bench-llm >/dev/null
	"$SG_BIN" limit clear bench >/dev/null
}

# The Portkey gateway (the peer): npm @portkey-ai/gateway 1.15.2 in PORTKEY_DIR, one node process
# on PORTKEY_PORT; BENCH_PORTKEY_HEADERS are the headers that make it proxy to the bench upstream.
PORTKEY_DIR=${PORTKEY_DIR:-$ROOT/var/portkey}
PORTKEY_PORT=$((PORT + 6))
BENCH_PORTKEY_HEADERS="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:$UPSTREAM_PORT/v1|Authorization: Bearer bench-token"
start_portkey() {
	local js=$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js
	[[ -n $PORTKEY_PID ]] && return 0
	if [[ ! -f $js ]]; then
		mkdir -p "$PORTKEY_DIR"
		npm install --prefix "$PORTKEY_DIR" --no-audit --no-fund @portkey-ai/gateway@1.15.2 \
			>"$RUN/logs/portkey-npm.log" 2>&1 || { echo "bench: npm install of the Portkey gateway failed" >&2; return 1; }
	fi
	NODE_ENV=production node "$js" --port="$PORTKEY_PORT" --headless >"$RUN/logs/portkey.log" 2>&1 &
	PORTKEY_PID=$!
	for _ in $(seq 100); do
		[[ $(BENCH_HEADERS=$BENCH_PORTKEY_HEADERS curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
			-H 'x-portkey-provider: openai' -H "x-portkey-custom-host: http://127.0.0.1:$UPSTREAM_PORT/v1" \
			-H 'Authorization: Bearer bench-token' -d @"$BENCH_BODY" \
			"http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions") == 200 ]] && return 0
		sleep 0.2
	done
	echo "bench: the Portkey gateway did not answer (see $RUN/logs/portkey.log)" >&2
	return 1
}

# The process groups whose CPU the cpu benchmark counts, and their pids; "idle" is the machine's
# idle time (all cores, iowait included) per request: what no process used.
CPU_GROUPS=(stackgate nginx postgres upstream portkey idle)
group_pids() {
	case $1 in
	stackgate) bench_group_pids "$(cat "$RUN/stackgate.pid" 2>/dev/null)" ;;
	nginx) bench_group_pids "$(cat "$RUN/nginx.pid" 2>/dev/null)" ;;
	postgres) bench_group_pids "$(head -1 "$RUN/pg/data/postmaster.pid" 2>/dev/null)" ;;
	upstream) bench_group_pids "$(cat "$RUN/base/nginx.pid" 2>/dev/null)" ;;
	portkey) [[ -z $PORTKEY_PID ]] || echo "$PORTKEY_PID" ;;
	esac
}

# group_ticks GROUP PID...: the CPU clock ticks the PIDs have used so far (for idle: the machine's
# idle ticks).
group_ticks() {
	if [[ $1 == idle ]]; then
		awk '/^cpu / { print $5 + $6 }' /proc/stat
	else
		bench_cpu_ticks "${@:2}"
	fi
}

# cpu_measure URL SCRIPT [conns] [threads]: one wrk run; prints wrk_run's fields, then the CPU µs
# per request of every group of CPU_GROUPS, in that order.
cpu_measure() {
	local url=$1 script=$2 conns=${3:-16} threads=${4:-2} g out n line
	local -A pids before
	for g in "${CPU_GROUPS[@]}"; do
		pids[$g]=$(group_pids "$g" | tr '\n' ' ')
		# shellcheck disable=SC2086
		before[$g]=$(group_ticks "$g" ${pids[$g]})
	done
	local perfpid=""
	if [[ -n ${BENCH_PERF_DIR:-} ]]; then
		BENCH_PERF_N=$((${BENCH_PERF_N:-0} + 1))
		perf record -a -e cpu-clock -F 1999 -g -o "$BENCH_PERF_DIR/$BENCH_PERF_N.data" -- sleep "$DURATION" >/dev/null 2>&1 &
		perfpid=$!
	fi
	out=$(wrk_run "$url" "$script" "$conns" "$threads")
	[[ -n $perfpid ]] && wait "$perfpid"
	n=$(cut -d' ' -f4 <<<"$out")
	line=$out
	for g in "${CPU_GROUPS[@]}"; do
		# shellcheck disable=SC2086
		line+=$(awk -v a="${before[$g]}" -v b="$(group_ticks "$g" ${pids[$g]})" -v n="$n" \
			-v hz="$(getconf CLK_TCK)" 'BEGIN { printf " %.1f", (n > 0 ? (b - a) * 1e6 / hz / n : 0) }')
	done
	echo "$line"
}

# cpu_groups_of LINE_FILE: the median CPU µs per request of each group over cpu_measure's lines.
cpu_groups_of() {
	local g k=6 line=""
	for g in "${CPU_GROUPS[@]}"; do
		line+=$(printf '  %s %s' "$g" "$(cut -d' ' -f$k "$1" | median)")
		k=$((k + 1))
	done
	echo "$line"
}

# cpu_run NAME URL SCRIPT: one wrk run at -c16; prints rps and the CPU µs per request of every group.
cpu_run() {
	local out g k=6 line
	out=$(cpu_measure "$2" "$3" 16 2)
	line=$(printf '%-30s %7s rps  CPU us/request:' "$1" "$(cut -d' ' -f1 <<<"$out")")
	for g in "${CPU_GROUPS[@]}"; do
		line+=$(printf '  %s %s' "$g" "$(cut -d' ' -f$k <<<"$out")")
		k=$((k + 1))
	done
	echo "$line"
}

# syscalls_run URL SCRIPT: the syscalls of all of stackgate's worker threads during a fixed run
# (wrk -c4, 3 s, under strace -f -c), per request, and the most frequent ones.
syscalls_run() {
	local url=$1 script=$2 w tids=() out n spid
	for w in $(pgrep -P "$(cat "$RUN/stackgate.pid")"); do
		for t in /proc/"$w"/task/*; do tids+=(-p "${t##*/}"); done
	done
	strace -f -c -o "$RUN/strace.txt" "${tids[@]}" 2>/dev/null &
	spid=$!
	sleep 1
	out=$(wrk_run "$url" "$script" 4 1)
	kill -INT "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null || true
	n=$(cut -d' ' -f4 <<<"$out")
	# strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall (the last line: total).
	awk -v n="$n" '
		/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ {
			if ($NF == "total") printf "worker syscalls per request: %.2f (%d requests under strace)\n", $4 / n, n
			else if ($4 / n >= 0.05) printf "  %-16s %.2f\n", $NF, $4 / n
		}' "$RUN/strace.txt"
}

SG_REQUESTS=0
pg_sql() { psql "$STACKGATE_DATABASE_URL" -XqAtc "$1"; }
# Statements run by stackgate (application_name) since the last reset.
pg_statements() {
	pg_sql "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
	        WHERE d.datname = 'stackgate' AND s.query NOT LIKE '%pg_stat_statements%'"
}

# chat/completions with limits and usage on and off, the daemon restarted between interleaved rounds.
chat_limits() {
	# The same stackgate with limits on (rules for the bench principal that never bite, so every
	# check runs: the principal's and the model's subjects) and the usage log on, and with both
	# off, restarted between rounds.
	printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
	export BENCH_BODY=$RUN/chat.json
	set_chat_limits
	jq "${CHAT_LIMITS_B:-.limits.enabled = false | .usage.enabled = false}" "$RUN/stackgate.json" >"$RUN/stackgate-nolimits.json"
	# CHAT_LIMITS_A: a jq filter for side A's configuration, to take the two apart (say
	# '.usage.enabled = false' for limits alone); CHAT_LIMITS_B likewise for side B (default: both off).
	jq "${CHAT_LIMITS_A:-.}" "$RUN/stackgate.json" >"$RUN/stackgate-limits.json"
	echo "limits+usage on (A${CHAT_LIMITS_A:+, $CHAT_LIMITS_A}) vs off (B${CHAT_LIMITS_B:+, $CHAT_LIMITS_B}); uptime before: $(uptime)"
	pair_configs "chat/completions, limits+usage on vs off" "$SG_URL/v1/openai/v1/chat/completions" \
		"$ROOT/bench/post.lua" "$RUN/stackgate-limits.json" "$RUN/stackgate-nolimits.json"
	echo "uptime after: $(uptime)   (goal: ratio A/B at least 0.900)"
	echo
	clear_chat_limits
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); wrk -c$CONNS -d${DURATION}s, ${ROUNDS} rounds, medians"
echo
for b in "${BENCHES[@]}"; do
	case $b in
	trivial)
		pair "GET /v1/version vs static" "$SG_URL/v1/version" "$ROOT/bench/get.lua" \
			"http://127.0.0.1:$UPSTREAM_PORT/static" "$ROOT/bench/get.lua"
		syscalls_run "$SG_URL/v1/version" "$ROOT/bench/get.lua"
		echo
		;;
	models)
		# Steady state: caches filled by a first short run, then PostgreSQL's counters reset.
		wrk -t2 -c"$CONNS" -d1s -s "$ROOT/bench/get.lua" "$SG_URL/v1/models/bench-llm" >/dev/null 2>&1
		pg_sql "SELECT pg_stat_statements_reset()" >/dev/null
		SG_REQUESTS=0
		pair "GET /v1/openai/v1/models vs static" "$SG_URL/v1/openai/v1/models" "$ROOT/bench/get.lua" \
			"http://127.0.0.1:$UPSTREAM_PORT/static" "$ROOT/bench/get.lua"
		pair "GET /v1/models/{id} vs static" "$SG_URL/v1/models/bench-llm" "$ROOT/bench/get.lua" \
			"http://127.0.0.1:$UPSTREAM_PORT/static" "$ROOT/bench/get.lua"
		stmts=$(pg_statements)
		echo "PostgreSQL statements during the read benchmarks: $stmts for $SG_REQUESTS requests through stackgate"
		pg_sql "SELECT s.calls, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 90) FROM pg_stat_statements s
		        JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = 'stackgate'
		          AND s.query NOT LIKE '%pg_stat_statements%' ORDER BY s.calls DESC LIMIT 5" | sed 's/^/  /'
		echo
		;;
	chat)
		printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
		export BENCH_BODY=$RUN/chat.json
		pair "chat/completions vs proxy_pass" "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua" \
			"http://127.0.0.1:$BASELINE_PORT/v1/chat/completions" "$ROOT/bench/post.lua"
		pair "chat/completions, moderate load (-c4)" "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua" \
			"http://127.0.0.1:$BASELINE_PORT/v1/chat/completions" "$ROOT/bench/post.lua" 4 1
		chat_limits
		metrics_on_off
		;;
	chat-limits)
		chat_limits
		;;
	chat-metrics)
		metrics_on_off
		;;
	cpu)
		printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
		export BENCH_BODY=$RUN/chat.json
		set_chat_limits
		start_portkey || true
		echo "CPU per request by process group, wrk -c16 -d${DURATION}s each (limits, usage, metrics on); uptime: $(uptime)"
		for ((i = 0; i < ROUNDS; i++)); do
			cpu_run "stackgate chat" "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua"
			cpu_run "nginx proxy_pass chat" "http://127.0.0.1:$BASELINE_PORT/v1/chat/completions" "$ROOT/bench/post.lua"
			[[ -n $PORTKEY_PID ]] && BENCH_HEADERS=$BENCH_PORTKEY_HEADERS BENCH_KEY="" \
				cpu_run "portkey chat" "http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions" "$ROOT/bench/post.lua"
		done
		echo "(upstream: the nginx that serves the upstream and the proxy_pass baseline; stackgate: supervisor and workers)"
		syscalls_run "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua"
		clear_chat_limits
		echo
		;;
	portkey)
		printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
		export BENCH_BODY=$RUN/chat.json
		if start_portkey; then
			# pair takes one environment for both sides: the Portkey side's headers go in through a wrapper script.
			sed 's/^local key = os.getenv("BENCH_KEY")$/local key = nil/' "$ROOT/bench/post.lua" >"$RUN/portkey.lua"
			BENCH_HEADERS_PK=$BENCH_PORTKEY_HEADERS
			sed -i 's/os.getenv("BENCH_HEADERS")/os.getenv("BENCH_HEADERS_PK")/' "$RUN/portkey.lua"
			export BENCH_HEADERS_PK
			pair "chat/completions vs Portkey gateway" "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua" \
				"http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions" "$RUN/portkey.lua" 16
		fi
		;;
	ab)
		# Before/after: the same stack run by another tree's build and nginx template (BASE_ROOT, say
		# main's, built with ./dev build) and by this one, restarted between interleaved rounds.
		if [[ -z ${BASE_ROOT:-} || ! -x $BASE_ROOT/build/stackgate ]]; then
			echo "bench ab: set BASE_ROOT to a tree built with ./dev build" >&2
			exit 2
		fi
		printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
		export BENCH_BODY=$RUN/chat.json
		set_chat_limits
		echo "A: $BASE_ROOT (its build and nginx template), B: $ROOT; chat -c16 then -c1, limits, usage and metrics on; uptime: $(uptime)"
		for ((i = 0; i < ROUNDS; i++)); do
			for side in A B; do
				tree=$ROOT
				[[ $side == A ]] && tree=$BASE_ROOT
				SG_BIN=$tree/build/stackgate "$tree/dev" _daemon_start "$RUN/stackgate.json" "$RUN" >/dev/null
				NGINX_ACCESS_LOG=off NGINX_WORKERS=1 "$tree/dev" _render_nginx "$RUN/nginx.conf" "$RUN" "$PORT" "$RUN/stackgate.sock"
				"$tree/dev" _nginx_start "$RUN/nginx.conf" "$RUN"
				bench_wait_health "$SG_URL" 100
				wrk -t2 -c16 -d1s -s "$ROOT/bench/post.lua" "$SG_URL/v1/openai/v1/chat/completions" >/dev/null 2>&1
				cpu_run "$side chat -c16" "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua"
				r=$(wrk_run "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua" 1 1)
				printf '%-30s %7s rps  p50 %s ms  p99 %s ms\n' "$side chat -c1" "$(cut -d' ' -f1 <<<"$r")" \
					"$(cut -d' ' -f2 <<<"$r")" "$(cut -d' ' -f3 <<<"$r")"
				r=$(wrk_run "http://127.0.0.1:$BASELINE_PORT/v1/chat/completions" "$ROOT/bench/post.lua" 1 1)
				printf '%-30s %7s rps  p50 %s ms  p99 %s ms\n' "proxy_pass chat -c1" "$(cut -d' ' -f1 <<<"$r")" \
					"$(cut -d' ' -f2 <<<"$r")" "$(cut -d' ' -f3 <<<"$r")"
				cpu_run "proxy_pass chat -c16" "http://127.0.0.1:$BASELINE_PORT/v1/chat/completions" "$ROOT/bench/post.lua"
				((i == 0)) && syscalls_run "$SG_URL/v1/openai/v1/chat/completions" "$ROOT/bench/post.lua" | sed "s/^/$side /"
			done
		done
		clear_chat_limits
		SG_BIN=$SG_BIN "$ROOT/dev" _daemon_start "$RUN/stackgate.json" "$RUN" >/dev/null
		echo
		;;
	cold)
		printf '{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}' >"$RUN/chat.json"
		export BENCH_BODY=$RUN/chat.json
		set_chat_limits
		echo "cold start: new key, stackgate and nginx restarted (empty caches), then ${COLD_DURATION:-30}s at -c16; uptime: $(uptime)"
		for ((i = 1; i <= 3; i++)); do
			SG_BIN=$SG_BIN "$ROOT/dev" _daemon_start "$RUN/stackgate.json" "$RUN" >/dev/null
			NGINX_ACCESS_LOG=off NGINX_WORKERS=1 "$ROOT/dev" _render_nginx "$RUN/nginx.conf" "$RUN" "$PORT" "$RUN/stackgate.sock"
			"$ROOT/dev" _nginx_start "$RUN/nginx.conf" "$RUN"
			bench_wait_health "$SG_URL" 100
			BENCH_KEY=$("$SG_BIN" key create bench --description "cold $i" 2>/dev/null | tail -1)
			r=$(BENCH_KEY=$BENCH_KEY DURATION=${COLD_DURATION:-30} wrk_run "$SG_URL/v1/openai/v1/chat/completions" \
				"$ROOT/bench/post.lua" 16 2)
			printf 'cold run %d: %7s rps  p50 %s ms  p99 %s ms  max %s ms\n' "$i" "$(cut -d' ' -f1 <<<"$r")" \
				"$(cut -d' ' -f2 <<<"$r")" "$(cut -d' ' -f3 <<<"$r")" "$(cut -d' ' -f5 <<<"$r")"
		done
		clear_chat_limits
		echo
		;;
	scale)
		"$ROOT/bench/scale.sh"
		echo
		;;
	stream-latency)
		start_stream_upstream
		echo "stream latency: 20 events 50 ms apart, ${ROUNDS}x10 sequential streams each way"
		node "$ROOT/bench/stream_latency.mjs" "$SG_URL" bench-stream-lat "$KEY" \
			"http://127.0.0.1:$BASELINE_STREAM_PORT" stream-20-50 $((ROUNDS * 10))
		echo
		;;
	streams)
		start_stream_upstream
		# 256 streams per worker plus server.reserved_threads (4) and room for an uneven spread over
		# the workers; the bench principal's own concurrency limit (the default cap is half the pool).
		jq '.server.workers = 4 | .server.threads = 288 | .server.thread_stack_kb = 128' \
			"$RUN/stackgate.json" >"$RUN/stackgate-streams.json"
		"$SG_BIN" limit set bench --max-concurrent $((STREAMS + 100)) >/dev/null
		STACKGATE_DATABASE_URL=$STACKGATE_DATABASE_URL "$ROOT/dev" _daemon_start "$RUN/stackgate-streams.json" "$RUN" >/dev/null
		sleep 1
		echo "streams: $STREAMS concurrent streaming chat completions, 10 chunks 1 s apart (4 workers x 288 threads)"
		node "$ROOT/bench/streams.mjs" "$SG_URL" bench-stream "$STREAMS" "$KEY" "$RUN/stackgate.pid" "$RUN/nginx.pid" |
			tee "$RUN/streams.json"
		echo
		"$SG_BIN" limit clear bench >/dev/null
		"$ROOT/dev" _daemon_start "$RUN/stackgate.json" "$RUN" >/dev/null
		;;
	*) echo "bench: unknown benchmark $b" >&2; exit 2 ;;
	esac
done
