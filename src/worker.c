/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.c: one worker process.  conf->threads accept threads share the
 * FastCGI listening socket with every other worker.  The socket is
 * non-blocking; each thread waits in its own epoll set on the socket
 * (EPOLLEXCLUSIVE, so a connection wakes one waiter, not all of them) and on
 * the process's stop eventfd, then lets libfcgi accept and read the request.
 * On a connection nginx kept, a thread waits for the next request in
 * libfcgi's read itself (no poll first: one syscall less per request).
 * A graceful stop writes the eventfd: a thread waiting on the listening
 * socket leaves at once; one holding a connection nginx kept serves it until
 * nginx closes it (never closed from this side: see accept_thread).  Each
 * thread accepts on a descriptor of its own for the listening socket, which
 * the stop turns into a socket that accepts nothing (stop_accepting), so
 * that libfcgi, finding a kept connection closed, cannot take a new one for
 * a stopping worker.  No thread is ever interrupted by a signal, so a
 * request being read or written is never cut short.
 *
 * The worker is the only writer of status lines and error bodies, and writes
 * the access log (log_request): one line per request.
 *
 * Shared state: `stopping`, `served` and the slots of `accept_fds` are
 * atomics; nothing else is shared between the threads of this file.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "auth.h"
#include "conf.h"
#include "cors.h"
#include "db.h"
#include "http.h"
#include "inspect.h"
#include "json.h"
#include "sg_limits.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "registry.h"
#include "route.h"
#include "usage.h"
#include "worker.h"

static const struct sg_conf *wconf;
static int listen_sock = -1;
static int stop_fd = -1;
static atomic_bool stopping;
static atomic_long served;
static atomic_int live_threads;

/*
 * Each accept thread's own descriptor for the listening socket (a dup, -1
 * until the thread made it), and the socket that replaces them all when the
 * worker stops: never listening, so accept() on it fails (EINVAL) at once.
 * Closed only after every thread ended (worker_run), so stop_accepting()
 * never meets a number that was closed and handed out again.
 */
static atomic_int *accept_fds;
static int n_accept_fds;
static int dead_listener = -1;

static pid_t master_pid;

/* Asks the master for this worker's successor now (worker.h); not if the master is gone. */
static void
tell_master_recycling(void)
{
	if (getppid() == master_pid && sigqueue(master_pid, SG_SIG_RECYCLING, (union sigval){0}) != 0)
		log_warn("cannot tell the master this worker is recycling: %s", strerror(errno));
}

/* Turns every thread's listening descriptor into dead_listener (after `stopping` is set). */
static void
stop_accepting(void)
{
	for (int i = 0; i < n_accept_fds; i++) {
		int fd = atomic_load(&accept_fds[i]);

		if (fd >= 0 && dup2(dead_listener, fd) < 0)
			log_warn("stopping: cannot close thread %d's listening descriptor: %s", i, strerror(errno));
	}
}

static void
request_stop(void)
{
	uint64_t one = 1;

	atomic_store(&stopping, true);
	if (write(stop_fd, &one, sizeof(one)) < 0) {
		/* The counter is already non-zero: every waiter wakes anyway. */
	}
	stop_accepting();
}

