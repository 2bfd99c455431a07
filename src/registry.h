/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h: the registry of Llama Stack resources, in PostgreSQL (one typed
 * table per resource type, see sql/), with a per-process cache.
 *
 * Objects cross this interface as JSON objects shaped exactly as the Llama
 * Stack API returns a single object: "identifier", "provider_resource_id",
 * "provider_id", "type", "access_attributes" (null or an object with the four
 * categories), then the type's own fields in the API's order.  The owner
 * (registering principal) and timestamps live in SQL columns only.
 *
 * Every write runs in one transaction and sends NOTIFY stackgate_registry.
 * All functions are thread-safe.  No function here knows HTTP or the caller:
 * access decisions are the caller's (identity_can_see()); an unregister
 * takes them as a callback (struct registry_guard) that it runs on the
 * locked row inside its transaction.  Besides the owner, each row records
 * whether the configuration file registered it (from_config).
 *
 * Errors: SG_E_UNAVAILABLE whenever PostgreSQL cannot be reached (err, when
 * there is one, says "the registry database is unavailable"; details go to
 * the log).  A query that fails because the connection broke is retried once
 * on a fresh connection.
 *
 * The cache (per process).  registry_open() starts a listener thread with its
 * own connection: it LISTENs on stackgate_registry, loads every table
 * (one REPEATABLE READ snapshot), then re-reads one row per notification
 * ('<type>:<identifier>'; '<type>:' after a TRUNCATE reloads everything).
 * Once loaded, registry_get/list/created_at answer from memory (a hash table
 * per type: O(1) by identifier; a seq-ordered list for listing) and never
 * touch PostgreSQL; until then, and without registry_open(), they query it.
 * When the listener loses its connection the cache keeps answering with what
 * it has, and the listener reconnects (backoff 0.1 s doubling to 5 s) and
 * reloads everything.  Objects are kept as compact JSON text and parsed per
 * read, so callers always get their own copy.
 *
 * Read-your-writes: a successful write updates this process's cache before
 * returning; other processes see it when their listener gets the NOTIFY
 * (milliseconds).
 *
 * Coherence and locks.  The cache changes only under the apply mutex, and
 * each change is a row's state at one instant: the listener holds the mutex
 * while it re-reads a notified row (or loads everything) and stores the
 * result; a writer holds it across its COMMIT and stores what its transaction
 * wrote.  So changes land in the order the database made them, and the cache
 * converges to the database.  A writer waits at most 5 s for the mutex (a
 * full load of a large registry can hold it that long); past that, its change
 * reaches the cache by notification only.  Lock order: the apply mutex, then
 * the rwlock.  The rwlock (writer-preferring) guards the tables and the
 * "loaded" flag: readers hold it shared while they look up and parse;
 * it is held exclusively only to swap entries in, never across I/O.  Readers
 * never take the apply mutex, and no database connection is held while
 * waiting for either lock except a writer's own, across its COMMIT.
 *
 * Files.  registry.c holds the SQL text, the transactions and the functions
 * below except the cache's and the unregister (registry_unregister.c);
 * registry_cache.c holds the tables, the rwlock, registry_cache_* and the
 * walks (registry_iter_*); registry_listen.c holds the listener, the apply
 * mutex, the writers' commit, the read-your-writes counter
 * (registry_prefork), registry_open/close and registry_on_notify: a writer
 * takes the apply mutex only by committing through registry_cache_commit().
 * registry_rows.c holds the per-type descriptors, the registry_type_* names
 * and the registry_row_* conversions (no locks, no I/O).  registry_int.h is
 * what they share.
 */
#ifndef SG_REGISTRY_H
#define SG_REGISTRY_H

#include <jansson.h>

#include "conf.h"
#include "sg.h"

enum sg_rtype {
	SG_RT_MODEL,
	SG_RT_SHIELD,
	SG_RT_VECTOR_DB,
	SG_RT_DATASET,
	SG_RT_SCORING_FN,
	SG_RT_BENCHMARK,
	SG_RT_TOOL_GROUP,
	SG_RT_TOOL,
	SG_RT_COUNT
};

/* The "type" value: "model", "shield", "vector_db", "dataset", "scoring_function", "benchmark", "tool_group", "tool". */
const char *registry_type_name(enum sg_rtype t);
/* A human name for messages: "Model", "Shield", "Vector DB", "Dataset", "Scoring function", "Benchmark", "Tool group", "Tool". */
const char *registry_type_label(enum sg_rtype t);
/* The type whose "type" value is name; false when there is none. */
bool registry_type_from_name(const char *name, enum sg_rtype *out);

