/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.c: loads the JSON configuration: parse (jansson), index the position
 * of every value in the raw text (jansson keeps none), substitute
 * ${env.NAME} / ${env.NAME:default} in every string value, then validate
 * against a declarative table of keys and build struct sg_conf.  Every
 * problem found is reported as "FILE:LINE:COL: path: message", sorted by
 * position, one error per value.  Runs once per (re)load, single-threaded;
 * the result is read-only afterwards.
 *
 * This file holds the key table, the typed reads and the load itself; the
 * position index, problem reporting and ${env.…} substitution are in
 * confpos.c, and the "providers" section is parsed by provider.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "compat.h"
#include "conf.h"
#include "confpos.h"
#include "cors.h"
#include "json.h"
#include "policy.h"
#include "provider.h"

#define MAX_FILE_BYTES (16u << 20)

static const char *const api_names[SG_API_COUNT] = {
	"inference", "safety", "vector_io", "datasetio", "scoring", "eval", "tool_runtime",
};

/* ---- Typed values ---- */

bool
conf_value_int(const json_t *v, long long *out)
{
	const char *s = json_string_value(v), *d;
	char *end;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (s == NULL)
		return false;
	d = s + (s[0] == '-' || s[0] == '+');
	if (!isdigit((unsigned char) d[0]) || strspn(d, "0123456789") != strlen(d))
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

bool
conf_value_bool(const json_t *v, bool *out)
{
	static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no", "off", "0"};
	const char *s = json_string_value(v);

	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	for (size_t i = 0; s != NULL && i < SG_ARRAY_LEN(t); i++) {
		if (strcasecmp(s, t[i]) == 0 || strcasecmp(s, f[i]) == 0) {
			*out = strcasecmp(s, t[i]) == 0;
			return true;
		}
	}
	return false;
}

bool
conf_value_number(const json_t *v, double *out)
{
	const char *s = json_string_value(v);
	char *end;

	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (s == NULL || s[0] == '\0' || isspace((unsigned char) s[0]))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/* ---- The declarative key table ---- */

enum kind { K_INT, K_LONG, K_SIZE, K_BOOL, K_STR, K_OPTSTR, K_MODE, K_STRV };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;
	long long min, max;
	const char *(*check)(const char *s); /* strings (each one of a K_STRV): NULL, or why s is wrong */
};

static const char *
check_listen(const char *s)
{
	static const char *const loopback[] = {"127.0.0.1:", "[::1]:", "localhost:"};

	if (s[0] == '/')
		return strlen(s) < sizeof(((struct sockaddr_un *) 0)->sun_path)
			       ? NULL
			       : "must be a unix socket path shorter than 108 bytes";
	for (size_t i = 0; i < SG_ARRAY_LEN(loopback); i++) {
		const char *port = s + strlen(loopback[i]);

		if (strncmp(s, loopback[i], strlen(loopback[i])) == 0 && strlen(port) >= 1 && strlen(port) <= 5 &&
		    strspn(port, "0123456789") == strlen(port) && atoi(port) >= 1 && atoi(port) <= 65535)
			return NULL;
	}
	return "must be an absolute unix socket path or a loopback address (127.0.0.1:PORT, [::1]:PORT or "
	       "localhost:PORT)";
}

static const char *
check_log_level(const char *s)
{
	return strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 || strcmp(s, "warn") == 0 || strcmp(s, "error") == 0
		       ? NULL
		       : "must be one of debug, info, warn, error";
}

static const char *
check_log_format(const char *s)
{
	return strcmp(s, "text") == 0 || strcmp(s, "json") == 0 ? NULL : "must be one of text, json";
}

static const char *
check_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "must be an absolute path";
}

static const char *
check_policy_word(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
		if (*p == ' ' || *p < 0x20 || *p == 0x7f)
			return "must be one word (no blanks or control characters: the access policy's conditions name "
			       "it)";
	return NULL;
}

static const char *
check_nonempty(const char *s)
{
	return s[0] != '\0' ? NULL : "must not be empty";
}

