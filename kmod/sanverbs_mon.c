// SPDX-License-Identifier: GPL-2.0
/*
 * The exact invalidation monitor: one mmu_interval_notifier per watched
 * range. An invalidation bumps the range's generation counter in a status
 * array the library maps read-only (so a cache hit is checked with one load,
 * no syscall: kdreg2's design) and queues an event for read()/poll().
 */
#include <linux/log2.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "sanverbs_mon.h"

long sv_ioctl_mon_init(struct sv_file *f, void __user *arg)
{
	struct sanverbs_mon_init mi;
	struct sv_mon *mon;
	int ret;

	if (copy_from_user(&mi, arg, sizeof(mi)))
		return -EFAULT;
	if (!mi.slots || mi.slots > SANVERBS_MON_MAX_SLOTS || mi.reserved)
		return -EINVAL;
	if (!current->mm)
		return -EINVAL;

	mon = kzalloc(sizeof(*mon), GFP_KERNEL_ACCOUNT);
	if (!mon)
		return -ENOMEM;
	mon->owner = f;
	mon->nslots = mi.slots;
	mon->status_len = PAGE_ALIGN((size_t)mi.slots * sizeof(u64));
	ret = sv_charge(f, &mon->charge, mon->status_len + SV_MON_RING_BYTES,
			false);
	if (ret)
		goto err_free;
	ret = -ENOMEM;
	/* Not vmalloc_user(): that cannot charge the caller's memcg. */
	mon->status = __vmalloc(mon->status_len, SV_MON_GFP | __GFP_ZERO);
	mon->ring = kvcalloc(SV_MON_RING, sizeof(*mon->ring), SV_MON_GFP);
	if (!mon->status || !mon->ring)
		goto err;
	mutex_init(&mon->lock);
	xa_init_flags(&mon->watches, XA_FLAGS_ALLOC);
	spin_lock_init(&mon->qlock);
	init_waitqueue_head(&mon->wq);

	mutex_lock(&f->lock);
	if (f->mon) {
		mutex_unlock(&f->lock);
		ret = -EBUSY;
		goto err;
	}
	mon->mm = current->mm;
	mmgrab(mon->mm);
	/* Pairs with the lockless reads of f->mon in read/poll/watch. */
	smp_store_release(&f->mon, mon);
	mutex_unlock(&f->lock);

	mi.status_len = mon->status_len;
	if (copy_to_user(arg, &mi, sizeof(mi)))
		return -EFAULT;	/* the monitor stays; the file owns it */
	return 0;

err:
	kvfree(mon->ring);
	vfree(mon->status);
	sv_uncharge(f, &mon->charge);
err_free:
	kfree(mon);
	return ret;
}

static struct sv_mon *sv_mon_get(struct sv_file *f)
{
	/* Pairs with the smp_store_release() in MON_INIT. */
	return smp_load_acquire(&f->mon);
}

/*
 * MmSecureVirtualMemory of a hole is an error, not a silent no-op. Also
 * returns, for sv_event_relevant(), every right a VMA of the range has or
 * may be given (VM_MAYREAD/VM_MAYWRITE, which mprotect() cannot exceed).
 * Not just the rights it has now: an mprotect() that adds rights to
 * memory without page tables raises no notifier event at all
 * (change_pmd_range() calls it only for populated pmds), so a watch made
 * while the range was read-only could not learn that it became writable,
 * and the registration that then pinned it writable would outlive the
 * next downgrade unreported. Counting a right the VMA may gain costs only
 * spurious reports (fork, NUMA hinting) for ranges that are read-only but
 * could be made writable.
 */
