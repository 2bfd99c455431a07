/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_cache.c: the registry's per-process cache.  One hash table per
 * type (by identifier, with a list in registration order) holds every object
 * as compact JSON text; a listener thread with its own connection LISTENs on
 * stackgate_registry, loads every table from one snapshot, re-reads one row
 * per notification and reconnects (and reloads) when its connection breaks.
 * Writers store what they committed through registry_cache_commit(); reads
 * come through registry_cache_get/list().  This file owns the apply mutex
 * and the rwlock; registry.h states their discipline.  Its SQL is the text
 * registry.c builds (registry_sql) plus LISTEN and the transaction commands.
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

/* The whole cache; see registry.h for the lock discipline. */
struct entry {
	char *id, *text, *group; /* text: the object as compact JSON; group: a tool's toolgroup_id */
	/*
	 * The object parsed, kept after its first get so the hot path (a model
	 * looked up per completion) does not parse it again.  Shared and never
	 * modified; set once with compare-and-swap under the read lock.  At most
	 * MAX_PARSED entries keep one, so 100,000 objects cost their text only.
	 */
	_Atomic(json_t *) obj;
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
} *shared;
static atomic_ulong synced;     /* the shared count this process's cache covers */
static atomic_bool listening;   /* the listener is connected and loaded */
static pthread_mutex_t sync_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sync_cv = PTHREAD_COND_INITIALIZER;
static int sync_fd = -1;        /* eventfd: readers ask this process's listener for a round trip */
#ifdef SG_TEST_KNOBS
/*
 * Test builds only (configure --enable-test-knobs): STACKGATE_TEST_LISTENER_DELAY_MS
 * holds each notification that arrives unasked for that long before the listener
 * takes it (a sync request still gets its round trip at once), so a test shows that
 * reads right after writes need the sync mechanism, not a fast notification.
 */
static int listener_delay_ms;
#endif
static pid_t sync_pid;          /* the process that made sync_fd (a forked worker makes its own) */

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

/* Waits (bounded) until this process's cache covers every write acknowledged on this host. */
static void
cache_sync(void)
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
	if (atomic_load(&synced) >= target)
		return true; /* notifications got here first: nobody needs to wait */
	r = PQexec(c, "SELECT txid_current_if_assigned()"); /* a query of its own, to count it */
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

