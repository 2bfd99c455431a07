/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openai_rewrite.c: the text rewriting behind the OpenAI-compatible
 * endpoints (openai.c).  Bodies are rewritten as text, not parsed and
 * re-dumped: a small scanner checks the JSON grammar (RFC 8259; nesting
 * limited to 128) and finds the values of the top-level "model" member, and
 * only those bytes change, so everything else reaches the other side byte
 * for byte.  The same rewrite applies to each event of an SSE stream.  The
 * same scanner finds what accounting reads (a top-level "usage", "choices",
 * "stream_options") and makes a stream request ask for usage.  Run strict,
 * it is also the validating pass over a request body (openai_request_scan):
 * what jansson would refuse besides the grammar (UTF-8, \u escapes, number
 * overflow, duplicate keys, the configured depth) is refused too, so a body
 * need not be parsed to find its "model" and "stream".  Pure: no I/O, no
 * allocation but the output buffer's (and the strict pass's key list);
 * safe in any thread.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
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
/* A value's text inside the scanned input; p NULL when there was none. */
struct span {
	const char *p;
	size_t n;
};

struct scan {
	const char *p, *end;
	const char *from;       /* the first byte not yet copied to out */
	const char *model_json; /* what replaces each top-level "model" value; NULL: nothing is replaced */
	struct sg_buf *out;
	int nspans; /* top-level "model" values replaced */
	bool nomem;
	/* Top-level members to find: spans[i] is the last value of keys[i] (keys decoded as for "model"). */
	const char *const *keys;
	struct span *spans;
	size_t nkeys;
	int max_depth; /* containers nested deeper are refused */
	/* The validating pass (openai_request_scan): jansson's decisions besides the grammar. */
	bool strict;
	struct key *seen; /* the keys of the objects open, each object's after its parent's */
	size_t nseen, capseen;
	struct key *seen_local; /* the caller's array seen starts in (not freed), or NULL */
	struct sg_buf decoded;  /* the decoded text of the keys in seen that hold escapes */
};

/* A key of an object, decoded: k[0..n) once the object is complete (offset into decoded before). */
struct key {
	const char *k;
	size_t off, n;
	uint64_t hash;
};

/* Keys the validating scan holds without an allocation. */
#define SCAN_SEEN_LOCAL 32

static bool scan_value(struct scan *s, int depth);

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* The value of hex digit c (checked by scan_string). */
static unsigned
hexval(char c)
{
	return c <= '9' ? (unsigned) (c - '0') : (unsigned) ((c | 0x20) - 'a' + 10);
}

/* The value of the 4 hex digits at p. */
static unsigned
hex4(const char *p)
{
	return hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]);
}

static bool
is_hex4(const char *p)
{
	return isxdigit((unsigned char) p[0]) && isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]) &&
	       isxdigit((unsigned char) p[3]);
}

/*
 * What jansson refuses in a \u escape (p at its 'u', 4 hex digits checked):
 * \u0000, and a surrogate that is not a high one followed by a low one.
 * Moves p past a pair's first half.
 */
static bool
unicode_ok(const struct scan *s, const char **p)
{
	unsigned v = hex4(*p + 1);

	if (v == 0 || (v >= 0xDC00 && v <= 0xDFFF))
		return false;
	if (v < 0xD800 || v > 0xDBFF)
		return true;
	if (s->end - *p < 11 || (*p)[5] != '\\' || (*p)[6] != 'u' || !is_hex4(*p + 7))
		return false;
	v = hex4(*p + 7);
	if (v < 0xDC00 || v > 0xDFFF)
		return false;
	*p += 6;
	return true;
}

