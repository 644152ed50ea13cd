/* SPDX-License-Identifier: MIT */
/* Lookup: the hit (hit index first, interval tree as the fallback), then
 * the miss (miss.c, merging with merge.c) when there is none, the put, and
 * the memory window over a remote registration. Locking rules are in
 * priv.h; the race-freedom argument is in docs/cache.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/thread.h"
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

/* Spare public handles, per thread, linked through ->addr: a hit then
 * costs no malloc/free (a quarter of its instructions once) and no lock.
 * A thread's spares go back to their type (handle.h) when it exits. */
#define SV_SPARE_MR_MAX 16

static __thread struct sanverbs_mr *tl_spare SV_TLS_HOT;
static __thread unsigned int tl_nspare SV_TLS_HOT;
/* the key below is set for this thread (its spares go back at exit) */
static __thread bool tl_keyed SV_TLS_HOT;
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
	/* a later push (another key's destructor) sets the key again */
	tl_keyed = false;
}

static void tl_init(void)
{
	(void)pthread_key_create(&tl_key, tl_free);
}

static inline struct sanverbs_mr *mr_pop(void)
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

/* The key's destructor gives this thread's spares back at its exit. */
static __attribute__((noinline)) void tl_key_set(void)
{
	pthread_once(&tl_once, tl_init);
	(void)pthread_setspecific(tl_key, (void *)1);
	tl_keyed = true;
}

/* Keeps @mr (dead) for reuse by this thread if there is room, else
 * gives it back to its type (handle.h). */
static inline void mr_push(struct sanverbs_mr *mr)
{
	__atomic_store_n(&mr->hdr.magic, 0, __ATOMIC_RELEASE);
	if (tl_nspare >= SV_SPARE_MR_MAX) {
		sv_handle_retire(&sv_mr_type, mr);
		return;
	}
	if (!tl_keyed)
		tl_key_set();
	mr->addr = tl_spare;
	tl_spare = mr;
	tl_nspare++;
}

/* What a hit or a miss hands to the new handle. */
void sv_cache_got(struct sanverbs_mr *h, struct sv_cache_entry *e,
		  struct sv_hrec *rec, struct ibv_mr *ibmr,
		  unsigned int access, uint32_t lkey, uint32_t rkey)
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
	sv_cache_got(h, r->ent, r, r->ibmr, r->access, r->lkey, r->rkey);
}

/* A closed record whose last reference this thread dropped: free it, and
 * its entry if that was the entry's last hold. */
static __attribute__((noinline)) int rec_drained(struct sv_cache *c,
						 struct sv_hrec *r)
{
	struct sv_cache_entry *e = r->ent;
	bool do_free;

	sv_cache_lock(c);
	do_free = sv_entry_rec_drained(c, r);
	sv_cache_unlock(c);
	return do_free ? sv_entry_free(c, e) : 0;
}

/* The record's copy of the watch generation is still current (no entry
 * line, no lock, no call: the monitor's gen_words); false means "ask
 * still_valid()". */
static inline bool rec_gen_current(struct sv_cache *c, struct sv_hrec *r)
{
	const struct sv_monitor *m = c->mon;
	uint64_t gen = __atomic_load_n(&r->wgen, __ATOMIC_ACQUIRE);

	return m->gen_words && r->wtoken < m->ngen_words &&
	       __atomic_load_n(&m->gen_words[r->wtoken], __ATOMIC_ACQUIRE) ==
		       gen;
}

/* Whether the monitor still vouches for the pages under @r, from the
 * record alone: the one place for any check a hit must pass on the
 * record before it is returned without the lock. False sends the hit to
 * the locked path, which asks the monitor properly (hit_exact()). */
static inline bool rec_still_valid(struct sv_cache *c, struct sv_hrec *r)
{
	const struct sv_monitor_ops *ops = c->mon->ops;

	/* checked first: the hit then reads no ops table */
	if (c->mon->gen_words)
		return rec_gen_current(c, r);
	if (ops->verify)
		return ops->verify(c->mon, r->wtoken, r->addr) == 1;
	return !ops->still_valid;
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

/* The hit without a lock: a referenced open record that covers the
 * range, taken between two reads of c->mseq that saw no event batch
 * (docs/cache.md, "Race freedom"); NULL: take the locked path. */
static inline __attribute__((always_inline)) struct sv_hrec *
hit_fast(struct sv_cache *c, uintptr_t s, uintptr_t e, unsigned int access)
{
	uint32_t seq = __atomic_load_n(&c->mseq, __ATOMIC_ACQUIRE);
	struct sv_hrec *r, *orphan;

	if (seq & 1)
		return NULL;
	/* a window's entry is hit only by its exact range */
	r = sv_htab_get(&c->ht, s, e, access, SV_REMOTE_ACCESS,
			access & SV_ACCESS_MW_BIND, &orphan);
	if (!r) {
		if (orphan)
			(void)rec_drained(c, orphan);
		return NULL;
	}
	if (!rec_still_valid(c, r) ||
	    __atomic_load_n(&c->mseq, __ATOMIC_SEQ_CST) != seq) {
		if (sv_hrec_unget(r))
			(void)rec_drained(c, r);
		return NULL;
	}
	/* the reference counted the hit (htab.h) */
	if (!__atomic_load_n(&r->used, __ATOMIC_RELAXED))
		__atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
	return r;
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
			(void)sv_hrec_unget(r); /* open: not the last of a
						 * closed record */
		if (ok < 0)
			return false;
		/* The backend saw a change the sink has not reported yet:
		 * count and report it here, as the sink would (the drop
		 * unwatches, so the late event is not reported twice). */
		sv_cache_invalidate_entry(c, ent);
	}
	if (r) {
		/* counted by the record's reference (htab.h) */
		if (!__atomic_load_n(&r->used, __ATOMIC_RELAXED))
			__atomic_store_n(&r->used, 1, __ATOMIC_RELAXED);
		got_rec(h, r);
	} else {
		ent->refs++;
		ent->used = 1;
		sv_cache_got(h, ent, NULL, ent->ibmr, ent->access,
			     ent->ibmr->lkey, ent->ibmr->rkey);
		c->hits++;
	}
	return true;
}