void
registry_cache_init(void)
{
	pthread_rwlockattr_t a;

	/* Writer-preferring: a steady stream of readers must not starve the listener. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cache.lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&cache.apply, NULL);
}

/* ---- the tables ---- */

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

#define MAX_PARSED 4096
static atomic_size_t nparsed;

static void
entry_free(struct entry *e)
{
	if (e != NULL) {
		json_t *o = atomic_load(&e->obj);

		if (o != NULL) {
			json_decref(o);
			atomic_fetch_sub(&nparsed, 1);
		}
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

	registry_ensure_init();
	cache_swap(none, loaded);
}

sg_status
registry_cache_put(enum sg_rtype t, const json_t *obj, long long created_at, long long seq)
{
	struct entry *e;

	registry_ensure_init();
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
	registry_ensure_init();
	pthread_rwlock_wrlock(&cache.lock);
	table_drop(&cache.tab[t], identifier);
	pthread_rwlock_unlock(&cache.lock);
}

size_t
registry_cache_count(enum sg_rtype t)
{
	size_t n;

	registry_ensure_init();
	pthread_rwlock_rdlock(&cache.lock);
	n = cache.tab[t].n;
	pthread_rwlock_unlock(&cache.lock);
	return n;
}

/*
 * A reference to e's object: the kept parse when there is one, else a fresh
 * parse, kept when keep and the budget allow.  NULL when out of memory.
 */
static json_t *
entry_object(struct entry *e, bool keep)
{
	json_t *o = atomic_load(&e->obj), *none = NULL;

	if (o != NULL)
		return json_incref(o);
	o = json_loads(e->text, 0, NULL);
	if (o == NULL || !keep || atomic_load(&nparsed) >= MAX_PARSED)
		return o;
	if (atomic_compare_exchange_strong(&e->obj, &none, o)) {
		atomic_fetch_add(&nparsed, 1);
		return json_incref(o);
	}
	/* Another thread kept its parse first: use that one. */
	json_decref(o);
	return json_incref(atomic_load(&e->obj));
}

/* -1: the cache is not loaded (ask PostgreSQL); 0: absent; 1: *out (NULL if out of memory). */
int
registry_cache_get(enum sg_rtype t, const char *id, json_t **out, long long *created)
{
	cache_sync();
	struct entry **p;
	int rc = -1;

	pthread_rwlock_rdlock(&cache.lock);
	if (cache.loaded) {
		p = slot_of(&cache.tab[t], id);
		rc = p != NULL && *p != NULL;
		if (rc && out != NULL)
			*out = entry_object(*p, true);
		if (rc && created != NULL)
			*created = (*p)->created;
	}
	pthread_rwlock_unlock(&cache.lock);
	return rc;
}

/* -1: the cache is not loaded (ask PostgreSQL); 1: *out, a new array (NULL if out of memory). */
int
registry_cache_list(enum sg_rtype t, const char *group, json_t **out)
{
	int rc = -1;

	cache_sync();
	*out = NULL;
	pthread_rwlock_rdlock(&cache.lock);
	if (cache.loaded) {
		rc = 1;
		*out = json_array();
		for (struct entry *e = cache.tab[t].head; *out != NULL && e != NULL; e = e->next) {
			json_t *o;

			if (group != NULL && (e->group == NULL || strcmp(e->group, group) != 0))
				continue;
			o = entry_object(e, false);
			if (o == NULL || json_array_append_new(*out, o) != 0) {
				json_decref(*out);
				*out = NULL;
			}
		}
	}
	pthread_rwlock_unlock(&cache.lock);
	return rc;
}

/* ---- walks (registry_iter_*) ---- */

/* A batch record's header; the text and its NUL follow it, unaligned (read with memcpy). */
struct rec {
	long long created, seq;
	size_t len;
};

/* Appends a record to the walk's batch; false when out of memory. */
static bool
iter_add(struct registry_iter *it, long long created, long long seq, const char *text, size_t len)
{
	struct rec h = {created, seq, len};
	size_t need = it->len + sizeof(h) + len + 1;

	if (need > it->cap) {
		size_t cap = it->cap ? it->cap : REGISTRY_ITER_BATCH + 1024;
		char *b;

		while (cap < need)
			cap *= 2;
		if ((b = sg_realloc(it->buf, cap)) == NULL)
			return false;
		it->buf = b;
		it->cap = cap;
	}
	memcpy(it->buf + it->len, &h, sizeof(h));
	memcpy(it->buf + it->len + sizeof(h), text, len);
	it->buf[it->len + sizeof(h) + len] = '\0';
	it->len = need;
	return true;
}

static bool
group_matches(const struct registry_iter *it, const char *group)
{
	return it->group == NULL || (group != NULL && strcmp(group, it->group) == 0);
}

/*
 * The next batch from the cache, under the read lock: -1 the cache is not
 * loaded; 0 out of memory; 1 done (it->exhausted when the table's end was
 * reached).  The walk resumes after (last_id, last_seq): found in place, at
 * its successor; else (removed or moved meanwhile) at the first entry whose
 * seq is greater.
 */
static int
iter_fill_cache(struct registry_iter *it)
{
	struct table *tb;
	struct entry *e, **p, *last = NULL;
	int rc = 1;

	pthread_rwlock_rdlock(&cache.lock);
	if (!cache.loaded) {
		rc = -1;
		goto out;
	}
	tb = &cache.tab[it->t];
	e = tb->head;
	if (it->started && it->last_id != NULL) {
		p = slot_of(tb, it->last_id);
		if (p != NULL && *p != NULL && (*p)->seq == it->last_seq)
			e = (*p)->next;
		else
			while (e != NULL && e->seq <= it->last_seq)
				e = e->next;
	}
	for (; e != NULL && it->len < REGISTRY_ITER_BATCH; e = e->next) {
		if (group_matches(it, e->group) && !iter_add(it, e->created, e->seq, e->text, strlen(e->text))) {
			rc = 0;
			break;
		}
		last = e;
	}
	if (rc == 1 && e == NULL)
		it->exhausted = true;
	if (last != NULL) {
		char *id = sg_strdup(last->id);

		if (id == NULL) {
			rc = 0;
		} else {
			free(it->last_id);
			it->last_id = id;
			it->last_seq = last->seq;
		}
	}
out:
	pthread_rwlock_unlock(&cache.lock);
	return rc;
}

/* The cache is not loaded: the whole list from PostgreSQL in one batch (one query, retried once). */
static sg_status
iter_fill_db(struct registry_iter *it)
{
	char err[128] = "";
	struct txn x = {.t = it->t, .err = err, .errlen = sizeof(err)};
	sg_status st = SG_E_UNAVAILABLE;

	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = db_acquire();
		PGresult *r;

		if (c == NULL)
			break;
		x.retry = false;
		r = registry_q(c, &x, registry_sql[it->t][it->group ? Q_LIST_GROUP : Q_LIST], it->group ? 1 : 0,
			       &it->group, &st);
		for (int i = 0; st == SG_OK && i < PQntuples(r); i++) {
			struct row rw;
			char *text;

			if (!registry_row_of(it->t, r, i, &rw))
				continue; /* logged; skipped as the cache's load skips it */
			text = json_dumps(rw.obj, JSON_COMPACT);
			if (text == NULL || !iter_add(it, rw.created, rw.seq, text, strlen(text)))
				st = SG_E_NOMEM;
			free(text);
			json_decref(rw.obj);
		}
		PQclear(r);
		db_release(c, db_conn_broken(c));
		if (st == SG_OK || !x.retry)
			break;
		it->len = 0;
		st = SG_E_UNAVAILABLE;
	}
	it->exhausted = true;
	return st;
}

/* Empties the batch and fills the next one. */
static sg_status
iter_fill(struct registry_iter *it)
{
	int rc;

	it->len = it->pos = 0;
	rc = iter_fill_cache(it);
	if (rc < 0 && !it->started) {
		it->started = true;
		return iter_fill_db(it);
	}
	it->started = true;
	return rc < 0 ? SG_E_UNAVAILABLE : rc == 0 ? SG_E_NOMEM : SG_OK;
}

sg_status
registry_iter_open(struct registry_iter *it, enum sg_rtype t, const char *toolgroup_id)
{
	*it = (struct registry_iter){.t = t, .group = t == SG_RT_TOOL ? toolgroup_id : NULL};
	if ((unsigned) t >= SG_RT_COUNT) {
		it->exhausted = true;
		return SG_E_NOT_FOUND;
	}
	registry_ensure_init();
	cache_sync();
	return iter_fill(it);
}

sg_status
registry_iter_next(struct registry_iter *it, json_t **obj, long long *created)
{
	struct rec h;
	sg_status st;

	*obj = NULL;
	while (it->pos >= it->len) {
		if (it->exhausted)
			return SG_OK;
		if ((st = iter_fill(it)) != SG_OK) {
			it->exhausted = true;
			it->len = it->pos = 0;
			return st;
		}
	}
	memcpy(&h, it->buf + it->pos, sizeof(h));
	*obj = json_loadb(it->buf + it->pos + sizeof(h), h.len, 0, NULL);
	if (*obj == NULL)
		return SG_E_NOMEM; /* the text is the cache's own dump: only memory can fail */
	if (created != NULL)
		*created = h.created;
	it->pos += sizeof(h) + h.len + 1;
	return SG_OK;
}

void
registry_iter_free(struct registry_iter *it)
{
	free(it->buf);
	free(it->last_id);
	it->buf = it->last_id = NULL;
	it->len = it->cap = it->pos = 0;
	it->exhausted = true;
}

/* Puts a row's object into table t (under the write lock); out of memory leaves the old entry. */
static void
put_row(enum sg_rtype t, const struct row *rw)
{
	struct entry *e = rw->obj ? entry_new(rw->obj, rw->created, rw->seq) : NULL;

	if (e != NULL)
		table_put(&cache.tab[t], e);
	else if (rw->obj != NULL)
		log_error("registry cache: out of memory; %s '%s' may be stale", registry_type_name(t),
			  json_string_value(json_object_get(rw->obj, "identifier")));
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
	locked = pthread_mutex_timedlock(&cache.apply, &ts) == 0;
	if (locked && !cache.running) {
		pthread_mutex_unlock(&cache.apply);
		locked = false;
	}
	st = registry_cmd(c, x, "COMMIT");
	if (st == SG_OK && shared != NULL)
		counted = atomic_fetch_add(&shared->writes, 1) + 1;
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
		/* Applied here: when this process covered every earlier write, it covers this one too. */
		unsigned long before = counted - 1;

		if (counted != 0)
			atomic_compare_exchange_strong(&synced, &before, counted);
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
	st = registry_cmd(c, NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

	for (int t = 0; st == SG_OK && t < SG_RT_COUNT; t++) {
		PGresult *r = registry_q(c, NULL, registry_sql[t][Q_LIST], 0, NULL, &st);

		for (int i = 0; st == SG_OK && i < PQntuples(r); i++) {
			struct row rw;
			struct entry *e = NULL;

			if (registry_row_of((enum sg_rtype) t, r, i, &rw)) /* a malformed row is logged and skipped */
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
		st = registry_cmd(c, NULL, "COMMIT");
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

/* One notification: re-reads that row (or everything) and applies it; *queried when it sent a query on c. */
static bool
refresh(PGconn *c, const char *payload, bool *queried)
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
	*queried = true;
	if (*id == '\0')
		return resync(c);
	pthread_mutex_lock(&cache.apply);
	r = registry_q(c, NULL, registry_sql[t][Q_GET], 1, &id, &st);
	if (st == SG_OK && PQntuples(r) > 0 && registry_row_of(t, r, 0, &rw) &&
	    (e = entry_new(rw.obj, rw.created, rw.seq)) == NULL)
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
			/* Read before the load's snapshot: every write counted by then is in it. */
			unsigned long loaded_upto = writes_now();

			c = db_connect(cache.conninfo, err, sizeof(err));
			if (c != NULL && (registry_cmd(c, NULL, "LISTEN stackgate_registry") != SG_OK || !resync(c))) {
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
			synced_advance(loaded_upto);
			set_listening(true);
			/* Notifications may have been missed while down: other modules drop what they cached. */
			registry_notify_fn hook = atomic_load(&notify_hook);
			if (hook != NULL)
				hook("*");
		}

		struct pollfd pfd[3] = {{PQsocket(c), POLLIN, 0}, {cache.wake[0], POLLIN, 0}, {sync_fd, POLLIN, 0}};
		/* First what libpq already holds: our own queries may have read notifications off the socket. */
		bool ok = apply_notifications(c);

		if (ok && poll(pfd, 3, 30000) < 0 && errno != EINTR)
			ok = false;
		if (pfd[1].revents != 0)
			break;
#ifdef SG_TEST_KNOBS
		/* Test builds: notifications nobody asked for are taken late, so reads must rely on the sync. */
		if (ok && listener_delay_ms > 0 && (pfd[0].revents & POLLIN) != 0 && pfd[2].revents == 0) {
			struct pollfd held[2] = {{cache.wake[0], POLLIN, 0}, {sync_fd, POLLIN, 0}};

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
			log_warn("registry cache: lost its PostgreSQL connection; serving cached objects while reconnecting");
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
	if (cache.running)
		return SG_OK;
	registry_cache_reset(false);
#ifdef SG_TEST_KNOBS
	if (getenv("STACKGATE_TEST_LISTENER_DELAY_MS") != NULL) {
		listener_delay_ms = atoi(getenv("STACKGATE_TEST_LISTENER_DELAY_MS"));
		log_warn("test knob: the registry listener takes unasked notifications %d ms late", listener_delay_ms);
	}
#endif
	cache.conninfo = sg_strdup(conf->conninfo ? conf->conninfo : "");
	if (cache.conninfo == NULL)
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
	registry_ensure_init();
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
