/* SPDX-License-Identifier: Apache-2.0 */
/* check_route.c: unit tests of the route module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
route_suite(void)
{
	return suite_create("route");
}
