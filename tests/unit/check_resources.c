/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_resources.c: the pure parts of the resources module (validation,
 * defaults, provider selection, ACL copying, reference checks through a fake
 * lookup, built-in tool lists, ToolDef → Tool) and of the MCP client (SSE and
 * JSON-RPC response finding, MCP tool → ToolDef).  No database, no network.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "resources.h"
#include "suites.h"

/* A config with the providers the integration tests use, or a subset. */
struct test_conf {
	struct sg_conf conf;
	struct sg_provider prov[16];
};

static void
add_provider(struct test_conf *tc, enum sg_api api, const char *id, const char *type)
{
	struct sg_provider *p = &tc->prov[tc->conf.nproviders++];

	ck_assert_uint_le(tc->conf.nproviders, SG_ARRAY_LEN(tc->prov));
	p->api = api;
	p->provider_id = sg_strdup(id);
	p->provider_type = sg_strdup(type);
	tc->conf.providers = tc->prov;
}

static struct test_conf *
conf_full(void)
{
	struct test_conf *tc = sg_calloc(1, sizeof(*tc));

	add_provider(tc, SG_API_INFERENCE, "vllm", "remote::vllm");
	add_provider(tc, SG_API_INFERENCE, "ollama", "remote::ollama");
	add_provider(tc, SG_API_SAFETY, "llama-guard", "inline::llama-guard");
	add_provider(tc, SG_API_VECTOR_IO, "faiss", "inline::faiss");
	add_provider(tc, SG_API_VECTOR_IO, "sqlite-vec", "inline::sqlite-vec");
	add_provider(tc, SG_API_DATASETIO, "localfs", "inline::localfs");
	add_provider(tc, SG_API_DATASETIO, "hf", "remote::huggingface");
	add_provider(tc, SG_API_SCORING, "basic", "inline::basic");
	add_provider(tc, SG_API_EVAL, "meta-reference", "inline::meta-reference");
	add_provider(tc, SG_API_TOOL_RUNTIME, "model-context-protocol", "remote::model-context-protocol");
	add_provider(tc, SG_API_TOOL_RUNTIME, "rag-runtime", "inline::rag-runtime");
	return tc;
}

static struct test_conf *
conf_empty(void)
{
	return sg_calloc(1, sizeof(struct test_conf));
}

static void
conf_done(struct test_conf *tc)
{
	for (size_t i = 0; i < tc->conf.nproviders; i++) {
		free(tc->prov[i].provider_id);
		free(tc->prov[i].provider_type);
	}
	free(tc);
}

/* The fake registry behind the lookup callback: {"model": {id: obj}, …}; "unavailable" fails every lookup. */
static sg_status
fake_lookup(void *ctx, enum sg_rtype t, const char *identifier, json_t **out)
{
	static const char *const names[] = {
		[SG_RT_MODEL] = "model", [SG_RT_DATASET] = "dataset", [SG_RT_SCORING_FN] = "scoring_function"};
	json_t *db = ctx, *obj;

	*out = NULL;
	if (json_object_get(db, "unavailable") != NULL)
		return SG_E_UNAVAILABLE;
	ck_assert(t == SG_RT_MODEL || t == SG_RT_DATASET || t == SG_RT_SCORING_FN);
	obj = json_object_get(json_object_get(db, names[t]), identifier);
	if (obj == NULL)
		return SG_E_NOT_FOUND;
	*out = json_incref(obj);
	return SG_OK;
}

/* Builds from a JSON text body; returns the status, the object in *out (or NULL) and err. */
static sg_status
build(enum sg_rtype t, struct test_conf *tc, const struct identity *id, const char *body_text, json_t *db, json_t **out,
      struct sg_err *err)
{
	json_error_t je;
	json_t *body = json_loads(body_text, 0, &je);
	sg_status st;

	ck_assert_msg(body != NULL, "bad test JSON: %s: %s", body_text, je.text);
	st = resources_build(t, &tc->conf, id, body, fake_lookup, db, out, err);
	json_decref(body);
	if (st == SG_OK)
		ck_assert_ptr_nonnull(*out);
	else
		ck_assert_ptr_null(*out);
	return st;
}

static json_t *
build_ok(enum sg_rtype t, struct test_conf *tc, const struct identity *id, const char *body, json_t *db)
{
	struct sg_err err;
	json_t *obj;
	sg_status st = build(t, tc, id, body, db, &obj, &err);

	ck_assert_msg(st == SG_OK, "%s: %s (%s)", body, sg_status_name(st), err.msg);
	return obj;
}

static void
expect_dump(json_t *obj, const char *want)
{
	char *got = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);

	ck_assert_str_eq(got, want);
	free(got);
}

static const char *
str_at(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

START_TEST(identifier_rules)
{
	static const struct sg_case_ok cases[] = {
		{"a", true},
		{"meta-llama/Llama-3.2-3B-Instruct", true},
		{"x'; DROP TABLE models;--", true},
		{"llama3.2:3b", true},
		{"caf\xc3\xa9 \xe2\x98\x95", true},
		{"", false},
		{"tab\there", false},
		{"new\nline", false},
		{"del\x7f", false},
		{"c1\xc2\x85", false},
		{"a/../b", false},
		{"..", false},
		{".", false},
		{"a/./b", false},
		{"a//b", false},
		{"/lead", false},
		{"trail/", false},
		{"a..b/.c/d.", true},
	};
	char why[128], buf[600];

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++)
		ck_assert_msg(resources_identifier_ok(cases[i].in, why, sizeof(why)) == cases[i].ok, "case %zu", i);
	memset(buf, 'x', 255);
	buf[255] = '\0';
	ck_assert(resources_identifier_ok(buf, why, sizeof(why)));
	buf[255] = 'x';
	buf[256] = '\0';
	ck_assert(!resources_identifier_ok(buf, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "255"));
	/* 255 two-byte characters are 510 bytes and still fine: the limit counts characters. */
	for (int i = 0; i < 255; i++)
		memcpy(buf + 2 * i, "\xc3\xa9", 2);
	buf[510] = '\0';
	ck_assert(resources_identifier_ok(buf, why, sizeof(why)));
}
END_TEST

