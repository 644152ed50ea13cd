/* SPDX-License-Identifier: MIT */
/* Description: the remote-descriptor wire format. Encoding round-trips in
 * network byte order; a short buffer gets -ENOSPC and the size it needs; a
 * forged, truncated, wrong-version, empty, wrapping or access-less
 * descriptor is rejected with a distinct error and never half-parsed; span
 * checks catch every offset+length that leaves the region, overflow
 * included. Pure logic: no device. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sv-test.h"

static const struct sanverbs_desc good = {
	.addr = 0x00007f0012345678ull,
	.len = 16u << 20,
	.rkey = 0xabcdef01u,
	.access = SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ,
};

static void encode_good(unsigned char *buf)
{
	size_t size = SANVERBS_DESC_SIZE;

	ck_assert_int_eq(sanverbs_desc_encode(&good, buf, &size), 0);
	ck_assert_uint_eq(size, SANVERBS_DESC_SIZE);
}

START_TEST(round_trip_network_order)
{
	unsigned char buf[SANVERBS_DESC_SIZE + 1];
	struct sanverbs_desc d;
	uint32_t magic;

	encode_good(buf + 1); /* unaligned on purpose */
	memcpy(&magic, buf + 1, 4);
	ck_assert_uint_eq(ntohl(magic), SANVERBS_DESC_MAGIC);
	ck_assert_uint_eq(buf[1 + 8], 0x00); /* high byte of addr first */
	ck_assert_uint_eq(buf[1 + 15], 0x78);
	ck_assert_int_eq(sanverbs_desc_parse(buf + 1, SANVERBS_DESC_SIZE, &d), 0);
	ck_assert_uint_eq(d.addr, good.addr);
	ck_assert_uint_eq(d.len, good.len);
	ck_assert_uint_eq(d.rkey, good.rkey);
	ck_assert_uint_eq(d.access, good.access);
}
END_TEST

START_TEST(encode_too_small_reports_size)
{
	unsigned char buf[SANVERBS_DESC_SIZE];
	size_t size = 7;

	memset(buf, 0x5a, sizeof(buf));
	ck_assert_int_eq(sanverbs_desc_encode(&good, buf, &size), -ENOSPC);
	ck_assert_uint_eq(size, SANVERBS_DESC_SIZE);
	ck_assert_uint_eq(buf[0], 0x5a);
	size = 0;
	ck_assert_int_eq(sanverbs_desc_encode(&good, NULL, &size), -ENOSPC);
	ck_assert_uint_eq(size, SANVERBS_DESC_SIZE);
}
END_TEST

