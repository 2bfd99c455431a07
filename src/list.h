/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list.h: one registry list answered as it is read.  Its own module so that
 * every list handler shares the walk without depending on another handler
 * module (resources.c and openai.c both use it; neither includes the
 * other).  Depends on registry (the walk), identity (what the caller may
 * see) and http (http_list).
 */
#ifndef SG_LIST_H
#define SG_LIST_H

#include <jansson.h>

#include "http.h"
#include "registry.h"

/*
 * Answers a list of type t (for SG_RT_TOOL the tools of group, when not
 * NULL) as the registry is walked (registry_iter: no lock held while
 * writing) through http_list: head, then entry()'s item (http_list_item) for
 * each object the caller may see (identity_can_see; entry may add nothing,
 * and may modify obj), then "]}".  One request holds one batch and one chunk
 * whatever the registry's size.  SG_OK (also when the client went away);
 * else the failure, for the caller to answer if nothing was sent yet.
 */
typedef sg_status (*list_entry_fn)(struct http_list *l, json_t *obj, long long created);
sg_status list_visible(struct request *r, enum sg_rtype t, const char *group, const char *head,
		       list_entry_fn entry) SG_MUST_CHECK;

#endif