START_TEST(acl_copied_from_creator_or_body)
{
	struct test_conf *tc = conf_full();
	struct identity id = {0}, anon = {0};
	json_t *obj, *want, *acl;

	id.principal = sg_strdup("alice");
	id.attrs.present = true;
	id.attrs.set[SG_ROLES] = true;
	ck_assert(sg_strv_push(&id.attrs.cat[SG_ROLES], "ml"));
	id.attrs.set[SG_TEAMS] = true;
	ck_assert(sg_strv_push(&id.attrs.cat[SG_TEAMS], "search"));

	obj = build_ok(SG_RT_MODEL, tc, &id, "{\"model_id\":\"m\",\"provider_id\":\"vllm\"}", NULL);
	want = acl_attrs_to_json(&id.attrs);
	acl = json_object_get(obj, "access_attributes");
	ck_assert(json_equal(acl, want));
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(acl, "roles"), 0)), "ml");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(acl, "teams"), 0)), "search");
	json_decref(want);
	json_decref(obj);

	/* An explicit ACL within the creator's own attributes wins over the creator's. */
	obj = build_ok(SG_RT_SHIELD, tc, &id,
		       "{\"shield_id\":\"s\",\"access_attributes\":{\"teams\":[\"search\"],\"other\":1}}", NULL);
	acl = json_object_get(obj, "access_attributes");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(acl, "teams"), 0)), "search");
	ck_assert(json_object_get(acl, "roles") == NULL || json_is_null(json_object_get(acl, "roles")));
	json_decref(obj);
	/* Start-up (the config) gives any ACL (a malformed one: bad_bodies). */
	obj = build_ok(SG_RT_SHIELD, tc, NULL, "{\"shield_id\":\"s\",\"access_attributes\":{\"projects\":[\"p1\"]}}",
		       NULL);
	acl = json_object_get(obj, "access_attributes");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(acl, "projects"), 0)), "p1");
	json_decref(obj);

	/* An anonymous caller's objects, and start-up's (NULL), get no ACL. */
	obj = build_ok(SG_RT_SHIELD, tc, &anon, "{\"shield_id\":\"s\"}", NULL);
	ck_assert(json_is_null(json_object_get(obj, "access_attributes")));
	json_decref(obj);

	for (int c = 0; c < SG_ATTR_NCAT; c++)
		sg_strv_free(&id.attrs.cat[c]);
	free(id.principal);
	conf_done(tc);
}
END_TEST

/* Who may give which access_attributes (resources_acl_for through resources_build): one table. */
static const struct {
	const char
		*who; /* "alice" (teams a, roles u), "admin" (roles admin, teams ops), "anon", "bare" (no attributes) */
	const char *acl; /* the body's "access_attributes" as JSON text; NULL: the key is absent */
	sg_status want;
	const char *result; /* the stored access_attributes (SG_OK), or a part of the message */
} acl_rules[] = {
	{"alice", NULL, SG_OK, "{\"roles\":[\"u\"],\"teams\":[\"a\"],\"projects\":null,\"namespaces\":null}"},
	{"alice", "{\"teams\":[\"a\"]}", SG_OK,
	 "{\"roles\":null,\"teams\":[\"a\"],\"projects\":null,\"namespaces\":null}"},
	{"alice", "{\"teams\":[\"b\"]}", SG_E_FORBIDDEN, "the caller's own teams, and 'b' is not one of them"},
	{"alice", "{\"teams\":[\"a\",\"b\"]}", SG_E_FORBIDDEN, "'b' is not one of them"},
	{"alice", "{\"teams\":[]}", SG_E_FORBIDDEN, "must list at least one of the caller's own teams"},
	{"alice", "{}", SG_E_FORBIDDEN, "at least one category"},
	{"alice", "null", SG_E_FORBIDDEN, "only an admin may register an object without access_attributes"},
	{"alice", "{\"teams\":\"a\"}", SG_E_BAD_REQUEST, "access_attributes.teams must be an array"},
	{"admin", NULL, SG_OK, "{\"roles\":[\"admin\"],\"teams\":[\"ops\"],\"projects\":null,\"namespaces\":null}"},
	{"admin", "{\"teams\":[\"b\"]}", SG_OK,
	 "{\"roles\":null,\"teams\":[\"b\"],\"projects\":null,\"namespaces\":null}"},
	{"admin", "{}", SG_OK, "{\"roles\":null,\"teams\":null,\"projects\":null,\"namespaces\":null}"},
	{"admin", "null", SG_OK, "null"},
	{"anon", NULL, SG_OK, "null"},
	{"anon", "null", SG_OK, "null"},
	{"anon", "{\"teams\":[\"a\"]}", SG_E_FORBIDDEN, "an anonymous caller cannot give access_attributes"},
	{"anon-attrs", NULL, SG_OK, "null"}, /* attributes without a principal: still anonymous */
	{"bare", NULL, SG_OK, "null"},
	{"bare", "null", SG_OK, "null"},
	{"bare", "{\"teams\":[\"a\"]}", SG_E_FORBIDDEN, "'a' is not one of them"},
	{"config", NULL, SG_OK, "null"},
	{"config", "null", SG_OK, "null"},
	{"config", "{\"teams\":[\"x\"]}", SG_OK,
	 "{\"roles\":null,\"teams\":[\"x\"],\"projects\":null,\"namespaces\":null}"},
};

/* The default policy for auth.admin_roles ["admin"], which the tables' callers are judged by. */
static struct sg_policy *
default_policy(void)
{
	static struct sg_policy *p;
	struct sg_strv roles = {0};

	if (p == NULL) {
		ck_assert(sg_strv_push(&roles, "admin"));
		p = policy_default(&roles);
		sg_strv_free(&roles);
		ck_assert_ptr_nonnull(p);
	}
	return p;
}

/* A caller for the tables: see acl_rules' who.  Free with identity_reset(). */
static struct identity
caller(const char *who)
{
	struct identity id = {.policy = default_policy()};
	bool ok = true;

	if (strcmp(who, "alice") == 0 || strcmp(who, "carol") == 0 || strcmp(who, "anon-attrs") == 0) {
		id.attrs.present = id.attrs.set[SG_ROLES] = id.attrs.set[SG_TEAMS] = true;
		ok = sg_strv_push(&id.attrs.cat[SG_ROLES], "u") && sg_strv_push(&id.attrs.cat[SG_TEAMS], "a");
	} else if (strcmp(who, "admin") == 0) {
		id.attrs.present = id.attrs.set[SG_ROLES] = id.attrs.set[SG_TEAMS] = true;
		ok = sg_strv_push(&id.attrs.cat[SG_ROLES], "admin") && sg_strv_push(&id.attrs.cat[SG_TEAMS], "ops");
		id.admin = true;
	}
	if (strcmp(who, "anon") != 0 && strcmp(who, "anon-attrs") != 0)
		id.principal = sg_strdup(who);
	ck_assert(ok && (id.principal != NULL || strncmp(who, "anon", 4) == 0));
	return id;
}

