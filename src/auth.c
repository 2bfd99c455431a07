/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c: the API-key check behind nginx's auth_request, and the admin CLI
 * for principals and keys.  All SQL about principals and keys lives here (the
 * daemon's through the db pool, the CLI's on its own connection).
 *
 * Key cache: a fixed table per process under key_lock, holding keys that
 * passed the check, keyed by the SHA-256 of the presented key.  Failures are
 * not cached, so a revoked or wrong key costs one query each time (rate
 * limiting is nginx's job).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "acl.h"
#include "auth.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "sha256.h"

#define KEY_SLOTS 256
#define CLI_NAME_MAX 256

static const char msg_invalid[] = "invalid API key";
static const char msg_expired[] = "API key expired";
static const char msg_revoked[] = "API key revoked";

/* ---- key cache ------------------------------------------------------------------- */

struct key_entry {
	bool used;
	uint8_t digest[SG_SHA256_LEN];
	char *principal;
	int64_t expires_epoch; /* 0: never */
	int64_t cached_us;
};

static struct key_entry keys[KEY_SLOTS];
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

static void
key_clear(struct key_entry *e)
{
	free(e->principal);
	memset(e, 0, sizeof(*e));
}

void
auth_invalidate(const char *principal)
{
	pthread_mutex_lock(&key_lock);
	for (size_t i = 0; i < KEY_SLOTS; i++)
		if (keys[i].used && (principal == NULL || strcmp(keys[i].principal, principal) == 0))
			key_clear(&keys[i]);
	pthread_mutex_unlock(&key_lock);
}

/*
 * A cached principal for digest (newly allocated) or NULL.  *expired is set
 * when the entry was found but the key has expired meanwhile.
 */
static char *
key_cache_get(const uint8_t digest[SG_SHA256_LEN], int ttl_s, bool *expired)
{
	int64_t now = sg_now_us();
	char *p = NULL;

	*expired = false;
	if (ttl_s <= 0)
		return NULL;
	pthread_mutex_lock(&key_lock);
	for (size_t i = 0; i < KEY_SLOTS; i++) {
		struct key_entry *e = &keys[i];

		if (!e->used || !sg_ct_equal(e->digest, digest, SG_SHA256_LEN))
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
key_cache_put(const uint8_t digest[SG_SHA256_LEN], const char *principal, int64_t expires_epoch, int ttl_s)
{
	struct key_entry *slot = NULL;

	if (ttl_s <= 0)
		return;
	pthread_mutex_lock(&key_lock);
	for (size_t i = 0; i < KEY_SLOTS; i++) {
		struct key_entry *e = &keys[i];

		if (e->used && memcmp(e->digest, digest, SG_SHA256_LEN) == 0) {
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
		memcpy(slot->digest, digest, SG_SHA256_LEN);
		slot->expires_epoch = expires_epoch;
		slot->cached_us = sg_now_us();
	}
	pthread_mutex_unlock(&key_lock);
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
	for (const char *q = t; q < e; q++)
		if (*q == ' ' || *q == '\t' || iscntrl((unsigned char) *q))
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

static bool
unhex32(const char *h, uint8_t out[SG_SHA256_LEN])
{
	if (strlen(h) != SG_SHA256_HEX_LEN)
		return false;
	for (size_t i = 0; i < SG_SHA256_LEN; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t) v;
	}
	return true;
}

/* Looks the key up and judges it; *principal is set (newly allocated) when V_OK. */
static sg_status
key_lookup(const char *key_id, const uint8_t digest[SG_SHA256_LEN], enum verdict *v, char **principal,
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
	uint8_t stored[SG_SHA256_LEN] = {0};
	bool found, match;
	PGconn *conn;
	PGresult *res;
	sg_status st = SG_OK;

	*v = V_INVALID;
	*principal = NULL;
	conn = db_acquire();
	if (conn == NULL)
		return SG_E_UNAVAILABLE;
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = db_result_status(conn, res);
		goto out;
	}
	found = PQntuples(res) == 1 && unhex32(PQgetvalue(res, 0, 1), stored);
	/* Compare even for an unknown id, so both take the same path. */
	match = sg_ct_equal(stored, digest, SG_SHA256_LEN) && found;
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
		res = PQexecParams(conn, touch, 1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			(void) db_result_status(conn, res);
	}
out:
	PQclear(res);
	db_release(conn, db_conn_broken(conn));
	return st;
}

static sg_status
deny(struct request *r, const char *msg)
{
	/* nginx's error_page for the main request reads the message from this header. */
	(void) http_add_header(r, "X-Stackgate-Error", msg);
	return http_fail(r, SG_E_UNAUTHORIZED, NULL, "%s", msg);
}

sg_status
auth_check(struct request *r)
{
	const char *token;
	size_t len;
	char key_id[AUTH_KEY_ID_LEN + 1];
	uint8_t digest[SG_SHA256_LEN];
	int ttl = r->conf != NULL ? r->conf->key_cache_ttl_s : 0;
	char *principal = NULL;
	int64_t expires = 0;
	enum verdict v;
	bool expired;
	sg_status st;

	switch (auth_parse_authorization(http_param(r, "HTTP_AUTHORIZATION"), &token, &len)) {
	case AUTH_HDR_NONE:
		/* Anonymous: the main request applies auth.required. */
		r->status = 204;
		return SG_OK;
	case AUTH_HDR_INVALID:
		return deny(r, "the Authorization header must be \"Bearer <API key>\"");
	case AUTH_HDR_BEARER:
		break;
	}
	if (!auth_key_parse(token, len, key_id))
		return deny(r, msg_invalid);
	sg_sha256(token, len, digest);

	principal = key_cache_get(digest, ttl, &expired);
	if (expired)
		return deny(r, msg_expired);
	if (principal == NULL) {
		st = key_lookup(key_id, digest, &v, &principal, &expires);
		if (st == SG_E_NOMEM)
			return http_fail(r, st, NULL, "out of memory");
		if (st != SG_OK)
			return http_fail(r, SG_E_UNAVAILABLE, NULL, "the database is unavailable: cannot check the API key");
		switch (v) {
		case V_OK:
			break;
		case V_INVALID:
			return deny(r, msg_invalid);
		case V_EXPIRED:
			return deny(r, msg_expired);
		case V_REVOKED:
			return deny(r, msg_revoked);
		case V_DISABLED:
			return deny(r, "the API key's principal is disabled");
		}
		key_cache_put(digest, principal, expires, ttl);
	}
	if (!http_add_header(r, "X-Stackgate-Principal", principal)) {
		free(principal);
		return http_fail(r, SG_E_INTERNAL, NULL, "cannot pass the principal on");
	}
	free(principal);
	r->status = 204;
	r->reply = NULL;
	return SG_OK;
}

/* ---- CLI: arguments -------------------------------------------------------------- */

static const struct {
	const char *group, *verb;
	enum auth_cli_cmd cmd;
	bool needs_name, takes_name, takes_attrs;
} verbs[] = {
	{"principal", "add", AUTH_CLI_PRINCIPAL_ADD, true, true, true},
	{"principal", "set", AUTH_CLI_PRINCIPAL_SET, true, true, true},
	{"principal", "list", AUTH_CLI_PRINCIPAL_LIST, false, false, false},
	{"principal", "remove", AUTH_CLI_PRINCIPAL_REMOVE, true, true, false},
	{"principal", "enable", AUTH_CLI_PRINCIPAL_ENABLE, true, true, false},
	{"principal", "disable", AUTH_CLI_PRINCIPAL_DISABLE, true, true, false},
	{"key", "create", AUTH_CLI_KEY_CREATE, true, true, false},
	{"key", "list", AUTH_CLI_KEY_LIST, false, true, false},
	{"key", "revoke", AUTH_CLI_KEY_REVOKE, true, true, false},
};

static void cli_err(char *err, size_t errlen, const char *fmt, ...) SG_PRINTF(3, 4);

static void
cli_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A principal name or attribute value: 1..256 bytes, no control characters, no outer blanks. */
static bool
cli_word_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CLI_NAME_MAX || isspace((unsigned char) s[0]) || isspace((unsigned char) s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (iscntrl((unsigned char) s[i]))
			return false;
	return true;
}

void
auth_cli_args_free(struct auth_cli_args *a)
{
	acl_attrs_free(&a->attrs);
	memset(a, 0, sizeof(*a));
}

sg_status
auth_cli_parse(int argc, char **argv, struct auth_cli_args *out, char *err, size_t errlen)
{
	size_t vi;
	const char *group;
	bool has_in = false;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	group = argc > 0 ? argv[0] : "";
	if (strcmp(group, "principal") != 0 && strcmp(group, "key") != 0) {
		cli_err(err, errlen, "unknown command '%s'", group);
		return SG_E_BAD_REQUEST;
	}
	if (argc < 2) {
		cli_err(err, errlen, "%s: missing command", group);
		return SG_E_BAD_REQUEST;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		out->cmd = AUTH_CLI_HELP;
		return SG_OK;
	}
	for (vi = 0; vi < SG_ARRAY_LEN(verbs); vi++)
		if (strcmp(verbs[vi].group, group) == 0 && strcmp(verbs[vi].verb, argv[1]) == 0)
			break;
	if (vi == SG_ARRAY_LEN(verbs)) {
		cli_err(err, errlen, "%s: unknown command '%s'", group, argv[1]);
		return SG_E_BAD_REQUEST;
	}
	out->cmd = verbs[vi].cmd;

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		char opt[32];
		enum sg_attr_cat c;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			out->cmd = AUTH_CLI_HELP;
			return SG_OK;
		}
		if (strncmp(arg, "--", 2) != 0) {
			if (!verbs[vi].takes_name || out->name != NULL) {
				cli_err(err, errlen, "%s %s: unexpected argument '%s'", group, argv[1], arg);
				return SG_E_BAD_REQUEST;
			}
			out->name = arg;
			continue;
		}
		eq = strchr(arg, '=');
		if (eq != NULL) {
			snprintf(opt, sizeof(opt), "%.*s", (int) (eq - arg), arg);
			val = eq + 1;
		} else {
			snprintf(opt, sizeof(opt), "%s", arg);
			if (i + 1 >= argc) {
				cli_err(err, errlen, "%s needs a value", opt);
				return SG_E_BAD_REQUEST;
			}
			val = argv[++i];
		}
		if (strcmp(opt, "--role") == 0 || strcmp(opt, "--team") == 0 || strcmp(opt, "--project") == 0 ||
		    strcmp(opt, "--namespace") == 0) {
			char plural[40];

			snprintf(plural, sizeof(plural), "%ss", opt + 2);
			if (!verbs[vi].takes_attrs) {
				cli_err(err, errlen, "%s %s does not take %s", group, argv[1], opt);
				return SG_E_BAD_REQUEST;
			}
			if (!cli_word_ok(val)) {
				cli_err(err, errlen, "%s '%s' is not valid: 1 to %d characters, no control characters or outer blanks",
					opt, val, CLI_NAME_MAX);
				return SG_E_BAD_REQUEST;
			}
			(void) acl_category_from_name(plural, &c);
			out->attrs.present = true;
			out->attrs.set[c] = true;
			if (!sg_strv_contains(&out->attrs.cat[c], val) && !sg_strv_push(&out->attrs.cat[c], val)) {
				cli_err(err, errlen, "out of memory");
				return SG_E_NOMEM;
			}
		} else if (out->cmd == AUTH_CLI_KEY_CREATE && strcmp(opt, "--description") == 0) {
			out->description = val;
		} else if (out->cmd == AUTH_CLI_KEY_CREATE && strcmp(opt, "--expires-in") == 0) {
			char *end;
			long d;

			errno = 0;
			d = strtol(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' || d < 1 || d > 36500) {
				cli_err(err, errlen, "--expires-in '%s' is not a number of days between 1 and 36500", val);
				return SG_E_BAD_REQUEST;
			}
			out->expires_in_days = d;
			has_in = true;
		} else if (out->cmd == AUTH_CLI_KEY_CREATE && strcmp(opt, "--expires-at") == 0) {
			if (*val == '\0') {
				cli_err(err, errlen, "--expires-at needs a date and time");
				return SG_E_BAD_REQUEST;
			}
			out->expires_at = val;
		} else {
			cli_err(err, errlen, "%s %s: unknown option '%s'", group, argv[1], opt);
			return SG_E_BAD_REQUEST;
		}
	}
	if (has_in && out->expires_at != NULL) {
		cli_err(err, errlen, "give --expires-in or --expires-at, not both");
		return SG_E_BAD_REQUEST;
	}
	if (verbs[vi].needs_name && out->name == NULL) {
		cli_err(err, errlen, "%s %s: missing %s", group, argv[1],
			out->cmd == AUTH_CLI_KEY_REVOKE ? "KEY_ID" : out->cmd == AUTH_CLI_KEY_CREATE ? "PRINCIPAL" : "NAME");
		return SG_E_BAD_REQUEST;
	}
	if (out->name != NULL && out->cmd != AUTH_CLI_KEY_REVOKE && !cli_word_ok(out->name)) {
		cli_err(err, errlen, "principal name '%s' is not valid: 1 to %d characters, no control characters or outer blanks",
			out->name, CLI_NAME_MAX);
		return SG_E_BAD_REQUEST;
	}
	return SG_OK;
}

/* ---- CLI: running ---------------------------------------------------------------- */

static void
cli_usage(FILE *f, const char *group)
{
	if (strcmp(group, "key") == 0)
		fputs("usage: stackgate key create PRINCIPAL [--expires-in DAYS | --expires-at ISO-8601] [--description TEXT]\n"
		      "       stackgate key list [PRINCIPAL]\n"
		      "       stackgate key revoke KEY_ID\n"
		      "create prints the new key once, alone on a line; only its SHA-256 is stored.\n",
		      f);
	else
		fputs("usage: stackgate principal add|set NAME [--role R]... [--team T]... [--project P]... [--namespace N]...\n"
		      "       stackgate principal list\n"
		      "       stackgate principal remove|enable|disable NAME\n"
		      "set replaces the principal's attributes; remove also deletes its keys.\n",
		      f);
}

/* Prints PostgreSQL's message (and detail) for a failed result. */
static void
cli_pg_error(PGconn *conn, const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

	if (msg == NULL) {
		fprintf(stderr, "stackgate: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
		return;
	}
	fprintf(stderr, "stackgate: %s\n", msg);
	if (detail != NULL)
		fprintf(stderr, "stackgate: %s\n", detail);
}

/* Runs one statement; on failure prints PostgreSQL's message and returns NULL. */
static PGresult *
cli_exec(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	cli_pg_error(conn, res);
	PQclear(res);
	return NULL;
}

/* The SQLSTATE of a failed result, or "". */
static const char *
res_state(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return st ? st : "";
}

static const char insert_attrs_sql[] =
	"INSERT INTO principal_attributes (principal, category, value)"
	" SELECT $1, e.key, v.value FROM jsonb_each(jsonb_strip_nulls($2::jsonb)) AS e"
	" CROSS JOIN LATERAL jsonb_array_elements_text(e.value) AS v(value)";

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static int
cli_principal_write(PGconn *conn, const struct auth_cli_args *a)
{
	json_t *j = acl_attrs_to_json(&a->attrs);
	char *attrs = j ? sg_json_dump(j) : NULL;
	const char *p[2] = {a->name, attrs};
	PGresult *res = NULL;
	int rc = 1;

	if (attrs == NULL) {
		fprintf(stderr, "stackgate: out of memory\n");
		goto out;
	}
	if ((res = cli_exec(conn, "BEGIN", 0, NULL, PGRES_COMMAND_OK)) == NULL)
		goto out;
	PQclear(res);
	if (a->cmd == AUTH_CLI_PRINCIPAL_ADD) {
		res = PQexecParams(conn, "INSERT INTO principals (name) VALUES ($1)", 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (strcmp(res_state(res), "23505") == 0)
				fprintf(stderr, "stackgate: principal '%s' already exists (use 'principal set' to change it)\n",
					a->name);
			else
				cli_pg_error(conn, res);
			goto rollback;
		}
	} else {
		res = cli_exec(conn, "UPDATE principals SET updated_at = now() WHERE name = $1", 1, p,
			       PGRES_COMMAND_OK);
		if (res == NULL)
			goto rollback;
		if (strcmp(PQcmdTuples(res), "1") != 0) {
			fprintf(stderr, "stackgate: principal '%s' not found\n", a->name);
			goto rollback;
		}
		PQclear(res);
		res = cli_exec(conn, "DELETE FROM principal_attributes WHERE principal = $1", 1, p, PGRES_COMMAND_OK);
		if (res == NULL)
			goto rollback;
	}
	PQclear(res);
	if ((res = cli_exec(conn, insert_attrs_sql, 2, p, PGRES_COMMAND_OK)) == NULL)
		goto rollback;
	PQclear(res);
	if ((res = cli_exec(conn, "COMMIT", 0, NULL, PGRES_COMMAND_OK)) == NULL)
		goto out;
	rc = 0;
	goto out;
rollback:
	PQclear(PQexec(conn, "ROLLBACK"));
out:
	PQclear(res);
	free(attrs);
	json_decref(j);
	return rc;
}

static int
cli_principal_list(PGconn *conn)
{
	static const char sql[] =
		"SELECT p.name, coalesce((SELECT string_agg(s.category || '=' || s.vals, ' '"
		"   ORDER BY array_position(ARRAY['roles','teams','projects','namespaces'], s.category))"
		"   FROM (SELECT category, string_agg(value, ',' ORDER BY value) AS vals FROM principal_attributes a"
		"         WHERE a.principal = p.name GROUP BY category) s), ''),"
		" CASE WHEN p.disabled THEN 'disabled' ELSE 'enabled' END"
		" FROM principals p ORDER BY p.name";
	PGresult *res = cli_exec(conn, sql, 0, NULL, PGRES_TUPLES_OK);

	if (res == NULL)
		return 1;
	for (int i = 0; i < PQntuples(res); i++)
		printf("%s\t%s\t%s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
	PQclear(res);
	return 0;
}

/* remove, enable, disable: one statement on one principal. */
static int
cli_principal_one(PGconn *conn, const struct auth_cli_args *a)
{
	const char *p[1] = {a->name};
	const char *sql = a->cmd == AUTH_CLI_PRINCIPAL_REMOVE  ? "DELETE FROM principals WHERE name = $1"
			  : a->cmd == AUTH_CLI_PRINCIPAL_ENABLE ? "UPDATE principals SET disabled = false WHERE name = $1"
								  : "UPDATE principals SET disabled = true WHERE name = $1";
	PGresult *res = cli_exec(conn, sql, 1, p, PGRES_COMMAND_OK);
	int rc = 0;

	if (res == NULL)
		return 1;
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		fprintf(stderr, "stackgate: principal '%s' not found\n", a->name);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static int
cli_key_create(PGconn *conn, const struct auth_cli_args *a)
{
	static const char sql[] =
		"INSERT INTO api_keys (key_id, principal, key_sha256, description, expires_at)"
		" VALUES ($1, $2, decode($3, 'hex'), $4,"
		"  coalesce($5::timestamptz, now() + make_interval(days => $6::int)))"
		" RETURNING coalesce(" TS("expires_at") ", 'never'), expires_at IS NOT NULL AND expires_at <= now()";
	char key[AUTH_KEY_LEN + 1], key_id[AUTH_KEY_ID_LEN + 1], hex[SG_SHA256_HEX_LEN + 1], days[24];
	uint8_t digest[SG_SHA256_LEN];
	const char *p[6] = {key_id, a->name, hex, a->description, a->expires_at, NULL};
	int rc = 1;

	if (a->expires_in_days > 0) {
		snprintf(days, sizeof(days), "%ld", a->expires_in_days);
		p[5] = days;
	}
	/* A key id collision (48 random bits) is unlikely; try a few times. */
	for (int attempt = 0; attempt < 3; attempt++) {
		PGresult *res;
		const char *state;

		if (auth_key_generate(key, key_id) != SG_OK) {
			fprintf(stderr, "stackgate: cannot read /dev/urandom\n");
			return 1;
		}
		sg_sha256(key, AUTH_KEY_LEN, digest);
		sg_sha256_hex(digest, hex);
		res = PQexecParams(conn, sql, 6, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			printf("%s\n", key);
			fflush(stdout);
			fprintf(stderr, "stackgate: key %s for principal '%s', expires: %s.  It is shown only once.\n",
				key_id, a->name, PQgetvalue(res, 0, 0));
			if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
				fprintf(stderr, "stackgate: warning: this key has already expired\n");
			PQclear(res);
			rc = 0;
			break;
		}
		state = res_state(res);
		if (strcmp(state, "23503") == 0) {
			fprintf(stderr, "stackgate: principal '%s' not found (add it with 'principal add')\n", a->name);
		} else if (strncmp(state, "22", 2) == 0 && a->expires_at != NULL) {
			/* A data exception here can only be the date: a usage error. */
			fprintf(stderr, "stackgate: --expires-at '%s': %s\n", a->expires_at,
				PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
			rc = 2;
		} else if (strcmp(state, "23505") != 0) {
			cli_pg_error(conn, res);
		}
		if (strcmp(state, "23505") != 0) {
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	explicit_bzero(key, sizeof(key));
	return rc;
}

static int
cli_key_list(PGconn *conn, const struct auth_cli_args *a)
{
	static const char sql[] =
		"SELECT key_id, principal, " TS("created_at") ", coalesce(" TS("expires_at") ", 'never'),"
		" coalesce(" TS("revoked_at") ", '-'),"
		" CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired'"
		"  ELSE 'active' END,"
		" coalesce(" TS("last_used_at") ", '-'), coalesce(description, '')"
		" FROM api_keys WHERE $1::text IS NULL OR principal = $1 ORDER BY created_at, key_id";
	const char *p[1] = {a->name};
	PGresult *res = cli_exec(conn, sql, 1, p, PGRES_TUPLES_OK);

	if (res == NULL)
		return 1;
	printf("KEY_ID\tPRINCIPAL\tCREATED\tEXPIRES\tREVOKED\tSTATUS\tLAST_USED\tDESCRIPTION\n");
	for (int i = 0; i < PQntuples(res); i++) {
		for (int f = 0; f < 8; f++)
			printf("%s%s", f ? "\t" : "", PQgetvalue(res, i, f));
		putchar('\n');
	}
	PQclear(res);
	return 0;
}

static int
cli_key_revoke(PGconn *conn, const struct auth_cli_args *a)
{
	char id[AUTH_KEY_ID_LEN + 1];
	const char *p[1] = {a->name};
	PGresult *res;
	int rc = 0;

	/* A whole key is accepted too: its id is in it. */
	if (auth_key_parse(a->name, strlen(a->name), id))
		p[0] = id;
	res = cli_exec(conn, "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", 1,
		       p, PGRES_COMMAND_OK);
	if (res == NULL)
		return 1;
	if (strcmp(PQcmdTuples(res), "1") == 0) {
		fprintf(stderr, "stackgate: key %s revoked\n", p[0]);
		goto out;
	}
	PQclear(res);
	res = cli_exec(conn, "SELECT 1 FROM api_keys WHERE key_id = $1", 1, p, PGRES_TUPLES_OK);
	if (res == NULL)
		return 1;
	if (PQntuples(res) == 0) {
		fprintf(stderr, "stackgate: key '%s' not found\n", p[0]);
		rc = 1;
	} else {
		fprintf(stderr, "stackgate: key %s was already revoked\n", p[0]);
	}
out:
	PQclear(res);
	return rc;
}

static int
cli_main(const char *conninfo, int argc, char **argv)
{
	struct auth_cli_args a;
	char err[512];
	PGconn *conn = NULL;
	int rc = 2;

	if (auth_cli_parse(argc, argv, &a, err, sizeof(err)) != SG_OK) {
		fprintf(stderr, "stackgate: %s\n", err);
		cli_usage(stderr, argc > 0 ? argv[0] : "principal");
		goto out;
	}
	if (a.cmd == AUTH_CLI_HELP) {
		cli_usage(stdout, argv[0]);
		rc = 0;
		goto out;
	}
	conn = PQconnectdb(conninfo != NULL ? conninfo : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "stackgate: cannot connect to the database: %s", PQerrorMessage(conn));
		rc = 1;
		goto out;
	}
	switch (a.cmd) {
	case AUTH_CLI_HELP:
		rc = 0;
		break;
	case AUTH_CLI_PRINCIPAL_ADD:
	case AUTH_CLI_PRINCIPAL_SET:
		rc = cli_principal_write(conn, &a);
		break;
	case AUTH_CLI_PRINCIPAL_LIST:
		rc = cli_principal_list(conn);
		break;
	case AUTH_CLI_PRINCIPAL_REMOVE:
	case AUTH_CLI_PRINCIPAL_ENABLE:
	case AUTH_CLI_PRINCIPAL_DISABLE:
		rc = cli_principal_one(conn, &a);
		break;
	case AUTH_CLI_KEY_CREATE:
		rc = cli_key_create(conn, &a);
		break;
	case AUTH_CLI_KEY_LIST:
		rc = cli_key_list(conn, &a);
		break;
	case AUTH_CLI_KEY_REVOKE:
		rc = cli_key_revoke(conn, &a);
		break;
	}
out:
	if (conn != NULL)
		PQfinish(conn);
	auth_cli_args_free(&a);
	return rc;
}

int
auth_cli_principal(const char *conninfo, int argc, char **argv)
{
	return cli_main(conninfo, argc, argv);
}

int
auth_cli_key(const char *conninfo, int argc, char **argv)
{
	return cli_main(conninfo, argc, argv);
}
