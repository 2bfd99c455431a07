# SPDX-License-Identifier: Apache-2.0
# 75_ui.sh: the operator page (issue #20).  First its admin routes over HTTP
# (/v1/stackgate/principals, keys, status, me, registry): an admin's key vs a
# tenant's and no key, the answers, the audit lines in the log, a key's text
# only in its POST answer, the CLI and the routes seeing the same rows; then
# nginx's /ui/ with its security headers; then the page itself in Debian's
# chromium driven by puppeteer-core (tests/ui/ui.test.mjs), screenshots under
# var/test/ui/.  Identifiers start with ui-.  The browser run is bounded
# (timeout 120 s), its npm install too.

LOG=$SG_RUN/logs/stackgate.log
OA=/v1/openai/v1

echo "-- setup"
ROOT_KEY=$(sg_principal_key ui-root --role admin)
TENANT_KEY=$(sg_principal_key ui-tenant --team ui)
OTHER_KEY=$(sg_principal_key ui-other --team elsewhere)
[[ $ROOT_KEY == sg-* && $TENANT_KEY == sg-* && $OTHER_KEY == sg-* ]] && pass "keys for ui-root (admin), ui-tenant and ui-other" ||
	fail "setup keys" "$ROOT_KEY / $TENANT_KEY"
# access_attributes null: no ACL, visible to everyone (only an admin may ask for that); owned by ui-root.
as "$ROOT_KEY" POST /v1/models '{"model_id":"ui-public-model","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":null}'
expect_status 200 "the admin registers a public model"
as "$ROOT_KEY" POST /v1/models '{"model_id":"ui-admin-only","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":{"roles":["admin"]}}'
expect_status 200 "the admin registers a model for admins only"
as "$TENANT_KEY" POST /v1/models '{"model_id":"ui-tenant-model","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":{"teams":["ui"]}}'
expect_status 200 "the tenant registers its own model"
as "$TENANT_KEY" POST /v1/models '{"model_id":"ui-<b>bold</b>","provider_id":"vllm","provider_model_id":"test-llm","access_attributes":{"teams":["ui"]}}'
expect_status 200 "the tenant registers a model whose id looks like HTML"
for k in TENANT_KEY TENANT_KEY ROOT_KEY; do
	m=ui-tenant-model
	[[ $k == ROOT_KEY ]] && m=ui-public-model
	as "${!k}" POST $OA/chat/completions "{\"model\":\"$m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
	expect_status 200 "a chat call on $m for the usage view"
done

echo "-- who may call the admin routes"
as_cases <<'CASES'
TENANT_KEY GET /v1/stackgate/principals 403 a tenant may not list principals
TENANT_KEY POST /v1/stackgate/principals 403 a tenant may not add principals
TENANT_KEY PUT /v1/stackgate/principals/ui-tenant 403 a tenant may not change itself
TENANT_KEY DELETE /v1/stackgate/principals/ui-other 403 a tenant may not remove principals
TENANT_KEY GET /v1/stackgate/keys 403 a tenant may not list keys
TENANT_KEY POST /v1/stackgate/keys 403 a tenant may not create keys
TENANT_KEY DELETE /v1/stackgate/keys/0123456789ab 403 a tenant may not revoke keys
TENANT_KEY GET /v1/stackgate/status 403 a tenant may not read the status
- GET /v1/stackgate/principals 403 no key may not list principals
- POST /v1/stackgate/keys 403 no key may not create keys
- GET /v1/stackgate/status 403 no key may not read the status
CASES
as "$TENANT_KEY" POST /v1/stackgate/principals '{"name":"ui-sneak","role":"admin"}'
expect_jq .error.message "managing principals and keys is for admins only" "…and the 403 says why"
as "$TENANT_KEY" GET /v1/stackgate/status
expect_jq .error.message "the status is for admins only" "…also for the status"
grep -q "audit: refused GET /v1/stackgate/principals to 'ui-tenant': not an admin" "$LOG" &&
	pass "a refusal is an audit line naming the caller" || fail "refusal audit line"
psql_q "SELECT count(*) FROM principals WHERE name = 'ui-sneak'" | grep -qx 0 && pass "…and changed nothing" ||
	fail "tenant changed something"

