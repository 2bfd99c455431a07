/* SPDX-License-Identifier: Apache-2.0 */
/* check_router.c: deployment choice, weights, cooldown windows, the retry decision table, fallback cycles. */
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "router.h"
#include "suites.h"

static double
dabs(double x)
{
	return x < 0 ? -x : x;
}

static const struct router_settings rs = {
	.max_retries = 2, .cooldown_failures = 3, .cooldown_window_ms = 30000, .cooldown_ms = 60000};

START_TEST(weighted_choice_follows_weights)
{
	struct router_candidate c[3] = {{.weight = 3}, {.weight = 1}, {.weight = 6}};
	int counts[3] = {0};
	const int draws = 10000;

	/* rnd stepping evenly over [0, 1): each candidate gets exactly its share. */
	for (int i = 0; i < draws; i++) {
		int k = router_choose(ROUTER_WEIGHTED, c, 3, (i + 0.5) / draws);

		ck_assert_int_ge(k, 0);
		counts[k]++;
	}
	ck_assert_int_eq(counts[0], 3000);
	ck_assert_int_eq(counts[1], 1000);
	ck_assert_int_eq(counts[2], 6000);
	/* The thread's generator, over many draws: within a few points. */
	memset(counts, 0, sizeof(counts));
	for (int i = 0; i < draws; i++)
		counts[router_choose(ROUTER_WEIGHTED, c, 3, router_random())]++;
	ck_assert(dabs(counts[0] / (double) draws - 0.3) < 0.03);
	ck_assert(dabs(counts[1] / (double) draws - 0.1) < 0.03);
	ck_assert(dabs(counts[2] / (double) draws - 0.6) < 0.03);
}
END_TEST

START_TEST(choice_prefers_untried_then_warm)
{
	struct router_candidate c[3] = {{.weight = 1, .tried = true}, {.weight = 1, .cooled = true}, {.weight = 1}};

	/* Untried and warm first, whatever the strategy. */
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 3, 0.0), 2);
	ck_assert_int_eq(router_choose(ROUTER_WEIGHTED, c, 3, 0.0), 2);
	ck_assert_int_eq(router_choose(ROUTER_LEAST_BUSY, c, 3, 0.0), 2);
	/* Every untried one cooling: tried anyway rather than failing. */
	c[2].tried = true;
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 3, 0.9), 1);
	/* Everything tried: again over all, warm ones first. */
	c[1].tried = true;
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 3, 0.0), 0);
	c[0].cooled = true;
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 3, 0.0), 2);
	c[2].cooled = true;
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 3, 0.0), 0);
	ck_assert_int_eq(router_choose(ROUTER_ORDERED, c, 0, 0.0), -1);
}
END_TEST

START_TEST(least_busy_takes_the_idlest)
{
	struct router_candidate c[3] = {{.weight = 1, .busy = 5}, {.weight = 1, .busy = 2}, {.weight = 9, .busy = 2}};

	ck_assert_int_eq(router_choose(ROUTER_LEAST_BUSY, c, 3, 0.99), 1); /* ties to the first */
	c[1].busy = 7;
	ck_assert_int_eq(router_choose(ROUTER_LEAST_BUSY, c, 3, 0.0), 2);
}
END_TEST

START_TEST(plan_reads_deployments_or_the_one_provider)
{
	json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:i},{s:s,s:s}]}", "identifier", "m", "provider_id", "a",
			      "provider_resource_id", "ra", "routing", "ordered", "deployments", "provider_id", "a",
			      "provider_model_id", "ra", "weight", 4, "provider_id", "b", "provider_model_id", "rb");
	struct router_plan p;

	ck_assert(router_plan_of(m, &p));
	ck_assert_int_eq((int) p.n, 2);
	ck_assert_int_eq(p.strategy, ROUTER_ORDERED);
	ck_assert_str_eq(p.d[1].provider_id, "b");
	ck_assert_int_eq(p.d[0].weight, 4);
	ck_assert_int_eq(p.d[1].weight, 1);
	ck_assert(p.d[0].key != p.d[1].key);
	json_object_del(m, "deployments");
	json_object_del(m, "routing");
	ck_assert(router_plan_of(m, &p));
	ck_assert_int_eq((int) p.n, 1);
	ck_assert_int_eq(p.strategy, ROUTER_WEIGHTED);
	ck_assert_str_eq(p.d[0].provider_model, "ra");
	json_decref(m);
	ck_assert(router_key("ab", "c") != router_key("a", "bc"));
}
END_TEST

