/* SPDX-License-Identifier: Apache-2.0 */
/* check_shm.c: the host's shared mapping: layout, slots, retire, sharing across fork. */
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm.h"
#include "suites.h"

struct host_counts {
	uint64_t total;   /* folded from dead workers */
	uint64_t retired; /* how many slots were retired */
};

struct worker_counts {
	uint64_t requests; /* monotonic: folded into the host on retire */
	uint64_t inflight; /* gauge: dropped on retire */
};

static void
fold(void *worker, void *host)
{
	struct worker_counts *w = worker;
	struct host_counts *h = host;

	shm_atomic_add(&h->total, shm_load(&w->requests));
	shm_atomic_add(&h->retired, 1);
}

static struct shm_area counts = {
	.name = "test counts",
	.host_bytes = sizeof(struct host_counts),
	.worker_bytes = sizeof(struct worker_counts),
	.retire = fold,
};

static struct shm_area bytes = {.name = "test bytes", .host_bytes = 3, .worker_bytes = 5};

/* The host's total as a reader sums it: dead workers' counts plus every taken slot's. */
static uint64_t
sum_requests(void)
{
	uint64_t begun, n;
	int tries = 0;

	do {
		struct host_counts *h = shm_host(&counts);

		begun = shm_read_begin();
		n = shm_load(&h->total);
		for (int i = 0; i < SHM_SLOTS; i++)
			n += shm_load(&((struct worker_counts *) shm_worker_at(&counts, i))->requests);
	} while (shm_read_retry(begun) && ++tries < 3);
	return n;
}

static void
setup(void)
{
	shm_reset();
	ck_assert_int_eq(shm_declare(&counts), SG_OK);
	ck_assert_int_eq(shm_declare(&bytes), SG_OK);
	ck_assert_int_eq(shm_map(), SG_OK);
}

static void
teardown(void)
{
	shm_reset();
}

START_TEST(test_unmapped_is_null)
{
	shm_reset();
	ck_assert(!shm_mapped());
	ck_assert_ptr_null(shm_host(&counts));
	ck_assert_ptr_null(shm_worker(&counts));
	ck_assert_int_eq(shm_slot_take(), -1);
	shm_slot_release(1); /* ignored */
	ck_assert_int_eq(shm_declare(&counts), SG_OK);
	ck_assert_int_eq(shm_declare(&counts), SG_E_INTERNAL); /* twice */
}
END_TEST

START_TEST(test_layout)
{
	struct shm_area late = {.name = "late", .host_bytes = 8};
	uintptr_t h1 = (uintptr_t) shm_host(&counts), h2 = (uintptr_t) shm_host(&bytes);
	uintptr_t w0 = (uintptr_t) shm_worker_at(&counts, 0), w1 = (uintptr_t) shm_worker_at(&counts, 1);

	ck_assert(shm_mapped());
	ck_assert_int_eq(shm_declare(&late), SG_E_INTERNAL); /* after the mapping */
	/* Every area and every slot on its own cache line, none overlapping. */
	ck_assert_uint_eq(h1 % 64, 0);
	ck_assert_uint_eq(h2 % 64, 0);
	ck_assert_uint_eq(w0 % 64, 0);
	ck_assert_uint_eq(w1 % 64, 0);
	ck_assert_uint_eq((uintptr_t) shm_worker_at(&bytes, 1) % 64, 0);
	ck_assert(h1 != h2);
	ck_assert(w1 >= w0 + 128); /* two areas' lines per block */
	ck_assert_ptr_null(shm_worker_at(&counts, SHM_SLOTS));
	ck_assert_ptr_null(shm_worker_at(&counts, -1));
	/* Zeroed at start; a process in no slot writes slot 0. */
	ck_assert_uint_eq(shm_load(&((struct host_counts *) shm_host(&counts))->total), 0);
	ck_assert_int_eq(shm_slot_current(), 0);
	ck_assert_ptr_eq(shm_worker(&counts), shm_worker_at(&counts, 0));
}
END_TEST

START_TEST(test_slots)
{
	int a = shm_slot_take(), b = shm_slot_take();

	ck_assert_int_ge(a, 1);
	ck_assert_int_ge(b, 1);
	ck_assert_int_ne(a, b);
	ck_assert(shm_slot_taken(a));
	ck_assert(!shm_slot_taken(0));
	shm_slot_release(a);
	ck_assert(!shm_slot_taken(a));
	ck_assert_int_eq(shm_slot_take(), a); /* reused */
	/* All taken: -1, and releasing one frees it again. */
	while (shm_slot_take() > 0)
		;
	ck_assert_int_eq(shm_slot_take(), -1);
	shm_slot_release(b);
	ck_assert_int_eq(shm_slot_take(), b);
}
END_TEST

/* A forked worker's counts are the master's to read; its death folds them and drops its gauges. */
START_TEST(test_fork_and_retire)
{
	int slot = shm_slot_take();
	pid_t pid;
	int status;
	struct worker_counts *w = shm_worker_at(&counts, slot);
	struct host_counts *h = shm_host(&counts);

	shm_atomic_add(&((struct worker_counts *) shm_worker(&counts))->requests, 2); /* slot 0 */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		shm_slot_enter(slot);
		for (int i = 0; i < 1000; i++)
			shm_atomic_add(&((struct worker_counts *) shm_worker(&counts))->requests, 1);
		shm_atomic_add(&((struct worker_counts *) shm_worker(&counts))->inflight, 3);
		_exit(shm_slot_current() == slot ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(shm_load(&w->requests), 1000);
	ck_assert_uint_eq(shm_load(&w->inflight), 3);
	ck_assert_uint_eq(sum_requests(), 1002);
	shm_slot_release(slot);
	ck_assert_uint_eq(shm_load(&h->retired), 1);
	ck_assert_uint_eq(shm_load(&h->total), 1000); /* folded */
	ck_assert_uint_eq(shm_load(&w->requests), 0); /* zeroed */
	ck_assert_uint_eq(shm_load(&w->inflight), 0); /* the gauge leaked nothing */
	ck_assert_uint_eq(sum_requests(), 1002);      /* no counter went down */
	/* An area without a retire hook is zeroed too. */
	memset(shm_worker_at(&bytes, slot), 0xff, 5);
	ck_assert_int_eq(shm_slot_take(), slot);
	memset(shm_worker_at(&bytes, slot), 0xff, 5);
	shm_slot_release(slot);
	ck_assert_uint_eq(((unsigned char *) shm_worker_at(&bytes, slot))[4], 0);
}
END_TEST

/* A sum taken during a retire is retried: readers never see a move half done. */
START_TEST(test_read_retry)
{
	int slot = shm_slot_take();
	uint64_t begun = shm_read_begin();

	ck_assert(!shm_read_retry(begun));
	shm_slot_release(slot);
	ck_assert(shm_read_retry(begun));
	ck_assert(!shm_read_retry(shm_read_begin()));
}
END_TEST

Suite *
shm_suite(void)
{
	const TTest *const shm[] = {test_layout, test_slots, test_fork_and_retire, test_read_retry, NULL};
	const TTest *const unmapped[] = {test_unmapped_is_null, NULL};
	const struct sg_tcase tcases[] = {{.name = "shm", .tests = shm, .setup = setup, .teardown = teardown},
					  {.name = "unmapped", .tests = unmapped},
					  {.name = NULL}};

	return sg_suite_new("shm", tcases);
}
