/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c: the resource registry.  One descriptor per type lists its
 * columns (name, JSON key, kind); from it come the conversion between API
 * objects and rows and, once per process, the SQL text, so one generic
 * get/list/register/unregister serves all eight tables.  SQL text comes only
 * from the static descriptors; every value travels as a parameter.  The
 * second half is the per-process cache and its LISTEN thread (registry.h
 * describes the rules and the lock).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "registry.h"

enum kind { K_TEXT, K_INT, K_JSONB, K_TEXTV, K_BOOL };

struct col {
	const char *name; /* the SQL column */
	const char *key;  /* the JSON key (NULL: not a key of the object) */
	enum kind kind;
	bool required;    /* NOT NULL: a missing or null value is refused */
};

#define NCOMMON 9
#define MAXCOLS 5
#define MAXROW (NCOMMON + MAXCOLS)
enum { C_ID, C_PRID, C_PID, C_OWNER, C_ACL, C_ROLES };

/* The leading columns of every table; roles…namespaces are access_attributes' members. */
static const struct col common[NCOMMON] = {
	{"identifier", "identifier", K_TEXT, true},
	{"provider_resource_id", "provider_resource_id", K_TEXT, false},
	{"provider_id", "provider_id", K_TEXT, true},
	{"owner", NULL, K_TEXT, false},
	{"has_acl", NULL, K_BOOL, true},
	{"roles", "roles", K_TEXTV, false},
	{"teams", "teams", K_TEXTV, false},
	{"projects", "projects", K_TEXTV, false},
	{"namespaces", "namespaces", K_TEXTV, false},
};

struct rdesc {
	const char *name, *label, *table;
	struct col cols[MAXCOLS]; /* the type's own fields in the API's key order (llama-stack-api.md §1.1) */
	const char *users;        /* one object referring to $1, as "type\tidentifier" (in-use messages) */
};

static const struct rdesc rdesc[SG_RT_COUNT] = {
	[SG_RT_MODEL] = {"model", "Model", "models",
			 {{"metadata", "metadata", K_JSONB, false}, {"model_type", "model_type", K_TEXT, true}},
			 "SELECT 'vector_db', identifier FROM vector_dbs WHERE embedding_model = $1 ORDER BY seq LIMIT 1"},
	[SG_RT_SHIELD] = {"shield", "Shield", "shields", {{"params", "params", K_JSONB, false}}, NULL},
	[SG_RT_VECTOR_DB] = {"vector_db", "Vector DB", "vector_dbs",
			     {{"embedding_model", "embedding_model", K_TEXT, true},
			      {"embedding_dimension", "embedding_dimension", K_INT, true}},
			     NULL},
	[SG_RT_DATASET] = {"dataset", "Dataset", "datasets",
			   {{"purpose", "purpose", K_TEXT, true}, {"source", "source", K_JSONB, true},
			    {"metadata", "metadata", K_JSONB, false}},
			   "SELECT 'benchmark', identifier FROM benchmarks WHERE dataset_id = $1 ORDER BY seq LIMIT 1"},
	[SG_RT_SCORING_FN] = {"scoring_function", "Scoring function", "scoring_functions",
			      {{"description", "description", K_TEXT, false}, {"metadata", "metadata", K_JSONB, false},
			       {"return_type", "return_type", K_JSONB, true}, {"params", "params", K_JSONB, false}},
			      "SELECT 'benchmark', identifier FROM benchmarks WHERE $1 = ANY (scoring_functions) "
			      "ORDER BY seq LIMIT 1"},
	[SG_RT_BENCHMARK] = {"benchmark", "Benchmark", "benchmarks",
			     {{"dataset_id", "dataset_id", K_TEXT, true},
			      {"scoring_functions", "scoring_functions", K_TEXTV, true},
			      {"metadata", "metadata", K_JSONB, false}},
			     NULL},
	[SG_RT_TOOL_GROUP] = {"tool_group", "Tool group", "tool_groups",
			      {{"mcp_endpoint", "mcp_endpoint", K_JSONB, false}, {"args", "args", K_JSONB, false}},
			      NULL},
	[SG_RT_TOOL] = {"tool", "Tool", "tools",
			{{"toolgroup_id", "toolgroup_id", K_TEXT, true}, {"tool_host", "tool_host", K_TEXT, false},
			 {"description", "description", K_TEXT, false}, {"parameters", "parameters", K_JSONB, false},
			 {"metadata", "metadata", K_JSONB, false}},
			NULL},
};

/* Foreign keys: what a violation on insert means, named by constraint. */
static const struct {
	const char *constraint, *column, *what;
} fks[] = {
	{"vector_dbs_embedding_model_fkey", "embedding_model", "embedding model"},
	{"benchmarks_dataset_id_fkey", "dataset_id", "dataset"},
	{"benchmarks_scoring_functions_fkey", NULL, "scoring function"}, /* the trigger's DETAIL names it */
	{"tools_toolgroup_id_fkey", "toolgroup_id", "tool group"},
};

enum { Q_GET, Q_LOCK, Q_LIST, Q_LIST_GROUP, Q_INSERT, Q_DELETE, Q_COUNT };
static char sql[SG_RT_COUNT][Q_COUNT][3072];

/* The whole cache; see registry.h for the lock discipline. */
struct entry {
	char *id, *text, *group; /* text: the object as compact JSON; group: a tool's toolgroup_id */
	long long created, seq;
	struct entry *hnext, *prev, *next; /* hash chain; registration order */
};
struct table {
	struct entry **b;
	size_t nb, n;
	struct entry *head, *tail;
};
static struct {
	pthread_mutex_t apply; /* serialises every change of the tables (registry.h) */
	pthread_rwlock_t lock;
	struct table tab[SG_RT_COUNT];
	bool loaded;
	bool running; /* a listener runs: writers apply their commits (guarded by apply) */
	pthread_t thread;
	int wake[2];
	char *conninfo;
} cache;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static size_t
ntyped(enum sg_rtype t)
{
	size_t n = 0;

	while (n < MAXCOLS && rdesc[t].cols[n].name != NULL)
		n++;
	return n;
}

static const struct col *
col_at(enum sg_rtype t, size_t i)
{
	return i < NCOMMON ? &common[i] : &rdesc[t].cols[i - NCOMMON];
}

