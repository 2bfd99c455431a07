/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_scoring_builtin.c: the built-in scoring function lists.  Each list is
 * checked against the seed (Llama Stack 2b2db5fbda) three ways: its
 * identifiers in order, a digest of the whole list, and a few strings byte
 * for byte (written here as octal bytes, independent of how the module spells
 * them); and every definition must pass stackgate's own register builder
 * unchanged.  No I/O.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "conf.h"
#include "resources.h"
#include "scoring_builtin.h"
#include "suites.h"

/* The seed's lists (list_scoring_functions() of each provider), in order: identifier, provider_resource_id. */
static const struct {
	const char *type;
	const char *ids[10][2];
} seed_lists[] = {
	{"inline::basic",
	 {{"basic::equality", "equality"},
	  {"basic::subset_of", "subset-of"},
	  {"basic::regex_parser_multiple_choice_answer", "regex-parser-multiple-choice-answer"},
	  {"basic::regex_parser_math_response", "regex-parser-math-response"},
	  {"basic::bfcl", "bfcl"},
	  {"basic::ifeval", "ifeval"},
	  {"basic::docvqa", "docvqa"}}},
	{"inline::llm-as-judge",
	 {{"llm-as-judge::base", "llm-as-judge-base"}, {"llm-as-judge::405b-simpleqa", "llm-as-judge-405b-simpleqa"}}},
	{"inline::braintrust",
	 {{"braintrust::factuality", "factuality"},
	  {"braintrust::answer-correctness", "answer-correctness"},
	  {"braintrust::answer-relevancy", "answer-relevancy"},
	  {"braintrust::answer-similarity", "answer-similarity"},
	  {"braintrust::faithfulness", "faithfulness"},
	  {"braintrust::context-entity-recall", "context-entity-recall"},
	  {"braintrust::context-precision", "context-precision"},
	  {"braintrust::context-recall", "context-recall"},
	  {"braintrust::context-relevancy", "context-relevancy"}}},
};

static json_t *
defs_ok(const char *type, const char *provider_id)
{
	json_t *defs = scoring_builtin_defs(type, provider_id);

	ck_assert_ptr_nonnull(defs);
	ck_assert(json_is_array(defs));
	return defs;
}

START_TEST(test_lists_match_seed)
{
	for (size_t t = 0; t < SG_ARRAY_LEN(seed_lists); t++) {
		json_t *defs = defs_ok(seed_lists[t].type, "p");
		size_t n = 0, i;
		json_t *def;

		while (n < SG_ARRAY_LEN(seed_lists[t].ids) && seed_lists[t].ids[n][0] != NULL)
			n++;
		ck_assert_msg(json_array_size(defs) == n, "%s: %zu defs, the seed has %zu", seed_lists[t].type,
			      json_array_size(defs), n);
		json_array_foreach(defs, i, def) {
			ck_assert_str_eq(json_string_value(json_object_get(def, "scoring_fn_id")),
					 seed_lists[t].ids[i][0]);
			ck_assert_str_eq(json_string_value(json_object_get(def, "provider_scoring_fn_id")),
					 seed_lists[t].ids[i][1]);
		}
		ck_assert(scoring_builtin_known(seed_lists[t].type));
		json_decref(defs);
	}
}
END_TEST

START_TEST(test_identifiers_unique)
{
	json_t *seen = json_object();
	size_t total = 0;

	for (size_t t = 0; t < SG_ARRAY_LEN(seed_lists); t++) {
		json_t *defs = defs_ok(seed_lists[t].type, "p"), *def;
		size_t i;

		json_array_foreach(defs, i, def) {
			const char *id = json_string_value(json_object_get(def, "scoring_fn_id"));

			ck_assert_ptr_nonnull(id);
			ck_assert_msg(json_object_get(seen, id) == NULL, "%s listed twice", id);
			ck_assert_int_eq(json_object_set_new(seen, id, json_true()), 0);
			total++;
		}
		json_decref(defs);
	}
	ck_assert_uint_eq(total, 18);
	json_decref(seen);
}
END_TEST

START_TEST(test_unknown_type)
{
	const char *unknown[] = {"remote::braintrust", "inline::basic ", "basic", "", NULL};

	for (size_t i = 0; i < SG_ARRAY_LEN(unknown); i++) {
		json_t *defs = defs_ok(unknown[i], "p");

		ck_assert_uint_eq(json_array_size(defs), 0);
		ck_assert(!scoring_builtin_known(unknown[i]));
		json_decref(defs);
	}
}
END_TEST

