/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources.c: the Llama Stack registry routes (routing_tables.py at
 * 2b2db5fbda, reference/llama-stack-api.md §1) with the defects of §8 fixed:
 * not found and not visible are one 404; re-registering an identical object
 * returns it, a different one is a 409; every register returns the stored
 * object; providers are chosen from the config by API and never by
 * hard-coded ids; references (embedding model, dataset, scoring functions)
 * must exist and be visible; tool groups carry their creator's ACL and lose
 * their tools with them.
 *
 * Validation and defaults are pure (resources_build()); the registry is
 * reached only through registry.h and the MCP servers through mcp.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "mcp.h"
#include "openai.h"
#include "resources.h"
#include "route.h"

#define MAX_IDENTIFIER_CHARS 255
#define MCP_PROVIDER_TYPE "remote::model-context-protocol"

/* What the code needs to know per resource type. */
static const struct rtype_info {
	const char *type;     /* the objects' "type" */
	const char *label;    /* for messages */
	const char *id_key;   /* the register body's identifier key */
	const char *prid_key; /* the body's provider resource id key, or NULL */
	enum sg_api api;      /* whose providers serve it */
} rtypes[SG_RT_COUNT] = {
	[SG_RT_MODEL] = {"model", "Model", "model_id", "provider_model_id", SG_API_INFERENCE},
	[SG_RT_SHIELD] = {"shield", "Shield", "shield_id", "provider_shield_id", SG_API_SAFETY},
	[SG_RT_VECTOR_DB] = {"vector_db", "Vector DB", "vector_db_id", "provider_vector_db_id", SG_API_VECTOR_IO},
	[SG_RT_DATASET] = {"dataset", "Dataset", "dataset_id", NULL, SG_API_DATASETIO},
	[SG_RT_SCORING_FN] = {"scoring_function", "Scoring function", "scoring_fn_id", "provider_scoring_fn_id",
			      SG_API_SCORING},
	[SG_RT_BENCHMARK] = {"benchmark", "Benchmark", "benchmark_id", "provider_benchmark_id", SG_API_EVAL},
	[SG_RT_TOOL_GROUP] = {"tool_group", "Tool group", "toolgroup_id", NULL, SG_API_TOOL_RUNTIME},
	[SG_RT_TOOL] = {"tool", "Tool", NULL, NULL, SG_API_TOOL_RUNTIME},
};

/* Llama Stack's API names, as the config keys its providers. */
static const char *const api_names[SG_API_COUNT] = {
	[SG_API_INFERENCE] = "inference", [SG_API_SAFETY] = "safety",   [SG_API_VECTOR_IO] = "vector_io",
	[SG_API_DATASETIO] = "datasetio", [SG_API_SCORING] = "scoring", [SG_API_EVAL] = "eval",
	[SG_API_TOOL_RUNTIME] = "tool_runtime",
};

const char *
resources_type_label(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rtypes[t].label : "Resource";
}

static sg_status
fail(struct resources_err *err, sg_status st, const char *param, const char *fmt, ...) SG_PRINTF(4, 5);

static sg_status
fail(struct resources_err *err, sg_status st, const char *param, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return st;
}

bool
resources_identifier_ok(const char *s, char *why, size_t whylen)
{
	size_t chars = 0;
	const unsigned char *p = (const unsigned char *) s;

	if (*p == '\0') {
		snprintf(why, whylen, "must not be empty");
		return false;
	}
	for (; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			snprintf(why, whylen, "must not contain control characters");
			return false;
		}
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	if (chars > MAX_IDENTIFIER_CHARS) {
		snprintf(why, whylen, "must be at most %d characters long", MAX_IDENTIFIER_CHARS);
		return false;
	}
	return true;
}

/*
 * Fetches obj[key] (null counts as absent) and checks its JSON type.  name
 * is the field as messages call it ("source.uri").  *out is borrowed.
 */
static sg_status
get(json_t *obj, const char *key, const char *name, json_type type, bool required, json_t **out,
    struct resources_err *err)
{
	static const char *const what[] = {
		[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array",   [JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer", [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
	};
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return fail(err, SG_E_BAD_REQUEST, name, "%s is required", name);
		return SG_OK;
	}
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return fail(err, SG_E_BAD_REQUEST, name, "%s must be %s", name, what[type]);
	*out = v;
	return SG_OK;
}

static sg_status
get_str(json_t *obj, const char *key, const char *name, bool required, const char **out, struct resources_err *err)
{
	json_t *v;
	sg_status st = get(obj, key, name, JSON_STRING, required, &v, err);

	*out = v ? json_string_value(v) : NULL;
	return st;
}

/* A string that must be an identifier. */
static sg_status
get_ident(json_t *obj, const char *key, const char *name, bool required, const char **out, struct resources_err *err)
{
	char why[128];
	sg_status st = get_str(obj, key, name, required, out, err);

	if (st == SG_OK && *out != NULL && !resources_identifier_ok(*out, why, sizeof(why)))
		return fail(err, SG_E_BAD_REQUEST, name, "%s %s", name, why);
	return st;
}

/* A string that must be one of the NULL-terminated list. */
static sg_status
get_enum(json_t *obj, const char *key, const char *name, bool required, const char *const *allowed, const char **out,
	 struct resources_err *err)
{
	char list[256] = "";
	size_t used = 0;
	sg_status st = get_str(obj, key, name, required, out, err);

