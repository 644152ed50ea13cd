/* SPDX-License-Identifier: MIT */
/* Entry lifecycle: an entry enters the tree (and the lists), joins the hit
 * index when live, leaves the tree when dropped, and is deregistered and
 * freed, or kept for the next miss, once nothing references it. Locking
 * rules are in priv.h. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mr.h"
#include "priv.h"

#define SV_SPARE_MAX 64

void sv_lru_del(struct sv_cache *c, struct sv_cache_entry *e)
{
	(void)c;
	if (!e->on_lru)
		return;
	sv_list_del(&e->lru_link);
	e->on_lru = 0;
}

void sv_lru_add_tail(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_list_add_tail(&c->lru, &e->lru_link);
	e->on_lru = 1;
}

void sv_all_add(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_list_add_tail(&c->all, &e->all_link);
	e->in_all = 1;
}

void sv_all_del(struct sv_cache_entry *e)
{
	if (!e->in_all)
		return;
	sv_list_del(&e->all_link);
	e->in_all = 0;
}

static int any_node(struct sv_itree_node *n, void *arg)
{
	(void)n;
	(void)arg;
	return 1;
}

static size_t hull_len(const struct sv_cache_entry *e)
{
	return e->node.end - e->node.start;
}

void sv_entry_insert(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_itree_insert(&c->tree, &e->node);
	e->in_tree = 1;
}

void sv_entry_hash_in(struct sv_cache *c, struct sv_cache_entry *e)
{
	struct sv_hrec tmpl = {
		.access = (uint16_t)e->access,
		.used = e->used,
		.wtoken = e->watch.token < SV_HREC_NO_TOKEN ?
				  (uint32_t)e->watch.token :
				  SV_HREC_NO_TOKEN,
		.addr = e->addr,
		.end = e->addr + e->len,
		.ent = e,
		.ibmr = e->ibmr,
		.lkey = e->ibmr->lkey,
		.rkey = e->ibmr->rkey,
		.wgen = __atomic_load_n(&e->watch.gen, __ATOMIC_ACQUIRE),
	};
	struct sv_hrec *r;

	if (e->hashed || e->rec || (e->access & SV_REMOTE_ACCESS))
		return;
	r = sv_htab_insert(&c->ht, &tmpl, e->refs);
	if (!r)
		return;
	e->refs = 0;
	e->rec = r;
	e->hashed = 1;
}

/* Closes @e's record: no hit can take it from here on. References taken
 * through it stay there and keep the record until the last is dropped. */
static void hash_out(struct sv_cache *c, struct sv_cache_entry *e)
{
	if (!e->hashed)
		return;
	e->used = __atomic_load_n(&e->rec->used, __ATOMIC_RELAXED);
	e->hashed = 0;
	if (!sv_htab_close(&c->ht, e->rec))
		e->rec = NULL; /* nobody held it: already free */
}

bool sv_entry_rec_drained(struct sv_cache *c, struct sv_hrec *r)
{
	struct sv_cache_entry *e = r->ent;

	sv_htab_release(&c->ht, r);
	e->rec = NULL;
	if (e->refs || e->queued || e->in_tree)
		return false;
	sv_all_del(e);
	return true;
}

static void entry_remove(struct sv_cache *c, struct sv_cache_entry *e)
{
	sv_itree_remove(&c->tree, &e->node);
	e->in_tree = 0;
}

/* Frees @e if nothing references it any more; false if someone still does. */
static bool release_locked(struct sv_cache_entry *e)
{
	if (sv_entry_held(e) || e->queued || e->in_tree)
		return false;
	sv_all_del(e);
	return true;
}

bool sv_entry_drop(struct sv_cache *c, struct sv_cache_entry *e,
		   bool unwatch)
{
	hash_out(c, e);
	if (e->in_tree) {
		entry_remove(c, e);
		if (e->kind == SV_ENT_MR) {
			c->entries--;
			c->bytes -= hull_len(e);
		}
	}
	sv_lru_del(c, e);
	/* Overlapping entries share the pages' registration: unregistering
	 * under a live neighbour would leave it unwatched. A left-over WP
	 * registration is harmless (it never faults). */
	if (e->watched && c->mon->ops->unwatch &&
	    ((c->mon->flags & SV_MONITOR_F_WATCH_PER_ENTRY) ||
	     (unwatch && !sv_itree_overlap(&c->tree, e->node.start,
					   e->node.end, any_node, NULL))))
		c->mon->ops->unwatch(c->mon, &e->watch);
	e->watched = 0;
	e->state = SV_ST_DEAD;
	return release_locked(e);
}

