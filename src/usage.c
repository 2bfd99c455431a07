/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usage.c: the usage_log writer of one worker process (usage.h): the
 * bounded queue that usage_record() fills, the writer thread that empties it
 * into PostgreSQL through a COPY kept open and fed in pieces, and the
 * host-wide count of dropped rows.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "shm.h"
#include "usage.h"

/* ---------------------------------------------------------------- counting */

struct usage_counts {
	uint64_t dropped;
};

static void
retire_counts(void *worker, void *host)
{
	struct usage_counts *w = worker, *h = host;

	shm_atomic_add(&h->dropped, shm_load(&w->dropped));
}

static struct shm_area area = {.name = "usage",
			       .host_bytes = sizeof(struct usage_counts),
			       .worker_bytes = sizeof(struct usage_counts),
			       .retire = retire_counts};

sg_status
usage_declare(const struct sg_conf *conf)
{
	(void) conf;
	return shm_declare(&area);
}

static void
count_dropped(uint64_t n)
{
	struct usage_counts *w = shm_worker(&area);

	if (w != NULL && n > 0)
		shm_atomic_add(&w->dropped, n);
}

uint64_t
usage_rows_dropped_total(void)
{
	const struct usage_counts *h = shm_host(&area);
	uint64_t sum, begun;

	if (h == NULL)
		return 0;
	do {
		begun = shm_read_begin();
		sum = shm_load(&h->dropped);
		for (int s = 0; s < SHM_SLOTS; s++) {
			const struct usage_counts *w = shm_worker_at(&area, s);

			if (w != NULL)
				sum += shm_load(&w->dropped);
		}
	} while (shm_read_retry(begun));
	return sum;
}

/* ------------------------------------------------------------- pure parts */

