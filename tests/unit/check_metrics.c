/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_metrics.c: the metrics area and its exposition: the text format
 * (HELP and TYPE per family, samples under their family), histogram buckets,
 * model label bounding, retire folding (counters survive a worker, gauges do
 * not), disabled metrics, Server-Timing, and the JSON log lines.
 */
#include "config.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "metrics_int.h"
#include "registry.h"
#include "route.h"
#include "shm.h"
#include "suites.h"

static struct sg_conf conf;

static void
map_with(bool enabled, int max_models)
{
	shm_reset();
	memset(&conf, 0, sizeof(conf));
	conf.metrics_enabled = enabled;
	conf.metrics_max_models = max_models;
	ck_assert_int_eq(metrics_declare(&conf), SG_OK);
	ck_assert_int_eq(shm_map(), SG_OK);
}

/* Forgets the area too, so no later suite's mapping is written through a stale layout. */
static void
teardown(void)
{
	memset(&conf, 0, sizeof(conf));
	ck_assert_int_eq(metrics_declare(&conf), SG_OK);
	shm_reset();
}

static const struct route *
find_route(enum sg_method m, const char *pattern)
{
	size_t n;
	const struct route *rt = route_table(&n);

	for (size_t i = 0; i < n; i++)
		if (rt[i].method == m && strcmp(rt[i].pattern, pattern) == 0)
			return &rt[i];
	ck_abort_msg("no route %s", pattern);
	return NULL;
}

/* One request on route (NULL: unmatched) with status, lasting about dur_us. */
static void
fake_request(struct request *r, const struct route *route, enum sg_method m, int status, int64_t dur_us)
{
	memset(r, 0, sizeof(*r));
	r->route = route;
	r->method = m;
	r->start_us = sg_now_us() - dur_us;
	metrics_enter(r);
	r->final_status = status;
}

static char *
render(void)
{
	struct metrics_snapshot *s = metrics_snapshot_new();
	struct sg_buf b = {0};
	size_t objects[SG_RT_COUNT] = {0};

	ck_assert_ptr_nonnull(s);
	objects[SG_RT_MODEL] = 7;
	ck_assert(metrics_render(s, objects, &b));
	metrics_snapshot_free(s);
	return b.p;
}

