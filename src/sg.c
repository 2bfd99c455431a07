/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sg.c: the status tables generated from SG_STATUS_TABLE, the error carrier
 * (struct sg_err), the growable buffer (struct sg_buf), string vectors,
 * allocation wrappers (with the test countdown) and the clock.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sg.h"

#if defined(__SANITIZE_ADDRESS__)
#define SG_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SG_LSAN 1
#endif
#endif
#ifdef SG_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static const struct {
	const char *name;
	int http;
	const char *type, *code;
} status_table[] = {
#define SG_X_ROW(name, http, type, code) {#name, http, type, code},
	SG_STATUS_TABLE(SG_X_ROW)
#undef SG_X_ROW
};

const char *
sg_status_name(sg_status st)
{
	if ((unsigned) st >= SG_STATUS_COUNT)
		return "SG_E_UNKNOWN";
	return status_table[st].name;
}

int
sg_status_http(sg_status st)
{
	if ((unsigned) st >= SG_STATUS_COUNT)
		return 500;
	return status_table[st].http;
}

const char *
sg_status_type(sg_status st)
{
	if ((unsigned) st >= SG_STATUS_COUNT)
		return "internal_error";
	return status_table[st].type;
}

const char *
sg_status_code(sg_status st)
{
	if ((unsigned) st >= SG_STATUS_COUNT)
		return "unknown";
	return status_table[st].code;
}

const char *
sg_http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

bool
sg_strv_push(struct sg_strv *sv, const char *s)
{
	char **v;
	char *copy = sg_strdup(s);

	if (copy == NULL)
		return false;
	v = sg_realloc(sv->v, (sv->n + 1) * sizeof(*v));
	if (v == NULL) {
		free(copy);
		return false;
	}
	v[sv->n++] = copy;
	sv->v = v;
	return true;
}

