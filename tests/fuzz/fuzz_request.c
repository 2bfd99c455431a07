/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_request.c: libFuzzer target for the pure steps a request goes
 * through.  FastCGI params come through libfcgi, which cannot be fed from
 * memory, so the input is a small text form of a request instead:
 *
 *     [METHOD ]/path[?query]\n
 *     body
 *
 * (METHOD defaults to GET when the first line does not start with an
 * upper-case word and a space).  Then:
 *  - route_match(): a match puts the path back together from the pattern's
 *    prefix, the parameter and the suffix; a miss with no allowed methods
 *    means no literal route is that path; route_allow_string() never
 *    overflows;
 *  - http_query_get() on a request whose query is the query part, compared
 *    with a reference decoder written here, for the keys stackgate reads and
 *    for the keys the query itself holds;
 *  - sg_json_parse() of the body with the config's depth limit; for an
 *    object, the field getters (http_field_*), acl_attrs_from_json() of
 *    "access_attributes" (round trip, copy, merge, acl_check), and
 *    resources_build() for the route's resource type (or every type when the
 *    route is not a register route), with two configs (one provider per API,
 *    several per API) and two callers (none; one with attributes).  A built
 *    object must hold the fields registry.h describes, name a configured
 *    provider of the type's API, and be visible to its creator when the body
 *    gave no ACL; a built tool group's tools (from "_defs" in the body, else
 *    the built-in list) carry the group's provider and ACL.
 *
 * resources_build() reaches referenced objects through a lookup callback:
 * here an identifier containing "missing" is not found, one containing
 * "down" is a registry failure, the body's "_registry" object (identifier →
 * object) answers first, and anything else is a made-up object (a model is
 * an embedding model of dimension 384 unless its name contains "llm", and
 * has no dimension when it contains "nodim").
 */
#include "config.h"

#include <ctype.h>

#include <jansson.h>

#include "acl.h"
#include "conf.h"
#include "fuzz.h"
#include "http.h"
#include "identity.h"
#include "json.h"
#include "registry.h"
#include "resources.h"
#include "route.h"

/* One provider per API: resources_build() picks it without a provider_id. */
static const char conf_one[] =
	"{\"version\": \"2\", \"image_name\": \"fuzz-one\",\n"
	" \"server\": {\"socket\": \"/tmp/stackgate-fuzz.sock\", \"max_json_depth\": 16},\n"
	" \"auth\": {\"admin_roles\": [\"admin\"]},\n"
	" \"providers\": {\n"
	"  \"inference\": [{\"provider_id\": \"vllm\", \"provider_type\": \"remote::vllm\",\n"
	"                  \"config\": {\"url\": \"http://127.0.0.1:9/v1\", \"api_token\": \"tok\"}}],\n"
	"  \"safety\": [{\"provider_id\": \"llama-guard\", \"provider_type\": \"inline::llama-guard\", \"config\": {}}],\n"
	"  \"vector_io\": [{\"provider_id\": \"faiss\", \"provider_type\": \"inline::faiss\", \"config\": {}}],\n"
	"  \"datasetio\": [{\"provider_id\": \"localfs\", \"provider_type\": \"inline::localfs\", \"config\": {}}],\n"
	"  \"scoring\": [{\"provider_id\": \"basic\", \"provider_type\": \"inline::basic\", \"config\": {}}],\n"
	"  \"eval\": [{\"provider_id\": \"meta-reference\", \"provider_type\": \"inline::meta-reference\",\n"
	"             \"config\": {}}],\n"
	"  \"tool_runtime\": [{\"provider_id\": \"rag-runtime\", \"provider_type\": \"inline::rag-runtime\",\n"
	"                     \"config\": {}}]\n"
	" }}\n";

