/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_main.c: runs every module's suite and prints Check's summary line;
 * also sg_suite_new(), which makes a suite from the cases a module lists as
 * data (suites.h), so no module repeats Check's calls, and sg_test_conf(),
 * the one way a test loads a config that must be valid, and
 * sg_test_cat_param(), an ACL category as the SQL functions take it, and
 * sg_test_listen_loopback(), the listening socket of the tests' fake servers.
 * CK_RUN_SUITE / CK_RUN_CASE select a subset, as Check documents.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "acl.h"
#include "conf.h"
#include "json.h"
#include "suites.h"

Suite *
sg_suite_new(const char *name, const struct sg_tcase *cases)
{
	Suite *s = suite_create(name);

	for (const struct sg_tcase *c = cases; c->name != NULL; c++) {
		TCase *tc = tcase_create(c->name);

		if (c->setup != NULL || c->teardown != NULL)
			tcase_add_checked_fixture(tc, c->setup, c->teardown);
		if (c->timeout > 0)
			tcase_set_timeout(tc, c->timeout);
		for (const TTest *const *t = c->tests; t != NULL && *t != NULL; t++)
			tcase_add_test(tc, *t);
		for (const struct sg_loop *l = c->loops; l != NULL && l->t != NULL; l++)
			tcase_add_loop_test(tc, l->t, 0, l->n);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
sg_test_listen_loopback(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct sg_conf *
sg_test_conf(const char *text)
{
	char *errors = NULL;
	struct sg_conf *c = conf_load_string(text, "t.json", &errors);

	ck_assert_msg(c != NULL, "unexpected errors for %s:\n%s", text, errors ? errors : "(null)");
	ck_assert_ptr_null(errors);
	return c;
}

char *
sg_test_cat_param(const struct sg_attrs *a, enum sg_attr_cat c)
{
	json_t *arr;
	char *s;

	if (!a->present || !a->set[c])
		return NULL;
	arr = json_array();
	for (size_t i = 0; i < a->cat[c].n; i++)
		ck_assert_int_eq(json_array_append_new(arr, json_string(a->cat[c].v[i])), 0);
	s = sg_json_dump(arr);
	json_decref(arr);
	return s;
}

int
main(void)
{
	/* Every module's suite, in the order they run; a new module adds its line here and in suites.h. */
	Suite *(*const suites[])(void) = {
		sg_suite,      route_suite,    http_suite,         conf_suite,      acl_suite,
		policy_suite,  auth_suite,     registry_suite,     resources_suite, scoring_builtin_suite,
		openai_suite,  proxy_h1_suite, openai_usage_suite, usage_suite,     inspect_suite,
		netaddr_suite, mcp_suite,      alloc_suite,        shm_suite,       limits_suite,
		compat_suite,  metrics_suite,  router_suite,       admin_suite,     scale_suite,
	};
	SRunner *sr;
	int failed;

	sg_json_init(); /* as main() does: jansson allocates through the countdown */
	sr = srunner_create(suites[0]());
	for (size_t i = 1; i < SG_ARRAY_LEN(suites); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
