/* SPDX-License-Identifier: MIT */
/* Description: sanverbs' header in the connection manager's private data,
 * the only thing that stands between a peer's bytes and the application's
 * caller/callee data. What is packed parses back byte for byte at every
 * size up to each message's limit; private data without our magic (the
 * zero padding of a peer that sent nothing, a peer that is not sanverbs)
 * is no data; a length past the message's limit or past what arrived, and
 * another version, are refused; at most the claimed bytes are handed out,
 * whatever follows them. */
#include <errno.h>
#include <string.h>

#include "sv-test.h"
#include "ep_pdata.h"
#include "sanverbs.h"

/* What the kernel hands up for a request: the fixed RoCE size, padded. */
#define REQ_ARRIVES (SV_CM_HDR + SANVERBS_EP_REQ_DATA_MAX)

static void packed(struct sv_cm_pdata *pd, size_t n, uint32_t seed,
		   size_t arrives)
{
	uint8_t data[256];

	sv_fill_pattern(data, sizeof(data), seed);
	memset(pd, 0, sizeof(*pd));
	ck_assert_uint_eq(sv_pdata_pack(pd->buf, data, n), SV_CM_HDR + n);
	pd->len = arrives;
}

START_TEST(round_trip_every_size)
{
	static const size_t max[] = { SANVERBS_EP_REQ_DATA_MAX,
				      SANVERBS_EP_ACCEPT_DATA_MAX,
				      SANVERBS_EP_REJECT_DATA_MAX };
	struct sv_cm_pdata pd;
	const uint8_t *d;
	size_t i, n, len;

	for (i = 0; i < 3; i++) {
		for (n = 0; n <= max[i]; n++) {
			packed(&pd, n, (uint32_t)n, SV_CM_HDR + max[i]);
			ck_assert_int_eq(sv_pdata_parse(&pd, max[i], &d, &len),
					 0);
			ck_assert_uint_eq(len, n);
			ck_assert_ptr_eq(d, pd.buf + SV_CM_HDR);
			ck_assert_int_eq(sv_check_pattern(d, len, (uint32_t)n),
					 -1);
		}
	}
	/* the transport's padding after the data is not data */
	packed(&pd, 3, 9, REQ_ARRIVES);
	ck_assert_int_eq(sv_pdata_parse(&pd, SANVERBS_EP_REQ_DATA_MAX, &d,
					&len), 0);
	ck_assert_uint_eq(len, 3);
}
END_TEST

START_TEST(no_header_is_no_data)
{
	struct sv_cm_pdata pd;
	const uint8_t *d = (const uint8_t *)1;
	size_t len = 99;

	/* nothing at all, zero padding, a foreign peer's bytes, too short */
	memset(&pd, 0, sizeof(pd));
	ck_assert_int_eq(sv_pdata_parse(&pd, 52, &d, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(d);
	pd.len = REQ_ARRIVES;
	ck_assert_int_eq(sv_pdata_parse(&pd, 52, &d, &len), 0);
	ck_assert_uint_eq(len, 0);
	memset(pd.buf, 0xff, sizeof(pd.buf));
	ck_assert_int_eq(sv_pdata_parse(&pd, 52, &d, &len), 0);
	ck_assert_uint_eq(len, 0);
	packed(&pd, 0, 0, SV_CM_HDR - 1);
	ck_assert_int_eq(sv_pdata_parse(&pd, 52, &d, &len), 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(hostile_lengths_refused)
{
	struct sv_cm_pdata pd;
	const uint8_t *d;
	size_t len, claim;

	/* every length past the limit, up to what one byte can claim */
	for (claim = SANVERBS_EP_REQ_DATA_MAX + 1; claim <= 255; claim++) {
		packed(&pd, 0, 0, sizeof(pd.buf));
		pd.buf[3] = (uint8_t)claim;
		ck_assert_int_eq(sv_pdata_parse(&pd, SANVERBS_EP_REQ_DATA_MAX,
						&d, &len),
				 -EBADMSG);
		ck_assert_uint_eq(len, 0);
		ck_assert_ptr_null(d);
	}
	/* within the limit, but more than arrived */
	packed(&pd, 10, 1, SV_CM_HDR + 9);
	ck_assert_int_eq(sv_pdata_parse(&pd, SANVERBS_EP_ACCEPT_DATA_MAX, &d,
					&len),
			 -EBADMSG);
	/* a length the buffer cannot hold is never believed */
	packed(&pd, 10, 1, sizeof(pd.buf) + 1);
	ck_assert_int_eq(sv_pdata_parse(&pd, SANVERBS_EP_ACCEPT_DATA_MAX, &d,
					&len),
			 -EBADMSG);
	/* another version */
	packed(&pd, 10, 1, REQ_ARRIVES);
	pd.buf[2] = SV_CM_VERSION + 1;
	ck_assert_int_eq(sv_pdata_parse(&pd, SANVERBS_EP_REQ_DATA_MAX, &d,
					&len),
			 -EPROTONOSUPPORT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ep-pdata");
	TCase *tc = tcase_create("header");

	tcase_add_test(tc, round_trip_every_size);
	tcase_add_test(tc, no_header_is_no_data);
	tcase_add_test(tc, hostile_lengths_refused);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
