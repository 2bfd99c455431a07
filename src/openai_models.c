/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_models.c: GET /v1/openai/v1/models/{model}, OpenAI's model object
 * for one registry model the caller may see (openai.h).
 */
#include "config.h"

#include "compat.h"
#include "identity.h"
#include "openai.h"
#include "registry.h"

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
