/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_usage.c: the usage module's pure parts (a request's row, prices,
 * the timestamp text, the query filter's checks, the "usage" config keys and
 * a model entry's prices) and its queue's bound: with PostgreSQL out of
 * reach, rows past usage.queue_size are dropped and counted host-wide, and
 * a stop counts what is left.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "conf.h"
#include "shm.h"
#include "suites.h"
#include "usage.h"

/* A finished chat request as the worker holds it at its end. */
static void
fake_request(struct request *r, const char *principal, const char *key_id)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->request_id, sizeof(r->request_id), "rid-1");
	r->path = (char *) "/v1/openai/v1/chat/completions";
	r->id.principal = (char *) principal;
	r->id.key_id = (char *) key_id;
	r->start_us = 1000000;
	r->final_status = 200;
	r->inference = (struct request_inference){.active = true,
						  .kind = "chat",
						  .model = "m",
						  .provider_id = "vllm",
						  .streamed = true,
						  .usage_reported = true,
						  .prompt_tokens = 1000,
						  .completion_tokens = 3000,
						  .total_tokens = 4000,
						  .upstream_status = 200,
						  .upstream_start_us = 1000500,
						  .upstream_us = 40000,
						  .ttft_us = 12000};
}

/* Two rows hold the same values (text up to its NUL; padding and what follows a NUL aside). */
static void
assert_rows_equal(const struct usage_row *a, const struct usage_row *b)
{
	ck_assert_int_eq(a->ts_us, b->ts_us);
	ck_assert_str_eq(a->request_id, b->request_id);
	ck_assert_str_eq(a->principal, b->principal);
	ck_assert_str_eq(a->key_id, b->key_id);
	ck_assert_str_eq(a->model, b->model);
	ck_assert_str_eq(a->provider_id, b->provider_id);
	ck_assert_str_eq(a->route, b->route);
	ck_assert_ptr_eq(a->kind, b->kind);
	ck_assert_int_eq(a->status, b->status);
	ck_assert(a->streamed == b->streamed && a->estimated == b->estimated);
	ck_assert_int_eq(a->prompt_tokens, b->prompt_tokens);
	ck_assert_int_eq(a->completion_tokens, b->completion_tokens);
	ck_assert_int_eq(a->total_tokens, b->total_tokens);
	ck_assert_int_eq(a->latency_us, b->latency_us);
	ck_assert_int_eq(a->ttft_us, b->ttft_us);
	ck_assert_int_eq(a->upstream_us, b->upstream_us);
	ck_assert(a->upstream_called == b->upstream_called);
	ck_assert_int_eq(a->upstream_status, b->upstream_status);
	ck_assert(a->priced == b->priced);
	ck_assert(memcmp(&a->cost, &b->cost, sizeof(a->cost)) == 0);
	ck_assert_int_eq(a->attempts, b->attempts);
	ck_assert_str_eq(a->served_model, b->served_model);
	ck_assert_str_eq(a->provider_model, b->provider_model);
}

/* A queue slot is refilled in place: what the last lap's row left there must not show through. */
START_TEST(row_from_overwrites_a_used_slot)
{
	struct request r;
	struct usage_row *clean = calloc(1, sizeof(*clean)), *used = malloc(sizeof(*used));

	ck_assert(clean != NULL && used != NULL);
	for (int priced = 0; priced < 2; priced++) {
		fake_request(&r, priced ? NULL : "alice", priced ? NULL : "k1");
		r.inference.priced = priced;
		r.inference.input_cost_per_mtok = 2;
		memset(clean, 0, sizeof(*clean));
		memset(used, 0xa5, sizeof(*used));
		usage_row_from(&r, 1050000, 1700000000000000LL, clean);
		usage_row_from(&r, 1050000, 1700000000000000LL, used);
		assert_rows_equal(clean, used);
	}
	free(clean);
	free(used);
}
END_TEST

