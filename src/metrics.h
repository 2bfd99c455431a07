/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h: the host's counters, gauges and histograms, for GET /metrics in
 * the Prometheus text format (metrics_expo.c renders them).
 *
 * Storage: one area of the host's shared mapping (shm.h), declared by the
 * master before fork (metrics_declare) and sized then from the config and the
 * route table, so it never grows.  Every word is a uint64_t written with
 * relaxed atomics (no lock anywhere):
 *   worker part  per worker slot: the gauges (threads, open streams,
 *                in-flight requests per route) and the counters;
 *   host part    the counters of dead workers (a retire hook folds a reaped
 *                worker's counters into it, so no counter goes down while the
 *                master lives; its gauges are dropped with the slot), the
 *                worker restarts the master counts, and the model label table.
 * A reader sums the host part and every taken slot between shm_read_begin and
 * shm_read_retry (metrics_snapshot).
 *
 * Labels are bounded when the area is declared: routes are the route table's
 * patterns (plus "unmatched", by method); statuses are the codes of
 * metrics_status_index or their class ("4xx"); models are at most
 * metrics.max_models (provider, model) pairs, claimed first come first
 * served in a lock-free table in the host part, and every later pair is
 * counted as provider="other", model="other".
 *
 * With metrics.enabled false nothing is declared, every recording call
 * returns at once and /metrics answers 404.
 */
#ifndef SG_METRICS_H
#define SG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sg.h"

struct request;
struct sg_conf;

/* Histogram upper bounds in seconds (the +Inf bucket comes after them). */
#define METRICS_NBOUNDS 17
extern const double metrics_bounds[METRICS_NBOUNDS];

/*
 * Master, before shm_map: declares the metrics area for conf (max_models,
 * enabled) and the route table.  SG_OK also when metrics are disabled (then
 * nothing is declared).  Calling it again after shm_reset (tests) starts over.
 */
sg_status metrics_declare(const struct sg_conf *conf) SG_MUST_CHECK;
/* Whether metrics_declare declared the area and the mapping exists. */
bool metrics_on(void);

/* Worker: its thread count (a gauge of its slot: stackgate_threads). */
void metrics_worker_threads(int threads);
/* Master: a worker of the current generation exited and will be replaced. */
void metrics_worker_restarted(void);

/* After route matching (r->route set): counts r in flight on its route. */
void metrics_enter(struct request *r);
/* A server-sent event stream began on r (http.c, when its headers go out). */
void metrics_stream_open(struct request *r);
/*
 * At the end of r, after its answer: counts it by route, method and status,
 * its duration, and from r->inference its upstream duration, time to first
 * token, tokens and upstream error; ends what metrics_enter and
 * metrics_stream_open counted.
 */
void metrics_record(struct request *r);

/* Registry cache lookups: hit when the cache answered, miss when PostgreSQL had to. */
void metrics_cache_lookup(bool hit);
/* A PostgreSQL call that failed (no connection, or a failed result other than a client error). */
void metrics_db_error(void);

/*
 * The Server-Timing value for r's answer, written now ("gateway;dur=1.234,
 * upstream;dur=56.789", milliseconds), into buf; false when r made no
 * upstream call (r->inference.upstream_start_us is 0).  Before the upstream
 * finished (a stream's headers) its part runs to now.
 */
bool metrics_server_timing(const struct request *r, char *buf, size_t len);

/* Index of an HTTP status in the status dimension (exact code or its class). */
size_t metrics_status_index(int status);
/* Index of a histogram bucket for a duration in microseconds (METRICS_NBOUNDS: +Inf). */
size_t metrics_bucket(int64_t us);

/*
 * The host-wide sums, read now; NULL when metrics are off or out of memory.
 * Freed with metrics_snapshot_free.
 */
struct metrics_snapshot;
struct metrics_snapshot *metrics_snapshot_new(void);
void metrics_snapshot_free(struct metrics_snapshot *s);

/*
 * Appends the Prometheus text exposition (version 0.0.4) of s to out: a HELP
 * and a TYPE line per family, then its samples.  registry_objects[t] (may be
 * NULL) are the registry object counts by type.  False when out of memory.
 */
bool metrics_render(const struct metrics_snapshot *s, const size_t *registry_objects, struct sg_buf *out) SG_MUST_CHECK;

/*
 * The host-wide totals the operator page shows (GET /v1/stackgate/status):
 * requests answered since the master started, by class (4xx: client_errors,
 * 5xx: server_errors), those in flight, open streams, the workers serving
 * now (slots whose threads gauge is set) and their threads, worker
 * restarts.  A reader gets rates from two readings.  False when metrics are
 * off or out of memory (then *out is zeroed).
 */
struct metrics_summary {
	uint64_t requests, client_errors, server_errors, in_flight, open_streams;
	uint64_t workers, threads, restarts;
};
bool metrics_summary_read(struct metrics_summary *out) SG_MUST_CHECK;

/* GET /metrics (route table): the exposition, or 404 when metrics are disabled. */
sg_status metrics_handler(struct request *r) SG_MUST_CHECK;

#endif
