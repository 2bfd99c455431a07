/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_auth.c: SHA-256 (libcrypto's) against the FIPS 180-4 examples, the API key
 * format, Authorization header parsing, the CLI's argument parsing, the
 * auth endpoint's answers that need no database, and identity_resolve on
 * fake FastCGI params (what it trusts and what it ignores).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "conf.h"
#include "http.h"
#include "identity.h"
#include "suites.h"
#include "worker.h"

/* ---- SHA-256 -------------------------------------------------------------------- */

/*
 * The FIPS 180-4 examples through the call auth.c and auth_cli.c make
 * (libcrypto's one-shot SHA256): the digest of a stored key must not change.
 */
#define HEX_LEN (2 * SHA256_DIGEST_LENGTH)

/* Hex of SHA-256(data[0..n)) into out (libcrypto writes upper case: compare with strcasecmp). */
static void
hex_of(const void *data, size_t n, char out[HEX_LEN + 1])
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256(data, n, d);
	ck_assert(OPENSSL_buf2hexstr_ex(out, HEX_LEN + 1, NULL, d, sizeof(d), '\0') == 1);
}

START_TEST(test_sha256_vectors)
{
	static const struct sg_case_str v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	char out[HEX_LEN + 1];

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		hex_of(v[i].in, strlen(v[i].in), out);
		ck_assert_msg(strcasecmp(out, v[i].want) == 0, "'%s': %s", v[i].in, out);
	}
}
END_TEST

