/* SPDX-License-Identifier: Apache-2.0 */
/* suites.h: one Check suite per module; check_main.c runs them all. */
#ifndef SG_SUITES_H
#define SG_SUITES_H

#include <check.h>

Suite *sg_suite(void);
Suite *route_suite(void);
Suite *http_suite(void);
Suite *conf_suite(void);
Suite *acl_suite(void);
Suite *auth_suite(void);
Suite *registry_suite(void);
Suite *resources_suite(void);
Suite *scoring_builtin_suite(void);
Suite *openai_suite(void);
Suite *openai_usage_suite(void);
Suite *inspect_suite(void);
Suite *netaddr_suite(void);
Suite *mcp_suite(void);
Suite *alloc_suite(void);
Suite *shm_suite(void);
Suite *metrics_suite(void);

#endif
