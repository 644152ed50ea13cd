/* SPDX-License-Identifier: MIT */
/* What kind of mapping backs a range, read from /proc/self/maps. */
#ifndef SV_VMA_KIND_H
#define SV_VMA_KIND_H

#include <stddef.h>
#include <stdint.h>

/* 1 if every mapping over [start, start + len) is anonymous memory (private
 * anonymous, shared anonymous, anonymous huge pages), 0 if any part is a
 * file mapping (memfd, tmpfs, hugetlbfs, regular files), -EFAULT if part of
 * the range is not mapped, another negative errno if maps cannot be read.
 * Allocates nothing, so it may run where freeing memory could deadlock;
 * keeps one fd on /proc/self/maps open (re-opened after fork). */
int sv_range_anonymous(uintptr_t start, size_t len);

#define SV_RANGE_ANON (1u << 0)  /* every mapping is anonymous memory */
#define SV_RANGE_READ (1u << 1)  /* every mapping is readable */
#define SV_RANGE_WRITE (1u << 2) /* every mapping is writable */

/* 0 and *info set to the SV_RANGE_* bits true of all of [start, start +
 * len); -EFAULT if part of it is not mapped (checked with msync(), not
 * only read from maps, which another thread's changes can make look like
 * a hole); -EAGAIN if maps kept disagreeing with msync() (the caller
 * treats the range as unknown); another negative errno if maps cannot be
 * read. Allocates nothing. */
int sv_range_info(uintptr_t start, size_t len, unsigned int *info);

#endif
