/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_netaddr.c: libFuzzer target for the outbound URL policy (netaddr.c):
 * netaddr_parse_url, netaddr_normalize_host, netaddr_entry_ok and
 * netaddr_allowed.  netaddr_pin is left out: it resolves names.
 *
 * Input: the first line is a URL (and, as raw bytes, a host); every further
 * line is an allow-list entry.  The why-buffers' sizes are derived from the
 * input's size, so short ones are tried too.
 *
 * Checks:
 *  - why-messages: NUL-terminated inside whylen (each buffer is allocated at
 *    exactly whylen, so ASan sees a write past it), valid UTF-8, not empty
 *    after a failure;
 *  - a URL that parses starts with "http://" or "https://" (any case) and
 *    says which; its port is 1..65535; its host is one that
 *    netaddr_normalize_host accepts and that normalises to itself, with the
 *    same numeric/ipv6 flags (an IPv6 host also in brackets);
 *  - a small reference splitter of the URL (authority up to the first '/',
 *    '?' or '#'; percent-decoding of a name) agrees with curl's: a URL with
 *    '@' in its authority (userinfo) or '%' between brackets (a zone id)
 *    never parses; one that parses has the reference's host, normalised,
 *    and the reference's port (or the scheme's default);
 *  - an allow-list of exactly the URL's own host:port allows it, one of the
 *    host on another port does not, the bare host allows exactly the
 *    scheme's default port, and the URL's host as written in it (before
 *    normalisation) with its port allows it too; the URL written again
 *    from the checked scheme, host and port parses to the same;
 *  - netaddr_normalize_host on the first line's raw bytes (not
 *    NUL-terminated, NUL bytes inside): never reads outside them, and what
 *    it accepts is idempotent, is an inet_ntop() form when numeric and a
 *    name otherwise (which no libc reading takes for an address), is
 *    written whole into an out buffer of exactly its size and refused by
 *    one a byte smaller; in brackets it must be IPv6;
 *  - each entry line: netaddr_entry_ok's why as above; an entry it refuses
 *    allows nothing; one it accepts, written into "http://ENTRY/", is a URL
 *    that parses and that [ENTRY] allows (its port, or 80 when it names none);
 *  - the whole list allows a URL exactly when one of its entries does
 *    (non-string members in it are skipped).
 */
#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <strings.h>

#include "fuzz.h"
#include "netaddr.h"

#define MAX_ENTRIES 16

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	return 0;
}

/* A why-buffer of exactly len bytes, filled with non-NUL so a missing terminator shows. */
static char *
why_new(size_t len)
{
	char *why = malloc(len);

	if (why == NULL)
		abort();
	memset(why, 'Z', len);
	return why;
}

/* why (len bytes) holds a NUL-terminated message, valid UTF-8, not empty when must_say. */
static void
check_why(const char *why, size_t len, bool must_say, const char *what)
{
	const char *nul = memchr(why, '\0', len);
	json_t *s;

	FUZZ_CHECK(nul != NULL, "%s: the message is not NUL-terminated inside its %zu bytes", what, len);
	s = json_string(why);
	FUZZ_CHECK(s != NULL, "%s: the message is not valid UTF-8", what);
	json_decref(s);
	FUZZ_CHECK(!must_say || len < 2 || why[0] != '\0', "%s: a failure without a message", what);
}

/* An allow-list of one entry (any bytes but NUL). */
static json_t *
list_of(const char *entry)
{
	json_t *a = json_array(), *s = json_stringn_nocheck(entry, strlen(entry));

	FUZZ_CHECK(a != NULL && s != NULL && json_array_append_new(a, s) == 0, "out of memory");
	return a;
}

static bool
allowed_by(const struct netaddr_url *u, const char *entry)
{
	json_t *a = list_of(entry);
	bool ok = netaddr_allowed(u, a);

	json_decref(a);
	return ok;
}

/* "host" or "[host]" for IPv6, then ":port" unless port is 0. */
static void
entry_write(char *buf, size_t len, const char *host, bool v6, unsigned port)
{
	int n = snprintf(buf, len, v6 ? "[%s]" : "%s", host);

	FUZZ_CHECK(n > 0 && (size_t) n < len, "entry buffer too small");
	if (port != 0)
		snprintf(buf + n, len - (size_t) n, ":%u", port);
}

/*
 * s[0..len) percent-decoded, as a new string; NULL when it decodes to a NUL.
 * curl's own decoder: the split around it is what the reference checks.
 */
