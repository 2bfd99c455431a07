# SPDX-License-Identifier: Apache-2.0
# 41_tenants.sh: tenant isolation on the registry's write paths (issue #10,
# items 4 to 6), with two tenants (alice and carol in team t41-a, bob in team
# t41-b; all three hold role t41-user), an admin and anonymous
# callers (the test config has auth.required false):
#   planting     a caller may give only access_attributes it holds itself;
#                only an admin may give others' or none at all;
#   deleting     only the owner or an admin unregisters (config objects:
#                admin only); visible but not removable is 403, invisible is
#                404; the check and the delete are one transaction (a row
#                whose ACL changes while the delete waits on its lock);
#   leaks        a 409 reads the same whether the object in the way is
#                visible or not and names nothing the caller cannot see;
#   anonymous    registers objects with no ACL and no owner, unregisters only
#                ownerless objects that did not come from the config.
# Every identifier starts with t41.

MCP=$SG_MCP_URL

ids() { jq -r '[.data[].identifier | select(startswith("t41"))] | sort | join(",")' <<<"$BODY" 2>/dev/null; }
model() { # ID [ACL-JSON]: a register body for a model (no upstream check)
	if [[ -n ${2-} ]]; then
		printf '{"model_id":"%s","provider_id":"vllm-short","access_attributes":%s}' "$1" "$2"
	else
		printf '{"model_id":"%s","provider_id":"vllm-short"}' "$1"
	fi
}
owner_of() { psql_q "SELECT coalesce(owner, '<none>') FROM $1 WHERE identifier = '$2'" 2>&1; }
exists() { psql_q "SELECT count(*) FROM $1 WHERE identifier = '$2'" 2>&1; }

psql_q "DELETE FROM principals WHERE name LIKE 't41-%'" >/dev/null
sg_cli principal add t41-alice --team t41-a --role t41-user >/dev/null 2>&1
sg_cli principal add t41-carol --team t41-a --role t41-user >/dev/null 2>&1
sg_cli principal add t41-bob --team t41-b --role t41-user >/dev/null 2>&1
sg_cli principal add t41-admin --role admin --team t41-ops >/dev/null 2>&1
KA=$(sg_cli key create t41-alice 2>/dev/null)
KC=$(sg_cli key create t41-carol 2>/dev/null)
KB=$(sg_cli key create t41-bob 2>/dev/null)
KADM=$(sg_cli key create t41-admin 2>/dev/null)
[[ $KA == sg-* && $KC == sg-* && $KB == sg-* && $KADM == sg-* ]] && pass "principals and keys for the tenants" ||
	fail "principals and keys" "got '$KA' '$KC' '$KB' '$KADM'"

# ---- 4. planting: access_attributes a caller does not hold ---------------------------------------
as "$KB" POST /v1/models "$(model t41-plant '{"teams":["t41-a"]}')"
expect_status 403 "bob cannot register a model for team t41-a only"
expect_jq .error.type permission_error "…a permission error"
expect_jq .error.param access_attributes "…about access_attributes"
expect_jq .error.message "access_attributes.teams may only list the caller's own teams, and 't41-a' is not one of them" \
	"…naming the value bob does not hold"
as "$KA" GET /v1/models
[[ ",$(ids)," != *",t41-plant,"* ]] && pass "nothing planted in alice's list" || fail "nothing planted in alice's list" "$(ids)"
expect_eq "$(exists models t41-plant)" 0 "no planted row"
as "$KB" POST /v1/toolgroups '{"toolgroup_id":"t41::plant","provider_id":"rag-runtime","access_attributes":{"teams":["t41-a"]}}'
expect_status 403 "bob cannot register a tool group for team t41-a only"
expect_eq "$(exists tool_groups t41::plant)" 0 "no planted tool group"
as "$KB" POST /v1/models "$(model t41-plant2 '{"teams":["t41-b","t41-a"]}')"
expect_status 403 "a list with one value bob does not hold is 403"
as "$KB" POST /v1/models "$(model t41-plant3 '{"teams":[]}')"
expect_status 403 "an empty category (visible to nobody but admins) is 403"
expect_jq .error.message "access_attributes.teams must list at least one of the caller's own teams" "…saying it must not be empty"
as "$KB" POST /v1/models "$(model t41-plant4 '{"projects":["p"]}')"
expect_status 403 "a category bob has no values in is 403"
as "$KB" POST /v1/models "$(model t41-plant5 '{}')"
expect_status 403 "an ACL with no category (every caller with attributes sees it) is 403 for bob"
as "$KB" POST /v1/models "$(model t41-plant6 null)"
expect_status 403 "no ACL at all (access_attributes null) is 403 for bob"
expect_jq .error.message "only an admin may register an object without access_attributes (visible to every caller)" \
	"…saying only an admin may"
