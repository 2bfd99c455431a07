/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_policy.c: the access policy evaluator, table-driven.
 *   - every condition, as "permit read when C", "forbid read when C" and
 *     "permit read unless C", on fixtures that make it true, false and
 *     undecidable (an unowned object, a caller without attributes, an owner
 *     the evaluator was not told);
 *   - scopes (actions, principal, type::*, type::id), rule order, no match,
 *     Kleene's AND over a rule's conditions;
 *   - the issue's example policy;
 *   - the default policy against today's rules written out in C (acl_check
 *     for reading, the unregister rule of resources_may_unregister);
 *   - parse errors with their paths, and policy_to_json → policy_parse
 *     giving the same rules;
 *   - "sql_agreement": policies × callers × objects × actions × types
 *     through policy_decide and through sg_policy_decide() in PostgreSQL,
 *     the same verdict every time.  It exists only when SG_TEST_DATABASE_URL
 *     names a database with the migrations applied;
 *     tests/integration/42_policy.sh runs it that way.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "acl.h"
#include "json.h"
#include "policy.h"
#include "suites.h"

/* ---- fixtures ---- */

struct fx_obj {
	const char *name;
	const char *acl; /* JSON access_attributes, NULL: no ACL */
	const char *owner;
	bool owner_known, from_config;
};

static const struct fx_obj objs[] = {
	/* 0 */ {"public unowned", NULL, NULL, true, false},
	/* 1 */ {"alice's team-a model", "{\"teams\":[\"a\"]}", "alice", true, false},
	/* 2 */ {"config model, roles [admin]", "{\"roles\":[\"admin\"]}", NULL, true, true},
	/* 3 */ {"alice's, owner not told", "{\"teams\":[\"a\"]}", "alice", false, false},
	/* 4 */ {"bob's all-null ACL", "{}", "bob", true, false},
	/* 5 */ {"alice's teams []", "{\"teams\":[]}", "alice", true, false},
	/* 6 */ {"anonymous-registered public", NULL, NULL, true, false},
};

struct fx_caller {
	const char *name;
	const char *principal;
	const char *attrs; /* JSON, NULL: none */
};

static const struct fx_caller callers[] = {
	/* 0 */ {"anonymous", NULL, NULL},
	/* 1 */ {"alice (team a)", "alice", "{\"teams\":[\"a\"]}"},
	/* 2 */ {"bob (team b, role admin)", "bob", "{\"teams\":[\"b\"],\"roles\":[\"admin\"]}"},
	/* 3 */ {"carol without attributes", "carol", NULL},
	/* 4 */ {"dave (team a, role user)", "dave", "{\"teams\":[\"a\"],\"roles\":[\"user\"]}"},
	/* 5 */ {"anonymous with role admin", NULL, "{\"roles\":[\"admin\"]}"},
};

#define NOBJ SG_ARRAY_LEN(objs)
#define NCALLER SG_ARRAY_LEN(callers)

static struct sg_attrs obj_attrs[NOBJ], caller_attrs[NCALLER];

static void
load_attrs(const char *text, struct sg_attrs *out)
{
	json_error_t je;
	json_t *j = text ? json_loads(text, 0, &je) : NULL;

	ck_assert(text == NULL || j != NULL);
	ck_assert_int_eq(acl_attrs_from_json(j, out, NULL, 0), SG_OK);
	json_decref(j);
}

static void
fixtures_setup(void)
{
	for (size_t i = 0; i < NOBJ; i++)
		load_attrs(objs[i].acl, &obj_attrs[i]);
	for (size_t i = 0; i < NCALLER; i++)
		load_attrs(callers[i].attrs, &caller_attrs[i]);
}

static void
fixtures_teardown(void)
{
	for (size_t i = 0; i < NOBJ; i++)
		acl_attrs_free(&obj_attrs[i]);
	for (size_t i = 0; i < NCALLER; i++)
		acl_attrs_free(&caller_attrs[i]);
}

static struct policy_object
obj_at(size_t i, const char *type, const char *identifier)
{
	return (struct policy_object){.type = type,
				      .identifier = identifier,
				      .attrs = &obj_attrs[i],
				      .owner = objs[i].owner,
				      .owner_known = objs[i].owner_known,
				      .from_config = objs[i].from_config,
				      .origin_known = objs[i].owner_known};
}

static struct policy_caller
caller_at(size_t i)
{
	return (struct policy_caller){.principal = callers[i].principal, .attrs = &caller_attrs[i]};
}

/* Parses a policy from JSON text; fails the test on any problem. */
static void
problem_fail(void *ctx, const char *path, bool at_key, const char *msg, const json_t *got)
{
	(void) ctx;
	(void) at_key;
	(void) got;
	ck_abort_msg("unexpected problem at %s: %s", path, msg);
}

