/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_h1.c: stackgate's own HTTP/1.1 client, for calls to plain http://
 * upstreams (the usual inference server beside the gateway).  libcurl does
 * the rest (TLS, pinned MCP calls, HTTP proxies).  What it saves, per call:
 * curl's option and header handling (about 60k instructions: its printf
 * formats every request header byte by byte), its liveness poll of a kept
 * connection and its poll before every read or write.  A call here is one
 * sendmsg, then one recv that blocks (the socket is blocking after the
 * connect, with SO_RCVTIMEO of H1_BLOCK_MS): two system calls for an answer
 * that arrives in one piece within H1_BLOCK_MS.  Past that, or when a timer
 * is due sooner, it is poll and recv until the answer is complete, with the
 * timers checked between; every other call passes MSG_DONTWAIT.
 *
 * Connections: each thread keeps up to H1_CONNS, one per host:port, and
 * reuses one for the next call to that host.  A kept connection the server
 * has closed meanwhile shows as a failed send or an end before any byte of
 * the answer; the request is then sent once more on a new connection (as
 * curl does), which is safe because the server answered nothing.  An answer
 * whose end is the connection's end, or that says Connection: close, or
 * that the caller stopped, closes it.
 *
 * The parser (h1_feed) is pure and incremental; proxy_xfer_header() and
 * proxy_xfer_data() get what it finds, exactly as curl's callbacks would,
 * and proxy_xfer_tick() enforces the timers between reads.
 *
 * Name resolution, once per new connection, is bounded by the connect
 * timeout, as curl's is: an address is taken as it is; a name is looked up
 * by getaddrinfo() on a thread of its own (h1_lookup), which the call waits
 * for until the connect deadline and then leaves to end by itself
 * (resolv.conf's timeout and attempts bound it), freeing what it holds.
 * glibc's getaddrinfo_a is not used: its idle helper threads do not survive
 * a fork, and the master forks the workers after its own calls.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "netaddr.h"
#include "proxy_int.h"

#define H1_CONNS 4
#define H1_READ (16 * 1024)
#define H1_IDLE_MAX_US (60 * 1000000LL)
#define H1_BLOCK_MS 20                  /* the first read of an answer blocks this long at most (SO_RCVTIMEO) */
#define H1_RETRY_WINDOW_US (100 * 1000) /* a kept connection closed this soon after the request: sent again */
#define H1_LOOKUP_STACK (256 * 1024)
#define H1_LOOKUPS_MAX 256 /* a process's lookups at once: past it a new connection to a name fails at once */

/* ------------------------------------------------------------------ parser */

enum {
	S_STATUS,
	S_HEADER,
	S_BODY_LEN,
	S_BODY_EOF,
	S_CHUNK_SIZE,
	S_CHUNK_DATA,
	S_CHUNK_END,
	S_TRAILER,
	S_DONE,
};

void
h1_parser_init(struct h1_parser *p, bool head)
{
	struct sg_buf line = p->line;

	line.len = 0;
	*p = (struct h1_parser){.state = S_STATUS, .head = head, .line = line};
	p->line.max = H1_MAX_LINE;
}

void
h1_parser_free(struct h1_parser *p)
{
	sg_buf_free(&p->line);
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The value of a header line "Name: value\r\n" when its name is name (case-insensitive), trimmed; else NULL. */
static const char *
header_value(const char *line, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *v, *end = line + n;

	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return NULL;
	v = line + nl + 1;
	while (end > v && (end[-1] == '\n' || end[-1] == '\r' || is_ows(end[-1])))
		end--;
	while (v < end && is_ows(*v))
		v++;
	*vlen = (size_t) (end - v);
	return v;
}

/* Is the last item of the comma-separated list v[0..n) token (case-insensitive)? */
static bool
last_token_is(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = n;

	while (i > 0 && v[i - 1] != ',')
		i--;
	while (i < n && is_ows(v[i]))
		i++;
	return n - i == tl && strncasecmp(v + i, token, tl) == 0;
}

/* Does the comma-separated list v[0..n) hold token (case-insensitive)? */
static bool
has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token);

	for (size_t i = 0; i < n;) {
		size_t j = i, k;

		while (j < n && v[j] != ',')
			j++;
		k = j;
		while (i < k && is_ows(v[i]))
			i++;
		while (k > i && is_ows(v[k - 1]))
			k--;
		if (k - i == tl && strncasecmp(v + i, token, tl) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

static bool
parse_decimal(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t) (v[i] - '0');
	}
	*out = x;
	return true;
}

/* "HTTP/1.x NNN ..." */
static bool
status_line(struct h1_parser *p, const char *l, size_t n)
{
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return false;
	for (int i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return false;
	if (n > 12 && l[12] != ' ' && l[12] != '\r' && l[12] != '\n')
		return false;
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->status < 100)
		return false;
	p->http10 = l[7] == '0';
	p->chunked = p->have_te = p->have_length = p->close = p->keep_alive = false;
	return true;
}

/* A header line other than the blank one; false when it is malformed. */
static bool
header_line(struct h1_parser *p, const char *l, size_t n)
{
	const char *v, *colon = memchr(l, ':', n);
	size_t vl;
	uint64_t len;

	/*
	 * No name, blanks in or after it (RFC 9112 5.1), or an obsolete line
	 * folding (5.2: the answer may be refused): what a name or a length
	 * meant would be a guess, and guesses differ between parsers.
	 */
	if (colon == NULL || colon == l)
		return false;
	for (const char *c = l; c < colon; c++)
		if (is_ows(*c) || *c == '\r')
			return false;
	if ((v = header_value(l, n, "Content-Length", &vl)) != NULL) {
		if (!parse_decimal(v, vl, &len) || (p->have_length && len != p->length))
			return false;
		p->have_length = true;
		p->length = len;
	} else if ((v = header_value(l, n, "Transfer-Encoding", &vl)) != NULL) {
		/* The last coding of the last line is the final one (RFC 9112 6.3). */
		p->have_te = true;
		p->chunked = last_token_is(v, vl, "chunked");
	} else if ((v = header_value(l, n, "Connection", &vl)) != NULL) {
		if (has_token(v, vl, "close"))
			p->close = true;
		if (has_token(v, vl, "keep-alive"))
			p->keep_alive = true;
	}
	return true;
}

/* The end of a header block: what the body is. */
static void
block_end(struct h1_parser *p)
{
	if (p->status < 200) {
		p->state = S_STATUS; /* an interim answer: the real one follows */
		return;
	}
	if (p->http10 && !p->keep_alive)
		p->close = true;
	/*
	 * Transfer-Encoding overrides a length; both together may be an attempt
	 * to smuggle an answer, so the connection ends with this one (RFC 9112
	 * 6.3); a final coding other than chunked ends with the connection.
	 */
	if (p->have_te && p->have_length)
		p->close = true;
	if (p->have_te && !p->chunked)
		p->close = true;
	if (p->head || p->status == 204 || p->status == 304)
		p->state = S_DONE;
	else if (p->chunked)
		p->state = S_CHUNK_SIZE;
	else if (p->have_te)
		p->state = S_BODY_EOF;
	else if (p->have_length && p->length == 0)
		p->state = S_DONE;
	else if (p->have_length) {
		p->state = S_BODY_LEN;
		p->left = p->length;
	} else {
		p->state = S_BODY_EOF; /* no length: the body ends with the connection */
		p->close = true;
	}
}

static bool
blank(const char *l, size_t n)
{
	return (n == 1 && l[0] == '\n') || (n == 2 && l[0] == '\r' && l[1] == '\n');
}

static bool
chunk_size(struct h1_parser *p, const char *l, size_t n)
{
	uint64_t x = 0;
	size_t i = 0, zeros;

	if (n > H1_MAX_CHUNK_LINE)
		return false;
	while (i < n && l[i] == '0')
		i++;
	zeros = i;
	for (; i < n; i++) {
		char c = l[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			break;
		if (i - zeros >= 15)
			return false;
		x = x * 16 + (uint64_t) d;
	}
	if (i == 0)
		return false;
	while (i < n && is_ows(l[i]))
		i++;
	if (l[i] != ';' && !blank(l + i, n - i))
		return false; /* i < n: the line ends with its line end */
	p->left = x;
	p->state = x == 0 ? S_TRAILER : S_CHUNK_DATA;
	return true;
}

/* One complete line (line end included) in a line-reading state. */
static enum h1_result
line_done(struct h1_parser *p, const char *l, size_t n, h1_fn header, void *ctx)
{
	switch (p->state) {
	case S_STATUS:
		if (!status_line(p, l, n))
			return H1_BAD;
		p->state = S_HEADER;
		return header(ctx, l, n) == n ? H1_MORE : H1_STOP;
	case S_HEADER:
		if (blank(l, n)) {
			bool interim = p->status < 200;

			if (p->status == 101)
				return H1_BAD; /* no protocol switch was asked for */
			block_end(p);
			if (header(ctx, l, n) != n)
				return H1_STOP;
			return interim || p->state != S_DONE ? H1_MORE : H1_DONE;
		}
		if (!header_line(p, l, n))
			return H1_BAD;
		return header(ctx, l, n) == n ? H1_MORE : H1_STOP;
	case S_CHUNK_SIZE:
		return chunk_size(p, l, n) ? H1_MORE : H1_BAD;
	case S_CHUNK_END:
		if (!blank(l, n))
			return H1_BAD;
		p->state = S_CHUNK_SIZE;
		return H1_MORE;
	case S_TRAILER:
		if (blank(l, n)) {
			p->state = S_DONE;
			return H1_DONE;
		}
		p->trailers += n;
		return p->trailers <= H1_MAX_HEAD ? H1_MORE : H1_BAD; /* trailers are read and dropped */
	default:
		return H1_BAD;
	}
}

enum h1_result
h1_feed(struct h1_parser *p, const char *buf, size_t len, size_t *used, h1_fn header, h1_fn body, void *ctx)
{
	size_t pos = 0;

	*used = 0;
	while (pos < len) {
		enum h1_result r;

		switch (p->state) {
		case S_BODY_LEN:
		case S_CHUNK_DATA:
		case S_BODY_EOF: {
			size_t n = len - pos;

			if (p->state != S_BODY_EOF && n > p->left)
				n = (size_t) p->left;
			if (body(ctx, buf + pos, n) != n)
				return H1_STOP;
			pos += n;
			p->got += n;
			if (p->state == S_BODY_EOF)
				break;
			p->left -= n;
			if (p->left == 0) {
				if (p->state == S_CHUNK_DATA) {
					p->state = S_CHUNK_END;
				} else {
					p->state = S_DONE;
					*used = pos;
					return H1_DONE;
				}
			}
			break;
		}
		case S_DONE:
			*used = pos;
			return H1_DONE;
		default: {
			const char *nl = memchr(buf + pos, '\n', len - pos);
			size_t take = nl != NULL ? (size_t) (nl + 1 - (buf + pos)) : len - pos;
			const char *l = buf + pos;
			size_t n = take;

			if (p->state == S_STATUS || p->state == S_HEADER) {
				if (p->got + take > H1_MAX_HEAD)
					return H1_BAD;
			}
			if (nl == NULL || p->line.len > 0) {
				if (!sg_buf_append(&p->line, l, take))
					return p->line.too_big ? H1_BAD : H1_NOMEM;
				l = p->line.p;
				n = p->line.len;
			}
			pos += take;
			p->got += take;
			if (nl == NULL)
				break;
			p->line.len = 0;
			r = line_done(p, l, n, header, ctx);
			if (r == H1_DONE) {
				*used = pos;
				return H1_DONE;
			}
			if (r != H1_MORE)
				return r;
			break;
		}
		}
	}
	*used = pos;
	return p->state == S_DONE ? H1_DONE : H1_MORE;
}

enum h1_result
h1_eof(struct h1_parser *p)
{
	if (p->state == S_BODY_EOF || p->state == S_DONE) {
		p->state = S_DONE;
		return H1_DONE;
	}
	return H1_BAD;
}

/* --------------------------------------------------------------- the URL */

bool
h1_split_url(const char *base_url, char *host, size_t hostlen, char *port, size_t portlen, char *authority,
	     size_t authlen, const char **path)
{
	const char *a, *end, *h, *he, *pt = NULL;
	bool numeric, ipv6;
	size_t al;

	if (strncasecmp(base_url, "http://", 7) != 0)
		return false;
	a = base_url + 7;
	end = a + strcspn(a, "/?#@");
	if (*end == '?' || *end == '#' || *end == '@' || strpbrk(end, "?#") != NULL)
		return false;
	al = (size_t) (end - a);
	if (al == 0 || al >= authlen)
		return false;
	if (*a == '[') {
		const char *rb = memchr(a, ']', al);

		if (rb == NULL)
			return false;
		h = a + 1;
		he = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return false;
			pt = rb + 2;
		}
	} else {
		const char *colon = memchr(a, ':', al);

		h = a;
		he = colon != NULL ? colon : end;
		if (colon != NULL)
			pt = colon + 1;
	}
	if (!netaddr_normalize_host(h, (size_t) (he - h), host, hostlen, &numeric, &ipv6))
		return false;
	if (pt != NULL && pt < end) {
		uint64_t v;

		if (!parse_decimal(pt, (size_t) (end - pt), &v) || v == 0 || v > 65535 ||
		    (size_t) (end - pt) >= portlen)
			return false;
		memcpy(port, pt, (size_t) (end - pt));
		port[end - pt] = '\0';
	} else {
		if (portlen < 3)
			return false;
		memcpy(port, "80", 3);
	}
	/* The rest goes into the request line as it is: no space or control character (curl refuses them too). */
	for (const char *c = end; *c != '\0'; c++)
		if ((unsigned char) *c <= ' ' || *c == 0x7f)
			return false;
	memcpy(authority, a, al);
	authority[al] = '\0';
	*path = end;
	return true;
}

/* What h1_enabled() read: 0 not yet, 1 on, 2 off.  Two threads may both read the environment: same answer. */
static int enabled_state;

void
h1_enabled_reset(void)
{
	__atomic_store_n(&enabled_state, 0, __ATOMIC_RELEASE);
}

bool
h1_enabled(void)
{
	int s = __atomic_load_n(&enabled_state, __ATOMIC_ACQUIRE);

	if (s == 0) {
		static const char *const proxies[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
		const char *client = getenv("STACKGATE_UPSTREAM_CLIENT");

		s = client != NULL && strcmp(client, "curl") == 0 ? 2 : 1;
		for (size_t i = 0; i < SG_ARRAY_LEN(proxies); i++) {
			const char *v = getenv(proxies[i]);

			if (v != NULL && v[0] != '\0')
				s = 2;
		}
		__atomic_store_n(&enabled_state, s, __ATOMIC_RELEASE);
	}
	return s == 1;
}

/* ----------------------------------------------------------- connections */

struct h1_conn {
	int fd; /* -1: none */
	char key[NETADDR_HOST_MAX + 8];
	int64_t idle_since_us;
};

struct h1_state {
	struct h1_conn conns[H1_CONNS];
	struct sg_buf head; /* the request head being sent */
	struct h1_parser parser;
	char rbuf[H1_READ];
};

struct h1_state *
h1_state_new(void)
{
	struct h1_state *s = sg_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	for (int i = 0; i < H1_CONNS; i++)
		s->conns[i].fd = -1;
	return s;
}

static void
conn_close(struct h1_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
h1_state_free(struct h1_state *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < H1_CONNS; i++)
		conn_close(&s->conns[i]);
	sg_buf_free(&s->head);
	h1_parser_free(&s->parser);
	free(s);
}

bool
h1_state_holds(const struct h1_state *s, const char *text)
{
	return s->head.p != NULL && memmem(s->head.p, s->head.cap, text, strlen(text)) != NULL;
}

/*
 * Whether a kept connection is as its last answer left it: nothing to read
 * and not closed.  Bytes the upstream sent after that answer are no answer
 * to the next request (taken for one, they would shift every answer on the
 * connection to the next caller, of whatever tenant).
 */
static bool
conn_quiet(int fd)
{
	char b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The slot for key: its kept connection, or a free one, or the one idle longest (closed). */
static struct h1_conn *
conn_slot(struct h1_state *s, const char *key)
{
	struct h1_conn *free_slot = NULL, *oldest = &s->conns[0];

	for (int i = 0; i < H1_CONNS; i++) {
		struct h1_conn *c = &s->conns[i];

		if (c->fd >= 0 && strcmp(c->key, key) == 0)
			return c;
		if (c->fd < 0 && free_slot == NULL)
			free_slot = c;
		if (c->idle_since_us < oldest->idle_since_us)
			oldest = c;
	}
	if (free_slot == NULL) {
		conn_close(oldest);
		free_slot = oldest;
	}
	snprintf(free_slot->key, sizeof(free_slot->key), "%s", key);
	return free_slot;
}

static int
ms_until(int64_t deadline_us, int64_t now)
{
	int64_t ms;

	if (deadline_us == INT64_MAX)
		return -1;
	ms = (deadline_us - now + 999) / 1000;
	return ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int) ms;
}

/* A connected socket made blocking, its receives bounded by H1_BLOCK_MS (the first read of an answer). */
static bool
h1_blocking(int fd)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = H1_BLOCK_MS * 1000};
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0 &&
	       setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0;
}

