/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_view.c: GET /v1/stackgate/registry?type=T, the operator page's
 * registry view: the objects of type T the caller may see (the same walk
 * and visibility as the native lists, list.h), each as GET shows it, with
 * its access_attributes (which the native lists leave out, as the seed
 * does), "from_config", its "owner": for an admin always, for anyone else
 * only when the caller is the owner (null otherwise), so a tenant learns no
 * other principal's name, and "can_unregister": whether the access policy
 * permits this caller to delete it (the delete itself decides again, on
 * the locked row; an object in use is still 409).  A model's deployments
 * and fallbacks (issue #17) go to admins only, as GET /v1/models shows
 * them; the other members pass through.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "identity.h"
#include "list.h"
#include "resources.h"

static sg_status
view_entry(struct http_list *l, json_t *obj, long long created)
{
	const struct identity *id = &l->r->id;
	const char *owner = NULL;
	bool from_config = false, may_delete;
	char *text;
	sg_status st;

	(void) created;
	(void) registry_origin(obj, &owner, &from_config);
	/* Decided on the true owner, before it is hidden: the page offers only what the policy permits. */
	may_delete = identity_decide_at(id, SG_ACT_DELETE, obj, owner, from_config, NULL) == POLICY_PERMIT;
	if (owner != NULL && !id->admin && (id->principal == NULL || strcmp(owner, id->principal) != 0))
		owner = NULL;
	if (json_object_set_new(obj, "owner", owner != NULL ? json_string(owner) : json_null()) != 0 ||
	    json_object_set_new(obj, "from_config", json_boolean(from_config)) != 0 ||
	    json_object_set_new(obj, "can_unregister", json_boolean(may_delete)) != 0)
		return SG_E_NOMEM;
	json_object_del(obj, REGISTRY_ORIGIN_KEY);
	/* A model's deployments and fallbacks: admins only, as in the model's own answers. */
	resources_model_view(obj, id->admin);
	text = json_dumps(obj, JSON_COMPACT);
	st = text != NULL ? http_list_item(l, text, strlen(text)) : SG_E_NOMEM;
	free(text);
	return st;
}

sg_status
admin_registry_view(struct request *r)
{
	char *type = http_query_get(r, "type");
	enum sg_rtype t;
	sg_status st;

	if (type == NULL || !registry_type_from_name(type, &t)) {
		st = http_fail(r, SG_E_BAD_REQUEST, "type",
			       "type must be one of model, shield, vector_db, dataset, scoring_function, benchmark,"
			       " tool_group, tool");
		free(type);
		return st;
	}
	free(type);
	st = list_visible(r, t, NULL, "{\"object\":\"list\",\"data\":[", view_entry);
	if (st != SG_OK)
		return http_fail(r, st == SG_E_NOMEM ? st : SG_E_UNAVAILABLE, NULL,
				 st == SG_E_NOMEM ? "out of memory" : "the registry could not be read");
	return SG_OK;
}
