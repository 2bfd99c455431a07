/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.c: the commands on principals and API keys (admin.h), shared by the
 * admin CLI and the admin HTTP routes.  Each runs on the caller's
 * connection and answers JSON built by PostgreSQL where it can (the lists),
 * so both fronts show the same rows.  Expected refusals (a principal that
 * exists or is missing, an unknown key, a bad date) are read from their
 * SQLSTATE before db_result_status, which logs and maps the rest.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "acl.h"
#include "admin.h"
#include "db.h"
#include "json.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define ATTR(cat, field)                                                                     \
	"'" field                                                                            \
	"', coalesce((SELECT json_agg(a.value ORDER BY a.value) FROM principal_attributes a" \
	" WHERE a.principal = p.name AND a.category = '" cat "'), '[]'::json)"

static const char principals_sql[] =
	"SELECT coalesce(json_agg(json_build_object('name', p.name, " ATTR("roles", "role") ", " ATTR(
		"teams", "team") ", " ATTR("projects", "project") ", " ATTR("namespaces", "namespace") ","
	" 'disabled', p.disabled, 'created_at', " TS("p.created_at") ") ORDER BY p.name), '[]'::json)"
	" FROM principals p WHERE $1::text IS NULL OR p.name = $1";

static const char keys_sql[] =
	"SELECT coalesce(json_agg(json_build_object('key_id', key_id, 'principal', principal,"
	" 'created_at', " TS("created_at") ", 'expires_at', " TS("expires_at") ", 'revoked_at', " TS(
		"revoked_at") ","
	" 'status', CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired'"
	"  ELSE 'active' END,"
	" 'last_used_at', " TS("last_used_at") ", 'description', description) ORDER BY created_at, key_id),"
	" '[]'::json)"
	" FROM api_keys WHERE $1::text IS NULL OR principal = $1";

static const char insert_attrs_sql[] =
	"INSERT INTO principal_attributes (principal, category, value)"
	" SELECT $1, e.key, v.value FROM jsonb_each(jsonb_strip_nulls($2::jsonb)) AS e"
	" CROSS JOIN LATERAL jsonb_array_elements_text(e.value) AS v(value)";

bool
admin_word_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ADMIN_WORD_MAX || isspace((unsigned char) s[0]) || isspace((unsigned char) s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char) s[i]))
			return false;
	return true;
}

sg_status
admin_word_check(const char *what, const char *value, const char *param, struct sg_err *err)
{
	if (admin_word_ok(value))
		return SG_OK;
	return sg_fail(err, SG_E_BAD_REQUEST, param,
		       "%s '%.*s' is not valid: 1 to %d characters, no control characters or outer blanks", what,
		       (int) sg_utf8_prefix(value, 300), value, ADMIN_WORD_MAX);
}

const char *const admin_attr_fields[SG_ATTR_NCAT] = {"role", "team", "project", "namespace"};

/* The SQLSTATE of a failed result, or "". */
static const char *
res_state(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return st ? st : "";
}

/* A failure db_result_status maps (and logs), in words. */
static sg_status
db_fail(PGconn *conn, const PGresult *res, struct sg_err *err)
{
	sg_status st = db_result_status(conn, res);

	if (st == SG_OK)
		st = SG_E_INTERNAL;
	return sg_fail(err, st, NULL, "the database could not do it (%s)",
		       st == SG_E_UNAVAILABLE ? "unavailable" : "internal error");
}

/* One statement, text params; SG_OK with *res, or the failure in err (*res NULL). */
static sg_status
exec(PGconn *conn, const char *sql, int n, const char *const *p, PGresult **res, struct sg_err *err)
{
	sg_status st;

	*res = db_exec(conn, sql, n, p);
	if (db_result_status(conn, *res) == SG_OK)
		return SG_OK;
	st = db_fail(conn, *res, err);
	PQclear(*res);
	*res = NULL;
	return st;
}

/* Runs a query whose one row and column is JSON text, into *out. */
static sg_status
exec_json(PGconn *conn, const char *sql, const char *param, json_t **out, struct sg_err *err)
{
	const char *p[1] = {param};
	PGresult *res;
	sg_status st = exec(conn, sql, 1, p, &res, err);
	bool nomem = false;

	if (st != SG_OK)
		return st;
	*out = sg_json_loadb(PQgetvalue(res, 0, 0), (size_t) PQgetlength(res, 0, 0), 0, NULL, &nomem);
	PQclear(res);
	if (*out == NULL)
		return sg_err_nomem(err, sg_fail(err, nomem ? SG_E_NOMEM : SG_E_INTERNAL, NULL,
						 nomem ? "out of memory" : "the database's answer is not JSON"));
	return SG_OK;
}

