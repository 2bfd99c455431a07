# SPDX-License-Identifier: Apache-2.0
# 30_resources.sh: the Llama Stack registry routes for all eight resource
# types through nginx: list, get, register (defaults, validation, provider
# choice, identical re-registration, conflicts), unregister, access control,
# tool groups from the MCP test server (JSON and SSE answers, name clashes,
# cascade delete), the data-plane 501s, pre-registration from the config,
# and identifiers with '/' and SQL metacharacters.  Every identifier starts
# with r30 so other files do not collide with these.

J='Content-Type: application/json'
MCP=$SG_MCP_URL

# Principals: alice (role r30-ml), bob (role r30-other), root (admin).
for who in alice:r30-ml bob:r30-other root:admin; do
	sg_cli principal add "r30-${who%%:*}" --role "${who#*:}" >/dev/null 2>&1
done
KA=$(sg_cli key create r30-alice 2>/dev/null)
KB=$(sg_cli key create r30-bob 2>/dev/null)
KR=$(sg_cli key create r30-root 2>/dev/null)
[[ $KA == sg-* && $KB == sg-* && $KR == sg-* ]] && pass "API keys for the ACL checks" || fail "API keys" "got '$KA' '$KB' '$KR'"
AS_ALICE=(-H "Authorization: Bearer $KA")
AS_BOB=(-H "Authorization: Bearer $KB")
AS_ROOT=(-H "Authorization: Bearer $KR")

# in_list ID: 1 when the last list response holds ID, else 0.
in_list() { jq -r --arg id "$1" '[.data[] | select(.identifier == $id)] | length' <<<"$BODY" 2>/dev/null; }

# ------------------------------------------------------------------ models
req POST /v1/models '{"model_id":"r30-m1","provider_id":"vllm","provider_model_id":"test-llm","zzz":1}'
expect_status 200 "register a model"
expect_jq 'keys_unsorted | tojson' '["identifier","provider_resource_id","provider_id","type","access_attributes","metadata","model_type","id","object","created","owned_by","custom_metadata"]' \
	"the model has Llama Stack's keys in its order (April's, then today's)"
expect_jq '[.identifier,.provider_resource_id,.provider_id,.type,.access_attributes,.metadata,.model_type] | tojson' \
	'["r30-m1","test-llm","vllm","model",null,{},"llm"]' "the model's values and defaults"
first=$BODY
req POST /v1/models '{"model_id":"r30-m1","provider_id":"vllm","provider_model_id":"test-llm"}'
expect_status 200 "registering an identical model again is 200"
expect_eq "$(jq -S -c . <<<"$BODY")" "$(jq -S -c . <<<"$first")" "the identical re-registration returns the stored object"
req POST /v1/models '{"model_id":"r30-m1","provider_id":"vllm","provider_model_id":"test-llm-2"}'
expect_status 409 "registering a different model under a taken id is 409"
expect_jq .error.type conflict_error "409 has the conflict error type"
req GET /v1/models/r30-m1
expect_jq .provider_resource_id test-llm "the stored model is untouched by the conflict"
expect_jq 'has("access_attributes")' true "a single model includes access_attributes"

req GET /v1/models
expect_status 200 "list models"
expect_eq "$(in_list r30-m1)" 1 "the list holds the model"
expect_jq '[.data[] | has("access_attributes")] | any' false "list items omit access_attributes"

req GET /v1/models/r30-nope
expect_status 404 "a missing model is 404"
expect_jq .error.message "Model 'r30-nope' not found" "the 404 says Model 'x' not found"
expect_jq .error.type not_found_error "the 404 has the not_found error type"

req POST /v1/models '{"model_id":"r30-m2"}'
expect_status 400 "no provider_id with several inference providers is 400"
expect_jq .error.message \
	"provider_id is required when several inference providers are configured (configured: vllm, ollama, vllm-short, dead)" \
	"the message names the configured providers plainly"
expect_jq .error.param provider_id "the 400 names provider_id"
req POST /v1/models '{"model_id":"r30-m2","provider_id":"tgi"}'
expect_status 400 "an unknown provider is 400"
expect_body_contains "provider_id 'tgi' is not a configured inference provider (configured inference providers: vllm, ollama, vllm-short, dead)" \
	"the unknown-provider message lists the providers"
