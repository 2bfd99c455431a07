/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_request.c: libFuzzer target for everything a request goes through
 * before a handler touches PostgreSQL or an upstream.  The input is a small
 * text form of a FastCGI request:
 *
 *     [METHOD ]/path[?query]\n        REQUEST_METHOD (default: none, i.e. GET) and REQUEST_URI
 *     (@NAME[=value]\n)*              more params (STACKGATE_ATTRIBUTES, STACKGATE_GROUPS,
 *                                     STACKGATE_REQUEST_ID, CONTENT_LENGTH, …); "@NAME"
 *                                     alone removes one; "@_CHUNK=n" makes the input
 *                                     stream hand the body over n bytes at a time
 *     body                            CONTENT_LENGTH is its length unless set above
 *
 * libfcgi's FCGX_Request and FCGX_Stream are public structs, so the request
 * is real: params in envp, the body in an input stream whose fill procedure
 * serves the input.  For each of two configs (one provider per API, 2 KiB
 * body limit, auth.required; several providers per API, auth off):
 *  - http_request_read(): the path decoded as a reference decoder written
 *    here decodes it, and refused exactly when that decoder refuses it (bad
 *    escape, NUL, not UTF-8, no leading '/', "." or ".." segment) or the
 *    query does not decode to UTF-8 (bad escape, NUL, not UTF-8), with a
 *    message naming which; the query kept raw;
 *    the body read whole across chunks, or 413 when over the limit; the
 *    request id always plain (it becomes a response header), nginx's kept
 *    when it is plain;
 *  - identity_resolve() for an anonymous caller (STACKGATE_PRINCIPAL is never
 *    passed: it would be looked up in PostgreSQL): 401 exactly when auth is
 *    required, bad STACKGATE_ATTRIBUTES refused, admin exactly when a role
 *    is one of auth.admin_roles, nothing kept on failure;
 *  - route_match() on the decoded path, against route.h's rules written
 *    again here and applied to the whole table: the same route (the first
 *    that matches path and method), the same parameter, the same allowed
 *    methods on a miss; route_allow_string() lists them;
 *  - http_query_get(), compared with a reference decoder, for the keys
 *    stackgate reads and the keys the query holds;
 *  - every error message recorded (http_fail) is valid UTF-8 and encodes in
 *    the error body's JSON, whatever bytes the request carried;
 *  - http_body_object() agrees with sg_json_parse() at the config's depth
 *    and parses once; then the field getters (sg_json_field*),
 *    acl_attrs_from_json() of "access_attributes" (round trip, copy, merge,
 *    acl_check against acl.h's table), and resources_build() for the
 *    route's resource type (else the types whose id key the body has), for
 *    no caller and for the resolved one.  A built object must hold the
 *    fields registry.h describes, name a configured provider of the type's
 *    API, and be visible to its creator when the body gave no ACL; a built
 *    tool group's tools (from "_defs" in the body, else the built-in list)
 *    carry the group's provider and ACL.
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
#include <strings.h>

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
#include "worker.h"

/* One provider per API: resources_build() picks it without a provider_id. */
static const char conf_one[] =
	"{\"version\": \"2\", \"image_name\": \"fuzz-one\",\n"
	" \"server\": {\"socket\": \"/tmp/stackgate-fuzz.sock\", \"max_json_depth\": 16, \"max_body_bytes\": 2048},\n"
	" \"auth\": {\"required\": true, \"admin_roles\": [\"admin\", \"root\"]},\n"
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
	[SG_RT_MODEL] = SG_API_INFERENCE,         [SG_RT_SHIELD] = SG_API_SAFETY,
	[SG_RT_VECTOR_DB] = SG_API_VECTOR_IO,     [SG_RT_DATASET] = SG_API_DATASETIO,
	[SG_RT_SCORING_FN] = SG_API_SCORING,      [SG_RT_BENCHMARK] = SG_API_EVAL,
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
	alice.policy = confs[0]->policy; /* the default policy of the first config (admin roles admin, root) */
	alice.attrs.present = true;
	alice.attrs.set[SG_ROLES] = alice.attrs.set[SG_TEAMS] = true;
	if (!sg_strv_push(&alice.attrs.cat[SG_ROLES], "user") || !sg_strv_push(&alice.attrs.cat[SG_TEAMS], "ml"))
		abort();
	return 0;
}

