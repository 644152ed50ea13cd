/* SPDX-License-Identifier: MIT */
/* The registration cache: lookup, registration with eviction and ENOMEM
 * retry, reference drop, the invalidation sink the monitor calls and the
 * worker thread that deregisters and runs the application's callback.
 * Locking rules are in cache_priv.h; the race-freedom argument is in
 * docs/cache.md. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache_priv.h"
#include "ctx.h"
#include "mr.h"
#include "util.h"

/* Not linked until the kmod backend lands: AUTO then falls through. */
#pragma weak sv_monitor_kmod_create

/* Set while the monitor thread holds c->lock around read() + sink. */
static __thread bool in_monitor_batch;

static void mon_lock(void *arg)
{
	struct sv_cache *c = arg;

	sv_cache_lock(c);
	in_monitor_batch = true;
}

static void mon_unlock(void *arg)
{
	struct sv_cache *c = arg;

	in_monitor_batch = false;
	sv_cache_unlock(c);
}

static struct sv_cache_entry *entry_of(struct sv_itree_node *n)
{
	return container_of(n, struct sv_cache_entry, node);
}

static void list_init(struct sv_cache_entry *s, bool lru)
{
	if (lru)
		s->lru_prev = s->lru_next = s;
	else
		s->all_prev = s->all_next = s;
}

void sv_lru_del(struct sv_cache *c, struct sv_cache_entry *e)
{
	(void)c;
	if (!e->on_lru)
		return;
	e->lru_prev->lru_next = e->lru_next;
	e->lru_next->lru_prev = e->lru_prev;
	e->on_lru = 0;
}

static void lru_add_tail(struct sv_cache *c, struct sv_cache_entry *e)
{
	e->lru_prev = c->lru.lru_prev;
	e->lru_next = &c->lru;
	c->lru.lru_prev->lru_next = e;
	c->lru.lru_prev = e;
	e->on_lru = 1;
}

void sv_all_add(struct sv_cache *c, struct sv_cache_entry *e)
{
	e->all_prev = c->all.all_prev;
	e->all_next = &c->all;
	c->all.all_prev->all_next = e;
	c->all.all_prev = e;
	e->in_all = 1;
}

static void all_del(struct sv_cache_entry *e)
{
	if (!e->in_all)
		return;
	e->all_prev->all_next = e->all_next;
	e->all_next->all_prev = e->all_prev;
	e->in_all = 0;
}

static int any_node(struct sv_itree_node *n, void *arg)
{
	(void)n;
	(void)arg;
	return 1;
}

static size_t hull_len(const struct sv_cache_entry *e)
{
	return e->node.end - e->node.start;
}

void sv_entry_insert(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_itree_insert(&c->tree, &e->node);
	e->in_tree = 1;
}

/* The hit-index slot of @e, or NULL when @e is not in the index. Void
 * after any insertion or removal. */
static struct sv_hslot *slot_of(struct sv_cache *c, struct sv_cache_entry *e)
{
	return e->hashed ? sv_htab_find_ent(&c->ht, e->addr, e) : NULL;
}

/* A live MR entry joins the hit index, its references with it; if the
 * index is full it stays out (the tree still finds it). */
static void hash_in(struct sv_cache *c, struct sv_cache_entry *e)
{
	struct sv_hslot *sl = sv_htab_insert(&c->ht, e->addr,
					     e->addr + e->len, e);

	if (!sl)
		return;
	sl->ibmr = e->ibmr;
	sl->access = (uint16_t)e->access;
	sl->lkey = e->ibmr->lkey;
	sl->rkey = e->ibmr->rkey;
	sl->wtoken = e->watch.token;
	sl->wgen = __atomic_load_n(&e->watch.gen, __ATOMIC_ACQUIRE);
	sl->refs = e->refs;
	sl->flags = (e->used ? SV_HS_USED : 0) |
		    (e->on_lru ? 0 : SV_HS_OFF_LRU);
	e->refs = 0;
	e->hashed = 1;
}

static void hash_out(struct sv_cache *c, struct sv_cache_entry *e)
{
	struct sv_hslot *sl = slot_of(c, e);

	if (!sl)
		return;
	e->refs = sl->refs;
	e->used = !!(sl->flags & SV_HS_USED);
	sv_htab_remove(&c->ht, sl);
	e->hashed = 0;
}

