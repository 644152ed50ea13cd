/* SPDX-License-Identifier: MIT */
/* Description: a registration never grants more than the process's memory
 * allows at that moment, cached or not, under either monitor. Each case
 * moves real bytes on rxe and checks where they went:
 *  - SysV shm attached with SHM_REMAP over a cached range (no userfaultfd
 *    event), then detached and replaced by anonymous memory that is itself
 *    replaced: every registration's bytes land in the memory mapped now;
 *  - a protection downgrade (mprotect to read-only or to no access) of a
 *    cached range: the next registration that needs the lost right is
 *    refused (-EFAULT), and an RDMA READ through a key got anyway would
 *    write into the read-only page (checked, must not happen); also
 *    when the range was read-only, then writable, when first cached;
 *  - registrations of memory the process cannot access with the rights
 *    asked, for every access combination: -EFAULT, and nothing moves;
 *  - SANVERBS_ACCESS_REMOTE_READ of read-only memory: the peer's RDMA READ
 *    gets the bytes, its RDMA WRITE is refused, and the rkey is refused
 *    again right after deregistration (a read-only shared file mapping
 *    too from 6.2; before, the kernel refuses to pin it at all);
 *  - sanverbs_secure_memory_prot() (MmSecureVirtualMemory's probe mode)
 *    refuses memory that does not allow the mode now and calls back when
 *    the protection drops below it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "test-cache-common.h"

#define LEN (64u << 10)

/* @at: replace what is there (MAP_FIXED); NULL: a new range, which the
 * tests unmap and map again at the same address, so under ASan it comes
 * from sv_test_map(NULL, ) (ASan's own threads map into fresh holes). */
static uint8_t *map_rw(void *at, size_t len)
{
	uint8_t *p;

	if (!at)
		return sv_test_map(NULL, len, MAP_PRIVATE);
	p = mmap(at, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ck_assert_ptr_eq(p, at);
	return p;
}

/* A local buffer the HCA may write, for reads the peer side posts. */
static uint8_t *sink_buf;
static struct sanverbs_mr *sink_mr;

static void exact_setup(void)
{
	cache_setup();
	sink_buf = map_rw(NULL, LEN);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, sink_buf, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE |
						 SANVERBS_ACCESS_REMOTE_WRITE,
					 &sink_mr),
			 0);
}

static void exact_teardown(void)
{
	ck_assert_int_eq(sanverbs_mr_dereg(sink_mr), 0);
	munmap(sink_buf, LEN);
	cache_teardown();
}

START_TEST(shm_remap_over_cached)
{
	uint8_t *p = map_rw(NULL, LEN);
	int id = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);

	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(land(p, LEN, 1), 0);
	ck_assert_int_eq(land(p, LEN, 2), 1);
	/* replaces the watched anonymous VMA; userfaultfd says nothing */
	ck_assert_ptr_eq(shmat(id, p, SHM_REMAP), p);
	shmctl(id, IPC_RMID, NULL);
	land(p, LEN, 3);
	land(p, LEN, 4);
	/* the same address again: detach, anonymous memory, replaced again */
	ck_assert_int_eq(shmdt(p), 0);
	map_rw(p, LEN);
	land(p, LEN, 5);
	land(p, LEN, 6);
	ck_assert_int_eq(munmap(p, LEN), 0);
	map_rw(p, LEN);
	land(p, LEN, 7);
	map_rw(p, LEN); /* MAP_FIXED over it */
	land(p, LEN, 8);
	munmap(p, LEN);
}
END_TEST

/* SHM_REMAP over part of a cached range, the rest staying anonymous. */
START_TEST(shm_remap_partial)
{
	uint8_t *p = map_rw(NULL, 2 * LEN);
	int id = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);

	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(land(p, 2 * LEN, 1), 0);
	ck_assert_int_eq(land(p, 2 * LEN, 2), 1);
	ck_assert_ptr_eq(shmat(id, p + LEN, SHM_REMAP), p + LEN);
	shmctl(id, IPC_RMID, NULL);
	land(p, 2 * LEN, 3);
	ck_assert_int_eq(shmdt(p + LEN), 0);
	map_rw(p + LEN, LEN);
	land(p, 2 * LEN, 4);
	munmap(p, 2 * LEN);
}
END_TEST

/* Registers [p, p + len) with @access: -EFAULT is expected. If a key came
 * back anyway, uses it the way that access allows and fails saying what
 * moved: an RDMA READ into a page the process may not write, or an RDMA
 * WRITE out of a page it may not read. */
