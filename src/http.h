/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h: one HTTP request as FastCGI hands it to us, and the ways to answer
 * it.  A struct request lives for one request; everything it points to is
 * released by http_request_reset(), which the worker calls on every path.
 *
 * Handlers (route_handler_fn) never write a status line.  They either
 *  - return SG_OK with r->reply (a JSON value they own; NULL means a body of
 *    `null`) and optionally r->status (default 200), or
 *  - return an error status after http_fail() recorded a client-safe message
 *    in r->err (or a callee did: handlers pass &r->err down, or copy a
 *    struct sg_err of their own with http_fail_err()),
 *  - or stream: http_stream_begin() then http_stream_write() per chunk, and
 *    return SG_OK (or an error, which the worker reports only if nothing was
 *    sent yet).
 * The worker writes every status line and every error body.
 */
#ifndef SG_HTTP_H
#define SG_HTTP_H

#include <fcgiapp.h>
#include <jansson.h>

#include "identity.h"
#include "sg.h"

struct route;
struct sg_conf;

enum sg_method {
	SG_GET = 1 << 0,
	SG_POST = 1 << 1,
	SG_DELETE = 1 << 2,
	SG_PUT = 1 << 3,
	SG_PATCH = 1 << 4,
	SG_HEAD = 1 << 5,
	SG_OPTIONS = 1 << 6,
	SG_METHOD_OTHER = 1 << 7,
};

/*
 * What one inference request (chat, completions, embeddings) did: filled by
 * the OpenAI proxy path as it learns it, read when the request ends by the
 * limits, the usage log, the metrics and the access log.  Zeroed by
 * http_request_reset(); active is false for every other route.
 */
struct request_inference {
	bool active;           /* an inference route found the model below (visible to the caller) */
	const char *kind;      /* "chat", "completions" or "embeddings" (static) */
	char model[256];       /* the registry id the client asked for */
	char provider_id[128]; /* the provider that served it */
	bool streamed;
	bool usage_reported; /* the token counts come from the upstream's usage; else they are
				     the estimate, request_bytes / 4 and reply_bytes / 4 (openai_inference_settle) */
	int64_t prompt_tokens;
	int64_t completion_tokens;
	int64_t total_tokens;
	size_t request_bytes;      /* sent to the upstream */
	size_t reply_bytes;        /* received from the upstream */
	int upstream_status;       /* the upstream's HTTP status; 0 when none came */
	int64_t upstream_start_us; /* when the upstream call began; 0 when none was made */
	int64_t upstream_us;       /* from the call's start to the upstream's last byte */
	int64_t ttft_us;           /* from start_us to the upstream's first event of a stream; 0 when none */
	bool priced;               /* the model has prices (usage_prices): the usage log computes a cost */
	double input_cost_per_mtok, output_cost_per_mtok;
	int attempts;             /* upstream attempts made (router.h: retries and fallbacks); 0: none */
	char served_model[256];   /* the registry id of the model whose deployment served (or was tried last) */
	char provider_model[256]; /* that deployment's provider model id */
};

/*
 * A handler's large buffers of one request, lent by http_scratch() and kept
 * (as body, path and headers are) by a reused request.
 */
enum http_scratch {
	HTTP_SCRATCH_UPSTREAM_BODY, /* what is sent upstream */
	HTTP_SCRATCH_REPLY,         /* the reply as rewritten for the client */
	HTTP_SCRATCH_COUNT,
};

/* The FastCGI params a request indexes (http_param); one with more than this looks past them in libfcgi. */
#define HTTP_PARAMS_MAX 48
#define HTTP_PARAM_SLOTS 128 /* a power of two, past twice HTTP_PARAMS_MAX */

struct request {
	FCGX_Request *fcgx;         /* borrowed from the accepting thread */
	const struct sg_conf *conf; /* borrowed, immutable for the process */

	enum sg_method method;
	const char *method_name; /* as received */
	char *path;              /* percent-decoded path, no query */
	const char *query;       /* raw query string, "" when none */
	char request_id[64];

	char *body; /* NUL-terminated copy of the body */
	size_t body_len;
	json_t *json; /* the body parsed by http_body_object() */

	struct identity id;
	/* The bearer key verified inside the request (STACKGATE_VERIFY_KEY, worker.c): its principal
	 * (owned; NULL: anonymous) and key id, used instead of the STACKGATE_PRINCIPAL/KEY_ID params. */
	bool key_verified;
	char *key_principal;
	char key_id[16];

	const struct route *route;
	char *path_arg; /* the route's {param}, decoded; NULL if none */

	/* The answer. */
	int status;            /* HTTP status on success, default 200 */
	json_t *reply;         /* owned; NULL is written as `null` */
	struct sg_err err;     /* why it failed (sg.h): message, "param", log-only detail */
	int upstream_status;   /* HTTP status for SG_E_UPSTREAM */
	struct sg_buf headers; /* extra response headers: "Name: value\r\n" lines */
	bool headers_sent;     /* a streaming handler has sent headers */
	bool client_gone;      /* a write to nginx failed */
	bool stream_counted;   /* an event stream metrics_stream_open() counted as open */

