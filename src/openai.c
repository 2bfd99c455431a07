/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai.c: the OpenAI-compatible endpoints.  A request names a model by its
 * registry identifier; it is resolved with the caller's access check (denied
 * and missing are the same 404), its provider must be an OpenAI-compatible
 * inference provider, and the body goes upstream unchanged except for
 * "model", which becomes the provider's name for it.  Every reply names the
 * model the client asked for.  Which deployment of the model (or of its
 * fallbacks) gets the body, and whether a failure before the first byte is
 * tried again, is openai_route.c's (router.h); openai_attempt() makes one
 * attempt.
 *
 * Bodies are rewritten as text, not parsed and re-dumped: a small scanner
 * (openai_rewrite.c) checks the JSON grammar and finds the top-level "model"
 * member, and only that value's bytes change.  So every parameter (tools, response_format,
 * image parts, extras such as guided_choice) reaches the upstream as sent,
 * numbers keep their digits, and a large reply (embeddings) costs one scan.
 * The request body itself is not parsed either: openai_request_scan() (the
 * same scanner, strict) accepts exactly what the full parse would and finds
 * "model" and "stream"; only a refused body is parsed, for the parse's own
 * message.  A buffered reply is written as text with its Content-Length (http_respond:
 * one write to nginx when it fits libfcgi's buffer), a stream's events with
 * http_stream_write().
 *
 * Streams: until the upstream answers 2xx text/event-stream nothing is sent
 * and every failure gets its real status (4xx from upstream, 502, 504).
 * After that events are relayed as they arrive, each flushed; a failure
 * becomes one final event `data: {"error":{…}}` and the stream ends without
 * [DONE] (the OpenAI SDKs raise on that event; a client that ignores it
 * still sees no [DONE], so it can tell the stream is incomplete).  A stream
 * that ends cleanly ends with `data: [DONE]`, added if the upstream did not
 * send it, for the clients that expect it; for the others (server.sse_done,
 * compat_sse_done: llama-stack-client 0.2.x fails on it) it ends without,
 * an upstream's [DONE] dropped.  A client that goes away stops the upstream
 * transfer.
 *
 * Accounting: every request that names a visible model fills r->inference
 * (http.h) as it goes: bytes each way, upstream status and timing, the time
 * to the first event, and the tokens of the upstream's "usage" (the reply
 * body's, or a stream's usage chunk; without one, an estimate from the
 * bytes).  A stream asks the upstream for its usage chunk
 * (stream_options.include_usage) when the client did not, and that chunk is
 * then not relayed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "compat.h"
#include "identity.h"
#include "json.h"
#include "log.h"
#include "openai.h"
#include "openai_int.h"
#include "provider.h"
#include "proxy.h"
#include "registry.h"
#include "router.h"
#include "sg_limits.h"
#include "usage.h"

/* ---------------------------------------------------------- upstream errors */

