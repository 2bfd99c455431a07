# SPDX-License-Identifier: Apache-2.0
# 49_routing.sh: several deployments per model, retries, fallbacks and
# cooldowns (issue #17, router.h), against fault-injecting deployments:
# the provider "dead" (port 9: refused), the test upstream's models that
# hang, cut a stream, answer 429 with Retry-After, 500 or 400, and its
# per-model request counts (GET /_stats by_model), which show what each
# deployment received.
#
# The stack runs with a routing config made here (jq on the test config): a
# provider "fbt" (first_byte_timeout 1 s), a second live provider "live2"
# (same upstream), and a 2 s cooldown, so a cooldown is seen to lift.  The
# test config is restored at the end.  Every identifier starts with rt-.

UP=$SG_UPSTREAM_URL
OA=/v1/openai/v1

RT_CONF=$SG_TEST_DIR/tmp/routing.json
jq --arg up "$SG_UPSTREAM_URL/v1" '.router = {max_retries: 2, cooldown_failures: 3, cooldown_window: 30, cooldown: 2}
	| .providers.inference += [
		{provider_id: "fbt", provider_type: "remote::vllm",
		 config: {url: $up, first_byte_timeout: 1, check_model_on_register: false}},
		{provider_id: "live2", provider_type: "remote::vllm", config: {url: $up}}]
	| .models += [{model_id: "rt-conf", routing: "ordered",
		deployments: [{provider_id: "dead", provider_model_id: "conf-x"}, {provider_id: "live2", provider_model_id: "test-llm"}]}]' \
	"$SG_CONFIG" >"$RT_CONF"
psql_q "DELETE FROM models WHERE identifier LIKE 'rt-%'" >/dev/null
sg_restart_daemon "$RT_CONF" && pass "restart with the routing config" || fail "restart (routing config)"
KA=$(sg_principal_key rt-alice --team rt-t)
KB=$(sg_principal_key rt-bob --team rt-t --role rt-secret)
KADM=$(sg_principal_key rt-admin --role admin)
[[ $KA == sg-* && $KB == sg-* && $KADM == sg-* ]] && pass "principals and keys" || fail "principals" "got '$KA' '$KB' '$KADM'"

# count MODEL: inference requests the test upstream received for MODEL so far.
count() { curl -s "$UP/_stats" | jq --arg m "$1" '.by_model[$m] // 0'; }
chat() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$1" "${2:-hi}" "${3-}"; }
register() { # BODY [KEY]: POST /v1/models as KEY (admin by default)
	as "${2-$KADM}" POST /v1/models "$1"
}

echo "-- registration: deployments, routing, fallbacks"
register '{"model_id":"rt-dl","routing":"ordered","access_attributes":null,
	"deployments":[{"provider_id":"dead","provider_model_id":"test-llm"},{"provider_id":"vllm","provider_model_id":"test-llm"}]}'
expect_status 200 "register a model with a dead and a live deployment"
expect_jq '[.provider_id, .provider_resource_id, .routing] | join(" ")' "dead test-llm ordered" \
	"provider_id and provider_resource_id are the first deployment's"
expect_jq '.deployments | length' 2 "the admin who registered it sees both deployments"
req GET /v1/models/rt-dl
expect_jq '[has("deployments"), has("fallbacks"), .routing] | tojson' '[false,false,"ordered"]' \
	"another caller sees the routing but not the deployment list"
req GET /v1/models
expect_jq '[.data[] | select(.identifier == "rt-dl") | has("deployments")] | tojson' '[false]' "nor in the list"
as "$KADM" GET /v1/models
expect_jq '[.data[] | select(.identifier == "rt-dl") | .deployments | length] | tojson' '[2]' "an admin's list has them"
expect_eq "$(psql_q "SELECT string_agg(position || ':' || provider_id || '/' || provider_model_id || '*' || weight, ' '
	ORDER BY position) FROM model_deployments WHERE model_id = 'rt-dl'")" "1:dead/test-llm*1 2:vllm/test-llm*1" \
	"model_deployments holds one row per deployment, in order"
register '{"model_id":"rt-unserved","deployments":[{"provider_id":"vllm","provider_model_id":"test-llm"},
	{"provider_id":"vllm","provider_model_id":"no-such-model"}]}'
expect_status 400 "a deployment its upstream does not serve is refused"
expect_jq '.error.param // .detail.param // empty' "deployments[1].provider_model_id" "...naming that deployment"
register '{"model_id":"rt-bad","deployments":[{"provider_id":"nope"}]}'
expect_status 400 "a deployment on a provider that is not configured is refused"

