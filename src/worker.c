/* SPDX-License-Identifier: Apache-2.0 */
/* worker.c: placeholder. */
#include "config.h"

#include "worker.h"
