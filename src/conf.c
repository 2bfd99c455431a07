/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.c: loads the JSON configuration: parse (jansson), index the position
 * of every value in the raw text (jansson keeps none), substitute
 * ${env.NAME} / ${env.NAME:default} in every string value, then validate
 * against a declarative table of keys and build struct sg_conf.  Every
 * problem found is reported as "FILE:LINE:COL: path: message", sorted by
 * position, one error per value.  Runs once per (re)load, single-threaded;
 * the result is read-only afterwards.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "conf.h"
#include "provider.h"

#define MAX_PROBLEMS 100
#define MAX_FILE_BYTES (16u << 20)

static const char *const api_names[SG_API_COUNT] = {
	"inference", "safety", "vector_io", "datasetio", "scoring", "eval", "tool_runtime",
};

/* Where a value starts in the text; kline/kcol is its key (0 in arrays). */
struct pos {
	char *path;
	unsigned line, col, kline, kcol;
	size_t off;
};

struct problem {
	unsigned line, col;
	size_t seq;
	char *path, *msg;
};

struct loader {
	const char *name, *text;
	size_t len;
	struct pos *pos;
	size_t npos, cappos;
	struct problem *probs;
	size_t nprobs, capprobs, dropped;
	char **ppath; /* the JSON path of each provider, parallel to c->providers */
	size_t nppath;
	bool nomem;
	struct sg_conf *c;
};

static bool
grow(struct loader *L, void **v, size_t *cap, size_t n, size_t size)
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

struct scan {
	const char *s;
	size_t len, i;
	unsigned line, col; /* of the last character consumed */
};

static char
peek(const struct scan *sc)
{
	return sc->i < sc->len ? sc->s[sc->i] : '\0';
}

/* Consumes one byte; columns count characters (UTF-8 lead bytes), as jansson does. */
static void
adv(struct scan *sc)
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
skip_ws(struct scan *sc)
{
	while (peek(sc) == ' ' || peek(sc) == '\t' || peek(sc) == '\n' || peek(sc) == '\r')
		adv(sc);
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

/* Decodes the escape at s[i] (a '\\') into out; returns the bytes written, *raw its length. */
static size_t
unescape(const char *s, size_t len, size_t i, char *out, size_t *raw)
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

/* Consumes the string at sc->i (its '"'); decodes it into *out when out is not NULL. */
static bool
scan_string(struct loader *L, struct scan *sc, char **out)
{
	size_t end = sc->i + 1, n = 0;
	char *buf = NULL;

	while (end < sc->len && sc->s[end] != '"')
		end += sc->s[end] == '\\' ? 2 : 1;
	if (out != NULL && (buf = *out = sg_malloc(end - sc->i + 1)) == NULL) {
		L->nomem = true;
		return false;
	}
	adv(sc);
	while (sc->i < end) {
		size_t raw = 1;

		if (sc->s[sc->i] == '\\')
			n += unescape(sc->s, sc->len, sc->i, buf != NULL ? buf + n : (char[4]){ 0 }, &raw);
		else if (buf != NULL)
			buf[n++] = sc->s[sc->i];
		while (raw-- > 0 && sc->i < end)
			adv(sc);
	}
	if (buf != NULL)
		buf[n] = '\0';
	if (peek(sc) == '"')
		adv(sc);
	return true;
}

/* Indexes the value at sc->i under path (which the index takes), and its children. */
static bool
scan_value(struct loader *L, struct scan *sc, char *path, unsigned kline, unsigned kcol)
{
	char c, *key, *child;
	size_t n = 0;

	skip_ws(sc);
	if (!grow(L, (void **) &L->pos, &L->cappos, L->npos, sizeof(*L->pos))) {
		free(path);
		return false;
	}
	L->pos[L->npos++] = (struct pos){ path, sc->line, sc->col + 1, kline, kcol, sc->i };
	c = peek(sc);
	if (c == '"')
		return scan_string(L, sc, NULL);
	if (c != '{' && c != '[') {
		while (sc->i < sc->len && strchr(",]} \t\r\n", peek(sc)) == NULL)
			adv(sc);
		return true;
	}
	adv(sc);
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
			adv(sc);
		} else {
			child = sg_asprintf("%s[%zu]", path, n++);
		}
		if (child == NULL || !scan_value(L, sc, child, kl, kc)) {
			L->nomem = L->nomem || child == NULL;
			return false;
		}
		skip_ws(sc);
		if (peek(sc) == ',')
			adv(sc);
		else if (peek(sc) != (c == '{' ? '}' : ']'))
			return false;
	}
	adv(sc);
	return true;
}

