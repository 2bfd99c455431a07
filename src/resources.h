/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources.h: the handlers of the native Llama Stack registry routes
 * (models, shields, vector-dbs, datasets, scoring-functions, eval/benchmarks,
 * toolgroups, tools): validation, defaults, provider selection and the access
 * check.  The route's arg is the enum sg_rtype it serves.  No SQL here.
 *
 * The work is split so the same code serves HTTP and start-up:
 *   resources_build()           body → complete object, or a 400 (pure; the
 *                               registry is reached only through a lookup
 *                               callback, for referenced objects);
 *   resources_register_object() build + tool listing + registry write;
 *   the handlers                HTTP glue around those.
 * resources_build.c holds the pure part (resources_build with each type's
 * builder, the built-in tool lists, resources_tools_from_defs);
 * resources_fields.c the helpers those builders share (resources_int.h:
 * field getters, provider choice, access attributes) and the small helpers
 * at the end of this header; resources.c the handlers, the registration
 * flow and MCP use.
 */
#ifndef SG_RESOURCES_H
#define SG_RESOURCES_H

#include "conf.h"
#include "http.h"
#include "identity.h"
#include "registry.h"

sg_status resources_list(struct request *r);       /* GET  /v1/<type>s */
sg_status resources_get(struct request *r);        /* GET  /v1/<type>s/{id} */
sg_status resources_register(struct request *r);   /* POST /v1/<type>s */
sg_status resources_unregister(struct request *r); /* DELETE /v1/<type>s/{id} */
sg_status resources_tools_list(struct request *r); /* GET  /v1/tools?toolgroup_id= */
/* Data-plane routes of the non-inference APIs: 501 with a message saying where they are served. */
sg_status resources_not_implemented(struct request *r);

/*
 * Registers the config's models, shields, vector_dbs, datasets, scoring_fns,
 * the built-in scoring functions of each configured scoring provider
 * (scoring_builtin.h; a type whose list is unknown is logged), benchmarks and
 * tool_groups at start (in that order, so references resolve), idempotently,
 * with no owner and no ACL (unless an entry gives access_attributes), marked
 * as the config's (only admins unregister them; they come back at the next
 * start).  An entry that conflicts with what is stored is
 * logged and the stored object kept; a tool group whose MCP server cannot
 * be reached is logged and skipped.  Every other failure is logged and the
 * first one returned, after trying every entry.  Config models are not
 * checked against their upstream (it may be down at start), and a config
 * dataset must name its dataset_id (else it would be new at every start).
 */
sg_status resources_preregister(const struct sg_conf *conf) SG_MUST_CHECK;

/*
 * How resources_build() reaches objects that a new one refers to (a vector
 * DB's embedding model, a benchmark's dataset and scoring functions):
 * SG_OK with a new reference in *out, SG_E_NOT_FOUND when the object is
 * missing or the caller may not see it, any other status on failure.
 */
typedef sg_status (*resources_lookup_fn)(void *ctx, enum sg_rtype t, const char *identifier, json_t **out);

/*
 * Turns a register body (the POST body, or a config entry: same keys) into
 * the complete object to store, shaped as registry.h describes: defaults
 * applied, provider chosen among conf's providers of the type's API,
 * "access_attributes" set as resources_int.h's resources_acl_for() says
 * (the caller's attributes when the body gives none; given ones only
 * within the caller's own unless it is an admin or start-up, id NULL).
 * Referenced objects are checked through lookup(ctx, …).  Unknown keys are
 * ignored and JSON null counts as absent, except "access_attributes": null,
 * which asks for no ACL.  On SG_OK *out is a new reference.  On failure
 * (SG_E_BAD_REQUEST naming the field, SG_E_FORBIDDEN for access_attributes
 * the caller may not give, or what lookup returned) err says why.  For a tool group the result is the group alone;
 * its tools come from resources_tool_group_tools().  SG_RT_TOOL is refused
 * (tools are registered through their group).
 */
sg_status resources_build(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body,
			  resources_lookup_fn lookup, void *ctx, json_t **out, struct sg_err *err) SG_MUST_CHECK;

/*
 * The fixed tool definitions (Llama Stack ToolDefs) of the built-in tool
 * runtime provider types at Llama Stack 2b2db5fbda: inline::rag-runtime,
 * inline::code-interpreter, remote::tavily-search, remote::brave-search,
 * remote::bing-search, remote::wolfram-alpha.  A new array; empty for any
 * other type (such a group is registered with no tools).  NULL on
 * allocation failure.
 */
json_t *resources_builtin_tool_defs(const char *provider_type);

