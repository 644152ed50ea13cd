/* SPDX-License-Identifier: MIT */
/* Public registration handles: each is one reference on a cache entry. */
#include <errno.h>
#include <stdlib.h>

#include "cache/cache.h"
#include "ctx.h"
#include "mr.h"
#include "util.h"

/* 0, -EINVAL (NULL or deregistered), -ECHILD (registered before a fork). */
static int mr_check(const struct sanverbs_mr *mr)
{
	return sv_handle_check(mr, SV_MR_MAGIC);
}

SV_EXPORT int sanverbs_mr_reg(struct sanverbs_ctx *ctx, void *addr, size_t len,
			      unsigned int access, struct sanverbs_mr **out)
{
	struct sanverbs_mr *mr;
	int ret;

	if (out)
		*out = NULL;
	ret = sv_ctx_check(ctx);
	if (ret)
		return ret;
	if (!out || !sv_range_ok(addr, len) ||
	    (access & ~SANVERBS_ACCESS_ALL))
		return -EINVAL;
	if (!ctx->cache)
		return -EINVAL;
	/* The cache counts the handle (sv_cache_held() at close). */
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
	uint32_t live = SV_MR_MAGIC;
	struct sanverbs_ctx *ctx;
	bool kept;
	int ret;

	ret = mr_check(mr);
	if (ret)
		return ret;
	ctx = mr->ctx;
	/* Dead before anything is dropped: of two racing or repeated
	 * deregistrations exactly one proceeds, so the handle cannot reach
	 * the spare list twice and be handed to two registrations. */
	if (!__atomic_compare_exchange_n(&mr->hdr.magic, &live, 0, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return -EINVAL;
	/* the cache keeps or retires the handle */
	ret = sv_cache_put(ctx->cache, mr, &kept);
	if (kept)
		__atomic_store_n(&mr->hdr.magic, SV_MR_MAGIC, __ATOMIC_RELEASE);
	return ret;
}

SV_EXPORT uint32_t sanverbs_mr_lkey(const struct sanverbs_mr *mr)
{
	return mr_check(mr) ? 0 : mr->lkey;
}

SV_EXPORT uint32_t sanverbs_mr_rkey(const struct sanverbs_mr *mr)
{
	return mr_check(mr) ? 0 : mr->rkey;
}

SV_EXPORT void *sanverbs_mr_addr(const struct sanverbs_mr *mr)
{
	return mr_check(mr) ? NULL : mr->addr;
}

SV_EXPORT size_t sanverbs_mr_length(const struct sanverbs_mr *mr)
{
	return mr_check(mr) ? 0 : mr->len;
}

SV_EXPORT unsigned int sanverbs_mr_access(const struct sanverbs_mr *mr)
{
	return mr_check(mr) ? 0 : mr->access;
}
