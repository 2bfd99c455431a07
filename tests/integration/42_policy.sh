# SPDX-License-Identifier: Apache-2.0
# 42_policy.sh: the access policy (issue #13) end to end, through nginx:
#   agreement   policy_decide (C) and sg_policy_decide (SQL) on one table of
#               policies × callers × objects × actions (check_policy's
#               sql_agreement case, run against this database);
#   default     the policy in force is in the table access_policy, as
#               check-config --print-policy prints it, and SQL follows
#               auth.admin_roles (no hard-coded role 'admin');
#   issue       the issue's example: everyone reads, only admins create and
#               delete models, owners manage the rest;
#   teams       teams read their own objects, owners update (a conflicting
#               re-registration replaces the object) and delete them, models
#               are for everyone: list, get, call, register, unregister, the
#               OpenAI list and a group's tools, with SQL's sg_can and
#               principal_visible_resources agreeing with the API.
# Every identifier starts with p42.

MCP=$SG_MCP_URL
OA=/v1/openai/v1

ids() { jq -r '[.data[].identifier | select(startswith("p42"))] | sort | join(",")' <<<"$BODY" 2>/dev/null; }
oa_ids() { jq -r '[.data[].id | select(startswith("p42"))] | sort | join(",")' <<<"$BODY" 2>/dev/null; }
view_ids() { # PRINCIPAL TYPE
	psql_q "SELECT coalesce(string_agg(identifier, ',' ORDER BY identifier), '') FROM principal_visible_resources
		WHERE principal = '$1' AND type = '$2' AND identifier LIKE 'p42%'" 2>&1
}
can() { psql_q "SELECT sg_can($1, '$2', '$3', '$4')" 2>&1; } # PRINCIPAL-SQL ACTION TYPE ID
model() { printf '{"model_id":"%s","provider_id":"vllm-short"%s}' "$1" "${2:+,$2}"; }
dataset() { printf '{"dataset_id":"%s","purpose":"eval/question-answer","source":{"type":"rows","rows":[]},"provider_id":"localfs"%s}' "$1" "${2:+,$2}"; }
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"hi"}]}' "$1"; }
with_policy() { # FILE POLICY-JSON: the test config with that access_policy (and optional jq filter $3)
	jq --argjson p "$2" ".access_policy = \$p ${3:+| $3}" "$SG_CONFIG" >"$1"
}

psql_q "DELETE FROM principals WHERE name LIKE 'p42-%'" >/dev/null
sg_cli principal add p42-alice --team p42-a >/dev/null 2>&1
sg_cli principal add p42-carol --team p42-a >/dev/null 2>&1
sg_cli principal add p42-bob --team p42-b >/dev/null 2>&1
sg_cli principal add p42-admin --role admin >/dev/null 2>&1
sg_cli principal add p42-ops --role p42-ops >/dev/null 2>&1
KA=$(sg_cli key create p42-alice 2>/dev/null)
KC=$(sg_cli key create p42-carol 2>/dev/null)
KB=$(sg_cli key create p42-bob 2>/dev/null)
KADM=$(sg_cli key create p42-admin 2>/dev/null)
KOPS=$(sg_cli key create p42-ops 2>/dev/null)
[[ $KA == sg-* && $KC == sg-* && $KB == sg-* && $KADM == sg-* && $KOPS == sg-* ]] &&
	pass "principals and keys for the policy tests" || fail "principals and keys" "got '$KA' '$KC' '$KB' '$KADM' '$KOPS'"

# ---- C and SQL decide alike ------------------------------------------------------------------------
unit_case policy sql_agreement "policy_decide (C) and sg_policy_decide (SQL) agree on policies × callers × objects × actions"

# ---- the default policy ---------------------------------------------------------------------------
printed=$("$SG_BIN" check-config --print-policy "$SG_CONFIG" 2>&1)
expect_eq "$(jq -c 'map(.description) | .[0]' <<<"$printed" 2>&1)" '"admins read every object"' \
	"check-config --print-policy prints the default policy of the test config"
expect_eq "$(psql_q "SELECT rules FROM access_policy" 2>&1 | jq -cS . 2>&1)" "$(jq -cS . <<<"$printed")" \
	"the table access_policy holds the policy in force"
