/* SPDX-License-Identifier: Apache-2.0 */
/*
 * supervisor.h: the master process: opens the FastCGI socket, pre-forks the
 * workers, respawns those that die (with backoff), replaces them on SIGHUP
 * after re-reading the config, recycles them, and stops them on SIGTERM.
 */
#ifndef SG_SUPERVISOR_H
#define SG_SUPERVISOR_H

#include "conf.h"

/* Takes ownership of conf; returns the exit code. */
int supervisor_run(struct sg_conf *conf);

#endif
