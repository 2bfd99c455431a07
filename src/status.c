/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c: GET /v1/stackgate/status, the operator page's health view, for
 * admins only (403 for anyone else, as for the principals and keys):
 * whether PostgreSQL answers (db_ping on the pool), each provider with its
 * cached health probe (health.h: no probe runs more often than
 * HEALTH_PROBE_INTERVAL_S whatever the polling), and the host's workers
 * and request counters from the metrics area (metrics_summary_read; null
 * when metrics are off).  "time" lets a client that polls compute rates.
 * /metrics itself stays where the nginx config puts it.
 */
#include "config.h"

#include <sys/time.h>

#include "admin.h"
#include "db.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "provider.h"

/* The providers with their health, in config order; NULL when out of memory. */
static json_t *
providers(const struct sg_conf *c)
{
	json_t *list = json_array();

	for (size_t i = 0; list != NULL && i < c->nproviders; i++) {
		json_t *info = provider_info_json(&c->providers[i]);

		if (info == NULL || json_object_set_new(info, "health", health_of(c, &c->providers[i])) != 0 ||
		    json_array_append_new(list, info) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

sg_status
admin_status(struct request *r)
{
	struct metrics_summary m;
	struct timeval tv;
	json_t *counts = NULL, *pg, *prov;
	bool db_up;

	if (!r->id.admin) {
		log_warn("audit: refused GET /v1/stackgate/status to '%s': not an admin",
			 r->id.principal ? r->id.principal : "(anonymous)");
		return http_fail(r, SG_E_FORBIDDEN, NULL, "the status is for admins only");
	}
	db_up = db_ping() == SG_OK;
	pg = db_up ? json_pack("{s:s}", "status", "OK")
		   : json_pack("{s:s,s:s}", "status", "Error", "message", "postgresql does not answer");
	prov = providers(r->conf);
	if (metrics_summary_read(&m))
		counts = json_pack("{s:{s:i,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I}}", "workers", "configured",
				   r->conf->workers, "running", (json_int_t) m.workers, "threads",
				   (json_int_t) m.threads, "restarts", (json_int_t) m.restarts, "requests", "total",
				   (json_int_t) m.requests, "client_errors", (json_int_t) m.client_errors,
				   "server_errors", (json_int_t) m.server_errors, "in_flight", (json_int_t) m.in_flight,
				   "open_streams", (json_int_t) m.open_streams);
	gettimeofday(&tv, NULL);
	r->reply = json_pack("{s:I,s:o?,s:o?,s:o?,s:o?}", "time",
			     (json_int_t) tv.tv_sec * 1000 + (json_int_t) (tv.tv_usec / 1000), "postgresql", pg,
			     "providers", prov, "workers", json_incref(json_object_get(counts, "workers")), "requests",
			     json_incref(json_object_get(counts, "requests")));
	json_decref(counts);
	if (r->reply == NULL || pg == NULL || prov == NULL)
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	return SG_OK;
}
