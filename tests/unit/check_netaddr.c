/* SPDX-License-Identifier: Apache-2.0 */
/* check_netaddr.c: URL checks, host normalisation, allow-list matching and pinning of outbound targets. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "netaddr.h"
#include "suites.h"

START_TEST(hosts_are_normalised)
{
	static const struct {
		const char *in, *out;
		bool numeric;
	} cases[] = {
		{"127.0.0.1", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"0x7f000001", "127.0.0.1", true},
		{"0X7F000001", "127.0.0.1", true},
		{"017700000001", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"10.1", "10.0.0.1", true},
		{"127.0.0.1.", "127.0.0.1", true},
		{"[::1]", "::1", true},
		{"[0:0:0:0:0:0:0:1]", "::1", true},
		{"[::FFFF:127.0.0.1]", "::ffff:127.0.0.1", true},
		{"Example.COM", "example.com", false},
		{"example.com.", "example.com", false},
		{"mcp_srv-1.internal", "mcp_srv-1.internal", false},
		{"bad.cafe", "bad.cafe", false},
		{"1.2.3.4.5", "1.2.3.4.5", false},
		{"deadbeef", "deadbeef", false},
	};
	static const char *const bad[] = {"",
					  ".",
					  "a..b",
					  ".a",
					  "a b",
					  "ex%41mple.com",
					  "[fe80::1%eth0]",
					  "a/b",
					  "example.com..",
					  "[::1",
					  "::1::2",
					  "h\xc3\xa9.example",
					  "a@b",
					  "[example.com]",
					  "[127.0.0.1]"};
	char out[NETADDR_HOST_MAX];
	bool numeric, v6;

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		ck_assert_msg(netaddr_normalize_host(cases[i].in, strlen(cases[i].in), out, sizeof(out), &numeric, &v6),
			      "%s", cases[i].in);
		ck_assert_str_eq(out, cases[i].out);
		ck_assert_int_eq(numeric, cases[i].numeric);
	}
	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++)
		ck_assert_msg(!netaddr_normalize_host(bad[i], strlen(bad[i]), out, sizeof(out), &numeric, &v6), "%s",
			      bad[i]);
}
END_TEST

START_TEST(urls_are_checked)
{
	static const struct {
		const char *url, *host;
		unsigned port;
		bool https;
	} good[] = {
		{"http://127.1:8080/mcp", "127.0.0.1", 8080, false},
		{"http://0x7f000001/mcp", "127.0.0.1", 80, false},
		{"https://MCP.Example.com./x?y=1", "mcp.example.com", 443, true},
		{"HTTP://[::1]:9/", "::1", 9, false},
		/* curl decodes a host's percent-encoding before it connects, so the check sees what curl will use */
		{"http://ex%61mple.com/", "example.com", 80, false},
	};
	static const struct sg_case_str bad[] = {
		{"file:///etc/passwd", "http"},
		{"ftp://example.com/", "http"},
		{"gopher://127.0.0.1:25/", "http"},
		{"not a url", "http"},
		{"http://user:secret@example.com/", "credentials"},
		{"http://user@example.com/", "credentials"},
		{"http://:pw@example.com/", "credentials"},
		{"http://[fe80::1%25eth0]/", "zone"},
		{"http://a%2fb/", "http"},
		{"http://example.com:0/", "port"},
		{"http:/tmp", "http"}, /* curl would guess http://tmp/ */
		{"http:example.com", "http"},
		{"http:///example.com/", "host"}, /* no authority: curl would skip the slashes and guess */
		{" http://example.com/", "http"},
	};
	struct netaddr_url u;
	char why[256];

	for (size_t i = 0; i < SG_ARRAY_LEN(good); i++) {
		ck_assert_msg(netaddr_parse_url(good[i].url, &u, why, sizeof(why)) == SG_OK, "%s: %s", good[i].url,
			      why);
		ck_assert_str_eq(u.host, good[i].host);
		ck_assert_uint_eq(u.port, good[i].port);
		ck_assert_int_eq(u.https, good[i].https);
	}
	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++) {
		ck_assert_msg(netaddr_parse_url(bad[i].in, &u, why, sizeof(why)) == SG_E_BAD_REQUEST, "%s", bad[i].in);
		ck_assert_msg(strstr(why, bad[i].want) != NULL, "%s: %s", bad[i].in, why);
		ck_assert_ptr_null(strstr(why, "secret"));
	}
}
END_TEST

