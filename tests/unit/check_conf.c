/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_conf.c: unit tests of the conf and provider modules: defaults,
 * every validation error with its exact FILE:LINE:COL, several errors at
 * once, ${env.…} substitution, numeric strings, provider base URLs per kind,
 * secret masking, loopback-only listen addresses and JSON syntax errors.
 * No I/O but a temporary file for conf_load.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "policy.h"
#include "provider.h"
#include "suites.h"

/* Loads text as "t.json"; returns the config, or NULL with *errors set. */
static struct sg_conf *
load(const char *text, char **errors)
{
	*errors = NULL;
	return conf_load_string(text, "t.json", errors);
}

/* Loads text that must fail; returns the error text (caller frees). */
static char *
load_fail(const char *text)
{
	char *errors;
	struct sg_conf *c = load(text, &errors);

	ck_assert_msg(c == NULL, "expected errors for %s", text);
	ck_assert_ptr_nonnull(errors);
	return errors;
}

static void
expect_errors(const char *text, const char *expected)
{
	char *errors = load_fail(text);

	ck_assert_str_eq(errors, expected);
	free(errors);
}

START_TEST(test_defaults)
{
	struct sg_conf *c = sg_test_conf("{}");

	ck_assert_str_eq(c->path, "t.json");
	ck_assert_str_eq(c->listen, "/run/stackgate/stackgate.sock");
	ck_assert_uint_eq(c->socket_mode, 0660);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_int_eq(c->workers, 2);
	conf_free(c);
	/* null clears an optional string. */
	c = sg_test_conf("{\"server\": {\"pid_file\": null, \"socket_group\": null}}");
	ck_assert_ptr_null(c->pid_file);
	ck_assert_ptr_null(c->socket_group);
	ck_assert_int_eq(c->threads, 64);
	ck_assert_uint_eq(c->thread_stack_kb, 256);
	ck_assert_int_eq(c->max_requests, 0);
	ck_assert_uint_eq(c->max_body_bytes, 1024 * 1024);
	ck_assert_int_eq(c->max_json_depth, 64);
	ck_assert_int_eq(c->shutdown_timeout_s, 30);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_ptr_null(c->pid_file);
	ck_assert_str_eq(c->conninfo, "");
	ck_assert_int_eq(c->db_pool_size, 4);
	ck_assert(!c->auto_migrate);
	ck_assert(!c->auth_required);
	ck_assert_uint_eq(c->admin_roles.n, 1);
	ck_assert_str_eq(c->admin_roles.v[0], "admin");
	ck_assert_int_eq(c->key_cache_ttl_s, 5);
	ck_assert_uint_eq(c->nproviders, 0);
	ck_assert_ptr_null(c->models);
	ck_assert_ptr_null(c->tool_groups);
	ck_assert_ptr_nonnull(c->root);
	conf_free(c);
}
END_TEST

