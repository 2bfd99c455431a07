/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits.c: windows, the subject table in shared memory, admission and
 * charging (see sg_limits.h).  The sync with PostgreSQL is in limits_sync.c,
 * the CLI in limits_cli.c.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "http.h"
#include "limits_int.h"
#include "log.h"

const enum limits_period limits_counter_period[LC_COUNT] = {LIMITS_MINUTE, LIMITS_MINUTE, LIMITS_DAY, LIMITS_MONTH};

static const char *const reason_names[] = {
#define LIMITS_X_NAME(e, s) s,
	LIMITS_REASONS(LIMITS_X_NAME)
#undef LIMITS_X_NAME
};

static struct shm_area area = {.name = "limits"};
static bool declared;
static size_t nsubjects;      /* power of two */
static int64_t default_cap;   /* limits.default_max_concurrent, resolved */
static int64_t inference_cap; /* server.threads - server.reserved_threads */
static char host_id[128];

const char *
limits_reason_name(enum limits_reason r)
{
	return (unsigned) r < LIMITS_REASON_COUNT ? reason_names[r] : NULL;
}

/* ---- Windows ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/*
 * Months from 1970-01 to the month holding day z (days from 1970-01-01), the
 * inverse of days_from_civil: arithmetic, because gmtime_r takes glibc's
 * time-zone lock, which every request's threads would queue on.
 */
static int64_t
month_of_day(int64_t z)
{
	int64_t era, doe, yoe, doy, mp, y, m;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;                                      /* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365], from March 1 */
	mp = (5 * doy + 2) / 153;                                    /* [0, 11], March = 0 */
	m = mp < 10 ? mp + 3 : mp - 9;                               /* [1, 12] */
	y = yoe + era * 400 + (m <= 2);
	return (y - 1970) * 12 + (m - 1);
}

int64_t
limits_window(enum limits_period p, time_t t)
{
	switch (p) {
	case LIMITS_MINUTE:
		return floor_div((int64_t) t, 60);
	case LIMITS_DAY:
		return floor_div((int64_t) t, 86400);
	default:
		return month_of_day(floor_div((int64_t) t, 86400));
	}
}

time_t
limits_window_start(enum limits_period p, int64_t idx)
{
	switch (p) {
	case LIMITS_MINUTE:
		return (time_t) (idx * 60);
	case LIMITS_DAY:
		return (time_t) (idx * 86400);
	default:
		return (time_t) (days_from_civil(1970 + floor_div(idx, 12), idx - floor_div(idx, 12) * 12 + 1, 1) *
				 86400);
	}
}

int64_t
limits_seconds_left(enum limits_period p, time_t t)
{
	int64_t left = (int64_t) limits_window_start(p, limits_window(p, t) + 1) - (int64_t) t;

	return left > 0 ? left : 1;
}

uint64_t
limits_subject_hash(const char *principal, const char *model, const char *key_id)
{
	uint64_t h = sg_fnv1a(SG_FNV1A_INIT, principal ? principal : "");

	h = sg_fnv1a(sg_fnv1a_byte(h, 0x1f), model ? model : "");
	h = sg_fnv1a(sg_fnv1a_byte(h, 0x1f), key_id ? key_id : "");
	return h != 0 ? h : 1;
}

/*
 * The hashes of a request's four subjects, (P), (P, M), (P, K), (P, M, K)
 * in the order of admit's s (bit 0: model, bit 1: key), each equal to
 * limits_subject_hash() of it, with each string hashed once.
 */
static void
subject_hashes(const char *principal, const char *model, const char *key_id, uint64_t out[4])
{
	uint64_t hp = sg_fnv1a_byte(sg_fnv1a(SG_FNV1A_INIT, principal ? principal : ""), 0x1f);
	uint64_t hm[2] = {sg_fnv1a_byte(hp, 0x1f), sg_fnv1a_byte(sg_fnv1a(hp, model ? model : ""), 0x1f)};

	for (int s = 0; s < 4; s++) {
		uint64_t h = (s & 2) && key_id != NULL ? sg_fnv1a(hm[s & 1], key_id) : hm[s & 1];

		out[s] = h != 0 ? h : 1;
	}
}

