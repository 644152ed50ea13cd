/* Description: MDLs on the host kernel, no RDMA device. Probe-and-lock is
 * tried for read, write and modify access against read-write, read-only,
 * PROT_NONE, unmapped, partially unmapped and past-EOF file mappings and
 * must return 0/-EACCES/-EFAULT without a signal. Locks are counted per
 * page (witness: "Locked:" in /proc/self/smaps), page frames match
 * /proc/self/pagemap as root and read UNAVAILABLE after dropping
 * privileges (also through a fork and after the application reused the
 * number of the library's pagemap fd), a lock over RLIMIT_MEMLOCK fails with -ENOMEM and leaves
 * nothing locked, partial MDLs share the source's frames, state misuse gives
 * clear errors, and a system address of non-pool memory is -EOPNOTSUPP
 * when /dev/sanverbs is absent. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv-test.h"
#include "mdl-helpers.h"

static long ps;

static void setup(void)
{
	ps = sysconf(_SC_PAGESIZE);
}

static char *map_pages(size_t n, int prot)
{
	char *p = mmap(NULL, n * ps, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* One probe: create an MDL over [p + off, + len), lock for @op, compare
 * the result, unlock on success. */
static void probe_expect(char *p, size_t len, enum sanverbs_lock_op op,
			 int want)
{
	struct sanverbs_mdl *m;
	int ret;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, len, &m), 0);
	ret = sanverbs_mdl_probe_and_lock(m, op);
	ck_assert_msg(ret == want, "op %d at %p+%zu: got %d (%s), want %d", op,
		      (void *)p, len, ret, sanverbs_strerror(ret), want);
	if (!ret) {
		ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_LOCKED);
		ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	}
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
}

START_TEST(probe_matrix)
{
	static const enum sanverbs_lock_op ops[] = {
		SANVERBS_IO_READ_ACCESS, SANVERBS_IO_WRITE_ACCESS,
		SANVERBS_IO_MODIFY_ACCESS
	};
	char *rw = map_pages(4, PROT_READ | PROT_WRITE);
	char *ro = map_pages(4, PROT_READ);
	char *none = map_pages(4, PROT_NONE);
	char *hole = map_pages(4, PROT_READ | PROT_WRITE);
	char *part = map_pages(4, PROT_READ | PROT_WRITE);
	size_t i;

	ck_assert_int_eq(munmap(hole, 4 * ps), 0);
	ck_assert_int_eq(munmap(part + 2 * ps, 2 * ps), 0);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int w = ops[i] != SANVERBS_IO_READ_ACCESS;

		probe_expect(rw + 7, 3 * ps, ops[i], 0);
		probe_expect(ro + 7, 3 * ps, ops[i], w ? -EACCES : 0);
		probe_expect(none, 4 * ps, ops[i], -EACCES);
		probe_expect(hole, 4 * ps, ops[i], -EFAULT);
		probe_expect(part + 100, 3 * ps, ops[i], -EFAULT);
		/* the mapped head alone is fine */
		probe_expect(part + 100, ps, ops[i], 0);
	}
	/* a read-write page followed by PROT_NONE: the probe must not stop
	 * at the first good page */
	ck_assert_int_eq(mprotect(rw + 2 * ps, ps, PROT_NONE), 0);
	probe_expect(rw, 4 * ps, SANVERBS_IO_READ_ACCESS, -EACCES);
	/* a failed probe leaves no lock behind */
	ck_assert_int_eq(smaps_locked_kb(rw), 0);
	munmap(rw, 4 * ps);
	munmap(ro, 4 * ps);
	munmap(none, 4 * ps);
	munmap(part, 2 * ps);
}
END_TEST