/* Writes the error response for st from r->err; the one place error bodies are made. */
static void
respond_error(struct request *r, sg_status st)
{
	const char *msg = r->err.msg[0] ? r->err.msg : sg_http_reason(sg_status_http(st));
	int status = st == SG_E_UPSTREAM ? r->upstream_status : sg_status_http(st);
	json_t *body;
	char *text;

	if (status < 400 || status > 599)
		status = 502;
	if (st == SG_E_NOMEM || st == SG_E_INTERNAL)
		msg = r->err.msg[0] ? r->err.msg : "internal error";
	body = json_pack("{s:{s:s,s:s,s:s?,s:s},s:s}", "error", "message", msg, "type", sg_status_type(st), "param",
			 r->err.param[0] ? r->err.param : NULL, "code", sg_status_code(st), "detail", msg);
	text = body ? sg_json_dump(body) : NULL;
	/*
	 * Not on nginx's auth subrequest: auth_request copies a subrequest's WWW-Authenticate into the 401 and the
	 * nginx config adds its own (for any auth service), so the client would get it twice.
	 */
	if (st == SG_E_UNAUTHORIZED && !(r->route != NULL && (r->route->flags & SG_ROUTE_INTERNAL)))
		(void) http_add_header(r, "WWW-Authenticate", "Bearer");
	if (text != NULL) {
		http_respond(r, status, "application/json", text, strlen(text));
	} else {
		/* Only memory can fail here (sg_fail stores valid UTF-8): a body that needs none. */
		static const char fallback[] =
			"{\"error\":{\"message\":\"internal error\",\"type\":\"internal_error\","
			"\"param\":null,\"code\":\"internal\"},\"detail\":\"internal error\"}";

		http_respond(r, 500, "application/json", fallback, sizeof(fallback) - 1);
	}
	free(text);
	json_decref(body);
}

static void
respond_ok(struct request *r)
{
	char *text;

	if (r->status == 204 || r->status == 304) {
		http_respond(r, r->status, "application/json", "", 0);
		return;
	}
	if (r->reply == NULL) {
		http_respond(r, r->status, "application/json", "null", 4);
		return;
	}
	text = sg_json_dump(r->reply);
	if (text == NULL) {
		respond_error(r, http_fail(r, SG_E_NOMEM, NULL, "out of memory"));
		return;
	}
	http_respond(r, r->status, "application/json", text, strlen(text));
	free(text);
}

/*
 * A request that nginx passed with STACKGATE_VERIFY_KEY (a trusted param, never a client header) made
 * no auth subrequest: its Authorization is checked here as /_stackgate/auth would, before any route,
 * and the key's principal is the caller (the STACKGATE_PRINCIPAL and STACKGATE_KEY_ID params are not
 * read).  Anything else: SG_OK, nothing done.
 */
static sg_status
verify_key(struct request *r)
{
	const char *v = http_param(r, IDENTITY_PARAM_VERIFY_KEY);
	char key_id[AUTH_KEY_ID_LEN + 1];
	sg_status st;

	if (v == NULL || strcmp(v, "1") != 0)
		return SG_OK;
	st = auth_verify(http_param(r, "HTTP_AUTHORIZATION"), r->conf->key_cache_ttl_s, &r->key_principal, key_id,
			 &r->err);
	if (st != SG_OK)
		return st;
	r->key_verified = true;
	snprintf(r->key_id, sizeof(r->key_id), "%s", key_id);
	return SG_OK;
}

sg_status
worker_identity(struct request *r)
{
	const bool k = r->key_verified;
	const struct identity_params p = {
		.principal = k ? r->key_principal : http_param(r, IDENTITY_PARAM_PRINCIPAL),
		.attributes = http_param(r, IDENTITY_PARAM_ATTRIBUTES),
		.groups = http_param(r, IDENTITY_PARAM_GROUPS),
		.key_id = k ? (r->key_id[0] ? r->key_id : NULL) : http_param(r, IDENTITY_PARAM_KEY_ID),
	};

	return identity_resolve(r->conf, &p, &r->id, &r->err);
}

