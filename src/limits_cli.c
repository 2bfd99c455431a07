/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits_cli.c: `stackgate limit set|clear|list` (sg_limits.h), on the limits
 * table of sql/007_limits.sql.  Every host reads the table each second, so
 * what this writes is in force within a second.
 *
 *   set PRINCIPAL [--model M] [--key KEY_ID] [--max-concurrent N] [--rpm N]
 *       [--tpm N] [--tokens-per-day N] [--tokens-per-month N]
 *       creates the subject's row or changes the kinds given (N: a
 *       non-negative integer, or "none" to lift that kind); kinds not given
 *       keep their value
 *   clear PRINCIPAL [--model M] [--key KEY_ID]   deletes the subject's row
 *   list                                         every row, tab-separated
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "auth.h"
#include "db.h"
#include "sg_limits.h"

static const char *const kinds[] = {"--max-concurrent", "--rpm", "--tpm", "--tokens-per-day", "--tokens-per-month"};
#define NKINDS 5

struct cli {
	const char *verb, *principal, *model, *key;
	const char *value[NKINDS]; /* NULL: not given */
};

static void
cli_usage(FILE *f)
{
	fprintf(f,
		"usage: stackgate limit set PRINCIPAL [--model M] [--key KEY_ID] [--max-concurrent N] [--rpm N]\n"
		"                 [--tpm N] [--tokens-per-day N] [--tokens-per-month N]\n"
		"       stackgate limit clear PRINCIPAL [--model M] [--key KEY_ID]\n"
		"       stackgate limit list\n"
		"N is a non-negative integer, or none to lift that limit; limits not given keep their value.\n");
}

/* A limit's value: digits (at most 18) or "none". */
static bool
value_ok(const char *v)
{
	size_t n = strlen(v);

	return strcmp(v, "none") == 0 || (n > 0 && n <= 18 && strspn(v, "0123456789") == n);
}

/* Parses argv (argv[0] "limit"); false with the problem on stderr. */
static bool
parse(int argc, char **argv, struct cli *c)
{
	memset(c, 0, sizeof(*c));
	if (argc < 2) {
		fprintf(stderr, "stackgate: limit: missing command (set, clear or list)\n");
		return false;
	}
	c->verb = argv[1];
	if (strcmp(c->verb, "set") != 0 && strcmp(c->verb, "clear") != 0 && strcmp(c->verb, "list") != 0 &&
	    strcmp(c->verb, "help") != 0) {
		fprintf(stderr, "stackgate: limit: unknown command '%s'\n", c->verb);
		return false;
	}
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		int k;

		if (a[0] != '-' && c->principal == NULL && strcmp(c->verb, "list") != 0) {
			if (a[0] == '\0') {
				fprintf(stderr, "stackgate: limit: the principal must not be empty\n");
				return false;
			}
			c->principal = a;
			continue;
		}
		if (i + 1 >= argc ||
		    (strcmp(a, "--model") != 0 && strcmp(a, "--key") != 0 && strcmp(c->verb, "set") != 0)) {
			fprintf(stderr, "stackgate: limit %s: unexpected argument '%s'\n", c->verb, a);
			return false;
		}
		if (strcmp(a, "--model") == 0 || strcmp(a, "--key") == 0) {
			if (argv[i + 1][0] == '\0') {
				fprintf(stderr, "stackgate: limit %s: %s must not be empty\n", c->verb, a);
				return false;
			}
			*(a[2] == 'm' ? &c->model : &c->key) = argv[++i];
			continue;
		}
		for (k = 0; k < NKINDS && strcmp(a, kinds[k]) != 0; k++)
			;
		if (k == NKINDS) {
			fprintf(stderr, "stackgate: limit set: unknown option '%s'\n", a);
			return false;
		}
		if (!value_ok(argv[i + 1])) {
			fprintf(stderr, "stackgate: limit set: %s must be a non-negative integer or none, got '%s'\n",
				a, argv[i + 1]);
			return false;
		}
		c->value[k] = argv[++i];
	}
	if (strcmp(c->verb, "list") != 0 && strcmp(c->verb, "help") != 0 && c->principal == NULL) {
		fprintf(stderr, "stackgate: limit %s: missing PRINCIPAL\n", c->verb);
		return false;
	}
	if (strcmp(c->verb, "set") == 0) {
		int k;

		for (k = 0; k < NKINDS && c->value[k] == NULL; k++)
			;
		if (k == NKINDS) {
			fprintf(stderr,
				"stackgate: limit set: nothing to set: give at least one of --max-concurrent, "
				"--rpm, --tpm, --tokens-per-day, --tokens-per-month\n");
			return false;
		}
	}
	return true;
}