/* The value of the sample line that starts with series followed by a space; -1 when absent. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

START_TEST(test_exposition_format)
{
	struct request r;
	char *text, *copy, *line, *save = NULL, family[128] = "";
	int families = 0;
	bool typed = false;

	map_with(true, 4);
	fake_request(&r, find_route(SG_GET, "/v1/models"), SG_GET, 200, 3000);
	metrics_record(&r);
	fake_request(&r, find_route(SG_POST, "/v1/models"), SG_POST, 409, 3000);
	metrics_record(&r);
	fake_request(&r, NULL, SG_DELETE, 404, 10);
	metrics_record(&r);
	text = render();

	ck_assert_double_eq(
		sample(text, "stackgate_requests_total{route=\"/v1/models\",method=\"GET\",status=\"200\"}"), 1);
	ck_assert_double_eq(
		sample(text, "stackgate_requests_total{route=\"/v1/models\",method=\"POST\",status=\"409\"}"), 1);
	ck_assert_double_eq(
		sample(text, "stackgate_requests_total{route=\"unmatched\",method=\"DELETE\",status=\"404\"}"), 1);
	/* GET and POST /v1/models share a pattern: one {route} series of two requests of ~3 ms. */
	ck_assert_double_eq(
		sample(text, "stackgate_request_duration_seconds_bucket{route=\"/v1/models\",le=\"0.0025\"}"), 0);
	ck_assert_double_eq(sample(text, "stackgate_request_duration_seconds_bucket{route=\"/v1/models\",le=\"300\"}"),
			    2);
	ck_assert_double_eq(sample(text, "stackgate_request_duration_seconds_bucket{route=\"/v1/models\",le=\"+Inf\"}"),
			    2);
	ck_assert_double_eq(sample(text, "stackgate_request_duration_seconds_count{route=\"/v1/models\"}"), 2);
	ck_assert(sample(text, "stackgate_request_duration_seconds_sum{route=\"/v1/models\"}") >= 0.006);
	ck_assert_double_eq(sample(text, "stackgate_inflight_requests{route=\"/v1/models\"}"), 0);
	ck_assert_double_eq(sample(text, "stackgate_registry_objects{type=\"model\"}"), 7);
	ck_assert_double_eq(sample(text, "stackgate_build_info{version=\"" PACKAGE_VERSION "\"}"), 1);
	ck_assert_double_eq(sample(text, "stackgate_worker_restarts_total"), 0);
	ck_assert_double_eq(sample(text, "stackgate_rate_limited_total{reason=\"rpm\"}"), 0);
	ck_assert_double_eq(sample(text, "stackgate_usage_rows_dropped_total"), 0);

	/* Every family: HELP then TYPE, then only its own samples; names as the issue gives them. */
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", family), 1);
			typed = false;
			families++;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			char type[32];

			ck_assert_int_eq(sscanf(line + 7, "%127s %31s", name, type), 2);
			ck_assert_str_eq(name, family);
			if (strcmp(type, "counter") == 0)
				ck_assert_msg(strstr(family, "_total") != NULL, "counter %s lacks _total", family);
			typed = true;
		} else {
			size_t n = strcspn(line, "{ "), f = strlen(family);

			ck_assert_msg(typed, "sample before its TYPE: %s", line);
			snprintf(name, sizeof(name), "%.*s", (int) n, line);
			ck_assert_msg(strncmp(name, family, f) == 0 &&
					      (name[f] == '\0' || strcmp(name + f, "_bucket") == 0 ||
					       strcmp(name + f, "_sum") == 0 || strcmp(name + f, "_count") == 0),
				      "sample %s outside family %s", line, family);
		}
	}
	ck_assert_int_eq(families, 17);
	/* No series twice (Prometheus refuses such a scrape): compare every sample's name and labels. */
	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		size_t n = strcspn(p, " ");

		if (*p == '#')
			continue;
		for (const char *q = strchr(p, '\n') + 1; *q; q = strchr(q, '\n') + 1)
			ck_assert_msg(!(strncmp(p, q, n) == 0 && q[n] == ' '), "series twice: %.*s", (int) n, p);
	}
	for (const char *const *f =
		     (const char *const[]){"stackgate_requests_total", "stackgate_request_duration_seconds",
					   "stackgate_upstream_duration_seconds",
					   "stackgate_time_to_first_token_seconds", "stackgate_tokens_total",
					   "stackgate_inflight_requests", "stackgate_streams_open", "stackgate_threads",
					   "stackgate_upstream_errors_total", "stackgate_registry_cache_hits_total",
					   "stackgate_registry_cache_misses_total", "stackgate_registry_objects",
					   "stackgate_db_errors_total", "stackgate_worker_restarts_total",
					   "stackgate_build_info", "stackgate_rate_limited_total",
					   "stackgate_usage_rows_dropped_total", NULL};
	     *f != NULL; f++) {
		char want[160];

		snprintf(want, sizeof(want), "# TYPE %s ", *f);
		ck_assert_msg(strstr(text, want) != NULL, "no family %s", *f);
	}
	free(copy);
	free(text);
}
END_TEST

START_TEST(test_histogram_buckets)
{
	ck_assert_uint_eq(metrics_bucket(0), 0);
	ck_assert_uint_eq(metrics_bucket(1000), 0); /* le is inclusive: 1 ms is in le="0.001" */
	ck_assert_uint_eq(metrics_bucket(1001), 1);
	ck_assert_uint_eq(metrics_bucket(2500), 1);
	ck_assert_uint_eq(metrics_bucket(1000000), 9); /* 1 s */
	ck_assert_uint_eq(metrics_bucket(300000000), METRICS_NBOUNDS - 1);
	ck_assert_uint_eq(metrics_bucket(300000001), METRICS_NBOUNDS); /* +Inf */
	for (size_t i = 1; i < METRICS_NBOUNDS; i++)
		ck_assert(metrics_bounds[i] > metrics_bounds[i - 1]);
	ck_assert_uint_eq(metrics_status_index(200), 0);
	ck_assert_str_eq(metrics_status_label(metrics_status_index(418), (char[16]){0}, 16), "4xx");
	ck_assert_str_eq(metrics_status_label(metrics_status_index(599), (char[16]){0}, 16), "5xx");
	ck_assert_str_eq(metrics_status_label(metrics_status_index(429), (char[16]){0}, 16), "429");
	ck_assert_str_eq(metrics_status_label(metrics_status_index(0), (char[16]){0}, 16), "5xx");
}
END_TEST

static void
inference(struct request *r, const char *provider, const char *model, int64_t prompt, int64_t completion)
{
	fake_request(r, find_route(SG_POST, "/v1/openai/v1/chat/completions"), SG_POST, 200, 20000);
	r->inference.active = true;
	snprintf(r->inference.provider_id, sizeof(r->inference.provider_id), "%s", provider);
	snprintf(r->inference.model, sizeof(r->inference.model), "%s", model);
	r->inference.prompt_tokens = prompt;
	r->inference.completion_tokens = completion;
	r->inference.upstream_start_us = r->start_us + 1000;
	r->inference.upstream_us = 15000;
	r->inference.streamed = true;
	r->inference.ttft_us = 4000;
}

