/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_registry.c: what the registry does without a database: type names,
 * the conversion between API objects and rows (table-driven, one complete
 * object per type, plus the canonical form and the field errors), the cache
 * (hash tables, registration order, a tool group filter, copies handed out,
 * 100,000 entries), walks (registry_iter: order, batches, changes between
 * batches) and the answer when PostgreSQL is not there.
 * tests/integration/25_registry_db.sh covers the SQL side; with
 * SG_TEST_DATABASE_URL set (tests/integration/35_list_stream.sh) the case
 * db_walk checks a walk read from PostgreSQL.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "registry.h"
#include "suites.h"

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_ALLOW_NUL, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return v;
}

static char *
dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

START_TEST(test_type_names)
{
	/* Each type's name and label, by type. */
	static const char *const want[][2] = {
		[SG_RT_MODEL] = {"model", "Model"},
		[SG_RT_SHIELD] = {"shield", "Shield"},
		[SG_RT_VECTOR_DB] = {"vector_db", "Vector DB"},
		[SG_RT_DATASET] = {"dataset", "Dataset"},
		[SG_RT_SCORING_FN] = {"scoring_function", "Scoring function"},
		[SG_RT_BENCHMARK] = {"benchmark", "Benchmark"},
		[SG_RT_TOOL_GROUP] = {"tool_group", "Tool group"},
		[SG_RT_TOOL] = {"tool", "Tool"},
	};
	enum sg_rtype t;

	ck_assert_uint_eq(SG_ARRAY_LEN(want), SG_RT_COUNT);
	for (int i = 0; i < SG_RT_COUNT; i++) {
		ck_assert_str_eq(registry_type_name((enum sg_rtype) i), want[i][0]);
		ck_assert_str_eq(registry_type_label((enum sg_rtype) i), want[i][1]);
		ck_assert(registry_type_from_name(want[i][0], &t));
		ck_assert_int_eq(t, i);
	}
	ck_assert_ptr_null(registry_type_name(SG_RT_COUNT));
	ck_assert_ptr_null(registry_type_label((enum sg_rtype) - 1));
	ck_assert(!registry_type_from_name("principal", &t));
	ck_assert(!registry_type_from_name("Model", &t));
	ck_assert(!registry_type_from_name(NULL, &t));
}
END_TEST

/* One text for every taken identifier, naming only the caller's own identifier, cut at a character boundary. */
START_TEST(test_taken_message)
{
	char id[400];
	struct sg_err err = {0};

	registry_taken_message(SG_RT_MODEL, "m", &err);
	ck_assert_str_eq(err.msg, "Model 'm' already exists");
	registry_taken_message(SG_RT_TOOL_GROUP, "mcp::g", &err);
	ck_assert_str_eq(err.msg, "Tool group 'mcp::g' already exists");
	registry_taken_message(SG_RT_TOOL, "t", &err);
	ck_assert_str_eq(err.msg, "Tool 't' already exists");
	/* 299 bytes of 'a' then 'é' (2 bytes): the cut at 300 bytes drops the whole character */
	memset(id, 'a', 299);
	strcpy(id + 299, "\xc3\xa9");
	registry_taken_message(SG_RT_MODEL, id, &err);
	ck_assert_uint_eq(strlen(err.msg), strlen("Model '' already exists") + 299);
	ck_assert_ptr_null(strstr(err.msg, "\xc3"));
	/* It is the one 409 text, and says so. */
	ck_assert_int_eq(registry_taken_message(SG_RT_MODEL, "m", &err), SG_E_CONFLICT);
	ck_assert_int_eq(err.status, SG_E_CONFLICT);
}
END_TEST

START_TEST(test_columns)
{
	static const char *const model[] = {"identifier",  "provider_resource_id",
					    "provider_id", "owner",
					    "has_acl",     "roles",
					    "teams",       "projects",
					    "namespaces",  "metadata",
					    "model_type",  "deployments",
					    "routing",     "fallbacks"};
	static const char *const tool_tail[] = {"toolgroup_id", "tool_host", "description", "parameters", "metadata"};
	static const size_t ncols[SG_RT_COUNT] = {14, 10, 11, 12, 13, 12, 11, 14};

	for (int t = 0; t < SG_RT_COUNT; t++)
		ck_assert_uint_eq(registry_row_ncols((enum sg_rtype) t), ncols[t]);
	for (size_t i = 0; i < SG_ARRAY_LEN(model); i++)
		ck_assert_str_eq(registry_row_column(SG_RT_MODEL, i), model[i]);
	ck_assert_ptr_null(registry_row_column(SG_RT_MODEL, SG_ARRAY_LEN(model)));
	for (size_t i = 0; i < SG_ARRAY_LEN(tool_tail); i++)
		ck_assert_str_eq(registry_row_column(SG_RT_TOOL, 9 + i), tool_tail[i]);
}
END_TEST

/*
 * One complete object per type, in the API's key order: object → row →
 * object gives it back byte for byte.  The allocation-failure loop
 * (check_alloc.c) encodes the same rows (suites.h).
 */