/* $4..$8: NULL keeps the column (a new row: no limit), 'none' lifts it, else the number. */
#define V(n, col, type) \
	"CASE WHEN $" #n "::text IS NULL THEN limits." col " WHEN $" #n " = 'none' THEN NULL ELSE $" #n "::" type " END"
#define I(n, type) "CASE WHEN $" #n "::text IS NULL OR $" #n " = 'none' THEN NULL ELSE $" #n "::" type " END"
static const char sql_set[] =
	"INSERT INTO limits (principal, model, key_id, max_concurrent, rpm, tpm, tokens_per_day, tokens_per_month) "
	"VALUES ($1, $2, $3, " I(4, "integer") ", " I(5, "bigint") ", " I(6, "bigint") ", " I(7, "bigint") ", " I(
		8, "bigint") ") "
	"ON CONFLICT (principal, (coalesce(model, '')), (coalesce(key_id, ''))) DO UPDATE SET "
	"max_concurrent = " V(4, "max_concurrent", "integer") ", rpm = " V(5, "rpm", "bigint") ", tpm = " V(
		6, "tpm", "bigint") ", tokens_per_day = " V(7, "tokens_per_day", "bigint") ", tokens_per_month = " V(8,
		"tokens_per_month", "bigint") ", updated_at = now()";
#undef V
#undef I
static const char sql_clear[] =
	"DELETE FROM limits WHERE principal = $1 AND model IS NOT DISTINCT FROM $2 AND key_id IS NOT DISTINCT FROM $3";
static const char sql_list[] =
	"SELECT principal, coalesce(model, '*'), coalesce(key_id, '*'), coalesce(max_concurrent::text, '-'), "
	"coalesce(rpm::text, '-'), coalesce(tpm::text, '-'), coalesce(tokens_per_day::text, '-'), "
	"coalesce(tokens_per_month::text, '-') FROM limits ORDER BY principal, model NULLS FIRST, key_id NULLS FIRST";

int
limits_cli(const char *conninfo, int argc, char **argv)
{
	struct cli c;
	PGconn *conn;
	PGresult *res = NULL;
	int rc = 1;

	if (!parse(argc, argv, &c)) {
		cli_usage(stderr);
		return 2;
	}
	if (strcmp(c.verb, "help") == 0) {
		cli_usage(stdout);
		return 0;
	}
	conn = auth_cli_connect(conninfo);
	if (conn == NULL)
		return 1;
	if (strcmp(c.verb, "set") == 0) {
		const char *p[8] = {c.principal, c.model,    c.key,      c.value[0],
				    c.value[1],  c.value[2], c.value[3], c.value[4]};

		res = auth_cli_exec(conn, sql_set, 8, p, PGRES_COMMAND_OK);
		rc = res != NULL ? 0 : 1;
	} else if (strcmp(c.verb, "clear") == 0) {
		const char *p[3] = {c.principal, c.model, c.key};

		res = auth_cli_exec(conn, sql_clear, 3, p, PGRES_COMMAND_OK);
		if (res != NULL && strcmp(PQcmdTuples(res), "0") == 0)
			fprintf(stderr, "stackgate: no limit is set for principal '%s'%s%s%s%s%s\n", c.principal,
				c.model ? " on model '" : "", c.model ? c.model : "", c.model ? "'" : "",
				c.key ? " with key " : "", c.key ? c.key : "");
		else if (res != NULL)
			rc = 0;
	} else {
		res = auth_cli_exec(conn, sql_list, 0, NULL, PGRES_TUPLES_OK);
		if (res != NULL) {
			printf("PRINCIPAL\tMODEL\tKEY\tMAX_CONCURRENT\tRPM\tTPM\tTOKENS_PER_DAY\tTOKENS_PER_MONTH\n");
			for (int i = 0; i < PQntuples(res); i++)
				for (int f = 0; f < 8; f++)
					printf("%s%s", PQgetvalue(res, i, f), f == 7 ? "\n" : "\t");
			rc = 0;
		}
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}
