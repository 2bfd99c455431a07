/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sg.h: what every stackgate module shares: the status table, string
 * vectors and small helpers.  The status table is the one place that lists
 * every outcome the code can produce, with its HTTP status and OpenAI error
 * type; the enum, the name table and the mappings are generated from it.
 */
#ifndef SG_H
#define SG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_MUST_CHECK __attribute__((warn_unused_result))
#define SG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Each status: its HTTP status (0 for SG_E_UPSTREAM: the upstream reply's),
 * OpenAI's error type and error code (sg_status_code: both 429s for rate
 * limits have OpenAI's one code, told apart by their type; a refused key has
 * OpenAI's "invalid_api_key", as nginx's @unauthorized answer).  The table
 * is aligned by hand:
 */
/* clang-format off */
/*        name                    HTTP  OpenAI error type             OpenAI error code */
#define SG_STATUS_TABLE(X)                                                                     \
	X(SG_OK,                    200,  NULL,                         "ok")                  \
	X(SG_E_BAD_REQUEST,         400,  "invalid_request_error",      "bad_request")         \
	X(SG_E_UNAUTHORIZED,        401,  "authentication_error",       "invalid_api_key")     \
	X(SG_E_FORBIDDEN,           403,  "permission_error",           "forbidden")           \
	X(SG_E_NOT_FOUND,           404,  "not_found_error",            "not_found")           \
	X(SG_E_METHOD,              405,  "invalid_request_error",      "method")              \
	X(SG_E_CONFLICT,            409,  "conflict_error",             "conflict")            \
	X(SG_E_TOO_LARGE,           413,  "invalid_request_error",      "too_large")           \
	X(SG_E_UNSUPPORTED_MEDIA,   415,  "invalid_request_error",      "unsupported_media")   \
	X(SG_E_UPGRADE,             426,  "invalid_request_error",      "upgrade")             \
	X(SG_E_RATE_LIMIT_EXCEEDED, 429,  "requests",                   "rate_limit_exceeded") \
	X(SG_E_RATE_LIMIT_TOKENS,   429,  "tokens",                     "rate_limit_exceeded") \
	X(SG_E_INSUFFICIENT_QUOTA,  429,  "insufficient_quota",         "insufficient_quota")  \
	X(SG_E_INTERNAL,            500,  "internal_error",             "internal")            \
	X(SG_E_NOMEM,               500,  "internal_error",             "nomem")               \
	X(SG_E_NOT_IMPLEMENTED,     501,  "not_implemented_error",      "not_implemented")     \
	X(SG_E_BAD_GATEWAY,         502,  "upstream_error",             "bad_gateway")         \
	X(SG_E_UNAVAILABLE,         503,  "service_unavailable_error",  "unavailable")         \
	X(SG_E_GATEWAY_TIMEOUT,     504,  "timeout_error",              "gateway_timeout")     \
	X(SG_E_UPSTREAM,            0,    "upstream_error",             "upstream")
/* clang-format on */

enum sg_status {
#define SG_X_ENUM(name, http, type, code) name,
	SG_STATUS_TABLE(SG_X_ENUM)
#undef SG_X_ENUM
		SG_STATUS_COUNT
};
typedef enum sg_status sg_status;

/* The enum constant's name, e.g. "SG_E_NOT_FOUND". */
const char *sg_status_name(sg_status st);
/* The HTTP status code for st; 0 for SG_E_UPSTREAM (the caller supplies it). */
int sg_status_http(sg_status st);
/* The OpenAI error "type" for st, or NULL for SG_OK. */
const char *sg_status_type(sg_status st);
/*
 * The error code for OpenAI's "code" field ("not_found"): mostly the status
 * name without its "SG_E_" prefix, in lower case, but SG_E_RATE_LIMIT_TOKENS
 * is OpenAI's "rate_limit_exceeded" (its type "tokens" tells it from
 * SG_E_RATE_LIMIT_EXCEEDED's "requests"), and SG_E_UNAUTHORIZED OpenAI's
 * "invalid_api_key", as nginx's @unauthorized answer says after an auth
 * subrequest: one 401 body whoever refuses.  "unknown" for a status out of
 * the table.
 */
const char *sg_status_code(sg_status st);
/* The reason phrase for an HTTP status code ("Not Found"). */
const char *sg_http_reason(int code);

