#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh: starts a private stack (PostgreSQL, the test upstream, the MCP test
# server, stackgate, nginx) under var/test, runs every tests/integration/NN_*.sh
# file and the conformance suites against it, then stops all of it by pid.
# Results go to var/test/results, one "pass …"/"fail …" line per check; `./dev
# test` adds them up.  Called by ./dev test (which builds first).
set -uo pipefail

SG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export SG_ROOT
export SG_TEST_DIR=${SG_TEST_DIR:-$SG_ROOT/var/test}
export SG_RUN=$SG_TEST_DIR/run
export SG_RESULTS=$SG_TEST_DIR/results
export SG_PORT=${SG_TEST_PORT:-18321}
export SG_URL=http://127.0.0.1:$SG_PORT
export SG_UPSTREAM_PORT=${SG_UPSTREAM_PORT:-18400}
export SG_UPSTREAM_URL=http://127.0.0.1:$SG_UPSTREAM_PORT
export SG_MCP_PORT=${SG_MCP_PORT:-18401}
export SG_MCP_URL=http://127.0.0.1:$SG_MCP_PORT
export SG_PG_PORT=${SG_PG_PORT:-55433}
export SG_CONFIG=$SG_ROOT/tests/integration/stackgate.test.json
export SG_BIN=${SG_BIN:-$SG_ROOT/build/stackgate}
export STACKGATE_DATABASE_URL="host=$SG_RUN/pg-run port=$SG_PG_PORT dbname=stackgate user=postgres"
export SG_TEST_DATABASE_URL=$STACKGATE_DATABASE_URL
# The nginx auth cache window in tests: 1 s, like auth.key_cache_ttl.
export AUTH_CACHE_TTL=1s
# Kept FastCGI connections per nginx worker: 8, under the small pools some tests run (60_faults:
# 3 workers x 4 threads), since each idle kept connection holds a stackgate thread.
export NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-8}
# The test stack's PostgreSQL holds throw-away data: no fsync (./dev up keeps the defaults).
export SG_PG_FAST=1

PIDS=()
dump_logs() {
	local f
	for f in "$SG_RUN"/logs/*.log; do
		[[ -s $f ]] || continue
		echo "---- last lines of $f"
		tail -40 "$f"
	done
}
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	"$SG_ROOT/dev" _stack_down "$SG_RUN" >/dev/null 2>&1
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

"$SG_ROOT/dev" _stack_down "$SG_RUN" >/dev/null 2>&1
rm -rf "$SG_TEST_DIR"
mkdir -p "$SG_RUN/logs" "$SG_TEST_DIR/tmp"
chmod 755 "$SG_TEST_DIR" "$SG_RUN"
: >"$SG_RESULTS"

start_node() { # name script
	local name=$1 script=$2
	[[ -f $script ]] || { echo "run.sh: $script missing: $name not started"; return 0; }
	node "$script" >>"$SG_RUN/logs/$name.log" 2>&1 &
	PIDS+=($!)
}
start_node upstream "$SG_ROOT/tests/upstream/server.js"
start_node mcp "$SG_ROOT/tests/upstream/mcp.js"

if ! "$SG_ROOT/dev" _stack_up "$SG_RUN" "$SG_PORT" "$SG_CONFIG" "$SG_PG_PORT" >"$SG_RUN/logs/stack-up.log" 2>&1; then
	echo "fail setup: the test stack did not start" >>"$SG_RESULTS"
	cat "$SG_RUN/logs/stack-up.log"
	dump_logs
	exit 1
fi
for _ in $(seq 100); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/health") == 200 ]] && break
	sleep 0.1
done

failed_before=0
for t in "$SG_ROOT"/tests/integration/[0-9][0-9]_*.sh; do
	[[ -f $t ]] || continue
	# SG_TESTS="10_foundation 30_resources" runs only those files (and no conformance unless SG_CONFORMANCE=1).
	if [[ -n ${SG_TESTS:-} && " $SG_TESTS " != *" $(basename "$t" .sh) "* ]]; then continue; fi
	echo "== $(basename "$t")"
	(
		export SG_CURRENT_FILE
		SG_CURRENT_FILE=$(basename "$t")
		# shellcheck source=lib.sh
		source "$SG_ROOT/tests/integration/lib.sh"
		source "$t"
	)
	rc=$?
	if ((rc != 0)); then
		echo "fail $(basename "$t"): the file exited with status $rc" >>"$SG_RESULTS"
	fi
	nfail=$(grep -c '^fail' "$SG_RESULTS")
	if ((nfail > failed_before)); then
		dump_logs
		failed_before=$nfail
	fi
done

# Conformance: the official SDKs against the running stack.
conf_dir=$SG_ROOT/tests/conformance
if [[ -z ${SG_TESTS:-} || ${SG_CONFORMANCE:-0} == 1 ]] && ls "$conf_dir"/*.test.mjs >/dev/null 2>&1; then
	echo "== conformance"
	if [[ ! -d $conf_dir/node_modules ]]; then
		(cd "$conf_dir" && npm ci --no-audit --no-fund --ignore-scripts >"$SG_RUN/logs/npm.log" 2>&1) ||
			echo "fail conformance: npm ci failed (see npm.log)" >>"$SG_RESULTS"
	fi
	out=$SG_TEST_DIR/conformance.tap
	(cd "$conf_dir" && node --test --test-reporter=tap ./*.test.mjs) >"$out" 2>&1
	cat "$out"
	# Count each top-level and nested test point of the TAP stream.
	grep -E '^\s*ok [0-9]+ ' "$out" | grep -v '# SKIP' | sed 's/^\s*ok [0-9]* - /pass conformance: /' >>"$SG_RESULTS"
	grep -E '^\s*not ok [0-9]+ ' "$out" | sed 's/^\s*not ok [0-9]* - /fail conformance: /' >>"$SG_RESULTS"
fi

p=$(grep -c '^pass' "$SG_RESULTS")
f=$(grep -c '^fail' "$SG_RESULTS")
echo "integration: $p passed, $f failed"
((f == 0))
