/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_compat.c: the pure parts of serving both API generations: the model
 * objects (compat.h), when a stream ends with [DONE], the CORS origin rules
 * (cors.h), which routes count as deprecated (inspect.h) and what a health
 * probe's status means (health.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "compat.h"
#include "conf.h"
#include "cors.h"
#include "health.h"
#include "inspect.h"
#include "route.h"
#include "suites.h"

static const char model_json[] =
	"{\"identifier\":\"m1\",\"provider_resource_id\":\"up-1\",\"provider_id\":\"vllm\",\"type\":\"model\","
	"\"metadata\":{\"embedding_dimension\":8,\"provider_id\":\"spoof\"},\"model_type\":\"embedding\"}";

START_TEST(model_object_has_both_field_sets)
{
	json_t *m = json_loads(model_json, 0, NULL), *both;
	char *text;

	ck_assert_ptr_nonnull(m);
	both = compat_model_object(m, 1700000000);
	ck_assert_ptr_nonnull(both);
	text = json_dumps(both, JSON_COMPACT);
	/* April's fields first, unchanged and in their order; then today's. */
	ck_assert_str_eq(text,
			 "{\"identifier\":\"m1\",\"provider_resource_id\":\"up-1\",\"provider_id\":\"vllm\","
			 "\"type\":\"model\",\"metadata\":{\"embedding_dimension\":8,\"provider_id\":\"spoof\"},"
			 "\"model_type\":\"embedding\",\"id\":\"m1\",\"object\":\"model\",\"created\":1700000000,"
			 "\"owned_by\":\"vllm\",\"custom_metadata\":{\"model_type\":\"embedding\","
			 "\"provider_id\":\"vllm\",\"provider_resource_id\":\"up-1\",\"embedding_dimension\":8}}");
	/* The input is not changed (it may be the cache's). */
	ck_assert_ptr_null(json_object_get(m, "id"));
	free(text);
	json_decref(both);
	json_decref(m);
}
END_TEST

START_TEST(model_object_without_metadata)
{
	json_t *m = json_pack("{s:s,s:s,s:s}", "identifier", "a/b", "provider_id", "p", "type", "model");
	json_t *both = compat_model_object(m, 0);

	ck_assert_ptr_nonnull(both);
	ck_assert_str_eq(json_string_value(json_object_get(both, "id")), "a/b");
	ck_assert(json_is_null(json_object_get(json_object_get(both, "custom_metadata"), "model_type")));
	ck_assert_uint_eq(json_object_size(json_object_get(both, "custom_metadata")), 3);
	json_decref(both);
	json_decref(m);
	m = json_pack("{s:s}", "provider_id", "p");
	ck_assert_ptr_null(compat_model_object(m, 0)); /* no identifier: no model */
	ck_assert_ptr_null(compat_openai_model(m, 0));
	json_decref(m);
}
END_TEST

START_TEST(openai_model_object)
{
	json_t *m = json_loads(model_json, 0, NULL), *o = compat_openai_model(m, 42);
	char *text = json_dumps(o, JSON_COMPACT);

	ck_assert_str_eq(text, "{\"id\":\"m1\",\"object\":\"model\",\"created\":42,\"owned_by\":\"vllm\"}");
	free(text);
	json_decref(o);
	json_decref(m);
}
END_TEST

static const struct {
	const char *mode, *ua;
	bool done;
} done_cases[] = {
	{"auto", "LlamaStackClient/JS 0.2.7", false},
	{"auto", "LlamaStackClient/JS 0.2.23", false},
	{"auto", "LlamaStackClient/Python 0.2.12", false},
	{"auto", "LlamaStackClient/JS 0.2", false},
	{"auto", "LlamaStackClient/JS 0.7.3", true},
	{"auto", "LlamaStackClient/JS 0.20.1", true}, /* 0.20 is not 0.2 */
	{"auto", "LlamaStackClient/Python 0.3.0", true},
	{"auto", "OpenAI/JS 7.59.0", true},
	{"auto", "ai-sdk/openai-compatible/3.0.92", true},
	{"auto", "curl/8.0", true},
	{"auto", "", true},
	{"auto", NULL, true},
	{"auto", "Mozilla/5.0 LlamaStackClient/JS 0.2.7", true}, /* the prefix only */
	{"always", "LlamaStackClient/JS 0.2.7", true},
	{"always", NULL, true},
	{"never", "OpenAI/JS 7.59.0", false},
	{"never", NULL, false},
};