/* A name lookup on a thread of its own, shared by the call and the thread; the last to let go frees it. */
struct h1_lookup {
	atomic_int refs;
	pthread_mutex_t mu;
	pthread_cond_t done_cv;
	bool done;
	int rc;
	struct addrinfo *res;
	atomic_int *running; /* the process's count of lookups, less one when this one ends */
	char names[];        /* host NUL port NUL */
};

static void
lookup_release(struct h1_lookup *l)
{
	if (atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if (l->res != NULL)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->done_cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void *
lookup_main(void *arg)
{
	struct h1_lookup *l = arg;
	const char *port = l->names + strlen(l->names) + 1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
	int rc = getaddrinfo(l->names, port, &hints, &res);

	pthread_mutex_lock(&l->mu);
	l->rc = rc;
	l->res = rc == 0 ? res : NULL;
	l->done = true;
	pthread_cond_signal(&l->done_cv);
	pthread_mutex_unlock(&l->mu);
	atomic_fetch_sub(l->running, 1);
	lookup_release(l);
	return NULL;
}

/*
 * host:port's addresses into *res (freeaddrinfo): CURLE_OK, or a curl code
 * with errbuf saying why (CURLE_OPERATION_TIMEDOUT: no answer by deadline_us).
 */
static int
h1_resolve(const char *host, const char *port, int64_t deadline_us, struct addrinfo **res, char *errbuf, size_t errlen)
{
	/* Lookups of this process not ended yet (a worker's starts with the master's at the fork). */
	static atomic_int running;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST};
	size_t hl = strlen(host) + 1, pl = strlen(port) + 1;
	int64_t t0 = sg_now_us();
	pthread_attr_t ta;
	struct h1_lookup *l;
	pthread_t th;
	int rc = getaddrinfo(host, port, &hints, res);

	if (rc == EAI_NONAME) { /* a name, not an address */
		if (atomic_fetch_add(&running, 1) >= H1_LOOKUPS_MAX) {
			atomic_fetch_sub(&running, 1);
			snprintf(errbuf, errlen, "Could not resolve host: %s (%d name lookups in progress)", host,
				 H1_LOOKUPS_MAX);
			return CURLE_COULDNT_RESOLVE_HOST;
		}
		l = sg_malloc(sizeof(*l) + hl + pl);
		if (l == NULL) {
			atomic_fetch_sub(&running, 1);
			return CURLE_OUT_OF_MEMORY;
		}
		memset(l, 0, sizeof(*l));
		atomic_init(&l->refs, 2);
		l->running = &running;
		memcpy(l->names, host, hl);
		memcpy(l->names + hl, port, pl);
		pthread_mutex_init(&l->mu, NULL);
		sg_cond_init_monotonic(&l->done_cv);
		pthread_attr_init(&ta);
		pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&ta, H1_LOOKUP_STACK);
		rc = pthread_create(&th, &ta, lookup_main, l);
		pthread_attr_destroy(&ta);
		if (rc != 0) {
			atomic_fetch_sub(&running, 1);
			atomic_store(&l->refs, 1);
			lookup_release(l);
			snprintf(errbuf, errlen, "Could not resolve host: %s (no thread for the lookup: %s)", host,
				 strerror(rc));
			return CURLE_COULDNT_RESOLVE_HOST;
		}
		pthread_mutex_lock(&l->mu);
		while (!l->done && sg_now_us() < deadline_us)
			sg_cond_wait_until(&l->done_cv, &l->mu, deadline_us);
		rc = l->done ? l->rc : EAI_INPROGRESS;
		*res = l->res;
		l->res = NULL;
		pthread_mutex_unlock(&l->mu);
		lookup_release(l);
	}
	if (rc == EAI_INPROGRESS) {
		snprintf(errbuf, errlen, "Resolving timed out after %lld milliseconds",
			 (long long) ((sg_now_us() - t0) / 1000));
		return CURLE_OPERATION_TIMEDOUT;
	}
	if (rc != 0) {
		snprintf(errbuf, errlen, "Could not resolve host: %s (%s)", host, gai_strerror(rc));
		return rc == EAI_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_COULDNT_RESOLVE_HOST;
	}
	return CURLE_OK;
}

