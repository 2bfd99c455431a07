/* SPDX-License-Identifier: Apache-2.0 */
/* policy_int.h: what policy.c shares with policy_parse.c; not for other modules. */
#ifndef SG_POLICY_INT_H
#define SG_POLICY_INT_H

#include "policy.h"

/* Parses text into *c (c->value newly allocated): SG_OK, SG_E_BAD_REQUEST (why says what was expected), SG_E_NOMEM. */
sg_status policy_cond_parse(const char *text, struct policy_cond *c, char *why, size_t whylen) SG_MUST_CHECK;
/* The condition as text, in the grammar's words (the caller frees it); NULL when out of memory. */
char *policy_cond_text(const struct policy_cond *c);
/* A new rule at the end of p (zeroed); NULL when out of memory. */
struct policy_rule *policy_rule_add(struct sg_policy *p);

#endif
