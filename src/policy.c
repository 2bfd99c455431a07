/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c: access_policy rules: the condition grammar, the three-valued
 * evaluation (policy.h) and the default policy.  Parsing the config's rules
 * and writing them back as JSON are policy_parse.c's.
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
sg_status
policy_cond_parse(const char *text, struct policy_cond *c, char *why, size_t whylen)
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
char *
policy_cond_text(const struct policy_cond *c)
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
struct policy_rule *
policy_rule_add(struct sg_policy *p)
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
	if (policy_cond_parse(text, &v[r->nconds], why, sizeof(why)) != SG_OK)
		return false;
	r->nconds++;
	return true;
}

/* A default rule: actions, forbid, up to two conditions (NULL: none), description. */
static bool
default_rule(struct sg_policy *p, unsigned actions, bool forbid, const char *c1, const char *c2, const char *desc)
{
	struct policy_rule *r = policy_rule_add(p);

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