START_TEST(allow_list_matches_the_normalised_host_and_port)
{
	json_t *allowed = json_pack("[s,s,s,s,i]", "127.0.0.1:8080", "MCP.example.com", "[::1]:9",
				    "tools.internal.:7000", 5);
	static const struct sg_case_ok cases[] = {
		{"http://127.0.0.1:8080/mcp", true},
		{"http://127.1:8080/mcp", true},
		{"http://0x7f000001:8080/mcp", true},
		{"http://017700000001:8080/", true},
		{"http://127.0.0.1:8081/mcp", false},
		{"http://127.0.0.1/mcp", false},
		{"http://127.0.0.2:8080/mcp", false},
		{"http://localhost:8080/mcp", false},
		{"http://mcp.example.com/x", true},
		{"https://mcp.example.com/x", true},
		{"http://mcp.example.com.:80/x", true},
		{"http://mcp.example.com:8080/x", false},
		{"http://sub.mcp.example.com/x", false},
		{"http://[::1]:9/", true},
		{"http://[0::1]:9/", true},
		{"http://[::1]:10/", false},
		{"http://Tools.Internal:7000/", true},
	};
	struct netaddr_url u;
	char why[256];

	ck_assert_ptr_nonnull(allowed);
	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		ck_assert_msg(netaddr_parse_url(cases[i].in, &u, why, sizeof(why)) == SG_OK, "%s", cases[i].in);
		ck_assert_msg(netaddr_allowed(&u, allowed) == cases[i].ok, "%s", cases[i].in);
	}
	ck_assert(!netaddr_allowed(&u, NULL));
	json_decref(allowed);
}
END_TEST

START_TEST(allow_list_entries_are_validated)
{
	static const char *const good[] = {"example.com", "example.com:443", "127.1:8080", "[::1]", "[::1]:9"};
	static const char *const bad[] = {"",
					  "example.com:",
					  "example.com:0",
					  "example.com:65536",
					  "::1",
					  "[::1",
					  "[::1]x",
					  "http://example.com",
					  "a b",
					  "example.com:80/x",
					  "[example.com]",
					  "[127.0.0.1]:80"};
	char why[160];

	for (size_t i = 0; i < SG_ARRAY_LEN(good); i++)
		ck_assert_msg(netaddr_entry_ok(good[i], why, sizeof(why)), "%s: %s", good[i], why);
	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++)
		ck_assert_msg(!netaddr_entry_ok(bad[i], why, sizeof(why)), "%s", bad[i]);
}
END_TEST

START_TEST(pinning_uses_the_checked_address)
{
	struct netaddr_url u;
	char pin[128], err[128];

	ck_assert_int_eq(netaddr_parse_url("http://127.1:8080/", &u, err, sizeof(err)), SG_OK);
	ck_assert_int_eq(netaddr_pin(&u, pin, sizeof(pin), err, sizeof(err)), SG_OK);
	ck_assert_str_eq(pin, "::127.0.0.1:8080");
	ck_assert_int_eq(netaddr_parse_url("https://[::1]/", &u, err, sizeof(err)), SG_OK);
	ck_assert_int_eq(netaddr_pin(&u, pin, sizeof(pin), err, sizeof(err)), SG_OK);
	ck_assert_str_eq(pin, "::[::1]:443");
	/* .invalid never resolves (RFC 6761); the message does not name the host. */
	ck_assert_int_eq(netaddr_parse_url("http://nowhere.invalid/", &u, err, sizeof(err)), SG_OK);
	ck_assert_int_eq(netaddr_pin(&u, pin, sizeof(pin), err, sizeof(err)), SG_E_BAD_GATEWAY);
	ck_assert_ptr_null(strstr(err, "nowhere"));
}
END_TEST

Suite *
netaddr_suite(void)
{
	const TTest *const pure[] = {hosts_are_normalised,
				     urls_are_checked,
				     allow_list_matches_the_normalised_host_and_port,
				     allow_list_entries_are_validated,
				     pinning_uses_the_checked_address,
				     NULL};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure}, {.name = NULL}};

	return sg_suite_new("netaddr", tcases);
}
