/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_config.c: what each process writes from its config, so SQL
 * inspection sees what the API serves: the providers table, and the access
 * policy in force in the table access_policy (sql/005_policy.sql) that
 * sg_can() and principal_visible_resources read.  Part of the registry
 * module (all SQL lives there); the policy itself is policy.c's.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "policy.h"
#include "registry_int.h"

/* x->vals: the rules, the admin roles (JSON texts), whether it is the default ("t"/"f"), the writer. */
static sg_status
tx_policy(PGconn *c, struct txn *x)
{
	static const char *const upsert =
		"INSERT INTO access_policy (rules, admin_roles, is_default, written_by) "
		"VALUES ($1::jsonb, sg_registry_text_array($2::jsonb), $3::boolean, $4) "
		"ON CONFLICT (singleton) DO UPDATE SET rules = EXCLUDED.rules, admin_roles = EXCLUDED.admin_roles, "
		"is_default = EXCLUDED.is_default, written_by = EXCLUDED.written_by, written_at = now()";
	const char *const stmts[] = {upsert, NULL};

	return registry_begin_exec(c, x, stmts, 4, (const char *const *) x->vals);
}

sg_status
registry_sync_policy(const struct sg_conf *conf, struct sg_err *err)
{
	json_t *rules = policy_to_json(conf->policy), *roles = json_array();
	char *vals[4] = {NULL, NULL, NULL, NULL}, host[256] = "", is_default[2] = "f";
	struct txn x = {.vals = vals, .err = err};
	sg_status st = SG_E_NOMEM;

	registry_ensure_init();
	for (size_t i = 0; roles != NULL && i < conf->admin_roles.n; i++)
		if (json_array_append_new(roles, json_string(conf->admin_roles.v[i])) != 0)
			goto out;
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	if (rules == NULL || roles == NULL || (vals[0] = json_dumps(rules, JSON_COMPACT)) == NULL ||
	    (vals[1] = json_dumps(roles, JSON_COMPACT)) == NULL ||
	    (vals[3] = sg_asprintf("%s pid %ld", host, (long) getpid())) == NULL)
		goto out;
	is_default[0] = conf->policy != NULL && conf->policy->is_default ? 't' : 'f';
	vals[2] = is_default;
	st = registry_run(tx_policy, &x);
out:
	free(vals[0]);
	free(vals[1]);
	free(vals[3]);
	json_decref(rules);
	json_decref(roles);
	return sg_err_nomem(err, st);
}

static sg_status
tx_providers(PGconn *c, struct txn *x)
{
	static const char *const del =
		"DELETE FROM providers AS p WHERE NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS "
		"x(api text, provider_id text) WHERE x.api = p.api AND x.provider_id = p.provider_id)";
	static const char *const ins =
		"INSERT INTO providers (api, provider_id, provider_type) SELECT DISTINCT ON (api, provider_id) "
		"api, provider_id, provider_type FROM jsonb_to_recordset($1::jsonb) AS "
		"x(api text, provider_id text, provider_type text) ON CONFLICT (api, provider_id) DO UPDATE "
		"SET provider_type = EXCLUDED.provider_type, updated_at = now() "
		"WHERE providers.provider_type IS DISTINCT FROM EXCLUDED.provider_type";
	const char *const stmts[] = {del, ins, NULL};

	return registry_begin_exec(c, x, stmts, 1, &x->id);
}

sg_status
registry_sync_providers(const struct sg_conf *conf, struct sg_err *err)
{
	json_t *a = json_array();
	struct txn x = {.err = err};
	char *text = NULL;
	sg_status st = SG_E_NOMEM;

	registry_ensure_init();
	for (size_t i = 0; a != NULL && i < conf->nproviders; i++) {
		const struct sg_provider *p = &conf->providers[i];

		if (json_array_append_new(a,
					  json_pack("{s:s?, s:s?, s:s?}", "api", conf_api_name(p->api), "provider_id",
						    p->provider_id, "provider_type", p->provider_type)) != 0)
			goto out;
	}
	if (a == NULL || (text = json_dumps(a, JSON_COMPACT)) == NULL)
		goto out;
	x.id = text;
	st = registry_run(tx_providers, &x);
out:
	free(text);
	json_decref(a);
	return sg_err_nomem(err, st);
}
