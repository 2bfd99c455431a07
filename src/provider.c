/* SPDX-License-Identifier: Apache-2.0 */
/* provider.c: not written yet. */
#include "config.h"
#include "provider.h"
