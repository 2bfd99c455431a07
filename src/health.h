/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health.h: ProviderInfo.health (Llama Stack 0.2.3 and later) from a cached
 * probe of each provider.  An OpenAI-compatible inference provider is asked
 * GET {base_url}/models through proxy.h (its curl setup, the provider's
 * connect timeout and TLS settings) with the whole call bounded by
 * HEALTH_PROBE_TIMEOUT_MS, at most once per HEALTH_PROBE_INTERVAL_S per
 * provider on the host; any other provider is {"status": "Not Implemented"}
 * as in Llama Stack.
 *
 * Shared state: one slot per provider (by its place in the config, checked
 * against a hash of its id and base URL, so a reload that changes the list
 * starts afresh) in the host's shared memory (shm.h; health_declare() in
 * the master before shm_map), or in this process's memory when there is no
 * mapping (unit tests, CLI commands).  A slot holds the last result and
 * when a process claimed the next probe, each one atomic word: the process
 * whose compare-and-swap claims a stale slot probes, with no lock held;
 * meanwhile the others answer with the previous result, or wait for the
 * first one (at most the probe's bound).  A prober that dies is replaced
 * once its claim is older than the bound.
 */
#ifndef SG_HEALTH_H
#define SG_HEALTH_H

#include <jansson.h>

#include "conf.h"

#define HEALTH_PROBE_TIMEOUT_MS 2000L
#define HEALTH_PROBE_INTERVAL_S 30
/* Providers beyond this many (in config order) are probed per request, without sharing. */
#define HEALTH_MAX_PROVIDERS 128

/* Master, before shm_map(): the shared slots.  SG_OK, or shm_declare's failure. */
sg_status health_declare(void) SG_MUST_CHECK;

/*
 * The provider's health: {"status": "OK"} or {"status": "Error", "message":
 * why} (client-safe: the upstream's HTTP status, or that it timed out or
 * could not be reached; details go to the prober's log), or {"status":
 * "Not Implemented", "message": …}.  p must be one of c's providers.  A new
 * object; NULL when out of memory.
 */
json_t *health_of(const struct sg_conf *c, const struct sg_provider *p);

/*
 * What a probe's outcome means, as a slot stores it: health_code() of a
 * finished call (st from proxy_call, http_status its answer), and the
 * health object of a code (NULL when out of memory).  Pure.
 */
#define HEALTH_OK 1
#define HEALTH_UNREACHABLE 2
#define HEALTH_TIMEOUT 3
#define HEALTH_HTTP 1000 /* + the HTTP status of a non-2xx answer */
unsigned health_code(sg_status st, long http_status);
json_t *health_json(unsigned code, const char *provider_id);

/* Forgets every result of this process's own slots (tests). */
void health_reset(void);

#endif
