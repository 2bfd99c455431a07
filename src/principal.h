/* SPDX-License-Identifier: Apache-2.0 */
/*
 * principal.h: the daemon's SQL on principals (the rows of principals and
 * principal_attributes), through the db pool; the admin CLI's is in
 * auth_cli.c and the keys' in auth.c.  Its own module so that identity.c,
 * which the request embeds, reaches PostgreSQL without depending on auth.c
 * and through it on the request (http.h): no include cycle through the
 * request.  Thread-safe (db.h's pool).
 */
#ifndef SG_PRINCIPAL_H
#define SG_PRINCIPAL_H

#include "acl.h"
#include "sg.h"

/*
 * Reads the principal's row and attributes: adds its principal_attributes
 * to *attrs (present and set for each category it has) and sets *disabled.
 * An unknown principal (no row) has no attributes and is not disabled:
 * external auth services may name callers stackgate has never heard of.
 * SG_E_UNAVAILABLE when PostgreSQL cannot answer (logged), SG_E_NOMEM.
 * *attrs is the caller's to free whatever the status.
 */
sg_status principal_fetch(const char *name, struct sg_attrs *attrs, bool *disabled) SG_MUST_CHECK;

#endif
