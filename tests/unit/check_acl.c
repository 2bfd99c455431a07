/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_acl.c: the access decision, table-driven.  The table holds every
 * case of the seed's tests/unit/server/test_access_control.py (as the
 * attributes the seed's check_access saw) plus the corner cases of acl.h.
 *
 * The case "sql_agreement" runs the same table through sg_acl_check() in
 * PostgreSQL and expects the same answers.  It exists only when
 * SG_TEST_DATABASE_URL names a database with the migrations applied;
 * tests/integration/40_access.sh runs it that way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "acl.h"
#include "json.h"
#include "suites.h"

/* obj and caller are JSON texts; NULL is Python's None. */
struct acl_case {
	const char *name;
	const char *obj;
	const char *caller;
	bool want;
};

#define ADMIN_MGMT "{\"roles\":[\"admin\"],\"teams\":[\"management\"]}"
#define DS_OTHER "{\"roles\":[\"data-scientist\"],\"teams\":[\"other-team\"]}"
#define DS_ML "{\"roles\":[\"data-scientist\"],\"teams\":[\"ml-team\"]}"
#define OBJ_ADMIN "{\"roles\":[\"admin\"]}"
#define OBJ_DS "{\"roles\":[\"data-scientist\",\"researcher\"],\"teams\":[\"ml-team\"]}"
#define OBJ_AUTO "{\"roles\":[\"data-scientist\"],\"teams\":[\"ml-team\"],\"projects\":[\"llama-3\"]}"
#define USER_ENG "{\"roles\":[\"engineer\"],\"teams\":[\"infra-team\"]}"
#define USER_SUPER \
	"{\"roles\":[\"data-scientist\",\"engineer\"],\"teams\":[\"ml-team\",\"platform-team\"],\"projects\":[\"llama-3\"]}"

