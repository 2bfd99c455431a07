/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_openai_usage.c: what the openai module reads for accounting, as the
 * pure functions it is made of: the "usage" object, its place in a reply body
 * and in a stream's events (and the usage-only chunk dropped when stackgate
 * asked for it), the rewrite that makes a stream request ask for usage, and
 * the estimate when no usage came.  Table-driven.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "openai.h"
#include "proxy.h"
#include "suites.h"

/* ------------------------------------------------------------- usage parse */

static const struct {
	const char *in;
	bool ok;
	long long prompt, completion, total;
} usage_cases[] = {
	{"{\"prompt_tokens\":12,\"completion_tokens\":3,\"total_tokens\":15}", true, 12, 3, 15},
	/* Blanks, other members (details objects), any order. */
	{" { \"total_tokens\" : 7 , \"prompt_tokens_details\":{\"cached_tokens\":2},\"prompt_tokens\":7 } ", true, 7, 0,
	 7},
	/* Embeddings: no completion_tokens. */
	{"{\"prompt_tokens\":4,\"total_tokens\":4}", true, 4, 0, 4},
	/* No total: the sum. */
	{"{\"prompt_tokens\":5,\"completion_tokens\":6}", true, 5, 6, 11},
	/* A total the upstream reports is kept as reported. */
	{"{\"prompt_tokens\":5,\"completion_tokens\":6,\"total_tokens\":20}", true, 5, 6, 20},
	{"{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}", true, 0, 0, 0},
	/* Escaped key names count as for "model". */
	{"{\"prompt_tok\\u0065ns\":9}", true, 9, 0, 9},
	/* The last of duplicate keys. */
	{"{\"prompt_tokens\":1,\"prompt_tokens\":2}", true, 2, 0, 2},
	{"{\"prompt_tokens\":999999999999999}", true, 999999999999999LL, 0, 999999999999999LL},
	/* Not usage. */
	{"null", false, 0, 0, 0},
	{"{}", false, 0, 0, 0},
	{"{\"other\":1}", false, 0, 0, 0},
	{"[1,2]", false, 0, 0, 0},
	{"\"12\"", false, 0, 0, 0},
	{"", false, 0, 0, 0},
	{"{\"prompt_tokens\":-1}", false, 0, 0, 0},
	{"{\"prompt_tokens\":1.5}", false, 0, 0, 0},
	{"{\"prompt_tokens\":1e3}", false, 0, 0, 0},
	{"{\"prompt_tokens\":\"3\"}", false, 0, 0, 0},
	{"{\"prompt_tokens\":null}", false, 0, 0, 0},
	{"{\"prompt_tokens\":1000000000000000}", false, 0, 0, 0},
	{"{\"prompt_tokens\":3,\"completion_tokens\":true}", false, 0, 0, 0},
	{"{\"prompt_tokens\":3", false, 0, 0, 0},
	{"{\"prompt_tokens\":3} x", false, 0, 0, 0},
};

START_TEST(usage_parse_table)
{
	struct openai_usage u;
	const char *in = usage_cases[_i].in;
	bool ok = openai_usage_parse(in, strlen(in), &u);

	ck_assert_msg(ok == usage_cases[_i].ok, "usage %s: got %d", in, ok);
	ck_assert_int_eq(u.found, usage_cases[_i].ok);
	ck_assert_int_eq(u.prompt_tokens, usage_cases[_i].prompt);
	ck_assert_int_eq(u.completion_tokens, usage_cases[_i].completion);
	ck_assert_int_eq(u.total_tokens, usage_cases[_i].total);
}
END_TEST

/* ----------------------------------------------- usage of a buffered reply */

START_TEST(reply_usage_is_the_top_level_one)
{
	static const struct {
		const char *in;
		bool found;
		long long total;
	} cases[] = {
		{"{\"model\":\"up\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}", true, 3},
		/* A nested "usage" is not the reply's. */
		{"{\"model\":\"up\",\"choices\":[{\"usage\":{\"prompt_tokens\":9}}]}", false, 0},
		{"{\"model\":\"up\",\"usage\":null}", false, 0},
		{"{\"usage\":{\"total_tokens\":8},\"model\":\"up\"}", true, 8},
		/* Not a JSON object: no usage either. */
		{"{\"usage\":{\"total_tokens\":8},\"model\":\"up\"", false, 0},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		struct sg_buf b = {0};
		struct openai_usage u;

		(void) openai_rewrite_model_usage(cases[i].in, strlen(cases[i].in), "\"asked\"", &b, &u);
		ck_assert_msg(u.found == cases[i].found, "usage of %s", cases[i].in);
		ck_assert_int_eq(u.total_tokens, cases[i].total);
		sg_buf_free(&b);
	}
}
END_TEST

/* ------------------------------------------------------ usage of an event */

