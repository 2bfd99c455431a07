/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resources.h: the handlers of the native Llama Stack registry routes
 * (models, shields, vector-dbs, datasets, scoring-functions, eval/benchmarks,
 * toolgroups, tools): validation, defaults, provider selection and the access
 * check.  The route's arg is the enum sg_rtype it serves.  No SQL here.
 */
#ifndef SG_RESOURCES_H
#define SG_RESOURCES_H

#include "conf.h"
#include "http.h"

sg_status resources_list(struct request *r);       /* GET  /v1/<type>s */
sg_status resources_get(struct request *r);        /* GET  /v1/<type>s/{id} */
sg_status resources_register(struct request *r);   /* POST /v1/<type>s */
sg_status resources_unregister(struct request *r); /* DELETE /v1/<type>s/{id} */
sg_status resources_tools_list(struct request *r); /* GET  /v1/tools?toolgroup_id= */
/* Data-plane routes of the non-inference APIs: 501 with a message saying where they are served. */
sg_status resources_not_implemented(struct request *r);

/*
 * Registers the config's models, shields, … at start, idempotently, with no
 * owner and no ACL.  Logs and returns the first failure.
 */
sg_status resources_preregister(const struct sg_conf *conf) SG_MUST_CHECK;

#endif
