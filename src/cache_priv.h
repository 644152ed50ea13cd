/* SPDX-License-Identifier: MIT */
/* Cache internals shared by cache.c (lookup, registration, worker) and
 * cache_api.c (public calls). Locking rules, in one place:
 *  - c->lock guards the tree, the LRU, the lists, the counters and every
 *    entry field except the immutable range and ibmr;
 *  - nothing that can unmap or madvise memory (free, ibv_dereg_mr,
 *    munmap) runs under c->lock: the monitor thread needs the lock to let
 *    an unmapping thread go on (libfabric#5554). Entries leave the tree
 *    under the lock and are freed after it is dropped, by the caller or by
 *    the worker thread;
 *  - the monitor thread never frees, allocates or calls the application:
 *    its own free() could trim a watched heap top and wait for itself;
 *  - the memory-window pool's lock (cache_mw.c) is never taken under
 *    c->lock: a bind posts on a QP and waits for the device. */
#ifndef SV_CACHE_PRIV_H
#define SV_CACHE_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "cache_htab.h"
#include "cache_mw.h"
#include "sanverbs.h"

#define SV_REMOTE_ACCESS                                                     \
	(SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ)

struct sv_cache {
	struct sanverbs_ctx *ctx;
	struct ibv_pd *pd;
	pthread_mutex_t lock;
	struct sv_itree tree;
	/* Hit index of the live entries by the page their range starts in
	 * (cache_htab.h): re-registering a buffer costs one slot, one cache
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

	size_t entries, bytes; /* MR entries in the tree (pending or live) */
	/* Second-chance (CLOCK) list of live local entries. A hit only
	 * sets the used bit in the entry's slot; eviction pops the head,
	 * gives a used entry another round at the tail and takes a held one
	 * off the list (its last put puts it back). */
	struct sv_cache_entry lru;
	struct sv_cache_entry all;  /* sentinel: every entry allocated */
	struct sv_cache_entry *deferred; /* for the worker: notify and free */
	/* Freed MR entries kept for the next miss: aligned_alloc and free
	 * were a third of a miss's own instructions. */
	struct sv_cache_entry *spare;
	unsigned int nspare;
	struct sanverbs_mr *mr_spare; /* handles, for the next hit */
	unsigned int nmr_spare;

	pthread_t worker;
	pthread_cond_t cond;
	bool worker_running, stop;

	/* Memory windows for remote registrations; NULL when off (no
	 * caching, SANVERBS_CACHE_MW=0, no device support), off inside when
	 * the bind QP could not be built. */
	struct sv_mw_pool *mw;

	sanverbs_cache_cb cb;
	void *cb_arg;
	uint64_t hits, misses, evictions, invalidations, uncached;
};

static inline void sv_cache_lock(struct sv_cache *c)
{
	pthread_mutex_lock(&c->lock);
}

static inline void sv_cache_unlock(struct sv_cache *c)
{
	pthread_mutex_unlock(&c->lock);
}

/* Locked helpers (c->lock held). */
void sv_entry_insert(struct sv_cache *c, struct sv_cache_entry *e);
void sv_lru_del(struct sv_cache *c, struct sv_cache_entry *e);
void sv_all_add(struct sv_cache *c, struct sv_cache_entry *e);
/* Takes @e out of the tree; stops watching its pages unless another entry
 * in the tree still overlaps them (@unwatch false: the backend already
 * did). Returns true when the entry has no references and is not queued,
 * so the caller must free it after unlocking. */
bool sv_entry_drop(struct sv_cache *c, struct sv_cache_entry *e,
		   bool unwatch);
/* Drops every tree entry overlapping [s, e) of @kind_mask (1 << kind);
 * entries to free are chained on *free_list; returns how many dropped. */
size_t sv_cache_drop_range(struct sv_cache *c, uintptr_t s, uintptr_t e,
			   unsigned int kind_mask,
			   struct sv_cache_entry **free_list);

/* Unlocked: deregisters and frees a chain linked by ->next. */
void sv_entries_free(struct sv_cache *c, struct sv_cache_entry *list);

#endif
