/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_cli.c: the admin CLI for principals and API keys (`stackgate
 * principal …`, `stackgate key …`): argument parsing without I/O
 * (auth_cli_parse, so the tests can check it) and the commands, each run on
 * a connection of its own, with results on stdout and PostgreSQL's messages
 * on stderr.  Part of the auth module (declarations in auth.h); its SQL on
 * principals, principal_attributes and api_keys is static text with
 * parameters.  A new key is printed once and only its SHA-256 is stored.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/sha.h>

#include "acl.h"
#include "auth.h"
#include "db.h"
#include "json.h"

#define CLI_NAME_MAX 256

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
				cli_err(err, errlen,
					"%s '%s' is not valid: 1 to %d characters, no control characters or outer blanks",
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
				cli_err(err, errlen, "--expires-in '%s' is not a number of days between 1 and 36500",
					val);
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
			out->cmd == AUTH_CLI_KEY_REVOKE   ? "KEY_ID"
			: out->cmd == AUTH_CLI_KEY_CREATE ? "PRINCIPAL"
							  : "NAME");
		return SG_E_BAD_REQUEST;
	}
	if (out->name != NULL && out->cmd != AUTH_CLI_KEY_REVOKE && !cli_word_ok(out->name)) {
		cli_err(err, errlen,
			"principal name '%s' is not valid: 1 to %d characters, no control characters or outer blanks",
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

PGresult *
auth_cli_exec(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	return cli_exec(conn, sql, n, params, want);
}

PGconn *
auth_cli_connect(const char *conninfo)
{
	struct sg_err err = {0};
	PGconn *conn = db_connect(conninfo != NULL ? conninfo : "", &err);

	if (conn == NULL)
		fprintf(stderr, "stackgate: %s: %s\n", err.msg, err.detail);
	return conn;
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

char *
auth_cli_attrs_json(const struct auth_cli_args *a)
{
	/* No attribute options means none: an object with every category null, never JSON null. */
	struct sg_attrs none = {.present = true};
	json_t *j = acl_attrs_to_json(a->attrs.present ? &a->attrs : &none);
	char *s = j != NULL ? sg_json_dump(j) : NULL;

	json_decref(j);
	return s;
}

static int
cli_principal_write(PGconn *conn, const struct auth_cli_args *a)
{
	char *attrs = auth_cli_attrs_json(a);
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
				fprintf(stderr,
					"stackgate: principal '%s' already exists (use 'principal set' to change it)\n",
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
	const char *sql = a->cmd == AUTH_CLI_PRINCIPAL_REMOVE ? "DELETE FROM principals WHERE name = $1"
			  : a->cmd == AUTH_CLI_PRINCIPAL_ENABLE
				  ? "UPDATE principals SET disabled = false WHERE name = $1"
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
		" VALUES ($1, $2, $3::bytea, $4,"
		"  coalesce($5::timestamptz, now() + make_interval(days => $6::int)))"
		" RETURNING coalesce(" TS("expires_at") ", 'never'), expires_at IS NOT NULL AND expires_at <= now()";
	char key[AUTH_KEY_LEN + 1], key_id[AUTH_KEY_ID_LEN + 1], days[24];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	/* The digest goes as a binary parameter ($3, format 1); the others as text. */
	const char *p[6] = {key_id, a->name, (const char *) digest, a->description, a->expires_at, NULL};
	const int lengths[6] = {0, 0, SHA256_DIGEST_LENGTH, 0, 0, 0}, formats[6] = {0, 0, 1, 0, 0, 0};
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
		SHA256((const unsigned char *) key, AUTH_KEY_LEN, digest);
		res = PQexecParams(conn, sql, 6, NULL, p, lengths, formats, 0);
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
	res = cli_exec(conn, "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", 1, p,
		       PGRES_COMMAND_OK);
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
	conn = auth_cli_connect(conninfo);
	if (conn == NULL) {
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
