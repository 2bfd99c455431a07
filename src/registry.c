/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c: the resource registry's transactions and public interface.
 * From the per-type descriptors (registry_rows.c) it builds, once per
 * process, the SQL text, so one generic get/list/register/unregister serves
 * all eight tables (the unregister is in registry_unregister.c).  SQL text
 * comes only from the static descriptors; every value travels as a
 * parameter.  Reads answer from the per-process cache (registry_cache.c)
 * once it is loaded; writes commit through registry_listen.c so this process
 * reads its own writes (registry.h describes the rules and the locks).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "registry_int.h"

/* Foreign keys: what a violation on insert means, named by constraint. */
static const struct {
	const char *constraint, *column, *what;
} fks[] = {
	{"vector_dbs_embedding_model_fkey", "embedding_model", "embedding model"},
	{"benchmarks_dataset_id_fkey", "dataset_id", "dataset"},
	{"benchmarks_scoring_functions_fkey", NULL, "scoring function"}, /* the trigger's DETAIL names it */
	{"tools_toolgroup_id_fkey", "toolgroup_id", "tool group"},
};

char registry_sql[SG_RT_COUNT][Q_COUNT][SQL_MAX];

/* ---- SQL text ---- */

/* The select list of type t's statements: its columns (text[] as JSON), then created_at and seq. */
static void
select_list(enum sg_rtype t, char *sel, size_t len)
{
	size_t ns = 0, n = registry_row_ncols(t);

	for (size_t i = 0; i < n; i++) {
		const struct col *c = registry_col_at(t, i);
		bool arr = c->kind == K_TEXTV;

		ns += (size_t) snprintf(sel + ns, len - ns, "%s%s%s%s", i ? ", " : "", arr ? "to_json(" : "", c->name,
					arr ? ")" : "");
	}
	snprintf(sel + ns, len - ns, ", extract(epoch FROM created_at)::bigint, seq, from_config");
}

