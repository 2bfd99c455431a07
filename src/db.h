/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.h: the PostgreSQL connections of one process and the schema migrations.
 *
 * Each worker process owns a small pool (database.pool_size connections),
 * opened after fork, lazily, and re-opened when a connection is found broken.
 * A connection is used by one thread at a time: db_acquire() hands it out
 * under the pool's mutex, db_release() gives it back.  SQLSTATEs are mapped to
 * sg_status here and nowhere else.
 */
#ifndef SG_DB_H
#define SG_DB_H

#include <libpq-fe.h>

#include "conf.h"
#include "sg.h"

/* The migrations compiled in from sql/ (sql_migrations.c, generated), in order. */
struct sg_migration {
	const char *name; /* "001_core" */
	const char *sql;
};
extern const struct sg_migration sg_migrations[];
extern const size_t sg_migrations_count;

/* Prepares the pool for conf (no connection is made yet).  Call after fork. */
sg_status db_init(const struct sg_conf *conf) SG_MUST_CHECK;
/* Closes every connection.  Idempotent. */
void db_shutdown(void);

/*
 * A connection for the calling thread, or NULL when PostgreSQL cannot be
 * reached (the reason is logged).  Waits while all are in use, at most
 * DB_ACQUIRE_WAIT_S seconds (then NULL, logged).  A pooled connection found
 * broken is reset first.  Connections inherited across fork are abandoned,
 * never used.
 */
#define DB_ACQUIRE_WAIT_S 10
PGconn *db_acquire(void);
/* Returns c to the pool; broken=true closes it so the next acquire reconnects. */
void db_release(PGconn *c, bool broken);

/*
 * One statement on a pooled connection: db_acquire(), then sql with its n
 * text params.  *conn is the connection (NULL when none could be had: then
 * SG_E_UNAVAILABLE and *res NULL) and *res the result, whatever the status;
 * the caller reads the rows, PQclear()s *res and gives *conn back with
 * db_done().  The status is db_result_status()'s (which logs a failure).
 */
sg_status db_query(const char *sql, int n, const char *const *params, PGconn **conn, PGresult **res) SG_MUST_CHECK;

/*
 * PQexecParams() with a bound: the answer must come within
 * database.query_timeout (db_init; 10 s before it), or the connection is shut
 * down (the server sees its client go; c is then broken, to be released with
 * broken=true) and the result is NULL, which db_result_status() maps to
 * SG_E_UNAVAILABLE.  A pooler that holds queries while it has no server, a
 * synchronous commit waiting for a standby that is gone, a silent network:
 * none of them holds a request longer than that.  The result, when there is
 * one, is the caller's to PQclear().
 */
PGresult *db_exec(PGconn *c, const char *sql, int n, const char *const *params);
/* db_exec with PQexecParams' paramLengths and paramFormats (binary parameters). */
PGresult *db_exec_formats(PGconn *c, const char *sql, int n, const char *const *params, const int *lengths,
			  const int *formats);
/* PQclear(res) and db_release(conn, db_conn_broken(conn)); conn may be NULL. */
void db_done(PGconn *conn, PGresult *res);

/*
 * Maps a failed result to a status: unique/exclusion violation → SG_E_CONFLICT,
 * foreign key violation → SG_E_CONFLICT, connection and shutdown classes (08,
 * 57P) → SG_E_UNAVAILABLE, data exceptions (22) → SG_E_BAD_REQUEST, the rest →
 * SG_E_INTERNAL.  A NULL result or a bad connection is SG_E_UNAVAILABLE.
 * Logs the server's message (never the parameters).
 * Also: check and not-null violations (23514, 23502) → SG_E_BAD_REQUEST;
 * transaction rollback (40: deadlock, serialization), insufficient resources
 * (53), read-only transaction (25006), cancelled statement (57014), missing
 * database or table (3D000, 42P01: schema not migrated) → SG_E_UNAVAILABLE.
 * A successful result (command or tuples OK) is SG_OK and logs nothing.
 */
sg_status db_result_status(PGconn *c, const PGresult *res);

/*
 * True when the failure behind res is transient so the whole transaction may
 * be run again once: the connection broke (no SQLSTATE, class 08, 57P01-03)
 * or PostgreSQL rolled it back (deadlock 40P01, serialization 40001).
 */
bool db_result_retryable(PGconn *c, const PGresult *res);

/* True when the connection is unusable (NULL or not CONNECTION_OK): release it with broken=true. */
bool db_conn_broken(PGconn *c);

/*
 * A new connection outside the pool (the migrator, the registry's listener)
 * with stackgate's settings: fallback_application_name=stackgate,
 * connect_timeout=3 and TCP keepalives, each overridable in conninfo.
 * NULL on failure: err says "cannot connect to the database", with libpq's
 * reason (no password is ever in it) on one line in err->detail.
 * The caller PQfinish()es it.
 */
PGconn *db_connect(const char *conninfo, struct sg_err *err);

/*
 * The start-up check of cache invalidation (db_notify_check.c): LISTENs on a
 * new session to listen_conninfo, sends a NOTIFY through a new connection to
 * conninfo (the way writers do) and waits for it at most timeout_ms.  SG_OK
 * when it arrived; otherwise SG_E_UNAVAILABLE with err->msg saying which
 * side failed and why (a transaction-mode pooler on the LISTEN side: the
 * notification never comes).  For the operator at start, never a client.
 */
#define DB_NOTIFY_CHECK_MS 2000 /* what `serve` waits at start */
sg_status db_notify_check(const char *conninfo, const char *listen_conninfo, int timeout_ms,
			  struct sg_err *err) SG_MUST_CHECK;

/* SELECT 1 on a pooled connection: SG_OK or SG_E_UNAVAILABLE. */
sg_status db_ping(void) SG_MUST_CHECK;

/*
 * Applies every migration not yet recorded in schema_migrations, in order,
 * each in its own transaction, using a direct connection to conninfo.
 * Prints one line per applied migration to stdout when verbose.  On
 * failure err->msg says what failed, with PostgreSQL's message (for the
 * operator: this runs from the CLI and at start, never for a client).
 */
sg_status db_migrate(const char *conninfo, bool verbose, struct sg_err *err) SG_MUST_CHECK;

/*
 * Checks that every known migration is applied.  SG_OK when current;
 * SG_E_UNAVAILABLE with a message in err when the database cannot be reached
 * or the schema is behind (naming the first missing migration).
 */
sg_status db_schema_check(const char *conninfo, struct sg_err *err) SG_MUST_CHECK;

#endif