size_t
registry_row_ncols(enum sg_rtype t)
{
	return NCOMMON + ntyped(t);
}

const char *
registry_row_column(enum sg_rtype t, size_t i)
{
	return i < registry_row_ncols(t) ? col_at(t, i)->name : NULL;
}

const char *
registry_type_name(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rdesc[t].name : NULL;
}

const char *
registry_type_label(enum sg_rtype t)
{
	return (unsigned) t < SG_RT_COUNT ? rdesc[t].label : NULL;
}

bool
registry_type_from_name(const char *name, enum sg_rtype *out)
{
	for (int t = 0; name != NULL && t < SG_RT_COUNT; t++) {
		if (strcmp(rdesc[t].name, name) == 0) {
			*out = (enum sg_rtype) t;
			return true;
		}
	}
	return false;
}

static void
build_sql(enum sg_rtype t)
{
	char sel[768], cols[512], vals[768];
	size_t ns = 0, nc = 0, nv = 0, n = registry_row_ncols(t);
	const char *tb = rdesc[t].table;
	/* Per kind: how a parameter becomes the column's type, and how the column is read. */
	static const char *const vpre[] = {"", "", "", "sg_registry_text_array(", ""};
	static const char *const vsuf[] = {"", "::integer", "::jsonb", "::jsonb)", "::boolean"};

	for (size_t i = 0; i < n; i++) {
		const struct col *c = col_at(t, i);
		const char *sep = i ? ", " : "";
		bool arr = c->kind == K_TEXTV;

		ns += (size_t) snprintf(sel + ns, sizeof(sel) - ns, "%s%s%s%s", sep, arr ? "to_json(" : "", c->name,
					arr ? ")" : "");
		nc += (size_t) snprintf(cols + nc, sizeof(cols) - nc, "%s%s", sep, c->name);
		nv += (size_t) snprintf(vals + nv, sizeof(vals) - nv, "%s%s$%zu%s", sep, vpre[c->kind], i + 1,
					vsuf[c->kind]);
	}
	snprintf(sel + ns, sizeof(sel) - ns, ", extract(epoch FROM created_at)::bigint, seq");
	snprintf(sql[t][Q_GET], sizeof(sql[t][Q_GET]), "SELECT %s FROM %s WHERE identifier = $1", sel, tb);
	snprintf(sql[t][Q_LOCK], sizeof(sql[t][Q_LOCK]), "SELECT %s FROM %s WHERE identifier = $1 FOR SHARE", sel, tb);
	snprintf(sql[t][Q_LIST], sizeof(sql[t][Q_LIST]), "SELECT %s FROM %s ORDER BY seq", sel, tb);
	snprintf(sql[t][Q_LIST_GROUP], sizeof(sql[t][Q_LIST_GROUP]),
		 "SELECT %s FROM %s WHERE toolgroup_id = $1 ORDER BY seq", sel, tb);
	snprintf(sql[t][Q_INSERT], sizeof(sql[t][Q_INSERT]),
		 "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (identifier) DO NOTHING RETURNING %s", tb, cols, vals,
		 sel);
	snprintf(sql[t][Q_DELETE], sizeof(sql[t][Q_DELETE]), "DELETE FROM %s WHERE identifier = $1", tb);
}

static void
init_once(void)
{
	pthread_rwlockattr_t a;

	for (int t = 0; t < SG_RT_COUNT; t++)
		build_sql((enum sg_rtype) t);
	/* Writer-preferring: a steady stream of readers must not starve the listener. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cache.lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&cache.apply, NULL);
}

static void
ensure_init(void)
{
	pthread_once(&once, init_once);
}

/* ---- objects and rows ---- */

static sg_status
encode(const struct col *c, const char *field, const json_t *v, char **out, char *err, size_t errlen)
{
	if (v == NULL || json_is_null(v)) {
		if (!c->required)
			return SG_OK;
		snprintf(err, errlen, "field '%s' is required", field);
		return SG_E_BAD_REQUEST;
	}
	switch (c->kind) {
	case K_TEXT:
		if (!json_is_string(v)) {
			snprintf(err, errlen, "field '%s' must be a string", field);
			return SG_E_BAD_REQUEST;
		}
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen, "field '%s' must not contain a NUL character", field);
			return SG_E_BAD_REQUEST;
		}
		*out = sg_strdup(json_string_value(v));
		break;
	case K_INT:
		if (!json_is_integer(v)) {
			snprintf(err, errlen, "field '%s' must be an integer", field);
			return SG_E_BAD_REQUEST;
		}
		*out = sg_asprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case K_TEXTV:
		for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
			const json_t *e = json_array_get(v, i);

			if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
				v = NULL;
		}
		if (!json_is_array(v)) {
			snprintf(err, errlen, "field '%s' must be an array of strings", field);
			return SG_E_BAD_REQUEST;
		}
		*out = json_dumps(v, JSON_COMPACT); /* as JSON text, like jsonb */
		break;
	case K_JSONB:
		*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		break;
	case K_BOOL:
		*out = sg_strdup(json_is_true(v) ? "t" : "f");
		break;
	}
	if (*out == NULL) {
		snprintf(err, errlen, "out of memory");
		return SG_E_NOMEM;
	}
	return SG_OK;
}

sg_status
registry_row_from_object(enum sg_rtype t, const json_t *obj, const char *owner, char **vals, char *err,
			 size_t errlen)
{
	size_t n = registry_row_ncols(t);
	const json_t *acl = json_object_get(obj, "access_attributes");
	sg_status st = SG_OK;
	char field[64];

	for (size_t i = 0; i < n; i++)
		vals[i] = NULL;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "a %s must be a JSON object", rdesc[t].name);
		return SG_E_BAD_REQUEST;
	}
	if (acl != NULL && !json_is_null(acl) && !json_is_object(acl)) {
		snprintf(err, errlen, "field 'access_attributes' must be an object or null");
		return SG_E_BAD_REQUEST;
	}
	for (size_t i = 0; st == SG_OK && i < n; i++) {
		const struct col *c = col_at(t, i);

		if (i == C_OWNER) {
			vals[i] = owner ? sg_strdup(owner) : NULL;
			st = owner && !vals[i] ? SG_E_NOMEM : SG_OK;
		} else if (i == C_ACL) {
			st = encode(c, "access_attributes", json_boolean(json_is_object(acl)), &vals[i], err, errlen);
		} else if (i >= C_ROLES && i < NCOMMON) {
			snprintf(field, sizeof(field), "access_attributes.%s", c->key);
			st = encode(c, field, json_object_get(acl, c->key), &vals[i], err, errlen);
		} else {
			st = encode(c, c->key, json_object_get(obj, c->key), &vals[i], err, errlen);
		}
	}
	if (st == SG_E_NOMEM)
		snprintf(err, errlen, "out of memory");
	return st;
}