bool
sg_strv_contains(const struct sg_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void
sg_strv_free(struct sg_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/*
 * The test countdown (sg.h).  alloc_armed is written only by
 * sg_alloc_fail_after(), which production code never calls, so a worker
 * thread only ever reads a constant false: the one check on the fast path.
 */
static bool alloc_armed;
static long alloc_fail_at;
static long alloc_made;
/* Allocations through the wrappers that returned NULL in this thread (sg_alloc_failures). */
static _Thread_local unsigned long alloc_failed;
/* Non-zero while the countdown skips this thread's allocations (sg_alloc_pause). */
static _Thread_local unsigned alloc_paused;

void
sg_alloc_fail_after(long n)
{
	alloc_armed = n >= 0;
	alloc_fail_at = n;
	alloc_made = 0;
}

long
sg_alloc_count(void)
{
	return alloc_made;
}

unsigned long
sg_alloc_failures(void)
{
	return alloc_failed;
}

void
sg_alloc_pause(bool pause)
{
	if (pause)
		alloc_paused++;
	else if (alloc_paused > 0)
		alloc_paused--;
}

/* True when this allocation is the one the countdown says must fail. */
static bool
alloc_fails(void)
{
	if (!alloc_armed || alloc_paused)
		return false;
	return alloc_made++ == alloc_fail_at;
}

/* p, counting it as a failure when it is NULL. */
static void *
counted(void *p)
{
	if (p == NULL)
		alloc_failed++;
	return p;
}

void *
sg_malloc(size_t n)
{
	return counted(alloc_fails() ? NULL : malloc(n ? n : 1));
}

void *
sg_calloc(size_t n, size_t size)
{
	return counted(alloc_fails() ? NULL : calloc(n ? n : 1, size ? size : 1));
}

void *
sg_realloc(void *p, size_t n)
{
	return counted(alloc_fails() ? NULL : realloc(p, n ? n : 1));
}

char *
sg_strdup(const char *s)
{
	return s ? sg_strndup(s, strlen(s)) : NULL;
}

char *
sg_strndup(const char *s, size_t n)
{
	char *out;

	if (s == NULL)
		return NULL;
	n = strnlen(s, n);
	if ((out = sg_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

char *
sg_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *out;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (len < 0 || (out = sg_malloc((size_t) len + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	if (vsnprintf(out, (size_t) len + 1, fmt, ap) != len) {
		free(out);
		out = NULL;
	}
	va_end(ap);
	return out;
}

/* The length of the well-formed UTF-8 sequence at p (before end), or 0 when it is not one. */
static size_t
utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = *p, cp, min;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if ((size_t) (end - p) < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
sg_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *) s, *end = p + n;
	size_t len;

	for (;;) {
		/* ASCII eight bytes at a time (paths, ids, JSON keys are mostly that). */
		uint64_t w;

		while (end - p >= 8 && (memcpy(&w, p, 8), (w & UINT64_C(0x8080808080808080)) == 0))
			p += 8;
		if (p >= end)
			return true;
		if ((len = utf8_seq_len(p, end)) == 0)
			return false;
		p += len;
	}
}

size_t
sg_utf8_prefix(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t n = strnlen(s, max), k;

	/* p[n] is the first byte left out: when it continues a sequence, leave out that sequence's start too. */
	if (n < max || (p[n] & 0xc0) != 0x80)
		return n;
	for (k = n; k > 0 && n - k < 4 && (p[k - 1] & 0xc0) == 0x80; k--)
		;
	return k > 0 && n - k < 4 ? k - 1 : n;
}

void
sg_utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *) s, *end = p + strlen(s);
	size_t len;

	for (; p < end; p += len)
		if ((len = utf8_seq_len(p, end)) == 0) {
			*p = '?';
			len = 1;
		}
}

bool
sg_buf_reserve(struct sg_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->max > 0 && (n > b->max || b->len > b->max - n)) {
		b->too_big = true;
		return false;
	}
	if (n >= SIZE_MAX / 2 - b->len)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	/* Doubling, or straight to what is asked when that is more (a caller that knows its size). */
	cap = b->cap ? b->cap * 2 : 256;
	if (cap < b->len + n + 1)
		cap = b->len + n + 1;
	p = sg_realloc(b->p, cap);
	if (p == NULL)
		return false;
	if (b->p == NULL)
		p[0] = '\0';
	b->p = p;
	b->cap = cap;
	return true;
}

bool
sg_buf_append(struct sg_buf *b, const void *s, size_t n)
{
	if (!sg_buf_reserve(b, n))
		return false;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

void
sg_buf_free(struct sg_buf *b)
{
	size_t max = b->max;

	free(b->p);
	memset(b, 0, sizeof(*b));
	b->max = max;
}

uint64_t
sg_fnv1a(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = sg_fnv1a_byte(h, (unsigned char) *s);
	return h;
}

size_t
sg_fmt_i64(char *buf, int64_t v)
{
	/* Two digits per division, written in place: the limits' headers write numbers of ten and more digits. */
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	static const uint64_t pow10[] = {UINT64_C(10),
					 UINT64_C(100),
					 UINT64_C(1000),
					 UINT64_C(10000),
					 UINT64_C(100000),
					 UINT64_C(1000000),
					 UINT64_C(10000000),
					 UINT64_C(100000000),
					 UINT64_C(1000000000),
					 UINT64_C(10000000000),
					 UINT64_C(100000000000),
					 UINT64_C(1000000000000),
					 UINT64_C(10000000000000),
					 UINT64_C(100000000000000),
					 UINT64_C(1000000000000000),
					 UINT64_C(10000000000000000),
					 UINT64_C(100000000000000000),
					 UINT64_C(1000000000000000000),
					 UINT64_C(10000000000000000000)};
	uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	size_t digits = 1, len;
	char *e;

	while (digits <= SG_ARRAY_LEN(pow10) && u >= pow10[digits - 1])
		digits++;
	len = digits + (v < 0);
	e = buf + len;
	*e = '\0';
	while (u >= 100) {
		size_t i = (size_t) (u % 100) * 2;

		u /= 100;
		*--e = pairs[i + 1];
		*--e = pairs[i];
	}
	if (u >= 10) {
		*--e = pairs[u * 2 + 1];
		*--e = pairs[u * 2];
	} else {
		*--e = (char) ('0' + u);
	}
	if (v < 0)
		*--e = '-';
	return len;
}

sg_status
sg_vfail(struct sg_err *e, sg_status st, const char *param, const char *fmt, va_list ap)
{
	if (e == NULL)
		return st;
	e->status = st;
	snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	/* A value cut mid-character, or a client's odd bytes, must not make the error body fail to encode. */
	sg_utf8_scrub(e->param);
	sg_utf8_scrub(e->msg);
	return st;
}

sg_status
sg_fail(struct sg_err *e, sg_status st, const char *param, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	st = sg_vfail(e, st, param, fmt, ap);
	va_end(ap);
	return st;
}

void
sg_err_detail(struct sg_err *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	sg_utf8_scrub(e->detail);
}

sg_status
sg_err_nomem(struct sg_err *e, sg_status st)
{
	if (st == SG_E_NOMEM && e != NULL && e->msg[0] == '\0')
		sg_fail(e, st, NULL, "out of memory");
	return st;
}

void
sg_err_reset(struct sg_err *e)
{
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}

void
sg_leak_check(void)
{
#ifdef SG_LSAN
	__lsan_do_leak_check();
#endif
}

void
sg_test_pause(const char *knob)
{
#ifdef SG_TEST_KNOBS
	const char *v = getenv(knob);
	int ms = v != NULL ? atoi(v) : 0;

	if (ms > 0) {
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000};

		while (nanosleep(&ts, &ts) != 0)
			;
	}
#else
	(void) knob;
#endif
}

void
sg_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

void
sg_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_us)
{
	struct timespec ts = {.tv_sec = (time_t) (deadline_us / 1000000),
			      .tv_nsec = (long) (deadline_us % 1000000) * 1000};

	(void) pthread_cond_timedwait(c, m, &ts);
}

int64_t
sg_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
sg_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
sg_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}