void
openai_copy_utf8(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (dstlen == 0)
		return;
	if (n >= dstlen) {
		n = dstlen - 1;
		while (n > 0 && ((unsigned char) src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool
openai_upstream_error(const char *body, size_t len, char *msg, size_t msglen, char *param, size_t paramlen)
{
	json_t *root, *e, *detail;
	const char *m = NULL, *pa = NULL;
	bool found;

	if (msglen > 0)
		msg[0] = '\0';
	if (param != NULL && paramlen > 0)
		param[0] = '\0';
	if (body == NULL || len == 0)
		return false;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return false;
	}
	e = json_object_get(root, "error");
	if (json_is_object(e)) {
		m = json_string_value(json_object_get(e, "message"));
		pa = json_string_value(json_object_get(e, "param"));
	} else if (json_is_string(e)) {
		m = json_string_value(e);
	}
	detail = json_object_get(root, "detail");
	if (m == NULL && json_is_string(detail))
		m = json_string_value(detail);
	if (m == NULL && json_is_array(detail))
		m = json_string_value(json_object_get(json_array_get(detail, 0), "msg"));
	if (m == NULL)
		m = json_string_value(json_object_get(root, "message"));
	found = m != NULL && m[0] != '\0';
	if (found)
		openai_copy_utf8(msg, msglen, m);
	if (pa != NULL && param != NULL)
		openai_copy_utf8(param, paramlen, pa);
	json_decref(root);
	return found;
}

/* ------------------------------------------------------------------ helpers */

enum kind { K_COMPLETIONS, K_CHAT, K_EMBEDDINGS };

static const char *const kind_path[] = {"/completions", "/chat/completions", "/embeddings"};
static const char *const kind_name[] = {"completions", "chat", "embeddings"};
static const char *const kind_what[] = {"completions", "chat completions", "embeddings"};

/* s as an encoded JSON string (newly allocated), or NULL. */
static char *
encode_string(const char *s)
{
	struct sg_buf b = {0};

	if (!sg_json_quote(&b, s)) {
		sg_buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* The model a request names, after the access check, and where it is served. */
struct target {
	json_t *model; /* the registry object (owned) */
	const struct sg_provider *p;
	const char *provider_model; /* borrowed from model */
};

static sg_status
resolve(struct request *r, const char *name, enum kind kind, struct target *t)
{
	const char *type, *pid;
	bool embedding;
	sg_status st;

	st = registry_get(SG_RT_MODEL, name, &t->model);
	if (st == SG_OK && !identity_can_see(&r->id, t->model))
		st = SG_E_NOT_FOUND;
	if (st == SG_E_NOT_FOUND)
		return http_fail(r, SG_E_NOT_FOUND, "model", "model '%s' not found", name);
	if (st != SG_OK)
		return http_fail(r, st, NULL, "model '%s' could not be looked up: the registry is unavailable", name);
	pid = json_string_value(json_object_get(t->model, "provider_id"));
	r->inference.active = true;
	r->inference.kind = kind_name[kind];
	openai_copy_utf8(r->inference.model, sizeof(r->inference.model), name);
	openai_copy_utf8(r->inference.provider_id, sizeof(r->inference.provider_id), pid ? pid : "");
	r->inference.priced = usage_prices(t->model, r->conf->models, name, &r->inference.input_cost_per_mtok,
					   &r->inference.output_cost_per_mtok);

	type = json_string_value(json_object_get(t->model, "model_type"));
	embedding = type != NULL && strcmp(type, "embedding") == 0;
	if (kind == K_EMBEDDINGS && !embedding)
		return http_fail(r, SG_E_BAD_REQUEST, "model", "model '%s' is not an embedding model", name);
	if (kind != K_EMBEDDINGS && embedding)
		return http_fail(r, SG_E_BAD_REQUEST, "model",
				 "model '%s' is an embedding model and does not support %s", name, kind_what[kind]);

	t->p = pid != NULL ? conf_provider(r->conf, SG_API_INFERENCE, pid) : NULL;
	if (t->p == NULL)
		return http_fail(r, SG_E_BAD_REQUEST, "model",
				 "model '%s' belongs to provider '%s', which is not a configured inference provider",
				 name, pid ? pid : "");
	if (!t->p->openai_compat || t->p->base_url == NULL)
		return http_fail(r, SG_E_NOT_IMPLEMENTED, "model",
				 "provider '%s' (%s) of model '%s' does not serve OpenAI-compatible %s", pid,
				 t->p->provider_type ? t->p->provider_type : "?", name, kind_what[kind]);
	t->provider_model = json_string_value(json_object_get(t->model, "provider_resource_id"));
	if (t->provider_model == NULL)
		t->provider_model = json_string_value(json_object_get(t->model, "identifier"));
	if (t->provider_model == NULL)
		t->provider_model = name;
	return SG_OK;
}

/*
 * The upstream's message and param into msg and param, with every configured
 * secret scrubbed (an upstream may echo the key it was sent).  They are read
 * wider than kept and scrubbed before the cut, so a secret that straddles the
 * cut is not left half there.
 */
#define WIDE_FACTOR 4
static bool
scrubbed_upstream_error(const struct sg_conf *c, const struct proxy_response *resp, char *msg, size_t msglen,
			char *param, size_t paramlen)
{
	size_t wm = msglen * WIDE_FACTOR, wp = paramlen * WIDE_FACTOR;
	char *wide = malloc(wm + wp);
	bool have;

	if (wide == NULL) {
		have = openai_upstream_error(resp->body.p, resp->body.len, msg, msglen, param, paramlen);
		provider_scrub(c, msg);
		provider_scrub(c, param);
		return have;
	}
	have = openai_upstream_error(resp->body.p, resp->body.len, wide, wm, wide + wm, wp);
	provider_scrub(c, wide);
	provider_scrub(c, wide + wm);
	openai_copy_utf8(msg, msglen, wide);
	openai_copy_utf8(param, paramlen, wide + wm);
	free(wide);
	return have;
}

/*
 * An upstream answer that is not 2xx, as the client's error.  Its message and
 * param are relayed (4xx) or logged (the rest) only scrubbed of secrets.
 */
static sg_status
upstream_error(struct request *r, const struct sg_provider *p, const struct proxy_response *resp)
{
	char msg[1024], param[128];
	bool have = scrubbed_upstream_error(r->conf, resp, msg, sizeof(msg), param, sizeof(param));
	long code = resp->status;

	if (code >= 400 && code <= 499 && code != 401 && code != 403 && code != 407) {
		r->upstream_status = (int) code;
		if (have)
			return http_fail(r, SG_E_UPSTREAM, param[0] ? param : NULL, "%s", msg);
		return http_fail(r, SG_E_UPSTREAM, NULL, "upstream %s rejected the request with HTTP %ld",
				 p->provider_id, code);
	}
	/* The client cannot fix these: they are the provider's (or stackgate's) problem. */
	log_warn("upstream %s answered HTTP %ld: %s", p->provider_id, code, have ? msg : "(no error message)");
	if (code == 401 || code == 403 || code == 407)
		return http_fail(r, SG_E_BAD_GATEWAY, NULL, "upstream %s refused stackgate's credentials (HTTP %ld)",
				 p->provider_id, code);
	if (code >= 500)
		return http_fail(r, SG_E_BAD_GATEWAY, NULL, "upstream %s failed with HTTP %ld", p->provider_id, code);
	return http_fail(r, SG_E_BAD_GATEWAY, NULL, "upstream %s answered with unexpected HTTP %ld", p->provider_id,
			 code);
}

/* The upstream's own token counts, for the request's record. */
static void
note_usage(struct request_inference *inf, const struct openai_usage *u)
{
	inf->usage_reported = true;
	inf->prompt_tokens = u->prompt_tokens;
	inf->completion_tokens = u->completion_tokens;
	inf->total_tokens = u->total_tokens;
}

void
openai_inference_settle(struct request_inference *inf)
{
	if (inf->usage_reported)
		return;
	inf->prompt_tokens = (int64_t) (inf->request_bytes / 4);
	inf->completion_tokens = (int64_t) (inf->reply_bytes / 4);
	inf->total_tokens = inf->prompt_tokens + inf->completion_tokens;
}

/* A buffered upstream answer, relayed with "model" rewritten. */
static sg_status
reply_buffered(struct request *r, const struct sg_provider *p, const struct proxy_response *resp,
	       const char *client_json)
{
	struct sg_buf *out;
	struct openai_usage u;
	enum openai_rewrite rw;
	sg_status st = SG_OK;

	if (resp->status < 200 || resp->status > 299)
		return upstream_error(r, p, resp);
	/* The reply with its model replaced, in one allocation (none on a thread's next request) rather than by doubling. */
	out = http_scratch(r, HTTP_SCRATCH_REPLY);
	if (!sg_buf_reserve(out, resp->body.len + strlen(client_json)))
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	rw = openai_rewrite_model_usage(resp->body.p ? resp->body.p : "", resp->body.len, client_json, out, &u);
	if (u.found)
		note_usage(&r->inference, &u);
	if (rw == OPENAI_RW_NOMEM) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	} else if (rw == OPENAI_RW_NOT_OBJECT) {
		log_warn("upstream %s answered HTTP %ld with %zu bytes of %s that are not a JSON object",
			 p->provider_id, resp->status, resp->body.len,
			 resp->content_type[0] ? resp->content_type : "(no type)");
		st = http_fail(r, SG_E_BAD_GATEWAY, NULL, "upstream %s returned a reply that is not a JSON object",
			       p->provider_id);
	} else if (!http_respond(r, (int) resp->status, "application/json", out->p, out->len)) {
		log_info("the client went away before the reply from %s was written", p->provider_id);
	}
	return st;
}

static bool
append_error_event(struct sg_buf *out, sg_status st, const char *msg)
{
	json_t *ev;
	char *text;
	bool ok;

	ev = json_pack("{s:{s:s,s:s,s:s}}", "error", "message", msg, "type", sg_status_type(st), "code",
		       sg_status_code(st));
	text = ev ? sg_json_dump(ev) : NULL;
	ok = text != NULL && sg_buf_append(out, "data: ", 6) && sg_buf_append(out, text, strlen(text)) &&
	     sg_buf_append(out, "\n\n", 2);
	free(text);
	json_decref(ev);
	return ok;
}

/* ---------------------------------------------------------------- streaming */

struct relay {
	struct request *r;
	const char *model_json;
	bool drop_usage_only; /* stackgate asked for the usage chunk, the client did not */
	struct proxy_sse sse;
	struct sg_buf out; /* rewritten events not yet written */
	enum proxy_sse_result sse_res;
	bool done;      /* the upstream sent data: [DONE] */
	bool want_done; /* this client gets [DONE] (compat_sse_done) */
};

static bool
relay_event(void *ctx, const char *ev, size_t len)
{
	struct relay *rl = ctx;
	struct request_inference *inf = &rl->r->inference;
	struct openai_event seen;
	char *copy = NULL;
	size_t before = rl->out.len;
	bool ok;

	if (inf->ttft_us == 0) {
		int64_t t = sg_now_us() - rl->r->start_us;

		inf->ttft_us = t > 0 ? t : 1;
	}
	if (memmem(ev, len, "\"error\"", 7) == NULL) {
		ok = openai_sse_relay(ev, len, rl->model_json, rl->drop_usage_only, &rl->out, &seen);
	} else {
		/* An upstream's error event may echo the key it was sent, like its error bodies. */
		copy = sg_strndup(ev, len);
		if (copy == NULL)
			return false;
		provider_scrub(rl->r->conf, copy);
		ok = openai_sse_relay(copy, strlen(copy), rl->model_json, rl->drop_usage_only, &rl->out, &seen);
		free(copy);
	}
	if (ok && seen.done) {
		rl->done = true;
		if (!rl->want_done) /* an upstream's [DONE] is dropped for a client that must not get it */
			rl->out.len = before;
	}
	if (seen.usage.found)
		note_usage(inf, &seen.usage);
	return ok;
}

static bool
relay_flush(struct relay *rl)
{
	bool ok = true;

	if (rl->out.len > 0) {
		ok = http_stream_write(rl->r, rl->out.p, rl->out.len);
		rl->out.len = 0;
	}
	return ok;
}

static bool
relay_begin(void *ctx, long status, const char *content_type)
{
	struct relay *rl = ctx;

	(void) status;
	(void) content_type;
	return http_stream_begin(rl->r, 200, "text/event-stream");
}

static bool
relay_data(void *ctx, const char *buf, size_t len)
{
	struct relay *rl = ctx;

	rl->r->inference.reply_bytes += len;
	rl->sse_res = proxy_sse_feed(&rl->sse, buf, len, relay_event, rl);
	if (rl->sse_res == PROXY_SSE_STOP)
		rl->sse_res = PROXY_SSE_NOMEM; /* relay_event stops only when it cannot allocate */
	/* Whatever was complete goes out now, even if the rest cannot be relayed. */
	if (!relay_flush(rl))
		return false;
	return rl->sse_res == PROXY_SSE_OK;
}

/* When the upstream call returned: its status and duration, and a buffered body's size. */
static void
upstream_done(struct request *r, const struct proxy_response *resp)
{
	r->inference.upstream_status = (int) resp->status;
	r->inference.upstream_us = sg_now_us() - r->inference.upstream_start_us;
	if (!resp->streamed)
		r->inference.reply_bytes = resp->body.len;
}

/* proxy's client_alive: still someone at the other end of nginx? */
static bool
client_alive(void *ctx)
{
	return http_client_alive(ctx);
}

/*
 * *held (when not NULL) asks for a failure the router may retry: an answer
 * that did not start a stream and that router_retryable() accepts is not
 * written but left in *resp (the caller's to free) with *held set.
 */
static sg_status
relay_stream(struct request *r, const struct proxy_request *q, const char *client_json, bool drop_usage_only,
	     struct proxy_response *resp_out, bool *held)
{
	const struct sg_provider *p = q->provider;
	struct relay rl = {.r = r,
			   .model_json = client_json,
			   .drop_usage_only = drop_usage_only,
			   .want_done = compat_sse_done(r->conf->sse_done, http_param(r, "HTTP_USER_AGENT"))};
	struct proxy_sink sink = {.begin = relay_begin, .data = relay_data, .ctx = &rl};
	struct proxy_response resp;
	struct sg_err *err = &r->err;
	sg_status st, fail = SG_OK;

	st = proxy_stream(q, &sink, &resp, err);
	upstream_done(r, &resp);
	if (r->client_gone) {
		log_info("the client went away: stream from %s stopped after %lld ms", p->provider_id,
			 resp.duration_ms);
		st = SG_OK;
		goto out;
	}
	if (!resp.streamed && held != NULL && router_retryable(st, resp.status, false, resp.aborted)) {
		*held = true;
		*resp_out = resp;
		resp = (struct proxy_response){0};
		goto out;
	}
	if (!resp.streamed) {
		/* Nothing was sent: this is still an ordinary reply with a real status. */
		if (st == SG_OK)
			st = reply_buffered(r, p, &resp, client_json);
		goto out;
	}
	if (st != SG_OK) {
		fail = st;
	} else if (rl.sse_res == PROXY_SSE_TOO_BIG) {
		fail = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "upstream %s sent an event larger than the limit",
			       p->provider_id);
	} else if (rl.sse_res != PROXY_SSE_OK) {
		fail = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	} else {
		bool truncated;

		if (proxy_sse_finish(&rl.sse, relay_event, &rl, &truncated) != PROXY_SSE_OK)
			fail = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		else if (truncated)
			fail = sg_fail(err, SG_E_BAD_GATEWAY, NULL,
				       "upstream %s ended the stream in the middle of an event", p->provider_id);
	}
	if (fail != SG_OK) {
		log_warn("stream from %s broke off after %lld ms: %s", p->provider_id, resp.duration_ms, err->msg);
		if (!append_error_event(&rl.out, fail, err->msg))
			log_error("could not build the error event");
	} else if (!rl.done && rl.want_done && !sg_buf_append(&rl.out, "data: [DONE]\n\n", 14)) {
		log_error("could not append [DONE]");
	}
	(void) relay_flush(&rl);
	st = SG_OK;
out:
	proxy_sse_free(&rl.sse);
	sg_buf_free(&rl.out);
	proxy_response_free(&resp);
	return st;
}

/* ------------------------------------------------------ one upstream attempt */

/* proxy's on_header: the upstream's Retry-After, for the router's wait. */
static void
note_retry_after(void *ctx, const char *line, size_t len)
{
	struct openai_held *h = ctx;

	if (len > 12 && strncasecmp(line, "Retry-After:", 12) == 0)
		h->retry_after_ms = router_retry_after_ms(line + 12, len - 12, time(NULL));
}

sg_status
openai_attempt(struct request *r, int k, const struct sg_provider *p, const char *provider_model, bool stream,
	       const char *client_json, struct openai_held *held)
{
	enum kind kind = (enum kind) k;
	struct sg_buf *body_out = http_scratch(r, HTTP_SCRATCH_UPSTREAM_BODY), asked = {0}, *send = body_out;
	struct proxy_request q;
	struct proxy_response resp = {0};
	char *upstream_json = NULL, *dumped = NULL;
	json_t *body;
	bool drop_usage_only = false, kept = false;
	sg_status st;

	if (held != NULL) {
		held->held = false;
		held->retry_after_ms = -1;
	}
	upstream_json = encode_string(provider_model);
	if (upstream_json == NULL) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	/* Room for the body with its model replaced, in one allocation (none on a thread's next request). */
	if (!sg_buf_reserve(body_out, r->body_len + strlen(upstream_json))) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (openai_rewrite_model(r->body ? r->body : "", r->body_len, upstream_json, body_out) != OPENAI_RW_REPLACED) {
		/*
		 * The rewrite's scanner did not take the text (nested deeper than it goes, within
		 * server.max_json_depth): parse it (once per request, kept in r->json) and dump it.
		 */
		body_out->len = 0;
		st = http_body_object(r, &body);
		if (st != SG_OK)
			goto out;
		if (json_object_set_new(body, "model", json_string(provider_model)) != 0 ||
		    (dumped = sg_json_dump(body)) == NULL || !sg_buf_append(body_out, dumped, strlen(dumped))) {
			st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
	}
	if (stream && p->stream_usage) {
		enum openai_stream_usage su = openai_stream_ask_usage(body_out->p, body_out->len, &asked);

		if (su == OPENAI_SU_NOMEM) {
			st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
		if (su == OPENAI_SU_ADDED) {
			send = &asked;
			drop_usage_only = true;
		}
	}
	q = (struct proxy_request){.provider = p,
				   .method = "POST",
				   .path = kind_path[kind],
				   .body = send->p,
				   .body_len = send->len,
				   .request_id = r->request_id,
				   .client_alive = client_alive,
				   .alive_ctx = r,
				   .on_header = held != NULL ? note_retry_after : NULL,
				   .header_ctx = held};
	r->inference.request_bytes = send->len;
	if (r->inference.upstream_start_us == 0)
		r->inference.upstream_start_us = sg_now_us();
	if (stream) {
		st = relay_stream(r, &q, client_json, drop_usage_only, held ? &held->resp : NULL,
				  held ? &held->held : NULL);
		kept = held != NULL && held->held;
		goto out;
	}
	st = proxy_call(&q, &resp, &r->err);
	upstream_done(r, &resp);
	if (held != NULL && router_retryable(st, resp.status, false, resp.aborted)) {
		held->held = kept = true;
		held->resp = resp;
		resp = (struct proxy_response){0};
	} else if (st == SG_OK && resp.aborted) {
		/* Nobody is left to answer; the worker logs it and writes nothing useful. */
		r->client_gone = true;
		st = http_fail(r, SG_E_BAD_GATEWAY, NULL, "the client went away before the upstream answered");
	} else if (st == SG_OK) {
		st = reply_buffered(r, p, &resp, client_json);
	}
out:
	if (kept) {
		held->st = st;
		held->err = r->err;
		held->p = p;
	}
	proxy_response_free(&resp);
	sg_buf_free(&asked);
	free(dumped);
	free(upstream_json);
	return st;
}

sg_status
openai_reply_held(struct request *r, struct openai_held *h, const char *client_json)
{
	if (h->st != SG_OK) {
		r->err = h->err;
		return h->st;
	}
	return reply_buffered(r, h->p, &h->resp, client_json);
}

/* ----------------------------------------------------------------- handlers */

/*
 * The request's "model" (*name, the caller frees) and "stream" by the full
 * parse (http_body_object, json.h's getters): for a body the validating scan
 * refused or cannot use, so the client gets the parse's own 400 (the line and
 * column, "model is required", "stream must be a boolean").
 */
static sg_status
fields_by_parse(struct request *r, enum kind kind, char **name, bool *stream)
{
	const char *model;
	json_t *body;
	bool found = false;
	sg_status st;

	st = http_body_object(r, &body);
	if (st == SG_OK)
		st = sg_json_field_str(body, "model", NULL, true, &model, &r->err);
	if (st == SG_OK && kind != K_EMBEDDINGS)
		st = sg_json_field_bool(body, "stream", NULL, false, stream, &found, &r->err);
	if (st != SG_OK)
		return st;
	*name = sg_strdup(model);
	return *name != NULL ? SG_OK : http_fail(r, SG_E_NOMEM, NULL, "out of memory");
}

static sg_status
forward(struct request *r, enum kind kind)
{
	struct target t = {0};
	struct openai_request_fields f;
	enum openai_scan sc;
	char *name = NULL, *client_json = NULL;
	bool stream = false;
	sg_status st;

	/* The body is scanned, not parsed: the scan decides as the parse would (openai.h). */
	sc = openai_request_scan(r->body ? r->body : "", r->body_len, r->conf->max_json_depth, &f);
	if (sc == OPENAI_SCAN_NOMEM) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (sc == OPENAI_SCAN_OK && f.model == OPENAI_F_STRING &&
	    (kind == K_EMBEDDINGS || f.stream == OPENAI_F_ABSENT || f.stream == OPENAI_F_TRUE ||
	     f.stream == OPENAI_F_FALSE)) {
		name = f.model_name;
		stream = kind != K_EMBEDDINGS && f.stream == OPENAI_F_TRUE;
	} else {
		/* Refused, or not what a request needs: the parse says what is wrong. */
		free(f.model_name);
		st = fields_by_parse(r, kind, &name, &stream);
		if (st != SG_OK)
			goto out;
	}
	r->inference.streamed = stream;
	st = resolve(r, name, kind, &t);
	if (st == SG_OK)
		st = limits_admit(r, name);
	if (st != SG_OK)
		goto out;
	client_json = encode_string(name);
	if (client_json == NULL) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	st = openai_route(r, kind, kind == K_EMBEDDINGS, t.model, stream, client_json);
out:
	if (r->inference.active)
		openai_inference_settle(&r->inference);
	free(client_json);
	free(name);
	json_decref(t.model);
	return st;
}

sg_status
openai_completions(struct request *r)
{
	return forward(r, K_COMPLETIONS);
}

sg_status
openai_chat_completions(struct request *r)
{
	return forward(r, K_CHAT);
}

sg_status
openai_embeddings(struct request *r)
{
	return forward(r, K_EMBEDDINGS);
}
