/* SPDX-License-Identifier: MIT */
/* The admission rule (docs/cache.md, "Admission"): with SV_ADMIT_SECOND a
 * miss whose range the monitor does not watch yet is registered uncached
 * the first time it is seen, and cached when the same page range misses
 * again while still remembered here. A range used once then costs what a
 * plain registration costs, without the watch (under userfaultfd, a read
 * of /proc/self/maps and a UFFDIO_REGISTER that splits the VMA) and
 * without the event its unmap would then wait for.
 *
 * A range is told by its page range and by the monitor's unmap epoch
 * there (userfaultfd: moved by every munmap() over it), so a buffer
 * unmapped and mapped again at the same address counts as new.
 *
 * The table only decides whether a miss is cached; it never hands out a
 * registration. So it needs no invalidation: a stale "seen" only caches a
 * first sight (watched like any miss, so exact), a forgotten one only
 * leaves a second sight uncached (a plain registration, deregistered with
 * its handle). It is a direct-mapped array of 32-bit fingerprints of the
 * page range, guarded by c->lock; a collision is one of those two cases. */
#include <errno.h>
#include <stdlib.h>

#include "priv.h"

/* Fingerprint of a page range; 0 marks an empty slot, so never 0. */
static uint64_t range_hash(uintptr_t hs, uintptr_t he)
{
	uint64_t h = (uint64_t)hs * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)he + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

int sv_admit_init(struct sv_cache *c, enum sv_admit mode)
{
	unsigned int bits = 6;

	c->admit = mode;
	if (mode != SV_ADMIT_SECOND)
		return 0;
	/* room to remember as many first sights as the cache holds
	 * entries, within 64 .. 64k slots (256 KiB) */
	while (bits < 16 && ((size_t)1 << bits) < c->max_entries)
		bits++;
	c->seen = calloc((size_t)1 << bits, sizeof(*c->seen));
	if (!c->seen)
		return -ENOMEM;
	c->seen_bits = bits;
	return 0;
}

void sv_admit_fini(struct sv_cache *c)
{
	free(c->seen);
	c->seen = NULL;
}

bool sv_admit_locked(struct sv_cache *c, struct sv_cache_entry *ent)
{
	uintptr_t hs = ent->node.start, he = ent->node.end;
	uint64_t h;
	uint32_t fp, *slot;

	if (c->admit != SV_ADMIT_SECOND)
		return true;
	h = range_hash(hs, he);
	/* new memory at an address seen before is a first sight */
	if (c->mon->ops->unmap_epoch)
		h = range_hash(h, c->mon->ops->unmap_epoch(c->mon, hs, he));
	slot = &c->seen[h & (((uint64_t)1 << c->seen_bits) - 1)];
	fp = (uint32_t)(h >> 32) | 1;
	if (*slot == fp)
		return true;
	/* Watched already (an entry there was evicted or invalidated, or an
	 * overlapping one is cached): caching costs no new watch. */
	if (c->mon->ops->known && c->mon->ops->known(c->mon, &ent->watch))
		return true;
	*slot = fp;
	c->first_seen++;
	return false;
}
