/* SPDX-License-Identifier: MIT */
/* Description: sanverbs_pool_create() refuses a pool it could never pin,
 * before populating any of it. Over RLIMIT_MEMLOCK without CAP_IPC_LOCK it
 * is -ENOMEM with the process's peak RSS unchanged (populating first let
 * the OOM killer pick a victim for a pool that would fail anyway); larger
 * than the memory available it is -ENOMEM even with CAP_IPC_LOCK. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "sv-test.h"

#define BIG (64ul << 20)

/* Peak RSS of this process in kB (VmHWM). */
static long hwm_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	return (int)syscall(SYS_capset, &h, d);
}

/* In a child, so the limit, the capability and the peak RSS are its own
 * (a child's VmHWM starts at its RSS at fork). Exit status = failing step. */
static int over_memlock_child(void)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };
	struct sanverbs_pool *pool;
	long before, after;

	if (drop_cap_ipc_lock())
		return 2;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 3;
	before = hwm_kb();
	if (before < 0)
		return 4;
	if (sanverbs_pool_create(NULL, BIG, 0, &pool) != -ENOMEM || pool)
		return 5;
	after = hwm_kb();
	/* the pool's pages were never faulted in */
	if (after - before > (long)(BIG >> 10) / 8) {
		fprintf(stderr, "peak RSS grew by %ld kB\n", after - before);
		return 6;
	}
	/* and a pool within the limit still works */
	if (sanverbs_pool_create(NULL, 256 << 10, 0, &pool) ||
	    sanverbs_pool_destroy(pool))
		return 7;
	return 0;
}

START_TEST(over_memlock_limit)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(over_memlock_child());
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child failed at step %d (status %#x)", WEXITSTATUS(st), st);
}
END_TEST

START_TEST(larger_than_memory)
{
	unsigned long long ram = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
				 (unsigned long long)sysconf(_SC_PAGESIZE);
	struct sanverbs_pool *pool;
	long before = hwm_kb();

	/* Whatever the limit and the capabilities: twice the RAM cannot be
	 * pinned. Nothing may be populated first. */
	ck_assert_int_eq(sanverbs_pool_create(NULL, (size_t)(2 * ram), 0, &pool),
			 -ENOMEM);
	ck_assert_ptr_null(pool);
	ck_assert_int_le(hwm_kb() - before, (long)(BIG >> 10) / 8);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool-limits");
	TCase *tc = tcase_create("host");

	tcase_add_test(tc, over_memlock_limit);
	tcase_add_test(tc, larger_than_memory);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