START_TEST(probe_past_eof_is_efault)
{
	char path[] = "/tmp/sv-mdl-XXXXXX";
	int fd = mkstemp(path);
	char *p;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(ftruncate(fd, ps), 0);
	/* two pages mapped, one in the file: touching the second is SIGBUS */
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	probe_expect(p, ps, SANVERBS_IO_WRITE_ACCESS, 0);
	probe_expect(p, 2 * ps, SANVERBS_IO_READ_ACCESS, -EFAULT);
	probe_expect(p, 2 * ps, SANVERBS_IO_WRITE_ACCESS, -EFAULT);
	munmap(p, 2 * ps);
	close(fd);
}
END_TEST

START_TEST(describe_geometry)
{
	char *p = map_pages(3, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *m;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p + ps - 1, 2, &m), 0);
	ck_assert_ptr_eq(sanverbs_mdl_va(m), p + ps - 1);
	ck_assert_uint_eq(sanverbs_mdl_byte_offset(m), ps - 1);
	ck_assert_uint_eq(sanverbs_mdl_byte_count(m), 2);
	ck_assert_uint_eq(sanverbs_mdl_page_count(m), 2);
	ck_assert_uint_eq(sanverbs_mdl_flags(m), 0);
	ck_assert_ptr_null(sanverbs_mdl_pfns(m)); /* not locked yet */
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 3 * ps, &m), 0);
	ck_assert_uint_eq(sanverbs_mdl_page_count(m), 3);
	ck_assert_uint_eq(sanverbs_mdl_byte_offset(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	munmap(p, 3 * ps);
}
END_TEST

START_TEST(counted_locks_overlap)
{
	char *p = map_pages(5, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *a, *b;

	/* a covers pages 0-2, b covers pages 2-4: page 2 is shared */
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p + 10, 3 * ps - 20, &a), 0);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p + 2 * ps + 5, 3 * ps - 10,
					     &b),
			 0);
	ck_assert_int_eq(smaps_locked_kb(p), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(a, SANVERBS_IO_WRITE_ACCESS),
			 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(b, SANVERBS_IO_READ_ACCESS),
			 0);
	ck_assert_int_gt(smaps_locked_kb(p), 0);
	ck_assert_int_gt(smaps_locked_kb(p + 2 * ps), 0);
	ck_assert_int_gt(smaps_locked_kb(p + 4 * ps), 0);

	ck_assert_int_eq(sanverbs_mdl_unlock(a), 0);
	/* a's own pages are unlocked, the shared page stays locked for b */
	ck_assert_int_eq(smaps_locked_kb(p), 0);
	ck_assert_int_eq(smaps_locked_kb(p + ps), 0);
	ck_assert_int_eq(smaps_locked_kb(p + 2 * ps), ps / 1024 * 3);
	ck_assert_int_gt(smaps_locked_kb(p + 4 * ps), 0);

	ck_assert_int_eq(sanverbs_mdl_unlock(b), 0);
	ck_assert_int_eq(smaps_locked_kb(p + 2 * ps), 0);
	ck_assert_int_eq(smaps_locked_kb(p + 4 * ps), 0);
	ck_assert_int_eq(sanverbs_mdl_free(a), 0);
	ck_assert_int_eq(sanverbs_mdl_free(b), 0);
	munmap(p, 5 * ps);
}
END_TEST

START_TEST(same_range_twice)
{
	char *p = map_pages(2, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *a, *b;
	unsigned char vec[2];

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 2 * ps, &a), 0);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 2 * ps, &b), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(a, SANVERBS_IO_READ_ACCESS),
			 0);
	/* resident after the probe, without anyone touching the pages */
	ck_assert_int_eq(mincore(p, 2 * ps, vec), 0);
	ck_assert(vec[0] & 1);
	ck_assert(vec[1] & 1);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(b,
						     SANVERBS_IO_MODIFY_ACCESS),
			 0);
	ck_assert_int_eq(smaps_locked_kb(p), 2 * ps / 1024);
	ck_assert_int_eq(sanverbs_mdl_unlock(b), 0);
	ck_assert_int_eq(smaps_locked_kb(p), 2 * ps / 1024);
	ck_assert_int_eq(sanverbs_mdl_unlock(a), 0);
	ck_assert_int_eq(smaps_locked_kb(p), 0);
	ck_assert_int_eq(sanverbs_mdl_free(a), 0);
	ck_assert_int_eq(sanverbs_mdl_free(b), 0);
	munmap(p, 2 * ps);
}
END_TEST

