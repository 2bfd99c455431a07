/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.c: the calls to upstream providers.  Each thread keeps one curl easy
 * handle, never recreated, so its connection cache keeps upstream connections
 * alive.  The options every call shares are set on it once; each call sets
 * all of its own (to nothing when unused), so none outlives it, and clears
 * the pointers into its memory after, so an idle handle points into no
 * finished request; a provider's CA file is taken off by a reset (handle_ca).
 * Three callbacks watch a transfer: the header
 * callback learns the status and Content-Type and decides, before the first
 * body byte, whether the body is relayed (2xx text/event-stream) or buffered;
 * the write callback relays or buffers; the progress callback enforces the
 * read timeout as "no byte for read_timeout_ms", which a total timeout cannot
 * express for streams that last minutes.  A callback that returns false stops
 * the transfer at once; curl then closes the connection, so the upstream sees
 * its client go.
 *
 * The SSE splitter at the end is pure: it normalises line ends as it copies
 * and hands out whole events, whatever the chunk boundaries were.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log.h"
#include "proxy_int.h"

#define MAX_BODY (64u * 1024 * 1024)
#define DEFAULT_MAX_EVENT (16u * 1024 * 1024)

/* ------------------------------------------------------------ error mapping */

sg_status
proxy_map_curl(int code, bool connected, bool read_timed_out, const char *provider_id, struct sg_err *err)
{
	const char *id = provider_id ? provider_id : "?";

	if (read_timed_out) {
		return sg_fail(err, SG_E_GATEWAY_TIMEOUT, NULL,
			       "upstream %s timed out: no data received within the read timeout", id);
	}
	switch ((CURLcode) code) {
	case CURLE_OK:
		return SG_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "upstream %s is unreachable", id);
	case CURLE_OPERATION_TIMEDOUT:
		if (!connected) {
			return sg_fail(err, SG_E_BAD_GATEWAY, NULL,
				       "upstream %s is unreachable: the connection timed out", id);
		}
		return sg_fail(err, SG_E_GATEWAY_TIMEOUT, NULL, "upstream %s timed out", id);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "upstream %s is unreachable: the TLS handshake failed", id);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL,
			       "upstream %s closed the connection before its reply was complete", id);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "upstream %s sent an invalid HTTP reply", id);
	case CURLE_URL_MALFORMAT:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the URL of upstream %s is invalid", id);
	case CURLE_OUT_OF_MEMORY:
		return sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
	default:
		return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the request to upstream %s failed: %s", id,
			       curl_easy_strerror((CURLcode) code));
	}
}

/* ---------------------------------------------------------------- transfers */

struct handle {
	CURL *c;
	struct h1_state *h1; /* the own client's kept connections (proxy_h1.c); NULL until first used */
	bool ready;          /* the options every call shares are set (handle_ready) */
	char *ca_file;       /* the CURLOPT_CAINFO set on c; NULL: none, curl's default bundle */
	struct xfer x;       /* the call in progress; zeroed between calls */
	char cerr[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------- the thread's handle */

/*
 * The thread's easy handle and what perform() keeps set on it between calls:
 * the options every call shares are set once (ready), the transfer's state
 * and the error buffer live here so the callbacks' pointers stay valid, and
 * ca_file says which CA bundle the handle holds (a copy; NULL: curl's own).
 */
static _Thread_local struct handle *tl_handle;
static pthread_key_t curl_key;
static pthread_once_t curl_key_once = PTHREAD_ONCE_INIT;

static void
handle_free(struct handle *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->c);
	h1_state_free(h->h1);
	free(h->ca_file);
	free(h);
}

/* A safety net for threads that end without proxy_thread_cleanup(). */
static void
curl_key_destroy(void *h)
{
	handle_free(h);
}

static void
curl_key_create(void)
{
	if (pthread_key_create(&curl_key, curl_key_destroy) != 0)
		log_warn("pthread_key_create failed: curl handles are freed only by proxy_thread_cleanup");
}

static struct handle *
thread_handle(void)
{
	struct handle *h = tl_handle;

	if (h != NULL)
		return h;
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->c = curl_easy_init()) == NULL) {
		free(h);
		return NULL;
	}
	tl_handle = h;
	(void) pthread_once(&curl_key_once, curl_key_create);
	(void) pthread_setspecific(curl_key, h);
	return h;
}