static int
h1_connect(struct h1_conn *c, const char *host, const char *port, int64_t deadline_us, char *errbuf, size_t errlen)
{
	struct addrinfo *res = NULL, *ai;
	int err = 0, one = 1;
	bool timed_out = false;
	int rc = h1_resolve(host, port, deadline_us, &res, errbuf, errlen);

	if (rc != CURLE_OK)
		return rc;
	for (ai = res; ai != NULL && !timed_out; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		socklen_t sl = sizeof(err);

		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				err = errno;
				close(fd);
				continue;
			}
			for (;;) {
				struct pollfd pfd = {.fd = fd, .events = POLLOUT};
				int64_t now = sg_now_us();
				int n;

				if (now >= deadline_us) {
					timed_out = true;
					break;
				}
				n = poll(&pfd, 1, ms_until(deadline_us, now));
				if (n > 0 || (n < 0 && errno != EINTR))
					break;
			}
			if (timed_out || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 || err != 0) {
				if (!timed_out && err == 0)
					err = errno;
				close(fd);
				continue;
			}
		}
		if (!h1_blocking(fd)) {
			err = errno;
			close(fd);
			continue;
		}
		(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		(void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		c->fd = fd;
		freeaddrinfo(res);
		return CURLE_OK;
	}
	freeaddrinfo(res);
	if (timed_out) {
		snprintf(errbuf, errlen, "Failed to connect to %s port %s: timed out", host, port);
		return CURLE_OPERATION_TIMEDOUT;
	}
	snprintf(errbuf, errlen, "Failed to connect to %s port %s: %s", host, port, strerror(err));
	return CURLE_COULDNT_CONNECT;
}