/* Copies src into dst[len] whole or cut at a character boundary. */
static void
copy_text(char *dst, size_t len, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = sg_utf8_prefix(src, len - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
usage_row_from(const struct request *r, int64_t now_us, int64_t wall_us, struct usage_row *row)
{
	const struct request_inference *in = &r->inference;

	/* Every field is set below (no memset of the row's 1.8 KiB: text is copied up to its NUL). */
	row->ts_us = wall_us - (now_us - r->start_us);
	copy_text(row->request_id, sizeof(row->request_id), r->request_id);
	copy_text(row->principal, sizeof(row->principal), r->id.principal);
	copy_text(row->key_id, sizeof(row->key_id), r->id.key_id);
	copy_text(row->model, sizeof(row->model), in->model);
	copy_text(row->provider_id, sizeof(row->provider_id), in->provider_id);
	copy_text(row->route, sizeof(row->route), r->path);
	row->kind = in->kind;
	row->status = r->final_status;
	row->streamed = in->streamed;
	row->estimated = !in->usage_reported;
	row->prompt_tokens = in->prompt_tokens;
	row->completion_tokens = in->completion_tokens;
	row->total_tokens = in->total_tokens;
	row->latency_us = now_us - r->start_us;
	row->ttft_us = in->ttft_us;
	row->upstream_called = in->upstream_start_us != 0;
	row->upstream_us = in->upstream_us;
	row->upstream_status = in->upstream_status;
	row->priced = in->priced;
	row->attempts = in->attempts;
	copy_text(row->served_model, sizeof(row->served_model), in->served_model);
	copy_text(row->provider_model, sizeof(row->provider_model), in->provider_model);
	row->cost = in->priced ? ((double) in->prompt_tokens * in->input_cost_per_mtok +
				  (double) in->completion_tokens * in->output_cost_per_mtok) /
					 1e6
			       : 0;
}

/* A price: a number (or a string holding one) of 0 or more. */
static bool
price_of(const json_t *v, double *out)
{
	double d;

	if (v == NULL || json_is_null(v) || !conf_value_number(v, &d) || d < 0)
		return false;
	*out = d;
	return true;
}

bool
usage_prices(const json_t *model, const json_t *conf_models, const char *name, double *in, double *out)
{
	const json_t *md = json_object_get(model, "metadata"), *entry = NULL, *e;
	bool have_in, have_out;
	size_t i;

	*in = *out = 0;
	json_array_foreach(conf_models, i, e) {
		const char *id = json_string_value(json_object_get(e, "model_id"));

		if (id != NULL && name != NULL && strcmp(id, name) == 0) {
			entry = e;
			break;
		}
	}
	have_in = price_of(json_object_get(md, "input_cost_per_mtok"), in) ||
		  price_of(json_object_get(entry, "input_cost_per_mtok"), in);
	have_out = price_of(json_object_get(md, "output_cost_per_mtok"), out) ||
		   price_of(json_object_get(entry, "output_cost_per_mtok"), out);
	return have_in || have_out;
}

void
usage_format_ts(int64_t us, char *buf, size_t len)
{
	time_t s = (time_t) (us / 1000000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%06lld+00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (long long) (us % 1000000));
}

/* ------------------------------------------------------------------ queue */

#define DROP_LOG_US (10 * (int64_t) 1000000)

/*
 * A bounded queue without a lock on the request path (a sequence number per
 * slot, after D. Vyukov's bounded queue): a request thread claims position
 * pos by compare-and-swap on tail, fills slot pos % cap in place and
 * publishes it by setting seq[slot] to pos + 1; the one writer takes the
 * published slots from head on, contiguous in rows[], and frees each for the
 * next lap by setting seq to pos + cap.  A slot whose seq is behind pos is
 * still the writer's: the queue is full and the row is dropped (counted).
 * The mutex and condition variable are the writer's sleep only: the thread
 * whose row is the first in an empty queue signals without the mutex (an
 * idle writer sleeps up to the flush interval), and a signal lost to that
 * race costs at most one flush interval.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the writer: a first row after idle, or stop */
	struct usage_row *rows;
	uint64_t *seq;
	size_t cap;
	uint64_t tail;          /* the next position to claim (atomic) */
	uint64_t head;          /* the next position to write out (atomic: the writer stores, requests read) */
	bool running, stopping; /* running: atomic; stopping: under mu */
	int64_t drop_logged_us; /* when a full queue was last logged (atomic) */
	size_t batch;           /* rows per COPY (usage_batch_size) */
	pthread_t thread;
	const struct sg_conf *conf;
} q = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

/* q.wake on the monotonic clock, made once (never destroyed: a late request may still signal it). */
static void
wake_init(void)
{
	sg_cond_init_monotonic(&q.wake);
}

/*
 * Claims a slot: its position in *pos, or false when the queue is full.  The
 * queue holds two slots at least (conf.c): with one, a published slot's
 * sequence (pos + 1) would read as free for the next position.
 */
static bool
claim(uint64_t *pos)
{
	uint64_t p = __atomic_load_n(&q.tail, __ATOMIC_RELAXED);

	for (;;) {
		uint64_t s = __atomic_load_n(&q.seq[p % q.cap], __ATOMIC_ACQUIRE);

		if (s == p) {
			if (__atomic_compare_exchange_n(&q.tail, &p, p + 1, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				*pos = p;
				return true;
			}
		} else if (s < p) {
			return false; /* the slot of the last lap is not written out yet */
		} else {
			p = __atomic_load_n(&q.tail, __ATOMIC_RELAXED);
		}
	}
}

void
usage_record(const struct request *r)
{
	uint64_t pos;
	int64_t now, last;

	if (!r->inference.active || !__atomic_load_n(&q.running, __ATOMIC_ACQUIRE))
		return;
	now = sg_now_us();
	if (claim(&pos)) {
		usage_row_from(r, now, sg_wall_us(), &q.rows[pos % q.cap]);
		__atomic_store_n(&q.seq[pos % q.cap], pos + 1, __ATOMIC_RELEASE);
		if (pos == __atomic_load_n(&q.head, __ATOMIC_RELAXED))
			pthread_cond_signal(&q.wake); /* the first row in an empty queue: the writer may be idle */
		return;
	}
	count_dropped(1);
	/* Once per DROP_LOG_US while it lasts, not once per row. */
	last = __atomic_load_n(&q.drop_logged_us, __ATOMIC_RELAXED);
	if (now - last > DROP_LOG_US &&
	    __atomic_compare_exchange_n(&q.drop_logged_us, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		log_warn("usage: the queue is full (%zu rows, PostgreSQL is not taking them): rows are dropped", q.cap);
}

size_t
usage_batch_size(size_t queue_size)
{
	size_t quarter = queue_size / 4;

	return quarter >= USAGE_BATCH_MAX ? USAGE_BATCH_MAX : quarter > 0 ? quarter : 1;
}

/* The writer: how many rows from head on are published (at most max, not past the end of rows[]). */
static size_t
ready_rows(uint64_t head, size_t max)
{
	size_t n = 0, first = (size_t) (head % q.cap);

	while (n < max && first + n < q.cap && __atomic_load_n(&q.seq[first + n], __ATOMIC_ACQUIRE) == head + n + 1)
		n++;
	return n;
}

/* The writer: frees the n slots from head on for the next lap, and moves head past them. */
static void
release_rows(uint64_t head, size_t n)
{
	for (size_t i = 0; i < n; i++)
		__atomic_store_n(&q.seq[(head + i) % q.cap], head + i + q.cap, __ATOMIC_RELEASE);
	__atomic_store_n(&q.head, head + n, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------------- writer */

static const char copy_sql[] =
	"COPY usage_log (ts, request_id, principal, key_id, model, provider_id, route, status, streamed,"
	" prompt_tokens, completion_tokens, total_tokens, estimated, latency_ms, ttft_ms, upstream_ms,"
	" upstream_status, cost, attempts, served_model, provider_model_id) FROM STDIN WITH (FORMAT binary)";

#ifdef SG_TEST_KNOBS
/*
 * Test builds only (configure --enable-test-knobs): STACKGATE_TEST_USAGE_PIECE_FAILS=N
 * makes every second piece of the writer's first 2N fail to build halfway, as
 * when out of memory; STACKGATE_TEST_USAGE_PIECE_SEND_FAILS=N makes them fail
 * to go out, the connection up, as when libpq cannot take them: either way a
 * COPY is given up after a piece of it was sent.
 */
static int piece_fails, pieces_built;
static bool piece_send_fails;
#endif

struct writer {
	PGconn *conn;
	int64_t maintained_us; /* when usage_maintain() last succeeded; 0: not on this connection */
	bool down_logged;      /* the outage has been logged once */
	struct sg_buf data;    /* the COPY data of a piece (copy_send) */
	size_t sent;           /* rows of the open COPY sent so far, from head on; 0: no COPY open */
	int64_t opened_us;     /* when the open COPY began */
};

/* ------------------------------------------------- COPY's binary format */

static bool
put_be(struct sg_buf *b, uint64_t v, size_t n)
{
	unsigned char o[8];

	for (size_t i = 0; i < n; i++)
		o[i] = (unsigned char) (v >> (8 * (n - 1 - i)));
	return sg_buf_append(b, o, n);
}

static bool
put_null(struct sg_buf *b)
{
	return put_be(b, UINT32_MAX, 4); /* -1 */
}

/* PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in µs since the Unix epoch. */
#define PG_EPOCH_US 946684800000000LL

bool
usage_numeric(struct sg_buf *b, double v)
{
	char txt[400];
	uint16_t d[104];
	int n = snprintf(txt, sizeof(txt), "%.12f", v < 0 ? -v : v), nd = 0, weight, ig, fg, ilen, flen, first = 0;
	const char *ip = txt, *fp;

	if (!isfinite(v) || n <= 0 || (size_t) n >= sizeof(txt) || strchr(txt, '.') == NULL)
		return put_null(b); /* not a number PostgreSQL's numeric could hold as a cost */
	fp = strchr(txt, '.') + 1;
	ilen = (int) (fp - 1 - txt);
	flen = (int) strlen(fp);
	while (flen > 0 && fp[flen - 1] == '0')
		flen--;
	while (ilen > 0 && *ip == '0')
		ip++, ilen--;
	ig = (ilen + 3) / 4;
	fg = (flen + 3) / 4;
	if (ig + fg > (int) SG_ARRAY_LEN(d))
		return false;
	/* Base-10000 digits: the integer part's groups aligned on the point, then the fraction's. */
	for (int g = 0, pos = ilen - 4 * ig; g < ig; g++, pos += 4) {
		unsigned v4 = 0;

		for (int k = pos; k < pos + 4; k++)
			v4 = v4 * 10 + (k >= 0 ? (unsigned) (ip[k] - '0') : 0);
		d[nd++] = (uint16_t) v4;
	}
	for (int g = 0; g < fg; g++) {
		unsigned v4 = 0;

		for (int k = 4 * g; k < 4 * g + 4; k++)
			v4 = v4 * 10 + (k < flen ? (unsigned) (fp[k] - '0') : 0);
		d[nd++] = (uint16_t) v4;
	}
	weight = ig - 1;
	while (first < nd && d[first] == 0)
		first++, weight--;
	while (nd > first && d[nd - 1] == 0)
		nd--;
	if (first == nd)
		first = nd = weight = 0;
	if (!put_be(b, (uint32_t) (8 + 2 * (nd - first)), 4) || !put_be(b, (uint16_t) (nd - first), 2) ||
	    !put_be(b, (uint16_t) (int16_t) weight, 2) || !put_be(b, v < 0 && nd > first ? 0x4000 : 0, 2) ||
	    !put_be(b, (uint16_t) flen, 2))
		return false;
	for (int i = first; i < nd; i++)
		if (!put_be(b, d[i], 2))
			return false;
	return true;
}

#define USAGE_COLUMNS 21

/*
 * A row is written through a cursor into room reserved once for the whole
 * row (appending field by field, a reservation and a memcpy each, cost some
 * 3k instructions per row); usage_numeric() appends (put_be) within it.
 */
static unsigned char *
w_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char) (v >> (8 * (n - 1 - i)));
	return p + n;
}

static unsigned char *
w_int(unsigned char *p, int64_t v, size_t n)
{
	return w_be(w_be(p, (uint32_t) n, 4), (uint64_t) v, n);
}

static unsigned char *
w_null(unsigned char *p)
{
	return w_be(p, UINT32_MAX, 4);
}

static unsigned char *
w_text(unsigned char *p, const char *s, size_t n, bool empty_is_null)
{
	if (empty_is_null && n == 0)
		return w_null(p);
	p = w_be(p, (uint32_t) n, 4);
	memcpy(p, s, n);
	return p + n;
}

static unsigned char *
w_bool(unsigned char *p, bool v)
{
	p = w_be(p, 1, 4);
	*p = v ? 1 : 0;
	return p + 1;
}

static unsigned char *
w_float8(unsigned char *p, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return w_int(p, (int64_t) bits, 8);
}

/* The bytes of a row but its text and its cost: the column count, 21 lengths, 70 of values. */
#define ROW_FIXED (2 + USAGE_COLUMNS * 4 + 70)
/* usage_numeric's most: length, four 2-byte words, 104 base-10000 digits. */
#define NUMERIC_MAX (4 + 8 + 2 * 104)

static bool
copy_row(struct sg_buf *b, const struct usage_row *row)
{
	const char *t[8] = {row->request_id,  row->principal, row->key_id,       row->model,
			    row->provider_id, row->route,     row->served_model, row->provider_model};
	size_t tl[8], need = ROW_FIXED + NUMERIC_MAX;
	unsigned char *p;

	for (int i = 0; i < 8; i++)
		need += tl[i] = strlen(t[i]);
	if (!sg_buf_reserve(b, need))
		return false;
	p = (unsigned char *) b->p + b->len;
	p = w_be(p, USAGE_COLUMNS, 2);
	p = w_int(p, row->ts_us - PG_EPOCH_US, 8);
	p = w_text(p, t[0], tl[0], false);
	p = w_text(p, t[1], tl[1], true);
	p = w_text(p, t[2], tl[2], true);
	p = w_text(p, t[3], tl[3], false);
	p = w_text(p, t[4], tl[4], true);
	p = w_text(p, t[5], tl[5], false);
	p = w_int(p, row->status, 4);
	p = w_bool(p, row->streamed);
	p = w_int(p, row->prompt_tokens, 8);
	p = w_int(p, row->completion_tokens, 8);
	p = w_int(p, row->total_tokens, 8);
	p = w_bool(p, row->estimated);
	p = w_float8(p, (double) row->latency_us / 1000.0);
	p = row->ttft_us > 0 ? w_float8(p, (double) row->ttft_us / 1000.0) : w_null(p);
	p = row->upstream_called ? w_float8(p, (double) row->upstream_us / 1000.0) : w_null(p);
	p = row->upstream_status > 0 ? w_int(p, row->upstream_status, 4) : w_null(p);
	if (row->priced) {
		/* Within the room reserved above: no reallocation moves p's buffer. */
		b->len = (size_t) ((char *) p - b->p);
		if (!usage_numeric(b, row->cost))
			return false;
		p = (unsigned char *) b->p + b->len;
	} else {
		p = w_null(p);
	}
	p = w_int(p, row->attempts, 4);
	p = w_text(p, t[6], tl[6], true);
	p = w_text(p, t[7], tl[7], true);
	b->len = (size_t) ((char *) p - b->p);
	b->p[b->len] = '\0';
	return true;
}

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

bool
usage_copy_data(struct sg_buf *b, const struct usage_row *rows, size_t n)
{
	if (!sg_buf_append(b, copy_header, sizeof(copy_header)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!copy_row(b, &rows[i]))
			return false;
	return put_be(b, UINT16_MAX, 2); /* the trailer: -1 */
}

static void
writer_disconnect(struct writer *w)
{
	if (w->conn != NULL)
		PQfinish(w->conn); /* an open COPY ends with it, written by no one */
	w->conn = NULL;
	w->maintained_us = 0;
	w->sent = 0;
}

/* Creates the partitions ahead and drops the expired ones; false when PostgreSQL failed. */
static bool
writer_maintain(struct writer *w)
{
	char days[16];
	const char *p[1] = {days};
	PGresult *res;
	bool ok;

	snprintf(days, sizeof(days), "%d", q.conf->usage_retention_days);
	res = PQexecParams(w->conn, "SELECT usage_maintain($1::int, 7)", 1, NULL, p, NULL, NULL, 0);
	ok = db_result_status(w->conn, res) == SG_OK;
	if (ok) {
		w->maintained_us = sg_now_us();
		if (atoi(PQgetvalue(res, 0, 0)) > 0)
			log_info("usage: dropped %s day partitions past the retention of %s days",
				 PQgetvalue(res, 0, 0), days);
	}
	PQclear(res);
	return ok;
}

/* A connection with the partitions kept; false (logged once per outage) when PostgreSQL is unreachable. */
static bool
writer_ready(struct writer *w)
{
	struct sg_err err = {0};

	if (w->conn != NULL && db_conn_broken(w->conn))
		writer_disconnect(w);
	if (w->conn == NULL) {
		w->conn = db_connect(q.conf->conninfo, &err);
		if (w->conn == NULL) {
			if (!w->down_logged)
				log_warn("usage: cannot reach PostgreSQL (%s): rows wait in the queue", err.detail);
			w->down_logged = true;
			return false;
		}
	}
	if (w->maintained_us == 0 || sg_now_us() - w->maintained_us > 3600 * (int64_t) 1000000) {
		if (!writer_maintain(w)) {
			writer_disconnect(w);
			return false;
		}
	}
	if (w->down_logged)
		log_info("usage: PostgreSQL is back: writing the queued rows");
	w->down_logged = false;
	return true;
}

/* Starts a COPY and sends its header: SG_OK, or PostgreSQL's refusal (db_result_status logs it). */
static sg_status
copy_begin(struct writer *w)
{
	PGresult *res = PQexec(w->conn, copy_sql);
	sg_status st;

	if (res != NULL && PQresultStatus(res) == PGRES_COPY_IN)
		st = PQputCopyData(w->conn, copy_header, (int) sizeof(copy_header)) == 1 ? SG_OK : SG_E_UNAVAILABLE;
	else if ((st = db_result_status(w->conn, res)) == SG_OK)
		st = SG_E_INTERNAL; /* a COPY that is not one */
	PQclear(res);
	return st;
}

/*
 * Sends the n queued rows from position from to the open COPY, whole to
 * the socket: SG_OK; SG_E_NOMEM when their COPY data could not be built
 * (none of it was sent: copy_abandon); SG_E_UNAVAILABLE when they could not
 * go (the connection failed, or PostgreSQL ended the COPY with an error
 * that copy_end() reads).
 */
static sg_status
copy_send(struct writer *w, uint64_t from, size_t n)
{
#ifdef SG_TEST_KNOBS
	bool fail = piece_fails > 0 && ++pieces_built % 2 == 0;

	piece_fails -= fail;
#endif
	w->data.len = 0;
	for (size_t i = 0; i < n; i++) {
#ifdef SG_TEST_KNOBS
		if (fail && !piece_send_fails && i == n / 2)
			return SG_E_NOMEM;
#endif
		if (!copy_row(&w->data, &q.rows[(from + i) % q.cap]))
			return SG_E_NOMEM;
	}
#ifdef SG_TEST_KNOBS
	if (fail && piece_send_fails)
		return SG_E_UNAVAILABLE;
#endif
	if (PQputCopyData(w->conn, w->data.p, (int) w->data.len) != 1 || PQflush(w->conn) != 0)
		return SG_E_UNAVAILABLE;
	return SG_OK;
}

/*
 * Gives the open COPY up when its next piece of n rows could not be built
 * (why SG_E_NOMEM) or sent: PostgreSQL rolls it back, so none of its rows is
 * written and all of them stay in the queue, for the next COPY.  Committing
 * it instead would release rows of a piece that never went out.
 */
static void
copy_abandon(struct writer *w, size_t n, sg_status why)
{
	const char *pq = PQerrorMessage(w->conn);

	if (why == SG_E_NOMEM)
		log_warn(
			"usage: could not build the COPY data of %zu rows (out of memory): the COPY is given up, "
			"its %zu rows wait",
			n, w->sent + n);
	else
		log_warn(
			"usage: could not send the COPY data of %zu rows (%.*s): the COPY is given up, its %zu "
			"rows wait",
			n, (int) strcspn(pq[0] ? pq : "libpq refused it", "\n"), pq[0] ? pq : "libpq refused it",
			w->sent + n);
	if (PQputCopyEnd(w->conn, "stackgate: the COPY data could not be built or sent") == 1)
		for (PGresult *res; (res = PQgetResult(w->conn)) != NULL;)
			PQclear(res);
	w->sent = 0;
	if (db_conn_broken(w->conn))
		writer_disconnect(w);
}

/*
 * Ends the open COPY, however far it got: its result (the caller clears
 * it; NULL when the connection failed) and its SQLSTATE in state[6].
 */
static PGresult *
copy_end(struct writer *w, char *state)
{
	static const unsigned char trailer[2] = {0xff, 0xff}; /* -1 */
	PGresult *res;
	const char *s;

	/* Either fails when PostgreSQL already ended the COPY: its error is the result read below. */
	if (PQputCopyData(w->conn, (const char *) trailer, 2) == 1)
		(void) PQputCopyEnd(w->conn, NULL);
	res = PQgetResult(w->conn);
	if (res != NULL && PQresultStatus(res) == PGRES_COPY_IN) {
		/* The end could not go out (libpq out of memory): the COPY is still open; dropping the connection ends it. */
		PQclear(res);
		writer_disconnect(w);
		state[0] = '\0';
		return NULL;
	}
	/* Drain: a COPY ends with its result, then NULL. */
	for (PGresult *more; res != NULL && (more = PQgetResult(w->conn)) != NULL;)
		PQclear(more);
	s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(state, 6, "%s", s != NULL ? s : "");
	return res;
}

/* The n queued rows from position from in one COPY of their own: its status, its SQLSTATE in state[6]. */
static sg_status
copy_rows(struct writer *w, uint64_t from, size_t n, char *state)
{
	PGresult *res;
	sg_status st;

	state[0] = '\0';
	if ((st = copy_begin(w)) != SG_OK)
		return st;
	if ((st = copy_send(w, from, n)) != SG_OK) {
		copy_abandon(w, n, st); /* ended, the COPY would commit without them */
		return st;
	}
	res = copy_end(w, state); /* where the rows could not go, the failure is its result */
	st = db_result_status(w->conn, res);
	PQclear(res);
	return st;
}

/* Refused for what the rows hold (data, constraint): retrying them as they are cannot succeed. */
static bool
refused(sg_status st)
{
	return st == SG_E_BAD_REQUEST || st == SG_E_CONFLICT;
}

/* The writer: the rows [*head, *head + n) are written (or dropped): their slots go back to the requests. */
static void
done_rows(uint64_t *head, size_t n)
{
	release_rows(*head, n);
	*head += n;
}

/* What a bisection of refused rows found: rows dropped, COPYs made, the last refusal's SQLSTATE. */
struct refusal {
	size_t dropped, copies;
	char state[6];
};

/*
 * The rows [*head, *head + n), which PostgreSQL refused together: each half
 * once more in a COPY of its own and a half refused again split in turn,
 * down to the single rows, which are dropped; so k bad rows cost about
 * 2k log2(n / k) COPYs, not n.  SG_OK, or the failure that stopped it (the
 * rows up to there are done).
 */
static sg_status
copy_halves(struct writer *w, uint64_t *head, size_t n, struct refusal *r)
{
	if (n == 1) {
		r->dropped++;
		done_rows(head, 1);
		return SG_OK;
	}
	for (size_t part = n / 2, left = n; left > 0; left -= part, part = left) {
		char state[6];
		sg_status st = copy_rows(w, *head, part, state);

		r->copies++;
		if (st == SG_OK) {
			done_rows(head, part);
		} else if (!refused(st)) {
			return st;
		} else {
			snprintf(r->state, sizeof(r->state), "%s", state);
			if ((st = copy_halves(w, head, part, r)) != SG_OK)
				return st;
		}
	}
	return SG_OK;
}

/*
 * PostgreSQL refused the COPY of [*head, *head + n) for what a row holds:
 * the rows it takes are written and those it refuses alone dropped
 * (copy_halves; counted, logged once).  SG_OK, or the failure that stopped
 * it (the rows up to there are done).
 */
static sg_status
copy_refused(struct writer *w, uint64_t *head, size_t n, const char *first_state)
{
	struct refusal r = {0};
	sg_status st;

	snprintf(r.state, sizeof(r.state), "%s", first_state);
	st = copy_halves(w, head, n, &r);
	if (r.dropped > 0)
		log_warn(
			"usage: PostgreSQL refused %zu of %zu rows (SQLSTATE %s; %zu COPYs to find them): they are dropped",
			r.dropped, n, r.state[0] ? r.state : "none", r.copies);
	else if (st == SG_OK)
		log_warn(
			"usage: PostgreSQL refused a COPY of %zu rows (SQLSTATE %s), then took all of them in %zu smaller COPYs",
			n, first_state[0] ? first_state : "none", r.copies);
	count_dropped(r.dropped);
	return st;
}

/*
 * Ends the open COPY of the rows [*head, *head + w->sent) and, when it is
 * written, moves *head past them.  A day without its partition is made and
 * the rows copied once more; rows PostgreSQL refuses for what they hold are
 * split out (copy_refused).  SG_OK, or the failure, to retry
 * (the connection is dropped when broken).
 */
static sg_status
writer_commit(struct writer *w, uint64_t *head)
{
	size_t n = w->sent;
	char state[6];
	PGresult *res = copy_end(w, state);
	sg_status st = db_result_status(w->conn, res);

	PQclear(res);
	w->sent = 0;
	/* A day without its partition: made, then once more; when it cannot be made (logged), the rows wait. */
	if (st != SG_OK && strcmp(state, "23514") == 0)
		st = writer_maintain(w) ? copy_rows(w, *head, n, state) : SG_E_UNAVAILABLE;
	if (refused(st))
		st = copy_refused(w, head, n, state);
	else if (st == SG_OK)
		done_rows(head, n);
	if (st != SG_OK && (w->conn == NULL || db_conn_broken(w->conn)))
		writer_disconnect(w);
	return st;
}

/* Waits on the queue until rel_us from now or a signal; q.mu held. */
static void
wait_for(int64_t rel_us)
{
	sg_cond_wait_until(&q.wake, &q.mu, sg_now_us() + rel_us);
}

/* PostgreSQL is down or refused the rows: the writer tries again in a second (sooner when stopping). */
static void
writer_backoff(void)
{
	pthread_mutex_lock(&q.mu);
	wait_for(q.stopping ? 200000 : 1000000);
	pthread_mutex_unlock(&q.mu);
}

/* The writer, stopping: what PostgreSQL did not take is counted as dropped (no request adds rows now). */
static void
n_left_dropped(uint64_t head)
{
	uint64_t left = __atomic_load_n(&q.tail, __ATOMIC_RELAXED) - head;

	if (left > 0) {
		log_warn("usage: stopping with %llu rows PostgreSQL did not take: they are dropped",
			 (unsigned long long) left);
		count_dropped(left);
	}
}

static void *
writer_main(void *arg)
{
	struct writer w = {0};
	int64_t flush_us = (int64_t) q.conf->usage_flush_ms * 1000, stop_deadline = 0;
	int64_t piece_us = USAGE_PIECE_MS * 1000 < flush_us ? USAGE_PIECE_MS * 1000 : flush_us;
	uint64_t head = __atomic_load_n(&q.head, __ATOMIC_RELAXED);

	(void) arg;
	for (;;) {
		size_t n, waiting = (size_t) (__atomic_load_n(&q.tail, __ATOMIC_RELAXED) - head - w.sent);
		bool stopping;
		sg_status st;
		int64_t now = sg_now_us();

		pthread_mutex_lock(&q.mu);
		if (!q.stopping && w.sent > 0) { /* the next piece, or the end of the open COPY */
			int64_t left = w.opened_us + flush_us - now;

			wait_for(left < 0 ? 0 : left < piece_us ? left : piece_us);
		} else if (!q.stopping && waiting == 0) { /* idle: until the first row's signal */
			wait_for(flush_us);
		}
		stopping = q.stopping;
		pthread_mutex_unlock(&q.mu);
		now = sg_now_us();
		if (stopping && stop_deadline == 0)
			stop_deadline = now + USAGE_STOP_WAIT_S * (int64_t) 1000000;
		if (stop_deadline != 0 && now > stop_deadline)
			break;
		/* The slots [head, head + sent + n) are the writer's until done_rows. */
		n = ready_rows(head + w.sent, q.batch - w.sent);
		if (n > 0 && w.sent == 0) {
			if (!writer_ready(&w) || copy_begin(&w) != SG_OK) {
				writer_backoff();
				continue;
			}
			w.opened_us = now;
		}
		if (n > 0 && (st = copy_send(&w, head + w.sent, n)) != SG_OK) {
			copy_abandon(&w, n, st); /* the rows wait; a broken connection is dropped */
			writer_backoff();
			continue;
		}
		w.sent += n;
		if (w.sent > 0 && (w.sent == q.batch || now - w.opened_us >= flush_us || (stopping && n == 0))) {
			if (writer_commit(&w, &head) != SG_OK)
				writer_backoff();
		} else if (n == 0 && w.sent == 0) {
			if (stopping && __atomic_load_n(&q.tail, __ATOMIC_RELAXED) == head)
				break;
			if (waiting > 0) { /* claimed, not yet filled: the request thread is writing it */
				pthread_mutex_lock(&q.mu);
				wait_for(1000);
				pthread_mutex_unlock(&q.mu);
			}
		}
	}
	n_left_dropped(head);
	writer_disconnect(&w);
	sg_buf_free(&w.data);
	return NULL;
}

sg_status
usage_start(const struct sg_conf *conf)
{
	if (!conf->usage_enabled || q.running)
		return SG_OK;
	(void) pthread_once(&wake_once, wake_init);
	q.rows = sg_calloc(conf->usage_queue_size, sizeof(*q.rows));
	q.seq = sg_calloc(conf->usage_queue_size, sizeof(*q.seq));
	if (q.rows == NULL || q.seq == NULL) {
		free(q.rows);
		free(q.seq);
		q.rows = NULL;
		q.seq = NULL;
		return SG_E_NOMEM;
	}
	for (size_t i = 0; i < conf->usage_queue_size; i++)
		q.seq[i] = i; /* slot i is free for position i */
#ifdef SG_TEST_KNOBS
	if (getenv("STACKGATE_TEST_USAGE_PIECE_FAILS") != NULL) {
		piece_fails = atoi(getenv("STACKGATE_TEST_USAGE_PIECE_FAILS"));
		log_warn("test knob: every second of the usage writer's first %d pieces fails to build",
			 2 * piece_fails);
	}
	if (getenv("STACKGATE_TEST_USAGE_PIECE_SEND_FAILS") != NULL) {
		piece_fails = atoi(getenv("STACKGATE_TEST_USAGE_PIECE_SEND_FAILS"));
		piece_send_fails = true;
		log_warn("test knob: every second of the usage writer's first %d pieces fails to send",
			 2 * piece_fails);
	}
#endif
	q.conf = conf;
	q.cap = conf->usage_queue_size;
	q.batch = usage_batch_size(q.cap);
	q.head = q.tail = 0;
	q.stopping = false;
	if (pthread_create(&q.thread, NULL, writer_main, NULL) != 0) {
		log_error("usage: cannot start the writer thread: %s", strerror(errno));
		free(q.rows);
		free(q.seq);
		q.rows = NULL;
		q.seq = NULL;
		return SG_E_INTERNAL;
	}
	__atomic_store_n(&q.running, true, __ATOMIC_RELEASE);
	return SG_OK;
}

/* Every request thread has ended (worker.c joins them first): nothing claims a slot now. */
void
usage_stop(void)
{
	if (!q.running)
		return;
	pthread_mutex_lock(&q.mu);
	q.stopping = true;
	pthread_mutex_unlock(&q.mu);
	pthread_cond_signal(&q.wake);
	pthread_join(q.thread, NULL);
	__atomic_store_n(&q.running, false, __ATOMIC_RELEASE);
	free(q.rows);
	free(q.seq);
	q.rows = NULL;
	q.seq = NULL;
	q.cap = 0;
}
