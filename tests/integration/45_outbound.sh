# SPDX-License-Identifier: Apache-2.0
# 45_outbound.sh: the outbound calls a client makes stackgate do through MCP
# (issue #10, tenant isolation).  They stop when the client leaves, are
# bounded in time, bytes and CPU, go only where the tool-runtime provider's
# allowed_hosts says (admins excepted), never carry credentials in the URL,
# and a refusal says nothing about the target.  Identifiers start with o45.

MCP=$SG_MCP_URL
MCP_HOSTPORT=127.0.0.1:$SG_MCP_PORT

for who in alice:o45-ml root:admin; do
	sg_cli principal add "o45-${who%%:*}" --role "${who#*:}" >/dev/null 2>&1
done
KA=$(sg_cli key create o45-alice 2>/dev/null)
KR=$(sg_cli key create o45-root 2>/dev/null)
[[ $KA == sg-* && $KR == sg-* ]] && pass "API keys for the outbound checks" || fail "API keys" "got '$KA' '$KR'"
AS_ALICE=(-H "Authorization: Bearer $KA")
AS_ROOT=(-H "Authorization: Bearer $KR")

# group ID URI [PROVIDER]: the register body of an MCP tool group.
group() { printf '{"toolgroup_id":"%s","provider_id":"%s","mcp_endpoint":{"uri":"%s"}}' "$1" "${3:-model-context-protocol}" "$2"; }
mcp_stat() { curl -s "$MCP/_stats" | jq -r ".$1"; }
# CPU time (clock ticks) the daemon's workers have used so far.
worker_ticks() {
	local p t=0
	for p in $(sg_worker_pids); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# ------------------------------------------------------------------ clients that leave free their threads
# 130 registrations against a server that accepts and never answers, each
# client leaving after 1 s: more than the daemon's threads (2 x 32).
open0=$(mcp_stat hang_open)
closed0=$(mcp_stat hang_closed)
pids=()
for i in $(seq 130); do
	curl -s -o /dev/null --max-time 1 -H 'Content-Type: application/json' \
		--data-binary "$(group "o45::hang$i" "$MCP/mcp-hang")" "$SG_URL/v1/toolgroups" &
	pids+=($!)
done
wait "${pids[@]}" 2>/dev/null
t0=$(now_ms)
req GET /v1/models
t1=$(now_ms)
expect_status 200 "another request is served while hanging MCP calls are abandoned"
((t1 - t0 < 3000)) && pass "it is served within 3 s ($((t1 - t0)) ms)" ||
	fail "GET /v1/models took $((t1 - t0)) ms after 130 abandoned MCP registrations"
for _ in $(seq 50); do
	(($(mcp_stat hang_closed) - closed0 >= $(mcp_stat hang_open) - open0)) && break
	sleep 0.1
done
opened=$(($(mcp_stat hang_open) - open0))
closed=$(($(mcp_stat hang_closed) - closed0))
((opened > 0 && closed >= opened)) && pass "the MCP server sees every abandoned call's connection closed ($closed of $opened)" ||
	fail "abandoned MCP calls keep their connections" "opened $opened, closed $closed"

# A client that waits: 10 s of silence end the call with a 504 (not the 30 s total).
t0=$(now_ms)
req POST /v1/toolgroups "$(group o45::silent "$MCP/mcp-hang")"
t1=$(now_ms)
expect_status 504 "an MCP server that never answers is 504"
((t1 - t0 >= 9000 && t1 - t0 < 14000)) && pass "after the 10 s read timeout ($((t1 - t0)) ms)" ||
	fail "the silent MCP server was given $((t1 - t0)) ms"

# ------------------------------------------------------------------ linear parsing of SSE answers
ticks0=$(worker_ticks)
t0=$(now_ms)
req POST /v1/toolgroups "$(group o45::tiny "$MCP/mcp-tiny?n=200000&prefix=o45t_")"
t1=$(now_ms)
ticks1=$(worker_ticks)
hz=$(getconf CLK_TCK)
cpu_ms=$(((ticks1 - ticks0) * 1000 / hz))
expect_status 200 "an MCP server sending 200000 tiny SSE events before its answer works"
req GET '/v1/tools?toolgroup_id=o45::tiny'
expect_jq '.data | length' 3 "its tools are registered"
((cpu_ms < 3000)) && pass "the daemon spent $cpu_ms ms of CPU on it (under 3 s)" ||
	fail "200000 tiny SSE events cost $cpu_ms ms of CPU (quadratic parsing?)"
((t1 - t0 < 15000)) && pass "and $((t1 - t0)) ms of wall time (under 15 s)" || fail "tiny events took $((t1 - t0)) ms"

# ------------------------------------------------------------------ redirects, credentials in the URL
red0=$(mcp_stat redirected)
req POST /v1/toolgroups "$(group o45::redirect "$MCP/mcp-redirect")"
expect_status 502 "an MCP server answering with a redirect is 502"
expect_body_contains "HTTP status 307" "the 502 names the status"
expect_eq "$(mcp_stat redirected)" "$red0" "the redirect is not followed"

req POST /v1/toolgroups "$(group o45::userinfo "http://o45user:o45pass@$MCP_HOSTPORT/mcp?prefix=o45u_")"
expect_status 400 "an mcp_endpoint with user:pass@ is 400"
expect_jq .error.param mcp_endpoint.uri "the 400 names mcp_endpoint.uri"
[[ $BODY != *o45pass* && $BODY != *o45user* ]] && pass "the 400 does not echo the credentials" ||
	fail "the 400 echoes the credentials"
req POST /v1/toolgroups "$(group o45::userinfo "http://o45user@$MCP_HOSTPORT/mcp?prefix=o45u_")" "${AS_ROOT[@]}"
expect_status 400 "a user name alone is 400 too, even for an admin"
req GET /v1/toolgroups/o45::userinfo "" "${AS_ROOT[@]}"
expect_status 404 "the group was not stored"

# ------------------------------------------------------------------ allowed_hosts (another config)
# model-context-protocol: no allowed_hosts (the default: only admins register);
# o45-open: allowed_hosts = the MCP test server, credentials in headers, tight limits.
conf=$SG_TEST_DIR/tmp/o45.json
jq --arg hp "$MCP_HOSTPORT" '
  (.providers.tool_runtime[] | select(.provider_id == "model-context-protocol") | .config) = {}
  | .providers.tool_runtime += [{"provider_id":"o45-open","provider_type":"remote::model-context-protocol",
      "config":{"allowed_hosts":[$hp, "mcp.o45.example"],"headers":{"Authorization":"Bearer mcp-test-secret","Cookie":"session=mcp-cookie-secret-4242"},
                "read_timeout":2,"total_timeout":4,"max_response_bytes":65536}}]' "$SG_CONFIG" >"$conf"
if sg_restart_daemon "$conf"; then pass "the daemon starts with allowed_hosts, headers and MCP limits"; else fail "restart with the o45 config"; fi

# A closed port and an open one that is no MCP server.
closed_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
msgs=()
for uri in "http://127.1:$SG_MCP_PORT/mcp" "http://0x7f000001:$SG_MCP_PORT/mcp" "http://$MCP_HOSTPORT/mcp" \
	"http://127.0.0.1:$closed_port/mcp" "http://127.0.0.1:$SG_UPSTREAM_PORT/v1/models" "http://[::1]:$SG_MCP_PORT/mcp" \
	"http://LOCALHOST.:$SG_MCP_PORT/mcp" "https://169.254.169.254/latest" "http://10.1.2.3:8080/mcp"; do
	req POST /v1/toolgroups "$(group o45::ssrf "$uri")"
	expect_status 403 "a non-admin caller may not target $uri"
	msgs+=("$(jq -r .error.message <<<"$BODY")")
	req POST /v1/toolgroups "$(group o45::ssrf "$uri")" "${AS_ALICE[@]}"
	expect_status 403 "nor may alice ($uri)"
	msgs+=("$(jq -r .error.message <<<"$BODY")")
done
uniq_msgs=$(printf '%s\n' "${msgs[@]}" | sort -u)
[[ $(wc -l <<<"$uniq_msgs") == 1 && $uniq_msgs != *127* && $uniq_msgs != *refused* && $uniq_msgs != *unreachable* ]] &&
	pass "every refusal has the same message, which says nothing about the target ($uniq_msgs)" ||
	fail "refusals differ or tell about the target" "$uniq_msgs"

req POST /v1/toolgroups "$(group o45::admin "http://127.1:$SG_MCP_PORT/mcp?prefix=o45a_")" "${AS_ROOT[@]}"
expect_status 200 "an admin registers any endpoint (127.1)"
req GET '/v1/tools?toolgroup_id=o45::admin' "" "${AS_ROOT[@]}"
expect_jq '.data | length' 3 "with its tools"
req POST /v1/toolgroups "$(group o45::admin-down "http://127.0.0.1:$closed_port/mcp")" "${AS_ROOT[@]}"
expect_status 502 "an admin's unreachable endpoint is a 502"

# allowed_hosts permits exactly the normalised host:port.
req POST /v1/toolgroups "$(group o45::open1 "$MCP/mcp?prefix=o45o1_" o45-open)"
expect_status 200 "an endpoint on allowed_hosts is registered by a non-admin caller"
req POST /v1/toolgroups "$(group o45::open2 "http://0x7f000001:$SG_MCP_PORT/mcp?prefix=o45o2_" o45-open)" "${AS_ALICE[@]}"
expect_status 200 "0x7f000001 is 127.0.0.1 on the list"
req POST /v1/toolgroups "$(group o45::open3 "http://127.1:$SG_MCP_PORT/mcp?prefix=o45o3_" o45-open)"
expect_status 200 "127.1 is 127.0.0.1 on the list"
for uri in "http://127.0.0.1:$closed_port/mcp" "http://localhost:$SG_MCP_PORT/mcp" "http://127.0.0.2:$SG_MCP_PORT/mcp" \
	"http://mcp.o45.example:8080/mcp"; do
	req POST /v1/toolgroups "$(group o45::open-no "$uri" o45-open)"
	expect_status 403 "allowed_hosts does not permit $uri"
	expect_jq .error.message "${msgs[0]/model-context-protocol/o45-open}" "with the same message (naming this provider)"
done

# The provider's headers go to its MCP servers; another provider's groups get none.
auth0=$(mcp_stat auth_ok)
req POST /v1/toolgroups "$(group o45::auth "$MCP/mcp-auth?prefix=o45h_" o45-open)"
expect_status 200 "the provider's configured Authorization header reaches the MCP server"
(($(mcp_stat auth_ok) > auth0)) && pass "the server saw the header" || fail "the server did not see the header"
req POST /v1/toolgroups "$(group o45::auth2 "$MCP/mcp-auth?prefix=o45h2_")" "${AS_ROOT[@]}"
expect_status 502 "without the header (another provider) the server refuses"
expect_body_contains "HTTP status 401" "the 502 names the 401"
req GET /v1/providers/o45-open
expect_jq '.config.headers.Authorization' '********' "/v1/providers masks the MCP provider's Authorization header"
expect_jq '.config.headers.Cookie' '********' "…and every header value, whatever the header's name (Cookie)"
if [[ $BODY == *mcp-test-secret* || $BODY == *mcp-cookie-secret* ]]; then
	fail "the MCP provider's header values are not in /v1/providers"
else
	pass "the MCP provider's header values are not in /v1/providers"
fi
# An MCP server whose error echoes the credentials it was sent: the 502 and the log hold neither.
req POST /v1/toolgroups "$(group o45::echo "$MCP/mcp-echo?prefix=o45e_" o45-open)"
expect_status 502 "an MCP server's JSON-RPC error is 502"
expect_body_contains "refused" "…with the server's message"
if [[ $BODY == *mcp-test-secret* || $BODY == *mcp-cookie-secret* ]]; then
	fail "…without the provider's header values the server echoed" "$BODY"
else
	pass "…without the provider's header values the server echoed"
fi
if grep -q 'mcp-test-secret\|mcp-cookie-secret' "$SG_RUN/logs/stackgate.log"; then
	fail "no log line holds the MCP provider's header values" "$(grep -m2 'mcp-test-secret\|mcp-cookie-secret' "$SG_RUN/logs/stackgate.log")"
else
	pass "no log line holds the MCP provider's header values"
fi

# Configured limits: read_timeout 2, total_timeout 4, max_response_bytes 65536.
t0=$(now_ms)
req POST /v1/toolgroups "$(group o45::hang2 "$MCP/mcp-hang" o45-open)"
t1=$(now_ms)
expect_status 504 "silence beyond read_timeout is 504"
((t1 - t0 >= 1800 && t1 - t0 < 3800)) && pass "after about 2 s ($((t1 - t0)) ms)" || fail "read_timeout 2 took $((t1 - t0)) ms"
t0=$(now_ms)
req POST /v1/toolgroups "$(group o45::drip "$MCP/mcp-drip" o45-open)"
t1=$(now_ms)
expect_status 504 "a server that keeps talking without answering hits total_timeout: 504"
((t1 - t0 >= 3800 && t1 - t0 < 6000)) && pass "after about 4 s ($((t1 - t0)) ms)" || fail "total_timeout 4 took $((t1 - t0)) ms"
t0=$(now_ms)
req POST /v1/toolgroups "$(group o45::big "$MCP/mcp-big" o45-open)"
t1=$(now_ms)
expect_status 502 "an answer beyond max_response_bytes is 502"
expect_body_contains "65536 bytes" "the 502 names the limit"
((t1 - t0 < 2000)) && pass "and it stops at once ($((t1 - t0)) ms)" || fail "the large answer took $((t1 - t0)) ms"

for g in o45::admin o45::open1 o45::open2 o45::open3 o45::auth; do req DELETE "/v1/toolgroups/$g" "" "${AS_ROOT[@]}"; done
if sg_restart_daemon; then pass "the daemon restarts with the test config"; else fail "restart with the test config"; fi
req DELETE /v1/toolgroups/o45::tiny
