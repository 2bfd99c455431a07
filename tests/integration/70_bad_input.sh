# SPDX-License-Identifier: Apache-2.0
# 70_bad_input.sh: hostile and broken input through real nginx.  Every bad body
# is refused with the right 4xx, a message that names the problem, and nothing
# stored (checked in the table) or forwarded (checked at the test upstream):
# malformed JSON, wrong types, missing fields, huge numbers, nesting past
# max_json_depth (32), bodies past max_body_bytes (1 MiB), invalid UTF-8, NUL
# bytes (escaped and raw), over-long identifiers, path tricks, invalid UTF-8 in
# a path or a query, messages that cut a value inside a character, duplicate keys,
# bodies that are not objects.  SQL metacharacters are stored and returned
# literally.  Content-Type is not checked (decided: like Llama Stack, any
# Content-Type is accepted and the body is parsed as JSON).  Then the security
# items: no secret in any log or response, keys stored hashed, no identity
# from client headers, the FastCGI socket 0660 group www-data.
# Identifiers start with bad-.

OA=/v1/openai/v1
BAD=$SG_TEST_DIR/tmp/bad
mkdir -p "$BAD"
PROVIDER_KEY=upstream-secret-token

# send METHOD PATH FILE [curl args…]: the body is the file's bytes, unchanged.
send() {
	local method=$1 path=$2 file=$3
	shift 3
	HDRS=$(mktemp -p "$SG_TEST_DIR/tmp")
	STATUS=$(curl -s -S -o "$BAD/resp" -D "$HDRS" -w '%{http_code}' -X "$method" --max-time 30 \
		-H 'Content-Type: application/json' --data-binary "@$file" "$@" "$SG_URL$path" 2>/dev/null) || STATUS=000
	BODY=$(cat "$BAD/resp" 2>/dev/null)
	REQ_DESC="$method $path $(head -c 200 "$file" | tr -c '[:print:]' '?') ($(wc -c <"$file") bytes)"
}
# body TEXT: printf's %b expansion of TEXT into a new file (for raw bytes); prints its name.
body() {
	local f
	f=$(mktemp -p "$BAD" body.XXXXXX)
	printf '%b' "$1" >"$f"
	echo "$f"
}
# stored ID: the number of models with identifier ID (ID ending in '*': starting with it).
stored() {
	if [[ $1 == *'*' ]]; then
		psql_q "SELECT count(*) FROM models WHERE starts_with(identifier, \$\$${1%'*'}\$\$)"
	else
		psql_q "SELECT count(*) FROM models WHERE identifier = \$\$$1\$\$"
	fi
}
# refused NAME STATUS REGEX ID: the last answer is STATUS, its error.message
# matches REGEX, and model ID is not in the table.
refused() {
	local name=$1 want=$2 re=$3 id=$4 msg
	msg=$(jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null)
	if [[ $STATUS == "$want" ]] && grep -Eq -- "$re" <<<"$msg" && [[ $(stored "$id") == 0 ]]; then
		pass "$name: $want \"${msg:0:90}\", nothing stored"
	else
		fail "$name: $want naming the problem, nothing stored" "status $STATUS, message '$msg' (want /$re/), rows for $id: $(stored "$id")"
	fi
}
reg_file() { send POST /v1/models "$1"; }

psql_q "DELETE FROM models WHERE identifier LIKE 'bad-%' OR identifier IN ('.', '..')" >/dev/null

echo "-- malformed JSON, wrong types, missing fields"
reg_file "$(body '{"model_id": "bad-m1", "provider_id": "vllm-short"')"
refused "malformed JSON (unterminated object)" 400 '^invalid JSON body: line 1, column [0-9]+' bad-m1
reg_file "$(body '{"model_id": "bad-m2", "provider_id": "vllm-short"} trailing')"
refused "trailing garbage after the object" 400 '^invalid JSON body: .*end of file expected' bad-m2
reg_file "$(body "{'model_id': 'bad-m3', 'provider_id': 'vllm-short'}")"
refused "single-quoted JSON" 400 '^invalid JSON body' bad-m3
reg_file "$(body '{"model_id": "bad-m4", "provider_id": "vllm-short",}')"
refused "a trailing comma" 400 '^invalid JSON body' bad-m4
reg_file "$(body '{"model_id": 7, "provider_id": "vllm-short"}')"
refused "model_id as a number" 400 '^model_id must be a string$' 7
expect_jq .error.param model_id "the type error names model_id in param"
reg_file "$(body '{"model_id": "bad-m5", "provider_id": "vllm-short", "metadata": "x"}')"
refused "metadata as a string" 400 '^metadata must be an object$' bad-m5
expect_jq .error.param metadata "the type error names metadata in param"
reg_file "$(body '{"model_id": "bad-m6", "provider_id": ["vllm-short"]}')"
refused "provider_id as an array" 400 'provider_id must be a string' bad-m6
reg_file "$(body '{"model_id": "bad-m7", "provider_id": "vllm-short", "model_type": 1}')"
refused "model_type as a number" 400 'model_type must be a string' bad-m7
reg_file "$(body '{"provider_id": "vllm-short"}')"
refused "model_id missing" 400 '^model_id is required$' bad-m8
reg_file "$(body '')"
refused "an empty body" 400 '^model_id is required$' bad-m9

