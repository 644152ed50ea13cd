/* Description: the cache's hit index (src/cache/htab.c, open addressing
 * with backward-shift deletion) agrees with a brute-force list on random
 * inserts, removals, growth, cover lookups and lookups by entry, with many
 * ranges starting in the same page and ranges crossing the table's wrap
 * point; a full table refuses an insert instead of losing an entry; large
 * tables get their own 2 MiB-aligned mapping and survive growth. */
#include <stdlib.h>
#include <string.h>

#include "sv-test.h"
#include "cache/htab.h"

#define N 3000
#define PAGE_SHIFT 12

/* Entries are only compared by address here: these stand in for them. */
static char ents[N];
static uintptr_t e_addr[N], e_end[N];
static unsigned int e_acc[N];
static int present[N];

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct sv_cache_entry *ent(int i)
{
	return (struct sv_cache_entry *)(void *)&ents[i];
}

static int idx(const struct sv_hslot *sl)
{
	return (int)((char *)(void *)sl->ent - ents);
}

/* Every present entry is found by entry and holds its own data; the count
 * matches; no absent one is. */
static void check_all(struct sv_htab *t)
{
	size_t n = 0;
	int i, bad = 0;

	for (i = 0; i < N; i++) {
		struct sv_hslot *sl = sv_htab_find_ent(t, e_addr[i], ent(i));

		if (!present[i]) {
			bad += sl != NULL;
			continue;
		}
		n++;
		bad += !sl || sl->addr != e_addr[i] || sl->end != e_end[i] ||
		       sl->refs != (uint32_t)i || sl->access != e_acc[i];
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(t->count, n);
}

static void grow_if_needed(struct sv_htab *t)
{
	if (sv_htab_wants_grow(t)) {
		unsigned int old = t->bits;
		struct sv_hslot *ns = sv_htab_alloc(old + 1);

		ck_assert_ptr_nonnull(ns);
		sv_htab_free(sv_htab_grow(t, ns, old + 1), old);
	}
}

START_TEST(random_against_bruteforce)
{
	struct sv_htab t;
	int round, rounds, i, k;

	rounds = getenv("SANVERBS_TEST_QUICK") ? 3000 : 30000;
	ck_assert_int_eq(sv_htab_init(&t, 2, PAGE_SHIFT), 0);
	memset(present, 0, sizeof(present));
	for (round = 0; round < rounds; round++) {
		i = (int)(rnd() % N);
		if (!present[i]) {
			struct sv_hslot *sl;

			/* few pages, so many ranges share a start page */
			e_addr[i] = ((rnd() % 64) << PAGE_SHIFT) +
				    (i % 3 ? 0 : rnd() % 4096);
			e_end[i] = e_addr[i] + 1 + rnd() % 20000;
			e_acc[i] = (unsigned int)(rnd() % 16);
			grow_if_needed(&t);
			sl = sv_htab_insert(&t, e_addr[i], e_end[i], ent(i));
			ck_assert_ptr_nonnull(sl);
			sl->refs = (uint32_t)i;
			sl->access = (uint16_t)e_acc[i];
			present[i] = 1;
		} else if (rnd() % 2) {
			struct sv_hslot *sl =
				sv_htab_find_ent(&t, e_addr[i], ent(i));

			ck_assert_ptr_nonnull(sl);
			sv_htab_remove(&t, sl);
			present[i] = 0;
		}
		if (round % 100)
			continue;
		check_all(&t);
		for (k = 0; k < 30; k++) {
			uintptr_t qs = ((rnd() % 66) << PAGE_SHIFT) +
				       rnd() % 4096;
			uintptr_t qe = qs + 1 + rnd() % 8000;
			unsigned int acc = (unsigned int)(rnd() % 4);
			struct sv_hslot *sl =
				sv_htab_find_cover(&t, qs, qe, acc, 0x2);
			int j, any = 0;

			for (j = 0; j < N; j++)
				if (present[j] &&
				    e_addr[j] >> PAGE_SHIFT ==
					    qs >> PAGE_SHIFT &&
				    e_addr[j] <= qs && e_end[j] >= qe &&
				    (e_acc[j] & acc) == acc &&
				    (e_acc[j] & 0x2) == (acc & 0x2))
					any = 1;
			if (!sl) {
				/* everything in qs's page was looked at */
				ck_assert_int_eq(any, 0);
				continue;
			}
			j = idx(sl);
			ck_assert(present[j]);
			ck_assert(e_addr[j] <= qs && e_end[j] >= qe);
			ck_assert_uint_eq(e_acc[j] & acc, acc);
			ck_assert_uint_eq(e_acc[j] & 0x2, acc & 0x2);
		}
	}
	check_all(&t);
	for (i = 0; i < N; i++)
		if (present[i]) {
			sv_htab_remove(&t, sv_htab_find_ent(&t, e_addr[i],
							    ent(i)));
			present[i] = 0;
		}
	ck_assert_uint_eq(t.count, 0);
	check_all(&t);
	sv_htab_fini(&t);
}
END_TEST

START_TEST(full_table_refuses)
{
	struct sv_htab t;
	int i, ok = 0;

	ck_assert_int_eq(sv_htab_init(&t, 3, PAGE_SHIFT), 0);
	for (i = 0; i < 8; i++) {
		e_addr[i] = (uintptr_t)(i + 1) << PAGE_SHIFT;
		ok += sv_htab_insert(&t, e_addr[i], e_addr[i] + 1, ent(i)) !=
		      NULL;
	}
	/* one slot always stays empty so that probing terminates */
	ck_assert_int_eq(ok, 7);
	ck_assert_uint_eq(t.count, 7);
	ck_assert(sv_htab_wants_grow(&t));
	for (i = 0; i < 7; i++)
		ck_assert_ptr_nonnull(
			sv_htab_find_ent(&t, e_addr[i], ent(i)));
	ck_assert_ptr_null(sv_htab_find_ent(&t, e_addr[7], ent(7)));
	ck_assert_ptr_null(sv_htab_find_cover(&t, 100 << PAGE_SHIFT,
					      (100 << PAGE_SHIFT) + 1, 0, 0));
	sv_htab_fini(&t);
}
END_TEST

START_TEST(large_tables_are_mapped_aligned)
{
	struct sv_htab t;
	struct sv_hslot *old;
	int i;

	/* 2^15 slots of 64 bytes: 2 MiB, the first size with its own
	 * 2 MiB-aligned mapping (for transparent huge pages) */
	ck_assert_int_eq(sv_htab_init(&t, 15, PAGE_SHIFT), 0);
	ck_assert_uint_eq((uintptr_t)t.slots & ((2u << 20) - 1), 0);
	for (i = 0; i < N; i++) {
		e_addr[i] = (uintptr_t)(i + 1) << PAGE_SHIFT;
		ck_assert_ptr_nonnull(sv_htab_insert(&t, e_addr[i],
						     e_addr[i] + 1, ent(i)));
	}
	old = sv_htab_grow(&t, sv_htab_alloc(16), 16);
	ck_assert_uint_eq((uintptr_t)t.slots & ((2u << 20) - 1), 0);
	sv_htab_free(old, 15);
	for (i = 0; i < N; i++)
		ck_assert_ptr_nonnull(
			sv_htab_find_ent(&t, e_addr[i], ent(i)));
	ck_assert_uint_eq(t.count, N);
	sv_htab_fini(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("htab");
	TCase *tc = tcase_create("htab");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_against_bruteforce);
	tcase_add_test(tc, full_table_refuses);
	tcase_add_test(tc, large_tables_are_mapped_aligned);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
