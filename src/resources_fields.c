/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources_fields.c: the helpers the per-type builders of resources_build.c
 * share (resources_int.h): the per-type table (type names, labels, body
 * keys, API), the field getters that fetch a body's key, check its JSON type
 * and write the 400 naming it; the choice of provider among the config's
 * providers of the type's API (with the dataset rule by source); the new
 * object's access attributes; the Resource fields every object starts with;
 * and the lookup of referenced objects.  Also the small public helpers at
 * the end of resources.h.  Pure like resources_build.c: no I/O, read-only
 * config.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resources_int.h"

#define MAX_IDENTIFIER_CHARS 255

/*
 * What resources need to know per type beyond registry.h's table (the
 * objects' "type" and the label messages use come from registry_type_name()
 * and registry_type_label(), the one table of those).
 */
static const struct rtype_info {
	const char *id_key;   /* the register body's identifier key */
	const char *prid_key; /* the body's provider resource id key, or NULL */
	enum sg_api api;      /* whose providers serve it */
} rtypes[SG_RT_COUNT] = {
	[SG_RT_MODEL] = {"model_id", "provider_model_id", SG_API_INFERENCE},
	[SG_RT_SHIELD] = {"shield_id", "provider_shield_id", SG_API_SAFETY},
	[SG_RT_VECTOR_DB] = {"vector_db_id", "provider_vector_db_id", SG_API_VECTOR_IO},
	[SG_RT_DATASET] = {"dataset_id", NULL, SG_API_DATASETIO},
	[SG_RT_SCORING_FN] = {"scoring_fn_id", "provider_scoring_fn_id", SG_API_SCORING},
	[SG_RT_BENCHMARK] = {"benchmark_id", "provider_benchmark_id", SG_API_EVAL},
	[SG_RT_TOOL_GROUP] = {"toolgroup_id", NULL, SG_API_TOOL_RUNTIME},
	[SG_RT_TOOL] = {NULL, NULL, SG_API_TOOL_RUNTIME},
};

/* Llama Stack's API names, as the config keys its providers. */
static const char *const api_names[SG_API_COUNT] = {
	[SG_API_INFERENCE] = "inference",       [SG_API_SAFETY] = "safety",   [SG_API_VECTOR_IO] = "vector_io",
	[SG_API_DATASETIO] = "datasetio",       [SG_API_SCORING] = "scoring", [SG_API_EVAL] = "eval",
	[SG_API_TOOL_RUNTIME] = "tool_runtime",
};

const char *
resources_id_key(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rtypes[t].id_key : NULL;
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
	/*
	 * Ids travel in URL paths (/v1/models/{id}, '/' allowed): one that could
	 * not be addressed there again is refused now, not stored unreachable.
	 */
	for (const char *seg = s;; seg++) {
		size_t n = strcspn(seg, "/");

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			snprintf(why, whylen, "must not have an empty, '.' or '..' path segment (it is used in URLs)");
			return false;
		}
		seg += n;
		if (*seg == '\0')
			break;
	}
	return true;
}

/* ---- field getters ---- */

/* A string that must be an identifier. */
sg_status
resources_field_ident(json_t *obj, const char *key, const char *name, bool required, const char **out,
		      struct sg_err *err)
{
	char why[128];
	sg_status st = sg_json_field_str(obj, key, name, required, out, err);

	if (st == SG_OK && *out != NULL && !resources_identifier_ok(*out, why, sizeof(why)))
		return sg_fail(err, SG_E_BAD_REQUEST, name, "%s %s", name, why);
	return st;
}

/* A string that must be one of the NULL-terminated list. */
sg_status
resources_field_enum(json_t *obj, const char *key, const char *name, bool required, const char *const *allowed,
		     const char **out, struct sg_err *err)
{
	char list[256] = "";
	size_t used = 0;
	sg_status st = sg_json_field_str(obj, key, name, required, out, err);

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
	return sg_fail(err, SG_E_BAD_REQUEST, name, "%s must be one of %s, not '%.*s'", name, list,
		       (int) sg_utf8_prefix(*out, 64), *out);
}

