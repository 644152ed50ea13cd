/* SPDX-License-Identifier: MIT */
/* Description: the per-page lock counts behind MDL locking, through the
 * mlock/munlock seam. Overlapping ranges call mlock only for pages that go
 * from 0 to 1 and munlock only for pages that go from 1 to 0, in
 * coalesced runs; unlocking a page that has no count changes nothing and
 * says -EINVAL; a failing mlock rolls every count (and every run it
 * already locked) back; threads hammering overlapping ranges leave every
 * count at zero with as many munlocks as mlocks. Also MDL page-priority pressure rules against
 * synthetic /proc/meminfo files. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sv-test.h"
#include "lockcount.h"
#include "mdl.h"

#define PS 4096ul
#define MAXCALLS 32

static struct call {
	int lock;
	uintptr_t addr;
	size_t len;
} calls[MAXCALLS];
static int ncalls;
static uintptr_t fail_at; /* lock of a run containing this page fails */

static int fake_lock(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	if (fail_at && fail_at >= a && fail_at < a + len)
		return -ENOMEM;
	calls[ncalls++] = (struct call){ 1, a, len };
	return 0;
}

static int fake_unlock(const void *addr, size_t len)
{
	calls[ncalls++] = (struct call){ 0, (uintptr_t)addr, len };
	return 0;
}

static const struct sv_lock_ops fake = { fake_lock, fake_unlock };

/* For the threaded test: count pages, not calls (the call log is not
 * thread-safe, and the seam runs under the table's lock anyway). */
static unsigned long locked_pages, unlocked_pages;

static int count_lock(const void *addr, size_t len)
{
	locked_pages += len / 4096;
	return 0;
}

static int count_unlock(const void *addr, size_t len)
{
	unlocked_pages += len / 4096;
	return 0;
}

static const struct sv_lock_ops counting = { count_lock, count_unlock };
/* Page numbers far from anything real; the seam never touches them. */
#define PG(n) ((void *)((0x100000ul + (n)) * PS))

static void setup(void)
{
	ck_assert_int_eq(sysconf(_SC_PAGESIZE), PS);
	sv_lock_set_ops(&fake);
	ncalls = 0;
	fail_at = 0;
}

static void teardown(void)
{
	sv_lock_set_ops(NULL);
}

static void expect(int i, int lock, void *addr, size_t npages)
{
	ck_assert_int_gt(ncalls, i);
	ck_assert_int_eq(calls[i].lock, lock);
	ck_assert_uint_eq(calls[i].addr, (uintptr_t)addr);
	ck_assert_uint_eq(calls[i].len, npages * PS);
}

START_TEST(overlap_counts)
{
	/* A: pages 0-3 (unaligned bytes), B: pages 2-5 */
	ck_assert_int_eq(sv_lock_pages((char *)PG(0) + 5, 4 * PS - 10), 0);
	expect(0, 1, PG(0), 4);
	ck_assert_int_eq(sv_lock_pages(PG(2), 4 * PS), 0);
	expect(1, 1, PG(4), 2); /* only the pages new to the lock */
	ck_assert_uint_eq(sv_lock_count(PG(0)), 1);
	ck_assert_uint_eq(sv_lock_count(PG(3)), 2);
	ck_assert_uint_eq(sv_lock_count(PG(5)), 1);
	ck_assert_int_eq(ncalls, 2);

	ck_assert_int_eq(sv_unlock_pages((char *)PG(0) + 5, 4 * PS - 10), 0);
	expect(2, 0, PG(0), 2);
	ck_assert_int_eq(ncalls, 3);
	ck_assert_uint_eq(sv_lock_count(PG(2)), 1);
	ck_assert_uint_eq(sv_lock_count(PG(0)), 0);
	ck_assert_int_eq(sv_unlock_pages(PG(2), 4 * PS), 0);
	expect(3, 0, PG(2), 4);
	ck_assert_uint_eq(sv_lock_count(PG(2)), 0);
}
END_TEST

START_TEST(holes_make_runs)
{
	/* pages 1 and 3 held already: locking 0-4 must mlock 0, 2 and 4 */
	ck_assert_int_eq(sv_lock_pages(PG(1), PS), 0);
	ck_assert_int_eq(sv_lock_pages(PG(3), PS), 0);
	ncalls = 0;
	ck_assert_int_eq(sv_lock_pages(PG(0), 5 * PS), 0);
	ck_assert_int_eq(ncalls, 3);
	expect(0, 1, PG(0), 1);
	expect(1, 1, PG(2), 1);
	expect(2, 1, PG(4), 1);
	ncalls = 0;
	ck_assert_int_eq(sv_unlock_pages(PG(1), PS), 0);
	ck_assert_int_eq(sv_unlock_pages(PG(3), PS), 0);
	ck_assert_int_eq(ncalls, 0); /* still held by the 0-4 lock */
	ck_assert_int_eq(sv_unlock_pages(PG(0), 5 * PS), 0);
	ck_assert_int_eq(ncalls, 1);
	expect(0, 0, PG(0), 5);
}
END_TEST

START_TEST(unlock_unlocked)
{
	ck_assert_int_eq(sv_unlock_pages(PG(7), PS), -EINVAL);
	ck_assert_int_eq(sv_lock_pages(PG(7), PS), 0);
	/* range reaching past the locked page: rejected as a whole */
	ck_assert_int_eq(sv_unlock_pages(PG(7), 2 * PS), -EINVAL);
	ck_assert_uint_eq(sv_lock_count(PG(7)), 1);
	ck_assert_int_eq(sv_unlock_pages(PG(7), PS), 0);
	ck_assert_int_eq(sv_unlock_pages(PG(7), PS), -EINVAL);
	ck_assert_int_eq(sv_lock_pages(NULL, PS), -EINVAL);
	ck_assert_int_eq(sv_lock_pages(PG(7), 0), -EINVAL);
	ck_assert_int_eq(sv_unlock_pages(NULL, PS), -EINVAL);
}
END_TEST

