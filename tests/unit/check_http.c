/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_http.c: the parts of the http module that need no FastCGI
 * connection: path decoding and checking, the query-string check,
 * http_query_get, http_fail's UTF-8 guarantee and http_add_header.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "suites.h"

START_TEST(path_decode_accepts_and_refuses)
{
	static const struct {
		const char *raw, *want; /* want: the decoded path, or NULL when refused */
		const char *why;        /* a word the refusal's message must contain */
	} cases[] = {
		{"/v1/models", "/v1/models", NULL},
		{"/v1/models/a%2Fb", "/v1/models/a/b", NULL},
		{"/v1/models/bad-%c3%a9", "/v1/models/bad-\xc3\xa9", NULL},
		{"/v1/models/\xf0\x9f\xa6\x99", "/v1/models/\xf0\x9f\xa6\x99", NULL},
		{"/v1/models/a+b", "/v1/models/a+b", NULL}, /* '+' is a plus in a path */
		{"/v1/models/%ff%fe", NULL, "UTF-8"},
		{"/v1/models/bad-%c3", NULL, "UTF-8"},          /* half a character */
		{"/v1/models/\xff", NULL, "UTF-8"},             /* a raw byte */
		{"/v1/models/%c0%af", NULL, "UTF-8"},           /* overlong '/' */
		{"/v1/models/%ed%a0%80", NULL, "UTF-8"},        /* a surrogate */
		{"/v1/models/%f4%90%80%80", NULL, "UTF-8"},     /* past U+10FFFF */
		{"/v1/models/x%00y", NULL, "percent-encoding"}, /* NUL */
		{"/v1/models/x%zz", NULL, "percent-encoding"},
		{"/v1/models/x%4", NULL, "percent-encoding"},
		{"/v1/models/x%", NULL, "percent-encoding"},
		{"v1/models", NULL, "start with '/'"},
		{"", NULL, "start with '/'"},
		{"/v1/models/x/../y", NULL, "'..'"},
		{"/v1/models/%2e%2e/y", NULL, "'..'"},
		{"/v1/./models", NULL, "'..'"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		char *out = (char *) "untouched";
		const char *why = "untouched";
		sg_status st = http_path_decode(cases[i].raw, strlen(cases[i].raw), &out, &why);

		if (cases[i].want != NULL) {
			ck_assert_msg(st == SG_OK, "case %zu: %s", i, why ? why : "");
			ck_assert_ptr_null(why);
			ck_assert_str_eq(out, cases[i].want);
		} else {
			ck_assert_msg(st == SG_E_BAD_REQUEST, "case %zu accepted", i);
			ck_assert_ptr_null(out);
			ck_assert_msg(why != NULL && strstr(why, cases[i].why) != NULL, "case %zu: '%s'", i, why);
			ck_assert(strncmp(why, "the request path ", 17) == 0);
		}
		free(out);
	}
}
END_TEST

START_TEST(path_decode_stops_at_len)
{
	char *out;
	const char *why;
	const char raw[] = "/v1/models/x?toolgroup_id=%ff";

	/* The caller passes the part before '?': what follows is not looked at. */
	ck_assert(http_path_decode(raw, 12, &out, &why) == SG_OK);
	ck_assert_str_eq(out, "/v1/models/x");
	free(out);
}
END_TEST

START_TEST(query_check_accepts_and_refuses)
{
	static const struct {
		const char *query, *why; /* why: NULL when accepted, else a word of the message */
	} cases[] = {
		{"", NULL},
		{"toolgroup_id=r30::rag", NULL},
		{"toolgroup_id=bad-%c3%a9&x=1", NULL},
		{"a=b+c&flag&=", NULL},
		{"q=\xc3\xa9", NULL},
		{"toolgroup_id=%ff", "not valid UTF-8"},
		{"a=1&toolgroup_id=%c3", "not valid UTF-8"},
		{"%ff=1", "not valid UTF-8"}, /* keys too */
		{"q=\xfe", "not valid UTF-8"},
		{"toolgroup_id=bad-%zz", "percent-encoding"},
		{"toolgroup_id=%00", "percent-encoding"},
		{"toolgroup_id=%", "percent-encoding"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		const char *why = "untouched";
		sg_status st = http_query_check(cases[i].query, &why);

		if (cases[i].why == NULL) {
			ck_assert_msg(st == SG_OK, "case %zu: %s", i, why ? why : "");
			ck_assert_ptr_null(why);
		} else {
			ck_assert_msg(st == SG_E_BAD_REQUEST, "case %zu accepted", i);
			ck_assert_msg(why != NULL && strstr(why, cases[i].why) != NULL, "case %zu: '%s'", i, why);
			ck_assert(strncmp(why, "the query string ", 17) == 0);
		}
	}
}
END_TEST

/* http_query_get: the value of the first pair whose decoded name is key; NULL when there is none. */
static const struct {
	const char *query, *key, *want;
} query_cases[] = {
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "toolgroup_id", "r30::rag"},
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "sp", "x y+"},
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "flag", ""},
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "empty", ""},
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "a", "1"}, /* the first one */
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "toolgroup", NULL},
	{"a=1&toolgroup_id=r30%3A%3Arag&sp=x+y%2B&flag&empty=&a=2", "missing", NULL},
	/* Names are decoded like values. */
	{"x=0&toolgroup%5Fid=g1&%74oolgroup_id=g2&my+key=v", "toolgroup_id", "g1"},
	{"x=0&toolgroup%5Fid=g1&%74oolgroup_id=g2&my+key=v", "my key", "v"},
	{"x=0&toolgroup%5Fid=g1&%74oolgroup_id=g2&my+key=v", "toolgroup%5Fid", NULL},
	{"", "a", NULL},
};

