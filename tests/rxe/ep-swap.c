/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "ep-swap.h"
#include "sv-peer.h"
#include "sv-test.h"

int sv_ep_swap_close_last(struct sanverbs_ep *ep, size_t msg,
			  uint32_t send_seed, uint32_t recv_seed)
{
	unsigned char *buf = malloc(2 * msg);
	struct sanverbs_mr *mr;
	struct sanverbs_wc wc;
	int sent = 0, got = 0;

	if (!buf || sanverbs_mr_reg(sanverbs_ep_ctx(ep), buf, 2 * msg,
				    SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 1;
	sv_fill_pattern(buf, msg, send_seed);
	if (sanverbs_ep_post_recv(ep, SV_REG(mr), buf + msg, msg, 1) ||
	    sanverbs_ep_post_recv(ep, SV_REG(mr), buf, 1, 3) ||
	    sanverbs_ep_post_send(ep, SV_REG(mr), buf, msg, 2, 0))
		return 2;
	while (!sent || !got) {
		if (sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 || wc.status)
			return 3;
		if (wc.opcode == SANVERBS_WC_SEND)
			sent = 1;
		else if (wc.opcode == SANVERBS_WC_RECV && wc.byte_len == msg)
			got = 1;
	}
	if (sv_check_pattern(buf + msg, msg, recv_seed) != -1)
		return 4;
	/* the 1-byte receive, flushed by the listener's close */
	sanverbs_ep_wait(ep, &wc, 1, 60000);
	return 0;
}

void sv_ep_swap_checked(struct sanverbs_ep *ep, size_t msg,
			uint32_t send_seed, uint32_t recv_seed)
{
	unsigned char *buf = malloc(2 * msg);
	struct sanverbs_mr *mr;
	struct sanverbs_wc wc;
	int i, sent = 0, got = 0;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(ep), buf, 2 * msg,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr), 0);
	sv_fill_pattern(buf, msg, send_seed);
	ck_assert_int_eq(sanverbs_ep_post_recv(ep, SV_REG(mr), buf + msg, msg,
					       1), 0);
	ck_assert_int_eq(sanverbs_ep_post_send(ep, SV_REG(mr), buf, msg, 2, 0),
			 0);
	for (i = 0; i < 2; i++) {
		wc = sv_wait1(ep, 60000);
		ck_assert_int_eq(wc.status, 0);
		if (wc.opcode == SANVERBS_WC_RECV) {
			ck_assert_uint_eq(wc.byte_len, msg);
			got = 1;
		} else {
			sent = 1;
		}
	}
	ck_assert(sent && got);
	ck_assert_int_eq(sv_check_pattern(buf + msg, msg, recv_seed), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	free(buf);
}
