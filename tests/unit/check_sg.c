/* SPDX-License-Identifier: Apache-2.0 */
/* check_sg.c: the status table, string vectors and helpers of sg.c; log.c's level gate. */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "sg.h"
#include "suites.h"

/* What log_request() and others ask before formatting a line nobody would read. */
START_TEST(log_enabled_follows_the_level)
{
	ck_assert(log_set_level_name("warn"));
	ck_assert(!log_enabled(SG_LOG_DEBUG));
	ck_assert(!log_enabled(SG_LOG_INFO));
	ck_assert(log_enabled(SG_LOG_WARN));
	ck_assert(log_enabled(SG_LOG_ERROR));
	log_set_level(SG_LOG_DEBUG);
	ck_assert(log_enabled(SG_LOG_DEBUG));
	log_set_level(SG_LOG_INFO);
	ck_assert(!log_enabled(SG_LOG_DEBUG));
	ck_assert(log_enabled(SG_LOG_INFO));
}
END_TEST

START_TEST(status_table_maps_http_and_types)
{
	ck_assert_int_eq(sg_status_http(SG_OK), 200);
	ck_assert_int_eq(sg_status_http(SG_E_CONFLICT), 409);
	ck_assert_int_eq(sg_status_http(SG_E_TOO_LARGE), 413);
	ck_assert_str_eq(sg_status_name(SG_E_BAD_GATEWAY), "SG_E_BAD_GATEWAY");
	ck_assert_str_eq(sg_status_type(SG_E_BAD_REQUEST), "invalid_request_error");
	ck_assert_ptr_null(sg_status_type(SG_OK));
	ck_assert_int_eq(sg_status_http((sg_status) 9999), 500);
	ck_assert_str_eq(sg_http_reason(405), "Method Not Allowed");
	ck_assert_str_eq(sg_status_code((sg_status) 9999), "unknown");
}
END_TEST

/*
 * Every status's code is its name without "SG_E_", in lower case, but for the two that are
 * OpenAI's own (status_rows below): a status added to the table without its code shows here.
 */
