/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check_proxy_h1.c: the own HTTP/1.1 client of proxy_h1.c.  The parser is
 * fed answers cut at every boundary and must find the same header lines and
 * body whatever the cut; malformed answers are refused.  Then the URL split,
 * and transfers through proxy_call() to a loopback server that keeps its
 * connection (one connection serves several calls) or closes it after each
 * answer without saying so (the call is sent once more on a new one), and
 * a name lookup that a silent DNS server would hold for seconds, which ends
 * at the connect timeout.  check_openai.c's transfers run on this client too
 * (plain http).
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "proxy_int.h"
#include "suites.h"

struct seen {
	struct sg_buf head; /* every header line given, concatenated */
	struct sg_buf body;
	int stop_at; /* > 0: the body callback refuses once this many bytes arrived */
	bool refuse_header;
};

static size_t
seen_header(void *ctx, const char *buf, size_t n)
{
	struct seen *s = ctx;

	ck_assert(sg_buf_append(&s->head, buf, n));
	return s->refuse_header ? 0 : n;
}

static size_t
seen_body(void *ctx, const char *buf, size_t n)
{
	struct seen *s = ctx;

	ck_assert(sg_buf_append(&s->body, buf, n));
	return s->stop_at > 0 && (int) s->body.len >= s->stop_at ? 0 : n;
}

static void
seen_free(struct seen *s)
{
	sg_buf_free(&s->head);
	sg_buf_free(&s->body);
}

/* Feeds text in two pieces cut at cut (and the rest after the answer); the result of the last feed. */
static enum h1_result
feed_cut(struct h1_parser *p, const char *text, size_t len, size_t cut, struct seen *s, size_t *consumed)
{
	enum h1_result r;
	size_t used;

	*consumed = 0;
	r = h1_feed(p, text, cut, &used, seen_header, seen_body, s);
	*consumed += used;
	if (r != H1_MORE || cut == len)
		return r;
	r = h1_feed(p, text + cut, len - cut, &used, seen_header, seen_body, s);
	*consumed += used;
	return r;
}

struct answer_case {
	const char *name;
	const char *text;
	bool head; /* a HEAD request */
	int status;
	const char *lines; /* the header lines the callback gets, concatenated */
	const char *body;
	size_t answer_len; /* the bytes that are the answer (0: all of text) */
	bool close;
	bool needs_eof; /* the body ends with the connection */
};

