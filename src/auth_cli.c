/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_cli.c: the admin CLI for principals and API keys (`stackgate
 * principal …`, `stackgate key …`): argument parsing without I/O
 * (auth_cli_parse, so the tests can check it) and the commands, each run on
 * a connection of its own through admin_run (admin.h, the same commands the
 * admin HTTP routes run), with results on stdout and messages on stderr.
 * Part of the auth module (declarations in auth.h).  A new key is printed
 * once and only its SHA-256 is stored.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "acl.h"
#include "admin.h"
#include "auth.h"
#include "db.h"
#include "json.h"

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
	struct sg_err e = {0};

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
			if (admin_word_check(opt, val, NULL, &e) != SG_OK) {
				cli_err(err, errlen, "%s", e.msg);
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
	if (out->name != NULL && out->cmd != AUTH_CLI_KEY_REVOKE &&
	    admin_word_check("principal name", out->name, NULL, &e) != SG_OK) {
		cli_err(err, errlen, "%s", e.msg);
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

PGresult *
auth_cli_exec(PGconn *conn, const char *sql, int n, const char *const *params, ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	cli_pg_error(conn, res);
	PQclear(res);
	return NULL;
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

/* A string member, or dash when it is null. */
static const char *
member(const json_t *o, const char *key, const char *dash)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dash;
}

/* principal list: NAME, "roles=a,b teams=c", enabled|disabled. */
static void
print_principals(const json_t *list)
{
	const char *const *flags = admin_attr_fields;
	size_t i, j;
	const json_t *p, *v;

	json_array_foreach(list, i, p) {
		bool first = true;

		printf("%s\t", member(p, "name", ""));
		for (size_t f = 0; f < SG_ATTR_NCAT; f++) {
			const json_t *vals = json_object_get(p, flags[f]);

			if (json_array_size(vals) == 0)
				continue;
			printf("%s%ss=", first ? "" : " ", flags[f]);
			first = false;
			json_array_foreach(vals, j, v)
				printf("%s%s", j ? "," : "", json_string_value(v));
		}
		printf("\t%s\n", json_is_true(json_object_get(p, "disabled")) ? "disabled" : "enabled");
	}
}

static void
print_keys(const json_t *list)
{
	size_t i;
	const json_t *k;

	printf("KEY_ID\tPRINCIPAL\tCREATED\tEXPIRES\tREVOKED\tSTATUS\tLAST_USED\tDESCRIPTION\n");
	json_array_foreach(list, i, k) {
		printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", member(k, "key_id", ""), member(k, "principal", ""),
		       member(k, "created_at", "-"), member(k, "expires_at", "never"), member(k, "revoked_at", "-"),
		       member(k, "status", ""), member(k, "last_used_at", "-"), member(k, "description", ""));
	}
}

/* Runs the parsed command through admin_run and prints its answer as the CLI always has. */
static int
cli_run(PGconn *conn, const struct auth_cli_args *a)
{
	struct sg_err err = {0};
	json_t *out = NULL;
	sg_status st = admin_run(conn, a, &out, &err);
	int rc = 0;

	if (st != SG_OK) {
		fprintf(stderr, "stackgate: %s%s\n", err.msg,
			st == SG_E_CONFLICT && a->cmd == AUTH_CLI_PRINCIPAL_ADD ? " (use 'principal set' to change it)"
			: st == SG_E_NOT_FOUND && a->cmd == AUTH_CLI_KEY_CREATE ? " (add it with 'principal add')"
										: "");
		if (err.detail[0] != '\0')
			fprintf(stderr, "stackgate: %s\n", err.detail);
		return st == SG_E_BAD_REQUEST ? 2 : 1;
	}
	switch (a->cmd) {
	case AUTH_CLI_PRINCIPAL_LIST:
		print_principals(out);
		break;
	case AUTH_CLI_KEY_LIST:
		print_keys(out);
		break;
	case AUTH_CLI_KEY_CREATE:
		printf("%s\n", member(out, "key", ""));
		fflush(stdout);
		fprintf(stderr, "stackgate: key %s for principal '%s', expires: %s.  It is shown only once.\n",
			member(out, "key_id", ""), a->name, member(out, "expires_at", "never"));
		if (json_is_true(json_object_get(out, "expired")))
			fprintf(stderr, "stackgate: warning: this key has already expired\n");
		break;
	case AUTH_CLI_KEY_REVOKE:
		fprintf(stderr,
			json_is_true(json_object_get(out, "already_revoked"))
				? "stackgate: key %s was already revoked\n"
				: "stackgate: key %s revoked\n",
			member(out, "key_id", ""));
		break;
	default:
		break;
	}
	json_decref(out);
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
	rc = cli_run(conn, &a);
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
