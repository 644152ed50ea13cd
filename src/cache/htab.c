/* SPDX-License-Identifier: MIT */
/* Lock-free-readable hit index of the registration cache (see htab.h).
 * Every function here but the allocators runs under the cache lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "htab.h"

_Static_assert(sizeof(struct sv_hrec) == 64, "a record is one cache line");

/* Large arrays get their own 2 MiB-aligned mapping with transparent huge
 * pages asked for: a hit at 100k entries touches one random index slot,
 * and with 4 KiB pages that is a TLB miss as well as a cache miss. */
#define SV_HTAB_HUGE ((size_t)2 << 20)

static void *big_alloc(size_t n)
{
	uintptr_t a, al;
	void *m;

	if (n < SV_HTAB_HUGE) {
		m = aligned_alloc(64, (n + 63) & ~(size_t)63);
		if (m)
			memset(m, 0, n);
		return m;
	}
	/* over-map by 2 MiB and trim to an aligned run (zero-filled) */
	m = mmap(NULL, n + SV_HTAB_HUGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	a = (uintptr_t)m;
	al = (a + SV_HTAB_HUGE - 1) & ~(SV_HTAB_HUGE - 1);
	if (al > a)
		munmap(m, al - a);
	munmap((void *)(al + n), a + SV_HTAB_HUGE - al);
	(void)madvise((void *)al, n, MADV_HUGEPAGE); /* a hint: may fail */
	return (void *)al;
}

static void big_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < SV_HTAB_HUGE)
		free(p);
	else
		munmap(p, n);
}

static size_t idx_bytes(unsigned int bits)
{
	return sizeof(struct sv_hidx) +
	       ((size_t)1 << bits) * sizeof(struct sv_hidx_ent);
}

struct sv_hidx *sv_htab_idx_alloc(unsigned int bits)
{
	struct sv_hidx *x = big_alloc(idx_bytes(bits));

	if (x)
		x->bits = bits;
	return x;
}

void sv_htab_idx_free(struct sv_hidx *x)
{
	if (x)
		big_free(x, idx_bytes(x->bits));
}

struct sv_hrec *sv_htab_chunk_alloc(void)
{
	return big_alloc(SV_HREC_CHUNK * sizeof(struct sv_hrec));
}

static void chunk_free(struct sv_hrec *ch)
{
	big_free(ch, SV_HREC_CHUNK * sizeof(struct sv_hrec));
}

void sv_htab_add_chunk(struct sv_htab *t, struct sv_hrec *ch)
{
	unsigned int i;

	if (!ch)
		return;
	if (t->nchunks >= SV_HREC_MAX_CHUNKS) {
		chunk_free(ch);
		return;
	}
	/* free and closed, lowest number first on the list */
	for (i = SV_HREC_CHUNK; i-- > 0;) {
		ch[i].refs = SV_HREC_CLOSED;
		ch[i].pad = 0;
		ch[i].ent = (struct sv_cache_entry *)t->free;
		t->free = &ch[i];
	}
	t->chunk[t->nchunks] = ch;
	t->nchunks++;
}

int sv_htab_init(struct sv_htab *t, unsigned int bits,
		 unsigned int page_shift)
{
	memset(t, 0, sizeof(*t));
	t->page_shift = page_shift;
	t->idx = sv_htab_idx_alloc(bits);
	return t->idx ? 0 : -ENOMEM;
}

void sv_htab_fini(struct sv_htab *t)
{
	struct sv_hidx *x, *nx;
	unsigned int i;

	for (x = t->idx; x; x = nx) {
		nx = x->retired;
		sv_htab_idx_free(x);
	}
	t->idx = NULL;
	for (i = 0; i < t->nchunks; i++)
		chunk_free(t->chunk[i]);
	t->nchunks = 0;
	t->free = NULL;
}

bool sv_htab_wants_grow(const struct sv_htab *t)
{
	return t->idx->bits < 40 &&
	       (t->count + 1) * 4 > ((size_t)3 << t->idx->bits);
}

bool sv_htab_wants_chunk(const struct sv_htab *t)
{
	return !t->free && t->nchunks < SV_HREC_MAX_CHUNKS;
}

/* Two separate stores: a reader that pairs an address with the wrong
 * record rejects the record on its own fields. */
static void slot_set(struct sv_hidx_ent *d, uintptr_t addr,
		     struct sv_hrec *rec)
{
	__atomic_store_n(&d->addr, addr, __ATOMIC_RELAXED);
	__atomic_store_n(&d->rec, rec, __ATOMIC_RELEASE);
}

