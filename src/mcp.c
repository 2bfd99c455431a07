/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcp.c: the Model Context Protocol client used to list an MCP server's
 * tools (Streamable HTTP transport, revision 2025-03-26).
 *
 * One call is a short conversation over one libcurl easy handle:
 *   POST initialize                  → result (and maybe an Mcp-Session-Id)
 *   POST notifications/initialized   → 202
 *   POST tools/list [cursor]         → result.tools, result.nextCursor …
 *   DELETE (only with a session id, best effort)
 * Each answer may be application/json or a text/event-stream; in the latter
 * case we stop reading as soon as the response with our id has arrived,
 * since a server may keep the stream open.  One deadline covers the whole
 * conversation.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"
#include "mcp.h"

/* What one HTTP exchange collects. */
struct xfer {
	char *buf;
	size_t len, cap;
	bool too_large;
	bool sse;
	bool got_ctype;
	char ctype[128];
	char session[256];
	bool session_bad;
	/* SSE early stop: the response we wait for, once it is complete. */
	json_int_t want_id;
	json_t *found;
	size_t scanned;
};

static void
xfer_reset(struct xfer *x, json_int_t want_id)
{
	free(x->buf);
	if (x->found != NULL)
		json_decref(x->found);
	x->buf = NULL;
	x->len = x->cap = 0;
	x->too_large = x->sse = x->got_ctype = false;
	x->ctype[0] = '\0';
	x->want_id = want_id;
	x->found = NULL;
	x->scanned = 0;
}

/* Finds the end of the next SSE event at or after p: the offset after its blank line, or 0. */
static size_t
sse_event_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;

	if (x->len + n > SG_MCP_MAX_RESPONSE_BYTES) {
		x->too_large = true;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < x->len + n + 1)
			cap *= 2;
		nb = sg_realloc(x->buf, cap);
		if (nb == NULL)
			return 0;
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, ptr, n);
	x->len += n;
	x->buf[x->len] = '\0';
	if (x->sse && x->want_id > 0) {
		/* Look only at the events completed by this chunk. */
		size_t end = x->scanned, e;

		while ((e = sse_event_end(x->buf, x->len, end)) != 0)
			end = e;
		if (end > x->scanned) {
			x->found = mcp_find_response(x->buf, end, true, true, x->want_id);
			x->scanned = end;
			if (x->found != NULL)
				return 0; /* stop reading: the server may keep the stream open */
		}
	}
	return n;
}

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

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	char sid[sizeof(x->session)];

	if (header_value(ptr, n, "Content-Type", x->ctype, sizeof(x->ctype))) {
		x->got_ctype = true;
		x->sse = strncasecmp(x->ctype, "text/event-stream", 17) == 0;
	} else if (header_value(ptr, n, "Mcp-Session-Id", sid, sizeof(sid))) {
		/* The spec allows visible ASCII only; anything else could split our next request's headers. */
		bool ok = sid[0] != '\0' && strlen(sid) < sizeof(sid) - 1;

		for (const char *p = sid; ok && *p != '\0'; p++)
			if (*p < 0x21 || *p > 0x7e)
				ok = false;
		if (ok)
			memcpy(x->session, sid, sizeof(sid));
		else
			x->session_bad = true;
	}
	return n;
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

json_t *
mcp_find_response(const char *buf, size_t len, bool sse, bool complete, json_int_t id)
{
	json_t *found = NULL;
	size_t pos = 0;

	if (!sse) {
		json_t *v = json_loadb(buf, len, 0, NULL);

		if (v == NULL)
			return NULL;
		found = pick_response(v, id);
		json_decref(v);
		return found;
	}
	while (pos < len && found == NULL) {
		size_t end = sse_event_end(buf, len, pos);
		char *data = NULL;
		size_t dlen = 0;

		if (end == 0) {
			if (!complete)
				break;
			end = len;
		}
		/* Collect the event's data lines. */
		for (size_t ls = pos; ls < end;) {
			const char *nl = memchr(buf + ls, '\n', end - ls);
			size_t le = nl ? (size_t) (nl - buf) : end, ll = le - ls;
			const char *line = buf + ls;

			if (ll > 0 && line[ll - 1] == '\r')
				ll--;
			if (ll >= 5 && memcmp(line, "data:", 5) == 0) {
				const char *v = line + 5;
				size_t vl = ll - 5;
				char *nd;

				if (vl > 0 && *v == ' ') {
					v++;
					vl--;
				}
				nd = sg_realloc(data, dlen + vl + 2);
				if (nd == NULL) {
					free(data);
					return NULL;
				}
				data = nd;
				if (dlen > 0)
					data[dlen++] = '\n';
				memcpy(data + dlen, v, vl);
				dlen += vl;
				data[dlen] = '\0';
			}
			ls = le + 1;
		}
		if (data != NULL) {
			json_t *v = json_loadb(data, dlen, 0, NULL);

			if (v != NULL) {
				found = pick_response(v, id);
				json_decref(v);
			}
			free(data);
		}
		pos = end;
	}
	return found;
}

