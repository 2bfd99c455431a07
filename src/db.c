/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c: the PostgreSQL connections of one process and the schema migrations.
 *
 * The pool is an array of slots, each empty (not connected yet or dropped) or
 * holding a connection, and busy while a thread uses it.  pool.mu guards the
 * slots; connecting and PQreset() happen outside it, on a slot already marked
 * busy, so a slow or dead server never blocks threads that could use another
 * connection.  pool.cv wakes threads waiting for a free slot.  This file is
 * also the one place where SQLSTATEs become statuses.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "metrics.h"

/* Any constant: every migrator of the same database serialises on it. */
#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(727365617369)"
/*
 * Quiets "already exists, skipping" notices for one transaction only: a
 * session SET would stay behind on a transaction-mode pooler's server
 * connection and change some other client's session.
 */
#define QUIET_NOTICES "SET LOCAL client_min_messages = warning"

struct slot {
	PGconn *c;
	bool busy;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *conninfo;
	struct slot *slots;
	int n;
	bool ready;
	int query_timeout_ms; /* db_exec's bound (atomic: read without the lock) */
	unsigned gen;         /* bumped by db_init: a slot pointer from an older pool is stale */
	pid_t pid;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .query_timeout_ms = 10000};

/* libpq's notices (and a FATAL sent to an idle session) go to our log, not to bare stderr. */
static void
notice_to_log(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void) arg;
	while (n > 0 && message[n - 1] == '\n')
		n--;
	log_debug("postgresql: %.*s", (int) n, message);
}

PGconn *
db_connect(const char *conninfo, struct sg_err *err)
{
	/* Keywords before dbname are defaults: an expanded conninfo overrides them. */
	static const char *const keys[] = {"connect_timeout",  "keepalives",
					   "keepalives_idle",  "keepalives_interval",
					   "keepalives_count", "fallback_application_name",
					   "dbname",           NULL};
	const char *vals[] = {"3", "1", "30", "10", "3", "stackgate", conninfo ? conninfo : "", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	char *d;
	size_t len;

	if (c == NULL) {
		sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		sg_err_detail(err, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		sg_fail(err, SG_E_UNAVAILABLE, NULL, "cannot connect to the database");
		sg_err_detail(err, "%s", PQerrorMessage(c));
		d = err->detail;
		len = strlen(d);
		while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == ' '))
			d[--len] = '\0';
		for (char *p = d; *p != '\0'; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' '; /* libpq's hint lines: keep one log line */
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, notice_to_log, NULL);
	return c;
}

/* Frees the slot array; the connections in it must have been taken out. */
static void
pool_clear_locked(void)
{
	free(pool.slots);
	free(pool.conninfo);
	pool.slots = NULL;
	pool.conninfo = NULL;
	pool.n = 0;
	pool.ready = false;
}

sg_status
db_init(const struct sg_conf *conf)
{
	char *ci = sg_strdup(conf->conninfo ? conf->conninfo : "");
	int n = conf->db_pool_size > 0 ? conf->db_pool_size : 4;
	struct slot *slots = sg_calloc((size_t) n, sizeof(*slots));

	if (ci == NULL || slots == NULL) {
		free(ci);
		free(slots);
		return SG_E_NOMEM;
	}
	db_shutdown();
	pthread_mutex_lock(&pool.mu);
	pool.conninfo = ci;
	pool.slots = slots;
	pool.n = n;
	pool.pid = getpid();
	__atomic_store_n(&pool.query_timeout_ms, conf->db_query_timeout_s > 0 ? conf->db_query_timeout_s * 1000 : 10000,
			 __ATOMIC_RELAXED);
	pool.ready = true;
	pool.gen++;
	pthread_mutex_unlock(&pool.mu);
	return SG_OK;
}

void
db_shutdown(void)
{
	PGconn **idle = NULL;
	int nidle = 0;

	pthread_mutex_lock(&pool.mu);
	if (pool.slots != NULL && pool.pid == getpid())
		idle = sg_calloc((size_t) pool.n, sizeof(*idle));
	for (int i = 0; idle != NULL && i < pool.n; i++)
		if (pool.slots[i].c != NULL && !pool.slots[i].busy)
			idle[nidle++] = pool.slots[i].c;
	/* Busy connections are closed by db_release, which will not find their slot. */
	pool_clear_locked();
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 0; i < nidle; i++)
		PQfinish(idle[i]);
	free(idle);
}