#define F(f) offsetof(struct sg_conf, f)
static const struct key keys[] = {
	{"server", "socket", K_STR, F(listen), 0, 0, check_listen},
	{"server", "socket_mode", K_MODE, F(socket_mode), 0, 0777, NULL},
	{"server", "socket_group", K_OPTSTR, F(socket_group), 0, 0, check_nonempty},
	{"server", "workers", K_INT, F(workers), 1, 64, NULL},
	{"server", "threads", K_INT, F(threads), 1, 1024, NULL},
	{"server", "thread_stack_kb", K_SIZE, F(thread_stack_kb), 64, 1048576, NULL},
	{"server", "max_requests", K_LONG, F(max_requests), 0, 1000000000, NULL},
	{"server", "max_body_bytes", K_SIZE, F(max_body_bytes), 1024, 1073741824, NULL},
	{"server", "max_json_depth", K_INT, F(max_json_depth), 2, 1000, NULL},
	{"server", "shutdown_timeout", K_INT, F(shutdown_timeout_s), 0, 3600, NULL},
	{"server", "client_version_check", K_BOOL, F(client_version_check), 0, 0, NULL},
	{"server", "sched_batch", K_BOOL, F(sched_batch), 0, 0, NULL},
	{"server", "log_level", K_STR, F(log_level), 0, 0, check_log_level},
	{"server", "sse_done", K_STR, F(sse_done), 0, 0, compat_sse_done_check},
	{"server", "cors_origins", K_STRV, F(cors_origins), 0, 0, cors_origin_check},
	{"server", "pid_file", K_OPTSTR, F(pid_file), 0, 0, check_abs_path},
	{"server", "log_format", K_STR, F(log_format), 0, 0, check_log_format},
	{"metrics", "enabled", K_BOOL, F(metrics_enabled), 0, 0, NULL},
	{"metrics", "max_models", K_INT, F(metrics_max_models), 1, 65536, NULL},
	{"server", "reserved_threads", K_INT, F(reserved_threads), 0, 1024, NULL},
	{"limits", "enabled", K_BOOL, F(limits_enabled), 0, 0, NULL},
	{"limits", "default_max_concurrent", K_INT, F(limits_default_max_concurrent), 1, 1000000, NULL},
	{"limits", "max_subjects", K_INT, F(limits_max_subjects), 64, 1048576, NULL},
	{"database", "conninfo", K_STR, F(conninfo), 0, 0, NULL},
	{"database", "listen_conninfo", K_OPTSTR, F(listen_conninfo), 0, 0, NULL},
	{"database", "pool_size", K_INT, F(db_pool_size), 1, 64, NULL},
	{"database", "query_timeout", K_INT, F(db_query_timeout_s), 1, 3600, NULL},
	{"database", "auto_migrate", K_BOOL, F(auto_migrate), 0, 0, NULL},
	{"auth", "required", K_BOOL, F(auth_required), 0, 0, NULL},
	{"auth", "admin_roles", K_STRV, F(admin_roles), 0, 0, check_policy_word},
	{"auth", "key_cache_ttl", K_INT, F(key_cache_ttl_s), 0, 3600, NULL},
	{"usage", "enabled", K_BOOL, F(usage_enabled), 0, 0, NULL},
	{"usage", "retention_days", K_INT, F(usage_retention_days), 1, 36500, NULL},
	{"usage", "queue_size", K_SIZE, F(usage_queue_size), 2, 10000000, NULL},
	{"usage", "flush_interval_ms", K_INT, F(usage_flush_ms), 10, 60000, NULL},
	{"router", "max_retries", K_INT, F(router_max_retries), 0, 10, NULL},
	{"router", "cooldown_failures", K_INT, F(router_cooldown_failures), 1, 1000, NULL},
	{"router", "cooldown_window", K_INT, F(router_cooldown_window_s), 1, 86400, NULL},
	{"router", "cooldown", K_INT, F(router_cooldown_s), 0, 86400, NULL},
};

static const struct {
	const char *name;
	size_t off; /* a json_t * in struct sg_conf, or 0: a section or an ignored key */
} toplevel[] = {
	{"server", 0},
	{"database", 0},
	{"auth", 0},
	{"metrics", 0},
	{"limits", 0},
	{"usage", 0},
	{"router", 0},
	{"providers", 0},
	{"access_policy", 0},
	{"version", 0},
	{"image_name", 0},
	{"models", F(models)},
	{"shields", F(shields)},
	{"vector_dbs", F(vector_dbs)},
	{"datasets", F(datasets)},
	{"scoring_fns", F(scoring_fns)},
	{"benchmarks", F(benchmarks)},
	{"tool_groups", F(tool_groups)},
};