START_TEST(query_get_decodes_values)
{
	struct request r = {.query = query_cases[_i].query};
	char *v = http_query_get(&r, query_cases[_i].key);

	ck_assert_pstr_eq(v, query_cases[_i].want);
	free(v);
}
END_TEST

START_TEST(fail_stores_valid_utf8)
{
	struct request r = {0};
	char id[400];
	json_t *body;
	sg_status st;

	/* 299 'a' then 'é': a 300-byte cut ends inside the 'é'. */
	memset(id, 'a', 299);
	memcpy(id + 299, "\xc3\xa9 more", 8);
	st = http_fail(&r, SG_E_NOT_FOUND, "model_id\xff", "Model '%.300s' not found", id);
	ck_assert(st == SG_E_NOT_FOUND);
	ck_assert(sg_utf8_valid(r.err.msg, strlen(r.err.msg)));
	ck_assert_uint_eq(strlen(r.err.msg), strlen("Model '' not found") + 300);
	ck_assert_str_eq(r.err.msg + strlen("Model '") + 299, "?' not found");
	ck_assert_str_eq(r.err.param, "model_id?");
	/* What respond_error() packs now encodes. */
	body = json_pack("{s:s,s:s?}", "message", r.err.msg, "param", r.err.param);
	ck_assert_ptr_nonnull(body);
	json_decref(body);

	/* Odd bytes from a client; valid multi-byte text is left alone; a second call replaces the first. */
	(void) http_fail(&r, SG_E_BAD_REQUEST, NULL, "bad %s and good %s", "\xfe\xc0\xaf", "\xc3\xbc\xe2\x82\xac");
	ck_assert_str_eq(r.err.msg, "bad ??? and good \xc3\xbc\xe2\x82\xac");
	ck_assert_str_eq(r.err.param, "");
	http_request_reset(&r);
	ck_assert_str_eq(r.err.msg, "");
}
END_TEST