echo "-- registration: fallbacks must be readable by the registering caller, and acyclic"
register '{"model_id":"rt-secret","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":{"roles":["rt-secret"]}}'
expect_status 200 "register rt-secret (role rt-secret only)"
register '{"model_id":"rt-a1","provider_id":"vllm","provider_model_id":"test-llm","fallbacks":["rt-missing"]}' "$KA"
expect_status 400 "a fallback that does not exist is a 400"
missing_msg=$BODY
register '{"model_id":"rt-a1","provider_id":"vllm","provider_model_id":"test-llm","fallbacks":["rt-secret"]}' "$KA"
expect_status 400 "a fallback the caller cannot read is a 400"
expect_eq "$(sed 's/rt-secret/rt-missing/g' <<<"$BODY")" "$missing_msg" "...the same 400 as a missing model"
register '{"model_id":"rt-c1","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":null}'
register '{"model_id":"rt-c2","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":null,"fallbacks":["rt-c1"]}'
expect_status 200 "rt-c2 falls back to rt-c1"
register '{"model_id":"rt-c1","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":null,"fallbacks":["rt-c2"]}'
expect_status 400 "rt-c1 falling back to rt-c2 would be a cycle: refused"
expect_body_contains "a cycle" "...and the message says so"

as "$KADM" GET /v1/models/rt-conf
expect_jq '[.provider_id, (.deployments | length), .routing] | join(" ")' "dead 2 ordered" \
	"a config model's deployments and routing are registered at start"
req POST $OA/chat/completions "$(chat rt-conf)"
expect_eq "$STATUS:$(header X-Stackgate-Provider):$(header X-Stackgate-Attempts)" "200:live2:2" "...and used"

echo "-- one dead and one live deployment answers every call"
before=$(count test-llm)
ok=0
for i in $(seq 12); do
	req POST $OA/chat/completions "$(chat rt-dl "call $i")"
	[[ $STATUS == 200 && $(jq -r .model <<<"$BODY") == rt-dl && $(header X-Stackgate-Provider) == vllm ]] && ok=$((ok + 1))
	[[ $i == 1 ]] && first_attempts=$(header X-Stackgate-Attempts)
done
expect_eq "$ok" 12 "12 calls, 12 answers from the live deployment, each naming the model asked for"
expect_eq "$first_attempts" 2 "the first took 2 attempts (X-Stackgate-Attempts)"
expect_eq "$(($(count test-llm) - before))" 12 "the live upstream received each request exactly once"

echo "-- cooldown: 3 failures in the window, skipped, then tried again"
register '{"model_id":"rt-cool","routing":"ordered","access_attributes":null,
	"deployments":[{"provider_id":"dead","provider_model_id":"cool-x"},{"provider_id":"vllm","provider_model_id":"test-llm"}]}'
expect_status 200 "register rt-cool (dead first, ordered)"
seen=""
for i in 1 2 3 4; do
	req POST $OA/chat/completions "$(chat rt-cool)"
	seen+="$STATUS:$(header X-Stackgate-Attempts) "
done
expect_eq "$seen" "200:2 200:2 200:2 200: " "three calls try the dead one first; the fourth skips it (cooling down)"
lifted() { req POST $OA/chat/completions "$(chat rt-cool)" && [[ $STATUS == 200 && $(header X-Stackgate-Attempts) == 2 ]]; }
poll 10 lifted && pass "after the cooldown (2 s here) the dead deployment is tried again" || fail "cooldown lifts" "attempts '$(header X-Stackgate-Attempts)'"

echo "-- weights over 2000 calls"
register '{"model_id":"rt-w","access_attributes":null,"deployments":[
	{"provider_id":"vllm","provider_model_id":"test-llm","weight":3},{"provider_id":"live2","provider_model_id":"test-llm-2","weight":1}]}'
expect_status 200 "register rt-w (weights 3 and 1)"
a0=$(count test-llm) b0=$(count test-llm-2)
mkdir -p "$SG_TEST_DIR/tmp/rt-w"
chat rt-w >"$SG_TEST_DIR/tmp/rt-w.json"
codes=$(curl -s --parallel --parallel-max 8 -H 'Content-Type: application/json' --data-binary "@$SG_TEST_DIR/tmp/rt-w.json" \
	-o "$SG_TEST_DIR/tmp/rt-w/#1" -w '%{http_code}\n' "$SG_URL$OA/chat/completions?n=[1-2000]" | sort | uniq -c | awk '{print $2 "x" $1}')
