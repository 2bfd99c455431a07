/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_scale.c: what running many hosts behind a pooler needs (issue #19):
 * database.listen_conninfo (its default, its errors at FILE:LINE:COL) and
 * db_notify_check(), the start-up proof that a NOTIFY sent on the SQL path
 * reaches the LISTEN session, and db_exec()'s bound (database.query_timeout).  The check's cases that need a database run
 * only when SG_TEST_DATABASE_URL names one; the pooler case is 65_scale.sh's.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "suites.h"

START_TEST(test_listen_default)
{
	struct sg_conf *c = sg_test_conf("{\"database\": {\"conninfo\": \"host=/pgb port=6432\"}}");

	ck_assert_ptr_null(c->listen_conninfo);
	ck_assert_str_eq(conf_listen_conninfo(c), "host=/pgb port=6432");
	ck_assert_int_eq(c->db_query_timeout_s, 10);
	conf_free(c);
	c = sg_test_conf("{\"database\": {\"listen_conninfo\": null}}");
	ck_assert_ptr_null(c->listen_conninfo);
	ck_assert_str_eq(conf_listen_conninfo(c), "");
	conf_free(c);
}
END_TEST

START_TEST(test_listen_set)
{
	struct sg_conf *c = sg_test_conf(
		"{\"database\": {\"conninfo\": \"host=/pgb1,/pgb2 target_session_attrs=read-write\",\n"
		" \"listen_conninfo\": \"host=/pg1,/pg2 target_session_attrs=read-write\"}}");

	ck_assert_str_eq(c->conninfo, "host=/pgb1,/pgb2 target_session_attrs=read-write");
	ck_assert_str_eq(conf_listen_conninfo(c), "host=/pg1,/pg2 target_session_attrs=read-write");
	conf_free(c);
	c = sg_test_conf("{\"database\": {\"query_timeout\": 3}}");
	ck_assert_int_eq(c->db_query_timeout_s, 3);
	conf_free(c);
}
END_TEST

static const struct sg_case_str listen_errors[] = {
	{"{\"database\": {\"listen_conninfo\": 5}}", "t.json:1:34: database.listen_conninfo: must be a string"},
	{"{\"database\": {\n  \"listen_conninfo\": \"host=${env.SG_TEST_UNSET_SCALE}\"}}",
	 "t.json:2:28: database.listen_conninfo: environment variable SG_TEST_UNSET_SCALE is not set and has no "
	 "default"},
	{"{\"database\": {\"query_timeout\": 0}}",
	 "t.json:1:32: database.query_timeout: must be an integer between 1 and 3600, got 0"},
};

START_TEST(test_listen_errors)
{
	char *errors = NULL;
	struct sg_conf *c;

	unsetenv("SG_TEST_UNSET_SCALE");
	c = conf_load_string(listen_errors[_i].in, "t.json", &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(errors);
	ck_assert_msg(strncmp(errors, listen_errors[_i].want, strlen(listen_errors[_i].want)) == 0, "got %s", errors);
	free(errors);
}
END_TEST

/* A direct session on both sides: the NOTIFY arrives. */
START_TEST(test_notify_check_direct)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	struct sg_err err = {0};

	ck_assert_int_eq(db_notify_check(db, db, DB_NOTIFY_CHECK_MS, &err), SG_OK);
	ck_assert_int_eq(err.status, SG_OK);
}
END_TEST

/* A LISTEN side that cannot be reached is named in the message, with libpq's reason. */
START_TEST(test_notify_check_unreachable)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	struct sg_err err = {0};

	ck_assert_int_eq(db_notify_check(db, "host=/nonexistent/sg-scale port=1 connect_timeout=1", 500, &err),
			 SG_E_UNAVAILABLE);
	ck_assert_msg(strncmp(err.msg, "database.listen_conninfo: cannot connect to the database: ", 58) == 0, "got %s",
		      err.msg);
	err = (struct sg_err){0};
	ck_assert_int_eq(db_notify_check("host=/nonexistent/sg-scale port=1 connect_timeout=1", db, 500, &err),
			 SG_E_UNAVAILABLE);
	ck_assert_msg(strncmp(err.msg, "database.conninfo: cannot connect to the database: ", 51) == 0, "got %s",
		      err.msg);
}
END_TEST

/*
 * A statement that does not answer within database.query_timeout: db_exec()
 * gives up with NULL and the connection is broken (so the pool drops it), and
 * the next statement gets a fresh connection.  Without the bound the call
 * would return pg_sleep's row 20 s later and the assertions fail.
 */
START_TEST(test_query_timeout)
{
	struct sg_conf conf = {.conninfo = getenv("SG_TEST_DATABASE_URL"), .db_pool_size = 1, .db_query_timeout_s = 1};
	PGconn *c;
	PGresult *r;

	ck_assert_int_eq(db_init(&conf), SG_OK);
	c = db_acquire();
	ck_assert_ptr_nonnull(c);
	r = db_exec(c, "SELECT pg_sleep(20)", 0, NULL);
	ck_assert_ptr_null(r);
	ck_assert(db_conn_broken(c));
	ck_assert_int_eq(db_result_status(c, r), SG_E_UNAVAILABLE);
	db_release(c, true);
	ck_assert_int_eq(db_query("SELECT 1", 0, NULL, &c, &r), SG_OK);
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	db_done(c, r);
	db_shutdown();
}
END_TEST

Suite *
scale_suite(void)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	const TTest *const conf[] = {test_listen_default, test_listen_set, NULL};
	const struct sg_loop conf_loops[] = {SG_LOOP(test_listen_errors, listen_errors), {.t = NULL}};
	const TTest *const direct[] = {test_notify_check_direct, NULL};
	const TTest *const unreachable[] = {test_notify_check_unreachable, NULL};
	const TTest *const timeout[] = {test_query_timeout, NULL};
	bool have_db = db != NULL && db[0] != '\0';
	/* Without a database the list ends before the two cases that need one (a NULL name ends it). */
	const struct sg_tcase tcases[] = {{.name = "listen_conninfo", .tests = conf, .loops = conf_loops},
					  {.name = have_db ? "notify_direct" : NULL, .tests = direct},
					  {.name = "notify_unreachable", .tests = unreachable},
					  {.name = "query_timeout", .tests = timeout},
					  {.name = NULL}};

	return sg_suite_new("scale", tcases);
}