static const struct acl_case cases[] = {
	/* test_access_control_with_cache */
	{"cache: admin user sees public", NULL, ADMIN_MGMT, true},
	{"cache: admin user sees admin model", OBJ_ADMIN, ADMIN_MGMT, true},
	{"cache: admin user not data-scientist model", OBJ_DS, ADMIN_MGMT, false},
	{"cache: ds/other-team sees public", NULL, DS_OTHER, true},
	{"cache: ds/other-team not admin model", OBJ_ADMIN, DS_OTHER, false},
	{"cache: ds/other-team not ds model (team AND)", OBJ_DS, DS_OTHER, false},
	{"cache: ds/ml-team sees public", NULL, DS_ML, true},
	{"cache: ds/ml-team not admin model", OBJ_ADMIN, DS_ML, false},
	{"cache: ds/ml-team sees ds model", OBJ_DS, DS_ML, true},
	/* test_access_control_and_updates */
	{"updates: user sees model before ACL", NULL, "{\"roles\":[\"user\"]}", true},
	{"updates: user hidden after roles[admin]", OBJ_ADMIN, "{\"roles\":[\"user\"]}", false},
	{"updates: admin sees it after", OBJ_ADMIN, "{\"roles\":[\"admin\"]}", true},
	/* test_access_control_empty_attributes */
	{"empty attributes: AccessAttributes() vs roles []", "{}", "{\"roles\":[]}", true},
	/* test_no_user_attributes */
	{"no user attributes: public visible", NULL, NULL, true},
	{"no user attributes: restricted hidden", OBJ_ADMIN, NULL, false},
	/* test_automatic_access_attributes (object carries the creator's attributes) */
	{"automatic: non-matching user denied", OBJ_AUTO, USER_ENG, false},
	{"automatic: superset user allowed", OBJ_AUTO, USER_SUPER, true},
	{"automatic: creator allowed", OBJ_AUTO, OBJ_AUTO, true},

	/* Truthiness corners (acl.h). */
	{"all-null ACL hidden from None", "{}", NULL, false},
	{"all-null ACL hidden from {}", "{}", "{}", false},
	{"explicit nulls = all-null ACL, None", "{\"roles\":null,\"teams\":null,\"projects\":null,\"namespaces\":null}",
	 NULL, false},
	{"explicit nulls = all-null ACL, roles []",
	 "{\"roles\":null,\"teams\":null,\"projects\":null,\"namespaces\":null}", "{\"roles\":[]}", true},
	{"all-null ACL visible to any attributes", "{}", "{\"teams\":[\"x\"]}", true},
	{"no ACL visible to {}", NULL, "{}", true},
	{"restricted hidden from {}", OBJ_ADMIN, "{}", false},
	{"caller with only null categories has none", "{}", "{\"roles\":null}", false},
	{"caller with only unknown keys has none", "{}", "{\"groups\":[\"a\"]}", false},
	{"object with only unknown keys is all-null ACL", "{\"owner\":\"x\"}", "{\"roles\":[\"q\"]}", true},
	{"object with only unknown keys, None caller", "{\"owner\":\"x\"}", NULL, false},
	/* Required [] denies everyone. */
	{"required roles [] vs roles x", "{\"roles\":[]}", "{\"roles\":[\"x\"]}", false},
	{"required roles [] vs roles []", "{\"roles\":[]}", "{\"roles\":[]}", false},
	{"required teams [] vs admin", "{\"teams\":[]}", ADMIN_MGMT, false},
	/* Category semantics. */
	{"user has the category empty", "{\"roles\":[\"a\"]}", "{\"roles\":[]}", false},
	{"user lacks the category", "{\"roles\":[\"a\"]}", "{\"teams\":[\"a\"]}", false},
	{"extra user categories ignored", "{\"roles\":[\"a\"]}",
	 "{\"roles\":[\"a\"],\"teams\":[\"z\"],\"namespaces\":[\"n\"]}", true},
	{"OR within a category", "{\"roles\":[\"a\",\"b\"]}", "{\"roles\":[\"b\"]}", true},
	{"AND across categories: one missing", "{\"roles\":[\"a\"],\"teams\":[\"t\"]}", "{\"roles\":[\"a\"]}", false},
	{"AND across categories: both met", "{\"roles\":[\"a\"],\"teams\":[\"t\"]}",
	 "{\"roles\":[\"a\"],\"teams\":[\"u\",\"t\"]}", true},
	{"AND across all four", "{\"roles\":[\"r\"],\"teams\":[\"t\"],\"projects\":[\"p\"],\"namespaces\":[\"n\"]}",
	 "{\"roles\":[\"r\"],\"teams\":[\"t\"],\"projects\":[\"p\"],\"namespaces\":[\"n\"]}", true},
	{"AND across all four, namespace differs",
	 "{\"roles\":[\"r\"],\"teams\":[\"t\"],\"projects\":[\"p\"],\"namespaces\":[\"n\"]}",
	 "{\"roles\":[\"r\"],\"teams\":[\"t\"],\"projects\":[\"p\"],\"namespaces\":[\"m\"]}", false},
	{"namespace match (the seed's api-key namespace)", "{\"namespaces\":[\"key-1\"]}",
	 "{\"namespaces\":[\"key-1\"]}", true},
	{"namespace mismatch", "{\"namespaces\":[\"key-1\"]}", "{\"namespaces\":[\"key-2\"]}", false},
	{"projects match", "{\"projects\":[\"p\"]}", "{\"projects\":[\"x\",\"p\"]}", true},
	{"null category in object not required", "{\"teams\":[\"t\"],\"roles\":null}", "{\"teams\":[\"t\"]}", true},
	{"null category in caller is absent", "{\"teams\":[\"t\"]}", "{\"roles\":null,\"teams\":[\"t\"]}", true},
	{"values are case-sensitive", "{\"roles\":[\"Admin\"]}", "{\"roles\":[\"admin\"]}", false},
	{"no prefix matching", "{\"teams\":[\"team-a\"]}", "{\"teams\":[\"team\"]}", false},
	{"UTF-8 values compare bytewise", "{\"teams\":[\"\xc3\xa9quipe\"]}", "{\"teams\":[\"\xc3\xa9quipe\"]}", true},
	{"team a vs team b (integration's alice/bob)", "{\"teams\":[\"a\"]}", "{\"teams\":[\"b\"]}", false},
};