static void entry_remove(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_itree_remove(&c->tree, &e->node);
	e->in_tree = 0;
}

/* Frees @e if nothing references it any more; false if someone still does. */
static bool release_locked(struct sv_cache_entry *e)
{
	if (e->refs || e->queued || e->in_tree)
		return false;
	all_del(e);
	return true;
}

bool sv_entry_drop(struct sv_cache *c, struct sv_cache_entry *e,
		   bool unwatch)
{
	hash_out(c, e);
	if (e->in_tree) {
		entry_remove(c, e);
		if (e->kind == SV_ENT_MR) {
			c->entries--;
			c->bytes -= hull_len(e);
		}
	}
	sv_lru_del(c, e);
	/* Overlapping entries share the pages' registration: unregistering
	 * under a live neighbour would leave it unwatched. A left-over WP
	 * registration is harmless (it never faults). */
	if (e->watched && c->mon->ops->unwatch &&
	    ((c->mon->flags & SV_MONITOR_F_WATCH_PER_ENTRY) ||
	     (unwatch && !sv_itree_overlap(&c->tree, e->node.start,
					   e->node.end, any_node, NULL))))
		c->mon->ops->unwatch(c->mon, &e->watch);
	e->watched = 0;
	e->state = SV_ST_DEAD;
	return release_locked(e);
}

struct collector {
	struct sv_cache_entry *head;
	unsigned int kinds;
};

static int collect_fn(struct sv_itree_node *n, void *arg)
{
	struct collector *col = arg;
	struct sv_cache_entry *e = entry_of(n);

	if (col->kinds & (1u << e->kind)) {
		e->collect = col->head;
		col->head = e;
	}
	return 0;
}

size_t sv_cache_drop_range(struct sv_cache *c, uintptr_t s, uintptr_t e,
			   unsigned int kind_mask,
			   struct sv_cache_entry **free_list)
{
	struct collector col = { NULL, kind_mask };
	struct sv_cache_entry *x, *nx;
	size_t live = 0;

	sv_itree_overlap(&c->tree, s, e, collect_fn, &col);
	for (x = col.head; x; x = nx) {
		nx = x->collect;
		if (x->state == SV_ST_LIVE && x->kind == SV_ENT_MR)
			live++;
		if (sv_entry_drop(c, x, true)) {
			x->next = *free_list;
			*free_list = x;
		}
	}
	return live;
}

#define SV_SPARE_MAX 64

/* Unlocked: keeps up to SV_SPARE_MAX MR entries of @list (linked by
 * ->next, deregistered) for reuse, frees the rest. Secure entries live
 * inside their public handle and are never kept. */
static void entries_recycle(struct sv_cache *c, struct sv_cache_entry *list)
{
	struct sv_cache_entry *x, *nx, *rest = NULL;

	if (!list)
		return;
	sv_cache_lock(c);
	for (x = list; x; x = nx) {
		nx = x->next;
		if (x->kind == SV_ENT_MR && c->nspare < SV_SPARE_MAX) {
			x->next = c->spare;
			c->spare = x;
			c->nspare++;
		} else {
			x->next = rest;
			rest = x;
		}
	}
	sv_cache_unlock(c);
	for (x = rest; x; x = nx) {
		nx = x->next;
		free(x);
	}
}

static int entry_dereg(struct sv_cache_entry *e)
{
	int ret = 0;

	if (e->ibmr) {
		ret = ibv_dereg_mr(e->ibmr);
		if (ret > 0)
			ret = -ret;
		e->ibmr = NULL;
	}
	return ret;
}

static int entry_free(struct sv_cache *c, struct sv_cache_entry *e)
{
	int ret = entry_dereg(e);

	e->next = NULL;
	entries_recycle(c, e);
	return ret;
}

void sv_entries_free(struct sv_cache *c, struct sv_cache_entry *list)
{
	struct sv_cache_entry *x;

	for (x = list; x; x = x->next)
		entry_dereg(x);
	entries_recycle(c, list);
}

/* Called by the monitor with c->lock held (uffd) or not (other backends).
 * Only unlinks and queues: the worker deregisters and calls back. */
