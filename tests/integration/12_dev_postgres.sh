# SPDX-License-Identifier: Apache-2.0
# 12_dev_postgres.sh: the PostgreSQL that ./dev up runs (pg_start in ./dev, the same
# function, without SG_PG_FAST) lets only the system users root and postgres in and keeps
# PostgreSQL's durability settings, so an acknowledged registration survives a crash.
# Started on its own data directory and port, next to the test stack, and stopped after.

dpg=$SG_TEST_DIR/devpg
dport=$((SG_PG_PORT + 100))
dsock=$dpg/run
rm -rf "$dpg"
mkdir -p "$dpg"
chmod 755 "$dpg"
if env -u SG_PG_FAST "$SG_ROOT/dev" _pg_start "$dpg/pg/data" "$dsock" "$dport" "$dpg/postgresql.log" >"$dpg/start.log" 2>&1; then
	pass "./dev's PostgreSQL starts on its own data directory"
else
	fail "./dev's PostgreSQL starts on its own data directory" "$(tail -5 "$dpg/start.log")"
fi
dq() { psql -h "$dsock" -p "$dport" -U postgres -d stackgate -X -qAt -c "$1" 2>&1; }

for s in fsync synchronous_commit full_page_writes; do
	expect_eq "$(dq "SHOW $s")" on "./dev up keeps $s on"
done
expect_eq "$(dq "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method <> 'peer' OR options IS DISTINCT FROM '{map=stackgate}' OR type <> 'local'")" 0 \
	"every pg_hba rule is a local peer rule through the stackgate map (no trust)"
expect_eq "$(dq "SELECT string_agg(DISTINCT sys_name, ',' ORDER BY sys_name) FROM pg_ident_file_mappings WHERE map_name = 'stackgate'")" \
	"postgres,root" "the map lets in the system users root and postgres only"
expect_eq "$(stat -c %a "$dsock")" 700 "the socket's directory is postgres's own (0700)"
if runuser -u nobody -- psql -h "$dsock" -p "$dport" -U postgres -d stackgate -X -qAtc 'SELECT 1' >/dev/null 2>&1; then
	fail "another system user (nobody) cannot connect, even as postgres"
else
	pass "another system user (nobody) cannot connect, even as postgres"
fi
# Peer authentication itself, with the directory opened for a moment: nobody is refused by pg_hba.
chmod 755 "$dsock"
out=$(cd /tmp && runuser -u nobody -- psql -h "$dsock" -p "$dport" -U postgres -d stackgate -X -qAtc 'SELECT 1' 2>&1)
chmod 700 "$dsock"
if [[ $out == *"authentication failed"* ]]; then
	pass "peer authentication refuses nobody as postgres"
else
	fail "peer authentication refuses nobody as postgres" "psql said: $out"
fi
expect_eq "$(psql "$STACKGATE_DATABASE_URL" -X -qAt -c 'SHOW fsync')" off "the test stack's PostgreSQL runs without fsync (SG_PG_FAST)"
"$SG_ROOT/dev" _pg_stop "$dpg/pg/data" >/dev/null 2>&1
rm -rf "$dpg"
