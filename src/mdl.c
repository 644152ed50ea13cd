/* SPDX-License-Identifier: MIT */
/* MDL descriptors and MmProbeAndLockPages/MmUnlockPages.
 *
 * Probing uses MADV_POPULATE_READ/WRITE: the kernel faults the pages in
 * with the requested access and reports what it could not do as an errno
 * (checked in mm/madvise.c of 6.1 and 6.18): -EINVAL when a mapping lacks
 * the permission or cannot be populated (PROT_NONE, read-only for write,
 * VM_IO/PFNMAP), -ENOMEM when part of the range has no mapping, -EFAULT
 * when the fault itself raised SIGBUS/SIGSEGV (e.g. a file mapping past
 * EOF), -EHWPOISON. No signal reaches us in any of these cases. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "ctx.h"
#include "lockcount.h"
#include "mdl.h"
#include "pool.h"
#include "util.h"

#define PFN_PRESENT (1ull << 63)
#define PFN_MASK ((1ull << 55) - 1)

static void pfns_settle(struct sanverbs_mdl *m);

SV_EXPORT int sanverbs_mdl_create(struct sanverbs_ctx *ctx, void *addr,
				  size_t len, struct sanverbs_mdl **out)
{
	struct sanverbs_mdl *m;
	uintptr_t a = (uintptr_t)addr;

	if (out)
		*out = NULL;
	if (!out || !sv_range_ok(addr, len))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ctx = ctx;
	m->va = addr;
	m->byte_offset = a % sv_page_size();
	m->byte_count = len;
	m->page_count = (a + len - 1) / sv_page_size() - a / sv_page_size() + 1;
	*out = m;
	return 0;
}

SV_EXPORT int sanverbs_mdl_build_partial(struct sanverbs_mdl *src, void *addr,
					 size_t len, struct sanverbs_mdl **out)
{
	struct sanverbs_mdl *m;
	size_t first;
	int ret;

	if (out)
		*out = NULL;
	if (!src || !out || !sv_range_ok(addr, len) ||
	    !(src->flags & SANVERBS_MDL_LOCKED) ||
	    (src->flags & SANVERBS_MDL_PARTIAL) || (char *)addr < src->va ||
	    (size_t)((char *)addr - src->va) > src->byte_count ||
	    len > src->byte_count - (size_t)((char *)addr - src->va))
		return -EINVAL;
	ret = sanverbs_mdl_create(src->ctx, addr, len, &m);
	if (ret)
		return ret;
	pfns_settle(src);
	m->pfn = malloc(m->page_count * sizeof(*m->pfn));
	if (!m->pfn) {
		free(m);
		return -ENOMEM;
	}
	first = (uintptr_t)addr / sv_page_size() - (uintptr_t)src->va / sv_page_size();
	memcpy(m->pfn, src->pfn + first, m->page_count * sizeof(*m->pfn));
	m->parent = src;
	m->pin = src->pin;
	m->flags = SANVERBS_MDL_PARTIAL |
		   (src->flags & (SANVERBS_MDL_LOCKED | SANVERBS_MDL_PFN_VALID |
				  SANVERBS_MDL_PINNED | SANVERBS_MDL_POOL |
				  SANVERBS_MDL_WRITE));
	src->npartials++;
	*out = m;
	return 0;
}

SV_EXPORT int sanverbs_mdl_free(struct sanverbs_mdl *mdl)
{
	if (!mdl)
		return -EINVAL;
	if (mdl->npartials ||
	    ((mdl->flags & SANVERBS_MDL_LOCKED) &&
	     !(mdl->flags & SANVERBS_MDL_PARTIAL)))
		return -EBUSY;
	sv_mdl_sysaddr_release(mdl);
	if (mdl->parent)
		mdl->parent->npartials--;
	free(mdl->pfn);
	free(mdl);
	return 0;
}

/* Nonzero when MADV_POPULATE_* exists (Linux >= 5.14); probed once on a
 * page of our own, because EINVAL also means "no such advice" on older
 * kernels. */
