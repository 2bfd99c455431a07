/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_http.c: the admin HTTP routes on principals and API keys
 * (admin.h): GET/POST /v1/stackgate/principals, PUT/DELETE
 * /v1/stackgate/principals/{name}, GET/POST /v1/stackgate/keys, DELETE
 * /v1/stackgate/keys/{key_id}.  A JSON body becomes the struct
 * auth_cli_args the CLI parses from argv, with fields named like the CLI's
 * flags (name, role, team, project, namespace, disabled; principal,
 * description, expires_in, expires_at), checked as strictly (an unknown
 * field is refused, naming it), and runs through admin_run on a pooled
 * connection.  Admins only (auth.admin_roles): anyone else gets 403 before
 * anything is read.  Every change, and every refusal, is one "audit:" line
 * in the log naming who did what to which principal or key; never a key's
 * text.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "route.h"

static const char *
who(const struct request *r)
{
	return r->id.principal != NULL ? r->id.principal : "(anonymous)";
}

/* SG_OK for an admin; else the 403, logged. */
static sg_status
admin_only(struct request *r)
{
	if (r->id.admin)
		return SG_OK;
	log_warn("audit: refused %s %s to '%s': not an admin", r->method_name ? r->method_name : "?",
		 r->route ? r->route->pattern : "?", who(r));
	return http_fail(r, SG_E_FORBIDDEN, NULL, "managing principals and keys is for admins only");
}

/* The members a body may have; anything else is a 400 naming it. */
static sg_status
only_members(struct request *r, json_t *body, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		size_t i = 0;

		while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
			i++;
		if (allowed[i] == NULL)
			return http_fail(r, SG_E_BAD_REQUEST, key, "unknown field '%.*s'",
					 (int) sg_utf8_prefix(key, 64), key);
	}
	return SG_OK;
}

/* One attribute value, as the CLI checks --role and the others. */
static sg_status
attr_value(struct request *r, const char *field, json_t *v, struct sg_attrs *attrs, enum sg_attr_cat c)
{
	const char *s = json_string_value(v);

	if (s == NULL)
		return http_fail(r, SG_E_BAD_REQUEST, field, "%s must be a string or an array of strings", field);
	if (admin_word_check(field, s, field, &r->err) != SG_OK)
		return r->err.status;
	attrs->set[c] = true;
	if (!sg_strv_contains(&attrs->cat[c], s) && !sg_strv_push(&attrs->cat[c], s))
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}

/*
 * role, team, project, namespace (a string or an array of strings) into
 * a->attrs; *given says whether any of them was in the body.
 */
static sg_status
body_attrs(struct request *r, json_t *body, struct auth_cli_args *a, bool *given)
{
	const char *const *fields = admin_attr_fields;

	*given = false;
	for (int c = 0; c < SG_ATTR_NCAT; c++) {
		json_t *v = json_object_get(body, fields[c]), *e;
		size_t i;
		sg_status st;

		if (v == NULL || json_is_null(v))
			continue;
		*given = true;
		if (!json_is_array(v)) {
			if ((st = attr_value(r, fields[c], v, &a->attrs, (enum sg_attr_cat) c)) != SG_OK)
				return st;
			continue;
		}
		json_array_foreach(v, i, e) {
			if ((st = attr_value(r, fields[c], e, &a->attrs, (enum sg_attr_cat) c)) != SG_OK)
				return st;
		}
	}
	a->attrs.present = true;
	return SG_OK;
}

/* A principal name from the body or the path, checked as the CLI checks NAME. */
static sg_status
principal_name(struct request *r, const char *field, const char *name)
{
	if (name == NULL)
		return http_fail(r, SG_E_BAD_REQUEST, field, "%s is required", field);
	return admin_word_check(field, name, field, &r->err);
}

/* The attributes of a for the audit line ("role=a,b team=c", or "none"), cut to fit buf. */
static void
attrs_text(const struct auth_cli_args *a, char *buf, size_t len)
{
	const char *const *fields = admin_attr_fields;
	size_t off = 0;

	snprintf(buf, len, "none");
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		for (size_t i = 0; i < a->attrs.cat[c].n && off < len; i++) {
			int n = i > 0 ? snprintf(buf + off, len - off, ",%s", a->attrs.cat[c].v[i])
				      : snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", fields[c],
						 a->attrs.cat[c].v[i]);

			off = n < 0 ? len : off + (size_t) n;
		}
}