expect_eq "$(psql_q "SELECT is_default || ' ' || admin_roles::text FROM access_policy" 2>&1)" "true {admin}" \
	"…marked as the default, with the admin roles"

bad=$SG_TEST_DIR/tmp/p42-bad.json
with_policy "$bad" '[{"permit":{"actions":["read","list"]}}]'
out=$("$SG_BIN" check-config "$bad" 2>&1); rc=$?
expect_eq "$rc" 1 "check-config refuses an unknown action (exit 1)"
[[ $out =~ p42-bad\.json:[0-9]+:[0-9]+:\ access_policy\[0\]\.permit\.actions\[1\]:\ must\ be\ one\ of\ create,\ read,\ update,\ delete,\ got\ \"list\" ]] &&
	pass "…at FILE:LINE:COL, saying what it expected" || fail "check-config names the bad action with its position" "$out"

as "$KA" POST /v1/models "$(model p42-a-m)"
expect_status 200 "alice registers p42-a-m (team p42-a)"
as "$KADM" POST /v1/models "$(model p42-adm-m)"
expect_status 200 "the admin registers p42-adm-m (role admin)"
expect_eq "$(view_ids p42-admin model)" "p42-a-m,p42-adm-m" "the view: role admin sees everything under admin_roles [admin]"
expect_eq "$(can "'p42-bob'" read model p42-a-m)" f "sg_can: bob may not read alice's model"
expect_eq "$(can "'p42-alice'" delete model p42-a-m)" t "sg_can: alice may delete her model"
expect_eq "$(can "'p42-carol'" delete model p42-a-m)" f "sg_can: carol, who reads it, may not delete it"
expect_eq "$(can NULL read model p42-a-m)" f "sg_can: an anonymous caller may not read it"

conf=$SG_TEST_DIR/tmp/p42-ops.json
jq '.auth.admin_roles = ["p42-ops"]' "$SG_CONFIG" >"$conf"
if sg_restart_daemon "$conf"; then pass "restart with auth.admin_roles [p42-ops]"; else fail "restart with admin_roles"; fi
expect_eq "$(psql_q "SELECT admin_roles FROM access_policy" 2>&1)" "{p42-ops}" "the table follows the new admin roles"
as "$KOPS" GET /v1/models/p42-a-m
expect_status 200 "the API: role p42-ops is now an admin"
as "$KADM" GET /v1/models/p42-a-m
expect_status 404 "…and role admin is not"
expect_eq "$(view_ids p42-ops model)" "p42-a-m,p42-adm-m" "the view agrees: p42-ops sees everything"
expect_eq "$(view_ids p42-admin model)" "p42-adm-m" "…and role admin sees only what its attributes admit"

# ---- the issue's example -------------------------------------------------------------------------------
issue='[
  { "permit": { "actions": ["read"] }, "description": "everyone reads" },
  { "forbid": { "actions": ["create", "delete"], "resource": "model::*" },
    "unless": "user with admin in roles", "description": "only admins manage models" },
  { "permit": { "actions": ["create", "read", "delete"] }, "when": "user is owner" },
  { "permit": { "principal": "ci-bot", "actions": ["create"], "resource": "benchmark::*" } }
]'
conf=$SG_TEST_DIR/tmp/p42-issue.json
with_policy "$conf" "$issue"
if sg_restart_daemon "$conf"; then pass "restart with the issue's access_policy"; else fail "restart with the issue's policy"; fi
expect_eq "$("$SG_BIN" check-config --print-policy "$conf" 2>&1 | jq -c '.[1]')" \
	'{"forbid":{"actions":["create","delete"],"resource":"model::*"},"unless":["user with admin in roles"],"description":"only admins manage models"}' \
	"--print-policy prints the configured rules"
expect_eq "$(psql_q "SELECT jsonb_array_length(rules) || ' ' || is_default FROM access_policy" 2>&1)" "4 false" \
	"the table holds the configured policy"
as "" GET /v1/models/p42-a-m
expect_status 200 "everyone reads: an anonymous caller gets alice's team model"
as "$KB" GET /v1/models
expect_eq "$(ids)" "p42-a-m,p42-adm-m" "…bob lists both models"
as "$KB" GET $OA/models
expect_eq "$(oa_ids)" "p42-a-m,p42-adm-m" "…and the OpenAI list shows them"
as "$KB" POST $OA/chat/completions "$(chat p42-a-m)"
expect_status 200 "…and bob calls alice's model"
as "$KA" POST /v1/models "$(model p42-new-m)"
expect_status 403 "alice may not register a model"
expect_jq .error.message "the access policy does not permit creating Model 'p42-new-m'" "…the 403 says the policy refused"
expect_eq "$(psql_q "SELECT count(*) FROM models WHERE identifier = 'p42-new-m'")" 0 "…and nothing is stored"
as "$KA" DELETE /v1/models/p42-a-m
expect_status 403 "alice may not unregister even her own model (she reads it: 403)"
expect_jq .error.message "the access policy does not permit deleting Model 'p42-a-m'" "…saying the policy refused"
as "$KADM" POST /v1/models "$(model p42-adm-m2)"
expect_status 200 "an admin registers a model"
as "$KADM" DELETE /v1/models/p42-adm-m2
expect_status 200 "…and unregisters it"
# The cache still lists a model whose row is gone (deleted without its notification): the create check
# cannot be skipped because the object seemed to exist.
as "$KADM" POST /v1/models "$(model p42-ghost)"
expect_status 200 "an admin registers p42-ghost"
psql_q "SET session_replication_role = replica; DELETE FROM models WHERE identifier = 'p42-ghost'" >/dev/null 2>&1
expect_eq "$(psql_q "SELECT count(*) FROM models WHERE identifier = 'p42-ghost'")" 0 \
	"its row is deleted behind the cache's back (no notification)"
as "$KA" POST /v1/models "$(model p42-ghost)"
expect_status 403 "alice registering it is still a create the policy refuses"
expect_eq "$(psql_q "SELECT count(*) FROM models WHERE identifier = 'p42-ghost'")" 0 "…and no row of hers remains"
as "$KADM" DELETE /v1/models/p42-ghost

as "$KA" POST /v1/datasets "$(dataset p42-ds)"
expect_status 200 "alice registers a dataset (its owner may create it)"
as "$KB" DELETE /v1/datasets/p42-ds
expect_status 403 "bob, who reads it, may not unregister alice's dataset"
expect_eq "$(can "'p42-bob'" delete dataset p42-ds)" f "sg_can agrees for bob"
expect_eq "$(can "'p42-alice'" delete dataset p42-ds)" t "…and for alice"
expect_eq "$(can "'p42-bob'" read dataset p42-ds)" t "…and that bob reads it"
as "$KA" POST /v1/datasets "$(dataset p42-ds '"metadata":{"v":2}')"
expect_status 409 "no rule grants update: a conflicting re-registration stays 409"
as "$KA" DELETE /v1/datasets/p42-ds
expect_status 200 "alice unregisters her dataset"

# ---- teams read their own, owners update and delete, models for everyone ----------------------------------
teams='[
  { "permit": { "actions": ["create", "read", "update", "delete"] }, "when": "user with admin in roles" },
  { "permit": { "actions": ["read"], "resource": "model::*" } },
  { "permit": { "actions": ["create", "read", "update", "delete"] }, "when": "user is owner" },
  { "permit": { "actions": ["read"] }, "when": ["user in owners teams"] }
]'
conf=$SG_TEST_DIR/tmp/p42-teams.json
with_policy "$conf" "$teams"
if sg_restart_daemon "$conf"; then pass "restart with the teams policy"; else fail "restart with the teams policy"; fi
as "$KB" POST $OA/chat/completions "$(chat p42-a-m)"
expect_status 200 "models are for everyone: bob calls alice's team model"
as "$KA" POST /v1/datasets "$(dataset p42-tds '"metadata":{"v":1}')"
expect_status 200 "alice registers p42-tds (team p42-a)"
as "$KC" GET /v1/datasets/p42-tds
expect_status 200 "carol (team p42-a) reads it"
as "$KB" GET /v1/datasets/p42-tds
expect_status 404 "bob (team p42-b) gets 404"
for who in alice carol bob; do
	key=$(eval echo "\$K$(tr a-z A-Z <<<"${who:0:1}")")
	as "$key" GET /v1/datasets
	api=$(ids)
	expect_eq "$(view_ids "p42-$who" dataset)" "$api" "principal_visible_resources agrees with the API list for $who"
