/* SPDX-License-Identifier: MIT */
/* Description: MM_PAGE_PRIORITY under real memory pressure, in the test
 * guest only (it eats most of the machine's memory, so it skips elsewhere).
 * The test populates anonymous memory until MemAvailable sits between
 * MemTotal/32 and MemTotal/8, then asks for system addresses of a locked
 * pool MDL: LOW fails with -ENOMEM and a NULL address, NORMAL and HIGH
 * succeed, and the mapping shows the same bytes. Once the memory is
 * freed, LOW succeeds again. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sv-test.h"

#define MAXHOGS 64

static void meminfo(unsigned long long *total, unsigned long long *avail)
{
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	ck_assert_ptr_nonnull(f);
	*total = *avail = 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %llu", total);
		sscanf(line, "MemAvailable: %llu", avail);
	}
	fclose(f);
	ck_assert_uint_gt(*total, 0);
}

static void *hog[MAXHOGS];
static size_t hog_len[MAXHOGS];
static int nhogs;

/* Populates memory until MemAvailable is about MemTotal/16: below the LOW
 * threshold (1/8), above the NORMAL one (1/32). */
static void squeeze(void)
{
	unsigned long long total, avail;

	for (;;) {
		size_t kb;

		meminfo(&total, &avail);
		if (avail < total / 8 - total / 64)
			break;
		ck_assert_msg(nhogs < MAXHOGS, "memory does not shrink");
		kb = (size_t)(avail - total / 16);
		hog_len[nhogs] = kb * 1024;
		hog[nhogs] = mmap(NULL, hog_len[nhogs], PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(hog[nhogs], MAP_FAILED);
		ck_assert_int_eq(madvise(hog[nhogs], hog_len[nhogs],
					 MADV_POPULATE_WRITE),
				 0);
		nhogs++;
	}
	ck_assert_msg(avail >= total / 32 + total / 128,
		      "overshot: %llu kB of %llu kB available", avail, total);
}

static void release(void)
{
	while (nhogs--)
		munmap(hog[nhogs], hog_len[nhogs]);
	nhogs = 0;
}

START_TEST(low_fails_high_holds)
{
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *m;
	char *buf, *sys = (char *)1;

	ck_assert_int_eq(sanverbs_pool_create(NULL, 1 << 20, 0, &pool), 0);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 1 << 20, (void **)&buf), 0);
	sv_fill_pattern(buf, 1 << 20, 81);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, buf, 1 << 20, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_WRITE_ACCESS),
			 0);

	squeeze();
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_LOW, (void **)&sys),
			 -ENOMEM);
	ck_assert_ptr_null(sys);
	ck_assert(!(sanverbs_mdl_flags(m) & SANVERBS_MDL_SYSTEM_VA));
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_NORMAL |
					    SANVERBS_MAPPING_NO_WRITE,
				 (void **)&sys),
			 0);
	ck_assert_int_eq(sv_check_pattern(sys, 1 << 20, 81), -1);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_WRITE_ACCESS),
			 0);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_HIGH, (void **)&sys),
			 0);
	ck_assert_int_eq(sv_check_pattern(sys, 1 << 20, 81), -1);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);

	release();
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_READ_ACCESS),
			 0);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_LOW, (void **)&sys),
			 0);
	ck_assert_int_eq(sv_check_pattern(sys, 1 << 20, 81), -1);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mdl-pressure");
	TCase *tc = tcase_create("guest");

	if (!getenv("SANVERBS_IN_VM")) {
		printf("SKIP: eats most of the machine's memory; runs only in "
		       "the test guest (tests/vm/run.sh sets SANVERBS_IN_VM)\n");
		return SV_TEST_SKIP;
	}
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, low_fails_high_holds);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
