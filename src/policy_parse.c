/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_parse.c: the config's access_policy parsed into rules (every
 * problem reported with its path, for FILE:LINE:COL), and a policy written
 * back as JSON for `check-config --print-policy` and for the table the SQL
 * twin (sg_can, sql/005_policy.sql) reads.  Part of the policy module.
 */
#include "config.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "policy.h"
#include "policy_int.h"
#include "registry.h"

/* ---- parsing ---- */

struct parser {
	policy_report_fn report;
	void *ctx;
	bool bad, nomem;
};

static void report(struct parser *ps, const char *path, bool at_key, const json_t *got, const char *fmt, ...)
	SG_PRINTF(5, 6);

/* One problem: msg, and the value at fault (got, may be NULL) for the config to render. */
static void
report(struct parser *ps, const char *path, bool at_key, const json_t *got, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ps->bad = true;
	if (ps->report != NULL)
		ps->report(ps->ctx, path, at_key, msg, got);
}

/* Joins path and a key or index into a new string; sets nomem on failure. */
static char *
sub(struct parser *ps, const char *path, const char *key, long idx)
{
	char *s = key != NULL ? sg_asprintf("%s.%s", path, key) : sg_asprintf("%s[%ld]", path, idx);

	if (s == NULL)
		ps->nomem = true;
	return s;
}

static void
parse_actions(struct parser *ps, const json_t *v, const char *path, unsigned *out)
{
	const json_t *one = v;
	size_t i = 0, n = 1;

	*out = 0;
	if (json_is_array(v)) {
		n = json_array_size(v);
		if (n == 0)
			report(ps, path, false, NULL, "must list at least one action");
	} else if (!json_is_string(v)) {
		report(ps, path, false, v, "must be an action or a list of actions (create, read, update, delete)");
		return;
	}
	for (i = 0; i < n; i++) {
		int a;

		if (json_is_array(v))
			one = json_array_get(v, i);
		for (a = 0; a < SG_ACT_COUNT; a++)
			if (json_is_string(one) && strcmp(json_string_value(one), policy_action_name(a)) == 0)
				break;
		if (a < SG_ACT_COUNT) {
			*out |= 1u << a;
			continue;
		}
		if (json_is_array(v)) {
			char *p = sub(ps, path, NULL, (long) i);

			if (p != NULL)
				report(ps, p, false, one, "must be one of create, read, update, delete");
			free(p);
		} else {
			report(ps, path, false, one, "must be one of create, read, update, delete");
		}
	}
}

static void
parse_resource(struct parser *ps, const json_t *v, const char *path, struct policy_rule *r)
{
	const char *s = json_string_value(v), *sep = s != NULL ? strstr(s, "::") : NULL;
	enum sg_rtype t;
	char type[64];

	if (s != NULL && strncmp(s, "regex:", 6) == 0) {
		report(ps, path, false, v,
		       "regex: resources are not supported: use \"<type>::*\" or \"<type>::<identifier>\"");
		return;
	}
	if (sep == NULL || (size_t) (sep - s) >= sizeof(type) || sep[2] == '\0') {
		report(ps, path, false, v,
		       "must be \"<type>::*\" or \"<type>::<identifier>\" (type one of model, shield, vector_db, "
		       "dataset, scoring_function, benchmark, tool_group, tool)");
		return;
	}
	memcpy(type, s, (size_t) (sep - s));
	type[sep - s] = '\0';
	if (!registry_type_from_name(type, &t)) {
		report(ps, path, false, NULL,
		       "the resource type must be one of model, shield, vector_db, dataset, scoring_function, "
		       "benchmark, tool_group, tool, got \"%.64s\"",
		       type);
		return;
	}
	if ((r->rtype = sg_strdup(type)) == NULL ||
	    (strcmp(sep + 2, "*") != 0 && (r->identifier = sg_strdup(sep + 2)) == NULL))
		ps->nomem = true;
}