static char *
pct_decode(const char *s, size_t len)
{
	int n = 0;
	char *d = curl_easy_unescape(NULL, s, (int) len, &n), *copy;

	if (d == NULL)
		abort();
	copy = memchr(d, '\0', (size_t) n) == NULL ? fuzz_strndup(d, (size_t) n) : NULL;
	curl_free(d);
	return copy;
}

/*
 * The reference splitter: what the URL's authority says, split without
 * curl's URL parser.  Sets *must_fail for the forms the contract refuses whatever else
 * the URL holds; *known when the host and port were found (host is then the
 * text as written, in brackets for IPv6, and port 0 for "none").
 */
struct ref {
	bool must_fail;
	bool known;
	bool https;
	char *host; /* as written (a name percent-decoded), malloc'd */
	unsigned port;
};

static void
ref_split(const char *url, struct ref *r)
{
	const char *a, *end, *hend, *colon = NULL;
	size_t skip;

	memset(r, 0, sizeof(*r));
	if (strncasecmp(url, "https://", 8) == 0) {
		r->https = true;
		skip = 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		skip = 7;
	} else {
		r->must_fail = true; /* only the spelled-out schemes */
		return;
	}
	a = url + skip;
	end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t) (end - a)) != NULL) {
		r->must_fail = true; /* userinfo, however written */
		return;
	}
	if (*a == '[') {
		hend = memchr(a, ']', (size_t) (end - a));
		if (hend == NULL) {
			r->must_fail = true;
			return;
		}
		if (memchr(a, '%', (size_t) (hend - a)) != NULL) {
			r->must_fail = true; /* a zone id, encoded or not */
			return;
		}
		hend++;
		if (hend != end && *hend != ':')
			return; /* curl's business; no claim */
		colon = hend != end ? hend : NULL;
		r->host = fuzz_strndup(a, (size_t) (hend - a));
	} else {
		colon = memchr(a, ':', (size_t) (end - a));
		hend = colon != NULL ? colon : end;
		if (colon != NULL && memchr(colon + 1, ':', (size_t) (end - colon - 1)) != NULL)
			return;
		r->host = pct_decode(a, (size_t) (hend - a));
		if (r->host == NULL)
			return;
	}
	if (colon != NULL) {
		size_t plen = (size_t) (end - colon - 1);
		unsigned long v = 0;

		if (strspn(colon + 1, "0123456789") < plen) {
			free(r->host);
			r->host = NULL;
			return; /* not a number: no claim */
		}
		for (size_t i = 0; i < plen && v <= 65535; i++)
			v = v * 10 + (unsigned long) (colon[1 + i] - '0');
		if (plen > 0 && (v == 0 || v > 65535)) {
			r->must_fail = true;
			free(r->host);
			r->host = NULL;
			return;
		}
		r->port = (unsigned) v;
	}
	r->known = true;
}

/* A host the normaliser wrote: a dotted quad, an inet_ntop() IPv6 form, or a lower-case name. */
static void
check_normal_form(const char *h, bool numeric, bool v6)
{
	struct in_addr a4;
	struct in6_addr a6;
	char again[INET6_ADDRSTRLEN];

	FUZZ_CHECK(!v6 || numeric, "IPv6 but not numeric: %s", h);
	if (v6) {
		FUZZ_CHECK(inet_pton(AF_INET6, h, &a6) == 1 && inet_ntop(AF_INET6, &a6, again, sizeof(again)) != NULL &&
				   strcmp(again, h) == 0,
			   "not the canonical IPv6 form: %s", h);
	} else if (numeric) {
		FUZZ_CHECK(inet_pton(AF_INET, h, &a4) == 1 && inet_ntop(AF_INET, &a4, again, sizeof(again)) != NULL &&
				   strcmp(again, h) == 0,
			   "not a dotted quad: %s", h);
	} else {
		FUZZ_CHECK(h[0] != '\0' && strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(h) &&
				   strstr(h, "..") == NULL && h[0] != '.' && h[strlen(h) - 1] != '.',
			   "not a lower-case name: %s", h);
		/* A name is never an address by another reading (libc's, which getaddrinfo uses first). */
		FUZZ_CHECK(inet_aton(h, &a4) == 0 && inet_pton(AF_INET6, h, &a6) != 1, "the name %s is an address", h);
	}
}