START_TEST(sse_done_by_mode_and_user_agent)
{
	ck_assert_msg(compat_sse_done(done_cases[_i].mode, done_cases[_i].ua) == done_cases[_i].done,
		      "mode %s, User-Agent '%s': want %s", done_cases[_i].mode,
		      done_cases[_i].ua ? done_cases[_i].ua : "(none)", done_cases[_i].done ? "[DONE]" : "no [DONE]");
}
END_TEST

START_TEST(sse_done_modes_checked)
{
	ck_assert_ptr_null(compat_sse_done_check("auto"));
	ck_assert_ptr_null(compat_sse_done_check("always"));
	ck_assert_ptr_null(compat_sse_done_check("never"));
	ck_assert_ptr_nonnull(compat_sse_done_check("Auto"));
	ck_assert_ptr_nonnull(compat_sse_done_check(""));
	ck_assert_ptr_nonnull(compat_sse_done_check("yes"));
}
END_TEST

static const struct {
	const char *origin;
	bool ok;
} origin_cases[] = {
	{"*", true},
	{"https://app.example.com", true},
	{"http://localhost:3000", true},
	{"http://[::1]:8080", true},
	{"app-scheme+x.y://host", true},
	{"https://app.example.com/", false},
	{"https://app.example.com/path", false},
	{"https://", false},
	{"app.example.com", false},
	{"://x", false},
	{"https://a b", false},
	{"https://a?x=1", false},
	{"**", false},
};

START_TEST(cors_origin_syntax)
{
	const char *why = cors_origin_check(origin_cases[_i].origin);

	ck_assert_msg((why == NULL) == origin_cases[_i].ok, "'%s': %s", origin_cases[_i].origin,
		      why ? why : "accepted");
}
END_TEST

START_TEST(cors_origins_from_config)
{
	static const char text[] =
		"{\"server\":{\"cors_origins\":[\"https://app.example.com\",\"http://localhost:3000\"],"
		"\"sse_done\":\"never\"}}";
	static const char bad[] =
		"{\"server\":{\n  \"cors_origins\": [\"https://ok.example\", \"https://x/\"],\n"
		"  \"sse_done\": \"sometimes\"}}";
	char *errors = NULL;
	struct sg_conf *c = conf_load_string(text, "t.json", &errors);

	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	ck_assert_str_eq(c->sse_done, "never");
	ck_assert(cors_origin_allowed(c, "https://app.example.com"));
	ck_assert(cors_origin_allowed(c, "HTTPS://APP.EXAMPLE.COM")); /* scheme and host are case-insensitive */
	ck_assert(cors_origin_allowed(c, "http://localhost:3000"));
	ck_assert(!cors_origin_allowed(c, "http://localhost:3001"));
	ck_assert(!cors_origin_allowed(c, "https://app.example.com.evil"));
	ck_assert(!cors_origin_allowed(c, ""));
	ck_assert(!cors_origin_allowed(c, NULL));
	conf_free(c);

	c = conf_load_string("{}", "t.json", &errors);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->sse_done, "auto");
	ck_assert(!cors_origin_allowed(c, "https://app.example.com")); /* default: none */
	conf_free(c);
	c = conf_load_string("{\"server\":{\"cors_origins\":[\"*\"]}}", "t.json", &errors);
	ck_assert_ptr_nonnull(c);
	ck_assert(cors_origin_allowed(c, "https://anything.example"));
	conf_free(c);

	ck_assert_ptr_null(conf_load_string(bad, "bad.json", &errors));
	ck_assert_ptr_nonnull(
		strstr(errors, "bad.json:2:42: server.cors_origins[1]: must be an origin without a path"));
	ck_assert_ptr_nonnull(strstr(errors,
				     "bad.json:3:15: server.sse_done: must be one of auto, always, never, got "
				     "\"sometimes\""));
	free(errors);
}
END_TEST

static const struct {
	enum sg_method m;
	const char *pattern;
	bool deprecated;
} dep_cases[] = {
	{SG_GET, "/v1/models", false},
	{SG_POST, "/v1/models", true},
	{SG_DELETE, "/v1/models/{model_id:path}", true},
	{SG_GET, "/v1/shields", false},
	{SG_DELETE, "/v1/shields/{identifier:path}", true},
	{SG_POST, "/v1/openai/v1/chat/completions", true},
	{SG_POST, "/v1/chat/completions", false},
	{SG_GET, "/v1/datasets", true},
	{SG_GET, "/v1beta/datasets", false},
	{SG_GET, "/v1/eval/benchmarks", true},
	{SG_GET, "/v1alpha/eval/benchmarks", false},
	{SG_GET, "/v1/tools", false},
	{SG_GET, "/v1/tools/{tool_name:path}", true},
	{SG_GET, "/v1/inspect/routes", false},
};