static void
parse_key(struct confpos_loader *L, const struct key *k, const char *path, json_t *v)
{
	char *field = (char *) L->c + k->off, *dup;
	const char *s = json_string_value(v), *why;
	long long n = 0;
	bool b;

	switch (k->kind) {
	case K_INT:
	case K_LONG:
	case K_SIZE:
		if (!conf_value_int(v, &n) || n < k->min || n > k->max)
			confpos_report(L, path, false, "must be an integer between %lld and %lld, got %s", k->min,
				       k->max, SG_CONF_GOT(v));
		else if (k->kind == K_INT)
			*(int *) (void *) field = (int) n;
		else if (k->kind == K_LONG)
			*(long *) (void *) field = (long) n;
		else
			*(size_t *) (void *) field = (size_t) n;
		break;
	case K_BOOL:
		if (!conf_value_bool(v, &b))
			confpos_report(L, path, false, "must be a boolean, got %s", SG_CONF_GOT(v));
		else
			*(bool *) field = b;
		break;
	case K_MODE:
		if (s == NULL || s[0] == '\0' || strlen(s) > 4 || strspn(s, "01234567") != strlen(s))
			confpos_report(L, path, false, "must be an octal string such as \"0660\", got %s",
				       SG_CONF_GOT(v));
		else
			*(mode_t *) (void *) field = (mode_t) strtol(s, NULL, 8) & 0777;
		break;
	case K_STR:
	case K_OPTSTR:
		if (k->kind == K_OPTSTR && json_is_null(v))
			s = NULL;
		else if (s == NULL || (k->check != NULL && (why = k->check(s)) != NULL)) {
			confpos_report(L, path, false, "%s, got %s", s == NULL ? "must be a string" : why,
				       SG_CONF_GOT(v));
			break;
		}
		if (s != NULL && (dup = sg_strdup(s)) == NULL) {
			L->nomem = true;
			break;
		}
		free(*(char **) (void *) field);
		*(char **) (void *) field = s != NULL ? dup : NULL;
		break;
	case K_STRV: {
		struct sg_strv *sv = (struct sg_strv *) (void *) field;
		json_t *e;
		size_t i;

		if (!json_is_array(v)) {
			confpos_report(L, path, false, "must be an array of strings, got %s", SG_CONF_GOT(v));
			break;
		}
		sg_strv_free(sv);
		json_array_foreach(v, i, e) {
			char *ep = sg_asprintf("%s[%zu]", path, i);

			if (ep != NULL && (!json_is_string(e) || json_string_length(e) == 0))
				confpos_report(L, ep, false, "must be a non-empty string, got %s", SG_CONF_GOT(e));
			else if (ep != NULL && k->check != NULL && (why = k->check(json_string_value(e))) != NULL)
				confpos_report(L, ep, false, "%s, got %s", why, SG_CONF_GOT(e));
			else if (ep == NULL || !sg_strv_push(sv, json_string_value(e)))
				L->nomem = true;
			free(ep);
		}
		break;
	}
	}
}

static void
parse_section(struct confpos_loader *L, const char *section, json_t *obj)
{
	const char *names[SG_ARRAY_LEN(keys)], *key;
	size_t n = 0;
	json_t *v;

	if (!json_is_object(obj)) {
		confpos_report(L, section, false, "must be an object, got %s", SG_CONF_GOT(obj));
		return;
	}
	for (size_t i = 0; i < SG_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			names[n++] = keys[i].name;
	json_object_foreach(obj, key, v) {
		char *path = sg_asprintf("%s.%s", section, key);
		size_t i;

		if (path == NULL) {
			L->nomem = true;
			return;
		}
		for (i = 0; i < SG_ARRAY_LEN(keys); i++)
			if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, key) == 0)
				break;
		if (i < SG_ARRAY_LEN(keys))
			parse_key(L, &keys[i], path, v);
		else
			confpos_report_unknown(L, path, key, names, n, "key");
		free(path);
	}
}

/* ---- Loading ---- */

/* policy_parse's problems, placed like every other key's. */
static void
policy_problem(void *ctx, const char *path, bool at_key, const char *msg, const json_t *got)
{
	if (got != NULL)
		confpos_report(ctx, path, at_key, "%s, got %s", msg, SG_CONF_GOT(got));
	else
		confpos_report(ctx, path, at_key, "%s", msg);
}

/* A model entry's prices (usage.h), when given: numbers of 0 or more. */
static void
check_prices(struct confpos_loader *L, const char *entry_path, json_t *entry)
{
	static const char *const names[] = {"input_cost_per_mtok", "output_cost_per_mtok"};

	for (size_t i = 0; i < SG_ARRAY_LEN(names); i++) {
		json_t *v = json_object_get(entry, names[i]);
		char path[128];
		double d;

		if (v == NULL || (conf_value_number(v, &d) && d >= 0))
			continue;
		snprintf(path, sizeof(path), "%s.%s", entry_path, names[i]);
		confpos_report(L, path, false, "must be a price per million tokens (a number, 0 or more), got %s",
			       SG_CONF_GOT(v));
	}
}