	int64_t start_us;
	int final_status; /* what was sent, for the access log */

	struct request_inference inference;

	/*
	 * A request object that one thread reuses for the requests it serves (reuse: worker.c) keeps the
	 * memory of its body, path and headers: http_request_reset() empties them and frees one only past
	 * HTTP_KEEP_MAX bytes, so a huge request does not pin its memory; http_request_free() frees them.
	 * body and path point into body_buf and path_buf when they were read by http_request_read().
	 */
	bool reuse;
	struct sg_buf body_buf, path_buf;
	struct sg_buf scratch[HTTP_SCRATCH_COUNT]; /* http_scratch(); kept as the buffers above */
	/* Set by http_request_reset(), cleared by http_request_read(): a reset request is not reset twice. */
	bool is_reset;

	/*
	 * The FastCGI params, indexed by http_request_read() so that http_param() looks at a key per
	 * param rather than running strncmp over every one (some 400 instructions a lookup, ten
	 * lookups a request).  Not params_indexed (a request not read by http_request_read):
	 * http_param asks libfcgi; params_more: the request has more params than the index holds,
	 * and a name not found in it is looked for by libfcgi.  params is last in the struct:
	 * http_request_reset() clears only what comes before it.
	 */
	bool params_indexed, params_more;
	int nparams;
	struct http_param_ix {
		uint32_t key;      /* the name's length, first and last byte (param_key) */
		uint32_t namelen;  /* the value starts at entry + namelen + 1 */
		const char *entry; /* "NAME=value", borrowed from libfcgi */
	} params[HTTP_PARAMS_MAX];
	/* Open addressing on key, linear probing: 1 + an index in params; 0: empty. */
	unsigned char param_slot[HTTP_PARAM_SLOTS];
};

/* What a reused request object keeps of each buffer at most (http_request_reset). */
#define HTTP_KEEP_MAX (64 * 1024)
/* The first allocation of r->headers: room for the usual extra headers (rate limits, CORS) at once. */
#define HTTP_HEADERS_FIRST 1024

/* Maps a method name to its bit; SG_METHOD_OTHER when unknown. */
enum sg_method http_method_from_name(const char *name);
const char *http_method_name(enum sg_method m);

/*
 * Reads the FastCGI params and the body (capped by server.max_body_bytes:
 * SG_E_TOO_LARGE) into r, after http_request_reset().  Rejects
 * (SG_E_BAD_REQUEST) what http_path_decode() and http_query_check() refuse,
 * so r->path, r->path_arg and every http_query_get() value are valid UTF-8.
 */
sg_status http_request_read(struct request *r, FCGX_Request *fcgx, const struct sg_conf *conf) SG_MUST_CHECK;

/*
 * The request path from raw[0..len) (the target before any '?'),
 * percent-decoded into *out (the caller frees it).  SG_E_BAD_REQUEST when the
 * encoding is broken or decodes a NUL byte, the result is not valid UTF-8,
 * does not start with '/' or has a "." or ".." segment; SG_E_NOMEM.  On
 * failure *out is NULL and *why a static client-safe message.  Pure.
 */
sg_status http_path_decode(const char *raw, size_t len, char **out, const char **why) SG_MUST_CHECK;

/*
 * SG_OK when every key and value of the raw query string decodes
 * (percent-encoding, '+' as space) without a NUL byte to valid UTF-8;
 * else SG_E_BAD_REQUEST (or SG_E_NOMEM) with *why a static client-safe
 * message.  Pure.
 */
sg_status http_query_check(const char *query, const char **why) SG_MUST_CHECK;

/*
 * Releases everything the request owns and clears it for the next one
 * (keeping the buffers of a reused request, above). Idempotent.
 */
void http_request_reset(struct request *r);
/* http_request_reset(), then frees what a reused request kept; r can be freed or reused after. */
void http_request_free(struct request *r);

/*
 * r's scratch buffer which, emptied (no max), for one use at a time within
 * the request: the caller appends to it and never frees it (the reset
 * does, or keeps it for the thread's next request).
 */
struct sg_buf *http_scratch(struct request *r, enum http_scratch which);

/*
 * Records a client-safe error message (printf-style) and the offending field
 * (may be NULL) in r->err (sg_fail) and returns st, so handlers can
 * `return http_fail(…)`.
 */
sg_status http_fail(struct request *r, sg_status st, const char *param, const char *fmt, ...) SG_PRINTF(4, 5);

/*
 * Copies e (message, param and detail) into r->err and returns st: the one
 * way an error carried by a struct sg_err of the caller's reaches the
 * request.  e == &r->err is allowed (nothing to copy).
 */
