/* SPDX-License-Identifier: MIT */
/* The operations test-cache-model makes on the cache core, each predicted
 * by the model and its outcome checked against it: register (with merging
 * and races), deregister, monitor events and their delivery, explicit
 * invalidate and flush, secure and unsecure. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cache-model.h"

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

void race_hook(void *arg, uintptr_t addr, size_t len)
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

void op_reg(void)
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

void op_dereg(void)
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
void event(uintptr_t s, size_t len, uint64_t seq)
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

void deliver(void)
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

void drop_range(uintptr_t s, uintptr_t e, bool flush)
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

void op_secure(void)
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