/* access_policy: the default as rules when absent, the configured rules when given, problems at their positions. */
START_TEST(test_access_policy)
{
	struct sg_conf *c = sg_test_conf("{\"auth\": {\"admin_roles\": [\"ops\"]}}");
	json_t *j;
	char *text;

	ck_assert_ptr_nonnull(c->policy);
	ck_assert(c->policy->is_default);
	j = policy_to_json(c->policy);
	text = json_dumps(json_array_get(j, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(text,
			 "{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user with ops in roles\"],"
			 "\"description\":\"admins read every object\"}");
	free(text);
	json_decref(j);
	conf_free(c);

	c = sg_test_conf("{\"access_policy\": [{\"permit\": {\"actions\": [\"read\"]}}]}");
	ck_assert(!c->policy->is_default);
	ck_assert_uint_eq(c->policy->n, 1);
	conf_free(c);

	expect_errors(
		"{\"access_policy\": [\n"
		"  {\"permit\": {\"actions\": [\"read\", \"write\"]}},\n"
		"  {\"forbid\": {\"actions\": \"delete\", \"resource\": \"modle::*\"}, \"colour\": 1},\n"
		"  {\"permit\": {\"actions\": [\"read\"]}, \"when\": [\"user is owner\", \"user is ownr\"]}\n"
		"]}",
		"t.json:2:35: access_policy[0].permit.actions[1]: must be one of create, read, update, delete, got "
		"\"write\"\n"
		"t.json:3:48: access_policy[1].forbid.resource: the resource type must be one of model, shield, "
		"vector_db, dataset, scoring_function, benchmark, tool_group, tool, got \"modle\"\n"
		"t.json:3:61: access_policy[1].colour: unknown key \"colour\": expected one of permit, forbid, when, "
		"unless, description\n"
		"t.json:4:63: access_policy[2].when[1]: unknown condition \"user is ownr\": expected one of \"user "
		"with <value> in <attribute>\", \"user with <value> not in <attribute>\", \"user is owner\", \"user "
		"is not owner\", \"user in owners <attribute>\", \"user not in owners <attribute>\", \"resource is "
		"unowned\", \"user meets access_attributes\", \"resource is [not] from config\", \"user is [not] "
		"anonymous\"\n");
	expect_errors("{\"access_policy\": {}}",
		      "t.json:1:19: access_policy: must be an array of rules, got an object\n");
}
END_TEST

START_TEST(test_every_field)
{
	struct sg_conf *c = sg_test_conf(
		"{\"version\": 2, \"image_name\": \"x\",\n"
		" \"server\": {\"socket\": \"127.0.0.1:9000\", \"socket_mode\": \"0600\", \"socket_group\": \"www\",\n"
		"  \"workers\": 8, \"threads\": 16, \"thread_stack_kb\": 128, \"max_requests\": 1000,\n"
		"  \"max_body_bytes\": 2048, \"max_json_depth\": 10, \"shutdown_timeout\": 5,\n"
		"  \"log_level\": \"debug\", \"pid_file\": \"/run/sg.pid\"},\n"
		" \"database\": {\"conninfo\": \"dbname=x\", \"pool_size\": 2, \"auto_migrate\": true},\n"
		" \"auth\": {\"required\": true, \"admin_roles\": [\"ops\", \"root\"], \"key_cache_ttl\": 0},\n"
		" \"models\": [{\"model_id\": \"m\"}], \"shields\": [], \"vector_dbs\": [], \"datasets\": [],\n"
		" \"scoring_fns\": [], \"benchmarks\": [], \"tool_groups\": [{}]}");

	ck_assert_str_eq(c->listen, "127.0.0.1:9000");
	ck_assert_uint_eq(c->socket_mode, 0600);
	ck_assert_str_eq(c->socket_group, "www");
	ck_assert_int_eq(c->workers, 8);
	ck_assert_int_eq(c->threads, 16);
	ck_assert_uint_eq(c->thread_stack_kb, 128);
	ck_assert_int_eq(c->max_requests, 1000);
	ck_assert_uint_eq(c->max_body_bytes, 2048);
	ck_assert_int_eq(c->max_json_depth, 10);
	ck_assert_int_eq(c->shutdown_timeout_s, 5);
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_str_eq(c->pid_file, "/run/sg.pid");
	ck_assert_str_eq(c->conninfo, "dbname=x");
	ck_assert_int_eq(c->db_pool_size, 2);
	ck_assert(c->auto_migrate);
	ck_assert(c->auth_required);
	ck_assert_uint_eq(c->admin_roles.n, 2);
	ck_assert_str_eq(c->admin_roles.v[1], "root");
	ck_assert_int_eq(c->key_cache_ttl_s, 0);
	/* Resource lists are borrowed from the document. */
	ck_assert_ptr_eq(c->models, json_object_get(c->root, "models"));
	ck_assert_uint_eq(json_array_size(c->models), 1);
	ck_assert_ptr_nonnull(c->shields);
	ck_assert_ptr_nonnull(c->vector_dbs);
	ck_assert_ptr_nonnull(c->datasets);
	ck_assert_ptr_nonnull(c->scoring_fns);
	ck_assert_ptr_nonnull(c->benchmarks);
	ck_assert_uint_eq(json_array_size(c->tool_groups), 1);
	conf_free(c);
}
END_TEST

/* One invalid document and its exact report. */
static const struct {
	const char *text, *errors;
} error_cases[] = {
	{"{\"server\": {\"workers\": 0}}", "t.json:1:24: server.workers: must be an integer between 1 and 64, got 0\n"},
	{"{\"router\": {\"max_retries\": 11}}",
	 "t.json:1:28: router.max_retries: must be an integer between 0 and 10, got 11\n"},
	{"{\"router\": {\"cooldown_window\": 0}}",
	 "t.json:1:32: router.cooldown_window: must be an integer between 1 and 86400, got 0\n"},
	{"{\n  \"server\": {\"workers\": \"abc\"}\n}",
	 "t.json:2:25: server.workers: must be an integer between 1 and 64, got \"abc\"\n"},
	{"{\"server\": {\"workers\": 4.5}}",
	 "t.json:1:24: server.workers: must be an integer between 1 and 64, got 4.5\n"},
	{"{\"server\": {\"threads\": 2000}}",
	 "t.json:1:24: server.threads: must be an integer between 1 and 1024, got 2000\n"},
	{"{\"server\": {\"thread_stack_kb\": 32}}",
	 "t.json:1:32: server.thread_stack_kb: must be an integer between 64 and 1048576, got 32\n"},
	{"{\"server\": {\"max_body_bytes\": 100}}",
	 "t.json:1:31: server.max_body_bytes: must be an integer between 1024 and 1073741824, got 100\n"},
	{"{\"server\": {\"max_body_bytes\": 2147483648}}",
	 "t.json:1:31: server.max_body_bytes: must be an integer between 1024 and 1073741824, got 2147483648\n"},
	{"{\"server\": {\"max_json_depth\": 1}}",
	 "t.json:1:31: server.max_json_depth: must be an integer between 2 and 1000, got 1\n"},
	{"{\"server\": {\"log_level\": \"verbose\"}}",
	 "t.json:1:26: server.log_level: must be one of debug, info, warn, error, got \"verbose\"\n"},
	{"{\"server\": {\"log_format\": \"xml\"}}",
	 "t.json:1:27: server.log_format: must be one of text, json, got \"xml\"\n"},
	{"{\"metrics\": {\"max_models\": 0}}",
	 "t.json:1:28: metrics.max_models: must be an integer between 1 and 65536, got 0\n"},
	{"{\"metrics\": {\"enabled\": \"maybe\"}}", "t.json:1:25: metrics.enabled: must be a boolean, got \"maybe\"\n"},
	{"{\"server\": {\"socket_mode\": \"0999\"}}",
	 "t.json:1:28: server.socket_mode: must be an octal string such as \"0660\", got \"0999\"\n"},
	{"{\"server\": {\"socket_mode\": 660}}",
	 "t.json:1:28: server.socket_mode: must be an octal string such as \"0660\", got 660\n"},
	{"{\"server\": {\"socket\": \"0.0.0.0:9000\"}}",
	 "t.json:1:23: server.socket: must be an absolute unix socket path or a loopback address "
	 "(127.0.0.1:PORT, [::1]:PORT or localhost:PORT), got \"0.0.0.0:9000\"\n"},
	{"{\"server\": {\"pid_file\": \"run/x.pid\"}}",
	 "t.json:1:25: server.pid_file: must be an absolute path, got \"run/x.pid\"\n"},
	{"{\"server\": {\"socket_group\": \"\"}}", "t.json:1:29: server.socket_group: must not be empty, got \"\"\n"},
	{"{\"server\": {\"log_level\": 3}}", "t.json:1:26: server.log_level: must be a string, got 3\n"},
	{"{\"auth\": {\"required\": \"maybe\"}}", "t.json:1:23: auth.required: must be a boolean, got \"maybe\"\n"},
	{"{\"auth\": {\"admin_roles\": [\"a\", 3]}}",
	 "t.json:1:32: auth.admin_roles[1]: must be a non-empty string, got 3\n"},
	{"{\"auth\": {\"admin_roles\": \"admin\"}}",
	 "t.json:1:26: auth.admin_roles: must be an array of strings, got \"admin\"\n"},
	{"{\"database\": {\"pool_size\": -1}}",
	 "t.json:1:28: database.pool_size: must be an integer between 1 and 64, got -1\n"},
	{"{\"server\": 3}", "t.json:1:12: server: must be an object, got 3\n"},
	{"[1]", "t.json:1:1: the configuration must be a JSON object, got an array\n"},
	/* Unknown keys are reported at the key, with a suggestion or the list. */
	{"{\"sever\": {}}", "t.json:1:2: sever: unknown key, did you mean \"server\"?\n"},
	{"{\"server\": {\"wokers\": 4}}", "t.json:1:13: server.wokers: unknown key, did you mean \"workers\"?\n"},
	{"{\"auth\": {\"endpoint\": \"x\"}}",
	 "t.json:1:11: auth.endpoint: unknown key, expected one of required, admin_roles, key_cache_ttl\n"},
	{"{\"providers\": {\"infrence\": []}}",
	 "t.json:1:16: providers.infrence: unknown API, did you mean \"inference\"?\n"},
	{"{\"providers\": {\"agents\": []}}",
	 "t.json:1:16: providers.agents: unknown API, expected one of inference, safety, vector_io, "
	 "datasetio, scoring, eval, tool_runtime\n"},
	{"{\"providers\": []}", "t.json:1:15: providers: must be an object keyed by API name, got an array\n"},
	{"{\"providers\": {\"safety\": {}}}",
	 "t.json:1:26: providers.safety: must be an array of providers, got an object\n"},
	{"{\"providers\": {\"inference\": [\n  \"vllm\"\n]}}",
	 "t.json:2:3: providers.inference[0]: must be an object, got \"vllm\"\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"x\", \"provider_type\": \"vllm\"}\n]}}",
	 "t.json:2:41: providers.inference[0].provider_type: must look like \"inline::NAME\" or "
	 "\"remote::NAME\", got \"vllm\"\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"x\", \"provider_type\": \"remote::\"}\n]}}",
	 "t.json:2:41: providers.inference[0].provider_type: must look like \"inline::NAME\" or "
	 "\"remote::NAME\", got \"remote::\"\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"x\"}\n]}}",
	 "t.json:2:3: providers.inference[0].provider_type: required key is missing\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"a b\", \"provider_type\": \"inline::x\"}\n]}}",
	 "t.json:2:19: providers.inference[0].provider_id: must be a string of letters, digits, '_', '.' "
	 "or '-', got \"a b\"\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"x\", \"provider_type\": \"inline::x\", "
	 "\"confg\": {}}\n]}}",
	 "t.json:2:54: providers.inference[0].confg: unknown key, did you mean \"config\"?\n"},
	{"{\"providers\": {\"inference\": [\n"
	 "  {\"provider_id\": \"a\", \"provider_type\": \"inline::x\"},\n"
	 "  {\"provider_id\": \"a\", \"provider_type\": \"inline::y\"}\n]}}",
	 "t.json:3:19: providers.inference[1].provider_id: duplicate provider_id \"a\" for inference "
	 "(first defined at line 2)\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", "
	 "\"config\": []}\n]}}",
	 "t.json:2:67: providers.inference[0].config: must be an object, got an array\n"},
	/* Problems found by provider.c, at the config value (or the nearest enclosing one). */
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", "
	 "\"config\": {}}\n]}}",
	 "t.json:2:67: providers.inference[0].config.url: is required for remote::vllm\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"v\", \"provider_type\": \"remote::passthrough\"}\n]}}",
	 "t.json:2:3: providers.inference[0].config.url: is required for remote::passthrough\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", "
	 "\"config\": {\"url\": \"ftp://x\"}}\n]}}",
	 "t.json:2:75: providers.inference[0].config.url: must be an http:// or https:// URL\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", "
	 "\"config\": {\"url\": \"http:///\"}}\n]}}",
	 "t.json:2:75: providers.inference[0].config.url: must be an http:// or https:// URL with a host\n"},
	{"{\"providers\": {\"inference\": [\n  {\"provider_id\": \"o\", \"provider_type\": \"remote::ollama\",\n"
	 "   \"config\": {\"timeout\": 0, \"connect_timeout\": \"soon\", \"tls_verify\": \"maybe\",\n"
	 "              \"check_model_on_register\": 2, \"api_key\": 7}}\n]}}",
	 "t.json:3:26: providers.inference[0].config.timeout: must be a number of seconds greater than 0 "
	 "and at most 86400\n"
	 "t.json:3:48: providers.inference[0].config.connect_timeout: must be a number of seconds greater "
	 "than 0 and at most 3600\n"
	 "t.json:3:70: providers.inference[0].config.tls_verify: must be a boolean or the absolute path of "
	 "a CA bundle\n"
	 "t.json:4:42: providers.inference[0].config.check_model_on_register: must be a boolean\n"
	 "t.json:4:56: providers.inference[0].config.api_key: must be a string\n"},
	{"{\"models\": {}}", "t.json:1:12: models: must be an array of objects, got an object\n"},
	{"{\"models\": [1]}", "t.json:1:13: models[0]: must be an object, got 1\n"},
	{"{\"tool_groups\": [{}, \"x\"]}", "t.json:1:22: tool_groups[1]: must be an object, got \"x\"\n"},
	/* An admin role is a word of the policy's conditions ("user with <role> in roles"). */
	{"{\"auth\": {\"admin_roles\": [\"admin\", \"x not\"]}}",
	 "t.json:1:36: auth.admin_roles[1]: must be one word (no blanks or control characters: the access policy's "
	 "conditions name it), got \"x not\"\n"},
	/* Syntax errors carry jansson's position. */
	{"{\"server\": {\"workers\": 4,}}", "t.json:1:26: invalid JSON: string or '}' expected near '}'\n"},
	{"{\"server\": {},\n \"server\": {}}", "t.json:2:9: invalid JSON: duplicate object key near '\"server\"'\n"},
	{"", "t.json:1:1: invalid JSON: '[' or '{' expected near end of file\n"},
	/* A long value is cut in the message. */
	{"{\"server\": {\"log_level\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
	 "t.json:1:26: server.log_level: must be one of debug, info, warn, error, got "
	 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\n"},
	/* Env errors point at the "${" of the offending reference (the variables unset: env_reset). */
	{"{\"database\": {\"conninfo\": \"host=${env.SG_TEST_UNSET_A} x\"}}",
	 "t.json:1:33: database.conninfo: environment variable SG_TEST_UNSET_A is not set and has no default\n"},
	{"{\"database\": {\"conninfo\": \"${env.SG_TEST_UNSET_A}-${env.SG_TEST_UNSET_B}\"}}",
	 "t.json:1:28: database.conninfo: environment variable SG_TEST_UNSET_A is not set and has no default\n"
	 "t.json:1:51: database.conninfo: environment variable SG_TEST_UNSET_B is not set and has no default\n"},
	/* An escape before the reference: \u00e9 is 6 columns in the text, 2 bytes decoded. */
	{"{\"database\": {\"conninfo\": \"\\u00e9\\\"${env.SG_TEST_UNSET_A}\"}}",
	 "t.json:1:36: database.conninfo: environment variable SG_TEST_UNSET_A is not set and has no default\n"},
	/* A raw multi-byte character is one column. */
	{"{\"database\": {\"conninfo\": \"\xc3\xa9\xf0\x9f\x98\x80${env.SG_TEST_UNSET_A}\"}}",
	 "t.json:1:30: database.conninfo: environment variable SG_TEST_UNSET_A is not set and has no default\n"},
	{"{\"database\": {\"conninfo\": \"${env.SG_TEST_UNSET_A:x\"}}",
	 "t.json:1:28: database.conninfo: malformed environment reference, expected ${env.NAME} or "
	 "${env.NAME:default}\n"},
	{"{\"database\": {\"conninfo\": \"a ${env.}\"}}",
	 "t.json:1:30: database.conninfo: malformed environment reference, expected ${env.NAME} or "
	 "${env.NAME:default}\n"},
	/* One error per value: the bad provider_type is not reported a second time. */
	{"{\"providers\": {\"inference\": [{\"provider_id\": \"v\", \"provider_type\": \"${env.SG_TEST_UNSET_A}\"}]}}",
	 "t.json:1:69: providers.inference[0].provider_type: environment variable SG_TEST_UNSET_A is not set and "
	 "has no default\n"},
	{"{\n\t\"models\": [{\"model_id\": \"${env.SG_TEST_UNSET_B}\"}]\n}",
	 "t.json:2:27: models[0].model_id: environment variable SG_TEST_UNSET_B is not set and has no default\n"},
};

/* Unsets the variables the tests set or expect unset. */
static void
env_reset(void)
{
	unsetenv("SG_TEST_UNSET_A");
	unsetenv("SG_TEST_UNSET_B");
	unsetenv("SG_TEST_W");
	unsetenv("SG_TEST_HOST");
	unsetenv("SG_TEST_PORT");
}

START_TEST(test_error_cases)
{
	env_reset();
	expect_errors(error_cases[_i].text, error_cases[_i].errors);
}
END_TEST

START_TEST(test_several_errors_sorted)
{
	/* Found in document order by section, reported in position order, one per value. */
	expect_errors(
		"{\n"
		"  \"providers\": {\"inference\": [{\"provider_id\": \"v\", \"provider_type\": \"vllm\"}]},\n"
		"  \"server\": {\n"
		"    \"workers\": 100,\n"
		"    \"log_level\": \"loud\",\n"
		"    \"threads\": \"${env.SG_TEST_UNSET_A}\"\n"
		"  },\n"
		"  \"databse\": {}\n"
		"}\n",
		"t.json:2:69: providers.inference[0].provider_type: must look like \"inline::NAME\" or "
		"\"remote::NAME\", got \"vllm\"\n"
		"t.json:4:16: server.workers: must be an integer between 1 and 64, got 100\n"
		"t.json:5:18: server.log_level: must be one of debug, info, warn, error, got \"loud\"\n"
		"t.json:6:17: server.threads: environment variable SG_TEST_UNSET_A is not set and has no "
		"default\n"
		"t.json:8:3: databse: unknown key, did you mean \"database\"?\n");
}
END_TEST

START_TEST(test_too_many_errors)
{
	char text[8192], *p = text, *errors;
	int lines = 0;

	p += sprintf(p, "{\"models\": [");
	for (int i = 0; i < 150; i++)
		p += sprintf(p, "%s%d", i ? "," : "", i);
	sprintf(p, "]}");
	errors = load_fail(text);
	for (const char *q = errors; *q; q++)
		lines += *q == '\n';
	ck_assert_int_eq(lines, 101);
	ck_assert_ptr_nonnull(strstr(errors, "t.json: 50 more problems not shown\n"));
	free(errors);
}
END_TEST

/* ---- ${env.…} ---- */

START_TEST(test_env_set_unset_default)
{
	static const struct {
		const char *w; /* SG_TEST_W's value; NULL: unset */
		const char *ref;
		int workers;
	} v[] = {
		{NULL, "${env.SG_TEST_W:4}", 4},  {"8", "${env.SG_TEST_W:4}", 8}, {"8", "${env.SG_TEST_W}", 8},
		{NULL, "${env.SG_TEST_W:=5}", 5}, /* the later spelling ":=" (default) */
		{"", "${env.SG_TEST_W:3}", 3},    /* as in Llama Stack, an empty variable counts as unset */
	};
	struct sg_conf *c;
	char text[128];

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		env_reset();
		if (v[i].w != NULL)
			setenv("SG_TEST_W", v[i].w, 1);
		snprintf(text, sizeof(text), "{\"server\": {\"workers\": \"%s\"}}", v[i].ref);
		c = sg_test_conf(text);
		ck_assert_msg(c->workers == v[i].workers, "%s: %d", v[i].ref, c->workers);
		conf_free(c);
	}
	/* ":=" keeps a set value; ":+" is the value when set. */
	setenv("SG_TEST_W", "8", 1);
	c = sg_test_conf(
		"{\"server\": {\"workers\": \"${env.SG_TEST_W:=5}\", \"log_level\": \"${env.SG_TEST_W:+debug}\"},\n"
		" \"database\": {\"conninfo\": \"a${env.SG_TEST_UNSET_A:+x}b\"}}");
	ck_assert_int_eq(c->workers, 8);
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_str_eq(c->conninfo, "ab");
	conf_free(c);
	env_reset();
}
END_TEST

START_TEST(test_env_empty_default)
{
	struct sg_conf *c;

	env_reset();
	c = sg_test_conf("{\"database\": {\"conninfo\": \"${env.SG_TEST_UNSET_A:}\"}}");
	ck_assert_str_eq(c->conninfo, "");
	conf_free(c);
}
END_TEST

START_TEST(test_env_embedded_multiple)
{
	struct sg_conf *c;
	const struct sg_provider *p;

	env_reset();
	setenv("SG_TEST_HOST", "10.0.0.5", 1);
	c = sg_test_conf(
		"{\"providers\": {\"inference\": [{\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\",\n"
		" \"config\": {\"url\": \"http://${env.SG_TEST_HOST:localhost}:${env.SG_TEST_PORT:8000}/v1\",\n"
		"  \"note\": [\"a${env.SG_TEST_UNSET_A:}b\", {\"deep\": \"${env.SG_TEST_PORT:x}${env.SG_TEST_PORT:y}\"}]}}]},\n"
		" \"models\": [{\"model_id\": \"${env.SG_TEST_HOST}\"}]}");
	p = conf_provider(c, SG_API_INFERENCE, "v");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->base_url, "http://10.0.0.5:8000/v1");
	ck_assert_str_eq(json_string_value(json_object_get(p->config, "url")), "http://10.0.0.5:8000/v1");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(p->config, "note"), 0)), "ab");
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(p->config, "note"), 1), "deep")),
		"xy");
	/* Resource lists are substituted too. */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c->models, 0), "model_id")), "10.0.0.5");
	conf_free(c);
	env_reset();
}
END_TEST

