# SPDX-License-Identifier: Apache-2.0
# 65_scale.sh: scale out (issue #19): two stackgate hosts, one PgBouncer per
# PostgreSQL node in transaction mode for their SQL, a primary and a streaming
# standby (pg_basebackup, synchronous replication), the hosts' LISTEN sessions
# direct to the servers.
#   refuse    serve refuses to start when its LISTEN goes through the
#             transaction-mode PgBouncer (the start-up NOTIFY never arrives)
#   migrate   `stackgate migrate` through the PgBouncer
#   coherent  registered on one host, read on the other (the time printed);
#             deleted on one, gone on the other; a revoked key refused on both
#   limits    an rpm of 10 counted across both hosts
#   usage     the usage totals of requests on both hosts, exact
#   bounded   a PgBouncer that holds every query (PAUSE): a write answers 503
#             within database.query_timeout, never hangs, and succeeds after RESUME
#   failover  the primary node dies (PostgreSQL and its PgBouncer) under a write
#             load on both hosts, the standby is promoted: cached reads go on
#             while there is no primary, writes answer 503 and never hang, writes
#             resume (the failover time printed), every acknowledged registration
#             is on the new primary, and both hosts' caches agree with it
# Every server here is on ports and sockets derived from this stack's
# (SG_PG_PORT + 1..4, SG_PORT + 55) and stopped by the file.

OA=/v1/openai/v1
SC=$SG_TEST_DIR/scale
SOCK=$SC/sock
P1=$((SG_PG_PORT + 1)) P2=$((SG_PG_PORT + 2)) B1=$((SG_PG_PORT + 3)) B2=$((SG_PG_PORT + 4))
PORT2=$((SG_PORT + 55))
URL2=http://127.0.0.1:$PORT2
RUN2=$SC/run2
PGBIN=$("$SG_ROOT/dev" _pgbin)
# The hosts' SQL: both PgBouncers, the read-write one wins; their LISTEN: both servers directly.
POOLED="host=$SOCK,$SOCK port=$B1,$B2 dbname=stackgate user=postgres target_session_attrs=read-write connect_timeout=2"
DIRECT="host=$SOCK,$SOCK port=$P1,$P2 dbname=stackgate user=postgres target_session_attrs=read-write connect_timeout=2"

as_pg() { (cd /tmp && runuser -u postgres -- "$@"); }
# SQL on the current primary, directly.
sq() { psql "$DIRECT" -X -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# The admin CLI through the PgBouncers, as an operator of this topology runs it.
sc_cli() { STACKGATE_DATABASE_URL=$POOLED "$SG_BIN" "$@"; }
on1() { as "$@"; }
on2() { SG_URL=$URL2 as "$@"; }
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"hi"}]}' "$1"; }

scale_down() {
	sg_host_stop "$RUN2"
	"$SG_ROOT/dev" _daemon_stop "$SC/bad" >/dev/null 2>&1
	for n in 1 2; do
		[[ -f $SC/pgb$n.pid ]] && kill -TERM "$(cat "$SC/pgb$n.pid")" 2>/dev/null
		[[ -f $SC/pg$n/postmaster.pid ]] && as_pg "$PGBIN/pg_ctl" -D "$SC/pg$n" -m immediate -w stop >/dev/null 2>&1
	done
}
# The test stack back on its own PostgreSQL for the files after this one.
restore_stack() { sg_restart_daemon >/dev/null 2>&1 || fail "the test stack back on its own configuration"; }
trap 'scale_down; restore_stack' EXIT

