/* SPDX-License-Identifier: MIT */
/* Open-addressing hit index of the registration cache (see htab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "htab.h"

_Static_assert(sizeof(struct sv_hslot) == 64, "a slot is one cache line");

/* Large tables get their own 2 MiB-aligned mapping with transparent huge
 * pages asked for: a hit at 100k entries touches one random slot of a
 * 16 MiB table, and with 4 KiB pages that is a TLB miss as well as a cache
 * miss on every hit. */
#define SV_HTAB_HUGE ((size_t)2 << 20)

static size_t table_bytes(unsigned int bits)
{
	return ((size_t)1 << bits) * sizeof(struct sv_hslot);
}

struct sv_hslot *sv_htab_alloc(unsigned int bits)
{
	size_t n = table_bytes(bits);
	struct sv_hslot *s;
	uintptr_t a, al;
	void *m;

	if (n < SV_HTAB_HUGE) {
		s = aligned_alloc(64, n);
		if (s)
			memset(s, 0, n);
		return s;
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
	return (struct sv_hslot *)al;
}

void sv_htab_free(struct sv_hslot *slots, unsigned int bits)
{
	if (!slots)
		return;
	if (table_bytes(bits) < SV_HTAB_HUGE)
		free(slots);
	else
		munmap(slots, table_bytes(bits));
}

int sv_htab_init(struct sv_htab *t, unsigned int bits,
		 unsigned int page_shift)
{
	t->bits = bits;
	t->page_shift = page_shift;
	t->count = 0;
	t->slots = sv_htab_alloc(bits);
	return t->slots ? 0 : -ENOMEM;
}

void sv_htab_fini(struct sv_htab *t)
{
	sv_htab_free(t->slots, t->bits);
	t->slots = NULL;
}

bool sv_htab_wants_grow(const struct sv_htab *t)
{
	return t->bits < 40 &&
	       (t->count + 1) * 4 > ((size_t)3 << t->bits);
}

/* Places a copy of @src at the first free slot from its home. */
static void place(struct sv_htab *t, const struct sv_hslot *src)
{
	size_t i = sv_htab_home(t, src->addr), m = sv_htab_mask(t);

	while (t->slots[i].ent)
		i = (i + 1) & m;
	t->slots[i] = *src;
}

struct sv_hslot *sv_htab_grow(struct sv_htab *t, struct sv_hslot *slots,
			      unsigned int bits)
{
	struct sv_hslot *old = t->slots;
	size_t i, n = (size_t)1 << t->bits;

	t->slots = slots;
	t->bits = bits;
	for (i = 0; i < n; i++)
		if (old[i].ent)
			place(t, &old[i]);
	return old;
}

struct sv_hslot *sv_htab_insert(struct sv_htab *t, uintptr_t addr,
				uintptr_t end, struct sv_cache_entry *ent)
{
	size_t i = sv_htab_home(t, addr), m = sv_htab_mask(t);

	if (t->count + 2 > ((size_t)1 << t->bits))
		return NULL;
	while (t->slots[i].ent)
		i = (i + 1) & m;
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->slots[i].addr = addr;
	t->slots[i].end = end;
	t->slots[i].ent = ent;
	t->count++;
	return &t->slots[i];
}

/* Backward-shift deletion: later slots of the probe run that may live
 * nearer their home move into the hole, so no tombstones accumulate and a
 * lookup still stops at the first empty slot. */
void sv_htab_remove(struct sv_htab *t, struct sv_hslot *slot)
{
	size_t i = (size_t)(slot - t->slots), j = i, k, m = sv_htab_mask(t);

	for (;;) {
		j = (j + 1) & m;
		if (!t->slots[j].ent)
			break;
		k = sv_htab_home(t, t->slots[j].addr);
		/* j stays if its home lies cyclically in (i, j] */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		t->slots[i] = t->slots[j];
		i = j;
	}
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->count--;
}
