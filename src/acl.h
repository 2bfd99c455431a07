/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acl.h: access attributes and the access decision, with Llama Stack's exact
 * semantics (reference/llama-stack-api.md §3.3).  Pure: no I/O, no locks.
 *
 * An object's attributes: present=false means the object has no ACL (public).
 * present=true with no category set is AccessAttributes() with all nulls
 * (also public).  A set category with n=0 is "[]" and denies everyone.
 *
 * A caller's attributes: present=false, or no category set, means the caller
 * has no attributes (sees public objects only).
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

/* "roles", "teams", "projects", "namespaces". */
const char *acl_category_name(enum sg_attr_cat c);

/* The seed's check_access(obj, user).  True when the caller may see obj. */
bool acl_check(const struct sg_attrs *obj, const struct sg_attrs *caller);

/*
 * Parses an AccessAttributes JSON value: null → present=false; an object with
 * the four optional categories (null or array of strings); other keys are
 * ignored.  On a type error returns SG_E_BAD_REQUEST and writes a message
 * naming the category to err.  out is reset first and owned by the caller.
 */
sg_status acl_attrs_from_json(const json_t *j, struct sg_attrs *out, char *err, size_t errlen) SG_MUST_CHECK;

/* The JSON form: null when !present, else an object with all four keys (null or array). New ref. */
json_t *acl_attrs_to_json(const struct sg_attrs *a);

/* Deep copy; false on allocation failure. */
bool acl_attrs_copy(struct sg_attrs *dst, const struct sg_attrs *src) SG_MUST_CHECK;
/* Adds src's values to dst (set union per category, no duplicates). */
bool acl_attrs_merge(struct sg_attrs *dst, const struct sg_attrs *src) SG_MUST_CHECK;
/* True when the caller has no attributes at all (seed: "not user_attributes"). */
bool acl_attrs_empty(const struct sg_attrs *a);
/* Frees the lists; leaves a as "not present".  Idempotent. */
void acl_attrs_free(struct sg_attrs *a);

#endif
