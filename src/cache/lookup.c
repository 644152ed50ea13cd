/* SPDX-License-Identifier: MIT */
/* Lookup: the hit (hit index first, interval tree as the fallback), the
 * miss (registration with CLOCK eviction and ENOMEM retry), the put, and
 * the memory window over a remote registration. Locking rules are in
 * priv.h; the race-freedom argument is in docs/cache.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "mr.h"
#include "priv.h"

struct hit_query {
	uintptr_t s, e;
	unsigned int access;
};

static int hit_pred(struct sv_itree_node *n, void *arg)
{
	const struct hit_query *q = arg;
	const struct sv_cache_entry *e = sv_entry_of(n);

	return e->kind == SV_ENT_MR && e->state == SV_ST_LIVE &&
	       e->addr <= q->s && e->addr + e->len >= q->e &&
	       (e->access & q->access) == q->access &&
	       /* the peer gets exactly the remote rights asked, no more */
	       (e->access & SV_REMOTE_ACCESS) == (q->access & SV_REMOTE_ACCESS) &&
	       /* a window's entry is the window's exact range */
	       (!(q->access & SV_ACCESS_MW_BIND) ||
		(e->addr == q->s && e->addr + e->len == q->e));
}

/* The next entry to evict, by second chance: held entries leave the list
 * (their last put brings them back), used ones lose the bit and go to the
 * tail. Every step either evicts, unlinks or clears a bit some hit set, so
 * the sweep is amortised O(1) per hit and per eviction. */
static struct sv_cache_entry *clock_victim(struct sv_cache *c)
{
	struct sv_cache_entry *v;
	struct sv_hslot *sl;
	struct sv_list *l;

	while ((l = sv_list_first(&c->lru))) {
		v = container_of(l, struct sv_cache_entry, lru_link);
		sl = sv_entry_slot(c, v);
		sv_lru_del(c, v);
		if (sl ? sl->refs : v->refs) {
			if (sl)
				sl->flags |= SV_HS_OFF_LRU;
			continue;
		}
		if (!(sl ? sl->flags & SV_HS_USED : v->used))
			return v;
		if (sl)
			sl->flags &= (uint8_t)~SV_HS_USED;
		v->used = 0;
		sv_lru_add_tail(c, v);
	}
	return NULL;
}

/* Evicts unreferenced entries, least recently used first (approximately),
 * until the cache has room; returns false if it never does. */
static bool make_room(struct sv_cache *c, size_t add_bytes,
		      struct sv_cache_entry **free_list)
{
	while (c->entries + 1 > c->max_entries ||
	       (c->max_bytes && c->bytes + add_bytes > c->max_bytes)) {
		struct sv_cache_entry *v = clock_victim(c);

		if (!v)
			return false;
		c->evictions++;
		if (sv_entry_drop(c, v, true)) {
			v->next = *free_list;
			*free_list = v;
		}
	}
	return true;
}

/* ibv_reg_mr, evicting unused entries and retrying while pinning fails for
 * RLIMIT_MEMLOCK (ENOMEM); sets errno on failure. */
static struct ibv_mr *reg_retry(struct sv_cache *c, uintptr_t addr,
				size_t len, int flags)
{
	struct sv_cache_entry *free_list, *v;
	struct ibv_mr *mr;
	size_t freed;

	for (;;) {
		mr = ibv_reg_mr(c->pd, (void *)addr, len, flags);
		if (mr)
			return mr;
		if (errno != ENOMEM && errno != EAGAIN)
			return NULL;
		free_list = NULL;
		freed = 0;
		sv_cache_lock(c);
		while (freed < len && (v = clock_victim(c))) {
			c->evictions++;
			freed += v->len;
			if (sv_entry_drop(c, v, true)) {
				v->next = free_list;
				free_list = v;
			}
		}
		sv_cache_unlock(c);
		if (!freed) {
			errno = ENOMEM;
			return NULL;
		}
		sv_entries_free(c, free_list);
	}
}

/* Spare public handles, linked through ->addr while spare: a hit then
 * costs no malloc/free (a quarter of its instructions before). */
#define SV_SPARE_MR_MAX 64

struct sanverbs_mr *sv_cache_mr_pop(struct sv_cache *c)
{
	struct sanverbs_mr *mr = c->mr_spare;

