# SPDX-License-Identifier: Apache-2.0
# 35_list_stream.sh: the model lists are streamed (written in chunks while the
# registry cache is walked) and must still be exactly what they were: 2,000
# models inserted in bulk with SQL (the cache learns of them by NOTIFY) plus a
# few registered through the API with and without ACLs; GET /v1/models and
# GET /v1/openai/v1/models list exactly the models the caller may see, in
# registration order, as valid JSON of the same shape and bytes as before
# (native items without access_attributes, each byte for byte the single GET
# minus that member, with both API generations' fields since issue #16;
# OpenAI entries id/object/created/owned_by), for an
# anonymous caller, a principal and an admin.  PostgreSQL is the oracle
# (sg_acl_check, seq, created_at).  Then the walk read from PostgreSQL when the
# cache is not loaded (unit case db_walk), HEAD, and clean up.

LS=$SG_TEST_DIR/tmp/ls35
mkdir -p "$LS"
NBULK=2000

psql_q "DELETE FROM models WHERE identifier LIKE 'ls35-%'" >/dev/null
psql_q "DELETE FROM principals WHERE name LIKE 'ls35-%'" >/dev/null


# ---- principals and data ----------------------------------------------------------------------
sg_cli principal add ls35-alice --team ls35-a >/dev/null 2>&1 || fail "principal add ls35-alice"
sg_cli principal add ls35-admin --role admin >/dev/null 2>&1 || fail "principal add ls35-admin"
KA=$(sg_cli key create ls35-alice 2>/dev/null)
KADM=$(sg_cli key create ls35-admin 2>/dev/null)
[[ $KA == sg-* && $KADM == sg-* ]] && pass "keys for ls35-alice and ls35-admin" || fail "keys" "got '$KA' '$KADM'"

# Every 10th: team ls35-a only; every 25th (+5): a role nobody but an admin has.  Every 3rd has
# metadata with characters JSON must escape, every 7th is an embedding model.
psql_q "INSERT INTO models (identifier, provider_id, provider_resource_id, has_acl, roles, teams, metadata, model_type)
	SELECT 'ls35-bulk-' || lpad(g::text, 4, '0'), 'vllm-short', 'upstream-' || g,
	       g % 10 = 0 OR g % 25 = 5,
	       CASE WHEN g % 25 = 5 THEN ARRAY['ls35-nobody'] END,
	       CASE WHEN g % 10 = 0 THEN ARRAY['ls35-a'] END,
	       CASE WHEN g % 7 = 0 THEN jsonb_build_object('embedding_dimension', 384)
	            WHEN g % 3 = 0 THEN jsonb_build_object('n', g, 'note', E'caf\u00e9 \"q\" \\\\ /\t<' || g || '>')
	            ELSE '{}'::jsonb END,
	       CASE WHEN g % 7 = 0 THEN 'embedding' ELSE 'llm' END
	FROM generate_series(1, $NBULK) AS g" >/dev/null
n=$(psql_q "SELECT count(*) FROM models WHERE identifier LIKE 'ls35-bulk-%'")
expect_eq "$n" "$NBULK" "$NBULK models inserted in bulk with SQL"

req POST /v1/models '{"model_id":"ls35-api-anon","provider_id":"vllm-short","provider_model_id":"up-anon"}'
expect_status 200 "an anonymous caller registers ls35-api-anon (no ACL)"
as "$KA" POST /v1/models '{"model_id":"ls35-api-alice","provider_id":"vllm-short"}'
expect_status 200 "alice registers ls35-api-alice (her team as its ACL)"
expect_jq '.access_attributes.teams | join(",")' ls35-a "…carrying team ls35-a"
as "$KADM" POST /v1/models '{"model_id":"ls35-api-hidden","provider_id":"vllm-short","access_attributes":{"roles":["ls35-nobody"]}}'
expect_status 200 "the admin registers ls35-api-hidden with roles [ls35-nobody]"

# The oracle: every model the caller may see, in registration order (admins: all of them).
expected_ids() { # CALLER-JSON-SQL | admin
	if [[ $1 == admin ]]; then
		psql_q "SELECT coalesce(string_agg(identifier, ',' ORDER BY seq), '') FROM models"
	else
		psql_q "SELECT coalesce(string_agg(identifier, ',' ORDER BY seq), '') FROM models
			WHERE sg_acl_check(has_acl, roles, teams, projects, namespaces, $1)"
	fi
}
native_all() { jq -r '[.data[].identifier] | join(",")' <<<"$BODY" 2>/dev/null; }
openai_all() { jq -r '[.data[].id] | join(",")' <<<"$BODY" 2>/dev/null; }

