/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_unregister.c: the guarded unregister (registry.h: struct
 * registry_guard).  One transaction locks the row, runs the caller's guard on
 * it as locked, deletes it, and names what refers to it when a reference
 * refuses the delete; registry_run() (registry.c) runs and commits it.
 */
#include "config.h"

#include <stdio.h>

#include "registry_int.h"

static void
not_found(struct txn *x)
{
	sg_fail(x->err, SG_E_NOT_FOUND, NULL, "%s '%.*s' not found", registry_rdesc[x->t].label,
		(int) sg_utf8_prefix(x->id, 300), x->id);
}

/* The in-use message after a DELETE refused by a reference: names the first referring object the guard allows. */
static void
in_use(PGconn *c, struct txn *x)
{
	const struct rdesc *d = &registry_rdesc[x->t];
	const struct registry_guard *g = x->guard;
	const char *id = x->id;
	int idn = (int) sg_utf8_prefix(id, 200);
	sg_status st;
	PGresult *r = d->users ? registry_q(c, NULL, registry_sql[x->t][Q_USERS], 1, &id, &st) : NULL;

	sg_fail(x->err, SG_E_CONFLICT, NULL, "%s '%.*s' is in use", d->name, idn, id);
	for (int i = 0; r != NULL && st == SG_OK && i < PQntuples(r); i++) {
		struct row u;
		bool named = false;

		if (!registry_row_of(d->users_t, r, i, &u))
			continue;
		if (g == NULL || g->may_name == NULL || g->may_name(g->ctx, u.obj)) {
			const char *uid = json_string_value(json_object_get(u.obj, "identifier"));

			sg_fail(x->err, SG_E_CONFLICT, NULL, "%s '%.*s' is in use by %s '%.*s'", d->name, idn, id,
				registry_rdesc[d->users_t].name, (int) sg_utf8_prefix(uid, 200), uid);
			named = true;
		}
		json_decref(u.obj);
		if (named)
			break;
	}
	PQclear(r);
}

/*
 * BEGIN; the row FOR UPDATE; the guard's decision on it; DELETE.  The lock
 * holds the row as judged until the COMMIT: a concurrent change of its ACL
 * or owner either commits first (and is judged) or waits for the delete.
 */
static sg_status
tx_unregister(PGconn *c, struct txn *x)
{
	const struct registry_guard *g = x->guard;
	sg_status st = registry_cmd(c, x, "BEGIN");
	size_t n = registry_row_ncols(x->t);
	PGresult *r = st == SG_OK ? registry_q(c, x, registry_sql[x->t][Q_LOCK_DELETE], 1, &x->id, &st) : NULL;

	if (st == SG_OK && PQntuples(r) == 0) {
		st = SG_E_NOT_FOUND;
	} else if (st == SG_OK && !registry_row_of(x->t, r, 0, &x->row)) {
		st = SG_E_INTERNAL;
	} else if (st == SG_OK && g != NULL && g->may_delete != NULL) {
		const char *owner = PQgetisnull(r, 0, C_OWNER) ? NULL : PQgetvalue(r, 0, C_OWNER);
		bool from_config = !PQgetisnull(r, 0, (int) n + 2) && PQgetvalue(r, 0, (int) n + 2)[0] == 't';

		st = g->may_delete(g->ctx, x->row.obj, owner, from_config, x->err);
	}
	PQclear(r);
	json_decref(x->row.obj);
	x->row.obj = NULL;
	if (st == SG_E_NOT_FOUND)
		not_found(x);
	if (st != SG_OK)
		return st;
	PQclear(registry_q(c, x, registry_sql[x->t][Q_DELETE], 1, &x->id, &st));
	if (st == SG_E_CONFLICT) {
		registry_cmd(c, x, "ROLLBACK");
		in_use(c, x);
	}
	return st;
}

sg_status
registry_unregister(enum sg_rtype t, const char *identifier, const struct registry_guard *guard, struct sg_err *err)
{
	struct txn x = {.t = t, .id = identifier, .guard = guard, .drop = true, .err = err};

	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return SG_E_NOT_FOUND;
	registry_ensure_init();
	return registry_run(tx_unregister, &x);
}

sg_status
registry_unregister_tool_group(const char *identifier, const struct registry_guard *guard, struct sg_err *err)
{
	return registry_unregister(SG_RT_TOOL_GROUP, identifier, guard, err);
}
