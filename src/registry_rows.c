/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_rows.c: the registry's per-type descriptors and rows.  One
 * descriptor per type lists its table and columns (SQL name, JSON key, kind,
 * whether required), after the columns every table shares; registry.c builds
 * its SQL text from them once per process.  Here they drive the conversion
 * between an API object and a row of nullable strings, in both directions
 * (registry.h, "Rows"), with the 400 messages for ill-typed fields.  Pure:
 * no I/O, no locks, no state beyond the constant tables.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "registry_int.h"

/* The leading columns of every table; roles…namespaces are access_attributes' members. */
static const struct col common[NCOMMON] = {
	{"identifier", "identifier", K_TEXT, true},
	{"provider_resource_id", "provider_resource_id", K_TEXT, false},
	{"provider_id", "provider_id", K_TEXT, true},
	{"owner", NULL, K_TEXT, false},
	{"has_acl", NULL, K_BOOL, true},
	{"roles", "roles", K_TEXTV, false},
	{"teams", "teams", K_TEXTV, false},
	{"projects", "projects", K_TEXTV, false},
	{"namespaces", "namespaces", K_TEXTV, false},
};

const struct rdesc registry_rdesc[SG_RT_COUNT] = {
	[SG_RT_MODEL] = {"model",
			 "Model",
			 "models",
			 {{"metadata", "metadata", K_JSONB, false},
			  {"model_type", "model_type", K_TEXT, true},
			  {"deployments", "deployments", K_JSONB, false},
			  {"routing", "routing", K_TEXT, false},
			  {"fallbacks", "fallbacks", K_TEXTV, false}},
			 SG_RT_VECTOR_DB,
			 "embedding_model = $1"},
	[SG_RT_SHIELD] = {"shield", "Shield", "shields", {{"params", "params", K_JSONB, false}}, SG_RT_MODEL, NULL},
	[SG_RT_VECTOR_DB] = {"vector_db",
			     "Vector DB",
			     "vector_dbs",
			     {{"embedding_model", "embedding_model", K_TEXT, true},
			      {"embedding_dimension", "embedding_dimension", K_INT, true}},
			     SG_RT_MODEL,
			     NULL},
	[SG_RT_DATASET] = {"dataset",
			   "Dataset",
			   "datasets",
			   {{"purpose", "purpose", K_TEXT, true},
			    {"source", "source", K_JSONB, true},
			    {"metadata", "metadata", K_JSONB, false}},
			   SG_RT_BENCHMARK,
			   "dataset_id = $1"},
	[SG_RT_SCORING_FN] = {"scoring_function",
			      "Scoring function",
			      "scoring_functions",
			      {{"description", "description", K_TEXT, false},
			       {"metadata", "metadata", K_JSONB, false},
			       {"return_type", "return_type", K_JSONB, true},
			       {"params", "params", K_JSONB, false}},
			      SG_RT_BENCHMARK,
			      "$1 = ANY (scoring_functions)"},
	[SG_RT_BENCHMARK] = {"benchmark",
			     "Benchmark",
			     "benchmarks",
			     {{"dataset_id", "dataset_id", K_TEXT, true},
			      {"scoring_functions", "scoring_functions", K_TEXTV, true},
			      {"metadata", "metadata", K_JSONB, false}},
			     SG_RT_MODEL,
			     NULL},
	[SG_RT_TOOL_GROUP] = {"tool_group",
			      "Tool group",
			      "tool_groups",
			      {{"mcp_endpoint", "mcp_endpoint", K_JSONB, false}, {"args", "args", K_JSONB, false}},
			      SG_RT_MODEL,
			      NULL},
	[SG_RT_TOOL] = {"tool",
			"Tool",
			"tools",
			{{"toolgroup_id", "toolgroup_id", K_TEXT, true},
			 {"tool_host", "tool_host", K_TEXT, false},
			 {"description", "description", K_TEXT, false},
			 {"parameters", "parameters", K_JSONB, false},
			 {"metadata", "metadata", K_JSONB, false}},
			SG_RT_MODEL,
			NULL},
};