/*
 * The Tool objects of a built tool group from ToolDefs: identifier and
 * provider_resource_id = the def's name, the group's provider_id,
 * toolgroup_id and access_attributes, tool_host "model_context_protocol"
 * when the group has an mcp_endpoint else "distribution", description ("" if
 * none), parameters ([] if none), metadata.  A name that is not a valid
 * identifier, or listed twice → fail_status (the caller passes
 * SG_E_BAD_GATEWAY for defs from an MCP server).  *tools is a new array.
 */
sg_status resources_tools_from_defs(const json_t *group, const json_t *defs, sg_status fail_status, json_t **tools,
				    struct sg_err *err) SG_MUST_CHECK;

/*
 * Lists a built tool group's tools: from its MCP server (mcp.h) when it has
 * an mcp_endpoint, else the provider type's built-in list.  *tools is a new
 * array of Tool objects.  id is the caller (NULL: the config at start, as
 * trusted as an admin); r, when not NULL, is the request whose client
 * leaving stops the MCP call.  MCP failures are SG_E_FORBIDDEN (the caller
 * may not use that endpoint), SG_E_BAD_GATEWAY or SG_E_GATEWAY_TIMEOUT.
 */
sg_status resources_tool_group_tools(const struct sg_conf *conf, const json_t *group, const struct identity *id,
				     struct request *r, json_t **tools, struct sg_err *err) SG_MUST_CHECK;

/*
 * Registers one object for caller id (NULL: start-up, no owner, marked as
 * the config's; an anonymous caller's objects have no owner either) on
 * behalf of request r (NULL at start-up; its client leaving stops an MCP
 * call): build; with a caller, the access policy's create decision (a new
 * identifier the policy does not let it create: 403, before anything else
 * is asked; one that was taken but vanished before the write is undone and
 * 403 too); for a model with a caller, provider_check_model_served() (400 when the
 * upstream does not serve provider_model_id, 502/504 when it cannot be
 * asked); for a tool group its tools (a group id already taken by another
 * provider or endpoint is a 409 before any MCP server is contacted); then
 * the registry write.  A conflicting re-registration of an object the
 * caller reads is an update: when the policy permits it the object is
 * replaced (registry_replace, owner kept; not for tool groups), else the
 * 409 stays.  On SG_OK
 * *stored is a new reference to the stored object, with its origin
 * (registry_public() before showing it; an identical earlier registration
 * or a replacement counts: *created = false).  Failures: SG_E_BAD_REQUEST,
 * SG_E_FORBIDDEN (access_attributes), SG_E_CONFLICT (the identifier, or a
 * tool name, is taken by a different object, or by one the caller may not
 * see: one message, registry_taken_message(), whichever it is; a tool group
 * id taken by a group the caller cannot see is a 409 before anything else
 * is looked at), SG_E_BAD_GATEWAY /
 * SG_E_GATEWAY_TIMEOUT (MCP, model check), SG_E_UNAVAILABLE (database),
 * with err filled.
 */
sg_status resources_register_object(const struct sg_conf *conf, const struct identity *id, struct request *r,
				    enum sg_rtype t, json_t *body, json_t **stored, bool *created,
				    struct sg_err *err) SG_MUST_CHECK;

/*
 * Whether caller id may unregister obj, whose owner is owner (NULL: none)
 * and which the config registered when from_config, as the access policy
 * (id->policy) decides:
 *  - a caller who may not read obj: SG_E_NOT_FOUND, with the message a
 *    missing object gets ("Model 'x' not found");
 *  - delete permitted: SG_OK;
 *  - else SG_E_FORBIDDEN: under the default policy "… comes from the
 *    configuration: only an admin may unregister it" for an object from the
 *    config, else "… may be unregistered only by its owner or an admin";
 *    under a configured one "the access policy does not permit deleting …".
 * Pure; t names the type in messages.  err gets the client message.
 */
sg_status resources_may_unregister(const struct identity *id, enum sg_rtype t, const json_t *obj, const char *owner,
				   bool from_config, struct sg_err *err) SG_MUST_CHECK;

/*
 * True when s is an acceptable identifier: 1 to 255 characters, no control
 * characters (C0, DEL, C1).  Otherwise writes the reason to why.
 */
bool resources_identifier_ok(const char *s, char *why, size_t whylen);

/* The register body's identifier key ("model_id", "toolgroup_id", …); NULL for SG_RT_TOOL or out of range. */
const char *resources_id_key(enum sg_rtype t);

/*
 * A model object (owned by the caller) as a caller sees it: routing,
 * deployments and fallbacks dropped when null; deployments and fallbacks
 * dropped for a caller that is not an admin (they name providers' models
 * and other models the caller may not see).  In resources_routing.c.
 */
void resources_model_view(json_t *obj, bool admin);

/* "a, b, c": the ids of conf's providers of api in config order, or "none"; cut to fit len bytes. */
void resources_provider_list(const struct sg_conf *conf, enum sg_api api, char *buf, size_t len);

#endif
