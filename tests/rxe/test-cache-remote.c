/* SPDX-License-Identifier: MIT */
/* Description: remote-access registrations as memory windows over cached
 * local entries, with real RDMA bytes. Re-registering a range for remote
 * access is a cache hit that hands out a new rkey each time; the peer's
 * write through it lands (every byte checked) and is refused once the
 * handle is deregistered, while the pages stay cached. Two handles on one
 * range revoke only their own keys; a read-only key refuses writes; the
 * window is exactly the (unaligned) range asked for; the MR under it grants
 * the peer nothing; an munmap while a handle is held leaves no MR behind
 * after the dereg; threads binding windows on one entry at once each get
 * their own key and their own bytes; SANVERBS_CACHE_MW=0 keeps the old
 * per-registration MR.
 * Runs under the monitor SANVERBS_MONITOR names (uffd: rxe, kmod: kmod). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

#include "mr.h" /* the handle's MR, to prove its own keys grant nothing */
#include "test-cache-common.h"

#define LEN (64u << 10)
#define RW (SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ)

static uint8_t *map(size_t len)
{
	return sv_test_map(NULL, len, MAP_PRIVATE);
}

static bool windows_on(void)
{
	return stats().flags & SANVERBS_CACHE_F_REMOTE_MW;
}

/* Every test but the fallback is about windows: rxe has them, so their
 * absence is a failure, not a skip. */
static void require_windows(void)
{
	ck_assert_msg(windows_on(),
		      "remote registrations do not use memory windows "
		      "(SANVERBS_CACHE_MW=%s)",
		      getenv("SANVERBS_CACHE_MW") ? getenv("SANVERBS_CACHE_MW")
						  : "unset");
}

static struct sanverbs_mr *reg(void *p, size_t len, unsigned int access)
{
	struct sanverbs_mr *mr;

	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len, access, &mr), 0);
	return mr;
}

/* The peer RDMA-writes pattern @seed to [@p, @p + @len) with @rkey;
 * returns the completion status. */
static int peer_write(void *p, size_t len, uint32_t rkey, uint32_t seed)
{
	sv_fill_pattern(peer, len, seed);
	return sv_rdma_write(&pair, peer, sanverbs_mr_lkey(peer_mr), len,
			     (uintptr_t)p, rkey);
}

static void assert_lands(void *p, size_t len, uint32_t rkey, uint32_t seed)
{
	memset(p, 0, len);
	ck_assert_int_eq(peer_write(p, len, rkey, seed), IBV_WC_SUCCESS);
	ck_assert_msg(sv_check_pattern(p, len, seed) == -1,
		      "peer's write through rkey %#x wrong at offset %ld",
		      rkey, sv_check_pattern(p, len, seed));
}

