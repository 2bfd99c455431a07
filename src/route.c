/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.c: the static route table and the matcher.  The table is the one
 * list of every path stackgate answers; /v1/inspect/routes reports it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "auth.h"
#include "compat.h"
#include "inspect.h"
#include "metrics.h"
#include "openai.h"
#include "registry.h"
#include "resources.h"
#include "route.h"
#include "usage.h"

#define R(m, p, h, a, api, f)      \
	{                          \
		m, p, h, a, api, f \
	}

static const struct route routes[] = {
	R(SG_GET, "/v1/health", inspect_health, 0, "inspect", SG_ROUTE_PUBLIC),
	R(SG_GET, "/v1/version", inspect_version, 0, "inspect", SG_ROUTE_PUBLIC),
	/* Open to whatever nginx lets reach it: its location is loopback-only unless opened (README). */
	R(SG_GET, "/metrics", metrics_handler, 0, "inspect", SG_ROUTE_PUBLIC | SG_ROUTE_INTERNAL),
	R(SG_GET, "/v1/inspect/routes", inspect_routes, 0, "inspect", 0),
	R(SG_GET, "/v1/providers", inspect_providers_list, 0, "providers", 0),
	R(SG_GET, "/v1/providers/{provider_id}", inspect_provider_get, 0, "providers", 0),
	/* Today's clients (0.4 and later) find these under /v1alpha/admin; RouteInfo.method is uppercase there. */
	R(SG_GET, "/v1alpha/admin/health", inspect_health, 0, "inspect", SG_ROUTE_PUBLIC),
	R(SG_GET, "/v1alpha/admin/version", inspect_version, 0, "inspect", SG_ROUTE_PUBLIC),
	R(SG_GET, "/v1alpha/admin/inspect/routes", inspect_routes, INSPECT_ROUTES_ADMIN, "inspect", 0),
	R(SG_GET, "/v1alpha/admin/providers", inspect_providers_list, 0, "providers", 0),
	R(SG_GET, "/v1alpha/admin/providers/{provider_id}", inspect_provider_get, 0, "providers", 0),

	R(SG_GET, "/v1/models", resources_list, SG_RT_MODEL, "models", 0),
	R(SG_POST, "/v1/models", resources_register, SG_RT_MODEL, "models", 0),
	R(SG_GET, "/v1/models/{model_id:path}", resources_get, SG_RT_MODEL, "models", 0),
	R(SG_DELETE, "/v1/models/{model_id:path}", resources_unregister, SG_RT_MODEL, "models", 0),

	R(SG_GET, "/v1/shields", resources_list, SG_RT_SHIELD, "shields", 0),
	R(SG_POST, "/v1/shields", resources_register, SG_RT_SHIELD, "shields", 0),
	R(SG_GET, "/v1/shields/{identifier:path}", resources_get, SG_RT_SHIELD, "shields", 0),
	R(SG_DELETE, "/v1/shields/{identifier:path}", resources_unregister, SG_RT_SHIELD, "shields", 0),

	R(SG_GET, "/v1/vector-dbs", resources_list, SG_RT_VECTOR_DB, "vector_dbs", 0),
	R(SG_POST, "/v1/vector-dbs", resources_register, SG_RT_VECTOR_DB, "vector_dbs", 0),
	R(SG_GET, "/v1/vector-dbs/{vector_db_id:path}", resources_get, SG_RT_VECTOR_DB, "vector_dbs", 0),
	R(SG_DELETE, "/v1/vector-dbs/{vector_db_id:path}", resources_unregister, SG_RT_VECTOR_DB, "vector_dbs", 0),

	R(SG_GET, "/v1/datasets", resources_list, SG_RT_DATASET, "datasets", 0),
	R(SG_POST, "/v1/datasets", resources_register, SG_RT_DATASET, "datasets", 0),
	R(SG_GET, "/v1/datasets/{dataset_id:path}", resources_get, SG_RT_DATASET, "datasets", 0),
	R(SG_DELETE, "/v1/datasets/{dataset_id:path}", resources_unregister, SG_RT_DATASET, "datasets", 0),
	R(SG_GET, "/v1beta/datasets", resources_list, SG_RT_DATASET, "datasets", 0),
	R(SG_POST, "/v1beta/datasets", resources_register, SG_RT_DATASET, "datasets", 0),
	R(SG_GET, "/v1beta/datasets/{dataset_id:path}", resources_get, SG_RT_DATASET, "datasets", 0),
	R(SG_DELETE, "/v1beta/datasets/{dataset_id:path}", resources_unregister, SG_RT_DATASET, "datasets", 0),

	R(SG_GET, "/v1/scoring-functions", resources_list, SG_RT_SCORING_FN, "scoring_functions", 0),
	R(SG_POST, "/v1/scoring-functions", resources_register, SG_RT_SCORING_FN, "scoring_functions", 0),
	R(SG_GET, "/v1/scoring-functions/{scoring_fn_id:path}", resources_get, SG_RT_SCORING_FN, "scoring_functions",
	  0),
	R(SG_DELETE, "/v1/scoring-functions/{scoring_fn_id:path}", resources_unregister, SG_RT_SCORING_FN,
	  "scoring_functions", 0),

	R(SG_GET, "/v1/eval/benchmarks", resources_list, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_POST, "/v1/eval/benchmarks", resources_register, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_GET, "/v1/eval/benchmarks/{benchmark_id}", resources_get, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_DELETE, "/v1/eval/benchmarks/{benchmark_id}", resources_unregister, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_GET, "/v1alpha/eval/benchmarks", resources_list, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_POST, "/v1alpha/eval/benchmarks", resources_register, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_GET, "/v1alpha/eval/benchmarks/{benchmark_id}", resources_get, SG_RT_BENCHMARK, "benchmarks", 0),
	R(SG_DELETE, "/v1alpha/eval/benchmarks/{benchmark_id}", resources_unregister, SG_RT_BENCHMARK, "benchmarks", 0),

	R(SG_GET, "/v1/toolgroups", resources_list, SG_RT_TOOL_GROUP, "tool_groups", 0),
	R(SG_POST, "/v1/toolgroups", resources_register, SG_RT_TOOL_GROUP, "tool_groups", 0),
	R(SG_GET, "/v1/toolgroups/{toolgroup_id:path}", resources_get, SG_RT_TOOL_GROUP, "tool_groups", 0),
	R(SG_DELETE, "/v1/toolgroups/{toolgroup_id:path}", resources_unregister, SG_RT_TOOL_GROUP, "tool_groups", 0),
	R(SG_GET, "/v1/tools", resources_tools_list, SG_RT_TOOL, "tool_groups", 0),
	R(SG_GET, "/v1/tools/{tool_name:path}", resources_get, SG_RT_TOOL, "tool_groups", 0),

	R(SG_GET, "/v1/openai/v1/models", openai_models, 0, "inference", 0),
	R(SG_GET, "/v1/openai/v1/models/{model:path}", openai_model_get, 0, "inference", 0),
	R(SG_POST, "/v1/openai/v1/completions", openai_completions, 0, "inference", 0),
	R(SG_POST, "/v1/openai/v1/chat/completions", openai_chat_completions, 0, "inference", 0),
	R(SG_POST, "/v1/openai/v1/embeddings", openai_embeddings, 0, "inference", 0),
	/* Where today's clients send inference (Llama Stack 0.3 and later): the same handlers. */
	R(SG_POST, "/v1/chat/completions", openai_chat_completions, 0, "inference", 0),
	R(SG_POST, "/v1/completions", openai_completions, 0, "inference", 0),
	R(SG_POST, "/v1/embeddings", openai_embeddings, 0, "inference", 0),

	R(SG_GET, "/v1/stackgate/usage", usage_http_get, 0, "usage", 0),
	/* The operator's routes (admin.h): the caller itself, then admins only. */
	R(SG_GET, "/v1/stackgate/me", admin_me, 0, "admin", 0),
	R(SG_GET, "/v1/stackgate/registry", admin_registry_view, 0, "admin", 0),
	R(SG_GET, "/v1/stackgate/principals", admin_principals_list, 0, "admin", 0),
	R(SG_POST, "/v1/stackgate/principals", admin_principal_add, 0, "admin", 0),
	R(SG_PUT, "/v1/stackgate/principals/{name:path}", admin_principal_put, 0, "admin", 0),
	R(SG_DELETE, "/v1/stackgate/principals/{name:path}", admin_principal_delete, 0, "admin", 0),
	R(SG_GET, "/v1/stackgate/keys", admin_keys_list, 0, "admin", 0),
	R(SG_POST, "/v1/stackgate/keys", admin_key_create, 0, "admin", 0),
	R(SG_DELETE, "/v1/stackgate/keys/{key_id}", admin_key_delete, 0, "admin", 0),
	R(SG_GET, "/v1/stackgate/status", admin_status, 0, "admin", 0),

	/* Data planes of the other APIs are served by the systems behind them (README). */
	R(SG_POST, "/v1/inference/completion", resources_not_implemented, 0, "inference", 0),
	R(SG_POST, "/v1/inference/chat-completion", resources_not_implemented, 0, "inference", 0),
	R(SG_POST, "/v1/inference/embeddings", resources_not_implemented, 0, "inference", 0),
	R(SG_POST, "/v1/safety/run-shield", resources_not_implemented, 0, "safety", 0),
	R(SG_POST, "/v1/vector-io/insert", resources_not_implemented, 0, "vector_io", 0),
	R(SG_POST, "/v1/vector-io/query", resources_not_implemented, 0, "vector_io", 0),
	R(SG_GET, "/v1/datasetio/iterrows/{dataset_id:path}", resources_not_implemented, 0, "datasetio", 0),
	R(SG_POST, "/v1/datasetio/append-rows/{dataset_id:path}", resources_not_implemented, 0, "datasetio", 0),
	R(SG_POST, "/v1/scoring/score", resources_not_implemented, 0, "scoring", 0),
	R(SG_POST, "/v1/scoring/score-batch", resources_not_implemented, 0, "scoring", 0),
	R(SG_POST, "/v1/eval/benchmarks/{benchmark_id}/evaluations", resources_not_implemented, 0, "eval", 0),
	R(SG_POST, "/v1/eval/benchmarks/{benchmark_id}/jobs", resources_not_implemented, 0, "eval", 0),
	R(SG_GET, "/v1/tool-runtime/list-tools", resources_not_implemented, 0, "tool_runtime", 0),
	R(SG_POST, "/v1/tool-runtime/invoke", resources_not_implemented, 0, "tool_runtime", 0),
	R(SG_GET, "/v1beta/datasetio/iterrows/{dataset_id:path}", resources_not_implemented, 0, "datasetio", 0),
	R(SG_POST, "/v1beta/datasetio/append-rows/{dataset_id:path}", resources_not_implemented, 0, "datasetio", 0),
	R(SG_POST, "/v1alpha/eval/benchmarks/{benchmark_id}/evaluations", resources_not_implemented, 0, "eval", 0),
	R(SG_POST, "/v1alpha/eval/benchmarks/{benchmark_id}/jobs", resources_not_implemented, 0, "eval", 0),

/* The data-plane APIs of llama-stack-client 0.7 that stackgate does not serve: 501 naming the route. */
#define DATA_PLANE(prefix, api)                                                                            \
	R(SG_GET, prefix, compat_data_plane, 0, api, 0), R(SG_POST, prefix, compat_data_plane, 0, api, 0), \
		R(SG_GET, prefix "/{path:path}", compat_data_plane, 0, api, 0),                            \
		R(SG_POST, prefix "/{path:path}", compat_data_plane, 0, api, 0),                           \
		R(SG_PUT, prefix "/{path:path}", compat_data_plane, 0, api, 0),                            \
		R(SG_DELETE, prefix "/{path:path}", compat_data_plane, 0, api, 0)
	DATA_PLANE("/v1/responses", "responses"),
	DATA_PLANE("/v1/conversations", "conversations"),
	DATA_PLANE("/v1/files", "files"),
	DATA_PLANE("/v1/batches", "batches"),
	DATA_PLANE("/v1/prompts", "prompts"),
	DATA_PLANE("/v1/vector_stores", "vector_stores"),
#undef DATA_PLANE
	R(SG_POST, "/v1/moderations", compat_data_plane, 0, "moderations", 0),
	R(SG_POST, "/v1alpha/inference/rerank", compat_data_plane, 0, "rerank", 0),
	R(SG_GET, "/v1/chat/completions", compat_data_plane, 0, "stored chat completions", 0),
	R(SG_GET, "/v1/chat/completions/{completion_id}", compat_data_plane, 0, "stored chat completions", 0),

	R(SG_GET, "/_stackgate/auth", auth_check, 0, "auth", SG_ROUTE_PUBLIC | SG_ROUTE_INTERNAL),
};

