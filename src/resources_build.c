/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources_build.c: the pure half of the resources module: a register body
 * (POST body or config entry) becomes the complete object to store
 * (resources_build), with each type's validation and defaults, the provider
 * chosen from the config by API, the access attributes decided, and
 * references checked through the caller's lookup callback; plus the built-in
 * tool runtimes' fixed tool lists and the Tool objects made from ToolDefs.
 * No I/O: no registry, no MCP, no HTTP (resources.c does those).  Called
 * from request threads on read-only config.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "resources.h"

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

const char *
resources_type_name(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rtypes[t].type : NULL;
}

const char *
resources_id_key(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rtypes[t].id_key : NULL;
}

sg_status
resources_fail(struct resources_err *err, sg_status st, const char *param, const char *fmt, ...)
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
			return resources_fail(err, SG_E_BAD_REQUEST, name, "%s is required", name);
		return SG_OK;
	}
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return resources_fail(err, SG_E_BAD_REQUEST, name, "%s must be %s", name, what[type]);
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
		return resources_fail(err, SG_E_BAD_REQUEST, name, "%s %s", name, why);
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
	return resources_fail(err, SG_E_BAD_REQUEST, name, "%s must be one of %s, not '%.64s'", name, list, *out);
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
		return resources_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* "a, b, c" of api's provider ids, or "none". */
