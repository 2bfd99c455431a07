/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources_build.c: the pure half of the resources module: a register body
 * (POST body or config entry) becomes the complete object to store
 * (resources_build), with each type's validation and defaults, the provider
 * chosen from the config by API, the access attributes decided, and
 * references checked through the caller's lookup callback; plus the built-in
 * tool runtimes' fixed tool lists and the Tool objects made from ToolDefs.
 * The helpers the per-type builders share (field getters, provider choice,
 * access attributes) are in resources_fields.c (resources_int.h).  No I/O:
 * no registry, no MCP, no HTTP (resources.c does those).  Called from
 * request threads on read-only config.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "netaddr.h"
#include "resources_int.h"

#define MCP_PROVIDER_TYPE "remote::model-context-protocol"

/* Sets key on obj, taking *v (which is consumed and cleared either way); false on failure. */
static bool
put(json_t *obj, const char *key, json_t **v)
{
	json_t *val = *v;

	*v = NULL;
	return val != NULL && json_object_set_new(obj, key, val) == 0;
}

/* put() for a value made on the spot. */
static bool
put_new(json_t *obj, const char *key, json_t *v)
{
	return put(obj, key, &v);
}

/* A positive integer that fits a 32-bit column. */
static bool
positive_int(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= INT32_MAX;
}

static sg_status
build_model(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup, void *ctx,
	    json_t **out, struct sg_err *err)
{
	static const char *const model_types[] = {"llm", "embedding", NULL};
	struct common c = {0};
	struct model_routing mr = {0};
	json_t *metadata = NULL, *first = NULL;
	const char *model_type;
	sg_status st;

	/* With deployments, the model's provider is the first one's (Llama Stack clients read provider_id). */
	st = resources_model_first_deployment(conf, body, &first, err);
	if (st != SG_OK)
		return st;
	if (first != NULL)
		body = first;
	st = resources_common_fields(SG_RT_MODEL, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "metadata", "metadata", true, &metadata, err);
	if (st == SG_OK)
		st = resources_field_enum(body, "model_type", "model_type", false, model_types, &model_type, err);
	if (st != SG_OK)
		goto out;
	if (model_type == NULL)
		model_type = "llm";
	if (strcmp(model_type, "embedding") == 0) {
		json_t *dim = json_object_get(metadata, "embedding_dimension");

		if (dim == NULL || json_is_null(dim)) {
			st = sg_fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
				     "an embedding model needs metadata.embedding_dimension");
			goto out;
		}
		if (!positive_int(dim)) {
			st = sg_fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
				     "metadata.embedding_dimension must be a positive integer");
			goto out;
		}
	}
	st = resources_model_routing(conf, body, c.identifier, model_type, lookup, ctx, &mr, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_MODEL, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put(*out, "metadata", &metadata) ||
	    !put_new(*out, "model_type", json_string(model_type)) || !put(*out, "deployments", &mr.deployments) ||
	    !put(*out, "routing", &mr.routing) || !put(*out, "fallbacks", &mr.fallbacks))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(metadata);
	resources_model_routing_free(&mr);
	json_decref(first);
	return st;
}

static sg_status
build_shield(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup, void *ctx,
	     json_t **out, struct sg_err *err)
{
	struct common c = {0};
	json_t *params = NULL;
	sg_status st;

	(void) lookup; /* no references to look up */
	(void) ctx;
	st = resources_common_fields(SG_RT_SHIELD, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "params", "params", true, &params, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_SHIELD, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put(*out, "params", &params))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(params);
	return st;
}

