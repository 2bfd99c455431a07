# SPDX-License-Identifier: Apache-2.0
# 80_docs.sh: the operator queries the README shows run against the real schema,
# with something registered, so the documentation cannot drift from the tables.

req POST /v1/models '{"model_id":"doc-embed","provider_id":"vllm","provider_model_id":"test-embed","model_type":"embedding","metadata":{"embedding_dimension":384}}'
expect_status 200 "register an embedding model for the README queries"
req POST /v1/vector-dbs '{"vector_db_id":"doc-vdb","embedding_model":"doc-embed"}'
expect_status 200 "register a vector DB for the README queries"
sg_cli principal add doc-alice --team doc >/dev/null 2>&1

sql=$(awk '/^```sql$/ { on = 1; next } /^```$/ { on = 0 } on' "$SG_ROOT/README.md" | sed 's/'"'"'alice'"'"'/'"'"'doc-alice'"'"'/g')
n=$(grep -c ';$' <<<"$sql")
[[ $n -ge 5 ]] && pass "the README shows $n SQL queries" || fail "README SQL queries" "found $n"
out=$(psql "$STACKGATE_DATABASE_URL" -X -qAt -v ON_ERROR_STOP=1 <<<"$sql" 2>&1)
rc=$?
expect_eq "$rc" 0 "every README query runs against the schema"
[[ $out == *"doc-vdb|doc-embed|384|vllm"* ]] && pass "the vector DB query names doc-vdb's embedding model" ||
	fail "vector DB query" "$out"
[[ $out == *"vector_db|doc-vdb|faiss"* ]] && pass "what doc-alice can see includes the public vector DB" ||
	fail "principal_visible_resources in README" "$out"

req DELETE /v1/vector-dbs/doc-vdb
req DELETE /v1/models/doc-embed
sg_cli principal remove doc-alice >/dev/null 2>&1

# The production nginx example is valid nginx (TLS lines aside, which need certificates).
ex=$SG_TEST_DIR/tmp/nginx-example
mkdir -p "$ex"
sed -e 's|listen 443 ssl;|listen 127.0.0.1:1;|' -e 's|http2 on;||' "$SG_ROOT/nginx/stackgate.conf.example" >"$ex/site.conf"
cp "$SG_ROOT/nginx/stackgate_fastcgi_params" "$ex/"
printf 'pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp { include /etc/nginx/mime.types; include %s/site.conf; }\n' \
	"$ex" "$ex" "$ex" >"$ex/nginx.conf"
out=$(nginx -t -c "$ex/nginx.conf" 2>&1)
[[ $out == *"test is successful"* ]] && pass "nginx/stackgate.conf.example passes nginx -t" || fail "nginx example" "$out"