/* The configured provider id goes into every body; none leaves the key out. */
START_TEST(test_provider_id)
{
	json_t *defs = defs_ok("inline::braintrust", "bt-eu"), *def;
	size_t i;

	json_array_foreach(defs, i, def)
		ck_assert_str_eq(json_string_value(json_object_get(def, "provider_id")), "bt-eu");
	json_decref(defs);
	defs = defs_ok("inline::basic", NULL);
	ck_assert_uint_eq(json_array_size(defs), 7);
	json_array_foreach(defs, i, def)
		ck_assert_ptr_null(json_object_get(def, "provider_id"));
	json_decref(defs);
}
END_TEST

/*
 * SHA-256 of each list as the seed ships it, in register-body form with the
 * seed's own provider ids: Python's json.dumps(bodies, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False) over
 * {scoring_fn_id: identifier, description, return_type, provider_scoring_fn_id:
 * provider_resource_id, provider_id, params: params.model_dump(), metadata},
 * computed from the seed's fn_defs at 2b2db5fbda.  jansson's compact,
 * key-sorted dump writes the same bytes for these values.
 */
START_TEST(test_seed_digest)
{
	static const struct {
		const char *type, *provider_id, *sha256;
		size_t len;
	} digests[] = {
		{"inline::basic", "basic", "9094e0d7af38c5593edaf42c808f50380844271bc9344fb4b0f4d715fc5e933c", 5986},
		{"inline::llm-as-judge", "llm-as-judge",
		 "b732db1c704bb442c475adb96156c41745ac7ec430826106f29e4a1861704095", 7005},
		{"inline::braintrust", "braintrust", "10a128e81ad6c9c64ceac90a0d9509afdcc2444e7ddd9546f31c70af67ee50eb",
		 3276},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(digests); i++) {
		json_t *defs = defs_ok(digests[i].type, digests[i].provider_id);
		char *text = json_dumps(defs, JSON_COMPACT | JSON_SORT_KEYS);
		unsigned char d[SHA256_DIGEST_LENGTH];
		char hex[2 * SHA256_DIGEST_LENGTH + 1];

		ck_assert_ptr_nonnull(text);
		SHA256((const unsigned char *) text, strlen(text), d);
		/* Upper-case hex, hence strcasecmp. */
		ck_assert(OPENSSL_buf2hexstr_ex(hex, sizeof(hex), NULL, d, sizeof(d), '\0') == 1);
		ck_assert_msg(strlen(text) == digests[i].len && strcasecmp(hex, digests[i].sha256) == 0,
			      "%s: %zu bytes, sha256 %s; the seed's: %zu bytes, %s", digests[i].type, strlen(text), hex,
			      digests[i].len, digests[i].sha256);
		free(text);
		json_decref(defs);
	}
}
END_TEST

/* The def of identifier id in type's list (borrowed from defs). */
static json_t *
def_of(json_t *defs, const char *id)
{
	json_t *def;
	size_t i;

	json_array_foreach(defs, i, def)
		if (strcmp(json_string_value(json_object_get(def, "scoring_fn_id")), id) == 0)
			return def;
	ck_abort_msg("%s not listed", id);
	return NULL;
}

/* Strings the seed writes with raw strings, invisible and decomposed characters, as bytes. */
START_TEST(test_strings_byte_for_byte)
{
	/* MULTILINGUAL_ANSWER_PATTERN_TEMPLATE's choice class, after each prefix. */
#define CHOICES                                                                                                      \
	"\\s*([A-D]|[\330\243-\330\257]|[\340\246\205]|[\340\246\254]|[\340\246\241]|[\340\246\242]|[\357\274\241]|" \
	"[\357\274\242]|[\357\274\243]|[\357\274\244])"
	static const char korean[] =
		"(?i)Answer\\s*:\342\200\213\342\200\213\342\200\213\342\200\213\342\200\213"
		"\342\200\213" CHOICES;
	static const char yoruba[] = "(?i)A\314\200m\341\273\215\314\200na\314\200\\s*:" CHOICES;
	static const char first[] = "(?i)The best answer is " CHOICES;
	static const char math[] = ".*final answer is:?\\s*\\$\\\\boxed{(?P<X>.*)}\\$";
	static const char tmpl_start[] =
		"Your job is to look at a question, a gold target, and a predicted answer, and then assign a grade of "
		"either [\"CORRECT\", \"INCORRECT\", \"NOT_ATTEMPTED\"].\nFirst, I ";
	static const char tmpl_end[] = "return the letters \"A\", \"B\", or \"C\", with no text around it.";
#undef CHOICES
	json_t *basic = defs_ok("inline::basic", "basic"), *judge = defs_ok("inline::llm-as-judge", "j");
	json_t *mc =
		json_object_get(json_object_get(def_of(basic, "basic::regex_parser_multiple_choice_answer"), "params"),
				"parsing_regexes");
	json_t *sqa = json_object_get(def_of(judge, "llm-as-judge::405b-simpleqa"), "params");
	const char *t = json_string_value(json_object_get(sqa, "prompt_template"));

	ck_assert_uint_eq(json_array_size(mc), 42);
	ck_assert_str_eq(json_string_value(json_array_get(mc, 0)), first);
	ck_assert_str_eq(json_string_value(json_array_get(mc, 2)), korean);
	ck_assert_str_eq(json_string_value(json_array_get(mc, 38)), yoruba);
	/* The seed lists the Bengali prefix twice (entries 3 and 6). */
	ck_assert_str_eq(json_string_value(json_array_get(mc, 3)), json_string_value(json_array_get(mc, 6)));
	ck_assert_str_eq(
		json_string_value(json_array_get(
			json_object_get(json_object_get(def_of(basic, "basic::regex_parser_math_response"), "params"),
					"parsing_regexes"),
			0)),
		math);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), 5960);
	ck_assert_int_eq(strncmp(t, tmpl_start, strlen(tmpl_start)), 0);
	ck_assert_str_eq(t + strlen(t) - strlen(tmpl_end), tmpl_end);
	ck_assert_ptr_nonnull(strstr(t,
				     "```\nQuestion: {input_query}\nGold target: {expected_answer}\n"
				     "Predicted answer: {generated_answer}\n```\n"));
	json_decref(basic);
	json_decref(judge);
}
END_TEST

