/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources.c: the Llama Stack registry routes (routing_tables.py at
 * 2b2db5fbda, reference/llama-stack-api.md §1) with the defects of §8 fixed:
 * not found and not visible are one 404; re-registering an identical object
 * returns it, a different one is a 409; every register returns the stored
 * object; providers are chosen from the config by API and never by
 * hard-coded ids; references (embedding model, dataset, scoring functions)
 * must exist and be visible; tool groups carry their creator's ACL and lose
 * their tools with them.  Every decision is the access policy's (policy.h,
 * through identity_decide*): reading (lists, gets, calls, references),
 * creating, updating (a conflicting re-registration) and deleting
 * (resources_may_unregister, asked by the registry on the row it locks for
 * the DELETE).  Tenants stay apart: a caller gives only access_attributes
 * it holds (resources_acl_for, outside the policy), and a 409 reads the same
 * whatever is in the way.
 *
 * Validation and defaults are pure (resources_build(), in
 * resources_build.c); this file holds the handlers, the registration flow
 * and the tool listing.  The registry is reached only through registry.h
 * and the MCP servers through mcp.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "list.h"
#include "log.h"
#include "mcp.h"
#include "provider.h"
#include "proxy.h"
#include "resources.h"
#include "route.h"
#include "scoring_builtin.h"

/* mcp's client_alive: still someone at the other end of nginx? */
static bool
client_alive(void *ctx)
{
	return http_client_alive(ctx);
}

sg_status
resources_tool_group_tools(const struct sg_conf *conf, const json_t *group, const struct identity *id,
			   struct request *r, json_t **tools, struct sg_err *err)
{
	const json_t *ep = json_object_get(group, "mcp_endpoint");
	const char *pid = json_string_value(json_object_get(group, "provider_id"));
	const struct sg_provider *p = pid ? conf_provider(conf, SG_API_TOOL_RUNTIME, pid) : NULL;
	json_t *defs = NULL;
	sg_status st, fail_status = SG_E_INTERNAL;

