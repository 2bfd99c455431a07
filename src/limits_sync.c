/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits_sync.c: the limits' sync with PostgreSQL (see sg_limits.h): one thread
 * per worker, a host-wide lease in shm so that one of them syncs every
 * LIMITS_SYNC_MS, and the sync itself: the `limits` table into the subject
 * table, this host's counts since the last sync added to `limit_counters`,
 * every host's totals for the current windows read back, and the requests
 * in flight of the rows with a max_concurrent shared through
 * limit_inflight.
 *
 * The part of a count already sent is claimed with a compare-and-swap on its
 * `synced` word before it is sent, so two syncs that overlap (a lease that
 * ran out under a slow PostgreSQL) never send the same part twice; a send
 * that fails gives its part back.  Its SQL is static text with parameters
 * (the counts go as one jsonb array).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "json.h"
#include "limits_int.h"
#include "log.h"

static pthread_t thread;
static bool started;
static atomic_bool stop;
static int64_t last_warned_us;
static unsigned long syncs;

void
limits_rule_free(struct limits_rule *rule)
{
	free(rule->principal);
	free(rule->model);
	free(rule->key_id);
	memset(rule, 0, sizeof(*rule));
}

/* Stores v (< 0: none) as a limit word: v + 1, 0 for none. */
static void
store_limit(uint64_t *w, int64_t v)
{
	shm_store(w, v < 0 ? 0 : (uint64_t) v + 1);
}

void
limits_apply_rules(const struct limits_rule *rules, size_t n)
{
	struct limits_host *h = limits_host_area();
	uint64_t gen;

	if (h == NULL)
		return;
	gen = shm_atomic_add(&h->gen, 1);
	for (size_t i = 0; i < n; i++) {
		const struct limits_rule *r = &rules[i];
		struct limits_entry *e = limits_entry_find(h, limits_subject_hash(r->principal, r->model, r->key_id),
							   true);

		if (e == NULL)
			continue;
		store_limit(&e->lim[LK_CONCURRENT], r->max_concurrent);
		store_limit(&e->lim[LK_RPM], r->rpm);
		store_limit(&e->lim[LK_TPM], r->tpm);
		store_limit(&e->lim[LK_DAY], r->tokens_per_day);
		store_limit(&e->lim[LK_MONTH], r->tokens_per_month);
		shm_store(&e->gen, gen);
	}
	/* Rows that are gone: their subjects are no longer limited. */
	for (size_t i = 0; i < limits_subjects(); i++) {
		struct limits_entry *e = &h->entries[i];

		if (shm_load(&e->hash) == 0 || shm_load(&e->gen) == gen)
			continue;
		for (int k = 0; k < LK_COUNT; k++)
			shm_store(&e->lim[k], 0);
	}
}

/* ---- One sync ---- */

static const char *const period_name[LIMITS_PERIODS] = {"minute", "day", "month"};

static const char sql_rules[] =
	"SELECT principal, model, key_id, coalesce(max_concurrent, -1), coalesce(rpm, -1), coalesce(tpm, -1), "
	"coalesce(tokens_per_day, -1), coalesce(tokens_per_month, -1) FROM limits";
static const char sql_push[] =
	"INSERT INTO limit_counters (subject, period, win, principal, model, key_id, window_start, requests, tokens) "
	"SELECT x.subject, x.period, x.win, x.principal, x.model, x.key_id, to_timestamp(x.start), x.requests, x.tokens "
	"FROM jsonb_to_recordset($1::jsonb) AS x(subject bigint, period text, win bigint, principal text, model text, "
	"key_id text, start bigint, requests bigint, tokens bigint) "
	"ON CONFLICT (subject, period, win) DO UPDATE SET requests = limit_counters.requests + EXCLUDED.requests, "
	"tokens = limit_counters.tokens + EXCLUDED.tokens, updated_at = now()";
static const char sql_totals[] =
	"SELECT subject, period, requests, tokens FROM limit_counters "
	"WHERE (period = 'minute' AND win = $1) OR (period = 'day' AND win = $2) OR (period = 'month' AND win = $3)";
static const char sql_inflight_push[] =
	"INSERT INTO limit_inflight (host, subject, principal, model, key_id, inflight) "
	"SELECT $1, x.subject, x.principal, x.model, x.key_id, x.inflight FROM jsonb_to_recordset($2::jsonb) "
	"AS x(subject bigint, principal text, model text, key_id text, inflight bigint) "
	"ON CONFLICT (host, subject) DO UPDATE SET inflight = EXCLUDED.inflight, updated_at = now()";
static const char sql_inflight_pull[] =
	"SELECT subject, sum(inflight) FROM limit_inflight "
	"WHERE host <> $1 AND updated_at > now() - interval '3 seconds' GROUP BY subject";
