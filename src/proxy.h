/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy.h: every socket to an upstream provider.  libcurl with one easy
 * handle per thread, created on first use and kept set up between calls
 * (nothing of one call reaches the next: proxy.c), so connections to a
 * provider are kept alive across requests served by that thread.  curl_global_init() is main's, before fork.
 *
 * Timeouts: connect_timeout_ms for the connection; read_timeout_ms is the
 * longest silence allowed between two upstream bytes (not a total: streams
 * last minutes); first_byte_timeout_ms (when not 0) the longest wait from
 * the connection to the answer's first byte (→ SG_E_GATEWAY_TIMEOUT "no
 * answer within the first-byte timeout", with no status: router.h retries
 * it); a caller may add a total (q->timeout_ms, MCP does).  A
 * client that leaves stops the call (q->client_alive).  Redirects are never
 * followed.  Curl codes are mapped to statuses here and nowhere else:
 * could not resolve or connect → SG_E_BAD_GATEWAY "upstream <id> is
 * unreachable", read timeout → SG_E_GATEWAY_TIMEOUT, anything else →
 * SG_E_BAD_GATEWAY.
 *
 * Logs provider id, method, URL path, status and duration; never the api_key
 * and never a body.
 *
 * Also the SSE frame splitter used to relay streams event by event: pure,
 * incremental, fed arbitrary chunks.
 *
 * Shared state: one thread-local curl handle per thread; nothing else.
 */
#ifndef SG_PROXY_H
#define SG_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "sg.h"

struct proxy_request {
	const struct sg_provider *provider;
	const char *method; /* "GET" or "POST" */
	const char *path;   /* appended to provider->base_url, e.g. "/chat/completions" */
	const char *body;   /* POST body (JSON), NULL for none */
	size_t body_len;
	const char *request_id; /* sent as X-Request-Id; may be NULL */
	/*
	 * Asked a few times a second while waiting on the upstream; returning
	 * false (the client went away) aborts the transfer like a sink does.
	 * NULL: never asked.
	 */
	bool (*client_alive)(void *ctx);
	void *alive_ctx;

	/*
	 * For calls to a URL that is not under an inference provider's base URL
	 * (MCP servers, mcp.h); all optional.  provider still names the call in
	 * logs and messages and gives the connect and read timeouts and the TLS
	 * settings.
	 */
	const char *url;            /* the whole URL instead of base_url + path (path then only labels the log) */
	const char *accept;         /* the Accept header's value instead of the default */
	const char *const *headers; /* more header lines ("Name: value"), NULL-terminated; never logged */
	const char *connect_to;     /* a CURLOPT_CONNECT_TO entry (netaddr_pin()) every connection goes to;
				       no HTTP proxy from the environment is used then */
	long timeout_ms;            /* a bound on the whole call; 0: none (streams last minutes) */
	size_t max_body;            /* the limit of a buffered body; 0: 64 MiB */
	/* Given each response header line as it arrives (raw, line end included); NULL: none. */
	void (*on_header)(void *ctx, const char *line, size_t len);
	void *header_ctx;
};

struct proxy_response {
	long status;            /* the upstream's HTTP status; 0 when none arrived */
	char content_type[128]; /* its Content-Type, "" when none */
	struct sg_buf body;     /* the buffered body (not for a relayed stream) */
	bool streamed;          /* the body went to the sink (2xx text/event-stream) */
	bool aborted;           /* a sink callback or client_alive asked to stop (client gone) */
	long long duration_ms;
};

/*
 * Where proxy_stream() delivers a stream.  begin is called once, when the
 * upstream has answered 2xx with text/event-stream and before its first body
 * byte; data then gets the bytes as they arrive.  Either returns false to
 * abort the transfer at once.  Any other answer (an error status, a JSON
 * body) is buffered in the response instead, and no callback is made.
 */
struct proxy_sink {
	bool (*begin)(void *ctx, long status, const char *content_type);
	bool (*data)(void *ctx, const char *buf, size_t len);
	void *ctx;
};

/*
 * One call to the provider: q->method on base_url + q->path (or q->url) with
 * q->body, "Content-Type: application/json" and "Authorization: Bearer
 * <api_key>" when the provider has a key, plus q->headers.  Redirects are
 * never followed (a 3xx is an answer like any other).  On SG_OK resp has the
 * upstream status (any status, including 4xx/5xx) and the body.  On failure
 * (no HTTP answer, body larger than q->max_body, q->timeout_ms passed)
 * returns the mapped status and a client-safe message in err.
 * resp is the caller's to proxy_response_free() in every case.
 */