void
proxy_thread_cleanup(void)
{
	if (tl_handle == NULL)
		return;
	(void) pthread_once(&curl_key_once, curl_key_create);
	(void) pthread_setspecific(curl_key, NULL);
	handle_free(tl_handle);
	tl_handle = NULL;
}

struct h1_state *
proxy_thread_h1(void)
{
	return tl_handle != NULL ? tl_handle->h1 : NULL;
}

void
proxy_xfer_connected(struct xfer *x)
{
	x->connected = true;
	x->last_io_us = x->connected_us = sg_now_us();
}

static int
on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port, int conn_local_port)
{
	(void) conn_primary_ip;
	(void) conn_local_ip;
	(void) conn_primary_port;
	(void) conn_local_port;
	proxy_xfer_connected(ud);
	return CURL_PREREQFUNC_OK;
}

int64_t
proxy_xfer_next_tick(const struct xfer *x)
{
	int64_t next = INT64_MAX;

	if (!x->connected)
		return next;
	if (x->read_timeout_ms > 0)
		next = x->last_io_us + (int64_t) x->read_timeout_ms * 1000 + 1;
	if (!x->answered && x->q->provider->first_byte_timeout_ms > 0) {
		int64_t t = x->connected_us + (int64_t) x->q->provider->first_byte_timeout_ms * 1000 + 1;

		next = t < next ? t : next;
	}
	if (x->q->client_alive != NULL) {
		int64_t quiet = x->last_io_us + PROXY_ALIVE_QUIET_US + 1,
			every = x->last_alive_us + PROXY_ALIVE_EVERY_US + 1;
		int64_t t = quiet > every ? quiet : every;

		next = t < next ? t : next;
	}
	return next;
}

int
proxy_xfer_tick(struct xfer *x)
{
	int64_t now = sg_now_us();

	/* Before the connection exists, the connect timeout is the one that applies. */
	if (x->connected && x->read_timeout_ms > 0 && now - x->last_io_us > (int64_t) x->read_timeout_ms * 1000) {
		x->timed_out = true;
		return 1;
	}
	/* The wait for the answer to begin has its own, shorter bound (a retry may then go elsewhere). */
	if (x->connected && !x->answered && x->q->provider->first_byte_timeout_ms > 0 &&
	    now - x->connected_us > (int64_t) x->q->provider->first_byte_timeout_ms * 1000) {
		x->timed_out = x->first_byte_late = true;
		return 1;
	}
	/*
	 * A client that left frees this thread now, not when the upstream answers.  Asked only once the
	 * upstream has been silent for PROXY_ALIVE_QUIET_US (a quick answer needs no poll, and a stream's
	 * writes notice a gone client themselves), then every PROXY_ALIVE_EVERY_US.
	 */
	if (x->q->client_alive != NULL && now - x->last_io_us > PROXY_ALIVE_QUIET_US &&
	    now - x->last_alive_us > PROXY_ALIVE_EVERY_US) {
		x->last_alive_us = now;
		if (!x->q->client_alive(x->q->alive_ctx)) {
			x->resp->aborted = true;
			return 1;
		}
	}
	return 0;
}

static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	if (ulnow != x->last_ul) {
		x->last_ul = ulnow;
		x->last_io_us = sg_now_us();
	}
	return proxy_xfer_tick(x);
}

static bool
starts_with_ci(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	return n >= pl && strncasecmp(s, prefix, pl) == 0;
}

