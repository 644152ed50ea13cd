/* SPDX-License-Identifier: MIT */
/* Description: the admission rule SANVERBS_CACHE_ADMIT=second on rxe, with
 * real bytes, under the monitor SANVERBS_MONITOR names (uffd: rxe suite,
 * kmod: kmod suite). A range seen for the first time is registered
 * uncached (nothing cached, nothing watched) and still moves the right
 * bytes; the same range registered again is cached, and then hit; an
 * unmap and a new mapping at the same address between or after the
 * sights leave no stale hit: the HCA's bytes land in the memory mapped
 * now. Under userfaultfd such new memory is a first sight again (the
 * library's munmap() moves the range's unmap epoch); under kmod the
 * address alone is remembered. A held first-sight registration lives
 * until its deregistration and is deregistered then. With "first" the
 * first sight is cached. */
#define _GNU_SOURCE
#include <stdio.h>

#include "test-cache-common.h"

#define LEN (64u << 10)

/* @want: a range of ours unmapped a moment ago, mapped again in place;
 * NULL: a new range. Under ASan, away from the mmap area, whose hole
 * ASan's block for the monitor thread's first TLS access may take after a
 * watched munmap (sv_test_map()). */
static uint8_t *map_at(void *want)
{
	return sv_test_map(want, LEN, MAP_PRIVATE);
}

/* New memory at an address seen before counts as unseen (userfaultfd's
 * unmap epochs), so it takes two sights to be cached again. */
static bool remap_is_new(void)
{
	return !kmod_monitor();
}

/* Lands on a range mapped again in place after it was seen: misses until
 * it is cached (two sights under unmap epochs, one without), then hits. */
static void land_remapped(uint8_t *p, uint32_t seed)
{
	struct sanverbs_cache_stats a = stats();

	ck_assert_int_eq(land(p, LEN, seed), 0);
	if (remap_is_new()) {
		ck_assert_uint_eq(stats().uncached, a.uncached + 1);
		ck_assert_uint_eq(stats().entries, a.entries);
		ck_assert_int_eq(land(p, LEN, seed + 100), 0);
	}
	ck_assert_uint_eq(stats().entries, a.entries + 1);
	ck_assert_int_eq(land(p, LEN, seed + 200), 1);
}

static void admit_setup(void)
{
	ck_assert_int_eq(setenv("SANVERBS_CACHE_ADMIT", "second", 1), 0);
	cache_setup();
}

START_TEST(first_sight_uncached_moves_bytes)
{
	uint8_t *p = map_at(NULL);
	struct sanverbs_cache_stats a = stats(), b;

	ck_assert_int_eq(land(p, LEN, 1), 0);
	b = stats();
	ck_assert_uint_eq(b.misses, a.misses + 1);
	ck_assert_uint_eq(b.uncached, a.uncached + 1);
	ck_assert_uint_eq(b.entries, a.entries);
	/* nothing of it is cached */
	ck_assert_int_eq(sanverbs_cache_invalidate(ctx, p, LEN), -ENOENT);
	munmap(p, LEN);
}
END_TEST

START_TEST(second_sight_cached_then_hit)
{
	uint8_t *p = map_at(NULL);
	struct sanverbs_cache_stats a, b;

	ck_assert_int_eq(land(p, LEN, 1), 0);
	a = stats();
	ck_assert_int_eq(land(p, LEN, 2), 0);
	b = stats();
	ck_assert_uint_eq(b.uncached, a.uncached);
	ck_assert_uint_eq(b.entries, a.entries + 1);
	ck_assert_int_eq(land(p, LEN, 3), 1);
	ck_assert_int_eq(land(p + 100, 1000, 4), 1);
	ck_assert_int_eq(sanverbs_cache_invalidate(ctx, p, LEN), 0);
	munmap(p, LEN);
}
END_TEST

/* New memory at the address of a range seen once: a first sight again
 * under unmap epochs; without them the seen table admits it (it only
 * decides caching), the registration is made and watched now. Either
 * way the next unmap and mapping there are seen. */
START_TEST(unmap_between_sights_no_stale)
{
	uint8_t *p = map_at(NULL);
	uint64_t inv;

	ck_assert_int_eq(land(p, LEN, 1), 0);
	munmap(p, LEN);
	ck_assert_ptr_eq(map_at(p), p);
	land_remapped(p, 2);
	/* cached now: an unmap invalidates it */
	inv = stats().invalidations;
	munmap(p, LEN);
	ck_assert_ptr_eq(map_at(p), p);
	ck_assert_int_eq(land(p, LEN, 4), 0);
	assert_invalidated_since(inv);
	if (remap_is_new())
		ck_assert_int_eq(land(p, LEN, 44), 0);
	ck_assert_int_eq(land(p, LEN, 5), 1);
	/* and the same once more with the entry held across the unmap */
	{
		struct sanverbs_mr *mr;

		ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
						 SANVERBS_ACCESS_LOCAL_WRITE,
						 &mr),
				 0);
		inv = stats().invalidations;
		munmap(p, LEN);
		ck_assert_ptr_eq(map_at(p), p);
		ck_assert_int_eq(land(p, LEN, 6), 0);
		assert_invalidated_since(inv);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	}
	munmap(p, LEN);
}
END_TEST

/* A first-sight registration held across the unmap of its memory is the
 * holder's, like any registration of freed memory: it stays registered
 * until deregistered, and nothing cached ever returns it. */
START_TEST(first_sight_held_across_unmap)
{
	uint8_t *p = map_at(NULL);
	struct sanverbs_mr *mr;
	struct sanverbs_cache_stats a = stats();

	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	ck_assert_uint_eq(stats().uncached, a.uncached + 1);
	munmap(p, LEN);
	ck_assert_ptr_eq(map_at(p), p);
	/* cached as a new registration of the new pages */
	land_remapped(p, 7);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(land(p, LEN, 9), 1);
	munmap(p, LEN);
}
END_TEST

START_TEST(first_caches_first_sight)
{
	uint8_t *p = map_at(NULL);
	struct sanverbs_cache_stats a;

	ck_assert_int_eq(setenv("SANVERBS_CACHE_ADMIT", "first", 1), 0);
	reopen(1024, 0, test_monitor());
	a = stats();
	ck_assert_int_eq(land(p, LEN, 1), 0);
	ck_assert_uint_eq(stats().entries, a.entries + 1);
	ck_assert_int_eq(land(p, LEN, 2), 1);
	munmap(p, LEN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-admit");
	TCase *tc = tcase_create("admit");

	tcase_add_checked_fixture(tc, admit_setup, cache_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, first_sight_uncached_moves_bytes);
	tcase_add_test(tc, second_sight_cached_then_hit);
	tcase_add_test(tc, unmap_between_sights_no_stale);
	tcase_add_test(tc, first_sight_held_across_unmap);
	tcase_add_test(tc, first_caches_first_sight);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
