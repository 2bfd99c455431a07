/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db_notify_check.c: the start-up proof that cache invalidations will arrive.
 *
 * Every write notifies on the pooled SQL path (database.conninfo) and every
 * worker's listener waits on its own session (database.listen_conninfo).  A
 * transaction-mode pooler (PgBouncer) accepts LISTEN and then never delivers
 * (the notification reaches a server connection no client is linked to), so
 * a host behind it would serve deleted objects for ever without a word.
 * `serve` therefore sends one NOTIFY the way writers do and waits for it on a
 * session opened the way listeners do, and refuses to start when it does not
 * come.  The channel is stackgate_check, which no listener takes.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

#define CHECK_CHANNEL "stackgate_check"

/* The server's message of a failed command, or libpq's, without its trailing newline. */
static void
fail_msg(struct sg_err *err, PGconn *c, PGresult *r, const char *what)
{
	const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char buf[256];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", m != NULL ? m : PQerrorMessage(c));
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	sg_fail(err, SG_E_UNAVAILABLE, NULL, "%s: %s", what, buf);
}

/* Waits until the notification carrying token arrives on l, at most timeout_ms; false on timeout or a broken session. */
static bool
wait_token(PGconn *l, const char *token, int timeout_ms, bool *broken)
{
	int64_t end = sg_now_us() + (int64_t) timeout_ms * 1000;
	PGnotify *n;

	*broken = false;
	for (;;) {
		while ((n = PQnotifies(l)) != NULL) {
			bool ours = strcmp(n->relname, CHECK_CHANNEL) == 0 && strcmp(n->extra, token) == 0;

			PQfreemem(n);
			if (ours)
				return true;
		}
		int64_t left = (end - sg_now_us()) / 1000;
		struct pollfd pfd = {PQsocket(l), POLLIN, 0};

		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int) left) < 0 && errno != EINTR)
			return false;
		if (pfd.revents != 0 && (PQconsumeInput(l) != 1 || PQstatus(l) != CONNECTION_OK)) {
			*broken = true;
			return false;
		}
	}
}

sg_status
db_notify_check(const char *conninfo, const char *listen_conninfo, int timeout_ms, struct sg_err *err)
{
	PGconn *l = NULL, *w = NULL;
	PGresult *r = NULL;
	char token[64];
	const char *p[1] = {token};
	bool broken = false;
	sg_status st = SG_OK;

	l = db_connect(listen_conninfo, err);
	if (l == NULL) {
		st = sg_fail(err, SG_E_UNAVAILABLE, NULL,
			     "database.listen_conninfo: cannot connect to the database: %s", err->detail);
		goto out;
	}
	r = PQexec(l, "LISTEN " CHECK_CHANNEL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail_msg(err, l, r, "database.listen_conninfo: LISTEN failed");
		st = err->status;
		goto out;
	}
	PQclear(r);
	r = NULL;
	w = db_connect(conninfo, err);
	if (w == NULL) {
		st = sg_fail(err, SG_E_UNAVAILABLE, NULL, "database.conninfo: cannot connect to the database: %s",
			     err->detail);
		goto out;
	}
	snprintf(token, sizeof(token), "%ld:%lld", (long) getpid(), (long long) sg_now_us());
	r = PQexecParams(w, "SELECT pg_notify('" CHECK_CHANNEL "', $1)", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fail_msg(err, w, r, "database.conninfo: NOTIFY failed");
		st = err->status;
		goto out;
	}
	if (!wait_token(l, token, timeout_ms, &broken)) {
		st = sg_fail(err, SG_E_UNAVAILABLE, NULL,
			     "a NOTIFY sent through database.conninfo did not arrive on the LISTEN session of "
			     "database.listen_conninfo within %g s%s: other hosts and workers would serve stale "
			     "objects; LISTEN needs a session of its own: point database.listen_conninfo at "
			     "PostgreSQL itself or at a session-mode pool, never at a transaction-mode one",
			     timeout_ms / 1000.0, broken ? " (the LISTEN session was closed)" : "");
	}
out:
	PQclear(r);
	if (w != NULL)
		PQfinish(w);
	if (l != NULL)
		PQfinish(l);
	return st;
}
