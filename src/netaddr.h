/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netaddr.h: the policy for outbound targets that callers choose (an MCP
 * tool group's mcp_endpoint): which URLs are acceptable at all, how their
 * host is normalised, whether host[:port] is on an allow-list, and the one
 * name resolution whose address the connection is then pinned to, so the
 * address checked is the address connected to (no second DNS lookup, no
 * rebinding in between).
 *
 * URLs are split by libcurl's own URL parser, so what is checked is what
 * curl would connect to.  A host is normalised by: lower case, one trailing
 * dot removed, IPv4 in any inet_aton() form ("127.1", "0x7f000001",
 * "017700000001") written as a dotted quad, IPv6 written in its canonical
 * inet_ntop() form without brackets.  Names are compared as names, never
 * resolved for the comparison ("localhost" is not "127.0.0.1").
 *
 * An allow-list entry is "host" or "host:port" ("[v6]" / "[v6]:port" for
 * IPv6), normalised the same way.  Without a port it allows the URL scheme's
 * default port only (80 for http, 443 for https).
 *
 * Pure but for netaddr_pin() (getaddrinfo); no state; thread-safe.
 */
#ifndef SG_NETADDR_H
#define SG_NETADDR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sg.h"

#define NETADDR_HOST_MAX 256

struct netaddr_url {
	bool https;                  /* else http */
	char host[NETADDR_HOST_MAX]; /* normalised, IPv6 without brackets */
	unsigned port;               /* the URL's, or the scheme's default */
	bool numeric;                /* host is an IP address (no resolution needed) */
	bool ipv6;
};

/*
 * Splits and checks an http(s) URL chosen by a caller.  SG_E_BAD_REQUEST
 * with a message in why (which never repeats the URL: it may hold
 * credentials) when: it does not parse, the scheme is not http or https,
 * it carries userinfo ("user:pass@", "user@"), it has no host or an
 * invalid one (anything but letters, digits, '-', '_' and '.' in a name,
 * percent-encoding, an IPv6 zone), or its port is out of range.  SG_E_NOMEM
 * when memory ran out.
 */
sg_status netaddr_parse_url(const char *url, struct netaddr_url *out, char *why, size_t whylen) SG_MUST_CHECK;

/*
 * Normalises the host s[0..len) as described above into out (outlen bytes;
 * IPv6 without brackets, which s may or may not have; only IPv6 may be in
 * brackets).  Sets *numeric and *ipv6.  False when the host is empty, too
 * long or invalid.
 */
bool netaddr_normalize_host(const char *s, size_t len, char *out, size_t outlen, bool *numeric, bool *ipv6);

/*
 * Checks one allow-list entry ("host", "host:port", "[v6]", "[v6]:port").
 * False with the reason in why when it is malformed.
 */
bool netaddr_entry_ok(const char *entry, char *why, size_t whylen);

/* True when u's normalised host and port are on allowed (a JSON array of entries; NULL: empty). */
bool netaddr_allowed(const struct netaddr_url *u, const json_t *allowed);

/*
 * Resolves u's host once (a numeric host is taken as it is) and writes the
 * CURLOPT_CONNECT_TO entry that sends any connection of the transfer to the
 * first address found, on u's port: "::ADDR:PORT" ("::[ADDR]:PORT" for
 * IPv6).  SG_E_BAD_GATEWAY with a client-safe message in err when the name
 * does not resolve; the resolver's own words go to the log only.
 */
sg_status netaddr_pin(const struct netaddr_url *u, char *connect_to, size_t len, char *err,
		      size_t errlen) SG_MUST_CHECK;

#endif
