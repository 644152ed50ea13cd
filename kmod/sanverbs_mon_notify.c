// SPDX-License-Identifier: GPL-2.0
/*
 * The monitor's mmu_interval_notifier: which events a watch must report,
 * and the report itself (a generation bump the library reads with one load,
 * and an event queued for read()/poll()). It runs inside the mm's
 * invalidations, where it may not sleep: only the monitor's spinlock.
 */
#include <linux/mm.h>
#include <linux/rcupdate.h>

#include "sanverbs_mon.h"

/*
 * Whether an event can have taken something from the range: its pages
 * (every event but the protection and soft-dirty ones) or a right the
 * range may have had since it was watched (sv_range_mapped()). A
 * registration must not outlive either, so an mprotect() that drops write
 * (or all) access is an invalidation.
 *
 * PROTECTION_PAGE and SOFT_DIRTY only write-protect PTEs of pages that stay
 * mapped, and never change the VMA's rights: 6.1 and 6.12 raise them from
 * copy_page_range() (fork: pinned pages, which every registration's are,
 * are copied for the child and stay mapped writable in the parent; an
 * unpinned page that the parent later copies on write is reported then, by
 * the fault's CLEAR), page_vma_mkclean_one() and wp_clean_pre_vma()
 * (writeback and dirty tracking: the next fault restores write access to
 * the same page) and clear_refs (soft-dirty). They are never reported, on
 * any kernel: since 6.3 the range no longer names the VMA, and reporting
 * them there made every fork() drop the parent's watches, and, coming
 * after a THP split's CLEAR in the same fork, made SANVERBS_IOC_REVALIDATE
 * refuse the split.
 *
 * PROTECTION_VMA is mprotect() (also NUMA hinting and userfaultfd
 * write-protect, which keep the rights). It is compared with the flags of
 * the VMA, which mprotect_fixup() has already changed when it calls the
 * notifier, so an mprotect() that adds rights is not reported. Before 6.3
 * the range names the VMA; later the part of the range that overlaps the
 * watch is looked up. Every caller holds the mmap lock or the VMA's lock,
 * and VMAs are freed after an RCU grace period; with no VMA there, every
 * right counts as lost.
 */
static bool sv_event_relevant(const struct sv_mwatch *w,
			      const struct mmu_notifier_range *range)
{
	switch (range->event) {
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return false;
	case MMU_NOTIFY_PROTECTION_VMA:
		break;
	default:
		return true;
	}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	if (range->vma)
		return READ_ONCE(w->prot) &
		       ~(READ_ONCE(range->vma->vm_flags) & SV_PROT_MASK);
	return true;
#else
	{
		struct vm_area_struct *vma;
		unsigned long flags = 0;

		rcu_read_lock();
		vma = vma_lookup(range->mm, max_t(u64, range->start, w->start));
		if (vma)
			flags = READ_ONCE(vma->vm_flags);
		rcu_read_unlock();
		return READ_ONCE(w->prot) & ~(flags & SV_PROT_MASK);
	}
#endif
}

/*
 * fork() of a pinned, PMD-mapped THP splits the pmd (copy_huge_pmd() ->
 * __split_huge_pmd()), which raises MMU_NOTIFY_CLEAR for exactly that PMD
 * block although the same pages stay mapped, now by PTEs; so do partial
 * zaps next to a THP and reclaim. A zap of exactly the block looks the
 * same from here, so the event is still reported (the generation moves),
 * but the huge page's pfn is recorded for SANVERBS_IOC_REVALIDATE to
 * compare with what is mapped once the change is over. A range over
 * several THPs gets one such event per block from the same fork(), so
 * every one since WATCH is kept, not only the last. The caller of the
 * notifier holds the locks that keep these page tables alive (mmap lock or
 * the rmap locks); only one pmd is read.
 */
static unsigned long sv_huge_pfn(const struct mmu_notifier_range *range)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	unsigned long addr = range->start;
	pgd_t *pgdp;
	p4d_t *p4dp;
	pud_t *pudp, pud;
	pmd_t pmd;

	if (range->event != MMU_NOTIFY_CLEAR || (addr & ~PMD_MASK) ||
	    range->end - addr != PMD_SIZE)
		return 0;
	pgdp = pgd_offset(range->mm, addr);
	if (pgd_none(READ_ONCE(*pgdp)))
		return 0;
	p4dp = p4d_offset(pgdp, addr);
	if (p4d_none(READ_ONCE(*p4dp)))
		return 0;
	pudp = pud_offset(p4dp, addr);
	pud = READ_ONCE(*pudp);
	if (pud_none(pud) || pud_bad(pud))
		return 0;
	pmd = READ_ONCE(*pmd_offset(pudp, addr));
	if (!pmd_present(pmd) || !pmd_trans_huge(pmd))
		return 0;
	return pmd_pfn(pmd);
#else
	return 0;
#endif
}

u64 sv_mon_bump(struct sv_mon *mon, u32 slot)
{
	u64 gen = mon->status[slot] + 1;

	WRITE_ONCE(mon->status[slot], gen);
	return gen;
}

static void sv_mon_queue(struct sv_mon *mon, struct sv_mwatch *w, u64 start,
			 u64 end, u64 gen, enum mmu_notifier_event kind,
			 u32 flags)
{
	struct sanverbs_mon_event *ev;

	if (mon->count == SV_MON_RING) {
		mon->overflow = true;
		return;
	}
	ev = &mon->ring[(mon->head + mon->count) % SV_MON_RING];
	ev->addr = start;
	ev->len = end - start;
	ev->slot = w->slot;
	ev->flags = flags | ((u32)kind & 0xffu) << SANVERBS_EVENT_KIND_SHIFT;
	ev->gen = gen;
	mon->count++;
}

static bool sv_mon_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct sv_mwatch *w = container_of(mni, struct sv_mwatch, mni);
	struct sv_mon *mon = w->mon;
	bool relevant = sv_event_relevant(w, range);
	unsigned long pfn = 0;
	u64 start, end, gen;

	if (relevant)
		pfn = sv_huge_pfn(range);
	/* Only a spinlock here: this may run where sleeping is forbidden. */
	spin_lock(&mon->qlock);
	mmu_interval_set_seq(mni, cur_seq);
	if (relevant) {
		start = max_t(u64, range->start, w->start);
		end = min_t(u64, range->end, w->start + w->len);
		gen = sv_mon_bump(mon, w->slot);
		if (pfn && w->nsplits < SV_SPLITS) {
			w->splits[w->nsplits].block = range->start;
			w->splits[w->nsplits].pfn = pfn;
			w->nsplits++;
		} else {
			w->nsplits = SV_SPLITS_LOST;
		}
		sv_mon_queue(mon, w, start, end, gen, range->event,
			     pfn ? SANVERBS_EVENT_MAYBE_SPLIT : 0);
		atomic64_inc(&sv_counters.invalidations);
		wake_up_interruptible(&mon->wq);
	}
	spin_unlock(&mon->qlock);
	return true;
}

const struct mmu_interval_notifier_ops sv_mon_ops = {
	.invalidate = sv_mon_invalidate,
};