/*
 * Once, in the master before it forks the workers: maps the counter of
 * acknowledged writes that gives read-your-writes across the workers of this
 * host (registry_listen.c).  Without it, other workers see a write when its
 * notification arrives (well under a second).
 */
void registry_prefork(void);

/*
 * Per process, after db_init().  Starts the cache's listener thread (create
 * it after fork: a thread does not survive fork).  Does not wait for the
 * database: SG_OK even when it is down (reads query PostgreSQL until the
 * cache is loaded).  SG_E_NOMEM/SG_E_INTERNAL when the thread cannot start.
 */
sg_status registry_open(const struct sg_conf *conf) SG_MUST_CHECK;
/* Stops the listener and empties the cache.  Idempotent. */
void registry_close(void);

/*
 * Objects read from the registry (registry_get, registry_list, the walk, a
 * register's *stored) carry one member more than the API shows:
 * REGISTRY_ORIGIN_KEY, {"owner": the registering principal or null,
 * "from_config": bool}, for access decisions (the policy's owner and origin
 * conditions).  registry_origin() reads it: false when the object has none
 * (then *owner is NULL and *from_config false).  registry_public() takes
 * obj (its reference) and returns the object as the API shows it, without
 * the member: obj itself when it has none, else a new shallow copy (obj may
 * be shared with the cache: never modified); NULL when out of memory.
 * Unknown to registry_row_from_object, the member is never stored.
 */
#define REGISTRY_ORIGIN_KEY "__stackgate_origin"
bool registry_origin(const json_t *obj, const char **owner, bool *from_config);
json_t *registry_public(json_t *obj);

/*
 * The object with that identifier: a new reference in *out, or
 * SG_E_NOT_FOUND.  The object may be shared with the cache and other threads:
 * read it, dump it, decref it, never modify it (json_copy() first).
 */
sg_status registry_get(enum sg_rtype t, const char *identifier, json_t **out) SG_MUST_CHECK;

/*
 * Every object of type t in registration order: a new array in *out (its
 * elements are read-only, as registry_get()'s).
 * For SG_RT_TOOL, toolgroup_id (may be NULL) filters on the tool's group.
 */
sg_status registry_list(enum sg_rtype t, const char *toolgroup_id, json_t **out) SG_MUST_CHECK;

/*
 * A walk over every object of one type in registration order that holds no
 * lock while its caller works (writes a long list to the network).  Lives in
 * registry_cache.c.  The walk copies the objects' compact JSON text (and
 * created_at) out of the cache in batches of about REGISTRY_ITER_BATCH bytes,
 * under the read lock, then hands them out one parsed object at a time; the
 * next batch resumes after the last object seen, by its place in the
 * registration order.  So memory stays at one batch whatever the registry's
 * size and the objects come in order, each once (unless it is removed and
 * registered anew, at a new place, during the walk).  The walk is not one
 * instant's snapshot: an object registered meanwhile appears if its place
 * is after the walk's position, one removed before the walk reaches it does
 * not (read committed, not repeatable read).
 *
 * When the cache is not loaded (before its first load, or without
 * registry_open()) registry_iter_open() reads the whole list from
 * PostgreSQL in one query (object, created_at) into a single batch.
 * The fields are the walk's own; use only these functions.
 */
#define REGISTRY_ITER_BATCH (64 * 1024)
struct registry_iter {
	enum sg_rtype t;
	const char *group;   /* borrowed: the caller keeps it alive until registry_iter_free */
	struct sg_buf batch; /* the current batch: records {created, seq, length, text NUL} */
	size_t pos;          /* the next record's offset in batch */
	long long last_seq;  /* the place of the last object copied (or skipped) */
	char *last_id;
	bool started, exhausted;
};

/*
 * Starts a walk of type t (for SG_RT_TOOL, toolgroup_id — may be NULL —
 * keeps only that group's tools; it is borrowed) and fills the first batch,
 * so an unreachable database is known before anything is written: SG_OK;
 * SG_E_UNAVAILABLE (cache not loaded and PostgreSQL unreachable);
 * SG_E_NOMEM; SG_E_NOT_FOUND for an invalid type.  Free *it with
 * registry_iter_free() whatever the status.
 */
sg_status registry_iter_open(struct registry_iter *it, enum sg_rtype t, const char *toolgroup_id) SG_MUST_CHECK;
/*
 * The next object: SG_OK with *obj a new object of the caller's own (a fresh
 * parse: free to modify) and *created (may be NULL) its registration time,
 * or *obj NULL at the end.  SG_E_NOMEM; SG_E_UNAVAILABLE when the cache
 * stopped answering in the middle of the walk (registry_close()).
 */
