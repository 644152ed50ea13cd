/* SPDX-License-Identifier: MIT */
/* Description: every way an application can change a cached range is seen
 * before the changing call returns. For munmap, MADV_DONTNEED, MADV_REMOVE
 * on shared memory, mremap (move, shrink), mmap(MAP_FIXED) over the range,
 * brk shrink, shmdt, malloc/free of a large (mmap) and of a heap block and
 * a heap trim, munmap by raw syscall(2) (which the library's munmap()
 * does not see) and munmap of part of a range: register (miss), register
 * again (hit), change the mapping, put new memory at the same address,
 * register again, have the peer QP RDMA-write its bytes through that
 * registration and check every byte arrived in the NEW pages (and, where the old pages are still reachable,
 * that they were left alone). Runs under both monitors (SANVERBS_MONITOR:
 * uffd in the rxe suite, kmod in the kmod suite); SysV shm is cached only
 * under kmod, userfaultfd cannot watch it. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <malloc.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test-cache-common.h"

#define LEN (256u << 10)

/* First two registrations: a miss that caches, then a hit. */
static void prime(void *p, size_t len)
{
	ck_assert_int_eq(land(p, len, 11), 0);
	ck_assert_int_eq(land(p, len, 12), 1);
}

/* userfaultfd: the change is already counted when the changing call
 * returned. kmod: the count is checked after the next lookup of the range
 * (assert_invalidated_since), which met the stale entry if the sink had
 * not dropped it yet; what proves the order there is that lookup's miss
 * and its bytes, right after the change. */
static void changed(uint64_t before)
{
	if (!kmod_monitor())
		ck_assert_uint_gt(stats().invalidations, before);
}

/* [off, off + n) of the cached range [p, p + len) unmapped by @unmap, new
 * memory mapped in its place: the next registration of the range misses
 * and its bytes land in the pages mapped now. */
static void unmap_and_land(uint8_t *p, size_t len, size_t off, size_t n,
			   int (*unmap)(void *, size_t), uint32_t seed)
{
	uint64_t inv = stats().invalidations;

	ck_assert_int_eq(unmap(p + off, n), 0);
	changed(inv);
	ck_assert_ptr_eq(sv_test_map(p + off, n, MAP_PRIVATE), p + off);
	ck_assert_int_eq(land(p, len, seed), 0);
	assert_invalidated_since(inv);
}

static int raw_munmap(void *p, size_t len)
{
	return (int)syscall(SYS_munmap, p, len);
}

static void unmap_whole(int (*unmap)(void *, size_t), uint32_t seed)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);

	prime(p, LEN);
	unmap_and_land(p, LEN, 0, LEN, unmap, seed);
	munmap(p, LEN);
}

START_TEST(ev_munmap)
{
	unmap_whole(munmap, 13);
}
END_TEST

/* The same unmap made by a raw system call, which the library's munmap()
 * does not see: userfaultfd's event (kmod: the notifier) must do it all. */
START_TEST(ev_munmap_syscall)
{
	unmap_whole(raw_munmap, 14);
}
END_TEST

/* Part of a cached range unmapped, through munmap() and then by the
 * system call, next to a cached neighbour: the entry over the part goes,
 * the neighbour stays a hit until its own part is unmapped, and every
 * registration after a change lands in the memory mapped now. */
START_TEST(ev_munmap_part)
{
	const size_t half = LEN / 2, hole = 32u << 10;
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint8_t *b = p + half;

	prime(p, half);
	prime(b, half);
	unmap_and_land(p, half, hole, hole, munmap, 15);
	ck_assert_int_eq(land(b, half, 16), 1);
	unmap_and_land(b, half, hole, hole, raw_munmap, 17);
	ck_assert_int_eq(land(p, half, 18), 1);
	munmap(p, LEN);
}
END_TEST

/* The monitor thread's voluntary context switches: it sleeps in poll()
 * between events, so each wakeup for an event counts one. */
static long uffd_thread_wakeups(void)
{
	char path[320], line[128];
	struct dirent *d;
	long n = -1;
	DIR *dir = opendir("/proc/self/task");
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	while (n < 0 && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof(line), f) ||
		    strcmp(line, "sanverbs-uffd\n")) {
			fclose(f);
			continue;
		}
		fclose(f);
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			 d->d_name);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) ==
			    1)
				break;
		fclose(f);
	}
	closedir(dir);
	ck_assert_msg(n >= 0, "no sanverbs-uffd thread found");
	return n;
}

