# SPDX-License-Identifier: Apache-2.0
# 10_foundation.sh: the daemon, the HTTP layer and routing, through real nginx.

req GET /v1/health
expect_status 200 "health is 200 while PostgreSQL answers"
expect_jq .status OK "health says OK"
rid=$(header X-Request-Id)
[[ $rid =~ ^[0-9a-f]{32}$ ]] && pass "health carries nginx's request id" || fail "X-Request-Id from nginx" "got '$rid'"
grep -q "rid=$rid" "$SG_RUN/logs/stackgate.log" && pass "the access log line carries the request id" ||
	fail "request id in the log" "no log line with rid=$rid"

req GET /v1/version
expect_status 200 "version answers"
expect_jq '.version | test("^[0-9]+\\.[0-9]+")' true "version is a version number"

req GET /v1/nope
expect_status 404 "unknown path is 404"
expect_jq .error.type not_found_error "404 has OpenAI's error shape"
expect_jq .detail "no route for /v1/nope" "404 names the path"

req PUT /v1/models
expect_status 405 "known path, wrong method is 405"
allow=$(header Allow)
[[ $allow == *GET* && $allow == *POST* ]] && pass "405 lists Allow: $allow" || fail "405 Allow header" "got '$allow'"

req DELETE /v1/health
expect_status 405 "DELETE on health is 405"

big=$(head -c 1100000 /dev/zero | tr '\0' 'a')
req POST /v1/models "{\"model_id\":\"$big\"}"
expect_status 413 "a body over max_body_bytes is 413"
expect_jq '.error.message | test("exceeds the limit of 1048576 bytes")' true "413 names the limit"

