/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: formats a whole line into a stack buffer and writes it with one
 * write(2), so lines from concurrent threads and processes never interleave;
 * in the JSON format (log.h) the line is one object built the same way.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static enum sg_log_level min_level = SG_LOG_INFO;
static _Thread_local const char *cur_request_id;
static bool json_format;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool
log_set_level_name(const char *name)
{
	for (size_t i = 0; i < SG_ARRAY_LEN(level_names); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			min_level = (enum sg_log_level) i;
			return true;
		}
	}
	return false;
}

void
log_set_level(enum sg_log_level lvl)
{
	min_level = lvl;
}

bool
log_enabled(enum sg_log_level lvl)
{
	return lvl >= min_level;
}

void
log_set_request_id(const char *id)
{
	cur_request_id = id;
}

const char *
log_request_id(void)
{
	return cur_request_id;
}

void
log_msg(enum sg_log_level lvl, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n, m;

	if (lvl < min_level)
		return;
	if (json_format) {
		struct log_record lr;
		char msg[2048];

		va_start(ap, fmt);
		m = vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (m < 0)
			return;
		log_record_begin(&lr, lvl);
		log_record_str(&lr, "message", msg);
		log_record_end(&lr);
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%ld]%s%s ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long) (tv.tv_usec / 1000),
		     level_names[lvl], (long) getpid(), cur_request_id ? " rid=" : "",
		     cur_request_id ? cur_request_id : "");
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t) n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* Keep one line per event: control characters from input become '?'. */
	for (int i = 0; i < n; i++)
		if ((unsigned char) line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t) n) < 0) {
		/* Nowhere left to report it. */
	}
}

/* ---- JSON lines ---- */

bool
log_set_format_name(const char *name)
{
	if (strcmp(name, "text") != 0 && strcmp(name, "json") != 0)
		return false;
	json_format = strcmp(name, "json") == 0;
	return true;
}

bool
log_json(void)
{
	return json_format;
}

/* Appends raw bytes; a field that does not fit is cut back to where it began (lr->n unchanged). */
static bool
rec_put(struct log_record *lr, const char *s, size_t n)
{
	if (lr->n + n + 3 > sizeof(lr->buf)) /* room for "}\n" */
		return false;
	memcpy(lr->buf + lr->n, s, n);
	lr->n += n;
	return true;
}

/* s as a JSON string (quotes included): valid UTF-8 after scrubbing, control characters escaped. */
static bool
rec_string(struct log_record *lr, const char *s)
{
	char tmp[2048];

	snprintf(tmp, sizeof(tmp), "%s", s);
	tmp[sg_utf8_prefix(tmp, sizeof(tmp) - 1)] = '\0';
	sg_utf8_scrub(tmp);
	if (!rec_put(lr, "\"", 1))
		return false;
	for (const unsigned char *p = (const unsigned char *) tmp; *p; p++) {
		char e[8];
		size_t n = 0;

		if (*p == '"' || *p == '\\') {
			e[n++] = '\\';
			e[n++] = (char) *p;
		} else if (*p < 0x20) {
			n = (size_t) snprintf(e, sizeof(e), "\\u%04x", *p);
		} else {
			e[n++] = (char) *p;
		}
		if (!rec_put(lr, e, n))
			return false;
	}
	return rec_put(lr, "\"", 1);
}

/* ,"key": — then the value; on overflow the field is dropped whole. */
static void
rec_field(struct log_record *lr, const char *key, const char *raw, const char *str)
{
	size_t start = lr->n;

	if (lr->skip)
		return;
	if (!rec_put(lr, lr->n > 1 ? "," : "", lr->n > 1 ? 1 : 0) || !rec_string(lr, key) || !rec_put(lr, ":", 1) ||
	    !(str != NULL ? rec_string(lr, str) : rec_put(lr, raw, strlen(raw))))
		lr->n = start;
}

void
log_record_begin(struct log_record *lr, enum sg_log_level lvl)
{
	char when[64];
	struct timeval tv;
	struct tm tm;

	lr->n = 0;
	lr->skip = lvl < min_level;
	if (lr->skip)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long) (tv.tv_usec / 1000));
	(void) rec_put(lr, "{", 1);
	log_record_str(lr, "time", when);
	log_record_str(lr, "level", level_names[lvl]);
	log_record_int(lr, "pid", (long long) getpid());
	if (cur_request_id != NULL)
		log_record_str(lr, "request_id", cur_request_id);
}

void
log_record_str(struct log_record *lr, const char *key, const char *val)
{
	rec_field(lr, key, "null", val);
}

void
log_record_int(struct log_record *lr, const char *key, long long v)
{
	char n[32];

	snprintf(n, sizeof(n), "%lld", v);
	rec_field(lr, key, n, NULL);
}

void
log_record_ms(struct log_record *lr, const char *key, int64_t us)
{
	char n[48];

	if (us < 0)
		us = 0;
	snprintf(n, sizeof(n), "%lld.%03lld", (long long) (us / 1000), (long long) (us % 1000));
	rec_field(lr, key, n, NULL);
}

void
log_record_bool(struct log_record *lr, const char *key, bool v)
{
	rec_field(lr, key, v ? "true" : "false", NULL);
}

void
log_record_end(struct log_record *lr)
{
	if (lr->skip)
		return;
	lr->buf[lr->n++] = '}';
	lr->buf[lr->n++] = '\n';
	if (write(STDERR_FILENO, lr->buf, lr->n) < 0) {
		/* Nowhere left to report it. */
	}
}
