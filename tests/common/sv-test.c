/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sv-test.h"

void *sv_test_map_hint(size_t len)
{
	static uintptr_t next = 0x3f0000000000ul;
	void *at = (void *)next;

	if (!SV_TEST_ASAN)
		return NULL;
	next += (len + (4ul << 20)) & ~((2ul << 20) - 1);
	return at;
}

void *sv_test_map(void *at, size_t len, int flags)
{
	void *p;

	if (!at)
		at = sv_test_map_hint(len);
	p = mmap(at, len, PROT_READ | PROT_WRITE,
		 flags | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	if (at)
		ck_assert_ptr_eq(p, at);
	return p;
}

int sv_test_run(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Opens the test device; exits 77 (skip) when there is none. Uses no
 * ck_assert so it also works outside a running test. */
static int open_test_ctx(struct sanverbs_ctx **ctx)
{
	struct sanverbs_ctx_attr attr;
	int ret;

	ret = sanverbs_ctx_attr_init(&attr);
	if (ret)
		return ret;
	if (!attr.device)
		attr.device = getenv("SANVERBS_RXE_DEV");
	ret = sanverbs_ctx_open(&attr, ctx);
	if (ret == -ENODEV) {
		printf("SKIP: no RDMA device with an active port (%s); run the "
		       "suite through tests/vm/run.sh to get rxe0\n",
		       attr.device ? attr.device : "any device");
		exit(SV_TEST_SKIP);
	}
	return ret;
}

int sv_test_run_rxe(Suite *suite)
{
	struct sanverbs_ctx *ctx;
	int ret = open_test_ctx(&ctx);

	if (ret) {
		fprintf(stderr, "cannot open the RDMA device: %s\n",
			sanverbs_strerror(ret));
		return EXIT_FAILURE;
	}
	sanverbs_ctx_close(ctx);
	return sv_test_run(suite);
}

struct sanverbs_ctx *sv_test_ctx_open(void)
{
	struct sanverbs_ctx *ctx = NULL;
	int ret = open_test_ctx(&ctx);

	ck_assert_msg(ret == 0, "sanverbs_ctx_open: %s", sanverbs_strerror(ret));
	return ctx;
}

/* xorshift32: cheap, and a shifted or stale buffer never matches by luck. */
static uint8_t pattern_byte(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return (uint8_t)(x >> 24);
}

void sv_fill_pattern(void *buf, size_t len, uint32_t seed)
{
	uint32_t s = seed ? seed : 0x9e3779b9u;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern_byte(&s);
}

long sv_check_pattern(const void *buf, size_t len, uint32_t seed)
{
	uint32_t s = seed ? seed : 0x9e3779b9u;
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern_byte(&s))
			return (long)i;
	return -1;
}
