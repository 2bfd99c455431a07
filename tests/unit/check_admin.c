/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_admin.c: the admin HTTP routes (admin.h) without PostgreSQL: each
 * one is in the route table with its handler; each refuses a caller who is
 * not an admin with 403 before it reads anything, logging an audit line;
 * and each refuses bad input with 400 naming the field, before the
 * database is asked; GET /v1/stackgate/me says who the caller is.  Also
 * the word check the CLI and the routes share.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "conf.h"
#include "log.h"
#include "route.h"
#include "suites.h"

static struct sg_conf *conf;

static void
setup(void)
{
	conf = sg_test_conf("{\"server\": {\"socket\": \"/tmp/x.sock\"}}");
}

static void
teardown(void)
{
	conf_free(conf);
	conf = NULL;
}

/* Routes method path (with ?query) as the worker does, then calls the handler with body as an admin or not. */
static sg_status
call(struct request *r, enum sg_method m, const char *path, const char *body, bool admin)
{
	unsigned allowed = 0;
	const char *q = strchr(path, '?');

	memset(r, 0, sizeof(*r));
	r->conf = conf;
	r->method = m;
	r->method_name = http_method_name(m);
	r->path = q != NULL ? strndup(path, (size_t) (q - path)) : strdup(path);
	r->query = q != NULL ? q + 1 : "";
	r->route = route_match(r->path, m, &r->path_arg, &allowed);
	ck_assert_msg(r->route != NULL, "no route for %s %s", r->method_name, path);
	if (body != NULL) {
		r->body = strdup(body);
		r->body_len = strlen(body);
	}
	r->id.principal = strdup(admin ? "root" : "bob");
	r->id.admin = admin;
	return r->route->handler(r);
}

static const struct {
	enum sg_method m;
	const char *path;
	route_handler_fn handler;
} admin_routes[] = {
	{SG_GET, "/v1/stackgate/principals", admin_principals_list},
	{SG_POST, "/v1/stackgate/principals", admin_principal_add},
	{SG_PUT, "/v1/stackgate/principals/alice", admin_principal_put},
	{SG_DELETE, "/v1/stackgate/principals/alice", admin_principal_delete},
	{SG_GET, "/v1/stackgate/keys", admin_keys_list},
	{SG_POST, "/v1/stackgate/keys", admin_key_create},
	{SG_DELETE, "/v1/stackgate/keys/0123456789ab", admin_key_delete},
	{SG_GET, "/v1/stackgate/status", admin_status},
};

/* A tenant (any principal without an admin role) gets 403, with an audit line, for every admin route. */
START_TEST(admin_only)
{
	struct request r;
	char logname[] = "/tmp/check_admin_log_XXXXXX";
	int fd = mkstemp(logname), saved = dup(STDERR_FILENO);
	FILE *f;
	char line[1024];
	bool audited = false;
	sg_status st;

	ck_assert_int_ge(fd, 0);
	/* The log goes to stderr: catch it for this call. */
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	st = call(&r, admin_routes[_i].m, admin_routes[_i].path, "{\"name\": \"x\", \"principal\": \"x\"}", false);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ck_assert_ptr_eq((void *) r.route->handler, (void *) admin_routes[_i].handler);
	ck_assert_int_eq(st, SG_E_FORBIDDEN);
	ck_assert_ptr_null(r.reply);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "admins only"));
	f = fdopen(fd, "r");
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		audited |= strstr(line, "audit: refused") != NULL && strstr(line, "'bob'") != NULL;
	fclose(f);
	unlink(logname);
	ck_assert_msg(audited, "no audit line for %s", admin_routes[_i].path);
	http_request_reset(&r);
}
END_TEST

