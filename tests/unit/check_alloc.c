/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_alloc.c: every allocation of an operation fails in turn.  Each
 * operation runs once with the countdown (sg.h) counting, which gives N, the
 * allocations it makes; then N more times, run i with allocation i failing
 * (jansson's too: the suite hands it sg_malloc).  Each failing run must
 * return the operation's failure (SG_E_NOMEM, or what the function documents
 * for it) or, where the failure is legitimately absorbed, succeed with the
 * same output as the run without failures; it must not crash, and under
 * valgrind (CK_FORK=no) it must free everything.  SG_ALLOC_VERBOSE=1 prints
 * each operation's N.  Config loading, resource building, row encoding, the
 * model rewrite and ACL parsing; no I/O.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "conf.h"
#include "policy.h"
#include "identity.h"
#include "json.h"
#include "openai.h"
#include "proxy.h"
#include "registry.h"
#include "resources.h"
#include "suites.h"

/* ---------------------------------------------------------------- driver */

/*
 * One operation: does its setup, arms the countdown with fail_at, runs,
 * calls disarm(), then checks what it can and cleans up.  Returns the
 * operation's status; when it is not a failure caused by the countdown,
 * *text is a new string describing the result, compared across runs.
 */
typedef sg_status (*alloc_op)(const void *arg, long fail_at, char **text);

static long made; /* allocations the last operation attempted while armed */

static void
arm(long fail_at)
{
	sg_alloc_fail_after(fail_at);
}

static void
disarm(void)
{
	made = sg_alloc_count();
	sg_alloc_fail_after(-1);
}

static char *
dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * Runs op once unarmed (a warm-up: nothing may be cached on first use), once
 * counting, then failing each allocation in turn.  nomem is the status a run
 * must return when it does not absorb the failure.  Returns N.
 */
static long
fail_each(const char *what, alloc_op op, const void *arg, sg_status nomem)
{
	char *ref = NULL, *text = NULL;
	sg_status ref_st, st;
	long n, absorbed = 0;

	ref_st = op(arg, -1, &ref);
	free(ref);
	ref = NULL;
	ck_assert_int_eq(op(arg, LONG_MAX, &ref), ref_st);
	n = made;
	ck_assert_msg(ref_st != nomem, "%s: fails with no allocation failing", what);
	ck_assert_msg(n > 0, "%s: makes no allocation through the countdown (%s: %s)", what, sg_status_name(ref_st),
		      ref ? ref : "");
	ck_assert_ptr_nonnull(ref);
	for (long i = 0; i < n; i++) {
		text = NULL;
		st = op(arg, i, &text);
		ck_assert_msg(made > i, "%s: allocation %ld of %ld was not made (not deterministic?)", what, i, n);
		if (st == ref_st) {
			ck_assert_msg(
				text != NULL && strcmp(text, ref) == 0,
				"%s: allocation %ld of %ld failed, yet it succeeded with a different result:\n%s\nwant:\n%s",
				what, i, n, text ? text : "(null)", ref);
			absorbed++;
		} else {
			ck_assert_msg(st == nomem, "%s: allocation %ld of %ld failed: got %s (%s), want %s", what, i, n,
				      sg_status_name(st), text ? text : "", sg_status_name(nomem));
		}
		free(text);
	}
	free(ref);
	if (getenv("SG_ALLOC_VERBOSE") != NULL)
		printf("alloc: %-40s N=%-5ld absorbed=%ld\n", what, n, absorbed);
	return n;
}

static void
setup(void)
{
	sg_json_init();
}

static void
teardown(void)
{
	sg_alloc_fail_after(-1);
}

/* ---------------------------------------------------------------- config */

