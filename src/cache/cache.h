/* SPDX-License-Identifier: MIT */
/* The registration cache as mr.c and ctx.c see it: create and destroy the
 * cache of a context, get a referenced entry covering a range with at least
 * some access, put it back. Everything else is private to src/cache/
 * (priv.h). */
#ifndef SV_CACHE_H
#define SV_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct sanverbs_ctx;
struct sv_cache;
struct sanverbs_mr;

/* Creates the cache of @ctx with the monitor its attributes ask for. */
int sv_cache_create(struct sanverbs_ctx *ctx, struct sv_cache **out);
/* Releases every entry, stops the monitor and the worker. */
void sv_cache_destroy(struct sv_cache *c);
/* Whether a registration handle still holds an entry of @c. The cache,
 * not the context, answers this for sanverbs_ctx_close(): a count in the
 * context would be written by every hit and every put. */
bool sv_cache_held(struct sv_cache *c);

/* A handle holding one reference on an entry whose ibmr covers
 * [addr, addr + len) with at least @access (and exactly the remote bits of
 * @access): ->entry, ->eaddr, ->ibmr and ->access are set, the caller
 * fills the rest. Handles come
 * from a spare list taken under the same lock as the hit, so a hit does not
 * allocate. 0 or a negative errno. */
int sv_cache_get(struct sv_cache *c, void *addr, size_t len,
		 unsigned int access, struct sanverbs_mr **out);
/* Drops @mr's reference and takes the handle back (kept or retired); 0 or
 * the negative errno of ibv_dereg_mr. *@kept is true when the handle was
 * not taken (a remote key that could not be revoked): it is still the
 * caller's. */
int sv_cache_put(struct sv_cache *c, struct sanverbs_mr *mr, bool *kept);

#endif
