/* SPDX-License-Identifier: MIT */
/* Description: merging of overlapping registrations (docs/cache.md,
 * "Merging") on rxe, with real bytes, through the scenarios of UCX's rcache
 * gtest (test_rcache.cc: merge, merge_inv, merge_aligned, the
 * merge_*_unwritable and merge_invalid_prot cases). Every registration the
 * cache hands out moves RDMA bytes; the replaced registrations keep moving
 * bytes while held and their keys are refused by the device once released;
 * the pinned bytes are read from the kernel (VmPin: what ib_umem_get
 * charged to the process) as well as from the cache's counters, for the
 * UCX merge scenario with merging on and with SANVERBS_CACHE_MERGE=0.
 * Runs under the monitor SANVERBS_MONITOR names (uffd: rxe suite, kmod:
 * kmod suite). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "test-cache-common.h"
#include "mr.h"

#define P ((size_t)sysconf(_SC_PAGESIZE))

static uint8_t *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* Bytes the kernel has pinned for this process (VmPin). */
static size_t vmpin(void)
{
	char line[256];
	size_t kb = 0;
	FILE *f = fopen("/proc/self/status", "r");
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %zu kB", &kb) == 1) {
			found = true;
			break;
		}
	fclose(f);
	ck_assert_msg(found, "no VmPin in /proc/self/status");
	return kb << 10;
}

static struct sanverbs_mr *reg(void *p, size_t len, unsigned int access)
{
	struct sanverbs_mr *mr;

	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len, access, &mr), 0);
	return mr;
}

static uintptr_t mr_start(const struct sanverbs_mr *mr)
{
	return (uintptr_t)mr->ibmr->addr;
}

static uintptr_t mr_end(const struct sanverbs_mr *mr)
{
	return (uintptr_t)mr->ibmr->addr + mr->ibmr->length;
}

/* The HCA writes the peer's pattern @seed into [p, p + len) through @mr's
 * lkey; every byte is checked. */
static void through(struct sanverbs_mr *mr, void *p, size_t len,
		    uint32_t seed)
{
	long bad;

	ck_assert_uint_le(len, PEER_LEN);
	sv_fill_pattern(peer, len, seed);
	memset(p, 0, len);
	ck_assert_int_eq(sv_rdma_read(&pair, p, sanverbs_mr_lkey(mr), len,
				      (uintptr_t)peer,
				      sanverbs_mr_rkey(peer_mr)),
			 IBV_WC_SUCCESS);
	bad = sv_check_pattern(p, len, seed);
	ck_assert_msg(bad == -1, "bytes did not land at %p+%ld", p, bad);
}

