/* SPDX-License-Identifier: Apache-2.0 */
/* db.c: placeholder until the database module lands. */
#include "config.h"

#include <stdio.h>

#include "db.h"

sg_status
db_init(const struct sg_conf *conf)
{
	return SG_OK;
}

void
db_shutdown(void)
{
}

PGconn *
db_acquire(void)
{
	return NULL;
}

void
db_release(PGconn *c, bool broken)
{
}

sg_status
db_result_status(PGconn *c, const PGresult *res)
{
	return SG_E_UNAVAILABLE;
}

bool
db_conn_broken(PGconn *c)
{
	return true;
}

sg_status
db_ping(void)
{
	return SG_E_UNAVAILABLE;
}

sg_status
db_migrate(const char *conninfo, bool verbose, char *err, size_t errlen)
{
	snprintf(err, errlen, "migrations are not implemented yet");
	return SG_E_NOT_IMPLEMENTED;
}

sg_status
db_schema_check(const char *conninfo, char *err, size_t errlen)
{
	return SG_OK;
}