done
as "$KB" GET /v1/datasets
expect_eq "$(ids)" "" "…bob's list does not show what his get refuses"
as "$KB" DELETE /v1/datasets/p42-tds
expect_status 404 "bob, who cannot read it, gets 404 on delete"
as "$KC" DELETE /v1/datasets/p42-tds
expect_status 403 "carol, who reads it, gets 403 on delete"
as "$KC" POST /v1/datasets "$(dataset p42-tds '"metadata":{"v":"carol"}')"
expect_status 409 "carol may not update it: a conflicting re-registration is 409"
expect_eq "$(psql_q "SELECT metadata->>'v' FROM datasets WHERE identifier = 'p42-tds'")" 1 "…and the object is untouched"
as "$KA" POST /v1/datasets "$(dataset p42-tds '"metadata":{"v":2}')"
expect_status 200 "alice may update: her conflicting re-registration replaces it"
expect_jq .metadata.v 2 "…the answer is the new object"
expect_eq "$(psql_q "SELECT metadata->>'v' || ' ' || owner FROM datasets WHERE identifier = 'p42-tds'")" "2 p42-alice" \
	"…stored, with its owner unchanged"
as "$KC" GET /v1/datasets/p42-tds
expect_jq .metadata.v 2 "…and other callers read the new version"
expect_eq "$(can "'p42-alice'" update dataset p42-tds)" t "sg_can: alice may update it"
expect_eq "$(can "'p42-carol'" update dataset p42-tds)" f "sg_can: carol may not"
expect_eq "$(can "'p42-carol'" read dataset p42-tds)" t "sg_can: carol reads it"
expect_eq "$(can "'p42-bob'" read dataset p42-tds)" f "sg_can: bob does not"
as "" GET /v1/datasets/p42-tds
expect_status 404 "an anonymous caller gets 404"