static size_t
ntyped(enum sg_rtype t)
{
	size_t n = 0;

	while (n < MAXCOLS && registry_rdesc[t].cols[n].name != NULL)
		n++;
	return n;
}

const struct col *
registry_col_at(enum sg_rtype t, size_t i)
{
	return i < NCOMMON ? &common[i] : &registry_rdesc[t].cols[i - NCOMMON];
}

size_t
registry_row_ncols(enum sg_rtype t)
{
	return NCOMMON + ntyped(t);
}

const char *
registry_row_column(enum sg_rtype t, size_t i)
{
	return i < registry_row_ncols(t) ? registry_col_at(t, i)->name : NULL;
}

const char *
registry_type_name(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? registry_rdesc[t].name : NULL;
}

const char *
registry_type_label(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? registry_rdesc[t].label : NULL;
}

bool
registry_type_from_name(const char *name, enum sg_rtype *out)
{
	for (int t = 0; name != NULL && t < SG_RT_COUNT; t++) {
		if (strcmp(registry_rdesc[t].name, name) == 0) {
			*out = (enum sg_rtype) t;
			return true;
		}
	}
	return false;
}

/* ---- objects and rows ---- */

static sg_status
encode(const struct col *c, const char *field, const json_t *v, char **out, struct sg_err *err)
{
	if (v == NULL || json_is_null(v)) {
		if (!c->required)
			return SG_OK;
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field '%s' is required", field);
	}
	switch (c->kind) {
	case K_TEXT:
		if (!json_is_string(v)) {
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field '%s' must be a string", field);
		}
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field '%s' must not contain a NUL character",
				       field);
		}
		*out = sg_strdup(json_string_value(v));
		break;
	case K_INT:
		if (!json_is_integer(v)) {
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field '%s' must be an integer", field);
		}
		*out = sg_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case K_TEXTV:
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
			const json_t *e = json_array_get(v, i);

			if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
				v = NULL;
		}
		if (!json_is_array(v)) {
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field '%s' must be an array of strings", field);
		}
		*out = json_dumps(v, JSON_COMPACT); /* as JSON text, like jsonb */
		break;
	case K_JSONB:
		*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		break;
	case K_BOOL:
		*out = sg_strdup(json_is_true(v) ? "t" : "f");
		break;
	}
	if (*out == NULL) {
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	}
	return SG_OK;
}

sg_status
registry_row_from_object(enum sg_rtype t, const json_t *obj, const char *owner, char **vals, struct sg_err *err)
{
	size_t n = registry_row_ncols(t);
	const json_t *acl = json_object_get(obj, "access_attributes");
	sg_status st = SG_OK;
	char field[64];

	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	if (!json_is_object(obj)) {
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "a %s must be a JSON object", registry_rdesc[t].name);
	}
	if (acl != NULL && !json_is_null(acl) && !json_is_object(acl)) {
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "field 'access_attributes' must be an object or null");
	}
	for (size_t i = 0; st == SG_OK && i < n; i++) {
		const struct col *c = registry_col_at(t, i);

		if (i == C_OWNER) {
			vals[i] = owner ? sg_strdup(owner) : NULL;
			st = owner && !vals[i] ? SG_E_NOMEM : SG_OK;
		} else if (i == C_ACL) {
			st = encode(c, "access_attributes", json_boolean(json_is_object(acl)), &vals[i], err);
		} else if (i >= C_ROLES && i < NCOMMON) {
			snprintf(field, sizeof(field), "access_attributes.%s", c->key);
			st = encode(c, field, json_object_get(acl, c->key), &vals[i], err);
		} else {
			st = encode(c, c->key, json_object_get(obj, c->key), &vals[i], err);
		}
	}
	return sg_err_nomem(err, st);
}

void
registry_row_free(enum sg_rtype t, char **vals)
{
	for (size_t i = 0; vals != NULL && i < registry_row_ncols(t); i++) {
		free(vals[i]);
		vals[i] = NULL;
	}
}