static void assert_refused_reg(uint8_t *p, size_t len, unsigned int access,
			       const char *why)
{
	struct sanverbs_mr *mr = NULL;
	int ret = sanverbs_mr_reg(ctx, p, len, access, &mr);

	if (!ret) {
		int st;

		sv_fill_pattern(peer, len, 77);
		if (access & SANVERBS_ACCESS_LOCAL_WRITE)
			/* the HCA writes the peer's bytes into p */
			st = sv_rdma_read(&pair, p, sanverbs_mr_lkey(mr), len,
					  (uintptr_t)peer,
					  sanverbs_mr_rkey(peer_mr));
		else if (access & SANVERBS_ACCESS_REMOTE_READ)
			/* the peer reads p into sink_buf */
			st = sv_rdma_read(&pair, sink_buf,
					  sanverbs_mr_lkey(sink_mr), len,
					  (uintptr_t)p, sanverbs_mr_rkey(mr));
		else
			/* the HCA reads p and writes it to sink_buf */
			st = sv_rdma_write(&pair, p, sanverbs_mr_lkey(mr), len,
					   (uintptr_t)sink_buf,
					   sanverbs_mr_rkey(sink_mr));
		if (st != IBV_WC_SUCCESS)
			sv_qp_pair_reset(&pair);
		sanverbs_mr_dereg(mr);
		ck_abort_msg("%s: access %#x registered (RDMA %s: status %d)",
			     why, access,
			     access & SANVERBS_ACCESS_LOCAL_WRITE ?
				     "READ into the page" :
				     "out of the page",
			     st);
	}
	ck_assert_int_eq(ret, -EFAULT);
}

/* A registration of read-only memory [p, p + len) holding @byte
 * everywhere works: the HCA sends exactly its bytes. */
static void send_read_only(uint8_t *p, size_t len, unsigned int access,
			   uint8_t byte)
{
	struct sanverbs_mr *mr;
	size_t i;

	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len, access, &mr), 0);
	memset(sink_buf, 0, len);
	ck_assert_int_eq(sv_rdma_write(&pair, p, sanverbs_mr_lkey(mr), len,
				       (uintptr_t)sink_buf,
				       sanverbs_mr_rkey(sink_mr)),
			 IBV_WC_SUCCESS);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(sink_buf[i], byte);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
}

START_TEST(downgrade_to_read_only)
{
	uint8_t *p = map_rw(NULL, LEN);
	uint64_t inv;
	size_t i;

	ck_assert_int_eq(land(p, LEN, 1), 0);
	ck_assert_int_eq(land(p, LEN, 2), 1);
	memset(p, 0x5a, LEN);
	inv = stats().invalidations;
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	assert_refused_reg(p, LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			   "read-only after caching");
	for (i = 0; i < LEN; i++)
		ck_assert_msg(p[i] == 0x5a, "read-only page changed at %zu", i);
	assert_invalidated_since(inv);
	/* reading it is still allowed, and exact */
	send_read_only(p, LEN, 0, 0x5a);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(land(p, LEN, 3), 0);
	munmap(p, LEN);
}
END_TEST

/* Part of a cached range made read-only; a sub-range registration that
 * stays in the writable part may still hit. */
START_TEST(downgrade_part)
{
	uint8_t *p = map_rw(NULL, 2 * LEN);

	ck_assert_int_eq(land(p, 2 * LEN, 1), 0);
	ck_assert_int_eq(mprotect(p + LEN, LEN, PROT_READ), 0);
	assert_refused_reg(p, 2 * LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			   "half read-only");
	assert_refused_reg(p + LEN + 4096, 4096, SANVERBS_ACCESS_LOCAL_WRITE,
			   "read-only page in a cached range");
	land(p, LEN, 2);
	munmap(p, 2 * LEN);
}
END_TEST

/* A range watched while read-only, made writable, registered writable,
 * made read-only again: the writable registration must not survive the
 * downgrade. Its watch may be the one parked by the read-only entry, and
 * an mprotect() that adds rights may raise no notifier event at all, so a
 * watch that kept only the rights of its first registration never
 * reported the second downgrade (a stale writable hit). Both the
 * populated and the never-touched case. */
