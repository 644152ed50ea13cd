/* SPDX-License-Identifier: MIT */
/* One registration kind for every post: a cached registration, an MDL's pin
 * and a pool all describe themselves as a struct sanverbs_region. */
#include <errno.h>

#include "pool.h"
#include "util.h"

SV_EXPORT int sanverbs_mr_region(const struct sanverbs_mr *mr,
				 struct sanverbs_region *out)
{
	if (!mr || !out)
		return -EINVAL;
	out->addr = sanverbs_mr_addr(mr);
	out->len = sanverbs_mr_length(mr);
	out->lkey = sanverbs_mr_lkey(mr);
	out->access = sanverbs_mr_access(mr);
	return 0;
}

SV_EXPORT int sanverbs_mdl_region(const struct sanverbs_mdl *mdl,
				  struct sanverbs_region *out)
{
	unsigned int fl = sanverbs_mdl_flags(mdl);

	if (!mdl || !out || !(fl & SANVERBS_MDL_PINNED))
		return -EINVAL;
	out->addr = sanverbs_mdl_va(mdl);
	out->len = sanverbs_mdl_byte_count(mdl);
	out->lkey = sanverbs_mdl_lkey(mdl);
	out->access = fl & SANVERBS_MDL_WRITE ? SANVERBS_ACCESS_LOCAL_WRITE : 0;
	return 0;
}

SV_EXPORT int sanverbs_pool_region(const struct sanverbs_pool *pool,
				   struct sanverbs_region *out)
{
	if (!pool || !out || !sanverbs_pool_lkey(pool))
		return -EINVAL;
	sv_pool_span(pool, &out->addr, &out->len, &out->access);
	out->lkey = sanverbs_pool_lkey(pool);
	return 0;
}
