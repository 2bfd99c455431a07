/* SPDX-License-Identifier: Apache-2.0 */
/* suites.h: one Check suite per module; check_main.c runs them all. */
#ifndef SG_SUITES_H
#define SG_SUITES_H

#include <check.h>

#include "acl.h"
#include "registry.h"
#include "sg.h"

/* A complete registry object of type t as JSON text (check_registry.c's round trips, also used by check_alloc.c). */
struct sg_sample {
	enum sg_rtype t;
	const char *obj;
};
extern const struct sg_sample registry_samples[];
extern const size_t registry_samples_count;

/* Table rows of the two most common shapes: a text and what it gives; a text and whether it is accepted. */
struct sg_case_str {
	const char *in, *want;
};
struct sg_case_ok {
	const char *in;
	bool ok;
};

/* A loop test: t runs once for each row index in [0, n) of its table. */
struct sg_loop {
	const TTest *t;
	int n;
};
#define SG_LOOP(test, table)                                \
	{                                                   \
		.t = (test), .n = (int) SG_ARRAY_LEN(table) \
	}

/*
 * A test case as data: its name, its tests (NULL-terminated; NULL: none),
 * its loop tests (ending with {.t = NULL}; NULL: none), a timeout in seconds
 * (0: Check's default) and a checked fixture (NULL: none).
 */
struct sg_tcase {
	const char *name;
	const TTest *const *tests;
	const struct sg_loop *loops;
	double timeout;
	void (*setup)(void);
	void (*teardown)(void);
};

/* A suite named name made of cases, which end with one whose name is NULL (check_main.c). */
Suite *sg_suite_new(const char *name, const struct sg_tcase *cases);

/* The config in text (loaded as "t.json"), which must be valid: the test fails with its errors otherwise. */
struct sg_conf;
struct sg_conf *sg_test_conf(const char *text);

/* One category of an ACL as SQL's text[] parameter, a JSON array text (caller frees); NULL when not set. */
char *sg_test_cat_param(const struct sg_attrs *a, enum sg_attr_cat c);

/* A socket listening on 127.0.0.1 at a free port (in *port), backlog 8; the test fails when there is none. */
int sg_test_listen_loopback(int *port);

Suite *sg_suite(void);
Suite *route_suite(void);
Suite *http_suite(void);
Suite *conf_suite(void);
Suite *acl_suite(void);
Suite *policy_suite(void);
Suite *auth_suite(void);
Suite *registry_suite(void);
Suite *resources_suite(void);
Suite *scoring_builtin_suite(void);
Suite *openai_suite(void);
Suite *proxy_h1_suite(void);
Suite *openai_usage_suite(void);
Suite *usage_suite(void);
Suite *inspect_suite(void);
Suite *netaddr_suite(void);
Suite *mcp_suite(void);
Suite *alloc_suite(void);
Suite *compat_suite(void);
Suite *shm_suite(void);
Suite *limits_suite(void);
Suite *router_suite(void);
Suite *metrics_suite(void);
Suite *admin_suite(void);
Suite *scale_suite(void);

#endif
