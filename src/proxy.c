/* SPDX-License-Identifier: Apache-2.0 */
/* proxy.c: not written yet. */
#include "config.h"
#include "proxy.h"
