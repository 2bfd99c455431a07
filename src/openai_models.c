/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_models.c: GET /v1/openai/v1/models (the streamed list) and
 * /v1/openai/v1/models/{model}: OpenAI's model objects (compat.h) for the
 * registry models the caller may see (openai.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "identity.h"
#include "json.h"
#include "list.h"
#include "openai.h"
#include "registry.h"

/*
 * GET /v1/openai/v1/models: {"object":"list","data":[…]} with one
 * compat_openai_model() per visible model, written as the registry is walked
 * (list_visible).
 */

/* One model's entry (none for an object without an identifier); SG_OK, SG_E_NOMEM or http_list_item()'s status. */
static sg_status
models_entry(struct http_list *l, json_t *m, long long created)
{
	json_t *entry;
	char *text;
	sg_status st;

	if (json_string_value(json_object_get(m, "identifier")) == NULL)
		return SG_OK;
	entry = compat_openai_model(m, created);
	text = entry ? sg_json_dump(entry) : NULL;
	st = text != NULL ? http_list_item(l, text, strlen(text)) : SG_E_NOMEM;
	free(text);
	json_decref(entry);
	return st;
}

sg_status
openai_models(struct request *r)
{
	sg_status st = list_visible(r, SG_RT_MODEL, NULL, "{\"object\":\"list\",\"data\":[", models_entry);

	if (st == SG_E_NOMEM)
		return http_fail(r, st, NULL, "out of memory");
	if (st != SG_OK)
		return http_fail(r, st, NULL, "models could not be listed: the registry is unavailable");
	return SG_OK;
}

sg_status
openai_model_get(struct request *r)
{
	const char *name = r->path_arg ? r->path_arg : "";
	json_t *m = NULL;
	sg_status st = registry_get(SG_RT_MODEL, name, &m);

	if (st == SG_OK && !identity_can_see(&r->id, m))
		st = SG_E_NOT_FOUND;
	if (st == SG_OK) {
		r->reply = compat_openai_model(m, registry_created_at(SG_RT_MODEL, name));
		st = r->reply != NULL ? SG_OK : http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	} else if (st == SG_E_NOT_FOUND) {
		st = http_fail(r, st, "model", "The model '%.*s' does not exist", (int) sg_utf8_prefix(name, 300),
			       name);
	} else {
		st = http_fail(r, st, NULL, "model '%.*s' could not be looked up: the registry is unavailable",
			       (int) sg_utf8_prefix(name, 300), name);
	}
	json_decref(m);
	return st;
}
