/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usage.h: one row of usage_log (sql/006_usage.sql) per inference request,
 * written off the request path, and the reads of it (the usage_daily view)
 * that the CLI and GET /v1/stackgate/usage share.
 *
 * Writing.  Each worker process has one bounded queue of rows
 * (usage.queue_size) and one writer thread with a PostgreSQL connection of
 * its own (not the pool's: a slow insert never holds a request's
 * connection).  usage_record(), at the end of a request, copies the
 * request's record (r->inference, http.h) into a slot of the queue, taken
 * without a lock (usage.c): a request never waits on PostgreSQL.
 * When the queue is full the row is dropped and counted
 * (usage_rows_dropped_total).  The writer keeps one COPY FROM STDIN open
 * (COPY's binary format, usage_copy_data(): PostgreSQL parses no statement
 * and no column text per row, and COPY works through a transaction-mode
 * pool) and sends it the rows queued since every USAGE_PIECE_MS, so that
 * PostgreSQL takes them in small steady pieces, not in bursts that hold a
 * core for milliseconds; it ends the COPY (its commit) at
 * usage_batch_size() rows or usage.flush_interval_ms (default 1000) after
 * it began, whichever comes first.  A row leaves the queue only once its
 * COPY is committed, so while PostgreSQL is down rows wait, up to the
 * bound.  When PostgreSQL refuses a COPY for what a row holds (SQLSTATE
 * class 22 or 23), its rows are tried again in halves, a half refused
 * again split in turn, and only the single rows refused are dropped
 * (counted, logged with the COPYs it took).  The writer keeps the day
 * partitions (usage_maintain(): on connecting and hourly, and before
 * copying again rows whose day has no partition).  usage_stop() (a
 * graceful worker stop) flushes the queue, trying for at most
 * USAGE_STOP_WAIT_S seconds, then counts what is left as dropped.  A worker
 * that is killed loses its queue.
 *
 * Locks: none on the request path; the queue's mutex and condition
 * variable are only the writer's sleep.  The rows being written stay in the
 * queue's slots, which producers never touch until the writer has moved the
 * head past them.
 *
 * Counting is host-wide: the "usage" area of shm.h, one counter per worker
 * slot, folded into the host area when the master reaps a worker.
 */
#ifndef SG_USAGE_H
#define SG_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "conf.h"
#include "http.h"
#include "sg.h"

/* Rows per COPY: USAGE_BATCH_MAX, or a quarter of a smaller queue (usage_batch_size). */
#define USAGE_BATCH_MAX 2000
#define USAGE_STOP_WAIT_S 5
/* How often the writer sends the rows queued since to its open COPY (at most the flush interval). */
#define USAGE_PIECE_MS 10

/* One usage_log row, self-contained (fixed-size text: a copy is a memcpy). */
struct usage_row {
	int64_t ts_us; /* the request's start, µs since the epoch */
	char request_id[64];
	char principal[512]; /* "" for anonymous (NULL in the table) */
	char key_id[72];     /* "" for none */
	char model[256];
	char provider_id[128];
	char route[128];
	const char *kind; /* static */
	int status;
	bool streamed, estimated;
	int64_t prompt_tokens, completion_tokens, total_tokens;
	int64_t latency_us;
	int64_t ttft_us;     /* 0: none (NULL) */
	int64_t upstream_us; /* meaningful when upstream_called */
	bool upstream_called;
	int upstream_status; /* 0: none (NULL) */
	bool priced;
	double cost;
	int attempts;             /* upstream attempts (router.h); 0 when none was made */
	char served_model[256];   /* the model that served (a fallback or model); "" when none (NULL) */
	char provider_model[256]; /* the upstream's name of the deployment that served; "" when none (NULL) */
};

/* Declares the "usage" shm area (master, before shm_map). */
sg_status usage_declare(const struct sg_conf *conf) SG_MUST_CHECK;

/* Starts this worker's writer (after fork, after db_init).  SG_OK also when usage.enabled is false. */
sg_status usage_start(const struct sg_conf *conf) SG_MUST_CHECK;