START_TEST(acl_rules_table)
{
	struct test_conf *tc = conf_full();
	struct identity id = caller(acl_rules[_i].who);
	bool config = strcmp(acl_rules[_i].who, "config") == 0;
	char body[512];
	struct sg_err err = {.param = "", .msg = ""};
	json_t *obj = NULL;
	sg_status st;

	if (acl_rules[_i].acl != NULL)
		snprintf(body, sizeof(body), "{\"shield_id\":\"s\",\"access_attributes\":%s}", acl_rules[_i].acl);
	else
		snprintf(body, sizeof(body), "{\"shield_id\":\"s\"}");
	st = build(SG_RT_SHIELD, tc, config ? NULL : &id, body, NULL, &obj, &err);
	ck_assert_msg(st == acl_rules[_i].want, "%s %s: got %s (%s)", acl_rules[_i].who, body, sg_status_name(st),
		      err.msg);
	if (st == SG_OK) {
		char *got = json_dumps(json_object_get(obj, "access_attributes"), JSON_COMPACT | JSON_ENCODE_ANY);

		ck_assert_str_eq(got, acl_rules[_i].result);
		free(got);
	} else {
		ck_assert_str_eq(err.param, "access_attributes");
		ck_assert_msg(strstr(err.msg, acl_rules[_i].result) != NULL, "%s %s: '%s' lacks '%s'",
			      acl_rules[_i].who, body, err.msg, acl_rules[_i].result);
	}
	json_decref(obj);
	identity_reset(&id);
	conf_done(tc);
}
END_TEST

/* resources_may_unregister: the default unregister rule, one table. */
static const struct {
	const char *who;   /* as caller(): alice and carol share team a and role u */
	const char *acl;   /* the object's access_attributes */
	const char *owner; /* NULL: none */
	bool from_config;
	sg_status want;
} unregister_rules[] = {
	{"alice", "{\"teams\":[\"a\"]}", "alice", false, SG_OK},          /* the owner */
	{"carol", "{\"teams\":[\"a\"]}", "alice", false, SG_E_FORBIDDEN}, /* sees it, does not own it */
	{"bob", "{\"teams\":[\"a\"]}", "alice", false, SG_E_NOT_FOUND},   /* cannot see it */
	{"admin", "{\"teams\":[\"a\"]}", "alice", false, SG_OK},          /* an admin */
	{"admin", "null", NULL, true, SG_OK},                             /* an admin, a config object */
	{"alice", "null", NULL, true, SG_E_FORBIDDEN},                    /* config objects: admin only */
	{"alice", "{\"teams\":[\"a\"]}", "alice", true, SG_E_FORBIDDEN},  /* even one the config claimed */
	{"anon", "null", NULL, true, SG_E_FORBIDDEN},
	{"anon", "null", NULL, false, SG_OK},             /* ownerless, not from the config */
	{"anon", "null", "alice", false, SG_E_FORBIDDEN}, /* a principal's public object */
	{"anon", "{\"teams\":[\"a\"]}", NULL, false, SG_E_NOT_FOUND},
	{"alice", "null", NULL, false, SG_E_FORBIDDEN}, /* an anonymous caller's object */
	{"bob", "null", "alice", false, SG_E_FORBIDDEN},
	{"alice", "{\"teams\":[\"a\"]}", "alicia", false, SG_E_FORBIDDEN}, /* owners compare exactly */
};

START_TEST(unregister_rules_table)
{
	struct identity id = caller(unregister_rules[_i].who);
	struct sg_err err = {.param = "", .msg = ""};
	char text[256];
	json_t *obj;
	sg_status st;

	snprintf(text, sizeof(text), "{\"identifier\":\"m\",\"type\":\"model\",\"access_attributes\":%s}",
		 unregister_rules[_i].acl);
	obj = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(obj);
	st = resources_may_unregister(&id, SG_RT_MODEL, obj, unregister_rules[_i].owner,
				      unregister_rules[_i].from_config, &err);
	ck_assert_msg(st == unregister_rules[_i].want, "case %d: got %s (%s)", _i, sg_status_name(st), err.msg);
	if (st == SG_E_NOT_FOUND)
		ck_assert_str_eq(err.msg, "Model 'm' not found");
	else if (st == SG_E_FORBIDDEN && unregister_rules[_i].from_config)
		ck_assert_str_eq(err.msg, "Model 'm' comes from the configuration: only an admin may unregister it");
	else if (st == SG_E_FORBIDDEN)
		ck_assert_str_eq(err.msg, "Model 'm' may be unregistered only by its owner or an admin");
	json_decref(obj);
	identity_reset(&id);
}
END_TEST

static json_t *
fake_db(void)
{
	json_error_t je;
	json_t *db = json_loads(
		"{\"model\":{"
		"  \"emb\":{\"identifier\":\"emb\",\"model_type\":\"embedding\",\"metadata\":{\"embedding_dimension\":384}},"
		"  \"llm\":{\"identifier\":\"llm\",\"model_type\":\"llm\",\"metadata\":{}},"
		"  \"cyc\":{\"identifier\":\"cyc\",\"model_type\":\"llm\",\"fallbacks\":[\"llm\",\"m\"]},"
		"  \"nodim\":{\"identifier\":\"nodim\",\"model_type\":\"embedding\",\"metadata\":{}}},"
		" \"dataset\":{\"ds\":{\"identifier\":\"ds\"}},"
		" \"scoring_function\":{\"f1\":{\"identifier\":\"f1\"},\"f2\":{\"identifier\":\"f2\"}}}",
		0, &je);

	ck_assert_msg(db != NULL, "%s", je.text);
	return db;
}

/* The configs the good_bodies and bad_bodies tables build against. */
enum conf_kind {
	C_FULL, /* conf_full() */
	C_NONE, /* no provider at all */
	C_TWO,  /* two datasetio providers of a kind no default is assumed for */
	C_ONE,  /* one inference provider "only", one safety provider "guard" */
	C_ODD,  /* one datasetio provider "my-store" of a kind no default is assumed for */
};

static struct test_conf *
test_conf_of(enum conf_kind k)
{
	struct test_conf *tc = k == C_FULL ? conf_full() : conf_empty();

	if (k == C_TWO) {
		add_provider(tc, SG_API_DATASETIO, "a", "remote::nvidia");
		add_provider(tc, SG_API_DATASETIO, "b", "remote::nvidia");
	} else if (k == C_ONE) {
		add_provider(tc, SG_API_INFERENCE, "only", "remote::vllm");
		add_provider(tc, SG_API_SAFETY, "guard", "inline::llama-guard");
	} else if (k == C_ODD) {
		add_provider(tc, SG_API_DATASETIO, "my-store", "remote::nvidia");
	}
	return tc;
}

