# SPDX-License-Identifier: Apache-2.0
# lib.sh: sourced by every integration test file (see run.sh).  Each check
# appends one line to $SG_RESULTS ("pass NAME" or "fail NAME"); a failure
# prints the request and the answer so the log says what went wrong.

SG_CURRENT_FILE=${SG_CURRENT_FILE:-$(basename "${BASH_SOURCE[1]:-test}")}
REQ_DESC=""

# req METHOD PATH [BODY] [extra curl args...] -> $STATUS $BODY $HDRS
req() {
	local method=$1 path=$2 body=${3-} args=()
	shift 2; [[ $# -gt 0 ]] && shift
	HDRS=$(mktemp -p "$SG_TEST_DIR/tmp")
	args=(-s -S -o "$SG_TEST_DIR/tmp/body.$$" -D "$HDRS" -w '%{http_code}' -X "$method" --max-time 30)
	if [[ -n $body ]]; then
		# Through a file: a body of megabytes does not fit in argv.
		printf '%s' "$body" >"$SG_TEST_DIR/tmp/req-body.$$"
		args+=(-H 'Content-Type: application/json' --data-binary "@$SG_TEST_DIR/tmp/req-body.$$")
	fi
	STATUS=$(curl "${args[@]}" "$@" "$SG_URL$path" 2>"$SG_TEST_DIR/tmp/curl-err.$$") || STATUS=000
	BODY=$(cat "$SG_TEST_DIR/tmp/body.$$" 2>/dev/null || true)
	REQ_DESC="$method $path${body:+ ${body:0:300}}"
}

# as KEY METHOD PATH [BODY] [curl args…]: req with "Authorization: Bearer KEY" (none when KEY is "").
as() {
	local key=$1 method=$2 path=$3 body=${4-}
	shift 3; [[ $# -gt 0 ]] && shift
	if [[ -n $key ]]; then
		req "$method" "$path" "$body" -H "Authorization: Bearer $key" "$@"
	else
		req "$method" "$path" "$body" "$@"
	fi
}

# as_cases: one check a line of stdin, "KEYVAR METHOD PATH STATUS WHAT…": as
# "${!KEYVAR}" METHOD PATH (KEYVAR "-": anonymous), then expect_status STATUS WHAT.
# Blank lines and lines starting with '#' are skipped.  $BODY is the last answer's.
as_cases() {
	local key method path want what
	while read -r key method path want what; do
		[[ -z $key || $key == '#'* ]] && continue
		[[ $key == - ]] && key="" || key=${!key}
		as "$key" "$method" "$path" </dev/null
		expect_status "$want" "$what"
	done
}

# none_listed PREFIX: GET /v1/models lists no identifier starting with PREFIX (for poll).
none_listed() {
	req GET /v1/models
	[[ $STATUS == 200 && $(jq --arg p "$1" '[.data[] | select(.identifier | startswith($p))] | length' <<<"$BODY" 2>/dev/null) == 0 ]]
}

# header NAME: the value of a response header of the last req (case-insensitive)
header() {
	grep -i "^$1:" "$HDRS" | head -1 | cut -d: -f2- | sed 's/^ //; s/\r$//'
}

pass() { echo "pass $SG_CURRENT_FILE: $1" >>"$SG_RESULTS"; printf '  ok    %s\n' "$1"; }
fail() {
	echo "fail $SG_CURRENT_FILE: $1" >>"$SG_RESULTS"
	printf '  FAIL  %s\n' "$1"
	[[ -n ${2:-} ]] && printf '        %s\n' "$2"
	[[ -n $REQ_DESC ]] && printf '        request: %s\n        status: %s body: %.600s\n' "$REQ_DESC" "${STATUS:-}" "${BODY:-}"
	return 0
}

expect_status() {
	if [[ $STATUS == "$1" ]]; then pass "$2"; else fail "$2" "expected status $1, got $STATUS"; fi
}

expect_jq() {
	local got
	got=$(jq -r "$1" <<<"$BODY" 2>/dev/null) || got="<not JSON: $(head -c 200 <<<"$BODY")>"
	if [[ $got == "$2" ]]; then pass "$3"; else fail "$3" "jq '$1': expected '$2', got '$got'"; fi
}

expect_body_contains() {
	if [[ $BODY == *"$1"* ]]; then pass "$2"; else fail "$2" "body lacks '$1'"; fi
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# poll SECONDS CMD [ARGS…]: runs CMD until it succeeds, every 0.1 s for at most
# SECONDS; succeeds if CMD did.  A bound, not a speed: how fast is bench/'s.
poll() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		(($(now_ms) < end)) || return 1
		sleep 0.1
	done
}

# req_is STATUS METHOD PATH [BODY] [curl args…]: req, then succeeds if it answered STATUS.
req_is() {
	local want=$1
	shift
	req "$@"
	[[ $STATUS == "$want" ]]
}

expect_eq() {
	if [[ $1 == "$2" ]]; then pass "$3"; else fail "$3" "expected '$2', got '$1'"; fi
}

psql_q() {
	psql "$STACKGATE_DATABASE_URL" -X -qAt -v ON_ERROR_STOP=1 -c "$1"
}

sg_cli() {
	STACKGATE_DATABASE_URL=$STACKGATE_DATABASE_URL "$SG_BIN" "$@"
}

# sg_principal_key NAME [--role R]… [--team T]…: adds principal NAME (quietly) and prints a new key of it.
sg_principal_key() {
	sg_cli principal add "$@" >/dev/null 2>&1
	sg_cli key create "$1" 2>/dev/null
}

# sse PATH BODY [curl args…]: streams with curl -N; each non-empty line lands in
# $SSE_FILE as "<ms since epoch> <line>"; $SSE_STATUS and $SSE_HDRS for the head.
sse() {
	local path=$1 body=$2
	shift 2
	SSE_FILE=$(mktemp -p "$SG_TEST_DIR/tmp")
	SSE_HDRS=$(mktemp -p "$SG_TEST_DIR/tmp")
	curl -sN -D "$SSE_HDRS" --max-time 30 -H 'Content-Type: application/json' --data-binary "$body" "$@" \
		"$SG_URL$path" 2>/dev/null |
		while IFS= read -r line || [[ -n $line ]]; do
			[[ -n $line ]] && printf '%s %s\n' "$(date +%s%3N)" "$line"
		done >"$SSE_FILE"
	SSE_STATUS=$(head -1 "$SSE_HDRS" | awk '{print $2}')
	STATUS=$SSE_STATUS
	BODY=$(cut -d' ' -f2- "$SSE_FILE")
	REQ_DESC="POST $path (stream) $body"
}
# The JSON payloads of the data lines, one per line, [DONE] excluded.
sse_json() { cut -d' ' -f2- "$SSE_FILE" | sed -n 's/^data: //p' | grep -v '^\[DONE\]$'; }

# The test stack's PostgreSQL: pg_ctl_run ARGS… runs pg_ctl as postgres; pg_up starts it as run.sh did;
# pg_down stops it (fast).
pg_ctl_run() { (cd /tmp && runuser -u postgres -- "$("$SG_ROOT/dev" _pgbin)/pg_ctl" "$@"); }
pg_up() {
	pg_ctl_run -D "$SG_RUN/pg/data" -l "$SG_RUN/logs/postgresql.log" -w -t 30 \
		-o "-p $SG_PG_PORT -k $SG_RUN/pg-run -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null 2>&1
}
pg_down() { pg_ctl_run -D "$SG_RUN/pg/data" -m fast -w stop >/dev/null 2>&1; }

# Master pid of the running daemon.
sg_master_pid() { cat "$SG_RUN/stackgate.pid"; }
# Worker pids (children of the master).
sg_worker_pids() { pgrep -P "$(sg_master_pid)" || true; }

sg_wait_ready() {
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/health") == 200 ]] && return 0
		sleep 0.1
	done
	return 1
}

# sg_restart_daemon [CONFIG]: restart with CONFIG (default: the test config).
sg_restart_daemon() {
	local conf=${1:-$SG_CONFIG}
	"$SG_ROOT/dev" _daemon_stop "$SG_RUN"
	"$SG_ROOT/dev" _daemon_start "$conf" "$SG_RUN"
	sg_wait_ready
}

# sg_host_start RUN PORT CONFIG: another stackgate host (the daemon and its nginx) in RUN, on PORT,
# with CONFIG (whose ${env.SG_RUN} becomes RUN); succeeds once it answers /v1/health.  Its start
# log is RUN/logs/start.log, the daemon's RUN/logs/stackgate.log.  sg_host_stop RUN stops both.
sg_host_start() {
	local run=$1 port=$2 conf=$3
	mkdir -p "$run/logs"
	chmod 755 "$run"
	SG_RUN=$run "$SG_ROOT/dev" _daemon_start "$conf" "$run" >"$run/logs/start.log" 2>&1 &&
		"$SG_ROOT/dev" _render_nginx "$run/nginx.conf" "$run" "$port" "$run/stackgate.sock" >>"$run/logs/start.log" 2>&1 &&
		"$SG_ROOT/dev" _nginx_start "$run/nginx.conf" "$run" >>"$run/logs/start.log" 2>&1 &&
		SG_URL=http://127.0.0.1:$port sg_wait_ready
}
sg_host_stop() {
	"$SG_ROOT/dev" _nginx_stop "$1" >/dev/null 2>&1
	"$SG_ROOT/dev" _daemon_stop "$1" >/dev/null 2>&1
}

# unit_case SUITE CASE NAME: one Check case of the unit-test binary, run against this stack's
# database (SG_TEST_DATABASE_URL), as one check called NAME.
unit_case() {
	local bin=${BUILD_DIR:-$(dirname "$SG_BIN")}/check_stackgate out rc
	if [[ ! -x $bin && -f ${bin%/*}/Makefile ]]; then
		make -C "${bin%/*}" -s check_stackgate >/dev/null 2>&1
	fi
	if [[ ! -x $bin ]]; then
		fail "$3" "no unit-test binary at $bin"
		return 0
	fi
	out=$(cd "$SG_TEST_DIR/tmp" && SG_TEST_DATABASE_URL=$STACKGATE_DATABASE_URL CK_RUN_SUITE=$1 CK_RUN_CASE=$2 \
		CK_VERBOSITY=normal "$bin" 2>&1); rc=$?
	if ((rc == 0)) && [[ $out == *"100%: Checks: 1, Failures: 0, Errors: 0"* ]]; then
		pass "$3"
	else
		REQ_DESC="$bin (CK_RUN_SUITE=$1 CK_RUN_CASE=$2)"; STATUS=$rc; BODY=$out
		fail "$3" "exit $rc"
	fi
}
