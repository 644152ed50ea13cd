/* SPDX-License-Identifier: MIT */
/* Description: the module-free system address of MDLs over memfd pool
 * buffers (no RDMA device: pools without a ctx are mlocked). The alias shows
 * the same bytes both ways, is the same address on repeated calls, is
 * never executable (/proc/self/maps), is read-only under NoWrite (a forked
 * child writing it dies of SIGSEGV, the bytes stay), survives munmap of
 * the original range, and disappears with the unlock. Pool allocation,
 * destroy-while-busy and bad arguments are covered too. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv-test.h"
#include "mdl-helpers.h"

#define POOL_SIZE (64 * 4096)

static long ps;
static struct sanverbs_pool *pool;

static void setup(void)
{
	ps = sysconf(_SC_PAGESIZE);
	ck_assert_int_eq(sanverbs_pool_create(NULL, POOL_SIZE, 0, &pool), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);
}

static struct sanverbs_mdl *lock(void *addr, size_t len,
				 enum sanverbs_lock_op op)
{
	struct sanverbs_mdl *m;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, addr, len, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, op), 0);
	ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_POOL);
	return m;
}

START_TEST(alias_same_bytes)
{
	const size_t len = 5 * 4096 + 77;
	char *buf, *sys, *again;
	struct sanverbs_mdl *m;
	char perms[5];

	ck_assert_int_eq(sanverbs_pool_alloc(pool, len + 100, (void **)&buf),
			 0);
	sv_fill_pattern(buf, len + 100, 11);
	m = lock(buf + 100, len, SANVERBS_IO_WRITE_ACCESS);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_NORMAL |
					    SANVERBS_MAPPING_NO_EXECUTE,
				 (void **)&sys),
			 0);
	ck_assert_ptr_nonnull(sys);
	ck_assert_ptr_ne(sys, buf + 100);
	/* same offset into the page as the original (seed 003) */
	ck_assert_uint_eq((uintptr_t)sys % ps, (uintptr_t)(buf + 100) % ps);
	ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_SYSTEM_VA);
	ck_assert_int_eq(memcmp(sys, buf + 100, len), 0);
	/* writes through either address land in the same pages */
	sv_fill_pattern(sys, len, 12);
	ck_assert_int_eq(sv_check_pattern(buf + 100, len, 12), -1);
	sv_fill_pattern(buf + 100, len, 13);
	ck_assert_int_eq(sv_check_pattern(sys, len, 13), -1);
	maps_perms(sys, perms);
	ck_assert_str_eq(perms, "rw-s");
	ck_assert_int_gt(smaps_locked_kb(sys), 0);
	/* repeated calls: the first mapping, whatever the flags */
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_HIGH, (void **)&again),
			 0);
	ck_assert_ptr_eq(again, sys);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_LOW |
					    SANVERBS_MAPPING_NO_WRITE,
				 (void **)&again),
			 0);
	ck_assert_ptr_eq(again, sys);
	/* the pool cannot go while the alias holds its memfd */
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), -EBUSY);
	/* unlock releases the mapping */
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert(!page_mapped(sys));
	ck_assert(!(sanverbs_mdl_flags(m) & SANVERBS_MDL_SYSTEM_VA));
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
}
END_TEST

START_TEST(nowrite_alias_faults)
{
	char *buf, *sys;
	struct sanverbs_mdl *m;
	char perms[5];
	pid_t pid;
	int st;

	ck_assert_int_eq(sanverbs_pool_alloc(pool, 2 * ps, (void **)&buf), 0);
	sv_fill_pattern(buf, 2 * ps, 21);
	m = lock(buf, 2 * ps, SANVERBS_IO_READ_ACCESS);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_HIGH |
					    SANVERBS_MAPPING_NO_WRITE |
					    SANVERBS_MAPPING_NO_EXECUTE,
				 (void **)&sys),
			 0);
	maps_perms(sys, perms);
	ck_assert_str_eq(perms, "r--s");
	ck_assert_int_eq(sv_check_pattern(sys, 2 * ps, 21), -1);
	/* not even mprotect can make it writable */
	ck_assert_int_eq(mprotect(sys, ps, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		((volatile char *)sys)[ps + 3] = 0x42;
		_exit(0); /* reaching here is the failure */
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "write to a NoWrite alias did not fault (status %#x)",
		      st);
	ck_assert_int_eq(sv_check_pattern(buf, 2 * ps, 21), -1);
	/* the library's own fault-safe write says -EFAULT, no signal */
	ck_assert_int_eq(sanverbs_safe_write(sys, "x", 1), -EFAULT);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
}
END_TEST

