# SPDX-License-Identifier: Apache-2.0
# 46_secrets.sh: tenant isolation, secrets and the auth endpoint (issue #10,
# items 3, 9 and 10):
#   - /v1/providers masks URL userinfo and every credential-named config key;
#     an upstream error body that echoes the provider's key (or the password
#     of its URL) reaches neither the client nor the log; the providers
#     mirror holds no secret;
#   - every 401 body is valid JSON, whatever the Authorization header;
#   - a flood of distinct well-formed unknown keys does not cost one
#     PostgreSQL query each, and a key created right after it was refused as
#     unknown works within a second (also just after a flood).
# The daemon runs with an extra provider "vllm-creds" (credentials in its URL,
# a "token" key, nested credential keys) and is restarted with the test
# config at the end.

OA=/v1/openai/v1
PROVIDER_KEY=upstream-secret-token
URL_PASS=userinfo-pass-1234
TOKEN_SECRET=token-named-secret-5678
NESTED_SECRET=nested-auth-secret-3456
PROXY_TOKEN=only-token-userinfo-7890
CRED_SECRET=/etc/credentials-path-secret
BASIC=$(printf '%s' "sg-user:$URL_PASS" | base64) # what curl sends for the URL's userinfo
SECRETS=("$PROVIDER_KEY" "$URL_PASS" "$TOKEN_SECRET" "$NESTED_SECRET" "$PROXY_TOKEN" "$CRED_SECRET" "$BASIC")

# no_secret_in TEXT NAME: a check that TEXT holds none of $SECRETS.
no_secret_in() {
	local s found=""
	for s in "${SECRETS[@]}"; do [[ $1 == *"$s"* ]] && found+=" $s"; done
	if [[ -z $found ]]; then pass "$2"; else fail "$2" "carries:$found"; fi
}

# json_ok NAME: the last body parses as JSON with a string .error.message.
json_ok() {
	if jq -e '.error.message | type == "string"' <<<"$BODY" >/dev/null 2>&1; then pass "$1"; else
		fail "$1" "not JSON with an error message: $(head -c 300 <<<"$BODY")"; fi
}

creds_conf=$SG_TEST_DIR/tmp/secrets.json
jq --arg url "http://sg-user:$URL_PASS@127.0.0.1:$SG_UPSTREAM_PORT/v1" --arg tok "$TOKEN_SECRET" \
	--arg nested "$NESTED_SECRET" --arg proxy "https://$PROXY_TOKEN@proxy.example.com:8443/x?y=1" \
	--arg cred "$CRED_SECRET" \
	'.providers.inference += [{provider_id: "vllm-creds", provider_type: "remote::vllm",
	   config: {url: $url, token: $tok, check_model_on_register: false, Credentials_File: $cred,
	            nested: {Auth_Header: $nested, proxy: $proxy, plain: "visible", list: [{sessionKey: $nested}]}}}]' \
	"$SG_CONFIG" >"$creds_conf"
if ! sg_restart_daemon "$creds_conf"; then
	fail "restart with the vllm-creds provider" "the daemon did not come back"
	return 0
fi

echo "-- item 3: /v1/providers masks every credential"
req GET /v1/providers/vllm-creds
expect_status 200 "GET /v1/providers/vllm-creds"
expect_jq .config.url "http://sg-user:********@127.0.0.1:$SG_UPSTREAM_PORT/v1" \
	"the password in the provider URL is masked, the rest of the URL is shown"
expect_jq .config.nested.proxy "https://********@proxy.example.com:8443/x?y=1" \
	"userinfo without a password is masked whole, in a nested value too"
expect_jq .config.token "********" "a key named token is masked"
expect_jq .config.Credentials_File "********" "a key naming a credential is masked, in any case"
expect_jq .config.nested.Auth_Header "********" "a nested key naming auth is masked"
expect_jq '.config.nested.list[0].sessionKey' "********" "a key naming a key, inside a list, is masked"
expect_jq .config.nested.plain "visible" "a value under an ordinary key is shown"
expect_jq .config.check_model_on_register "false" "a setting under an ordinary key is shown"
no_secret_in "$BODY" "GET /v1/providers/vllm-creds carries no secret"
req GET /v1/providers
no_secret_in "$BODY" "GET /v1/providers carries no secret"
no_secret_in "$(psql_q "SELECT row_to_json(p) FROM providers p")" "the providers table carries no secret"