req POST /v1/models '{"model_id":"r30-m2","provider_id":"faiss"}'
expect_status 400 "a provider of another API is 400"
req POST /v1/models '{}'
expect_status 400 "a model without model_id is 400"
expect_jq .error.message "model_id is required" "the message names model_id"
req POST /v1/models '{"model_id":null,"provider_id":"vllm-short"}'
expect_status 400 "model_id null counts as missing"
req POST /v1/models '{"model_id":"r30-m2","provider_id":"vllm-short","model_type":"chat"}'
expect_status 400 "an unknown model_type is 400"
expect_jq .error.param model_type "the 400 names model_type"
req POST /v1/models '{"model_id":"r30-m2","provider_id":"vllm-short","model_type":"embedding"}'
expect_status 400 "an embedding model without a dimension is 400"
expect_jq .error.param metadata.embedding_dimension "the 400 names metadata.embedding_dimension"
req POST /v1/models '{"model_id":"r30-m2","provider_id":"vllm-short","model_type":"embedding","metadata":{"embedding_dimension":"384"}}'
expect_status 400 "a non-integer embedding dimension is 400"
req POST /v1/models "{\"model_id\":\"r30-$(printf 'x%.0s' $(seq 300))\",\"provider_id\":\"vllm-short\"}"
expect_status 400 "an identifier over 255 characters is 400"
req POST /v1/models '{"model_id":"r30-a\u0007b","provider_id":"vllm-short"}'
expect_status 400 "an identifier with a control character is 400"
req POST /v1/models '{"model_id":"r30-unserved","provider_id":"vllm"}'
expect_status 400 "a model the vLLM upstream does not serve is 400"
expect_body_contains "not served" "the message says the upstream does not serve it"
req GET /v1/models/r30-unserved
expect_status 404 "the refused model was not stored"

# Identifiers with '/' and with SQL metacharacters are stored and returned literally.
slash='meta-llama/Llama-3.2-3B-Instruct-r30'
req POST /v1/models "{\"model_id\":\"$slash\",\"provider_id\":\"vllm\",\"provider_model_id\":\"test-llm\"}"
expect_status 200 "register a model whose id has a '/'"
req GET "/v1/models/$slash"
expect_status 200 "GET a model id with '/' in the path"
expect_jq .identifier "$slash" "the slash id comes back whole"
req GET "/v1/models/meta-llama%2FLlama-3.2-3B-Instruct-r30"
expect_jq .identifier "$slash" "an encoded '/' finds the same model"
sql="r30-x'; DROP TABLE models;--"
sql_path='r30-x%27%3B%20DROP%20TABLE%20models%3B--'
req POST /v1/models "{\"model_id\":\"$sql\",\"provider_id\":\"vllm-short\"}"
expect_status 200 "register a model whose id holds SQL metacharacters"
req GET "/v1/models/$sql_path"
expect_status 200 "GET it back by its encoded id"
expect_jq .identifier "$sql" "the SQL-looking id is stored literally"
n=$(psql_q "SELECT count(*) FROM models WHERE identifier = 'r30-x''; DROP TABLE models;--'" 2>&1)
expect_eq "$n" 1 "the models table exists and holds the literal id"
req DELETE "/v1/models/$sql_path"
expect_status 200 "unregister the SQL-looking id"
req DELETE "/v1/models/$slash"
expect_status 200 "unregister the slash id"
req GET "/v1/models/$slash"
expect_status 404 "the slash id is gone"

req DELETE /v1/models/r30-m1
expect_status 200 "unregister a model"
expect_eq "$BODY" null "unregister answers null"
req GET /v1/models/r30-m1
expect_status 404 "the unregistered model is 404"
req DELETE /v1/models/r30-m1
expect_status 404 "unregistering it again is 404"

