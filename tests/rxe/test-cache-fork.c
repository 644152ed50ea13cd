/* SPDX-License-Identifier: MIT */
/* Description: the cache across fork() and without privileges, on rxe.
 * Fork: the parent's cached registration stays exact. A child that writes
 * to and unmaps its copy of a cached buffer neither hangs (the monitor is
 * not the child's: userfaultfd registrations are not inherited without
 * UFFD_FEATURE_EVENT_FORK) nor touches the parent's cache or pages; the
 * parent's next registration hits and the HCA's bytes land in the parent's
 * buffer (kernels >= 5.13 copy pinned pages for the child at fork).
 * Unprivileged: a child that dropped to uid/gid 65534, with /dev/userfaultfd
 * closed to it and vm.unprivileged_userfaultfd=0, gets the
 * UFFD_USER_MODE_ONLY monitor, caches and invalidates exactly, and kernel
 * accesses (read() into, and pinning of, zapped pages of a watched range)
 * succeed instead of failing with EFAULT/SIGBUS. Under the kmod monitor
 * (kmod suite) the same child uses the module's notifier instead, and a
 * fork() that splits a pinned transparent huge page is not a change while
 * a zap of that block is. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-cache-common.h"

#define LEN (128u << 10)

/* Waits for @pid at most @secs; kills it and fails if it does not end. */
static int wait_child(pid_t pid, double secs)
{
	double end = now_s() + secs;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		ck_assert_int_eq(r, 0);
		if (now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("child %d did not finish in %.0f s", pid,
				     secs);
		}
		usleep(10000);
	}
	ck_assert_msg(WIFEXITED(status), "child died by signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return WEXITSTATUS(status);
}

START_TEST(fork_keeps_parent_exact)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_cache_stats a;
	pid_t pid;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(land(p, LEN, 1), 0);
	ck_assert_int_eq(land(p, LEN, 2), 1);
	a = stats();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* the child only touches memory: verbs objects are the
		 * parent's */
		memset(p, 0xcc, LEN);
		if (munmap(p, LEN))
			_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(wait_child(pid, 20), 0);
	/* nothing of the child's reached the parent */
	ck_assert_int_eq(sv_check_pattern(p, LEN, 2), -1);
	ck_assert_uint_eq(stats().invalidations, a.invalidations);
	ck_assert_int_eq(land(p, LEN, 3), 1);
	/* and the parent's monitor still works after the fork */
	ck_assert_int_eq(munmap(p, LEN), 0);
	assert_invalidated_since(a.invalidations);
}
END_TEST

