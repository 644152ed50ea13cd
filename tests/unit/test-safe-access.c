/* SPDX-License-Identifier: MIT */
/* Description: the fault-safe copy helper every library access to
 * application memory goes through. Reads from and writes to unmapped,
 * PROT_NONE, read-only and half-unmapped buffers return -EFAULT instead
 * of a signal, good buffers copy every byte, and a page-straddling copy
 * that faults keeps its valid prefix. Both back ends are run: the
 * process_vm_readv/writev one and the pipe fallback used when seccomp
 * forbids process_vm_*; the public wrappers are checked as well. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sv-test.h"
#include "safe_access.h"

static long ps;
static char *rw, *ro, *none, *hole, *half;
static char local[3 * 65536];

static void setup(void)
{
	ps = sysconf(_SC_PAGESIZE);
	rw = mmap(NULL, 16 * ps, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 2 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, 2 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	hole = mmap(NULL, 2 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	half = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(rw != MAP_FAILED && ro != MAP_FAILED && none != MAP_FAILED &&
		  hole != MAP_FAILED && half != MAP_FAILED);
	munmap(hole, 2 * ps);
	munmap(half + ps, ps);
	sv_safe_force_pipe = 0;
}

static void teardown(void)
{
	munmap(rw, 16 * ps);
	munmap(ro, 2 * ps);
	munmap(none, 2 * ps);
	munmap(half, ps);
}

static void run_matrix(void)
{
	size_t big = 12 * ps + 5; /* more than a pipe chunk */

	sv_fill_pattern(rw, big, 1);
	memset(local, 0, sizeof(local));
	ck_assert_int_eq(sv_safe_read(local, rw + 3, big - 3), 0);
	ck_assert_int_eq(memcmp(local, rw + 3, big - 3), 0);
	sv_fill_pattern(local, big, 2);
	ck_assert_int_eq(sv_safe_write(rw + 1, local, big), 0);
	ck_assert_int_eq(sv_check_pattern(rw + 1, big, 2), -1);

	ck_assert_int_eq(sv_safe_read(local, ro, 2 * ps), 0);
	ck_assert_int_eq(sv_safe_write(ro + 5, local, 10), -EFAULT);
	ck_assert_int_eq(sv_safe_read(local, none + 1, 10), -EFAULT);
	ck_assert_int_eq(sv_safe_write(none, local, 10), -EFAULT);
	ck_assert_int_eq(sv_safe_read(local, hole, 2 * ps), -EFAULT);
	ck_assert_int_eq(sv_safe_write(hole + ps, local, 1), -EFAULT);

	/* straddles into the unmapped page: -EFAULT, the prefix landed */
	memset(half, 0x61, ps);
	memset(local, 0, sizeof(local));
	ck_assert_int_eq(sv_safe_read(local, half + ps - 100, 200), -EFAULT);
	ck_assert_int_eq(local[0], 0x61);
	ck_assert_int_eq(local[99], 0x61);
	memset(local, 0x7a, 200);
	ck_assert_int_eq(sv_safe_write(half + ps - 100, local, 200), -EFAULT);
	ck_assert_int_eq(half[ps - 100], 0x7a);
	ck_assert_int_eq(half[ps - 1], 0x7a);

	/* bad arguments */
	ck_assert_int_eq(sv_safe_read(NULL, rw, 1), -EINVAL);
	ck_assert_int_eq(sv_safe_read(local, NULL, 1), -EINVAL);
	ck_assert_int_eq(sv_safe_read(local, rw, 0), -EINVAL);
	ck_assert_int_eq(sv_safe_write(local, (void *)(UINTPTR_MAX - 3), 8),
			 -EINVAL);
	ck_assert_int_eq(sv_safe_write((void *)(UINTPTR_MAX - 3), local, 8),
			 -EINVAL);
}

START_TEST(process_vm_backend)
{
	run_matrix();
}
END_TEST

START_TEST(pipe_backend)
{
	sv_safe_force_pipe = 1;
	run_matrix();
}
END_TEST

START_TEST(public_wrappers)
{
	char b[8] = "abcdefg";

	ck_assert_int_eq(sanverbs_safe_write(rw, b, sizeof(b)), 0);
	ck_assert_str_eq(rw, "abcdefg");
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(sanverbs_safe_read(b, rw, sizeof(b)), 0);
	ck_assert_str_eq(b, "abcdefg");
	ck_assert_int_eq(sanverbs_safe_read(b, none, sizeof(b)), -EFAULT);
	ck_assert_int_eq(sanverbs_safe_write(ro, b, sizeof(b)), -EFAULT);
	ck_assert_int_eq(sanverbs_safe_read(b, NULL, sizeof(b)), -EINVAL);
	ck_assert_int_eq(sanverbs_safe_write(NULL, b, sizeof(b)), -EINVAL);
	ck_assert_int_eq(sanverbs_safe_write(rw, b, 0), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("safe-access");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, process_vm_backend);
	tcase_add_test(tc, pipe_backend);
	tcase_add_test(tc, public_wrappers);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
