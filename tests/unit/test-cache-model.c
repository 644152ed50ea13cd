/* SPDX-License-Identifier: MIT */
/* Description: the cache core (src/cache/, no device) against a reference
 * model, over random sequences of register, deregister, monitor events
 * (userfaultfd-like: reported at once under the cache lock; kmod-like:
 * visible to the hit check at once, reported later), explicit invalidate,
 * flush, secure/unsecure, ENOMEM from the backend (one-shot, persistent,
 * memlock-style limit) and events racing a registration, with limits by
 * count and bytes, memory windows on and off. The model is a list of the
 * registrations the cache may hold; the cache's choices it cannot predict
 * (which covering entry a hit takes, which entry is evicted) are checked
 * for legality and then followed. Asserted after every operation (the
 * rules of docs/cache.md):
 *  - a handle covers its range with at least the local access asked and
 *    exactly the remote access asked; remote and window entries are the
 *    exact range, local ones the page hull;
 *  - no hit on a registration made before a change of any page of its
 *    hull (exactness), and no miss while a legal entry is cached;
 *  - entries in the tree == the model's cached set, each watched, within
 *    max_entries and max_bytes; counters match;
 *  - a registration is uncached or fails with ENOMEM only when nothing
 *    unreferenced was left to evict; evicted entries were unreferenced;
 *  - every MR a handle holds stays registered until its last deregister;
 *    a remote key dies with it (MR deregistered or window unbound);
 *  - a local miss overlapping cached entries of its access registers their
 *    union and replaces them (unheld ones deregistered at once, held ones
 *    at their last put), except in the fallbacks docs/cache.md lists; the
 *    registrations alive are exactly those the model knows, and the bytes
 *    the backend pins are theirs;
 *  - every live entry (and secured range) hit by a monitor event gets
 *    exactly one callback with its range; explicit invalidate, flush and
 *    eviction call back nothing; after destroy nothing stays registered.
 * SANVERBS_MODEL_OPS sets the operations per configuration (default 2000,
 * 300 under SANVERBS_TEST_QUICK); SANVERBS_MODEL_SEED the seed. The model
 * and its checks are in cache-model.c, the operations in
 * cache-model-ops.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cache-model.h"

static void run_config(enum fake_mon_mode mode, bool windows, bool merge,
		       size_t max_entries, size_t max_bytes, unsigned long ops)
{
	struct sv_cache_params p = { 0 };
	unsigned long n;
	void *arena;
	int i;

	memset(&M, 0, sizeof(M));
	pthread_mutex_init(&M.cb_lock, NULL);
	M.mode = mode;
	M.windows = windows;
	M.merge = merge;
	M.max_entries = max_entries;
	M.max_bytes = max_bytes;
	/* addresses only: nothing here touches the pages */
	arena = mmap(NULL, (NPAGES + 1) * PAGE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(arena != MAP_FAILED, "arena != MAP_FAILED");
	M.base = ((uintptr_t)arena + PAGE - 1) & ~(PAGE - 1);
	fake_reg_init(&M.f, windows);
	M.f.reg_hook = race_hook;
	M.fm.mode = mode;
	p.max_entries = max_entries;
	p.max_bytes = max_bytes;
	p.merge = merge;
	p.rb = &M.f.b;
	p.mon_open = fake_mon_open;
	p.mon_arg = &M.fm;
	REQ_IEQ(sv_cache_create_core(&p, &M.c), 0);
	M.ctx.cache = M.c;
	/* a live context of this process, as the public calls check */
	M.ctx.hdr.magic = SV_CTX_MAGIC;
	M.ctx.hdr.fork_gen = sv_fork_gen_now();
	REQ_IEQ(sanverbs_cache_set_callback(&M.ctx, cb, NULL), 0);

	for (n = 0; n < ops; n++) {
		unsigned int r = rn(100);

		if (r < 40) {
			op_reg();
		} else if (r < 70) {
			op_dereg();
		} else if (r < 78) {
			event(M.base + rn(NPAGES) * PAGE + rn(PAGE),
			      1 + rn(3 * PAGE), M.f.seq);
		} else if (r < 84) {
			if (mode == FAKE_MON_GEN)
				deliver();
		} else if (r < 88) {
			uintptr_t s = M.base + rn(NPAGES - 4) * PAGE;

			drop_range(s, s + 1 + rn(4 * PAGE), false);
		} else if (r < 89) {
			drop_range(0, UINTPTR_MAX, true);
		} else if (r < 92) {
			op_secure();
		} else if (r < 95) {
			/* ENOMEM: one-shot, a few, or a memlock limit */
			switch (rn(3)) {
			case 0:
				M.f.fail_next = 1 + rn(3);
				break;
			case 1:
				M.f.pin_limit = (4 + rn(12)) * PAGE;
				M.pin_ops = 5 + rn(20);
				break;
			default:
				M.f.fail_next = 0;
				M.f.pin_limit = 0;
			}
		} else if (r < 96) {
			/* persistent refusal for one registration */
			M.f.fail_always = true;
			op_reg();
			M.f.fail_always = false;
		} else {
			op_reg();
		}
		check_state();
		if (M.pin_ops && !--M.pin_ops)
			M.f.pin_limit = 0;
	}

	/* deregister everything, deliver, flush: nothing stays registered */
	while (M.nh)
		op_dereg();
	if (mode == FAKE_MON_GEN)
		deliver();
	for (i = 0; i < MAXS; i++)
		if (M.s[i].h)
			REQ_IEQ(sanverbs_unsecure_memory(M.s[i].h), 0);
	drop_range(0, UINTPTR_MAX, true);
	check_state();
	REQ_UEQ(M.f.nlive, 0);
	REQ_UEQ(M.f.nbound, 0);
	sv_cache_destroy(M.c);
	REQ_UEQ(M.f.nlive, 0);
	if (mode == FAKE_MON_GEN)
		REQ_UEQ(M.fm.nused, 0); /* every watch released */
	fake_mon_fini(&M.fm);
	fake_reg_fini(&M.f);
	munmap(arena, (NPAGES + 1) * PAGE);
	pthread_mutex_destroy(&M.cb_lock);
	fprintf(stderr,
		"model %s%s%s max %zu/%zuB: %lu ops: %lu hits %lu misses "
		"%lu uncached %lu ENOMEM %lu evicted %lu events %lu callbacks "
		"%lu races %lu merges\n",
		mode == FAKE_MON_SYNC ? "sync" : "gen",
		windows ? "+mw" : "", merge ? "+merge" : "", max_entries,
		max_bytes, ops,
		(unsigned long)M.n_hit, (unsigned long)M.n_miss,
		(unsigned long)M.n_uncached, (unsigned long)M.n_enomem,
		(unsigned long)M.n_evict, (unsigned long)M.n_event,
		(unsigned long)M.n_cb, (unsigned long)M.n_race,
		(unsigned long)M.n_merge);
}