/* Scoring functions refer to nothing: the builder must not look anything up. */
static sg_status
no_lookup(void *ctx, enum sg_rtype t, const char *identifier, json_t **out)
{
	(void) ctx;
	(void) t;
	*out = NULL;
	ck_abort_msg("unexpected lookup of %s", identifier);
	return SG_E_INTERNAL;
}

/* Every def of every known type, as the lead will pass it, builds unchanged into the object it describes. */
START_TEST(test_builder_accepts_every_def)
{
	static const char conf_text[] =
		"{\"providers\": {\"scoring\": ["
		"{\"provider_id\": \"basic-1\", \"provider_type\": \"inline::basic\", \"config\": {}},"
		"{\"provider_id\": \"judge\", \"provider_type\": \"inline::llm-as-judge\", \"config\": {}},"
		"{\"provider_id\": \"bt\", \"provider_type\": \"inline::braintrust\", \"config\": {}}]}}";
	struct sg_conf *conf = sg_test_conf(conf_text);
	size_t built = 0;

	for (size_t p = 0; p < conf->nproviders; p++) {
		const struct sg_provider *prov = &conf->providers[p];
		json_t *defs = defs_ok(prov->provider_type, prov->provider_id), *def;
		size_t i;

		ck_assert_uint_gt(json_array_size(defs), 0);
		json_array_foreach(defs, i, def) {
			char *before = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS), *after;
			struct sg_err err;
			json_t *obj = NULL;
			sg_status st = resources_build(SG_RT_SCORING_FN, conf, NULL, def, no_lookup, NULL, &obj, &err);
			const char *id = json_string_value(json_object_get(def, "scoring_fn_id"));

			ck_assert_msg(st == SG_OK, "%s: %s: %s (%s)", id, sg_status_name(st), err.msg, err.param);
			ck_assert_str_eq(json_string_value(json_object_get(obj, "identifier")), id);
			ck_assert_str_eq(json_string_value(json_object_get(obj, "provider_id")), prov->provider_id);
			ck_assert_str_eq(json_string_value(json_object_get(obj, "provider_resource_id")),
					 json_string_value(json_object_get(def, "provider_scoring_fn_id")));
			ck_assert_str_eq(json_string_value(json_object_get(obj, "type")), "scoring_function");
			ck_assert(json_equal(json_object_get(obj, "description"), json_object_get(def, "description")));
			ck_assert(json_equal(json_object_get(obj, "return_type"), json_object_get(def, "return_type")));
			ck_assert_msg(json_equal(json_object_get(obj, "params"), json_object_get(def, "params")),
				      "%s: the builder changed params", id);
			ck_assert(json_equal(json_object_get(obj, "metadata"), json_object_get(def, "metadata")));
			ck_assert(json_is_null(json_object_get(obj, "access_attributes")));
			/* The builder borrows the body: it stays as it was. */
			after = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
			ck_assert_str_eq(after, before);
			free(before);
			free(after);
			json_decref(obj);
			built++;
		}
		json_decref(defs);
	}
	ck_assert_uint_eq(built, 18);
	conf_free(conf);
}
END_TEST

Suite *
scoring_builtin_suite(void)
{
	const TTest *const core[] = {test_lists_match_seed,
				     test_identifiers_unique,
				     test_unknown_type,
				     test_provider_id,
				     test_seed_digest,
				     test_strings_byte_for_byte,
				     test_builder_accepts_every_def,
				     NULL};
	const struct sg_tcase tcases[] = {{.name = "core", .tests = core}, {.name = NULL}};

	return sg_suite_new("scoring_builtin", tcases);
}