echo "-- numbers"
reg_file "$(body '{"model_id": "bad-n1", "provider_id": "vllm-short", "metadata": {"x": 1e999999}}')"
refused "1e999999" 400 'real number overflow' bad-n1
reg_file "$(body '{"model_id": "bad-n2", "provider_id": "vllm-short", "metadata": {"x": -1e999999}}')"
refused "-1e999999" 400 'real number overflow' bad-n2
digits=$(printf '9%.0s' $(seq 400))
reg_file "$(body "{\"model_id\": \"bad-n3\", \"provider_id\": \"vllm-short\", \"metadata\": {\"x\": $digits}}")"
refused "an integer with 400 digits" 400 'too big integer' bad-n3
reg_file "$(body "{\"model_id\": \"bad-n4\", \"provider_id\": \"vllm-short\", \"metadata\": {\"x\": -$digits}}")"
refused "a negative integer with 400 digits" 400 'too big negative integer' bad-n4
reg_file "$(body '{"model_id": "bad-n5", "provider_id": "vllm-short", "metadata": {"x": NaN}}')"
refused "NaN" 400 '^invalid JSON body' bad-n5
reg_file "$(body '{"model_id": "bad-n6", "provider_id": "vllm-short", "model_type": "embedding", "metadata": {"embedding_dimension": 1e999999}}')"
refused "1e999999 as embedding_dimension" 400 'real number overflow' bad-n6