/* The hit under the lock, or the miss, cached unless @nocache. *res gets
 * the reference. */
static int get_entry(struct sv_cache *c, void *addr, size_t len,
		     unsigned int access, bool nocache, struct sanverbs_mr *res)
{
	uintptr_t s = (uintptr_t)addr, e = s + len, hs, he;
	bool caching = c->mon && c->max_entries && !nocache, locked = true;
	bool merge;
	int err;

	if (e > UINTPTR_MAX - c->page_mask)
		return -EFAULT;
	hs = s & ~c->page_mask;
	he = (e + c->page_mask) & ~c->page_mask;
	if (caching && c->max_bytes && he - hs > c->max_bytes)
		caching = false;
	merge = caching && c->merge;

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
		locked = false;
	}
	err = sv_cache_miss(c, s, len, access, caching, merge, locked, res);
	if (err == SV_MISS_UNMERGED)
		err = sv_cache_miss(c, s, len, access, caching, false, false,
				    res);
	return err;
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

/* Drops an entry's own reference, under the lock. */
static __attribute__((noinline)) int put_entry_ref(struct sv_cache *c,
						    struct sv_cache_entry *e)
{
	struct ibv_mr *dereg = NULL;
	bool do_free = false;

	sv_cache_lock(c);
	if (--e->refs == 0)
		do_free = last_put(c, e, &dereg);
	sv_cache_unlock(c);
	if (do_free)
		return sv_entry_free(c, e);
	return dereg ? c->rb->ops->dereg(c->rb, dereg) : 0;
}

/* Drops a reference (@rec NULL: the entry's own, under the lock; else the
 * record's, without it). */
static inline int put_ref(struct sv_cache *c, struct sv_cache_entry *e,
			  struct sv_hrec *rec)
{
	if (rec)
		return sv_hrec_put(rec) ? rec_drained(c, rec) : 0;
	return put_entry_ref(c, e);
}

/* Live in this process, whether fresh or from the spare list. */
static inline void mr_hand_out(struct sanverbs_mr *h, struct sanverbs_mr **out)
{
	h->hdr.fork_gen = sv_fork_gen_now();
	__atomic_store_n(&h->hdr.magic, SV_MR_MAGIC, __ATOMIC_RELEASE);
	*out = h;
}

/* Everything but a local registration's lock-free hit with a spare handle
 * at hand: the window over a remote one, the locked hit and the miss.
 * @r: the lock-free hit sv_cache_get() found for a local @access, or
 * NULL (none, or not looked for: a remote one is looked up here). */
static __attribute__((noinline)) int get_slow(struct sv_cache *c, void *addr,
					      size_t len, unsigned int access,
					      struct sv_hrec *r,
					      struct sanverbs_mr **out)
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
	if (!r && (access & SV_REMOTE_ACCESS) && c->mon && c->max_entries &&
	    s + len >= s)
		r = hit_fast(c, s, s + len, eacc);
	if (r) {
		got_rec(&res, r);
	} else {
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
	sv_cache_got(h, res.entry, res.rec, res.ibmr,
		     res.access & ~SV_ACCESS_MW_BIND, res.lkey, res.rkey);
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
	mr_hand_out(h, out);
	return 0;
}

int sv_cache_get(struct sv_cache *c, void *addr, size_t len,
		 unsigned int access, struct sanverbs_mr **out)
{
	uintptr_t s = (uintptr_t)addr;
	struct sanverbs_mr *h;
	struct sv_hrec *r = NULL;

	/* A local registration is looked up here, once, without the lock;
	 * the common case, a hit with a spare handle at hand, stays short. */
	if (!(access & SV_REMOTE_ACCESS) && c->mon && c->max_entries &&
	    s + len >= s) {
		r = hit_fast(c, s, s + len, access);
		if (r && tl_spare) {
			h = mr_pop();
			sv_cache_got(h, r->ent, r, r->ibmr,
				     r->access & ~SV_ACCESS_MW_BIND, r->lkey,
				     r->rkey);
			h->win = NULL;
			mr_hand_out(h, out);
			return 0;
		}
	}
	return get_slow(c, addr, len, access, r, out);
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