static bool
scan_string(struct scan *s)
{
	const char *p = s->p + 1;
	bool wide = false;

	while (p < s->end) {
		unsigned char c;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/*
		 * Eight bytes at a time to the first one the byte loop below must look at: a control,
		 * '"', '\\', or (until one was seen) one of 0x80 and more.  The SWAR tests flag exactly
		 * the lowest such byte (a borrow only runs upward from a byte that matched).
		 */
		while (s->end - p >= 8) {
			const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
			uint64_t w, q, b, m;

			memcpy(&w, p, 8);
			q = w ^ (ones * '"');
			b = w ^ (ones * '\\');
			m = (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | (wide ? 0 : w)) & high;
			if (m != 0) {
				p += __builtin_ctzll(m) >> 3;
				break;
			}
			p += 8;
		}
#endif
		if (p >= s->end)
			break;
		c = (unsigned char) *p;

		if (c == '"') {
			/* Escapes are ASCII, so the raw text is valid UTF-8 exactly when the decoded one is. */
			if (wide && s->strict && !sg_utf8_valid(s->p + 1, (size_t) (p - s->p - 1)))
				return false;
			s->p = p + 1;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			wide |= c >= 0x80;
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
			if (s->end - p < 5 || !is_hex4(p + 1) || (s->strict && !unicode_ok(s, &p)))
				return false;
			p += 5;
			break;
		default:
			return false;
		}
	}
	return false;
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
			c = hex4(p + 2);
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

/*
 * Whether jansson takes the number b[0..n) (grammar checked): an integer
 * must fit int64 (strtoll), a real must not overflow a double (strtod gives
 * HUGE_VAL); an underflow is taken.  strtod runs only when the magnitude
 * can reach 10^308.
 */
static bool
number_fits(struct scan *s, const char *b, size_t n, const char *frac, const char *exp)
{
	static const char max[] = "9223372036854775807";
	const char *d = b[0] == '-' ? b + 1 : b;
	size_t ndig = (size_t) ((frac ? frac : exp ? exp : b + n) - d);
	char local[64], *copy;
	long e = 0;
	double v;
	bool ok;

	if (frac == NULL && exp == NULL) {
		if (ndig != sizeof(max) - 1)
			return ndig < sizeof(max) - 1;
		/* 19 digits: at most 2^63-1, or 2^63 written negative. */
		return memcmp(d, max, ndig) < 0 ||
		       (memcmp(d, max, ndig - 1) == 0 && d[ndig - 1] <= (b[0] == '-' ? '8' : '7'));
	}
	if (d[0] == '0')
		ndig = 0;
	if (exp != NULL) {
		const char *q = exp + 1, *end = b + n;
		bool neg = *q == '-';

		if (*q == '+' || *q == '-')
			q++;
		while (q < end && *q == '0')
			q++;
		if (end - q > 6)
			e = neg ? -10000000 : 10000000;
		for (; q < end && end - q <= 6; q++)
			e = e * 10 + (*q - '0');
		if (neg && e > 0)
			e = -e;
	}
	/* |value| < 10^(ndig + e); DBL_MAX is above 10^308. */
	if ((long) ndig + e <= 308 && e < 10000000)
		return true;
	copy = n < sizeof(local) ? local : malloc(n + 1);
	if (copy == NULL) {
		s->nomem = true;
		return false;
	}
	memcpy(copy, b, n);
	copy[n] = '\0';
	v = strtod(copy, NULL);
	ok = v != HUGE_VAL && v != -HUGE_VAL;
	if (copy != local)
		free(copy);
	return ok;
}

static bool
scan_number(struct scan *s)
{
	const char *b = s->p, *frac = NULL, *exp = NULL;

	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!scan_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		frac = s->p++;
		if (!scan_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		exp = s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!scan_digits(s))
			return false;
	}
	return !s->strict || number_fits(s, b, (size_t) (s->p - b), frac, exp);
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

/* Appends the decoded text of the (scanned) JSON string q[0..n), quotes included, to out. */
static bool
decode_string(const char *q, size_t n, struct sg_buf *out)
{
	size_t i = 1, from = 1;

	if (!sg_buf_reserve(out, n))
		return false;
	while (i + 1 < n) {
		char u[4];
		size_t raw, k;

		if (q[i] != '\\') {
			i++;
			continue;
		}
		k = sg_json_unescape(q, n - 1, i, u, &raw);
		if (!sg_buf_append(out, q + from, i - from) || !sg_buf_append(out, u, k))
			return false;
		i += raw;
		from = i;
	}
	return sg_buf_append(out, q + from, n - 1 - from);
}

/* The project's FNV-1a (sg.h) over the key's n bytes, which are not NUL-terminated. */
static uint64_t
hash_of(const char *k, size_t n)
{
	uint64_t h = SG_FNV1A_INIT;

	for (size_t i = 0; i < n; i++)
		h = sg_fnv1a_byte(h, (unsigned char) k[i]);
	return h;
}

/* Notes the key key[0..n) (quotes included) of the innermost open object, decoded. */
static bool
note_key(struct scan *s, const char *key, size_t n)
{
	struct key *k;

	if (s->nseen == s->capseen) {
		size_t cap = s->capseen ? s->capseen * 2 : 32;
		struct key *grown = s->seen == s->seen_local ? sg_malloc(cap * sizeof(*grown))
							     : sg_realloc(s->seen, cap * sizeof(*grown));

		if (grown == NULL) {
			s->nomem = true;
			return false;
		}
		if (s->seen == s->seen_local && s->nseen > 0)
			memcpy(grown, s->seen, s->nseen * sizeof(*grown));
		s->seen = grown;
		s->capseen = cap;
	}
	k = &s->seen[s->nseen++];
	if (memchr(key + 1, '\\', n - 2) == NULL) {
		k->k = key + 1;
		k->n = n - 2;
	} else {
		k->k = NULL;
		k->off = s->decoded.len;
		if (!decode_string(key, n, &s->decoded)) {
			s->nomem = true;
			return false;
		}
		k->n = s->decoded.len - k->off;
	}
	k->hash = hash_of(k->k != NULL ? k->k : s->decoded.p + k->off, k->n);
	return true;
}

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->k, y->k, x->n);
}