void
worker_handle(struct request *r)
{
	const struct route *rt;
	unsigned allowed = 0;
	sg_status st;

	st = http_request_read(r, r->fcgx, wconf);
	if (st != SG_OK)
		goto out;

	rt = route_match(r->path, r->method, &r->path_arg, &allowed);
	/* A preflight carries no credentials (nginx passes it without auth_request): answered before identity. */
	if (rt == NULL && allowed != 0 && cors_is_preflight(r)) {
		st = cors_preflight(r, allowed);
		goto out;
	}
	cors_apply(r);
	st = verify_key(r);
	if (st != SG_OK)
		goto out;
	if (rt == NULL) {
		/* Who may not call anything learns nothing of the paths either: 401 before 404 and 405. */
		st = worker_identity(r);
		if (st != SG_OK)
			goto out;
		if (allowed != 0) {
			char allow[64];

			route_allow_string(allowed, allow, sizeof(allow));
			(void) http_add_header(r, "Allow", allow);
			st = http_fail(r, SG_E_METHOD, NULL, "method %s is not allowed on %s; allowed: %s",
				       r->method_name, r->path, allow);
		} else {
			st = http_fail(r, SG_E_NOT_FOUND, NULL, "no route for %s", r->path);
		}
		goto out;
	}
	r->route = rt;
	metrics_enter(r);
	if (!(rt->flags & SG_ROUTE_PUBLIC)) {
		st = worker_identity(r);
		if (st != SG_OK)
			goto out;
	}
	/* Llama Stack's client version check, after authentication as there; not on nginx's auth subrequest. */
	if (!(rt->flags & SG_ROUTE_INTERNAL)) {
		st = inspect_check_client_version(r);
		if (st != SG_OK)
			goto out;
	}
	st = rt->handler(r);
out:
	if (r->headers_sent) {
		if (st != SG_OK)
			log_warn("%s after the response started: %s%s%s", sg_status_name(st), r->err.msg,
				 r->err.detail[0] ? ": " : "", r->err.detail);
	} else if (st == SG_OK) {
		respond_ok(r);
	} else {
		if (sg_status_http(st) >= 500 || st == SG_E_UPSTREAM)
			log_warn("%s %s: %s%s%s", sg_status_name(st), r->path ? r->path : "-", r->err.msg,
				 r->err.detail[0] ? ": " : "", r->err.detail);
		respond_error(r, st);
	}
	/* Request-end accounting (limits, usage, metrics) goes here, before the access log. */
	limits_finish(r);
	usage_record(r);
	metrics_record(r);
	log_request(r);
}