static const struct {
	const char *in;
	bool drop;
	const char *out; /* what is appended */
	bool found, usage_only, dropped;
	long long total;
} event_cases[] = {
	/* The usage-only chunk include_usage adds: dropped when stackgate asked, relayed when the client did. */
	{"data: {\"model\":\"up\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}",
	 true, "", true, true, true, 5},
	{"data: {\"model\":\"up\",\"choices\":[ ],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}",
	 false,
	 "data: {\"model\":\"asked\",\"choices\":[ ],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}"
	 "\n\n",
	 true, true, false, 5},
	/* Usage in a chunk that also carries choices (some upstreams): counted, never dropped. */
	{"data: {\"model\":\"up\",\"choices\":[{\"delta\":{}}],\"usage\":{\"total_tokens\":4}}", true,
	 "data: {\"model\":\"asked\",\"choices\":[{\"delta\":{}}],\"usage\":{\"total_tokens\":4}}\n\n", true, false,
	 false, 4},
	/* "usage": null on every chunk (OpenAI with include_usage): no usage, relayed. */
	{"data: {\"model\":\"up\",\"choices\":[],\"usage\":null}", true,
	 "data: {\"model\":\"asked\",\"choices\":[],\"usage\":null}\n\n", false, false, false, 0},
	/* Split over data lines, the payload is one. */
	{"data: {\"model\":\"up\",\"choices\":[],\ndata: \"usage\":{\"total_tokens\":6}}", true, "", true, true, true,
	 6},
	/* A usage chunk without choices is not the one include_usage adds. */
	{"data: {\"usage\":{\"total_tokens\":6}}", true, "data: {\"usage\":{\"total_tokens\":6}}\n\n", true, false,
	 false, 6},
	{"data: [DONE]", true, "data: [DONE]\n\n", false, false, false, 0},
	{": comment", true, ": comment\n\n", false, false, false, 0},
	{"data: not json \"usage\":{\"total_tokens\":6}", true, "data: not json \"usage\":{\"total_tokens\":6}\n\n",
	 false, false, false, 0},
};

START_TEST(event_usage_table)
{
	struct sg_buf b = {0};
	struct openai_event seen;
	const char *in = event_cases[_i].in;

	ck_assert(openai_sse_relay(in, strlen(in), "\"asked\"", event_cases[_i].drop, &b, &seen));
	ck_assert_str_eq(b.p ? b.p : "", event_cases[_i].out);
	ck_assert_msg(seen.usage.found == event_cases[_i].found, "found in %s", in);
	ck_assert_msg(seen.usage_only == event_cases[_i].usage_only, "usage_only in %s", in);
	ck_assert_msg(seen.dropped == event_cases[_i].dropped, "dropped in %s", in);
	ck_assert_int_eq(seen.usage.total_tokens, event_cases[_i].total);
	ck_assert_int_eq(seen.done, strcmp(in, "data: [DONE]") == 0);
	sg_buf_free(&b);
}
END_TEST

/* ------------------------------------------------- asking for stream usage */

static const struct {
	const char *in;
	enum openai_stream_usage want;
	const char *out; /* NULL: nothing appended */
} ask_cases[] = {
	{"{\"model\":\"m\",\"stream\":true}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true},\"model\":\"m\",\"stream\":true}"},
	{" \n{ \"model\" : 1 } ", OPENAI_SU_ADDED, " \n{\"stream_options\":{\"include_usage\":true}, \"model\" : 1 } "},
	{"{}", OPENAI_SU_ADDED, "{\"stream_options\":{\"include_usage\":true}}"},
	{"{ }", OPENAI_SU_ADDED, "{\"stream_options\":{\"include_usage\":true} }"},
	{"{\"stream_options\":null,\"x\":[]}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true},\"x\":[]}"},
	{"{\"stream_options\":{},\"x\":1}", OPENAI_SU_ADDED, "{\"stream_options\":{\"include_usage\":true},\"x\":1}"},
	{"{\"stream_options\":{\"continuous_usage_stats\":true}}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}}"},
	{"{\"stream_options\":{\"include_usage\":false}}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true}}"},
	{"{\"stream_options\":{\"include_usage\":null,\"a\":2}}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true,\"a\":2}}"},
	/* Nested look-alikes are not the request's. */
	{"{\"x\":{\"stream_options\":{\"include_usage\":true}}}", OPENAI_SU_ADDED,
	 "{\"stream_options\":{\"include_usage\":true},\"x\":{\"stream_options\":{\"include_usage\":true}}}"},
	/* The client asked: unchanged, and its usage chunk is its own. */
	{"{\"stream_options\":{\"include_usage\":true}}", OPENAI_SU_ASKED, NULL},
	{"{\"stream_opti\\u006fns\":{ \"include_usage\" : true }}", OPENAI_SU_ASKED, NULL},
	/* Nothing stackgate can add to. */
	{"{\"stream_options\":\"yes\"}", OPENAI_SU_CANNOT, NULL},
	{"{\"stream_options\":[true]}", OPENAI_SU_CANNOT, NULL},
	{"[1]", OPENAI_SU_NOT_OBJECT, NULL},
	{"{\"a\":1", OPENAI_SU_NOT_OBJECT, NULL},
	{"", OPENAI_SU_NOT_OBJECT, NULL},
};