static void upgrade_then_downgrade(bool touch)
{
	uint8_t *p = mmap(NULL, LEN, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct sanverbs_mr *mr;
	size_t i;
	int round;

	ck_assert_ptr_ne(p, MAP_FAILED);
	if (touch) {
		ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_WRITE), 0);
		memset(p, 0x5a, LEN);
		ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	}
	/* read-only memory with read access: deregistered, cached */
	send_read_only(p, LEN, 0, touch ? 0x5a : 0);
	send_read_only(p, LEN, 0, touch ? 0x5a : 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_WRITE), 0);
	/* the read-only entry goes; under the module its watch is parked */
	ck_assert_int_eq(sanverbs_cache_flush(ctx), 0);
	/* writable now: registered for writing (taking the parked watch
	 * over, before the fix), twice, so the second may hit */
	for (round = 0; round < 2; round++) {
		ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
						 SANVERBS_ACCESS_LOCAL_WRITE,
						 &mr),
				 0);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	}
	memset(p, 0x66, LEN);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	assert_refused_reg(p, LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			   "read-only again after an upgrade");
	for (i = 0; i < LEN; i++)
		ck_assert_msg(p[i] == 0x66, "read-only page changed at %zu", i);
	send_read_only(p, LEN, 0, 0x66);
	munmap(p, LEN);
}

START_TEST(downgrade_after_upgrade)
{
	upgrade_then_downgrade(true);
	upgrade_then_downgrade(false);
}
END_TEST

START_TEST(downgrade_to_none)
{
	uint8_t *p = map_rw(NULL, LEN);
	struct sanverbs_mr *mr;

	ck_assert_int_eq(land(p, LEN, 1), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN, 0, &mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_NONE), 0);
	assert_refused_reg(p, LEN, 0, "no access after caching");
	assert_refused_reg(p, LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			   "no access after caching");
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(land(p, LEN, 2), 0);
	munmap(p, LEN);
}
END_TEST

/* Every access combination on a page the process cannot touch, and the
 * writing ones on a page it can only read; each twice, so a refusal is
 * not cached into an acceptance either. */
START_TEST(inaccessible_every_access)
{
	uint8_t *none = mmap(NULL, LEN, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *ro = map_rw(NULL, LEN);
	unsigned int a;
	int round;

	ck_assert_ptr_ne(none, MAP_FAILED);
	memset(ro, 0x33, LEN);
	ck_assert_int_eq(mprotect(ro, LEN, PROT_READ), 0);
	for (round = 0; round < 2; round++) {
		for (a = 0; a <= SANVERBS_ACCESS_ALL; a++) {
			assert_refused_reg(none, LEN, a, "PROT_NONE");
			assert_refused_reg(none + 4096, 100, a, "PROT_NONE");
			if (a & (SANVERBS_ACCESS_LOCAL_WRITE |
				 SANVERBS_ACCESS_REMOTE_WRITE))
				assert_refused_reg(ro, LEN, a, "PROT_READ");
			else
				send_read_only(ro, LEN, a, 0x33);
		}
	}
	munmap(none, LEN);
	munmap(ro, LEN);
}
END_TEST

/* The peer reads [p, p + len) through @rkey into sink_buf: the bytes
 * arrive; its write through the same key is refused and changes nothing. */
static void remote_read_ok(const uint8_t *p, size_t len, uint32_t rkey,
			   uint32_t seed)
{
	memset(sink_buf, 0, len);
	ck_assert_int_eq(sv_rdma_read(&pair, sink_buf,
				      sanverbs_mr_lkey(sink_mr), len,
				      (uintptr_t)p, rkey),
			 IBV_WC_SUCCESS);
	ck_assert_msg(sv_check_pattern(sink_buf, len, seed) == -1,
		      "peer read wrong bytes at %ld",
		      sv_check_pattern(sink_buf, len, seed));
	sv_fill_pattern(peer, len, seed + 1);
	ck_assert_int_eq(sv_rdma_write(&pair, peer, sanverbs_mr_lkey(peer_mr),
				       len, (uintptr_t)p, rkey),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
	ck_assert_int_eq(sv_check_pattern(p, len, seed), -1);
}

static void remote_read_revoked(const uint8_t *p, size_t len, uint32_t rkey)
{
	memset(sink_buf, 0xee, len);
	ck_assert_int_eq(sv_rdma_read(&pair, sink_buf,
				      sanverbs_mr_lkey(sink_mr), len,
				      (uintptr_t)p, rkey),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
	ck_assert_uint_eq(sink_buf[0], 0xee);
}

static void expose_read_only(uint8_t *p, size_t len, uint32_t seed)
{
	struct sanverbs_mr *mr, *mr2;
	uint32_t k;
	int i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len,
						 SANVERBS_ACCESS_REMOTE_READ,
						 &mr),
				 0);
		k = sanverbs_mr_rkey(mr);
		remote_read_ok(p, len, k, seed);
		/* a second holder of the same range */
		ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len,
						 SANVERBS_ACCESS_REMOTE_READ,
						 &mr2),
				 0);
		remote_read_ok(p, len, sanverbs_mr_rkey(mr2), seed);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
		remote_read_revoked(p, len, k);
		k = sanverbs_mr_rkey(mr2);
		ck_assert_int_eq(sanverbs_mr_dereg(mr2), 0);
		remote_read_revoked(p, len, k);
	}
	assert_refused_reg(p, len, SANVERBS_ACCESS_REMOTE_READ |
				   SANVERBS_ACCESS_REMOTE_WRITE,
			   "read-only memory for remote write");
}