void
resources_provider_list(const struct sg_conf *conf, enum sg_api api, char *buf, size_t len)
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
	resources_provider_list(conf, api, list, sizeof(list));
	if (given == NULL && mode == PICK_REQUIRED)
		return resources_fail(err, SG_E_BAD_REQUEST, "provider_id",
				      "provider_id is required (configured %s providers: %s)", api_names[api], list);
	if (given != NULL) {
		*out = conf_provider(conf, api, given);
		if (*out == NULL)
			return resources_fail(err, SG_E_BAD_REQUEST, "provider_id",
					      "provider_id '%.64s' is not a configured %s provider (configured %s providers: %s)",
					      given, api_names[api], api_names[api], list);
		return SG_OK;
	}
	n = provider_count(conf, api, &first);
	if (n == 0)
		return resources_fail(err, SG_E_BAD_REQUEST, "provider_id", "no %s provider is configured",
				      api_names[api]);
	if (n > 1 && mode == PICK_ONLY)
		return resources_fail(err, SG_E_BAD_REQUEST, "provider_id",
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
			return resources_fail(err, SG_E_BAD_REQUEST, "access_attributes", "access_attributes: %s", why);
		}
		*out = acl_attrs_to_json(&a);
		acl_attrs_free(&a);
	} else if (id != NULL && id->attrs.present && !acl_attrs_empty(&id->attrs)) {
		*out = acl_attrs_to_json(&id->attrs);
	} else {
		*out = json_null();
	}
	if (*out == NULL)
		return resources_fail(err, SG_E_NOMEM, NULL, "out of memory");
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
			st = resources_fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
					    "an embedding model needs metadata.embedding_dimension");
			goto out;
		}
		if (!positive_int(dim)) {
			st = resources_fail(err, SG_E_BAD_REQUEST, "metadata.embedding_dimension",
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
		return resources_fail(err, SG_E_BAD_REQUEST, param, "%s: %s '%.300s' not found", param, rtypes[t].label,
				      identifier);
	if (st != SG_OK && err->msg[0] == '\0')
		return resources_fail(err, st, NULL, "the registry is unavailable");
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
		st = resources_fail(err, SG_E_BAD_REQUEST, "embedding_dimension",
				    "embedding_dimension must be a positive integer");
		goto out;
	}
	st = lookup_ref(lookup, ctx, SG_RT_MODEL, emb, "embedding_model", &model, err);
	if (st != SG_OK)
		goto out;
	st = SG_E_BAD_REQUEST;
	if (!json_is_string(json_object_get(model, "model_type")) ||
	    strcmp(json_string_value(json_object_get(model, "model_type")), "embedding") != 0) {
		resources_fail(err, st, "embedding_model", "embedding_model: Model '%.300s' is not an embedding model",
			       emb);
		goto out;
	}
	mdim = json_object_get(json_object_get(model, "metadata"), "embedding_dimension");
	if (!positive_int(mdim)) {
		resources_fail(err, st, "embedding_model",
			       "embedding_model: Model '%.300s' has no valid metadata.embedding_dimension", emb);
		goto out;
	}
	if (dim != NULL && json_integer_value(dim) != json_integer_value(mdim)) {
		resources_fail(err, st, "embedding_dimension",
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
			return resources_fail(err, SG_E_BAD_REQUEST, "source.uri", "source.uri must not be empty");
		*out = json_pack("{s:s, s:s}", "type", "uri", "uri", *uri);
	} else {
		st = get(src, "rows", "source.rows", JSON_ARRAY, true, &rows, err);
		if (st != SG_OK)
			return st;
		json_array_foreach(rows, i, row)
			if (!json_is_object(row))
				return resources_fail(err, SG_E_BAD_REQUEST, "source.rows",
						      "source.rows[%zu] must be an object", i);
		*out = json_pack("{s:s, s:o}", "type", "rows", "rows", json_deep_copy(rows));
	}
	if (*out == NULL)
		return resources_fail(err, SG_E_NOMEM, NULL, "out of memory");
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
		return resources_fail(err, SG_E_BAD_REQUEST, "provider_id", "no datasetio provider is configured");
	resources_provider_list(conf, SG_API_DATASETIO, list, sizeof(list));
	return resources_fail(err, SG_E_BAD_REQUEST, "provider_id",
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
			st = resources_fail(err, SG_E_INTERNAL, NULL, "no random bytes for a dataset id");
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
			return resources_fail(err, SG_E_BAD_REQUEST, name, "%s[%zu] must be a string", name, i);
		for (size_t k = 0; !ok && allowed[k] != NULL; k++)
			ok = strcmp(json_string_value(e), allowed[k]) == 0;
		if (!ok)
			return resources_fail(err, SG_E_BAD_REQUEST, name,
					      "%s[%zu] must be one of 'average', 'weighted_average', 'median', "
					      "'categorical_count', 'accuracy', not '%.64s'",
					      name, i, json_string_value(e));
	}
	*out = v ? json_deep_copy(v) : json_array();
	if (*out == NULL)
		return resources_fail(err, SG_E_NOMEM, NULL, "out of memory");
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
	st = *out ? SG_OK : resources_fail(err, SG_E_NOMEM, NULL, "out of memory");
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
		st = resources_fail(err, SG_E_BAD_REQUEST, "benchmark_id",
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
			st = resources_fail(err, SG_E_BAD_REQUEST, "scoring_functions", "scoring_functions[%zu] %s", i,
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
		resources_fail(err, st, "mcp_endpoint.uri", "mcp_endpoint.uri must be an http:// or https:// URL");
		goto out;
	}
	if (is_mcp && uri == NULL) {
		resources_fail(err, st, "mcp_endpoint", "mcp_endpoint is required for provider '%s' (%s)",
			       c.provider->provider_id, MCP_PROVIDER_TYPE);
		goto out;
	}
	if (!is_mcp && uri != NULL) {
		resources_fail(err, st, "mcp_endpoint",
			       "mcp_endpoint is only accepted for %s providers, and '%s' is %s", MCP_PROVIDER_TYPE,
			       c.provider->provider_id, c.provider->provider_type);
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
		return resources_fail(err, SG_E_BAD_REQUEST, NULL, "the request body must be a JSON object");
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
		st = resources_fail(err, SG_E_BAD_REQUEST, NULL, "tools are registered through their tool group");
		break;
	}
	if (st != SG_OK && *out != NULL) {
		json_decref(*out);
		*out = NULL;
	}
	if (st == SG_E_NOMEM && err->msg[0] == '\0')
		resources_fail(err, st, NULL, "out of memory");
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
			st = resources_fail(err, fail_status, "mcp_endpoint", "the tool name '%.64s' %s",
					    json_is_string(name) ? json_string_value(name) : "",
					    json_is_string(name) ? why : "is missing");
			goto out;
		}
		if (json_object_get(seen, json_string_value(name)) != NULL) {
			st = resources_fail(err, fail_status, "mcp_endpoint", "the tool '%.300s' is listed twice",
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
		resources_fail(err, st, NULL, "out of memory");
	json_decref(out);
	json_decref(seen);
	return st;
}
