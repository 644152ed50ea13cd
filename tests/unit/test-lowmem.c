/* SPDX-License-Identifier: MIT */
/* Description: sanverbs_lowmem_* without the kernel module (forced with
 * SANVERBS_KMOD_DEV pointing nowhere). A mask that covers every physical
 * address gets resident, zeroed, mlock()ed pages and says so; a 32-bit mask
 * or a contiguous request is -EOPNOTSUPP; bad arguments are -EINVAL and
 * never crash; sanverbs_kmod_version() reports the module missing. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sv-test.h"

START_TEST(fallback_pinned_pages)
{
	struct sanverbs_lowmem *b;
	uint64_t phys;
	uint8_t *p;
	size_t i;

	ck_assert_int_eq(sanverbs_lowmem_alloc(5000, SANVERBS_DMA_MASK_64, 0, &b),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_PINNED);
	ck_assert_uint_eq(sanverbs_lowmem_length(b),
			  2 * (size_t)sysconf(_SC_PAGESIZE));
	p = sanverbs_lowmem_addr(b);
	for (i = 0; i < sanverbs_lowmem_length(b); i++)
		ck_assert_int_eq(p[i], 0);
	memset(p, 0xab, sanverbs_lowmem_length(b));
	ck_assert_int_eq(sanverbs_lowmem_phys(b, &phys), -EPERM);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_ANY, 0,
					       &b),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
}
END_TEST

START_TEST(fallback_refuses_what_needs_the_module)
{
	struct sanverbs_lowmem *b = (void *)1;

	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_32, 0, &b),
			 -EOPNOTSUPP);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, (1ULL << 40) - 1, 0, &b),
			 -EOPNOTSUPP);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_64,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 -EOPNOTSUPP);
	ck_assert_int_eq(sanverbs_kmod_version(), -ENODEV);
}
END_TEST

START_TEST(bad_arguments)
{
	struct sanverbs_lowmem *b = (void *)1;
	uint64_t phys;

	ck_assert_int_eq(sanverbs_lowmem_alloc(0, SANVERBS_DMA_MASK_64, 0, &b),
			 -EINVAL);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(sanverbs_lowmem_alloc(SIZE_MAX, SANVERBS_DMA_MASK_64, 0,
					       &b),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, 0xffffff, 0, &b), -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, 0x100000000ULL, 0, &b),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_64, 0x10,
					       &b),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_alloc(4096, SANVERBS_DMA_MASK_64, 0,
					       NULL),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_free(NULL), -EINVAL);
	ck_assert_ptr_null(sanverbs_lowmem_addr(NULL));
	ck_assert_uint_eq(sanverbs_lowmem_length(NULL), 0);
	ck_assert_int_eq(sanverbs_lowmem_source(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_phys(NULL, &phys), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lowmem");
	TCase *tc = tcase_create("fallback");

	/* Whatever this machine has, test the module-free path. */
	setenv("SANVERBS_KMOD_DEV", "/nonexistent/sanverbs", 1);
	tcase_add_test(tc, fallback_pinned_pages);
	tcase_add_test(tc, fallback_refuses_what_needs_the_module);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
