/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confpos.c: the config loader's bookkeeping about the raw text.  jansson
 * keeps no positions, so a small scanner walks the text jansson has already
 * accepted and indexes where every value (and its key) starts, by JSON path;
 * problems found later are reported at those positions, once per path, and
 * rendered as "FILE:LINE:COL: path: message" sorted by position.  Also the
 * ${env.NAME:default} substitution in every string value, whose problems
 * point at the reference inside the string.  Part of the config module
 * (conf.c, and provider.c for the "providers" section) through the internal
 * header confpos.h; single-threaded, at (re)load only.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confpos.h"
#include "json.h"

static bool
grow(struct confpos_loader *L, void **v, size_t *cap, size_t n, size_t size)
{
	void *nv;

	if (n < *cap)
		return true;
	nv = sg_realloc(*v, (*cap ? *cap * 2 : 32) * size);
	if (nv == NULL) {
		L->nomem = true;
		return false;
	}
	*v = nv;
	*cap = *cap ? *cap * 2 : 32;
	return true;
}

/* ---- The position index: a scanner over text jansson has accepted ---- */

static char
peek(const struct confpos_scan *sc)
{
	return sc->i < sc->len ? sc->s[sc->i] : '\0';
}

/* Consumes one byte; columns count characters (UTF-8 lead bytes), as jansson does. */
void
confpos_adv(struct confpos_scan *sc)
{
	unsigned char ch = (unsigned char) sc->s[sc->i++];

	if (ch == '\n') {
		sc->line++;
		sc->col = 0;
	} else if ((ch & 0xC0) != 0x80) {
		sc->col++;
	}
}

static void
skip_ws(struct confpos_scan *sc)
{
	while (peek(sc) == ' ' || peek(sc) == '\t' || peek(sc) == '\n' || peek(sc) == '\r')
		confpos_adv(sc);
}

/* Consumes the string at sc->i (its '"'); decodes it into *out when out is not NULL. */
static bool
scan_string(struct confpos_loader *L, struct confpos_scan *sc, char **out)
{
	size_t end = sc->i + 1, n = 0;
	char *buf = NULL;

	while (end < sc->len && sc->s[end] != '"')
		end += sc->s[end] == '\\' ? 2 : 1;
	if (out != NULL && (buf = *out = sg_malloc(end - sc->i + 1)) == NULL) {
		L->nomem = true;
		return false;
	}
	confpos_adv(sc);
	while (sc->i < end) {
		size_t raw = 1;

		if (sc->s[sc->i] == '\\')
			n += sg_json_unescape(sc->s, sc->len, sc->i, buf != NULL ? buf + n : (char[4]){0}, &raw);
		else if (buf != NULL)
			buf[n++] = sc->s[sc->i];
		while (raw-- > 0 && sc->i < end)
			confpos_adv(sc);
	}
	if (buf != NULL)
		buf[n] = '\0';
	if (peek(sc) == '"')
		confpos_adv(sc);
	return true;
}

/* Indexes the value at sc->i under path (which the index takes), and its children. */
bool
confpos_scan_value(struct confpos_loader *L, struct confpos_scan *sc, char *path, unsigned kline, unsigned kcol)
{
	char c, *key, *child;
	size_t n = 0;

	skip_ws(sc);
	if (!grow(L, (void **) &L->pos, &L->cappos, L->npos, sizeof(*L->pos))) {
		free(path);
		return false;
	}
	L->pos[L->npos++] = (struct confpos_entry){path, sc->line, sc->col + 1, kline, kcol, sc->i};
	c = peek(sc);
	if (c == '"')
		return scan_string(L, sc, NULL);
	if (c != '{' && c != '[') {
		while (sc->i < sc->len && strchr(",]} \t\r\n", peek(sc)) == NULL)
			confpos_adv(sc);
		return true;
	}
	confpos_adv(sc);
	skip_ws(sc);
	while (peek(sc) != (c == '{' ? '}' : ']')) {
		unsigned kl = 0, kc = 0;

		skip_ws(sc);
		if (c == '{') {
			kl = sc->line;
			kc = sc->col + 1;
			if (peek(sc) != '"' || !scan_string(L, sc, &key))
				return false;
			child = path[0] ? sg_asprintf("%s.%s", path, key) : sg_strdup(key);
			free(key);
			skip_ws(sc);
			if (peek(sc) != ':') {
				free(child);
				return false;
			}
			confpos_adv(sc);
		} else {
			child = sg_asprintf("%s[%zu]", path, n++);
		}
		if (child == NULL || !confpos_scan_value(L, sc, child, kl, kc)) {
			L->nomem = L->nomem || child == NULL;
			return false;
		}
		skip_ws(sc);
		if (peek(sc) == ',')
			confpos_adv(sc);
		else if (peek(sc) != (c == '{' ? '}' : ']'))
			return false;
	}
	confpos_adv(sc);
	return true;
}