static void
parse_scope(struct parser *ps, const json_t *v, const char *path, struct policy_rule *r)
{
	static const char *const keys[] = {"principal", "actions", "resource"};
	const char *key;
	const json_t *e;
	bool have_actions = false;

	if (!json_is_object(v)) {
		report(ps, path, false, v,
		       "must be an object with \"actions\" and optional \"principal\" and \"resource\"");
		return;
	}
	json_object_foreach((json_t *) v, key, e) {
		char *p = sub(ps, path, key, 0);

		if (p == NULL)
			return;
		if (strcmp(key, "actions") == 0) {
			have_actions = true;
			parse_actions(ps, e, p, &r->actions);
		} else if (strcmp(key, "principal") == 0) {
			if (!json_is_string(e) || json_string_length(e) == 0)
				report(ps, p, false, e, "must be a non-empty string (a principal's name)");
			else if ((r->principal = sg_strdup(json_string_value(e))) == NULL)
				ps->nomem = true;
		} else if (strcmp(key, "resource") == 0) {
			parse_resource(ps, e, p, r);
		} else {
			report(ps, p, true, NULL, "unknown key \"%.64s\": expected one of %s, %s, %s", key, keys[0],
			       keys[1], keys[2]);
		}
		free(p);
	}
	if (!have_actions)
		report(ps, path, false, NULL, "must have \"actions\" (a list of create, read, update, delete)");
}

static void
parse_conds(struct parser *ps, const json_t *v, const char *path, struct policy_rule *r)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;

	if (!json_is_array(v) && !json_is_string(v)) {
		report(ps, path, false, v, "must be a condition or a list of conditions");
		return;
	}
	if (n == 0) {
		report(ps, path, false, NULL, "must list at least one condition");
		return;
	}
	if ((r->conds = sg_calloc(n, sizeof(*r->conds))) == NULL) {
		ps->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		char *p = json_is_array(v) ? sub(ps, path, NULL, (long) i) : sg_strdup(path);
		char why[768] = "";
		sg_status st;

		if (p == NULL) {
			ps->nomem = true;
			return;
		}
		if (!json_is_string(e)) {
			report(ps, p, false, e, "must be a condition (a string)");
		} else if ((st = policy_cond_parse(json_string_value(e), &r->conds[r->nconds], why, sizeof(why))) ==
			   SG_OK) {
			r->nconds++;
		} else if (st == SG_E_NOMEM) {
			ps->nomem = true;
		} else {
			report(ps, p, false, NULL, "%s", why);
		}
		free(p);
	}
}

static void
parse_rule(struct parser *ps, const json_t *v, const char *path, struct policy_rule *r)
{
	static const char *const keys[] = {"permit", "forbid", "when", "unless", "description"};
	const json_t *permit = json_object_get(v, "permit"), *forbid = json_object_get(v, "forbid");
	const json_t *when = json_object_get(v, "when"), *unless = json_object_get(v, "unless");
	const char *key;
	const json_t *e;

	if (!json_is_object(v)) {
		report(ps, path, false, v, "must be an object with \"permit\" or \"forbid\"");
		return;
	}
	json_object_foreach((json_t *) v, key, e) {
		size_t k;

		for (k = 0; k < SG_ARRAY_LEN(keys) && strcmp(key, keys[k]) != 0; k++)
			;
		if (k == SG_ARRAY_LEN(keys)) {
			char *p = sub(ps, path, key, 0);

			if (p != NULL)
				report(ps, p, true, NULL,
				       "unknown key \"%.64s\": expected one of permit, forbid, when, unless, description",
				       key);
			free(p);
		}
	}
	if ((permit == NULL) == (forbid == NULL)) {
		report(ps, path, false, NULL, "must have exactly one of \"permit\" and \"forbid\"");
		return;
	}
	if (when != NULL && unless != NULL) {
		report(ps, path, false, NULL, "may have \"when\" or \"unless\", not both");
		return;
	}
	r->forbid = forbid != NULL;
	r->unless = unless != NULL;
	{
		char *p = sub(ps, path, r->forbid ? "forbid" : "permit", 0);

		if (p != NULL)
			parse_scope(ps, r->forbid ? forbid : permit, p, r);
		free(p);
	}
	if (when != NULL || unless != NULL) {
		char *p = sub(ps, path, when != NULL ? "when" : "unless", 0);

		if (p != NULL)
			parse_conds(ps, when != NULL ? when : unless, p, r);
		free(p);
	}
	if ((e = json_object_get(v, "description")) != NULL) {
		char *p = sub(ps, path, "description", 0);

		if (p != NULL && !json_is_string(e))
			report(ps, p, false, e, "must be a string");
		else if (p != NULL && (r->description = sg_strdup(json_string_value(e))) == NULL)
			ps->nomem = true;
		free(p);
	}
}