START_TEST(test_model_labels_bounded)
{
	struct request r;
	char *text;

	map_with(true, 2);
	inference(&r, "vllm", "a", 10, 5);
	metrics_record(&r);
	inference(&r, "vllm", "b\"q\\", 1, 1);
	metrics_record(&r);
	inference(&r, "vllm", "c", 100, 50); /* the table is full: counted as other */
	metrics_record(&r);
	inference(&r, "vllm", "a", 10, 5); /* a known pair keeps its label */
	r.final_status = 502;
	r.inference.upstream_status = 503;
	metrics_record(&r);
	text = render();

	ck_assert_double_eq(sample(text, "stackgate_tokens_total{model=\"a\",kind=\"prompt\"}"), 20);
	ck_assert_double_eq(sample(text, "stackgate_tokens_total{model=\"a\",kind=\"completion\"}"), 10);
	ck_assert_double_eq(sample(text, "stackgate_tokens_total{model=\"b\\\"q\\\\\",kind=\"prompt\"}"), 1);
	ck_assert_double_eq(sample(text, "stackgate_tokens_total{model=\"other\",kind=\"prompt\"}"), 100);
	ck_assert_ptr_null(strstr(text, "model=\"c\""));
	ck_assert_double_eq(sample(text, "stackgate_upstream_duration_seconds_count{provider=\"vllm\",model=\"a\"}"),
			    2);
	ck_assert_double_eq(
		sample(text, "stackgate_upstream_duration_seconds_bucket{provider=\"vllm\",model=\"a\",le=\"0.01\"}"),
		0);
	ck_assert_double_eq(
		sample(text, "stackgate_upstream_duration_seconds_bucket{provider=\"vllm\",model=\"a\",le=\"0.025\"}"),
		2);
	ck_assert_double_eq(
		sample(text,
		       "stackgate_time_to_first_token_seconds_bucket{provider=\"vllm\",model=\"a\",le=\"0.005\"}"),
		2);
	ck_assert_double_eq(
		sample(text, "stackgate_upstream_duration_seconds_count{provider=\"other\",model=\"other\"}"), 1);
	ck_assert_double_eq(sample(text, "stackgate_upstream_errors_total{provider=\"vllm\",kind=\"status_5xx\"}"), 1);
	free(text);
}
END_TEST

START_TEST(test_retire_folds_counters)
{
	struct request r, open_one;
	int slot;
	char *text;

	map_with(true, 4);
	slot = shm_slot_take();
	ck_assert_int_gt(slot, 0);
	shm_slot_enter(slot);
	metrics_worker_threads(8);
	for (int i = 0; i < 3; i++) {
		fake_request(&r, find_route(SG_GET, "/v1/health"), SG_GET, 200, 100);
		metrics_record(&r);
	}
	metrics_cache_lookup(true);
	metrics_db_error();
	fake_request(&open_one, find_route(SG_GET, "/v1/health"), SG_GET, 200, 100); /* in flight when it dies */
	metrics_stream_open(&open_one);
	text = render();
	ck_assert_double_eq(sample(text, "stackgate_inflight_requests{route=\"/v1/health\"}"), 1);
	ck_assert_double_eq(sample(text, "stackgate_streams_open"), 1);
	ck_assert_double_eq(sample(text, "stackgate_threads{state=\"busy\"}"), 1);
	ck_assert_double_eq(sample(text, "stackgate_threads{state=\"idle\"}"), 7);
	free(text);

	/* The worker is killed and reaped: its counters stay, its gauges go. */
	shm_slot_enter(0);
	shm_slot_release(slot);
	metrics_worker_restarted();
	text = render();
	ck_assert_double_eq(
		sample(text, "stackgate_requests_total{route=\"/v1/health\",method=\"GET\",status=\"200\"}"), 3);
	ck_assert_double_eq(sample(text, "stackgate_request_duration_seconds_count{route=\"/v1/health\"}"), 3);
	ck_assert_double_eq(sample(text, "stackgate_registry_cache_hits_total"), 1);
	ck_assert_double_eq(sample(text, "stackgate_db_errors_total"), 1);
	ck_assert_double_eq(sample(text, "stackgate_inflight_requests{route=\"/v1/health\"}"), 0);
	ck_assert_double_eq(sample(text, "stackgate_streams_open"), 0);
	ck_assert_double_eq(sample(text, "stackgate_threads{state=\"idle\"}"), 0);
	ck_assert_double_eq(sample(text, "stackgate_worker_restarts_total"), 1);
	free(text);

	/* A new worker in the same slot adds to them. */
	slot = shm_slot_take();
	shm_slot_enter(slot);
	fake_request(&r, find_route(SG_GET, "/v1/health"), SG_GET, 200, 100);
	metrics_record(&r);
	text = render();
	ck_assert_double_eq(
		sample(text, "stackgate_requests_total{route=\"/v1/health\",method=\"GET\",status=\"200\"}"), 4);
	free(text);
	shm_slot_enter(0);
}
END_TEST

