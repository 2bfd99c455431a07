/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat.c: the two Llama Stack API generations side by side (compat.h).
 * The April API's model object and today's share no key, so one object
 * carries both and each client reads its own; streams end as each client
 * expects.
 */
#include "config.h"

#include <string.h>

#include "compat.h"
#include "route.h"

json_t *
compat_openai_model(const json_t *model, long long created)
{
	const char *id = json_string_value(json_object_get(model, "identifier"));
	const char *owner = json_string_value(json_object_get(model, "provider_id"));

	if (id == NULL)
		return NULL;
	return json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created", (json_int_t) created, "owned_by",
			 owner ? owner : "");
}

json_t *
compat_model_object(const json_t *model, long long created)
{
	static const char *const own[] = {"model_type", "provider_id", "provider_resource_id"};
	json_t *out = json_is_object(model) ? json_copy((json_t *) model) : NULL;
	json_t *oa = out ? compat_openai_model(model, created) : NULL;
	json_t *custom = json_object(), *meta = json_object_get(model, "metadata"), *v;
	const char *key;
	bool ok = out != NULL && oa != NULL && custom != NULL && json_object_update(out, oa) == 0;

	for (size_t i = 0; ok && i < SG_ARRAY_LEN(own); i++) {
		json_t *val = json_object_get(model, own[i]);

		ok = json_object_set_new(custom, own[i], val ? json_incref(val) : json_null()) == 0;
	}
	/* The three above are the registry's own fields: metadata does not override them. */
	if (ok && json_is_object(meta))
		json_object_foreach(meta, key, v) {
			if (json_object_get(custom, key) == NULL && json_object_set(custom, key, v) != 0)
				ok = false;
		}
	if (ok && json_object_set_new(out, "custom_metadata", custom) == 0)
		custom = NULL;
	else
		ok = false;
	json_decref(custom);
	json_decref(oa);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

static const char *const sse_done_modes[] = {"auto", "always", "never"};

const char *
compat_sse_done_check(const char *mode)
{
	for (size_t i = 0; i < SG_ARRAY_LEN(sse_done_modes); i++)
		if (strcmp(mode, sse_done_modes[i]) == 0)
			return NULL;
	return "must be one of " COMPAT_SSE_DONE_MODES;
}

/* True for "LlamaStackClient/JS 0.2…" and "LlamaStackClient/Python 0.2…" (0.2 exactly, not 0.20). */
static bool
llama_stack_client_02(const char *ua)
{
	static const char *const langs[] = {"JS ", "Python "};
	static const char prefix[] = "LlamaStackClient/";

	if (ua == NULL || strncmp(ua, prefix, sizeof(prefix) - 1) != 0)
		return false;
	ua += sizeof(prefix) - 1;
	for (size_t i = 0; i < SG_ARRAY_LEN(langs); i++) {
		size_t n = strlen(langs[i]);

		if (strncmp(ua, langs[i], n) == 0 && strncmp(ua + n, "0.2", 3) == 0 &&
		    (ua[n + 3] == '\0' || ua[n + 3] == '.' || ua[n + 3] == ' ' || ua[n + 3] == '-' || ua[n + 3] == '+'))
			return true;
	}
	return false;
}

bool
compat_sse_done(const char *mode, const char *user_agent)
{
	if (mode != NULL && strcmp(mode, "always") == 0)
		return true;
	if (mode != NULL && strcmp(mode, "never") == 0)
		return false;
	return !llama_stack_client_02(user_agent);
}

sg_status
compat_data_plane(struct request *r)
{
	const char *path = r->path ? r->path : "";

	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL,
			 "%s %.*s is not implemented: stackgate does not serve the %s API of Llama Stack 0.7 (it "
			 "serves the registry and OpenAI-compatible inference: /v1/chat/completions, /v1/completions, "
			 "/v1/embeddings)",
			 r->method_name ? r->method_name : "-", (int) sg_utf8_prefix(path, 200), path, r->route->api);
}