echo "-- principals over HTTP"
as "$ROOT_KEY" GET /v1/stackgate/principals
expect_status 200 "the admin lists principals"
expect_jq '[.data[] | select(.name == "ui-tenant")][0].team | join(",")' "ui" "…with each one's attributes named like the CLI's flags"
as "$ROOT_KEY" POST /v1/stackgate/principals '{"name":"ui-bob","role":["reader"],"team":"red"}'
expect_status 201 "the admin adds a principal"
expect_jq '[.name, (.role|join(",")), (.team|join(",")), .disabled] | join(" ")' "ui-bob reader red false" "…and gets it back"
sg_cli principal list | grep -q $'^ui-bob\troles=reader teams=red\tenabled$' && pass "the CLI lists what the route added" ||
	fail "CLI principal list after HTTP add" "$(sg_cli principal list 2>&1 | grep ui-bob)"
as "$ROOT_KEY" POST /v1/stackgate/principals '{"name":"ui-bob"}'
expect_status 409 "adding it again is 409"
expect_jq .error.message "principal 'ui-bob' already exists" "…saying it exists"
as "$ROOT_KEY" PUT /v1/stackgate/principals/ui-bob '{"team":["blue","green"]}'
expect_status 200 "the admin changes its attributes"
expect_jq '[(.role|length), (.team|join(","))] | join(" ")' "0 blue,green" "…which replaces them, as principal set does"
as "$ROOT_KEY" PUT /v1/stackgate/principals/ui-bob '{"disabled":true}'
expect_jq .disabled true "the admin disables it"
sg_cli principal list | grep -q $'^ui-bob\t.*\tdisabled$' && pass "…and the CLI sees it disabled" || fail "CLI sees disabled"
as "$ROOT_KEY" PUT /v1/stackgate/principals/ui-bob '{"disabled":false}'
expect_jq .disabled false "…and enables it again"
as "$ROOT_KEY" PUT /v1/stackgate/principals/ui-nobody '{"role":"x"}'
expect_status 404 "changing a missing principal is 404"
expect_jq .error.message "principal 'ui-nobody' not found" "…naming it"
as "$ROOT_KEY" POST /v1/stackgate/principals '{"name":"ui-x","roles":["admin"]}'
expect_status 400 "an unknown field is 400"
expect_jq .error.param roles "…naming the field"
as "$ROOT_KEY" POST /v1/stackgate/principals '{"name":"ui-x","role":[" admin"]}'
expect_status 400 "a bad attribute value is 400"
expect_jq .error.param role "…naming the field"

as "$ROOT_KEY" POST /v1/stackgate/principals '{"name":"ui-team/carol"}'
expect_status 201 "a principal name may hold a slash"
as "$ROOT_KEY" PUT /v1/stackgate/principals/ui-team/carol '{"disabled":true}'
expect_jq '[.name, .disabled] | join(" ")' "ui-team/carol true" "…and is changed by its path"
as "$ROOT_KEY" DELETE /v1/stackgate/principals/ui-team%2Fcarol
expect_jq .removed true "…and removed with the slash encoded"

echo "-- keys over HTTP"
as "$ROOT_KEY" POST /v1/stackgate/keys '{"principal":"ui-bob","description":"for the test","expires_in":30}'
expect_status 201 "the admin creates a key"
key=$(jq -r .key <<<"$BODY")
key_id=$(jq -r .key_id <<<"$BODY")
[[ $key == "sg-$key_id-"* ]] && pass "…and gets its text once, with its id" || fail "key text" "$BODY"
grep -qi '^cache-control: no-store' "$HDRS" && pass "…with Cache-Control: no-store" || fail "no-store on key create"
[[ $(jq -r .expires_at <<<"$BODY") == 20* ]] && pass "…and its expiry" || fail "key expiry"
as "$key" GET /v1/stackgate/me
expect_jq '[.principal, .admin, .key_id] | join(" ")' "ui-bob false $key_id" "the new key works and /me says whose it is"
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
psql_q "SELECT count(*) FROM api_keys WHERE key_id = '$key_id' AND key_sha256 = '\\x$hash'::bytea" | grep -qx 1 &&
	pass "PostgreSQL keeps the key's SHA-256" || fail "key stored hashed"
psql_q "SELECT count(*) FROM api_keys WHERE position('${key#sg-}' in coalesce(description,'') || key_sha256::text) > 0" | grep -qx 0 &&
	pass "…and never its text" || fail "key text stored"
