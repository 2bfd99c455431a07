/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcp.c: the Model Context Protocol client used to list an MCP server's
 * tools (Streamable HTTP transport, revision 2025-03-26).
 *
 * One call is a short conversation, each message one proxy_stream() call:
 *   POST initialize                  → result (and maybe an Mcp-Session-Id)
 *   POST notifications/initialized   → 202
 *   POST tools/list [cursor]         → result.tools, result.nextCursor …
 *   DELETE (only with a session id, best effort)
 * Each answer may be application/json (buffered by proxy, at most
 * max_response_bytes) or a text/event-stream, which is split as it arrives
 * by proxy_sse_feed(), each event looked at once; we stop reading as soon as
 * the response with our id has arrived, since a server may keep the stream
 * open.  One deadline covers the whole conversation; proxy's silence timer
 * and client-alive check cover each message.  Before the first message the
 * endpoint is checked against the caller's rights (netaddr.h) and, for a
 * caller who is not trusted, the connection pinned to the checked address.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "mcp.h"
#include "netaddr.h"
#include "provider.h"
#include "proxy.h"

/* The one refusal, whatever the target (so it tells nothing about it). */
#define REFUSAL                                                                           \
	"provider '%s' does not allow this mcp_endpoint for the caller: only admins may " \
	"register endpoints that are not on its allowed_hosts"

/* Looks for the response with one id in SSE events (proxy_sse_feed()'s callback). */
struct finder {
	json_int_t id;
	json_t *found;
	bool nomem;
	struct sg_buf data; /* the event's data lines, joined */
};

/* Copies a header's value (trimmed) when its name matches. */
static bool
header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), vlen;
	const char *v;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	v = line + nl + 1;
	vlen = n - nl - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (vlen >= outlen)
		vlen = outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return true;
}

/* Returns the JSON-RPC response among msg (an object or a batch) with that id. */
static json_t *
pick_response(json_t *msg, json_int_t id)
{
	if (json_is_array(msg)) {
		size_t i;
		json_t *m;

		json_array_foreach(msg, i, m) {
			json_t *found = pick_response(m, id);

			if (found != NULL)
				return found;
		}
		return NULL;
	}
	if (!json_is_object(msg))
		return NULL;
	json_t *jid = json_object_get(msg, "id");

	if (!json_is_integer(jid) || json_integer_value(jid) != id)
		return NULL;
	if (json_object_get(msg, "result") == NULL && json_object_get(msg, "error") == NULL)
		return NULL;
	return json_incref(msg);
}

static bool
on_event(void *ctx, const char *ev, size_t len)
{
	struct finder *f = ctx;
	json_t *v;

	switch (proxy_sse_data(ev, len, &f->data)) {
	case -1:
		f->nomem = true;
		return false;
	case 0:
		return true;
	default:
		break;
	}
	v = json_loadb(f->data.p, f->data.len, 0, NULL);
	if (v != NULL) {
		f->found = pick_response(v, f->id);
		json_decref(v);
	}
	return f->found == NULL;
}

json_t *
mcp_find_response(const char *buf, size_t len, bool sse, bool complete, json_int_t id)
{
	struct finder f = {.id = id};
	struct proxy_sse s = {.max_event = len + 1};
	bool truncated;

	if (!sse) {
		json_t *v = json_loadb(buf, len, 0, NULL), *found;

		if (v == NULL)
			return NULL;
		found = pick_response(v, id);
		json_decref(v);
		return found;
	}
	if (proxy_sse_feed(&s, buf, len, on_event, &f) == PROXY_SSE_OK && complete) {
		/* A stop means found; a partial last line is no event: f says all there is. */
		enum proxy_sse_result last = proxy_sse_finish(&s, on_event, &f, &truncated);

		(void) last;
	}
	proxy_sse_free(&s);
	sg_buf_free(&f.data);
	return f.found;
}

