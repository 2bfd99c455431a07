/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_int.h: what the files of the registry module share; only the
 * registry*.c files include it.
 *
 *   registry_rows.c    the per-type column descriptors and the conversion
 *                      between API objects and rows (no I/O, no locks);
 *   registry.c         the SQL text built once from the descriptors, the
 *                      transactions and the public interface;
 *   registry_unregister.c  the guarded unregister (its transaction and
 *                      registry_unregister*);
 *   registry_cache.c   the per-process cache: its tables and the rwlock;
 *   registry_listen.c  the LISTEN thread that loads and refreshes the cache,
 *                      the apply mutex, the writers' commit and the
 *                      read-your-writes sync (registry.h states the lock
 *                      discipline).
 *
 * A write reaches the cache only through registry_cache_commit(), a read
 * only through registry_cache_get()/registry_cache_list(); nothing outside
 * registry_cache.c touches the cache's tables or its rwlock, nothing outside
 * registry_listen.c the apply mutex.
 */
#ifndef SG_REGISTRY_INT_H
#define SG_REGISTRY_INT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "registry.h"
#include "sg.h"

/* ---- descriptors (registry_rows.c) ---- */

enum kind { K_TEXT, K_INT, K_JSONB, K_TEXTV, K_BOOL };

struct col {
	const char *name; /* the SQL column */
	const char *key;  /* the JSON key (NULL: not a key of the object) */
	enum kind kind;
	bool required; /* NOT NULL: a missing or null value is refused */
};

#define NCOMMON 9
#define MAXCOLS 5
#define MAXROW (NCOMMON + MAXCOLS)
enum { C_ID, C_PRID, C_PID, C_OWNER, C_ACL, C_ROLES };

struct rdesc {
	const char *name, *label, *table;
	struct col cols[MAXCOLS]; /* the type's own fields in the API's key order (llama-stack-api.md §1.1) */
	/* The objects that refer to one (in-use messages): of type users_t, where users holds ($1: the identifier). */
	enum sg_rtype users_t;
	const char *users; /* NULL: nothing refers to this type but its own tools */
};

/* One descriptor per type, indexed by enum sg_rtype. */
extern const struct rdesc registry_rdesc[SG_RT_COUNT];

/* Column i of a row of type t: the common columns, then the type's own (i < registry_row_ncols(t)). */
const struct col *registry_col_at(enum sg_rtype t, size_t i);

/* ---- SQL text and transactions (registry.c) ---- */

/*
 * Every select list is the columns, then created_at, seq and from_config.
 * Q_LOCK reads a row FOR SHARE (register); Q_LOCK_DELETE reads it FOR UPDATE
 * (unregister decides on it);
 * Q_CLAIM marks a row as the config's; Q_UPDATE replaces every column but
 * identifier and owner (and from_config) of the row whose owner is still $4
 * (registry_replace); Q_USERS lists up to USERS_MAX objects
 * of rdesc.users_t that refer to $1, in registration order.
 */
enum { Q_GET, Q_LOCK, Q_LOCK_DELETE, Q_LIST, Q_LIST_GROUP, Q_INSERT, Q_CLAIM, Q_DELETE, Q_USERS, Q_UPDATE, Q_COUNT };
#define USERS_MAX 50
/* The statements per type, built from the descriptors by registry_ensure_init(); read-only after. */
#define SQL_MAX 3072
extern char registry_sql[SG_RT_COUNT][Q_COUNT][SQL_MAX];

/*
 * Once per process (thread-safe, idempotent): builds registry_sql and
 * initialises the cache's locks (registry_cache_init).  Every entry point
 * of the module calls it before anything else.
 */
void registry_ensure_init(void);

/* An object as read back: the API object with its origin (registry.h), and its created_at (epoch seconds) and seq columns. */
struct row {
	json_t *obj;
	long long created, seq;
};

/* One unit of work against PostgreSQL, run (and maybe re-run once) by run() in registry.c. */
struct txn {
	enum sg_rtype t;
	const char *id; /* the identifier (or the group filter of a list) */
	char **vals;    /* register: the object as a row */
	json_t *canon;  /* register: the object as it would read back */
	size_t ntools;  /* register_tool_group */
	char **tvals;   /* ntools rows of MAXROW */
	json_t **tcanon;
	struct row row;                     /* get/register: the object as stored */
	struct row *trows;                  /* register_tool_group: the tools as stored */
	json_t *list;                       /* list */
	bool from_config;                   /* register: the rows are the config's (their from_config column) */
	const struct registry_guard *guard; /* unregister: the caller's decision (NULL: always) */
	bool drop;                          /* unregister: the commit removes x->id */
	bool created;
	bool retry;         /* the failure was transient: the whole txn may run again */
	struct sg_err *err; /* the caller's, or NULL (reads) */
};