# pgbouncer_start N PGPORT: PgBouncer N in transaction mode in front of the server on PGPORT.
pgbouncer_start() {
	local n=$1 port=$2 listen=$((SG_PG_PORT + 2 + $1))
	cat >"$SC/pgb$n.ini" <<-EOF
		[databases]
		stackgate = host=$SOCK port=$port dbname=stackgate user=postgres
		stackgate_session = host=$SOCK port=$port dbname=stackgate user=postgres pool_mode=session
		[pgbouncer]
		listen_addr =
		listen_port = $listen
		unix_socket_dir = $SOCK
		auth_type = trust
		auth_file = $SC/pgb-users.txt
		admin_users = postgres
		pool_mode = transaction
		max_client_conn = 400
		default_pool_size = 20
		server_connect_timeout = 2
		server_login_retry = 1
		query_wait_timeout = 120
		logfile = $SC/pgb$n.log
		pidfile = $SC/pgb$n.pid
	EOF
	echo '"postgres" ""' >"$SC/pgb-users.txt"
	chown postgres:postgres "$SC/pgb$n.ini" "$SC/pgb-users.txt"
	as_pg pgbouncer -d -q "$SC/pgb$n.ini"
}

pg_conf() { # DATA PORT
	cat >>"$1/postgresql.conf" <<-EOF
		port = $2
		listen_addresses = ''
		unix_socket_directories = '$SOCK'
		max_connections = 200
		fsync = off
		wal_sender_timeout = 5s
		wal_receiver_timeout = 5s
	EOF
	printf 'local all all peer map=stackgate\nlocal replication all peer map=stackgate\n' >"$1/pg_hba.conf"
	printf 'stackgate root postgres\nstackgate postgres postgres\n' >"$1/pg_ident.conf"
}
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$SC/pg$1" -l "$SC/pg$1.log" -w -t 30 start >/dev/null; }

echo "-- a primary, a synchronous standby, a PgBouncer each"
scale_down
rm -rf "$SC"
install -d -o postgres -g postgres -m 755 "$SC"
install -d -o postgres -g postgres -m 700 "$SOCK"
as_pg "$PGBIN/initdb" -D "$SC/pg1" -U postgres --auth-local=peer --auth-host=reject -E UTF8 --locale=C.UTF-8 \
	--no-sync >"$SC/initdb.log" 2>&1
pg_conf "$SC/pg1" "$P1"
pg_start 1 && psql -h "$SOCK" -p "$P1" -U postgres -d postgres -qc "CREATE DATABASE stackgate" >/dev/null
as_pg "$PGBIN/pg_basebackup" -h "$SOCK" -p "$P1" -U postgres -D "$SC/pg2" -X stream --no-sync >"$SC/basebackup.log" 2>&1
as_pg touch "$SC/pg2/standby.signal"
cat >>"$SC/pg2/postgresql.conf" <<-EOF
	port = $P2
	primary_conninfo = 'host=$SOCK port=$P1 user=postgres application_name=scale_standby'
EOF
pg_start 2
psql -h "$SOCK" -p "$P1" -U postgres -d postgres -q -c "ALTER SYSTEM SET synchronous_standby_names = 'scale_standby'" \
	-c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
sync_state() { [[ $(psql -h "$SOCK" -p "$P1" -U postgres -d postgres -qAtc \
	"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'scale_standby'") == sync ]]; }
if poll 20 sync_state; then pass "a streaming standby in synchronous replication"; else
	fail "a streaming standby in synchronous replication" "$(tail -5 "$SC/pg1.log" "$SC/pg2.log" "$SC/basebackup.log")"; fi
pgbouncer_start 1 "$P1"
pgbouncer_start 2 "$P2"
poll 10 test -S "$SOCK/.s.PGSQL.$B2"

echo "-- migrate through PgBouncer (transaction mode)"
out=$(sc_cli migrate 2>&1)
rc=$?
expect_eq "$rc" 0 "stackgate migrate through a transaction-mode PgBouncer"
[[ $rc == 0 ]] || echo "$out"
expect_eq "$(sq "SELECT count(*) FROM schema_migrations")" "$(ls "$SG_ROOT"/sql/[0-9]*.sql | wc -l)" \
	"…every migration recorded"