START_TEST(cooldown_window_counts_and_lifts)
{
	struct router_cool s = {0};

	/* Two failures, then a gap longer than the window: the count starts again. */
	ck_assert(!router_cool_fail(&s, &rs, 1000));
	ck_assert(!router_cool_fail(&s, &rs, 2000));
	ck_assert(!router_cool_fail(&s, &rs, 1000 + 30001));
	ck_assert(!router_cool_active(&s, 31002));
	ck_assert(!router_cool_fail(&s, &rs, 40000));
	/* The third within 30 s of the window's start: cooling for 60 s. */
	ck_assert(router_cool_fail(&s, &rs, 45000));
	ck_assert(router_cool_active(&s, 45000));
	ck_assert(router_cool_active(&s, 45000 + 59999));
	ck_assert(!router_cool_active(&s, 45000 + 60000));
	/* After it lifts, one failure does not cool it again. */
	ck_assert(!router_cool_fail(&s, &rs, 106000));
	ck_assert(!router_cool_active(&s, 106001));
}
END_TEST

START_TEST(cooled_deployment_is_skipped_host_wide)
{
	json_t *m = json_pack("{s:s,s:s,s:s,s:[{s:s,s:s},{s:s,s:s}]}", "identifier", "m", "provider_id", "a", "routing",
			      "ordered", "deployments", "provider_id", "a", "provider_model_id", "x", "provider_id",
			      "b", "provider_model_id", "y");
	struct router_plan p;
	int64_t now = sg_now_us() / 1000;

	router_reset();
	ck_assert(router_plan_of(m, &p));
	ck_assert_int_eq(router_next(&p, now), 0);
	for (int i = 0; i < 3; i++)
		router_note_failure(p.d[0].key, "a", "x", &rs, now);
	ck_assert(router_cooled(p.d[0].key, now + 1));
	ck_assert(router_plan_of(m, &p));
	ck_assert_int_eq(router_next(&p, now + 1), 1); /* the first, cooling, is passed over */
	ck_assert_int_eq(router_next(&p, now + 1), 0); /* then tried rather than failing */
	ck_assert(router_plan_of(m, &p));
	ck_assert_int_eq(router_next(&p, now + 60001), 0); /* lifted */
	router_busy_add(p.d[1].key, 1);
	ck_assert_uint_eq(router_busy(p.d[1].key), 1);
	router_busy_add(p.d[1].key, -1);
	ck_assert_uint_eq(router_busy(p.d[1].key), 0);
	router_reset();
	json_decref(m);
}
END_TEST

/* The retry decision table. */
static const struct retry_row {
	sg_status st;
	long http;
	bool streamed, aborted, retry;
} retry_rows[] = {
	{SG_E_BAD_GATEWAY, 0, false, false, true},     /* refused, reset, unreachable */
	{SG_E_GATEWAY_TIMEOUT, 0, false, false, true}, /* no first byte in time */
	{SG_OK, 429, false, false, true},
	{SG_OK, 500, false, false, true},
	{SG_OK, 503, false, false, true},
	{SG_OK, 599, false, false, true},
	{SG_OK, 200, false, false, false},
	{SG_OK, 400, false, false, false},
	{SG_OK, 401, false, false, false},
	{SG_OK, 404, false, false, false},
	{SG_OK, 422, false, false, false},
	{SG_OK, 300, false, false, false},
	{SG_E_BAD_GATEWAY, 200, false, false, false}, /* cut after the status: the upstream had it */
	{SG_E_GATEWAY_TIMEOUT, 200, false, false, false},
	{SG_E_BAD_GATEWAY, 200, true, false, false}, /* a stream that broke off */
	{SG_OK, 200, true, false, false},
	{SG_OK, 500, false, true, false}, /* the client left */
	{SG_E_BAD_GATEWAY, 0, false, true, false},
	{SG_E_NOMEM, 0, false, false, false},
	{SG_E_INTERNAL, 0, false, false, false},
};

START_TEST(retry_decision_table)
{
	const struct retry_row *row = &retry_rows[_i];

	ck_assert_msg(router_retryable(row->st, row->http, row->streamed, row->aborted) == row->retry,
		      "row %d: st %d http %ld streamed %d aborted %d", _i, (int) row->st, row->http, row->streamed,
		      row->aborted);
}
END_TEST