static void
build_sql(enum sg_rtype t)
{
	char sel[768], cols[512], vals[768], usel[768];
	size_t nc = 0, nv = 0, n = registry_row_ncols(t);
	const struct rdesc *d = &registry_rdesc[t];
	const char *tb = d->table;
	char(*s)[SQL_MAX] = registry_sql[t];
	char sets[1024];
	size_t nset = 0;
	/* Per kind: how a parameter becomes the column's type. */
	static const char *const vpre[] = {"", "", "", "sg_registry_text_array(", ""};
	static const char *const vsuf[] = {"", "::integer", "::jsonb", "::jsonb)", "::boolean"};

	select_list(t, sel, sizeof(sel));
	for (size_t i = 0; i < n; i++) {
		const struct col *c = registry_col_at(t, i);

		nc += (size_t) snprintf(cols + nc, sizeof(cols) - nc, "%s, ", c->name);
		nv += (size_t) snprintf(vals + nv, sizeof(vals) - nv, "%s$%zu%s, ", vpre[c->kind], i + 1,
					vsuf[c->kind]);
		if (i != C_ID && i != C_OWNER)
			nset += (size_t) snprintf(sets + nset, sizeof(sets) - nset, "%s%s = %s$%zu%s", nset ? ", " : "",
						  c->name, vpre[c->kind], i + 1, vsuf[c->kind]);
	}
	snprintf(s[Q_UPDATE], sizeof(s[Q_UPDATE]),
		 "UPDATE %s SET %s WHERE identifier = $1 AND owner IS NOT DISTINCT FROM $%d RETURNING %s", tb, sets,
		 C_OWNER + 1, sel);
	snprintf(s[Q_GET], sizeof(s[Q_GET]), "SELECT %s FROM %s WHERE identifier = $1", sel, tb);
	snprintf(s[Q_LOCK], sizeof(s[Q_LOCK]), "SELECT %s FROM %s WHERE identifier = $1 FOR SHARE", sel, tb);
	snprintf(s[Q_LOCK_DELETE], sizeof(s[Q_LOCK_DELETE]), "SELECT %s FROM %s WHERE identifier = $1 FOR UPDATE", sel,
		 tb);
	snprintf(s[Q_LIST], sizeof(s[Q_LIST]), "SELECT %s FROM %s ORDER BY seq", sel, tb);
	snprintf(s[Q_LIST_GROUP], sizeof(s[Q_LIST_GROUP]), "SELECT %s FROM %s WHERE toolgroup_id = $1 ORDER BY seq",
		 sel, tb);
	/* The last parameter is from_config, which is no key of the object. */
	snprintf(s[Q_INSERT], sizeof(s[Q_INSERT]),
		 "INSERT INTO %s (%sfrom_config) VALUES (%s$%zu::boolean) ON CONFLICT (identifier) DO NOTHING "
		 "RETURNING %s",
		 tb, cols, vals, n + 1, sel);
	snprintf(s[Q_CLAIM], sizeof(s[Q_CLAIM]),
		 "UPDATE %s SET from_config = true WHERE identifier = $1 AND NOT from_config", tb);
	snprintf(s[Q_DELETE], sizeof(s[Q_DELETE]), "DELETE FROM %s WHERE identifier = $1", tb);
	if (d->users != NULL) {
		select_list(d->users_t, usel, sizeof(usel));
		snprintf(s[Q_USERS], sizeof(s[Q_USERS]), "SELECT %s FROM %s WHERE %s ORDER BY seq LIMIT %d", usel,
			 registry_rdesc[d->users_t].table, d->users, USERS_MAX);
	}
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init_once(void)
{
	for (int t = 0; t < SG_RT_COUNT; t++)
		build_sql((enum sg_rtype) t);
	registry_cache_init();
}

void
registry_ensure_init(void)
{
	pthread_once(&once, init_once);
}

/* ---- transactions ---- */

PGresult *
registry_q(PGconn *c, struct txn *x, const char *s, int n, const char *const *v, sg_status *st)
{
	PGresult *r = db_exec(c, s, n, v);

	*st = db_result_status(c, r);
	if (*st != SG_OK && x != NULL && db_result_retryable(c, r))
		x->retry = true;
	return r;
}

sg_status
registry_cmd(PGconn *c, struct txn *x, const char *s)
{
	sg_status st;

	PQclear(registry_q(c, x, s, 0, NULL, &st));
	return st;
}

sg_status
registry_begin_exec(PGconn *c, struct txn *x, const char *const *stmts, int n, const char *const *v)
{
	sg_status st = registry_cmd(c, x, "BEGIN");

	for (; st == SG_OK && *stmts != NULL; stmts++)
		PQclear(registry_q(c, x, *stmts, n, v, &st));
	return st;
}

/* Whether a stored object (with its origin) is the canonical new one: the origin is no part of it. */
static bool
same_object(json_t *stored, const json_t *canon)
{
	json_t *pub = registry_public(json_incref(stored));
	bool same = pub != NULL && json_equal(pub, canon);

	json_decref(pub);
	return same;
}

static void
txn_reset(struct txn *x)
{
	json_decref(x->row.obj);
	json_decref(x->list);
	x->row.obj = x->list = NULL;
	for (size_t i = 0; x->trows != NULL && i < x->ntools; i++) {
		json_decref(x->trows[i].obj);
		x->trows[i].obj = NULL;
	}
	x->created = false;
}

/* registry_int.h */
sg_status
registry_run(sg_status (*fn)(PGconn *, struct txn *), struct txn *x)
{
	sg_status st = SG_E_UNAVAILABLE;

	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = db_acquire();

		if (c == NULL)
			break;
		x->retry = false;
		sg_err_reset(x->err);
		st = fn(c, x);
		if (st == SG_OK && PQtransactionStatus(c) == PQTRANS_INTRANS)
			st = registry_cache_commit(c, x);
		if (!db_conn_broken(c) && PQtransactionStatus(c) != PQTRANS_IDLE)
			PQclear(PQexec(c, "ROLLBACK"));
		db_release(c, db_conn_broken(c));
		if (st == SG_OK || !x->retry)
			break;
		txn_reset(x);
		st = SG_E_UNAVAILABLE;
	}
	if (st == SG_E_UNAVAILABLE)
		sg_fail(x->err, st, NULL, "the registry database is unavailable");
	else if (st != SG_OK && x->err != NULL && x->err->msg[0] == '\0')
		sg_fail(x->err, st, NULL, "the registry could not store the %s", registry_rdesc[x->t].name);
	return st;
}