static unsigned long ops_per_config(void)
{
	const char *s = getenv("SANVERBS_MODEL_OPS");

	if (s && *s)
		return strtoul(s, NULL, 0);
	return getenv("SANVERBS_TEST_QUICK") ? 300 : 2000;
}

static void seed(unsigned int i)
{
	const char *s = getenv("SANVERBS_MODEL_SEED");

	rng = (s && *s ? strtoull(s, NULL, 0) : 0x9e3779b97f4a7c15ull) +
	      i * 0x632be59bd9b4e019ull;
	if (!rng)
		rng = 1;
}

START_TEST(model_sync)
{
	seed((unsigned int)_i);
	run_config(FAKE_MON_SYNC, _i & 1, !(_i & 8), _i & 2 ? 4 : 16,
		   _i & 4 ? 8 * PAGE : 0, ops_per_config());
}
END_TEST

START_TEST(model_gen)
{
	seed(100 + (unsigned int)_i);
	run_config(FAKE_MON_GEN, _i & 1, !(_i & 8), _i & 2 ? 4 : 16,
		   _i & 4 ? 8 * PAGE : 0, ops_per_config());
}
END_TEST

START_TEST(model_no_caching)
{
	seed(200);
	run_config(FAKE_MON_SYNC, false, true, 0, 0, ops_per_config() / 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-model");
	TCase *tc = tcase_create("model");

	tcase_set_timeout(tc, 0);
	/* _i: 1 windows, 2 four entries, 4 eight pages, 8 merging off */
	tcase_add_loop_test(tc, model_sync, 0, 16);
	tcase_add_loop_test(tc, model_gen, 0, 16);
	tcase_add_test(tc, model_no_caching);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