START_TEST(ask_usage_table)
{
	struct sg_buf b = {0}, again = {0};
	const char *in = ask_cases[_i].in;
	enum openai_stream_usage got;

	ck_assert(sg_buf_append(&b, "pre:", 4));
	got = openai_stream_ask_usage(in, strlen(in), &b);
	ck_assert_msg(got == ask_cases[_i].want, "ask usage of %s: got %d, want %d", in, got, ask_cases[_i].want);
	if (ask_cases[_i].out == NULL) {
		ck_assert_str_eq(b.p, "pre:");
	} else {
		ck_assert_str_eq(b.p + 4, ask_cases[_i].out);
		/* What was added parses as what was meant: asked again, the client "asked". */
		ck_assert_int_eq(openai_stream_ask_usage(b.p + 4, b.len - 4, &again), OPENAI_SU_ASKED);
		ck_assert_uint_eq(again.len, 0);
	}
	sg_buf_free(&again);
	sg_buf_free(&b);
}
END_TEST

/* ------------------------------------------- every allocation failing in turn */

/*
 * Each allocation of the rewrite fails in turn: the call says so (NOMEM /
 * false), leaves what out held before it, and leaks nothing (valgrind);
 * once no allocation fails it gives what it gives unarmed.
 */
START_TEST(ask_usage_and_relay_each_allocation)
{
	static const char ev[] = "data: {\"model\":\"up\",\"choices\":[],\ndata: \"usage\":{\"total_tokens\":6}}";
	char body[600], want[700];
	struct sg_buf b = {0};
	long failed_ask = 0, failed_relay = 0;
	bool ask_done = false, relay_done = false;

	/* Longer than a buffer's first 256 bytes, so that appending it allocates. */
	snprintf(body, sizeof(body),
		 "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"x\":1},\"pad\":\"%0400d\"}", 0);
	snprintf(want, sizeof(want),
		 "pre:{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true,"
		 "\"x\":1},\"pad\":\"%0400d\"}",
		 0);
	for (long n = 0; n < 64 && !(ask_done && relay_done); n++) {
		struct openai_event seen;
		enum openai_stream_usage su;
		bool ok;

		if (!ask_done) {
			ck_assert(sg_buf_append(&b, "pre:", 4));
			sg_alloc_fail_after(n);
			su = openai_stream_ask_usage(body, strlen(body), &b);
			sg_alloc_fail_after(-1);
			if (su == OPENAI_SU_NOMEM) {
				ck_assert_str_eq(b.p, "pre:");
				failed_ask++;
			} else {
				ck_assert_int_eq(su, OPENAI_SU_ADDED);
				ck_assert_str_eq(b.p, want);
				ask_done = true;
			}
			sg_buf_free(&b);
		}
		if (!relay_done) {
			sg_alloc_fail_after(n);
			ok = openai_sse_relay(ev, sizeof(ev) - 1, "\"asked\"", true, &b, &seen);
			sg_alloc_fail_after(-1);
			if (ok) {
				ck_assert(seen.usage_only && seen.dropped);
				ck_assert_int_eq(seen.usage.total_tokens, 6);
				relay_done = true;
			} else {
				failed_relay++;
			}
			sg_buf_free(&b);
		}
	}
	ck_assert(ask_done && relay_done);
	/* Each made at least one allocation that was failed. */
	ck_assert_int_gt(failed_ask, 0);
	ck_assert_int_gt(failed_relay, 0);
}
END_TEST

/* ------------------------------------------------------------ the estimate */

START_TEST(estimate_when_no_usage)
{
	struct request_inference inf = {.request_bytes = 403, .reply_bytes = 81};

	openai_inference_settle(&inf);
	ck_assert(!inf.usage_reported);
	ck_assert_int_eq(inf.prompt_tokens, 100);
	ck_assert_int_eq(inf.completion_tokens, 20);
	ck_assert_int_eq(inf.total_tokens, 120);

	/* Reported usage is kept as reported, whatever the bytes. */
	inf = (struct request_inference){.request_bytes = 4000,
					 .reply_bytes = 4000,
					 .usage_reported = true,
					 .prompt_tokens = 1,
					 .completion_tokens = 2,
					 .total_tokens = 3};
	openai_inference_settle(&inf);
	ck_assert_int_eq(inf.prompt_tokens, 1);
	ck_assert_int_eq(inf.completion_tokens, 2);
	ck_assert_int_eq(inf.total_tokens, 3);

	/* Nothing sent, nothing received: nothing charged. */
	inf = (struct request_inference){0};
	openai_inference_settle(&inf);
	ck_assert_int_eq(inf.total_tokens, 0);
}
END_TEST

Suite *
openai_usage_suite(void)
{
	const TTest *const pure[] = {reply_usage_is_the_top_level_one, ask_usage_and_relay_each_allocation,
				     estimate_when_no_usage, NULL};
	const struct sg_loop pure_loops[] = {SG_LOOP(usage_parse_table, usage_cases),
					     SG_LOOP(event_usage_table, event_cases),
					     SG_LOOP(ask_usage_table, ask_cases),
					     {.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure, .loops = pure_loops}, {.name = NULL}};

	return sg_suite_new("openai_usage", tcases);
}