	if (mr) {
		c->mr_spare = mr->addr;
		c->nmr_spare--;
	}
	return mr;
}

/* Keeps @mr for reuse if there is room; false: the caller frees it. */
static bool mr_push(struct sv_cache *c, struct sanverbs_mr *mr)
{
	if (c->nmr_spare >= SV_SPARE_MR_MAX)
		return false;
	mr->addr = c->mr_spare;
	c->mr_spare = mr;
	c->nmr_spare++;
	return true;
}

/* What a hit hands to the new handle. */
static void got(struct sanverbs_mr *h, struct sv_cache_entry *e,
		uintptr_t eaddr, struct ibv_mr *ibmr, unsigned int access,
		uint32_t lkey, uint32_t rkey)
{
	h->entry = e;
	h->eaddr = eaddr;
	h->ibmr = ibmr;
	h->access = access;
	h->lkey = lkey;
	h->rkey = rkey;
}

/* Under c->lock: a live entry covering [s, e) with @access, referenced and
 * filled into *h (a spare handle, or a stack one the caller copies); false
 * if there is none. */
static bool hit_locked(struct sv_cache *c, uintptr_t s, uintptr_t e,
		       unsigned int access, struct sanverbs_mr *h)
{
	struct hit_query q = { s, e, access };
	struct sv_cache_entry *ent;
	struct sv_itree_node *n;
	struct sv_hslot *sl;

	for (;;) {
		/* a window's entry is hit only by its exact range */
		sl = sv_htab_find_range(&c->ht, s, e, access,
					SV_REMOTE_ACCESS,
					access & SV_ACCESS_MW_BIND);
		if (sl) {
			ent = sl->ent;
		} else {
			n = sv_itree_find_cover(&c->tree, s, e, hit_pred, &q);
			if (!n)
				return false;
			ent = sv_entry_of(n);
			sl = sv_entry_slot(c, ent);
		}
		if (!c->mon->ops->still_valid)
			break;
		/* the slot's copy first: the entry's line stays cold */
		if (sl && c->mon->ops->gen_current &&
		    c->mon->ops->gen_current(c->mon, sl->wtoken, sl->wgen))
			break;
		if (c->mon->ops->still_valid(c->mon, &ent->watch)) {
			if (sl) /* revalidated (a THP split): new generation */
				sl->wgen = __atomic_load_n(&ent->watch.gen,
							   __ATOMIC_ACQUIRE);
			break;
		}
		/* A generation-counter backend saw a change the sink has
		 * not reported yet: count and report it here, as the sink
		 * would (the drop unwatches, so the late event is not
		 * reported a second time). */
		sv_cache_invalidate_entry(c, ent);
	}
	/* No relinking: the slot's line only. */
	if (sl) {
		sl->refs++;
		if (!(sl->flags & SV_HS_USED))
			sl->flags |= SV_HS_USED;
		got(h, ent, sl->addr, sl->ibmr, sl->access, sl->lkey,
		    sl->rkey);
	} else {
		ent->refs++;
		ent->used = 1;
		got(h, ent, ent->addr, ent->ibmr, ent->access,
		    ent->ibmr->lkey, ent->ibmr->rkey);
	}
	c->hits++;
	return true;
}

/* c->lock held: @ent goes into the tree as pending if @caching and the
 * limits make room; returns whether it did. Pending entries sit in the
 * tree before the range is watched, so an event between watch() and
 * ibv_reg_mr() finds and kills them. *@known: the monitor says, in this
 * same critical section, that the range is still watched, so watch() can
 * be skipped (an event from here on finds the pending entry, as after a
 * watch()). */
static bool enter_locked(struct sv_cache *c, struct sv_cache_entry *ent,
			 bool caching, struct sv_cache_entry **free_list,
			 bool *known)
{
	size_t bytes = ent->node.end - ent->node.start;

	sv_all_add(c, ent);
	if (!caching || !make_room(c, bytes, free_list))
		return false;
	sv_entry_insert(c, ent);
	c->entries++;
	c->bytes += bytes;
	*known = c->mon->ops->known && c->mon->ops->known(c->mon, &ent->watch);
	return true;
}

