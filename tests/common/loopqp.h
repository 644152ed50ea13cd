/* SPDX-License-Identifier: MIT */
/* A loopback RC QP pair on one port, used by the tests and the demo as the
 * "peer" that RDMA-writes into or reads from memory registered through
 * sanverbs in the same process, so every check moves real bytes. */
#ifndef SV_LOOPQP_H
#define SV_LOOPQP_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

/* Two RC QPs on the same rxe port connected to each other: a "peer" whose
 * RDMA reaches memory registered in the same process. */
struct sv_qp_pair {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a; /* initiator */
	struct ibv_qp *b; /* target */
	int gid_index;
	uint8_t port;
};

/* Builds the pair on @ctx's device and PD; 0 or a negative errno. */
int sv_qp_pair_create(struct sanverbs_ctx *ctx, struct sv_qp_pair *pair);
/* The same on any device context and PD (e.g. one libfabric owns), with
 * @depth sends in flight per QP (0: the default of 16). */
int sv_qp_pair_create_pd(struct ibv_context *verbs, struct ibv_pd *pd,
			 uint8_t port, unsigned int depth,
			 struct sv_qp_pair *pair);
void sv_qp_pair_destroy(struct sv_qp_pair *pair);

/* Posts one RDMA WRITE (or READ) from QP a and waits (bounded, 10 s) for its
 * completion. Returns the completion status (IBV_WC_SUCCESS == 0, e.g.
 * IBV_WC_REM_ACCESS_ERR for a refused rkey) or a negative errno. A failed
 * operation moves the QPs to the error state; call sv_qp_pair_reset() before
 * the next operation. */
int sv_rdma_write(struct sv_qp_pair *pair, const void *src, uint32_t lkey,
		  size_t len, uint64_t raddr, uint32_t rkey);
int sv_rdma_read(struct sv_qp_pair *pair, void *dst, uint32_t lkey,
		 size_t len, uint64_t raddr, uint32_t rkey);
/* Brings both QPs back to RTS after an error completion. */
int sv_qp_pair_reset(struct sv_qp_pair *pair);

/* Index of the IPv4-mapped RoCEv2 GID of @port (SANVERBS_RXE_GID_INDEX wins
 * when set), or a negative errno. */
int sv_test_gid_index(struct ibv_context *verbs, uint8_t port);

#endif
