/* SPDX-License-Identifier: Apache-2.0 */
/* check_registry.c: unit tests of the registry module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
registry_suite(void)
{
	return suite_create("registry");
}