static int get_entry(struct sv_cache *c, void *addr, size_t len,
		     unsigned int access, struct sanverbs_mr *res,
		     struct sanverbs_mr **h)
{
	uintptr_t s = (uintptr_t)addr, e = s + len, hs, he;
	struct sv_cache_entry *ent, *free_list = NULL;
	struct sv_hslot *ntab = NULL;
	bool caching = c->mon && c->max_entries, entered = false, known = false;
	unsigned int hbits = 0, nbits = 0; /* nbits: ntab's size */
	int werr = -ENOENT, err;

	if (e > UINTPTR_MAX - c->page_mask)
		return -EFAULT;
	hs = s & ~c->page_mask;
	he = (e + c->page_mask) & ~c->page_mask;
	if (caching && c->max_bytes && he - hs > c->max_bytes)
		caching = false;

	sv_cache_lock(c);
	if (c->mon && c->max_entries && hit_locked(c, s, e, access, res)) {
		*h = sv_cache_mr_pop(c);
		sv_cache_unlock(c);
		return 0;
	}
	c->misses++;
	if (caching && sv_htab_wants_grow(&c->ht))
		hbits = c->ht.bits;
	*h = sv_cache_mr_pop(c);
	ent = sv_entry_spare_pop(c);
	/* The common miss: a spare entry, no growth: one lock section. */
	if (ent && !hbits) {
		sv_entry_init_mr(ent, c, s, len, access, hs, he);
		caching = enter_locked(c, ent, caching, &free_list, &known);
		entered = true;
	}
	sv_cache_unlock(c);

	if (!entered) {
		if (hbits) {
			nbits = hbits + 1;
			ntab = sv_htab_alloc(nbits);
		}
		if (!ent)
			ent = malloc(sizeof(*ent));
		if (!ent) {
			sv_htab_free(ntab, nbits);
			free(*h);
			*h = NULL;
			return -ENOMEM;
		}
		sv_entry_init_mr(ent, c, s, len, access, hs, he);
		sv_cache_lock(c);
		caching = enter_locked(c, ent, caching, &free_list, &known);
		sv_cache_unlock(c);
	}
	sv_entries_free(c, free_list);

	/* Watch first, pin second: pages pinned after the watch started are
	 * the ones any later change will be reported for. */
	if (caching)
		werr = known ? 0 : c->mon->ops->watch(c->mon, &ent->watch);
	ent->ibmr = reg_retry(c, ent->addr, ent->len,
			      sv_access_to_ibv(ent->access));

	sv_cache_lock(c);
	if (!werr && ent->in_tree)
		ent->watched = 1;
	else if (!werr && c->mon->ops->unwatch &&
		 (c->mon->flags & SV_MONITOR_F_WATCH_PER_ENTRY))
		/* dropped while we watched: nobody else will */
		c->mon->ops->unwatch(c->mon, &ent->watch);
	else if (werr && ent->in_tree)
		(void)sv_entry_drop(c, ent, false);
	if (!ent->ibmr) {
		err = errno ? -errno : -ENOMEM;
		ent->refs = 0;
		if (!sv_entry_drop(c, ent, true))
			ent = NULL; /* queued: the worker frees it */
		sv_cache_unlock(c);
		if (ent)
			sv_entry_free(c, ent);
		sv_htab_free(ntab, nbits);
		free(*h);
		*h = NULL;
		return err;
	}
	got(res, ent, ent->addr, ent->ibmr, ent->access, ent->ibmr->lkey,
	    ent->ibmr->rkey);
	if (ent->state == SV_ST_PENDING && ent->in_tree) {
		ent->state = SV_ST_LIVE;
		if (!(ent->access & SV_REMOTE_ACCESS))
			sv_lru_add_tail(c, ent);
		if (ntab && c->ht.bits == hbits) {
			ntab = sv_htab_grow(&c->ht, ntab, nbits);
			nbits = hbits;
		}
		sv_entry_hash_in(c, ent);
	} else {
		/* Never cached, or the range changed while we registered:
		 * this registration lives only as long as the caller's. */
		ent->state = SV_ST_DEAD;
		c->uncached++;
	}
	sv_cache_unlock(c);
	/* the old array, or one a concurrent miss made moot */
	sv_htab_free(ntab, nbits);
	return 0;
}

