/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c: FastCGI params → struct request, body reading with its cap, the
 * response and SSE writers, and the Redis-style field getters that record a
 * 400 themselves.  Knows no route and no JSON schema.
 */
#include "config.h"

#include <ctype.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "metrics.h"
#include "json.h"
#include "log.h"

static const struct {
	enum sg_method m;
	const char *name;
} methods[] = {
	{SG_GET, "GET"},     {SG_POST, "POST"}, {SG_DELETE, "DELETE"},   {SG_PUT, "PUT"},
	{SG_PATCH, "PATCH"}, {SG_HEAD, "HEAD"}, {SG_OPTIONS, "OPTIONS"},
};

enum sg_method
http_method_from_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < SG_ARRAY_LEN(methods); i++)
		if (strcmp(name, methods[i].name) == 0)
			return methods[i].m;
	return SG_METHOD_OTHER;
}

const char *
http_method_name(enum sg_method m)
{
	for (size_t i = 0; i < SG_ARRAY_LEN(methods); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "OTHER";
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes src[0..len) into out, which has room for len + 1 bytes, and
 * NUL-terminates it.  plus_space turns '+' into ' ' (query strings).  False
 * on bad encoding or a decoded NUL byte.
 */
static bool
pct_decode_into(char *out, const char *src, size_t len, bool plus_space)
{
	char *o = out;

	/* Nothing to decode (most paths): a copy, refused only for a NUL byte as below. */
	if (memchr(src, '%', len) == NULL && (!plus_space || memchr(src, '+', len) == NULL)) {
		if (memchr(src, '\0', len) != NULL)
			return false;
		memcpy(out, src, len);
		out[len] = '\0';
		return true;
	}

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char) src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == 0)
			return false;
		*o++ = (char) c;
	}
	*o = '\0';
	return true;
}

/* pct_decode_into() into a new string; NULL on bad encoding, a decoded NUL byte or no memory. */
static char *
pct_decode(const char *src, size_t len, bool plus_space)
{
	char *out = sg_malloc(len + 1);

	if (out != NULL && !pct_decode_into(out, src, len, plus_space)) {
		free(out);
		out = NULL;
	}
	return out;
}

/* True when a path segment is "." or "..". */
static bool
has_dot_segment(const char *path)
{
	if (strchr(path, '.') == NULL)
		return false;
	for (const char *p = path; (p = strchr(p, '/')) != NULL; p++) {
		const char *s = p + 1;
		size_t n = strcspn(s, "/");

		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return true;
	}
	return false;
}

/* Decodes and checks the path raw[0..len) into path (len + 1 bytes); NULL, or why it is refused. */
static const char *
path_decode_into(char *path, const char *raw, size_t len)
{
	if (!pct_decode_into(path, raw, len, false))
		return "the request path has invalid percent-encoding or a NUL byte";
	if (!sg_utf8_valid(path, strlen(path)))
		return "the request path is not valid UTF-8";
	if (path[0] != '/')
		return "the request path must start with '/'";
	if (has_dot_segment(path))
		return "the request path must not contain '.' or '..' segments";
	return NULL;
}

sg_status
http_path_decode(const char *raw, size_t len, char **out, const char **why)
{
	char *path = sg_malloc(len + 1);

	*out = NULL;
	*why = NULL;
	if (path == NULL) {
		*why = "out of memory";
		return SG_E_NOMEM;
	}
	if ((*why = path_decode_into(path, raw, len)) != NULL) {
		free(path);
		return SG_E_BAD_REQUEST;
	}
	*out = path;
	return SG_OK;
}

sg_status
http_query_check(const char *query, const char **why)
{
	size_t len = strlen(query);
	char *buf;

	*why = NULL;
	if (len == 0)
		return SG_OK;
	/* '&' and '=' are ASCII, so the whole string decodes to valid UTF-8 exactly when each key and value does. */
	if ((buf = sg_malloc(len + 1)) == NULL) {
		*why = "out of memory";
		return SG_E_NOMEM;
	}
	if (!pct_decode_into(buf, query, len, true))
		*why = "the query string has invalid percent-encoding or a NUL byte";
	else if (!sg_utf8_valid(buf, strlen(buf)))
		*why = "the query string is not valid UTF-8";
	free(buf);
	return *why != NULL ? SG_E_BAD_REQUEST : SG_OK;
}