START_TEST(deprecated_routes)
{
	struct route rt = {.method = dep_cases[_i].m, .pattern = dep_cases[_i].pattern};

	ck_assert_msg(inspect_route_deprecated(&rt) == dep_cases[_i].deprecated, "%s %s", http_method_name(rt.method),
		      rt.pattern);
}
END_TEST

START_TEST(every_deprecated_route_exists)
{
	size_t n;
	const struct route *t = route_table(&n);

	/* Each case names a route of the table, so the list above cannot drift from it. */
	for (size_t i = 0; i < SG_ARRAY_LEN(dep_cases); i++) {
		bool found = false;

		for (size_t j = 0; j < n && !found; j++)
			found = t[j].method == dep_cases[i].m && strcmp(t[j].pattern, dep_cases[i].pattern) == 0;
		ck_assert_msg(found, "%s %s is not in the route table", http_method_name(dep_cases[i].m),
			      dep_cases[i].pattern);
	}
}
END_TEST

START_TEST(health_codes)
{
	static const struct {
		sg_status st;
		long http;
		const char *json;
	} cases[] = {
		{SG_OK, 200, "{\"status\":\"OK\"}"},
		{SG_OK, 204, "{\"status\":\"OK\"}"},
		{SG_OK, 500, "{\"status\":\"Error\",\"message\":\"upstream p answered GET /models with HTTP 500\"}"},
		{SG_OK, 302, "{\"status\":\"Error\",\"message\":\"upstream p answered GET /models with HTTP 302\"}"},
		{SG_OK, 401, "{\"status\":\"Error\",\"message\":\"upstream p answered GET /models with HTTP 401\"}"},
		{SG_E_GATEWAY_TIMEOUT, 0,
		 "{\"status\":\"Error\",\"message\":\"upstream p timed out: no answer to GET /models within 2000 ms\"}"},
		{SG_E_BAD_GATEWAY, 0,
		 "{\"status\":\"Error\",\"message\":\"upstream p could not be reached (GET /models failed)\"}"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		unsigned code = health_code(cases[i].st, cases[i].http);
		json_t *j = health_json(code, "p");
		char *text = json_dumps(j, JSON_COMPACT);

		ck_assert_msg(code != 0 && code <= 0xffff, "case %zu: code %u does not fit a slot", i, code);
		ck_assert_str_eq(text, cases[i].json);
		free(text);
		json_decref(j);
	}
}
END_TEST

START_TEST(health_of_providers_without_a_probe)
{
	struct sg_provider p = {.api = SG_API_SAFETY, .provider_id = (char *) "g", .provider_type = (char *) "x"};
	struct sg_conf c = {.providers = &p, .nproviders = 1};
	json_t *h = health_of(&c, &p);

	ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "Not Implemented");
	json_decref(h);
	health_reset();
}
END_TEST

/*
 * The result is kept: a listener that never accepts makes the first probe
 * time out; with the listener closed a second probe would be refused, so the
 * second answer, still "timed out", was not probed again.
 */
START_TEST(health_result_is_cached)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	struct sg_provider p = {.api = SG_API_INFERENCE,
				.provider_id = (char *) "h",
				.provider_type = (char *) "remote::vllm",
				.openai_compat = true,
				.base_url = url,
				.connect_timeout_ms = 1000,
				.read_timeout_ms = 5000,
				.tls_verify = true};
	struct sg_conf c = {.providers = &p, .nproviders = 1};
	json_t *h;

	health_reset();
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", ntohs(sa.sin_port));
	h = health_of(&c, &p);
	ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "Error");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(h, "message")), "timed out"));
	json_decref(h);
	close(fd);
	h = health_of(&c, &p);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(h, "message")), "timed out"));
	json_decref(h);
	health_reset();
	h = health_of(&c, &p); /* forgotten: probed again, and refused */
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(h, "message")), "could not be reached"));
	json_decref(h);
	health_reset();
}
END_TEST

Suite *
compat_suite(void)
{
	const TTest *const tests[] = {model_object_has_both_field_sets,
				      model_object_without_metadata,
				      openai_model_object,
				      sse_done_modes_checked,
				      cors_origins_from_config,
				      every_deprecated_route_exists,
				      health_codes,
				      health_of_providers_without_a_probe,
				      health_result_is_cached,
				      NULL};
	const struct sg_loop loops[] = {SG_LOOP(sse_done_by_mode_and_user_agent, done_cases),
					SG_LOOP(cors_origin_syntax, origin_cases),
					SG_LOOP(deprecated_routes, dep_cases),
					{.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "compat", .tests = tests, .loops = loops}, {.name = NULL}};

	return sg_suite_new("compat", tcases);
}