static void place(struct sv_htab *t, struct sv_hidx *x, uintptr_t addr,
		  struct sv_hrec *rec)
{
	size_t i = sv_htab_home(x, t->page_shift, addr);
	size_t m = ((size_t)1 << x->bits) - 1;

	while (x->e[i].rec)
		i = (i + 1) & m;
	slot_set(&x->e[i], addr, rec);
}

void sv_htab_grow(struct sv_htab *t, struct sv_hidx *x)
{
	struct sv_hidx *old = t->idx;
	size_t i, n = (size_t)1 << old->bits;

	for (i = 0; i < n; i++)
		if (old->e[i].rec)
			place(t, x, old->e[i].addr, old->e[i].rec);
	x->retired = old;
	__atomic_store_n(&t->idx, x, __ATOMIC_RELEASE);
}

struct sv_hrec *sv_htab_insert(struct sv_htab *t, const struct sv_hrec *tmpl,
			       uint32_t refs)
{
	struct sv_hrec *r = t->free;

	if (!r || t->count + 2 > ((size_t)1 << t->idx->bits))
		return NULL;
	t->free = (struct sv_hrec *)r->ent;
	/* closed until the fields are in: no reader can take it before
	 * the release store opens it */
	r->access = tmpl->access;
	r->wtoken = tmpl->wtoken;
	r->addr = tmpl->addr;
	r->end = tmpl->end;
	r->ent = tmpl->ent;
	r->ibmr = tmpl->ibmr;
	r->lkey = tmpl->lkey;
	r->rkey = tmpl->rkey;
	__atomic_store_n(&r->wgen, tmpl->wgen, __ATOMIC_RELAXED);
	__atomic_store_n(&r->used, tmpl->used, __ATOMIC_RELAXED);
	__atomic_store_n(&r->refs, refs, __ATOMIC_RELEASE);
	place(t, t->idx, r->addr, r);
	t->count++;
	return r;
}

/* Backward-shift deletion of slot @i: later slots of the probe run that
 * may live nearer their home move into the hole, so no tombstones
 * accumulate and a lookup still stops at the first empty slot. A reader
 * racing with a move may miss the moved slot; it then takes the locked
 * path. */
static void slot_remove(struct sv_htab *t, struct sv_hidx *x, size_t i)
{
	size_t j = i, k, m = ((size_t)1 << x->bits) - 1;

	for (;;) {
		j = (j + 1) & m;
		if (!x->e[j].rec)
			break;
		k = sv_htab_home(x, t->page_shift, x->e[j].addr);
		/* j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		slot_set(&x->e[i], x->e[j].addr, x->e[j].rec);
		i = j;
	}
	slot_set(&x->e[i], 0, NULL);
}

uint32_t sv_htab_close(struct sv_htab *t, struct sv_hrec *r)
{
	struct sv_hidx *x = t->idx;
	uint64_t old;
	size_t i = sv_htab_home(x, t->page_shift, r->addr);
	size_t m = ((size_t)1 << x->bits) - 1;

	for (; x->e[i].rec; i = (i + 1) & m)
		if (x->e[i].rec == r) {
			slot_remove(t, x, i);
			t->count--;
			break;
		}
	old = __atomic_fetch_or(&r->refs, SV_HREC_CLOSED, __ATOMIC_SEQ_CST);
	if (!(old & SV_HREC_COUNT))
		sv_htab_release(t, r);
	return (uint32_t)old & SV_HREC_COUNT;
}

void sv_htab_release(struct sv_htab *t, struct sv_hrec *r)
{
	/* closed and unreferenced: nobody changes ->refs until it opens */
	t->folded_hits += __atomic_load_n(&r->refs, __ATOMIC_RELAXED) >> 32;
	__atomic_store_n(&r->refs, SV_HREC_CLOSED, __ATOMIC_RELAXED);
	r->ent = (struct sv_cache_entry *)t->free;
	t->free = r;
}

uint64_t sv_htab_hits(const struct sv_htab *t)
{
	uint64_t n = t->folded_hits;
	unsigned int i, k;

	for (i = 0; i < t->nchunks; i++)
		for (k = 0; k < SV_HREC_CHUNK; k++)
			n += __atomic_load_n(&t->chunk[i][k].refs,
					     __ATOMIC_RELAXED) >> 32;
	return n;
}
