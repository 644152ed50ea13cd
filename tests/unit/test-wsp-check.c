/* SPDX-License-Identifier: MIT */
/* Description: the WSP descriptor and buffer-list checks (wsp_check_rdma),
 * a pure function, on the host: a good request passes with its total; a
 * local buffer whose distance into its registration plus its length wraps
 * 64 bits is refused (it passed the old `b - a + len > mr_len` check and
 * was posted); a request over 4 GiB - 1 is refused instead of reporting a
 * truncated DWORD byte count; unknown and remote-only handles, empty
 * buffers, bad counts, a read into memory the device may not write,
 * garbage descriptors, spans past the region and a missing access are each
 * refused with their WSA code. */
#include <stdint.h>
#include <string.h>

#include "sanverbs/ws2san.h"
#include "sv-test.h"
#include "wsp_check.h"

static unsigned char desc[SANVERBS_DESC_SIZE];

static void make_desc(uint64_t len, uint32_t access)
{
	struct sanverbs_desc d = { 0x7f0000000000ull, len, 0x1234, access };
	size_t n = sizeof(desc);

	ck_assert_int_eq(sanverbs_desc_encode(&d, desc, &n), 0);
}

static int check(const struct wsp_chk_buf *b, uint32_t n, uint32_t off,
		 int is_read, uint64_t *total)
{
	struct sanverbs_desc d;
	uint64_t t = 0;
	int ret = wsp_check_rdma(b, n, desc, sizeof(desc), off, is_read, &d,
				 &t);

	if (total)
		*total = t;
	return ret;
}

START_TEST(good_request)
{
	struct wsp_chk_reg r = { 0x10000, 0x10000,
				 SANVERBS_ACCESS_LOCAL_WRITE, 0 };
	struct wsp_chk_buf b[2] = { { 0x10000, 0x1000, &r },
				    { 0x1f000, 0x1000, &r } };
	uint64_t total;

	make_desc(1 << 20, SANVERBS_ACCESS_REMOTE_WRITE |
				   SANVERBS_ACCESS_REMOTE_READ);
	ck_assert_int_eq(check(b, 2, 0, 0, &total), 0);
	ck_assert_uint_eq(total, 0x2000);
	ck_assert_int_eq(check(b, 2, (1 << 20) - 0x2000, 1, &total), 0);
}
END_TEST

START_TEST(local_bound_does_not_wrap)
{
	/* b - a + len == 2^64 == 0: the old check let it through */
	struct wsp_chk_reg r = { 0x1000, 0x2000, 0, 0 };
	struct wsp_chk_buf b = { 0x1000 - (uint64_t)0xffffffffu, 0xffffffffu,
				 &r };

	make_desc(UINT64_MAX / 2, SANVERBS_ACCESS_REMOTE_WRITE);
	ck_assert_uint_ge(b.buf, r.addr);
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEFAULT);
	/* one byte past the end, and exactly to the end */
	b = (struct wsp_chk_buf){ 0x2001, 0x2000, &r };
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEFAULT);
	b = (struct wsp_chk_buf){ 0x2000, 0x1000, &r };
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), 0);
	b = (struct wsp_chk_buf){ 0xfff, 0x10, &r };
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEFAULT);
}
END_TEST

START_TEST(total_over_4gib)
{
	struct wsp_chk_reg r = { 0x1000, 1ull << 40, 0, 0 };
	struct wsp_chk_buf b[2] = { { 0x1000, 0x80000000u, &r },
				    { 0x80001000u, 0x80000000u, &r } };
	uint64_t total;

	make_desc(1ull << 40, SANVERBS_ACCESS_REMOTE_WRITE);
	ck_assert_int_eq(check(b, 2, 0, 0, NULL), WSAEMSGSIZE);
	b[1].len = 0x7fffffffu;
	ck_assert_int_eq(check(b, 2, 0, 0, &total), 0);
	ck_assert_uint_eq(total, 0xffffffffu);
}
END_TEST

START_TEST(refusals)
{
	struct wsp_chk_reg r = { 0x10000, 0x10000, 0, 0 };
	struct wsp_chk_reg rd = { 0x10000, 0x10000, 0, 1 };
	struct wsp_chk_buf b = { 0x10000, 0x100, &r }, many[33];
	unsigned char junk[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d;
	uint64_t t;
	int i;

	make_desc(0x1000, SANVERBS_ACCESS_REMOTE_WRITE);
	b.reg = NULL;
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEINVAL);
	b.reg = &rd;
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEINVAL);
	b.reg = &r;
	b.len = 0;
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEFAULT);
	b.len = 0x100;
	ck_assert_int_eq(check(&b, 0, 0, 0, NULL), WSAEINVAL);
	for (i = 0; i < 33; i++) {
		many[i] = b;
		many[i].len = 0x80; /* 32 of them fill the region */
	}
	ck_assert_int_eq(check(many, 33, 0, 0, NULL), WSAEINVAL);
	ck_assert_int_eq(check(many, 32, 0, 0, NULL), 0);
	/* a read lands in local memory: LOCAL_WRITE needed */
	make_desc(0x1000, SANVERBS_ACCESS_REMOTE_READ);
	ck_assert_int_eq(check(&b, 1, 0, 1, NULL), WSAEINVAL);
	r.access = SANVERBS_ACCESS_LOCAL_WRITE;
	ck_assert_int_eq(check(&b, 1, 0, 1, NULL), 0);
	/* the descriptor grants reads only */
	ck_assert_int_eq(check(&b, 1, 0, 0, NULL), WSAEACCES);
	/* the span leaves the region */
	ck_assert_int_eq(check(&b, 1, 0x1000 - 0xff, 1, NULL), WSAEFAULT);
	ck_assert_int_eq(check(&b, 1, 0xffffffffu, 1, NULL), WSAEFAULT);
	/* not a descriptor, or a short one */
	memset(junk, 0xa5, sizeof(junk));
	ck_assert_int_eq(wsp_check_rdma(&b, 1, junk, sizeof(junk), 0, 1, &d,
					&t),
			 WSAEINVAL);
	ck_assert_int_eq(wsp_check_rdma(&b, 1, desc, 31, 0, 1, &d, &t),
			 WSAEINVAL);
	ck_assert_int_eq(wsp_check_rdma(NULL, 1, desc, 32, 0, 1, &d, &t),
			 WSAEINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wsp-check");
	TCase *tc = tcase_create("checks");

	tcase_add_test(tc, good_request);
	tcase_add_test(tc, local_bound_does_not_wrap);
	tcase_add_test(tc, total_over_4gib);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