START_TEST(test_env_not_substituted)
{
	struct sg_conf *c;

	/* Keys are not substituted, "${" without "env." is literal, the result is not rescanned. */
	env_reset();
	setenv("SG_TEST_W", "${env.SG_TEST_UNSET_A}", 1);
	c = sg_test_conf("{\"models\": [{\"${env.SG_TEST_W}\": \"${x} $env ${env.SG_TEST_W}\"}]}");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c->models, 0), "${env.SG_TEST_W}")),
			 "${x} $env ${env.SG_TEST_UNSET_A}");
	conf_free(c);
	env_reset();
}
END_TEST

START_TEST(test_env_home)
{
	const char *old = getenv("HOME");
	char *saved = old ? strdup(old) : NULL;
	struct sg_conf *c;

	env_reset();
	setenv("HOME", "/home/t", 1);
	c = sg_test_conf("{\"server\": {\"pid_file\": \"${env.SG_TEST_UNSET_A:~/sg.pid}\"}}");
	ck_assert_str_eq(c->pid_file, "/home/t/sg.pid");
	conf_free(c);
	if (saved)
		setenv("HOME", saved, 1);
	else
		unsetenv("HOME");
	free(saved);
}
END_TEST

/* Numeric and boolean strings load as the numbers and booleans they spell. */
START_TEST(test_numeric_strings)
{
	struct sg_conf *c = sg_test_conf(
		"{\"server\": {\"workers\": \"8\", \"threads\": \"+32\", \"max_body_bytes\": \"2048\",\n"
		"  \"max_requests\": \"0\", \"socket_mode\": \"600\", \"shutdown_timeout\": \"10\"},\n"
		" \"database\": {\"auto_migrate\": \"TRUE\", \"pool_size\": \"1\"},\n"
		" \"auth\": {\"required\": \"on\", \"key_cache_ttl\": \"60\"}}");
	const struct {
		const char *name;
		long long got, want;
	} v[] = {
		{"workers", c->workers, 8},
		{"threads", c->threads, 32},
		{"max_body_bytes", (long long) c->max_body_bytes, 2048},
		{"max_requests", c->max_requests, 0},
		{"socket_mode", c->socket_mode, 0600},
		{"shutdown_timeout", c->shutdown_timeout_s, 10},
		{"auto_migrate", c->auto_migrate, true},
		{"pool_size", c->db_pool_size, 1},
		{"required", c->auth_required, true},
		{"key_cache_ttl", c->key_cache_ttl_s, 60},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++)
		ck_assert_msg(v[i].got == v[i].want, "%s: %lld, not %lld", v[i].name, v[i].got, v[i].want);
	conf_free(c);
}
END_TEST