/* One MCP conversation. */
struct conv {
	const struct mcp_call *call;
	const struct sg_provider *p;
	int64_t deadline_us;
	long total_ms;
	size_t max_bytes;
	char connect_to[128]; /* "" when not pinned */
	const char **hdrs;    /* configured header lines + the session's, NULL-terminated */
	size_t nconf;         /* how many of hdrs are configured ones */
	char session[256];    /* the session id the server gave */
	char sidhdr[300];
	struct sg_err *err;
};

/* What one answer collects: headers, and for a stream the splitter and the finder. */
struct answer {
	struct conv *c;
	char session[256];
	bool session_bad;
	struct proxy_sse sse;
	struct finder f;
	size_t bytes;
	bool too_large;
	bool notified; /* a notification's 2xx stream: its status is all we wanted */
};

static void
on_header(void *ctx, const char *line, size_t n)
{
	struct answer *a = ctx;
	char sid[sizeof(a->session)];

	if (header_value(line, n, "Mcp-Session-Id", sid, sizeof(sid))) {
		/* The spec allows visible ASCII only; anything else could split our next request's headers. */
		bool ok = sid[0] != '\0' && strlen(sid) < sizeof(sid) - 1;

		for (const char *p = sid; ok && *p != '\0'; p++)
			if (*p < 0x21 || *p > 0x7e)
				ok = false;
		if (ok)
			memcpy(a->session, sid, sizeof(sid));
		else
			a->session_bad = true;
	}
}

static bool
sink_begin(void *ctx, long status, const char *content_type)
{
	struct answer *a = ctx;

	(void) status;
	(void) content_type;
	/* A notification expects no response: a server that opens a stream anyway is not waited for. */
	if (a->f.id == 0) {
		a->notified = true;
		return false;
	}
	return true;
}

static bool
sink_data(void *ctx, const char *buf, size_t len)
{
	struct answer *a = ctx;

	a->bytes += len;
	if (a->bytes > a->c->max_bytes) {
		a->too_large = true;
		return false;
	}
	switch (proxy_sse_feed(&a->sse, buf, len, on_event, &a->f)) {
	case PROXY_SSE_OK:
		return true;
	case PROXY_SSE_TOO_BIG:
		a->too_large = true;
		return false;
	case PROXY_SSE_NOMEM:
		a->f.nomem = true;
		return false;
	case PROXY_SSE_STOP:
	default:
		return false; /* found (or out of memory in the finder) */
	}
}

/* Time left of the conversation, or a 504 in c->err. */
static sg_status
time_left(struct conv *c, const char *method, long *left_ms)
{
	*left_ms = (long) ((c->deadline_us - sg_now_us()) / 1000);
	if (*left_ms > 0)
		return SG_OK;
	return sg_fail(c->err, SG_E_GATEWAY_TIMEOUT, NULL, "the MCP server did not complete %s within %g s", method,
		       c->total_ms / 1000.0);
}

static void
set_session_header(struct conv *c)
{
	if (c->session[0] == '\0')
		return;
	snprintf(c->sidhdr, sizeof(c->sidhdr), "Mcp-Session-Id: %s", c->session);
	c->hdrs[c->nconf] = c->sidhdr;
}

/*
 * POSTs one JSON-RPC message.  For a request (id > 0) returns its response
 * message in *resp (new reference); for a notification (id == 0) only checks
 * the HTTP status.  method names the message in errors.
 */
