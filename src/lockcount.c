/* SPDX-License-Identifier: MIT */
/* Per-page lock counts in a chained hash table keyed by page number, under
 * one mutex. The mutex is never held across anything that could block on
 * another library lock; mlock/munlock under it only take mmap_lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lockcount.h"
#include "util.h"

struct page_node {
	struct page_node *next;
	uintptr_t pgno;
	unsigned long count;
};

static pthread_mutex_t lc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct page_node **buckets;
static size_t nbuckets, nnodes;

static int sys_lock(const void *addr, size_t len)
{
	return sv_mlock(addr, len) ? -errno : 0;
}

static int sys_unlock(const void *addr, size_t len)
{
	return sv_munlock(addr, len) ? -errno : 0;
}

static const struct sv_lock_ops sys_ops = { sys_lock, sys_unlock };
static const struct sv_lock_ops *ops = &sys_ops;

void sv_lock_set_ops(const struct sv_lock_ops *o)
{
	pthread_mutex_lock(&lc_lock);
	ops = o ? o : &sys_ops;
	pthread_mutex_unlock(&lc_lock);
}

static size_t hash(uintptr_t pgno)
{
	return (size_t)((pgno * 0x9e3779b97f4a7c15ull) >> 17) & (nbuckets - 1);
}

static struct page_node **find_slot(uintptr_t pgno)
{
	struct page_node **pp;

	if (!nbuckets)
		return NULL;
	for (pp = &buckets[hash(pgno)]; *pp; pp = &(*pp)->next)
		if ((*pp)->pgno == pgno)
			return pp;
	return NULL;
}

static int grow(size_t want)
{
	size_t n = nbuckets ? nbuckets : 64, i;
	struct page_node **nb;

	while (n < want)
		n *= 2;
	if (n == nbuckets)
		return 0;
	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (i = 0; i < nbuckets; i++) {
		struct page_node *p = buckets[i], *next;

		for (; p; p = next) {
			size_t h = (size_t)((p->pgno * 0x9e3779b97f4a7c15ull) >> 17) &
				   (n - 1);

			next = p->next;
			p->next = nb[h];
			nb[h] = p;
		}
	}
	free(buckets);
	buckets = nb;
	nbuckets = n;
	return 0;
}

static void node_drop(uintptr_t pgno)
{
	struct page_node **pp = find_slot(pgno), *p;

	if (!pp)
		return;
	p = *pp;
	*pp = p->next;
	free(p);
	nnodes--;
}

/* mlock/munlock each maximal run of pages [first, last] whose count just
 * crossed zero, so a large MDL costs one syscall, not one per page. */
static int apply_runs(uintptr_t first, uintptr_t last, int locking,
		      uintptr_t *failed_at)
{
	uintptr_t p = first, run = 0;
	int in_run = 0, ret;
	size_t ps = sv_page_size();

	for (p = first; p <= last + 1; p++) {
		int edge = 0;

		if (p <= last) {
			struct page_node **pp = find_slot(p);
			unsigned long c = pp ? (*pp)->count : 0;

			edge = locking ? c == 1 : c == 0;
		}
		if (edge && !in_run) {
			run = p;
			in_run = 1;
		} else if (!edge && in_run) {
			in_run = 0;
			ret = locking ? ops->lock((void *)(run * ps),
						  (p - run) * ps)
				      : ops->unlock((void *)(run * ps),
						    (p - run) * ps);
			if (ret && locking) {
				*failed_at = run;
				return ret == -ENOMEM ? -ENOMEM : ret;
			}
			/* munlock fails with ENOMEM when the application
			 * already unmapped the range: nothing left to unlock. */
		}
	}
	return 0;
}

static void range_pages(const void *addr, size_t len, uintptr_t *first,
			uintptr_t *last)
{
	size_t ps = sv_page_size();

	*first = (uintptr_t)addr / ps;
	*last = ((uintptr_t)addr + len - 1) / ps;
}

/* Undo count increments on [first, stop). */
static void undo_counts(uintptr_t first, uintptr_t stop)
{
	uintptr_t p;

	for (p = first; p < stop; p++) {
		struct page_node **pp = find_slot(p);

		if (pp && --(*pp)->count == 0)
			node_drop(p);
	}
}

int sv_lock_pages(const void *addr, size_t len)
{
	uintptr_t first, last, p, failed = 0;
	int ret = 0;

	if (!sv_range_ok(addr, len))
		return -EINVAL;
	range_pages(addr, len, &first, &last);
	pthread_mutex_lock(&lc_lock);
	if (nnodes + (last - first + 1) > nbuckets &&
	    grow(nnodes + (last - first + 1))) {
		pthread_mutex_unlock(&lc_lock);
		return -ENOMEM;
	}
	for (p = first; p <= last; p++) {
		struct page_node **pp = find_slot(p), *n;

		if (pp) {
			(*pp)->count++;
			continue;
		}
		n = malloc(sizeof(*n));
		if (!n) {
			undo_counts(first, p);
			ret = -ENOMEM;
			goto out;
		}
		n->pgno = p;
		n->count = 1;
		n->next = buckets[hash(p)];
		buckets[hash(p)] = n;
		nnodes++;
	}
	ret = apply_runs(first, last, 1, &failed);
	if (ret) {
		/* munlock the runs locked before the failing one, then
		 * forget every increment. */
		if (failed > first) {
			uintptr_t dummy;

			undo_counts(first, failed);
			apply_runs(first, failed - 1, 0, &dummy);
		}
		undo_counts(failed, last + 1);
	}
out:
	pthread_mutex_unlock(&lc_lock);
	return ret;
}

int sv_unlock_pages(const void *addr, size_t len)
{
	uintptr_t first, last, p, dummy;

	if (!sv_range_ok(addr, len))
		return -EINVAL;
	range_pages(addr, len, &first, &last);
	pthread_mutex_lock(&lc_lock);
	for (p = first; p <= last; p++) {
		if (!find_slot(p)) {
			pthread_mutex_unlock(&lc_lock);
			return -EINVAL;
		}
	}
	for (p = first; p <= last; p++)
		(*find_slot(p))->count--;
	apply_runs(first, last, 0, &dummy);
	for (p = first; p <= last; p++) {
		struct page_node **pp = find_slot(p);

		if (pp && (*pp)->count == 0)
			node_drop(p);
	}
	pthread_mutex_unlock(&lc_lock);
	return 0;
}

unsigned long sv_lock_count(const void *addr)
{
	struct page_node **pp;
	unsigned long c;

	pthread_mutex_lock(&lc_lock);
	pp = find_slot((uintptr_t)addr / sv_page_size());
	c = pp ? (*pp)->count : 0;
	pthread_mutex_unlock(&lc_lock);
	return c;
}