sg_status proxy_call(const struct proxy_request *q, struct proxy_response *resp, struct sg_err *err) SG_MUST_CHECK;

/*
 * The same call for a streamed reply (adds "Accept: text/event-stream").  A
 * 2xx text/event-stream answer goes to sink (resp->streamed); any other
 * answer is buffered as proxy_call() does.  When a sink callback returns
 * false the transfer stops at once (the connection is closed, which the
 * upstream sees) and this returns SG_OK with resp->aborted.  A failure after
 * the stream began returns the mapped status with resp->streamed set.
 */
sg_status proxy_stream(const struct proxy_request *q, const struct proxy_sink *sink, struct proxy_response *resp,
		       struct sg_err *err) SG_MUST_CHECK;

/* Frees what a call put in resp.  Idempotent. */
void proxy_response_free(struct proxy_response *resp);

/*
 * GET base_url/models and appends every data[].id to ids.  An unreachable
 * upstream or a timeout is mapped as above; a non-2xx answer or a body that
 * is not an OpenAI model list → SG_E_BAD_GATEWAY.  client_alive(alive_ctx)
 * (may be NULL) is asked as for proxy_call(): when it says the client left,
 * the call stops at once and this returns SG_E_BAD_GATEWAY ("the client
 * went away").  Message in err.
 */
sg_status proxy_list_models(const struct sg_provider *p, bool (*client_alive)(void *ctx), void *alive_ctx,
			    struct sg_strv *ids, struct sg_err *err) SG_MUST_CHECK;

/* Frees the calling thread's curl handle; the worker calls it when a thread ends. */
void proxy_thread_cleanup(void);

/*
 * The mapping of a failed transfer: code is a CURLcode; connected says that a
 * connection to the upstream was made (a timeout before that is "unreachable",
 * after it "timed out"); read_timed_out says that our own silence timer
 * stopped it.  Writes a client-safe message naming the provider into err.
 * SG_OK for CURLE_OK.
 */
sg_status proxy_map_curl(int code, bool connected, bool read_timed_out, const char *provider_id, struct sg_err *err);

/*
 * The SSE frame splitter.  Feed it bytes in chunks of any size; for each
 * complete event (the text up to the blank line that ends it) it calls fn
 * with the event's lines, line ends normalised to "\n" and without the final
 * line end.  Blank lines between events are skipped.
 */
struct proxy_sse {
	struct sg_buf buf; /* the incomplete event so far, line ends normalised */
	size_t scan;       /* buf offset where the search for the end resumes */
	bool last_cr;      /* the previous byte was '\r' (a following '\n' is its pair) */
	size_t max_event;  /* larger incomplete events are refused; 0: 16 MiB */
};

enum proxy_sse_result {
	PROXY_SSE_OK,
	PROXY_SSE_STOP,    /* fn returned false */
	PROXY_SSE_TOO_BIG, /* an event exceeded max_event */
	PROXY_SSE_NOMEM,
};

typedef bool (*proxy_sse_fn)(void *ctx, const char *event, size_t len);

enum proxy_sse_result proxy_sse_feed(struct proxy_sse *s, const char *buf, size_t len, proxy_sse_fn fn,
				     void *ctx) SG_MUST_CHECK;

/*
 * At the end of the stream: an unterminated last event made only of complete
 * lines is delivered (leniency for upstreams that end with one "\n").
 * *truncated is set when the stream stopped in the middle of a line (that
 * partial event is dropped).  PROXY_SSE_STOP when fn returned false.
 */
enum proxy_sse_result proxy_sse_finish(struct proxy_sse *s, proxy_sse_fn fn, void *ctx, bool *truncated) SG_MUST_CHECK;

/* Frees the splitter's buffer.  Idempotent. */
void proxy_sse_free(struct proxy_sse *s);

/*
 * An event's payload, as the splitter delivers the event: the values of its
 * data lines ("data:" and one following space removed) joined by "\n", in
 * out (its old contents replaced).  The number of data lines (0: out is
 * empty), or -1 when out of memory.
 */
int proxy_sse_data(const char *ev, size_t len, struct sg_buf *out) SG_MUST_CHECK;

#endif