/* Parses a case's JSON text (NULL → None) into attrs. */
static void
parse_attrs(const char *text, struct sg_attrs *out)
{
	json_error_t jerr;
	json_t *j;
	char err[128];

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return;
	j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "bad test JSON %s", text);
	ck_assert_int_eq(acl_attrs_from_json(j, out, err, sizeof(err)), SG_OK);
	json_decref(j);
}

START_TEST(test_table)
{
	const struct acl_case *c = &cases[_i];
	struct sg_attrs obj, caller;
	bool got;

	parse_attrs(c->obj, &obj);
	parse_attrs(c->caller, &caller);
	got = acl_check(c->obj ? &obj : NULL, c->caller ? &caller : NULL);
	ck_assert_msg(got == c->want, "%s: acl_check(%s, %s) = %d, want %d", c->name, c->obj ? c->obj : "None",
		      c->caller ? c->caller : "None", got, c->want);
	/* The parsed "not present" forms answer the same as NULL pointers. */
	ck_assert_int_eq(acl_check(&obj, &caller), c->want);
	acl_attrs_free(&obj);
	acl_attrs_free(&caller);
}
END_TEST

START_TEST(test_from_json_errors)
{
	static const struct sg_case_str bad[] = {
		{"\"admin\"", "access_attributes must be an object or null"},
		{"[]", "access_attributes must be an object or null"},
		{"{\"roles\":\"admin\"}", "access_attributes.roles must be an array of strings or null"},
		{"{\"teams\":[1]}", "access_attributes.teams must be an array of strings or null"},
		{"{\"roles\":[\"a\"],\"namespaces\":[null]}",
		 "access_attributes.namespaces must be an array of strings or null"},
		{"{\"projects\":{}}", "access_attributes.projects must be an array of strings or null"},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(bad); i++) {
		json_t *j = json_loads(bad[i].in, JSON_DECODE_ANY, NULL);
		struct sg_attrs a;
		char err[128];

		ck_assert_ptr_nonnull(j);
		ck_assert_int_eq(acl_attrs_from_json(j, &a, err, sizeof(err)), SG_E_BAD_REQUEST);
		ck_assert_str_eq(err, bad[i].want);
		/* Nothing is left half-filled. */
		ck_assert(!a.present);
		for (int c = 0; c < SG_ATTR_NCAT; c++)
			ck_assert(a.cat[c].n == 0 && a.cat[c].v == NULL);
		acl_attrs_free(&a);
		json_decref(j);
	}
}
END_TEST

START_TEST(test_from_json_shapes)
{
	struct sg_attrs a;
	json_t *j;

	ck_assert_int_eq(acl_attrs_from_json(NULL, &a, NULL, 0), SG_OK);
	ck_assert(!a.present);
	ck_assert_int_eq(acl_attrs_from_json(json_null(), &a, NULL, 0), SG_OK);
	ck_assert(!a.present);

	j = json_loads("{\"roles\":[\"a\",\"b\"],\"teams\":[],\"projects\":null,\"x\":1}", 0, NULL);
	ck_assert_int_eq(acl_attrs_from_json(j, &a, NULL, 0), SG_OK);
	ck_assert(a.present);
	ck_assert(a.set[SG_ROLES] && a.cat[SG_ROLES].n == 2);
	ck_assert_str_eq(a.cat[SG_ROLES].v[0], "a");
	ck_assert_str_eq(a.cat[SG_ROLES].v[1], "b");
	ck_assert(a.set[SG_TEAMS] && a.cat[SG_TEAMS].n == 0);
	ck_assert(!a.set[SG_PROJECTS] && !a.set[SG_NAMESPACES]);
	acl_attrs_free(&a);
	acl_attrs_free(&a); /* idempotent */
	json_decref(j);
}
END_TEST

