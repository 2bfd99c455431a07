/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netaddr.c: outbound target policy (see netaddr.h): URL checks through
 * libcurl's URL parser, host normalisation, allow-list matching and the one
 * resolution a pinned connection uses.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "log.h"
#include "netaddr.h"

/* A name: labels of letters, digits, '-' and '_' separated by single dots. */
static bool
name_ok(const char *s)
{
	size_t label = 0;

	if (*s == '\0')
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

bool
netaddr_normalize_host(const char *s, size_t len, char *out, size_t outlen, bool *numeric, bool *ipv6)
{
	char buf[NETADDR_HOST_MAX];
	struct in_addr a4;
	struct in6_addr a6;
	bool bracketed = len >= 2 && s[0] == '[' && s[len - 1] == ']';

	*numeric = *ipv6 = false;
	if (bracketed) {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return false;
	for (size_t i = 0; i < len; i++)
		buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char) (s[i] - 'A' + 'a') : s[i];
	buf[len] = '\0';
	if (strchr(buf, ':') != NULL) {
		/* IPv6 (a zone id, "%eth0", is refused by inet_pton) */
		if (inet_pton(AF_INET6, buf, &a6) != 1 || inet_ntop(AF_INET6, &a6, out, (socklen_t) outlen) == NULL)
			return false;
		*numeric = *ipv6 = true;
		return true;
	}
	if (bracketed)
		return false; /* brackets hold an IPv6 address only ("[example.com]" is no host to curl) */
	if (len > 1 && buf[len - 1] == '.')
		buf[--len] = '\0';
	/* Every form inet_aton() reads (127.1, 0x7f000001, 0177.0.0.1) is that address, as curl and libc see it. */
	if (strspn(buf, "0123456789abcdefx.") == len && inet_aton(buf, &a4) != 0) {
		if (inet_ntop(AF_INET, &a4, out, (socklen_t) outlen) == NULL)
			return false;
		*numeric = true;
		return true;
	}
	if (!name_ok(buf) || len >= outlen)
		return false;
	memcpy(out, buf, len + 1);
	return true;
}

/* Parses "1".."65535" (the whole string). */
static bool
port_ok(const char *s, unsigned *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return false;
	v = strtoul(s, NULL, 10);
	if (v == 0 || v > 65535)
		return false;
	*port = (unsigned) v;
	return true;
}

static sg_status
url_fail(char *why, size_t whylen, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	return SG_E_BAD_REQUEST;
}

sg_status
netaddr_parse_url(const char *url, struct netaddr_url *out, char *why, size_t whylen)
{
	static const CURLUPart forbidden[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_ZONEID};
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *part = NULL;
	sg_status st = SG_E_BAD_REQUEST;
	CURLUcode uc;

	memset(out, 0, sizeof(*out));
	if (h == NULL) {
		snprintf(why, whylen, "out of memory");
		return SG_E_NOMEM;
	}
	/* Spelled out, as stored and shown: curl would also guess at "http:/host" or "http:host". */
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		url_fail(why, whylen, "must be an http:// or https:// URL");
		goto out;
	}
	/* "http:///host": no authority, but curl skips the extra slashes and guesses one. */
	if (url[url[4] == ':' ? 7 : 8] == '/') {
		url_fail(why, whylen, "must name a valid host");
		goto out;
	}
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc == CURLUE_OUT_OF_MEMORY) {
		st = SG_E_NOMEM;
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (uc != CURLUE_OK) {
		url_fail(why, whylen, "is not a valid http:// or https:// URL");
		goto out;
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		url_fail(why, whylen, "must be an http:// or https:// URL");
		goto out;
	}
	out->https = strcmp(scheme, "https") == 0;
	for (size_t i = 0; i < SG_ARRAY_LEN(forbidden); i++) {
		uc = curl_url_get(h, forbidden[i], &part, 0);
		curl_free(part);
		part = NULL;
		if (uc == CURLUE_OK) {
			url_fail(why, whylen,
				 forbidden[i] == CURLUPART_ZONEID
					 ? "must not name an IPv6 zone"
					 : "must not carry credentials (user:password@); configure them in the "
					   "tool_runtime provider's headers");
			goto out;
		}
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || strchr(host, '%') != NULL ||
	    !netaddr_normalize_host(host, strlen(host), out->host, sizeof(out->host), &out->numeric, &out->ipv6)) {
		url_fail(why, whylen, "must name a valid host");
		goto out;
	}
	if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || !port_ok(port, &out->port)) {
		url_fail(why, whylen, "must have a port from 1 to 65535");
		goto out;
	}
	st = SG_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return st;
}