static struct sg_policy *
policy_of(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	struct sg_policy *p = NULL;

	ck_assert_msg(j != NULL, "bad test JSON: %s", je.text);
	ck_assert_int_eq(policy_parse(j, "access_policy", problem_fail, NULL, &p), SG_OK);
	json_decref(j);
	return p;
}

/* ---- every condition ---- */

/* T true, F false, U unknown (undecidable). */
struct cond_case {
	const char *cond;
	size_t obj, caller;
	char want;
};

static const struct cond_case conds[] = {
	/* user with V in A: the caller's own attributes are always known */
	{"user with a in teams", 1, 1, 'T'},
	{"user with a in teams", 1, 2, 'F'},
	{"user with a in teams", 0, 0, 'F'}, /* caller without attributes */
	{"user with a in teams", 0, 3, 'F'},
	{"user with admin in roles", 0, 5, 'T'},
	{"user with a not in teams", 1, 1, 'F'},
	{"user with a not in teams", 1, 2, 'T'},
	{"user with a not in teams", 0, 0, 'T'},
	{"user with a not in teams", 0, 3, 'T'},
	/* user is (not) owner: undecidable for an unowned object or an owner not told */
	{"user is owner", 1, 1, 'T'},
	{"user is owner", 1, 2, 'F'},
	{"user is owner", 1, 0, 'F'}, /* anonymous is not alice */
	{"user is owner", 0, 1, 'U'}, /* unowned */
	{"user is owner", 0, 0, 'U'},
	{"user is owner", 3, 1, 'U'}, /* owner not told */
	{"user is not owner", 1, 1, 'F'},
	{"user is not owner", 1, 2, 'T'},
	{"user is not owner", 1, 0, 'T'},
	{"user is not owner", 0, 1, 'U'},
	{"user is not owner", 3, 2, 'U'},
	/* user (not) in owners A: undecidable when the object lists no A value */
	{"user in owners teams", 1, 1, 'T'},
	{"user in owners teams", 1, 2, 'F'},
	{"user in owners teams", 1, 3, 'F'}, /* caller without attributes, object with teams */
	{"user in owners teams", 1, 0, 'F'},
	{"user in owners teams", 0, 1, 'U'}, /* no ACL */
	{"user in owners teams", 4, 1, 'U'}, /* ACL without teams */
	{"user in owners teams", 5, 1, 'U'}, /* teams [] */
	{"user in owners roles", 1, 1, 'U'}, /* ACL without roles */
	{"user in owners roles", 2, 2, 'T'},
	{"user in owners roles", 2, 5, 'T'},
	{"user not in owners teams", 1, 1, 'F'},
	{"user not in owners teams", 1, 2, 'T'},
	{"user not in owners teams", 1, 3, 'T'},
	{"user not in owners teams", 0, 1, 'U'},
	{"user not in owners teams", 0, 0, 'U'},
	{"user not in owners teams", 5, 2, 'U'},
	/* resource is unowned */
	{"resource is unowned", 0, 1, 'T'},
	{"resource is unowned", 0, 0, 'T'},
	{"resource is unowned", 2, 2, 'T'}, /* the config's objects have no owner */
	{"resource is unowned", 1, 1, 'F'},
	{"resource is unowned", 3, 1, 'U'},
	/* user meets access_attributes: the seed's check_access */
	{"user meets access_attributes", 0, 0, 'T'},
	{"user meets access_attributes", 1, 1, 'T'},
	{"user meets access_attributes", 1, 4, 'T'},
	{"user meets access_attributes", 1, 2, 'F'},
	{"user meets access_attributes", 1, 0, 'F'},
	{"user meets access_attributes", 4, 1, 'T'}, /* all-null ACL: callers with attributes */
	{"user meets access_attributes", 4, 3, 'F'}, /* …not those without */
	{"user meets access_attributes", 5, 1, 'F'}, /* [] admits nobody */
	{"user meets access_attributes", 3, 1, 'T'}, /* needs no owner */
	/* origin */
	{"resource is from config", 2, 0, 'T'},
	{"resource is from config", 1, 0, 'F'},
	{"resource is from config", 3, 0, 'U'},
	{"resource is not from config", 2, 0, 'F'},
	{"resource is not from config", 1, 0, 'T'},
	{"resource is not from config", 3, 0, 'U'},
	/* anonymity */
	{"user is anonymous", 0, 0, 'T'},
	{"user is anonymous", 0, 5, 'T'},
	{"user is anonymous", 0, 3, 'F'},
	{"user is not anonymous", 0, 0, 'F'},
	{"user is not anonymous", 0, 3, 'T'},
	/* blanks between words do not matter, as with Python's split() */
	{"  user   is\\towner ", 1, 1, 'T'},
};

