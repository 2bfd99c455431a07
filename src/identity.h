/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity.h: who the caller is.  Taken only from FastCGI params that nginx
 * sets and a client cannot (STACKGATE_PRINCIPAL, STACKGATE_ATTRIBUTES,
 * STACKGATE_GROUPS), merged with the principal's rows in
 * principal_attributes.  Never reads HTTP_* (a client header becomes HTTP_*)
 * nor X-LlamaStack-Provider-Data.
 *
 * The principal's database attributes are cached per process under one
 * mutex.  Every change to principals, their attributes or keys notifies
 * stackgate_registry ("principal:<name>"), and the worker calls
 * identity_invalidate() for it, so a change is seen at once; after the
 * listener reconnects (notifications may have been missed) everything is
 * dropped.  IDENTITY_CACHE_TTL_S is only the safety net.
 */
#ifndef SG_IDENTITY_H
#define SG_IDENTITY_H

#include "acl.h"
#include "policy.h"

struct sg_conf;

#define IDENTITY_CACHE_TTL_S 60

/*
 * The trusted FastCGI params identity is made of, by name.  The worker
 * reads them from the request (worker_identity) and hands them to
 * identity_resolve(), so this module never sees a request (and cannot read
 * HTTP_*).
 */
#define IDENTITY_PARAM_PRINCIPAL "STACKGATE_PRINCIPAL"
#define IDENTITY_PARAM_ATTRIBUTES "STACKGATE_ATTRIBUTES"
#define IDENTITY_PARAM_GROUPS "STACKGATE_GROUPS"
#define IDENTITY_PARAM_KEY_ID "STACKGATE_KEY_ID"
/* Set ("1") by nginx on a location that passes bearer keys without auth_request: the worker checks the key itself. */
#define IDENTITY_PARAM_VERIFY_KEY "STACKGATE_VERIFY_KEY"

/* Their values; NULL when a param is absent.  Borrowed. */
struct identity_params {
	const char *principal;
	const char *attributes;
	const char *groups;
	const char *key_id;
};

struct identity {
	char *principal;       /* NULL: anonymous */
	struct sg_attrs attrs; /* the caller's attributes (auth service ∪ principal_attributes) */
	bool admin;            /* holds one of auth.admin_roles (the rules outside the policy: attributes it may give,
				  MCP endpoints it may register) */
	const struct sg_policy *policy; /* the access policy in force (the config's); NULL denies everything */
	char *key_id;                   /* the stackgate API key that authenticated the caller; NULL: none */
};

/*
 * Fills *id (reset first) from the trusted params p:
 *  - STACKGATE_PRINCIPAL: the principal's name; empty or absent = anonymous;
 *  - STACKGATE_ATTRIBUTES: a JSON object with any of roles/teams/projects/
 *    namespaces (arrays of strings), as an external auth service sends them;
 *    empty or absent = none;
 *  - STACKGATE_GROUPS: comma-separated groups (oauth2-proxy's
 *    X-Auth-Request-Groups), added to "teams";
 *  - STACKGATE_KEY_ID: the id of the stackgate API key that authenticated
 *    the principal (nginx sets it from auth_check's X-Stackgate-Key-Id);
 *    empty or absent = none; only with a principal;
 * then adds the principal's rows of principal_attributes.  admin is true when
 * the merged roles meet conf's auth.admin_roles (conf NULL: no auth.required
 * and no admin roles).
 * Returns SG_E_UNAUTHORIZED when auth.required is on and there is no
 * principal, or the principal is disabled; SG_E_BAD_REQUEST when a param is
 * malformed; SG_E_UNAVAILABLE when the principal's attributes cannot be read.
 * Writes the client message into err.  On failure *id keeps the principal
 * (for the access log) and nothing that grants access.
 */
sg_status identity_resolve(const struct sg_conf *conf, const struct identity_params *p, struct identity *id,
			   struct sg_err *err) SG_MUST_CHECK;

/*
 * The access policy's decision (policy.h) for the caller id doing action on
 * obj, a registry object: its "type", "identifier", "access_attributes"
 * (absent or null = no ACL; malformed: deny) and its origin member
 * (registry_origin: owner and from_config; without one the owner and origin
 * conditions are undecidable).  id NULL is start-up (the config registers):
 * permitted.  *rule (may be NULL) gets the deciding rule's index (SIZE_MAX:
 * none, or id NULL).
 */
enum policy_verdict identity_decide(const struct identity *id, enum sg_action action, const json_t *obj, size_t *rule);

/*
 * The same with the origin given: owner (NULL: unowned) and from_config,
 * for an object not stored yet (a create: owned by its creator, not from the
 * config) and for a row the registry locked (an unregister).
 */
enum policy_verdict identity_decide_at(const struct identity *id, enum sg_action action, const json_t *obj,
				       const char *owner, bool from_config, size_t *rule);

/*
 * The one read decision, for listing, getting, calling and every reference:
 * identity_decide(id, SG_ACT_READ, obj) == POLICY_PERMIT.  An object a caller
 * may not read answers like a missing one.
 */
bool identity_can_see(const struct identity *id, const json_t *obj);

/* Frees what identity_resolve filled.  Idempotent. */
void identity_reset(struct identity *id);

/*
 * Drops the attributes this process cached about principal (NULL: about
 * everyone).  For the registry's LISTEN handler, on the payload
 * 'principal:<name>' (which drops the principal's API keys in auth.c too).
 */
void identity_invalidate(const char *principal);

/*
 * Adds the comma-separated groups in s to out's "teams" (surrounding blanks
 * trimmed, empty items skipped, duplicates dropped); sets out->present when
 * it adds any.  False on allocation failure.
 */
bool identity_parse_groups(const char *s, struct sg_attrs *out) SG_MUST_CHECK;

#endif
