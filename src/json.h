/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h: jansson helpers: parsing with limits (depth, NUL bytes, UTF-8) and
 * error messages with line and column, compact dumping.
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <jansson.h>

#include "sg.h"

/*
 * Parses buf[0..len) as one JSON value, refusing nesting deeper than
 * max_depth.  On failure returns NULL and writes "line L, column C: reason"
 * (or the depth reason) into err.  The result is a new reference.
 */
json_t *sg_json_parse(const char *buf, size_t len, size_t max_depth, char *err, size_t errlen);

/* Nesting depth of the JSON text (brackets outside strings); scans at most len bytes. */
size_t sg_json_depth(const char *buf, size_t len);

/* Compact dump; the caller frees.  NULL on allocation failure. */
char *sg_json_dump(const json_t *v);

#endif
