/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal state of the sanverbs module shared by its source files.
 */
#ifndef _SANVERBS_PRIV_H
#define _SANVERBS_PRIV_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/version.h>
#include <linux/xarray.h>

#include "sanverbs_ioctl.h"

/* vm_flags became read-only behind helpers in 6.3. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define sv_vm_flags_set(vma, f)		vm_flags_set(vma, f)
#define sv_vm_flags_clear(vma, f)	vm_flags_clear(vma, f)
#else
#define sv_vm_flags_set(vma, f)		((vma)->vm_flags |= (f))
#define sv_vm_flags_clear(vma, f)	((vma)->vm_flags &= ~(f))
#endif

struct sv_mon;
struct sv_user;

/*
 * What one object or monitor holds against its caller: bytes against the
 * file's, the user's and the module's budgets, and pages against
 * RLIMIT_MEMLOCK in the caller's mm->pinned_vm (as ib_umem_get() does).
 */
struct sv_charge {
	struct sv_user *user;
	struct mm_struct *mm;		/* mmgrab()ed while pinned != 0 */
	u64 bytes;
	unsigned long pinned;
};

/* One open file of /dev/sanverbs. Mappings hold a reference on the file, so
 * this outlives every object it charged.
 */
struct sv_file {
	struct mutex lock;
	struct xarray objs;		/* offset id -> unmapped sv_obj */
	atomic64_t charged;		/* bytes held against max_file_bytes */
	struct sv_mon *mon;		/* set once by MON_INIT */
};

enum sv_obj_kind {
	SV_OBJ_BUF,			/* pages allocated by the module */
	SV_OBJ_PIN,			/* user pages pinned by the module */
};

struct sv_obj {
	struct kref ref;
	enum sv_obj_kind kind;
	bool nowrite;
	struct sv_file *owner;
	struct sv_charge charge;
	unsigned long npages;
	struct page **pages;
	void *contig;			/* alloc_pages_exact() base or NULL */
};

struct sv_counters {
	atomic64_t buf_objects;
	atomic64_t buf_pages;
	atomic64_t pin_objects;
	atomic64_t pin_pages;
	atomic64_t watches;
	atomic64_t files;
	atomic64_t invalidations;
	atomic64_t total_bytes;
};

extern struct sv_counters sv_counters;
extern bool nolowmem;
extern unsigned long max_file_bytes;
extern unsigned long max_total_bytes;
extern unsigned long max_user_bytes;

/* sanverbs_acct.c */
int sv_charge(struct sv_file *f, struct sv_charge *c, u64 bytes, bool pin);
int sv_charge_add(struct sv_file *f, struct sv_charge *c, u64 bytes);
void sv_charge_sub(struct sv_file *f, struct sv_charge *c, u64 bytes);
void sv_uncharge(struct sv_file *f, struct sv_charge *c);

/* sanverbs_mem.c */
long sv_ioctl_alloc(struct sv_file *f, void __user *arg);
long sv_ioctl_pin(struct sv_file *f, void __user *arg);
long sv_ioctl_free(struct sv_file *f, void __user *arg);
int sv_obj_mmap(struct sv_file *f, struct vm_area_struct *vma);
void sv_file_release_objs(struct sv_file *f);

/* sanverbs_mon.c */
long sv_ioctl_mon_init(struct sv_file *f, void __user *arg);
long sv_ioctl_watch(struct sv_file *f, void __user *arg);
long sv_ioctl_unwatch(struct sv_file *f, void __user *arg);
long sv_ioctl_revalidate(struct sv_file *f, void __user *arg);
int sv_mon_mmap(struct sv_file *f, struct vm_area_struct *vma);
ssize_t sv_mon_read(struct sv_file *f, char __user *buf, size_t count,
		    bool nonblock);
__poll_t sv_mon_poll(struct sv_file *f, struct file *filp,
		     struct poll_table_struct *wait);
void sv_mon_destroy(struct sv_mon *mon);

#endif /* _SANVERBS_PRIV_H */
