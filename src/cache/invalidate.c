/* SPDX-License-Identifier: MIT */
/* Invalidation: the sink the monitor calls, the worker thread that
 * deregisters and runs the application's callback, explicit invalidation
 * (WSPMemoryRegistrationCacheCallback) and flush, and secure/unsecure
 * (MmSecureVirtualMemory / MmUnsecureVirtualMemory), whose entries are
 * watched like registrations. Locking rules are in priv.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "ctx.h"
#include "lib/thread.h"
#include "priv.h"

#define SV_SECURE_MAGIC 0x53565343u /* "SVSC" */

/* The opaque public handle is the watch entry itself, in type-stable
 * memory (handle.h) so that a second unsecure is refused cleanly. */
struct sanverbs_secure {
	struct sv_hdr hdr; /* handle.h: first */
	struct sanverbs_ctx *ctx; /* holds a use of it until unsecured */
	struct sv_cache_entry ent;
};

static struct sv_handle_type secure_type =
	SV_HANDLE_TYPE(struct sanverbs_secure, SV_SECURE_MAGIC);

void sv_secure_entry_release(struct sv_cache_entry *e)
{
	sv_handle_retire(&secure_type,
			 container_of(e, struct sanverbs_secure, ent));
}

/* Set while the monitor thread holds c->lock around read() + sink. */
static __thread bool in_monitor_batch;

/* A batch makes c->mseq odd before the monitor read()s its events, which
 * is what lets the unmapping thread return, and even again once the
 * entries are dropped: a lock-free hit that saw it even and unchanged
 * around taking its reference took it before any event of the batch was
 * read (docs/cache.md, "Race freedom"). */
static void mon_lock(void *arg)
{
	struct sv_cache *c = arg;

	sv_cache_lock(c);
	in_monitor_batch = true;
	__atomic_fetch_add(&c->mseq, 1, __ATOMIC_SEQ_CST);
}

/* The unmapping thread's lock (uffd's munmap() hook), which may hold
 * c->lock already or run in a signal handler: it only asks. */
static bool mon_trylock(void *arg)
{
	struct sv_cache *c = arg;

	if (pthread_mutex_trylock(&c->lock))
		return false;
	in_monitor_batch = true;
	__atomic_fetch_add(&c->mseq, 1, __ATOMIC_SEQ_CST);
	return true;
}

static void mon_unlock(void *arg)
{
	struct sv_cache *c = arg;

	__atomic_fetch_add(&c->mseq, 1, __ATOMIC_RELEASE);
	in_monitor_batch = false;
	sv_cache_unlock(c);
}

struct collector {
	struct sv_cache_entry *head;
	unsigned int kinds;
};

static int collect_fn(struct sv_itree_node *n, void *arg)
{
	struct collector *col = arg;
	struct sv_cache_entry *e = sv_entry_of(n);

	if (col->kinds & (1u << e->kind)) {
		e->collect = col->head;
		col->head = e;
	}
	return 0;
}

size_t sv_cache_drop_range(struct sv_cache *c, uintptr_t s, uintptr_t e,
			   unsigned int kind_mask,
			   struct sv_cache_entry **free_list)
{
	struct collector col = { NULL, kind_mask };
	struct sv_cache_entry *x, *nx;
	size_t live = 0;

	sv_itree_overlap(&c->tree, s, e, collect_fn, &col);
	for (x = col.head; x; x = nx) {
		nx = x->collect;
		if (x->state == SV_ST_LIVE && x->kind == SV_ENT_MR)
			live++;
		if (sv_entry_drop(c, x, true)) {
			x->next = *free_list;
			*free_list = x;
		}
	}
	return live;
}

/* Unlinks and queues every entry over [start, start + len) that needs a
 * right @prot lacks (@prot -1: every entry); the worker deregisters and
 * calls back. Called by the monitor with c->lock held (uffd) or not
 * (other backends). */
static void invalidate(struct sv_cache *c, uintptr_t start, size_t len,
		       int prot)
{
	struct collector col = { NULL, (1u << SV_ENT_MR) | (1u << SV_ENT_SECURE) };
	struct sv_cache_entry *x, *nx;
	bool own = !in_monitor_batch, wake = false;
	uintptr_t end = start + len < start ? UINTPTR_MAX : start + len;

	if (own)
		sv_cache_lock(c);
	sv_itree_overlap(&c->tree, start, end, collect_fn, &col);
	for (x = col.head; x; x = nx) {
		bool live = x->state == SV_ST_LIVE;

		nx = x->collect;
		if (prot >= 0 && !(x->need & ~prot))
			continue;
		/* The backend already unregistered what needs it. */
		(void)sv_entry_drop(c, x, false);
		if (live) {
			x->notify = 1;
			if (x->kind == SV_ENT_MR)
				c->invalidations++;
		}
		if ((live || !sv_entry_held(x)) && !x->queued) {
			x->queued = 1;
			x->next = c->deferred;
			c->deferred = x;
			wake = true;
		}
	}
	if (wake)
		pthread_cond_signal(&c->cond);
	if (own)
		sv_cache_unlock(c);
}

