/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_sse.c: libFuzzer target for the stream relay's pure parts: the SSE
 * frame splitter (proxy_sse_feed / proxy_sse_finish, proxy.c) and the model
 * rewrite (openai_rewrite_model / openai_sse_rewrite, openai.c).
 *
 * Input: 9 header bytes, then the upstream's bytes.  Header byte 0 holds
 * flags (bits 0-1 the model value written in, bits 2-4 "stop after N
 * events", bit 5 a small max_event, bit 6 the byte-by-byte pass); bytes 1-8
 * seed the chunk sizes.  A shorter input is all stream, with fixed seeds.
 *
 * Checks:
 *  - the stream fed whole and fed in chunks of the seeded sizes gives the
 *    same events, the same result and the same "truncated"; with a small
 *    max_event the chunked events are a prefix of the whole ones, and equal
 *    when the chunked feed never refused;
 *  - every event is non-empty, has no CR, no blank line, and neither starts
 *    nor ends with a line end;
 *  - openai_sse_rewrite() of each event ends with the blank line, is
 *    idempotent, sets done exactly for a payload that is [DONE] and nothing
 *    more, and when the payload is a JSON object with a "model" member, the rewritten
 *    payload is that object with "model" replaced and nothing else changed;
 *  - openai_rewrite_model() of the whole stream text: accepts every object
 *    jansson accepts (within its depth of 128), replaces every "model"
 *    (keys decoded as jansson decodes them) and changes nothing else,
 *    copies an object without "model" byte for byte;
 *  - openai_upstream_error() of the stream text with a small buffer: a
 *    message cut without splitting a UTF-8 sequence;
 *  - openai_stream_ask_usage() of the whole stream text: refuses only what
 *    is not one object, appends nothing unless it says ADDED, and then the
 *    text is (by jansson) the same object with stream_options.include_usage
 *    true and nothing else changed, which asked again is ASKED.
 */
#include "config.h"

#include <jansson.h>

#include "fuzz.h"
#include "openai.h"
#include "proxy.h"

#define HEADER 9

static const char *const model_values[] = {
	"\"fuzz-model\"",
	"\"meta-llama/Llama-3.2-3B-Instruct\"",
	"\"a\\\"b\\\\c\\u00e9\\n\"",
	"\"m\"",
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	return 0;
}

/* ---------------------------------------------------------- model rewrite */

/*
 * rewritten must be orig (text of a JSON object jansson accepts without
 * duplicate keys) with its "model" member's value replaced by model_json.
 */
static void
check_replaced(const char *orig, size_t olen, const char *rewritten, size_t rlen, const char *model_json)
{
	json_t *o = memchr(orig, '\0', olen) ? NULL : json_loadb(orig, olen, JSON_REJECT_DUPLICATES, NULL), *r, *m;

	if (o == NULL || !json_is_object(o) || json_object_get(o, "model") == NULL) {
		json_decref(o);
		return;
	}
	r = json_loadb(rewritten, rlen, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(r != NULL, "the rewritten object does not parse: %.*s", (int) (rlen > 300 ? 300 : rlen), rewritten);
	m = json_loads(model_json, JSON_DECODE_ANY, NULL);
	FUZZ_CHECK(m != NULL, "bad model value %s", model_json);
	FUZZ_CHECK(json_object_set_new(o, "model", m) == 0, "json_object_set_new");
	FUZZ_CHECK(json_equal(o, r), "the rewrite changed more than \"model\": %.*s", (int) (rlen > 300 ? 300 : rlen),
		   rewritten);
	json_decref(o);
	json_decref(r);
}

static void
check_rewrite_model(const char *text, size_t len, const char *model_json)
{
	struct sg_buf out = {0};
	enum openai_rewrite rw = openai_rewrite_model(text, len, model_json, &out);
	/* jansson's json_loadb() skips NUL bytes (its stream reader takes NUL for "refill"): not JSON. */
	json_t *v = memchr(text, '\0', len) ? NULL : json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);

	FUZZ_CHECK(rw != OPENAI_RW_NOMEM, "openai_rewrite_model ran out of memory");
	if (rw == OPENAI_RW_NOT_OBJECT) {
		FUZZ_CHECK(out.len == 0, "a refused text appended %zu bytes", out.len);
		FUZZ_CHECK(v == NULL || !json_is_object(v) || fuzz_tree_depth(v) > 128,
			   "a JSON object jansson accepts was refused: %.*s", (int) (len > 300 ? 300 : len), text);
	} else if (rw == OPENAI_RW_NO_MODEL) {
		FUZZ_CHECK(out.len == len && memcmp(out.p, text, len) == 0, "an object without \"model\" was changed");
		/* jansson's decoding of every key is the reference: no "model" member, however spelled, is missed. */
		FUZZ_CHECK(v == NULL || json_object_get(v, "model") == NULL, "a \"model\" member was not found: %.*s",
			   (int) (len > 300 ? 300 : len), text);
	} else {
		FUZZ_CHECK(out.p != NULL && strlen(out.p) <= out.len, "the output is not a string");
		check_replaced(text, len, out.p, out.len, model_json);
	}
	json_decref(v);
	sg_buf_free(&out);
}

static void
check_ask_usage(const char *text, size_t len)
{
	struct sg_buf out = {0}, again = {0};
	enum openai_stream_usage su = openai_stream_ask_usage(text, len, &out);
	json_t *v = memchr(text, '\0', len) ? NULL : json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *so = json_is_object(v) ? json_object_get(v, "stream_options") : NULL;
	bool object = json_is_object(v) && fuzz_tree_depth(v) <= 128;

	FUZZ_CHECK(su != OPENAI_SU_NOMEM, "openai_stream_ask_usage ran out of memory");
	FUZZ_CHECK(!(object && su == OPENAI_SU_NOT_OBJECT), "a JSON object was refused: %.*s",
		   (int) (len > 300 ? 300 : len), text);
	FUZZ_CHECK(su == OPENAI_SU_ADDED || out.len == 0, "result %d appended %zu bytes", su, out.len);
	if (object && su == OPENAI_SU_ASKED)
		FUZZ_CHECK(json_is_true(json_object_get(so, "include_usage")), "ASKED without include_usage true");
	if (object && su == OPENAI_SU_CANNOT)
		FUZZ_CHECK(so != NULL && !json_is_object(so) && !json_is_null(so),
			   "CANNOT with a usable stream_options");
	if (su == OPENAI_SU_ADDED) {
		FUZZ_CHECK(openai_stream_ask_usage(out.p, out.len, &again) == OPENAI_SU_ASKED && again.len == 0,
			   "the added include_usage is not seen when asked again");
		if (object) {
			json_t *got = json_loadb(out.p, out.len, JSON_REJECT_DUPLICATES, NULL),
			       *want = json_deep_copy(v);
			json_t *wso = json_object_get(want, "stream_options");

			if (!json_is_object(wso))
				json_object_set_new(want, "stream_options", json_object());
			json_object_set_new(json_object_get(want, "stream_options"), "include_usage", json_true());
			FUZZ_CHECK(got != NULL && json_equal(got, want), "the added include_usage changed more: %.*s",
				   (int) (out.len > 300 ? 300 : out.len), out.p);
			json_decref(got);
			json_decref(want);
		}
	}
	json_decref(v);
	sg_buf_free(&again);
	sg_buf_free(&out);
}

/* The payload of an event as openai_sse_rewrite() reads it; *ndata data lines. */
static char *
payload_of(const char *ev, size_t len, size_t *plen, int *ndata)
{
	struct sg_buf b = {0};
	const char *p = ev, *end = ev + len;

	*ndata = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t) (end - p)), *le = nl ? nl : end;

		if (le - p >= 5 && memcmp(p, "data:", 5) == 0) {
			const char *v = p + 5;

			if (v < le && *v == ' ')
				v++;
			FUZZ_CHECK((*ndata == 0 || sg_buf_append(&b, "\n", 1)) &&
					   sg_buf_append(&b, v, (size_t) (le - v)),
				   "out of memory");
			(*ndata)++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if (b.p == NULL)
		FUZZ_CHECK(sg_buf_append(&b, "", 0), "out of memory");
	*plen = b.len;
	return b.p;
}