/* The request head: request line, Host, the caller's lines, Content-Length when there is a body. */
static int
build_head(struct sg_buf *b, const char *method, const char *authority, const char *base_path, const char *path,
	   const struct curl_slist *headers, const char *body, size_t body_len)
{
	char num[24];
	size_t need = strlen(method) + strlen(base_path) + strlen(path) + strlen(authority) + 64;
	bool ok;

	/* All of it reserved first: a buffer that grew mid-way would leave a copy of the key where it was. */
	for (const struct curl_slist *h = headers; h != NULL; h = h->next)
		need += strlen(h->data) + 2;
	b->len = 0;
	if (!sg_buf_reserve(b, need))
		return CURLE_OUT_OF_MEMORY;
	ok = sg_buf_append(b, method, strlen(method)) && sg_buf_append(b, " ", 1);
	if (ok && base_path[0] == '\0' && path[0] != '/')
		ok = sg_buf_append(b, "/", 1);
	ok = ok && sg_buf_append(b, base_path, strlen(base_path)) && sg_buf_append(b, path, strlen(path)) &&
	     sg_buf_append(b, " HTTP/1.1\r\nHost: ", 17) && sg_buf_append(b, authority, strlen(authority)) &&
	     sg_buf_append(b, "\r\n", 2);
	for (const struct curl_slist *h = headers; ok && h != NULL; h = h->next) {
		const char *l = h->data, *colon = strchr(l, ':');
		size_t n = strlen(l);

		if (strpbrk(l, "\r\n") != NULL)
			return CURLE_BAD_FUNCTION_ARGUMENT;
		if (colon != NULL && colon[1] == '\0')
			continue; /* "Name:": the header is not sent */
		ok = sg_buf_append(b, l, n) && sg_buf_append(b, "\r\n", 2);
	}
	if (ok && body != NULL) {
		ok = sg_buf_append(b, "Content-Length: ", 16) &&
		     sg_buf_append(b, num, sg_fmt_i64(num, (int64_t) body_len)) && sg_buf_append(b, "\r\n", 2);
	}
	ok = ok && sg_buf_append(b, "\r\n", 2);
	return ok ? CURLE_OK : CURLE_OUT_OF_MEMORY;
}