START_TEST(test_condition)
{
	const struct cond_case *c = &conds[_i];
	struct policy_object o = obj_at(c->obj, "model", "m");
	struct policy_caller u = caller_at(c->caller);
	static const char *const shapes[] = {
		"[{\"permit\":{\"actions\":[\"read\"]},\"when\":\"%s\"}]",
		"[{\"forbid\":{\"actions\":[\"read\"]},\"when\":[\"%s\"]}]",
		"[{\"permit\":{\"actions\":[\"read\"]},\"unless\":\"%s\"}]",
	};
	/* Per shape, the verdict for T, F, U. */
	static const enum policy_verdict want[3][3] = {
		{POLICY_PERMIT, POLICY_NO_MATCH, POLICY_UNDECIDED},
		{POLICY_FORBID, POLICY_NO_MATCH, POLICY_UNDECIDED},
		{POLICY_NO_MATCH, POLICY_PERMIT, POLICY_UNDECIDED},
	};
	int col = c->want == 'T' ? 0 : c->want == 'F' ? 1 : 2;

	for (size_t s = 0; s < SG_ARRAY_LEN(shapes); s++) {
		char text[512];
		struct sg_policy *p;
		enum policy_verdict v;
		size_t rule;

		snprintf(text, sizeof(text), shapes[s], c->cond);
		p = policy_of(text);
		v = policy_decide(p, &u, SG_ACT_READ, &o, &rule);
		ck_assert_msg(v == want[s][col], "%s on %s by %s (shape %zu): verdict %d, want %d", c->cond,
			      objs[c->obj].name, callers[c->caller].name, s, (int) v, (int) want[s][col]);
		ck_assert(v == POLICY_NO_MATCH ? rule == SIZE_MAX : rule == 0);
		ck_assert(policy_allows(p, &u, SG_ACT_READ, &o) == (v == POLICY_PERMIT));
		/* Another action is out of the rule's scope. */
		ck_assert_int_eq(policy_decide(p, &u, SG_ACT_CREATE, &o, NULL), POLICY_NO_MATCH);
		policy_free(p);
	}
}
END_TEST

/* ---- scopes, order, AND ---- */

struct scope_case {
	const char *name;
	const char *policy;
	size_t obj, caller;
	enum sg_action action;
	const char *type, *identifier;
	enum policy_verdict want;
	size_t rule;
};

#define R_ALL "{\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]}}"

