/* SPDX-License-Identifier: MIT */
/* Public registration handles: each is one reference on a cache entry. */
#include <errno.h>
#include <stdlib.h>

#include "cache/cache.h"
#include "ctx.h"
#include "mr.h"
#include "util.h"

SV_EXPORT int sanverbs_mr_reg(struct sanverbs_ctx *ctx, void *addr, size_t len,
			      unsigned int access, struct sanverbs_mr **out)
{
	struct sanverbs_mr *mr;
	int ret;

	if (out)
		*out = NULL;
	if (!ctx || !out || !sv_range_ok(addr, len) ||
	    (access & ~SANVERBS_ACCESS_ALL))
		return -EINVAL;
	if (!ctx->cache)
		return -EINVAL;
	ret = sv_cache_get(ctx->cache, addr, len, access, &mr);
	if (ret)
		return ret;
	mr->ctx = ctx;
	mr->addr = addr;
	mr->len = len;
	*out = mr;
	return 0;
}

SV_EXPORT int sanverbs_mr_dereg(struct sanverbs_mr *mr)
{
	if (!mr)
		return -EINVAL;
	/* the cache keeps or frees the handle */
	return sv_cache_put(mr->ctx->cache, mr);
}

SV_EXPORT uint32_t sanverbs_mr_lkey(const struct sanverbs_mr *mr)
{
	return mr ? mr->lkey : 0;
}

SV_EXPORT uint32_t sanverbs_mr_rkey(const struct sanverbs_mr *mr)
{
	return mr ? mr->rkey : 0;
}

SV_EXPORT void *sanverbs_mr_addr(const struct sanverbs_mr *mr)
{
	return mr ? mr->addr : NULL;
}

SV_EXPORT size_t sanverbs_mr_length(const struct sanverbs_mr *mr)
{
	return mr ? mr->len : 0;
}

SV_EXPORT unsigned int sanverbs_mr_access(const struct sanverbs_mr *mr)
{
	return mr ? mr->access : 0;
}