static sg_status
tx_get(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = registry_q(c, x, registry_sql[x->t][Q_GET], 1, &x->id, &st);

	if (st == SG_OK && PQntuples(r) == 0)
		st = SG_E_NOT_FOUND;
	else if (st == SG_OK && !registry_row_of(x->t, r, 0, &x->row))
		st = SG_E_INTERNAL;
	PQclear(r);
	return st;
}

static sg_status
tx_list(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = registry_q(c, x, registry_sql[x->t][x->id ? Q_LIST_GROUP : Q_LIST], x->id ? 1 : 0, &x->id, &st);
	struct row rw;

	x->list = json_array();
	if (st == SG_OK && x->list == NULL)
		st = SG_E_NOMEM;
	for (int i = 0; st == SG_OK && i < PQntuples(r); i++)
		if (registry_row_of(x->t, r, i, &rw) && json_array_append_new(x->list, rw.obj) != 0)
			st = SG_E_NOMEM;
	PQclear(r);
	return st;
}

static const char *
row_value(enum sg_rtype t, char **vals, const char *column)
{
	for (size_t i = 0; column != NULL && i < registry_row_ncols(t); i++)
		if (strcmp(registry_col_at(t, i)->name, column) == 0)
			return vals[i];
	return NULL;
}

/* The client message for a failed insert of vals; may turn the status into a 400. */
static sg_status
insert_failed(struct txn *x, enum sg_rtype t, char **vals, const PGresult *r, sg_status st)
{
	const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *name = registry_rdesc[t].name, *id = vals[C_ID];

	if (st == SG_E_CONFLICT && con != NULL && strcmp(con, "vector_dbs_embedding_dimension_fkey") == 0) {
		return sg_fail(x->err, SG_E_BAD_REQUEST, NULL, "%s '%s': model '%s' has no embedding dimension %s",
			       name, id, row_value(t, vals, "embedding_model"),
			       row_value(t, vals, "embedding_dimension"));
	}
	for (size_t i = 0; st == SG_E_CONFLICT && con != NULL && i < SG_ARRAY_LEN(fks); i++) {
		const char *v = fks[i].column ? row_value(t, vals, fks[i].column)
					      : PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);

		if (strcmp(con, fks[i].constraint) == 0 && v != NULL)
			return sg_fail(x->err, st, NULL, "%s '%s' refers to %s '%s', which does not exist", name, id,
				       fks[i].what, v);
	}
	if (st == SG_E_BAD_REQUEST)
		sg_fail(x->err, st, NULL, "%s '%s' has an invalid value%s%s%s", name, id, con ? " (" : "",
			con ? con : "", con ? ")" : "");
	return st;
}

/* INSERT … ON CONFLICT DO NOTHING: 1 inserted (*out), 0 the identifier exists, -1 failed (*st). */
static int
insert_row(PGconn *c, struct txn *x, enum sg_rtype t, char **vals, struct row *out, sg_status *st)
{
	const char *p[MAXROW + 1];
	size_t n = registry_row_ncols(t);
	PGresult *r;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		p[i] = vals[i];
	p[n] = x->from_config ? "t" : "f";
	r = registry_q(c, x, registry_sql[t][Q_INSERT], (int) n + 1, p, st);

	if (*st != SG_OK)
		*st = insert_failed(x, t, vals, r, *st);
	else if (PQntuples(r) == 0)
		rc = 0;
	else if (registry_row_of(t, r, 0, out))
		rc = 1;
	else
		*st = SG_E_INTERNAL;
	PQclear(r);
	return rc;
}

/* The existing row, locked FOR SHARE: SG_OK, SG_E_NOT_FOUND (deleted meanwhile) or a failure. */
static sg_status
read_locked(PGconn *c, struct txn *x, enum sg_rtype t, const char *id, struct row *out)
{
	sg_status st;
	PGresult *r = registry_q(c, x, registry_sql[t][Q_LOCK], 1, &id, &st);

	if (st == SG_OK && PQntuples(r) == 0)
		st = SG_E_NOT_FOUND;
	else if (st == SG_OK && !registry_row_of(t, r, 0, out))
		st = SG_E_INTERNAL;
	PQclear(r);
	return st;
}

sg_status
registry_taken_message(enum sg_rtype t, const char *identifier, struct sg_err *err)
{
	const char *id = identifier ? identifier : "", *label = registry_type_label(t);

	return sg_fail(err, SG_E_CONFLICT, NULL, "%s '%.*s' already exists", label ? label : "Resource",
		       (int) sg_utf8_prefix(id, 300), id);
}