size_t
proxy_xfer_header(struct xfer *x, const char *buf, size_t n)
{
	struct proxy_response *resp = x->resp;

	x->last_io_us = sg_now_us();
	if (x->q->on_header != NULL)
		x->q->on_header(x->q->header_ctx, buf, n);
	if (starts_with_ci(buf, n, "HTTP/")) {
		/* A new header block (after a 1xx, or the first one): "HTTP/1.1 200 OK". */
		const char *sp = memchr(buf, ' ', n);

		resp->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		resp->content_type[0] = '\0';
		/* The answer begins with a final status; an interim 1xx leaves the first-byte timer running. */
		if (resp->status >= 200)
			x->answered = true;
	} else if (starts_with_ci(buf, n, "Content-Type:")) {
		const char *v = buf + 13, *end = buf + n;
		size_t len;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
			end--;
		len = (size_t) (end - v);
		if (len >= sizeof(resp->content_type))
			len = sizeof(resp->content_type) - 1;
		memcpy(resp->content_type, v, len);
		resp->content_type[len] = '\0';
	} else if ((n == 2 && buf[0] == '\r' && buf[1] == '\n') || (n == 1 && buf[0] == '\n')) {
		/* End of a header block: an interim 1xx answer is followed by another block. */
		if (resp->status >= 200 && x->sink != NULL && resp->status <= 299 &&
		    strncasecmp(resp->content_type, "text/event-stream", 17) == 0) {
			resp->streamed = true;
			if (!x->sink->begin(x->sink->ctx, resp->status, resp->content_type)) {
				resp->aborted = true;
				return 0;
			}
		}
	}
	return n;
}

size_t
proxy_xfer_data(struct xfer *x, const char *buf, size_t n)
{
	x->last_io_us = sg_now_us();
	if (x->resp->streamed) {
		if (!x->sink->data(x->sink->ctx, buf, n)) {
			x->resp->aborted = true;
			return 0;
		}
		return n;
	}
	if (!sg_buf_append(&x->resp->body, buf, n)) {
		x->too_big = x->resp->body.too_big; /* past max_body; else out of memory */
		return 0;                           /* curl reports CURLE_WRITE_ERROR; mapped to a 502 */
	}
	return n;
}

static size_t
on_header(char *buf, size_t size, size_t nitems, void *ud)
{
	return proxy_xfer_header(ud, buf, size * nitems);
}

static size_t
on_data(char *buf, size_t size, size_t nmemb, void *ud)
{
	return proxy_xfer_data(ud, buf, size * nmemb);
}

/*
 * The options every call makes the same: set once per handle (again only
 * after a reset).  The callbacks' data is the handle's own xfer.
 */
static bool
handle_ready(struct handle *h)
{
	CURL *c = h->c;

	if (h->ready)
		return true;
	if (curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		return false;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->cerr);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(c, CURLOPT_PREREQDATA, &h->x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &h->x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h->x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->x);
	h->ready = true;
	return true;
}

/*
 * The CA bundle of a provider on h: its ca_file, or curl's default.  Only a
 * reset brings the default back (CAINFO NULL would mean no bundle at all),
 * so a handle that holds another provider's ca_file is reset, which is rare:
 * that CA must not verify the next provider's server.
 */
static bool
handle_ca(struct handle *h, const char *ca_file)
{
	char *copy;

	if (ca_file == NULL ? h->ca_file == NULL : h->ca_file != NULL && strcmp(h->ca_file, ca_file) == 0)
		return true;
	if (ca_file == NULL) {
		curl_easy_reset(h->c);
		h->ready = false;
		free(h->ca_file);
		h->ca_file = NULL;
		return true;
	}
	if ((copy = sg_strdup(ca_file)) == NULL || curl_easy_setopt(h->c, CURLOPT_CAINFO, ca_file) != CURLE_OK) {
		free(copy);
		return false;
	}
	free(h->ca_file);
	h->ca_file = copy;
	return true;
}

/* a then b in buf (cap bytes) when they fit, else in new memory (NULL when there is none). */
static char *
join(char *buf, size_t cap, const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *out = na + nb < cap ? buf : malloc(na + nb + 1);

	if (out != NULL) {
		memcpy(out, a, na);
		memcpy(out + na, b, nb + 1);
	}
	return out;
}

static void
unjoin(char *s, const char *buf, bool secret)
{
	if (s == NULL)
		return;
	if (secret)
		explicit_bzero(s, strlen(s));
	if (s != buf)
		free(s);
}

/* Appends line to the header list held in nodes[0..*n) (curl reads the list and copies nothing). */
static void
push_header(struct curl_slist *nodes, size_t *n, const char *line)
{
	nodes[*n] = (struct curl_slist){.data = (char *) line, .next = NULL};
	if (*n > 0)
		nodes[*n - 1].next = &nodes[*n];
	(*n)++;
}