/* Several providers per API, as the integration config has. */
static const char conf_many[] =
	"{\"version\": \"2\", \"image_name\": \"fuzz-many\",\n"
	" \"server\": {\"socket\": \"/tmp/stackgate-fuzz.sock\", \"max_json_depth\": 32},\n"
	" \"providers\": {\n"
	"  \"inference\": [\n"
	"   {\"provider_id\": \"vllm\", \"provider_type\": \"remote::vllm\",\n"
	"    \"config\": {\"url\": \"http://127.0.0.1:9/v1\"}},\n"
	"   {\"provider_id\": \"ollama\", \"provider_type\": \"remote::ollama\",\n"
	"    \"config\": {\"url\": \"http://127.0.0.1:11434\"}},\n"
	"   {\"provider_id\": \"local\", \"provider_type\": \"inline::sentence-transformers\", \"config\": {}}],\n"
	"  \"safety\": [{\"provider_id\": \"llama-guard\", \"provider_type\": \"inline::llama-guard\", \"config\": {}},\n"
	"             {\"provider_id\": \"prompt-guard\", \"provider_type\": \"inline::prompt-guard\", \"config\": {}}],\n"
	"  \"vector_io\": [{\"provider_id\": \"faiss\", \"provider_type\": \"inline::faiss\", \"config\": {}},\n"
	"                {\"provider_id\": \"sqlite-vec\", \"provider_type\": \"inline::sqlite-vec\", \"config\": {}}],\n"
	"  \"datasetio\": [{\"provider_id\": \"localfs\", \"provider_type\": \"inline::localfs\", \"config\": {}},\n"
	"                {\"provider_id\": \"huggingface\", \"provider_type\": \"remote::huggingface\", \"config\": {}}],\n"
	"  \"scoring\": [{\"provider_id\": \"basic\", \"provider_type\": \"inline::basic\", \"config\": {}},\n"
	"              {\"provider_id\": \"llm-as-judge\", \"provider_type\": \"inline::llm-as-judge\", \"config\": {}},\n"
	"              {\"provider_id\": \"braintrust\", \"provider_type\": \"inline::braintrust\", \"config\": {}}],\n"
	"  \"eval\": [{\"provider_id\": \"meta-reference\", \"provider_type\": \"inline::meta-reference\",\n"
	"             \"config\": {}}],\n"
	"  \"tool_runtime\": [\n"
	"   {\"provider_id\": \"model-context-protocol\", \"provider_type\": \"remote::model-context-protocol\",\n"
	"    \"config\": {}},\n"
	"   {\"provider_id\": \"rag-runtime\", \"provider_type\": \"inline::rag-runtime\", \"config\": {}},\n"
	"   {\"provider_id\": \"tavily-search\", \"provider_type\": \"remote::tavily-search\", \"config\": {}}]\n"
	" }}\n";

static struct sg_conf *confs[2];
static struct identity alice;

/* The API whose providers serve each resource type (resources.c's table, restated). */
static const enum sg_api rtype_api[SG_RT_COUNT] = {
	[SG_RT_MODEL] = SG_API_INFERENCE,	[SG_RT_SHIELD] = SG_API_SAFETY,
	[SG_RT_VECTOR_DB] = SG_API_VECTOR_IO,	[SG_RT_DATASET] = SG_API_DATASETIO,
	[SG_RT_SCORING_FN] = SG_API_SCORING,	[SG_RT_BENCHMARK] = SG_API_EVAL,
	[SG_RT_TOOL_GROUP] = SG_API_TOOL_RUNTIME, [SG_RT_TOOL] = SG_API_TOOL_RUNTIME,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *texts[2] = {conf_one, conf_many};
	char *errors = NULL;

	(void) argc;
	(void) argv;
	for (int i = 0; i < 2; i++) {
		confs[i] = conf_load_string(texts[i], i ? "fuzz-many.json" : "fuzz-one.json", &errors);
		if (confs[i] == NULL) {
			fprintf(stderr, "fuzz_request: the embedded config does not load:\n%s", errors ? errors : "");
			abort();
		}
	}
	alice.principal = fuzz_strndup("alice", 5);
	alice.attrs.present = true;
	alice.attrs.set[SG_ROLES] = alice.attrs.set[SG_TEAMS] = true;
	if (!sg_strv_push(&alice.attrs.cat[SG_ROLES], "user") || !sg_strv_push(&alice.attrs.cat[SG_TEAMS], "ml"))
		abort();
	return 0;
}

/* ------------------------------------------------------------------ routes */