START_TEST(test_value_helpers)
{
	static const struct {
		const char *json;
		bool ok;
		long long v;
	} ints[] = {
		{"3", true, 3},
		{"\"-7\"", true, -7},
		{"\"12x\"", false, 0},
		{"\" 1\"", false, 0},
		{"\"\"", false, 0},
		{"1.0", false, 0},
		{"\"99999999999999999999\"", false, 0},
		{"true", false, 0},
		{"\"-\"", false, 0},
	};
	static const struct {
		const char *json;
		bool ok, v;
	} bools[] = {
		{"true", true, true},   {"false", true, false}, {"\"Yes\"", true, true}, {"\"off\"", true, false},
		{"\"0\"", true, false}, {"\"1\"", true, true},  {"1", false, false},     {"\"nope\"", false, false},
	};
	long long n;
	double d;
	bool b;

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *v = json_loads(ints[i].json, JSON_DECODE_ANY, NULL);

		ck_assert_msg(conf_value_int(v, &n) == ints[i].ok, "int %s", ints[i].json);
		if (ints[i].ok)
			ck_assert_int_eq(n, ints[i].v);
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		json_t *v = json_loads(bools[i].json, JSON_DECODE_ANY, NULL);

		ck_assert_msg(conf_value_bool(v, &b) == bools[i].ok, "bool %s", bools[i].json);
		if (bools[i].ok)
			ck_assert(b == bools[i].v);
		json_decref(v);
	}
	{
		json_t *r = json_real(2.5), *s = json_string("0.25"), *bad = json_string("inf"), *e = json_string("");

		ck_assert(conf_value_number(r, &d) && d == 2.5);
		ck_assert(conf_value_number(s, &d) && d == 0.25);
		ck_assert(!conf_value_number(bad, &d));
		ck_assert(!conf_value_number(e, &d));
		json_decref(r);
		json_decref(s);
		json_decref(bad);
		json_decref(e);
	}
}
END_TEST