START_TEST(row_from_a_request)
{
	struct request r;
	struct usage_row row;
	char principal[600];

	fake_request(&r, "alice", "k1");
	usage_row_from(&r, 1050000, 1700000000000000LL, &row);
	/* The row's time is the request's start on the wall clock. */
	ck_assert_int_eq(row.ts_us, 1700000000000000LL - 50000);
	ck_assert_str_eq(row.request_id, "rid-1");
	ck_assert_str_eq(row.principal, "alice");
	ck_assert_str_eq(row.key_id, "k1");
	ck_assert_str_eq(row.model, "m");
	ck_assert_str_eq(row.provider_id, "vllm");
	ck_assert_str_eq(row.route, "/v1/openai/v1/chat/completions");
	ck_assert_int_eq(row.status, 200);
	ck_assert(row.streamed);
	ck_assert(!row.estimated);
	ck_assert_int_eq(row.total_tokens, 4000);
	ck_assert_int_eq(row.latency_us, 50000);
	ck_assert_int_eq(row.ttft_us, 12000);
	ck_assert(row.upstream_called);
	ck_assert_int_eq(row.upstream_us, 40000);
	ck_assert(!row.priced);

	/* Prices per million tokens: 1000 × 2 + 3000 × 10, per million. */
	r.inference.priced = true;
	r.inference.input_cost_per_mtok = 2;
	r.inference.output_cost_per_mtok = 10;
	r.inference.usage_reported = false;
	usage_row_from(&r, 1050000, 1700000000000000LL, &row);
	ck_assert(row.priced);
	ck_assert_double_eq_tol(row.cost, 0.032, 1e-12);
	ck_assert(row.estimated);

	/* Anonymous, no key, no upstream call: empty text (NULL in the table). */
	fake_request(&r, NULL, NULL);
	r.inference.upstream_start_us = 0;
	usage_row_from(&r, 1050000, 1700000000000000LL, &row);
	ck_assert_str_eq(row.principal, "");
	ck_assert_str_eq(row.key_id, "");
	ck_assert(!row.upstream_called);

	/* A principal longer than the field is cut on a character boundary. */
	memset(principal, 'a', sizeof(principal));
	memcpy(principal + 509, "\xc3\xa9\xc3\xa9", 4); /* "éé" across the cut at 511 bytes */
	principal[sizeof(principal) - 1] = '\0';
	fake_request(&r, principal, NULL);
	usage_row_from(&r, 1050000, 1700000000000000LL, &row);
	ck_assert_uint_eq(strlen(row.principal), 511);
	ck_assert_str_eq(row.principal + 509, "\xc3\xa9");
}
END_TEST

START_TEST(prices_from_metadata_or_config)
{
	static const struct {
		const char *model, *conf_models;
		bool priced;
		double in, out;
	} cases[] = {
		{"{\"metadata\":{\"input_cost_per_mtok\":2.5,\"output_cost_per_mtok\":10}}", "[]", true, 2.5, 10},
		/* A string holding a number, as ${env.…} makes them. */
		{"{\"metadata\":{\"input_cost_per_mtok\":\"0.15\"}}", "[]", true, 0.15, 0},
		/* The config's model entry, found by model_id. */
		{"{\"metadata\":{}}",
		 "[{\"model_id\":\"other\",\"input_cost_per_mtok\":9},"
		 "{\"model_id\":\"m\",\"input_cost_per_mtok\":1,\"output_cost_per_mtok\":4}]",
		 true, 1, 4},
		/* Metadata wins, key by key. */
		{"{\"metadata\":{\"output_cost_per_mtok\":7}}",
		 "[{\"model_id\":\"m\",\"input_cost_per_mtok\":1,\"output_cost_per_mtok\":4}]", true, 1, 7},
		{"{\"metadata\":{\"input_cost_per_mtok\":0}}", "[]", true, 0, 0},
		/* No price, or none that is one. */
		{"{\"metadata\":{}}", "[]", false, 0, 0},
		{"{}", "[{\"model_id\":\"other\",\"input_cost_per_mtok\":9}]", false, 0, 0},
		{"{\"metadata\":{\"input_cost_per_mtok\":-1,\"output_cost_per_mtok\":\"cheap\"}}", "[]", false, 0, 0},
		{"{\"metadata\":{\"input_cost_per_mtok\":null}}", "[]", false, 0, 0},
	};

	for (size_t i = 0; i < SG_ARRAY_LEN(cases); i++) {
		json_t *m = json_loads(cases[i].model, 0, NULL), *cm = json_loads(cases[i].conf_models, 0, NULL);
		double in = -1, out = -1;
		bool priced;

		ck_assert_ptr_nonnull(m);
		ck_assert_ptr_nonnull(cm);
		priced = usage_prices(m, cm, "m", &in, &out);
		ck_assert_msg(priced == cases[i].priced, "case %zu", i);
		ck_assert_double_eq_tol(in, cases[i].in, 1e-12);
		ck_assert_double_eq_tol(out, cases[i].out, 1e-12);
		json_decref(m);
		json_decref(cm);
	}
	/* No config models at all. */
	{
		double in, out;
		json_t *m = json_loads("{\"metadata\":{\"input_cost_per_mtok\":3}}", 0, NULL);

		ck_assert(usage_prices(m, NULL, "m", &in, &out));
		ck_assert_double_eq_tol(in, 3, 1e-12);
		json_decref(m);
	}
}
END_TEST

