// SPDX-License-Identifier: GPL-2.0
/*
 * sanverbs: /dev/sanverbs, the kernel half of libsanverbs.
 *
 * Low-memory buffers that ibv_reg_mr() can pin (the AllocateCommonBuffer /
 * MmAllocateContiguousMemorySpecifyCache analogue), second mappings of
 * pinned user pages (MmGetSystemAddressForMdlSafe) and an exact invalidation
 * monitor built on mmu_interval_notifier.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "sanverbs_priv.h"

struct sv_counters sv_counters;

bool nolowmem;
module_param(nolowmem, bool, 0644);
MODULE_PARM_DESC(nolowmem,
		 "Behave like a NOLOWMEM system: never allocate below 4 GiB");

unsigned long max_file_bytes = 1UL << 30;
module_param(max_file_bytes, ulong, 0644);
MODULE_PARM_DESC(max_file_bytes,
		 "Most bytes one open file may allocate or pin (default 1 GiB)");

unsigned long max_total_bytes = 1UL << 30;
module_param(max_total_bytes, ulong, 0644);
MODULE_PARM_DESC(max_total_bytes,
		 "Most bytes all files together may allocate or pin (default 1 GiB)");

unsigned long max_user_bytes = 256UL << 20;
module_param(max_user_bytes, ulong, 0644);
MODULE_PARM_DESC(max_user_bytes,
		 "Most bytes the files of one user together may hold (default 256 MiB)");

static int sv_open(struct inode *inode, struct file *filp)
{
	struct sv_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	xa_init_flags(&f->objs, XA_FLAGS_ALLOC1);
	atomic64_set(&f->charged, 0);
	filp->private_data = f;
	atomic64_inc(&sv_counters.files);
	/* The mmap offsets are cookies, not file positions. */
	return nonseekable_open(inode, filp);
}

static int sv_release(struct inode *inode, struct file *filp)
{
	struct sv_file *f = filp->private_data;

	/* Every mapping is gone (each held a reference on filp). */
	sv_file_release_objs(f);
	if (f->mon)
		sv_mon_destroy(f->mon);
	WARN_ON(atomic64_read(&f->charged));
	xa_destroy(&f->objs);
	kfree(f);
	atomic64_dec(&sv_counters.files);
	return 0;
}

static long sv_ioctl_version(void __user *arg)
{
	struct sanverbs_version v = {
		.abi = SANVERBS_ABI_VERSION,
		.page_size = PAGE_SIZE,
		.max_contig = (u64)MAX_ORDER_NR_PAGES << PAGE_SHIFT,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long sv_ioctl_version_info(void __user *arg)
{
	struct sanverbs_version_info v = {
		.major = SANVERBS_ABI_MAJOR,
		.minor = SANVERBS_ABI_MINOR,
		.page_size = PAGE_SIZE,
		.max_contig = (u64)MAX_ORDER_NR_PAGES << PAGE_SHIFT,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long sv_ioctl_stats(void __user *arg)
{
	struct sanverbs_stats s = {
		.buf_objects = atomic64_read(&sv_counters.buf_objects),
		.buf_pages = atomic64_read(&sv_counters.buf_pages),
		.pin_objects = atomic64_read(&sv_counters.pin_objects),
		.pin_pages = atomic64_read(&sv_counters.pin_pages),
		.watches = atomic64_read(&sv_counters.watches),
		.files = atomic64_read(&sv_counters.files),
		.invalidations = atomic64_read(&sv_counters.invalidations),
		.charged_bytes = atomic64_read(&sv_counters.total_bytes),
	};

	return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
}

static long sv_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct sv_file *f = filp->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case SANVERBS_IOC_VERSION:
		return sv_ioctl_version(uarg);
	case SANVERBS_IOC_ALLOC:
		return sv_ioctl_alloc(f, uarg);
	case SANVERBS_IOC_FREE:
		return sv_ioctl_free(f, uarg);
	case SANVERBS_IOC_PIN:
		return sv_ioctl_pin(f, uarg);
	case SANVERBS_IOC_STATS:
		return sv_ioctl_stats(uarg);
	case SANVERBS_IOC_MON_INIT:
		return sv_ioctl_mon_init(f, uarg);
	case SANVERBS_IOC_WATCH:
		return sv_ioctl_watch(f, uarg);
	case SANVERBS_IOC_UNWATCH:
		return sv_ioctl_unwatch(f, uarg);
	case SANVERBS_IOC_REVALIDATE:
		return sv_ioctl_revalidate(f, uarg);
	case SANVERBS_IOC_VERSION_INFO:
		return sv_ioctl_version_info(uarg);
	default:
		return -ENOTTY;
	}
}

static int sv_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct sv_file *f = filp->private_data;

	/* Nothing this device maps is code. */
	if (vma->vm_flags & VM_EXEC)
		return -EACCES;
	sv_vm_flags_clear(vma, VM_MAYEXEC);
	if (vma->vm_pgoff == (SANVERBS_MMAP_STATUS >> PAGE_SHIFT))
		return sv_mon_mmap(f, vma);
	return sv_obj_mmap(f, vma);
}

static ssize_t sv_read(struct file *filp, char __user *buf, size_t count,
		       loff_t *pos)
{
	return sv_mon_read(filp->private_data, buf, count,
			   filp->f_flags & O_NONBLOCK);
}

static __poll_t sv_poll(struct file *filp, struct poll_table_struct *wait)
{
	return sv_mon_poll(filp->private_data, filp, wait);
}

static const struct file_operations sv_fops = {
	.owner = THIS_MODULE,
	.open = sv_open,
	.release = sv_release,
	.unlocked_ioctl = sv_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = sv_mmap,
	.read = sv_read,
	.poll = sv_poll,
	/* no .llseek: not seekable (no_llseek was NULL; 6.12 dropped the name) */
};

/*
 * Open to everyone the node lets in: what a caller makes the module hold is
 * charged to it (sanverbs_acct.c) and physical addresses go to
 * CAP_SYS_ADMIN only. Distributions narrow access with the udev rule
 * shipped next to this module (docs/kmod.md).
 */
static struct miscdevice sv_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = SANVERBS_DEVICE_NAME,
	.fops = &sv_fops,
	.mode = 0666,
};

static int __init sv_init(void)
{
	int ret = misc_register(&sv_misc);

	if (ret)
		pr_err("cannot register /dev/%s: %d\n", SANVERBS_DEVICE_NAME,
		       ret);
	return ret;
}

static void __exit sv_exit(void)
{
	/* No file can be open here: each holds a module reference. */
	misc_deregister(&sv_misc);
}

module_init(sv_init);
module_exit(sv_exit);
MODULE_DESCRIPTION("sanverbs: low-memory RDMA buffers and exact invalidation");
MODULE_LICENSE("GPL");