static const struct pos *
pos_find(const struct loader *L, const char *path)
{
	for (size_t i = 0; i < L->npos; i++)
		if (strcmp(L->pos[i].path, path) == 0)
			return &L->pos[i];
	return NULL;
}

/* Position of path (its key when at_key), else of its nearest indexed ancestor. */
static void
where(const struct loader *L, const char *path, bool at_key, unsigned *line, unsigned *col)
{
	char *p = sg_strdup(path);
	const struct pos *e = NULL;

	while (p != NULL && (e = pos_find(L, p)) == NULL && p[0] != '\0') {
		char *cut = strrchr(p, '.'), *br = strrchr(p, '[');

		if (br != NULL && (cut == NULL || br > cut))
			cut = br;
		*(cut != NULL ? cut : p) = '\0';
		at_key = false;
	}
	free(p);
	*line = e == NULL ? 1 : at_key && e->kline ? e->kline : e->line;
	*col = e == NULL ? 1 : at_key && e->kline ? e->kcol : e->col;
}

/* ---- Problems ---- */

static void
add_problem(struct loader *L, unsigned line, unsigned col, const char *path, const char *msg)
{
	struct problem *p;

	if (L->nprobs >= MAX_PROBLEMS) {
		L->dropped++;
		return;
	}
	if (!grow(L, (void **) &L->probs, &L->capprobs, L->nprobs, sizeof(*L->probs)))
		return;
	p = &L->probs[L->nprobs];
	*p = (struct problem){ line, col, L->nprobs, sg_strdup(path ? path : ""), NULL };
	p->msg = path && path[0] ? sg_asprintf("%s: %s", path, msg) : sg_strdup(msg);
	if (p->path == NULL || p->msg == NULL) {
		free(p->path);
		free(p->msg);
		L->nomem = true;
		return;
	}
	L->nprobs++;
}

/* Reports a problem with the value at path (its key when at_key), once per path. */
static void SG_PRINTF(4, 5)
report(struct loader *L, const char *path, bool at_key, const char *fmt, ...)
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
	where(L, path, at_key, &line, &col);
	add_problem(L, line, col, path, msg);
}

/* A short rendering of v for "got …": JSON for scalars, cut at 60 bytes. */
static const char *
show(const json_t *v, char *buf, size_t n)
{
	char *s;

	if (json_is_object(v) || json_is_array(v))
		return json_is_object(v) ? "an object" : "an array";
	s = json_dumps(v, JSON_ENCODE_ANY);
	snprintf(buf, n, "%s", s != NULL ? s : "?");
	if (s != NULL && strlen(s) >= n && n > 4)
		memcpy(buf + n - 4, "...", 4);
	free(s);
	return buf;
}
#define GOT(v) show((v), (char[64]){ 0 }, 64)

static int
problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* All problems, "NAME:LINE:COL: message\n" each, in position order. */
static char *
render(struct loader *L)
{
	size_t len = 0;
	char *out, *p;

	qsort(L->probs, L->nprobs, sizeof(*L->probs), problem_cmp);
	for (size_t i = 0; i < L->nprobs; i++)
		len += strlen(L->name) + strlen(L->probs[i].msg) + 32;
	len += strlen(L->name) + 64;
	if ((out = p = sg_malloc(len)) == NULL)
		return NULL;
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

struct buf {
	char *p;
	size_t n, cap;
};

static bool
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *np = sg_realloc(b->p, cap);

		if (np == NULL)
			return false;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return true;
}

