/* SPDX-License-Identifier: MIT */
/* Description: merging under concurrency, on the cache core with the fake
 * backend and the userfaultfd-like fake monitor (no device). Four threads
 * register and deregister overlapping ranges of a few pages with two
 * access kinds, so misses keep merging entries other threads hold, hit or
 * are merging themselves, while a fifth thread injects events over random
 * pages and now and then invalidates or flushes; the four inject events
 * too. Checked on every
 * registration: the MR is alive in the backend, covers the range, has at
 * least the access asked, and was registered after the last event that had
 * completed on any of its pages before the lookup started (no stale hit).
 * At the end, once everything is deregistered and flushed, nothing stays
 * registered or pinned (the fake aborts on a double deregistration).
 * SANVERBS_MODEL_OPS sets the operations per thread (default 20000). */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sv-test.h"
#include "cache-fakes.h"
#include "ctx.h"
#include "mr.h"

#define PAGE 4096ul
#define NPAGES 24
#define NTHR 4
#define HELD 4

static struct fake_reg f;
static struct fake_mon fm;
static struct sv_cache *c;
static struct sanverbs_ctx ctx;
static uintptr_t base;
static unsigned long ops;
/* f.seq read before the last completed event on each page */
static uint64_t done[NPAGES];
static int stop;
static const char *failure;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t seq_now(void)
{
	uint64_t v;

	pthread_mutex_lock(&f.lock);
	v = f.seq;
	pthread_mutex_unlock(&f.lock);
	return v;
}

static void race_fail(const char *why)
{
	__atomic_store_n(&failure, why, __ATOMIC_RELEASE);
}

/* An event over @np pages from @p0: no hit on what was registered there
 * before it, once it has returned. */
static void event(unsigned int p0, unsigned int np)
{
	uint64_t before = seq_now();
	unsigned int p;

	fake_mon_inject(&fm, base + p0 * PAGE, np * PAGE);
	for (p = p0; p < p0 + np && p < NPAGES; p++) {
		uint64_t d = __atomic_load_n(&done[p], __ATOMIC_ACQUIRE);

		while (d < before &&
		       !__atomic_compare_exchange_n(&done[p], &d, before,
						    false, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE))
			;
	}
}

static void *user(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uintptr_t)arg + 1, snap[NPAGES];
	struct sanverbs_mr *held[HELD] = { 0 };
	unsigned long n;
	bool kept;
	int i;

	for (n = 0; n < ops && !__atomic_load_n(&failure, __ATOMIC_ACQUIRE);
	     n++) {
		uintptr_t a = base + (rnd(&s) % (NPAGES - 4)) * PAGE +
			      (rnd(&s) % 2 ? rnd(&s) % PAGE : 0);
		size_t len = 1 + rnd(&s) % (3 * PAGE);
		unsigned int acc = rnd(&s) % 4 ? SANVERBS_ACCESS_LOCAL_WRITE : 0;
		struct sanverbs_mr *h;
		struct fake_mr *m;
		uintptr_t p;

		if (rnd(&s) % 8 == 0) {
			event((unsigned int)(rnd(&s) % NPAGES),
			      1 + (unsigned int)(rnd(&s) % 3));
			continue;
		}
		i = (int)(rnd(&s) % HELD);
		if (held[i]) {
			if (sv_cache_put(c, held[i], &kept) || kept)
				race_fail("put failed");
			held[i] = NULL;
			continue;
		}
		for (p = 0; p < NPAGES; p++)
			snap[p] = __atomic_load_n(&done[p], __ATOMIC_ACQUIRE);
		if (sv_cache_get(c, (void *)a, len, acc, &h)) {
			race_fail("get failed");
			break;
		}
		m = fake_reg_find(&f, h->lkey);
		if (!m || (uintptr_t)h->ibmr->addr > a ||
		    (uintptr_t)h->ibmr->addr + h->ibmr->length < a + len)
			race_fail("registration dead or short of the range");
		else if ((h->access & acc) != acc)
			race_fail("less access than asked");
		for (p = ((uintptr_t)h->ibmr->addr - base) / PAGE;
		     p < NPAGES &&
		     base + p * PAGE < (uintptr_t)h->ibmr->addr +
					       h->ibmr->length;
		     p++)
			if (m && m->seq <= snap[p])
				race_fail("stale hit: registered before an event "
				     "that had completed on its pages");
		held[i] = h;
	}
	for (i = 0; i < HELD; i++)
		if (held[i] && (sv_cache_put(c, held[i], &kept) || kept))
			race_fail("put failed");
	return NULL;
}

static void *changer(void *arg)
{
	uint64_t s = 12345;
	unsigned long n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned int p0 = (unsigned int)(rnd(&s) % NPAGES);
		unsigned int np = 1 + (unsigned int)(rnd(&s) % 3);

		if (++n % 50 == 0) {
			(void)sanverbs_cache_flush(&ctx);
			continue;
		}
		if (n % 7 == 0) {
			(void)sanverbs_cache_invalidate(&ctx,
				(void *)(base + p0 * PAGE), np * PAGE);
		} else {
			event(p0, np);
		}
		sched_yield();
	}
	return NULL;
}

START_TEST(merge_race)
{
	struct sv_cache_params prm = { 0 };
	pthread_t u[NTHR], ch;
	const char *e = getenv("SANVERBS_MODEL_OPS");
	void *arena;
	long i;

	ops = e && *e ? strtoul(e, NULL, 0) :
			getenv("SANVERBS_TEST_QUICK") ? 2000 : 20000;
	arena = mmap(NULL, (NPAGES + 1) * PAGE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(arena, MAP_FAILED);
	base = ((uintptr_t)arena + PAGE - 1) & ~(PAGE - 1);
	fake_reg_init(&f, false);
	fm.mode = FAKE_MON_SYNC;
	prm.max_entries = 64;
	prm.merge = true;
	prm.rb = &f.b;
	prm.mon_open = fake_mon_open;
	prm.mon_arg = &fm;
	ck_assert_int_eq(sv_cache_create_core(&prm, &c), 0);
	ctx.cache = c;
	ctx.hdr.magic = SV_CTX_MAGIC;
	ctx.hdr.fork_gen = sv_fork_gen_now();

	ck_assert_int_eq(pthread_create(&ch, NULL, changer, NULL), 0);
	for (i = 0; i < NTHR; i++)
		ck_assert_int_eq(pthread_create(&u[i], NULL, user,
						(void *)(i + 1)), 0);
	for (i = 0; i < NTHR; i++)
		pthread_join(u[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(ch, NULL);
	ck_assert_msg(!failure, "%s", failure ? failure : "");

	ck_assert_int_eq(sanverbs_cache_flush(&ctx), 0);
	sv_cache_quiesce(c);
	ck_assert_uint_eq(f.nlive, 0);
	ck_assert_uint_eq(f.pinned, 0);
	fprintf(stderr, "merge race: %lu ops x %d threads: %ju hits, %ju "
		"misses, %ju merged, %ju invalidations, %ju evictions\n",
		ops, NTHR, (uintmax_t)(c->hits + sv_htab_hits(&c->ht)),
		(uintmax_t)c->misses, (uintmax_t)c->merged,
		(uintmax_t)c->invalidations, (uintmax_t)c->evictions);
	ck_assert_uint_gt(c->merged, 0);
	sv_cache_destroy(c);
	fake_mon_fini(&fm);
	fake_reg_fini(&f);
	munmap(arena, (NPAGES + 1) * PAGE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-merge-race");
	TCase *tc = tcase_create("race");

	tcase_set_timeout(tc, 0);
	tcase_add_test(tc, merge_race);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