static sg_status
differs(struct txn *x, const json_t *old)
{
	if (same_object((json_t *) old, x->canon))
		return SG_OK;
	return registry_taken_message(x->t, x->id, x->err);
}

/* An identical object the config registers becomes the config's (rows from before 003_origin, or the API's). */
static sg_status
claim(PGconn *c, struct txn *x)
{
	sg_status st = SG_OK;

	if (x->from_config)
		PQclear(registry_q(c, x, registry_sql[x->t][Q_CLAIM], 1, &x->id, &st));
	if (x->from_config && st == SG_OK && x->t == SG_RT_TOOL_GROUP)
		PQclear(registry_q(c, x,
				   "UPDATE tools SET from_config = true WHERE toolgroup_id = $1 AND NOT from_config", 1,
				   &x->id, &st));
	return st;
}

static sg_status
tx_register(PGconn *c, struct txn *x)
{
	sg_status st = SG_OK;

	/* The existing row may vanish between the INSERT and the read: then insert again. */
	for (int tries = 0; tries < 3; tries++) {
		int ins;

		if ((st = registry_cmd(c, x, "BEGIN")) != SG_OK)
			return st;
		if ((ins = insert_row(c, x, x->t, x->vals, &x->row, &st)) < 0)
			return st;
		x->created = ins == 1;
		if (ins == 0 && (st = read_locked(c, x, x->t, x->id, &x->row)) == SG_E_NOT_FOUND) {
			registry_cmd(c, x, "ROLLBACK");
			continue;
		}
		if (st == SG_OK && !x->created && (st = differs(x, x->row.obj)) == SG_OK)
			st = claim(c, x);
		return st;
	}
	return sg_fail(x->err, SG_E_CONFLICT, NULL, "%s '%.*s' is being changed concurrently; try again",
		       registry_rdesc[x->t].name, (int) sg_utf8_prefix(x->id, 300), x->id);
}

/* Whether the group's stored tools are exactly the new ones (as a set, each canonical). */
static sg_status
same_tools(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = registry_q(c, x, registry_sql[SG_RT_TOOL][Q_LIST_GROUP], 1, &x->id, &st);
	bool same = st == SG_OK && (size_t) PQntuples(r) == x->ntools;

	for (int i = 0; same && i < PQntuples(r); i++) {
		struct row old;

		same = registry_row_of(SG_RT_TOOL, r, i, &old);
		for (size_t j = 0; same && j < x->ntools; j++) {
			if (strcmp(PQgetvalue(r, i, C_ID), x->tvals[j * MAXROW + C_ID]) == 0) {
				same = same_object(old.obj, x->tcanon[j]);
				break;
			}
			same = j + 1 < x->ntools;
		}
		json_decref(old.obj);
	}
	PQclear(r);
	if (st == SG_OK && !same) {
		registry_taken_message(SG_RT_TOOL_GROUP, x->id, x->err);
		st = SG_E_CONFLICT;
	}
	return st;
}

/*
 * A tool's identifier is taken.  The group was created in this transaction,
 * so a holder with its id means the list named the tool twice; any other
 * holder is not named (it may be another tenant's).
 */
static sg_status
tool_taken(PGconn *c, struct txn *x, const char *tool)
{
	sg_status st;
	PGresult *r = registry_q(c, x, "SELECT toolgroup_id FROM tools WHERE identifier = $1", 1, &tool, &st);
	const char *g = st == SG_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : NULL;

	if (g != NULL && strcmp(g, x->id) == 0)
		sg_fail(x->err, SG_E_CONFLICT, NULL, "tool '%.*s' is listed twice in tool_group '%.*s'",
			(int) sg_utf8_prefix(tool, 200), tool, (int) sg_utf8_prefix(x->id, 200), x->id);
	else
		registry_taken_message(SG_RT_TOOL, tool, x->err);
	PQclear(r);
	return st == SG_OK ? SG_E_CONFLICT : st;
}

