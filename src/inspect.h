/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inspect.h: the handlers of /v1/health, /v1/version, /v1/inspect/routes and
 * /v1/providers (reference/llama-stack-api.md §1.10).
 */
#ifndef SG_INSPECT_H
#define SG_INSPECT_H

#include "http.h"

sg_status inspect_health(struct request *r);
sg_status inspect_version(struct request *r);
/*
 * GET /v1/inspect/routes (route arg 0: RouteInfo.method lowercase, as in
 * April 2025) and /v1alpha/admin/inspect/routes (INSPECT_ROUTES_ADMIN:
 * uppercase, as today).  ?api_filter=v1|v1alpha|v1beta keeps the routes of
 * that level that are not deprecated, deprecated only the deprecated ones
 * (inspect_route_deprecated); another value is a 400.
 */
sg_status inspect_routes(struct request *r);
#define INSPECT_ROUTES_ADMIN 1
/* ProviderInfo {api, provider_id, provider_type, config, health} (health.h). */
sg_status inspect_providers_list(struct request *r);
sg_status inspect_provider_get(struct request *r);

struct route;
/*
 * True when Llama Stack deprecated or removed the route by 0.7 (stackgate
 * still serves it for 0.2.x clients): everything under /v1/openai/v1, the /v1 paths of
 * datasets, benchmarks, vector DBs, tool groups and the data planes moved
 * elsewhere, and registering or unregistering models, shields and scoring
 * functions.  Pure.
 */
bool inspect_route_deprecated(const struct route *rt);

/*
 * The Llama Stack API generations stackgate serves, as major.minor: the April
 * 2025 one (llama-stack-client 0.2.x) through today's (0.7.x).
 */
#define INSPECT_API_OLDEST "0.2"
#define INSPECT_API_NEWEST "0.7"

/*
 * Llama Stack's client version check (its ClientVersionMiddleware), widened to
 * every generation served: true unless version (the X-LlamaStack-Client-Version
 * header, may be NULL) parses as a version whose major.minor is older than
 * INSPECT_API_OLDEST or newer than INSPECT_API_NEWEST.  A value that is not a
 * version ("", "dev", "x.y") passes, as it does in Llama Stack.  Pure.
 */
bool inspect_client_version_ok(const char *version);

/*
 * For the worker, before a handler runs: SG_OK, or SG_E_UPGRADE (426) with a
 * message naming the client's version and the versions served when
 * server.client_version_check is on and inspect_client_version_ok() says no.
 */
sg_status inspect_check_client_version(struct request *r) SG_MUST_CHECK;

#endif
