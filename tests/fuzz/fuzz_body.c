/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_body.c: libFuzzer target for openai_request_scan(), the validating
 * pass that stands in for the full parse of an inference request body
 * (openai.c).  Differential against sg_json_parse() at depth limits 2, 3, 8
 * and 64 (the first input byte picks a fifth, 1 to 256): the scan accepts
 * exactly when the parse returns an object, and then says what the parse
 * says of the top-level "model" (absent or null, a string: the same bytes, a
 * boolean, other) and "stream"; a refused body holds nothing.
 */
#include "config.h"

#include <jansson.h>

#include "fuzz.h"
#include "json.h"
#include "openai.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	sg_json_init();
	return 0;
}

/* What the parse says of member key, as openai_request_scan() says it. */
static enum openai_field
field_of(const json_t *v)
{
	if (v == NULL || json_is_null(v))
		return OPENAI_F_ABSENT;
	if (json_is_string(v))
		return OPENAI_F_STRING;
	if (json_is_true(v))
		return OPENAI_F_TRUE;
	if (json_is_false(v))
		return OPENAI_F_FALSE;
	return OPENAI_F_OTHER;
}

static void
one(const char *buf, size_t size, int limit)
{
	struct openai_request_fields f;
	enum openai_scan sc = openai_request_scan(buf, size, limit, &f);
	char err[512];
	json_t *v = sg_json_parse(buf, size, (size_t) limit, err, sizeof(err));
	bool want = v != NULL && json_is_object(v);

	FUZZ_CHECK(sc != OPENAI_SCAN_NOMEM, "limit %d: out of memory", limit);
	FUZZ_CHECK((sc == OPENAI_SCAN_OK) == want, "limit %d: the scan %s, the parse %s (%s)", limit,
		   sc == OPENAI_SCAN_OK ? "accepts" : "refuses", want ? "gives an object" : "does not",
		   v ? "a non-object" : err);
	if (!want) {
		FUZZ_CHECK(f.model_name == NULL, "limit %d: a refused body left a model name", limit);
		json_decref(v);
		return;
	}
	{
		json_t *m = json_object_get(v, "model");

		FUZZ_CHECK(f.model == field_of(m), "limit %d: model kind %d, the parse's %d", limit, f.model,
			   field_of(m));
		FUZZ_CHECK(f.stream == field_of(json_object_get(v, "stream")), "limit %d: stream kind %d", limit,
			   f.stream);
		if (json_is_string(m)) {
			FUZZ_CHECK(f.model_name != NULL && strlen(f.model_name) == json_string_length(m) &&
					   memcmp(f.model_name, json_string_value(m), json_string_length(m)) == 0,
				   "limit %d: model '%s', the parse's '%s'", limit,
				   f.model_name ? f.model_name : "(null)", json_string_value(m));
		} else {
			FUZZ_CHECK(f.model_name == NULL, "limit %d: a model name for a model that is no string", limit);
		}
	}
	free(f.model_name);
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int limits[] = {2, 3, 8, 64};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		one((const char *) data, size, limits[i]);
	if (size > 0)
		one((const char *) data + 1, size - 1, 1 + data[0]);
	return 0;
}