static void
make_request_id(char *buf, size_t len)
{
	static _Thread_local unsigned long long state;
	FILE *f;

	if (state == 0) {
		f = fopen("/dev/urandom", "rb");
		if (f == NULL || fread(&state, sizeof(state), 1, f) != 1)
			state = (unsigned long long) sg_now_us() ^ (unsigned long long) (uintptr_t) buf;
		if (f != NULL)
			fclose(f);
		state |= 1;
	}
	/* xorshift64*: unique enough to correlate log lines, not a secret. */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	unsigned long long a = state * 2685821657736338717ULL;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	unsigned long long b = state * 2685821657736338717ULL;
	snprintf(buf, len, "%016llx%016llx", a, b);
}

/* A request id from nginx is used only when it is short and plain: its length, or 0 when it is not. */
static size_t
request_id_len(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++) {
		unsigned char c = (unsigned char) id[n];

		/* isalnum() in the C locale, without its table lookup per byte. */
		if (n >= 63 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return n;
}

/* What http_param compares first: a name's length, first and last byte. */
static uint32_t
param_key(const char *name, size_t n)
{
	return n == 0 ? 0
		      : (uint32_t) (n & 0xffff) << 16 | (uint32_t) (unsigned char) name[0] << 8 |
				(unsigned char) name[n - 1];
}

/* The slot a key's probe starts at. */
static size_t
param_home(uint32_t key)
{
	return (size_t) ((key * UINT32_C(2654435761)) >> 25) & (HTTP_PARAM_SLOTS - 1);
}

/* The index in r->params of the first param named name (n bytes, key k), or -1. */
static int
param_find(const struct request *r, const char *name, size_t n, uint32_t k)
{
	for (size_t i = param_home(k);; i = (i + 1) & (HTTP_PARAM_SLOTS - 1)) {
		const struct http_param_ix *p;

		if (r->param_slot[i] == 0)
			return -1;
		p = &r->params[r->param_slot[i] - 1];
		if (p->key == k && p->namelen == n && memcmp(p->entry, name, n) == 0)
			return r->param_slot[i] - 1;
	}
}

void
http_params_index(struct request *r)
{
	char **envp = r->fcgx->envp;

	r->nparams = 0;
	r->params_more = false;
	memset(r->param_slot, 0, sizeof(r->param_slot));
	for (char **e = envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		size_t n, i;
		uint32_t k;

		if (eq == NULL)
			continue; /* libfcgi's lookup never matches one without '=' either */
		if (r->nparams == HTTP_PARAMS_MAX) {
			r->params_more = true;
			break;
		}
		n = (size_t) (eq - *e);
		k = param_key(*e, n);
		/* Linear probing: a later param of a name lands past the first, which a lookup finds first. */
		for (i = param_home(k); r->param_slot[i] != 0; i = (i + 1) & (HTTP_PARAM_SLOTS - 1))
			;
		r->params[r->nparams] = (struct http_param_ix){.key = k, .namelen = (uint32_t) n, .entry = *e};
		r->param_slot[i] = (unsigned char) ++r->nparams;
	}
	r->params_indexed = true;
}

sg_status
http_request_read(struct request *r, FCGX_Request *fcgx, const struct sg_conf *conf)
{
	const char *uri, *q, *rid, *cl, *why;
	size_t pathlen, idlen, want = 0, cap = conf->max_body_bytes;
	bool too_large = false;
	sg_status st;

	/* The worker resets a request after it is served: once is enough (a memset of some 3 KiB). */
	if (!r->is_reset)
		http_request_reset(r);
	r->is_reset = false;
	r->fcgx = fcgx;
	r->conf = conf;
	r->start_us = sg_now_us();
	r->status = 200;
	http_params_index(r);

	rid = http_param(r, "STACKGATE_REQUEST_ID");
	if ((idlen = request_id_len(rid)) > 0)
		memcpy(r->request_id, rid, idlen + 1);
	else
		make_request_id(r->request_id, sizeof(r->request_id));
	log_set_request_id(r->request_id);

	r->method_name = http_param(r, "REQUEST_METHOD");
	if (r->method_name == NULL)
		r->method_name = "GET";
	r->method = http_method_from_name(r->method_name);

	/* REQUEST_URI is the raw target: we decode it ourselves, once. */
	uri = http_param(r, "REQUEST_URI");
	if (uri == NULL)
		uri = http_param(r, "DOCUMENT_URI");
	if (uri == NULL)
		uri = "/";
	q = strchr(uri, '?');
	pathlen = q ? (size_t) (q - uri) : strlen(uri);
	r->query = q ? q + 1 : "";

	/* Read the body before anything can fail, so nginx never sees a reset. */
	cl = http_param(r, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);

		if (*end != '\0')
			v = 0;
		want = (size_t) v;
		if (v > cap)
			too_large = true;
	}
	if (too_large) {
		char sink[8192];

		while (FCGX_GetStr(sink, sizeof(sink), fcgx->in) > 0)
			;
	} else {
		/* One byte more than the limit is room enough to tell a body that exceeds it. */
		struct sg_buf *b = &r->body_buf;
		/* The announced length and one byte more, so that the end of the body is seen without growing. */
		size_t room = want ? want + 1 : 1023;

		b->max = cap + 1;
		b->len = 0;
		for (;;) {
			int n;

			if (b->len + 1 >= b->cap) {
				if (room > b->max - b->len)
					room = b->max - b->len;
				if (!sg_buf_reserve(b, room))
					return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
				room = b->cap; /* next time: double */
			} else if (b->len == 0 && want > 0 && b->cap < want + 2) {
				/* A kept buffer smaller than the announced body: grown to it at once. */
				if (!sg_buf_reserve(b, want + 1))
					return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
			}
			n = FCGX_GetStr(b->p + b->len, (int) (b->cap - b->len - 1), fcgx->in);
			if (n <= 0)
				break;
			b->len += (size_t) n;
			if (b->len > cap) {
				too_large = true;
				break;
			}
		}
		b->p[b->len] = '\0';
		r->body = b->p;
		r->body_len = b->len;
		if (too_large) {
			char sink[8192];

			while (FCGX_GetStr(sink, sizeof(sink), fcgx->in) > 0)
				;
		}
	}
	if (too_large)
		return http_fail(r, SG_E_TOO_LARGE, NULL, "request body exceeds the limit of %zu bytes", cap);

	/* Into the kept path buffer: http_path_decode() without an allocation per request. */
	if (!sg_buf_reserve(&r->path_buf, pathlen))
		return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	if ((why = path_decode_into(r->path_buf.p, uri, pathlen)) != NULL)
		return http_fail(r, SG_E_BAD_REQUEST, NULL, "%s", why);
	r->path = r->path_buf.p;
	if ((st = http_query_check(r->query, &why)) != SG_OK)
		return http_fail(r, st, NULL, "%s", why);
	return SG_OK;
}