/* True when the keys seen[mark..] of the object just closed are all different; forgets them. */
static bool
keys_distinct(struct scan *s, size_t mark, size_t decoded_mark)
{
	struct key *k = s->seen + mark;
	size_t n = s->nseen - mark;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		if (k[i].k == NULL)
			k[i].k = s->decoded.p + k[i].off;
	if (n <= 8) {
		for (size_t i = 0; ok && i < n; i++)
			for (size_t j = i + 1; ok && j < n; j++)
				ok = key_cmp(&k[i], &k[j]) != 0;
	} else {
		qsort(k, n, sizeof(*k), key_cmp);
		for (size_t i = 1; ok && i < n; i++)
			ok = key_cmp(&k[i - 1], &k[i]) != 0;
	}
	s->nseen = mark;
	s->decoded.len = decoded_mark;
	return ok;
}

/* At '{'; depth is this object's depth (1: the top level). */
static bool
scan_object(struct scan *s, int depth)
{
	size_t mark = s->nseen, decoded_mark = s->decoded.len;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		const char *key, *val;
		size_t keylen;
		bool is_model;

		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return false;
		key = s->p;
		if (!scan_string(s))
			return false;
		keylen = (size_t) (s->p - key);
		if (s->strict && !note_key(s, key, keylen))
			return false;
		is_model = depth == 1 && s->model_json != NULL && key_is(key, keylen, "model");
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return false;
		s->p++;
		skip_ws(s);
		val = s->p;
		if (!scan_value(s, depth))
			return false;
		for (size_t i = 0; depth == 1 && i < s->nkeys; i++)
			if (key_is(key, keylen, s->keys[i])) {
				s->spans[i].p = val;
				s->spans[i].n = (size_t) (s->p - val);
			}
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
			return !s->strict || keys_distinct(s, mark, decoded_mark);
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
		return depth < s->max_depth && scan_object(s, depth + 1);
	case '[':
		return depth < s->max_depth && scan_array(s, depth + 1);
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

/* Scans the whole text: exactly one object, blanks around it. */
static bool
scan_whole(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end || *s->p != '{' || !scan_object(s, 1))
		return false;
	skip_ws(s);
	return s->p == s->end;
}

/* Cuts out back to its first len bytes (what it held before a failed append). */
static void
roll_back(struct sg_buf *out, size_t len)
{
	out->len = len;
	if (out->p != NULL)
		out->p[len] = '\0';
}

/* openai_rewrite_model(), also noting the spans of keys[0..nkeys) (all NULL unless one object). */
static enum openai_rewrite
rewrite(const char *json, size_t len, const char *model_json, struct sg_buf *out, const char *const *keys,
	struct span *spans, size_t nkeys)
{
	struct scan s = {.p = json,
			 .end = json + len,
			 .from = json,
			 .model_json = model_json,
			 .out = out,
			 .keys = keys,
			 .spans = spans,
			 .nkeys = nkeys,
			 .max_depth = SCAN_MAX_DEPTH};
	size_t start_len = out->len;
	enum openai_rewrite rw = OPENAI_RW_NOT_OBJECT;

	if (nkeys > 0) /* spans is NULL when no member is asked for */
		memset(spans, 0, nkeys * sizeof(*spans));
	if (scan_whole(&s))
		rw = s.nspans > 0 ? OPENAI_RW_REPLACED : OPENAI_RW_NO_MODEL;
	if (s.nomem)
		rw = OPENAI_RW_NOMEM;
	if (rw != OPENAI_RW_NOT_OBJECT && rw != OPENAI_RW_NOMEM &&
	    !sg_buf_append(out, s.from, (size_t) (json + len - s.from)))
		rw = OPENAI_RW_NOMEM;
	if (rw == OPENAI_RW_NOT_OBJECT || rw == OPENAI_RW_NOMEM) {
		roll_back(out, start_len);
		if (nkeys > 0)
			memset(spans, 0, nkeys * sizeof(*spans));
	}
	return rw;
}