/* Accept, Content-Type, Expect, Authorization, X-Request-Id. */
#define OWN_HEADERS 5
#define LOCAL_HEADERS 16

static sg_status
perform(const struct proxy_request *q, const struct proxy_sink *sink, struct proxy_response *resp, struct sg_err *err)
{
	const struct sg_provider *p = q->provider;
	struct curl_slist local[LOCAL_HEADERS], *nodes = local, pin = {0};
	char urlbuf[512], acceptbuf[128], authbuf[256], ridbuf[128];
	char *url = NULL, *auth = NULL, *rid = NULL, *accept = NULL;
	const char *cerr = "";
	size_t nh = 0, nextra = 0;
	int64_t t0 = sg_now_us();
	sg_status st = SG_OK;
	struct handle *h;
	struct xfer *x = NULL;
	CURLcode rc;
	CURL *c = NULL;

	memset(resp, 0, sizeof(*resp));
	sg_err_reset(err);
	h = thread_handle();
	if (h == NULL) {
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	c = h->c;
	x = &h->x;
	*x = (struct xfer){.q = q,
			   .sink = sink,
			   .resp = resp,
			   .read_timeout_ms = p->read_timeout_ms,
			   .max_body = q->max_body > 0 ? q->max_body : MAX_BODY};
	x->last_io_us = x->last_alive_us = t0; /* connecting counts as silence from the start */
	resp->body.max = x->max_body;
	h->cerr[0] = '\0';
	cerr = h->cerr;
	for (const char *const *e = q->headers; e != NULL && *e != NULL; e++)
		nextra++;
	if (nextra + OWN_HEADERS > LOCAL_HEADERS)
		nodes = malloc((nextra + OWN_HEADERS) * sizeof(*nodes));
	url = q->url != NULL ? (char *) q->url : join(urlbuf, sizeof(urlbuf), p->base_url ? p->base_url : "", q->path);
	accept = q->accept != NULL ? join(acceptbuf, sizeof(acceptbuf), "Accept: ", q->accept)
		 : sink            ? (char *) "Accept: text/event-stream"
				   : (char *) "Accept: application/json";
	if (nodes == NULL || url == NULL || accept == NULL || !handle_ca(h, p->ca_file) || !handle_ready(h)) {
		st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (const char *const *e = q->headers; e != NULL && *e != NULL; e++)
		push_header(nodes, &nh, *e);
	push_header(nodes, &nh, accept);
	if (q->body != NULL)
		push_header(nodes, &nh, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for large bodies. */
	push_header(nodes, &nh, "Expect:");
	if (p->api_key != NULL && strpbrk(p->api_key, "\r\n") != NULL) {
		/* It would end the header and start others. */
		st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the API key of upstream %s is not usable in a header",
			     p->provider_id);
		goto out;
	}
	if (p->api_key != NULL && p->api_key[0] != '\0') {
		if ((auth = join(authbuf, sizeof(authbuf), "Authorization: Bearer ", p->api_key)) == NULL) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
		push_header(nodes, &nh, auth);
	}
	if (q->request_id != NULL && q->request_id[0] != '\0') {
		if ((rid = join(ridbuf, sizeof(ridbuf), "X-Request-Id: ", q->request_id)) == NULL) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
		push_header(nodes, &nh, rid);
	}
	if (q->connect_to != NULL)
		pin.data = (char *) q->connect_to;

	/* Plain http:// to a provider's base URL: the own client (proxy_h1.c), when it takes the URL. */
	if (q->url == NULL && q->connect_to == NULL && p->base_url != NULL && h1_enabled() &&
	    (h->h1 != NULL || (h->h1 = h1_state_new()) != NULL)) {
		int hr = h1_perform(h->h1, x,
				    q->method != NULL ? q->method
				    : q->body != NULL ? "POST"
						      : "GET",
				    p->base_url, q->path, nh > 0 ? nodes : NULL, q->body, q->body_len,
				    p->connect_timeout_ms, q->timeout_ms, h->cerr, sizeof(h->cerr));

		if (hr >= 0) {
			rc = (CURLcode) hr;
			goto done;
		}
	}

	/* The call's own options: every one set each time (to nothing when unused), so none outlives it. */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, nodes);
	if (q->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) q->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
			 q->method != NULL && strcmp(q->method, q->body != NULL ? "POST" : "GET") != 0 ? q->method
												       : NULL);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms > 0 ? p->connect_timeout_ms : 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms > 0 ? q->timeout_ms : 0L);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, q->connect_to != NULL ? &pin : NULL);
	curl_easy_setopt(c, CURLOPT_NOPROXY, q->connect_to != NULL ? "*" : NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, p->tls_verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, p->tls_verify ? 2L : 0L);

	rc = curl_easy_perform(c);
	/* The idle handle keeps no pointer into this call (its header lists, its body). */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_CONNECT_TO, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