/* Empties b for the next request, keeping its memory unless it grew past HTTP_KEEP_MAX. */
static void
keep_empty(struct sg_buf *b)
{
	if (b->cap > HTTP_KEEP_MAX) {
		sg_buf_free(b);
	} else {
		b->len = 0;
		b->too_big = false;
		if (b->p != NULL)
			b->p[0] = '\0';
	}
}

void
http_request_reset(struct request *r)
{
	struct sg_buf keep[3 + HTTP_SCRATCH_COUNT] = {{0}};
	bool reuse = r->reuse;

	if (r->path != r->path_buf.p)
		free(r->path);
	if (r->body != r->body_buf.p)
		free(r->body);
	if (r->json != NULL)
		json_decref(r->json);
	identity_reset(&r->id);
	free(r->key_principal);
	free(r->path_arg);
	if (r->reply != NULL)
		json_decref(r->reply);
	if (reuse) {
		keep[0] = r->headers;
		keep[1] = r->body_buf;
		keep[2] = r->path_buf;
		for (int i = 0; i < HTTP_SCRATCH_COUNT; i++)
			keep[3 + i] = r->scratch[i];
		for (size_t i = 0; i < SG_ARRAY_LEN(keep); i++)
			keep_empty(&keep[i]);
	} else {
		sg_buf_free(&r->headers);
		sg_buf_free(&r->body_buf);
		sg_buf_free(&r->path_buf);
		for (int i = 0; i < HTTP_SCRATCH_COUNT; i++)
			sg_buf_free(&r->scratch[i]);
	}
	memset(r, 0, offsetof(struct request, params)); /* params: stale, ignored while not params_indexed */
	r->query = "";
	r->status = 200;
	r->reuse = reuse;
	r->is_reset = true;
	r->headers = keep[0];
	r->body_buf = keep[1];
	r->path_buf = keep[2];
	for (int i = 0; i < HTTP_SCRATCH_COUNT; i++)
		r->scratch[i] = keep[3 + i];
}