/* The peer's write with @rkey is refused and [@p, @p + @len) untouched. */
static void assert_refused(void *p, size_t len, uint32_t rkey)
{
	size_t i;

	memset(p, 0x77, len);
	ck_assert_int_eq(peer_write(p, len, rkey, 99),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
	for (i = 0; i < len; i++)
		ck_assert_msg(((uint8_t *)p)[i] == 0x77,
			      "refused write still changed byte %zu", i);
}

START_TEST(rereg_hits_with_new_rkey)
{
	uint8_t *p = map(LEN);
	struct sanverbs_cache_stats a, b;
	struct sanverbs_mr *mr;
	uint32_t keys[4];
	int i, j;

	require_windows();
	a = stats();
	mr = reg(p, LEN, RW);
	ck_assert_uint_eq(stats().misses, a.misses + 1);
	for (i = 0; i < 4; i++) {
		if (i) {
			a = stats();
			mr = reg(p, LEN, RW);
			b = stats();
			ck_assert_uint_eq(b.misses, a.misses);
			ck_assert_uint_eq(b.hits, a.hits + 1);
		}
		keys[i] = sanverbs_mr_rkey(mr);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(keys[i], keys[j]);
		ck_assert(sanverbs_mr_access(mr) &
			  SANVERBS_ACCESS_REMOTE_WRITE);
		ck_assert(sanverbs_mr_access(mr) & SANVERBS_ACCESS_REMOTE_READ);
		assert_lands(p, LEN, keys[i], 10 + i);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
		/* revoked the moment dereg returned */
		assert_refused(p, LEN, keys[i]);
	}
	/* the pages are still cached, for local use as well */
	ck_assert_uint_ge(stats().entries, 2);
	ck_assert_int_eq(land(p, LEN, 20), 1);
	/* and no earlier key came back to life */
	for (i = 0; i < 4; i++)
		assert_refused(p, LEN, keys[i]);
	munmap(p, LEN);
}
END_TEST

START_TEST(two_handles_revoke_only_their_own)
{
	uint8_t *p = map(LEN);
	struct sanverbs_mr *m1, *m2;
	uint32_t k1, k2;

	require_windows();
	m1 = reg(p, LEN, RW);
	m2 = reg(p, LEN, RW);
	k1 = sanverbs_mr_rkey(m1);
	k2 = sanverbs_mr_rkey(m2);
	ck_assert_uint_ne(k1, k2);
	ck_assert_uint_eq(sanverbs_mr_lkey(m1), sanverbs_mr_lkey(m2));
	assert_lands(p, LEN, k1, 1);
	assert_lands(p, LEN, k2, 2);
	ck_assert_int_eq(sanverbs_mr_dereg(m1), 0);
	assert_refused(p, LEN, k1);
	assert_lands(p, LEN, k2, 3);
	ck_assert_int_eq(sanverbs_mr_dereg(m2), 0);
	assert_refused(p, LEN, k2);
	munmap(p, LEN);
}
END_TEST

START_TEST(read_only_refuses_write)
{
	uint8_t *p = map(LEN), *dst = map(LEN);
	struct sanverbs_mr *ro, *rw, *dmr;

	require_windows();
	/* a writable handle on the same range first: the read-only one
	 * must not share its rights */
	rw = reg(p, LEN, RW);
	ro = reg(p, LEN, SANVERBS_ACCESS_REMOTE_READ);
	ck_assert(!(sanverbs_mr_access(ro) & SANVERBS_ACCESS_REMOTE_WRITE));
	assert_refused(p, LEN, sanverbs_mr_rkey(ro));
	/* but the peer can read through it, every byte */
	dmr = reg(dst, LEN, SANVERBS_ACCESS_LOCAL_WRITE);
	sv_fill_pattern(p, LEN, 7);
	memset(dst, 0, LEN);
	ck_assert_int_eq(sv_rdma_read(&pair, dst, sanverbs_mr_lkey(dmr), LEN,
				      (uintptr_t)p, sanverbs_mr_rkey(ro)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, 7), -1);
	/* and a write-only one refuses reads */
	ck_assert_int_eq(sanverbs_mr_dereg(ro), 0);
	ro = reg(p, LEN, SANVERBS_ACCESS_REMOTE_WRITE);
	ck_assert_int_eq(sv_rdma_read(&pair, dst, sanverbs_mr_lkey(dmr), LEN,
				      (uintptr_t)p, sanverbs_mr_rkey(ro)),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(ro), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(rw), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(dmr), 0);
	munmap(p, LEN);
	munmap(dst, LEN);
}
END_TEST

START_TEST(window_is_exactly_the_range)
{
	uint8_t *p = map(LEN);
	struct sanverbs_mr *mr;
	uint32_t k;
	int round;

	require_windows();
	/* a local entry over the whole buffer is cached first; the remote
	 * registration inside it must still expose only its own bytes */
	ck_assert_int_eq(land(p, LEN, 1), 0);
	for (round = 0; round < 2; round++) {
		mr = reg(p + 100, 1000, RW);
		k = sanverbs_mr_rkey(mr);
		assert_lands(p + 100, 1000, k, 2 + round);
		assert_refused(p + 1100, 1, k); /* one byte past the end */
		assert_refused(p + 99, 1, k);   /* one byte before */
		assert_refused(p + 100, 1001, k);
		assert_refused(p + 99, 1001, k);
		/* the hit of the second round gets no more than the first */
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	}
	munmap(p, LEN);
}
END_TEST

START_TEST(mr_keys_grant_nothing)
{
	uint8_t *p = map(LEN);
	struct sanverbs_mr *mr;

	require_windows();
	mr = reg(p, LEN, RW);
	ck_assert_ptr_nonnull(mr->ibmr);
	ck_assert_ptr_nonnull(mr->win);
	ck_assert_uint_ne(sanverbs_mr_rkey(mr), mr->ibmr->rkey);
	/* rxe hands a remote MR's rkey out equal to its lkey: neither of
	 * the MR's keys may reach the pages */
	assert_refused(p, LEN, mr->ibmr->rkey);
	assert_refused(p, LEN, mr->ibmr->lkey);
	assert_lands(p, LEN, sanverbs_mr_rkey(mr), 4);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	munmap(p, LEN);
}
END_TEST

START_TEST(munmap_while_held)
{
	uint8_t *p = map(LEN), *q;
	struct sanverbs_cache_stats a;
	struct sanverbs_mr *mr;
	uint32_t k, lkey;
	int i;

	require_windows();
	for (i = 0; i < 3; i++) {
		mr = reg(p, LEN, RW);
		k = sanverbs_mr_rkey(mr);
		lkey = sanverbs_mr_lkey(mr);
		assert_lands(p, LEN, k, 30 + i);
		a = stats();
		ck_assert_int_eq(munmap(p, LEN), 0);
		assert_invalidated_since(a.invalidations);
		/* the window and its MR outlive the mapping until dereg */
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
		/* new memory at the same address: a miss, the bytes land in
		 * the new pages */
		q = mmap(p, LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0);
		ck_assert_ptr_eq(q, p);
		assert_refused(p, LEN, k);
		a = stats();
		mr = reg(p, LEN, RW);
		ck_assert_uint_eq(stats().misses, a.misses + 1);
		assert_lands(p, LEN, sanverbs_mr_rkey(mr), 40 + i);
		/* the old MR was deregistered by the dereg above (no leak):
		 * its lkey no longer works, even locally */
		if (lkey != sanverbs_mr_lkey(mr)) {
			ck_assert_int_ne(sv_rdma_read(&pair, p, lkey, 64,
						      (uintptr_t)peer,
						      sanverbs_mr_rkey(peer_mr)),
					 IBV_WC_SUCCESS);
			ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);
		}
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	}
	munmap(p, LEN);
}
END_TEST

