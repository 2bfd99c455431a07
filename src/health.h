/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.h: ProviderInfo.health (Llama Stack 0.2.3 and later) from a cached
 * probe of each provider.  An OpenAI-compatible inference provider is asked
 * GET {base_url}/models through proxy.h (its curl setup, its timeouts, the
 * provider's own TLS settings) with the whole call bounded by
 * HEALTH_PROBE_TIMEOUT_MS, at most once per HEALTH_PROBE_INTERVAL_S per
 * provider in each worker process; any other provider is
 * {"status": "Not Implemented"} as in Llama Stack.
 *
 * Shared state: one table per process (a probe result per provider of the
 * loaded config) under one mutex, never held during a probe.  A thread
 * that finds a result stale claims the probe; others meanwhile use the
 * previous result, or wait for the first one (at most the probe's bound).
 */
#ifndef SG_HEALTH_H
#define SG_HEALTH_H

#include <jansson.h>

#include "conf.h"

#define HEALTH_PROBE_TIMEOUT_MS 2000L
#define HEALTH_PROBE_INTERVAL_S 30

/*
 * The provider's health: {"status": "OK"} or {"status": "Error", "message":
 * why} (a client-safe message: the upstream's status or what the connection
 * did, never its body), or {"status": "Not Implemented", "message": …}.
 * p must be one of c's providers.  A new object; NULL when out of memory.
 */
json_t *health_of(const struct sg_conf *c, const struct sg_provider *p);

/*
 * The status a probe answer means (pure): SG_OK for HTTP 2xx, else a
 * message naming the status into msg.
 */
bool health_status_ok(long http_status, const char *provider_id, char *msg, size_t msglen);

/* Forgets every cached result (tests). */
void health_reset(void);

#endif