static sg_status
not_found(struct sg_err *err, const char *what, const char *name)
{
	return sg_fail(err, SG_E_NOT_FOUND, NULL, "%s '%.*s' not found", what, (int) sg_utf8_prefix(name, 256), name);
}

/* The principal name's one row of the list, as an object. */
static sg_status
principal_get(PGconn *conn, const char *name, json_t **out, struct sg_err *err)
{
	json_t *list = NULL;
	sg_status st = exec_json(conn, principals_sql, name, &list, err);

	if (st != SG_OK)
		return st;
	*out = json_incref(json_array_get(list, 0));
	json_decref(list);
	return *out != NULL ? SG_OK : not_found(err, "principal", name);
}

static sg_status
rollback(PGconn *conn, sg_status st)
{
	PQclear(db_exec(conn, "ROLLBACK", 0, NULL));
	return st;
}

/* add and set, in one transaction: the row, then its attributes replaced. */
static sg_status
principal_write(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err)
{
	/* No attribute means none: an object with every category null, never JSON null. */
	char *attrs = auth_cli_attrs_json(a);
	const char *p[2] = {a->name, attrs};
	PGresult *res = NULL;
	sg_status st;

	if (attrs == NULL)
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	if ((st = exec(conn, "BEGIN", 0, NULL, &res, err)) != SG_OK)
		goto out;
	PQclear(res);
	res = NULL;
	if (a->cmd == AUTH_CLI_PRINCIPAL_ADD) {
		res = db_exec(conn, "INSERT INTO principals (name) VALUES ($1)", 1, p);
		if (strcmp(res_state(res), "23505") == 0) {
			st = rollback(conn, sg_fail(err, SG_E_CONFLICT, "name", "principal '%.*s' already exists",
						    (int) sg_utf8_prefix(a->name, 256), a->name));
			goto out;
		}
		if (db_result_status(conn, res) != SG_OK) {
			st = rollback(conn, db_fail(conn, res, err));
			goto out;
		}
	} else {
		if ((st = exec(conn, "UPDATE principals SET updated_at = now() WHERE name = $1", 1, p, &res, err)) !=
		    SG_OK) {
			st = rollback(conn, st);
			goto out;
		}
		if (strcmp(PQcmdTuples(res), "1") != 0) {
			st = rollback(conn, not_found(err, "principal", a->name));
			goto out;
		}
		PQclear(res);
		if ((st = exec(conn, "DELETE FROM principal_attributes WHERE principal = $1", 1, p, &res, err)) !=
		    SG_OK) {
			st = rollback(conn, st);
			goto out;
		}
	}
	PQclear(res);
	if ((st = exec(conn, insert_attrs_sql, 2, p, &res, err)) != SG_OK) {
		st = rollback(conn, st);
		goto out;
	}
	PQclear(res);
	if ((st = exec(conn, "COMMIT", 0, NULL, &res, err)) != SG_OK)
		goto out;
	st = principal_get(conn, a->name, out, err);
out:
	PQclear(res);
	free(attrs);
	return st;
}

/* remove, enable, disable: one statement on one principal. */
static sg_status
principal_one(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err)
{
	const char *p[1] = {a->name};
	const char *sql = a->cmd == AUTH_CLI_PRINCIPAL_REMOVE ? "DELETE FROM principals WHERE name = $1"
			  : a->cmd == AUTH_CLI_PRINCIPAL_ENABLE
				  ? "UPDATE principals SET disabled = false, updated_at = now() WHERE name = $1"
				  : "UPDATE principals SET disabled = true, updated_at = now() WHERE name = $1";
	PGresult *res;
	sg_status st = exec(conn, sql, 1, p, &res, err);
	bool none;

	if (st != SG_OK)
		return st;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none)
		return not_found(err, "principal", a->name);
	if (a->cmd != AUTH_CLI_PRINCIPAL_REMOVE)
		return principal_get(conn, a->name, out, err);
	*out = json_pack("{s:s,s:b}", "name", a->name, "removed", 1);
	return *out != NULL ? SG_OK : sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
}

