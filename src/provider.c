/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider.c: the per-kind knowledge about providers (see provider.h for the
 * table in prose): which inference provider types are OpenAI-compatible
 * upstreams, how their base URL and API key are found, their timeouts and
 * TLS settings; the "providers" section of the config (validated into
 * struct sg_conf's provider table, problems reported through the config
 * loader's confpos.h), which runs at config load (single-threaded); and
 * the served-model check a model registration makes against its upstream
 * (provider_check_model_served, any thread).  The masked public view of a provider and the scrubbing of its secrets are in
 * provider_secrets.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confpos.h"
#include "mcp.h"
#include "netaddr.h"
#include "provider.h"
#include "proxy.h"

struct kind {
	const char *type;
	const char *url_key;     /* Llama Stack's name for the URL key, if not "url" */
	const char *default_url; /* NULL: the URL is required */
	const char *suffix;      /* appended to the URL unless it already ends with it */
	const char *key_env;     /* environment variable holding the API key, or NULL */
};

static const struct kind kinds[] = {
	{"remote::vllm", NULL, NULL, NULL, NULL},
	{"remote::ollama", NULL, "http://localhost:11434", "/v1", NULL},
	{"remote::openai", NULL, "https://api.openai.com/v1", NULL, "OPENAI_API_KEY"},
	{"remote::together", NULL, "https://api.together.xyz/v1", NULL, "TOGETHER_API_KEY"},
	{"remote::fireworks", NULL, "https://api.fireworks.ai/inference/v1", NULL, "FIREWORKS_API_KEY"},
	{"remote::groq", NULL, "https://api.groq.com", "/openai/v1", "GROQ_API_KEY"},
	{"remote::nvidia", NULL, "https://integrate.api.nvidia.com", "/v1", "NVIDIA_API_KEY"},
	{"remote::passthrough", NULL, NULL, NULL, NULL},
	{"remote::cerebras-openai-compat", "openai_compat_api_base", "https://api.cerebras.ai/v1", NULL,
	 "CEREBRAS_API_KEY"},
	{"remote::fireworks-openai-compat", "openai_compat_api_base", "https://api.fireworks.ai/inference/v1", NULL,
	 "FIREWORKS_API_KEY"},
	{"remote::groq-openai-compat", "openai_compat_api_base", "https://api.groq.com/openai/v1", NULL,
	 "GROQ_API_KEY"},
	{"remote::sambanova-openai-compat", "openai_compat_api_base", "https://api.sambanova.ai/v1", NULL,
	 "SAMBANOVA_API_KEY"},
	{"remote::together-openai-compat", "openai_compat_api_base", "https://api.together.xyz/v1", NULL,
	 "TOGETHER_API_KEY"},
};

static const struct kind *
find_kind(const char *type)
{
	for (size_t i = 0; type != NULL && i < SG_ARRAY_LEN(kinds); i++)
		if (strcmp(kinds[i].type, type) == 0)
			return &kinds[i];
	return NULL;
}

bool
provider_is_openai_compat(const char *provider_type)
{
	return find_kind(provider_type) != NULL;
}

struct setup {
	struct sg_provider *p;
	provider_problem_fn fn;
	void *arg;
};

static void problem(struct setup *st, const char *key, const char *fmt, ...) SG_PRINTF(3, 4);

static void
problem(struct setup *st, const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	st->fn(st->arg, key, msg);
}

/* The value at key, or NULL when it is absent or null. */
static json_t *
opt(const json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);

	return json_is_null(v) ? NULL : v;
}

static bool
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/*
 * Sets p->base_url from the URL key (or the kind's default), without its
 * trailing '/', plus the kind's suffix.  The URL is not echoed in messages:
 * it may carry credentials.
 */
