/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h: a model's deployments and the choice among them per request,
 * the retry decision before the first byte reaches the client, the
 * fallbacks' cycle check, and the host-wide cooldowns.  No sockets and no
 * HTTP: openai.c makes each attempt and asks this module what to do next.
 *
 * Deployments.  A model object (registry.h) may carry "deployments":
 * [{provider_id, provider_model_id, weight}] (weight a positive integer,
 * default 1); without them its one deployment is provider_id /
 * provider_resource_id.  "routing" picks among those not yet tried in this
 * request: "weighted" (the default: weighted random), "least-busy" (fewest
 * requests in flight on this host, ties to the first) or "ordered" (the
 * first in the list).  A deployment that is cooling down is passed over
 * while another untried one is not; when every untried one is cooling
 * down they are chosen from anyway (try rather than fail); when every one
 * was tried the choice starts again over all of them.
 *
 * Retries (router_retryable): only when nothing went to the client and the
 * upstream either gave no HTTP answer at all (refused, reset, unreachable,
 * timed out before its first byte) or answered 429 or 5xx.  Never after a
 * stream began, never on another status, never when the client left.  At
 * most router.max_retries more attempts per model (default 2), each on
 * another deployment when there is one; a retry on the same deployment
 * waits router_backoff_ms() (exponential with jitter, and the upstream's
 * Retry-After up to ROUTER_RETRY_AFTER_MAX_MS).  A retryable failure is
 * also a failure for the cooldown.
 *
 * Cooldown: a deployment (keyed by provider id and provider model id) that
 * fails router.cooldown_failures times (default 3) within
 * router.cooldown_window seconds (default 30) is cooling down for
 * router.cooldown seconds (default 60), for every worker of the host.
 *
 * Shared state: ROUTER_SLOTS slots in the host's shared memory (shm.h;
 * router_declare() in the master before shm_map), or in this process's
 * memory without a mapping (unit tests, CLI commands).  A slot is claimed
 * for a deployment key by compare-and-swap and never given back (more
 * deployments than slots are simply not cooled down or counted); its words
 * are written with relaxed atomics, so two failures racing may count as one
 * (a cooldown a failure later), never corrupt a slot.  The in-flight count
 * of least-busy is per worker slot (a killed worker's count goes with it)
 * and summed over the taken slots.
 */
#ifndef SG_ROUTER_H
#define SG_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "conf.h"
#include "sg.h"

#define ROUTER_MAX_DEPLOYMENTS 16 /* per model; registration refuses more */
#define ROUTER_MAX_FALLBACKS 8    /* per model; registration refuses more */
#define ROUTER_MAX_WEIGHT 1000000
#define ROUTER_SLOTS 512
#define ROUTER_RETRY_AFTER_MAX_MS 5000L

enum router_strategy { ROUTER_WEIGHTED, ROUTER_LEAST_BUSY, ROUTER_ORDERED };

/* "weighted", "least-busy", "ordered" (NULL: the default, weighted); false for anything else. */
bool router_strategy_from_name(const char *name, enum router_strategy *out);
/* NULL-terminated, for the 400 that lists them. */
extern const char *const router_strategy_names[];

/* The router settings of a config (router.*). */
struct router_settings {
	int max_retries;
	int cooldown_failures;
	int64_t cooldown_window_ms;
	int64_t cooldown_ms;
};
void router_settings_of(const struct sg_conf *c, struct router_settings *out);

struct router_deployment {
	const char *provider_id;    /* borrowed from the model object */
	const char *provider_model; /* the upstream's name for it; borrowed */
	long weight;
	uint64_t key; /* router_key() */
};

/* A request's plan for one model: its deployments and which were tried. */
struct router_plan {
	struct router_deployment d[ROUTER_MAX_DEPLOYMENTS];
	size_t n;
	enum router_strategy strategy;
	bool tried[ROUTER_MAX_DEPLOYMENTS];
	int last; /* the index router_next() returned last; -1 before */
};

/*
 * The plan of model (a registry object, borrowed for the plan's life).
 * False when it names no usable deployment (not an object, no provider).
 */
bool router_plan_of(const json_t *model, struct router_plan *plan);

/* FNV-1a of provider id and provider model id: a deployment's cooldown key (never 0). */
uint64_t router_key(const char *provider_id, const char *provider_model);

/* ---- the pure choice ---- */

struct router_candidate {
	long weight;
	bool cooled;   /* cooling down */
	uint64_t busy; /* in flight on this host */
	bool tried;    /* already tried in this request */
};

/*
 * The index of the candidate to try next (see the header comment for the
 * order of preference), or -1 when n is 0.  rnd in [0, 1) draws the
 * weighted choice.  Pure.
 */
int router_choose(enum router_strategy s, const struct router_candidate *c, size_t n, double rnd);

/* router_choose() over plan with the host's cooldowns and in-flight counts; marks the choice tried. */
int router_next(struct router_plan *plan, int64_t now_ms);

/* ---- retries ---- */

/*
 * Whether an attempt that ended so may be retried: st its status (SG_OK when
 * an HTTP answer came), http_status the answer's (0: none), streamed when
 * bytes went to the client, aborted when the client left.  Pure.
 */
bool router_retryable(sg_status st, long http_status, bool streamed, bool aborted);

/*
 * How long to wait before attempt number attempt (2 for the first retry) on
 * the same deployment: 100 ms doubling per retry up to 2 s, the upper half
 * drawn by rnd in [0, 1) (jitter), or retry_after_ms (>= 0: the upstream's
 * Retry-After) when longer, bounded by ROUTER_RETRY_AFTER_MAX_MS.  0 when
 * the retry goes to another deployment (the failure was that one's).  Pure.
 */
long router_backoff_ms(int attempt, long retry_after_ms, bool same_deployment, double rnd);

/*
 * A Retry-After value (delta seconds or an HTTP date; now is the wall clock
 * for the latter) in milliseconds, >= 0; -1 when it is neither.  Pure.
 */
long router_retry_after_ms(const char *value, size_t len, time_t now);

/* A uniform draw in [0, 1) from this thread's generator. */
double router_random(void);

/* ---- fallbacks ---- */

/*
 * The "fallbacks" of the model named id as the registry holds it: a new
 * reference to its array (or NULL: none, unknown, invisible).
 */
typedef json_t *(*router_fallbacks_fn)(void *ctx, const char *id);

/*
 * Whether registering self with fallbacks (an array of ids) would close a
 * cycle: some chain of fallbacks (each model's own list, as fn gives it)
 * leads from one of them back to self.  When it does, the first fallback of
 * self on that chain is written to via.  Looks at most 256 models.
 */
bool router_fallback_cycle(const char *self, const json_t *fallbacks, router_fallbacks_fn fn, void *ctx, char *via,
			   size_t vialen);

/* ---- cooldowns and in-flight counts (shared memory) ---- */

/* Master, before shm_map(): the shared slots.  SG_OK, or shm_declare's failure. */
sg_status router_declare(void) SG_MUST_CHECK;

/* One slot's state, as the pure state machine below sees it. */
struct router_cool {
	uint64_t window_start_ms; /* when the current failure window began */
	uint64_t failures;        /* failures counted in that window */
	uint64_t until_ms;        /* cooling down until then; 0: not */
};

/* A failure at now_ms: counts it; true when it starts a cooldown.  Pure. */
bool router_cool_fail(struct router_cool *s, const struct router_settings *rs, int64_t now_ms);
/* Whether s is cooling down at now_ms.  Pure. */
bool router_cool_active(const struct router_cool *s, int64_t now_ms);

/* A retryable failure of deployment key at now_ms: counted host-wide (logs when it starts a cooldown). */
void router_note_failure(uint64_t key, const char *provider_id, const char *provider_model,
			 const struct router_settings *rs, int64_t now_ms);
/* Whether deployment key is cooling down on this host. */
bool router_cooled(uint64_t key, int64_t now_ms);
/* In flight on this host: add +1 when an attempt starts, -1 when it ends. */
void router_busy_add(uint64_t key, int delta);
uint64_t router_busy(uint64_t key);
/* Forgets this process's own slots (tests). */
void router_reset(void);

#endif