static sg_status
rpc(struct conv *c, const char *method, json_t *params, json_int_t id, json_t **resp)
{
	struct answer a = {.c = c, .sse = {.max_event = c->max_bytes}, .f = {.id = id}};
	struct proxy_sink sink = {sink_begin, sink_data, &a};
	struct proxy_response pr = {0};
	struct proxy_request q;
	json_t *msg = NULL;
	struct sg_err perr;
	char *body = NULL;
	bool truncated;
	long left_ms;
	sg_status st;

	if (resp != NULL)
		*resp = NULL;
	st = time_left(c, method, &left_ms);
	if (st != SG_OK)
		return st;
	st = SG_E_NOMEM;
	msg = id > 0 ? json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method)
		     : json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (msg == NULL || (params != NULL && json_object_set(msg, "params", params) != 0))
		goto out;
	body = sg_json_dump(msg);
	if (body == NULL)
		goto out;
	q = (struct proxy_request){.provider = c->p,
				   .method = "POST",
				   .path = method,
				   .body = body,
				   .body_len = strlen(body),
				   .request_id = c->call->request_id,
				   .client_alive = c->call->client_alive,
				   .alive_ctx = c->call->alive_ctx,
				   .url = c->call->uri,
				   .accept = "application/json, text/event-stream",
				   .headers = c->hdrs,
				   .connect_to = c->connect_to[0] != '\0' ? c->connect_to : NULL,
				   .timeout_ms = left_ms,
				   .max_body = c->max_bytes,
				   .on_header = on_header,
				   .header_ctx = &a};
	st = proxy_stream(&q, &sink, &pr, &perr);
	if (st != SG_OK) {
		if (st == SG_E_GATEWAY_TIMEOUT && c->deadline_us - sg_now_us() < 100 * 1000)
			sg_fail(c->err, st, NULL, "the MCP server did not complete %s within %g s", method,
				c->total_ms / 1000.0);
		else
			sg_fail(c->err, st, NULL, "the MCP call %s failed: %s", method, perr.msg);
		goto out;
	}
	st = SG_E_BAD_GATEWAY;
	if (pr.aborted && a.f.found == NULL && !a.notified) {
		if (a.too_large)
			sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server's answer to %s exceeds %zu bytes",
				method, c->max_bytes);
		else if (a.f.nomem)
			st = SG_E_NOMEM;
		else
			sg_fail(c->err, SG_E_BAD_GATEWAY, NULL,
				"the client went away before the MCP server answered %s", method);
		goto out;
	}
	if (a.session_bad) {
		sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server sent an invalid Mcp-Session-Id header");
		goto out;
	}
	if (pr.status < 200 || pr.status > 299) {
		sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server answered %s with HTTP status %ld", method,
			pr.status);
		goto out;
	}
	if (a.session[0] != '\0' && c->session[0] == '\0') {
		memcpy(c->session, a.session, sizeof(c->session));
		set_session_header(c);
	}
	if (id == 0) {
		st = SG_OK;
		goto out;
	}
	if (pr.streamed) {
		if (a.f.found == NULL && proxy_sse_finish(&a.sse, on_event, &a.f, &truncated) != PROXY_SSE_OK &&
		    a.f.nomem) {
			st = SG_E_NOMEM;
			goto out;
		}
		*resp = a.f.found;
		a.f.found = NULL;
	} else {
		json_t *v;

		if (strncasecmp(pr.content_type, "application/json", 16) != 0) {
			sg_fail(c->err, SG_E_BAD_GATEWAY, NULL,
				"the MCP server answered %s with content type '%.64s', not application/json or "
				"text/event-stream",
				method, pr.content_type[0] ? pr.content_type : "(none)");
			goto out;
		}
		v = pr.body.p != NULL ? json_loadb(pr.body.p, pr.body.len, 0, NULL) : NULL;
		if (v == NULL) {
			sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server's answer to %s is not valid JSON",
				method);
			goto out;
		}
		*resp = pick_response(v, id);
		json_decref(v);
	}
	if (*resp == NULL) {
		sg_fail(c->err, SG_E_BAD_GATEWAY, NULL,
			"the MCP server's answer to %s is not a JSON-RPC response with id %lld", method,
			(long long) id);
		goto out;
	}
	st = SG_OK;
out:
	proxy_response_free(&pr);
	proxy_sse_free(&a.sse);
	sg_buf_free(&a.f.data);
	json_decref(a.f.found);
	free(body);
	json_decref(msg);
	return sg_err_nomem(c->err, st);
}

/*
 * A request: rpc(), then the "result" of its response into *result
 * (borrowed from *resp, a new reference the caller frees whatever the
 * status), or a 502 naming the JSON-RPC error.
 */