static sg_status
build_vector_db(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
		void *ctx, json_t **out, struct sg_err *err)
{
	struct common c = {0};
	json_t *model = NULL, *dim, *mdim;
	const char *emb;
	sg_status st;

	st = resources_common_fields(SG_RT_VECTOR_DB, conf, id, body, PICK_FIRST, &c, err);
	if (st == SG_OK)
		st = resources_field_ident(body, "embedding_model", "embedding_model", true, &emb, err);
	if (st == SG_OK)
		st = sg_json_field(body, "embedding_dimension", "embedding_dimension", JSON_INTEGER, false, &dim, err);
	if (st != SG_OK)
		goto out;
	if (dim != NULL && !positive_int(dim)) {
		st = sg_fail(err, SG_E_BAD_REQUEST, "embedding_dimension",
			     "embedding_dimension must be a positive integer");
		goto out;
	}
	st = resources_lookup_ref(lookup, ctx, SG_RT_MODEL, emb, "embedding_model", &model, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_BAD_REQUEST;
	if (!json_is_string(json_object_get(model, "model_type")) ||
	    strcmp(json_string_value(json_object_get(model, "model_type")), "embedding") != 0) {
		sg_fail(err, st, "embedding_model", "embedding_model: Model '%.*s' is not an embedding model",
			(int) sg_utf8_prefix(emb, 300), emb);
		goto out;
	}
	mdim = json_object_get(json_object_get(model, "metadata"), "embedding_dimension");
	if (!positive_int(mdim)) {
		sg_fail(err, st, "embedding_model",
			"embedding_model: Model '%.*s' has no valid metadata.embedding_dimension",
			(int) sg_utf8_prefix(emb, 300), emb);
		goto out;
	}
	if (dim != NULL && json_integer_value(dim) != json_integer_value(mdim)) {
		sg_fail(err, st, "embedding_dimension",
			"embedding_dimension %lld does not match the dimension %lld of embedding model '%.*s'",
			(long long) json_integer_value(dim), (long long) json_integer_value(mdim),
			(int) sg_utf8_prefix(emb, 300), emb);
		goto out;
	}
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_VECTOR_DB, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put_new(*out, "embedding_model", json_string(emb)) ||
	    !put_new(*out, "embedding_dimension", json_integer(json_integer_value(mdim))))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(model);
	return st;
}

