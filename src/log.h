/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: one line per event on stderr, prefixed with time, level, pid and
 * the current request id (a thread-local set by the worker), so every line a
 * request causes can be found with grep.  Never pass secrets to these.
 *
 * server.log_format "json" makes every line one JSON object instead: "time",
 * "level", "pid", "request_id" (when there is one), then "message" for
 * log_msg or the fields of a log_record (log_request: one per request).
 * Strings are scrubbed to valid UTF-8 and escaped, so a line always parses.
 */
#ifndef SG_LOG_H
#define SG_LOG_H

#include "sg.h"

enum sg_log_level { SG_LOG_DEBUG, SG_LOG_INFO, SG_LOG_WARN, SG_LOG_ERROR };

/* Sets the minimum level printed ("debug", "info", "warn", "error"); false if unknown. */
bool log_set_level_name(const char *name);
void log_set_level(enum sg_log_level lvl);
/* The request id of the calling thread (borrowed; NULL clears it). */
void log_set_request_id(const char *id);
const char *log_request_id(void);

void log_msg(enum sg_log_level lvl, const char *fmt, ...) SG_PRINTF(2, 3);
/* Whether a message of level lvl would be printed: callers skip formatting what nobody reads. */
bool log_enabled(enum sg_log_level lvl);

/* "text" or "json"; false if unknown.  log_json() says which is on. */
bool log_set_format_name(const char *name);
bool log_json(void);

/*
 * One JSON log line built field by field on the stack, written whole by
 * log_record_end (nothing when the level is filtered out).  Fields that do not
 * fit in the line are left out.  For the JSON format only.
 */
struct log_record {
	char buf[4096];
	size_t n;
	bool skip;
};
void log_record_begin(struct log_record *lr, enum sg_log_level lvl);
/* A string field; val NULL writes null. */
void log_record_str(struct log_record *lr, const char *key, const char *val);
void log_record_int(struct log_record *lr, const char *key, long long v);
/* A duration in microseconds as milliseconds with three decimals. */
void log_record_ms(struct log_record *lr, const char *key, int64_t us);
void log_record_bool(struct log_record *lr, const char *key, bool v);
void log_record_end(struct log_record *lr);

/* The line for a request that ended (text or JSON by the format), at info. */
struct request;
void log_request(const struct request *r);

#define log_debug(...) log_msg(SG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(SG_LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(SG_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(SG_LOG_ERROR, __VA_ARGS__)

#endif