/* normalize(h) is h, with the same flags, and so is normalize("[h]") for IPv6. */
static void
check_idempotent(const char *h, bool numeric, bool v6)
{
	char out[NETADDR_HOST_MAX], br[NETADDR_HOST_MAX + 2];
	bool n2, v2;

	FUZZ_CHECK(netaddr_normalize_host(h, strlen(h), out, sizeof(out), &n2, &v2), "a normalised host is refused: %s",
		   h);
	FUZZ_CHECK(strcmp(out, h) == 0 && n2 == numeric && v2 == v6, "normalising is not idempotent: %s -> %s", h, out);
	if (v6) {
		snprintf(br, sizeof(br), "[%s]", h);
		FUZZ_CHECK(netaddr_normalize_host(br, strlen(br), out, sizeof(out), &n2, &v2) && strcmp(out, h) == 0 &&
				   n2 && v2,
			   "the bracketed form of %s is not the same host", h);
	}
}

/* The raw bytes as a host, in a buffer of exactly their size. */
static void
check_raw_host(const uint8_t *data, size_t len)
{
	char *s = malloc(len ? len : 1), out[NETADDR_HOST_MAX], small[NETADDR_HOST_MAX];
	bool numeric, v6, n2, v2, ok;
	size_t olen;

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, data, len);
	ok = netaddr_normalize_host(s, len, out, sizeof(out), &numeric, &v6);
	if (ok) {
		olen = strlen(out);
		FUZZ_CHECK(olen < sizeof(out), "unterminated");
		check_normal_form(out, numeric, v6);
		check_idempotent(out, numeric, v6);
		FUZZ_CHECK(!(len >= 2 && s[0] == '[' && s[len - 1] == ']') || v6,
			   "a bracketed host that is not IPv6 was accepted: %s", out);
		/* An out buffer just large enough, and one a byte too small. */
		FUZZ_CHECK(netaddr_normalize_host(s, len, small, olen + 1, &n2, &v2) && strcmp(small, out) == 0,
			   "refused into a buffer that fits it: %s", out);
		FUZZ_CHECK(!netaddr_normalize_host(s, len, small, olen, &n2, &v2),
			   "accepted into a buffer too small for it: %s", out);
	}
	free(s);
}

