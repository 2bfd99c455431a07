/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider.h: what stackgate knows about each kind of provider: which
 * inference provider types are real OpenAI-compatible upstreams it proxies
 * to, their base URL, API key, timeouts and TLS settings (derived once, at
 * config load, into struct sg_provider), and the public view of a provider
 * for /v1/providers with its secrets masked, and the scrubbing of configured
 * secrets out of upstream text.  No I/O but getenv at load.
 *
 * OpenAI-compatible kinds.  The seed commit (reference/seed-routing_tables.txt,
 * llama-stack-api.md §2.3) forwards /v1/openai/v1/{completions,chat/completions}
 * unchanged to an upstream OpenAI API for these types, and so do we:
 *
 *   type                            base URL (no trailing '/')                     API key
 *   remote::vllm                    config.url (required)                          api_token
 *   remote::ollama                  config.url (default http://localhost:11434)+/v1  (none)
 *   remote::openai                  config.url, default https://api.openai.com/v1  OPENAI_API_KEY
 *   remote::together                config.url, default https://api.together.xyz/v1  TOGETHER_API_KEY
 *   remote::fireworks               config.url, default https://api.fireworks.ai/inference/v1  FIREWORKS_API_KEY
 *   remote::groq                    config.url (default https://api.groq.com)+/openai/v1  GROQ_API_KEY
 *   remote::nvidia                  config.url (default https://integrate.api.nvidia.com)+/v1
 *                                   (no suffix when config.append_api_version is false)  NVIDIA_API_KEY
 *   remote::passthrough             config.url (required)                          api_key
 *   remote::cerebras-openai-compat  config.openai_compat_api_base (or url), default https://api.cerebras.ai/v1  CEREBRAS_API_KEY
 *   remote::fireworks-openai-compat …, default https://api.fireworks.ai/inference/v1  FIREWORKS_API_KEY
 *   remote::groq-openai-compat      …, default https://api.groq.com/openai/v1     GROQ_API_KEY
 *   remote::sambanova-openai-compat …, default https://api.sambanova.ai/v1         SAMBANOVA_API_KEY
 *   remote::together-openai-compat  …, default https://api.together.xyz/v1         TOGETHER_API_KEY
 *
 * A suffix (/v1, /openai/v1) is not appended twice when the URL already ends
 * with it.  The key is config.api_token, else config.api_key, else the env
 * variable listed (read at load); an empty string means none.
 *
 * Not OpenAI-compatible (openai_compat false; their models can be registered,
 * the OpenAI routes refuse them): everything else, notably the kinds the seed
 * serves through its "unsupported" mixin (remote::cerebras, remote::databricks,
 * remote::runpod, remote::sambanova, remote::tgi, remote::bedrock, inline::*),
 * and remote::anthropic / remote::gemini, which the seed reaches through
 * litellm's translation, not an OpenAI-compatible upstream: stackgate does not
 * translate.
 *
 * Common settings of the OpenAI-compatible kinds: config.connect_timeout
 * (seconds, default 5), config.timeout (seconds, default 600),
 * config.tls_verify (boolean, default true; a string other than a boolean is
 * a CA bundle path, as Llama Stack's vLLM adapter allows),
 * config.check_model_on_register (default true), config.stream_usage
 * (default true: streams ask for the upstream's usage chunk, openai.h).
 *
 * Files.  provider.c holds the kinds, provider_setup and the config's
 * "providers" section; provider_secrets.c holds the masking and the
 * scrubbing (provider_config_masked, provider_scrub, provider_info_json).
 */
#ifndef SG_PROVIDER_H
#define SG_PROVIDER_H

#include <jansson.h>

#include "conf.h"
#include "sg.h"

/* True when provider_type is one of the OpenAI-compatible kinds above. */
bool provider_is_openai_compat(const char *provider_type);

/*
 * Called by provider_setup for each problem in a provider's config: key is
 * the config key at fault ("url"), or NULL for the config as a whole; msg
 * says what is wrong, without the key.  Messages never contain secrets.
 */
typedef void (*provider_problem_fn)(void *arg, const char *key, const char *msg);

/*
 * Fills p's derived settings (openai_compat, base_url, api_key, timeouts,
 * tls_verify, ca_file, check_models) from p->api, p->provider_type and
 * p->config, which the caller has set.  Every problem found is passed to
 * problem(arg, …); the settings are then unusable and the config invalid.
 * Returns false only when memory ran out.  Strings it sets are owned by p
 * and freed by conf_free.
 */
bool provider_setup(struct sg_provider *p, provider_problem_fn problem, void *arg) SG_MUST_CHECK;

struct confpos_loader; /* the config loader's state (confpos.h, internal to the config module) */

/*
 * For conf_load() only: validates the config's "providers" value (obj, an
 * object keyed by API name, each an array of {provider_id, provider_type,
 * config}) and fills L->c->providers in file order, each set up by
 * provider_setup().  Unknown APIs and keys, a missing or malformed id or
 * type, and a provider_id used twice within one API are reported through
 * L at their positions; such a provider is left out.  Allocation failure
 * sets L->nomem.  The provider table belongs to L->c (conf_free).
 */
void provider_parse_config(struct confpos_loader *L, json_t *obj);

/*
 * A deep copy of a provider config with every secret replaced by
 * "********", through nested objects and arrays:
 *   - the value of any key that names a credential (whatever its type): the
 *     lower-cased name contains "token", "key", "secret", "password",
 *     "passwd", "credential" or "auth" anywhere (api_key, API_TOKEN,
 *     Client_Secret, sessionKey, auth_header, credentials_file, …);
 *   - every value of an object under a key named "headers" (an MCP
 *     provider's: what it sends is a credential whatever the header's
 *     name, such as Cookie); the names are shown;
 *   - the userinfo of a URL in any other string ("scheme://userinfo@host…"):
 *     the password after the first ':' ("http://user:********@host/v1"), or
 *     the whole userinfo when it has no ':' (it becomes "********"); the rest
 *     of the URL is kept.
 * New reference; NULL on allocation failure.  Stricter than Llama Stack,
 * which recurses into an object or a list under such a key instead of
 * masking it, and masks fewer names.
 */
json_t *provider_config_masked(const json_t *config);

/* Configured secrets shorter than this are not scrubbed (they would hit common words). */
#define PROVIDER_SCRUB_MIN 8

/*
 * Replaces, in the NUL-terminated text, every occurrence of a configured
 * secret of at least PROVIDER_SCRUB_MIN bytes by "********": each
 * provider's API key (also one read from the environment), every string
 * that provider_config_masked masks (under a credential key, and the values
 * of an MCP provider's headers), the password
 * (or token) of every URL's userinfo, and the base64 Basic credentials an
 * HTTP client makes of that userinfo.  Longer secrets first, so
 * one that contains another is still found whole.  The text never grows.
 * For what an upstream sends back (an error message relayed to a client or
 * logged): an upstream may echo the key it was sent.  c may be NULL (no-op).
 * Thread-safe on a loaded config; allocates a small list (scrubs without it
 * when memory runs out).
 */
void provider_scrub(const struct sg_conf *c, char *text);

/* provider_scrub with p's secrets alone (what an MCP server of p was sent: its headers).  p may be NULL. */
void provider_scrub_own(const struct sg_provider *p, char *text);

/*
 * The ProviderInfo of /v1/providers: {"api","provider_id","provider_type",
 * "config"} with the config masked as above.  New reference; NULL on
 * allocation failure.
 */
json_t *provider_info_json(const struct sg_provider *p);

/*
 * For model registration (resources): when p is an OpenAI-compatible
 * provider with check_models on, asks the upstream which models it serves
 * (GET {base_url}/models, proxy_list_models) and returns SG_E_BAD_REQUEST,
 * with "model 'x' is not served by provider 'p'; it serves: a, b" in err
 * (a list too long for the message ends in "..."), when provider_model_id
 * is not one of them.  An upstream that cannot be reached → SG_E_BAD_GATEWAY
 * (SG_E_GATEWAY_TIMEOUT when it connects but does not answer).  SG_OK when
 * served, or when the check does not apply.  client_alive(alive_ctx) (may
 * be NULL: start-up) says whether the registering client is still there:
 * when it leaves, the upstream call stops at once (SG_E_BAD_GATEWAY).
 */
sg_status provider_check_model_served(const struct sg_provider *p, const char *provider_model_id,
				      bool (*client_alive)(void *ctx), void *alive_ctx,
				      struct sg_err *err) SG_MUST_CHECK;

#endif