echo "-- item 3: upstream error bodies that echo the key are scrubbed"
for m in sec-echo-400:vllm:echo-key-400 sec-echo-500:vllm:echo-key-500 sec-echo-stream:vllm:echo-key-stream \
	sec-echo-long:vllm:echo-key-long-400 \
	sec-creds-400:vllm-creds:echo-key-400 sec-creds-500:vllm-creds:echo-key-500; do
	IFS=: read -r id p pm <<<"$m"
	req POST /v1/models "$(jq -nc --arg id "$id" --arg p "$p" --arg pm "$pm" \
		'{model_id:$id,provider_id:$p,provider_model_id:$pm}')"
	expect_status 200 "register $id ($p/$pm)"
done
echoed=$(curl -s "$SG_UPSTREAM_URL/_last?model=echo-key-400")
req POST $OA/chat/completions '{"model":"sec-echo-400","messages":[{"role":"user","content":"hi"}]}'
expect_status 400 "an upstream 400 is relayed as 400"
json_ok "…as a JSON error"
no_secret_in "$BODY" "…without the provider key the upstream echoed"
expect_jq '.error.message' "incorrect API key provided: Bearer ********" "…which is replaced by ********"
expect_jq '.error.param' "********" "…in param too"
req POST $OA/chat/completions '{"model":"sec-echo-400","stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect_status 400 "a stream request's upstream 400 is relayed as 400"
no_secret_in "$BODY" "…without the provider key"
req POST $OA/chat/completions '{"model":"sec-echo-long","messages":[{"role":"user","content":"hi"}]}'
expect_status 400 "an upstream 400 with the key where the relayed message is cut"
said=$(jq -r '.error.message + " " + .detail' <<<"$BODY")
[[ $said == *"incorrect API key provided: Bearer "* && $said != *"${PROVIDER_KEY:0:9}"* ]] &&
	pass "…leaves no part of the key" || fail "…leaves no part of the key" "$(tail -c 80 <<<"$said")"
req POST $OA/chat/completions '{"model":"sec-echo-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}'
expect_status 200 "a stream whose upstream sends an error event echoing the key"
expect_body_contains 'incorrect API key provided: Bearer ********' "…relays the event with the key scrubbed"
no_secret_in "$BODY" "…and nowhere the key"
req POST $OA/chat/completions '{"model":"sec-creds-400","messages":[{"role":"user","content":"hi"}]}'
expect_status 400 "vllm-creds: the upstream 400 is relayed"
no_secret_in "$BODY" "…without the password of the provider URL (or its Basic form) the upstream echoed"
expect_body_contains "sg-user:********" "…which is replaced by ********"
for id in sec-echo-500 sec-creds-500; do
	req POST $OA/completions "{\"model\":\"$id\",\"prompt\":\"hi\"}"
	expect_status 502 "$id: an upstream 500 is 502"
	no_secret_in "$BODY" "…and says nothing of the key"
done
sleep 0.2
logs=$(cat "$SG_RUN"/logs/stackgate*.log 2>/dev/null)
[[ $logs == *"upstream vllm answered HTTP 500: incorrect API key provided: Bearer ********"* ]] &&
	pass "the log keeps the upstream's message, scrubbed" || fail "the log keeps the upstream's message" \
	"$(grep -a 'answered HTTP 500' "$SG_RUN"/logs/stackgate*.log | tail -2)"
no_secret_in "$logs" "no stackgate log line carries a configured secret"
for id in sec-echo-400 sec-echo-500 sec-echo-stream sec-echo-long sec-creds-400 sec-creds-500; do req DELETE "/v1/models/$id"; done