echo "-- refuse: LISTEN through the transaction-mode PgBouncer"
mkdir -p "$SC/bad/logs"
jq --arg ci "$POOLED" '.database.conninfo = $ci | del(.database.listen_conninfo)' "$SG_CONFIG" >"$SC/bad.json"
t0=$(now_ms)
out=$(SG_RUN=$SC/bad timeout 30 "$SG_BIN" serve --config "$SC/bad.json" 2>&1)
rc=$?
t1=$(now_ms)
[[ $rc != 0 && $rc != 124 ]] && pass "serve refuses to start (exit $rc, after $((t1 - t0)) ms)" ||
	{ REQ_DESC="serve --config bad.json"; BODY=$out; fail "serve refuses to start" "exit $rc"; }
BODY=$out
expect_body_contains "a NOTIFY sent through database.conninfo did not arrive on the LISTEN session of database.listen_conninfo within 2 s" \
	"…saying the NOTIFY did not arrive"
expect_body_contains "point database.listen_conninfo at PostgreSQL itself or at a session-mode pool" "…and what to do"
# LISTEN through a session-mode pool (the same PgBouncer's stackgate_session) passes the check.
jq --arg ci "$POOLED" --arg li "host=$SOCK port=$B1 dbname=stackgate_session user=postgres" \
	'.database.conninfo = $ci | .database.listen_conninfo = $li' "$SG_CONFIG" >"$SC/session.json"
if SG_RUN=$SC/bad "$SG_ROOT/dev" _daemon_start "$SC/session.json" "$SC/bad" >"$SC/bad/logs/start.log" 2>&1; then
	pass "serve starts with its LISTEN through a session-mode pool"
else
	fail "serve starts with its LISTEN through a session-mode pool" "$(tail -5 "$SC/bad/logs/stackgate.log")"
fi
"$SG_ROOT/dev" _daemon_stop "$SC/bad" >/dev/null 2>&1
# A LISTEN session on the standby (no target_session_attrs) is refused too: it would hear nothing.
jq --arg ci "$POOLED" --arg li "host=$SOCK port=$P2 dbname=stackgate user=postgres" \
	'.database.conninfo = $ci | .database.listen_conninfo = $li' "$SG_CONFIG" >"$SC/standby.json"
out=$(SG_RUN=$SC/bad timeout 30 "$SG_BIN" serve --config "$SC/standby.json" 2>&1)
rc=$?
[[ $rc != 0 && $rc != 124 ]] && pass "serve refuses a LISTEN session on the standby (exit $rc)" ||
	{ REQ_DESC="serve --config standby.json"; BODY=$out; fail "serve refuses a LISTEN session on the standby" "exit $rc"; }
BODY=$out
expect_body_contains "database.listen_conninfo: LISTEN failed: cannot execute LISTEN during recovery" "…naming the LISTEN's failure"
STACKGATE_DATABASE_URL=$DIRECT unit_case scale notify_direct "db_notify_check: direct sessions on both sides pass"
STACKGATE_DATABASE_URL=$DIRECT unit_case scale notify_unreachable "db_notify_check: an unreachable side is named"
STACKGATE_DATABASE_URL=$DIRECT unit_case scale query_timeout "db_exec: a statement past database.query_timeout gives up, the next gets a fresh connection"

echo "-- two hosts: the SQL through PgBouncer, LISTEN direct"
jq --arg ci "$POOLED" --arg li "$DIRECT" \
	'.database.conninfo = $ci | .database.listen_conninfo = $li | .database.query_timeout = 3' \
	"$SG_CONFIG" >"$SC/scale.json"
if sg_restart_daemon "$SC/scale.json"; then pass "host 1 starts on the scaled-out database"; else
	fail "host 1 starts on the scaled-out database" "$(tail -20 "$SG_RUN/logs/stackgate.log")"; fi
if sg_host_start "$RUN2" "$PORT2" "$SC/scale.json"; then
	pass "host 2 starts on the scaled-out database"
