/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inspect.c: /v1/health, /v1/version, /v1/inspect/routes and /v1/providers
 * (reference/llama-stack-api.md §1.10).  Health asks PostgreSQL; the rest
 * reads the route table and the loaded config.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "health.h"
#include "inspect.h"
#include "provider.h"
#include "route.h"

sg_status
inspect_health(struct request *r)
{
	if (db_ping() != SG_OK) {
		r->status = 503;
		r->reply = json_pack("{s:s,s:s}", "status", "Error", "reason", "the registry database is unavailable");
		return r->reply ? SG_OK : SG_E_NOMEM;
	}
	r->reply = json_pack("{s:s}", "status", "OK");
	return r->reply ? SG_OK : SG_E_NOMEM;
}

sg_status
inspect_version(struct request *r)
{
	r->reply = json_pack("{s:s}", "version", PACKAGE_VERSION);
	return r->reply ? SG_OK : SG_E_NOMEM;
}

/* A run of 1 to 6 digits at *s, moving past it; -1 when there is none (or it is longer). */
static long
number(const char **s)
{
	const char *p = *s;
	long v = 0;

	while (isdigit((unsigned char) *p) && p - *s < 7)
		v = v * 10 + (*p++ - '0');
	if (p == *s || p - *s > 6)
		return -1;
	*s = p;
	return v;
}

/*
 * "MAJOR[.MINOR]" at the start of s as a version parser reads it ("1" is 1.0,
 * "0.7.3rc1" is 0.7): *major * 1000000 + *minor in *out; false when s is no
 * version (what follows the numbers must be the end, '.', '-', '+' or a tag).
 */
static bool
major_minor(const char *s, long *out)
{
	long major, minor = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == 'v' || *s == 'V')
		s++;
	if ((major = number(&s)) < 0)
		return false;
	if (*s == '.' && isdigit((unsigned char) s[1])) {
		s++;
		if ((minor = number(&s)) < 0)
			return false;
	}
	if (*s != '\0' && *s != '.' && *s != '-' && *s != '+' && !isalpha((unsigned char) *s))
		return false;
	*out = major * 1000000 + minor;
	return true;
}

bool
inspect_client_version_ok(const char *version)
{
	long v, lo, hi;

	if (version == NULL || !major_minor(version, &v) || !major_minor(INSPECT_API_OLDEST, &lo) ||
	    !major_minor(INSPECT_API_NEWEST, &hi))
		return true;
	return v >= lo && v <= hi;
}

sg_status
inspect_check_client_version(struct request *r)
{
	const char *v = http_param(r, "HTTP_X_LLAMASTACK_CLIENT_VERSION");

	if (!r->conf->client_version_check || inspect_client_version_ok(v))
		return SG_OK;
	return http_fail(r, SG_E_UPGRADE, NULL,
			 "client version %.*s is not compatible with this server, which serves Llama Stack API "
			 "versions " INSPECT_API_OLDEST " to " INSPECT_API_NEWEST
			 " (llama-stack-client " INSPECT_API_OLDEST ".x to " INSPECT_API_NEWEST
			 ".x); use a client "
			 "of one of those versions",
			 (int) sg_utf8_prefix(v, 64), v);
}

bool
inspect_route_deprecated(const struct route *rt)
{
	static const char *const moved[] = {
		"/v1/openai/v1/", "/v1/datasets", "/v1/datasetio/",    "/v1/eval/",      "/v1/vector-dbs",
		"/v1/toolgroups", "/v1/tools/",   "/v1/tool-runtime/", "/v1/inference/",
	};
	static const char *const registered[] = {"/v1/models", "/v1/shields", "/v1/scoring-functions"};

	for (size_t i = 0; i < SG_ARRAY_LEN(moved); i++)
		if (strncmp(rt->pattern, moved[i], strlen(moved[i])) == 0)
			return true;
	if (rt->method != SG_POST && rt->method != SG_DELETE)
		return false;
	for (size_t i = 0; i < SG_ARRAY_LEN(registered); i++)
		if (strncmp(rt->pattern, registered[i], strlen(registered[i])) == 0)
			return true;
	return false;
}

