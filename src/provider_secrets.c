/* SPDX-License-Identifier: Apache-2.0 */
/*
 * provider_secrets.c: the secrets of a provider's configuration, kept out of
 * what leaves stackgate (provider.h states the rules): the masked public view
 * of a provider (provider_config_masked, provider_info_json) and the
 * scrubbing of configured secrets out of upstream text (provider_scrub).
 * Reads a loaded config only; thread-safe.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"

/* The words that make a config key a credential, matched anywhere in the name, in any case. */
static const char *const secret_words[] = {"token", "key", "secret", "password", "passwd", "credential", "auth"};

static bool
is_secret_key(const char *key)
{
	for (size_t i = 0; i < SG_ARRAY_LEN(secret_words); i++)
		if (strcasestr(key, secret_words[i]) != NULL)
			return true;
	return false;
}

/* "headers" (an MCP provider's): header values sent to a server are credentials whatever their names. */
static bool
is_headers_key(const char *key)
{
	return strcasecmp(key, "headers") == 0;
}

/*
 * Where the userinfo of a URL in s lies ("scheme://userinfo@host…"): true
 * with [*u, *u + *ulen) the userinfo and *colon the offset of its ':'
 * (ulen when it has none); false when s is not such a URL.
 */
static bool
url_userinfo(const char *s, size_t *u, size_t *ulen, size_t *colon)
{
	const char *sep = strstr(s, "://"), *auth, *end, *at = NULL;

	if (sep == NULL || sep == s ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") != (size_t) (sep - s))
		return false;
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p; /* the last '@': a password may hold one */
	if (at == NULL)
		return false;
	*u = (size_t) (auth - s);
	*ulen = (size_t) (at - auth);
	*colon = *ulen;
	for (size_t i = 0; i < *ulen; i++)
		if (auth[i] == ':') {
			*colon = i;
			break;
		}
	return true;
}

/* A copy of a string value, with the userinfo of a URL masked (user:******** or ********). */
static json_t *
masked_string(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t u, ulen, colon;
	char *m;
	json_t *j;

	if (!url_userinfo(s, &u, &ulen, &colon))
		return json_deep_copy(v); /* all of it, even past a NUL byte */
	if (colon < ulen)
		m = sg_asprintf("%.*s********%s", (int) (u + colon + 1), s, s + u + ulen);
	else
		m = sg_asprintf("%.*s********%s", (int) u, s, s + u + ulen);
	j = m != NULL ? json_string(m) : NULL;
	free(m);
	return j;
}

/* A copy of an object whose every value is "********" (the names shown). */
static json_t *
masked_values(const json_t *obj)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *) obj, key, v) {
		if (out == NULL || json_object_set_new(out, key, json_string("********")) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *
provider_config_masked(const json_t *config)
{
	json_t *in = (json_t *) config, *out, *v;
	const char *key;
	size_t i;

	if (json_is_object(in)) {
		out = json_object();
		json_object_foreach(in, key, v) {
			json_t *m = is_secret_key(key)                         ? json_string("********")
				    : is_headers_key(key) && json_is_object(v) ? masked_values(v)
									       : provider_config_masked(v);

			if (out == NULL || json_object_set_new(out, key, m) != 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	if (json_is_array(in)) {
		out = json_array();
		json_array_foreach(in, i, v) {
			if (out == NULL || json_array_append_new(out, provider_config_masked(v)) != 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	if (json_is_string(in))
		return masked_string(in);
	return json_deep_copy(in);
}

/* ---- Scrubbing configured secrets out of text ---- */

struct secret {
	const char *p;
	size_t n;
};

struct secrets {
	struct secret *v;
	size_t n, cap;
	bool nomem;
	char *text;  /* what is scrubbed */
	bool direct; /* scrub each secret from text at once instead of listing it */
};

static void scrub_one(char *text, const char *sec, size_t n);

static void
secret_add(struct secrets *ss, const char *p, size_t n)
{
	if (p == NULL || n < PROVIDER_SCRUB_MIN)
		return;
	if (ss->direct) {
		scrub_one(ss->text, p, n);
		return;
	}
	if (ss->n == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 16;
		struct secret *v = sg_realloc(ss->v, cap * sizeof(*v));

		if (v == NULL) {
			ss->nomem = true;
			return;
		}
		ss->v = v;
		ss->cap = cap;
	}
	ss->v[ss->n++] = (struct secret){p, n};
}

/*
 * The Authorization: Basic value an HTTP client derives from a URL's userinfo
 * (percent-decoded, "user:password", or "token:" when it has no ':'), base64,
 * scrubbed from ss->text at once: it is the credential, trivially decoded.
 */
static void
scrub_basic(struct secrets *ss, const char *ui, size_t n, bool has_colon)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[258];
	char b64[348];
	size_t r = 0, o = 0;

	if (n > 256)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (ui[i] == '%' && i + 2 < n && isxdigit((unsigned char) ui[i + 1]) &&
		    isxdigit((unsigned char) ui[i + 2]) && sscanf(ui + i + 1, "%2x", &v) == 1) {
			raw[r++] = (unsigned char) v;
			i += 2;
		} else {
			raw[r++] = (unsigned char) ui[i];
		}
	}
	if (!has_colon)
		raw[r++] = ':';
	for (size_t i = 0; i < r; i += 3) {
		uint32_t v = (uint32_t) raw[i] << 16 | (uint32_t) (i + 1 < r ? raw[i + 1] : 0) << 8 |
			     (uint32_t) (i + 2 < r ? raw[i + 2] : 0);

		b64[o++] = tab[(v >> 18) & 63];
		b64[o++] = tab[(v >> 12) & 63];
		b64[o++] = i + 1 < r ? tab[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < r ? tab[v & 63] : '=';
	}
	if (o >= PROVIDER_SCRUB_MIN)
		scrub_one(ss->text, b64, o);
}

/* The secrets of a config value: every string under a credential key, every URL's userinfo. */
static void
secrets_of(struct secrets *ss, const json_t *v, bool under_secret)
{
	const char *key;
	json_t *e;
	size_t i, u, ulen, colon;

	if (json_is_object(v)) {
		json_object_foreach((json_t *) v, key, e)
			secrets_of(ss, e, under_secret || is_secret_key(key) || is_headers_key(key));
	} else if (json_is_array(v)) {
		json_array_foreach((json_t *) v, i, e)
			secrets_of(ss, e, under_secret);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (under_secret)
			secret_add(ss, s, json_string_length(v));
		else if (url_userinfo(s, &u, &ulen, &colon)) {
			secret_add(ss, colon < ulen ? s + u + colon + 1 : s + u,
				   colon < ulen ? ulen - colon - 1 : ulen);
			scrub_basic(ss, s + u, ulen, colon < ulen);
		}
	}
}

/* Replaces every occurrence of sec in text (NUL-terminated) by "********"; never longer. */
static void
scrub_one(char *text, const char *sec, size_t n)
{
	size_t len = strlen(text);
	char *p = text;

	while ((p = memmem(p, len - (size_t) (p - text), sec, n)) != NULL) {
		memcpy(p, "********", 8);
		memmove(p + 8, p + n, len - (size_t) (p - text) - n + 1);
		len -= n - 8;
		p += 8;
	}
}

static int
longest_first(const void *a, const void *b)
{
	const struct secret *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

/* The secrets of one provider: its API key and what its config holds (secrets_of). */
static void
collect_one(const struct sg_provider *p, struct secrets *ss)
{
	if (p->api_key != NULL)
		secret_add(ss, p->api_key, strlen(p->api_key));
	secrets_of(ss, p->config, false);
}

/* Every secret of c's providers, or of p alone when c is NULL. */
static void
collect(const struct sg_conf *c, const struct sg_provider *p, struct secrets *ss)
{
	if (c == NULL) {
		collect_one(p, ss);
		return;
	}
	for (size_t i = 0; i < c->nproviders; i++)
		collect_one(&c->providers[i], ss);
}

static void
scrub(const struct sg_conf *c, const struct sg_provider *p, char *text)
{
	struct secrets ss = {.text = text};

	if ((c == NULL && p == NULL) || text == NULL || text[0] == '\0')
		return;
	collect(c, p, &ss);
	/* A secret that holds another one goes first, or the shorter would break its match. */
	if (ss.n > 1)
		qsort(ss.v, ss.n, sizeof(*ss.v), longest_first);
	for (size_t i = 0; i < ss.n; i++)
		scrub_one(text, ss.v[i].p, ss.v[i].n);
	free(ss.v);
	if (ss.nomem) {
		/* No room for the whole list: scrub each secret as it is found. */
		ss = (struct secrets){.text = text, .direct = true};
		collect(c, p, &ss);
	}
}

void
provider_scrub(const struct sg_conf *c, char *text)
{
	scrub(c, NULL, text);
}

void
provider_scrub_own(const struct sg_provider *p, char *text)
{
	scrub(NULL, p, text);
}

json_t *
provider_info_json(const struct sg_provider *p)
{
	json_t *cfg = p->config != NULL ? provider_config_masked(p->config) : json_object();

	if (cfg == NULL)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:o}", "api", conf_api_name(p->api), "provider_id", p->provider_id,
			 "provider_type", p->provider_type, "config", cfg);
}
