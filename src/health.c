/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.c: the cached provider probe behind ProviderInfo.health (health.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "log.h"
#include "proxy.h"

struct result {
	int64_t at_us;     /* when the last probe ended; 0: never */
	bool probing;      /* a thread is probing now */
	bool ok;
	char msg[256];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t probed = PTHREAD_COND_INITIALIZER;
static const struct sg_conf *table_conf; /* the config the table is for */
static struct result *table;
static size_t ntable;

void
health_reset(void)
{
	pthread_mutex_lock(&lock);
	free(table);
	table = NULL;
	ntable = 0;
	table_conf = NULL;
	pthread_mutex_unlock(&lock);
}

bool
health_status_ok(long http_status, const char *provider_id, char *msg, size_t msglen)
{
	if (http_status >= 200 && http_status <= 299) {
		if (msglen > 0)
			msg[0] = '\0';
		return true;
	}
	snprintf(msg, msglen, "upstream %s answered GET /models with HTTP %ld", provider_id, http_status);
	return false;
}

/* One probe, outside the lock. */
static bool
probe(const struct sg_provider *p, char *msg, size_t msglen)
{
	struct proxy_request q = {.provider = p, .method = "GET", .path = "/models", .timeout_ms = HEALTH_PROBE_TIMEOUT_MS,
				  .max_body = 4 << 20};
	struct proxy_response resp = {0};
	sg_status st = proxy_call(&q, &resp, msg, msglen);
	bool ok = st == SG_OK && health_status_ok(resp.status, p->provider_id, msg, msglen);

	if (!ok)
		log_info("provider %s health: %s", p->provider_id, msg);
	proxy_response_free(&resp);
	return ok;
}

/* The provider's slot, the table made for c first if needed; NULL when out of memory.  Under the lock. */
static struct result *
slot(const struct sg_conf *c, const struct sg_provider *p)
{
	size_t i = (size_t) (p - c->providers);

	if (table_conf != c || ntable != c->nproviders) {
		free(table);
		ntable = 0;
		table_conf = NULL;
		if ((table = sg_calloc(c->nproviders ? c->nproviders : 1, sizeof(*table))) == NULL)
			return NULL;
		ntable = c->nproviders;
		table_conf = c;
	}
	return i < ntable ? &table[i] : NULL;
}

json_t *
health_of(const struct sg_conf *c, const struct sg_provider *p)
{
	struct result *res, now_res;
	char msg[256];
	int64_t now = sg_now_us();
	bool ok;

	if (p->api != SG_API_INFERENCE || !p->openai_compat || p->base_url == NULL)
		return json_pack("{s:s,s:s}", "status", "Not Implemented", "message",
				 "stackgate checks the health of OpenAI-compatible inference providers only");
	pthread_mutex_lock(&lock);
	for (;;) {
		res = slot(c, p);
		if (res == NULL) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		if (!res->probing || res->at_us != 0)
			break;
		pthread_cond_wait(&probed, &lock); /* the first probe: wait for it (it is bounded) */
	}
	if (!res->probing && (res->at_us == 0 || now - res->at_us >= (int64_t) HEALTH_PROBE_INTERVAL_S * 1000000)) {
		res->probing = true;
		pthread_mutex_unlock(&lock);
		ok = probe(p, msg, sizeof(msg));
		pthread_mutex_lock(&lock);
		/* The table may have been remade for another config meanwhile (tests): store only into ours. */
		res = slot(c, p);
		if (res != NULL) {
			res->probing = false;
			res->ok = ok;
			snprintf(res->msg, sizeof(res->msg), "%s", msg);
			res->at_us = sg_now_us();
		}
		pthread_cond_broadcast(&probed);
		if (res == NULL) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
	}
	now_res = *res;
	pthread_mutex_unlock(&lock);
	if (now_res.ok)
		return json_pack("{s:s}", "status", "OK");
	return json_pack("{s:s,s:s}", "status", "Error", "message", now_res.msg);
}