/*
 * Bodies resources_build accepts, and what it makes of them: one table.  want
 * is the object's compact JSON (key order included), or with members set, some
 * of its members, each compared the same way.  db is fake_db().
 */
static const struct {
	enum sg_rtype t;
	enum conf_kind conf;
	const char *body, *want;
	bool members;
} good_bodies[] = {
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m1\",\"provider_id\":\"vllm\",\"bogus\":1}",
	 "{\"identifier\":\"m1\",\"provider_resource_id\":\"m1\",\"provider_id\":\"vllm\",\"type\":\"model\","
	 "\"access_attributes\":null,\"metadata\":{},\"model_type\":\"llm\",\"deployments\":null,\"routing\":null,"
	 "\"fallbacks\":null}",
	 false},
	/* Deployments: the first one is the model's provider; defaults filled in (router.h). */
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m2\",\"deployments\":[{\"provider_id\":\"ollama\",\"provider_model_id\":\"o\",\"weight\":3},"
	 "{\"provider_id\":\"vllm\"}],\"routing\":\"least-busy\",\"fallbacks\":[\"llm\"]}",
	 "{\"identifier\":\"m2\",\"provider_resource_id\":\"o\",\"provider_id\":\"ollama\",\"type\":\"model\","
	 "\"access_attributes\":null,\"metadata\":{},\"model_type\":\"llm\",\"deployments\":[{\"provider_id\":"
	 "\"ollama\",\"provider_model_id\":\"o\",\"weight\":3},{\"provider_id\":\"vllm\",\"provider_model_id\":\"m2\","
	 "\"weight\":1}],\"routing\":\"least-busy\",\"fallbacks\":[\"llm\"]}",
	 false},
	/* The first deployment's provider_model_id defaults to the model id, and so does the model's. */
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m4\",\"deployments\":[{\"provider_id\":\"vllm\"}]}",
	 "{\"provider_resource_id\":\"m4\",\"deployments\":[{\"provider_id\":\"vllm\",\"provider_model_id\":\"m4\","
	 "\"weight\":1}]}",
	 true},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m3\",\"provider_id\":\"vllm\",\"provider_model_id\":\"x\",\"deployments\":[{\"provider_id\":"
	 "\"vllm\",\"provider_model_id\":\"x\"}],\"routing\":null,\"fallbacks\":[]}",
	 "{\"provider_resource_id\":\"x\",\"routing\":null,\"fallbacks\":null}", true},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"meta-llama/Llama-3.2-3B-Instruct\",\"provider_model_id\":\"llama3.2:3b\","
	 "\"provider_id\":\"ollama\",\"metadata\":{\"k\":[1]},\"model_type\":null}",
	 "{\"identifier\":\"meta-llama/Llama-3.2-3B-Instruct\",\"provider_resource_id\":\"llama3.2:3b\","
	 "\"model_type\":\"llm\",\"metadata\":{\"k\":[1]}}",
	 true},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"e1\",\"provider_id\":\"vllm\",\"model_type\":\"embedding\","
	 "\"metadata\":{\"embedding_dimension\":384}}",
	 "{\"model_type\":\"embedding\"}", true},
	/* Exactly one provider: it is used (several, or none: bad_bodies). */
	{SG_RT_MODEL, C_ONE, "{\"model_id\":\"m\"}", "{\"provider_id\":\"only\"}", true},
	{SG_RT_SHIELD, C_ONE, "{\"shield_id\":\"s\"}", "{\"provider_id\":\"guard\"}", true},
	{SG_RT_SHIELD, C_FULL, "{\"shield_id\":\"s1\",\"provider_shield_id\":\"Llama-Guard-3-1B\"}",
	 "{\"identifier\":\"s1\",\"provider_resource_id\":\"Llama-Guard-3-1B\",\"provider_id\":\"llama-guard\","
	 "\"type\":\"shield\",\"access_attributes\":null,\"params\":{}}",
	 false},
	/* The dimension comes from the model; the first vector_io provider is used. */
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\"}",
	 "{\"identifier\":\"v1\",\"provider_resource_id\":\"v1\",\"provider_id\":\"faiss\",\"type\":\"vector_db\","
	 "\"access_attributes\":null,\"embedding_model\":\"emb\",\"embedding_dimension\":384}",
	 false},
	{SG_RT_VECTOR_DB, C_FULL,
	 "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\",\"embedding_dimension\":384,"
	 "\"provider_id\":\"sqlite-vec\",\"provider_vector_db_id\":\"pv\"}",
	 "{\"provider_id\":\"sqlite-vec\",\"provider_resource_id\":\"pv\"}", true},
	{SG_RT_DATASET, C_FULL,
	 "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":"
	 "\"huggingface://llamastack/simpleqa?split=train\",\"extra\":1},\"dataset_id\":\"sqa\"}",
	 "{\"identifier\":\"sqa\",\"provider_resource_id\":\"sqa\",\"provider_id\":\"hf\",\"type\":\"dataset\","
	 "\"access_attributes\":null,\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":"
	 "\"huggingface://llamastack/simpleqa?split=train\"},\"metadata\":{}}",
	 false},
	{SG_RT_DATASET, C_FULL,
	 "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":"
	 "\"https://huggingface.co/datasets/x/y\"},\"dataset_id\":\"d\"}",
	 "{\"provider_id\":\"hf\"}", true},
	{SG_RT_DATASET, C_FULL,
	 "{\"purpose\":\"post-training/messages\",\"source\":{\"type\":\"rows\",\"rows\":[{\"a\":1}]},"
	 "\"dataset_id\":\"d\"}",
	 "{\"provider_id\":\"localfs\"}", true},
	{SG_RT_DATASET, C_FULL,
	 "{\"purpose\":\"eval/messages-answer\",\"source\":{\"type\":\"uri\",\"uri\":\"lsfs://x.jsonl\"},"
	 "\"provider_id\":\"hf\",\"dataset_id\":\"d\"}",
	 "{\"provider_id\":\"hf\"}", true},
	/* Provider ids are never assumed: the only datasetio provider serves whatever kind it is. */
	{SG_RT_DATASET, C_ODD,
	 "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"rows\",\"rows\":[]},\"dataset_id\":\"d\"}",
	 "{\"provider_id\":\"my-store\"}", true},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"number\",\"x\":1},"
	 "\"params\":{\"type\":\"llm_as_judge\",\"judge_model\":\"m\"}}",
	 "{\"identifier\":\"sf\",\"provider_resource_id\":\"sf\",\"provider_id\":\"basic\",\"type\":"
	 "\"scoring_function\",\"access_attributes\":null,\"description\":\"d\",\"metadata\":{},"
	 "\"return_type\":{\"type\":\"number\"},\"params\":{\"type\":\"llm_as_judge\",\"judge_model\":\"m\","
	 "\"prompt_template\":null,\"judge_score_regexes\":[],\"aggregation_functions\":[]}}",
	 false},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"string\"},"
	 "\"params\":{\"type\":\"regex_parser\",\"parsing_regexes\":[\"a(.*)\"],\"aggregation_functions\":"
	 "[\"accuracy\",\"median\"]}}",
	 "{\"params\":{\"type\":\"regex_parser\",\"parsing_regexes\":[\"a(.*)\"],"
	 "\"aggregation_functions\":[\"accuracy\",\"median\"]}}",
	 true},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"boolean\"},"
	 "\"params\":{\"type\":\"basic\"}}",
	 "{\"params\":{\"type\":\"basic\",\"aggregation_functions\":[]}}", true},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"}}", "{\"params\":null}",
	 true},
	{SG_RT_BENCHMARK, C_FULL,
	 "{\"benchmark_id\":\"b1\",\"dataset_id\":\"ds\",\"scoring_functions\":[\"f1\",\"f2\"]}",
	 "{\"identifier\":\"b1\",\"provider_resource_id\":\"b1\",\"provider_id\":\"meta-reference\",\"type\":"
	 "\"benchmark\",\"access_attributes\":null,\"dataset_id\":\"ds\",\"scoring_functions\":[\"f1\",\"f2\"],"
	 "\"metadata\":{}}",
	 false},
	{SG_RT_TOOL_GROUP, C_FULL,
	 "{\"toolgroup_id\":\"mcp::t\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":"
	 "{\"uri\":\"http://127.0.0.1:1/mcp\"},\"args\":{\"k\":\"v\"}}",
	 "{\"identifier\":\"mcp::t\",\"provider_resource_id\":\"mcp::t\",\"provider_id\":"
	 "\"model-context-protocol\",\"type\":\"tool_group\",\"access_attributes\":null,\"mcp_endpoint\":"
	 "{\"uri\":\"http://127.0.0.1:1/mcp\"},\"args\":{\"k\":\"v\"}}",
	 false},
	{SG_RT_TOOL_GROUP, C_FULL, "{\"toolgroup_id\":\"builtin::rag\",\"provider_id\":\"rag-runtime\"}",
	 "{\"mcp_endpoint\":null,\"args\":null}", true},
};

