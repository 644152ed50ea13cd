/* SPDX-License-Identifier: MIT */
/* Cache internals shared by the files of src/cache/:
 *   entry.c       entry lifecycle: lists, tree membership, drop, free
 *   lookup.c      hit, get and put
 *   miss.c        miss: eviction, ENOMEM retry, registration
 *   merge.c       merging overlapping entries on a miss
 *   invalidate.c  monitor sink, worker, invalidate/flush, secure/unsecure
 *   cache.c       create/destroy, counters, callback
 *   setup.c       a context's cache: verbs backend, monitor choice
 *   backend.h     registration backends (reg_verbs.c; a fake in tests)
 *   htab.c        the hit index; mw.c memory windows
 * Locking rules, in one place:
 *  - c->lock guards the tree, the LRU, the lists, the counters, the hit
 *    index's writers and every entry field except the immutable range and
 *    ibmr;
 *  - a hit on an indexed entry and its put take no lock: they take and
 *    drop a reference on the entry's record (htab.h) and check c->mseq
 *    around it (lookup.c, docs/cache.md "Race freedom");
 *  - nothing that can unmap or madvise memory (free, ibv_dereg_mr,
 *    munmap) runs under c->lock: the monitor thread needs the lock to let
 *    an unmapping thread go on (libfabric#5554). Entries leave the tree
 *    under the lock and are freed after it is dropped, by the caller or by
 *    the worker thread;
 *  - the monitor thread never frees, allocates or calls the application:
 *    its own free() could trim a watched heap top and wait for itself;
 *  - the memory-window pool's lock (mw.c) is never taken under
 *    c->lock: a bind posts on a QP and waits for the device. */
#ifndef SV_CACHE_PRIV_H
#define SV_CACHE_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "backend.h"
#include "cache.h"
#include "htab.h"
#include "lib/itree.h"
#include "lib/list.h"
#include "monitor/monitor.h"
#include "mw.h"
#include "sanverbs.h"
#include "util.h"

struct sv_cache_params;

#define SV_REMOTE_ACCESS                                                     \
	(SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ)

enum sv_entry_kind { SV_ENT_MR, SV_ENT_SECURE };

/* Which misses are cached (admit.c; SANVERBS_CACHE_ADMIT). */
enum sv_admit {
	SV_ADMIT_FIRST,  /* every miss the limits allow */
	SV_ADMIT_SECOND, /* a range the monitor does not watch yet only
			  * when it misses again while remembered */
	SV_ADMIT_AUTO,   /* SECOND if the monitor's watch of new memory
			  * costs system calls (SV_MONITOR_F_WATCH_SYSCALLS),
			  * else FIRST */
};
enum sv_entry_state {
	SV_ST_PENDING, /* in the tree, being registered: never a hit */
	SV_ST_LIVE,    /* in the tree, a hit candidate */
	SV_ST_DEAD,    /* out of the tree: freed with its last reference */
};

/* An entry is the cold part of a registration: a hit and its put touch
 * only the entry's record in the hit index (htab.h), which copies the
 * range, the MR and the access and holds the references taken through it
 * and, while open, the CLOCK bit. ->refs counts the references taken
 * without the record (misses of unindexed entries, the tree fallback). */
struct sv_cache_entry {
	uintptr_t addr; /* range really registered or secured */
	size_t len;
	struct ibv_mr *ibmr; /* NULL for SECURE */
	unsigned int access;
	unsigned int refs; /* references not taken through ->rec */
	unsigned char kind, state, used;
	unsigned char need; /* PROT_* its memory must keep (sv_entry_need) */
	unsigned char in_tree, watched, queued, notify, on_lru, in_all, hashed;
	unsigned char merging; /* held by a miss that will replace it */
	/* the record: open while ->hashed; after, closed and kept until the
	 * references taken through it are gone (then NULL) */
	struct sv_hrec *rec;
	struct sv_itree_node node; /* page-aligned hull, for overlap tests */
	struct sv_cache *cache;
	struct sv_watch watch;
	/* CLOCK list: unreferenced at the last sweep, or never swept */
	struct sv_list lru_link;
	struct sv_list all_link; /* every entry allocated */
	struct sv_cache_entry *next;    /* deferred or local free list */
	struct sv_cache_entry *collect; /* overlap walk */
	/* A pending merged entry: the entries it replaces once live; an
	 * entry being replaced: the next one (merge.c). */
	struct sv_cache_entry *mnext;
};