/* Lengths around the padding boundaries (55/56 bytes: one or two final blocks). */
START_TEST(test_sha256_padding)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
		{56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
		{63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
		{64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
		{65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
		{119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
		{120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
	};
	char buf[128], out[HEX_LEN + 1];

	memset(buf, 'a', sizeof(buf));
	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		hex_of(buf, v[i].n, out);
		ck_assert_msg(strcasecmp(out, v[i].hex) == 0, "%zu × 'a': %s", v[i].n, out);
	}
}
END_TEST

/* One million 'a': the long-message vector. */
START_TEST(test_sha256_million)
{
	enum { N = 1000000 };
	char *msg = malloc(N), out[HEX_LEN + 1];

	ck_assert_ptr_nonnull(msg);
	memset(msg, 'a', N);
	hex_of(msg, N, out);
	free(msg);
	ck_assert_msg(strcasecmp(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0, "%s",
		      out);
}
END_TEST

/* ---- keys and headers ---------------------------------------------------------------- */

START_TEST(test_key_generate_and_parse)
{
	char key[AUTH_KEY_LEN + 1], id[AUTH_KEY_ID_LEN + 1], parsed[AUTH_KEY_ID_LEN + 1], prev[AUTH_KEY_LEN + 1] = "";
	/* The 43rd character carries 4 bits and two zero bits: one of 16. */
	static const char last_ok[] = "AEIMQUYcgkosw048";

	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(auth_key_generate(key, id), SG_OK);
		ck_assert_uint_eq(strlen(key), AUTH_KEY_LEN);
		ck_assert(strncmp(key, "sg-", 3) == 0);
		ck_assert(auth_key_parse(key, strlen(key), parsed));
		ck_assert_str_eq(parsed, id);
		ck_assert(strncmp(key + 3, id, AUTH_KEY_ID_LEN) == 0);
		ck_assert_ptr_nonnull(strchr(last_ok, key[AUTH_KEY_LEN - 1]));
		ck_assert_str_ne(key, prev);
		memcpy(prev, key, sizeof(prev));
	}
}
END_TEST

START_TEST(test_key_parse_rejects)
{
	static const char good[] = "sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0";
	static const char *const bad[] = {
		"",
		"sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-",   /* short */
		"sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-00", /* long */
		"sk-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",  /* prefix */
		"sg-0123456789AB-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",  /* upper-case id */
		"sg-0123456789ag-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",  /* not hex */
		"sg-0123456789ab_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",  /* separator */
		"sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn+/0",  /* base64, not base64url */
		"sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-=",  /* padding */
	};
	char id[AUTH_KEY_ID_LEN + 1];

	ck_assert_uint_eq(strlen(good), AUTH_KEY_LEN);
	ck_assert(auth_key_parse(good, strlen(good), id));
	ck_assert_str_eq(id, "0123456789ab");
	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++)
		ck_assert_msg(!auth_key_parse(bad[i], strlen(bad[i]), id), "accepted %s", bad[i]);
	/* The length is what the caller says, not up to a NUL. */
	ck_assert(!auth_key_parse(good, strlen(good) - 1, id));
}
END_TEST

START_TEST(test_authorization_header)
{
	static const struct {
		const char *in;
		enum auth_header want;
		const char *token;
	} v[] = {
		{NULL, AUTH_HDR_NONE, NULL},
		{"", AUTH_HDR_NONE, NULL},
		{"  \t", AUTH_HDR_NONE, NULL},
		{"Bearer abc", AUTH_HDR_BEARER, "abc"},
		{"bearer abc", AUTH_HDR_BEARER, "abc"},
		{"BEARER   abc  ", AUTH_HDR_BEARER, "abc"},
		{"  Bearer\tabc", AUTH_HDR_BEARER, "abc"},
		{"Bearer", AUTH_HDR_INVALID, NULL},
		{"Bearer   ", AUTH_HDR_INVALID, NULL},
		{"Bearerabc", AUTH_HDR_INVALID, NULL},
		{"Bearer a b", AUTH_HDR_INVALID, NULL},
		{"Bearer a\tb", AUTH_HDR_INVALID, NULL},
		{"Bearer a\001b", AUTH_HDR_INVALID, NULL},
		{"Bearer a\037b", AUTH_HDR_INVALID, NULL},
		{"Bearer a\177b", AUTH_HDR_INVALID, NULL},
		{"Bearer a~\200b", AUTH_HDR_BEARER, "a~\200b"},
		{"Basic dXNlcjpwYXNz", AUTH_HDR_INVALID, NULL},
		{"Token abc", AUTH_HDR_INVALID, NULL},
		{"abc", AUTH_HDR_INVALID, NULL},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		const char *tok;
		size_t len;
		enum auth_header got = auth_parse_authorization(v[i].in, &tok, &len);

		ck_assert_msg(got == v[i].want, "'%s': got %d", v[i].in ? v[i].in : "(null)", got);
		if (v[i].token != NULL) {
			ck_assert_uint_eq(len, strlen(v[i].token));
			ck_assert(strncmp(tok, v[i].token, len) == 0);
		} else {
			ck_assert_ptr_null(tok);
		}
	}
}
END_TEST

/* ---- CLI arguments ------------------------------------------------------------------ */

static sg_status
parse(struct auth_cli_args *a, char *err, size_t errlen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	sg_status st;

	va_start(ap, errlen);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 31;)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	st = auth_cli_parse(argc, argv, a, err, errlen);
	return st;
}

START_TEST(test_cli_parse_ok)
{
	struct auth_cli_args a;
	char err[256];

	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "add", "alice", "--role", "admin", "--team", "a",
			       "--team=b", "--team", "a", "--namespace", "ns 1", NULL),
			 SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_PRINCIPAL_ADD);
	ck_assert_str_eq(a.name, "alice");
	ck_assert(a.attrs.present);
	ck_assert_uint_eq(a.attrs.cat[SG_ROLES].n, 1);
	ck_assert_uint_eq(a.attrs.cat[SG_TEAMS].n, 2); /* the repeated team once */
	ck_assert_str_eq(a.attrs.cat[SG_TEAMS].v[1], "b");
	ck_assert_str_eq(a.attrs.cat[SG_NAMESPACES].v[0], "ns 1");
	ck_assert(!a.attrs.set[SG_PROJECTS]);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "set", "--project", "p", "bob", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_PRINCIPAL_SET);
	ck_assert_str_eq(a.name, "bob");
	ck_assert_str_eq(a.attrs.cat[SG_PROJECTS].v[0], "p");
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "set", "bob", NULL), SG_OK);
	ck_assert(!a.attrs.present); /* set with nothing clears the attributes */
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "list", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_PRINCIPAL_LIST);
	ck_assert_ptr_null(a.name);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "disable", "bob", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_PRINCIPAL_DISABLE);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "create", "bob", "--expires-in", "30", "--description",
			       "ci runner", NULL),
			 SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_KEY_CREATE);
	ck_assert_str_eq(a.name, "bob");
	ck_assert_int_eq(a.expires_in_days, 30);
	ck_assert_str_eq(a.description, "ci runner");
	ck_assert_ptr_null(a.expires_at);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "create", "bob", "--expires-at=2030-01-01T00:00:00Z", NULL),
			 SG_OK);
	ck_assert_str_eq(a.expires_at, "2030-01-01T00:00:00Z");
	ck_assert_int_eq(a.expires_in_days, 0);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "list", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_KEY_LIST);
	ck_assert_ptr_null(a.name);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "list", "bob", NULL), SG_OK);
	ck_assert_str_eq(a.name, "bob");
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "revoke", "0123456789ab", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_KEY_REVOKE);
	auth_cli_args_free(&a);

	ck_assert_int_eq(parse(&a, err, sizeof(err), "key", "--help", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_HELP);
	auth_cli_args_free(&a);
	ck_assert_int_eq(parse(&a, err, sizeof(err), "principal", "add", "-h", NULL), SG_OK);
	ck_assert_int_eq(a.cmd, AUTH_CLI_HELP);
	auth_cli_args_free(&a);
}
END_TEST