/* http_fail_err: a carrier of the caller's reaches the request whole, with the status the caller returns. */
START_TEST(fail_err_copies_the_carrier)
{
	struct request r = {0};
	struct sg_err e = {0};

	(void) sg_fail(&e, SG_E_BAD_GATEWAY, "mcp_endpoint", "the MCP server is unreachable");
	sg_err_detail(&e, "connect: refused");
	ck_assert_int_eq(http_fail_err(&r, SG_E_BAD_GATEWAY, &e), SG_E_BAD_GATEWAY);
	ck_assert_int_eq(r.err.status, SG_E_BAD_GATEWAY);
	ck_assert_str_eq(r.err.msg, "the MCP server is unreachable");
	ck_assert_str_eq(r.err.param, "mcp_endpoint");
	ck_assert_str_eq(r.err.detail, "connect: refused");
	/* The request's own carrier: nothing to copy, the status is the one given. */
	ck_assert_int_eq(http_fail_err(&r, SG_E_GATEWAY_TIMEOUT, &r.err), SG_E_GATEWAY_TIMEOUT);
	ck_assert_int_eq(r.err.status, SG_E_GATEWAY_TIMEOUT);
	ck_assert_str_eq(r.err.msg, "the MCP server is unreachable");
	http_request_reset(&r);
}
END_TEST

START_TEST(add_header_refuses_crlf)
{
	struct request r = {0};
	char big[1100];

	ck_assert(http_add_header(&r, "Allow", "GET, POST"));
	ck_assert(!http_add_header(&r, "X-A", "v\r\nSet-Cookie: x=1"));
	ck_assert(!http_add_header(&r, "X-B", "v\nw"));
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert(!http_add_header(&r, "X-C", big));                 /* would be cut */
	ck_assert(!http_add_header(&r, "X-D\r\nSet-Cookie", "x=1")); /* nor in the name */
	big[1023 - 5] = '\0'; /* "X-C: " + 1018 bytes: 1023, the most that fits */
	ck_assert(http_add_header(&r, "X-C", big));
	big[1023 - 5] = 'v';
	big[1024 - 5] = '\0';
	ck_assert(!http_add_header(&r, "X-C", big));
	/* Two lines, each CR LF ended: "Allow: GET, POST" and the 1,023-byte X-C one. */
	ck_assert_uint_eq(r.headers.len, 16 + 2 + 1023 + 2);
	ck_assert_int_eq(strncmp(r.headers.p, "Allow: GET, POST\r\nX-C: vvv", 26), 0);
	ck_assert_str_eq(r.headers.p + 16 + 2 + 1023, "\r\n");
	/* Integers without printf, and a mark to drop what came after it. */
	{
		size_t mark = r.headers.len;

		ck_assert(http_add_header_int(&r, "Retry-After", 0, ""));
		ck_assert(http_add_header_int(&r, "X-N", INT64_MIN, "s"));
		ck_assert(!http_add_header_int(&r, "X-N", 1, "\r\nSet-Cookie: x=1"));
		ck_assert_str_eq(r.headers.p + mark, "Retry-After: 0\r\nX-N: -9223372036854775808s\r\n");
		http_headers_truncate(&r, mark);
		ck_assert_uint_eq(r.headers.len, mark);
		ck_assert_str_eq(r.headers.p + 16 + 2 + 1023, "\r\n");
	}
	http_request_reset(&r);
}
END_TEST

