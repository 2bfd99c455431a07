/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list.c: a registry list answered as it is walked, for the native list
 * routes (resources.c) and the OpenAI model list (openai.c), which differ
 * only in how an object becomes an item (see list.h).
 */
#include "config.h"

#include "identity.h"
#include "list.h"

sg_status
list_visible(struct request *r, enum sg_rtype t, const char *group, const char *head, list_entry_fn entry)
{
	struct registry_iter it;
	struct http_list l = {0};
	json_t *obj = NULL;
	long long created;
	sg_status st = registry_iter_open(&it, t, group);

	if (st != SG_OK)
		goto out;
	st = http_list_begin(&l, r, head);
	while (st == SG_OK && r->method != SG_HEAD) {
		st = registry_iter_next(&it, &obj, &created);
		if (st != SG_OK || obj == NULL)
			break;
		if (identity_can_see(&r->id, obj))
			st = entry(&l, obj, created);
		json_decref(obj);
		obj = NULL;
	}
	if (st == SG_OK)
		st = http_list_end(&l, "]}");
out:
	json_decref(obj);
	registry_iter_free(&it);
	http_list_free(&l);
	return r->client_gone ? SG_OK : st; /* nobody to tell; the access log says client-gone */
}