/* The JSON-schema type of a property as a ToolParameter's parameter_type. */
static const char *
schema_type(const json_t *prop)
{
	const json_t *t = json_object_get(prop, "type");

	if (json_is_string(t))
		return json_string_value(t);
	if (json_is_array(t)) {
		size_t i;
		const json_t *e;

		json_array_foreach(t, i, e)
			if (json_is_string(e) && strcmp(json_string_value(e), "null") != 0)
				return json_string_value(e);
	}
	return "string";
}

static bool
listed(const json_t *required, const char *name)
{
	size_t i;
	const json_t *e;

	json_array_foreach(required, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), name) == 0)
			return true;
	return false;
}

sg_status
mcp_tool_to_def(const json_t *tool, const char *endpoint, json_t **def, char *err, size_t errlen)
{
	const json_t *name, *desc, *schema, *props = NULL, *required = NULL, *prop;
	json_t *params = NULL, *out = NULL;
	const char *pname;
	sg_status st = SG_E_BAD_GATEWAY;

	*def = NULL;
	if (!json_is_object(tool)) {
		snprintf(err, errlen, "the MCP server listed a tool that is not an object");
		goto out;
	}
	name = json_object_get(tool, "name");
	if (!json_is_string(name) || json_string_length(name) == 0) {
		snprintf(err, errlen, "the MCP server listed a tool without a name");
		goto out;
	}
	desc = json_object_get(tool, "description");
	if (desc != NULL && !json_is_null(desc) && !json_is_string(desc)) {
		snprintf(err, errlen, "the MCP server's tool '%.64s' has a description that is not a string",
			 json_string_value(name));
		goto out;
	}
	schema = json_object_get(tool, "inputSchema");
	if (schema != NULL && !json_is_null(schema)) {
		if (!json_is_object(schema)) {
			snprintf(err, errlen, "the MCP server's tool '%.64s' has an inputSchema that is not an object",
				 json_string_value(name));
			goto out;
		}
		props = json_object_get(schema, "properties");
		required = json_object_get(schema, "required");
		if (props != NULL && !json_is_null(props) && !json_is_object(props)) {
			snprintf(err, errlen, "the MCP server's tool '%.64s' has inputSchema.properties that is not an object",
				 json_string_value(name));
			goto out;
		}
		if (!json_is_array(required))
			required = NULL;
	}

	st = SG_E_NOMEM;
	params = json_array();
	if (params == NULL)
		goto out;
	if (json_is_object(props)) {
		json_object_foreach((json_t *) props, pname, prop) {
			const json_t *pd, *dflt;
			json_t *p;

			if (!json_is_object(prop)) {
				snprintf(err, errlen, "the MCP server's tool '%.64s' has a property '%.64s' that is not an object",
					 json_string_value(name), pname);
				st = SG_E_BAD_GATEWAY;
				goto out;
			}
			pd = json_object_get(prop, "description");
			dflt = json_object_get(prop, "default");
			p = json_pack("{s:s, s:s, s:s, s:b, s:O}", "name", pname, "parameter_type", schema_type(prop),
				      "description", json_is_string(pd) ? json_string_value(pd) : "", "required",
				      required != NULL && listed(required, pname), "default",
				      dflt != NULL ? (json_t *) dflt : json_null());
			if (p == NULL || json_array_append_new(params, p) != 0)
				goto out;
		}
	}
	out = json_pack("{s:O, s:s, s:O, s:o}", "name", name, "description",
			json_is_string(desc) ? json_string_value(desc) : "", "parameters", params, "metadata",
			endpoint != NULL ? json_pack("{s:s}", "endpoint", endpoint) : json_null());
	if (out == NULL)
		goto out;
	*def = out;
	out = NULL;
	st = SG_OK;
out:
	if (st == SG_E_NOMEM)
		snprintf(err, errlen, "out of memory");
	json_decref(params);
	json_decref(out);
	return st;
}

/* Appends to a header list; on failure frees the whole list and returns NULL. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *h)
{
	struct curl_slist *n;

	n = curl_slist_append(list, h);
	if (n == NULL)
		curl_slist_free_all(list);
	return n;
}

/* One MCP conversation. */
struct conv {
	CURL *h;
	const char *uri;
	int64_t deadline_us;
	char session[256];
	struct xfer x;
	char *err;
	size_t errlen;
};

/*
 * POSTs one JSON-RPC message.  For a request (id > 0) returns its response
 * message in *resp (new reference); for a notification (id == 0) only checks
 * the HTTP status.  what names the method in messages.
 */
