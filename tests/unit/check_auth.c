/* SPDX-License-Identifier: Apache-2.0 */
/* check_auth.c: unit tests of the auth module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
auth_suite(void)
{
	return suite_create("auth");
}