/* A config with a provider of every API, ${env.…} substitution and resources, as an operator writes one. */
static const char conf_text[] =
	"{\n"
	"  \"version\": \"2\",\n"
	"  \"image_name\": \"alloc\",\n"
	"  \"server\": {\n"
	"    \"socket\": \"${env.SG_ALLOC_UNSET_RUN:/tmp/sg-alloc}/stackgate.sock\",\n"
	"    \"socket_mode\": \"0660\",\n"
	"    \"workers\": \"${env.SG_ALLOC_UNSET_WORKERS:3}\",\n"
	"    \"threads\": 16,\n"
	"    \"max_body_bytes\": 65536,\n"
	"    \"max_json_depth\": 32,\n"
	"    \"shutdown_timeout\": 20,\n"
	"    \"pid_file\": \"${env.SG_ALLOC_UNSET_PID:=/tmp/sg-alloc.pid}\",\n"
	"    \"log_level\": \"debug\"\n"
	"  },\n"
	"  \"database\": { \"conninfo\": \"dbname=sg${env.SG_ALLOC_UNSET_X:+never}\", \"pool_size\": 2 },\n"
	"  \"auth\": { \"required\": true, \"admin_roles\": [\"admin\", \"ops\"], \"key_cache_ttl\": 1 },\n"
	"  \"providers\": {\n"
	"    \"inference\": [\n"
	"      { \"provider_id\": \"vllm\", \"provider_type\": \"remote::vllm\",\n"
	"        \"config\": { \"url\": \"http://127.0.0.1:8000/v1\", \"api_token\": \"alloc-secret-token\","
	" \"timeout\": 30 } },\n"
	"      { \"provider_id\": \"ollama\", \"provider_type\": \"remote::ollama\",\n"
	"        \"config\": { \"url\": \"http://127.0.0.1:11434\", \"check_model_on_register\": false } }\n"
	"    ],\n"
	"    \"safety\": [ { \"provider_id\": \"llama-guard\", \"provider_type\": \"inline::llama-guard\","
	" \"config\": {} } ],\n"
	"    \"vector_io\": [ { \"provider_id\": \"faiss\", \"provider_type\": \"inline::faiss\", \"config\": {} } ],\n"
	"    \"datasetio\": [ { \"provider_id\": \"localfs\", \"provider_type\": \"inline::localfs\","
	" \"config\": {} } ],\n"
	"    \"scoring\": [ { \"provider_id\": \"basic\", \"provider_type\": \"inline::basic\", \"config\": {} } ],\n"
	"    \"eval\": [ { \"provider_id\": \"meta-reference\", \"provider_type\": \"inline::meta-reference\","
	" \"config\": {} } ],\n"
	"    \"tool_runtime\": [\n"
	"      { \"provider_id\": \"model-context-protocol\", \"provider_type\": \"remote::model-context-protocol\",\n"
	"        \"config\": { \"allowed_hosts\": [\"127.0.0.1:9\"], \"headers\": {\"X-A\": \"b\"} } },\n"
	"      { \"provider_id\": \"rag-runtime\", \"provider_type\": \"inline::rag-runtime\", \"config\": {} }\n"
	"    ]\n"
	"  },\n"
	"  \"access_policy\": [\n"
	"    { \"permit\": { \"actions\": [\"read\"] }, \"description\": \"everyone reads\" },\n"
	"    { \"forbid\": { \"actions\": [\"create\", \"delete\"], \"resource\": \"model::*\" },\n"
	"      \"unless\": \"user with admin in roles\" },\n"
	"    { \"permit\": { \"principal\": \"ci\", \"actions\": \"create\", \"resource\": \"benchmark::b1\" },\n"
	"      \"when\": [\"user is owner\", \"user in owners teams\"] }\n"
	"  ],\n"
	"  \"models\": [ { \"model_id\": \"m1\", \"provider_id\": \"vllm\" },\n"
	"              { \"model_id\": \"emb\", \"provider_id\": \"vllm\", \"model_type\": \"embedding\","
	" \"metadata\": {\"embedding_dimension\": 384} } ],\n"
	"  \"shields\": [ { \"shield_id\": \"s1\" } ],\n"
	"  \"tool_groups\": [ { \"toolgroup_id\": \"builtin::rag\", \"provider_id\": \"rag-runtime\" } ]\n"
	"}\n";

