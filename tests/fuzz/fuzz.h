/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.h: what the libFuzzer targets of tests/fuzz share: the entry point's
 * prototype (we build with -Wmissing-prototypes), the check that turns a
 * broken invariant into a crash libFuzzer records, and small helpers to cut
 * the input into parts.  Header only: each target is one .c file in
 * Makefile.am.
 */
#ifndef SG_FUZZ_H
#define SG_FUZZ_H

#include <stdint.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * A broken invariant: say which and abort, so libFuzzer saves the input as a
 * crash and the regression runner fails on it.
 */
#define FUZZ_CHECK(cond, ...)                                                                              \
	do {                                                                                               \
		if (!(cond)) {                                                                             \
			fprintf(stderr, "fuzz: %s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fputc('\n', stderr);                                                               \
			abort();                                                                           \
		}                                                                                          \
	} while (0)

/* A NUL-terminated copy of buf[0..len); aborts when memory runs out (not a finding). */
static inline char *
fuzz_strndup(const void *buf, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len > 0)
		memcpy(s, buf, len);
	s[len] = '\0';
	return s;
}

/*
 * Splits data at the first '\n': the head (without the '\n') and the rest.
 * With no '\n' the whole input is the head and the rest is empty.
 */
static inline void
fuzz_split_line(const uint8_t *data, size_t size, const uint8_t **head, size_t *headlen, const uint8_t **rest,
		size_t *restlen)
{
	const uint8_t *nl = size > 0 ? memchr(data, '\n', size) : NULL;

	*head = data;
	*headlen = nl ? (size_t) (nl - data) : size;
	*rest = nl ? nl + 1 : data + size;
	*restlen = nl ? size - *headlen - 1 : 0;
}

/* Depth of a parsed value: a scalar is 0, a container one more than its deepest member. */
static inline size_t
fuzz_tree_depth(const json_t *v)
{
	const char *key;
	json_t *child;
	size_t i, max = 0, d;

	if (json_is_object(v)) {
		json_object_foreach((json_t *) v, key, child) {
			d = fuzz_tree_depth(child);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, child) {
			d = fuzz_tree_depth(child);
			if (d > max)
				max = d;
		}
		return max + 1;
	}
	return 0;
}

#endif