/* Column of the character at decoded byte offset target of the string at e. */
static unsigned
string_col(const struct loader *L, const struct pos *e, size_t target)
{
	size_t i = e->off + 1, dec = 0, raw;
	unsigned col = e->col + 1;
	char tmp[4];

	while (i < L->len && dec < target && L->text[i] != '"') {
		if (L->text[i] == '\\') {
			dec += unescape(L->text, L->len, i, tmp, &raw);
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

static void SG_PRINTF(5, 6)
env_problem(struct loader *L, const char *path, const char *s, const char *at, const char *fmt, ...)
{
	const struct pos *e = pos_find(L, path);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_problem(L, e ? e->line : 1, e ? string_col(L, e, (size_t) (at - s)) : 1, path, msg);
}

/*
 * Appends the value of one reference.  As in Llama Stack an empty variable
 * counts as unset and a leading "~" is $HOME; cond is the ":+" form (def when
 * the variable is set, else nothing).
 */
static bool
env_value(struct buf *b, const char *name, const char *def, size_t deflen, bool cond, bool *missing)
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
		if (!buf_add(b, home, strlen(home)))
			return false;
		v++;
		n--;
	}
	return buf_add(b, v, n);
}

static void
subst_string(struct loader *L, json_t *v, const char *path)
{
	const char *s = json_string_value(v), *p = s, *q;
	struct buf b = { NULL, 0, 0 };
	bool failed = false;

	if (strstr(s, "${env.") == NULL)
		return;
	while ((q = strstr(p, "${env.")) != NULL) {
		const char *name = q + 6, *end, *def = NULL;
		size_t nl = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		char *var;
		bool missing = false, cond = false;

		if (!buf_add(&b, p, (size_t) (q - p)))
			goto nomem;
		end = name + nl;
		if (nl > 0 && *end == ':') {
			/* ":=" and ":+" are the later Llama Stack spellings. */
			def = end + 1 + (end[1] == '=' || end[1] == '+');
			cond = end[1] == '+';
			end = strchr(def, '}');
		}
		if (nl == 0 || end == NULL || *end != '}') {
			env_problem(L, path, s, q, "malformed environment reference, expected ${env.NAME} or ${env.NAME:default}");
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
	if (!failed && !buf_add(&b, p, strlen(p)))
		goto nomem;
	if (!failed && json_string_setn(v, b.p, b.n) != 0)
		report(L, path, false, "the value after substitution is not valid UTF-8");
	free(b.p);
	return;
nomem:
	L->nomem = true;
	free(b.p);
}

/* Substitutes in every string value of the tree at v. */
static void
subst_tree(struct loader *L, json_t *v, const char *path)
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
		subst_tree(L, child, cp);
		free(cp);
	}
	json_array_foreach(v, i, child) {
		if ((cp = sg_asprintf("%s[%zu]", path, i)) == NULL)
			goto nomem;
		subst_tree(L, child, cp);
		free(cp);
	}
	return;
nomem:
	L->nomem = true;
}

/* ---- Typed values ---- */

bool
conf_value_int(const json_t *v, long long *out)
{
	const char *s = json_string_value(v), *d;
	char *end;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (s == NULL)
		return false;
	d = s + (s[0] == '-' || s[0] == '+');
	if (!isdigit((unsigned char) d[0]) || strspn(d, "0123456789") != strlen(d))
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

bool
conf_value_bool(const json_t *v, bool *out)
{
	static const char *const t[] = { "true", "yes", "on", "1" }, *const f[] = { "false", "no", "off", "0" };
	const char *s = json_string_value(v);

	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return true;
	}
	for (size_t i = 0; s != NULL && i < SG_ARRAY_LEN(t); i++) {
		if (strcasecmp(s, t[i]) == 0 || strcasecmp(s, f[i]) == 0) {
			*out = strcasecmp(s, t[i]) == 0;
			return true;
		}
	}
	return false;
}

bool
conf_value_number(const json_t *v, double *out)
{
	const char *s = json_string_value(v);
	char *end;

	if (json_is_number(v)) {
		*out = json_number_value(v);
		return true;
	}
	if (s == NULL || s[0] == '\0' || isspace((unsigned char) s[0]))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/* ---- The declarative key table ---- */

enum kind { K_INT, K_LONG, K_SIZE, K_BOOL, K_STR, K_OPTSTR, K_MODE, K_STRV };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off;
	long long min, max;
	const char *(*check)(const char *s); /* strings: NULL, or why s is wrong */
};

static const char *
check_listen(const char *s)
{
	static const char *const loopback[] = { "127.0.0.1:", "[::1]:", "localhost:" };

	if (s[0] == '/')
		return strlen(s) < sizeof(((struct sockaddr_un *) 0)->sun_path) ? NULL
			: "must be a unix socket path shorter than 108 bytes";
	for (size_t i = 0; i < SG_ARRAY_LEN(loopback); i++) {
		const char *port = s + strlen(loopback[i]);

		if (strncmp(s, loopback[i], strlen(loopback[i])) == 0 && strlen(port) >= 1 && strlen(port) <= 5 &&
		    strspn(port, "0123456789") == strlen(port) && atoi(port) >= 1 && atoi(port) <= 65535)
			return NULL;
	}
	return "must be an absolute unix socket path or a loopback address (127.0.0.1:PORT, [::1]:PORT or "
	       "localhost:PORT)";
}

static const char *
check_log_level(const char *s)
{
	return strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 || strcmp(s, "warn") == 0 || strcmp(s, "error") == 0
		? NULL : "must be one of debug, info, warn, error";
}

static const char *
check_abs_path(const char *s)
{
	return s[0] == '/' ? NULL : "must be an absolute path";
}

static const char *
check_nonempty(const char *s)
{
	return s[0] != '\0' ? NULL : "must not be empty";
}

#define F(f) offsetof(struct sg_conf, f)
static const struct key keys[] = {
	{ "server", "socket", K_STR, F(listen), 0, 0, check_listen },
	{ "server", "socket_mode", K_MODE, F(socket_mode), 0, 0777, NULL },
	{ "server", "socket_group", K_OPTSTR, F(socket_group), 0, 0, check_nonempty },
	{ "server", "workers", K_INT, F(workers), 1, 64, NULL },
	{ "server", "threads", K_INT, F(threads), 1, 1024, NULL },
	{ "server", "thread_stack_kb", K_SIZE, F(thread_stack_kb), 64, 1048576, NULL },
	{ "server", "max_requests", K_LONG, F(max_requests), 0, 1000000000, NULL },
	{ "server", "max_body_bytes", K_SIZE, F(max_body_bytes), 1024, 1073741824, NULL },
	{ "server", "max_json_depth", K_INT, F(max_json_depth), 2, 1000, NULL },
	{ "server", "shutdown_timeout", K_INT, F(shutdown_timeout_s), 0, 3600, NULL },
	{ "server", "log_level", K_STR, F(log_level), 0, 0, check_log_level },
	{ "server", "pid_file", K_OPTSTR, F(pid_file), 0, 0, check_abs_path },
	{ "database", "conninfo", K_STR, F(conninfo), 0, 0, NULL },
	{ "database", "pool_size", K_INT, F(db_pool_size), 1, 64, NULL },
	{ "database", "auto_migrate", K_BOOL, F(auto_migrate), 0, 0, NULL },
	{ "auth", "required", K_BOOL, F(auth_required), 0, 0, NULL },
	{ "auth", "admin_roles", K_STRV, F(admin_roles), 0, 0, NULL },
	{ "auth", "key_cache_ttl", K_INT, F(key_cache_ttl_s), 0, 3600, NULL },
};

static const struct {
	const char *name;
	size_t off; /* a json_t * in struct sg_conf, or 0: a section or an ignored key */
} toplevel[] = {
	{ "server", 0 }, { "database", 0 }, { "auth", 0 }, { "providers", 0 },
	{ "version", 0 }, { "image_name", 0 },
	{ "models", F(models) }, { "shields", F(shields) }, { "vector_dbs", F(vector_dbs) },
	{ "datasets", F(datasets) }, { "scoring_fns", F(scoring_fns) }, { "benchmarks", F(benchmarks) },
	{ "tool_groups", F(tool_groups) },
};

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
static void
report_unknown(struct loader *L, const char *path, const char *key, const char *const *names, size_t n,
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
		len += (size_t) snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0, "%s%s",
					 i ? ", " : "", names[i]);
		if (len >= sizeof(list))
			len = sizeof(list) - 1;
	}
	if (best != NULL)
		report(L, path, true, "unknown %s, did you mean \"%s\"?", what, best);
	else
		report(L, path, true, "unknown %s, expected one of %s", what, list);
}

