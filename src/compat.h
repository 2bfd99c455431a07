/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compat.h: what serving both Llama Stack API generations at once takes
 * (llama-stack-client 0.2.x, the API of April 2025, and 0.7.x, today's;
 * reference/llama-stack-api-generations.md): the model object that carries
 * both field sets, the OpenAI model object, how a stream ends for each
 * client, and the 501 for the data-plane APIs of 0.7.x that stackgate does
 * not serve.  Pure except compat_data_plane(), a route handler.
 */
#ifndef SG_COMPAT_H
#define SG_COMPAT_H

#include <jansson.h>

#include "http.h"

/*
 * The OpenAI fields of a registry model: {"id", "object": "model",
 * "created", "owned_by"} with id its identifier, created the registration
 * time (Unix seconds) and owned_by its provider_id ("" if none).  A new
 * object; NULL when out of memory or when model has no identifier.
 */
json_t *compat_openai_model(const json_t *model, long long created);

/*
 * The model as both client generations read it: a copy of model (the April
 * fields identifier, provider_resource_id, provider_id, type, metadata,
 * model_type, in their order, and whatever else it has) followed by the
 * current ones: compat_openai_model()'s and "custom_metadata":
 * {model_type, provider_id, provider_resource_id, then every key of
 * metadata that is not one of those three}.  The two sets share no key.
 * A new object; NULL when out of memory or model has no identifier.
 */
json_t *compat_model_object(const json_t *model, long long created);

/* server.sse_done values. */
#define COMPAT_SSE_DONE_MODES "auto, always, never"

/* NULL when mode is a server.sse_done value, else why not (for the config's error). */
const char *compat_sse_done_check(const char *mode);

/*
 * Whether a stream to this client ends with "data: [DONE]": mode "always"
 * → true, "never" → false, "auto" (and anything else) → false for
 * llama-stack-client 0.2.x, whose User-Agent is "LlamaStackClient/JS 0.2.*"
 * or "LlamaStackClient/Python 0.2.*" (it parses every event as JSON and
 * fails on [DONE]), true for every other client (OpenAI's wire format ends
 * with it).  user_agent may be NULL.
 */
bool compat_sse_done(const char *mode, const char *user_agent);

/*
 * Route handler for the data-plane APIs of llama-stack-client 0.7.x that
 * stackgate does not serve (responses, conversations, files, batches,
 * prompts, vector stores, moderations, rerank, stored chat completions):
 * 501 naming the method, the request's path and the API (the route's api).
 */
sg_status compat_data_plane(struct request *r);

#endif