START_TEST(backoff_and_retry_after)
{
	/* Another deployment: no wait. */
	ck_assert_int_eq(router_backoff_ms(2, 3000, false, 0.5), 0);
	/* Exponential with the upper half jittered. */
	ck_assert_int_eq(router_backoff_ms(2, -1, true, 0.0), 50);
	ck_assert_int_eq(router_backoff_ms(2, -1, true, 0.999), 99);
	ck_assert_int_eq(router_backoff_ms(3, -1, true, 0.0), 100);
	ck_assert_int_eq(router_backoff_ms(20, -1, true, 0.0), 1000);
	ck_assert_int_le(router_backoff_ms(20, -1, true, 0.999), 2000);
	/* Retry-After when longer, bounded by 5 s. */
	ck_assert_int_eq(router_backoff_ms(2, 1000, true, 0.0), 1000);
	ck_assert_int_eq(router_backoff_ms(2, 20000, true, 0.0), ROUTER_RETRY_AFTER_MAX_MS);
	ck_assert_int_eq(router_backoff_ms(2, 0, true, 0.0), 50);

	ck_assert_int_eq(router_retry_after_ms(" 2\r\n", 4, 0), 2000);
	ck_assert_int_eq(router_retry_after_ms("0", 1, 0), 0);
	ck_assert_int_ge(router_retry_after_ms("99999999", 8, 0), 1000L * 1000 * 1000);
	ck_assert_int_eq(router_retry_after_ms("soon", 4, 0), -1);
	ck_assert_int_eq(router_retry_after_ms("", 0, 0), -1);
	ck_assert_int_eq(router_retry_after_ms("-3", 2, 0), -1);
	/* An HTTP date: 3 s after now; one in the past is 0. */
	ck_assert_int_eq(router_retry_after_ms("Wed, 21 Oct 2015 07:28:03 GMT", 29, 1445412480), 3000);
	ck_assert_int_eq(router_retry_after_ms("Wed, 21 Oct 2015 07:28:03 GMT", 29, 1445412490), 0);
}
END_TEST

/* A registry of fallbacks for the cycle check: "a>b,c" means a falls back to b then c. */
static json_t *
table_fallbacks(void *ctx, const char *id)
{
	const char *const *rows = ctx;

	for (size_t i = 0; rows[i] != NULL; i++) {
		const char *gt = strchr(rows[i], '>');

		if (gt != NULL && strlen(id) == (size_t) (gt - rows[i]) && strncmp(rows[i], id, strlen(id)) == 0) {
			json_t *a = json_array();
			char buf[128], *tok, *save = NULL;

			snprintf(buf, sizeof(buf), "%s", gt + 1);
			for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
				json_array_append_new(a, json_string(tok));
			return a;
		}
	}
	return NULL;
}

START_TEST(fallback_cycles_are_found)
{
	const char *const rows[] = {"b>c", "c>d", "d>a", "e>e", "f>g,h", "g>h", "h>g", NULL};
	json_t *fb = json_pack("[s]", "x");
	char via[64] = "";

	/* x is nobody's fallback: no cycle. */
	ck_assert(!router_fallback_cycle("a", fb, table_fallbacks, (void *) rows, via, sizeof(via)));
	/* a -> b -> c -> d -> a */
	json_array_append_new(fb, json_string("b"));
	ck_assert(router_fallback_cycle("a", fb, table_fallbacks, (void *) rows, via, sizeof(via)));
	ck_assert_str_eq(via, "b");
	json_decref(fb);
	/* itself */
	fb = json_pack("[s]", "z");
	ck_assert(router_fallback_cycle("z", fb, table_fallbacks, (void *) rows, via, sizeof(via)));
	json_decref(fb);
	/* a cycle elsewhere (g <-> h) that does not reach self ends */
	fb = json_pack("[s,s]", "f", "e");
	ck_assert(!router_fallback_cycle("a", fb, table_fallbacks, (void *) rows, via, sizeof(via)));
	json_decref(fb);
}
END_TEST

START_TEST(strategy_names_and_settings)
{
	enum router_strategy s;
	struct sg_conf *c;
	struct router_settings got;

	ck_assert(router_strategy_from_name(NULL, &s) && s == ROUTER_WEIGHTED);
	ck_assert(router_strategy_from_name("least-busy", &s) && s == ROUTER_LEAST_BUSY);
	ck_assert(router_strategy_from_name("ordered", &s) && s == ROUTER_ORDERED);
	ck_assert(!router_strategy_from_name("random", &s));
	c = sg_test_conf("{\"router\":{\"max_retries\":4,\"cooldown\":\"7\"}}");
	router_settings_of(c, &got);
	ck_assert_int_eq(got.max_retries, 4);
	ck_assert_int_eq(got.cooldown_failures, 3);
	ck_assert_int_eq((int) got.cooldown_window_ms, 30000);
	ck_assert_int_eq((int) got.cooldown_ms, 7000);
	conf_free(c);
}
END_TEST

Suite *
router_suite(void)
{
	const TTest *const choice[] = {weighted_choice_follows_weights, choice_prefers_untried_then_warm,
				       least_busy_takes_the_idlest,     plan_reads_deployments_or_the_one_provider,
				       strategy_names_and_settings,     NULL};
	const TTest *const cool[] = {cooldown_window_counts_and_lifts, cooled_deployment_is_skipped_host_wide, NULL};
	const TTest *const retry[] = {backoff_and_retry_after, fallback_cycles_are_found, NULL};
	const struct sg_loop retry_loops[] = {SG_LOOP(retry_decision_table, retry_rows), {.t = NULL}};
	const struct sg_tcase tcases[] = {{.name = "choice", .tests = choice},
					  {.name = "cooldown", .tests = cool},
					  {.name = "retry", .tests = retry, .loops = retry_loops},
					  {.name = NULL}};

	return sg_suite_new("router", tcases);
}