# Each worker's cache takes the bulk insert's 2,000 notifications: wait until the anonymous
# list agrees with PostgreSQL several times in a row (so both workers have them).
want_anon=$(expected_ids "'{}'::jsonb")
ok=0
for _ in $(seq 150); do
	req GET /v1/models
	if [[ $STATUS == 200 && $(native_all) == "$want_anon" ]]; then ok=$((ok + 1)); else ok=0; fi
	((ok >= 6)) && break
	sleep 0.2
done
((ok >= 6)) && pass "the caches took the bulk insert (the anonymous list agrees with PostgreSQL)" ||
	fail "the caches took the bulk insert" "the anonymous list never matched PostgreSQL"

# check_lists NAME KEY ORACLE: both lists for one caller against PostgreSQL.
check_lists() {
	local name=$1 key=$2 want ids_sql
	want=$(expected_ids "$3")
	as "$key" GET /v1/models
	expect_status 200 "$name: GET /v1/models"
	expect_eq "$(header Content-Type)" "application/json" "$name: …application/json"
	expect_eq "$(header Content-Length)/$(header Transfer-Encoding)" "/chunked" "$name: …streamed (chunked, no Content-Length)"
	jq -e . <<<"$BODY" >/dev/null 2>&1 && pass "$name: …is valid JSON" || fail "$name: …is valid JSON"
	expect_eq "$(native_all)" "$want" "$name: …exactly the visible models, in registration order"
	expect_jq '[.data[] | has("access_attributes")] | any' false "$name: …items without access_attributes"
	expect_jq 'keys_unsorted | join(",")' object,data "$name: …members object, data (both API generations)"
	expect_jq '[.data[] | select(.identifier | startswith("ls35-")) | keys_unsorted | join(",")] | unique | join(" ")' \
		"identifier,provider_resource_id,provider_id,type,metadata,model_type,id,object,created,owned_by,custom_metadata" \
		"$name: …every item's keys in the API's order (April's, then today's)"
	[[ $BODY == '{"object":"list","data":['*']}' && $BODY != *$'\n'* ]] && pass "$name: …compact, as before" ||
		fail "$name: …compact, as before" "starts '${BODY:0:20}', ends '${BODY: -10}'"
	printf '%s' "$BODY" >"$LS/native.$name"

	as "$key" GET /v1/openai/v1/models
	expect_status 200 "$name: GET /v1/openai/v1/models"
	jq -e . <<<"$BODY" >/dev/null 2>&1 && pass "$name: …is valid JSON" || fail "$name: …is valid JSON"
	expect_eq "$(openai_all)" "$want" "$name: …exactly the visible models, in registration order"
	expect_jq 'keys_unsorted | join(",")' object,data "$name: …members object, data"
	expect_jq .object list "$name: …object is list"
	expect_jq '[.data[] | keys_unsorted | join(",")] | unique | join(" ")' id,object,created,owned_by \
		"$name: …entries id, object, created, owned_by"
	expect_jq '[.data[].object] | unique | join(",")' model "$name: …each entry's object is model"
	ids_sql=$(tr ',' '\n' <<<"$want" | grep '^ls35-' | sed "s/.*/'&'/" | paste -sd,)
	expect_eq "$(jq -r '[.data[] | select(.id | startswith("ls35-")) | "\(.id):\(.created):\(.owned_by)"] | join(",")' <<<"$BODY")" \
		"$(psql_q "SELECT string_agg(identifier || ':' || extract(epoch FROM created_at)::bigint || ':' || provider_id, ','
			ORDER BY seq) FROM models WHERE identifier IN ($ids_sql)")" \
		"$name: …created and owned_by from the registry"
	[[ $BODY == '{"object":"list","data":[{"id":'*']}' && $BODY != *$'\n'* ]] && pass "$name: …compact, as before" ||
		fail "$name: …compact, as before" "starts '${BODY:0:30}', ends '${BODY: -10}'"
}
check_lists anonymous "" "'{}'::jsonb"
check_lists alice "$KA" "principal_attributes_json('ls35-alice')"
check_lists admin "$KADM" admin