as "$ROOT_KEY" GET "/v1/stackgate/keys?principal=ui-bob"
expect_jq '[.data[] | "\(.key_id) \(.status) \(.description)"] | join(",")' "$key_id active for the test" "the admin lists ui-bob's keys"
[[ $BODY != *"$key"* ]] && pass "…without their text" || fail "key text listed"
sg_cli key list ui-bob | grep -q "^$key_id"$'\tui-bob\t' && pass "the CLI lists the key the route made" || fail "CLI key list"
cli_key=$(sg_cli key create ui-bob 2>/dev/null)
as "$ROOT_KEY" GET "/v1/stackgate/keys?principal=ui-bob"
expect_jq '.data | length' 2 "the route lists the key the CLI made"
as "$ROOT_KEY" POST /v1/stackgate/keys '{"principal":"ui-nobody"}'
expect_status 404 "a key for a missing principal is 404"
as "$ROOT_KEY" POST /v1/stackgate/keys '{"principal":"ui-bob","expires_at":"not a date"}'
expect_status 400 "a bad expires_at is 400"
expect_jq .error.param expires_at "…naming the field"
as "$ROOT_KEY" DELETE "/v1/stackgate/keys/$key_id"
expect_jq '[.revoked, .already_revoked] | join(" ")' "true false" "the admin revokes the key"
as "$ROOT_KEY" DELETE "/v1/stackgate/keys/$key_id"
expect_jq .already_revoked true "revoking it again says it already was"
as "$ROOT_KEY" DELETE /v1/stackgate/keys/000000000000
expect_status 404 "revoking a missing key is 404"
as "$ROOT_KEY" DELETE /v1/stackgate/keys/sg-000000000000-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_status 400 "a whole key in the URL is refused (a URL ends up in access logs)"
poll 10 eval 'as "$key" GET /v1/stackgate/me; [[ $STATUS == 401 ]]' && pass "the revoked key stops working" ||
	fail "revoked key still works" "$STATUS"

echo "-- the audit lines"
grep -q "audit: 'ui-root' added principal 'ui-bob' (role=reader team=red)" "$LOG" && pass "adding is audited" || fail "add audit"
grep -q "audit: 'ui-root' set principal 'ui-bob' attributes (team=blue,green)" "$LOG" && pass "changing is audited" ||
	fail "set audit"
grep -q "audit: 'ui-root' disabled principal 'ui-bob'" "$LOG" && pass "disabling is audited" || fail "disable audit"
grep -q "audit: 'ui-root' created key $key_id for principal 'ui-bob'" "$LOG" && pass "a key's creation is audited" ||
	fail "key create audit"
grep -q "audit: 'ui-root' revoked key $key_id" "$LOG" && pass "a revocation is audited" || fail "revoke audit"
! grep -qF "${key#sg-}" "$LOG" && ! grep -qF "${cli_key#sg-}" "$LOG" && pass "no key's text is in the log" ||
	fail "key text logged"
as "$ROOT_KEY" DELETE /v1/stackgate/principals/ui-bob
expect_jq .removed true "the admin removes the principal"
grep -q "audit: 'ui-root' removed principal 'ui-bob' and its keys" "$LOG" && pass "removing is audited" || fail "remove audit"
psql_q "SELECT count(*) FROM api_keys WHERE principal = 'ui-bob'" | grep -qx 0 && pass "…with its keys" || fail "keys left"
as "$ROOT_KEY" DELETE /v1/stackgate/principals/ui-bob
expect_status 404 "removing it again is 404"

echo "-- status, me, registry view"
as "$ROOT_KEY" GET /v1/stackgate/status
expect_status 200 "the admin reads the status"
expect_jq .postgresql.status OK "…PostgreSQL is up"
expect_jq '[.providers[] | select(.provider_id == "vllm")][0].health.status' OK "…the vllm provider answers its probe"
expect_jq '[.providers[] | select(.provider_id == "dead")][0].health.status' Error "…the dead one does not"
expect_jq '.workers.running >= 1 and .workers.running <= .workers.configured' true "…workers running"
total=$(jq -r .requests.total <<<"$BODY")
as "$ROOT_KEY" GET /v1/stackgate/status
[[ $(jq -r .requests.total <<<"$BODY") -gt $total && $total -gt 0 ]] && pass "…and the request counter moves" ||
	fail "request counter" "$total then $(jq -r .requests.total <<<"$BODY")"