static const struct answer_case answers[] = {
	{"content-length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
	 false, 200, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n", "{\"a\":1}", 0,
	 false, false},
	{"chunked with extensions and trailers",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\ndata\r\n0A\r\n: 12345678\r\n0\r\nT: v\r\n\r\n",
	 false, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "data: 12345678", 0, false, false},
	{"interim 100 then the answer",
	 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", false, 201,
	 "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n", "ok", 0, false, false},
	{"no length: to the end", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", false, 200,
	 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", "until the end", 0, true, true},
	{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200,
	 "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", "x", 0, true, false},
	{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", false,
	 200, "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", "", 0, true, false},
	{"204 has no body whatever it says", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200", false,
	 204, "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "", 46, false, false},
	{"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", true, 200,
	 "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", "", 0, false, false},
	{"a coding other than chunked: to the end, whatever the length says",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef", false, 200,
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", "abcdef", 0, true, true},
	{"a coding ending in chunked is not chunked",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false, 200,
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n", 0, true, true},
	{"chunked and a length: chunked, and the connection closes",
	 "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	 false, 200, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "abc", 0,
	 true, false},
	{"a chunk size with leading zeros",
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000000005\r\nhello\r\n0\r\n\r\n", false, 200,
	 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "hello", 0, false, false},
	{"bare line ends and bytes after the answer", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabcHTTP/1.1 200 OK", false,
	 200, "HTTP/1.1 200 OK\nContent-Length: 3\n\n", "abc", 38, false, false},
};

START_TEST(parser_finds_the_same_whatever_the_cut)
{
	const struct answer_case *c = &answers[_i];
	size_t len = strlen(c->text), alen = c->answer_len ? c->answer_len : len;

	for (size_t cut = 0; cut <= len; cut++) {
		struct h1_parser p = {0};
		struct seen s = {0};
		size_t consumed;
		enum h1_result r;

		h1_parser_init(&p, c->head);
		r = feed_cut(&p, c->text, len, cut, &s, &consumed);
		if (c->needs_eof) {
			ck_assert_msg(r == H1_MORE, "%s, cut %zu: %d", c->name, cut, r);
			ck_assert_int_eq(h1_eof(&p), H1_DONE);
		} else {
			ck_assert_msg(r == H1_DONE, "%s, cut %zu: %d", c->name, cut, r);
			ck_assert_msg(consumed == alen, "%s, cut %zu: used %zu of %zu", c->name, cut, consumed, alen);
		}
		ck_assert_int_eq(p.status, c->status);
		ck_assert_msg(p.close == c->close, "%s: close %d", c->name, p.close);
		ck_assert_str_eq(s.head.p ? s.head.p : "", c->lines);
		ck_assert_str_eq(s.body.p ? s.body.p : "", c->body);
		seen_free(&s);
		h1_parser_free(&p);
	}
}
END_TEST

START_TEST(parser_refuses_what_is_not_http11)
{
	static const char *const bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nX-A: 1\r\n Content-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\rX\r\nabc\r\n0\r\n\r\n",
		NULL,
	};

	for (const char *const *b = bad; *b != NULL; b++) {
		struct h1_parser p = {0};
		struct seen s = {0};
		size_t used;

		h1_parser_init(&p, false);
		ck_assert_msg(h1_feed(&p, *b, strlen(*b), &used, seen_header, seen_body, &s) == H1_BAD, "took: %s", *b);
		seen_free(&s);
		h1_parser_free(&p);
	}

	/* A header line past H1_MAX_LINE, and an answer cut before its end. */
	{
		struct h1_parser p = {0};
		struct seen s = {0};
		char *big = malloc(H1_MAX_LINE + 64);
		size_t used;
		enum h1_result r = H1_MORE;

		ck_assert_ptr_nonnull(big);
		memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
		memset(big + 20, 'a', H1_MAX_LINE + 40);
		h1_parser_init(&p, false);
		for (size_t at = 0; at < H1_MAX_LINE + 60 && r == H1_MORE; at += 1000)
			r = h1_feed(&p, big + at, at + 1000 <= H1_MAX_LINE + 60 ? 1000 : H1_MAX_LINE + 60 - at, &used,
				    seen_header, seen_body, &s);
		ck_assert_int_eq(r, H1_BAD);
		free(big);
		h1_parser_init(&p, false);
		ck_assert_int_eq(h1_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", 42, &used, seen_header,
					 seen_body, &s),
				 H1_MORE);
		ck_assert_int_eq(h1_eof(&p), H1_BAD);
		seen_free(&s);
		h1_parser_free(&p);
	}

	/* Trailers past H1_MAX_HEAD in all, and a chunk-size line past H1_MAX_CHUNK_LINE. */
	{
		static const char start[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n";
		static const char trailer[] = "T: 0123456789012345678901234567890123456789\r\n";
		struct h1_parser p = {0};
		struct seen s = {0};
		enum h1_result r;
		size_t used;
		char ext[H1_MAX_CHUNK_LINE + 16];

		h1_parser_init(&p, false);
		r = h1_feed(&p, start, strlen(start), &used, seen_header, seen_body, &s);
		for (size_t sent = 0; r == H1_MORE && sent <= H1_MAX_HEAD + sizeof(trailer); sent += strlen(trailer))
			r = h1_feed(&p, trailer, strlen(trailer), &used, seen_header, seen_body, &s);
		ck_assert_int_eq(r, H1_BAD);
		h1_parser_init(&p, false);
		r = h1_feed(&p, start, 47, &used, seen_header, seen_body, &s);
		ck_assert_int_eq(r, H1_MORE);
		memset(ext, 'e', sizeof(ext));
		memcpy(ext, "1;", 2);
		memcpy(ext + sizeof(ext) - 2, "\r\n", 2);
		ck_assert_int_eq(h1_feed(&p, ext, sizeof(ext), &used, seen_header, seen_body, &s), H1_BAD);
		seen_free(&s);
		h1_parser_free(&p);
	}
}
END_TEST

START_TEST(parser_stops_when_a_callback_says_so)
{
	static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
	struct h1_parser p = {0};
	struct seen s = {.refuse_header = true};
	size_t used;

	h1_parser_init(&p, false);
	ck_assert_int_eq(h1_feed(&p, text, strlen(text), &used, seen_header, seen_body, &s), H1_STOP);
	seen_free(&s);
	s = (struct seen){.stop_at = 3};
	h1_parser_init(&p, false);
	ck_assert_int_eq(h1_feed(&p, text, strlen(text), &used, seen_header, seen_body, &s), H1_STOP);
	ck_assert_str_eq(s.body.p, "0123456789");
	seen_free(&s);
	h1_parser_free(&p);
}
END_TEST

START_TEST(url_split)
{
	char host[256], port[8], auth[272];
	const char *path;

	ck_assert(h1_split_url("http://127.0.0.1:8000/v1", host, sizeof(host), port, sizeof(port), auth, sizeof(auth),
			       &path));
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_str_eq(port, "8000");
	ck_assert_str_eq(auth, "127.0.0.1:8000");
	ck_assert_str_eq(path, "/v1");
	ck_assert(h1_split_url("http://[::1]:9", host, sizeof(host), port, sizeof(port), auth, sizeof(auth), &path));
	ck_assert_str_eq(host, "::1");
	ck_assert_str_eq(port, "9");
	ck_assert_str_eq(auth, "[::1]:9");
	ck_assert_str_eq(path, "");
	ck_assert(h1_split_url("HTTP://Vllm.Internal/openai/v1", host, sizeof(host), port, sizeof(port), auth,
			       sizeof(auth), &path));
	ck_assert_str_eq(host, "vllm.internal");
	ck_assert_str_eq(port, "80");
	ck_assert_str_eq(auth, "Vllm.Internal");
	ck_assert_str_eq(path, "/openai/v1");
	/* What stays with libcurl. */
	static const char *const curl_only[] = {
		"https://api.openai.com/v1",
		"http://user:pw@host/v1",
		"http://host/v1?key=1",
		"http://host/v1#f",
		"http://host:0/v1",
		"http://host:65536/v1",
		"http://host:8a/v1",
		"http:///v1",
		"http://[::1/v1",
		"http://ho st/v1",
		"ftp://host/",
		"http://host/v 1",
		"http://host/v1\r\nX: y",
		"http://host/v1\x7f",
		NULL,
	};
	for (const char *const *u = curl_only; *u != NULL; u++)
		ck_assert_msg(!h1_split_url(*u, host, sizeof(host), port, sizeof(port), auth, sizeof(auth), &path),
			      "took %s", *u);
}
END_TEST

/* h1_enabled() in a new process whose environment has only name=value (name NULL: none of them). */
static bool
enabled_with(const char *name, const char *value)
{
	static const char *const vars[] = {"STACKGATE_UPSTREAM_CLIENT", "http_proxy", "all_proxy", "ALL_PROXY"};
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (size_t i = 0; i < SG_ARRAY_LEN(vars); i++)
			unsetenv(vars[i]);
		if (name != NULL)
			setenv(name, value, 1);
		h1_enabled_reset(); /* the parent may have read it already (CK_FORK=no) */
		_exit(h1_enabled() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status) == 0;
}

START_TEST(client_switch_and_proxies)
{
	ck_assert(enabled_with(NULL, NULL));
	ck_assert(!enabled_with("STACKGATE_UPSTREAM_CLIENT", "curl"));
	ck_assert(enabled_with("STACKGATE_UPSTREAM_CLIENT", "own"));
	ck_assert(!enabled_with("http_proxy", "http://proxy:3128"));
	ck_assert(!enabled_with("all_proxy", "socks5://proxy:1080"));
	ck_assert(!enabled_with("ALL_PROXY", "http://proxy:3128"));
	ck_assert(enabled_with("http_proxy", ""));
}
END_TEST

/* ------------------------------------------------------- transfers */

/*
 * A loopback server: accepts connections one after another; on each, reads
 * requests (head + Content-Length body) and answers each with reply, keeping
 * the connection unless close_after_each (then it closes without saying so).
 * stray: sent 50 ms after the first answer, on its connection.  drop_at: the
 * request of that number (1, 2, ...) is read and not answered; its
 * connection is closed drop_ms later.  hold_ms: each answer's connection is
 * held that long before the next read.
 */
struct server {
	int lfd, port, accepts, requests;
	const char *reply;
	const char *stray;
	int drop_at, drop_ms, hold_ms;
	bool close_after_each;
	int total; /* requests to serve, then stop */
	char last[4096];
	pthread_t th;
};

static bool
read_one(int fd, struct server *sv)
{
	size_t have = 0;
	char *eoh;

	for (;;) {
		ssize_t n = recv(fd, sv->last + have, sizeof(sv->last) - 1 - have, 0);

		if (n <= 0)
			return false;
		have += (size_t) n;
		sv->last[have] = '\0';
		if ((eoh = strstr(sv->last, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(sv->last, "\r\nContent-Length:");
			long clen = cl != NULL && cl < eoh ? strtol(cl + 17, NULL, 10) : 0;

			if ((long) (have - (size_t) (eoh + 4 - sv->last)) >= clen)
				return true;
		}
	}
}

static void *
server_main(void *arg)
{
	struct server *sv = arg;

	while (sv->requests < sv->total) {
		int fd = accept(sv->lfd, NULL, NULL);

		if (fd < 0)
			break;
		sv->accepts++;
		while (sv->requests < sv->total && read_one(fd, sv)) {
			sv->requests++;
			if (sv->requests == sv->drop_at) {
				usleep((useconds_t) sv->drop_ms * 1000);
				break;
			}
			if (send(fd, sv->reply, strlen(sv->reply), MSG_NOSIGNAL) < 0 || sv->close_after_each)
				break;
			if (sv->hold_ms > 0)
				usleep((useconds_t) sv->hold_ms * 1000);
			if (sv->stray != NULL && sv->requests == 1) {
				usleep(50 * 1000);
				(void) send(fd, sv->stray, strlen(sv->stray), MSG_NOSIGNAL);
			}
		}
		close(fd);
	}
	return NULL;
}

static void
server_start(struct server *sv)
{
	sv->lfd = sg_test_listen_loopback(&sv->port);
	ck_assert_int_eq(pthread_create(&sv->th, NULL, server_main, sv), 0);
}

static void
server_stop(struct server *sv)
{
	pthread_join(sv->th, NULL);
	close(sv->lfd);
}

static long first_byte_ms; /* the provider's first_byte_timeout in the calls below (0: none) */

/* A chat completion through proxy_call() to the provider at url (its base URL). */
static sg_status
call_url(const char *url, long connect_timeout_ms, struct proxy_response *resp, struct sg_err *err)
{
	static struct sg_provider p;
	struct proxy_request q = {.method = "POST",
				  .path = "/chat/completions",
				  .body = "{\"model\":\"m\"}",
				  .body_len = 13,
				  .request_id = "rid-h1"};

	p = (struct sg_provider){.provider_id = (char *) "h1",
				 .base_url = (char *) url,
				 .api_key = (char *) "k",
				 .connect_timeout_ms = connect_timeout_ms,
				 .read_timeout_ms = 5000,
				 .first_byte_timeout_ms = first_byte_ms};
	q.provider = &p;
	return proxy_call(&q, resp, err);
}

static sg_status
call(const struct server *sv, struct proxy_response *resp)
{
	static char url[64];
	struct sg_err err = {0};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", sv->port);
	return call_url(url, 2000, resp, &err);
}

START_TEST(kept_connection_serves_the_next_calls)
{
	struct server sv = {.reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			    .total = 3};

	server_start(&sv);
	for (int i = 0; i < 3; i++) {
		struct proxy_response resp;

		ck_assert_int_eq(call(&sv, &resp), SG_OK);
		ck_assert_int_eq(resp.status, 200);
		ck_assert_str_eq(resp.body.p, "{}");
		proxy_response_free(&resp);
	}
	server_stop(&sv);
	ck_assert_int_eq(sv.accepts, 1);
	/* The request as sent: Host, the headers, the length; no "Expect:". */
	ck_assert_ptr_nonnull(strstr(sv.last, "POST /v1/chat/completions HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.last, "\r\nHost: 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(sv.last, "\r\nAuthorization: Bearer k\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.last, "\r\nX-Request-Id: rid-h1\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.last, "\r\nContent-Length: 13\r\n\r\n{\"model\":\"m\"}"));
	ck_assert_ptr_null(strcasestr(sv.last, "Expect"));
	proxy_thread_cleanup();
}
END_TEST

START_TEST(closed_kept_connection_is_replaced_once)
{
	/* The server closes after each answer without Connection: close: the next call finds it closed. */
	struct server sv = {
		.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", .total = 3, .close_after_each = true};

	server_start(&sv);
	for (int i = 0; i < 3; i++) {
		struct proxy_response resp;

		ck_assert_int_eq(call(&sv, &resp), SG_OK);
		ck_assert_int_eq(resp.status, 200);
		proxy_response_free(&resp);
		usleep(20 * 1000); /* let the close arrive before the next call */
	}
	server_stop(&sv);
	ck_assert_int_eq(sv.accepts, 3);
	ck_assert_int_eq(sv.requests, 3);
	proxy_thread_cleanup();
}
END_TEST

/* Bytes the upstream sends after an answer are never taken for the next call's answer. */
START_TEST(bytes_after_an_answer_are_not_the_next_answer)
{
	struct server sv = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
			    .stray = "HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n{\"for\":\"tenant A\"}",
			    .total = 2};

	server_start(&sv);
	for (int i = 0; i < 2; i++) {
		struct proxy_response resp;

		ck_assert_int_eq(call(&sv, &resp), SG_OK);
		ck_assert_int_eq(resp.status, 200);
		ck_assert_str_eq(resp.body.p, "{}");
		proxy_response_free(&resp);
		usleep(100 * 1000); /* the stray answer has come by now */
	}
	server_stop(&sv);
	ck_assert_int_eq(sv.accepts, 2);
	proxy_thread_cleanup();
}
END_TEST

/*
 * A request the upstream read on a kept connection and then held before it
 * closed without answering is not sent again (it may have been carried
 * out); one it closed on at once is (it closed an idle connection as the
 * request came).
 */
START_TEST(a_request_held_then_dropped_is_not_sent_again)
{
	struct server held = {
		.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .total = 2, .drop_at = 2, .drop_ms = 300};
	struct server quick = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .total = 3, .drop_at = 2};
	struct proxy_response resp;
	struct sg_err err = {0};
	char url[64];

	server_start(&held);
	ck_assert_int_eq(call(&held, &resp), SG_OK);
	proxy_response_free(&resp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", held.port);
	ck_assert_int_eq(call_url(url, 2000, &resp, &err), SG_E_BAD_GATEWAY);
	ck_assert_msg(strstr(err.msg, "closed the connection") != NULL, "%s", err.msg);
	proxy_response_free(&resp);
	server_stop(&held);
	ck_assert_int_eq(held.requests, 2);
	ck_assert_int_eq(held.accepts, 1);

	server_start(&quick);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(call(&quick, &resp), SG_OK);
		ck_assert_int_eq(resp.status, 200);
		proxy_response_free(&resp);
	}
	server_stop(&quick);
	ck_assert_int_eq(quick.requests, 3);
	ck_assert_int_eq(quick.accepts, 2);
	proxy_thread_cleanup();
}
END_TEST

/* An interim 100 is not the answer: the first-byte timeout still bounds the wait for it. */
START_TEST(an_interim_answer_is_not_the_first_byte)
{
	struct server sv = {.reply = "HTTP/1.1 100 Continue\r\n\r\n", .total = 1, .hold_ms = 2500};
	struct proxy_response resp;
	int64_t t0;
	sg_status st;

	server_start(&sv);
	first_byte_ms = 300;
	t0 = sg_now_us();
	st = call(&sv, &resp);
	first_byte_ms = 0;
	ck_assert_int_eq(st, SG_E_GATEWAY_TIMEOUT);
	ck_assert_int_lt(sg_now_us() - t0, 2000 * 1000); /* not the 5 s read timeout */
	proxy_response_free(&resp);
	server_stop(&sv);
	proxy_thread_cleanup();
}
END_TEST

/* The request head, which holds the provider's key, is wiped after the call. */
START_TEST(the_key_is_wiped_after_the_call)
{
	struct server sv = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .total = 1};
	struct proxy_response resp;

	server_start(&sv);
	ck_assert_int_eq(call(&sv, &resp), SG_OK);
	proxy_response_free(&resp);
	server_stop(&sv);
	ck_assert_ptr_nonnull(strstr(sv.last, "Authorization: Bearer k"));
	ck_assert_ptr_nonnull(proxy_thread_h1());
	ck_assert(!h1_state_holds(proxy_thread_h1(), "Bearer k"));
	proxy_thread_cleanup();
}
END_TEST

START_TEST(a_host_name_is_looked_up)
{
	struct server sv = {.reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", .total = 1};
	struct proxy_response resp;
	struct sg_err err = {0};
	char url[64];

	server_start(&sv);
	snprintf(url, sizeof(url), "http://localhost:%d/v1", sv.port);
	ck_assert_int_eq(call_url(url, 2000, &resp, &err), SG_OK);
	ck_assert_int_eq(resp.status, 200);
	proxy_response_free(&resp);
	server_stop(&sv);
	ck_assert_ptr_nonnull(strstr(sv.last, "\r\nHost: localhost:"));
	proxy_thread_cleanup();
}
END_TEST

/*
 * In a mount and network namespace of its own: loopback up, a UDP socket on
 * 127.0.0.1:53 that reads nothing, and resolv.conf naming it (timeout 5 s, 2
 * attempts).  Then a call to a provider named by a host name, with a connect
 * timeout of 300 ms.  0 when it failed as unreachable within 1.5 s.
 */
static int
stalled_lookup(void)
{
	char dir[] = "/tmp/sg-h1-dns-XXXXXX", conf[64];
	const char text[] = "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n";
	struct sockaddr_in dns = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct ifreq ifr = {0};
	struct proxy_response resp;
	struct sg_err err = {0};
	int64_t t0, ms;
	sg_status st;
	FILE *f;
	int fd, ok;

	if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
		perror("unshare or mount");
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) != 0) {
		perror("loopback up");
		return 2;
	}
	dns.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *) &dns, sizeof(dns)) != 0 || mkdtemp(dir) == NULL) {
		perror("the silent DNS server");
		return 2;
	}
	snprintf(conf, sizeof(conf), "%s/resolv.conf", dir);
	f = fopen(conf, "w");
	ok = f != NULL && fputs(text, f) >= 0;
	ok = f != NULL && fclose(f) == 0 && ok && mount(conf, "/etc/resolv.conf", "none", MS_BIND, NULL) == 0;
	if (!ok) {
		perror("resolv.conf");
		return 2;
	}
	t0 = sg_now_us();
	st = call_url("http://upstream.stalled.test:8080/v1", 300, &resp, &err);
	ms = (sg_now_us() - t0) / 1000;
	fprintf(stderr, "the call to a host name that no DNS answer comes for: %s after %lld ms (%s)\n",
		sg_status_name(st), (long long) ms, err.msg);
	unlink(conf);
	rmdir(dir);
	proxy_thread_cleanup();
	return st == SG_E_BAD_GATEWAY && ms < 1500 ? 0 : 1;
}

START_TEST(name_lookup_ends_at_the_connect_timeout)
{
	pid_t pid;
	int status = 0;

	if (geteuid() != 0) {
		fprintf(stderr, "name_lookup_ends_at_the_connect_timeout: not root, no namespaces: not run\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(stalled_lookup());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the lookup was not bounded by the connect timeout (status %d, see above)", status);
}
END_TEST

Suite *
proxy_h1_suite(void)
{
	const TTest *const pure[] = {parser_refuses_what_is_not_http11, parser_stops_when_a_callback_says_so, url_split,
				     client_switch_and_proxies, NULL};
	const struct sg_loop pure_loops[] = {SG_LOOP(parser_finds_the_same_whatever_the_cut, answers), {.t = NULL}};
	const TTest *const transfers[] = {kept_connection_serves_the_next_calls,
					  closed_kept_connection_is_replaced_once,
					  bytes_after_an_answer_are_not_the_next_answer,
					  a_request_held_then_dropped_is_not_sent_again,
					  the_key_is_wiped_after_the_call,
					  an_interim_answer_is_not_the_first_byte,
					  a_host_name_is_looked_up,
					  name_lookup_ends_at_the_connect_timeout,
					  NULL};
	const struct sg_tcase tcases[] = {{.name = "pure", .tests = pure, .loops = pure_loops},
					  {.name = "transfers", .tests = transfers, .timeout = 30},
					  {.name = NULL}};

	return sg_suite_new("proxy_h1", tcases);
}