static int populate_supported(void)
{
	static int state; /* 0 unknown, 1 yes, -1 no; racing probes agree */
	int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
	void *p;

	if (s)
		return s > 0;
	p = mmap(NULL, sv_page_size(), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1; /* assume yes; the real probe will tell */
	s = madvise(p, sv_page_size(), MADV_POPULATE_WRITE) == 0 ? 1 : -1;
	munmap(p, sv_page_size());
	__atomic_store_n(&state, s, __ATOMIC_RELAXED);
	return s > 0;
}

static int probe(void *start, size_t len, int write)
{
	unsigned char *vec;
	int hole;

	if (!madvise(start, len,
		     write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
		return 0;
	switch (errno) {
	case EINVAL:
		return -EACCES;
	case ENOMEM:
		/* A hole, or really out of memory: mincore tells them apart
		 * (it fails with ENOMEM only for unmapped ranges). It
		 * writes one byte per page. */
		vec = malloc(len / sv_page_size());
		if (!vec)
			return -ENOMEM;
		hole = mincore(start, len, vec) && errno == ENOMEM;
		free(vec);
		return hole ? -EFAULT : -ENOMEM;
	case EINTR:
		return -EINTR;
	default: /* EFAULT, EHWPOISON */
		return -EFAULT;
	}
}

/* One fd on this process's pagemap, kept open: open() and close() of it
 * cost more than the read (in the TCG guest about three times as much).
 * It is checked on every use, as vma_kind.c does for maps: a forked child
 * inherits it but it reads the parent's page tables, and an application
 * that closes every fd (daemons do) may have closed it and reused the
 * number. pagemap_mutex is held across the pread() so that no other
 * thread closes the fd in between. */
static pthread_mutex_t pagemap_mutex = PTHREAD_MUTEX_INITIALIZER;
static int pagemap_fd = -1;
static pid_t pagemap_pid;
static dev_t pagemap_dev;
static ino_t pagemap_ino;

/* pagemap_mutex held: a usable fd, or -1. */
static int pagemap_get(void)
{
	pid_t pid = getpid();
	struct stat st;

	if (pagemap_fd >= 0) {
		int ours = !fstat(pagemap_fd, &st) &&
			   st.st_dev == pagemap_dev && st.st_ino == pagemap_ino;

		if (ours && pagemap_pid == pid)
			return pagemap_fd;
		if (ours) /* inherited: ours to close, but not this process's */
			close(pagemap_fd);
		pagemap_fd = -1; /* else the number is not ours any more */
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		return -1;
	if (fstat(pagemap_fd, &st)) {
		close(pagemap_fd);
		return pagemap_fd = -1;
	}
	pagemap_dev = st.st_dev;
	pagemap_ino = st.st_ino;
	pagemap_pid = pid;
	return pagemap_fd;
}

/* Page frames from /proc/self/pagemap. Without CAP_SYS_ADMIN the kernel
 * reports present pages with PFN 0: then every entry says UNAVAILABLE,
 * so no caller mistakes the zeros for frames. pagemap_mutex held. */
static void fill_pfns_locked(struct sanverbs_mdl *m)
{
	uintptr_t first = (uintptr_t)m->va / sv_page_size();
	size_t i, want = m->page_count * sizeof(*m->pfn);
	int fd = pagemap_get();
	int valid = fd >= 0;

	/* One read for the whole range: pagemap entries are 8 bytes per
	 * virtual page, in order. */
	if (valid && pread(fd, m->pfn, want, (off_t)(first * 8)) != (ssize_t)want)
		valid = 0;
	for (i = 0; valid && i < m->page_count; i++) {
		if (!(m->pfn[i] & PFN_PRESENT) || !(m->pfn[i] & PFN_MASK))
			valid = 0;
		else
			m->pfn[i] &= PFN_MASK;
	}
	if (valid)
		m->flags |= SANVERBS_MDL_PFN_VALID;
	for (i = 0; !valid && i < m->page_count; i++)
		m->pfn[i] = SANVERBS_PFN_UNAVAILABLE;
}

/* Reads the frames of a locked MDL if nobody has asked for them yet.
 * Without a device pin they are read on first use rather than at lock
 * time: the read cost a quarter of a probe-and-lock, most callers never
 * look, and an mlocked page may be migrated anyway, so a read at lock
 * time is no truer than one later. The mutex makes racing readers of one
 * MDL's frames agree; the release store publishes pfn[] and flags. */
static void pfns_settle(struct sanverbs_mdl *m)
{
	if (!__atomic_load_n(&m->pfn_pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&pagemap_mutex);
	if (m->pfn_pending) {
		fill_pfns_locked(m);
		__atomic_store_n(&m->pfn_pending, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pagemap_mutex);
}

SV_EXPORT int sanverbs_mdl_probe_and_lock(struct sanverbs_mdl *mdl,
					  enum sanverbs_lock_op op)
{
	int write, ret;
	char *start;
	size_t span;
	struct sanverbs_pool *pool;

	if (!mdl || (mdl->flags & SANVERBS_MDL_PARTIAL) ||
	    (op != SANVERBS_IO_READ_ACCESS && op != SANVERBS_IO_WRITE_ACCESS &&
	     op != SANVERBS_IO_MODIFY_ACCESS))
		return -EINVAL;
	if (mdl->flags & SANVERBS_MDL_LOCKED)
		return -EBUSY;
	if (!populate_supported())
		return -EOPNOTSUPP;
	write = op != SANVERBS_IO_READ_ACCESS;
	start = mdl->va - mdl->byte_offset;
	span = mdl->page_count * sv_page_size();

	mdl->pfn = malloc(mdl->page_count * sizeof(*mdl->pfn));
	if (!mdl->pfn)
		return -ENOMEM;
	ret = probe(start, span, write);
	if (ret)
		goto fail_free;
	ret = sv_lock_pages(start, span);
	if (ret)
		goto fail_free;
	if (mdl->ctx) {
		/* Without LOCAL_WRITE the pin is read-only (no FOLL_WRITE),
		 * so read access works on read-only mappings too. */
		mdl->pin = ibv_reg_mr(mdl->ctx->pd, mdl->va, mdl->byte_count,
				      write ? IBV_ACCESS_LOCAL_WRITE : 0);
		if (!mdl->pin) {
			ret = errno ? -errno : -ENOMEM;
			goto fail_unlock;
		}
		mdl->flags |= SANVERBS_MDL_PINNED;
	}
	pool = sv_pool_get_range(mdl->va, mdl->byte_count);
	if (pool) {
		mdl->flags |= SANVERBS_MDL_POOL;
		sv_pool_put(pool);
	}
	mdl->flags |= SANVERBS_MDL_LOCKED | (write ? SANVERBS_MDL_WRITE : 0);
	/* A pinned MDL keeps its frames after the application unmaps the
	 * range, when pagemap can no longer show them: read them now. */
	mdl->pfn_pending = 1;
	if (mdl->pin)
		pfns_settle(mdl);
	return 0;

fail_unlock:
	sv_unlock_pages(start, span);
fail_free:
	free(mdl->pfn);
	mdl->pfn = NULL;
	return ret;
}

SV_EXPORT int sanverbs_mdl_unlock(struct sanverbs_mdl *mdl)
{
	if (!mdl || (mdl->flags & SANVERBS_MDL_PARTIAL) ||
	    !(mdl->flags & SANVERBS_MDL_LOCKED))
		return -EINVAL;
	if (mdl->npartials)
		return -EBUSY;
	sv_mdl_sysaddr_release(mdl);
	if (mdl->pin)
		ibv_dereg_mr(mdl->pin);
	mdl->pin = NULL;
	sv_unlock_pages(mdl->va - mdl->byte_offset, mdl->page_count * sv_page_size());
	free(mdl->pfn);
	mdl->pfn = NULL;
	mdl->flags = 0;
	mdl->pfn_pending = 0;
	return 0;
}

SV_EXPORT void *sanverbs_mdl_va(const struct sanverbs_mdl *mdl)
{
	return mdl ? mdl->va : NULL;
}

SV_EXPORT size_t sanverbs_mdl_byte_offset(const struct sanverbs_mdl *mdl)
{
	return mdl ? mdl->byte_offset : 0;
}

SV_EXPORT size_t sanverbs_mdl_byte_count(const struct sanverbs_mdl *mdl)
{
	return mdl ? mdl->byte_count : 0;
}

SV_EXPORT size_t sanverbs_mdl_page_count(const struct sanverbs_mdl *mdl)
{
	return mdl ? mdl->page_count : 0;
}

SV_EXPORT const uint64_t *sanverbs_mdl_pfns(const struct sanverbs_mdl *mdl)
{
	if (mdl)
		pfns_settle((struct sanverbs_mdl *)mdl);
	return mdl && (mdl->flags & SANVERBS_MDL_LOCKED) ? mdl->pfn : NULL;
}

SV_EXPORT unsigned int sanverbs_mdl_flags(const struct sanverbs_mdl *mdl)
{
	if (mdl)
		pfns_settle((struct sanverbs_mdl *)mdl);
	return mdl ? mdl->flags : 0;
}

SV_EXPORT uint32_t sanverbs_mdl_lkey(const struct sanverbs_mdl *mdl)
{
	return mdl && mdl->pin ? mdl->pin->lkey : 0;
}