START_TEST(good_bodies_table)
{
	struct test_conf *tc = test_conf_of(good_bodies[_i].conf);
	json_t *db = fake_db(), *obj = build_ok(good_bodies[_i].t, tc, NULL, good_bodies[_i].body, db);
	json_t *want = json_loads(good_bodies[_i].want, 0, NULL), *w;
	const char *key;

	ck_assert_ptr_nonnull(want);
	if (!good_bodies[_i].members)
		expect_dump(obj, good_bodies[_i].want);
	else
		json_object_foreach(want, key, w) {
			char *text = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY);
			json_t *got = json_object_get(obj, key);

			ck_assert_msg(got != NULL, "%s: no %s", good_bodies[_i].body, key);
			expect_dump(got, text);
			free(text);
		}
	json_decref(want);
	json_decref(obj);
	json_decref(db);
	conf_done(tc);
}
END_TEST

/* Bodies resources_build refuses with a 400 naming param, with a message containing needle: one table. */
static const struct {
	enum sg_rtype t;
	enum conf_kind conf;
	const char *body, *param, *needle;
} bad_bodies[] = {
	{SG_RT_MODEL, C_FULL, "{}", "model_id", "model_id is required"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":null,\"provider_id\":\"vllm\"}", "model_id", "is required"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":7,\"provider_id\":\"vllm\"}", "model_id", "must be a string"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"\",\"provider_id\":\"vllm\"}", "model_id", "empty"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"a\\u0001b\",\"provider_id\":\"vllm\"}", "model_id",
	 "control characters"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_model_id\":\"\",\"provider_id\":\"vllm\"}",
	 "provider_model_id", "empty"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"model_type\":\"chat\"}", "model_type",
	 "must be one of 'llm', 'embedding', not 'chat'"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"metadata\":[]}", "metadata",
	 "must be an object"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"deployments\":[]}", "deployments", "1 to 16 deployments"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"deployments\":{}}", "deployments", "must be an array"},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m\",\"deployments\":[{\"provider_id\":\"vllm\"},{\"provider_id\":\"x\"}]}",
	 "deployments[1].provider_id", "'x' is not a configured inference provider"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"deployments\":[{\"provider_id\":\"vllm\",\"weight\":0}]}",
	 "deployments[0].weight", "from 1 to 1000000"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"deployments\":[7]}", "deployments[0]", "must be an object"},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m\",\"provider_model_id\":\"other\",\"deployments\":[{\"provider_id\":\"vllm\"}]}",
	 "provider_id", "must be the first deployment's"},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m\",\"provider_id\":\"ollama\",\"deployments\":[{\"provider_id\":\"vllm\"}]}", "provider_id",
	 "must be the first deployment's"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"routing\":\"random\"}", "routing",
	 "must be one of 'weighted', 'least-busy', 'ordered', not 'random'"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[\"nope\"]}", "fallbacks",
	 "fallbacks: Model 'nope' not found"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[\"m\"]}", "fallbacks",
	 "cannot fall back to itself"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[\"llm\",\"llm\"]}",
	 "fallbacks", "listed twice"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[\"emb\"]}", "fallbacks",
	 "of type 'embedding', not 'llm'"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[\"cyc\"]}", "fallbacks",
	 "'cyc' leads back to 'm' through its own fallbacks (a cycle)"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"fallbacks\":[1]}", "fallbacks",
	 "must be an array of model ids"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"model_type\":\"embedding\"}",
	 "metadata.embedding_dimension", "needs metadata.embedding_dimension"},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"model_type\":\"embedding\",\"metadata\":{\"embedding_"
	 "dimension\":\"384\"}}",
	 "metadata.embedding_dimension", "positive integer"},
	{SG_RT_MODEL, C_FULL,
	 "{\"model_id\":\"m\",\"provider_id\":\"vllm\",\"model_type\":\"embedding\",\"metadata\":{\"embedding_"
	 "dimension\":0}}",
	 "metadata.embedding_dimension", "positive integer"},
	/* Two inference providers: provider_id is needed, and the message lists them plainly. */
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\"}", "provider_id",
	 "provider_id is required when several inference providers are configured (configured: vllm, ollama)"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"tgi\"}", "provider_id",
	 "provider_id 'tgi' is not a configured inference provider (configured inference providers: vllm, olla"
	 "ma)"},
	/* A provider of another API is not one of this API's. */
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":\"faiss\"}", "provider_id",
	 "'faiss' is not a configured inference provider"},
	{SG_RT_MODEL, C_FULL, "{\"model_id\":\"m\",\"provider_id\":5}", "provider_id", "must be a string"},
	/* None: the message says so instead of asking to pick among nothing. */
	{SG_RT_MODEL, C_NONE, "{\"model_id\":\"m\"}", "provider_id", "no inference provider is configured"},
	{SG_RT_MODEL, C_NONE, "{\"model_id\":\"m\",\"provider_id\":\"x\"}", "provider_id",
	 "(configured inference providers: none)"},
	{SG_RT_SHIELD, C_NONE, "{\"shield_id\":\"s\"}", "provider_id", "no safety provider is configured"},
	{SG_RT_SCORING_FN, C_NONE,
	 "{\"scoring_fn_id\":\"s\",\"description\":\"d\",\"return_type\":{\"type\":\"number\"}}", "provider_id",
	 "no scoring provider is configured"},
	{SG_RT_SHIELD, C_FULL, "{\"shield_id\":\"s\",\"access_attributes\":{\"roles\":\"admin\"}}", "access_attributes",
	 "access_attributes"},
	{SG_RT_SHIELD, C_FULL, "{\"shield_id\":\"s1\",\"params\":\"x\"}", "params", "must be an object"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\",\"embedding_dimension\":768}",
	 "embedding_dimension", "embedding_dimension 768 does not match the dimension 384"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\",\"embedding_dimension\":-1}",
	 "embedding_dimension", "positive integer"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"nope\"}", "embedding_model",
	 "Model 'nope' not found"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"llm\"}", "embedding_model",
	 "is not an embedding model"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"nodim\"}", "embedding_model",
	 "no valid metadata.embedding_dimension"},
	{SG_RT_VECTOR_DB, C_FULL, "{\"vector_db_id\":\"v1\"}", "embedding_model", "embedding_model is required"},
	{SG_RT_VECTOR_DB, C_NONE, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\"}", "provider_id",
	 "no vector_io provider is configured"},
	{SG_RT_DATASET, C_FULL, "{\"source\":{\"type\":\"rows\",\"rows\":[]}}", "purpose", "purpose is required"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval\",\"source\":{\"type\":\"rows\",\"rows\":[]}}", "purpose",
	 "must be one of 'post-training/messages', 'eval/question-answer', 'eval/messages-answer'"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\"}", "source", "source is required"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\",\"source\":{\"uri\":\"x\"}}", "source.type",
	 "source.type is required"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"file\"}}", "source.type",
	 "must be one of 'uri', 'rows'"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":\"\"}}",
	 "source.uri", "must not be empty"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"rows\"}}", "source.rows",
	 "source.rows is required"},
	{SG_RT_DATASET, C_FULL, "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"rows\",\"rows\":[{},1]}}",
	 "source.rows", "source.rows[1] must be an object"},
	{SG_RT_DATASET, C_FULL,
	 "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"rows\",\"rows\":[]},\"provider_id\":\"f"
	 "aiss\"}",
	 "provider_id", "not a configured datasetio provider (configured datasetio providers: localfs, hf)"},
	/* Several providers of kinds not assumed need an explicit choice. */
	{SG_RT_DATASET, C_TWO, "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"rows\",\"rows\":[]}}",
	 "provider_id", "configured datasetio providers: a, b"},
	{SG_RT_SCORING_FN, C_FULL, "{\"scoring_fn_id\":\"sf\",\"return_type\":{\"type\":\"json\"}}", "description",
	 "description is required"},
	{SG_RT_SCORING_FN, C_FULL, "{\"scoring_fn_id\":\"sf\",\"description\":\"d\"}", "return_type",
	 "return_type is required"},
	/* "dialog" exists in llama-stack but is not part of the ParamType union. */
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"dialog\"}}", "return_type.type",
	 "must be one of 'string', 'number'"},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"},\"params\":{}}",
	 "params.type", "params.type is required"},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"},\"params\":{\"ty"
	 "pe\":\"magic\"}}",
	 "params.type", "must be one of 'llm_as_judge', 'regex_parser', 'basic'"},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"},\"params\":{\"ty"
	 "pe\":\"llm_as_judge\"}}",
	 "params.judge_model", "params.judge_model is required"},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"},\"params\":{\"ty"
	 "pe\":\"basic\",\"aggregation_functions\":[\"sum\"]}}",
	 "params.aggregation_functions", "params.aggregation_functions[0] must be one of"},
	{SG_RT_SCORING_FN, C_FULL,
	 "{\"scoring_fn_id\":\"sf\",\"description\":\"d\",\"return_type\":{\"type\":\"json\"},\"params\":{\"ty"
	 "pe\":\"regex_parser\",\"parsing_regexes\":[1]}}",
	 "params.parsing_regexes", "params.parsing_regexes[0] must be a string"},
	{SG_RT_BENCHMARK, C_FULL, "{\"benchmark_id\":\"b1\",\"dataset_id\":\"nope\",\"scoring_functions\":[\"f1\"]}",
	 "dataset_id", "Dataset 'nope' not found"},
	{SG_RT_BENCHMARK, C_FULL,
	 "{\"benchmark_id\":\"b1\",\"dataset_id\":\"ds\",\"scoring_functions\":[\"f1\",\"missing\"]}",
	 "scoring_functions", "scoring_functions[1]: Scoring function 'missing' not found"},
	{SG_RT_BENCHMARK, C_FULL, "{\"benchmark_id\":\"b1\",\"dataset_id\":\"ds\",\"scoring_functions\":[3]}",
	 "scoring_functions", "scoring_functions[0] must be a string"},
	{SG_RT_BENCHMARK, C_FULL, "{\"benchmark_id\":\"b1\",\"dataset_id\":\"ds\"}", "scoring_functions",
	 "scoring_functions is required"},
	{SG_RT_BENCHMARK, C_FULL, "{\"benchmark_id\":\"a/b\",\"dataset_id\":\"ds\",\"scoring_functions\":[]}",
	 "benchmark_id", "must not contain '/'"},
	{SG_RT_TOOL_GROUP, C_FULL, "{\"toolgroup_id\":\"g\"}", "provider_id",
	 "provider_id is required (configured tool_runtime providers: model-context-protocol, rag-runtime)"},
	{SG_RT_TOOL_GROUP, C_FULL, "{\"toolgroup_id\":\"g\",\"provider_id\":\"tavily\"}", "provider_id",
	 "'tavily' is not a configured tool_runtime provider"},
	{SG_RT_TOOL_GROUP, C_FULL, "{\"toolgroup_id\":\"g\",\"provider_id\":\"model-context-protocol\"}",
	 "mcp_endpoint", "mcp_endpoint is required"},
	{SG_RT_TOOL_GROUP, C_FULL,
	 "{\"toolgroup_id\":\"g\",\"provider_id\":\"rag-runtime\",\"mcp_endpoint\":{\"uri\":\"http://x\"}}",
	 "mcp_endpoint", "only accepted for remote::model-context-protocol"},
	{SG_RT_TOOL_GROUP, C_FULL,
	 "{\"toolgroup_id\":\"g\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{}}", "mcp_endpoint.uri",
	 "mcp_endpoint.uri is required"},
	{SG_RT_TOOL_GROUP, C_FULL,
	 "{\"toolgroup_id\":\"g\",\"provider_id\":\"model-context-protocol\",\"mcp_endpoint\":{\"uri\":\"file:"
	 "///etc/passwd\"}}",
	 "mcp_endpoint.uri", "http:// or https://"},
	{SG_RT_TOOL, C_FULL, "{}", "", "registered through their tool group"},
	{SG_RT_MODEL, C_FULL, "[]", "", "must be a JSON object"},
};

