/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c: deployments, the choice per request, the retry decision and the
 * host-wide cooldowns (router.h).  The pure parts (router_choose,
 * router_retryable, router_backoff_ms, router_retry_after_ms,
 * router_cool_fail, router_fallback_cycle) take their clock and their
 * randomness as arguments so the unit tests can drive them; the rest reads
 * the shared slots.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "router.h"
#include "shm.h"

const char *const router_strategy_names[] = {"weighted", "least-busy", "ordered", NULL};

bool
router_strategy_from_name(const char *name, enum router_strategy *out)
{
	static const enum router_strategy values[] = {ROUTER_WEIGHTED, ROUTER_LEAST_BUSY, ROUTER_ORDERED};

	if (name == NULL) {
		*out = ROUTER_WEIGHTED;
		return true;
	}
	for (size_t i = 0; router_strategy_names[i] != NULL; i++) {
		if (strcmp(name, router_strategy_names[i]) == 0) {
			*out = values[i];
			return true;
		}
	}
	return false;
}

void
router_settings_of(const struct sg_conf *c, struct router_settings *out)
{
	out->max_retries = c->router_max_retries;
	out->cooldown_failures = c->router_cooldown_failures;
	out->cooldown_window_ms = (int64_t) c->router_cooldown_window_s * 1000;
	out->cooldown_ms = (int64_t) c->router_cooldown_s * 1000;
}

uint64_t
router_key(const char *provider_id, const char *provider_model)
{
	/* 0xff: a separator no id contains. */
	uint64_t h = sg_fnv1a(sg_fnv1a_byte(sg_fnv1a(SG_FNV1A_INIT, provider_id ? provider_id : ""), 0xff),
			      provider_model ? provider_model : "");

	return h != 0 ? h : 1;
}

bool
router_plan_of(const json_t *model, struct router_plan *plan)
{
	const json_t *deps = json_object_get(model, "deployments"), *d;
	const char *routing = json_string_value(json_object_get(model, "routing"));
	size_t i;

	memset(plan, 0, sizeof(*plan));
	plan->last = -1;
	if (!json_is_object(model) || !router_strategy_from_name(routing, &plan->strategy))
		plan->strategy = ROUTER_WEIGHTED;
	json_array_foreach(deps, i, d) {
		struct router_deployment *rd = &plan->d[plan->n];
		const json_t *w = json_object_get(d, "weight");

		if (plan->n == ROUTER_MAX_DEPLOYMENTS)
			break;
		rd->provider_id = json_string_value(json_object_get(d, "provider_id"));
		rd->provider_model = json_string_value(json_object_get(d, "provider_model_id"));
		rd->weight = json_is_integer(w) && json_integer_value(w) > 0 ? (long) json_integer_value(w) : 1;
		if (rd->provider_id == NULL || rd->provider_model == NULL)
			continue;
		rd->key = router_key(rd->provider_id, rd->provider_model);
		plan->n++;
	}
	if (plan->n == 0) {
		struct router_deployment *rd = &plan->d[0];

		rd->provider_id = json_string_value(json_object_get(model, "provider_id"));
		rd->provider_model = json_string_value(json_object_get(model, "provider_resource_id"));
		if (rd->provider_model == NULL)
			rd->provider_model = json_string_value(json_object_get(model, "identifier"));
		if (rd->provider_id == NULL || rd->provider_model == NULL)
			return false;
		rd->weight = 1;
		rd->key = router_key(rd->provider_id, rd->provider_model);
		plan->n = 1;
	}
	return true;
}

/* ------------------------------------------------------------------- choice */

/* Whether c may be chosen in a round that wants untried (or any) and not cooled (or any). */
static bool
eligible(const struct router_candidate *c, bool want_untried, bool want_warm)
{
	return (!want_untried || !c->tried) && (!want_warm || !c->cooled);
}

static int
choose_among(enum router_strategy s, const struct router_candidate *c, size_t n, double rnd, bool untried, bool warm)
{
	int best = -1;
	double total = 0, point;

	switch (s) {
	case ROUTER_ORDERED:
		for (size_t i = 0; i < n; i++)
			if (eligible(&c[i], untried, warm))
				return (int) i;
		return -1;
	case ROUTER_LEAST_BUSY:
		for (size_t i = 0; i < n; i++)
			if (eligible(&c[i], untried, warm) && (best < 0 || c[i].busy < c[best].busy))
				best = (int) i;
		return best;
	case ROUTER_WEIGHTED:
		break;
	}
	for (size_t i = 0; i < n; i++)
		if (eligible(&c[i], untried, warm))
			total += (double) (c[i].weight > 0 ? c[i].weight : 1);
	if (total <= 0)
		return -1;
	point = rnd * total;
	for (size_t i = 0; i < n; i++) {
		if (!eligible(&c[i], untried, warm))
			continue;
		best = (int) i; /* the last eligible one takes what rounding leaves */
		point -= (double) (c[i].weight > 0 ? c[i].weight : 1);
		if (point < 0)
			break;
	}
	return best;
}