PGconn *
db_acquire(void)
{
	struct timespec deadline;
	struct slot *s = NULL;
	PGconn *c;
	char *ci = NULL;
	struct sg_err err;
	unsigned gen;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += DB_ACQUIRE_WAIT_S;
	pthread_mutex_lock(&pool.mu);
	if (pool.ready && pool.pid != getpid()) {
		/* Forked with connections open: they are the parent's sessions; never touch them. */
		for (int i = 0; i < pool.n; i++)
			pool.slots[i] = (struct slot){0};
		pool.pid = getpid();
	}
	while (pool.ready) {
		for (int i = 0; i < pool.n; i++) {
			if (!pool.slots[i].busy && (s == NULL || pool.slots[i].c != NULL))
				s = &pool.slots[i];
			if (s != NULL && s->c != NULL)
				break;
		}
		if (s != NULL)
			break;
		if (pthread_cond_timedwait(&pool.cv, &pool.mu, &deadline) == ETIMEDOUT) {
			pthread_mutex_unlock(&pool.mu);
			log_warn("no free database connection after %d s (database.pool_size %d)", DB_ACQUIRE_WAIT_S,
				 pool.n);
			return NULL;
		}
	}
	if (s == NULL) {
		pthread_mutex_unlock(&pool.mu);
		return NULL;
	}
	s->busy = true;
	c = s->c;
	gen = pool.gen;
	if (c == NULL || PQstatus(c) != CONNECTION_OK)
		ci = sg_strdup(pool.conninfo);
	pthread_mutex_unlock(&pool.mu);

	if (c != NULL && PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
		}
	}
	if (c == NULL && ci != NULL) {
		c = db_connect(ci, &err);
		if (c == NULL) {
			log_warn("cannot connect to PostgreSQL: %s", err.detail);
			metrics_db_error();
		}
	}
	free(ci);

	pthread_mutex_lock(&pool.mu);
	if (pool.ready && pool.gen == gen) {
		s->c = c;
		if (c == NULL) {
			s->busy = false;
			pthread_cond_signal(&pool.cv);
		}
	}
	pthread_mutex_unlock(&pool.mu);
	return c;
}

void
db_release(PGconn *c, bool broken)
{
	struct slot *s = NULL;
	PGconn *idle[64];
	int nidle = 0;

	if (c == NULL)
		return;
	/* A connection left inside a transaction would leak it into the next user's work. */
	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)
		broken = true;
	pthread_mutex_lock(&pool.mu);
	for (int i = 0; i < pool.n; i++) {
		if (pool.slots[i].c == c)
			s = &pool.slots[i];
		/* One broken session usually means a restarted server: its idle siblings are dead too. */
		else if (broken && pool.slots[i].c != NULL && !pool.slots[i].busy && nidle < (int) SG_ARRAY_LEN(idle)) {
			idle[nidle++] = pool.slots[i].c;
			pool.slots[i].c = NULL;
		}
	}
	if (s != NULL) {
		if (broken)
			s->c = NULL;
		s->busy = false;
		pthread_cond_signal(&pool.cv);
	}
	pthread_mutex_unlock(&pool.mu);
	if (s == NULL || broken)
		PQfinish(c);
	for (int i = 0; i < nidle; i++)
		PQfinish(idle[i]);
}

bool
db_conn_broken(PGconn *c)
{
	return c == NULL || PQstatus(c) != CONNECTION_OK;
}