struct sg_buf *
http_scratch(struct request *r, enum http_scratch which)
{
	struct sg_buf *b = &r->scratch[which];

	b->len = 0;
	b->max = 0;
	b->too_big = false;
	if (b->p != NULL)
		b->p[0] = '\0';
	return b;
}

void
http_request_free(struct request *r)
{
	r->reuse = false;
	http_request_reset(r);
}

sg_status
http_fail(struct request *r, sg_status st, const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	st = sg_vfail(&r->err, st, param, fmt, ap);
	va_end(ap);
	return st;
}

sg_status
http_fail_err(struct request *r, sg_status st, const struct sg_err *e)
{
	if (e != &r->err)
		r->err = *e;
	r->err.status = st;
	return st;
}

const char *
http_param(const struct request *r, const char *name)
{
	size_t n;
	uint32_t key;
	int i;

	if (r->fcgx == NULL)
		return NULL;
	if (!r->params_indexed)
		return FCGX_GetParam(name, r->fcgx->envp);
	n = strlen(name);
	key = param_key(name, n);
	/* The first param of that name, as libfcgi's lookup finds (the first in the probe order too). */
	if ((i = param_find(r, name, n, key)) >= 0)
		return r->params[i].entry + n + 1;
	return r->params_more ? FCGX_GetParam(name, r->fcgx->envp) : NULL;
}

char *
http_query_get(const struct request *r, const char *key)
{
	size_t klen = strlen(key);
	const char *p = r->query;

	while (p != NULL && *p != '\0') {
		size_t seglen = strcspn(p, "&");
		const char *eq = memchr(p, '=', seglen);
		size_t namelen = eq ? (size_t) (eq - p) : seglen;
		char name[256];

		/* Names are decoded like values ("toolgroup%5Fid" is toolgroup_id); a decoded name is never longer. */
		if (namelen >= klen && namelen < sizeof(name) && pct_decode_into(name, p, namelen, true) &&
		    strcmp(name, key) == 0) {
			if (eq == NULL)
				return sg_strdup("");
			return pct_decode(eq + 1, seglen - namelen - 1, true);
		}
		p += seglen;
		if (*p == '&')
			p++;
	}
	return NULL;
}

sg_status
http_body_object(struct request *r, json_t **out)
{
	char err[256];

	*out = NULL;
	if (r->json == NULL) {
		if (r->body_len == 0) {
			r->json = json_object();
		} else {
			r->json = sg_json_parse(r->body, r->body_len, (size_t) r->conf->max_json_depth, err,
						sizeof(err));
			if (r->json == NULL)
				return http_fail(r, SG_E_BAD_REQUEST, NULL, "invalid JSON body: %s", err);
		}
		if (r->json == NULL)
			return http_fail(r, SG_E_NOMEM, NULL, "out of memory");
	}
	if (!json_is_object(r->json))
		return http_fail(r, SG_E_BAD_REQUEST, NULL, "the request body must be a JSON object");
	*out = r->json;
	return SG_OK;
}

/* True when s[0..n) holds CR or LF (memchr: vectorised, where strpbrk builds a table first). */
static bool
has_crlf(const char *s, size_t n)
{
	return memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL;
}

/* Room for n more bytes of headers; the first allocation is HTTP_HEADERS_FIRST, so the usual ones fit at once. */
static bool
headers_reserve(struct request *r, size_t n)
{
	return sg_buf_reserve(&r->headers, r->headers.cap == 0 && n < HTTP_HEADERS_FIRST ? HTTP_HEADERS_FIRST - 1 : n);
}

/* Writes "name: " + value + suffix + CR LF at at (room checked); where it ends. */
static char *
put_line(char *at, const char *name, size_t nl, const char *value, size_t vl, const char *suffix, size_t sl)
{
	memcpy(at, name, nl);
	at += nl;
	*at++ = ':';
	*at++ = ' ';
	memcpy(at, value, vl);
	at += vl;
	if (sl > 0)
		memcpy(at, suffix, sl);
	at += sl;
	*at++ = '\r';
	*at++ = '\n';
	return at;
}

