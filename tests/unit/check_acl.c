/* SPDX-License-Identifier: Apache-2.0 */
/* check_acl.c: unit tests of the acl module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
acl_suite(void)
{
	return suite_create("acl");
}
