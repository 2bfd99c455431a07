/* SPDX-License-Identifier: Apache-2.0 */
/* check_openai.c: unit tests of the openai module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
openai_suite(void)
{
	return suite_create("openai");
}