enum openai_rewrite
openai_rewrite_model(const char *json, size_t len, const char *model_json, struct sg_buf *out)
{
	return rewrite(json, len, model_json, out, NULL, NULL, 0);
}

/* Finds the top-level members keys[0..n) of json (exactly one object); false when it is not one. */
static bool
find_members(const char *json, size_t len, const char *const *keys, struct span *spans, size_t n)
{
	struct scan s = {.p = json,
			 .end = json + len,
			 .from = json,
			 .keys = keys,
			 .spans = spans,
			 .nkeys = n,
			 .max_depth = SCAN_MAX_DEPTH};
	bool ok;

	memset(spans, 0, n * sizeof(*spans));
	ok = scan_whole(&s);
	if (!ok)
		memset(spans, 0, n * sizeof(*spans));
	return ok;
}

/* A token count: a JSON integer from 0 to 10^15 (more is no count a model reports). */
#define COUNT_MAX_DIGITS 15
static bool
parse_count(struct span v, int64_t *out)
{
	int64_t n = 0;

	if (v.n == 0 || v.n > COUNT_MAX_DIGITS || (v.n > 1 && v.p[0] == '0'))
		return false;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		n = n * 10 + (v.p[i] - '0');
	}
	*out = n;
	return true;
}

bool
openai_usage_parse(const char *v, size_t len, struct openai_usage *u)
{
	static const char *const keys[] = {"prompt_tokens", "completion_tokens", "total_tokens"};
	struct span sp[3];
	int64_t n[3] = {0, 0, 0};
	bool any = false;

	memset(u, 0, sizeof(*u));
	if (v == NULL || !find_members(v, len, keys, sp, 3))
		return false;
	for (int i = 0; i < 3; i++) {
		if (sp[i].p == NULL)
			continue;
		if (!parse_count(sp[i], &n[i]))
			return false;
		any = true;
	}
	if (!any)
		return false;
	u->found = true;
	u->prompt_tokens = n[0];
	u->completion_tokens = n[1];
	u->total_tokens = sp[2].p != NULL ? n[2] : n[0] + n[1];
	return true;
}

enum openai_rewrite
openai_rewrite_model_usage(const char *json, size_t len, const char *model_json, struct sg_buf *out,
			   struct openai_usage *usage)
{
	static const char *const keys[] = {"usage"};
	struct span sp;
	enum openai_rewrite rw = rewrite(json, len, model_json, out, keys, &sp, 1);

	memset(usage, 0, sizeof(*usage));
	if (sp.p != NULL)
		(void) openai_usage_parse(sp.p, sp.n, usage);
	return rw;
}

/* True when v is an empty JSON array ("[]", blanks allowed inside). */
static bool
is_empty_array(struct span v)
{
	size_t i = 1;

	if (v.p == NULL || v.n < 2 || v.p[0] != '[')
		return false;
	while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == '\n' || v.p[i] == '\r'))
		i++;
	return i + 1 == v.n && v.p[i] == ']';
}

/* Appends json[0..len) to out with json[at..at+cut) replaced by ins. */
static bool
splice(struct sg_buf *out, const char *json, size_t len, size_t at, size_t cut, const char *ins)
{
	return sg_buf_append(out, json, at) && sg_buf_append(out, ins, strlen(ins)) &&
	       sg_buf_append(out, json + at + cut, len - at - cut);
}

/*
 * Appends json[0..len) to out with member inserted as the first member of
 * the (scanned, well-formed) object whose '{' is at brace: a comma follows
 * it unless the object was empty.
 */
static bool
insert_first(struct sg_buf *out, const char *json, size_t len, const char *brace, const char *member)
{
	const char *q = brace + 1;
	size_t at = (size_t) (q - json);

	while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
		q++;
	return sg_buf_append(out, json, at) && sg_buf_append(out, member, strlen(member)) &&
	       (*q == '}' || sg_buf_append(out, ",", 1)) && sg_buf_append(out, json + at, len - at);
}

