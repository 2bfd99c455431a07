/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.h: the static route table.  A pattern is a literal prefix, at most
 * one parameter, and an optional literal suffix: "{name}" matches one
 * non-empty segment, "{name:path}" matches one or more segments (model ids
 * such as meta-llama/Llama-3.2-3B-Instruct contain '/').  Routes do no work.
 */
#ifndef SG_ROUTE_H
#define SG_ROUTE_H

#include "http.h"

typedef sg_status (*route_handler_fn)(struct request *r);

enum {
	SG_ROUTE_PUBLIC = 1 << 0,   /* answered without a principal even when auth.required */
	SG_ROUTE_INTERNAL = 1 << 1, /* not listed by /v1/inspect/routes */
};

struct route {
	enum sg_method method;
	const char *pattern;
	route_handler_fn handler;
	int arg;         /* handler-specific, e.g. the resource type */
	const char *api; /* Llama Stack API name for inspect/routes: "models", "inference", … */
	unsigned flags;
};

/*
 * Finds the route for path and method.  On a match returns it and sets
 * *arg_out to the decoded parameter (newly allocated) or NULL.  With no match
 * returns NULL and sets *allowed to the methods that path does accept (0:
 * unknown path → 404; non-zero → 405 with Allow).
 */
const struct route *route_match(const char *path, enum sg_method method, char **arg_out, unsigned *allowed);

/* The whole table (borrowed) and its length. */
const struct route *route_table(size_t *n);

/* Formats the Allow header value for a method set ("GET, POST"). */
void route_allow_string(unsigned methods, char *buf, size_t len);

#endif