START_TEST(test_to_json)
{
	static const struct sg_case_str v[] = {
		/* All four keys, in AccessAttributes' field order, null where unset. */
		{"{\"namespaces\":[\"n\"],\"roles\":[],\"teams\":[\"t1\",\"t2\"]}",
		 "{\"roles\":[],\"teams\":[\"t1\",\"t2\"],\"projects\":null,\"namespaces\":[\"n\"]}"},
		/* AccessAttributes(): an object of four nulls, not null. */
		{"{}", "{\"roles\":null,\"teams\":null,\"projects\":null,\"namespaces\":null}"},
	};
	json_t *out = acl_attrs_to_json(NULL);

	ck_assert(json_is_null(out));
	json_decref(out);
	for (size_t i = 0; i < SG_ARRAY_LEN(v); i++) {
		json_t *in = json_loads(v[i].in, 0, NULL);
		struct sg_attrs a;
		char *text;

		ck_assert_int_eq(acl_attrs_from_json(in, &a, NULL, 0), SG_OK);
		out = acl_attrs_to_json(&a);
		text = sg_json_dump(out);
		ck_assert_str_eq(text, v[i].want);
		free(text);
		json_decref(out);
		json_decref(in);
		acl_attrs_free(&a);
	}
}
END_TEST

/* test_automatic_access_attributes: register_object copies the creator's attributes onto the object. */
START_TEST(test_copy_automatic)
{
	struct sg_attrs creator, obj = {0}, other, super;

	parse_attrs(OBJ_AUTO, &creator);
	ck_assert(acl_attrs_copy(&obj, &creator));
	acl_attrs_free(&creator); /* the copy is deep */
	ck_assert(obj.present);
	ck_assert_str_eq(obj.cat[SG_ROLES].v[0], "data-scientist");
	ck_assert_str_eq(obj.cat[SG_TEAMS].v[0], "ml-team");
	ck_assert_str_eq(obj.cat[SG_PROJECTS].v[0], "llama-3");
	ck_assert(!obj.set[SG_NAMESPACES]);
	parse_attrs(USER_ENG, &other);
	parse_attrs(USER_SUPER, &super);
	ck_assert(!acl_check(&obj, &other));
	ck_assert(acl_check(&obj, &super));
	/* Copy over a filled dst frees what it held; copy of NULL empties. */
	ck_assert(acl_attrs_copy(&obj, &other));
	ck_assert_str_eq(obj.cat[SG_ROLES].v[0], "engineer");
	ck_assert(acl_attrs_copy(&obj, NULL));
	ck_assert(!obj.present);
	acl_attrs_free(&obj);
	acl_attrs_free(&other);
	acl_attrs_free(&super);
}
END_TEST

START_TEST(test_merge)
{
	struct sg_attrs dst = {0}, a, b, none = {0};

	parse_attrs("{\"teams\":[\"a\",\"b\"]}", &a);
	parse_attrs("{\"teams\":[\"b\",\"c\"],\"roles\":[]}", &b);
	ck_assert(acl_attrs_merge(&dst, &none));
	ck_assert(!dst.present);
	ck_assert(acl_attrs_empty(&dst));
	ck_assert(acl_attrs_merge(&dst, &a));
	ck_assert(acl_attrs_merge(&dst, &b));
	ck_assert(dst.present);
	ck_assert_uint_eq(dst.cat[SG_TEAMS].n, 3);
	ck_assert_str_eq(dst.cat[SG_TEAMS].v[2], "c");
	/* A category set with [] stays set: {"roles": []} is a truthy dict. */
	ck_assert(dst.set[SG_ROLES] && dst.cat[SG_ROLES].n == 0);
	ck_assert(!dst.set[SG_PROJECTS]);
	acl_attrs_free(&dst);
	acl_attrs_free(&a);
	acl_attrs_free(&b);
}
END_TEST

START_TEST(test_empty)
{
	struct sg_attrs a;

	ck_assert(acl_attrs_empty(NULL));
	parse_attrs(NULL, &a);
	ck_assert(acl_attrs_empty(&a));
	parse_attrs("{}", &a);
	ck_assert(acl_attrs_empty(&a)); /* {} is falsy */
	acl_attrs_free(&a);
	parse_attrs("{\"roles\":[]}", &a);
	ck_assert(!acl_attrs_empty(&a)); /* {"roles": []} is truthy */
	acl_attrs_free(&a);
	parse_attrs("{\"namespaces\":[\"k\"]}", &a);
	ck_assert(!acl_attrs_empty(&a));
	acl_attrs_free(&a);
}
END_TEST

