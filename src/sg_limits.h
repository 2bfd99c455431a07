/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sg_limits.h (not limits.h, which is the C library's): per-principal limits on inference (issue #14): requests in
 * flight, requests and tokens per minute, tokens per UTC day and month,
 * for a principal, optionally narrowed to one model and/or one API key; a
 * default concurrency cap per principal; and threads of every worker kept
 * back from inference for health, version, metrics and registry reads.
 *
 * Subjects.  A request by principal P (anonymous: "") with key K on model M
 * is checked against up to four subjects: (P), (P,M), (P,K), (P,M,K); each
 * has its own counters and may have one row of the `limits` table
 * (sql/007_limits.sql).  Subject (P) always counts, for
 * limits.default_max_concurrent; the narrower ones exist only while a row
 * names them.  A subject is the 64-bit FNV-1a hash of "P\x1fM\x1fK" (the same
 * on every host), held in an open-addressing table of limits.max_subjects
 * entries in the host's shared memory (shm.h) that only grows until restart;
 * a full table admits what it cannot count (and logs it).
 *
 * Counters, without locks on the request path.  Every counter of a window
 * (minute, UTC day, UTC month) is one 64-bit word, the window's index in
 * its top 24 bits and the count below, so a request moves to a new window
 * and counts in it with one compare-and-swap, and a count can never leak
 * into the next window.  Requests per minute are admitted with a CAS that
 * only succeeds below the limit: exact on one host.  Tokens are admitted
 * while the tokens charged so far are below the limit and charged at the
 * request's end (limits_finish) from r->inference.total_tokens.  Requests in
 * flight count in the worker's own shm slot (one word per subject): a
 * request adds itself and then sums the slots, and backs out when the sum is
 * over the limit (never over, at worst a spurious 429 under a race); the
 * master's retire hook zeroes a reaped worker's slot, so a killed worker
 * leaks no count.  The reserve is the worker's own in-flight inference
 * count against server.threads - server.reserved_threads.
 *
 * Across hosts, through PostgreSQL, never per request.  Every worker runs
 * one sync thread; a host-wide lease word in shm (a CAS on "next sync due")
 * lets one of them sync every LIMITS_SYNC_MS (a holder that dies passes the
 * lease on after LIMITS_LEASE_MS).  A sync, in one transaction on a pooled
 * connection: (1) reads the whole `limits` table and stores each row's
 * values in its subject's entry (rows gone: values cleared), so a change
 * takes effect on every worker of every host within a sync period; (2) adds
 * to `limit_counters` what this host counted since its last sync (the delta
 * of each subject and window, so a restarted host keeps what it had pushed);
 * (3) reads every host's totals for the current windows and keeps, per
 * subject and window, the total minus what this host has sent: the other
 * hosts' counts.  A request sees this host's counts plus those; (4) for
 * the rows with a max_concurrent, writes this host's requests in flight to
 * `limit_inflight` and reads the other hosts' (rows of the last 3 s), which a
 * request adds to its slot sum.  limits.default_max_concurrent is per host
 * (it sizes one host's pool).  The bound on what hosts can overshoot
 * together is in the README ("Limits").
 *
 * Thread model: limits_admit and limits_finish run on the request's thread
 * and keep the request's ticket (which counters to release and charge) in a
 * thread-local, so every request that was admitted must end with
 * limits_finish on the same thread (worker_handle does it for every
 * request).  limits_declare runs in the master before shm_map.
 */
#ifndef SG_SG_LIMITS_H
#define SG_SG_LIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sg.h"

struct request;
struct sg_conf;

#define LIMITS_SYNC_MS 500
#define LIMITS_LEASE_MS 5000

enum limits_period { LIMITS_MINUTE, LIMITS_DAY, LIMITS_MONTH, LIMITS_PERIODS };

/* Why a request got 429, for limits_rejected_total. */
#define LIMITS_REASONS(X)                        \
	X(LIMITS_R_RESERVE, "reserved_threads")  \
	X(LIMITS_R_CONCURRENT, "max_concurrent") \
	X(LIMITS_R_RPM, "rpm")                   \
	X(LIMITS_R_TPM, "tpm")                   \
	X(LIMITS_R_DAY, "tokens_per_day")        \
	X(LIMITS_R_MONTH, "tokens_per_month")

enum limits_reason {
#define LIMITS_X_ENUM(e, s) e,
	LIMITS_REASONS(LIMITS_X_ENUM)
#undef LIMITS_X_ENUM
		LIMITS_REASON_COUNT
};

/* The reason's name ("rpm"), or NULL out of range. */
const char *limits_reason_name(enum limits_reason r);

/* One row of `limits`: a value < 0 means no limit of that kind. */
struct limits_rule {
	char *principal, *model, *key_id; /* model/key_id NULL: every model/key */
	int64_t max_concurrent, rpm, tpm, tokens_per_day, tokens_per_month;
};

/* ---- Windows (pure) ---- */

/* The index of the window of period p holding unix time t (UTC): minutes, days or months since 1970. */
int64_t limits_window(enum limits_period p, time_t t);
/* The unix time at which window idx of period p begins. */
time_t limits_window_start(enum limits_period p, int64_t idx);
/* Seconds from t to the end of its window of period p (1 at least). */
int64_t limits_seconds_left(enum limits_period p, time_t t);
/* FNV-1a 64 of "principal\x1fmodel\x1fkey_id" (NULL as ""); never 0. */
uint64_t limits_subject_hash(const char *principal, const char *model, const char *key_id);

/* ---- Set-up ---- */

/*
 * Master, before shm_map: sizes and declares the limits' shm area from conf
 * (limits.max_subjects); remembers conf's caps.  SG_OK also when limits are
 * off (nothing is declared then).
 */
sg_status limits_declare(const struct sg_conf *conf) SG_MUST_CHECK;
/*
 * Worker, after fork, before its accept threads: takes the default cap and
 * the reserve from conf and starts the sync thread (not when limits are off
 * or shm is not mapped; idempotent).
 */
void limits_start(const struct sg_conf *conf);
/* Worker, before exit: stops the sync thread. */
void limits_stop(void);

/* ---- Request path ---- */

/*
 * Admits r (an inference request whose model, the registry id, is model) or
 * records the 429 (http_fail: the limit named, Retry-After and OpenAI's type
 * and code) and returns SG_E_RATE_LIMIT_EXCEEDED, SG_E_RATE_LIMIT_TOKENS or
 * SG_E_INSUFFICIENT_QUOTA.  Either way adds the x-ratelimit-* headers of the
 * tightest rpm and tpm limit that apply.  SG_OK without counting when limits
 * are off or shm is not mapped.  SG_E_NOMEM when a header cannot be added.
 */
sg_status limits_admit(struct request *r, const char *model) SG_MUST_CHECK;
/*
 * Request end (worker_handle, every request): releases what limits_admit
 * took on this thread and charges r->inference.total_tokens to each of the
 * request's subjects.  Nothing when this thread admitted nothing.
 */
void limits_finish(struct request *r);

/* 429s since start by reason, summed over the host. */
uint64_t limits_rejected_total(enum limits_reason reason);

/* ---- Sync (limits_sync.c) ---- */

/*
 * Stores rules as the limits in force (the subjects of rows that are gone
 * lose their values).  What one sync does first; exposed for tests.
 */
void limits_apply_rules(const struct limits_rule *rules, size_t n);
/* One sync now on a pooled connection (the lease aside): SG_OK or SG_E_UNAVAILABLE (logged). */
sg_status limits_sync_once(void) SG_MUST_CHECK;
/* Frees a rule's strings. */
void limits_rule_free(struct limits_rule *rule);

/* ---- CLI (limits_cli.c): `stackgate limit set|clear|list …`; the exit status. ---- */
int limits_cli(const char *conninfo, int argc, char **argv);

#endif