const struct sg_sample registry_samples[] = {
	{SG_RT_MODEL,
	 "{\"identifier\":\"meta-llama/Llama-3.2-3B\",\"provider_resource_id\":\"llama3.2:3b\","
	 "\"provider_id\":\"ollama\",\"type\":\"model\",\"access_attributes\":null,\"metadata\":{},"
	 "\"model_type\":\"llm\",\"deployments\":null,\"routing\":null,\"fallbacks\":null}"},
	{SG_RT_MODEL,
	 "{\"identifier\":\"e\",\"provider_resource_id\":null,\"provider_id\":\"vllm\",\"type\":\"model\","
	 "\"access_attributes\":{\"roles\":[\"a\",\"b\"],\"teams\":[],\"projects\":null,"
	 "\"namespaces\":[\"k\"]},\"metadata\":{\"embedding_dimension\":384,\"x\":[1.5,null,\"s\"]},"
	 "\"model_type\":\"embedding\",\"deployments\":[{\"provider_id\":\"vllm\",\"provider_model_id\":\"e\","
	 "\"weight\":2}],\"routing\":\"ordered\",\"fallbacks\":[\"f\"]}"},
	{SG_RT_SHIELD,
	 "{\"identifier\":\"s\",\"provider_resource_id\":\"s\",\"provider_id\":\"llama-guard\","
	 "\"type\":\"shield\",\"access_attributes\":{\"roles\":null,\"teams\":null,\"projects\":null,"
	 "\"namespaces\":null},\"params\":{}}"},
	{SG_RT_VECTOR_DB,
	 "{\"identifier\":\"v\",\"provider_resource_id\":\"v\",\"provider_id\":\"faiss\","
	 "\"type\":\"vector_db\",\"access_attributes\":null,\"embedding_model\":\"e\","
	 "\"embedding_dimension\":384}"},
	{SG_RT_DATASET,
	 "{\"identifier\":\"d\",\"provider_resource_id\":\"d\",\"provider_id\":\"localfs\","
	 "\"type\":\"dataset\",\"access_attributes\":null,\"purpose\":\"eval/messages-answer\","
	 "\"source\":{\"type\":\"rows\",\"rows\":[{\"q\":\"a\"}]},\"metadata\":{}}"},
	{SG_RT_SCORING_FN,
	 "{\"identifier\":\"basic::equality\",\"provider_resource_id\":\"equality\","
	 "\"provider_id\":\"basic\",\"type\":\"scoring_function\",\"access_attributes\":null,"
	 "\"description\":\"exact match\",\"metadata\":{},\"return_type\":{\"type\":\"number\"},"
	 "\"params\":{\"type\":\"basic\",\"aggregation_functions\":[\"accuracy\"]}}"},
	{SG_RT_BENCHMARK,
	 "{\"identifier\":\"b\",\"provider_resource_id\":\"b\",\"provider_id\":\"meta-reference\","
	 "\"type\":\"benchmark\",\"access_attributes\":null,\"dataset_id\":\"d\","
	 "\"scoring_functions\":[\"basic::equality\",\"x\"],\"metadata\":{}}"},
	{SG_RT_TOOL_GROUP,
	 "{\"identifier\":\"mcp::g\",\"provider_resource_id\":\"mcp::g\","
	 "\"provider_id\":\"model-context-protocol\",\"type\":\"tool_group\",\"access_attributes\":null,"
	 "\"mcp_endpoint\":{\"uri\":\"http://127.0.0.1:1/sse\"},\"args\":null}"},
	{SG_RT_TOOL,
	 "{\"identifier\":\"t\",\"provider_resource_id\":\"t\",\"provider_id\":\"model-context-protocol\","
	 "\"type\":\"tool\",\"access_attributes\":{\"roles\":null,\"teams\":[\"a\"],\"projects\":null,"
	 "\"namespaces\":null},\"toolgroup_id\":\"mcp::g\","
	 "\"tool_host\":\"model_context_protocol\",\"description\":\"\",\"parameters\":[{\"name\":\"a\","
	 "\"parameter_type\":\"string\",\"description\":\"d\",\"required\":true,\"default\":null}],"
	 "\"metadata\":null}"},
};
const size_t registry_samples_count = SG_ARRAY_LEN(registry_samples);

START_TEST(test_round_trip)
{
	enum sg_rtype t = registry_samples[_i].t;
	json_t *in = parse(registry_samples[_i].obj), *out;
	char *vals[32];
	struct sg_err err = {0};
	char *a, *b;

	ck_assert_int_eq(registry_row_from_object(t, in, "alice", vals, &err), SG_OK);
	ck_assert_str_eq(vals[0], json_string_value(json_object_get(in, "identifier")));
	ck_assert_str_eq(vals[3], "alice"); /* owner is a column, never a key */
	ck_assert_str_eq(vals[4], json_is_object(json_object_get(in, "access_attributes")) ? "t" : "f");
	out = registry_row_to_object(t, (const char *const *) vals);
	ck_assert_ptr_nonnull(out);
	a = dump(in);
	b = dump(out); /* dump keeps insertion order: this also checks the key order */
	ck_assert_str_eq(b, a);
	ck_assert_ptr_null(json_object_get(out, "owner"));
	free(a);
	free(b);
	registry_row_free(t, vals);
	json_decref(in);
	json_decref(out);
}
END_TEST

