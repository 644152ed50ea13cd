/* SPDX-License-Identifier: MIT */
/* Mm* and IoAllocateMdl names over the sanverbs MDL, secure-memory and
 * low-memory calls. Thin on purpose: the semantics live in src/. */
#include <errno.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdlib.h>

#include "sanverbs/mm.h"
#include "wsp_priv.h"

static struct sanverbs_ctx *mm_ctx;

/* Contiguous allocations by address, for MmFreeContiguousMemory. */
struct contig {
	struct contig *next;
	struct sanverbs_lowmem *lm;
};
static struct contig *contigs;
static pthread_mutex_t contig_lock = PTHREAD_MUTEX_INITIALIZER;

static struct sanverbs_ctx *ctx_for_shims(void)
{
	struct sanverbs_ctx *c;

	if (mm_ctx)
		return mm_ctx;
	return wsp_all_ctx(&c, 1) == 1 ? c : NULL;
}

WSP_EXPORT void MmSanverbsSetContext(struct sanverbs_ctx *ctx)
{
	mm_ctx = ctx;
}

WSP_EXPORT PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length,
			      BOOLEAN SecondaryBuffer, BOOLEAN ChargeQuota,
			      void *Irp)
{
	struct sanverbs_mdl *mdl;

	if (sanverbs_mdl_create(ctx_for_shims(), VirtualAddress, Length, &mdl))
		return NULL;
	return mdl;
}

WSP_EXPORT void IoFreeMdl(PMDL Mdl)
{
	sanverbs_mdl_free(Mdl);
}

WSP_EXPORT NTSTATUS MmProbeAndLockPages(PMDL Mdl, KPROCESSOR_MODE AccessMode,
					LOCK_OPERATION Operation)
{
	int ret;

	if (!Mdl || (unsigned int)Operation > IoModifyAccess)
		return STATUS_INVALID_PARAMETER;
	ret = sanverbs_mdl_probe_and_lock(Mdl, (enum sanverbs_lock_op)Operation);
	switch (ret) {
	case 0:
		return STATUS_SUCCESS;
	case -EFAULT:
	case -EACCES:
		return STATUS_ACCESS_VIOLATION;
	case -ENOMEM:
		return STATUS_INSUFFICIENT_RESOURCES;
	case -EBUSY:
		return STATUS_DEVICE_BUSY;
	case -EOPNOTSUPP:
		return STATUS_NOT_SUPPORTED;
	default:
		return STATUS_INVALID_PARAMETER;
	}
}

WSP_EXPORT void MmUnlockPages(PMDL Mdl)
{
	sanverbs_mdl_unlock(Mdl);
}

WSP_EXPORT PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority)
{
	void *va = NULL;

	if (sanverbs_mdl_system_address(Mdl, Priority, &va))
		return NULL;
	return va;
}

WSP_EXPORT HANDLE MmSecureVirtualMemory(PVOID Address, SIZE_T Size,
					ULONG ProbeMode)
{
	struct sanverbs_secure *h;
	int prot;

	/* Windows' winnt.h values: PAGE_READONLY 0x02, PAGE_READWRITE 0x04 */
	if (ProbeMode == 0x02)
		prot = PROT_READ;
	else if (ProbeMode == 0x04)
		prot = PROT_READ | PROT_WRITE;
	else
		return NULL;
	if (sanverbs_secure_memory_prot(ctx_for_shims(), Address, Size, prot,
					&h))
		return NULL;
	return h;
}

WSP_EXPORT void MmUnsecureVirtualMemory(HANDLE SecureHandle)
{
	sanverbs_unsecure_memory(SecureHandle);
}

/* 2^n - 1 covering @highest, the DMA mask the low-memory API takes. */
static uint64_t mask_of(int64_t highest)
{
	uint64_t m = 0;

	while (m < (uint64_t)highest)
		m = (m << 1) | 1;
	return m;
}

WSP_EXPORT PVOID MmAllocateContiguousMemorySpecifyCache(
	SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
	PHYSICAL_ADDRESS HighestAcceptableAddress,
	PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType)
{
	struct contig *c;
	uint64_t mask;

	if (!NumberOfBytes || LowestAcceptableAddress.QuadPart ||
	    BoundaryAddressMultiple.QuadPart ||
	    HighestAcceptableAddress.QuadPart < (int64_t)0xffffffff)
		return NULL;
	mask = mask_of(HighestAcceptableAddress.QuadPart);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (sanverbs_lowmem_alloc(NumberOfBytes, mask,
				  SANVERBS_LOWMEM_CONTIGUOUS, &c->lm)) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&contig_lock);
	c->next = contigs;
	contigs = c;
	pthread_mutex_unlock(&contig_lock);
	return sanverbs_lowmem_addr(c->lm);
}

WSP_EXPORT void MmFreeContiguousMemory(PVOID BaseAddress)
{
	struct contig **pp, *c = NULL;

	pthread_mutex_lock(&contig_lock);
	for (pp = &contigs; *pp; pp = &(*pp)->next) {
		if (sanverbs_lowmem_addr((*pp)->lm) == BaseAddress) {
			c = *pp;
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&contig_lock);
	if (c) {
		sanverbs_lowmem_free(c->lm);
		free(c);
	}
}