/* Unlocked: keeps up to SV_SPARE_MAX MR entries of @list (linked by
 * ->next, deregistered) for reuse, frees the rest. Secure entries live
 * inside their public handle and are never kept. */
static void entries_recycle(struct sv_cache *c, struct sv_cache_entry *list)
{
	struct sv_cache_entry *x, *nx, *rest = NULL;

	if (!list)
		return;
	sv_cache_lock(c);
	for (x = list; x; x = nx) {
		nx = x->next;
		if (x->kind == SV_ENT_MR && c->nspare < SV_SPARE_MAX) {
			x->next = c->spare;
			c->spare = x;
			c->nspare++;
		} else {
			x->next = rest;
			rest = x;
		}
	}
	sv_cache_unlock(c);
	for (x = rest; x; x = nx) {
		nx = x->next;
		if (x->kind == SV_ENT_SECURE)
			sv_secure_entry_release(x);
		else
			free(x);
	}
}

static int entry_dereg(struct sv_cache *c, struct sv_cache_entry *e)
{
	int ret = 0;

	if (e->ibmr) {
		ret = c->rb->ops->dereg(c->rb, e->ibmr);
		e->ibmr = NULL;
	}
	return ret;
}

int sv_entry_free(struct sv_cache *c, struct sv_cache_entry *e)
{
	int ret = entry_dereg(c, e);

	e->next = NULL;
	entries_recycle(c, e);
	return ret;
}

void sv_entries_free(struct sv_cache *c, struct sv_cache_entry *list)
{
	struct sv_cache_entry *x;

	for (x = list; x; x = x->next)
		entry_dereg(c, x);
	entries_recycle(c, list);
}

void sv_entry_spares_free(struct sv_cache *c)
{
	struct sv_cache_entry *x, *nx;

	for (x = c->spare; x; x = nx) {
		nx = x->next;
		free(x);
	}
	c->spare = NULL;
	c->nspare = 0;
}

struct sv_cache_entry *sv_entry_spare_pop(struct sv_cache *c)
{
	struct sv_cache_entry *e = c->spare;

	if (e) {
		c->spare = e->next;
		c->nspare--;
	}
	return e;
}

unsigned char sv_entry_need(unsigned int access)
{
	return sv_access_to_ibv(access) &
			       (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_MW_BIND) ?
		       PROT_READ | PROT_WRITE :
		       PROT_READ;
}

void sv_entry_set_hull(struct sv_cache_entry *ent, uintptr_t hs, uintptr_t he)
{
	ent->addr = hs;
	ent->len = he - hs;
	ent->node.start = hs;
	ent->node.end = he;
	ent->watch.start = hs;
	ent->watch.len = he - hs;
}

void sv_entry_init_mr(struct sv_cache_entry *ent, struct sv_cache *c,
		      uintptr_t s, size_t len, unsigned int access,
		      uintptr_t hs, uintptr_t he)
{
	memset(ent, 0, sizeof(*ent));
	ent->cache = c;
	ent->kind = SV_ENT_MR;
	ent->refs = 1;
	ent->access = sv_access_normalize(access);
	ent->need = sv_entry_need(ent->access);
	sv_entry_set_hull(ent, hs, he);
	/* Local-only entries cover whole pages so neighbours hit; a remote
	 * key is confined to exactly what the caller exposed, and so is the
	 * MR under a window (mw.h: rxe checks a window access against
	 * the MR's bounds only). */
	if (access & (SV_REMOTE_ACCESS | SV_ACCESS_MW_BIND)) {
		ent->addr = s;
		ent->len = len;
	}
	ent->watch.prot = ent->need;
	ent->state = SV_ST_PENDING;
}

int sv_cache_may(struct sv_cache *c, uintptr_t s, size_t len,
		 unsigned int need)
{
	unsigned int prot;
	int ret;

	if (!need || !c->rb->ops->rights)
		return 0;
	ret = c->rb->ops->rights(c->rb, s, len, &prot);
	if (ret)
		return ret == -EAGAIN ? -EFAULT : ret;
	return (need & ~prot) ? -EFAULT : 0;
}
