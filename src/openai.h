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

/* GET /v1/openai/v1/models: the models the caller may see, as OpenAI lists them (openai_models.c). */
sg_status openai_models(struct request *r);
/*
 * GET /v1/openai/v1/models/{model} (the OpenAI SDK's models.retrieve):
 * compat_openai_model() of a model the caller may see; 404 in OpenAI's
 * error shape (param "model") when it is missing or invisible.  In
 * openai_models.c.
 */
sg_status openai_model_get(struct request *r);
/*
 * POST /v1/openai/v1/completions, /chat/completions and /embeddings: the
 * body's "model" resolved to a visible registered model, rewritten to its
 * provider_resource_id and proxied; a streamed answer is relayed event by
 * event with "model" rewritten back.
 */
sg_status openai_completions(struct request *r);
sg_status openai_chat_completions(struct request *r);
sg_status openai_embeddings(struct request *r);

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
 *     out is the caller's (sg_buf_free).  No other allocation, no global
 *     state: safe in any thread.
 */
enum openai_rewrite openai_rewrite_model(const char *json, size_t len, const char *model_json, struct sg_buf *out);

/*
 * Rewrites one SSE event as proxy_sse_feed() delivers it and appends it,
 * with its closing blank line, to out: a data payload that is a JSON object
 * gets its "model" replaced (several data lines are one payload); comments,
 * other fields, non-JSON data and "[DONE]" pass unchanged.  Sets *done when
 * the payload is exactly [DONE] ("[DONE]garbage" is data like any other).  False on allocation failure.
 */
bool openai_sse_rewrite(const char *ev, size_t len, const char *model_json, struct sg_buf *out,
			bool *done) SG_MUST_CHECK;

/* ---- What a request body names (openai_rewrite.c, the same scanner) ---- */

/* What a top-level member's value is. */
enum openai_field {
	OPENAI_F_ABSENT, /* no such member, or null (the field getters' absent, json.h) */
	OPENAI_F_STRING,
	OPENAI_F_TRUE,
	OPENAI_F_FALSE,
	OPENAI_F_OTHER, /* a number, an object or an array */
};

struct openai_request_fields {
	enum openai_field model, stream;
	char *model_name; /* model's decoded value when model is OPENAI_F_STRING (the caller frees), else NULL */
};

enum openai_scan {
	OPENAI_SCAN_OK,      /* the text is what sg_json_parse() accepts, and an object */
	OPENAI_SCAN_INVALID, /* sg_json_parse() refuses it, or it is not an object */
	OPENAI_SCAN_NOMEM,
};

/*
 * The validating pass over a request body, in place of a full parse by
 * sg_json_parse(json, len, max_depth): it accepts exactly what that parse
 * accepts, when the value is an object (UTF-8 checked as jansson does; \u
 * escapes with surrogates paired and no \u0000; integers within int64 and
 * reals that do not overflow a double; nesting at most max_depth, from 1 to
 * 2047; no duplicate key in any object, keys compared decoded), and gives
 * the top-level "model" and "stream" as the parse would (found by their
 * decoded keys, so "mod\u0065l" is "model").  *f is always set; on anything
 * but OPENAI_SCAN_OK it holds nothing to free.  No message: a caller that
 * must say why a body is refused asks sg_json_parse().  Pure, any thread.
 */
enum openai_scan openai_request_scan(const char *json, size_t len, int max_depth,
				     struct openai_request_fields *f) SG_MUST_CHECK;

/* ---- What accounting reads (openai_rewrite.c, pure like the rewrite) ---- */

/* The token counts of an OpenAI "usage" object. */
struct openai_usage {
	bool found; /* a usage object with at least one count */
	int64_t prompt_tokens, completion_tokens, total_tokens;
};

/*
 * Parses v[0..len), the text of a "usage" value, into *u: an object whose
 * prompt_tokens, completion_tokens and total_tokens (each optional, other
 * members ignored) are JSON integers from 0 to 10^15-1.  An absent count is
 * 0, an absent total the sum of the other two.  False, *u zeroed, for
 * anything else: null, not one object, no count at all, a count that is
 * negative, fractional, exponent-written or too large.
 */
bool openai_usage_parse(const char *v, size_t len, struct openai_usage *u);

/*
 * openai_rewrite_model(), and the top-level "usage" of the same text (the
 * last one when repeated) parsed into *usage (found false when there is
 * none or it does not parse).
 */
enum openai_rewrite openai_rewrite_model_usage(const char *json, size_t len, const char *model_json, struct sg_buf *out,
					       struct openai_usage *usage);

/* What openai_sse_relay() saw in one event. */
struct openai_event {
	bool done;                 /* the payload is exactly [DONE] */
	struct openai_usage usage; /* the payload's top-level "usage" */
	bool usage_only;           /* ...with "choices": []: the chunk include_usage adds */
	bool dropped;              /* usage_only and drop_usage_only: nothing was appended */
};

/*
 * openai_sse_rewrite(), telling what the event held in *seen (always set);
 * with drop_usage_only a usage-only chunk is not appended at all (stackgate
 * asked for it, the client did not).  False on allocation failure.
 */
bool openai_sse_relay(const char *ev, size_t len, const char *model_json, bool drop_usage_only, struct sg_buf *out,
		      struct openai_event *seen) SG_MUST_CHECK;

/* What openai_stream_ask_usage() did. */
enum openai_stream_usage {
	OPENAI_SU_ASKED,      /* stream_options.include_usage is already true: nothing appended */
	OPENAI_SU_ADDED,      /* the text with include_usage true was appended: the usage chunk is stackgate's */
	OPENAI_SU_CANNOT,     /* stream_options is neither an object nor null: nothing appended */
	OPENAI_SU_NOT_OBJECT, /* not exactly one JSON object: nothing appended */
	OPENAI_SU_NOMEM,      /* out as before the call */
};

/*
 * For a streamed request body json[0..len): appends to out the same text
 * asking the upstream for a usage chunk, "stream_options":
 * {"include_usage":true}, added as the object's first member, set in place
 * of a null stream_options, added to (or, when false or not a boolean, set
 * in) a stream_options object; every other byte unchanged.  See the enum
 * for when nothing is appended.  Pure; out is the caller's.
 */
enum openai_stream_usage openai_stream_ask_usage(const char *json, size_t len, struct sg_buf *out) SG_MUST_CHECK;

/*
 * At the end of an inference request: when the upstream reported no usage,
 * the estimate: prompt_tokens = request_bytes / 4, completion_tokens =
 * reply_bytes / 4, total their sum (usage_reported stays false, which the
 * usage log calls estimated).  Nothing when usage was reported.  Pure.
 */
void openai_inference_settle(struct request_inference *inf);

/* ---- Upstream errors (openai.c) ---- */

/*
 * The client-facing message of an upstream error body: error.message, or
 * error when it is a string, or detail / detail[0].msg (FastAPI), or message.
 * Writes it (truncated) to msg and error.param, when a string, to param
 * (may be NULL).  False when the body says nothing usable.
 */
bool openai_upstream_error(const char *body, size_t len, char *msg, size_t msglen, char *param, size_t paramlen);

#endif
