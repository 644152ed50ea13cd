/* SPDX-License-Identifier: MIT */
/* Type-1 memory windows for remote-access registrations: the pages of a
 * remote registration stay in a cached local MR (registered with MW_BIND,
 * no remote bits) and the peer is handed the rkey of a window bound to
 * exactly the caller's range; deregistering unbinds it, so the rkey dies
 * while the pages stay cached. Binds are work requests: they go through
 * one internal RC QP per context, connected to itself, serialized by the
 * pool's own mutex (never the cache lock).
 *
 * The MR under a window must span exactly the window: rxe checks an access
 * through a window against the bounds of the window's MR only (rxe_resp.c
 * check_rkey -> mr_check_range(mr); rxe_lookup_mw never looks at the
 * window's addr/length), so a window over part of a page-hull MR would let
 * the peer reach the whole hull. The cache registers such entries over the
 * exact range and hits them only with that range (docs/cache.md). */
#ifndef SV_CACHE_MW_H
#define SV_CACHE_MW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "lib/list.h"

struct sanverbs_ctx;
struct sv_mw_pool;

/* One window; lives in the pool or with the handle it is bound for. */
struct sv_win {
	struct ibv_mw *mw;
	struct sv_list link; /* the pool's bound list */
	struct sv_win *next; /* the pool's free list */
};

/* Decides, once, whether @ctx's remote registrations use windows:
 * SANVERBS_CACHE_MW (default on), the device's max_mw and MW capability.
 * Never fails: *out is NULL when windows are off (today's behaviour). */
void sv_mw_pool_create(struct sanverbs_ctx *ctx, struct sv_mw_pool **out);
/* Deallocates every window, bound or pooled (dealloc of a bound window
 * releases its MR), then the bind QP. Before the MRs are deregistered. */
void sv_mw_pool_destroy(struct sv_mw_pool *p);

/* True while windows are in use: builds the bind QP on the first call; if
 * that fails, windows are off for good (and this returns false). */
bool sv_mw_pool_ready(struct sv_mw_pool *p);
/* Whether windows are (still) on, without building anything. */
bool sv_mw_pool_on(const struct sv_mw_pool *p);

/* Binds a window over exactly [addr, addr + len) of @mr with @ibv_remote
 * (IBV_ACCESS_REMOTE_* only) and waits for the completion. 0 with *out,
 * or a negative errno (-ETIMEDOUT when the device never completes). */
int sv_mw_bind(struct sv_mw_pool *p, struct ibv_mr *mr, uintptr_t addr,
	       size_t len, int ibv_remote, struct sv_win **out);
/* Revokes @w's rkey and waits until the device refuses it (unbind; if the
 * unbind fails, the window is deallocated instead), then pools @w. 0, or a
 * negative errno if the rkey could not be revoked: @w is then left bound
 * and the caller must keep @mr registered. */
int sv_mw_unbind(struct sv_mw_pool *p, struct sv_win *w, struct ibv_mr *mr);

#endif
