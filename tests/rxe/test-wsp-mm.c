/* SPDX-License-Identifier: MIT */
/* Description: the Mm* / IoAllocateMdl shims a ported proxy driver calls.
 * An MDL probed and locked for write returns STATUS_SUCCESS and its pinned
 * pages feed an RDMA write on rxe (every byte checked); read-only and
 * unmapped memory give STATUS_ACCESS_VIOLATION instead of a fault;
 * MmGetSystemAddressForMdlSafe gives an alias that sees the same bytes when
 * /dev/sanverbs is loaded and NULL without it; MmSecureVirtualMemory
 * works when the context has a monitor; contiguous low memory (module
 * loaded) lies below 4 GiB and carries an RDMA write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sanverbs/mm.h"
#include "sv-test.h"

#define LEN (64 * 1024)

static struct sanverbs_ctx *ctx;
static struct sv_qp_pair pair;

static void setup(void)
{
	ctx = sv_test_ctx_open();
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	MmSanverbsSetContext(ctx);
}

static void teardown(void)
{
	MmSanverbsSetContext(NULL);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}

START_TEST(probe_lock_and_rdma)
{
	unsigned char *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *dst = calloc(1, LEN);
	struct sanverbs_mr *dmr;
	unsigned char *alias;
	PMDL mdl;

	ck_assert_ptr_ne(buf, MAP_FAILED);
	mdl = IoAllocateMdl(buf, LEN, 0, 0, NULL);
	ck_assert_ptr_nonnull(mdl);
	ck_assert_int_eq(MmProbeAndLockPages(mdl, UserMode, IoWriteAccess),
			 STATUS_SUCCESS);
	sv_fill_pattern(buf, LEN, 31);
	/* the locked pages are pinned on the HCA: its lkey moves them */
	ck_assert_uint_ne(sanverbs_mdl_lkey(mdl), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &dmr),
			 0);
	ck_assert_int_eq(sv_rdma_write(&pair, buf, sanverbs_mdl_lkey(mdl), LEN,
				       (uintptr_t)dst, sanverbs_mr_rkey(dmr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, 31), -1);
	alias = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority |
							  MdlMappingNoExecute);
	if (sanverbs_kmod_version() > 0) {
		ck_assert_ptr_nonnull(alias);
		ck_assert_int_eq(sv_check_pattern(alias, LEN, 31), -1);
		buf[100] ^= 0xff;
		ck_assert_uint_eq(alias[100], buf[100]);
	} else {
		/* plain anonymous memory needs the module for a second map */
		ck_assert_ptr_null(alias);
	}
	MmUnlockPages(mdl);
	IoFreeMdl(mdl);
	ck_assert_int_eq(sanverbs_mr_dereg(dmr), 0);
	munmap(buf, LEN);
	free(dst);
}
END_TEST

START_TEST(access_violation_is_a_status)
{
	unsigned char *ro = mmap(NULL, LEN, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *gone = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	PMDL mdl;

	ck_assert_ptr_ne(ro, MAP_FAILED);
	ck_assert_ptr_ne(gone, MAP_FAILED);
	munmap(gone, LEN);
	mdl = IoAllocateMdl(ro, LEN, 0, 0, NULL);
	ck_assert_int_eq(MmProbeAndLockPages(mdl, UserMode, IoWriteAccess),
			 STATUS_ACCESS_VIOLATION);
	ck_assert_int_eq(MmProbeAndLockPages(mdl, UserMode, IoReadAccess),
			 STATUS_SUCCESS);
	MmUnlockPages(mdl);
	IoFreeMdl(mdl);
	mdl = IoAllocateMdl(gone, LEN, 0, 0, NULL);
	ck_assert_int_eq(MmProbeAndLockPages(mdl, UserMode, IoReadAccess),
			 STATUS_ACCESS_VIOLATION);
	IoFreeMdl(mdl);
	ck_assert_int_eq(MmProbeAndLockPages(NULL, UserMode, IoReadAccess),
			 STATUS_INVALID_PARAMETER);
	munmap(ro, LEN);
}
END_TEST

START_TEST(secure_virtual_memory)
{
	struct sanverbs_cache_stats st;
	unsigned char *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	HANDLE h;

	ck_assert_ptr_ne(buf, MAP_FAILED);
	memset(buf, 1, LEN);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &st), 0);
	h = MmSecureVirtualMemory(buf, LEN, 0x04 /* PAGE_READWRITE */);
	if (st.monitor == SANVERBS_MONITOR_NONE)
		ck_assert_ptr_null(h);
	else
		ck_assert_ptr_nonnull(h);
	if (h)
		MmUnsecureVirtualMemory(h);
	ck_assert_ptr_null(MmSecureVirtualMemory(NULL, LEN, 0x04));
	/* the probe mode is probed: read-only memory is not PAGE_READWRITE */
	ck_assert_int_eq(mprotect(buf, LEN, PROT_READ), 0);
	ck_assert_ptr_null(MmSecureVirtualMemory(buf, LEN, 0x04));
	h = MmSecureVirtualMemory(buf, LEN, 0x02 /* PAGE_READONLY */);
	if (st.monitor != SANVERBS_MONITOR_NONE)
		ck_assert_ptr_nonnull(h);
	if (h)
		MmUnsecureVirtualMemory(h);
	ck_assert_int_eq(mprotect(buf, LEN, PROT_NONE), 0);
	ck_assert_ptr_null(MmSecureVirtualMemory(buf, LEN, 0x02));
	ck_assert_ptr_null(MmSecureVirtualMemory(buf, LEN, 0)); /* no mode */
	munmap(buf, LEN);
}
END_TEST

START_TEST(contiguous_low_memory)
{
	PHYSICAL_ADDRESS zero = { 0 }, high = { 0xffffffff };
	struct sanverbs_mr *mr;
	unsigned char *src = malloc(LEN), *p;

	p = MmAllocateContiguousMemorySpecifyCache(LEN, zero, high, zero,
						   MmCached);
	if (sanverbs_kmod_version() <= 0) {
		ck_assert_ptr_null(p);
		free(src);
		return;
	}
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr),
			 0);
	{
		struct sanverbs_mr *smr;

		sv_fill_pattern(src, LEN, 17);
		ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN, 0, &smr), 0);
		ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(smr),
					       LEN, (uintptr_t)p,
					       sanverbs_mr_rkey(mr)),
				 IBV_WC_SUCCESS);
		ck_assert_int_eq(sv_check_pattern(p, LEN, 17), -1);
		ck_assert_int_eq(sanverbs_mr_dereg(smr), 0);
	}
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	MmFreeContiguousMemory(p);
	/* a lowest address or boundary is not supported: NULL, no crash */
	high.QuadPart = 0x7fffffff;
	ck_assert_ptr_null(MmAllocateContiguousMemorySpecifyCache(LEN, zero,
								  high, zero,
								  MmCached));
	free(src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wsp-mm");
	TCase *tc = tcase_create("shims");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, probe_lock_and_rdma);
	tcase_add_test(tc, access_violation_is_a_status);
	tcase_add_test(tc, secure_virtual_memory);
	tcase_add_test(tc, contiguous_low_memory);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