/* userfaultfd only. The library's munmap() takes a cached range out of
 * the watch and drops its entries before the kernel unmaps it, so no
 * event is raised and the monitor thread is not woken: the unmapper
 * does not wait for it. The same unmaps by syscall(2) each raise an
 * event the unmapper waits for; the monitor sleeps between most of them
 * (not all: it may find the next event queued before it polls again),
 * so that half shows the count can tell the two apart. */
/* Unmaps @n cached ranges by @unmap; returns how often that woke the
 * monitor thread. Each range must be invalidated when its call returns. */
static long unmap_wakeups(uint8_t **p, int n, int (*unmap)(void *, size_t))
{
	uint64_t inv = stats().invalidations;
	long w = uffd_thread_wakeups();
	int i;

	for (i = 0; i < n; i++)
		ck_assert_int_eq(unmap(p[i], LEN), 0);
	w = uffd_thread_wakeups() - w;
	ck_assert_uint_ge(stats().invalidations, inv + (uint64_t)n);
	return w;
}

START_TEST(unmap_spares_the_event)
{
	enum { N = 16 };
	uint8_t *p[N];
	long hooked, raw;
	int i;

	for (i = 0; i < N; i++) {
		p[i] = sv_test_map(NULL, LEN, MAP_PRIVATE);
		prime(p[i], LEN);
	}
	hooked = unmap_wakeups(p, N, munmap);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_eq(sv_test_map(p[i], LEN, MAP_PRIVATE), p[i]);
		ck_assert_int_eq(land(p[i], LEN, 20 + i), 0);
		ck_assert_int_eq(land(p[i], LEN, 40 + i), 1);
	}
	raw = unmap_wakeups(p, N, raw_munmap);
	fprintf(stderr, "monitor woken %ld times by %d unmaps through "
		"munmap(), %ld times by %d through syscall(2)\n", hooked, N,
		raw, N);
	ck_assert_msg(hooked <= N / 8, "%d unmaps through munmap() woke the "
		      "monitor %ld times", N, hooked);
	ck_assert_msg(raw >= N / 4, "%d unmaps by syscall woke the monitor "
		      "%ld times", N, raw);
}
END_TEST

START_TEST(ev_madv_dontneed)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint64_t inv;

	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_int_eq(madvise(p, LEN, MADV_DONTNEED), 0);
	changed(inv);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	/* the range is watchable again after the zap */
	ck_assert_int_eq(land(p, LEN, 14), 1);
	munmap(p, LEN);
}
END_TEST

START_TEST(ev_madv_remove_shared)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_SHARED);
	uint64_t inv;

	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_int_eq(madvise(p, LEN, MADV_REMOVE), 0);
	changed(inv);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	munmap(p, LEN);
}
END_TEST

START_TEST(ev_mremap_move)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint8_t *q = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint64_t inv;

	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_ptr_eq(mremap(p, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED, q),
			 q);
	changed(inv);
	sv_test_map(p, LEN, MAP_PRIVATE);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	/* the old pages moved to q and kept what the second write left */
	ck_assert_int_eq(sv_check_pattern(q, LEN, 12), -1);
	/* and q is not served by the entry that was cached for p */
	ck_assert_int_eq(land(q, LEN, 15), 0);
	munmap(p, LEN);
	munmap(q, LEN);
}
END_TEST

START_TEST(ev_mremap_shrink)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint64_t inv;

	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_ptr_eq(mremap(p, LEN, LEN / 2, 0), p);
	changed(inv);
	sv_test_map(p + LEN / 2, LEN / 2, MAP_PRIVATE);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	munmap(p, LEN);
}
END_TEST