static void
parse_key(struct loader *L, const struct key *k, const char *path, json_t *v)
{
	char *field = (char *) L->c + k->off, *dup;
	const char *s = json_string_value(v), *why;
	long long n = 0;
	bool b;

	switch (k->kind) {
	case K_INT:
	case K_LONG:
	case K_SIZE:
		if (!conf_value_int(v, &n) || n < k->min || n > k->max)
			report(L, path, false, "must be an integer between %lld and %lld, got %s", k->min, k->max, GOT(v));
		else if (k->kind == K_INT)
			*(int *) (void *) field = (int) n;
		else if (k->kind == K_LONG)
			*(long *) (void *) field = (long) n;
		else
			*(size_t *) (void *) field = (size_t) n;
		break;
	case K_BOOL:
		if (!conf_value_bool(v, &b))
			report(L, path, false, "must be a boolean, got %s", GOT(v));
		else
			*(bool *) field = b;
		break;
	case K_MODE:
		if (s == NULL || s[0] == '\0' || strlen(s) > 4 || strspn(s, "01234567") != strlen(s))
			report(L, path, false, "must be an octal string such as \"0660\", got %s", GOT(v));
		else
			*(mode_t *) (void *) field = (mode_t) strtol(s, NULL, 8) & 0777;
		break;
	case K_STR:
	case K_OPTSTR:
		if (k->kind == K_OPTSTR && json_is_null(v))
			s = NULL;
		else if (s == NULL || (k->check != NULL && (why = k->check(s)) != NULL)) {
			report(L, path, false, "%s, got %s", s == NULL ? "must be a string" : why, GOT(v));
			break;
		}
		if (s != NULL && (dup = sg_strdup(s)) == NULL) {
			L->nomem = true;
			break;
		}
		free(*(char **) (void *) field);
		*(char **) (void *) field = s != NULL ? dup : NULL;
		break;
	case K_STRV: {
		struct sg_strv *sv = (struct sg_strv *) (void *) field;
		json_t *e;
		size_t i;

		if (!json_is_array(v)) {
			report(L, path, false, "must be an array of strings, got %s", GOT(v));
			break;
		}
		sg_strv_free(sv);
		json_array_foreach(v, i, e) {
			char *ep = sg_asprintf("%s[%zu]", path, i);

			if (ep != NULL && (!json_is_string(e) || json_string_length(e) == 0))
				report(L, ep, false, "must be a non-empty string, got %s", GOT(e));
			else if (ep == NULL || !sg_strv_push(sv, json_string_value(e)))
				L->nomem = true;
			free(ep);
		}
		break;
	}
	}
}

