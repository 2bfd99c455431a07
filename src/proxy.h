/* SPDX-License-Identifier: Apache-2.0 */
/* proxy.h: placeholder, filled in by the module's author. */
#ifndef SG_PROXY_H
#define SG_PROXY_H
#endif