as "$KA" POST /v1/toolgroups "{\"toolgroup_id\":\"p42::g\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=p42_\"}}"
expect_status 200 "alice registers a tool group"
as "$KC" GET '/v1/tools?toolgroup_id=p42::g'
expect_jq '.data | length' 3 "carol lists the group's tools"
as "$KB" GET '/v1/tools?toolgroup_id=p42::g'
expect_jq '.data | length' 0 "bob lists none of them"
as "$KB" GET /v1/toolgroups/p42::g
expect_status 404 "…and gets 404 for the group"
expect_eq "$(view_ids p42-bob tool)" "" "the view shows bob no tools"
expect_eq "$(view_ids p42-carol tool | tr ',' '\n' | grep -c p42_)" 3 "…and carol the three"
as "$KC" DELETE /v1/toolgroups/p42::g
expect_status 403 "carol may not unregister alice's group"
as "$KA" DELETE /v1/toolgroups/p42::g
expect_status 200 "alice unregisters it"
# The other types: alice creates, carol (her team) reads, bob neither sees nor lists; the references
# (embedding model, dataset, scoring function) are read decisions too.
as "$KA" POST /v1/models '{"model_id":"p42-emb","provider_id":"vllm","provider_model_id":"test-embed","model_type":"embedding","metadata":{"embedding_dimension":8}}'
expect_status 200 "alice registers an embedding model"
as "$KB" POST $OA/embeddings '{"model":"p42-emb","input":["a"]}'
expect_status 200 "models are for everyone: bob calls alice's embedding model"
as "$KA" POST /v1/datasets "$(dataset p42-bds)"
expect_status 200 "alice registers a dataset for a benchmark"
for spec in \
	"shields|shield|{\"shield_id\":\"p42-sh\"}|p42-sh" \
	"vector-dbs|vector_db|{\"vector_db_id\":\"p42-vdb\",\"embedding_model\":\"p42-emb\",\"embedding_dimension\":8}|p42-vdb" \
	"scoring-functions|scoring_function|{\"scoring_fn_id\":\"p42-sf\",\"description\":\"d\",\"return_type\":{\"type\":\"number\"}}|p42-sf" \
	"eval/benchmarks|benchmark|{\"benchmark_id\":\"p42-bm\",\"dataset_id\":\"p42-bds\",\"scoring_functions\":[\"p42-sf\"]}|p42-bm"; do
	IFS='|' read -r route type body id <<<"$spec"
	as "$KA" POST "/v1/$route" "$body"
	expect_status 200 "$type: alice registers $id"
	as "$KC" GET "/v1/$route/$id"
	expect_status 200 "$type: carol reads it"
	as "$KB" GET "/v1/$route/$id"
	expect_status 404 "$type: bob gets 404"
	as "$KB" GET "/v1/$route"
	expect_eq "$(ids)" "" "$type: bob's list does not show it"
	as "$KC" GET "/v1/$route"
	expect_eq "$(ids)" "$id" "$type: carol's list does"
	expect_eq "$(view_ids p42-carol "$type"),$(view_ids p42-bob "$type")" "$id," "$type: the view agrees for carol and bob"