rm -rf "$SG_TEST_DIR/tmp/rt-w"
expect_eq "$codes" "200x2000" "2000 calls, all 200"
a=$(($(count test-llm) - a0)) b=$(($(count test-llm-2) - b0))
expect_eq "$((a + b))" 2000 "the upstream received 2000 requests in all"
share=$(awk -v a="$a" 'BEGIN { s = a / 2000; print (s > 0.71 && s < 0.79) ? "ok" : s }')
expect_eq "$share" ok "the weight-3 deployment served 75% within 4 points ($a of 2000)"

echo "-- least-busy: the deployment with fewer requests in flight on the host"
register '{"model_id":"rt-lb","routing":"least-busy","access_attributes":null,"deployments":[
	{"provider_id":"vllm","provider_model_id":"slow-3000"},{"provider_id":"live2","provider_model_id":"test-llm"}]}'
expect_status 200 "register rt-lb (least-busy)"
s0=$(count slow-3000)
curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary "$(chat rt-lb)" "$SG_URL$OA/chat/completions" &
lb_pid=$!
slow_in_flight() { (($(count slow-3000) > s0)); }
poll 10 slow_in_flight && pass "the first call, with both idle, went to the first deployment" ||
	fail "least-busy first call" "slow-3000 received nothing"
req POST $OA/chat/completions "$(chat rt-lb)"
expect_eq "$STATUS:$(header X-Stackgate-Provider)" "200:live2" "while it is in flight the next call goes to the other one"
wait "$lb_pid"

echo "-- retries: 429 with Retry-After, 500, and not 400"
register '{"model_id":"rt-429","provider_id":"vllm","provider_model_id":"retry-after-1","access_attributes":null}'
n0=$(count retry-after-1)
req POST $OA/chat/completions "$(chat rt-429)"
expect_eq "$STATUS:$(header X-Stackgate-Attempts)" "429:3" "429 is retried twice (router.max_retries) and then relayed"
expect_eq "$(($(count retry-after-1) - n0))" 3 "the upstream received 3 requests, one per attempt"
sg_principal_key rt-carol >/dev/null
KC=$(sg_cli key create rt-carol 2>/dev/null)
sg_cli limit set rt-carol --rpm 20 >/dev/null 2>&1
limited() { as "$KC" POST $OA/chat/completions "$(chat rt-429)" && [[ $(header x-ratelimit-limit-requests) == 20 ]]; }
poll 10 limited && pass "rt-carol has an rpm of 20" || fail "rpm for rt-carol" "status $STATUS"
(($(date +%S) > 45)) && sleep $((61 - 10#$(date +%S))) # the next two in the same minute
as "$KC" POST $OA/chat/completions "$(chat rt-429)"
r1=$(header x-ratelimit-remaining-requests) a1=$(header X-Stackgate-Attempts)
as "$KC" POST $OA/chat/completions "$(chat rt-429)"
r2=$(header x-ratelimit-remaining-requests)
expect_eq "$a1:$((r1 - r2))" "3:1" "a request of 3 attempts takes one rpm unit"
register '{"model_id":"rt-500","provider_id":"vllm","provider_model_id":"err-500","access_attributes":null}'
n0=$(count err-500)
req POST $OA/chat/completions "$(chat rt-500)"
expect_eq "$STATUS:$(header X-Stackgate-Attempts)" "502:3" "500 is retried, then a 502"
expect_eq "$(($(count err-500) - n0))" 3 "3 requests upstream"
register '{"model_id":"rt-400","routing":"ordered","access_attributes":null,"deployments":[
	{"provider_id":"vllm","provider_model_id":"err-400"},{"provider_id":"vllm","provider_model_id":"test-llm"}]}'
n0=$(count err-400) m0=$(count test-llm)
req POST $OA/chat/completions "$(chat rt-400)"
expect_eq "$STATUS:$(header X-Stackgate-Attempts)" "400:" "a 400 is the answer at once, with another deployment there"
expect_eq "$(($(count err-400) - n0)):$(($(count test-llm) - m0))" "1:0" "one request, to the first deployment only"

echo "-- first-byte timeout, then another deployment"
register '{"model_id":"rt-fbt","routing":"ordered","access_attributes":null,"deployments":[
	{"provider_id":"fbt","provider_model_id":"hang"},{"provider_id":"vllm","provider_model_id":"test-llm"}]}'
