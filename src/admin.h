/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.h: principals and stackgate API keys, managed.  The one
 * implementation behind both fronts: the admin CLI (`stackgate principal
 * …`, `stackgate key …`, auth_cli.c, which parses argv into a struct
 * auth_cli_args) and the admin HTTP routes (admin_http.c, which reads the
 * same struct from a JSON body whose fields are named like the CLI's
 * flags).  Each command is one admin_run() on a connection the front owns;
 * its SQL is static text with parameters.  A new key's text exists only in
 * admin_run's answer (the caller shows it once and forgets it); PostgreSQL
 * keeps its SHA-256.  Every write notifies 'principal:<name>' through the
 * triggers of sql/002_access.sql, so every process drops what it cached.
 * Thread-safe: no state of its own.
 */
#ifndef SG_ADMIN_H
#define SG_ADMIN_H

#include <jansson.h>
#include <libpq-fe.h>

#include "auth.h"
#include "sg.h"

/* The longest principal name, attribute value or key description (bytes). */
#define ADMIN_WORD_MAX 256
#define ADMIN_DESCRIPTION_MAX 1024
#define ADMIN_EXPIRES_IN_MAX 36500

/* A principal name or attribute value: 1..ADMIN_WORD_MAX bytes, no control characters, no outer blanks. */
bool admin_word_ok(const char *s);
/*
 * SG_OK when value is admin_word_ok; else SG_E_BAD_REQUEST with "WHAT
 * 'value' is not valid: …" in err (param: param, may be NULL).  The one
 * message for both fronts (what: "--role", "principal name", "role", …).
 */
sg_status admin_word_check(const char *what, const char *value, const char *param, struct sg_err *err) SG_MUST_CHECK;

/* The attribute categories as the CLI's flags and the routes' fields name them, in acl.h's order. */
extern const char *const admin_attr_fields[SG_ATTR_NCAT];

/*
 * Runs a->cmd (anything but AUTH_CLI_HELP) on conn and sets *out to its
 * answer, a new JSON value the caller owns:
 *   principal add, set, enable, disable  the principal, as in the list
 *   principal list   [{"name", "role": [..], "team", "project", "namespace",
 *                    "disabled", "created_at"}] by name
 *   principal remove {"name", "removed": true} (its keys go with it)
 *   key create       {"key" (the secret: shown once), "key_id", "principal",
 *                    "description", "expires_at" (null: never), "expired"}
 *   key list         [{"key_id", "principal", "created_at", "expires_at",
 *                    "revoked_at", "status" (active, expired, revoked),
 *                    "last_used_at", "description"}] by creation; a->name
 *                    (may be NULL) keeps one principal's
 *   key revoke       {"key_id", "revoked": true, "already_revoked"}; a->name
 *                    is the key id or the whole key
 * Failures, with a client-safe message in err (PostgreSQL's own in the log,
 * and for a bad expires_at in err->detail): SG_E_NOT_FOUND (no such
 * principal or key), SG_E_CONFLICT (add: the principal exists),
 * SG_E_BAD_REQUEST (param "expires_at": not a date), SG_E_UNAVAILABLE and
 * SG_E_INTERNAL (db_result_status), SG_E_NOMEM.  *out is NULL on failure.
 */
sg_status admin_run(PGconn *conn, const struct auth_cli_args *a, json_t **out, struct sg_err *err) SG_MUST_CHECK;

/* The admin HTTP routes (route table), admins only: 403 for everyone else. */
sg_status admin_principals_list(struct request *r);
sg_status admin_principal_add(struct request *r);
sg_status admin_principal_put(struct request *r);
sg_status admin_principal_delete(struct request *r);
sg_status admin_keys_list(struct request *r);
sg_status admin_key_create(struct request *r);
sg_status admin_key_delete(struct request *r);
/*
 * GET /v1/stackgate/me, for anyone: the caller as stackgate sees it
 * ({"principal" (null: anonymous), "admin", "key_id", "attributes"}), so
 * the operator page knows which views to offer without a refused request.
 */
sg_status admin_me(struct request *r);
/*
 * GET /v1/stackgate/registry?type=T (registry_view.c), for anyone: what the
 * caller sees of type T, with access_attributes, from_config, owner
 * (admins: always; others: only their own, else null) and can_unregister.
 */
sg_status admin_registry_view(struct request *r);
/* GET /v1/stackgate/status (status.c): PostgreSQL, providers, workers and request counts; admins only. */
sg_status admin_status(struct request *r);

#endif