/* ---- listen: loopback or a unix socket only ---- */

static const struct {
	const char *listen;
	bool ok;
} listen_cases[] = {
	{"/run/stackgate/sg.sock", true},
	{"127.0.0.1:9000", true},
	{"[::1]:9000", true},
	{"localhost:1", true},
	{"localhost:65535", true},
	{"0.0.0.0:9000", false},
	{"192.168.1.10:9000", false},
	{"[::]:9000", false},
	{":9000", false},
	{"localhost", false},
	{"127.0.0.1:", false},
	{"127.0.0.1:0", false},
	{"127.0.0.1:65536", false},
	{"127.0.0.1:123456", false},
	{"127.0.0.1:90a", false},
	{"sg.sock", false},
	{"unix:/x", false},
	{"", false},
	{"127.0.0.2:9000", false},
	{"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 false},
};

START_TEST(test_listen)
{
	char text[512], *errors;
	struct sg_conf *c;

	snprintf(text, sizeof(text), "{\"server\": {\"socket\": \"%s\"}}", listen_cases[_i].listen);
	c = load(text, &errors);
	ck_assert_msg((c != NULL) == listen_cases[_i].ok, "%s: %s", listen_cases[_i].listen, errors ? errors : "ok");
	if (c != NULL)
		ck_assert_str_eq(c->listen, listen_cases[_i].listen);
	else
		ck_assert_ptr_nonnull(strstr(errors, "t.json:1:23: server.socket: must be "));
	conf_free(c);
	free(errors);
}
END_TEST

/* ---- Providers ---- */

static const struct {
	const char *type, *config, *base_url, *api_key;
	bool compat;
} kind_cases[] = {
	{"remote::vllm", "{\"url\": \"http://h:8000/v1/\", \"api_token\": \"tok\"}", "http://h:8000/v1", "tok", true},
	{"remote::ollama", "{\"url\": \"http://h:11434\"}", "http://h:11434/v1", NULL, true},
	{"remote::ollama", "{\"url\": \"http://h:11434/v1/\"}", "http://h:11434/v1", NULL, true},
	{"remote::ollama", "{}", "http://localhost:11434/v1", NULL, true},
	{"remote::openai", "{\"api_key\": \"sk-1\"}", "https://api.openai.com/v1", "sk-1", true},
	{"remote::openai", "{\"url\": \"https://proxy.example/v1\", \"api_key\": \"\"}", "https://proxy.example/v1",
	 NULL, true},
	{"remote::together", "{}", "https://api.together.xyz/v1", NULL, true},
	{"remote::fireworks", "{}", "https://api.fireworks.ai/inference/v1", NULL, true},
	{"remote::groq", "{}", "https://api.groq.com/openai/v1", NULL, true},
	{"remote::groq", "{\"url\": \"https://api.groq.com/openai/v1\"}", "https://api.groq.com/openai/v1", NULL, true},
	{"remote::nvidia", "{}", "https://integrate.api.nvidia.com/v1", NULL, true},
	{"remote::nvidia", "{\"url\": \"http://nim:8000\", \"append_api_version\": false}", "http://nim:8000", NULL,
	 true},
	{"remote::passthrough", "{\"url\": \"https://p.example/v1//\", \"api_key\": \"k\"}", "https://p.example/v1",
	 "k", true},
	{"remote::cerebras-openai-compat", "{}", "https://api.cerebras.ai/v1", NULL, true},
	{"remote::fireworks-openai-compat", "{}", "https://api.fireworks.ai/inference/v1", NULL, true},
	{"remote::groq-openai-compat", "{}", "https://api.groq.com/openai/v1", NULL, true},
	{"remote::sambanova-openai-compat", "{\"openai_compat_api_base\": \"https://s.example/v1/\"}",
	 "https://s.example/v1", NULL, true},
	{"remote::together-openai-compat", "{}", "https://api.together.xyz/v1", NULL, true},
	{"remote::tgi", "{\"url\": \"http://tgi\"}", NULL, NULL, false},
	{"remote::sambanova", "{}", NULL, NULL, false},
	{"remote::anthropic", "{}", NULL, NULL, false},
	{"inline::meta-reference", "{}", NULL, NULL, false},
};

START_TEST(test_provider_kinds)
{
	static const char *const envs[] = {"OPENAI_API_KEY", "TOGETHER_API_KEY", "FIREWORKS_API_KEY", "GROQ_API_KEY",
					   "NVIDIA_API_KEY", "CEREBRAS_API_KEY", "SAMBANOVA_API_KEY"};
	char text[1024];
	struct sg_conf *c;
	const struct sg_provider *p;

	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		unsetenv(envs[i]);
	snprintf(
		text, sizeof(text),
		"{\"providers\": {\"inference\": [{\"provider_id\": \"p\", \"provider_type\": \"%s\", \"config\": %s}]}}",
		kind_cases[_i].type, kind_cases[_i].config);
	c = sg_test_conf(text);
	p = conf_provider(c, SG_API_INFERENCE, "p");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->provider_type, kind_cases[_i].type);
	ck_assert(p->openai_compat == kind_cases[_i].compat);
	ck_assert(provider_is_openai_compat(kind_cases[_i].type) == kind_cases[_i].compat);
	if (kind_cases[_i].base_url != NULL)
		ck_assert_str_eq(p->base_url, kind_cases[_i].base_url);
	else
		ck_assert_ptr_null(p->base_url);
	if (kind_cases[_i].api_key != NULL)
		ck_assert_str_eq(p->api_key, kind_cases[_i].api_key);
	else
		ck_assert_ptr_null(p->api_key);
	conf_free(c);
}
END_TEST