START_TEST(encode_refuses_what_parse_would)
{
	unsigned char buf[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d = good;
	size_t size = sizeof(buf);

	ck_assert_int_eq(sanverbs_desc_encode(NULL, buf, &size), -EINVAL);
	ck_assert_int_eq(sanverbs_desc_encode(&good, buf, NULL), -EINVAL);
	d.len = 0;
	ck_assert_int_eq(sanverbs_desc_encode(&d, buf, &size), -EINVAL);
	d = good;
	d.addr = UINT64_MAX - 10;
	ck_assert_int_eq(sanverbs_desc_encode(&d, buf, &size), -EINVAL);
	d = good;
	d.access = 0;
	ck_assert_int_eq(sanverbs_desc_encode(&d, buf, &size), -EINVAL);
	d.access = SANVERBS_ACCESS_LOCAL_WRITE;
	ck_assert_int_eq(sanverbs_desc_encode(&d, buf, &size), -EINVAL);
}
END_TEST

/* Each forgery must fail and leave the output untouched. */
static void expect_reject(const unsigned char *buf, size_t size, int err)
{
	struct sanverbs_desc out;

	memset(&out, 0x77, sizeof(out));
	ck_assert_int_eq(sanverbs_desc_parse(buf, size, &out), err);
	ck_assert_uint_eq(out.rkey, 0x77777777u);
}

START_TEST(truncated)
{
	unsigned char buf[SANVERBS_DESC_SIZE];
	size_t n;

	encode_good(buf);
	for (n = 0; n < SANVERBS_DESC_SIZE; n++)
		expect_reject(buf, n, -EMSGSIZE);
	ck_assert_int_eq(sanverbs_desc_parse(NULL, 32, (void *)buf), -EINVAL);
	ck_assert_int_eq(sanverbs_desc_parse(buf, 32, NULL), -EINVAL);
}
END_TEST

START_TEST(forged_fields)
{
	unsigned char buf[SANVERBS_DESC_SIZE + 8];

	encode_good(buf);
	buf[0] ^= 0x01; /* magic */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);

	encode_good(buf);
	buf[5] = 2; /* version 2 */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EPROTONOSUPPORT);

	encode_good(buf);
	buf[7] = 40; /* claims 40 bytes, only 32 given */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EMSGSIZE);
	expect_reject(buf, sizeof(buf), -EBADMSG); /* 40 given: unknown size */

	encode_good(buf);
	buf[7] = 16; /* claims less than the fields it has */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);

	encode_good(buf);
	memset(buf + 16, 0, 8); /* empty region */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);

	encode_good(buf);
	memset(buf + 8, 0xff, 8); /* addr + len wraps */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);

	encode_good(buf);
	memset(buf + 28, 0, 4); /* no access */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);
	buf[31] = 0x80; /* unknown access bit */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);
	buf[31] = SANVERBS_ACCESS_LOCAL_WRITE; /* local-only bit */
	expect_reject(buf, SANVERBS_DESC_SIZE, -EBADMSG);
}
END_TEST

START_TEST(longer_buffer_is_fine)
{
	unsigned char buf[64];
	struct sanverbs_desc d;

	memset(buf, 0xcc, sizeof(buf));
	encode_good(buf);
	ck_assert_int_eq(sanverbs_desc_parse(buf, sizeof(buf), &d), 0);
	ck_assert_uint_eq(d.rkey, good.rkey);
}
END_TEST

START_TEST(span_checks)
{
	const unsigned int W = SANVERBS_ACCESS_REMOTE_WRITE;
	const unsigned int R = SANVERBS_ACCESS_REMOTE_READ;
	struct sanverbs_desc ro = good;

	ck_assert_int_eq(sanverbs_desc_check(&good, 0, good.len, W), 0);
	ck_assert_int_eq(sanverbs_desc_check(&good, good.len - 1, 1, R), 0);
	ck_assert_int_eq(sanverbs_desc_check(&good, good.len, 1, W), -ERANGE);
	ck_assert_int_eq(sanverbs_desc_check(&good, 1, good.len, W), -ERANGE);
	ck_assert_int_eq(sanverbs_desc_check(&good, UINT64_MAX, 2, W), -ERANGE);
	ck_assert_int_eq(sanverbs_desc_check(&good, 8, UINT64_MAX - 4, W),
			 -ERANGE);
	ck_assert_int_eq(sanverbs_desc_check(&good, 0, 0, W), -EINVAL);
	ck_assert_int_eq(sanverbs_desc_check(&good, 0, 1, 0), -EINVAL);
	ck_assert_int_eq(sanverbs_desc_check(&good, 0, 1, 0x100), -EINVAL);
	ck_assert_int_eq(sanverbs_desc_check(NULL, 0, 1, W), -EINVAL);
	ro.access = R;
	ck_assert_int_eq(sanverbs_desc_check(&ro, 0, 1, W), -EACCES);
	ck_assert_int_eq(sanverbs_desc_check(&ro, 0, 1, R), 0);
}
END_TEST

START_TEST(from_mr_args)
{
	struct sanverbs_desc d;

	ck_assert_int_eq(sanverbs_desc_from_mr(NULL, &d), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("desc");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, round_trip_network_order);
	tcase_add_test(tc, encode_too_small_reports_size);
	tcase_add_test(tc, encode_refuses_what_parse_would);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, forged_fields);
	tcase_add_test(tc, longer_buffer_is_fine);
	tcase_add_test(tc, span_checks);
	tcase_add_test(tc, from_mr_args);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