static sg_status
tx_register_group(PGconn *c, struct txn *x)
{
	sg_status st = SG_OK;

	for (int tries = 0; tries < 3; tries++) {
		int ins;

		if ((st = registry_cmd(c, x, "BEGIN")) != SG_OK)
			return st;
		if ((ins = insert_row(c, x, SG_RT_TOOL_GROUP, x->vals, &x->row, &st)) < 0)
			return st;
		x->created = ins == 1;
		for (size_t i = 0; x->created && i < x->ntools; i++) {
			char **tv = &x->tvals[i * MAXROW];

			if ((ins = insert_row(c, x, SG_RT_TOOL, tv, &x->trows[i], &st)) < 0)
				return st;
			if (ins == 0)
				return tool_taken(c, x, tv[C_ID]);
		}
		if (!x->created && (st = read_locked(c, x, SG_RT_TOOL_GROUP, x->id, &x->row)) == SG_E_NOT_FOUND) {
			registry_cmd(c, x, "ROLLBACK");
			continue;
		}
		if (st == SG_OK && !x->created && (st = differs(x, x->row.obj)) == SG_OK &&
		    (st = same_tools(c, x)) == SG_OK)
			st = claim(c, x);
		return st;
	}
	return sg_fail(x->err, SG_E_CONFLICT, NULL, "tool_group '%.*s' is being changed concurrently; try again",
		       (int) sg_utf8_prefix(x->id, 300), x->id);
}

/* ---- the interface ---- */

sg_status
registry_get(enum sg_rtype t, const char *identifier, json_t **out)
{
	struct txn x = {.t = t, .id = identifier};
	sg_status st;
	int hit;

	*out = NULL;
	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return SG_E_NOT_FOUND;
	registry_ensure_init();
	if ((hit = registry_cache_get(t, identifier, out, NULL)) >= 0)
		return hit == 0 ? SG_E_NOT_FOUND : *out != NULL ? SG_OK : SG_E_NOMEM;
	st = registry_run(tx_get, &x);
	*out = x.row.obj;
	return st;
}

long long
registry_created_at(enum sg_rtype t, const char *identifier)
{
	struct txn x = {.t = t, .id = identifier};
	long long created = 0;

	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return 0;
	registry_ensure_init();
	if (registry_cache_get(t, identifier, NULL, &created) >= 0)
		return created;
	if (registry_run(tx_get, &x) == SG_OK)
		created = x.row.created;
	json_decref(x.row.obj);
	return created;
}

sg_status
registry_list(enum sg_rtype t, const char *toolgroup_id, json_t **out)
{
	const char *g = t == SG_RT_TOOL ? toolgroup_id : NULL;
	struct txn x = {.t = t, .id = g};
	sg_status st;

	*out = NULL;
	if ((unsigned) t >= SG_RT_COUNT)
		return SG_E_NOT_FOUND;
	registry_ensure_init();
	if (registry_cache_list(t, g, out) >= 0)
		return *out != NULL ? SG_OK : SG_E_NOMEM;
	st = registry_run(tx_list, &x);
	*out = st == SG_OK ? x.list : NULL;
	if (st != SG_OK)
		json_decref(x.list);
	return st;
}

/* obj as a row and as it will read back. */
static sg_status
prepare(enum sg_rtype t, const json_t *obj, const char *owner, char **vals, json_t **canon, struct sg_err *err)
{
	sg_status st = registry_row_from_object(t, obj, owner, vals, err);

	if (st == SG_OK && (*canon = registry_row_to_object(t, (const char *const *) vals)) == NULL) {
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	}
	return st;
}

sg_status
registry_register(enum sg_rtype t, json_t *obj, const char *owner, bool from_config, json_t **stored, bool *created,
		  struct sg_err *err)
{
	char *vals[MAXROW];
	struct txn x = {.t = t, .vals = vals, .from_config = from_config, .err = err};
	sg_status st;

	if (stored != NULL)
		*stored = NULL;
	if (created != NULL)
		*created = false;
	if ((unsigned) t >= SG_RT_COUNT)
		return SG_E_BAD_REQUEST;
	registry_ensure_init();
	st = prepare(t, obj, owner, vals, &x.canon, err);
	if (st != SG_OK)
		goto out;
	x.id = vals[C_ID];
	st = registry_run(tx_register, &x);
	if (st == SG_OK && created != NULL)
		*created = x.created;
	if (st == SG_OK && stored != NULL)
		*stored = json_incref(x.row.obj);
out:
	json_decref(x.row.obj);
	json_decref(x.canon);
	registry_row_free(t, vals);
	return st;
}