START_TEST(test_row_values)
{
	json_t *in = parse(
		"{\"identifier\":\"e\",\"provider_id\":\"vllm\",\"access_attributes\":"
		"{\"roles\":[\"a\",\"b\\\"c\"],\"teams\":[]},\"metadata\":{\"k\":1},\"model_type\":\"llm\"}");
	json_t *bm = parse(
		"{\"identifier\":\"b\",\"provider_id\":\"p\",\"dataset_id\":\"d\",\"scoring_functions\":[],"
		"\"metadata\":{}}");
	json_t *vdb = parse(
		"{\"identifier\":\"v\",\"provider_id\":\"p\",\"embedding_model\":\"e\","
		"\"embedding_dimension\":4096}");
	char *vals[32];
	struct sg_err err = {0};

	ck_assert_int_eq(registry_row_from_object(SG_RT_MODEL, in, NULL, vals, &err), SG_OK);
	ck_assert_ptr_null(vals[1]); /* provider_resource_id absent → NULL */
	ck_assert_ptr_null(vals[3]); /* no owner */
	ck_assert_str_eq(vals[4], "t");
	ck_assert_str_eq(vals[5], "[\"a\",\"b\\\"c\"]");
	ck_assert_str_eq(vals[6], "[]");
	ck_assert_ptr_null(vals[7]);
	ck_assert_ptr_null(vals[8]);
	ck_assert_str_eq(vals[9], "{\"k\":1}");
	ck_assert_str_eq(vals[10], "llm");
	registry_row_free(SG_RT_MODEL, vals);
	ck_assert_int_eq(registry_row_from_object(SG_RT_BENCHMARK, bm, NULL, vals, &err), SG_OK);
	ck_assert_str_eq(vals[10], "[]");
	registry_row_free(SG_RT_BENCHMARK, vals);
	ck_assert_int_eq(registry_row_from_object(SG_RT_VECTOR_DB, vdb, NULL, vals, &err), SG_OK);
	ck_assert_str_eq(vals[10], "4096");
	registry_row_free(SG_RT_VECTOR_DB, vals);
	json_decref(in);
	json_decref(bm);
	json_decref(vdb);
}
END_TEST

/* Unknown keys are dropped, missing ones become null, "type" comes from the table: the form equality uses. */
START_TEST(test_canonical)
{
	json_t *in = parse(
		"{\"identifier\":\"m\",\"provider_id\":\"p\",\"type\":\"shield\",\"zzz\":1,"
		"\"model_type\":\"llm\",\"access_attributes\":{\"teams\":[\"t\"],\"other\":[\"x\"]}}");
	json_t *out;
	char *vals[32], *s;
	struct sg_err err = {0};

	ck_assert_int_eq(registry_row_from_object(SG_RT_MODEL, in, NULL, vals, &err), SG_OK);
	out = registry_row_to_object(SG_RT_MODEL, (const char *const *) vals);
	s = dump(out);
	ck_assert_str_eq(
		s,
		"{\"identifier\":\"m\",\"provider_resource_id\":null,\"provider_id\":\"p\","
		"\"type\":\"model\",\"access_attributes\":{\"roles\":null,\"teams\":[\"t\"],"
		"\"projects\":null,\"namespaces\":null},\"metadata\":null,\"model_type\":\"llm\",\"deployments\":null,"
		"\"routing\":null,\"fallbacks\":null}");
	free(s);
	registry_row_free(SG_RT_MODEL, vals);
	json_decref(in);
	json_decref(out);
}
END_TEST