static void
parse_section(struct loader *L, const char *section, json_t *obj)
{
	const char *names[SG_ARRAY_LEN(keys)], *key;
	size_t n = 0;
	json_t *v;

	if (!json_is_object(obj)) {
		report(L, section, false, "must be an object, got %s", GOT(obj));
		return;
	}
	for (size_t i = 0; i < SG_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			names[n++] = keys[i].name;
	json_object_foreach(obj, key, v) {
		char *path = sg_asprintf("%s.%s", section, key);
		size_t i;

		if (path == NULL) {
			L->nomem = true;
			return;
		}
		for (i = 0; i < SG_ARRAY_LEN(keys); i++)
			if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, key) == 0)
				break;
		if (i < SG_ARRAY_LEN(keys))
			parse_key(L, &keys[i], path, v);
		else
			report_unknown(L, path, key, names, n, "key");
		free(path);
	}
}

/* ---- Providers ---- */

struct setup_ctx {
	struct loader *L;
	const char *path;
};

static void
on_provider_problem(void *arg, const char *key, const char *msg)
{
	struct setup_ctx *cx = arg;
	char *path = key ? sg_asprintf("%s.config.%s", cx->path, key) : sg_asprintf("%s.config", cx->path);

	if (path == NULL)
		cx->L->nomem = true;
	else
		report(cx->L, path, false, "%s", msg);
	free(path);
}

