/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_openai.c: the openai module's pure parts (model rewrite in bodies
 * and SSE events, upstream error messages) and the proxy under it (SSE
 * splitting across arbitrary chunk boundaries, curl code mapping, and real
 * transfers against a scripted HTTP server on loopback: relay, buffering,
 * read timeout, abort, unreachable, cut).
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "json.h"
#include "openai.h"
#include "provider.h"
#include "proxy.h"
#include "suites.h"

/* ------------------------------------------------------------ SSE splitter */

struct events {
	char *v[32];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static bool
collect(void *ctx, const char *ev, size_t len)
{
	struct events *e = ctx;

	ck_assert_uint_lt(e->n, SG_ARRAY_LEN(e->v));
	e->v[e->n++] = sg_strndup(ev, len);
	return e->stop_after == 0 || e->n < e->stop_after;
}

static void
events_free(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

static const char sse_stream[] =
	": comment\r\n\r\n"
	"data: {\"model\":\"up\",\"x\":1}\n\n"
	"\n"
	"event: ping\rdata: a\r\rdata: b\r\n"
	"data: c\r\n\r\n"
	"data: [DONE]\n\n";
static const char *const sse_expect[] = {": comment", "data: {\"model\":\"up\",\"x\":1}", "event: ping\ndata: a",
					 "data: b\ndata: c", "data: [DONE]"};

static void
check_expected(const struct events *e)
{
	ck_assert_uint_eq(e->n, SG_ARRAY_LEN(sse_expect));
	for (size_t i = 0; i < e->n; i++)
		ck_assert_str_eq(e->v[i], sse_expect[i]);
}

START_TEST(sse_split_every_two_chunk_boundary)
{
	size_t len = sizeof(sse_stream) - 1;

	for (size_t cut = 0; cut <= len; cut++) {
		struct proxy_sse s = {0};
		struct events e = {0};
		bool truncated = true;

		ck_assert_int_eq(proxy_sse_feed(&s, sse_stream, cut, collect, &e), PROXY_SSE_OK);
		ck_assert_int_eq(proxy_sse_feed(&s, sse_stream + cut, len - cut, collect, &e), PROXY_SSE_OK);
		ck_assert_int_eq(proxy_sse_finish(&s, collect, &e, &truncated), PROXY_SSE_OK);
		ck_assert(!truncated);
		check_expected(&e);
		events_free(&e);
		proxy_sse_free(&s);
	}
}
END_TEST

START_TEST(sse_split_byte_by_byte_and_three_chunks)
{
	size_t len = sizeof(sse_stream) - 1;
	struct proxy_sse s = {0};
	struct events e = {0};
	bool truncated;

	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(proxy_sse_feed(&s, sse_stream + i, 1, collect, &e), PROXY_SSE_OK);
	ck_assert_int_eq(proxy_sse_finish(&s, collect, &e, &truncated), PROXY_SSE_OK);
	check_expected(&e);
	events_free(&e);
	proxy_sse_free(&s);

	/* Every pair of cuts: three chunks. */
	for (size_t a = 0; a <= len; a += 3) {
		for (size_t b = a; b <= len; b += 2) {
			ck_assert_int_eq(proxy_sse_feed(&s, sse_stream, a, collect, &e), PROXY_SSE_OK);
			ck_assert_int_eq(proxy_sse_feed(&s, sse_stream + a, b - a, collect, &e), PROXY_SSE_OK);
			ck_assert_int_eq(proxy_sse_feed(&s, sse_stream + b, len - b, collect, &e), PROXY_SSE_OK);
			check_expected(&e);
			events_free(&e);
		}
	}
	proxy_sse_free(&s);
}
END_TEST

START_TEST(sse_finish_lenient_and_truncated)
{
	struct proxy_sse s = {0};
	struct events e = {0};
	bool truncated;

	/* A last event ended by one line end only: still delivered. */
	ck_assert_int_eq(proxy_sse_feed(&s, "data: 1\n\ndata: 2\n", 17, collect, &e), PROXY_SSE_OK);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_int_eq(proxy_sse_finish(&s, collect, &e, &truncated), PROXY_SSE_OK);
	ck_assert(!truncated);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_str_eq(e.v[1], "data: 2");
	events_free(&e);

	/* Cut in the middle of a line: dropped and reported. */
	ck_assert_int_eq(proxy_sse_feed(&s, "data: {\"a\":", 11, collect, &e), PROXY_SSE_OK);
	ck_assert_int_eq(proxy_sse_finish(&s, collect, &e, &truncated), PROXY_SSE_OK);
	ck_assert(truncated);
	ck_assert_uint_eq(e.n, 0);

	/* Only blank lines left: nothing to report. */
	ck_assert_int_eq(proxy_sse_feed(&s, "\n\n\r\n", 4, collect, &e), PROXY_SSE_OK);
	ck_assert_int_eq(proxy_sse_finish(&s, collect, &e, &truncated), PROXY_SSE_OK);
	ck_assert(!truncated);
	ck_assert_uint_eq(e.n, 0);
	proxy_sse_free(&s);
}
END_TEST

START_TEST(sse_stop_and_too_big)
{
	struct proxy_sse s = {.max_event = 16};
	struct events e = {.stop_after = 1};
	char big[64];

	ck_assert_int_eq(proxy_sse_feed(&s, "data: 1\n\ndata: 2\n\n", 18, collect, &e), PROXY_SSE_STOP);
	ck_assert_uint_eq(e.n, 1);
	events_free(&e);
	proxy_sse_free(&s);

	s = (struct proxy_sse){.max_event = 16};
	e.stop_after = 0;
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(proxy_sse_feed(&s, "data: ", 6, collect, &e), PROXY_SSE_OK);
	ck_assert_int_eq(proxy_sse_feed(&s, big, sizeof(big), collect, &e), PROXY_SSE_TOO_BIG);
	ck_assert_uint_eq(e.n, 0);
	proxy_sse_free(&s);
}
END_TEST

/* ---------------------------------------------------------- model rewrite */

static void
rewrite_case(const char *in, enum openai_rewrite want, const char *out)
{
	struct sg_buf b = {0};
	enum openai_rewrite got = openai_rewrite_model(in, strlen(in), "\"asked\"", &b);

	ck_assert_msg(got == want, "rewrite of %s: got %d, want %d", in, got, want);
	if (out != NULL)
		ck_assert_str_eq(b.p ? b.p : "", out);
	else
		ck_assert_uint_eq(b.len, 0);
	sg_buf_free(&b);
}

/* An event's payload: its data lines' values joined, whatever else the event holds. */
static const struct {
	const char *ev;
	int n;
	const char *data;
} sse_data_cases[] = {
	{"data: {\"a\":1}", 1, "{\"a\":1}"},
	{"data: one\ndata:two\ndata:  three", 3, "one\ntwo\n three"},
	{"event: x\nid: 7\ndata: y\nretry: 5", 1, "y"},
	{": a comment\nevent: ping", 0, ""},
	{"data:", 1, ""},
	{"data", 0, ""},
	{"", 0, ""},
};

START_TEST(sse_event_data)
{
	struct sg_buf out = {0};

	ck_assert(sg_buf_append(&out, "stale", 5));
	ck_assert_int_eq(proxy_sse_data(sse_data_cases[_i].ev, strlen(sse_data_cases[_i].ev), &out),
			 sse_data_cases[_i].n);
	ck_assert_uint_eq(out.len, strlen(sse_data_cases[_i].data));
	ck_assert_str_eq(out.p, sse_data_cases[_i].data);
	sg_buf_free(&out);
}
END_TEST

START_TEST(rewrite_top_level_model_only)
{
	rewrite_case("{\"id\":\"x\",\"model\":\"up\",\"n\":0.10}", OPENAI_RW_REPLACED,
		     "{\"id\":\"x\",\"model\":\"asked\",\"n\":0.10}");
	rewrite_case(" { \"model\" : \"up\" } \n", OPENAI_RW_REPLACED, " { \"model\" : \"asked\" } \n");
	/* Nested "model" keys and the word inside strings stay. */
	rewrite_case(
		"{\"a\":{\"model\":\"in\"},\"s\":\"\\\"model\\\":\\\"x\\\"\",\"model\":\"up\",\"l\":[{\"model\":1}]}",
		OPENAI_RW_REPLACED,
		"{\"a\":{\"model\":\"in\"},\"s\":\"\\\"model\\\":\\\"x\\\"\",\"model\":\"asked\",\"l\":[{\"model\":1}]}");
	/* Any value type is replaced whole. */
	rewrite_case("{\"model\":null}", OPENAI_RW_REPLACED, "{\"model\":\"asked\"}");
	rewrite_case("{\"model\":{\"a\":[1,2]},\"b\":true}", OPENAI_RW_REPLACED, "{\"model\":\"asked\",\"b\":true}");
	rewrite_case("{\"x\":\"\\u00e9\\n\",\"y\":-1.5e+3,\"z\":[],\"w\":{},\"v\":false}", OPENAI_RW_NO_MODEL,
		     "{\"x\":\"\\u00e9\\n\",\"y\":-1.5e+3,\"z\":[],\"w\":{},\"v\":false}");
	rewrite_case("{}", OPENAI_RW_NO_MODEL, "{}");
}
END_TEST

START_TEST(rewrite_every_model_key_however_spelled)
{
	/* Duplicate keys: every one (a reader may take the first or the last). */
	rewrite_case("{\"model\":1,\"model\":2,\"model\":3,\"model\":4,\"model\":5,\"model\":\"up\"}",
		     OPENAI_RW_REPLACED,
		     "{\"model\":\"asked\",\"model\":\"asked\",\"model\":\"asked\",\"model\":\"asked\","
		     "\"model\":\"asked\",\"model\":\"asked\"}");
	/* Escaped key names decode to "model" too. */
	rewrite_case("{\"mod\\u0065l\":\"up\"}", OPENAI_RW_REPLACED, "{\"mod\\u0065l\":\"asked\"}");
	rewrite_case("{\"\\u006Dodel\":\"up\",\"model\":\"up\"}", OPENAI_RW_REPLACED,
		     "{\"\\u006Dodel\":\"asked\",\"model\":\"asked\"}");
	rewrite_case("{\"\\u006d\\u006f\\u0064\\u0065\\u006c\":[1]}", OPENAI_RW_REPLACED,
		     "{\"\\u006d\\u006f\\u0064\\u0065\\u006c\":\"asked\"}");
	/* Keys that only look alike stay. */
	rewrite_case("{\"Model\":1,\"models\":2,\"mode\":3,\"model\\u0000\":4,\"mod\\nel\":5}", OPENAI_RW_NO_MODEL,
		     "{\"Model\":1,\"models\":2,\"mode\":3,\"model\\u0000\":4,\"mod\\nel\":5}");
}
END_TEST

START_TEST(rewrite_rejects_what_is_not_one_object)
{
	static const char *const bad[] = {
		"",
		"   ",
		"not json",
		"[1,2]",
		"\"model\"",
		"{\"model\":\"a\"",
		"{\"model\":\"a\"} x",
		"{\"model\":\"a\",}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":tru}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"line\nbreak\"}",
		"{\"a\" 1}",
		"{model:1}",
		"{\"a\":[1,]}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":-}",
		"{\"a\":1e}",
		"{\"a\":1}{\"b\":2}",
	};
	char deep[600];
	size_t n = 0;

	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++)
		rewrite_case(bad[i], OPENAI_RW_NOT_OBJECT, NULL);
	/* Nesting beyond the scanner's limit is refused, not recursed into. */
	deep[n++] = '{';
	deep[n++] = '"';
	deep[n++] = 'a';
	deep[n++] = '"';
	deep[n++] = ':';
	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	for (int i = 0; i < 200; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	rewrite_case(deep, OPENAI_RW_NOT_OBJECT, NULL);
}
END_TEST

