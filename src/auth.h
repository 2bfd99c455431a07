/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h: stackgate's own authentication service for nginx auth_request:
 * checks "Authorization: Bearer <key>" against api_keys (stored as SHA-256,
 * compared in constant time, with expiry, revocation and disabled
 * principals) and answers 204 with X-Stackgate-Principal, or 401 with an
 * OpenAI-style error and the message in X-Stackgate-Error (nginx's error_page
 * cannot see the subrequest's body).  The principal's attributes are not
 * sent: identity_resolve reads them from principal_attributes.
 * Also the admin CLI (`stackgate principal …`, `stackgate key …`), in
 * auth_cli.c.
 *
 * Keys: "sg-" + 12 hex digits (the key id, stored in clear to find the row)
 * + "-" + 43 base64url characters (256 random bits).  The database keeps the
 * SHA-256 of the whole key text.  Valid keys are cached per process for
 * auth.key_cache_ttl seconds, keyed by that hash (never the key), so a
 * revocation takes effect within the TTL; auth_invalidate() drops entries
 * at once (identity_invalidate() calls it for 'principal:<name>' notifications).
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include "conf.h"
#include "http.h"

#define AUTH_KEY_PREFIX "sg-"
#define AUTH_KEY_ID_LEN 12
#define AUTH_KEY_SECRET_LEN 43
#define AUTH_KEY_LEN (3 + AUTH_KEY_ID_LEN + 1 + AUTH_KEY_SECRET_LEN)

/* GET /_stackgate/auth (the auth_request target). */
sg_status auth_check(struct request *r);

/*
 * `stackgate principal …` and `stackgate key …`: argv[0] is the subcommand
 * ("principal"/"key"), conninfo the database (libpq conninfo or URL; "" means
 * the PG* environment).  Prints results to stdout, errors to stderr; returns
 * the process exit code: 0 done, 1 database or not-found error, 2 usage.
 */
int auth_cli_principal(const char *conninfo, int argc, char **argv);
int auth_cli_key(const char *conninfo, int argc, char **argv);

/* Drops the cached keys of principal (NULL: every key). */
void auth_invalidate(const char *principal);

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