static int sv_range_mapped(struct mm_struct *mm, u64 start, u64 len,
			   unsigned long *prot)
{
	struct vm_area_struct *vma;
	u64 addr = start;
	int ret = 0;

	*prot = SV_PROT_MASK;
	mmap_read_lock(mm);
	while (addr < start + len) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -EFAULT;
			break;
		}
		*prot &= vma->vm_flags |
			 (vma->vm_flags & VM_MAYREAD ? VM_READ : 0) |
			 (vma->vm_flags & VM_MAYWRITE ? VM_WRITE : 0);
		addr = vma->vm_end;
	}
	mmap_read_unlock(mm);
	return ret;
}

long sv_ioctl_watch(struct sv_file *f, void __user *arg)
{
	struct sv_mon *mon = sv_mon_get(f);
	struct sanverbs_watch wa;
	struct sv_mwatch *w;
	unsigned long prot;
	u32 slot;
	int ret;

	if (!mon)
		return -EINVAL;
	if (copy_from_user(&wa, arg, sizeof(wa)))
		return -EFAULT;
	if (!wa.len || wa.addr + wa.len < wa.addr || wa.reserved)
		return -EINVAL;
	if (!access_ok((void __user *)(uintptr_t)wa.addr, wa.len))
		return -EFAULT;
	/* A notifier watches one mm: the one that set the monitor up. */
	if (current->mm != mon->mm)
		return -EINVAL;

	w = kzalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);
	if (!w)
		return -ENOMEM;
	w->mon = mon;
	w->start = wa.addr;
	w->len = wa.len;
	/* Until the VMAs are known, any lost right is reported. */
	w->prot = SV_PROT_MASK;

	mutex_lock(&mon->lock);
	ret = sv_charge_add(mon->owner, &mon->charge, SV_WATCH_COST);
	if (ret)
		goto err_unlock;
	ret = xa_alloc(&mon->watches, &slot, w, XA_LIMIT(0, mon->nslots - 1),
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		ret = ret == -EBUSY ? -ENOSPC : ret;
		goto err_uncharge;
	}
	w->slot = slot;
	/*
	 * Read the generation before the notifier exists: a change racing
	 * with the insertion bumps it past this value, so the caller sees
	 * the range as stale rather than missing the change.
	 */
	wa.gen = READ_ONCE(mon->status[slot]);
	ret = mmu_interval_notifier_insert(&w->mni, mon->mm, wa.addr, wa.len,
					   &sv_mon_ops);
	if (ret) {
		xa_erase(&mon->watches, slot);
		goto err_uncharge;
	}
	/*
	 * Inserted while another invalidation of this mm is running (another
	 * thread's munmap, khugepaged, reclaim), the notifier waits on the
	 * deferred list and misses every invalidation that starts before
	 * that one ends. Wait for it here: once WATCH returns the notifier is
	 * in the tree, and whatever changed meanwhile has completed, so the
	 * caller's pinning after WATCH sees the new pages.
	 */
	mmu_interval_read_begin(&w->mni);
	/*
	 * Checked after the insertion so that an unmap racing with the check
	 * is reported rather than slipping between the two.
	 */
	ret = sv_range_mapped(mon->mm, wa.addr, wa.len, &prot);
	if (ret) {
		mmu_interval_notifier_remove(&w->mni);
		xa_erase(&mon->watches, slot);
		goto err_uncharge;
	}
	/*
	 * A right dropped since the look-up was reported against the full
	 * mask above; one dropped from now on is reported against this.
	 */
	WRITE_ONCE(w->prot, prot);
	atomic64_inc(&sv_counters.watches);
	mutex_unlock(&mon->lock);

	wa.slot = slot;
	if (copy_to_user(arg, &wa, sizeof(wa)))
		return -EFAULT;	/* still watched; UNWATCH or close ends it */
	return 0;

err_uncharge:
	sv_charge_sub(mon->owner, &mon->charge, SV_WATCH_COST);
err_unlock:
	mutex_unlock(&mon->lock);
	kfree(w);
	return ret;
}

