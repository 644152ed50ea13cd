/* SPDX-License-Identifier: MIT */
/* The registration cache as mr.c sees it: get a referenced entry covering a
 * range with at least some access, put it back. */
#ifndef SV_CACHE_H
#define SV_CACHE_H

#include <stddef.h>

#include <infiniband/verbs.h>

#include "cache_itree.h"
#include "monitor.h"

struct sanverbs_ctx;
struct sv_cache;
struct sanverbs_mr;

enum sv_entry_kind { SV_ENT_MR, SV_ENT_SECURE };
enum sv_entry_state {
	SV_ST_PENDING, /* in the tree, being registered: never a hit */
	SV_ST_LIVE,    /* in the tree, a hit candidate */
	SV_ST_DEAD,    /* out of the tree: freed with its last reference */
};

/* An entry is the cold part of a registration: a hit and its put touch
 * only the entry's slot in the hit index (cache_htab.h), which copies the
 * range, the MR and the access and, while the entry is in the index,
 * holds its references and CLOCK bit instead of ->refs and ->used. */
struct sv_cache_entry {
	uintptr_t addr; /* range really registered or secured */
	size_t len;
	struct ibv_mr *ibmr; /* NULL for SECURE */
	unsigned int access;
	unsigned int refs; /* while not in the hit index */
	unsigned char kind, state, used;
	unsigned char in_tree, watched, queued, notify, on_lru, in_all, hashed;
	struct sv_itree_node node; /* page-aligned hull, for overlap tests */
	struct sv_cache *cache;
	struct sv_watch watch;
	/* CLOCK list: unreferenced at the last sweep, or never swept */
	struct sv_cache_entry *lru_prev, *lru_next;
	struct sv_cache_entry *all_prev, *all_next;
	struct sv_cache_entry *next;    /* deferred or local free list */
	struct sv_cache_entry *collect; /* overlap walk */
};

/* Creates the cache of @ctx with the monitor its attributes ask for. */
int sv_cache_create(struct sanverbs_ctx *ctx, struct sv_cache **out);
/* Releases every entry, stops the monitor and the worker. */
void sv_cache_destroy(struct sv_cache *c);

/* A handle holding one reference on an entry whose ibmr covers
 * [addr, addr + len) with at least @access (and exactly the remote bits of
 * @access): ->entry, ->eaddr, ->ibmr and ->access are set, the caller
 * fills the rest. Handles come
 * from a spare list taken under the same lock as the hit, so a hit does not
 * allocate. 0 or a negative errno. */
int sv_cache_get(struct sv_cache *c, void *addr, size_t len,
		 unsigned int access, struct sanverbs_mr **out);
/* Drops @mr's reference and takes the handle back (kept or freed); 0 or
 * the negative errno of ibv_dereg_mr. */
int sv_cache_put(struct sv_cache *c, struct sanverbs_mr *mr);

#endif
