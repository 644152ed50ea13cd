/* SPDX-License-Identifier: GPL-2.0 */
/* The invalidation monitor's state, shared by its ioctls and its notifier. */
#ifndef SANVERBS_MON_H
#define SANVERBS_MON_H

#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "sanverbs_priv.h"

#define SV_MON_RING	4096u
/* One fork() splits each pinned THP of a range: room for an 8 MiB range. */
#define SV_SPLITS	4u
#define SV_SPLITS_LOST	U32_MAX
#define SV_MON_BATCH	16u
#define SV_MON_RING_BYTES (SV_MON_RING * sizeof(struct sanverbs_mon_event))
/* Charged to the caller's memcg; over its limit, -ENOMEM, not the OOM killer. */
#define SV_MON_GFP	(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

struct sv_mon {
	struct sv_file *owner;
	struct sv_charge charge;	/* status, ring and every watch */
	struct mm_struct *mm;		/* mmgrab()ed at MON_INIT */
	u64 *status;			/* __vmalloc(), mapped read-only */
	u32 nslots;
	size_t status_len;
	struct mutex lock;		/* watch/unwatch; never in callbacks */
	struct xarray watches;		/* slot -> sv_mwatch */
	spinlock_t qlock;		/* ring, overflow, status writes */
	struct sanverbs_mon_event *ring;
	u32 head;
	u32 count;
	bool overflow;
	wait_queue_head_t wq;
};

struct sv_mwatch {
	struct mmu_interval_notifier mni;
	struct sv_mon *mon;
	u32 slot;
	u64 start;
	u64 len;
	/*
	 * VM_READ/VM_WRITE: every right the range may have had since WATCH
	 * (sv_range_mapped()), so that losing any of them is reported.
	 */
	unsigned long prot;
	/*
	 * Every change since WATCH, as long as each was a possible huge pmd
	 * split (qlock): see sv_huge_pfn(). SV_SPLITS_LOST once any other
	 * change, or more possible splits than fit, happened.
	 */
	u32 nsplits;
	struct {
		unsigned long block;
		unsigned long pfn;
	} splits[SV_SPLITS];
};

/* What one watch counts against the budgets, on top of the monitor. */
#define SV_WATCH_COST	roundup_pow_of_two(sizeof(struct sv_mwatch))

#define SV_PROT_MASK	(VM_READ | VM_WRITE)

/* The notifier every watch is inserted with (sanverbs_mon_notify.c). */
extern const struct mmu_interval_notifier_ops sv_mon_ops;

/* A new generation for @slot, as an invalidation makes it. qlock held. */
u64 sv_mon_bump(struct sv_mon *mon, u32 slot);

#endif /* SANVERBS_MON_H */
