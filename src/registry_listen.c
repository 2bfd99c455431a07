/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_listen.c: what keeps the per-process cache (registry_cache.c) in
 * step with PostgreSQL.  A listener thread with its own connection LISTENs on
 * stackgate_registry, loads every table from one snapshot, re-reads one row
 * per notification and reconnects (and reloads) when its connection breaks;
 * writers commit through registry_cache_commit(), which stores what they
 * wrote; and a counter shared by the workers of this host gives
 * read-your-writes across them (registry_sync_wait()).  This file owns the
 * apply mutex, the one lock every change of the cache is made under;
 * registry.h states the discipline.  Its SQL is the text registry.c builds
 * (registry_sql) plus LISTEN and the transaction commands.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "registry_int.h"

/* The listener; see registry.h for the lock discipline. */
static struct {
	pthread_mutex_t apply; /* serialises every change of the cache's tables (registry.h) */
	bool running;          /* a listener runs: writers apply their commits (guarded by apply) */
	pthread_t thread;
	int wake[2];
	char *conninfo;
} listener = {.apply = PTHREAD_MUTEX_INITIALIZER};

/*
 * Same-host read-your-writes.  LISTEN/NOTIFY alone reaches the other workers
 * a moment after a write is acknowledged.  So a counter in memory shared by
 * every stackgate process of this host (mapped by the master before fork,
 * registry_prefork()) counts acknowledged writes: a writer adds one after its
 * COMMIT, before its caller answers.  `synced` is the count this process's
 * cache covers; it moves forward three ways:
 *  - a writer that applied its own commit here moves it on by one when it was
 *    current before (its own worker never waits for its own write);
 *  - the listener, whenever it re-reads rows for notifications: each re-read
 *    is a query on the LISTEN connection, and PostgreSQL delivers every
 *    notification committed before a query with its answer, so once those are
 *    applied the cache covers every write counted before the first re-read;
 *  - a round trip asked for by a reader that finds the counter ahead: it
 *    writes this process's eventfd (made per process in registry_open, so no
 *    other worker's listener can take the request) and waits on sync_cv; the
 *    listener drains the eventfd, reads the counter, sends one query, applies
 *    what it brought and wakes every waiter at once.
 * A write another worker acknowledged costs this worker's readers at most one
 * short round trip, and usually nothing: the notification got here first.
 * The wait is bounded (1 s) only against a stuck listener.  Reads cost one
 * atomic load while nothing was written.
 */
static struct {
	atomic_ulong writes;
} * shared;
static atomic_ulong synced;   /* the shared count this process's cache covers */
static atomic_bool listening; /* the listener is connected and loaded */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static int sync_fd = -1; /* eventfd: readers ask this process's listener for a round trip */
#ifdef SG_TEST_KNOBS
/*
 * Test builds only (configure --enable-test-knobs): STACKGATE_TEST_LISTENER_DELAY_MS
 * holds each notification that arrives unasked for that long before the listener
 * takes it (a sync request still gets its round trip at once), so a test shows that
 * reads right after writes need the sync mechanism, not a fast notification.
 */
static int listener_delay_ms;
/*
 * STACKGATE_TEST_COMMIT_APPLY_DELAY_MS holds a write of this process that long
 * between its COMMIT (counted on the shared counter) and its cache update, with
 * the apply mutex held, so that a test can have a reader wait for that count.
 */
static int commit_apply_delay_ms;
#endif
static pid_t sync_pid; /* the process that made sync_fd (a forked worker makes its own) */

void
registry_prefork(void)
{
	void *p;

	if (shared != NULL)
		return;
	p = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("registry: no shared memory for read-your-writes across workers: %s", strerror(errno));
		return;
	}
	shared = p;
	atomic_init(&shared->writes, 0);
}

/* The count of acknowledged writes on this host (0 without the shared counter). */
static unsigned long
writes_now(void)
{
	return shared != NULL ? atomic_load(&shared->writes) : 0;
}

/*
 * Wakes every reader waiting in registry_sync_wait() to look at `synced`
 * again.  Under sync_mu, so that a reader between its look and its wait
 * cannot miss it.
 */
