# SPDX-License-Identifier: Apache-2.0
# 36_list_buffering.sh: nginx buffers every answer but the server-sent event streams (stackgate
# marks those with X-Accel-Buffering: no), so a slow client reading a large list does not hold a
# stackgate thread while it reads: 4,000 models with 4 KiB of metadata each (a list of about
# 17 MB, more than the socket buffers between stackgate, nginx and the client hold) are read by a
# client limited to 32 KiB/s; stackgate must have finished the request (its access-log line) within
# 3 s, long before the client has read the list. (50_openai.sh checks that streams still stream.)

N36=4000
psql_q "DELETE FROM models WHERE identifier LIKE 'lb36-%'" >/dev/null
psql_q "INSERT INTO models (identifier, provider_id, provider_resource_id, has_acl, metadata, model_type)
	SELECT 'lb36-' || lpad(g::text, 4, '0'), 'vllm-short', 'upstream-' || g, false,
	       jsonb_build_object('pad', repeat('x', 4096)), 'llm'
	FROM generate_series(1, $N36) AS g" >/dev/null
seen=0
for _ in $(seq 100); do
	req GET /v1/models
	seen=$(jq '[.data[] | select(.identifier | startswith("lb36-"))] | length' <<<"$BODY" 2>/dev/null)
	[[ $seen == "$N36" ]] && break
	sleep 0.2
done
expect_eq "$seen" "$N36" "the $N36 large models are listed"
size=${#BODY}
((size > 16000000)) && pass "the list is large ($size bytes)" || fail "the list is large" "$size bytes"

hdr=$SG_TEST_DIR/tmp/lb36.hdr
rm -f "$hdr"
curl -s --limit-rate 32k --max-time 60 -D "$hdr" -o /dev/null "$SG_URL/v1/models" &
slow=$!
rid=""
done_ms=""
t0=$(date +%s%3N)
for _ in $(seq 30); do
	sleep 0.1
	[[ -z $rid && -s $hdr ]] && rid=$(grep -i '^x-request-id:' "$hdr" | cut -d: -f2 | tr -d ' \r')
	if [[ -n $rid ]] && grep -q "rid=$rid GET /v1/models 200" "$SG_RUN/logs/stackgate.log"; then
		done_ms=$(($(date +%s%3N) - t0))
		break
	fi
done
if [[ -z $done_ms ]]; then
	for _ in $(seq 20); do
		sleep 0.1
		if [[ -n $rid ]] && grep -q "rid=$rid GET /v1/models 200" "$SG_RUN/logs/stackgate.log"; then
			done_ms=$(($(date +%s%3N) - t0))
			break
		fi
	done
fi
if kill -0 "$slow" 2>/dev/null; then
	pass "the slow client is still reading"
else
	fail "the slow client is still reading" "it finished within seconds"
fi
if [[ -n $done_ms ]]; then
	pass "stackgate finished the slow client's list request in $done_ms ms (nginx holds the rest)"
else
	fail "stackgate finished the slow client's list request within 5 s" "request id '${rid}': no access-log line yet"
fi
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null

psql_q "DELETE FROM models WHERE identifier LIKE 'lb36-%'" >/dev/null
poll 20 none_listed lb36- && pass "after the clean-up no lb36 model is listed" ||
	fail "after the clean-up no lb36 model is listed (polled 20 s)"
