/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity.c: the caller of one request, from the params nginx sets after
 * its auth_request (stackgate's /_stackgate/auth or an external service),
 * plus the principal's attributes from PostgreSQL (principal.h).  The
 * worker reads those params; nothing here knows a request.
 *
 * Cache: one small table per process, guarded by cache_lock, holding what
 * principals/principal_attributes said about a principal and when.  Entries
 * live IDENTITY_CACHE_TTL_S seconds, so a change made with `stackgate
 * principal set` takes effect within that window even without NOTIFY.
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "identity.h"
#include "log.h"
#include "principal.h"
#include "registry.h"

/* CACHE_SLOTS entries in sets of CACHE_WAYS, a principal's set chosen by the hash of its name. */
#define CACHE_SLOTS 128
#define CACHE_WAYS 4
#define NAME_MAX_LEN 256

struct cached {
	char *principal; /* NULL: free slot */
	struct sg_attrs attrs;
	bool disabled;
	int64_t fetched_us;
};

static struct cached cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Bumped by every invalidation, under cache_lock: an answer read from the
 * database is stored only when no invalidation came since its reader missed
 * (cache_get), or a change that landed while it was being read would be
 * covered by the older answer for the TTL.
 */
static uint64_t cache_gen;

/* The CACHE_WAYS entries the principal name may occupy. */
static struct cached *
cache_set(const char *name)
{
	return &cache[(size_t) (sg_fnv1a(SG_FNV1A_INIT, name) % (CACHE_SLOTS / CACHE_WAYS)) * CACHE_WAYS];
}

static void
slot_clear(struct cached *c)
{
	free(c->principal);
	acl_attrs_free(&c->attrs);
	memset(c, 0, sizeof(*c));
}

void
identity_invalidate(const char *principal)
{
	pthread_mutex_lock(&cache_lock);
	cache_gen++;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].principal != NULL && (principal == NULL || strcmp(cache[i].principal, principal) == 0))
			slot_clear(&cache[i]);
	pthread_mutex_unlock(&cache_lock);
}

/* Copies a fresh cache entry for name into *attrs; false on a miss, with *gen the generation for cache_put. */
static bool
cache_get(const char *name, struct sg_attrs *attrs, bool *disabled, uint64_t *gen)
{
	int64_t now = sg_now_us();
	bool hit = false;

	pthread_mutex_lock(&cache_lock);
	*gen = cache_gen;
	for (struct cached *c = cache_set(name), *end = c + CACHE_WAYS; c < end; c++) {
		if (c->principal == NULL || strcmp(c->principal, name) != 0)
			continue;
		if (now - c->fetched_us > (int64_t) IDENTITY_CACHE_TTL_S * 1000000) {
			slot_clear(c);
			break;
		}
		hit = acl_attrs_copy(attrs, &c->attrs);
		*disabled = c->disabled;
		break;
	}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

/* Stores a copy unless an invalidation came after gen was read; on allocation failure it is not cached. */
static void
cache_put(const char *name, const struct sg_attrs *attrs, bool disabled, uint64_t gen)
{
	struct cached *slot = NULL;

	pthread_mutex_lock(&cache_lock);
	if (gen != cache_gen) {
		pthread_mutex_unlock(&cache_lock);
		return;
	}
	for (struct cached *c = cache_set(name), *end = c + CACHE_WAYS; c < end; c++) {
		if (c->principal != NULL && strcmp(c->principal, name) == 0) {
			slot = c;
			break;
		}
		if (slot == NULL ||
		    (slot->principal != NULL && (c->principal == NULL || c->fetched_us < slot->fetched_us)))
			slot = c;
	}
	slot_clear(slot);
	slot->principal = sg_strdup(name);
	if (slot->principal == NULL || !acl_attrs_copy(&slot->attrs, attrs)) {
		slot_clear(slot);
	} else {
		slot->disabled = disabled;
		slot->fetched_us = sg_now_us();
	}
	pthread_mutex_unlock(&cache_lock);
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || isspace((unsigned char) s[0]) || isspace((unsigned char) s[n - 1]) ||
	    !sg_utf8_valid(s, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char) s[i]))
			return false;
	return true;
}

/* An API key id as auth.c makes them: letters, digits, '-' and '_', at most 64. */
static bool
key_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

bool
identity_parse_groups(const char *s, struct sg_attrs *out)
{
	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t) (end - s) : strlen(s);
		const char *b = s, *e = s + len;

		while (b < e && isspace((unsigned char) *b))
			b++;
		while (e > b && isspace((unsigned char) e[-1]))
			e--;
		if (e > b) {
			char *g = sg_strndup(b, (size_t) (e - b));
			bool ok = g != NULL;

			if (ok && !sg_strv_contains(&out->cat[SG_TEAMS], g))
				ok = sg_strv_push(&out->cat[SG_TEAMS], g);
			free(g);
			if (!ok)
				return false;
			out->set[SG_TEAMS] = true;
			out->present = true;
		}
		s = end ? end + 1 : NULL;
	}
	return true;
}

/* STACKGATE_ATTRIBUTES: a JSON object (or null) of AccessAttributes' shape. */
static sg_status
parse_attributes(const char *text, struct sg_attrs *out, struct sg_err *e)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	char err[160];
	sg_status st;

	if (j == NULL || !(json_is_object(j) || json_is_null(j))) {
		json_decref(j);
		return sg_fail(e, SG_E_BAD_REQUEST, NULL,
			       "the authentication service sent invalid attributes: not a JSON object");
	}
	st = acl_attrs_from_json(j, out, err, sizeof(err));
	json_decref(j);
	if (st != SG_OK)
		return sg_fail(e, st, NULL, "the authentication service sent invalid attributes: %s", err);
	return SG_OK;
}

