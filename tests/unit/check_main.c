/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_main.c: runs every module's suite and prints Check's summary line.
 * CK_RUN_SUITE / CK_RUN_CASE select a subset, as Check documents.
 */
#include "config.h"

#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner *sr = srunner_create(sg_suite());
	int failed;

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
	srunner_add_suite(sr, metrics_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