static const struct scope_case scopes[] = {
	{"an empty policy denies", "[]", 1, 1, SG_ACT_READ, "model", "m", POLICY_NO_MATCH, SIZE_MAX},
	{"a rule without conditions permits", "[" R_ALL "]", 1, 1, SG_ACT_UPDATE, "model", "m", POLICY_PERMIT, 0},
	{"actions as one string", "[{\"permit\":{\"actions\":\"delete\"}}]", 1, 1, SG_ACT_DELETE, "model", "m",
	 POLICY_PERMIT, 0},
	{"an action not listed", "[{\"permit\":{\"actions\":[\"read\"]}}]", 1, 1, SG_ACT_DELETE, "model", "m",
	 POLICY_NO_MATCH, SIZE_MAX},
	{"the principal matches", "[{\"permit\":{\"principal\":\"alice\",\"actions\":[\"read\"]}}]", 1, 1, SG_ACT_READ,
	 "model", "m", POLICY_PERMIT, 0},
	{"another principal", "[{\"permit\":{\"principal\":\"alice\",\"actions\":[\"read\"]}}]", 1, 2, SG_ACT_READ,
	 "model", "m", POLICY_NO_MATCH, SIZE_MAX},
	{"a named principal never matches anonymous", "[{\"permit\":{\"principal\":\"alice\",\"actions\":[\"read\"]}}]",
	 0, 0, SG_ACT_READ, "model", "m", POLICY_NO_MATCH, SIZE_MAX},
	{"type::* matches the type", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::*\"}}]", 1, 1,
	 SG_ACT_READ, "model", "m", POLICY_PERMIT, 0},
	{"type::* not another type", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::*\"}}]", 1, 1,
	 SG_ACT_READ, "shield", "m", POLICY_NO_MATCH, SIZE_MAX},
	{"type::id matches that id", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::m\"}}]", 1, 1,
	 SG_ACT_READ, "model", "m", POLICY_PERMIT, 0},
	{"type::id not another id", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::m\"}}]", 1, 1,
	 SG_ACT_READ, "model", "m2", POLICY_NO_MATCH, SIZE_MAX},
	{"an identifier with ::", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"tool_group::builtin::rag\"}}]",
	 1, 1, SG_ACT_READ, "tool_group", "builtin::rag", POLICY_PERMIT, 0},
	{"model::m is not a prefix of model::mm", "[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::m\"}}]",
	 1, 1, SG_ACT_READ, "model", "mm", POLICY_NO_MATCH, SIZE_MAX},
	{"the first matching rule decides (forbid first)", "[{\"forbid\":{\"actions\":[\"read\"]}}," R_ALL "]", 1, 1,
	 SG_ACT_READ, "model", "m", POLICY_FORBID, 0},
	{"the first matching rule decides (permit first)", "[" R_ALL ",{\"forbid\":{\"actions\":[\"read\"]}}]", 1, 1,
	 SG_ACT_READ, "model", "m", POLICY_PERMIT, 0},
	{"a rule whose condition is false is skipped",
	 "[{\"forbid\":{\"actions\":[\"read\"]},\"when\":\"user with b in teams\"}," R_ALL "]", 1, 1, SG_ACT_READ,
	 "model", "m", POLICY_PERMIT, 1},
	{"an undecidable forbid stops at deny",
	 "[{\"forbid\":{\"actions\":[\"read\"]},\"when\":\"user not in owners roles\"}," R_ALL "]", 1, 1, SG_ACT_READ,
	 "model", "m", POLICY_UNDECIDED, 0},
	{"an undecidable permit stops at deny, later permits unread",
	 "[{\"permit\":{\"actions\":[\"read\"]},\"when\":\"user is owner\"}," R_ALL "]", 0, 1, SG_ACT_READ, "model",
	 "m", POLICY_UNDECIDED, 0},
	{"all conditions must hold",
	 "[{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user with a in teams\",\"user with "
	 "user in roles\"]}]",
	 1, 1, SG_ACT_READ, "model", "m", POLICY_NO_MATCH, SIZE_MAX},
	{"all conditions hold",
	 "[{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user with a in teams\",\"user with "
	 "user in roles\"]}]",
	 1, 4, SG_ACT_READ, "model", "m", POLICY_PERMIT, 0},
	{"false and unknown is false (the rule is skipped)",
	 "[{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user is owner\",\"user with z in teams\"]}," R_ALL "]", 0,
	 1, SG_ACT_READ, "model", "m", POLICY_PERMIT, 1},
	{"true and unknown is unknown",
	 "[{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user with a in teams\",\"user is owner\"]}]", 0, 1,
	 SG_ACT_READ, "model", "m", POLICY_UNDECIDED, 0},
	{"unless with an undecidable list is deny",
	 "[{\"forbid\":{\"actions\":[\"read\"]},\"unless\":[\"user is owner\"]}," R_ALL "]", 0, 1, SG_ACT_READ, "model",
	 "m", POLICY_UNDECIDED, 0},
	{"unless: the condition holds, the forbid is skipped",
	 "[{\"forbid\":{\"actions\":[\"read\"]},\"unless\":\"user is owner\"}," R_ALL "]", 1, 1, SG_ACT_READ, "model",
	 "m", POLICY_PERMIT, 1},
	{"a scope that does not match skips even an undecidable rule",
	 "[{\"forbid\":{\"actions\":[\"read\"],\"resource\":\"shield::*\"},\"when\":\"user is owner\"}," R_ALL "]", 0,
	 1, SG_ACT_READ, "model", "m", POLICY_PERMIT, 1},
};

START_TEST(test_scope)
{
	const struct scope_case *c = &scopes[_i];
	struct sg_policy *p = policy_of(c->policy);
	struct policy_object o = obj_at(c->obj, c->type, c->identifier);
	struct policy_caller u = caller_at(c->caller);
	size_t rule;
	enum policy_verdict v = policy_decide(p, &u, c->action, &o, &rule);

	ck_assert_msg(v == c->want, "%s: verdict %d, want %d", c->name, (int) v, (int) c->want);
	ck_assert_msg(rule == c->rule, "%s: rule %zu, want %zu", c->name, rule, c->rule);
	policy_free(p);
}
END_TEST

/* ---- the issue's example ---- */

static const char issue_policy[] =
	"[{\"permit\":{\"actions\":[\"read\"]},\"description\":\"everyone reads\"},"
	" {\"forbid\":{\"actions\":[\"create\",\"delete\"],\"resource\":\"model::*\"},"
	"  \"unless\":\"user with admin in roles\",\"description\":\"only admins manage models\"},"
	" {\"permit\":{\"actions\":[\"create\",\"read\",\"delete\"]},\"when\":\"user is owner\"},"
	" {\"permit\":{\"principal\":\"ci-bot\",\"actions\":[\"create\"],\"resource\":\"benchmark::*\"}}]";

