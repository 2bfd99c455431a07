#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/scale.sh: the registry at 100,000 models.  Two private stacks under
# var/scale (nginx, PostgreSQL, stackgate each, 2 workers x 16 threads, auth
# not required, a provider that does not check models on register): "small"
# keeps 10 models, "large" grows to SCALE_MODELS.  Prints a table; never a
# pass/fail test.  Run it alone or from ./dev bench scale.
#
#   1. GET /v1/models/{id} on the large stack while it still has 10 models;
#   2. registration rate through the HTTP API: wrk POSTs /v1/models with unique
#      ids (per-thread counters) for REG_SECONDS; the rest up to SCALE_MODELS
#      is inserted in bulk with SQL (generate_series) and the time until both
#      workers' caches have it (by NOTIFY) is reported;
#   3. GET /v1/models/{id}, the small stack (10 models) against the large one
#      (SCALE_MODELS), interleaved, medians of ROUNDS: one id, and a random id
#      per request among all the stack's models;
#   4. one GET /v1/models and one GET /v1/openai/v1/models of the full list:
#      time, bytes, and the stackgate workers' PSS (/proc/PID/smaps_rollup,
#      summed, sampled while the list is written) before and at its peak.
#
# Environment: ROUNDS (3), DURATION (5 s), CONNS (32), SCALE_PORT (18700: the
# small stack uses +0 and +3, the large +10 and +13), SCALE_MODELS (100000),
# REG_SECONDS (20), REG_CONNS (16).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Benchmark stacks hold throw-away data: their PostgreSQL runs without fsync (./dev up keeps the defaults).
export SG_PG_FAST=1
DIR=$ROOT/var/scale
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
BASE=${SCALE_PORT:-18700}
MODELS=${SCALE_MODELS:-100000}
REG_SECONDS=${REG_SECONDS:-20}
REG_CONNS=${REG_CONNS:-16}
SMALL=$DIR/small LARGE=$DIR/large
SMALL_PORT=$BASE SMALL_PG=$((BASE + 3))
LARGE_PORT=$((BASE + 10)) LARGE_PG=$((BASE + 13))
SMALL_URL=http://127.0.0.1:$SMALL_PORT LARGE_URL=http://127.0.0.1:$LARGE_PORT
T0=$SECONDS

cleanup() {
	"$ROOT/dev" _stack_down "$SMALL" >/dev/null 2>&1 || true
	"$ROOT/dev" _stack_down "$LARGE" >/dev/null 2>&1 || true
	return 0
}
trap cleanup EXIT

db_url() { echo "host=$1/pg-run port=$2 dbname=stackgate user=postgres"; }
sql() { psql "$1" -XqAt -v ON_ERROR_STOP=1 -c "$2"; }

# stack RUN PORT PGPORT: a private stack whose config has one inference provider that is never called.
stack() {
	local run=$1 port=$2 pg=$3
	mkdir -p "$run/logs"
	chmod 755 "$run"
	cat >"$run/stackgate.json" <<-EOF
	{
	  "server": { "socket": "$run/stackgate.sock", "socket_group": "www-data", "workers": 2, "threads": 16,
	              "pid_file": "$run/stackgate.pid", "log_level": "warn" },
	  "database": { "conninfo": "\${env.STACKGATE_DATABASE_URL}" },
	  "auth": { "required": false, "admin_roles": ["admin"] },
	  "providers": {
	    "inference": [ { "provider_id": "scale", "provider_type": "remote::vllm",
	                     "config": { "url": "http://127.0.0.1:9/v1", "check_model_on_register": false } } ]
	  }
	}
	EOF
	STACKGATE_DATABASE_URL=$(db_url "$run" "$pg") NGINX_ACCESS_LOG=off NGINX_WORKERS=1 \
		"$ROOT/dev" _stack_up "$run" "$port" "$run/stackgate.json" "$pg" >"$run/logs/stack-up.log" 2>&1 ||
		{ cat "$run/logs/stack-up.log"; exit 1; }
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/health") == 200 ]] && return 0
		sleep 0.1
	done
	echo "scale: the stack on port $port did not answer" >&2
	exit 1
}

# register URL ID: one model through the API.
register() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		--data-binary "{\"model_id\":\"$2\",\"provider_id\":\"scale\"}" "$1/v1/models")
	[[ $code == 200 ]] || { echo "scale: registering $2 on $1 answered $code" >&2; exit 1; }
}