static void
check_route(const char *path, enum sg_method method)
{
	char *arg = NULL, allow[128];
	unsigned allowed = 0;
	const struct route *rt = route_match(path, method, &arg, &allowed);
	size_t n;
	const struct route *table = route_table(&n);

	route_allow_string(allowed, allow, sizeof(allow));
	FUZZ_CHECK(strlen(allow) < sizeof(allow), "route_allow_string overflowed");
	if (rt == NULL) {
		FUZZ_CHECK(arg == NULL, "no route but an argument '%s'", arg);
		FUZZ_CHECK(!(allowed & (unsigned) method), "no route, yet method %d is allowed for '%s'", (int) method,
			   path);
		if (allowed == 0)
			for (size_t i = 0; i < n; i++)
				FUZZ_CHECK(strchr(table[i].pattern, '{') != NULL || strcmp(table[i].pattern, path) != 0,
					   "'%s' is a literal route yet route_match found nothing", path);
		return;
	}
	FUZZ_CHECK(rt >= table && rt < table + n, "route_match returned a route outside the table");
	FUZZ_CHECK(rt->method == method || (method == SG_HEAD && rt->method == SG_GET),
		   "route '%s' has method %d, asked %d", rt->pattern, (int) rt->method, (int) method);
	FUZZ_CHECK(allowed == 0, "a match left allowed = %u", allowed);

	const char *open = strchr(rt->pattern, '{');

	if (open == NULL) {
		FUZZ_CHECK(arg == NULL, "literal route '%s' gave an argument", rt->pattern);
		FUZZ_CHECK(strcmp(rt->pattern, path) == 0, "literal route '%s' matched '%s'", rt->pattern, path);
	} else {
		const char *close = strchr(open, '}');
		size_t plen = (size_t) (open - rt->pattern), alen, slen = strlen(close + 1);
		bool multi = strstr(open, ":path}") == close - 5;

		FUZZ_CHECK(arg != NULL && arg[0] != '\0', "route '%s' matched '%s' without an argument", rt->pattern,
			   path);
		alen = strlen(arg);
		FUZZ_CHECK(strlen(path) == plen + alen + slen && strncmp(path, rt->pattern, plen) == 0 &&
				   memcmp(path + plen, arg, alen) == 0 && strcmp(path + plen + alen, close + 1) == 0,
			   "'%s' is not '%s' with '%s' in place of the parameter", path, rt->pattern, arg);
		FUZZ_CHECK(arg[0] != '/' && arg[alen - 1] != '/' && strstr(arg, "//") == NULL,
			   "argument '%s' has an empty segment", arg);
		FUZZ_CHECK(multi || strchr(arg, '/') == NULL, "one-segment parameter of '%s' got '%s'", rt->pattern,
			   arg);
	}
	free(arg);
}

/* ------------------------------------------------------------------- query */

static int
hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * What http_query_get() should return, written independently: the first
 * '&'-separated segment whose raw name is key; its value after '='
 * percent-decoded with '+' as space; "" without '='; NULL when absent, on a
 * '%' not followed by two hex digits, or on a decoded NUL.
 */