static size_t
on_header(void *ctx, const char *buf, size_t n)
{
	return proxy_xfer_header(ctx, buf, n);
}

static size_t
on_body(void *ctx, const char *buf, size_t n)
{
	return proxy_xfer_data(ctx, buf, n);
}

static int64_t
min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Waits until fd has events (or a timer has something to say); CURLE_OK to go on. */
static int
wait_fd(struct xfer *x, int fd, short events, int64_t total_deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t now = sg_now_us();
		int n;

		if (now >= total_deadline)
			return CURLE_OPERATION_TIMEDOUT;
		n = poll(&pfd, 1, ms_until(min64(proxy_xfer_next_tick(x), total_deadline), now));
		if (n > 0)
			return CURLE_OK;
		if (n < 0 && errno != EINTR)
			return CURLE_RECV_ERROR;
		if (n == 0 && proxy_xfer_tick(x) != 0)
			return CURLE_ABORTED_BY_CALLBACK;
	}
}

/* Sends the head and the body; CURLE_SEND_ERROR when the connection is gone. */
static int
send_all(struct xfer *x, int fd, const struct sg_buf *head, const char *body, size_t body_len, int64_t total_deadline,
	 size_t *sent)
{
	size_t total = head->len + (body != NULL ? body_len : 0);

	*sent = 0;
	while (*sent < total) {
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov};
		ssize_t n;
		int rc;

		if (*sent < head->len) {
			iov[0] = (struct iovec){head->p + *sent, head->len - *sent};
			iov[1] = (struct iovec){(void *) body, body != NULL ? body_len : 0};
			mh.msg_iovlen = body != NULL && body_len > 0 ? 2 : 1;
		} else {
			iov[0] = (struct iovec){(void *) (body + (*sent - head->len)), total - *sent};
			mh.msg_iovlen = 1;
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			*sent += (size_t) n;
			x->last_ul = (int64_t) *sent;
			x->last_io_us = sg_now_us();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_fd(x, fd, POLLOUT, total_deadline)) != CURLE_OK)
				return rc;
			continue;
		}
		return CURLE_SEND_ERROR;
	}
	return CURLE_OK;
}