struct sv_cache {
	/* Registers, deregisters, grants remote access: verbs, or a fake */
	struct sv_reg_backend *rb;
	pthread_mutex_t lock;
	struct sv_itree tree;
	/* Hit index of the live entries by the page their range starts in
	 * (htab.h): re-registering a buffer costs one slot, one cache
	 * line, instead of a tree walk whose nodes are scattered over
	 * memory (the walk is the fallback for any other cover). Grown on a
	 * miss past 3/4 full; the new array is allocated outside the lock
	 * (nothing is allocated under it). */
	struct sv_htab ht;
	unsigned int page_shift;
	struct sv_monitor *mon;
	enum sanverbs_monitor kind;
	size_t max_entries, max_bytes;
	uintptr_t page_mask;
	bool merge; /* a miss merges overlapping entries (merge.c) */
	/* admit.c: SV_ADMIT_FIRST or _SECOND; with SECOND, fingerprints of
	 * the page ranges seen once (1 << seen_bits slots) */
	unsigned char admit;
	unsigned int seen_bits;
	uint32_t *seen;
	uint64_t first_seen; /* misses left uncached as first sights */

	size_t entries, bytes; /* MR entries in the tree (pending or live) */
	/* Second-chance (CLOCK) list of live local entries. A hit only
	 * sets the used bit in the entry's slot; eviction pops the head,
	 * gives a used entry another round at the tail and takes a held one
	 * off the list (its last put puts it back). */
	struct sv_list lru;
	struct sv_list all;  /* every entry allocated */
	struct sv_cache_entry *deferred; /* for the worker: notify and free */
	/* Freed MR entries kept for the next miss: aligned_alloc and free
	 * were a third of a miss's own instructions. */
	struct sv_cache_entry *spare;
	unsigned int nspare;

	pthread_t worker;
	pthread_cond_t cond;
	pthread_cond_t idle; /* the worker ran out of work (quiesce) */
	bool worker_running, worker_busy, stop;

	sanverbs_cache_cb cb;
	void *cb_arg;
	uint64_t hits, misses, evictions, invalidations, uncached;
	uint64_t merged; /* entries replaced by a merged one */

	/* Odd while the monitor thread reads events and drops entries:
	 * lock-free hits read it before and after taking their reference
	 * and go to the locked path if it was odd or moved. Written only
	 * by event batches, so hitting threads share its line read-only. */
	uint32_t mseq __attribute__((aligned(64)));
};

static inline void sv_cache_lock(struct sv_cache *c)
{
	pthread_mutex_lock(&c->lock);
}

static inline void sv_cache_unlock(struct sv_cache *c)
{
	pthread_mutex_unlock(&c->lock);
}

static inline struct sv_cache_entry *sv_entry_of(struct sv_itree_node *n)
{
	return container_of(n, struct sv_cache_entry, node);
}

/* The open hit-index record of @e, or NULL when @e is not indexed. */
static inline struct sv_hrec *sv_entry_slot(struct sv_cache_entry *e)
{
	return e->hashed ? e->rec : NULL;
}

/* Someone still holds @e (c->lock held): its own count, or references
 * taken through its record. A closed record stays attached until the
 * thread that dropped its last reference has come for the lock
 * (sv_entry_rec_drained), so until then the entry counts as held even if
 * the count already reads zero: nobody else may free it first. */
