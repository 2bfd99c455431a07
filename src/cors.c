/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cors.c: CORS preflights and the Access-Control-Allow-Origin of answers to
 * allowed origins (cors.h).  The allowed origin is echoed, never "*": the
 * clients send Authorization, and a browser refuses "*" with credentials.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cors.h"
#include "route.h"

const char *
cors_origin_check(const char *s)
{
	const char *p = s, *host;

	if (strcmp(s, "*") == 0)
		return NULL;
	if (!isalpha((unsigned char) *p))
		return "must be \"*\" or an origin such as \"https://app.example.com\" (scheme://host[:port])";
	while (isalnum((unsigned char) *p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (strncmp(p, "://", 3) != 0)
		return "must be \"*\" or an origin such as \"https://app.example.com\" (scheme://host[:port])";
	host = p + 3;
	if (*host == '\0')
		return "must name a host after the scheme";
	for (p = host; *p != '\0'; p++)
		if (!(isalnum((unsigned char) *p) || strchr(".-_:[]", *p) != NULL))
			return "must be an origin without a path, query or trailing '/' (scheme://host[:port])";
	return NULL;
}

bool
cors_origin_allowed(const struct sg_conf *c, const char *origin)
{
	if (origin == NULL || *origin == '\0' || c == NULL)
		return false;
	for (size_t i = 0; i < c->cors_origins.n; i++)
		if (strcmp(c->cors_origins.v[i], "*") == 0 || strcasecmp(c->cors_origins.v[i], origin) == 0)
			return true;
	return false;
}

bool
cors_is_preflight(const struct request *r)
{
	const char *origin = http_param(r, "HTTP_ORIGIN"), *m = http_param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");

	return r->method == SG_OPTIONS && origin != NULL && *origin != '\0' && m != NULL && *m != '\0';
}

/* Adds the headers every answer to an allowed origin carries; false when one could not be added. */
static bool
allow_origin(struct request *r, const char *origin)
{
	return http_add_header(r, "Access-Control-Allow-Origin", origin) && http_add_header(r, "Vary", "Origin");
}

void
cors_apply(struct request *r)
{
	const char *origin = http_param(r, "HTTP_ORIGIN");

	if (!cors_origin_allowed(r->conf, origin))
		return;
	/* A header that does not fit (an absurd Origin) is left out: the browser refuses, nothing worse. */
	if (allow_origin(r, origin))
		(void) http_add_header(r, "Access-Control-Expose-Headers", "X-Request-Id");
}

/* True when s is a comma-separated list of header names (RFC 9110 tokens) that fits a header line. */
static bool
header_names(const char *s)
{
	if (strlen(s) > 512)
		return false;
	for (; *s != '\0'; s++)
		if (!(isalnum((unsigned char) *s) || strchr("-_!#$%&'*+.^`|~, ", *s) != NULL))
			return false;
	return true;
}

sg_status
cors_preflight(struct request *r, unsigned methods)
{
	const char *origin = http_param(r, "HTTP_ORIGIN"), *want = http_param(r, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS");
	char allow[96];

	r->status = 204;
	r->reply = NULL;
	if (!cors_origin_allowed(r->conf, origin))
		return SG_OK;
	route_allow_string(methods, allow, sizeof(allow));
	if (!allow_origin(r, origin) || !http_add_header(r, "Access-Control-Allow-Methods", allow) ||
	    !http_add_header(r, "Access-Control-Allow-Headers",
			     want != NULL && *want != '\0' && header_names(want)
				     ? want
				     : "Authorization, Content-Type, X-LlamaStack-Provider-Data, "
				       "X-LlamaStack-Client-Version") ||
	    !http_add_header(r, "Access-Control-Max-Age", "600"))
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}