/* Appends the line "name: " + value + suffix (vl, sl bytes), CR LF ended; the checks of http_add_header. */
static bool
add_line(struct request *r, const char *name, const char *value, size_t vl, const char *suffix, size_t sl)
{
	size_t nl = strlen(name);

	/* A line (without its CR LF) of at most 1023 bytes, as a 1024-byte buffer held. */
	if (nl + 2 + vl + sl >= 1024)
		return false;
	/* A header value must not be able to start another header. */
	if (has_crlf(name, nl) || has_crlf(value, vl) || has_crlf(suffix, sl))
		return false;
	if (!headers_reserve(r, nl + vl + sl + 4))
		return false;
	*put_line(r->headers.p + r->headers.len, name, nl, value, vl, suffix, sl) = '\0';
	r->headers.len += nl + vl + sl + 4;
	return true;
}

bool
http_add_header(struct request *r, const char *name, const char *value)
{
	return add_line(r, name, value, strlen(value), "", 0);
}

bool
http_add_header_int(struct request *r, const char *name, int64_t v, const char *suffix)
{
	char num[SG_I64_DIGITS];

	return add_line(r, name, num, sg_fmt_i64(num, v), suffix, strlen(suffix));
}

#define INT_HEADERS_MAX 8

bool
http_add_header_ints(struct request *r, const struct http_int_header *h, size_t n)
{
	char num[INT_HEADERS_MAX][SG_I64_DIGITS];
	size_t nl[INT_HEADERS_MAX], vl[INT_HEADERS_MAX], sl[INT_HEADERS_MAX], total = 0;
	char *at;

	if (n > INT_HEADERS_MAX) {
		/* More than one reservation covers: one at a time (taking back what was added when one fails). */
		size_t mark = r->headers.len;

		for (size_t i = 0; i < n; i++)
			if (!http_add_header_int(r, h[i].name, h[i].v, h[i].suffix)) {
				http_headers_truncate(r, mark);
				return false;
			}
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		nl[i] = strlen(h[i].name);
		sl[i] = strlen(h[i].suffix);
		vl[i] = sg_fmt_i64(num[i], h[i].v);
		if (nl[i] + 2 + vl[i] + sl[i] >= 1024)
			return false;
		total += nl[i] + vl[i] + sl[i] + 4;
	}
	if (!headers_reserve(r, total))
		return false;
	at = r->headers.p + r->headers.len;
	for (size_t i = 0; i < n; i++)
		at = put_line(at, h[i].name, nl[i], num[i], vl[i], h[i].suffix, sl[i]);
	*at = '\0';
	r->headers.len += total;
	return true;
}

void
http_headers_truncate(struct request *r, size_t mark)
{
	if (mark < r->headers.len) {
		r->headers.len = mark;
		r->headers.p[mark] = '\0';
	}
}

static bool
put(struct request *r, const char *s, size_t n)
{
	if (r->client_gone)
		return false;
	if (n > 0 && FCGX_PutStr(s, (int) n, r->fcgx->out) != (int) n) {
		r->client_gone = true;
		return false;
	}
	return true;
}

/* A NUL-terminated string. */
static bool
put_str(struct request *r, const char *s)
{
	return put(r, s, strlen(s));
}

static bool
put_i64(struct request *r, int64_t v)
{
	char num[SG_I64_DIGITS];

	return put(r, num, sg_fmt_i64(num, v));
}

