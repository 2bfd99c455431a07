/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcp.h: a small client of the Model Context Protocol's Streamable HTTP
 * transport (protocol revision 2025-03-26), enough to list the tools of an
 * MCP server when a tool group with an mcp_endpoint is registered:
 * initialize, notifications/initialized, tools/list (every page).
 *
 * Blocking; the calls go through proxy.h (the thread's curl handle, its
 * silence timer, its client-alive check, its curl-code mapping) and the SSE
 * answers through proxy's one SSE splitter, so a stream of any number of
 * events costs time linear in its bytes.  Bounds, from the tool-runtime
 * provider's config (conf.h): total_timeout for the whole conversation
 * (default 30 s), read_timeout of silence (10 s), connect_timeout (5 s),
 * max_response_bytes per answer (4 MiB).  Redirects are not followed.
 *
 * Who may send stackgate where: the endpoint must be an http(s) URL without
 * userinfo (netaddr.h).  A trusted caller (an admin, or the config at start)
 * may use any host; anyone else only a host[:port] on the provider's
 * allowed_hosts, and the connection is pinned to the address resolved for
 * that check.  A refusal is SG_E_FORBIDDEN with one message whatever the
 * target, so it tells nothing about it.
 *
 * Messages written to err are client-safe: they never contain the endpoint
 * URL or the server's reply body (a JSON-RPC error's message excepted);
 * addresses and curl's own words go to the log only.
 */
#ifndef SG_MCP_H
#define SG_MCP_H

#include <jansson.h>

#include "conf.h"
#include "sg.h"

#define SG_MCP_PROVIDER_TYPE "remote::model-context-protocol"
#define SG_MCP_PROTOCOL_VERSION "2025-03-26"
#define SG_MCP_CONNECT_TIMEOUT_MS 5000L
#define SG_MCP_READ_TIMEOUT_MS 10000L
#define SG_MCP_TOTAL_TIMEOUT_MS 30000L
#define SG_MCP_MAX_RESPONSE_BYTES ((size_t) 4 << 20)
#define SG_MCP_MAX_PAGES 100
#define SG_MCP_MAX_TOOLS 1000

/* One tool listing: where, through which provider, for whom. */
struct mcp_call {
	const char *uri;                    /* the group's mcp_endpoint.uri */
	const struct sg_provider *provider; /* its tool_runtime provider: limits, headers, allowed_hosts */
	bool trusted;                       /* an admin or the config: any host is allowed */
	bool (*client_alive)(void *ctx);    /* asked while waiting; false stops the call; NULL: never */
	void *alive_ctx;
	const char *request_id; /* sent as X-Request-Id; may be NULL */
};

/*
 * Lists the tools of the MCP server at call->uri.  On SG_OK *defs is a new
 * array of Llama Stack ToolDefs, in the server's order:
 *   {"name", "description" (string, "" when absent),
 *    "parameters": [ToolParameter], "metadata": {"endpoint": uri}}
 * Failures: SG_E_BAD_REQUEST (not an acceptable URL), SG_E_FORBIDDEN (the
 * caller may not use this endpoint), SG_E_BAD_GATEWAY (unreachable, HTTP
 * error, not JSON-RPC, a JSON-RPC error, a malformed tool, too large, the
 * client went away), SG_E_GATEWAY_TIMEOUT (silence or the total bound),
 * SG_E_NOMEM; err says which.
 */
sg_status mcp_list_tools(const struct mcp_call *call, json_t **defs, struct sg_err *err) SG_MUST_CHECK;

/*
 * Finds the JSON-RPC response whose "id" is the integer id in a reply body.
 * sse=false: buf is one JSON value (a message or a batch array).
 * sse=true: buf is a text/event-stream, split by proxy_sse_feed(); every
 * event's "data:" lines are joined with '\n' and parsed; other fields and
 * comments are ignored.  With complete=false only events already terminated
 * by a blank line are read (the stream is still open); with complete=true
 * also a last event of complete lines (proxy_sse_finish()).  Returns a new
 * reference to the message (an object with "result" or "error"), or NULL
 * when there is none (yet).
 */
json_t *mcp_find_response(const char *buf, size_t len, bool sse, bool complete, json_int_t id);

/*
 * Maps one MCP tool ({name, description?, inputSchema: {properties?,
 * required?}}) to a Llama Stack ToolDef (see mcp_list_tools()).  Each
 * property becomes a ToolParameter {name, parameter_type (the JSON-schema
 * "type"; the first non-"null" one of a type list; "string" when absent),
 * description ("" when absent), required (listed in "required"), default
 * (the schema's "default" or null)}, in the schema's order.  endpoint (may be
 * NULL) goes into metadata.  SG_E_BAD_GATEWAY with err when the tool is
 * malformed (no name, a non-string description, a non-object schema or
 * property).  Whether the name is an acceptable identifier is the caller's
 * check.
 */
sg_status mcp_tool_to_def(const json_t *tool, const char *endpoint, json_t **def, struct sg_err *err) SG_MUST_CHECK;

#endif