static bool
valid_name(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0)
		return false;
	s += n;
	return s[0] != '\0' && strlen(s) <= 128 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == strlen(s);
}

/* Validates one {provider_id, provider_type, config} at path and appends it. */
static void
parse_provider(struct loader *L, enum sg_api api, json_t *e, char *path)
{
	static const char *const names[] = { "provider_id", "provider_type", "config" };
	struct sg_conf *c = L->c;
	char sub[512];
	const char *key, *id, *type;
	json_t *v, *cfg;
	struct sg_provider *p;
	bool bad = false;

	if (!json_is_object(e)) {
		report(L, path, false, "must be an object, got %s", GOT(e));
		goto out;
	}
	json_object_foreach(e, key, v) {
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (strcmp(key, names[0]) != 0 && strcmp(key, names[1]) != 0 && strcmp(key, names[2]) != 0) {
			report_unknown(L, sub, key, names, SG_ARRAY_LEN(names), "key");
			bad = true;
		}
	}
	id = json_string_value(json_object_get(e, "provider_id"));
	type = json_string_value(json_object_get(e, "provider_type"));
	cfg = json_object_get(e, "config");
	snprintf(sub, sizeof(sub), "%s.provider_id", path);
	if (json_object_get(e, "provider_id") == NULL)
		report(L, sub, false, "required key is missing");
	else if (id == NULL || !valid_name(id, ""))
		report(L, sub, false, "must be a string of letters, digits, '_', '.' or '-', got %s",
		       GOT(json_object_get(e, "provider_id")));
	bad = bad || id == NULL || !valid_name(id, "");
	for (size_t i = 0; !bad && i < c->nproviders; i++) {
		unsigned line, col;

		if (c->providers[i].api != api || strcmp(c->providers[i].provider_id, id) != 0)
			continue;
		where(L, L->ppath[i], false, &line, &col);
		report(L, sub, false, "duplicate provider_id \"%s\" for %s (first defined at line %u)", id,
		       api_names[api], line);
		bad = true;
	}
	snprintf(sub, sizeof(sub), "%s.provider_type", path);
	if (json_object_get(e, "provider_type") == NULL) {
		report(L, sub, false, "required key is missing");
		bad = true;
	} else if (type == NULL || (!valid_name(type, "inline::") && !valid_name(type, "remote::"))) {
		report(L, sub, false, "must look like \"inline::NAME\" or \"remote::NAME\", got %s",
		       GOT(json_object_get(e, "provider_type")));
		bad = true;
	}
	snprintf(sub, sizeof(sub), "%s.config", path);
	if (cfg != NULL && !json_is_null(cfg) && !json_is_object(cfg)) {
		report(L, sub, false, "must be an object, got %s", GOT(cfg));
		bad = true;
	}
	if (bad || L->nomem)
		goto out;
	p = &c->providers[c->nproviders];
	*p = (struct sg_provider){ .api = api };
	p->config = json_is_object(cfg) ? json_incref(cfg) : json_object();
	p->provider_id = sg_strdup(id);
	p->provider_type = sg_strdup(type);
	L->ppath[c->nproviders++] = path;
	path = NULL;
	if (p->config == NULL || p->provider_id == NULL || p->provider_type == NULL ||
	    !provider_setup(p, on_provider_problem, &(struct setup_ctx){ L, L->ppath[c->nproviders - 1] }))
		L->nomem = true;
out:
	free(path);
}