#define THREADS 4
#define ITERS 40
#define SLICE (16u << 10)
#define KEPT 5

struct worker {
	int id;
	uint8_t *region; /* THREADS slices, registered whole by everyone */
	uint32_t keys[KEPT];
	int failures;
};

/* Registers the whole shared region for remote access (hits on one entry,
 * binds racing), has its own QP write its slice through its own rkey and
 * checks every byte, deregisters. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct sanverbs_mr *src_mr, *mr;
	struct sv_qp_pair qp;
	uint8_t *src, *mine = w->region + w->id * SLICE;
	int i;

	src = malloc(SLICE);
	if (!src || sv_qp_pair_create(ctx, &qp) ||
	    sanverbs_mr_reg(ctx, src, SLICE, SANVERBS_ACCESS_LOCAL_WRITE,
			    &src_mr)) {
		w->failures++;
		return NULL;
	}
	for (i = 0; i < ITERS; i++) {
		uint32_t seed = (uint32_t)(w->id * 1000 + i);

		if (sanverbs_mr_reg(ctx, w->region, THREADS * SLICE, RW, &mr)) {
			w->failures++;
			continue;
		}
		sv_fill_pattern(src, SLICE, seed);
		if (sv_rdma_write(&qp, src, sanverbs_mr_lkey(src_mr), SLICE,
				  (uintptr_t)mine, sanverbs_mr_rkey(mr)) ||
		    sv_check_pattern(mine, SLICE, seed) != -1)
			w->failures++;
		if (i >= ITERS - KEPT)
			w->keys[i - (ITERS - KEPT)] = sanverbs_mr_rkey(mr);
		if (sanverbs_mr_dereg(mr))
			w->failures++;
	}
	sanverbs_mr_dereg(src_mr);
	sv_qp_pair_destroy(&qp);
	free(src);
	return NULL;
}

START_TEST(threads_share_one_entry)
{
	uint8_t *region = map(THREADS * SLICE);
	struct worker w[THREADS];
	struct sanverbs_cache_stats a, b;
	pthread_t t[THREADS];
	int i, k;

	require_windows();
	a = stats();
	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		w[i].region = region;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker_run, &w[i]),
				 0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	b = stats();
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(w[i].failures, 0);
	/* one entry for the region (plus one per thread's source, unless
	 * a racing miss made another that is now cached too) */
	ck_assert_uint_le(b.misses - a.misses, 2 * THREADS);
	ck_assert_uint_ge(b.hits - a.hits, THREADS * ITERS - THREADS);
	/* every key handed out is dead after its dereg */
	for (i = 0; i < THREADS; i++)
		for (k = 0; k < KEPT; k++)
			assert_refused(region + i * SLICE, SLICE, w[i].keys[k]);
	munmap(region, THREADS * SLICE);
}
END_TEST

START_TEST(close_with_window_held)
{
	uint8_t *p = map(LEN);
	struct sanverbs_mr *mr;

	require_windows();
	mr = reg(p, LEN, RW);
	assert_lands(p, LEN, sanverbs_mr_rkey(mr), 5);
	/* A close while the window is held is refused and revokes nothing:
	 * the handle would dangle on a closed device. */
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	assert_lands(p, LEN, sanverbs_mr_rkey(mr), 6);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	reopen(16384, 0, test_monitor());
	require_windows();
	munmap(p, LEN);
}
END_TEST

START_TEST(fallback_without_windows)
{
	uint8_t *p = map(LEN);
	struct sanverbs_cache_stats a, b;
	struct sanverbs_mr *mr;
	uint32_t k;
	int i;

	ck_assert_int_eq(setenv("SANVERBS_CACHE_MW", "0", 1), 0);
	reopen(16384, 0, test_monitor());
	ck_assert(!windows_on());
	for (i = 0; i < 3; i++) {
		a = stats();
		mr = reg(p, LEN, RW);
		b = stats();
		ck_assert_uint_eq(b.misses, a.misses + 1);
		ck_assert_uint_eq(b.hits, a.hits);
		k = sanverbs_mr_rkey(mr);
		assert_lands(p, LEN, k, 50 + i);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
		assert_refused(p, LEN, k);
	}
	munmap(p, LEN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-remote");
	TCase *tc = tcase_create("remote");

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rereg_hits_with_new_rkey);
	tcase_add_test(tc, two_handles_revoke_only_their_own);
	tcase_add_test(tc, read_only_refuses_write);
	tcase_add_test(tc, window_is_exactly_the_range);
	tcase_add_test(tc, mr_keys_grant_nothing);
	tcase_add_test(tc, munmap_while_held);
	tcase_add_test(tc, threads_share_one_entry);
	tcase_add_test(tc, close_with_window_held);
	tcase_add_test(tc, fallback_without_windows);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