/* Runs a on a pooled connection; the answer becomes the reply (status 200 unless r->status says). */
static sg_status
run(struct request *r, const struct auth_cli_args *a)
{
	struct sg_err err = {0};
	json_t *out = NULL;
	PGconn *conn = db_acquire();
	sg_status st;

	if (conn == NULL)
		return http_fail(r, SG_E_UNAVAILABLE, NULL, "the database is unavailable");
	st = admin_run(conn, a, &out, &err);
	db_release(conn, db_conn_broken(conn));
	if (st != SG_OK)
		return http_fail_err(r, st, &err);
	r->reply = out;
	return SG_OK;
}

/* Wraps a list in {"object": "list", "data": [...]}. */
static sg_status
as_list(struct request *r)
{
	json_t *list = json_pack("{s:s,s:o}", "object", "list", "data", r->reply);

	r->reply = list;
	return list != NULL ? SG_OK : http_fail(r, SG_E_NOMEM, NULL, "out of memory");
}

sg_status
admin_principals_list(struct request *r)
{
	struct auth_cli_args a = {.cmd = AUTH_CLI_PRINCIPAL_LIST};
	sg_status st = admin_only(r);

	if (st == SG_OK && (st = run(r, &a)) == SG_OK)
		st = as_list(r);
	return st;
}

sg_status
admin_principal_add(struct request *r)
{
	static const char *const allowed[] = {"name", "role", "team", "project", "namespace", NULL};
	struct auth_cli_args a = {.cmd = AUTH_CLI_PRINCIPAL_ADD};
	json_t *body;
	bool given;
	char attrs[512];
	sg_status st;

	if ((st = admin_only(r)) != SG_OK || (st = http_body_object(r, &body)) != SG_OK ||
	    (st = only_members(r, body, allowed)) != SG_OK ||
	    (st = sg_json_field_str(body, "name", NULL, true, &a.name, &r->err)) != SG_OK ||
	    (st = principal_name(r, "name", a.name)) != SG_OK || (st = body_attrs(r, body, &a, &given)) != SG_OK)
		goto out;
	if ((st = run(r, &a)) != SG_OK)
		goto out;
	r->status = 201;
	attrs_text(&a, attrs, sizeof(attrs));
	log_info("audit: '%s' added principal '%s' (%s)", who(r), a.name, attrs);
out:
	auth_cli_args_free(&a);
	return st;
}

sg_status
admin_principal_put(struct request *r)
{
	static const char *const allowed[] = {"role", "team", "project", "namespace", "disabled", NULL};
	struct auth_cli_args a = {.cmd = AUTH_CLI_PRINCIPAL_SET, .name = r->path_arg};
	json_t *body;
	bool given = false, disabled = false, has_disabled = false;
	char attrs[512];
	sg_status st;

	if ((st = admin_only(r)) != SG_OK || (st = principal_name(r, "name", r->path_arg)) != SG_OK ||
	    (st = http_body_object(r, &body)) != SG_OK || (st = only_members(r, body, allowed)) != SG_OK ||
	    (st = sg_json_field_bool(body, "disabled", NULL, false, &disabled, &has_disabled, &r->err)) != SG_OK ||
	    (st = body_attrs(r, body, &a, &given)) != SG_OK)
		goto out;
	if (!given && !has_disabled) {
		st = http_fail(r, SG_E_BAD_REQUEST, NULL,
			       "nothing to change: give role, team, project, namespace or disabled");
		goto out;
	}
	/* The attributes first (replaced as `principal set` does), then the state. */
	if (given) {
		if ((st = run(r, &a)) != SG_OK)
			goto out;
		attrs_text(&a, attrs, sizeof(attrs));
		log_info("audit: '%s' set principal '%s' attributes (%s)", who(r), a.name, attrs);
	}
	if (has_disabled) {
		json_decref(r->reply);
		r->reply = NULL;
		a.cmd = disabled ? AUTH_CLI_PRINCIPAL_DISABLE : AUTH_CLI_PRINCIPAL_ENABLE;
		if ((st = run(r, &a)) != SG_OK)
			goto out;
		log_info("audit: '%s' %s principal '%s'", who(r), disabled ? "disabled" : "enabled", a.name);
	}
out:
	auth_cli_args_free(&a);
	return st;
}

sg_status
admin_principal_delete(struct request *r)
{
	struct auth_cli_args a = {.cmd = AUTH_CLI_PRINCIPAL_REMOVE, .name = r->path_arg};
	sg_status st;

	if ((st = admin_only(r)) != SG_OK || (st = principal_name(r, "name", r->path_arg)) != SG_OK ||
	    (st = run(r, &a)) != SG_OK)
		return st;
	log_info("audit: '%s' removed principal '%s' and its keys", who(r), a.name);
	return SG_OK;
}