static void
validate(struct confpos_loader *L, json_t *root)
{
	const char *names[SG_ARRAY_LEN(toplevel)];
	const char *key;
	json_t *v, *e;
	size_t i, t;

	for (t = 0; t < SG_ARRAY_LEN(toplevel); t++)
		names[t] = toplevel[t].name;
	json_object_foreach(root, key, v) {
		for (t = 0; t < SG_ARRAY_LEN(toplevel) && strcmp(toplevel[t].name, key) != 0; t++)
			;
		if (t == SG_ARRAY_LEN(toplevel)) {
			confpos_report_unknown(L, key, key, names, SG_ARRAY_LEN(names), "key");
		} else if (strcmp(key, "providers") == 0) {
			provider_parse_config(L, v);
		} else if (strcmp(key, "access_policy") == 0) {
			policy_free(L->c->policy);
			L->c->policy = NULL;
			if (policy_parse(v, key, policy_problem, L, &L->c->policy) == SG_E_NOMEM)
				L->nomem = true;
		} else if (toplevel[t].off == 0) {
			if (strcmp(key, "version") != 0 && strcmp(key, "image_name") != 0)
				parse_section(L, key, v);
		} else if (!json_is_array(v)) {
			confpos_report(L, key, false, "must be an array of objects, got %s", SG_CONF_GOT(v));
		} else {
			*(json_t **) (void *) ((char *) L->c + toplevel[t].off) = v;
			json_array_foreach(v, i, e) {
				char path[64];

				snprintf(path, sizeof(path), "%s[%zu]", key, i);
				if (!json_is_object(e))
					confpos_report(L, path, false, "must be an object, got %s", SG_CONF_GOT(e));
				else if (toplevel[t].off == F(models))
					check_prices(L, path, e);
			}
		}
	}
}