echo "-- nesting and size limits"
nest() { printf '[%.0s' $(seq "$1"); printf ']%.0s' $(seq "$1"); }
# The object is level 1, metadata level 2, so 30 arrays inside make 32.
reg_file "$(body "{\"model_id\": \"bad-d32\", \"provider_id\": \"vllm-short\", \"metadata\": {\"a\": $(nest 30)}}")"
expect_status 200 "nesting of exactly max_json_depth (32) is accepted"
reg_file "$(body "{\"model_id\": \"bad-d33\", \"provider_id\": \"vllm-short\", \"metadata\": {\"a\": $(nest 31)}}")"
refused "nesting of 33 (max_json_depth 32)" 400 'nesting depth 33 exceeds the limit of 32' bad-d33
reg_file "$(body "{\"model_id\": \"bad-d5000\", \"provider_id\": \"vllm-short\", \"metadata\": {\"a\": $(nest 5000)}}")"
refused "nesting of 5002" 400 'exceeds the limit of 32' bad-d5000
# Brackets inside strings are not nesting.
reg_file "$(body "{\"model_id\": \"bad-d-str\", \"provider_id\": \"vllm-short\", \"metadata\": {\"a\": \"$(nest 100)\"}}")"
expect_status 200 "brackets inside a string do not count as nesting"
# exactly NAME BYTES: a registration body of exactly BYTES bytes (padding in metadata).
exactly() {
	local id=$1 size=$2 head tail pad
	head="{\"model_id\": \"$id\", \"provider_id\": \"vllm-short\", \"metadata\": {\"pad\": \""
	tail='"}}'
	pad=$((size - ${#head} - ${#tail}))
	{ printf '%s' "$head"; head -c "$pad" /dev/zero | tr '\0' 'a'; printf '%s' "$tail"; } >"$BAD/size.$size"
	echo "$BAD/size.$size"
}
f=$(exactly bad-s1 1048576)
reg_file "$f"
expect_status 200 "a body of exactly max_body_bytes ($(wc -c <"$f") bytes) is accepted"
f=$(exactly bad-s2 1048577)
reg_file "$f"
refused "a body of max_body_bytes + 1 ($(wc -c <"$f") bytes)" 413 'request body exceeds the limit of 1048576 bytes' bad-s2
f=$(exactly bad-s3 4000000)
reg_file "$f"
refused "a body of 4 MB" 413 'exceeds the limit of 1048576 bytes' bad-s3
f=$(exactly bad-s4 1048577)
send POST /v1/models "$f" -H 'Transfer-Encoding: chunked'
refused "1 MiB + 1 sent chunked (no Content-Length)" 413 'exceeds the limit of 1048576 bytes' bad-s4

echo "-- encodings"
reg_file "$(body '{"model_id": "bad-u1\xff\xfe", "provider_id": "vllm-short"}')"
refused "invalid UTF-8 (0xff 0xfe) in a string" 400 'unable to decode byte 0xff' 'bad-u1*'
reg_file "$(body '{"model_id": "bad-u2", "provider_id": "vllm-short", "metadata": {"k\xfe": 1}}')"
refused "invalid UTF-8 in an object key" 400 'unable to decode byte 0xfe' bad-u2
reg_file "$(body '{"model_id": "bad-u3\xc0\xaf", "provider_id": "vllm-short"}')"
refused "an overlong UTF-8 encoding (0xc0 0xaf)" 400 'unable to decode byte 0xc0' bad-u3
reg_file "$(body '{"model_id": "bad-u4\xed\xa0\x80", "provider_id": "vllm-short"}')"
refused "a UTF-8 encoded surrogate (0xed 0xa0 0x80)" 400 'unable to decode byte 0xed' 'bad-u4*'
reg_file "$(body '{"model_id": "bad-u5\\ud800", "provider_id": "vllm-short"}')"
refused "a lone surrogate escape \\ud800" 400 'invalid Unicode' 'bad-u5*'
reg_file "$(body '{"model_id": "bad-z1\\u0000x", "provider_id": "vllm-short"}')"
refused "an escaped NUL (\\u0000) in a string" 400 '\\u0000 is not allowed' 'bad-z1*'
reg_file "$(body '{"model_id": "bad-z2", "provider_id": "vllm-short", "metadata": {"k": "a\\u0000b"}}')"
refused "an escaped NUL in metadata" 400 '\\u0000 is not allowed' bad-z2
reg_file "$(body '{"model_id": "bad-z3\x00x", "provider_id": "vllm-short"}')"
refused "a raw NUL byte in the body" 400 'the body contains a NUL byte' 'bad-z3*'
reg_file "$(body '{"model_id": "bad-z4", "provider_id": "vllm-short"}\x00')"
refused "a raw NUL byte after the object" 400 'the body contains a NUL byte' bad-z4
reg_file "$(body '{"model_id": "bad-c1\\u0007b", "provider_id": "vllm-short"}')"
refused "a control character in an identifier" 400 'model_id must not contain control characters' 'bad-c1*'
reg_file "$(body '{"model_id": "bad-c2\\u0085b", "provider_id": "vllm-short"}')"
refused "a C1 control character (U+0085) in an identifier" 400 'model_id must not contain control characters' 'bad-c2*'
# Valid non-ASCII is fine, and comes back as it was sent.
reg_file "$(body '{"model_id": "bad-\xc3\xbc\xe2\x82\xac\xf0\x9f\xa6\x99", "provider_id": "vllm-short"}')"
expect_status 200 "valid multi-byte UTF-8 in an identifier is accepted"
expect_jq .identifier "bad-ü€🦙" "and returned byte for byte"

echo "-- duplicate keys, bodies that are not objects"
reg_file "$(body '{"model_id": "bad-k1", "provider_id": "vllm-short", "model_id": "bad-k2"}')"
refused "a duplicate key (model_id twice)" 400 'duplicate object key' bad-k1
[[ $(stored bad-k2) == 0 ]] && pass "…and neither value is stored" || fail "duplicate key: neither value stored"
reg_file "$(body '{"model_id": "bad-k3", "provider_id": "vllm-short", "metadata": {"a": 1, "a": 2}}')"
refused "a duplicate key inside metadata" 400 'duplicate object key' bad-k3
reg_file "$(body '[{"model_id": "bad-a1", "provider_id": "vllm-short"}]')"
refused "a body that is an array" 400 'must be a JSON object' bad-a1
reg_file "$(body '"bad-a2"')"
refused "a body that is a string" 400 "'\\[' or '\\{' expected|must be a JSON object" bad-a2
reg_file "$(body 'null')"
refused "a body that is null" 400 "'\\[' or '\\{' expected|must be a JSON object" bad-a3
reg_file "$(body '42')"
refused "a body that is a number" 400 "'\\[' or '\\{' expected|must be a JSON object" bad-a4

echo "-- Content-Type is not checked (as in Llama Stack)"
f=$(body '{"model_id": "bad-ct1", "provider_id": "vllm-short"}')
STATUS=$(curl -s -o "$BAD/resp" -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary "@$f" "$SG_URL/v1/models")
expect_eq "$STATUS:$(stored bad-ct1)" "200:1" "Content-Type: text/plain is accepted and the body parsed as JSON"
f=$(body '{"model_id": "bad-ct2", "provider_id": "vllm-short"}')
STATUS=$(curl -s -o "$BAD/resp" -w '%{http_code}' -H 'Content-Type:' --data-binary "@$f" "$SG_URL/v1/models")
expect_eq "$STATUS:$(stored bad-ct2)" "200:1" "no Content-Type is accepted"
f=$(body '{"model_id": "bad-ct3", "provider_id": "vllm-short"')
STATUS=$(curl -s -o "$BAD/resp" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "@$f" "$SG_URL/v1/models")
expect_eq "$STATUS:$(stored bad-ct3)" "400:0" "a form Content-Type with broken JSON is still a JSON 400"

echo "-- identifiers: length"
# The limit counts characters: 255 of 2-byte UTF-8 (510 bytes) are as fine as 255 ASCII.
ids255=()
for c in x '\xc3\xa9'; do
	kind=$([[ $c == x ]] && echo ASCII || echo "2-byte UTF-8")
	id255="bad-$(printf "$c%.0s" $(seq 251))"
	id256="bad-$(printf "$c%.0s" $(seq 252))"
	reg_file "$(body "{\"model_id\": \"$id255\", \"provider_id\": \"vllm-short\"}")"
	expect_status 200 "an identifier of 255 $kind characters is accepted"
	ids255+=("$id255")
	reg_file "$(body "{\"model_id\": \"$id256\", \"provider_id\": \"vllm-short\"}")"
	refused "an identifier of 256 $kind characters" 400 'model_id must be at most 255 characters long' "$id256"
done
id256="bad-$(printf 'x%.0s' $(seq 252))"
reg_file "$(body "{\"model_id\": \"bad-$(printf 'y%.0s' $(seq 5000))\", \"provider_id\": \"vllm-short\"}")"
refused "an identifier of 5004 characters" 400 'at most 255 characters' 'bad-yyyyyyyyyy*'
reg_file "$(body '{"model_id": "", "provider_id": "vllm-short"}')"
refused "an empty identifier" 400 'model_id must not be empty' ''
req GET "/v1/models/$id256"
expect_status 404 "GET of an over-long identifier is a plain 404"
req GET "/v1/models/bad-$(printf 'x%.0s' $(seq 4000))"
[[ $STATUS == 404 || $STATUS == 414 ]] && pass "GET of a 4000-character identifier is 404 or 414 ($STATUS)" ||
	fail "GET of a 4000-character identifier" "status $STATUS"

echo "-- path tricks"
# PATH|STATUS|WHAT, each sent as it is (--path-as-is).
while IFS='|' read -r path want what; do
	req GET "$path" '' --path-as-is
	expect_status "$want" "$what"
	[[ $want != 400 ]] || expect_jq .error.type invalid_request_error "…in the JSON error shape ($path)"
done <<'CASES'
/../../etc/passwd|400|a '..' above the root is 400 (nginx refuses it)
/v1/models/../../../etc/passwd|400|'../' climbing above the root is 400 (nginx refuses it)
/v1/models/a/../b|400|a '..' segment is 400
/v1/models/bad-x/../../providers|400|'../' segments inside the tree are 400 (stackgate refuses them)
/v1/models/%2e%2e/x|400|an encoded '..' segment is 400
/v1/models/%2e%2e%2f%2e%2e%2fetc%2fpasswd|400|encoded '../' segments are 400
/v1/models/bad-x%2f..%2f..%2fsecret|400|an encoded '/../' inside an id is 400
/v1/models/%00x|400|an encoded NUL in the path is 400
/v1/models/bad-x%00y|400|an encoded NUL inside an id is 400
/v1/models/bad-x%zz|400|broken percent-encoding is 400
/v1//models|404|'//' in a route is 404 (never another route)
CASES
req GET '/v1/models/bad-x/../../providers' '' --path-as-is
expect_jq .error.message "the request path must not contain '.' or '..' segments" "…and the message says why"
req GET '/v1/models%2Fbad-x' '' --path-as-is
[[ $STATUS == 404 && $(jq -r '.data // empty' <<<"$BODY") == "" ]] && pass "an encoded '/' never joins route segments (404)" ||
	fail "encoded '/' joining route segments" "status $STATUS"
# Identifiers that look like paths: each is either refused at registration (400
# naming model_id) or stored AND reachable by GET and DELETE with every
# character outside [A-Za-z0-9._~-] percent-encoded.  An identifier that can be
# registered but never read or unregistered again is a defect.
enc() { jq -rn --arg s "$1" '$s | @uri'; }
n_trick=0
for id in 'bad-t/../x' '..' '.' 'bad-t//x' '/bad-t-lead' 'bad-t-trail/' 'bad-t/./x' 'bad-t-%2F-x' 'bad-t-%2e%2e' 'bad-t/ok/x'; do
	n_trick=$((n_trick + 1))
	reg_file "$(body "$(jq -nc --arg i "$id" '{model_id:$i,provider_id:"vllm-short"}' | sed 's/\\/\\\\/g')")"
	if [[ $STATUS == 400 ]]; then
		msg=$(jq -r .error.message <<<"$BODY")
		if [[ $msg == model_id* && $(psql_q "SELECT count(*) FROM models WHERE identifier = \$\$${id}\$\$") == 0 ]]; then
			pass "id '$id': refused at registration ($msg)"
		else
			fail "id '$id': refused at registration naming model_id, nothing stored" "message '$msg'"
		fi
		continue
	fi
	if [[ $STATUS != 200 ]]; then fail "id '$id': registration answers 200 or 400" "status $STATUS"; continue; fi
	req GET "/v1/models/$(enc "$id")" '' --path-as-is
	g=$STATUS
	gid=$(jq -r .identifier <<<"$BODY" 2>/dev/null)
	req DELETE "/v1/models/$(enc "$id")" '' --path-as-is
	d=$STATUS
	left=$(psql_q "SELECT count(*) FROM models WHERE identifier = \$\$${id}\$\$")
	if [[ $g == 200 && $gid == "$id" && $d == 200 && $left == 0 ]]; then
		pass "id '$id': accepted, then GET and DELETE by /v1/models/$(enc "$id") work"
	else
		fail "id '$id': accepted at registration, so GET and DELETE by its encoded path must work" \
			"GET /v1/models/$(enc "$id") -> $g ($gid), DELETE -> $d, rows left $left"
		psql_q "DELETE FROM models WHERE identifier = \$\$${id}\$\$" >/dev/null
	fi
done
# The same rule for another resource type (the identifier check is shared).
req POST /v1/datasets '{"dataset_id":"bad-ds/../x","purpose":"eval/messages-answer","source":{"type":"uri","uri":"huggingface://bad/x"}}'
if [[ $STATUS == 400 ]]; then pass "dataset id 'bad-ds/../x' refused at registration"; else
	req GET "/v1/datasets/$(enc 'bad-ds/../x')" '' --path-as-is
	[[ $STATUS == 200 ]] && pass "dataset id 'bad-ds/../x' reachable by its encoded path" ||
		fail "dataset id 'bad-ds/../x': accepted at registration, so GET by its encoded path must work" "GET -> $STATUS"
	psql_q "DELETE FROM datasets WHERE identifier = 'bad-ds/../x'" >/dev/null
fi

echo "-- invalid UTF-8 in a path or a query; messages that cut a value inside a character"
# json_error NAME STATUS REGEX: the last answer is STATUS with a body jq parses
# whose error.message matches REGEX (and is the detail too).
json_error() {
	local name=$1 want=$2 re=$3 msg
	if [[ $STATUS == "$want" ]] && msg=$(jq -er '.error.message' <<<"$BODY" 2>/dev/null) &&
		grep -Eq -- "$re" <<<"$msg" && [[ $(jq -r .detail <<<"$BODY") == "$msg" ]]; then
		pass "$name: $want \"${msg:0:80}\" in valid JSON"
	else
		fail "$name: $want with a valid JSON body naming the problem" "status $STATUS, want /$re/, body $(head -c 160 <<<"$BODY" | cat -v)"
	fi
}
# METHOD|PATH|STATUS|REGEX|WHAT (\xNN in PATH is the raw byte).
while IFS='|' read -r method path want re what; do
	req "$method" "$(printf '%b' "$path")" '' --path-as-is
	json_error "$what" "$want" "$re"
done <<'CASES'
GET|/v1/models/%ff%fe|400|^the request path is not valid UTF-8$|GET /v1/models/%ff%fe
DELETE|/v1/models/bad-%c3|400|not valid UTF-8|DELETE of an id ending in half a character (%c3)
GET|/v1/models/bad-%c0%af|400|not valid UTF-8|an overlong encoding in the path (%c0%af)
GET|/v1/models/bad-%ed%a0%80|400|not valid UTF-8|an encoded surrogate in the path (%ed%a0%80)
GET|/v1/models/bad-\xffx|400|not valid UTF-8|a raw 0xff byte in the path
GET|/v1/models/bad-%c3%a9-none|404|^Model 'bad-é-none' not found$|a well-formed é in the path is an id like any other
GET|/v1/tools?toolgroup_id=%ff|400|^the query string is not valid UTF-8$|a query value that is not UTF-8 (toolgroup_id=%ff)
GET|/v1/tools?toolgroup_id=bad-%zz|400|query string has invalid percent-encoding|a query value with broken percent-encoding
CASES
req GET '/v1/tools?toolgroup_id=bad-%c3%a9-none'
expect_status 200 "a well-formed é in a query value filters as usual (200)"
expect_jq '.data | length' 0 "…and matches nothing"
# Messages cut values at 300 bytes: a cut inside a character must not break the body.
a299=$(printf 'a%.0s' $(seq 299))
req GET "/v1/models/$a299%c3%a9%c3%a9tail" '' --path-as-is
json_error "GET of an unknown id whose 300-byte cut falls inside 'é'" 404 "^Model '$a299.{0,1}' not found$"
# 'bad-x' and 150 four-byte characters: 605 bytes (155 characters, within the
# identifier limit).  The conflict message shows the identifier cut to 300
# bytes, which would end 3 bytes into a character: it is cut before it.
uid="bad-x$(printf '\xf0\x9f\xa6\x99%.0s' $(seq 150))"
reg_file "$(body "{\"model_id\": \"$uid\", \"provider_id\": \"vllm-short\"}")"
expect_status 200 "register a model whose identifier is 155 four-byte-heavy characters (605 bytes)"
reg_file "$(body "{\"model_id\": \"$uid\", \"provider_id\": \"vllm-short\", \"provider_model_id\": \"other\"}")"
json_error "re-registering it differently: the conflict message cuts the id at a character boundary" 409 "^Model 'bad-x.*' already exists$"
req POST /v1/vector-dbs "{\"vector_db_id\":\"bad-vdb-u\",\"embedding_model\":\"bad-y$(printf 'é%.0s' $(seq 148))\",\"provider_id\":\"faiss\"}"
json_error "a vector DB naming an unknown embedding model whose cut falls inside 'é'" 400 'not found'
psql_q "DELETE FROM models WHERE identifier = \$\$$uid\$\$" >/dev/null

echo "-- SQL metacharacters are data"
sqlids=("bad-q'; DROP TABLE models;--" 'bad-q$1' 'bad-q\x' 'bad-q%s%n' 'bad-q"dq"' "bad-q\$\$; SELECT 1; \$\$")
for id in "${sqlids[@]}"; do
	js=$(jq -nc --arg i "$id" '{model_id:$i,provider_id:"vllm-short",provider_model_id:$i,
		metadata:{q:"'"'"'; DROP TABLE models;--",d:"$1 $2",b:"back\\slash",p:"%s%n%x",i:$i}}')
	req POST /v1/models "$js"
	expect_status 200 "register id $id"
	req GET "/v1/models/$(enc "$id")"
	expect_eq "$STATUS $(jq -c '[.identifier, .provider_resource_id, .metadata.i]' <<<"$BODY" 2>/dev/null)" \
		"200 $(jq -nc --arg i "$id" '[$i, $i, $i]')" "GET $id returns it literally"
	expect_jq '.metadata | [.q, .d, .b, .p] | join("|")' "'; DROP TABLE models;--|\$1 \$2|back\\slash|%s%n%x" \
		"metadata with SQL metacharacters comes back literally ($id)"
done
got=$(psql_q "SELECT identifier FROM models WHERE identifier LIKE 'bad-q%' ORDER BY identifier")
want=$(printf '%s\n' "${sqlids[@]}" | LC_ALL=C sort)
expect_eq "$(LC_ALL=C sort <<<"$got")" "$want" "the models table holds the SQL-looking ids literally"
expect_eq "$(psql_q "SELECT count(DISTINCT metadata->>'q') || ' ' || min(metadata->>'b') FROM models WHERE identifier LIKE 'bad-q%'")" \
	"1 back\\slash" "metadata is stored literally in jsonb"
req GET /v1/models
[[ $STATUS == 200 && $(jq '[.data[] | select(.identifier | startswith("bad-q"))] | length' <<<"$BODY") == "${#sqlids[@]}" ]] &&
	pass "the list shows all ${#sqlids[@]} SQL-looking ids" || fail "list with SQL-looking ids"
for id in "${sqlids[@]}"; do
	req DELETE "/v1/models/$(enc "$id")"
	expect_status 200 "unregister $id"
done
expect_eq "$(psql_q "SELECT count(*) FROM models WHERE identifier LIKE 'bad-q%'")" 0 "all SQL-looking ids are gone"

echo "-- the OpenAI routes refuse the same bodies without calling the upstream"
req POST /v1/models '{"model_id":"bad-llm","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "register bad-llm"
req0=$(curl -s "$SG_UPSTREAM_URL/_stats" | jq -r .requests)
oa() { # NAME FILE STATUS REGEX
	send POST $OA/chat/completions "$2"
	local msg
	msg=$(jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null)
	if [[ $STATUS == "$3" ]] && grep -Eq -- "$4" <<<"$msg"; then pass "chat completions, $1: $3 \"${msg:0:80}\""; else
		fail "chat completions, $1: $3 naming the problem" "status $STATUS, message '$msg'"; fi
}
oa "malformed JSON" "$(body '{"model": "bad-llm", "messages": [')" 400 '^invalid JSON body'
oa "invalid UTF-8" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "\xff\xfe"}]}')" 400 'unable to decode byte 0xff'
oa "a raw NUL byte" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "a\x00b"}]}')" 400 'NUL byte'
oa "an escaped NUL" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "a\\u0000b"}]}')" 400 '\\u0000 is not allowed'
oa "nesting of 40" "$(body "{\"model\": \"bad-llm\", \"messages\": [], \"x\": $(nest 39)}")" 400 'nesting depth 40 exceeds the limit of 32'
oa "a duplicate model key" "$(body '{"model": "bad-llm", "model": "other", "messages": []}')" 400 'duplicate object key'
oa "an array body" "$(body '[{"model": "bad-llm"}]')" 400 'must be a JSON object'
oa "1e999999" "$(body '{"model": "bad-llm", "temperature": 1e999999, "messages": []}')" 400 'real number overflow'
oa "model as a number" "$(body '{"model": 1, "messages": []}')" 400 'model'
oa "model missing" "$(body '{"messages": [{"role": "user", "content": "x"}]}')" 400 'model'
oa "a body over 1 MiB" "$(exactly bad-llm-big 1048577)" 413 'exceeds the limit of 1048576 bytes'
# What the validating scan (openai_request_scan) must refuse as the parse does.
oa "model twice, once escaped" "$(body '{"model": "bad-llm", "mod\\u0065l": "other", "messages": []}')" 400 'duplicate object key'
oa "a duplicate key deep inside" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "x", "ro\\u006ce": "y"}]}')" 400 'duplicate object key'
oa "a lone surrogate" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "\\ud800"}]}')" 400 'invalid Unicode'
oa "an integer past int64" "$(body '{"model": "bad-llm", "max_tokens": 9223372036854775808, "messages": []}')" 400 'too big integer'
oa "stream as a string" "$(body '{"model": "bad-llm", "stream": "yes", "messages": []}')" 400 'stream must be a boolean'
oa "an overlong UTF-8 sequence" "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "\xc0\xaf"}]}')" 400 'unable to decode byte 0xc0'
req1=$(curl -s "$SG_UPSTREAM_URL/_stats" | jq -r .requests)
# (the upstream counts every request it gets, the second /_stats included)
expect_eq "$((req1 - req0 - 1))" 0 "none of the 17 refused bodies reached the upstream"
send POST $OA/chat/completions "$(body '{"model": "bad-llm", "messages": [{"role": "user", "content": "ok \xc3\xbc"}], "metadata": {"k": "\x27; DROP TABLE models;--"}}')"
expect_status 200 "a valid body after the refused ones is answered"
expect_jq .choices[0].message.content "echo: ok ü" "…with the upstream's reply"
send POST $OA/chat/completions "$(body '{"mod\\u0065l": "bad-\\u006clm", "messages": [{"role": "user", "content": "esc"}]}')"
expect_status 200 "a model named with escapes (key and value) is answered"
expect_jq .model "bad-llm" "…as the model it decodes to"