static sg_status
rpc(struct conv *c, const char *method, json_t *params, json_int_t id, json_t **resp)
{
	struct curl_slist *hdrs = NULL;
	json_t *msg = NULL;
	char *body = NULL, sidhdr[300];
	long code = 0, left_ms;
	CURLcode cc;
	sg_status st = SG_E_NOMEM;

	if (resp != NULL)
		*resp = NULL;
	xfer_reset(&c->x, id);
	left_ms = (long) ((c->deadline_us - sg_now_us()) / 1000);
	if (left_ms <= 0) {
		snprintf(c->err, c->errlen, "the MCP server did not answer %s within %ld s", method,
			 SG_MCP_TOTAL_TIMEOUT_MS / 1000);
		return SG_E_GATEWAY_TIMEOUT;
	}

	msg = id > 0 ? json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method)
		     : json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (msg == NULL || (params != NULL && json_object_set(msg, "params", params) != 0))
		goto out;
	body = sg_json_dump(msg);
	if (body == NULL)
		goto out;
	hdrs = add_header(NULL, "Content-Type: application/json");
	if (hdrs != NULL)
		hdrs = add_header(hdrs, "Accept: application/json, text/event-stream");
	if (hdrs != NULL)
		hdrs = add_header(hdrs, "Expect:");
	if (hdrs != NULL && c->session[0] != '\0') {
		snprintf(sidhdr, sizeof(sidhdr), "Mcp-Session-Id: %s", c->session);
		hdrs = add_header(hdrs, sidhdr);
	}
	if (hdrs == NULL)
		goto out;

	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, left_ms);
	cc = curl_easy_perform(c->h);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);

	st = SG_E_BAD_GATEWAY;
	if (c->x.too_large) {
		snprintf(c->err, c->errlen, "the MCP server's answer to %s exceeds %u bytes", method,
			 SG_MCP_MAX_RESPONSE_BYTES);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(c->err, c->errlen, "the MCP server did not answer %s within %ld s", method,
			 SG_MCP_TOTAL_TIMEOUT_MS / 1000);
		st = SG_E_GATEWAY_TIMEOUT;
		goto out;
	}
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && c->x.found != NULL)) {
		if (cc == CURLE_WRITE_ERROR) {
			st = SG_E_NOMEM;
			snprintf(c->err, c->errlen, "out of memory");
		} else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
			   cc == CURLE_COULDNT_RESOLVE_PROXY) {
			snprintf(c->err, c->errlen, "the MCP server is unreachable: %s", curl_easy_strerror(cc));
		} else {
			snprintf(c->err, c->errlen, "the MCP request %s failed: %s", method, curl_easy_strerror(cc));
		}
		goto out;
	}
	if (c->x.session_bad) {
		snprintf(c->err, c->errlen, "the MCP server sent an invalid Mcp-Session-Id header");
		goto out;
	}
	if (code < 200 || code > 299) {
		snprintf(c->err, c->errlen, "the MCP server answered %s with HTTP status %ld", method, code);
		goto out;
	}
	if (id == 0) {
		st = SG_OK;
		goto out;
	}
	if (c->x.found != NULL) {
		*resp = c->x.found;
		c->x.found = NULL;
	} else {
		if (!c->x.sse && strncasecmp(c->x.ctype, "application/json", 16) != 0) {
			snprintf(c->err, c->errlen,
				 "the MCP server answered %s with content type '%.64s', not application/json or "
				 "text/event-stream",
				 method, c->x.got_ctype ? c->x.ctype : "(none)");
			goto out;
		}
		if (!c->x.sse) {
			json_t *v = c->x.buf ? json_loadb(c->x.buf, c->x.len, 0, NULL) : NULL;

			if (v == NULL) {
				snprintf(c->err, c->errlen, "the MCP server's answer to %s is not valid JSON", method);
				goto out;
			}
			json_decref(v);
		}
		*resp = c->x.buf ? mcp_find_response(c->x.buf, c->x.len, c->x.sse, true, id) : NULL;
		if (*resp == NULL) {
			snprintf(c->err, c->errlen, "the MCP server's answer to %s is not a JSON-RPC response with id %lld",
				 method, (long long) id);
			goto out;
		}
	}
	st = SG_OK;
out:
	if (st == SG_E_NOMEM && c->err[0] == '\0')
		snprintf(c->err, c->errlen, "out of memory");
	curl_slist_free_all(hdrs);
	free(body);
	json_decref(msg);
	return st;
}