# ------------------------------------------------------------------ access control
req POST /v1/models '{"model_id":"r30-private","provider_id":"vllm-short"}' "${AS_ALICE[@]}"
expect_status 200 "alice registers a model"
expect_jq '.access_attributes.roles | tojson' '["r30-ml"]' "the model carries alice's attributes"
owner=$(psql_q "SELECT owner FROM models WHERE identifier = 'r30-private'" 2>&1)
expect_eq "$owner" r30-alice "the owner column is alice"
req GET /v1/models/r30-private
expect_status 404 "anonymous cannot see alice's model"
expect_jq .error.message "Model 'r30-private' not found" "an invisible model looks exactly like a missing one"
req GET /v1/models/r30-private "" "${AS_BOB[@]}"
expect_status 404 "bob (another role) cannot see it"
req GET /v1/models "" "${AS_BOB[@]}"
expect_eq "$(in_list r30-private)" 0 "bob's list does not show it"
req GET /v1/models "" "${AS_ALICE[@]}"
expect_eq "$(in_list r30-private)" 1 "alice's list shows it"
req GET /v1/models/r30-private "" "${AS_ROOT[@]}"
expect_status 200 "an admin sees it"
req DELETE /v1/models/r30-private "" "${AS_BOB[@]}"
expect_status 404 "bob cannot unregister what he cannot see"
req POST /v1/models '{"model_id":"r30-private","provider_id":"vllm-short"}' "${AS_BOB[@]}"
expect_status 409 "bob registering the same id is a conflict (his ACL differs)"
req POST /v1/models '{"model_id":"r30-private","provider_id":"vllm-short"}' "${AS_ALICE[@]}"
expect_status 200 "alice re-registering her model is 200"
req POST /v1/models '{"model_id":"r30-explicit","provider_id":"vllm-short","access_attributes":{"teams":["r30-t"]}}' "${AS_ROOT[@]}"
expect_status 200 "an explicit access_attributes is accepted (from an admin)"
expect_jq '.access_attributes.teams | tojson' '["r30-t"]' "the explicit ACL is stored"
req GET /v1/models/r30-explicit
expect_status 404 "the explicit ACL applies (anonymous cannot see it)"
req POST /v1/models '{"model_id":"r30-badacl","provider_id":"vllm-short","access_attributes":{"roles":"admin"}}'
expect_status 400 "a malformed access_attributes is 400"
expect_jq .error.param access_attributes "the 400 names access_attributes"

# ------------------------------------------------------------------ shields
req POST /v1/shields '{"shield_id":"r30-s1"}'
expect_status 200 "register a shield (the only safety provider is chosen)"
expect_jq '[.provider_id,.provider_resource_id,.params,.type] | tojson' '["llama-guard","r30-s1",{},"shield"]' "shield defaults"
req POST /v1/shields '{"shield_id":"r30-s1"}'
expect_status 200 "an identical shield again is 200"
req POST /v1/shields '{"shield_id":"r30-s1","params":{"x":1}}'
expect_status 409 "a different shield under the same id is 409"
req GET /v1/shields/r30-s1
expect_jq '.params | tojson' '{}' "the stored shield is untouched"
req GET /v1/shields
expect_eq "$(in_list r30-s1)" 1 "the shield list holds it"
req GET /v1/shields/r30-nope
expect_status 404 "a missing shield is 404"
expect_jq .error.message "Shield 'r30-nope' not found" "the shield 404 message"
req POST /v1/shields '{"shield_id":"r30-s2","provider_id":"nope"}'
expect_status 400 "a shield with an unknown provider is 400"
expect_body_contains "configured safety providers: llama-guard" "the message lists the safety providers"
req DELETE /v1/shields/r30-s1
expect_status 200 "DELETE /v1/shields/{id} unregisters a shield (Llama Stack 0.2.18)"
req GET /v1/shields/r30-s1
expect_status 404 "…it is gone"

# ------------------------------------------------------------------ vector DBs
req POST /v1/models '{"model_id":"r30-emb","provider_id":"vllm","provider_model_id":"test-embed","model_type":"embedding","metadata":{"embedding_dimension":384}}'
expect_status 200 "register an embedding model"
req POST /v1/models '{"model_id":"r30-llm","provider_id":"vllm-short"}'
expect_status 200 "register an llm for the vector DB checks"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v1","embedding_model":"r30-emb"}'
expect_status 200 "register a vector DB"
expect_jq '[.provider_id,.provider_resource_id,.embedding_model,.embedding_dimension,.type] | tojson' \
	'["faiss","r30-v1","r30-emb",384,"vector_db"]' "the vector DB takes the model's dimension and the first vector_io provider"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v1","embedding_model":"r30-emb","embedding_dimension":384}'