as "" POST /v1/models "$(model t41-plant7 '{"teams":["t41-a"]}')"
expect_status 403 "an anonymous caller cannot give access_attributes"
expect_eq "$(exists models t41-plant7)" 0 "…and nothing is stored"

as "$KB" POST /v1/models "$(model t41-bob-own '{"teams":["t41-b"]}')"
expect_status 200 "bob may give his own team"
as "$KB" POST /v1/models "$(model t41-bob-shared '{"roles":["t41-user"]}')"
expect_status 200 "bob may give one category of his own (role t41-user)"
as "$KA" GET /v1/models/t41-bob-shared
expect_status 200 "…which alice, holding t41-user, sees"
as "$KB" POST /v1/models "$(model t41-bob-default)"
expect_status 200 "without access_attributes bob's model gets his"
expect_jq '[.access_attributes.roles, .access_attributes.teams] | tojson' '[["t41-user"],["t41-b"]]' "…his roles and teams"
as "$KB" POST /v1/models "$(model t41-bob-default)"
expect_status 200 "bob re-registers it identically (200)"

as "$KADM" POST /v1/models "$(model t41-adm-for-a '{"teams":["t41-a"]}')"
expect_status 200 "an admin may register for team t41-a"
expect_eq "$(owner_of models t41-adm-for-a)" t41-admin "…owned by the admin"
as "$KA" GET /v1/models/t41-adm-for-a
expect_status 200 "…and alice sees it"
as "$KADM" POST /v1/models "$(model t41-adm-public null)"
expect_status 200 "an admin may register with access_attributes null"
expect_jq .access_attributes null "…and the object has no ACL"
as "" GET /v1/models/t41-adm-public
expect_status 200 "…so anonymous callers see it"
as "$KADM" POST /v1/models "$(model t41-adm-default)"
expect_jq '.access_attributes.roles | tojson' '["admin"]' "without access_attributes an admin's model gets the admin's"

# ---- anonymous registrations ---------------------------------------------------------------------
as "" POST /v1/models "$(model t41-anon)"
expect_status 200 "an anonymous caller registers a model"
expect_jq .access_attributes null "…with no ACL"
expect_eq "$(owner_of models t41-anon)" "<none>" "…and no owner"
as "" POST /v1/models "$(model t41-anon null)"
expect_status 200 "…and may say access_attributes null (the same object)"

# ---- 5. deleting what others own -------------------------------------------------------------------
as "$KA" POST /v1/models "$(model t41-a-m)"
expect_status 200 "alice registers t41-a-m"
as "$KC" GET /v1/models/t41-a-m
expect_status 200 "carol (team t41-a) sees alice's model"
as "$KC" DELETE /v1/models/t41-a-m
expect_status 403 "carol, who sees it, may not unregister alice's model"
expect_jq .error.type permission_error "…a permission error"
expect_jq .error.message "Model 't41-a-m' may be unregistered only by its owner or an admin" "…saying who may"
as "$KB" DELETE /v1/models/t41-a-m
expect_status 404 "bob, who cannot see it, gets 404"
expect_jq .error.message "Model 't41-a-m' not found" "…worded as not found"
as "" DELETE /v1/models/t41-a-m
expect_status 404 "anonymous gets 404"
expect_eq "$(exists models t41-a-m)" 1 "alice's model is still there"
as "$KA" DELETE /v1/models/t41-a-m
expect_status 200 "alice unregisters her model"

as_cases <<'CASES'
KA GET /v1/models/t41-anon 200 alice sees the anonymous model
KA DELETE /v1/models/t41-anon 403 …but may not unregister it (she is not its owner)
- DELETE /v1/models/t41-adm-public 403 anonymous may not unregister the admin's public model
- DELETE /v1/models/t41-bob-shared 404 anonymous gets 404 for bob's model
- DELETE /v1/models/t41-anon 200 anonymous unregisters an ownerless model
KADM DELETE /v1/models/t41-bob-shared 200 an admin unregisters bob's model
CASES