sg_status registry_iter_next(struct registry_iter *it, json_t **obj, long long *created) SG_MUST_CHECK;
/* Releases the walk's batch.  Idempotent. */
void registry_iter_free(struct registry_iter *it);

/*
 * Stores obj (complete, defaults applied, access_attributes set) as owned by
 * owner (NULL: none), registered by the config file when from_config.  If an
 * object with that identifier exists and equals obj → SG_OK and *created =
 * false (and, when from_config, the existing row becomes the config's); if it
 * differs → SG_E_CONFLICT, nothing changed.  Otherwise inserts, *created =
 * true.  *stored (may be NULL) gets a new reference to the stored object.
 * Foreign keys (a vector DB's embedding model, a benchmark's dataset) missing
 * → SG_E_CONFLICT.  On failure err gets a client-safe message.
 *
 * Equality is judged on the canonical form (obj converted to the row and
 * back: unknown keys dropped, missing keys null), whoever owns the existing
 * object; the existing object is never overwritten.  Messages:
 *   registry_taken_message(): "Model 'x' already exists"         (409: one
 *     text however the objects differ, so it tells nothing of the other one)
 *   "vector_db 'v' refers to embedding model 'm', which does not exist"  (409;
 *     likewise a benchmark's dataset or scoring function, a tool's group)
 *   "vector_db 'v': model 'm' has no embedding dimension N"      (400: the
 *     dimension must be the model's metadata.embedding_dimension)
 *   "field 'x' must be a string" and the like for ill-typed fields (400)
 */
sg_status registry_register(enum sg_rtype t, json_t *obj, const char *owner, bool from_config, json_t **stored,
			    bool *created, struct sg_err *err) SG_MUST_CHECK;

/*
 * Replaces the stored object obj's identifier names by obj (complete, as for
 * registry_register), keeping its owner and from_config: an update the
 * access policy permitted.  owner is the owner the caller saw (from the
 * stored object's origin): a row that changed hands meanwhile, or is gone,
 * is SG_E_NOT_FOUND and stays as it is.  Foreign keys as registry_register
 * (409).  *stored a new reference to the object as stored.  Not for tool
 * groups or tools (SG_E_BAD_REQUEST): a group's tools come from its provider.
 */
sg_status registry_replace(enum sg_rtype t, json_t *obj, const char *owner, json_t **stored,
			   struct sg_err *err) SG_MUST_CHECK;

/*
 * The one message for an identifier taken by a different object (or by one
 * the caller may not see): "<Label> 'x' already exists", x cut at a
 * character boundary, in err; returns SG_E_CONFLICT.  It names nothing of
 * the object in the way.
 */
sg_status registry_taken_message(enum sg_rtype t, const char *identifier, struct sg_err *err);

/*
 * An unregister's decision, run inside the deleting transaction on the row
 * as locked (SELECT … FOR UPDATE), so nothing can change it between the
 * decision and the DELETE.
 *   may_delete(ctx, obj, owner, from_config, err): obj the stored
 *     object, owner its owner (NULL: none), from_config whether the config
 *     registered it.  SG_OK deletes; any other status is returned and nothing
 *     changes (for SG_E_NOT_FOUND the registry writes its not-found message;
 *     for others, may_delete writes err).
 *   may_name(ctx, obj): whether a message may name obj, an object that
 *     refers to the one being deleted (the caller can see it).
 * Either may be NULL: allowed.  Both run holding a database connection (and
 * may_delete the row lock): they must decide from their arguments, without
 * I/O.
 */
struct registry_guard {
	sg_status (*may_delete)(void *ctx, const json_t *obj, const char *owner, bool from_config, struct sg_err *err);
	bool (*may_name)(void *ctx, const json_t *obj);
	void *ctx;
};

/*
 * Deletes the object if guard (NULL: no check) allows; SG_E_NOT_FOUND when
 * absent ("Model 'x' not found"); what guard->may_delete returned when it
 * refuses; SG_E_CONFLICT when others refer to it ("model 'm' is in use by
 * vector_db 'v'", naming the first referring object guard->may_name allows,
 * else "model 'm' is in use").  Deleting a tool group this way deletes its
 * tools as well.
 */
sg_status registry_unregister(enum sg_rtype t, const char *identifier, const struct registry_guard *guard,
			      struct sg_err *err) SG_MUST_CHECK;

