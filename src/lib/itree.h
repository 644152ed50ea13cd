/* SPDX-License-Identifier: MIT */
/* Interval tree of ranges (the cache's entries, userfaultfd's watched
 * ranges): a treap keyed by (start, node address), each node augmented
 * with the largest end in its subtree, so that a hit (an entry covering
 * [s, e)) and an invalidation (every entry overlapping [s, e)) cost
 * O(log n) expected plus the number of entries reported. */
#ifndef SV_LIB_ITREE_H
#define SV_LIB_ITREE_H

#include <stddef.h>
#include <stdint.h>

struct sv_itree_node {
	uintptr_t start; /* inclusive */
	uintptr_t end;   /* exclusive */
	uintptr_t max_end;
	uint32_t prio;
	struct sv_itree_node *left, *right;
};

struct sv_itree {
	struct sv_itree_node *root;
	size_t count;
	uint64_t seed;
};

/* Returns nonzero to stop the walk (and make the query return that value). */
typedef int (*sv_itree_visit_fn)(struct sv_itree_node *n, void *arg);

void sv_itree_init(struct sv_itree *t);
/* @n->start < @n->end must hold; the same range may be inserted twice. */
void sv_itree_insert(struct sv_itree *t, struct sv_itree_node *n);
/* @n must be in @t. */
void sv_itree_remove(struct sv_itree *t, struct sv_itree_node *n);
/* First node with start <= @s and end >= @e for which @pred returns nonzero
 * (NULL @pred accepts any), or NULL. */
struct sv_itree_node *sv_itree_find_cover(struct sv_itree *t, uintptr_t s,
					  uintptr_t e, sv_itree_visit_fn pred,
					  void *arg);
/* Calls @fn for every node overlapping [s, e); @fn must not modify @t. */
int sv_itree_overlap(struct sv_itree *t, uintptr_t s, uintptr_t e,
		     sv_itree_visit_fn fn, void *arg);

#endif
