/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: the metrics area of the host's shared mapping (see metrics.h),
 * the recording calls of the request path and the summing reader.
 *
 * Layout, in uint64_t words, fixed by metrics_declare:
 *   worker block  [G_THREADS] [G_STREAMS] inflight[nrows]        gauges
 *                 requests[nrows][NSTATUS] duration[nrows]        counters from
 *                 models[nmodels + 1] {upstream, ttft, tokens[2],  `counters` on,
 *                 errors[NERRKINDS]} cache hits, misses, db errors folded on retire
 *   host block    the same words (counters of dead workers; its gauges stay 0),
 *                 then worker restarts, then the label table (struct label).
 * A histogram is HW words: METRICS_NBOUNDS + 1 bucket counts (not
 * cumulative; the last is +Inf) and the sum in microseconds.
 * Rows: one per route table entry, then one per method for requests no
 * route matched.  Model index nmodels is "other".
 */
#include "config.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "metrics_int.h"
#include "route.h"
#include "shm.h"

const double metrics_bounds[METRICS_NBOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
						1,     2.5,    5,     10,   30,    60,   120, 300};
static const int64_t bounds_us[METRICS_NBOUNDS] = {1000,     2500,     5000,     10000,     25000,    50000,
						   100000,   250000,   500000,   1000000,   2500000,  5000000,
						   10000000, 30000000, 60000000, 120000000, 300000000};

/* The statuses counted by their code; any other is counted by its class. */
static const int exact_statuses[] = {200, 201, 202, 204, 206, 301, 302, 304, 307, 308, 400, 401, 402, 403, 404,
				     405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 422, 425, 426, 428,
				     429, 431, 451, 499, 500, 501, 502, 503, 504, 505, 507, 508, 511};
#define NEXACT SG_ARRAY_LEN(exact_statuses)
static const char *const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

const char *const metrics_error_kinds[NERRKINDS] = {"unreachable", "timeout", "status_4xx", "status_5xx",
						    "invalid_reply"};

struct metrics_layout metrics_layout;
#define L metrics_layout

static void retire(void *worker, void *host);
static struct shm_area area = {.name = "metrics", .retire = retire};

size_t
metrics_status_index(int status)
{
	for (size_t i = 0; i < NEXACT; i++)
		if (exact_statuses[i] == status)
			return i;
	if (status < 100 || status > 599)
		return NEXACT + 4; /* counted as 5xx: a status we could not have sent */
	return NEXACT + (size_t) (status / 100 - 1);
}

const char *
metrics_status_label(size_t i, char *buf, size_t len)
{
	if (i < NEXACT) {
		snprintf(buf, len, "%d", exact_statuses[i]);
		return buf;
	}
	return classes[i - NEXACT];
}

size_t
metrics_bucket(int64_t us)
{
	size_t i = 0;

	while (i < METRICS_NBOUNDS && us > bounds_us[i])
		i++;
	return i;
}

/* The index of method bit m (0 for an unknown value). */
static size_t
method_index(enum sg_method m)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if ((unsigned) m == 1u << i)
			return i;
	return NMETHODS - 1;
}

sg_status
metrics_declare(const struct sg_conf *conf)
{
	const struct route *rt;
	size_t n;

	memset(&L, 0, sizeof(L));
	if (!conf->metrics_enabled)
		return SG_OK;
	rt = route_table(&n);
	L.routes = rt;
	L.nroutes = n;
	L.nrows = n + NMETHODS;
	L.nmodels = (size_t) conf->metrics_max_models;
	L.inflight = G_INFLIGHT;
	L.counters = L.inflight + L.nrows;
	L.requests = L.counters;
	L.duration = L.requests + L.nrows * NSTATUS;
	L.models = L.duration + L.nrows * HW;
	L.misc = L.models + (L.nmodels + 1) * MW;
	L.words = L.misc + NMISC;
	L.labels_off = (L.words + 1) * sizeof(uint64_t);
	area.host_bytes = L.labels_off + L.nmodels * sizeof(struct metrics_label);
	area.worker_bytes = L.words * sizeof(uint64_t);
	if (shm_declare(&area) != SG_OK)
		return SG_E_INTERNAL;
	L.declared = true;
	return SG_OK;
}

bool
metrics_on(void)
{
	return L.declared && shm_mapped();
}

uint64_t *
metrics_host_words(void)
{
	return L.declared ? shm_host(&area) : NULL;
}

uint64_t *
metrics_worker_words(int slot)
{
	return L.declared ? shm_worker_at(&area, slot) : NULL;
}

struct metrics_label *
metrics_labels(void)
{
	unsigned char *h = L.declared ? shm_host(&area) : NULL;

	return h == NULL ? NULL : (struct metrics_label *) (void *) (h + L.labels_off);
}

static uint64_t *
mine(void)
{
	return L.declared ? shm_worker(&area) : NULL;
}

