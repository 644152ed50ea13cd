/* SPDX-License-Identifier: MIT */
/* The library's side of /dev/sanverbs (kmod/sanverbs_ioctl.h is the one
 * ioctl header both sides share). Opening checks the module's ABI version.
 * Every function returns 0 or a negative errno; -ENODEV means the module is
 * not loaded, which callers turn into a documented fallback or a clear
 * -EOPNOTSUPP. */
#ifndef SV_KMOD_CLIENT_H
#define SV_KMOD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "kmod/sanverbs_ioctl.h"

struct sv_kmod;

/* Opens /dev/sanverbs (or $SANVERBS_KMOD_DEV) and checks the ABI version:
 * -ENODEV if absent, -EPROTO on a version mismatch (logged once). */
int sv_kmod_open(struct sv_kmod **out);
void sv_kmod_close(struct sv_kmod *k);

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
