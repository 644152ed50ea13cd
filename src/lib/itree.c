/* SPDX-License-Identifier: MIT */
/* Treap with subtree max-end augmentation (see itree.h). A treap was
 * chosen over a red-black tree because rotations are its only rebalancing
 * step, which keeps the augmentation update in one place. */
#include "itree.h"

static uintptr_t max_end_of(const struct sv_itree_node *n)
{
	return n ? n->max_end : 0;
}

static void update(struct sv_itree_node *n)
{
	uintptr_t m = n->end;

	if (max_end_of(n->left) > m)
		m = n->left->max_end;
	if (max_end_of(n->right) > m)
		m = n->right->max_end;
	n->max_end = m;
}

/* Total order: start, then node address, so equal ranges stay distinct and
 * removal finds exactly the node it was given. */
static int less(const struct sv_itree_node *a, const struct sv_itree_node *b)
{
	if (a->start != b->start)
		return a->start < b->start;
	return (uintptr_t)a < (uintptr_t)b;
}

static struct sv_itree_node *rot_right(struct sv_itree_node *n)
{
	struct sv_itree_node *l = n->left;

	n->left = l->right;
	l->right = n;
	update(n);
	update(l);
	return l;
}

static struct sv_itree_node *rot_left(struct sv_itree_node *n)
{
	struct sv_itree_node *r = n->right;

	n->right = r->left;
	r->left = n;
	update(n);
	update(r);
	return r;
}

static uint32_t next_prio(struct sv_itree *t)
{
	/* xorshift64*: priorities need only be independent of the keys. */
	t->seed ^= t->seed >> 12;
	t->seed ^= t->seed << 25;
	t->seed ^= t->seed >> 27;
	return (uint32_t)((t->seed * 2685821657736338717ull) >> 32);
}

void sv_itree_init(struct sv_itree *t)
{
	t->root = NULL;
	t->count = 0;
	t->seed = 0x9e3779b97f4a7c15ull ^ (uintptr_t)t;
}

static struct sv_itree_node *insert(struct sv_itree_node *root,
				    struct sv_itree_node *n)
{
	if (!root)
		return n;
	if (less(n, root)) {
		root->left = insert(root->left, n);
		if (root->left->prio > root->prio)
			return rot_right(root);
	} else {
		root->right = insert(root->right, n);
		if (root->right->prio > root->prio)
			return rot_left(root);
	}
	update(root);
	return root;
}

void sv_itree_insert(struct sv_itree *t, struct sv_itree_node *n)
{
	n->left = n->right = NULL;
	n->max_end = n->end;
	n->prio = next_prio(t);
	t->root = insert(t->root, n);
	t->count++;
}

/* Joins two treaps where every key of @a is below every key of @b. */
static struct sv_itree_node *join(struct sv_itree_node *a,
				  struct sv_itree_node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->right = join(a->right, b);
		update(a);
		return a;
	}
	b->left = join(a, b->left);
	update(b);
	return b;
}

static struct sv_itree_node *remove_node(struct sv_itree_node *root,
					 struct sv_itree_node *n)
{
	if (!root)
		return NULL;
	if (root == n)
		return join(n->left, n->right);
	if (less(n, root))
		root->left = remove_node(root->left, n);
	else
		root->right = remove_node(root->right, n);
	update(root);
	return root;
}

void sv_itree_remove(struct sv_itree *t, struct sv_itree_node *n)
{
	t->root = remove_node(t->root, n);
	n->left = n->right = NULL;
	t->count--;
}

static struct sv_itree_node *cover(struct sv_itree_node *n, uintptr_t s,
				   uintptr_t e, sv_itree_visit_fn pred,
				   void *arg)
{
	struct sv_itree_node *hit;

	/* A subtree whose ends all fall short of e cannot cover [s, e). */
	while (n && n->max_end >= e) {
		hit = cover(n->left, s, e, pred, arg);
		if (hit)
			return hit;
		/* Everything to the right starts at or after n. */
		if (n->start > s)
			return NULL;
		if (n->end >= e && (!pred || pred(n, arg)))
			return n;
		n = n->right;
	}
	return NULL;
}

struct sv_itree_node *sv_itree_find_cover(struct sv_itree *t, uintptr_t s,
					  uintptr_t e, sv_itree_visit_fn pred,
					  void *arg)
{
	return cover(t->root, s, e, pred, arg);
}

static int overlap(struct sv_itree_node *n, uintptr_t s, uintptr_t e,
		   sv_itree_visit_fn fn, void *arg)
{
	int ret;

	while (n && n->max_end > s) {
		ret = overlap(n->left, s, e, fn, arg);
		if (ret)
			return ret;
		if (n->start >= e)
			return 0;
		if (n->end > s) {
			ret = fn(n, arg);
			if (ret)
				return ret;
		}
		n = n->right;
	}
	return 0;
}

int sv_itree_overlap(struct sv_itree *t, uintptr_t s, uintptr_t e,
		     sv_itree_visit_fn fn, void *arg)
{
	return overlap(t->root, s, e, fn, arg);
}
