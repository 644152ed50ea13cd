/* SPDX-License-Identifier: MIT */
/* Description: sanverbs_ctx_attr_init() applies the documented defaults and
 * the SANVERBS_* environment overrides, and rejects values that do not parse
 * instead of silently using a default. */
#include <errno.h>
#include <stdlib.h>

#include "sv-test.h"

START_TEST(defaults)
{
	struct sanverbs_ctx_attr a;

	unsetenv("SANVERBS_DEVICE");
	unsetenv("SANVERBS_MONITOR");
	unsetenv("SANVERBS_CACHE_MAX_ENTRIES");
	unsetenv("SANVERBS_CACHE_MAX_BYTES");
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	ck_assert_ptr_null(a.device);
	ck_assert_int_eq(a.port, 0);
	ck_assert_int_eq(a.monitor, SANVERBS_MONITOR_AUTO);
	ck_assert_uint_eq(a.cache_max_entries, 16384);
	ck_assert_uint_eq(a.cache_max_bytes, 1ull << 30);
	ck_assert_uint_eq(a.flags, 0);
}
END_TEST

START_TEST(env_overrides)
{
	struct sanverbs_ctx_attr a;

	setenv("SANVERBS_DEVICE", "rxe7", 1);
	setenv("SANVERBS_MONITOR", "NONE", 1);
	setenv("SANVERBS_CACHE_MAX_ENTRIES", "100", 1);
	setenv("SANVERBS_CACHE_MAX_BYTES", "64M", 1);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	ck_assert_str_eq(a.device, "rxe7");
	ck_assert_int_eq(a.monitor, SANVERBS_MONITOR_NONE);
	ck_assert_uint_eq(a.cache_max_entries, 100);
	ck_assert_uint_eq(a.cache_max_bytes, 64ull << 20);

	setenv("SANVERBS_MONITOR", "uffd", 1);
	setenv("SANVERBS_CACHE_MAX_BYTES", "0x1000", 1);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	ck_assert_int_eq(a.monitor, SANVERBS_MONITOR_UFFD);
	ck_assert_uint_eq(a.cache_max_bytes, 4096);
}
END_TEST

START_TEST(env_garbage)
{
	static const char *const bad_sizes[] = {
		"", "-1", "12Q", "1GG", "99999999999999999999", "99999999999T",
	};
	struct sanverbs_ctx_attr a;
	size_t i;

	unsetenv("SANVERBS_MONITOR");
	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		setenv("SANVERBS_CACHE_MAX_BYTES", bad_sizes[i], 1);
		ck_assert_msg(sanverbs_ctx_attr_init(&a) == -EINVAL,
			      "accepted \"%s\"", bad_sizes[i]);
	}
	unsetenv("SANVERBS_CACHE_MAX_BYTES");
	setenv("SANVERBS_MONITOR", "sometimes", 1);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), -EINVAL);
	unsetenv("SANVERBS_MONITOR");
	ck_assert_int_eq(sanverbs_ctx_attr_init(NULL), -EINVAL);
}
END_TEST

START_TEST(strerror_codes)
{
	ck_assert_str_eq(sanverbs_strerror(0), "Success");
	ck_assert_str_eq(sanverbs_strerror(-ENOMEM), "Cannot allocate memory");
	ck_assert_ptr_nonnull(sanverbs_strerror(5));
	ck_assert_ptr_nonnull(sanverbs_strerror(-100000));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("attr");
	TCase *tc = tcase_create("attr");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, env_overrides);
	tcase_add_test(tc, env_garbage);
	tcase_add_test(tc, strerror_codes);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
