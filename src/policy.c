/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c: access_policy rules, parsed from the config or made as the
 * default, evaluated in three values (policy.h), and written back as JSON
 * for `check-config --print-policy` and for the table the SQL twin
 * (sg_can, sql/005_policy.sql) reads.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "registry.h"

static const char *const action_names[SG_ACT_COUNT] = {"create", "read", "update", "delete"};

const char *
policy_action_name(enum sg_action a)
{
	return (unsigned) a < SG_ACT_COUNT ? action_names[a] : NULL;
}

/* ---- conditions: text ---- */

/*
 * The condition grammar, one pattern per kind: words, "$V" a value, "$A" an
 * attribute category.  Matched word by word, as Llama Stack's parse_condition
 * does on condition.split().
 */
static const char *const cond_patterns[PC_COUNT] = {
	[PC_WITH_IN] = "user with $V in $A",
	[PC_WITH_NOT_IN] = "user with $V not in $A",
	[PC_IS_OWNER] = "user is owner",
	[PC_IS_NOT_OWNER] = "user is not owner",
	[PC_IN_OWNERS] = "user in owners $A",
	[PC_NOT_IN_OWNERS] = "user not in owners $A",
	[PC_UNOWNED] = "resource is unowned",
	[PC_MEETS_ACL] = "user meets access_attributes",
	[PC_FROM_CONFIG] = "resource is from config",
	[PC_NOT_FROM_CONFIG] = "resource is not from config",
	[PC_ANONYMOUS] = "user is anonymous",
	[PC_NOT_ANONYMOUS] = "user is not anonymous",
};

#define MAX_WORDS 8

