/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acl.h: access attributes and the access decision, with Llama Stack's exact
 * semantics (reference/llama-stack-api.md §3.3).  Pure: no I/O, no locks.
 *
 * The seed's check_access(obj_attributes, user_attributes):
 *
 *     if not obj_attributes:  return True     # obj_attributes: AccessAttributes | None
 *     if not user_attributes: return False    # user_attributes: dict | None
 *     required = obj_attributes.model_dump(exclude_none=True)
 *     if not required:        return True
 *     for category, values in required.items():        # AND across categories
 *         user_values = user_attributes.get(category, [])
 *         if not user_values: return False
 *         if not any(v in user_values for v in values): return False  # OR within one
 *     return True
 *
 * Truthiness, precisely: a pydantic v2 BaseModel defines neither __bool__ nor
 * __len__, so every AccessAttributes instance is truthy, AccessAttributes()
 * with all four categories null included (checked with pydantic 2.13; the
 * seed pins 2.10.6, and no v2 release defines either).  `not obj_attributes`
 * is therefore true only for None.  The user side is a dict: {} and None are
 * falsy, {"roles": []} is truthy.  Hence:
 *
 *   object                       caller None/{}   caller {"roles": []}   caller {"teams": ["a"]}
 *   no ACL (None)                visible          visible                visible
 *   AccessAttributes() all null  HIDDEN           visible                visible
 *   {roles: ["admin"]}           hidden           hidden                 hidden (lacks roles)
 *   {roles: []}                  hidden           hidden                 hidden ([] denies everyone)
 *
 * An all-null ACL is "public" only to callers that have some attributes:
 * that is the seed's behaviour and we keep it.
 *
 * Representation.  An object's attributes: present=false is "no ACL" (None).
 * present=true with no category set is AccessAttributes() with all nulls.
 * set[c] with n=0 is "[]" for that category.
 *
 * A caller's attributes: the dict the auth layer produced.  set[c] means the
 * key is in the dict (possibly with []); the caller "has no attributes" (the
 * falsy dict) when no category is set, whatever present says.
 */
#ifndef SG_ACL_H
#define SG_ACL_H

#include <jansson.h>

#include "sg.h"

enum sg_attr_cat { SG_ROLES, SG_TEAMS, SG_PROJECTS, SG_NAMESPACES, SG_ATTR_NCAT };

struct sg_attrs {
	bool present;
	bool set[SG_ATTR_NCAT];
	struct sg_strv cat[SG_ATTR_NCAT];
};

/* "roles", "teams", "projects", "namespaces"; NULL when out of range. */
const char *acl_category_name(enum sg_attr_cat c);

/* The category for a name; false when it is none of the four. */
bool acl_category_from_name(const char *name, enum sg_attr_cat *out);

/*
 * The seed's check_access(obj, caller): true when the caller may see obj.
 * obj NULL is "no ACL"; caller NULL is "no attributes".
 */
bool acl_check(const struct sg_attrs *obj, const struct sg_attrs *caller);

/*
 * Parses an AccessAttributes JSON value: NULL or null → present=false; an
 * object → present=true, with each of the four categories absent or null
 * (not set) or an array of strings (set, kept in order).  Other keys are
 * ignored, as pydantic ignores them.  On a type error returns
 * SG_E_BAD_REQUEST and writes a message naming the category to err (err may
 * be NULL); SG_E_NOMEM on allocation failure.  out is reset first and owned by
 * the caller (acl_attrs_free), also on failure.
 */
sg_status acl_attrs_from_json(const json_t *j, struct sg_attrs *out, char *err, size_t errlen) SG_MUST_CHECK;

/*
 * The JSON form: null when !present, else an object with all four keys in
 * the order roles, teams, projects, namespaces (null or array), as Llama
 * Stack serialises AccessAttributes.  New reference; NULL on allocation failure.
 */
json_t *acl_attrs_to_json(const struct sg_attrs *a);

/* Deep copy (dst is freed first); false on allocation failure. */
bool acl_attrs_copy(struct sg_attrs *dst, const struct sg_attrs *src) SG_MUST_CHECK;

/*
 * Adds src's values to dst: a category set in src becomes set in dst (even
 * with no values), its values appended when dst lacks them; present becomes
 * true when src is present.  False on allocation failure (dst then holds a
 * partial union and is still valid).
 */
bool acl_attrs_merge(struct sg_attrs *dst, const struct sg_attrs *src) SG_MUST_CHECK;

/*
 * Whether a caller holding the attributes holder may give an object the
 * attributes given without being an admin: given requires at least one
 * category, and each category it sets lists at least one value, every one
 * among holder's values of that category.  Such an object is always
 * visible to its giver (acl_check(given, holder)).  A !present given (no
 * ACL) is not within anything.  On false, why (may be NULL) names the first
 * category and value at fault, e.g. "access_attributes.teams may only list
 * the caller's own teams, and 'x' is not one of them".
 */
bool acl_attrs_within(const struct sg_attrs *given, const struct sg_attrs *holder, char *why, size_t whylen);

/* True when a caller with these attributes has none (the seed's `not user_attributes`). */
bool acl_attrs_empty(const struct sg_attrs *a);

/* Frees the lists; leaves a as "not present".  Idempotent. */
void acl_attrs_free(struct sg_attrs *a);

#endif