enum openai_stream_usage
openai_stream_ask_usage(const char *json, size_t len, struct sg_buf *out)
{
	static const char *const top[] = {"stream_options"};
	static const char *const inner[] = {"include_usage"};
	struct span so, iu;
	size_t start_len = out->len;
	bool ok;

	if (!find_members(json, len, top, &so, 1))
		return OPENAI_SU_NOT_OBJECT;
	if (so.p == NULL) {
		ok = insert_first(out, json, len, memchr(json, '{', len),
				  "\"stream_options\":{\"include_usage\":true}");
	} else if (so.n == 4 && memcmp(so.p, "null", 4) == 0) {
		ok = splice(out, json, len, (size_t) (so.p - json), so.n, "{\"include_usage\":true}");
	} else if (so.p[0] != '{') {
		return OPENAI_SU_CANNOT;
	} else {
		(void) find_members(so.p, so.n, inner, &iu, 1);
		if (iu.p != NULL && iu.n == 4 && memcmp(iu.p, "true", 4) == 0)
			return OPENAI_SU_ASKED;
		if (iu.p != NULL)
			ok = splice(out, json, len, (size_t) (iu.p - json), iu.n, "true");
		else
			ok = insert_first(out, json, len, so.p, "\"include_usage\":true");
	}
	if (!ok) {
		roll_back(out, start_len);
		return OPENAI_SU_NOMEM;
	}
	return OPENAI_SU_ADDED;
}

static bool
is_data_line(const char *line, size_t n)
{
	return n >= 5 && memcmp(line, "data:", 5) == 0;
}

bool
openai_sse_rewrite(const char *ev, size_t len, const char *model_json, struct sg_buf *out, bool *done)
{
	struct openai_event seen;
	bool ok = openai_sse_relay(ev, len, model_json, false, out, &seen);

	if (seen.done)
		*done = true;
	return ok;
}

bool
openai_sse_relay(const char *ev, size_t len, const char *model_json, bool drop_usage_only, struct sg_buf *out,
		 struct openai_event *seen)
{
	static const char *const keys[] = {"usage", "choices"};
	struct span sp[2];
	struct sg_buf joined = {0}, rewritten = {0};
	const char *end = ev + len, *data, *p;
	size_t dlen;
	int ndata;
	bool ok = false, emitted = false;

	memset(seen, 0, sizeof(*seen));
	/* The payload: the data lines' values joined (proxy.h's one reading of them). */
	ndata = proxy_sse_data(ev, len, &joined);
	if (ndata < 0)
		goto out;
	data = joined.p;
	dlen = joined.len;
	if (ndata > 0) {
		if (dlen == 6 && memcmp(data, "[DONE]", 6) == 0) {
			seen->done = true;
		} else {
			enum openai_rewrite rw = rewrite(data, dlen, model_json, &rewritten, keys, sp, 2);

			if (rw == OPENAI_RW_NOMEM)
				goto out;
			if (sp[0].p != NULL && openai_usage_parse(sp[0].p, sp[0].n, &seen->usage))
				seen->usage_only = is_empty_array(sp[1]);
			if (seen->usage_only && drop_usage_only) {
				seen->dropped = true;
				ok = true;
				goto out;
			}
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

static enum openai_field
field_of(struct span v)
{
	if (v.p == NULL || (v.n == 4 && memcmp(v.p, "null", 4) == 0))
		return OPENAI_F_ABSENT;
	if (v.p[0] == '"')
		return OPENAI_F_STRING;
	if (v.n == 4 && memcmp(v.p, "true", 4) == 0)
		return OPENAI_F_TRUE;
	if (v.n == 5 && memcmp(v.p, "false", 5) == 0)
		return OPENAI_F_FALSE;
	return OPENAI_F_OTHER;
}

enum openai_scan
openai_request_scan(const char *json, size_t len, int max_depth, struct openai_request_fields *f)
{
	static const char *const keys[] = {"model", "stream"};
	struct span sp[2] = {{0}};
	struct sg_buf name = {0};
	/* A request's keys fit here (no allocation); an object with more moves them to the heap. */
	struct key seen[SCAN_SEEN_LOCAL];
	struct scan s = {.p = json,
			 .end = json + len,
			 .from = json,
			 .keys = keys,
			 .spans = sp,
			 .nkeys = 2,
			 .max_depth = max_depth,
			 .strict = true,
			 .seen = seen,
			 .capseen = SCAN_SEEN_LOCAL,
			 .seen_local = seen};
	bool ok;

	memset(f, 0, sizeof(*f));
	ok = scan_whole(&s);
	if (s.seen != seen)
		free(s.seen);
	sg_buf_free(&s.decoded);
	if (s.nomem)
		return OPENAI_SCAN_NOMEM;
	if (!ok)
		return OPENAI_SCAN_INVALID;
	f->model = field_of(sp[0]);
	f->stream = field_of(sp[1]);
	if (f->model == OPENAI_F_STRING) {
		if (!decode_string(sp[0].p, sp[0].n, &name)) {
			sg_buf_free(&name);
			memset(f, 0, sizeof(*f));
			return OPENAI_SCAN_NOMEM;
		}
		f->model_name = name.p;
	}
	return OPENAI_SCAN_OK;
}
