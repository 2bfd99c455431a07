# SPDX-License-Identifier: Apache-2.0
# 32_scoring_builtin.sh: the built-in scoring functions of each configured scoring provider are
# registered at start, as the seed's initialize() does (the test config's scoring provider is
# "basic", of type inline::basic): listed, usable by a benchmark without being registered first,
# owned by no one and visible to all, recorded as the config's, and back at the next start.

psql_q "DELETE FROM principals WHERE name LIKE 's32-%'" >/dev/null
sg_cli principal add s32-alice --team s32-a >/dev/null 2>&1
sg_cli principal add s32-admin --role admin >/dev/null 2>&1
KA=$(sg_cli key create s32-alice 2>/dev/null)
KADM=$(sg_cli key create s32-admin 2>/dev/null)

req GET /v1/scoring-functions
expect_jq '[.data[].identifier | select(startswith("basic::"))] | sort | join(",")' \
	"basic::bfcl,basic::docvqa,basic::equality,basic::ifeval,basic::regex_parser_math_response,basic::regex_parser_multiple_choice_answer,basic::subset_of" \
	"the seven built-in functions of inline::basic are listed"
as "$KA" GET /v1/scoring-functions/basic::equality
expect_status 200 "a tenant sees basic::equality"
expect_jq '[.provider_id, .provider_resource_id, .return_type.type, .params.type, (.params.aggregation_functions | join(","))] | join(" ")' \
	"basic equality number basic accuracy" "…under the configured provider, with the seed's definition"
req GET /v1/scoring-functions/basic::regex_parser_multiple_choice_answer
expect_jq '.params.parsing_regexes | length' 42 "regex_parser_multiple_choice_answer has the seed's 42 regexes"
expect_eq "$(psql_q "SELECT coalesce(owner, '<none>') || ' ' || from_config || ' ' || has_acl FROM scoring_functions WHERE identifier = 'basic::subset_of'")" \
	"<none> true false" "owned by no one, recorded as the config's, without an ACL"

req POST /v1/datasets '{"dataset_id":"s32-ds","purpose":"eval/messages-answer","source":{"type":"uri","uri":"huggingface://datasets/llamastack/simpleqa"}}'
req POST /v1/eval/benchmarks '{"benchmark_id":"s32-bench","dataset_id":"s32-ds","scoring_functions":["basic::subset_of","basic::equality"]}'
expect_status 200 "a benchmark names built-in functions without registering them first"

# DELETE /v1/scoring-functions/{id} (Llama Stack 0.2.22): built-in functions come from the config,
# so only an admin removes one, and it is back at the next start.
req DELETE /v1/scoring-functions/basic::ifeval
expect_status 403 "an anonymous caller may not unregister a built-in scoring function (the config's)"
as "$KADM" DELETE /v1/scoring-functions/basic::ifeval
expect_status 200 "an admin unregisters a built-in scoring function"
req GET /v1/scoring-functions/basic::ifeval
expect_status 404 "…it is gone"
as "$KADM" DELETE /v1/scoring-functions/basic::subset_of
expect_status 409 "one a benchmark names is in use"
expect_body_contains "in use by benchmark 's32-bench'" "…the 409 names the benchmark"
sg_restart_daemon
req GET /v1/scoring-functions/basic::equality
expect_status 200 "…the others are kept across a restart"
req GET /v1/scoring-functions/basic::ifeval
expect_status 200 "one an operator removed with SQL is back after the next start"
if grep -q 'no built-in scoring functions are known' "$SG_RUN/logs/stackgate.log"; then
	fail "inline::basic is a known type (nothing logged as unknown)"
else
	pass "inline::basic is a known type (nothing logged as unknown)"
fi

unk=$SG_TEST_DIR/scoring-unknown.json
jq '.providers.scoring += [{"provider_id":"s32-other","provider_type":"remote::s32-judge","config":{}}]' "$SG_CONFIG" >"$unk"
sg_restart_daemon "$unk"
if grep -q 'scoring provider s32-other: no built-in scoring functions are known for type remote::s32-judge' "$SG_RUN/logs/stackgate.log"; then
	pass "a provider type whose list is unknown registers nothing and says so in the log"
else
	fail "a provider type whose list is unknown is logged"
fi
req GET /v1/scoring-functions
expect_jq '[.data[] | select(.provider_id == "s32-other")] | length' 0 "…nothing is registered for it"
sg_restart_daemon
as "$KADM" DELETE /v1/eval/benchmarks/s32-bench
as "$KADM" DELETE /v1/datasets/s32-ds