/* Master, the slot's process gone: counters survive in the host block; gauges go with the slot. */
static void
retire(void *worker, void *host)
{
	uint64_t *w = worker, *h = host;

	for (size_t i = L.counters; i < L.words; i++) {
		uint64_t v = shm_load(&w[i]);

		if (v != 0)
			shm_atomic_add(&h[i], v);
	}
}

void
metrics_worker_threads(int threads)
{
	uint64_t *w = mine();

	if (w != NULL)
		shm_store(&w[G_THREADS], threads > 0 ? (uint64_t) threads : 0);
}

void
metrics_worker_restarted(void)
{
	uint64_t *h = metrics_host_words();

	if (h != NULL)
		shm_atomic_add(&h[L.words], 1);
}

static size_t
row_of(const struct request *r)
{
	if (r->route != NULL && r->route >= L.routes && r->route < L.routes + L.nroutes)
		return (size_t) (r->route - L.routes);
	return L.nroutes + method_index(r->method);
}

void
metrics_enter(struct request *r)
{
	uint64_t *w = mine();

	if (w != NULL && r->route != NULL)
		shm_atomic_add(&w[L.inflight + row_of(r)], 1);
}

void
metrics_stream_open(struct request *r)
{
	uint64_t *w = mine();

	if (w != NULL && !r->stream_counted) {
		shm_atomic_add(&w[G_STREAMS], 1);
		r->stream_counted = true;
	}
}

static void
hist_add(uint64_t *h, int64_t us)
{
	if (us < 0)
		us = 0;
	shm_atomic_add(&h[metrics_bucket(us)], 1);
	shm_atomic_add(&h[METRICS_NBOUNDS + 1], (uint64_t) us);
}

static uint64_t
label_hash(const char *provider, const char *model)
{
	return sg_fnv1a(sg_fnv1a_byte(sg_fnv1a(SG_FNV1A_INIT, provider), 0xff), model);
}

size_t
metrics_model_index(const char *provider, const char *model)
{
	struct metrics_label *tab = metrics_labels();
	uint64_t h;

	if (tab == NULL || L.nmodels == 0 || strlen(provider) >= sizeof(tab->provider) ||
	    strlen(model) >= sizeof(tab->model))
		return L.nmodels;
	h = label_hash(provider, model);
	for (size_t k = 0; k < L.nmodels; k++) {
		struct metrics_label *e = &tab[(h + k) % L.nmodels];
		uint64_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE), free_state = 0;

		if (st == 0 &&
		    __atomic_compare_exchange_n(&e->state, &free_state, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			strcpy(e->provider, provider);
			strcpy(e->model, model);
			__atomic_store_n(&e->state, 2, __ATOMIC_RELEASE);
			return (size_t) (e - tab);
		}
		/* Another thread is writing this entry: its names take a moment. */
		for (int spins = 0; (st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE)) == 1 && spins < 1000; spins++)
			sched_yield();
		if (st != 2)
			return L.nmodels;
		if (strcmp(e->provider, provider) == 0 && strcmp(e->model, model) == 0)
			return (size_t) (e - tab);
	}
	return L.nmodels;
}

/* The upstream error r's answer shows, as an index of metrics_error_kinds; -1 when none. */
static int
error_kind(const struct request *r)
{
	int up = r->inference.upstream_status;

	if (r->final_status == 504)
		return 1;
	if (up >= 500)
		return 3;
	if (up >= 400)
		return 2;
	if (r->final_status == 502)
		return up == 0 ? 0 : 4;
	return -1;
}

void
metrics_record(struct request *r)
{
	uint64_t *w = mine();
	const struct request_inference *inf = &r->inference;
	size_t row;
	int status = r->final_status != 0 ? r->final_status : 499;

	if (w == NULL)
		return;
	row = row_of(r);
	if (r->route != NULL)
		shm_atomic_sub(&w[L.inflight + row], 1);
	if (r->stream_counted) {
		shm_atomic_sub(&w[G_STREAMS], 1);
		r->stream_counted = false;
	}
	shm_atomic_add(&w[L.requests + row * NSTATUS + metrics_status_index(status)], 1);
	hist_add(&w[L.duration + row * HW], sg_now_us() - r->start_us);
	if (inf->active && inf->model[0] != '\0') {
		uint64_t *m = &w[L.models + metrics_model_index(inf->provider_id, inf->model) * MW];
		int kind;

		if (inf->prompt_tokens > 0)
			shm_atomic_add(&m[M_TOKENS], (uint64_t) inf->prompt_tokens);
		if (inf->completion_tokens > 0)
			shm_atomic_add(&m[M_TOKENS + 1], (uint64_t) inf->completion_tokens);
		if (inf->upstream_start_us != 0) {
			hist_add(&m[M_UPSTREAM], inf->upstream_us);
			if (inf->streamed && inf->ttft_us > 0)
				hist_add(&m[M_TTFT], inf->ttft_us);
			if ((kind = error_kind(r)) >= 0)
				shm_atomic_add(&m[M_ERRORS + (size_t) kind], 1);
		}
	}
}