static void
wake_readers(void)
{
	pthread_mutex_lock(&sync_mu);
	pthread_cond_broadcast(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

/* The cache covers every write counted up to target: moves `synced` on and wakes the readers it satisfies. */
static void
synced_advance(unsigned long target)
{
	if (atomic_load(&synced) >= target)
		return;
	pthread_mutex_lock(&sync_mu);
	if (atomic_load(&synced) < target)
		atomic_store(&synced, target);
	pthread_cond_broadcast(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

void
registry_sync_wait(void)
{
	unsigned long w;
	struct timespec deadline;
	uint64_t one = 1;
	bool late = false;

	if (shared == NULL || sync_fd < 0)
		return;
	w = atomic_load(&shared->writes);
	if (atomic_load(&synced) >= w || !atomic_load(&listening))
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 1;
	if (write(sync_fd, &one, sizeof(one)) < 0) {
		/* The counter is non-zero already: the listener will come. */
	}
	pthread_mutex_lock(&sync_mu);
	while (!late && atomic_load(&synced) < w && atomic_load(&listening))
		late = pthread_cond_timedwait(&sync_cv, &sync_mu, &deadline) != 0;
	pthread_mutex_unlock(&sync_mu);
	if (late)
		log_debug("registry cache: the listener did not sync within 1 s; reading what is cached");
}

static bool refresh(PGconn *c, const char *payload, bool *queried);

/*
 * Applies every notification libpq holds.  The counter is read before the
 * first re-read query goes out, so when any was sent and all went well the
 * cache covers every write counted by then.
 */
static bool
apply_notifications(PGconn *c)
{
	unsigned long target = writes_now();
	bool ok = true, queried = false;
	PGnotify *note;

	while (ok && (note = PQnotifies(c)) != NULL) {
		ok = refresh(c, note->extra, &queried);
		PQfreemem(note);
	}
	if (ok && queried)
		synced_advance(target);
	return ok;
}

/* The listener's side of a reader's request: one round trip, then the notifications it brought. */
static bool
listener_sync(PGconn *c)
{
	unsigned long target;
	uint64_t n;
	PGresult *r;
	bool ok;

	/* Drained before the counter is read: a reader whose request this takes read its count earlier. */
	if (read(sync_fd, &n, sizeof(n)) < 0) {
		/* Already drained by an earlier pass. */
	}
	target = writes_now();
	if (atomic_load(&synced) >= target) {
		/*
		 * Covered already (the notifications, or a write of this process
		 * that registry_cache_commit applied): the reader who asked may be
		 * waiting all the same, for a count that moved on without a wakeup.
		 */
		wake_readers();
		return true;
	}
	r = db_exec(c, "SELECT txid_current_if_assigned()", 0, NULL); /* a query of its own, to count it */
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (ok)
		ok = apply_notifications(c);
	if (ok)
		synced_advance(target);
	return ok;
}

/* Tells waiting readers the listener is (not) there to sync. */
static void
set_listening(bool on)
{
	pthread_mutex_lock(&sync_mu);
	atomic_store(&listening, on);
	pthread_cond_broadcast(&sync_cv);
	pthread_mutex_unlock(&sync_mu);
}

/*
 * Commits x's transaction.  With a listener running it holds the apply mutex
 * across the COMMIT and the cache update, so no re-read by the listener can
 * land in between (registry.h).  The wait is bounded: past it the write
 * reaches this process's cache by its notification only.
 */
sg_status
registry_cache_commit(PGconn *c, struct txn *x)
{
	struct timespec ts;
	unsigned long counted = 0; /* this write's number on the shared counter */
	bool locked;
	sg_status st;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	locked = pthread_mutex_timedlock(&listener.apply, &ts) == 0;
	if (locked && !listener.running) {
		pthread_mutex_unlock(&listener.apply);
		locked = false;
	}
	st = registry_cmd(c, x, "COMMIT");
	if (st == SG_OK && shared != NULL)
		counted = atomic_fetch_add(&shared->writes, 1) + 1;
#ifdef SG_TEST_KNOBS
	if (st == SG_OK && locked && commit_apply_delay_ms > 0)
		(void) poll(NULL, 0, commit_apply_delay_ms);
#endif
	if (st == SG_OK && locked) {
		registry_cache_apply(x);
		/* Applied here: when this process covered every earlier write, it covers this one too. */
		unsigned long before = counted - 1;

		/* A reader of this process may wait for this count already (it read it after the increment). */
		if (counted != 0 && atomic_compare_exchange_strong(&synced, &before, counted))
			wake_readers();
	}
	if (locked)
		pthread_mutex_unlock(&listener.apply);
	return st;
}

/* ---- the listener ---- */

static bool
listener_stop_requested(int ms)
{
	struct pollfd pfd = {listener.wake[0], POLLIN, 0};

	return poll(&pfd, 1, ms) > 0;
}

/* Loads every table from one snapshot and swaps it in. */
static bool
resync(PGconn *c)
{
	struct registry_load *fresh = registry_load_new();
	sg_status st;
	size_t total;

	if (fresh == NULL)
		return false;
	pthread_mutex_lock(&listener.apply);
	st = registry_cmd(c, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

	for (int t = 0; st == SG_OK && t < SG_RT_COUNT; t++) {
		PGresult *r = registry_q(c, NULL, registry_sql[t][Q_LIST], 0, NULL, &st);

		for (int i = 0; st == SG_OK && i < PQntuples(r); i++) {
			struct row rw;

			/* A malformed row is logged and skipped (rw.obj NULL). */
			if (registry_row_of((enum sg_rtype) t, r, i, &rw) &&
			    !registry_load_add(fresh, (enum sg_rtype) t, &rw))
				st = SG_E_NOMEM;
			json_decref(rw.obj);
		}
		PQclear(r);
	}
	if (st == SG_OK)
		st = registry_cmd(c, NULL, "COMMIT");
	if (st != SG_OK) {
		pthread_mutex_unlock(&listener.apply);
		registry_load_free(fresh);
		return false;
	}
	total = registry_load_swap(fresh);
	pthread_mutex_unlock(&listener.apply);
	log_debug("registry cache loaded: %zu objects", total);
	return true;
}

static _Atomic(registry_notify_fn) notify_hook;

void
registry_on_notify(registry_notify_fn fn)
{
	atomic_store(&notify_hook, fn);
}

/* One notification: re-reads that row (or everything) and applies it; *queried when it sent a query on c. */
static bool
refresh(PGconn *c, const char *payload, bool *queried)
{
	const char *colon = strchr(payload, ':'), *id;
	char tname[32];
	enum sg_rtype t;
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
	*queried = true;
	if (*id == '\0')
		return resync(c);
	pthread_mutex_lock(&listener.apply);
	r = registry_q(c, NULL, registry_sql[t][Q_GET], 1, &id, &st);
	if (st == SG_OK && PQntuples(r) > 0 && registry_row_of(t, r, 0, &rw))
		st = registry_cache_put(t, rw.obj, rw.created, rw.seq);
	else if (st == SG_OK)
		registry_cache_drop(t, id);
	json_decref(rw.obj);
	PQclear(r);
	pthread_mutex_unlock(&listener.apply);
	return st == SG_OK;
}

static void *
listener_main(void *arg)
{
	PGconn *c = NULL;
	int backoff = 100;
	bool down = false;
	struct sg_err err;

	(void) arg;
	for (;;) {
		if (c == NULL) {
			/* Read before the load's snapshot: every write counted by then is in it. */
			unsigned long loaded_upto = writes_now();

			c = db_connect(listener.conninfo, &err);
			if (c != NULL && (registry_cmd(c, NULL, "LISTEN stackgate_registry") != SG_OK || !resync(c))) {
				sg_err_detail(&err, "the connection failed while loading");
				PQfinish(c);
				c = NULL;
			}
			if (c == NULL) {
				if (!down)
					log_warn("registry cache: cannot reach PostgreSQL (%s); retrying", err.detail);
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
			synced_advance(loaded_upto);
			set_listening(true);
			/* Notifications may have been missed while down: other modules drop what they cached. */
			registry_notify_fn hook = atomic_load(&notify_hook);
			if (hook != NULL)
				hook("*");
		}

		struct pollfd pfd[3] = {{PQsocket(c), POLLIN, 0}, {listener.wake[0], POLLIN, 0}, {sync_fd, POLLIN, 0}};
		/* First what libpq already holds: our own queries may have read notifications off the socket. */
		bool ok = apply_notifications(c);

		if (ok && poll(pfd, 3, 30000) < 0 && errno != EINTR)
			ok = false;
		if (pfd[1].revents != 0)
			break;
#ifdef SG_TEST_KNOBS
		/* Test builds: notifications nobody asked for are taken late, so reads must rely on the sync. */
		if (ok && listener_delay_ms > 0 && (pfd[0].revents & POLLIN) != 0 && pfd[2].revents == 0) {
			struct pollfd held[2] = {{listener.wake[0], POLLIN, 0}, {sync_fd, POLLIN, 0}};

			(void) poll(held, 2, listener_delay_ms);
			if (held[0].revents != 0)
				break;
			pfd[2].revents = held[1].revents;
		}
#endif
		if (ok && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0)
			ok = PQconsumeInput(c) == 1;
		if (ok && pfd[2].revents != 0)
			ok = listener_sync(c);
		if (!ok || PQstatus(c) != CONNECTION_OK) {
			set_listening(false);
			log_warn(
				"registry cache: lost its PostgreSQL connection; serving cached objects while reconnecting");
			PQfinish(c);
			c = NULL;
			down = true;
		}
	}
	set_listening(false);
	PQfinish(c);
	return NULL;
}

sg_status
registry_open(const struct sg_conf *conf)
{
	registry_ensure_init();
	if (listener.running)
		return SG_OK;
	registry_cache_reset(false);
#ifdef SG_TEST_KNOBS
	if (getenv("STACKGATE_TEST_LISTENER_DELAY_MS") != NULL) {
		listener_delay_ms = atoi(getenv("STACKGATE_TEST_LISTENER_DELAY_MS"));
		log_warn("test knob: the registry listener takes unasked notifications %d ms late", listener_delay_ms);
	}
	if (getenv("STACKGATE_TEST_COMMIT_APPLY_DELAY_MS") != NULL) {
		commit_apply_delay_ms = atoi(getenv("STACKGATE_TEST_COMMIT_APPLY_DELAY_MS"));
		log_warn("test knob: registry writes update the cache %d ms after their COMMIT", commit_apply_delay_ms);
	}
#endif
	/* Its own session (database.listen_conninfo): LISTEN does not survive a transaction-mode pooler. */
	listener.conninfo = sg_strdup(conf_listen_conninfo(conf) ? conf_listen_conninfo(conf) : "");
	if (listener.conninfo == NULL)
		return SG_E_NOMEM;
	if (sync_pid != getpid()) {
		/* This process's own: one inherited from the master would be drained by every worker's listener. */
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0) {
			log_error("registry: eventfd: %s", strerror(errno));
			goto fail;
		}
		if (sync_fd >= 0)
			close(sync_fd);
		sync_fd = fd;
		sync_pid = getpid();
	}
	if (pipe2(listener.wake, O_CLOEXEC) != 0) {
		log_error("registry: pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&listener.thread, NULL, listener_main, NULL) != 0) {
		log_error("registry: cannot start the cache listener thread");
		close(listener.wake[0]);
		close(listener.wake[1]);
		goto fail;
	}
	pthread_mutex_lock(&listener.apply);
	listener.running = true;
	pthread_mutex_unlock(&listener.apply);
	return SG_OK;
fail:
	free(listener.conninfo);
	listener.conninfo = NULL;
	return SG_E_INTERNAL;
}

void
registry_close(void)
{
	registry_ensure_init();
	if (listener.running) {
		if (write(listener.wake[1], "x", 1) != 1)
			log_error("registry: cannot wake the cache listener: %s", strerror(errno));
		pthread_join(listener.thread, NULL);
		close(listener.wake[0]);
		close(listener.wake[1]);
		free(listener.conninfo);
		listener.conninfo = NULL;
		pthread_mutex_lock(&listener.apply);
		listener.running = false;
		pthread_mutex_unlock(&listener.apply);
	}
	registry_cache_reset(false);
}