sg_status
db_query(const char *sql, int n, const char *const *params, PGconn **conn, PGresult **res)
{
	*res = NULL;
	*conn = db_acquire();
	if (*conn == NULL)
		return SG_E_UNAVAILABLE;
	*res = db_exec(*conn, sql, n, params);
	return db_result_status(*conn, *res);
}

PGresult *
db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
	return db_exec_formats(c, sql, n, params, NULL, NULL);
}

PGresult *
db_exec_formats(PGconn *c, const char *sql, int n, const char *const *params, const int *lengths, const int *formats)
{
	int timeout_ms = __atomic_load_n(&pool.query_timeout_ms, __ATOMIC_RELAXED);
	int64_t end = sg_now_us() + (int64_t) timeout_ms * 1000;
	PGresult *r, *last = NULL;

	if (PQsendQueryParams(c, sql, n, NULL, params, lengths, formats, 0) != 1)
		return NULL; /* PQerrorMessage says why; db_result_status logs it */
	for (;;) {
		if (PQstatus(c) != CONNECTION_OK) {
			/* Broken: libpq answers at once, with the error as the result. */
			for (int i = 0; i < 8 && (r = PQgetResult(c)) != NULL; i++) {
				PQclear(last);
				last = r;
			}
			return last;
		}
		/* Every result of the statement, keeping the last (as PQexecParams does). */
		while (!PQisBusy(c)) {
			r = PQgetResult(c);
			if (r == NULL)
				return last;
			PQclear(last);
			last = r;
		}
		int64_t left_ms = (end - sg_now_us()) / 1000;
		struct pollfd pfd = {PQsocket(c), POLLIN, 0};

		if (left_ms <= 0)
			break;
		if (poll(&pfd, 1, (int) left_ms) < 0 && errno != EINTR)
			break;
		if (pfd.revents != 0)
			(void) PQconsumeInput(c); /* on failure libpq holds the error as the result */
	}
	log_warn("postgresql: no answer within %d ms (database.query_timeout): closing the connection", timeout_ms);
	metrics_db_error();
	if (PQsocket(c) >= 0)
		shutdown(PQsocket(c), SHUT_RDWR);
	/* libpq sees the end of the stream: the connection is bad and the results come at once. */
	(void) PQconsumeInput(c);
	for (int i = 0; i < 8 && (r = PQgetResult(c)) != NULL; i++)
		PQclear(r);
	PQclear(last);
	return NULL;
}

void
db_done(PGconn *conn, PGresult *res)
{
	PQclear(res);
	db_release(conn, db_conn_broken(conn));
}

/* libpq's own messages span lines ("…\nHINT…\n"): one log line, without the trailing newline. */
static void
log_libpq(enum sg_log_level lvl, const char *prefix, const char *msg)
{
	char buf[512];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", msg != NULL ? msg : "");
	for (n = 0; buf[n] != '\0'; n++)
		if (buf[n] == '\n' || buf[n] == '\t')
			buf[n] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
	log_msg(lvl, "%s%s", prefix, buf);
}

static bool
state_is(const char *state, const char *prefix)
{
	return state != NULL && strncmp(state, prefix, strlen(prefix)) == 0;
}

