/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_conf.c: libFuzzer target for the configuration loader (conf.c,
 * confpos.c, provider.c).  The input is a config file.  conf_load_string()
 * must never crash or leak; it fails exactly when it reports problems, each
 * as "fuzz.json:LINE:COL: …" with a line inside the file; a config it
 * accepts holds values inside their documented ranges and providers that
 * conf_provider() finds.  An input with a NUL byte goes through conf_load()
 * on a memfd instead (conf_load_string() stops at the first NUL).
 *
 * An accepted config's access policy prints (policy_to_json) as rules that
 * policy_parse() reads back as the same policy.
 *
 * Also provider_config_masked() on the input (when it is JSON) and on every
 * accepted provider's config: the same tree with exactly the secret-named
 * keys' values replaced by "********".
 *
 * ${env.…} substitution reads the environment: LLVMFuzzerInitialize sets the
 * variables the seed configs name, one empty and one starting with '~'.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "confpos.h"
#include "fuzz.h"
#include "policy.h"
#include "provider.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	setenv("SG_UPSTREAM_URL", "http://127.0.0.1:18400", 1);
	setenv("SG_RUN", "/tmp/stackgate-fuzz", 1);
	setenv("STACKGATE_DATABASE_URL", "host=/tmp dbname=stackgate", 1);
	setenv("SG_WORKERS", "3", 1);
	setenv("SG_EMPTY", "", 1);
	setenv("SG_TILDE", "~/models", 1);
	setenv("HOME", "/home/fuzz", 1);
	setenv("OPENAI_API_KEY", "sk-fuzz-openai-key", 1);
	unsetenv("SG_UNSET");
	return 0;
}

static bool
secret_name(const char *key)
{
	static const char *const words[] = {"token", "key", "secret", "password", "passwd", "credential", "auth"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(key, words[i]) != NULL)
			return true;
	return false;
}

/*
 * masked must be orig with every secret-named key's value, at any depth,
 * replaced by "********", every value of an object under "headers" too, and a
 * URL's userinfo in a string masked.
 */
static void
check_masked(const json_t *orig, const json_t *masked)
{
	const char *key;
	json_t *v;
	size_t i;

	FUZZ_CHECK(masked != NULL, "a masked value is missing");
	if (json_is_object(orig)) {
		FUZZ_CHECK(json_is_object(masked), "the masked copy of an object is not an object");
		FUZZ_CHECK(json_object_size(orig) == json_object_size(masked), "the masked object has other keys");
		json_object_foreach((json_t *) orig, key, v) {
			json_t *m = json_object_get(masked, key);

			FUZZ_CHECK(m != NULL, "key '%s' is missing from the masked copy", key);
			if (secret_name(key)) {
				FUZZ_CHECK(json_is_string(m) && strcmp(json_string_value(m), "********") == 0,
					   "secret key '%s' is not masked", key);
			} else if (strcasecmp(key, "headers") == 0 && json_is_object(v)) {
				/* Header values are credentials whatever their names: each one masked, the names kept. */
				const char *h;
				json_t *hv;

				FUZZ_CHECK(json_is_object(m) && json_object_size(m) == json_object_size(v),
					   "the masked headers differ in shape");
				json_object_foreach(v, h, hv) {
					json_t *mh = json_object_get(m, h);

					(void) hv;
					FUZZ_CHECK(json_is_string(mh) && strcmp(json_string_value(mh), "********") == 0,
						   "header '%s' is not masked", h);
				}
			} else {
				check_masked(v, m);
			}
		}
		return;
	}
	if (json_is_array(orig)) {
		FUZZ_CHECK(json_is_array(masked) && json_array_size(masked) == json_array_size(orig),
			   "the masked copy of an array differs in shape");
		json_array_foreach(orig, i, v)
			check_masked(v, json_array_get(masked, i));
		return;
	}
	if (json_is_string(orig) && !json_equal(orig, masked)) {
		/* Only a URL's userinfo may change: PREFIX "********" "@" REST, PREFIX and "@" REST taken from orig. */
		const char *o = json_string_value(orig), *m = json_string_value(masked);
		const char *star = m != NULL ? strstr(m, "********@") : NULL;
		size_t olen = strlen(o), pre = star != NULL ? (size_t) (star - m) : 0,
		       rest = star != NULL ? strlen(star + 8) : 0;

		FUZZ_CHECK(star != NULL && strstr(o, "://") != NULL && pre < olen && memcmp(m, o, pre) == 0 &&
				   rest <= olen - pre && strcmp(star + 8, o + olen - rest) == 0,
			   "a string other than a URL's userinfo changed in the masked copy");
		FUZZ_CHECK(strstr(m, "://") != NULL && strstr(m, "://") < star,
			   "the masked userinfo is not after \"://\"");
		return;
	}
	FUZZ_CHECK(json_equal(orig, masked), "a non-secret value changed in the masked copy");
}