static void sv_mon_remove(struct sv_mon *mon, struct sv_mwatch *w)
{
	/* Sleeps until a running invalidate() of this watch has finished. */
	mmu_interval_notifier_remove(&w->mni);
	spin_lock(&mon->qlock);
	/* A reused slot must not look valid to a holder of the old value. */
	sv_mon_bump(mon, w->slot);
	spin_unlock(&mon->qlock);
	atomic64_dec(&sv_counters.watches);
	sv_charge_sub(mon->owner, &mon->charge, SV_WATCH_COST);
	kfree(w);
}

long sv_ioctl_unwatch(struct sv_file *f, void __user *arg)
{
	struct sv_mon *mon = sv_mon_get(f);
	struct sanverbs_watch wa;
	struct sv_mwatch *w;

	if (!mon)
		return -EINVAL;
	if (copy_from_user(&wa, arg, sizeof(wa)))
		return -EFAULT;
	if (wa.slot >= mon->nslots || wa.reserved)
		return -EINVAL;
	mutex_lock(&mon->lock);
	w = xa_erase(&mon->watches, wa.slot);
	if (w)
		sv_mon_remove(mon, w);
	mutex_unlock(&mon->lock);
	return w ? 0 : -EINVAL;
}

/*
 * Whether the pages now mapped in the watch's part of one recorded block
 * are the huge page recorded at its event, one for one.
 * get_user_pages_fast_only() neither faults nor takes the mmap lock, so
 * this cannot wait for an unmapper that waits for the library.
 */
static int sv_split_same(const struct sv_mwatch *w, unsigned long block,
			 unsigned long pfn)
{
	unsigned long start, end, i;
	struct page **pages;
	int n, want, ret = -ESTALE;

	start = max_t(u64, block, w->start & PAGE_MASK);
	end = min_t(u64, block + PMD_SIZE, PAGE_ALIGN(w->start + w->len));
	if (start >= end)
		return -ESTALE;
	want = (end - start) >> PAGE_SHIFT;
	pages = kmalloc_array(want, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	n = get_user_pages_fast_only(start, want, 0, pages);
	if (n == want) {
		ret = 0;
		for (i = 0; i < want; i++)
			if (page_to_pfn(pages[i]) !=
			    pfn + ((start - block) >> PAGE_SHIFT) + i)
				ret = -ESTALE;
	}
	for (i = 0; n > 0 && i < n; i++)
		put_page(pages[i]);
	kfree(pages);
	return ret;
}

/*
 * Every change since WATCH was a possible split, and every split block
 * still maps its huge page's pages: the range maps what it did at WATCH,
 * so any generation up to the current one is still the caller's. The
 * interval sequence and the generation catch a change that races with the
 * look-ups.
 */
long sv_ioctl_revalidate(struct sv_file *f, void __user *arg)
{
	struct sv_mon *mon = sv_mon_get(f);
	struct sanverbs_revalidate rv;
	unsigned long seq, block, pfn;
	struct sv_mwatch *w;
	long ret = -ESTALE;
	u64 now;
	u32 i, n;

	if (!mon)
		return -EINVAL;
	if (copy_from_user(&rv, arg, sizeof(rv)))
		return -EFAULT;
	if (rv.slot >= mon->nslots || rv.reserved)
		return -EINVAL;
	if (current->mm != mon->mm)
		return -EINVAL;
	mutex_lock(&mon->lock);
	w = xa_load(&mon->watches, rv.slot);
	if (!w) {
		ret = -EINVAL;
		goto out;
	}
	seq = mmu_interval_read_begin(&w->mni);
	spin_lock(&mon->qlock);
	now = READ_ONCE(mon->status[rv.slot]);
	n = w->nsplits;
	spin_unlock(&mon->qlock);
	if (rv.gen > now || !n || n > SV_SPLITS)
		goto out;
	for (i = 0; i < n; i++) {
		/* Entries below n are written once, before n grows. */
		spin_lock(&mon->qlock);
		block = w->splits[i].block;
		pfn = w->splits[i].pfn;
		spin_unlock(&mon->qlock);
		ret = sv_split_same(w, block, pfn);
		if (ret)
			goto out;
	}
	ret = -ESTALE;
	spin_lock(&mon->qlock);
	if (!mmu_interval_read_retry(&w->mni, seq) &&
	    READ_ONCE(mon->status[rv.slot]) == now)
		ret = 0;
	spin_unlock(&mon->qlock);
out:
	mutex_unlock(&mon->lock);
	return ret;
}

int sv_mon_mmap(struct sv_file *f, struct vm_area_struct *vma)
{
	struct sv_mon *mon = sv_mon_get(f);
	unsigned long i;
	int ret;

	if (!mon)
		return -EINVAL;
	/* The counters are the module's to write; the library only reads. */
	if (vma->vm_flags & VM_WRITE)
		return -EACCES;
	sv_vm_flags_clear(vma, VM_MAYWRITE);
	/*
	 * Inherited on fork on purpose (VM_MIXEDMAP ptes are copied): a
	 * child that touches the parent's cache must read stale counters
	 * (its watches fail), not fault.
	 */
	if (vma->vm_end - vma->vm_start > mon->status_len)
		return -EINVAL;
	sv_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < vma_pages(vma); i++) {
		ret = vm_insert_page(vma, vma->vm_start + (i << PAGE_SHIFT),
				     vmalloc_to_page((char *)mon->status +
						     (i << PAGE_SHIFT)));
		if (ret)
			return ret;	/* mmap_region() zaps what was inserted */
	}
	return 0;
}