/*
 * The answer to the request just sent.  *retry is set when the connection
 * ended before any byte of it (a kept connection the server had closed).
 */
static int
read_answer(struct h1_state *s, struct xfer *x, int fd, bool head_req, int64_t total_deadline, bool *keep,
	    bool *nothing)
{
	struct h1_parser *p = &s->parser;
	int64_t now = sg_now_us();
	bool full = false,
	     /* The first read blocks, unless a timer is due before its bound. */
		block = min64(proxy_xfer_next_tick(x), total_deadline) - now > H1_BLOCK_MS * 1000;

	h1_parser_init(p, head_req);
	*keep = false;
	*nothing = false;
	for (;;) {
		enum h1_result r;
		size_t used;
		ssize_t n;
		int rc;

		if (block) {
			/* Most answers come within H1_BLOCK_MS: one call; past it (EAGAIN), poll as below. */
			block = false;
			n = recv(fd, s->rbuf, sizeof(s->rbuf), 0);
		} else {
			/* A full buffer last time: more is likely waiting, so read before polling. */
			if (!full && (rc = wait_fd(x, fd, POLLIN, total_deadline)) != CURLE_OK)
				return rc;
			n = recv(fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);
		}
		full = n == (ssize_t) sizeof(s->rbuf);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (n <= 0) {
			if (p->got == 0) {
				*nothing = true;
				return CURLE_GOT_NOTHING;
			}
			if (n == 0 && h1_eof(p) == H1_DONE)
				return CURLE_OK;
			return n == 0 ? CURLE_PARTIAL_FILE : CURLE_RECV_ERROR;
		}
		x->last_io_us = sg_now_us();
		r = h1_feed(p, s->rbuf, (size_t) n, &used, on_header, on_body, x);
		switch (r) {
		case H1_MORE:
			if (sg_now_us() >= total_deadline)
				return CURLE_OPERATION_TIMEDOUT;
			continue;
		case H1_DONE:
			/* Bytes past the answer: the server is not speaking HTTP/1.1 as we are; do not reuse. */
			*keep = !p->close && used == (size_t) n;
			return CURLE_OK;
		case H1_STOP:
			return CURLE_WRITE_ERROR;
		case H1_NOMEM:
			return CURLE_OUT_OF_MEMORY;
		case H1_BAD:
		default:
			return CURLE_WEIRD_SERVER_REPLY;
		}
	}
}

