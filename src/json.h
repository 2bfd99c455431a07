/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h: jansson helpers: parsing with limits (depth, NUL bytes, UTF-8) and
 * error messages with line and column, compact dumping, and the typed field
 * getters every body and config entry is read with.
 */
#ifndef SG_JSON_H
#define SG_JSON_H

#include <jansson.h>

#include "sg.h"

/*
 * jansson's start-up, once per process before any JSON is made and before
 * any thread: its allocations go through sg_malloc (json_set_alloc_funcs),
 * so the test countdown (sg.h) fails them too and sg_json_loadb() notices a
 * failure jansson's lexer hides; and its hash seed (json_object_seed).
 * main() and the unit tests' main() call it.
 */
void sg_json_init(void);

/*
 * Parses buf[0..len) as one JSON value, refusing nesting deeper than
 * max_depth.  On failure returns NULL and writes "line L, column C: reason"
 * (or the depth reason) into err.  The result is a new reference.
 */
json_t *sg_json_parse(const char *buf, size_t len, size_t max_depth, char *err, size_t errlen);

/*
 * json_loadb, except that a parse during which an allocation failed fails
 * too: NULL, with *nomem true (nomem and je may be NULL; je->text then says
 * "out of memory").  jansson 2.14's lexer drops a byte it cannot save
 * (lex_save ignores strbuffer_append_byte's result), so such a parse can
 * return a value with a character missing from a key or string.  Noticing
 * it needs jansson to allocate through the wrappers:
 * json_set_alloc_funcs(sg_malloc, free) before any JSON is made.  A failure
 * inside that lexer can also write past its buffer (valgrind shows it), so
 * the test countdown (sg.h) is paused for the parse: nothing here can make
 * jansson's parser safe, only notice what it lost.
 */
json_t *sg_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *je, bool *nomem);

/* Nesting depth of the JSON text (brackets outside strings); scans at most len bytes. */
size_t sg_json_depth(const char *buf, size_t len);

/*
 * Decodes the escape at s[i] (a '\\') of a JSON string s[0..len) into out (4
 * bytes of room): returns the bytes written (UTF-8; a \u pair of surrogates is
 * one character) and sets *raw to the escape's length in s.  For text a
 * parse or scan has already checked; 0 when s ends inside the escape.
 */
size_t sg_json_unescape(const char *s, size_t len, size_t i, char *out, size_t *raw);

/*
 * Appends s as a JSON string, quotes included, byte for byte what
 * sg_json_dump(json_string(s)) gives (", \ and control characters escaped,
 * the rest as it is), without making the value.  False, out unchanged, when
 * s is not valid UTF-8 (json_string() refuses it too) or memory runs out.
 */
bool sg_json_quote(struct sg_buf *out, const char *s) SG_MUST_CHECK;

/* Compact dump; the caller frees.  NULL on allocation failure. */
char *sg_json_dump(const json_t *v);

/*
 * The typed field getters, the one family for request bodies and config
 * entries: obj[key] with its JSON type checked (JSON_TRUE stands for either
 * boolean).  name is the field as messages call it ("source.uri"; NULL: key).
 * A JSON null counts as absent.  Absent → *out NULL (the boolean getter:
 * *out unchanged, *found false), and when required a 400 "<name> is
 * required"; the wrong type → 400 "<name> must be a string" (an object, an
 * array, an integer, a number, a boolean).  The message and param go to err
 * (sg_fail).  Outputs are borrowed from obj.
 */
sg_status sg_json_field(json_t *obj, const char *key, const char *name, json_type type, bool required, json_t **out,
			struct sg_err *err) SG_MUST_CHECK;
sg_status sg_json_field_str(json_t *obj, const char *key, const char *name, bool required, const char **out,
			    struct sg_err *err) SG_MUST_CHECK;
sg_status sg_json_field_bool(json_t *obj, const char *key, const char *name, bool required, bool *out, bool *found,
			     struct sg_err *err) SG_MUST_CHECK;

#endif