echo "-- item 9: every 401 body is valid JSON"
bearer_msg='the Authorization header must be "Bearer <API key>"'
for h in 'Basic Zm9vOmJhcg==' 'Bearer' 'Token abc' 'Bearer a b' 'bearer "x" \ y'; do
	req GET /v1/models "" -H "Authorization: $h"
	expect_status 401 "Authorization: $h is 401"
	json_ok "…with a JSON body"
	expect_jq .error.message "$bearer_msg" "…that says what the header must be"
	expect_jq '.detail // .error.message' "$bearer_msg" "…also in detail"
done
req GET /v1/models "" -H 'Authorization: Bearer sg-"quoted\key'
expect_status 401 "a bearer token with quotes and a backslash is 401"
json_ok "…with a JSON body"
expect_jq .error.message "invalid API key" "…invalid API key"

echo "-- item 10: a flood of distinct unknown keys"
lookups() {
	psql_q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
	        WHERE query LIKE '%FROM api_keys%' AND query NOT LIKE '%pg_stat_statements%'"
}
sg_cli principal add sec-p --team sec >/dev/null 2>&1
KV=$(sg_cli key create sec-p 2>/dev/null)
flood=$SG_TEST_DIR/tmp/flood.curl
node -e '
const crypto = require("node:crypto");
const url = process.argv[1];
const out = [];
for (let i = 0; i < 2000; i++) {
	const key = "sg-" + crypto.randomBytes(6).toString("hex") + "-" + crypto.randomBytes(32).toString("base64url");
	out.push(`url = "${url}"\nheader = "Authorization: Bearer ${key}"\noutput = /dev/null\nwrite-out = "%{http_code}\\n"\n`);
}
console.log(out.join("next\n"));' "$SG_URL/v1/models" >"$flood"
before=$(lookups)
t0=$(date +%s%3N)
codes=$(curl -s --parallel --parallel-max 32 -K "$flood" | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
t1=$(date +%s%3N)
after=$(lookups)
expect_eq "$codes" "401x2000 " "2000 distinct unknown keys are 401 each"
n=$((after - before))
echo "        (2000 unknown keys in $((t1 - t0)) ms: $n queries on api_keys)"
((n < 200)) && pass "…and cost far fewer than 2000 queries on api_keys ($n)" ||
	fail "a flood of unknown keys" "$n queries on api_keys for 2000 distinct unknown keys"

req GET /v1/models "" -H "Authorization: Bearer $KV"
expect_status 200 "a known key works right after the flood"

# works_within_a_second KEY: prints 1 when KEY is accepted within a second, else 0.
works_within_a_second() {
	for _ in $(seq 10); do
		req GET /v1/models "" -H "Authorization: Bearer $1"
		[[ $STATUS == 200 ]] && { echo 1; return; }
		sleep 0.1
	done
	echo 0
}
new_key() {
	node -e 'const c = require("node:crypto");
console.log("sg-" + c.randomBytes(6).toString("hex") + "-" + c.randomBytes(32).toString("base64url"))'
}

# A key refused as unknown, then created (directly in SQL, with that very id):
# it must work promptly, not after a negative-cache window.
KN=$(new_key)
req GET /v1/models "" -H "Authorization: Bearer $KN"
expect_status 401 "a key not yet created is 401"
psql_q "INSERT INTO api_keys (key_id, principal, key_sha256) VALUES ('${KN:3:12}', 'sec-p', sha256(convert_to('$KN', 'UTF8')))"
expect_eq "$(works_within_a_second "$KN")" 1 "…and works within a second once it is created"
# The same right after another flood, when the misses allowed through are spent.
KN2=$(new_key)
req GET /v1/models "" -H "Authorization: Bearer $KN2"
curl -s --parallel --parallel-max 32 -K "$flood" >/dev/null
psql_q "INSERT INTO api_keys (key_id, principal, key_sha256) VALUES ('${KN2:3:12}', 'sec-p', sha256(convert_to('$KN2', 'UTF8')))"
expect_eq "$(works_within_a_second "$KN2")" 1 "a key created just after a flood works within a second"

sg_cli principal remove sec-p >/dev/null 2>&1
sg_restart_daemon || fail "restart with the test config" "the daemon did not come back"