static const struct {
	enum sg_rtype t;
	const char *obj, *msg;
} bad[] = {
	{SG_RT_MODEL, "[1]", "a model must be a JSON object"},
	{SG_RT_MODEL, "{\"provider_id\":\"p\",\"model_type\":\"llm\"}", "field 'identifier' is required"},
	{SG_RT_MODEL, "{\"identifier\":null,\"provider_id\":\"p\",\"model_type\":\"llm\"}",
	 "field 'identifier' is required"},
	{SG_RT_MODEL, "{\"identifier\":\"m\",\"model_type\":\"llm\"}", "field 'provider_id' is required"},
	{SG_RT_MODEL, "{\"identifier\":\"m\",\"provider_id\":7,\"model_type\":\"llm\"}",
	 "field 'provider_id' must be a string"},
	{SG_RT_MODEL, "{\"identifier\":\"m\\u0000x\",\"provider_id\":\"p\",\"model_type\":\"llm\"}",
	 "field 'identifier' must not contain a NUL character"},
	{SG_RT_MODEL, "{\"identifier\":\"m\",\"provider_id\":\"p\"}", "field 'model_type' is required"},
	{SG_RT_MODEL, "{\"identifier\":\"m\",\"provider_id\":\"p\",\"model_type\":\"llm\",\"access_attributes\":[]}",
	 "field 'access_attributes' must be an object or null"},
	{SG_RT_MODEL,
	 "{\"identifier\":\"m\",\"provider_id\":\"p\",\"model_type\":\"llm\",\"access_attributes\":{\"roles\":\"a\"}}",
	 "field 'access_attributes.roles' must be an array of strings"},
	{SG_RT_MODEL,
	 "{\"identifier\":\"m\",\"provider_id\":\"p\",\"model_type\":\"llm\",\"access_attributes\":{\"teams\":[1]}}",
	 "field 'access_attributes.teams' must be an array of strings"},
	{SG_RT_VECTOR_DB, "{\"identifier\":\"v\",\"provider_id\":\"p\",\"embedding_model\":\"e\"}",
	 "field 'embedding_dimension' is required"},
	{SG_RT_VECTOR_DB,
	 "{\"identifier\":\"v\",\"provider_id\":\"p\",\"embedding_model\":\"e\",\"embedding_dimension\":3.5}",
	 "field 'embedding_dimension' must be an integer"},
	{SG_RT_DATASET, "{\"identifier\":\"d\",\"provider_id\":\"p\",\"purpose\":\"eval/messages-answer\"}",
	 "field 'source' is required"},
	{SG_RT_SCORING_FN, "{\"identifier\":\"f\",\"provider_id\":\"p\",\"return_type\":null}",
	 "field 'return_type' is required"},
	{SG_RT_BENCHMARK,
	 "{\"identifier\":\"b\",\"provider_id\":\"p\",\"dataset_id\":\"d\",\"scoring_functions\":\"x\"}",
	 "field 'scoring_functions' must be an array of strings"},
	{SG_RT_TOOL, "{\"identifier\":\"t\",\"provider_id\":\"p\",\"description\":\"\"}",
	 "field 'toolgroup_id' is required"},
};

START_TEST(test_bad_objects)
{
	json_t *in = parse(bad[_i].obj);
	char *vals[32];
	struct sg_err err = {0};

	ck_assert_int_eq(registry_row_from_object(bad[_i].t, in, "o", vals, &err), SG_E_BAD_REQUEST);
	ck_assert_str_eq(err.msg, bad[_i].msg);
	registry_row_free(bad[_i].t, vals);
	for (size_t i = 0; i < registry_row_ncols(bad[_i].t); i++)
		ck_assert_ptr_null(vals[i]);
	json_decref(in);
}
END_TEST

START_TEST(test_malformed_row)
{
	const char *vals[14] = {"m",  NULL, "p",         NULL,  "f",  NULL, NULL,
				NULL, NULL, "{not json", "llm", NULL, NULL, NULL};
	json_t *o;

	ck_assert_ptr_null(registry_row_to_object(SG_RT_MODEL, vals));
	vals[9] = NULL;
	o = registry_row_to_object(SG_RT_MODEL, vals);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_is_null(json_object_get(o, "metadata")));
	json_decref(o);
}
END_TEST

static void
cache_put(enum sg_rtype t, const char *text, long long created, long long seq)
{
	json_t *o = parse(text);

	ck_assert_int_eq(registry_cache_put(t, o, created, seq), SG_OK);
	json_decref(o);
}

/* Expects registry_list(t, group) to give the identifiers want, comma-separated, in that order. */
static void
expect_list(enum sg_rtype t, const char *group, const char *want)
{
	char s[4096] = "";
	size_t i;
	json_t *a, *v;

	ck_assert_int_eq(registry_list(t, group, &a), SG_OK);
	json_array_foreach(a, i, v) {
		if (i)
			strcat(s, ",");
		strcat(s, json_string_value(json_object_get(v, "identifier")));
	}
	json_decref(a);
	ck_assert_str_eq(s, want);
}