done
as "$KB" POST /v1/eval/benchmarks '{"benchmark_id":"p42-bm2","dataset_id":"p42-bds","scoring_functions":["p42-sf"]}'
expect_status 400 "bob cannot refer to a dataset he cannot read"
expect_jq .error.message "dataset_id: Dataset 'p42-bds' not found" "…it is not found for him"
as "$KC" DELETE /v1/vector-dbs/p42-vdb
expect_status 403 "carol may not unregister alice's vector DB"
as "$KB" DELETE /v1/vector-dbs/p42-vdb
expect_status 404 "bob gets 404"
as "$KA" DELETE /v1/vector-dbs/p42-vdb
expect_status 200 "alice unregisters her vector DB"
as "$KA" DELETE /v1/models/p42-emb
expect_status 200 "…and her embedding model"
psql_q "DELETE FROM benchmarks WHERE identifier LIKE 'p42%'; DELETE FROM scoring_functions WHERE identifier LIKE 'p42%';
	DELETE FROM shields WHERE identifier LIKE 'p42%'" >/dev/null
as "$KA" DELETE /v1/datasets/p42-bds
expect_status 200 "alice unregisters the benchmark's dataset"

as "$KA" DELETE /v1/datasets/p42-tds
expect_status 200 "alice unregisters p42-tds"

# ---- a caller who may neither create nor read: taken and free identifiers look alike --------------------------
only_alice='[
  { "permit": { "principal": "p42-alice", "actions": ["create", "read", "delete"] } }
]'
conf=$SG_TEST_DIR/tmp/p42-only-alice.json
with_policy "$conf" "$only_alice"
if sg_restart_daemon "$conf"; then pass "restart with a policy that permits alice alone"; else fail "restart with the only-alice policy"; fi
as "$KA" POST /v1/datasets "$(dataset p42-hid)"
expect_status 200 "alice registers p42-hid"
as "$KB" POST /v1/datasets "$(dataset p42-hid)"
expect_status 403 "bob, who may not create, registering alice's hidden p42-hid gets 403 (not 409: it looks free)"
expect_jq .error.message "the access policy does not permit creating Dataset 'p42-hid'" "…with the message a free identifier gets"
as "$KB" POST /v1/datasets "$(dataset p42-free)"
expect_status 403 "…as for p42-free, which is free"
expect_jq .error.message "the access policy does not permit creating Dataset 'p42-free'" "…word for word"
as "$KA" DELETE /v1/datasets/p42-hid
expect_status 200 "alice unregisters p42-hid"

# ---- back to the test config; clean up -----------------------------------------------------------------------
sg_restart_daemon || fail "restart with the test config"
expect_eq "$(psql_q "SELECT is_default FROM access_policy" 2>&1)" t "the default policy is back in the table"
as "$KA" DELETE /v1/models/p42-a-m
expect_status 200 "alice unregisters p42-a-m under the default policy"
as "$KADM" DELETE /v1/models/p42-adm-m
expect_status 200 "the admin unregisters p42-adm-m"
psql_q "DELETE FROM principals WHERE name LIKE 'p42-%'" >/dev/null