n_anon=$(jq '[.data[] | select(.identifier | startswith("ls35-"))] | length' "$LS/native.anonymous")
n_alice=$(jq '[.data[] | select(.identifier | startswith("ls35-"))] | length' "$LS/native.alice")
n_admin=$(jq '[.data[] | select(.identifier | startswith("ls35-"))] | length' "$LS/native.admin")
# 2,000 bulk: 200 with team ls35-a, 80 with role ls35-nobody, 40 of them with both: 1,760 public,
# 160 alice's team's alone; API: one public, one alice's, one with the role.
expect_eq "$n_anon $n_alice $n_admin" "1761 1922 2003" "anonymous, alice and admin see 1761, 1922 and 2003 of the ls35 models"
size=$(stat -c %s "$LS/native.admin")
((size > 3 * 65536)) && pass "the admin's list ($size bytes) took several chunks" || fail "list size" "$size bytes"

# Byte for byte: a public item in the list is its single GET without "access_attributes":null.
for id in ls35-bulk-0003 ls35-bulk-0007 ls35-bulk-1999 ls35-api-anon; do
	req GET "/v1/models/$id"
	single=${BODY/\"access_attributes\":null,/}
	if [[ $single != "$BODY" && $(<"$LS/native.anonymous") == *"$single"* ]]; then
		pass "$id in the list is byte for byte its GET minus access_attributes"
	else
		fail "$id in the list is byte for byte its GET minus access_attributes" "single: ${single:0:200}"
	fi
done
req GET /v1/models/ls35-bulk-0010 "" -H "Authorization: Bearer $KA"
single=$(jq -c 'del(.access_attributes)' <<<"$BODY")
expect_eq "$(jq -c '.data[] | select(.identifier == "ls35-bulk-0010")' "$LS/native.alice")" "$single" \
	"an item with an ACL in alice's list is her GET minus access_attributes"

# HEAD: the headers, no body (nginx would drop one anyway; the worker must still answer 200).
hstatus=$(curl -s -o "$LS/head.out" -w '%{http_code}' -I "$SG_URL/v1/models")
[[ $hstatus == 200 ]] && ! grep -q '"data"' "$LS/head.out" && pass "HEAD /v1/models: 200 without a body" ||
	fail "HEAD /v1/models: 200 without a body" "status $hstatus: $(head -c 300 "$LS/head.out")"

# The tools list streams the same way (here: no group of that name).
req GET '/v1/tools?toolgroup_id=ls35-none'
expect_status 200 "GET /v1/tools?toolgroup_id=ls35-none"
expect_eq "$BODY" '{"data":[]}' "…is an empty list"

# A walk that starts without the cache reads PostgreSQL (the unit test binary, case db_walk).
check_bin=${BUILD_DIR:-$(dirname "$SG_BIN")}/check_stackgate
if [[ ! -x $check_bin && -f ${check_bin%/*}/Makefile ]]; then
	make -C "${check_bin%/*}" -s check_stackgate >/dev/null 2>&1
fi
if [[ -x $check_bin ]]; then
	out=$(cd "$SG_TEST_DIR/tmp" && SG_TEST_DATABASE_URL=$STACKGATE_DATABASE_URL CK_RUN_SUITE=registry CK_RUN_CASE=db_walk \
		CK_VERBOSITY=normal "$check_bin" 2>&1); rc=$?
	if ((rc == 0)) && [[ $out == *"100%: Checks: 1, Failures: 0, Errors: 0"* ]]; then
		pass "a walk from PostgreSQL (cache not loaded) equals registry_list, $NBULK+ models"
	else
		REQ_DESC="$check_bin (CK_RUN_CASE=db_walk)"; STATUS=$rc; BODY=$out
		fail "a walk from PostgreSQL (cache not loaded) equals registry_list" "exit $rc"
	fi
else
	fail "a walk from PostgreSQL (cache not loaded) equals registry_list" "no unit-test binary at $check_bin"
fi

# ---- clean up ---------------------------------------------------------------------------------
psql_q "DELETE FROM models WHERE identifier LIKE 'ls35-%'" >/dev/null
psql_q "DELETE FROM principals WHERE name LIKE 'ls35-%'" >/dev/null
left=""
for _ in $(seq 100); do
	req GET /v1/models
	left=$(jq '[.data[] | select(.identifier | startswith("ls35-"))] | length' <<<"$BODY" 2>/dev/null)
	[[ $left == 0 ]] && break
	sleep 0.2
done
expect_eq "$left" 0 "after the clean-up no ls35 model is listed"
