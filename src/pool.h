/* SPDX-License-Identifier: MIT */
/* Buffer pools the library allocates itself: one memfd, mapped once for the
 * application, pinned (registered with the context's PD, or mlocked when
 * there is none). Because the pages belong to a file we own, they can be
 * mapped a second time anywhere: that is the MDL system address without
 * the kernel module. */
#ifndef SV_POOL_H
#define SV_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sanverbs.h"

/* Finds the live pool whose primary mapping holds all of [addr, addr+len)
 * and takes a reference that keeps its memfd open (sanverbs_pool_destroy
 * then fails with -EBUSY). NULL if no pool holds the whole range. */
struct sanverbs_pool *sv_pool_get_range(const void *addr, size_t len);
void sv_pool_put(struct sanverbs_pool *pool);

/* Maps the pool pages holding [addr, addr+len) again: a new shared mapping
 * of the memfd, readable, writable unless @nowrite, never executable, and
 * mlocked. Returns the byte that corresponds to @addr, or NULL with errno
 * set. *map_base / *map_len receive what to munmap later. */
void *sv_pool_alias(struct sanverbs_pool *pool, const void *addr, size_t len,
		    int nowrite, void **map_base, size_t *map_len);

/* The pool's mapping and registered access, for sanverbs_pool_region(). */
void sv_pool_span(const struct sanverbs_pool *pool, void **base,
		  uint64_t *size, uint32_t *access);

#endif