/* UPDATE the row as x->vals says; SG_E_NOT_FOUND when it is gone or changed hands meanwhile. */
static sg_status
tx_replace(PGconn *c, struct txn *x)
{
	size_t n = registry_row_ncols(x->t);
	sg_status st = registry_cmd(c, x, "BEGIN");
	PGresult *r = st == SG_OK ? registry_q(c, x, registry_sql[x->t][Q_UPDATE], (int) n,
					       (const char *const *) x->vals, &st)
				  : NULL;

	if (st != SG_OK && r != NULL)
		st = insert_failed(x, x->t, x->vals, r, st);
	else if (st == SG_OK && PQntuples(r) == 0)
		st = SG_E_NOT_FOUND;
	else if (st == SG_OK && !registry_row_of(x->t, r, 0, &x->row))
		st = SG_E_INTERNAL;
	PQclear(r);
	return st;
}

sg_status
registry_replace(enum sg_rtype t, json_t *obj, const char *owner, json_t **stored, struct sg_err *err)
{
	char *vals[MAXROW];
	struct txn x = {.t = t, .vals = vals, .err = err};
	sg_status st;

	*stored = NULL;
	if ((unsigned) t >= SG_RT_COUNT || t == SG_RT_TOOL_GROUP || t == SG_RT_TOOL)
		return sg_fail(err, SG_E_BAD_REQUEST, NULL, "tool groups and tools are not replaced");
	registry_ensure_init();
	st = prepare(t, obj, owner, vals, &x.canon, err);
	if (st == SG_OK) {
		x.id = vals[C_ID];
		st = registry_run(tx_replace, &x);
	}
	if (st == SG_OK)
		*stored = json_incref(x.row.obj);
	json_decref(x.row.obj);
	json_decref(x.canon);
	registry_row_free(t, vals);
	return st;
}

sg_status
registry_register_tool_group(json_t *group, json_t *tools, const char *owner, bool from_config, json_t **stored,
			     bool *created, struct sg_err *err)
{
	char *vals[MAXROW];
	size_t n = json_array_size(tools);
	struct txn x = {.t = SG_RT_TOOL_GROUP, .vals = vals, .ntools = n, .from_config = from_config, .err = err};
	sg_status st;

	if (stored != NULL)
		*stored = NULL;
	if (created != NULL)
		*created = false;
	registry_ensure_init();
	for (size_t i = 0; i < MAXROW; i++)
		vals[i] = NULL;
	x.tvals = sg_calloc(n * MAXROW + 1, sizeof(*x.tvals));
	x.tcanon = sg_calloc(n + 1, sizeof(*x.tcanon));
	x.trows = sg_calloc(n + 1, sizeof(*x.trows));
	if (x.tvals == NULL || x.tcanon == NULL || x.trows == NULL) {
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (tools != NULL && !json_is_array(tools)) {
		st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "the tools of a tool group must be an array");
		goto out;
	}
	st = prepare(SG_RT_TOOL_GROUP, group, owner, vals, &x.canon, err);
	x.id = vals[C_ID];
	for (size_t i = 0; st == SG_OK && i < n; i++) {
		char **tv = &x.tvals[i * MAXROW];

		st = prepare(SG_RT_TOOL, json_array_get(tools, i), owner, tv, &x.tcanon[i], err);
		if (st == SG_OK && strcmp(tv[NCOMMON], x.id) != 0) {
			st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "tool '%.*s' has toolgroup_id '%.*s', not '%.*s'",
				     (int) sg_utf8_prefix(tv[C_ID], 150), tv[C_ID],
				     (int) sg_utf8_prefix(tv[NCOMMON], 150), tv[NCOMMON],
				     (int) sg_utf8_prefix(x.id, 150), x.id);
		}
	}
	if (st != SG_OK)
		goto out;
	st = registry_run(tx_register_group, &x);
	if (st == SG_OK && created != NULL)
		*created = x.created;
	if (st == SG_OK && stored != NULL)
		*stored = json_incref(x.row.obj);
out:
	txn_reset(&x);
	json_decref(x.canon);
	registry_row_free(SG_RT_TOOL_GROUP, vals);
	for (size_t i = 0; x.tvals != NULL && x.tcanon != NULL && i < n; i++) {
		registry_row_free(SG_RT_TOOL, &x.tvals[i * MAXROW]);
		json_decref(x.tcanon[i]);
	}
	free(x.tvals);
	free(x.tcanon);
	free(x.trows);
	return st;
}
