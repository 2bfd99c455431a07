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

#endif