/* acl_attrs_within(given, holder): which access_attributes a caller who is not an admin may give. */
static const struct {
	const char *name, *given, *holder;
	const char *why; /* NULL: allowed */
} within[] = {
	{"the caller's own attributes", DS_ML, DS_ML, NULL},
	{"one category of the caller's", "{\"teams\":[\"ml-team\"]}", DS_ML, NULL},
	{"a subset of a category", "{\"teams\":[\"t2\"]}", "{\"teams\":[\"t1\",\"t2\"]}", NULL},
	{"null categories are not required", "{\"roles\":null,\"teams\":[\"t1\"]}", "{\"teams\":[\"t1\"]}", NULL},
	{"another tenant's team (planting)", "{\"teams\":[\"a\"]}", "{\"teams\":[\"b\"]}",
	 "access_attributes.teams may only list the caller's own teams, and 'a' is not one of them"},
	{"one value too many", "{\"teams\":[\"b\",\"a\"]}", "{\"teams\":[\"b\"]}",
	 "access_attributes.teams may only list the caller's own teams, and 'a' is not one of them"},
	{"a category the caller lacks", "{\"teams\":[\"b\"],\"projects\":[\"p\"]}", "{\"teams\":[\"b\"]}",
	 "access_attributes.projects may only list the caller's own projects, and 'p' is not one of them"},
	{"an empty category (visible to nobody)", "{\"teams\":[]}", "{\"teams\":[\"b\"]}",
	 "access_attributes.teams must list at least one of the caller's own teams"},
	{"no category at all (visible to every caller with attributes)", "{}", "{\"teams\":[\"b\"]}",
	 "access_attributes must require at least one category of the caller's own (an object without one is "
	 "visible to every caller with attributes)"},
	{"no ACL at all", NULL, "{\"teams\":[\"b\"]}", "access_attributes must be an object"},
	{"a caller without attributes", "{\"teams\":[\"b\"]}", NULL,
	 "access_attributes.teams may only list the caller's own teams, and 'b' is not one of them"},
	{"a caller with the category empty", "{\"roles\":[\"r\"]}", "{\"roles\":[]}",
	 "access_attributes.roles may only list the caller's own roles, and 'r' is not one of them"},
	{"values are case-sensitive", "{\"roles\":[\"Admin\"]}", "{\"roles\":[\"admin\"]}",
	 "access_attributes.roles may only list the caller's own roles, and 'Admin' is not one of them"},
	{"a long value is cut at a character boundary",
	 "{\"teams\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\u00e9\"]}",
	 "{\"teams\":[]}",
	 "access_attributes.teams may only list the caller's own teams, and "
	 "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not one of them"},
};

START_TEST(test_within)
{
	struct sg_attrs given, holder;
	char why[256] = "";
	bool got;

	parse_attrs(within[_i].given, &given);
	parse_attrs(within[_i].holder, &holder);
	got = acl_attrs_within(&given, within[_i].holder ? &holder : NULL, why, sizeof(why));
	ck_assert_msg(got == (within[_i].why == NULL), "%s: got %d (%s)", within[_i].name, got, why);
	if (within[_i].why != NULL)
		ck_assert_str_eq(why, within[_i].why);
	else /* what a caller may give, it can see */
		ck_assert_msg(acl_check(&given, &holder), "%s: the giver cannot see it", within[_i].name);
	ck_assert(!got || acl_attrs_within(&given, &holder, NULL, 0)); /* why may be NULL */
	acl_attrs_free(&given);
	acl_attrs_free(&holder);
}
END_TEST

START_TEST(test_category_names)
{
	enum sg_attr_cat c;

	ck_assert_str_eq(acl_category_name(SG_ROLES), "roles");
	ck_assert_str_eq(acl_category_name(SG_TEAMS), "teams");
	ck_assert_str_eq(acl_category_name(SG_PROJECTS), "projects");
	ck_assert_str_eq(acl_category_name(SG_NAMESPACES), "namespaces");
	ck_assert_ptr_null(acl_category_name(SG_ATTR_NCAT));
	ck_assert(acl_category_from_name("projects", &c) && c == SG_PROJECTS);
	ck_assert(!acl_category_from_name("groups", &c));
	ck_assert(!acl_category_from_name("Roles", &c));
}
END_TEST

