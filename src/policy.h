/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h: the access policy, Llama Stack's `access_policy` rules
 * (core/access_control: PR #2264 and later), or the default written as
 * rules.  Pure: no I/O, no locks; a policy is built once at (re)load and
 * read by every thread.
 *
 * A rule: {"permit"|"forbid": {"principal"?, "actions", "resource"?},
 * "when"|"unless"?: condition or list, "description"?}.  Actions create,
 * read, update, delete; resource "type::*" or "type::identifier" (type one of
 * the registry's: model, shield, vector_db, dataset, scoring_function,
 * benchmark, tool_group, tool); no resource matches every resource, no
 * principal every caller (never an anonymous one for a named principal).
 * Rules are tried in order; the first whose scope matches and whose
 * conditions apply decides permit or forbid; no rule: deny.
 *
 * Conditions (Llama Stack's, then stackgate's own, needed to write today's
 * behaviour as rules):
 *   user with V in A / user with V not in A   (A: roles, teams, projects, namespaces)
 *   user is owner / user is not owner
 *   user in owners A / user not in owners A
 *   resource is unowned
 *   user meets access_attributes   the seed's check_access (acl_check) on the object's ACL
 *   resource is from config / resource is not from config
 *   user is anonymous / user is not anonymous
 *
 * Three values, fail closed.  Llama Stack answers a question about
 * something missing with false, and its negation with true ("user not in
 * owners teams" holds for an object without teams).  Here such a condition
 * is UNKNOWN, and so is its negation: "owners A" of an object that lists no
 * A value (no ACL, A null or []), "user is (not) owner" of an object without
 * owner, and any owner or origin condition when the caller of the evaluator
 * does not know the owner or origin.  The caller's own attributes are always
 * known: a category it lacks holds no values (user with V in A is false,
 * not in A is true).  The conditions of one rule combine as Kleene's AND
 * (false wins, then unknown).  A rule whose scope matches and whose
 * conditions are UNKNOWN decides deny, whether it permits or forbids.
 *
 * Anonymous callers (no principal) are judged by the policy like everyone
 * else, with no principal: Llama Stack instead allows everything when there
 * is no user at all (authentication off), which would open every object to
 * anonymous callers of a stackgate with auth.required false.
 */
#ifndef SG_POLICY_H
#define SG_POLICY_H

#include <jansson.h>

#include "acl.h"
#include "sg.h"

enum sg_action { SG_ACT_CREATE, SG_ACT_READ, SG_ACT_UPDATE, SG_ACT_DELETE, SG_ACT_COUNT };

enum policy_cond_kind {
	PC_WITH_IN,         /* user with V in A */
	PC_WITH_NOT_IN,     /* user with V not in A */
	PC_IS_OWNER,        /* user is owner */
	PC_IS_NOT_OWNER,    /* user is not owner */
	PC_IN_OWNERS,       /* user in owners A */
	PC_NOT_IN_OWNERS,   /* user not in owners A */
	PC_UNOWNED,         /* resource is unowned */
	PC_MEETS_ACL,       /* user meets access_attributes */
	PC_FROM_CONFIG,     /* resource is from config */
	PC_NOT_FROM_CONFIG, /* resource is not from config */
	PC_ANONYMOUS,       /* user is anonymous */
	PC_NOT_ANONYMOUS,   /* user is not anonymous */
	PC_COUNT
};

struct policy_cond {
	enum policy_cond_kind kind;
	enum sg_attr_cat cat; /* PC_WITH_*, PC_*IN_OWNERS */
	char *value;          /* PC_WITH_* */
};

struct policy_rule {
	bool forbid;
	char *principal;  /* NULL: any caller */
	unsigned actions; /* bit (1u << enum sg_action) */
	char *rtype;      /* NULL: every resource; else a registry type name */
	char *identifier; /* with rtype: NULL is "type::*" */
	bool unless;      /* the conditions are an "unless" (else a "when") */
	struct policy_cond *conds;
	size_t nconds;
	char *description;
};

struct sg_policy {
	struct policy_rule *rules;
	size_t n;
	bool is_default; /* made by policy_default, not read from a config */
};

/* The object an action is about. */
struct policy_object {
	const char *type; /* registry type name ("model", …) */
	const char *identifier;
	const struct sg_attrs *attrs; /* its access_attributes; NULL or !present: no ACL */
	const char *owner;            /* the registering principal; NULL: unowned */
	bool owner_known;             /* false: owner conditions are UNKNOWN */
	bool from_config;
	bool origin_known; /* false: from-config conditions are UNKNOWN */
};

/* The caller. */
struct policy_caller {
	const char *principal;        /* NULL: anonymous */
	const struct sg_attrs *attrs; /* NULL: none */
};

enum policy_verdict {
	POLICY_PERMIT,    /* a permit rule applied */
	POLICY_FORBID,    /* a forbid rule applied */
	POLICY_NO_MATCH,  /* no rule applied: deny */
	POLICY_UNDECIDED, /* a matching rule's conditions were UNKNOWN: deny */
};

/* "create", "read", "update", "delete"; NULL when out of range. */
const char *policy_action_name(enum sg_action a);

/*
 * Reads an access_policy value (a JSON array of rules) at path ("access_policy").
 * Every problem is passed to report(ctx, path of the value, at_key, message,
 * got): got is the value at fault when the message should end with what
 * was given (the config renders it, ", got \"write\""), else NULL; e.g.
 * ("access_policy[1].forbid.actions[0]", false, "must be one of create,
 * read, update, delete", "write").  SG_OK with *out a new policy;
 * SG_E_BAD_REQUEST when a problem was reported (*out NULL); SG_E_NOMEM.
 */
typedef void (*policy_report_fn)(void *ctx, const char *path, bool at_key, const char *msg, const json_t *got);
sg_status policy_parse(const json_t *v, const char *path, policy_report_fn report, void *ctx,
		       struct sg_policy **out) SG_MUST_CHECK;

/*
 * The default policy: stackgate's behaviour without an access_policy, as rules
 * (admin_roles: auth.admin_roles):
 *   read    permitted to holders of an admin role, else when the caller meets
 *           the object's access_attributes (the seed's check_access);
 *   create  permitted to every caller (what access_attributes it may give is
 *           the tenant-isolation rule, outside the policy);
 *   delete  permitted to admins with a principal; else forbidden for objects
 *           from the config; else to an anonymous caller for an unowned
 *           object, and to the owner;
 *   update  nobody (a conflicting re-registration stays 409).
 * NULL when out of memory.
 */
struct sg_policy *policy_default(const struct sg_strv *admin_roles);

/*
 * The decision for caller doing action on obj, and the index of the rule
 * that made it in *rule (may be NULL; SIZE_MAX for no rule).
 */
enum policy_verdict policy_decide(const struct sg_policy *p, const struct policy_caller *caller, enum sg_action action,
				  const struct policy_object *obj, size_t *rule);

/* policy_decide() == POLICY_PERMIT. */
bool policy_allows(const struct sg_policy *p, const struct policy_caller *caller, enum sg_action action,
		   const struct policy_object *obj);

/*
 * The policy as the config writes it: an array of rules, each with its
 * permit/forbid scope (actions always a list), when/unless as a list, and its
 * description.  policy_parse() of it gives the same policy.  New reference;
 * NULL when out of memory.
 */
json_t *policy_to_json(const struct sg_policy *p);

/* Frees p (NULL is fine). */
void policy_free(struct sg_policy *p);

#endif
