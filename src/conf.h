/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.h: the JSON configuration file (shaped like Llama Stack's run.yaml),
 * after ${env.VAR:default} substitution and validation.  Loaded once by the
 * supervisor (and again on SIGHUP); workers inherit it across fork and never
 * change it.  (Named conf, not config, because autoconf owns config.h.)
 */
#ifndef SG_CONF_H
#define SG_CONF_H

#include <jansson.h>
#include <sys/types.h>

#include "sg.h"

/* The APIs whose providers the config declares, in Llama Stack's names. */
enum sg_api {
	SG_API_INFERENCE,
	SG_API_SAFETY,
	SG_API_VECTOR_IO,
	SG_API_DATASETIO,
	SG_API_SCORING,
	SG_API_EVAL,
	SG_API_TOOL_RUNTIME,
	SG_API_COUNT
};

struct sg_policy;

struct sg_provider {
	enum sg_api api;
	char *provider_id;
	char *provider_type; /* e.g. "remote::vllm" */
	json_t *config;      /* the provider's "config" object, substituted (owned) */

	/* Inference providers of an OpenAI-compatible kind (see provider.h). */
	bool openai_compat;
	char *base_url;          /* e.g. "http://127.0.0.1:8000/v1", no trailing '/' */
	char *api_key;           /* sent as "Authorization: Bearer"; NULL for none; never logged */
	long connect_timeout_ms; /* config.connect_timeout (s), default 5 */
	long read_timeout_ms;    /* config.timeout (s), default 600: longest wait for upstream bytes */
	bool tls_verify;         /* config.tls_verify, default true */
	char *ca_file;           /* config.tls_verify given as a CA bundle path; NULL: system CAs */
	bool check_models;       /* config.check_model_on_register, default true */
	bool stream_usage;       /* config.stream_usage, default true: a stream asks the upstream for its usage
				    chunk (stream_options.include_usage); false for an upstream that refuses the field */
	/* config.first_byte_timeout (s), default 30: the longest wait for an answer to begin (router.h retries
	   then); 0 for other providers: none */
	long first_byte_timeout_ms;

	/*
	 * Tool-runtime providers of type remote::model-context-protocol (mcp.h).
	 * connect_timeout_ms (config.connect_timeout, default 5 s), read_timeout_ms
	 * (config.read_timeout, default 10 s of silence), tls_verify and ca_file
	 * apply to their MCP servers too.
	 */
	const json_t *allowed_hosts; /* config.allowed_hosts (borrowed from config): "host[:port]" entries that
					non-admin callers may register; NULL: none */
	const json_t *headers;       /* config.headers (borrowed): {"Name": "value"} sent to its MCP servers */
	long total_timeout_ms;       /* config.total_timeout (s), default 30: one MCP conversation in all */
	size_t max_response_bytes;   /* config.max_response_bytes, default 4 MiB: one MCP answer */
};

struct sg_conf {
	char *path; /* the file it came from */

	/* "server" */
	char *listen;              /* server.socket: an absolute unix socket path or a loopback
				    "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT";
				    default "/run/stackgate/stackgate.sock" */
	mode_t socket_mode;        /* server.socket_mode, octal string "0660"; default 0660 */
	char *socket_group;        /* server.socket_group; NULL keeps the process group */
	int workers;               /* server.workers, default 2, 1..64 */
	int threads;               /* server.threads per worker, default 64, 1..1024 */
	size_t thread_stack_kb;    /* server.thread_stack_kb, default 256, ≥ 64 */
	long max_requests;         /* server.max_requests per worker before recycling; 0 = never */
	size_t max_body_bytes;     /* server.max_body_bytes, default 1 MiB */
	int max_json_depth;        /* server.max_json_depth, default 64 */
	int shutdown_timeout_s;    /* server.shutdown_timeout, default 30 */
	char *log_level;           /* server.log_level, default "info" */
	char *log_format;          /* server.log_format: "text" (default) or "json" (log.h) */
	char *pid_file;            /* server.pid_file, optional */
	bool client_version_check; /* server.client_version_check, default true (inspect.h) */
	bool sched_batch;     /* server.sched_batch, default true: the workers' threads run SCHED_BATCH (worker.c) */
	int reserved_threads; /* server.reserved_threads per worker kept from inference, default 4 (sg_limits.h) */
	char *sse_done;       /* server.sse_done: "auto" (default), "always", "never" (compat.h) */
	struct sg_strv cors_origins; /* server.cors_origins: origins browsers may call from (cors.h); default none */

	/* "metrics" (metrics.h; both take effect on restart: the shared mapping is sized at start) */
	bool metrics_enabled;   /* metrics.enabled, default true */
	int metrics_max_models; /* metrics.max_models, default 256, 1..65536: model labels before "other" */

	/* "database" */
	char *conninfo;         /* database.conninfo; "" means libpq's PG* environment */
	char *listen_conninfo;  /* database.listen_conninfo: the LISTEN session (db.h); NULL: conninfo */
	int db_pool_size;       /* database.pool_size per worker, default 4 */
	int db_query_timeout_s; /* database.query_timeout: a statement's answer at most this late (db.h), default 10 */
	bool auto_migrate;      /* database.auto_migrate, default false */

	/* "auth" */
	bool auth_required;         /* auth.required, default false */
	struct sg_strv admin_roles; /* auth.admin_roles, default ["admin"] */
	int key_cache_ttl_s;        /* auth.key_cache_ttl, default 5 */

	/* "access_policy" (policy.h): the configured rules, else policy_default(admin_roles); never NULL once loaded */
	struct sg_policy *policy;
	/* "limits" (sg_limits.h) */
	bool limits_enabled;               /* limits.enabled, default true */
	int limits_default_max_concurrent; /* limits.default_max_concurrent per principal; 0: workers × threads / 2 */
	int limits_max_subjects;           /* limits.max_subjects, default 4096 (shm: takes effect on restart) */
	/* "usage" (usage.h) */
	bool usage_enabled;       /* usage.enabled, default true: one usage_log row per inference request */
	int usage_retention_days; /* usage.retention_days, default 90: older day partitions are dropped */
	size_t usage_queue_size; /* usage.queue_size rows per worker, default 10000: the bound while PostgreSQL is down */
	int usage_flush_ms;      /* usage.flush_interval_ms, default 1000: the longest a row waits to be written */
	/* "router" (router.h) */
	int router_max_retries;       /* router.max_retries, default 2: attempts after the first, per model */
	int router_cooldown_failures; /* router.cooldown_failures, default 3 within the window: a cooldown */
	int router_cooldown_window_s; /* router.cooldown_window (s), default 30 */
	int router_cooldown_s;        /* router.cooldown (s), default 60: how long a deployment is skipped */

	/* "providers": in file order, grouped by nothing. */
	struct sg_provider *providers;
	size_t nproviders;

	/* Resources registered at start (borrowed from root; arrays or NULL). */
	json_t *models, *shields, *vector_dbs, *datasets, *scoring_fns, *benchmarks, *tool_groups;

	json_t *root; /* the whole substituted document (owned) */
};

/* "inference", "safety", … ; NULL for an out-of-range value. */
const char *conf_api_name(enum sg_api api);
/* The api for a name; false when unknown. */
bool conf_api_from_name(const char *name, enum sg_api *out);

/*
 * Loads and validates the file at path.  On failure returns NULL and writes
 * every problem found, one per line, "FILE:LINE:COL: message", into *errors
 * (newly allocated; the caller frees it).
 *
 * Every string value (not keys) first has ${env.NAME} replaced by the
 * variable, ${env.NAME:default} (also spelled ${env.NAME:=default}) by the
 * variable or default, ${env.NAME:+value} by value when the variable is set,
 * else nothing.  As in Llama Stack an empty variable counts as unset, a
 * leading "~" in the replacement becomes $HOME, and the result is not
 * rescanned.  Unknown keys are errors (except the top-level "version" and
 * "image_name" of run.yaml), so a typo never passes silently.
 */
struct sg_conf *conf_load(const char *path, char **errors);

/* Same, from a string (for tests); name is used in messages. */
struct sg_conf *conf_load_string(const char *text, const char *name, char **errors);

void conf_free(struct sg_conf *c);

/* Where the LISTEN session goes: database.listen_conninfo when set, else database.conninfo (borrowed). */
const char *conf_listen_conninfo(const struct sg_conf *c);

/*
 * Typed reads of a config value after ${env.…} substitution, shared with
 * provider.c.  Each accepts the JSON type or a string that holds one, since
 * "${env.WORKERS:4}" can only be written as a string.  False when v is
 * neither (or out of the type's range).
 *   int:    a JSON integer or a string of an optional sign and decimal digits
 *   bool:   true/false or "true", "false", "yes", "no", "on", "off", "1", "0"
 *           (any case)
 *   number: a JSON integer or real, or a string strtod reads whole (finite)
 */
bool conf_value_int(const json_t *v, long long *out);
bool conf_value_bool(const json_t *v, bool *out);
bool conf_value_number(const json_t *v, double *out);

/* Providers of one API, in config order. */
const struct sg_provider *conf_provider(const struct sg_conf *c, enum sg_api api, const char *provider_id);
size_t conf_provider_count(const struct sg_conf *c, enum sg_api api);
/* The i-th provider of api (0-based), or NULL. */
const struct sg_provider *conf_provider_nth(const struct sg_conf *c, enum sg_api api, size_t i);

#endif