void
metrics_cache_lookup(bool hit)
{
	uint64_t *w = mine();

	if (w != NULL)
		shm_atomic_add(&w[L.misc + (hit ? MISC_CACHE_HITS : MISC_CACHE_MISSES)], 1);
}

void
metrics_db_error(void)
{
	uint64_t *w = mine();

	if (w != NULL)
		shm_atomic_add(&w[L.misc + MISC_DB_ERRORS], 1);
}

/* label then us (>= 0) as milliseconds with three decimals at p; the bytes written. */
static size_t
put_ms(char *p, const char *label, int64_t us)
{
	size_t n = strlen(label);

	memcpy(p, label, n);
	n += sg_fmt_i64(p + n, us / 1000);
	p[n++] = '.';
	p[n++] = (char) ('0' + us % 1000 / 100);
	p[n++] = (char) ('0' + us % 100 / 10);
	p[n++] = (char) ('0' + us % 10);
	return n;
}

bool
metrics_server_timing(const struct request *r, char *buf, size_t len)
{
	const struct request_inference *inf = &r->inference;
	int64_t now = sg_now_us(), total, up;
	size_t n;

	if (inf->upstream_start_us == 0)
		return false;
	total = now - r->start_us;
	up = inf->upstream_us > 0 ? inf->upstream_us : now - inf->upstream_start_us;
	if (up > total)
		up = total;
	if (up < 0)
		up = 0;
	/* "gateway;dur=M.mmm, upstream;dur=M.mmm": at most 2 * (13 + 20 + 4) + 2 bytes, formatted without printf. */
	if (len < 80)
		return false;
	n = put_ms(buf, "gateway;dur=", total - up);
	n += put_ms(buf + n, ", upstream;dur=", up);
	buf[n] = '\0';
	return true;
}

/* ---- the reader ---- */

struct metrics_snapshot *
metrics_snapshot_new(void)
{
	struct metrics_snapshot *s;
	const uint64_t *h = metrics_host_words();
	const struct metrics_label *tab = metrics_labels();
	uint64_t begun;
	int tries = 0;

	if (!metrics_on() || h == NULL)
		return NULL;
	s = sg_calloc(1, sizeof(*s));
	if (s != NULL) {
		s->w = sg_calloc(L.words, sizeof(uint64_t));
		s->labels = sg_calloc(L.nmodels + 1, sizeof(*s->labels));
	}
	if (s == NULL || s->w == NULL || s->labels == NULL) {
		metrics_snapshot_free(s);
		return NULL;
	}
	do {
		begun = shm_read_begin();
		for (size_t i = 0; i < L.words; i++)
			s->w[i] = shm_load(&h[i]);
		for (int slot = 0; slot < SHM_SLOTS; slot++) {
			const uint64_t *w;

			if (slot != 0 && !shm_slot_taken(slot))
				continue;
			w = metrics_worker_words(slot);
			for (size_t i = 0; i < L.words; i++)
				s->w[i] += shm_load(&w[i]);
		}
	} while (shm_read_retry(begun) && ++tries < 5);
	s->restarts = shm_load(&h[L.words]);
	for (size_t i = 0; i < L.nmodels; i++) {
		if (__atomic_load_n(&tab[i].state, __ATOMIC_ACQUIRE) != 2)
			continue;
		memcpy(s->labels[i].provider, tab[i].provider, sizeof(tab[i].provider));
		memcpy(s->labels[i].model, tab[i].model, sizeof(tab[i].model));
		s->labels[i].state = 2;
	}
	snprintf(s->labels[L.nmodels].provider, sizeof(s->labels[L.nmodels].provider), "other");
	snprintf(s->labels[L.nmodels].model, sizeof(s->labels[L.nmodels].model), "other");
	s->labels[L.nmodels].state = 2;
	return s;
}

void
metrics_snapshot_free(struct metrics_snapshot *s)
{
	if (s != NULL) {
		free(s->w);
		free(s->labels);
		free(s);
	}
}

bool
metrics_summary_read(struct metrics_summary *out)
{
	struct metrics_snapshot *s = metrics_snapshot_new();
	char code[8];

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return false;
	for (size_t row = 0; row < L.nrows; row++) {
		out->in_flight += s->w[L.inflight + row];
		for (size_t st = 0; st < NSTATUS; st++) {
			uint64_t v = s->w[L.requests + row * NSTATUS + st];
			char cls = metrics_status_label(st, code, sizeof(code))[0];

			out->requests += v;
			out->client_errors += cls == '4' ? v : 0;
			out->server_errors += cls == '5' ? v : 0;
		}
	}
	out->open_streams = s->w[G_STREAMS];
	out->threads = s->w[G_THREADS];
	out->restarts = s->restarts;
	for (int slot = 1; slot < SHM_SLOTS; slot++) {
		const uint64_t *w = shm_slot_taken(slot) ? metrics_worker_words(slot) : NULL;

		out->workers += w != NULL && shm_load(&w[G_THREADS]) > 0;
	}
	metrics_snapshot_free(s);
	return true;
}
