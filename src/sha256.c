/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.c: not written yet. */
#include "config.h"
#include "sha256.h"
