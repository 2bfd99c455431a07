/* SPDX-License-Identifier: Apache-2.0 */
/* check_inspect.c: the client version check of inspect.c. */
#include "config.h"

#include "inspect.h"
#include "suites.h"

START_TEST(client_version_range)
{
	static const struct {
		const char *v;
		bool ok;
	} cases[] = {
		{NULL, true},                        /* no header */
		{"", true},         {"0.2.7", true}, /* the April 2025 client */
		{"0.2.0", true},    {"0.7.3", true}, /* today's */
		{"0.7.3rc1", true}, {"v0.5", true},     {"0.4.0-alpha.6", true},
		{" 0.3.1", true},   {"0.1.9", false}, /* older than the oldest generation served */
		{"0.0.1", false},   {"0.8.0", false}, /* newer than the newest */
		{"0.10.2", false},                    /* minor 10, not 1 */
		{"1", false},                         /* 1.0 */
		{"2.0.0", false},   {"dev", true},    /* not a version: passes, as in Llama Stack */
		{"x.y", true},      {"0.2;drop", true}, {"1234567.0", true}, /* too long to be read as a number */
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++)
		ck_assert_msg(inspect_client_version_ok(cases[i].v) == cases[i].ok, "case %zu (%s)", i,
			      cases[i].v ? cases[i].v : "NULL");
}
END_TEST

Suite *
inspect_suite(void)
{
	const TTest *const pure[] = {client_version_range, NULL};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure}, {.name = NULL}};

	return sg_suite_new("inspect", tcases);
}
