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
 * 300 under SANVERBS_TEST_QUICK); SANVERBS_MODEL_SEED the seed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sv-test.h"
#include "cache-fakes.h"
#include "ctx.h"
#include "mr.h"

/* Check's own asserts log every passing check through a pipe (a write(2)
 * each): far too slow for a million operations; these call it on failure
 * only. */
#define REQUIRE(c, ...)                                                      \
	do {                                                                 \
		if (!(c))                                                    \
			ck_abort_msg(__VA_ARGS__);                           \
	} while (0)
#define REQUIRE_OP(a, op, b, t, fmt)                                         \
	do {                                                                 \
		t a_ = (t)(a), b_ = (t)(b);                                  \
		if (!(a_ op b_))                                             \
			ck_abort_msg("%s %s %s: " fmt " vs " fmt, #a, #op,   \
				     #b, a_, b_);                            \
	} while (0)
#define REQ_UEQ(a, b) REQUIRE_OP(a, ==, b, uintmax_t, "%ju")
#define REQ_ULE(a, b) REQUIRE_OP(a, <=, b, uintmax_t, "%ju")
#define REQ_UGE(a, b) REQUIRE_OP(a, >=, b, uintmax_t, "%ju")
#define REQ_UGT(a, b) REQUIRE_OP(a, >, b, uintmax_t, "%ju")
#define REQ_IEQ(a, b) REQUIRE_OP(a, ==, b, intmax_t, "%jd")
#define REQ_ILT(a, b) REQUIRE_OP(a, <, b, intmax_t, "%jd")

#define PAGE 4096ul
#define NPAGES 32
#define MAXH 48
#define MAXE 512
#define MAXS 8
#define MAXCB 1024

struct ment {
	bool used;
	uint32_t lkey;
	uint64_t seq;
	uintptr_t addr, len, hs, he;
	unsigned int access; /* the entry's, normalized, with MW_BIND */
	bool cached, stale, called;
	bool merge; /* the current miss replaces it */
	unsigned int refs;
};

struct mh {
	struct sanverbs_mr *h;
	uintptr_t addr;
	size_t len;
	unsigned int access;
	struct ment *e;
	bool win;
};

struct msec {
	struct sanverbs_secure *h;
	uintptr_t addr;
	size_t len;
	bool live, called;
};

struct cbrec {
	uintptr_t addr;
	size_t len;
};

static struct {
	/* configuration */
	enum fake_mon_mode mode;
	bool windows, merge;
	size_t max_entries, max_bytes;
	/* the system */
	struct fake_reg f;
	struct fake_mon fm;
	struct sv_cache *c;
	struct sanverbs_ctx ctx;
	uintptr_t base;
	/* the model */
	struct ment e[MAXE];
	struct mh h[MAXH];
	int nh;
	struct mh recent[8]; /* requests to repeat */
	struct msec s[MAXS];
	uint64_t inval[NPAGES]; /* registrations up to this seq are stale */
	uint64_t hits, misses, evictions, invalidations, merged;
	/* callbacks from the worker */
	pthread_mutex_t cb_lock;
	struct cbrec cb[MAXCB];
	int ncb;
	/* a race armed for the next registration */
	bool race, race_in_merge;
	uintptr_t race_s;
	size_t race_len;
	/* what was covered */
	uint64_t n_hit, n_miss, n_uncached, n_enomem, n_evict, n_event,
		n_cb, n_race, n_merge;
	unsigned int op_evicted; /* by the current registration */
	unsigned int pin_ops;    /* operations left under a memlock limit */
} M;

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int rn(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static void cb(void *arg, void *addr, size_t len)
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

static void mark_inval(uintptr_t s, uintptr_t e, uint64_t seq)
{
	unsigned int p;

	if (s < M.base)
		s = M.base;
	for (p = pg(s & ~(PAGE - 1)); p < NPAGES && M.base + p * PAGE < e; p++)
		M.inval[p] = seq;
}

static bool is_stale(const struct ment *x)
{
	unsigned int p;

	for (p = pg(x->hs); p < pg(x->he); p++)
		if (x->seq <= M.inval[p])
			return true;
	return false;
}

static bool overlaps(const struct ment *x, uintptr_t s, uintptr_t e)
{
	return x->hs < e && x->he > s;
}

static void ent_gc(struct ment *x)
{
	if (x->used && !x->cached && !x->stale && !x->refs &&
	    !fake_reg_find(&M.f, x->lkey))
		x->used = false;
}

static struct ment *ent_by_lkey(uint32_t lkey)
{
	int i;

	for (i = 0; i < MAXE; i++)
		if (M.e[i].used && M.e[i].lkey == lkey)
			return &M.e[i];
	return NULL;
}

/* Whether @pred holds for any entry the cache knows, under its lock. */
static bool any_entry(bool (*pred)(const struct sv_cache_entry *x,
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
static bool in_tree(uint32_t lkey)
{
	return any_entry(is_tree_mr, lkey);
}

/* Takes the callbacks the worker made and matches each to the entry or
 * secured range it must be for; @expect_live: entries that must be
 * called back now (cached ones an event hit). */
static void take_callbacks(void)
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
static void check_state(void)
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

static struct ment *ent_new(void)
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

/* Entries the model holds as cached or stale whose MR died in the last
 * operation without a callback: they were evicted. */
/* Whether the eviction list holds an entry nobody holds (c->lock held).
 * Held entries stay on it: a put without the lock cannot put them back. */
static bool lru_evictable(struct sv_cache *c)
{
	struct sv_list *l;

	for (l = c->lru.next; l != &c->lru; l = l->next)
		if (!sv_entry_held(container_of(l, struct sv_cache_entry,
						lru_link)))
			return true;
	return false;
}

static void count_evicted(void)
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

static void event(uintptr_t s, size_t len, uint64_t seq);

/* Whether the registration in flight is a merged one (a pending entry
 * holding the entries it replaces). */
static bool is_merging(const struct sv_cache_entry *x, uint32_t unused)
{
	(void)unused;
	return x->state == SV_ST_PENDING && x->mnext;
}

static bool merging_now(void)
{
	return any_entry(is_merging, 0);
}

static void race_hook(void *arg, uintptr_t addr, size_t len)
{
	(void)arg;
	(void)addr;
	(void)len;
	if (!M.race)
		return;
	M.race = false;
	M.n_race++;
	M.race_in_merge = merging_now();
	/* entries this miss evicted, or found stale, before it registered */
	take_callbacks();
	count_evicted();
	/* the registration in flight (seq + 1) is stale if it overlaps */
	event(M.race_s, M.race_len, M.f.seq + 1);
}

/* The entries a miss of hull [*us, *ue) with @eacc merges (marked
 * ->merge) and the union they make, as docs/cache.md "Merging" says:
 * cached, current, local entries of exactly that access whose hull
 * overlaps, to a fixed point; none when the union is over the byte
 * limit. Returns how many. */
static unsigned int merge_predict(unsigned int eacc, uintptr_t *us,
				  uintptr_t *ue)
{
	unsigned int i, n = 0;
	uintptr_t s = *us, e = *ue, ps, pe;

	for (i = 0; i < MAXE; i++)
		M.e[i].merge = false;
	if (!M.merge || (eacc & (SV_REMOTE_ACCESS | SV_ACCESS_MW_BIND)) ||
	    !M.max_entries)
		return 0;
	do {
		ps = s;
		pe = e;
		for (i = 0; i < MAXE; i++) {
			struct ment *x = &M.e[i];

			if (!x->used || !x->cached || is_stale(x) ||
			    x->merge || x->access != eacc ||
			    !overlaps(x, ps, pe))
				continue;
			x->merge = true;
			n++;
			if (x->hs < s)
				s = x->hs;
			if (x->he > e)
				e = x->he;
		}
	} while (s < ps || e > pe);
	if (!n || (M.max_bytes && e - s > M.max_bytes)) {
		for (i = 0; i < MAXE; i++)
			M.e[i].merge = false;
		return 0;
	}
	*us = s;
	*ue = e;
	return n;
}

static void op_reg(void)
{
	uintptr_t a, s, e, hs, he, us, ue;
	unsigned int nmerge;
	size_t len;
	unsigned int acc, eacc, ibv, i;
	bool win, any_legal = false, cached;
	uint64_t seq0 = M.f.seq, fail0 = M.f.nfail, merged0 = M.c->merged;
	size_t entries0 = M.c->entries, bytes0 = M.c->bytes;
	struct sanverbs_mr *h;
	struct ment *x;
	int ret;

	if (M.nh == MAXH)
		return;
	if (rn(2) && M.recent[i = rn(8)].len) {
		/* buffers are registered again and again: hits */
		a = M.recent[i].addr;
		len = M.recent[i].len;
		acc = M.recent[i].access;
	} else {
		a = M.base + rn(NPAGES - 5) * PAGE + (rn(3) ? rn(PAGE) : 0);
		len = rn(3) ? 1 + rn(3 * PAGE) : PAGE * (1 + rn(4));
		acc = rn(4) ? (rn(2) ? SANVERBS_ACCESS_LOCAL_WRITE : 0) :
			      (rn(2) ? SANVERBS_ACCESS_REMOTE_WRITE :
				       SANVERBS_ACCESS_REMOTE_READ) |
				      (rn(2) ? SANVERBS_ACCESS_LOCAL_WRITE : 0);
		i = rn(8);
		M.recent[i].addr = a;
		M.recent[i].len = len;
		M.recent[i].access = acc;
	}
	s = a;
	e = a + len;
	hs = s & ~(PAGE - 1);
	he = (e + PAGE - 1) & ~(PAGE - 1);
	win = (acc & SV_REMOTE_ACCESS) && M.windows;
	eacc = win ? (sv_access_normalize(acc) & ~SV_REMOTE_ACCESS) |
			     SV_ACCESS_MW_BIND :
		     sv_access_normalize(acc);
	for (i = 0; i < MAXE; i++) {
		x = &M.e[i];
		if (x->used && x->cached && !is_stale(x) && x->addr <= s &&
		    x->addr + x->len >= e && (x->access & eacc) == eacc &&
		    (x->access & SV_REMOTE_ACCESS) == (eacc & SV_REMOTE_ACCESS) &&
		    (!(eacc & SV_ACCESS_MW_BIND) ||
		     (x->addr == s && x->len == len)))
			any_legal = true;
	}
	us = hs;
	ue = he;
	nmerge = merge_predict(eacc, &us, &ue);
	if (rn(16) == 0) {
		M.race = true;
		M.race_s = hs + rn((unsigned int)((he - hs) / PAGE)) * PAGE;
		M.race_len = 1 + rn(PAGE);
	}
	M.op_evicted = 0;
	M.race_in_merge = false;
	ret = sv_cache_get(M.c, (void *)a, len, acc, &h);
	M.race = false;
	take_callbacks();
	if (ret) {
		/* a race marked the registration that never came */
		for (i = 0; i < NPAGES; i++)
			if (M.inval[i] > M.f.seq)
				M.inval[i] = M.f.seq;
		/* only when the backend refused and nothing was left */
		REQ_IEQ(ret, -ENOMEM);
		REQ_UGT(M.f.nfail, fail0);
		M.misses++;
		M.n_enomem++;
		sv_cache_lock(M.c);
		REQUIRE(!lru_evictable(M.c),
			      "ENOMEM with evictable entries left");
		sv_cache_unlock(M.c);
		count_evicted();
		M.evictions += M.op_evicted;
		M.n_evict += M.op_evicted;
		return;
	}
	/* the handle: range, access, keys */
	REQ_UEQ(h->access & ~SV_ACCESS_MW_BIND, h->access);
	REQ_UEQ(h->access & sv_access_normalize(acc),
			  sv_access_normalize(acc));
	REQ_UEQ(h->access & SV_REMOTE_ACCESS, acc & SV_REMOTE_ACCESS);
	REQ_ULE((uintptr_t)h->ibmr->addr, s);
	REQ_UGE((uintptr_t)h->ibmr->addr + h->ibmr->length, e);
	REQUIRE(fake_reg_find(&M.f, h->ibmr->lkey), "fake_reg_find(&M.f, h->ibmr->lkey) is NULL");
	if (win) {
		REQUIRE(h->win, "h->win is NULL");
		REQ_UEQ(h->rkey, h->win->mw->rkey);
	} else {
		REQUIRE(!h->win, "h->win not NULL");
		REQ_UEQ(h->rkey, h->ibmr->rkey);
	}
	REQ_UEQ(h->lkey, h->ibmr->lkey);

	if (M.f.seq == seq0) {
		/* a hit: on a legal, current, cached entry */
		x = ent_by_lkey(h->lkey);
		REQUIRE(x, "x is NULL");
		REQUIRE(x->cached && !is_stale(x),
			      "hit on an entry older than a change of its pages");
		REQ_UEQ(x->access & eacc, eacc);
		REQ_UEQ(x->access & SV_REMOTE_ACCESS,
				  eacc & SV_REMOTE_ACCESS);
		M.hits++;
		M.n_hit++;
		count_evicted();
	} else {
		REQUIRE(!any_legal, "miss although a legal entry was cached");
		REQ_UEQ(M.f.seq, seq0 + 1);
		M.misses++;
		M.n_miss++;
		x = ent_new();
		x->lkey = h->lkey;
		x->seq = M.f.seq;
		x->access = eacc;
		x->addr = (uintptr_t)h->ibmr->addr;
		x->len = h->ibmr->length;
		x->hs = hs;
		x->he = he;
		ibv = (unsigned int)sv_access_to_ibv(eacc);
		REQ_IEQ(fake_reg_find(&M.f, x->lkey)->flags, (int)ibv);
		cached = h->entry->in_tree && h->entry->state == SV_ST_LIVE;
		if (eacc & (SV_REMOTE_ACCESS | SV_ACCESS_MW_BIND)) {
			REQ_UEQ(x->addr, s);
			REQ_UEQ(x->len, len);
		} else if (M.c->merged > merged0 ||
			   (nmerge && !cached && x->addr == us &&
			    x->len == ue - us)) {
			/* merged: the union, which replaces the entries it
			 * took if it is cached (they stay if it is not) */
			REQ_UEQ(x->addr, us);
			REQ_UEQ(x->len, ue - us);
			REQ_UEQ(M.c->merged - merged0, cached ? nmerge : 0);
			x->hs = us;
			x->he = ue;
			for (i = 0; i < MAXE && cached; i++) {
				struct ment *o = &M.e[i];

				if (!o->used || !o->merge)
					continue;
				REQUIRE(!in_tree(o->lkey),
					"merged entry [%#lx, %#lx) acc %#x lkey "
					"%u still in the tree (union [%#lx, "
					"%#lx) acc %#x, request [%#lx, %#lx))",
					(unsigned long)o->hs,
					(unsigned long)o->he, o->access,
					o->lkey, (unsigned long)us,
					(unsigned long)ue, eacc,
					(unsigned long)hs, (unsigned long)he);
				REQUIRE(o->refs || !fake_reg_find(&M.f, o->lkey),
					"unheld merged entry still registered");
				o->cached = o->stale = false;
				M.merged++;
			}
			M.n_merge += cached;
		} else {
			/* no merge, or the merged registration failed and
			 * the plain one was made */
			bool gone = false;

			for (i = 0; i < MAXE; i++)
				if (M.e[i].used && M.e[i].merge &&
				    !fake_reg_find(&M.f, M.e[i].lkey))
					gone = true;
			/* legal: pinning refused the union; the limits had
			 * room only by evicting one of the entries it would
			 * replace (held while merging); not cached */
			REQUIRE(!nmerge || M.f.nfail > fail0 || gone ||
					!cached,
				"no merge although %u entries overlap", nmerge);
			REQ_UEQ(x->addr, hs);
			REQ_UEQ(x->len, he - hs);
			/* An event raced the merged registration, which
			 * failed: it came before this one's watch. */
			if (M.race_in_merge)
				for (i = 0; i < NPAGES; i++)
					if (M.inval[i] == x->seq)
						M.inval[i] = x->seq - 1;
		}
		x->cached = cached;
		count_evicted();
		if (!cached) {
			M.n_uncached++;
			/* legal reasons only */
			if (!(M.max_bytes && he - hs > M.max_bytes) &&
			    !(M.mode == FAKE_MON_SYNC && is_stale(x))) {
				sv_cache_lock(M.c);
				REQUIRE(!lru_evictable(M.c),
					      "uncached with evictable entries");
				sv_cache_unlock(M.c);
			}
		} else if (is_stale(x)) {
			/* raced: kmod-like, live but must never be hit;
			 * userfaultfd-like, never cached */
			REQUIRE(M.mode == FAKE_MON_GEN,
				"entry changed while registering was cached");
			x->cached = false;
			x->stale = true;
		}
	}
	/* no eviction without need */
	if (M.f.nfail == fail0 && entries0 + 1 <= M.max_entries &&
	    (!M.max_bytes || bytes0 + (he - hs) <= M.max_bytes))
		REQ_UEQ(M.op_evicted, 0);
	M.evictions += M.op_evicted;
	M.n_evict += M.op_evicted;
	x->refs++;
	M.h[M.nh].h = h;
	M.h[M.nh].addr = a;
	M.h[M.nh].len = len;
	M.h[M.nh].access = acc;
	M.h[M.nh].e = x;
	M.h[M.nh].win = win;
	M.nh++;
}

static void op_dereg(void)
{
	struct mh hd;
	bool kept;
	size_t nbound = M.f.nbound;
	int i;

	if (!M.nh)
		return;
	i = (int)rn((unsigned int)M.nh);
	hd = M.h[i];
	M.h[i] = M.h[--M.nh];
	REQ_IEQ(sv_cache_put(M.c, hd.h, &kept), 0);
	REQ_IEQ(kept, false);
	take_callbacks();
	hd.e->refs--;
	if (hd.win)
		REQ_UEQ(M.f.nbound, nbound - 1);
	if (!hd.e->refs && (hd.e->access & SV_REMOTE_ACCESS)) {
		/* a remote key dies with its last handle */
		REQUIRE(!fake_reg_find(&M.f, hd.e->lkey),
			      "remote key alive after deregistration");
		hd.e->cached = hd.e->stale = false;
	}
}

static bool sec_overlaps(const struct msec *x, uintptr_t s, uintptr_t e)
{
	uintptr_t hs = x->addr & ~(PAGE - 1);
	uintptr_t he = (x->addr + x->len + PAGE - 1) & ~(PAGE - 1);

	return hs < e && he > s;
}

/* The model's side of an event over [s, e): what is cached there is now
 * due a callback, secured ranges there too. */
static void event_model(uintptr_t s, uintptr_t e, bool count)
{
	int i;

	for (i = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (x->used && (x->cached || x->stale) && overlaps(x, s, e)) {
			if (x->cached && count)
				M.invalidations++;
			x->cached = false;
			x->stale = true;
			x->called = false;
		}
	}
	for (i = 0; i < MAXS; i++)
		if (M.s[i].h && M.s[i].live && sec_overlaps(&M.s[i], s, e))
			M.s[i].live = false;
}

/* A change of [s, s + len): registrations up to @seq are stale there. */
static void event(uintptr_t s, size_t len, uint64_t seq)
{
	uintptr_t e = s + len;
	int i;

	M.n_event++;
	mark_inval(s, e, seq);
	event_model(s, e, M.mode == FAKE_MON_SYNC);
	fake_mon_inject(&M.fm, s, len);
	if (M.mode == FAKE_MON_SYNC) {
		take_callbacks();
		/* every live entry it hit was called back */
		for (i = 0; i < MAXE; i++)
			REQUIRE(!(M.e[i].used && M.e[i].stale),
				      "live entry [%#lx, +%lu) hit by an event "
				      "not called back",
				      (unsigned long)M.e[i].addr,
				      (unsigned long)M.e[i].len);
		for (i = 0; i < MAXS; i++)
			REQUIRE(!M.s[i].h || M.s[i].live ||
					      M.s[i].called,
				      "secured range not called back");
	}
}

static void deliver(void)
{
	size_t k;
	int i;

	/* the sink drops whatever overlaps, registered before or after */
	for (k = 0; k < M.fm.npending; k++)
		event_model(M.fm.pending[k].s, M.fm.pending[k].e, false);
	fake_mon_deliver(&M.fm);
	take_callbacks();
	for (i = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (!x->used || !x->stale)
			continue;
		REQUIRE(0, "stale entry [%#lx, +%lu) still not called "
			      "back after delivery",
			      (unsigned long)x->addr, (unsigned long)x->len);
	}
	for (i = 0; i < MAXS; i++)
		REQUIRE(!M.s[i].h || M.s[i].live || M.s[i].called, "!M.s[i].h || M.s[i].live || M.s[i].called");
	sv_cache_lock(M.c);
	M.invalidations = M.c->invalidations;
	sv_cache_unlock(M.c);
}

static void drop_range(uintptr_t s, uintptr_t e, bool flush)
{
	size_t live = 0, stale_in = 0;
	int i, ret = 0;

	for (i = 0; i < MAXE; i++) {
		struct ment *x = &M.e[i];

		if (!x->used || !overlaps(x, s, e))
			continue;
		if (x->cached) {
			live++;
			x->cached = false;
		} else if (x->stale) {
			/* out of the tree with no callback */
			stale_in++;
			x->stale = false;
		}
	}
	mark_inval(s, e, M.f.seq);
	if (flush)
		REQ_IEQ(sanverbs_cache_flush(&M.ctx), 0);
	else
		ret = sanverbs_cache_invalidate(&M.ctx, (void *)s, e - s);
	take_callbacks();
	if (flush) {
		if (M.mode == FAKE_MON_SYNC)
			REQ_UEQ(M.c->evictions, M.evictions + live);
		M.evictions = M.c->evictions;
	} else {
		if (live)
			REQ_IEQ(ret, 0);
		else if (!stale_in)
			REQ_IEQ(ret, -ENOENT);
		if (M.mode == FAKE_MON_SYNC)
			REQ_UEQ(M.c->invalidations,
					  M.invalidations + live);
		M.invalidations = M.c->invalidations;
	}
}

static void op_secure(void)
{
	int i;

	for (i = 0; i < MAXS && M.s[i].h; i++)
		;
	if (i == MAXS) {
		/* unsecure one */
		i = (int)rn(MAXS);
		REQ_IEQ(sanverbs_unsecure_memory(M.s[i].h), 0);
		take_callbacks();
		M.s[i].h = NULL;
		return;
	}
	M.s[i].addr = M.base + rn(NPAGES - 2) * PAGE + rn(PAGE);
	M.s[i].len = 1 + rn(PAGE);
	REQ_IEQ(sanverbs_secure_memory(&M.ctx, (void *)M.s[i].addr,
						M.s[i].len, &M.s[i].h),
			 0);
	M.s[i].live = true;
	M.s[i].called = false;
}

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