START_TEST(state_errors)
{
	char *p = map_pages(1, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *m;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 64, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), -EINVAL); /* never locked */
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_READ_ACCESS),
			 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_READ_ACCESS),
			 -EBUSY);
	ck_assert_int_eq(sanverbs_mdl_free(m), -EBUSY);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), -EINVAL); /* twice */
	ck_assert_uint_eq(sanverbs_mdl_flags(m), 0);
	/* an MDL can be locked again after an unlock (MmPrepareMdlForReuse) */
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_WRITE_ACCESS),
			 0);
	ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_WRITE);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	munmap(p, ps);
}
END_TEST

/* Reads pagemap ourselves: the independent witness for the MDL's frames. */
static uint64_t pagemap_pfn(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &e, 8, (off_t)((uintptr_t)addr / ps * 8)),
			 8);
	close(fd);
	return e & ((1ull << 55) - 1);
}

static void check_pfns(char *p, size_t n)
{
	struct sanverbs_mdl *m;
	const uint64_t *pfn;
	size_t i;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p + 1, n * ps - 2, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_WRITE_ACCESS),
			 0);
	pfn = sanverbs_mdl_pfns(m);
	ck_assert_ptr_nonnull(pfn);
	if (pagemap_pfn(p)) {
		ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_PFN_VALID);
		for (i = 0; i < n; i++) {
			ck_assert_uint_ne(pfn[i], 0);
			ck_assert_uint_eq(pfn[i], pagemap_pfn(p + i * ps));
		}
	} else {
		ck_assert(!(sanverbs_mdl_flags(m) & SANVERBS_MDL_PFN_VALID));
		for (i = 0; i < n; i++)
			ck_assert_uint_eq(pfn[i], SANVERBS_PFN_UNAVAILABLE);
	}
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
}

START_TEST(page_frames)
{
	char *p = map_pages(4, PROT_READ | PROT_WRITE);
	pid_t pid;
	int st;

	if (geteuid() == 0) {
		check_pfns(p, 4);
		/* distinct anonymous pages have distinct frames */
		ck_assert_uint_ne(pagemap_pfn(p), pagemap_pfn(p + ps));
	}
	/* Without CAP_SYS_ADMIN the frames must read UNAVAILABLE, not 0. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(2);
		/* setuid made us non-dumpable, which hides /proc/self */
		prctl(PR_SET_DUMPABLE, 1);
		if (pagemap_pfn(p) != 0)
			_exit(3); /* still privileged: the test is void */
		check_pfns(p, 4);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "unprivileged child status %#x", st);
	munmap(p, 4 * ps);
}
END_TEST

/* The library keeps its pagemap fd open between reads. An application
 * that closes it and gets the number back for another file must not make
 * the library read frames out of that file. */
START_TEST(pagemap_fd_reused)
{
	char *p = map_pages(4, PROT_READ | PROT_WRITE);
	char link[64], target[256], want[64];
	int fd, zero, found = 0;
	ssize_t n;

	if (geteuid() != 0) {
		munmap(p, 4 * ps);
		return; /* frames read UNAVAILABLE either way */
	}
	check_pfns(p, 4); /* opens the library's fd */
	snprintf(want, sizeof(want), "/proc/%d/pagemap", (int)getpid());
	zero = open("/dev/zero", O_RDONLY);
	ck_assert_int_ge(zero, 0);
	for (fd = 3; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0 || fd == zero)
			continue;
		target[n] = '\0';
		if (strcmp(target, want))
			continue;
		/* zeros from /dev/zero would read as "not present" */
		ck_assert_int_eq(dup2(zero, fd), fd);
		found++;
	}
	ck_assert_int_ge(found, 1);
	check_pfns(p, 4);
	close(zero);
	munmap(p, 4 * ps);
}
END_TEST

