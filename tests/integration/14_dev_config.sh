# SPDX-License-Identifier: Apache-2.0
# 14_dev_config.sh: STACKGATE_CONFIG=my.json ./dev up runs the user's own config, shaped like
# the README's (a socket under /run/stackgate, or no server section at all), on ./dev's socket and
# pid file under var/.  The rewrite is ./dev's own function (the internal entry point
# `./dev _user_config IN OUT RUN`, which `./dev up` calls with RUN = var/); here RUN is the test
# stack's run directory, so the rewritten config is then served through the test stack's nginx.

dcf=$SG_TEST_DIR/devconf
rm -rf "$dcf"
mkdir -p "$dcf"

# The README's example, with this stack's upstream, and a provider id the test config lacks.
cat >"$dcf/readme.json" <<'EOF'
{
  "server":   { "socket": "/run/stackgate/stackgate.sock", "socket_mode": "0660",
                "socket_group": "www-data", "workers": 1, "threads": 8,
                "pid_file": "/run/stackgate/stackgate.pid" },
  "database": { "conninfo": "${env.STACKGATE_DATABASE_URL:}" },
  "auth":     { "required": false, "admin_roles": ["admin"] },
  "providers": {
    "inference": [ { "provider_id": "readme-vllm", "provider_type": "remote::vllm",
                     "config": { "url": "${env.SG_UPSTREAM_URL}/v1",
                                 "api_token": "${env.VLLM_API_TOKEN:fake}" } } ]
  },
  "models": []
}
EOF
# The same without a server section.
jq 'del(.server) | .providers.inference[0].provider_id = "noserver-vllm"' "$dcf/readme.json" >"$dcf/noserver.json"

# user_config NAME: runs ./dev's rewrite of $dcf/NAME.json into $dcf/NAME.out.json; sets UC_RC and UC_ERR.
user_config() {
	UC_ERR=$("$SG_ROOT/dev" _user_config "$dcf/$1.json" "$dcf/$1.out.json" "$SG_RUN" 2>&1 >/dev/null)
	UC_RC=$?
}
# the config without server.socket and server.pid_file, compact and key-sorted
rest_of() { jq -cS 'del(.server.socket, .server.pid_file)' "$1" 2>&1; }

user_config readme
expect_eq "$UC_RC" 0 "./dev _user_config rewrites the README's config"
expect_eq "$(jq -r '.server.socket' "$dcf/readme.out.json" 2>&1)" "$SG_RUN/stackgate.sock" \
	"server.socket is ./dev's own, under the run directory"
expect_eq "$(jq -r '.server.pid_file' "$dcf/readme.out.json" 2>&1)" "$SG_RUN/stackgate.pid" \
	"server.pid_file is ./dev's own, under the run directory"
expect_eq "$(rest_of "$dcf/readme.out.json")" "$(rest_of "$dcf/readme.json")" \
	"every other key of the user's config is kept as it was (\${env.…} references unexpanded)"
if [[ $UC_ERR == *"server.socket"*"$SG_RUN/stackgate.sock"* && $UC_ERR == *"$dcf/readme.json"* ]]; then
	pass "./dev says on stderr which file it runs and what it replaced"
else
	fail "./dev says on stderr which file it runs and what it replaced" "stderr: $UC_ERR"
fi

user_config noserver
expect_eq "$UC_RC" 0 "./dev _user_config rewrites a config without a server section"
expect_eq "$(jq -c '.server' "$dcf/noserver.out.json" 2>&1)" \
	"{\"socket\":\"$SG_RUN/stackgate.sock\",\"pid_file\":\"$SG_RUN/stackgate.pid\",\"socket_group\":\"www-data\"}" \
	"the server section is created: ./dev's socket and pid file, and nginx's group (www-data) since none is set"
expect_eq "$(jq -cS 'del(.server)' "$dcf/noserver.out.json" 2>&1)" "$(jq -cS 'del(.server)' "$dcf/noserver.json")" \
	"the rest of the config without a server section is kept as it was"

# A user's socket_group stays the user's.
jq '.server.socket_group = "adm"' "$dcf/readme.json" >"$dcf/group.json"
user_config group
expect_eq "$(jq -r '.server.socket_group' "$dcf/group.out.json" 2>&1)" adm "a socket_group the user set is kept"

# Not JSON: an error that names the file, and no output file.
printf '{ "server": ' >"$dcf/broken.json"
user_config broken
if [[ $UC_RC != 0 && $UC_ERR == *"$dcf/broken.json"* && ! -e $dcf/broken.out.json ]]; then
	pass "a config that is not JSON is refused with its name, and nothing is written"
else
	fail "a config that is not JSON is refused with its name, and nothing is written" "rc $UC_RC, stderr: $UC_ERR"
fi

# The rewritten configs run: a daemon on them answers through the test stack's nginx (which
# connects to $SG_RUN/stackgate.sock as www-data) and serves the user's providers.
for name in readme noserver; do
	pid=${name}-vllm
	if [[ -f $dcf/$name.out.json ]] && sg_restart_daemon "$dcf/$name.out.json" >"$dcf/$name.start.log" 2>&1; then
		pass "$name: stackgate starts on the rewritten config and answers through nginx"
		req GET /v1/providers
		expect_status 200 "$name: /v1/providers answers"
		expect_jq "[.data[] | select(.provider_id == \"$pid\")] | length" 1 "$name: the user's provider $pid is served"
	else
		fail "$name: stackgate starts on the rewritten config and answers through nginx" \
			"$(tail -5 "$dcf/$name.start.log" 2>/dev/null)"
	fi
done
sg_restart_daemon >/dev/null 2>&1 || fail "the test daemon is back on the test config"
rm -rf "$dcf"

echo "-- ./dev _stack_down removes the auth cache directory its nginx config made on tmpfs"
drun=$SG_TEST_DIR/tmp/dev-down-run
rm -rf "$drun"
mkdir -p "$drun"
"$SG_ROOT/dev" _render_nginx "$drun/nginx.conf" "$drun" 18999 "$drun/stackgate.sock" >/dev/null 2>&1
[[ -d /dev/shm/stackgate-auth-18999 ]] && pass "render_nginx makes /dev/shm/stackgate-auth-18999" ||
	fail "render_nginx makes /dev/shm/stackgate-auth-18999"
"$SG_ROOT/dev" _stack_down "$drun" >/dev/null 2>&1
[[ ! -e /dev/shm/stackgate-auth-18999 ]] && pass "and _stack_down removes it (it holds bearer keys in its cache keys)" ||
	fail "and _stack_down removes it (it holds bearer keys in its cache keys)" "/dev/shm/stackgate-auth-18999 is left"
rm -rf "$drun" /dev/shm/stackgate-auth-18999