static void
check_mask_of(const json_t *v)
{
	json_t *m = provider_config_masked(v);

	FUZZ_CHECK(m != NULL, "provider_config_masked returned NULL");
	check_masked(v, m);
	json_decref(m);
}

/*
 * Every line of errors is "NAME:LINE:COL: message" with 1 <= LINE <= lines,
 * except the two trailers confpos_render() documents, each at most once and
 * in this order after the positioned lines: "NAME: N more problems not
 * shown" (N >= 1, only after exactly CONFPOS_MAX_PROBLEMS positioned lines)
 * and "NAME: out of memory".
 */
static void
check_errors(const char *errors, const char *name, size_t lines)
{
	size_t nlen = strlen(name), positioned = 0;
	const char *p = errors;
	int trailer = 0; /* 1: the dropped count was seen; 2: out of memory was seen */

	FUZZ_CHECK(errors != NULL && errors[0] != '\0', "a rejected config has no error text");
	while (*p != '\0') {
		const char *nl = strchr(p, '\n'), *q;
		unsigned long line, col, dropped;
		char *end;

		FUZZ_CHECK(strncmp(p, name, nlen) == 0 && p[nlen] == ':', "an error line lacks the file name: %.200s",
			   p);
		q = p + nlen + 1;
		if (*q == ' ') {
			if (strncmp(q, " out of memory\n", 15) == 0) {
				FUZZ_CHECK(trailer < 2, "two out-of-memory lines: %.200s", p);
				trailer = 2;
			} else {
				dropped = strtoul(q + 1, &end, 10);
				FUZZ_CHECK(isdigit((unsigned char) q[1]) &&
						   strncmp(end, " more problems not shown\n", 25) == 0,
					   "an error line lacks a line number: %.200s", p);
				FUZZ_CHECK(trailer == 0 && dropped >= 1 && positioned == CONFPOS_MAX_PROBLEMS,
					   "'%lu more problems' after %zu problems, trailer %d", dropped, positioned,
					   trailer);
				trailer = 1;
			}
		} else {
			FUZZ_CHECK(trailer == 0, "a positioned line after a trailer: %.200s", p);
			FUZZ_CHECK(isdigit((unsigned char) *q), "an error line lacks a line number: %.200s", p);
			line = strtoul(q, &end, 10);
			FUZZ_CHECK(*end == ':' && isdigit((unsigned char) end[1]),
				   "an error line lacks a column: %.200s", p);
			col = strtoul(end + 1, &end, 10);
			FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0' && end[2] != '\n',
				   "an error line lacks a message: %.200s", p);
			FUZZ_CHECK(line >= 1 && line <= lines,
				   "error line number %lu outside the file's %zu lines: %.200s", line, lines, p);
			FUZZ_CHECK(col >= 1, "error column 0: %.200s", p);
			positioned++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	FUZZ_CHECK(positioned <= CONFPOS_MAX_PROBLEMS, "%zu problems shown, more than the cap", positioned);
}

/* The policy in force exists, and its JSON form reads back as the same policy. */
static void
check_policy(const struct sg_conf *c)
{
	json_t *j, *j2 = NULL;
	struct sg_policy *again = NULL;

	FUZZ_CHECK(c->policy != NULL, "an accepted config has no policy");
	FUZZ_CHECK(c->policy->is_default == (json_object_get(c->root, "access_policy") == NULL),
		   "the default policy is in force exactly when the config has no access_policy");
	j = policy_to_json(c->policy);
	FUZZ_CHECK(j != NULL, "policy_to_json failed");
	FUZZ_CHECK(policy_parse(j, "access_policy", NULL, NULL, &again) == SG_OK, "the printed policy does not parse");
	j2 = policy_to_json(again);
	FUZZ_CHECK(j2 != NULL && json_equal(j, j2), "the printed policy reads back as another policy");
	json_decref(j);
	json_decref(j2);
	policy_free(again);
}

static void
check_conf(const struct sg_conf *c)
{
	FUZZ_CHECK(c->listen != NULL && c->log_level != NULL && c->conninfo != NULL && c->root != NULL,
		   "an accepted config lacks a default");
	FUZZ_CHECK(c->workers >= 1 && c->workers <= 64, "workers %d", c->workers);
	FUZZ_CHECK(c->threads >= 1 && c->threads <= 1024, "threads %d", c->threads);
	FUZZ_CHECK(c->thread_stack_kb >= 64, "thread_stack_kb %zu", c->thread_stack_kb);
	FUZZ_CHECK(c->max_json_depth >= 1, "max_json_depth %d", c->max_json_depth);
	FUZZ_CHECK(c->max_body_bytes >= 1, "max_body_bytes %zu", c->max_body_bytes);
	FUZZ_CHECK(c->db_pool_size >= 1, "pool_size %d", c->db_pool_size);
	FUZZ_CHECK(c->nproviders == 0 || c->providers != NULL, "providers missing");
	for (size_t i = 0; i < c->nproviders; i++) {
		const struct sg_provider *p = &c->providers[i];
		json_t *info;

		FUZZ_CHECK((unsigned) p->api < SG_API_COUNT, "provider %zu has api %d", i, (int) p->api);
		FUZZ_CHECK(p->provider_id != NULL && p->provider_id[0] != '\0' && p->provider_type != NULL,
			   "provider %zu lacks an id or a type", i);
		FUZZ_CHECK(conf_provider(c, p->api, p->provider_id) == p,
			   "conf_provider does not find provider '%s' (a duplicate id?)", p->provider_id);
		FUZZ_CHECK(p->openai_compat == provider_is_openai_compat(p->provider_type) ||
				   p->api != SG_API_INFERENCE,
			   "openai_compat of '%s' disagrees with its type", p->provider_id);
		if (p->openai_compat && p->api == SG_API_INFERENCE) {
			size_t n;

			FUZZ_CHECK(p->base_url != NULL, "OpenAI-compatible provider '%s' has no base_url",
				   p->provider_id);
			n = strlen(p->base_url);
			FUZZ_CHECK(n > 0 && p->base_url[n - 1] != '/', "base_url '%s' ends with '/'", p->base_url);
			FUZZ_CHECK(strncmp(p->base_url, "http://", 7) == 0 || strncmp(p->base_url, "https://", 8) == 0,
				   "base_url '%s' is not http(s)", p->base_url);
			FUZZ_CHECK(p->connect_timeout_ms > 0 && p->read_timeout_ms > 0, "timeouts of '%s'",
				   p->provider_id);
		}
		if (p->config != NULL)
			check_mask_of(p->config);
		info = provider_info_json(p);
		FUZZ_CHECK(info != NULL, "provider_info_json failed");
		FUZZ_CHECK(json_is_string(json_object_get(info, "provider_id")) &&
				   strcmp(json_string_value(json_object_get(info, "provider_id")), p->provider_id) == 0,
			   "provider_info_json has another provider_id");
		json_decref(info);
	}
	for (int a = 0; a < SG_API_COUNT; a++) {
		size_t n = conf_provider_count(c, (enum sg_api) a);

		for (size_t k = 0; k < n; k++) {
			const struct sg_provider *p = conf_provider_nth(c, (enum sg_api) a, k);

			FUZZ_CHECK(p != NULL && p->api == (enum sg_api) a, "conf_provider_nth(%d, %zu)", a, k);
		}
		FUZZ_CHECK(conf_provider_nth(c, (enum sg_api) a, n) == NULL, "conf_provider_nth past the end");
	}
	check_policy(c);
}

/* A text with a NUL byte: the file path of conf_load(), through a memfd. */
static void
load_file(const uint8_t *data, size_t size, size_t lines)
{
	char path[64], *errors = NULL;
	struct sg_conf *c;
	int fd = memfd_create("fuzz-conf", 0);

	if (fd < 0)
		abort();
	if (write(fd, data, size) != (ssize_t) size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	c = conf_load(path, &errors);
	FUZZ_CHECK(c == NULL, "a file with a NUL byte was accepted");
	check_errors(errors, path, lines);
	free(errors);
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *errors = NULL;
	size_t lines = 1;
	struct sg_conf *c;
	json_t *doc;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (memchr(data, '\0', size) != NULL) {
		load_file(data, size, lines);
		free(text);
		return 0;
	}

	c = conf_load_string(text, "fuzz.json", &errors);
	if (c == NULL) {
		check_errors(errors, "fuzz.json", lines);
	} else {
		FUZZ_CHECK(errors == NULL, "an accepted config came with errors: %s", errors);
		check_conf(c);
		conf_free(c);
	}
	free(errors);

	doc = json_loadb(text, size, JSON_DECODE_ANY, NULL);
	if (doc != NULL) {
		long long ll;
		bool b;
		double d;

		check_mask_of(doc);
		(void) conf_value_int(doc, &ll);
		(void) conf_value_bool(doc, &b);
		if (conf_value_number(doc, &d))
			FUZZ_CHECK(isfinite(d), "conf_value_number accepted a value that is not finite");
		json_decref(doc);
	}
	free(text);
	return 0;
}
