/* SPDX-License-Identifier: Apache-2.0 */
/*
 * principal.c: the daemon's reads of principals and principal_attributes
 * (see principal.h for why this is its own module).
 */
#include "config.h"

#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "principal.h"

sg_status
principal_fetch(const char *name, struct sg_attrs *attrs, bool *disabled)
{
	static const char sql[] =
		"SELECT p.disabled, a.category, a.value FROM principals p"
		" LEFT JOIN principal_attributes a ON a.principal = p.name"
		" WHERE p.name = $1";
	const char *params[1] = {name};
	PGconn *conn;
	PGresult *res;
	sg_status st;

	*disabled = false;
	if (db_query(sql, 1, params, &conn, &res) != SG_OK) {
		st = SG_E_UNAVAILABLE; /* whatever went wrong (logged), the caller's attributes cannot be read */
		goto out;
	}
	st = SG_OK;
	for (int i = 0; i < PQntuples(res); i++) {
		enum sg_attr_cat c;

		*disabled = strcmp(PQgetvalue(res, i, 0), "t") == 0;
		if (PQgetisnull(res, i, 1) || !acl_category_from_name(PQgetvalue(res, i, 1), &c))
			continue;
		attrs->present = true;
		attrs->set[c] = true;
		if (!sg_strv_push(&attrs->cat[c], PQgetvalue(res, i, 2))) {
			st = SG_E_NOMEM;
			goto out;
		}
	}
out:
	db_done(conn, res);
	return st;
}
