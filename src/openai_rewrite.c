/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_rewrite.c: the text rewriting behind the OpenAI-compatible
 * endpoints (openai.c).  Bodies are rewritten as text, not parsed and
 * re-dumped: a small scanner checks the JSON grammar (RFC 8259; nesting
 * limited to 128) and finds the values of the top-level "model" member, and
 * only those bytes change, so everything else reaches the other side byte
 * for byte.  The same rewrite applies to each event of an SSE stream.  Pure:
 * no I/O, no allocation but the output buffer's; safe in any thread.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "openai.h"
#include "proxy.h"

#define SCAN_MAX_DEPTH 128

/*
 * The scanner.  It writes as it goes: every top-level "model" value it
 * finishes is replaced in out at once (the text since the last one, then
 * model_json), so there is no limit on how many there are; the caller
 * appends the rest at the end, or rolls out back when the text is not one
 * object.
 */
struct scan {
	const char *p, *end;
	const char *from;       /* the first byte not yet copied to out */
	const char *model_json; /* what replaces each top-level "model" value */
	struct sg_buf *out;
	int nspans;             /* top-level "model" values replaced */
	bool nomem;
};

static bool scan_value(struct scan *s, int depth);

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool
scan_string(struct scan *s)
{
	const char *p = s->p + 1;

	while (p < s->end) {
		unsigned char c = (unsigned char) *p;

		if (c == '"') {
			s->p = p + 1;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			p++;
			continue;
		}
		if (++p >= s->end)
			return false;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			p++;
			break;
		case 'u':
			if (s->end - p < 5)
				return false;
			for (int i = 1; i <= 4; i++)
				if (!isxdigit((unsigned char) p[i]))
					return false;
			p += 5;
			break;
		default:
			return false;
		}
	}
	return false;
}

/* The value of hex digit c (checked by scan_string). */
static unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
}

/*
 * True when the JSON string key[0..n) (quotes included, escapes checked by
 * scan_string) decodes to the ASCII text want: "model" however it is spelled
 * ("mod\u0065l", "\u006dodel").
 */
static bool
key_is(const char *key, size_t n, const char *want)
{
	const char *p = key + 1, *end = key + n - 1;

	for (; *want != '\0'; want++) {
		unsigned c;

		if (p >= end)
			return false;
		if (*p != '\\') {
			c = (unsigned char) *p++;
		} else if (p[1] == 'u') {
			c = hexval(p[2]) << 12 | hexval(p[3]) << 8 | hexval(p[4]) << 4 | hexval(p[5]);
			p += 6;
		} else {
			/* Only \" \\ \/ stand for printable characters; \b \f \n \r \t never match ASCII text. */
			c = p[1] == '"' || p[1] == '\\' || p[1] == '/' ? (unsigned char) p[1] : 0;
			p += 2;
		}
		if (c != (unsigned char) *want)
			return false;
	}
	return p == end;
}

static bool
scan_digits(struct scan *s)
{
	const char *b = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b;
}

static bool
scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return true;
}

static bool
scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* At '{'; depth is this object's depth (1: the top level). */
static bool
scan_object(struct scan *s, int depth)
{
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		const char *key, *val;
		bool is_model;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return false;
		key = s->p;
		if (!scan_string(s))
			return false;
		is_model = depth == 1 && key_is(key, (size_t) (s->p - key), "model");
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		s->p++;
		skip_ws(s);
		val = s->p;
		if (!scan_value(s, depth))
			return false;
		if (is_model) {
			if (!sg_buf_append(s->out, s->from, (size_t) (val - s->from)) ||
			    !sg_buf_append(s->out, s->model_json, strlen(s->model_json))) {
				s->nomem = true;
				return false;
			}
			s->from = s->p;
			s->nspans++;
		}
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == '}') {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
	}
}

static bool
scan_array(struct scan *s, int depth)
{
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return true;
	}
	for (;;) {
		if (!scan_value(s, depth))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == ']') {
			s->p++;
			return true;
		}
		if (*s->p++ != ',')
			return false;
	}
}

/* One value inside a container of the given depth. */
static bool
scan_value(struct scan *s, int depth)
{
	skip_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
		return depth < SCAN_MAX_DEPTH && scan_object(s, depth + 1);
	case '[':
		return depth < SCAN_MAX_DEPTH && scan_array(s, depth + 1);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return false;
	}
}

enum openai_rewrite
openai_rewrite_model(const char *json, size_t len, const char *model_json, struct sg_buf *out)
{
	struct scan s = {.p = json, .end = json + len, .from = json, .model_json = model_json, .out = out};
	size_t start_len = out->len;
	enum openai_rewrite rw = OPENAI_RW_NOT_OBJECT;

	skip_ws(&s);
	if (s.p < s.end && *s.p == '{' && scan_object(&s, 1)) {
		skip_ws(&s);
		if (s.p == s.end)
			rw = s.nspans > 0 ? OPENAI_RW_REPLACED : OPENAI_RW_NO_MODEL;
	}
	if (s.nomem)
		rw = OPENAI_RW_NOMEM;
	if (rw != OPENAI_RW_NOT_OBJECT && rw != OPENAI_RW_NOMEM &&
	    !sg_buf_append(out, s.from, (size_t) (json + len - s.from)))
		rw = OPENAI_RW_NOMEM;
	if (rw == OPENAI_RW_NOT_OBJECT || rw == OPENAI_RW_NOMEM) {
		out->len = start_len;
		if (out->p != NULL)
			out->p[start_len] = '\0';
	}
	return rw;
}

static bool
is_data_line(const char *line, size_t n)
{
	return n >= 5 && memcmp(line, "data:", 5) == 0;
}

bool
openai_sse_rewrite(const char *ev, size_t len, const char *model_json, struct sg_buf *out, bool *done)
{
	struct sg_buf joined = {0}, rewritten = {0};
	const char *end = ev + len, *data, *p;
	size_t dlen;
	int ndata;
	bool ok = false, emitted = false;

	/* The payload: the data lines' values joined (proxy.h's one reading of them). */
	ndata = proxy_sse_data(ev, len, &joined);
	if (ndata < 0)
		goto out;
	data = joined.p;
	dlen = joined.len;
	if (ndata > 0) {
		if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
			*done = true;
		} else {
			enum openai_rewrite rw = openai_rewrite_model(data, dlen, model_json, &rewritten);

			if (rw == OPENAI_RW_NOMEM)
				goto out;
			if (rw == OPENAI_RW_REPLACED) {
				data = rewritten.p;
				dlen = rewritten.len;
			}
		}
	}

	/* The event again, line by line, the (rewritten) payload where its first data line was. */
	for (p = ev; p < end;) {
		const char *nl = memchr(p, '\n', (size_t) (end - p)), *le = nl ? nl : end;

		if (!is_data_line(p, (size_t) (le - p))) {
			if (!sg_buf_append(out, p, (size_t) (le - p)) || !sg_buf_append(out, "\n", 1))
				goto out;
		} else if (!emitted) {
			const char *d = data, *dend = data + dlen;

			emitted = true;
			for (;;) {
				const char *dn = memchr(d, '\n', (size_t) (dend - d)), *de = dn ? dn : dend;

				if (!sg_buf_append(out, "data: ", 6) || !sg_buf_append(out, d, (size_t) (de - d)) ||
				    !sg_buf_append(out, "\n", 1))
					goto out;
				if (dn == NULL)
					break;
				d = dn + 1;
			}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	ok = sg_buf_append(out, "\n", 1);
out:
	sg_buf_free(&joined);
	sg_buf_free(&rewritten);
	return ok;
}
