/* SPDX-License-Identifier: Apache-2.0 */
/* auth.c: placeholder until the auth module lands. */
#include "config.h"

#include <stdio.h>

#include "auth.h"

sg_status
auth_check(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "authentication is not implemented yet");
}

int
auth_cli_principal(const char *conninfo, int argc, char **argv)
{
	fprintf(stderr, "stackgate: principal: not implemented yet\n");
	return 1;
}

int
auth_cli_key(const char *conninfo, int argc, char **argv)
{
	fprintf(stderr, "stackgate: key: not implemented yet\n");
	return 1;
}
