/* SPDX-License-Identifier: MIT */
/* The hit index of the registration cache, read without any lock.
 *
 * Records: one 64-byte line per live local entry holding what a hit and
 * its put need (range, MR, keys, access, references, CLOCK bit, the watch
 * generation). Records never move and are never freed while the cache
 * lives (chunks of SV_HREC_CHUNK), so a handle keeps a pointer to its
 * record and the put touches that line and nothing else: no probe, no
 * lock. A record is *open* while its entry is in the index; closing sets
 * SV_HREC_CLOSED in ->refs, after which no reference can be taken on it
 * (the CAS in sv_hrec_get fails), and it is reused only once its count is
 * back to zero and its entry let it go.
 *
 * Index: open addressing (linear probing, backward-shift deletion) of
 * {start address, record} keyed by the page the range starts in.
 * Writers hold the cache lock; readers do not, so a reader may see a
 * pair in the middle of a move or a deletion: it may then miss (and take
 * the locked path) or find a record that no longer matches, which the
 * check after taking the reference rejects. An index array replaced by a
 * larger one stays mapped until the cache goes (readers may still be in
 * it), at most as much again as the live array. */
#ifndef SV_CACHE_HTAB_H
#define SV_CACHE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibv_mr;
struct sv_cache_entry;

#define SV_HREC_CLOSED 0x80000000u
/* The references taken through sv_hrec_get() are counted in the high half
 * of ->refs, in the same atomic operation as the reference itself: the
 * cache's lock-free hits, at no extra write. Modulo 2^32 per record. */
#define SV_HREC_HIT ((uint64_t)1 << 32)
#define SV_HREC_COUNT 0x7fffffffu
#define SV_HREC_CHUNK_BITS 10
#define SV_HREC_CHUNK (1u << SV_HREC_CHUNK_BITS)
#define SV_HREC_MAX_CHUNKS 4096 /* 4M records; more entries stay unindexed */
#define SV_HREC_NO_TOKEN UINT32_MAX

struct sv_hrec {
	uint64_t refs;   /* atomic: gets * SV_HREC_HIT | SV_HREC_CLOSED | count */
	uint16_t access;
	uint8_t used;    /* atomic: hit since the last CLOCK sweep */
	uint8_t pad;
	uint32_t wtoken; /* the watch's token, SV_HREC_NO_TOKEN if wider */
	uintptr_t addr, end; /* the range registered */
	struct sv_cache_entry *ent; /* next free record while free */
	struct ibv_mr *ibmr;
	uint32_t lkey, rkey;
	uint64_t wgen;   /* atomic: the watch generation seen valid */
} __attribute__((aligned(64)));

struct sv_hidx_ent {
	uintptr_t addr;     /* the range's start */
	struct sv_hrec *rec; /* NULL: empty */
};

struct sv_hidx {
	unsigned int bits;
	struct sv_hidx *retired; /* older arrays, kept for late readers */
	struct sv_hidx_ent e[];
};

struct sv_htab {
	struct sv_hidx *idx; /* atomic pointer: readers load it once */
	unsigned int page_shift;
	size_t count;
	struct sv_hrec *chunk[SV_HREC_MAX_CHUNKS]; /* for for_each and fini */
	unsigned int nchunks;
	struct sv_hrec *free; /* closed, unreferenced, let go */
	uint64_t folded_hits; /* lock-free hits of records released */
};

/* An empty index of 2^@bits slots and no records; 0 or -ENOMEM. */
int sv_htab_init(struct sv_htab *t, unsigned int bits,
		 unsigned int page_shift);
/* Frees everything; no reader may be left. */
void sv_htab_fini(struct sv_htab *t);

/* Allocation is the caller's, outside its lock. An index array of
 * 2^@bits slots (NULL on failure), freed with sv_htab_idx_free() if it
 * was not used. */
struct sv_hidx *sv_htab_idx_alloc(unsigned int bits);
void sv_htab_idx_free(struct sv_hidx *x);
/* True when one more entry would fill the index past three quarters:
 * allocate 2^(bits + 1) and pass it to sv_htab_grow(). */
bool sv_htab_wants_grow(const struct sv_htab *t);
/* Publishes @x (larger) with every entry of the current index; the old
 * array is retired, not freed. */
void sv_htab_grow(struct sv_htab *t, struct sv_hidx *x);
/* True when no free record is left: allocate a chunk with
 * sv_htab_chunk_alloc() and hand it to sv_htab_add_chunk(), which takes
 * it (or frees it when the table already has its last chunk). */