sg_status
identity_resolve(const struct sg_conf *conf, const struct identity_params *p, struct identity *id, struct sg_err *err)
{
	const char *principal = p->principal, *attributes = p->attributes, *groups = p->groups, *key_id = p->key_id;
	struct sg_attrs extra = {0};
	sg_status st = SG_OK;

	identity_reset(id);
	id->policy = conf != NULL ? conf->policy : NULL;
	if (principal != NULL && *principal != '\0') {
		if (!name_ok(principal)) {
			st = sg_fail(err, SG_E_BAD_REQUEST, NULL,
				     "the authentication service sent an invalid principal name");
			goto out;
		}
		id->principal = sg_strdup(principal);
		if (id->principal == NULL) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
	}
	if (id->principal != NULL && key_id != NULL && *key_id != '\0') {
		if (!key_id_ok(key_id)) {
			st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "the authentication service sent an invalid key id");
			goto out;
		}
		id->key_id = sg_strdup(key_id);
		if (id->key_id == NULL) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
	}
	if (id->principal == NULL && conf != NULL && conf->auth_required) {
		st = sg_fail(err, SG_E_UNAUTHORIZED, NULL,
			     "authentication required: send \"Authorization: Bearer <API key>\"");
		goto out;
	}
	if (attributes != NULL && *attributes != '\0') {
		st = parse_attributes(attributes, &extra, err);
		if (st != SG_OK)
			goto out;
		if (!acl_attrs_merge(&id->attrs, &extra)) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
		acl_attrs_free(&extra);
	}
	if (groups != NULL && !sg_utf8_valid(groups, strlen(groups))) {
		st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "the authentication service sent invalid groups: not UTF-8");
		goto out;
	}
	if (groups != NULL && !identity_parse_groups(groups, &id->attrs)) {
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (id->principal != NULL) {
		bool disabled = false;
		uint64_t gen;

		if (!cache_get(id->principal, &extra, &disabled, &gen)) {
			acl_attrs_free(&extra);
			st = principal_fetch(id->principal, &extra, &disabled);
			sg_test_pause("STACKGATE_TEST_CACHE_FILL_DELAY_MS");
			if (st == SG_E_NOMEM) {
				st = sg_fail(err, st, NULL, "out of memory");
				goto out;
			}
			if (st != SG_OK) {
				st = sg_fail(err, SG_E_UNAVAILABLE, NULL,
					     "the database is unavailable: cannot read the caller's attributes");
				goto out;
			}
			cache_put(id->principal, &extra, disabled, gen);
		}
		if (disabled) {
			st = sg_fail(err, SG_E_UNAUTHORIZED, NULL, "principal '%s' is disabled", id->principal);
			goto out;
		}
		if (!acl_attrs_merge(&id->attrs, &extra)) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
	}
	if (conf != NULL && id->attrs.set[SG_ROLES])
		for (size_t i = 0; i < id->attrs.cat[SG_ROLES].n && !id->admin; i++)
			id->admin = sg_strv_contains(&conf->admin_roles, id->attrs.cat[SG_ROLES].v[i]);
out:
	acl_attrs_free(&extra);
	if (st != SG_OK) {
		/* Keep the principal for the access log; drop everything that grants access. */
		acl_attrs_free(&id->attrs);
		id->admin = false;
	}
	return st;
}

/* The policy's view of obj; false when its access_attributes are malformed (a is freed). */
static bool
object_of(const json_t *obj, struct sg_attrs *a, struct policy_object *po)
{
	if (acl_attrs_from_json(json_object_get(obj, "access_attributes"), a, NULL, 0) != SG_OK) {
		log_warn("an object with malformed access_attributes is refused");
		acl_attrs_free(a);
		return false;
	}
	*po = (struct policy_object){.type = json_string_value(json_object_get(obj, "type")),
				     .identifier = json_string_value(json_object_get(obj, "identifier")),
				     .attrs = a};
	po->owner_known = po->origin_known = registry_origin(obj, &po->owner, &po->from_config);
	return true;
}

static enum policy_verdict
decide(const struct identity *id, enum sg_action action, const json_t *obj, bool given, const char *owner,
       bool from_config, size_t *rule)
{
	struct sg_attrs a;
	struct policy_object po;
	struct policy_caller pc;
	enum policy_verdict v;

	if (rule != NULL)
		*rule = SIZE_MAX;
	if (id == NULL)
		return POLICY_PERMIT;
	if (!object_of(obj, &a, &po))
		return POLICY_NO_MATCH;
	if (given) {
		po.owner = owner;
		po.owner_known = po.origin_known = true;
		po.from_config = from_config;
	}
	pc = (struct policy_caller){.principal = id->principal, .attrs = &id->attrs};
	v = policy_decide(id->policy, &pc, action, &po, rule);
	acl_attrs_free(&a);
	return v;
}

enum policy_verdict
identity_decide(const struct identity *id, enum sg_action action, const json_t *obj, size_t *rule)
{
	return decide(id, action, obj, false, NULL, false, rule);
}

enum policy_verdict
identity_decide_at(const struct identity *id, enum sg_action action, const json_t *obj, const char *owner,
		   bool from_config, size_t *rule)
{
	return decide(id, action, obj, true, owner, from_config, rule);
}

bool
identity_can_see(const struct identity *id, const json_t *obj)
{
	return identity_decide(id, SG_ACT_READ, obj, NULL) == POLICY_PERMIT;
}

void
identity_reset(struct identity *id)
{
	free(id->principal);
	id->principal = NULL;
	free(id->key_id);
	id->key_id = NULL;
	acl_attrs_free(&id->attrs);
	id->admin = false;
	id->policy = NULL;
}
