/* SPDX-License-Identifier: MIT */
/* The device context as the engine's modules see it. Kept apart from the
 * public header so the handle stays opaque to applications. */
#ifndef SV_CTX_H
#define SV_CTX_H

#include <stdbool.h>

#include <infiniband/verbs.h>

#include "handle.h"
#include "lib/thread.h"
#include "sanverbs.h"

struct sv_cache;

#define SV_CTX_MAGIC 0x53564358u /* "SVCX" */
#define SV_CTX_USER_SHARDS 16

struct sanverbs_ctx {
	struct sv_hdr hdr; /* handle.h: first */
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	/* sanverbs_ctx_open(): the context opened the device and allocated
	 * the PD and releases both; sanverbs_ctx_attach(): they are the
	 * caller's and outlive the context. */
	bool owns_pd;
	uint8_t port;
	struct sanverbs_ctx_attr attr;
	/* Owned by cache.c; NULL until the cache is created. */
	struct sv_cache *cache;
	/* Handles made through this context that hold its verbs objects
	 * (secured ranges, pinned MDLs, pools; registrations are the
	 * cache's to count, sv_cache_held()): close waits for none with
	 * -EBUSY instead of leaving them dangling. A count per thread
	 * group, each on its own cache line, so that MDLs locked and
	 * unlocked on many threads do not all write one line. A handle may
	 * be dropped by another thread than took it, so only the sum means
	 * anything. */
	struct {
		long n;
		char pad[64 - sizeof(long)];
	} users[SV_CTX_USER_SHARDS];
};

static inline void sv_ctx_get(struct sanverbs_ctx *ctx)
{
	__atomic_add_fetch(&ctx->users[sv_thread_slot(SV_CTX_USER_SHARDS)].n, 1,
			   __ATOMIC_RELAXED);
}

static inline void sv_ctx_put(struct sanverbs_ctx *ctx)
{
	__atomic_sub_fetch(&ctx->users[sv_thread_slot(SV_CTX_USER_SHARDS)].n, 1,
			   __ATOMIC_RELAXED);
}

/* 0 when @ctx is open and was opened by this process; -EINVAL for NULL
 * or a closed context; -ECHILD in a child of fork(): the device, its
 * protection domain and the cache belong to the parent, and the kernel
 * refuses a child's verbs commands on them anyway. */
static inline int sv_ctx_check(const struct sanverbs_ctx *ctx)
{
	return sv_handle_check(ctx, SV_CTX_MAGIC);
}

#endif