/* Splits buf in place at runs of blanks (as Python's split()); up to MAX_WORDS words in w; the count of all. */
static size_t
split_words(char *buf, char **w)
{
	size_t n = 0;
	char *p = buf;

	for (;;) {
		p += strspn(p, " \t\r\n");
		if (*p == '\0')
			return n;
		if (n < MAX_WORDS)
			w[n] = p;
		n++;
		p += strcspn(p, " \t\r\n");
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* Parses text into *c (c->value newly allocated).  SG_OK, SG_E_BAD_REQUEST (why set), SG_E_NOMEM. */
static sg_status
cond_parse(const char *text, struct policy_cond *c, char *why, size_t whylen)
{
	char *tbuf = sg_strdup(text), *pbuf = NULL, *tw[MAX_WORDS], *pw[MAX_WORDS];
	sg_status st = SG_E_BAD_REQUEST;
	size_t nt;

	memset(c, 0, sizeof(*c));
	if (tbuf == NULL)
		return SG_E_NOMEM;
	nt = split_words(tbuf, tw);
	for (int k = 0; k < PC_COUNT && st == SG_E_BAD_REQUEST; k++) {
		size_t np;
		const char *value = NULL, *cat = NULL;
		bool ok;

		free(pbuf);
		if ((pbuf = sg_strdup(cond_patterns[k])) == NULL) {
			st = SG_E_NOMEM;
			break;
		}
		np = split_words(pbuf, pw);
		ok = np == nt;
		for (size_t i = 0; ok && i < np; i++) {
			if (strcmp(pw[i], "$V") == 0)
				value = tw[i];
			else if (strcmp(pw[i], "$A") == 0)
				cat = tw[i];
			else
				ok = strcmp(pw[i], tw[i]) == 0;
		}
		if (!ok)
			continue;
		if (cat != NULL && !acl_category_from_name(cat, &c->cat)) {
			snprintf(
				why, whylen,
				"the attribute of condition \"%.100s\" must be one of roles, teams, projects, namespaces, "
				"got \"%.64s\"",
				text, cat);
			break;
		}
		c->kind = (enum policy_cond_kind) k;
		st = SG_OK;
		if (value != NULL && (c->value = sg_strdup(value)) == NULL)
			st = SG_E_NOMEM;
	}
	if (st == SG_E_BAD_REQUEST && why[0] == '\0')
		snprintf(
			why, whylen,
			"unknown condition \"%.100s\": expected one of \"user with <value> in <attribute>\", \"user with "
			"<value> not in <attribute>\", \"user is owner\", \"user is not owner\", \"user in owners "
			"<attribute>\", \"user not in owners <attribute>\", \"resource is unowned\", \"user meets "
			"access_attributes\", \"resource is [not] from config\", \"user is [not] anonymous\"",
			text);
	free(tbuf);
	free(pbuf);
	return st;
}

/* The condition as text, in the grammar's words.  New string; NULL when out of memory. */
static char *
cond_text(const struct policy_cond *c)
{
	const char *pat = cond_patterns[c->kind];
	const char *v = strstr(pat, "$V"), *a = strstr(pat, "$A");

	if (v != NULL && a != NULL)
		return sg_asprintf("%.*s%s%.*s%s", (int) (v - pat), pat, c->value, (int) (a - v - 2), v + 2,
				   acl_category_name(c->cat));
	if (a != NULL)
		return sg_asprintf("%.*s%s", (int) (a - pat), pat, acl_category_name(c->cat));
	return sg_strdup(pat);
}

/* ---- evaluation ---- */

enum tv { TV_FALSE, TV_TRUE, TV_UNKNOWN };

static enum tv
tv_of(bool b)
{
	return b ? TV_TRUE : TV_FALSE;
}

static enum tv
tv_not(enum tv v)
{
	return v == TV_UNKNOWN ? v : tv_of(v == TV_FALSE);
}

static bool
caller_has(const struct policy_caller *u, enum sg_attr_cat c, const char *value)
{
	return u->attrs != NULL && u->attrs->set[c] && sg_strv_contains(&u->attrs->cat[c], value);
}

static enum tv
cond_eval(const struct policy_cond *c, const struct policy_caller *u, const struct policy_object *o)
{
	const struct sg_attrs *oa = o->attrs;

	switch (c->kind) {
	case PC_WITH_IN:
		return tv_of(caller_has(u, c->cat, c->value));
	case PC_WITH_NOT_IN:
		return tv_of(!caller_has(u, c->cat, c->value));
	case PC_IS_OWNER:
	case PC_IS_NOT_OWNER: {
		enum tv is;

		if (!o->owner_known || o->owner == NULL)
			return TV_UNKNOWN;
		is = tv_of(u->principal != NULL && strcmp(u->principal, o->owner) == 0);
		return c->kind == PC_IS_OWNER ? is : tv_not(is);
	}
	case PC_IN_OWNERS:
	case PC_NOT_IN_OWNERS: {
		enum tv in = TV_FALSE;

		if (oa == NULL || !oa->present || !oa->set[c->cat] || oa->cat[c->cat].n == 0)
			return TV_UNKNOWN;
		for (size_t i = 0; i < oa->cat[c->cat].n && in == TV_FALSE; i++)
			in = tv_of(caller_has(u, c->cat, oa->cat[c->cat].v[i]));
		return c->kind == PC_IN_OWNERS ? in : tv_not(in);
	}
	case PC_UNOWNED:
		return o->owner_known ? tv_of(o->owner == NULL) : TV_UNKNOWN;
	case PC_MEETS_ACL:
		return tv_of(acl_check(oa, u->attrs));
	case PC_FROM_CONFIG:
		return o->origin_known ? tv_of(o->from_config) : TV_UNKNOWN;
	case PC_NOT_FROM_CONFIG:
		return o->origin_known ? tv_of(!o->from_config) : TV_UNKNOWN;
	case PC_ANONYMOUS:
		return tv_of(u->principal == NULL);
	case PC_NOT_ANONYMOUS:
		return tv_of(u->principal != NULL);
	case PC_COUNT:
		break;
	}
	return TV_UNKNOWN;
}

/* Kleene AND of the rule's conditions: false wins, then unknown. */
static enum tv
conds_eval(const struct policy_rule *r, const struct policy_caller *u, const struct policy_object *o)
{
	enum tv all = TV_TRUE;

	for (size_t i = 0; i < r->nconds; i++) {
		enum tv v = cond_eval(&r->conds[i], u, o);

		if (v == TV_FALSE)
			return TV_FALSE;
		if (v == TV_UNKNOWN)
			all = TV_UNKNOWN;
	}
	return all;
}

static bool
scope_matches(const struct policy_rule *r, const struct policy_caller *u, enum sg_action a,
	      const struct policy_object *o)
{
	if (!(r->actions & (1u << a)))
		return false;
	if (r->principal != NULL && (u->principal == NULL || strcmp(r->principal, u->principal) != 0))
		return false;
	if (r->rtype != NULL && (o->type == NULL || strcmp(r->rtype, o->type) != 0))
		return false;
	if (r->identifier != NULL && (o->identifier == NULL || strcmp(r->identifier, o->identifier) != 0))
		return false;
	return true;
}

enum policy_verdict
policy_decide(const struct sg_policy *p, const struct policy_caller *caller, enum sg_action action,
	      const struct policy_object *obj, size_t *rule)
{
	static const struct policy_caller nobody = {NULL, NULL};

	if (rule != NULL)
		*rule = SIZE_MAX;
	if (caller == NULL)
		caller = &nobody;
	for (size_t i = 0; p != NULL && obj != NULL && i < p->n; i++) {
		const struct policy_rule *r = &p->rules[i];
		enum tv applies;

		if (!scope_matches(r, caller, action, obj))
			continue;
		applies = conds_eval(r, caller, obj);
		if (r->unless)
			applies = tv_not(applies);
		if (applies == TV_FALSE)
			continue;
		if (rule != NULL)
			*rule = i;
		if (applies == TV_UNKNOWN)
			return POLICY_UNDECIDED;
		return r->forbid ? POLICY_FORBID : POLICY_PERMIT;
	}
	return POLICY_NO_MATCH;
}

bool
policy_allows(const struct sg_policy *p, const struct policy_caller *caller, enum sg_action action,
	      const struct policy_object *obj)
{
	return policy_decide(p, caller, action, obj, NULL) == POLICY_PERMIT;
}

/* ---- building ---- */

static void
rule_free(struct policy_rule *r)
{
	free(r->principal);
	free(r->rtype);
	free(r->identifier);
	free(r->description);
	for (size_t i = 0; i < r->nconds; i++)
		free(r->conds[i].value);
	free(r->conds);
	memset(r, 0, sizeof(*r));
}

void
policy_free(struct sg_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	free(p);
}

/* A new rule at the end of p (zeroed); NULL when out of memory. */
static struct policy_rule *
rule_add(struct sg_policy *p)
{
	struct policy_rule *v = sg_realloc(p->rules, (p->n + 1) * sizeof(*v));

	if (v == NULL)
		return NULL;
	p->rules = v;
	memset(&v[p->n], 0, sizeof(v[p->n]));
	return &v[p->n++];
}

/* Appends the condition text to r; false when out of memory (a text that does not parse is a bug here). */
static bool
cond_add(struct policy_rule *r, const char *text)
{
	struct policy_cond *v = sg_realloc(r->conds, (r->nconds + 1) * sizeof(*v));
	char why[512] = "";

	if (v == NULL)
		return false;
	r->conds = v;
	if (cond_parse(text, &v[r->nconds], why, sizeof(why)) != SG_OK)
		return false;
	r->nconds++;
	return true;
}

/* A default rule: actions, forbid, up to two conditions (NULL: none), description. */
static bool
default_rule(struct sg_policy *p, unsigned actions, bool forbid, const char *c1, const char *c2, const char *desc)
{
	struct policy_rule *r = rule_add(p);

	if (r == NULL)
		return false;
	r->actions = actions;
	r->forbid = forbid;
	if ((c1 != NULL && !cond_add(r, c1)) || (c2 != NULL && !cond_add(r, c2)))
		return false;
	return (r->description = sg_strdup(desc)) != NULL;
}

#define ACT(a) (1u << (a))

struct sg_policy *
policy_default(const struct sg_strv *admin_roles)
{
	struct sg_policy *p = sg_calloc(1, sizeof(*p));
	bool ok = p != NULL;

	if (!ok)
		return NULL;
	p->is_default = true;
	for (size_t i = 0; ok && admin_roles != NULL && i < admin_roles->n; i++) {
		char *c = sg_asprintf("user with %s in roles", admin_roles->v[i]);

		ok = c != NULL && default_rule(p, ACT(SG_ACT_READ), false, c, NULL, "admins read every object") &&
		     default_rule(p, ACT(SG_ACT_DELETE), false, c, "user is not anonymous",
				  "admins with a principal unregister every object");
		free(c);
	}
	ok = ok &&
	     default_rule(p, ACT(SG_ACT_READ), false, "user meets access_attributes", NULL,
			  "everyone reads what the object's access_attributes admit (the seed's check_access)") &&
	     default_rule(p, ACT(SG_ACT_CREATE), false, NULL, NULL,
			  "everyone registers (giving only access_attributes of their own, outside the policy)") &&
	     default_rule(p, ACT(SG_ACT_DELETE), true, "resource is from config", NULL,
			  "only admins unregister objects from the config") &&
	     default_rule(p, ACT(SG_ACT_DELETE), false, "user is anonymous", "resource is unowned",
			  "anonymous callers unregister unowned objects") &&
	     default_rule(p, ACT(SG_ACT_DELETE), false, "user is owner", NULL, "owners unregister their objects");
	if (!ok) {
		policy_free(p);
		return NULL;
	}
	return p;
}

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
			if (json_is_string(one) && strcmp(json_string_value(one), action_names[a]) == 0)
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
		} else if ((st = cond_parse(json_string_value(e), &r->conds[r->nconds], why, sizeof(why))) == SG_OK) {
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
		struct policy_rule *r = rule_add(p);
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
			ok = json_array_append_new(acts, json_string(action_names[a])) == 0;
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
			char *t = cond_text(&r->conds[i]);

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