static char *
ref_query_get(const char *q, const char *key)
{
	size_t klen = strlen(key);

	for (;;) {
		size_t seg = strcspn(q, "&");
		const char *eq = memchr(q, '=', seg);
		size_t nlen = eq ? (size_t) (eq - q) : seg;

		if (seg > 0 && nlen == klen && memcmp(q, key, klen) == 0) {
			const char *v = eq ? eq + 1 : q + seg, *end = q + seg;
			char *out = malloc((size_t) (end - v) + 1), *o = out;

			if (out == NULL)
				abort();
			for (; v < end; v++) {
				int c = (unsigned char) *v;

				if (c == '%') {
					if (end - v < 3 || hexdigit(v[1]) < 0 || hexdigit(v[2]) < 0) {
						free(out);
						return NULL;
					}
					c = hexdigit(v[1]) * 16 + hexdigit(v[2]);
					v += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (c == 0) {
					free(out);
					return NULL;
				}
				*o++ = (char) c;
			}
			*o = '\0';
			return out;
		}
		if (q[seg] == '\0')
			return NULL;
		q += seg + 1;
	}
}

static void
check_query_key(const struct request *r, const char *key)
{
	char *got = http_query_get(r, key), *want = ref_query_get(r->query, key);

	FUZZ_CHECK((got == NULL) == (want == NULL) && (got == NULL || strcmp(got, want) == 0),
		   "http_query_get('%s', '%s') = '%s', expected '%s'", r->query, key, got ? got : "(null)",
		   want ? want : "(null)");
	free(got);
	free(want);
}

static void
check_query(const char *query)
{
	static const char *const keys[] = {"toolgroup_id", "limit", "order", "after", "model"};
	struct request r;
	const char *p = query;
	int k = 0;

	memset(&r, 0, sizeof(r));
	r.query = query;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		check_query_key(&r, keys[i]);
	/* The names the query holds, the first few of them. */
	while (*p != '\0' && k++ < 4) {
		size_t seg = strcspn(p, "&"), nlen = strcspn(p, "=&");
		char *name = fuzz_strndup(p, nlen);

		if (nlen > 0)
			check_query_key(&r, name);
		free(name);
		p += seg;
		if (*p == '&')
			p++;
	}
}

/* --------------------------------------------------------- access attributes */

static void
check_acl_json(const json_t *aa)
{
	struct sg_attrs a, b, c;
	json_t *j1, *j2, *j3;
	char err[256];
	sg_status st;

	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	st = acl_attrs_from_json(aa, &a, err, sizeof(err));
	if (st != SG_OK) {
		FUZZ_CHECK(st == SG_E_BAD_REQUEST && err[0] != '\0', "acl_attrs_from_json failed (%d) without a message",
			   (int) st);
		FUZZ_CHECK(!a.present, "a rejected ACL is left present");
		acl_attrs_free(&a);
		return;
	}
	FUZZ_CHECK(a.present == (aa != NULL && !json_is_null(aa)), "present is wrong");
	j1 = acl_attrs_to_json(&a);
	FUZZ_CHECK(j1 != NULL, "acl_attrs_to_json failed");
	FUZZ_CHECK(acl_attrs_from_json(j1, &b, err, sizeof(err)) == SG_OK, "the JSON form does not parse: %s", err);
	j2 = acl_attrs_to_json(&b);
	FUZZ_CHECK(j2 != NULL && json_equal(j1, j2), "the ACL does not survive a round trip");
	FUZZ_CHECK(acl_attrs_copy(&c, &a), "acl_attrs_copy failed");
	FUZZ_CHECK(acl_attrs_merge(&c, &a), "acl_attrs_merge failed");
	j3 = acl_attrs_to_json(&c);
	FUZZ_CHECK(j3 != NULL && json_equal(j1, j3), "merging an ACL into its copy changed it");

	/* The seed's check_access, against the documented table (acl.h). */
	FUZZ_CHECK(acl_check(NULL, &a), "no ACL must be visible to everyone");
	FUZZ_CHECK(acl_check(&a, NULL) == !a.present, "callers without attributes see only objects without an ACL");
	if (a.present) {
		bool any_set = false, all_nonempty = true;

		for (int k = 0; k < SG_ATTR_NCAT; k++) {
			any_set |= a.set[k];
			if (a.set[k] && a.cat[k].n == 0)
				all_nonempty = false;
		}
		FUZZ_CHECK(acl_check(&a, &alice.attrs) == acl_check(&c, &alice.attrs), "the copy decides differently");
		if (!any_set)
			FUZZ_CHECK(acl_check(&a, &alice.attrs), "an all-null ACL must be visible to a caller with attributes");
		/* A caller holding exactly the ACL's values sees the object unless a category is []. */
		FUZZ_CHECK(!any_set || acl_check(&a, &a) == all_nonempty, "a caller equal to the ACL is decided wrongly");
	}
	json_decref(j1);
	json_decref(j2);
	json_decref(j3);
	acl_attrs_free(&a);
	acl_attrs_free(&b);
	acl_attrs_free(&c);
}

/* --------------------------------------------------------------- resources */

struct lookup_ctx {
	json_t *table; /* the body's "_registry", or NULL */
	int calls;
};

static sg_status
fuzz_lookup(void *vctx, enum sg_rtype t, const char *identifier, json_t **out)
{
	struct lookup_ctx *ctx = vctx;
	char why[128];
	json_t *e;

	*out = NULL;
	ctx->calls++;
	FUZZ_CHECK((unsigned) t < SG_RT_COUNT, "lookup of type %d", (int) t);
	FUZZ_CHECK(identifier != NULL && resources_identifier_ok(identifier, why, sizeof(why)),
		   "lookup of an invalid identifier '%s'", identifier ? identifier : "(null)");
	if (strstr(identifier, "missing") != NULL)
		return SG_E_NOT_FOUND;
	if (strstr(identifier, "down") != NULL)
		return SG_E_UNAVAILABLE;
	e = json_object_get(ctx->table, identifier);
	if (e != NULL) {
		if (!json_is_object(e))
			return SG_E_NOT_FOUND;
		*out = json_deep_copy(e);
		return *out ? SG_OK : SG_E_NOMEM;
	}
	if (t == SG_RT_MODEL) {
		bool llm = strstr(identifier, "llm") != NULL, nodim = strstr(identifier, "nodim") != NULL;

		*out = json_pack("{s:s, s:s, s:s, s:s, s:n, s:o, s:s}", "identifier", identifier, "provider_resource_id",
				 identifier, "provider_id", "vllm", "type", "model", "access_attributes", "metadata",
				 nodim ? json_object() : json_pack("{s:i}", "embedding_dimension", 384), "model_type",
				 llm ? "llm" : "embedding");
	} else {
		*out = json_pack("{s:s, s:s, s:s, s:n}", "identifier", identifier, "provider_id", "fuzz", "type",
				 registry_type_name(t), "access_attributes");
	}
	return *out ? SG_OK : SG_E_NOMEM;
}

static bool
caller_sees_own(const struct identity *id)
{
	if (id == NULL || !id->attrs.present)
		return true;
	for (int k = 0; k < SG_ATTR_NCAT; k++)
		if (id->attrs.set[k] && id->attrs.cat[k].n == 0)
			return false;
	return true;
}

static void
check_tools(const json_t *group, json_t *body)
{
	json_t *defs = json_object_get(body, "_defs"), *own = NULL, *tools = NULL, *tool;
	struct resources_err err;
	const char *gid = json_string_value(json_object_get(group, "identifier"));
	size_t i;
	sg_status st;

	if (defs == NULL) {
		own = resources_builtin_tool_defs(json_string_value(json_object_get(group, "provider_type")));
		FUZZ_CHECK(own != NULL, "resources_builtin_tool_defs failed");
		defs = own;
	}
	memset(&err, 0, sizeof(err));
	st = resources_tools_from_defs(group, defs, SG_E_BAD_GATEWAY, &tools, &err);
	if (st != SG_OK) {
		FUZZ_CHECK(err.msg[0] != '\0', "resources_tools_from_defs failed (%d) without a message", (int) st);
		FUZZ_CHECK(tools == NULL, "a failed resources_tools_from_defs returned tools");
		goto out;
	}
	FUZZ_CHECK(json_is_array(tools), "tools is not an array");
	json_array_foreach(tools, i, tool) {
		const char *tid = json_string_value(json_object_get(tool, "identifier"));
		char why[128];

		FUZZ_CHECK(tid != NULL && resources_identifier_ok(tid, why, sizeof(why)), "tool %zu has a bad identifier",
			   i);
		FUZZ_CHECK(json_is_string(json_object_get(tool, "toolgroup_id")) &&
				   strcmp(json_string_value(json_object_get(tool, "toolgroup_id")), gid) == 0,
			   "tool '%s' names another group", tid);
		FUZZ_CHECK(json_equal(json_object_get(tool, "provider_id"), json_object_get(group, "provider_id")),
			   "tool '%s' has another provider", tid);
		FUZZ_CHECK(json_equal(json_object_get(tool, "access_attributes"),
				      json_object_get(group, "access_attributes")),
			   "tool '%s' has another ACL than its group", tid);
		FUZZ_CHECK(json_is_array(json_object_get(tool, "parameters")), "tool '%s' has no parameter list", tid);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(json_string_value(json_object_get(json_array_get(tools, k), "identifier")),
					  tid) != 0,
				   "tool '%s' is listed twice", tid);
		FUZZ_CHECK(identity_can_see(&alice, tool) == identity_can_see(&alice, group),
			   "tool '%s' is visible where its group is not, or the reverse", tid);
	}
out:
	json_decref(tools);
	json_decref(own);
}

