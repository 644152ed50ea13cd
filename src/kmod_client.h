/* SPDX-License-Identifier: MIT */
/* The library's side of /dev/sanverbs (kmod/sanverbs_ioctl.h is the one
 * ioctl header both sides share), and its one owner: every other file goes
 * through here. Opening checks the module's major ABI version; features
 * added in a later minor version are asked for with sv_kmod_has(). Every
 * function returns 0 or a negative errno; -ENODEV means the module is not
 * loaded, which callers turn into a documented fallback or a clear
 * -EOPNOTSUPP. */
#ifndef SV_KMOD_CLIENT_H
#define SV_KMOD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmod/sanverbs_ioctl.h"

struct sv_kmod;

/* The process's shared file for memory objects (low-memory buffers,
 * system addresses), reference-counted: the first get opens it, the last put
 * closes it, so an idle process holds nothing that keeps the module from
 * unloading. Same errors as sv_kmod_open(). */
int sv_kmod_get(struct sv_kmod **out);
void sv_kmod_put(struct sv_kmod *k);

/* A file of its own, for a user that the module ties to one file (the
 * invalidation monitor: one per file): opens /dev/sanverbs (or
 * $SANVERBS_KMOD_DEV) and checks the ABI: -ENODEV if absent, -EPROTO if
 * the module's major version is not this library's (logged once). */
int sv_kmod_open(struct sv_kmod **out);
void sv_kmod_close(struct sv_kmod *k);

/* The module's minor ABI version, and whether it has the feature that
 * came with minor version @minor (a SANVERBS_MINOR_* value). */
unsigned int sv_kmod_minor(const struct sv_kmod *k);
bool sv_kmod_has(const struct sv_kmod *k, unsigned int minor);

/* Flags for sv_kmod_sysaddr_map(). */
#define SV_KMOD_MAP_NOWRITE 0x1u

/* Pins the pages under the caller's [addr, addr + len) in the kernel and maps
 * them again at a new library-owned address (never executable; read-only
 * with SV_KMOD_MAP_NOWRITE). *alias points at the byte that corresponds to
 * addr (same offset into the page). The alias and the pin stay valid after
 * the application unmaps addr, until sv_kmod_sysaddr_unmap(). */
int sv_kmod_sysaddr_map(struct sv_kmod *k, const void *addr, size_t len,
			unsigned int flags, void **alias, uint64_t *handle);
int sv_kmod_sysaddr_unmap(struct sv_kmod *k, void *alias, uint64_t handle);

/* Added by the kmod work (lowmem.c, monitor_kmod.c, the kmod tests). */

/* The open file, for the monitor's own ioctls, poll() and read(). */
int sv_kmod_fd(const struct sv_kmod *k);
/* Largest physically contiguous allocation the module can make, bytes. */
uint64_t sv_kmod_max_contig(const struct sv_kmod *k);
/* Allocates @len bytes (a page multiple) below @dma_mask and maps them
 * read/write at *addr; SANVERBS_ALLOC_* @flags. munmap() frees them.
 * @info (optional) receives what the module reported. */
int sv_kmod_alloc(struct sv_kmod *k, size_t len, uint64_t dma_mask,
		  unsigned int flags, void **addr, struct sanverbs_alloc *info);
/* Module-wide counters. */
int sv_kmod_stats(struct sv_kmod *k, struct sanverbs_stats *s);

#endif
