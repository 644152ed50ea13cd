/* SPDX-License-Identifier: MIT */
/* The mapping changes userfaultfd does not report, seen by defining
 * mprotect(), pkey_mprotect() and shmat() in front of libc's (see
 * uffd_hooks.c and docs/cache.md). */
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
};

/* True when the process's default mprotect() and shmat() are the ones
 * below, so every change made through them is reported. */
bool sv_uffd_hooks_work(void);
void sv_uffd_hook_add(struct sv_uffd_hook *h);
void sv_uffd_hook_del(struct sv_uffd_hook *h);

#endif