/* Whether rt passes ?api_filter=filter (NULL: every route). */
static bool
route_level_matches(const struct route *rt, const char *filter)
{
	char prefix[16];

	if (filter == NULL)
		return true;
	if (strcmp(filter, "deprecated") == 0)
		return inspect_route_deprecated(rt);
	snprintf(prefix, sizeof(prefix), "/%s/", filter);
	return strncmp(rt->pattern, prefix, strlen(prefix)) == 0 && !inspect_route_deprecated(rt);
}

sg_status
inspect_routes(struct request *r)
{
	size_t n;
	const struct route *rt = route_table(&n);
	bool upper = r->route != NULL && r->route->arg == INSPECT_ROUTES_ADMIN;
	char *filter = http_query_get(r, "api_filter");
	json_t *data;

	if (filter != NULL && strcmp(filter, "v1") != 0 && strcmp(filter, "v1alpha") != 0 &&
	    strcmp(filter, "v1beta") != 0 && strcmp(filter, "deprecated") != 0) {
		sg_status st = http_fail(r, SG_E_BAD_REQUEST, "api_filter",
					 "api_filter must be one of v1, v1alpha, v1beta, deprecated; got '%.*s'",
					 (int) sg_utf8_prefix(filter, 64), filter);

		free(filter);
		return st;
	}
	if ((data = json_array()) == NULL) {
		free(filter);
		return SG_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char method[16];
		enum sg_api api;
		json_t *types, *row;
		size_t k;

		if ((rt[i].flags & SG_ROUTE_INTERNAL) || !route_level_matches(&rt[i], filter))
			continue;
		for (k = 0; rt[i].method && http_method_name(rt[i].method)[k] && k + 1 < sizeof(method); k++)
			method[k] = upper ? http_method_name(rt[i].method)[k]
					  : (char) tolower((unsigned char) http_method_name(rt[i].method)[k]);
		method[k] = '\0';
		types = json_array();
		/* Routing-table APIs (models, shields, …) list no provider types, as Llama Stack does. */
		if (types != NULL && conf_api_from_name(rt[i].api, &api)) {
			for (size_t j = 0; j < conf_provider_count(r->conf, api); j++) {
				const char *t = conf_provider_nth(r->conf, api, j)->provider_type;
				bool seen = false;
				size_t idx;
				json_t *v;

				json_array_foreach(types, idx, v)
					seen = seen || strcmp(json_string_value(v), t) == 0;
				if (!seen)
					json_array_append_new(types, json_string(t));
			}
		}
		row = json_pack("{s:s,s:s,s:o}", "route", rt[i].pattern, "method", method, "provider_types", types);
		if (row == NULL || json_array_append_new(data, row) != 0) {
			json_decref(data);
			free(filter);
			return SG_E_NOMEM;
		}
	}
	free(filter);
	r->reply = json_pack("{s:o}", "data", data);
	return r->reply ? SG_OK : SG_E_NOMEM;
}

/* ProviderInfo with its health; NULL when out of memory. */
static json_t *
provider_info(const struct sg_conf *c, const struct sg_provider *p)
{
	json_t *info = provider_info_json(p);

	if (info != NULL && json_object_set_new(info, "health", health_of(c, p)) != 0) {
		json_decref(info);
		info = NULL;
	}
	return info;
}

sg_status
inspect_providers_list(struct request *r)
{
	json_t *data = json_array();

	if (data == NULL)
		return SG_E_NOMEM;
	for (size_t i = 0; i < r->conf->nproviders; i++)
		if (json_array_append_new(data, provider_info(r->conf, &r->conf->providers[i])) != 0) {
			json_decref(data);
			return SG_E_NOMEM;
		}
	r->reply = json_pack("{s:o}", "data", data);
	return r->reply ? SG_OK : SG_E_NOMEM;
}

sg_status
inspect_provider_get(struct request *r)
{
	for (size_t i = 0; i < r->conf->nproviders; i++) {
		if (strcmp(r->conf->providers[i].provider_id, r->path_arg) == 0) {
			r->reply = provider_info(r->conf, &r->conf->providers[i]);
			return r->reply ? SG_OK : SG_E_NOMEM;
		}
	}
	return http_fail(r, SG_E_NOT_FOUND, "provider_id", "provider '%s' not found", r->path_arg);
}