/* "dataset-" + a random (version 4) UUID. */
static bool
dataset_default_id(char *buf, size_t len)
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != (ssize_t) sizeof(u))
		return false;
	u[6] = (unsigned char) ((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char) ((u[8] & 0x3f) | 0x80);
	snprintf(buf, len, "dataset-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return true;
}

/* The validated DataSource, rebuilt with its discriminator's fields only.  New reference. */
static sg_status
build_source(json_t *body, json_t **out, const char **uri, struct sg_err *err)
{
	static const char *const types[] = {"uri", "rows", NULL};
	json_t *src, *rows, *row;
	const char *type;
	size_t i;
	sg_status st;

	*out = NULL;
	*uri = NULL;
	st = sg_json_field(body, "source", "source", JSON_OBJECT, true, &src, err);
	if (st == SG_OK)
		st = resources_field_enum(src, "type", "source.type", true, types, &type, err);
	if (st != SG_OK)
		return st;
	if (strcmp(type, "uri") == 0) {
		st = sg_json_field_str(src, "uri", "source.uri", true, uri, err);
		if (st != SG_OK)
			return st;
		if (**uri == '\0')
			return sg_fail(err, SG_E_BAD_REQUEST, "source.uri", "source.uri must not be empty");
		*out = json_pack("{s:s, s:s}", "type", "uri", "uri", *uri);
	} else {
		st = sg_json_field(src, "rows", "source.rows", JSON_ARRAY, true, &rows, err);
		if (st != SG_OK)
			return st;
		json_array_foreach(rows, i, row)
			if (!json_is_object(row))
				return sg_fail(err, SG_E_BAD_REQUEST, "source.rows",
					       "source.rows[%zu] must be an object", i);
		*out = json_pack("{s:s, s:o}", "type", "rows", "rows", json_deep_copy(rows));
	}
	if (*out == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

static sg_status
build_dataset(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
	      void *ctx, json_t **out, struct sg_err *err)
{
	static const char *const purposes[] = {"post-training/messages", "eval/question-answer", "eval/messages-answer",
					       NULL};
	const struct sg_provider *p = NULL;
	json_t *source = NULL, *metadata = NULL, *acl = NULL;
	const char *purpose, *uri, *dsid;
	char defid[64];
	sg_status st;

	(void) lookup; /* no references to look up */
	(void) ctx;
	st = resources_field_enum(body, "purpose", "purpose", true, purposes, &purpose, err);
	if (st == SG_OK)
		st = build_source(body, &source, &uri, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "metadata", "metadata", true, &metadata, err);
	if (st == SG_OK)
		st = resources_field_ident(body, "dataset_id", "dataset_id", false, &dsid, err);
	if (st == SG_OK)
		st = resources_dataset_provider(conf, body, uri, &p, err);
	if (st == SG_OK)
		st = resources_acl_for(id, body, &acl, err);
	if (st != SG_OK)
		goto out;
	if (dsid == NULL) {
		if (!dataset_default_id(defid, sizeof(defid))) {
			st = sg_fail(err, SG_E_INTERNAL, NULL, "no random bytes for a dataset id");
			goto out;
		}
		dsid = defid;
	}
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_DATASET, dsid, dsid, p, acl);
	acl = NULL;
	if (*out == NULL || !put_new(*out, "purpose", json_string(purpose)) || !put(*out, "source", &source) ||
	    !put(*out, "metadata", &metadata))
		goto out;
	st = SG_OK;
out:
	json_decref(acl);
	json_decref(source);
	json_decref(metadata);
	return st;
}

/* ScoringFnParams, discriminated by "type", with its defaults, in pydantic's field order.  New reference. */
static sg_status
build_scoring_params(json_t *body, json_t **out, struct sg_err *err)
{
	static const char *const types[] = {"llm_as_judge", "regex_parser", "basic", NULL};
	static const char *const aggs[] = {"average",           "weighted_average", "median",
					   "categorical_count", "accuracy",         NULL};
	json_t *params, *agg = NULL, *regexes = NULL;
	const char *type, *judge = NULL, *tmpl = NULL;
	sg_status st;

	*out = NULL;
	st = sg_json_field(body, "params", "params", JSON_OBJECT, false, &params, err);
	if (st != SG_OK)
		return st;
	if (params == NULL) {
		*out = json_null();
		return SG_OK;
	}
	st = resources_field_enum(params, "type", "params.type", true, types, &type, err);
	if (st == SG_OK)
		st = resources_field_strings(params, "aggregation_functions", "params.aggregation_functions", aggs,
					     &agg, err);
	if (st != SG_OK)
		goto out;
	if (strcmp(type, "llm_as_judge") == 0) {
		st = sg_json_field_str(params, "judge_model", "params.judge_model", true, &judge, err);
		if (st == SG_OK)
			st = sg_json_field_str(params, "prompt_template", "params.prompt_template", false, &tmpl, err);
		if (st == SG_OK)
			st = resources_field_strings(params, "judge_score_regexes", "params.judge_score_regexes", NULL,
						     &regexes, err);
		if (st != SG_OK)
			goto out;
		*out = json_pack("{s:s, s:s, s:o, s:O, s:O}", "type", type, "judge_model", judge, "prompt_template",
				 tmpl ? json_string(tmpl) : json_null(), "judge_score_regexes", regexes,
				 "aggregation_functions", agg);
	} else if (strcmp(type, "regex_parser") == 0) {
		st = resources_field_strings(params, "parsing_regexes", "params.parsing_regexes", NULL, &regexes, err);
		if (st != SG_OK)
			goto out;
		*out = json_pack("{s:s, s:O, s:O}", "type", type, "parsing_regexes", regexes, "aggregation_functions",
				 agg);
	} else {
		*out = json_pack("{s:s, s:O}", "type", type, "aggregation_functions", agg);
	}
	st = *out ? SG_OK : sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
out:
	json_decref(agg);
	json_decref(regexes);
	return st;
}

static sg_status
build_scoring_fn(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
		 void *ctx, json_t **out, struct sg_err *err)
{
	static const char *const param_types[] = {"string",
						  "number",
						  "boolean",
						  "array",
						  "object",
						  "json",
						  "union",
						  "chat_completion_input",
						  "completion_input",
						  "agent_turn_input",
						  NULL};
	struct common c = {0};
	json_t *rt, *metadata = NULL, *params = NULL;
	const char *desc, *rtype;
	sg_status st;

	(void) lookup; /* no references to look up */
	(void) ctx;
	st = resources_common_fields(SG_RT_SCORING_FN, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = sg_json_field_str(body, "description", "description", true, &desc, err);
	if (st == SG_OK)
		st = sg_json_field(body, "return_type", "return_type", JSON_OBJECT, true, &rt, err);
	if (st == SG_OK)
		st = resources_field_enum(rt, "type", "return_type.type", true, param_types, &rtype, err);
	if (st == SG_OK)
		st = build_scoring_params(body, &params, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "metadata", "metadata", true, &metadata, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_SCORING_FN, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put_new(*out, "description", json_string(desc)) || !put(*out, "metadata", &metadata) ||
	    !put_new(*out, "return_type", json_pack("{s:s}", "type", rtype)) || !put(*out, "params", &params))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(metadata);
	json_decref(params);
	return st;
}

static sg_status
build_benchmark(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
		void *ctx, json_t **out, struct sg_err *err)
{
	struct common c = {0};
	json_t *fns, *fn, *metadata = NULL, *ref = NULL;
	const char *dsid;
	char param[64], why[128];
	size_t i;
	sg_status st;

	st = resources_common_fields(SG_RT_BENCHMARK, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK && strchr(c.identifier, '/') != NULL)
		st = sg_fail(err, SG_E_BAD_REQUEST, "benchmark_id",
			     "benchmark_id must not contain '/' (its routes take one path segment)");
	if (st == SG_OK)
		st = resources_field_ident(body, "dataset_id", "dataset_id", true, &dsid, err);
	if (st == SG_OK)
		st = sg_json_field(body, "scoring_functions", "scoring_functions", JSON_ARRAY, true, &fns, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "metadata", "metadata", true, &metadata, err);
	if (st != SG_OK)
		goto out;
	json_array_foreach(fns, i, fn) {
		if (!json_is_string(fn) || !resources_identifier_ok(json_string_value(fn), why, sizeof(why))) {
			st = sg_fail(err, SG_E_BAD_REQUEST, "scoring_functions", "scoring_functions[%zu] %s", i,
				     json_is_string(fn) ? why : "must be a string");
			goto out;
		}
	}
	st = resources_lookup_ref(lookup, ctx, SG_RT_DATASET, dsid, "dataset_id", &ref, err);
	if (st != SG_OK)
		goto out;
	json_array_foreach(fns, i, fn) {
		json_decref(ref);
		ref = NULL;
		snprintf(param, sizeof(param), "scoring_functions[%zu]", i);
		st = resources_lookup_ref(lookup, ctx, SG_RT_SCORING_FN, json_string_value(fn), param, &ref, err);
		if (st != SG_OK) {
			snprintf(err->param, sizeof(err->param), "scoring_functions");
			goto out;
		}
	}
	st = SG_E_NOMEM;
	*out = resources_object_new(SG_RT_BENCHMARK, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put_new(*out, "dataset_id", json_string(dsid)) ||
	    !put_new(*out, "scoring_functions", json_deep_copy(fns)) || !put(*out, "metadata", &metadata))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(metadata);
	json_decref(ref);
	return st;
}

static sg_status
build_tool_group(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
		 void *ctx, json_t **out, struct sg_err *err)
{
	struct common c = {0};
	json_t *ep, *mcp = NULL, *args = NULL;
	const char *uri = NULL;
	bool is_mcp;
	sg_status st;

	(void) lookup; /* no references to look up */
	(void) ctx;
	st = resources_common_fields(SG_RT_TOOL_GROUP, conf, id, body, PICK_REQUIRED, &c, err);
	if (st == SG_OK)
		st = sg_json_field(body, "mcp_endpoint", "mcp_endpoint", JSON_OBJECT, false, &ep, err);
	if (st == SG_OK && ep != NULL)
		st = sg_json_field_str(ep, "uri", "mcp_endpoint.uri", true, &uri, err);
	if (st == SG_OK)
		st = resources_field_obj(body, "args", "args", false, &args, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_BAD_REQUEST;
	is_mcp = strcmp(c.provider->provider_type, MCP_PROVIDER_TYPE) == 0;
	if (uri != NULL) {
		/* The policy of who may send stackgate where is mcp.h's; here only what no URL may be. */
		struct netaddr_url u;
		char why[256];

		st = netaddr_parse_url(uri, &u, why, sizeof(why));
		if (st != SG_OK) {
			sg_fail(err, st, "mcp_endpoint.uri", "mcp_endpoint.uri %s", why);
			goto out;
		}
		st = SG_E_BAD_REQUEST;
	}
	if (is_mcp && uri == NULL) {
		sg_fail(err, st, "mcp_endpoint", "mcp_endpoint is required for provider '%s' (%s)",
			c.provider->provider_id, MCP_PROVIDER_TYPE);
		goto out;
	}
	if (!is_mcp && uri != NULL) {
		sg_fail(err, st, "mcp_endpoint", "mcp_endpoint is only accepted for %s providers, and '%s' is %s",
			MCP_PROVIDER_TYPE, c.provider->provider_id, c.provider->provider_type);
		goto out;
	}
	st = SG_E_NOMEM;
	mcp = uri != NULL ? json_pack("{s:s}", "uri", uri) : json_null();
	*out = resources_object_new(SG_RT_TOOL_GROUP, c.identifier, c.identifier, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put(*out, "mcp_endpoint", &mcp) || !put(*out, "args", &args))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(mcp);
	json_decref(args);
	return st;
}

/* Each type's builder; SG_RT_TOOL has none (tools come with their group). */
static sg_status (*const builders[SG_RT_COUNT])(const struct sg_conf *, const struct identity *, json_t *,
						resources_lookup_fn, void *, json_t **, struct sg_err *) = {
	[SG_RT_MODEL] = build_model,           [SG_RT_SHIELD] = build_shield,
	[SG_RT_VECTOR_DB] = build_vector_db,   [SG_RT_DATASET] = build_dataset,
	[SG_RT_SCORING_FN] = build_scoring_fn, [SG_RT_BENCHMARK] = build_benchmark,
	[SG_RT_TOOL_GROUP] = build_tool_group,
};

sg_status
resources_build(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body,
		resources_lookup_fn lookup, void *ctx, json_t **out, struct sg_err *err)
{
	sg_status st;

	*out = NULL;
	err->param[0] = err->msg[0] = '\0';
	if (!json_is_object(body))
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "the request body must be a JSON object");
	if ((unsigned) t >= SG_RT_COUNT || builders[t] == NULL)
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "tools are registered through their tool group");
	st = builders[t](conf, id, body, lookup, ctx, out, err);
	if (st != SG_OK && *out != NULL) {
		json_decref(*out);
		*out = NULL;
	}
	return sg_err_nomem(err, st);
}

/* The fixed tool lists of Llama Stack's built-in tool runtimes (list_runtime_tools at 2b2db5fbda). */
static const struct builtin_tool {
	const char *provider_type;
	const char *name;
	const char *description;
	const char *param, *param_type, *param_desc; /* the one parameter, or NULL */
} builtin_tools[] = {
	{"inline::rag-runtime", "insert_into_memory", "Insert documents into memory", NULL, NULL, NULL},
	{"inline::rag-runtime", "knowledge_search", "Search for information in a database.", "query", "string",
	 "The query to search for. Can be a natural language sentence or keywords."},
	{"inline::code-interpreter", "code_interpreter", "Execute code", "code", "string", "The code to execute"},
	{"remote::tavily-search", "web_search", "Search the web for information", "query", "string",
	 "The query to search for"},
	{"remote::brave-search", "web_search", "Search the web for information", "query", "string",
	 "The query to search for"},
	{"remote::bing-search", "web_search", "Search the web using Bing Search API", "query", "string",
	 "The query to search for"},
	{"remote::wolfram-alpha", "wolfram_alpha", "Query WolframAlpha for computational knowledge", "query", "string",
	 "The query to compute"},
};

json_t *
resources_builtin_tool_defs(const char *provider_type)
{
	json_t *defs = json_array();

	for (size_t i = 0; defs != NULL && i < SG_ARRAY_LEN(builtin_tools); i++) {
		const struct builtin_tool *b = &builtin_tools[i];
		json_t *params, *def;

		if (provider_type == NULL || strcmp(provider_type, b->provider_type) != 0)
			continue;
		params = b->param == NULL
				 ? json_array()
				 : json_pack("[{s:s, s:s, s:s, s:b, s:n}]", "name", b->param, "parameter_type",
					     b->param_type, "description", b->param_desc, "required", 1, "default");
		def = json_pack("{s:s, s:s, s:o, s:n}", "name", b->name, "description", b->description, "parameters",
				params, "metadata");
		if (def == NULL || json_array_append_new(defs, def) != 0) {
			json_decref(defs);
			defs = NULL;
		}
	}
	return defs;
}

sg_status
resources_tools_from_defs(const json_t *group, const json_t *defs, sg_status fail_status, json_t **tools,
			  struct sg_err *err)
{
	const char *gid = json_string_value(json_object_get(group, "identifier"));
	const char *pid = json_string_value(json_object_get(group, "provider_id"));
	const json_t *ep = json_object_get(group, "mcp_endpoint"), *def;
	const char *host = json_is_object(ep) ? "model_context_protocol" : "distribution";
	json_t *out = NULL, *seen = NULL;
	char why[128];
	size_t i;
	sg_status st = SG_E_NOMEM;

	*tools = NULL;
	out = json_array();
	seen = json_object();
	if (out == NULL || seen == NULL || gid == NULL || pid == NULL)
		goto out;
	json_array_foreach(defs, i, def) {
		const json_t *name = json_object_get(def, "name"), *desc = json_object_get(def, "description");
		const json_t *params = json_object_get(def, "parameters"), *meta = json_object_get(def, "metadata");
		json_t *tool;

		if (!json_is_string(name) || !resources_identifier_ok(json_string_value(name), why, sizeof(why))) {
			const char *nm = json_is_string(name) ? json_string_value(name) : "";

			st = sg_fail(err, fail_status, "mcp_endpoint", "the tool name '%.*s' %s",
				     (int) sg_utf8_prefix(nm, 64), nm, json_is_string(name) ? why : "is missing");
			goto out;
		}
		if (json_object_get(seen, json_string_value(name)) != NULL) {
			st = sg_fail(err, fail_status, "mcp_endpoint", "the tool '%.*s' is listed twice",
				     (int) sg_utf8_prefix(json_string_value(name), 300), json_string_value(name));
			goto out;
		}
		if (json_object_set_new(seen, json_string_value(name), json_true()) != 0)
			goto out;
		tool = json_pack("{s:O, s:O, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o}", "identifier", name,
				 "provider_resource_id", name, "provider_id", pid, "type",
				 registry_type_name(SG_RT_TOOL), "access_attributes",
				 json_deep_copy(json_object_get(group, "access_attributes")), "toolgroup_id", gid,
				 "tool_host", host, "description", json_is_string(desc) ? json_string_value(desc) : "",
				 "parameters", json_is_array(params) ? json_deep_copy(params) : json_array(),
				 "metadata", json_is_object(meta) ? json_deep_copy(meta) : json_null());
		if (tool == NULL || json_array_append_new(out, tool) != 0)
			goto out;
	}
	*tools = out;
	out = NULL;
	st = SG_OK;
out:
	json_decref(out);
	json_decref(seen);
	return sg_err_nomem(err, st);
}
