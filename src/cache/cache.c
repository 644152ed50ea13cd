/* SPDX-License-Identifier: MIT */
/* The cache object: create (over a registration backend and a monitor) and
 * destroy, the counters and the application's invalidation callback. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctx.h"
#include "mr.h"
#include "priv.h"

int sv_cache_create_core(const struct sv_cache_params *p,
			 struct sv_cache **out)
{
	struct sv_cache *c;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rb = p->rb;
	c->max_entries = p->max_entries;
	c->max_bytes = p->max_bytes;
	c->merge = p->merge;
	c->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	c->page_shift = (unsigned int)__builtin_ctzl(c->page_mask + 1);
	/* grows with the entries (sv_cache_get) */
	if (sv_htab_init(&c->ht, 6, c->page_shift)) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->idle, NULL);
	sv_itree_init(&c->tree);
	sv_list_init(&c->lru);
	sv_list_init(&c->all);
	c->kind = SANVERBS_MONITOR_NONE;

	ret = sv_cache_events_start(c, p);
	if (ret)
		goto err;
	ret = sv_admit_init(c, p->admit != SV_ADMIT_AUTO ? p->admit :
			       c->mon && (c->mon->flags &
					  SV_MONITOR_F_WATCH_SYSCALLS) ?
			       SV_ADMIT_SECOND : SV_ADMIT_FIRST);
	if (ret) {
		sv_cache_events_stop(c);
		goto err;
	}
	*out = c;
	return 0;

err:
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	sv_htab_fini(&c->ht);
	free(c);
	return ret;
}

bool sv_cache_held(struct sv_cache *c)
{
	struct sv_cache_entry *x;
	struct sv_list *l;
	bool held = false;

	if (!c)
		return false;
	sv_cache_lock(c);
	/* every entry a handle can hold is on the list until it is freed,
	 * and freed only once nobody holds it */
	for (l = c->all.next; l != &c->all && !held; l = l->next) {
		x = container_of(l, struct sv_cache_entry, all_link);
		held = x->kind == SV_ENT_MR && sv_entry_held(x);
	}
	sv_cache_unlock(c);
	return held;
}

void sv_cache_destroy(struct sv_cache *c)
{
	struct sv_cache_entry *x, *list = NULL;
	struct sv_list *l;

	if (!c)
		return;
	/* No more events, then no more callbacks, then free the rest. */
	sv_cache_events_stop(c);
	/* Keys still bound hold their MRs: revoked before the MRs go. */
	if (c->rb->ops->unbind_all)
		c->rb->ops->unbind_all(c->rb);
	sv_cache_lock(c);
	while ((l = sv_list_first(&c->all))) {
		x = container_of(l, struct sv_cache_entry, all_link);
		sv_all_del(x);
		x->next = list;
		list = x;
	}
	sv_cache_unlock(c);
	sv_entries_free(c, list);
	sv_entry_spares_free(c);
	sv_admit_fini(c);
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	sv_htab_fini(&c->ht);
	c->rb->ops->destroy(c->rb);
	free(c);
}

SV_EXPORT int sanverbs_cache_stats(struct sanverbs_ctx *ctx,
				   struct sanverbs_cache_stats *stats)
{
	struct sv_cache *c;
	int ret = sv_ctx_check(ctx);

	if (ret)
		return ret;
	if (!stats || !ctx->cache)
		return -EINVAL;
	c = ctx->cache;
	sv_cache_lock(c);
	stats->hits = c->hits + sv_htab_hits(&c->ht);
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
	if (c->rb->ops->remote_on && c->rb->ops->remote_on(c->rb))
		stats->flags |= SANVERBS_CACHE_F_REMOTE_MW;
	sv_cache_unlock(c);
	return 0;
}

SV_EXPORT int sanverbs_cache_set_callback(struct sanverbs_ctx *ctx,
					  sanverbs_cache_cb cb, void *arg)
{
	int ret = sv_ctx_check(ctx);

	if (ret)
		return ret;
	if (!ctx->cache)
		return -EINVAL;
	sv_cache_lock(ctx->cache);
	ctx->cache->cb = cb;
	ctx->cache->cb_arg = arg;
	sv_cache_unlock(ctx->cache);
	return 0;
}