START_TEST(remote_read_of_read_only_anon)
{
	uint8_t *p = map_rw(NULL, LEN), *q = map_rw(NULL, LEN);

	sv_fill_pattern(p, LEN, 41);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	expose_read_only(p, LEN, 41);
	/* a sub-range not on page boundaries */
	sv_fill_pattern(q + 100, 5000, 42);
	ck_assert_int_eq(mprotect(q, LEN, PROT_READ), 0);
	expose_read_only(q + 100, 5000, 42);
	munmap(p, LEN);
	munmap(q, LEN);
}
END_TEST

static bool kernel_before(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	ck_assert_int_eq(uname(&u), 0);
	sscanf(u.release, "%d.%d", &a, &b);
	return a < major || (a == major && b < minor);
}

START_TEST(remote_read_of_read_only_file)
{
	int fd = memfd_create("sv-ro", 0);
	uint8_t *w, *p;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, LEN), 0);
	w = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(w, MAP_FAILED);
	sv_fill_pattern(w, LEN, 43);
	munmap(w, LEN);
	p = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	if (kernel_before(6, 2))
		/* ib_umem_get() pins with FOLL_WRITE | FOLL_FORCE there, which
		 * a shared mapping the process may not write refuses: the
		 * kernel's answer, passed on, and nothing registered */
		assert_refused_reg(p, LEN, SANVERBS_ACCESS_REMOTE_READ,
				   "read-only shared mapping before 6.2");
	else
		expose_read_only(p, LEN, 43);
	munmap(p, LEN);
	close(fd);
}
END_TEST

static atomic_long cb_hits;
static _Atomic(void *) cb_last;

static void secure_cb(void *arg, void *addr, size_t len)
{
	(void)arg;
	(void)len;
	atomic_store(&cb_last, addr);
	atomic_fetch_add(&cb_hits, 1);
}

/* Waits (at most 2 s: kmod reports from its thread) for @n callbacks. */
static bool callbacks_reach(long n)
{
	double end = now_s() + 2.0;

	while (atomic_load(&cb_hits) < n && now_s() < end)
		usleep(1000);
	return atomic_load(&cb_hits) >= n;
}

/* MmSecureVirtualMemory's probe mode: probed when securing, and a drop
 * below it fires the callback like a free. The range is the start of a
 * 2 MiB block nothing else maps, never touched: mprotect() notifies the
 * module only where page tables exist, and the plain build's ranges
 * share a block with populated neighbours, so only ASan's mapping hints
 * used to give it a block of its own (a lost callback under kmod). */