/* Bad input, from an admin: 400 naming the field, and nothing reaches PostgreSQL (none is configured). */
static const struct {
	enum sg_method m;
	const char *path, *body, *param, *msg;
} bad[] = {
	{SG_POST, "/v1/stackgate/principals", "{}", "name", "name is required"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": 7}", "name", "name must be a string"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \" alice\"}", "name", "is not valid"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \"a\\u0001b\"}", "name", "is not valid"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \"alice\", \"roles\": [\"admin\"]}", "roles",
	 "unknown field 'roles'"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \"alice\", \"role\": [\"ok\", 3]}", "role",
	 "role must be a string or an array of strings"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \"alice\", \"team\": {}}", "team",
	 "team must be a string or an array of strings"},
	{SG_POST, "/v1/stackgate/principals", "{\"name\": \"alice\", \"project\": \"\"}", "project", "is not valid"},
	{SG_POST, "/v1/stackgate/principals", "[1]", "", "must be a JSON object"},
	{SG_PUT, "/v1/stackgate/principals/alice", "{}", "", "nothing to change"},
	{SG_PUT, "/v1/stackgate/principals/alice", "{\"disabled\": \"yes\"}", "disabled", "disabled must be a boolean"},
	{SG_PUT, "/v1/stackgate/principals/alice", "{\"name\": \"bob\"}", "name", "unknown field 'name'"},
	{SG_PUT, "/v1/stackgate/principals/ alice", "{\"disabled\": true}", "name", "is not valid"},
	{SG_DELETE, "/v1/stackgate/principals/alice ", NULL, "name", "is not valid"},
	{SG_DELETE, "/v1/stackgate/principals/team/al\tice", NULL, "name", "'team/al\tice' is not valid"},
	{SG_GET, "/v1/stackgate/keys?principal=%20bob", NULL, "principal", "principal ' bob' is not valid"},
	{SG_POST, "/v1/stackgate/keys", "{}", "principal", "principal is required"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"expires_in\": 0}", "expires_in",
	 "between 1 and 36500"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"expires_in\": \"30\"}", "expires_in",
	 "expires_in must be an integer"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"expires_in\": 3, \"expires_at\": \"2030-01-01\"}",
	 "expires_in", "not both"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"expires_at\": \"\"}", "expires_at",
	 "needs a date"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"key\": \"sg-x\"}", "key", "unknown field 'key'"},
	{SG_POST, "/v1/stackgate/keys", "{\"principal\": \"alice\", \"description\": 5}", "description",
	 "description must be a string"},
	{SG_DELETE, "/v1/stackgate/keys/nothex", NULL, "key_id", "12 lower-case hexadecimal digits"},
	{SG_DELETE, "/v1/stackgate/keys/0123456789AB", NULL, "key_id", "12 lower-case hexadecimal digits"},
	{SG_DELETE, "/v1/stackgate/keys/sg-0123456789ab-secretsecretsecretsecretsecretsecretsecret", NULL, "key_id",
	 "12 lower-case hexadecimal digits"},
};

START_TEST(bad_input_refused)
{
	struct request r;
	sg_status st = call(&r, bad[_i].m, bad[_i].path, bad[_i].body, true);

	ck_assert_msg(st == SG_E_BAD_REQUEST, "%s %s %s: status %s (%s)", http_method_name(bad[_i].m), bad[_i].path,
		      bad[_i].body ? bad[_i].body : "", sg_status_name(st), r.err.msg);
	ck_assert_str_eq(r.err.param, bad[_i].param);
	ck_assert_msg(strstr(r.err.msg, bad[_i].msg) != NULL, "message '%s' lacks '%s'", r.err.msg, bad[_i].msg);
	ck_assert_ptr_null(r.reply);
	http_request_reset(&r);
}
END_TEST

/* A long description is refused by its length, whatever else is right. */
START_TEST(long_description_refused)
{
	char body[ADMIN_DESCRIPTION_MAX + 100];
	struct request r;
	sg_status st;

	snprintf(body, sizeof(body), "{\"principal\": \"alice\", \"description\": \"%0*d\"}", ADMIN_DESCRIPTION_MAX + 1,
		 0);
	st = call(&r, SG_POST, "/v1/stackgate/keys", body, true);
	ck_assert_int_eq(st, SG_E_BAD_REQUEST);
	ck_assert_str_eq(r.err.param, "description");
	http_request_reset(&r);
}
END_TEST

/* GET /v1/stackgate/me answers anyone with who they are, admin or not. */
START_TEST(me_says_who)
{
	struct request r;

	ck_assert_int_eq(call(&r, SG_GET, "/v1/stackgate/me", NULL, false), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(r.reply, "principal")), "bob");
	ck_assert(json_is_false(json_object_get(r.reply, "admin")));
	http_request_reset(&r);
	ck_assert_int_eq(call(&r, SG_GET, "/v1/stackgate/me", NULL, true), SG_OK);
	ck_assert_str_eq(json_string_value(json_object_get(r.reply, "principal")), "root");
	ck_assert(json_is_true(json_object_get(r.reply, "admin")));
	http_request_reset(&r);
}
END_TEST

START_TEST(word_check)
{
	char longest[ADMIN_WORD_MAX + 2];

	ck_assert(admin_word_ok("alice"));
	ck_assert(admin_word_ok("team a"));
	ck_assert(!admin_word_ok(""));
	ck_assert(!admin_word_ok(" a"));
	ck_assert(!admin_word_ok("a\t"));
	ck_assert(!admin_word_ok("a\nb"));
	memset(longest, 'x', ADMIN_WORD_MAX);
	longest[ADMIN_WORD_MAX] = '\0';
	ck_assert(admin_word_ok(longest));
	longest[ADMIN_WORD_MAX] = 'x';
	longest[ADMIN_WORD_MAX + 1] = '\0';
	ck_assert(!admin_word_ok(longest));
}
END_TEST

Suite *
admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc = tcase_create("routes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, admin_only, 0, (int) SG_ARRAY_LEN(admin_routes));
	tcase_add_loop_test(tc, bad_input_refused, 0, (int) SG_ARRAY_LEN(bad));
	tcase_add_test(tc, long_description_refused);
	tcase_add_test(tc, me_says_who);
	tcase_add_test(tc, word_check);
	suite_add_tcase(s, tc);
	return s;
}
