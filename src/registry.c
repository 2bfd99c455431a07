/* SPDX-License-Identifier: Apache-2.0 */
/* registry.c: placeholder until the registry module lands. */
#include "config.h"

#include "registry.h"

sg_status
registry_open(const struct sg_conf *conf)
{
	return SG_OK;
}

void
registry_close(void)
{
}
