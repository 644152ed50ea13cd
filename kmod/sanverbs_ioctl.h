/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The one ABI between the sanverbs module (/dev/sanverbs) and libsanverbs.
 * Both sides include this file. The ABI has a major and a minor version
 * (gdrcopy's scheme): a library uses a module of its own major version and
 * checks the module's minor version against SANVERBS_MINOR_* before it
 * relies on a feature added later; a new major version is an incompatible
 * change.
 *
 * Memory objects (low-memory buffers, pinned user ranges) are created by an
 * ioctl that returns an mmap offset. The first successful mmap() of that
 * offset hands the object over to the mapping: from then on it lives exactly
 * as long as the mapping (munmap, exit and kill free it). An object that is
 * never mapped is freed by SANVERBS_IOC_FREE or when the file is closed.
 */
#ifndef _UAPI_SANVERBS_IOCTL_H
#define _UAPI_SANVERBS_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SANVERBS_ABI_MAJOR	1
#define SANVERBS_ABI_MINOR	1
/* What SANVERBS_IOC_VERSION reports: the major version. */
#define SANVERBS_ABI_VERSION	SANVERBS_ABI_MAJOR
#define SANVERBS_DEVICE_NAME	"sanverbs"

/*
 * The first minor version with each feature. Minor 0 answers
 * SANVERBS_IOC_VERSION only.
 */
/* SANVERBS_IOC_VERSION_INFO; ALLOC and PIN charge RLIMIT_MEMLOCK
 * (mm->pinned_vm), the memory cgroup and a per-user budget;
 * sanverbs_stats.charged_bytes.
 */
#define SANVERBS_MINOR_ACCOUNTING	1
/* Watches are invalidated when the range loses a right it had (mprotect). */
#define SANVERBS_MINOR_PROT_EVENTS	1

/* Offset at which the monitor's read-only status array is mapped. */
#define SANVERBS_MMAP_STATUS	0ULL

struct sanverbs_version {
	__u32 abi;		/* out: SANVERBS_ABI_MAJOR */
	__u32 page_size;	/* out */
	__u64 max_contig;	/* out: largest contiguous allocation, bytes */
};

/* SANVERBS_IOC_VERSION_INFO, from minor 1 on. */
struct sanverbs_version_info {
	__u32 major;		/* out: SANVERBS_ABI_MAJOR */
	__u32 minor;		/* out: SANVERBS_ABI_MINOR */
	__u32 page_size;	/* out */
	__u32 reserved;		/* out: 0 */
	__u64 max_contig;	/* out: largest contiguous allocation, bytes */
};

/* sanverbs_alloc.flags */
#define SANVERBS_ALLOC_CONTIG	0x1u	/* one physically contiguous run */
#define SANVERBS_ALLOC_FLAGS	SANVERBS_ALLOC_CONTIG

/* sanverbs_alloc.out_flags */
#define SANVERBS_ALLOC_OUT_DMA32 0x1u	/* every page came from ZONE_DMA32 */
#define SANVERBS_ALLOC_OUT_PHYS	 0x2u	/* phys is valid (CAP_SYS_ADMIN) */

struct sanverbs_alloc {
	__u64 len;		/* in: bytes, > 0, multiple of the page size */
	__u64 dma_mask;		/* in: 2^n - 1, 32 <= n <= 64 */
	__u32 flags;		/* in: SANVERBS_ALLOC_* */
	__u32 out_flags;	/* out: SANVERBS_ALLOC_OUT_* */
	__u64 offset;		/* out: mmap offset of the new object */
	__u64 phys;		/* out: physical address of the first page */
	__u64 max_phys;		/* out: last byte of the highest page */
};

/* sanverbs_pin.flags */
#define SANVERBS_PIN_NOWRITE	0x1u	/* read-only pin and alias */
#define SANVERBS_PIN_FLAGS	SANVERBS_PIN_NOWRITE

struct sanverbs_pin {
	__u64 addr;		/* in: page-aligned user address */
	__u64 len;		/* in: bytes, > 0, multiple of the page size */
	__u32 flags;		/* in: SANVERBS_PIN_* */
	__u32 reserved;		/* in: 0 */
	__u64 offset;		/* out: mmap offset of the alias */
};

/* Module-wide counters, so tests can see that everything was given back. */
struct sanverbs_stats {
	__u64 buf_objects;	/* low-memory buffers alive */
	__u64 buf_pages;	/* pages they hold */
	__u64 pin_objects;	/* pinned ranges alive */
	__u64 pin_pages;	/* pages they pin */
	__u64 watches;		/* notifier watches alive */
	__u64 files;		/* open files of /dev/sanverbs */
	__u64 invalidations;	/* watch invalidations reported so far */
	__u64 charged_bytes;	/* bytes charged to the budgets (minor >= 1) */
};

struct sanverbs_mon_init {
	__u32 slots;		/* in: status slots, 1 .. SANVERBS_MON_MAX_SLOTS */
	__u32 reserved;		/* in: 0 */
	__u64 status_len;	/* out: bytes to mmap at SANVERBS_MMAP_STATUS */
};

#define SANVERBS_MON_MAX_SLOTS	(1u << 20)

/*
 * A watch owns one slot of the status array, a __u64 generation counter.
 * The module bumps it (and queues an event for read()) whenever the watched
 * range is unmapped or its pages are replaced, and when the watch is
 * removed, so a reader compares one word to learn whether the range is
 * still what it registered.
 */
struct sanverbs_watch {
	__u64 addr;		/* in: start, any alignment */
	__u64 len;		/* in: bytes, > 0, no wrap */
	__u32 slot;		/* out (WATCH) / in (UNWATCH) */
	__u32 reserved;		/* in: 0 */
	__u64 gen;		/* out: the slot's generation at watch time */
};

/* What read() on a monitor file returns, one or more whole records. */
struct sanverbs_mon_event {
	__u64 addr;		/* invalidated part of the watched range */
	__u64 len;
	__u32 slot;
	__u32 flags;		/* SANVERBS_EVENT_* */
	__u64 gen;		/* the slot's generation after the bump */
};

/* The queue overflowed: every watch of this file must be treated as stale. */
#define SANVERBS_EVENT_OVERFLOW	0x1u
/*
 * Bits 8..15 of flags: the kernel's enum mmu_notifier_event that raised the
 * event (MMU_NOTIFY_UNMAP 0, CLEAR 1, ...), for diagnosis only; its values
 * are the running kernel's, not part of this ABI's promises.
 */
#define SANVERBS_EVENT_KIND_SHIFT 8
/*
 * A CLEAR of exactly one PMD block while the block was mapped by a huge pmd:
 * either a zap of that block or a split of the huge page into PTEs (fork of
 * a pinned THP, partial unmap next to it) that keeps the very same pages.
 * SANVERBS_IOC_REVALIDATE tells the two apart once the change is over.
 */
#define SANVERBS_EVENT_MAYBE_SPLIT 0x2u
#define SANVERBS_EVENT_KIND(flags) (((flags) >> SANVERBS_EVENT_KIND_SHIFT) & 0xffu)

/*
 * Asks whether the changes of a watch up to generation gen (events flagged
 * SANVERBS_EVENT_MAYBE_SPLIT) left the range mapping the same pages it did
 * at WATCH: 0 if every change so far was a possible split and each split
 * block still maps its huge page's pages (the caller may take gen as its
 * own again), -ESTALE if the pages differ, gen is newer than the watch's
 * generation, nothing changed, or any change since WATCH was not a
 * possible split.
 */
struct sanverbs_revalidate {
	__u32 slot;		/* in */
	__u32 reserved;		/* in: 0 */
	__u64 gen;		/* in: the generation the caller saw */
};

#define SANVERBS_IOC_MAGIC	0xb5
#define SANVERBS_IOC_VERSION	_IOR(SANVERBS_IOC_MAGIC, 0, struct sanverbs_version)
#define SANVERBS_IOC_ALLOC	_IOWR(SANVERBS_IOC_MAGIC, 1, struct sanverbs_alloc)
#define SANVERBS_IOC_FREE	_IOW(SANVERBS_IOC_MAGIC, 2, __u64)
#define SANVERBS_IOC_PIN	_IOWR(SANVERBS_IOC_MAGIC, 3, struct sanverbs_pin)
#define SANVERBS_IOC_STATS	_IOR(SANVERBS_IOC_MAGIC, 4, struct sanverbs_stats)
#define SANVERBS_IOC_MON_INIT	_IOWR(SANVERBS_IOC_MAGIC, 5, struct sanverbs_mon_init)
#define SANVERBS_IOC_WATCH	_IOWR(SANVERBS_IOC_MAGIC, 6, struct sanverbs_watch)
#define SANVERBS_IOC_UNWATCH	_IOW(SANVERBS_IOC_MAGIC, 7, struct sanverbs_watch)
#define SANVERBS_IOC_REVALIDATE	_IOW(SANVERBS_IOC_MAGIC, 8, struct sanverbs_revalidate)
#define SANVERBS_IOC_VERSION_INFO _IOR(SANVERBS_IOC_MAGIC, 9, struct sanverbs_version_info)

#endif /* _UAPI_SANVERBS_IOCTL_H */
