/* SPDX-License-Identifier: Apache-2.0 */
/* supervisor.c: placeholder. */
#include "config.h"

#include "supervisor.h"