/* True when the peer closed fd (or reset it): nothing more can come on it. */
static bool
nginx_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void *
accept_thread(void *arg)
{
	FCGX_Request fcgx;
	struct request *r = NULL;
	struct epoll_event ev, got[2];
	int ep = -1, slot = (int) (intptr_t) arg;
	int lfd = fcntl(listen_sock, F_DUPFD_CLOEXEC, 0);
	bool have_fcgx = false; /* FCGX_InitRequest made fcgx: FCGX_Free is for it alone */

#ifdef SG_TEST_KNOBS
	if (lfd >= 0 && getenv("STACKGATE_TEST_THREAD_SETUP_FAILS") != NULL) {
		/* Test builds: every thread's setup fails as if the process were out of descriptors. */
		close(lfd);
		lfd = -1;
		errno = EMFILE;
	}
#endif

	/* Published before `stopping` is read: a stop either turns it dead or is seen in the loop. */
	atomic_store(&accept_fds[slot], lfd);
	if (lfd < 0 || FCGX_InitRequest(&fcgx, lfd, 0) != 0) {
		log_error("worker thread setup failed: %s", lfd < 0 ? strerror(errno) : "FCGX_InitRequest");
		goto out;
	}
	have_fcgx = true;
	r = sg_calloc(1, sizeof(*r));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (r == NULL || ep < 0) {
		log_error("worker thread setup failed: %s", strerror(errno));
		goto out;
	}
	r->reuse = true; /* this thread's requests share the memory of body, path and headers (http.h) */
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		goto epoll_fail;
	ev.events = EPOLLIN;
	ev.data.fd = stop_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev) != 0)
		goto epoll_fail;

	for (;;) {
		bool stop = atomic_load(&stopping);
		int rc;

		/*
		 * A connection nginx kept (fastcgi_keep_conn), not stopping: nothing
		 * to wait for here, libfcgi's read waits for its next request.  EOF
		 * makes libfcgi close it and try the listening socket (non-blocking)
		 * instead; once the worker stops, that is dead_listener, which
		 * accepts nothing.
		 */
		if (fcgx.ipcFd >= 0 && stop) {
			/*
			 * Stopping, with a kept connection: wait for its next request or
			 * its close, and leave when nginx closed it.
			 *
			 * The rule, stopping or not: this side never closes a kept
			 * connection while nginx may use it.  nginx puts the connection
			 * back in its keepalive cache as soon as it reads END_REQUEST
			 * and may hand it to the next request at once; a close from
			 * here races with that request, which then fails ("upstream
			 * prematurely closed connection"), and nginx does not retry a
			 * POST.  Only nginx can close a kept connection safely, and it
			 * does: a busy one after the request that ends past the
			 * upstream's keepalive_time, an idle one after its
			 * keepalive_timeout (README "Reload and shutdown").  So a
			 * stopping thread serves whatever comes on its connection until
			 * nginx closes it, then leaves without accepting again; the main
			 * thread bounds the whole stop with shutdown_timeout.
			 */
			struct pollfd p = {.fd = fcgx.ipcFd, .events = POLLIN};
			int n = poll(&p, 1, 100);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				log_error("poll: %s", strerror(errno));
				break;
			}
			if (p.revents == 0)
				continue;
			/* nginx closed it: leave here, so libfcgi does not look for a new connection. */
			if (nginx_closed(fcgx.ipcFd))
				break;
		} else if (fcgx.ipcFd < 0) {
			if (stop)
				break;
			int n = epoll_wait(ep, got, 2, -1);
			bool can_accept = false;

			if (n < 0) {
				if (errno == EINTR)
					continue;
				log_error("epoll_wait: %s", strerror(errno));
				break;
			}
			for (int i = 0; i < n; i++)
				if (got[i].data.fd == lfd)
					can_accept = true;
			if (atomic_load(&stopping) || !can_accept)
				continue;
		}
		rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			/* EAGAIN: another thread or worker took the connection first; stopping: dead_listener. */
			if (rc != -EAGAIN && rc != -EWOULDBLOCK && rc != -EINTR && rc != -ECONNABORTED &&
			    !atomic_load(&stopping))
				log_warn("FCGX_Accept_r: %s", strerror(-rc));
			continue;
		}
		r->fcgx = &fcgx;
		worker_handle(r);
		http_request_reset(r);
		log_set_request_id(NULL);
		/* Kept open even when stopping: nginx closes it (the rule above). */
		FCGX_Finish_r(&fcgx);
		if (wconf->max_requests > 0 && atomic_fetch_add(&served, 1) + 1 == wconf->max_requests) {
			log_info("served %ld requests: recycling this worker", wconf->max_requests);
			request_stop();
			tell_master_recycling();
		}
	}
	goto out;
epoll_fail:
	log_error("epoll_ctl: %s", strerror(errno));
out:
	if (ep >= 0)
		close(ep);
	if (r != NULL) {
		http_request_free(r);
		free(r);
	}
	/* Frees the request; a connection still open here is one that poll failed on (or nginx closed). */
	if (have_fcgx)
		FCGX_Free(&fcgx, 1);
	proxy_thread_cleanup();
	atomic_fetch_sub(&live_threads, 1);
	return NULL;
}

/*
 * "principal:<name>" notifications drop that principal's cached attributes and
 * keys; "*" (the listener reconnected, some may have been missed) drops all.
 */
static void
on_registry_notify(const char *payload)
{
	const char *principal;

	if (strcmp(payload, "*") == 0)
		principal = NULL;
	else if (strncmp(payload, "principal:", 10) == 0)
		principal = payload + 10;
	else
		return;
	auth_invalidate(principal);
	identity_invalidate(principal);
}

