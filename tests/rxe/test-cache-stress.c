/* SPDX-License-Identifier: MIT */
/* Description: randomized multi-threaded stress of the registration cache
 * on rxe. Four threads, each with its own loopback QP pair, share 32
 * adjacent slots of one mapping and, for a few thousand operations, at
 * random: register a random sub-range (sometimes across two slots) and
 * have the HCA write a fresh pattern into it through that registration
 * (every byte checked), or change a slot's mapping (mmap MAP_FIXED over it,
 * MADV_DONTNEED, mremap it away and map new memory in its place) or
 * invalidate it explicitly. A cache hit on a registration of pages no
 * longer mapped there shows up as missing bytes; the test reports the count
 * of such stale hits and requires 0, with hits and invalidations > 0 so the
 * cache really was exercised. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "test-cache-common.h"

#define THREADS 4
#define SLOTS 32
#define SLOT (16u << 10)
#define OPS 1000
#define DEADLINE_S 150.0

static uint8_t *region;
static pthread_mutex_t slot_lock[SLOTS];
static atomic_long stale, ops_done, failures, remaps;
static atomic_uint seed_ctr;

struct worker {
	int id;
	struct sv_qp_pair qp;
	uint8_t *peer;
	struct sanverbs_mr *peer_mr;
	uint8_t *scratch;
	uint64_t rng;
	pthread_t thr;
};

static struct worker workers[THREADS];

static uint32_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (uint32_t)(w->rng >> 16);
}

static void note_failure(const char *what, int ret)
{
	fprintf(stderr, "stress: %s: %d\n", what, ret);
	atomic_fetch_add(&failures, 1);
}

/* Register, RDMA-read a fresh pattern into it, check every byte. */
static void do_land(struct worker *w, uint8_t *p, size_t len)
{
	uint32_t seed = atomic_fetch_add(&seed_ctr, 1) + 1000;
	struct sanverbs_mr *mr;
	int ret;

	sv_fill_pattern(w->peer, len, seed);
	memset(p, 0, len);
	ret = sanverbs_mr_reg(ctx, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);
	if (ret) {
		note_failure("sanverbs_mr_reg", ret);
		return;
	}
	ret = sv_rdma_read(&w->qp, p, sanverbs_mr_lkey(mr), len,
			   (uintptr_t)w->peer, sanverbs_mr_rkey(w->peer_mr));
	if (ret != IBV_WC_SUCCESS) {
		note_failure("sv_rdma_read", ret);
		sv_qp_pair_reset(&w->qp);
	} else if (sv_check_pattern(p, len, seed) != -1) {
		atomic_fetch_add(&stale, 1);
	}
	ret = sanverbs_mr_dereg(mr);
	if (ret)
		note_failure("sanverbs_mr_dereg", ret);
}

static void change(struct worker *w, uint8_t *p, unsigned int how)
{
	switch (how) {
	case 0:
		if (mmap(p, SLOT, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) != p)
			note_failure("mmap fixed", -errno);
		break;
	case 1:
		if (madvise(p, SLOT, MADV_DONTNEED))
			note_failure("madvise", -errno);
		break;
	case 2:
		/* old pages go to scratch, new ones appear in the slot */
		if (mremap(p, SLOT, SLOT, MREMAP_MAYMOVE | MREMAP_FIXED,
			   w->scratch) == w->scratch)
			atomic_fetch_add(&remaps, 1);
		else if (errno != EFAULT)
			note_failure("mremap", -errno);
		/* EFAULT: the slot spans two VMAs (uffd registration splits
		 * them), which mremap refuses; replace it outright then */
		if (mmap(p, SLOT, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
			note_failure("mmap after mremap", -errno);
		break;
	default:
		sanverbs_cache_invalidate(ctx, p, SLOT);
		break;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	double end = now_s() + DEADLINE_S;
	int n;

	for (n = 0; n < OPS && now_s() < end; n++) {
		unsigned int i = rnd(w) % SLOTS, op = rnd(w) % 10;
		uint8_t *p = region + (size_t)i * SLOT;

		if (op < 5) {
			size_t off = rnd(w) % SLOT;
			size_t len = 1 + rnd(w) % (SLOT - off);

			pthread_mutex_lock(&slot_lock[i]);
			do_land(w, p + off, len);
			pthread_mutex_unlock(&slot_lock[i]);
		} else if (op < 7) {
			/* whole slot again: the likely hit */
			pthread_mutex_lock(&slot_lock[i]);
			do_land(w, p, SLOT);
			pthread_mutex_unlock(&slot_lock[i]);
		} else if (op == 7 && i + 1 < SLOTS) {
			size_t off = rnd(w) % SLOT;

			pthread_mutex_lock(&slot_lock[i]);
			pthread_mutex_lock(&slot_lock[i + 1]);
			do_land(w, p + off, SLOT);
			pthread_mutex_unlock(&slot_lock[i + 1]);
			pthread_mutex_unlock(&slot_lock[i]);
		} else {
			pthread_mutex_lock(&slot_lock[i]);
			change(w, p, rnd(w) % 4);
			pthread_mutex_unlock(&slot_lock[i]);
		}
		atomic_fetch_add(&ops_done, 1);
	}
	return NULL;
}

START_TEST(no_stale_hits)
{
	struct sanverbs_cache_stats s;
	int i;

	region = mmap(NULL, SLOTS * SLOT, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(region, MAP_FAILED);
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&slot_lock[i], NULL);
	for (i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];

		w->id = i;
		w->rng = 0x2545f4914f6cdd1dull * (i + 1);
		ck_assert_int_eq(sv_qp_pair_create(ctx, &w->qp), 0);
		w->peer = mmap(NULL, 2 * SLOT, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		w->scratch = mmap(NULL, SLOT, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ck_assert_ptr_ne(w->peer, MAP_FAILED);
		ck_assert_ptr_ne(w->scratch, MAP_FAILED);
		ck_assert_int_eq(sanverbs_mr_reg(ctx, w->peer, 2 * SLOT,
						 SANVERBS_ACCESS_REMOTE_READ,
						 &w->peer_mr),
				 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&workers[i].thr, NULL, run,
						&workers[i]),
				 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(workers[i].thr, NULL);
	s = stats();
	printf("stress: %ld operations, %ld stale hits, %ld failures, "
	       "%ld mremap moves; hits %llu misses %llu invalidations %llu "
	       "evictions %llu uncached %llu\n",
	       atomic_load(&ops_done), atomic_load(&stale),
	       atomic_load(&failures), atomic_load(&remaps),
	       (unsigned long long)s.hits,
	       (unsigned long long)s.misses,
	       (unsigned long long)s.invalidations,
	       (unsigned long long)s.evictions,
	       (unsigned long long)s.uncached);
	fflush(stdout);
	ck_assert_int_eq(atomic_load(&stale), 0);
	ck_assert_int_eq(atomic_load(&failures), 0);
	ck_assert_int_ge(atomic_load(&ops_done), 2000);
	ck_assert_uint_gt(s.hits, 100);
	ck_assert_uint_gt(s.invalidations, 100);
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(sanverbs_mr_dereg(workers[i].peer_mr), 0);
		sv_qp_pair_destroy(&workers[i].qp);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-stress");
	TCase *tc = tcase_create("stress");

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, no_stale_hits);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
