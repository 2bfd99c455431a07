/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_route.c: the route table and its matcher: literal routes, {param}
 * (one segment) and {param:path} (one or more) parameters with and without
 * a literal suffix, empty segments, HEAD as GET, 404 (no path) versus 405
 * (the path with other methods, and which), every table entry reachable,
 * and route_allow_string.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "suites.h"

#define ANY_POST (SG_POST)
#define GET_POST (SG_GET | SG_POST)
#define GET_DELETE (SG_GET | SG_DELETE)

static const struct {
	const char *path;
	enum sg_method method;
	const char *pattern; /* the route that must match; NULL: none */
	const char *arg;     /* the decoded parameter; NULL: none */
	unsigned allowed;    /* with no match: the methods the path accepts (0 → 404) */
} cases[] = {
	/* Literal routes. */
	{"/v1/health", SG_GET, "/v1/health", NULL, 0},
	{"/v1/health", SG_HEAD, "/v1/health", NULL, 0}, /* HEAD is answered as GET */
	{"/v1/health", SG_POST, NULL, NULL, SG_GET},
	{"/v1/health/", SG_GET, NULL, NULL, 0},
	{"/v1/healthz", SG_GET, NULL, NULL, 0},
	{"/v1/Health", SG_GET, NULL, NULL, 0}, /* case matters */
	{"/v1/models", SG_GET, "/v1/models", NULL, 0},
	{"/v1/models", SG_POST, "/v1/models", NULL, 0},
	{"/v1/models", SG_DELETE, NULL, NULL, GET_POST},
	{"/v1/models", SG_OPTIONS, NULL, NULL, GET_POST},
	{"/v1/models", SG_METHOD_OTHER, NULL, NULL, GET_POST},
	{"/v1/openai/v1/chat/completions", SG_POST, "/v1/openai/v1/chat/completions", NULL, 0},
	{"/v1/openai/v1/chat/completions", SG_GET, NULL, NULL, ANY_POST},
	{"/v1/openai/v1/embeddings", SG_HEAD, NULL, NULL, ANY_POST}, /* HEAD is not POST */
	{"/_stackgate/auth", SG_GET, "/_stackgate/auth", NULL, 0},
	{"/", SG_GET, NULL, NULL, 0},
	{"", SG_GET, NULL, NULL, 0},
	{"/v1/nothing", SG_GET, NULL, NULL, 0},

	/* {name:path}: one or more segments, '/' kept. */
	{"/v1/models/m1", SG_GET, "/v1/models/{model_id:path}", "m1", 0},
	{"/v1/models/meta-llama/Llama-3.2-3B-Instruct", SG_GET, "/v1/models/{model_id:path}",
	 "meta-llama/Llama-3.2-3B-Instruct", 0},
	{"/v1/models/a/b/c", SG_DELETE, "/v1/models/{model_id:path}", "a/b/c", 0},
	{"/v1/models/a/b", SG_HEAD, "/v1/models/{model_id:path}", "a/b", 0},
	{"/v1/models/a/b", SG_POST, NULL, NULL, GET_DELETE},
	{"/v1/models/a/b", SG_PUT, NULL, NULL, GET_DELETE},
	{"/v1/shields/s", SG_DELETE, "/v1/shields/{identifier:path}", "s", 0}, /* unregister since 0.2.18 */
	{"/v1/shields/s", SG_POST, NULL, NULL, GET_DELETE},
	{"/v1/scoring-functions/a/b", SG_DELETE, "/v1/scoring-functions/{scoring_fn_id:path}", "a/b", 0},
	{"/v1alpha/eval/benchmarks/b1", SG_DELETE, "/v1alpha/eval/benchmarks/{benchmark_id}", "b1", 0},
	{"/v1beta/datasets/a/b", SG_GET, "/v1beta/datasets/{dataset_id:path}", "a/b", 0},
	{"/v1alpha/admin/providers/vllm", SG_GET, "/v1alpha/admin/providers/{provider_id}", "vllm", 0},
	{"/v1/openai/v1/models/meta-llama/L-3", SG_GET, "/v1/openai/v1/models/{model:path}", "meta-llama/L-3", 0},
	{"/v1/chat/completions", SG_POST, "/v1/chat/completions", NULL, 0},
	{"/v1/chat/completions", SG_DELETE, NULL, NULL, GET_POST},
	/* 0.7's data planes: any depth under the prefix. */
	{"/v1/responses", SG_POST, "/v1/responses", NULL, 0},
	{"/v1/responses/r1/input_items", SG_GET, "/v1/responses/{path:path}", "r1/input_items", 0},
	{"/v1/conversations/c/items/i", SG_DELETE, "/v1/conversations/{path:path}", "c/items/i", 0},
	{"/v1/tools/mcp::g/t", SG_GET, "/v1/tools/{tool_name:path}", "mcp::g/t", 0},
	{"/v1/models/%2F", SG_GET, "/v1/models/{model_id:path}", "%2F", 0}, /* the matcher sees decoded paths only */
	/* Empty segments never make an identifier. */
	{"/v1/models/", SG_GET, NULL, NULL, 0},
	{"/v1/models//", SG_GET, NULL, NULL, 0},
	{"/v1/models//a", SG_GET, NULL, NULL, 0},
	{"/v1/models/a/", SG_GET, NULL, NULL, 0},
	{"/v1/models/a//b", SG_GET, NULL, NULL, 0},
	{"/v1/models/a//b", SG_POST, NULL, NULL, 0},

	/* {name}: exactly one segment. */
	{"/v1/providers/vllm", SG_GET, "/v1/providers/{provider_id}", "vllm", 0},
	{"/v1/providers/a/b", SG_GET, NULL, NULL, 0},
	{"/v1/providers/", SG_GET, NULL, NULL, 0},
	{"/v1/providers/vllm", SG_DELETE, NULL, NULL, SG_GET},
	{"/v1/eval/benchmarks/b1", SG_GET, "/v1/eval/benchmarks/{benchmark_id}", "b1", 0},
	{"/v1/eval/benchmarks/b1", SG_POST, NULL, NULL, GET_DELETE},
	{"/v1/eval/benchmarks/a/b", SG_GET, NULL, NULL, 0},

	/* A parameter followed by a literal suffix. */
	{"/v1/eval/benchmarks/b1/evaluations", SG_POST, "/v1/eval/benchmarks/{benchmark_id}/evaluations", "b1", 0},
	{"/v1/eval/benchmarks/b1/jobs", SG_POST, "/v1/eval/benchmarks/{benchmark_id}/jobs", "b1", 0},
	{"/v1/eval/benchmarks/b1/evaluations", SG_GET, NULL, NULL, ANY_POST},
	{"/v1/eval/benchmarks//evaluations", SG_POST, NULL, NULL, 0},
	{"/v1/eval/benchmarks/a/b/evaluations", SG_POST, NULL, NULL, 0},
	{"/v1/eval/benchmarks/b1/evaluationsx", SG_POST, NULL, NULL, 0},
	{"/v1/eval/benchmarks/evaluations", SG_POST, NULL, NULL, GET_DELETE}, /* "evaluations" is a benchmark id here */
	{"/v1/datasetio/iterrows/a/b", SG_GET, "/v1/datasetio/iterrows/{dataset_id:path}", "a/b", 0},
	{"/v1/datasetio/iterrows/a/b", SG_POST, NULL, NULL, SG_GET},
	{"/v1/datasetio/append-rows/d", SG_POST, "/v1/datasetio/append-rows/{dataset_id:path}", "d", 0},
};

