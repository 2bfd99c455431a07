/* SPDX-License-Identifier: Apache-2.0 */
/*
 * supervisor.c: the master process, in the manner of nginx's master and
 * PHP-FPM: it opens the FastCGI socket, forks conf->workers workers, and then
 * only waits for signals (sigtimedwait; no handler runs arbitrary code):
 *   SIGCHLD      reap; respawn a worker that died, with backoff when it keeps
 *                dying young, so a crash loop does not spin;
 *   SIGHUP       re-read the config; on success fork a new generation, then
 *                ask the old one to stop gracefully (they finish in-flight
 *                requests; the shared socket keeps queued connections for
 *                the new workers), so no request is dropped;
 *   SIGTERM/INT  stop: every worker finishes its in-flight requests (bounded
 *                by shutdown_timeout), then the socket is removed, exit 0;
 *   SG_SIG_RECYCLING  a worker reached max_requests and is stopping: it joins
 *                the old ones and its slot is refilled at once (worker.h).
 * The listening socket is the only thing workers inherit; database and curl
 * state are opened in each worker after fork.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "db.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "resources.h"
#include "sg_limits.h"
#include "router.h"
#include "shm.h"
#include "supervisor.h"
#include "worker.h"
#include "usage.h"

#define MAX_SLOTS 64
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define YOUNG_US (2 * 1000000)

struct slot {
	pid_t pid; /* 0: empty */
	int generation;
	int64_t started_us;
	int backoff_ms;     /* next respawn delay after a young death */
	int64_t respawn_at; /* when an empty slot of the current generation is refilled */
	int shm_slot;       /* the worker's slot of shared memory (shm.h); released when reaped */
};

static struct slot slots[MAX_SLOTS];
/*
 * Workers of older generations that have not left yet, each at the index of
 * its shm slot: every live worker holds one slot of its own (spawn starts none
 * without), so a retired worker always has its place here.
 */
static struct slot old[SHM_SLOTS];
static int generation;

/*
 * The address listen names into *ss (*len its size): a unix socket path, or
 * HOST:PORT with HOST an IPv4 address, "[IPv6]" or localhost; false when it
 * is neither (logged).
 */
static bool
listen_addr(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	size_t hl;
	int port;

	memset(ss, 0, sizeof(*ss));
	if (listen[0] == '/') {
		struct sockaddr_un *sa = (struct sockaddr_un *) ss;

		if (strlen(listen) >= sizeof(sa->sun_path)) {
			log_error("socket path too long: %s", listen);
			return false;
		}
		sa->sun_family = AF_UNIX;
		strcpy(sa->sun_path, listen);
		*len = sizeof(*sa);
		return true;
	}
	if (colon == NULL || (hl = (size_t) (colon - listen)) == 0 || hl >= sizeof(host))
		goto bad_addr;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	port = atoi(colon + 1);
	if (port <= 0 || port > 65535)
		goto bad_addr;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;

		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad_addr;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t) port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *) ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad_addr;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t) port);
		*len = sizeof(*s4);
	}
	return true;
bad_addr:
	log_error("cannot listen on %s: not a unix socket path or a loopback HOST:PORT", listen);
	return false;
}

/*
 * Opens the listening socket described by conf->listen; -1 on failure
 * (logged).  A unix socket is bound with umask 0177 (replacing a stale
 * socket, never a regular file), then given conf->socket_group and
 * conf->socket_mode; a TCP one is bound with SO_REUSEADDR.
 */
