/* SPDX-License-Identifier: Apache-2.0 */
/* mcp.c: not written yet. */
#include "config.h"
#include "mcp.h"