static void
check_built(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body, json_t *obj)
{
	const char *ident = json_string_value(json_object_get(obj, "identifier"));
	const char *pid = json_string_value(json_object_get(obj, "provider_id"));
	const char *type = json_string_value(json_object_get(obj, "type"));
	json_t *aa = json_object_get(obj, "access_attributes"), *given = json_object_get(body, "access_attributes");
	struct sg_attrs a;
	char why[128];

	FUZZ_CHECK(json_is_object(obj), "a built %s is not an object", registry_type_name(t));
	FUZZ_CHECK(ident != NULL && resources_identifier_ok(ident, why, sizeof(why)), "identifier: %s",
		   ident ? why : "missing");
	FUZZ_CHECK(type != NULL && strcmp(type, registry_type_name(t)) == 0, "type '%s' for a %s", type ? type : "",
		   registry_type_name(t));
	FUZZ_CHECK(json_is_string(json_object_get(obj, "provider_resource_id")), "no provider_resource_id");
	FUZZ_CHECK(pid != NULL && conf_provider(conf, rtype_api[t], pid) != NULL,
		   "provider '%s' is not a configured %s provider", pid ? pid : "", conf_api_name(rtype_api[t]));
	FUZZ_CHECK(aa != NULL, "no access_attributes");
	FUZZ_CHECK(acl_attrs_from_json(aa, &a, why, sizeof(why)) == SG_OK, "stored ACL does not parse: %s", why);
	acl_attrs_free(&a);
	if (given != NULL && !json_is_null(given)) {
		json_t *canon;

		FUZZ_CHECK(acl_attrs_from_json(given, &a, why, sizeof(why)) == SG_OK, "a bad ACL was accepted");
		canon = acl_attrs_to_json(&a);
		FUZZ_CHECK(json_equal(canon, aa), "the stored ACL is not the body's");
		json_decref(canon);
		acl_attrs_free(&a);
	} else if (caller_sees_own(id)) {
		FUZZ_CHECK(identity_can_see(id, obj), "the creator cannot see the %s it registered",
			   registry_type_name(t));
	}

	switch (t) {
	case SG_RT_MODEL: {
		const char *mt = json_string_value(json_object_get(obj, "model_type"));
		json_t *md = json_object_get(obj, "metadata");

		FUZZ_CHECK(mt != NULL && (strcmp(mt, "llm") == 0 || strcmp(mt, "embedding") == 0), "model_type");
		FUZZ_CHECK(json_is_object(md), "model metadata is not an object");
		if (strcmp(mt, "embedding") == 0)
			FUZZ_CHECK(json_integer_value(json_object_get(md, "embedding_dimension")) > 0,
				   "an embedding model without a positive dimension");
		break;
	}
	case SG_RT_VECTOR_DB:
		FUZZ_CHECK(json_integer_value(json_object_get(obj, "embedding_dimension")) > 0,
			   "a vector DB without a positive dimension");
		FUZZ_CHECK(json_is_string(json_object_get(obj, "embedding_model")), "a vector DB without a model");
		break;
	case SG_RT_DATASET: {
		const char *st = json_string_value(json_object_get(json_object_get(obj, "source"), "type"));

		FUZZ_CHECK(st != NULL && (strcmp(st, "uri") == 0 || strcmp(st, "rows") == 0), "dataset source type");
		break;
	}
	case SG_RT_BENCHMARK: {
		json_t *fns = json_object_get(obj, "scoring_functions"), *fn;
		size_t i;

		FUZZ_CHECK(strchr(ident, '/') == NULL, "benchmark id '%s' has a '/'", ident);
		FUZZ_CHECK(json_is_array(fns), "scoring_functions is not an array");
		json_array_foreach(fns, i, fn)
			FUZZ_CHECK(json_is_string(fn), "scoring_functions[%zu] is not a string", i);
		break;
	}
	case SG_RT_TOOL_GROUP: {
		json_t *ep = json_object_get(obj, "mcp_endpoint");
		const char *uri = json_string_value(json_object_get(ep, "uri"));

		FUZZ_CHECK(json_is_null(ep) || (uri != NULL && (strncmp(uri, "http://", 7) == 0 ||
							       strncmp(uri, "https://", 8) == 0)),
			   "mcp_endpoint is neither null nor an http(s) URI");
		check_tools(obj, body);
		break;
	}
	default:
		break;
	}
}

