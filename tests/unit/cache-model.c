/* SPDX-License-Identifier: MIT */
/* The model's bookkeeping for test-cache-model: which pages changed when,
 * which entries it knows and which of them the cache may hold, the
 * callbacks the worker made, and check_state(), the cache's state held
 * against the model after every operation. */
#include <string.h>

#include "cache-model.h"

struct model M;
uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

unsigned int rn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

void cb(void *arg, void *addr, size_t len)
{
	(void)arg;
	pthread_mutex_lock(&M.cb_lock);
	REQ_ILT(M.ncb, MAXCB);
	M.cb[M.ncb].addr = (uintptr_t)addr;
	M.cb[M.ncb].len = len;
	M.ncb++;
	pthread_mutex_unlock(&M.cb_lock);
}

static unsigned int pg(uintptr_t a)
{
	return (unsigned int)((a - M.base) / PAGE);
}

void mark_inval(uintptr_t s, uintptr_t e, uint64_t seq)
{
	unsigned int p;

	if (s < M.base)
		s = M.base;
	for (p = pg(s & ~(PAGE - 1)); p < NPAGES && M.base + p * PAGE < e; p++)
		M.inval[p] = seq;
}

bool is_stale(const struct ment *x)
{
	unsigned int p;

	for (p = pg(x->hs); p < pg(x->he); p++)
		if (x->seq <= M.inval[p])
			return true;
	return false;
}

bool overlaps(const struct ment *x, uintptr_t s, uintptr_t e)
{
	return x->hs < e && x->he > s;
}

static void ent_gc(struct ment *x)
{
	if (x->used && !x->cached && !x->stale && !x->refs &&
	    !fake_reg_find(&M.f, x->lkey))
		x->used = false;
}

struct ment *ent_by_lkey(uint32_t lkey)
{
	int i;

	for (i = 0; i < MAXE; i++)
		if (M.e[i].used && M.e[i].lkey == lkey)
			return &M.e[i];
	return NULL;
}

/* Whether @pred holds for any entry the cache knows, under its lock. */
bool any_entry(bool (*pred)(const struct sv_cache_entry *x,
				   uint32_t arg),
		      uint32_t arg)
{
	struct sv_list *l;
	bool ret = false;

	sv_cache_lock(M.c);
	for (l = M.c->all.next; l != &M.c->all && !ret; l = l->next)
		ret = pred(container_of(l, struct sv_cache_entry, all_link),
			   arg);
	sv_cache_unlock(M.c);
	return ret;
}

static bool is_tree_mr(const struct sv_cache_entry *x, uint32_t lkey)
{
	return x->kind == SV_ENT_MR && x->in_tree && x->ibmr &&
	       x->ibmr->lkey == lkey;
}

/* Whether the registration @lkey is an entry in the cache's tree. */
bool in_tree(uint32_t lkey)
{
	return any_entry(is_tree_mr, lkey);
}

/* Takes the callbacks the worker made and matches each to the entry or
 * secured range it must be for; @expect_live: entries that must be
 * called back now (cached ones an event hit). */
void take_callbacks(void)
{
	int i, j;

	sv_cache_quiesce(M.c);
	pthread_mutex_lock(&M.cb_lock);
	for (i = 0; i < M.ncb; i++) {
		struct ment *hit = NULL;

		/* several entries may share a range: the one that left */
		for (j = 0; j < MAXE && !hit; j++) {
			struct ment *x = &M.e[j];

			if (x->used && x->stale && !x->called &&
			    x->addr == M.cb[i].addr && x->len == M.cb[i].len &&
			    !in_tree(x->lkey))
				hit = x;
		}
		if (hit) {
			hit->called = true;
			hit->stale = false;
			M.n_cb++;
			continue;
		}
		for (j = 0; j < MAXS; j++)
			if (M.s[j].h && !M.s[j].live && !M.s[j].called &&
			    M.s[j].addr == M.cb[i].addr &&
			    M.s[j].len == M.cb[i].len)
				break;
		REQUIRE(j < MAXS, "callback for [%#lx, +%zu) that no "
			      "invalidated entry explains",
			      (unsigned long)M.cb[i].addr, M.cb[i].len);
		M.s[j].called = true;
		M.n_cb++;
	}
	M.ncb = 0;
	pthread_mutex_unlock(&M.cb_lock);
}

