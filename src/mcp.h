/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcp.h: a small client of the Model Context Protocol's Streamable HTTP
 * transport (protocol revision 2025-03-26), enough to list the tools of an
 * MCP server when a tool group with an mcp_endpoint is registered:
 * initialize, notifications/initialized, tools/list (every page).
 *
 * Blocking; each call uses its own libcurl easy handle, so it is thread-safe
 * once curl_global_init() has run (the supervisor does it before fork).
 * Only http and https URLs are fetched and redirects are not followed.
 * Messages written to err are client-safe: they never contain the endpoint
 * URL (it may carry credentials) or the server's reply body.
 */
#ifndef SG_MCP_H
#define SG_MCP_H

#include <jansson.h>

#include "sg.h"

#define SG_MCP_PROTOCOL_VERSION "2025-03-26"
#define SG_MCP_CONNECT_TIMEOUT_MS 5000L
#define SG_MCP_TOTAL_TIMEOUT_MS 30000L
#define SG_MCP_MAX_RESPONSE_BYTES (4u << 20)
#define SG_MCP_MAX_PAGES 100
#define SG_MCP_MAX_TOOLS 1000

/*
 * Lists the tools of the MCP server at uri.  On SG_OK *defs is a new array
 * of Llama Stack ToolDefs, in the server's order:
 *   {"name", "description" (string, "" when absent),
 *    "parameters": [ToolParameter], "metadata": {"endpoint": uri}}
 * Failures: SG_E_BAD_GATEWAY (unreachable, HTTP error, not JSON-RPC, a
 * JSON-RPC error, a malformed tool, too large), SG_E_GATEWAY_TIMEOUT (no
 * answer within SG_MCP_TOTAL_TIMEOUT_MS), SG_E_NOMEM; err says which.
 */
sg_status mcp_list_tools(const char *uri, json_t **defs, char *err, size_t errlen) SG_MUST_CHECK;

/*
 * Finds the JSON-RPC response whose "id" is the integer id in a reply body.
 * sse=false: buf is one JSON value (a message or a batch array).
 * sse=true: buf is a text/event-stream; every event's "data:" lines are
 * joined with '\n' and parsed; other fields and comments are ignored.  With
 * complete=false only events already terminated by a blank line are read
 * (the stream is still open).  Returns a new reference to the message (an
 * object with "result" or "error"), or NULL when there is none (yet).
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
sg_status mcp_tool_to_def(const json_t *tool, const char *endpoint, json_t **def, char *err, size_t errlen)
	SG_MUST_CHECK;

#endif
