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
sg_status inspect_routes(struct request *r);
sg_status inspect_providers_list(struct request *r);
sg_status inspect_provider_get(struct request *r);

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