/* Splits an allow-list entry into its normalised host and port (0: none given). */
static bool
entry_parse(const char *e, char *host, size_t hostlen, unsigned *port, char *why, size_t whylen)
{
	const char *colon, *hend;
	bool numeric, v6;

	*port = 0;
	if (strchr(e, '/') != NULL) {
		snprintf(why, whylen, "is not \"host\" or \"host:port\" (no scheme, no path)");
		return false;
	}
	if (e[0] == '[') {
		hend = strchr(e, ']');
		if (hend == NULL) {
			snprintf(why, whylen, "has '[' without ']'");
			return false;
		}
		hend++;
		colon = *hend == ':' ? hend : NULL;
		if (*hend != '\0' && colon == NULL) {
			snprintf(why, whylen, "has text after ']' that is not ':PORT'");
			return false;
		}
	} else {
		colon = strchr(e, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			snprintf(why, whylen, "is an IPv6 address without brackets (write [ADDR] or [ADDR]:PORT)");
			return false;
		}
		hend = colon != NULL ? colon : e + strlen(e);
	}
	if (colon != NULL && !port_ok(colon + 1, port)) {
		snprintf(why, whylen, "has a port that is not from 1 to 65535");
		return false;
	}
	if (!netaddr_normalize_host(e, (size_t) (hend - e), host, hostlen, &numeric, &v6)) {
		snprintf(why, whylen, "is not a valid host name or address");
		return false;
	}
	return true;
}

bool
netaddr_entry_ok(const char *entry, char *why, size_t whylen)
{
	char host[NETADDR_HOST_MAX];
	unsigned port;

	return entry_parse(entry, host, sizeof(host), &port, why, whylen);
}

bool
netaddr_allowed(const struct netaddr_url *u, const json_t *allowed)
{
	unsigned dflt = u->https ? 443 : 80;
	const json_t *e;
	size_t i;

	json_array_foreach(allowed, i, e) {
		char host[NETADDR_HOST_MAX], why[128];
		unsigned port;

		if (!json_is_string(e) ||
		    !entry_parse(json_string_value(e), host, sizeof(host), &port, why, sizeof(why)))
			continue;
		if (strcmp(host, u->host) == 0 && (port != 0 ? port : dflt) == u->port)
			return true;
	}
	return false;
}

sg_status
netaddr_pin(const struct netaddr_url *u, char *connect_to, size_t len, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	char addr[NETADDR_HOST_MAX];
	bool v6 = u->ipv6;
	int rc;

	if (u->numeric) {
		snprintf(addr, sizeof(addr), "%s", u->host);
	} else {
		rc = getaddrinfo(u->host, NULL, &hints, &res);
		if (rc != 0 || res == NULL) {
			log_warn("outbound: resolving %s failed: %s", u->host,
				 rc != 0 ? gai_strerror(rc) : "no address");
			snprintf(err, errlen, "the host name could not be resolved");
			if (res != NULL)
				freeaddrinfo(res);
			return SG_E_BAD_GATEWAY;
		}
		v6 = res->ai_family == AF_INET6;
		if (inet_ntop(res->ai_family,
			      v6 ? (const void *) &((struct sockaddr_in6 *) res->ai_addr)->sin6_addr
				 : (const void *) &((struct sockaddr_in *) res->ai_addr)->sin_addr,
			      addr, sizeof(addr)) == NULL) {
			freeaddrinfo(res);
			snprintf(err, errlen, "the host name could not be resolved");
			return SG_E_BAD_GATEWAY;
		}
		freeaddrinfo(res);
	}
	snprintf(connect_to, len, v6 ? "::[%s]:%u" : "::%s:%u", addr, u->port);
	return SG_OK;
}
