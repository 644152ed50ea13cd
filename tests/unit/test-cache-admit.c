/* SPDX-License-Identifier: MIT */
/* Description: the admission rule (SANVERBS_CACHE_ADMIT, src/cache/admit.c)
 * on the cache core with the fake backend and both fake monitors (no
 * device). With "second": a range the monitor does not watch is
 * registered uncached at its first miss (not watched, not in the tree,
 * deregistered by its put), cached at its second, then hit; an event
 * between the two sights leaves nothing stale (the second registration is
 * made after it and watched); a range the monitor still watches is cached
 * at once; the table stays bounded and never keeps a registration alive.
 * "first" caches every miss; the default follows the monitor (second for
 * the userfaultfd-like one, first for the kmod-like one). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "sv-test.h"
#include "cache-fakes.h"
#include "ctx.h"
#include "mr.h"

#define PAGE 4096ul
#define NPAGES 64

static struct fake_reg f;
static struct fake_mon fm;
static struct sv_cache *c;
static struct sanverbs_ctx ctx;
static void *arena;
static uintptr_t base;

static void open_cache(enum fake_mon_mode mode, enum sv_admit admit,
		       size_t max_entries)
{
	struct sv_cache_params p = { 0 };

	arena = mmap(NULL, (NPAGES + 1) * PAGE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(arena, MAP_FAILED);
	base = ((uintptr_t)arena + PAGE - 1) & ~(PAGE - 1);
	fake_reg_init(&f, false);
	fm.mode = mode;
	p.max_entries = max_entries;
	p.merge = true;
	p.admit = admit;
	p.rb = &f.b;
	p.mon_open = fake_mon_open;
	p.mon_arg = &fm;
	ck_assert_int_eq(sv_cache_create_core(&p, &c), 0);
	ctx.cache = c;
	ctx.hdr.magic = SV_CTX_MAGIC;
	ctx.hdr.fork_gen = sv_fork_gen_now();
}

static void close_cache(void)
{
	ck_assert_int_eq(sanverbs_cache_flush(&ctx), 0);
	sv_cache_quiesce(c);
	ck_assert_uint_eq(f.nlive, 0);
	sv_cache_destroy(c);
	fake_mon_fini(&fm);
	fake_reg_fini(&f);
	munmap(arena, (NPAGES + 1) * PAGE);
}

static uint64_t hits(void)
{
	return c->hits + sv_htab_hits(&c->ht);
}

static struct sanverbs_mr *get(unsigned int pg, unsigned int npg)
{
	struct sanverbs_mr *h;

	ck_assert_int_eq(sv_cache_get(c, (void *)(base + pg * PAGE),
				      npg * PAGE, SANVERBS_ACCESS_LOCAL_WRITE,
				      &h),
			 0);
	ck_assert_ptr_nonnull(fake_reg_find(&f, h->lkey));
	return h;
}

static void put(struct sanverbs_mr *h)
{
	bool kept;

	ck_assert_int_eq(sv_cache_put(c, h, &kept), 0);
	ck_assert(!kept);
	sv_cache_quiesce(c);
}

/* One miss of pages [pg, pg + npg): whether it was cached. */
static bool miss_cached(unsigned int pg, unsigned int npg)
{
	size_t entries = c->entries;
	uint64_t h0 = hits(), m0 = c->misses, u0 = c->uncached;
	struct sanverbs_mr *h = get(pg, npg);
	bool cached = c->entries == entries + 1;
	uint32_t lkey = h->lkey;

	ck_assert_uint_eq(hits(), h0);
	ck_assert_uint_eq(c->misses, m0 + 1);
	ck_assert_uint_eq(c->uncached, u0 + !cached);
	put(h);
	/* an uncached registration dies with its handle, a cached one
	 * stays */
	ck_assert(!fake_reg_find(&f, lkey) == !cached);
	return cached;
}

static void each_monitor_second(enum fake_mon_mode mode)
{
	struct sanverbs_mr *h;
	uint64_t nw;

	open_cache(mode, SV_ADMIT_SECOND, 64);
	nw = fm.nwatch;
	/* first sight: a plain registration, nothing watched */
	h = get(0, 4);
	ck_assert_uint_eq(c->entries, 0);
	ck_assert_uint_eq(c->uncached, 1);
	ck_assert_uint_eq(c->first_seen, 1);
	ck_assert_uint_eq(fm.nwatch, nw);
	ck_assert_uint_eq(f.nlive, 1);
	put(h);
	ck_assert_uint_eq(f.nlive, 0);
	/* second sight: watched and cached */
	ck_assert(miss_cached(0, 4));
	ck_assert_uint_eq(c->entries, 1);
	ck_assert_uint_eq(fm.nwatch, nw + 1);
	ck_assert_uint_eq(f.nlive, 1);
	/* then a hit */
	h = get(0, 4);
	ck_assert_uint_eq(hits(), 1);
	put(h);
	close_cache();
}