/* Child body: unprivileged, 16 pages of RLIMIT_MEMLOCK. Exit code says
 * which step failed. */
static int memlock_child(char *p)
{
	struct rlimit rl = { 16 * ps, 16 * ps };
	struct sanverbs_mdl *a, *b;

	if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
		return 2;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 3;
	if (sanverbs_mdl_create(NULL, p, 8 * ps, &a) ||
	    sanverbs_mdl_probe_and_lock(a, SANVERBS_IO_WRITE_ACCESS))
		return 4;
	/* pages 4..35: 4 shared with a, 28 new, 8 + 28 > 16 */
	if (sanverbs_mdl_create(NULL, p + 4 * ps, 32 * ps, &b))
		return 5;
	if (sanverbs_mdl_probe_and_lock(b, SANVERBS_IO_WRITE_ACCESS) != -ENOMEM)
		return 6;
	if (sanverbs_mdl_unlock(b) != -EINVAL) /* nothing was locked */
		return 7;
	sanverbs_mdl_free(b);
	prctl(PR_SET_DUMPABLE, 1);
	if (smaps_locked_kb(p + 8 * ps) != 0 ||
	    smaps_locked_kb(p) != 8 * ps / 1024)
		return 8;
	/* a's pages are still a's: its unlock frees the limit for b */
	if (sanverbs_mdl_unlock(a))
		return 9;
	sanverbs_mdl_free(a);
	if (sanverbs_mdl_create(NULL, p, 16 * ps, &b) ||
	    sanverbs_mdl_probe_and_lock(b, SANVERBS_IO_READ_ACCESS))
		return 10;
	/* clean up, so valgrind's leak check (which runs in this child too)
	 * does not turn the exit status into its own error code */
	if (sanverbs_mdl_unlock(b))
		return 11;
	sanverbs_mdl_free(b);
	return 0;
}

START_TEST(memlock_limit_rolls_back)
{
	char *p = map_pages(40, PROT_READ | PROT_WRITE);
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(memlock_child(p));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "memlock child failed at step %d (status %#x)",
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1, st);
	munmap(p, 40 * ps);
}
END_TEST

START_TEST(partial_mdl)
{
	char *p = map_pages(4, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *m, *part, *bad;
	const uint64_t *pfn, *ppfn;
	size_t i;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p + 3, 4 * ps - 3, &m), 0);
	/* the source must be locked */
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p + ps, ps, &part),
			 -EINVAL);
	ck_assert_ptr_null(part);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_READ_ACCESS),
			 0);
	/* outside the source */
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p, 8, &bad), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p + 3 * ps, ps + 1,
						    &bad),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(m, p + ps + 7, 2 * ps,
						    &part),
			 0);
	ck_assert_uint_eq(sanverbs_mdl_page_count(part), 3);
	ck_assert_uint_eq(sanverbs_mdl_byte_offset(part), 7);
	ck_assert(sanverbs_mdl_flags(part) & SANVERBS_MDL_PARTIAL);
	ck_assert(sanverbs_mdl_flags(part) & SANVERBS_MDL_LOCKED);
	pfn = sanverbs_mdl_pfns(m);
	ppfn = sanverbs_mdl_pfns(part);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(ppfn[i], pfn[i + 1]);
	/* a partial of a partial is not offered; nor lock/unlock on it */
	ck_assert_int_eq(sanverbs_mdl_build_partial(part, p + ps + 7, 8, &bad),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(part,
						     SANVERBS_IO_READ_ACCESS),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_unlock(part), -EINVAL);
	/* the source stays locked while the partial exists */
	ck_assert_int_eq(sanverbs_mdl_unlock(m), -EBUSY);
	ck_assert_int_eq(sanverbs_mdl_free(m), -EBUSY);
	ck_assert_int_gt(smaps_locked_kb(p), 0);
	ck_assert_int_eq(sanverbs_mdl_free(part), 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(smaps_locked_kb(p), 0);
	munmap(p, 4 * ps);
}
END_TEST