	if (st != SG_OK || *out == NULL)
		return st;
	for (size_t i = 0; allowed[i] != NULL; i++)
		if (strcmp(*out, allowed[i]) == 0)
			return SG_OK;
	for (size_t i = 0; allowed[i] != NULL && used < sizeof(list); i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s'%s'", i ? ", " : "", allowed[i]);

		if (n < 0)
			break;
		used += (size_t) n;
	}
	return fail(err, SG_E_BAD_REQUEST, name, "%s must be one of %s, not '%.64s'", name, list, *out);
}

/* A copy of the optional object obj[key]; when absent {} (empty_default) or null.  New reference in *out. */
static sg_status
get_obj_copy(json_t *obj, const char *key, const char *name, bool empty_default, json_t **out,
	     struct resources_err *err)
{
	json_t *v;
	sg_status st = get(obj, key, name, JSON_OBJECT, false, &v, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	*out = v ? json_deep_copy(v) : empty_default ? json_object() : json_null();
	if (*out == NULL)
		return fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* "a, b, c" of api's provider ids, or "none". */
static void
provider_list(const struct sg_conf *conf, enum sg_api api, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < conf->nproviders; i++) {
		int n;

		if (conf->providers[i].api != api)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", conf->providers[i].provider_id);
		if (n < 0 || (size_t) n >= len - used)
			break;
		used += (size_t) n;
	}
	if (used == 0)
		snprintf(buf, len, "none");
}

static const struct sg_provider *
provider_by_id(const struct sg_conf *conf, enum sg_api api, const char *id)
{
	for (size_t i = 0; i < conf->nproviders; i++)
		if (conf->providers[i].api == api && strcmp(conf->providers[i].provider_id, id) == 0)
			return &conf->providers[i];
	return NULL;
}

static const struct sg_provider *
provider_by_type(const struct sg_conf *conf, enum sg_api api, const char *type)
{
	for (size_t i = 0; i < conf->nproviders; i++)
		if (conf->providers[i].api == api && strcmp(conf->providers[i].provider_type, type) == 0)
			return &conf->providers[i];
	return NULL;
}

static size_t
provider_count(const struct sg_conf *conf, enum sg_api api, const struct sg_provider **first)
{
	size_t n = 0;

	*first = NULL;
	for (size_t i = 0; i < conf->nproviders; i++) {
		if (conf->providers[i].api != api)
			continue;
		if (n++ == 0)
			*first = &conf->providers[i];
	}
	return n;
}

/* How a type picks its provider when the body names none. */
enum pick {
	PICK_ONLY,     /* the only provider of the API, else 400 */
	PICK_FIRST,    /* the first provider of the API (vector DBs) */
	PICK_REQUIRED, /* provider_id is required (tool groups) */
};

/*
 * The provider for a new object: the body's provider_id when given (it must
 * be a configured provider of api), else as mode says.  Messages name the
 * configured providers, never a Python repr.
 */
static sg_status
pick_provider(const struct sg_conf *conf, enum sg_api api, json_t *body, enum pick mode,
	      const struct sg_provider **out, struct resources_err *err)
{
	char list[256];
	const char *given;
	const struct sg_provider *first;
	size_t n;
	sg_status st;

	*out = NULL;
	st = get_str(body, "provider_id", "provider_id", false, &given, err);
	if (st != SG_OK)
		return st;
	provider_list(conf, api, list, sizeof(list));
	if (given == NULL && mode == PICK_REQUIRED)
		return fail(err, SG_E_BAD_REQUEST, "provider_id", "provider_id is required (configured %s providers: %s)",
			    api_names[api], list);
	if (given != NULL) {
		*out = provider_by_id(conf, api, given);
		if (*out == NULL)
			return fail(err, SG_E_BAD_REQUEST, "provider_id",
				    "provider_id '%.64s' is not a configured %s provider (configured %s providers: %s)",
				    given, api_names[api], api_names[api], list);
		return SG_OK;
	}
	n = provider_count(conf, api, &first);
	if (n == 0)
		return fail(err, SG_E_BAD_REQUEST, "provider_id", "no %s provider is configured", api_names[api]);
	if (n > 1 && mode == PICK_ONLY)
		return fail(err, SG_E_BAD_REQUEST, "provider_id",
			    "provider_id is required when several %s providers are configured (configured: %s)",
			    api_names[api], list);
	if (n > 1)
		log_debug("no provider_id given; using the first %s provider '%s'", api_names[api], first->provider_id);
	*out = first;
	return SG_OK;
}

/* The new object's access_attributes: the body's (validated), the caller's, or null.  New reference. */
static sg_status
acl_for(const struct identity *id, json_t *body, json_t **out, struct resources_err *err)
{
	json_t *given = json_object_get(body, "access_attributes");
	struct sg_attrs a = {0};
	char why[256];

	*out = NULL;
	if (given != NULL && !json_is_null(given)) {
		if (acl_attrs_from_json(given, &a, why, sizeof(why)) != SG_OK) {
			acl_attrs_free(&a);
			return fail(err, SG_E_BAD_REQUEST, "access_attributes", "access_attributes: %s", why);
		}
		*out = acl_attrs_to_json(&a);
		acl_attrs_free(&a);
	} else if (id != NULL && id->attrs.present && !acl_attrs_empty(&id->attrs)) {
		*out = acl_attrs_to_json(&id->attrs);
	} else {
		*out = json_null();
	}
	if (*out == NULL)
		return fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* A new object with the Resource fields, in the API's order.  Steals acl. */
static json_t *
resource_new(enum sg_rtype t, const char *identifier, const char *prid, const struct sg_provider *p, json_t *acl)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "identifier", identifier, "provider_resource_id", prid,
			 "provider_id", p->provider_id, "type", rtypes[t].type, "access_attributes", acl);
}

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

/* The fields every builder starts with: identifier, provider resource id, provider, ACL. */
struct common {
	const char *identifier;
	const char *prid;
	const struct sg_provider *provider;
	json_t *acl; /* owned until resource_new() steals it */
};

static sg_status
common_fields(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body, enum pick mode,
	      struct common *c, struct resources_err *err)
{
	const struct rtype_info *ti = &rtypes[t];
	sg_status st;