static sg_status
request(struct conv *c, const char *method, json_t *params, json_int_t id, json_t **resp, json_t **result)
{
	sg_status st = rpc(c, method, params, id, resp);
	json_t *e;

	if (st != SG_OK)
		return st;
	e = json_object_get(*resp, "error");
	*result = json_object_get(*resp, "result");
	if (e != NULL && !json_is_null(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));

		return sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server answered %s with error %lld: %.200s",
			       method, (long long) json_integer_value(json_object_get(e, "code")),
			       m ? m : "(no message)");
	}
	if (!json_is_object(*result))
		return sg_fail(c->err, SG_E_BAD_GATEWAY, NULL, "the MCP server's result for %s is not an object",
			       method);
	return SG_OK;
}

/*
 * Checks the endpoint against the caller's rights and pins the connection
 * of an untrusted caller to the address checked.
 */
static sg_status
check_target(struct conv *c)
{
	struct netaddr_url u;
	char why[256];
	sg_status st;

	st = netaddr_parse_url(c->call->uri, &u, why, sizeof(why));
	if (st != SG_OK) {
		return sg_fail(c->err, st, NULL, "mcp_endpoint.uri %s", why);
	}
	if (c->call->trusted)
		return SG_OK;
	if (!netaddr_allowed(&u, c->p->allowed_hosts)) {
		log_info("mcp: %s:%u is not on the allowed_hosts of provider %s; refused", u.host, u.port,
			 c->p->provider_id);
		return sg_fail(c->err, SG_E_FORBIDDEN, NULL, REFUSAL, c->p->provider_id);
	}
	st = netaddr_pin(&u, c->connect_to, sizeof(c->connect_to), why, sizeof(why));
	if (st != SG_OK)
		sg_fail(c->err, st, NULL, "the MCP server is unreachable: %s", why);
	else
		log_debug("mcp: %s:%u pinned to %s", u.host, u.port, c->connect_to);
	return st;
}

/* The configured header lines ("Name: value"), with a free slot for the session's and the NULL. */
static sg_status
build_headers(struct conv *c)
{
	const json_t *hv;
	const char *name;
	size_t i = 0;

	c->nconf = json_object_size(c->p->headers);
	c->hdrs = sg_calloc(c->nconf + 2, sizeof(*c->hdrs));
	if (c->hdrs == NULL)
		return SG_E_NOMEM;
	json_object_foreach((json_t *) c->p->headers, name, hv) {
		c->hdrs[i] = sg_asprintf("%s: %s", name, json_string_value(hv) ? json_string_value(hv) : "");
		if (c->hdrs[i++] == NULL)
			return SG_E_NOMEM;
	}
	return SG_OK;
}

static void
free_headers(struct conv *c)
{
	for (size_t i = 0; c->hdrs != NULL && i < c->nconf; i++) {
		if (c->hdrs[i] == NULL)
			continue;
		explicit_bzero((char *) c->hdrs[i], strlen(c->hdrs[i]));
		free((char *) c->hdrs[i]);
	}
	free(c->hdrs);
	c->hdrs = NULL;
}

/* Be polite: ends the session, if the server opened one (it may answer 405; that is fine). */
static void
end_session(struct conv *c)
{
	long left_ms = (long) ((c->deadline_us - sg_now_us()) / 1000);
	struct proxy_request q = {.provider = c->p,
				  .method = "DELETE",
				  .path = "(end of session)",
				  .request_id = c->call->request_id,
				  .client_alive = c->call->client_alive,
				  .alive_ctx = c->call->alive_ctx,
				  .url = c->call->uri,
				  .headers = c->hdrs,
				  .connect_to = c->connect_to[0] != '\0' ? c->connect_to : NULL,
				  .timeout_ms = left_ms < 2000 ? left_ms : 2000,
				  .max_body = 65536};
	struct proxy_response pr;
	struct sg_err perr;

	if (c->session[0] == '\0' || q.timeout_ms <= 0)
		return;
	if (proxy_call(&q, &pr, &perr) != SG_OK)
		log_debug("mcp: ending the session failed (ignored): %s", perr.msg);
	proxy_response_free(&pr);
}