static void
check_sse_rewrite(const char *ev, size_t len, const char *model_json)
{
	struct sg_buf out = {0}, again = {0};
	bool done = false, done2 = false;
	size_t plen, rplen;
	int ndata, rndata;
	char *payload, *rpayload;

	FUZZ_CHECK(openai_sse_rewrite(ev, len, model_json, &out, &done), "openai_sse_rewrite failed");
	FUZZ_CHECK(out.len >= 2 && out.p[out.len - 1] == '\n' && out.p[out.len - 2] == '\n',
		   "a rewritten event does not end with a blank line");
	FUZZ_CHECK(memmem(out.p, out.len - 1, "\n\n", 2) == NULL, "a rewritten event holds a blank line inside");

	payload = payload_of(ev, len, &plen, &ndata);
	FUZZ_CHECK(done == (ndata > 0 && plen == 6 && memcmp(payload, "[DONE]", 6) == 0), "done is %d for '%.*s'",
		   (int) done, (int) (plen > 100 ? 100 : plen), payload);

	/* The rewritten event says the same thing again. */
	FUZZ_CHECK(openai_sse_rewrite(out.p, out.len - 2, model_json, &again, &done2), "openai_sse_rewrite failed");
	FUZZ_CHECK(again.len == out.len && memcmp(again.p, out.p, out.len) == 0 && done2 == done,
		   "the rewrite is not idempotent:\n%s---\n%s", out.p, again.p ? again.p : "");

	rpayload = payload_of(out.p, out.len - 2, &rplen, &rndata);
	FUZZ_CHECK((rndata > 0) == (ndata > 0), "data lines appeared or vanished");
	if (ndata > 0) {
		struct sg_buf want = {0};
		enum openai_rewrite rw = done ? OPENAI_RW_NOT_OBJECT
					      : openai_rewrite_model(payload, plen, model_json, &want);

		/* The payload is rewritten exactly as a body would be, or left alone. */
		if (rw == OPENAI_RW_REPLACED) {
			FUZZ_CHECK(rplen == want.len && memcmp(rpayload, want.p, rplen) == 0,
				   "the event's payload is not rewritten as a body would be");
			check_replaced(payload, plen, rpayload, rplen, model_json);
		} else {
			FUZZ_CHECK(rplen == plen && memcmp(rpayload, payload, plen) == 0,
				   "a payload without a plain \"model\" changed");
		}
		sg_buf_free(&want);
	}
	free(payload);
	free(rpayload);
	sg_buf_free(&out);
	sg_buf_free(&again);
}