	st = get_ident(body, ti->id_key, ti->id_key, true, &c->identifier, err);
	if (st == SG_OK && ti->prid_key != NULL)
		st = get_ident(body, ti->prid_key, ti->prid_key, false, &c->prid, err);
	if (st != SG_OK)
		return st;
	if (c->prid == NULL)
		c->prid = c->identifier;
	st = pick_provider(conf, ti->api, body, mode, &c->provider, err);
	if (st != SG_OK)
		return st;
	return acl_for(id, body, &c->acl, err);
}

static sg_status
build_model(const struct sg_conf *conf, const struct identity *id, json_t *body, json_t **out,
	    struct resources_err *err)
{
	static const char *const model_types[] = {"llm", "embedding", NULL};
	struct common c = {0};
	json_t *metadata = NULL;
	const char *model_type;
	sg_status st;

	st = common_fields(SG_RT_MODEL, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "metadata", "metadata", true, &metadata, err);
	if (st == SG_OK)
		st = get_enum(body, "model_type", "model_type", false, model_types, &model_type, err);
	if (st != SG_OK)
		goto out;
	if (model_type == NULL)
		model_type = "llm";
	if (strcmp(model_type, "embedding") == 0) {
		json_t *dim = json_object_get(metadata, "embedding_dimension");

		if (dim == NULL || json_is_null(dim)) {
			st = fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
				  "an embedding model needs metadata.embedding_dimension");
			goto out;
		}
		if (!positive_int(dim)) {
			st = fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
				  "metadata.embedding_dimension must be a positive integer");
			goto out;
		}
	}
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_MODEL, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put(*out, "metadata", &metadata) || !put_new(*out, "model_type", json_string(model_type)))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(metadata);
	return st;
}

static sg_status
build_shield(const struct sg_conf *conf, const struct identity *id, json_t *body, json_t **out,
	     struct resources_err *err)
{
	struct common c = {0};
	json_t *params = NULL;
	sg_status st;

	st = common_fields(SG_RT_SHIELD, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "params", "params", true, &params, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_SHIELD, c.identifier, c.prid, c.provider, c.acl);
	c.acl = NULL;
	if (*out == NULL || !put(*out, "params", &params))
		goto out;
	st = SG_OK;
out:
	json_decref(c.acl);
	json_decref(params);
	return st;
}

/* Looks up a referenced object; NOT_FOUND gets the message "<what> '<id>' not found". */
static sg_status
lookup_ref(resources_lookup_fn lookup, void *ctx, enum sg_rtype t, const char *identifier, const char *param,
	   json_t **out, struct resources_err *err)
{
	sg_status st = lookup(ctx, t, identifier, out);

	if (st == SG_E_NOT_FOUND)
		return fail(err, SG_E_BAD_REQUEST, param, "%s: %s '%.300s' not found", param, rtypes[t].label,
			    identifier);
	if (st != SG_OK && err->msg[0] == '\0')
		return fail(err, st, NULL, "the registry is unavailable");
	return st;
}