START_TEST(sysaddr_without_module)
{
	char *p = map_pages(2, PROT_READ | PROT_WRITE);
	struct sanverbs_mdl *m;
	void *sys = (void *)1;
	int want = access("/dev/sanverbs", F_OK) == 0 ? 0 : -EOPNOTSUPP;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, p, 2 * ps, &m), 0);
	/* not locked yet */
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_HIGH, &sys),
			 -EINVAL);
	ck_assert_ptr_null(sys);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, SANVERBS_IO_READ_ACCESS),
			 0);
	/* non-pool memory and no /dev/sanverbs: a clear -EOPNOTSUPP */
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_HIGH |
					    SANVERBS_MAPPING_NO_EXECUTE,
				 &sys),
			 want);
	if (want)
		ck_assert_ptr_null(sys);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	munmap(p, 2 * ps);
}
END_TEST

START_TEST(bad_args)
{
	char buf[64];
	struct sanverbs_mdl *m = (struct sanverbs_mdl *)1, *lk;
	void *sys = (void *)1;

	ck_assert_int_eq(sanverbs_mdl_create(NULL, NULL, 8, &m), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, buf, 0, &m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, (void *)(UINTPTR_MAX - 9),
					     64, &m),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_create(NULL, buf, 8, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(NULL, buf, 8, &m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_free(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(NULL,
						     SANVERBS_IO_READ_ACCESS),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_unlock(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 NULL, SANVERBS_PAGE_PRIORITY_LOW, &sys),
			 -EINVAL);
	ck_assert_ptr_null(sys);
	ck_assert_ptr_null(sanverbs_mdl_va(NULL));
	ck_assert_uint_eq(sanverbs_mdl_byte_offset(NULL), 0);
	ck_assert_uint_eq(sanverbs_mdl_byte_count(NULL), 0);
	ck_assert_uint_eq(sanverbs_mdl_page_count(NULL), 0);
	ck_assert_ptr_null(sanverbs_mdl_pfns(NULL));
	ck_assert_uint_eq(sanverbs_mdl_flags(NULL), 0);
	ck_assert_uint_eq(sanverbs_mdl_lkey(NULL), 0);

	ck_assert_int_eq(sanverbs_mdl_create(NULL, buf, sizeof(buf), &lk), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(
				 lk, (enum sanverbs_lock_op)3),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(lk,
						     SANVERBS_IO_WRITE_ACCESS),
			 0);
	ck_assert_uint_eq(sanverbs_mdl_lkey(lk), 0); /* no ctx, no pin */
	ck_assert_int_eq(sanverbs_mdl_build_partial(lk, buf, 8, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(lk, NULL, 8, &m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_build_partial(lk, buf, 0, &m), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 lk, SANVERBS_PAGE_PRIORITY_LOW, NULL),
			 -EINVAL);
	/* unknown priority values and unknown flag bits */
	ck_assert_int_eq(sanverbs_mdl_system_address(lk, 1, &sys), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_system_address(lk, 17, &sys), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_system_address(lk, 48, &sys), -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 lk, SANVERBS_PAGE_PRIORITY_HIGH | 0x100, &sys),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mdl_unlock(lk), 0);
	ck_assert_int_eq(sanverbs_mdl_free(lk), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mdl");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, probe_matrix);
	tcase_add_test(tc, probe_past_eof_is_efault);
	tcase_add_test(tc, describe_geometry);
	tcase_add_test(tc, counted_locks_overlap);
	tcase_add_test(tc, same_range_twice);
	tcase_add_test(tc, state_errors);
	tcase_add_test(tc, page_frames);
	tcase_add_test(tc, pagemap_fd_reused);
	tcase_add_test(tc, memlock_limit_rolls_back);
	tcase_add_test(tc, partial_mdl);
	tcase_add_test(tc, sysaddr_without_module);
	tcase_add_test(tc, bad_args);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
