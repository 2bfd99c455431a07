/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_route.c: the attempts one inference request makes (router.h).  The
 * model's deployments are tried as the router chooses them, up to
 * 1 + router.max_retries attempts per model, while each failure is one the
 * router retries (nothing reached the client); then each fallback the
 * caller may call, in order, the same way (its own fallbacks are not
 * followed).  A failure that is not retried, or the last one, is the
 * answer, as it would have been without routing.  Each attempt counts once
 * in the upstream's load (router_busy_add) and each retryable failure once
 * for the cooldown.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity.h"
#include "log.h"
#include "openai_int.h"
#include "registry.h"
#include "router.h"

/* What serves this attempt, in the reply's headers and the request's record. */
static bool
name_attempt(struct request *r, size_t mark, const struct sg_provider *p, const char *model_id,
	     const char *provider_model, int attempts)
{
	struct request_inference *inf = &r->inference;

	inf->attempts = attempts;
	openai_copy_utf8(inf->provider_id, sizeof(inf->provider_id), p->provider_id);
	openai_copy_utf8(inf->served_model, sizeof(inf->served_model), model_id);
	openai_copy_utf8(inf->provider_model, sizeof(inf->provider_model), provider_model);
	/* The headers an earlier attempt added go. */
	http_headers_truncate(r, mark);
	return http_add_header(r, "X-Stackgate-Provider", p->provider_id) &&
	       http_add_header(r, "X-Stackgate-Model", model_id) &&
	       (attempts < 2 || http_add_header_int(r, "X-Stackgate-Attempts", attempts, ""));
}

/* A fallback the caller may call for this kind of request: a new reference in *out. */
static bool
callable_fallback(struct request *r, bool embeddings, const char *id, json_t **out)
{
	const char *type;
	json_t *m = NULL;

	*out = NULL;
	if (id == NULL || registry_get(SG_RT_MODEL, id, &m) != SG_OK)
		return false;
	type = json_string_value(json_object_get(m, "model_type"));
	if (!identity_can_see(&r->id, m) || (type != NULL && strcmp(type, "embedding") == 0) != embeddings) {
		/* Invisible to this caller (or of the other kind): as if it were not listed. */
		log_info("fallback '%s' skipped: not callable by this caller", id);
		json_decref(m);
		return false;
	}
	*out = m;
	return true;
}

/* Waits ms, in short steps, while the client is there; false when it left. */
static bool
wait_alive(struct request *r, long ms)
{
	while (ms > 0) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000L};

		if (!http_client_alive(r))
			return false;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return true;
}

sg_status
openai_route(struct request *r, int kind, bool embeddings, const json_t *model, bool stream, const char *client_json)
{
	const json_t *fallbacks = json_object_get(model, "fallbacks");
	const char *asked = json_string_value(json_object_get(model, "identifier"));
	struct router_settings rs;
	struct openai_held held = {0};
	size_t mark = r->headers.len;
	json_t *fb = NULL;
	bool have_held = false, gone = false;
	int attempts = 0;
	sg_status st = SG_OK;

	router_settings_of(r->conf, &rs);
	for (size_t m = 0; !gone && m <= json_array_size(fallbacks); m++) {
		const json_t *cur = model;
		const char *cur_id;
		struct router_plan plan;
		int prev = -1;

		if (m > 0) {
			json_decref(fb);
			if (!callable_fallback(r, embeddings, json_string_value(json_array_get(fallbacks, m - 1)), &fb))
				continue;
			cur = fb;
		}
		cur_id = json_string_value(json_object_get(cur, "identifier"));
		if (cur_id == NULL || !router_plan_of(cur, &plan))
			continue;
		for (int k = 0; k <= rs.max_retries; k++) {
			int i = router_next(&plan, sg_now_us() / 1000);
			const struct router_deployment *d;
			const struct sg_provider *p;

			if (i < 0)
				break;
			d = &plan.d[i];
			p = conf_provider(r->conf, SG_API_INFERENCE, d->provider_id);
			if (p == NULL || !p->openai_compat || p->base_url == NULL) {
				log_warn(
					"model '%s': deployment %s/%s skipped: not a configured OpenAI-compatible provider",
					cur_id, d->provider_id, d->provider_model);
				continue;
			}
			if (have_held && prev == i &&
			    !wait_alive(r,
					router_backoff_ms(attempts + 1, held.retry_after_ms, true, router_random()))) {
				gone = true;
				break;
			}
			if (have_held) {
				proxy_response_free(&held.resp);
				have_held = false;
			}
			if (!name_attempt(r, mark, p, cur_id, d->provider_model, ++attempts)) {
				st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
				goto out;
			}
			router_busy_add(d->key, 1);
			st = openai_attempt(r, kind, p, d->provider_model, stream, client_json, &held);
			router_busy_add(d->key, -1);
			if (!held.held)
				goto out; /* answered: a success, or a failure that is not retried */
			have_held = true;
			router_note_failure(d->key, d->provider_id, d->provider_model, &rs, sg_now_us() / 1000);
			log_info("model '%s' attempt %d on %s/%s failed (%s)", cur_id, attempts, d->provider_id,
				 d->provider_model, held.st != SG_OK ? held.err.msg : "a status that is retried");
			prev = i;
		}
	}
	if (have_held)
		st = openai_reply_held(r, &held, client_json);
	else if (attempts == 0)
		st = http_fail(r, SG_E_BAD_GATEWAY, "model", "model '%s' has no deployment that can be called",
			       asked ? asked : "?");
out:
	if (have_held)
		proxy_response_free(&held.resp);
	json_decref(fb);
	return st;
}