echo "-- every resource type refuses a malformed body and an array body"
for path in /v1/models /v1/shields /v1/vector-dbs /v1/datasets /v1/scoring-functions /v1/eval/benchmarks /v1/toolgroups; do
	send POST "$path" "$(body '{"x": ')"
	s1=$STATUS m1=$(jq -r .error.message <<<"$BODY" 2>/dev/null)
	send POST "$path" "$(body '[1]')"
	s2=$STATUS m2=$(jq -r .error.message <<<"$BODY" 2>/dev/null)
	[[ $s1 == 400 && $m1 == "invalid JSON body"* && $s2 == 400 && $m2 == *"must be a JSON object"* ]] &&
		pass "POST $path: malformed JSON and an array body are 400" || fail "POST $path refuses bad bodies" "$s1 '$m1' / $s2 '$m2'"
done

echo "-- nothing was stored by any refused request"
got=$(psql_q "SELECT identifier FROM models WHERE identifier LIKE 'bad-%'" | LC_ALL=C sort | tr '\n' ' ')
want=$(printf '%s\n' bad-ct1 bad-ct2 bad-d-str bad-d32 bad-llm bad-s1 "bad-ü€🦙" "${ids255[@]}" | LC_ALL=C sort | tr '\n' ' ')
expect_eq "$got" "$want" "the models table holds only the bodies that were accepted"
psql_q "DELETE FROM models WHERE identifier LIKE 'bad-%'" >/dev/null

