# SPDX-License-Identifier: Apache-2.0
# 13_client_version.sh: Llama Stack's client version check (X-LlamaStack-Client-Version, sent by
# the Python llama-stack-client), widened to the generations stackgate serves: 426 only for a
# version older than 0.2 or newer than 0.7; server.client_version_check: false turns it off.

cv() { req GET "$1" "" -H "X-LlamaStack-Client-Version: $2"; }

for v in 0.2.7 0.2.0 0.5.1 0.7.3 0.7.3rc1 dev; do
	cv /v1/models "$v"
	expect_status 200 "client version '$v' is served"
done
for v in 0.1.9 0.8.0 0.10.0 1.0.0; do
	cv /v1/models "$v"
	expect_status 426 "client version '$v' is 426"
done
cv /v1/models 0.1.9
expect_jq '.error.message' \
	"client version 0.1.9 is not compatible with this server, which serves Llama Stack API versions 0.2 to 0.7 (llama-stack-client 0.2.x to 0.7.x); use a client of one of those versions" \
	"the 426 names the client's version and the versions served"
expect_jq '.error.type' invalid_request_error "the 426 is in OpenAI's error shape"
cv /v1/health 9.9.9
expect_status 426 "the check covers every route, /v1/health too"
cv /v1/openai/v1/models 0.1.0
expect_status 426 "…and the OpenAI routes"
cv /v1/models "$(printf '0.1.\xff')"
expect_status 426 "a version with odd bytes after it is still read, and refused"
expect_jq '.error.message | startswith("client version 0.1.")' true "…with a valid JSON body"

off=$SG_TEST_DIR/client-version-off.json
jq '.server.client_version_check = false' "$SG_CONFIG" >"$off"
sg_restart_daemon "$off"
cv /v1/models 0.1.9
expect_status 200 "server.client_version_check false turns the check off"
sg_restart_daemon
cv /v1/models 0.1.9
expect_status 426 "the check is on again by default"