# wrk_run URL SCRIPT [conns] [seconds] → "rps p50_ms p99_ms requests non2xx"
wrk_run() {
	local url=$1 script=$2 conns=${3:-$CONNS} secs=${4:-$DURATION} out
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$script" "$url" 2>&1)
	awk '
		function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		/requests in/ { total = $1 }
		/Non-2xx/ { bad = $NF }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		END { printf "%d %.3f %.3f %d %d\n", rps, p50, p99, total, bad }' <<<"$out"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
col() { cut -d' ' -f"$1" "$2" | median; }

# Worker pids of a stack, and their PSS summed (kB).
workers() { pgrep -P "$(cat "$1/stackgate.pid")" | tr '\n' ' '; }
pss_sum() {
	local p k v sum=0
	for p in $1; do
		while read -r k v _; do
			[[ $k == Pss: ]] && { sum=$((sum + v)); break; }
		done <"/proc/$p/smaps_rollup" 2>/dev/null || true
	done
	echo "$sum"
}

# The wrk scripts.
mkdir -p "$DIR"
chmod 755 "$DIR"
cat >"$DIR/get-one.lua" <<'EOF'
-- GET one path (the URL's) with no key.
EOF
cat >"$DIR/get-random.lua" <<'EOF'
-- GET /v1/models/{id}, id random among $SCALE_IDS: "prefix:count[,prefix:count]" (ids prefix<n>, 1 <= n <= count).
local sets = {}
for prefix, count in string.gmatch(os.getenv("SCALE_IDS"), "([^:,]+):(%d+)") do
  sets[#sets + 1] = { prefix = prefix, count = tonumber(count) }
end
local total = 0
for _, s in ipairs(sets) do total = total + s.count end
function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
function request()
  local k = math.random(1, total)
  for _, s in ipairs(sets) do
    if k <= s.count then return wrk.format("GET", "/v1/models/" .. s.prefix .. k) end
    k = k - s.count
  end
end
EOF
cat >"$DIR/register.lua" <<'EOF'
-- POST /v1/models with ids unique per thread: scale-api-<thread>-<n>.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args) n = 0 end
function request()
  n = n + 1
  local id = "scale-api-" .. tid .. "-" .. n
  return wrk.format("POST", "/v1/models", { ["Content-Type"] = "application/json" },
    '{"model_id":"' .. id .. '","provider_id":"scale"}')
end
EOF

rm -rf "$SMALL" "$LARGE"
echo "scale: starting two private stacks (small :$SMALL_PORT, large :$LARGE_PORT)" >&2
stack "$SMALL" "$SMALL_PORT" "$SMALL_PG"
stack "$LARGE" "$LARGE_PORT" "$LARGE_PG"
SMALL_DB=$(db_url "$SMALL" "$SMALL_PG")
LARGE_DB=$(db_url "$LARGE" "$LARGE_PG")
for i in $(seq 1 10); do
	register "$SMALL_URL" "scale-small-$i"
	register "$LARGE_URL" "scale-small-$i"
done

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); wrk -c$CONNS -d${DURATION}s, ${ROUNDS} rounds, medians"
echo

# 1. The large stack with 10 models.
: >"$DIR/large10"
for ((i = 0; i < ROUNDS; i++)); do wrk_run "$LARGE_URL/v1/models/scale-small-5" "$DIR/get-one.lua" >>"$DIR/large10"; done
large10=$(col 1 "$DIR/large10")

# 2. Registration through the API, then the rest in bulk.
before=$(sql "$LARGE_DB" "SELECT count(*) FROM models")
reg=$(wrk_run "$LARGE_URL/v1/models" "$DIR/register.lua" "$REG_CONNS" "$REG_SECONDS")
after=$(sql "$LARGE_DB" "SELECT count(*) FROM models")
api_n=$((after - before))
api_rate=$(awk -v n="$api_n" -v s="$REG_SECONDS" 'BEGIN { printf "%.0f", n / s }')
reg_bad=$(cut -d' ' -f5 <<<"$reg")
bulk_n=$((MODELS - after))
bulk_s=0 catch_s=0
if ((bulk_n > 0)); then
	t=$(date +%s.%N)
	sql "$LARGE_DB" "INSERT INTO models (identifier, provider_id)
		SELECT 'scale-bulk-' || g, 'scale' FROM generate_series(1, $bulk_n) AS g" >/dev/null
	t2=$(date +%s.%N)
	bulk_s=$(awk -v a="$t" -v b="$t2" 'BEGIN { printf "%.2f", b - a }')
	# Both workers have every row once the last one answers many times in a row (the kernel spreads
	# connections over the workers; notifications are applied in order).
	ok=0
	for _ in $(seq 1200); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "$LARGE_URL/v1/models/scale-bulk-$bulk_n") == 200 ]]; then
			ok=$((ok + 1))
		else
			ok=0
		fi
		((ok >= 20)) && break
		sleep 0.05
	done
	catch_s=$(awk -v a="$t2" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	((ok >= 20)) || echo "scale: the caches did not catch up with the bulk insert in time" >&2
fi
total=$(sql "$LARGE_DB" "SELECT count(*) FROM models")

# 3. Lookups: small (10) against large (all), interleaved.
: >"$DIR/one.a"; : >"$DIR/one.b"; : >"$DIR/rnd.a"; : >"$DIR/rnd.b"
for ((i = 0; i < ROUNDS; i++)); do
	wrk_run "$SMALL_URL/v1/models/scale-small-5" "$DIR/get-one.lua" >>"$DIR/one.a"
	wrk_run "$LARGE_URL/v1/models/scale-small-5" "$DIR/get-one.lua" >>"$DIR/one.b"
	SCALE_IDS="scale-small-:10" wrk_run "$SMALL_URL" "$DIR/get-random.lua" >>"$DIR/rnd.a"
	SCALE_IDS="scale-small-:10,scale-bulk-:$bulk_n" wrk_run "$LARGE_URL" "$DIR/get-random.lua" >>"$DIR/rnd.b"
done
bad=$(cat "$DIR"/one.? "$DIR"/rnd.? | awk '{ s += $5 } END { print s + 0 }')

# 4. The full lists, with the workers' PSS sampled while each is written.
full_list() { # PATH → "seconds bytes pss_before pss_peak"
	local path=$1 pids before peak now out
	pids=$(workers "$LARGE")
	before=$(pss_sum "$pids")
	peak=$before
	curl -s -o "$DIR/list.out" -w '%{time_total} %{size_download} %{http_code}\n' "$LARGE_URL$path" >"$DIR/list.stat" &
	local cpid=$!
	while kill -0 "$cpid" 2>/dev/null; do
		now=$(pss_sum "$pids")
		((now > peak)) && peak=$now
	done
	wait "$cpid"
	read -r secs bytes code <"$DIR/list.stat"
	[[ $code == 200 ]] || echo "scale: GET $path answered $code" >&2
	echo "$secs $bytes $before $peak"
}
curl -s -o /dev/null "$LARGE_URL/v1/models/scale-small-1" # both workers warm
native=$(full_list /v1/models)
native_n=$(jq '.data | length' "$DIR/list.out")
openai=$(full_list /v1/openai/v1/models)
openai_n=$(jq '.data | length' "$DIR/list.out")

# ---- the table ----
printf '%-52s %10s %10s %8s\n' "GET /v1/models/{id} (rps, median of $ROUNDS)" "10 models" "$(printf '%d' "$total") m." "ratio"
row() { # NAME A B
	awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%-52s %10d %10d %8.3f\n", n, a, b, (a > 0 ? b / a : 0) }'
}
row "  one id, small stack vs large stack (interleaved)" "$(col 1 "$DIR/one.a")" "$(col 1 "$DIR/one.b")"
row "  random id, small stack vs large stack (interleaved)" "$(col 1 "$DIR/rnd.a")" "$(col 1 "$DIR/rnd.b")"
row "  one id, large stack before (10) and after growing" "$large10" "$(col 1 "$DIR/one.b")"
printf '%-52s %10s %10s\n' "  p99 ms, one id (small / large)" "$(col 3 "$DIR/one.a")" "$(col 3 "$DIR/one.b")"
printf '%-52s %10s\n' "  non-2xx answers" "$bad"
echo
printf 'registration through the API: %d models in %d s = %d/s (wrk -c%d, p50 %s ms, p99 %s ms, non-2xx %d; target >= 1000/s)\n' \
	"$api_n" "$REG_SECONDS" "$api_rate" "$REG_CONNS" "$(cut -d' ' -f2 <<<"$reg")" "$(cut -d' ' -f3 <<<"$reg")" "$reg_bad"
if ((bulk_n > 0)); then
	printf 'the rest in bulk with SQL: %d rows in %s s; both workers'"'"' caches had them (by NOTIFY) %s s later\n' \
		"$bulk_n" "$bulk_s" "$catch_s"
fi
echo
printf '%-28s %8s %10s %8s %12s %12s %10s %10s\n' "full list ($total models)" items seconds MB "PSS before" "PSS peak" "peak/bef." "added/MB"
for l in "GET /v1/models:$native:$native_n" "GET /v1/openai/v1/models:$openai:$openai_n"; do
	IFS=: read -r name vals n <<<"$l"
	read -r secs bytes pb pp <<<"$vals"
	awk -v name="$name" -v n="$n" -v s="$secs" -v b="$bytes" -v pb="$pb" -v pp="$pp" 'BEGIN {
		printf "%-28s %8d %10.3f %8.1f %9.1f MB %9.1f MB %10.3f %10.3f\n", name, n, s, b / 1048576, pb / 1024, pp / 1024,
			(pb > 0 ? pp / pb : 0), (b > 0 ? (pp - pb) / 1024 / (b / 1048576) : 0) }'
done
echo "(PSS: the two stackgate workers of the large stack, summed; added/MB: MB of PSS added per MB listed)"
echo "scale: done in $((SECONDS - T0)) s" >&2
