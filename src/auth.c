/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c: the API-key check behind nginx's auth_request: the key format,
 * key generation, the per-process key cache and the lookup in api_keys.
 * The SQL on keys lives in this module: here the daemon's, through the db
 * pool; in auth_cli.c the admin CLI's (keys and principals), on its own
 * connection.  The daemon's read of a principal is principal.c's.
 *
 * Key cache: a fixed table per process under key_lock, holding keys that
 * passed the check, keyed by the SHA-256 of the presented key.  Failures are
 * not cached, so a revoked key or a wrong secret for a known key id costs
 * one query each time (rate limiting is nginx's job).
 *
 * Keys are stored and compared as their SHA-256 (libcrypto's, which libcurl
 * and libpq load anyway), plain and unsalted: a key is 256 random bits, never
 * a password a person chose, so a slow or salted hash would add nothing.
 *
 * Known key ids: the set of key ids in api_keys (48-bit numbers, sorted),
 * per process under known_lock, so that a key whose id is not in it is
 * refused without a query (see auth.h for the contract and its bounds).
 * One thread at a time reads it again (under reload_lock; known_lock is
 * never held while PostgreSQL is asked, only to check and swap).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "auth.h"
#include "db.h"
#include "log.h"

/* The key cache: KEY_SLOTS entries in sets of KEY_WAYS, a digest's set chosen by its first bytes. */
#define KEY_SLOTS 256
#define KEY_WAYS 4

static const char msg_invalid[] = "invalid API key";
static const char msg_expired[] = "API key expired";
static const char msg_revoked[] = "API key revoked";

/* ---- key cache ------------------------------------------------------------------- */

struct key_entry {
	bool used;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	char *principal;
	int64_t expires_epoch; /* 0: never */
	int64_t cached_us;
};

static struct key_entry keys[KEY_SLOTS];
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bumped by auth_invalidate under key_lock: as identity.c's cache_gen, a lookup that overlapped one is not stored. */
static uint64_t key_gen;

static struct {
	uint64_t *ids; /* sorted */
	size_t n;
	bool loaded;
	uint64_t loaded_gen; /* gen when the loaded snapshot was read */
	int64_t loaded_us;
	int64_t failed_us; /* last failed reload (retried after a second) */
	int64_t window_s;  /* the second misses_in_window counts */
	unsigned misses_in_window;
} known;
static uint64_t known_gen; /* bumped by auth_invalidate, under known_lock */
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

/* The KEY_WAYS entries digest may occupy (an index from a hash reveals nothing of the key). */
static struct key_entry *
key_set(const uint8_t digest[SHA256_DIGEST_LENGTH])
{
	return &keys[(((size_t) digest[0] << 8 | digest[1]) % (KEY_SLOTS / KEY_WAYS)) * KEY_WAYS];
}

static void
key_clear(struct key_entry *e)
{
	free(e->principal);
	memset(e, 0, sizeof(*e));
}

void
auth_invalidate(const char *principal)
{
	/* Any principal's change may be a key created or removed: read the key ids again. */
	pthread_mutex_lock(&known_lock);
	known_gen++;
	pthread_mutex_unlock(&known_lock);
	pthread_mutex_lock(&key_lock);
	key_gen++;
	for (size_t i = 0; i < KEY_SLOTS; i++)
		if (keys[i].used && (principal == NULL || strcmp(keys[i].principal, principal) == 0))
			key_clear(&keys[i]);
	pthread_mutex_unlock(&key_lock);
}

/*
 * A cached principal for digest (newly allocated) or NULL, with *gen the
 * generation a miss passes to key_cache_put.  *expired is set when the entry
 * was found but the key has expired meanwhile.
 */
static char *
key_cache_get(const uint8_t digest[SHA256_DIGEST_LENGTH], int ttl_s, bool *expired, uint64_t *gen)
{
	int64_t now = sg_now_us();
	char *p = NULL;

	*expired = false;
	pthread_mutex_lock(&key_lock);
	*gen = key_gen;
	if (ttl_s <= 0) {
		pthread_mutex_unlock(&key_lock);
		return NULL;
	}
	for (struct key_entry *e = key_set(digest), *end = e + KEY_WAYS; e < end; e++) {
		if (!e->used || !sg_ct_equal(e->digest, digest, SHA256_DIGEST_LENGTH))
			continue;
		if (now - e->cached_us > (int64_t) ttl_s * 1000000) {
			key_clear(e);
		} else if (e->expires_epoch != 0 && (int64_t) time(NULL) >= e->expires_epoch) {
			*expired = true;
			key_clear(e);
		} else {
			p = sg_strdup(e->principal);
		}
		break;
	}
	pthread_mutex_unlock(&key_lock);
	return p;
}

static void
key_cache_put(const uint8_t digest[SHA256_DIGEST_LENGTH], const char *principal, int64_t expires_epoch, int ttl_s,
	      uint64_t gen)
{
	struct key_entry *slot = NULL;

	if (ttl_s <= 0)
		return;
	pthread_mutex_lock(&key_lock);
	if (gen != key_gen) {
		pthread_mutex_unlock(&key_lock);
		return;
	}
	for (struct key_entry *e = key_set(digest), *end = e + KEY_WAYS; e < end; e++) {
		if (e->used && memcmp(e->digest, digest, SHA256_DIGEST_LENGTH) == 0) {
			slot = e;
			break;
		}
		if (slot == NULL || (slot->used && (!e->used || e->cached_us < slot->cached_us)))
			slot = e;
	}
	key_clear(slot);
	slot->principal = sg_strdup(principal);
	if (slot->principal != NULL) {
		slot->used = true;
		memcpy(slot->digest, digest, SHA256_DIGEST_LENGTH);
		slot->expires_epoch = expires_epoch;
		slot->cached_us = sg_now_us();
	}
	pthread_mutex_unlock(&key_lock);
}

/* ---- known key ids ---------------------------------------------------------------- */

static uint64_t
key_id_num(const char *key_id)
{
	return strtoull(key_id, NULL, 16);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* True when the set needs reading again: never read, notified since, or too old. */
static bool
known_stale(int64_t now)
{
	return !known.loaded || known.loaded_gen != known_gen || now - known.loaded_us > AUTH_KNOWN_MAX_AGE_S * 1000000;
}

/* Reads every key id from api_keys into the set; false when PostgreSQL could not answer. */
static bool
known_reload(void)
{
	static const char sql[] = "SELECT key_id FROM api_keys";
	uint64_t gen, *ids = NULL;
	size_t n = 0;
	PGconn *conn;
	PGresult *res;
	bool ok = false;

	pthread_mutex_lock(&known_lock);
	gen = known_gen;
	pthread_mutex_unlock(&known_lock);
	if (db_query(sql, 0, NULL, &conn, &res) != SG_OK)
		goto out;
	n = (size_t) PQntuples(res);
	ids = sg_calloc(n + 1, sizeof(*ids));
	if (ids == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		ids[i] = key_id_num(PQgetvalue(res, (int) i, 0));
	qsort(ids, n, sizeof(*ids), cmp_u64);
	pthread_mutex_lock(&known_lock);
	free(known.ids);
	known.ids = ids;
	known.n = n;
	known.loaded = true;
	known.loaded_gen = gen;
	known.loaded_us = sg_now_us();
	pthread_mutex_unlock(&known_lock);
	ids = NULL;
	ok = true;
out:
	free(ids);
	db_done(conn, res);
	return ok;
}

enum known_answer {
	KNOWN_YES,    /* in api_keys as of the last read: look the key up */
	KNOWN_NO,     /* not there, and no query left for such misses this second: refuse */
	KNOWN_UNSURE, /* not known (or the set cannot be read): look it up anyway */
};

/* Whether key_id may exist, reading the set again first when it is stale. */
static enum known_answer
known_check(const char *key_id)
{
	uint64_t id = key_id_num(key_id);
	int64_t now = sg_now_us();
	enum known_answer a;
	bool stale;

	pthread_mutex_lock(&known_lock);
	stale = known_stale(now) && now - known.failed_us > 1000000;
	pthread_mutex_unlock(&known_lock);
	if (stale) {
		/* One thread reads; the others wait for its snapshot rather than query too. */
		pthread_mutex_lock(&reload_lock);
		pthread_mutex_lock(&known_lock);
		stale = known_stale(now) && now - known.failed_us > 1000000;
		pthread_mutex_unlock(&known_lock);
		if (stale && !known_reload()) {
			pthread_mutex_lock(&known_lock);
			known.failed_us = sg_now_us();
			pthread_mutex_unlock(&known_lock);
		}
		pthread_mutex_unlock(&reload_lock);
	}
	pthread_mutex_lock(&known_lock);
	if (!known.loaded) {
		a = KNOWN_UNSURE; /* never read: PostgreSQL decides (and says whether it can) */
	} else if (bsearch(&id, known.ids, known.n, sizeof(id), cmp_u64) != NULL) {
		a = KNOWN_YES;
	} else {
		/* Maybe created since the read and not yet notified: a few such misses per second may ask. */
		if (known.window_s != now / 1000000) {
			known.window_s = now / 1000000;
			known.misses_in_window = 0;
		}
		a = known.misses_in_window < AUTH_UNKNOWN_QUERIES_PER_S ? KNOWN_UNSURE : KNOWN_NO;
		if (a == KNOWN_UNSURE)
			known.misses_in_window++;
	}
	pthread_mutex_unlock(&known_lock);
	return a;
}

/* ---- key format ------------------------------------------------------------------ */

static bool
is_b64url(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static bool
is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
auth_key_parse(const char *key, size_t len, char key_id[AUTH_KEY_ID_LEN + 1])
{
	const char *id = key + 3, *secret = key + 3 + AUTH_KEY_ID_LEN + 1;

	if (key == NULL || len != AUTH_KEY_LEN || memcmp(key, AUTH_KEY_PREFIX, 3) != 0)
		return false;
	for (size_t i = 0; i < AUTH_KEY_ID_LEN; i++)
		if (!is_lower_hex((unsigned char) id[i]))
			return false;
	if (id[AUTH_KEY_ID_LEN] != '-')
		return false;
	for (size_t i = 0; i < AUTH_KEY_SECRET_LEN; i++)
		if (!is_b64url((unsigned char) secret[i]))
			return false;
	memcpy(key_id, id, AUTH_KEY_ID_LEN);
	key_id[AUTH_KEY_ID_LEN] = '\0';
	return true;
}

enum auth_header
auth_parse_authorization(const char *value, const char **token, size_t *len)
{
	const char *p = value, *t, *e;

	*token = NULL;
	*len = 0;
	if (p == NULL)
		return AUTH_HDR_NONE;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return AUTH_HDR_NONE;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return AUTH_HDR_INVALID;
	t = p + 6;
	while (*t == ' ' || *t == '\t')
		t++;
	e = t + strlen(t);
	while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == t)
		return AUTH_HDR_INVALID;
	/* Spaces and control characters (iscntrl() in the C locale: 0-31 and 127, without its table lookup). */
	for (const char *q = t; q < e; q++)
		if ((unsigned char) *q <= ' ' || *q == 0x7f)
			return AUTH_HDR_INVALID;
	*token = t;
	*len = (size_t) (e - t);
	return AUTH_HDR_BEARER;
}

static bool
read_random(uint8_t *buf, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return false;
	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t) k;
	}
	close(fd);
	return got == n;
}

sg_status
auth_key_generate(char key[AUTH_KEY_LEN + 1], char key_id[AUTH_KEY_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t rnd[AUTH_KEY_ID_LEN / 2 + 33]; /* id bytes, 32 secret bytes and one zero pad byte */
	const uint8_t *s = rnd + AUTH_KEY_ID_LEN / 2;
	char *o = key;

	if (!read_random(rnd, sizeof(rnd) - 1))
		return SG_E_INTERNAL;
	rnd[sizeof(rnd) - 1] = 0;
	memcpy(o, AUTH_KEY_PREFIX, 3);
	o += 3;
	for (size_t i = 0; i < AUTH_KEY_ID_LEN / 2; i++) {
		*o++ = hex[rnd[i] >> 4];
		*o++ = hex[rnd[i] & 15];
	}
	*o++ = '-';
	/* base64url of the 32 secret bytes, unpadded: 10 full groups and one of 2 bytes. */
	for (size_t i = 0; i < 33; i += 3) {
		uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | (uint32_t) (i + 2 < 32 ? s[i + 2] : 0);

		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		if (i + 2 < 32)
			*o++ = b64[v & 63];
	}
	*o = '\0';
	memcpy(key_id, key + 3, AUTH_KEY_ID_LEN);
	key_id[AUTH_KEY_ID_LEN] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	return SG_OK;
}

/* ---- the auth_request endpoint ----------------------------------------------------- */

enum verdict { V_OK, V_INVALID, V_EXPIRED, V_REVOKED, V_DISABLED };

/*
 * SHA-256 of the presented key, once per request.  OpenSSL 3's SHA256() looks
 * the algorithm up on every call (about 2.4k of its 8.7k instructions here):
 * it is fetched once per process and kept for its life.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void
key_sha256(const char *key, size_t len, uint8_t digest[SHA256_DIGEST_LENGTH])
{
	(void) pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL || EVP_Digest(key, len, digest, NULL, sha256_md, NULL) != 1)
		SHA256((const unsigned char *) key, len, digest);
}

static bool
unhex32(const char *h, uint8_t out[SHA256_DIGEST_LENGTH])
{
	if (strlen(h) != 2 * SHA256_DIGEST_LENGTH)
		return false;
	for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t) v;
	}
	return true;
}

/* Looks the key up and judges it; *principal is set (newly allocated) when V_OK. */
static sg_status
key_lookup(const char *key_id, const uint8_t digest[SHA256_DIGEST_LENGTH], enum verdict *v, char **principal,
	   int64_t *expires_epoch)
{
	static const char sql[] =
		"SELECT k.principal, encode(k.key_sha256, 'hex'), k.revoked_at IS NOT NULL,"
		" k.expires_at IS NOT NULL AND k.expires_at <= now(), p.disabled,"
		" coalesce(floor(extract(epoch FROM k.expires_at))::bigint, 0)"
		" FROM api_keys k JOIN principals p ON p.name = k.principal WHERE k.key_id = $1";
	static const char touch[] =
		"UPDATE api_keys SET last_used_at = now() WHERE key_id = $1"
		" AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')";
	const char *params[1] = {key_id};
	uint8_t stored[SHA256_DIGEST_LENGTH] = {0};
	bool found, match;
	PGconn *conn;
	PGresult *res;
	sg_status st = SG_OK;

	*v = V_INVALID;
	*principal = NULL;
	st = db_query(sql, 1, params, &conn, &res);
	if (st != SG_OK)
		goto out;
	found = PQntuples(res) == 1 && unhex32(PQgetvalue(res, 0, 1), stored);
	/* Compare even for an unknown id, so both take the same path. */
	match = sg_ct_equal(stored, digest, SHA256_DIGEST_LENGTH) && found;
	if (!match)
		goto out;
	if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		*v = V_REVOKED;
	else if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
		*v = V_EXPIRED;
	else if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
		*v = V_DISABLED;
	else {
		*principal = sg_strdup(PQgetvalue(res, 0, 0));
		if (*principal == NULL) {
			st = SG_E_NOMEM;
			goto out;
		}
		*expires_epoch = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
		*v = V_OK;
		PQclear(res);
		/* Bookkeeping only: a failure here does not fail the check. */
		res = db_exec(conn, touch, 1, params);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			(void) db_result_status(conn, res);
	}
out:
	db_done(conn, res);
	return st;
}

char *
auth_error_json(const char *msg)
{
	json_t *j = json_string(msg != NULL ? msg : "");
	char *text = j != NULL ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
	size_t n = text != NULL ? strlen(text) : 0;

	json_decref(j);
	if (n < 2) {
		free(text);
		return NULL;
	}
	/* Without the quotes: nginx pastes it between its own. */
	memmove(text, text + 1, n - 2);
	text[n - 2] = '\0';
	return text;
}

static sg_status
deny(struct request *r, const char *msg)
{
	char *esc = auth_error_json(msg);

	/* nginx's error_page for the main request pastes this header into its JSON body. */
	if (esc == NULL || !http_add_header(r, "X-Stackgate-Error-Json", esc))
		log_warn("could not pass the auth error on to nginx: its 401 body says \"\"");
	free(esc);
	return http_fail(r, SG_E_UNAUTHORIZED, NULL, "%s", msg);
}

sg_status
auth_verify(const char *authorization, int ttl_s, char **principal, char key_id[AUTH_KEY_ID_LEN + 1],
	    struct sg_err *err)
{
	const char *token;
	size_t len;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	int64_t expires = 0;
	uint64_t gen;
	enum verdict v;
	bool expired;
	sg_status st;

	*principal = NULL;
	key_id[0] = '\0';
	switch (auth_parse_authorization(authorization, &token, &len)) {
	case AUTH_HDR_NONE:
		return SG_OK; /* anonymous: the main request applies auth.required */
	case AUTH_HDR_INVALID:
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "the Authorization header must be \"Bearer <API key>\"");
	case AUTH_HDR_BEARER:
		break;
	}
	if (!auth_key_parse(token, len, key_id)) {
		key_id[0] = '\0';
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_invalid);
	}
	key_sha256(token, len, digest);
	*principal = key_cache_get(digest, ttl_s, &expired, &gen);
	if (expired)
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_expired);
	if (*principal != NULL)
		return SG_OK;
	if (known_check(key_id) == KNOWN_NO)
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_invalid);
	st = key_lookup(key_id, digest, &v, principal, &expires);
	sg_test_pause("STACKGATE_TEST_CACHE_FILL_DELAY_MS");
	if (st == SG_E_NOMEM)
		return sg_fail(err, st, NULL, "out of memory");
	if (st != SG_OK)
		return sg_fail(err, SG_E_UNAVAILABLE, NULL, "the database is unavailable: cannot check the API key");
	switch (v) {
	case V_OK:
		key_cache_put(digest, *principal, expires, ttl_s, gen);
		return SG_OK;
	case V_INVALID:
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_invalid);
	case V_EXPIRED:
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_expired);
	case V_REVOKED:
		return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "%s", msg_revoked);
	case V_DISABLED:
		break;
	}
	return sg_fail(err, SG_E_UNAUTHORIZED, NULL, "the API key's principal is disabled");
}

sg_status
auth_check(struct request *r)
{
	char key_id[AUTH_KEY_ID_LEN + 1];
	char *principal = NULL;
	struct sg_err err = {0};
	sg_status st;

	st = auth_verify(http_param(r, "HTTP_AUTHORIZATION"), r->conf != NULL ? r->conf->key_cache_ttl_s : 0,
			 &principal, key_id, &err);
	if (st == SG_E_UNAUTHORIZED)
		return deny(r, err.msg);
	if (st != SG_OK)
		return http_fail_err(r, st, &err);
	if (principal != NULL && (!http_add_header(r, "X-Stackgate-Principal", principal) ||
				  !http_add_header(r, "X-Stackgate-Key-Id", key_id))) {
		free(principal);
		return http_fail(r, SG_E_INTERNAL, NULL, "cannot pass the principal on");
	}
	free(principal);
	r->status = 204;
	r->reply = NULL;
	return SG_OK;
}