START_TEST(test_provider_api_key_env)
{
	struct sg_conf *c;
	const struct sg_provider *p;

	setenv("OPENAI_API_KEY", "sk-env", 1);
	setenv("GROQ_API_KEY", "", 1);
	c = sg_test_conf(
		"{\"providers\": {\"inference\": [\n"
		" {\"provider_id\": \"o\", \"provider_type\": \"remote::openai\"},\n"
		" {\"provider_id\": \"o2\", \"provider_type\": \"remote::openai\", \"config\": {\"api_key\": \"sk-cfg\"}},\n"
		" {\"provider_id\": \"g\", \"provider_type\": \"remote::groq\"},\n"
		" {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", \"config\": {\"url\": \"http://v\"}}]}}");
	ck_assert_str_eq(conf_provider(c, SG_API_INFERENCE, "o")->api_key, "sk-env");
	ck_assert_str_eq(conf_provider(c, SG_API_INFERENCE, "o2")->api_key, "sk-cfg");
	ck_assert_ptr_null(conf_provider(c, SG_API_INFERENCE, "g")->api_key);
	p = conf_provider(c, SG_API_INFERENCE, "v");
	ck_assert_ptr_null(p->api_key);
	conf_free(c);
	unsetenv("OPENAI_API_KEY");
	unsetenv("GROQ_API_KEY");
}
END_TEST

START_TEST(test_provider_settings)
{
	struct sg_conf *c = sg_test_conf(
		"{\"providers\": {\"inference\": [\n"
		" {\"provider_id\": \"a\", \"provider_type\": \"remote::vllm\", \"config\": {\"url\": \"http://a/v1\"}},\n"
		" {\"provider_id\": \"b\", \"provider_type\": \"remote::vllm\", \"config\": {\"url\": \"https://b/v1\",\n"
		"   \"connect_timeout\": \"2.5\", \"timeout\": 30, \"tls_verify\": false, \"check_model_on_register\": \"false\"}},\n"
		" {\"provider_id\": \"c\", \"provider_type\": \"remote::vllm\", \"config\": {\"url\": \"https://c\",\n"
		"   \"tls_verify\": \"/etc/ssl/ca.pem\", \"timeout\": null}}]}}");
	const struct sg_provider *a = conf_provider(c, SG_API_INFERENCE, "a"),
				 *b = conf_provider(c, SG_API_INFERENCE, "b"),
				 *cc = conf_provider(c, SG_API_INFERENCE, "c");

	ck_assert_int_eq(a->connect_timeout_ms, 5000);
	ck_assert_int_eq(a->read_timeout_ms, 600000);
	ck_assert(a->tls_verify);
	ck_assert_ptr_null(a->ca_file);
	ck_assert(a->check_models);
	ck_assert_int_eq(b->connect_timeout_ms, 2500);
	ck_assert_int_eq(b->read_timeout_ms, 30000);
	ck_assert(!b->tls_verify);
	ck_assert(!b->check_models);
	ck_assert(cc->tls_verify);
	ck_assert_str_eq(cc->ca_file, "/etc/ssl/ca.pem");
	ck_assert_int_eq(cc->read_timeout_ms, 600000);
	conf_free(c);
}
END_TEST

