/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.h: stackgate's own authentication service for nginx auth_request:
 * checks "Authorization: Bearer <key>" against api_keys (stored hashed,
 * compared in constant time, with expiry and revocation) and answers 204 with
 * X-Stackgate-Principal and X-Stackgate-Attributes headers, or 401 with an
 * OpenAI-style error.  Also the admin CLI (`stackgate principal …`, `stackgate key …`).
 */
#ifndef SG_AUTH_H
#define SG_AUTH_H

#include "conf.h"
#include "http.h"

/* GET /_stackgate/auth (the auth_request target). */
sg_status auth_check(struct request *r);

/*
 * `stackgate principal …` and `stackgate key …`: argv[0] is the subcommand
 * ("principal"/"key"), conninfo the database (libpq conninfo or URL; "" means
 * the PG* environment).  Prints results to stdout, errors to stderr; returns
 * the process exit code.
 */
int auth_cli_principal(const char *conninfo, int argc, char **argv);
int auth_cli_key(const char *conninfo, int argc, char **argv);

#endif