static bool
setup_url(struct setup *st, const struct kind *k, const json_t *cfg)
{
	const char *key = k->url_key != NULL && opt(cfg, k->url_key) != NULL ? k->url_key : "url";
	json_t *v = opt(cfg, key);
	const char *url = k->default_url, *suffix = k->suffix;
	bool append = true;
	size_t len;

	if (v != NULL && !json_is_string(v)) {
		problem(st, key, "must be a string");
		return true;
	}
	if (v != NULL && json_string_length(v) > 0)
		url = json_string_value(v);
	if (url == NULL) {
		problem(st, key, "is required for %s", st->p->provider_type);
		return true;
	}
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		problem(st, key, "must be an http:// or https:// URL");
		return true;
	}
	if (strcmp(k->type, "remote::nvidia") == 0 && opt(cfg, "append_api_version") != NULL &&
	    !conf_value_bool(opt(cfg, "append_api_version"), &append))
		problem(st, "append_api_version", "must be a boolean");
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (len <= strlen(url[4] == 's' ? "https://" : "http://")) {
		problem(st, key, "must be an http:// or https:// URL with a host");
		return true;
	}
	if (suffix == NULL || !append || ends_with(url, len, suffix))
		suffix = "";
	st->p->base_url = sg_asprintf("%.*s%s", (int) len, url, suffix);
	return st->p->base_url != NULL;
}

/* p->api_key from api_token, api_key or the kind's environment variable. */
static bool
setup_key(struct setup *st, const struct kind *k, const json_t *cfg)
{
	static const char *const keys[] = {"api_token", "api_key"};
	const char *key = NULL;

	for (size_t i = 0; i < SG_ARRAY_LEN(keys) && key == NULL; i++) {
		json_t *v = opt(cfg, keys[i]);

		if (v == NULL)
			continue;
		if (!json_is_string(v))
			problem(st, keys[i], "must be a string");
		else if (json_string_length(v) > 0)
			key = json_string_value(v);
	}
	if (key == NULL && k->key_env != NULL) {
		key = getenv(k->key_env);
		if (key != NULL && key[0] == '\0')
			key = NULL;
	}
	if (key == NULL)
		return true;
	st->p->api_key = sg_strdup(key);
	return st->p->api_key != NULL;
}

/* A timeout in seconds (0 < s <= max) into milliseconds. */
static void
setup_seconds(struct setup *st, const json_t *cfg, const char *key, double max, long *ms)
{
	json_t *v = opt(cfg, key);
	double s;

	if (v == NULL)
		return;
	if (!conf_value_number(v, &s) || s <= 0 || s > max) {
		problem(st, key, "must be a number of seconds greater than 0 and at most %.0f", max);
		return;
	}
	*ms = (long) (s * 1000.0 + 0.5);
	if (*ms < 1)
		*ms = 1;
}

/* tls_verify: a boolean, or the absolute path of a CA bundle (verification on). */
static bool
setup_tls(struct setup *st, const json_t *cfg)
{
	json_t *v = opt(cfg, "tls_verify");

	if (v == NULL || conf_value_bool(v, &st->p->tls_verify))
		return true;
	if (json_is_string(v) && json_string_value(v)[0] == '/') {
		st->p->tls_verify = true;
		st->p->ca_file = sg_strdup(json_string_value(v));
		return st->p->ca_file != NULL;
	}
	problem(st, "tls_verify", "must be a boolean or the absolute path of a CA bundle");
	return true;
}

/*
 * The settings of an MCP tool-runtime provider: allowed_hosts (an array of
 * "host[:port]" that callers other than admins may register as endpoints;
 * default none), headers (an object of header values sent to its MCP
 * servers, for their credentials), connect_timeout, read_timeout (seconds
 * of silence, default 10), total_timeout (seconds for one conversation,
 * default 30), max_response_bytes (per answer, default 4 MiB), tls_verify.
 */