static int
open_socket(const struct sg_conf *conf)
{
	struct sockaddr_storage ss;
	socklen_t len;
	bool is_unix = conf->listen[0] == '/';
	int fd, one = 1, rc;
	mode_t old_umask = 0;

	if (!listen_addr(conf->listen, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (is_unix) {
		/* A stale socket from a crashed run; never a regular file. */
		struct stat st;

		if (lstat(conf->listen, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				log_error("%s exists and is not a socket; refusing to replace it", conf->listen);
				goto fail_quiet;
			}
			unlink(conf->listen);
		}
		old_umask = umask(0177);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	rc = bind(fd, (struct sockaddr *) &ss, len);
	if (is_unix)
		umask(old_umask);
	if (rc != 0)
		goto fail;
	if (is_unix && conf->socket_group != NULL) {
		struct group *g = getgrnam(conf->socket_group);

		if (g == NULL || chown(conf->listen, (uid_t) -1, g->gr_gid) != 0) {
			log_error("cannot give %s to group %s", conf->listen, conf->socket_group);
			goto fail_quiet;
		}
	}
	if (is_unix && chmod(conf->listen, conf->socket_mode) != 0)
		goto fail;
	if (listen(fd, 4096) != 0)
		goto fail;
	/* Workers wait in epoll and accept without blocking (worker.c). */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		goto fail;
	return fd;
fail:
	log_error("cannot listen on %s: %s", conf->listen, strerror(errno));
fail_quiet:
	if (fd >= 0)
		close(fd);
	return -1;
}

static pid_t
spawn(struct sg_conf *conf, int fd, int slot)
{
	int shm_slot = shm_slot_take();
	pid_t pid, master;

	if (shm_slot < 0) { /* shm is mapped before the first spawn: all slots are taken */
		slots[slot].respawn_at = sg_now_us() + 1000000; /* logged; tried again in a second */
		return -1;
	}
	master = getpid();
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		shm_slot_release(shm_slot);
		slots[slot].respawn_at = sg_now_us() + 1000000;
		return -1;
	}
	if (pid == 0) {
		int rc;

		/*
		 * A master killed outright (SIGKILL, the OOM killer) tells its
		 * workers nothing: the kernel does, with the SIGTERM of a graceful
		 * stop (taken by the worker's signal loop), also when it died
		 * before this line.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master)
			kill(getpid(), SIGTERM);
		shm_slot_enter(shm_slot);
		rc = worker_run(conf, fd);
		/* _exit: the master's atexit work is not the worker's; so a sanitized build checks leaks here. */
		if (rc == 0)
			sg_leak_check();
		_exit(rc);
	}
	slots[slot].pid = pid;
	slots[slot].generation = generation;
	slots[slot].started_us = sg_now_us();
	slots[slot].respawn_at = 0;
	slots[slot].shm_slot = shm_slot;
	log_info("worker %d started (pid %ld, generation %d)", slot, (long) pid, generation);
	return pid;
}

/* Moves a live worker to old and asks it to stop; s is emptied. */
static void
retire(struct slot *s)
{
	old[s->shm_slot] = *s;
	kill(s->pid, SIGTERM);
	memset(s, 0, sizeof(*s));
}

/* A worker of the current generation that is stopping by itself (max_requests): replaced now. */
static void
recycling(pid_t pid)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (slots[i].pid != pid || pid == 0)
			continue;
		log_info("worker %d (pid %ld) is recycling: starting its successor", i, (long) pid);
		retire(&slots[i]);
		metrics_worker_restarted();
		slots[i].respawn_at = sg_now_us();
	}
}

static int
count_live(void)
{
	int n = 0;

	for (size_t i = 0; i < MAX_SLOTS; i++)
		n += slots[i].pid != 0;
	for (size_t i = 0; i < SG_ARRAY_LEN(old); i++)
		n += old[i].pid != 0;
	return n;
}

/* Sends sig to every live worker, of the current generation and of older ones. */
static void
signal_all(int sig)
{
	for (size_t i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0)
			kill(slots[i].pid, sig);
	for (size_t i = 0; i < SG_ARRAY_LEN(old); i++)
		if (old[i].pid != 0)
			kill(old[i].pid, sig);
}

/* Reaps every exited child; schedules respawns for current-generation slots. */
static void
reap(bool stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool found = false;

		for (size_t i = 0; i < SG_ARRAY_LEN(old); i++) {
			if (old[i].pid == pid) {
				shm_slot_release(old[i].shm_slot);
				memset(&old[i], 0, sizeof(old[i]));
				log_info("old worker pid %ld exited", (long) pid);
				found = true;
			}
		}
		for (int i = 0; !found && i < MAX_SLOTS; i++) {
			struct slot *s = &slots[i];
			bool young, clean;

			if (s->pid != pid)
				continue;
			found = true;
			clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			young = sg_now_us() - s->started_us < YOUNG_US;
			if (WIFSIGNALED(status))
				log_warn("worker %d (pid %ld) killed by signal %d", i, (long) pid, WTERMSIG(status));
			else if (!clean)
				log_warn("worker %d (pid %ld) exited with status %d", i, (long) pid,
					 WEXITSTATUS(status));
			else
				log_info("worker %d (pid %ld) exited", i, (long) pid);
			s->pid = 0;
			shm_slot_release(s->shm_slot);
			s->shm_slot = 0;
			if (stopping)
				continue;
			metrics_worker_restarted();
			if (!clean && young) {
				s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
				if (s->backoff_ms > BACKOFF_MAX_MS)
					s->backoff_ms = BACKOFF_MAX_MS;
				log_warn("worker %d keeps dying young: respawning in %d ms", i, s->backoff_ms);
				s->respawn_at = sg_now_us() + (int64_t) s->backoff_ms * 1000;
			} else {
				s->backoff_ms = 0;
				s->respawn_at = sg_now_us();
			}
		}
	}
}

/* Registers the config's resources, from the master, with connections closed before fork. */
static void
preregister(const struct sg_conf *conf)
{
	if (db_init(conf) != SG_OK || registry_open(conf) != SG_OK) {
		log_warn("cannot open the registry to register the configured resources");
	} else {
		struct sg_err perr = {0};

		if (registry_sync_providers(conf, &perr) != SG_OK)
			log_warn("cannot record the configured providers: %s", perr.msg);
		sg_err_reset(&perr);
		if (registry_sync_policy(conf, &perr) != SG_OK)
			log_warn("cannot record the access policy for SQL inspection: %s", perr.msg);
		if (resources_preregister(conf) != SG_OK)
			log_warn("some configured resources could not be registered (see above)");
	}
	registry_close();
	db_shutdown();
}

