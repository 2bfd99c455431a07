# SPDX-License-Identifier: Apache-2.0
# 25_registry_db.sh: the registry as PostgreSQL sees it.  Migrations are
# recorded and idempotent (also on fresh databases, also with concurrent
# migrators); an object registered over HTTP is in its typed table and in the
# `registry` view; 200 concurrent registrations of overlapping identifiers
# with differing bodies give only 200s and 409s and a table that matches the
# acknowledged 200s; every write sends NOTIFY stackgate_registry; rows written
# with plain SQL reach every worker's cache in well under a second; reads are
# served from the cache (no registry query reaches PostgreSQL); and with
# PostgreSQL stopped, reads still answer from the cache while writes get 503,
# then everything recovers when it is back.  Identifiers start with reg-.

# PostgreSQL's server programs, found the way ./dev finds them.
PGBIN=$("$SG_ROOT/dev" _pgbin)

now_ms() { date +%s%3N; }
# db_url DBNAME: the test database's conninfo with another dbname (the later keyword wins).
db_url() { echo "$STACKGATE_DATABASE_URL dbname=$1"; }
# get_all_workers PATH WANT: GET PATH a few times (reaching every worker) until all answer WANT; prints the ms it took, or -1.
get_all_workers() {
	local t0 ok
	t0=$(now_ms)
	while (($(now_ms) - t0 < 3000)); do
		ok=1
		for _ in 1 2 3 4 5 6; do
			req GET "$1"
			[[ $STATUS == "$2" ]] || { ok=0; break; }
		done
		((ok)) && { echo $(($(now_ms) - t0)); return; }
		sleep 0.02
	done
	echo -1
}

# ------------------------------------------------------------------ migrations
before=$(psql_q "SELECT string_agg(name || '@' || applied_at, ',' ORDER BY name) FROM schema_migrations")
[[ $before == *001_core@* && $before == *002_access@* ]] && pass "schema_migrations records 001_core and 002_access" ||
	fail "schema_migrations records 001_core and 002_access" "got '$before'"
out=$(sg_cli migrate 2>&1); rc=$?
expect_eq "$rc" 0 "stackgate migrate on a current schema exits 0"
[[ $out != *applied* ]] && pass "a second migrate applies nothing" || fail "a second migrate applies nothing" "printed: $out"
expect_eq "$(psql_q "SELECT string_agg(name || '@' || applied_at, ',' ORDER BY name) FROM schema_migrations")" "$before" \
	"a second migrate leaves schema_migrations as it was"

psql_q "DROP DATABASE IF EXISTS reg25_fresh" >/dev/null 2>&1
psql_q "DROP DATABASE IF EXISTS reg25_race" >/dev/null 2>&1
psql_q "CREATE DATABASE reg25_fresh" >/dev/null && psql_q "CREATE DATABASE reg25_race" >/dev/null
out=$(STACKGATE_DATABASE_URL=$(db_url reg25_fresh) "$SG_BIN" migrate 2>&1); rc=$?
[[ $rc == 0 && $out == *"applied 001_core"* && $out == *"applied 002_access"* ]] &&
	pass "migrate on an empty database applies 001_core and 002_access" ||
	fail "migrate on an empty database applies 001_core and 002_access" "exit $rc: $out"
out=$(STACKGATE_DATABASE_URL=$(db_url reg25_fresh) "$SG_BIN" migrate 2>&1); rc=$?
[[ $rc == 0 && $out != *applied* ]] && pass "migrating the fresh database again applies nothing" ||
	fail "migrating the fresh database again applies nothing" "exit $rc: $out"
