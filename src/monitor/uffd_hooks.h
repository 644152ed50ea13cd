/* SPDX-License-Identifier: MIT */
/* The mapping changes userfaultfd does not report, seen by defining
 * mprotect(), pkey_mprotect() and shmat() in front of libc's, and munmap(),
 * whose event the monitor can spare the unmapper (see uffd_hooks.c and
 * docs/cache.md). */
#ifndef SV_UFFD_HOOKS_H
#define SV_UFFD_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sv_uffd_hook {
	struct sv_uffd_hook *next;
	/* [start, start + len) now has protection @prot (PROT_*), or with
	 * @replaced its VMAs were replaced by others. Runs on the thread
	 * that made the change, before its call returns, with no library
	 * lock held. */
	void (*changed)(struct sv_uffd_hook *h, uintptr_t start, size_t len,
			int prot, bool replaced);
	/* [start, start + len) is about to be unmapped by the calling
	 * thread. Optional: userfaultfd still reports the unmap of whatever
	 * stays registered, so a hook may do nothing (no lock to be had). */
	void (*unmapping)(struct sv_uffd_hook *h, uintptr_t start,
			  size_t len);
};

/* True when the process's default mprotect() and shmat() are the ones
 * below, so every change made through them is reported. */
bool sv_uffd_hooks_work(void);
void sv_uffd_hook_add(struct sv_uffd_hook *h);
void sv_uffd_hook_del(struct sv_uffd_hook *h);

/* A number that changes whenever part of [start, end) is unmapped through
 * munmap() while a monitor is hooked (and, rarely, when other ranges are:
 * it is kept per 2 MiB of address space, aliased). Only for the admission
 * rule, which must tell a range seen again from new memory at the same
 * address; it says nothing about what is mapped. */
uint32_t sv_uffd_unmap_epoch(uintptr_t start, uintptr_t end);

#endif
