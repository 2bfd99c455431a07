/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h: stackgate's own authentication service for nginx auth_request:
 * checks "Authorization: Bearer <key>" against api_keys (stored as SHA-256,
 * compared in constant time, with expiry, revocation and disabled
 * principals) and answers 204 with X-Stackgate-Principal, or 401 with an
 * OpenAI-style error and the message in X-Stackgate-Error-Json (nginx's
 * error_page cannot see the subrequest's body).  That header holds the
 * message already escaped as the inside of a JSON string, ASCII only
 * (auth_error_json), so nginx's @unauthorized pastes it between quotes and
 * its body is valid JSON whatever the message says; a header cannot carry
 * raw control characters, and escaped it never needs to.  The principal's
 * attributes are not sent: identity_resolve reads them from
 * principal_attributes.
 * The same check runs inside a main request that nginx passes with the
 * trusted param STACKGATE_VERIFY_KEY instead of an auth subrequest (the
 * shipped configs do so for "Bearer sg-…"): auth_verify(), called by the
 * worker before any route.
 * Also the admin CLI (`stackgate principal …`, `stackgate key …`), in
 * auth_cli.c.
 *
 * Keys: "sg-" + 12 hex digits (the key id, stored in clear to find the row)
 * + "-" + 43 base64url characters (256 random bits).  The database keeps the
 * SHA-256 of the whole key text.  Valid keys are cached per process for
 * auth.key_cache_ttl seconds, keyed by that hash (never the key), so a
 * revocation takes effect within the TTL; auth_invalidate() drops entries
 * at once (the worker calls it, with identity_invalidate(), for
 * 'principal:<name>' notifications).
 *
 * Unknown keys.  A flood of well-formed keys with random ids must not cost a
 * PostgreSQL query each; a cache of refused keys would not help, since each
 * one is new.  So each process keeps the set of key ids that exist (read with
 * one `SELECT key_id FROM api_keys`, 8 bytes per key): a key whose id is not
 * in it is refused without a query.  The set is read again, by one thread,
 * on the first lookup after any 'principal:…' or '*' notification (every
 * insert, delete or change of a key notifies its principal, see
 * sql/002_access.sql) and after AUTH_KNOWN_MAX_AGE_S seconds, in case a
 * notification was missed.  A key created after the last read and not yet
 * notified (the notification is on its way) still works: up to
 * AUTH_UNKNOWN_QUERIES_PER_S keys per second and process whose id is not in
 * the set are looked up anyway; beyond that they are refused as invalid
 * until the set is read again.  Bound: a flood of distinct unknown keys
 * costs each process at most AUTH_UNKNOWN_QUERIES_PER_S lookups per second
 * plus one read of the set per AUTH_KNOWN_MAX_AGE_S seconds (and per
 * notification), whatever its rate; known key ids (also with a wrong secret)
 * are looked up as before.  Until the set has been read once (PostgreSQL
 * down) every key is looked up, and PostgreSQL's failure is the answer (503).
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include <libpq-fe.h>

#include "conf.h"
#include "http.h"

#define AUTH_KEY_PREFIX "sg-"
#define AUTH_KEY_ID_LEN 12
#define AUTH_KEY_SECRET_LEN 43
#define AUTH_KEY_LEN (3 + AUTH_KEY_ID_LEN + 1 + AUTH_KEY_SECRET_LEN)

/* How long the set of known key ids is trusted without a notification. */
#define AUTH_KNOWN_MAX_AGE_S 5
/* Keys per second and process whose id is not in that set that are still looked up. */
#define AUTH_UNKNOWN_QUERIES_PER_S 5

/* GET /_stackgate/auth (the auth_request target). */
sg_status auth_check(struct request *r);

/*
 * The check itself, for auth_check and for a main request that nginx passes
 * with STACKGATE_VERIFY_KEY (the key verified inside the request, no auth
 * subrequest: worker.c): authorization is the Authorization value (NULL or
 * blank: anonymous, SG_OK with *principal NULL).  A valid key: SG_OK,
 * *principal its principal (newly allocated, the caller frees it) and
 * key_id its id.  Otherwise *principal is NULL and err says why:
 * SG_E_UNAUTHORIZED (invalid, expired, revoked, disabled principal, not a
 * bearer key), SG_E_UNAVAILABLE (PostgreSQL could not answer), SG_E_NOMEM.
 * ttl_s is auth.key_cache_ttl (0: no cache).
 */
sg_status auth_verify(const char *authorization, int ttl_s, char **principal, char key_id[AUTH_KEY_ID_LEN + 1],
		      struct sg_err *err) SG_MUST_CHECK;

/*
 * `stackgate principal …` and `stackgate key …`: argv[0] is the subcommand
 * ("principal"/"key"), conninfo the database (libpq conninfo or URL; "" means
 * the PG* environment).  Prints results to stdout, errors to stderr; returns
 * the process exit code: 0 done, 1 database or not-found error, 2 usage.
 */
int auth_cli_principal(const char *conninfo, int argc, char **argv);
/*
 * For the other admin CLIs (limits_cli.c): runs one statement with text
 * params; on a result other than want prints PostgreSQL's message (and
 * detail) to stderr and returns NULL.  The caller PQclear()s the result.
 */
PGresult *auth_cli_exec(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType want);
/*
 * For every admin CLI: db_connect() to conninfo (NULL or "": the PG*
 * environment); on failure prints "stackgate: cannot connect to the
 * database: REASON" to stderr and returns NULL.  The caller PQfinish()es it.
 */
PGconn *auth_cli_connect(const char *conninfo);
int auth_cli_key(const char *conninfo, int argc, char **argv);

/*
 * Drops the cached keys of principal (NULL: every key), and marks the set of
 * known key ids for reading again (a key of principal may be new or gone).
 */
void auth_invalidate(const char *principal);

/*
 * msg as the inside of a JSON string (without the quotes; '"', '\\' and
 * control characters escaped, non-ASCII as \uXXXX), the value of
 * X-Stackgate-Error-Json.  Newly allocated; NULL on allocation failure.
 */
char *auth_error_json(const char *msg);

/* What an Authorization header holds. */
enum auth_header {
	AUTH_HDR_NONE,    /* absent or blank: anonymous */
	AUTH_HDR_BEARER,  /* "Bearer <token>" (scheme case-insensitive); token set */
	AUTH_HDR_INVALID, /* anything else */
};

/*
 * Classifies an Authorization value (may be NULL).  For AUTH_HDR_BEARER,
 * token and len point into value (one token, no blanks, trailing blanks cut).
 */
enum auth_header auth_parse_authorization(const char *value, const char **token, size_t *len);

/*
 * True when key[0..len) has the API-key format; copies the key id into
 * key_id (NUL-terminated).
 */
bool auth_key_parse(const char *key, size_t len, char key_id[AUTH_KEY_ID_LEN + 1]);

/* A new key from /dev/urandom, NUL-terminated, and its id.  SG_E_INTERNAL when no randomness. */
sg_status auth_key_generate(char key[AUTH_KEY_LEN + 1], char key_id[AUTH_KEY_ID_LEN + 1]) SG_MUST_CHECK;

/* The CLI's commands, parsed without I/O (auth_cli_parse) so tests can check them. */
enum auth_cli_cmd {
	AUTH_CLI_HELP,
	AUTH_CLI_PRINCIPAL_ADD,
	AUTH_CLI_PRINCIPAL_SET,
	AUTH_CLI_PRINCIPAL_LIST,
	AUTH_CLI_PRINCIPAL_REMOVE,
	AUTH_CLI_PRINCIPAL_ENABLE,
	AUTH_CLI_PRINCIPAL_DISABLE,
	AUTH_CLI_KEY_CREATE,
	AUTH_CLI_KEY_LIST,
	AUTH_CLI_KEY_REVOKE,
};

struct auth_cli_args {
	enum auth_cli_cmd cmd;
	const char *name;        /* principal, or key id (revoke); borrowed from argv; NULL for lists of all */
	struct sg_attrs attrs;   /* --role/--team/--project/--namespace, owned */
	const char *description; /* key create --description */
	long expires_in_days;    /* key create --expires-in; 0 when not given */
	const char *expires_at;  /* key create --expires-at (ISO 8601, checked by PostgreSQL) */
};

/*
 * Parses argv (argv[0] "principal" or "key", as main passes it) into out.
 * SG_E_BAD_REQUEST with a message in err for a usage error.  out is owned by
 * the caller (auth_cli_args_free), also on failure.
 */
sg_status auth_cli_parse(int argc, char **argv, struct auth_cli_args *out, char *err, size_t errlen) SG_MUST_CHECK;
void auth_cli_args_free(struct auth_cli_args *a);

/*
 * The JSON text that `principal add|set` binds as the principal's
 * attributes: always an object with the four categories in order (an array
 * for each one given, null for the others), also when no attribute option
 * was given, since that means "no attributes" and the INSERT expands the
 * object with jsonb_each, which refuses JSON null.  Newly allocated (the
 * caller frees); NULL on allocation failure.
 */
char *auth_cli_attrs_json(const struct auth_cli_args *a);

#endif