void
registry_row_free(enum sg_rtype t, char **vals)
{
	for (size_t i = 0; vals != NULL && i < registry_row_ncols(t); i++) {
		free(vals[i]);
		vals[i] = NULL;
	}
}

static json_t *
decode(enum kind k, const char *s)
{
	if (s == NULL)
		return json_null();
	switch (k) {
	case K_TEXT:
		return json_string(s);
	case K_INT:
		return json_integer(strtoll(s, NULL, 10));
	case K_BOOL:
		return json_boolean(s[0] == 't');
	default:
		return json_loads(s, JSON_DECODE_ANY, NULL);
	}
}

/* Sets o[key] = v, stealing v; false (and o untouched) when v is NULL. */
static bool
put(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0;
}

json_t *
registry_row_to_object(enum sg_rtype t, const char *const *vals)
{
	json_t *o = json_object(), *acl = json_null();
	size_t n = registry_row_ncols(t);
	bool ok = o != NULL;

	if (ok && vals[C_ACL] != NULL && vals[C_ACL][0] == 't') {
		acl = json_object();
		for (size_t i = C_ROLES; acl != NULL && ok && i < NCOMMON; i++)
			ok = put(acl, common[i].key, decode(K_TEXTV, vals[i]));
	}
	ok = ok && put(o, "identifier", decode(K_TEXT, vals[C_ID])) &&
	     put(o, "provider_resource_id", decode(K_TEXT, vals[C_PRID])) &&
	     put(o, "provider_id", decode(K_TEXT, vals[C_PID])) && put(o, "type", json_string(rdesc[t].name)) &&
	     put(o, "access_attributes", acl);
	if (!ok)
		json_decref(acl);
	for (size_t i = NCOMMON; ok && i < n; i++)
		ok = put(o, col_at(t, i)->key, decode(col_at(t, i)->kind, vals[i]));
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- transactions ---- */

struct row {
	json_t *obj;
	long long created, seq;
};

/* One unit of work against PostgreSQL, run (and maybe re-run once) by run(). */
struct txn {
	enum sg_rtype t;
	const char *id;     /* the identifier (or the group filter of a list) */
	char **vals;        /* register: the object as a row */
	json_t *canon;      /* register: the object as it would read back */
	size_t ntools;      /* register_tool_group */
	char **tvals;       /* ntools rows of MAXROW */
	json_t **tcanon;
	struct row row;     /* get/register: the object as stored */
	struct row *trows;  /* register_tool_group: the tools as stored */
	json_t *list;       /* list */
	bool drop;          /* unregister: the commit removes x->id */
	bool created;
	bool retry;         /* the failure was transient: the whole txn may run again */
	char *err;
	size_t errlen;
};

static PGresult *
q(PGconn *c, struct txn *x, const char *s, int n, const char *const *v, sg_status *st)
{
	PGresult *r = PQexecParams(c, s, n, NULL, v, NULL, NULL, 0);

	*st = db_result_status(c, r);
	if (*st != SG_OK && x != NULL && db_result_retryable(c, r))
		x->retry = true;
	return r;
}

static sg_status
cmd(PGconn *c, struct txn *x, const char *s)
{
	sg_status st;

	PQclear(q(c, x, s, 0, NULL, &st));
	return st;
}

static bool
row_of(enum sg_rtype t, const PGresult *r, int i, struct row *out)
{
	const char *v[MAXROW + 2];
	size_t n = registry_row_ncols(t);

	for (size_t j = 0; j < n + 2; j++)
		v[j] = PQgetisnull(r, i, (int) j) ? NULL : PQgetvalue(r, i, (int) j);
	out->created = v[n] ? strtoll(v[n], NULL, 10) : 0;
	out->seq = v[n + 1] ? strtoll(v[n + 1], NULL, 10) : 0;
	out->obj = registry_row_to_object(t, v);
	if (out->obj == NULL)
		log_error("registry: %s '%s' has a malformed row", rdesc[t].name, v[C_ID] ? v[C_ID] : "?");
	return out->obj != NULL;
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

static sg_status commit(PGconn *c, struct txn *x);

/*
 * Runs fn on a pooled connection; once more on a fresh one when it failed
 * transiently.  fn leaves a write transaction open; run() commits it.
 */
static sg_status
run(sg_status (*fn)(PGconn *, struct txn *), struct txn *x)
{
	sg_status st = SG_E_UNAVAILABLE;

	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = db_acquire();

		if (c == NULL)
			break;
		x->retry = false;
		if (x->errlen > 0)
			x->err[0] = '\0';
		st = fn(c, x);
		if (st == SG_OK && PQtransactionStatus(c) == PQTRANS_INTRANS)
			st = commit(c, x);
		if (!db_conn_broken(c) && PQtransactionStatus(c) != PQTRANS_IDLE)
			PQclear(PQexec(c, "ROLLBACK"));
		db_release(c, db_conn_broken(c));
		if (st == SG_OK || !x->retry)
			break;
		txn_reset(x);
		st = SG_E_UNAVAILABLE;
	}
	if (st == SG_E_UNAVAILABLE)
		snprintf(x->err, x->errlen, "the registry database is unavailable");
	else if (st != SG_OK && x->errlen > 0 && x->err[0] == '\0')
		snprintf(x->err, x->errlen, "the registry could not store the %s", rdesc[x->t].name);
	return st;
}

static sg_status
tx_get(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = q(c, x, sql[x->t][Q_GET], 1, &x->id, &st);

	if (st == SG_OK && PQntuples(r) == 0)
		st = SG_E_NOT_FOUND;
	else if (st == SG_OK && !row_of(x->t, r, 0, &x->row))
		st = SG_E_INTERNAL;
	PQclear(r);
	return st;
}

static sg_status
tx_list(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = q(c, x, sql[x->t][x->id ? Q_LIST_GROUP : Q_LIST], x->id ? 1 : 0, &x->id, &st);
	struct row rw;

	x->list = json_array();
	if (st == SG_OK && x->list == NULL)
		st = SG_E_NOMEM;
	for (int i = 0; st == SG_OK && i < PQntuples(r); i++)
		if (row_of(x->t, r, i, &rw) && json_array_append_new(x->list, rw.obj) != 0)
			st = SG_E_NOMEM;
	PQclear(r);
	return st;
}

static const char *
row_value(enum sg_rtype t, char **vals, const char *column)
{
	for (size_t i = 0; column != NULL && i < registry_row_ncols(t); i++)
		if (strcmp(col_at(t, i)->name, column) == 0)
			return vals[i];
	return NULL;
}

/* The client message for a failed insert of vals; may turn the status into a 400. */
static sg_status
insert_failed(struct txn *x, enum sg_rtype t, char **vals, const PGresult *r, sg_status st)
{
	const char *con = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *name = rdesc[t].name, *id = vals[C_ID];

	if (st == SG_E_CONFLICT && con != NULL && strcmp(con, "vector_dbs_embedding_dimension_fkey") == 0) {
		snprintf(x->err, x->errlen, "%s '%s': model '%s' has no embedding dimension %s", name, id,
			 row_value(t, vals, "embedding_model"), row_value(t, vals, "embedding_dimension"));
		return SG_E_BAD_REQUEST;
	}
	for (size_t i = 0; st == SG_E_CONFLICT && con != NULL && i < SG_ARRAY_LEN(fks); i++) {
		const char *v = fks[i].column ? row_value(t, vals, fks[i].column)
					      : PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);

		if (strcmp(con, fks[i].constraint) == 0 && v != NULL) {
			snprintf(x->err, x->errlen, "%s '%s' refers to %s '%s', which does not exist", name, id,
				 fks[i].what, v);
			return st;
		}
	}
	if (st == SG_E_BAD_REQUEST)
		snprintf(x->err, x->errlen, "%s '%s' has an invalid value%s%s%s", name, id, con ? " (" : "",
			 con ? con : "", con ? ")" : "");
	return st;
}

