/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_mcp.c: the MCP client's bounds and target policy: who may reach
 * which endpoint (the refusal says nothing about the target), a server that
 * never answers (the client leaving, the silence bound, the total bound),
 * and finding the response in a stream of many events.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp.h"
#include "proxy.h"
#include "suites.h"

static struct sg_provider
mcp_provider(json_t *allowed)
{
	return (struct sg_provider){.api = SG_API_TOOL_RUNTIME,
				    .provider_id = (char *) "mcp-test",
				    .provider_type = (char *) SG_MCP_PROVIDER_TYPE,
				    .connect_timeout_ms = 2000,
				    .read_timeout_ms = 5000,
				    .tls_verify = true,
				    .allowed_hosts = allowed,
				    .total_timeout_ms = 10000,
				    .max_response_bytes = 65536};
}

START_TEST(refusals_say_nothing_about_the_target)
{
	json_t *allowed = json_pack("[s]", "127.0.0.1:1");
	struct sg_provider p = mcp_provider(allowed);
	static const char *const uris[] = {
		"http://127.1:2/mcp",  "http://0x7f000001:2/mcp", "http://127.0.0.1:2/",      "http://localhost:1/mcp",
		"http://10.0.0.1/mcp", "https://127.0.0.1:2/",    "http://169.254.169.254/x", "http://[::1]:1/"};
	char first[sizeof(((struct sg_err *) 0)->msg)] = "";
	struct sg_err err = {0};
	json_t *defs;

	ck_assert_ptr_nonnull(allowed);
	for (size_t i = 0; i < SG_ARRAY_LEN(uris); i++) {
		struct mcp_call call = {.uri = uris[i], .provider = &p};

		ck_assert_msg(mcp_list_tools(&call, &defs, &err) == SG_E_FORBIDDEN, "%s: %s", uris[i], err.msg);
		ck_assert_ptr_null(defs);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", err.msg);
		ck_assert_str_eq(err.msg, first);
	}
	ck_assert_ptr_null(strstr(first, "127"));
	ck_assert_ptr_nonnull(strstr(first, "mcp-test"));

	/* Credentials in the URL are refused for everyone, before anything else. */
	struct mcp_call cred = {.uri = "http://u:pw@127.0.0.1:1/mcp", .provider = &p, .trusted = true};

	ck_assert_int_eq(mcp_list_tools(&cred, &defs, &err), SG_E_BAD_REQUEST);
	ck_assert_ptr_null(strstr(err.msg, "pw"));
	json_decref(allowed);
}
END_TEST

/* The client leaves 300 ms after the first question. */
static bool
leaves_soon(void *ctx)
{
	int64_t *t0 = ctx;

	if (*t0 == 0)
		*t0 = sg_now_us();
	return sg_now_us() - *t0 < 300 * 1000;
}