START_TEST(test_cache)
{
	json_t *o = NULL;

	registry_cache_reset(true);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"c\",\"provider_id\":\"p\",\"type\":\"model\"}", 1000, 30);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"a\",\"provider_id\":\"p\",\"type\":\"model\"}", 1001, 10);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"b\",\"provider_id\":\"p\",\"type\":\"model\"}", 1002, 20);
	cache_put(SG_RT_SHIELD, "{\"identifier\":\"a\",\"provider_id\":\"shield-p\",\"type\":\"shield\"}", 1, 5);
	ck_assert_uint_eq(registry_cache_count(SG_RT_MODEL), 3);
	ck_assert_uint_eq(registry_cache_count(SG_RT_SHIELD), 1);

	/* registration order is seq order, whatever the arrival order */
	expect_list(SG_RT_MODEL, NULL, "a,b,c");

	/* one table per type; a get after the first returns the kept, shared parse (read-only) */
	ck_assert_int_eq(registry_get(SG_RT_SHIELD, "a", &o), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "provider_id")), "shield-p");
	{
		json_t *o2 = NULL;

		ck_assert_int_eq(registry_get(SG_RT_SHIELD, "a", &o2), SG_OK);
		ck_assert_ptr_eq(o, o2);
		json_decref(o2);
	}
	json_decref(o);
	ck_assert_int_eq(registry_get(SG_RT_MODEL, "zz", &o), SG_E_NOT_FOUND);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(registry_created_at(SG_RT_MODEL, "b"), 1002);
	ck_assert_int_eq(registry_created_at(SG_RT_MODEL, "zz"), 0);

	/* a refreshed entry replaces the old one; a re-registered one moves to its new place */
	cache_put(SG_RT_MODEL, "{\"identifier\":\"a\",\"provider_id\":\"q\",\"type\":\"model\"}", 1003, 40);
	ck_assert_uint_eq(registry_cache_count(SG_RT_MODEL), 3);
	expect_list(SG_RT_MODEL, NULL, "b,c,a");
	ck_assert_int_eq(registry_get(SG_RT_MODEL, "a", &o), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "provider_id")), "q");
	json_decref(o);

	registry_cache_drop(SG_RT_MODEL, "c");
	registry_cache_drop(SG_RT_MODEL, "not-there");
	ck_assert_int_eq(registry_get(SG_RT_MODEL, "c", &o), SG_E_NOT_FOUND);
	expect_list(SG_RT_MODEL, NULL, "b,a");

	o = parse("{\"provider_id\":\"p\"}");
	ck_assert_int_eq(registry_cache_put(SG_RT_MODEL, o, 0, 1), SG_E_BAD_REQUEST);
	json_decref(o);
	registry_cache_reset(false);
	ck_assert_uint_eq(registry_cache_count(SG_RT_MODEL), 0);
}
END_TEST

START_TEST(test_cache_tools_by_group)
{
	registry_cache_reset(true);
	cache_put(SG_RT_TOOL, "{\"identifier\":\"t1\",\"toolgroup_id\":\"g1\"}", 0, 1);
	cache_put(SG_RT_TOOL, "{\"identifier\":\"t2\",\"toolgroup_id\":\"g2\"}", 0, 2);
	cache_put(SG_RT_TOOL, "{\"identifier\":\"t3\",\"toolgroup_id\":\"g1\"}", 0, 3);
	cache_put(SG_RT_TOOL, "{\"identifier\":\"t4\"}", 0, 4);
	expect_list(SG_RT_TOOL, "g1", "t1,t3");
	expect_list(SG_RT_TOOL, NULL, "t1,t2,t3,t4");
	expect_list(SG_RT_TOOL, "g9", "");
	/* the filter is for tools only */
	expect_list(SG_RT_MODEL, "g1", "");
	registry_cache_reset(false);
}
END_TEST

/*
 * 100,000 models: every one found, the order kept, and a lookup compares with
 * a handful of them, as among 10 (a count, not a time: how fast is bench/'s).
 */
START_TEST(test_cache_large)
{
	enum { N = 100000, CHAIN = 12 };
	json_t *o = json_pack("{s:s, s:s, s:s}", "identifier", "", "provider_id", "p", "type", "model"), *a, *got;
	char id[32];

	registry_cache_reset(true);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "m-%d", i);
		json_object_set_new(o, "identifier", json_string(id));
		ck_assert_int_eq(registry_cache_put(SG_RT_MODEL, o, 0, i), SG_OK);
		if (i == 9)
			ck_assert_uint_le(registry_cache_longest_chain(SG_RT_MODEL), CHAIN);
	}
	ck_assert_uint_eq(registry_cache_count(SG_RT_MODEL), N);
	/* A scan would compare with all N; a hash table with a few whatever N is. */
	ck_assert_uint_le(registry_cache_longest_chain(SG_RT_MODEL), CHAIN);
	for (int i = 0; i < N; i += 997) {
		snprintf(id, sizeof(id), "m-%d", i);
		ck_assert_int_eq(registry_get(SG_RT_MODEL, id, &got), SG_OK);
		ck_assert_str_eq(json_string_value(json_object_get(got, "identifier")), id);
		json_decref(got);
	}
	ck_assert_int_eq(registry_list(SG_RT_MODEL, NULL, &a), SG_OK);
	ck_assert_uint_eq(json_array_size(a), N);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, N - 1), "identifier")), "m-99999");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 12345), "identifier")), "m-12345");
	json_decref(a);
	json_decref(o);
	registry_cache_reset(false);
}
END_TEST