START_TEST(failure_rolls_back)
{
	/* page 1 held; locking 0-4 locks run {0}, then fails on run {2..4} */
	ck_assert_int_eq(sv_lock_pages(PG(1), PS), 0);
	ncalls = 0;
	fail_at = (uintptr_t)PG(3);
	ck_assert_int_eq(sv_lock_pages(PG(0), 5 * PS), -ENOMEM);
	expect(0, 1, PG(0), 1);
	expect(1, 0, PG(0), 1); /* undone */
	ck_assert_int_eq(ncalls, 2);
	ck_assert_uint_eq(sv_lock_count(PG(0)), 0);
	ck_assert_uint_eq(sv_lock_count(PG(1)), 1);
	ck_assert_uint_eq(sv_lock_count(PG(3)), 0);
	fail_at = 0;
	ck_assert_int_eq(sv_unlock_pages(PG(1), PS), 0);
}
END_TEST

START_TEST(many_pages)
{
	/* forces the table to grow several times */
	ck_assert_int_eq(sv_lock_pages(PG(0), 5000 * PS), 0);
	ck_assert_int_eq(sv_lock_pages(PG(2500), 5000 * PS), 0);
	ck_assert_uint_eq(sv_lock_count(PG(2499)), 1);
	ck_assert_uint_eq(sv_lock_count(PG(2500)), 2);
	ck_assert_uint_eq(sv_lock_count(PG(7499)), 1);
	ck_assert_int_eq(sv_unlock_pages(PG(0), 5000 * PS), 0);
	ck_assert_int_eq(sv_unlock_pages(PG(2500), 5000 * PS), 0);
	ck_assert_uint_eq(sv_lock_count(PG(2500)), 0);
	ck_assert_int_eq(ncalls, 4);
}
END_TEST

static void *hammer(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	int i;

	for (i = 0; i < 2000; i++) {
		/* ranges of 1..8 pages over a 24-page window, overlapping
		 * the other threads' */
		size_t first = (t * 7 + (size_t)i * 5) % 16, n = 1 + i % 8;

		if (sv_lock_pages(PG(first), n * PS))
			return (void *)1;
		if (sv_unlock_pages(PG(first), n * PS))
			return (void *)2;
	}
	return NULL;
}

START_TEST(threads_balance)
{
	pthread_t th[4];
	void *ret;
	uintptr_t t;
	int p;

	sv_lock_set_ops(&counting);
	locked_pages = unlocked_pages = 0;
	for (t = 0; t < 4; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, hammer,
						(void *)t),
				 0);
	for (t = 0; t < 4; t++) {
		ck_assert_int_eq(pthread_join(th[t], &ret), 0);
		ck_assert_ptr_null(ret);
	}
	for (p = 0; p < 24; p++)
		ck_assert_uint_eq(sv_lock_count(PG(p)), 0);
	ck_assert_uint_gt(locked_pages, 0);
	ck_assert_uint_eq(locked_pages, unlocked_pages);
}
END_TEST

static const char *meminfo(unsigned long total_kb, unsigned long avail_kb)
{
	static char path[] = "/tmp/sv-meminfo-XXXXXX";
	static int fd = -1;
	FILE *f;

	if (fd < 0) {
		fd = mkstemp(path);
		ck_assert_int_ge(fd, 0);
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "MemTotal:       %lu kB\nMemFree:  1 kB\n"
		   "MemAvailable:   %lu kB\nBuffers: 0 kB\n",
		total_kb, avail_kb);
	fclose(f);
	return path;
}

START_TEST(priority_pressure)
{
	const unsigned int lo = SANVERBS_PAGE_PRIORITY_LOW,
			   no = SANVERBS_PAGE_PRIORITY_NORMAL,
			   hi = SANVERBS_PAGE_PRIORITY_HIGH,
			   nw = SANVERBS_MAPPING_NO_WRITE;

	/* plenty */
	ck_assert(sv_mdl_pressure_allows(lo, meminfo(1000000, 500000)));
	/* 10 % available: LOW refuses, NORMAL and HIGH go on */
	ck_assert(!sv_mdl_pressure_allows(lo, meminfo(1000000, 100000)));
	ck_assert(!sv_mdl_pressure_allows(lo | nw, meminfo(1000000, 100000)));
	ck_assert(sv_mdl_pressure_allows(no, meminfo(1000000, 100000)));
	/* 2 %: only HIGH */
	ck_assert(!sv_mdl_pressure_allows(no, meminfo(1000000, 20000)));
	ck_assert(sv_mdl_pressure_allows(hi | nw, meminfo(1000000, 20000)));
	ck_assert(sv_mdl_pressure_allows(hi, meminfo(1000000, 0)));
	/* no MemAvailable line (old kernels): no basis to refuse */
	ck_assert(sv_mdl_pressure_allows(lo, "/nonexistent/meminfo"));
	/* the real file parses */
	(void)sv_mdl_pressure_allows(lo, NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lockcount");
	TCase *tc = tcase_create("seam");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, overlap_counts);
	tcase_add_test(tc, holes_make_runs);
	tcase_add_test(tc, unlock_unlocked);
	tcase_add_test(tc, failure_rolls_back);
	tcase_add_test(tc, many_pages);
	tcase_add_test(tc, threads_balance);
	tcase_add_test(tc, priority_pressure);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