/* Flushes (at most USAGE_STOP_WAIT_S s), stops and frees the writer.  Idempotent. */
void usage_stop(void);

/* At the end of a request: queues its row when r->inference.active.  Never blocks on I/O. */
void usage_record(const struct request *r);

/*
 * The rows one COPY takes for a queue of queue_size rows: USAGE_BATCH_MAX
 * (PostgreSQL's cost per row falls with the batch: a statement, its trigger
 * and a commit per batch), or a quarter of a smaller queue, so that while a
 * batch is being written the requests have three batches of room.
 */
size_t usage_batch_size(size_t queue_size);

/* Rows dropped on this host since start (queue full, or left at stop), summed over every worker. */
uint64_t usage_rows_dropped_total(void);

/* ---- pure parts (tests) ---- */

/*
 * The row of a finished request: its record, identity, route, final status,
 * latency up to now_us (sg_now_us(), monotonic), its start in wall-clock
 * time (wall_us, sg_wall_us(), is the same instant as now_us), and the
 * cost when the record has prices.  Text longer than a field is cut (on a
 * UTF-8 character boundary).
 */
void usage_row_from(const struct request *r, int64_t now_us, int64_t wall_us, struct usage_row *row);

/*
 * A model's prices per million tokens: metadata.input_cost_per_mtok and
 * output_cost_per_mtok of the registry object model, else the same keys of
 * the entry of conf_models (the config's "models" array) whose model_id is
 * name.  Each key on its own; a price is a JSON number (or a string holding
 * one) of 0 or more.  False when neither key gives one (then both are 0).
 */
bool usage_prices(const json_t *model, const json_t *conf_models, const char *name, double *in, double *out);

/* Formats us (µs since the epoch) as "YYYY-MM-DD HH:MM:SS.ffffff+00" into buf (≥ 32 bytes). */
void usage_format_ts(int64_t us, char *buf, size_t len);

/*
 * Appends rows[0..n) to b as the whole data of one COPY usage_log FROM STDIN
 * WITH (FORMAT binary): the header, each row's 21 columns in the table's
 * order (text as it is, "" as NULL where the column is nullable, integers,
 * booleans and float8 in network order, ts as µs since 2000-01-01, cost as
 * a numeric via usage_numeric()), the trailer.  False when b cannot grow.
 */
bool usage_copy_data(struct sg_buf *b, const struct usage_row *rows, size_t n) SG_MUST_CHECK;

/*
 * Appends v as one field of COPY's binary format holding a numeric (length,
 * ndigits, weight, sign, dscale, base-10000 digits), rounded to 12 decimal
 * places; NULL when v is not finite.  False when b cannot grow.
 */
bool usage_numeric(struct sg_buf *b, double v) SG_MUST_CHECK;

/*
 * The filters of a usage query, as given (borrowed, NULL: none).  since is
 * a UTC day "YYYY-MM-DD".
 */
struct usage_filter {
	const char *principal;
	const char *model;
	const char *since;
};

/*
 * Checks a filter: since must be a real calendar date written YYYY-MM-DD,
 * principal and model 1..512 bytes.  SG_OK, or SG_E_BAD_REQUEST with the
 * offending parameter and a client-safe message in err.
 */
sg_status usage_filter_check(const struct usage_filter *f, struct sg_err *err) SG_MUST_CHECK;

/*
 * Runs the usage_daily query with f (checked) on conn: a new JSON array of
 * {day, principal, model, requests, prompt_tokens, completion_tokens,
 * total_tokens, cost} ordered by day, principal, model, in *out.
 * SG_E_UNAVAILABLE (logged) when PostgreSQL fails.
 */
sg_status usage_query(PGconn *conn, const struct usage_filter *f, json_t **out) SG_MUST_CHECK;

/* GET /v1/stackgate/usage?principal=&model=&since=: admins everyone's rows, others their own. */
sg_status usage_http_get(struct request *r);

/* `stackgate usage [--principal P] [--model M] [--since DATE] [--json]`; the exit status. */
int usage_cli(const char *conninfo, int argc, char **argv);

#endif