static int
h1_call(struct h1_state *s, struct xfer *x, const char *method, const char *base_url, const char *path,
	const struct curl_slist *headers, const char *body, size_t body_len, long connect_timeout_ms, long timeout_ms,
	char *errbuf, size_t errlen)
{
	char host[NETADDR_HOST_MAX], port[8], authority[NETADDR_HOST_MAX + 16], key[NETADDR_HOST_MAX + 8];
	const char *base_path;
	int64_t t0 = sg_now_us(), total_deadline = timeout_ms > 0 ? t0 + (int64_t) timeout_ms * 1000 : INT64_MAX;
	struct h1_conn *c;
	int rc;

	if (!h1_split_url(base_url, host, sizeof(host), port, sizeof(port), authority, sizeof(authority), &base_path))
		return -1;
	rc = build_head(&s->head, method, authority, base_path, path, headers, body, body_len);
	if (rc != CURLE_OK)
		return rc;
	snprintf(key, sizeof(key), "%s:%s", host, port);
	c = conn_slot(s, key);
	if (c->fd >= 0 && (t0 - c->idle_since_us > H1_IDLE_MAX_US || !conn_quiet(c->fd)))
		conn_close(c);
	for (int attempt = 0;; attempt++) {
		bool reused = c->fd >= 0, keep = false, nothing = false;
		int64_t sent_at = 0;
		size_t sent = 0;

		if (!reused) {
			int64_t deadline = min64(
				sg_now_us() + (int64_t) (connect_timeout_ms > 0 ? connect_timeout_ms : 5000) * 1000,
				total_deadline);

			if ((rc = h1_connect(c, host, port, deadline, errbuf, errlen)) != CURLE_OK)
				return rc;
		}
		proxy_xfer_connected(x);
		rc = send_all(x, c->fd, &s->head, body, body_len, total_deadline, &sent);
		if (rc == CURLE_OK) {
			sent_at = sg_now_us();
			rc = read_answer(s, x, c->fd, strcmp(method, "HEAD") == 0, total_deadline, &keep, &nothing);
		} else {
			nothing = rc == CURLE_SEND_ERROR;
		}
		if (rc == CURLE_OK && keep) {
			c->idle_since_us = sg_now_us();
			return CURLE_OK;
		}
		conn_close(c);
		if (rc == CURLE_OK)
			return CURLE_OK;
		/*
		 * A kept connection the upstream closed as the request came (the
		 * send failed, or the end came at once) gets the request once more,
		 * on a new connection, as curl does.  One it held the request on
		 * first may have carried it out: that is the answer.
		 */
		if (reused && nothing && attempt == 0 && (sent_at == 0 || sg_now_us() - sent_at < H1_RETRY_WINDOW_US)) {
			x->answered = false;
			continue;
		}
		if (errbuf[0] == '\0') {
			snprintf(errbuf, errlen, "%s",
				 rc == CURLE_GOT_NOTHING    ? "Empty reply from server"
				 : rc == CURLE_PARTIAL_FILE ? "transfer closed with outstanding read data remaining"
				 : rc == CURLE_WEIRD_SERVER_REPLY ? "invalid HTTP reply"
				 : rc == CURLE_SEND_ERROR         ? "send failed"
				 : rc == CURLE_RECV_ERROR         ? "recv failed"
								  : "");
		}
		return rc;
	}
}

int
h1_perform(struct h1_state *s, struct xfer *x, const char *method, const char *base_url, const char *path,
	   const struct curl_slist *headers, const char *body, size_t body_len, long connect_timeout_ms,
	   long timeout_ms, char *errbuf, size_t errlen)
{
	int rc = h1_call(s, x, method, base_url, path, headers, body, body_len, connect_timeout_ms, timeout_ms, errbuf,
			 errlen);

	/* No copy of the provider's key is left in memory (proxy.c wipes its own): all of the buffer. */
	if (s->head.p != NULL)
		explicit_bzero(s->head.p, s->head.cap);
	return rc;
}