/* Several problems at once: each is reported, with its position. */
static const char conf_bad_text[] =
	"{\n"
	"  \"server\": { \"workers\": 0, \"threads\": \"many\", \"bogus\": 1 },\n"
	"  \"auth\": { \"admin_roles\": [1] },\n"
	"  \"access_policy\": [ { \"permit\": { \"actions\": [\"write\"] }, \"when\": \"user is ownr\" } ],\n"
	"  \"providers\": { \"inference\": [ { \"provider_id\": \"v\", \"provider_type\": \"remote::vllm\","
	" \"config\": {} } ] }\n"
	"}\n";

/* What a loaded config holds, as text. */
static char *
conf_summary(const struct sg_conf *c)
{
	char buf[16384], *root = dump(c->root);
	size_t used;

	used = (size_t) snprintf(buf, sizeof(buf),
				 "listen=%s mode=%o workers=%d threads=%d body=%zu depth=%d pid=%s "
				 "log=%s db=%s pool=%d auth=%d ttl=%d roles=%zu",
				 c->listen, (unsigned) c->socket_mode, c->workers, c->threads, c->max_body_bytes,
				 c->max_json_depth, c->pid_file ? c->pid_file : "-", c->log_level, c->conninfo,
				 c->db_pool_size, c->auth_required, c->key_cache_ttl_s, c->admin_roles.n);
	for (size_t i = 0; i < c->admin_roles.n && used < sizeof(buf); i++)
		used += (size_t) snprintf(buf + used, sizeof(buf) - used, " %s", c->admin_roles.v[i]);
	for (size_t i = 0; i < c->nproviders && used < sizeof(buf); i++) {
		const struct sg_provider *p = &c->providers[i];

		used += (size_t) snprintf(buf + used, sizeof(buf) - used,
					  "\n%s %s %s url=%s key=%s ct=%ld rt=%ld tls=%d check=%d",
					  conf_api_name(p->api), p->provider_id, p->provider_type,
					  p->base_url ? p->base_url : "-", p->api_key ? p->api_key : "-",
					  p->connect_timeout_ms, p->read_timeout_ms, p->tls_verify, p->check_models);
	}
	if (used < sizeof(buf)) {
		json_t *pj = policy_to_json(c->policy);
		char *policy = pj != NULL ? dump(pj) : NULL;

		snprintf(buf + used, sizeof(buf) - used, "\npolicy=%s\n%s", policy ? policy : "?", root);
		free(policy);
		json_decref(pj);
	}
	free(root);
	return sg_strdup(buf);
}

struct conf_arg {
	const char *text;
	char *errors; /* what loading it says with no allocation failing; NULL for a valid config */
};

/*
 * After an allocation failure the errors end with "out of memory"; every
 * line before it must be one the config's own errors have (no problem made
 * up by a value left half-done).
 */
static void
expect_nomem_errors(const char *errors, const char *want)
{
	static const char last[] = "alloc.json: out of memory\n";
	size_t n = strlen(errors), ll = strlen(last);
	const char *p = errors, *e;

	ck_assert_msg(n >= ll && strcmp(errors + n - ll, last) == 0, "errors do not end with out of memory:\n%s",
		      errors);
	for (; p < errors + n - ll; p = e + 1) {
		char line[1024];

		e = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s\n", (int) (e - p), p);
		ck_assert_msg(want != NULL && strstr(want, line) != NULL,
			      "after an allocation failure, a problem the config does not have: %s", line);
	}
}