START_TEST(test_provider_table)
{
	struct sg_conf *c = sg_test_conf(
		"{\"providers\": {\n"
		" \"inference\": [{\"provider_id\": \"vllm\", \"provider_type\": \"remote::vllm\", \"config\": {\"url\": \"http://u\"}},\n"
		"                {\"provider_id\": \"ollama\", \"provider_type\": \"remote::ollama\", \"config\": null}],\n"
		" \"safety\": [{\"provider_id\": \"llama-guard\", \"provider_type\": \"inline::llama-guard\", \"config\": {}}],\n"
		" \"eval\": [{\"provider_id\": \"vllm\", \"provider_type\": \"inline::meta-reference\"}],\n"
		" \"tool_runtime\": [{\"provider_id\": \"model-context-protocol\", \"provider_type\": \"remote::model-context-protocol\"},\n"
		"                   {\"provider_id\": \"rag-runtime\", \"provider_type\": \"inline::rag-runtime\"}]}}");

	ck_assert_uint_eq(c->nproviders, 6);
	/* File order. */
	ck_assert_str_eq(c->providers[0].provider_id, "vllm");
	ck_assert_str_eq(c->providers[2].provider_id, "llama-guard");
	ck_assert_int_eq(c->providers[3].api, SG_API_EVAL);
	ck_assert_uint_eq(conf_provider_count(c, SG_API_INFERENCE), 2);
	ck_assert_uint_eq(conf_provider_count(c, SG_API_SAFETY), 1);
	ck_assert_uint_eq(conf_provider_count(c, SG_API_VECTOR_IO), 0);
	ck_assert_uint_eq(conf_provider_count(c, SG_API_TOOL_RUNTIME), 2);
	ck_assert_str_eq(conf_provider_nth(c, SG_API_INFERENCE, 1)->provider_id, "ollama");
	ck_assert_str_eq(conf_provider_nth(c, SG_API_TOOL_RUNTIME, 1)->provider_id, "rag-runtime");
	ck_assert_ptr_null(conf_provider_nth(c, SG_API_INFERENCE, 2));
	/* The same id under two APIs is two providers. */
	ck_assert_str_eq(conf_provider(c, SG_API_INFERENCE, "vllm")->provider_type, "remote::vllm");
	ck_assert_str_eq(conf_provider(c, SG_API_EVAL, "vllm")->provider_type, "inline::meta-reference");
	ck_assert_ptr_null(conf_provider(c, SG_API_SAFETY, "vllm"));
	/* Only inference providers of an OpenAI-compatible kind get upstream settings. */
	ck_assert(conf_provider(c, SG_API_INFERENCE, "ollama")->openai_compat);
	ck_assert(!conf_provider(c, SG_API_EVAL, "vllm")->openai_compat);
	ck_assert_ptr_null(conf_provider(c, SG_API_EVAL, "vllm")->base_url);
	/* A null or missing config becomes {}. */
	ck_assert(json_is_object(conf_provider(c, SG_API_INFERENCE, "ollama")->config));
	ck_assert_uint_eq(json_object_size(conf_provider(c, SG_API_EVAL, "vllm")->config), 0);
	ck_assert_ptr_null(conf_provider(NULL, SG_API_INFERENCE, "vllm"));
	ck_assert_uint_eq(conf_provider_count(NULL, SG_API_INFERENCE), 0);
	conf_free(c);
}
END_TEST

START_TEST(test_api_names)
{
	enum sg_api api;

	for (int i = 0; i < SG_API_COUNT; i++) {
		ck_assert_ptr_nonnull(conf_api_name((enum sg_api) i));
		ck_assert(conf_api_from_name(conf_api_name((enum sg_api) i), &api));
		ck_assert_int_eq(api, i);
	}
	ck_assert_str_eq(conf_api_name(SG_API_VECTOR_IO), "vector_io");
	ck_assert_str_eq(conf_api_name(SG_API_TOOL_RUNTIME), "tool_runtime");
	ck_assert_ptr_null(conf_api_name(SG_API_COUNT));
	ck_assert(!conf_api_from_name("agents", &api));
	ck_assert(!conf_api_from_name("Inference", &api));
	ck_assert(!conf_api_from_name(NULL, &api));
}
END_TEST

/* ---- Masking ---- */

START_TEST(test_mask_config)
{
	json_t *cfg = json_loads(
		"{\"url\": \"http://u\", \"api_key\": \"s1\", \"API_TOKEN\": \"s2\", \"db_password\": 42,"
		" \"nested\": {\"Client_Secret\": \"s3\", \"keep\": 1,"
		"   \"list\": [{\"password\": \"s4\", \"x\": \"y\"}, \"plain\", [{\"api_key\": \"s5\"}]]},"
		" \"secret_list\": [\"s6\"], \"secrets\": {\"a\": \"s7\"}, \"token\": \"s8\","
		" \"sessionKey\": \"s9\", \"X-Auth-Header\": \"s10\", \"CREDENTIALS\": [\"s11\"],"
		" \"tls_verify\": true, \"timeout\": 5}",
		0, NULL);
	json_t *m, *expect;
	char *dump;

	ck_assert_ptr_nonnull(cfg);
	m = provider_config_masked(cfg);
	expect = json_loads(
		"{\"url\": \"http://u\", \"api_key\": \"********\", \"API_TOKEN\": \"********\","
		" \"db_password\": \"********\", \"nested\": {\"Client_Secret\": \"********\", \"keep\": 1,"
		"   \"list\": [{\"password\": \"********\", \"x\": \"y\"}, \"plain\", [{\"api_key\": \"********\"}]]},"
		" \"secret_list\": \"********\", \"secrets\": \"********\", \"token\": \"********\","
		" \"sessionKey\": \"********\", \"X-Auth-Header\": \"********\", \"CREDENTIALS\": \"********\","
		" \"tls_verify\": true, \"timeout\": 5}",
		0, NULL);
	dump = json_dumps(m, JSON_SORT_KEYS);
	ck_assert_msg(json_equal(m, expect), "got %s", dump);
	free(dump);
	/* The original is untouched. */
	ck_assert_str_eq(json_string_value(json_object_get(cfg, "api_key")), "s1");
	dump = json_dumps(m, 0);
	for (int i = 1; i <= 11; i++) {
		char s[8];

		snprintf(s, sizeof(s), "\"s%d\"", i);
		ck_assert_msg(strstr(dump, s) == NULL, "secret %s leaked", s);
	}
	free(dump);
	json_decref(m);
	json_decref(expect);
	json_decref(cfg);
}
END_TEST

/* URL userinfo is masked in any string value; the rest of the URL stays. */
START_TEST(test_mask_url_userinfo)
{
	static const struct sg_case_str v[] = {
		{"http://user:pass@host/v1", "http://user:********@host/v1"},
		{"https://tok3n@host:8443/x?y=1#f", "https://********@host:8443/x?y=1#f"},
		{"http://user:p@ss:w@host", "http://user:********@host"},
		{"http://user:@host/", "http://user:********@host/"},
		{"postgres://app:pw@db/x", "postgres://app:********@db/x"},
		{"http://host/v1?email=a@b", "http://host/v1?email=a@b"},
		{"http://host/a@b", "http://host/a@b"},
		{"http://host", "http://host"},
		{"user@example.com", "user@example.com"},
		{"not a url: x://y@z", "not a url: x://y@z"},
		{"://a@b", "://a@b"},
		{"", ""},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_t *cfg = json_pack("{s:s,s:[s],s:{s:s}}", "url", v[i].in, "urls", v[i].in, "o", "base", v[i].in);
		json_t *m = provider_config_masked(cfg);

		ck_assert_ptr_nonnull(m);
		ck_assert_str_eq(json_string_value(json_object_get(m, "url")), v[i].want);
		ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "urls"), 0)), v[i].want);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "o"), "base")), v[i].want);
		json_decref(m);
		json_decref(cfg);
	}
}
END_TEST