# ------------------------------------------------------------------ security
echo "-- secrets: keys hashed, never logged, never answered"
psql_q "DELETE FROM principals WHERE name LIKE 'bad-%'" >/dev/null
sg_cli principal add bad-owner --team bad-t >/dev/null 2>&1
KEY=$(sg_cli key create bad-owner 2>/dev/null)
if [[ $KEY =~ ^sg-([0-9a-f]{12})-([A-Za-z0-9_-]{43})$ ]]; then
	pass "a key for bad-owner"
	KID=${BASH_REMATCH[1]} SECRET=${BASH_REMATCH[2]}
else
	fail "a key for bad-owner" "got '$KEY'"
	KID=none SECRET=none-$RANDOM
fi
expect_eq "$(psql_q "SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, '$SECRET') > 0")" 0 "api_keys holds no plaintext of the key"
expect_eq "$(psql_q "SELECT count(*) FROM api_keys WHERE key_id = '$KID' AND key_sha256 = sha256(convert_to('$KEY', 'UTF8'))")" 1 \
	"api_keys holds the key's SHA-256"
req POST /v1/models '{"model_id":"bad-private","provider_id":"vllm-short"}' -H "Authorization: Bearer $KEY"
expect_status 200 "bad-owner registers bad-private with the key"
WRONG="sg-$KID-$(printf 'Z%.0s' $(seq 43))"
req GET /v1/models "" -H "Authorization: Bearer $WRONG"
expect_status 401 "a wrong secret for a known key id is 401"
[[ $BODY != *ZZZZZZZZ* && $(cat "$HDRS") != *ZZZZZZZZ* ]] && pass "the 401 does not echo the presented key" || fail "the 401 echoes the key"