static void *
record_many(void *arg)
{
	struct request r;

	(void) arg;
	for (int i = 0; i < 5000; i++) {
		char model[16];

		snprintf(model, sizeof(model), "m%d", i % 8);
		inference(&r, "vllm", model, 1, 2);
		metrics_record(&r);
	}
	return NULL;
}

/* Threads of one worker record at once: no count is lost and no label is claimed twice. */
START_TEST(test_concurrent_recording)
{
	pthread_t t[4];
	char *text;
	int labels = 0;

	map_with(true, 16);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	text = render();
	ck_assert_double_eq(
		sample(text,
		       "stackgate_requests_total{route=\"/v1/openai/v1/chat/completions\",method=\"POST\",status=\"200\"}"),
		20000);
	ck_assert_double_eq(sample(text, "stackgate_tokens_total{model=\"m3\",kind=\"completion\"}"), 5000);
	for (size_t i = 0; i < metrics_layout.nmodels; i++)
		labels += metrics_labels()[i].state == 2;
	ck_assert_int_eq(labels, 8);
	ck_assert_ptr_null(strstr(text, "model=\"other\""));
	free(text);
}
END_TEST

START_TEST(test_disabled)
{
	struct request r;

	map_with(false, 256);
	ck_assert(!metrics_on());
	fake_request(&r, find_route(SG_GET, "/v1/health"), SG_GET, 200, 100);
	metrics_record(&r);
	metrics_cache_lookup(false);
	ck_assert_ptr_null(metrics_snapshot_new());
}
END_TEST

START_TEST(test_server_timing)
{
	struct request r;
	char buf[128];

	memset(&r, 0, sizeof(r));
	r.start_us = sg_now_us() - 50000;
	ck_assert(!metrics_server_timing(&r, buf, sizeof(buf))); /* no upstream call */
	r.inference.upstream_start_us = r.start_us + 2000;
	r.inference.upstream_us = 40000;
	ck_assert(metrics_server_timing(&r, buf, sizeof(buf)));
	ck_assert_msg(strncmp(buf, "gateway;dur=", 12) == 0, "%s", buf);
	ck_assert_msg(strstr(buf, ", upstream;dur=40.000") != NULL, "%s", buf);
	ck_assert(strtod(buf + 12, NULL) >= 10.0);
	/* Three decimals, zero-padded. */
	r.inference.upstream_us = 5;
	r.start_us = sg_now_us() - 1000;
	r.inference.upstream_start_us = r.start_us;
	ck_assert(metrics_server_timing(&r, buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, ", upstream;dur=0.005") != NULL, "%s", buf);
	r.start_us = sg_now_us() - 2000000;
	r.inference.upstream_us = 1234567;
	ck_assert(metrics_server_timing(&r, buf, sizeof(buf)));
	ck_assert_msg(strstr(buf, ", upstream;dur=1234.567") != NULL, "%s", buf);
	ck_assert(!metrics_server_timing(&r, buf, 16)); /* no room: nothing */
}
END_TEST

/* Runs fn with stderr going to a file; returns what it wrote (caller frees). */
static char *
capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/check_metrics_XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;
	long n;

	ck_assert_int_ge(fd, 0);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t) n + 1);
	ck_assert_int_eq(fread(text, 1, (size_t) n, f), n);
	fclose(f);
	unlink(path);
	return text;
}