static sg_status
op_conf_load(const void *argp, long fail_at, char **text)
{
	const struct conf_arg *a = argp;
	char *errors = NULL;
	struct sg_conf *c;

	arm(fail_at);
	c = conf_load_string(a->text, "alloc.json", &errors);
	disarm();
	if (c == NULL) {
		ck_assert_msg(errors != NULL, "conf_load_string failed without saying why");
		if (strstr(errors, "out of memory") != NULL) {
			expect_nomem_errors(errors, a->errors);
			free(errors);
			return SG_E_NOMEM;
		}
		*text = errors;
		return SG_E_BAD_REQUEST;
	}
	ck_assert_ptr_null(errors);
	*text = conf_summary(c);
	conf_free(c);
	return SG_OK;
}

START_TEST(conf_load_each_allocation)
{
	struct conf_arg good = {conf_text, NULL}, bad = {conf_bad_text, NULL};
	struct sg_conf *c = conf_load_string(conf_bad_text, "alloc.json", &bad.errors);

	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(bad.errors);
	fail_each("conf_load_string", op_conf_load, &good, SG_E_NOMEM);
	fail_each("conf_load_string (invalid)", op_conf_load, &bad, SG_E_NOMEM);
	free(bad.errors);
}
END_TEST

/* ------------------------------------------------------------- resources */

/* The objects resources_build looks up. */
static sg_status
lookup(void *ctx, enum sg_rtype t, const char *identifier, json_t **out)
{
	static const char *const names[] = {
		[SG_RT_MODEL] = "model", [SG_RT_DATASET] = "dataset", [SG_RT_SCORING_FN] = "scoring_function"};

	*out = NULL;
	ck_assert(t == SG_RT_MODEL || t == SG_RT_DATASET || t == SG_RT_SCORING_FN);
	*out = json_object_get(json_object_get(ctx, names[t]), identifier);
	if (*out == NULL)
		return SG_E_NOT_FOUND;
	json_incref(*out);
	return SG_OK;
}

static const char lookup_db[] =
	"{\"model\":{\"emb\":{\"identifier\":\"emb\",\"model_type\":\"embedding\",\"metadata\":"
	"{\"embedding_dimension\":384}}},"
	" \"dataset\":{\"ds\":{\"identifier\":\"ds\"}},"
	" \"scoring_function\":{\"f1\":{\"identifier\":\"f1\"},\"f2\":{\"identifier\":\"f2\"}}}";

/* One register body per type, with the caller's ACL given or taken, and one refused. */
static const struct {
	enum sg_rtype t;
	const char *body;
} builds[] = {
	{SG_RT_MODEL,
	 "{\"model_id\":\"meta-llama/Llama-3.2-3B\",\"provider_id\":\"vllm\",\"provider_model_id\":"
	 "\"llama3.2:3b\",\"metadata\":{\"k\":[1,\"two\",null]},\"model_type\":\"llm\"}"},
	{SG_RT_MODEL,
	 "{\"model_id\":\"e\",\"provider_id\":\"ollama\",\"model_type\":\"embedding\",\"metadata\":{\"embedding_dimension\":768},"
	 "\"access_attributes\":{\"teams\":[\"a\"],\"roles\":[\"u\"]}}"},
	{SG_RT_SHIELD,
	 "{\"shield_id\":\"s\",\"provider_shield_id\":\"Llama-Guard-3-1B\",\"params\":{\"x\":1},"
	 "\"access_attributes\":{\"teams\":[\"a\"],\"other\":1}}"},
	{SG_RT_VECTOR_DB, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\",\"provider_vector_db_id\":\"pv\"}"},
	{SG_RT_DATASET,
	 "{\"dataset_id\":\"d\",\"purpose\":\"eval/messages-answer\",\"source\":{\"type\":\"rows\","
	 "\"rows\":[{\"q\":\"a\"},{\"q\":\"b\"}]},\"metadata\":{\"m\":1}}"},
	{SG_RT_DATASET,
	 "{\"dataset_id\":\"u\",\"purpose\":\"post-training/messages\",\"source\":{\"type\":\"uri\","
	 "\"uri\":\"huggingface://datasets/x/y?split=train\"}}"},
	{SG_RT_SCORING_FN,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"number\"},"
	 "\"params\":{\"type\":\"llm_as_judge\",\"judge_model\":\"m\",\"judge_score_regexes\":[\"s(.)\"],"
	 "\"aggregation_functions\":[\"average\"]}}"},
	{SG_RT_SCORING_FN,
	 "{\"scoring_fn_id\":\"rx\",\"description\":\"d\",\"return_type\":{\"type\":\"string\"},"
	 "\"params\":{\"type\":\"regex_parser\",\"parsing_regexes\":[\"a(.*)\"]}}"},
	{SG_RT_BENCHMARK,
	 "{\"benchmark_id\":\"b1\",\"dataset_id\":\"ds\",\"scoring_functions\":[\"f1\",\"f2\"],"
	 "\"metadata\":{\"x\":\"y\"}}"},
	{SG_RT_TOOL_GROUP,
	 "{\"toolgroup_id\":\"mcp::t\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":"
	 "{\"uri\":\"http://127.0.0.1:9/mcp\"},\"args\":{\"k\":\"v\"}}"},
	{SG_RT_TOOL_GROUP, "{\"toolgroup_id\":\"builtin::rag\",\"provider_id\":\"rag-runtime\"}"},
	/* Refused: the caller may not give a team it is not in (the message is built with allocations). */
	{SG_RT_SHIELD, "{\"shield_id\":\"s\",\"access_attributes\":{\"teams\":[\"b\"]}}"},
};

