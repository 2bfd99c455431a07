/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_h1.c: libFuzzer target for the own HTTP/1.1 client's answer parser
 * (h1_feed / h1_eof, proxy_h1.c), which reads what an upstream sends.
 *
 * Input: 5 header bytes, then the answer's bytes.  Header byte 0 bit 0 says
 * the request was HEAD; bytes 1-4 seed the chunk sizes.  A shorter input is
 * all answer, with fixed seeds.
 *
 * Checks:
 *  - the answer fed whole and fed in chunks of the seeded sizes gives the
 *    same result, the same header lines, the same body, the same status and
 *    the same bytes taken (and then the same result at the end of input);
 *  - the header lines given are the start of the input, byte for byte (1xx
 *    blocks included, trailers never), and the body is no longer than what
 *    follows them;
 *  - a complete answer with a Content-Length (not chunked, not HEAD, not
 *    1xx/204/304) has a body of exactly that length.
 */
#include "config.h"

#include "fuzz.h"
#include "proxy_int.h"

#define HEADER 5

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	return 0;
}

struct got {
	struct sg_buf head, body;
};

static size_t
on_head(void *ctx, const char *buf, size_t n)
{
	struct got *g = ctx;

	if (!sg_buf_append(&g->head, buf, n))
		abort();
	return n;
}

static size_t
on_body(void *ctx, const char *buf, size_t n)
{
	struct got *g = ctx;

	if (!sg_buf_append(&g->body, buf, n))
		abort();
	return n;
}

/* Feeds text in pieces of the seeded sizes (all at once when seeds is NULL); the final result, taken bytes. */
static enum h1_result
run(struct h1_parser *p, const uint8_t *text, size_t len, const uint8_t *seeds, struct got *g, size_t *taken)
{
	enum h1_result r = H1_MORE;
	size_t at = 0, k = 0;

	*taken = 0;
	while (r == H1_MORE && at < len) {
		size_t n = seeds == NULL ? len : (size_t) seeds[k++ % 4] % 17 + 1, used;

		if (n > len - at)
			n = len - at;
		r = h1_feed(p, (const char *) text + at, n, &used, on_head, on_body, g);
		FUZZ_CHECK(used <= n, "used %zu of %zu", used, n);
		*taken += used;
		at += n;
	}
	if (r == H1_MORE)
		r = h1_eof(p) == H1_DONE ? H1_DONE : H1_MORE;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fixed[4] = {1, 3, 7, 16};
	const uint8_t *seeds = size >= HEADER ? data + 1 : fixed, *text = size >= HEADER ? data + HEADER : data;
	size_t len = size >= HEADER ? size - HEADER : size, taken_whole, taken_cut;
	bool head = size >= HEADER && (data[0] & 1);
	struct h1_parser whole = {0}, cut = {0};
	struct got gw = {0}, gc = {0};
	enum h1_result rw, rc;

	h1_parser_init(&whole, head);
	h1_parser_init(&cut, head);
	rw = run(&whole, text, len, NULL, &gw, &taken_whole);
	rc = run(&cut, text, len, seeds, &gc, &taken_cut);
	FUZZ_CHECK(rw == rc, "whole %d, in pieces %d", rw, rc);
	FUZZ_CHECK(gw.head.len == gc.head.len && (gw.head.len == 0 || memcmp(gw.head.p, gc.head.p, gw.head.len) == 0),
		   "header lines differ");
	FUZZ_CHECK(gw.body.len == gc.body.len && (gw.body.len == 0 || memcmp(gw.body.p, gc.body.p, gw.body.len) == 0),
		   "bodies differ");
	FUZZ_CHECK(whole.status == cut.status, "status %d vs %d", whole.status, cut.status);
	if (rw == H1_DONE)
		FUZZ_CHECK(taken_whole == taken_cut, "took %zu vs %zu", taken_whole, taken_cut);
	FUZZ_CHECK(gw.head.len <= len && (gw.head.len == 0 || memcmp(gw.head.p, text, gw.head.len) == 0),
		   "the header lines are not the input's start");
	FUZZ_CHECK(gw.body.len <= len - gw.head.len, "body %zu longer than the rest %zu", gw.body.len,
		   len - gw.head.len);
	if (rw == H1_DONE && whole.have_length && !whole.chunked && !whole.close && !head && whole.status >= 200 &&
	    whole.status != 204 && whole.status != 304)
		FUZZ_CHECK(gw.body.len == whole.length, "body %zu, Content-Length %llu", gw.body.len,
			   (unsigned long long) whole.length);
	sg_buf_free(&gw.head);
	sg_buf_free(&gw.body);
	sg_buf_free(&gc.head);
	sg_buf_free(&gc.body);
	h1_parser_free(&whole);
	h1_parser_free(&cut);
	return 0;
}