expect_status 200 "the same vector DB with the matching dimension is 200"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v2","embedding_model":"r30-emb","embedding_dimension":768}'
expect_status 400 "a dimension that disagrees with the model is 400"
expect_jq .error.param embedding_dimension "the 400 names embedding_dimension"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v2","embedding_model":"r30-nope"}'
expect_status 400 "a missing embedding model is 400"
expect_body_contains "Model 'r30-nope' not found" "the message names the missing model"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v2","embedding_model":"r30-llm"}'
expect_status 400 "an llm as embedding model is 400"
expect_body_contains "is not an embedding model" "the message says it is not an embedding model"
req POST /v1/models '{"model_id":"r30-emb-private","provider_id":"vllm-short","model_type":"embedding","metadata":{"embedding_dimension":8}}' "${AS_ALICE[@]}"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v3","embedding_model":"r30-emb-private"}'
expect_status 400 "an embedding model the caller cannot see is not found"
req POST /v1/vector-dbs '{"vector_db_id":"r30-v3","embedding_model":"r30-emb-private"}' "${AS_ALICE[@]}"
expect_status 200 "its owner can use it"
req DELETE /v1/vector-dbs/r30-v3 "" "${AS_ALICE[@]}"
expect_status 200 "alice unregisters her vector DB"
req DELETE /v1/models/r30-emb
expect_status 409 "a model a vector DB uses cannot be unregistered"
req GET /v1/vector-dbs
expect_eq "$(in_list r30-v1)" 1 "the vector DB list holds it"
req DELETE /v1/vector-dbs/r30-v1
expect_status 200 "unregister the vector DB"
expect_eq "$BODY" null "vector DB unregister answers null"
req GET /v1/vector-dbs/r30-v1
expect_status 404 "the vector DB is gone"
expect_jq .error.message "Vector DB 'r30-v1' not found" "the vector DB 404 message"
req DELETE /v1/models/r30-emb
expect_status 200 "the model can go once the vector DB has"

# ------------------------------------------------------------------ datasets
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"uri","uri":"huggingface://llamastack/simpleqa?split=train"},"dataset_id":"r30-hf"}'
expect_status 200 "register a Hugging Face dataset"
expect_jq '[.provider_id,.provider_resource_id,.purpose,.source.type,.source.uri,(.source | length),.metadata,.type] | tojson' \
	'["huggingface","r30-hf","eval/question-answer","uri","huggingface://llamastack/simpleqa?split=train",2,{},"dataset"]' \
	"a huggingface:// uri goes to the remote::huggingface provider"
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"uri","uri":"huggingface://llamastack/simpleqa?split=train"},"dataset_id":"r30-hf"}'
expect_status 200 "an identical dataset again is 200"
req POST /v1/datasets '{"purpose":"eval/messages-answer","source":{"type":"uri","uri":"huggingface://llamastack/simpleqa?split=train"},"dataset_id":"r30-hf"}'
expect_status 409 "a different dataset under the same id is 409"
req POST /v1/datasets '{"purpose":"post-training/messages","source":{"type":"rows","rows":[{"messages":[]}]}}'
expect_status 200 "register a rows dataset without an id"
expect_jq .provider_id localfs "rows go to the inline::localfs provider"
expect_jq '.identifier | test("^dataset-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' true \
	"the default id is dataset-<uuid4>"
gen=$(jq -r .identifier <<<"$BODY")
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"uri","uri":"https://example.com/x.jsonl"},"dataset_id":"r30-ds"}'
expect_jq .provider_id localfs "an https uri goes to the inline::localfs provider"
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"uri","uri":"huggingface://a/b"},"dataset_id":"r30-ds2","provider_id":"localfs"}'
expect_jq .provider_id localfs "an explicit provider_id wins"
req POST /v1/datasets '{"purpose":"eval","source":{"type":"rows","rows":[]}}'
expect_status 400 "an unknown purpose is 400"
expect_jq .error.param purpose "the 400 names purpose"
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"file","path":"/x"}}'
expect_status 400 "an unknown source type is 400"
expect_jq .error.param source.type "the 400 names source.type"
req POST /v1/datasets '{"purpose":"eval/question-answer","source":{"type":"rows","rows":[1]}}'
expect_status 400 "rows that are not objects are 400"
req GET /v1/datasets
expect_eq "$(in_list r30-hf)" 1 "the dataset list holds it"
req GET "/v1/datasets/$gen"
expect_status 200 "GET the generated dataset id"
req DELETE "/v1/datasets/$gen"
expect_status 200 "unregister a dataset"
req GET "/v1/datasets/$gen"
expect_status 404 "the dataset is gone"
expect_jq .error.message "Dataset '$gen' not found" "the dataset 404 message"