const struct route *
route_table(size_t *n)
{
	*n = SG_ARRAY_LEN(routes);
	return routes;
}

/*
 * Matches path against one pattern.  On success returns true and, when the
 * pattern has a parameter, stores its start and length.
 */
static bool
pattern_match(const char *pat, const char *path, const char **arg, size_t *arglen)
{
	const char *open = strchr(pat, '{');
	const char *close;
	size_t plen, slen, pathlen;
	const char *suffix, *start, *end;
	bool multi;

	*arg = NULL;
	*arglen = 0;
	if (open == NULL)
		return strcmp(pat, path) == 0;

	plen = (size_t) (open - pat);
	if (strncmp(pat, path, plen) != 0)
		return false;
	close = strchr(open, '}');
	multi = (size_t) (close - open) > 5 && memcmp(close - 5, ":path", 5) == 0;
	suffix = close + 1;
	slen = strlen(suffix);
	pathlen = strlen(path);
	start = path + plen;
	if (pathlen < plen + slen + 1)
		return false;
	end = path + pathlen - slen;
	if (strcmp(end, suffix) != 0)
		return false;
	if (end <= start)
		return false;
	if (!multi && memchr(start, '/', (size_t) (end - start)) != NULL)
		return false;
	/* Empty segments ("a//b", a trailing '/') never make an identifier. */
	if (start[0] == '/' || end[-1] == '/')
		return false;
	if (multi && strstr(start, "//") != NULL && strstr(start, "//") < end)
		return false;
	*arg = start;
	*arglen = (size_t) (end - start);
	return true;
}