/* Refreshing entries (what every notification does) keeps every other entry of its hash chain. */
START_TEST(test_cache_replace_in_chains)
{
	enum { N = 5000 };
	json_t *o = json_pack("{s:s, s:s}", "identifier", "", "provider_id", "p"), *got;
	char id[32];

	registry_cache_reset(true);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			snprintf(id, sizeof(id), "r-%d", i);
			json_object_set_new(o, "identifier", json_string(id));
			json_object_set_new(o, "provider_id", json_string(round ? "second" : "first"));
			ck_assert_int_eq(registry_cache_put(SG_RT_MODEL, o, 0, round * N + i), SG_OK);
		}
		ck_assert_uint_eq(registry_cache_count(SG_RT_MODEL), N);
		for (int i = 0; i < N; i++) {
			snprintf(id, sizeof(id), "r-%d", i);
			ck_assert_msg(registry_get(SG_RT_MODEL, id, &got) == SG_OK, "%s lost in round %d", id, round);
			ck_assert_str_eq(json_string_value(json_object_get(got, "provider_id")),
					 round ? "second" : "first");
			json_decref(got);
		}
	}
	for (int i = 0; i < N; i += 2) {
		snprintf(id, sizeof(id), "r-%d", i);
		registry_cache_drop(SG_RT_MODEL, id);
	}
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "r-%d", i);
		ck_assert_int_eq(registry_get(SG_RT_MODEL, id, &got), i % 2 ? SG_OK : SG_E_NOT_FOUND);
		json_decref(got);
	}
	json_decref(o);
	registry_cache_reset(false);
}
END_TEST

/* ---- walks (registry_iter) ---- */

/* Walks t (group) to the end: the identifiers joined by ',' (a new string), and the created times summed. */
static char *
walk_ids(enum sg_rtype t, const char *group, long long *created_sum)
{
	struct registry_iter it;
	size_t cap = 1 << 16, len = 0;
	char *s = calloc(1, cap);
	json_t *o;
	long long c, sum = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(registry_iter_open(&it, t, group), SG_OK);
	for (;;) {
		const char *id;

		ck_assert_int_eq(registry_iter_next(&it, &o, &c), SG_OK);
		if (o == NULL)
			break;
		id = json_string_value(json_object_get(o, "identifier"));
		ck_assert_ptr_nonnull(id);
		while (len + strlen(id) + 2 > cap) {
			s = realloc(s, cap *= 2);
			ck_assert_ptr_nonnull(s);
		}
		len += (size_t) sprintf(s + len, "%s%s", len ? "," : "", id);
		sum += c;
		json_decref(o);
	}
	/* the end stays the end */
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
	ck_assert_ptr_null(o);
	registry_iter_free(&it);
	registry_iter_free(&it);
	if (created_sum != NULL)
		*created_sum = sum;
	return s;
}

START_TEST(test_iter_order)
{
	struct registry_iter it;
	json_t *o, *again;
	long long created = -1, sum;
	char *s;

	registry_cache_reset(true);
	s = walk_ids(SG_RT_MODEL, NULL, NULL);
	ck_assert_str_eq(s, "");
	free(s);
	cache_put(SG_RT_MODEL,
		  "{\"identifier\":\"c\",\"provider_id\":\"p\",\"type\":\"model\","
		  "\"access_attributes\":{\"roles\":[\"r\"]}}",
		  1000, 30);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"a\",\"provider_id\":\"p\",\"type\":\"model\"}", 1001, 10);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"b\",\"provider_id\":\"p\",\"type\":\"model\"}", 1002, 20);
	cache_put(SG_RT_SHIELD, "{\"identifier\":\"s\",\"provider_id\":\"p\",\"type\":\"shield\"}", 7, 5);

	/* registration (seq) order, one type only, with each object's created time */
	s = walk_ids(SG_RT_MODEL, NULL, &sum);
	ck_assert_str_eq(s, "a,b,c");
	ck_assert_int_eq(sum, 3003);
	free(s);
	s = walk_ids(SG_RT_SHIELD, NULL, &sum);
	ck_assert_str_eq(s, "s");
	ck_assert_int_eq(sum, 7);
	free(s);

	/* the objects are the caller's own: changing one changes nothing in the cache */
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_OK);
	ck_assert_int_eq(registry_iter_next(&it, &o, &created), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "identifier")), "a");
	ck_assert_int_eq(created, 1001);
	ck_assert_int_eq(json_object_set_new(o, "provider_id", json_string("changed")), 0);
	json_decref(o);
	ck_assert_int_eq(registry_iter_next(&it, &o, &created), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(o, "identifier")), "b");
	json_decref(o);
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
	/* the ACL comes with the object */
	ck_assert_str_eq(
		json_string_value(json_array_get(json_object_get(json_object_get(o, "access_attributes"), "roles"), 0)),
		"r");
	json_decref(o);
	registry_iter_free(&it);
	ck_assert_int_eq(registry_get(SG_RT_MODEL, "a", &again), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(again, "provider_id")), "p");
	json_decref(again);

	/* no lock is held between two steps: a write from the same thread goes through (it would deadlock) */
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_OK);
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
	json_decref(o);
	cache_put(SG_RT_MODEL, "{\"identifier\":\"d\",\"provider_id\":\"p\",\"type\":\"model\"}", 1003, 40);
	registry_cache_drop(SG_RT_MODEL, "d");
	registry_iter_free(&it);

	/* an invalid type is refused */
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_COUNT, NULL), SG_E_NOT_FOUND);
	registry_iter_free(&it);
	registry_cache_reset(false);
}
END_TEST