/* ------------------------------------------- the request body's validating pass */

/* A body, and what openai_request_scan() must say of it (the depth limit is 64 unless given). */
static const struct scan_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int depth;  /* 0: 64 */
	bool ok;
	enum openai_field model, stream;
	const char *name;
} scan_cases[] = {
	{"{\"model\":\"m\",\"stream\":true}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_TRUE, "m"},
	{" {\"stream\":false , \"model\" : \"a b\"}\r\n", 0, 0, true, OPENAI_F_STRING, OPENAI_F_FALSE, "a b"},
	{"{\"model\":null,\"stream\":null}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	{"{\"model\":1,\"stream\":\"yes\"}", 0, 0, true, OPENAI_F_OTHER, OPENAI_F_STRING, NULL},
	{"{\"model\":[\"m\"],\"stream\":{}}", 0, 0, true, OPENAI_F_OTHER, OPENAI_F_OTHER, NULL},
	{"{}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	/* Keys and values decoded: the model checked is the model served. */
	{"{\"mod\\u0065l\":\"ll\\u0061ma\",\"str\\u0065am\":true}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_TRUE,
	 "llama"},
	{"{\"model\":\"\\\"q\\\\\\/\\n\\u00e9\\ud83d\\ude00\"}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_ABSENT,
	 "\"q\\/\n\xc3\xa9\xf0\x9f\x98\x80"},
	{"{\"model\":\"\"}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_ABSENT, ""},
	/* Only the top level counts. */
	{"{\"a\":{\"model\":\"x\",\"stream\":true}}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	/* Duplicate keys, at any depth, however spelled. */
	{"{\"model\":\"a\",\"model\":\"b\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"a\",\"mod\\u0065l\":\"b\"}", 0, 0, false, 0, 0, NULL},
	{"{\"stream\":true,\"stre\\u0061m\":false}", 0, 0, false, 0, 0, NULL},
	{"{\"m\":[{\"a\":1,\"b\":2,\"a\":3}]}", 0, 0, false, 0, 0, NULL},
	{"{\"x\":{\"\xc3\xa9\":1,\"\\u00e9\":2}}", 0, 0, false, 0, 0, NULL},
	{"{\"x\":{\"\\/\":1,\"/\":2}}", 0, 0, false, 0, 0, NULL},
	{"{\"a\":{\"k\":1},\"b\":{\"k\":1},\"k\":[{\"k\":1},{\"k\":2}]}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT,
	 NULL},
	{"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
	 "\"model\":\"m\",\"n\":14,\"o\":15,\"p\":16,\"q\":17,\"r\":18,\"s\":19,\"t\":20}",
	 0, 0, true, OPENAI_F_STRING, OPENAI_F_ABSENT, "m"},
	{"{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
	 "\"model\":\"m\",\"n\":14,\"o\":15,\"p\":16,\"q\":17,\"r\":18,\"s\":19,\"\\u0062\":20}",
	 0, 0, false, 0, 0, NULL},
	{"{\"ab\":1,\"a\":2,\"abc\":3}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	/* UTF-8 as jansson checks it: overlongs, surrogates, past U+10FFFF, cut sequences. */
	{"{\"model\":\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\"}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_ABSENT,
	 "\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf"},
	{"{\"model\":\"\xc0\x80\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\xed\xa0\x80\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\xf4\x90\x80\x80\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\xe2\x82\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\x80\"}", 0, 0, false, 0, 0, NULL},
	{"{\"\xff\":1}", 0, 0, false, 0, 0, NULL},
	/* \u escapes: NUL refused anywhere, surrogates only in pairs. */
	{"{\"model\":\"a\\u0000\"}", 0, 0, false, 0, 0, NULL},
	{"{\"k\\u0000\":1}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\\ud800\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\\udc00\\ud800\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\\ud800\\u0041\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\\uD800\\uDBFF\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"\\uDBFF\\uDFFF\"}", 0, 0, true, OPENAI_F_STRING, OPENAI_F_ABSENT, "\xf4\x8f\xbf\xbf"},
	/* Numbers: jansson's integer and real overflow. */
	{"{\"n\":[9223372036854775807,-9223372036854775808,0,-0,1e308,-1.7976931348623157e308,1e-400,0e999999]}", 0, 0,
	 true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	{"{\"n\":9223372036854775808}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":-9223372036854775809}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":12345678901234567890}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":1e309}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":-1.7976931348623159e308}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":0.00000000000000000000000000000000000000001e330}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	{"{\"n\":1000000000000000000000000000000e290}", 0, 0, false, 0, 0, NULL},
	{"{\"n\":1e00000000000000000000000000308}", 0, 0, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	{"{\"n\":01}", 0, 0, false, 0, 0, NULL},
	/* Depth: the limit given, containers counted. */
	{"{\"a\":{\"b\":[]}}", 0, 3, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	{"{\"a\":{\"b\":[{}]}}", 0, 3, false, 0, 0, NULL},
	{"{\"a\":{\"b\":[1]}}", 0, 3, true, OPENAI_F_ABSENT, OPENAI_F_ABSENT, NULL},
	/* Not one object. */
	{"", 0, 0, false, 0, 0, NULL},
	{"[{\"model\":\"m\"}]", 0, 0, false, 0, 0, NULL},
	{"\"model\"", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"m\"} {}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"m\",}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"m\"}\0", 15, 0, false, 0, 0, NULL},
	{"{\"model\":\"m\0\"}", 15, 0, false, 0, 0, NULL},
	{"{\"model\":\"a\tb\"}", 0, 0, false, 0, 0, NULL},
	{"{\"model\":\"m\",\"stream\":tru}", 0, 0, false, 0, 0, NULL},
};

START_TEST(request_scan_decides_as_the_parse)
{
	const struct scan_case *c = &scan_cases[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	int depth = c->depth ? c->depth : 64;
	struct openai_request_fields f;
	enum openai_scan got = openai_request_scan(c->in, len, depth, &f);
	char err[256];
	json_t *v = sg_json_parse(c->in, len, (size_t) depth, err, sizeof(err));

	/* The case's expectation is the full parse's decision, and the scan's. */
	ck_assert_msg((v != NULL && json_is_object(v)) == c->ok, "case %d: the parse disagrees with the case", _i);
	ck_assert_msg(got == (c->ok ? OPENAI_SCAN_OK : OPENAI_SCAN_INVALID), "case %d (%s): scan %d, want %s", _i,
		      c->in, got, c->ok ? "ok" : "invalid");
	if (c->ok) {
		ck_assert_msg(f.model == c->model, "case %d: model kind %d, want %d", _i, f.model, c->model);
		ck_assert_msg(f.stream == c->stream, "case %d: stream kind %d, want %d", _i, f.stream, c->stream);
		if (c->name != NULL) {
			ck_assert_ptr_nonnull(f.model_name);
			ck_assert_str_eq(f.model_name, c->name);
			ck_assert_str_eq(f.model_name, json_string_value(json_object_get(v, "model")));
		} else {
			ck_assert_ptr_null(f.model_name);
		}
	} else {
		ck_assert_ptr_null(f.model_name);
	}
	free(f.model_name);
	json_decref(v);
}
END_TEST

/*
 * The string scanner steps over eight plain bytes at a time: each kind of byte it must stop at, at
 * every offset before, across and after a word, decides as the parse does (and decodes as it does).
 */
START_TEST(request_scan_strings_at_every_offset)
{
	static const char *const special[] = {"\"", "\\n", "\\\"", "\\u00e9", "\x01", "\x1f", "\t", "\x7f", "\xc3\xa9",
					      "\xe2\x82\xac", "\xff", "\xc3", "\\q", "~", " ", "!",
					      /* after a first byte of 0x80 or more (then those are skipped whole) */
					      "\xc3\xa9\xff", "\xc3\xa9\x01", "\xc3\xa9\"", "\xc3\xa9\\n",
					      "\xc3\xa9\xe2\x82", "\xc3\xa9\xed\xa0\x80"};
	char body[128], err[256];

	for (size_t k = 0; k < SG_ARRAY_LEN(special); k++)
		for (int at = 0; at < 18; at++) {
			struct openai_request_fields f;
			int n = snprintf(body, sizeof(body), "{\"model\":\"%.*s%s%s\",\"stream\":true}", at,
					 "abcdefghijklmnopqrstuvwxyz", special[k], "0123456789ABCDEFG");
			enum openai_scan got = openai_request_scan(body, (size_t) n, 64, &f);
			json_t *v = sg_json_parse(body, (size_t) n, 64, err, sizeof(err));
			bool ok = v != NULL && json_is_object(v);

			ck_assert_msg(got == (ok ? OPENAI_SCAN_OK : OPENAI_SCAN_INVALID), "%s: scan %d, parse %d", body,
				      got, ok);
			if (ok && json_is_string(json_object_get(v, "model"))) {
				ck_assert_ptr_nonnull(f.model_name);
				ck_assert_str_eq(f.model_name, json_string_value(json_object_get(v, "model")));
				ck_assert_int_eq(f.stream, OPENAI_F_TRUE);
			}
			free(f.model_name);
			json_decref(v);
		}
}
END_TEST

/* A deep body within a limit the rewrite scanner (128) does not reach, and past it. */
START_TEST(request_scan_depth_is_the_limit_given)
{
	struct sg_buf b = {0};
	struct openai_request_fields f;

	ck_assert(sg_buf_append(&b, "{\"model\":\"m\",\"a\":", 17));
	for (int i = 0; i < 299; i++)
		ck_assert(sg_buf_append(&b, "[", 1));
	for (int i = 0; i < 299; i++)
		ck_assert(sg_buf_append(&b, "]", 1));
	ck_assert(sg_buf_append(&b, "}", 1));
	ck_assert_int_eq(openai_request_scan(b.p, b.len, 300, &f), OPENAI_SCAN_OK);
	ck_assert_str_eq(f.model_name, "m");
	free(f.model_name);
	ck_assert_int_eq(openai_request_scan(b.p, b.len, 299, &f), OPENAI_SCAN_INVALID);
	ck_assert_ptr_null(f.model_name);
	sg_buf_free(&b);
}
END_TEST

/* Many keys in one object: a duplicate found however far apart. */
START_TEST(request_scan_many_keys)
{
	struct sg_buf b = {0};
	struct openai_request_fields f;
	char k[32];

	ck_assert(sg_buf_append(&b, "{", 1));
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(k, sizeof(k), "%s\"k%d\":%d", i ? "," : "", i, i);

		ck_assert(sg_buf_append(&b, k, (size_t) n));
	}
	ck_assert(sg_buf_append(&b, "}", 1));
	ck_assert_int_eq(openai_request_scan(b.p, b.len, 64, &f), OPENAI_SCAN_OK);
	b.len--;
	ck_assert(sg_buf_append(&b, ",\"k\\u00337\":1}", 14));
	ck_assert_int_eq(openai_request_scan(b.p, b.len, 64, &f), OPENAI_SCAN_INVALID);
	sg_buf_free(&b);
}
END_TEST

/* sg_json_quote writes what jansson's compact dump of the string writes, and refuses what json_string refuses. */
START_TEST(json_quote_is_the_dump_of_a_string)
{
	static const char *const cases[] = {
		"",
		"llama-3.1-8b",
		"q\"uo\\te/slash",
		"\b\f\n\r\t\x01\x1f\x7f",
		"\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x99",
		"meta-llama/Llama-3.2-3B-Instruct",
	};
	static const char *const invalid[] = {"\xff", "a\xc0\x80", "\xed\xa0\x80", "\xe2\x82"};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		struct sg_buf b = {0};
		json_t *j = json_string(cases[i]);
		char *want = sg_json_dump(j);

		ck_assert(sg_buf_append(&b, "x", 1));
		ck_assert(sg_json_quote(&b, cases[i]));
		ck_assert_str_eq(b.p + 1, want);
		free(want);
		json_decref(j);
		sg_buf_free(&b);
	}
	for (size_t i = 0; i < SG_ARRAY_LEN(invalid); i++) {
		struct sg_buf b = {0};

		ck_assert_ptr_null(json_string(invalid[i]));
		ck_assert(sg_buf_append(&b, "x", 1));
		ck_assert(!sg_json_quote(&b, invalid[i]));
		ck_assert_str_eq(b.p, "x");
		sg_buf_free(&b);
	}
}
END_TEST

static void
event_case(const char *in, const char *out, bool want_done)
{
	struct sg_buf b = {0};
	bool done = false;

	ck_assert(openai_sse_rewrite(in, strlen(in), "\"asked\"", &b, &done));
	ck_assert_str_eq(b.p, out);
	ck_assert_int_eq(done, want_done);
	sg_buf_free(&b);
}

START_TEST(event_rewrite)
{
	event_case("data: {\"id\":\"c1\",\"model\":\"up\",\"choices\":[]}",
		   "data: {\"id\":\"c1\",\"model\":\"asked\",\"choices\":[]}\n\n", false);
	event_case("data:{\"model\":\"up\"}", "data: {\"model\":\"asked\"}\n\n", false);
	event_case("data: [DONE]", "data: [DONE]\n\n", true);
	/* Only an exact [DONE] ends the stream. */
	event_case("data: [DONE]garbage", "data: [DONE]garbage\n\n", false);
	event_case("data: [DONE] ", "data: [DONE] \n\n", false);
	event_case(": keep-alive", ": keep-alive\n\n", false);
	event_case("data: not json {model}", "data: not json {model}\n\n", false);
	event_case("data: {\"error\":{\"message\":\"x\"}}", "data: {\"error\":{\"message\":\"x\"}}\n\n", false);
	/* Other fields keep their place; a payload on several lines is one JSON text. */
	event_case("id: 7\nevent: chunk\ndata: {\"model\":\ndata: \"up\"}\nretry: 10",
		   "id: 7\nevent: chunk\ndata: {\"model\":\ndata: \"asked\"}\nretry: 10\n\n", false);
	event_case("data: a\n: note\ndata: b", "data: a\ndata: b\n: note\n\n", false);
}
END_TEST

/* ------------------------------------------------------ upstream error text */

START_TEST(upstream_error_messages)
{
	static const struct {
		const char *body, *msg, *param;
		bool found;
	} cases[] = {
		{"{\"error\":{\"message\":\"bad temperature\",\"type\":\"x\",\"param\":\"temperature\"}}",
		 "bad temperature", "temperature", true},
		{"{\"error\":\"plain\"}", "plain", "", true},
		{"{\"detail\":\"fastapi says\"}", "fastapi says", "", true},
		{"{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}", "field required", "", true},
		{"{\"object\":\"error\",\"message\":\"vllm style\",\"code\":400}", "vllm style", "", true},
		{"{\"error\":{\"message\":\"\"}}", "", "", false},
		{"{\"error\":{\"code\":1}}", "", "", false},
		{"<html>502</html>", "", "", false},
		{"[\"error\"]", "", "", false},
		{"", "", "", false},
	};
	char msg[64], param[32];

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		bool found = openai_upstream_error(cases[i].body, strlen(cases[i].body), msg, sizeof(msg), param,
						   sizeof(param));

		ck_assert_msg(found == cases[i].found, "case %zu", i);
		ck_assert_str_eq(msg, cases[i].msg);
		ck_assert_str_eq(param, cases[i].param);
	}
}
END_TEST

START_TEST(upstream_error_truncates_on_character_boundary)
{
	/* "é" is two bytes: 8 bytes hold "aaaaaa" and the NUL, not half an é. */
	const char *body = "{\"error\":{\"message\":\"aaaaaa\\u00e9\\u00e9\"}}";
	char msg[16];

	ck_assert(openai_upstream_error(body, strlen(body), msg, 8, NULL, 0));
	ck_assert_str_eq(msg, "aaaaaa");
	ck_assert(openai_upstream_error(body, strlen(body), msg, 9, NULL, 0));
	ck_assert_str_eq(msg, "aaaaaa\xc3\xa9");
}
END_TEST

/* -------------------------------------------------------------- curl codes */

START_TEST(curl_code_mapping)
{
	static const struct {
		int code;
		bool connected, timed_out;
		sg_status want;
		const char *text;
	} cases[] = {
		{CURLE_OK, true, false, SG_OK, ""},
		{CURLE_COULDNT_CONNECT, false, false, SG_E_BAD_GATEWAY, "upstream vllm is unreachable"},
		{CURLE_COULDNT_RESOLVE_HOST, false, false, SG_E_BAD_GATEWAY, "upstream vllm is unreachable"},
		{CURLE_OPERATION_TIMEDOUT, false, false, SG_E_BAD_GATEWAY,
		 "upstream vllm is unreachable: the connection timed out"},
		{CURLE_OPERATION_TIMEDOUT, true, false, SG_E_GATEWAY_TIMEOUT, "upstream vllm timed out"},
		{CURLE_ABORTED_BY_CALLBACK, true, true, SG_E_GATEWAY_TIMEOUT,
		 "upstream vllm timed out: no data received within the read timeout"},
		{CURLE_PARTIAL_FILE, true, false, SG_E_BAD_GATEWAY,
		 "upstream vllm closed the connection before its reply was complete"},
		{CURLE_RECV_ERROR, true, false, SG_E_BAD_GATEWAY,
		 "upstream vllm closed the connection before its reply was complete"},
		{CURLE_GOT_NOTHING, true, false, SG_E_BAD_GATEWAY,
		 "upstream vllm closed the connection before its reply was complete"},
		{CURLE_WEIRD_SERVER_REPLY, true, false, SG_E_BAD_GATEWAY, "upstream vllm sent an invalid HTTP reply"},
		{CURLE_PEER_FAILED_VERIFICATION, true, false, SG_E_BAD_GATEWAY,
		 "upstream vllm is unreachable: the TLS handshake failed"},
		{CURLE_OUT_OF_MEMORY, true, false, SG_E_NOMEM, "out of memory"},
		{CURLE_TOO_MANY_REDIRECTS, true, false, SG_E_BAD_GATEWAY, NULL},
	};
	struct sg_err err = {0};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		sg_status st = proxy_map_curl(cases[i].code, cases[i].connected, cases[i].timed_out, "vllm", &err);

		ck_assert_msg(st == cases[i].want, "curl code %d: got %s", cases[i].code, sg_status_name(st));
		if (cases[i].text != NULL)
			ck_assert_str_eq(err.msg, cases[i].text);
		else
			ck_assert_ptr_nonnull(strstr(err.msg, "upstream vllm"));
	}
}
END_TEST

/* ------------------------------------------- transfers against a fake upstream */

struct fake {
	int lfd, port;
	pthread_t th;
	const char *parts[8]; /* written in turn, delay_ms apart */
	int delay_ms;
	int nconn;      /* connections to serve, one after the other */
	int hold_ms;    /* then wait this long for the client to close */
	char req[8192]; /* the last request received */
	bool saw_close; /* the client closed while we held the connection */
};

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void
read_request(int fd, struct fake *f)
{
	size_t have = 0;
	long clen = -1;
	char *eoh = NULL;

	for (;;) {
		ssize_t n = recv(fd, f->req + have, sizeof(f->req) - 1 - have, 0);

		if (n <= 0)
			break;
		have += (size_t) n;
		f->req[have] = '\0';
		if (eoh == NULL && (eoh = strstr(f->req, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(f->req, "\r\nContent-Length:");

			clen = cl != NULL && cl < eoh ? strtol(cl + 17, NULL, 10) : 0;
		}
		if (eoh != NULL && (long) (have - (size_t) (eoh + 4 - f->req)) >= clen)
			break;
	}
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;

	for (int c = 0; c < f->nconn; c++) {
		int fd = accept(f->lfd, NULL, NULL);

		if (fd < 0)
			break;
		read_request(fd, f);
		for (size_t i = 0; i < SG_ARRAY_LEN(f->parts) && f->parts[i] != NULL; i++) {
			if (i > 0 && f->delay_ms > 0)
				sleep_ms(f->delay_ms);
			if (send(fd, f->parts[i], strlen(f->parts[i]), MSG_NOSIGNAL) < 0)
				break;
		}
		if (f->hold_ms > 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			char b;

			if (poll(&pfd, 1, f->hold_ms) == 1 && recv(fd, &b, 1, 0) <= 0)
				f->saw_close = true;
		}
		close(fd);
	}
	return NULL;
}

static void
fake_start(struct fake *f)
{
	if (f->nconn == 0)
		f->nconn = 1;
	f->lfd = sg_test_listen_loopback(&f->port);
	ck_assert_int_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static void
provider_for(struct sg_provider *p, char *url, size_t urllen, int port, const char *key, long read_ms)
{
	snprintf(url, urllen, "http://127.0.0.1:%d/v1", port);
	*p = (struct sg_provider){.api = SG_API_INFERENCE,
				  .provider_id = (char *) "fake",
				  .provider_type = (char *) "remote::vllm",
				  .openai_compat = true,
				  .base_url = url,
				  .api_key = (char *) key,
				  .connect_timeout_ms = 2000,
				  .read_timeout_ms = read_ms,
				  .tls_verify = true,
				  .check_models = true};
}

struct sink_log {
	int begins;
	long status;
	struct sg_buf data;
	int stop_after_bytes; /* > 0: return false once this many arrived */
};

static bool
sink_begin(void *ctx, long status, const char *ct)
{
	struct sink_log *l = ctx;

	l->begins++;
	l->status = status;
	ck_assert_str_eq(ct, "text/event-stream");
	return true;
}

static bool
sink_data(void *ctx, const char *buf, size_t len)
{
	struct sink_log *l = ctx;

	ck_assert_int_eq(l->begins, 1);
	ck_assert(sg_buf_append(&l->data, buf, len));
	return l->stop_after_bytes == 0 || (int) l->data.len < l->stop_after_bytes;
}

static const char sse_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";

/* Each of the NULL-terminated header lines is in the request the fake upstream received (names case-insensitive). */
static void
expect_headers(const char *req, const char *const *lines)
{
	for (; *lines != NULL; lines++)
		ck_assert_msg(strcasestr(req, *lines) != NULL, "the request lacks '%s'", *lines);
}

/* One proxy call to a fake upstream: its provider, a sink that logs, and a POST of {} to /completions. */
struct xfer {
	struct sg_provider p;
	char url[64];
	struct sg_err err;
	struct sink_log l;
	struct proxy_sink sink;
	struct proxy_response resp;
	struct proxy_request q;
};

/* Starts f and aims x at it: key is the provider's API key (may be NULL), read_ms its read timeout. */
static void
xfer_start(struct xfer *x, struct fake *f, const char *key, long read_ms)
{
	fake_start(f);
	provider_for(&x->p, x->url, sizeof(x->url), f->port, key, read_ms);
	x->sink = (struct proxy_sink){sink_begin, sink_data, &x->l};
	x->q = (struct proxy_request){
		.provider = &x->p, .method = "POST", .path = "/completions", .body = "{}", .body_len = 2};
}

static void
xfer_free(struct xfer *x)
{
	proxy_response_free(&x->resp);
	sg_buf_free(&x->l.data);
}

START_TEST(proxy_relays_a_stream_with_the_provider_key)
{
	struct fake f = {.parts = {sse_head, "data: {\"model\":\"up\"}\n", "\ndata: [DONE]\n\n"}, .delay_ms = 50};
	struct xfer x = {0};

	xfer_start(&x, &f, "sekrit", 5000);
	x.q.path = "/chat/completions";
	x.q.body = "{\"stream\":true}";
	x.q.body_len = 15;
	x.q.request_id = "rid-1";
	ck_assert_int_eq(proxy_stream(&x.q, &x.sink, &x.resp, &x.err), SG_OK);
	fake_stop(&f);
	ck_assert(x.resp.streamed);
	ck_assert(!x.resp.aborted);
	ck_assert_int_eq(x.resp.status, 200);
	ck_assert_int_eq(x.l.begins, 1);
	ck_assert_str_eq(x.l.data.p, "data: {\"model\":\"up\"}\n\ndata: [DONE]\n\n");
	ck_assert_uint_eq(x.resp.body.len, 0);
	ck_assert_ptr_nonnull(strstr(f.req, "POST /v1/chat/completions HTTP/1.1\r\n"));
	expect_headers(f.req, (const char *const[]){"\r\nAuthorization: Bearer sekrit\r\n",
						    "\r\nContent-Type: application/json\r\n",
						    "\r\nX-Request-Id: rid-1\r\n", NULL});
	ck_assert_ptr_nonnull(strstr(f.req, "\r\n\r\n{\"stream\":true}"));
	xfer_free(&x);
}
END_TEST

START_TEST(proxy_buffers_an_error_answer_without_a_key)
{
	static const char reply[] =
		"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
		"Content-Length: 30\r\nConnection: close\r\n\r\n"
		"{\"error\":{\"message\":\"no way\"}}";
	struct fake f = {.parts = {reply}};
	struct xfer x = {0};

	xfer_start(&x, &f, NULL, 5000);
	ck_assert_int_eq(proxy_stream(&x.q, &x.sink, &x.resp, &x.err), SG_OK);
	fake_stop(&f);
	ck_assert(!x.resp.streamed);
	ck_assert_int_eq(x.l.begins, 0);
	ck_assert_int_eq(x.resp.status, 400);
	ck_assert_str_eq(x.resp.content_type, "application/json");
	ck_assert_str_eq(x.resp.body.p, "{\"error\":{\"message\":\"no way\"}}");
	ck_assert_ptr_null(strcasestr(f.req, "Authorization:"));
	xfer_free(&x);
}
END_TEST

/* What one call sets on the thread's handle does not reach the next call on it. */
START_TEST(proxy_options_do_not_outlive_their_call)
{
	static const char reply[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		"Content-Length: 2\r\nConnection: close\r\n\r\n{}";
	static const char *const extra[] = {"X-Conf: v", NULL};
	struct fake f = {.parts = {reply}, .nconn = 2};
	struct sg_provider p, keyed;
	char url[64], pin[64];
	struct sg_err err = {0};
	struct proxy_response resp;
	struct proxy_request q = {.method = "PATCH", .path = "label", .body = "{\"a\":1}", .body_len = 7};

	fake_start(&f);
	provider_for(&keyed, url, sizeof(url), f.port, "sekrit", 5000);
	snprintf(pin, sizeof(pin), "::127.0.0.1:%d", f.port);
	q.provider = &keyed;
	q.url = "http://pinned.invalid:1/mcp";
	q.connect_to = pin;
	q.accept = "application/x-one";
	q.headers = extra;
	q.request_id = "rid-9";
	q.timeout_ms = 3000;
	ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(strstr(f.req, "PATCH /mcp HTTP/1.1\r\n"));
	expect_headers(f.req, (const char *const[]){"\r\nX-Conf: v\r\n", "\r\nAuthorization: Bearer sekrit\r\n",
						    "\r\nAccept: application/x-one\r\n", "\r\nX-Request-Id: rid-9\r\n",
						    "\r\nContent-Type: application/json\r\n", NULL});
	proxy_response_free(&resp);

	/* A plain GET after it: no method, URL, pin, header, key or body of the first. */
	provider_for(&p, url, sizeof(url), f.port, NULL, 5000);
	q = (struct proxy_request){.provider = &p, .method = "GET", .path = "/models"};
	ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_OK);
	fake_stop(&f);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_msg(strncmp(f.req, "GET /v1/models HTTP/1.1\r\n", 25) == 0, "request: %s", f.req);
	expect_headers(f.req, (const char *const[]){"\r\nAccept: application/json\r\n", NULL});
	ck_assert_ptr_null(strcasestr(f.req, "pinned.invalid"));
	ck_assert_ptr_null(strcasestr(f.req, "X-Conf"));
	ck_assert_ptr_null(strcasestr(f.req, "Authorization"));
	ck_assert_ptr_null(strcasestr(f.req, "X-Request-Id"));
	ck_assert_ptr_null(strcasestr(f.req, "Content-Type"));
	ck_assert_ptr_null(strcasestr(f.req, "Content-Length"));
	ck_assert_ptr_null(strstr(f.req, "{\"a\":1}"));
	proxy_response_free(&resp);
}
END_TEST

/* `openssl s_server -www` on loopback with a fresh self-signed certificate (dir/cert.pem). */
static pid_t
tls_server_start(const char *dir, int *port)
{
	char cmd[2048], cert[512], key[512], accept_at[64];
	int fd = sg_test_listen_loopback(port);
	pid_t pid;

	close(fd);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(
		cmd, sizeof(cmd),
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 "
		"-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1",
		key, cert);
	ck_assert_msg(system(cmd) == 0, "openssl could not make a certificate");
	snprintf(accept_at, sizeof(accept_at), "127.0.0.1:%d", *port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept_at, "-cert", cert, "-key", key, "-www",
		       "-quiet", (char *) NULL);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					 .sin_port = htons((uint16_t) *port)};
		int c = socket(AF_INET, SOCK_STREAM, 0);
		bool up = connect(c, (struct sockaddr *) &sa, sizeof(sa)) == 0;

		close(c);
		if (up)
			return pid;
		sleep_ms(10);
	}
	kill(pid, SIGTERM);
	ck_abort_msg("openssl s_server did not start");
	return -1;
}

/*
 * A provider's ca_file is its own: the next call on the thread's handle, to a
 * provider without one, verifies against the system CAs again (so it refuses
 * the self-signed server), and the first provider's next call trusts it again.
 */
START_TEST(proxy_ca_file_stays_with_its_provider)
{
	char dir[] = "/tmp/sg-tls-XXXXXX", url[64], ca[600];
	struct sg_provider with_ca, without;
	struct sg_err err = {0};
	struct proxy_response resp;
	struct proxy_request q = {.method = "GET", .path = "/"};
	int port, status;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	pid = tls_server_start(dir, &port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
	with_ca = (struct sg_provider){.provider_id = (char *) "own-ca",
				       .base_url = url,
				       .connect_timeout_ms = 2000,
				       .read_timeout_ms = 5000,
				       .tls_verify = true,
				       .ca_file = ca};
	without = with_ca;
	without.provider_id = (char *) "system-ca";
	without.ca_file = NULL;

	for (int round = 0; round < 2; round++) {
		q.provider = &with_ca;
		ck_assert_msg(proxy_call(&q, &resp, &err) == SG_OK, "round %d, own CA: %s", round, err.msg);
		ck_assert_int_eq(resp.status, 200);
		proxy_response_free(&resp);
		q.provider = &without;
		ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_E_BAD_GATEWAY);
		ck_assert_str_eq(err.msg, "upstream system-ca is unreachable: the TLS handshake failed");
		proxy_response_free(&resp);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	snprintf(ca, sizeof(ca), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(ca), 0);
}
END_TEST

START_TEST(proxy_read_timeout_is_silence_not_total)
{
	/* Bytes every 400 ms for 1.6 s under a 1 s read timeout: fine.  Then silence: 504. */
	struct fake f = {
		.parts = {sse_head, ": a\n\n", ": b\n\n", ": c\n\n", ": d\n\n"}, .delay_ms = 400, .hold_ms = 4000};
	struct xfer x = {0};
	sg_status st;

	xfer_start(&x, &f, NULL, 1000);
	st = proxy_stream(&x.q, &x.sink, &x.resp, &x.err);
	fake_stop(&f);
	ck_assert_int_eq(st, SG_E_GATEWAY_TIMEOUT);
	ck_assert(x.resp.streamed);
	ck_assert_str_eq(x.l.data.p, ": a\n\n: b\n\n: c\n\n: d\n\n");
	ck_assert_ptr_nonnull(strstr(x.err.msg, "timed out"));
	ck_assert_int_lt(x.resp.duration_ms, 3900);
	ck_assert(f.saw_close);
	xfer_free(&x);
}
END_TEST

START_TEST(proxy_sink_abort_closes_the_upstream_connection)
{
	struct fake f = {.parts = {sse_head, "data: 1\n\n", "data: 2\n\n"}, .delay_ms = 100, .hold_ms = 3000};
	struct xfer x = {.l = {.stop_after_bytes = 1}};

	xfer_start(&x, &f, NULL, 5000);
	ck_assert_int_eq(proxy_stream(&x.q, &x.sink, &x.resp, &x.err), SG_OK);
	ck_assert(x.resp.aborted);
	ck_assert_int_lt(x.resp.duration_ms, 1000);
	fake_stop(&f);
	ck_assert(f.saw_close);
	xfer_free(&x);
}
END_TEST

START_TEST(proxy_cut_stream_and_unreachable)
{
	struct fake f = {.parts = {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n",
				   "9\r\ndata: 1\n\n\r\n", "40\r\ndata: 2"}};
	struct xfer x = {0};
	sg_status st;
	int port, fd;

	xfer_start(&x, &f, NULL, 5000);
	st = proxy_stream(&x.q, &x.sink, &x.resp, &x.err);
	fake_stop(&f);
	ck_assert_int_eq(st, SG_E_BAD_GATEWAY);
	ck_assert(x.resp.streamed);
	ck_assert_ptr_nonnull(strstr(x.l.data.p, "data: 1\n\n"));
	xfer_free(&x);

	/* A port nobody listens on. */
	fd = sg_test_listen_loopback(&port);
	close(fd);
	provider_for(&x.p, x.url, sizeof(x.url), port, NULL, 5000);
	st = proxy_call(&x.q, &x.resp, &x.err);
	ck_assert_int_eq(st, SG_E_BAD_GATEWAY);
	ck_assert_str_eq(x.err.msg, "upstream fake is unreachable");
	ck_assert_int_eq(x.resp.status, 0);
	proxy_response_free(&x.resp);
}
END_TEST

static void
log_header(void *ctx, const char *line, size_t len)
{
	ck_assert(sg_buf_append(ctx, line, len));
}

START_TEST(proxy_url_headers_pin_and_bounds)
{
	static const char reply[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Extra: yes\r\n"
		"Content-Length: 20\r\nConnection: close\r\n\r\n{\"a\":\"0123456789ab\"}";
	static const char redirect[] =
		"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n";
	static const char *const extra[] = {"X-Conf: v", "Authorization: Bearer conf-key", NULL};
	struct fake f = {.parts = {reply}, .nconn = 2};
	struct sg_provider p;
	struct sg_buf seen = {0};
	char url[64], pin[64];
	struct sg_err err = {0};
	struct proxy_response resp;
	struct proxy_request q = {.method = "POST", .path = "label", .body = "{}", .body_len = 2};
	int64_t t0;
	sg_status st;

	/* A whole URL whose host never resolves: the pin sends the connection to the fake, with no lookup. */
	fake_start(&f);
	provider_for(&p, url, sizeof(url), f.port, NULL, 5000);
	snprintf(pin, sizeof(pin), "::127.0.0.1:%d", f.port);
	q.provider = &p;
	q.url = "http://pinned.invalid:1/some/path?q=1";
	q.connect_to = pin;
	q.accept = "application/json, text/event-stream";
	q.headers = extra;
	q.on_header = log_header;
	q.header_ctx = &seen;
	ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_OK);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_ptr_nonnull(strstr(f.req, "POST /some/path?q=1 HTTP/1.1\r\n"));
	expect_headers(f.req, (const char *const[]){"\r\nHost: pinned.invalid:1\r\n", "\r\nX-Conf: v\r\n",
						    "\r\nAuthorization: Bearer conf-key\r\n",
						    "\r\nAccept: application/json, text/event-stream\r\n", NULL});
	ck_assert_ptr_nonnull(strstr(seen.p, "X-Extra: yes\r\n"));
	proxy_response_free(&resp);

	/* A body over max_body is a 502 that names the limit. */
	q.max_body = 10;
	st = proxy_call(&q, &resp, &err);
	fake_stop(&f);
	ck_assert_int_eq(st, SG_E_BAD_GATEWAY);
	ck_assert_str_eq(err.msg, "the reply of upstream fake exceeds 10 bytes");
	proxy_response_free(&resp);

	/* A redirect is an answer, not followed. */
	struct fake r = {.parts = {redirect}};

	fake_start(&r);
	provider_for(&p, url, sizeof(url), r.port, NULL, 5000);
	q = (struct proxy_request){.provider = &p, .method = "GET", .path = "/models"};
	ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_OK);
	fake_stop(&r);
	ck_assert_int_eq(resp.status, 302);
	proxy_response_free(&resp);

	/* timeout_ms bounds the whole call even while bytes keep coming. */
	struct fake d = {.parts = {sse_head, ": a\n\n", ": b\n\n", ": c\n\n", ": d\n\n", ": e\n\n"},
			 .delay_ms = 300,
			 .hold_ms = 3000};
	struct sink_log l = {0};
	struct proxy_sink sink = {sink_begin, sink_data, &l};

	fake_start(&d);
	provider_for(&p, url, sizeof(url), d.port, NULL, 5000);
	q = (struct proxy_request){
		.provider = &p, .method = "POST", .path = "/x", .body = "{}", .body_len = 2, .timeout_ms = 700};
	t0 = sg_now_us();
	st = proxy_stream(&q, &sink, &resp, &err);
	ck_assert_int_eq(st, SG_E_GATEWAY_TIMEOUT);
	ck_assert_int_lt(sg_now_us() - t0, 1500 * 1000);
	fake_stop(&d);
	proxy_response_free(&resp);
	sg_buf_free(&l.data);
	sg_buf_free(&seen);
}
END_TEST

/* client_alive for the model listing: the client leaves 300 ms after the first question. */
static bool
leaves_after_300ms(void *ctx)
{
	int64_t *first = ctx;

	if (*first == 0)
		*first = sg_now_us();
	return sg_now_us() - *first < 300 * 1000;
}

START_TEST(model_listing_stops_when_the_client_leaves)
{
	/* An upstream that accepts GET /models and never answers, under a 5 s read timeout. */
	struct fake f = {.parts = {NULL}, .nconn = 1, .hold_ms = 4000};
	struct sg_provider p;
	struct sg_strv ids = {0};
	char url[64];
	struct sg_err err = {0};
	int64_t first = 0, t0;

	fake_start(&f);
	provider_for(&p, url, sizeof(url), f.port, NULL, 5000);
	t0 = sg_now_us();
	ck_assert_int_eq(proxy_list_models(&p, leaves_after_300ms, &first, &ids, &err), SG_E_BAD_GATEWAY);
	ck_assert_int_lt(sg_now_us() - t0, 2500 * 1000);
	ck_assert_str_eq(err.msg, "the client went away while upstream fake was asked for its models");
	ck_assert_uint_eq(ids.n, 0);
	fake_stop(&f);
	ck_assert(f.saw_close);
	proxy_thread_cleanup();
}
END_TEST

/* client_alive that counts how often it was asked. */
static bool
counts_questions(void *ctx)
{
	(*(int *) ctx)++;
	return true;
}

START_TEST(quick_answer_asks_no_client_alive)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	struct fake f = {.parts = {reply}, .nconn = 1};
	struct sg_provider p;
	struct proxy_request q;
	struct proxy_response resp;
	struct sg_err err = {0};
	char url[64];
	int asked = 0;
	int64_t t0, took_us;

	fake_start(&f);
	provider_for(&p, url, sizeof(url), f.port, NULL, 5000);
	q = (struct proxy_request){.provider = &p,
				   .method = "POST",
				   .path = "/x",
				   .body = "{}",
				   .body_len = 2,
				   .client_alive = counts_questions,
				   .alive_ctx = &asked};
	t0 = sg_now_us();
	ck_assert_int_eq(proxy_call(&q, &resp, &err), SG_OK);
	took_us = sg_now_us() - t0;
	fake_stop(&f);
	ck_assert_int_eq(resp.status, 200);
	/* No poll(2) of nginx's connection before the upstream has been silent for 100 ms (then one per 200 ms). */
	ck_assert_int_le(asked, (int) (took_us / (100 * 1000)));
	proxy_response_free(&resp);
	proxy_thread_cleanup();
}
END_TEST

START_TEST(model_listing_and_served_check)
{
	static const char reply[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 54\r\n\r\n"
		"{\"object\":\"list\",\"data\":[{\"id\":\"a-1\"},{\"id\":\"b-2\"}]}  ";
	struct fake f = {.parts = {reply}, .nconn = 3};
	struct sg_provider p;
	struct sg_strv ids = {0};
	char url[64];
	struct sg_err err = {0};
	int port, fd;

	fake_start(&f);
	provider_for(&p, url, sizeof(url), f.port, "k", 5000);
	ck_assert_int_eq(proxy_list_models(&p, NULL, NULL, &ids, &err), SG_OK);
	ck_assert_uint_eq(ids.n, 2);
	ck_assert_str_eq(ids.v[0], "a-1");
	ck_assert_str_eq(ids.v[1], "b-2");
	ck_assert_ptr_nonnull(strstr(f.req, "GET /v1/models HTTP/1.1\r\n"));
	sg_strv_free(&ids);

	ck_assert_int_eq(provider_check_model_served(&p, "b-2", NULL, NULL, &err), SG_OK);
	ck_assert_int_eq(provider_check_model_served(&p, "zzz", NULL, NULL, &err), SG_E_BAD_REQUEST);
	ck_assert_str_eq(err.msg, "model 'zzz' is not served by provider 'fake'; it serves: a-1, b-2");
	fake_stop(&f);

	/* The check off, or not an OpenAI-compatible provider: no call at all. */
	p.check_models = false;
	ck_assert_int_eq(provider_check_model_served(&p, "zzz", NULL, NULL, &err), SG_OK);
	p.check_models = true;
	p.openai_compat = false;
	ck_assert_int_eq(provider_check_model_served(&p, "zzz", NULL, NULL, &err), SG_OK);

	/* Unreachable. */
	fd = sg_test_listen_loopback(&port);
	close(fd);
	provider_for(&p, url, sizeof(url), port, NULL, 5000);
	ck_assert_int_eq(provider_check_model_served(&p, "zzz", NULL, NULL, &err), SG_E_BAD_GATEWAY);
	ck_assert_str_eq(err.msg, "upstream fake is unreachable");
	proxy_thread_cleanup();
	proxy_thread_cleanup(); /* idempotent */
}
END_TEST

Suite *
openai_suite(void)
{
	const TTest *const pure[] = {sse_split_every_two_chunk_boundary,
				     sse_split_byte_by_byte_and_three_chunks,
				     sse_finish_lenient_and_truncated,
				     sse_stop_and_too_big,
				     rewrite_top_level_model_only,
				     rewrite_every_model_key_however_spelled,
				     rewrite_rejects_what_is_not_one_object,
				     request_scan_depth_is_the_limit_given,
				     request_scan_strings_at_every_offset,
				     request_scan_many_keys,
				     json_quote_is_the_dump_of_a_string,
				     event_rewrite,
				     upstream_error_messages,
				     upstream_error_truncates_on_character_boundary,
				     curl_code_mapping,
				     NULL};
	const struct sg_loop pure_loops[] = {SG_LOOP(sse_event_data, sse_data_cases),
					     SG_LOOP(request_scan_decides_as_the_parse, scan_cases),
					     {.t = NULL}};
	const TTest *const transfers[] = {proxy_relays_a_stream_with_the_provider_key,
					  proxy_buffers_an_error_answer_without_a_key,
					  proxy_read_timeout_is_silence_not_total,
					  proxy_sink_abort_closes_the_upstream_connection,
					  proxy_cut_stream_and_unreachable,
					  model_listing_and_served_check,
					  quick_answer_asks_no_client_alive,
					  model_listing_stops_when_the_client_leaves,
					  proxy_url_headers_pin_and_bounds,
					  proxy_options_do_not_outlive_their_call,
					  proxy_ca_file_stays_with_its_provider,
					  NULL};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure, .loops = pure_loops},
					  {.name = "transfers", .tests = transfers, .timeout = 30},
					  {.name = NULL}};

	return sg_suite_new("openai", tcases);
}