done:
	if (rc != CURLE_OK && resp->aborted) {
		st = SG_OK; /* the sink stopped it: not an upstream failure */
	} else if (rc != CURLE_OK && x->too_big) {
		if (x->max_body == MAX_BODY)
			st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the reply of upstream %s exceeds %u MiB",
				     p->provider_id, MAX_BODY >> 20);
		else
			st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the reply of upstream %s exceeds %zu bytes",
				     p->provider_id, x->max_body);
	} else if (rc != CURLE_OK) {
		st = proxy_map_curl(rc, x->connected, x->timed_out, p->provider_id, err);
		if (rc == CURLE_WRITE_ERROR && !x->timed_out)
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
		if (x->first_byte_late)
			st = sg_fail(err, SG_E_GATEWAY_TIMEOUT, NULL,
				     "upstream %s timed out: no answer within the first-byte timeout", p->provider_id);
	}
out:
	resp->duration_ms = (sg_now_us() - t0) / 1000;
	if (st == SG_OK)
		log_info("upstream %s %s %s -> %ld in %lld ms%s", p->provider_id, q->method ? q->method : "GET",
			 q->path, resp->status, resp->duration_ms, resp->aborted ? " (stopped: client gone)" : "");
	else
		log_warn("upstream %s %s %s failed after %lld ms (status %ld): %s%s%s", p->provider_id,
			 q->method ? q->method : "GET", q->path, resp->duration_ms, resp->status, err->msg,
			 cerr[0] ? "; curl: " : "", cerr);
	if (x != NULL)
		*x = (struct xfer){0};
	if (nodes != local)
		free(nodes);
	/* Leave no copy of the provider's key in memory. */
	unjoin(auth, authbuf, true);
	unjoin(rid, ridbuf, false);
	if (accept != NULL && q->accept != NULL)
		unjoin(accept, acceptbuf, false);
	if (url != NULL && q->url == NULL)
		unjoin(url, urlbuf, false);
	return st;
}

sg_status
proxy_call(const struct proxy_request *q, struct proxy_response *resp, struct sg_err *err)
{
	return perform(q, NULL, resp, err);
}

sg_status
proxy_stream(const struct proxy_request *q, const struct proxy_sink *sink, struct proxy_response *resp,
	     struct sg_err *err)
{
	return perform(q, sink, resp, err);
}

void
proxy_response_free(struct proxy_response *resp)
{
	sg_buf_free(&resp->body);
}

sg_status
proxy_list_models(const struct sg_provider *p, bool (*client_alive)(void *ctx), void *alive_ctx, struct sg_strv *ids,
		  struct sg_err *err)
{
	struct proxy_request q = {
		.provider = p, .method = "GET", .path = "/models", .client_alive = client_alive, .alive_ctx = alive_ctx};
	struct proxy_response resp;
	json_t *root = NULL, *data, *m;
	size_t i;
	sg_status st;

	st = proxy_call(&q, &resp, err);
	if (st != SG_OK)
		goto out;
	if (resp.aborted) {
		st = sg_fail(err, SG_E_BAD_GATEWAY, NULL,
			     "the client went away while upstream %s was asked for its models", p->provider_id);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "upstream %s answered GET /models with HTTP %ld",
			     p->provider_id, resp.status);
		goto out;
	}
	root = json_loadb(resp.body.p ? resp.body.p : "", resp.body.len, 0, NULL);
	data = json_object_get(root, "data");
	if (!json_is_array(data)) {
		st = sg_fail(err, SG_E_BAD_GATEWAY, NULL,
			     "upstream %s answered GET /models with something that is not a model list",
			     p->provider_id);
		goto out;
	}
	json_array_foreach(data, i, m) {
		const char *id = json_string_value(json_object_get(m, "id"));

		if (id != NULL && !sg_strv_push(ids, id)) {
			st = sg_fail(err, SG_E_NOMEM, NULL, "out of memory");
			goto out;
		}
	}