static void
log_two_lines(void)
{
	struct request r;

	log_set_format_name("json");
	log_set_request_id("rid-1");
	log_info("say \"hi\"\tto \xff %s", "you\n");
	memset(&r, 0, sizeof(r));
	r.method_name = "POST";
	r.path = (char *) "/v1/openai/v1/chat/completions";
	r.route = find_route(SG_POST, "/v1/openai/v1/chat/completions");
	r.final_status = 200;
	r.start_us = sg_now_us() - 30000;
	r.id.principal = (char *) "alice";
	r.inference.active = true;
	r.inference.kind = "chat";
	snprintf(r.inference.model, sizeof(r.inference.model), "m1");
	snprintf(r.inference.provider_id, sizeof(r.inference.provider_id), "vllm");
	r.inference.prompt_tokens = 12;
	r.inference.completion_tokens = 3;
	r.inference.upstream_start_us = r.start_us + 1000;
	r.inference.upstream_us = 20000;
	log_request(&r);
	log_set_request_id(NULL);
	log_set_format_name("text");
}

START_TEST(test_json_log)
{
	char *text = capture_stderr(log_two_lines), *nl;
	json_t *a, *b;

	nl = strchr(text, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	a = json_loads(text, 0, NULL);
	b = json_loads(nl + 1, 0, NULL);
	ck_assert_msg(a != NULL, "not JSON: %s", text);
	ck_assert_msg(b != NULL, "not JSON: %s", nl + 1);
	ck_assert_str_eq(json_string_value(json_object_get(a, "message")), "say \"hi\"\tto ? you\n");
	ck_assert_str_eq(json_string_value(json_object_get(a, "level")), "info");
	ck_assert_str_eq(json_string_value(json_object_get(a, "request_id")), "rid-1");
	ck_assert_str_eq(json_string_value(json_object_get(b, "route")), "/v1/openai/v1/chat/completions");
	ck_assert_str_eq(json_string_value(json_object_get(b, "principal")), "alice");
	ck_assert_str_eq(json_string_value(json_object_get(b, "model")), "m1");
	ck_assert_str_eq(json_string_value(json_object_get(b, "provider")), "vllm");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "status")), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "prompt_tokens")), 12);
	ck_assert_int_eq(json_integer_value(json_object_get(b, "completion_tokens")), 3);
	ck_assert(json_real_value(json_object_get(b, "upstream_ms")) == 20.0);
	ck_assert(json_real_value(json_object_get(b, "duration_ms")) >= 30.0);
	ck_assert_ptr_nonnull(json_object_get(b, "time"));
	json_decref(a);
	json_decref(b);
	free(text);
}
END_TEST

/* The status page's totals (metrics_summary_read): by class, in flight, workers serving, restarts; off: false. */
START_TEST(test_summary)
{
	static const int statuses[] = {200, 201, 404, 429, 418, 500, 503};
	struct metrics_summary m;
	struct request r, open_one;
	int slot;

	map_with(false, 4);
	ck_assert(!metrics_summary_read(&m));
	ck_assert_uint_eq(m.requests, 0);
	map_with(true, 4);
	slot = shm_slot_take();
	ck_assert_int_gt(slot, 0);
	shm_slot_enter(slot);
	metrics_worker_threads(8);
	for (size_t i = 0; i < SG_ARRAY_LEN(statuses); i++) {
		fake_request(&r, find_route(SG_GET, "/v1/models"), SG_GET, statuses[i], 100);
		metrics_record(&r);
	}
	fake_request(&open_one, find_route(SG_GET, "/v1/health"), SG_GET, 200, 100);
	metrics_stream_open(&open_one);
	ck_assert(metrics_summary_read(&m));
	ck_assert_uint_eq(m.requests, 7);
	ck_assert_uint_eq(m.client_errors, 3); /* 404, 429 and 418 (counted by its class) */
	ck_assert_uint_eq(m.server_errors, 2);
	ck_assert_uint_eq(m.in_flight, 1);
	ck_assert_uint_eq(m.open_streams, 1);
	ck_assert_uint_eq(m.workers, 1);
	ck_assert_uint_eq(m.threads, 8);
	/* The worker dies: its counts stay, it no longer serves. */
	shm_slot_enter(0);
	shm_slot_release(slot);
	metrics_worker_restarted();
	ck_assert(metrics_summary_read(&m));
	ck_assert_uint_eq(m.requests, 7);
	ck_assert_uint_eq(m.workers, 0);
	ck_assert_uint_eq(m.in_flight, 0);
	ck_assert_uint_eq(m.restarts, 1);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_exposition_format);
	tcase_add_test(tc, test_histogram_buckets);
	tcase_add_test(tc, test_model_labels_bounded);
	tcase_add_test(tc, test_retire_folds_counters);
	tcase_add_test(tc, test_concurrent_recording);
	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_server_timing);
	tcase_add_test(tc, test_json_log);
	tcase_add_test(tc, test_summary);
	suite_add_tcase(s, tc);
	return s;
}