# ------------------------------------------------------------------ scoring functions
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf","description":"exact match","return_type":{"type":"number"},"params":{"type":"basic"}}'
expect_status 200 "register a scoring function"
expect_jq '[.provider_id,.description,.metadata,.return_type,.params,.type] | tojson' \
	'["basic","exact match",{},{"type":"number"},{"type":"basic","aggregation_functions":[]},"scoring_function"]' \
	"the scoring function is returned (not null) with its defaults"
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf","description":"exact match","return_type":{"type":"number"},"params":{"type":"basic"}}'
expect_status 200 "an identical scoring function again is 200"
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf","description":"other","return_type":{"type":"number"}}'
expect_status 409 "a different scoring function under the same id is 409"
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf2","description":"d","return_type":{"type":"dialog"}}'
expect_status 400 "a ParamType outside the union is 400"
expect_jq .error.param return_type.type "the 400 names return_type.type"
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf2","description":"d","return_type":{"type":"string"},"params":{"type":"llm_as_judge"}}'
expect_status 400 "llm_as_judge without judge_model is 400"
expect_jq .error.param params.judge_model "the 400 names params.judge_model"
req POST /v1/scoring-functions '{"scoring_fn_id":"r30-sf2","description":"d","return_type":{"type":"string"},"params":{"type":"llm_as_judge","judge_model":"m"}}'
expect_status 200 "llm_as_judge with its defaults"
expect_jq '.params | tojson' '{"type":"llm_as_judge","judge_model":"m","prompt_template":null,"judge_score_regexes":[],"aggregation_functions":[]}' \
	"llm_as_judge defaults are filled in"
req GET /v1/scoring-functions/r30-sf
expect_status 200 "GET a scoring function"
req GET /v1/scoring-functions
expect_eq "$(in_list r30-sf)" 1 "the scoring function list holds it"
req GET /v1/scoring-functions/r30-nope
expect_status 404 "a missing scoring function is 404"
expect_jq .error.message "Scoring function 'r30-nope' not found" "the scoring function 404 message"

# ------------------------------------------------------------------ benchmarks
req POST /v1/eval/benchmarks '{"benchmark_id":"r30-b1","dataset_id":"r30-hf","scoring_functions":["r30-sf"]}'
expect_status 200 "register a benchmark"
expect_jq '[.provider_id,.dataset_id,.scoring_functions,.metadata,.type] | tojson' \
	'["meta-reference","r30-hf",["r30-sf"],{},"benchmark"]' "the benchmark is returned (not null) with its defaults"
req POST /v1/eval/benchmarks '{"benchmark_id":"r30-b1","dataset_id":"r30-hf","scoring_functions":["r30-sf"]}'
expect_status 200 "an identical benchmark again is 200"
req POST /v1/eval/benchmarks '{"benchmark_id":"r30-b1","dataset_id":"r30-ds","scoring_functions":["r30-sf"]}'
expect_status 409 "a different benchmark under the same id is 409"
req POST /v1/eval/benchmarks '{"benchmark_id":"r30-b2","dataset_id":"r30-nods","scoring_functions":["r30-sf"]}'
expect_status 400 "a benchmark on a missing dataset is 400"
expect_body_contains "Dataset 'r30-nods' not found" "the message names the missing dataset"
req POST /v1/eval/benchmarks '{"benchmark_id":"r30-b2","dataset_id":"r30-hf","scoring_functions":["r30-sf","r30-nosf"]}'
expect_status 400 "a benchmark with a missing scoring function is 400"
expect_body_contains "Scoring function 'r30-nosf' not found" "the message names the missing scoring function"
req GET /v1/eval/benchmarks/r30-b1
expect_status 200 "GET a benchmark"
req GET /v1/eval/benchmarks
expect_eq "$(in_list r30-b1)" 1 "the benchmark list holds it"
req GET /v1/eval/benchmarks/r30-nope
expect_status 404 "a missing benchmark is 404"
expect_jq .error.message "Benchmark 'r30-nope' not found" "the benchmark 404 message"
req DELETE /v1/datasets/r30-hf
expect_status 409 "a dataset a benchmark uses cannot be unregistered"

