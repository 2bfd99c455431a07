/* SPDX-License-Identifier: Apache-2.0 */
/* inspect.c: placeholder. */
#include "config.h"

#include "inspect.h"

sg_status
inspect_health(struct request *r)
{
	r->reply = json_pack("{s:s}", "status", "OK");
	return SG_OK;
}

sg_status
inspect_version(struct request *r)
{
	r->reply = json_pack("{s:s}", "version", PACKAGE_VERSION);
	return SG_OK;
}

sg_status
inspect_routes(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
inspect_providers_list(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
inspect_provider_get(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}