as "$TENANT_KEY" GET /v1/stackgate/me
expect_jq '[.principal, .admin, (.attributes.teams|join(","))] | join(" ")' "ui-tenant false ui" "/me for a tenant"
as "$TENANT_KEY" GET "/v1/stackgate/registry?type=model"
expect_jq '[.data[] | select(.identifier == "ui-tenant-model")][0] | [.owner, (.access_attributes.teams|join(","))] | join(" ")' \
	"ui-tenant ui" "the registry view shows the tenant its own model with owner and attributes"
expect_jq '[.data[] | select(.identifier == "ui-public-model")][0].owner' null "…another's owner as null"
expect_jq '[.data[] | select(.identifier == "ui-tenant-model")][0].can_unregister' true "…that it may unregister its own"
expect_jq '[.data[] | select(.identifier == "ui-public-model")][0].can_unregister' false "…but not the admin's"
expect_jq '[.data[] | select(.identifier == "ui-admin-only")] | length' 0 "…and nothing it may not see"
as "$OTHER_KEY" GET "/v1/stackgate/registry?type=model"
expect_jq '[.data[] | select(.identifier == "ui-tenant-model")] | length' 0 "another team does not see the tenant's model"
as "$ROOT_KEY" GET "/v1/stackgate/registry?type=model"
expect_jq '[.data[] | select(.identifier == "ui-tenant-model")][0].owner' ui-tenant "an admin sees every owner"
as "$ROOT_KEY" GET "/v1/stackgate/registry?type=widget"
expect_status 400 "an unknown type is 400"
expect_jq .error.param type "…naming the field"

echo "-- nginx serves /ui/"
req GET /ui/
expect_status 200 "GET /ui/ is the page"
expect_body_contains 'type="module" src="main.js"' "…the operator page"
grep -qi "^content-security-policy: default-src 'self'" "$HDRS" && pass "…with Content-Security-Policy: default-src 'self'" ||
	fail "CSP header" "$(cat "$HDRS")"
grep -qi '^x-content-type-options: nosniff' "$HDRS" && pass "…X-Content-Type-Options: nosniff" || fail "nosniff"
grep -qi '^x-frame-options: DENY' "$HDRS" && pass "…X-Frame-Options: DENY" || fail "DENY"
req GET /ui/main.js
grep -qi '^content-type: text/javascript' "$HDRS" && pass "a module is served as JavaScript" || fail "js type" "$(cat "$HDRS")"
grep -qi "^content-security-policy: default-src 'self'" "$HDRS" && pass "…with the same headers" || fail "CSP on js"
req GET /ui
expect_status 301 "/ui redirects to /ui/"

echo "-- the page in a browser"
poll 10 eval 'as "$TENANT_KEY" GET /v1/stackgate/usage; [[ $(jq ".data | length" <<<"$BODY") -ge 1 ]]' &&
	pass "the chat calls are in the usage rows" || fail "usage rows for the page"
ui_dir=$SG_ROOT/tests/ui
if [[ ! -d $ui_dir/node_modules/puppeteer-core ]]; then
	(cd "$ui_dir" && timeout 120 npm ci --no-audit --no-fund --ignore-scripts >"$SG_RUN/logs/npm-ui.log" 2>&1) ||
		fail "npm ci in tests/ui (see npm-ui.log)"
fi
if ! command -v chromium >/dev/null; then
	fail "chromium is not installed (./dev packages lists it)"
else
	out=$SG_ROOT/var/test/ui
	rm -rf "$out"
	SG_URL=$SG_URL UI_ADMIN_KEY=$ROOT_KEY UI_TENANT_KEY=$TENANT_KEY UI_OUT=$out \
		timeout 120 node "$ui_dir/ui.test.mjs" >"$SG_TEST_DIR/ui.out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*) pass "page: ${line#ok - }" ;;
		"not ok - "*) fail "page: ${line#not ok - }" ;;
		*) printf '        %s\n' "$line" ;;
		esac
	done <"$SG_TEST_DIR/ui.out"
	((rc == 0)) && pass "the browser run ended cleanly" || fail "the browser run exited with $rc (124: timed out)"
	n=$(find "$out" -name '*.png' 2>/dev/null | wc -l)
	((n >= 6)) && pass "screenshots in var/test/ui ($n)" || fail "screenshots" "$n in $out"
fi

echo "-- cleanup"
for m in ui-public-model ui-admin-only ui-tenant-model "ui-%3Cb%3Ebold%3C/b%3E"; do
	as "$ROOT_KEY" DELETE "/v1/models/$m"
done
for p in ui-root ui-tenant ui-other; do sg_cli principal remove "$p" >/dev/null 2>&1; done
true
