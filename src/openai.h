/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai.h: the handlers of /v1/openai/v1/ (models, completions,
 * chat/completions and embeddings), resolved through the registry with the
 * access check and proxied to the provider (proxy.h).  Errors use OpenAI's
 * shape.  No sockets here.
 */
#ifndef SG_OPENAI_H
#define SG_OPENAI_H

#include "conf.h"
#include "http.h"
#include "proxy.h"

/* GET /v1/openai/v1/models: the visible models, streamed in chunks (openai_models.c). */
sg_status openai_models(struct request *r);
/*
 * GET /v1/openai/v1/models/{model} (the OpenAI SDK's models.retrieve):
 * compat_openai_model() of a model the caller may see; 404 in OpenAI's
 * error shape (param "model") when it is missing or invisible.  In
 * openai_models.c.
 */
sg_status openai_model_get(struct request *r);
sg_status openai_completions(struct request *r);
sg_status openai_chat_completions(struct request *r);
sg_status openai_embeddings(struct request *r);

/*
 * For model registration (resources): when p is an OpenAI-compatible
 * provider with check_models on, asks the upstream which models it serves
 * (GET {base_url}/models) and returns SG_E_BAD_REQUEST, with "model 'x' is
 * not served by provider 'p'; it serves: a, b" in err, when
 * provider_model_id is not one of them.  An upstream that cannot be reached
 * → SG_E_BAD_GATEWAY (SG_E_GATEWAY_TIMEOUT when it connects but does not
 * answer).  SG_OK when served, or when the check does not apply.  r (NULL
 * at start-up) is the registering request: when its client leaves, the
 * upstream call stops at once (SG_E_BAD_GATEWAY).
 */
sg_status openai_check_model_served(const struct sg_provider *p, const char *provider_model_id, struct request *r,
				    char *err, size_t errlen) SG_MUST_CHECK;

/* ---- Rewriting bodies and stream events: pure text functions, in openai_rewrite.c ---- */

/* What openai_rewrite_model() found. */
enum openai_rewrite {
	OPENAI_RW_REPLACED,   /* a top-level "model" was replaced */
	OPENAI_RW_NO_MODEL,   /* a JSON object without a top-level "model": copied unchanged */
	OPENAI_RW_NOT_OBJECT, /* not (exactly) one JSON object: nothing appended */
	OPENAI_RW_NOMEM,
};

/*
 * Appends json[0..len) to out with the value of its top-level "model"
 * member replaced by model_json (an encoded JSON value, e.g. "\"llama\"").
 * The text is checked against JSON's grammar while it is scanned; nothing
 * else in it changes (numbers, key order and escapes stay byte for byte).
 *
 * Contract, for every caller (and the fuzzer):
 *   - json need not be NUL-terminated and may hold any bytes, NULs
 *     included; at most len bytes are read.  model_json is a NUL-terminated
 *     string, inserted as given (the caller makes it valid JSON).
 *   - Accepted: exactly one JSON object, with optional blanks (space, tab,
 *     CR, LF) around it; strings may not hold raw control characters and
 *     escapes must be JSON's; nesting deeper than 128 is refused.  UTF-8 is
 *     not validated.  Anything else is OPENAI_RW_NOT_OBJECT.
 *   - Every member of the outermost object whose key decodes to "model"
 *     counts, however the key is spelled ("mod\u0065l" too) and whatever
 *     the type of its value; with duplicate keys every one is replaced.
 *   - out is appended to (its earlier content is kept), NUL-terminated
 *     whenever out->p is not NULL.  On OPENAI_RW_NOT_OBJECT and
 *     OPENAI_RW_NOMEM its content is as before the call; on
 *     OPENAI_RW_NO_MODEL the text was copied unchanged.
 *     out is the caller's (proxy_buf_free).  No other allocation, no global
 *     state: safe in any thread.
 */
enum openai_rewrite openai_rewrite_model(const char *json, size_t len, const char *model_json,
					 struct proxy_buf *out);

/*
 * Rewrites one SSE event as proxy_sse_feed() delivers it and appends it,
 * with its closing blank line, to out: a data payload that is a JSON object
 * gets its "model" replaced (several data lines are one payload); comments,
 * other fields, non-JSON data and "[DONE]" pass unchanged.  Sets *done when
 * the payload is exactly [DONE] ("[DONE]garbage" is data like any other).  False on allocation failure.
 */
bool openai_sse_rewrite(const char *ev, size_t len, const char *model_json, struct proxy_buf *out, bool *done)
	SG_MUST_CHECK;

/* ---- Upstream errors (openai.c) ---- */

/*
 * The client-facing message of an upstream error body: error.message, or
 * error when it is a string, or detail / detail[0].msg (FastAPI), or message.
 * Writes it (truncated) to msg and error.param, when a string, to param
 * (may be NULL).  False when the body says nothing usable.
 */
bool openai_upstream_error(const char *body, size_t len, char *msg, size_t msglen, char *param, size_t paramlen);

#endif