START_TEST(test_iter_tools_by_group)
{
	enum { N = 3000 };
	char text[160], *s, *want;
	size_t wl = 0;

	registry_cache_reset(true);
	want = calloc(1, (size_t) N * 16);
	ck_assert_ptr_nonnull(want);
	/* enough tools for several batches, the group's scattered among the others */
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text),
			 "{\"identifier\":\"t%d\",\"toolgroup_id\":\"%s\",\"description\":\"%060d\"}", i,
			 i % 7 == 3 ? "g1" : "g2", i);
		cache_put(SG_RT_TOOL, text, 0, i);
		if (i % 7 == 3)
			wl += (size_t) sprintf(want + wl, "%st%d", wl ? "," : "", i);
	}
	s = walk_ids(SG_RT_TOOL, "g1", NULL);
	ck_assert_str_eq(s, want);
	free(s);
	s = walk_ids(SG_RT_TOOL, "g9", NULL);
	ck_assert_str_eq(s, "");
	free(s);
	/* the filter is for tools only */
	cache_put(SG_RT_MODEL, "{\"identifier\":\"m\",\"toolgroup_id\":\"g1\"}", 0, N + 1);
	s = walk_ids(SG_RT_MODEL, "g9", NULL);
	ck_assert_str_eq(s, "m");
	free(s);
	free(want);
	registry_cache_reset(false);
}
END_TEST

/*
 * The cache changing between two batches (the test peeks at the batch
 * position to act exactly there): the entry the walk stopped at kept or
 * removed, entries ahead removed, replaced and added; the walk resumes in place,
 * never repeats an object and shows what the cache holds when it gets there.
 */
START_TEST(test_iter_changes_between_batches)
{
	enum { N = 4000 };
	struct registry_iter it;
	char text[200], id[32], last[32] = "", *seen;
	json_t *o;
	int count = 0, boundaries = 0, dropped = 0, prev = -1;
	bool saw_new = false, saw_replaced = false;

	registry_cache_reset(true);
	for (int i = 0; i < N; i++) {
		snprintf(text, sizeof(text), "{\"identifier\":\"w%d\",\"provider_id\":\"p\",\"description\":\"%080d\"}",
			 i, i);
		cache_put(SG_RT_MODEL, text, i, 10 + i);
	}
	seen = calloc(N + 2, 1);
	ck_assert_ptr_nonnull(seen);
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_OK);
	/* the first batch holds about REGISTRY_ITER_BATCH bytes, not the whole table */
	ck_assert(!it.exhausted);
	ck_assert_uint_lt(it.batch.len, (size_t) REGISTRY_ITER_BATCH + 1024);
	for (;;) {
		const char *ident;
		int n;

		if (it.pos >= it.batch.len && !it.exhausted && last[0] != '\0') {
			int k = atoi(last + 1);

			boundaries++;
			/*
			 * Every other time the entry the walk stopped at goes: it resumes at
			 * the next registration after it; else it resumes right after it.
			 */
			if (boundaries % 2 == 1)
				registry_cache_drop(SG_RT_MODEL, last);
			/* one ahead goes, one ahead is replaced in place, one is added at the end */
			if (k + 2 < N) {
				snprintf(id, sizeof(id), "w%d", k + 2);
				registry_cache_drop(SG_RT_MODEL, id);
				dropped++;
			}
			if (k + 3 < N) {
				snprintf(text, sizeof(text), "{\"identifier\":\"w%d\",\"provider_id\":\"replaced\"}",
					 k + 3);
				cache_put(SG_RT_MODEL, text, 0, 10 + k + 3);
			}
			if (boundaries == 1)
				cache_put(SG_RT_MODEL, "{\"identifier\":\"w-new\",\"provider_id\":\"p\"}", 0,
					  10 + N + 5);
		}
		ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
		if (o == NULL)
			break;
		ident = json_string_value(json_object_get(o, "identifier"));
		if (strcmp(ident, "w-new") == 0) {
			ck_assert(!saw_new);
			saw_new = true;
		} else {
			n = atoi(ident + 1);
			ck_assert_int_gt(n, prev); /* in order, never twice */
			prev = n;
			ck_assert(!seen[n]);
			seen[n] = 1;
			if (strcmp(json_string_value(json_object_get(o, "provider_id")), "replaced") == 0)
				saw_replaced = true;
		}
		snprintf(last, sizeof(last), "%s", ident);
		count++;
		json_decref(o);
	}
	ck_assert_int_ge(boundaries, 3);
	ck_assert(saw_new);
	ck_assert(saw_replaced);
	/* every entry not removed ahead of the walk was seen, and w-new */
	ck_assert_int_eq(count, N - dropped + 1);
	ck_assert_uint_le(it.batch.cap, (size_t) 2 * REGISTRY_ITER_BATCH + 2048);
	registry_iter_free(&it);
	free(seen);

	/* the cache stopping in the middle of a walk is an error, not a short list */
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_OK);
	while (it.pos < it.batch.len) {
		ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
		ck_assert_ptr_nonnull(o);
		json_decref(o);
	}
	registry_cache_reset(false);
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_E_UNAVAILABLE);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
	ck_assert_ptr_null(o);
	registry_iter_free(&it);
}
END_TEST