START_TEST(a_hanging_server_is_bounded)
{
	char uri[64], hp[32];
	struct sg_err err = {0};
	/* A socket that completes connections (the kernel's backlog) but never reads or answers. */
	int port, fd = sg_test_listen_loopback(&port);
	json_t *allowed, *defs;
	struct sg_provider p;
	int64_t t0 = 0, start;
	sg_status st;

	snprintf(uri, sizeof(uri), "http://127.1:%d/mcp", port);
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", port);
	allowed = json_pack("[s]", hp);
	p = mcp_provider(allowed);

	/* The client leaves: the call stops (an untrusted caller on allowed_hosts, pinned). */
	struct mcp_call call = {.uri = uri, .provider = &p, .client_alive = leaves_soon, .alive_ctx = &t0};

	start = sg_now_us();
	st = mcp_list_tools(&call, &defs, &err);
	ck_assert_int_eq(st, SG_E_BAD_GATEWAY);
	ck_assert_ptr_nonnull(strstr(err.msg, "client went away"));
	ck_assert_int_lt(sg_now_us() - start, 2000 * 1000);

	/* Silence: read_timeout. */
	p.read_timeout_ms = 500;
	call.client_alive = NULL;
	start = sg_now_us();
	st = mcp_list_tools(&call, &defs, &err);
	ck_assert_msg(st == SG_E_GATEWAY_TIMEOUT, "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(err.msg, "read timeout"));
	ck_assert_int_lt(sg_now_us() - start, 2000 * 1000);

	/* The total bound, shorter than the silence one. */
	p.read_timeout_ms = 5000;
	p.total_timeout_ms = 700;
	start = sg_now_us();
	st = mcp_list_tools(&call, &defs, &err);
	ck_assert_msg(st == SG_E_GATEWAY_TIMEOUT, "%s", err.msg);
	ck_assert_str_eq(err.msg, "the MCP server did not complete initialize within 0.7 s");
	ck_assert_int_lt(sg_now_us() - start, 2000 * 1000);

	close(fd);
	proxy_thread_cleanup();
	json_decref(allowed);
}
END_TEST

START_TEST(the_response_is_found_after_many_events)
{
	static const char answer[] = "data: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\n\n";
	struct sg_buf b = {0};
	json_t *m;

	for (int i = 0; i < 100000; i++)
		ck_assert(sg_buf_append(&b, "data: 0\n\n", 9));
	ck_assert(sg_buf_append(&b, ": comment\r\n\r\n", 13));
	ck_assert(sg_buf_append(&b, answer, strlen(answer)));
	m = mcp_find_response(b.p, b.len, true, false, 7);
	ck_assert_ptr_nonnull(m);
	ck_assert(json_is_object(json_object_get(m, "result")));
	json_decref(m);
	ck_assert_ptr_null(mcp_find_response(b.p, b.len, true, true, 8));
	sg_buf_free(&b);
}
END_TEST

/* The MCP provider's config keys (provider_setup), with their defaults and their checks. */
START_TEST(provider_config_keys)
{
	static const char good[] =
		"{\"providers\": {\"tool_runtime\": [\n"
		" {\"provider_id\": \"d\", \"provider_type\": \"remote::model-context-protocol\"},\n"
		" {\"provider_id\": \"m\", \"provider_type\": \"remote::model-context-protocol\", \"config\": {\n"
		"   \"allowed_hosts\": [\"mcp.example.com\", \"127.0.0.1:8080\", \"[::1]:9\"],\n"
		"   \"headers\": {\"Authorization\": \"Bearer k\", \"X-Tenant\": \"t\"},\n"
		"   \"connect_timeout\": 1, \"read_timeout\": \"2.5\", \"total_timeout\": 20, \"max_response_bytes\": 65536}}]}}";
	static const char bad[] =
		"{\"providers\": {\"tool_runtime\": [\n"
		" {\"provider_id\": \"m\", \"provider_type\": \"remote::model-context-protocol\", \"config\": {\n"
		"   \"allowed_hosts\": [\"http://x\", 5, \"::1\"],\n"
		"   \"headers\": {\"Bad Name\": \"v\", \"X-Split\": \"a\\r\\nX-Evil: 1\", \"X-Num\": 1},\n"
		"   \"read_timeout\": 0, \"total_timeout\": \"long\", \"max_response_bytes\": 10}}]}}";
	char *errors = NULL;
	struct sg_conf *c = sg_test_conf(good);
	const struct sg_provider *d, *m;

	d = conf_provider(c, SG_API_TOOL_RUNTIME, "d");
	m = conf_provider(c, SG_API_TOOL_RUNTIME, "m");
	ck_assert_ptr_null(d->allowed_hosts);
	ck_assert_ptr_null(d->headers);
	ck_assert_int_eq(d->connect_timeout_ms, SG_MCP_CONNECT_TIMEOUT_MS);
	ck_assert_int_eq(d->read_timeout_ms, SG_MCP_READ_TIMEOUT_MS);
	ck_assert_int_eq(d->total_timeout_ms, SG_MCP_TOTAL_TIMEOUT_MS);
	ck_assert_uint_eq(d->max_response_bytes, SG_MCP_MAX_RESPONSE_BYTES);
	ck_assert_uint_eq(json_array_size(m->allowed_hosts), 3);
	ck_assert_str_eq(json_string_value(json_object_get(m->headers, "X-Tenant")), "t");
	ck_assert_int_eq(m->connect_timeout_ms, 1000);
	ck_assert_int_eq(m->read_timeout_ms, 2500);
	ck_assert_int_eq(m->total_timeout_ms, 20000);
	ck_assert_uint_eq(m->max_response_bytes, 65536);
	conf_free(c);

	c = conf_load_string(bad, "t.json", &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(errors);
	ck_assert_ptr_nonnull(strstr(errors, "config.allowed_hosts[0]: \"http://x\" is not \"host\" or \"host:port\""));
	ck_assert_ptr_nonnull(strstr(errors, "config.allowed_hosts[1]: must be a string"));
	ck_assert_ptr_nonnull(strstr(errors, "config.allowed_hosts[2]: \"::1\" is an IPv6 address without brackets"));
	ck_assert_ptr_nonnull(strstr(errors, "config.headers: \"Bad Name\" is not a valid header name"));
	ck_assert_ptr_nonnull(strstr(errors, "config.headers.X-Split: must be a string without line breaks"));
	ck_assert_ptr_nonnull(strstr(errors, "config.headers.X-Num: must be a string"));
	ck_assert_ptr_nonnull(strstr(errors, "config.read_timeout: must be a number of seconds"));
	ck_assert_ptr_nonnull(strstr(errors, "config.total_timeout: must be a number of seconds"));
	ck_assert_ptr_nonnull(strstr(errors, "config.max_response_bytes: must be an integer from 1024"));
	/* Header values are credentials: never in a message. */
	ck_assert_ptr_null(strstr(errors, "X-Evil"));
	free(errors);
}
END_TEST

Suite *
mcp_suite(void)
{
	const TTest *const bounds[] = {refusals_say_nothing_about_the_target, a_hanging_server_is_bounded,
				       the_response_is_found_after_many_events, provider_config_keys, NULL};
	const struct sg_tcase tcases[] = {{.name = "bounds", .tests = bounds, .timeout = 30}, {.name = NULL}};

	return sg_suite_new("mcp", tcases);
}