static const struct confpos_entry *
pos_find(const struct confpos_loader *L, const char *path)
{
	for (size_t i = 0; i < L->npos; i++)
		if (strcmp(L->pos[i].path, path) == 0)
			return &L->pos[i];
	return NULL;
}

/* Position of path (its key when at_key), else of its nearest indexed ancestor. */
void
confpos_where(const struct confpos_loader *L, const char *path, bool at_key, unsigned *line, unsigned *col)
{
	char stack[512], *heap = NULL, *p = stack;
	size_t n = strlen(path);
	const struct confpos_entry *e = NULL;

	/* On the stack when it fits: a failed allocation must not move the problem to 1:1. */
	if (n < sizeof(stack))
		memcpy(stack, path, n + 1);
	else
		p = heap = sg_strdup(path);
	while (p != NULL && (e = pos_find(L, p)) == NULL && p[0] != '\0') {
		char *cut = strrchr(p, '.'), *br = strrchr(p, '[');

		if (br != NULL && (cut == NULL || br > cut))
			cut = br;
		*(cut != NULL ? cut : p) = '\0';
		at_key = false;
	}
	free(heap);
	*line = e == NULL ? 1 : at_key && e->kline ? e->kline : e->line;
	*col = e == NULL ? 1 : at_key && e->kline ? e->kcol : e->col;
}

/* ---- Problems ---- */

void
confpos_add_problem(struct confpos_loader *L, unsigned line, unsigned col, const char *path, const char *msg)
{
	struct confpos_problem *p;

	if (L->nprobs >= CONFPOS_MAX_PROBLEMS) {
		L->dropped++;
		return;
	}
	if (!grow(L, (void **) &L->probs, &L->capprobs, L->nprobs, sizeof(*L->probs)))
		return;
	p = &L->probs[L->nprobs];
	*p = (struct confpos_problem){line, col, L->nprobs, sg_strdup(path ? path : ""), NULL};
	p->msg = path && path[0] ? sg_asprintf("%s: %s", path, msg) : sg_strdup(msg);
	if (p->path == NULL || p->msg == NULL) {
		free(p->path);
		free(p->msg);
		L->nomem = true;
		return;
	}
	/* One problem, one line: keys and values from the file may hold control characters. */
	for (char *c = p->msg; *c != '\0'; c++)
		if ((unsigned char) *c < 0x20 || *c == 0x7f)
			*c = '?';
	L->nprobs++;
}

/* Reports a problem with the value at path (its key when at_key), once per path. */
void
confpos_report(struct confpos_loader *L, const char *path, bool at_key, const char *fmt, ...)
{
	char msg[1024];
	unsigned line, col;
	va_list ap;

	for (size_t i = 0; i < L->nprobs; i++)
		if (strcmp(L->probs[i].path, path) == 0)
			return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	confpos_where(L, path, at_key, &line, &col);
	confpos_add_problem(L, line, col, path, msg);
}