START_TEST(bad_bodies_table)
{
	struct test_conf *tc = test_conf_of(bad_bodies[_i].conf);
	json_t *db = fake_db(), *obj;
	const char *body = bad_bodies[_i].body;
	struct sg_err err;
	sg_status st;

	st = build(bad_bodies[_i].t, tc, NULL, body, db, &obj, &err);
	ck_assert_msg(st == SG_E_BAD_REQUEST, "%s: expected 400, got %s", body, sg_status_name(st));
	ck_assert_str_eq(err.param, bad_bodies[_i].param);
	ck_assert_msg(strstr(err.msg, bad_bodies[_i].needle) != NULL, "%s: message '%s' lacks '%s'", body, err.msg,
		      bad_bodies[_i].needle);
	json_decref(db);
	conf_done(tc);
}
END_TEST

START_TEST(vector_db_lookup_failure)
{
	struct test_conf *tc = conf_full();
	json_t *obj, *down = json_pack("{s:b}", "unavailable", 1);
	struct sg_err err;

	/* A lookup failure other than not-found is passed on, not turned into a 400. */
	ck_assert_int_eq(build(SG_RT_VECTOR_DB, tc, NULL, "{\"vector_db_id\":\"v1\",\"embedding_model\":\"emb\"}", down,
			       &obj, &err),
			 SG_E_UNAVAILABLE);
	json_decref(down);
	conf_done(tc);
}
END_TEST

