/* SPDX-License-Identifier: MIT */
/* Open-addressing hit index of the registration cache (see cache_htab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache_htab.h"

struct sv_hslot *sv_htab_alloc(unsigned int bits)
{
	size_t n = (size_t)1 << bits;
	struct sv_hslot *s = aligned_alloc(64, n * sizeof(*s));

	if (s)
		memset(s, 0, n * sizeof(*s));
	return s;
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
	free(t->slots);
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
