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

#endif
