/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_json.c: libFuzzer target for json.c, the parser every request body
 * goes through.  For each input:
 *  - sg_json_parse() with no limit and with limits 1, 2, 3, 8 and 64 must
 *    succeed exactly when the unlimited parse does and the text's depth
 *    (sg_json_depth) is within the limit; a failure always leaves a message;
 *  - for a value that parses, sg_json_depth() of the text equals the depth of
 *    the parsed tree, and every limited parse gives an equal value;
 *  - sg_json_dump() and a reparse give an equal value, and dumping that
 *    again gives the same bytes (the compact dump is canonical).
 */
#include "config.h"

#include <jansson.h>

#include "fuzz.h"
#include "json.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = {1, 2, 3, 8, 64};
	const char *buf = (const char *) data;
	char err[512];
	json_t *v0, *v, *v2;
	size_t depth = sg_json_depth(buf, size);
	bool has_nul = size > 0 && memchr(buf, '\0', size) != NULL;
	char *dump, *dump2;

	err[0] = '\0';
	v0 = sg_json_parse(buf, size, 0, err, sizeof(err));
	if (v0 == NULL) {
		FUZZ_CHECK(err[0] != '\0', "a failed parse left no message");
	} else {
		FUZZ_CHECK(!has_nul, "a text with a NUL byte was accepted");
		FUZZ_CHECK(json_is_object(v0) || json_is_array(v0), "the top level is not a container");
		FUZZ_CHECK(fuzz_tree_depth(v0) == depth, "sg_json_depth %zu but the tree is %zu deep", depth,
			   fuzz_tree_depth(v0));
	}

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		size_t lim = limits[i];
		bool want = v0 != NULL && depth <= lim;

		err[0] = '\0';
		v = sg_json_parse(buf, size, lim, err, sizeof(err));
		FUZZ_CHECK((v != NULL) == want, "limit %zu: parse %s, expected %s (depth %zu, err '%s')", lim,
			   v ? "succeeded" : "failed", want ? "success" : "failure", depth, err);
		if (v == NULL) {
			FUZZ_CHECK(err[0] != '\0', "limit %zu: a failed parse left no message", lim);
			continue;
		}
		FUZZ_CHECK(sg_json_depth(buf, size) <= lim, "limit %zu: accepted depth %zu", lim, depth);
		FUZZ_CHECK(json_equal(v, v0), "limit %zu: a different value than the unlimited parse", lim);
		json_decref(v);
	}

	if (v0 == NULL)
		return 0;

	/* Dump, reparse, compare; the second dump is byte for byte the first. */
	dump = sg_json_dump(v0);
	FUZZ_CHECK(dump != NULL, "sg_json_dump failed");
	err[0] = '\0';
	v2 = sg_json_parse(dump, strlen(dump), 0, err, sizeof(err));
	FUZZ_CHECK(v2 != NULL, "the dump does not parse again: %s: %s", err, dump);
	FUZZ_CHECK(json_equal(v0, v2), "dump and reparse changed the value: %s", dump);
	FUZZ_CHECK(sg_json_depth(dump, strlen(dump)) == depth, "the dump has depth %zu, the input %zu",
		   sg_json_depth(dump, strlen(dump)), depth);
	dump2 = sg_json_dump(v2);
	FUZZ_CHECK(dump2 != NULL && strcmp(dump, dump2) == 0, "the dump is not canonical: %s vs %s", dump,
		   dump2 ? dump2 : "(null)");
	free(dump);
	free(dump2);
	json_decref(v2);
	json_decref(v0);
	return 0;
}