/*
 * Why an operation failed, carried from where it is known to where it is
 * answered: the one error carrier of the code base.  A function that can
 * fail returns its sg_status and, when the caller passed one, fills a struct
 * sg_err with
 *   msg     a client-safe message naming the problem (PostgreSQL style: lower
 *           case, no trailing period), "" when the status's reason phrase
 *           will do;
 *   param   the request field it is about, for OpenAI's "param" ("" if none);
 *   detail  what only the log may see (SQL, libpq's and curl's reasons,
 *           upstream bodies), "" if none; never sent to a client.
 * The buffers are fixed, so recording an error never allocates and works
 * when memory has run out; whatever is written is cut to fit and stored as
 * valid UTF-8 (sg_utf8_scrub), so an error body can always be encoded.  A
 * zeroed struct is "no error".  The request carries one (http.h: r->err),
 * so a handler passes &r->err down and the worker answers from it.
 */
struct sg_err {
	sg_status status; /* what sg_fail() recorded; SG_OK when nothing was */
	char param[128];
	char msg[1024];
	char detail[512];
};

/*
 * Records st, param (NULL: none) and the formatted client-safe message in e
 * (NULL: the caller wants no message) and returns st, so a failure is one
 * line: `return sg_fail(err, SG_E_BAD_REQUEST, "model_id", "… %s", id);`.
 * The detail is left as it is.
 */
sg_status sg_fail(struct sg_err *e, sg_status st, const char *param, const char *fmt, ...) SG_PRINTF(4, 5);
/* sg_fail() with a va_list. */
sg_status sg_vfail(struct sg_err *e, sg_status st, const char *param, const char *fmt, va_list ap) SG_PRINTF(4, 0);
/* Records the log-only detail in e (NULL: nothing). */
void sg_err_detail(struct sg_err *e, const char *fmt, ...) SG_PRINTF(2, 3);
/*
 * The last line of a function whose allocation failures are plain
 * SG_E_NOMEM: returns st, having recorded "out of memory" in e when st is
 * SG_E_NOMEM and e holds no message yet.
 */
sg_status sg_err_nomem(struct sg_err *e, sg_status st);
/* Clears e to "no error".  Idempotent; e may be NULL. */
void sg_err_reset(struct sg_err *e);

/* A growable vector of owned strings. */
struct sg_strv {
	char **v;
	size_t n;
};

/* Appends a copy of s; false on allocation failure. */
bool sg_strv_push(struct sg_strv *sv, const char *s) SG_MUST_CHECK;
/* True when s is one of sv's strings. */
bool sg_strv_contains(const struct sg_strv *sv, const char *s);
/* Frees every string and the array; leaves sv empty.  Idempotent. */
void sg_strv_free(struct sg_strv *sv);

/*
 * The growable byte buffer, the one in the code base: p is NUL-terminated
 * after len bytes whenever p != NULL (so text can be used as a string), and
 * grows through sg_realloc (the test countdown reaches it): from 256 bytes,
 * doubling, or at once to what one call asks for when that is more.
 * Bounded: with max > 0 it never holds more than max bytes; an append past
 * it fails, changes nothing and sets too_big.  A zeroed
 * struct is an empty, unbounded buffer; {.max = N} a bounded one.  Free with
 * sg_buf_free(), or take p (then the caller frees it).
 */
struct sg_buf {
	char *p;
	size_t len, cap; /* cap counts the NUL's byte */
	size_t max;      /* 0: no bound but memory */
	bool too_big;    /* an append was refused for max */
};

/* FNV-1a, 64 bits: start from SG_FNV1A_INIT, continue with each string (sg_fnv1a) or byte (sg_fnv1a_byte). */
#define SG_FNV1A_INIT UINT64_C(14695981039346656037)
static inline uint64_t
sg_fnv1a_byte(uint64_t h, unsigned char c)
{
	return (h ^ c) * UINT64_C(1099511628211);
}
uint64_t sg_fnv1a(uint64_t h, const char *s);

/* Room for any int64_t in decimal with its sign and NUL. */
#define SG_I64_DIGITS 21
/* v in decimal into buf (SG_I64_DIGITS bytes), NUL-terminated, without printf; its length. */
size_t sg_fmt_i64(char *buf, int64_t v);