START_TEST(test_cli_parse_errors)
{
	static const struct {
		const char *argv[8];
		const char *msg;
	} v[] = {
		{{"principal"}, "principal: missing command"},
		{{"principal", "frob"}, "principal: unknown command 'frob'"},
		{{"key", "add", "x"}, "key: unknown command 'add'"},
		{{"widget", "add"}, "unknown command 'widget'"},
		{{"principal", "add"}, "principal add: missing NAME"},
		{{"principal", "add", "alice", "bob"}, "principal add: unexpected argument 'bob'"},
		{{"principal", "list", "alice"}, "principal list: unexpected argument 'alice'"},
		{{"principal", "add", "alice", "--role"}, "--role needs a value"},
		{{"principal", "add", "alice", "--colour", "red"}, "principal add: unknown option '--colour'"},
		{{"principal", "remove", "alice", "--team", "a"}, "principal remove does not take --team"},
		{{"principal", "add", "alice", "--role="},
		 "--role '' is not valid: 1 to 256 characters, no control characters or outer blanks"},
		{{"principal", "add", " alice"},
		 "principal name ' alice' is not valid: 1 to 256 characters, no control characters or outer blanks"},
		{{"principal", "add", "al\tice"},
		 "principal name 'al\tice' is not valid: 1 to 256 characters, no control characters or outer blanks"},
		{{"principal", "add", "alice", "--description", "x"}, "principal add: unknown option '--description'"},
		{{"key", "create"}, "key create: missing PRINCIPAL"},
		{{"key", "create", "bob", "--expires-in", "0"},
		 "--expires-in '0' is not a number of days between 1 and 36500"},
		{{"key", "create", "bob", "--expires-in", "7d"},
		 "--expires-in '7d' is not a number of days between 1 and 36500"},
		{{"key", "create", "bob", "--expires-in", "1", "--expires-at", "2030-01-01"},
		 "give --expires-in or --expires-at, not both"},
		{{"key", "create", "bob", "--role", "admin"}, "key create does not take --role"},
		{{"key", "revoke"}, "key revoke: missing KEY_ID"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		struct auth_cli_args a;
		char err[256];
		int argc = 0;

		while (argc < 8 && v[i].argv[argc] != NULL)
			argc++;
		ck_assert_int_eq(auth_cli_parse(argc, (char **) v[i].argv, &a, err, sizeof(err)), SG_E_BAD_REQUEST);
		ck_assert_str_eq(err, v[i].msg);
		auth_cli_args_free(&a);
	}
}
END_TEST

/*
 * What `principal add|set` binds as the attributes: always an object (jsonb_each in the
 * INSERT refuses JSON null; `principal add NAME` alone failed with "cannot call jsonb_each on
 * a non-object"), its categories null unless given, an array of the values when given.
 */
START_TEST(test_cli_attrs_json)
{
	static const struct {
		const char *argv[10];
		const char *json;
	} v[] = {
		{{"principal", "add", "x"},
		 "{\"roles\": null, \"teams\": null, \"projects\": null, \"namespaces\": null}"},
		{{"principal", "set", "x"},
		 "{\"roles\": null, \"teams\": null, \"projects\": null, \"namespaces\": null}"},
		{{"principal", "add", "x", "--role", "admin"},
		 "{\"roles\": [\"admin\"], \"teams\": null, \"projects\": null, \"namespaces\": null}"},
		{{"principal", "set", "x", "--team", "b", "--team", "a", "--namespace", "n"},
		 "{\"roles\": null, \"teams\": [\"b\", \"a\"], \"projects\": null, \"namespaces\": [\"n\"]}"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		struct auth_cli_args a;
		char err[256];
		int argc = 0;
		char *text;
		json_t *got, *want;

		while (argc < 10 && v[i].argv[argc] != NULL)
			argc++;
		ck_assert_int_eq(auth_cli_parse(argc, (char **) v[i].argv, &a, err, sizeof(err)), SG_OK);
		text = auth_cli_attrs_json(&a);
		ck_assert_ptr_nonnull(text);
		got = json_loads(text, 0, NULL);
		want = json_loads(v[i].json, 0, NULL);
		ck_assert_ptr_nonnull(want);
		ck_assert_msg(json_is_object(got), "case %zu: %s is not an object", i, text);
		ck_assert_msg(json_equal(got, want), "case %zu: got %s", i, text);
		json_decref(got);
		json_decref(want);
		free(text);
		auth_cli_args_free(&a);
	}
}
END_TEST

/* ---- requests on fake FastCGI params ------------------------------------------------- */

struct fake {
	FCGX_Request fcgx;
	struct sg_conf conf;
	struct request r;
};

static void
fake_init(struct fake *f, const char **env, bool required)
{
	memset(f, 0, sizeof(*f));
	f->fcgx.envp = (char **) env;
	f->conf.auth_required = required;
	f->conf.key_cache_ttl_s = 5;
	ck_assert(sg_strv_push(&f->conf.admin_roles, "admin"));
	ck_assert(sg_strv_push(&f->conf.admin_roles, "ops"));
	f->conf.policy = policy_default(&f->conf.admin_roles);
	ck_assert_ptr_nonnull(f->conf.policy);
	f->r.fcgx = &f->fcgx;
	f->r.conf = &f->conf;
	f->r.status = 200;
}

static void
fake_free(struct fake *f)
{
	http_request_reset(&f->r);
	sg_strv_free(&f->conf.admin_roles);
	policy_free(f->conf.policy);
}

static bool
has_header(const struct request *r, const char *prefix)
{
	for (const char *l = r->headers.p; l != NULL && *l != '\0'; l = strstr(l, "\r\n") + 2)
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

START_TEST(test_auth_check_anonymous)
{
	const char *env[] = {"REQUEST_METHOD=GET", NULL};
	struct fake f;

	fake_init(&f, env, true);
	ck_assert_int_eq(auth_check(&f.r), SG_OK);
	ck_assert_int_eq(f.r.status, 204);
	ck_assert_ptr_null(f.r.reply);
	ck_assert(!has_header(&f.r, "X-Stackgate-Principal:"));
	fake_free(&f);
}
END_TEST

START_TEST(test_auth_check_rejects_without_db)
{
	static const struct {
		const char *authorization, *msg, *json;
	} v[] = {
		{"HTTP_AUTHORIZATION=Basic dXNlcjpwYXNz", "the Authorization header must be \"Bearer <API key>\"",
		 "the Authorization header must be \\\"Bearer <API key>\\\""},
		{"HTTP_AUTHORIZATION=Bearer", "the Authorization header must be \"Bearer <API key>\"",
		 "the Authorization header must be \\\"Bearer <API key>\\\""},
		{"HTTP_AUTHORIZATION=Bearer sk-not-one-of-ours", "invalid API key", "invalid API key"},
		{"HTTP_AUTHORIZATION=Bearer sg-0123456789AB-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",
		 "invalid API key", "invalid API key"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		const char *env[] = {v[i].authorization, NULL};
		char hdr[128];
		struct fake f;

		fake_init(&f, env, false);
		ck_assert_int_eq(auth_check(&f.r), SG_E_UNAUTHORIZED);
		ck_assert_str_eq(f.r.err.msg, v[i].msg);
		/* The message nginx pastes into its JSON body, escaped (issue #10: it was raw). */
		snprintf(hdr, sizeof(hdr), "X-Stackgate-Error-Json: %s", v[i].json);
		ck_assert_msg(has_header(&f.r, hdr), "no '%s'", hdr);
		ck_assert(!has_header(&f.r, "X-Stackgate-Principal:"));
		fake_free(&f);
	}
}
END_TEST

/* auth_error_json: pasted between quotes, any message makes a valid JSON string. */
START_TEST(test_auth_error_json)
{
	static const struct sg_case_str v[] = {
		{"invalid API key", "invalid API key"},
		{"must be \"Bearer <API key>\"", "must be \\\"Bearer <API key>\\\""},
		{"back\\slash", "back\\\\slash"},
		{"line\nbreak\ttab\x01", "line\\nbreak\\ttab\\u0001"},
		{"caf\xc3\xa9", "caf\\u00E9"},
		{"", ""},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		char *esc = auth_error_json(v[i].in), *doc;
		json_t *j;

		ck_assert_ptr_nonnull(esc);
		ck_assert_str_eq(esc, v[i].want);
		for (const char *p = esc; *p; p++)
			ck_assert_msg((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f, "byte %02x in '%s'",
				      (unsigned char) *p, esc);
		doc = sg_asprintf("{\"error\":{\"message\":\"%s\"}}", esc);
		j = json_loads(doc, 0, NULL);
		ck_assert_msg(j != NULL, "not JSON: %s", doc);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")), v[i].in);
		json_decref(j);
		free(doc);
		free(esc);
	}
}
END_TEST

START_TEST(test_identity_anonymous)
{
	const char *env[] = {"STACKGATE_PRINCIPAL=", "STACKGATE_ATTRIBUTES=", "STACKGATE_GROUPS=", NULL};
	struct fake f;

	fake_init(&f, env, false);
	ck_assert_int_eq(worker_identity(&f.r), SG_OK);
	ck_assert_ptr_null(f.r.id.principal);
	ck_assert(acl_attrs_empty(&f.r.id.attrs));
	ck_assert(!f.r.id.admin);
	fake_free(&f);
}
END_TEST

/* Client headers arrive as HTTP_*: none of them may name or empower the caller. */
START_TEST(test_identity_ignores_client_headers)
{
	const char *env[] = {
		"HTTP_X_STACKGATE_PRINCIPAL=admin",
		"HTTP_STACKGATE_PRINCIPAL=admin",
		"HTTP_X_REMOTE_USER=admin",
		"HTTP_REMOTE_USER=admin",
		"HTTP_X_AUTH_REQUEST_USER=admin",
		"HTTP_X_AUTH_REQUEST_GROUPS=admin",
		"HTTP_X_STACKGATE_ATTRIBUTES={\"roles\":[\"admin\"]}",
		"HTTP_X_LLAMASTACK_PROVIDER_DATA={\"__auth_attributes\":{\"roles\":[\"admin\"]}}",
		NULL,
	};
	struct fake f;
	json_t *obj = json_loads("{\"identifier\":\"m\",\"access_attributes\":{\"roles\":[\"admin\"]}}", 0, NULL);

	fake_init(&f, env, false);
	ck_assert_int_eq(worker_identity(&f.r), SG_OK);
	ck_assert_ptr_null(f.r.id.principal);
	ck_assert(acl_attrs_empty(&f.r.id.attrs));
	ck_assert(!f.r.id.admin);
	ck_assert(!identity_can_see(&f.r.id, obj));
	fake_free(&f);

	/* With auth.required the same request is refused. */
	fake_init(&f, env, true);
	ck_assert_int_eq(worker_identity(&f.r), SG_E_UNAUTHORIZED);
	ck_assert_str_ne(f.r.err.msg, "");
	fake_free(&f);
	json_decref(obj);
}
END_TEST

START_TEST(test_identity_attributes_and_groups)
{
	const char *env[] = {
		"STACKGATE_ATTRIBUTES={\"roles\":[\"ops\"],\"projects\":[\"p1\"],\"teams\":null,\"other\":1}",
		"STACKGATE_GROUPS= team-a ,team-b,,team-a, ",
		NULL,
	};
	struct fake f;

	fake_init(&f, env, false);
	ck_assert_int_eq(worker_identity(&f.r), SG_OK);
	ck_assert(f.r.id.admin); /* "ops" is one of the admin roles */
	ck_assert_uint_eq(f.r.id.attrs.cat[SG_TEAMS].n, 2);
	ck_assert_str_eq(f.r.id.attrs.cat[SG_TEAMS].v[0], "team-a");
	ck_assert_str_eq(f.r.id.attrs.cat[SG_TEAMS].v[1], "team-b");
	ck_assert_str_eq(f.r.id.attrs.cat[SG_PROJECTS].v[0], "p1");
	fake_free(&f);
}
END_TEST

START_TEST(test_identity_bad_attributes)
{
	static const struct sg_case_str v[] = {
		{"STACKGATE_ATTRIBUTES={not json",
		 "the authentication service sent invalid attributes: not a JSON object"},
		{"STACKGATE_ATTRIBUTES=[\"admin\"]",
		 "the authentication service sent invalid attributes: not a JSON object"},
		{"STACKGATE_ATTRIBUTES={\"roles\":\"admin\"}",
		 "the authentication service sent invalid attributes: access_attributes.roles must be an array of strings or null"},
		{"STACKGATE_PRINCIPAL= alice", "the authentication service sent an invalid principal name"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		const char *env[] = {v[i].in, NULL};
		struct fake f;

		fake_init(&f, env, false);
		ck_assert_int_eq(worker_identity(&f.r), SG_E_BAD_REQUEST);
		ck_assert_str_eq(f.r.err.msg, v[i].want);
		ck_assert(!f.r.id.admin);
		ck_assert(acl_attrs_empty(&f.r.id.attrs));
		fake_free(&f);
	}
}
END_TEST

/* STACKGATE_KEY_ID: a key id of the principal only, in the alphabet of key ids. */
START_TEST(test_identity_key_id)
{
	const char *bad[] = {"STACKGATE_PRINCIPAL=alice", "STACKGATE_KEY_ID=0123 456789", NULL};
	const char *lone[] = {"STACKGATE_KEY_ID=0123456789ab", NULL};
	struct fake f;

	fake_init(&f, bad, false);
	ck_assert_int_eq(worker_identity(&f.r), SG_E_BAD_REQUEST);
	ck_assert_str_eq(f.r.err.msg, "the authentication service sent an invalid key id");
	ck_assert_ptr_null(f.r.id.key_id);
	fake_free(&f);

	fake_init(&f, lone, false); /* no principal: anonymous, no key */
	ck_assert_int_eq(worker_identity(&f.r), SG_OK);
	ck_assert_ptr_null(f.r.id.principal);
	ck_assert_ptr_null(f.r.id.key_id);
	fake_free(&f);
}
END_TEST

/*
 * Without a database (the unit tests never call db_init) a named principal
 * cannot be looked up: 503, and nothing granted; a well-formed key likewise.
 */
START_TEST(test_no_database)
{
	const char *env[] = {"STACKGATE_PRINCIPAL=alice", "STACKGATE_ATTRIBUTES={\"roles\":[\"admin\"]}", NULL};
	const char *kenv[] = {"HTTP_AUTHORIZATION=Bearer sg-0123456789ab-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn_-0",
			      NULL};
	struct fake f;

	fake_init(&f, env, false);
	ck_assert_int_eq(worker_identity(&f.r), SG_E_UNAVAILABLE);
	ck_assert_str_eq(f.r.err.msg, "the database is unavailable: cannot read the caller's attributes");
	ck_assert(!f.r.id.admin);
	ck_assert(acl_attrs_empty(&f.r.id.attrs));
	fake_free(&f);

	fake_init(&f, kenv, false);
	ck_assert_int_eq(auth_check(&f.r), SG_E_UNAVAILABLE);
	ck_assert(!has_header(&f.r, "X-Stackgate-Principal:"));
	fake_free(&f);
}
END_TEST

/* identity_can_see on registry objects, for callers built from params. */
START_TEST(test_identity_can_see)
{
	static const char *const objs[] = {
		"{\"identifier\":\"pub\"}",
		"{\"identifier\":\"pub2\",\"access_attributes\":null}",
		"{\"identifier\":\"allnull\",\"access_attributes\":{}}",
		"{\"identifier\":\"team-a\",\"access_attributes\":{\"teams\":[\"a\"]}}",
		"{\"identifier\":\"team-b\",\"access_attributes\":{\"teams\":[\"b\"]}}",
		"{\"identifier\":\"broken\",\"access_attributes\":{\"teams\":\"a\"}}",
	};
	static const struct {
		const char *env;
		const char *want; /* one char per object: y/n */
	} callers[] = {
		{"STACKGATE_GROUPS=", "yynnnn"},
		{"STACKGATE_ATTRIBUTES={}", "yynnnn"},
		{"STACKGATE_ATTRIBUTES={\"roles\":[]}", "yyynnn"},
		{"STACKGATE_GROUPS=a", "yyyynn"},
		{"STACKGATE_GROUPS=b", "yyynyn"},
		/* Admins too are refused an object whose access_attributes are malformed (fail closed). */
		{"STACKGATE_ATTRIBUTES={\"roles\":[\"admin\"]}", "yyyyyn"},
		{"STACKGATE_ATTRIBUTES={\"roles\":[\"ops\"]}", "yyyyyn"},
	};

	for (size_t c = 0; c < SG_ARRAY_LEN(callers); c++) {
		const char *env[] = {callers[c].env, NULL};
		struct fake f;

		fake_init(&f, env, false);
		ck_assert_int_eq(worker_identity(&f.r), SG_OK);
		for (size_t o = 0; o < SG_ARRAY_LEN(objs); o++) {
			json_t *obj = json_loads(objs[o], 0, NULL);
			bool want = callers[c].want[o] == 'y';

			ck_assert_msg(identity_can_see(&f.r.id, obj) == want, "%s sees %s: want %d", callers[c].env,
				      objs[o], want);
			json_decref(obj);
		}
		fake_free(&f);
	}
	/* No identity at all is start-up: the config registers what it lists. */
	ck_assert(identity_can_see(NULL, NULL));
}
END_TEST

Suite *
auth_suite(void)
{
	const TTest *const sha256[] = {test_sha256_vectors, test_sha256_padding, test_sha256_million, NULL};
	const TTest *const keys[] = {test_key_generate_and_parse,
				     test_key_parse_rejects,
				     test_authorization_header,
				     test_auth_check_anonymous,
				     test_auth_check_rejects_without_db,
				     test_auth_error_json,
				     NULL};
	const TTest *const cli[] = {test_cli_parse_ok, test_cli_parse_errors, test_cli_attrs_json, NULL};
	const TTest *const identity[] = {test_identity_anonymous,
					 test_identity_key_id,
					 test_identity_ignores_client_headers,
					 test_identity_attributes_and_groups,
					 test_identity_bad_attributes,
					 test_identity_can_see,
					 test_no_database,
					 NULL};
	const struct sg_tcase tcases[] = {{.name = "sha256", .tests = sha256, .timeout = 30},
					  {.name = "keys", .tests = keys},
					  {.name = "cli", .tests = cli},
					  {.name = "identity", .tests = identity},
					  {.name = NULL}};

	return sg_suite_new("auth", tcases);
}
