/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usage_query.c: the reads of usage_daily (usage.h) and their two fronts,
 * GET /v1/stackgate/usage and `stackgate usage`.  One query with
 * parameters, built by PostgreSQL as a JSON array, serves both.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "usage.h"

#define FILTER_MAX 512

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* s is a real calendar date written YYYY-MM-DD (years 1..9999). */
static bool
date_ok(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

sg_status
usage_filter_check(const struct usage_filter *f, struct sg_err *err)
{
	const struct {
		const char *name, *value;
	} words[] = {{"principal", f->principal}, {"model", f->model}};

	for (size_t i = 0; i < SG_ARRAY_LEN(words); i++) {
		size_t n = words[i].value ? strlen(words[i].value) : 1;

		if (n == 0 || n > FILTER_MAX)
			return sg_fail(err, SG_E_BAD_REQUEST, words[i].name, "%s must be 1 to %d bytes", words[i].name,
				       FILTER_MAX);
	}
	if (f->since != NULL && !date_ok(f->since))
		return sg_fail(err, SG_E_BAD_REQUEST, "since", "since must be a date written YYYY-MM-DD, got '%.*s'",
			       (int) sg_utf8_prefix(f->since, 40), f->since);
	return SG_OK;
}

sg_status
usage_query(PGconn *conn, const struct usage_filter *f, json_t **out)
{
	static const char sql[] =
		"SELECT coalesce(json_agg(json_build_object('day', day, 'principal', principal, 'model', model,"
		" 'requests', requests, 'prompt_tokens', prompt_tokens, 'completion_tokens', completion_tokens,"
		" 'total_tokens', total_tokens, 'cost', cost) ORDER BY day, principal, model), '[]')"
		" FROM usage_daily"
		" WHERE ($1::text IS NULL OR principal = $1) AND ($2::text IS NULL OR model = $2)"
		"   AND ($3::date IS NULL OR day >= $3::date)";
	const char *p[3] = {f->principal, f->model, f->since};
	PGresult *res = db_exec(conn, sql, 3, p);
	sg_status st = db_result_status(conn, res);

	*out = NULL;
	if (st == SG_OK) {
		const char *text = PQgetvalue(res, 0, 0);
		bool nomem = false;

		*out = sg_json_loadb(text, strlen(text), 0, NULL, &nomem);
		if (*out == NULL)
			st = nomem ? SG_E_NOMEM : SG_E_INTERNAL;
	}
	PQclear(res);
	return st;
}

/* ------------------------------------------------------------------ HTTP */

sg_status
usage_http_get(struct request *r)
{
	char *principal = http_query_get(r, "principal"), *model = http_query_get(r, "model");
	char *since = http_query_get(r, "since");
	struct usage_filter f = {.principal = principal, .model = model, .since = since};
	json_t *rows = NULL;
	PGconn *conn = NULL;
	sg_status st = usage_filter_check(&f, &r->err);

	if (st != SG_OK)
		goto out;
	if (!r->id.admin) {
		/* Their own rows only; another principal's look like none. */
		if (r->id.principal == NULL || (f.principal != NULL && strcmp(f.principal, r->id.principal) != 0)) {
			rows = json_array();
			st = rows != NULL ? SG_OK : http_fail(r, SG_E_NOMEM, NULL, "out of memory");
			goto reply;
		}
		f.principal = r->id.principal;
	}
	conn = db_acquire();
	if (conn == NULL) {
		st = http_fail(r, SG_E_UNAVAILABLE, NULL, "usage could not be read: the database is unavailable");
		goto out;
	}
	st = usage_query(conn, &f, &rows);
	db_release(conn, db_conn_broken(conn));
	if (st == SG_E_NOMEM)
		st = http_fail(r, st, NULL, "out of memory");
	else if (st != SG_OK)
		st = http_fail(r, SG_E_UNAVAILABLE, NULL, "usage could not be read: the database is unavailable");
reply:
	if (st == SG_OK) {
		r->reply = json_pack("{s:s,s:o}", "object", "list", "data", rows);
		rows = NULL;
		if (r->reply == NULL)
			st = http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	}
out:
	json_decref(rows);
	free(principal);
	free(model);
	free(since);
	return st;
}

/* ------------------------------------------------------------------- CLI */

static void
cli_usage(FILE *f)
{
	fprintf(f,
		"usage: stackgate usage [--principal P] [--model M] [--since YYYY-MM-DD] [--json]\n"
		"  usage per UTC day, principal and model (the usage_daily view)\n");
}

/* Parses the arguments after "usage" into f, *json and *help; SG_E_BAD_REQUEST with the reason in err. */
static sg_status
cli_parse(int argc, char **argv, struct usage_filter *f, bool *json, bool *help, struct sg_err *err)
{
	for (int i = 1; i < argc; i++) {
		const char **slot = strcmp(argv[i], "--principal") == 0 ? &f->principal
				    : strcmp(argv[i], "--model") == 0   ? &f->model
				    : strcmp(argv[i], "--since") == 0   ? &f->since
									: NULL;

		if (strcmp(argv[i], "--json") == 0)
			*json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			*help = true;
		else if (slot == NULL)
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "usage: unknown argument '%s'", argv[i]);
		else if (i + 1 >= argc)
			return sg_fail(err, SG_E_BAD_REQUEST, NULL, "usage: %s needs a value", argv[i]);
		else
			*slot = argv[++i];
	}
	return usage_filter_check(f, err);
}

/* The text form: a header and one tab-separated line per row. */
static void
print_table(const json_t *rows)
{
	size_t i;
	const json_t *row;

	printf("day\tprincipal\tmodel\trequests\tprompt_tokens\tcompletion_tokens\ttotal_tokens\tcost\n");
	json_array_foreach(rows, i, row) {
		const json_t *cost = json_object_get(row, "cost");
		const char *principal = json_string_value(json_object_get(row, "principal"));
		char c[64] = "-";

		if (json_is_number(cost))
			snprintf(c, sizeof(c), "%.6f", json_number_value(cost));
		printf("%s\t%s\t%s\t%lld\t%lld\t%lld\t%lld\t%s\n", json_string_value(json_object_get(row, "day")),
		       principal ? principal : "-", json_string_value(json_object_get(row, "model")),
		       (long long) json_integer_value(json_object_get(row, "requests")),
		       (long long) json_integer_value(json_object_get(row, "prompt_tokens")),
		       (long long) json_integer_value(json_object_get(row, "completion_tokens")),
		       (long long) json_integer_value(json_object_get(row, "total_tokens")), c);
	}
}

int
usage_cli(const char *conninfo, int argc, char **argv)
{
	struct usage_filter f = {0};
	struct sg_err err = {0};
	bool json = false, help = false;
	json_t *rows = NULL;
	PGconn *conn;
	int rc = 1;

	if (cli_parse(argc, argv, &f, &json, &help, &err) != SG_OK) {
		fprintf(stderr, "stackgate: %s\n", err.msg);
		cli_usage(stderr);
		return 2;
	}
	if (help) {
		cli_usage(stdout);
		return 0;
	}
	conn = auth_cli_connect(conninfo);
	if (conn == NULL)
		return 1;
	if (usage_query(conn, &f, &rows) != SG_OK) {
		fprintf(stderr, "stackgate: usage could not be read: %s", PQerrorMessage(conn));
	} else if (json) {
		char *text = sg_json_dump(rows);

		if (text != NULL) {
			printf("%s\n", text);
			rc = 0;
		}
		free(text);
	} else {
		print_table(rows);
		rc = 0;
	}
	json_decref(rows);
	PQfinish(conn);
	return rc;
}