struct build_arg {
	enum sg_rtype t;
	const struct sg_conf *conf;
	const struct identity *id;
	json_t *body, *db;
};

static sg_status
op_build(const void *argp, long fail_at, char **text)
{
	const struct build_arg *a = argp;
	struct sg_err err;
	json_t *out = NULL;
	sg_status st;

	memset(&err, 0, sizeof(err));
	arm(fail_at);
	st = resources_build(a->t, a->conf, a->id, a->body, lookup, a->db, &out, &err);
	disarm();
	if (st != SG_OK) {
		ck_assert_ptr_null(out);
		if (st != SG_E_NOMEM)
			*text = sg_asprintf("%s %s: %s", sg_status_name(st), err.param, err.msg);
		return st;
	}
	ck_assert_ptr_nonnull(out);
	*text = dump(out);
	json_decref(out);
	return SG_OK;
}

START_TEST(resources_build_each_allocation)
{
	char *errors = NULL, what[64];
	struct sg_conf *conf = conf_load_string(conf_text, "alloc.json", &errors);
	struct identity id = {0};
	json_t *db = json_loads(lookup_db, 0, NULL);

	ck_assert_msg(conf != NULL, "%s", errors ? errors : "");
	ck_assert_ptr_nonnull(db);
	id.principal = sg_strdup("alice");
	id.attrs.present = id.attrs.set[SG_ROLES] = id.attrs.set[SG_TEAMS] = true;
	ck_assert(sg_strv_push(&id.attrs.cat[SG_ROLES], "u") && sg_strv_push(&id.attrs.cat[SG_TEAMS], "a"));
	for (size_t i = 0; i < SG_ARRAY_LEN(builds); i++) {
		struct build_arg a = {builds[i].t, conf, &id, json_loads(builds[i].body, 0, NULL), db};

		ck_assert_msg(a.body != NULL, "bad test JSON %s", builds[i].body);
		snprintf(what, sizeof(what), "resources_build %s #%zu", registry_type_name(builds[i].t), i);
		fail_each(what, op_build, &a, SG_E_NOMEM);
		/* Start-up (no caller) takes another path through the ACL. */
		a.id = NULL;
		snprintf(what, sizeof(what), "resources_build %s #%zu at start-up", registry_type_name(builds[i].t), i);
		fail_each(what, op_build, &a, SG_E_NOMEM);
		json_decref(a.body);
	}
	identity_reset(&id);
	json_decref(db);
	conf_free(conf);
}
END_TEST

/* ------------------------------------------------------------------ rows */

struct row_arg {
	enum sg_rtype t;
	json_t *obj;
};