static void sink(void *arg, uintptr_t start, size_t len)
{
	invalidate(arg, start, len, -1);
}

/* A protection change whose outcome the backend knows: entries whose
 * rights are all still there stay. */
static void protect_sink(void *arg, uintptr_t start, size_t len, int prot)
{
	invalidate(arg, start, len, prot & (PROT_READ | PROT_WRITE));
}

void sv_cache_invalidate_entry(struct sv_cache *c,
			       struct sv_cache_entry *ent)
{
	c->invalidations++;
	(void)sv_entry_drop(c, ent, false);
	ent->notify = 1;
	if (!ent->queued) {
		ent->queued = 1;
		ent->next = c->deferred;
		c->deferred = ent;
		pthread_cond_signal(&c->cond);
	}
}

static void *worker(void *arg)
{
	struct sv_cache *c = arg;
	struct sv_cache_entry *list, *x, *nx, *rev, *to_free;
	sanverbs_cache_cb cb;
	void *cb_arg;

	sv_cache_lock(c);
	for (;;) {
		while (!c->deferred && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		if (!c->deferred)
			break;
		list = c->deferred;
		c->deferred = NULL;
		c->worker_busy = true;
		cb = c->cb;
		cb_arg = c->cb_arg;
		sv_cache_unlock(c);

		/* Oldest change first. */
		for (rev = NULL, x = list; x; x = nx) {
			nx = x->next;
			x->next = rev;
			rev = x;
		}
		for (x = rev; x; x = x->next)
			if (x->notify && cb)
				cb(cb_arg, (void *)x->addr, x->len);

		to_free = NULL;
		sv_cache_lock(c);
		for (x = rev; x; x = nx) {
			nx = x->next;
			x->queued = 0;
			x->notify = 0;
			/* Referenced ones are freed by their last put. */
			if (!sv_entry_held(x)) {
				sv_all_del(x);
				x->next = to_free;
				to_free = x;
			}
		}
		sv_cache_unlock(c);
		sv_entries_free(c, to_free);
		sv_cache_lock(c);
		c->worker_busy = false;
		pthread_cond_broadcast(&c->idle);
	}
	sv_cache_unlock(c);
	return NULL;
}

void sv_cache_quiesce(struct sv_cache *c)
{
	sv_cache_lock(c);
	while (c->worker_running && (c->deferred || c->worker_busy))
		pthread_cond_wait(&c->idle, &c->lock);
	sv_cache_unlock(c);
}

int sv_cache_events_start(struct sv_cache *c,
			  const struct sv_cache_params *p)
{
	int ret;

	ret = p->mon_open(p->mon_arg, sink, c, &c->mon, &c->kind);
	if (ret || !c->mon)
		return ret;
	c->mon->lock = mon_lock;
	c->mon->unlock = mon_unlock;
	c->mon->trylock = mon_trylock;
	c->mon->protect = protect_sink;
	/* Callbacks run here; application signal handlers do not. */
	ret = sv_thread_start(&c->worker, worker, c);
	if (ret) {
		c->mon->ops->destroy(c->mon);
		c->mon = NULL;
		return ret;
	}
	c->worker_running = true;
	return 0;
}

void sv_cache_events_stop(struct sv_cache *c)
{
	if (c->mon)
		c->mon->ops->destroy(c->mon);
	if (c->worker_running) {
		sv_cache_lock(c);
		c->stop = true;
		pthread_cond_signal(&c->cond);
		sv_cache_unlock(c);
		pthread_join(c->worker, NULL);
	}
}

static size_t drop_and_free(struct sv_cache *c, uintptr_t s, uintptr_t e,
			    uint64_t *counter)
{
	struct sv_cache_entry *free_list = NULL;
	size_t n;

	sv_cache_lock(c);
	n = sv_cache_drop_range(c, s, e, 1u << SV_ENT_MR, &free_list);
	*counter += n;
	sv_cache_unlock(c);
	sv_entries_free(c, free_list);
	return n;
}

SV_EXPORT int sanverbs_cache_invalidate(struct sanverbs_ctx *ctx, void *addr,
					size_t len)
{
	uintptr_t s = (uintptr_t)addr;

	int ret = sv_ctx_check(ctx);

	if (ret)
		return ret;
	if (!ctx->cache || !sv_range_ok(addr, len))
		return -EINVAL;
	return drop_and_free(ctx->cache, s, s + len,
			     &ctx->cache->invalidations) ?
		       0 :
		       -ENOENT;
}

SV_EXPORT int sanverbs_cache_flush(struct sanverbs_ctx *ctx)
{
	int ret = sv_ctx_check(ctx);

	if (ret)
		return ret;
	if (!ctx->cache)
		return -EINVAL;
	drop_and_free(ctx->cache, 0, UINTPTR_MAX, &ctx->cache->evictions);
	return 0;
}

SV_EXPORT int sanverbs_secure_memory(struct sanverbs_ctx *ctx, void *addr,
				     size_t len, struct sanverbs_secure **out)
{
	return sanverbs_secure_memory_prot(ctx, addr, len, PROT_NONE, out);
}

SV_EXPORT int sanverbs_secure_memory_prot(struct sanverbs_ctx *ctx,
					  void *addr, size_t len, int prot,
					  struct sanverbs_secure **out)
{
	uintptr_t s = (uintptr_t)addr, pm;
	struct sanverbs_secure *h;
	struct sv_cache_entry *e;
	struct sv_cache *c;
	bool ok;
	int ret;

	if (out)
		*out = NULL;
	ret = sv_ctx_check(ctx);
	if (ret)
		return ret;
	if (!ctx->cache || !out || !sv_range_ok(addr, len) ||
	    (prot & ~(PROT_READ | PROT_WRITE)) || prot == PROT_WRITE)
		return -EINVAL;
	c = ctx->cache;
	if (!c->mon)
		return -EOPNOTSUPP;
	pm = c->page_mask;
	if (s + len > UINTPTR_MAX - pm)
		return -EFAULT;
	h = sv_handle_new(&secure_type);
	if (!h)
		return -ENOMEM;
	e = &h->ent;
	e->cache = c;
	e->kind = SV_ENT_SECURE;
	e->need = (unsigned char)prot;
	e->refs = 1;
	e->addr = s;
	e->len = len;
	e->node.start = s & ~pm;
	e->node.end = (s + len + pm) & ~pm;
	e->watch.start = e->node.start;
	e->watch.len = e->node.end - e->node.start;
	e->watch.prot = e->need;
	e->watch.unpinned = true;
	e->state = SV_ST_PENDING;

	/* In the tree before probing and watching, as for registrations,
	 * so a change that races with either is seen. */
	sv_cache_lock(c);
	sv_all_add(c, e);
	sv_entry_insert(c, e);
	sv_cache_unlock(c);

	ret = sv_cache_may(c, s, len, (unsigned int)prot);
	if (!ret)
		ret = c->mon->ops->watch(c->mon, &e->watch);
	sv_cache_lock(c);
	ok = !ret && e->state == SV_ST_PENDING;
	if (ok) {
		e->state = SV_ST_LIVE;
		e->watched = 1;
	} else {
		e->refs = 0;
		if (!sv_entry_drop(c, e, false))
			e = NULL; /* queued: the worker frees it */
	}
	sv_cache_unlock(c);
	if (!ok) {
		if (e)
			sv_secure_entry_release(e);
		return ret ? ret : -EFAULT;
	}
	sv_ctx_get(ctx);
	h->ctx = ctx;
	*out = h;
	return 0;
}

SV_EXPORT int sanverbs_unsecure_memory(struct sanverbs_secure *handle)
{
	uint32_t live = SV_SECURE_MAGIC;
	struct sv_cache_entry *e;
	struct sv_cache *c;
	bool do_free;
	int ret = sv_handle_check(handle, SV_SECURE_MAGIC);

	if (ret)
		return ret;
	/* Dead first: of two unsecures of one handle exactly one drops it. */
	if (!__atomic_compare_exchange_n(&handle->hdr.magic, &live, 0, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return -EINVAL;
	e = &handle->ent;
	c = e->cache;
	sv_ctx_put(handle->ctx);
	sv_cache_lock(c);
	e->refs = 0;
	do_free = sv_entry_drop(c, e, true);
	sv_cache_unlock(c);
	if (do_free)
		sv_secure_entry_release(e);
	return 0;
}
