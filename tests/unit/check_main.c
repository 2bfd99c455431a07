/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_main.c: runs every module's suite and prints Check's summary line;
 * also sg_suite_new(), which makes a suite from the cases a module lists as
 * data (suites.h), so no module repeats Check's calls.
 * CK_RUN_SUITE / CK_RUN_CASE select a subset, as Check documents.
 */
#include "config.h"

#include <stdlib.h>

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
main(void)
{
	SRunner *sr;
	int failed;

	sg_json_init(); /* as main() does: jansson allocates through the countdown */
	sr = srunner_create(sg_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, conf_suite());
	srunner_add_suite(sr, acl_suite());
	srunner_add_suite(sr, auth_suite());
	srunner_add_suite(sr, registry_suite());
	srunner_add_suite(sr, resources_suite());
	srunner_add_suite(sr, scoring_builtin_suite());
	srunner_add_suite(sr, openai_suite());
	srunner_add_suite(sr, openai_usage_suite());
	srunner_add_suite(sr, inspect_suite());
	srunner_add_suite(sr, netaddr_suite());
	srunner_add_suite(sr, mcp_suite());
	srunner_add_suite(sr, alloc_suite());
	srunner_add_suite(sr, shm_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