# The other types with a DELETE route follow the same rule.
as "$KA" POST /v1/datasets '{"dataset_id":"t41-ds","purpose":"eval/question-answer","source":{"type":"rows","rows":[]},"provider_id":"localfs"}'
expect_status 200 "alice registers a dataset"
as "$KC" DELETE /v1/datasets/t41-ds
expect_status 403 "carol may not unregister alice's dataset"
as "$KA" DELETE /v1/datasets/t41-ds
expect_status 200 "alice unregisters her dataset"
as "$KA" POST /v1/toolgroups "{\"toolgroup_id\":\"t41::a\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=t41a_\"}}"
expect_status 200 "alice registers a tool group"
as "$KC" DELETE /v1/toolgroups/t41::a
expect_status 403 "carol may not unregister alice's tool group"
expect_eq "$(psql_q "SELECT count(*) FROM tools WHERE toolgroup_id = 't41::a'")" 3 "…whose tools stay"

# ---- 6. existence leaks in 409s ---------------------------------------------------------------------
as "$KA" POST /v1/models "$(model t41-taken)"
expect_status 200 "alice registers t41-taken"
as "$KA" POST /v1/models '{"model_id":"t41-taken","provider_id":"vllm-short","metadata":{"other":1}}'
expect_status 409 "alice re-registering it differently is 409"
expect_jq .error.message "Model 't41-taken' already exists" "…with a message that names nothing else"
visible=$BODY
as "$KB" POST /v1/models "$(model t41-taken)"
expect_status 409 "bob registering an id taken by an object he cannot see is 409"
expect_eq "$BODY" "$visible" "…with the same body as for a visible object"
as "$KB" POST /v1/models '{"model_id":"t41-taken","provider_id":"dead"}'
expect_eq "$BODY" "$visible" "…also when his object differs in more than attributes"

as "$KA" POST /v1/toolgroups "{\"toolgroup_id\":\"t41::a\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=t41a_\"},\"args\":{\"x\":1}}"
expect_status 409 "alice re-registering her tool group with other args is 409"
group_visible=$BODY
expect_jq .error.message "Tool group 't41::a' already exists" "…with the generic message"
as "$KB" POST /v1/toolgroups '{"toolgroup_id":"t41::a","provider_id":"rag-runtime"}'
expect_status 409 "bob taking alice's group id with another provider is 409"
expect_eq "$BODY" "$group_visible" "…with the same body as alice's own conflict"
as "$KB" POST /v1/toolgroups "{\"toolgroup_id\":\"t41::b\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=t41a_\"}}"
expect_status 409 "bob's group whose tool names alice's group holds is 409"
[[ $BODY != *"t41::a"* ]] && pass "…and the 409 does not name alice's tool group" || fail "the 409 does not name alice's tool group"
expect_jq .error.message "Tool 't41a_get_weather' already exists" "…it names only bob's own tool"
expect_eq "$(exists tool_groups t41::b)" 0 "bob's clashing group is not stored"

as "$KA" POST /v1/models '{"model_id":"t41-emb","provider_id":"vllm-short","model_type":"embedding","metadata":{"embedding_dimension":8},"access_attributes":{"roles":["t41-user"]}}'
expect_status 200 "alice registers an embedding model bob may use"
as "$KB" POST /v1/vector-dbs '{"vector_db_id":"t41-vdb-b","embedding_model":"t41-emb","embedding_dimension":8}'
expect_status 200 "bob registers a vector DB on it (team t41-b only)"
as "$KA" DELETE /v1/models/t41-emb
expect_status 409 "alice cannot unregister a model in use"
expect_jq .error.message "model 't41-emb' is in use" "…and the 409 does not name bob's vector DB"
as "$KADM" DELETE /v1/models/t41-emb
expect_status 409 "an admin cannot either"
expect_jq .error.message "model 't41-emb' is in use by vector_db 't41-vdb-b'" "…but is told which vector DB uses it"
as "$KB" DELETE /v1/vector-dbs/t41-vdb-b
expect_status 200 "bob unregisters his vector DB"
as "$KA" DELETE /v1/models/t41-emb
expect_status 200 "then alice unregisters her model"

# ---- the check and the delete are one transaction ------------------------------------------------
# While another session holds bob's model row locked and changes its ACL to team t41-a, bob's DELETE
# must wait for the row and judge it as committed (404, kept), not as his earlier view showed it.
as "$KB" POST /v1/models "$(model t41-race '{"teams":["t41-b"]}')"
expect_status 200 "bob registers t41-race"
psql "$STACKGATE_DATABASE_URL" -X -qAt -c "BEGIN; UPDATE models SET teams = '{t41-a}' WHERE identifier = 't41-race';
	SELECT pg_sleep(6); COMMIT;" >/dev/null 2>&1 &