/* The allow-list properties of a URL that parsed; r is the reference's reading of it. */
static void
check_allow_own(const struct netaddr_url *u, const struct ref *r)
{
	char e[NETADDR_HOST_MAX + 16], why[128];
	unsigned dflt = u->https ? 443 : 80, other = u->port % 65535 + 1;

	entry_write(e, sizeof(e), u->host, u->ipv6, u->port);
	FUZZ_CHECK(netaddr_entry_ok(e, why, sizeof(why)), "the URL's own host:port is not a valid entry: %s: %s", e,
		   why);
	FUZZ_CHECK(allowed_by(u, e), "not allowed by its own host:port %s", e);
	entry_write(e, sizeof(e), u->host, u->ipv6, other);
	FUZZ_CHECK(!allowed_by(u, e), "port %u allowed by %s", u->port, e);
	entry_write(e, sizeof(e), u->host, u->ipv6, 0);
	FUZZ_CHECK(allowed_by(u, e) == (u->port == dflt), "the bare host %s allows port %u: %d", e, u->port,
		   (int) allowed_by(u, e));
	/* The URL written again from what was checked says the same. */
	{
		struct netaddr_url again;
		char url[NETADDR_HOST_MAX + 32];

		entry_write(e, sizeof(e), u->host, u->ipv6, u->port);
		snprintf(url, sizeof(url), "%s://%s/", u->https ? "https" : "http", e);
		FUZZ_CHECK(netaddr_parse_url(url, &again, why, sizeof(why)) == SG_OK &&
				   strcmp(again.host, u->host) == 0 && again.port == u->port &&
				   again.https == u->https && again.numeric == u->numeric && again.ipv6 == u->ipv6,
			   "%s does not parse to what it was written from", url);
	}
	/* The host as the URL wrote it ("0x7f.1", "Example.COM.", "[0::1]"), with the port. */
	if (r->known && strchr(r->host, '%') == NULL && strchr(r->host, '/') == NULL &&
	    strlen(r->host) < NETADDR_HOST_MAX) {
		snprintf(e, sizeof(e), "%s:%u", r->host, u->port);
		FUZZ_CHECK(allowed_by(u, e), "not allowed by its host as written: %s", e);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *line, *rest;
	size_t linelen, restlen, whylen = 1 + (size * 7) % 160;
	char *url, *why, *entries[MAX_ENTRIES];
	size_t nentries = 0;
	struct netaddr_url u;
	struct ref r;
	sg_status st;
	bool parsed;
	json_t *list;

	fuzz_split_line(data, size, &line, &linelen, &rest, &restlen);
	check_raw_host(line, linelen);

	url = fuzz_strndup(line, linelen);
	why = why_new(whylen);
	st = netaddr_parse_url(url, &u, why, whylen);
	FUZZ_CHECK(st == SG_OK || st == SG_E_BAD_REQUEST, "status %d", (int) st);
	parsed = st == SG_OK;
	if (!parsed)
		check_why(why, whylen, true, "netaddr_parse_url");
	free(why);

	/* The URL line ends at its first NUL for curl: the reference sees the same string. */
	ref_split(url, &r);
	if (parsed) {
		FUZZ_CHECK(!r.must_fail, "a URL the contract refuses parsed (userinfo, zone, scheme or port)");
		FUZZ_CHECK(u.https == r.https, "https is %d", (int) u.https);
		FUZZ_CHECK(u.port >= 1 && u.port <= 65535, "port %u", u.port);
		FUZZ_CHECK(memchr(u.host, '\0', sizeof(u.host)) != NULL, "the host is not terminated");
		check_normal_form(u.host, u.numeric, u.ipv6);
		check_idempotent(u.host, u.numeric, u.ipv6);
		if (r.known) {
			char h[NETADDR_HOST_MAX];
			bool n, v6;

			FUZZ_CHECK(netaddr_normalize_host(r.host, strlen(r.host), h, sizeof(h), &n, &v6) &&
					   strcmp(h, u.host) == 0,
				   "curl's host %s is not the one the URL names", u.host);
			FUZZ_CHECK(u.port == (r.port != 0 ? r.port : (r.https ? 443u : 80u)),
				   "port %u, but the URL names %u", u.port, r.port);
		}
		check_allow_own(&u, &r);
	}

	/* The allow-list lines. */
	while (restlen > 0 && nentries < MAX_ENTRIES) {
		const uint8_t *e;
		size_t elen;
		char *entry, *ewhy, *eurl;
		size_t ewlen = 1 + (nentries * 13 + size) % 100;
		struct netaddr_url eu;
		char uwhy[256];
		bool ok;

		fuzz_split_line(rest, restlen, &e, &elen, &rest, &restlen);
		if (memchr(e, '\0', elen) != NULL)
			continue;
		entry = fuzz_strndup(e, elen);
		ewhy = why_new(ewlen);
		ok = netaddr_entry_ok(entry, ewhy, ewlen);
		if (!ok)
			check_why(ewhy, ewlen, true, "netaddr_entry_ok");
		free(ewhy);
		if (parsed && !ok)
			FUZZ_CHECK(!allowed_by(&u, entry), "a refused entry allowed a URL");
		if (ok) {
			/* An accepted entry names something one can write in a URL, and allows it. */
			size_t n = strlen("http://") + elen + 2;

			eurl = malloc(n);
			if (eurl == NULL)
				abort();
			snprintf(eurl, n, "http://%s/", entry);
			FUZZ_CHECK(netaddr_parse_url(eurl, &eu, uwhy, sizeof(uwhy)) == SG_OK,
				   "an accepted entry is not a URL's host[:port]: %s: %s", entry, uwhy);
			FUZZ_CHECK(allowed_by(&eu, entry), "entry %s does not allow %s", entry, eurl);
			free(eurl);
		}
		entries[nentries++] = entry;
	}

	if (parsed && nentries > 0) {
		bool any = false;

		list = json_array();
		FUZZ_CHECK(list != NULL && json_array_append_new(list, json_integer(80)) == 0 &&
				   json_array_append_new(list, json_null()) == 0,
			   "out of memory");
		for (size_t i = 0; i < nentries; i++) {
			FUZZ_CHECK(json_array_append_new(list, json_stringn_nocheck(entries[i], strlen(entries[i]))) ==
					   0,
				   "out of memory");
			any = any || allowed_by(&u, entries[i]);
		}
		FUZZ_CHECK(netaddr_allowed(&u, list) == any, "the list allows %d, its entries one by one %d",
			   (int) netaddr_allowed(&u, list), (int) any);
		json_decref(list);
	}
	for (size_t i = 0; i < nentries; i++)
		free(entries[i]);
	free(r.host);
	free(url);
	return 0;
}
