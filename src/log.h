/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h: one line per event on stderr, prefixed with time, level, pid and
 * the current request id (a thread-local set by the worker), so every line a
 * request causes can be found with grep.  Never pass secrets to these.
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

#define log_debug(...) log_msg(SG_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(SG_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(SG_LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(SG_LOG_ERROR, __VA_ARGS__)

#endif
