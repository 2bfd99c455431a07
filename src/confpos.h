/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpos.h: internal to the config module (conf.c, confpos.c, and the
 * "providers" section parsed in provider.c); nothing else includes it.  The
 * state of one (re)load: the position of every value in the raw text,
 * indexed by JSON path ("providers.inference[0].config.url"), the problems
 * found so far, and the struct sg_conf being built.  Problems are reported by
 * path and placed at the position the index holds for it (or its nearest
 * indexed ancestor); confpos_render() turns them into conf_load()'s error
 * text.  Single-threaded, at (re)load only.
 */
#ifndef SG_CONFPOS_H
#define SG_CONFPOS_H

#include <jansson.h>
#include <stddef.h>

#include "conf.h"
#include "sg.h"

/* Where a value starts in the text; kline/kcol is its key (0 in arrays). */
struct confpos_entry {
	char *path;
	unsigned line, col, kline, kcol;
	size_t off;
};

struct confpos_problem {
	unsigned line, col;
	size_t seq;
	char *path, *msg;
};

struct confpos_loader {
	const char *name, *text;
	size_t len;
	struct confpos_entry *pos;
	size_t npos, cappos;
	struct confpos_problem *probs;
	size_t nprobs, capprobs, dropped;
	char **ppath; /* the JSON path of each provider, parallel to c->providers */
	size_t nppath;
	bool nomem;
	struct sg_conf *c;
};

/* A cursor over the raw text. */
struct confpos_scan {
	const char *s;
	size_t len, i;
	unsigned line, col; /* of the last character consumed */
};

/* Consumes one byte of sc; columns count characters (UTF-8 lead bytes), as jansson does. */
void confpos_adv(struct confpos_scan *sc);

/*
 * Indexes the value at sc->i under path, and all its children, into L->pos.
 * The text must be JSON that jansson accepted.  path is newly allocated and
 * taken by the index (freed on failure too).  False when the text did not
 * scan or memory ran out (L->nomem set).
 */
bool confpos_scan_value(struct confpos_loader *L, struct confpos_scan *sc, char *path, unsigned kline, unsigned kcol);

/* Line and column of path (of its key when at_key), else of its nearest indexed ancestor, else 1:1. */
void confpos_where(const struct confpos_loader *L, const char *path, bool at_key, unsigned *line, unsigned *col);

/* Records "path: msg" at line:col (path may be NULL or ""); beyond 100 problems only counts them. */
void confpos_add_problem(struct confpos_loader *L, unsigned line, unsigned col, const char *path, const char *msg);

/* Reports a problem with the value at path (its key when at_key), once per path: later ones are dropped. */
void confpos_report(struct confpos_loader *L, const char *path, bool at_key, const char *fmt, ...) SG_PRINTF(4, 5);

/*
 * "unknown <what>" at path's key, suggesting the closest of the n names
 * ("did you mean …?") when one is within two edits, else listing them all.
 */
void confpos_report_unknown(struct confpos_loader *L, const char *path, const char *key, const char *const *names,
			    size_t n, const char *what);

/*
 * A short rendering of v for "got …": JSON for a scalar, written to buf (n
 * bytes) and cut with "..." when longer; "an object" / "an array" otherwise.
 * SG_CONF_GOT(v) gives it a buffer of its own.
 */
const char *confpos_show(const json_t *v, char *buf, size_t n);
#define SG_CONF_GOT(v) confpos_show((v), (char[64]){0}, 64)

/* At most this many problems are kept; later ones are only counted (L->dropped). */
#define CONFPOS_MAX_PROBLEMS 100

/*
 * All problems, "NAME:LINE:COL: message\n" each, sorted by position (then
 * by the order found), then two lines without a position, each only when it
 * applies: "NAME: N more problems not shown\n" (after CONFPOS_MAX_PROBLEMS
 * problems) and "NAME: out of memory\n".  Newly allocated (NULL when memory
 * ran out); sorts L->probs.
 */
char *confpos_render(struct confpos_loader *L);

/*
 * Replaces ${env.…} references (conf.h has the rules) in every string value
 * of the tree at v, which sits at path; problems are reported at the
 * reference's column inside the string.
 */
void confpos_subst_tree(struct confpos_loader *L, json_t *v, const char *path);

/* Frees L's index, problems and provider paths (not L->c); idempotent. */
void confpos_loader_release(struct confpos_loader *L);

#endif
