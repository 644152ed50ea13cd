/* SPDX-License-Identifier: MIT */
/* The miss: a new entry enters the tree as pending (CLOCK eviction makes
 * room for it, a merge takes the entries it overlaps), is watched, then
 * registered (evicting and retrying while pinning hits RLIMIT_MEMLOCK),
 * then goes live. Locking rules are in priv.h; the race-freedom argument
 * is in docs/cache.md. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mr.h"
#include "priv.h"

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
 * until the cache has room for an entry of @add_bytes that will replace
 * @old_n entries of @old_bytes (a merge); returns false if it never does.
 * Until the merged entry is live both are in the tree, over the limits by
 * at most what the old ones hold. */
static bool make_room(struct sv_cache *c, size_t add_bytes, size_t old_n,
		      size_t old_bytes, struct sv_cache_entry **free_list)
{
	while (c->entries + 1 > c->max_entries + old_n ||
	       (c->max_bytes &&
		c->bytes + add_bytes > c->max_bytes + old_bytes)) {
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

/* c->lock held: @ent goes into the tree as pending if @caching, the
 * admission rule takes it (admit.c) and the limits make room; returns
 * whether it did. With @merge it first takes
 * the entries it overlaps (sv_merge_collect), which changes its range.
 * Pending entries sit in the tree before the range is watched, so an event
 * between watch() and ibv_reg_mr() finds and kills them. *@known: the
 * monitor says, in this same critical section, that the range is still
 * watched, so watch() can be skipped (an event from here on finds the
 * pending entry, as after a watch()). */
static bool enter_locked(struct sv_cache *c, struct sv_cache_entry *ent,
			 bool caching, bool merge,
			 struct sv_cache_entry **free_list, bool *known)
{
	uintptr_t hs = ent->node.start, he = ent->node.end;
	size_t bytes, old_n = 0, old_bytes = 0;

	sv_all_add(c, ent);
	ent->mnext = NULL;
	if (!caching || !sv_admit_locked(c, ent))
		return false;
	if (merge)
		old_n = sv_merge_collect(c, ent, &old_bytes);
	bytes = ent->node.end - ent->node.start;
	if (!make_room(c, bytes, old_n, old_bytes, free_list)) {
		if (!old_n)
			return false;
		/* The entries it would replace are held, so not evictable:
		 * without the merge they may be what makes room. */
		sv_merge_end(c, ent, false, hs, he, free_list);
		bytes = he - hs;
		if (!make_room(c, bytes, 0, 0, free_list))
			return false;
	}
	sv_entry_insert(c, ent);
	c->entries++;
	c->bytes += bytes;
	*known = c->mon->ops->known && c->mon->ops->known(c->mon, &ent->watch);
	return true;
}

int sv_cache_miss(struct sv_cache *c, uintptr_t s, size_t len,
		  unsigned int access, bool caching, bool merge, bool locked,
		  struct sanverbs_mr *res)
{
	uintptr_t hs = s & ~c->page_mask,
		  he = (s + len + c->page_mask) & ~c->page_mask;
	struct sv_cache_entry *ent, *free_list = NULL;
	struct sv_hidx *nidx = NULL;
	struct sv_hrec *chunk = NULL;
	bool entered = false, known = false, merging;
	bool grow = false, more = false;
	int werr = -ENOENT, err;

	if (!locked)
		sv_cache_lock(c);
	if (caching) {
		grow = sv_htab_wants_grow(&c->ht);
		more = sv_htab_wants_chunk(&c->ht);
	}
	ent = sv_entry_spare_pop(c);
	/* The common miss: a spare entry, no growth: one lock section. */
	if (ent && !grow && !more) {
		sv_entry_init_mr(ent, c, s, len, access, hs, he);
		caching = enter_locked(c, ent, caching, merge, &free_list,
				       &known);
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
		caching = enter_locked(c, ent, caching, merge, &free_list,
				       &known);
		sv_cache_unlock(c);
	}
	sv_entries_free(c, free_list);
	free_list = NULL;
	merging = ent->mnext != NULL;

	/* Watch first, pin second: pages pinned after the watch started are
	 * the ones any later change will be reported for. */
	if (caching)
		werr = known ? 0 : c->mon->ops->watch(c->mon, &ent->watch);
	/* A merged range is cached only if the monitor watches all of it
	 * (userfaultfd: anonymous memory only), and one that cannot write is
	 * pinned with FOLL_FORCE, so the read right is asked for the whole
	 * union as get_entry() asked it for the request. Either refused:
	 * nothing is registered, and the caller misses without merging. */
	if (merging && !werr && !(ent->need & PROT_WRITE))
		werr = sv_cache_may(c, ent->addr, ent->len, PROT_READ);
	if (merging && werr)
		err = -ECANCELED;
	else
		err = reg_retry(c, ent->addr, ent->len,
				sv_access_to_ibv(ent->access), &ent->ibmr);

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
		if (merging) /* the old entries stay as they were */
			sv_merge_end(c, ent, false, ent->addr,
				     ent->addr + ent->len, &free_list);
		if (!sv_entry_drop(c, ent, true))
			ent = NULL; /* queued: the worker frees it */
		if (chunk) /* kept: the table is the chunk's owner now */
			sv_htab_add_chunk(&c->ht, chunk);
		sv_cache_unlock(c);
		if (ent)
			sv_entry_free(c, ent);
		sv_entries_free(c, free_list);
		sv_htab_idx_free(nidx);
		return merging ? SV_MISS_UNMERGED : err;
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
		/* live: the entries it covers leave the cache */
		if (merging)
			sv_merge_end(c, ent, true, hs, he, &free_list);
	} else {
		/* Never cached, or the range changed while we registered:
		 * this registration lives only as long as the caller's. The
		 * entries a merge would have replaced stay. */
		if (merging)
			sv_merge_end(c, ent, false, ent->addr,
				     ent->addr + ent->len, &free_list);
		ent->state = SV_ST_DEAD;
		c->uncached++;
	}
	sv_cache_got(res, ent, ent->hashed ? ent->rec : NULL, ent->ibmr,
		     ent->access, ent->ibmr->lkey, ent->ibmr->rkey);
	sv_cache_unlock(c);
	sv_entries_free(c, free_list);
	/* one a concurrent miss made moot */
	sv_htab_idx_free(nidx);
	return 0;
}