# The PostgreSQL password (the test cluster trusts local connections, so a password in
# conninfo is accepted and ignored): it must not reach a log line either.
PGPW=bad-pg-secret-9c1e
pwconf=$SG_TEST_DIR/tmp/bad-pw.json
jq --arg pw "$PGPW" '.database.conninfo = "${env.STACKGATE_DATABASE_URL} password=" + $pw' "$SG_CONFIG" >"$pwconf"
out=$("$SG_BIN" check-config "$pwconf" 2>&1)
[[ $out == *"is valid"* && $out != *"$PGPW"* ]] && pass "check-config of a conninfo with a password does not print it" ||
	fail "check-config hides the password" "$out"
out=$(STACKGATE_DATABASE_URL="host=$SG_RUN/no-such-dir port=1 dbname=x user=x password=$PGPW" "$SG_BIN" migrate 2>&1)
[[ $out != *"$PGPW"* ]] && pass "a failed connection's error does not print the password" || fail "connection error hides the password" "$out"
if sg_restart_daemon "$pwconf"; then
	req POST /v1/models '{"model_id":"bad-pw1","provider_id":"vllm-short"}'
	expect_status 200 "stackgate runs with a password in its conninfo"
	# Cut every stackgate connection: the pool and the listeners reconnect (and log it).
	psql_q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'stackgate'
		AND pid <> pg_backend_pid() AND backend_type = 'client backend'" >/dev/null
	req POST /v1/models '{"model_id":"bad-pw2","provider_id":"vllm-short"}'
	expect_status 200 "a registration right after its connections were cut succeeds (reconnected)"
