/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry_cache.c: the registry's per-process cache.  One hash table per
 * type (by identifier, with a list in registration order) holds every object
 * as compact JSON text.  This file owns the tables and the rwlock that guards
 * them: reads come through registry_cache_get/list() and the walks
 * (registry_iter_*); changes come from registry_listen.c (a load swapped in
 * whole by registry_load_*, a notified row through registry_cache_put/drop,
 * a writer's commit through registry_cache_apply), always under its apply
 * mutex (registry.h states the discipline).  Its only SQL is a walk's batch
 * when the cache is not loaded, the text registry.c builds (registry_sql).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
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
	pthread_rwlock_t lock;
	struct table tab[SG_RT_COUNT];
	bool loaded;
} cache;

void
registry_cache_init(void)
{
	pthread_rwlockattr_t a;

	/* Writer-preferring: a steady stream of readers must not starve the listener. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&cache.lock, &a);
	pthread_rwlockattr_destroy(&a);
}

/* ---- the tables ---- */

static size_t
hash(const char *s)
{
	return (size_t) sg_fnv1a(SG_FNV1A_INIT, s);
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

size_t
registry_cache_longest_chain(enum sg_rtype t)
{
	size_t longest = 0;

	registry_ensure_init();
	pthread_rwlock_rdlock(&cache.lock);
	for (size_t i = 0; i < cache.tab[t].nb; i++) {
		size_t n = 0;

		for (const struct entry *e = cache.tab[t].b[i]; e != NULL; e = e->hnext)
			n++;
		if (n > longest)
			longest = n;
	}
	pthread_rwlock_unlock(&cache.lock);
	return longest;
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
	registry_sync_wait();
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
	metrics_cache_lookup(rc >= 0);
	return rc;
}

/* -1: the cache is not loaded (ask PostgreSQL); 1: *out, a new array (NULL if out of memory). */
int
registry_cache_list(enum sg_rtype t, const char *group, json_t **out)
{
	int rc = -1;

	registry_sync_wait();
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

	/* Room for a whole batch at once, then for this record: the appends below cannot fail. */
	if (it->batch.cap == 0 && !sg_buf_reserve(&it->batch, REGISTRY_ITER_BATCH + 1024))
		return false;
	if (!sg_buf_reserve(&it->batch, sizeof(h) + len + 1))
		return false;
	return sg_buf_append(&it->batch, &h, sizeof(h)) && sg_buf_append(&it->batch, text, len) &&
	       sg_buf_append(&it->batch, "", 1);
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
	for (; e != NULL && it->batch.len < REGISTRY_ITER_BATCH; e = e->next) {
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
	struct txn x = {.t = it->t};
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
		it->batch.len = 0;
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

	it->batch.len = it->pos = 0;
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
	registry_sync_wait();
	return iter_fill(it);
}

sg_status
registry_iter_next(struct registry_iter *it, json_t **obj, long long *created)
{
	struct rec h;
	sg_status st;

	*obj = NULL;
	while (it->pos >= it->batch.len) {
		if (it->exhausted)
			return SG_OK;
		if ((st = iter_fill(it)) != SG_OK) {
			it->exhausted = true;
			it->batch.len = it->pos = 0;
			return st;
		}
	}
	memcpy(&h, it->batch.p + it->pos, sizeof(h));
	*obj = json_loadb(it->batch.p + it->pos + sizeof(h), h.len, 0, NULL);
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
	sg_buf_free(&it->batch);
	free(it->last_id);
	it->last_id = NULL;
	it->pos = 0;
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

void
registry_cache_apply(const struct txn *x)
{
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

/* ---- a whole load (registry_listen.c's resync) ---- */

struct registry_load {
	struct table tab[SG_RT_COUNT];
};

struct registry_load *
registry_load_new(void)
{
	return sg_calloc(1, sizeof(struct registry_load));
}

bool
registry_load_add(struct registry_load *ld, enum sg_rtype t, const struct row *rw)
{
	struct entry *e;

	if (rw->obj == NULL)
		return true;
	if ((e = entry_new(rw->obj, rw->created, rw->seq)) == NULL)
		return false;
	table_put(&ld->tab[t], e);
	return true;
}

size_t
registry_load_swap(struct registry_load *ld)
{
	size_t total = 0;

	for (int t = 0; t < SG_RT_COUNT; t++)
		total += ld->tab[t].n;
	cache_swap(ld->tab, true);
	free(ld);
	return total;
}

void
registry_load_free(struct registry_load *ld)
{
	if (ld != NULL) {
		for (int t = 0; t < SG_RT_COUNT; t++)
			table_free(&ld->tab[t]);
		free(ld);
	}
}
