/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: argv and subcommands.  Everything a test needs lives in the
 * library; this file only parses arguments and calls it.
 *
 *   stackgate serve --config FILE [--migrate]
 *   stackgate check-config [--print-policy] FILE
 *   stackgate migrate [--config FILE]
 *   stackgate principal add|set|list|remove …   [--config FILE]
 *   stackgate key create|list|revoke …          [--config FILE]
 *   stackgate limit set|clear|list …            [--config FILE]
 *   stackgate usage [--principal P] [--model M] [--since DATE] [--json] [--config FILE]
 *   stackgate version
 */
#include "config.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "conf.h"
#include "db.h"
#include "json.h"
#include "log.h"
#include "policy.h"
#include "sg_limits.h"
#include "supervisor.h"
#include "usage.h"

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: stackgate serve --config FILE [--migrate]\n"
		"       stackgate check-config [--print-policy] FILE\n"
		"       stackgate migrate [--config FILE]\n"
		"       stackgate principal add|set|list|remove NAME [--role R]... [--team T]...\n"
		"                 [--project P]... [--namespace N]... [--config FILE]\n"
		"       stackgate key create PRINCIPAL [--expires-in DAYS] [--description TEXT] | list [PRINCIPAL]\n"
		"                 | revoke KEY_ID [--config FILE]\n"
		"       stackgate limit set PRINCIPAL [--model M] [--key KEY_ID] [--max-concurrent N] [--rpm N]\n"
		"                 [--tpm N] [--tokens-per-day N] [--tokens-per-month N] | clear PRINCIPAL [--model M]\n"
		"                 [--key KEY_ID] | list [--config FILE]\n"
		"       stackgate usage [--principal P] [--model M] [--since YYYY-MM-DD] [--json] [--config FILE]\n"
		"       stackgate version\n"
		"\n"
		"The database is the config's database.conninfo, else STACKGATE_DATABASE_URL, else libpq's\n"
		"PG* environment.\n");
}

/* Loads a config, printing every problem; NULL on failure. */
static struct sg_conf *
load(const char *path)
{
	char *errors = NULL;
	struct sg_conf *c = conf_load(path, &errors);

	if (c == NULL) {
		fprintf(stderr, "%s", errors ? errors : "stackgate: cannot load the configuration\n");
		if (errors != NULL && errors[0] != '\0' && errors[strlen(errors) - 1] != '\n')
			fputc('\n', stderr);
		free(errors);
	}
	return c;
}

/* The policy in force (configured or default), as the config would write it, on stdout. */
static int
print_access_policy(const struct sg_conf *c)
{
	json_t *j = policy_to_json(c->policy);
	char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	if (text == NULL) {
		fprintf(stderr, "stackgate: out of memory\n");
		return 1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

/* Removes "--config FILE" (or --config=FILE) from argv; returns the file or NULL. */
static const char *
take_config(int *argc, char **argv)
{
	const char *file = NULL;
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < *argc) {
			file = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return file;
}

static const char *
conninfo_for(const struct sg_conf *c)
{
	const char *env = getenv("STACKGATE_DATABASE_URL");

	if (c != NULL && c->conninfo != NULL && c->conninfo[0] != '\0')
		return c->conninfo;
	return env ? env : "";
}

static int
cmd_migrate(struct sg_conf *c)
{
	struct sg_err err;

	if (db_migrate(conninfo_for(c), true, &err) != SG_OK) {
		fprintf(stderr, "stackgate: migrate: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int
cmd_serve(struct sg_conf *c, bool migrate)
{
	struct sg_err err;
	sg_status st;

	/* A config without conninfo uses STACKGATE_DATABASE_URL, like the CLI. */
	if (c->conninfo == NULL || c->conninfo[0] == '\0') {
		free(c->conninfo);
		c->conninfo = sg_strdup(conninfo_for(NULL));
	}
	if ((migrate || c->auto_migrate) && cmd_migrate(c) != 0)
		goto fail;
	st = db_schema_check(c->conninfo, &err);
	if (st == SG_OK)
		st = db_notify_check(c->conninfo, conf_listen_conninfo(c), DB_NOTIFY_CHECK_MS, &err);
	if (st != SG_OK) {
		log_error("%s", err.msg);
		goto fail;
	}
	return supervisor_run(c); /* frees c */
fail:
	conf_free(c);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *cmd, *file;
	struct sg_conf *c = NULL;
	int rc = 0;

	sg_json_init(); /* before the config, the first JSON made */
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	argc -= 1;
	argv += 1;
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("stackgate %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(cmd, "check-config") == 0) {
		bool print_policy = argc > 1 && strcmp(argv[1], "--print-policy") == 0;

		if (print_policy) {
			argc--;
			argv++;
		}
		file = take_config(&argc, argv);
		if (file == NULL && argc == 2)
			file = argv[1];
		if (file == NULL) {
			usage(stderr);
			return 2;
		}
		c = load(file);
		if (c == NULL)
			return 1;
		if (print_policy)
			rc = print_access_policy(c);
		else
			printf("%s: configuration is valid\n", file);
		conf_free(c);
		return rc;
	}

	file = take_config(&argc, argv);
	if (file != NULL) {
		c = load(file);
		if (c == NULL)
			return 1;
		log_set_level_name(c->log_level);
		log_set_format_name(c->log_format);
	}
	if (strcmp(cmd, "serve") == 0) {
		bool migrate = argc > 1 && strcmp(argv[1], "--migrate") == 0;

		if (c == NULL) {
			fprintf(stderr, "stackgate: serve needs --config FILE\n");
			return 2;
		}
		if (curl_global_init(CURL_GLOBAL_ALL) != 0) {
			fprintf(stderr, "stackgate: curl_global_init failed\n");
			conf_free(c);
			return 1;
		}
		rc = cmd_serve(c, migrate); /* owns c */
		curl_global_cleanup();
		return rc;
	}
	if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(c);
	else if (strcmp(cmd, "principal") == 0)
		rc = auth_cli_principal(conninfo_for(c), argc, argv);
	else if (strcmp(cmd, "key") == 0)
		rc = auth_cli_key(conninfo_for(c), argc, argv);
	else if (strcmp(cmd, "limit") == 0)
		rc = limits_cli(conninfo_for(c), argc, argv);
	else if (strcmp(cmd, "usage") == 0)
		rc = usage_cli(conninfo_for(c), argc, argv);
	else {
		fprintf(stderr, "stackgate: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	if (c != NULL)
		conf_free(c);
	return rc;
}
