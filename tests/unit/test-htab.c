/* SPDX-License-Identifier: MIT */
/* Description: the cache's hit index (src/cache/htab.c: stable records,
 * an open-addressing index with backward-shift deletion, lock-free
 * readers) agrees with a brute-force list on random inserts, closes,
 * growth and cover lookups, with many ranges starting in the same page; a
 * closed record refuses new references and comes back only when its last
 * one is dropped; a full index refuses an insert instead of losing an
 * entry; large arrays are 2 MiB-aligned; and readers on other threads,
 * racing with a writer that closes, reuses and grows, only ever get a
 * record that is open when they take it and covers what they asked. */
#include <pthread.h>
#include <sched.h>
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
static struct sv_hrec *e_rec[N];

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

static int idx(const struct sv_hrec *r)
{
	return (int)((char *)(void *)r->ent - ents);
}

static void prepare(struct sv_htab *t)
{
	if (sv_htab_wants_grow(t)) {
		struct sv_hidx *x = sv_htab_idx_alloc(t->idx->bits + 1);

		ck_assert_ptr_nonnull(x);
		sv_htab_grow(t, x);
	}
	if (sv_htab_wants_chunk(t))
		sv_htab_add_chunk(t, sv_htab_chunk_alloc());
}

static struct sv_hrec *insert(struct sv_htab *t, int i, uint32_t refs)
{
	struct sv_hrec tmpl = { .addr = e_addr[i], .end = e_end[i],
				.ent = ent(i), .access = (uint16_t)e_acc[i],
				.wtoken = SV_HREC_NO_TOKEN };

	return sv_htab_insert(t, &tmpl, refs);
}