/* Whether this machine is above the LOW-priority threshold right now. */
static int low_ok(void)
{
	unsigned long long total = 0, avail = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "MemTotal: %llu", &total);
		sscanf(line, "MemAvailable: %llu", &avail);
	}
	fclose(f);
	return !total || avail >= total / 8;
}

START_TEST(alias_survives_munmap)
{
	char *buf, *sys;
	struct sanverbs_mdl *m, *part;
	char *psys;

	ck_assert_int_eq(sanverbs_pool_alloc(pool, 3 * ps, (void **)&buf), 0);
	sv_fill_pattern(buf, 3 * ps, 31);
	m = lock(buf, 3 * ps, SANVERBS_IO_WRITE_ACCESS);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_NORMAL,
				 (void **)&sys),
			 0);
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, buf + ps + 9, ps,
						    &part),
			 0);
	/* LOW is refused only when MemAvailable < MemTotal / 8 */
	if (!low_ok()) {
		ck_assert_int_eq(sanverbs_mdl_system_address(
					 part, SANVERBS_PAGE_PRIORITY_LOW,
					 (void **)&psys),
				 -ENOMEM);
		ck_assert_ptr_null(psys);
	}
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 part, low_ok() ? SANVERBS_PAGE_PRIORITY_LOW
						: SANVERBS_PAGE_PRIORITY_HIGH,
				 (void **)&psys),
			 0);
	ck_assert_int_eq(memcmp(psys, buf + ps + 9, ps), 0);
	/* the application drops its own mapping of the buffer */
	ck_assert_int_eq(munmap(buf, 3 * ps), 0);
	ck_assert(!page_mapped(buf));
	ck_assert_int_eq(sv_check_pattern(sys, 3 * ps, 31), -1);
	sv_fill_pattern(sys, 3 * ps, 32);
	ck_assert_int_eq(sv_check_pattern(sys, 3 * ps, 32), -1);
	ck_assert_int_eq(memcmp(psys, sys + ps + 9, ps), 0);
	/* the partial's alias goes with the partial */
	ck_assert_int_eq(sanverbs_mdl_free(part), 0);
	ck_assert(!page_mapped(psys));
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	/* give the pool its pages back before destroy unmaps them */
	ck_assert_ptr_ne(mmap(buf, 3 * ps, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			      -1, 0),
			 MAP_FAILED);
}
END_TEST

START_TEST(pool_alloc_free)
{
	void *a, *b, *c;

	ck_assert_int_eq(sanverbs_pool_alloc(pool, 1, &a), 0);
	ck_assert_uint_eq((uintptr_t)a % ps, 0);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, POOL_SIZE, &b), -ENOMEM);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, POOL_SIZE - ps, &b), 0);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 1, &c), -ENOMEM);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(sanverbs_pool_free(pool, (char *)b + 1), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_free(pool, b), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, b), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 2 * ps, &c), 0);
	ck_assert_ptr_eq(c, (char *)a + ps);
	ck_assert_int_eq(sanverbs_pool_free(pool, a), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, c), 0);
	/* resident and locked from the start */
	ck_assert_int_gt(smaps_locked_kb(a), 0);
	ck_assert_uint_eq(sanverbs_pool_lkey(pool), 0);
	ck_assert_uint_eq(sanverbs_pool_rkey(pool), 0);
}
END_TEST

START_TEST(pool_bad_args)
{
	struct sanverbs_pool *p = (struct sanverbs_pool *)1;
	void *b = (void *)1;
	char stack[16] = { 0 }; /* not a handle: no magic */

	ck_assert_int_eq(sanverbs_pool_create(NULL, 0, 0, &p), -EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(sanverbs_pool_create(NULL, 4096, 0, NULL), -EINVAL);
	/* access bits need a ctx to register with */
	ck_assert_int_eq(sanverbs_pool_create(NULL, 4096,
					      SANVERBS_ACCESS_REMOTE_READ, &p),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_pool_create(NULL, SIZE_MAX, 0, &p), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_destroy(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_destroy((struct sanverbs_pool *)stack),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_pool_alloc(NULL, 8, &b), -EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 0, &b), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 8, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, SIZE_MAX, &b), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_free(NULL, stack), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_free(pool, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_free(pool, stack), -EINVAL);
	ck_assert_uint_eq(sanverbs_pool_lkey(NULL), 0);
	ck_assert_uint_eq(sanverbs_pool_rkey(NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mdl-pool");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, alias_same_bytes);
	tcase_add_test(tc, nowrite_alias_faults);
	tcase_add_test(tc, alias_survives_munmap);
	tcase_add_test(tc, pool_alloc_free);
	tcase_add_test(tc, pool_bad_args);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