static sg_status
key_create(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err)
{
	static const char sql[] =
		"INSERT INTO api_keys (key_id, principal, key_sha256, description, expires_at)"
		" VALUES ($1, $2, $3::bytea, $4,"
		"  coalesce($5::timestamptz, now() + make_interval(days => $6::int)))"
		" RETURNING " TS("expires_at") ", coalesce(expires_at <= now(), false)";
	char key[AUTH_KEY_LEN + 1], key_id[AUTH_KEY_ID_LEN + 1], days[24];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	/* The digest goes as a binary parameter ($3, format 1); the others as text. */
	const char *p[6] = {key_id, a->name, (const char *) digest, a->description, a->expires_at, NULL};
	const int lengths[6] = {0, 0, SHA256_DIGEST_LENGTH, 0, 0, 0}, formats[6] = {0, 0, 1, 0, 0, 0};
	sg_status st = SG_E_INTERNAL;

	if (a->expires_in_days > 0) {
		snprintf(days, sizeof(days), "%ld", a->expires_in_days);
		p[5] = days;
	}
	/* A key id collision (48 random bits) is unlikely; try a few times. */
	for (int attempt = 0; attempt < 3; attempt++) {
		PGresult *res;
		const char *state;
		bool collision;

		if (auth_key_generate(key, key_id) != SG_OK) {
			st = sg_fail(err, SG_E_INTERNAL, NULL, "cannot read /dev/urandom");
			break;
		}
		SHA256((const unsigned char *) key, AUTH_KEY_LEN, digest);
		res = db_exec_formats(conn, sql, 6, p, lengths, formats);
		state = res_state(res); /* in res: read it before PQclear */
		collision = strcmp(state, "23505") == 0;
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			const char *exp = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);

			*out = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:b}", "key", key, "key_id", key_id, "principal",
					 a->name, "description", a->description, "expires_at", exp, "expired",
					 strcmp(PQgetvalue(res, 0, 1), "t") == 0);
			st = *out != NULL ? SG_OK : sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		} else if (strcmp(state, "23503") == 0) {
			st = not_found(err, "principal", a->name);
		} else if (strncmp(state, "22", 2) == 0 && a->expires_at != NULL) {
			/* A data exception here can only be the date: the caller's. */
			sg_err_detail(err, "%s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
			st = sg_fail(err, SG_E_BAD_REQUEST, "expires_at",
				     "expires_at '%.*s' is not a date and time (ISO 8601)",
				     (int) sg_utf8_prefix(a->expires_at, 64), a->expires_at);
		} else if (!collision) {
			st = db_fail(conn, res, err);
		}
		PQclear(res);
		if (!collision)
			break;
	}
	explicit_bzero(key, sizeof(key));
	return st;
}

static sg_status
key_revoke(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err)
{
	char id[AUTH_KEY_ID_LEN + 1];
	const char *p[1] = {a->name};
	PGresult *res;
	sg_status st;
	bool now, exists = true;

	/* A whole key is accepted too: its id is in it. */
	if (auth_key_parse(a->name, strlen(a->name), id))
		p[0] = id;
	st = exec(conn, "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", 1, p, &res,
		  err);
	if (st != SG_OK)
		return st;
	now = strcmp(PQcmdTuples(res), "1") == 0;
	PQclear(res);
	if (!now) {
		if ((st = exec(conn, "SELECT 1 FROM api_keys WHERE key_id = $1", 1, p, &res, err)) != SG_OK)
			return st;
		exists = PQntuples(res) > 0;
		PQclear(res);
	}
	if (!exists)
		return not_found(err, "key", p[0]);
	*out = json_pack("{s:s,s:b,s:b}", "key_id", p[0], "revoked", 1, "already_revoked", !now);
	return *out != NULL ? SG_OK : sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
}

sg_status
admin_run(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err)
{
	*out = NULL;
	switch (a->cmd) {
	case AUTH_CLI_PRINCIPAL_ADD:
	case AUTH_CLI_PRINCIPAL_SET:
		return principal_write(conn, a, out, err);
	case AUTH_CLI_PRINCIPAL_LIST:
		return exec_json(conn, principals_sql, NULL, out, err);
	case AUTH_CLI_PRINCIPAL_REMOVE:
	case AUTH_CLI_PRINCIPAL_ENABLE:
	case AUTH_CLI_PRINCIPAL_DISABLE:
		return principal_one(conn, a, out, err);
	case AUTH_CLI_KEY_CREATE:
		return key_create(conn, a, out, err);
	case AUTH_CLI_KEY_LIST:
		return exec_json(conn, keys_sql, a->name, out, err);
	case AUTH_CLI_KEY_REVOKE:
		return key_revoke(conn, a, out, err);
	case AUTH_CLI_HELP:
		break;
	}
	return sg_fail(err, SG_E_INTERNAL, NULL, "no such admin command");
}
