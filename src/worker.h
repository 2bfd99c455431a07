/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.h: one worker process: conf->threads accept threads on the shared
 * FastCGI socket, one struct request each.  The worker is the only writer of
 * status lines and error bodies, and writes the access log.
 */
#ifndef SG_WORKER_H
#define SG_WORKER_H

#include <signal.h>

#include "conf.h"
#include "sg.h"

/*
 * Runs a worker on listen_fd until SIGTERM (graceful: stop accepting, let
 * in-flight requests finish within shutdown_timeout) or until max_requests
 * were served.  Returns the process exit code.
 */
int worker_run(const struct sg_conf *conf, int listen_fd);

/*
 * Queued (sigqueue) by a worker to the master when max_requests makes it stop:
 * the master moves it to the old workers and refills its slot at once, as a
 * reload does, instead of when it exits (it may serve nginx's kept connections
 * for a few seconds more: worker.c).  A real-time signal, so two workers that
 * recycle together are both told.
 */
#define SG_SIG_RECYCLING (SIGRTMIN + 1)

/* Serves one accepted request end to end (exposed for tests and fuzzing). */
struct request;
void worker_handle(struct request *r);

/*
 * r->id from the trusted FastCGI params (identity.h's IDENTITY_PARAM_*,
 * never HTTP_*) through identity_resolve(), with its message in r->err: the
 * one place a request's params become its caller.  Exposed for tests.
 */
sg_status worker_identity(struct request *r) SG_MUST_CHECK;

#endif
