// SPDX-License-Identifier: GPL-2.0
/*
 * Memory objects of /dev/sanverbs: low-memory buffers and pinned user
 * ranges, and how they are mapped.
 *
 * Buffers are mapped with vm_insert_pages(), never remap_pfn_range(): a
 * VM_PFNMAP mapping cannot be pinned by ibv_reg_mr() (check_vma_flags()
 * refuses it), and being registrable is the point of these buffers. Pinned
 * user pages may be anonymous, which vm_insert_page() refuses, so their
 * alias is a VM_PFNMAP mapping: it is for the CPU, not for registration.
 */
#include <linux/capability.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sanverbs_priv.h"

#define SV_MASK_32	0xffffffffULL

/*
 * A new object, charged to the caller (bytes and, since its pages will be
 * unswappable, RLIMIT_MEMLOCK), with room for its page pointers.
 */
static struct sv_obj *sv_obj_new(struct sv_file *f, enum sv_obj_kind kind,
				 unsigned long npages, int *err)
{
	struct sv_obj *o = kzalloc(sizeof(*o), GFP_KERNEL_ACCOUNT);

	*err = -ENOMEM;
	if (!o)
		return NULL;
	*err = sv_charge(f, &o->charge, (u64)npages << PAGE_SHIFT, true);
	if (*err)
		goto err_free;
	*err = -ENOMEM;
	o->pages = kvcalloc(npages, sizeof(*o->pages),
			    GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL);
	if (!o->pages)
		goto err_uncharge;
	kref_init(&o->ref);
	o->kind = kind;
	o->owner = f;
	o->npages = npages;
	return o;

err_uncharge:
	sv_uncharge(f, &o->charge);
err_free:
	kfree(o);
	return NULL;
}

/* Frees an object whose pages were never taken (or given back already). */
static void sv_obj_discard(struct sv_obj *o)
{
	sv_uncharge(o->owner, &o->charge);
	kvfree(o->pages);
	kfree(o);
}

static void sv_buf_free_pages(struct sv_obj *o)
{
	unsigned long i;

	if (o->contig) {
		free_pages_exact(o->contig, o->npages << PAGE_SHIFT);
		return;
	}
	for (i = 0; i < o->npages && o->pages[i]; i++) {
		__free_page(o->pages[i]);
		o->pages[i] = NULL;
	}
}

static void sv_obj_release(struct kref *ref)
{
	struct sv_obj *o = container_of(ref, struct sv_obj, ref);

	if (o->kind == SV_OBJ_BUF) {
		sv_buf_free_pages(o);
		atomic64_dec(&sv_counters.buf_objects);
		atomic64_sub(o->npages, &sv_counters.buf_pages);
	} else {
		unpin_user_pages_dirty_lock(o->pages, o->npages, !o->nowrite);
		atomic64_dec(&sv_counters.pin_objects);
		atomic64_sub(o->npages, &sv_counters.pin_pages);
	}
	sv_obj_discard(o);
}

static void sv_obj_put(struct sv_obj *o)
{
	kref_put(&o->ref, sv_obj_release);
}

/* Fills o->pages from one zone choice; all or nothing. */
static int sv_buf_get_pages(struct sv_obj *o, gfp_t gfp, bool contig)
{
	unsigned long i;

	if (contig) {
		/*
		 * Blocks above PAGE_ALLOC_COSTLY_ORDER never invoke the OOM
		 * killer (page allocator or memcg); retrying hard would only
		 * stall a request that can fail cleanly.
		 */
		void *va = alloc_pages_exact(o->npages << PAGE_SHIFT,
					     gfp & ~__GFP_RETRY_MAYFAIL);

		if (!va)
			return -ENOMEM;
		o->contig = va;
		for (i = 0; i < o->npages; i++)
			o->pages[i] = virt_to_page(va + (i << PAGE_SHIFT));
		return 0;
	}
	for (i = 0; i < o->npages; i++) {
		o->pages[i] = alloc_page(gfp);
		if (!o->pages[i]) {
			sv_buf_free_pages(o);
			return -ENOMEM;
		}
		if (fatal_signal_pending(current)) {
			sv_buf_free_pages(o);
			return -EINTR;
		}
		cond_resched();
	}
	return 0;
}