/* INSERT … ON CONFLICT DO NOTHING: 1 inserted (*out), 0 the identifier exists, -1 failed (*st). */
static int
insert_row(PGconn *c, struct txn *x, enum sg_rtype t, char **vals, struct row *out, sg_status *st)
{
	PGresult *r = q(c, x, sql[t][Q_INSERT], (int) registry_row_ncols(t), (const char *const *) vals, st);
	int rc = -1;

	if (*st != SG_OK)
		*st = insert_failed(x, t, vals, r, *st);
	else if (PQntuples(r) == 0)
		rc = 0;
	else if (row_of(t, r, 0, out))
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
	PGresult *r = q(c, x, sql[t][Q_LOCK], 1, &id, &st);

	if (st == SG_OK && PQntuples(r) == 0)
		st = SG_E_NOT_FOUND;
	else if (st == SG_OK && !row_of(t, r, 0, out))
		st = SG_E_INTERNAL;
	PQclear(r);
	return st;
}

static sg_status
differs(struct txn *x, const json_t *old)
{
	if (json_equal(old, x->canon))
		return SG_OK;
	snprintf(x->err, x->errlen, "%s '%s' already exists with different attributes", rdesc[x->t].name, x->id);
	return SG_E_CONFLICT;
}

static sg_status
tx_register(PGconn *c, struct txn *x)
{
	sg_status st = SG_OK;

	/* The existing row may vanish between the INSERT and the read: then insert again. */
	for (int tries = 0; tries < 3; tries++) {
		int ins;

		if ((st = cmd(c, x, "BEGIN")) != SG_OK)
			return st;
		if ((ins = insert_row(c, x, x->t, x->vals, &x->row, &st)) < 0)
			return st;
		x->created = ins == 1;
		if (ins == 0 && (st = read_locked(c, x, x->t, x->id, &x->row)) == SG_E_NOT_FOUND) {
			cmd(c, x, "ROLLBACK");
			continue;
		}
		if (st == SG_OK && !x->created)
			st = differs(x, x->row.obj);
		return st;
	}
	snprintf(x->err, x->errlen, "%s '%s' is being changed concurrently; try again", rdesc[x->t].name, x->id);
	return SG_E_CONFLICT;
}

/* Whether the group's stored tools are exactly the new ones (as a set, each canonical). */
static sg_status
same_tools(PGconn *c, struct txn *x)
{
	sg_status st;
	PGresult *r = q(c, x, sql[SG_RT_TOOL][Q_LIST_GROUP], 1, &x->id, &st);
	bool same = st == SG_OK && (size_t) PQntuples(r) == x->ntools;

	for (int i = 0; same && i < PQntuples(r); i++) {
		struct row old;

		same = row_of(SG_RT_TOOL, r, i, &old);
		for (size_t j = 0; same && j < x->ntools; j++) {
			if (strcmp(PQgetvalue(r, i, C_ID), x->tvals[j * MAXROW + C_ID]) == 0) {
				same = json_equal(old.obj, x->tcanon[j]);
				break;
			}
			same = j + 1 < x->ntools;
		}
		json_decref(old.obj);
	}
	PQclear(r);
	if (st == SG_OK && !same) {
		snprintf(x->err, x->errlen, "tool_group '%s' already exists with a different list of tools", x->id);
		st = SG_E_CONFLICT;
	}
	return st;
}

static sg_status
tool_taken(PGconn *c, struct txn *x, const char *tool)
{
	sg_status st;
	PGresult *r = q(c, x, "SELECT toolgroup_id FROM tools WHERE identifier = $1", 1, &tool, &st);
	const char *g = st == SG_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : NULL;

	if (g != NULL && strcmp(g, x->id) == 0)
		snprintf(x->err, x->errlen, "tool '%s' is listed twice in tool_group '%s'", tool, x->id);
	else if (g != NULL)
		snprintf(x->err, x->errlen, "tool '%s' already belongs to tool_group '%s'", tool, g);
	else
		snprintf(x->err, x->errlen, "tool '%s' already exists", tool);
	PQclear(r);
	return st == SG_OK ? SG_E_CONFLICT : st;
}