START_TEST(match_table)
{
	const char *path = cases[_i].path;
	char *arg = (char *) "unset";
	unsigned allowed = 12345;
	const struct route *rt = route_match(path, cases[_i].method, &arg, &allowed);

	if (cases[_i].pattern == NULL) {
		ck_assert_msg(rt == NULL, "%s: matched %s, want none", path, rt ? rt->pattern : "");
		ck_assert_ptr_null(arg);
		ck_assert_msg(allowed == cases[_i].allowed, "%s: allowed 0x%x, want 0x%x", path, allowed,
			      cases[_i].allowed);
		return;
	}
	ck_assert_msg(rt != NULL, "%s: no match, want %s (allowed 0x%x)", path, cases[_i].pattern, allowed);
	ck_assert_str_eq(rt->pattern, cases[_i].pattern);
	ck_assert_uint_eq(allowed, 0);
	ck_assert(rt->method == cases[_i].method || (cases[_i].method == SG_HEAD && rt->method == SG_GET));
	ck_assert_pstr_eq(arg, cases[_i].arg);
	free(arg);
}
END_TEST

/* Every entry of the table is reached by its own method with a path made from its pattern. */
START_TEST(every_route_reachable)
{
	size_t n;
	const struct route *table = route_table(&n);

	ck_assert_uint_gt(n, 40);
	for (size_t i = 0; i < n; i++) {
		const char *pat = table[i].pattern, *open = strchr(pat, '{'), *close;
		bool multi;
		char path[256], *arg;
		unsigned allowed;
		const struct route *rt;

		ck_assert_msg(pat[0] == '/', "%s does not start with '/'", pat);
		ck_assert_ptr_nonnull(table[i].handler);
		ck_assert_ptr_nonnull(table[i].api);
		if (open == NULL) {
			snprintf(path, sizeof(path), "%s", pat);
		} else {
			close = strchr(open, '}');
			ck_assert_msg(close != NULL && strchr(close, '{') == NULL, "%s: one parameter at most", pat);
			multi = strncmp(close - 5, ":path", 5) == 0;
			snprintf(path, sizeof(path), "%.*s%s%s", (int) (open - pat), pat, multi ? "p/q" : "p",
				 close + 1);
		}
		rt = route_match(path, table[i].method, &arg, &allowed);
		ck_assert_msg(rt == &table[i], "%s %s: matched %s", http_method_name(table[i].method), path,
			      rt ? rt->pattern : "nothing");
		if (open == NULL)
			ck_assert_ptr_null(arg);
		else
			ck_assert_str_eq(arg, multi ? "p/q" : "p");
		free(arg);
		/* No two entries share a method and a pattern. */
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(table[j].method != table[i].method || strcmp(table[j].pattern, pat) != 0,
				      "%s is listed twice", pat);
	}
}
END_TEST

