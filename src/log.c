/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: formats a whole line into a stack buffer and writes it with one
 * write(2), so lines from concurrent threads and processes never interleave.
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
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%ld]%s%s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     (long) (tv.tv_usec / 1000), level_names[lvl], (long) getpid(),
		     cur_request_id ? " rid=" : "", cur_request_id ? cur_request_id : "");
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