# ------------------------------------------------------------------ tool groups and tools
req POST /v1/toolgroups '{"toolgroup_id":"r30::rag","provider_id":"rag-runtime"}'
expect_status 200 "register a builtin rag tool group"
expect_jq '[.identifier,.provider_resource_id,.provider_id,.type,.access_attributes,.mcp_endpoint,.args] | tojson' \
	'["r30::rag","r30::rag","rag-runtime","tool_group",null,null,null]' "the tool group is returned (not null)"
req GET '/v1/tools?toolgroup_id=r30::rag'
expect_jq '[.data[].identifier] | tojson' '["insert_into_memory","knowledge_search"]' "the rag runtime's tools are listed"
expect_jq '[.data[].tool_host] | unique | tojson' '["distribution"]' "builtin tools are hosted by the distribution"
req GET '/v1/tools?toolgroup%5Fid=r30::rag'
expect_jq '[.data[].identifier] | tojson' '["insert_into_memory","knowledge_search"]' \
	"a percent-encoded query key (toolgroup%5Fid) is decoded like its value"

mcp_json="$MCP/mcp?prefix=r30_"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::mcp\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_json\"}}"
expect_status 200 "register an MCP tool group (JSON answers)"
expect_jq .mcp_endpoint.uri "$mcp_json" "the group keeps its endpoint"
req GET '/v1/tools?toolgroup_id=r30::mcp'
expect_jq '[.data[].identifier] | tojson' '["r30_get_weather","r30_add_numbers","r30_echo_text"]' \
	"both pages of the MCP tool list are registered, in order"
expect_jq '[.data[0].parameters[] | [.name,.parameter_type,.description,.required,.default,length]] | tojson' \
	'[["city","string","City name",true,null,5],["units","string","celsius or fahrenheit",false,"celsius",5]]' \
	"MCP input schemas become ToolParameters"
expect_jq '[.data[0].tool_host,.data[0].toolgroup_id,.data[0].provider_id,.data[0].metadata.endpoint] | tojson' \
	"[\"model_context_protocol\",\"r30::mcp\",\"model-context-protocol\",\"$mcp_json\"]" "MCP tools' host, group and endpoint"
expect_jq '.data[2].description' '' "a tool without a description gets \"\""

mcp_sse="$MCP/mcp-sse?prefix=r30s_"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::sse\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_sse\"}}"
expect_status 200 "register an MCP tool group (SSE answers, stream left open)"
req GET '/v1/tools?toolgroup_id=r30::sse'
expect_jq '[.data[].identifier] | tojson' '["r30s_get_weather","r30s_add_numbers","r30s_echo_text"]' "the SSE server's tools are registered"

req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::mcp\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_json\"}}"
expect_status 200 "re-registering an identical tool group is 200"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::mcp\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_sse\"}}"
expect_status 409 "the same group id with another endpoint is 409"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::clash\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_json\"}}"
expect_status 409 "a group whose tool names belong to another group is 409"
expect_body_contains "r30_" "the clash names the tool"
req GET /v1/toolgroups/r30::clash
expect_status 404 "the clashing group was not stored"

req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::broken\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp-broken\"}}"
expect_status 502 "an MCP server answering garbage is 502"
expect_body_contains "not valid JSON" "the 502 names the problem"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::rpcerr\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp-rpcerror\"}}"
expect_status 502 "an MCP JSON-RPC error is 502"
expect_body_contains "tool listing exploded" "the 502 carries the server's error message"
req POST /v1/toolgroups '{"toolgroup_id":"r30::down","provider_id":"model-context-protocol","mcp_endpoint":{"uri":"http://127.0.0.1:9/mcp"}}'
expect_status 502 "an unreachable MCP server is 502"
expect_body_contains "unreachable" "the 502 says unreachable"
req GET /v1/toolgroups/r30::down
expect_status 404 "the failed group was not stored"

