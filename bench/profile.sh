#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/profile.sh: where the instructions of one request go.  Runs the bench
# stack with stackgate under callgrind (one worker, a few threads), sends N
# requests of one kind, and prints instructions per request by library
# (FastCGI, JSON, curl, libc, stackgate, …) and the top functions.  callgrind
# counts instructions, so the figures repeat whatever else the machine does.
#
#   bench/profile.sh [chat|models|version] [N]
#
# PROFILE_METRICS=false runs it with metrics.enabled false (what the metrics cost per request);
# PROFILE_SDK_HEADERS=1 sends the chat with the OpenAI Python SDK's headers (what each client header costs);
# PROFILE_JQ, a jq filter applied to the config after that (e.g. '.usage.enabled = false').
# Counted: the accept threads and the usage writer (their work is per request).  Not the limits sync:
# its cost is per second (two syncs), so under callgrind's few requests per second it would weigh
# 10-20 times what it does at full speed (about 9k "per request" here, under 0.1 % at 10k rps).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/stack.sh"
KIND=${1:-chat}
N=${2:-2000}
RUN=$ROOT/var/profile/run
PORT=${PROFILE_PORT:-18600}
bench_ports "$PORT"
URL=http://127.0.0.1:$PORT

cleanup() { "$ROOT/dev" _stack_down "$RUN" >/dev/null 2>&1 || true; }
trap cleanup EXIT
bench_prepare "$ROOT/var/profile" "$RUN"
bench_config "$RUN" 1 4
# PROFILE_METRICS=false profiles the same request with metrics off (metrics.enabled).
jq --argjson on "${PROFILE_METRICS:-true}" ".metrics.enabled = \$on | ${PROFILE_JQ:-.}" "$RUN/stackgate.json" >"$RUN/stackgate.json.new" &&
	mv "$RUN/stackgate.json.new" "$RUN/stackgate.json"
AUTH_CACHE_TTL=60s bench_up "$RUN" "$PORT" prof
# PROFILE_LIMITS=1: the limit rules of ./dev bench chat-limits (never biting), so that every check runs.
if [[ ${PROFILE_LIMITS:-0} == 1 ]]; then
	"$SG_BIN" limit set prof --max-concurrent 100000 --rpm 1000000000 --tpm 1000000000000 \
		--tokens-per-day 1000000000000 >/dev/null
	"$SG_BIN" limit set prof --model bench-llm --rpm 1000000000 --tpm 1000000000000 >/dev/null
fi

# The same daemon again, under callgrind (forked workers stay instrumented).
"$ROOT/dev" _daemon_stop "$RUN"
# Only the accept threads and the usage writer are counted: no start-up, no cache listener, no limits sync.
(cd "$RUN" && setsid valgrind --tool=callgrind --callgrind-out-file="$RUN/callgrind.%p" \
	--toggle-collect=accept_thread --toggle-collect=writer_main \
	"$SG_BIN" serve --config "$RUN/stackgate.json" >>"$RUN/logs/stackgate.log" 2>&1 </dev/null &)
bench_wait_health "$URL" 300 || true

body='{"model":"bench-llm","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'
# PROFILE_SDK_HEADERS=1: the chat carries the headers the OpenAI Python SDK sends (its X-Stainless-* set).
sdk=()
if [[ ${PROFILE_SDK_HEADERS:-0} == 1 ]]; then
	for h in 'Accept: application/json' 'User-Agent: OpenAI/Python 1.54.0' 'X-Stainless-Lang: python' \
		'X-Stainless-Package-Version: 1.54.0' 'X-Stainless-OS: Linux' 'X-Stainless-Arch: x64' \
		'X-Stainless-Runtime: CPython' 'X-Stainless-Runtime-Version: 3.11.7' 'X-Stainless-Async: false' \
		'x-stainless-retry-count: 0' 'x-stainless-read-timeout: 600' 'Accept-Encoding: gzip, deflate'; do
		sdk+=(-H "$h")
	done
fi
one() {
	case $KIND in
	chat) curl -s -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "${sdk[@]}" \
		-d "$body" "$URL/v1/openai/v1/chat/completions" ;;
	models) curl -s -o /dev/null -H "Authorization: Bearer $KEY" "$URL/v1/models/bench-llm" ;;
	version) curl -s -o /dev/null "$URL/v1/version" ;;
	esac
}
worker=$(pgrep -P "$(cat "$RUN/stackgate.pid")" | head -1)
for _ in $(seq "$N"); do one; done
# A graceful stop writes the worker's profile (counted since the zeroing).
master=$(cat "$RUN/stackgate.pid")
kill -TERM "$master"
for _ in $(seq 300); do kill -0 "$master" 2>/dev/null || break; sleep 0.2; done
out=$RUN/callgrind.$worker
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$KIND: $N requests, $((total / N)) instructions per request in the worker (callgrind)"
callgrind_annotate --threshold=100 "$out" 2>/dev/null | awk -v n="$N" -v total="$total" '
	/^ *[0-9,]+ .*\[/ {
		ir = $1; gsub(",", "", ir)
		obj = $0; sub(/.*\[/, "", obj); sub(/\].*/, "", obj); sub(/.*\//, "", obj)
		by[obj] += ir
	}
	END {
		for (o in by) printf "  %-28s %8d instr/request  %5.1f%%\n", o, by[o] / n, 100 * by[o] / total
	}' | sort -k2 -nr | head -12
echo "top functions:"
callgrind_annotate "$out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | head -15 | sed 's/^/  /'