static void
check_build(enum sg_rtype t, const struct sg_conf *conf, const struct identity *id, json_t *body)
{
	struct lookup_ctx ctx = {.table = json_object_get(body, "_registry")};
	struct resources_err err;
	json_t *out = NULL;
	sg_status st;

	if (!json_is_object(ctx.table))
		ctx.table = NULL;
	memset(&err, 0x5a, sizeof(err));
	st = resources_build(t, conf, id, body, fuzz_lookup, &ctx, &out, &err);
	FUZZ_CHECK(memchr(err.param, '\0', sizeof(err.param)) != NULL && memchr(err.msg, '\0', sizeof(err.msg)) != NULL,
		   "err is not NUL-terminated");
	if (st != SG_OK) {
		FUZZ_CHECK(out == NULL, "a failed build returned an object");
		FUZZ_CHECK(err.msg[0] != '\0', "a failed build (%s) left no message", sg_status_name(st));
		FUZZ_CHECK(st == SG_E_BAD_REQUEST || st == SG_E_UNAVAILABLE || st == SG_E_NOT_FOUND,
			   "unexpected status %s: %s", sg_status_name(st), err.msg);
		FUZZ_CHECK(t != SG_RT_TOOL || st == SG_E_BAD_REQUEST, "tool registration must be refused");
		return;
	}
	FUZZ_CHECK(t != SG_RT_TOOL, "a tool was built directly");
	FUZZ_CHECK(out != NULL, "a successful build returned no object");
	check_built(t, conf, id, body, out);
	json_decref(out);
}