/* The reply's head, piece by piece into libfcgi's buffer (no printf pass: every reply has one). */
static bool
put_head(struct request *r, int status, const char *content_type, long long content_length, bool stream)
{
	char timing[128];

	if (!put_str(r, "Status: ") || !put_i64(r, status) || !put(r, " ", 1) || !put_str(r, sg_http_reason(status)) ||
	    !put_str(r, "\r\nContent-Type: ") || !put_str(r, content_type) || !put_str(r, "\r\nX-Request-Id: ") ||
	    !put_str(r, r->request_id) || !put(r, "\r\n", 2))
		return false;
	if (stream) {
		/* nginx buffers every answer but server-sent events, which must reach the client as they come. */
		static const char sh[] = "Cache-Control: no-cache\r\n", sse[] = "X-Accel-Buffering: no\r\n";

		if (!put(r, sh, sizeof(sh) - 1))
			return false;
		if (strncmp(content_type, "text/event-stream", 17) == 0) {
			if (!put(r, sse, sizeof(sse) - 1))
				return false;
			metrics_stream_open(r);
		}
	} else if (content_length >= 0) {
		if (!put_str(r, "Content-Length: ") || !put_i64(r, content_length) || !put(r, "\r\n", 2))
			return false;
	}
	if (!put(r, r->headers.p, r->headers.len))
		return false;
	if (metrics_server_timing(r, timing, sizeof(timing)) &&
	    (!put_str(r, "Server-Timing: ") || !put_str(r, timing) || !put(r, "\r\n", 2)))
		return false;
	if (!put(r, "\r\n", 2))
		return false;
	r->headers_sent = true;
	r->final_status = status;
	return true;
}

/* Sends what libfcgi buffered; false (and r->client_gone) when nginx is gone. */
static bool
flush(struct request *r)
{
	if (FCGX_FFlush(r->fcgx->out) != 0) {
		r->client_gone = true;
		return false;
	}
	return true;
}

bool
http_stream_begin(struct request *r, int status, const char *content_type)
{
	return put_head(r, status, content_type, -1, true) && flush(r);
}

bool
http_client_alive(struct request *r)
{
	struct pollfd p;
	char c;

	if (r->client_gone)
		return false;
	if (r->fcgx == NULL || r->fcgx->ipcFd < 0)
		return true;
	p.fd = r->fcgx->ipcFd;
	p.events = POLLIN | POLLRDHUP;
	p.revents = 0;
	if (poll(&p, 1, 0) <= 0)
		return true;
	/*
	 * After the body nginx sends nothing more on this connection (it never
	 * sends FCGI_ABORT_REQUEST), so hang-up or end of file means it is gone.
	 */
	if ((p.revents & (POLLHUP | POLLERR | POLLRDHUP)) != 0 ||
	    ((p.revents & POLLIN) != 0 && recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)) {
		r->client_gone = true;
		return false;
	}
	return true;
}

bool
http_stream_write(struct request *r, const char *buf, size_t len)
{
	return put(r, buf, len) && flush(r);
}

bool
http_respond(struct request *r, int status, const char *content_type, const char *body, size_t len)
{
	if (r->headers_sent)
		return !r->client_gone;
	return put_head(r, status, content_type, (long long) len, false) && (r->method == SG_HEAD || put(r, body, len));
}

/* Sends what the list holds, starting the stream first if needed; false when the client is gone. */
static bool
list_flush(struct http_list *l)
{
	struct request *r = l->r;

	if (!r->headers_sent && !http_stream_begin(r, 200, "application/json"))
		return false;
	if (l->buf.len > 0 && r->method != SG_HEAD && !http_stream_write(r, l->buf.p, l->buf.len))
		return false;
	l->buf.len = 0;
	return true;
}

/* Appends n bytes and sends a full chunk. */
static sg_status
list_put(struct http_list *l, const char *s, size_t n)
{
	if (!sg_buf_append(&l->buf, s, n))
		return SG_E_NOMEM;
	if (l->buf.len >= HTTP_LIST_CHUNK && !list_flush(l))
		return SG_E_BAD_GATEWAY;
	return SG_OK;
}

sg_status
http_list_begin(struct http_list *l, struct request *r, const char *head)
{
	*l = (struct http_list){.r = r};
	return list_put(l, head, strlen(head));
}

sg_status
http_list_item(struct http_list *l, const char *item, size_t len)
{
	sg_status st = l->items ? list_put(l, ",", 1) : SG_OK;

	l->items = true;
	return st == SG_OK ? list_put(l, item, len) : st;
}

sg_status
http_list_end(struct http_list *l, const char *tail)
{
	sg_status st = list_put(l, tail, strlen(tail));

	if (st == SG_OK && !list_flush(l))
		st = SG_E_BAD_GATEWAY;
	return st;
}

void
http_list_free(struct http_list *l)
{
	sg_buf_free(&l->buf);
}
