/* SPDX-License-Identifier: Apache-2.0 */
/* mcp.h: placeholder, filled in by the module's author. */
#ifndef SG_MCP_H
#define SG_MCP_H
#endif
