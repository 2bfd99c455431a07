/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_int.h: what the two transports of proxy.h share.  proxy.c sets up a
 * call (its header lines, its timers) and runs it on one of them: libcurl,
 * or proxy_h1.c's own HTTP/1.1 client for plain http:// upstreams.  Both
 * feed the same three functions below, so the status, the Content-Type, the
 * decision to relay or buffer, the body limit and every timer are one
 * code path whichever carried the bytes, and both report the outcome as a
 * CURLcode that proxy_map_curl() maps.
 *
 * Not a public header: only proxy.c, proxy_h1.c and their tests include it.
 */
#ifndef SG_PROXY_INT_H
#define SG_PROXY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy.h"

/* The client-alive poll: after this much upstream silence, then this often. */
#define PROXY_ALIVE_QUIET_US (100 * 1000)
#define PROXY_ALIVE_EVERY_US (200 * 1000)

/* A transfer in progress; zeroed between calls. */
struct xfer {
	const struct proxy_request *q;
	const struct proxy_sink *sink; /* NULL: buffer whatever comes */
	struct proxy_response *resp;
	int64_t last_io_us;    /* when a byte last moved; the read timeout counts from it */
	int64_t last_alive_us; /* when client_alive was last asked */
	long read_timeout_ms;
	size_t max_body;
	int64_t connected_us; /* when the connection was made; the first-byte timeout counts from it */
	int64_t last_ul;      /* the request bytes sent so far (curl's progress) */
	bool answered;        /* a header line of the answer arrived */
	bool first_byte_late; /* the first-byte timeout stopped it */
	bool connected;
	bool timed_out;
	bool too_big;
};

/* The connection is made: the read and first-byte timers start. */
void proxy_xfer_connected(struct xfer *x);

/*
 * One header line of the answer, raw, line end included ("HTTP/1.1 200 OK\r\n",
 * "Content-Type: …\r\n", the blank "\r\n" that ends a block).  Returns n, or
 * 0 to stop the transfer (the sink refused the stream: resp->aborted).
 */
size_t proxy_xfer_header(struct xfer *x, const char *line, size_t n);

/* Body bytes (dechunked).  Returns n, or 0 to stop (sink refused, or past max_body: too_big). */
size_t proxy_xfer_data(struct xfer *x, const char *buf, size_t n);

/*
 * The timers, asked while the transfer waits: the read timeout (silence),
 * the first-byte timeout and the client-alive question.  Non-zero: stop
 * (timed_out / first_byte_late / resp->aborted say why).
 */
int proxy_xfer_tick(struct xfer *x);

/* When proxy_xfer_tick() next has something to decide, in µs of sg_now_us(); INT64_MAX: never. */
int64_t proxy_xfer_next_tick(const struct xfer *x);

/* ------------------------------------------------ proxy_h1.c: plain HTTP/1.1 */

/*
 * The response parser, incremental and pure: fed the bytes of one answer in
 * chunks of any size, it hands each header line (raw, as curl's header
 * callback would) to header() and each piece of the body, dechunked, to
 * body(), and says when the answer is complete.  An interim 1xx block is
 * passed on and followed by the real one.  Trailers are read and dropped.
 */
enum h1_result {
	H1_MORE, /* all of buf used; the answer goes on */
	H1_DONE, /* the answer is complete; *used says how much of buf it took */
	H1_STOP, /* a callback returned 0 */
	H1_BAD,  /* not HTTP/1.x, or a malformed header, length or chunk */
	H1_NOMEM,
};

#define H1_MAX_LINE (64 * 1024)  /* the longest header or trailer line */
#define H1_MAX_HEAD (256 * 1024) /* all header lines of one answer; all its trailer lines */
#define H1_MAX_CHUNK_LINE 1024   /* the longest chunk-size line, extensions included */