sg_status http_fail_err(struct request *r, sg_status st, const struct sg_err *e);

/* A FastCGI param (e.g. "CONTENT_TYPE"), or NULL.  Borrowed. */
const char *http_param(const struct request *r, const char *name);
/* Indexes r->fcgx's params for http_param() (http_request_read() does it): one pass, a strchr per param. */
void http_params_index(struct request *r);

/*
 * The value of the first query-string pair whose name, percent-decoded as
 * values are ('+' as space; a name of 256 bytes or more never matches), is
 * key: percent-decoded ('+' as space), newly allocated, or
 * NULL when the key is absent (or out of memory).  Valid UTF-8 after
 * http_request_read() succeeded.
 */
char *http_query_get(const struct request *r, const char *key);

/*
 * Parses the body as a JSON object (once; later calls return the same
 * borrowed value).  An empty body is an empty object.  Depth is capped by
 * server.max_json_depth.  On failure records a 400 naming the problem
 * (line/column, depth, not an object, invalid UTF-8, NUL byte).
 */
sg_status http_body_object(struct request *r, json_t **out) SG_MUST_CHECK;

/*
 * Adds the response header "name: value"; false when the line would exceed
 * 1023 bytes, when name or value holds CR or LF, or on allocation failure.
 */
bool http_add_header(struct request *r, const char *name, const char *value);
/* The same with the value v in decimal, then suffix ("" or, say, "s"), formatted without printf. */
bool http_add_header_int(struct request *r, const char *name, int64_t v, const char *suffix);
/* One header of http_add_header_ints: name and suffix are the caller's constants, never CR or LF (not checked). */
struct http_int_header {
	const char *name;
	int64_t v;
	const char *suffix;
};
/*
 * Adds n headers as http_add_header_int() would, with one reservation: false
 * (and none of them added) when a line would pass 1023 bytes or on
 * allocation failure.  For a caller's fixed set of names, such as the
 * x-ratelimit-* headers: names and suffixes are not checked for CR or LF.
 */
bool http_add_header_ints(struct request *r, const struct http_int_header *h, size_t n);
/* Where the extra headers end now (r->headers.len), and dropping those added after such a mark. */
void http_headers_truncate(struct request *r, size_t mark);

/*
 * Starts a streamed reply: writes the status line and headers
 * (Content-Type, Cache-Control: no-cache, X-Request-Id, r->headers, and for
 * text/event-stream X-Accel-Buffering: no, so nginx relays the events as
 * they come while it buffers everything else) and flushes.  False when nginx
 * is gone.
 */
bool http_stream_begin(struct request *r, int status, const char *content_type);
/*
 * False when nginx has closed the FastCGI connection (the client went away
 * and nginx gave up on the request).  Cheap: one poll(2) with no wait.  Sets
 * r->client_gone when false.
 */
bool http_client_alive(struct request *r);

/* Writes and flushes one chunk; false (and r->client_gone) when nginx is gone. */
bool http_stream_write(struct request *r, const char *buf, size_t len);

/*
 * Writes a complete non-streamed response: status, Content-Type,
 * Content-Length, headers, body, into libfcgi's buffer, so that a reply that
 * fits it reaches nginx in one write when the request finishes.  Used by the
 * worker, and by a handler that relays a buffered upstream answer
 * (openai.c).  Nothing when headers were sent already.  False (and
 * r->client_gone) when nginx is gone.
 */
bool http_respond(struct request *r, int status, const char *content_type, const char *body, size_t len);

/*
 * A JSON list answered as it is made, for lists of any length: head (say
 * {"data":[), the items separated by commas, tail (]}), sent through the
 * stream writer in chunks of about HTTP_LIST_CHUNK bytes (200,
 * application/json), so a request holds one chunk whatever the list's size.
 * Nothing is sent before the first chunk is full or the list is complete:
 * an error until then is an ordinary error response; after it the list is
 * cut short (invalid JSON) and the worker logs the error.  For HEAD only the
 * status line and headers go out.  Each call returns SG_OK, SG_E_NOMEM, or
 * SG_E_BAD_GATEWAY when the client is gone (r->client_gone).  Free with
 * http_list_free() whatever happened.
 */
#define HTTP_LIST_CHUNK (64 * 1024)

struct http_list {
	struct request *r;
	struct sg_buf buf;
	bool items; /* an item was added: the next one needs a comma */
};

sg_status http_list_begin(struct http_list *l, struct request *r, const char *head) SG_MUST_CHECK;
/* One item: the JSON text item[0..len). */
sg_status http_list_item(struct http_list *l, const char *item, size_t len) SG_MUST_CHECK;
/* Appends tail and sends the rest. */
sg_status http_list_end(struct http_list *l, const char *tail) SG_MUST_CHECK;
void http_list_free(struct http_list *l);

#endif
