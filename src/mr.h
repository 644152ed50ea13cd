/* SPDX-License-Identifier: MIT */
/* The public registration handle and the access-mask conversions: types
 * and inline helpers only, shared by mr.c, the cache and the pools. */
#ifndef SV_MR_H
#define SV_MR_H

#include <stdint.h>

#include <infiniband/verbs.h>

#include "handle.h"
#include "sanverbs.h"

struct sv_cache_entry;
struct sv_win;

/* Internal access bit, above the public ones: the entry's MR may carry
 * memory windows (IBV_ACCESS_MW_BIND). Never in a handle's access. */
#define SV_ACCESS_MW_BIND (1u << 8)

#define SV_MR_MAGIC 0x53564d52u /* "SVMR" */

/* Registration handles: type-stable (handle.h). Live while the caller
 * holds one; dead (magic 0) on a cache's spare list. */
extern struct sv_handle_type sv_mr_type;

struct sanverbs_mr {
	struct sv_hdr hdr; /* handle.h: first */
	struct sanverbs_ctx *ctx;
	void *addr;
	size_t len;
	unsigned int access;
	struct ibv_mr *ibmr; /* the cache entry's MR, shared by its holders */
	struct sv_cache_entry *entry;
	/* The hit-index record the reference was taken on (cache/htab.h):
	 * the put drops it there, without a lock or a probe. NULL: the
	 * reference is the entry's own, dropped under the cache lock. */
	struct sv_hrec *rec;
	/* Remote access through a memory window over the entry's local MR
	 * (cache/mw.h): the peer's key is the window's, @rkey. NULL: the
	 * MR's own rkey (local-only, or windows off). */
	struct sv_win *win;
	/* Copied at registration (from the hit-index slot on a hit) so that
	 * the key accessors do not read the ibv_mr, a cold line per hit in a
	 * large cache. rkey: the window's when @win is set. */
	uint32_t lkey, rkey;
};

/* IBV_ACCESS_* flags for a validated sanverbs access mask. Inline here, so
 * the cache (which fills handles) needs mr.h's types only, never mr.c. */
static inline int sv_access_to_ibv(unsigned int access)
{
	int flags = 0;

	if (access & SANVERBS_ACCESS_LOCAL_WRITE)
		flags |= IBV_ACCESS_LOCAL_WRITE;
	/* Verbs rejects REMOTE_WRITE without LOCAL_WRITE. */
	if (access & SANVERBS_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
	if (access & SANVERBS_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	if (access & SV_ACCESS_MW_BIND)
		flags |= IBV_ACCESS_MW_BIND;
	return flags;
}

/* The access a registration really grants (REMOTE_WRITE adds LOCAL_WRITE). */
static inline unsigned int sv_access_normalize(unsigned int access)
{
	if (access & SANVERBS_ACCESS_REMOTE_WRITE)
		access |= SANVERBS_ACCESS_LOCAL_WRITE;
	return access;
}

#endif
