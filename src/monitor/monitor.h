/* SPDX-License-Identifier: MIT */
/* Invalidation monitors: the contract between the registration cache and
 * each backend that learns about mapping changes (userfaultfd in
 * monitor/uffd.c, the kernel module's mmu_interval_notifier in
 * monitor/kmod.c). The cache never knows which backend it talks to: it
 * asks sv_monitor_open() (monitor/select.c) for one.
 *
 * A backend reports a change of [start, start + len) by calling the sink it
 * was created with. It must do so before the unmapping call of the
 * application returns (userfaultfd: the unmapper waits until its event is
 * read), or make still_valid() return false from that moment on (kmod:
 * generation counters in a shared page bumped by the notifier), so that no
 * lookup that starts after munmap() returns can hit a stale entry.
 */
#ifndef SV_MONITOR_H
#define SV_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sanverbs.h"

struct sv_monitor;

/* Called by a backend for every range whose mapping changed. May run on the
 * backend's own thread; must not call anything that unmaps memory. */
typedef void (*sv_invalidate_fn)(void *arg, uintptr_t start, size_t len);

/* Called by a backend that knows the new protection (PROT_* bits) of
 * [start, start + len): what needs a right @prot lacks is invalidated,
 * the rest stays. Same rules as the sink. */
typedef void (*sv_protect_fn)(void *arg, uintptr_t start, size_t len,
			      int prot);

/* Per-entry watch state; the backend may use the fields as it likes. */
struct sv_watch {
	uintptr_t start;
	size_t len;
	uint64_t token; /* backend-specific: slot index, generation, ... */
	uint64_t gen;
	/* PROT_* whose loss the holder must hear of (the cache entry's
	 * need); set before watch(). */
	unsigned char prot;
	/* Nothing will pin the range's pages (a secured range, not a
	 * registration): the backend cannot count on them being mapped. */
	bool unpinned;
};

struct sv_monitor_ops {
	const char *name;
	/* Called with the cache lock held (m->lock): true when an earlier
	 * watch() still covers @w's range, so watch() can be skipped (the
	 * backend sets w->token). NULL: the cache always calls watch(). */
	bool (*known)(struct sv_monitor *m, struct sv_watch *w);
	/* Start watching [start, start + len); 0 or a negative errno. */
	int (*watch)(struct sv_monitor *m, struct sv_watch *w);
	/* Stop watching; safe to call on a range already invalidated. NULL
	 * when there is nothing to undo (the cache then skips the overlap
	 * query that decides whether to call it). */
	void (*unwatch)(struct sv_monitor *m, struct sv_watch *w);
	/* O(1) check at hit time, or NULL when the backend invalidates
	 * synchronously through the sink. */
	bool (*still_valid)(struct sv_monitor *m, const struct sv_watch *w);
	/* For a backend whose sink can run late (the change is done, its
	 * report not read yet): asked at hit time about the watch with
	 * @token whose range starts in the page of @addr. 1: valid; 0:
	 * changed (the cache reports it as the sink would); -EAGAIN: a
	 * report is pending, the hit must not happen now. NULL: not needed. */
	int (*verify)(struct sv_monitor *m, uint64_t token, uintptr_t addr);
	/* For the admission rule (cache/admit.c): a number that changes
	 * when [start, end) may have been unmapped since it was last asked,
	 * so that new memory at a remembered address counts as new. May
	 * change for other reasons too; NULL: addresses alone are compared. */
	uint32_t (*unmap_epoch)(struct sv_monitor *m, uintptr_t start,
				uintptr_t end);
	void (*destroy)(struct sv_monitor *m);
};

struct sv_monitor {
	const struct sv_monitor_ops *ops;
	sv_invalidate_fn sink;
	void *sink_arg;
	/* Added for userfaultfd (zero for backends that do not use them).
	 * lock/unlock/trylock: set by the cache before the first watch();
	 * a backend whose events complete on read() takes them around
	 * read() and the sink calls, so the unmapper cannot return before
	 * the entries are gone. flags: SV_MONITOR_F_*, set by the backend at
	 * create time. */
	void (*lock)(void *sink_arg);
	void (*unlock)(void *sink_arg);
	/* lock() if it is free now; true if taken (then unlock() it) */
	bool (*trylock)(void *sink_arg);
	/* set by the cache with lock/unlock; NULL: the sink is called */
	sv_protect_fn protect;
	unsigned int flags;
	/* The fast form of still_valid(), for a backend whose watch is
	 * current while word w->token of an array still reads w->gen (kmod:
	 * the module's status words): the array, published at create time.
	 * A hit compares the word with the copy of the token and gen kept in
	 * the cache's hit index, so it need not touch the entry nor call
	 * through the ops; a mismatch means "ask still_valid()", which may
	 * revalidate and move w->gen. NULL for the others. */
	const volatile uint64_t *gen_words;
	uint64_t ngen_words;
};

/* userfaultfd opened with UFFD_USER_MODE_ONLY (unprivileged). */
#define SV_MONITOR_F_USER_MODE_ONLY (1u << 0)
/* Each watch() holds a backend resource of its own (kmod: a kernel slot
 * whose owner is the sv_watch): every watched entry must be unwatched when
 * it leaves the tree, even when other entries still cover its pages, or
 * the slot outlives the entry and later reports a range on its behalf. */
#define SV_MONITOR_F_WATCH_PER_ENTRY (1u << 1)
/* Watching memory not watched before costs system calls a registration
 * does not make (userfaultfd: a read of /proc/self/maps and a
 * UFFDIO_REGISTER that splits the VMA): SV_ADMIT_AUTO then caches a range
 * only on its second sight (cache/admit.c). */
#define SV_MONITOR_F_WATCH_SYSCALLS (1u << 2)

/* Constructors: 0 and *out set, or a negative errno saying why this backend
 * is unavailable (-ENOSYS/-EPERM/-ENODEV), so AUTO can fall back. */
int sv_monitor_uffd_create(sv_invalidate_fn sink, void *arg,
			   struct sv_monitor **out);
int sv_monitor_kmod_create(sv_invalidate_fn sink, void *arg,
			   struct sv_monitor **out);

/* The backend @want asks for: KMOD or UFFD exactly (their error if
 * unavailable), AUTO the first that works, NONE none. 0 with *out set (NULL
 * when no backend: AUTO with none available, or NONE) and *kind the backend
 * chosen; or the negative errno of the backend asked for. */
int sv_monitor_open(enum sanverbs_monitor want, sv_invalidate_fn sink,
		    void *arg, struct sv_monitor **out,
		    enum sanverbs_monitor *kind);

#endif