static bool sv_buf_below(struct sv_obj *o, u64 mask, u64 *max_phys)
{
	u64 top = 0, end;
	unsigned long i;

	for (i = 0; i < o->npages; i++) {
		end = page_to_phys(o->pages[i]) + PAGE_SIZE - 1;
		if (end > top)
			top = end;
	}
	*max_phys = top;
	return top <= mask;
}

/*
 * The AllocateCommonBuffer rule: low memory first; a device that can reach
 * beyond 4 GiB takes memory from anywhere when low memory is short (or
 * absent under nolowmem), one that cannot gets -ENOMEM.
 */
static int sv_buf_fill(struct sv_obj *o, u64 mask, bool contig,
		       u32 *out_flags, u64 *max_phys)
{
	/*
	 * Charged to the caller's memcg; over its limit (or the machine's)
	 * the caller gets -ENOMEM, not the OOM killer.
	 */
	gfp_t base = GFP_USER | __GFP_ACCOUNT | __GFP_ZERO | __GFP_NOWARN |
		     __GFP_RETRY_MAYFAIL;
	int ret;

	if (!nolowmem) {
		gfp_t gfp = base | __GFP_DMA32;

		/* Fail fast when another zone is acceptable anyway. */
		if (mask > SV_MASK_32)
			gfp = (gfp & ~__GFP_RETRY_MAYFAIL) | __GFP_NORETRY;
		ret = sv_buf_get_pages(o, gfp, contig);
		if (ret == -EINTR)
			return ret;
		if (!ret) {
			*out_flags |= SANVERBS_ALLOC_OUT_DMA32;
			sv_buf_below(o, mask, max_phys);
			return 0;
		}
	}
	if (mask <= SV_MASK_32)
		return -ENOMEM;
	ret = sv_buf_get_pages(o, base, contig);
	if (ret)
		return ret;
	if (!sv_buf_below(o, mask, max_phys)) {
		sv_buf_free_pages(o);
		o->contig = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Reserves an offset id for an object that is not visible yet: xa_load()
 * (mmap, FREE) sees nothing there until sv_obj_publish(), so the id can be
 * copied to user space first and, if that fails, dropped with nobody else
 * ever having touched the object.
 */
static int sv_obj_reserve(struct sv_file *f, u64 *offset)
{
	u32 id;
	int ret;

	/* Ids stay below 2^31 so offset << PAGE_SHIFT fits any off_t. */
	ret = xa_alloc(&f->objs, &id, NULL, XA_LIMIT(1, INT_MAX >> PAGE_SHIFT),
		       GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret == -EBUSY ? -ENOMEM : ret;
	*offset = (u64)id << PAGE_SHIFT;
	return 0;
}

/*
 * Hands the caller's reference to the file, at the reserved id. Only this
 * function and sv_obj_unreserve() touch a reserved id: FREE and mmap skip
 * ids that load as NULL, so nobody can erase the reservation under us.
 */
static void sv_obj_publish(struct sv_file *f, struct sv_obj *o, u64 offset)
{
	/* The slot exists, so storing into it allocates nothing. */
	WARN_ON(xa_is_err(xa_store(&f->objs, offset >> PAGE_SHIFT, o,
				   GFP_KERNEL_ACCOUNT)));
}

static void sv_obj_unreserve(struct sv_file *f, u64 offset)
{
	xa_release(&f->objs, offset >> PAGE_SHIFT);
}

/* Copies the answer out, then publishes; on a fault nothing was visible. */
static long sv_obj_hand_out(struct sv_file *f, struct sv_obj *o,
			    void __user *arg, const void *ans, size_t len,
			    u64 offset)
{
	if (copy_to_user(arg, ans, len)) {
		sv_obj_unreserve(f, offset);
		sv_obj_put(o);
		return -EFAULT;
	}
	sv_obj_publish(f, o, offset);
	return 0;
}

static bool sv_len_ok(u64 len)
{
	return len && PAGE_ALIGNED(len) && len <= max_file_bytes;
}

long sv_ioctl_alloc(struct sv_file *f, void __user *arg)
{
	struct sanverbs_alloc a;
	struct sv_obj *o;
	bool contig;
	u64 max_phys = 0;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~SANVERBS_ALLOC_FLAGS)
		return -EINVAL;
	/* A DMA mask is 2^n - 1; below 32 bits is ZONE_DMA territory. */
	if (a.dma_mask < SV_MASK_32 || (a.dma_mask & (a.dma_mask + 1)))
		return -EINVAL;
	if (!a.len || !PAGE_ALIGNED(a.len))
		return -EINVAL;
	contig = a.flags & SANVERBS_ALLOC_CONTIG;
	if (contig && a.len > ((u64)MAX_ORDER_NR_PAGES << PAGE_SHIFT))
		return -EINVAL;
	if (!sv_len_ok(a.len))
		return -ENOMEM;

	o = sv_obj_new(f, SV_OBJ_BUF, a.len >> PAGE_SHIFT, &ret);
	if (!o)
		return ret;
	a.out_flags = 0;
	ret = sv_buf_fill(o, a.dma_mask, contig, &a.out_flags, &max_phys);
	if (ret) {
		sv_obj_discard(o);
		return ret;
	}
	atomic64_inc(&sv_counters.buf_objects);
	atomic64_add(o->npages, &sv_counters.buf_pages);

	/* Kernel hardening: physical addresses are for the administrator. */
	a.phys = 0;
	a.max_phys = 0;
	if (capable(CAP_SYS_ADMIN)) {
		a.out_flags |= SANVERBS_ALLOC_OUT_PHYS;
		a.phys = page_to_phys(o->pages[0]);
		a.max_phys = max_phys;
	}
	ret = sv_obj_reserve(f, &a.offset);
	if (ret) {
		sv_obj_put(o);
		return ret;
	}
	return sv_obj_hand_out(f, o, arg, &a, sizeof(a), a.offset);
}

long sv_ioctl_pin(struct sv_file *f, void __user *arg)
{
	unsigned int gup = FOLL_LONGTERM;
	struct sanverbs_pin p;
	unsigned long done = 0;
	struct sv_obj *o;
	long n;
	int ret;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if ((p.flags & ~SANVERBS_PIN_FLAGS) || p.reserved)
		return -EINVAL;
	if (!p.len || !PAGE_ALIGNED(p.len) || !PAGE_ALIGNED(p.addr) ||
	    p.addr + p.len < p.addr)
		return -EINVAL;
	if (!access_ok((void __user *)(uintptr_t)p.addr, p.len))
		return -EFAULT;
	if (!sv_len_ok(p.len))
		return -ENOMEM;
	o = sv_obj_new(f, SV_OBJ_PIN, p.len >> PAGE_SHIFT, &ret);
	if (!o)
		return ret;
	o->nowrite = p.flags & SANVERBS_PIN_NOWRITE;
	if (!o->nowrite)
		gup |= FOLL_WRITE;
	while (done < o->npages) {
		n = pin_user_pages_fast(p.addr + (done << PAGE_SHIFT),
					o->npages - done, gup, o->pages + done);
		if (n <= 0) {
			ret = n ? n : -EFAULT;
			goto err_unpin;
		}
		done += n;
	}
	atomic64_inc(&sv_counters.pin_objects);
	atomic64_add(o->npages, &sv_counters.pin_pages);
	ret = sv_obj_reserve(f, &p.offset);
	if (ret) {
		sv_obj_put(o);
		return ret;
	}
	return sv_obj_hand_out(f, o, arg, &p, sizeof(p), p.offset);

err_unpin:
	/* GUP reports unmapped or wrongly protected memory as -EFAULT. */
	if (done)
		unpin_user_pages(o->pages, done);
	sv_obj_discard(o);
	return ret == -ENOMEM ? ret : -EFAULT;
}

long sv_ioctl_free(struct sv_file *f, void __user *arg)
{
	struct sv_obj *o;
	u64 offset;

	if (copy_from_user(&offset, arg, sizeof(offset)))
		return -EFAULT;
	if (!offset || offset & ~PAGE_MASK ||
	    (offset >> PAGE_SHIFT) > (INT_MAX >> PAGE_SHIFT))
		return -EINVAL;
	/*
	 * Under the lock so that a concurrent mmap() of it finishes first;
	 * an id that loads as NULL is free or reserved by a running ALLOC or
	 * PIN, and erasing it would drop that reservation.
	 */
	mutex_lock(&f->lock);
	o = xa_load(&f->objs, offset >> PAGE_SHIFT);
	if (o)
		xa_erase(&f->objs, offset >> PAGE_SHIFT);
	mutex_unlock(&f->lock);
	if (!o)
		return -EINVAL;
	sv_obj_put(o);
	return 0;
}

void sv_file_release_objs(struct sv_file *f)
{
	struct sv_obj *o;
	unsigned long id;

	xa_for_each(&f->objs, id, o) {
		xa_erase(&f->objs, id);
		sv_obj_put(o);
	}
}

static void sv_vm_open(struct vm_area_struct *vma)
{
	struct sv_obj *o = vma->vm_private_data;

	/* A split or a moved mapping: each part keeps the object alive. */
	kref_get(&o->ref);
}

static void sv_vm_close(struct vm_area_struct *vma)
{
	sv_obj_put(vma->vm_private_data);
}

static const struct vm_operations_struct sv_vm_ops = {
	.open = sv_vm_open,
	.close = sv_vm_close,
};

static int sv_pin_remap(struct sv_obj *o, struct vm_area_struct *vma)
{
	unsigned long i;
	int ret;

	for (i = 0; i < o->npages; i++) {
		ret = remap_pfn_range(vma, vma->vm_start + (i << PAGE_SHIFT),
				      page_to_pfn(o->pages[i]), PAGE_SIZE,
				      vma->vm_page_prot);
		if (ret)
			return ret;
	}
	return 0;
}

int sv_obj_mmap(struct sv_file *f, struct vm_area_struct *vma)
{
	unsigned long num;
	struct sv_obj *o;
	int ret;

	/* A private mapping would copy on write and detach from the pages. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	mutex_lock(&f->lock);
	o = xa_load(&f->objs, vma->vm_pgoff);
	ret = -EINVAL;
	if (!o || vma_pages(vma) != o->npages)
		goto out;
	ret = -EACCES;
	if (o->nowrite && (vma->vm_flags & VM_WRITE))
		goto out;
	if (o->nowrite)
		sv_vm_flags_clear(vma, VM_MAYWRITE);
	/* Fork copies neither the pages nor the pin: the child gets a hole. */
	sv_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY);

	if (o->kind == SV_OBJ_BUF) {
		num = o->npages;
		ret = vm_insert_pages(vma, vma->vm_start, o->pages, &num);
		if (!ret && num)
			ret = -EFAULT;
	} else {
		ret = sv_pin_remap(o, vma);
	}
	if (ret)
		goto out;	/* mmap_region() zaps what was inserted */

	/* The mapping takes over the file's reference. */
	xa_erase(&f->objs, vma->vm_pgoff);
	vma->vm_private_data = o;
	vma->vm_ops = &sv_vm_ops;
out:
	mutex_unlock(&f->lock);
	return ret;
}