static const char sql_inflight_gc[] = "DELETE FROM limit_inflight WHERE updated_at < now() - interval '1 hour'";
static const char sql_gc[] =
	"DELETE FROM limit_counters WHERE (period = 'minute' AND win < $1::bigint - 2) "
	"OR (period = 'day' AND win < $2::bigint - 2) OR (period = 'month' AND win < $3::bigint - 2)";

static char *
dup_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : sg_strdup(PQgetvalue(res, row, col));
}

/* Runs one statement that returns no rows; its status. */
static sg_status
exec_params(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *res = db_exec(c, sql, n, params);
	sg_status st = db_result_status(c, res);

	PQclear(res);
	return st;
}

/* The limits table; SG_OK with *out (the caller frees each rule and the array). */
static sg_status
load_rules(PGconn *c, struct limits_rule **out, size_t *n)
{
	PGresult *res = PQexec(c, sql_rules);
	sg_status st = db_result_status(c, res);
	struct limits_rule *rules = NULL;
	int rows;

	*out = NULL;
	*n = 0;
	if (st != SG_OK)
		goto out;
	rows = PQntuples(res);
	rules = sg_calloc(rows > 0 ? (size_t) rows : 1, sizeof(*rules));
	if (rules == NULL) {
		st = SG_E_NOMEM;
		goto out;
	}
	for (int i = 0; i < rows; i++) {
		struct limits_rule *r = &rules[i];

		r->principal = dup_or_null(res, i, 0);
		r->model = dup_or_null(res, i, 1);
		r->key_id = dup_or_null(res, i, 2);
		r->max_concurrent = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		r->rpm = strtoll(PQgetvalue(res, i, 4), NULL, 10);
		r->tpm = strtoll(PQgetvalue(res, i, 5), NULL, 10);
		r->tokens_per_day = strtoll(PQgetvalue(res, i, 6), NULL, 10);
		r->tokens_per_month = strtoll(PQgetvalue(res, i, 7), NULL, 10);
		if (r->principal == NULL || (r->model == NULL && !PQgetisnull(res, i, 1)) ||
		    (r->key_id == NULL && !PQgetisnull(res, i, 2))) {
			for (int j = 0; j <= i; j++)
				limits_rule_free(&rules[j]);
			free(rules);
			rules = NULL;
			st = SG_E_NOMEM;
			goto out;
		}
	}
	*out = rules;
	*n = (size_t) rows;
out:
	PQclear(res);
	return st;
}

/* A part of a count claimed for sending: given back if the send fails. */
struct claim {
	uint64_t *synced;
	int64_t win;
	uint64_t n;
};