START_TEST(add_header_ints_as_one_at_a_time)
{
	struct request one = {0}, all = {0};
	const struct http_int_header h[] = {
		{"x-ratelimit-limit-requests", 1000000000, ""},  {"x-ratelimit-remaining-requests", 0, ""},
		{"x-ratelimit-reset-requests", 60, "s"},         {"x-ratelimit-limit-tokens", INT64_MAX, ""},
		{"x-ratelimit-remaining-tokens", INT64_MIN, ""}, {"x-ratelimit-reset-tokens", 1, "s"},
	};
	char big2[1100];
	char big[1100];

	for (size_t i = 0; i < SG_ARRAY_LEN(h); i++)
		ck_assert(http_add_header_int(&one, h[i].name, h[i].v, h[i].suffix));
	ck_assert(http_add_header_ints(&all, h, SG_ARRAY_LEN(h)));
	ck_assert_uint_eq(all.headers.len, one.headers.len);
	ck_assert_str_eq(all.headers.p, one.headers.p);
	ck_assert_int_eq(strncmp(all.headers.p, "x-ratelimit-limit-requests: 1000000000\r\n", 40), 0);
	/* All or none: a refused line adds none of the others. */
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(big2, 'n', sizeof(big2) - 1);
	big2[1023 - 3] = '\0'; /* "nnn…: 1", 1023 bytes: fits */
	ck_assert(!http_add_header_ints(&all, (const struct http_int_header[]){{"X-A", 1, ""}, {big, 1, ""}}, 2));
	ck_assert_str_eq(all.headers.p, one.headers.p);
	ck_assert(http_add_header_ints(&one, &(struct http_int_header){big2, 1, ""}, 1));
	big2[1023 - 3] = 'n';
	big2[1024 - 3] = '\0';
	ck_assert(!http_add_header_ints(&all, &(struct http_int_header){big2, 1, ""}, 1));
	http_headers_truncate(&one, all.headers.len);
	ck_assert_str_eq(all.headers.p, one.headers.p);
	http_request_reset(&one);
	http_request_reset(&all);
}
END_TEST

/* A reused request keeps its buffers' memory across resets, up to HTTP_KEEP_MAX; http_request_free frees it. */
START_TEST(reused_request_keeps_buffers)
{
	struct request r = {.reuse = true};
	char *p;

	ck_assert(http_add_header(&r, "X-A", "1"));
	p = r.headers.p;
	ck_assert_uint_ge(r.headers.cap, HTTP_HEADERS_FIRST);
	http_request_reset(&r);
	ck_assert(r.reuse);
	ck_assert_ptr_eq(r.headers.p, p);
	ck_assert_uint_eq(r.headers.len, 0);
	ck_assert_str_eq(r.headers.p, "");
	ck_assert(http_add_header(&r, "X-B", "2"));
	ck_assert_ptr_eq(r.headers.p, p);
	ck_assert_str_eq(r.headers.p, "X-B: 2\r\n");
	/* Grown past the cap: freed at the reset. */
	ck_assert(sg_buf_reserve(&r.headers, HTTP_KEEP_MAX + 1));
	http_request_reset(&r);
	ck_assert_ptr_null(r.headers.p);
	ck_assert_uint_eq(r.headers.cap, 0);
	ck_assert(http_add_header(&r, "X-C", "3"));
	http_request_free(&r);
	ck_assert(!r.reuse);
	ck_assert_ptr_null(r.headers.p);
	/* Not reused: freed at every reset, as before. */
	ck_assert(http_add_header(&r, "X-D", "4"));
	http_request_reset(&r);
	ck_assert_ptr_null(r.headers.p);
	/* The scratch buffers: lent empty, kept by a reused request, freed by any other. */
	{
		struct sg_buf *b = http_scratch(&r, HTTP_SCRATCH_REPLY);

		ck_assert(sg_buf_append(b, "reply", 5));
		http_request_reset(&r);
		ck_assert_ptr_null(r.scratch[HTTP_SCRATCH_REPLY].p);
		r.reuse = true;
		b = http_scratch(&r, HTTP_SCRATCH_REPLY);
		ck_assert(sg_buf_append(b, "reply", 5));
		p = b->p;
		http_request_reset(&r);
		b = http_scratch(&r, HTTP_SCRATCH_REPLY);
		ck_assert_ptr_eq(b->p, p);
		ck_assert_uint_eq(b->len, 0);
		ck_assert_str_eq(b->p, "");
		http_request_free(&r);
		ck_assert_ptr_null(r.scratch[HTTP_SCRATCH_REPLY].p);
	}
}
END_TEST