else
	fail "host 2 starts on the scaled-out database" "$(tail -20 "$RUN2/logs/start.log" "$RUN2/logs/stackgate.log" 2>/dev/null)"
fi

echo "-- coherent: a write on one host is read on the other"
on1 "" POST /v1/models '{"model_id":"t65-llm","provider_id":"vllm-short","provider_model_id":"test-llm"}'
expect_status 200 "register t65-llm on host 1"
seen2() { SG_URL=$URL2 req_is "$1" GET "/v1/models/$2"; }
worst=0
for i in $(seq 10); do
	t0=$(now_ms)
	on1 "" POST /v1/models "{\"model_id\":\"t65-c$i\",\"provider_id\":\"vllm-short\"}"
	[[ $STATUS == 200 ]] || break
	poll 5 seen2 200 "t65-c$i" || break
	d=$(($(now_ms) - t0)); ((d > worst)) && worst=$d
done
expect_eq "$i:$STATUS" "10:200" "ten registrations on host 1, each read on host 2"
echo "        the slowest became visible on host 2 $worst ms after host 1 was asked (write included)"
on2 "" DELETE /v1/models/t65-c1
expect_status 200 "delete t65-c1 on host 2"
if poll 5 req_is 404 GET /v1/models/t65-c1; then pass "…gone on host 1"; else fail "…gone on host 1" "still $STATUS"; fi
sc_cli principal add t65-a >/dev/null 2>&1
KA=$(sc_cli key create t65-a 2>/dev/null)
on1 "$KA" GET /v1/models
expect_status 200 "t65-a's key works on host 1"
on2 "$KA" GET /v1/models
expect_status 200 "…and on host 2"
kid=$(sq "SELECT key_id FROM api_keys WHERE principal = 't65-a'")
sc_cli key revoke "$kid" >/dev/null 2>&1
refused() { SG_URL=$1 as "$KA" GET /v1/models; [[ $STATUS == 401 ]]; }
if poll 5 refused "$SG_URL" && poll 5 refused "$URL2"; then pass "a key revoked through one database is refused on both hosts"; else
	fail "a key revoked is refused on both hosts" "still $STATUS"; fi

echo "-- limits: an rpm of 10 across both hosts"
sc_cli principal add t65-r >/dev/null 2>&1
KR=$(sc_cli key create t65-r 2>/dev/null)
sc_cli limit set t65-r --rpm 10 >/dev/null 2>&1
sleep 1 # the limits' sync (every 500 ms) on both hosts
while (($(date -u +%-S) > 45)); do sleep 1; done
ok1=0
for i in 1 2 3 4 5 6; do on1 "$KR" POST $OA/chat/completions "$(chat t65-llm)"; [[ $STATUS == 200 ]] && ok1=$((ok1 + 1)); done
expect_eq "$ok1" 6 "host 1 admits 6 of an rpm of 10"
sleep 1
ok2=0
for i in 1 2 3 4 5 6; do on2 "$KR" POST $OA/chat/completions "$(chat t65-llm)"; [[ $STATUS == 200 ]] && ok2=$((ok2 + 1)); done
expect_eq "$ok2" 4 "host 2, having seen host 1's 6, admits 4 more"
expect_status 429 "…and then refuses"

echo "-- usage: exact totals across both hosts"
sc_cli principal add t65-u >/dev/null 2>&1
KU=$(sc_cli key create t65-u 2>/dev/null)
want=0 n=0
for i in $(seq 8); do
	if ((i % 2)); then on1 "$KU" POST $OA/chat/completions "$(chat t65-llm)"; else on2 "$KU" POST $OA/chat/completions "$(chat t65-llm)"; fi
	[[ $STATUS == 200 ]] && { want=$((want + $(jq -r .usage.total_tokens <<<"$BODY"))); n=$((n + 1)); }