else
	fail "restart with a password in the conninfo" "the daemon did not answer"
fi
sg_restart_daemon || fail "restart with the test config" "the daemon did not answer"

leaks=""
for f in "$SG_RUN"/logs/*; do
	[[ -f $f ]] || continue
	for s in "$PROVIDER_KEY" "$SECRET" "$PGPW"; do
		grep -qF -- "$s" "$f" && leaks+=" $(basename "$f"):${s:0:6}…"
	done
	# Any whole stackgate key, from any test file so far.
	grep -qE 'sg-[0-9a-f]{12}-[A-Za-z0-9_-]{43}' "$f" && leaks+=" $(basename "$f"):an sg- key"
	grep -qF ZZZZZZZZZZZZ "$f" && leaks+=" $(basename "$f"):a presented wrong key"
done
expect_eq "$leaks" "" "no log under \$SG_RUN/logs holds the provider token, an API key or the database password"

resp=""
for p in /v1/providers /v1/providers/vllm /v1/inspect/routes /v1/models /v1/openai/v1/models /v1/health; do
	req GET "$p" "" -H "Authorization: Bearer $KEY"
	resp+="$BODY $(cat "$HDRS")"
done
req POST /v1/models/x '{}'
resp+="$BODY"
req POST $OA/chat/completions '{"model":"nope","messages":[]}'
resp+="$BODY"
[[ $resp != *"$PROVIDER_KEY"* && $resp != *"$SECRET"* && $resp != *"$PGPW"* ]] &&
	pass "no response (providers, routes, lists, errors) carries a secret" || fail "a response carries a secret"
req GET /v1/providers/vllm
expect_jq .config.api_token "********" "GET /v1/providers/vllm masks api_token"

echo "-- identity from client headers is impossible"
spoof=(-H "X-Stackgate-Principal: bad-owner" -H "Stackgate-Principal: bad-owner" -H "X-Remote-User: bad-owner"
	-H "X-Auth-Request-User: bad-owner" -H 'X-Stackgate-Attributes: {"teams":["bad-t"],"roles":["admin"]}'
	-H "X-Auth-Request-Groups: admin" -H 'X-LlamaStack-Provider-Data: {"__auth_attributes":{"roles":["admin"]}}')
req GET /v1/models/bad-private "" "${spoof[@]}"
expect_status 404 "spoofed identity headers do not reveal bad-private"
req GET /v1/models "" "${spoof[@]}"
expect_jq '[.data[] | select(.identifier == "bad-private")] | length' 0 "…nor list it"
req DELETE /v1/models/bad-private "" "${spoof[@]}"
expect_status 404 "…nor delete it"
req GET "/v1/models/bad-private?STACKGATE_PRINCIPAL=bad-owner" "" "${spoof[@]}"
expect_status 404 "…nor does a query parameter"
req GET /v1/models/bad-private "" -H "Authorization: Bearer $KEY"
expect_status 200 "its owner's key still sees it"
req DELETE /v1/models/bad-private "" -H "Authorization: Bearer $KEY"
expect_status 200 "and removes it"
sg_cli principal remove bad-owner >/dev/null 2>&1

echo "-- the FastCGI socket"
expect_eq "$(stat -c '%a %G' "$SG_RUN/stackgate.sock")" "660 www-data" "the FastCGI socket is 0660, group www-data"
psql_q "DELETE FROM models WHERE identifier LIKE 'bad-%'" >/dev/null
