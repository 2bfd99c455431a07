/* SPDX-License-Identifier: Apache-2.0 */
/*
 * limits_int.h: the limits' shared-memory layout and counter words, shared by
 * limits.c (the request path) and limits_sync.c (the sync thread).  See
 * sg_limits.h for the design.
 */
#ifndef SG_LIMITS_INT_H
#define SG_LIMITS_INT_H

#include "sg_limits.h"
#include "shm.h"

/* The kinds of limit a row sets, in the order of struct limits_entry.lim. */
enum limits_kind { LK_CONCURRENT, LK_RPM, LK_TPM, LK_DAY, LK_MONTH, LK_COUNT };

/* The windowed counters of a subject, in the order of local/synced/total. */
enum limits_counter { LC_REQ_MIN, LC_TOK_MIN, LC_TOK_DAY, LC_TOK_MONTH, LC_COUNT };

/* The period of each counter. */
extern const enum limits_period limits_counter_period[LC_COUNT];

/* A window word: the window's index (mod 2^24) in the top 24 bits, its count below. */
#define LIMITS_WIN_BITS 24
#define LIMITS_CNT_BITS 40
#define LIMITS_CNT_MASK ((UINT64_C(1) << LIMITS_CNT_BITS) - 1)

static inline uint64_t
limits_pack(int64_t win, uint64_t n)
{
	return ((uint64_t) win << LIMITS_CNT_BITS) | (n & LIMITS_CNT_MASK);
}

/* The count word w holds for window win: 0 when w belongs to another window. */
static inline uint64_t
limits_count_in(uint64_t w, int64_t win)
{
	return (w >> LIMITS_CNT_BITS) == ((uint64_t) win & ((UINT64_C(1) << LIMITS_WIN_BITS) - 1)) ? w & LIMITS_CNT_MASK
												   : 0;
}

/*
 * One subject, in the host area.  Every word is written with shm atomics.
 *
 * The workers of a host run on different cores, and each request writes
 * local[] and inflight of its subjects: those share a cache line of their
 * own, so that the line that moves between cores per request is that one,
 * and what every request only reads (hash, lim, others…, written by rule
 * changes and the sync, about once a second) stays in every core's cache.
 */
struct limits_entry {
	_Alignas(64) uint64_t local[LC_COUNT]; /* counted on this host (window words) */
	uint64_t inflight;                     /* this host's requests in flight: the workers' counts summed */
	_Alignas(64) uint64_t hash;            /* 0: free; set once, by compare-and-swap */
	uint64_t gen;                          /* the rules generation that last stored lim */
	uint64_t lim[LK_COUNT];                /* the limit + 1; 0: none */
	uint64_t synced[LC_COUNT];             /* the part of local already added to limit_counters */
	uint64_t others[LC_COUNT]; /* the other hosts' counts at the last sync: every host's total minus synced */
	uint64_t others_inflight;  /* the other hosts' requests in flight at the last sync (max_concurrent rows) */
};

struct limits_host {
	uint64_t next_sync_us; /* the lease: a worker that moves it forward by CAS syncs */
	uint64_t gen;          /* rules generation, bumped by each limits_apply_rules */
	uint64_t rejected[LIMITS_REASON_COUNT];
	uint64_t full_warned; /* the subject table filled up (logged once) */
	struct limits_entry entries[];
};

/*
 * The worker part: requests in flight per subject, and inference requests in flight in this worker.  Each
 * change to inflight[i] is made to entries[i].inflight too (admission reads that one word); when the master
 * reaps a worker, its retire hook takes the worker's counts back out of the host's.
 */
struct limits_worker {
	uint64_t inference;
	uint64_t inflight[];
};

/* Worker start (and tests): the default concurrency cap and the reserve from conf. */
void limits_start_caps(const struct sg_conf *conf);
/* This host's requests in flight for e (every worker's, kept summed in e->inflight). */
uint64_t limits_inflight_host(const struct limits_entry *e);
/* This host's name in limit_inflight: "hostname/master pid/start time", set by limits_declare. */
const char *limits_host_id(void);
/* The host area (NULL when off or not mapped) and the table size (a power of two). */
struct limits_host *limits_host_area(void);
size_t limits_subjects(void);
/* The entry of hash, created when create; NULL when absent (or the table is full). */
struct limits_entry *limits_entry_find(struct limits_host *h, uint64_t hash, bool create);
/* The effective count of counter c in window win: this host's count plus the other hosts'. */
uint64_t limits_effective(const struct limits_entry *e, enum limits_counter c, int64_t win);

#endif