sg_status
policy_parse(const json_t *v, const char *path, policy_report_fn report_fn, void *ctx, struct sg_policy **out)
{
	struct parser ps = {.report = report_fn, .ctx = ctx};
	struct sg_policy *p;
	const json_t *e;
	size_t i;

	*out = NULL;
	if (!json_is_array(v)) {
		report(&ps, path, false, v, "must be an array of rules");
		return SG_E_BAD_REQUEST;
	}
	if ((p = sg_calloc(1, sizeof(*p))) == NULL)
		return SG_E_NOMEM;
	json_array_foreach(v, i, e) {
		struct policy_rule *r = policy_rule_add(p);
		char *rp = sub(&ps, path, NULL, (long) i);

		if (r == NULL || rp == NULL) {
			free(rp);
			ps.nomem = true;
			break;
		}
		parse_rule(&ps, e, rp, r);
		free(rp);
		if (ps.nomem)
			break;
	}
	if (ps.nomem || ps.bad) {
		policy_free(p);
		return ps.nomem ? SG_E_NOMEM : SG_E_BAD_REQUEST;
	}
	*out = p;
	return SG_OK;
}

/* ---- JSON ---- */

static json_t *
rule_to_json(const struct policy_rule *r)
{
	json_t *o = json_object(), *scope = json_object(), *acts = json_array(), *conds = NULL;
	bool ok = o != NULL && scope != NULL && acts != NULL;

	if (ok && r->principal != NULL)
		ok = json_object_set_new(scope, "principal", json_string(r->principal)) == 0;
	for (int a = 0; ok && a < SG_ACT_COUNT; a++)
		if (r->actions & (1u << a))
			ok = json_array_append_new(acts, json_string(policy_action_name(a))) == 0;
	ok = ok && json_object_set(scope, "actions", acts) == 0;
	if (ok && r->rtype != NULL) {
		char *res = sg_asprintf("%s::%s", r->rtype, r->identifier != NULL ? r->identifier : "*");

		ok = res != NULL && json_object_set_new(scope, "resource", json_string(res)) == 0;
		free(res);
	}
	ok = ok && json_object_set(o, r->forbid ? "forbid" : "permit", scope) == 0;
	if (ok && r->nconds > 0) {
		ok = (conds = json_array()) != NULL && json_object_set(o, r->unless ? "unless" : "when", conds) == 0;
		for (size_t i = 0; ok && i < r->nconds; i++) {
			char *t = policy_cond_text(&r->conds[i]);

			ok = t != NULL && json_array_append_new(conds, json_string(t)) == 0;
			free(t);
		}
	}
	if (ok && r->description != NULL)
		ok = json_object_set_new(o, "description", json_string(r->description)) == 0;
	json_decref(scope);
	json_decref(acts);
	json_decref(conds);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
policy_to_json(const struct sg_policy *p)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && p != NULL && i < p->n; i++) {
		json_t *r = rule_to_json(&p->rules[i]);

		if (r == NULL || json_array_append_new(a, r) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