static inline bool sv_entry_held(const struct sv_cache_entry *e)
{
	return e->refs ||
	       (e->hashed ? sv_hrec_count(e->rec) != 0 : e->rec != NULL);
}

/* entry.c, c->lock held. */
void sv_entry_insert(struct sv_cache *c, struct sv_cache_entry *e);
void sv_lru_add_tail(struct sv_cache *c, struct sv_cache_entry *e);
void sv_lru_del(struct sv_cache *c, struct sv_cache_entry *e);
void sv_all_add(struct sv_cache *c, struct sv_cache_entry *e);
void sv_all_del(struct sv_cache_entry *e);
/* A live local MR entry joins the hit index, its references with it; if
 * the index is full or has no record free it stays out (the tree still
 * finds it). Remote entries never join: their key ends with their last
 * put, under the lock. */
void sv_entry_hash_in(struct sv_cache *c, struct sv_cache_entry *e);
/* The last reference taken through @r, a closed record, is gone (c->lock
 * held): the record is free again; true if its entry must be freed now
 * (sv_entry_free after unlocking). */
bool sv_entry_rec_drained(struct sv_cache *c, struct sv_hrec *r);
/* Takes @e out of the tree; stops watching its pages unless another entry
 * in the tree still overlaps them (@unwatch false: the backend already
 * did). Returns true when the entry has no references and is not queued,
 * so the caller must free it after unlocking. */
bool sv_entry_drop(struct sv_cache *c, struct sv_cache_entry *e,
		   bool unwatch);
/* A spare MR entry for the next miss, or NULL. */
struct sv_cache_entry *sv_entry_spare_pop(struct sv_cache *c);
/* A fresh MR entry for [s, s + len) (hull [hs, he)), holding the
 * caller's reference; not yet in any list. */
/* The rights (PROT_*) the pages of an MR entry with @access must keep:
 * the kernel pinned them for write if the MR, or a window over it, may
 * write. A protection change that takes one away invalidates the entry. */
unsigned char sv_entry_need(unsigned int access);
/* Sets @ent to register, watch and index the page range [@hs, @he), as a
 * local-only entry (and a merged one) does. */
void sv_entry_set_hull(struct sv_cache_entry *ent, uintptr_t hs,
		       uintptr_t he);
void sv_entry_init_mr(struct sv_cache_entry *ent, struct sv_cache *c,
		      uintptr_t s, size_t len, unsigned int access,
		      uintptr_t hs, uintptr_t he);

/* entry.c, unlocked: deregisters and frees (or keeps for reuse) @e, or a
 * chain linked by ->next; 0 or the negative errno of ibv_dereg_mr. */
int sv_entry_free(struct sv_cache *c, struct sv_cache_entry *e);
void sv_entries_free(struct sv_cache *c, struct sv_cache_entry *list);
/* invalidate.c: returns the secure handle around @e to its type. */
void sv_secure_entry_release(struct sv_cache_entry *e);
/* Frees the spare entries (destroy). */
void sv_entry_spares_free(struct sv_cache *c);

/* lookup.c: fills the caller's handle fields from an entry. */
void sv_cache_got(struct sanverbs_mr *h, struct sv_cache_entry *e,
		  struct sv_hrec *rec, struct ibv_mr *ibmr,
		  unsigned int access, uint32_t lkey, uint32_t rkey);

/* miss.c: the miss after a failed lookup, with c->lock held if @locked
 * (released on return either way): registers [s, s + len) with @access,
 * cached if @caching; with @merge, over the union of the overlapping
 * entries it then replaces (merge.c). 0 and *res referenced, a negative
 * errno, or SV_MISS_UNMERGED: the merged registration failed, nothing
 * changed; try again without @merge. */
#define SV_MISS_UNMERGED 1
int sv_cache_miss(struct sv_cache *c, uintptr_t s, size_t len,
		  unsigned int access, bool caching, bool merge, bool locked,
		  struct sanverbs_mr *res);

