/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: placeholder. */
#include "config.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
	fprintf(stderr, "stackgate: not ready\n");
	return 1;
}