static void sink(void *arg, uintptr_t start, size_t len)
{
	struct sv_cache *c = arg;
	struct collector col = { NULL, (1u << SV_ENT_MR) | (1u << SV_ENT_SECURE) };
	struct sv_cache_entry *x, *nx;
	bool own = !in_monitor_batch, wake = false;
	uintptr_t end = start + len < start ? UINTPTR_MAX : start + len;

	if (own)
		sv_cache_lock(c);
	sv_itree_overlap(&c->tree, start, end, collect_fn, &col);
	for (x = col.head; x; x = nx) {
		bool live = x->state == SV_ST_LIVE;

		nx = x->collect;
		/* The backend already unregistered what needs it. */
		(void)sv_entry_drop(c, x, false);
		if (live) {
			x->notify = 1;
			if (x->kind == SV_ENT_MR)
				c->invalidations++;
		}
		if ((live || !x->refs) && !x->queued) {
			x->queued = 1;
			x->next = c->deferred;
			c->deferred = x;
			wake = true;
		}
	}
	if (wake)
		pthread_cond_signal(&c->cond);
	if (own)
		sv_cache_unlock(c);
}

static void *worker(void *arg)
{
	struct sv_cache *c = arg;
	struct sv_cache_entry *list, *x, *nx, *rev, *to_free;
	sanverbs_cache_cb cb;
	void *cb_arg;

	sv_cache_lock(c);
	for (;;) {
		while (!c->deferred && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->deferred)
			break;
		list = c->deferred;
		c->deferred = NULL;
		cb = c->cb;
		cb_arg = c->cb_arg;
		sv_cache_unlock(c);

		/* Oldest change first. */
		for (rev = NULL, x = list; x; x = nx) {
			nx = x->next;
			x->next = rev;
			rev = x;
		}
		for (x = rev; x; x = x->next)
			if (x->notify && cb)
				cb(cb_arg, (void *)x->addr, x->len);

		to_free = NULL;
		sv_cache_lock(c);
		for (x = rev; x; x = nx) {
			nx = x->next;
			x->queued = 0;
			x->notify = 0;
			/* Referenced ones are freed by their last put. */
			if (!x->refs) {
				all_del(x);
				x->next = to_free;
				to_free = x;
			}
		}
		sv_cache_unlock(c);
		sv_entries_free(c, to_free);
		sv_cache_lock(c);
	}
	sv_cache_unlock(c);
	return NULL;
}

static struct sv_cache_entry *spare_pop(struct sv_cache *c)
{
	struct sv_cache_entry *e = c->spare;

	if (e) {
		c->spare = e->next;
		c->nspare--;
	}
	return e;
}

struct hit_query {
	uintptr_t s, e;
	unsigned int access;
};