/* ------------------------------------------------------------- field getters */

static void
check_fields(json_t *body)
{
	struct request r;
	const char *s;
	json_t *o;
	json_int_t i = -7;
	bool b = false, found = false;
	sg_status st;

	memset(&r, 0, sizeof(r));
	r.query = "";
	st = http_field_str(&r, body, "model", false, &s);
	FUZZ_CHECK(st == SG_OK ? (s == NULL || json_is_string(json_object_get(body, "model"))) : r.err_msg != NULL,
		   "http_field_str");
	st = http_field_bool(&r, body, "stream", false, &b, &found);
	FUZZ_CHECK(st != SG_OK || !found || json_is_boolean(json_object_get(body, "stream")), "http_field_bool");
	st = http_field_int(&r, body, "max_tokens", false, &i, &found);
	FUZZ_CHECK(st != SG_OK || !found || json_integer_value(json_object_get(body, "max_tokens")) == i,
		   "http_field_int");
	st = http_field_array(&r, body, "messages", false, &o);
	FUZZ_CHECK(st != SG_OK || o == NULL || json_is_array(o), "http_field_array");
	st = http_field_obj(&r, body, "metadata", true, &o);
	FUZZ_CHECK(st == SG_OK ? json_is_object(o) : (r.err_msg != NULL && o == NULL), "http_field_obj");
	http_request_reset(&r);
}

/* -------------------------------------------------------------------- entry */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *head, *bodyp;
	size_t headlen, bodylen, m = 0;
	char *line, *path, *query, err[256];
	enum sg_method method = SG_GET;
	const struct route *rt;
	char *arg = NULL;
	unsigned allowed;
	json_t *body;

	fuzz_split_line(data, size, &head, &headlen, &bodyp, &bodylen);
	line = fuzz_strndup(head, headlen);
	/* "METHOD " prefix. */
	while (line[m] >= 'A' && line[m] <= 'Z')
		m++;
	if (m > 0 && line[m] == ' ') {
		line[m] = '\0';
		method = http_method_from_name(line);
		FUZZ_CHECK(method == SG_METHOD_OTHER || strcmp(http_method_name(method), line) == 0,
			   "method name round trip for '%s'", line);
		path = line + m + 1;
	} else {
		path = line;
	}
	query = strchr(path, '?');
	if (query != NULL)
		*query++ = '\0';
	else
		query = path + strlen(path);

	check_route(path, method);
	check_query(query);

	body = sg_json_parse((const char *) bodyp, bodylen, (size_t) confs[1]->max_json_depth, err, sizeof(err));
	if (body != NULL && json_is_object(body)) {
		rt = route_match(path, method, &arg, &allowed);
		check_fields(body);
		check_acl_json(json_object_get(body, "access_attributes"));
		for (int c = 0; c < 2; c++) {
			const struct identity *ids[2] = {NULL, &alice};

			for (int k = 0; k < 2; k++) {
				if (rt != NULL && rt->handler == resources_register) {
					check_build((enum sg_rtype) rt->arg, confs[c], ids[k], body);
				} else {
					for (int t = 0; t < SG_RT_COUNT; t++)
						check_build((enum sg_rtype) t, confs[c], ids[k], body);
				}
			}
		}
		free(arg);
	} else if (body == NULL) {
		FUZZ_CHECK(err[0] != '\0', "a failed parse left no message");
	}
	json_decref(body);
	free(line);
	return 0;
}