const struct route *
route_match(const char *path, enum sg_method method, char **arg_out, unsigned *allowed)
{
	const char *arg;
	size_t arglen;

	*arg_out = NULL;
	*allowed = 0;
	for (size_t i = 0; i < SG_ARRAY_LEN(routes); i++) {
		if (!pattern_match(routes[i].pattern, path, &arg, &arglen))
			continue;
		if (routes[i].method != method && !(method == SG_HEAD && routes[i].method == SG_GET)) {
			*allowed |= (unsigned) routes[i].method;
			continue;
		}
		if (arg != NULL) {
			*arg_out = sg_strndup(arg, arglen);
			if (*arg_out == NULL)
				return NULL;
		}
		*allowed = 0;
		return &routes[i];
	}
	return NULL;
}

void
route_allow_string(unsigned methods, char *buf, size_t len)
{
	static const enum sg_method order[] = {SG_GET, SG_POST, SG_PUT, SG_PATCH, SG_DELETE};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < SG_ARRAY_LEN(order); i++) {
		if (!(methods & (unsigned) order[i]))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", http_method_name(order[i]));
		if (n < 0 || (size_t) n >= len - used)
			return;
		used += (size_t) n;
		if (order[i] == SG_GET && used < len) {
			n = snprintf(buf + used, len - used, ", HEAD");
			if (n > 0 && (size_t) n < len - used)
				used += (size_t) n;
		}
	}
}
