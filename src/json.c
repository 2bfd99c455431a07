/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: parsing with limits.  jansson's own depth limit is a compile-time
 * 2048; ours is the config's, checked by a linear pre-scan so a deeply nested
 * body is refused before jansson allocates anything for it.
 */
#include "config.h"

#include <ctype.h>
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

static unsigned
hex4(const char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char) p[i];

		v = v * 16 + (unsigned) (isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
	}
	return v;
}

size_t
sg_json_unescape(const char *s, size_t len, size_t i, char *out, size_t *raw)
{
	static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
	const char *f;
	unsigned cp;

	*raw = 2;
	if (i + 1 >= len)
		return 0;
	if (s[i + 1] != 'u') {
		f = strchr(from, s[i + 1]);
		out[0] = f != NULL ? to[f - from] : s[i + 1];
		return 1;
	}
	if (i + 6 > len)
		return 0;
	cp = hex4(s + i + 2);
	*raw = 6;
	if (cp >= 0xD800 && cp < 0xDC00 && i + 12 <= len && s[i + 6] == '\\' && s[i + 7] == 'u') {
		cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + i + 8) - 0xDC00);
		*raw = 12;
	}
	if (cp < 0x80) {
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char) (0xC0 | cp >> 6);
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char) (0xE0 | cp >> 12);
		out[1] = (char) (0x80 | (cp >> 6 & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | cp >> 18);
	out[1] = (char) (0x80 | (cp >> 12 & 0x3F));
	out[2] = (char) (0x80 | (cp >> 6 & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

void
sg_json_init(void)
{
	json_set_alloc_funcs(sg_malloc, free);
	json_object_seed(0);
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

bool
sg_json_quote(struct sg_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF", from_esc[] = "\"\\\b\f\n\r\t", to_esc[] = "\"\\bfnrt";
	size_t n = strlen(s), start = out->len, from = 0;
	const char *f;

	if (!sg_utf8_valid(s, n) || !sg_buf_reserve(out, n + 2) || !sg_buf_append(out, "\"", 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		char e[6] = {'\\', 0, '0', '0', 0, 0};
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((f = memchr(from_esc, c, sizeof(from_esc) - 1)) != NULL) {
			e[1] = to_esc[f - from_esc];
		} else {
			e[1] = 'u';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			elen = 6;
		}
		if (!sg_buf_append(out, s + from, i - from) || !sg_buf_append(out, e, elen))
			goto nomem;
		from = i + 1;
	}
	if (sg_buf_append(out, s + from, n - from) && sg_buf_append(out, "\"", 1))
		return true;
nomem:
	out->len = start;
	out->p[start] = '\0';
	return false;
}

char *
sg_json_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

sg_status
sg_json_field(json_t *obj, const char *key, const char *name, json_type type, bool required, json_t **out,
	      struct sg_err *err)
{
	static const char *const what[] = {
		[JSON_OBJECT] = "an object",   [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
		[JSON_INTEGER] = "an integer", [JSON_REAL] = "a number",  [JSON_TRUE] = "a boolean",
	};
	json_t *v = json_object_get(obj, key);

	if (name == NULL)
		name = key;
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return sg_fail(err, SG_E_BAD_REQUEST, name, "%s is required", name);
		return SG_OK;
	}
	if (json_typeof(v) != type && !(type == JSON_TRUE && json_is_boolean(v)))
		return sg_fail(err, SG_E_BAD_REQUEST, name, "%s must be %s", name, what[type]);
	*out = v;
	return SG_OK;
}

sg_status
sg_json_field_str(json_t *obj, const char *key, const char *name, bool required, const char **out, struct sg_err *err)
{
	json_t *v;
	sg_status st = sg_json_field(obj, key, name, JSON_STRING, required, &v, err);

	*out = v ? json_string_value(v) : NULL;
	return st;
}

sg_status
sg_json_field_bool(json_t *obj, const char *key, const char *name, bool required, bool *out, bool *found,
		   struct sg_err *err)
{
	json_t *v;
	sg_status st = sg_json_field(obj, key, name, JSON_TRUE, required, &v, err);

	if (found != NULL)
		*found = v != NULL;
	if (v != NULL)
		*out = json_is_true(v);
	return st;
}
