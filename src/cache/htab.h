/* SPDX-License-Identifier: MIT */
/* The hit index of the registration cache: an open-addressing table
 * (linear probing, backward-shift deletion) of the live entries, keyed by
 * the page their registered range starts in.
 *
 * Why slots carry the entry's hot data (range, MR, access, references,
 * CLOCK bit) instead of a pointer to it: with 100k entries a pointer
 * table costs a hit two cache and TLB misses (the bucket, then the entry)
 * and the put a third; a slot costs one, shared by the hit and its put.
 * Slots move (rehash, deletion), so nothing keeps a pointer to a slot
 * across an unlock: a holder finds its slot again by key and entry. */
#ifndef SV_CACHE_HTAB_H
#define SV_CACHE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibv_mr;
struct sv_cache_entry;

/* slot flags */
#define SV_HS_USED 0x1    /* hit since the last CLOCK sweep */
#define SV_HS_OFF_LRU 0x2 /* a sweep took it off the CLOCK list while held */

/* One cache line; ent == NULL marks an empty slot. While an entry is in
 * the table its references are counted here, not in the entry. */
struct sv_hslot {
	uintptr_t addr, end; /* the range registered */
	struct sv_cache_entry *ent;
	struct ibv_mr *ibmr;
	uint32_t refs;
	uint16_t access;
	uint8_t flags;
	uint32_t lkey, rkey; /* the MR's, so a hit need not read the ibv_mr */
	/* the entry's watch token and generation, for monitors whose hit
	 * check is a generation compare (monitor.h gen_current) */
	uint64_t wtoken, wgen;
} __attribute__((aligned(64)));

struct sv_htab {
	struct sv_hslot *slots;
	unsigned int bits, page_shift;
	size_t count;
};

/* An empty table of 2^@bits slots; 0 or -ENOMEM. */
int sv_htab_init(struct sv_htab *t, unsigned int bits,
		 unsigned int page_shift);
void sv_htab_fini(struct sv_htab *t);

/* The slot array a table of 2^@bits slots needs (zeroed), allocated by the
 * caller outside any lock; NULL on failure. Freed with sv_htab_free() and
 * the same @bits, outside any lock too (a large one is munmap()ed). */
struct sv_hslot *sv_htab_alloc(unsigned int bits);
void sv_htab_free(struct sv_hslot *slots, unsigned int bits);
/* True when one more entry would fill the table past three quarters:
 * the caller should allocate 2^(t->bits + 1) slots and sv_htab_grow(). */
bool sv_htab_wants_grow(const struct sv_htab *t);
/* Moves every slot into @slots of 2^@bits (> t->bits) and returns the old
 * array (of the old t->bits), for the caller to free outside its lock. */
struct sv_hslot *sv_htab_grow(struct sv_htab *t, struct sv_hslot *slots,
			      unsigned int bits);

/* A new slot for @ent over [addr, end), or NULL when only one free slot is
 * left (the table never fills: probing stops at an empty slot). */
struct sv_hslot *sv_htab_insert(struct sv_htab *t, uintptr_t addr,
				uintptr_t end, struct sv_cache_entry *ent);
/* Removes @slot; every other slot pointer into @t is void afterwards. */
void sv_htab_remove(struct sv_htab *t, struct sv_hslot *slot);

/* Inline: the hit and the put are each one lookup, and a call per lookup
 * was a tenth of a hit's instructions. */
static inline size_t sv_htab_mask(const struct sv_htab *t)
{
	return ((size_t)1 << t->bits) - 1;
}

static inline size_t sv_htab_home(const struct sv_htab *t, uintptr_t addr)
{
	return (size_t)(((uint64_t)(addr >> t->page_shift) *
			 0x9e3779b97f4a7c15ull) >> (64 - t->bits));
}

/* A slot in the probe run of @s's page whose range covers [s, e) (or,
 * with @exact, is exactly [s, e)), with at least @access and exactly the
 * bits of @access in @exact_mask; or NULL. */
static inline struct sv_hslot *sv_htab_find_range(struct sv_htab *t,
						  uintptr_t s, uintptr_t e,
						  unsigned int access,
						  unsigned int exact_mask,
						  bool exact)
{
	size_t i = sv_htab_home(t, s), m = sv_htab_mask(t);
	struct sv_hslot *x;

	for (; (x = &t->slots[i])->ent; i = (i + 1) & m)
		if ((exact ? x->addr == s && x->end == e :
			     x->addr <= s && x->end >= e) &&
		    (x->access & access) == access &&
		    (x->access & exact_mask) == (access & exact_mask))
			return x;
	return NULL;
}

static inline struct sv_hslot *sv_htab_find_cover(struct sv_htab *t,
						  uintptr_t s, uintptr_t e,
						  unsigned int access,
						  unsigned int exact_mask)
{
	return sv_htab_find_range(t, s, e, access, exact_mask, false);
}

/* The slot of @ent, whose range starts at @addr; NULL if not in the table. */
static inline struct sv_hslot *
sv_htab_find_ent(struct sv_htab *t, uintptr_t addr,
		 const struct sv_cache_entry *ent)
{
	size_t i = sv_htab_home(t, addr), m = sv_htab_mask(t);
	struct sv_hslot *x;

	for (; (x = &t->slots[i])->ent; i = (i + 1) & m)
		if (x->ent == ent)
			return x;
	return NULL;
}

#endif
