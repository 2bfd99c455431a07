/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity.h: who the caller is.  Taken only from FastCGI params that nginx
 * sets and a client cannot (STACKGATE_PRINCIPAL, STACKGATE_ATTRIBUTES), merged
 * with the principal's rows in principal_attributes.  Never reads HTTP_*.
 */
#ifndef SG_IDENTITY_H
#define SG_IDENTITY_H

#include "acl.h"

struct request;
struct sg_conf;

struct identity {
	char *principal;       /* NULL: anonymous */
	struct sg_attrs attrs; /* the caller's attributes (auth service ∪ principal_attributes) */
	bool admin;            /* holds one of auth.admin_roles: sees and manages everything */
};

/*
 * Fills r->id from the trusted params.  Returns SG_E_UNAUTHORIZED when
 * auth.required is on and there is no principal, SG_E_BAD_REQUEST when
 * STACKGATE_ATTRIBUTES is malformed, SG_E_UNAVAILABLE when the principal's
 * attributes cannot be read.  Writes the client message into r.
 */
sg_status identity_resolve(struct request *r) SG_MUST_CHECK;

/* The single access decision for listing, reading, writing and calling. */
bool identity_can_access(const struct identity *id, const struct sg_attrs *obj);

/* The same decision for a registry object (its "access_attributes" member). */
bool identity_can_see(const struct identity *id, const json_t *obj);

/* Frees what identity_resolve filled.  Idempotent. */
void identity_reset(struct identity *id);

#endif