/* The last reference of a live entry is gone (c->lock held): a local one
 * stays cached; a remote key ends with it, so the peer's rkey is refused
 * from here on. Returns true if the caller must free @e. */
static bool last_put(struct sv_cache *c, struct sv_cache_entry *e,
		     struct ibv_mr **dereg)
{
	bool do_free;

	if (e->state == SV_ST_LIVE && e->in_tree &&
	    !(e->access & SV_REMOTE_ACCESS)) {
		/* Only if an eviction sweep took it off while held. */
		if (!e->on_lru)
			sv_lru_add_tail(c, e);
		return false;
	}
	do_free = sv_entry_drop(c, e, true);
	if (!do_free && e->queued) {
		*dereg = e->ibmr;
		e->ibmr = NULL;
	}
	return do_free;
}

static int put_entry(struct sv_cache *c, struct sv_cache_entry *e,
		     uintptr_t eaddr, struct sanverbs_mr *mr)
{
	struct ibv_mr *dereg = NULL;
	struct sv_hslot *sl;
	bool do_free = false;
	int ret = 0;

	sv_cache_lock(c);
	if (mr && mr_push(c, mr))
		mr = NULL;
	sl = sv_htab_find_ent(&c->ht, eaddr, e);
	if (sl) {
		/* The slot alone, unless this was the last reference of a
		 * remote key or of an entry a sweep took off the list. */
		if (!--sl->refs) {
			if (sl->access & SV_REMOTE_ACCESS) {
				do_free = last_put(c, e, &dereg);
			} else if (sl->flags & SV_HS_OFF_LRU) {
				sl->flags &= (uint8_t)~SV_HS_OFF_LRU;
				do_free = last_put(c, e, &dereg);
			}
		}
	} else if (--e->refs == 0) {
		do_free = last_put(c, e, &dereg);
	}
	sv_cache_unlock(c);
	free(mr);
	if (do_free)
		return sv_entry_free(c, e);
	if (dereg)
		ret = sv_neg_errno(ibv_dereg_mr(dereg));
	return ret;
}

int sv_cache_get(struct sv_cache *c, void *addr, size_t len,
		 unsigned int access, struct sanverbs_mr **out)
{
	struct sanverbs_mr res, *h = NULL;
	bool win = (access & SV_REMOTE_ACCESS) && sv_mw_pool_ready(c->mw);
	unsigned int eacc = access;
	int ret;

	/* With windows, a remote registration is a local entry (its MR's
	 * own rkey grants nothing) plus a window over exactly the range. */
	if (win)
		eacc = (sv_access_normalize(access) & ~SV_REMOTE_ACCESS) |
		       SV_ACCESS_MW_BIND;
	ret = get_entry(c, addr, len, eacc, &res, &h);
	if (ret)
		return ret;
	if (!h && !(h = malloc(sizeof(*h)))) {
		put_entry(c, res.entry, res.eaddr, NULL);
		return -ENOMEM;
	}
	got(h, res.entry, res.eaddr, res.ibmr,
	    res.access & ~SV_ACCESS_MW_BIND, res.lkey, res.rkey);
	h->win = NULL;
	if (win) {
		ret = sv_mw_bind(c->mw, res.ibmr, (uintptr_t)addr, len,
				 sv_access_to_ibv(access) &
					 (IBV_ACCESS_REMOTE_WRITE |
					  IBV_ACCESS_REMOTE_READ),
				 &h->win);
		if (ret) {
			h->win = NULL;
			put_entry(c, res.entry, res.eaddr, h);
			return ret;
		}
		h->rkey = h->win->mw->rkey;
		h->access |= sv_access_normalize(access);
	}
	*out = h;
	return 0;
}

int sv_cache_put(struct sv_cache *c, struct sanverbs_mr *mr)
{
	int ret;

	if (mr->win) {
		/* The key dies before the reference goes: the entry may be
		 * the last user of its MR, and a bound window blocks
		 * ibv_dereg_mr (rxe_dereg_mr: -EINVAL while num_mw). */
		ret = sv_mw_unbind(c->mw, mr->win, mr->ibmr);
		if (ret)
			return ret;
		mr->win = NULL;
	}
	return put_entry(c, mr->entry, mr->eaddr, mr);
}