static json_t *
decode(enum kind k, const char *s)
{
	if (s == NULL)
		return json_null();
	switch (k) {
	case K_TEXT:
		return json_string(s);
	case K_INT:
		return json_integer(strtoll(s, NULL, 10));
	case K_BOOL:
		return json_boolean(s[0] == 't');
	default:
		return sg_json_loadb(s, strlen(s), JSON_DECODE_ANY, NULL, NULL);
	}
}

/* Sets o[key] = v, stealing v; false (and o untouched) when v is NULL. */
static bool
put(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0;
}

json_t *
registry_row_to_object(enum sg_rtype t, const char *const *vals)
{
	json_t *o = json_object(), *acl = json_null();
	size_t n = registry_row_ncols(t);
	bool ok = o != NULL;

	if (ok && vals[C_ACL] != NULL && vals[C_ACL][0] == 't') {
		acl = json_object();
		for (size_t i = C_ROLES; acl != NULL && ok && i < NCOMMON; i++)
			ok = put(acl, common[i].key, decode(K_TEXTV, vals[i]));
	}
	ok = ok && put(o, "identifier", decode(K_TEXT, vals[C_ID])) &&
	     put(o, "provider_resource_id", decode(K_TEXT, vals[C_PRID])) &&
	     put(o, "provider_id", decode(K_TEXT, vals[C_PID])) && put(o, "type", json_string(registry_rdesc[t].name));
	if (ok) {
		ok = put(o, "access_attributes", acl);
		acl = NULL; /* json_object_set_new took it, also when it failed */
	}
	json_decref(acl);
	for (size_t i = NCOMMON; ok && i < n; i++)
		ok = put(o, registry_col_at(t, i)->key, decode(registry_col_at(t, i)->kind, vals[i]));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

bool
registry_row_of(enum sg_rtype t, const PGresult *r, int i, struct row *out)
{
	const char *v[MAXROW + 3];
	size_t n = registry_row_ncols(t);
	json_t *origin;

	for (size_t j = 0; j < n + 3; j++)
		v[j] = PQgetisnull(r, i, (int) j) ? NULL : PQgetvalue(r, i, (int) j);
	out->created = v[n] ? strtoll(v[n], NULL, 10) : 0;
	out->seq = v[n + 1] ? strtoll(v[n + 1], NULL, 10) : 0;
	out->obj = registry_row_to_object(t, v);
	/* The owner and origin ride along for access decisions (registry.h); the API never shows them. */
	origin = out->obj != NULL ? json_pack("{s:s?, s:b}", "owner", v[C_OWNER], "from_config",
					      v[n + 2] != NULL && v[n + 2][0] == 't')
				  : NULL;
	if (out->obj != NULL && (origin == NULL || json_object_set_new(out->obj, REGISTRY_ORIGIN_KEY, origin) != 0)) {
		json_decref(out->obj);
		out->obj = NULL;
		log_error("registry: out of memory reading %s '%s'", registry_rdesc[t].name, v[C_ID] ? v[C_ID] : "?");
		return false;
	}
	if (out->obj == NULL)
		log_error("registry: %s '%s' has a malformed row", registry_rdesc[t].name, v[C_ID] ? v[C_ID] : "?");
	return out->obj != NULL;
}

bool
registry_origin(const json_t *obj, const char **owner, bool *from_config)
{
	const json_t *o = json_object_get(obj, REGISTRY_ORIGIN_KEY);

	*owner = json_string_value(json_object_get(o, "owner"));
	*from_config = json_is_true(json_object_get(o, "from_config"));
	return json_is_object(o);
}

json_t *
registry_public(json_t *obj)
{
	json_t *copy;

	if (json_object_get(obj, REGISTRY_ORIGIN_KEY) == NULL)
		return obj;
	copy = json_copy(obj);
	json_decref(obj);
	if (copy != NULL && json_object_del(copy, REGISTRY_ORIGIN_KEY) != 0) {
		json_decref(copy);
		copy = NULL;
	}
	return copy;
}
