/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shm.c: the host's shared mapping (see shm.h).  Layout, every part on a
 * cache line:
 *   taken[SHM_SLOTS]            one word per slot, written by the master only
 *   seq                         odd while a slot is being retired
 *   host areas                  in declaration order
 *   SHM_SLOTS worker blocks     each holding every area's worker part
 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "shm.h"

#define LINE 64

static struct shm_area *areas;
static unsigned char *base;
static size_t base_len;
static size_t hosts_off;  /* start of the host areas */
static size_t blocks_off; /* start of slot 0's worker block */
static size_t block_len;  /* one slot's worker block */
static int current;       /* the slot this process writes */

static size_t
round_line(size_t n)
{
	return (n + LINE - 1) / LINE * LINE;
}

sg_status
shm_declare(struct shm_area *a)
{
	if (base != NULL) {
		log_error("shared memory area %s declared after the mapping was made", a->name);
		return SG_E_INTERNAL;
	}
	for (struct shm_area *p = areas; p != NULL; p = p->next) {
		if (p == a) {
			log_error("shared memory area %s declared twice", a->name);
			return SG_E_INTERNAL;
		}
	}
	a->next = areas;
	areas = a;
	return SG_OK;
}

sg_status
shm_map(void)
{
	size_t host_len = 0;
	void *p;

	if (base != NULL)
		return SG_OK;
	for (struct shm_area *a = areas; a != NULL; a = a->next) {
		a->host_off = host_len;
		host_len += round_line(a->host_bytes);
	}
	block_len = 0;
	for (struct shm_area *a = areas; a != NULL; a = a->next) {
		a->worker_off = block_len;
		block_len += round_line(a->worker_bytes);
	}
	hosts_off = round_line((SHM_SLOTS + 1) * sizeof(uint64_t));
	blocks_off = hosts_off + host_len;
	base_len = blocks_off + (size_t) SHM_SLOTS * block_len;
	p = mmap(NULL, base_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_error("cannot map %zu bytes of shared memory: %s", base_len, strerror(errno));
		return SG_E_NOMEM;
	}
	base = p; /* anonymous mappings start zeroed */
	current = 0;
	return SG_OK;
}

bool
shm_mapped(void)
{
	return base != NULL;
}

void
shm_reset(void)
{
	if (base != NULL)
		munmap(base, base_len);
	base = NULL;
	base_len = 0;
	current = 0;
	while (areas != NULL) {
		struct shm_area *next = areas->next;

		areas->next = NULL;
		areas = next;
	}
}

static uint64_t *
taken(int slot)
{
	return (uint64_t *) (void *) base + slot;
}

static uint64_t *
seq(void)
{
	return (uint64_t *) (void *) base + SHM_SLOTS;
}

uint64_t
shm_read_begin(void)
{
	uint64_t s;

	if (base == NULL)
		return 0;
	/* A retire takes microseconds; a master that died inside one must not hang readers. */
	for (int spins = 0; ((s = __atomic_load_n(seq(), __ATOMIC_ACQUIRE)) & 1) && spins < 1000; spins++)
		sched_yield();
	return s;
}

bool
shm_read_retry(uint64_t begun)
{
	if (base == NULL)
		return false;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(seq(), __ATOMIC_RELAXED) != begun;
}

int
shm_slot_take(void)
{
	if (base == NULL)
		return -1;
	for (int i = 1; i < SHM_SLOTS; i++) {
		if (shm_load(taken(i)) == 0) {
			shm_store(taken(i), 1);
			return i;
		}
	}
	log_warn("all %d shared memory slots are taken", SHM_SLOTS - 1);
	return -1;
}

void
shm_slot_enter(int slot)
{
	current = slot > 0 && slot < SHM_SLOTS ? slot : 0;
}

void
shm_slot_release(int slot)
{
	uint64_t *w;

	if (base == NULL || slot <= 0 || slot >= SHM_SLOTS)
		return;
	__atomic_add_fetch(seq(), 1, __ATOMIC_ACQ_REL); /* odd: readers wait or retry */
	for (struct shm_area *a = areas; a != NULL; a = a->next)
		if (a->retire != NULL)
			a->retire(shm_worker_at(a, slot), shm_host(a));
	w = (uint64_t *) (void *) (base + blocks_off + (size_t) slot * block_len);
	for (size_t i = 0; i < block_len / sizeof(uint64_t); i++)
		shm_store(&w[i], 0);
	shm_store(taken(slot), 0);
	__atomic_add_fetch(seq(), 1, __ATOMIC_ACQ_REL);
}

int
shm_slot_current(void)
{
	return current;
}

bool
shm_slot_taken(int slot)
{
	return base != NULL && slot > 0 && slot < SHM_SLOTS && shm_load(taken(slot)) != 0;
}

void *
shm_host(const struct shm_area *a)
{
	return base == NULL ? NULL : base + hosts_off + a->host_off;
}

void *
shm_worker(const struct shm_area *a)
{
	return shm_worker_at(a, current);
}

void *
shm_worker_at(const struct shm_area *a, int slot)
{
	if (base == NULL || slot < 0 || slot >= SHM_SLOTS)
		return NULL;
	return base + blocks_off + (size_t) slot * block_len + a->worker_off;
}
