/* SPDX-License-Identifier: Apache-2.0 */
/* acl.c: not written yet. */
#include "config.h"
#include "acl.h"
