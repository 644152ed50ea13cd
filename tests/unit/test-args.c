/* SPDX-License-Identifier: MIT */
/* Description: every public core function rejects bad arguments (NULL
 * handles, zero length, wrapping ranges, unknown access bits, unknown
 * monitor, reserved flags) with -EINVAL before touching any device. */
#include <errno.h>
#include <stdint.h>

#include "sv-test.h"

START_TEST(ctx_args)
{
	struct sanverbs_ctx_attr a;
	struct sanverbs_ctx *ctx = (struct sanverbs_ctx *)0x1;

	ck_assert_int_eq(sanverbs_ctx_open(NULL, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	a.flags = 1;
	ck_assert_int_eq(sanverbs_ctx_open(&a, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	a.monitor = (enum sanverbs_monitor)42;
	ck_assert_int_eq(sanverbs_ctx_open(&a, &ctx), -EINVAL);
	ck_assert_int_eq(sanverbs_ctx_close(NULL), -EINVAL);
	ck_assert_ptr_null(sanverbs_ctx_verbs(NULL));
	ck_assert_ptr_null(sanverbs_ctx_pd(NULL));
	ck_assert_ptr_null(sanverbs_ctx_device_name(NULL));
	ck_assert_int_eq(sanverbs_ctx_port(NULL), 0);
}
END_TEST

START_TEST(mr_args_without_ctx)
{
	struct sanverbs_mr *mr = (struct sanverbs_mr *)0x1;
	char buf[64];

	ck_assert_int_eq(sanverbs_mr_reg(NULL, buf, sizeof(buf), 0, &mr),
			 -EINVAL);
	ck_assert_ptr_null(mr);
	ck_assert_int_eq(sanverbs_mr_dereg(NULL), -EINVAL);
	ck_assert_uint_eq(sanverbs_mr_lkey(NULL), 0);
	ck_assert_uint_eq(sanverbs_mr_rkey(NULL), 0);
	ck_assert_ptr_null(sanverbs_mr_addr(NULL));
	ck_assert_uint_eq(sanverbs_mr_length(NULL), 0);
	ck_assert_uint_eq(sanverbs_mr_access(NULL), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("args");
	TCase *tc = tcase_create("args");

	tcase_add_test(tc, ctx_args);
	tcase_add_test(tc, mr_args_without_ctx);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