START_TEST(ev_mmap_fixed_over)
{
	uint8_t *p = sv_test_map(NULL, LEN, MAP_PRIVATE);
	uint64_t inv;

	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_ptr_eq(mmap(p, LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 p);
	changed(inv);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	munmap(p, LEN);
}
END_TEST

START_TEST(ev_brk_shrink)
{
	const long pg = sysconf(_SC_PAGESIZE);
	uint8_t *base, *p, *end;
	uint64_t inv;
	void *warm;

	/* Keep malloc (our own calloc included) off the break while we move
	 * it: give malloc's top chunk plenty of room and forbid trimming. */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 1 << 30);
	warm = malloc(16u << 20);
	ck_assert_ptr_nonnull(warm);
	free(warm);

	base = sbrk(0);
	p = (uint8_t *)(((uintptr_t)base + pg - 1) & ~(uintptr_t)(pg - 1));
	ck_assert_ptr_ne(sbrk((p - base) + LEN), (void *)-1);
	prime(p, LEN);
	inv = stats().invalidations;
	ck_assert_ptr_ne(sbrk(-(intptr_t)((p - base) + LEN)), (void *)-1);
	end = sbrk(0);
	ck_assert_ptr_eq(end, base);
	/* the break really shrank: the pages are gone */
	{
		unsigned char vec;

		ck_assert_int_eq(mincore(p, pg, &vec), -1);
		ck_assert_int_eq(errno, ENOMEM);
	}
	changed(inv);
	ck_assert_ptr_ne(sbrk((p - base) + LEN), (void *)-1);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	assert_invalidated_since(inv);
	ck_assert_ptr_ne(sbrk(-(intptr_t)((p - base) + LEN)), (void *)-1);
}
END_TEST

START_TEST(ev_shmdt)
{
	int id1 = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);
	int id2 = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);
	struct sanverbs_cache_stats a;
	uint8_t *p, *old;
	uint64_t inv;

	ck_assert_int_ge(id1, 0);
	ck_assert_int_ge(id2, 0);
	/* Under ASan its threads' one-page TLS blocks are mapped with
	 * mmap(NULL) and can take the hole shmdt() leaves below: attach in
	 * a range of the test's own (far below the mmap area) there. */
	p = shmat(id1, sv_test_map_hint(LEN), 0);
	ck_assert_ptr_ne(p, (void *)-1);
	a = stats();
	ck_assert_int_eq(land(p, LEN, 11), 0);
	if (kmod_monitor()) {
		/* A notifier does not care what backs the pages: cached,
		 * and shmdt() is a change like munmap(). */
		ck_assert_int_eq(land(p, LEN, 12), 1);
		ck_assert_uint_eq(stats().uncached, a.uncached);
	} else {
		/* shmdt reports nothing to userfaultfd (ipc/shm.c unmaps
		 * with no uffd list) and uffd cannot register SysV shm:
		 * never cached. */
		ck_assert_int_eq(land(p, LEN, 12), 0);
		ck_assert_uint_eq(stats().uncached, a.uncached + 2);
	}
	inv = stats().invalidations;
	ck_assert_int_eq(shmdt(p), 0);
	ck_assert_ptr_eq(shmat(id2, p, 0), p);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	if (kmod_monitor())
		assert_invalidated_since(inv);
	/* the first segment kept the second write: the third went to the
	 * segment attached now, not through an old registration */
	old = shmat(id1, NULL, SHM_RDONLY);
	ck_assert_ptr_ne(old, (void *)-1);
	ck_assert_int_eq(sv_check_pattern(old, LEN, 12), -1);
	shmdt(old);
	shmdt(p);
	shmctl(id1, IPC_RMID, NULL);
	shmctl(id2, IPC_RMID, NULL);
}
END_TEST

/* Truncating a shared file mapping (here a memfd) drops its pages from
 * under the mapping without munmap or madvise; growing the file again
 * maps new pages at the same address. The notifier sees it
 * (unmap_mapping_range), so under kmod the memfd is cached and the change
 * must invalidate. userfaultfd has no event for truncation, so under uffd
 * file mappings must never be cached (monitor/uffd.c, vma_kind.c): before
 * that rule this case was a proven stale hit. */
START_TEST(ev_truncate_memfd)
{
	int fd = memfd_create("sv-cache", 0);
	struct sanverbs_cache_stats a;
	uint64_t inv;
	uint8_t *p;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, LEN), 0);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	a = stats();
	ck_assert_int_eq(land(p, LEN, 11), 0);
	if (kmod_monitor()) {
		ck_assert_int_eq(land(p, LEN, 12), 1);
	} else {
		ck_assert_int_eq(land(p, LEN, 12), 0);
		ck_assert_uint_eq(stats().uncached, a.uncached + 2);
	}
	inv = stats().invalidations;
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(ftruncate(fd, LEN), 0);
	ck_assert_int_eq(p[0], 0);
	ck_assert_int_eq(land(p, LEN, 13), 0);
	if (kmod_monitor())
		assert_invalidated_since(inv);
	munmap(p, LEN);
	close(fd);
}
END_TEST