/*
 * PQexecParams(c, s, n params v): the result (PQclear it, whatever *st), with
 * *st its status (db_result_status).  A transient failure
 * (db_result_retryable) sets x->retry; x may be NULL (never retried).
 */
PGresult *registry_q(PGconn *c, struct txn *x, const char *s, int n, const char *const *v, sg_status *st);
/* A statement without parameters or result rows ("BEGIN", "COMMIT", …); its status. */
sg_status registry_cmd(PGconn *c, struct txn *x, const char *s);
/*
 * BEGIN, then each statement of stmts (NULL-terminated) with the same n
 * params v, their results dropped, until one fails; the status.  The
 * transaction stays open for registry_run() to commit.
 */
sg_status registry_begin_exec(PGconn *c, struct txn *x, const char *const *stmts, int n, const char *const *v);
/*
 * Row i of r (a select list of registry_sql: the columns, then created_at
 * seq and from_config) into *out: out->obj a new reference, with its origin.  false when the row is
 * malformed (logged; out->obj NULL).
 */
bool registry_row_of(enum sg_rtype t, const PGresult *r, int i, struct row *out);
/*
 * Runs fn on a pooled connection; once more on a fresh one when it failed
 * transiently (x reset between).  fn leaves a write transaction open;
 * registry_run() commits it (registry_cache_commit).  The status, with
 * x->err set on failure ("the registry database is unavailable" when
 * PostgreSQL cannot be reached).
 */
sg_status registry_run(sg_status (*fn)(PGconn *, struct txn *), struct txn *x);

/* ---- the cache (registry_cache.c) ---- */

/* Initialises the cache's rwlock; called once by registry_ensure_init() (the apply mutex is static). */
void registry_cache_init(void);

/*
 * Looks identifier up in table t: -1 the cache is not loaded (ask
 * PostgreSQL); 0 absent; 1 present, with *out (if out is not NULL) a new
 * parsed copy, NULL when out of memory, and *created (if not NULL) its
 * registration time.
 */
int registry_cache_get(enum sg_rtype t, const char *identifier, json_t **out, long long *created);

/*
 * Every object of table t in registration order (only those whose
 * toolgroup_id is group, when group is not NULL): -1 the cache is not
 * loaded; 1 with *out a new array, NULL when out of memory.
 */
int registry_cache_list(enum sg_rtype t, const char *group, json_t **out);

/*
 * Stores what x's committed transaction wrote (x->row, x->trows; or drops
 * x->id, and a group's tools, when x->drop) in the tables, under the write
 * lock.  Only registry_cache_commit() calls it, holding the apply mutex.
 */
void registry_cache_apply(const struct txn *x);

/*
 * A whole load, filled off to the side and swapped in at once (the
 * listener's resync, under the apply mutex).  registry_load_new: NULL when
 * out of memory.  registry_load_add stores rw (nothing when rw->obj is NULL);
 * false when out of memory.  registry_load_swap makes it the cache (loaded),
 * frees what was there and ld; the count of objects.  registry_load_free
 * drops ld unused (NULL is fine).
 */
struct registry_load;
struct registry_load *registry_load_new(void);
bool registry_load_add(struct registry_load *ld, enum sg_rtype t, const struct row *rw);
size_t registry_load_swap(struct registry_load *ld);
void registry_load_free(struct registry_load *ld);

/* ---- the listener and the sync (registry_listen.c) ---- */

/*
 * Waits (bounded, 1 s) until this process's cache covers every write
 * acknowledged on this host; at once when it does, or when no listener is
 * connected.  Every cache read calls it first.
 */
void registry_sync_wait(void);

/*
 * Commits x's open transaction on c and, when a listener runs, stores what
 * it wrote in this process's cache (registry_cache_apply), holding the apply
 * mutex across both (registry.h), and counts the write on the shared
 * counter.  The COMMIT's status.
 */
sg_status registry_cache_commit(PGconn *c, struct txn *x);

#endif