START_TEST(test_issue_example)
{
	struct sg_policy *p = policy_of(issue_policy);
	struct sg_attrs none = {0};
	/* A new object is owned by its creator (Llama Stack sets owner before the create check). */
	struct policy_object alice_new_model = {"model", "m", &none, "alice", true, false, true};
	struct policy_object bob_new_model = {"model", "m", &none, "bob", true, false, true};
	struct policy_object alice_vdb = {"vector_db", "v", &obj_attrs[1], "alice", true, false, true};
	struct policy_object ci_bench = {"benchmark", "b", &none, "ci-bot", true, false, true};
	struct policy_object unowned_vdb = {"vector_db", "v", &none, NULL, true, false, true};
	struct policy_caller alice = caller_at(1), bob = caller_at(2), anon = caller_at(0), ci = {"ci-bot", &none};
	struct policy_object cfg = obj_at(2, "model", "x"), alice_m = obj_at(1, "model", "x");

	ck_assert(policy_allows(p, &alice, SG_ACT_READ, &cfg));
	ck_assert(policy_allows(p, &anon, SG_ACT_READ, &alice_m));
	ck_assert_int_eq(policy_decide(p, &alice, SG_ACT_CREATE, &alice_new_model, NULL), POLICY_FORBID);
	ck_assert_int_eq(policy_decide(p, &bob, SG_ACT_CREATE, &bob_new_model, NULL), POLICY_PERMIT); /* admin, owner */
	ck_assert(policy_allows(p, &alice, SG_ACT_DELETE, &alice_vdb));
	ck_assert(!policy_allows(p, &bob, SG_ACT_DELETE, &alice_vdb));
	ck_assert(policy_allows(p, &ci, SG_ACT_CREATE, &ci_bench));
	ck_assert_int_eq(policy_decide(p, &bob, SG_ACT_DELETE, &unowned_vdb, NULL), POLICY_UNDECIDED);
	ck_assert(!policy_allows(p, &bob, SG_ACT_UPDATE, &alice_vdb)); /* nobody updates */
	policy_free(p);
}
END_TEST

/* ---- the default policy is today's behaviour ---- */

/* Today's unregister rule (resources_may_unregister), for a caller who can read the object. */
static bool
today_may_delete(const struct fx_caller *c, bool admin, const struct fx_obj *o)
{
	if (c->principal != NULL && admin)
		return true;
	if (o->from_config)
		return false;
	return c->principal != NULL ? o->owner != NULL && strcmp(o->owner, c->principal) == 0 : o->owner == NULL;
}

START_TEST(test_default_is_today)
{
	struct sg_strv roles = {0};
	struct sg_policy *p;

	ck_assert(sg_strv_push(&roles, "admin"));
	ck_assert(sg_strv_push(&roles, "ops"));
	p = policy_default(&roles);
	ck_assert_ptr_nonnull(p);
	ck_assert(p->is_default);
	for (size_t ci = 0; ci < NCALLER; ci++) {
		struct policy_caller u = caller_at(ci);
		bool admin = false;

		for (size_t r = 0; caller_attrs[ci].set[SG_ROLES] && r < caller_attrs[ci].cat[SG_ROLES].n; r++)
			admin = admin || sg_strv_contains(&roles, caller_attrs[ci].cat[SG_ROLES].v[r]);
		for (size_t oi = 0; oi < NOBJ; oi++) {
			struct policy_object o = obj_at(oi, "model", "m");
			bool read = admin || acl_check(&obj_attrs[oi], &caller_attrs[ci]);

			if (!objs[oi].owner_known)
				continue; /* the routes always know the owner */
			ck_assert_msg(policy_allows(p, &u, SG_ACT_READ, &o) == read, "read %s by %s", objs[oi].name,
				      callers[ci].name);
			ck_assert_msg(!read || policy_allows(p, &u, SG_ACT_DELETE, &o) ==
						       today_may_delete(&callers[ci], admin, &objs[oi]),
				      "delete %s by %s", objs[oi].name, callers[ci].name);
			ck_assert_msg(policy_allows(p, &u, SG_ACT_CREATE, &o), "create by %s", callers[ci].name);
			ck_assert_msg(!policy_allows(p, &u, SG_ACT_UPDATE, &o), "update by %s", callers[ci].name);
		}
	}
	/* A second admin role is an admin too; with no admin roles nobody is. */
	{
		struct sg_attrs ops = {0};
		struct policy_caller u = {"olga", &ops};
		struct policy_object o = obj_at(1, "model", "m");
		struct sg_policy *none = policy_default(NULL);
		struct policy_caller bob = caller_at(2);

		load_attrs("{\"roles\":[\"ops\"]}", &ops);
		ck_assert(policy_allows(p, &u, SG_ACT_READ, &o));
		ck_assert(policy_allows(p, &u, SG_ACT_DELETE, &o));
		ck_assert(!policy_allows(none, &bob, SG_ACT_READ, &o));
		policy_free(none);
		acl_attrs_free(&ops);
	}
	sg_strv_free(&roles);
	policy_free(p);
}
END_TEST

