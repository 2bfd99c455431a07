/* SPDX-License-Identifier: Apache-2.0 */
/* identity.c: placeholder until the identity module lands. */
#include "config.h"

#include <stdlib.h>

#include "http.h"
#include "identity.h"

sg_status
identity_resolve(struct request *r)
{
	return SG_OK;
}

bool
identity_can_access(const struct identity *id, const struct sg_attrs *obj)
{
	return obj == NULL || !obj->present;
}

bool
identity_can_see(const struct identity *id, const json_t *obj)
{
	return json_is_null(json_object_get(obj, "access_attributes"));
}

void
identity_reset(struct identity *id)
{
	free(id->principal);
	id->principal = NULL;
	id->admin = false;
}
