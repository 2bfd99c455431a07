/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: parsing with limits.  jansson's own depth limit is a compile-time
 * 2048; ours is the config's, checked by a linear pre-scan so a deeply nested
 * body is refused before jansson allocates anything for it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

size_t
sg_json_depth(const char *buf, size_t len)
{
	size_t depth = 0, max = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			break;
		case '[':
		case '{':
			if (++depth > max)
				max = depth;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return max;
}

json_t *
sg_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je, bool *nomem)
{
	unsigned long failed = sg_alloc_failures();
	json_t *v;
	bool lost;

	sg_alloc_pause(true);
	v = json_loadb(buf, len, flags, je);
	sg_alloc_pause(false);
	lost = sg_alloc_failures() != failed;

	if (nomem != NULL)
		*nomem = lost;
	if (!lost)
		return v;
	json_decref(v);
	if (je != NULL)
		snprintf(je->text, sizeof(je->text), "out of memory");
	return NULL;
}

json_t *
sg_json_parse(const char *buf, size_t len, size_t max_depth, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v;
	size_t depth;

	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "the body contains a NUL byte");
		return NULL;
	}
	depth = sg_json_depth(buf, len);
	if (max_depth > 0 && depth > max_depth) {
		snprintf(err, errlen, "nesting depth %zu exceeds the limit of %zu", depth, max_depth);
		return NULL;
	}
	v = sg_json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je, NULL);
	if (v == NULL)
		snprintf(err, errlen, "line %d, column %d: %s", je.line, je.column, je.text);
	return v;
}

char *
sg_json_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