static sg_status
tx_register_group(PGconn *c, struct txn *x)
{
	sg_status st = SG_OK;

	for (int tries = 0; tries < 3; tries++) {
		int ins;

		if ((st = cmd(c, x, "BEGIN")) != SG_OK)
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
			cmd(c, x, "ROLLBACK");
			continue;
		}
		if (st == SG_OK && !x->created && (st = differs(x, x->row.obj)) == SG_OK)
			st = same_tools(c, x);
		return st;
	}
	snprintf(x->err, x->errlen, "tool_group '%s' is being changed concurrently; try again", x->id);
	return SG_E_CONFLICT;
}

static sg_status
tx_unregister(PGconn *c, struct txn *x)
{
	sg_status st = cmd(c, x, "BEGIN");
	PGresult *r = st == SG_OK ? q(c, x, sql[x->t][Q_DELETE], 1, &x->id, &st) : NULL;

	if (st == SG_OK && strcmp(PQcmdTuples(r), "0") == 0) {
		snprintf(x->err, x->errlen, "%s '%s' not found", rdesc[x->t].label, x->id);
		st = SG_E_NOT_FOUND;
	} else if (st == SG_E_CONFLICT && rdesc[x->t].users != NULL) {
		PQclear(r);
		cmd(c, x, "ROLLBACK");
		r = PQexecParams(c, rdesc[x->t].users, 1, NULL, &x->id, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
			snprintf(x->err, x->errlen, "%s '%s' is in use by %s '%s'", rdesc[x->t].name, x->id,
				 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		else
			snprintf(x->err, x->errlen, "%s '%s' is in use", rdesc[x->t].name, x->id);
	}
	PQclear(r);
	return st;
}

/* ---- the cache ---- */

static size_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
	return (size_t) h;
}

static struct entry **
slot_of(struct table *tb, const char *id)
{
	struct entry **p;

	if (tb->nb == 0)
		return NULL;
	for (p = &tb->b[hash(id) & (tb->nb - 1)]; *p != NULL; p = &(*p)->hnext)
		if (strcmp((*p)->id, id) == 0)
			break;
	return p;
}

static void
entry_free(struct entry *e)
{
	if (e != NULL) {
		free(e->id);
		free(e->text);
		free(e->group);
		free(e);
	}
}

static struct entry *
entry_new(const json_t *obj, long long created, long long seq)
{
	struct entry *e = sg_calloc(1, sizeof(*e));
	const char *g = json_string_value(json_object_get(obj, "toolgroup_id"));

	if (e == NULL)
		return NULL;
	e->id = sg_strdup(json_string_value(json_object_get(obj, "identifier")));
	e->text = json_dumps(obj, JSON_COMPACT);
	e->group = g ? sg_strdup(g) : NULL;
	e->created = created;
	e->seq = seq;
	if (e->id == NULL || e->text == NULL || (g != NULL && e->group == NULL)) {
		entry_free(e);
		return NULL;
	}
	return e;
}

static void
table_unlink(struct table *tb, struct entry **p)
{
	struct entry *e = *p;

	*p = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		tb->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		tb->tail = e->prev;
	tb->n--;
	entry_free(e);
}

/* Takes e, replacing any entry with its identifier; keeps the list in seq order. */
static void
table_put(struct table *tb, struct entry *e)
{
	struct entry **p, *after;

	if (tb->n >= tb->nb) {
		size_t nb = tb->nb ? tb->nb * 2 : 64;
		struct entry **b = sg_calloc(nb, sizeof(*b));

		/* Without memory the chains just grow longer. */
		for (struct entry *x = tb->head; b != NULL && x != NULL; x = x->next) {
			size_t h = hash(x->id) & (nb - 1);

			x->hnext = b[h];
			b[h] = x;
		}
		if (b != NULL || tb->nb == 0) {
			free(tb->b);
			tb->b = b;
			tb->nb = b ? nb : 0;
		}
		if (tb->nb == 0) {
			entry_free(e);
			return;
		}
	}
	p = slot_of(tb, e->id);
	if (*p != NULL)
		table_unlink(tb, p); /* *p is now the rest of the chain */
	e->hnext = *p;
	*p = e;
	for (after = tb->tail; after != NULL && after->seq > e->seq; after = after->prev)
		;
	e->prev = after;
	e->next = after ? after->next : tb->head;
	if (e->next)
		e->next->prev = e;
	else
		tb->tail = e;
	if (after)
		after->next = e;
	else
		tb->head = e;
	tb->n++;
}

static void
table_drop(struct table *tb, const char *id)
{
	struct entry **p = slot_of(tb, id);

	if (p != NULL && *p != NULL)
		table_unlink(tb, p);
}

static void
table_free(struct table *tb)
{
	for (struct entry *e = tb->head, *nx; e != NULL; e = nx) {
		nx = e->next;
		entry_free(e);
	}
	free(tb->b);
	*tb = (struct table){0};
}

/* Swaps fresh in (loaded) and frees what was there. */
static void
cache_swap(struct table *fresh, bool loaded)
{
	struct table old[SG_RT_COUNT];

	pthread_rwlock_wrlock(&cache.lock);
	memcpy(old, cache.tab, sizeof(old));
	memcpy(cache.tab, fresh, sizeof(old));
	cache.loaded = loaded;
	pthread_rwlock_unlock(&cache.lock);
	for (int t = 0; t < SG_RT_COUNT; t++)
		table_free(&old[t]);
}

void
registry_cache_reset(bool loaded)
{
	struct table none[SG_RT_COUNT] = {0};

	ensure_init();
	cache_swap(none, loaded);
}

sg_status
registry_cache_put(enum sg_rtype t, const json_t *obj, long long created_at, long long seq)
{
	struct entry *e;

	ensure_init();
	if ((unsigned) t >= SG_RT_COUNT || !json_is_string(json_object_get(obj, "identifier")))
		return SG_E_BAD_REQUEST;
	if ((e = entry_new(obj, created_at, seq)) == NULL)
		return SG_E_NOMEM;
	pthread_rwlock_wrlock(&cache.lock);
	table_put(&cache.tab[t], e);
	pthread_rwlock_unlock(&cache.lock);
	return SG_OK;
}

void
registry_cache_drop(enum sg_rtype t, const char *identifier)
{
	ensure_init();
	pthread_rwlock_wrlock(&cache.lock);
	table_drop(&cache.tab[t], identifier);
	pthread_rwlock_unlock(&cache.lock);
}

size_t
registry_cache_count(enum sg_rtype t)
{
	size_t n;

	ensure_init();
	pthread_rwlock_rdlock(&cache.lock);
	n = cache.tab[t].n;
	pthread_rwlock_unlock(&cache.lock);
	return n;
}

/* -1: the cache is not loaded (ask PostgreSQL); 0: absent; 1: *out (NULL if out of memory). */
static int
cache_get(enum sg_rtype t, const char *id, json_t **out, long long *created)
{
	struct entry **p;
	int rc = -1;

	pthread_rwlock_rdlock(&cache.lock);
	if (cache.loaded) {
		p = slot_of(&cache.tab[t], id);
		rc = p != NULL && *p != NULL;
		if (rc && out != NULL)
			*out = json_loads((*p)->text, 0, NULL);
		if (rc && created != NULL)
			*created = (*p)->created;
	}
	pthread_rwlock_unlock(&cache.lock);
	return rc;
}

/* Puts a row's object into table t (under the write lock); out of memory leaves the old entry. */
static void
put_row(enum sg_rtype t, const struct row *rw)
{
	struct entry *e = rw->obj ? entry_new(rw->obj, rw->created, rw->seq) : NULL;

	if (e != NULL)
		table_put(&cache.tab[t], e);
	else if (rw->obj != NULL)
		log_error("registry cache: out of memory; %s '%s' may be stale", rdesc[t].name,
			  json_string_value(json_object_get(rw->obj, "identifier")));
}

/*
 * Commits x's transaction.  With a listener running it holds the apply mutex
 * across the COMMIT and the cache update, so no re-read by the listener can
 * land in between (registry.h).  The wait is bounded: past it the write
 * reaches this process's cache by its notification only.
 */
static sg_status
commit(PGconn *c, struct txn *x)
{
	struct timespec ts;
	bool locked;
	sg_status st;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	locked = pthread_mutex_timedlock(&cache.apply, &ts) == 0;
	if (locked && !cache.running) {
		pthread_mutex_unlock(&cache.apply);
		locked = false;
	}
	st = cmd(c, x, "COMMIT");
	if (st == SG_OK && locked) {
		pthread_rwlock_wrlock(&cache.lock);
		if (x->drop)
			table_drop(&cache.tab[x->t], x->id);
		for (struct entry *e = cache.tab[SG_RT_TOOL].head, *nx; x->drop && x->t == SG_RT_TOOL_GROUP && e; e = nx) {
			nx = e->next; /* the group's tools went with it (ON DELETE CASCADE) */
			if (e->group != NULL && strcmp(e->group, x->id) == 0)
				table_drop(&cache.tab[SG_RT_TOOL], e->id);
		}
		if (!x->drop)
			put_row(x->t, &x->row);
		for (size_t i = 0; !x->drop && x->created && x->trows != NULL && i < x->ntools; i++)
			put_row(SG_RT_TOOL, &x->trows[i]);
		pthread_rwlock_unlock(&cache.lock);
	}
	if (locked)
		pthread_mutex_unlock(&cache.apply);
	return st;
}

/* ---- the listener ---- */

static bool
listener_stop_requested(int ms)
{
	struct pollfd pfd = {cache.wake[0], POLLIN, 0};

	return poll(&pfd, 1, ms) > 0;
}

/* Loads every table from one snapshot and swaps it in. */
static bool
resync(PGconn *c)
{
	struct table fresh[SG_RT_COUNT] = {0};
	sg_status st;
	size_t total = 0;

	pthread_mutex_lock(&cache.apply);
	st = cmd(c, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

	for (int t = 0; st == SG_OK && t < SG_RT_COUNT; t++) {
		PGresult *r = q(c, NULL, sql[t][Q_LIST], 0, NULL, &st);

		for (int i = 0; st == SG_OK && i < PQntuples(r); i++) {
			struct row rw;
			struct entry *e = NULL;

			if (row_of((enum sg_rtype) t, r, i, &rw)) /* a malformed row is logged and skipped */
				e = entry_new(rw.obj, rw.created, rw.seq);
			if (rw.obj != NULL && e == NULL)
				st = SG_E_NOMEM;
			json_decref(rw.obj);
			if (e != NULL)
				table_put(&fresh[t], e);
		}
		total += fresh[t].n;
		PQclear(r);
	}
	if (st == SG_OK)
		st = cmd(c, NULL, "COMMIT");
	if (st != SG_OK) {
		pthread_mutex_unlock(&cache.apply);
		for (int t = 0; t < SG_RT_COUNT; t++)
			table_free(&fresh[t]);
		return false;
	}
	cache_swap(fresh, true);
	pthread_mutex_unlock(&cache.apply);
	log_debug("registry cache loaded: %zu objects", total);
	return true;
}

static _Atomic(registry_notify_fn) notify_hook;

void
registry_on_notify(registry_notify_fn fn)
{
	atomic_store(&notify_hook, fn);
}

/* One notification: re-reads that row (or everything) and applies it. */
static bool
refresh(PGconn *c, const char *payload)
{
	const char *colon = strchr(payload, ':'), *id;
	char tname[32];
	enum sg_rtype t;
	struct entry *e = NULL;
	struct row rw = {0};
	sg_status st;
	PGresult *r;

	if (colon == NULL || (size_t) (colon - payload) >= sizeof(tname))
		return true;
	memcpy(tname, payload, (size_t) (colon - payload));
	tname[colon - payload] = '\0';
	if (!registry_type_from_name(tname, &t)) {
		/* Another module's notification (e.g. 'principal:…'): its owner decides. */
		registry_notify_fn hook = atomic_load(&notify_hook);

		if (hook != NULL)
			hook(payload);
		return true;
	}
	id = colon + 1;
	if (*id == '\0')
		return resync(c);
	pthread_mutex_lock(&cache.apply);
	r = q(c, NULL, sql[t][Q_GET], 1, &id, &st);
	if (st == SG_OK && PQntuples(r) > 0 && row_of(t, r, 0, &rw) && (e = entry_new(rw.obj, rw.created, rw.seq)) == NULL)
		st = SG_E_NOMEM;
	json_decref(rw.obj);
	PQclear(r);
	if (st == SG_OK) {
		pthread_rwlock_wrlock(&cache.lock);
		if (e != NULL)
			table_put(&cache.tab[t], e);
		else
			table_drop(&cache.tab[t], id);
		pthread_rwlock_unlock(&cache.lock);
	}
	pthread_mutex_unlock(&cache.apply);
	return st == SG_OK;
}

static void *
listener_main(void *arg)
{
	PGconn *c = NULL;
	int backoff = 100;
	bool down = false;
	char err[512];

	(void) arg;
	for (;;) {
		if (c == NULL) {
			c = db_connect(cache.conninfo, err, sizeof(err));
			if (c != NULL && (cmd(c, NULL, "LISTEN stackgate_registry") != SG_OK || !resync(c))) {
				snprintf(err, sizeof(err), "the connection failed while loading");
				PQfinish(c);
				c = NULL;
			}
			if (c == NULL) {
				if (!down)
					log_warn("registry cache: cannot reach PostgreSQL (%s); retrying", err);
				down = true;
				if (listener_stop_requested(backoff))
					break;
				backoff = backoff >= 2500 ? 5000 : backoff * 2;
				continue;
			}
			if (down)
				log_info("registry cache: PostgreSQL is back; cache reloaded");
			down = false;
			backoff = 100;
		}

		struct pollfd pfd[2] = {{PQsocket(c), POLLIN, 0}, {cache.wake[0], POLLIN, 0}};
		bool ok = true;
		PGnotify *n;

		/* First what libpq already holds: our own queries may have read notifications off the socket. */
		while (ok && (n = PQnotifies(c)) != NULL) {
			ok = refresh(c, n->extra);
			PQfreemem(n);
		}
		if (ok && poll(pfd, 2, 30000) < 0 && errno != EINTR)
			ok = false;
		if (pfd[1].revents != 0)
			break;
		if (ok && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0)
			ok = PQconsumeInput(c) == 1;
		if (!ok || PQstatus(c) != CONNECTION_OK) {
			log_warn("registry cache: lost its PostgreSQL connection; serving cached objects while reconnecting");
			PQfinish(c);
			c = NULL;
			down = true;
		}
	}
	PQfinish(c);
	return NULL;
}

sg_status
registry_open(const struct sg_conf *conf)
{
	ensure_init();
	if (cache.running)
		return SG_OK;
	registry_cache_reset(false);
	cache.conninfo = sg_strdup(conf->conninfo ? conf->conninfo : "");
	if (cache.conninfo == NULL)
		return SG_E_NOMEM;
	if (pipe2(cache.wake, O_CLOEXEC) != 0) {
		log_error("registry: pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&cache.thread, NULL, listener_main, NULL) != 0) {
		log_error("registry: cannot start the cache listener thread");
		close(cache.wake[0]);
		close(cache.wake[1]);
		goto fail;
	}
	pthread_mutex_lock(&cache.apply);
	cache.running = true;
	pthread_mutex_unlock(&cache.apply);
	return SG_OK;
fail:
	free(cache.conninfo);
	cache.conninfo = NULL;
	return SG_E_INTERNAL;
}

void
registry_close(void)
{
	ensure_init();
	if (cache.running) {
		if (write(cache.wake[1], "x", 1) != 1)
			log_error("registry: cannot wake the cache listener: %s", strerror(errno));
		pthread_join(cache.thread, NULL);
		close(cache.wake[0]);
		close(cache.wake[1]);
		free(cache.conninfo);
		cache.conninfo = NULL;
		pthread_mutex_lock(&cache.apply);
		cache.running = false;
		pthread_mutex_unlock(&cache.apply);
	}
	registry_cache_reset(false);
}

/* ---- the interface ---- */

sg_status
registry_get(enum sg_rtype t, const char *identifier, json_t **out)
{
	char err[128];
	struct txn x = {.t = t, .id = identifier, .err = err, .errlen = sizeof(err)};
	sg_status st;
	int hit;

	*out = NULL;
	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return SG_E_NOT_FOUND;
	ensure_init();
	if ((hit = cache_get(t, identifier, out, NULL)) >= 0)
		return hit == 0 ? SG_E_NOT_FOUND : *out != NULL ? SG_OK : SG_E_NOMEM;
	st = run(tx_get, &x);
	*out = x.row.obj;
	return st;
}

long long
registry_created_at(enum sg_rtype t, const char *identifier)
{
	char err[128];
	struct txn x = {.t = t, .id = identifier, .err = err, .errlen = sizeof(err)};
	long long created = 0;

	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return 0;
	ensure_init();
	if (cache_get(t, identifier, NULL, &created) >= 0)
		return created;
	if (run(tx_get, &x) == SG_OK)
		created = x.row.created;
	json_decref(x.row.obj);
	return created;
}

sg_status
registry_list(enum sg_rtype t, const char *toolgroup_id, json_t **out)
{
	char err[128];
	const char *g = t == SG_RT_TOOL ? toolgroup_id : NULL;
	struct txn x = {.t = t, .id = g, .err = err, .errlen = sizeof(err)};
	sg_status st = SG_OK;

	*out = NULL;
	if ((unsigned) t >= SG_RT_COUNT)
		return SG_E_NOT_FOUND;
	ensure_init();
	pthread_rwlock_rdlock(&cache.lock);
	if (cache.loaded) {
		*out = json_array();
		for (struct entry *e = cache.tab[t].head; *out != NULL && e != NULL; e = e->next) {
			json_t *o;

			if (g != NULL && (e->group == NULL || strcmp(e->group, g) != 0))
				continue;
			o = json_loads(e->text, 0, NULL);
			if (o == NULL || json_array_append_new(*out, o) != 0) {
				json_decref(*out);
				*out = NULL;
			}
		}
		st = *out != NULL ? SG_OK : SG_E_NOMEM;
	}
	pthread_rwlock_unlock(&cache.lock);
	if (*out != NULL || st != SG_OK)
		return st;
	st = run(tx_list, &x);
	*out = st == SG_OK ? x.list : NULL;
	if (st != SG_OK)
		json_decref(x.list);
	return st;
}

/* obj as a row and as it will read back. */
static sg_status
prepare(enum sg_rtype t, const json_t *obj, const char *owner, char **vals, json_t **canon, char *err,
	size_t errlen)
{
	sg_status st = registry_row_from_object(t, obj, owner, vals, err, errlen);

	if (st == SG_OK && (*canon = registry_row_to_object(t, (const char *const *) vals)) == NULL) {
		snprintf(err, errlen, "out of memory");
		st = SG_E_NOMEM;
	}
	return st;
}

sg_status
registry_register(enum sg_rtype t, json_t *obj, const char *owner, json_t **stored, bool *created, char *err,
		  size_t errlen)
{
	char *vals[MAXROW];
	struct txn x = {.t = t, .vals = vals, .err = err, .errlen = errlen};
	sg_status st;

	if (stored != NULL)
		*stored = NULL;
	if (created != NULL)
		*created = false;
	if ((unsigned) t >= SG_RT_COUNT)
		return SG_E_BAD_REQUEST;
	ensure_init();
	st = prepare(t, obj, owner, vals, &x.canon, err, errlen);
	if (st != SG_OK)
		goto out;
	x.id = vals[C_ID];
	st = run(tx_register, &x);
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

sg_status
registry_unregister(enum sg_rtype t, const char *identifier, char *err, size_t errlen)
{
	struct txn x = {.t = t, .id = identifier, .drop = true, .err = err, .errlen = errlen};

	if ((unsigned) t >= SG_RT_COUNT || identifier == NULL)
		return SG_E_NOT_FOUND;
	ensure_init();
	return run(tx_unregister, &x);
}

sg_status
registry_unregister_tool_group(const char *identifier, char *err, size_t errlen)
{
	return registry_unregister(SG_RT_TOOL_GROUP, identifier, err, errlen);
}

sg_status
registry_register_tool_group(json_t *group, json_t *tools, const char *owner, json_t **stored, bool *created,
			     char *err, size_t errlen)
{
	char *vals[MAXROW];
	size_t n = json_array_size(tools);
	struct txn x = {.t = SG_RT_TOOL_GROUP, .vals = vals, .ntools = n, .err = err, .errlen = errlen};
	sg_status st;

	if (stored != NULL)
		*stored = NULL;
	if (created != NULL)
		*created = false;
	ensure_init();
	for (size_t i = 0; i < MAXROW; i++)
		vals[i] = NULL;
	x.tvals = sg_calloc(n * MAXROW + 1, sizeof(*x.tvals));
	x.tcanon = sg_calloc(n + 1, sizeof(*x.tcanon));
	x.trows = sg_calloc(n + 1, sizeof(*x.trows));
	if (x.tvals == NULL || x.tcanon == NULL || x.trows == NULL) {
		snprintf(err, errlen, "out of memory");
		st = SG_E_NOMEM;
		goto out;
	}
	if (tools != NULL && !json_is_array(tools)) {
		snprintf(err, errlen, "the tools of a tool group must be an array");
		st = SG_E_BAD_REQUEST;
		goto out;
	}
	st = prepare(SG_RT_TOOL_GROUP, group, owner, vals, &x.canon, err, errlen);
	x.id = vals[C_ID];
	for (size_t i = 0; st == SG_OK && i < n; i++) {
		char **tv = &x.tvals[i * MAXROW];

		st = prepare(SG_RT_TOOL, json_array_get(tools, i), owner, tv, &x.tcanon[i], err, errlen);
		if (st == SG_OK && strcmp(tv[NCOMMON], x.id) != 0) {
			snprintf(err, errlen, "tool '%s' has toolgroup_id '%s', not '%s'", tv[C_ID], tv[NCOMMON], x.id);
			st = SG_E_BAD_REQUEST;
		}
	}
	if (st != SG_OK)
		goto out;
	st = run(tx_register_group, &x);
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

static sg_status
tx_providers(PGconn *c, struct txn *x)
{
	static const char *const del =
		"DELETE FROM providers AS p WHERE NOT EXISTS (SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS "
		"x(api text, provider_id text) WHERE x.api = p.api AND x.provider_id = p.provider_id)";
	static const char *const ins =
		"INSERT INTO providers (api, provider_id, provider_type) SELECT DISTINCT ON (api, provider_id) "
		"api, provider_id, provider_type FROM jsonb_to_recordset($1::jsonb) AS "
		"x(api text, provider_id text, provider_type text) ON CONFLICT (api, provider_id) DO UPDATE "
		"SET provider_type = EXCLUDED.provider_type, updated_at = now() "
		"WHERE providers.provider_type IS DISTINCT FROM EXCLUDED.provider_type";
	sg_status st = cmd(c, x, "BEGIN");

	if (st == SG_OK)
		PQclear(q(c, x, del, 1, &x->id, &st));
	if (st == SG_OK)
		PQclear(q(c, x, ins, 1, &x->id, &st));
	return st;
}

sg_status
registry_sync_providers(const struct sg_conf *conf, char *err, size_t errlen)
{
	json_t *a = json_array();
	struct txn x = {.err = err, .errlen = errlen};
	char *text = NULL;
	sg_status st = SG_E_NOMEM;

	ensure_init();
	for (size_t i = 0; a != NULL && i < conf->nproviders; i++) {
		const struct sg_provider *p = &conf->providers[i];

		if (json_array_append_new(a, json_pack("{s:s?, s:s?, s:s?}", "api", conf_api_name(p->api),
						       "provider_id", p->provider_id, "provider_type",
						       p->provider_type)) != 0)
			goto out;
	}
	if (a == NULL || (text = json_dumps(a, JSON_COMPACT)) == NULL)
		goto out;
	x.id = text;
	st = run(tx_providers, &x);
out:
	if (st == SG_E_NOMEM)
		snprintf(err, errlen, "out of memory");
	free(text);
	json_decref(a);
	return st;
}
