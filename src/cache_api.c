/* SPDX-License-Identifier: MIT */
/* Public calls of the registration cache: counters, callback, explicit
 * invalidation (WSPMemoryRegistrationCacheCallback) and secure/unsecure
 * (MmSecureVirtualMemory / MmUnsecureVirtualMemory). */
#include <errno.h>
#include <stdlib.h>

#include "cache_priv.h"
#include "ctx.h"
#include "util.h"

/* The opaque public handle is the watch entry itself. */
struct sanverbs_secure {
	struct sv_cache_entry ent;
};

SV_EXPORT int sanverbs_cache_stats(struct sanverbs_ctx *ctx,
				   struct sanverbs_cache_stats *stats)
{
	struct sv_cache *c;

	if (!ctx || !stats || !ctx->cache)
		return -EINVAL;
	c = ctx->cache;
	sv_cache_lock(c);
	stats->hits = c->hits;
	stats->misses = c->misses;
	stats->evictions = c->evictions;
	stats->invalidations = c->invalidations;
	stats->uncached = c->uncached;
	stats->entries = c->entries;
	stats->bytes_pinned = c->bytes;
	stats->monitor = c->kind;
	stats->flags = c->mon && (c->mon->flags & SV_MONITOR_F_USER_MODE_ONLY) ?
			       SANVERBS_CACHE_F_UFFD_USER_MODE :
			       0;
	if (sv_mw_pool_on(c->mw))
		stats->flags |= SANVERBS_CACHE_F_REMOTE_MW;
	sv_cache_unlock(c);
	return 0;
}

SV_EXPORT int sanverbs_cache_set_callback(struct sanverbs_ctx *ctx,
					  sanverbs_cache_cb cb, void *arg)
{
	if (!ctx || !ctx->cache)
		return -EINVAL;
	sv_cache_lock(ctx->cache);
	ctx->cache->cb = cb;
	ctx->cache->cb_arg = arg;
	sv_cache_unlock(ctx->cache);
	return 0;
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

	if (!ctx || !ctx->cache || !sv_range_ok(addr, len))
		return -EINVAL;
	return drop_and_free(ctx->cache, s, s + len,
			     &ctx->cache->invalidations) ?
		       0 :
		       -ENOENT;
}

SV_EXPORT int sanverbs_cache_flush(struct sanverbs_ctx *ctx)
{
	if (!ctx || !ctx->cache)
		return -EINVAL;
	drop_and_free(ctx->cache, 0, UINTPTR_MAX, &ctx->cache->evictions);
	return 0;
}

SV_EXPORT int sanverbs_secure_memory(struct sanverbs_ctx *ctx, void *addr,
				     size_t len, struct sanverbs_secure **out)
{
	uintptr_t s = (uintptr_t)addr, pm;
	struct sanverbs_secure *h;
	struct sv_cache_entry *e;
	struct sv_cache *c;
	bool ok;
	int ret;

	if (out)
		*out = NULL;
	if (!ctx || !ctx->cache || !out || !sv_range_ok(addr, len))
		return -EINVAL;
	c = ctx->cache;
	if (!c->mon)
		return -EOPNOTSUPP;
	pm = c->page_mask;
	if (s + len > UINTPTR_MAX - pm)
		return -EFAULT;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	e = &h->ent;
	e->cache = c;
	e->kind = SV_ENT_SECURE;
	e->refs = 1;
	e->addr = s;
	e->len = len;
	e->node.start = s & ~pm;
	e->node.end = (s + len + pm) & ~pm;
	e->watch.start = e->node.start;
	e->watch.len = e->node.end - e->node.start;
	e->state = SV_ST_PENDING;

	/* In the tree before watching, as for registrations, so a change
	 * that races with the watch is seen. */
	sv_cache_lock(c);
	sv_all_add(c, e);
	sv_entry_insert(c, e);
	sv_cache_unlock(c);

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
		free(e);
		return ret ? ret : -EFAULT;
	}
	*out = h;
	return 0;
}

SV_EXPORT int sanverbs_unsecure_memory(struct sanverbs_secure *handle)
{
	struct sv_cache_entry *e;
	struct sv_cache *c;
	bool do_free;

	if (!handle)
		return -EINVAL;
	e = &handle->ent;
	c = e->cache;
	sv_cache_lock(c);
	e->refs = 0;
	do_free = sv_entry_drop(c, e, true);
	sv_cache_unlock(c);
	if (do_free)
		free(handle);
	return 0;
}