/*
 * A walk that starts while the cache is not loaded reads PostgreSQL: the
 * same objects in the same order as registry_list(), with the created times
 * registry_created_at() reads one by one.  Needs SG_TEST_DATABASE_URL (a
 * migrated database with models in it; 35_list_stream.sh runs it).
 */
START_TEST(test_iter_from_database)
{
	struct sg_conf conf = {.conninfo = getenv("SG_TEST_DATABASE_URL"), .db_pool_size = 2};
	struct registry_iter it;
	json_t *all = NULL, *o;
	size_t n = 0;
	long long created;

	ck_assert_int_eq(db_init(&conf), SG_OK);
	registry_cache_reset(false);
	ck_assert_int_eq(registry_list(SG_RT_MODEL, NULL, &all), SG_OK);
	ck_assert_uint_gt(json_array_size(all), 0);
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_OK);
	for (;;) {
		ck_assert_int_eq(registry_iter_next(&it, &o, &created), SG_OK);
		if (o == NULL)
			break;
		ck_assert_msg(json_equal(o, json_array_get(all, n)), "object %zu differs", n);
		if (n % 97 == 0) {
			const char *id = json_string_value(json_object_get(o, "identifier"));

			ck_assert_int_eq(created, registry_created_at(SG_RT_MODEL, id));
		}
		ck_assert_int_gt(created, 0);
		json_decref(o);
		n++;
	}
	ck_assert_uint_eq(n, json_array_size(all));
	registry_iter_free(&it);
	json_decref(all);
	/* a group filter on tools that matches nothing */
	ck_assert_int_eq(registry_iter_open(&it, SG_RT_TOOL, "no-such-group-for-db-walk"), SG_OK);
	ck_assert_int_eq(registry_iter_next(&it, &o, NULL), SG_OK);
	ck_assert_ptr_null(o);
	registry_iter_free(&it);
	db_shutdown();
}
END_TEST

/* Without registry_open and db_init nothing answers: a clean 503, never a crash or a fake answer. */
START_TEST(test_no_database)
{
	json_t *o = parse("{\"identifier\":\"m\",\"provider_id\":\"p\",\"model_type\":\"llm\"}"), *out = NULL;
	struct sg_err err = {0};
	bool created = true;

	registry_cache_reset(false);
	ck_assert_int_eq(registry_get(SG_RT_MODEL, "m", &out), SG_E_UNAVAILABLE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(registry_list(SG_RT_MODEL, NULL, &out), SG_E_UNAVAILABLE);
	{
		struct registry_iter it;

		/* a walk that starts without the cache asks PostgreSQL, which is not there */
		ck_assert_int_eq(registry_iter_open(&it, SG_RT_MODEL, NULL), SG_E_UNAVAILABLE);
		ck_assert_int_eq(registry_iter_next(&it, &out, NULL), SG_OK);
		ck_assert_ptr_null(out);
		registry_iter_free(&it);
	}
	ck_assert_int_eq(registry_created_at(SG_RT_MODEL, "m"), 0);
	ck_assert_int_eq(registry_register(SG_RT_MODEL, o, NULL, false, &out, &created, &err), SG_E_UNAVAILABLE);
	ck_assert_str_eq(err.msg, "the registry database is unavailable");
	ck_assert(!created);
	ck_assert_int_eq(registry_unregister(SG_RT_MODEL, "m", NULL, &err), SG_E_UNAVAILABLE);
	/* a field error is found before any database is needed */
	json_object_set_new(o, "model_type", json_integer(1));
	ck_assert_int_eq(registry_register(SG_RT_MODEL, o, NULL, false, &out, &created, &err), SG_E_BAD_REQUEST);
	ck_assert_str_eq(err.msg, "field 'model_type' must be a string");
	json_decref(o);
}
END_TEST

Suite *
registry_suite(void)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	const TTest *const rows[] = {test_type_names, test_columns,       test_taken_message, test_row_values,
				     test_canonical,  test_malformed_row, test_no_database,   NULL};
	const struct sg_loop rows_loops[] = {
		SG_LOOP(test_round_trip, registry_samples), SG_LOOP(test_bad_objects, bad), {.t = NULL}};
	const TTest *const cache[] = {
		test_cache,      test_cache_tools_by_group, test_cache_replace_in_chains,      test_cache_large,
		test_iter_order, test_iter_tools_by_group,  test_iter_changes_between_batches, NULL};
	const TTest *const walk[] = {test_iter_from_database, NULL};
	/* The walk over PostgreSQL needs a database: that case only when one is given. */
	const struct sg_tcase tcases[] = {
		{.name = "rows", .tests = rows, .loops = rows_loops},
		{.name = "cache", .tests = cache, .timeout = 120},
		{.name = db != NULL && db[0] != '\0' ? "db_walk" : NULL, .tests = walk, .timeout = 60},
		{.name = NULL}};

	return sg_suite_new("registry", tcases);
}