int
router_choose(enum router_strategy s, const struct router_candidate *c, size_t n, double rnd)
{
	/* Untried and warm; untried though cooling; any warm; any. */
	static const bool rounds[4][2] = {{true, true}, {true, false}, {false, true}, {false, false}};
	int i = -1;

	if (rnd < 0 || rnd >= 1)
		rnd = 0;
	for (size_t r = 0; i < 0 && r < 4; r++)
		i = choose_among(s, c, n, rnd, rounds[r][0], rounds[r][1]);
	return i;
}

int
router_next(struct router_plan *plan, int64_t now_ms)
{
	struct router_candidate c[ROUTER_MAX_DEPLOYMENTS];
	int i;

	for (size_t k = 0; k < plan->n; k++) {
		c[k] = (struct router_candidate){
			.weight = plan->d[k].weight,
			.cooled = router_cooled(plan->d[k].key, now_ms),
			.busy = plan->strategy == ROUTER_LEAST_BUSY ? router_busy(plan->d[k].key) : 0,
			.tried = plan->tried[k]};
	}
	i = router_choose(plan->strategy, c, plan->n, router_random());
	if (i >= 0)
		plan->tried[i] = true;
	plan->last = i;
	return i;
}

/* ------------------------------------------------------------------ retries */

bool
router_retryable(sg_status st, long http_status, bool streamed, bool aborted)
{
	if (streamed || aborted)
		return false;
	if (st != SG_OK) /* no complete answer: only when none began (no status line) and not our own failure */
		return http_status == 0 && (st == SG_E_BAD_GATEWAY || st == SG_E_GATEWAY_TIMEOUT);
	return http_status == 429 || (http_status >= 500 && http_status <= 599);
}

long
router_backoff_ms(int attempt, long retry_after_ms, bool same_deployment, double rnd)
{
	long base = 100, wait;

	if (!same_deployment)
		return 0;
	if (rnd < 0 || rnd >= 1)
		rnd = 0;
	for (int k = 2; k < attempt && base < 2000; k++)
		base *= 2;
	if (base > 2000)
		base = 2000;
	wait = base / 2 + (long) (rnd * (double) (base / 2));
	if (retry_after_ms > wait)
		wait = retry_after_ms;
	return wait < ROUTER_RETRY_AFTER_MAX_MS ? wait : ROUTER_RETRY_AFTER_MAX_MS;
}

long
router_retry_after_ms(const char *value, size_t len, time_t now)
{
	char buf[64];
	size_t a = 0, b = len;
	time_t when;

	while (a < b && (value[a] == ' ' || value[a] == '\t'))
		a++;
	while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t' || value[b - 1] == '\r' || value[b - 1] == '\n'))
		b--;
	if (a == b || b - a >= sizeof(buf))
		return -1;
	memcpy(buf, value + a, b - a);
	buf[b - a] = '\0';
	if (strspn(buf, "0123456789") == b - a) {
		if (b - a > 6) /* past any bound we honour */
			return 1000000L * 1000;
		return strtol(buf, NULL, 10) * 1000;
	}
	when = curl_getdate(buf, NULL);
	if (when == (time_t) -1)
		return -1;
	return when > now ? (long) (when - now) * 1000 : 0;
}

double
router_random(void)
{
	static _Thread_local uint64_t state;
	uint64_t x;

	if (state == 0)
		state = ((uint64_t) sg_now_us() * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t) getpid() << 32) ^
			(uint64_t) (uintptr_t) &state;
	/* xorshift64* */
	x = state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	state = x != 0 ? x : 1;
	return (double) ((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* ---------------------------------------------------------------- fallbacks */

#define CYCLE_MAX_SEEN 256

struct walk {
	router_fallbacks_fn fn;
	void *ctx;
	const char *self;
	char *seen[CYCLE_MAX_SEEN];
	size_t nseen;
};

static bool
seen_before(struct walk *w, const char *id)
{
	for (size_t i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i], id) == 0)
			return true;
	if (w->nseen < CYCLE_MAX_SEEN && (w->seen[w->nseen] = sg_strdup(id)) != NULL)
		w->nseen++;
	return false;
}

/* Whether self is reachable from id along fallbacks. */
static bool
reaches_self(struct walk *w, const char *id)
{
	json_t *list, *v;
	size_t i;
	bool found = false;

	if (strcmp(id, w->self) == 0)
		return true;
	if (seen_before(w, id) || w->nseen >= CYCLE_MAX_SEEN)
		return false;
	list = w->fn(w->ctx, id);
	json_array_foreach(list, i, v) {
		const char *next = json_string_value(v);

		if (next != NULL && reaches_self(w, next)) {
			found = true;
			break;
		}
	}
	json_decref(list);
	return found;
}

