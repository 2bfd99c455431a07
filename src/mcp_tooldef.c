/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcp_tooldef.c: the MCP client's mapping of an MCP tool (name, description,
 * JSON-schema inputSchema) to a Llama Stack ToolDef (mcp_tool_to_def(), see
 * mcp.h).  Pure; the conversation that fetches the tools is mcp.c's.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mcp.h"

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

/* The 502 for a tool the server described wrongly: "the MCP server's tool 'x' has <what>". */
static sg_status
bad_tool(struct sg_err *err, const json_t *name, const char *what)
{
	return sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server's tool '%.64s' has %s", json_string_value(name),
		       what);
}

sg_status
mcp_tool_to_def(const json_t *tool, const char *endpoint, json_t **def, struct sg_err *err)
{
	const json_t *name, *desc, *schema, *props = NULL, *required = NULL, *prop;
	json_t *params = NULL, *out = NULL;
	const char *pname;
	sg_status st = SG_E_BAD_GATEWAY;

	*def = NULL;
	if (!json_is_object(tool)) {
		sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server listed a tool that is not an object");
		goto out;
	}
	name = json_object_get(tool, "name");
	if (!json_is_string(name) || json_string_length(name) == 0) {
		sg_fail(err, SG_E_BAD_GATEWAY, NULL, "the MCP server listed a tool without a name");
		goto out;
	}
	desc = json_object_get(tool, "description");
	if (desc != NULL && !json_is_null(desc) && !json_is_string(desc)) {
		bad_tool(err, name, "a description that is not a string");
		goto out;
	}
	schema = json_object_get(tool, "inputSchema");
	if (schema != NULL && !json_is_null(schema)) {
		if (!json_is_object(schema)) {
			bad_tool(err, name, "an inputSchema that is not an object");
			goto out;
		}
		props = json_object_get(schema, "properties");
		required = json_object_get(schema, "required");
		if (props != NULL && !json_is_null(props) && !json_is_object(props)) {
			bad_tool(err, name, "inputSchema.properties that is not an object");
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
				st = sg_fail(
					err, SG_E_BAD_GATEWAY, NULL,
					"the MCP server's tool '%.64s' has a property '%.64s' that is not an object",
					json_string_value(name), pname);
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
	json_decref(params);
	json_decref(out);
	return sg_err_nomem(err, st);
}