ssize_t sv_mon_read(struct sv_file *f, char __user *buf, size_t count,
		    bool nonblock)
{
	struct sanverbs_mon_event batch[SV_MON_BATCH];
	struct sv_mon *mon = sv_mon_get(f);
	size_t want, n = 0;
	int ret;

	if (!mon)
		return -EINVAL;
	want = min_t(size_t, count / sizeof(batch[0]), SV_MON_BATCH);
	if (!want)
		return -EINVAL;
	for (;;) {
		spin_lock(&mon->qlock);
		if (mon->overflow) {
			/* Lost events: the reader must drop every watch. */
			memset(&batch[0], 0, sizeof(batch[0]));
			batch[0].flags = SANVERBS_EVENT_OVERFLOW;
			mon->overflow = false;
			n = 1;
		}
		while (n < want && mon->count) {
			batch[n++] = mon->ring[mon->head];
			mon->head = (mon->head + 1) % SV_MON_RING;
			mon->count--;
		}
		spin_unlock(&mon->qlock);
		if (n)
			break;
		if (nonblock)
			return -EAGAIN;
		ret = wait_event_interruptible(mon->wq,
					       READ_ONCE(mon->count) ||
					       READ_ONCE(mon->overflow));
		if (ret)
			return ret;
	}
	if (copy_to_user(buf, batch, n * sizeof(batch[0])))
		return -EFAULT;
	return n * sizeof(batch[0]);
}

__poll_t sv_mon_poll(struct sv_file *f, struct file *filp,
		     struct poll_table_struct *wait)
{
	struct sv_mon *mon = sv_mon_get(f);
	__poll_t mask = 0;

	if (!mon)
		return EPOLLERR;
	poll_wait(filp, &mon->wq, wait);
	spin_lock(&mon->qlock);
	if (mon->count || mon->overflow)
		mask = EPOLLIN | EPOLLRDNORM;
	spin_unlock(&mon->qlock);
	return mask;
}

void sv_mon_destroy(struct sv_mon *mon)
{
	struct sv_mwatch *w;
	unsigned long slot;

	xa_for_each(&mon->watches, slot, w) {
		xa_erase(&mon->watches, slot);
		sv_mon_remove(mon, w);
	}
	xa_destroy(&mon->watches);
	mmdrop(mon->mm);
	kvfree(mon->ring);
	vfree(mon->status);
	sv_uncharge(mon->owner, &mon->charge);
	kfree(mon);
}