/* ------------------------------------------------------------------ routes */

/*
 * route.h's matching rules, written here independently: does path match
 * pat, and where is the parameter ([*astart, *astart + *alen) of path)?
 */
static bool
ref_match(const char *pat, const char *path, size_t *astart, size_t *alen)
{
	const char *open = strchr(pat, '{'), *close, *arg;
	size_t plen, slen, n = strlen(path);
	bool multi;

	*astart = *alen = 0;
	if (open == NULL)
		return strcmp(pat, path) == 0;
	close = strchr(open, '}');
	plen = (size_t) (open - pat);
	slen = strlen(close + 1);
	multi = close - open > 5 && memcmp(close - 5, ":path", 5) == 0;
	if (n < plen + slen + 1 || strncmp(path, pat, plen) != 0 || strcmp(path + n - slen, close + 1) != 0)
		return false;
	arg = path + plen;
	*astart = plen;
	*alen = n - plen - slen;
	if (arg[0] == '/' || arg[*alen - 1] == '/' || memmem(arg, *alen, "//", 2) != NULL)
		return false;
	return multi || memchr(arg, '/', *alen) == NULL;
}

/* route_match() against ref_match() over the whole table, and route_allow_string(). */
static void
check_route(const char *path, enum sg_method method)
{
	char *arg = NULL, allow[128];
	unsigned allowed = 0, want_allowed = 0;
	const struct route *rt = route_match(path, method, &arg, &allowed), *want = NULL;
	size_t n, astart = 0, alen = 0;
	const struct route *table = route_table(&n);

	for (size_t i = 0; i < n && want == NULL; i++) {
		size_t s, l;

		if (!ref_match(table[i].pattern, path, &s, &l))
			continue;
		if (table[i].method == method || (method == SG_HEAD && table[i].method == SG_GET)) {
			want = &table[i];
			astart = s;
			alen = l;
		} else {
			want_allowed |= (unsigned) table[i].method;
		}
	}
	FUZZ_CHECK(rt == want, "'%s' %s matched '%s', expected '%s'", http_method_name(method), path,
		   rt ? rt->pattern : "nothing", want ? want->pattern : "nothing");
	if (rt == NULL) {
		FUZZ_CHECK(arg == NULL, "no route but an argument '%s'", arg);
		FUZZ_CHECK(allowed == want_allowed, "allowed methods %#x for '%s', expected %#x", allowed, path,
			   want_allowed);
	} else {
		FUZZ_CHECK(allowed == 0, "a match left allowed = %#x", allowed);
		if (strchr(rt->pattern, '{') == NULL)
			FUZZ_CHECK(arg == NULL, "literal route '%s' gave an argument", rt->pattern);
		else
			FUZZ_CHECK(arg != NULL && strlen(arg) == alen && memcmp(arg, path + astart, alen) == 0,
				   "route '%s' on '%s' gave the argument '%s'", rt->pattern, path,
				   arg ? arg : "(null)");
	}
	route_allow_string(allowed, allow, sizeof(allow));
	FUZZ_CHECK(strlen(allow) < sizeof(allow), "route_allow_string overflowed");
	FUZZ_CHECK((allowed == 0) == (allow[0] == '\0'), "Allow '%s' for methods %#x", allow, allowed);
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
 * The form decoding of v[0..end) written independently: '%' and two hex
 * digits, '+' as space; a new string, NULL on a '%' not followed by two hex
 * digits or on a decoded NUL.
 */
static char *
ref_form_decode(const char *v, const char *end)
{
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

/*
 * What http_query_get() should return: the first '&'-separated segment
 * whose name, form-decoded (and under 256 bytes raw), is key; its value
 * after '=' form-decoded; "" without '='; NULL when absent or when the value
 * does not decode.
 */
static char *
ref_query_get(const char *q, const char *key)
{
	for (;;) {
		size_t seg = strcspn(q, "&");
		const char *eq = memchr(q, '=', seg);
		size_t nlen = eq ? (size_t) (eq - q) : seg;
		char *name = seg > 0 && nlen < 256 ? ref_form_decode(q, q + nlen) : NULL;
		bool match = name != NULL && strcmp(name, key) == 0;

		free(name);
		if (match)
			return ref_form_decode(eq ? eq + 1 : q + seg, q + seg);
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
		FUZZ_CHECK(st == SG_E_BAD_REQUEST && err[0] != '\0',
			   "acl_attrs_from_json failed (%d) without a message", (int) st);
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
			FUZZ_CHECK(acl_check(&a, &alice.attrs),
				   "an all-null ACL must be visible to a caller with attributes");
		/* A caller holding exactly the ACL's values sees the object unless a category is []. */
		FUZZ_CHECK(!any_set || acl_check(&a, &a) == all_nonempty,
			   "a caller equal to the ACL is decided wrongly");
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

		*out = json_pack("{s:s, s:s, s:s, s:s, s:n, s:o, s:s}", "identifier", identifier,
				 "provider_resource_id", identifier, "provider_id", "vllm", "type", "model",
				 "access_attributes", "metadata",
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
	struct sg_err err;
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

		FUZZ_CHECK(tid != NULL && resources_identifier_ok(tid, why, sizeof(why)),
			   "tool %zu has a bad identifier", i);
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
		/* Planting: a caller that is neither the config nor an admin gives only attributes it holds. */
		FUZZ_CHECK(id == NULL || id->admin ||
				   (id->principal != NULL && acl_attrs_within(&a, &id->attrs, NULL, 0)),
			   "a caller gave access_attributes it does not hold");
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

		/* Schemes are case-insensitive (RFC 3986 3.1): "HTTPS://" is https, as curl reads it. */
		FUZZ_CHECK(json_is_null(ep) || (uri != NULL && (strncasecmp(uri, "http://", 7) == 0 ||
								strncasecmp(uri, "https://", 8) == 0)),
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
	struct sg_err err;
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
		FUZZ_CHECK(st == SG_E_BAD_REQUEST || st == SG_E_UNAVAILABLE || st == SG_E_NOT_FOUND ||
				   st == SG_E_FORBIDDEN,
			   "unexpected status %s: %s", sg_status_name(st), err.msg);
		/* Only access_attributes the caller may not give are refused with 403, and never to the config. */
		FUZZ_CHECK(st != SG_E_FORBIDDEN || (id != NULL && strcmp(err.param, "access_attributes") == 0),
			   "a 403 for %s on '%s': %s", id ? "a caller" : "the config", err.param, err.msg);
		if (st == SG_E_FORBIDDEN && id != NULL && id->principal != NULL &&
		    json_is_object(json_object_get(body, "access_attributes"))) {
			struct sg_attrs g;

			if (acl_attrs_from_json(json_object_get(body, "access_attributes"), &g, NULL, 0) == SG_OK)
				FUZZ_CHECK(!acl_attrs_within(&g, &id->attrs, NULL, 0),
					   "attributes within the caller's were refused");
			acl_attrs_free(&g);
		}
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
	bool b = false, found = false;
	sg_status st;

	memset(&r, 0, sizeof(r));
	r.query = "";
	st = sg_json_field_str(body, "model", NULL, false, &s, &r.err);
	FUZZ_CHECK(st == SG_OK ? (s == NULL || json_is_string(json_object_get(body, "model"))) : r.err.msg[0] != '\0',
		   "sg_json_field_str");
	st = sg_json_field_bool(body, "stream", NULL, false, &b, &found, &r.err);
	FUZZ_CHECK(st != SG_OK || !found || json_is_boolean(json_object_get(body, "stream")), "sg_json_field_bool");
	st = sg_json_field(body, "max_tokens", NULL, JSON_INTEGER, false, &o, &r.err);
	FUZZ_CHECK(st != SG_OK || o == NULL || o == json_object_get(body, "max_tokens"), "sg_json_field integer");
	st = sg_json_field(body, "messages", NULL, JSON_ARRAY, false, &o, &r.err);
	FUZZ_CHECK(st != SG_OK || o == NULL || json_is_array(o), "sg_json_field array");
	st = sg_json_field(body, "metadata", NULL, JSON_OBJECT, true, &o, &r.err);
	FUZZ_CHECK(st == SG_OK ? json_is_object(o) : (r.err.msg[0] != '\0' && o == NULL), "sg_json_field object");
	http_request_reset(&r);
}

/* ------------------------------------------------------ the FastCGI request */

/* The body as libfcgi's input stream hands it over: in pieces of chunk bytes, then EOF. */
struct body_src {
	const uint8_t *p;
	size_t left, chunk;
};

static void
fill_body(FCGX_Stream *s)
{
	struct body_src *b = s->data;
	size_t n = b->left < b->chunk ? b->left : b->chunk;

	if (n == 0) {
		s->isClosed = 1;
		return;
	}
	s->rdNext = s->stopUnget = (unsigned char *) (uintptr_t) b->p;
	s->stop = s->rdNext + n;
	b->p += n;
	b->left -= n;
}

/* The request's parts as the input spells them (see the top of the file). */
struct input {
	char *method;  /* NULL: no REQUEST_METHOD */
	char *uri;     /* REQUEST_URI */
	char *env[24]; /* "NAME=value", NULL-terminated */
	size_t nenv;
	const uint8_t *body;
	size_t body_len, chunk;
};

static void
input_free(struct input *in)
{
	free(in->method);
	free(in->uri);
	for (size_t i = 0; i < in->nenv; i++)
		free(in->env[i]);
}

static void
env_add(struct input *in, const char *name, const char *value, size_t vlen)
{
	size_t nlen = strlen(name);
	char *e;

	for (size_t i = 0; i < in->nenv; i++)
		if (strncmp(in->env[i], name, nlen) == 0 && in->env[i][nlen] == '=') {
			free(in->env[i]);
			in->env[i] = in->env[--in->nenv];
			in->env[in->nenv] = NULL;
			break;
		}
	if (value == NULL || in->nenv + 1 >= sizeof(in->env) / sizeof(in->env[0]))
		return;
	e = malloc(nlen + 1 + vlen + 1);
	if (e == NULL)
		abort();
	memcpy(e, name, nlen);
	e[nlen] = '=';
	memcpy(e + nlen + 1, value, vlen);
	e[nlen + 1 + vlen] = '\0';
	in->env[in->nenv++] = e;
	in->env[in->nenv] = NULL;
}

/* The value of param name in in->env, or NULL. */
static const char *
env_get(const struct input *in, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < in->nenv; i++)
		if (strncmp(in->env[i], name, nlen) == 0 && in->env[i][nlen] == '=')
			return in->env[i] + nlen + 1;
	return NULL;
}

/*
 *     [METHOD ]target\n        target = path[?query], REQUEST_URI as nginx passes it
 *     (@NAME[=value]\n)*       more params; "@NAME" alone removes one; @_CHUNK=n
 *                              hands the body over n bytes at a time
 *     body                     CONTENT_LENGTH is its length unless a line sets it
 * STACKGATE_PRINCIPAL is never passed: a principal is looked up in PostgreSQL.
 */
static void
parse_input(const uint8_t *data, size_t size, struct input *in)
{
	const uint8_t *head, *rest;
	size_t headlen, restlen, m = 0;
	char *line, num[32];

	memset(in, 0, sizeof(*in));
	fuzz_split_line(data, size, &head, &headlen, &rest, &restlen);
	line = fuzz_strndup(head, headlen);
	while (line[m] >= 'A' && line[m] <= 'Z')
		m++;
	if (m > 0 && line[m] == ' ') {
		in->method = fuzz_strndup(line, m);
		in->uri = fuzz_strndup(line + m + 1, strlen(line + m + 1));
	} else {
		in->uri = fuzz_strndup(line, strlen(line));
	}
	free(line);
	if (in->method != NULL)
		env_add(in, "REQUEST_METHOD", in->method, strlen(in->method));
	env_add(in, "REQUEST_URI", in->uri, strlen(in->uri));
	while (restlen > 0 && rest[0] == '@') {
		const uint8_t *h;
		size_t hl;
		char *spec, *eq;

		fuzz_split_line(rest + 1, restlen - 1, &h, &hl, &rest, &restlen);
		spec = fuzz_strndup(h, hl);
		eq = strchr(spec, '=');
		if (eq != NULL)
			*eq++ = '\0';
		if (strcmp(spec, "_CHUNK") == 0)
			in->chunk = eq ? strtoul(eq, NULL, 10) : 0;
		else if (strcmp(spec, "STACKGATE_PRINCIPAL") != 0 && spec[0] != '\0')
			env_add(in, spec, eq, eq ? strlen(eq) : 0);
		free(spec);
	}
	in->body = rest;
	in->body_len = restlen;
	if (in->chunk == 0 || in->chunk > restlen)
		in->chunk = restlen ? restlen : 1;
	if (env_get(in, "CONTENT_LENGTH") == NULL) {
		snprintf(num, sizeof(num), "%zu", restlen);
		env_add(in, "CONTENT_LENGTH", num, strlen(num));
	}
}

/* Well-formed UTF-8 by the code points it encodes, written here independently of sg.c. */
static bool
ref_utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], cp;
		size_t len = c < 0x80             ? 1
			     : (c & 0xe0) == 0xc0 ? 2
			     : (c & 0xf0) == 0xe0 ? 3
			     : (c & 0xf8) == 0xf0 ? 4
						  : 0;
		static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};

		if (len == 0 || i + len > n)
			return false;
		cp = len == 1 ? c : c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Whether http.c must accept the raw query: all of it decodes ('+' as space) without a NUL to UTF-8. */
static bool
ref_query_ok(const char *q)
{
	size_t len = strlen(q), n = 0;
	unsigned char *out = malloc(len + 1);
	bool ok = true;

	if (out == NULL)
		abort();
	for (size_t i = 0; ok && i < len; i++) {
		int c = (unsigned char) q[i];

		if (c == '%') {
			ok = i + 2 < len && hexdigit(q[i + 1]) >= 0 && hexdigit(q[i + 2]) >= 0;
			c = ok ? hexdigit(q[i + 1]) * 16 + hexdigit(q[i + 2]) : 0;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		ok = ok && c != 0;
		out[n++] = (unsigned char) c;
	}
	ok = ok && ref_utf8_ok(out, n);
	free(out);
	return ok;
}

/* The error body's message must encode, whatever the request held. */
static void
check_err_msg(const struct request *r)
{
	json_t *j;

	if (r->err.msg[0] == '\0')
		return;
	FUZZ_CHECK(ref_utf8_ok((const unsigned char *) r->err.msg, strlen(r->err.msg)), "message '%s' is not UTF-8",
		   r->err.msg);
	FUZZ_CHECK(ref_utf8_ok((const unsigned char *) r->err.param, strlen(r->err.param)), "param '%s' is not UTF-8",
		   r->err.param);
	j = json_pack("{s:s,s:s?}", "message", r->err.msg, "param", r->err.param[0] ? r->err.param : NULL);
	FUZZ_CHECK(j != NULL, "the message '%s' does not encode", r->err.msg);
	json_decref(j);
}

/* The decoded path, decoded here independently of http.c; NULL where http.c must refuse it. */
static char *
ref_path(const char *uri)
{
	size_t len = strcspn(uri, "?");
	char *out = malloc(len + 1), *o = out;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char) uri[i];

		if (c == '%') {
			if (i + 2 >= len || hexdigit(uri[i + 1]) < 0 || hexdigit(uri[i + 2]) < 0)
				goto bad;
			c = hexdigit(uri[i + 1]) * 16 + hexdigit(uri[i + 2]);
			i += 2;
		}
		if (c == 0)
			goto bad;
		*o++ = (char) c;
	}
	*o = '\0';
	if (out[0] != '/' || !ref_utf8_ok((const unsigned char *) out, (size_t) (o - out)))
		goto bad;
	for (const char *p = out; (p = strchr(p, '/')) != NULL; p++) {
		size_t n = strcspn(p + 1, "/");

		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.'))
			goto bad;
	}
	return out;
bad:
	free(out);
	return NULL;
}

static bool
request_id_plain(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) id[i]) && id[i] != '-' && id[i] != '_' && id[i] != '.')
			return false;
	return true;
}

