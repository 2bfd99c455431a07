/* SPDX-License-Identifier: Apache-2.0 */
/* check_http.c: unit tests of the http module (not written yet). */
#include "config.h"

#include "suites.h"

Suite *
http_suite(void)
{
	return suite_create("http");
}
