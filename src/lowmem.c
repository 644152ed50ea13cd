/* SPDX-License-Identifier: MIT */
/* Low-memory buffers (AllocateCommonBuffer, MmAllocateContiguousMemory-
 * SpecifyCache): from /dev/sanverbs when it is loaded, else anonymous
 * mlock()ed pages when the caller's DMA mask allows any address. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handle.h"
#include "kmod_client.h"
#include "sanverbs.h"
#include "util.h"

#define SV_LOWMEM_MAGIC 0x53564c4du /* "SVLM" */

struct sanverbs_lowmem {
	struct sv_hdr hdr; /* handle.h: first */
	struct sv_kmod *kmod;	/* a reference on the shared file, or NULL */
	void *addr;
	size_t len;
	enum sanverbs_lowmem_source source;
	int phys_known;
	uint64_t phys;
};

static struct sv_handle_type lowmem_type =
	SV_HANDLE_TYPE(struct sanverbs_lowmem, SV_LOWMEM_MAGIC);

/* Not bound to a context: a child of fork() may free its copy of the
 * mapping, so only liveness is checked. */
static int lowmem_live(const struct sanverbs_lowmem *b)
{
	return sv_handle_live(b, SV_LOWMEM_MAGIC);
}

static int mask_ok(uint64_t m)
{
	return m >= SANVERBS_DMA_MASK_32 && !(m & (m + 1));
}

static int alloc_kmod(struct sanverbs_lowmem *b, uint64_t mask,
		      unsigned int flags)
{
	struct sanverbs_alloc info;
	struct sv_kmod *k;
	int ret;

	ret = sv_kmod_get(&k);
	if (ret)
		return ret;
	ret = sv_kmod_alloc(k, b->len, mask,
			    flags & SANVERBS_LOWMEM_CONTIGUOUS ?
				    SANVERBS_ALLOC_CONTIG :
				    0,
			    &b->addr, &info);
	if (ret) {
		sv_kmod_put(k);
		return ret;
	}
	b->kmod = k;
	b->source = info.out_flags & SANVERBS_ALLOC_OUT_DMA32 ?
			    SANVERBS_LOWMEM_KMOD_DMA32 :
			    SANVERBS_LOWMEM_KMOD_ANY;
	b->phys_known = !!(info.out_flags & SANVERBS_ALLOC_OUT_PHYS);
	b->phys = info.phys;
	return 0;
}

static int alloc_pinned(struct sanverbs_lowmem *b)
{
	void *p = mmap(NULL, b->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -ENOMEM;
	/* mlock faults every page in, so the buffer is resident (and zero)
	 * before it is handed out, as the module's buffers are. */
	if (sv_mlock(p, b->len)) {
		munmap(p, b->len);
		return -ENOMEM;
	}
	b->addr = p;
	b->source = SANVERBS_LOWMEM_PINNED;
	return 0;
}

SV_EXPORT int sanverbs_lowmem_alloc(size_t len, uint64_t dma_mask,
				    unsigned int flags,
				    struct sanverbs_lowmem **out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct sanverbs_lowmem *b;
	int ret;

	if (out)
		*out = NULL;
	if (!out || !len || len > SIZE_MAX - page + 1 || !mask_ok(dma_mask) ||
	    (flags & ~(unsigned int)SANVERBS_LOWMEM_CONTIGUOUS))
		return -EINVAL;
	b = sv_handle_new(&lowmem_type);
	if (!b)
		return -ENOMEM;
	b->len = (len + page - 1) & ~(page - 1);

	ret = alloc_kmod(b, dma_mask, flags);
	if (ret == -ENODEV) {
		/* Only the module can promise contiguity or an address bound. */
		if ((flags & SANVERBS_LOWMEM_CONTIGUOUS) ||
		    dma_mask < SANVERBS_DMA_MASK_ANY)
			ret = -EOPNOTSUPP;
		else
			ret = alloc_pinned(b);
	}
	if (ret) {
		sv_handle_retire(&lowmem_type, b);
		return ret;
	}
	*out = b;
	return 0;
}

SV_EXPORT int sanverbs_lowmem_free(struct sanverbs_lowmem *buf)
{
	if (!lowmem_live(buf))
		return -EINVAL;
	/* For module buffers the mapping owns the pages: this frees them. */
	munmap(buf->addr, buf->len);
	sv_kmod_put(buf->kmod);
	sv_handle_retire(&lowmem_type, buf);
	return 0;
}

SV_EXPORT void *sanverbs_lowmem_addr(const struct sanverbs_lowmem *buf)
{
	return lowmem_live(buf) ? buf->addr : NULL;
}

SV_EXPORT size_t sanverbs_lowmem_length(const struct sanverbs_lowmem *buf)
{
	return lowmem_live(buf) ? buf->len : 0;
}

SV_EXPORT int sanverbs_lowmem_source(const struct sanverbs_lowmem *buf)
{
	return lowmem_live(buf) ? (int)buf->source : -EINVAL;
}

SV_EXPORT int sanverbs_lowmem_phys(const struct sanverbs_lowmem *buf,
				   uint64_t *phys)
{
	if (!lowmem_live(buf) || !phys)
		return -EINVAL;
	if (!buf->phys_known)
		return -EPERM;
	*phys = buf->phys;
	return 0;
}

SV_EXPORT int sanverbs_kmod_version(void)
{
	struct sv_kmod *k;
	int ret = sv_kmod_open(&k);

	if (ret)
		return ret;
	sv_kmod_close(k);
	return SANVERBS_ABI_VERSION;
}