struct h1_parser {
	int state;
	bool head;    /* the request was HEAD: no body whatever the headers say */
	bool http10;  /* the status line said HTTP/1.0 */
	bool chunked; /* the last Transfer-Encoding coding is chunked */
	bool have_te; /* a Transfer-Encoding line came */
	bool have_length;
	bool close;      /* the connection ends with this answer (Connection: close, HTTP/1.0, no length) */
	bool keep_alive; /* HTTP/1.0 with Connection: keep-alive */
	int status;
	uint64_t length;    /* Content-Length */
	uint64_t left;      /* body or chunk bytes still to come */
	uint64_t got;       /* bytes of the answer seen so far */
	uint64_t trailers;  /* bytes of its trailer lines */
	struct sg_buf line; /* an incomplete line */
};

typedef size_t (*h1_fn)(void *ctx, const char *buf, size_t n);

void h1_parser_init(struct h1_parser *p, bool head);

/* Feeds buf; on H1_DONE *used is the bytes of buf that belonged to the answer. */
enum h1_result h1_feed(struct h1_parser *p, const char *buf, size_t len, size_t *used, h1_fn header, h1_fn body,
		       void *ctx) SG_MUST_CHECK;

/* The connection closed: H1_DONE when that ends the answer (no length given), else H1_BAD. */
enum h1_result h1_eof(struct h1_parser *p) SG_MUST_CHECK;

/* Frees the parser's line buffer.  Idempotent. */
void h1_parser_free(struct h1_parser *p);

/* The calling thread's kept connections and buffers (proxy.c's per-thread handle owns one). */
struct h1_state;

struct h1_state *h1_state_new(void);

/* Closes its connections and frees it.  NULL is fine. */
void h1_state_free(struct h1_state *s);

/* Whether text is anywhere in s's request buffer, used or not (tests: what a call leaves behind). */
bool h1_state_holds(const struct h1_state *s, const char *text);

/* The calling thread's state, NULL before its first plain http:// call (tests). */
struct h1_state *proxy_thread_h1(void);

/*
 * Whether the own client may carry calls at all: not when the environment
 * asks for an HTTP proxy (http_proxy, all_proxy, ALL_PROXY: libcurl honours
 * them) or when STACKGATE_UPSTREAM_CLIENT=curl.  Read once per process.
 */
bool h1_enabled(void);

/* Forgets what h1_enabled() read, so that its next call reads the environment again (tests). */
void h1_enabled_reset(void);

/*
 * Splits a base URL for the own client: true when it is plain http:// with a
 * host and an optional port, without userinfo, query, fragment, spaces or
 * control characters (those stay with libcurl).  host gets the host (IPv6 without brackets), port the
 * port as digits, authority what the Host header says, *path the rest of
 * the base ("" or "/v1").
 */
bool h1_split_url(const char *base_url, char *host, size_t hostlen, char *port, size_t portlen, char *authority,
		  size_t authlen, const char **path);

/*
 * One call on s's kept connection to base_url's host (made when there is
 * none, and made again once when a kept one turns out closed before any
 * byte of the answer).  headers are the request's header lines ("Name:
 * value", no line end; a "Name:" with no value is left out, as curl does),
 * the list perform() gives curl.  Returns
 * -1 when base_url is not one h1_split_url() takes (the caller uses libcurl),
 * else a CURLcode: CURLE_OK, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
 * CURLE_OPERATION_TIMEDOUT (connect or total timeout), CURLE_SEND_ERROR,
 * CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
 * CURLE_WEIRD_SERVER_REPLY, CURLE_WRITE_ERROR (a callback stopped it),
 * CURLE_ABORTED_BY_CALLBACK (a timer stopped it), CURLE_BAD_FUNCTION_ARGUMENT
 * (a header line with a line end in it), CURLE_OUT_OF_MEMORY.  errbuf
 * (errlen bytes) gets a line for the log.
 */
struct curl_slist;
int h1_perform(struct h1_state *s, struct xfer *x, const char *method, const char *base_url, const char *path,
	       const struct curl_slist *headers, const char *body, size_t body_len, long connect_timeout_ms,
	       long timeout_ms, char *errbuf, size_t errlen);

#endif