/* ---- parse errors ---- */

struct bad_case {
	const char *policy;
	const char *path;
	bool at_key;
	const char *msg; /* a part of the message */
};

static const struct bad_case bad[] = {
	{"{}", "access_policy", false, "must be an array of rules, got an object"},
	{"[1]", "access_policy[0]", false, "must be an object with \"permit\" or \"forbid\", got 1"},
	{"[{}]", "access_policy[0]", false, "must have exactly one of \"permit\" and \"forbid\""},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"forbid\":{\"actions\":[\"read\"]}}]", "access_policy[0]", false,
	 "must have exactly one of"},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"when\":\"user is owner\",\"unless\":\"user is owner\"}]",
	 "access_policy[0]", false, "may have \"when\" or \"unless\", not both"},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"comment\":\"x\"}]", "access_policy[0].comment", true,
	 "unknown key \"comment\": expected one of permit, forbid, when, unless, description"},
	{"[{\"permit\":[\"read\"]}]", "access_policy[0].permit", false, "must be an object with \"actions\""},
	{"[{\"permit\":{}}]", "access_policy[0].permit", false, "must have \"actions\""},
	{"[{\"permit\":{\"actions\":[]}}]", "access_policy[0].permit.actions", false, "must list at least one action"},
	{"[{\"permit\":{\"actions\":[\"read\",\"write\"]}}]", "access_policy[0].permit.actions[1]", false,
	 "must be one of create, read, update, delete, got \"write\""},
	{"[{\"permit\":{\"actions\":\"list\"}}]", "access_policy[0].permit.actions", false,
	 "must be one of create, read, update, delete, got \"list\""},
	{"[{\"permit\":{\"actions\":7}}]", "access_policy[0].permit.actions", false,
	 "must be an action or a list of actions"},
	{"[{\"permit\":{\"actions\":[\"read\"],\"who\":\"x\"}}]", "access_policy[0].permit.who", true,
	 "unknown key \"who\": expected one of principal, actions, resource"},
	{"[{\"permit\":{\"actions\":[\"read\"],\"principal\":\"\"}}]", "access_policy[0].permit.principal", false,
	 "must be a non-empty string"},
	{"[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model\"}}]", "access_policy[0].permit.resource", false,
	 "must be \"<type>::*\" or \"<type>::<identifier>\""},
	{"[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::\"}}]", "access_policy[0].permit.resource", false,
	 "must be \"<type>::*\""},
	{"[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"vector_store::*\"}}]", "access_policy[0].permit.resource",
	 false, "the resource type must be one of model, shield, vector_db"},
	{"[{\"permit\":{\"actions\":[\"read\"],\"resource\":\"regex:model::.*\"}}]", "access_policy[0].permit.resource",
	 false, "regex: resources are not supported: use \"<type>::*\""},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"when\":\"user is the owner\"}]", "access_policy[0].when", false,
	 "unknown condition \"user is the owner\": expected one of"},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user is owner\",\"user in owner teams\"]}]",
	 "access_policy[0].when[1]", false, "unknown condition \"user in owner teams\""},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"unless\":\"user with admin in groups\"}]", "access_policy[0].unless",
	 false, "must be one of roles, teams, projects, namespaces, got \"groups\""},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"when\":[]}]", "access_policy[0].when", false,
	 "must list at least one condition"},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"when\":[3]}]", "access_policy[0].when[0]", false,
	 "must be a condition (a string), got 3"},
	{"[{\"permit\":{\"actions\":[\"read\"]},\"description\":5}]", "access_policy[0].description", false,
	 "must be a string, got 5"},
};

struct seen {
	char path[128], msg[1024];
	bool at_key;
	int n;
};

/* The first problem, with the value at fault as the config renders scalars (", got 3"). */
static void
problem_record(void *ctx, const char *path, bool at_key, const char *msg, const json_t *got)
{
	struct seen *s = ctx;
	char *g = got == NULL           ? NULL
		  : json_is_object(got) ? sg_strdup("an object")
		  : json_is_array(got)  ? sg_strdup("an array")
					: json_dumps(got, JSON_ENCODE_ANY);

	if (s->n++ == 0) {
		snprintf(s->path, sizeof(s->path), "%s", path);
		snprintf(s->msg, sizeof(s->msg), "%s%s%s", msg, g ? ", got " : "", g ? g : "");
		s->at_key = at_key;
	}
	free(g);
}