req POST /v1/toolgroups '{"toolgroup_id":"r30::x"}'
expect_status 400 "a tool group without provider_id is 400"
expect_body_contains "configured tool_runtime providers: model-context-protocol, rag-runtime" "the message lists the tool_runtime providers"
req POST /v1/toolgroups '{"toolgroup_id":"r30::x","provider_id":"tavily"}'
expect_status 400 "a tool group with an unknown provider is 400 (not 500)"
req POST /v1/toolgroups '{"toolgroup_id":"r30::x","provider_id":"model-context-protocol"}'
expect_status 400 "an MCP group without mcp_endpoint is 400"
req POST /v1/toolgroups '{"toolgroup_id":"r30::x","provider_id":"model-context-protocol","mcp_endpoint":{"uri":"file:///etc/passwd"}}'
expect_status 400 "a non-http MCP endpoint is 400"

req GET /v1/tools/r30_get_weather
expect_status 200 "GET one tool"
expect_jq 'has("access_attributes")' true "a single tool includes access_attributes"
req GET /v1/tools/r30-nope
expect_status 404 "a missing tool is 404 (not 200 null)"
expect_jq .error.message "Tool 'r30-nope' not found" "the tool 404 message"
req GET /v1/tools
expect_jq '[.data[] | select(.identifier == "r30_echo_text" or .identifier == "knowledge_search")] | length' 2 \
	"the unfiltered tool list holds every group's tools"
expect_jq '[.data[] | has("access_attributes")] | any' false "tool list items omit access_attributes"
req GET /v1/toolgroups
expect_eq "$(in_list r30::mcp)" 1 "the tool group list holds it"
req GET /v1/toolgroups/r30::nope
expect_status 404 "a missing tool group is 404"
expect_jq .error.message "Tool group 'r30::nope' not found" "the tool group 404 message"

# A group and its tools carry the creator's ACL.
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::alice\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$MCP/mcp?prefix=r30a_\"}}" "${AS_ALICE[@]}"
expect_status 200 "alice registers a tool group"
expect_jq '.access_attributes.roles | tojson' '["r30-ml"]' "the group carries alice's attributes"
req GET /v1/tools/r30a_get_weather "" "${AS_ALICE[@]}"
expect_jq '.access_attributes.roles | tojson' '["r30-ml"]' "its tools carry them too"
req GET /v1/toolgroups/r30::alice
expect_status 404 "anonymous cannot see alice's group"
req GET '/v1/tools?toolgroup_id=r30::alice'
expect_jq '.data | length' 0 "anonymous sees none of its tools"
req GET '/v1/tools?toolgroup_id=r30::alice' "" "${AS_ALICE[@]}"
expect_jq '.data | length' 3 "alice sees its tools"
req DELETE /v1/toolgroups/r30::alice "" "${AS_BOB[@]}"
expect_status 404 "bob cannot unregister alice's group"
req DELETE /v1/toolgroups/r30::alice "" "${AS_ALICE[@]}"
expect_status 200 "alice unregisters her group"

# Unregistering a group removes its tools in the same transaction.
req DELETE /v1/toolgroups/r30::mcp
expect_status 200 "unregister an MCP tool group"
expect_eq "$BODY" null "tool group unregister answers null"
req GET '/v1/tools?toolgroup_id=r30::mcp'
expect_jq '.data | length' 0 "its tools are gone from the list"
req GET /v1/tools/r30_get_weather
expect_status 404 "its tools are gone"
n=$(psql_q "SELECT count(*) FROM tools WHERE toolgroup_id = 'r30::mcp'" 2>&1)
expect_eq "$n" 0 "no tool rows are left for the group"
req POST /v1/toolgroups "{\"toolgroup_id\":\"r30::clash\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"$mcp_json\"}}"
expect_status 200 "the freed tool names can be registered by another group"
stats=$(curl -s "$MCP/_stats")
[[ $(jq -r '.bad_session' <<<"$stats") == 0 && $(jq -r '.initialized' <<<"$stats") -ge 1 ]] &&
	pass "the MCP client sends notifications/initialized and its Mcp-Session-Id" || fail "MCP session use" "$stats"

