/* SPDX-License-Identifier: Apache-2.0 */
/* check_resources.c: unit tests of the resources module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
resources_suite(void)
{
	return suite_create("resources");
}