/* Appends n bytes of s; false (b unchanged) when out of memory or past max (too_big). */
bool sg_buf_append(struct sg_buf *b, const void *s, size_t n) SG_MUST_CHECK;
/*
 * Makes room for n more bytes (and the NUL) without changing len, for a
 * caller that writes into p + len itself; false as for sg_buf_append().
 */
bool sg_buf_reserve(struct sg_buf *b, size_t n) SG_MUST_CHECK;
/* Frees the bytes and empties b (max is kept).  Idempotent. */
void sg_buf_free(struct sg_buf *b);

/*
 * Allocation wrappers: abort on failure is not our policy, they return NULL.
 * Every one (sg_asprintf included) makes at most one allocation, through the
 * test countdown below; so does jansson when a test hands it sg_malloc
 * (json_set_alloc_funcs(sg_malloc, free)).  Memory from them is freed with
 * free().
 */
void *sg_malloc(size_t n);
void *sg_calloc(size_t n, size_t size);
void *sg_realloc(void *p, size_t n);
char *sg_strdup(const char *s);
char *sg_strndup(const char *s, size_t n);
/* printf into a new string; NULL on failure. */
char *sg_asprintf(const char *fmt, ...) SG_PRINTF(1, 2);

/*
 * The test countdown, for unit tests that fail each allocation of an
 * operation in turn.  sg_alloc_fail_after(n) arms it: of the allocations the
 * wrappers above make from now on, the one with index n (0 = the next one)
 * returns NULL and the others succeed; n = -1 disarms it (the state a process
 * starts in).  sg_alloc_count() is how many allocations were attempted since
 * the last sg_alloc_fail_after() while armed (the failed one included), so a
 * test arms it with LONG_MAX to learn how many an operation makes.
 * Not thread-safe, and meant only for single-threaded unit tests: production
 * code never arms it, and then its whole cost is one check of a static bool
 * (plus a thread-local increment when an allocation does fail).
 */
void sg_alloc_fail_after(long n);
long sg_alloc_count(void);
/*
 * How many allocations through the wrappers have returned NULL in the
 * calling thread, for a caller that must notice a failure a library hid
 * (json.h's sg_json_loadb).
 */
unsigned long sg_alloc_failures(void);
/*
 * sg_alloc_pause(true) … sg_alloc_pause(false) (they nest) brackets code
 * whose allocations the countdown neither counts nor fails: code not written
 * to survive a failure, which a test cannot make safe (jansson's parser,
 * json.h).  Per thread.
 */
void sg_alloc_pause(bool pause);

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool sg_utf8_valid(const char *s, size_t n);
/*
 * The length of the longest prefix of the NUL-terminated s of at most max
 * bytes that does not end inside a UTF-8 sequence, for cutting a value shown
 * in a message: printf("'%.*s'", (int) sg_utf8_prefix(id, 300), id).
 */
size_t sg_utf8_prefix(const char *s, size_t max);
/* Replaces, in place, every byte of s that is not part of well-formed UTF-8 with '?'. */
void sg_utf8_scrub(char *s);

/*
 * In a build with AddressSanitizer: runs LeakSanitizer's check now, and ends
 * the process with LeakSanitizer's exit code (23) after its report when
 * anything leaked.  For a process that leaves with _exit (a worker), which
 * skips the check at exit.  Does nothing in other builds.
 */
void sg_leak_check(void);

/*
 * Test builds only (configure --enable-test-knobs, as ./dev builds): sleeps
 * for the milliseconds the environment variable knob says (nothing when it is
 * unset), so that a test can act inside a window that is otherwise too short
 * to hit.  A no-op in other builds.
 */
void sg_test_pause(const char *knob);

/* Monotonic clock in microseconds. */
int64_t sg_now_us(void);

/* A condition variable whose timed waits run on sg_now_us()'s clock (a wall-clock step changes none). */
void sg_cond_init_monotonic(pthread_cond_t *c);
/* Waits on c (m held, c made by sg_cond_init_monotonic) until a signal or sg_now_us() reaches deadline_us. */
void sg_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_us);
/* The wall clock (CLOCK_REALTIME) in microseconds since the epoch, for timestamps that leave the process. */
int64_t sg_wall_us(void);
/* Constant-time comparison of two buffers of the same length. */
bool sg_ct_equal(const void *a, const void *b, size_t n);

#endif