tables=$(psql "$(db_url reg25_fresh)" -X -qAt -c "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND c.relname IN
	('models','shields','vector_dbs','datasets','scoring_functions','benchmarks','tool_groups','tools','providers','registry')")
expect_eq "$tables" "benchmarks,datasets,models,providers,registry,scoring_functions,shields,tool_groups,tools,vector_dbs" \
	"001_core creates the eight typed tables, providers and the registry view"
# Concurrent migrators serialise on the advisory lock: exactly one applies each migration.
pids=()
for i in 1 2 3 4 5 6; do
	STACKGATE_DATABASE_URL=$(db_url reg25_race) "$SG_BIN" migrate >"$SG_TEST_DIR/tmp/reg25-mig.$i" 2>&1 &
	pids+=($!)
done
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
expect_eq "$rcs" 0 "six concurrent migrators all exit 0"
expect_eq "$(cat "$SG_TEST_DIR"/tmp/reg25-mig.* | grep -c '^applied 001_core')" 1 \
	"six concurrent migrators apply 001_core exactly once"
expect_eq "$(psql "$(db_url reg25_race)" -X -qAt -c "SELECT count(*) FROM schema_migrations WHERE name = '001_core'")" 1 \
	"001_core is recorded once after the race"
out=$(STACKGATE_DATABASE_URL="host=$SG_RUN/nonexistent port=1 dbname=x" "$SG_BIN" migrate 2>&1); rc=$?
[[ $rc != 0 && $out == *"cannot connect to the database"* ]] && pass "migrate without a database fails and says why" ||
	fail "migrate without a database fails and says why" "exit $rc: $out"
psql_q "DROP DATABASE IF EXISTS reg25_fresh" >/dev/null 2>&1
psql_q "DROP DATABASE IF EXISTS reg25_race" >/dev/null 2>&1

# ------------------------------------------------------------------ an HTTP registration in SQL
req POST /v1/models '{"model_id":"reg-m1","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "register reg-m1 over HTTP"
expect_eq "$(psql_q "SELECT type || '|' || provider_id || '|' || provider_resource_id || '|' || has_acl || '|' || coalesce(owner, '-')
	FROM registry WHERE identifier = 'reg-m1'")" "model|vllm|test-llm|false|-" "the registry view lists reg-m1"
expect_eq "$(psql_q "SELECT model_type || '|' || metadata::text || '|' || (seq > 0) || '|' || (created_at <= now())
	FROM models WHERE identifier = 'reg-m1'")" "llm|{}|true|true" "reg-m1 has typed columns in models"
expect_eq "$(psql_q "SELECT provider_type FROM providers WHERE api = 'inference' AND provider_id = 'vllm'")" "remote::vllm" \
	"the providers table mirrors the configured providers" # written by registry_sync_providers, if the supervisor calls it
expect_eq "$(psql_q "SELECT count(*) FROM information_schema.columns WHERE table_name = 'providers'
	AND column_name NOT IN ('api', 'provider_id', 'provider_type', 'updated_at')")" 0 "providers has no config or secret column"

# ------------------------------------------------------------------ one updated_at trigger function
# Every *_touch trigger runs the one function (004 repoints the registry's and drops the spare).
expect_eq "$(psql_q "SELECT string_agg(DISTINCT p.proname, ',') FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
	WHERE t.tgname LIKE '%\\_touch' AND NOT t.tgisinternal")" "sg_touch_updated_at" \
	"every _touch trigger runs sg_touch_updated_at"
expect_eq "$(psql_q "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE '%\\_touch'
	AND NOT t.tgisinternal AND c.relname IN ('models','shields','vector_dbs','datasets','scoring_functions','benchmarks',
	'tool_groups','tools','principals')")" 9 "the eight registry tables and principals each have their _touch trigger"
expect_eq "$(psql_q "SELECT count(*) FROM pg_proc WHERE proname = 'sg_registry_touch'")" 0 "the spare touch function is gone"
psql_q "UPDATE models SET updated_at = '2000-01-01' WHERE identifier = 'reg-m1'" >/dev/null
expect_eq "$(psql_q "SELECT updated_at > now() - interval '1 hour' FROM models WHERE identifier = 'reg-m1'")" "t" \
	"an UPDATE of a registry row still sets updated_at"

# ------------------------------------------------------------------ NOTIFY on every write
nf=$SG_TEST_DIR/tmp/reg25-notify.out
psql "$STACKGATE_DATABASE_URL" -X -qAt -c "LISTEN stackgate_registry" -c "SELECT pg_sleep(2.5)" >"$nf" 2>&1 &
lpid=$!
for _ in $(seq 100); do
	[[ $(psql_q "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2.5)'") == 1 ]] && break
	sleep 0.02
done
req POST /v1/models '{"model_id":"reg-n1","provider_id":"vllm-short"}'
expect_status 200 "register reg-n1 while a session listens"
req DELETE /v1/models/reg-n1
expect_status 200 "unregister reg-n1 while a session listens"
wait "$lpid"
expect_eq "$(grep -c 'stackgate_registry" with payload "model:reg-n1"' "$nf")" 2 \
	"register and unregister each send NOTIFY stackgate_registry 'model:reg-n1'"

# ------------------------------------------------------------------ 200 concurrent registrations
# 20 identifiers × 10 requests; for each identifier the requests alternate between two
# providers (neither checks the upstream), so exactly one body wins and the other 5 are 409.
cc=$SG_TEST_DIR/tmp/reg25-concurrent.out
seq 0 199 | xargs -P 48 -I{} bash -c '
	i={}; id=reg-c-$((i % 20)); if (( (i / 20) % 2 == 0 )); then p=dead; else p=vllm-short; fi
	code=$(curl -s -o /dev/null -w "%{http_code}" --max-time 30 -H "Content-Type: application/json" \
		--data-binary "{\"model_id\":\"$id\",\"provider_id\":\"$p\"}" "$SG_URL/v1/models")
	echo "$id $p $code"' >"$cc" 2>&1
expect_eq "$(wc -l <"$cc" | tr -d ' ')" 200 "200 concurrent registrations all answered"
expect_eq "$(awk '$3 != 200 && $3 != 409' "$cc" | wc -l | tr -d ' ')" 0 "every concurrent registration is 200 or 409 (none 5xx)"
expect_eq "$(awk '$3 == 200' "$cc" | wc -l | tr -d ' ')" 100 "exactly 100 are 200 (the winning body, 5 times per identifier)"
expect_eq "$(psql_q "SELECT count(*) || '/' || count(DISTINCT identifier) FROM models WHERE identifier LIKE 'reg-c-%'")" "20/20" \
	"one row per identifier"
acked=$(awk '$3 == 200 {print $1, $2}' "$cc" | sort -u)
stored=$(psql_q "SELECT identifier || ' ' || provider_id FROM models WHERE identifier LIKE 'reg-c-%'" | sort)
expect_eq "$acked" "$stored" "each stored provider is the one every 200 acknowledged"
# Every worker's cache converged on the same rows.
bad=""
for i in $(seq 0 19); do
	want=$(awk -v id="reg-c-$i" '$1 == id {print $2}' <<<"$stored")
	for _ in 1 2 3 4; do
		req GET "/v1/models/reg-c-$i"
		got=$(jq -r .provider_id <<<"$BODY" 2>/dev/null)
		[[ $STATUS == 200 && $got == "$want" ]] || bad+=" reg-c-$i:$STATUS:$got(want $want)"
	done
done
expect_eq "$bad" "" "every worker serves the stored provider for each identifier"

# ------------------------------------------------------------------ SQL writes reach every worker
psql_q "INSERT INTO models (identifier, provider_id, provider_resource_id, metadata) VALUES ('reg-sql1', 'vllm', 'test-llm', '{}')"
ms=$(get_all_workers /v1/models/reg-sql1 200)
((ms >= 0 && ms < 1000)) && pass "a row inserted with SQL is served by every worker within 1 s (${ms} ms)" ||
	fail "a row inserted with SQL is served by every worker within 1 s" "took $ms ms"
psql_q "UPDATE models SET metadata = '{\"k\": 1}' WHERE identifier = 'reg-sql1'"
expect_eq "$(psql_q "SELECT updated_at > created_at FROM models WHERE identifier = 'reg-sql1'")" t "an UPDATE moves updated_at"
seen=""
for _ in $(seq 50); do
	req GET /v1/models/reg-sql1
	seen=$(jq -c .metadata <<<"$BODY")
	[[ $seen == '{"k":1}' ]] && break
	sleep 0.02
done
expect_eq "$seen" '{"k":1}' "an UPDATE with SQL reaches the cache"
psql_q "DELETE FROM models WHERE identifier = 'reg-sql1'"
ms=$(get_all_workers /v1/models/reg-sql1 404)
((ms >= 0 && ms < 1000)) && pass "a row deleted with SQL is gone from every worker within 1 s (${ms} ms)" ||
	fail "a row deleted with SQL is gone from every worker within 1 s" "took $ms ms"

# ------------------------------------------------------------------ reads come from the cache
if [[ $(psql_q "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == 1 ]]; then
	calls() {
		psql_q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
			WHERE query LIKE 'SELECT identifier, provider_resource_id, provider_id, owner, has_acl%'"
	}
	c0=$(calls)
	for _ in $(seq 50); do # settle: the listeners may still be re-reading the rows written above
		sleep 0.2
		c1=$(calls)
		[[ $c1 == "$c0" ]] && break
		c0=$c1
	done
	((c0 > 0)) && pass "pg_stat_statements sees the registry's row query" ||
		fail "pg_stat_statements sees the registry's row query" "no matching statement"
	for _ in $(seq 20); do req GET /v1/models/reg-m1; done
	for _ in $(seq 5); do req GET /v1/models; req GET /v1/openai/v1/models; req GET /v1/models/reg-nothing; done
	sleep 0.2
	expect_eq "$(calls)" "$c0" "45 reads (get, list, OpenAI list, a miss) send no registry query to PostgreSQL"
else
	fail "reads come from the cache" "pg_stat_statements is not installed in the test database"
fi

# ------------------------------------------------------------------ PostgreSQL down, then back
if pg_ctl_run -D "$SG_RUN/pg/data" -m fast -w stop >/dev/null 2>&1; then
	pass "stop PostgreSQL"
	req GET /v1/models/reg-m1
	expect_status 200 "with PostgreSQL down a model is still served from the cache"
	req GET /v1/models
	[[ $STATUS == 200 && $(jq '[.data[] | select(.identifier == "reg-m1")] | length' <<<"$BODY") == 1 ]] &&
		pass "with PostgreSQL down the list is served from the cache" ||
		fail "with PostgreSQL down the list is served from the cache"
	t0=$(now_ms)
	req POST /v1/models '{"model_id":"reg-down","provider_id":"vllm-short"}'
	el=$(($(now_ms) - t0))
	expect_status 503 "with PostgreSQL down a registration is 503"
	expect_jq .error.message "the registry database is unavailable" "the 503 says the registry database is unavailable"
	((el < 5000)) && pass "the 503 comes quickly (${el} ms)" || fail "the 503 comes quickly" "took $el ms"
	pg_up && pass "start PostgreSQL again" || fail "start PostgreSQL again" "see postgresql.log"
	ok=0
	for _ in $(seq 100); do
		req POST /v1/models '{"model_id":"reg-down","provider_id":"vllm-short"}'
		[[ $STATUS == 200 ]] && { ok=1; break; }
		sleep 0.1
	done
	((ok)) && pass "registrations work again once PostgreSQL is back" || fail "registrations work again once PostgreSQL is back"
	psql_q "INSERT INTO models (identifier, provider_id, metadata) VALUES ('reg-after', 'vllm', '{}')"
	ok=0
	for _ in $(seq 100); do # the listeners reconnect with a backoff of at most 5 s
		ms=$(get_all_workers /v1/models/reg-after 200)
		((ms >= 0)) && { ok=1; break; }
	done
	((ok)) && pass "every worker's listener reconnected and sees new rows" ||
		fail "every worker's listener reconnected and sees new rows"
	req DELETE /v1/models/reg-down
	req DELETE /v1/models/reg-after
else
	fail "stop PostgreSQL" "pg_ctl stop failed"
fi
# Never leave the database down for the files after this one.
if ! (cd /tmp && runuser -u postgres -- "$PGBIN/pg_isready" -h "$SG_RUN/pg-run" -p "$SG_PG_PORT" -q); then
	pg_up || fail "PostgreSQL is up at the end of 25_registry_db.sh"
fi