static bool
sql_check(PGconn *conn, const struct sg_attrs *obj, const char *caller_json)
{
	static const char sql[] =
		"SELECT sg_acl_check($1::boolean,"
		" CASE WHEN $2::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($2::jsonb)) END,"
		" CASE WHEN $3::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($3::jsonb)) END,"
		" CASE WHEN $4::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($4::jsonb)) END,"
		" CASE WHEN $5::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text($5::jsonb)) END,"
		" $6::jsonb)";
	char *cats[SG_ATTR_NCAT];
	const char *params[6];
	PGresult *res;
	bool got;

	params[0] = obj->present ? "true" : "false";
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		params[1 + c] = cats[c] = sg_test_cat_param(obj, (enum sg_attr_cat) c);
	params[5] = caller_json;
	res = PQexecParams(conn, sql, 6, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "sg_acl_check failed: %s", PQresultErrorMessage(res));
	ck_assert(!PQgetisnull(res, 0, 0));
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	for (int c = 0; c < SG_ATTR_NCAT; c++)
		free(cats[c]);
	return got;
}

START_TEST(test_sql_agreement)
{
	PGconn *conn = PQconnectdb(getenv("SG_TEST_DATABASE_URL"));
	size_t n = 0;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(conn));
	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		const struct acl_case *c = &cases[i];
		struct sg_attrs obj, caller;
		json_t *full;
		char *full_text;
		bool want_c, got_sql;

		parse_attrs(c->obj, &obj);
		parse_attrs(c->caller, &caller);
		want_c = acl_check(&obj, &caller);
		ck_assert_msg(want_c == c->want, "%s: C disagrees with the table", c->name);
		/* The caller as the auth service wrote it … */
		got_sql = sql_check(conn, &obj, c->caller);
		ck_assert_msg(got_sql == want_c, "%s: sg_acl_check = %d, acl_check = %d (caller %s)", c->name, got_sql,
			      want_c, c->caller ? c->caller : "NULL");
		/* … and as acl_attrs_to_json writes it (all four keys, nulls). */
		full = acl_attrs_to_json(&caller);
		full_text = sg_json_dump(full);
		got_sql = sql_check(conn, &obj, json_is_null(full) ? NULL : full_text);
		ck_assert_msg(got_sql == want_c, "%s: sg_acl_check = %d, acl_check = %d (caller %s)", c->name, got_sql,
			      want_c, full_text);
		free(full_text);
		json_decref(full);
		acl_attrs_free(&obj);
		acl_attrs_free(&caller);
		n++;
	}
	/* '{}' and NULL are both "no attributes" to SQL as to C. */
	{
		struct sg_attrs allnull;

		parse_attrs("{}", &allnull);
		ck_assert(!sql_check(conn, &allnull, "{}"));
		ck_assert(!sql_check(conn, &allnull, NULL));
		acl_attrs_free(&allnull);
	}
	ck_assert_uint_eq(n, SG_ARRAY_LEN(cases));
	PQfinish(conn);
}
END_TEST

Suite *
acl_suite(void)
{
	const char *db = getenv("SG_TEST_DATABASE_URL");
	const TTest *const core[] = {test_from_json_errors,
				     test_from_json_shapes,
				     test_to_json,
				     test_copy_automatic,
				     test_merge,
				     test_empty,
				     test_category_names,
				     NULL};
	const struct sg_loop core_loops[] = {SG_LOOP(test_table, cases), SG_LOOP(test_within, within), {.t = NULL}};
	const TTest *const sql[] = {test_sql_agreement, NULL};
	/* The SQL function's agreement with acl_check() needs a database: that case only when one is given. */
	const struct sg_tcase tcases[] = {{.name = "core", .tests = core, .loops = core_loops},
					  {.name = db != NULL && db[0] != '\0' ? "sql_agreement" : NULL, .tests = sql},
					  {.name = NULL}};

	return sg_suite_new("acl", tcases);
}