/* A short rendering of v for "got …": JSON for scalars, cut at 60 bytes. */
const char *
confpos_show(const json_t *v, char *buf, size_t n)
{
	char tmp[1024], *s = tmp, *dup = NULL;
	size_t len;

	if (json_is_object(v) || json_is_array(v))
		return json_is_object(v) ? "an object" : "an array";
	/* Into a buffer of our own first: a message that needs no allocation is not lost to a failed one. */
	len = json_dumpb(v, tmp, sizeof(tmp) - 1, JSON_ENCODE_ANY);
	if (len > 0 && len < sizeof(tmp))
		tmp[len] = '\0';
	else
		s = dup = json_dumps(v, JSON_ENCODE_ANY);
	snprintf(buf, n, "%s", s != NULL ? s : "?");
	if (s != NULL && strlen(s) >= n && n > 4)
		memcpy(buf + n - 4, "...", 4);
	free(dup);
	return buf;
}

static int
problem_cmp(const void *a, const void *b)
{
	const struct confpos_problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All problems, "NAME:LINE:COL: message\n" each, in position order. */
char *
confpos_render(struct confpos_loader *L)
{
	size_t len = 0;
	char *out, *p;

	/* qsort must not be given NULL, even for no element: only "out of memory" may have been recorded. */
	if (L->nprobs > 0)
		qsort(L->probs, L->nprobs, sizeof(*L->probs), problem_cmp);
	for (size_t i = 0; i < L->nprobs; i++)
		len += strlen(L->name) + strlen(L->probs[i].msg) + 32;
	len += strlen(L->name) + 64;
	if ((out = p = sg_malloc(len)) == NULL)
		return sg_asprintf("%s: out of memory\n", L->name); /* at least say why */
	p[0] = '\0';
	for (size_t i = 0; i < L->nprobs; i++)
		p += sprintf(p, "%s:%u:%u: %s\n", L->name, L->probs[i].line, L->probs[i].col, L->probs[i].msg);
	if (L->dropped > 0)
		p += sprintf(p, "%s: %zu more problems not shown\n", L->name, L->dropped);
	if (L->nomem)
		sprintf(p, "%s: out of memory\n", L->name);
	return out;
}

/* ---- ${env.NAME:default} substitution ---- */

/* Column of the character at decoded byte offset target of the string at e. */
static unsigned
string_col(const struct confpos_loader *L, const struct confpos_entry *e, size_t target)
{
	size_t i = e->off + 1, dec = 0, raw;
	unsigned col = e->col + 1;
	char tmp[4];

	while (i < L->len && dec < target && L->text[i] != '"') {
		if (L->text[i] == '\\') {
			dec += sg_json_unescape(L->text, L->len, i, tmp, &raw);
			i += raw;
			col += (unsigned) raw;
			continue;
		}
		for (i++, dec++; i < L->len && ((unsigned char) L->text[i] & 0xC0) == 0x80; i++)
			dec++;
		col++;
	}
	return col;
}

static void env_problem(struct confpos_loader *L, const char *path, const char *s, const char *at, const char *fmt, ...)
	SG_PRINTF(5, 6);

static void
env_problem(struct confpos_loader *L, const char *path, const char *s, const char *at, const char *fmt, ...)
{
	const struct confpos_entry *e = pos_find(L, path);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	confpos_add_problem(L, e ? e->line : 1, e ? string_col(L, e, (size_t) (at - s)) : 1, path, msg);
}

/*
 * Appends the value of one reference.  As in Llama Stack an empty variable
 * counts as unset and a leading "~" is $HOME; cond is the ":+" form (def when
 * the variable is set, else nothing).
 */
static bool
env_value(struct sg_buf *b, const char *name, const char *def, size_t deflen, bool cond, bool *missing)
{
	const char *v = getenv(name), *home = getenv("HOME");
	size_t n;

	if (v != NULL && v[0] == '\0')
		v = NULL;
	*missing = v == NULL && def == NULL;
	if (cond) {
		n = v != NULL ? deflen : 0;
		v = def;
	} else if (v == NULL) {
		v = def != NULL ? def : "";
		n = def != NULL ? deflen : 0;
	} else {
		n = strlen(v);
	}
	if (n > 0 && v[0] == '~' && (n == 1 || v[1] == '/') && home != NULL) {
		if (!sg_buf_append(b, home, strlen(home)))
			return false;
		v++;
		n--;
	}
	return sg_buf_append(b, v, n);
}

static void
subst_string(struct confpos_loader *L, json_t *v, const char *path)
{
	const char *s = json_string_value(v), *p = s, *q;
	struct sg_buf b = {0};
	bool failed = false;

	if (strstr(s, "${env.") == NULL)
		return;
	while ((q = strstr(p, "${env.")) != NULL) {
		const char *name = q + 6, *end, *def = NULL;
		size_t nl = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		char *var;
		bool missing = false, cond = false;

		if (!sg_buf_append(&b, p, (size_t) (q - p)))
			goto nomem;
		end = name + nl;
		if (nl > 0 && *end == ':') {
			/* ":=" and ":+" are the later Llama Stack spellings. */
			def = end + 1 + (end[1] == '=' || end[1] == '+');
			cond = end[1] == '+';
			end = strchr(def, '}');
		}
		if (nl == 0 || end == NULL || *end != '}') {
			env_problem(L, path, s, q,
				    "malformed environment reference, expected ${env.NAME} or ${env.NAME:default}");
			failed = true;
			break;
		}
		if ((var = sg_strndup(name, nl)) == NULL)
			goto nomem;
		if (!env_value(&b, var, def, def ? (size_t) (end - def) : 0, cond, &missing)) {
			free(var);
			goto nomem;
		}
		if (missing) {
			env_problem(L, path, s, q, "environment variable %s is not set and has no default", var);
			failed = true;
		}
		free(var);
		p = end + 1;
	}
	if (!failed && !sg_buf_append(&b, p, strlen(p)))
		goto nomem;
	if (!failed && !sg_utf8_valid(b.p, b.len))
		confpos_report(L, path, false, "the value after substitution is not valid UTF-8");
	else if (!failed && json_string_setn(v, b.p, b.len) != 0)
		L->nomem = true;
	free(b.p);
	return;
nomem:
	L->nomem = true;
	free(b.p);
}

/* Substitutes in every string value of the tree at v. */
void
confpos_subst_tree(struct confpos_loader *L, json_t *v, const char *path)
{
	const char *key;
	json_t *child;
	size_t i;
	char *cp;

	if (json_is_string(v))
		subst_string(L, v, path);
	json_object_foreach(v, key, child) {
		if ((cp = path[0] ? sg_asprintf("%s.%s", path, key) : sg_strdup(key)) == NULL)
			goto nomem;
		confpos_subst_tree(L, child, cp);
		free(cp);
	}
	json_array_foreach(v, i, child) {
		if ((cp = sg_asprintf("%s[%zu]", path, i)) == NULL)
			goto nomem;
		confpos_subst_tree(L, child, cp);
		free(cp);
	}
	return;
nomem:
	L->nomem = true;
}

/* ---- Unknown keys ---- */

/* Edit distance of a and b when both are short, else a large number. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], up;

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

/* "unknown key" at the key, suggesting the closest of the n names, else listing them. */
void
confpos_report_unknown(struct confpos_loader *L, const char *path, const char *key, const char *const *names, size_t n,
		       const char *what)
{
	const char *best = NULL;
	size_t bestd = 3, len = 0;
	char list[512];

	list[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(key, names[i]);

		if (d < bestd) {
			best = names[i];
			bestd = d;
		}
		len += (size_t) snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0, "%s%s", i ? ", " : "",
					 names[i]);
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
	}
	if (best != NULL)
		confpos_report(L, path, true, "unknown %s, did you mean \"%s\"?", what, best);
	else
		confpos_report(L, path, true, "unknown %s, expected one of %s", what, list);
}

/* ---- Teardown ---- */

void
confpos_loader_release(struct confpos_loader *L)
{
	for (size_t i = 0; i < L->npos; i++)
		free(L->pos[i].path);
	for (size_t i = 0; i < L->nprobs; i++) {
		free(L->probs[i].path);
		free(L->probs[i].msg);
	}
	for (size_t i = 0; i < L->nppath; i++)
		free(L->ppath[i]);
	free(L->pos);
	free(L->probs);
	free(L->ppath);
	L->pos = NULL;
	L->probs = NULL;
	L->ppath = NULL;
	L->npos = L->nprobs = L->nppath = 0;
}