static bool
setup_mcp(struct setup *st, const json_t *cfg)
{
	struct sg_provider *p = st->p;
	json_t *v, *e;
	const char *name;
	long long n;
	size_t i;
	char why[160], key[128];

	p->read_timeout_ms = SG_MCP_READ_TIMEOUT_MS;
	p->total_timeout_ms = SG_MCP_TOTAL_TIMEOUT_MS;
	p->max_response_bytes = SG_MCP_MAX_RESPONSE_BYTES;
	setup_seconds(st, cfg, "connect_timeout", 3600, &p->connect_timeout_ms);
	setup_seconds(st, cfg, "read_timeout", 3600, &p->read_timeout_ms);
	setup_seconds(st, cfg, "total_timeout", 3600, &p->total_timeout_ms);
	v = opt(cfg, "max_response_bytes");
	if (v != NULL) {
		if (!conf_value_int(v, &n) || n < 1024 || n > (1LL << 30))
			problem(st, "max_response_bytes", "must be an integer from 1024 to 1073741824");
		else
			p->max_response_bytes = (size_t) n;
	}
	v = opt(cfg, "allowed_hosts");
	if (v != NULL && !json_is_array(v))
		problem(st, "allowed_hosts", "must be an array of \"host\" or \"host:port\" strings");
	else if (v != NULL)
		p->allowed_hosts = v;
	json_array_foreach(p->allowed_hosts, i, e) {
		snprintf(key, sizeof(key), "allowed_hosts[%zu]", i);
		if (!json_is_string(e))
			problem(st, key, "must be a string");
		else if (!netaddr_entry_ok(json_string_value(e), why, sizeof(why)))
			problem(st, key, "\"%.100s\" %s", json_string_value(e), why);
	}
	v = opt(cfg, "headers");
	if (v != NULL && !json_is_object(v))
		problem(st, "headers", "must be an object of header names and string values");
	else if (v != NULL)
		p->headers = v;
	json_object_foreach((json_t *) p->headers, name, e) {
		/* A token (RFC 9110) for the name; a value without line ends, so it cannot start another header. */
		bool token = name[0] != '\0' &&
			     strspn(name,
				    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
				     strlen(name);

		/* (a '.' in the name would split the path the position is looked up by) */
		snprintf(key, sizeof(key), token && strchr(name, '.') == NULL ? "headers.%.100s" : "headers", name);
		if (!token)
			problem(st, key, "\"%.100s\" is not a valid header name", name);
		else if (!json_is_string(e) || strpbrk(json_string_value(e), "\r\n") != NULL)
			problem(st, key, "must be a string without line breaks");
	}
	return setup_tls(st, cfg);
}

bool
provider_setup(struct sg_provider *p, provider_problem_fn fn, void *arg)
{
	struct setup st = {p, fn, arg};
	const struct kind *k;
	const json_t *cfg = p->config;
	json_t *v;

	p->openai_compat = false;
	p->connect_timeout_ms = 5000;
	p->read_timeout_ms = 600000;
	p->first_byte_timeout_ms = 0;
	p->tls_verify = true;
	p->check_models = true;
	p->stream_usage = true;
	if (p->api == SG_API_TOOL_RUNTIME && strcmp(p->provider_type, SG_MCP_PROVIDER_TYPE) == 0)
		return setup_mcp(&st, cfg);
	if (p->api != SG_API_INFERENCE || (k = find_kind(p->provider_type)) == NULL)
		return true;
	p->openai_compat = true;
	if (!setup_url(&st, k, cfg) || !setup_key(&st, k, cfg) || !setup_tls(&st, cfg))
		return false;
	setup_seconds(&st, cfg, "connect_timeout", 3600, &p->connect_timeout_ms);
	setup_seconds(&st, cfg, "timeout", 86400, &p->read_timeout_ms);
	p->first_byte_timeout_ms = 30000;
	setup_seconds(&st, cfg, "first_byte_timeout", 86400, &p->first_byte_timeout_ms);
	v = opt(cfg, "check_model_on_register");
	if (v != NULL && !conf_value_bool(v, &p->check_models))
		problem(&st, "check_model_on_register", "must be a boolean");
	v = opt(cfg, "stream_usage");
	if (v != NULL && !conf_value_bool(v, &p->stream_usage))
		problem(&st, "stream_usage", "must be a boolean");
	return true;
}

/* ---- The "providers" section of the config ---- */

struct setup_ctx {
	struct confpos_loader *L;
	const char *path;
};

static void
on_provider_problem(void *arg, const char *key, const char *msg)
{
	struct setup_ctx *cx = arg;
	char *path = key ? sg_asprintf("%s.config.%s", cx->path, key) : sg_asprintf("%s.config", cx->path);

	if (path == NULL)
		cx->L->nomem = true;
	else
		confpos_report(cx->L, path, false, "%s", msg);
	free(path);
}

static bool
valid_name(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0)
		return false;
	s += n;
	return s[0] != '\0' && strlen(s) <= 128 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s);
}

