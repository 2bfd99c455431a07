/* SPDX-License-Identifier: Apache-2.0 */
/* check_conf.c: unit tests of the conf module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
conf_suite(void)
{
	return suite_create("conf");
}
