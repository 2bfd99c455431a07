/* SPDX-License-Identifier: Apache-2.0 */
/* conf.c: placeholder until the config module lands. */
#include "config.h"

#include <stdlib.h>

#include "conf.h"

struct sg_conf *
conf_load(const char *path, char **errors)
{
	*errors = sg_strdup("config loading is not implemented yet");
	return NULL;
}

struct sg_conf *
conf_load_string(const char *text, const char *name, char **errors)
{
	*errors = sg_strdup("config loading is not implemented yet");
	return NULL;
}

void
conf_free(struct sg_conf *c)
{
	free(c);
}

const char *
conf_api_name(enum sg_api api)
{
	return NULL;
}

bool
conf_api_from_name(const char *name, enum sg_api *out)
{
	return false;
}

const struct sg_provider *
conf_provider(const struct sg_conf *c, enum sg_api api, const char *provider_id)
{
	return NULL;
}

size_t
conf_provider_count(const struct sg_conf *c, enum sg_api api)
{
	return 0;
}

const struct sg_provider *
conf_provider_nth(const struct sg_conf *c, enum sg_api api, size_t i)
{
	return NULL;
}
