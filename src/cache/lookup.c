/* SPDX-License-Identifier: MIT */
/* Lookup: the hit (hit index first, interval tree as the fallback), the
 * miss (registration with CLOCK eviction and ENOMEM retry), the put, and
 * the memory window over a remote registration. Locking rules are in
 * priv.h; the race-freedom argument is in docs/cache.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mr.h"
#include "priv.h"

/* The cache makes and keeps every registration handle (mr.h). */
struct sv_handle_type sv_mr_type = SV_HANDLE_TYPE(struct sanverbs_mr,
						  SV_MR_MAGIC);

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

/* The next entry to evict, by second chance: held and used entries go to
 * the tail (a used one loses its bit), the first neither is the victim.
 * Held entries stay on the list because a lock-free put cannot put them
 * back; one pass plus one round for the bits bounds the sweep. A hit
 * racing with the choice only makes the victim a held entry when it is
 * dropped: it leaves the cache and is freed by its last put. */
static struct sv_cache_entry *clock_victim(struct sv_cache *c)
{
	size_t steps = 2 * c->entries + 2;
	struct sv_cache_entry *v;
	struct sv_hrec *r;
	struct sv_list *l;

	while (steps-- && (l = sv_list_first(&c->lru))) {
		bool used;

		v = container_of(l, struct sv_cache_entry, lru_link);
		r = sv_entry_slot(v);
		used = r ? __atomic_load_n(&r->used, __ATOMIC_RELAXED) :
			   v->used;
		if (!sv_entry_held(v) && !used) {
			sv_lru_del(c, v);
			return v;
		}
		if (r && used)
			__atomic_store_n(&r->used, 0, __ATOMIC_RELAXED);
		v->used = 0;
		sv_lru_del(c, v);
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

/* Registers through the backend, evicting unused entries and retrying while
 * pinning fails for RLIMIT_MEMLOCK (ENOMEM); 0 or a negative errno. */
static int reg_retry(struct sv_cache *c, uintptr_t addr, size_t len,
		     int flags, struct ibv_mr **out)
{
	struct sv_cache_entry *free_list, *v;
	size_t freed;
	int ret;

	for (;;) {
		ret = c->rb->ops->reg(c->rb, addr, len, flags, out);
		if (!ret)
			return 0;
		*out = NULL;
		if (ret != -ENOMEM && ret != -EAGAIN)
			return ret;
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
		if (!freed)
			return -ENOMEM;
		sv_entries_free(c, free_list);
	}
}

/* Spare public handles, per thread, linked through ->addr: a hit then
 * costs no malloc/free (a quarter of its instructions once) and no lock.
 * A thread's spares go back to their type (handle.h) when it exits. */
#define SV_SPARE_MR_MAX 16

static __thread struct sanverbs_mr *tl_spare;
static __thread unsigned int tl_nspare;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

/* The key's value only marks the thread as having spares; the list is
 * the thread's own, still reachable while key destructors run. */
static void tl_free(void *arg)
{
	struct sanverbs_mr *mr = tl_spare, *next;

	(void)arg;
	for (; mr; mr = next) {
		next = mr->addr;
		sv_handle_retire(&sv_mr_type, mr);
	}
	tl_spare = NULL;
	tl_nspare = 0;
}

static void tl_init(void)
{
	(void)pthread_key_create(&tl_key, tl_free);
}

static struct sanverbs_mr *mr_pop(void)
{
	struct sanverbs_mr *mr = tl_spare;

	if (mr) {
		tl_spare = mr->addr;
		tl_nspare--;
	} else {
		mr = sv_handle_new(&sv_mr_type);
	}
	return mr;
}

/* Keeps @mr (dead) for reuse by this thread if there is room, else
 * gives it back to its type (handle.h). */
static void mr_push(struct sanverbs_mr *mr)
{
	__atomic_store_n(&mr->hdr.magic, 0, __ATOMIC_RELEASE);
	if (tl_nspare >= SV_SPARE_MR_MAX) {
		sv_handle_retire(&sv_mr_type, mr);
		return;
	}
	if (!tl_spare) {
		/* the key's destructor gives the list back at thread exit */
		pthread_once(&tl_once, tl_init);
		(void)pthread_setspecific(tl_key, (void *)1);
	}
	mr->addr = tl_spare;
	tl_spare = mr;
	tl_nspare++;
}

/* What a hit hands to the new handle. */
static void got(struct sanverbs_mr *h, struct sv_cache_entry *e,
		struct sv_hrec *rec, struct ibv_mr *ibmr, unsigned int access,
		uint32_t lkey, uint32_t rkey)
{
	h->entry = e;
	h->rec = rec;
	h->ibmr = ibmr;
	h->access = access;
	h->lkey = lkey;
	h->rkey = rkey;
}

static void got_rec(struct sanverbs_mr *h, struct sv_hrec *r)
{
	got(h, r->ent, r, r->ibmr, r->access, r->lkey, r->rkey);
}

/* A closed record whose last reference this thread dropped: free it, and
 * its entry if that was the entry's last hold. */
static int rec_drained(struct sv_cache *c, struct sv_hrec *r)
{
	struct sv_cache_entry *e = r->ent;
	bool do_free;

	sv_cache_lock(c);
	do_free = sv_entry_rec_drained(c, r);
	sv_cache_unlock(c);
	return do_free ? sv_entry_free(c, e) : 0;
}

/* The record's copy of the watch generation is still current (no entry
 * line, no lock); false means "ask still_valid()". */
static bool rec_gen_current(struct sv_cache *c, struct sv_hrec *r)
{
	return c->mon->ops->gen_current && r->wtoken != SV_HREC_NO_TOKEN &&
	       c->mon->ops->gen_current(c->mon, r->wtoken,
					__atomic_load_n(&r->wgen,
							__ATOMIC_ACQUIRE));
}

/* Whether the monitor still vouches for the pages under @r, from the
 * record alone: the one place for any check a hit must pass on the
 * record before it is returned without the lock. False sends the hit to
 * the locked path, which asks the monitor properly (hit_exact()). */
static bool rec_still_valid(struct sv_cache *c, struct sv_hrec *r)
{
	const struct sv_monitor_ops *ops = c->mon->ops;

	if (ops->verify)
		return ops->verify(c->mon, r->wtoken, r->addr) == 1;
	if (!ops->still_valid)
		return true;
	return rec_gen_current(c, r);
}

/* Under c->lock, the one check a hit makes that @ent still stands for
 * what is mapped now (docs/cache.md, "What each monitor guarantees"):
 * 1 valid, 0 changed (the caller reports and drops it), -EAGAIN
 * undecided now (the caller misses without dropping it). @r: the entry's
 * record, or NULL. */
static int hit_exact(struct sv_cache *c, struct sv_cache_entry *ent,
		     struct sv_hrec *r)
{
	const struct sv_monitor_ops *ops = c->mon->ops;

	if (ops->verify)
		return ops->verify(c->mon, ent->watch.token, ent->addr);
	if (!ops->still_valid || (r && rec_gen_current(c, r)))
		return 1;
	if (!ops->still_valid(c->mon, &ent->watch))
		return 0;
	if (r) /* revalidated (a THP split): new generation */
		__atomic_store_n(&r->wgen,
				 __atomic_load_n(&ent->watch.gen,
						 __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
	return 1;
}

/* The hit without a lock: a reference on an open record that covers the
 * range, taken between two reads of c->mseq that saw no event batch
 * (docs/cache.md, "Race freedom"). False: take the locked path. */
static bool hit_fast(struct sv_cache *c, uintptr_t s, uintptr_t e,
		     unsigned int access, struct sanverbs_mr *h)
{
	uint32_t seq = __atomic_load_n(&c->mseq, __ATOMIC_ACQUIRE);
	struct sv_hrec *r, *orphan;

	if (seq & 1)
		return false;
	/* a window's entry is hit only by its exact range */
	r = sv_htab_get(&c->ht, s, e, access, SV_REMOTE_ACCESS,
			access & SV_ACCESS_MW_BIND, &orphan);
	if (!r) {
		if (orphan)
			(void)rec_drained(c, orphan);
		return false;
	}
	if (!rec_still_valid(c, r) ||
	    __atomic_load_n(&c->mseq, __ATOMIC_SEQ_CST) != seq) {
		if (sv_hrec_put(r))
			(void)rec_drained(c, r);
		return false;
	}
	if (!__atomic_load_n(&r->used, __ATOMIC_RELAXED))
		__atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->hits, 1, __ATOMIC_RELAXED);
	got_rec(h, r);
	return true;
}

/* Under c->lock: a live entry covering [s, e) with @access, referenced and
 * filled into *h; false if there is none. */
static bool hit_locked(struct sv_cache *c, uintptr_t s, uintptr_t e,
		       unsigned int access, struct sanverbs_mr *h)
{
	struct hit_query q = { s, e, access };
	struct sv_cache_entry *ent;
	struct sv_itree_node *n;
	struct sv_hrec *r, *orphan;
	int ok;

	for (;;) {
		/* records close only under the lock: no orphan here */
		r = sv_htab_get(&c->ht, s, e, access, SV_REMOTE_ACCESS,
				access & SV_ACCESS_MW_BIND, &orphan);
		if (r) {
			ent = r->ent;
		} else {
			n = sv_itree_find_cover(&c->tree, s, e, hit_pred, &q);
			if (!n)
				return false;
			ent = sv_entry_of(n);
			r = sv_entry_slot(ent);
			if (r && !sv_hrec_get(r))
				r = NULL; /* cannot be: open under the lock */
		}
		ok = hit_exact(c, ent, r);
		if (ok > 0)
			break;
		if (r)
			(void)sv_hrec_put(r); /* open: not the last of a
					       * closed record */
		if (ok < 0)
			return false;
		/* The backend saw a change the sink has not reported yet:
		 * count and report it here, as the sink would (the drop
		 * unwatches, so the late event is not reported twice). */
		sv_cache_invalidate_entry(c, ent);
	}
	if (r) {
		if (!__atomic_load_n(&r->used, __ATOMIC_RELAXED))
			__atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
		got_rec(h, r);
	} else {
		ent->refs++;
		ent->used = 1;
		got(h, ent, NULL, ent->ibmr, ent->access, ent->ibmr->lkey,
		    ent->ibmr->rkey);
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

/* The hit under the lock, or the miss, cached unless @nocache. *res gets
 * the reference. */
static int get_entry(struct sv_cache *c, void *addr, size_t len,
		     unsigned int access, bool nocache, struct sanverbs_mr *res)
{
	uintptr_t s = (uintptr_t)addr, e = s + len, hs, he;
	struct sv_cache_entry *ent, *free_list = NULL;
	struct sv_hidx *nidx = NULL;
	struct sv_hrec *chunk = NULL;
	bool caching = c->mon && c->max_entries && !nocache, entered = false,
	     known = false;
	bool grow = false, more = false;
	int werr = -ENOENT, err;

	if (e > UINTPTR_MAX - c->page_mask)
		return -EFAULT;
	hs = s & ~c->page_mask;
	he = (e + c->page_mask) & ~c->page_mask;
	if (caching && c->max_bytes && he - hs > c->max_bytes)
		caching = false;

	sv_cache_lock(c);
	if (c->mon && c->max_entries && !nocache &&
	    hit_locked(c, s, e, access, res)) {
		sv_cache_unlock(c);
		return 0;
	}
	c->misses++;
	/* The kernel pins a registration that cannot write with FOLL_FORCE
	 * (6.1 ib_umem_get()), which reaches pages the process may not
	 * read; one that can write it pins only where the process may write.
	 * So the read right of the ones that cannot write is checked here, on
	 * the miss (a hit's entry was checked then, and a downgrade since
	 * invalidated it). */
	if (!(sv_entry_need(access) & PROT_WRITE)) {
		sv_cache_unlock(c);
		err = sv_cache_may(c, s, len, PROT_READ);
		if (err)
			return err;
		sv_cache_lock(c);
	}
	if (caching) {
		grow = sv_htab_wants_grow(&c->ht);
		more = sv_htab_wants_chunk(&c->ht);
	}
	ent = sv_entry_spare_pop(c);
	/* The common miss: a spare entry, no growth: one lock section. */
	if (ent && !grow && !more) {
		sv_entry_init_mr(ent, c, s, len, access, hs, he);
		caching = enter_locked(c, ent, caching, &free_list, &known);
		entered = true;
	}
	sv_cache_unlock(c);

	if (!entered) {
		/* nothing is allocated under the lock */
		if (grow)
			nidx = sv_htab_idx_alloc(c->ht.idx->bits + 1);
		if (more)
			chunk = sv_htab_chunk_alloc();
		if (!ent)
			ent = malloc(sizeof(*ent));
		if (!ent) {
			sv_htab_idx_free(nidx);
			free(chunk);
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
	err = reg_retry(c, ent->addr, ent->len, sv_access_to_ibv(ent->access),
			&ent->ibmr);

	sv_cache_lock(c);
	if (!werr && ent->in_tree)
		ent->watched = 1;
	else if (!werr && c->mon->ops->unwatch &&
		 (c->mon->flags & SV_MONITOR_F_WATCH_PER_ENTRY))
		/* dropped while we watched: nobody else will */
		c->mon->ops->unwatch(c->mon, &ent->watch);
	else if (werr && ent->in_tree)
		(void)sv_entry_drop(c, ent, false);
	if (err) {
		ent->refs = 0;
		if (!sv_entry_drop(c, ent, true))
			ent = NULL; /* queued: the worker frees it */
		if (chunk) /* kept: the table is the chunk's owner now */
			sv_htab_add_chunk(&c->ht, chunk);
		sv_cache_unlock(c);
		if (ent)
			sv_entry_free(c, ent);
		sv_htab_idx_free(nidx);
		return err;
	}
	if (chunk)
		sv_htab_add_chunk(&c->ht, chunk);
	if (ent->state == SV_ST_PENDING && ent->in_tree) {
		ent->state = SV_ST_LIVE;
		if (!(ent->access & SV_REMOTE_ACCESS))
			sv_lru_add_tail(c, ent);
		if (nidx && nidx->bits > c->ht.idx->bits) {
			sv_htab_grow(&c->ht, nidx);
			nidx = NULL;
		}
		/* our reference moves into the record */
		sv_entry_hash_in(c, ent);
	} else {
		/* Never cached, or the range changed while we registered:
		 * this registration lives only as long as the caller's. */
		ent->state = SV_ST_DEAD;
		c->uncached++;
	}
	got(res, ent, ent->hashed ? ent->rec : NULL, ent->ibmr, ent->access,
	    ent->ibmr->lkey, ent->ibmr->rkey);
	sv_cache_unlock(c);
	/* one a concurrent miss made moot */
	sv_htab_idx_free(nidx);
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
		if (!e->on_lru)
			sv_lru_add_tail(c, e);
		return false;
	}
	do_free = sv_entry_drop(c, e, true);
	if (!do_free && e->queued && !sv_entry_held(e)) {
		*dereg = e->ibmr;
		e->ibmr = NULL;
	}
	return do_free;
}

/* Drops a reference (@rec NULL: the entry's own, under the lock; else the
 * record's, without it). */
static int put_ref(struct sv_cache *c, struct sv_cache_entry *e,
		   struct sv_hrec *rec)
{
	struct ibv_mr *dereg = NULL;
	bool do_free = false;

	if (rec)
		return sv_hrec_put(rec) ? rec_drained(c, rec) : 0;
	sv_cache_lock(c);
	if (--e->refs == 0)
		do_free = last_put(c, e, &dereg);
	sv_cache_unlock(c);
	if (do_free)
		return sv_entry_free(c, e);
	return dereg ? c->rb->ops->dereg(c->rb, dereg) : 0;
}

int sv_cache_get(struct sv_cache *c, void *addr, size_t len,
		 unsigned int access, struct sanverbs_mr **out)
{
	struct sanverbs_mr res, *h;
	bool win = (access & SV_REMOTE_ACCESS) && c->rb->ops->remote_ready &&
		   c->rb->ops->remote_ready(c->rb);
	unsigned int eacc = access;
	uintptr_t s = (uintptr_t)addr;
	int ret;

	/* With windows, a remote registration is a local entry (its MR's
	 * own rkey grants nothing) plus a window over exactly the range. */
	if (win)
		eacc = (sv_access_normalize(access) & ~SV_REMOTE_ACCESS) |
		       SV_ACCESS_MW_BIND;
	if (!(c->mon && c->max_entries && s + len >= s &&
	      hit_fast(c, s, s + len, eacc, &res))) {
		ret = get_entry(c, addr, len, eacc, false, &res);
		/* A window needs an MR the kernel pinned for write: memory
		 * the process may only read is exposed for reading by an MR
		 * of its own instead, never shared, so its rkey dies with
		 * this registration. */
		if (ret == -EFAULT && win &&
		    sv_entry_need(access) == PROT_READ) {
			win = false;
			ret = get_entry(c, addr, len, access, true, &res);
		}
		if (ret)
			return ret;
	}
	h = mr_pop();
	if (!h) {
		put_ref(c, res.entry, res.rec);
		return -ENOMEM;
	}
	got(h, res.entry, res.rec, res.ibmr, res.access & ~SV_ACCESS_MW_BIND,
	    res.lkey, res.rkey);
	h->win = NULL;
	if (win) {
		ret = c->rb->ops->bind(c->rb, res.ibmr, (uintptr_t)addr, len,
				       sv_access_to_ibv(access) &
					       (IBV_ACCESS_REMOTE_WRITE |
						IBV_ACCESS_REMOTE_READ),
				       &h->win, &h->rkey);
		if (ret) {
			h->win = NULL;
			mr_push(h);
			put_ref(c, res.entry, res.rec);
			return ret;
		}
		h->access |= sv_access_normalize(access);
	}
	/* Live in this process, whether fresh or from the spare list. */
	h->hdr.fork_gen = sv_fork_gen_now();
	__atomic_store_n(&h->hdr.magic, SV_MR_MAGIC, __ATOMIC_RELEASE);
	*out = h;
	return 0;
}

int sv_cache_put(struct sv_cache *c, struct sanverbs_mr *mr, bool *kept)
{
	struct sv_cache_entry *e = mr->entry;
	struct sv_hrec *rec = mr->rec;
	int ret;

	*kept = false;
	if (mr->win) {
		/* The key dies before the reference goes: the entry may be
		 * the last user of its MR, and a bound window blocks
		 * ibv_dereg_mr (rxe_dereg_mr: -EINVAL while num_mw). */
		ret = c->rb->ops->unbind(c->rb, mr->win, mr->ibmr);
		if (ret) {
			*kept = true;
			return ret;
		}
		mr->win = NULL;
	}
	mr_push(mr);
	return put_ref(c, e, rec);
}
