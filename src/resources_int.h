/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources_int.h: what resources_build.c (the per-type builders) and
 * resources_fields.c (the helpers they share) have in common; nothing else
 * includes it.  Every function here writes a client-safe message naming the
 * field into err on failure (sg_fail) and returns the status: mostly
 * SG_E_BAD_REQUEST, SG_E_NOMEM when out of memory.  A JSON null counts as
 * an absent key.
 */
#ifndef SG_RESOURCES_INT_H
#define SG_RESOURCES_INT_H

#include <jansson.h>

#include "json.h"
#include "resources.h"

/* The plain typed getters are json.h's sg_json_field*(); these add the resource rules. */
/* A string that must be an identifier (resources_identifier_ok): *out borrowed. */
sg_status resources_field_ident(json_t *obj, const char *key, const char *name, bool required, const char **out,
				struct sg_err *err) SG_MUST_CHECK;
/* A string that must be one of the NULL-terminated allowed list (the 400 lists them): *out borrowed. */
sg_status resources_field_enum(json_t *obj, const char *key, const char *name, bool required,
			       const char *const *allowed, const char **out, struct sg_err *err) SG_MUST_CHECK;
/* A copy of the optional object obj[key]; when absent {} (empty_default) or null.  New reference in *out. */
sg_status resources_field_obj(json_t *obj, const char *key, const char *name, bool empty_default, json_t **out,
			      struct sg_err *err) SG_MUST_CHECK;
/*
 * The optional list of strings obj[key], each checked against the
 * NULL-terminated allowed list when allowed is not NULL: a new copy in
 * *out, [] when absent.
 */
sg_status resources_field_strings(json_t *obj, const char *key, const char *name, const char *const *allowed,
				  json_t **out, struct sg_err *err) SG_MUST_CHECK;

/* How a type picks its provider when the body names none. */
enum pick {
	PICK_ONLY,     /* the only provider of the API, else 400 */
	PICK_FIRST,    /* the first provider of the API (vector DBs) */
	PICK_REQUIRED, /* provider_id is required (tool groups) */
};

/* The fields every builder starts with: identifier, provider resource id, provider, ACL. */
struct common {
	const char *identifier;
	const char *prid;
	const struct sg_provider *provider;
	json_t *acl; /* owned until resources_object_new() steals it */
};

/*
 * Reads the fields every type starts with into *c: the type's identifier
 * key (required) and provider resource id key (defaults to the identifier),
 * the provider (chosen as mode says when the body names none; messages name
 * the configured providers) and the access attributes (resources_acl_for).
 * c->identifier and c->prid are borrowed from body; c->acl is a new
 * reference the caller owns (whatever the status) until
 * resources_object_new() steals it.
 */
sg_status resources_common_fields(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body,
				  enum pick mode, struct common *c, struct sg_err *err) SG_MUST_CHECK;

/*
 * A dataset's provider: the body's provider_id if given; else by source (a
 * Hugging Face uri → a remote::huggingface provider, anything else → an
 * inline::localfs provider); else the only datasetio provider.  uri may be
 * NULL (rows).  *out points into conf.
 */
sg_status resources_dataset_provider(const struct sg_conf *conf, json_t *body, const char *uri,
				     const struct sg_provider **out, struct sg_err *err) SG_MUST_CHECK;

/*
 * The new object's access_attributes, new reference in *out.  The default
 * rule (a later access policy may make it configurable):
 *  - the body has none (key absent): the caller's attributes, null for a
 *    caller without any and for an anonymous one (no principal);
 *  - the body gives an object (validated, else 400): kept for an admin and
 *    for start-up (id NULL); a caller with a principal that is not an admin
 *    may give only attributes it holds (acl_attrs_within: at least one
 *    category, each a non-empty subset of its own values), else 403; an
 *    anonymous caller may give none (403);
 *  - the body gives null (no ACL, visible to every caller): an admin,
 *    start-up, an anonymous caller or one without attributes (for whom it is
 *    the default anyway); anyone else 403.
 * 403s name access_attributes and never depend on the registry.
 */
sg_status resources_acl_for(const struct identity *id, json_t *body, json_t **out, struct sg_err *err) SG_MUST_CHECK;

/*
 * A new object with the Resource fields in the API's order: identifier,
 * provider_resource_id, provider_id (p's), type, access_attributes.  Steals
 * acl (even on failure); NULL when out of memory.
 */
json_t *resources_object_new(enum sg_rtype t, const char *identifier, const char *prid, const struct sg_provider *p,
			     json_t *acl);

/*
 * Looks up the object a new one refers to through lookup(ctx, …): SG_OK
 * with a new reference in *out; a missing or invisible object is a 400 on
 * param ("<param>: Dataset 'd' not found"); another failure keeps its
 * status ("the registry is unavailable" unless lookup wrote err).
 */
sg_status resources_lookup_ref(resources_lookup_fn lookup, void *ctx, enum sg_rtype t, const char *identifier,
			       const char *param, json_t **out, struct sg_err *err) SG_MUST_CHECK;

/* ---- A model's routing fields (resources_routing.c) ---- */

struct model_routing {
	json_t *deployments; /* [{provider_id, provider_model_id, weight}] normalised, or null */
	json_t *routing;     /* "weighted", "least-busy", "ordered", or null (weighted) */
	json_t *fallbacks;   /* [model ids], or null */
};

/*
 * The body's deployments (1..ROUTER_MAX_DEPLOYMENTS, each a configured
 * inference provider, provider_model_id defaulting to ident, weight 1..10^6
 * defaulting to 1), routing (router_strategy_names) and fallbacks (at most
 * ROUTER_MAX_FALLBACKS models of model_type, each found through lookup: an
 * unknown or invisible one is the 400 of a missing reference; no duplicate,
 * not ident, no cycle through the fallbacks' own lists).  New references
 * in *out, freed by resources_model_routing_free (also on failure).
 */
sg_status resources_model_routing(const struct sg_conf *conf, json_t *body, const char *ident, const char *model_type,
				  resources_lookup_fn lookup, void *ctx, struct model_routing *out,
				  struct sg_err *err) SG_MUST_CHECK;
void resources_model_routing_free(struct model_routing *mr);

/*
 * A body with deployments gets the first deployment's provider_id and
 * provider_model_id (a new copy in *out; NULL when the body has no usable
 * list, to be used as is); 400 when the body gives others.
 */
sg_status resources_model_first_deployment(const struct sg_conf *conf, json_t *body, json_t **out,
					   struct sg_err *err) SG_MUST_CHECK;

#endif