static struct sg_conf *
conf_defaults(void)
{
	struct sg_conf *c = sg_calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->socket_mode = 0660;
	c->workers = 2;
	c->threads = 64;
	c->thread_stack_kb = 256;
	c->max_body_bytes = 1 << 20;
	c->max_json_depth = 64;
	c->shutdown_timeout_s = 30;
	c->client_version_check = true;
	c->sched_batch = true;
	c->db_pool_size = 4;
	c->db_query_timeout_s = 10;
	c->key_cache_ttl_s = 5;
	c->reserved_threads = 4;
	c->limits_enabled = true;
	c->limits_max_subjects = 4096;
	c->usage_enabled = true;
	c->usage_retention_days = 90;
	c->usage_queue_size = 10000;
	c->usage_flush_ms = 1000;
	c->router_max_retries = 2;
	c->router_cooldown_failures = 3;
	c->router_cooldown_window_s = 30;
	c->router_cooldown_s = 60;
	c->metrics_enabled = true;
	c->metrics_max_models = 256;
	c->listen = sg_strdup("/run/stackgate/stackgate.sock");
	c->log_level = sg_strdup("info");
	c->log_format = sg_strdup("text");
	c->sse_done = sg_strdup("auto");
	c->conninfo = sg_strdup("");
	if (c->listen == NULL || c->log_level == NULL || c->log_format == NULL || c->conninfo == NULL ||
	    c->sse_done == NULL || !sg_strv_push(&c->admin_roles, "admin")) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static struct sg_conf *
load(const char *text, size_t len, const char *name, char **errors)
{
	struct confpos_loader L = {.name = name, .text = text, .len = len};
	struct confpos_scan sc = {text, len, 0, 1, 0};
	const char *nul = memchr(text, '\0', len);
	json_error_t je;
	bool nomem;
	json_t *root = NULL;
	char *rootpath = sg_strdup("");

	*errors = NULL;
	if (nul != NULL) {
		sc.len = (size_t) (nul - text);
		while (sc.i < sc.len)
			confpos_adv(&sc);
		confpos_add_problem(&L, sc.line, sc.col + 1, NULL, "the file contains a NUL byte");
		goto out;
	}
	root = sg_json_loadb(text, len, JSON_REJECT_DUPLICATES, &je, &nomem);
	if (root == NULL && nomem) {
		L.nomem = true;
		goto out;
	}
	if (root == NULL) {
		char msg[256];

		snprintf(msg, sizeof(msg), "invalid JSON: %s", je.text);
		confpos_add_problem(&L, je.line > 0 ? (unsigned) je.line : 1, je.column > 0 ? (unsigned) je.column : 1,
				    NULL, msg);
		goto out;
	}
	if ((L.c = conf_defaults()) == NULL || (L.c->path = sg_strdup(name)) == NULL || rootpath == NULL) {
		L.nomem = true;
		goto out;
	}
	L.c->root = root;
	root = NULL;
	if (confpos_scan_value(&L, &sc, rootpath, 0, 0) || !L.nomem) {
		confpos_subst_tree(&L, L.c->root, "");
	}
	/* After an allocation failure values may be left unsubstituted: they would be reported as wrong. */
	if (!L.nomem) {
		if (!json_is_object(L.c->root))
			confpos_report(&L, "", false, "the configuration must be a JSON object, got %s",
				       SG_CONF_GOT(L.c->root));
		validate(&L, L.c->root);
		if (L.c->policy == NULL && L.nprobs == 0 && (L.c->policy = policy_default(&L.c->admin_roles)) == NULL)
			L.nomem = true;
	}
	rootpath = NULL;
out:
	if (L.nprobs > 0 || L.nomem) {
		*errors = confpos_render(&L);
		conf_free(L.c);
		L.c = NULL;
	}
	json_decref(root);
	free(rootpath);
	confpos_loader_release(&L);
	return L.c;
}

struct sg_conf *
conf_load_string(const char *text, const char *name, char **errors)
{
	return load(text, strlen(text), name, errors);
}

struct sg_conf *
conf_load(const char *path, char **errors)
{
	FILE *f = fopen(path, "rb");
	struct sg_buf b = {.max = MAX_FILE_BYTES};
	char chunk[65536];
	struct sg_conf *c = NULL;
	size_t n;

	*errors = NULL;
	if (f == NULL) {
		*errors = sg_asprintf("%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (!sg_buf_append(&b, chunk, n)) {
			if (b.too_big)
				*errors = sg_asprintf("%s: the file is larger than %u bytes\n", path, MAX_FILE_BYTES);
			else
				*errors = sg_asprintf("%s: out of memory\n", path);
			goto out;
		}
	}
	if (ferror(f))
		*errors = sg_asprintf("%s: cannot read: %s\n", path, strerror(errno));
	else
		c = load(b.p != NULL ? b.p : "", b.len, path, errors);
out:
	fclose(f);
	free(b.p);
	return c;
}

void
conf_free(struct sg_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nproviders; i++) {
		struct sg_provider *p = &c->providers[i];

		if (p->api_key != NULL)
			explicit_bzero(p->api_key, strlen(p->api_key));
		free(p->api_key);
		free(p->provider_id);
		free(p->provider_type);
		free(p->base_url);
		free(p->ca_file);
		json_decref(p->config);
	}
	free(c->providers);
	free(c->path);
	free(c->listen);
	free(c->socket_group);
	free(c->log_level);
	free(c->log_format);
	free(c->sse_done);
	sg_strv_free(&c->cors_origins);
	free(c->pid_file);
	free(c->conninfo);
	free(c->listen_conninfo);
	sg_strv_free(&c->admin_roles);
	policy_free(c->policy);
	json_decref(c->root);
	free(c);
}

const char *
conf_listen_conninfo(const struct sg_conf *c)
{
	return c->listen_conninfo != NULL ? c->listen_conninfo : c->conninfo;
}

const char *
conf_api_name(enum sg_api api)
{
	return (unsigned) api < SG_API_COUNT ? api_names[api] : NULL;
}

bool
conf_api_from_name(const char *name, enum sg_api *out)
{
	for (int i = 0; name != NULL && i < SG_API_COUNT; i++) {
		if (strcmp(api_names[i], name) == 0) {
			*out = (enum sg_api) i;
			return true;
		}
	}
	return false;
}

const struct sg_provider *
conf_provider_nth(const struct sg_conf *c, enum sg_api api, size_t n)
{
	for (size_t i = 0; c != NULL && i < c->nproviders; i++)
		if (c->providers[i].api == api && n-- == 0)
			return &c->providers[i];
	return NULL;
}

size_t
conf_provider_count(const struct sg_conf *c, enum sg_api api)
{
	size_t n = 0;

	while (conf_provider_nth(c, api, n) != NULL)
		n++;
	return n;
}

const struct sg_provider *
conf_provider(const struct sg_conf *c, enum sg_api api, const char *provider_id)
{
	for (size_t i = 0; c != NULL && provider_id != NULL && i < c->nproviders; i++)
		if (c->providers[i].api == api && strcmp(c->providers[i].provider_id, provider_id) == 0)
			return &c->providers[i];
	return NULL;
}
