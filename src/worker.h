/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.h: one worker process: conf->threads accept threads on the shared
 * FastCGI socket, one struct request each.  The worker is the only writer of
 * status lines and error bodies, and writes the access log.
 */
#ifndef SG_WORKER_H
#define SG_WORKER_H

#include "conf.h"

/*
 * Runs a worker on listen_fd until SIGTERM (graceful: stop accepting, let
 * in-flight requests finish within shutdown_timeout) or until max_requests
 * were served.  Returns the process exit code.
 */
int worker_run(const struct sg_conf *conf, int listen_fd);

/* Serves one accepted request end to end (exposed for tests and fuzzing). */
struct request;
void worker_handle(struct request *r);

#endif