sg_status
admin_keys_list(struct request *r)
{
	struct auth_cli_args a = {.cmd = AUTH_CLI_KEY_LIST};
	char *principal = http_query_get(r, "principal");
	sg_status st;

	a.name = principal;
	if ((st = admin_only(r)) != SG_OK ||
	    (principal != NULL && (st = principal_name(r, "principal", principal)) != SG_OK) ||
	    (st = run(r, &a)) != SG_OK)
		goto out;
	st = as_list(r);
out:
	free(principal);
	return st;
}

sg_status
admin_key_create(struct request *r)
{
	static const char *const allowed[] = {"principal", "description", "expires_in", "expires_at", NULL};
	struct auth_cli_args a = {.cmd = AUTH_CLI_KEY_CREATE};
	json_t *body, *days = NULL;
	sg_status st;

	if ((st = admin_only(r)) != SG_OK || (st = http_body_object(r, &body)) != SG_OK ||
	    (st = only_members(r, body, allowed)) != SG_OK ||
	    (st = sg_json_field_str(body, "principal", NULL, true, &a.name, &r->err)) != SG_OK ||
	    (st = principal_name(r, "principal", a.name)) != SG_OK ||
	    (st = sg_json_field_str(body, "description", NULL, false, &a.description, &r->err)) != SG_OK ||
	    (st = sg_json_field_str(body, "expires_at", NULL, false, &a.expires_at, &r->err)) != SG_OK ||
	    (st = sg_json_field(body, "expires_in", NULL, JSON_INTEGER, false, &days, &r->err)) != SG_OK)
		goto out;
	if (a.description != NULL && strlen(a.description) > ADMIN_DESCRIPTION_MAX) {
		st = http_fail(r, SG_E_BAD_REQUEST, "description", "description must be at most %d bytes",
			       ADMIN_DESCRIPTION_MAX);
		goto out;
	}
	if (a.expires_at != NULL && a.expires_at[0] == '\0') {
		st = http_fail(r, SG_E_BAD_REQUEST, "expires_at", "expires_at needs a date and time");
		goto out;
	}
	if (days != NULL) {
		json_int_t d = json_integer_value(days);

		if (d < 1 || d > ADMIN_EXPIRES_IN_MAX) {
			st = http_fail(r, SG_E_BAD_REQUEST, "expires_in",
				       "expires_in must be a number of days between 1 and %d", ADMIN_EXPIRES_IN_MAX);
			goto out;
		}
		if (a.expires_at != NULL) {
			st = http_fail(r, SG_E_BAD_REQUEST, "expires_in", "give expires_in or expires_at, not both");
			goto out;
		}
		a.expires_in_days = (long) d;
	}
	if ((st = run(r, &a)) != SG_OK)
		goto out;
	r->status = 201;
	/* The key's text is in this answer only: no cache may keep it. */
	if (!http_add_header(r, "Cache-Control", "no-store")) {
		st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	log_info("audit: '%s' created key %s for principal '%s'", who(r),
		 json_string_value(json_object_get(r->reply, "key_id")), a.name);
out:
	auth_cli_args_free(&a);
	return st;
}

sg_status
admin_key_delete(struct request *r)
{
	struct auth_cli_args a = {.cmd = AUTH_CLI_KEY_REVOKE, .name = r->path_arg};
	size_t n = r->path_arg != NULL ? strlen(r->path_arg) : 0;
	sg_status st;

	if ((st = admin_only(r)) != SG_OK)
		return st;
	/* Only an id: a whole key in a URL would end up in access logs. */
	if (n != AUTH_KEY_ID_LEN || strspn(r->path_arg, "0123456789abcdef") != n)
		return http_fail(r, SG_E_BAD_REQUEST, "key_id", "key_id must be %d lower-case hexadecimal digits",
				 AUTH_KEY_ID_LEN);
	if ((st = run(r, &a)) != SG_OK)
		return st;
	log_info("audit: '%s' revoked key %s%s", who(r), a.name,
		 json_is_true(json_object_get(r->reply, "already_revoked")) ? " (it was already revoked)" : "");
	return SG_OK;
}

sg_status
admin_me(struct request *r)
{
	json_t *attrs = acl_attrs_to_json(&r->id.attrs);

	r->reply = json_pack("{s:s?,s:b,s:s?,s:o?}", "principal", r->id.principal, "admin", r->id.admin, "key_id",
			     r->id.key_id, "attributes", attrs);
	return r->reply != NULL ? SG_OK : http_fail(r, SG_E_NOMEM, NULL, "out of memory");
}