static void
parse_providers(struct loader *L, json_t *obj)
{
	const char *name;
	json_t *list, *e;
	size_t total = 0, i;

	if (!json_is_object(obj)) {
		report(L, "providers", false, "must be an object keyed by API name, got %s", GOT(obj));
		return;
	}
	json_object_foreach(obj, name, list)
		total += json_array_size(list);
	L->c->providers = sg_calloc(total + 1, sizeof(*L->c->providers));
	L->ppath = sg_calloc(total + 1, sizeof(*L->ppath));
	if (L->c->providers == NULL || L->ppath == NULL) {
		L->nomem = true;
		return;
	}
	L->nppath = total + 1;
	json_object_foreach(obj, name, list) {
		char path[256];
		enum sg_api api;

		snprintf(path, sizeof(path), "providers.%s", name);
		if (!conf_api_from_name(name, &api)) {
			report_unknown(L, path, name, api_names, SG_API_COUNT, "API");
			continue;
		}
		if (!json_is_array(list)) {
			report(L, path, false, "must be an array of providers, got %s", GOT(list));
			continue;
		}
		json_array_foreach(list, i, e) {
			char *ep = sg_asprintf("%s[%zu]", path, i);

			if (ep == NULL) {
				L->nomem = true;
				return;
			}
			parse_provider(L, api, e, ep);
		}
	}
}

/* ---- Loading ---- */

static void
validate(struct loader *L, json_t *root)
{
	const char *names[SG_ARRAY_LEN(toplevel)];
	const char *key;
	json_t *v, *e;
	size_t i, t;

	for (t = 0; t < SG_ARRAY_LEN(toplevel); t++)
		names[t] = toplevel[t].name;
	json_object_foreach(root, key, v) {
		for (t = 0; t < SG_ARRAY_LEN(toplevel) && strcmp(toplevel[t].name, key) != 0; t++)
			;
		if (t == SG_ARRAY_LEN(toplevel)) {
			report_unknown(L, key, key, names, SG_ARRAY_LEN(names), "key");
		} else if (strcmp(key, "providers") == 0) {
			parse_providers(L, v);
		} else if (toplevel[t].off == 0) {
			if (strcmp(key, "version") != 0 && strcmp(key, "image_name") != 0)
				parse_section(L, key, v);
		} else if (!json_is_array(v)) {
			report(L, key, false, "must be an array of objects, got %s", GOT(v));
		} else {
			*(json_t **) (void *) ((char *) L->c + toplevel[t].off) = v;
			json_array_foreach(v, i, e) {
				char path[64];

				snprintf(path, sizeof(path), "%s[%zu]", key, i);
				if (!json_is_object(e))
					report(L, path, false, "must be an object, got %s", GOT(e));
			}
		}
	}
}