/* The cache's tree against the model, the limits, the watches, the keys
 * held by handles. */
void check_state(void)
{
	struct sv_list *l;
	size_t n = 0, bytes = 0, ncached = 0, i;
	struct sv_cache *c = M.c;

	sv_cache_lock(c);
	for (l = c->all.next; l != &c->all; l = l->next) {
		struct sv_cache_entry *x =
			container_of(l, struct sv_cache_entry, all_link);
		struct ment *m;

		if (x->kind != SV_ENT_MR || !x->in_tree)
			continue;
		REQ_IEQ(x->state, SV_ST_LIVE);
		m = ent_by_lkey(x->ibmr->lkey);
		REQUIRE(m, "m is NULL");
		REQUIRE(m->cached || m->stale,
			      "entry [%#lx, +%zu) in the tree, not in the model",
			      (unsigned long)x->addr, x->len);
		if (m->cached)
			REQUIRE(fake_mon_watched(&M.fm, &x->watch),
				      "live entry not watched");
		n++;
		bytes += x->node.end - x->node.start;
	}
	REQ_UEQ(n, c->entries);
	REQ_UEQ(bytes, c->bytes);
	REQ_ULE(c->entries, M.max_entries);
	if (M.max_bytes)
		REQ_ULE(c->bytes, M.max_bytes);
	REQ_UEQ(c->hits + sv_htab_hits(&c->ht), M.hits);
	REQ_UEQ(c->misses, M.misses);
	REQ_UEQ(c->evictions, M.evictions);
	REQ_UEQ(c->merged, M.merged);
	if (M.mode == FAKE_MON_SYNC)
		REQ_UEQ(c->invalidations, M.invalidations);
	sv_cache_unlock(c);

	for (i = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (!x->used)
			continue;
		if (x->cached)
			ncached++;
		/* held or cached: registered; neither: gone */
		if (x->refs || x->cached)
			REQUIRE(fake_reg_find(&M.f, x->lkey),
				      "MR of a held or cached entry deregistered");
		else if (!x->stale)
			REQUIRE(!fake_reg_find(&M.f, x->lkey),
				      "MR of an unreferenced dropped entry "
				      "still registered");
		ent_gc(x);
	}
	REQ_ULE(ncached, n);
	if (M.mode == FAKE_MON_SYNC)
		REQ_UEQ(ncached, n);
	/* every registration alive is one the model knows, and the bytes
	 * pinned are exactly theirs */
	for (i = 0, n = 0, bytes = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (x->used && fake_reg_find(&M.f, x->lkey)) {
			n++;
			bytes += (x->len + PAGE - 1) & ~(PAGE - 1);
		}
	}
	REQ_UEQ(n, M.f.nlive);
	REQ_UEQ(bytes, M.f.pinned);
	for (i = 0; i < (size_t)M.nh; i++)
		REQ_UEQ(M.h[i].h->lkey, M.h[i].e->lkey);
}

struct ment *ent_new(void)
{
	int i;

	for (i = 0; i < MAXE; i++)
		if (!M.e[i].used) {
			memset(&M.e[i], 0, sizeof(M.e[i]));
			M.e[i].used = true;
			return &M.e[i];
		}
	ck_abort_msg("model full");
	return NULL;
}

/* Whether the eviction list holds an entry nobody holds (c->lock held).
 * Held entries stay on it: a put without the lock cannot put them back. */
bool lru_evictable(struct sv_cache *c)
{
	struct sv_list *l;

	for (l = c->lru.next; l != &c->lru; l = l->next)
		if (!sv_entry_held(container_of(l, struct sv_cache_entry,
						lru_link)))
			return true;
	return false;
}

/* Entries the model holds as cached or stale whose MR died in the last
 * operation without a callback: they were evicted. */
void count_evicted(void)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (!x->used || !(x->cached || x->stale) ||
		    fake_reg_find(&M.f, x->lkey))
			continue;
		REQUIRE(!x->refs, "a held entry was evicted");
		REQUIRE(!(x->access & SV_REMOTE_ACCESS),
			      "a remote-key entry was evicted");
		x->cached = x->stale = false;
		n++;
	}
	M.op_evicted += n;
}