/* Object → row → object. */
static sg_status
op_row(const void *argp, long fail_at, char **text)
{
	const struct row_arg *a = argp;
	char *vals[32];
	struct sg_err err = {0};
	json_t *out = NULL;
	sg_status st;

	arm(fail_at);
	st = registry_row_from_object(a->t, a->obj, "alice", vals, &err);
	if (st == SG_OK)
		out = registry_row_to_object(a->t, (const char *const *) vals);
	disarm();
	registry_row_free(a->t, vals);
	if (st != SG_OK)
		return st;
	if (out == NULL)
		return SG_E_NOMEM; /* registry_row_to_object's only failure on a well-formed row */
	*text = dump(out);
	json_decref(out);
	return SG_OK;
}

START_TEST(registry_rows_each_allocation)
{
	char what[64];

	/* One complete object per type: check_registry.c's round trips. */
	for (size_t i = 0; i < registry_samples_count; i++) {
		struct row_arg a = {registry_samples[i].t, json_loads(registry_samples[i].obj, 0, NULL)};

		ck_assert_ptr_nonnull(a.obj);
		snprintf(what, sizeof(what), "registry_row %s", registry_type_name(registry_samples[i].t));
		fail_each(what, op_row, &a, SG_E_NOMEM);
		json_decref(a.obj);
	}
}
END_TEST

/* -------------------------------------------------------- model rewrite */

/* A chat completion response long enough that the output buffer grows several times. */
static char *
long_response(void)
{
	char content[3000];

	memset(content, 'w', sizeof(content) - 1);
	content[sizeof(content) - 1] = '\0';
	return sg_asprintf(
		"{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"upstream-name\",\"choices\":[{"
		"\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"%s\"}}],\"usage\":{}}",
		content);
}

static sg_status
op_rewrite(const void *arg, long fail_at, char **text)
{
	const char *in = arg;
	struct sg_buf b = {0};
	enum openai_rewrite rw;

	ck_assert(sg_buf_append(&b, "pre:", 4));
	arm(fail_at);
	rw = openai_rewrite_model(in, strlen(in), "\"asked\"", &b);
	disarm();
	if (rw == OPENAI_RW_NOMEM) {
		/* The contract: out as before the call. */
		ck_assert_uint_eq(b.len, 4);
		ck_assert_str_eq(b.p, "pre:");
		sg_buf_free(&b);
		return SG_E_NOMEM;
	}
	ck_assert_int_eq(rw, OPENAI_RW_REPLACED);
	*text = sg_strdup(b.p);
	sg_buf_free(&b);
	return SG_OK;
}

/* Events as proxy_sse_feed delivers them: several data lines, comments and other fields. */
static const char *const events[] = {
	"data: {\"id\":\"c1\",\"model\":\"up\",\"choices\":[{\"delta\":{\"content\":\"hello there\"}}]}",
	": keep-alive\nevent: chunk\nid: 7\ndata: {\"model\":\"up\",\ndata: \"choices\":[]}",
	"data: not json\ndata: at all",
	"data: [DONE]",
};

static sg_status
op_sse(const void *arg, long fail_at, char **text)
{
	const char *in = arg;
	struct sg_buf b = {0};
	bool done = false, ok;

	arm(fail_at);
	ok = openai_sse_rewrite(in, strlen(in), "\"asked\"", &b, &done);
	disarm();
	if (!ok) {
		sg_buf_free(&b);
		return SG_E_NOMEM;
	}
	*text = sg_asprintf("%d %s", done, b.p ? b.p : "");
	sg_buf_free(&b);
	return SG_OK;
}

START_TEST(openai_rewrite_each_allocation)
{
	char *body = long_response(), what[64];

	ck_assert_ptr_nonnull(body);
	fail_each("openai_rewrite_model", op_rewrite, body, SG_E_NOMEM);
	free(body);
	for (size_t i = 0; i < SG_ARRAY_LEN(events); i++) {
		snprintf(what, sizeof(what), "openai_sse_rewrite #%zu", i);
		fail_each(what, op_sse, events[i], SG_E_NOMEM);
	}
}
END_TEST