/* Validates one {provider_id, provider_type, config} at path and appends it. */
static void
parse_provider(struct confpos_loader *L, enum sg_api api, json_t *e, char *path)
{
	static const char *const names[] = {"provider_id", "provider_type", "config"};
	struct sg_conf *c = L->c;
	char sub[512];
	const char *key, *id, *type;
	json_t *v, *cfg;
	struct sg_provider *p;
	bool bad = false;

	if (!json_is_object(e)) {
		confpos_report(L, path, false, "must be an object, got %s", SG_CONF_GOT(e));
		goto out;
	}
	json_object_foreach(e, key, v) {
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (strcmp(key, names[0]) != 0 && strcmp(key, names[1]) != 0 && strcmp(key, names[2]) != 0) {
			confpos_report_unknown(L, sub, key, names, SG_ARRAY_LEN(names), "key");
			bad = true;
		}
	}
	id = json_string_value(json_object_get(e, "provider_id"));
	type = json_string_value(json_object_get(e, "provider_type"));
	cfg = json_object_get(e, "config");
	snprintf(sub, sizeof(sub), "%s.provider_id", path);
	if (json_object_get(e, "provider_id") == NULL)
		confpos_report(L, sub, false, "required key is missing");
	else if (id == NULL || !valid_name(id, ""))
		confpos_report(L, sub, false, "must be a string of letters, digits, '_', '.' or '-', got %s",
			       SG_CONF_GOT(json_object_get(e, "provider_id")));
	bad = bad || id == NULL || !valid_name(id, "");
	for (size_t i = 0; !bad && i < c->nproviders; i++) {
		unsigned line, col;

		if (c->providers[i].api != api || strcmp(c->providers[i].provider_id, id) != 0)
			continue;
		confpos_where(L, L->ppath[i], false, &line, &col);
		confpos_report(L, sub, false, "duplicate provider_id \"%s\" for %s (first defined at line %u)", id,
			       conf_api_name(api), line);
		bad = true;
	}
	snprintf(sub, sizeof(sub), "%s.provider_type", path);
	if (json_object_get(e, "provider_type") == NULL) {
		confpos_report(L, sub, false, "required key is missing");
		bad = true;
	} else if (type == NULL || (!valid_name(type, "inline::") && !valid_name(type, "remote::"))) {
		confpos_report(L, sub, false, "must look like \"inline::NAME\" or \"remote::NAME\", got %s",
			       SG_CONF_GOT(json_object_get(e, "provider_type")));
		bad = true;
	}
	snprintf(sub, sizeof(sub), "%s.config", path);
	if (cfg != NULL && !json_is_null(cfg) && !json_is_object(cfg)) {
		confpos_report(L, sub, false, "must be an object, got %s", SG_CONF_GOT(cfg));
		bad = true;
	}
	if (bad || L->nomem)
		goto out;
	p = &c->providers[c->nproviders];
	*p = (struct sg_provider){.api = api};
	p->config = json_is_object(cfg) ? json_incref(cfg) : json_object();
	p->provider_id = sg_strdup(id);
	p->provider_type = sg_strdup(type);
	L->ppath[c->nproviders++] = path;
	path = NULL;
	if (p->config == NULL || p->provider_id == NULL || p->provider_type == NULL ||
	    !provider_setup(p, on_provider_problem, &(struct setup_ctx){L, L->ppath[c->nproviders - 1]}))
		L->nomem = true;
out:
	free(path);
}

