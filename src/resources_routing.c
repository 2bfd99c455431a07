/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources_routing.c: a model's routing fields at registration (POST
 * /v1/models and the config's models): "deployments", "routing" and
 * "fallbacks" validated and normalised (resources_model_routing), and how a
 * model object is shown (resources_model_view: the deployment list and the
 * fallbacks are for admins only).  Pure like resources_build.c: references
 * are looked up through the caller's callback (invisible = missing).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "resources_int.h"
#include "router.h"

/* The body's "deployments" normalised into *out ([{provider_id, provider_model_id, weight}]) or null. */
static sg_status
deployments_of(const struct sg_conf *conf, json_t *body, const char *ident, json_t **out, struct sg_err *err)
{
	json_t *deps, *d;
	size_t i;
	sg_status st = sg_json_field(body, "deployments", "deployments", JSON_ARRAY, false, &deps, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	if (deps == NULL) {
		*out = json_null();
		return SG_OK;
	}
	if (json_array_size(deps) == 0 || json_array_size(deps) > ROUTER_MAX_DEPLOYMENTS)
		return sg_fail(err, SG_E_BAD_REQUEST, "deployments", "deployments must list 1 to %d deployments",
			       ROUTER_MAX_DEPLOYMENTS);
	if ((*out = json_array()) == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	json_array_foreach(deps, i, d) {
		char name[64];
		const char *pid, *pmid;
		json_t *w;

		snprintf(name, sizeof(name), "deployments[%zu]", i);
		if (!json_is_object(d)) {
			st = sg_fail(err, SG_E_BAD_REQUEST, name, "%s must be an object", name);
			break;
		}
		snprintf(name, sizeof(name), "deployments[%zu].provider_id", i);
		st = resources_field_ident(d, "provider_id", name, true, &pid, err);
		if (st == SG_OK && conf_provider(conf, SG_API_INFERENCE, pid) == NULL)
			st = sg_fail(err, SG_E_BAD_REQUEST, name, "%s '%.*s' is not a configured inference provider",
				     name, (int) sg_utf8_prefix(pid, 64), pid);
		snprintf(name, sizeof(name), "deployments[%zu].provider_model_id", i);
		if (st == SG_OK)
			st = resources_field_ident(d, "provider_model_id", name, false, &pmid, err);
		snprintf(name, sizeof(name), "deployments[%zu].weight", i);
		if (st == SG_OK)
			st = sg_json_field(d, "weight", name, JSON_INTEGER, false, &w, err);
		if (st == SG_OK && w != NULL &&
		    (json_integer_value(w) < 1 || json_integer_value(w) > ROUTER_MAX_WEIGHT))
			st = sg_fail(err, SG_E_BAD_REQUEST, name, "%s must be an integer from 1 to %d", name,
				     ROUTER_MAX_WEIGHT);
		if (st != SG_OK)
			break;
		if (json_array_append_new(*out, json_pack("{s:s,s:s,s:I}", "provider_id", pid, "provider_model_id",
							  pmid != NULL ? pmid : ident, "weight",
							  (json_int_t) (w != NULL ? json_integer_value(w) : 1))) != 0) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			break;
		}
	}
	if (st != SG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return st;
}

struct fb_ctx {
	resources_lookup_fn lookup;
	void *ctx;
};

/* router_fallbacks_fn over the caller's lookup. */
static json_t *
fallbacks_of(void *arg, const char *id)
{
	struct fb_ctx *fc = arg;
	json_t *m = NULL, *fb;

	if (fc->lookup(fc->ctx, SG_RT_MODEL, id, &m) != SG_OK)
		return NULL;
	fb = json_incref(json_object_get(m, "fallbacks"));
	json_decref(m);
	return fb;
}

/* The body's "fallbacks", each a visible model of the same type, no cycle: a copy in *out, or null. */
static sg_status
fallbacks_field(json_t *body, const char *ident, const char *model_type, resources_lookup_fn lookup, void *ctx,
		json_t **out, struct sg_err *err)
{
	struct fb_ctx fc = {lookup, ctx};
	json_t *list, *v;
	char via[256];
	size_t i;
	sg_status st = sg_json_field(body, "fallbacks", "fallbacks", JSON_ARRAY, false, &list, err);

	*out = NULL;
	if (st != SG_OK)
		return st;
	if (list == NULL || json_array_size(list) == 0) {
		*out = json_null();
		return SG_OK;
	}
	if (json_array_size(list) > ROUTER_MAX_FALLBACKS)
		return sg_fail(err, SG_E_BAD_REQUEST, "fallbacks", "fallbacks must list at most %d models",
			       ROUTER_MAX_FALLBACKS);
	json_array_foreach(list, i, v) {
		const char *id = json_string_value(v), *type;
		json_t *m = NULL;

		if (id == NULL)
			return sg_fail(err, SG_E_BAD_REQUEST, "fallbacks", "fallbacks must be an array of model ids");
		if (strcmp(id, ident) == 0)
			return sg_fail(err, SG_E_BAD_REQUEST, "fallbacks",
				       "fallbacks: model '%.*s' cannot fall back to itself",
				       (int) sg_utf8_prefix(id, 300), id);
		for (size_t k = 0; k < i; k++)
			if (json_equal(v, json_array_get(list, k)))
				return sg_fail(err, SG_E_BAD_REQUEST, "fallbacks",
					       "fallbacks: model '%.*s' is listed twice", (int) sg_utf8_prefix(id, 300),
					       id);
		st = resources_lookup_ref(lookup, ctx, SG_RT_MODEL, id, "fallbacks", &m, err);
		if (st != SG_OK)
			return st;
		type = json_string_value(json_object_get(m, "model_type"));
		if (type == NULL || strcmp(type, model_type) != 0)
			st = sg_fail(err, SG_E_BAD_REQUEST, "fallbacks",
				     "fallbacks: model '%.*s' is of type '%s', not '%s' like '%.*s'",
				     (int) sg_utf8_prefix(id, 300), id, type ? type : "?", model_type,
				     (int) sg_utf8_prefix(ident, 300), ident);
		json_decref(m);
		if (st != SG_OK)
			return st;
	}
	if (router_fallback_cycle(ident, list, fallbacks_of, &fc, via, sizeof(via)))
		return sg_fail(err, SG_E_BAD_REQUEST, "fallbacks",
			       "fallbacks: model '%.*s' leads back to '%.*s' through its own fallbacks (a cycle)",
			       (int) sg_utf8_prefix(via, 200), via, (int) sg_utf8_prefix(ident, 300), ident);
	if ((*out = json_deep_copy(list)) == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

sg_status
resources_model_routing(const struct sg_conf *conf, json_t *body, const char *ident, const char *model_type,
			resources_lookup_fn lookup, void *ctx, struct model_routing *out, struct sg_err *err)
{
	const char *routing = NULL;
	sg_status st;

	memset(out, 0, sizeof(*out));
	st = deployments_of(conf, body, ident, &out->deployments, err);
	if (st == SG_OK)
		st = resources_field_enum(body, "routing", "routing", false, router_strategy_names, &routing, err);
	if (st == SG_OK)
		st = fallbacks_field(body, ident, model_type, lookup, ctx, &out->fallbacks, err);
	if (st == SG_OK && (out->routing = routing != NULL ? json_string(routing) : json_null()) == NULL)
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	if (st != SG_OK)
		resources_model_routing_free(out);
	return st;
}

void
resources_model_routing_free(struct model_routing *mr)
{
	json_decref(mr->deployments);
	json_decref(mr->routing);
	json_decref(mr->fallbacks);
	memset(mr, 0, sizeof(*mr));
}

sg_status
resources_model_first_deployment(const struct sg_conf *conf, json_t *body, json_t **out, struct sg_err *err)
{
	json_t *deps = json_object_get(body, "deployments"), *first = json_array_get(deps, 0), *checked = NULL;
	json_t *pid = json_object_get(first, "provider_id"), *pmid = json_object_get(first, "provider_model_id");
	json_t *given_pid = json_object_get(body, "provider_id"),
	       *given_pmid = json_object_get(body, "provider_model_id");
	sg_status st;

	*out = NULL;
	/* The list's own errors first: they say more than a missing provider_id would. */
	st = deployments_of(conf, body, "-", &checked, err);
	json_decref(checked);
	if (st != SG_OK || !json_is_string(pid))
		return st;
	if (pmid == NULL || json_is_null(pmid))
		pmid = json_object_get(body, "model_id"); /* deployments_of()'s default */
	if ((given_pid != NULL && !json_is_null(given_pid) && !json_equal(given_pid, pid)) ||
	    (given_pmid != NULL && !json_is_null(given_pmid) && pmid != NULL && !json_equal(given_pmid, pmid)))
		return sg_fail(err, SG_E_BAD_REQUEST, "provider_id",
			       "provider_id and provider_model_id, when given with deployments, must be the first "
			       "deployment's");
	if ((*out = json_copy(body)) == NULL || json_object_set(*out, "provider_id", pid) != 0 ||
	    (json_is_string(pmid) && json_object_set(*out, "provider_model_id", pmid) != 0)) {
		json_decref(*out);
		*out = NULL;
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	}
	return SG_OK;
}

void
resources_model_view(json_t *obj, bool admin)
{
	static const char *const keys[] = {"deployments", "routing", "fallbacks"};

	for (size_t i = 0; i < SG_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(obj, keys[i]);

		if (v != NULL && (json_is_null(v) || (!admin && strcmp(keys[i], "routing") != 0)))
			json_object_del(obj, keys[i]);
	}
}