out:
	json_decref(root);
	proxy_response_free(&resp);
	return st;
}

/* ------------------------------------------------------------- SSE splitter */

enum proxy_sse_result
proxy_sse_feed(struct proxy_sse *s, const char *buf, size_t len, proxy_sse_fn fn, void *ctx)
{
	struct sg_buf *b = &s->buf;
	const char *p = buf, *end = buf + len;
	enum proxy_sse_result res = PROXY_SSE_OK;
	size_t start = 0, pos = s->scan, max = s->max_event ? s->max_event : DEFAULT_MAX_EVENT;

	/* Copy, turning "\r\n" and a lone "\r" into "\n" (a pair may straddle two chunks). */
	while (p < end) {
		const char *cr;
		size_t n;

		if (s->last_cr) {
			s->last_cr = false;
			if (*p == '\n') {
				p++;
				continue;
			}
		}
		cr = memchr(p, '\r', (size_t) (end - p));
		n = cr ? (size_t) (cr - p) : (size_t) (end - p);
		if (!sg_buf_append(b, p, n))
			return PROXY_SSE_NOMEM;
		p += n;
		if (cr != NULL) {
			if (!sg_buf_append(b, "\n", 1))
				return PROXY_SSE_NOMEM;
			s->last_cr = true;
			p++;
		}
	}

	/* Hand out every event that a blank line has closed. */
	for (;;) {
		const char *hit;
		size_t evend;

		while (start < b->len && b->p[start] == '\n')
			start++;
		if (pos < start)
			pos = start;
		if (pos >= b->len)
			break;
		hit = memmem(b->p + pos, b->len - pos, "\n\n", 2);
		if (hit == NULL)
			break;
		evend = (size_t) (hit - b->p);
		if (!fn(ctx, b->p + start, evend - start)) {
			res = PROXY_SSE_STOP;
			start = evend + 2;
			break;
		}
		start = evend + 2;
		pos = start;
	}
	if (start > 0 && b->p != NULL) {
		memmove(b->p, b->p + start, b->len - start);
		b->len -= start;
		b->p[b->len] = '\0';
	}
	/* The last byte may be the first half of the next "\n\n". */
	s->scan = b->len > 0 ? b->len - 1 : 0;
	if (res == PROXY_SSE_OK && b->len > max)
		res = PROXY_SSE_TOO_BIG;
	return res;
}

enum proxy_sse_result
proxy_sse_finish(struct proxy_sse *s, proxy_sse_fn fn, void *ctx, bool *truncated)
{
	struct sg_buf *b = &s->buf;
	size_t start = 0;
	bool ok = true;

	*truncated = false;
	while (start < b->len && b->p[start] == '\n')
		start++;
	if (start < b->len) {
		if (b->p[b->len - 1] == '\n')
			ok = fn(ctx, b->p + start, b->len - 1 - start);
		else
			*truncated = true;
	}
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
	s->scan = 0;
	s->last_cr = false;
	return ok ? PROXY_SSE_OK : PROXY_SSE_STOP;
}

void
proxy_sse_free(struct proxy_sse *s)
{
	sg_buf_free(&s->buf);
	s->scan = 0;
	s->last_cr = false;
}

int
proxy_sse_data(const char *ev, size_t len, struct sg_buf *out)
{
	const char *end = ev + len, *p;
	int n = 0;

	out->len = 0;
	if (out->p != NULL)
		out->p[0] = '\0';
	for (p = ev; p < end;) {
		const char *nl = memchr(p, '\n', (size_t) (end - p)), *le = nl ? nl : end;

		if (le - p >= 5 && memcmp(p, "data:", 5) == 0) {
			const char *v = p + 5;

			if (v < le && *v == ' ')
				v++;
			if ((n > 0 && !sg_buf_append(out, "\n", 1)) || !sg_buf_append(out, v, (size_t) (le - v)))
				return -1;
			n++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}