/* AnonHugePages of the mapping that holds @p, in kB, from smaps. */
static long anon_huge_kb(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi;
	char line[256];
	long kb = -1;
	int in = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int thp_enabled(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strstr(buf, "[never]");
}

/* fork() of a pinned THP splits its pmd in the parent (copy_huge_pmd() ->
 * __split_huge_pmd()), which an mmu notifier sees as MMU_NOTIFY_CLEAR of
 * the block, the same as a zap of it. The pages stay the same, so it must
 * not count as a change (kmod: the module records the huge page and
 * revalidates); a real zap of exactly that block right after must. */
START_TEST(fork_splits_thp_not_a_change)
{
	const size_t huge = 2u << 20;
	uint8_t *raw = mmap(NULL, 4 * huge, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_cache_stats a;
	uint8_t *p;
	pid_t pid;

	ck_assert_ptr_ne(raw, MAP_FAILED);
	p = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	ck_assert_int_eq(madvise(p, huge, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(land(p, huge, 1), 0);
	if (thp_enabled())
		ck_assert_msg(anon_huge_kb(p) >= 2048,
			      "no THP behind the block: the split is not tested");
	ck_assert_int_eq(land(p, huge, 2), 1);
	a = stats();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		memset(p, 0xcc, huge);
		_exit(munmap(raw, 4 * huge) ? 2 : 0);
	}
	ck_assert_int_eq(wait_child(pid, 20), 0);
	ck_assert_int_eq(sv_check_pattern(p, huge, 2), -1);
	ck_assert_int_eq(land(p, huge, 3), 1);
	ck_assert_uint_eq(stats().invalidations, a.invalidations);
	/* now a zap of exactly the block: a change */
	ck_assert_int_eq(madvise(p, huge, MADV_DONTNEED), 0);
	ck_assert_int_eq(land(p, huge, 4), 0);
	ck_assert_uint_gt(stats().invalidations, a.invalidations);
	/* the same on a block still mapped by its huge pmd, the case the
	 * module cannot tell from a split until it looks again (a zapped
	 * block keeps its page table, so use a fresh one) */
	p += huge;
	ck_assert_int_eq(madvise(p, huge, MADV_HUGEPAGE), 0);
	ck_assert_int_eq(land(p, huge, 5), 0);
	if (thp_enabled())
		ck_assert_msg(anon_huge_kb(p) >= 2048, "no THP behind block 2");
	ck_assert_int_eq(land(p, huge, 6), 1);
	a = stats();
	ck_assert_int_eq(madvise(p, huge, MADV_DONTNEED), 0);
	ck_assert_int_eq(land(p, huge, 7), 0);
	ck_assert_uint_gt(stats().invalidations, a.invalidations);
	munmap(raw, 4 * huge);
}
END_TEST

/* Child side of the unprivileged test; returns a nonzero step number on
 * the first failure (Check's assertions belong to the parent). */
static int unprivileged_child(void)
{
	struct sanverbs_ctx_attr attr;
	struct sanverbs_cache_stats s0, s1;
	struct sv_qp_pair qp;
	struct sanverbs_mr *pm, *mr;
	uint8_t *src, *p;
	int fds[2], fd;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 1;
	fd = open("/dev/userfaultfd", O_RDWR);
	if (fd >= 0)
		return 2; /* the test would not test what it says */
	if (sanverbs_ctx_attr_init(&attr))
		return 3;
	attr.device = getenv("SANVERBS_RXE_DEV");
	/* kmod suite: the module's monitor works for anyone (0666 node) */
	if (attr.monitor != SANVERBS_MONITOR_KMOD)
		attr.monitor = SANVERBS_MONITOR_UFFD;
	if (sanverbs_ctx_open(&attr, &ctx))
		return 4;
	if (sanverbs_cache_stats(ctx, &s0) || s0.monitor != attr.monitor ||
	    (attr.monitor == SANVERBS_MONITOR_UFFD &&
	     !(s0.flags & SANVERBS_CACHE_F_UFFD_USER_MODE)))
		return 5;
	if (sv_qp_pair_create(ctx, &qp))
		return 6;
	src = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || p == MAP_FAILED)
		return 7;
	if (sanverbs_mr_reg(ctx, src, LEN, SANVERBS_ACCESS_REMOTE_READ, &pm))
		return 8;
	memset(p, 0, LEN);
	if (sanverbs_mr_reg(ctx, p, LEN, SANVERBS_ACCESS_LOCAL_WRITE, &mr) ||
	    sanverbs_mr_dereg(mr))
		return 9;
	/* zap the cached range, then let the kernel touch it */
	if (madvise(p, LEN, MADV_DONTNEED))
		return 10;
	if (pipe(fds))
		return 11;
	if (write(fds[1], "kernel-write", 12) != 12)
		return 12;
	if (read(fds[0], p + LEN / 2, 12) != 12 ||
	    memcmp(p + LEN / 2, "kernel-write", 12))
		return 13; /* EFAULT here is the MISSING-mode hazard */
	/* pinning faults the zapped pages in from the kernel */
	sanverbs_cache_stats(ctx, &s0);
	if (sanverbs_mr_reg(ctx, p, LEN, SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 14;
	sanverbs_cache_stats(ctx, &s1);
	if (s1.hits != s0.hits) /* the zap invalidated the entry */
		return 15;
	sv_fill_pattern(src, LEN, 9);
	if (sv_rdma_read(&qp, p, sanverbs_mr_lkey(mr), LEN, (uintptr_t)src,
			 sanverbs_mr_rkey(pm)) != IBV_WC_SUCCESS ||
	    sv_check_pattern(p, LEN, 9) != -1)
		return 16;
	if (sanverbs_mr_dereg(mr))
		return 17;
	/* cached again, and a hit now */
	if (sanverbs_mr_reg(ctx, p, LEN, SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 18;
	sanverbs_cache_stats(ctx, &s0);
	if (s0.hits != s1.hits + 1 || sanverbs_mr_dereg(mr))
		return 19;
	/* munmap + new memory at the same place: bytes in the new pages */
	if (munmap(p, LEN) ||
	    mmap(p, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
		return 20;
	if (sanverbs_mr_reg(ctx, p, LEN, SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 21;
	sanverbs_cache_stats(ctx, &s1);
	sv_fill_pattern(src, LEN, 10);
	if (s1.hits != s0.hits ||
	    sv_rdma_read(&qp, p, sanverbs_mr_lkey(mr), LEN, (uintptr_t)src,
			 sanverbs_mr_rkey(pm)) != IBV_WC_SUCCESS ||
	    sv_check_pattern(p, LEN, 10) != -1)
		return 22;
	sanverbs_mr_dereg(mr);
	sanverbs_mr_dereg(pm);
	sv_qp_pair_destroy(&qp);
	sanverbs_ctx_close(ctx);
	return 0;
}

static int read_sysctl(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static void write_sysctl(const char *path, int v)
{
	char buf[16];
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	snprintf(buf, sizeof(buf), "%d\n", v);
	ck_assert_int_gt(write(fd, buf, strlen(buf)), 0);
	close(fd);
}

START_TEST(unprivileged_user_mode_only)
{
	static const char knob[] = "/proc/sys/vm/unprivileged_userfaultfd";
	int old = read_sysctl(knob);
	pid_t pid;
	int rc;

	if (geteuid() != 0) {
		/* already unprivileged: run the checks in this process */
		ck_assert_int_eq(unprivileged_child(), 0);
		return;
	}
	ck_assert_int_ge(old, 0);
	if (old != 0)
		write_sysctl(knob, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(unprivileged_child());
	rc = wait_child(pid, 120);
	if (old != 0)
		write_sysctl(knob, old);
	ck_assert_msg(rc == 0, "unprivileged child failed at step %d", rc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-fork");
	TCase *tc = tcase_create("fork");
	TCase *tu = tcase_create("unprivileged");

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fork_keeps_parent_exact);
	tcase_add_test(tc, fork_splits_thp_not_a_change);
	suite_add_tcase(s, tc);
	tcase_set_timeout(tu, 180);
	tcase_add_test(tu, unprivileged_user_mode_only);
	suite_add_tcase(s, tu);
	return sv_test_run_rxe(s);
}