bool sv_htab_wants_chunk(const struct sv_htab *t);
struct sv_hrec *sv_htab_chunk_alloc(void);
void sv_htab_add_chunk(struct sv_htab *t, struct sv_hrec *chunk);

/* Lock held. An open record with @tmpl's fields (range, entry, MR, keys,
 * access, watch) holding @refs references, in the index; NULL when no
 * record is free or the index is full (the entry stays out; the tree
 * still finds it). */
struct sv_hrec *sv_htab_insert(struct sv_htab *t, const struct sv_hrec *tmpl,
			       uint32_t refs);
/* Lock held. Takes @r out of the index and closes it; returns the count
 * of references still held through it (0: @r is free again). */
uint32_t sv_htab_close(struct sv_htab *t, struct sv_hrec *r);
/* Lock held. A closed record whose count reached zero goes back to the
 * free list. */
void sv_htab_release(struct sv_htab *t, struct sv_hrec *r);
/* Lock held: the hits taken without the lock so far. */
uint64_t sv_htab_hits(const struct sv_htab *t);

static inline size_t sv_htab_home(const struct sv_hidx *x,
				  unsigned int page_shift, uintptr_t addr)
{
	return (size_t)(((uint64_t)(addr >> page_shift) *
			 0x9e3779b97f4a7c15ull) >> (64 - x->bits));
}

/* One more reference on @r unless it is closed, counted as a hit;
 * seq_cst, so whatever the caller reads afterwards is read after the
 * reference exists. */
static inline bool sv_hrec_get(struct sv_hrec *r)
{
	uint64_t v = __atomic_load_n(&r->refs, __ATOMIC_RELAXED);

	do {
		if (v & SV_HREC_CLOSED)
			return false;
	} while (!__atomic_compare_exchange_n(&r->refs, &v,
					      v + SV_HREC_HIT + 1, true,
					      __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	return true;
}

static inline bool sv_hrec_sub(struct sv_hrec *r, uint64_t n)
{
	return (uint32_t)__atomic_sub_fetch(&r->refs, n, __ATOMIC_ACQ_REL) ==
	       SV_HREC_CLOSED;
}

/* Drops a reference taken with sv_hrec_get or sv_htab_insert. True when
 * it was the last one of a closed record: the caller must then, under the
 * lock, release the record and maybe free its entry. */
static inline bool sv_hrec_put(struct sv_hrec *r)
{
	return sv_hrec_sub(r, 1);
}

/* Drops a reference of sv_hrec_get() that did not become a hit (the
 * record did not match, or the check after it failed), and its count. */
static inline bool sv_hrec_unget(struct sv_hrec *r)
{
	return sv_hrec_sub(r, SV_HREC_HIT + 1);
}

static inline uint32_t sv_hrec_count(const struct sv_hrec *r)
{
	return (uint32_t)__atomic_load_n(&r->refs, __ATOMIC_ACQUIRE) &
	       SV_HREC_COUNT;
}

/* Lock-free: a referenced, open record whose range covers [s, e) with
 * at least @access and exactly the bits of @access in @exact_mask (with
 * @exact: exactly [s, e)), or NULL. *@orphan: a record whose last
 * reference this call dropped after it was closed (rare: a close raced
 * with the probe), for the caller to release under the lock; else NULL. */
static inline struct sv_hrec *sv_htab_get(struct sv_htab *t, uintptr_t s,
					  uintptr_t e, unsigned int access,
					  unsigned int exact_mask, bool exact,
					  struct sv_hrec **orphan)
{
	struct sv_hidx *x = __atomic_load_n(&t->idx, __ATOMIC_ACQUIRE);
	size_t i, m = ((size_t)1 << x->bits) - 1, n;
	uintptr_t page = s >> t->page_shift;

	*orphan = NULL;
	i = sv_htab_home(x, t->page_shift, s);
	for (n = 0; n <= m; n++, i = (i + 1) & m) {
		struct sv_hrec *r = __atomic_load_n(&x->e[i].rec,
						    __ATOMIC_ACQUIRE);
		uintptr_t a = __atomic_load_n(&x->e[i].addr, __ATOMIC_RELAXED);

		if (!r)
			return NULL;
		if (a >> t->page_shift != page)
			continue;
		if (!sv_hrec_get(r))
			continue;
		/* referenced and open: the fields hold still now */
		if ((exact ? r->addr == s && r->end == e :
			     r->addr <= s && r->end >= e) &&
		    (r->access & access) == access &&
		    (r->access & exact_mask) == (access & exact_mask))
			return r;
		if (sv_hrec_unget(r)) {
			*orphan = r;
			return NULL;
		}
	}
	return NULL;
}

#endif