void
provider_parse_config(struct confpos_loader *L, json_t *obj)
{
	const char *name, *api_names[SG_API_COUNT];
	json_t *list, *e;
	size_t total = 0, i;

	if (!json_is_object(obj)) {
		confpos_report(L, "providers", false, "must be an object keyed by API name, got %s", SG_CONF_GOT(obj));
		return;
	}
	for (int a = 0; a < SG_API_COUNT; a++)
		api_names[a] = conf_api_name((enum sg_api) a);
	json_object_foreach(obj, name, list)
		total += json_array_size(list);
	L->c->providers = sg_calloc(total + 1, sizeof(*L->c->providers));
	L->ppath = sg_calloc(total + 1, sizeof(*L->ppath));
	if (L->c->providers == NULL || L->ppath == NULL) {
		L->nomem = true;
		return;
	}
	L->nppath = total + 1;
	json_object_foreach(obj, name, list) {
		char path[256];
		enum sg_api api;

		snprintf(path, sizeof(path), "providers.%s", name);
		if (!conf_api_from_name(name, &api)) {
			confpos_report_unknown(L, path, name, api_names, SG_API_COUNT, "API");
			continue;
		}
		if (!json_is_array(list)) {
			confpos_report(L, path, false, "must be an array of providers, got %s", SG_CONF_GOT(list));
			continue;
		}
		json_array_foreach(list, i, e) {
			char *ep;

			/* A provider appended half-made (provider_id NULL) must not be compared with. */
			if (L->nomem)
				return;
			if ((ep = sg_asprintf("%s[%zu]", path, i)) == NULL) {
				L->nomem = true;
				return;
			}
			parse_provider(L, api, e, ep);
		}
	}
}

sg_status
provider_check_model_served(const struct sg_provider *p, const char *provider_model_id, bool (*client_alive)(void *ctx),
			    void *alive_ctx, struct sg_err *err)
{
	struct sg_strv ids = {0};
	struct sg_buf list = {0};
	char *msg = NULL;
	sg_status st;

	if (p == NULL || !p->openai_compat || !p->check_models || p->base_url == NULL || provider_model_id == NULL)
		return SG_OK;
	st = proxy_list_models(p, client_alive, alive_ctx, &ids, err);
	if (st != SG_OK || sg_strv_contains(&ids, provider_model_id))
		goto out;
	for (size_t i = 0; i < ids.n; i++)
		if ((i > 0 && !sg_buf_append(&list, ", ", 2)) || !sg_buf_append(&list, ids.v[i], strlen(ids.v[i])))
			goto nomem;
	if (ids.n == 0)
		msg = sg_asprintf("model '%s' is not served by provider '%s'; it serves no models", provider_model_id,
				  p->provider_id);
	else
		msg = sg_asprintf("model '%s' is not served by provider '%s'; it serves: %s", provider_model_id,
				  p->provider_id, list.p);
	if (msg == NULL)
		goto nomem;
	if (strlen(msg) < sizeof(err->msg))
		st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "%s", msg);
	else /* a cut list says so */
		st = sg_fail(err, SG_E_BAD_REQUEST, NULL, "%.*s...", (int) sg_utf8_prefix(msg, sizeof(err->msg) - 4),
			     msg);
	goto out;
nomem:
	st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
out:
	free(msg);
	sg_buf_free(&list);
	sg_strv_free(&ids);
	return st;
}