/*
 * Stores a tool group and its tools (a JSON array of complete tool objects)
 * in one transaction.  A tool identifier owned by another group →
 * SG_E_CONFLICT naming the tool; an identical existing group and tools →
 * SG_OK, *created = false.
 *
 * Each tool's toolgroup_id must be the group's identifier (else 400).  When
 * the group exists: a different group object, or the same group with a
 * different set of tools (compared as a set by identifier, each tool
 * canonical) → SG_E_CONFLICT with registry_taken_message() for the group
 * (unregister it first to change its tools).  A tool identifier taken →
 * SG_E_CONFLICT with registry_taken_message() for the tool (never naming
 * the group that holds it); a tool listed twice → SG_E_CONFLICT.  owner and
 * from_config as for registry_register(), for the group and its tools.
 * *stored gets the group.
 */
sg_status registry_register_tool_group(json_t *group, json_t *tools, const char *owner, bool from_config,
				       json_t **stored, bool *created, struct sg_err *err) SG_MUST_CHECK;

/* Deletes a tool group and all its tools in one transaction, as registry_unregister() decides. */
sg_status registry_unregister_tool_group(const char *identifier, const struct registry_guard *guard,
					 struct sg_err *err) SG_MUST_CHECK;

/* When the object was registered (seconds since the epoch), for OpenAI's "created"; 0 if unknown. */
long long registry_created_at(enum sg_rtype t, const char *identifier);

/*
 * Rewrites the providers table to mirror conf's providers (api, provider_id,
 * provider_type; never their config), in one transaction.  Call once at
 * start (the supervisor, after migrations).
 */
sg_status registry_sync_providers(const struct sg_conf *conf, struct sg_err *err) SG_MUST_CHECK;

/*
 * Writes the access policy in force (conf->policy, as policy_to_json) and
 * auth.admin_roles to the table access_policy, replacing what any process
 * wrote before: sg_can() and principal_visible_resources decide with it.
 * Call at start and on every reload (the supervisor, after migrations).
 * registry_config.c.
 */
sg_status registry_sync_policy(const struct sg_conf *conf, struct sg_err *err) SG_MUST_CHECK;

/*
 * Rows (registry_rows.c).  A row of type t is registry_row_ncols(t)
 * nullable strings in the order of registry_row_column(t, i): identifier,
 * provider_resource_id, provider_id, owner, has_acl ("t"/"f"), roles, teams,
 * projects, namespaces, then the type's columns.  Text is itself, integers
 * decimal, jsonb JSON text, text[] a JSON array of strings: the same text
 * goes to PostgreSQL as parameters and comes back from its select list, so
 * these two are inverse.
 */
size_t registry_row_ncols(enum sg_rtype t);
const char *registry_row_column(enum sg_rtype t, size_t i);

/*
 * obj as a row into vals (registry_row_ncols(t) entries, each malloc'd or
 * NULL; free with registry_row_free even on failure).  SG_E_BAD_REQUEST with
 * a message naming the field when a field has the wrong JSON type or a
 * required one is missing or null; SG_E_NOMEM.
 */
sg_status registry_row_from_object(enum sg_rtype t, const json_t *obj, const char *owner, char **vals,
				   struct sg_err *err) SG_MUST_CHECK;
/* The API object of a row (vals[i] NULL = SQL NULL): a new reference, NULL if a value is malformed. */
json_t *registry_row_to_object(enum sg_rtype t, const char *const *vals);
/* Frees the strings of a row filled by registry_row_from_object. */
void registry_row_free(enum sg_rtype t, char **vals);

/*
 * The cache's entry points, as the listener uses them (exposed for tests):
 * put stores a copy of obj (its "identifier" is the key; toolgroup_id kept for
 * tools) at position seq of the registration order; drop removes one entry;
 * reset empties every table and sets whether reads are answered from them.
 */
sg_status registry_cache_put(enum sg_rtype t, const json_t *obj, long long created_at, long long seq) SG_MUST_CHECK;
void registry_cache_drop(enum sg_rtype t, const char *identifier);
void registry_cache_reset(bool loaded);
size_t registry_cache_count(enum sg_rtype t);
/* The most entries a lookup of type t compares an identifier with: its table's longest hash chain. */
size_t registry_cache_longest_chain(enum sg_rtype t);

/*
 * Notifications on stackgate_registry that are not about a resource (e.g.
 * "principal:alice") are handed to fn, on the cache listener's thread, so the
 * module that owns them can drop its own cached state; "*" means "everything:
 * notifications may have been missed" (sent after each (re)connection).  NULL
 * removes it.
 */
typedef void (*registry_notify_fn)(const char *payload);
void registry_on_notify(registry_notify_fn fn);

#endif