static sg_status
build_vector_db(const struct sg_conf *conf, const struct identity *id, json_t *body, resources_lookup_fn lookup,
		void *ctx, json_t **out, struct resources_err *err)
{
	struct common c = {0};
	json_t *model = NULL, *dim, *mdim;
	const char *emb;
	sg_status st;

	st = common_fields(SG_RT_VECTOR_DB, conf, id, body, PICK_FIRST, &c, err);
	if (st == SG_OK)
		st = get_ident(body, "embedding_model", "embedding_model", true, &emb, err);
	if (st == SG_OK)
		st = get(body, "embedding_dimension", "embedding_dimension", JSON_INTEGER, false, &dim, err);
	if (st != SG_OK)
		goto out;
	if (dim != NULL && !positive_int(dim)) {
		st = fail(err, SG_E_BAD_REQUEST, "embedding_dimension", "embedding_dimension must be a positive integer");
		goto out;
	}
	st = lookup_ref(lookup, ctx, SG_RT_MODEL, emb, "embedding_model", &model, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_BAD_REQUEST;
	if (!json_is_string(json_object_get(model, "model_type")) ||
	    strcmp(json_string_value(json_object_get(model, "model_type")), "embedding") != 0) {
		fail(err, st, "embedding_model", "embedding_model: Model '%.300s' is not an embedding model", emb);
		goto out;
	}
	mdim = json_object_get(json_object_get(model, "metadata"), "embedding_dimension");
	if (!positive_int(mdim)) {
		fail(err, st, "embedding_model", "embedding_model: Model '%.300s' has no valid metadata.embedding_dimension",
		     emb);
		goto out;
	}
	if (dim != NULL && json_integer_value(dim) != json_integer_value(mdim)) {
		fail(err, st, "embedding_dimension",
		     "embedding_dimension %lld does not match the dimension %lld of embedding model '%.300s'",
		     (long long) json_integer_value(dim), (long long) json_integer_value(mdim), emb);
		goto out;
	}
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_VECTOR_DB, c.identifier, c.prid, c.provider, c.acl);
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

/* True for a URI that names a Hugging Face dataset. */
static bool
hf_uri(const char *uri)
{
	static const char *const prefixes[] = {
		"huggingface:", "hf://", "https://huggingface.co/", "http://huggingface.co/", "https://hf.co/",
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(prefixes); i++)
		if (strncmp(uri, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
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
	snprintf(buf, len,
		 "dataset-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return true;
}

/* The validated DataSource, rebuilt with its discriminator's fields only.  New reference. */
static sg_status
build_source(json_t *body, json_t **out, const char **uri, struct resources_err *err)
{
	static const char *const types[] = {"uri", "rows", NULL};
	json_t *src, *rows, *row;
	const char *type;
	size_t i;
	sg_status st;

	*out = NULL;
	*uri = NULL;
	st = get(body, "source", "source", JSON_OBJECT, true, &src, err);
	if (st == SG_OK)
		st = get_enum(src, "type", "source.type", true, types, &type, err);
	if (st != SG_OK)
		return st;
	if (strcmp(type, "uri") == 0) {
		st = get_str(src, "uri", "source.uri", true, uri, err);
		if (st != SG_OK)
			return st;
		if (**uri == '\0')
			return fail(err, SG_E_BAD_REQUEST, "source.uri", "source.uri must not be empty");
		*out = json_pack("{s:s, s:s}", "type", "uri", "uri", *uri);
	} else {
		st = get(src, "rows", "source.rows", JSON_ARRAY, true, &rows, err);
		if (st != SG_OK)
			return st;
		json_array_foreach(rows, i, row)
			if (!json_is_object(row))
				return fail(err, SG_E_BAD_REQUEST, "source.rows", "source.rows[%zu] must be an object", i);
		*out = json_pack("{s:s, s:o}", "type", "rows", "rows", json_deep_copy(rows));
	}
	if (*out == NULL)
		return fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/*
 * A dataset's provider: the body's provider_id if given; else by source (a
 * Hugging Face URI → a remote::huggingface provider, anything else → an
 * inline::localfs provider); else the only datasetio provider.
 */
static sg_status
dataset_provider(const struct sg_conf *conf, json_t *body, const char *uri, const struct sg_provider **out,
		 struct resources_err *err)
{
	const char *want = uri != NULL && hf_uri(uri) ? "remote::huggingface" : "inline::localfs";
	const struct sg_provider *first;
	char list[256];
	size_t n;

	if (json_object_get(body, "provider_id") != NULL && !json_is_null(json_object_get(body, "provider_id")))
		return pick_provider(conf, SG_API_DATASETIO, body, PICK_ONLY, out, err);
	*out = provider_by_type(conf, SG_API_DATASETIO, want);
	if (*out != NULL)
		return SG_OK;
	n = provider_count(conf, SG_API_DATASETIO, &first);
	if (n == 1) {
		*out = first;
		return SG_OK;
	}
	if (n == 0)
		return fail(err, SG_E_BAD_REQUEST, "provider_id", "no datasetio provider is configured");
	provider_list(conf, SG_API_DATASETIO, list, sizeof(list));
	return fail(err, SG_E_BAD_REQUEST, "provider_id",
		    "provider_id is required: no %s provider is configured for this source (configured datasetio "
		    "providers: %s)",
		    want, list);
}

static sg_status
build_dataset(const struct sg_conf *conf, const struct identity *id, json_t *body, json_t **out,
	      struct resources_err *err)
{
	static const char *const purposes[] = {"post-training/messages", "eval/question-answer", "eval/messages-answer",
					       NULL};
	const struct sg_provider *p = NULL;
	json_t *source = NULL, *metadata = NULL, *acl = NULL;
	const char *purpose, *uri, *dsid;
	char defid[64];
	sg_status st;

	st = get_enum(body, "purpose", "purpose", true, purposes, &purpose, err);
	if (st == SG_OK)
		st = build_source(body, &source, &uri, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "metadata", "metadata", true, &metadata, err);
	if (st == SG_OK)
		st = get_ident(body, "dataset_id", "dataset_id", false, &dsid, err);
	if (st == SG_OK)
		st = dataset_provider(conf, body, uri, &p, err);
	if (st == SG_OK)
		st = acl_for(id, body, &acl, err);
	if (st != SG_OK)
		goto out;
	if (dsid == NULL) {
		if (!dataset_default_id(defid, sizeof(defid))) {
			st = fail(err, SG_E_INTERNAL, NULL, "no random bytes for a dataset id");
			goto out;
		}
		dsid = defid;
	}
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_DATASET, dsid, dsid, p, acl);
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

/* A list of strings (each checked against allowed when given); a new copy in *out, [] when absent. */
static sg_status
string_list(json_t *obj, const char *key, const char *name, const char *const *allowed, json_t **out,
	    struct resources_err *err)
{
	json_t *v, *e;
	size_t i;
	sg_status st = get(obj, key, name, JSON_ARRAY, false, &v, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	json_array_foreach(v, i, e) {
		bool ok = allowed == NULL;

		if (!json_is_string(e))
			return fail(err, SG_E_BAD_REQUEST, name, "%s[%zu] must be a string", name, i);
		for (size_t k = 0; !ok && allowed[k] != NULL; k++)
			ok = strcmp(json_string_value(e), allowed[k]) == 0;
		if (!ok)
			return fail(err, SG_E_BAD_REQUEST, name,
				    "%s[%zu] must be one of 'average', 'weighted_average', 'median', "
				    "'categorical_count', 'accuracy', not '%.64s'",
				    name, i, json_string_value(e));
	}
	*out = v ? json_deep_copy(v) : json_array();
	if (*out == NULL)
		return fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* ScoringFnParams, discriminated by "type", with its defaults, in pydantic's field order.  New reference. */
static sg_status
build_scoring_params(json_t *body, json_t **out, struct resources_err *err)
{
	static const char *const types[] = {"llm_as_judge", "regex_parser", "basic", NULL};
	static const char *const aggs[] = {"average", "weighted_average", "median", "categorical_count", "accuracy",
					   NULL};
	json_t *params, *agg = NULL, *regexes = NULL;
	const char *type, *judge = NULL, *tmpl = NULL;
	sg_status st;

	*out = NULL;
	st = get(body, "params", "params", JSON_OBJECT, false, &params, err);
	if (st != SG_OK)
		return st;
	if (params == NULL) {
		*out = json_null();
		return SG_OK;
	}
	st = get_enum(params, "type", "params.type", true, types, &type, err);
	if (st == SG_OK)
		st = string_list(params, "aggregation_functions", "params.aggregation_functions", aggs, &agg, err);
	if (st != SG_OK)
		goto out;
	if (strcmp(type, "llm_as_judge") == 0) {
		st = get_str(params, "judge_model", "params.judge_model", true, &judge, err);
		if (st == SG_OK)
			st = get_str(params, "prompt_template", "params.prompt_template", false, &tmpl, err);
		if (st == SG_OK)
			st = string_list(params, "judge_score_regexes", "params.judge_score_regexes", NULL, &regexes, err);
		if (st != SG_OK)
			goto out;
		*out = json_pack("{s:s, s:s, s:o, s:O, s:O}", "type", type, "judge_model", judge, "prompt_template",
				 tmpl ? json_string(tmpl) : json_null(), "judge_score_regexes", regexes,
				 "aggregation_functions", agg);
	} else if (strcmp(type, "regex_parser") == 0) {
		st = string_list(params, "parsing_regexes", "params.parsing_regexes", NULL, &regexes, err);
		if (st != SG_OK)
			goto out;
		*out = json_pack("{s:s, s:O, s:O}", "type", type, "parsing_regexes", regexes, "aggregation_functions",
				 agg);
	} else {
		*out = json_pack("{s:s, s:O}", "type", type, "aggregation_functions", agg);
	}
	st = *out ? SG_OK : fail(err, SG_E_NOMEM, NULL, "out of memory");
out:
	json_decref(agg);
	json_decref(regexes);
	return st;
}

static sg_status
build_scoring_fn(const struct sg_conf *conf, const struct identity *id, json_t *body, json_t **out,
		 struct resources_err *err)
{
	static const char *const param_types[] = {"string", "number", "boolean", "array", "object", "json", "union",
						  "chat_completion_input", "completion_input", "agent_turn_input",
						  NULL};
	struct common c = {0};
	json_t *rt, *metadata = NULL, *params = NULL;
	const char *desc, *rtype;
	sg_status st;

	st = common_fields(SG_RT_SCORING_FN, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK)
		st = get_str(body, "description", "description", true, &desc, err);
	if (st == SG_OK)
		st = get(body, "return_type", "return_type", JSON_OBJECT, true, &rt, err);
	if (st == SG_OK)
		st = get_enum(rt, "type", "return_type.type", true, param_types, &rtype, err);
	if (st == SG_OK)
		st = build_scoring_params(body, &params, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "metadata", "metadata", true, &metadata, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_SCORING_FN, c.identifier, c.prid, c.provider, c.acl);
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
		void *ctx, json_t **out, struct resources_err *err)
{
	struct common c = {0};
	json_t *fns, *fn, *metadata = NULL, *ref = NULL;
	const char *dsid;
	char param[64], why[128];
	size_t i;
	sg_status st;

	st = common_fields(SG_RT_BENCHMARK, conf, id, body, PICK_ONLY, &c, err);
	if (st == SG_OK && strchr(c.identifier, '/') != NULL)
		st = fail(err, SG_E_BAD_REQUEST, "benchmark_id",
			  "benchmark_id must not contain '/' (its routes take one path segment)");
	if (st == SG_OK)
		st = get_ident(body, "dataset_id", "dataset_id", true, &dsid, err);
	if (st == SG_OK)
		st = get(body, "scoring_functions", "scoring_functions", JSON_ARRAY, true, &fns, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "metadata", "metadata", true, &metadata, err);
	if (st != SG_OK)
		goto out;
	json_array_foreach(fns, i, fn) {
		if (!json_is_string(fn) || !resources_identifier_ok(json_string_value(fn), why, sizeof(why))) {
			st = fail(err, SG_E_BAD_REQUEST, "scoring_functions", "scoring_functions[%zu] %s", i,
				  json_is_string(fn) ? why : "must be a string");
			goto out;
		}
	}
	st = lookup_ref(lookup, ctx, SG_RT_DATASET, dsid, "dataset_id", &ref, err);
	if (st != SG_OK)
		goto out;
	json_array_foreach(fns, i, fn) {
		json_decref(ref);
		ref = NULL;
		snprintf(param, sizeof(param), "scoring_functions[%zu]", i);
		st = lookup_ref(lookup, ctx, SG_RT_SCORING_FN, json_string_value(fn), param, &ref, err);
		if (st != SG_OK) {
			snprintf(err->param, sizeof(err->param), "scoring_functions");
			goto out;
		}
	}
	st = SG_E_NOMEM;
	*out = resource_new(SG_RT_BENCHMARK, c.identifier, c.prid, c.provider, c.acl);
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
build_tool_group(const struct sg_conf *conf, const struct identity *id, json_t *body, json_t **out,
		 struct resources_err *err)
{
	struct common c = {0};
	json_t *ep, *mcp = NULL, *args = NULL;
	const char *uri = NULL;
	bool is_mcp;
	sg_status st;

	st = common_fields(SG_RT_TOOL_GROUP, conf, id, body, PICK_REQUIRED, &c, err);
	if (st == SG_OK)
		st = get(body, "mcp_endpoint", "mcp_endpoint", JSON_OBJECT, false, &ep, err);
	if (st == SG_OK && ep != NULL)
		st = get_str(ep, "uri", "mcp_endpoint.uri", true, &uri, err);
	if (st == SG_OK)
		st = get_obj_copy(body, "args", "args", false, &args, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_BAD_REQUEST;
	is_mcp = strcmp(c.provider->provider_type, MCP_PROVIDER_TYPE) == 0;
	if (uri != NULL && strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0) {
		fail(err, st, "mcp_endpoint.uri", "mcp_endpoint.uri must be an http:// or https:// URL");
		goto out;
	}
	if (is_mcp && uri == NULL) {
		fail(err, st, "mcp_endpoint", "mcp_endpoint is required for provider '%s' (%s)", c.provider->provider_id,
		     MCP_PROVIDER_TYPE);
		goto out;
	}
	if (!is_mcp && uri != NULL) {
		fail(err, st, "mcp_endpoint", "mcp_endpoint is only accepted for %s providers, and '%s' is %s",
		     MCP_PROVIDER_TYPE, c.provider->provider_id, c.provider->provider_type);
		goto out;
	}
	st = SG_E_NOMEM;
	mcp = uri != NULL ? json_pack("{s:s}", "uri", uri) : json_null();
	*out = resource_new(SG_RT_TOOL_GROUP, c.identifier, c.identifier, c.provider, c.acl);
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

sg_status
resources_build(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body,
		resources_lookup_fn lookup, void *ctx, json_t **out, struct resources_err *err)
{
	sg_status st;

	*out = NULL;
	err->param[0] = err->msg[0] = '\0';
	if (!json_is_object(body))
		return fail(err, SG_E_BAD_REQUEST, NULL, "the request body must be a JSON object");
	switch (t) {
	case SG_RT_MODEL:
		st = build_model(conf, id, body, out, err);
		break;
	case SG_RT_SHIELD:
		st = build_shield(conf, id, body, out, err);
		break;
	case SG_RT_VECTOR_DB:
		st = build_vector_db(conf, id, body, lookup, ctx, out, err);
		break;
	case SG_RT_DATASET:
		st = build_dataset(conf, id, body, out, err);
		break;
	case SG_RT_SCORING_FN:
		st = build_scoring_fn(conf, id, body, out, err);
		break;
	case SG_RT_BENCHMARK:
		st = build_benchmark(conf, id, body, lookup, ctx, out, err);
		break;
	case SG_RT_TOOL_GROUP:
		st = build_tool_group(conf, id, body, out, err);
		break;
	default:
		st = fail(err, SG_E_BAD_REQUEST, NULL, "tools are registered through their tool group");
		break;
	}
	if (st != SG_OK && *out != NULL) {
		json_decref(*out);
		*out = NULL;
	}
	if (st == SG_E_NOMEM && err->msg[0] == '\0')
		fail(err, st, NULL, "out of memory");
	return st;
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
		params = b->param == NULL ? json_array()
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
			  struct resources_err *err)
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
			st = fail(err, fail_status, "mcp_endpoint", "the tool name '%.64s' %s",
				  json_is_string(name) ? json_string_value(name) : "", json_is_string(name) ? why : "is missing");
			goto out;
		}
		if (json_object_get(seen, json_string_value(name)) != NULL) {
			st = fail(err, fail_status, "mcp_endpoint", "the tool '%.300s' is listed twice",
				  json_string_value(name));
			goto out;
		}
		if (json_object_set_new(seen, json_string_value(name), json_true()) != 0)
			goto out;
		tool = json_pack("{s:O, s:O, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o}", "identifier", name,
				 "provider_resource_id", name, "provider_id", pid, "type", rtypes[SG_RT_TOOL].type,
				 "access_attributes", json_deep_copy(json_object_get(group, "access_attributes")),
				 "toolgroup_id", gid, "tool_host", host, "description",
				 json_is_string(desc) ? json_string_value(desc) : "", "parameters",
				 json_is_array(params) ? json_deep_copy(params) : json_array(), "metadata",
				 json_is_object(meta) ? json_deep_copy(meta) : json_null());
		if (tool == NULL || json_array_append_new(out, tool) != 0)
			goto out;
	}
	*tools = out;
	out = NULL;
	st = SG_OK;
out:
	if (st == SG_E_NOMEM)
		fail(err, st, NULL, "out of memory");
	json_decref(out);
	json_decref(seen);
	return st;
}

sg_status
resources_tool_group_tools(const struct sg_conf *conf, const json_t *group, json_t **tools,
			   struct resources_err *err)
{
	const json_t *ep = json_object_get(group, "mcp_endpoint");
	const char *pid = json_string_value(json_object_get(group, "provider_id"));
	const struct sg_provider *p = pid ? provider_by_id(conf, SG_API_TOOL_RUNTIME, pid) : NULL;
	json_t *defs = NULL;
	char msg[384];
	sg_status st, fail_status = SG_E_INTERNAL;

	*tools = NULL;
	if (json_is_object(ep)) {
		st = mcp_list_tools(json_string_value(json_object_get(ep, "uri")), &defs, msg, sizeof(msg));
		if (st != SG_OK)
			return fail(err, st, "mcp_endpoint", "%s", msg);
		fail_status = SG_E_BAD_GATEWAY;
	} else {
		defs = resources_builtin_tool_defs(p ? p->provider_type : NULL);
		if (defs == NULL)
			return fail(err, SG_E_NOMEM, NULL, "out of memory");
	}
	st = resources_tools_from_defs(group, defs, fail_status, tools, err);
	json_decref(defs);
	return st;
}

/* registry_get() seen through the caller's eyes: an invisible object is not found. */
struct lookup_ctx {
	const struct identity *id;
};

static sg_status
visible_lookup(void *ctx, enum sg_rtype t, const char *identifier, json_t **out)
{
	const struct lookup_ctx *lc = ctx;
	sg_status st = registry_get(t, identifier, out);

	if (st == SG_OK && lc->id != NULL && !identity_can_see(lc->id, *out)) {
		json_decref(*out);
		*out = NULL;
		return SG_E_NOT_FOUND;
	}
	return st;
}

/* The client message for a registry failure without one of its own. */
static const char *
registry_message(sg_status st)
{
	switch (st) {
	case SG_E_UNAVAILABLE:
		return "the registry database is unavailable";
	case SG_E_NOMEM:
		return "out of memory";
	default:
		return "the registry operation failed";
	}
}

/* True when two tool groups use the same provider and MCP endpoint (so their tools may be the same). */
static bool
same_tool_group_source(const json_t *a, const json_t *b)
{
	const json_t *ea = json_object_get(a, "mcp_endpoint"), *eb = json_object_get(b, "mcp_endpoint");

	if (!json_equal(json_object_get(a, "provider_id"), json_object_get(b, "provider_id")))
		return false;
	if (json_is_object(ea) != json_is_object(eb))
		return false;
	return !json_is_object(ea) || json_equal(json_object_get(ea, "uri"), json_object_get(eb, "uri"));
}

sg_status
resources_register_object(const struct sg_conf *conf, const struct identity *id, enum sg_rtype t, json_t *body,
			  json_t **stored, bool *created, struct resources_err *err)
{
	struct lookup_ctx lc = {.id = id};
	const char *owner = id != NULL ? id->principal : NULL, *ident;
	json_t *obj = NULL, *tools = NULL, *existing = NULL;
	char msg[512] = "";
	sg_status st;

	*stored = NULL;
	*created = false;
	st = resources_build(t, conf, id, body, visible_lookup, &lc, &obj, err);
	if (st != SG_OK)
		goto out;
	ident = json_string_value(json_object_get(obj, "identifier"));
	if (t == SG_RT_MODEL && id != NULL) {
		/* Like the seed's remote providers: the upstream must serve the model (when the provider says to check). */
		const struct sg_provider *p =
			provider_by_id(conf, SG_API_INFERENCE, json_string_value(json_object_get(obj, "provider_id")));

		st = openai_check_model_served(p, json_string_value(json_object_get(obj, "provider_resource_id")), msg,
					       sizeof(msg));
		if (st != SG_OK) {
			fail(err, st, st == SG_E_BAD_REQUEST ? "provider_model_id" : "provider_id", "%s", msg);
			goto out;
		}
	}
	if (t == SG_RT_TOOL_GROUP) {
		/* An identifier taken by another provider or endpoint is a conflict before any MCP server is contacted. */
		st = registry_get(t, ident, &existing);
		if (st == SG_OK && !same_tool_group_source(existing, obj)) {
			st = SG_E_CONFLICT;
			goto out;
		}
		if (st != SG_OK && st != SG_E_NOT_FOUND)
			goto out;
		st = resources_tool_group_tools(conf, obj, &tools, err);
		if (st != SG_OK)
			goto out;
		st = registry_register_tool_group(obj, tools, owner, stored, created, msg, sizeof(msg));
	} else {
		st = registry_register(t, obj, owner, stored, created, msg, sizeof(msg));
	}
	/* Echoing a stored object is only for callers who may see it. */
	if (st == SG_OK && !*created && id != NULL && !identity_can_see(id, *stored)) {
		json_decref(*stored);
		*stored = NULL;
		msg[0] = '\0';
		st = SG_E_CONFLICT;
	}
	if (st == SG_OK)
		log_info("%s %s '%s' (provider %s)%s%s", *created ? "registered" : "re-registered (unchanged)",
			 rtypes[t].type, ident, json_string_value(json_object_get(obj, "provider_id")),
			 owner ? " for " : "", owner ? owner : "");
out:
	if (st != SG_OK && err->msg[0] == '\0') {
		if (st == SG_E_CONFLICT && msg[0] == '\0')
			fail(err, st, rtypes[t].id_key, "%s '%.300s' already exists with a different definition",
			     rtypes[t].label, json_string_value(json_object_get(obj, "identifier")));
		else
			fail(err, st, NULL, "%s", msg[0] ? msg : registry_message(st));
	}
	json_decref(obj);
	json_decref(tools);
	json_decref(existing);
	return st;
}

static enum sg_rtype
route_type(const struct request *r)
{
	return (enum sg_rtype) r->route->arg;
}

static sg_status
registry_fail(struct request *r, sg_status st)
{
	return http_fail(r, st == SG_E_NOT_FOUND ? SG_E_INTERNAL : st, NULL, "%s", registry_message(st));
}

/* Fetches the route's object as the caller may see it: 404 when missing or invisible. */
static sg_status
get_visible(struct request *r, enum sg_rtype t, json_t **out)
{
	sg_status st;

	*out = NULL;
	if (r->path_arg == NULL)
		return http_fail(r, SG_E_NOT_FOUND, NULL, "%s not found", rtypes[t].label);
	st = registry_get(t, r->path_arg, out);
	if (st == SG_OK && !identity_can_see(&r->id, *out)) {
		json_decref(*out);
		*out = NULL;
		st = SG_E_NOT_FOUND;
	}
	if (st == SG_E_NOT_FOUND)
		return http_fail(r, st, NULL, "%s '%.300s' not found", rtypes[t].label, r->path_arg);
	if (st != SG_OK)
		return registry_fail(r, st);
	return SG_OK;
}

/* {"data": [...]} of the visible objects, without access_attributes (the seed's list serialization). */
static sg_status
reply_list(struct request *r, json_t *all)
{
	json_t *data = json_array(), *item;
	size_t i;

	if (data == NULL)
		goto nomem;
	json_array_foreach(all, i, item) {
		json_t *copy;

		if (!identity_can_see(&r->id, item))
			continue;
		copy = json_copy(item);
		if (copy == NULL)
			goto nomem;
		json_object_del(copy, "access_attributes");
		if (json_array_append_new(data, copy) != 0)
			goto nomem;
	}
	r->reply = json_pack("{s:o}", "data", data);
	data = NULL;
	if (r->reply == NULL)
		goto nomem;
	json_decref(all);
	return SG_OK;
nomem:
	json_decref(data);
	json_decref(all);
	return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
}

sg_status
resources_list(struct request *r)
{
	json_t *all = NULL;
	sg_status st = registry_list(route_type(r), NULL, &all);

	if (st != SG_OK)
		return registry_fail(r, st);
	return reply_list(r, all);
}

sg_status
resources_tools_list(struct request *r)
{
	char *group = http_query_get(r, "toolgroup_id");
	json_t *all = NULL;
	sg_status st;

	/* As in the seed, an empty toolgroup_id means no filter. */
	st = registry_list(SG_RT_TOOL, group != NULL && *group != '\0' ? group : NULL, &all);
	free(group);
	if (st != SG_OK)
		return registry_fail(r, st);
	return reply_list(r, all);
}

sg_status
resources_get(struct request *r)
{
	json_t *obj;
	sg_status st = get_visible(r, route_type(r), &obj);

	if (st != SG_OK)
		return st;
	r->reply = obj;
	return SG_OK;
}

sg_status
resources_register(struct request *r)
{
	struct resources_err err;
	json_t *body, *stored;
	bool created;
	sg_status st;

	st = http_body_object(r, &body);
	if (st != SG_OK)
		return st;
	st = resources_register_object(r->conf, &r->id, route_type(r), body, &stored, &created, &err);
	if (st != SG_OK)
		return http_fail(r, st, err.param[0] ? err.param : NULL, "%s", err.msg);
	r->reply = stored;
	return SG_OK;
}

sg_status
resources_unregister(struct request *r)
{
	enum sg_rtype t = route_type(r);
	json_t *obj;
	char msg[512] = "";
	sg_status st;

	/* Anyone who can see an object may unregister it (the seed's rule, minus its 400s). */
	st = get_visible(r, t, &obj);
	if (st != SG_OK)
		return st;
	json_decref(obj);
	if (t == SG_RT_TOOL_GROUP)
		st = registry_unregister_tool_group(r->path_arg, msg, sizeof(msg));
	else
		st = registry_unregister(t, r->path_arg, msg, sizeof(msg));
	if (st == SG_E_NOT_FOUND)
		return http_fail(r, st, NULL, "%s '%.300s' not found", rtypes[t].label, r->path_arg);
	if (st != SG_OK)
		return http_fail(r, st, NULL, "%s", msg[0] ? msg : registry_message(st));
	log_info("unregistered %s '%s'%s%s", rtypes[t].type, r->path_arg, r->id.principal ? " by " : "",
		 r->id.principal ? r->id.principal : "");
	r->reply = NULL; /* the body is `null`, as in Llama Stack */
	return SG_OK;
}

sg_status
resources_not_implemented(struct request *r)
{
	const char *api = r->route->api, *colon;
	char list[256] = "none", route[160];

	/* The route as documented: "/v1/datasetio/iterrows/{dataset_id}", without ":path". */
	snprintf(route, sizeof(route), "%s", r->route->pattern);
	colon = strstr(r->route->pattern, ":path}");
	if (colon != NULL && (size_t) (colon - r->route->pattern) < sizeof(route))
		snprintf(route + (colon - r->route->pattern), sizeof(route) - (size_t) (colon - r->route->pattern),
			 "%s", colon + 5);
	if (strcmp(api, "inference") == 0)
		return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL,
				 "stackgate serves inference through its OpenAI-compatible API only: use "
				 "/v1/openai/v1/chat/completions, /v1/openai/v1/completions or /v1/openai/v1/embeddings "
				 "instead of %s %s",
				 http_method_name(r->route->method), route);
	for (size_t i = 0; i < SG_API_COUNT; i++)
		if (strcmp(api, api_names[i]) == 0)
			provider_list(r->conf, (enum sg_api) i, list, sizeof(list));
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL,
			 "stackgate keeps the registry and routing for the %s API; its data plane (%s %s) is served "
			 "by the provider's own service (configured %s providers: %s)",
			 api, http_method_name(r->route->method), route, api, list);
}

sg_status
resources_preregister(const struct sg_conf *conf)
{
	const struct {
		enum sg_rtype t;
		const char *key;
		json_t *list;
	} lists[] = {
		{SG_RT_MODEL, "models", conf->models},
		{SG_RT_SHIELD, "shields", conf->shields},
		{SG_RT_VECTOR_DB, "vector_dbs", conf->vector_dbs},
		{SG_RT_DATASET, "datasets", conf->datasets},
		{SG_RT_SCORING_FN, "scoring_fns", conf->scoring_fns},
		{SG_RT_BENCHMARK, "benchmarks", conf->benchmarks},
		{SG_RT_TOOL_GROUP, "tool_groups", conf->tool_groups},
	};
	sg_status first = SG_OK;

	for (size_t l = 0; l < SG_ARRAY_LEN(lists); l++) {
		json_t *entry;
		size_t i;

		if (lists[l].list == NULL || json_is_null(lists[l].list))
			continue;
		if (!json_is_array(lists[l].list)) {
			log_error("config: %s must be an array", lists[l].key);
			if (first == SG_OK)
				first = SG_E_BAD_REQUEST;
			continue;
		}
		json_array_foreach(lists[l].list, i, entry) {
			struct resources_err err = {.param = ""};
			json_t *stored = NULL;
			bool created;
			sg_status st;

			/* Without its id a config dataset would be registered anew at every start. */
			if (lists[l].t == SG_RT_DATASET && json_is_object(entry) &&
			    !json_is_string(json_object_get(entry, "dataset_id"))) {
				st = fail(&err, SG_E_BAD_REQUEST, "dataset_id", "dataset_id is required in the config");
			} else {
				st = resources_register_object(conf, NULL, lists[l].t, entry, &stored, &created, &err);
			}
			json_decref(stored);
			if (st == SG_OK)
				continue;
			if (st == SG_E_CONFLICT) {
				log_warn("config: %s[%zu]: %s; keeping the registered one", lists[l].key, i, err.msg);
				continue;
			}
			if (lists[l].t == SG_RT_TOOL_GROUP && (st == SG_E_BAD_GATEWAY || st == SG_E_GATEWAY_TIMEOUT)) {
				log_warn("config: %s[%zu]: %s; not registered at start", lists[l].key, i, err.msg);
				continue;
			}
			log_error("config: %s[%zu]: %s", lists[l].key, i, err.msg);
			if (first == SG_OK)
				first = st;
		}
	}
	return first;
}
