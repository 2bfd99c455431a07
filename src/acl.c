/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acl.c: the access decision and the attribute sets it works on.  The rules
 * and the reasoning about Python truthiness are in acl.h; sql/002_access.sql
 * has the same function in SQL (sg_acl_check), and an integration test runs
 * one table of cases through both.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "acl.h"

static const char *const cat_names[SG_ATTR_NCAT] = {"roles", "teams", "projects", "namespaces"};

const char *
acl_category_name(enum sg_attr_cat c)
{
	return (unsigned) c < SG_ATTR_NCAT ? cat_names[c] : NULL;
}

bool
acl_category_from_name(const char *name, enum sg_attr_cat *out)
{
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		if (strcmp(name, cat_names[c]) == 0) {
			*out = (enum sg_attr_cat) c;
			return true;
		}
	return false;
}

bool
acl_attrs_empty(const struct sg_attrs *a)
{
	if (a == NULL || !a->present)
		return true;
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		if (a->set[c])
			return false;
	return true;
}

/* any(v in user for v in required) */
static bool
intersects(const struct sg_strv *required, const struct sg_strv *user)
{
	for (size_t i = 0; i < required->n; i++)
		if (sg_strv_contains(user, required->v[i]))
			return true;
	return false;
}

bool
acl_check(const struct sg_attrs *obj, const struct sg_attrs *caller)
{
	/* `if not obj_attributes`: only None is falsy (acl.h). */
	if (obj == NULL || !obj->present)
		return true;
	/* `if not user_attributes`: None or {}. */
	if (acl_attrs_empty(caller))
		return false;
	/* With no category required the loop does nothing: `if not required: return True`. */
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		if (!obj->set[c])
			continue;
		/* `user_attributes.get(category, [])`, then `if not user_values`. */
		if (!caller->set[c] || caller->cat[c].n == 0)
			return false;
		if (!intersects(&obj->cat[c], &caller->cat[c]))
			return false;
	}
	return true;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) SG_PRINTF(3, 4);

bool
acl_attrs_within(const struct sg_attrs *given, const struct sg_attrs *holder, char *why, size_t whylen)
{
	if (given == NULL || !given->present) {
		set_err(why, whylen, "access_attributes must be an object");
		return false;
	}
	if (acl_attrs_empty(given)) {
		set_err(why, whylen,
			"access_attributes must require at least one category of the caller's own "
			"(an object without one is visible to every caller with attributes)");
		return false;
	}
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		if (!given->set[c])
			continue;
		if (given->cat[c].n == 0) {
			set_err(why, whylen, "access_attributes.%s must list at least one of the caller's own %s",
				cat_names[c], cat_names[c]);
			return false;
		}
		for (size_t i = 0; i < given->cat[c].n; i++) {
			const char *v = given->cat[c].v[i];

			if (holder == NULL || !holder->set[c] || !sg_strv_contains(&holder->cat[c], v)) {
				set_err(why, whylen,
					"access_attributes.%s may only list the caller's own %s, and '%.*s' is not one "
					"of them",
					cat_names[c], cat_names[c], (int) sg_utf8_prefix(v, 64), v);
				return false;
			}
		}
	}
	return true;
}

void
acl_attrs_free(struct sg_attrs *a)
{
	if (a == NULL)
		return;
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		sg_strv_free(&a->cat[c]);
	memset(a, 0, sizeof(*a));
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

sg_status
acl_attrs_from_json(const json_t *j, struct sg_attrs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (j == NULL || json_is_null(j))
		return SG_OK;
	if (!json_is_object(j)) {
		set_err(err, errlen, "%s must be an object or null", "access_attributes");
		return SG_E_BAD_REQUEST;
	}
	out->present = true;
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		const json_t *arr = json_object_get(j, cat_names[c]);
		size_t i;
		const json_t *v;

		if (arr == NULL || json_is_null(arr))
			continue;
		if (!json_is_array(arr)) {
			set_err(err, errlen, "access_attributes.%s must be an array of strings or null", cat_names[c]);
			goto bad;
		}
		out->set[c] = true;
		json_array_foreach(arr, i, v) {
			if (!json_is_string(v)) {
				set_err(err, errlen, "access_attributes.%s must be an array of strings or null",
					cat_names[c]);
				goto bad;
			}
			if (!sg_strv_push(&out->cat[c], json_string_value(v))) {
				acl_attrs_free(out);
				set_err(err, errlen, "%s", "out of memory");
				return SG_E_NOMEM;
			}
		}
	}
	return SG_OK;
bad:
	acl_attrs_free(out);
	return SG_E_BAD_REQUEST;
}

json_t *
acl_attrs_to_json(const struct sg_attrs *a)
{
	json_t *o;

	if (a == NULL || !a->present)
		return json_null();
	o = json_object();
	if (o == NULL)
		return NULL;
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		json_t *arr;

		if (!a->set[c]) {
			if (json_object_set_new(o, cat_names[c], json_null()) != 0)
				goto fail;
			continue;
		}
		arr = json_array();
		if (arr == NULL || json_object_set_new(o, cat_names[c], arr) != 0)
			goto fail;
		for (size_t i = 0; i < a->cat[c].n; i++)
			if (json_array_append_new(arr, json_string(a->cat[c].v[i])) != 0)
				goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

bool
acl_attrs_copy(struct sg_attrs *dst, const struct sg_attrs *src)
{
	acl_attrs_free(dst);
	if (src == NULL)
		return true;
	dst->present = src->present;
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		dst->set[c] = src->set[c];
		for (size_t i = 0; i < src->cat[c].n; i++)
			if (!sg_strv_push(&dst->cat[c], src->cat[c].v[i])) {
				acl_attrs_free(dst);
				return false;
			}
	}
	return true;
}

bool
acl_attrs_merge(struct sg_attrs *dst, const struct sg_attrs *src)
{
	if (src == NULL || !src->present)
		return true;
	dst->present = true;
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		if (!src->set[c])
			continue;
		dst->set[c] = true;
		for (size_t i = 0; i < src->cat[c].n; i++)
			if (!sg_strv_contains(&dst->cat[c], src->cat[c].v[i]) &&
			    !sg_strv_push(&dst->cat[c], src->cat[c].v[i]))
				return false;
	}
	return true;
}
