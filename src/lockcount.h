/* SPDX-License-Identifier: MIT */
/* Counted, process-wide page locks. mlock/munlock are not counted: one
 * munlock would unlock pages another MDL still needs (the seed requires a
 * page described by two MDLs to stay locked until the last unlock). This
 * keeps a count per page and calls mlock on 0->1 and munlock on 1->0. */
#ifndef SV_LOCKCOUNT_H
#define SV_LOCKCOUNT_H

#include <stddef.h>
#include <stdint.h>

/* Locks every page overlapping [addr, addr + len). All or nothing: on
 * failure no count changed. 0, -EINVAL, -ENOMEM (bookkeeping or mlock over
 * RLIMIT_MEMLOCK, or part of the range unmapped: mlock cannot tell), -EAGAIN. */
int sv_lock_pages(const void *addr, size_t len);

/* Drops one count on every page of the range; pages reaching 0 are
 * munlocked. -EINVAL if some page has no count (nothing is changed then). */
int sv_unlock_pages(const void *addr, size_t len);

/* Current count of the page holding @addr (0 if not locked by us). */
unsigned long sv_lock_count(const void *addr);

/* Seam for unit tests: replaces mlock/munlock (NULL restores them). */
struct sv_lock_ops {
	int (*lock)(const void *addr, size_t len);
	int (*unlock)(const void *addr, size_t len);
};
void sv_lock_set_ops(const struct sv_lock_ops *ops);

#endif