huge=$SG_TEST_DIR/tmp/huge.json
head -c 9000000 /dev/zero | tr '\0' 'a' >"$huge"
STATUS=$(curl -s -o "$SG_TEST_DIR/tmp/huge.out" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$huge" "$SG_URL/v1/models")
BODY=$(cat "$SG_TEST_DIR/tmp/huge.out")
expect_status 413 "a body over nginx's limit is 413 too"
expect_jq .error.type invalid_request_error "nginx's 413 is JSON as well"

req POST /v1/models '{"model_id": '
expect_status 400 "malformed JSON is 400"
expect_jq '.error.message | startswith("invalid JSON body: line 1")' true "malformed JSON names line and column"

deep=$(printf '[%.0s' $(seq 40))$(printf ']%.0s' $(seq 40))
req POST /v1/models "{\"a\":$deep}"
expect_status 400 "nesting beyond max_json_depth is 400"
expect_body_contains "exceeds the limit of 32" "the depth error names the limit"

# Paths with '..', NUL and broken encodings: 70_bad_input.sh ("path tricks").

# Config errors: check-config reports every problem with line and column.
bad=$SG_TEST_DIR/tmp/bad.json
printf '{\n  "server": { "workers": "many", "socket": "0.0.0.0:9000" },\n  "bogus": 1\n}\n' >"$bad"
out=$("$SG_BIN" check-config "$bad" 2>&1); rc=$?
expect_eq "$rc" 1 "check-config exits 1 on an invalid config"
[[ $out == *"$bad:2:"*workers* ]] && pass "check-config names workers with its line" || fail "check-config workers error" "$out"
[[ $out == *"$bad:3:"*bogus* ]] && pass "check-config reports every problem (unknown key, line 3)" || fail "check-config unknown key" "$out"
out=$("$SG_BIN" serve --config "$bad" 2>&1); rc=$?
[[ $rc != 0 && $out == *"$bad:2:"* ]] && pass "serve refuses an invalid config with the same message" ||
	fail "serve on an invalid config" "rc=$rc out=$out"
printf '{ "server": { "socket": "/tmp/x.sock" }\n' >"$bad"
out=$("$SG_BIN" check-config "$bad" 2>&1)
[[ $out == *"$bad:"* ]] && pass "a JSON syntax error has a position" || fail "syntax error position" "$out"
out=$("$SG_BIN" check-config "$SG_CONFIG" 2>&1)
[[ $out == *"is valid"* ]] && pass "the test config is valid" || fail "test config valid" "$out"

# Migrations: a second run applies nothing.
out=$(sg_cli migrate 2>&1); rc=$?
expect_eq "$rc" 0 "migrate on a current schema exits 0"
[[ $out != *applied* ]] && pass "migrate twice changes nothing" || fail "migrate idempotent" "$out"
n=$(psql_q "SELECT count(*) FROM schema_migrations")
[[ $n -ge 2 ]] && pass "schema_migrations records the migrations ($n)" || fail "schema_migrations" "count=$n"

# serve refuses a schema that is behind, naming what to do; --migrate brings it up to date.
psql_q "DROP DATABASE IF EXISTS sg_behind" >/dev/null 2>&1; psql_q "CREATE DATABASE sg_behind" >/dev/null
behind_url=${STACKGATE_DATABASE_URL/dbname=stackgate/dbname=sg_behind}
out=$(STACKGATE_DATABASE_URL=$behind_url timeout 20 "$SG_BIN" serve --config "$SG_CONFIG" 2>&1); rc=$?
[[ $rc == 1 && $out == *"stackgate migrate"* ]] && pass "serve refuses a schema that is behind and says to run stackgate migrate" ||
	fail "serve on a schema behind" "rc=$rc out=$out"
out=$(STACKGATE_DATABASE_URL=$behind_url "$SG_BIN" migrate 2>&1)
[[ $out == *"applied 001_core"* && $out == *"applied 002_access"* ]] && pass "migrate applies each migration and says so" ||
	fail "migrate output" "$out"
psql_q "DROP DATABASE sg_behind" >/dev/null 2>&1

# kill -9 of a worker: it is respawned and later requests succeed.
before=$(sg_worker_pids | sort | tr '\n' ' ')
victim=$(sg_worker_pids | head -1)
kill -9 "$victim"
ok=1
for _ in $(seq 50); do
	after=$(sg_worker_pids | sort | tr '\n' ' ')
	[[ $(wc -w <<<"$after") -eq $(wc -w <<<"$before") && $after != *"$victim"* ]] && { ok=0; break; }
	sleep 0.1
done
((ok == 0)) && pass "a killed worker is respawned" || fail "respawn" "before=$before after=$after"
grep -q "killed by signal 9" "$SG_RUN/logs/stackgate.log" && pass "the crash is logged" || fail "crash logged"
bad_count=0
for _ in $(seq 20); do
	s=$(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/version")
	[[ $s == 200 ]] || bad_count=$((bad_count + 1))
done
expect_eq "$bad_count" 0 "20 requests after the respawn all succeed"

# server.sched_batch (default true): every thread of every worker, the respawned one's too, runs
# SCHED_BATCH (policy 3 in field 41 of /proc/PID/task/TID/stat); the master keeps SCHED_OTHER (0).
policies() { # PID...: the distinct policies of their threads
	for p in "$@"; do cat /proc/"$p"/task/*/stat; done | awk '{ sub(/^.*\) /, ""); print $39 }' | sort -u | tr '\n' ' '
}
expect_eq "$(policies $(sg_worker_pids))" "3 " "every worker thread runs SCHED_BATCH (server.sched_batch by default)"
expect_eq "$(policies "$(sg_master_pid)")" "0 " "the master keeps the normal policy"
jq '.server.sched_batch = false' "$SG_CONFIG" >"$SG_TEST_DIR/tmp/sched-normal.json"
sg_restart_daemon "$SG_TEST_DIR/tmp/sched-normal.json" && pass "restart with server.sched_batch false" || fail "restart (sched_batch false)"
expect_eq "$(policies $(sg_worker_pids))" "0 " "with server.sched_batch false the workers keep SCHED_OTHER"
sg_restart_daemon && pass "restart with the test config" || fail "restart (test config)"

# SIGHUP under concurrent requests: no request fails, workers are replaced.
load() { # seconds → prints the non-200 count
	local end=$((SECONDS + $1)) n=0 s
	while ((SECONDS < end)); do
		s=$(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/version")
		[[ $s == 200 ]] || n=$((n + 1))
	done
	echo "$n"
}
old_workers=$(sg_worker_pids | sort | tr '\n' ' ')
for i in 1 2 3 4 5 6; do load 3 >"$SG_TEST_DIR/tmp/hup.$i" & done
sleep 0.5; kill -HUP "$(sg_master_pid)"; sleep 1; kill -HUP "$(sg_master_pid)"
wait
errs=$(cat "$SG_TEST_DIR"/tmp/hup.* | awk '{s+=$1} END {print s+0}')
expect_eq "$errs" 0 "SIGHUP twice under 6 concurrent clients: no failed request"
new_workers=$(sg_worker_pids | sort | tr '\n' ' ')
[[ -n $new_workers && $new_workers != "$old_workers" ]] && pass "SIGHUP replaced the workers" || fail "HUP replaced workers" "$old_workers -> $new_workers"
grep -q "reloaded" "$SG_RUN/logs/stackgate.log" && pass "the reload is logged" || fail "reload logged"

# A reload with a broken config keeps the running one.
cp "$SG_CONFIG" "$SG_TEST_DIR/tmp/reload.json"
sg_restart_daemon "$SG_TEST_DIR/tmp/reload.json"
echo '{ broken' >"$SG_TEST_DIR/tmp/reload.json"
kill -HUP "$(sg_master_pid)"; sleep 0.5
req GET /v1/version
expect_status 200 "a reload with a broken config keeps serving"
grep -q "reload failed" "$SG_RUN/logs/stackgate.log" && pass "the failed reload is logged" || fail "failed reload logged"
sg_restart_daemon

# max_requests: workers are recycled.
SG_MAX_REQUESTS=5 sg_restart_daemon
w1=$(sg_worker_pids | sort | tr '\n' ' ')
for _ in $(seq 30); do curl -s -o /dev/null "$SG_URL/v1/version"; done
sleep 0.5
w2=$(sg_worker_pids | sort | tr '\n' ' ')
[[ $w1 != "$w2" ]] && pass "workers are recycled after max_requests" || fail "max_requests recycling" "$w1 / $w2"
grep -q "recycling this worker" "$SG_RUN/logs/stackgate.log" && pass "recycling is logged" || fail "recycling logged"
sg_restart_daemon

# Health down and up again with PostgreSQL (its programs found the way ./dev finds them).
PGBIN=$("$SG_ROOT/dev" _pgbin)
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SG_RUN/pg/data" -m fast -w stop >/dev/null 2>&1
req GET /v1/health
expect_status 503 "health is 503 while PostgreSQL is down"
expect_jq '.reason | length > 0' true "503 health gives a reason"
(cd /tmp && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SG_RUN/pg/data" -l "$SG_RUN/logs/postgresql.log" -w \
	-o "-p $SG_PG_PORT -k $SG_RUN/pg-run -c listen_addresses='' -c fsync=off" start >/dev/null)
ok=1
for _ in $(seq 50); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' "$SG_URL/v1/health") == 200 ]] && { ok=0; break; }
	sleep 0.2
done
((ok == 0)) && pass "health recovers by itself when PostgreSQL is back" || fail "health recovery"

# The FastCGI socket lets nginx's group in and no one else.
mode=$(stat -c '%a %G' "$SG_RUN/stackgate.sock")
expect_eq "$mode" "660 www-data" "the FastCGI socket is 0660, group www-data"

# SIGTERM: the master exits 0, removes its socket, and in-flight requests finish.
master=$(sg_master_pid)
for i in 1 2 3 4; do load 2 >"$SG_TEST_DIR/tmp/term.$i" & done
sleep 0.5
kill -TERM "$master"
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
wait
kill -0 "$master" 2>/dev/null && fail "SIGTERM stops the daemon" || pass "SIGTERM stops the daemon"
[[ ! -e $SG_RUN/stackgate.sock ]] && pass "the socket is removed on exit" || fail "socket removed"
grep -q "stopped" "$SG_RUN/logs/stackgate.log" && pass "the stop is logged" || fail "stop logged"
sg_restart_daemon