/* The indexed lookup answers as libfcgi's: the first param of the name, none for a prefix or a near miss. */
START_TEST(params_index_finds_as_libfcgi)
{
	static const char *const params[] = {
		"A=1",   "REQUEST_URI=/x", "NOEQ",  "REQUEST_URI=/second", "HTTP_X=", "AXB=2",
		"AYB=3", "=empty",         "B_C=3", "CONTENT_LENGTH=12"};
	char ptext[SG_ARRAY_LEN(params)][24], *env[SG_ARRAY_LEN(params) + 1];
	static const char *const names[] = {
		"A", "REQUEST_URI", "NOEQ",           "HTTP_X", "AXB",  "AYB",         "AZB", "REQUEST",
		"",  "B_C",         "CONTENT_LENGTH", "B",      "HTTP", "REQUEST_URIX"};
	char *many[HTTP_PARAMS_MAX + 12 + 1], text[HTTP_PARAMS_MAX + 12][16];
	FCGX_Request f = {.envp = env};
	struct request r = {.fcgx = &f};

	for (size_t i = 0; i < SG_ARRAY_LEN(params); i++) {
		snprintf(ptext[i], sizeof(ptext[i]), "%s", params[i]);
		env[i] = ptext[i];
	}
	env[SG_ARRAY_LEN(params)] = NULL;
	http_params_index(&r);
	ck_assert(r.params_indexed && !r.params_more);
	for (size_t i = 0; i < SG_ARRAY_LEN(names); i++) {
		const char *want = FCGX_GetParam(names[i], env), *got = http_param(&r, names[i]);

		ck_assert_msg(got == want, "%s: %s, not %s", names[i], got ? got : "(null)", want ? want : "(null)");
	}
	ck_assert_str_eq(http_param(&r, "REQUEST_URI"), "/x");
	/* More params than the index holds: the ones past it are still found. */
	for (int i = 0; i < HTTP_PARAMS_MAX + 12; i++) {
		snprintf(text[i], sizeof(text[i]), "P%d=%d", i, i);
		many[i] = text[i];
	}
	many[HTTP_PARAMS_MAX + 12] = NULL;
	f.envp = many;
	http_params_index(&r);
	ck_assert(r.params_more);
	ck_assert_str_eq(http_param(&r, "P0"), "0");
	ck_assert_str_eq(http_param(&r, "P55"), "55");
	ck_assert_ptr_null(http_param(&r, "P99"));
	/* A reset request is not indexed: libfcgi is asked. */
	http_request_reset(&r);
	ck_assert(!r.params_indexed);
	r.fcgx = &f;
	ck_assert_str_eq(http_param(&r, "P57"), "57");
}
END_TEST

START_TEST(method_names)
{
	ck_assert(http_method_from_name("GET") == SG_GET);
	ck_assert(http_method_from_name("DELETE") == SG_DELETE);
	ck_assert(http_method_from_name("get") == SG_METHOD_OTHER);
	ck_assert(http_method_from_name("BREW") == SG_METHOD_OTHER);
	ck_assert(http_method_from_name(NULL) == SG_METHOD_OTHER);
	ck_assert_str_eq(http_method_name(SG_PATCH), "PATCH");
	ck_assert_str_eq(http_method_name(SG_METHOD_OTHER), "OTHER");
}
END_TEST

Suite *
http_suite(void)
{
	const TTest *const pure[] = {path_decode_accepts_and_refuses,
				     path_decode_stops_at_len,
				     query_check_accepts_and_refuses,
				     fail_stores_valid_utf8,
				     fail_err_copies_the_carrier,
				     add_header_refuses_crlf,
				     add_header_ints_as_one_at_a_time,
				     reused_request_keeps_buffers,
				     params_index_finds_as_libfcgi,
				     method_names,
				     NULL};
	const struct sg_loop pure_loops[] = {SG_LOOP(query_get_decodes_values, query_cases), {.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure, .loops = pure_loops}, {.name = NULL}};

	return sg_suite_new("http", tcases);
}
