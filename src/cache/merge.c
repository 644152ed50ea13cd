/* SPDX-License-Identifier: MIT */
/* Merging on a miss (docs/cache.md, "Merging"): a local registration
 * whose page hull overlaps cached entries of the same access is made over
 * the union of their hulls, and replaces them once it is live, so pages
 * two overlapping buffers share are pinned once instead of once per
 * registration (UCX's rcache does the same). Locking rules are in priv.h.
 *
 * Why only identical access: the merged MR grants every requester what
 * the one it replaces granted, no more, and the pages need exactly the
 * rights they needed (sv_entry_need), so a protection change invalidates
 * the merged entry exactly when it would have invalidated a part. Widening
 * a read-only entry into a writable one (UCX reads /proc/self/maps for it)
 * would ask the write right of pages nobody registered for writing, and a
 * later write-protect of them would drop registrations that did not need
 * the right. */
#include "mr.h"
#include "priv.h"

struct merge_walk {
	struct sv_cache *c;
	struct sv_cache_entry *ent;
	uintptr_t s, e;
	size_t n, bytes;
};

/* The entries a merge may replace: live local MR entries in the tree with
 * exactly @ent's access, not already claimed by another miss, and whose
 * watch the monitor still vouches for (a kmod-like monitor may already
 * know of a change it has not reported: merging that entry would only
 * make the merged one die with it). */
static bool mergeable(struct merge_walk *w, struct sv_cache_entry *x)
{
	const struct sv_monitor_ops *ops = w->c->mon->ops;

	if (x->kind != SV_ENT_MR || x->state != SV_ST_LIVE || !x->in_tree ||
	    x->merging || x->access != w->ent->access)
		return false;
	return ops->verify || !ops->still_valid ||
	       ops->still_valid(w->c->mon, &x->watch);
}

static int merge_fn(struct sv_itree_node *n, void *arg)
{
	struct merge_walk *w = arg;
	struct sv_cache_entry *x = sv_entry_of(n);

	if (!mergeable(w, x))
		return 0;
	/* held: no eviction, and no free while the miss registers unlocked */
	x->merging = 1;
	x->refs++;
	x->mnext = w->ent->mnext;
	w->ent->mnext = x;
	w->n++;
	w->bytes += x->node.end - x->node.start;
	if (x->node.start < w->s)
		w->s = x->node.start;
	if (x->node.end > w->e)
		w->e = x->node.end;
	return 0;
}

size_t sv_merge_collect(struct sv_cache *c, struct sv_cache_entry *ent,
			size_t *old_bytes)
{
	struct merge_walk w = { c, ent, ent->node.start, ent->node.end, 0, 0 };
	uintptr_t hs = ent->node.start, he = ent->node.end, ps, pe;
	struct sv_cache_entry *free_list = NULL;

	*old_bytes = 0;
	ent->mnext = NULL;
	if (ent->access & (SV_REMOTE_ACCESS | SV_ACCESS_MW_BIND))
		return 0; /* exact ranges: nothing to merge */
	/* Entries in the tree may overlap each other (other access, or
	 * made while merging was off), so the union can reach entries the
	 * request's hull did not: walk again until it stops growing. */
	do {
		ps = w.s;
		pe = w.e;
		sv_itree_overlap(&c->tree, ps, pe, merge_fn, &w);
	} while (w.s < ps || w.e > pe);
	if (!w.n)
		return 0;
	if (c->max_bytes && w.e - w.s > c->max_bytes) {
		/* the union could not be cached: keep the entries */
		sv_merge_end(c, ent, false, hs, he, &free_list);
		return 0; /* all were in the tree: nothing to free */
	}
	sv_entry_set_hull(ent, w.s, w.e);
	*old_bytes = w.bytes;
	return w.n;
}

void sv_merge_end(struct sv_cache *c, struct sv_cache_entry *ent,
		  bool retire, uintptr_t hs, uintptr_t he,
		  struct sv_cache_entry **free_list)
{
	struct sv_cache_entry *x, *nx;

	for (x = ent->mnext; x; x = nx) {
		nx = x->mnext;
		x->mnext = NULL;
		x->merging = 0;
		x->refs--;
		if (retire && x->in_tree) {
			/* Out of the cache like an evicted entry: no
			 * callback (its pages did not change); whoever
			 * holds it keeps its MR until the last put. */
			c->merged++;
		} else if (x->in_tree) {
			/* still cached: it never left the CLOCK list
			 * (held entries stay on it) */
			if (!x->on_lru)
				sv_lru_add_tail(c, x);
			continue;
		}
		/* Out of the tree now, or dropped by someone else while we
		 * held it: the last hold frees it. */
		if (sv_entry_drop(c, x, true)) {
			x->next = *free_list;
			*free_list = x;
		}
	}
	ent->mnext = NULL;
	if (!retire)
		sv_entry_set_hull(ent, hs, he);
}
