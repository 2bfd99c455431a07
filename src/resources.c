/* SPDX-License-Identifier: Apache-2.0 */
/* resources.c: placeholder until the resources module lands. */
#include "config.h"

#include "resources.h"

sg_status
resources_list(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_get(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_register(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_unregister(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_tools_list(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_not_implemented(struct request *r)
{
	return http_fail(r, SG_E_NOT_IMPLEMENTED, NULL, "not implemented yet");
}

sg_status
resources_preregister(const struct sg_conf *conf)
{
	return SG_OK;
}
