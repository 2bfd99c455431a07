/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shm.h: memory shared by the master and every worker of one host, for the
 * counts that must outlive a worker and be read host-wide: metrics,
 * concurrency and rate counts, cooldowns.
 *
 * One anonymous shared mapping, made by the master before the first fork
 * (shm_map) and never grown or remapped: a reload keeps it, so every size is
 * fixed at start (a setting that sizes an area takes effect on restart).
 * Modules declare their areas before shm_map, from the master at start:
 *
 *     static struct shm_area area = { .name = "metrics",
 *             .host_bytes = sizeof(struct host_counts),
 *             .worker_bytes = sizeof(struct worker_counts),
 *             .retire = fold_counts };
 *     if (shm_declare(&area) != SG_OK) ...
 *
 * Two kinds of memory per area:
 *   host    one copy for the host; any process may write it.
 *   worker  one copy per worker slot, written only by the threads of the
 *           process holding the slot; any process reads every slot and sums.
 * Both are written with the atomics below only (relaxed: counts, not
 * ordering); a worker's own slot keeps its cache lines away from the other
 * processes' and lets its counts be retired when it dies.  Areas and slots
 * start on cache-line boundaries.
 *
 * Slots: the master takes a free slot for each worker before forking it
 * (shm_slot_take) and the child enters it (shm_slot_enter) before serving.
 * When the master has reaped the worker, shm_slot_release calls each area's
 * retire hook with the dead worker's area and the host area (fold monotonic
 * counters into the host area so no counter goes down; drop gauges such as
 * in-flight counts, so a killed worker leaks no count), then zeroes the slot.
 * A reader that sums counters over the slots does it between shm_read_begin
 * and shm_read_retry, and sums again while the latter says so (a few times at most): a retire
 * moves counts from a slot to the host area, and a sum that saw both halves
 * of the move would count them twice or not at all.
 * Slot 0 is never given to a worker: a process that entered no slot (the
 * master, a CLI command, a unit test) writes there.
 *
 * Before shm_map (or when it failed) shm_host and shm_worker return NULL; a
 * caller on the request path treats NULL as "not counting".  All entry points
 * but shm_host/shm_worker/shm_worker_at and the atomics are for one thread.
 */
#ifndef SG_SHM_H
#define SG_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sg.h"

/* Worker slots, slot 0 included: current workers plus generations draining after reloads. */
#define SHM_SLOTS 320

struct shm_area {
	const char *name;    /* for logs */
	size_t host_bytes;   /* may be 0 */
	size_t worker_bytes; /* per slot; may be 0 */
	/*
	 * Master only, after the slot's process is gone: fold what must survive
	 * from worker into host (atomics: live workers use host meanwhile).  May
	 * be NULL: the slot is zeroed anyway.
	 */
	void (*retire)(void *worker, void *host);
	/* Set by shm_declare / shm_map; not the caller's. */
	size_t host_off, worker_off;
	struct shm_area *next;
};

/* Adds an area (before shm_map); SG_E_INTERNAL after shm_map or for a declared area. */
sg_status shm_declare(struct shm_area *a) SG_MUST_CHECK;
/* Maps every declared area, zeroed; once per process, in the master before fork. */
sg_status shm_map(void) SG_MUST_CHECK;
/* Whether shm_map has succeeded. */
bool shm_mapped(void);
/* Unmaps and forgets every area (tests; a process about to exit need not call it). */
void shm_reset(void);

/* Master: a free slot (1 .. SHM_SLOTS-1) marked taken, or -1 when all are taken. */
int shm_slot_take(void);
/* Child after fork: its counts go to slot from now on. */
void shm_slot_enter(int slot);
/* Master after reaping slot's process: retire hooks, zero, mark free.  Ignores slot <= 0. */
void shm_slot_release(int slot);
/* The slot this process writes (0 before shm_slot_enter). */
int shm_slot_current(void);
/* Whether slot is taken by a worker (readers may skip free slots; free slots are zero). */
bool shm_slot_taken(int slot);

/* Begins a sum over slots: waits out a retire in progress and returns a token. */
uint64_t shm_read_begin(void);
/* Whether a retire ran since shm_read_begin returned begun (sum again if so). */
bool shm_read_retry(uint64_t begun);

/* The host area of a; NULL before shm_map. */
void *shm_host(const struct shm_area *a);
/* This process's worker area of a; NULL before shm_map. */
void *shm_worker(const struct shm_area *a);
/* Slot's worker area of a (0 <= slot < SHM_SLOTS); NULL before shm_map or out of range. */
void *shm_worker_at(const struct shm_area *a, int slot);

/* Atomic add; returns the new value. */
static inline uint64_t
shm_atomic_add(uint64_t *p, uint64_t v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/* Atomic subtract; returns the new value. */
static inline uint64_t
shm_atomic_sub(uint64_t *p, uint64_t v)
{
	return __atomic_sub_fetch(p, v, __ATOMIC_RELAXED);
}

/* Reads a value another process may be writing. */
static inline uint64_t
shm_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Stores a value other processes may be reading. */
static inline void
shm_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#endif