START_TEST(second_sight_cached_sync)
{
	each_monitor_second(FAKE_MON_SYNC);
}
END_TEST

START_TEST(second_sight_cached_gen)
{
	each_monitor_second(FAKE_MON_GEN);
}
END_TEST

/* A change between the two sights: the first registration was never
 * cached, so nothing can be hit stale; the second is made after the
 * change and watched, so the change after it drops it. */
START_TEST(event_between_sights)
{
	struct sanverbs_mr *h;
	uint64_t seq;

	open_cache(FAKE_MON_SYNC, SV_ADMIT_SECOND, 64);
	ck_assert(!miss_cached(8, 2));
	fake_mon_inject(&fm, base + 8 * PAGE, 2 * PAGE);
	seq = f.seq;
	h = get(8, 2);
	ck_assert_uint_gt(fake_reg_find(&f, h->lkey)->seq, seq);
	ck_assert_uint_eq(c->entries, 1);
	ck_assert(fake_mon_watched(&fm, &h->entry->watch));
	put(h);
	fake_mon_inject(&fm, base + 9 * PAGE, PAGE);
	sv_cache_quiesce(c);
	ck_assert_uint_eq(c->entries, 0);
	ck_assert_uint_eq(f.nlive, 0);
	/* still remembered: cached again at once, by a new registration */
	seq = f.seq;
	h = get(8, 2);
	ck_assert_uint_gt(fake_reg_find(&f, h->lkey)->seq, seq);
	ck_assert_uint_eq(c->entries, 1);
	put(h);
	close_cache();
}
END_TEST

/* A range the monitor watches already costs no new watch: cached at its
 * first sight (here a sub-range of an invalidated entry's pages). */
START_TEST(known_range_admitted)
{
	open_cache(FAKE_MON_SYNC, SV_ADMIT_SECOND, 64);
	ck_assert(!miss_cached(16, 8));
	ck_assert(miss_cached(16, 8));
	ck_assert_int_eq(sanverbs_cache_invalidate(&ctx,
						   (void *)(base + 16 * PAGE),
						   8 * PAGE),
			 0);
	ck_assert(miss_cached(18, 2));
	/* the kmod-like monitor has no known(): a new range waits */
	close_cache();
	open_cache(FAKE_MON_GEN, SV_ADMIT_SECOND, 64);
	ck_assert(!miss_cached(16, 8));
	ck_assert(miss_cached(16, 8));
	ck_assert_int_eq(sanverbs_cache_invalidate(&ctx,
						   (void *)(base + 16 * PAGE),
						   8 * PAGE),
			 0);
	ck_assert(!miss_cached(18, 2));
	close_cache();
}
END_TEST

START_TEST(first_caches_every_miss)
{
	open_cache(FAKE_MON_SYNC, SV_ADMIT_FIRST, 64);
	ck_assert_ptr_null(c->seen);
	ck_assert(miss_cached(0, 1));
	ck_assert(miss_cached(4, 3));
	ck_assert_uint_eq(c->first_seen, 0);
	close_cache();
}
END_TEST

START_TEST(auto_follows_monitor)
{
	open_cache(FAKE_MON_SYNC, SV_ADMIT_AUTO, 64);
	ck_assert_uint_eq(c->admit, SV_ADMIT_SECOND);
	ck_assert(!miss_cached(0, 1));
	close_cache();
	open_cache(FAKE_MON_GEN, SV_ADMIT_AUTO, 64);
	ck_assert_uint_eq(c->admit, SV_ADMIT_FIRST);
	ck_assert(miss_cached(0, 1));
	close_cache();
}
END_TEST

/* Many first sights: the table keeps its size, keeps no registration
 * alive, and a range pushed out of it is only registered uncached again
 * (then cached at the next sight). */
START_TEST(table_bounded)
{
	unsigned int i, npg, cached = 0;

	open_cache(FAKE_MON_GEN, SV_ADMIT_SECOND, 16);
	ck_assert_uint_eq(c->seen_bits, 6);
	for (npg = 1; npg <= 32; npg++)
		for (i = 0; i + npg <= NPAGES; i += 8) {
			ck_assert_uint_eq(f.nlive, c->entries);
			cached += miss_cached(i, npg);
		}
	ck_assert_uint_eq(c->seen_bits, 6);
	ck_assert_uint_le(c->entries, 16);
	/* 2 sights each would have cached nothing: all are first sights
	 * but those a fingerprint collision admitted */
	ck_assert_uint_le(cached, c->misses / 8);
	ck_assert_uint_eq(c->first_seen + cached, c->misses);
	close_cache();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-admit");
	TCase *tc = tcase_create("admit");

	tcase_add_test(tc, second_sight_cached_sync);
	tcase_add_test(tc, second_sight_cached_gen);
	tcase_add_test(tc, event_between_sights);
	tcase_add_test(tc, known_range_admitted);
	tcase_add_test(tc, first_caches_every_miss);
	tcase_add_test(tc, auto_follows_monitor);
	tcase_add_test(tc, table_bounded);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