/* identity_resolve() for an anonymous caller, against the params it read. */
static void
check_identity(struct request *r)
{
	const char *attrs = http_param(r, "STACKGATE_ATTRIBUTES");
	sg_status st = worker_identity(r);
	bool admin = false;

	if (st != SG_OK) {
		FUZZ_CHECK(r->err.msg[0] != '\0', "identity_resolve failed (%s) without a message", sg_status_name(st));
		FUZZ_CHECK(st == SG_E_BAD_REQUEST || (st == SG_E_UNAUTHORIZED && r->conf->auth_required),
			   "identity_resolve: %s: %s", sg_status_name(st), r->err.msg);
		FUZZ_CHECK(!r->id.admin && acl_attrs_empty(&r->id.attrs), "a refused caller keeps attributes");
		return;
	}
	FUZZ_CHECK(!r->conf->auth_required, "an anonymous caller passed auth.required");
	FUZZ_CHECK(r->id.principal == NULL, "a principal appeared");
	if (attrs != NULL && attrs[0] != '\0') {
		json_t *j = json_loads(attrs, JSON_REJECT_DUPLICATES, NULL);

		FUZZ_CHECK(j != NULL && (json_is_object(j) || json_is_null(j)), "bad STACKGATE_ATTRIBUTES accepted: %s",
			   attrs);
		json_decref(j);
	}
	for (size_t i = 0; r->id.attrs.set[SG_ROLES] && i < r->id.attrs.cat[SG_ROLES].n; i++)
		admin |= sg_strv_contains(&r->conf->admin_roles, r->id.attrs.cat[SG_ROLES].v[i]);
	FUZZ_CHECK(admin == r->id.admin, "admin is %d for these roles", (int) r->id.admin);
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		for (size_t i = 0; i < r->id.attrs.cat[c].n; i++)
			FUZZ_CHECK(r->id.attrs.set[c], "a value in a category that is not set");
}