sg_status
mcp_list_tools(const struct mcp_call *call, json_t **defs, struct sg_err *err)
{
	const struct sg_provider *p = call->provider;
	struct conv c = {.call = call, .p = p, .err = err};
	json_t *params = NULL, *resp = NULL, *result, *out = NULL;
	char *cursor = NULL;
	json_int_t id = 1;
	sg_status st;

	*defs = NULL;
	sg_err_reset(err);
	if (p == NULL)
		return sg_fail(err, SG_E_INTERNAL, NULL, "the tool group has no tool_runtime provider");
	c.total_ms = p->total_timeout_ms > 0 ? p->total_timeout_ms : SG_MCP_TOTAL_TIMEOUT_MS;
	c.max_bytes = p->max_response_bytes > 0 ? p->max_response_bytes : SG_MCP_MAX_RESPONSE_BYTES;
	c.deadline_us = sg_now_us() + (int64_t) c.total_ms * 1000;
	st = check_target(&c);
	if (st != SG_OK)
		goto out;
	if (call->client_alive != NULL && !call->client_alive(call->alive_ctx)) {
		st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the client went away before the MCP server was asked");
		goto out;
	}
	st = build_headers(&c);
	if (st != SG_OK)
		goto out;
	st = SG_E_NOMEM;
	out = json_array();
	params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", SG_MCP_PROTOCOL_VERSION, "capabilities",
			   "clientInfo", "name", PACKAGE_NAME, "version", PACKAGE_VERSION);
	if (out == NULL || params == NULL)
		goto out;
	st = request(&c, "initialize", params, id++, &resp, &result);
	if (st != SG_OK)
		goto out;
	json_decref(resp);
	resp = NULL;

	st = rpc(&c, "notifications/initialized", NULL, 0, NULL);
	if (st != SG_OK)
		goto out;

	for (int page = 0;; page++) {
		json_t *tools, *next, *tool;
		size_t i;

		if (page >= SG_MCP_MAX_PAGES) {
			st = sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server's tool list has more than %d pages",
				     SG_MCP_MAX_PAGES);
			goto out;
		}
		json_decref(params);
		params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
		if (cursor != NULL && params == NULL) {
			st = SG_E_NOMEM;
			goto out;
		}
		st = request(&c, "tools/list", params, id++, &resp, &result);
		if (st != SG_OK)
			goto out;
		st = SG_E_BAD_GATEWAY;
		tools = json_object_get(result, "tools");
		if (!json_is_array(tools)) {
			sg_fail(err, SG_E_BAD_GATEWAY, NULL,
				"the MCP server's tools/list result has no \"tools\" array");
			goto out;
		}
		json_array_foreach(tools, i, tool) {
			json_t *def;

			if (json_array_size(out) >= SG_MCP_MAX_TOOLS) {
				sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server lists more than %d tools",
					SG_MCP_MAX_TOOLS);
				goto out;
			}
			st = mcp_tool_to_def(tool, call->uri, &def, err);
			if (st != SG_OK)
				goto out;
			if (json_array_append_new(out, def) != 0) {
				st = SG_E_NOMEM;
				goto out;
			}
		}
		st = SG_E_BAD_GATEWAY;
		next = json_object_get(result, "nextCursor");
		free(cursor);
		cursor = NULL;
		if (next == NULL || json_is_null(next))
			break;
		if (!json_is_string(next)) {
			sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server's nextCursor is not a string");
			goto out;
		}
		cursor = sg_strdup(json_string_value(next));
		json_decref(resp);
		resp = NULL;
		if (cursor == NULL) {
			st = SG_E_NOMEM;
			goto out;
		}
	}

	end_session(&c);
	*defs = out;
	out = NULL;
	st = SG_OK;
out:
	/* The server's own words are in the message; it may echo the headers it was sent. */
	provider_scrub_own(p, err->msg);
	provider_scrub_own(p, err->detail);
	if (sg_err_nomem(err, st) != SG_OK)
		log_info("mcp: listing the tools through provider %s failed: %s", p->provider_id, err->msg);
	free_headers(&c);
	free(cursor);
	json_decref(params);
	json_decref(resp);
	json_decref(out);
	return st;
}
