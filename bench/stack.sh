# SPDX-License-Identifier: Apache-2.0
#
# bench/stack.sh: sourced by run.sh and profile.sh, the setup their bench
# stacks share.  ROOT must be set.  Ports follow from one base port PORT:
# nginx PORT, the nginx test upstream +1, its proxy_pass baseline +2,
# PostgreSQL +3, the node stream upstream +4 and its baseline +5.

# Benchmark stacks hold throw-away data: their PostgreSQL runs without fsync (./dev up keeps the defaults).
export SG_PG_FAST=1
SG_BIN=$ROOT/build/stackgate

# bench_ports PORT: sets UPSTREAM_PORT BASELINE_PORT PG_PORT STREAM_PORT BASELINE_STREAM_PORT.
bench_ports() {
	UPSTREAM_PORT=$(($1 + 1)) BASELINE_PORT=$(($1 + 2)) PG_PORT=$(($1 + 3))
	STREAM_PORT=$(($1 + 4)) BASELINE_STREAM_PORT=$(($1 + 5))
}

# bench_prepare DIR RUN: DIR emptied, RUN/logs made, RUN/extra-servers.conf
# rendered from upstream.conf for the ports of bench_ports.
bench_prepare() {
	rm -rf "$1"
	mkdir -p "$2/logs"
	chmod 755 "$1" "$2"
	sed -e "s/@UPSTREAM_PORT@/$UPSTREAM_PORT/g" -e "s/@BASELINE_PORT@/$BASELINE_PORT/g" \
		-e "s/@STREAM_PORT@/$STREAM_PORT/g" -e "s/@BASELINE_STREAM_PORT@/$BASELINE_STREAM_PORT/g" \
		"$ROOT/bench/upstream.conf" >"$2/extra-servers.conf"
}

# bench_config RUN WORKERS THREADS: RUN/stackgate.json, auth required, one
# inference provider "bench" (the nginx upstream, PORT+1) serving model bench-llm.
bench_config() {
	cat >"$1/stackgate.json" <<-EOF
	{
	  "server": { "socket": "$1/stackgate.sock", "socket_group": "www-data", "workers": $2, "threads": $3,
	              "pid_file": "$1/stackgate.pid", "log_level": "warn" },
	  "database": { "conninfo": "\${env.STACKGATE_DATABASE_URL}" },
	  "auth": { "required": true, "admin_roles": ["admin"], "key_cache_ttl": 60 },
	  "providers": { "inference": [ { "provider_id": "bench", "provider_type": "remote::vllm",
	                   "config": { "url": "http://127.0.0.1:$UPSTREAM_PORT/v1", "api_token": "bench-token" } } ] },
	  "models": [ { "model_id": "bench-llm", "provider_id": "bench", "provider_model_id": "bench-upstream-model" } ]
	}
	EOF
}

# bench_up RUN PORT PRINCIPAL (BENCH_EXTRA_SERVERS= empty: the upstream and baselines not in the
# front nginx, see bench_baseline_up): starts the stack of RUN/stackgate.json on PORT
# (extra environment for ./dev _stack_up as the caller exports it, e.g.
# NGINX_WORKERS), waits until it answers, adds PRINCIPAL (role user) and sets
# KEY to a new key of theirs.  The stack-up log is printed if it fails.
bench_up() {
	local run=$1 port=$2
	export STACKGATE_DATABASE_URL="host=$run/pg-run port=$PG_PORT dbname=stackgate user=postgres"
	NGINX_ACCESS_LOG=off EXTRA_SERVERS_FILE=${BENCH_EXTRA_SERVERS-$run/extra-servers.conf} \
		"$ROOT/dev" _stack_up "$run" "$port" "$run/stackgate.json" "$PG_PORT" >"$run/logs/stack-up.log" 2>&1 ||
		{ cat "$run/logs/stack-up.log"; exit 1; }
	bench_wait_health "http://127.0.0.1:$port" 100
	"$SG_BIN" principal add "$3" --role user >/dev/null
	KEY=$("$SG_BIN" key create "$3" --description "$3" 2>/dev/null | tail -1)
}

# bench_wait_health URL TRIES: until URL/v1/health answers 200, TRIES times 0.2 s at most.
bench_wait_health() {
	for _ in $(seq "$2"); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "$1/v1/health") == 200 ]] && return 0
		sleep 0.2
	done
	return 1
}

# bench_baseline_up RUN: the upstream and the proxy_pass baselines (RUN/extra-servers.conf) in an
# nginx of their own (one worker, RUN/base), so that the CPU of the front nginx and of the
# upstream can be counted apart.  bench_baseline_down RUN stops it.
bench_baseline_up() {
	local base=$1/base
	mkdir -p "$base/logs" "$base/tmp"
	chmod 755 "$base"
	{
		printf 'worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/logs/error.log warn;\n' "$base" "$base"
		printf 'events { worker_connections 8192; }\nhttp {\n    access_log off;\n'
		printf '    client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n' "$base" "$base"
		cat "$1/extra-servers.conf"
		printf '}\n'
	} >"$base/nginx.conf"
	nginx -q -c "$base/nginx.conf" -p "$base/"
	for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$UPSTREAM_PORT/static" && return 0; sleep 0.1; done
	return 1
}
bench_baseline_down() {
	local pid
	[[ -f $1/base/nginx.pid ]] || return 0
	pid=$(cat "$1/base/nginx.pid")
	kill -QUIT "$pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# bench_group_pids ROOT_PID: ROOT_PID and its children (a master and its workers), one a line.
bench_group_pids() {
	[[ -n $1 ]] && kill -0 "$1" 2>/dev/null || return 0
	echo "$1"
	pgrep -P "$1" || true
}

# bench_cpu_ticks PID...: utime + stime (clock ticks) of the PIDs, summed over all their threads.
bench_cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