/* The device refuses @lkey: its MR is deregistered. */
static void refused(uint32_t lkey, void *p)
{
	int st = sv_rdma_read(&pair, p, lkey, 64, (uintptr_t)peer,
			      sanverbs_mr_rkey(peer_mr));

	ck_assert_int_ne(st, IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
}

/* One registration that hits, and whose lkey is @want. */
static void hits(void *p, size_t len, uint32_t want)
{
	uint64_t h = stats().hits;
	struct sanverbs_mr *mr = reg(p, len, SANVERBS_ACCESS_LOCAL_WRITE);

	ck_assert_uint_eq(stats().hits, h + 1);
	ck_assert_uint_eq(sanverbs_mr_lkey(mr), want);
	through(mr, p, len, 77);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
}

/* UCX "merge": region1 | pad | region2, then region3 over the pad and
 * into both. Returns the bytes the cache and the kernel still pin for it
 * once every handle is released (checked equal). */
static size_t ucx_merge(bool merging)
{
	const size_t size1 = 256 * P, pad = 64 * P, size2 = 512 * P;
	const size_t total = size1 + pad + size2, size3 = size1 + size2 - pad;
	struct sanverbs_mr *r1, *r1b, *r2, *r3;
	uint8_t *mem = map(total);
	size_t pin0 = vmpin(), b0 = stats().bytes_pinned, pinned;
	uint32_t lk1, lk2;

	r1 = reg(mem, size1, SANVERBS_ACCESS_LOCAL_WRITE);
	through(r1, mem, size1, 1);
	r1b = reg(mem, size1, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(sanverbs_mr_lkey(r1b), sanverbs_mr_lkey(r1));
	ck_assert_int_eq(sanverbs_mr_dereg(r1b), 0);
	r2 = reg(mem + size1 + pad, size2, SANVERBS_ACCESS_LOCAL_WRITE);
	through(r2, mem + size1 + pad, size2, 2);
	r3 = reg(mem + pad, size3, SANVERBS_ACCESS_LOCAL_WRITE);
	through(r3, mem + pad, size3, 3);
	lk1 = sanverbs_mr_lkey(r1);
	lk2 = sanverbs_mr_lkey(r2);
	if (merging) {
		/* one registration of the union, which region1 now hits */
		ck_assert_uint_eq(mr_start(r3), (uintptr_t)mem);
		ck_assert_uint_eq(mr_end(r3), (uintptr_t)mem + total);
		ck_assert_uint_eq(stats().bytes_pinned - b0, total);
		hits(mem, size1, sanverbs_mr_lkey(r3));
		hits(mem + size1 + pad, size2, sanverbs_mr_lkey(r3));
	} else {
		ck_assert_uint_eq(mr_start(r3), (uintptr_t)mem + pad);
		ck_assert_uint_eq(stats().bytes_pinned - b0,
				  size1 + size2 + size3);
		hits(mem, size1, sanverbs_mr_lkey(r1));
	}
	/* the handles on the replaced registrations still move bytes */
	through(r1, mem, size1, 4);
	through(r2, mem + size1 + pad, size2, 5);
	ck_assert_uint_eq(vmpin() - pin0, size1 + size2 +
						  (merging ? total : size3));
	ck_assert_int_eq(sanverbs_mr_dereg(r1), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(r2), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(r3), 0);
	if (merging) {
		/* released: deregistered, and the pages pinned once */
		refused(lk1, mem);
		refused(lk2, mem + size1 + pad);
	}
	pinned = vmpin() - pin0;
	ck_assert_uint_eq(pinned, stats().bytes_pinned - b0);
	printf("ucx merge scenario, merging %s: %zu bytes pinned for %zu "
	       "bytes of memory (VmPin and bytes_pinned agree)\n",
	       merging ? "on" : "off", pinned, total);
	munmap(mem, total);
	return pinned;
}

START_TEST(ucx_merge_pinned)
{
	const size_t total = (256 + 64 + 512) * P;
	size_t on, off;

	on = ucx_merge(true);
	ck_assert_uint_eq(on, total);
	ck_assert_int_eq(setenv("SANVERBS_CACHE_MERGE", "0", 1), 0);
	reopen(16384, 1ull << 30, test_monitor());
	off = ucx_merge(false);
	ck_assert_uint_eq(off, (256 + 512 + 256 + 512 - 64) * P);
	ck_assert_uint_lt(on, off);
}
END_TEST

/* UCX "merge_inv": an unheld region is replaced at once by the overlapping
 * one: its key dies, the entry count stays, the union is pinned once. */
START_TEST(ucx_merge_inv)
{
	const size_t size1 = 256 << 10, size2 = 512 << 10, pad = 64 << 10;
	uint8_t *mem = map(pad + size2);
	struct sanverbs_mr *r1, *r2;
	struct sanverbs_cache_stats s;
	size_t pin0 = vmpin();
	uint32_t lk1;

	r1 = reg(mem, size1, SANVERBS_ACCESS_LOCAL_WRITE);
	through(r1, mem, size1, 1);
	lk1 = sanverbs_mr_lkey(r1);
	ck_assert_int_eq(sanverbs_mr_dereg(r1), 0);
	s = stats();
	ck_assert_uint_eq(vmpin() - pin0, size1);
	r2 = reg(mem + pad, size2, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_ne(sanverbs_mr_lkey(r2), lk1);
	ck_assert_uint_eq(mr_start(r2), (uintptr_t)mem);
	ck_assert_uint_eq(mr_end(r2), (uintptr_t)mem + pad + size2);
	through(r2, mem + pad, size2, 2);
	refused(lk1, mem);
	ck_assert_uint_eq(stats().entries, s.entries);
	ck_assert_uint_eq(stats().bytes_pinned - s.bytes_pinned,
			  pad + size2 - size1);
	ck_assert_uint_eq(vmpin() - pin0, pad + size2);
	lk1 = sanverbs_mr_lkey(r2);
	ck_assert_int_eq(sanverbs_mr_dereg(r2), 0);
	hits(mem, size1, lk1);
	munmap(mem, pad + size2);
}
END_TEST

/* UCX "merge_aligned", without alignment: registrations that only touch
 * stay apart (nothing is pinned twice); one covering them all replaces
 * them all. */
START_TEST(ucx_merge_cover_all)
{
	uint8_t *mem = map(16 * P);
	struct sanverbs_mr *r1, *r2, *r3, *all;
	uint64_t e0 = stats().entries;

	r1 = reg(mem, 4 * P, SANVERBS_ACCESS_LOCAL_WRITE);
	r2 = reg(mem + 5 * P, 4 * P, SANVERBS_ACCESS_LOCAL_WRITE);
	r3 = reg(mem + 9 * P, 4 * P, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(stats().entries, e0 + 3);
	ck_assert_uint_eq(mr_start(r3), (uintptr_t)mem + 9 * P);
	all = reg(mem, 16 * P, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(stats().entries, e0 + 1);
	ck_assert_uint_eq(mr_start(all), (uintptr_t)mem);
	ck_assert_uint_eq(mr_end(all), (uintptr_t)mem + 16 * P);
	through(all, mem, 16 * P, 1);
	through(r2, mem + 5 * P, 4 * P, 2);
	hits(mem, 4 * P, sanverbs_mr_lkey(all));
	hits(mem + 5 * P, 4 * P, sanverbs_mr_lkey(all));
	hits(mem + 9 * P, 4 * P, sanverbs_mr_lkey(all));
	ck_assert_int_eq(sanverbs_mr_dereg(r1), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(r2), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(r3), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(all), 0);
	ck_assert_uint_eq(stats().entries, e0 + 1);
	munmap(mem, 16 * P);
}
END_TEST

/* UCX "merge_with_unwritable", "merge_merge_unwritable",
 * "merge_expand_prot": access is never widened by a merge. A writable
 * registration next to a read-only one stays apart from it; after the
 * second part is made read-only, a read-only registration there may merge
 * with the read-only one (the memory allows reading all of it), and its
 * bytes reach the peer. */
START_TEST(ucx_merge_access)
{
	const size_t size1 = 10 * P, size2 = 8 * P;
	uint8_t *mem = map(size1 + size2), *dst = map(size2);
	struct sanverbs_mr *ro, *rw, *ro2, *dmr;
	bool uffd = stats().monitor == SANVERBS_MONITOR_UFFD;
	long bad;

	ro = reg(mem, size1 + size2 / 2, 0);
	rw = reg(mem + size1, size2, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(mr_start(rw), (uintptr_t)mem + size1);
	ck_assert_uint_ne(sanverbs_mr_lkey(rw), sanverbs_mr_lkey(ro));
	through(rw, mem + size1, size2, 1);
	ck_assert_int_eq(sanverbs_mr_dereg(rw), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(ro), 0);

	ck_assert_int_eq(mprotect(mem + size1, size2, PROT_READ), 0);
	ro2 = reg(mem + size1, size2, 0);
	/* userfaultfd keeps the read-only entry through a write-protect (it
	 * needs no write), so the two merge; the module's coarser protection
	 * event may have dropped it */
	if (uffd)
		ck_assert_uint_eq(mr_start(ro2), (uintptr_t)mem);
	ck_assert_uint_eq(mr_end(ro2), (uintptr_t)mem + size1 + size2);
	ck_assert(!(sanverbs_mr_access(ro2) & SANVERBS_ACCESS_LOCAL_WRITE));
	/* the merged read-only registration sends the page's exact bytes */
	dmr = reg(dst, size2,
		  SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_LOCAL_WRITE);
	memset(dst, 0, size2);
	ck_assert_int_eq(sv_rdma_write(&pair, mem + size1,
				       sanverbs_mr_lkey(ro2), size2,
				       (uintptr_t)dst, sanverbs_mr_rkey(dmr)),
			 IBV_WC_SUCCESS);
	bad = sv_check_pattern(dst, size2, 1);
	ck_assert_msg(bad == -1, "read-only bytes wrong at +%ld", bad);
	ck_assert_int_eq(sanverbs_mr_dereg(dmr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(ro2), 0);
	munmap(mem, size1 + size2);
	munmap(dst, size2);
}
END_TEST

/* UCX "merge_invalid_prot": a region whose first page lost the write right
 * is gone, so a writable registration overlapping its end does not reach
 * that page. */
START_TEST(ucx_merge_invalid_prot)
{
	const size_t size1 = 10 * P, size2 = 8 * P;
	uint8_t *mem = map(size1 + size2);
	struct sanverbs_mr *r1, *r2;
	uint64_t inv = stats().invalidations;

	r1 = reg(mem, size1, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_int_eq(sanverbs_mr_dereg(r1), 0);
	ck_assert_int_eq(mprotect(mem, P, PROT_READ), 0);
	r2 = reg(mem + size1 - 1024, size2, SANVERBS_ACCESS_LOCAL_WRITE);
	assert_invalidated_since(inv);
	ck_assert_uint_eq(mr_start(r2), (uintptr_t)mem + size1 - P);
	through(r2, mem + size1 - 1024, size2, 1);
	ck_assert_int_eq(sanverbs_mr_dereg(r2), 0);
	munmap(mem, size1 + size2);
}
END_TEST

static atomic_int ncb;
static uintptr_t cb_addr;
static size_t cb_len;

static void record_cb(void *arg, void *addr, size_t len)
{
	(void)arg;
	cb_addr = (uintptr_t)addr;
	cb_len = len;
	atomic_fetch_add(&ncb, 1);
}

/* A change of any page of a merged entry invalidates all of it (one
 * callback, its whole range); the next registration of a part still mapped
 * is a miss whose bytes land, and a held replaced registration, whose own
 * pages did not change, still moves bytes. */
START_TEST(merged_invalidated_whole)
{
	const size_t n = 64 * P;
	uint8_t *mem = map(3 * n);
	struct sanverbs_mr *a, *b, *m;
	uint64_t inv = stats().invalidations;
	double end;

	ck_assert_int_eq(sanverbs_cache_set_callback(ctx, record_cb, NULL), 0);
	a = reg(mem, n, SANVERBS_ACCESS_LOCAL_WRITE);
	b = reg(mem + 2 * n, n, SANVERBS_ACCESS_LOCAL_WRITE);
	m = reg(mem + n / 2, 2 * n, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(mr_start(m), (uintptr_t)mem);
	ck_assert_uint_eq(mr_end(m), (uintptr_t)mem + 3 * n);
	ck_assert_int_eq(sanverbs_mr_dereg(m), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(b), 0);
	/* the last page, which only b and the merged entry covered */
	ck_assert_int_eq(madvise(mem + 3 * n - P, P, MADV_DONTNEED), 0);
	m = reg(mem, n, SANVERBS_ACCESS_LOCAL_WRITE);
	assert_invalidated_since(inv);
	end = now_s() + 10;
	while (atomic_load(&ncb) < 1 && now_s() < end)
		usleep(1000);
	ck_assert_int_eq(atomic_load(&ncb), 1);
	ck_assert_uint_eq(cb_addr, (uintptr_t)mem);
	ck_assert_uint_eq(cb_len, 3 * n);
	ck_assert_uint_ne(sanverbs_mr_lkey(m), sanverbs_mr_lkey(a));
	through(m, mem, n, 1);
	through(a, mem, n, 2);
	ck_assert_int_eq(sanverbs_mr_dereg(m), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(a), 0);
	ck_assert_int_eq(sanverbs_cache_set_callback(ctx, NULL, NULL), 0);
	munmap(mem, 3 * n);
}
END_TEST

/* The monitor must watch all of a merged range: userfaultfd watches only
 * anonymous memory, so a registration reaching from a cached anonymous
 * page into a file page is not merged (and, being partly a file, not
 * cached); the anonymous entry stays. The module watches any mapping:
 * there it merges. Bytes land either way. */
START_TEST(merge_only_what_is_watched)
{
	uint8_t *mem = map(2 * P), *q;
	struct sanverbs_mr *a, *m;
	bool uffd = stats().monitor == SANVERBS_MONITOR_UFFD;
	uint64_t unc;
	uint32_t lka;
	int fd = (int)syscall(SYS_memfd_create, "sv-merge", 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)P), 0);
	q = mmap(mem + P, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	ck_assert_ptr_eq(q, mem + P);
	a = reg(mem, P, SANVERBS_ACCESS_LOCAL_WRITE);
	lka = sanverbs_mr_lkey(a);
	ck_assert_int_eq(sanverbs_mr_dereg(a), 0);
	unc = stats().uncached;
	m = reg(mem + 100, P, SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_uint_eq(mr_start(m), (uintptr_t)mem);
	ck_assert_uint_eq(mr_end(m), (uintptr_t)mem + 2 * P);
	through(m, mem + 100, P, 1);
	if (uffd) {
		ck_assert_uint_eq(stats().uncached, unc + 1);
		hits(mem, P, lka);
	} else {
		hits(mem, P, sanverbs_mr_lkey(m));
	}
	ck_assert_int_eq(sanverbs_mr_dereg(m), 0);
	munmap(mem, 2 * P);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-merge");
	TCase *tc = tcase_create("merge");

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, ucx_merge_pinned);
	tcase_add_test(tc, ucx_merge_inv);
	tcase_add_test(tc, ucx_merge_cover_all);
	tcase_add_test(tc, ucx_merge_access);
	tcase_add_test(tc, ucx_merge_invalid_prot);
	tcase_add_test(tc, merged_invalidated_whole);
	tcase_add_test(tc, merge_only_what_is_watched);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