done
expect_eq "$n" 8 "eight requests, four on each host"
usage_is() { [[ $(sq "SELECT count(*) || ' ' || coalesce(sum(total_tokens), 0) FROM usage_log WHERE principal = 't65-u'") == "$1" ]]; }
if poll 10 usage_is "8 $want"; then pass "usage_log holds 8 rows and $want tokens, the sum of both hosts' answers"; else
	fail "usage totals across hosts" "$(sq "SELECT count(*), sum(total_tokens) FROM usage_log WHERE principal = 't65-u'") vs 8 $want"; fi

echo "-- bounded: a pooler that holds every query (PgBouncer PAUSE)"
sc_cli principal add t65-adm --role admin >/dev/null 2>&1
KADM=$(sc_cli key create t65-adm 2>/dev/null)
pgb_admin() { psql -h "$SOCK" -p "$1" -U postgres -d pgbouncer -qc "$2" >/dev/null; }
pgb_admin "$B1" "PAUSE stackgate"
t0=$(now_ms)
on1 "" POST /v1/models '{"model_id":"t65-held","provider_id":"vllm-short"}' --max-time 20
d=$(($(now_ms) - t0))
expect_status 503 "a write while PgBouncer holds every query answers 503 (in $d ms)"
expect_jq .error.message "the registry database is unavailable" "…saying the database is unavailable"
# database.query_timeout is 3 s: one attempt and its one retry on a fresh connection.
((d < 9000)) && pass "…within twice database.query_timeout and a connect" || fail "…within 9 s" "$d ms"
pgb_admin "$B1" "RESUME stackgate"
on1 "" POST /v1/models '{"model_id":"t65-held","provider_id":"vllm-short"}'
expect_status 200 "once PgBouncer resumes, the write succeeds"
# Reads on the pooled connections are bounded the same way.  Each caller's key is checked just
# before the PAUSE, so that it is still in the key cache (auth.key_cache_ttl 1 s) when it reads.
held_read() { # NAME KEY PATH
	on1 "$2" GET /v1/models
	pgb_admin "$B1" "PAUSE stackgate"
	t0=$(now_ms)
	on1 "$2" GET "$3" "" --max-time 20
	d=$(($(now_ms) - t0))
	pgb_admin "$B1" "RESUME stackgate"
	expect_status 503 "$1 while PgBouncer holds every query answers 503 (in $d ms)"
	((d < 6000)) && pass "…within database.query_timeout and a connect" || fail "…within 6 s" "$d ms"
}
held_read "t65-u's usage read" "$KU" /v1/stackgate/usage
held_read "an admin's read of the principals" "$KADM" /v1/stackgate/principals
on1 "$KU" GET /v1/stackgate/usage
expect_jq '[.data[].requests] | add' 8 "once PgBouncer resumes, the usage read gives t65-u's 8 requests"

