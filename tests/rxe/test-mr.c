/* SPDX-License-Identifier: MIT */
/* Description: registrations move real bytes on rxe. A peer QP RDMA-writes
 * into a registered buffer (every byte checked), RDMA-reads from it, is
 * refused by the device when the access was not granted, and is refused once
 * the registration is dropped. Bad arguments never reach the device. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sv-test.h"

#define LEN (256 * 1024 + 123) /* not page-aligned on purpose */

static struct sanverbs_ctx *ctx;
static struct sv_qp_pair pair;
static uint8_t *src, *dst;
static struct sanverbs_mr *src_mr;

static void setup(void)
{
	ctx = sv_test_ctx_open();
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	src = malloc(LEN);
	dst = malloc(LEN);
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr),
			 0);
}

static void teardown(void)
{
	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&pair);
	free(src);
	free(dst);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}

START_TEST(write_every_byte)
{
	struct sanverbs_mr *mr;

	memset(dst, 0xee, LEN);
	sv_fill_pattern(src, LEN, 1);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr),
			 0);
	ck_assert_ptr_eq(sanverbs_mr_addr(mr), dst);
	ck_assert_uint_eq(sanverbs_mr_length(mr), LEN);
	ck_assert(sanverbs_mr_access(mr) & SANVERBS_ACCESS_LOCAL_WRITE);
	ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr),
				       LEN, (uintptr_t)dst,
				       sanverbs_mr_rkey(mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, 1), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
}
END_TEST

START_TEST(read_every_byte)
{
	struct sanverbs_mr *mr;

	sv_fill_pattern(dst, LEN, 2);
	memset(src, 0, LEN);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_READ, &mr),
			 0);
	ck_assert_int_eq(sv_rdma_read(&pair, src, sanverbs_mr_lkey(src_mr), LEN,
				      (uintptr_t)dst, sanverbs_mr_rkey(mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(src, LEN, 2), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
}
END_TEST

START_TEST(access_enforced_by_device)
{
	struct sanverbs_mr *mr;

	memset(dst, 0x5a, LEN);
	sv_fill_pattern(src, LEN, 3);
	/* read-only for the peer: its write must be refused */
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_READ, &mr),
			 0);
	ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr),
				       4096, (uintptr_t)dst,
				       sanverbs_mr_rkey(mr)),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(dst[0], 0x5a);
	ck_assert_int_eq(dst[4095], 0x5a);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sv_qp_pair_reset(&pair), 0);

	/* write-only for the peer: its read must be refused */
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr),
			 0);
	ck_assert_int_eq(sv_rdma_read(&pair, src, sanverbs_mr_lkey(src_mr),
				      4096, (uintptr_t)dst,
				      sanverbs_mr_rkey(mr)),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
}
END_TEST

START_TEST(rkey_refused_after_dereg)
{
	struct sanverbs_mr *mr;
	uint32_t rkey;

	memset(dst, 0x77, LEN);
	sv_fill_pattern(src, LEN, 4);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr),
			 0);
	rkey = sanverbs_mr_rkey(mr);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr),
				       LEN, (uintptr_t)dst, rkey),
			 IBV_WC_REM_ACCESS_ERR);
	ck_assert_int_eq(dst[0], 0x77);
	ck_assert_int_eq(dst[LEN - 1], 0x77);
}
END_TEST

START_TEST(bad_args_on_device)
{
	struct sanverbs_mr *mr = (struct sanverbs_mr *)0x1;
	void *hole;

	ck_assert_int_eq(sanverbs_mr_reg(ctx, NULL, 64, 0, &mr), -EINVAL);
	ck_assert_ptr_null(mr);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, 0, 0, &mr), -EINVAL);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, (void *)(UINTPTR_MAX - 10), 64, 0,
					 &mr),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, 64, 1u << 8, &mr), -EINVAL);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, 64, 0, NULL), -EINVAL);

	/* an unmapped hole: the kernel's pinning fails, we report -EFAULT */
	hole = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(hole, MAP_FAILED);
	ck_assert_int_eq(munmap(hole, 1 << 20), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, hole, 1 << 20,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 -EFAULT);
	ck_assert_ptr_null(mr);
}
END_TEST

START_TEST(ctx_reports_device)
{
	const char *want = getenv("SANVERBS_RXE_DEV");

	ck_assert_ptr_nonnull(sanverbs_ctx_verbs(ctx));
	ck_assert_ptr_nonnull(sanverbs_ctx_pd(ctx));
	ck_assert_int_ge(sanverbs_ctx_port(ctx), 1);
	if (want)
		ck_assert_str_eq(sanverbs_ctx_device_name(ctx), want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mr");
	TCase *tc = tcase_create("rxe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, write_every_byte);
	tcase_add_test(tc, read_every_byte);
	tcase_add_test(tc, access_enforced_by_device);
	tcase_add_test(tc, rkey_refused_after_dereg);
	tcase_add_test(tc, bad_args_on_device);
	tcase_add_test(tc, ctx_reports_device);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