req POST $OA/chat/completions "$(chat rt-fbt)"
expect_eq "$STATUS:$(header X-Stackgate-Attempts):$(header X-Stackgate-Provider)" "200:2:vllm" \
	"a deployment silent past first_byte_timeout (1 s) is left for the next"
sse $OA/chat/completions "$(chat rt-fbt hi ',"stream":true')"
expect_eq "$SSE_STATUS:$(grep -ci '^x-stackgate-attempts: 2' "$SSE_HDRS")" "200:1" "the same for a stream before its first byte"
# (fbt/hang has failed twice: the next failure cools it down, and a lone deployment is tried anyway.)
register '{"model_id":"rt-fbt1","provider_id":"fbt","provider_model_id":"hang","access_attributes":null}'
req POST $OA/chat/completions "$(chat rt-fbt1)"
expect_eq "$STATUS:$(header X-Stackgate-Attempts):$(jq -r .error.message <<<"$BODY")" \
	"504:3:upstream fbt timed out: no answer within the first-byte timeout" "alone, it is a 504 after 3 attempts that says why"

echo "-- a stream cut after its first byte is never retried"
register '{"model_id":"rt-cut","routing":"ordered","access_attributes":null,"deployments":[
	{"provider_id":"vllm","provider_model_id":"cut"},{"provider_id":"vllm","provider_model_id":"test-llm"}]}'
c0=$(count cut) m0=$(count test-llm)
sse $OA/chat/completions "$(chat rt-cut hi ',"stream":true')"
expect_eq "$SSE_STATUS" 200 "the stream began"
[[ $(sse_json | tail -1 | jq -r '.error.message // empty') == *closed* ]] && pass "it ends with an error event" ||
	fail "cut stream error event" "last event: $(sse_json | tail -1)"
expect_eq "$(($(count cut) - c0)):$(($(count test-llm) - m0))" "1:0" "one request upstream, none to the other deployment"

echo "-- fallbacks follow the caller's rights"
register '{"model_id":"rt-pub","provider_id":"dead","provider_model_id":"pub-x","access_attributes":null,"fallbacks":["rt-secret"]}'
expect_status 200 "rt-pub (dead) falls back to rt-secret (role rt-secret)"
m0=$(count test-llm)
as "$KA" POST $OA/chat/completions "$(chat rt-pub)"
expect_eq "$STATUS" 502 "alice may not call rt-secret: it is skipped and the dead deployment's 502 is the answer"
expect_eq "$(($(count test-llm) - m0))" 0 "...and rt-secret's upstream received nothing"
as "$KB" POST $OA/chat/completions "$(chat rt-pub)"
expect_eq "$STATUS:$(jq -r .model <<<"$BODY"):$(header X-Stackgate-Model)" "200:rt-pub:rt-secret" \
	"bob may: rt-secret serves, the reply names rt-pub, X-Stackgate-Model rt-secret"
rid=$(header X-Request-Id) attempts=$(header X-Stackgate-Attempts)
expect_eq "$attempts" 4 "3 attempts on the dead deployment, then the fallback"
usage_row() { row=$(psql_q "SELECT model || ' ' || served_model || ' ' || provider_model_id || ' ' || attempts || ' ' || count(*) OVER ()
	FROM usage_log WHERE request_id = '$rid'") && [[ -n $row ]]; }
poll 10 usage_row
expect_eq "$row" "rt-pub rt-secret test-llm 4 1" "one usage row: the model asked for, the one that served, its deployment, 4 attempts"
register '{"model_id":"rt-fb2","provider_id":"dead","provider_model_id":"fb2-x","access_attributes":null,"fallbacks":["rt-pub"]}'
as "$KB" POST $OA/chat/completions "$(chat rt-fb2)"
expect_eq "$STATUS:$(header X-Stackgate-Model)" "502:rt-pub" "fallbacks are not transitive: rt-pub's own fallback is not tried"

echo "-- a model's rows go with it"
as "$KADM" DELETE /v1/models/rt-dl
expect_status 200 "an admin unregisters rt-dl"
expect_eq "$(psql_q "SELECT count(*) FROM model_deployments WHERE model_id = 'rt-dl'")" 0 "deleting the model deletes its deployments"

psql_q "DELETE FROM models WHERE identifier LIKE 'rt-%'" >/dev/null
sg_restart_daemon && pass "restart with the test config" || fail "restart (test config)"