/* The window of each counter at t: computed once per second per thread (admit and finish need them). */
static void
windows_at(time_t t, int64_t win[LC_COUNT])
{
	static _Thread_local bool have;
	static _Thread_local time_t at;
	static _Thread_local int64_t cached[LC_COUNT];

	if (!have || t != at) {
		for (int c = 0; c < LC_COUNT; c++)
			cached[c] = limits_window(limits_counter_period[c], t);
		at = t;
		have = true;
	}
	memcpy(win, cached, sizeof(cached));
}

/* ---- The subject table ---- */

/* The master, after reaping a worker: its requests in flight are gone with it. */
static void
retire_inflight(void *worker, void *host)
{
	struct limits_worker *w = worker;
	struct limits_host *h = host;

	for (size_t i = 0; i < nsubjects; i++) {
		uint64_t k = shm_load(&w->inflight[i]);

		if (k > 0)
			shm_atomic_sub(&h->entries[i].inflight, k);
	}
}

sg_status
limits_declare(const struct sg_conf *conf)
{
	size_t n = 64;

	char name[64] = "";

	if (!conf->limits_enabled)
		return SG_OK;
	if (gethostname(name, sizeof(name) - 1) != 0)
		snprintf(name, sizeof(name), "unknown");
	snprintf(host_id, sizeof(host_id), "%s/%ld/%lld", name, (long) getpid(), (long long) time(NULL));
	while (n < (size_t) conf->limits_max_subjects)
		n <<= 1;
	nsubjects = n;
	area.host_bytes = sizeof(struct limits_host) + n * sizeof(struct limits_entry);
	area.worker_bytes = sizeof(struct limits_worker) + n * sizeof(uint64_t);
	/* A reaped worker's requests in flight leave the host's sums (shm then zeroes its slot). */
	area.retire = retire_inflight;
	if (shm_declare(&area) != SG_OK)
		return SG_E_INTERNAL;
	declared = true;
	return SG_OK;
}

struct limits_host *
limits_host_area(void)
{
	return declared ? shm_host(&area) : NULL;
}

size_t
limits_subjects(void)
{
	return nsubjects;
}