static int hit_pred(struct sv_itree_node *n, void *arg)
{
	const struct hit_query *q = arg;
	const struct sv_cache_entry *e = entry_of(n);

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

	while ((v = c->lru.lru_next) != &c->lru) {
		struct sv_hslot *sl = slot_of(c, v);

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
		lru_add_tail(c, v);
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

static struct sanverbs_mr *mr_pop(struct sv_cache *c)
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
			ent = entry_of(n);
			sl = slot_of(c, ent);
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
		c->invalidations++;
		(void)sv_entry_drop(c, ent, false);
		ent->notify = 1;
		if (!ent->queued) {
			ent->queued = 1;
			ent->next = c->deferred;
			c->deferred = ent;
			pthread_cond_signal(&c->cond);
		}
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

/* A fresh MR entry for [s, s + len) (hull [hs, he)), holding the
 * caller's reference; not yet in any list. */
static void entry_init(struct sv_cache_entry *ent, struct sv_cache *c,
		       uintptr_t s, size_t len, unsigned int access,
		       uintptr_t hs, uintptr_t he)
{
	memset(ent, 0, sizeof(*ent));
	ent->cache = c;
	ent->kind = SV_ENT_MR;
	ent->refs = 1;
	ent->access = sv_access_normalize(access);
	/* Local-only entries cover whole pages so neighbours hit; a remote
	 * key is confined to exactly what the caller exposed, and so is the
	 * MR under a window (cache_mw.h: rxe checks a window access against
	 * the MR's bounds only). */
	if (access & (SV_REMOTE_ACCESS | SV_ACCESS_MW_BIND)) {
		ent->addr = s;
		ent->len = len;
	} else {
		ent->addr = hs;
		ent->len = he - hs;
	}
	ent->node.start = hs;
	ent->node.end = he;
	ent->watch.start = hs;
	ent->watch.len = he - hs;
	ent->state = SV_ST_PENDING;
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
		*h = mr_pop(c);
		sv_cache_unlock(c);
		return 0;
	}
	c->misses++;
	if (caching && sv_htab_wants_grow(&c->ht))
		hbits = c->ht.bits;
	*h = mr_pop(c);
	ent = spare_pop(c);
	/* The common miss: a spare entry, no growth: one lock section. */
	if (ent && !hbits) {
		entry_init(ent, c, s, len, access, hs, he);
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
		entry_init(ent, c, s, len, access, hs, he);
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
			entry_free(c, ent);
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
			lru_add_tail(c, ent);
		if (ntab && c->ht.bits == hbits) {
			ntab = sv_htab_grow(&c->ht, ntab, nbits);
			nbits = hbits;
		}
		hash_in(c, ent);
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
			lru_add_tail(c, e);
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
		return entry_free(c, e);
	if (dereg) {
		ret = ibv_dereg_mr(dereg);
		if (ret > 0)
			ret = -ret;
	}
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

int sv_cache_create(struct sanverbs_ctx *ctx, struct sv_cache **out)
{
	enum sanverbs_monitor want = ctx->attr.monitor;
	struct sv_cache *c;
	sigset_t all, old;
	int ret = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->pd = ctx->pd;
	c->max_entries = ctx->attr.cache_max_entries;
	c->max_bytes = ctx->attr.cache_max_bytes;
	c->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	c->page_shift = (unsigned int)__builtin_ctzl(c->page_mask + 1);
	/* grows with the entries (sv_cache_get) */
	if (sv_htab_init(&c->ht, 6, c->page_shift)) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	sv_itree_init(&c->tree);
	list_init(&c->lru, true);
	list_init(&c->all, false);
	c->kind = SANVERBS_MONITOR_NONE;

	if (want == SANVERBS_MONITOR_AUTO || want == SANVERBS_MONITOR_KMOD) {
		ret = sv_monitor_kmod_create ?
			      sv_monitor_kmod_create(sink, c, &c->mon) :
			      -ENODEV;
		if (!ret)
			c->kind = SANVERBS_MONITOR_KMOD;
		else if (want == SANVERBS_MONITOR_KMOD)
			goto err;
	}
	if (!c->mon &&
	    (want == SANVERBS_MONITOR_AUTO || want == SANVERBS_MONITOR_UFFD)) {
		ret = sv_monitor_uffd_create(sink, c, &c->mon);
		if (!ret)
			c->kind = SANVERBS_MONITOR_UFFD;
		else if (want == SANVERBS_MONITOR_UFFD)
			goto err;
	}
	if (c->mon) {
		c->mon->lock = mon_lock;
		c->mon->unlock = mon_unlock;
		/* Callbacks run here; application signal handlers do not. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&c->worker, NULL, worker, c);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (ret) {
			c->mon->ops->destroy(c->mon);
			goto err;
		}
		c->worker_running = true;
	}
	/* Windows only pay off when the entry under them stays cached. */
	if (c->mon && c->max_entries)
		sv_mw_pool_create(ctx, &c->mw);
	*out = c;
	return 0;

err:
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	sv_htab_fini(&c->ht);
	free(c);
	return ret;
}

void sv_cache_destroy(struct sv_cache *c)
{
	struct sv_cache_entry *x, *nx, *list = NULL;

	if (!c)
		return;
	/* No more events, then no more callbacks, then free the rest. */
	if (c->mon)
		c->mon->ops->destroy(c->mon);
	if (c->worker_running) {
		sv_cache_lock(c);
		c->stop = true;
		pthread_cond_signal(&c->cond);
		sv_cache_unlock(c);
		pthread_join(c->worker, NULL);
	}
	/* Windows still bound hold their MRs: gone before the MRs go. */
	sv_mw_pool_destroy(c->mw);
	c->mw = NULL;
	sv_cache_lock(c);
	for (x = c->all.all_next; x != &c->all; x = nx) {
		nx = x->all_next;
		x->in_all = 0;
		x->next = list;
		list = x;
	}
	list_init(&c->all, false);
	sv_cache_unlock(c);
	sv_entries_free(c, list);
	for (x = c->spare; x; x = nx) {
		nx = x->next;
		free(x);
	}
	while (c->mr_spare)
		free(mr_pop(c));
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	sv_htab_fini(&c->ht);
	free(c);
}