/* ------------------------------------------------------------------- ACL */

static const char *const acls[] = {
	"{\"roles\":[\"a\",\"b\",\"c\"],\"teams\":[],\"projects\":null,\"namespaces\":[\"k\",\"l\"],\"other\":1}",
	"{\"teams\":[\"x\",\"z\"]}",
	"{\"projects\":[\"p\"],\"namespaces\":null}",
};

static char *
attrs_text(const struct sg_attrs *a)
{
	json_t *j;
	char *s;

	j = acl_attrs_to_json(a);
	ck_assert_ptr_nonnull(j);
	s = dump(j);
	json_decref(j);
	return s;
}

static sg_status
op_acl_from_json(const void *arg, long fail_at, char **text)
{
	const json_t *j = arg;
	struct sg_attrs a;
	char err[128];
	sg_status st;

	arm(fail_at);
	st = acl_attrs_from_json(j, &a, err, sizeof(err));
	disarm();
	if (st == SG_OK)
		*text = attrs_text(&a);
	acl_attrs_free(&a);
	return st;
}

static sg_status
op_acl_to_json(const void *arg, long fail_at, char **text)
{
	const struct sg_attrs *a = arg;
	json_t *j;

	arm(fail_at);
	j = acl_attrs_to_json(a);
	disarm();
	if (j == NULL)
		return SG_E_NOMEM;
	*text = dump(j);
	json_decref(j);
	return SG_OK;
}

static sg_status
op_acl_merge(const void *arg, long fail_at, char **text)
{
	const struct sg_attrs *src = arg;
	struct sg_attrs dst = {0};
	bool ok;

	dst.present = dst.set[SG_TEAMS] = true;
	ck_assert(sg_strv_push(&dst.cat[SG_TEAMS], "x") && sg_strv_push(&dst.cat[SG_TEAMS], "y"));
	arm(fail_at);
	ok = acl_attrs_merge(&dst, src);
	disarm();
	/* On failure dst holds a partial union and must still be valid: encode it. */
	*text = attrs_text(&dst);
	acl_attrs_free(&dst);
	if (!ok) {
		free(*text);
		*text = NULL;
		return SG_E_NOMEM;
	}
	return SG_OK;
}

START_TEST(acl_each_allocation)
{
	char what[64], err[128];

	for (size_t i = 0; i < SG_ARRAY_LEN(acls); i++) {
		json_t *j = json_loads(acls[i], 0, NULL);
		struct sg_attrs a;

		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(acl_attrs_from_json(j, &a, err, sizeof(err)), SG_OK);
		snprintf(what, sizeof(what), "acl_attrs_from_json #%zu", i);
		fail_each(what, op_acl_from_json, j, SG_E_NOMEM);
		snprintf(what, sizeof(what), "acl_attrs_to_json #%zu", i);
		fail_each(what, op_acl_to_json, &a, SG_E_NOMEM);
		if (a.set[SG_ROLES] || a.set[SG_TEAMS]) {
			snprintf(what, sizeof(what), "acl_attrs_merge #%zu", i);
			fail_each(what, op_acl_merge, &a, SG_E_NOMEM);
		}
		acl_attrs_free(&a);
		json_decref(j);
	}
}
END_TEST

Suite *
alloc_suite(void)
{
	const TTest *const each_allocation_fails[] = {conf_load_each_allocation,     resources_build_each_allocation,
						      registry_rows_each_allocation, openai_rewrite_each_allocation,
						      acl_each_allocation,           NULL};
	const struct sg_tcase tcases[] = {{.name = "each allocation fails",
					   .tests = each_allocation_fails,
					   .timeout = 60,
					   .setup = setup,
					   .teardown = teardown},
					  {.name = NULL}};

	return sg_suite_new("alloc", tcases);
}