START_TEST(timestamp_text)
{
	char buf[40];

	usage_format_ts(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01 00:00:00.000000+00");
	usage_format_ts(1796083200123456LL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-12-01 00:00:00.123456+00");
	usage_format_ts(951782399999999LL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2000-02-28 23:59:59.999999+00");
}
END_TEST

/* Reads COPY binary fields back: a cursor over the data. */
struct rd {
	const unsigned char *p;
	size_t left;
};

static uint64_t
rd_be(struct rd *c, size_t n)
{
	uint64_t v = 0;

	ck_assert_uint_ge(c->left, n);
	for (size_t i = 0; i < n; i++)
		v = v << 8 | c->p[i];
	c->p += n;
	c->left -= n;
	return v;
}

/* The next field's length (-1: NULL); its bytes stay at c->p. */
static int32_t
rd_len(struct rd *c)
{
	return (int32_t) (uint32_t) rd_be(c, 4);
}

static void
rd_text(struct rd *c, const char *want)
{
	int32_t n = rd_len(c);

	if (want == NULL) {
		ck_assert_int_eq(n, -1);
		return;
	}
	ck_assert_int_eq(n, (int32_t) strlen(want));
	ck_assert(memcmp(c->p, want, (size_t) n) == 0);
	c->p += n;
	c->left -= (size_t) n;
}

static void
rd_int(struct rd *c, size_t size, int64_t want)
{
	ck_assert_int_eq(rd_len(c), (int32_t) size);
	ck_assert_int_eq((int64_t) rd_be(c, size) << (64 - 8 * size) >> (64 - 8 * size), want);
}

static void
rd_float8(struct rd *c, double want)
{
	uint64_t bits;
	double v;

	ck_assert_int_eq(rd_len(c), 8);
	bits = rd_be(c, 8);
	memcpy(&v, &bits, sizeof(v));
	ck_assert_double_eq_tol(v, want, 1e-9);
}

START_TEST(copy_data_binary_format)
{
	struct request r;
	struct usage_row rows[2];
	struct sg_buf b = {0};
	struct rd c;

	fake_request(&r, "alice", "k1");
	usage_row_from(&r, 1050000, 1700000000000000LL, &rows[0]);
	fake_request(&r, NULL, NULL);
	r.inference.upstream_start_us = 0;
	r.inference.upstream_status = 0;
	r.inference.ttft_us = 0;
	r.inference.priced = true;
	r.inference.input_cost_per_mtok = 2;
	r.inference.output_cost_per_mtok = 10;
	usage_row_from(&r, 1050000, 1700000000000000LL, &rows[1]);
	/* What a client chose goes as it is: no delimiter to escape in the binary format. */
	snprintf(rows[1].model, sizeof(rows[1].model), "a\tb\nc\\N");
	ck_assert(usage_copy_data(&b, rows, 2));
	c = (struct rd){(const unsigned char *) b.p, b.len};
	ck_assert(memcmp(c.p, "PGCOPY\n\377\r\n\0", 11) == 0);
	c.p += 11, c.left -= 11;
	ck_assert_uint_eq(rd_be(&c, 4), 0); /* flags */
	ck_assert_uint_eq(rd_be(&c, 4), 0); /* header extension */
	for (int i = 0; i < 2; i++) {
		const struct usage_row *w = &rows[i];

		ck_assert_uint_eq(rd_be(&c, 2), 21);
		rd_int(&c, 8, 1700000000000000LL - 50000 - 946684800000000LL); /* µs since 2000-01-01 */
		rd_text(&c, "rid-1");
		rd_text(&c, i == 0 ? "alice" : NULL);
		rd_text(&c, i == 0 ? "k1" : NULL);
		rd_text(&c, i == 0 ? "m" : "a\tb\nc\\N");
		rd_text(&c, "vllm");
		rd_text(&c, "/v1/openai/v1/chat/completions");
		rd_int(&c, 4, 200);
		rd_int(&c, 1, 1); /* streamed */
		rd_int(&c, 8, 1000);
		rd_int(&c, 8, 3000);
		rd_int(&c, 8, 4000);
		rd_int(&c, 1, 0); /* not estimated */
		rd_float8(&c, 50.0);
		if (i == 0) {
			rd_float8(&c, 12.0);
			rd_float8(&c, 40.0);
			rd_int(&c, 4, 200);
			rd_text(&c, NULL); /* no prices */
		} else {
			rd_text(&c, NULL);
			rd_text(&c, NULL);
			rd_text(&c, NULL);
			/* 1000 × 2 + 3000 × 10 per million: 0.032, one base-10000 digit 320 at weight -1 */
			ck_assert_int_eq(rd_len(&c), 10);
			ck_assert_uint_eq(rd_be(&c, 2), 1);
			ck_assert_int_eq((int16_t) rd_be(&c, 2), -1);
			ck_assert_uint_eq(rd_be(&c, 2), 0);
			ck_assert_uint_eq(rd_be(&c, 2), 3);
			ck_assert_uint_eq(rd_be(&c, 2), 320);
		}
		rd_int(&c, 4, w->attempts);
		rd_text(&c, w->served_model[0] ? w->served_model : NULL);
		rd_text(&c, w->provider_model[0] ? w->provider_model : NULL);
	}
	ck_assert_int_eq((int16_t) rd_be(&c, 2), -1); /* the trailer */
	ck_assert_uint_eq(c.left, 0);
	sg_buf_free(&b);
}
END_TEST

/* usage_numeric: PostgreSQL's binary numeric (ndigits, weight, sign, dscale, base-10000 digits). */
static const struct {
	double v;
	int ndigits, weight, sign, dscale;
	unsigned digits[4];
} numeric_cases[] = {
	{0.032, 1, -1, 0, 3, {320}},
	{12345.5, 3, 1, 0, 1, {1, 2345, 5000}},
	{0.00001, 1, -2, 0, 5, {1000}},
	{10000, 1, 1, 0, 0, {1}},
	{0, 0, 0, 0, 0, {0}},
	{1e-13, 0, 0, 0, 0, {0}}, /* below 12 decimal places: 0 */
	{-2.5, 2, 0, 0x4000, 1, {2, 5000}},
	{123456789.000000000123, 3, 2, 0, 0, {1, 2345, 6789}}, /* a double keeps no more than 123456789 */
	{0.123456789012, 3, -1, 0, 12, {1234, 5678, 9012}},
};

START_TEST(numeric_binary)
{
	struct sg_buf b = {0};
	struct rd c;

	ck_assert(usage_numeric(&b, numeric_cases[_i].v));
	c = (struct rd){(const unsigned char *) b.p, b.len};
	ck_assert_int_eq(rd_len(&c), 8 + 2 * numeric_cases[_i].ndigits);
	ck_assert_int_eq((int) rd_be(&c, 2), numeric_cases[_i].ndigits);
	ck_assert_int_eq((int16_t) rd_be(&c, 2), numeric_cases[_i].weight);
	ck_assert_int_eq((int) rd_be(&c, 2), numeric_cases[_i].sign);
	ck_assert_int_eq((int) rd_be(&c, 2), numeric_cases[_i].dscale);
	for (int k = 0; k < numeric_cases[_i].ndigits; k++)
		ck_assert_uint_eq(rd_be(&c, 2), numeric_cases[_i].digits[k]);
	ck_assert_uint_eq(c.left, 0);
	/* Not a number: NULL. */
	b.len = 0;
	ck_assert(usage_numeric(&b, NAN));
	ck_assert(usage_numeric(&b, INFINITY));
	ck_assert_uint_eq(b.len, 8);
	ck_assert(memcmp(b.p, "\377\377\377\377\377\377\377\377", 8) == 0);
	sg_buf_free(&b);
}
END_TEST

static const struct {
	const char *principal, *model, *since;
	const char *param; /* NULL: valid */
} filter_cases[] = {
	{NULL, NULL, NULL, NULL},
	{"alice", "m", "2026-12-01", NULL},
	{NULL, NULL, "2024-02-29", NULL},
	{NULL, NULL, "2000-02-29", NULL},
	{NULL, NULL, "1900-02-29", "since"},
	{NULL, NULL, "2026-02-29", "since"},
	{NULL, NULL, "2026-04-31", "since"},
	{NULL, NULL, "2026-13-01", "since"},
	{NULL, NULL, "2026-00-10", "since"},
	{NULL, NULL, "2026-1-01", "since"},
	{NULL, NULL, "2026-01-01T00:00", "since"},
	{NULL, NULL, "yesterday", "since"},
	{NULL, NULL, "", "since"},
	{NULL, NULL, "0000-01-01", "since"},
	{NULL, NULL, "+026-01-01", "since"},
	{"", NULL, NULL, "principal"},
	{NULL, "", NULL, "model"},
};

/* A batch is USAGE_BATCH_MAX rows, or a quarter of a smaller queue, never 0. */
START_TEST(batch_size_by_queue)
{
	ck_assert_uint_eq(usage_batch_size(10000), USAGE_BATCH_MAX);
	ck_assert_uint_eq(usage_batch_size(4 * USAGE_BATCH_MAX), USAGE_BATCH_MAX);
	ck_assert_uint_eq(usage_batch_size(4 * USAGE_BATCH_MAX - 4), USAGE_BATCH_MAX - 1);
	ck_assert_uint_eq(usage_batch_size(2000), 500);
	ck_assert_uint_eq(usage_batch_size(7), 1);
	ck_assert_uint_eq(usage_batch_size(3), 1);
	ck_assert_uint_eq(usage_batch_size(1), 1);
}
END_TEST

START_TEST(filter_check_table)
{
	struct usage_filter f = {.principal = filter_cases[_i].principal,
				 .model = filter_cases[_i].model,
				 .since = filter_cases[_i].since};
	struct sg_err e = {0};
	sg_status st = usage_filter_check(&f, &e);

	if (filter_cases[_i].param == NULL) {
		ck_assert_msg(st == SG_OK, "filter %zu refused: %s", (size_t) _i, e.msg);
	} else {
		ck_assert_msg(st == SG_E_BAD_REQUEST, "filter %zu accepted", (size_t) _i);
		ck_assert_str_eq(e.param, filter_cases[_i].param);
		ck_assert_msg(strncmp(e.msg, e.param, strlen(e.param)) == 0, "message '%s' names %s", e.msg, e.param);
	}
}
END_TEST

START_TEST(filter_check_long_value)
{
	char big[600];
	struct usage_filter f = {.model = big};
	struct sg_err e = {0};

	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(usage_filter_check(&f, &e), SG_E_BAD_REQUEST);
	ck_assert_str_eq(e.param, "model");
}
END_TEST

static struct sg_conf *
conf_of(const char *text, char **errors)
{
	*errors = NULL;
	return conf_load_string(text, "t.json", errors);
}

START_TEST(config_keys)
{
	char *errors;
	struct sg_conf *c = conf_of("{}", &errors);

	ck_assert_ptr_nonnull(c);
	ck_assert(c->usage_enabled);
	ck_assert_int_eq(c->usage_retention_days, 90);
	ck_assert_uint_eq(c->usage_queue_size, 10000);
	ck_assert_int_eq(c->usage_flush_ms, 1000);
	conf_free(c);

	c =
		conf_of("{\"usage\":{\"enabled\":false,\"retention_days\":\"7\",\"queue_size\":50,"
			"\"flush_interval_ms\":200}}",
			&errors);
	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	ck_assert(!c->usage_enabled);
	ck_assert_int_eq(c->usage_retention_days, 7);
	ck_assert_uint_eq(c->usage_queue_size, 50);
	ck_assert_int_eq(c->usage_flush_ms, 200);
	conf_free(c);

	/* One slot would be free and published at once (the queue's sequence numbers need two). */
	c = conf_of("{\"usage\":{\"queue_size\":1}}", &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(errors, "usage.queue_size: must be"));
	ck_assert_ptr_nonnull(strstr(errors, "between 2 and"));
	free(errors);

	c = conf_of("{\"usage\":{\"retention_days\":0,\n \"queue\":1}}", &errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(errors, "t.json:1:28: usage.retention_days: must be an integer between 1 and"));
	ck_assert_ptr_nonnull(strstr(errors, "t.json:2:2: usage.queue:"));
	free(errors);

	/* A model entry's prices are checked where they are written. */
	c =
		conf_of("{\"models\":[{\"model_id\":\"m\",\"provider_id\":\"p\",\n"
			"  \"input_cost_per_mtok\":\"cheap\",\"output_cost_per_mtok\":-2}]}",
			&errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(errors,
				     "t.json:2:25: models[0].input_cost_per_mtok: must be a price per million "
				     "tokens (a number, 0 or more), got \"cheap\""));
	ck_assert_ptr_nonnull(strstr(errors, "t.json:2:56: models[0].output_cost_per_mtok: must be a price"));
	free(errors);

	/* A provider's stream_usage: on by default, a boolean when given. */
	c = conf_of(
		"{\"providers\":{\"inference\":[{\"provider_id\":\"v\",\"provider_type\":\"remote::vllm\","
		"\"config\":{\"url\":\"http://x/v1\"}},{\"provider_id\":\"w\",\"provider_type\":\"remote::vllm\","
		"\"config\":{\"url\":\"http://x/v1\",\"stream_usage\":\"no\"}}]}}",
		&errors);
	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	ck_assert(conf_provider(c, SG_API_INFERENCE, "v")->stream_usage);
	ck_assert(!conf_provider(c, SG_API_INFERENCE, "w")->stream_usage);
	conf_free(c);
	c =
		conf_of("{\"providers\":{\"inference\":[{\"provider_id\":\"v\",\"provider_type\":\"remote::vllm\","
			"\"config\":{\"url\":\"http://x/v1\",\"stream_usage\":\"maybe\"}}]}}",
			&errors);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(
		strstr(errors, "t.json:1:123: providers.inference[0].config.stream_usage: must be a boolean"));
	free(errors);

	c =
		conf_of("{\"models\":[{\"model_id\":\"m\",\"provider_id\":\"p\",\"input_cost_per_mtok\":0.5,"
			"\"output_cost_per_mtok\":\"2\"}]}",
			&errors);
	ck_assert_msg(c != NULL, "%s", errors ? errors : "");
	conf_free(c);
}
END_TEST

/* A request the queue takes: a finished chat with a record. */
static void
record_one(int n)
{
	struct request r;

	fake_request(&r, "alice", NULL);
	snprintf(r.request_id, sizeof(r.request_id), "rid-%d", n);
	usage_record(&r);
}

START_TEST(queue_bound_drops_and_counts)
{
	char *errors;
	/* PostgreSQL out of reach: a socket directory that does not exist. */
	struct sg_conf *c =
		conf_of("{\"database\":{\"conninfo\":\"host=/nonexistent/sg-usage-test port=1\"},"
			"\"usage\":{\"queue_size\":3,\"flush_interval_ms\":10}}",
			&errors);
	struct request anon;

	ck_assert_ptr_nonnull(c);
	shm_reset();
	ck_assert_int_eq(usage_declare(c), SG_OK);
	ck_assert_int_eq(shm_map(), SG_OK);
	ck_assert_int_eq(usage_rows_dropped_total(), 0);

	/* Not started: nothing is queued, nothing counted. */
	record_one(0);
	ck_assert_int_eq(usage_rows_dropped_total(), 0);

	ck_assert_int_eq(usage_start(c), SG_OK);
	for (int i = 1; i <= 5; i++)
		record_one(i);
	/* Three wait for PostgreSQL; two did not fit. */
	ck_assert_int_eq(usage_rows_dropped_total(), 2);
	/* A request that was not an inference request has no row. */
	fake_request(&anon, NULL, NULL);
	anon.inference.active = false;
	usage_record(&anon);
	ck_assert_int_eq(usage_rows_dropped_total(), 2);
	/* The stop tries, then counts the three it could not write. */
	usage_stop();
	ck_assert_int_eq(usage_rows_dropped_total(), 5);
	usage_stop(); /* idempotent */
	shm_reset();
	conf_free(c);
}
END_TEST

struct recorder {
	int from, n;
};

static void *
record_many(void *arg)
{
	const struct recorder *rc = arg;

	for (int i = 0; i < rc->n; i++)
		record_one(rc->from + i);
	return NULL;
}

/* Eight threads at once into a queue of 1,000 that nothing empties: exactly 1,000 queued, the rest dropped. */
START_TEST(queue_concurrent_claims_exact)
{
	char *errors;
	struct sg_conf *c =
		conf_of("{\"database\":{\"conninfo\":\"host=/nonexistent/sg-usage-test port=1\"},"
			"\"usage\":{\"queue_size\":1000,\"flush_interval_ms\":10}}",
			&errors);
	pthread_t t[8];
	struct recorder rc[8];

	ck_assert_ptr_nonnull(c);
	shm_reset();
	ck_assert_int_eq(usage_declare(c), SG_OK);
	ck_assert_int_eq(shm_map(), SG_OK);
	ck_assert_int_eq(usage_start(c), SG_OK);
	for (int i = 0; i < 8; i++) {
		rc[i] = (struct recorder){.from = i * 500, .n = 500};
		ck_assert_int_eq(pthread_create(&t[i], NULL, record_many, &rc[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(usage_rows_dropped_total(), 8 * 500 - 1000);
	usage_stop();
	ck_assert_int_eq(usage_rows_dropped_total(), 8 * 500);
	shm_reset();
	conf_free(c);
}
END_TEST

Suite *
usage_suite(void)
{
	Suite *s = suite_create("usage");
	TCase *pure = tcase_create("pure");
	TCase *queue = tcase_create("queue");

	tcase_add_test(pure, row_from_a_request);
	tcase_add_test(pure, row_from_overwrites_a_used_slot);
	tcase_add_test(pure, prices_from_metadata_or_config);
	tcase_add_test(pure, timestamp_text);
	tcase_add_test(pure, copy_data_binary_format);
	tcase_add_loop_test(pure, numeric_binary, 0, (int) SG_ARRAY_LEN(numeric_cases));
	tcase_add_loop_test(pure, filter_check_table, 0, (int) SG_ARRAY_LEN(filter_cases));
	tcase_add_test(pure, filter_check_long_value);
	tcase_add_test(pure, config_keys);
	tcase_add_test(pure, batch_size_by_queue);
	suite_add_tcase(s, pure);
	/* The stop waits USAGE_STOP_WAIT_S for PostgreSQL before it gives up. */
	tcase_set_timeout(queue, USAGE_STOP_WAIT_S * 4);
	tcase_add_test(queue, queue_bound_drops_and_counts);
	tcase_add_test(queue, queue_concurrent_claims_exact);
	suite_add_tcase(s, queue);
	return s;
}