/* glibc's allocator itself, also under ASan: the malloc tests are about
 * what glibc's free and malloc_trim do to the mappings, and ASan's malloc
 * replaces them with one that never unmaps or trims (freed blocks wait in
 * its quarantine) and makes mallopt a no-op. */
static void *libc_sym(const char *name)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *f = libc ? dlsym(libc, name) : NULL;

	ck_assert_msg(f, "glibc's %s: %s", name, dlerror());
	return f;
}

#define GLIBC(fn) (SV_TEST_ASAN ? (__typeof__(&fn))libc_sym(#fn) : &fn)

START_TEST(ev_malloc_free_large)
{
	const size_t big = 4u << 20;
	uint8_t *p, *q;
	uint64_t inv;

	/* fixed threshold: glibc would otherwise raise it after a free */
	GLIBC(mallopt)(M_MMAP_THRESHOLD, 128 << 10);
	p = GLIBC(malloc)(big);
	ck_assert_ptr_nonnull(p);
	prime(p, big);
	inv = stats().invalidations;
	GLIBC(free)(p);
	changed(inv);
	q = GLIBC(malloc)(big);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(land(q, big, 13), 0);
	assert_invalidated_since(inv);
	GLIBC(free)(q);
}
END_TEST

START_TEST(ev_malloc_free_heap)
{
	const size_t small = 64u << 10;
	uint8_t *p, *q;
	int i;

	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	p = malloc(small);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(land(p, small, 11), 0);
	ck_assert_int_eq(land(p, small, 12), 1);
	free(p);
	/* Same pages reused by malloc: a hit is correct here, and the bytes
	 * must land either way. */
	for (i = 0; i < 4; i++) {
		q = malloc(small);
		ck_assert_ptr_nonnull(q);
		land(q, small, 20 + i);
		free(q);
	}
}
END_TEST

START_TEST(ev_heap_trim)
{
	const size_t blk = 512u << 10;
	struct sanverbs_cache_stats a;
	uint8_t *p;

	GLIBC(mallopt)(M_MMAP_THRESHOLD, 64 << 20);
	GLIBC(mallopt)(M_TRIM_THRESHOLD, 1 << 30);
	p = GLIBC(malloc)(blk);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(land(p, blk, 11), 0);
	ck_assert_int_eq(land(p, blk, 12), 1);
	a = stats();
	GLIBC(free)(p);
	/* gives the free pages back (brk shrink or MADV_DONTNEED) */
	GLIBC(malloc_trim)(0);
	changed(a.invalidations);
	p = GLIBC(malloc)(blk);
	ck_assert_ptr_nonnull(p);
	land(p, blk, 13);
	assert_invalidated_since(a.invalidations);
	GLIBC(free)(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-events");
	TCase *tc = tcase_create("events");
	TCase *tt = tcase_create("truncate");
	struct sanverbs_ctx_attr attr;

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, ev_munmap);
	tcase_add_test(tc, ev_munmap_syscall);
	tcase_add_test(tc, ev_munmap_part);
	tcase_add_test(tc, ev_madv_dontneed);
	tcase_add_test(tc, ev_madv_remove_shared);
	tcase_add_test(tc, ev_mremap_move);
	tcase_add_test(tc, ev_mremap_shrink);
	tcase_add_test(tc, ev_mmap_fixed_over);
	tcase_add_test(tc, ev_brk_shrink);
	tcase_add_test(tc, ev_shmdt);
	tcase_add_test(tc, ev_malloc_free_large);
	tcase_add_test(tc, ev_malloc_free_heap);
	tcase_add_test(tc, ev_heap_trim);
	if (!sanverbs_ctx_attr_init(&attr) &&
	    attr.monitor == SANVERBS_MONITOR_UFFD)
		tcase_add_test(tc, unmap_spares_the_event);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tt, cache_setup, cache_teardown);
	tcase_set_timeout(tt, 120);
	tcase_add_test(tt, ev_truncate_memfd);
	suite_add_tcase(s, tt);
	return sv_test_run_rxe(s);
}