START_TEST(status_codes_follow_the_names)
{
	for (int st = SG_E_BAD_REQUEST; st < SG_STATUS_COUNT; st++) {
		const char *name = sg_status_name((sg_status) st) + 5;
		char want[40];
		size_t i;

		if (st == SG_E_UNAUTHORIZED || st == SG_E_RATE_LIMIT_TOKENS)
			continue;
		for (i = 0; name[i] != '\0' && i + 1 < sizeof(want); i++)
			want[i] = (char) (name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
		want[i] = '\0';
		ck_assert_str_eq(sg_status_code((sg_status) st), want);
	}
}
END_TEST

/* A status's HTTP status, error type and error code (the limits' three 429s among them). */
static const struct {
	sg_status st;
	int http;
	const char *type, *code;
} status_rows[] = {
	{SG_E_NOT_FOUND, 404, "not_found_error", "not_found"},
	/* The same code as nginx's @unauthorized answer after an auth subrequest, and OpenAI's for a bad key. */
	{SG_E_UNAUTHORIZED, 401, "authentication_error", "invalid_api_key"},
	{SG_E_GATEWAY_TIMEOUT, 504, "timeout_error", "gateway_timeout"},
	{SG_E_RATE_LIMIT_EXCEEDED, 429, "requests", "rate_limit_exceeded"},
	{SG_E_RATE_LIMIT_TOKENS, 429, "tokens", "rate_limit_exceeded"},
	{SG_E_INSUFFICIENT_QUOTA, 429, "insufficient_quota", "insufficient_quota"},
};

START_TEST(status_rows_http_type_code)
{
	const char *code = sg_status_code(status_rows[_i].st);

	ck_assert_int_eq(sg_status_http(status_rows[_i].st), status_rows[_i].http);
	ck_assert_str_eq(sg_status_type(status_rows[_i].st), status_rows[_i].type);
	ck_assert_str_eq(code, status_rows[_i].code);
}
END_TEST

START_TEST(strv_push_contains_free)
{
	struct sg_strv sv = {0};

	ck_assert(sg_strv_push(&sv, "a"));
	ck_assert(sg_strv_push(&sv, "b"));
	ck_assert_uint_eq(sv.n, 2);
	ck_assert(sg_strv_contains(&sv, "b"));
	ck_assert(!sg_strv_contains(&sv, "c"));
	sg_strv_free(&sv);
	ck_assert_uint_eq(sv.n, 0);
	sg_strv_free(&sv); /* idempotent */
}
END_TEST

START_TEST(ct_equal_compares_bytes)
{
	ck_assert(sg_ct_equal("abcd", "abcd", 4));
	ck_assert(!sg_ct_equal("abcd", "abce", 4));
	ck_assert(sg_ct_equal("", "", 0));
}
END_TEST

START_TEST(utf8_validation)
{
	static const struct sg_case_ok cases[] = {
		{"", true},
		{"plain ascii", true},
		{"caf\xc3\xa9", true},
		{"\xe2\x98\x95", true},
		{"\xf0\x9f\x98\x80", true},
		{"\xff\xfe", false},
		{"\xc0\xaf", false},         /* overlong '/' */
		{"\xe0\x80\xaf", false},     /* overlong */
		{"\xed\xa0\x80", false},     /* surrogate */
		{"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
		{"\xc3", false},             /* truncated */
		{"a\x80"
		 "b",
		 false}, /* stray continuation */
		/* Past the eight-byte ASCII steps: before, across and after their boundaries. */
		{"0123456789abcdef", true},
		{"0123456789abcdef\xff", false},
		{"0123456\xc3\xa9"
		 "89abcdef",
		 true},
		{"0123456\xc3"
		 "89abcdef",
		 false},
		{"01234567caf\xc3\xa9 0123456789", true},
		{"0123456789abcde\xc3", false},
		{"01234567\xed\xa0\x80"
		 "01234567",
		 false},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++)
		ck_assert_msg(sg_utf8_valid(cases[i].in, strlen(cases[i].in)) == cases[i].ok, "case %zu", i);
}
END_TEST

START_TEST(utf8_prefix_cuts_at_character_boundaries)
{
	static const struct {
		const char *s;
		size_t max, want;
	} cases[] = {
		{"abc", 10, 3},
		{"abc", 2, 2},
		{"abc", 0, 0},
		{"caf\xc3\xa9", 5, 5},   /* exactly the whole string */
		{"caf\xc3\xa9", 4, 3},   /* inside the two-byte é */
		{"\xe2\x98\x95x", 1, 0}, /* inside a three-byte sequence */
		{"\xe2\x98\x95x", 2, 0},
		{"\xe2\x98\x95x", 3, 3},
		{"a\xf0\x9f\x98\x80", 4, 1},        /* inside a four-byte sequence */
		{"\x80\x80\x80\x80\x80\x80", 3, 3}, /* stray continuations: nothing to back off to */
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++)
		ck_assert_msg(sg_utf8_prefix(cases[i].s, cases[i].max) == cases[i].want, "case %zu: %zu", i,
			      sg_utf8_prefix(cases[i].s, cases[i].max));
}
END_TEST

START_TEST(fmt_i64_matches_printf)
{
	static const int64_t vs[] = {0, 1, -1, 9, 10, 99, 100, 12345, -12345, INT64_MAX, INT64_MIN, INT64_MIN + 1};
	char got[SG_I64_DIGITS], want[32];

	for (size_t i = 0; i < SG_ARRAY_LEN(vs); i++) {
		size_t n = sg_fmt_i64(got, vs[i]);

		snprintf(want, sizeof(want), "%" PRId64, vs[i]);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(n, strlen(want));
	}
	/* Every digit count, both signs, at the edges where the pairs of digits change. */
	for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10)
		for (int64_t d = -1; d <= 1; d++)
			for (int sign = -1; sign <= 1; sign += 2) {
				int64_t v = sign * (p + d);
				size_t n = sg_fmt_i64(got, v);

				snprintf(want, sizeof(want), "%" PRId64, v);
				ck_assert_str_eq(got, want);
				ck_assert_uint_eq(n, strlen(want));
			}
}
END_TEST

START_TEST(fnv1a_known_values)
{
	/* The published FNV-1a 64 test vectors. */
	ck_assert_uint_eq(sg_fnv1a(SG_FNV1A_INIT, ""), UINT64_C(0xcbf29ce484222325));
	ck_assert_uint_eq(sg_fnv1a(SG_FNV1A_INIT, "a"), UINT64_C(0xaf63dc4c8601ec8c));
	ck_assert_uint_eq(sg_fnv1a(SG_FNV1A_INIT, "foobar"), UINT64_C(0x85944171f73967e8));
	ck_assert_uint_eq(sg_fnv1a(sg_fnv1a(SG_FNV1A_INIT, "foo"), "bar"), UINT64_C(0x85944171f73967e8));
	ck_assert_uint_eq(sg_fnv1a_byte(SG_FNV1A_INIT, 'a'), UINT64_C(0xaf63dc4c8601ec8c));
}
END_TEST

START_TEST(utf8_scrub_replaces_bad_bytes)
{
	char a[] = "ok caf\xc3\xa9", b[] = "\xff\xfe.\xc3", c[] = "";

	sg_utf8_scrub(a);
	ck_assert_str_eq(a, "ok caf\xc3\xa9");
	sg_utf8_scrub(b);
	ck_assert_str_eq(b,
			 "?"
			 "?.?");
	sg_utf8_scrub(c);
	ck_assert_str_eq(c, "");
}
END_TEST

/* The error carrier: status, param and message recorded, cut to fit, valid UTF-8; NULL takes nothing. */
START_TEST(err_records_cuts_and_scrubs)
{
	struct sg_err e = {0};
	char big[2000];

	ck_assert_int_eq(sg_fail(&e, SG_E_NOT_FOUND, "model_id", "Model '%s' not found", "m"), SG_E_NOT_FOUND);
	ck_assert_int_eq(e.status, SG_E_NOT_FOUND);
	ck_assert_str_eq(e.param, "model_id");
	ck_assert_str_eq(e.msg, "Model 'm' not found");
	ck_assert_str_eq(e.detail, "");
	sg_err_detail(&e, "SQLSTATE %s", "23505");
	ck_assert_str_eq(e.detail, "SQLSTATE 23505");
	ck_assert_str_eq(e.msg, "Model 'm' not found"); /* the detail leaves the message alone */

	/* A second failure replaces the first; NULL param is "". */
	ck_assert_int_eq(sg_fail(&e, SG_E_BAD_REQUEST, NULL, "bad %s", "\xff"), SG_E_BAD_REQUEST);
	ck_assert_str_eq(e.param, "");
	ck_assert_str_eq(e.msg, "bad ?");

	/* Too long: cut to the buffer, and a character cut in two becomes '?'. */
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(e.msg) - 2, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	(void) sg_fail(&e, SG_E_BAD_REQUEST, big, "%s", big);
	ck_assert_uint_eq(strlen(e.msg), sizeof(e.msg) - 1);
	ck_assert(sg_utf8_valid(e.msg, strlen(e.msg)));
	ck_assert_int_eq(e.msg[sizeof(e.msg) - 2], '?');
	ck_assert_uint_eq(strlen(e.param), sizeof(e.param) - 1);

	/* No carrier: the status still comes back. */
	ck_assert_int_eq(sg_fail(NULL, SG_E_CONFLICT, NULL, "x"), SG_E_CONFLICT);
	sg_err_detail(NULL, "x");
	sg_err_reset(NULL);
	sg_err_reset(&e);
	ck_assert_int_eq(e.status, SG_OK);
	ck_assert_str_eq(e.msg, "");
	ck_assert_str_eq(e.param, "");
	ck_assert_str_eq(e.detail, "");
}
END_TEST

/*
 * jansson allocates through sg_malloc, as main() sets it up (sg_json_init,
 * called by the test main too): the countdown fails its allocations.
 */
START_TEST(jansson_allocates_through_the_countdown)
{
	json_t *j;

	sg_alloc_fail_after(0);
	j = json_object();
	sg_alloc_fail_after(-1);
	ck_assert_ptr_null(j);
	sg_alloc_fail_after(LONG_MAX);
	j = json_string("counted");
	ck_assert_int_ge(sg_alloc_count(), 1);
	sg_alloc_fail_after(-1);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
}
END_TEST

Suite *
sg_suite(void)
{
	const TTest *const core[] = {status_table_maps_http_and_types,
				     status_codes_follow_the_names,
				     log_enabled_follows_the_level,
				     strv_push_contains_free,
				     ct_equal_compares_bytes,
				     utf8_validation,
				     utf8_prefix_cuts_at_character_boundaries,
				     utf8_scrub_replaces_bad_bytes,
				     fmt_i64_matches_printf,
				     fnv1a_known_values,
				     err_records_cuts_and_scrubs,
				     jansson_allocates_through_the_countdown,
				     NULL};
	const struct sg_loop core_loops[] = {SG_LOOP(status_rows_http_type_code, status_rows), {.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "core", .tests = core, .loops = core_loops}, {.name = NULL}};

	return sg_suite_new("sg", tcases);
}
