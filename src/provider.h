/* SPDX-License-Identifier: Apache-2.0 */
/* provider.h: placeholder, filled in by the module's author. */
#ifndef SG_PROVIDER_H
#define SG_PROVIDER_H
#endif