/* Every present entry's record holds its data and nothing else is open. */
static void check_all(struct sv_htab *t)
{
	size_t n = 0;
	int i, bad = 0;

	for (i = 0; i < N; i++) {
		struct sv_hrec *r = e_rec[i];

		if (!r)
			continue;
		n++;
		bad += r->addr != e_addr[i] || r->end != e_end[i] ||
		       r->ent != ent(i) || r->access != e_acc[i] ||
		       (r->refs & SV_HREC_CLOSED) || sv_hrec_count(r) != 0;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(t->count, n);
}

START_TEST(random_against_bruteforce)
{
	struct sv_htab t;
	struct sv_hrec *orphan;
	int round, rounds, i, k;

	rounds = getenv("SANVERBS_TEST_QUICK") ? 3000 : 30000;
	ck_assert_int_eq(sv_htab_init(&t, 2, PAGE_SHIFT), 0);
	memset(e_rec, 0, sizeof(e_rec));
	for (round = 0; round < rounds; round++) {
		i = (int)(rnd() % N);
		if (!e_rec[i]) {
			/* few pages, so many ranges share a start page */
			e_addr[i] = ((rnd() % 64) << PAGE_SHIFT) +
				    (i % 3 ? 0 : rnd() % 4096);
			e_end[i] = e_addr[i] + 1 + rnd() % 20000;
			e_acc[i] = (unsigned int)(rnd() % 16);
			prepare(&t);
			e_rec[i] = insert(&t, i, 0);
			ck_assert_ptr_nonnull(e_rec[i]);
		} else if (rnd() % 2) {
			ck_assert_uint_eq(sv_htab_close(&t, e_rec[i]), 0);
			e_rec[i] = NULL;
		}
		if (round % 100)
			continue;
		check_all(&t);
		for (k = 0; k < 30; k++) {
			uintptr_t qs = ((rnd() % 66) << PAGE_SHIFT) +
				       rnd() % 4096;
			uintptr_t qe = qs + 1 + rnd() % 8000;
			unsigned int acc = (unsigned int)(rnd() % 4);
			struct sv_hrec *r = sv_htab_get(&t, qs, qe, acc, 0x2,
							false, &orphan);
			int j, any = 0;

			ck_assert_ptr_null(orphan);
			for (j = 0; j < N; j++)
				if (e_rec[j] &&
				    e_addr[j] >> PAGE_SHIFT ==
					    qs >> PAGE_SHIFT &&
				    e_addr[j] <= qs && e_end[j] >= qe &&
				    (e_acc[j] & acc) == acc &&
				    (e_acc[j] & 0x2) == (acc & 0x2))
					any = 1;
			if (!r) {
				/* everything in qs's page was looked at */
				ck_assert_int_eq(any, 0);
				continue;
			}
			j = idx(r);
			ck_assert_ptr_eq(e_rec[j], r);
			ck_assert(e_addr[j] <= qs && e_end[j] >= qe);
			ck_assert_uint_eq(e_acc[j] & acc, acc);
			ck_assert_uint_eq(e_acc[j] & 0x2, acc & 0x2);
			ck_assert_uint_eq(sv_hrec_count(r), 1);
			ck_assert(!sv_hrec_put(r));
		}
	}
	check_all(&t);
	for (i = 0; i < N; i++)
		if (e_rec[i]) {
			sv_htab_close(&t, e_rec[i]);
			e_rec[i] = NULL;
		}
	ck_assert_uint_eq(t.count, 0);
	sv_htab_fini(&t);
}
END_TEST

START_TEST(closed_record_refuses_and_drains)
{
	struct sv_htab t;
	struct sv_hrec *r, *again, *orphan;

	ck_assert_int_eq(sv_htab_init(&t, 4, PAGE_SHIFT), 0);
	prepare(&t);
	e_addr[0] = 5 << PAGE_SHIFT;
	e_end[0] = e_addr[0] + 4096;
	e_acc[0] = 1;
	r = insert(&t, 0, 1); /* the inserter's own reference */
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_eq(sv_htab_get(&t, e_addr[0], e_end[0], 1, 0, false,
				     &orphan), r);
	ck_assert_uint_eq(sv_hrec_count(r), 2);
	/* closed with two holders: out of the index, not free */
	ck_assert_uint_eq(sv_htab_close(&t, r), 2);
	ck_assert(!sv_hrec_get(r));
	ck_assert_ptr_null(sv_htab_get(&t, e_addr[0], e_end[0], 1, 0, false,
				       &orphan));
	ck_assert(!sv_hrec_put(r));
	ck_assert(sv_hrec_put(r)); /* the last: the caller releases */
	sv_htab_release(&t, r);
	/* reused for another range, open again */
	e_addr[1] = 9 << PAGE_SHIFT;
	e_end[1] = e_addr[1] + 4096;
	e_acc[1] = 1;
	again = insert(&t, 1, 0);
	ck_assert_ptr_eq(again, r);
	ck_assert_ptr_null(sv_htab_get(&t, e_addr[0], e_end[0], 1, 0, false,
				       &orphan));
	ck_assert_ptr_eq(sv_htab_get(&t, e_addr[1], e_end[1], 1, 0, false,
				     &orphan), r);
	ck_assert(!sv_hrec_put(r));
	sv_htab_fini(&t);
}
END_TEST

START_TEST(full_index_refuses)
{
	struct sv_htab t;
	int i, ok = 0;

	ck_assert_int_eq(sv_htab_init(&t, 3, PAGE_SHIFT), 0);
	sv_htab_add_chunk(&t, sv_htab_chunk_alloc());
	for (i = 0; i < 8; i++) {
		e_addr[i] = (uintptr_t)(i + 1) << PAGE_SHIFT;
		e_end[i] = e_addr[i] + 1;
		e_acc[i] = 0;
		ok += insert(&t, i, 0) != NULL;
	}
	/* one slot always stays empty so that probing terminates */
	ck_assert_int_eq(ok, 7);
	ck_assert_uint_eq(t.count, 7);
	ck_assert(sv_htab_wants_grow(&t));
	sv_htab_fini(&t);
}
END_TEST

START_TEST(large_arrays_are_mapped_aligned)
{
	struct sv_htab t;
	struct sv_hrec *orphan;
	int i;

	/* 2^17 slots of 16 bytes: 2 MiB, the first size with its own
	 * 2 MiB-aligned mapping (for transparent huge pages) */
	ck_assert_int_eq(sv_htab_init(&t, 17, PAGE_SHIFT), 0);
	ck_assert_uint_eq((uintptr_t)t.idx & ((2u << 20) - 1), 0);
	for (i = 0; i < N; i++) {
		e_addr[i] = (uintptr_t)(i + 1) << PAGE_SHIFT;
		e_end[i] = e_addr[i] + 1;
		e_acc[i] = 0;
		prepare(&t);
		ck_assert_ptr_nonnull(insert(&t, i, 0));
	}
	sv_htab_grow(&t, sv_htab_idx_alloc(18));
	ck_assert_uint_eq((uintptr_t)t.idx & ((2u << 20) - 1), 0);
	for (i = 0; i < N; i++) {
		struct sv_hrec *r = sv_htab_get(&t, e_addr[i], e_end[i], 0, 0,
						false, &orphan);

		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(idx(r), i);
		sv_hrec_put(r);
	}
	ck_assert_uint_eq(t.count, N);
	sv_htab_fini(&t);
}
END_TEST

/* Readers take references on random keys while the writer (this thread,
 * standing in for the cache lock's holder) closes, drains, reuses and
 * grows. With the reference held, a reader checks that the record is its
 * key's and counted: a record reused for another key, or one taken after
 * it was drained, would fail that. */
#define MT_KEYS 64
static struct sv_htab mt;
static int mt_stop;
static unsigned long mt_bad, mt_hits;
static unsigned long mt_seen; /* hits so far, read by the writer */

static void *mt_reader(void *arg)
{
	uint64_t s = (uintptr_t)arg | 1;
	unsigned long bad = 0, hits = 0;

	while (!__atomic_load_n(&mt_stop, __ATOMIC_ACQUIRE)) {
		struct sv_hrec *r, *orphan;
		unsigned int k;
		uintptr_t a;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		k = (unsigned int)(s % MT_KEYS);
		a = (uintptr_t)(k + 1) << PAGE_SHIFT;
		r = sv_htab_get(&mt, a + 8, a + 16, 0, 0, false, &orphan);
		if (orphan)
			bad++; /* the writer never leaves one to a reader */
		if (!r)
			continue;
		hits++;
		__atomic_fetch_add(&mt_seen, 1, __ATOMIC_RELAXED);
		if (r->addr != a || r->end < a + 16 ||
		    (__atomic_load_n(&r->refs, __ATOMIC_ACQUIRE) &
		     ~SV_HREC_CLOSED) == 0)
			bad++;
		/* the writer waits for a closed record to drain */
		(void)sv_hrec_put(r);
	}
	__atomic_fetch_add(&mt_bad, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&mt_hits, hits, __ATOMIC_RELAXED);
	return NULL;
}

START_TEST(readers_race_writer)
{
	struct sv_hrec *live[MT_KEYS] = { 0 };
	pthread_t th[2];
	int round, rounds, i;

	rounds = getenv("SANVERBS_TEST_QUICK") ? 20000 : 200000;
	ck_assert_int_eq(sv_htab_init(&mt, 2, PAGE_SHIFT), 0);
	mt_stop = 0;
	mt_bad = mt_hits = mt_seen = 0;
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, mt_reader,
						(void *)(uintptr_t)(i + 7)),
				 0);
	/* Past @rounds the writer goes on, yielding, until the readers have
	 * really raced it (a loaded host or valgrind's one-thread-at-a-time
	 * scheduling may not have run them yet). */
	for (round = 0; round < rounds ||
			__atomic_load_n(&mt_seen, __ATOMIC_RELAXED) < 100;
	     round++) {
		unsigned int k = (unsigned int)(rnd() % MT_KEYS);

		if (round >= rounds)
			sched_yield();
		uintptr_t a = (uintptr_t)(k + 1) << PAGE_SHIFT;

		if (!live[k]) {
			struct sv_hrec tmpl = { .addr = a, .end = a + 4096,
						.ent = ent((int)k) };

			prepare(&mt);
			live[k] = sv_htab_insert(&mt, &tmpl, 0);
		} else {
			/* closed: readers holding it keep it; wait for them
			 * as the last put's lock would */
			struct sv_hrec *r = live[k];

			live[k] = NULL;
			if (sv_htab_close(&mt, r)) {
				while (sv_hrec_count(r))
					;
				sv_htab_release(&mt, r);
			}
		}
	}
	__atomic_store_n(&mt_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(mt_bad, 0);
	ck_assert_uint_gt(mt_hits, 0);
	sv_htab_fini(&mt);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("htab");
	TCase *tc = tcase_create("htab");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, random_against_bruteforce);
	tcase_add_test(tc, closed_record_refuses_and_drains);
	tcase_add_test(tc, full_index_refuses);
	tcase_add_test(tc, large_arrays_are_mapped_aligned);
	tcase_add_test(tc, readers_race_writer);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