struct limits_entry *
limits_entry_find(struct limits_host *h, uint64_t hash, bool create)
{
	size_t mask = nsubjects - 1, i = (size_t) hash & mask;

	for (size_t probe = 0; probe < nsubjects; probe++, i = (i + 1) & mask) {
		struct limits_entry *e = &h->entries[i];
		uint64_t cur = shm_load(&e->hash);

		if (cur == hash)
			return e;
		if (cur != 0)
			continue;
		if (!create)
			return NULL;
		if (__atomic_compare_exchange_n(&e->hash, &cur, hash, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
		    cur == hash)
			return e;
	}
	if (create && shm_atomic_add(&h->full_warned, 1) == 1)
		log_warn("the limits' subject table is full (limits.max_subjects %zu): new subjects are not limited",
			 nsubjects);
	return NULL;
}

static uint64_t
sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

uint64_t
limits_effective(const struct limits_entry *e, enum limits_counter c, int64_t win)
{
	return limits_count_in(shm_load(&e->local[c]), win) + limits_count_in(shm_load(&e->others[c]), win);
}

/*
 * The window a count for win goes to in word cur: win, or the word's own when
 * it is newer (the index is modular: newer by less than half its range).  A
 * thread that read the clock just before a boundary counts in the window
 * after it, rather than turn the word back and lose that window's count.
 */
static int64_t
window_for(uint64_t cur, int64_t win)
{
	const uint64_t mask = (UINT64_C(1) << LIMITS_WIN_BITS) - 1;
	uint64_t ahead = ((cur >> LIMITS_CNT_BITS) - (uint64_t) win) & mask;

	return cur != 0 && ahead != 0 && ahead < mask / 2 ? win + (int64_t) ahead : win;
}

/* Adds n to window word *w for window win (a word of an older window restarts at 0). */
static void
window_add(uint64_t *w, int64_t win, uint64_t n)
{
	uint64_t cur = shm_load(w), next;

	do {
		int64_t at = window_for(cur, win);

		next = limits_pack(at, limits_count_in(cur, at) + n);
	} while (!__atomic_compare_exchange_n(w, &cur, next, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* Counts one request in *w for win unless base (other hosts) + the count reaches limit. */
static bool
window_take(uint64_t *w, int64_t win, uint64_t base, uint64_t limit)
{
	uint64_t cur = shm_load(w), n;

	do {
		win = window_for(cur, win);
		n = limits_count_in(cur, win);
		if (n + base >= limit)
			return false;
	} while (!__atomic_compare_exchange_n(w, &cur, limits_pack(win, n + 1), true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

/* Takes back one request of window win (nothing once the window has passed). */
static void
window_untake(uint64_t *w, int64_t win)
{
	uint64_t cur = shm_load(w), n;

	do {
		n = limits_count_in(cur, win);
		if (n == 0)
			return;
	} while (!__atomic_compare_exchange_n(w, &cur, limits_pack(win, n - 1), true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

/* ---- Admission ---- */

#define SUBJECTS 4

/* What this thread's request took: released and charged by limits_finish. */
struct ticket {
	bool active, reserve;
	int n;
	struct limits_entry *e[SUBJECTS];
	bool inflight[SUBJECTS];
	bool rpm[SUBJECTS];
	int64_t minute;
};
static _Thread_local struct ticket tk;

/* The caps a worker applies, from its own config (a reload's new workers get the new values). */
void
limits_start_caps(const struct sg_conf *conf)
{
	int reserve = conf->reserved_threads < conf->threads ? conf->reserved_threads : conf->threads - 1;

	default_cap = conf->limits_default_max_concurrent > 0 ? conf->limits_default_max_concurrent
							      : ((int64_t) conf->workers * conf->threads + 1) / 2;
	inference_cap = conf->threads - reserve;
}

/* This host's requests in flight for entry index i. */
static uint64_t
inflight_sum(const struct limits_host *h, size_t i)
{
	return shm_load(&h->entries[i].inflight);
}

uint64_t
limits_inflight_host(const struct limits_entry *e)
{
	struct limits_host *h = limits_host_area();

	return h != NULL ? inflight_sum(h, (size_t) (e - h->entries)) : 0;
}

const char *
limits_host_id(void)
{
	return host_id;
}

/* Gives back the requests in flight (and, for a rejected request, its count of the minute). */
static void
release(struct limits_host *h, bool rejected)
{
	struct limits_worker *w = shm_worker(&area);

	for (int i = 0; i < tk.n; i++) {
		if (tk.inflight[i]) {
			shm_atomic_sub(&w->inflight[tk.e[i] - h->entries], 1);
			shm_atomic_sub(&tk.e[i]->inflight, 1);
		}
		if (tk.rpm[i] && rejected)
			window_untake(&tk.e[i]->local[LC_REQ_MIN], tk.minute);
		tk.inflight[i] = tk.rpm[i] = false;
	}
	if (tk.reserve)
		shm_atomic_sub(&w->inference, 1);
	tk.reserve = false;
}

/* The subject named in a message: "principal 'p' on model 'm' with key 'k'". */
static void
describe(char *buf, size_t len, const struct request *r, const char *model, int which)
{
	const char *p = r->id.principal;
	int n = p != NULL ? snprintf(buf, len, "principal '%.*s'", (int) sg_utf8_prefix(p, 200), p)
			  : snprintf(buf, len, "anonymous callers");

	if (n < 0 || (size_t) n >= len)
		return;
	if (which & 1)
		n += snprintf(buf + n, len - (size_t) n, " on model '%.*s'", (int) sg_utf8_prefix(model, 200), model);
	if ((which & 2) && (size_t) n < len)
		snprintf(buf + n, len - (size_t) n, " with key '%s'", r->id.key_id);
}

/*
 * Backs out what this request took and records the 429: "<kind> of <limit>
 * <unit> <verb> for <subject>", with Retry-After.
 */
static bool rate_headers(struct request *r, int64_t minute, time_t now);

/* The 429 (or insufficient_quota): Retry-After and the subjects' x-ratelimit-* first, then what is held let go. */
static sg_status
reject(struct request *r, struct limits_host *h, time_t now, enum limits_reason why, sg_status st, int64_t retry_after,
       const char *kind, int64_t limit, const char *unit, const char *verb, const char *subject)
{
	bool ok = rate_headers(r, tk.minute, now) && http_add_header_int(r, "Retry-After", retry_after, "");

	release(h, true);
	tk.active = false;
	shm_atomic_add(&h->rejected[why], 1);
	if (!ok)
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	return http_fail(r, st, NULL, "%s of %" PRId64 " %s %s for %s", kind, limit, unit, verb, subject);
}

/* x-ratelimit-* of the tightest rpm and tpm among the request's subjects. */
static bool
rate_headers(struct request *r, int64_t minute, time_t now)
{
	int64_t best_req = -1, lim_req = 0, best_tok = -1, lim_tok = 0, reset = limits_seconds_left(LIMITS_MINUTE, now);
	struct http_int_header hd[6];
	size_t n = 0;

	for (int i = 0; i < tk.n; i++) {
		uint64_t rpm = shm_load(&tk.e[i]->lim[LK_RPM]), tpm = shm_load(&tk.e[i]->lim[LK_TPM]);

		if (rpm > 0) {
			int64_t left = (int64_t) sat_sub(rpm - 1, limits_effective(tk.e[i], LC_REQ_MIN, minute));

			if (best_req < 0 || left < best_req)
				best_req = left, lim_req = (int64_t) rpm - 1;
		}
		if (tpm > 0) {
			int64_t left = (int64_t) sat_sub(tpm - 1, limits_effective(tk.e[i], LC_TOK_MIN, minute));

			if (best_tok < 0 || left < best_tok)
				best_tok = left, lim_tok = (int64_t) tpm - 1;
		}
	}
	/* One reservation for the six lines. */
	if (best_req >= 0) {
		hd[n++] = (struct http_int_header){"x-ratelimit-limit-requests", lim_req, ""};
		hd[n++] = (struct http_int_header){"x-ratelimit-remaining-requests", best_req, ""};
		hd[n++] = (struct http_int_header){"x-ratelimit-reset-requests", reset, "s"};
	}
	if (best_tok >= 0) {
		hd[n++] = (struct http_int_header){"x-ratelimit-limit-tokens", lim_tok, ""};
		hd[n++] = (struct http_int_header){"x-ratelimit-remaining-tokens", best_tok, ""};
		hd[n++] = (struct http_int_header){"x-ratelimit-reset-tokens", reset, "s"};
	}
	return n == 0 || http_add_header_ints(r, hd, n);
}

static sg_status
admit(struct request *r, const char *model, struct limits_host *h, time_t now)
{
	const char *p = r->id.principal ? r->id.principal : "", *k = r->id.key_id;
	struct limits_worker *w = shm_worker(&area);
	int64_t win[LC_COUNT];
	char subj[640];
	int which[SUBJECTS];
	uint64_t hash[SUBJECTS];

	windows_at(now, win);
	tk.minute = win[LC_REQ_MIN];

	/* The subjects: (P) always, the narrower ones only when a rule made them. */
	tk.n = 0;
	subject_hashes(p, model, k, hash);
	for (int s = 0; s < SUBJECTS; s++) {
		struct limits_entry *e;

		if ((s & 2) && k == NULL)
			continue;
		e = limits_entry_find(h, hash[s], s == 0);
		if (e == NULL)
			continue;
		which[tk.n] = s;
		tk.e[tk.n++] = e;
	}

	/* The reserve: this worker's threads past threads - reserved_threads are not for inference. */
	tk.reserve = true;
	if ((int64_t) shm_atomic_add(&w->inference, 1) > inference_cap)
		return reject(r, h, now, LIMITS_R_RESERVE, SG_E_RATE_LIMIT_EXCEEDED, 1, "limit", inference_cap,
			      "inference requests in flight per worker (server.threads minus server.reserved_threads, "
			      "kept for health, version, metrics and registry reads)",
			      "reached", "this worker");

	/* Tokens: admitted while what was charged so far is below the limit. */
	for (int i = 0; i < tk.n; i++) {
		static const struct {
			enum limits_kind kind;
			enum limits_counter c;
			enum limits_reason why;
			sg_status st;
			enum limits_period period;
			const char *what, *unit, *verb;
		} tok[] = {
			{LK_TPM, LC_TOK_MIN, LIMITS_R_TPM, SG_E_RATE_LIMIT_TOKENS, LIMITS_MINUTE, "rate limit",
			 "tokens per minute", "reached"},
			{LK_DAY, LC_TOK_DAY, LIMITS_R_DAY, SG_E_INSUFFICIENT_QUOTA, LIMITS_DAY, "budget",
			 "tokens per day (UTC)", "spent"},
			{LK_MONTH, LC_TOK_MONTH, LIMITS_R_MONTH, SG_E_INSUFFICIENT_QUOTA, LIMITS_MONTH, "budget",
			 "tokens per month (UTC)", "spent"},
		};

		for (size_t t = 0; t < SG_ARRAY_LEN(tok); t++) {
			uint64_t lim = shm_load(&tk.e[i]->lim[tok[t].kind]);

			if (lim == 0 || limits_effective(tk.e[i], tok[t].c, win[tok[t].c]) < lim - 1)
				continue;
			describe(subj, sizeof(subj), r, model, which[i]);
			return reject(r, h, now, tok[t].why, tok[t].st, limits_seconds_left(tok[t].period, now),
				      tok[t].what, (int64_t) lim - 1, tok[t].unit, tok[t].verb, subj);
		}
	}

	/* Requests per minute: exact on this host. */
	for (int i = 0; i < tk.n; i++) {
		struct limits_entry *e = tk.e[i];
		uint64_t lim = shm_load(&e->lim[LK_RPM]);
		uint64_t others = limits_count_in(shm_load(&e->others[LC_REQ_MIN]), tk.minute);

		if (lim == 0)
			continue;
		if (!window_take(&e->local[LC_REQ_MIN], tk.minute, others, lim - 1)) {
			describe(subj, sizeof(subj), r, model, which[i]);
			return reject(r, h, now, LIMITS_R_RPM, SG_E_RATE_LIMIT_EXCEEDED,
				      limits_seconds_left(LIMITS_MINUTE, now), "rate limit", (int64_t) lim - 1,
				      "requests per minute", "reached", subj);
		}
		tk.rpm[i] = true;
	}

	/* Requests in flight: count first, then sum, and back out when over. */
	for (int i = 0; i < tk.n; i++) {
		size_t idx = (size_t) (tk.e[i] - h->entries);
		uint64_t lim = shm_load(&tk.e[i]->lim[LK_CONCURRENT]);
		int64_t cap = lim > 0 ? (int64_t) lim - 1 : which[i] == 0 ? default_cap : -1;

		shm_atomic_add(&w->inflight[idx], 1);
		shm_atomic_add(&tk.e[i]->inflight, 1);
		tk.inflight[i] = true;
		/* A row's max_concurrent counts the other hosts too (as of their last sync); the default cap is this host's. */
		if (cap >= 0 &&
		    (int64_t) (inflight_sum(h, idx) + (lim > 0 ? shm_load(&tk.e[i]->others_inflight) : 0)) > cap) {
			describe(subj, sizeof(subj), r, model, which[i]);
			return reject(r, h, now, LIMITS_R_CONCURRENT, SG_E_RATE_LIMIT_EXCEEDED, 1, "limit", cap,
				      lim > 0 ? "concurrent requests"
					      : "concurrent requests (limits.default_max_concurrent)",
				      "reached", subj);
		}
	}
	if (!rate_headers(r, tk.minute, now)) {
		release(h, true);
		tk.active = false;
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	}
	return SG_OK;
}

sg_status
limits_admit(struct request *r, const char *model)
{
	struct limits_host *h = limits_host_area();

	if (h == NULL || !r->conf->limits_enabled)
		return SG_OK;
	if (tk.active) /* one admission per request */
		return SG_OK;
	memset(&tk, 0, sizeof(tk));
	tk.active = true;
	return admit(r, model, h, time(NULL));
}

void
limits_finish(struct request *r)
{
	struct limits_host *h = limits_host_area();
	int64_t tokens = r->inference.total_tokens;
	int64_t win[LC_COUNT];

	if (h == NULL || !tk.active)
		return;
	release(h, false);
	if (tokens > 0) {
		windows_at(time(NULL), win);
		for (int i = 0; i < tk.n; i++)
			for (int c = LC_TOK_MIN; c < LC_COUNT; c++)
				window_add(&tk.e[i]->local[c], win[c], (uint64_t) tokens);
	}
	memset(&tk, 0, sizeof(tk));
}

uint64_t
limits_rejected_total(enum limits_reason reason)
{
	struct limits_host *h = limits_host_area();

	return h != NULL && (unsigned) reason < LIMITS_REASON_COUNT ? shm_load(&h->rejected[reason]) : 0;
}
