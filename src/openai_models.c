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
#include "openai.h"
#include "proxy.h"
#include "registry.h"

/*
 * GET /v1/openai/v1/models: {"object":"list","data":[…]} with one
 * {"id","object":"model","created","owned_by"} per visible model, written as
 * the registry is walked (registry_iter: no lock held while writing) in
 * chunks of about MODELS_CHUNK bytes, so a registry of any size costs one
 * batch and one chunk.  Nothing is sent until the first chunk is full or the
 * list is complete: an error until then is an ordinary error response.
 */
#define MODELS_CHUNK (64 * 1024)

/* Sends what out holds (starting the stream first); false when the client is gone. */
static bool
models_flush(struct request *r, struct proxy_buf *out)
{
	if (!r->headers_sent && !http_stream_begin(r, 200, "application/json"))
		return false;
	if (out->len > 0 && r->method != SG_HEAD && !http_stream_write(r, out->p, out->len))
		return false;
	out->len = 0;
	return true;
}

/* One model's entry (compat_openai_model) appended to out (after a comma unless first); SG_OK or SG_E_NOMEM. */
static sg_status
models_entry(struct proxy_buf *out, const json_t *m, long long created, bool first)
{
	json_t *entry = compat_openai_model(m, created);
	char *text = entry ? sg_json_dump(entry) : NULL;
	bool ok = text != NULL && (first || proxy_buf_append(out, ",", 1)) && proxy_buf_append(out, text, strlen(text));

	free(text);
	json_decref(entry);
	return ok ? SG_OK : SG_E_NOMEM;
}

sg_status
openai_models(struct request *r)
{
	static const char head[] = "{\"object\":\"list\",\"data\":[";
	struct registry_iter it;
	struct proxy_buf out = {0};
	json_t *m = NULL;
	long long created;
	bool first = true;
	sg_status st = registry_iter_open(&it, SG_RT_MODEL, NULL);

	if (st != SG_OK)
		goto out;
	if (!proxy_buf_append(&out, head, sizeof(head) - 1))
		st = SG_E_NOMEM;
	while (st == SG_OK && r->method != SG_HEAD) {
		st = registry_iter_next(&it, &m, &created);
		if (st != SG_OK || m == NULL)
			break;
		if (json_string_value(json_object_get(m, "identifier")) != NULL && identity_can_see(&r->id, m)) {
			st = models_entry(&out, m, created, first);
			first = false;
		}
		json_decref(m);
		m = NULL;
		if (st == SG_OK && out.len >= MODELS_CHUNK && !models_flush(r, &out))
			st = SG_E_BAD_GATEWAY;
	}
	if (st == SG_OK && !proxy_buf_append(&out, "]}", 2))
		st = SG_E_NOMEM;
	if (st == SG_OK && !models_flush(r, &out))
		st = SG_E_BAD_GATEWAY;
out:
	json_decref(m);
	registry_iter_free(&it);
	proxy_buf_free(&out);
	if (r->client_gone)
		return SG_OK; /* nobody to tell; the access log says client-gone */
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
