/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_int.h: what openai.c (one upstream attempt and its reply) and
 * openai_route.c (the attempts a request makes, router.h) share; nothing
 * else includes it.
 */
#ifndef SG_OPENAI_INT_H
#define SG_OPENAI_INT_H

#include <jansson.h>

#include "http.h"
#include "proxy.h"

/* Copies at most dstlen-1 bytes of src into dst without cutting a UTF-8 sequence. */
void openai_copy_utf8(char *dst, size_t dstlen, const char *src);

/* A failed attempt that was not written, so the router may try again. */
struct openai_held {
	bool held;                  /* set by openai_attempt: nothing was written, the rest is below */
	sg_status st;               /* SG_OK: resp holds the upstream's answer (429, 5xx); else no answer */
	struct sg_err err;          /* the failure's message when st is not SG_OK */
	struct proxy_response resp; /* the caller's to proxy_response_free() */
	const struct sg_provider *p;
	long retry_after_ms; /* the answer's Retry-After (router_retry_after_ms), -1: none */
};

/*
 * One attempt of an inference request (kind: openai.c's enum) on provider p
 * under the upstream's name provider_model: the body rewritten for it, the
 * call made and, unless held is given and the outcome is one
 * router_retryable() accepts, the reply written as without routing (an
 * error as the request's status and message, a stream relayed).  With held
 * set on return nothing was written and the failure is in *held.
 */
sg_status openai_attempt(struct request *r, int kind, const struct sg_provider *p, const char *provider_model,
			 bool stream, const char *client_json, struct openai_held *held) SG_MUST_CHECK;

/* Writes a held failure as the request's answer (the last attempt's, when no more are made). */
sg_status openai_reply_held(struct request *r, struct openai_held *h, const char *client_json) SG_MUST_CHECK;

/*
 * The attempts of one request (openai_route.c): model's deployments as
 * router.h chooses them, with retries and then its fallbacks, until one
 * answers in a way that is not retried; names the serving provider, model
 * and the attempt count in X-Stackgate-* headers and r->inference.  model
 * is the resolved, visible registry object the client named.
 */
sg_status openai_route(struct request *r, int kind, bool embeddings, const json_t *model, bool stream,
		       const char *client_json) SG_MUST_CHECK;

#endif
