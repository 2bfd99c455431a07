/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h: the registry of Llama Stack resources, in PostgreSQL (one typed
 * table per resource type, see sql/), with a per-process cache.
 *
 * Objects cross this interface as JSON objects shaped exactly as the Llama
 * Stack API returns a single object: "identifier", "provider_resource_id",
 * "provider_id", "type", "access_attributes" (null or an object with the four
 * categories), then the type's own fields in the API's order.  The owner
 * (registering principal) and timestamps live in SQL columns only.
 *
 * Every write runs in one transaction and sends NOTIFY stackgate_registry.
 * All functions are thread-safe.  No function here knows HTTP or the caller:
 * access decisions are the caller's (identity_can_see()).
 */
#ifndef SG_REGISTRY_H
#define SG_REGISTRY_H

#include <jansson.h>

#include "conf.h"
#include "sg.h"

enum sg_rtype {
	SG_RT_MODEL,
	SG_RT_SHIELD,
	SG_RT_VECTOR_DB,
	SG_RT_DATASET,
	SG_RT_SCORING_FN,
	SG_RT_BENCHMARK,
	SG_RT_TOOL_GROUP,
	SG_RT_TOOL,
	SG_RT_COUNT
};

/* The "type" value: "model", "shield", "vector_db", "dataset", "scoring_function", "benchmark", "tool_group", "tool". */
const char *registry_type_name(enum sg_rtype t);
/* A human name for messages: "Model", "Shield", "Vector DB", "Dataset", "Scoring function", "Benchmark", "Tool group", "Tool". */
const char *registry_type_label(enum sg_rtype t);

/* Per process, after db_init(). */
sg_status registry_open(const struct sg_conf *conf) SG_MUST_CHECK;
void registry_close(void);

/* The object with that identifier: a new reference in *out, or SG_E_NOT_FOUND. */
sg_status registry_get(enum sg_rtype t, const char *identifier, json_t **out) SG_MUST_CHECK;

/*
 * Every object of type t in registration order: a new array in *out.
 * For SG_RT_TOOL, toolgroup_id (may be NULL) filters on the tool's group.
 */
sg_status registry_list(enum sg_rtype t, const char *toolgroup_id, json_t **out) SG_MUST_CHECK;

/*
 * Stores obj (complete, defaults applied, access_attributes set) as owned by
 * owner (NULL: none).  If an object with that identifier exists and equals obj
 * → SG_OK and *created = false; if it differs → SG_E_CONFLICT, nothing
 * changed.  Otherwise inserts, *created = true.  *stored (may be NULL) gets a
 * new reference to the stored object.  Foreign keys (a vector DB's embedding
 * model, a benchmark's dataset) missing → SG_E_CONFLICT.  On failure err gets a
 * client-safe message.
 */
sg_status registry_register(enum sg_rtype t, json_t *obj, const char *owner, json_t **stored, bool *created,
			    char *err, size_t errlen) SG_MUST_CHECK;

/* Deletes the object; SG_E_NOT_FOUND when absent; SG_E_CONFLICT when others refer to it. */
sg_status registry_unregister(enum sg_rtype t, const char *identifier, char *err, size_t errlen) SG_MUST_CHECK;

/*
 * Stores a tool group and its tools (a JSON array of complete tool objects)
 * in one transaction.  A tool identifier owned by another group →
 * SG_E_CONFLICT naming the tool; an identical existing group and tools →
 * SG_OK, *created = false.
 */
sg_status registry_register_tool_group(json_t *group, json_t *tools, const char *owner, json_t **stored,
				       bool *created, char *err, size_t errlen) SG_MUST_CHECK;

/* Deletes a tool group and all its tools in one transaction. */
sg_status registry_unregister_tool_group(const char *identifier, char *err, size_t errlen) SG_MUST_CHECK;

/* When the object was registered (seconds since the epoch), for OpenAI's "created"; 0 if unknown. */
long long registry_created_at(enum sg_rtype t, const char *identifier);

#endif