START_TEST(secure_probe_mode)
{
	const size_t block = 2u << 20;
	uint8_t *raw = mmap(NULL, 2 * block, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *p = (uint8_t *)(((uintptr_t)raw + block - 1) &
				 ~(uintptr_t)(block - 1));
	struct sanverbs_secure *h = NULL, *r = NULL;

	ck_assert_ptr_ne(raw, MAP_FAILED);
	ck_assert_int_eq(sanverbs_cache_set_callback(ctx, secure_cb, NULL),
			 0);
	ck_assert_int_eq(sanverbs_secure_memory_prot(ctx, p, LEN, PROT_WRITE,
						     &h),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_secure_memory_prot(ctx, p, LEN,
						     PROT_READ | PROT_WRITE,
						     &h),
			 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	ck_assert(callbacks_reach(1));
	ck_assert_ptr_eq(atomic_load(&cb_last), p);
	ck_assert_int_eq(sanverbs_unsecure_memory(h), 0);
	/* read-only memory: not for PAGE_READWRITE, fine for PAGE_READONLY */
	ck_assert_int_eq(sanverbs_secure_memory_prot(ctx, p, LEN,
						     PROT_READ | PROT_WRITE,
						     &h),
			 -EFAULT);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(sanverbs_secure_memory_prot(ctx, p, LEN, PROT_READ,
						     &r),
			 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_READ), 0);
	ck_assert_int_eq(mprotect(p, LEN, PROT_NONE), 0);
	ck_assert(callbacks_reach(2));
	ck_assert_int_eq(sanverbs_unsecure_memory(r), 0);
	ck_assert_int_eq(sanverbs_secure_memory_prot(ctx, p, LEN, PROT_READ,
						     &r),
			 -EFAULT);
	ck_assert_int_eq(sanverbs_cache_set_callback(ctx, NULL, NULL), 0);
	munmap(raw, 2 * block);
}
END_TEST

/* What the library's mprotect() costs over the system call, printed (no
 * timing is asserted): pairs of downgrade + upgrade of a page next to a
 * cached range, through the hook and through syscall(2), interleaved;
 * and, for scale, a cache hit and the cheapest system call. */
START_TEST(hook_cost)
{
	enum { N = 2000, ROUNDS = 3 };
	uint8_t *p = map_rw(NULL, LEN);
	double hook[ROUNDS], raw[ROUNDS], hit[ROUNDS], sys[ROUNDS], t;
	struct sanverbs_cache_stats a, b;
	struct sanverbs_mr *mr;
	int r, i;

	ck_assert_int_eq(land(p, LEN - 4096, 1), 0);
	for (r = 0; r < ROUNDS; r++) {
		t = now_s();
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(mprotect(p + LEN - 4096, 4096,
						  PROT_READ), 0);
			ck_assert_int_eq(mprotect(p + LEN - 4096, 4096,
						  PROT_READ | PROT_WRITE), 0);
		}
		hook[r] = (now_s() - t) / N * 1e6;
		t = now_s();
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(syscall(SYS_mprotect, p + LEN - 4096,
						 4096, PROT_READ), 0);
			ck_assert_int_eq(syscall(SYS_mprotect, p + LEN - 4096,
						 4096, PROT_READ | PROT_WRITE),
					 0);
		}
		raw[r] = (now_s() - t) / N * 1e6;
		a = stats();
		t = now_s();
		for (i = 0; i < N; i++) {
			ck_assert_int_eq(sanverbs_mr_reg(ctx, p, 4096,
						 SANVERBS_ACCESS_LOCAL_WRITE,
						 &mr), 0);
			ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
		}
		hit[r] = (now_s() - t) / N * 1e6;
		b = stats();
		/* all hits but the odd miss when another thread's event is
		 * pending */
		ck_assert_uint_ge(b.hits - a.hits, N * 9 / 10);
		t = now_s();
		for (i = 0; i < N; i++)
			(void)syscall(SYS_getppid);
		sys[r] = (now_s() - t) / N * 1e6;
	}
	for (r = 0; r < ROUNDS; r++)
		printf("hook_cost round %d: mprotect pair through the library "
		       "%.2f us, raw syscall pair %.2f us (%.2fx); hit+put "
		       "%.2f us; getppid %.2f us\n",
		       r, hook[r], raw[r], hook[r] / raw[r], hit[r], sys[r]);
	fflush(stdout);
	/* the page next to it never touched the cached range's pages */
	ck_assert_int_eq(land(p, LEN - 4096, 2), 1);
	munmap(p, LEN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-exact");
	TCase *tc = tcase_create("exact");

	tcase_add_checked_fixture(tc, exact_setup, exact_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, shm_remap_over_cached);
	tcase_add_test(tc, shm_remap_partial);
	tcase_add_test(tc, downgrade_to_read_only);
	tcase_add_test(tc, downgrade_part);
	tcase_add_test(tc, downgrade_after_upgrade);
	tcase_add_test(tc, downgrade_to_none);
	tcase_add_test(tc, inaccessible_every_access);
	tcase_add_test(tc, remote_read_of_read_only_anon);
	tcase_add_test(tc, remote_read_of_read_only_file);
	tcase_add_test(tc, secure_probe_mode);
	tcase_add_test(tc, hook_cost);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