static const struct {
	unsigned methods;
	const char *want;
} allows[] = {
	{0, ""},
	{SG_GET, "GET, HEAD"},
	{SG_POST, "POST"},
	{SG_DELETE, "DELETE"},
	{SG_GET | SG_POST, "GET, HEAD, POST"},
	{SG_GET | SG_DELETE, "GET, HEAD, DELETE"},
	{SG_POST | SG_PUT | SG_PATCH | SG_DELETE, "POST, PUT, PATCH, DELETE"},
	{SG_DELETE | SG_PATCH | SG_PUT | SG_POST | SG_GET, "GET, HEAD, POST, PUT, PATCH, DELETE"},
	{SG_HEAD | SG_OPTIONS | SG_METHOD_OTHER, ""}, /* only the five route methods are listed */
};

START_TEST(allow_string_table)
{
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	route_allow_string(allows[_i].methods, buf, sizeof(buf));
	ck_assert_str_eq(buf, allows[_i].want);
}
END_TEST

/* A buffer too small never overflows and stays a string. */
START_TEST(allow_string_small_buffer)
{
	char buf[8 + 1];

	for (size_t len = 1; len < sizeof(buf); len++) {
		memset(buf, 'x', sizeof(buf));
		route_allow_string(SG_GET | SG_POST | SG_DELETE, buf, len);
		ck_assert_msg(memchr(buf, '\0', len) != NULL, "len %zu: not NUL-terminated", len);
		ck_assert_msg(buf[len] == 'x', "len %zu: wrote past the buffer", len);
	}
}
END_TEST

/* What worker.c does with a 405: the Allow value for what route_match found. */
START_TEST(allow_from_match)
{
	char *arg, buf[64];
	unsigned allowed;

	ck_assert_ptr_null(route_match("/v1/models/x", SG_PATCH, &arg, &allowed));
	route_allow_string(allowed, buf, sizeof(buf));
	ck_assert_str_eq(buf, "GET, HEAD, DELETE");
	ck_assert_ptr_null(route_match("/v1/vector-dbs", SG_PUT, &arg, &allowed));
	route_allow_string(allowed, buf, sizeof(buf));
	ck_assert_str_eq(buf, "GET, HEAD, POST");
}
END_TEST

Suite *
route_suite(void)
{
	const TTest *const route_match[] = {every_route_reachable, NULL};
	const struct sg_loop route_match_loops[] = {SG_LOOP(match_table, cases), {.t = NULL}};
	const TTest *const route_allow_string[] = {allow_string_small_buffer, allow_from_match, NULL};
	const struct sg_loop route_allow_string_loops[] = {SG_LOOP(allow_string_table, allows), {.t = NULL}};
	const struct sg_tcase tcases[] = {
		{.name = "route_match", .tests = route_match, .loops = route_match_loops},
		{.name = "route_allow_string", .tests = route_allow_string, .loops = route_allow_string_loops},
		{.name = NULL}};

	return sg_suite_new("route", tcases);
}
