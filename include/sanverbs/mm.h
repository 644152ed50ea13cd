/* SPDX-License-Identifier: MIT */
/**
 * @file mm.h
 * @brief Windows kernel memory-manager names (Mm*, IoAllocateMdl) over the
 * sanverbs MDL, cache and low-memory APIs, so ported proxy-driver logic
 * compiles with few changes (libsanverbs-provider).
 *
 * Differences a port must know: Windows raises an exception from
 * MmProbeAndLockPages(); here it returns an NTSTATUS (STATUS_SUCCESS or
 * STATUS_ACCESS_VIOLATION / STATUS_INSUFFICIENT_RESOURCES) and never faults,
 * so `__try { MmProbeAndLockPages(...); } __except` becomes a status check.
 * The other calls keep their Windows return conventions (NULL on failure).
 */
#ifndef SANVERBS_MM_H
#define SANVERBS_MM_H

#include <stddef.h>
#include <stdint.h>

#include <sanverbs.h>
#include <sanverbs/ws2san.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t NTSTATUS;
typedef uint32_t ULONG;
typedef unsigned char BOOLEAN;
typedef struct sanverbs_mdl MDL, *PMDL;

#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#define STATUS_ACCESS_VIOLATION ((NTSTATUS)0xC0000005)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000D)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009A)
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BB)
#define STATUS_DEVICE_BUSY ((NTSTATUS)0x80000011)

typedef enum _KPROCESSOR_MODE { KernelMode = 0, UserMode = 1 } KPROCESSOR_MODE;
typedef enum _LOCK_OPERATION {
	IoReadAccess = 0,
	IoWriteAccess = 1,
	IoModifyAccess = 2,
} LOCK_OPERATION;
typedef enum _MM_PAGE_PRIORITY {
	LowPagePriority = 0,
	NormalPagePriority = 16,
	HighPagePriority = 32,
} MM_PAGE_PRIORITY;
#define MdlMappingNoWrite 0x80000000u
#define MdlMappingNoExecute 0x40000000u
typedef enum _MEMORY_CACHING_TYPE {
	MmNonCached = 0,
	MmCached = 1,
	MmWriteCombined = 2,
} MEMORY_CACHING_TYPE;
typedef union _LARGE_INTEGER {
	int64_t QuadPart;
} LARGE_INTEGER, PHYSICAL_ADDRESS;

/** The context the shims use to pin MDL pages on the HCA and to watch
 *  secured memory; without one, the first context the WSP layer opened. */
void MmSanverbsSetContext(struct sanverbs_ctx *ctx);

/** IoAllocateMdl: describe a buffer (SecondaryBuffer, ChargeQuota and Irp
 *  are ignored). NULL on failure. */
PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
		   BOOLEAN ChargeQuota, void *Irp);
/** IoFreeMdl. */
void IoFreeMdl(PMDL Mdl);
/** MmProbeAndLockPages, returning what Windows would raise. */
NTSTATUS MmProbeAndLockPages(PMDL Mdl, KPROCESSOR_MODE AccessMode,
			     LOCK_OPERATION Operation);
/** MmUnlockPages. */
void MmUnlockPages(PMDL Mdl);
/** MmGetSystemAddressForMdlSafe: a second mapping, NULL on failure. */
PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority);
/** MmSecureVirtualMemory: a handle, NULL on failure. ProbeMode is
 *  PAGE_READONLY (0x02) or PAGE_READWRITE (0x04): the range must allow it
 *  now, and the cache callback fires when it is freed or its protection
 *  drops below it (sanverbs_secure_memory_prot()); any other mode: NULL. */
HANDLE MmSecureVirtualMemory(PVOID Address, SIZE_T Size, ULONG ProbeMode);
/** MmUnsecureVirtualMemory. */
void MmUnsecureVirtualMemory(HANDLE SecureHandle);
/** MmAllocateContiguousMemorySpecifyCache: physically contiguous memory
 *  below HighestAcceptableAddress (needs /dev/sanverbs); NULL on failure.
 *  LowestAcceptableAddress must be 0, BoundaryAddressMultiple 0. */
PVOID MmAllocateContiguousMemorySpecifyCache(
	SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
	PHYSICAL_ADDRESS HighestAcceptableAddress,
	PHYSICAL_ADDRESS BoundaryAddressMultiple, MEMORY_CACHING_TYPE CacheType);
/** MmFreeContiguousMemory. */
void MmFreeContiguousMemory(PVOID BaseAddress);

#ifdef __cplusplus
}
#endif

#endif /* SANVERBS_MM_H */
