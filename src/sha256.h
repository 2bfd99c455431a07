/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.h: placeholder, filled in by the module's author. */
#ifndef SG_SHA256_H
#define SG_SHA256_H
#endif