sg_status
db_result_status(PGconn *c, const PGresult *res)
{
	ExecStatusType es;
	const char *state, *msg;
	char prefix[96];
	sg_status st;

	if (res == NULL) {
		log_libpq(SG_LOG_WARN, "postgresql: ", c != NULL ? PQerrorMessage(c) : "no connection");
		metrics_db_error();
		return SG_E_UNAVAILABLE;
	}
	es = PQresultStatus(res);
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)
		return SG_OK;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQresultErrorMessage(res);
	if (state == NULL || db_conn_broken(c))
		st = SG_E_UNAVAILABLE;
	else if (state_is(state, "23505") || state_is(state, "23P01") || state_is(state, "23503"))
		st = SG_E_CONFLICT;
	else if (state_is(state, "23514") || state_is(state, "23502") || state_is(state, "22"))
		st = SG_E_BAD_REQUEST;
	else if (state_is(state, "08") || state_is(state, "57P") || state_is(state, "57014") || state_is(state, "40") ||
		 state_is(state, "53") || state_is(state, "25006") || state_is(state, "3D000") ||
		 state_is(state, "42P01"))
		st = SG_E_UNAVAILABLE;
	else
		st = SG_E_INTERNAL;
	/* Constraint violations are the client's doing and expected: no warning for them. */
	snprintf(prefix, sizeof(prefix), "postgresql: SQLSTATE %s%s: ", state ? state : "none",
		 state_is(state, "42P01") ? " (has `stackgate migrate` run?)" : "");
	log_libpq(st == SG_E_CONFLICT || st == SG_E_BAD_REQUEST ? SG_LOG_DEBUG : SG_LOG_WARN, prefix, msg);
	if (st != SG_E_CONFLICT && st != SG_E_BAD_REQUEST)
		metrics_db_error();
	return st;
}

bool
db_result_retryable(PGconn *c, const PGresult *res)
{
	const char *state;

	if (res == NULL || db_conn_broken(c))
		return true;
	if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK)
		return false;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return state == NULL || state_is(state, "08") || state_is(state, "57P01") || state_is(state, "57P02") ||
	       state_is(state, "57P03") || state_is(state, "40001") || state_is(state, "40P01");
}

sg_status
db_ping(void)
{
	PGconn *c = db_acquire();
	PGresult *r;
	sg_status st;

	if (c == NULL)
		return SG_E_UNAVAILABLE;
	r = PQexec(c, "SELECT 1");
	st = db_result_status(c, r) == SG_OK ? SG_OK : SG_E_UNAVAILABLE;
	PQclear(r);
	db_release(c, st != SG_OK);
	return st;
}

/* Runs sql (no parameters or one); on failure writes "what: server message" into err. */
static sg_status
run(PGconn *c, const char *sql, const char *param, PGresult **out, const char *what, struct sg_err *err)
{
	PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
	ExecStatusType es = PQresultStatus(r);
	const char *msg, *pos;

	if (out != NULL)
		*out = NULL;
	if (r != NULL && (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)) {
		if (out != NULL)
			*out = r;
		else
			PQclear(r);
		return SG_OK;
	}
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	sg_fail(err, db_conn_broken(c) ? SG_E_UNAVAILABLE : SG_E_INTERNAL, NULL, "%s: %s%s%s", what,
		msg ? msg : PQerrorMessage(c), pos ? " at character " : "", pos ? pos : "");
	PQclear(r);
	return err->status;
}

/* Runs a migration's whole text (several statements) in the open transaction. */
static sg_status
run_script(PGconn *c, const struct sg_migration *m, struct sg_err *err)
{
	PGresult *r = PQexec(c, m->sql);
	ExecStatusType es = PQresultStatus(r);
	const char *msg, *state;

	if (r != NULL && (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK)) {
		PQclear(r);
		return SG_OK;
	}
	msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	sg_fail(err, db_conn_broken(c) ? SG_E_UNAVAILABLE : SG_E_INTERNAL, NULL,
		"migration %s failed (SQLSTATE %s): %s", m->name, state ? state : "none",
		msg ? msg : PQerrorMessage(c));
	PQclear(r);
	return err->status;
}

static void
rollback(PGconn *c)
{
	PQclear(PQexec(c, "ROLLBACK"));
}