/* Claims what local holds beyond synced in window win; 0 when nothing. */
static uint64_t
claim_delta(struct limits_entry *e, enum limits_counter c, int64_t win, struct claim *cl)
{
	uint64_t cur = shm_load(&e->synced[c]), l, s;

	do {
		l = limits_count_in(shm_load(&e->local[c]), win);
		s = limits_count_in(cur, win);
		if (l <= s)
			return 0;
	} while (!__atomic_compare_exchange_n(&e->synced[c], &cur, limits_pack(win, l), false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*cl = (struct claim){&e->synced[c], win, l - s};
	return l - s;
}

static void
unclaim(const struct claim *cl)
{
	uint64_t cur = shm_load(cl->synced), s;

	do {
		s = limits_count_in(cur, cl->win);
		if (s == 0)
			return;
	} while (!__atomic_compare_exchange_n(cl->synced, &cur, limits_pack(cl->win, s > cl->n ? s - cl->n : 0), false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

static json_t *
counter_row(const struct limits_rule *r, uint64_t hash, enum limits_period p, int64_t win, uint64_t req, uint64_t tok)
{
	return json_pack("{s:I,s:s,s:I,s:s,s:s?,s:s?,s:I,s:I,s:I}", "subject", (json_int_t) (int64_t) hash, "period",
			 period_name[p], "win", (json_int_t) win, "principal", r->principal, "model", r->model,
			 "key_id", r->key_id, "start", (json_int_t) limits_window_start(p, win), "requests",
			 (json_int_t) req, "tokens", (json_int_t) tok);
}

/* Adds this host's new counts of every rule's subject to limit_counters. */
static sg_status
push(PGconn *c, struct limits_host *h, const struct limits_rule *rules, size_t n, const int64_t *win)
{
	struct claim *claims = sg_calloc(n * LC_COUNT + 1, sizeof(*claims));
	json_t *rows = json_array();
	size_t nclaims = 0;
	sg_status st = SG_OK;
	char *text = NULL;

	if (claims == NULL || rows == NULL) {
		st = SG_E_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t hash = limits_subject_hash(rules[i].principal, rules[i].model, rules[i].key_id);
		struct limits_entry *e = limits_entry_find(h, hash, false);
		uint64_t d[LC_COUNT];

		if (e == NULL)
			continue;
		for (int k = 0; k < LC_COUNT; k++) {
			d[k] = claim_delta(e, (enum limits_counter) k, win[k], &claims[nclaims]);
			nclaims += d[k] > 0;
		}
		if ((d[LC_REQ_MIN] > 0 || d[LC_TOK_MIN] > 0) &&
		    json_array_append_new(rows, counter_row(&rules[i], hash, LIMITS_MINUTE, win[LC_REQ_MIN],
							    d[LC_REQ_MIN], d[LC_TOK_MIN])) != 0)
			st = SG_E_NOMEM;
		if (d[LC_TOK_DAY] > 0 &&
		    json_array_append_new(
			    rows, counter_row(&rules[i], hash, LIMITS_DAY, win[LC_TOK_DAY], 0, d[LC_TOK_DAY])) != 0)
			st = SG_E_NOMEM;
		if (d[LC_TOK_MONTH] > 0 &&
		    json_array_append_new(rows, counter_row(&rules[i], hash, LIMITS_MONTH, win[LC_TOK_MONTH], 0,
							    d[LC_TOK_MONTH])) != 0)
			st = SG_E_NOMEM;
	}
	if (st == SG_OK && json_array_size(rows) > 0) {
		const char *params[1];
		PGresult *res;

		text = sg_json_dump(rows);
		if (text == NULL) {
			st = SG_E_NOMEM;
			goto out;
		}
		params[0] = text;
		res = PQexecParams(c, sql_push, 1, NULL, params, NULL, NULL, 0);
		st = db_result_status(c, res);
		PQclear(res);
	}
out:
	if (st != SG_OK)
		for (size_t i = 0; i < nclaims; i++)
			unclaim(&claims[i]);
	free(text);
	free(claims);
	json_decref(rows);
	return st;
}

/*
 * The other hosts' part of every host's total: the total read right after
 * this host's push holds all this host has sent (synced), so the rest is
 * theirs.
 */
static void
set_others(struct limits_entry *e, enum limits_counter c, const int64_t *win, uint64_t total)
{
	uint64_t mine = limits_count_in(shm_load(&e->synced[c]), win[c]);

	shm_store(&e->others[c], limits_pack(win[c], total > mine ? total - mine : 0));
}

/* Every host's totals for the current windows, as the other hosts' counts of the subjects. */
static sg_status
pull(PGconn *c, struct limits_host *h, const int64_t *win)
{
	char a[24], b[24], m[24];
	const char *params[3] = {a, b, m};
	PGresult *res;
	sg_status st;

	snprintf(a, sizeof(a), "%" PRId64, win[LC_REQ_MIN]);
	snprintf(b, sizeof(b), "%" PRId64, win[LC_TOK_DAY]);
	snprintf(m, sizeof(m), "%" PRId64, win[LC_TOK_MONTH]);
	res = PQexecParams(c, sql_totals, 3, NULL, params, NULL, NULL, 0);
	st = db_result_status(c, res);
	for (int i = 0; st == SG_OK && i < PQntuples(res); i++) {
		uint64_t hash = (uint64_t) strtoll(PQgetvalue(res, i, 0), NULL, 10);
		const char *period = PQgetvalue(res, i, 1);
		uint64_t req = strtoull(PQgetvalue(res, i, 2), NULL, 10),
			 tok = strtoull(PQgetvalue(res, i, 3), NULL, 10);
		struct limits_entry *e = limits_entry_find(h, hash, false);

		if (e == NULL)
			continue;
		if (strcmp(period, "minute") == 0) {
			set_others(e, LC_REQ_MIN, win, req);
			set_others(e, LC_TOK_MIN, win, tok);
		} else if (strcmp(period, "day") == 0) {
			set_others(e, LC_TOK_DAY, win, tok);
		} else {
			set_others(e, LC_TOK_MONTH, win, tok);
		}
	}
	PQclear(res);
	if (st == SG_OK && ++syncs % 120 == 1)
		st = exec_params(c, sql_gc, 3, params);
	return st;
}

/*
 * Requests in flight of the rows with a max_concurrent: this host's into
 * limit_inflight, the other hosts' (rows updated in the last 3 s: a host
 * that stopped syncing stops counting) back into others_inflight.
 */
static sg_status
share_inflight(PGconn *c, struct limits_host *h, const struct limits_rule *rules, size_t n)
{
	const char *params[2] = {limits_host_id(), NULL};
	json_t *rows = json_array();
	PGresult *res = NULL;
	sg_status st = rows != NULL ? SG_OK : SG_E_NOMEM;
	char *text = NULL;

	for (size_t i = 0; st == SG_OK && i < n; i++) {
		uint64_t hash = limits_subject_hash(rules[i].principal, rules[i].model, rules[i].key_id);
		struct limits_entry *e = rules[i].max_concurrent >= 0 ? limits_entry_find(h, hash, false) : NULL;

		if (e != NULL &&
		    json_array_append_new(rows, json_pack("{s:I,s:s,s:s?,s:s?,s:I}", "subject",
							  (json_int_t) (int64_t) hash, "principal", rules[i].principal,
							  "model", rules[i].model, "key_id", rules[i].key_id,
							  "inflight", (json_int_t) limits_inflight_host(e))) != 0)
			st = SG_E_NOMEM;
	}
	if (st != SG_OK || json_array_size(rows) == 0)
		goto out;
	if ((text = sg_json_dump(rows)) == NULL) {
		st = SG_E_NOMEM;
		goto out;
	}
	params[1] = text;
	st = exec_params(c, sql_inflight_push, 2, params);
	if (st != SG_OK)
		goto out;
	res = PQexecParams(c, sql_inflight_pull, 1, NULL, params, NULL, NULL, 0);
	st = db_result_status(c, res);
	for (size_t i = 0; st == SG_OK && i < n; i++) {
		uint64_t hash = limits_subject_hash(rules[i].principal, rules[i].model, rules[i].key_id), others = 0;
		struct limits_entry *e = rules[i].max_concurrent >= 0 ? limits_entry_find(h, hash, false) : NULL;

		if (e == NULL)
			continue;
		for (int row = 0; row < PQntuples(res); row++)
			if ((uint64_t) strtoll(PQgetvalue(res, row, 0), NULL, 10) == hash)
				others = strtoull(PQgetvalue(res, row, 1), NULL, 10);
		shm_store(&e->others_inflight, others);
	}
out:
	PQclear(res);
	free(text);
	json_decref(rows);
	return st;
}

sg_status
limits_sync_once(void)
{
	struct limits_host *h = limits_host_area();
	struct limits_rule *rules = NULL;
	size_t n = 0;
	int64_t win[LC_COUNT];
	time_t now = time(NULL);
	PGconn *c;
	sg_status st;

	if (h == NULL)
		return SG_OK;
	c = db_acquire();
	if (c == NULL)
		return SG_E_UNAVAILABLE;
	for (int k = 0; k < LC_COUNT; k++)
		win[k] = limits_window(limits_counter_period[k], now);
	st = load_rules(c, &rules, &n);
	if (st == SG_OK) {
		limits_apply_rules(rules, n);
		st = push(c, h, rules, n, win);
	}
	if (st == SG_OK)
		st = pull(c, h, win);
	if (st == SG_OK)
		st = share_inflight(c, h, rules, n);
	if (st == SG_OK && syncs % 120 == 1)
		st = exec_params(c, sql_inflight_gc, 0, NULL);
	db_release(c, db_conn_broken(c));
	for (size_t i = 0; i < n; i++)
		limits_rule_free(&rules[i]);
	free(rules);
	return st;
}

/* ---- The thread ---- */

static void *
sync_thread(void *arg)
{
	struct limits_host *h = limits_host_area();

	(void) arg;
	while (!atomic_load(&stop)) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		uint64_t now = (uint64_t) sg_now_us(), due = shm_load(&h->next_sync_us);

		if (now >= due && __atomic_compare_exchange_n(&h->next_sync_us, &due, now + LIMITS_LEASE_MS * 1000,
							      false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			if (limits_sync_once() != SG_OK && (int64_t) now - last_warned_us > 30 * 1000000) {
				last_warned_us = (int64_t) now;
				log_warn(
					"limits: cannot sync with PostgreSQL; limits stay as last read and counts are "
					"this host's");
			}
			shm_store(&h->next_sync_us, now + LIMITS_SYNC_MS * 1000);
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void
limits_start(const struct sg_conf *conf)
{
	limits_start_caps(conf);
	if (started || !conf->limits_enabled || limits_host_area() == NULL)
		return;
	atomic_store(&stop, false);
	if (pthread_create(&thread, NULL, sync_thread, NULL) != 0) {
		log_error("limits: cannot start the sync thread: limits stay as they are on this host");
		return;
	}
	started = true;
}

void
limits_stop(void)
{
	if (!started)
		return;
	atomic_store(&stop, true);
	pthread_join(thread, NULL);
	started = false;
}