int
worker_run(const struct sg_conf *conf, int listen_fd)
{
	pthread_t *threads = NULL;
	pthread_attr_t attr;
	sigset_t set;
	int started = 0, rc = 0;
	bool ended = false; /* every thread was joined (not cut by the shutdown timeout) */
	int64_t deadline = 0;

	wconf = conf;
	master_pid = getppid();
	listen_sock = listen_fd;
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dead_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (stop_fd < 0 || dead_listener < 0) {
		log_error("%s: %s", stop_fd < 0 ? "eventfd" : "socket", strerror(errno));
		return 1;
	}

	/* Every thread inherits this mask; only the main thread takes these signals, with sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * SCHED_BATCH (server.sched_batch), set while this is the process's one
	 * thread so that every thread started below inherits it: a worker thread
	 * woken by nginx or an upstream does not preempt the task running on
	 * its core but waits for that task's turn to end.  On a busy host the
	 * front nginx then hands over several requests per turn instead of one,
	 * with fewer context switches; on an idle core it changes nothing.
	 */
	if (conf->sched_batch && sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){.sched_priority = 0}) != 0)
		log_warn("server.sched_batch: sched_setscheduler: %s: the workers keep the normal policy",
			 strerror(errno));

	registry_on_notify(on_registry_notify);
	if (db_init(conf) != SG_OK || registry_open(conf) != SG_OK)
		log_warn("the registry is not available yet; requests that need it get 503 until it is");
	if (usage_start(conf) != SG_OK)
		log_error("usage: the writer did not start: inference requests are not logged to usage_log");

	limits_start(conf);
	threads = sg_calloc((size_t) conf->threads, sizeof(*threads));
	accept_fds = sg_calloc((size_t) conf->threads, sizeof(*accept_fds));
	if (threads == NULL || accept_fds == NULL)
		return 1;
	for (int i = 0; i < conf->threads; i++)
		atomic_init(&accept_fds[i], -1);
	n_accept_fds = conf->threads;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, conf->thread_stack_kb * 1024);
	for (int i = 0; i < conf->threads; i++) {
		atomic_fetch_add(&live_threads, 1);
		if (pthread_create(&threads[i], &attr, accept_thread, (void *) (intptr_t) i) != 0) {
			atomic_fetch_sub(&live_threads, 1);
			log_error("pthread_create: %s (started %d of %d threads)", strerror(errno), i, conf->threads);
			break;
		}
		started++;
	}
	pthread_attr_destroy(&attr);
	metrics_worker_threads(started);
	log_info("worker ready: %d threads", started);

	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);

		if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
			if (!atomic_load(&stopping))
				log_info("stopping: finishing in-flight requests");
			request_stop();
		}
		if (atomic_load(&stopping) && deadline == 0)
			deadline = sg_now_us() + (int64_t) conf->shutdown_timeout_s * 1000000;
		if (atomic_load(&live_threads) == 0)
			break;
		if (deadline != 0 && sg_now_us() > deadline) {
			log_warn("shutdown timeout: %d requests still in flight are cut", atomic_load(&live_threads));
			rc = 1;
			goto done;
		}
	}
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	ended = true;
	if (!atomic_load(&stopping)) {
		/* Not a stop: none started, or each one ended on an error (logged).  Unclean, so the master backs off. */
		log_error("worker: every thread ended (%d of %d started): exiting", started, conf->threads);
		rc = 1;
	}
done:
	limits_stop();
	usage_stop();
	registry_close();
	db_shutdown();
	free(threads);
	if (ended) { /* every thread ended: no one uses these now (cut by the timeout, the exit closes them) */
		for (int i = 0; i < n_accept_fds; i++)
			if (atomic_load(&accept_fds[i]) >= 0)
				close(atomic_load(&accept_fds[i]));
		n_accept_fds = 0;
		free(accept_fds);
		accept_fds = NULL;
		close(dead_listener);
	}
	close(stop_fd);
	log_info("worker exiting");
	return rc;
}
