/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cors.h: cross-origin requests from browser apps (server.cors_origins).  A
 * preflight (OPTIONS with Origin and Access-Control-Request-Method) carries
 * no credentials, so nginx passes it to stackgate without auth_request and
 * the worker answers it here before any route or identity; every other
 * request from an allowed origin gets Access-Control-Allow-Origin.  An
 * origin not in the list gets no CORS header at all (the browser then
 * refuses the answer).  Nothing here keeps state.
 */
#ifndef SG_CORS_H
#define SG_CORS_H

#include "conf.h"
#include "http.h"

/*
 * For the config: NULL when s is "*" (every origin) or an origin as
 * browsers send it, "scheme://host[:port]" with no path; else why not.
 */
const char *cors_origin_check(const char *s);

/* True when origin (may be NULL) is one of c's cors_origins, or they hold "*". */
bool cors_origin_allowed(const struct sg_conf *c, const char *origin);

/* True when r is a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method headers. */
bool cors_is_preflight(const struct request *r);

/*
 * For a request that is not a preflight, before its handler: when its
 * Origin is allowed, adds Access-Control-Allow-Origin (that origin),
 * Access-Control-Expose-Headers: X-Request-Id and Vary: Origin to r's
 * response headers (streams included).  Nothing otherwise.
 */
void cors_apply(struct request *r);

/*
 * Answers preflight r for a path that accepts methods (route_match's
 * allowed set, non-zero): 204, with, for an allowed origin,
 * Access-Control-Allow-Origin, -Allow-Methods (those methods),
 * -Allow-Headers (the requested ones when they are plain header names,
 * else the ones the clients send), -Max-Age and Vary: Origin; without any
 * of them for another origin.  SG_OK or SG_E_NOMEM.
 */
sg_status cors_preflight(struct request *r, unsigned methods) SG_MUST_CHECK;

#endif