START_TEST(test_bad)
{
	const struct bad_case *c = &bad[_i];
	json_error_t je;
	json_t *j = json_loads(c->policy, JSON_DECODE_ANY, &je);
	struct sg_policy *p = (struct sg_policy *) 1;
	struct seen s = {.n = 0};

	ck_assert_msg(j != NULL, "bad test JSON %s", c->policy);
	ck_assert_int_eq(policy_parse(j, "access_policy", problem_record, &s, &p), SG_E_BAD_REQUEST);
	ck_assert_ptr_null(p);
	ck_assert_int_ge(s.n, 1);
	ck_assert_str_eq(s.path, c->path);
	ck_assert_msg(strstr(s.msg, c->msg) != NULL, "%s: message '%s' lacks '%s'", c->policy, s.msg, c->msg);
	ck_assert(s.at_key == c->at_key);
	json_decref(j);
}
END_TEST

/* ---- JSON round trip ---- */

START_TEST(test_round_trip)
{
	struct sg_strv roles = {0};
	struct sg_policy *p[2];

	ck_assert(sg_strv_push(&roles, "admin"));
	p[0] = policy_of(issue_policy);
	p[1] = policy_default(&roles);
	for (size_t i = 0; i < 2; i++) {
		json_t *j = policy_to_json(p[i]), *j2;
		struct sg_policy *q = NULL;

		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(policy_parse(j, "x", problem_fail, NULL, &q), SG_OK);
		ck_assert_uint_eq(q->n, p[i]->n);
		j2 = policy_to_json(q);
		ck_assert(json_equal(j, j2));
		json_decref(j);
		json_decref(j2);
		policy_free(q);
	}
	{
		json_t *j = policy_to_json(p[0]);
		char *s = json_dumps(json_array_get(j, 1), JSON_COMPACT | JSON_PRESERVE_ORDER);

		ck_assert_str_eq(
			s,
			"{\"forbid\":{\"actions\":[\"create\",\"delete\"],\"resource\":\"model::*\"},"
			"\"unless\":[\"user with admin in roles\"],\"description\":\"only admins manage models\"}");
		free(s);
		json_decref(j);
	}
	policy_free(p[0]);
	policy_free(p[1]);
	sg_strv_free(&roles);
}
END_TEST

START_TEST(test_action_names)
{
	ck_assert_str_eq(policy_action_name(SG_ACT_CREATE), "create");
	ck_assert_str_eq(policy_action_name(SG_ACT_DELETE), "delete");
	ck_assert_ptr_null(policy_action_name(SG_ACT_COUNT));
	ck_assert_int_eq(policy_decide(NULL, NULL, SG_ACT_READ, NULL, NULL), POLICY_NO_MATCH);
}
END_TEST

/* ---- C and SQL decide alike ---- */

static const char *const agreement_policies[] = {
	NULL, /* the default, for admin roles admin and ops */
	issue_policy,
	/* teams manage their own objects; models are for everyone; admins do anything */
	"[{\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"user with admin in roles\"},"
	" {\"permit\":{\"actions\":[\"read\"],\"resource\":\"model::*\"}},"
	" {\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"user is owner\"},"
	" {\"permit\":{\"actions\":[\"read\"]},\"when\":\"user in owners teams\"}]",
	/* Llama Stack's own default policy, and negations that cannot be decided */
	"[{\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"user in owners roles\"},"
	" {\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"user in owners teams\"},"
	" {\"forbid\":{\"actions\":[\"delete\"]},\"when\":[\"user not in owners teams\",\"user is not owner\"]},"
	" {\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"user is owner\"},"
	" {\"permit\":{\"actions\":[\"create\",\"read\",\"update\",\"delete\"]},\"when\":\"resource is unowned\"}]",
	/* principals, one identifier, unless, origin and anonymity */
	"[{\"forbid\":{\"actions\":[\"read\"],\"resource\":\"vector_db::v\"},\"unless\":[\"user with a in teams\",\"user is not anonymous\"]},"
	" {\"permit\":{\"principal\":\"alice\",\"actions\":[\"delete\",\"update\"]},\"when\":\"resource is not from config\"},"
	" {\"permit\":{\"actions\":[\"read\",\"create\"]},\"unless\":\"user with admin not in roles\"},"
	" {\"permit\":{\"actions\":[\"read\"]},\"when\":[\"user meets access_attributes\",\"resource is from config\"]},"
	" {\"forbid\":{\"actions\":[\"read\"]},\"when\":\"user is anonymous\"},"
	" {\"permit\":{\"actions\":[\"read\"]},\"when\":\"user with user in roles\"}]",
};