bool
router_fallback_cycle(const char *self, const json_t *fallbacks, router_fallbacks_fn fn, void *ctx, char *via,
		      size_t vialen)
{
	struct walk w = {.fn = fn, .ctx = ctx, .self = self};
	const json_t *v;
	size_t i;
	bool cycle = false;

	json_array_foreach(fallbacks, i, v) {
		const char *id = json_string_value(v);

		if (id != NULL && reaches_self(&w, id)) {
			if (vialen > 0)
				snprintf(via, vialen, "%s", id);
			cycle = true;
			break;
		}
	}
	for (size_t k = 0; k < w.nseen; k++)
		free(w.seen[k]);
	return cycle;
}

/* ------------------------------------------------------------ shared slots */

struct slot {
	uint64_t key; /* router_key(); 0: free */
	struct router_cool cool;
};

struct worker_busy {
	uint64_t busy[ROUTER_SLOTS];
};

static struct shm_area area = {.name = "router cooldowns",
			       .host_bytes = sizeof(struct slot) * ROUTER_SLOTS,
			       .worker_bytes = sizeof(struct worker_busy)};
static struct slot local[ROUTER_SLOTS]; /* without a shared mapping */
static struct worker_busy local_busy;

sg_status
router_declare(void)
{
	return shm_declare(&area);
}

void
router_reset(void)
{
	memset(local, 0, sizeof(local));
	memset(&local_busy, 0, sizeof(local_busy));
}

static struct slot *
slots(void)
{
	struct slot *s = shm_host(&area);

	return s != NULL ? s : local;
}

/* The index of key's slot, claimed when claim and it has none; -1 when there is none. */
static int
slot_of(uint64_t key, bool claim)
{
	struct slot *s = slots();
	size_t start = (size_t) (key % ROUTER_SLOTS);

	for (size_t k = 0; k < ROUTER_SLOTS; k++) {
		size_t i = (start + k) % ROUTER_SLOTS;
		uint64_t have = shm_load(&s[i].key), zero = 0;

		if (have == key)
			return (int) i;
		if (have != 0)
			continue;
		if (!claim)
			return -1; /* slots are claimed in probe order: key would be here */
		if (__atomic_compare_exchange_n(&s[i].key, &zero, key, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED) ||
		    zero == key)
			return (int) i;
	}
	return -1;
}

bool
router_cool_fail(struct router_cool *s, const struct router_settings *rs, int64_t now_ms)
{
	uint64_t now = (uint64_t) now_ms, start = shm_load(&s->window_start_ms), n;

	if (start == 0 || now - start > (uint64_t) rs->cooldown_window_ms) {
		shm_store(&s->window_start_ms, now);
		shm_store(&s->failures, 0);
	}
	n = shm_atomic_add(&s->failures, 1);
	if (n < (uint64_t) rs->cooldown_failures)
		return false;
	shm_store(&s->failures, 0);
	shm_store(&s->window_start_ms, 0);
	shm_store(&s->until_ms, now + (uint64_t) rs->cooldown_ms);
	return true;
}

bool
router_cool_active(const struct router_cool *s, int64_t now_ms)
{
	return shm_load(&s->until_ms) > (uint64_t) now_ms;
}

void
router_note_failure(uint64_t key, const char *provider_id, const char *provider_model, const struct router_settings *rs,
		    int64_t now_ms)
{
	int i = slot_of(key, true);

	if (i >= 0 && router_cool_fail(&slots()[i].cool, rs, now_ms))
		log_warn("deployment %s/%s failed %d times within %lld s: skipped for %lld s", provider_id,
			 provider_model, rs->cooldown_failures, (long long) rs->cooldown_window_ms / 1000,
			 (long long) rs->cooldown_ms / 1000);
}

bool
router_cooled(uint64_t key, int64_t now_ms)
{
	int i = slot_of(key, false);

	return i >= 0 && router_cool_active(&slots()[i].cool, now_ms);
}

void
router_busy_add(uint64_t key, int delta)
{
	struct worker_busy *w = shm_worker(&area);
	int i = slot_of(key, true);

	if (i < 0)
		return;
	if (w == NULL)
		w = &local_busy;
	if (delta > 0)
		shm_atomic_add(&w->busy[i], (uint64_t) delta);
	else
		shm_atomic_sub(&w->busy[i], (uint64_t) -delta);
}

uint64_t
router_busy(uint64_t key)
{
	int i = slot_of(key, false);
	uint64_t sum = 0;

	if (i < 0)
		return 0;
	if (!shm_mapped())
		return shm_load(&local_busy.busy[i]);
	for (int s = 0; s < SHM_SLOTS; s++) {
		const struct worker_busy *w = s == 0 || shm_slot_taken(s) ? shm_worker_at(&area, s) : NULL;

		if (w != NULL)
			sum += shm_load(&w->busy[i]);
	}
	return sum;
}