echo "-- failover: the primary node dies under a write load"
# writer HOSTURL TAG: registers t65-TAG-1, -2, … until $SC/stop exists; one line per request:
# "<id> <status> <ms>", curl bounded at 20 s (000: it hung past that).
writer() {
	local i=0 t0 s
	while [[ ! -f $SC/stop ]]; do
		i=$((i + 1))
		t0=$(now_ms)
		s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H 'Content-Type: application/json' \
			-d "{\"model_id\":\"t65-$2-$i\",\"provider_id\":\"vllm-short\"}" "$1/v1/models") || s=000
		echo "t65-$2-$i $s $(($(now_ms) - t0)) $(now_ms)"
	done >"$SC/writes-$2"
}
rm -f "$SC/stop"
writer "$SG_URL" a &
w1=$!
writer "$URL2" b &
w2=$!
poll 10 eval '(($(grep -c " 200 " "$SC/writes-a" "$SC/writes-b" | awk -F: "{s+=\$2} END {print s}") >= 10))'
t_kill=$(now_ms)
as_pg "$PGBIN/pg_ctl" -D "$SC/pg1" -m immediate -w stop >/dev/null 2>&1
kill -TERM "$(cat "$SC/pgb1.pid")"
# No primary now: cached reads still answer, writes are refused with 503 in bounded time.
on1 "" GET /v1/models/t65-llm
expect_status 200 "with no primary, host 1 reads from its cache"
on2 "" GET /v1/models/t65-c2
expect_status 200 "…and host 2 too"
t0=$(now_ms)
on1 "" POST /v1/models '{"model_id":"t65-nowhere","provider_id":"vllm-short"}' --max-time 25
d=$(($(now_ms) - t0))
expect_status 503 "with no primary, a write answers 503 (in $d ms)"
((d < 20000)) && pass "…within 20 s" || fail "…within 20 s" "$d ms"
# The failover an operator (or a cluster manager) runs: promote the standby, then tell its
# PgBouncer (RECONNECT, PgBouncer's command for a failover) to drop the sessions it opened to a
# standby: it announced that standby to its clients as read-only until then.
t_promote0=$(now_ms)
as_pg "$PGBIN/pg_ctl" -D "$SC/pg2" -w promote >/dev/null
pgb_admin "$B2" RECONNECT
t_promote=$(now_ms)
# A write acknowledged after the kill that also started after it went to the new primary.
acked_since() { awk -v t="$1" '$2 == 200 && $4 - $3 > t {print $4}' "${@:2}"; }
both_resumed() { acked_since "$t_promote" "$SC/writes-a" | grep -q . && acked_since "$t_promote" "$SC/writes-b" | grep -q .; }
if poll 40 both_resumed; then
	first=$(acked_since "$t_kill" "$SC/writes-a" "$SC/writes-b" | sort -n | head -1)
	pass "writes resume on both hosts after the promotion"
	echo "        failover: the first write begun after the primary died was acknowledged $((first - t_kill)) ms" \
		"after it died, $((first - t_promote)) ms after the promotion (promote + RECONNECT took $((t_promote - t_promote0)) ms)"
else
	fail "writes resume after the promotion" "$(tail -3 "$SC/writes-a" "$SC/writes-b")"
fi
# A few more writes on the new primary, then the load stops.
more() { (($(acked_since "$t_promote" "$SC/writes-a" "$SC/writes-b" | wc -l) >= 6)); }
poll 20 more
touch "$SC/stop"
wait "$w1" "$w2"
cat "$SC/writes-a" "$SC/writes-b" >"$SC/writes"
acked=$(awk '$2 == 200 {print $1}' "$SC/writes" | sort)
echo "        $(wc -l <"$SC/writes") writes: $(awk '{print $2}' "$SC/writes" | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
expect_eq "$(awk '$2 != 200 && $2 != 503' "$SC/writes" | head -3)" "" "every write answered 200 or 503"
expect_eq "$(awk '$2 == "000" || $3 >= 20000' "$SC/writes" | head -3)" "" "no write hung past its timeout"
present=$(sq "SELECT identifier FROM models WHERE identifier ~ '^t65-[ab]-'" | sort)
expect_eq "$(comm -23 <(echo "$acked") <(echo "$present") | head -5)" "" \
	"every acknowledged registration ($(wc -l <<<"$acked")) is on the new primary"
models_of() { SG_URL=$1 req GET /v1/models; jq -r '.data[].identifier' <<<"$BODY" | sort; }
agree() { [[ $(models_of "$SG_URL") == "$(sq "SELECT identifier FROM models" | sort)" && $(models_of "$URL2") == "$(models_of "$SG_URL")" ]]; }
if poll 10 agree; then pass "both hosts' caches agree with the new primary"; else
	fail "caches agree" "$(diff <(models_of "$SG_URL") <(models_of "$URL2") | head -5)"; fi
on2 "" POST /v1/models '{"model_id":"t65-after","provider_id":"vllm-short"}'
expect_status 200 "a registration on host 2 after the failover"
if poll 5 req_is 200 GET /v1/models/t65-after; then pass "…read on host 1"; else fail "…read on host 1" "$STATUS"; fi

trap - EXIT
scale_down
restore_stack