# ------------------------------------------------------------------ data-plane routes
req POST /v1/safety/run-shield '{"shield_id":"r30-s1","messages":[]}'
expect_status 501 "safety run-shield is 501"
expect_body_contains "registry and routing for the safety API" "the 501 names the API"
expect_body_contains "provider's own service" "the 501 says who serves the data plane"
req POST /v1/inference/chat-completion '{}'
expect_status 501 "legacy inference is 501"
expect_body_contains "/v1/openai/v1/chat/completions" "the inference 501 points to /v1/openai/v1/"
req GET /v1/datasetio/iterrows/r30-hf
expect_status 501 "datasetio iterrows is 501"
expect_body_contains "datasetio API" "the datasetio 501 names its API"
req POST /v1/vector-io/query '{}'
expect_status 501 "vector-io query is 501"
req POST /v1/tool-runtime/invoke '{}'
expect_status 501 "tool-runtime invoke is 501"
req POST /v1/eval/benchmarks/r30-b1/jobs '{}'
expect_status 501 "eval jobs is 501"

# ------------------------------------------------------------------ pre-registration from the config
for g in r30::rag r30::sse r30::clash; do req DELETE "/v1/toolgroups/$g"; done
pre=$SG_TEST_DIR/tmp/r30-pre.json
jq '.models = [{"model_id":"r30-pre-m","provider_id":"vllm-short","metadata":{"k":"v"}}]
    | .shields = [{"shield_id":"r30-pre-s"}]
    | .datasets = [{"dataset_id":"r30-pre-ds","purpose":"eval/question-answer","source":{"type":"rows","rows":[]}}]
    | .scoring_fns = [{"scoring_fn_id":"r30-pre-sf","description":"d","return_type":{"type":"number"}}]
    | .benchmarks = [{"benchmark_id":"r30-pre-b","dataset_id":"r30-pre-ds","scoring_functions":["r30-pre-sf"]}]
    | .tool_groups = [{"toolgroup_id":"r30::pre-rag","provider_id":"rag-runtime"},
                      {"toolgroup_id":"r30::pre-down","provider_id":"model-context-protocol","mcp_endpoint":{"uri":"http://127.0.0.1:9/mcp"}}]' \
	"$SG_CONFIG" >"$pre"
if sg_restart_daemon "$pre"; then pass "the daemon starts with pre-registered resources (an MCP server down)"; else fail "restart with resources in the config"; fi
req GET /v1/models/r30-pre-m
expect_status 200 "a config model is registered at start"
expect_jq '[.provider_id,.access_attributes,.metadata] | tojson' '["vllm-short",null,{"k":"v"}]' "it has no ACL and its metadata"
owner=$(psql_q "SELECT coalesce(owner, '<none>') FROM models WHERE identifier = 'r30-pre-m'" 2>&1)
expect_eq "$owner" "<none>" "a config model has no owner"
for p in /v1/shields/r30-pre-s /v1/datasets/r30-pre-ds /v1/scoring-functions/r30-pre-sf /v1/eval/benchmarks/r30-pre-b \
	/v1/toolgroups/r30::pre-rag; do
	req GET "$p"
	expect_status 200 "pre-registered: $p"
done
req GET '/v1/tools?toolgroup_id=r30::pre-rag'
expect_jq '.data | length' 2 "the pre-registered rag group has its tools"
req GET /v1/toolgroups/r30::pre-down
expect_status 404 "a config tool group whose MCP server is down is skipped"
grep -q "r30::pre-down\|tool_groups\[1\]" "$SG_RUN/logs/stackgate.log" && pass "the skipped group is logged" ||
	fail "skipped group logged" "no log line"
if sg_restart_daemon "$pre"; then pass "a second start with the same config works (idempotent)"; else fail "second start"; fi
n=$(psql_q "SELECT count(*) FROM models WHERE identifier = 'r30-pre-m'" 2>&1)
expect_eq "$n" 1 "the config model is registered once"
req DELETE /v1/toolgroups/r30::pre-rag "" "${AS_ROOT[@]}"
expect_status 200 "an admin removes the pre-registered rag group"
sg_restart_daemon || fail "restart with the default config"
