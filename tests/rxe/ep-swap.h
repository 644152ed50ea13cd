/* SPDX-License-Identifier: MIT */
/* A message each way over a connected endpoint, every byte checked: the
 * two halves the connection tests use after a connect with data. */
#ifndef SV_TEST_EP_SWAP_H
#define SV_TEST_EP_SWAP_H

#include <stddef.h>
#include <stdint.h>

#include "sanverbs.h"

/* The connecting side's half: sends @msg bytes of pattern @send_seed and
 * receives @msg bytes that must hold @recv_seed, then returns only once
 * the listener has closed (a 1-byte receive posted last is flushed then),
 * so nothing the listener sent is flushed by our close. No Check
 * assertions: it runs in forked processes. 0, or 1..4 for the step that
 * failed (registration, posting, a completion, the bytes). */
int sv_ep_swap_close_last(struct sanverbs_ep *ep, size_t msg,
			  uint32_t send_seed, uint32_t recv_seed);

/* The listener's half, with Check assertions: the same exchange; the
 * caller closes @ep afterwards. */
void sv_ep_swap_checked(struct sanverbs_ep *ep, size_t msg,
			uint32_t send_seed, uint32_t recv_seed);

#endif