START_TEST(dataset_default_ids)
{
	struct test_conf *tc = conf_full();
	json_t *obj, *obj2;
	const char *id;

	/* Default ids: "dataset-" + a version-4 UUID, different each time. */
	obj = build_ok(SG_RT_DATASET, tc, NULL,
		       "{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":\"https://e.x/a\"}}",
		       NULL);
	obj2 = build_ok(
		SG_RT_DATASET, tc, NULL,
		"{\"purpose\":\"eval/question-answer\",\"source\":{\"type\":\"uri\",\"uri\":\"https://e.x/a\"}}", NULL);
	id = str_at(obj, "identifier");
	ck_assert_uint_eq(strlen(id), 8 + 36);
	ck_assert(strncmp(id, "dataset-", 8) == 0);
	ck_assert(id[8 + 8] == '-' && id[8 + 13] == '-' && id[8 + 14] == '4' && id[8 + 18] == '-' && id[8 + 23] == '-');
	ck_assert(strchr("89ab", id[8 + 19]) != NULL);
	ck_assert_str_eq(str_at(obj, "provider_resource_id"), id);
	ck_assert_str_ne(id, str_at(obj2, "identifier"));
	json_decref(obj);
	json_decref(obj2);
	conf_done(tc);
}
END_TEST

START_TEST(builtin_tools_and_tool_objects)
{
	struct test_conf *tc = conf_full();
	struct sg_err err;
	json_t *defs, *group, *tools, *t0, *bad;

	defs = resources_builtin_tool_defs("inline::rag-runtime");
	ck_assert_uint_eq(json_array_size(defs), 2);
	ck_assert_str_eq(str_at(json_array_get(defs, 0), "name"), "insert_into_memory");
	ck_assert_str_eq(str_at(json_array_get(defs, 1), "name"), "knowledge_search");
	expect_dump(json_object_get(json_array_get(defs, 1), "parameters"),
		    "[{\"name\":\"query\",\"parameter_type\":\"string\",\"description\":\"The query to search for. Can "
		    "be a natural language sentence or keywords.\",\"required\":true,\"default\":null}]");
	bad = resources_builtin_tool_defs("remote::unknown");
	ck_assert_uint_eq(json_array_size(bad), 0);
	json_decref(bad);
	bad = resources_builtin_tool_defs("remote::tavily-search");
	ck_assert_str_eq(str_at(json_array_get(bad, 0), "name"), "web_search");
	json_decref(bad);

	group = json_pack("{s:s, s:s, s:s, s:s, s:{s:[s]}, s:n, s:n}", "identifier", "builtin::rag",
			  "provider_resource_id", "builtin::rag", "provider_id", "rag-runtime", "type", "tool_group",
			  "access_attributes", "roles", "ml", "mcp_endpoint", "args");
	ck_assert_int_eq(resources_tools_from_defs(group, defs, SG_E_INTERNAL, &tools, &err), SG_OK);
	ck_assert_uint_eq(json_array_size(tools), 2);
	t0 = json_array_get(tools, 0);
	expect_dump(t0,
		    "{\"identifier\":\"insert_into_memory\",\"provider_resource_id\":\"insert_into_memory\","
		    "\"provider_id\":\"rag-runtime\",\"type\":\"tool\",\"access_attributes\":{\"roles\":[\"ml\"]},"
		    "\"toolgroup_id\":\"builtin::rag\",\"tool_host\":\"distribution\",\"description\":\"Insert "
		    "documents into memory\",\"parameters\":[],\"metadata\":null}");
	json_decref(tools);

	/* Defs from an MCP server: tool_host follows mcp_endpoint; bad or repeated names are the server's fault. */
	json_object_set_new(group, "mcp_endpoint", json_pack("{s:s}", "uri", "http://h/mcp"));
	bad = json_pack("[{s:s}]", "name", "ok");
	ck_assert_int_eq(resources_tools_from_defs(group, bad, SG_E_BAD_GATEWAY, &tools, &err), SG_OK);
	ck_assert_str_eq(str_at(json_array_get(tools, 0), "tool_host"), "model_context_protocol");
	ck_assert_str_eq(str_at(json_array_get(tools, 0), "description"), "");
	json_decref(tools);
	json_decref(bad);
	bad = json_pack("[{s:s}, {s:s}]", "name", "dup", "name", "dup");
	ck_assert_int_eq(resources_tools_from_defs(group, bad, SG_E_BAD_GATEWAY, &tools, &err), SG_E_BAD_GATEWAY);
	ck_assert_ptr_nonnull(strstr(err.msg, "'dup' is listed twice"));
	ck_assert_ptr_null(tools);
	json_decref(bad);
	bad = json_pack("[{s:s}]", "name", "a\nb");
	ck_assert_int_eq(resources_tools_from_defs(group, bad, SG_E_BAD_GATEWAY, &tools, &err), SG_E_BAD_GATEWAY);
	ck_assert_ptr_nonnull(strstr(err.msg, "control characters"));
	json_decref(bad);

	json_decref(group);
	json_decref(defs);
	conf_done(tc);
}
END_TEST

