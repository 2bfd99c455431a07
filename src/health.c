/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c: the cached, host-wide provider probe behind ProviderInfo.health
 * (health.h).  A slot is three words: the provider's key, the claim (the
 * second a process took the probe) and the result (the second it ended << 16
 * | its code); each is read and written whole, so no reader sees half of one.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "proxy.h"
#include "shm.h"

struct slot {
	uint64_t key;     /* health_key() of the provider it is for; 0: unused */
	uint64_t claimed; /* second (monotonic) a process took the probe; 0: never */
	uint64_t result;  /* second it ended << 16 | code; 0: none yet */
};

static struct shm_area area = {.name = "provider health", .host_bytes = sizeof(struct slot) * HEALTH_MAX_PROVIDERS};
static struct slot local[HEALTH_MAX_PROVIDERS]; /* without a shared mapping */

sg_status
health_declare(void)
{
	return shm_declare(&area);
}

void
health_reset(void)
{
	memset(local, 0, sizeof(local));
}

unsigned
health_code(sg_status st, long http_status)
{
	if (st == SG_E_GATEWAY_TIMEOUT)
		return HEALTH_TIMEOUT;
	if (st != SG_OK)
		return HEALTH_UNREACHABLE;
	if (http_status >= 200 && http_status <= 299)
		return HEALTH_OK;
	return HEALTH_HTTP + (unsigned) (http_status > 0 && http_status < 1000 ? http_status : 0);
}

json_t *
health_json(unsigned code, const char *provider_id)
{
	char msg[256];

	switch (code) {
	case HEALTH_OK:
		return json_pack("{s:s}", "status", "OK");
	case HEALTH_TIMEOUT:
		snprintf(msg, sizeof(msg), "upstream %s timed out: no answer to GET /models within %ld ms", provider_id,
			 HEALTH_PROBE_TIMEOUT_MS);
		break;
	case HEALTH_UNREACHABLE:
		snprintf(msg, sizeof(msg), "upstream %s could not be reached (GET /models failed)", provider_id);
		break;
	default:
		snprintf(msg, sizeof(msg), "upstream %s answered GET /models with HTTP %u", provider_id,
			 code >= HEALTH_HTTP ? code - HEALTH_HTTP : 0);
		break;
	}
	return json_pack("{s:s,s:s}", "status", "Error", "message", msg);
}

/* FNV-1a of the provider's id and base URL: a slot left by another config is not this provider's. */
static uint64_t
health_key(const struct sg_provider *p)
{
	uint64_t h = sg_fnv1a(sg_fnv1a_byte(sg_fnv1a(SG_FNV1A_INIT, p->provider_id), 0xff), p->base_url);

	return h ? h : 1;
}

static uint64_t
now_s(void)
{
	return (uint64_t) (sg_now_us() / 1000000) + 1; /* never 0: 0 means "never" */
}

/* One probe, outside any lock: its code. */
static unsigned
probe(const struct sg_provider *p)
{
	struct proxy_request q = {.provider = p,
				  .method = "GET",
				  .path = "/models",
				  .timeout_ms = HEALTH_PROBE_TIMEOUT_MS,
				  .max_body = 4 << 20};
	struct proxy_response resp = {0};
	struct sg_err err = {0};
	sg_status st = proxy_call(&q, &resp, &err);
	unsigned code = health_code(st, resp.status);

	if (code != HEALTH_OK)
		log_info("provider %s health: %s", p->provider_id,
			 st != SG_OK ? err.msg : "GET /models answered with a status that is not 2xx");
	proxy_response_free(&resp);
	return code;
}

static bool
cas(uint64_t *w, uint64_t *expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(w, expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

json_t *
health_of(const struct sg_conf *c, const struct sg_provider *p)
{
	size_t i = (size_t) (p - c->providers);
	struct slot *shared = shm_host(&area), *s, own = {0};
	uint64_t key, k, t = now_s();
	/* The claim a prober holds at most: its bound, and a second of rounding. */
	uint64_t claim_max = (uint64_t) (HEALTH_PROBE_TIMEOUT_MS / 1000) + 2;
	struct timespec pause = {0, 20 * 1000 * 1000};

	if (p->api != SG_API_INFERENCE || !p->openai_compat || p->base_url == NULL)
		return json_pack("{s:s,s:s}", "status", "Not Implemented", "message",
				 "stackgate checks the health of OpenAI-compatible inference providers only");
	s = i >= HEALTH_MAX_PROVIDERS ? &own : shared != NULL ? &shared[i] : &local[i];
	key = health_key(p);
	k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
	if (k != key && cas(&s->key, &k, key)) {
		/* Another config's slot (a reload changed the providers): start afresh. */
		__atomic_store_n(&s->result, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&s->claimed, 0, __ATOMIC_RELEASE);
	}
	for (int waited = 0;; waited++) {
		uint64_t r = __atomic_load_n(&s->result, __ATOMIC_ACQUIRE), done = r >> 16;
		uint64_t cl = __atomic_load_n(&s->claimed, __ATOMIC_ACQUIRE);
		unsigned code = (unsigned) (r & 0xffff);
		/* Signed: another process may have stored a result or a claim after t was read. */
		bool fresh = code != 0 && (int64_t) (t - done) < HEALTH_PROBE_INTERVAL_S;
		/* A claim newer than the result is a probe in progress, unless it is older than any probe lasts. */
		bool probing = cl != 0 && cl >= done && (int64_t) (t - cl) <= (int64_t) claim_max;

		if (fresh || (probing && code != 0))
			return health_json(code, p->provider_id);
		if (!probing && cas(&s->claimed, &cl, t)) {
			code = probe(p);
			__atomic_store_n(&s->result, (now_s() << 16) | code, __ATOMIC_RELEASE);
			return health_json(code, p->provider_id);
		}
		/* The first probe is running elsewhere: wait for it, within its bound. */
		if (waited * 20 > HEALTH_PROBE_TIMEOUT_MS + 2000)
			return json_pack("{s:s,s:s}", "status", "Error", "message",
					 "the provider's health is being checked; ask again");
		nanosleep(&pause, NULL);
		t = now_s();
	}
}