/* A copy of the optional object obj[key]; when absent {} (empty_default) or null.  New reference in *out. */
sg_status
resources_field_obj(json_t *obj, const char *key, const char *name, bool empty_default, json_t **out,
		    struct sg_err *err)
{
	json_t *v;
	sg_status st = sg_json_field(obj, key, name, JSON_OBJECT, false, &v, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	*out = v ? json_deep_copy(v) : empty_default ? json_object() : json_null();
	if (*out == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* A list of strings (each checked against allowed when given); a new copy in *out, [] when absent. */
sg_status
resources_field_strings(json_t *obj, const char *key, const char *name, const char *const *allowed, json_t **out,
			struct sg_err *err)
{
	json_t *v, *e;
	size_t i;
	sg_status st = sg_json_field(obj, key, name, JSON_ARRAY, false, &v, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	json_array_foreach(v, i, e) {
		bool ok = allowed == NULL;

		if (!json_is_string(e))
			return sg_fail(err, SG_E_BAD_REQUEST, name, "%s[%zu] must be a string", name, i);
		for (size_t k = 0; !ok && allowed[k] != NULL; k++)
			ok = strcmp(json_string_value(e), allowed[k]) == 0;
		if (!ok)
			return sg_fail(err, SG_E_BAD_REQUEST, name,
				       "%s[%zu] must be one of 'average', 'weighted_average', 'median', "
				       "'categorical_count', 'accuracy', not '%.*s'",
				       name, i, (int) sg_utf8_prefix(json_string_value(e), 64), json_string_value(e));
	}
	*out = v ? json_deep_copy(v) : json_array();
	if (*out == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/* ---- provider choice ---- */

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

/*
 * The provider for a new object: the body's provider_id when given (it must
 * be a configured provider of api), else as mode says.  Messages name the
 * configured providers, never a Python repr.
 */
static sg_status
pick_provider(const struct sg_conf *conf, enum sg_api api, json_t *body, enum pick mode, const struct sg_provider **out,
	      struct sg_err *err)
{
	char list[256];
	const char *given;
	const struct sg_provider *first;
	size_t n;
	sg_status st;

	*out = NULL;
	st = sg_json_field_str(body, "provider_id", "provider_id", false, &given, err);
	if (st != SG_OK)
		return st;
	resources_provider_list(conf, api, list, sizeof(list));
	if (given == NULL && mode == PICK_REQUIRED)
		return sg_fail(err, SG_E_BAD_REQUEST, "provider_id",
			       "provider_id is required (configured %s providers: %s)", api_names[api], list);
	if (given != NULL) {
		*out = conf_provider(conf, api, given);
		if (*out == NULL)
			return sg_fail(err, SG_E_BAD_REQUEST, "provider_id",
				       "provider_id '%.*s' is not a configured %s provider (configured %s providers: "
				       "%s)",
				       (int) sg_utf8_prefix(given, 64), given, api_names[api], api_names[api], list);
		return SG_OK;
	}
	n = provider_count(conf, api, &first);
	if (n == 0)
		return sg_fail(err, SG_E_BAD_REQUEST, "provider_id", "no %s provider is configured", api_names[api]);
	if (n > 1 && mode == PICK_ONLY)
		return sg_fail(err, SG_E_BAD_REQUEST, "provider_id",
			       "provider_id is required when several %s providers are configured (configured: %s)",
			       api_names[api], list);
	if (n > 1)
		log_debug("no provider_id given; using the first %s provider '%s'", api_names[api], first->provider_id);
	*out = first;
	return SG_OK;
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

/*
 * A dataset's provider: the body's provider_id if given; else by source (a
 * Hugging Face URI → a remote::huggingface provider, anything else → an
 * inline::localfs provider); else the only datasetio provider.
 */
sg_status
resources_dataset_provider(const struct sg_conf *conf, json_t *body, const char *uri, const struct sg_provider **out,
			   struct sg_err *err)
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
		return sg_fail(err, SG_E_BAD_REQUEST, "provider_id", "no datasetio provider is configured");
	resources_provider_list(conf, SG_API_DATASETIO, list, sizeof(list));
	return sg_fail(err, SG_E_BAD_REQUEST, "provider_id",
		       "provider_id is required: no %s provider is configured for this source (configured datasetio "
		       "providers: %s)",
		       want, list);
}

/* ---- access attributes and the common fields ---- */

/*
 * The new object's access_attributes (resources_int.h has the rules): the
 * body's when the caller may give them, the caller's when the body has
 * none, null for no ACL.  New reference.
 */
sg_status
resources_acl_for(const struct identity *id, json_t *body, json_t **out, struct sg_err *err)
{
	json_t *given = json_object_get(body, "access_attributes");
	bool anonymous = id != NULL && id->principal == NULL;
	bool admin = id == NULL || (!anonymous && id->admin); /* start-up registers what the config says */
	bool has_attrs = id != NULL && id->attrs.present && !acl_attrs_empty(&id->attrs);
	struct sg_attrs a = {0};
	char why[256];
	sg_status st;

	*out = NULL;
	if (given != NULL && !json_is_null(given)) {
		if ((st = acl_attrs_from_json(given, &a, why, sizeof(why))) != SG_OK) {
			acl_attrs_free(&a);
			if (st == SG_E_NOMEM)
				return sg_fail(err, st, NULL, "out of memory");
			return sg_fail(err, SG_E_BAD_REQUEST, "access_attributes", "access_attributes: %s", why);
		}
		if (anonymous) {
			acl_attrs_free(&a);
			return sg_fail(err, SG_E_FORBIDDEN, "access_attributes",
				       "an anonymous caller cannot give access_attributes: its objects have none");
		}
		if (!admin && !acl_attrs_within(&a, &id->attrs, why, sizeof(why))) {
			acl_attrs_free(&a);
			return sg_fail(err, SG_E_FORBIDDEN, "access_attributes", "%s", why);
		}
		*out = acl_attrs_to_json(&a);
		acl_attrs_free(&a);
	} else if (given != NULL && !admin && !anonymous && has_attrs) {
		/* An explicit null asks for no ACL: visible to everyone, beyond the caller's own attributes. */
		return sg_fail(err, SG_E_FORBIDDEN, "access_attributes",
			       "only an admin may register an object without access_attributes (visible to every "
			       "caller)");
	} else if (given == NULL && !anonymous && has_attrs) {
		*out = acl_attrs_to_json(&id->attrs);
	} else {
		*out = json_null();
	}
	if (*out == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

sg_status
resources_may_unregister(const struct identity *id, enum sg_rtype t, const json_t *obj, const char *owner,
			 bool from_config, struct sg_err *err)
{
	const char *ident = json_string_value(json_object_get(obj, "identifier"));
	int n;

	if (ident == NULL)
		ident = "";
	n = (int) sg_utf8_prefix(ident, 300);
	if (identity_decide_at(id, SG_ACT_READ, obj, owner, from_config, NULL) != POLICY_PERMIT)
		return sg_fail(err, SG_E_NOT_FOUND, NULL, "%s '%.*s' not found", registry_type_label(t), n, ident);
	if (identity_decide_at(id, SG_ACT_DELETE, obj, owner, from_config, NULL) == POLICY_PERMIT)
		return SG_OK;
	/* The default policy's refusals keep their words; a configured policy's say which rule set refused. */
	if (id != NULL && id->policy != NULL && !id->policy->is_default)
		return sg_fail(err, SG_E_FORBIDDEN, NULL, "the access policy does not permit deleting %s '%.*s'",
			       registry_type_label(t), n, ident);
	if (from_config)
		return sg_fail(err, SG_E_FORBIDDEN, NULL,
			       "%s '%.*s' comes from the configuration: only an admin may unregister it",
			       registry_type_label(t), n, ident);
	return sg_fail(err, SG_E_FORBIDDEN, NULL, "%s '%.*s' may be unregistered only by its owner or an admin",
		       registry_type_label(t), n, ident);
}

/* A new object with the Resource fields, in the API's order.  Steals acl. */
json_t *
resources_object_new(enum sg_rtype t, const char *identifier, const char *prid, const struct sg_provider *p,
		     json_t *acl)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "identifier", identifier, "provider_resource_id", prid,
			 "provider_id", p->provider_id, "type", registry_type_name(t), "access_attributes", acl);
}

sg_status
resources_common_fields(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body,
			enum pick mode, struct common *c, struct sg_err *err)
{
	const struct rtype_info *ti = &rtypes[t];
	sg_status st;

	st = resources_field_ident(body, ti->id_key, ti->id_key, true, &c->identifier, err);
	if (st == SG_OK && ti->prid_key != NULL)
		st = resources_field_ident(body, ti->prid_key, ti->prid_key, false, &c->prid, err);
	if (st != SG_OK)
		return st;
	if (c->prid == NULL)
		c->prid = c->identifier;
	st = pick_provider(conf, ti->api, body, mode, &c->provider, err);
	if (st != SG_OK)
		return st;
	return resources_acl_for(id, body, &c->acl, err);
}

/* Looks up a referenced object; NOT_FOUND gets the message "<what> '<id>' not found". */
sg_status
resources_lookup_ref(resources_lookup_fn lookup, void *ctx, enum sg_rtype t, const char *identifier, const char *param,
		     json_t **out, struct sg_err *err)
{
	sg_status st = lookup(ctx, t, identifier, out);

	if (st == SG_E_NOT_FOUND)
		return sg_fail(err, SG_E_BAD_REQUEST, param, "%s: %s '%.*s' not found", param, registry_type_label(t),
			       (int) sg_utf8_prefix(identifier, 300), identifier);
	if (st != SG_OK && err->msg[0] == '\0')
		return sg_fail(err, st, NULL, "the registry is unavailable");
	return st;
}