/* The "result" of a response, or a 502 naming the JSON-RPC error. */
static sg_status
rpc_result(struct conv *c, const char *method, json_t *resp, json_t **result)
{
	json_t *e = json_object_get(resp, "error");

	*result = json_object_get(resp, "result");
	if (e != NULL && !json_is_null(e)) {
		const char *m = json_string_value(json_object_get(e, "message"));

		snprintf(c->err, c->errlen, "the MCP server answered %s with error %lld: %.200s", method,
			 (long long) json_integer_value(json_object_get(e, "code")), m ? m : "(no message)");
		return SG_E_BAD_GATEWAY;
	}
	if (!json_is_object(*result)) {
		snprintf(c->err, c->errlen, "the MCP server's result for %s is not an object", method);
		return SG_E_BAD_GATEWAY;
	}
	return SG_OK;
}

sg_status
mcp_list_tools(const char *uri, json_t **defs, char *err, size_t errlen)
{
	struct conv c = {.uri = uri, .err = err, .errlen = errlen};
	json_t *params = NULL, *resp = NULL, *result, *out = NULL;
	char *cursor = NULL;
	json_int_t id = 1;
	sg_status st = SG_E_NOMEM;

	*defs = NULL;
	err[0] = '\0';
	c.deadline_us = sg_now_us() + SG_MCP_TOTAL_TIMEOUT_MS * 1000;
	c.h = curl_easy_init();
	out = json_array();
	if (c.h == NULL || out == NULL)
		goto out;
	curl_easy_setopt(c.h, CURLOPT_URL, uri);
	curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c.h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT_MS, SG_MCP_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &c.x);
	curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &c.x);
	curl_easy_setopt(c.h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);

	params = json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion", SG_MCP_PROTOCOL_VERSION, "capabilities",
			   "clientInfo", "name", PACKAGE_NAME, "version", PACKAGE_VERSION);
	if (params == NULL)
		goto out;
	st = rpc(&c, "initialize", params, id++, &resp);
	if (st != SG_OK)
		goto out;
	st = rpc_result(&c, "initialize", resp, &result);
	if (st != SG_OK)
		goto out;
	json_decref(resp);
	resp = NULL;
	memcpy(c.session, c.x.session, sizeof(c.session));

	st = rpc(&c, "notifications/initialized", NULL, 0, NULL);
	if (st != SG_OK)
		goto out;

	for (int page = 0;; page++) {
		json_t *tools, *next, *tool;
		size_t i;

		if (page >= SG_MCP_MAX_PAGES) {
			st = SG_E_BAD_GATEWAY;
			snprintf(err, errlen, "the MCP server's tool list has more than %d pages", SG_MCP_MAX_PAGES);
			goto out;
		}
		json_decref(params);
		params = cursor ? json_pack("{s:s}", "cursor", cursor) : NULL;
		if (cursor != NULL && params == NULL) {
			st = SG_E_NOMEM;
			goto out;
		}
		st = rpc(&c, "tools/list", params, id++, &resp);
		if (st != SG_OK)
			goto out;
		st = rpc_result(&c, "tools/list", resp, &result);
		if (st != SG_OK)
			goto out;
		st = SG_E_BAD_GATEWAY;
		tools = json_object_get(result, "tools");
		if (!json_is_array(tools)) {
			snprintf(err, errlen, "the MCP server's tools/list result has no \"tools\" array");
			goto out;
		}
		json_array_foreach(tools, i, tool) {
			json_t *def;

			if (json_array_size(out) >= SG_MCP_MAX_TOOLS) {
				snprintf(err, errlen, "the MCP server lists more than %d tools", SG_MCP_MAX_TOOLS);
				goto out;
			}
			st = mcp_tool_to_def(tool, uri, &def, err, errlen);
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
			snprintf(err, errlen, "the MCP server's nextCursor is not a string");
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

	/* Be polite: end the session (the server may answer 405; that is fine). */
	if (c.session[0] != '\0') {
		char sidhdr[300];
		struct curl_slist *hdrs;

		snprintf(sidhdr, sizeof(sidhdr), "Mcp-Session-Id: %s", c.session);
		hdrs = curl_slist_append(NULL, sidhdr);
		if (hdrs != NULL) {
			xfer_reset(&c.x, 0);
			curl_easy_setopt(c.h, CURLOPT_HTTPGET, 1L);
			curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, "DELETE");
			curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, hdrs);
			curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, 2000L);
			if (curl_easy_perform(c.h) != CURLE_OK)
				log_debug("mcp: ending the session failed (ignored)");
			curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, NULL);
			curl_slist_free_all(hdrs);
		}
	}
	*defs = out;
	out = NULL;
	st = SG_OK;
out:
	if (st == SG_E_NOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	if (st != SG_OK)
		log_debug("mcp: listing tools failed: %s", err);
	xfer_reset(&c.x, 0);
	if (c.h != NULL)
		curl_easy_cleanup(c.h);
	free(cursor);
	json_decref(params);
	json_decref(resp);
	json_decref(out);
	return st;
}