/* provider_scrub: every configured secret of 8 bytes or more, wherever it appears. */
START_TEST(test_scrub)
{
	struct sg_conf *c;
	char text[512];

	setenv("OPENAI_API_KEY", "sk-env-key-0123456789", 1);
	c = sg_test_conf(
		"{\"providers\": {\"inference\": ["
		"  {\"provider_id\": \"v\", \"provider_type\": \"remote::vllm\", \"config\": {"
		"     \"url\": \"http://bob:url-password-1@h/v1\", \"api_token\": \"tok-0123456789\","
		"     \"extra\": {\"Session_Token\": [\"nested-secret-1\", \"short\"]}, \"plain\": \"visible-value\"}},"
		"  {\"provider_id\": \"o\", \"provider_type\": \"remote::openai\", \"config\": {}},"
		"  {\"provider_id\": \"p\", \"provider_type\": \"remote::passthrough\", \"config\": {"
		"     \"url\": \"https://only-token-userinfo@h\", \"api_key\": \"tok-0123456789-longer\"}}],"
		" \"safety\": [{\"provider_id\": \"t\", \"provider_type\": \"remote::x\","
		"     \"config\": {\"password\": \"tool-pass-word\", \"endpoint\": \"http://a%20b:p%40ss@h\"}}]}}");
	ck_assert_str_eq(c->providers[1].api_key, "sk-env-key-0123456789");

	snprintf(text, sizeof(text), "%s",
		 "key tok-0123456789 and tok-0123456789-longer, Bearer sk-env-key-0123456789; "
		 "url-password-1 nested-secret-1 only-token-userinfo tool-pass-word; short visible-value bob "
		 "tok-0123456789tok-0123456789");
	provider_scrub(c, text);
	ck_assert_str_eq(text,
			 "key ******** and ********, Bearer ********; "
			 "******** ******** ******** ********; short visible-value bob "
			 "****************");

	/* The Basic credentials an HTTP client makes of each URL's userinfo (user:password, token:). */
	snprintf(text, sizeof(text), "%s",
		 "got Basic Ym9iOnVybC1wYXNzd29yZC0x and Basic b25seS10b2tlbi11c2VyaW5mbzo= and YSBiOnBAc3M=");
	provider_scrub(c, text);
	ck_assert_str_eq(text, "got Basic ******** and Basic ******** and ********");

	/* Nothing to scrub: unchanged; NULL config or text: no-op. */
	snprintf(text, sizeof(text), "%s", "upstream says no");
	provider_scrub(c, text);
	ck_assert_str_eq(text, "upstream says no");
	provider_scrub(NULL, text);
	ck_assert_str_eq(text, "upstream says no");
	provider_scrub(c, NULL);
	text[0] = '\0';
	provider_scrub(c, text);
	ck_assert_str_eq(text, "");
	conf_free(c);
	unsetenv("OPENAI_API_KEY");
}
END_TEST

START_TEST(test_provider_info)
{
	struct sg_conf *c;
	json_t *info;
	char *dump;

	setenv("SG_TEST_W", "sk-secret-from-env", 1);
	c = sg_test_conf(
		"{\"providers\": {\"inference\": [{\"provider_id\": \"o\", \"provider_type\": \"remote::openai\",\n"
		"  \"config\": {\"api_key\": \"${env.SG_TEST_W}\", \"extra\": {\"password\": \"p\"}}}]}}");
	ck_assert_str_eq(c->providers[0].api_key, "sk-secret-from-env");
	info = provider_info_json(&c->providers[0]);
	ck_assert_ptr_nonnull(info);
	ck_assert_str_eq(json_string_value(json_object_get(info, "api")), "inference");
	ck_assert_str_eq(json_string_value(json_object_get(info, "provider_id")), "o");
	ck_assert_str_eq(json_string_value(json_object_get(info, "provider_type")), "remote::openai");
	ck_assert_uint_eq(json_object_size(info), 4);
	dump = json_dumps(info, JSON_SORT_KEYS);
	ck_assert_str_eq(
		dump,
		"{\"api\": \"inference\", \"config\": {\"api_key\": \"********\", \"extra\": "
		"{\"password\": \"********\"}}, \"provider_id\": \"o\", \"provider_type\": \"remote::openai\"}");
	free(dump);
	json_decref(info);
	conf_free(c);
	unsetenv("SG_TEST_W");
}
END_TEST

/* ---- Files ---- */

static char *
write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/check_conf_XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	static const char text[] = "{\"server\": {\"workers\": 3}}\n";
	char *path = write_temp(text, sizeof(text) - 1), *errors = NULL;
	struct sg_conf *c = conf_load(path, &errors);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(errors);
	ck_assert_int_eq(c->workers, 3);
	ck_assert_str_eq(c->path, path);
	conf_free(c);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_file_errors)
{
	static const char text[] = "{\n  \"server\": {\"workers\": 0}\n}\n";
	static const char nul[] = "{\n \"a\": \"x\0\"}";
	char *path = write_temp(text, sizeof(text) - 1), *errors = NULL, *expect;
	struct sg_conf *c = conf_load(path, &errors);

	ck_assert_ptr_null(c);
	expect = NULL;
	ck_assert_int_gt(
		asprintf(&expect, "%s:2:25: server.workers: must be an integer between 1 and 64, got 0\n", path), 0);
	ck_assert_str_eq(errors, expect);
	free(expect);
	free(errors);
	unlink(path);
	free(path);

	path = write_temp(nul, sizeof(nul) - 1);
	c = conf_load(path, &errors);
	ck_assert_ptr_null(c);
	ck_assert_int_gt(asprintf(&expect, "%s:2:9: the file contains a NUL byte\n", path), 0);
	ck_assert_str_eq(errors, expect);
	free(expect);
	free(errors);
	unlink(path);
	free(path);

	c = conf_load("/nonexistent/stackgate.json", &errors);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(errors, "/nonexistent/stackgate.json: cannot open: No such file or directory\n");
	free(errors);
	conf_free(NULL);
}
END_TEST

Suite *
conf_suite(void)
{
	const TTest *const load[] = {test_defaults,        test_every_field,      test_several_errors_sorted,
				     test_too_many_errors, test_numeric_strings,  test_value_helpers,
				     test_load_file,       test_load_file_errors, NULL};
	const struct sg_loop load_loops[] = {
		SG_LOOP(test_error_cases, error_cases), SG_LOOP(test_listen, listen_cases), {.t = NULL}};
	const TTest *const env[] = {test_env_set_unset_default, test_env_empty_default, test_env_embedded_multiple,
				    test_env_not_substituted,   test_env_home,          NULL};
	const TTest *const provider[] = {test_provider_api_key_env, test_provider_settings,
					 test_provider_table,       test_api_names,
					 test_access_policy,        test_mask_config,
					 test_mask_url_userinfo,    test_scrub,
					 test_provider_info,        NULL};
	const struct sg_loop provider_loops[] = {SG_LOOP(test_provider_kinds, kind_cases), {.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "load", .tests = load, .loops = load_loops},
					  {.name = "env", .tests = env},
					  {.name = "provider", .tests = provider, .loops = provider_loops},
					  {.name = NULL}};

	return sg_suite_new("conf", tcases);
}