/* merge.c, c->lock held. @ent, pending and not yet in the tree, takes
 * the hull of every live entry of the same access whose hull overlaps
 * its own (to a fixed point); each such entry is held and chained on
 * ent->mnext. Returns how many, with their hull bytes in *@old_bytes; 0
 * and @ent unchanged when none, or when the union would pass the byte
 * limit. */
size_t sv_merge_collect(struct sv_cache *c, struct sv_cache_entry *ent,
			size_t *old_bytes);
/* merge.c, c->lock held: lets go of the entries @ent held; with
 * @retire (@ent is live) they leave the cache, else they stay as they
 * were. Entries nobody holds any more are chained on *@free_list.
 * @hs, @he: @ent's range goes back to that hull unless @retire. */
void sv_merge_end(struct sv_cache *c, struct sv_cache_entry *ent,
		  bool retire, uintptr_t hs, uintptr_t he,
		  struct sv_cache_entry **free_list);

/* admit.c: the table for @mode (resolved, not AUTO), sized by
 * c->max_entries; 0 or -ENOMEM. */
int sv_admit_init(struct sv_cache *c, enum sv_admit mode);
void sv_admit_fini(struct sv_cache *c);
/* admit.c, c->lock held: whether the miss of @ent (its hull and watch set,
 * not yet in the tree) may be cached; false: a first sight, remembered,
 * to be registered uncached. */
bool sv_admit_locked(struct sv_cache *c, struct sv_cache_entry *ent);

/* invalidate.c, c->lock held: drops every tree entry overlapping [s, e)
 * of @kind_mask (1 << kind); entries to free are chained on *free_list;
 * returns how many live MR entries were dropped. */
size_t sv_cache_drop_range(struct sv_cache *c, uintptr_t s, uintptr_t e,
			   unsigned int kind_mask,
			   struct sv_cache_entry **free_list);
/* invalidate.c, c->lock held: @ent's range changed (seen at hit time):
 * drops it and queues it for the worker's callback, as the sink would. */
void sv_cache_invalidate_entry(struct sv_cache *c,
			       struct sv_cache_entry *ent);
/* invalidate.c: opens the monitor through @p and starts the worker (no
 * monitor: no worker, no caching); 0 or a negative errno. */
int sv_cache_events_start(struct sv_cache *c,
			  const struct sv_cache_params *p);
/* invalidate.c: no more events, then no more callbacks. */
void sv_cache_events_stop(struct sv_cache *c);

/* What a cache is built from (cache.c). */
struct sv_cache_params {
	size_t max_entries, max_bytes; /* 0 entries: no caching; 0 bytes: no
					* byte limit */
	bool merge; /* SANVERBS_CACHE_MERGE */
	enum sv_admit admit; /* SANVERBS_CACHE_ADMIT */
	/* Owned by the cache once sv_cache_create_core() succeeds. */
	struct sv_reg_backend *rb;
	/* Opens the monitor (0 and *out NULL: none), as sv_monitor_open(). */
	int (*mon_open)(void *arg, sv_invalidate_fn sink, void *sink_arg,
			struct sv_monitor **out, enum sanverbs_monitor *kind);
	void *mon_arg;
};

/* cache.c: a cache over @p's backend and monitor; 0 or a negative errno
 * (the caller still owns p->rb then). */
int sv_cache_create_core(const struct sv_cache_params *p,
			 struct sv_cache **out);
/* invalidate.c: returns once the worker has run every callback and freed
 * every entry queued before the call (tests; never from a callback). */
void sv_cache_quiesce(struct sv_cache *c);


/* entry.c: 0 if the process may access [s, s + len) with @need (PROT_*)
 * now, else -EFAULT (asked of the backend, which knows the memory). */
int sv_cache_may(struct sv_cache *c, uintptr_t s, size_t len,
		 unsigned int need);

#endif