static const char *const verdict_names[] = {"permit", "forbid", "no_match", "undecided"};

START_TEST(test_sql_agreement)
{
	static const char sql[] =
		"SELECT sg_policy_decide($1::jsonb, $2, coalesce($3::jsonb, '{}'), $4, $5, $6, $7::boolean,"
		" sg_registry_text_array($8::jsonb), sg_registry_text_array($9::jsonb), sg_registry_text_array($10::jsonb),"
		" sg_registry_text_array($11::jsonb), $12, $13::boolean)";
	static const char *const types[] = {"model", "vector_db"};
	PGconn *conn = PQconnectdb(getenv("SG_TEST_DATABASE_URL"));
	struct sg_strv roles = {0};
	size_t n = 0, seen[4] = {0};

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(conn));
	ck_assert(sg_strv_push(&roles, "admin") && sg_strv_push(&roles, "ops"));
	for (size_t pi = 0; pi < SG_ARRAY_LEN(agreement_policies); pi++) {
		struct sg_policy *p = agreement_policies[pi] ? policy_of(agreement_policies[pi])
							     : policy_default(&roles);
		json_t *pj = policy_to_json(p);
		char *ptext = sg_json_dump(pj);

		for (size_t oi = 0; oi < NOBJ; oi++) {
			char *cats[SG_ATTR_NCAT];

			if (!objs[oi].owner_known)
				continue; /* SQL always knows the row's owner */
			for (int c = 0; c < SG_ATTR_NCAT; c++)
				cats[c] = sg_test_cat_param(&obj_attrs[oi], (enum sg_attr_cat) c);
			for (size_t ci = 0; ci < NCALLER; ci++)
				for (int a = 0; a < SG_ACT_COUNT; a++)
					for (size_t ti = 0; ti < SG_ARRAY_LEN(types); ti++) {
						struct policy_object o = obj_at(oi, types[ti], ti ? "v" : "m");
						struct policy_caller u = caller_at(ci);
						enum policy_verdict v = policy_decide(p, &u, (enum sg_action) a, &o,
										      NULL);
						const char *params[13] = {ptext,
									  callers[ci].principal,
									  callers[ci].attrs,
									  policy_action_name((enum sg_action) a),
									  types[ti],
									  o.identifier,
									  obj_attrs[oi].present ? "t" : "f",
									  cats[0],
									  cats[1],
									  cats[2],
									  cats[3],
									  objs[oi].owner,
									  objs[oi].from_config ? "t" : "f"};
						PGresult *r = PQexecParams(conn, sql, 13, NULL, params, NULL, NULL, 0);

						ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
							      PQresultErrorMessage(r));
						ck_assert_msg(strcmp(PQgetvalue(r, 0, 0), verdict_names[v]) == 0,
							      "policy %zu, %s %s %s::%s by %s: C %s, SQL %s", pi,
							      policy_action_name((enum sg_action) a), objs[oi].name,
							      types[ti], o.identifier, callers[ci].name,
							      verdict_names[v], PQgetvalue(r, 0, 0));
						PQclear(r);
						seen[v]++;
						n++;
					}
			for (int c = 0; c < SG_ATTR_NCAT; c++)
				free(cats[c]);
		}
		free(ptext);
		json_decref(pj);
		policy_free(p);
	}
	/* The table reaches every verdict, so agreement means something for each. */
	for (int v = 0; v < 4; v++)
		ck_assert_msg(seen[v] > 0, "no case gives %s", verdict_names[v]);
	ck_assert_uint_gt(n, 1000);
	sg_strv_free(&roles);
	PQfinish(conn);
}
END_TEST

Suite *
policy_suite(void)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	const TTest *const core[] = {test_issue_example, test_default_is_today, test_round_trip, test_action_names,
				     NULL};
	const struct sg_loop core_loops[] = {
		SG_LOOP(test_condition, conds), SG_LOOP(test_scope, scopes), SG_LOOP(test_bad, bad), {.t = NULL}};
	const TTest *const sql[] = {test_sql_agreement, NULL};
	/* C against SQL needs a database: that case only when one is given. */
	const struct sg_tcase tcases[] = {{.name = "policy",
					   .tests = core,
					   .loops = core_loops,
					   .setup = fixtures_setup,
					   .teardown = fixtures_teardown},
					  {.name = db != NULL && db[0] != '\0' ? "sql_agreement" : NULL,
					   .tests = sql,
					   .setup = fixtures_setup,
					   .teardown = fixtures_teardown},
					  {.name = NULL}};

	return sg_suite_new("policy", tcases);
}