static void
write_pid_file(const struct sg_conf *conf)
{
	FILE *f;

	if (conf->pid_file == NULL)
		return;
	f = fopen(conf->pid_file, "w");
	if (f == NULL) {
		log_warn("cannot write pid file %s: %s", conf->pid_file, strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long) getpid());
	fclose(f);
}

/*
 * SIGHUP: re-reads conf's file.  On success registers the new config's
 * resources, forks a new generation on fd, then asks the old one to stop
 * (retire), and returns the new config (conf freed); on failure logs why
 * and returns conf, still running.  The listening socket stays listen_path
 * whatever the new file says (a restart changes it).
 */
static struct sg_conf *
reload(struct sg_conf *conf, int fd, const char *listen_path)
{
	char *errors = NULL;
	struct sg_conf *nc = conf_load(conf->path, &errors);
	struct slot prev[MAX_SLOTS];

	if (nc == NULL) {
		log_error("reload failed; keeping the running configuration:");
		for (char *line = strtok(errors, "\n"); line; line = strtok(NULL, "\n"))
			log_error("%s", line);
		free(errors);
		return conf;
	}
	if (strcmp(nc->listen, listen_path) != 0)
		log_warn(
			"server.socket changed to %s: a restart is needed for that; still "
			"listening on %s",
			nc->listen, listen_path);
	free(nc->listen);
	nc->listen = sg_strdup(listen_path);
	log_set_level_name(nc->log_level);
	log_set_format_name(nc->log_format);
	preregister(nc);
	generation++;
	/* Retire the old generation only after the new one has been forked. */
	memcpy(prev, slots, sizeof(prev));
	memset(slots, 0, sizeof(slots));
	conf_free(conf);
	for (int i = 0; i < nc->workers; i++)
		spawn(nc, fd, i);
	for (int i = 0; i < MAX_SLOTS; i++)
		if (prev[i].pid != 0)
			retire(&prev[i]);
	log_info("reloaded %s: generation %d", nc->path, generation);
	return nc;
}

int
supervisor_run(struct sg_conf *conf)
{
	sigset_t set;
	int fd, nworkers;
	bool stopping = false;
	int64_t stop_deadline = 0;
	char *listen_path;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SG_SIG_RECYCLING);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Each thread holds up to four descriptors: its epoll set and listening descriptor, nginx's and the upstream's. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("cannot raise the open-file limit: %s", strerror(errno));
	}

	if (limits_declare(conf) != SG_OK || health_declare() != SG_OK || usage_declare(conf) != SG_OK ||
	    metrics_declare(conf) != SG_OK || router_declare() != SG_OK) {
		conf_free(conf);
		return 1;
	}
	/* Modules that count host-wide declare their shm areas above this line. */
	if (shm_map() != SG_OK) {
		conf_free(conf);
		return 1;
	}
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		conf_free(conf);
		return 1;
	}
	fd = open_socket(conf);
	if (fd < 0) {
		conf_free(conf);
		return 1;
	}
	listen_path = sg_strdup(conf->listen);
	write_pid_file(conf);
	registry_prefork();
	preregister(conf);

	nworkers = conf->workers;
	for (int i = 0; i < nworkers; i++)
		spawn(conf, fd, i);
	log_info("stackgate %s listening on %s with %d workers x %d threads", PACKAGE_VERSION, conf->listen,
		 conf->workers, conf->threads);

	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &ts);

		if (sig == SIGCHLD || sig < 0)
			reap(stopping);
		if ((sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) && !stopping) {
			log_info("received %s: stopping gracefully", strsignal(sig));
			stopping = true;
			stop_deadline = sg_now_us() + (int64_t) (conf->shutdown_timeout_s + 5) * 1000000;
			signal_all(SIGTERM);
		}
		if (sig == SG_SIG_RECYCLING && !stopping)
			recycling(si.si_pid);
		if (sig == SIGHUP && !stopping) {
			conf = reload(conf, fd, listen_path);
			nworkers = conf->workers;
		}
		if (stopping) {
			if (count_live() == 0)
				break;
			if (sg_now_us() > stop_deadline) {
				log_warn("workers did not stop in time: killing them");
				signal_all(SIGKILL);
				stop_deadline = sg_now_us() + 5 * 1000000;
			}
			continue;
		}
		for (int i = 0; i < nworkers; i++)
			if (slots[i].pid == 0 && slots[i].respawn_at != 0 && sg_now_us() >= slots[i].respawn_at)
				spawn(conf, fd, i);
	}
	close(fd);
	if (listen_path[0] == '/')
		unlink(listen_path);
	if (conf->pid_file != NULL)
		unlink(conf->pid_file);
	free(listen_path);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