sg_status
db_migrate(const char *conninfo, bool verbose, struct sg_err *err)
{
	PGconn *c = db_connect(conninfo, err);
	PGresult *r = NULL;
	sg_status st = SG_OK;
	int applied = 0;

	if (c == NULL)
		return sg_fail(err, SG_E_UNAVAILABLE, NULL, "cannot connect to the database: %s", err->detail);
	st = run(c, "BEGIN", NULL, NULL, "begin", err);
	if (st == SG_OK)
		st = run(c, MIGRATE_LOCK, NULL, NULL, "lock", err);
	if (st == SG_OK)
		st = run(c, QUIET_NOTICES, NULL, NULL, "set client_min_messages", err);
	if (st == SG_OK)
		st = run(c,
			 "CREATE TABLE IF NOT EXISTS schema_migrations ("
			 "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
			 NULL, NULL, "create schema_migrations", err);
	if (st == SG_OK)
		st = run(c, "COMMIT", NULL, NULL, "commit", err);

	for (size_t i = 0; st == SG_OK && i < sg_migrations_count; i++) {
		const struct sg_migration *m = &sg_migrations[i];
		bool done;

		/* The lock is taken before looking, so a concurrent migrator's work is seen. */
		st = run(c, "BEGIN", NULL, NULL, "begin", err);
		if (st == SG_OK)
			st = run(c, MIGRATE_LOCK, NULL, NULL, "lock", err);
		if (st == SG_OK)
			st = run(c, QUIET_NOTICES, NULL, NULL, "set client_min_messages", err);
		if (st == SG_OK)
			st = run(c, "SELECT 1 FROM schema_migrations WHERE name = $1", m->name, &r,
				 "read schema_migrations", err);
		if (st != SG_OK)
			break;
		done = PQntuples(r) > 0;
		PQclear(r);
		r = NULL;
		if (!done) {
			st = run_script(c, m, err);
			if (st == SG_OK)
				st = run(c, "INSERT INTO schema_migrations (name) VALUES ($1)", m->name, NULL,
					 "record migration", err);
		}
		if (st == SG_OK)
			st = run(c, "COMMIT", NULL, NULL, "commit", err);
		if (st == SG_OK && !done) {
			applied++;
			if (verbose)
				printf("applied %s\n", m->name);
		}
	}
	if (st != SG_OK && !db_conn_broken(c))
		rollback(c);
	if (st == SG_OK && verbose && applied == 0)
		printf("schema is up to date (%zu migrations)\n", sg_migrations_count);
	if (verbose)
		fflush(stdout);
	PQfinish(c);
	return st;
}

sg_status
db_schema_check(const char *conninfo, struct sg_err *err)
{
	PGconn *c = db_connect(conninfo, err);
	PGresult *r = NULL;
	const char *missing = NULL;
	sg_status st;

	if (c == NULL)
		return sg_fail(err, SG_E_UNAVAILABLE, NULL, "cannot connect to the database: %s", err->detail);
	st = run(c, "SELECT to_regclass('schema_migrations') IS NOT NULL", NULL, &r, "look for schema_migrations", err);
	if (st == SG_OK && strcmp(PQgetvalue(r, 0, 0), "t") != 0 && sg_migrations_count > 0)
		missing = sg_migrations[0].name; /* nothing was ever applied */
	PQclear(r);
	r = NULL;
	if (st == SG_OK && missing == NULL)
		st = run(c, "SELECT name FROM schema_migrations", NULL, &r, "read schema_migrations", err);
	for (size_t i = 0; r != NULL && missing == NULL && i < sg_migrations_count; i++) {
		bool found = false;

		for (int j = 0; !found && j < PQntuples(r); j++)
			found = strcmp(PQgetvalue(r, j, 0), sg_migrations[i].name) == 0;
		if (!found)
			missing = sg_migrations[i].name;
	}
	PQclear(r);
	PQfinish(c);
	if (st == SG_OK && missing != NULL) {
		st = sg_fail(err, SG_E_UNAVAILABLE, NULL,
			     "the database schema is not current: migration %s is not applied; run `stackgate migrate`",
			     missing);
	}
	return st;
}