START_TEST(mcp_response_finding)
{
	static const char json_one[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[]}}";
	static const char json_batch[] =
		"[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-1,\"message\":\"m\"}}]";
	static const char sse[] =
		": comment\n\n"
		"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
		"event: message\r\nid: 9\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata:  \"id\":1,\r\n"
		"data: \"result\":{\"ok\":true}}\r\n\r\n";
	static const char sse_open[] = "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n";
	json_t *m;

	m = mcp_find_response(json_one, strlen(json_one), false, true, 2);
	ck_assert_ptr_nonnull(m);
	ck_assert(json_is_object(json_object_get(m, "result")));
	json_decref(m);
	ck_assert_ptr_null(mcp_find_response(json_one, strlen(json_one), false, true, 1));
	ck_assert_ptr_null(mcp_find_response("not json", 8, false, true, 1));

	m = mcp_find_response(json_batch, strlen(json_batch), false, true, 3);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "error"), "message")), "m");
	json_decref(m);

	/* Multi-line data joined with '\n', CRLF line ends, other events skipped. */
	m = mcp_find_response(sse, strlen(sse), true, false, 1);
	ck_assert_ptr_nonnull(m);
	ck_assert(json_is_true(json_object_get(json_object_get(m, "result"), "ok")));
	json_decref(m);
	ck_assert_ptr_null(mcp_find_response(sse, strlen(sse), true, true, 2));

	/* An event not yet ended by a blank line counts only once the stream is complete. */
	ck_assert_ptr_null(mcp_find_response(sse_open, strlen(sse_open), true, false, 1));
	m = mcp_find_response(sse_open, strlen(sse_open), true, true, 1);
	ck_assert_ptr_nonnull(m);
	json_decref(m);
}
END_TEST

START_TEST(mcp_tool_mapping)
{
	json_error_t je;
	json_t *tool, *def;
	struct sg_err err = {0};

	tool = json_loads(
		"{\"name\":\"get_weather\",\"description\":\"Weather\",\"inputSchema\":{\"type\":\"object\","
		"\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City\"},"
		"\"days\":{\"type\":[\"null\",\"integer\"],\"default\":3},\"raw\":{}},"
		"\"required\":[\"city\"]}}",
		0, &je);
	ck_assert_ptr_nonnull(tool);
	ck_assert_int_eq(mcp_tool_to_def(tool, "http://h/mcp", &def, &err), SG_OK);
	expect_dump(def,
		    "{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":["
		    "{\"name\":\"city\",\"parameter_type\":\"string\",\"description\":\"City\",\"required\":true,"
		    "\"default\":null},"
		    "{\"name\":\"days\",\"parameter_type\":\"integer\",\"description\":\"\",\"required\":false,"
		    "\"default\":3},"
		    "{\"name\":\"raw\",\"parameter_type\":\"string\",\"description\":\"\",\"required\":false,"
		    "\"default\":null}],"
		    "\"metadata\":{\"endpoint\":\"http://h/mcp\"}}");
	json_decref(def);
	json_decref(tool);

	tool = json_pack("{s:s}", "name", "bare");
	ck_assert_int_eq(mcp_tool_to_def(tool, NULL, &def, &err), SG_OK);
	expect_dump(def, "{\"name\":\"bare\",\"description\":\"\",\"parameters\":[],\"metadata\":null}");
	json_decref(def);
	json_decref(tool);

	tool = json_pack("{s:s}", "description", "no name");
	ck_assert_int_eq(mcp_tool_to_def(tool, NULL, &def, &err), SG_E_BAD_GATEWAY);
	ck_assert_ptr_null(def);
	ck_assert_ptr_nonnull(strstr(err.msg, "without a name"));
	json_decref(tool);
	tool = json_pack("{s:s, s:i}", "name", "x", "inputSchema", 1);
	ck_assert_int_eq(mcp_tool_to_def(tool, NULL, &def, &err), SG_E_BAD_GATEWAY);
	ck_assert_ptr_nonnull(strstr(err.msg, "inputSchema"));
	json_decref(tool);
	tool = json_pack("{s:s, s:{s:{s:i}}}", "name", "x", "inputSchema", "properties", "p", 1);
	ck_assert_int_eq(mcp_tool_to_def(tool, NULL, &def, &err), SG_E_BAD_GATEWAY);
	ck_assert_ptr_nonnull(strstr(err.msg, "property 'p'"));
	json_decref(tool);
}
END_TEST

Suite *
resources_suite(void)
{
	const TTest *const build[] = {identifier_rules,    acl_copied_from_creator_or_body, vector_db_lookup_failure,
				      dataset_default_ids, builtin_tools_and_tool_objects,  NULL};
	const struct sg_loop build_loops[] = {SG_LOOP(good_bodies_table, good_bodies),
					      SG_LOOP(bad_bodies_table, bad_bodies),
					      SG_LOOP(acl_rules_table, acl_rules),
					      SG_LOOP(unregister_rules_table, unregister_rules),
					      {.t = NULL}};
	const TTest *const mcp[] = {mcp_response_finding, mcp_tool_mapping, NULL};
	const struct sg_tcase tcases[] = {
		{.name = "build", .tests = build, .loops = build_loops}, {.name = "mcp", .tests = mcp}, {.name = NULL}};

	return sg_suite_new("resources", tcases);
}
