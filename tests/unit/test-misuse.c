/* SPDX-License-Identifier: MIT */
/* Description: misuse of the handles that need no device fails cleanly.
 * Freeing an MDL, a low-memory buffer or a pool twice, or calling through
 * one after its free, is -EINVAL (their memory is type-stable, so this is
 * never a use-after-free); a handle made before fork() is -ECHILD in the
 * child and the parent's copy is untouched; sanverbs_strerror() answers
 * every int, INT_MIN included (no signed overflow). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv-test.h"

START_TEST(strerror_any_int)
{
	const char *not_ours = sanverbs_strerror(1);
	static const int outside[] = { INT_MIN, INT_MIN + 1, -4096, -100000,
				       INT_MAX };
	size_t i;

	ck_assert_str_eq(sanverbs_strerror(0), "Success");
	ck_assert_str_eq(sanverbs_strerror(-EINVAL), strerror(EINVAL));
	ck_assert_str_eq(sanverbs_strerror(-ECHILD), strerror(ECHILD));
	ck_assert_ptr_nonnull(sanverbs_strerror(-4095));
	/* Below the kernel's errno range nothing is an error code; a
	 * negated INT_MIN would not even be an int. */
	for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
		ck_assert_str_eq(sanverbs_strerror(outside[i]), not_ours);
}
END_TEST

START_TEST(mdl_twice)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_mdl *m, *part;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 2 * ps, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_WRITE_ACCESS), 0);
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p, ps, &part), 0);
	ck_assert_int_eq(sanverbs_mdl_free(part), 0);
	ck_assert_int_eq(sanverbs_mdl_free(part), -EINVAL);
	/* the parent's partial count was not decremented twice */
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_READ_ACCESS),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p, ps, &part), -EINVAL);
	ck_assert_ptr_null(sanverbs_mdl_va(m));
	ck_assert_uint_eq(sanverbs_mdl_byte_count(m), 0);
	ck_assert_uint_eq(sanverbs_mdl_page_count(m), 0);
	ck_assert_ptr_null(sanverbs_mdl_pfns(m));
	munmap(p, 2 * ps);
}
END_TEST

START_TEST(lowmem_twice)
{
	struct sanverbs_lowmem *b;
	uint64_t phys;

	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_ANY, 0,
					       &b), 0);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	ck_assert_int_eq(sanverbs_lowmem_free(b), -EINVAL);
	ck_assert_ptr_null(sanverbs_lowmem_addr(b));
	ck_assert_uint_eq(sanverbs_lowmem_length(b), 0);
	ck_assert_int_eq(sanverbs_lowmem_source(b), -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_phys(b, &phys), -EINVAL);
}
END_TEST

START_TEST(pool_after_destroy)
{
	struct sanverbs_pool *pool;
	void *buf;

	ck_assert_int_eq(sanverbs_pool_create(NULL, 4 * 4096, 0, &pool), 0);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 4096, &buf), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), -EINVAL);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, 4096, &buf), -EINVAL);
	ck_assert_ptr_null(buf);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), -EINVAL);
}
END_TEST

/* Each step's number is the child's exit status when it fails. */
static int child_refused(struct sanverbs_mdl *m, struct sanverbs_pool *pool,
			 void *buf)
{
	void *other;

	if (sanverbs_mdl_unlock(m) != -ECHILD)
		return 2;
	if (sanverbs_mdl_free(m) != -ECHILD)
		return 3;
	if (sanverbs_mdl_flags(m) != 0)
		return 4;
	if (sanverbs_pool_free(pool, buf) != -ECHILD)
		return 5;
	if (sanverbs_pool_alloc(pool, 4096, &other) != -ECHILD)
		return 6;
	if (sanverbs_pool_destroy(pool) != -ECHILD)
		return 7;
	return 0;
}

START_TEST(fork_child_refused)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *m;
	void *buf;
	pid_t pid;
	int st;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, ps, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_WRITE_ACCESS), 0);
	ck_assert_int_eq(sanverbs_pool_create(NULL, 2 * ps, 0, &pool), 0);
	ck_assert_int_eq(sanverbs_pool_alloc(pool, ps, &buf), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child_refused(m, pool, buf));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child failed at step %d (status %#x)", WEXITSTATUS(st), st);
	/* the parent's handles are as they were */
	ck_assert_uint_ne(sanverbs_mdl_flags(m) & SANVERBS_MDL_LOCKED, 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), -EBUSY);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);
	munmap(p, ps);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("misuse");
	TCase *tc = tcase_create("host");

	setenv("SANVERBS_KMOD_DEV", "/nonexistent/sanverbs", 1);
	tcase_add_test(tc, strerror_any_int);
	tcase_add_test(tc, mdl_twice);
	tcase_add_test(tc, lowmem_twice);
	tcase_add_test(tc, pool_after_destroy);
	tcase_add_test(tc, fork_child_refused);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