locker=$!
for _ in $(seq 50); do # until the locker holds the row (its UPDATE is done, its sleep runs)
	[[ $(psql_q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; UPDATE models%'
		AND wait_event = 'PgSleep'") == 1 ]] && break
	sleep 0.1
done
curl -s -o "$SG_TEST_DIR/tmp/t41-race.body" -w '%{http_code}' -X DELETE -H "Authorization: Bearer $KB" \
	--max-time 20 "$SG_URL/v1/models/t41-race" >"$SG_TEST_DIR/tmp/t41-race.status" &
deleter=$!
waiting=""
for _ in $(seq 40); do # the delete reaches PostgreSQL and waits for the row
	waiting=$(psql_q "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%models%'")
	[[ -n $waiting ]] && break
	sleep 0.1
done
[[ $waiting == *"FROM models WHERE identifier = \$1 FOR UPDATE"* ]] &&
	pass "the delete path waits on the row lock in a SELECT … FOR UPDATE" ||
	fail "the delete path waits on the row lock in a SELECT … FOR UPDATE" "waiting: ${waiting:0:300}"
wait "$deleter"
wait "$locker"
STATUS=$(cat "$SG_TEST_DIR/tmp/t41-race.status"); BODY=$(cat "$SG_TEST_DIR/tmp/t41-race.body"); REQ_DESC="DELETE t41-race as bob"
expect_status 404 "bob's delete judges the committed row: it is no longer his to see (404)"
expect_eq "$(exists models t41-race)" 1 "…and the row is still there"
as "$KADM" DELETE /v1/models/t41-race
expect_status 200 "the admin removes t41-race"

# ---- objects from the config: admin only ------------------------------------------------------------
as "" POST /v1/models "$(model t41-claimed)"
expect_status 200 "an anonymous caller registers t41-claimed (later also in the config)"
cfg_group="{\"toolgroup_id\":\"t41::cfg\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=t41c_\"},\"access_attributes\":{\"teams\":[\"t41-a\"]}}"
as "$KADM" POST /v1/toolgroups "$cfg_group"
expect_status 200 "the admin registers t41::cfg for team t41-a (later also in the config)"
conf=$SG_TEST_DIR/tmp/t41-config.json
jq --argjson g "$cfg_group" \
	'.models = [{"model_id":"t41-conf-m","provider_id":"vllm-short"},{"model_id":"t41-claimed","provider_id":"vllm-short"}]
	 | .tool_groups = [$g]' "$SG_CONFIG" >"$conf"
if sg_restart_daemon "$conf"; then pass "restart with two config models and a tool group"; else fail "restart with the config"; fi
expect_eq "$(psql_q "SELECT string_agg(identifier || '=' || from_config, ',' ORDER BY identifier) FROM registry
	WHERE identifier IN ('t41-conf-m', 't41-claimed', 't41-bob-own', 't41::cfg', 't41c_echo_text')" 2>&1)" \
	"t41-bob-own=false,t41-claimed=true,t41-conf-m=true,t41::cfg=true,t41c_echo_text=true" \
	"the registry view tells config objects (also those the config claimed, a tool group with an ACL and its tools)"
as "$KA" DELETE /v1/toolgroups/t41::cfg
expect_status 403 "alice, who sees the config's tool group, may not unregister it"
as "" DELETE /v1/models/t41-conf-m
expect_status 403 "anonymous may not unregister a config model"
expect_jq .error.message "Model 't41-conf-m' comes from the configuration: only an admin may unregister it" "…saying why"
as_cases <<'CASES'
- DELETE /v1/models/t41-claimed 403 …nor one the config claimed at start
KB DELETE /v1/models/t41-conf-m 403 bob may not unregister a config model
KADM DELETE /v1/models/t41-conf-m 200 an admin unregisters a config model
KADM DELETE /v1/models/t41-claimed 200 …and the claimed one
KADM DELETE /v1/toolgroups/t41::cfg 200 …and the config's tool group
CASES
sg_restart_daemon || fail "restart with the test config"

# ---- clean up -----------------------------------------------------------------------------------------
as "$KA" DELETE /v1/toolgroups/t41::a
expect_status 200 "alice unregisters her tool group"
for m in t41-bob-own t41-bob-default; do as "$KB" DELETE "/v1/models/$m"; expect_status 200 "bob unregisters $m"; done
for m in t41-adm-for-a t41-adm-public t41-adm-default; do as "$KADM" DELETE "/v1/models/$m"; done
as "$KA" DELETE /v1/models/t41-taken
expect_status 200 "alice unregisters t41-taken"
psql_q "DELETE FROM principals WHERE name LIKE 't41-%'" >/dev/null