	*tools = NULL;
	if (json_is_object(ep)) {
		struct mcp_call call = {.uri = json_string_value(json_object_get(ep, "uri")),
					.provider = p,
					.trusted = id == NULL || id->admin,
					.client_alive = r != NULL ? client_alive : NULL,
					.alive_ctx = r,
					.request_id = r != NULL ? r->request_id : NULL};

		st = mcp_list_tools(&call, &defs, err);
		/* At start-up the master forks next: no curl handle, and no connection, may outlive this. */
		if (r == NULL)
			proxy_thread_cleanup();
		if (st != SG_OK) {
			snprintf(err->param, sizeof(err->param), "%s",
				 st == SG_E_FORBIDDEN ? "mcp_endpoint.uri" : "mcp_endpoint");
			return st;
		}
		fail_status = SG_E_BAD_GATEWAY;
	} else {
		defs = resources_builtin_tool_defs(p ? p->provider_type : NULL);
		if (defs == NULL)
			return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
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

/* The 403 for a create the access policy refuses. */
static sg_status
denied_create(enum sg_rtype t, const char *ident, struct sg_err *err)
{
	return sg_fail(err, SG_E_FORBIDDEN, NULL, "the access policy does not permit creating %s '%.*s'",
		       registry_type_label(t), (int) sg_utf8_prefix(ident, 300), ident);
}

sg_status
resources_register_object(const struct sg_conf *conf, const struct identity *id, struct request *r, enum sg_rtype t,
			  json_t *body, json_t **stored, bool *created, struct sg_err *err)
{
	struct lookup_ctx lc = {.id = id};
	const char *owner = id != NULL ? id->principal : NULL, *ident;
	json_t *obj = NULL, *tools = NULL, *existing = NULL;
	bool replaced = false, may_create = true;
	sg_status st;

	*stored = NULL;
	*created = false;
	st = resources_build(t, conf, id, body, visible_lookup, &lc, &obj, err);
	if (st != SG_OK)
		goto out;
	ident = json_string_value(json_object_get(obj, "identifier"));
	if (id != NULL) {
		/* A new object is a create, judged before any upstream or MCP server is contacted. */
		may_create = identity_decide_at(id, SG_ACT_CREATE, obj, owner, false, NULL) == POLICY_PERMIT;
		st = registry_get(t, ident, &existing);
		/* An object the caller cannot see is, for this caller, not there: the same 403 as a free id. */
		if (!may_create && (st == SG_E_NOT_FOUND || (st == SG_OK && !identity_can_see(id, existing)))) {
			st = denied_create(t, ident, err);
			goto out;
		}
		if (st != SG_OK && st != SG_E_NOT_FOUND)
			goto out;
		st = SG_OK;
	}
	if (t == SG_RT_MODEL && id != NULL) {
		/* Like the seed's remote providers: the upstream must serve the model (when the provider says to check). */
		const json_t *deps = json_object_get(obj, "deployments");
		size_t nd = json_is_array(deps) ? json_array_size(deps) : 1;

		/* Each deployment's upstream, when the model has several. */
		for (size_t i = 0; i < nd; i++) {
			const json_t *d = json_is_array(deps) ? json_array_get(deps, i) : obj;
			const struct sg_provider *p = conf_provider(
				conf, SG_API_INFERENCE, json_string_value(json_object_get(d, "provider_id")));

			st = provider_check_model_served(
				p,
				json_string_value(json_object_get(d, json_is_array(deps) ? "provider_model_id"
											 : "provider_resource_id")),
				r != NULL ? client_alive : NULL, r, err);
			if (st != SG_OK) {
				if (json_is_array(deps))
					snprintf(err->param, sizeof(err->param), "deployments[%zu].%s", i,
						 st == SG_E_BAD_REQUEST ? "provider_model_id" : "provider_id");
				else
					snprintf(err->param, sizeof(err->param), "%s",
						 st == SG_E_BAD_REQUEST ? "provider_model_id" : "provider_id");
				goto out;
			}
		}
	}
	if (t == SG_RT_TOOL_GROUP) {
		/*
		 * An identifier taken by another provider or endpoint, or by a group the caller cannot see (whatever
		 * its source: the answer must not depend on it), is a conflict before any MCP server is contacted.
		 */
		if (id == NULL && (st = registry_get(t, ident, &existing)) != SG_OK && st != SG_E_NOT_FOUND)
			goto out;
		if (existing != NULL &&
		    ((id != NULL && !identity_can_see(id, existing)) || !same_tool_group_source(existing, obj))) {
			st = SG_E_CONFLICT;
			goto out;
		}
		st = resources_tool_group_tools(conf, obj, id, r, &tools, err);
		if (st != SG_OK)
			goto out;
		st = registry_register_tool_group(obj, tools, owner, id == NULL, stored, created, err);
	} else {
		st = registry_register(t, obj, owner, id == NULL, stored, created, err);
		/* A conflicting re-registration is an update: permitted, it replaces the object (its owner stays). */
		if (st == SG_E_CONFLICT && existing != NULL && t != SG_RT_TOOL && identity_can_see(id, existing) &&
		    identity_decide(id, SG_ACT_UPDATE, existing, NULL) == POLICY_PERMIT) {
			const char *was_owner;
			bool was_config;

			(void) registry_origin(existing, &was_owner, &was_config);
			sg_err_reset(err);
			st = registry_replace(t, obj, was_owner, stored, err);
			replaced = st == SG_OK;
		}
	}
	/*
	 * The object in the way was gone by the time the registry looked, and it stored this one: a create after
	 * all, which the caller may not do.  Undone at once (it was visible for that instant).
	 */
	if (st == SG_OK && *created && !may_create) {
		struct sg_err undo_err = {0};
		sg_status undo = t == SG_RT_TOOL_GROUP ? registry_unregister_tool_group(ident, NULL, &undo_err)
						       : registry_unregister(t, ident, NULL, &undo_err);

		if (undo != SG_OK)
			log_error("%s '%s': could not undo a create the access policy refuses: %s",
				  registry_type_name(t), ident, undo_err.msg);
		json_decref(*stored);
		*stored = NULL;
		*created = false;
		st = denied_create(t, ident, err);
		goto out;
	}
	/* Echoing a stored object is only for callers who may see it. */
	if (st == SG_OK && !*created && !replaced && id != NULL && !identity_can_see(id, *stored)) {
		json_decref(*stored);
		*stored = NULL;
		sg_err_reset(err);
		st = SG_E_CONFLICT;
	}
	if (st == SG_OK)
		log_info("%s %s '%s' (provider %s)%s%s",
			 *created   ? "registered"
			 : replaced ? "replaced (an update)"
				    : "re-registered (unchanged)",
			 registry_type_name(t), ident, json_string_value(json_object_get(obj, "provider_id")),
			 owner ? " for " : "", owner ? owner : "");
out:
	if (st != SG_OK && err->msg[0] == '\0') {
		if (st == SG_E_CONFLICT) /* the registry's own text for a taken id, word for word */
			registry_taken_message(t, json_string_value(json_object_get(obj, "identifier")), err);
		else
			sg_fail(err, st, NULL, "%s", registry_message(st));
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
		return http_fail(r, SG_E_NOT_FOUND, NULL, "%s not found", registry_type_label(t));
	st = registry_get(t, r->path_arg, out);
	if (st == SG_OK && !identity_can_see(&r->id, *out)) {
		json_decref(*out);
		*out = NULL;
		st = SG_E_NOT_FOUND;
	}
	if (st == SG_E_NOT_FOUND)
		return http_fail(r, st, NULL, "%s '%.*s' not found", registry_type_label(t),
				 (int) sg_utf8_prefix(r->path_arg, 300), r->path_arg);
	if (st != SG_OK)
		return registry_fail(r, st);
	return SG_OK;
}

/* A native list's item: the object without access_attributes (the seed's list serialization). */
static sg_status
list_entry(struct http_list *l, json_t *obj, long long created)
{
	char *text;
	sg_status st;

	(void) created;
	json_object_del(obj, "access_attributes");
	json_object_del(obj, REGISTRY_ORIGIN_KEY);
	text = json_dumps(obj, JSON_COMPACT);
	st = text != NULL ? http_list_item(l, text, strlen(text)) : SG_E_NOMEM;
	free(text);
	return st;
}

/* A model list's item: the model with both generations' fields (compat.h), without access_attributes. */
static sg_status
model_entry_as(struct http_list *l, json_t *obj, long long created, bool admin)
{
	json_t *both = compat_model_object(obj, created);
	sg_status st;

	if (both != NULL)
		resources_model_view(both, admin);
	st = both != NULL ? list_entry(l, both, created) : SG_E_NOMEM;
	json_decref(both);
	return st;
}

static sg_status
model_entry(struct http_list *l, json_t *obj, long long created)
{
	return model_entry_as(l, obj, created, false);
}

/* For an admin: with the deployments and fallbacks (resources_model_view). */
static sg_status
model_entry_admin(struct http_list *l, json_t *obj, long long created)
{
	return model_entry_as(l, obj, created, true);
}

/*
 * {"data":[…]}: the bytes json_dumps(JSON_COMPACT) makes of the whole array;
 * for models {"object":"list","data":[…]}, as both API generations read it.
 */
static sg_status
stream_list(struct request *r, enum sg_rtype t, const char *group)
{
	sg_status st = t == SG_RT_MODEL ? list_visible(r, t, group, "{\"object\":\"list\",\"data\":[",
						       r->id.admin ? model_entry_admin : model_entry)
					: list_visible(r, t, group, "{\"data\":[", list_entry);

	return st != SG_OK ? registry_fail(r, st) : SG_OK;
}

sg_status
resources_list(struct request *r)
{
	return stream_list(r, route_type(r), NULL);
}

sg_status
resources_tools_list(struct request *r)
{
	char *group = http_query_get(r, "toolgroup_id");
	sg_status st;

	/* As in the seed, an empty toolgroup_id means no filter. */
	st = stream_list(r, SG_RT_TOOL, group != NULL && *group != '\0' ? group : NULL);
	free(group);
	return st;
}

/*
 * Replies with obj (reference taken) as a client sees it (registry_public);
 * a model as in the list, with both generations' fields, created_at that of
 * identifier id (NULL: obj's own).
 */
static sg_status
reply_public(struct request *r, json_t *obj, const char *id)
{
	if ((obj = registry_public(obj)) == NULL)
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	if (route_type(r) == SG_RT_MODEL) {
		const char *ident = id != NULL ? id : json_string_value(json_object_get(obj, "identifier"));
		json_t *both = compat_model_object(obj, registry_created_at(SG_RT_MODEL, ident));

		json_decref(obj);
		if (both == NULL)
			return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		resources_model_view(both, r->id.admin);
		obj = both;
	}
	r->reply = obj;
	return SG_OK;
}

sg_status
resources_get(struct request *r)
{
	json_t *obj;
	sg_status st = get_visible(r, route_type(r), &obj);

	if (st != SG_OK)
		return st;
	return reply_public(r, obj, r->path_arg);
}

sg_status
resources_register(struct request *r)
{
	json_t *body, *stored;
	bool created;
	sg_status st;

	st = http_body_object(r, &body);
	if (st != SG_OK)
		return st;
	st = resources_register_object(r->conf, &r->id, r, route_type(r), body, &stored, &created, &r->err);
	if (st != SG_OK)
		return st;
	return reply_public(r, stored, NULL);
}

/* The caller's side of an unregister, decided by the registry on the locked row (registry_guard). */
struct unregister_ctx {
	const struct identity *id;
	enum sg_rtype t;
};

static sg_status
may_delete(void *ctx, const json_t *obj, const char *owner, bool from_config, struct sg_err *err)
{
	const struct unregister_ctx *uc = ctx;

	return resources_may_unregister(uc->id, uc->t, obj, owner, from_config, err);
}

static bool
may_name(void *ctx, const json_t *obj)
{
	const struct unregister_ctx *uc = ctx;

	return identity_can_see(uc->id, obj);
}

sg_status
resources_unregister(struct request *r)
{
	enum sg_rtype t = route_type(r);
	struct unregister_ctx uc = {.id = &r->id, .t = t};
	const struct registry_guard guard = {.may_delete = may_delete, .may_name = may_name, .ctx = &uc};
	sg_status st;

	/* Who may is resources_may_unregister's to say; the registry asks it on the row it locked for the DELETE. */
	if (r->path_arg == NULL)
		return http_fail(r, SG_E_NOT_FOUND, NULL, "%s not found", registry_type_label(t));
	if (t == SG_RT_TOOL_GROUP)
		st = registry_unregister_tool_group(r->path_arg, &guard, &r->err);
	else
		st = registry_unregister(t, r->path_arg, &guard, &r->err);
	if (st == SG_E_NOT_FOUND) /* missing, or not the caller's to see: one answer */
		return http_fail(r, st, NULL, "%s '%.*s' not found", registry_type_label(t),
				 (int) sg_utf8_prefix(r->path_arg, 300), r->path_arg);
	if (st != SG_OK && r->err.msg[0] == '\0')
		return http_fail(r, st, NULL, "%s", registry_message(st));
	if (st != SG_OK)
		return st;
	log_info("unregistered %s '%s'%s%s", registry_type_name(t), r->path_arg, r->id.principal ? " by " : "",
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
				 "/v1/chat/completions, /v1/completions or /v1/embeddings (also served as "
				 "/v1/openai/v1/chat/completions, /v1/openai/v1/completions, /v1/openai/v1/embeddings) "
				 "instead of %s %s",
				 http_method_name(r->route->method), route);
	for (size_t i = 0; i < SG_API_COUNT; i++)
		if (strcmp(api, conf_api_name((enum sg_api) i)) == 0)
			resources_provider_list(r->conf, (enum sg_api) i, list, sizeof(list));
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL,
			 "stackgate keeps the registry and routing for the %s API; its data plane (%s %s) is served "
			 "by the provider's own service (configured %s providers: %s)",
			 api, http_method_name(r->route->method), route, api, list);
}

/*
 * The built-in scoring functions of every configured scoring provider
 * (scoring_builtin.h), as one list of register bodies under each provider's
 * id, as the seed's initialize() registers them; a provider type whose list
 * is unknown adds nothing and is logged.  A new array, NULL when out of memory.
 */
static json_t *
builtin_scoring_fns(const struct sg_conf *conf)
{
	json_t *all = json_array();

	for (size_t i = 0; all != NULL && i < conf_provider_count(conf, SG_API_SCORING); i++) {
		const struct sg_provider *p = conf_provider_nth(conf, SG_API_SCORING, i);
		json_t *defs;

		if (!scoring_builtin_known(p->provider_type)) {
			log_info("scoring provider %s: no built-in scoring functions are known for type %s",
				 p->provider_id, p->provider_type);
			continue;
		}
		defs = scoring_builtin_defs(p->provider_type, p->provider_id);
		if (defs == NULL || json_array_extend(all, defs) != 0) {
			json_decref(all);
			all = NULL;
		}
		json_decref(defs);
	}
	return all;
}

sg_status
resources_preregister(const struct sg_conf *conf)
{
	json_t *builtins = builtin_scoring_fns(conf);
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
		/* After the config's own (which win a clash), before the benchmarks that name them. */
		{SG_RT_SCORING_FN, "built-in scoring functions", builtins},
		{SG_RT_BENCHMARK, "benchmarks", conf->benchmarks},
		{SG_RT_TOOL_GROUP, "tool_groups", conf->tool_groups},
	};
	sg_status first = builtins != NULL ? SG_OK : SG_E_NOMEM;

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
			struct sg_err err = {.param = ""};
			json_t *stored = NULL;
			bool created;
			sg_status st;

			/* Without its id a config dataset would be registered anew at every start. */
			if (lists[l].t == SG_RT_DATASET && json_is_object(entry) &&
			    !json_is_string(json_object_get(entry, "dataset_id"))) {
				st = sg_fail(&err, SG_E_BAD_REQUEST, "dataset_id",
					     "dataset_id is required in the config");
			} else {
				st = resources_register_object(conf, NULL, NULL, lists[l].t, entry, &stored, &created,
							       &err);
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
	json_decref(builtins);
	return first;
}