static struct sg_conf *
conf_defaults(void)
{
	struct sg_conf *c = sg_calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->socket_mode = 0660;
	c->workers = 2;
	c->threads = 64;
	c->thread_stack_kb = 256;
	c->max_body_bytes = 1 << 20;
	c->max_json_depth = 64;
	c->shutdown_timeout_s = 30;
	c->db_pool_size = 4;
	c->key_cache_ttl_s = 5;
	c->listen = sg_strdup("/run/stackgate/stackgate.sock");
	c->log_level = sg_strdup("info");
	c->conninfo = sg_strdup("");
	if (c->listen == NULL || c->log_level == NULL || c->conninfo == NULL ||
	    !sg_strv_push(&c->admin_roles, "admin")) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static struct sg_conf *
load(const char *text, size_t len, const char *name, char **errors)
{
	struct loader L = { .name = name, .text = text, .len = len };
	struct scan sc = { text, len, 0, 1, 0 };
	const char *nul = memchr(text, '\0', len);
	json_error_t je;
	json_t *root = NULL;
	char *rootpath = sg_strdup("");

	*errors = NULL;
	if (nul != NULL) {
		sc.len = (size_t) (nul - text);
		while (sc.i < sc.len)
			adv(&sc);
		add_problem(&L, sc.line, sc.col + 1, NULL, "the file contains a NUL byte");
		goto out;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		char msg[256];

		snprintf(msg, sizeof(msg), "invalid JSON: %s", je.text);
		add_problem(&L, je.line > 0 ? (unsigned) je.line : 1, je.column > 0 ? (unsigned) je.column : 1, NULL, msg);
		goto out;
	}
	if ((L.c = conf_defaults()) == NULL || (L.c->path = sg_strdup(name)) == NULL || rootpath == NULL) {
		L.nomem = true;
		goto out;
	}
	L.c->root = root;
	root = NULL;
	if (scan_value(&L, &sc, rootpath, 0, 0) || !L.nomem) {
		subst_tree(&L, L.c->root, "");
		if (!json_is_object(L.c->root))
			report(&L, "", false, "the configuration must be a JSON object, got %s", GOT(L.c->root));
		validate(&L, L.c->root);
	}
	rootpath = NULL;
out:
	if (L.nprobs > 0 || L.nomem) {
		*errors = render(&L);
		conf_free(L.c);
		L.c = NULL;
	}
	json_decref(root);
	free(rootpath);
	for (size_t i = 0; i < L.npos; i++)
		free(L.pos[i].path);
	for (size_t i = 0; i < L.nprobs; i++) {
		free(L.probs[i].path);
		free(L.probs[i].msg);
	}
	for (size_t i = 0; i < L.nppath; i++)
		free(L.ppath[i]);
	free(L.pos);
	free(L.probs);
	free(L.ppath);
	return L.c;
}

struct sg_conf *
conf_load_string(const char *text, const char *name, char **errors)
{
	return load(text, strlen(text), name, errors);
}

struct sg_conf *
conf_load(const char *path, char **errors)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { NULL, 0, 0 };
	char chunk[65536];
	struct sg_conf *c = NULL;
	size_t n;

	*errors = NULL;
	if (f == NULL) {
		*errors = sg_asprintf("%s: cannot open: %s\n", path, strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.n + n > MAX_FILE_BYTES) {
			*errors = sg_asprintf("%s: the file is larger than %u bytes\n", path, MAX_FILE_BYTES);
			goto out;
		}
		if (!buf_add(&b, chunk, n)) {
			*errors = sg_asprintf("%s: out of memory\n", path);
			goto out;
		}
	}
	if (ferror(f))
		*errors = sg_asprintf("%s: cannot read: %s\n", path, strerror(errno));
	else
		c = load(b.p != NULL ? b.p : "", b.n, path, errors);
out:
	fclose(f);
	free(b.p);
	return c;
}

void
conf_free(struct sg_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nproviders; i++) {
		struct sg_provider *p = &c->providers[i];

		if (p->api_key != NULL)
			explicit_bzero(p->api_key, strlen(p->api_key));
		free(p->api_key);
		free(p->provider_id);
		free(p->provider_type);
		free(p->base_url);
		free(p->ca_file);
		json_decref(p->config);
	}
	free(c->providers);
	free(c->path);
	free(c->listen);
	free(c->socket_group);
	free(c->log_level);
	free(c->pid_file);
	free(c->conninfo);
	sg_strv_free(&c->admin_roles);
	json_decref(c->root);
	free(c);
}

const char *
conf_api_name(enum sg_api api)
{
	return (unsigned) api < SG_API_COUNT ? api_names[api] : NULL;
}

bool
conf_api_from_name(const char *name, enum sg_api *out)
{
	for (int i = 0; name != NULL && i < SG_API_COUNT; i++) {
		if (strcmp(api_names[i], name) == 0) {
			*out = (enum sg_api) i;
			return true;
		}
	}
	return false;
}

const struct sg_provider *
conf_provider_nth(const struct sg_conf *c, enum sg_api api, size_t n)
{
	for (size_t i = 0; c != NULL && i < c->nproviders; i++)
		if (c->providers[i].api == api && n-- == 0)
			return &c->providers[i];
	return NULL;
}

size_t
conf_provider_count(const struct sg_conf *c, enum sg_api api)
{
	size_t n = 0;

	while (conf_provider_nth(c, api, n) != NULL)
		n++;
	return n;
}

const struct sg_provider *
conf_provider(const struct sg_conf *c, enum sg_api api, const char *provider_id)
{
	for (size_t i = 0; c != NULL && provider_id != NULL && i < c->nproviders; i++)
		if (c->providers[i].api == api && strcmp(c->providers[i].provider_id, provider_id) == 0)
			return &c->providers[i];
	return NULL;
}