/* --------------------------------------------------------------- splitter */

struct collect {
	struct sg_buf rec; /* each event as its length (size_t) then its bytes */
	size_t n;
	size_t stop_after; /* 0: never stop */
	const char *model_json;
	bool rewrite; /* check openai_sse_rewrite on each event */
};

static bool
on_event(void *vctx, const char *ev, size_t len)
{
	struct collect *c = vctx;

	FUZZ_CHECK(len > 0, "an empty event");
	FUZZ_CHECK(memchr(ev, '\r', len) == NULL, "an event holds a CR");
	FUZZ_CHECK(ev[0] != '\n' && ev[len - 1] != '\n', "an event starts or ends with a line end");
	FUZZ_CHECK(memmem(ev, len, "\n\n", 2) == NULL, "an event holds a blank line");
	FUZZ_CHECK(sg_buf_append(&c->rec, (const char *) &len, sizeof(len)) && sg_buf_append(&c->rec, ev, len),
		   "out of memory");
	c->n++;
	if (c->rewrite)
		check_sse_rewrite(ev, len, c->model_json);
	return c->stop_after == 0 || c->n < c->stop_after;
}

struct run {
	struct collect c;
	enum proxy_sse_result res;
	bool truncated;
};

/* Feeds stream in chunks (sizes from seeds; NULL: whole), then finishes unless a feed failed. */
static void
run_splitter(struct run *rn, const uint8_t *stream, size_t len, const uint8_t *seeds, size_t max_event)
{
	struct proxy_sse s = {.max_event = max_event};
	size_t off = 0, k = 0;

	rn->res = PROXY_SSE_OK;
	rn->truncated = false;
	do {
		size_t n = len - off;

		if (seeds != NULL) {
			uint8_t b = seeds[k++ % 8];
			size_t want = b % 5 == 0 ? 1 : 1 + (size_t) (b % 64);

			if (want < n)
				n = want;
		}
		/* An empty feed at the start is legal too, and must be harmless. */
		rn->res = proxy_sse_feed(&s, (const char *) stream + off, n, on_event, &rn->c);
		off += n;
	} while (rn->res == PROXY_SSE_OK && off < len);
	if (rn->res == PROXY_SSE_OK)
		rn->res = proxy_sse_finish(&s, on_event, &rn->c, &rn->truncated);
	FUZZ_CHECK(rn->res != PROXY_SSE_NOMEM, "the splitter ran out of memory");
	proxy_sse_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t default_seeds[8] = {1, 2, 3, 7, 64, 13, 5, 31};
	static const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	const uint8_t *seeds = default_seeds, *stream = data;
	uint8_t flags = 0;
	size_t len = size, max_event = 0;
	const char *model_json;
	struct run whole, chunked;
	char msg[64], param[16];

	if (size >= HEADER) {
		flags = data[0];
		seeds = data + 1;
		stream = data + HEADER;
		len = size - HEADER;
	}
	model_json = model_values[flags & 3];
	if (flags & 0x20)
		max_event = 1 + seeds[0] % 48;

	memset(&whole, 0, sizeof(whole));
	memset(&chunked, 0, sizeof(chunked));
	whole.c.stop_after = chunked.c.stop_after = (flags >> 2) & 7;
	whole.c.model_json = model_json;
	whole.c.rewrite = true;
	run_splitter(&whole, stream, len, NULL, max_event);
	run_splitter(&chunked, stream, len, (flags & 0x40) ? one : seeds, max_event);

	if (max_event == 0) {
		FUZZ_CHECK(whole.res == chunked.res && whole.truncated == chunked.truncated,
			   "whole: result %d truncated %d; chunked: result %d truncated %d", (int) whole.res,
			   (int) whole.truncated, (int) chunked.res, (int) chunked.truncated);
		FUZZ_CHECK(
			whole.c.n == chunked.c.n && whole.c.rec.len == chunked.c.rec.len &&
				(whole.c.rec.len == 0 || memcmp(whole.c.rec.p, chunked.c.rec.p, whole.c.rec.len) == 0),
			"whole and chunked feeding gave different events (%zu vs %zu)", whole.c.n, chunked.c.n);
	} else {
		FUZZ_CHECK(chunked.c.n <= whole.c.n && chunked.c.rec.len <= whole.c.rec.len &&
				   (chunked.c.rec.len == 0 ||
				    memcmp(whole.c.rec.p, chunked.c.rec.p, chunked.c.rec.len) == 0),
			   "the chunked events are not a prefix of the whole ones");
		if (chunked.res == PROXY_SSE_OK)
			FUZZ_CHECK(whole.res == PROXY_SSE_OK && whole.c.n == chunked.c.n &&
					   whole.c.rec.len == chunked.c.rec.len && whole.truncated == chunked.truncated,
				   "the chunked feed passed but the whole one did not (%d)", (int) whole.res);
	}
	sg_buf_free(&whole.c.rec);
	sg_buf_free(&chunked.c.rec);

	check_rewrite_model((const char *) stream, len, model_json);
	check_ask_usage((const char *) stream, len);

	/* A small buffer (8 bytes at least: then a first character of up to 4 bytes fits). */
	if (openai_upstream_error((const char *) stream, len, msg, 8 + seeds[1] % (sizeof(msg) - 7), param,
				  1 + seeds[2] % sizeof(param))) {
		json_t *m = json_string(msg), *p = json_string(param);

		FUZZ_CHECK(msg[0] != '\0', "a found message is empty");
		FUZZ_CHECK(m != NULL, "the message was cut inside a UTF-8 sequence: '%s'", msg);
		FUZZ_CHECK(p != NULL, "the param was cut inside a UTF-8 sequence: '%s'", param);
		json_decref(m);
		json_decref(p);
	}
	return 0;
}