/* Picks the resource types to build for this body: the route's, else those whose id key it has. */
static void
build_all(const struct route *rt, const struct sg_conf *conf, const struct identity *id, json_t *body)
{
	static const char *const id_keys[SG_RT_COUNT] = {
		"model_id",      "shield_id",    "vector_db_id", "dataset_id",
		"scoring_fn_id", "benchmark_id", "toolgroup_id", "tool_name",
	};
	bool any = false;

	if (rt != NULL && rt->handler == resources_register) {
		check_build((enum sg_rtype) rt->arg, conf, id, body);
		return;
	}
	for (int t = 0; t < SG_RT_COUNT; t++)
		if (json_object_get(body, id_keys[t]) != NULL) {
			check_build((enum sg_rtype) t, conf, id, body);
			any = true;
		}
	if (!any) {
		check_build(SG_RT_MODEL, conf, id, body);
		check_build(SG_RT_DATASET, conf, id, body);
	}
}

static void
run_request(const struct input *in, const struct sg_conf *conf)
{
	struct body_src src = {.p = in->body, .left = in->body_len, .chunk = in->chunk};
	FCGX_Stream stream;
	FCGX_Request fcgx;
	struct request r;
	const char *rid = env_get(in, "STACKGATE_REQUEST_ID"), *method = env_get(in, "REQUEST_METHOD");
	const char *uri = env_get(in, "REQUEST_URI"), *query;
	char *want_path;
	json_t *body = NULL, *again = NULL, *ref;
	const struct route *rt;
	char *arg = NULL, err[256];
	unsigned allowed;
	sg_status st;

	memset(&stream, 0, sizeof(stream));
	stream.isReader = 1;
	stream.fillBuffProc = fill_body;
	stream.data = &src;
	stream.rdNext = stream.stop = stream.stopUnget = (unsigned char *) (uintptr_t) in->body;
	memset(&fcgx, 0, sizeof(fcgx));
	fcgx.in = &stream;
	fcgx.envp = (char **) in->env;
	fcgx.ipcFd = -1;
	if (uri == NULL)
		uri = env_get(in, "DOCUMENT_URI");
	if (uri == NULL)
		uri = "/";

	memset(&r, 0, sizeof(r));
	st = http_request_read(&r, &fcgx, conf);
	FUZZ_CHECK(request_id_plain(r.request_id), "request id '%s' is not plain", r.request_id);
	if (rid != NULL && request_id_plain(rid))
		FUZZ_CHECK(strcmp(r.request_id, rid) == 0, "nginx's request id '%s' was not kept", rid);
	FUZZ_CHECK(r.method == http_method_from_name(method ? method : "GET"), "method");

	want_path = ref_path(uri);
	if (st == SG_E_TOO_LARGE) {
		FUZZ_CHECK(r.err.msg[0] != '\0', "413 without a message");
		goto out;
	}
	FUZZ_CHECK(in->body_len <= conf->max_body_bytes, "a body of %zu bytes passed the limit of %zu", in->body_len,
		   conf->max_body_bytes);
	query = strchr(uri, '?') ? strchr(uri, '?') + 1 : "";
	if (st != SG_OK) {
		FUZZ_CHECK(st == SG_E_BAD_REQUEST && r.err.msg[0] != '\0', "http_request_read: %s", sg_status_name(st));
		FUZZ_CHECK(want_path == NULL || !ref_query_ok(query), "path '%s', query '%s' were refused: %s",
			   want_path, query, r.err.msg);
		FUZZ_CHECK(strncmp(r.err.msg, want_path == NULL ? "the request path " : "the query string ", 17) == 0,
			   "the refusal '%s' names the wrong part", r.err.msg);
		goto out;
	}
	FUZZ_CHECK(ref_query_ok(query), "query '%s' was accepted", query);
	FUZZ_CHECK(want_path != NULL && strcmp(want_path, r.path) == 0, "path '%s' decoded as '%s', expected '%s'", uri,
		   r.path, want_path ? want_path : "(refused)");
	FUZZ_CHECK(strcmp(r.query, query) == 0, "query '%s'", r.query);
	FUZZ_CHECK(r.body != NULL && r.body_len == in->body_len && memcmp(r.body, in->body, in->body_len) == 0 &&
			   r.body[r.body_len] == '\0',
		   "the body read (%zu bytes) is not the body sent (%zu bytes)", r.body_len, in->body_len);

	check_identity(&r);
	check_route(r.path, r.method);
	check_query(r.query);

	st = http_body_object(&r, &body);
	ref = in->body_len == 0 ? json_object()
				: sg_json_parse((const char *) in->body, in->body_len, (size_t) conf->max_json_depth,
						err, sizeof(err));
	if (st != SG_OK) {
		FUZZ_CHECK(st == SG_E_BAD_REQUEST && r.err.msg[0] != '\0' && body == NULL, "http_body_object: %s",
			   sg_status_name(st));
		FUZZ_CHECK(ref == NULL || !json_is_object(ref), "a body sg_json_parse accepts was refused: %s",
			   r.err.msg);
	} else {
		FUZZ_CHECK(json_is_object(body) && json_equal(body, ref), "http_body_object gave another value");
		FUZZ_CHECK(http_body_object(&r, &again) == SG_OK && again == body, "a second call parsed again");
		check_fields(body);
		check_acl_json(json_object_get(body, "access_attributes"));
		rt = route_match(r.path, r.method, &arg, &allowed);
		free(arg);
		build_all(rt, conf, NULL, body);
		build_all(rt, conf, r.id.attrs.present ? &r.id : &alice, body);
	}
	json_decref(ref);
out:
	check_err_msg(&r);
	free(want_path);
	http_request_reset(&r);
	http_request_reset(&r); /* idempotent */
}

/* -------------------------------------------------------------------- entry */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;

	parse_input(data, size, &in);
	for (int c = 0; c < 2; c++)
		run_request(&in, confs[c]);
	input_free(&in);
	return 0;
}
